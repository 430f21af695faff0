/*
 * vmm_host_test.c: the host-quirk layer over the vmm_null backend: one
 * case per instruction on the allow-list (and its faults), the refusals,
 * the syscall MSR filter and the completion of user-mode syscalls at the
 * guest's #PF handler, on one vCPU and on two.  Guest memory is a buffer
 * seen through linear ranges mapped with vmm_null_map().
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dev/vmm/vmm.h"
#include "regress/test.h"

#define MEMSIZE		0x10000
#define KCODE_LA	0xffffffff81000000ULL	/* code, gpa 0x1000 */
#define KCODE_PA	0x1000
#define KDATA_LA	0xffff888000002000ULL	/* data, gpa 0x2000-0x5fff */
#define KDATA_PA	0x2000
#define KRO_LA		0xffff888000100000ULL	/* read-only, gpa 0x6000 */
#define KRO_PA		0x6000
#define USER_LA		0x400000ULL		/* user page, gpa 0x7000 */
#define USER_PA		0x7000
#define IDT_LA		0xfffffe0000000000ULL	/* gpa 0x8000 */
#define IDT_PA		0x8000
#define STACK_LA	0xfffffe0000010000ULL	/* gpa 0x9000-0x9fff */
#define STACK_PA	0x9000

#define MSR_STAR	0xc0000081
#define MSR_LSTAR	0xc0000082
#define MSR_CSTAR	0xc0000083
#define MSR_SFMASK	0xc0000084

#define LSTAR		(KCODE_LA + 0x800)
#define PF_HANDLER	(KCODE_LA + 0x400)
#define STAR		0x0023001000000000ULL	/* kernel CS 0x10, user 0x23 */
#define SFMASK		0x47700ULL

#define RFL_IF		0x200ULL
#define RFL_RF		0x10000ULL
#define RFL_AC		0x40000ULL

static uint8_t	 mem[MEMSIZE];

struct fixture {
	struct vmm_vm		*vm;
	struct vmm_vcpu		*vcpu;
	struct vmm_host_vcpu	*hv;
};

/* A vCPU in 64-bit mode at CPL 0, about to run the code at KCODE_LA. */
static void
kernel_state(struct vmm_vcpu *vcpu)
{
	struct vmm_regs		 r;
	struct vmm_sregs	 s;

	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	r.rip = KCODE_LA;
	r.rsp = KDATA_LA + 0x100;
	r.rflags = 0x2;
	s.cs.selector = 0x10;
	s.cs.l = 1;
	s.cs.present = 1;
	s.cs.s = 1;
	s.cs.type = 11;
	s.ss.selector = 0x18;
	s.cr0 = 0x80050033;	/* PG WP NE ET MP PE */
	s.cr4 = 0x6a0;		/* OSXMMEXCPT OSFXSR PGE PAE */
	s.efer = 0xd01;		/* NXE LMA LME SCE */
	s.idt.base = IDT_LA;
	s.idt.limit = 16 * 32 - 1;
	vmm_set_regs(vcpu, &r);
	vmm_set_sregs(vcpu, &s);
}

static int
fixture_init(struct fixture *fx, uint32_t id)
{
	memset(fx, 0, sizeof(*fx));
	if (id == 0)
		memset(mem, 0, sizeof(mem));
	if ((fx->vm = vmm_vm_create(-1)) == NULL ||
	    (fx->vcpu = vmm_vcpu_create(fx->vm, id)) == NULL)
		return (-1);
	vmm_null_memory(fx->vm, mem, sizeof(mem));
	vmm_null_map(fx->vcpu, KCODE_LA, KCODE_PA, 0x1000, 0, 0);
	vmm_null_map(fx->vcpu, KDATA_LA, KDATA_PA, 0x4000, 1, 0);
	vmm_null_map(fx->vcpu, KRO_LA, KRO_PA, 0x1000, 0, 0);
	vmm_null_map(fx->vcpu, USER_LA, USER_PA, 0x1000, 1, 1);
	vmm_null_map(fx->vcpu, IDT_LA, IDT_PA, 0x1000, 1, 0);
	vmm_null_map(fx->vcpu, STACK_LA, STACK_PA, 0x1000, 1, 0);
	kernel_state(fx->vcpu);
	if ((fx->hv = vmm_host_vcpu_init(fx->vcpu)) == NULL)
		return (-1);
	return (0);
}

static void
fixture_free(struct fixture *fx)
{
	vmm_host_vcpu_free(fx->hv);
	vmm_vcpu_destroy(fx->vcpu);
	vmm_vm_destroy(fx->vm);
}

/* Puts the instruction at RIP (KCODE_LA) and reports its failure. */
static int
emulation_failure(struct fixture *fx, const uint8_t *insn, size_t len)
{
	struct vmm_exit	 ve;

	memcpy(mem + KCODE_PA, insn, len);
	memset(&ve, 0, sizeof(ve));
	ve.reason = VMM_EXIT_INTERNAL_ERROR;
	ve.internal.suberror = VMM_INTERNAL_EMULATION;
	return (vmm_host_exit(fx->hv, &ve));
}

static struct vmm_regs
regs(struct fixture *fx)
{
	struct vmm_regs	 r;

	vmm_get_regs(fx->vcpu, &r);
	return (r);
}

static struct vmm_events
events(struct fixture *fx)
{
	struct vmm_events	 e;

	vmm_get_events(fx->vcpu, &e);
	return (e);
}

static size_t
insn_index(const char *name)
{
	size_t	 i;

	for (i = 0; vmm_host_insn_name(i) != NULL; i++)
		if (strcmp(vmm_host_insn_name(i), name) == 0)
			return (i);
	return (VMM_HOST_NINSN);
}

static uint64_t
completed(struct fixture *fx, const char *name)
{
	struct vmm_host_stats	 st;
	size_t			 i = insn_index(name);

	vmm_host_stats(fx->hv, &st);
	return (i < VMM_HOST_NINSN ? st.insn[i] : (uint64_t)-1);
}

static void
set_rflags(struct fixture *fx, uint64_t fl)
{
	struct vmm_regs	 r = regs(fx);

	r.rflags = fl;
	vmm_set_regs(fx->vcpu, &r);
}

