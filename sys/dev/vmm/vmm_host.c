/*
 * vmm_host.c: the host-quirk layer.  On a host whose KVM emulates guest
 * CPL 0 code instead of running it (a PVM-style nested KVM, kvm_pvm),
 * two things go wrong and are finished here, through vmm.h only:
 *
 * - The emulator gives up on some instructions (VMM_EXIT_INTERNAL_ERROR,
 *   emulation failure, RIP at the instruction).  Those on the allow-list
 *   below are decoded with Zydis and completed exactly as the CPU would,
 *   faults included; anything else goes back to the caller, which logs
 *   the vCPU state and ends the VM.
 * - `syscall` from CPL 3 jumps to LSTAR but stays at CPL 3, so the guest
 *   takes a #PF at LSTAR.  A VMM breakpoint on the guest's #PF handler
 *   (which runs emulated at CPL 0, where breakpoints fire) finds that
 *   fault and performs the CPL 0 entry itself (see on_pf_entry()).
 *   STAR/LSTAR/SFMASK are learned by filtering the guest's writes.
 *
 * The layer is on only where vmm_host_probe() says the host needs it;
 * the parent decides once and tells each vm process, which calls
 * vmm_host_enable().  Hosts with VT-x or SVM never get here.  This file
 * must never guess: an instruction or a fault it is not sure of is left
 * to the caller, and nothing the guest does can make it fail the process.
 */

#include <cpuid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <Zydis/Zydis.h>

#include "dev/vmm/vmm.h"

#define MSR_STAR	0xc0000081
#define MSR_LSTAR	0xc0000082
#define MSR_CSTAR	0xc0000083
#define MSR_SFMASK	0xc0000084

#define CR0_PE		0x00000001ULL
#define CR0_MP		0x00000002ULL
#define CR0_EM		0x00000004ULL
#define CR0_TS		0x00000008ULL
#define CR0_NE		0x00000020ULL
#define CR0_WP		0x00010000ULL
#define CR4_OSFXSR	0x00000200ULL
#define CR4_SMAP	0x00200000ULL
#define EFER_SCE	0x00000001ULL
#define EFER_LMA	0x00000400ULL

#define RFL_FIXED	0x00000002ULL	/* bit 1 always reads 1 */
#define RFL_TF		0x00000100ULL
#define RFL_RF		0x00010000ULL
#define RFL_AC		0x00040000ULL
#define RFL_NT		0x00004000ULL
#define RFL_VM		0x00020000ULL
/* what iret loads at CPL 0 in protected mode: all but VM and reserved */
#define RFL_IRET	0x003d7fd5ULL

#define FSW_ES		0x0080		/* unmasked x87 exception pending */
#define PF_USER		0x4		/* #PF error code: CPL 3 access */

#define VEC_BP		3
#define VEC_UD		6
#define VEC_NM		7
#define VEC_SS		12
#define VEC_GP		13
#define VEC_PF		14
#define VEC_MF		16

#define IDT_GATE_SIZE	16
#define GATE_P		0x80
#define GATE_INTR64	0x0e
#define GATE_TRAP64	0x0f

#define INSN_MAX	15
#define PAGE_SIZE_4K	4096ULL
#define IDT_CHECK_NS	(50 * 1000000LL)	/* see vmm_host_exit() */

/*
 * Linux guests must not use what this host's CPL 0 emulator lacks; the
 * guest sees the host's CPUID whatever KVM_SET_CPUID2 says, so they are
 * turned off on the kernel command line (vmm_host_linux_args()).  Linux
 * 6.1 has no nosmap/nosmep any more: SMAP and SMEP go through clearcpuid
 * (with SMAP on, every user access brackets itself with stac/clac, each
 * a completion here).  erms and fsrm only save time: without them the
 * kernel copies with rep movsq, and the emulator goes per iteration.
 * Linux 6.1 reads at most 127 bytes of the clearcpuid value and drops the
 * rest without a word, so the list names nothing noxsave already takes
 * away (AVX and what depends on it: AVX2, AVX-512, FMA; cpuid-deps.c);
 * Debian's kernel died in blake2s_compress_ssse3 when ssse3 fell off.
 * The CPUID it sees also offers KVM's paravirtual features (this host
 * is itself a KVM guest), but a hypercall (vmcall) at CPL 0 never
 * completes here: the vCPU stays on it.  With two vCPUs Linux 6.1 sends
 * its IPIs by hypercall and hung bringing up the second one; nopv keeps
 * it off KVM's paravirtual interface (its clock then is the TSC,
 * calibrated against the ACPI PM timer).
 */
