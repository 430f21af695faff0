/*
 * vmm_kvm.c: the vmm(4) interface over Linux KVM.  Each function wraps
 * one KVM operation and translates between KVM's structures and the
 * hypervisor-neutral ones of vmm.h.  This is the only file that includes
 * <linux/kvm.h>; it must never know about devices, configuration or
 * processes, and never exit the process: every failure is returned.
 */

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/kvm.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev/vmm/vmm.h"

#define VMM_KVM_API		12
#define VMM_MAX_SLOTS		8
#define VMM_TSS_ADDR		0xfffbd000ULL	/* 3 pages, Intel only */
#define VMM_IDENT_MAP_ADDR	0xfffbc000ULL	/* 1 page, Intel only */
#define VMM_KICK_SIGNAL		SIGUSR1
#define VMM_MAX_CPUID		256
#define VMM_MAX_MSI_ROUTES	(VMM_GSI_MAX - VMM_GSI_MSI_FIRST)
#define VMM_IRQCHIP_ROUTES	48	/* 16 PIC + 24 IOAPIC, with room */

struct vmm_slot {
	uint64_t	 gpa;
	size_t		 len;
	uint8_t		*hva;
};

struct vmm_msi_route {
	uint32_t	 gsi;
	uint32_t	 data;
	uint64_t	 addr;
};

struct vmm_vm {
	int		 kvmfd;
	int		 fd;
	size_t		 run_size;
	struct vmm_slot	 slot[VMM_MAX_SLOTS];
	uint32_t	 nslot;
	int		 irqchip;	/* routes exist to be set */
	struct vmm_msi_route msi[VMM_MAX_MSI_ROUTES];
	uint32_t	 nmsi;
};

struct vmm_vcpu {
	struct vmm_vm	*vm;
	int		 fd;
	uint32_t	 id;
	struct kvm_run	*run;
	pthread_t	 thread;	/* the thread in vmm_vcpu_run() */
	int		 has_thread;
	struct vmm_host_vcpu *host;	/* NULL: no host-quirk layer */
	uint64_t	 sync;		/* KVM_SYNC_X86_* KVM fills on exit */
	uint64_t	 valid;		/* ... and run->s.regs holds now */
};

#define VMM_SYNC	(KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | \
			 KVM_SYNC_X86_EVENTS)

/* Only interrupts KVM_RUN: no SA_RESTART, nothing to do. */
static void
vmm_kick_handler(int sig)
{
	(void)sig;
}

static void
vmm_kick_install(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vmm_kick_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(VMM_KICK_SIGNAL, &sa, NULL);
}

int
vmm_probe(int kvmfd, char *err, size_t errlen)
{
	static const struct {
		int		 cap;
		const char	*name;
	} caps[] = {
		{ KVM_CAP_IRQCHIP, "in-kernel irqchip" },
		{ KVM_CAP_USER_MEMORY, "user memory" },
		{ KVM_CAP_IOEVENTFD, "ioeventfd" },
		{ KVM_CAP_IRQFD, "irqfd" },
		{ KVM_CAP_PIT2, "in-kernel PIT" },
		{ KVM_CAP_IMMEDIATE_EXIT, "immediate exit" },
		{ KVM_CAP_SIGNAL_MSI, "MSI injection" },
		{ KVM_CAP_IRQ_ROUTING, "interrupt routing" },
	};
	size_t	 i;
	int	 v;

	v = ioctl(kvmfd, KVM_GET_API_VERSION, 0);
	if (v != VMM_KVM_API) {
		snprintf(err, errlen, "KVM API version %d, need %d", v,
		    VMM_KVM_API);
		errno = ENOTSUP;
		return (-1);
	}
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		if (ioctl(kvmfd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0) {
			snprintf(err, errlen, "KVM lacks %s", caps[i].name);
			errno = ENOTSUP;
			return (-1);
		}
	}
	return (0);
}

struct vmm_vm *
vmm_vm_create(int kvmfd)
{
	struct vmm_vm		*vm;
	uint64_t		 ident = VMM_IDENT_MAP_ADDR;
	int			 size, saved;

	if ((vm = calloc(1, sizeof(*vm))) == NULL)
		return (NULL);
	vm->kvmfd = kvmfd;
	if ((vm->fd = ioctl(kvmfd, KVM_CREATE_VM, 0)) == -1)
		goto fail_free;
	if ((size = ioctl(kvmfd, KVM_GET_VCPU_MMAP_SIZE, 0)) <= 0)
		goto fail;
	vm->run_size = size;
	/* Needed on VMX hosts, refused harmlessly elsewhere. */
	(void)ioctl(vm->fd, KVM_SET_TSS_ADDR, (unsigned long)VMM_TSS_ADDR);
	(void)ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &ident);
	if (vmm_host_enabled() && vmm_host_vm_init(vm) == -1)
		goto fail;
	return (vm);
 fail:
	saved = errno;
	close(vm->fd);
	errno = saved;
 fail_free:
	saved = errno;
	free(vm);
	errno = saved;
	return (NULL);
}

/*
 * Interrupt routing as on a PC (and as QEMU sets it): GSI 0, where the
 * PIT raises its interrupt, reaches PIC pin 0 and IOAPIC pin 2 (the
 * MADT's IRQ0 -> GSI 2 override); GSI 2 is the PIC cascade and reaches
 * nothing; every other GSI below 16 reaches the PIC and the IOAPIC pin
 * of its number, 16-23 the IOAPIC alone.  The MSI routes of
 * vmm_msi_route() follow: KVM takes the whole table at once.
 */
