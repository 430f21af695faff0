/*
 * user.c: the `user` check: guest user mode set up the way Linux does it
 * (a TSS for the CPL 0 stack, user segments, STAR/LSTAR/SFMASK with
 * syscall/sysretq, swapgs and a per-CPU kernel stack, user pages in a
 * part of the address space of their own, supervisor pages off limits,
 * SMEP and SMAP off), then a user program (usermode.S) that takes page
 * faults the kernel resolves and makes many system calls, each checked
 * on both sides.  On hosts whose KVM cannot finish `syscall` from CPL 3,
 * vmd's host-quirk layer completes each one; this check is what shows
 * it.  It must leave the rest of the guest as it was (GDT selectors 0x08
 * and 0x10, the IDT, the identity map).
 */

#include "guest.h"

#define USER_DEFAULT_CALLS	2000
#define USER_MAX_CALLS		10000000

#define SEL_KCODE	0x08		/* start.S: SYSCALL's CS, SS = +8 */
#define SEL_UBASE	0x18		/* SYSRET: SS = +8, CS = +16 */
#define SEL_TSS		0x30

#define MSR_EFER	0xc0000080
#define MSR_STAR	0xc0000081
#define MSR_LSTAR	0xc0000082
#define MSR_SFMASK	0xc0000084
#define MSR_GS_BASE	0xc0000101
#define MSR_KGS_BASE	0xc0000102
#define EFER_SCE	0x1
/* Linux's SFMASK: TF DF IF IOPL AC NT */
#define SFMASK		0x47700

#define RFLAGS_IF	0x200
#define RFLAGS_DF	0x400

#define PG_P		0x001
#define PG_RW		0x002
#define PG_US		0x004
#define PAGE		4096

/* User address space: PML4 slot 1, 4 KiB pages. */
#define USER_VA		(1ULL << 39)
#define USER_STACK_VA	(USER_VA + 0x100000)	/* one page */
#define USER_FAULT_VA	(USER_VA + 0x180000)	/* mapped on first touch */
#define USER_NFAULT	8

#define SYS_ADD		1
#define SYS_EXIT	60

/* What user_syscall_entry (usermode.S) pushes, lowest address first. */
struct sysframe {
	uint64_t	rax, rdi, rsi, rdx, r10, r8, r9, rcx, r11, rsp;
};

/* %gs:0 and %gs:8 in usermode.S */
struct user_percpu {
	uint64_t	kstack;
	uint64_t	ustack;
};

struct tss64 {
	uint32_t	reserved0;
	uint64_t	rsp0, rsp1, rsp2;
	uint64_t	reserved1;
	uint64_t	ist[7];
	uint64_t	reserved2;
	uint16_t	reserved3;
	uint16_t	iomap;
} __attribute__((packed));

struct gdt_desc {
	uint16_t	limit;
	uint64_t	base;
} __attribute__((packed));

extern char	user_code[], user_code_end[];
uint64_t	user_enter(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);
void		user_leave(uint64_t) __attribute__((noreturn));
void		user_syscall_entry(void);
uint64_t	user_syscall(struct sysframe *);
uint64_t	user_kctx;		/* user_enter's stack, for user_leave */

/* Selectors 0x08 and 0x10 as in start.S; user ones and a TSS added. */
static uint64_t	gdt[8] __attribute__((aligned(16))) = {
	0,
	0x00af9b000000ffffULL,	/* 0x08 kernel code, 64-bit */
	0x00cf93000000ffffULL,	/* 0x10 kernel data */
	0x00cffb000000ffffULL,	/* 0x18 user code, 32-bit (unused) */
	0x00cff3000000ffffULL,	/* 0x20 user data, DPL 3 */
	0x00affb000000ffffULL,	/* 0x28 user code, 64-bit, DPL 3 */
	0, 0			/* 0x30 TSS */
};
static struct tss64	tss __attribute__((aligned(16)));
static struct user_percpu percpu;
static uint8_t	kstack_intr[8192] __attribute__((aligned(16)));
static uint8_t	kstack_sys[8192] __attribute__((aligned(16)));
static uint64_t	u_pdpt[512] __attribute__((aligned(PAGE)));
static uint64_t	u_pd[512] __attribute__((aligned(PAGE)));
static uint64_t	u_pt[512] __attribute__((aligned(PAGE)));
static uint8_t	u_stack[PAGE] __attribute__((aligned(PAGE)));
static uint8_t	u_fault[USER_NFAULT][PAGE] __attribute__((aligned(PAGE)));