#define LINUX_CLEARCPUID	"smap,smep,cx16,popcnt,bmi1,bmi2,abm,movbe," \
	"rdrand,rdseed,fsgsbase,rdpid,f16c,aes,pclmulqdq,sha_ni,sse4_1," \
	"sse4_2,ssse3,erms,fsrm"
#define LINUX_ARGS	"nopv noxsave clearcpuid=" LINUX_CLEARCPUID
_Static_assert(sizeof(LINUX_CLEARCPUID) <= 128,
    "Linux 6.1 reads 127 bytes of clearcpuid=");

struct vmm_host_vcpu {
	struct vmm_vcpu		*vcpu;
	ZydisDecoder		 dec64, dec32, dec16;
	uint64_t		 star, lstar, sfmask;
	uint64_t		 handler;	/* #PF handler watched; 0: none */
	int			 stepping;	/* over the handler's 1st insn */
	struct timespec		 idt_checked;
	struct vmm_host_stats	 stats;
};

/* What completing one instruction does to the vCPU. */
enum outcome {
	DONE,		/* executed: RIP moves past it */
	FAULT,		/* raises in->vector, RIP stays */
	TRAP,		/* executed, then raises in->vector (int3) */
	JUMP,		/* executed, and set RIP itself (iret) */
	REFUSE		/* not sure: the caller ends the VM */
};

/* One instruction being completed. */
struct insn {
	struct vmm_host_vcpu	*hv;
	struct vmm_regs		 r;
	struct vmm_sregs	 s;
	ZydisDecodedInstruction	 d;
	ZydisDecodedOperand	 op[ZYDIS_MAX_OPERAND_COUNT];
	uint8_t			 vector;
	uint8_t			 has_ec;
	uint32_t		 ec;
};

static enum outcome	do_int3(struct insn *);
static enum outcome	do_clac(struct insn *);
static enum outcome	do_stac(struct insn *);
static enum outcome	do_fwait(struct insn *);
static enum outcome	do_fence(struct insn *);
static enum outcome	do_ldmxcsr(struct insn *);
static enum outcome	do_stmxcsr(struct insn *);
static enum outcome	do_iret(struct insn *);

/*
 * The allow-list: every instruction this layer completes.  Seen at CPL 0
 * while booting Linux 6.1 here; each entry has its unit test in
 * regress/unit/vmm_host_test.c.  Entries with a memory operand are
 * completed in 64-bit mode only, where segmentation is flat.
 */
static const struct allow {
	ZydisMnemonic	 mnemonic;
	const char	*name;
	int		 mem;
	enum outcome	(*fn)(struct insn *);
} allow[] = {
	{ ZYDIS_MNEMONIC_INT3,		"int3",		0, do_int3 },
	{ ZYDIS_MNEMONIC_CLAC,		"clac",		0, do_clac },
	{ ZYDIS_MNEMONIC_STAC,		"stac",		0, do_stac },
	{ ZYDIS_MNEMONIC_FWAIT,		"fwait",	0, do_fwait },
	{ ZYDIS_MNEMONIC_LFENCE,	"lfence",	0, do_fence },
	{ ZYDIS_MNEMONIC_MFENCE,	"mfence",	0, do_fence },
	{ ZYDIS_MNEMONIC_SFENCE,	"sfence",	0, do_fence },
	{ ZYDIS_MNEMONIC_LDMXCSR,	"ldmxcsr",	1, do_ldmxcsr },
	{ ZYDIS_MNEMONIC_STMXCSR,	"stmxcsr",	1, do_stmxcsr },
	{ ZYDIS_MNEMONIC_IRETD,		"iretd",	0, do_iret },
};
#define NALLOW	(sizeof(allow) / sizeof(allow[0]))

_Static_assert(NALLOW <= VMM_HOST_NINSN, "VMM_HOST_NINSN too small");

static int	 host_enabled;
static uint32_t	 mxcsr_mask;		/* of this CPU, from fxsave */

/*
 * Does this host need the layer?  Yes where KVM is kvm_pvm, or where the
 * CPU has neither VT-x nor SVM (then no KVM here runs guest kernels on
 * the CPU).  For the parent, once at startup; why says which.
 */
