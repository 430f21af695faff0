/*
 * host_fuzz.c: libFuzzer target for the host-quirk layer (vmm_host.c)
 * over the vmm_null backend.  Everything vmm_host.c reads comes from the
 * guest: instruction bytes, registers, the IDT, the #PF frame, the MSR
 * values written.  An input is a list of steps over one vCPU with 16 KiB
 * of guest memory, mapped at a kernel and at a user linear address: set
 * registers or state, put an instruction (often one of the allow-list,
 * with fuzzed operands) at RIP and report its emulation failure, write a
 * syscall MSR, build a #PF frame and stop at the handler, or another
 * exit.  The layer must never crash, touch memory outside what it was
 * given (ASan) or hit undefined behaviour (UBSan); whether it completes
 * an exit does not matter here.  Build: make fuzz.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dev/vmm/vmm.h"

#define MEM_SIZE	0x4000
#define KERNEL_LA	0xffffffff81000000ULL
#define USER_LA		0x0000000000400000ULL
#define IDT_OFF		0x3000		/* IDT at KERNEL_LA + IDT_OFF */
#define HANDLER_OFF	0x0800		/* where gate 14 points, mostly */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct input {
	const uint8_t	*p;
	size_t		 left;
};

/* Encodings to start from: the allow-list and some neighbours. */
static const struct {
	uint8_t	len;
	uint8_t	b[15];
} insns[] = {
	{ 1, { 0xcc } },				/* int3 */
	{ 3, { 0x0f, 0x01, 0xca } },			/* clac */
	{ 3, { 0x0f, 0x01, 0xcb } },			/* stac */
	{ 1, { 0x9b } },				/* fwait */
	{ 3, { 0x0f, 0xae, 0xe8 } },			/* lfence */
	{ 3, { 0x0f, 0xae, 0xf0 } },			/* mfence */
	{ 3, { 0x0f, 0xae, 0xf8 } },			/* sfence */
	{ 3, { 0x0f, 0xae, 0x10 } },			/* ldmxcsr (%rax) */
	{ 5, { 0x0f, 0xae, 0x54, 0x24, 0x08 } },	/* ldmxcsr 8(%rsp) */
	{ 7, { 0x0f, 0xae, 0x15, 0, 0, 0, 0 } },	/* ldmxcsr (%rip) */
	{ 9, { 0x65, 0x0f, 0xae, 0x14, 0x25, 0, 0, 0, 0 } }, /* %gs: */
	{ 4, { 0x67, 0x0f, 0xae, 0x18 } },		/* stmxcsr (%eax) */
	{ 4, { 0x0f, 0xae, 0x1c, 0x88 } },		/* stmxcsr (%rax,%rcx,4) */
	{ 4, { 0xc5, 0xf8, 0xae, 0x10 } },		/* vldmxcsr */
	{ 5, { 0xf3, 0x48, 0x0f, 0xb8, 0xc1 } },	/* popcnt */
	{ 2, { 0xf0, 0xcc } },				/* lock int3 */
};
#define NINSNS	(sizeof(insns) / sizeof(insns[0]))

static uint64_t
take(struct input *in, size_t n)
{
	uint64_t	 v = 0;

	if (n > sizeof(v))
		n = sizeof(v);
	if (n > in->left)
		n = in->left;
	memcpy(&v, in->p, n);
	in->p += n;
	in->left -= n;
	return (v);
}

/* A linear address that is mapped most of the time. */
static uint64_t
address(struct input *in)
{
	uint64_t	 v = take(in, 2);

	switch (v >> 14) {
	case 0:
		return (KERNEL_LA + (v & (MEM_SIZE - 1)));
	case 1:
		return (USER_LA + (v & (MEM_SIZE - 1)));
	case 2:
		return (KERNEL_LA + MEM_SIZE - 8 + (v & 15));
	default:
		return (take(in, 8));
	}
}