static void
set_cr0(struct fixture *fx, uint64_t cr0)
{
	struct vmm_sregs	 s;

	vmm_get_sregs(fx->vcpu, &s);
	s.cr0 = cr0;
	vmm_set_sregs(fx->vcpu, &s);
}

static void
test_int3(void)
{
	static const uint8_t	 insn[] = { 0xcc };
	struct fixture		 fx;
	struct vmm_events	 e;

	CHECK(fixture_init(&fx, 0) == 0);
	set_rflags(&fx, 0x2 | RFL_RF);
	CHECK(emulation_failure(&fx, insn, sizeof(insn)) == 1);
	CHECK(regs(&fx).rip == KCODE_LA + 1);
	CHECK(!(regs(&fx).rflags & RFL_RF));
	e = events(&fx);
	CHECK(e.exception.injected && e.exception.nr == 3 &&
	    !e.exception.has_error_code);
	CHECK(completed(&fx, "int3") == 1);
	fixture_free(&fx);
}

static void
test_clac_stac(void)
{
	static const uint8_t	 clac[] = { 0x0f, 0x01, 0xca };
	static const uint8_t	 stac[] = { 0x0f, 0x01, 0xcb };
	struct fixture		 fx;

	CHECK(fixture_init(&fx, 0) == 0);
	CHECK(emulation_failure(&fx, stac, sizeof(stac)) == 1);
	CHECK(regs(&fx).rip == KCODE_LA + 3);
	CHECK(regs(&fx).rflags & RFL_AC);
	CHECK(!events(&fx).exception.injected);
	kernel_state(fx.vcpu);
	set_rflags(&fx, 0x2 | RFL_AC);
	CHECK(emulation_failure(&fx, clac, sizeof(clac)) == 1);
	CHECK(regs(&fx).rip == KCODE_LA + 3);
	CHECK(regs(&fx).rflags == 0x2);
	CHECK(completed(&fx, "clac") == 1 && completed(&fx, "stac") == 1);
	fixture_free(&fx);
}

static void
test_fwait(void)
{
	static const uint8_t	 insn[] = { 0x9b };
	struct fixture		 fx;
	struct vmm_fpu		 f;
	struct vmm_events	 e;

	CHECK(fixture_init(&fx, 0) == 0);
	CHECK(emulation_failure(&fx, insn, sizeof(insn)) == 1);
	CHECK(regs(&fx).rip == KCODE_LA + 1);
	CHECK(!events(&fx).exception.injected);

	/* a pending unmasked x87 exception: #MF, RIP stays */
	kernel_state(fx.vcpu);
	vmm_get_fpu(fx.vcpu, &f);
	f.fsw = 0x0081;		/* ES, IE */
	vmm_set_fpu(fx.vcpu, &f);
	CHECK(emulation_failure(&fx, insn, sizeof(insn)) == 1);
	CHECK(regs(&fx).rip == KCODE_LA);
	e = events(&fx);
	CHECK(e.exception.injected && e.exception.nr == 16);

	/* CR0.MP and CR0.TS: #NM comes first */
	memset(&e, 0, sizeof(e));
	vmm_set_events(fx.vcpu, &e);
	set_cr0(&fx, 0x8005003b);
	CHECK(emulation_failure(&fx, insn, sizeof(insn)) == 1);
	CHECK(regs(&fx).rip == KCODE_LA);
	e = events(&fx);
	CHECK(e.exception.injected && e.exception.nr == 7);

	/* no CR0.NE: the FERR# line is not modelled, refused */
	memset(&e, 0, sizeof(e));
	vmm_set_events(fx.vcpu, &e);
	set_cr0(&fx, 0x80050013);
	CHECK(emulation_failure(&fx, insn, sizeof(insn)) == 0);
	CHECK(completed(&fx, "fwait") == 3);
	fixture_free(&fx);
}

static void
test_fences(void)
{
	static const uint8_t	 fence[3][3] = {
		{ 0x0f, 0xae, 0xe8 }, { 0x0f, 0xae, 0xf0 }, { 0x0f, 0xae, 0xf8 }
	};
	static const char	*name[3] = { "lfence", "mfence", "sfence" };
	struct fixture		 fx;
	int			 i;

	CHECK(fixture_init(&fx, 0) == 0);
	for (i = 0; i < 3; i++) {
		kernel_state(fx.vcpu);
		CHECK(emulation_failure(&fx, fence[i], 3) == 1);
		CHECK(regs(&fx).rip == KCODE_LA + 3);
		CHECK(!events(&fx).exception.injected);
		CHECK(completed(&fx, name[i]) == 1);
	}
	fixture_free(&fx);
}