int
vmm_host_probe(char *why, size_t len)
{
	unsigned int	 a, b, c, d;
	int		 vmx = 0, svm = 0;

	if (access("/sys/module/kvm_pvm", F_OK) == 0) {
		snprintf(why, len, "KVM is kvm_pvm, which emulates guest "
		    "kernel code");
		return (1);
	}
	if (__get_cpuid(1, &a, &b, &c, &d))
		vmx = (c >> 5) & 1;
	if (__get_cpuid(0x80000001, &a, &b, &c, &d))
		svm = (c >> 2) & 1;
	if (!vmx && !svm) {
		snprintf(why, len, "the CPU has neither VT-x nor SVM, so KVM "
		    "emulates guest kernel code");
		return (1);
	}
	snprintf(why, len, "the CPU has %s", vmx ? "VT-x" : "SVM");
	return (0);
}

/* The mask of writable MXCSR bits, as FXSAVE reports it (0: default). */
static void
mxcsr_mask_init(void)
{
	uint8_t		 area[512] __attribute__((aligned(16)));
	uint32_t	 m;

	memset(area, 0, sizeof(area));
	__asm__ volatile("fxsave64 %0" : "=m"(area));
	memcpy(&m, area + 28, sizeof(m));
	mxcsr_mask = m != 0 ? m : 0xffbf;
}

/* In a vm process, before its VMs are made: turn the layer on. */
void
vmm_host_enable(void)
{
	mxcsr_mask_init();
	host_enabled = 1;
}

int
vmm_host_enabled(void)
{
	return (host_enabled);
}

/* What a Linux kernel must be told on such a host. */
const char *
vmm_host_linux_args(void)
{
	return (LINUX_ARGS);
}

const char *
vmm_host_insn_name(size_t i)
{
	return (i < NALLOW ? allow[i].name : NULL);
}

/* Per VM: writes of the syscall MSRs come to us (VMM_EXIT_WRMSR). */
int
vmm_host_vm_init(struct vmm_vm *vm)
{
	static const uint32_t	 msrs[] = {
		MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SFMASK
	};

	return (vmm_msr_filter(vm, msrs, sizeof(msrs) / sizeof(msrs[0])));
}

static int
canonical(uint64_t la)
{
	return ((int64_t)(la << 16) >> 16 == (int64_t)la);
}

#define ACC_WRITE	0x1
#define ACC_KERNEL	0x2	/* refuse pages reachable from CPL 3 */

/*
 * len bytes at guest linear address la, through the vCPU's paging.  Every
 * page is checked before anything is written.  -1 where the CPU would
 * fault (not mapped, not writable) or where guest RAM is not behind it:
 * the callers do not complete such accesses.
 */
static int
access_virt(struct vmm_vcpu *vcpu, const struct vmm_sregs *s, uint64_t la,
    void *buf, size_t len, int how)
{
	struct vmm_translation	 t[2];
	uint64_t		 chunk[2];
	size_t			 n, i, off;

	if (len == 0 || len > PAGE_SIZE_4K)
		return (-1);
	chunk[0] = PAGE_SIZE_4K - (la & (PAGE_SIZE_4K - 1));
	if (chunk[0] > len)
		chunk[0] = len;
	chunk[1] = len - chunk[0];
	n = chunk[1] != 0 ? 2 : 1;
	for (i = 0, off = 0; i < n; off += chunk[i], i++) {
		if (!canonical(la + off) ||
		    vmm_translate(vcpu, la + off, &t[i]) == -1 || !t[i].valid)
			return (-1);
		if ((how & ACC_KERNEL) && t[i].user)
			return (-1);
		if ((how & ACC_WRITE) && !t[i].writeable && (s->cr0 & CR0_WP))
			return (-1);
	}
	for (i = 0, off = 0; i < n; off += chunk[i], i++) {
		if (how & ACC_WRITE) {
			if (vmm_write_phys(vcpu, t[i].gpa, (uint8_t *)buf + off,
			    chunk[i]) == -1)
				return (-1);
		} else if (vmm_read_phys(vcpu, t[i].gpa, (uint8_t *)buf + off,
		    chunk[i]) == -1)
			return (-1);
	}
	return (0);
}

static uint64_t
rd64(const uint8_t *p)
{
	uint64_t	 v;

	memcpy(&v, p, sizeof(v));
	return (v);
}