/* Mostly a sane 64-bit kernel state, with fuzzed bits flipped. */
static void
set_state(struct vmm_vcpu *vcpu, struct input *in)
{
	struct vmm_regs		 r;
	struct vmm_sregs	 s;
	uint8_t			 f = take(in, 1);

	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	r.rax = address(in);
	r.rcx = take(in, 2);
	r.rsp = address(in);
	r.r11 = take(in, 4);
	r.rip = KERNEL_LA + (take(in, 2) & (MEM_SIZE - 1));
	r.rflags = 0x2 | (f & 1 ? take(in, 4) : 0);
	s.cr0 = 0x80050033 ^ (f & 2 ? take(in, 4) : 0);
	s.cr4 = 0x6a0 ^ (f & 4 ? take(in, 4) : 0);
	s.efer = 0xd01 ^ (f & 8 ? take(in, 2) : 0);
	s.cr2 = address(in);
	s.cs.l = !(f & 0x10);
	s.cs.db = (f & 0x10) != 0;
	s.cs.dpl = (f & 0x60) == 0x60 ? 3 : 0;
	s.cs.selector = f & 0x80 ? take(in, 2) : 0x10;
	s.fs.base = address(in);
	s.gs.base = address(in);
	s.idt.base = KERNEL_LA + IDT_OFF;
	s.idt.limit = f & 0x80 ? take(in, 2) : 0xfff;
	vmm_set_regs(vcpu, &r);
	vmm_set_sregs(vcpu, &s);
}

/* Gate 14 of the IDT in guest memory, at KERNEL_LA + handler_off. */
static void
set_gate(uint8_t *mem, struct input *in)
{
	uint64_t	 h = KERNEL_LA + HANDLER_OFF;
	uint8_t		*g = mem + IDT_OFF + 14 * 16;

	if (take(in, 1) & 1)
		h = address(in);
	memset(g, 0, 16);
	g[0] = h;
	g[1] = h >> 8;
	g[5] = take(in, 1) & 1 ? take(in, 1) : 0x8e;
	g[6] = h >> 16;
	g[7] = h >> 24;
	g[8] = h >> 32;
	g[9] = h >> 40;
	g[10] = h >> 48;
	g[11] = h >> 56;
}

/* A #PF frame at RSP, near what the broken syscall leaves, and stop. */
static void
pf_entry(struct vmm_vcpu *vcpu, uint8_t *mem, struct input *in,
    struct vmm_exit *ve)
{
	struct vmm_regs		 r;
	struct vmm_sregs	 s;
	uint64_t		 lstar = KERNEL_LA + 0x1000, f[6];
	uint8_t			 m = take(in, 1);

	vmm_get_regs(vcpu, &r);
	vmm_get_sregs(vcpu, &s);
	r.rip = KERNEL_LA + HANDLER_OFF;
	r.rsp = m & 1 ? address(in) : KERNEL_LA + 0x2000;
	r.r11 = m & 2 ? take(in, 8) : 0x246;
	s.cs.selector = m & 4 ? take(in, 2) : 0x10;
	s.cr2 = m & 8 ? address(in) : lstar;
	f[0] = m & 0x10 ? take(in, 8) : 0x15;
	f[1] = m & 0x20 ? address(in) : lstar;
	f[2] = m & 0x40 ? take(in, 2) : 0x33;
	f[3] = m & 0x80 ? take(in, 8) : 0x10046;
	f[4] = address(in);
	f[5] = take(in, 1) & 1 ? take(in, 2) : 0x2b;
	if (r.rsp >= KERNEL_LA && r.rsp - KERNEL_LA <= MEM_SIZE - sizeof(f))
		memcpy(mem + (r.rsp - KERNEL_LA), f, sizeof(f));
	vmm_set_regs(vcpu, &r);
	vmm_set_sregs(vcpu, &s);
	ve->reason = VMM_EXIT_DEBUG;
	ve->debug.pc = take(in, 1) & 1 ? address(in) : r.rip;
	ve->debug.dr6 = 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const uint32_t	 msrs[] = {
		0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084
	};
	static uint8_t		 mem[MEM_SIZE];
	static int		 enabled;
	struct input		 in = { data, len };
	struct vmm_vm		*vm;
	struct vmm_vcpu		*vcpu;
	struct vmm_host_vcpu	*hv;
	struct vmm_fpu		 fpu;
	struct vmm_exit		 ve;
	uint64_t		 rip, off;
	size_t			 i, n;
	uint8_t			 err;

