/*
 * bzstart.S: the bzImage variant of the test guest: its setup header
 * (the real-mode sectors a boot loader reads, never run) and its 64-bit
 * entry at 0x200 into the protected-mode part, where the Linux 64-bit
 * boot protocol enters with paging on, flat __BOOT_CS/__BOOT_DS and %rsi
 * at the zero page.  The entry records that state in entry_state, then
 * drops to compatibility mode with a GDT of its own and goes on through
 * start.S's pvh_start (which builds the guest's own GDT and page tables)
 * with no start info.  It must use no stack but its own.
 */

#include "variant.h"

#define MSR_EFER	0xc0000080
#define LOAD_ADDR	0x100000

/*
 * The setup sectors: only the header matters to a 64-bit loader
 * (Documentation/arch/x86/boot.rst); bz.ld places this before the
 * kernel image and defines the sizes.
 */
	.section .bzsetup, "a"
	.code16
bz_setup:
	.org	0x1f1
	.byte	4			/* setup_sects */
	.word	0			/* root_flags */
	.long	_bz_syssize		/* 16-byte units of the kernel */
	.word	0			/* ram_size */
	.word	0xffff			/* vid_mode: normal */
	.word	0			/* root_dev */
	.word	0xaa55			/* boot_flag */
	.byte	0xeb, hdr_end - 0f	/* jump: the header ends there */
0:	.ascii	"HdrS"
	.word	0x020f			/* protocol 2.15 */
	.long	0			/* realmode_swtch */
	.word	0			/* start_sys_seg */
	.word	0			/* kernel_version */
	.byte	0			/* type_of_loader */
	.byte	0x01			/* loadflags: LOADED_HIGH */
	.word	0			/* setup_move_size */
	.long	LOAD_ADDR		/* code32_start */
	.long	0, 0			/* ramdisk_image, ramdisk_size */
	.long	0			/* bootsect_kludge */
	.word	0			/* heap_end_ptr */
	.byte	0, 0			/* ext_loader_ver, ext_loader_type */
	.long	0			/* cmd_line_ptr */
	.long	0x7fffffff		/* initrd_addr_max */
	.long	0x1000			/* kernel_alignment */
	.byte	0			/* relocatable_kernel: no */
	.byte	12			/* min_alignment */
	.word	0x0001			/* xloadflags: XLF_KERNEL_64 */
	.long	2047			/* cmdline_size */
	.long	0			/* hardware_subarch */
	.quad	0			/* hardware_subarch_data */
	.long	0, 0			/* payload_offset, payload_length */
	.quad	0			/* setup_data */
	.quad	LOAD_ADDR		/* pref_address */
	.long	_bz_init_size		/* init_size */
	.long	0			/* handover_offset */
	.long	0			/* kernel_info_offset */
hdr_end:
	.org	0xa00			/* (setup_sects + 1) * 512 */

/* 0x100000: where a 32-bit loader would enter; never used here. */
	.section .text.bz32, "ax"
	.code32
bz_start32:
	ud2
	.org	0x200

	.code64
	.globl	bz_start64
bz_start64:
	cli
	movq	%rsi, entry_state + ES_BP
	movq	%rsp, entry_state + ES_RSP
	movq	$bz_stack_top, %rsp
	pushfq
	popq	%rax
	movq	%rax, entry_state + ES_RFLAGS
	movq	%cr0, %rax
	movq	%rax, entry_state + ES_CR0
	movq	%cr3, %rax
	movq	%rax, entry_state + ES_CR3
	movq	%cr4, %rax
	movq	%rax, entry_state + ES_CR4
	movl	$MSR_EFER, %ecx
	rdmsr
	movl	%eax, entry_state + ES_EFER
	movl	%edx, entry_state + ES_EFER + 4
	movw	%cs, entry_state + ES_CS
	movw	%ds, entry_state + ES_DS
	movw	%es, entry_state + ES_ES
	movw	%ss, entry_state + ES_SS
	sgdt	entry_state + ES_GDTR
	/* to compatibility mode, then on as a PVH boot without start info */
	lgdt	bz_gdt_desc
	pushq	$0x08
	pushq	$bz_compat
	lretq
	.code32
bz_compat:
	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	xorl	%ebx, %ebx
	jmp	pvh_start

	.section .rodata
	.balign	8
bz_gdt:
	.quad	0
	.quad	0x00cf9b000000ffff	/* 0x08: flat 32-bit code */
	.quad	0x00cf93000000ffff	/* 0x10: flat data */
bz_gdt_end:
bz_gdt_desc:
	.word	bz_gdt_end - bz_gdt - 1
	.quad	bz_gdt

	.data
	.balign	16
	.globl	entry_state
entry_state:
	.fill	ES_SIZE, 1, 0
	.balign	16
	.fill	256, 1, 0
bz_stack_top:

	.section .note.GNU-stack, "", @progbits