/* --- instruction completion ---------------------------------------- */

static enum outcome
fault(struct insn *in, uint8_t vector, int has_ec, uint32_t ec)
{
	in->vector = vector;
	in->has_ec = has_ec;
	in->ec = ec;
	return (FAULT);
}

/* int3: a trap, #BP after RIP moves past it. */
static enum outcome
do_int3(struct insn *in)
{
	in->vector = VEC_BP;
	in->has_ec = 0;
	return (TRAP);
}

/* clac/stac: RFLAGS.AC (only reachable at CPL 0, where they are legal). */
static enum outcome
do_clac(struct insn *in)
{
	in->r.rflags &= ~RFL_AC;
	return (DONE);
}

static enum outcome
do_stac(struct insn *in)
{
	in->r.rflags |= RFL_AC;
	return (DONE);
}

/*
 * fwait: #NM if CR0.MP and CR0.TS, #MF if an unmasked x87 exception is
 * pending (CR0.NE; the legacy FERR# line is not modelled: refused),
 * otherwise nothing.
 */
static enum outcome
do_fwait(struct insn *in)
{
	struct vmm_fpu	 f;

	if ((in->s.cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
		return (fault(in, VEC_NM, 0, 0));
	if (vmm_get_fpu(in->hv->vcpu, &f) == -1)
		return (REFUSE);
	if (f.fsw & FSW_ES)
		return ((in->s.cr0 & CR0_NE) ? fault(in, VEC_MF, 0, 0) :
		    REFUSE);
	return (DONE);
}

/*
 * lfence/mfence/sfence: the vCPU is stopped and every access it made is
 * done and visible; nothing is left to order.
 */
static enum outcome
do_fence(struct insn *in)
{
	return (DONE);
}

/* A 64- or 32-bit general register as an address part. */
static int
gpr(const struct insn *in, ZydisRegister reg, uint64_t *v)
{
	const struct vmm_regs	*r = &in->r;
	const uint64_t		 all[16] = {
		r->rax, r->rcx, r->rdx, r->rbx, r->rsp, r->rbp, r->rsi, r->rdi,
		r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15
	};
	ZydisRegisterClass	 c = ZydisRegisterGetClass(reg);
	ZyanI8			 id = ZydisRegisterGetId(reg);

	if ((c != ZYDIS_REGCLASS_GPR64 && c != ZYDIS_REGCLASS_GPR32) ||
	    id < 0 || id >= 16)
		return (-1);
	*v = all[id];
	if (c == ZYDIS_REGCLASS_GPR32)
		*v &= 0xffffffffULL;
	return (0);
}

/*
 * The linear address of the explicit memory operand (64-bit mode: only
 * FS and GS have a base); *stack says whether SS is the segment, which
 * decides between #SS and #GP for a non-canonical address.
 */
static int
mem_operand(const struct insn *in, uint64_t *la, int *stack)
{
	const ZydisDecodedOperand	*op = NULL;
	uint64_t			 ea, v;
	ZyanU8				 i;

	for (i = 0; i < in->d.operand_count; i++) {
		if (in->op[i].type == ZYDIS_OPERAND_TYPE_MEMORY &&
		    in->op[i].visibility == ZYDIS_OPERAND_VISIBILITY_EXPLICIT) {
			op = &in->op[i];
			break;
		}
	}
	if (op == NULL || op->mem.type != ZYDIS_MEMOP_TYPE_MEM)
		return (-1);
	ea = (uint64_t)op->mem.disp.value;
	if (op->mem.base == ZYDIS_REGISTER_RIP ||
	    op->mem.base == ZYDIS_REGISTER_EIP)
		ea += in->r.rip + in->d.length;
	else if (op->mem.base != ZYDIS_REGISTER_NONE) {
		if (gpr(in, op->mem.base, &v) == -1)
			return (-1);
		ea += v;
	}
	if (op->mem.index != ZYDIS_REGISTER_NONE) {
		if (gpr(in, op->mem.index, &v) == -1)
			return (-1);
		ea += v * op->mem.scale;
	}
	if (in->d.address_width == 32)
		ea &= 0xffffffffULL;
	else if (in->d.address_width != 64)
		return (-1);
	switch (op->mem.segment) {
	case ZYDIS_REGISTER_FS:
		ea += in->s.fs.base;
		break;
	case ZYDIS_REGISTER_GS:
		ea += in->s.gs.base;
		break;
	default:
		break;
	}
	*la = ea;
	*stack = op->mem.segment == ZYDIS_REGISTER_SS;
	return (0);
}

/*
 * The checks ldmxcsr and stmxcsr share, in the CPU's order: #UD without
 * FXSR support enabled, #NM with CR0.TS, #SS/#GP(0) for a non-canonical
 * address.  A page fault is not raised here: such accesses are refused.
 */
static enum outcome
mxcsr_checks(struct insn *in, uint64_t *la)
{
	int	 stack;

	if ((in->s.cr0 & CR0_EM) || !(in->s.cr4 & CR4_OSFXSR))
		return (fault(in, VEC_UD, 0, 0));
	if (in->s.cr0 & CR0_TS)
		return (fault(in, VEC_NM, 0, 0));
	if (mem_operand(in, la, &stack) == -1)
		return (REFUSE);
	if (!canonical(*la) || !canonical(*la + 3))
		return (fault(in, stack ? VEC_SS : VEC_GP, 1, 0));
	return (DONE);
}

/* ldmxcsr m32: #GP(0) for bits outside this CPU's MXCSR mask. */
static enum outcome
do_ldmxcsr(struct insn *in)
{
	struct vmm_fpu	 f;
	enum outcome	 o;
	uint64_t	 la;
	uint32_t	 v;

	if ((o = mxcsr_checks(in, &la)) != DONE)
		return (o);
	if (access_virt(in->hv->vcpu, &in->s, la, &v, sizeof(v),
	    ACC_KERNEL) == -1)
		return (REFUSE);
	if (v & ~mxcsr_mask)
		return (fault(in, VEC_GP, 1, 0));
	if (vmm_get_fpu(in->hv->vcpu, &f) == -1)
		return (REFUSE);
	f.mxcsr = v;
	if (vmm_set_fpu(in->hv->vcpu, &f) == -1)
		return (REFUSE);
	return (DONE);
}

static enum outcome
do_stmxcsr(struct insn *in)
{
	struct vmm_fpu	 f;
	enum outcome	 o;
	uint64_t	 la;
	uint32_t	 v;

	if ((o = mxcsr_checks(in, &la)) != DONE)
		return (o);
	if (vmm_get_fpu(in->hv->vcpu, &f) == -1)
		return (REFUSE);
	v = f.mxcsr;
	if (access_virt(in->hv->vcpu, &in->s, la, &v, sizeof(v),
	    ACC_KERNEL | ACC_WRITE) == -1)
		return (REFUSE);
	return (DONE);
}

/*
 * iretd in 32-bit protected mode (KVM's emulator does iret in real mode
 * only): syslinux's protected-mode core returns from the interrupts it
 * reflects to the BIOS with it.  Completed for the return to the same
 * code segment at CPL 0 only, the case where the CPU pops EIP, CS and
 * EFLAGS and loads nothing from the GDT: a nested task (NT), a return to
 * virtual-8086 mode or to another segment or privilege, a 16-bit stack
 * and a stack or target outside its segment's limit are refused.
 */
static enum outcome
do_iret(struct insn *in)
{
	uint32_t	 f[3];
	uint64_t	 esp = in->r.rsp & 0xffffffffULL;

	if ((in->s.efer & EFER_LMA) || !in->s.cs.db || !in->s.ss.db ||
	    in->d.operand_width != 32 || (in->r.rflags & RFL_NT))
		return (REFUSE);
	if (esp > 0xffffffffULL - sizeof(f) ||
	    esp + sizeof(f) - 1 > in->s.ss.limit ||
	    access_virt(in->hv->vcpu, &in->s, in->s.ss.base + esp, f,
	    sizeof(f), 0) == -1)
		return (REFUSE);
	if ((f[1] & 0xffff) != in->s.cs.selector || (f[2] & RFL_VM) ||
	    f[0] > in->s.cs.limit)
		return (REFUSE);
	in->r.rip = f[0];
	in->r.rflags = (f[2] & RFL_IRET) | RFL_FIXED;
	in->r.rsp = (in->r.rsp & ~0xffffffffULL) |
	    ((esp + sizeof(f)) & 0xffffffffULL);
	return (JUMP);
}

/*
 * An emulation failure: decode the instruction at RIP and, if it is on
 * the allow-list, complete it.  Refused up front: anything but CPL 0 in
 * protected mode (CPL 3 runs natively and never comes here), an event in
 * flight (the failure was then in its delivery, not in an instruction)
 * and RFLAGS.TF (the guest would be owed a single-step trap).
 */
static int
complete_insn(struct vmm_host_vcpu *hv, const struct vmm_exit *ve)
{
	struct insn		 in;
	struct vmm_events	 ev;
	const ZydisDecoder	*dec;
	const struct allow	*a = NULL;
	enum outcome		 o;
	uint8_t			 bytes[INSN_MAX];
	uint64_t		 next;
	size_t			 i;
	int			 n;

	if (ve->internal.suberror != VMM_INTERNAL_EMULATION)
		return (0);
	memset(&in, 0, sizeof(in));
	in.hv = hv;
	if (vmm_get_regs(hv->vcpu, &in.r) == -1 ||
	    vmm_get_sregs(hv->vcpu, &in.s) == -1 ||
	    vmm_get_events(hv->vcpu, &ev) == -1)
		return (0);
	if (!(in.s.cr0 & CR0_PE) || in.s.cs.dpl != 0 ||
	    (in.r.rflags & RFL_TF) || ev.exception.injected ||
	    ev.interrupt.injected || ev.nmi.injected)
		return (0);
	if ((in.s.efer & EFER_LMA) && in.s.cs.l)
		dec = &hv->dec64;
	else if (in.s.cs.db)
		dec = &hv->dec32;
	else
		dec = &hv->dec16;
	if ((n = vmm_read_insn(hv->vcpu, bytes, sizeof(bytes))) <= 0)
		return (0);
	if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(dec, bytes, (ZyanUSize)n,
	    &in.d, in.op)))
		return (0);
	for (i = 0; i < NALLOW; i++) {
		if (allow[i].mnemonic == in.d.mnemonic) {
			a = &allow[i];
			break;
		}
	}
	if (a == NULL || in.d.encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY ||
	    (a->mem && dec != &hv->dec64))
		return (0);
	if ((o = a->fn(&in)) == REFUSE)
		return (0);
	if (o == JUMP) {
		ev.interrupt.shadow = 0;
		ev.nmi.masked = 0;	/* iret ends NMI blocking */
	} else if (o != FAULT) {
		next = in.r.rip + in.d.length;
		if (dec == &hv->dec32)
			next &= 0xffffffffULL;
		else if (dec == &hv->dec16)
			next &= 0xffffULL;
		in.r.rip = next;
		in.r.rflags &= ~RFL_RF;
		ev.interrupt.shadow = 0;	/* one instruction ran */
	}
	if (o != DONE && o != JUMP) {
		ev.exception.injected = 1;
		ev.exception.nr = in.vector;
		ev.exception.has_error_code = in.has_ec;
		ev.exception.error_code = in.ec;
	}
	if (vmm_set_regs(hv->vcpu, &in.r) == -1 ||
	    vmm_set_events(hv->vcpu, &ev) == -1)
		return (0);
	hv->stats.insn[a - allow]++;
	return (1);
}