static void
test_ldmxcsr(void)
{
	/* ldmxcsr 0x8(%rsp); ldmxcsr 0x10(%rip); ldmxcsr %gs:0x20 */
	static const uint8_t	 rsp8[] = { 0x0f, 0xae, 0x54, 0x24, 0x08 };
	static const uint8_t	 ripr[] = { 0x0f, 0xae, 0x15, 0x10, 0, 0, 0 };
	static const uint8_t	 gs20[] = { 0x65, 0x0f, 0xae, 0x14, 0x25,
	    0x20, 0, 0, 0 };
	struct fixture		 fx;
	struct vmm_fpu		 f;
	struct vmm_sregs	 s;
	struct vmm_events	 e;
	uint32_t		 v;

	CHECK(fixture_init(&fx, 0) == 0);
	v = 0x1f80 | 0x40;	/* default, DAZ */
	memcpy(mem + KDATA_PA + 0x108, &v, 4);
	CHECK(emulation_failure(&fx, rsp8, sizeof(rsp8)) == 1);
	CHECK(regs(&fx).rip == KCODE_LA + sizeof(rsp8));
	vmm_get_fpu(fx.vcpu, &f);
	CHECK(f.mxcsr == 0x1fc0);
	CHECK(!events(&fx).exception.injected);

	/* RIP-relative: next instruction + 0x10, in the code page */
	kernel_state(fx.vcpu);
	v = 0x1f81;
	memcpy(mem + KCODE_PA + sizeof(ripr) + 0x10, &v, 4);
	CHECK(emulation_failure(&fx, ripr, sizeof(ripr)) == 1);
	vmm_get_fpu(fx.vcpu, &f);
	CHECK(f.mxcsr == 0x1f81);

	/* GS base + 0x20 */
	kernel_state(fx.vcpu);
	vmm_get_sregs(fx.vcpu, &s);
	s.gs.base = KDATA_LA + 0x1000;
	vmm_set_sregs(fx.vcpu, &s);
	v = 0x1f82;
	memcpy(mem + KDATA_PA + 0x1020, &v, 4);
	CHECK(emulation_failure(&fx, gs20, sizeof(gs20)) == 1);
	CHECK(regs(&fx).rip == KCODE_LA + sizeof(gs20));
	vmm_get_fpu(fx.vcpu, &f);
	CHECK(f.mxcsr == 0x1f82);

	/* reserved bits: #GP(0), MXCSR and RIP unchanged */
	kernel_state(fx.vcpu);
	v = 0x80001f80;
	memcpy(mem + KDATA_PA + 0x108, &v, 4);
	CHECK(emulation_failure(&fx, rsp8, sizeof(rsp8)) == 1);
	CHECK(regs(&fx).rip == KCODE_LA);
	e = events(&fx);
	CHECK(e.exception.injected && e.exception.nr == 13 &&
	    e.exception.has_error_code && e.exception.error_code == 0);
	vmm_get_fpu(fx.vcpu, &f);
	CHECK(f.mxcsr == 0x1f82);

	/* CR0.TS: #NM before the memory operand is read */
	memset(&e, 0, sizeof(e));
	vmm_set_events(fx.vcpu, &e);
	set_cr0(&fx, 0x8005003b);
	CHECK(emulation_failure(&fx, rsp8, sizeof(rsp8)) == 1);
	e = events(&fx);
	CHECK(e.exception.injected && e.exception.nr == 7);

	/* CR4.OSFXSR clear: #UD */
	memset(&e, 0, sizeof(e));
	vmm_set_events(fx.vcpu, &e);
	kernel_state(fx.vcpu);
	vmm_get_sregs(fx.vcpu, &s);
	s.cr4 &= ~0x200ULL;
	vmm_set_sregs(fx.vcpu, &s);
	CHECK(emulation_failure(&fx, rsp8, sizeof(rsp8)) == 1);
	e = events(&fx);
	CHECK(e.exception.injected && e.exception.nr == 6);
	CHECK(completed(&fx, "ldmxcsr") == 6);
	fixture_free(&fx);
}

static void
test_ldmxcsr_refused(void)
{
	static const uint8_t	 rax[] = { 0x0f, 0xae, 0x10 };	/* (%rax) */
	static const uint8_t	 rsp[] = { 0x0f, 0xae, 0x14, 0x24 };
	struct fixture		 fx;
	struct vmm_regs		 r;
	struct vmm_events	 e;
	struct vmm_sregs	 s;

	CHECK(fixture_init(&fx, 0) == 0);
	/* not mapped: would be a #PF, not completed */
	r = regs(&fx);
	r.rax = KDATA_LA + 0x10000;
	vmm_set_regs(fx.vcpu, &r);
	CHECK(emulation_failure(&fx, rax, sizeof(rax)) == 0);
	CHECK(regs(&fx).rip == KCODE_LA);
	/* a user page at CPL 0: refused */
	r.rax = USER_LA;
	vmm_set_regs(fx.vcpu, &r);
	CHECK(emulation_failure(&fx, rax, sizeof(rax)) == 0);
	/* non-canonical: #GP(0), or #SS(0) through the stack segment */
	r.rax = 0x0000800000000000ULL;
	vmm_set_regs(fx.vcpu, &r);
	CHECK(emulation_failure(&fx, rax, sizeof(rax)) == 1);
	e = events(&fx);
	CHECK(e.exception.injected && e.exception.nr == 13);
	memset(&e, 0, sizeof(e));
	vmm_set_events(fx.vcpu, &e);
	r.rsp = 0x0000800000000000ULL;
	vmm_set_regs(fx.vcpu, &r);
	CHECK(emulation_failure(&fx, rsp, sizeof(rsp)) == 1);
	e = events(&fx);
	CHECK(e.exception.injected && e.exception.nr == 12);
	/* not in 64-bit mode: the operand is not decoded, refused */
	memset(&e, 0, sizeof(e));
	vmm_set_events(fx.vcpu, &e);
	kernel_state(fx.vcpu);
	vmm_get_sregs(fx.vcpu, &s);
	s.cs.l = 0;
	s.cs.db = 1;
	vmm_set_sregs(fx.vcpu, &s);
	CHECK(emulation_failure(&fx, rax, sizeof(rax)) == 0);
	fixture_free(&fx);
}

static void
test_stmxcsr(void)
{
	static const uint8_t	 rax[] = { 0x0f, 0xae, 0x18 };	/* (%rax) */
	struct fixture		 fx;
	struct vmm_regs		 r;
	struct vmm_fpu		 f;
	uint32_t		 v;

	CHECK(fixture_init(&fx, 0) == 0);
	vmm_get_fpu(fx.vcpu, &f);
	f.mxcsr = 0x1fa5;
	vmm_set_fpu(fx.vcpu, &f);
	r = regs(&fx);
	r.rax = KDATA_LA + 0x40;
	vmm_set_regs(fx.vcpu, &r);
	CHECK(emulation_failure(&fx, rax, sizeof(rax)) == 1);
	CHECK(regs(&fx).rip == KCODE_LA + 3);
	memcpy(&v, mem + KDATA_PA + 0x40, 4);
	CHECK(v == 0x1fa5);

	/* across a page boundary: both halves written */
	kernel_state(fx.vcpu);
	r = regs(&fx);
	r.rax = KDATA_LA + 0xffe;
	vmm_set_regs(fx.vcpu, &r);
	CHECK(emulation_failure(&fx, rax, sizeof(rax)) == 1);
	memcpy(&v, mem + KDATA_PA + 0xffe, 4);
	CHECK(v == 0x1fa5);

	/* read-only page with CR0.WP: a #PF, refused, nothing written */
	kernel_state(fx.vcpu);
	r = regs(&fx);
	r.rax = KRO_LA;
	vmm_set_regs(fx.vcpu, &r);
	CHECK(emulation_failure(&fx, rax, sizeof(rax)) == 0);
	memcpy(&v, mem + KRO_PA, 4);
	CHECK(v == 0);
	/* ... but CR0.WP clear lets CPL 0 write it */
	set_cr0(&fx, 0x80040033);
	CHECK(emulation_failure(&fx, rax, sizeof(rax)) == 1);
	memcpy(&v, mem + KRO_PA, 4);
	CHECK(v == 0x1fa5);

	/* the write would cross into an unmapped page: nothing written */
	kernel_state(fx.vcpu);
	r = regs(&fx);
	r.rax = KDATA_LA + 0x3ffe;
	vmm_set_regs(fx.vcpu, &r);
	memset(mem + KDATA_PA + 0x3ffe, 0, 2);
	CHECK(emulation_failure(&fx, rax, sizeof(rax)) == 0);
	CHECK(mem[KDATA_PA + 0x3ffe] == 0 && mem[KDATA_PA + 0x3fff] == 0);
	CHECK(completed(&fx, "stmxcsr") == 3);
	fixture_free(&fx);
}

