/*
 * vmm_null.c: a scripted stand-in for the hypervisor, linked only into
 * unit tests.  A test gives a vCPU a list of exits with vmm_null_script();
 * each vmm_vcpu_run() returns the next one (I/O data in a buffer the test
 * can inspect afterwards), and raised irq lines are counted.  For the
 * host-quirk layer it keeps what the real calls would change (registers,
 * MSRs, FPU, events, guest debug, the MSR filter) and models guest memory
 * as a buffer the test gives (vmm_null_memory) seen through linear
 * ranges the test maps (vmm_null_map).  It must never touch /dev/kvm or
 * pretend to execute guest code.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev/vmm/vmm.h"

#define NULL_MAX_IRQ	32
#define NULL_MAX_EXITS	256
#define NULL_MAX_MAPS	8
#define NULL_MAX_MSRS	16
#define NULL_MAX_FILTER	16

struct vmm_vm {
	size_t		 irq_raised[NULL_MAX_IRQ];
	int		 irq_level[NULL_MAX_IRQ];
	uint8_t		*mem;		/* guest-physical 0 .. memlen */
	size_t		 memlen;
	uint32_t	 filter[NULL_MAX_FILTER];
	size_t		 nfilter;
};

struct null_map {
	uint64_t	 la, gpa, len;
	int		 writeable, user;
};

struct vmm_vcpu {
	struct vmm_vm	*vm;
	struct vmm_exit	 script[NULL_MAX_EXITS];
	uint8_t		 data[NULL_MAX_EXITS][8];
	uint8_t		 msr_error[NULL_MAX_EXITS];
	size_t		 n, next;
	struct vmm_regs	 regs;
	struct vmm_sregs sregs;
	struct vmm_fpu	 fpu;
	struct vmm_events events;
	struct vmm_debug debug;
	size_t		 ndebug;	/* vmm_set_debug() calls */
	struct null_map	 map[NULL_MAX_MAPS];
	size_t		 nmap;
	uint32_t	 msr_index[NULL_MAX_MSRS];
	uint64_t	 msr_value[NULL_MAX_MSRS];
	size_t		 nmsr;
	int		 fail;		/* vmm_null_fail(): setters fail */
	int		 kicked;
	int		 waiting;	/* vmm_vcpu_wait_sipi(), no script */
};

int
vmm_probe(int fd, char *err, size_t errlen)
{
	return (0);
}

struct vmm_vm *
vmm_vm_create(int fd)
{
	return (calloc(1, sizeof(struct vmm_vm)));
}

void
vmm_vm_destroy(struct vmm_vm *vm)
{
	free(vm);
}

int
vmm_irqchip_create(struct vmm_vm *vm)
{
	return (0);
}

int
vmm_map_memory(struct vmm_vm *vm, uint32_t slot, uint64_t gpa, size_t len,
    void *hva)
{
	return (0);
}

int
vmm_set_irq(struct vmm_vm *vm, uint32_t irq, int level)
{
	if (irq >= NULL_MAX_IRQ) {
		errno = EINVAL;
		return (-1);
	}
	if (level && !vm->irq_level[irq])
		vm->irq_raised[irq]++;
	vm->irq_level[irq] = level;
	return (0);
}

size_t
vmm_null_irq_count(struct vmm_vm *vm, uint32_t irq)
{
	return (irq < NULL_MAX_IRQ ? vm->irq_raised[irq] : 0);
}

int
vmm_signal_msi(struct vmm_vm *vm, uint64_t addr, uint32_t data)
{
	return (0);
}

int
vmm_ioeventfd(struct vmm_vm *vm, int fd, uint64_t addr, uint32_t len,
    int is_mmio, int has_match, uint64_t match, int deassign)
{
	return (0);
}

int
vmm_irqfd(struct vmm_vm *vm, int fd, uint32_t gsi, int deassign)
{
	return (0);
}

int
vmm_msi_route(struct vmm_vm *vm, uint32_t gsi, uint64_t addr, uint32_t data)
{
	if (gsi < VMM_GSI_MSI_FIRST || gsi >= VMM_GSI_MAX) {
		errno = EINVAL;
		return (-1);
	}
	return (0);
}

int
vmm_msi_unroute(struct vmm_vm *vm, uint32_t gsi)
{
	return (0);
}

struct vmm_vcpu *
vmm_vcpu_create(struct vmm_vm *vm, uint32_t id)
{
	struct vmm_vcpu	*vcpu;

	if ((vcpu = calloc(1, sizeof(*vcpu))) != NULL)
		vcpu->vm = vm;
	return (vcpu);
}

void
vmm_vcpu_destroy(struct vmm_vcpu *vcpu)
{
	free(vcpu);
}

