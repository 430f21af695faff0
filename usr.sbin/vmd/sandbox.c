/*
 * sandbox.c: the pledge/unveil of vmd on Linux.  One policy per process
 * role, each a seccomp-bpf allow-list (libseccomp) plus a Landlock
 * ruleset for the filesystem, both under no_new_privs.  Every group of
 * system calls sits under the reason it is needed.  Filters and Landlock
 * domains are inherited across fork and exec, so a role that spawns
 * others (vmm) must allow what its children need to start; the child then
 * narrows it with its own layer.  Failing to enter a sandbox is fatal:
 * a process must never run unconfined by accident.
 */

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/landlock.h>

#include <sys/auxv.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "vmd.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER	1
#endif
#endif

#define SC(name)	SCMP_SYS(name)

static int	 sandbox_exe_fd = -1;	/* what vmm may execute */

/*
 * Landlock's ruleset attributes as of ABI 6, which added scopes; the
 * headers of older systems lack the last two fields.  The kernel takes
 * the larger struct as long as what it does not know is zero.
 */
struct sandbox_ruleset_attr {
	uint64_t	 handled_access_fs;
	uint64_t	 handled_access_net;	/* ABI 4 */
	uint64_t	 scoped;		/* ABI 6 */
};
#define SANDBOX_SCOPE_ABSTRACT_UNIX	(1ULL << 0)
#define SANDBOX_SCOPE_SIGNAL		(1ULL << 1)

/*
 * Every sandboxed role: memory, the event loop over sockets and pipes
 * (log lines go to the parent over one), time, signal handlers and
 * threads' housekeeping, and exiting.  Sending signals is not here: see
 * sc_signal_self and the vmm list.
 */
static const int sc_base[] = {
	SC(read), SC(write), SC(readv), SC(writev), SC(pread64), SC(close),
	SC(fstat), SC(newfstatat), SC(lseek), SC(fcntl),
	SC(mmap), SC(munmap), SC(mprotect), SC(mremap), SC(madvise), SC(brk),
	SC(futex), SC(set_robust_list), SC(rseq), SC(sched_yield),
	SC(rt_sigaction), SC(rt_sigprocmask), SC(rt_sigreturn),
	SC(sigaltstack), SC(restart_syscall),
	SC(getpid), SC(gettid), SC(getuid), SC(geteuid), SC(getgid),
	SC(getegid), SC(exit), SC(exit_group),
	SC(epoll_create1), SC(epoll_ctl), SC(epoll_wait), SC(epoll_pwait),
	SC(poll), SC(ppoll), SC(pipe2), SC(eventfd2),
	SC(recvmsg), SC(sendmsg), SC(sendto), SC(recvfrom),
	SC(clock_gettime), SC(gettimeofday), SC(nanosleep),
	SC(clock_nanosleep), SC(getrandom),
};

/*
 * vm: KVM is driven with ioctls on descriptors vmm passed us (the
 * process can open nothing new); guest RAM is a memfd; vCPUs are threads.
 */
static const int sc_vm[] = {
	SC(ioctl), SC(memfd_create), SC(ftruncate),
};

/* control: vmctl connections and their SO_PEERCRED. */
static const int sc_control[] = {
	SC(accept4), SC(accept), SC(getsockopt), SC(shutdown),
};

/*
 * vmm: fork and fexecve vm processes, pass them descriptors, reap and
 * signal them.  A new vm process then runs the dynamic loader and enters
 * its own sandbox, all under this filter: hence open/access/arch_prctl
 * and the seccomp/landlock/prctl calls.
 */
static const int sc_vmm[] = {
	SC(clone), SC(execve), SC(execveat), SC(wait4), SC(waitid),
	SC(kill), SC(tgkill), SC(socketpair), SC(dup), SC(dup2), SC(dup3),
	SC(prctl),
	SC(setsid), SC(close_range),
	SC(openat), SC(access), SC(faccessat), SC(faccessat2), SC(readlink),
	SC(readlinkat), SC(arch_prctl), SC(set_tid_address), SC(prlimit64),
	SC(statfs), SC(fstatfs), SC(uname), SC(getppid),
	SC(seccomp), SC(landlock_create_ruleset), SC(landlock_add_rule),
	SC(landlock_restrict_self),
	/* what the vm processes need, since they inherit this filter */
	SC(ioctl), SC(memfd_create), SC(ftruncate),
};

/*
 * Sanitizer runtimes read /proc/self/maps, query limits and CPUs, and
 * LeakSanitizer stops the world with a cloned tracer.  Only in
 * SANITIZE=1 builds.
 */