static void
test_refused(void)
{
	static const uint8_t	 popcnt[] = { 0xf3, 0x48, 0x0f, 0xb8, 0xc1 };
	static const uint8_t	 vldmxcsr[] = { 0xc5, 0xf8, 0xae, 0x10 };
	static const uint8_t	 xrstor[] = { 0x0f, 0xae, 0x2f };
	static const uint8_t	 int3[] = { 0xcc };
	static const uint8_t	 clac[] = { 0x0f, 0x01, 0xca };
	static const uint8_t	 bad[] = { 0xf0, 0xcc };	/* lock int3 */
	struct fixture		 fx;
	struct vmm_sregs	 s;
	struct vmm_events	 e;
	struct vmm_exit		 ve;

	CHECK(fixture_init(&fx, 0) == 0);
	CHECK(emulation_failure(&fx, popcnt, sizeof(popcnt)) == 0);
	CHECK(emulation_failure(&fx, vldmxcsr, sizeof(vldmxcsr)) == 0);
	CHECK(emulation_failure(&fx, xrstor, sizeof(xrstor)) == 0);
	CHECK(emulation_failure(&fx, bad, sizeof(bad)) == 0);
	CHECK(regs(&fx).rip == KCODE_LA);

	/* another internal error than an emulation failure */
	memcpy(mem + KCODE_PA, int3, 1);
	memset(&ve, 0, sizeof(ve));
	ve.reason = VMM_EXIT_INTERNAL_ERROR;
	ve.internal.suberror = 2;
	CHECK(vmm_host_exit(fx.hv, &ve) == 0);

	/* CPL 3 */
	vmm_get_sregs(fx.vcpu, &s);
	s.cs.dpl = 3;
	s.cs.selector = 0x33;
	vmm_set_sregs(fx.vcpu, &s);
	CHECK(emulation_failure(&fx, int3, 1) == 0);
	kernel_state(fx.vcpu);

	/* single-stepping guest: it would be owed a #DB */
	set_rflags(&fx, 0x102);
	CHECK(emulation_failure(&fx, clac, sizeof(clac)) == 0);
	kernel_state(fx.vcpu);

	/* an event in flight: the failure was in its delivery */
	memset(&e, 0, sizeof(e));
	e.interrupt.injected = 1;
	e.interrupt.nr = 0x20;
	vmm_set_events(fx.vcpu, &e);
	CHECK(emulation_failure(&fx, int3, 1) == 0);
	memset(&e, 0, sizeof(e));
	vmm_set_events(fx.vcpu, &e);

	/* RIP in a page that does not translate */
	kernel_state(fx.vcpu);
	set_rflags(&fx, 0x2);
	{
		struct vmm_regs r = regs(&fx);

		r.rip = 0xffffffff90000000ULL;
		vmm_set_regs(fx.vcpu, &r);
		memset(&ve, 0, sizeof(ve));
		ve.reason = VMM_EXIT_INTERNAL_ERROR;
		ve.internal.suberror = VMM_INTERNAL_EMULATION;
		CHECK(vmm_host_exit(fx.hv, &ve) == 0);
	}

	/* the backend refuses the new state: not completed */
	kernel_state(fx.vcpu);
	vmm_null_fail(fx.vcpu, 1);
	CHECK(emulation_failure(&fx, int3, 1) == 0);
	vmm_null_fail(fx.vcpu, 0);
	CHECK(completed(&fx, "int3") == 0);
	fixture_free(&fx);
}

/* 32-bit protected mode: int3 completes, RIP wraps at 4 GiB. */
static void
test_int3_compat(void)
{
	static const uint8_t	 int3[] = { 0xcc };
	struct fixture		 fx;
	struct vmm_sregs	 s;
	struct vmm_regs		 r;

	CHECK(fixture_init(&fx, 0) == 0);
	vmm_null_map(fx.vcpu, 0xfffff000ULL, 0x3000, 0x1000, 1, 0);
	vmm_get_sregs(fx.vcpu, &s);
	s.cs.l = 0;
	s.cs.db = 1;
	s.efer = 0;
	vmm_set_sregs(fx.vcpu, &s);
	r = regs(&fx);
	r.rip = 0xffffffffULL;
	vmm_set_regs(fx.vcpu, &r);
	mem[0x3fff] = 0xcc;
	{
		struct vmm_exit	 ve;

		memset(&ve, 0, sizeof(ve));
		ve.reason = VMM_EXIT_INTERNAL_ERROR;
		ve.internal.suberror = VMM_INTERNAL_EMULATION;
		CHECK(vmm_host_exit(fx.hv, &ve) == 1);
	}
	CHECK(regs(&fx).rip == 0);
	CHECK(events(&fx).exception.nr == 3);
	(void)int3;
	fixture_free(&fx);
}

/*
 * iretd in 32-bit protected mode with paging off, as syslinux's core
 * runs: code at 0xb000, a flat stack at 0xc000, CS 0x20.
 */
#define PM_CODE		0xb000
#define PM_STACK	0xc000