/* --- user-mode syscalls --------------------------------------------- */

/*
 * Point the VMM's debug state at what this vCPU needs: nothing, the
 * breakpoint on the #PF handler, or one single step with it off.
 */
static int
debug_apply(struct vmm_host_vcpu *hv)
{
	struct vmm_debug	 d;

	memset(&d, 0, sizeof(d));
	if (hv->stepping)
		d.flags = VMM_DEBUG_ENABLE | VMM_DEBUG_SINGLESTEP;
	else if (hv->handler != 0) {
		d.flags = VMM_DEBUG_ENABLE;
		d.armed = 1;
		d.bp[0] = hv->handler;
		hv->stats.arms++;
	}
	return (vmm_set_debug(hv->vcpu, &d));
}

/* The 64-bit #PF gate of the vCPU's IDT, or 0. */
static uint64_t
pf_handler(struct vmm_host_vcpu *hv)
{
	struct vmm_sregs	 s;
	uint8_t			 g[IDT_GATE_SIZE];

	if (vmm_get_sregs(hv->vcpu, &s) == -1 || !(s.efer & EFER_LMA) ||
	    s.idt.limit < (VEC_PF + 1) * IDT_GATE_SIZE - 1 ||
	    access_virt(hv->vcpu, &s, s.idt.base + VEC_PF * IDT_GATE_SIZE,
	    g, sizeof(g), 0) == -1)
		return (0);
	if (!(g[5] & GATE_P) || ((g[5] & 0x0f) != GATE_INTR64 &&
	    (g[5] & 0x0f) != GATE_TRAP64))
		return (0);
	return ((uint64_t)g[0] | (uint64_t)g[1] << 8 | (uint64_t)g[6] << 16 |
	    (uint64_t)g[7] << 24 | (uint64_t)g[8] << 32 |
	    (uint64_t)g[9] << 40 | (uint64_t)g[10] << 48 |
	    (uint64_t)g[11] << 56);
}

