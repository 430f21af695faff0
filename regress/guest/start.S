/*
 * start.S: the test guest's entry and everything that must be assembly:
 * the PVH ELF note, the 32-bit PVH entry, the switch to long mode with
 * page tables built at assembly time (identity map of the first 4 GiB in
 * 2 MiB pages, no runtime loop: every instruction at CPL 0 is emulated
 * on the development host), the GDT, the interrupt vector stubs and the
 * triple fault used as the last way out.  It must never rely on the boot
 * loader for anything but what the PVH ABI promises: 32-bit protected
 * mode, paging off, flat segments, %ebx = struct hvm_start_info.
 */

#define XEN_ELFNOTE_PHYS32_ENTRY	18

#define CR0_PE		0x00000001
#define CR0_PG		0x80000000
#define CR4_PAE		0x00000020
#define MSR_EFER	0xc0000080
#define EFER_LME	0x00000100

#define PG_P		0x001
#define PG_RW		0x002
#define PG_PWT		0x008
#define PG_PCD		0x010
#define PG_PS		0x080

#define SEL_CODE	0x08
#define SEL_DATA	0x10
#define SEL_CODE32	0x18

#define AP_TRAMP	0x8000	/* smp.c copies ap_tramp here; SIPI vector 8 */

#define STACK_SIZE	16384

/*
 * The PVH entry note.  The descriptor is 8 bytes, as Linux gives it:
 * QEMU reads a 64-bit value from the note of an ELF64 kernel.  Keep the
 * section 4-byte aligned, loaders find the descriptor at offset 16.
 */
	.section .note.Xen, "a", @note
	.balign 4
	.long	2f - 1f			/* namesz */
	.long	4f - 3f			/* descsz */
	.long	XEN_ELFNOTE_PHYS32_ENTRY
1:	.asciz	"Xen"
2:	.balign	4
3:	.quad	pvh_start
4:	.balign	4

	.section .text.entry, "ax"
	.code32
	.globl	pvh_start
pvh_start:
	cli
	cld
	movl	%ebx, start_info_pa
	lgdt	gdt_desc
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$pml4, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$(CR0_PG | CR0_PE), %eax
	movl	%eax, %cr0
	ljmp	$SEL_CODE, $long_start

	.code64
long_start:
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movq	$stack_top, %rsp
	/* The ELF loader should zero .bss; do not depend on it. */
	movl	$__bss_start, %edi
	movl	$__bss_end, %ecx
	subl	%edi, %ecx
	shrl	$3, %ecx
	xorl	%eax, %eax
	rep stosq
	movl	start_info_pa, %edi
	call	gmain
1:	cli
	hlt
	jmp	1b

/*
 * With a zero-limit IDT every exception escalates to a triple fault:
 * QEMU -no-reboot exits, vmd resets the VM.  ud2, not int3: the host's
 * CPL 0 emulator cannot do int3.
 */
	.globl	triple_fault
triple_fault:
	cli
	lidt	zero_idt
	ud2
	jmp	triple_fault

/*
 * An application processor arrives here in long mode from ap_tramp with
 * the BSP's page tables; smp.c set ap_stack for it before the SIPI.
 */
	.globl	ap_long
ap_long:
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movq	ap_stack, %rsp
	call	ap_main
1:	cli
	hlt
	jmp	1b

/*
 * Vector stubs, 16 bytes apart so the IDT is filled by arithmetic.  Each
 * pushes a zero where the CPU pushes no error code, then its vector.
 */
	.balign	16
	.globl	vector_stubs
vector_stubs:
	.set	vec, 0
	.rept	0x80
	.balign	16
	.if	vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || \
		vec == 21 || vec == 29 || vec == 30
	.else
	pushq	$0
	.endif
	pushq	$vec
	jmp	trap_common
	.set	vec, vec + 1
	.endr

/* Builds struct trapframe (guest.h); C saves the callee-saved registers. */
trap_common:
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	movq	%rsp, %rdi
	call	trap
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rax
	addq	$16, %rsp
	iretq

	.section .rodata
	.balign	8
gdt:
	.quad	0
	.quad	0x00af9b000000ffff	/* SEL_CODE: 64-bit, DPL 0, accessed */
	.quad	0x00cf93000000ffff	/* SEL_DATA: flat, writable, accessed */
	.quad	0x00cf9b000000ffff	/* SEL_CODE32: for the AP trampoline */
gdt_end:
	.balign	8
gdt_desc:
	.word	gdt_end - gdt - 1
	.quad	gdt
	.balign	8
zero_idt:
	.word	0
	.quad	0

/*
 * The AP trampoline, copied to AP_TRAMP below 1 MiB: a SIPI starts the
 * AP in real mode at AP_TRAMP (CS = AP_TRAMP >> 4, IP 0).  It loads the
 * GDT, goes through protected mode to long mode with the BSP's page
 * tables and jumps to ap_long.  Only CS-relative and absolute addresses
 * inside it, so it runs wherever AP_TRAMP says.
 */
	.globl	ap_tramp, ap_tramp_end
	.balign	16
	.code16
ap_tramp:
	cli
	cld
	movw	%cs, %ax
	movw	%ax, %ds
	lgdtl	ap_gdt_desc - ap_tramp
	movl	%cr0, %eax
	orl	$CR0_PE, %eax
	movl	%eax, %cr0
	ljmpl	$SEL_CODE32, $(AP_TRAMP + ap_pm32 - ap_tramp)
	.code32
ap_pm32:
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$pml4, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$(CR0_PG | CR0_PE), %eax
	movl	%eax, %cr0
	ljmp	$SEL_CODE, $ap_long
	.balign	8
ap_gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt
ap_tramp_end:
	.code64

	.data
	.balign	4
start_info_pa:
	.long	0
	.balign	8
	.globl	ap_stack
ap_stack:
	.quad	0

/*
 * Page tables: PML4 -> one PDPT -> four page directories of 2 MiB pages
 * covering 0-4 GiB.  The MMIO hole from 3 GiB up (LAPIC, IOAPIC, PCI
 * BARs) is mapped uncached.
 */
	.section .data.pagetables, "aw"
	.balign	4096
pml4:
	.quad	pdpt + (PG_P | PG_RW)
	.fill	511, 8, 0
pdpt:
	.quad	pd + 0x0000 + (PG_P | PG_RW)
	.quad	pd + 0x1000 + (PG_P | PG_RW)
	.quad	pd + 0x2000 + (PG_P | PG_RW)
	.quad	pd + 0x3000 + (PG_P | PG_RW)
	.fill	508, 8, 0
pd:
	.set	i, 0
	.rept	2048
	.if	i < 1536
	.quad	(i << 21) + (PG_P | PG_RW | PG_PS)
	.else
	.quad	(i << 21) + (PG_P | PG_RW | PG_PS | PG_PWT | PG_PCD)
	.endif
	.set	i, i + 1
	.endr

	.section .stack, "aw", @nobits
	.balign	16
	.space	STACK_SIZE
stack_top:

	.section .note.GNU-stack, "", @progbits