static void
pm32_state(struct fixture *fx, uint64_t esp, const uint32_t *frame,
    const uint8_t *insn, size_t len)
{
	struct vmm_regs		 r;
	struct vmm_sregs	 s;

	vmm_null_map(fx->vcpu, PM_CODE, PM_CODE, 0x1000, 0, 0);
	vmm_null_map(fx->vcpu, PM_STACK, PM_STACK, 0x1000, 1, 0);
	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	r.rip = PM_CODE;
	r.rsp = esp;
	r.rflags = 0x6;
	s.cs.selector = 0x20;
	s.cs.limit = 0xffffffff;
	s.cs.db = 1;
	s.cs.present = 1;
	s.cs.s = 1;
	s.cs.type = 11;
	s.ss = s.cs;
	s.ss.selector = 0x28;
	s.ss.type = 3;
	s.cr0 = 0x11;		/* ET PE */
	vmm_set_regs(fx->vcpu, &r);
	vmm_set_sregs(fx->vcpu, &s);
	memcpy(mem + PM_CODE, insn, len);
	if (esp >= PM_STACK && esp + 12 <= PM_STACK + 0x1000)
		memcpy(mem + esp, frame, 12);
}

static int
pm32_exit(struct fixture *fx)
{
	struct vmm_exit	 ve;

	memset(&ve, 0, sizeof(ve));
	ve.reason = VMM_EXIT_INTERNAL_ERROR;
	ve.internal.suberror = VMM_INTERNAL_EMULATION;
	return (vmm_host_exit(fx->hv, &ve));
}

static void
test_iretd(void)
{
	static const uint8_t	 iretd[] = { 0xcf };
	/* EIP, CS, EFLAGS: ID, IF, ZF, PF and a reserved bit (15) */
	static const uint32_t	 frame[3] = { 0xb123, 0x20, 0x208246 };
	struct fixture		 fx;
	struct vmm_events	 e;
	struct vmm_regs		 r;

	CHECK(fixture_init(&fx, 0) == 0);
	pm32_state(&fx, PM_STACK + 0x100, frame, iretd, sizeof(iretd));
	e = events(&fx);
	e.nmi.masked = 1;
	vmm_set_events(fx.vcpu, &e);
	CHECK(pm32_exit(&fx) == 1);
	r = regs(&fx);
	CHECK(r.rip == 0xb123);
	CHECK(r.rsp == PM_STACK + 0x10c);
	CHECK(r.rflags == 0x200246);
	e = events(&fx);
	CHECK(!e.exception.injected && !e.nmi.masked);
	CHECK(completed(&fx, "iretd") == 1);
	fixture_free(&fx);
}

static void
test_iretd_refused(void)
{
	static const uint8_t	 iretd[] = { 0xcf };
	static const uint8_t	 iretw[] = { 0x66, 0xcf };
	static const uint32_t	 ok[3] = { 0xb123, 0x20, 0x246 };
	static const uint32_t	 othercs[3] = { 0xb123, 0x08, 0x246 };
	static const uint32_t	 v86[3] = { 0xb123, 0x20, 0x20246 };
	static const uint32_t	 far[3] = { 0x20000, 0x20, 0x246 };
	struct fixture		 fx;
	struct vmm_sregs	 s;
	struct vmm_regs		 r;

	CHECK(fixture_init(&fx, 0) == 0);
	/* another code segment, virtual-8086 mode, a 16-bit frame */
	pm32_state(&fx, PM_STACK + 0x100, othercs, iretd, sizeof(iretd));
	CHECK(pm32_exit(&fx) == 0);
	CHECK(regs(&fx).rip == PM_CODE && regs(&fx).rsp == PM_STACK + 0x100);
	pm32_state(&fx, PM_STACK + 0x100, v86, iretd, sizeof(iretd));
	CHECK(pm32_exit(&fx) == 0);
	pm32_state(&fx, PM_STACK + 0x100, ok, iretw, sizeof(iretw));
	CHECK(pm32_exit(&fx) == 0);
	/* a nested task return */
	pm32_state(&fx, PM_STACK + 0x100, ok, iretd, sizeof(iretd));
	r = regs(&fx);
	r.rflags |= 0x4000;
	vmm_set_regs(fx.vcpu, &r);
	CHECK(pm32_exit(&fx) == 0);
	/* the target or the stack past its segment's limit */
	pm32_state(&fx, PM_STACK + 0x100, far, iretd, sizeof(iretd));
	vmm_get_sregs(fx.vcpu, &s);
	s.cs.limit = 0xffff;
	vmm_set_sregs(fx.vcpu, &s);
	CHECK(pm32_exit(&fx) == 0);
	pm32_state(&fx, PM_STACK + 0x100, ok, iretd, sizeof(iretd));
	vmm_get_sregs(fx.vcpu, &s);
	s.ss.limit = PM_STACK + 0x100 + 10;
	vmm_set_sregs(fx.vcpu, &s);
	CHECK(pm32_exit(&fx) == 0);
	/* a stack at the top of the address space, or not in memory */
	pm32_state(&fx, 0xfffffffcULL, ok, iretd, sizeof(iretd));
	CHECK(pm32_exit(&fx) == 0);
	pm32_state(&fx, 0x20000, ok, iretd, sizeof(iretd));
	CHECK(pm32_exit(&fx) == 0);
	/* a 16-bit stack segment */
	pm32_state(&fx, PM_STACK + 0x100, ok, iretd, sizeof(iretd));
	vmm_get_sregs(fx.vcpu, &s);
	s.ss.db = 0;
	vmm_set_sregs(fx.vcpu, &s);
	CHECK(pm32_exit(&fx) == 0);
	/* 64-bit mode: iretq is KVM's, never this layer's */
	kernel_state(fx.vcpu);
	CHECK(emulation_failure(&fx, (const uint8_t *)"\x48\xcf", 2) == 0);
	CHECK(emulation_failure(&fx, iretd, sizeof(iretd)) == 0);
	CHECK(completed(&fx, "iretd") == 0);
	fixture_free(&fx);
}

/* --- syscalls from user mode ---------------------------------------- */

