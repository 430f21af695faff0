/*
 * host_fuzz.c: libFuzzer target for the host-quirk layer (vmm_host.c)
 * over the vmm_null backend.  Everything vmm_host.c reads comes from the
 * guest: instruction bytes, registers, the IDT, the #PF frame, the MSR
 * values written.  An input is a vCPU state, 16 KiB of guest memory
 * (mapped at two linear addresses, one of them user) and a list of
 * exits (emulation failures, MSR writes, debug exits, others).  The
 * layer must never crash, read or write outside the guest memory it was
 * given (ASan), or hit undefined behaviour (UBSan); whether it completes
 * an exit does not matter here.  Build: make fuzz.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dev/vmm/vmm.h"

#define MEM_SIZE	0x4000
#define KERNEL_LA	0xffffffff81000000ULL
#define USER_LA		0x0000000000400000ULL

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct input {
	const uint8_t	*p;
	size_t		 left;
};

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
	struct vmm_regs		 r;
	struct vmm_sregs	 s;
	struct vmm_fpu		 f;
	struct vmm_exit		 ve;
	size_t			 n;
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
	n = in.left < sizeof(mem) / 4 ? in.left : sizeof(mem) / 4;
	memcpy(mem, in.p, n);
	memcpy(mem + MEM_SIZE - n, in.p, n);	/* IDT, frames at the end */
	vmm_null_memory(vm, mem, sizeof(mem));
	vmm_null_map(vcpu, KERNEL_LA, 0, MEM_SIZE, take(&in, 1) & 1, 0);
	vmm_null_map(vcpu, USER_LA, 0, MEM_SIZE, 1, 1);

	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	n = in.left < sizeof(r) ? in.left : sizeof(r);
	memcpy(&r, in.p, n);
	in.p += n / 2;
	in.left -= n / 2;
	r.rip = address(&in);
	r.rsp = address(&in);
	r.rflags = take(&in, 4);
	s.cr0 = take(&in, 4);
	s.cr4 = take(&in, 4);
	s.efer = take(&in, 2);
	s.cr2 = address(&in);
	s.cs.l = take(&in, 1) & 1;
	s.cs.db = take(&in, 1) & 1;
	s.cs.dpl = take(&in, 1) & 3;
	s.cs.selector = take(&in, 2);
	s.fs.base = address(&in);
	s.gs.base = address(&in);
	s.idt.base = address(&in);
	s.idt.limit = take(&in, 2);
	vmm_set_regs(vcpu, &r);
	vmm_set_sregs(vcpu, &s);
	memset(&f, 0, sizeof(f));
	f.fsw = take(&in, 2);
	f.mxcsr = take(&in, 4);
	vmm_set_fpu(vcpu, &f);

	if ((hv = vmm_host_vcpu_init(vcpu)) != NULL) {
		while (in.left > 0) {
			memset(&ve, 0, sizeof(ve));
			switch (take(&in, 1) % 5) {
			case 0:
				ve.reason = VMM_EXIT_INTERNAL_ERROR;
				ve.internal.suberror = VMM_INTERNAL_EMULATION;
				break;
			case 1:
				ve.reason = VMM_EXIT_WRMSR;
				ve.msr.index = msrs[take(&in, 1) % 4];
				ve.msr.data = take(&in, 1) & 1 ?
				    address(&in) : take(&in, 8);
				ve.msr.error = &err;
				break;
			case 2:
				ve.reason = VMM_EXIT_DEBUG;
				ve.debug.pc = address(&in);
				ve.debug.dr6 = take(&in, 2);
				break;
			case 3:
				/* the state changes under the layer */
				r.rip = address(&in);
				r.rsp = address(&in);
				r.r11 = take(&in, 4);
				vmm_set_regs(vcpu, &r);
				continue;
			default:
				ve.reason = VMM_EXIT_IO;
				break;
			}
			(void)vmm_host_exit(hv, &ve);
		}
		vmm_host_vcpu_free(hv);
	}
	vmm_vcpu_destroy(vcpu);
	vmm_vm_destroy(vm);
	return (0);
}
