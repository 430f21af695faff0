/*
 * usermode.S: the assembly of the `user` check (user.c): entering CPL 3
 * with iretq and coming back, the syscall entry point (swapgs, stack
 * switch through %gs, sysretq, as Linux's entry_SYSCALL_64 does it) and
 * the user program itself, which lives in pages of its own so that it
 * can be mapped at a user address.  The user program must stay position
 * independent and touch nothing but its arguments and its stack.
 */

#define SYS_ADD		1
#define SYS_EXIT	60

#define PERCPU_KSTACK	0	/* struct user_percpu in user.c */
#define PERCPU_USTACK	8

#define USER_SS		0x23
#define USER_CS		0x2b
#define RFLAGS_IF	0x200
#define RFLAGS_DF	0x400

	.text
/*
 * uint64_t user_enter(entry, user_rsp, a0, a1, a2): runs entry at CPL 3
 * with a0-a2 in %rdi, %rsi, %rdx; returns what the user passed to
 * SYS_EXIT (user_leave() below).  The kernel GS base must be in
 * MSR_GS_BASE: swapgs hands the user its own.
 */
	.globl	user_enter
user_enter:
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, user_kctx(%rip)
	pushq	$USER_SS
	pushq	%rsi
	pushq	$(RFLAGS_IF | 2)
	pushq	$USER_CS
	pushq	%rdi
	movq	%rdx, %rdi
	movq	%rcx, %rsi
	movq	%r8, %rdx
	xorl	%eax, %eax
	xorl	%ecx, %ecx
	xorl	%r8d, %r8d
	xorl	%r9d, %r9d
	xorl	%r10d, %r10d
	xorl	%r11d, %r11d
	xorl	%ebx, %ebx
	xorl	%ebp, %ebp
	swapgs
	iretq

/* At CPL 0 from the syscall path: back to user_enter's caller. */
	.globl	user_leave
user_leave:
	movq	user_kctx(%rip), %rsp
	movq	%rdi, %rax
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	ret

/*
 * LSTAR.  Builds struct sysframe (user.c) on the per-CPU kernel stack
 * and calls user_syscall(); every register but %rax comes back as the
 * user left it, %rcx and %r11 as SYSCALL set them.
 */
	.globl	user_syscall_entry
user_syscall_entry:
	swapgs
	movq	%rsp, %gs:PERCPU_USTACK
	movq	%gs:PERCPU_KSTACK, %rsp
	pushq	%gs:PERCPU_USTACK
	pushq	%r11
	pushq	%rcx
	pushq	%r9
	pushq	%r8
	pushq	%r10
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rax
	movq	%rsp, %rdi
	call	user_syscall
	addq	$8, %rsp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%r10
	popq	%r8
	popq	%r9
	popq	%rcx
	popq	%r11
	popq	%rsp
	swapgs
	sysretq

/*
 * The user program, at CPL 3: user_code(n, fault_base, nfault).
 * First it writes to nfault pages that are not mapped yet (each one a
 * page fault the kernel resolves), then it makes n SYS_ADD calls, each
 * checked: the sum, every register SYSCALL and the kernel must keep,
 * and DF, which the user sets on every other call (SFMASK clears it in
 * the kernel, SYSRET brings it back).  The kernel checks RCX (the user
 * passes the address it expects in %r9) and R11.  Finally SYS_EXIT with
 * the TSC cycles the calls took and the number of failed checks.
 */
	.section .text.user, "ax"
	.balign	4096
	.globl	user_code
user_code:
	movq	%rdi, %r12		/* n */
	movq	%rsi, %r13		/* fault_base */
	movq	%rdx, %r14		/* nfault */
	xorl	%ebp, %ebp		/* failed checks */
	xorl	%ebx, %ebx
1:	cmpq	%r14, %rbx
	jae	2f
	movq	%rbx, %rax
	shlq	$12, %rax
	addq	%r13, %rax
	movq	%rbx, (%rax)		/* faults once, then sticks */
	cmpq	%rbx, (%rax)
	je	3f
	incq	%rbp
3:	incq	%rbx
	jmp	1b

2:	rdtsc
	shlq	$32, %rdx
	orq	%rax, %rdx
	movq	%rdx, %r15		/* start */
	xorl	%ebx, %ebx
4:	cmpq	%r12, %rbx
	jae	8f
	movq	%rbx, %r8
	andq	$1, %r8			/* DF this time */
	jz	5f
	std
5:	movl	$SYS_ADD, %eax
	movq	%rbx, %rdi
	movq	$0x1234, %rsi
	movq	$0x5678, %rdx
	movq	$0x9abc, %r10
	leaq	6f(%rip), %r9		/* where SYSRET must return */
	syscall
6:	pushfq
	popq	%rcx
	cld
	andq	$RFLAGS_DF, %rcx
	shrq	$10, %rcx
	cmpq	%r8, %rcx		/* DF came back */
	jne	7f
	leaq	0x1234(%rbx), %rcx
	cmpq	%rcx, %rax		/* the sum */
	jne	7f
	cmpq	%rbx, %rdi
	jne	7f
	cmpq	$0x1234, %rsi
	jne	7f
	cmpq	$0x5678, %rdx
	jne	7f
	cmpq	$0x9abc, %r10
	jne	7f
	leaq	6b(%rip), %rcx
	cmpq	%rcx, %r9
	jne	7f
	movq	%rbx, %rcx
	andq	$1, %rcx
	cmpq	%rcx, %r8
	je	9f
7:	incq	%rbp
9:	incq	%rbx
	jmp	4b

8:	rdtsc
	shlq	$32, %rdx
	orq	%rax, %rdx
	subq	%r15, %rdx
	movq	%rdx, %rdi		/* cycles */
	movq	%rbp, %rsi		/* failed checks */
	movl	$SYS_EXIT, %eax
	syscall
	ud2
	.balign	4096
	.globl	user_code_end
user_code_end:

	.section .note.GNU-stack, "", @progbits