static int
vmm_irq_routing(struct vmm_vm *vm)
{
	struct kvm_irq_routing		*r;
	struct kvm_irq_routing_entry	*e;
	uint32_t			 gsi, n = 0, i;
	int				 rv;

	r = calloc(1, sizeof(*r) + (VMM_IRQCHIP_ROUTES + vm->nmsi) *
	    sizeof(*e));
	if (r == NULL)
		return (-1);
	for (gsi = 0; gsi < 24; gsi++) {
		if (gsi == 2)
			continue;
		if (gsi < 16) {
			e = &r->entries[n++];
			e->gsi = gsi;
			e->type = KVM_IRQ_ROUTING_IRQCHIP;
			e->u.irqchip.irqchip = gsi < 8 ?
			    KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
			e->u.irqchip.pin = gsi % 8;
		}
		e = &r->entries[n++];
		e->gsi = gsi;
		e->type = KVM_IRQ_ROUTING_IRQCHIP;
		e->u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e->u.irqchip.pin = gsi == 0 ? 2 : gsi;
	}
	for (i = 0; i < vm->nmsi; i++) {
		e = &r->entries[n++];
		e->gsi = vm->msi[i].gsi;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = (uint32_t)vm->msi[i].addr;
		e->u.msi.address_hi = (uint32_t)(vm->msi[i].addr >> 32);
		e->u.msi.data = vm->msi[i].data;
	}
	r->nr = n;
	rv = ioctl(vm->fd, KVM_SET_GSI_ROUTING, r) == -1 ? -1 : 0;
	free(r);
	return (rv);
}

/*
 * The in-kernel PIC, IOAPIC, LAPIC and PIT.  Call it after mapping guest
 * memory: once the irqchip exists, each memory map change waits for an
 * SRCU grace period, which costs milliseconds on some hosts.
 */
int
vmm_irqchip_create(struct vmm_vm *vm)
{
	struct kvm_pit_config	 pit;

	if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) == -1)
		return (-1);
	vm->irqchip = 1;
	if (vmm_irq_routing(vm) == -1)
		return (-1);
	memset(&pit, 0, sizeof(pit));
	pit.flags = KVM_PIT_SPEAKER_DUMMY;
	if (ioctl(vm->fd, KVM_CREATE_PIT2, &pit) == -1)
		return (-1);
	return (0);
}

void
vmm_vm_destroy(struct vmm_vm *vm)
{
	if (vm == NULL)
		return;
	close(vm->fd);
	free(vm);
}

int
vmm_map_memory(struct vmm_vm *vm, uint32_t slot, uint64_t gpa, size_t len,
    void *hva)
{
	struct kvm_userspace_memory_region	 r;

	if (slot >= VMM_MAX_SLOTS || len == 0 || gpa + len < gpa) {
		errno = EINVAL;
		return (-1);
	}
	memset(&r, 0, sizeof(r));
	r.slot = slot;
	r.guest_phys_addr = gpa;
	r.memory_size = len;
	r.userspace_addr = (uintptr_t)hva;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r) == -1)
		return (-1);
	vm->slot[slot].gpa = gpa;
	vm->slot[slot].len = len;
	vm->slot[slot].hva = hva;
	if (slot >= vm->nslot)
		vm->nslot = slot + 1;
	return (0);
}

int
vmm_set_irq(struct vmm_vm *vm, uint32_t irq, int level)
{
	struct kvm_irq_level	 l;

	memset(&l, 0, sizeof(l));
	l.irq = irq;
	l.level = level ? 1 : 0;
	return (ioctl(vm->fd, KVM_IRQ_LINE, &l) == -1 ? -1 : 0);
}

int
vmm_signal_msi(struct vmm_vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi	 msi;

	memset(&msi, 0, sizeof(msi));
	msi.address_lo = (uint32_t)addr;
	msi.address_hi = (uint32_t)(addr >> 32);
	msi.data = data;
	return (ioctl(vm->fd, KVM_SIGNAL_MSI, &msi) == -1 ? -1 : 0);
}

/*
 * Have the kernel signal fd when the guest writes len bytes at addr (an
 * I/O port, or a guest-physical address if is_mmio), optionally only for
 * the value match; deassign removes a registration.
 */
int
vmm_ioeventfd(struct vmm_vm *vm, int fd, uint64_t addr, uint32_t len,
    int is_mmio, int has_match, uint64_t match, int deassign)
{
	struct kvm_ioeventfd	 io;

	memset(&io, 0, sizeof(io));
	io.addr = addr;
	io.len = len;
	io.fd = fd;
	io.datamatch = match;
	if (!is_mmio)
		io.flags |= KVM_IOEVENTFD_FLAG_PIO;
	if (has_match)
		io.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
	if (deassign)
		io.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	return (ioctl(vm->fd, KVM_IOEVENTFD, &io) == -1 ? -1 : 0);
}

int
vmm_irqfd(struct vmm_vm *vm, int fd, uint32_t gsi, int deassign)
{
	struct kvm_irqfd	 irqfd;

	memset(&irqfd, 0, sizeof(irqfd));
	irqfd.fd = fd;
	irqfd.gsi = gsi;
	if (deassign)
		irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
	return (ioctl(vm->fd, KVM_IRQFD, &irqfd) == -1 ? -1 : 0);
}

