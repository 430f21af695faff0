/*
 * vmm_null.c: a scripted stand-in for the hypervisor, linked only into
 * unit tests.  A test gives a vCPU a list of exits with vmm_null_script();
 * each vmm_vcpu_run() returns the next one (I/O data in a buffer the test
 * can inspect afterwards), and raised irq lines are counted.  It must
 * never touch /dev/kvm or pretend to execute guest code.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev/vmm/vmm.h"

#define NULL_MAX_IRQ	32
#define NULL_MAX_EXITS	256

struct vmm_vm {
	size_t		 irq_raised[NULL_MAX_IRQ];
	int		 irq_level[NULL_MAX_IRQ];
};

struct vmm_vcpu {
	struct vmm_vm	*vm;
	struct vmm_exit	 script[NULL_MAX_EXITS];
	uint8_t		 data[NULL_MAX_EXITS][8];
	size_t		 n, next;
	struct vmm_regs	 regs;
	struct vmm_sregs sregs;
	int		 kicked;
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
	if (vcpu->next >= vcpu->n) {
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
	return (0);
}

void
vmm_vcpu_kick(struct vmm_vcpu *vcpu)
{
	vcpu->kicked = 1;
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
	vcpu->sregs = *s;
	return (0);
}

int
vmm_read_insn(struct vmm_vcpu *vcpu, uint8_t *buf, size_t len)
{
	return (0);
}

int
vmm_inject_exception(struct vmm_vcpu *vcpu, uint8_t vector)
{
	return (0);
}

void
vmm_vcpu_dump(struct vmm_vcpu *vcpu, char *buf, size_t len)
{
	snprintf(buf, len, "vcpu: rip %#llx (null backend)",
	    (unsigned long long)vcpu->regs.rip);
}