static const int sc_sanitizer[] = {
	SC(open), SC(openat), SC(readlink), SC(readlinkat), SC(prctl),
	SC(stat), SC(lstat), SC(access), SC(getdents), SC(getdents64), SC(pipe),
	SC(sched_getaffinity), SC(prlimit64), SC(getrlimit), SC(clone),
	SC(ptrace), SC(wait4), SC(mincore), SC(getppid), SC(uname),
	SC(statfs), SC(fstatfs), SC(unlink),
};

/*
 * The parent is root and opens what the VMs need; it gets a deny-list of
 * what vmd never does, so a compromise cannot load code into the kernel
 * or take over other processes.
 */
static const int sc_parent_deny[] = {
	SC(init_module), SC(finit_module), SC(delete_module),
	SC(kexec_load), SC(kexec_file_load), SC(reboot), SC(swapon),
	SC(swapoff), SC(mount), SC(umount2), SC(pivot_root), SC(ptrace),
	SC(process_vm_readv), SC(process_vm_writev), SC(bpf),
	SC(perf_event_open), SC(acct), SC(settimeofday), SC(clock_settime),
	SC(adjtimex), SC(iopl), SC(ioperm),
};

static void
sc_allow(scmp_filter_ctx sc, const int *calls, size_t n, const char *group)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (calls[i] < 0)	/* not on this architecture */
			continue;
		if (seccomp_rule_add(sc, SCMP_ACT_ALLOW, calls[i], 0) != 0)
			fatalx("seccomp %s rule %zu", group, i);
	}
}

#define ALLOW(sc, list)	sc_allow(sc, list, sizeof(list) / sizeof(list[0]), \
			    #list)

/*
 * vm and control send signals only to themselves: glibc's raise and
 * pthread_kill (the vCPU kick) use tgkill on our own tgid.  Anything else
 * fails with EPERM, so that a guest that takes over its vm process cannot
 * end other VMs, vmm or control.  Landlock's signal scope says the same
 * where the kernel has it; this is the rule for kernels that do not.
 */
static void
sc_signal_self(scmp_filter_ctx sc)
{
	scmp_datum_t	 me = (scmp_datum_t)getpid();

	if (seccomp_rule_add(sc, SCMP_ACT_ALLOW, SC(tgkill), 1,
	    SCMP_A0(SCMP_CMP_EQ, me)) != 0 ||
	    seccomp_rule_add(sc, SCMP_ACT_ERRNO(EPERM), SC(tgkill), 1,
	    SCMP_A0(SCMP_CMP_NE, me)) != 0 ||
	    seccomp_rule_add(sc, SCMP_ACT_ALLOW, SC(kill), 1,
	    SCMP_A0(SCMP_CMP_EQ, me)) != 0 ||
	    seccomp_rule_add(sc, SCMP_ACT_ERRNO(EPERM), SC(kill), 1,
	    SCMP_A0(SCMP_CMP_NE, me)) != 0)
		fatalx("seccomp signal rules");
}

static void
sc_threads_only(scmp_filter_ctx sc)
{
	/* new threads yes, new processes no */
	if (seccomp_rule_add(sc, SCMP_ACT_ALLOW, SC(clone), 1,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)) != 0)
		fatalx("seccomp clone rule");
}

static void
seccomp_enter(enum sandbox_role role)
{
	scmp_filter_ctx	 sc;
	size_t		 i;

	if (role == SANDBOX_PARENT) {
		if ((sc = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
			fatalx("seccomp_init");
		for (i = 0; i < sizeof(sc_parent_deny) /
		    sizeof(sc_parent_deny[0]); i++)
			if (seccomp_rule_add(sc, SCMP_ACT_ERRNO(EPERM),
			    sc_parent_deny[i], 0) != 0)
				fatalx("seccomp parent rule");
	} else {
		if ((sc = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
			fatalx("seccomp_init");
		ALLOW(sc, sc_base);
		/* glibc falls back to clone, whose flags we can check */
		if (seccomp_rule_add(sc, SCMP_ACT_ERRNO(ENOSYS), SC(clone3),
		    0) != 0)
			fatalx("seccomp clone3 rule");
		switch (role) {
		case SANDBOX_VM:
			ALLOW(sc, sc_vm);
			break;
		case SANDBOX_CONTROL:
			ALLOW(sc, sc_control);
			break;
		case SANDBOX_VMM:
			ALLOW(sc, sc_vmm);
			break;
		default:
			break;
		}
#ifdef SANDBOX_SANITIZER
		ALLOW(sc, sc_sanitizer);
#else
		(void)sc_sanitizer;
#endif
		if (role != SANDBOX_VMM) {
			sc_threads_only(sc);
			sc_signal_self(sc);
		}
	}
	if (seccomp_load(sc) != 0)
		fatalx("seccomp_load");
	seccomp_release(sc);
}

static int
landlock_abi(void)
{
	return (syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION));
}

/* All filesystem rights this kernel's Landlock knows. */
static uint64_t
landlock_fs_rights(int abi)
{
	uint64_t	 r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;

	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
	return (r);
}

static void
landlock_allow_fd(int ruleset, int fd, uint64_t rights, const char *what)
{
	struct landlock_path_beneath_attr	 pb;
	struct stat				 st;

	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		rights &= LANDLOCK_ACCESS_FS_EXECUTE |
		    LANDLOCK_ACCESS_FS_READ_FILE;
	memset(&pb, 0, sizeof(pb));
	pb.parent_fd = fd;
	pb.allowed_access = rights;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH,
	    &pb, 0) == -1)
		fatal("landlock rule for %s", what);
}

static void
landlock_allow(int ruleset, const char *path, uint64_t rights)
{
	int	 fd;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1)
		return;		/* absent on this system: nothing to allow */
	landlock_allow_fd(ruleset, fd, rights, path);
	close(fd);
}