	if (!enabled) {
		vmm_host_enable();
		enabled = 1;
	}
	if ((vm = vmm_vm_create(-1)) == NULL)
		return (0);
	if ((vcpu = vmm_vcpu_create(vm, 0)) == NULL) {
		vmm_vm_destroy(vm);
		return (0);
	}
	memset(mem, 0, sizeof(mem));
	vmm_null_memory(vm, mem, sizeof(mem));
	vmm_null_map(vcpu, KERNEL_LA, 0, MEM_SIZE, take(&in, 1) & 1, 0);
	vmm_null_map(vcpu, USER_LA, 0, MEM_SIZE, 1, 1);
	set_state(vcpu, &in);
	set_gate(mem, &in);
	memset(&fpu, 0, sizeof(fpu));
	fpu.fsw = take(&in, 1) & 1 ? take(&in, 2) : 0;
	fpu.mxcsr = 0x1f80;
	vmm_set_fpu(vcpu, &fpu);

	if ((hv = vmm_host_vcpu_init(vcpu)) == NULL)
		goto done;
	while (in.left > 0) {
		memset(&ve, 0, sizeof(ve));
		switch (take(&in, 1) % 7) {
		case 0:			/* an instruction fails at RIP */
			rip = KERNEL_LA + (take(&in, 2) & (MEM_SIZE - 1));
			off = rip - KERNEL_LA;
			i = take(&in, 1) % (NINSNS + 1);
			n = i < NINSNS ? insns[i].len : 15;
			for (; n > 0 && off < MEM_SIZE; n--, off++) {
				mem[off] = i < NINSNS ?
				    insns[i].b[insns[i].len - n] : take(&in, 1);
				if (i < NINSNS && (take(&in, 1) & 0xf) == 0)
					mem[off] ^= take(&in, 1);
			}
			{
				struct vmm_regs r;

				vmm_get_regs(vcpu, &r);
				r.rip = rip;
				vmm_set_regs(vcpu, &r);
			}
			ve.reason = VMM_EXIT_INTERNAL_ERROR;
			ve.internal.suberror = take(&in, 1) & 0x7 ? 1 : 2;
			break;
		case 1:			/* a syscall MSR is written */
			ve.reason = VMM_EXIT_WRMSR;
			ve.msr.index = msrs[take(&in, 1) % 4];
			ve.msr.data = ve.msr.index == 0xc0000082 &&
			    (take(&in, 1) & 1) ? KERNEL_LA + 0x1000 :
			    ve.msr.index == 0xc0000081 ? 0x0023001000000000ULL ^
			    take(&in, 1) : address(&in);
			ve.msr.error = &err;
			break;
		case 2:			/* at the #PF handler */
			pf_entry(vcpu, mem, &in, &ve);
			break;
		case 3:			/* a single step ends */
			ve.reason = VMM_EXIT_DEBUG;
			ve.debug.pc = address(&in);
			ve.debug.dr6 = 0x4000;
			break;
		case 4:
			set_state(vcpu, &in);
			continue;
		case 5:
			set_gate(mem, &in);
			continue;
		default:
			ve.reason = VMM_EXIT_IO;
			break;
		}
		(void)vmm_host_exit(hv, &ve);
	}
	vmm_host_vcpu_free(hv);
 done:
	vmm_vcpu_destroy(vcpu);
	vmm_vm_destroy(vm);
	return (0);
}