/*
 * Watch the #PF handler once the guest has a syscall entry point; follow
 * it when the IDT changes.  -1 only if the debug state cannot be set.
 */
static int
arm(struct vmm_host_vcpu *hv)
{
	uint64_t	 h = 0;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &hv->idt_checked);
	if (hv->lstar != 0)
		h = pf_handler(hv);
	if (h == hv->handler)
		return (0);
	hv->handler = h;
	if (hv->stepping)
		return (0);	/* the end of the step applies it */
	return (debug_apply(hv));
}

/*
 * A guest write to STAR, LSTAR, CSTAR or SFMASK: apply it as the VMM (a
 * value KVM refuses becomes the #GP the CPU would raise) and note it.
 */
static int
on_wrmsr(struct vmm_host_vcpu *hv, const struct vmm_exit *ve)
{
	if (vmm_set_msr(hv->vcpu, ve->msr.index, ve->msr.data) == -1) {
		*ve->msr.error = 1;
		return (1);
	}
	*ve->msr.error = 0;
	hv->stats.wrmsr++;
	switch (ve->msr.index) {
	case MSR_STAR:
		hv->star = ve->msr.data;
		break;
	case MSR_LSTAR:
		hv->lstar = ve->msr.data;
		break;
	case MSR_SFMASK:
		hv->sfmask = ve->msr.data;
		break;
	default:
		return (1);
	}
	return (arm(hv) == -1 ? 0 : 1);
}