void
vmm_null_script(struct vmm_vcpu *vcpu, const struct vmm_exit *exits,
    size_t n)
{
	size_t	 i;

	if (n > NULL_MAX_EXITS)
		n = NULL_MAX_EXITS;
	for (i = 0; i < n; i++) {
		vcpu->script[i] = exits[i];
		if (exits[i].reason == VMM_EXIT_IO && exits[i].io.data != NULL)
			memcpy(vcpu->data[i], exits[i].io.data,
			    exits[i].io.size);
	}
	vcpu->n = n;
	vcpu->next = 0;
	vcpu->waiting = 0;	/* the script is what the guest started */
}

/* The next scripted exit; ENODATA once the script is used up. */
int
vmm_vcpu_run(struct vmm_vcpu *vcpu, struct vmm_exit *ve)
{
	size_t	 i;

	if (vcpu->kicked) {
		vcpu->kicked = 0;
		memset(ve, 0, sizeof(*ve));
		ve->reason = VMM_EXIT_INTR;
		return (0);
	}
	if (vcpu->waiting || vcpu->next >= vcpu->n) {
		errno = ENODATA;
		return (-1);
	}
	i = vcpu->next++;
	*ve = vcpu->script[i];
	if (ve->reason == VMM_EXIT_IO) {
		ve->io.count = 1;
		ve->io.data = vcpu->data[i];
	} else if (ve->reason == VMM_EXIT_MMIO)
		ve->mmio.data = vcpu->data[i];
	else if (ve->reason == VMM_EXIT_WRMSR) {
		vcpu->msr_error[i] = 0;
		ve->msr.error = &vcpu->msr_error[i];
	}
	return (0);
}

void
vmm_vcpu_kick(struct vmm_vcpu *vcpu)
{
	vcpu->kicked = 1;
}

/* Until a script is given, the vCPU runs nothing, as an AP before SIPI. */
int
vmm_vcpu_wait_sipi(struct vmm_vcpu *vcpu)
{
	if (vcpu->fail) {
		errno = EIO;
		return (-1);
	}
	vcpu->waiting = 1;
	return (0);
}

int
vmm_get_regs(struct vmm_vcpu *vcpu, struct vmm_regs *r)
{
	*r = vcpu->regs;
	return (0);
}

int
vmm_set_regs(struct vmm_vcpu *vcpu, const struct vmm_regs *r)
{
	if (vcpu->fail) {
		errno = EIO;
		return (-1);
	}
	vcpu->regs = *r;
	return (0);
}

int
vmm_get_sregs(struct vmm_vcpu *vcpu, struct vmm_sregs *s)
{
	*s = vcpu->sregs;
	return (0);
}

int
vmm_set_sregs(struct vmm_vcpu *vcpu, const struct vmm_sregs *s)
{
	if (vcpu->fail) {
		errno = EIO;
		return (-1);
	}
	vcpu->sregs = *s;
	return (0);
}

/* Like the KVM backend: byte by byte until a page does not translate. */
int
vmm_read_insn(struct vmm_vcpu *vcpu, uint8_t *buf, size_t len)
{
	struct vmm_translation	 t;
	uint64_t		 la = vcpu->sregs.cs.base + vcpu->regs.rip;
	size_t			 n;

	for (n = 0; n < len; n++) {
		if (vmm_translate(vcpu, la + n, &t) == -1 || !t.valid ||
		    vmm_read_phys(vcpu, t.gpa, buf + n, 1) == -1)
			break;
	}
	return ((int)n);
}

int
vmm_inject_exception(struct vmm_vcpu *vcpu, uint8_t vector)
{
	if (vcpu->fail) {
		errno = EIO;
		return (-1);
	}
	vcpu->events.exception.injected = 1;
	vcpu->events.exception.nr = vector;
	vcpu->events.exception.has_error_code = 0;
	vcpu->events.exception.error_code = 0;
	return (0);
}

void
vmm_null_memory(struct vmm_vm *vm, void *mem, size_t len)
{
	vm->mem = mem;
	vm->memlen = len;
}

/* Linear [la, la + len) shows guest-physical [gpa, gpa + len). */
int
vmm_null_map(struct vmm_vcpu *vcpu, uint64_t la, uint64_t gpa, uint64_t len,
    int writeable, int user)
{
	struct null_map	*m;

	if (vcpu->nmap >= NULL_MAX_MAPS) {
		errno = ENOSPC;
		return (-1);
	}
	m = &vcpu->map[vcpu->nmap++];
	m->la = la;
	m->gpa = gpa;
	m->len = len;
	m->writeable = writeable;
	m->user = user;
	return (0);
}