static void
idt_gate(uint64_t handler)
{
	uint8_t	*g = mem + IDT_PA + 14 * 16;

	memset(g, 0, 16);
	g[0] = handler & 0xff;
	g[1] = (handler >> 8) & 0xff;
	g[2] = 0x10;
	g[5] = 0x8e;		/* present, 64-bit interrupt gate */
	g[6] = (handler >> 16) & 0xff;
	g[7] = (handler >> 24) & 0xff;
	memcpy(g + 8, (uint8_t[4]){ handler >> 32, handler >> 40,
	    handler >> 48, handler >> 56 }, 4);
}

static int
wrmsr(struct fixture *fx, uint32_t index, uint64_t data, uint8_t *error)
{
	struct vmm_exit	 ve;
	int		 rv;

	memset(&ve, 0, sizeof(ve));
	ve.reason = VMM_EXIT_WRMSR;
	ve.msr.index = index;
	ve.msr.data = data;
	*error = 0xff;
	ve.msr.error = error;
	rv = vmm_host_exit(fx->hv, &ve);
	return (rv);
}

static int
debug_exit(struct fixture *fx, uint64_t pc, uint64_t dr6)
{
	struct vmm_exit	 ve;

	memset(&ve, 0, sizeof(ve));
	ve.reason = VMM_EXIT_DEBUG;
	ve.debug.pc = pc;
	ve.debug.dr6 = dr6;
	ve.debug.exception = 1;
	return (vmm_host_exit(fx->hv, &ve));
}

/* The guest kernel's syscall setup: IDT gate 14, then the MSRs. */
static void
syscall_setup(struct fixture *fx, uint64_t lstar)
{
	uint8_t	 err;

	idt_gate(PF_HANDLER);
	CHECK(wrmsr(fx, MSR_STAR, STAR, &err) == 1 && err == 0);
	CHECK(wrmsr(fx, MSR_SFMASK, SFMASK, &err) == 1 && err == 0);
	CHECK(wrmsr(fx, MSR_LSTAR, lstar, &err) == 1 && err == 0);
}

/*
 * What the vCPU looks like when the broken syscall has become a #PF:
 * at the handler, CPL 0, frame on the stack, RCX/R11 from SYSCALL.
 */
static void
failed_syscall(struct fixture *fx, uint64_t lstar, uint64_t user_rflags,
    uint64_t frame_rflags, uint64_t err)
{
	struct vmm_regs		 r;
	struct vmm_sregs	 s;
	uint64_t		 f[6] = {
		err, lstar, 0x33, frame_rflags, 0x7ffffff0, 0x2b
	};

	kernel_state(fx->vcpu);
	memcpy(mem + STACK_PA + 0xfd0, f, sizeof(f));
	r = regs(fx);
	r.rip = PF_HANDLER;
	r.rsp = STACK_LA + 0xfd0;
	r.rcx = USER_LA + 0x123;
	r.r11 = user_rflags;
	r.rax = 39;
	vmm_set_regs(fx->vcpu, &r);
	vmm_get_sregs(fx->vcpu, &s);
	s.cr2 = lstar;
	s.gs.base = 0x7f0000001000ULL;	/* the user's: swapgs is LSTAR's */
	vmm_set_sregs(fx->vcpu, &s);
}

static void
test_msr_filter(void)
{
	struct fixture	 fx;

	CHECK(fixture_init(&fx, 0) == 0);
	CHECK(vmm_host_vm_init(fx.vm) == 0);
	CHECK(vmm_null_msr_filtered(fx.vm, MSR_STAR));
	CHECK(vmm_null_msr_filtered(fx.vm, MSR_LSTAR));
	CHECK(vmm_null_msr_filtered(fx.vm, MSR_CSTAR));
	CHECK(vmm_null_msr_filtered(fx.vm, MSR_SFMASK));
	CHECK(!vmm_null_msr_filtered(fx.vm, 0xc0000080));	/* EFER */
	fixture_free(&fx);
}

static void
test_wrmsr_arms(void)
{
	struct fixture		 fx;
	struct vmm_debug	 d;
	struct vmm_host_stats	 st;
	uint64_t		 v;
	size_t			 calls;
	uint8_t			 err;

	CHECK(fixture_init(&fx, 0) == 0);
	idt_gate(PF_HANDLER);
	CHECK(wrmsr(&fx, MSR_STAR, STAR, &err) == 1 && err == 0);
	vmm_null_debug(fx.vcpu, &d, &calls);
	CHECK(calls == 0);		/* no LSTAR yet: nothing to watch */
	CHECK(wrmsr(&fx, MSR_LSTAR, LSTAR, &err) == 1 && err == 0);
	CHECK(vmm_get_msr(fx.vcpu, MSR_LSTAR, &v) == 0 && v == LSTAR);
	CHECK(vmm_get_msr(fx.vcpu, MSR_STAR, &v) == 0 && v == STAR);
	vmm_null_debug(fx.vcpu, &d, &calls);
	CHECK(calls == 1 && (d.flags & VMM_DEBUG_ENABLE) &&
	    !(d.flags & VMM_DEBUG_SINGLESTEP) && d.armed == 1 &&
	    d.bp[0] == PF_HANDLER);
	/* the same value again: no new debug state */
	CHECK(wrmsr(&fx, MSR_LSTAR, LSTAR, &err) == 1 && err == 0);
	vmm_null_debug(fx.vcpu, &d, &calls);
	CHECK(calls == 1);
	/* a non-canonical LSTAR: the guest gets #GP, nothing changes */
	CHECK(wrmsr(&fx, MSR_LSTAR, 0x8000000000000000ULL, &err) == 1 &&
	    err == 1);
	CHECK(vmm_get_msr(fx.vcpu, MSR_LSTAR, &v) == 0 && v == LSTAR);
	/* CSTAR (32-bit syscalls) is applied and otherwise ignored */
	CHECK(wrmsr(&fx, MSR_CSTAR, KCODE_LA, &err) == 1 && err == 0);
	CHECK(vmm_get_msr(fx.vcpu, MSR_CSTAR, &v) == 0 && v == KCODE_LA);
	vmm_host_stats(fx.hv, &st);
	CHECK(st.wrmsr == 4 && st.arms == 1);
	fixture_free(&fx);
}