/*
 * Route gsi (VMM_GSI_MSI_FIRST up to VMM_GSI_MAX) to the MSI message
 * addr/data, replacing its old route; irqfds bound to gsi follow at
 * once.  The whole routing table goes to KVM_SET_GSI_ROUTING.
 */
int
vmm_msi_route(struct vmm_vm *vm, uint32_t gsi, uint64_t addr, uint32_t data)
{
	struct vmm_msi_route	 old;
	uint32_t		 i;

	if (gsi < VMM_GSI_MSI_FIRST || gsi >= VMM_GSI_MAX || !vm->irqchip) {
		errno = EINVAL;
		return (-1);
	}
	for (i = 0; i < vm->nmsi && vm->msi[i].gsi != gsi; i++)
		;
	if (i == vm->nmsi) {
		if (vm->nmsi >= VMM_MAX_MSI_ROUTES) {
			errno = ENOSPC;
			return (-1);
		}
		vm->nmsi++;
		old.gsi = 0;
	} else
		old = vm->msi[i];
	vm->msi[i].gsi = gsi;
	vm->msi[i].addr = addr;
	vm->msi[i].data = data;
	if (vmm_irq_routing(vm) == -1) {
		if (old.gsi == 0)
			vm->nmsi--;
		else
			vm->msi[i] = old;
		return (-1);
	}
	return (0);
}

/* Remove the MSI route of gsi (no irqfd may still be bound to it). */
int
vmm_msi_unroute(struct vmm_vm *vm, uint32_t gsi)
{
	uint32_t	 i;

	for (i = 0; i < vm->nmsi && vm->msi[i].gsi != gsi; i++)
		;
	if (i == vm->nmsi) {
		errno = ENOENT;
		return (-1);
	}
	vm->msi[i] = vm->msi[--vm->nmsi];
	return (vmm_irq_routing(vm));
}

/* The guest sees the CPUID leaves KVM supports; APIC ids follow vCPU ids. */
static int
vmm_vcpu_set_cpuid(struct vmm_vcpu *vcpu)
{
	struct kvm_cpuid2	*cpuid;
	uint32_t		 i;
	int			 rv = -1;

	cpuid = calloc(1, sizeof(*cpuid) +
	    VMM_MAX_CPUID * sizeof(struct kvm_cpuid_entry2));
	if (cpuid == NULL)
		return (-1);
	cpuid->nent = VMM_MAX_CPUID;
	if (ioctl(vcpu->vm->kvmfd, KVM_GET_SUPPORTED_CPUID, cpuid) == -1)
		goto done;
	for (i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function == 1) {
			e->ebx &= 0x00ffffff;
			e->ebx |= vcpu->id << 24;
		}
	}
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) == -1)
		goto done;
	rv = 0;
 done:
	free(cpuid);
	return (rv);
}

struct vmm_vcpu *
vmm_vcpu_create(struct vmm_vm *vm, uint32_t id)
{
	static pthread_once_t	 once = PTHREAD_ONCE_INIT;
	struct vmm_vcpu		*vcpu;
	void			*run;
	int			 saved;

	pthread_once(&once, vmm_kick_install);
	if ((vcpu = calloc(1, sizeof(*vcpu))) == NULL)
		return (NULL);
	vcpu->vm = vm;
	vcpu->id = id;
	if ((vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)id)) ==
	    -1)
		goto fail_free;
	run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    vcpu->fd, 0);
	if (run == MAP_FAILED)
		goto fail;
	vcpu->run = run;
	/*
	 * With KVM_CAP_SYNC_REGS, registers, special registers and events
	 * come back in the run structure with every exit and go in with the
	 * next run: no ioctl each.  That matters where each costs microseconds
	 * (a nested host) and exits are finished in user space.
	 */
	if ((ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) & VMM_SYNC) ==
	    VMM_SYNC) {
		vcpu->sync = VMM_SYNC;
		vcpu->run->kvm_valid_regs = VMM_SYNC;
	}
	if (vmm_vcpu_set_cpuid(vcpu) == -1 || (vmm_host_enabled() &&
	    (vcpu->host = vmm_host_vcpu_init(vcpu)) == NULL)) {
		saved = errno;
		munmap(vcpu->run, vm->run_size);
		errno = saved;
		goto fail;
	}
	return (vcpu);
 fail:
	saved = errno;
	close(vcpu->fd);
	errno = saved;
 fail_free:
	saved = errno;
	free(vcpu);
	errno = saved;
	return (NULL);
}

void
vmm_vcpu_destroy(struct vmm_vcpu *vcpu)
{
	if (vcpu == NULL)
		return;
	vmm_host_vcpu_free(vcpu->host);
	munmap(vcpu->run, vcpu->vm->run_size);
	close(vcpu->fd);
	free(vcpu);
}

