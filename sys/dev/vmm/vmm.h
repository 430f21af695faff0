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
	VMM_EXIT_DEBUG,		/* breakpoint or step asked by vmm_set_debug: debug */
	VMM_EXIT_WRMSR,		/* write to an MSR of vmm_msr_filter(): msr */
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
		struct {
			uint64_t	pc;	/* linear address */
			uint64_t	dr6;	/* which breakpoint, or step */
			uint32_t	exception;	/* 1: #DB, 3: #BP */
		} debug;
		struct {
			uint32_t	index;
			uint64_t	data;
			uint8_t		*error;	/* set to 1: refuse, #GP */
		} msr;
		uint64_t	code;
	};
};

/*
 * Guest debugging by the VMM (vmm_set_debug), invisible to the guest:
 * execution breakpoints on guest linear addresses and single-stepping,
 * both reported as VMM_EXIT_DEBUG.  The guest's own debug registers are
 * not in effect while breakpoints are armed.
 */
#define VMM_DEBUG_NBP		4
#define VMM_DEBUG_ENABLE	0x01	/* clear: all off */
#define VMM_DEBUG_SINGLESTEP	0x02	/* exit after each instruction */

struct vmm_debug {
	uint32_t	flags;
	uint32_t	armed;			/* bit i: bp[i] is in use */
	uint64_t	bp[VMM_DEBUG_NBP];
};

/* dr6 of a VMM_EXIT_DEBUG: bits 0-3 breakpoint i hit, BS single step */
#define VMM_DR6_BS		0x4000

/* A guest linear address as the vCPU's paging sees it now. */
struct vmm_translation {
	uint64_t	gpa;
	uint8_t		valid;
	uint8_t		writeable;
	uint8_t		user;		/* reachable from CPL 3 */
};

/* The x87/SSE state (FXSAVE layout's fields). */
struct vmm_fpu {
	uint8_t		fpr[8][16];
	uint16_t	fcw;
	uint16_t	fsw;
	uint8_t		ftwx;		/* abridged tag word */
	uint16_t	last_opcode;
	uint64_t	last_ip;
	uint64_t	last_dp;
	uint8_t		xmm[16][16];
	uint32_t	mxcsr;
};

/*
 * Events in flight on a vCPU.  An exception marked injected is delivered
 * by the next vmm_vcpu_run() before any guest instruction.
 */
struct vmm_events {
	struct {
		uint8_t		injected;
		uint8_t		nr;
		uint8_t		has_error_code;
		uint32_t	error_code;
	} exception;
	struct {
		uint8_t		injected;
		uint8_t		nr;
		uint8_t		soft;
		uint8_t		shadow;		/* after sti or mov ss */
	} interrupt;
	struct {
		uint8_t		injected;
		uint8_t		pending;
		uint8_t		masked;
	} nmi;
};

/*
 * What the host-quirk layer (vmm_host.c) did on one vCPU.  insn[] counts
 * completed instructions by allow-list entry, vmm_host_insn_name() names
 * them.
 */
#define VMM_HOST_NINSN		16
struct vmm_host_stats {
	uint64_t	insn[VMM_HOST_NINSN];
	uint64_t	syscalls;	/* user-mode syscalls completed */
	uint64_t	pf_steps;	/* other page faults stepped over */
	uint64_t	wrmsr;		/* STAR/LSTAR/CSTAR/SFMASK writes */
	uint64_t	arms;		/* breakpoint (re)placements */
};

struct vmm_host_vcpu;

/*
 * Interrupt routes: GSIs below VMM_GSI_MSI_FIRST are the irqchip's pins
 * (vmm_set_irq, irqfds of level lines); from there to VMM_GSI_MAX the
 * caller may route GSIs to MSI messages (vmm_msi_route) and bind irqfds
 * to them.  Which GSI is whose is the caller's to decide.
 */
#define VMM_GSI_MSI_FIRST	24
#define VMM_GSI_MAX		1024

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
int		 vmm_msi_route(struct vmm_vm *, uint32_t, uint64_t, uint32_t);
int		 vmm_msi_unroute(struct vmm_vm *, uint32_t);
struct vmm_vcpu	*vmm_vcpu_create(struct vmm_vm *, uint32_t);
void		 vmm_vcpu_destroy(struct vmm_vcpu *);
int		 vmm_vcpu_run(struct vmm_vcpu *, struct vmm_exit *);
void		 vmm_vcpu_kick(struct vmm_vcpu *);
int		 vmm_vcpu_wait_sipi(struct vmm_vcpu *);
int		 vmm_get_regs(struct vmm_vcpu *, struct vmm_regs *);
int		 vmm_set_regs(struct vmm_vcpu *, const struct vmm_regs *);
int		 vmm_get_sregs(struct vmm_vcpu *, struct vmm_sregs *);
int		 vmm_set_sregs(struct vmm_vcpu *, const struct vmm_sregs *);
int		 vmm_read_insn(struct vmm_vcpu *, uint8_t *, size_t);
int		 vmm_inject_exception(struct vmm_vcpu *, uint8_t);
void		 vmm_vcpu_dump(struct vmm_vcpu *, char *, size_t);
int		 vmm_set_debug(struct vmm_vcpu *, const struct vmm_debug *);
int		 vmm_msr_filter(struct vmm_vm *, const uint32_t *, size_t);
int		 vmm_get_msr(struct vmm_vcpu *, uint32_t, uint64_t *);
int		 vmm_set_msr(struct vmm_vcpu *, uint32_t, uint64_t);
int		 vmm_translate(struct vmm_vcpu *, uint64_t,
		    struct vmm_translation *);
int		 vmm_read_phys(struct vmm_vcpu *, uint64_t, void *, size_t);
int		 vmm_write_phys(struct vmm_vcpu *, uint64_t, const void *,
		    size_t);
int		 vmm_get_fpu(struct vmm_vcpu *, struct vmm_fpu *);
int		 vmm_set_fpu(struct vmm_vcpu *, const struct vmm_fpu *);
int		 vmm_get_events(struct vmm_vcpu *, struct vmm_events *);
int		 vmm_set_events(struct vmm_vcpu *, const struct vmm_events *);

/* vmm_host.c */
int		 vmm_host_probe(char *, size_t);
void		 vmm_host_enable(void);
int		 vmm_host_enabled(void);
int		 vmm_host_vm_init(struct vmm_vm *);
struct vmm_host_vcpu *vmm_host_vcpu_init(struct vmm_vcpu *);
void		 vmm_host_vcpu_free(struct vmm_host_vcpu *);
int		 vmm_host_exit(struct vmm_host_vcpu *, struct vmm_exit *);
void		 vmm_host_stats(struct vmm_host_vcpu *,
		    struct vmm_host_stats *);
const char	*vmm_host_insn_name(size_t);
const char	*vmm_host_linux_args(void);

/* vmm_null.c: only linked into unit tests */
void		 vmm_null_script(struct vmm_vcpu *, const struct vmm_exit *,
		    size_t);
size_t		 vmm_null_irq_count(struct vmm_vm *, uint32_t);
void		 vmm_null_memory(struct vmm_vm *, void *, size_t);
int		 vmm_null_map(struct vmm_vcpu *, uint64_t, uint64_t, uint64_t,
		    int, int);
void		 vmm_null_debug(struct vmm_vcpu *, struct vmm_debug *,
		    size_t *);
int		 vmm_null_msr_filtered(struct vmm_vm *, uint32_t);
void		 vmm_null_fail(struct vmm_vcpu *, int);

#endif /* VMM_H */