static void
test_syscall(void)
{
	struct fixture		 fx;
	struct vmm_regs		 r;
	struct vmm_sregs	 s;
	struct vmm_host_stats	 st;
	struct vmm_debug	 d;
	size_t			 calls;
	int			 i;

	CHECK(fixture_init(&fx, 0) == 0);
	syscall_setup(&fx, LSTAR);
	for (i = 0; i < 3; i++) {
		failed_syscall(&fx, LSTAR, 0x246, 0x10046, 0x15);
		CHECK(debug_exit(&fx, PF_HANDLER, 0x1) == 1);
		r = regs(&fx);
		vmm_get_sregs(fx.vcpu, &s);
		CHECK(r.rip == LSTAR);
		CHECK(r.rsp == 0x7ffffff0);	/* the user's stack */
		CHECK(r.rflags == 0x46);	/* R11 less SFMASK */
		CHECK(r.r11 == 0x246 && r.rcx == USER_LA + 0x123);
		CHECK(r.rax == 39);
		CHECK(s.cs.selector == 0x10 && s.cs.dpl == 0 && s.cs.l &&
		    s.cs.type == 11 && s.cs.present);
		CHECK(s.ss.selector == 0x18 && s.ss.dpl == 0 &&
		    s.ss.type == 3 && s.ss.present);
		CHECK(s.gs.base == 0x7f0000001000ULL);
	}
	vmm_host_stats(fx.hv, &st);
	CHECK(st.syscalls == 3 && st.pf_steps == 0);
	/* the breakpoint stays where it was */
	vmm_null_debug(fx.vcpu, &d, &calls);
	CHECK(d.armed == 1 && d.bp[0] == PF_HANDLER && calls == 1);
	fixture_free(&fx);
}

/* A #PF that is the guest's own: one step with the breakpoint off. */
static void
test_pf_step_over(void)
{
	struct fixture		 fx;
	struct vmm_debug	 d;
	struct vmm_host_stats	 st;
	struct vmm_regs		 before;
	size_t			 calls;

	CHECK(fixture_init(&fx, 0) == 0);
	syscall_setup(&fx, LSTAR);
	/* a user page fault elsewhere */
	failed_syscall(&fx, LSTAR, 0x246, 0x10046, 0x15);
	{
		struct vmm_sregs s;

		vmm_get_sregs(fx.vcpu, &s);
		s.cr2 = USER_LA + 0x800;
		vmm_set_sregs(fx.vcpu, &s);
	}
	before = regs(&fx);
	CHECK(debug_exit(&fx, PF_HANDLER, 0x1) == 1);
	CHECK(regs(&fx).rip == PF_HANDLER && regs(&fx).rsp == before.rsp);
	vmm_null_debug(fx.vcpu, &d, &calls);
	CHECK((d.flags & VMM_DEBUG_SINGLESTEP) && d.armed == 0);
	/* the step is done: the breakpoint is back */
	CHECK(debug_exit(&fx, PF_HANDLER + 4, VMM_DR6_BS) == 1);
	vmm_null_debug(fx.vcpu, &d, &calls);
	CHECK(!(d.flags & VMM_DEBUG_SINGLESTEP) && d.armed == 1 &&
	    d.bp[0] == PF_HANDLER);

	/* a kernel-mode fault at LSTAR's address (CS RPL 0) */
	failed_syscall(&fx, LSTAR, 0x246, 0x10046, 0x11);
	mem[STACK_PA + 0xfd0 + 16] = 0x10;
	CHECK(debug_exit(&fx, PF_HANDLER, 0x1) == 1);
	CHECK(regs(&fx).rip == PF_HANDLER);
	CHECK(debug_exit(&fx, PF_HANDLER + 4, VMM_DR6_BS) == 1);

	/*
	 * A user jump to LSTAR with a forged R11 (IOPL 3): the frame's
	 * RFLAGS has IF set, which SYSCALL would have cleared.
	 */
	failed_syscall(&fx, LSTAR, 0x3246, 0x10246, 0x15);
	CHECK(debug_exit(&fx, PF_HANDLER, 0x1) == 1);
	CHECK(regs(&fx).rip == PF_HANDLER);
	CHECK(debug_exit(&fx, PF_HANDLER + 4, VMM_DR6_BS) == 1);

	/* a supervisor-access fault from CPL 3 (error code without U) */
	failed_syscall(&fx, LSTAR, 0x246, 0x10046, 0x11);
	CHECK(debug_exit(&fx, PF_HANDLER, 0x1) == 1);
	CHECK(regs(&fx).rip == PF_HANDLER);
	CHECK(debug_exit(&fx, PF_HANDLER + 4, VMM_DR6_BS) == 1);

	/* EFER.SCE off: not a syscall the CPU would have made */
	failed_syscall(&fx, LSTAR, 0x246, 0x10046, 0x15);
	{
		struct vmm_sregs s;

		vmm_get_sregs(fx.vcpu, &s);
		s.efer &= ~1ULL;
		vmm_set_sregs(fx.vcpu, &s);
	}
	CHECK(debug_exit(&fx, PF_HANDLER, 0x1) == 1);
	CHECK(regs(&fx).rip == PF_HANDLER);
	CHECK(debug_exit(&fx, PF_HANDLER + 4, VMM_DR6_BS) == 1);

	/* the frame is not readable: stepped over, nothing read */
	failed_syscall(&fx, LSTAR, 0x246, 0x10046, 0x15);
	{
		struct vmm_regs r = regs(&fx);

		r.rsp = STACK_LA + 0x1000 - 8;	/* frame runs off the map */
		vmm_set_regs(fx.vcpu, &r);
	}
	CHECK(debug_exit(&fx, PF_HANDLER, 0x1) == 1);
	CHECK(regs(&fx).rip == PF_HANDLER);
	CHECK(debug_exit(&fx, PF_HANDLER + 4, VMM_DR6_BS) == 1);

	vmm_host_stats(fx.hv, &st);
	CHECK(st.syscalls == 0 && st.pf_steps == 6);
	fixture_free(&fx);
}

static void
test_debug_unexpected(void)
{
	struct fixture	 fx;

	CHECK(fixture_init(&fx, 0) == 0);
	/* nothing armed yet */
	CHECK(debug_exit(&fx, PF_HANDLER, 0x1) == 0);
	syscall_setup(&fx, LSTAR);
	/* a debug exit somewhere else is the caller's */
	CHECK(debug_exit(&fx, KCODE_LA + 0x10, 0x1) == 0);
	fixture_free(&fx);
}