static void
flat_segment(struct vmm_segment *seg, uint16_t sel, int code)
{
	memset(seg, 0, sizeof(*seg));
	seg->selector = sel;
	seg->limit = 0xffffffff;
	seg->present = 1;
	seg->s = 1;
	seg->g = 1;
	if (code) {
		seg->type = 11;		/* execute/read, accessed */
		seg->l = 1;
	} else {
		seg->type = 3;		/* read/write, accessed */
		seg->db = 1;
	}
}

/* Let the handler's first instruction run with the breakpoint off. */
static int
step_over(struct vmm_host_vcpu *hv)
{
	hv->stepping = 1;
	hv->stats.pf_steps++;
	return (debug_apply(hv) == -1 ? 0 : 1);
}

/*
 * The vCPU stopped on the first instruction of the guest's #PF handler,
 * at CPL 0 with the exception frame (error code, RIP, CS, RFLAGS, RSP,
 * SS) at RSP.  It is the broken syscall when the fault came from CPL 3
 * (user-mode access) at RIP == CR2 == LSTAR with syscalls enabled, and
 * the frame's RFLAGS is what SYSCALL leaves: R11 (the user's RFLAGS,
 * which the failed SYSCALL did store) less SFMASK.  That last test also
 * tells a user-mode jump to LSTAR from a syscall where SFMASK clears IF,
 * since user mode runs with IF set.  Then the CPL 0 entry is made as
 * SYSCALL makes it: CS and SS from STAR, RFLAGS = R11 & ~SFMASK, RIP =
 * LSTAR, RSP back to the user's; RCX and R11 already hold what SYSCALL
 * put there.  Any other #PF is the guest's: step over the breakpoint.
 */