static int
vmm_exit_io(struct vmm_vcpu *vcpu, struct vmm_exit *ve)
{
	struct kvm_run	*run = vcpu->run;
	uint64_t	 end;

	end = run->io.data_offset + (uint64_t)run->io.size * run->io.count;
	if (run->io.data_offset < sizeof(*run) || end > vcpu->vm->run_size ||
	    (run->io.size != 1 && run->io.size != 2 && run->io.size != 4)) {
		ve->reason = VMM_EXIT_UNKNOWN;
		ve->code = KVM_EXIT_IO;
		return (0);
	}
	ve->reason = VMM_EXIT_IO;
	ve->io.port = run->io.port;
	ve->io.size = run->io.size;
	ve->io.in = run->io.direction == KVM_EXIT_IO_IN;
	ve->io.count = run->io.count;
	ve->io.data = (uint8_t *)run + run->io.data_offset;
	return (0);
}

static void
vmm_exit_translate(struct vmm_vcpu *vcpu, struct vmm_exit *ve)
{
	struct kvm_run	*run = vcpu->run;
	uint32_t	 i;

	memset(ve, 0, sizeof(*ve));
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vmm_exit_io(vcpu, ve);
		break;
	case KVM_EXIT_MMIO:
		ve->reason = VMM_EXIT_MMIO;
		ve->mmio.gpa = run->mmio.phys_addr;
		ve->mmio.data = run->mmio.data;
		ve->mmio.len = run->mmio.len > 8 ? 8 : run->mmio.len;
		ve->mmio.write = run->mmio.is_write;
		break;
	case KVM_EXIT_HLT:
		ve->reason = VMM_EXIT_HLT;
		break;
	case KVM_EXIT_SHUTDOWN:
		ve->reason = VMM_EXIT_SHUTDOWN;
		break;
	case KVM_EXIT_INTR:
		ve->reason = VMM_EXIT_INTR;
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		ve->reason = VMM_EXIT_INTERNAL_ERROR;
		ve->internal.suberror = run->internal.suberror;
		ve->internal.ndata = run->internal.ndata > 4 ? 4 :
		    run->internal.ndata;
		for (i = 0; i < ve->internal.ndata; i++)
			ve->internal.data[i] = run->internal.data[i];
		break;
	case KVM_EXIT_DEBUG:
		ve->reason = VMM_EXIT_DEBUG;
		ve->debug.pc = run->debug.arch.pc;
		ve->debug.dr6 = run->debug.arch.dr6;
		ve->debug.exception = run->debug.arch.exception;
		break;
	case KVM_EXIT_X86_WRMSR:
		ve->reason = VMM_EXIT_WRMSR;
		ve->msr.index = run->msr.index;
		ve->msr.data = run->msr.data;
		ve->msr.error = &run->msr.error;
		break;
	case KVM_EXIT_FAIL_ENTRY:
		ve->reason = VMM_EXIT_FAIL_ENTRY;
		ve->code = run->fail_entry.hardware_entry_failure_reason;
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		ve->reason = VMM_EXIT_SYSTEM_EVENT;
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			ve->code = VMM_EVENT_SHUTDOWN;
			break;
		case KVM_SYSTEM_EVENT_RESET:
			ve->code = VMM_EVENT_RESET;
			break;
		default:
			ve->code = VMM_EVENT_CRASH;
			break;
		}
		break;
	default:
		ve->reason = VMM_EXIT_UNKNOWN;
		ve->code = run->exit_reason;
		break;
	}
}

/*
 * Run the vCPU until something needs user space.  Where the host-quirk
 * layer is on, the exits it finishes (vmm_host_exit()) never leave here.
 */
int
vmm_vcpu_run(struct vmm_vcpu *vcpu, struct vmm_exit *ve)
{
	if (!vcpu->has_thread) {
		vcpu->thread = pthread_self();
		__atomic_store_n(&vcpu->has_thread, 1, __ATOMIC_RELEASE);
	}
	for (;;) {
		vcpu->valid = 0;
		if (ioctl(vcpu->fd, KVM_RUN, 0) == -1) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->valid = vcpu->sync;
				__atomic_store_n(&vcpu->run->immediate_exit, 0,
				    __ATOMIC_RELAXED);
				memset(ve, 0, sizeof(*ve));
				ve->reason = VMM_EXIT_INTR;
				return (0);
			}
			return (-1);
		}
		vcpu->valid = vcpu->sync;
		vmm_exit_translate(vcpu, ve);
		if (vcpu->host == NULL || vmm_host_exit(vcpu->host, ve) != 1)
			return (0);
	}
}

/*
 * Make vmm_vcpu_run() return VMM_EXIT_INTR soon, from any thread:
 * immediate_exit covers a vCPU thread about to enter KVM_RUN, the signal
 * one already inside it.
 */
void
vmm_vcpu_kick(struct vmm_vcpu *vcpu)
{
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_RELEASE);
	if (__atomic_load_n(&vcpu->has_thread, __ATOMIC_ACQUIRE))
		pthread_kill(vcpu->thread, VMM_KICK_SIGNAL);
}

/*
 * An application processor: it runs nothing until the guest sends it
 * INIT and a startup IPI through the in-kernel LAPIC, which then sets
 * its entry state; vmm_vcpu_run() sleeps in the kernel meanwhile (a
 * kick still ends it).  KVM makes every vCPU but the first so; saying it
 * keeps the state right whatever the vCPU did before.
 */
int
vmm_vcpu_wait_sipi(struct vmm_vcpu *vcpu)
{
	struct kvm_mp_state	 mp;

	memset(&mp, 0, sizeof(mp));
	mp.mp_state = KVM_MP_STATE_UNINITIALIZED;
	return (ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp) == -1 ? -1 : 0);
}

