/*
 * vmm_host.c: quirks of the hosts we run on.  On a PVM-style nested KVM,
 * guest code at CPL 0 is emulated and the emulator gives up on some
 * instructions (KVM_EXIT_INTERNAL_ERROR, emulation failure, RIP at the
 * instruction).  The ones that can be finished exactly from user space
 * are finished here, from an explicit allow-list; everything else is
 * returned to the caller, which logs it and ends that VM.  This file must
 * never guess: an instruction it is not sure of is not completed.
 */

#include <stdint.h>
#include <string.h>

#include "dev/vmm/vmm.h"

#define INSN_INT3		0xcc
#define VECTOR_BP		3

/* int3: advance past it and raise #BP, as the CPU would. */
static int
complete_int3(struct vmm_vcpu *vcpu)
{
	struct vmm_regs	 r;

	if (vmm_get_regs(vcpu, &r) == -1)
		return (0);
	r.rip += 1;
	if (vmm_set_regs(vcpu, &r) == -1)
		return (0);
	return (vmm_inject_exception(vcpu, VECTOR_BP) == 0);
}

/*
 * Returns 1 when the failed instruction was completed and the vCPU can
 * run on, 0 when the exit must go to the caller.
 */
int
vmm_host_complete(struct vmm_vcpu *vcpu, struct vmm_exit *ve)
{
	struct vmm_sregs	 s;
	uint8_t			 insn[1];

	if (ve->internal.suberror != VMM_INTERNAL_EMULATION)
		return (0);
	if (vmm_get_sregs(vcpu, &s) == -1 || s.cs.dpl != 0)
		return (0);
	if (vmm_read_insn(vcpu, insn, sizeof(insn)) != 1)
		return (0);
	switch (insn[0]) {
	case INSN_INT3:
		return (complete_int3(vcpu));
	default:
		return (0);
	}
}
