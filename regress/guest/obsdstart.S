/*
 * obsdstart.S: the OpenBSD variant of the test guest: the OpenBSD ident
 * note that makes vmd treat it as an OpenBSD kernel, a random data
 * section the loader must fill, and the entry where vmd starts an
 * OpenBSD kernel: compatibility mode (long mode on, a 32-bit code
 * segment), %esp at the boot loader's stack.  The entry records that
 * state and the stack words in entry_state and goes on through start.S's
 * pvh_start with no start info.  It writes nothing but entry_state.
 */

#include "variant.h"

#define MSR_EFER	0xc0000080

	.section .note.openbsd.ident, "a", @note
	.balign	4
	.long	8			/* namesz */
	.long	4			/* descsz */
	.long	1			/* NT_OPENBSD_IDENT */
	.asciz	"OpenBSD"
	.long	0

	.section .openbsd.randomdata, "aw"
	.balign	8
	.globl	obsd_random
obsd_random:
	.fill	64, 1, 0

	.section .text.obsdentry, "ax"
	.code32
	.globl	obsd_start
obsd_start:
	cli
	movl	%esp, entry_state + ES_RSP
	movl	%esp, %esi
	movl	$entry_state + ES_STACK, %edi
	movl	$9, %ecx
	cld
	rep movsl
	pushfl
	popl	%eax
	movl	%eax, entry_state + ES_RFLAGS
	movl	%cr0, %eax
	movl	%eax, entry_state + ES_CR0
	movl	%cr3, %eax
	movl	%eax, entry_state + ES_CR3
	movl	%cr4, %eax
	movl	%eax, entry_state + ES_CR4
	movl	$MSR_EFER, %ecx
	rdmsr
	movl	%eax, entry_state + ES_EFER
	movl	%edx, entry_state + ES_EFER + 4
	movw	%cs, entry_state + ES_CS
	movw	%ds, entry_state + ES_DS
	movw	%es, entry_state + ES_ES
	movw	%ss, entry_state + ES_SS
	sgdt	entry_state + ES_GDTR
	xorl	%ebx, %ebx
	jmp	pvh_start

	.data
	.balign	16
	.globl	entry_state
entry_state:
	.fill	ES_SIZE, 1, 0

	.section .note.GNU-stack, "", @progbits