/*
 * State the next KVM_RUN would load from run->s.regs is loaded now, for
 * an ioctl that reads or changes the same state.
 */
static int
vmm_sync_flush(struct vmm_vcpu *vcpu)
{
	struct kvm_run	*run = vcpu->run;

	if ((run->kvm_dirty_regs & KVM_SYNC_X86_REGS) &&
	    ioctl(vcpu->fd, KVM_SET_REGS, &run->s.regs.regs) == -1)
		return (-1);
	if ((run->kvm_dirty_regs & KVM_SYNC_X86_SREGS) &&
	    ioctl(vcpu->fd, KVM_SET_SREGS, &run->s.regs.sregs) == -1)
		return (-1);
	if ((run->kvm_dirty_regs & KVM_SYNC_X86_EVENTS) &&
	    ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &run->s.regs.events) == -1)
		return (-1);
	run->kvm_dirty_regs = 0;
	return (0);
}

static int
vmm_kregs_get(struct vmm_vcpu *vcpu, struct kvm_regs *k)
{
	if (vcpu->valid & KVM_SYNC_X86_REGS) {
		*k = vcpu->run->s.regs.regs;
		return (0);
	}
	return (ioctl(vcpu->fd, KVM_GET_REGS, k) == -1 ? -1 : 0);
}

static int
vmm_kregs_put(struct vmm_vcpu *vcpu, const struct kvm_regs *k)
{
	if (vcpu->valid & KVM_SYNC_X86_REGS) {
		vcpu->run->s.regs.regs = *k;
		vcpu->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		return (0);
	}
	return (ioctl(vcpu->fd, KVM_SET_REGS, k) == -1 ? -1 : 0);
}

static int
vmm_ksregs_get(struct vmm_vcpu *vcpu, struct kvm_sregs *k)
{
	if (vcpu->valid & KVM_SYNC_X86_SREGS) {
		*k = vcpu->run->s.regs.sregs;
		return (0);
	}
	return (ioctl(vcpu->fd, KVM_GET_SREGS, k) == -1 ? -1 : 0);
}

static int
vmm_ksregs_put(struct vmm_vcpu *vcpu, const struct kvm_sregs *k)
{
	if (vcpu->valid & KVM_SYNC_X86_SREGS) {
		vcpu->run->s.regs.sregs = *k;
		vcpu->run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
		return (0);
	}
	return (ioctl(vcpu->fd, KVM_SET_SREGS, k) == -1 ? -1 : 0);
}

static int
vmm_kevents_get(struct vmm_vcpu *vcpu, struct kvm_vcpu_events *k)
{
	if (vcpu->valid & KVM_SYNC_X86_EVENTS) {
		*k = vcpu->run->s.regs.events;
		return (0);
	}
	return (ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, k) == -1 ? -1 : 0);
}

static int
vmm_kevents_put(struct vmm_vcpu *vcpu, const struct kvm_vcpu_events *k)
{
	if (vcpu->valid & KVM_SYNC_X86_EVENTS) {
		vcpu->run->s.regs.events = *k;
		vcpu->run->kvm_dirty_regs |= KVM_SYNC_X86_EVENTS;
		return (0);
	}
	return (ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, k) == -1 ? -1 : 0);
}

int
vmm_get_regs(struct vmm_vcpu *vcpu, struct vmm_regs *r)
{
	struct kvm_regs	 k;

	if (vmm_kregs_get(vcpu, &k) == -1)
		return (-1);
	r->rax = k.rax; r->rbx = k.rbx; r->rcx = k.rcx; r->rdx = k.rdx;
	r->rsi = k.rsi; r->rdi = k.rdi; r->rsp = k.rsp; r->rbp = k.rbp;
	r->r8 = k.r8; r->r9 = k.r9; r->r10 = k.r10; r->r11 = k.r11;
	r->r12 = k.r12; r->r13 = k.r13; r->r14 = k.r14; r->r15 = k.r15;
	r->rip = k.rip; r->rflags = k.rflags;
	return (0);
}

int
vmm_set_regs(struct vmm_vcpu *vcpu, const struct vmm_regs *r)
{
	struct kvm_regs	 k;

	memset(&k, 0, sizeof(k));
	k.rax = r->rax; k.rbx = r->rbx; k.rcx = r->rcx; k.rdx = r->rdx;
	k.rsi = r->rsi; k.rdi = r->rdi; k.rsp = r->rsp; k.rbp = r->rbp;
	k.r8 = r->r8; k.r9 = r->r9; k.r10 = r->r10; k.r11 = r->r11;
	k.r12 = r->r12; k.r13 = r->r13; k.r14 = r->r14; k.r15 = r->r15;
	k.rip = r->rip; k.rflags = r->rflags;
	return (vmm_kregs_put(vcpu, &k));
}

static void
seg_from_kvm(struct vmm_segment *s, const struct kvm_segment *k)
{
	s->base = k->base;
	s->limit = k->limit;
	s->selector = k->selector;
	s->type = k->type;
	s->present = k->present;
	s->dpl = k->dpl;
	s->db = k->db;
	s->s = k->s;
	s->l = k->l;
	s->g = k->g;
	s->avl = k->avl;
	s->unusable = k->unusable;
}