static int
on_pf_entry(struct vmm_host_vcpu *hv)
{
	struct vmm_regs		 r;
	struct vmm_sregs	 s;
	uint8_t			 f[6 * 8];
	uint64_t		 err, rip, cs, rflags, rsp, ss, user;
	uint16_t		 ksel;

	if (vmm_get_regs(hv->vcpu, &r) == -1 ||
	    vmm_get_sregs(hv->vcpu, &s) == -1)
		return (0);
	if (r.rip != hv->handler || (s.cs.selector & 3) != 0 ||
	    access_virt(hv->vcpu, &s, r.rsp, f, sizeof(f), 0) == -1)
		return (step_over(hv));
	err = rd64(f);
	rip = rd64(f + 8);
	cs = rd64(f + 16);
	rflags = rd64(f + 24);
	rsp = rd64(f + 32);
	ss = rd64(f + 40);
	user = r.r11 & ~RFL_RF;
	if (hv->lstar == 0 || !(s.efer & EFER_SCE) || (cs & 3) != 3 ||
	    (ss & 3) != 3 || !(err & PF_USER) || rip != hv->lstar ||
	    s.cr2 != hv->lstar ||
	    (rflags & ~RFL_RF) != ((user & ~hv->sfmask) | RFL_FIXED))
		return (step_over(hv));
	ksel = (uint16_t)(hv->star >> 32) & 0xfffc;
	flat_segment(&s.cs, ksel, 1);
	flat_segment(&s.ss, ksel + 8, 0);
	r.r11 = user;
	r.rflags = (user & ~hv->sfmask & ~RFL_RF) | RFL_FIXED;
	r.rsp = rsp;
	r.rip = hv->lstar;
	if (vmm_set_sregs(hv->vcpu, &s) == -1 ||
	    vmm_set_regs(hv->vcpu, &r) == -1)
		return (0);
	hv->stats.syscalls++;
	return (1);
}

static int
on_debug(struct vmm_host_vcpu *hv, const struct vmm_exit *ve)
{
	if (hv->stepping) {
		hv->stepping = 0;
		return (debug_apply(hv) == -1 ? 0 : 1);
	}
	if (hv->handler == 0 || ve->debug.pc != hv->handler)
		return (0);
	return (on_pf_entry(hv));
}

/* --- per vCPU -------------------------------------------------------- */

struct vmm_host_vcpu *
vmm_host_vcpu_init(struct vmm_vcpu *vcpu)
{
	struct vmm_host_vcpu	*hv;

	if ((hv = calloc(1, sizeof(*hv))) == NULL)
		return (NULL);
	hv->vcpu = vcpu;
	if (!ZYAN_SUCCESS(ZydisDecoderInit(&hv->dec64,
	    ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)) ||
	    !ZYAN_SUCCESS(ZydisDecoderInit(&hv->dec32,
	    ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32)) ||
	    !ZYAN_SUCCESS(ZydisDecoderInit(&hv->dec16,
	    ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16))) {
		free(hv);
		errno = EINVAL;
		return (NULL);
	}
	/* A vCPU may start with its MSRs set (a restored one). */
	if (vmm_get_msr(vcpu, MSR_STAR, &hv->star) == -1 ||
	    vmm_get_msr(vcpu, MSR_LSTAR, &hv->lstar) == -1 ||
	    vmm_get_msr(vcpu, MSR_SFMASK, &hv->sfmask) == -1 ||
	    (hv->lstar != 0 && arm(hv) == -1)) {
		free(hv);
		return (NULL);
	}
	return (hv);
}

void
vmm_host_vcpu_free(struct vmm_host_vcpu *hv)
{
	free(hv);
}

void
vmm_host_stats(struct vmm_host_vcpu *hv, struct vmm_host_stats *st)
{
	*st = hv->stats;
}

/*
 * Every exit of a vCPU with the layer on comes here first.  Returns 1
 * when the exit was finished and the vCPU can run on, 0 when it is the
 * caller's.  The IDT is also looked at again now and then (at most every
 * IDT_CHECK_NS, on any exit) so a #PF gate moved after LSTAR was set is
 * followed; a moved gate means nothing until user mode makes a syscall.
 */
int
vmm_host_exit(struct vmm_host_vcpu *hv, struct vmm_exit *ve)
{
	struct timespec	 now;

	switch (ve->reason) {
	case VMM_EXIT_INTERNAL_ERROR:
		return (complete_insn(hv, ve));
	case VMM_EXIT_WRMSR:
		return (on_wrmsr(hv, ve));
	case VMM_EXIT_DEBUG:
		return (on_debug(hv, ve));
	default:
		if (hv->lstar == 0)
			return (0);
		clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
		if ((now.tv_sec - hv->idt_checked.tv_sec) * 1000000000LL +
		    (now.tv_nsec - hv->idt_checked.tv_nsec) >= IDT_CHECK_NS)
			(void)arm(hv);
		return (0);
	}
}