/* What the kernel side saw; checked after the user program ends. */
static struct {
	uint64_t	calls;
	uint64_t	bad;		/* kernel-side checks that failed */
	const char	*why;		/* the first of them */
	uint64_t	faults;		/* user page faults resolved */
} st;

static inline void
wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v),
	    "d"((uint32_t)(v >> 32)));
}

static void
bad(const char *why)
{
	if (st.bad++ == 0)
		st.why = why;
}

/*
 * The system call handler, at CPL 0 on the per-CPU stack with the
 * kernel GS base.  Checks what SYSCALL (or vmd, finishing it) must have
 * done: CS/SS from STAR, RFLAGS less SFMASK, RCX the return address,
 * R11 the user's RFLAGS.
 */
uint64_t
user_syscall(struct sysframe *f)
{
	uint64_t rflags, cs, ss, df;

	__asm__ volatile("pushfq; popq %0" : "=r"(rflags));
	__asm__ volatile("movq %%cs, %0; movq %%ss, %1" : "=r"(cs),
	    "=r"(ss));
	if (cs != SEL_KCODE || ss != SEL_KCODE + 8)
		bad("wrong CS or SS in the syscall handler");
	if (rflags & (RFLAGS_IF | RFLAGS_DF))
		bad("SFMASK not applied (IF or DF set in the handler)");
	if (!(f->r11 & RFLAGS_IF))
		bad("R11 lacks the user's IF");
	if (f->rsp < USER_STACK_VA || f->rsp > USER_STACK_VA + PAGE)
		bad("user RSP not on the user stack");
	switch (f->rax) {
	case SYS_ADD:
		st.calls++;
		if (f->rcx != f->r9)
			bad("RCX is not the return address");
		df = (f->r11 & RFLAGS_DF) ? 1 : 0;
		if (df != f->r8)
			bad("R11 lacks the user's DF");
		return f->rdi + f->rsi;
	case SYS_EXIT:
		/* rdi: cycles, rsi: failures the user saw */
		user_leave(f->rsi << 48 | (f->rdi & 0xffffffffffffULL));
	default:
		bad("unknown system call");
		return (uint64_t)-1;
	}
}

/*
 * A fault from CPL 3 (machine.c's trap() asks first): a write to one of
 * the fault pages maps it.  Anything else is not ours: 0.
 */
int
user_trap(struct trapframe *tf)
{
	uint64_t cr2, i;

	if (tf->vector != 14)
		return 0;
	__asm__ volatile("movq %%cr2, %0" : "=r"(cr2));
	if (cr2 < USER_FAULT_VA || cr2 >= USER_FAULT_VA + USER_NFAULT * PAGE)
		return 0;
	i = (cr2 - USER_FAULT_VA) / PAGE;
	if (u_pt[(USER_FAULT_VA - USER_VA) / PAGE + i] != 0)
		return 0;
	u_pt[(USER_FAULT_VA - USER_VA) / PAGE + i] =
	    (uint64_t)(uintptr_t)u_fault[i] | PG_P | PG_RW | PG_US;
	st.faults++;
	return 1;
}

static void
setup_tss(void)
{
	uint64_t base = (uint64_t)(uintptr_t)&tss;
	uint64_t limit = sizeof(tss) - 1;
	struct gdt_desc d;

	tss.rsp0 = (uint64_t)(uintptr_t)(kstack_intr + sizeof(kstack_intr));
	tss.iomap = sizeof(tss);
	gdt[SEL_TSS / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 |
	    0x89ULL << 40 | ((limit >> 16) & 0xf) << 48 |
	    ((base >> 24) & 0xff) << 56;
	gdt[SEL_TSS / 8 + 1] = base >> 32;
	d.limit = sizeof(gdt) - 1;
	d.base = (uint64_t)(uintptr_t)gdt;
	__asm__ volatile("lgdt %0" : : "m"(d));
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS));
}