static void
seg_to_kvm(struct kvm_segment *k, const struct vmm_segment *s)
{
	memset(k, 0, sizeof(*k));
	k->base = s->base;
	k->limit = s->limit;
	k->selector = s->selector;
	k->type = s->type;
	k->present = s->present;
	k->dpl = s->dpl;
	k->db = s->db;
	k->s = s->s;
	k->l = s->l;
	k->g = s->g;
	k->avl = s->avl;
	k->unusable = s->unusable;
}

int
vmm_get_sregs(struct vmm_vcpu *vcpu, struct vmm_sregs *s)
{
	struct kvm_sregs	 k;

	if (vmm_ksregs_get(vcpu, &k) == -1)
		return (-1);
	seg_from_kvm(&s->cs, &k.cs);
	seg_from_kvm(&s->ds, &k.ds);
	seg_from_kvm(&s->es, &k.es);
	seg_from_kvm(&s->fs, &k.fs);
	seg_from_kvm(&s->gs, &k.gs);
	seg_from_kvm(&s->ss, &k.ss);
	seg_from_kvm(&s->tr, &k.tr);
	seg_from_kvm(&s->ldt, &k.ldt);
	s->gdt.base = k.gdt.base;
	s->gdt.limit = k.gdt.limit;
	s->idt.base = k.idt.base;
	s->idt.limit = k.idt.limit;
	s->cr0 = k.cr0; s->cr2 = k.cr2; s->cr3 = k.cr3; s->cr4 = k.cr4;
	s->cr8 = k.cr8; s->efer = k.efer; s->apic_base = k.apic_base;
	return (0);
}

/* Only what vmm_sregs covers changes; the interrupt bitmap is kept. */
int
vmm_set_sregs(struct vmm_vcpu *vcpu, const struct vmm_sregs *s)
{
	struct kvm_sregs	 k;

	if (vmm_ksregs_get(vcpu, &k) == -1)
		return (-1);
	seg_to_kvm(&k.cs, &s->cs);
	seg_to_kvm(&k.ds, &s->ds);
	seg_to_kvm(&k.es, &s->es);
	seg_to_kvm(&k.fs, &s->fs);
	seg_to_kvm(&k.gs, &s->gs);
	seg_to_kvm(&k.ss, &s->ss);
	seg_to_kvm(&k.tr, &s->tr);
	seg_to_kvm(&k.ldt, &s->ldt);
	k.gdt.base = s->gdt.base;
	k.gdt.limit = s->gdt.limit;
	k.idt.base = s->idt.base;
	k.idt.limit = s->idt.limit;
	k.cr0 = s->cr0; k.cr2 = s->cr2; k.cr3 = s->cr3; k.cr4 = s->cr4;
	k.cr8 = s->cr8; k.efer = s->efer;
	if (s->apic_base != 0)
		k.apic_base = s->apic_base;
	return (vmm_ksregs_put(vcpu, &k));
}

/* Host pointer for len bytes of guest-physical memory, or NULL. */
static uint8_t *
vmm_gpa_hva(struct vmm_vm *vm, uint64_t gpa, size_t len)
{
	uint32_t	 i;

	for (i = 0; i < vm->nslot; i++) {
		struct vmm_slot *s = &vm->slot[i];

		if (s->len != 0 && gpa >= s->gpa && len <= s->len &&
		    gpa - s->gpa <= s->len - len)
			return (s->hva + (gpa - s->gpa));
	}
	return (NULL);
}

/*
 * Copy up to len bytes of the instruction at the vCPU's cs:rip, stopping
 * at the first page that does not translate; returns the count copied.
 */
int
vmm_read_insn(struct vmm_vcpu *vcpu, uint8_t *buf, size_t len)
{
	struct kvm_translation	 tr;
	struct vmm_sregs	 s;
	struct vmm_regs		 r;
	uint64_t		 la;
	uint8_t			*p;
	size_t			 n = 0, chunk;

	if (vmm_get_regs(vcpu, &r) == -1 || vmm_get_sregs(vcpu, &s) == -1 ||
	    vmm_sync_flush(vcpu) == -1)
		return (-1);
	la = s.cs.base + r.rip;
	while (n < len) {
		memset(&tr, 0, sizeof(tr));
		tr.linear_address = la + n;
		if (ioctl(vcpu->fd, KVM_TRANSLATE, &tr) == -1 || !tr.valid)
			break;
		chunk = 4096 - ((la + n) & 4095);
		if (chunk > len - n)
			chunk = len - n;
		if ((p = vmm_gpa_hva(vcpu->vm, tr.physical_address, chunk)) ==
		    NULL)
			break;
		memcpy(buf + n, p, chunk);
		n += chunk;
	}
	return ((int)n);
}

int
vmm_inject_exception(struct vmm_vcpu *vcpu, uint8_t vector)
{
	struct kvm_vcpu_events	 ev;

	if (vmm_kevents_get(vcpu, &ev) == -1)
		return (-1);
	ev.exception.injected = 1;
	ev.exception.nr = vector;
	ev.exception.has_error_code = 0;
	ev.exception.error_code = 0;
	ev.flags = 0;
	return (vmm_kevents_put(vcpu, &ev));
}

