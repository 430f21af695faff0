/*
 * vmm.h: the vmm(4) interface, the one seam between vmd's user space and
 * the in-kernel hypervisor.  Every function is one documented wrapper
 * around one hypervisor operation; nothing here knows about devices,
 * processes or configuration.  vmm_kvm.c implements it over Linux KVM,
 * vmm_null.c is a scripted fake for unit tests.  This header must never
 * include a hypervisor-specific header.
 */

#ifndef VMM_H
#define VMM_H

#include <stddef.h>
#include <stdint.h>

struct vmm_vm;
struct vmm_vcpu;

struct vmm_segment {
	uint64_t	base;
	uint32_t	limit;
	uint16_t	selector;
	uint8_t		type;
	uint8_t		present;
	uint8_t		dpl;
	uint8_t		db;
	uint8_t		s;
	uint8_t		l;
	uint8_t		g;
	uint8_t		avl;
	uint8_t		unusable;
};

struct vmm_dtable {
	uint64_t	base;
	uint16_t	limit;
};

struct vmm_regs {
	uint64_t	rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	uint64_t	r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t	rip, rflags;
};

struct vmm_sregs {
	struct vmm_segment	cs, ds, es, fs, gs, ss, tr, ldt;
	struct vmm_dtable	gdt, idt;
	uint64_t		cr0, cr2, cr3, cr4, cr8, efer, apic_base;
};

enum vmm_exit_reason {
	VMM_EXIT_IO = 1,	/* port I/O: io */
	VMM_EXIT_MMIO,		/* access to unmapped guest-physical memory: mmio */
	VMM_EXIT_HLT,		/* hlt with interrupts off, no in-kernel irqchip */
	VMM_EXIT_SHUTDOWN,	/* triple fault */
	VMM_EXIT_INTR,		/* vmm_vcpu_kick() or a signal interrupted the run */
	VMM_EXIT_INTERNAL_ERROR,/* hypervisor could not go on: internal */
	VMM_EXIT_FAIL_ENTRY,	/* entry failed: code */
	VMM_EXIT_SYSTEM_EVENT,	/* hypervisor-level event: code VMM_EVENT_* */
	VMM_EXIT_UNKNOWN	/* anything else: code */
};

/* internal.suberror: the instruction emulator gave up */
#define VMM_INTERNAL_EMULATION	1

#define VMM_EVENT_SHUTDOWN	1
#define VMM_EVENT_RESET		2
#define VMM_EVENT_CRASH		3

/*
 * What a vCPU stopped for.  For VMM_EXIT_IO, data holds size * count
 * bytes (string I/O repeats); an "in" is answered by filling data before
 * the next vmm_vcpu_run().  For VMM_EXIT_MMIO, data holds len bytes, to
 * be filled for a read.  data points into backend memory that stays valid
 * until the next vmm_vcpu_run() on the same vCPU.
 */
struct vmm_exit {
	enum vmm_exit_reason	reason;
	union {
		struct {
			uint16_t	port;
			uint8_t		size;	/* 1, 2 or 4 */
			uint8_t		in;	/* 1: guest reads */
			uint32_t	count;
			uint8_t		*data;
		} io;
		struct {
			uint64_t	gpa;
			uint8_t		*data;
			uint8_t		len;	/* 1 to 8 */
			uint8_t		write;
		} mmio;
		struct {
			uint32_t	suberror;
			uint32_t	ndata;
			uint64_t	data[4];
		} internal;
		uint64_t	code;
	};
};

/* vmm_kvm.c */
int		 vmm_probe(int, char *, size_t);
struct vmm_vm	*vmm_vm_create(int);
void		 vmm_vm_destroy(struct vmm_vm *);
int		 vmm_irqchip_create(struct vmm_vm *);
int		 vmm_map_memory(struct vmm_vm *, uint32_t, uint64_t, size_t,
		    void *);
int		 vmm_set_irq(struct vmm_vm *, uint32_t, int);
int		 vmm_signal_msi(struct vmm_vm *, uint64_t, uint32_t);
int		 vmm_ioeventfd(struct vmm_vm *, int, uint64_t, uint32_t, int,
		    int, uint64_t, int);
int		 vmm_irqfd(struct vmm_vm *, int, uint32_t, int);
struct vmm_vcpu	*vmm_vcpu_create(struct vmm_vm *, uint32_t);
void		 vmm_vcpu_destroy(struct vmm_vcpu *);
int		 vmm_vcpu_run(struct vmm_vcpu *, struct vmm_exit *);
void		 vmm_vcpu_kick(struct vmm_vcpu *);
int		 vmm_get_regs(struct vmm_vcpu *, struct vmm_regs *);
int		 vmm_set_regs(struct vmm_vcpu *, const struct vmm_regs *);
int		 vmm_get_sregs(struct vmm_vcpu *, struct vmm_sregs *);
int		 vmm_set_sregs(struct vmm_vcpu *, const struct vmm_sregs *);
int		 vmm_read_insn(struct vmm_vcpu *, uint8_t *, size_t);
int		 vmm_inject_exception(struct vmm_vcpu *, uint8_t);
void		 vmm_vcpu_dump(struct vmm_vcpu *, char *, size_t);

/* vmm_host.c */
int		 vmm_host_complete(struct vmm_vcpu *, struct vmm_exit *);

/* vmm_null.c: only linked into unit tests */
void		 vmm_null_script(struct vmm_vcpu *, const struct vmm_exit *,
		    size_t);
size_t		 vmm_null_irq_count(struct vmm_vm *, uint32_t);

#endif /* VMM_H */