/* The user half of the address space: code, stack, fault pages. */
static void
setup_user_pages(void)
{
	uint64_t *pml4, cr3, code, i, n;

	__asm__ volatile("movq %%cr3, %0" : "=r"(cr3));
	pml4 = (uint64_t *)(uintptr_t)(cr3 & ~0xfffULL);
	code = (uint64_t)(uintptr_t)user_code;
	n = ((uint64_t)(uintptr_t)user_code_end - code) / PAGE;
	for (i = 0; i < n; i++)
		u_pt[i] = (code + i * PAGE) | PG_P | PG_US;
	u_pt[(USER_STACK_VA - USER_VA) / PAGE] =
	    (uint64_t)(uintptr_t)u_stack | PG_P | PG_RW | PG_US;
	u_pd[0] = (uint64_t)(uintptr_t)u_pt | PG_P | PG_RW | PG_US;
	u_pdpt[0] = (uint64_t)(uintptr_t)u_pd | PG_P | PG_RW | PG_US;
	pml4[1] = (uint64_t)(uintptr_t)u_pdpt | PG_P | PG_RW | PG_US;
	__asm__ volatile("movq %0, %%cr3" : : "r"(cr3) : "memory");
}

/* IDT first, then the MSRs, as Linux's trap_init() and syscall_init(). */
static void
setup_syscall(void)
{
	percpu.kstack = (uint64_t)(uintptr_t)(kstack_sys + sizeof(kstack_sys));
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	wrmsr(MSR_STAR, (uint64_t)SEL_UBASE << 48 | (uint64_t)SEL_KCODE << 32);
	wrmsr(MSR_SFMASK, SFMASK);
	wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)user_syscall_entry);
	wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)&percpu);
	wrmsr(MSR_KGS_BASE, 0);		/* the user's */
}

/* "user=N" on the command line: how many calls, else the default. */
static uint64_t
user_calls(const char *cmdline)
{
	const char *p = cmdline;
	uint64_t n;

	for (; *p; p++) {
		if ((p != cmdline && p[-1] != ' ') || p[0] != 'u' ||
		    p[1] != 's' || p[2] != 'e' || p[3] != 'r' || p[4] != '=')
			continue;
		for (p += 5, n = 0; *p >= '0' && *p <= '9'; p++)
			if ((n = n * 10 + (*p - '0')) > USER_MAX_CALLS)
				return USER_MAX_CALLS;
		return n ? n : USER_DEFAULT_CALLS;
	}
	return USER_DEFAULT_CALLS;
}

void
check_user(struct guest *g)
{
	uint64_t n = user_calls(g->cmdline), rv, cycles, ufail, t0, t1;
	uint64_t ns;

	setup_tss();
	setup_user_pages();
	setup_syscall();
	kprintf("user: entering CPL 3 for %lu system calls\n",
	    (unsigned long)n);
	t0 = ticks_now();
	rv = user_enter(USER_VA, USER_STACK_VA + PAGE, n, USER_FAULT_VA,
	    USER_NFAULT);
	sti();			/* SFMASK cleared IF on the way in */
	t1 = ticks_now();
	cycles = rv & 0xffffffffffffULL;
	ufail = rv >> 48;
	ns = (t1 - t0) * (1000000000 / PIT_HZ) / n;
	if (st.calls != n)
		kprintf("FAIL user: %lu of %lu system calls reached the "
		    "kernel\n", (unsigned long)st.calls, (unsigned long)n);
	else if (st.bad)
		kprintf("FAIL user: %lu bad system calls: %s\n",
		    (unsigned long)st.bad, st.why);
	else if (ufail)
		kprintf("FAIL user: %lu checks failed in user mode\n",
		    (unsigned long)ufail);
	else if (st.faults != USER_NFAULT)
		kprintf("FAIL user: %lu of %d user page faults resolved\n",
		    (unsigned long)st.faults, USER_NFAULT);
	else
		kprintf("PASS user: %lu system calls from CPL 3 and %d page "
		    "faults; %lu cycles, %lu.%03lu us per call\n",
		    (unsigned long)n, USER_NFAULT,
		    (unsigned long)(cycles / n), (unsigned long)(ns / 1000),
		    (unsigned long)(ns % 1000));
}