void
vmm_vcpu_dump(struct vmm_vcpu *vcpu, char *buf, size_t len)
{
	struct vmm_regs		 r;
	struct vmm_sregs	 s;
	uint8_t			 insn[16];
	int			 n, i, off;

	if (vmm_get_regs(vcpu, &r) == -1 || vmm_get_sregs(vcpu, &s) == -1) {
		snprintf(buf, len, "vcpu %u: registers unavailable", vcpu->id);
		return;
	}
	off = snprintf(buf, len,
	    "vcpu %u: rip %#llx rsp %#llx rflags %#llx rax %#llx rbx %#llx "
	    "rcx %#llx rdx %#llx rsi %#llx rdi %#llx cr0 %#llx cr3 %#llx "
	    "cr4 %#llx efer %#llx cs %#x/%u insn",
	    vcpu->id, (unsigned long long)r.rip, (unsigned long long)r.rsp,
	    (unsigned long long)r.rflags, (unsigned long long)r.rax,
	    (unsigned long long)r.rbx, (unsigned long long)r.rcx,
	    (unsigned long long)r.rdx, (unsigned long long)r.rsi,
	    (unsigned long long)r.rdi, (unsigned long long)s.cr0,
	    (unsigned long long)s.cr3, (unsigned long long)s.cr4,
	    (unsigned long long)s.efer, s.cs.selector, s.cs.dpl);
	n = vmm_read_insn(vcpu, insn, sizeof(insn));
	for (i = 0; i < n && off > 0 && (size_t)off < len; i++)
		off += snprintf(buf + off, len - off, " %02x", insn[i]);
	if (n <= 0 && off > 0 && (size_t)off < len)
		snprintf(buf + off, len - off, " unreadable");
}

/*
 * Guest debugging by the VMM (KVM_SET_GUEST_DEBUG): hardware execution
 * breakpoints at dbg->bp[i] for each bit i of dbg->armed, and/or single
 * steps; each hit is a VMM_EXIT_DEBUG.  flags 0 turns it all off.
 */
int
vmm_set_debug(struct vmm_vcpu *vcpu, const struct vmm_debug *dbg)
{
	struct kvm_guest_debug	 d;
	int			 i;

	memset(&d, 0, sizeof(d));
	if (dbg->flags & VMM_DEBUG_ENABLE) {
		d.control = KVM_GUESTDBG_ENABLE;
		if (dbg->flags & VMM_DEBUG_SINGLESTEP)
			d.control |= KVM_GUESTDBG_SINGLESTEP;
		for (i = 0; i < VMM_DEBUG_NBP; i++) {
			if (!(dbg->armed & (1U << i)))
				continue;
			d.control |= KVM_GUESTDBG_USE_HW_BP;
			d.arch.debugreg[i] = dbg->bp[i];
			/* local enable; R/W 00 and LEN 00: execution */
			d.arch.debugreg[7] |= 1ULL << (2 * i);
		}
	}
	if (vmm_sync_flush(vcpu) == -1 ||
	    ioctl(vcpu->fd, KVM_SET_GUEST_DEBUG, &d) == -1)
		return (-1);
	vcpu->valid &= ~KVM_SYNC_X86_REGS;	/* it may change RFLAGS.TF */
	return (0);
}

/*
 * Guest writes to the n MSRs in msrs[] exit to user space as
 * VMM_EXIT_WRMSR (which must apply them with vmm_set_msr()); every other
 * MSR access stays in the kernel.  Per VM; n 0 lifts the filter.
 */
int
vmm_msr_filter(struct vmm_vm *vm, const uint32_t *msrs, size_t n)
{
	static uint8_t		 deny;	/* bit clear: exit to user space */
	struct kvm_enable_cap	 cap;
	struct kvm_msr_filter	 f;
	size_t			 i;

	if (n > KVM_MSR_FILTER_MAX_RANGES) {
		errno = E2BIG;
		return (-1);
	}
	memset(&cap, 0, sizeof(cap));
	cap.cap = KVM_CAP_X86_USER_SPACE_MSR;
	cap.args[0] = KVM_MSR_EXIT_REASON_FILTER;
	if (ioctl(vm->fd, KVM_ENABLE_CAP, &cap) == -1)
		return (-1);
	memset(&f, 0, sizeof(f));
	f.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
	for (i = 0; i < n; i++) {
		f.ranges[i].flags = KVM_MSR_FILTER_WRITE;
		f.ranges[i].base = msrs[i];
		f.ranges[i].nmsrs = 1;
		f.ranges[i].bitmap = &deny;
	}
	return (ioctl(vm->fd, KVM_X86_SET_MSR_FILTER, &f) == -1 ? -1 : 0);
}

int
vmm_get_msr(struct vmm_vcpu *vcpu, uint32_t index, uint64_t *value)
{
	struct {
		struct kvm_msrs		h;
		struct kvm_msr_entry	e;
	} m;

	memset(&m, 0, sizeof(m));
	m.h.nmsrs = 1;
	m.e.index = index;
	if (vmm_sync_flush(vcpu) == -1)
		return (-1);
	errno = 0;
	if (ioctl(vcpu->fd, KVM_GET_MSRS, &m) != 1) {
		if (errno == 0)
			errno = EINVAL;
		return (-1);
	}
	*value = m.e.data;
	return (0);
}