/* The last vmm_set_debug() and how many calls there were. */
void
vmm_null_debug(struct vmm_vcpu *vcpu, struct vmm_debug *dbg, size_t *calls)
{
	*dbg = vcpu->debug;
	*calls = vcpu->ndebug;
}

int
vmm_null_msr_filtered(struct vmm_vm *vm, uint32_t index)
{
	size_t	 i;

	for (i = 0; i < vm->nfilter; i++)
		if (vm->filter[i] == index)
			return (1);
	return (0);
}

/* Setters (registers, MSRs, FPU, events, debug) fail while on. */
void
vmm_null_fail(struct vmm_vcpu *vcpu, int on)
{
	vcpu->fail = on;
}

int
vmm_set_debug(struct vmm_vcpu *vcpu, const struct vmm_debug *dbg)
{
	if (vcpu->fail) {
		errno = EIO;
		return (-1);
	}
	vcpu->debug = *dbg;
	vcpu->ndebug++;
	return (0);
}

int
vmm_msr_filter(struct vmm_vm *vm, const uint32_t *msrs, size_t n)
{
	if (n > NULL_MAX_FILTER) {
		errno = E2BIG;
		return (-1);
	}
	memcpy(vm->filter, msrs, n * sizeof(*msrs));
	vm->nfilter = n;
	return (0);
}

int
vmm_get_msr(struct vmm_vcpu *vcpu, uint32_t index, uint64_t *value)
{
	size_t	 i;

	for (i = 0; i < vcpu->nmsr; i++) {
		if (vcpu->msr_index[i] == index) {
			*value = vcpu->msr_value[i];
			return (0);
		}
	}
	*value = 0;
	return (0);
}

/* Non-canonical LSTAR/CSTAR values are refused, as KVM does. */
int
vmm_set_msr(struct vmm_vcpu *vcpu, uint32_t index, uint64_t value)
{
	size_t	 i;

	if (vcpu->fail || ((index == 0xc0000082 || index == 0xc0000083) &&
	    (int64_t)(value << 16) >> 16 != (int64_t)value)) {
		errno = EINVAL;
		return (-1);
	}
	for (i = 0; i < vcpu->nmsr; i++)
		if (vcpu->msr_index[i] == index)
			break;
	if (i == NULL_MAX_MSRS) {
		errno = ENOSPC;
		return (-1);
	}
	if (i == vcpu->nmsr)
		vcpu->nmsr++;
	vcpu->msr_index[i] = index;
	vcpu->msr_value[i] = value;
	return (0);
}

int
vmm_translate(struct vmm_vcpu *vcpu, uint64_t la, struct vmm_translation *t)
{
	size_t	 i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < vcpu->nmap; i++) {
		struct null_map *m = &vcpu->map[i];

		if (la >= m->la && la - m->la < m->len) {
			t->gpa = m->gpa + (la - m->la);
			t->valid = 1;
			t->writeable = m->writeable;
			t->user = m->user;
			break;
		}
	}
	return (0);
}

int
vmm_read_phys(struct vmm_vcpu *vcpu, uint64_t gpa, void *buf, size_t len)
{
	struct vmm_vm	*vm = vcpu->vm;

	if (vm->mem == NULL || gpa > vm->memlen || len > vm->memlen - gpa) {
		errno = EFAULT;
		return (-1);
	}
	memcpy(buf, vm->mem + gpa, len);
	return (0);
}

int
vmm_write_phys(struct vmm_vcpu *vcpu, uint64_t gpa, const void *buf,
    size_t len)
{
	struct vmm_vm	*vm = vcpu->vm;

	if (vm->mem == NULL || gpa > vm->memlen || len > vm->memlen - gpa) {
		errno = EFAULT;
		return (-1);
	}
	memcpy(vm->mem + gpa, buf, len);
	return (0);
}

int
vmm_get_fpu(struct vmm_vcpu *vcpu, struct vmm_fpu *f)
{
	*f = vcpu->fpu;
	return (0);
}

int
vmm_set_fpu(struct vmm_vcpu *vcpu, const struct vmm_fpu *f)
{
	if (vcpu->fail) {
		errno = EIO;
		return (-1);
	}
	vcpu->fpu = *f;
	return (0);
}

int
vmm_get_events(struct vmm_vcpu *vcpu, struct vmm_events *e)
{
	*e = vcpu->events;
	return (0);
}

int
vmm_set_events(struct vmm_vcpu *vcpu, const struct vmm_events *e)
{
	if (vcpu->fail) {
		errno = EIO;
		return (-1);
	}
	vcpu->events = *e;
	return (0);
}

void
vmm_vcpu_dump(struct vmm_vcpu *vcpu, char *buf, size_t len)
{
	snprintf(buf, len, "vcpu: rip %#llx (null backend)",
	    (unsigned long long)vcpu->regs.rip);
}