/* The #PF gate moves after LSTAR was set: the breakpoint follows. */
static void
test_idt_follow(void)
{
	struct fixture		 fx;
	struct vmm_debug	 d;
	struct vmm_exit		 ve;
	struct timespec		 ts = { 0, 60 * 1000000L };
	size_t			 calls;
	uint8_t			 err;

	CHECK(fixture_init(&fx, 0) == 0);
	syscall_setup(&fx, LSTAR);
	idt_gate(PF_HANDLER + 0x100);
	/* any exit after the check interval */
	nanosleep(&ts, NULL);
	memset(&ve, 0, sizeof(ve));
	ve.reason = VMM_EXIT_IO;
	CHECK(vmm_host_exit(fx.hv, &ve) == 0);
	vmm_null_debug(fx.vcpu, &d, &calls);
	CHECK(d.armed == 1 && d.bp[0] == PF_HANDLER + 0x100);
	/* a gate that is not present: nothing is watched */
	mem[IDT_PA + 14 * 16 + 5] = 0x0e;
	CHECK(wrmsr(&fx, MSR_SFMASK, SFMASK, &err) == 1 && err == 0);
	vmm_null_debug(fx.vcpu, &d, &calls);
	CHECK(!(d.flags & VMM_DEBUG_ENABLE) && d.armed == 0);
	/* an IDT too short for vector 14 */
	idt_gate(PF_HANDLER);
	{
		struct vmm_sregs s;

		vmm_get_sregs(fx.vcpu, &s);
		s.idt.limit = 14 * 16;
		vmm_set_sregs(fx.vcpu, &s);
	}
	CHECK(wrmsr(&fx, MSR_SFMASK, SFMASK, &err) == 1 && err == 0);
	vmm_null_debug(fx.vcpu, &d, &calls);
	CHECK(d.armed == 0);
	kernel_state(fx.vcpu);
	CHECK(wrmsr(&fx, MSR_SFMASK, SFMASK, &err) == 1 && err == 0);
	vmm_null_debug(fx.vcpu, &d, &calls);
	CHECK(d.armed == 1 && d.bp[0] == PF_HANDLER);
	fixture_free(&fx);
}

/* Two vCPUs: each has its own MSRs, breakpoint and step state. */
static void
test_two_vcpus(void)
{
	struct fixture		 a, b;
	struct vmm_debug	 d;
	struct vmm_host_stats	 st;
	size_t			 calls;

	CHECK(fixture_init(&a, 0) == 0);
	CHECK(fixture_init(&b, 1) == 0);
	syscall_setup(&a, LSTAR);
	syscall_setup(&b, LSTAR + 0x40);
	/* a steps over a fault while b completes a syscall */
	failed_syscall(&a, LSTAR, 0x246, 0x10046, 0x4);
	{
		struct vmm_sregs s;

		vmm_get_sregs(a.vcpu, &s);
		s.cr2 = 0x1234;
		vmm_set_sregs(a.vcpu, &s);
	}
	CHECK(debug_exit(&a, PF_HANDLER, 0x1) == 1);
	failed_syscall(&b, LSTAR + 0x40, 0x202, 0x10002, 0x15);
	CHECK(debug_exit(&b, PF_HANDLER, 0x1) == 1);
	CHECK(regs(&b).rip == LSTAR + 0x40 && regs(&b).rflags == 0x2);
	vmm_null_debug(a.vcpu, &d, &calls);
	CHECK(d.flags & VMM_DEBUG_SINGLESTEP);
	vmm_null_debug(b.vcpu, &d, &calls);
	CHECK(!(d.flags & VMM_DEBUG_SINGLESTEP) && d.armed == 1);
	/* LSTAR of a is not b's: a's failed syscall at b's LSTAR is not one */
	CHECK(debug_exit(&a, PF_HANDLER + 3, VMM_DR6_BS) == 1);
	failed_syscall(&a, LSTAR + 0x40, 0x246, 0x10046, 0x15);
	CHECK(debug_exit(&a, PF_HANDLER, 0x1) == 1);
	CHECK(regs(&a).rip == PF_HANDLER);
	vmm_host_stats(a.hv, &st);
	CHECK(st.syscalls == 0 && st.pf_steps == 2);
	vmm_host_stats(b.hv, &st);
	CHECK(st.syscalls == 1 && st.pf_steps == 0);
	fixture_free(&a);
	fixture_free(&b);
}

static void
test_probe(void)
{
	char	 why[128];
	int	 need;

	why[0] = '\0';
	need = vmm_host_probe(why, sizeof(why));
	CHECK(need == 0 || need == 1);
	CHECK(why[0] != '\0');
	CHECK(vmm_host_linux_args() != NULL);
	CHECK(strstr(vmm_host_linux_args(), "clearcpuid=smap,smep") != NULL);
	/* Linux 6.1 reads 127 bytes of it; ssse3 must be among them */
	CHECK(strlen(strstr(vmm_host_linux_args(), "clearcpuid=") + 11) <= 127);
	CHECK(strstr(vmm_host_linux_args(), ",ssse3,") != NULL);
	/* no hypercalls: a second vCPU hung on the first PV IPI */
	CHECK(strncmp(vmm_host_linux_args(), "nopv ", 5) == 0);
}

int
main(void)
{
	vmm_host_enable();
	RUN(test_int3);
	RUN(test_int3_compat);
	RUN(test_clac_stac);
	RUN(test_fwait);
	RUN(test_fences);
	RUN(test_ldmxcsr);
	RUN(test_ldmxcsr_refused);
	RUN(test_stmxcsr);
	RUN(test_refused);
	RUN(test_iretd);
	RUN(test_iretd_refused);
	RUN(test_msr_filter);
	RUN(test_wrmsr_arms);
	RUN(test_syscall);
	RUN(test_pf_step_over);
	RUN(test_debug_unexpected);
	RUN(test_idt_follow);
	RUN(test_two_vcpus);
	RUN(test_probe);
	TEST_EXIT();
}