/* Written as the VMM, past any MSR filter; KVM's checks still apply. */
int
vmm_set_msr(struct vmm_vcpu *vcpu, uint32_t index, uint64_t value)
{
	struct {
		struct kvm_msrs		h;
		struct kvm_msr_entry	e;
	} m;

	memset(&m, 0, sizeof(m));
	m.h.nmsrs = 1;
	m.e.index = index;
	m.e.data = value;
	if (vmm_sync_flush(vcpu) == -1)
		return (-1);
	errno = 0;
	if (ioctl(vcpu->fd, KVM_SET_MSRS, &m) != 1) {
		if (errno == 0)
			errno = EINVAL;
		return (-1);
	}
	return (0);
}

/* A guest linear address through the vCPU's current page tables. */
int
vmm_translate(struct vmm_vcpu *vcpu, uint64_t la, struct vmm_translation *t)
{
	struct kvm_translation	 tr;

	memset(&tr, 0, sizeof(tr));
	tr.linear_address = la;
	if (vmm_sync_flush(vcpu) == -1 ||
	    ioctl(vcpu->fd, KVM_TRANSLATE, &tr) == -1)
		return (-1);
	t->gpa = tr.physical_address;
	t->valid = tr.valid != 0;
	t->writeable = tr.writeable != 0;
	t->user = tr.usermode != 0;
	return (0);
}

/* Guest RAM at gpa; the range must lie in one memory slot. */
int
vmm_read_phys(struct vmm_vcpu *vcpu, uint64_t gpa, void *buf, size_t len)
{
	uint8_t	*p;

	if ((p = vmm_gpa_hva(vcpu->vm, gpa, len)) == NULL) {
		errno = EFAULT;
		return (-1);
	}
	memcpy(buf, p, len);
	return (0);
}

int
vmm_write_phys(struct vmm_vcpu *vcpu, uint64_t gpa, const void *buf,
    size_t len)
{
	uint8_t	*p;

	if ((p = vmm_gpa_hva(vcpu->vm, gpa, len)) == NULL) {
		errno = EFAULT;
		return (-1);
	}
	memcpy(p, buf, len);
	return (0);
}

int
vmm_get_fpu(struct vmm_vcpu *vcpu, struct vmm_fpu *f)
{
	struct kvm_fpu	 k;

	if (vmm_sync_flush(vcpu) == -1 || ioctl(vcpu->fd, KVM_GET_FPU, &k) == -1)
		return (-1);
	memcpy(f->fpr, k.fpr, sizeof(f->fpr));
	f->fcw = k.fcw;
	f->fsw = k.fsw;
	f->ftwx = k.ftwx;
	f->last_opcode = k.last_opcode;
	f->last_ip = k.last_ip;
	f->last_dp = k.last_dp;
	memcpy(f->xmm, k.xmm, sizeof(f->xmm));
	f->mxcsr = k.mxcsr;
	return (0);
}

int
vmm_set_fpu(struct vmm_vcpu *vcpu, const struct vmm_fpu *f)
{
	struct kvm_fpu	 k;

	memset(&k, 0, sizeof(k));
	memcpy(k.fpr, f->fpr, sizeof(k.fpr));
	k.fcw = f->fcw;
	k.fsw = f->fsw;
	k.ftwx = f->ftwx;
	k.last_opcode = f->last_opcode;
	k.last_ip = f->last_ip;
	k.last_dp = f->last_dp;
	memcpy(k.xmm, f->xmm, sizeof(k.xmm));
	k.mxcsr = f->mxcsr;
	if (vmm_sync_flush(vcpu) == -1)
		return (-1);
	return (ioctl(vcpu->fd, KVM_SET_FPU, &k) == -1 ? -1 : 0);
}

int
vmm_get_events(struct vmm_vcpu *vcpu, struct vmm_events *e)
{
	struct kvm_vcpu_events	 k;

	if (vmm_kevents_get(vcpu, &k) == -1)
		return (-1);
	memset(e, 0, sizeof(*e));
	e->exception.injected = k.exception.injected;
	e->exception.nr = k.exception.nr;
	e->exception.has_error_code = k.exception.has_error_code;
	e->exception.error_code = k.exception.error_code;
	e->interrupt.injected = k.interrupt.injected;
	e->interrupt.nr = k.interrupt.nr;
	e->interrupt.soft = k.interrupt.soft;
	e->interrupt.shadow = k.interrupt.shadow;
	e->nmi.injected = k.nmi.injected;
	e->nmi.pending = k.nmi.pending;
	e->nmi.masked = k.nmi.masked;
	return (0);
}

/* What vmm_events does not cover (SIPI vector, SMM state) is kept. */
int
vmm_set_events(struct vmm_vcpu *vcpu, const struct vmm_events *e)
{
	struct kvm_vcpu_events	 k;

	if (vmm_kevents_get(vcpu, &k) == -1)
		return (-1);
	k.exception.injected = e->exception.injected;
	k.exception.nr = e->exception.nr;
	k.exception.has_error_code = e->exception.has_error_code;
	k.exception.error_code = e->exception.error_code;
	k.interrupt.injected = e->interrupt.injected;
	k.interrupt.nr = e->interrupt.nr;
	k.interrupt.soft = e->interrupt.soft;
	k.interrupt.shadow = e->interrupt.shadow;
	k.nmi.injected = e->nmi.injected;
	k.nmi.pending = e->nmi.pending;
	k.nmi.masked = e->nmi.masked;
	k.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
	return (vmm_kevents_put(vcpu, &k));
}