/* The dynamic loader the kernel runs for vmd: our PT_INTERP. */
static const char *
sandbox_interp(void)
{
	const Elf64_Phdr	*ph = (const Elf64_Phdr *)getauxval(AT_PHDR);
	unsigned long		 n = getauxval(AT_PHNUM), i;
	uintptr_t		 bias = 0;

	if (ph == NULL)
		return (NULL);
	for (i = 0; i < n; i++)
		if (ph[i].p_type == PT_PHDR)
			bias = (uintptr_t)ph - ph[i].p_vaddr;
	for (i = 0; i < n; i++)
		if (ph[i].p_type == PT_INTERP)
			return ((const char *)(bias + ph[i].p_vaddr));
	return (NULL);
}

/* Every shared object loaded now: a new vm process loads the same. */
static int
sandbox_allow_lib(struct dl_phdr_info *info, size_t size, void *arg)
{
	int	 ruleset = *(int *)arg;

	if (info->dlpi_name != NULL && info->dlpi_name[0] == '/')
		landlock_allow(ruleset, info->dlpi_name,
		    LANDLOCK_ACCESS_FS_READ_FILE);
	return (0);
}

/*
 * vm and control may touch no file at all.  vmm may execute vmd's binary
 * (the descriptor it was given, wherever the file lies) and the dynamic
 * loader the kernel runs for it, and read the shared objects vmd uses
 * and the loader's cache: nothing else, not even other programs by way
 * of the loader.
 *
 * Where the kernel has Landlock scopes (ABI 6), each role may signal, and
 * connect to abstract sockets of, only processes in its own domain and
 * those nested in it: a vm process only itself, vmm its vm processes
 * (which add their own layer under vmm's), control nobody.  A guest that
 * takes over its vm process cannot end other VMs, vmm or control.
 */
static void
landlock_enter(enum sandbox_role role)
{
	struct sandbox_ruleset_attr	 attr;
	uint64_t			 rx;
	const char			*interp;
	int				 abi, ruleset;

	if ((abi = landlock_abi()) < 1) {
		log_warnx("Landlock is not available on this kernel; "
		    "running without filesystem confinement");
		return;
	}
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = landlock_fs_rights(abi);
	if (abi >= 6)
		attr.scoped = SANDBOX_SCOPE_SIGNAL |
		    SANDBOX_SCOPE_ABSTRACT_UNIX;
	ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset == -1)
		fatal("landlock_create_ruleset");
	rx = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE;
	if (role == SANDBOX_VMM) {
		if (sandbox_exe_fd == -1)
			fatalx("vmm: no binary to execute");
		landlock_allow_fd(ruleset, sandbox_exe_fd, rx, "vmd");
		if ((interp = sandbox_interp()) != NULL)
			landlock_allow(ruleset, interp, rx);
		dl_iterate_phdr(sandbox_allow_lib, &ruleset);
		landlock_allow(ruleset, "/etc/ld.so.cache",
		    LANDLOCK_ACCESS_FS_READ_FILE);
	}
#ifdef SANDBOX_SANITIZER
	landlock_allow(ruleset, "/proc", LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR);
#endif
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) == -1)
		fatal("landlock_restrict_self");
	close(ruleset);
}

/* vmm: the binary it starts vm processes from, by descriptor. */
void
sandbox_exe(int fd)
{
	sandbox_exe_fd = fd;
}

/*
 * The two halves of a sandbox, apart for regress/unit/sandbox_test.c,
 * which checks that each holds alone (Landlock may be missing, or too
 * old for scopes).  Both need no_new_privs first.
 */
void
sandbox_landlock(enum sandbox_role role)
{
	if (role != SANDBOX_PARENT)
		landlock_enter(role);
}

void
sandbox_seccomp(enum sandbox_role role)
{
	seccomp_enter(role);
}

void
sandbox_enter(enum sandbox_role role)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("no_new_privs");
	sandbox_landlock(role);
	sandbox_seccomp(role);
}
