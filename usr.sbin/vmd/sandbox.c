/*
 * sandbox.c: the pledge/unveil of vmd on Linux.  One policy per process
 * role, each a seccomp-bpf allow-list (libseccomp) plus a Landlock
 * ruleset for the filesystem and signals (the parent, which must open
 * anything a configuration names, instead keeps only the capabilities it
 * needs), all under no_new_privs.  Every group of
 * system calls sits under the reason it is needed.  Filters and Landlock
 * domains are inherited across fork and exec, so a role that spawns
 * others (vmm) must allow what its children need to start; the child then
 * narrows it with its own layer.  Failing to enter a sandbox is fatal:
 * a process must never run unconfined by accident.
 */

#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/capability.h>
#include <linux/if_tun.h>
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
#include "proc.h"

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
 * sc_signal_self and the vmm list; nor is fcntl, which can send them
 * too (sc_fcntl, sc_fcntl_self).
 */
static const int sc_base[] = {
	SC(read), SC(write), SC(readv), SC(writev), SC(pread64), SC(close),
	SC(fstat), SC(newfstatat), SC(lseek),
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
 * The CD-ROM runs here too and reads its image with preadv.
 */
static const int sc_vm[] = {
	SC(ioctl), SC(memfd_create), SC(ftruncate), SC(preadv),
};

/* control: vmctl connections and their SO_PEERCRED. */
static const int sc_control[] = {
	SC(accept4), SC(accept), SC(getsockopt), SC(shutdown),
};

/*
 * vmm: fork and fexecve vm and device processes, pass them descriptors,
 * reap and signal them.  A new child then runs the dynamic loader and
 * enters its own sandbox, all under this filter: hence open, access,
 * arch_prctl and the seccomp/landlock/prctl calls.  What the children
 * need to run is added to vmm's filter from the role table (proc_run),
 * since filters stack and a child can never allow more than vmm did.
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
 * The parent is root and opens what the VMs need.  It gets an allow-list
 * of what it does once its children run, besides sc_base; anything else
 * (mounts and the new mount API, ptrace, process_vm_*, modules, kexec,
 * bpf, exec, fork...) fails with EPERM rather than ending every VM.
 *
 * vm.conf and its includes, kernels, /dev/kvm, the ptys and
 * /proc/PID/statm for vmctl status: opened, looked at, read; include and
 * boot paths are resolved.
 */
static const int sc_parent_files[] = {
	SC(open), SC(openat), SC(newfstatat), SC(statx), SC(readlink),
	SC(readlinkat), SC(access), SC(faccessat), SC(faccessat2),
	SC(getdents64),
};

/* The console goes to the VM's owner; the control socket to its owner. */
static const int sc_parent_owner[] = {
	SC(fchown), SC(fchmod), SC(chown), SC(chmod), SC(fchownat),
	SC(fchmodat),
};

/* A kernel a user names is opened with that user's file rights. */
static const int sc_parent_creds[] = {
	SC(setfsuid), SC(setfsgid), SC(setgroups), SC(getgroups),
	SC(getppid),
};

/* control and vmm: ended and reaped at shutdown. */
static const int sc_parent_procs[] = {
	SC(kill), SC(wait4), SC(waitid),
};

/* syslog, and NSS asking nscd; AF_UNIX only (sc_parent_unix). */
static const int sc_parent_sockets[] = {
	SC(connect), SC(getsockname), SC(getsockopt),
};

/* The control socket and the pid file go at exit. */
static const int sc_parent_unlink[] = {
	SC(unlink), SC(unlinkat),
};

/*
 * The pty: ptsname (TIOCGPTN), unlockpt (TIOCSPTLCK), raw mode (TCGETS,
 * TCSETS*).  No other ioctl: the parent never drives /dev/kvm.
 */
static const unsigned long sc_parent_ioctls[] = {
	TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGPTN, TIOCSPTLCK,
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

/* Descriptor flags, locks, duplicates: the parent and vmm, any command. */
static const int sc_fcntl[] = {
	SC(fcntl),
};

/*
 * vm, control and device processes: fcntl, but a descriptor's owner is
 * never set (F_SETOWN, F_SETOWN_EX) nor its signal (F_SETSIG).  The
 * owner of a descriptor in O_ASYNC mode is sent a signal, F_SETSIG's if
 * set (SIGKILL too), whenever I/O is ready on it: a way around
 * sc_signal_self to any process of our user.  Landlock's signal scope
 * stops it too, where the kernel has it.  Those three fail with EPERM;
 * the commands below are allowed, any other ends the process as an
 * unlisted call does.  The kernel reads the command as 32 bits, so only
 * those are compared: a command with high bits set is the same command.
 */
static const int sc_fcntl_cmds[] = {
	F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_GETLK, F_SETLK,
	F_SETLKW, F_GETOWN, F_GETSIG, F_GETOWN_EX, F_OFD_GETLK, F_OFD_SETLK,
	F_OFD_SETLKW, F_DUPFD_CLOEXEC, F_SETPIPE_SZ, F_GETPIPE_SZ,
	F_ADD_SEALS, F_GET_SEALS,
};
static const int sc_fcntl_refused[] = { F_SETOWN, F_SETSIG, F_SETOWN_EX };

static void
sc_fcntl_self(scmp_filter_ctx sc)
{
	size_t	 i;

	for (i = 0; i < sizeof(sc_fcntl_refused) /
	    sizeof(sc_fcntl_refused[0]); i++)
		if (seccomp_rule_add(sc, SCMP_ACT_ERRNO(EPERM), SC(fcntl), 1,
		    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL,
		    (scmp_datum_t)sc_fcntl_refused[i])) != 0)
			fatalx("seccomp fcntl refusal %zu", i);
	for (i = 0; i < sizeof(sc_fcntl_cmds) / sizeof(sc_fcntl_cmds[0]); i++)
		if (seccomp_rule_add(sc, SCMP_ACT_ALLOW, SC(fcntl), 1,
		    SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL,
		    (scmp_datum_t)sc_fcntl_cmds[i])) != 0)
			fatalx("seccomp fcntl command %zu", i);
}

static void
sc_threads_only(scmp_filter_ctx sc)
{
	/* new threads yes, new processes no */
	if (seccomp_rule_add(sc, SCMP_ACT_ALLOW, SC(clone), 1,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)) != 0)
		fatalx("seccomp clone rule");
}

/* The groups of each policy, each with the reason it is allowed. */
static const struct sandbox_calls sg_parent[] = {
	SANDBOX_CALLS("the event loop, memory, time, exiting", sc_base),
	SANDBOX_CALLS("vm.conf, kernels, disks, /dev/kvm, ptys, statm",
	    sc_parent_files),
	SANDBOX_CALLS("consoles and the socket go to their owners",
	    sc_parent_owner),
	SANDBOX_CALLS("a user's paths opened with the user's rights",
	    sc_parent_creds),
	SANDBOX_CALLS("control and vmm ended and reaped", sc_parent_procs),
	SANDBOX_CALLS("syslog and nscd over AF_UNIX", sc_parent_sockets),
	SANDBOX_CALLS("the socket and pid file removed at exit",
	    sc_parent_unlink),
	{ NULL, NULL, 0 }
};

static const struct sandbox_calls sg_control[] = {
	SANDBOX_CALLS("the event loop, memory, time, exiting", sc_base),
	SANDBOX_CALLS("vmctl connections and their peer", sc_control),
	{ NULL, NULL, 0 }
};

static const struct sandbox_calls sg_vmm[] = {
	SANDBOX_CALLS("the event loop, memory, time, exiting", sc_base),
	SANDBOX_CALLS("starting, reaping and ending children", sc_vmm),
	{ NULL, NULL, 0 }
};

static const struct sandbox_calls sg_vm[] = {
	SANDBOX_CALLS("the event loop, memory, time, exiting", sc_base),
	SANDBOX_CALLS("KVM, guest RAM, vCPU threads", sc_vm),
	{ NULL, NULL, 0 }
};

/*
 * A device process maps guest RAM from the memfd the vm process sends,
 * reads kicks and writes interrupts on eventfds, and talks over its two
 * channels: all in sc_base.  What the device itself needs (disk I/O,
 * a tap) its struct devproc_ops adds, with its reasons.
 */
static const struct sandbox_calls sg_device[] = {
	SANDBOX_CALLS("the event loop, guest RAM, eventfds, exiting",
	    sc_base),
	{ NULL, NULL, 0 }
};

/*
 * priv: netlink on the socket it opened before its sandbox (sendto,
 * recvfrom: sc_base), /dev/net/tun opened for each tap (Landlock lets
 * nothing else be opened), and the tun ioctls (sc_priv_rules).
 */
static const int sc_priv[] = {
	SC(open), SC(openat),
};

static const struct sandbox_calls sg_priv[] = {
	SANDBOX_CALLS("the event loop, memory, time, exiting", sc_base),
	SANDBOX_CALLS("/dev/net/tun for each tap", sc_priv),
	{ NULL, NULL, 0 }
};

/*
 * The policies.  ROOT: the parent's (default EPERM rather than death,
 * argument-checked rules, its capabilities, no Landlock); SELF: threads
 * but no processes, signals only to itself; EXEC: may execute vmd's
 * binary.
 */
#define SBX_ROOT	0x01
#define SBX_SELF	0x02
#define SBX_EXEC	0x04
#define SBX_PRIV	0x08	/* root with CAP_NET_ADMIN, /dev/net/tun */

struct sandbox_policy {
	const char			*name;
	unsigned int			 flags;
	const struct sandbox_calls	*groups;
};

const struct sandbox_policy sandbox_parent = { "parent", SBX_ROOT, sg_parent };
const struct sandbox_policy sandbox_control = { "control", SBX_SELF,
    sg_control };
const struct sandbox_policy sandbox_vmm = { "vmm", SBX_EXEC, sg_vmm };
const struct sandbox_policy sandbox_vm = { "vm", SBX_SELF, sg_vm };
const struct sandbox_policy sandbox_device = { "device", SBX_SELF,
    sg_device };
const struct sandbox_policy sandbox_priv = { "priv", SBX_SELF | SBX_PRIV,
    sg_priv };

const struct sandbox_calls *
sandbox_groups(const struct sandbox_policy *p)
{
	return (p->groups);
}

static void
sc_allow_groups(scmp_filter_ctx sc, const struct sandbox_calls *g)
{
	for (; g != NULL && g->why != NULL; g++)
		sc_allow(sc, g->calls, g->n, g->why);
}

/* The parent's rules that look at arguments. */
static void
sc_parent_rules(scmp_filter_ctx sc)
{
	size_t	 i;

	/* sc_parent_sockets: a new socket is an AF_UNIX one */
	if (seccomp_rule_add(sc, SCMP_ACT_ALLOW, SC(socket), 1,
	    SCMP_A0(SCMP_CMP_EQ, AF_UNIX)) != 0)
		fatalx("seccomp parent socket rule");
	for (i = 0; i < sizeof(sc_parent_ioctls) /
	    sizeof(sc_parent_ioctls[0]); i++)
		if (seccomp_rule_add(sc, SCMP_ACT_ALLOW, SC(ioctl), 1,
		    SCMP_A1(SCMP_CMP_EQ, sc_parent_ioctls[i])) != 0)
			fatalx("seccomp parent ioctl rule");
	/*
	 * NSS modules loaded on a user's first lookup may pull in libcap,
	 * which reads the bounding set when it loads.
	 */
	if (seccomp_rule_add(sc, SCMP_ACT_ALLOW, SC(prctl), 1,
	    SCMP_A0(SCMP_CMP_EQ, PR_CAPBSET_READ)) != 0)
		fatalx("seccomp parent prctl rule");
	/* a signal for ourselves, as raise() sends it */
	if (seccomp_rule_add(sc, SCMP_ACT_ALLOW, SC(tgkill), 1,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid())) != 0)
		fatalx("seccomp parent tgkill rule");
}

/*
 * priv's ioctls: make or attach a tap (TUNSETIFF), its virtio-net header
 * (TUNSETVNETHDRSZ), probe its offloads (TUNSETOFFLOAD).
 */
static void
sc_priv_rules(scmp_filter_ctx sc)
{
	static const unsigned long	 ioctls[] = {
		TUNSETIFF, TUNSETVNETHDRSZ, TUNSETOFFLOAD
	};
	size_t				 i;

	for (i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++)
		if (seccomp_rule_add(sc, SCMP_ACT_ALLOW, SC(ioctl), 1,
		    SCMP_A1(SCMP_CMP_EQ, ioctls[i])) != 0)
			fatalx("seccomp priv ioctl rule");
}

static void
seccomp_enter(const struct sandbox_policy *p,
    const struct sandbox_calls *const *extra)
{
	scmp_filter_ctx	 sc;

	if ((sc = seccomp_init((p->flags & SBX_ROOT) ?
	    SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_KILL_PROCESS)) == NULL)
		fatalx("seccomp_init");
	sc_allow_groups(sc, p->groups);
	for (; extra != NULL && *extra != NULL; extra++)
		sc_allow_groups(sc, *extra);
	if (p->flags & SBX_ROOT)
		sc_parent_rules(sc);
	if (p->flags & SBX_PRIV)
		sc_priv_rules(sc);
	if (!(p->flags & SBX_ROOT)) {
		/* glibc falls back to clone, whose flags we can check */
		if (seccomp_rule_add(sc, SCMP_ACT_ERRNO(ENOSYS), SC(clone3),
		    0) != 0)
			fatalx("seccomp clone3 rule");
	}
#if PROC_SANITIZER
	ALLOW(sc, sc_sanitizer);
#else
	(void)sc_sanitizer;
#endif
	if (p->flags & SBX_SELF) {
		sc_threads_only(sc);
		sc_signal_self(sc);
		sc_fcntl_self(sc);
	} else
		ALLOW(sc, sc_fcntl);
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
		    LANDLOCK_ACCESS_FS_READ_FILE |
		    LANDLOCK_ACCESS_FS_WRITE_FILE;
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
landlock_enter(const struct sandbox_policy *p)
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
	if (p->flags & SBX_PRIV)
		landlock_allow(ruleset, "/dev/net/tun",
		    LANDLOCK_ACCESS_FS_READ_FILE |
		    LANDLOCK_ACCESS_FS_WRITE_FILE);
	if (p->flags & SBX_EXEC) {
		if (sandbox_exe_fd == -1)
			fatalx("vmm: no binary to execute");
		landlock_allow_fd(ruleset, sandbox_exe_fd, rx, "vmd");
		if ((interp = sandbox_interp()) != NULL)
			landlock_allow(ruleset, interp, rx);
		dl_iterate_phdr(sandbox_allow_lib, &ruleset);
		landlock_allow(ruleset, "/etc/ld.so.cache",
		    LANDLOCK_ACCESS_FS_READ_FILE);
	}
#if PROC_SANITIZER
	landlock_allow(ruleset, "/proc", LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR);
#endif
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) == -1)
		fatal("landlock_restrict_self");
	close(ruleset);
}

/*
 * The parent opens files anywhere, so Landlock cannot fence its paths.
 * But a Landlock domain also confines ptrace access, and with it
 * /proc/PID/mem and process_vm_*: only processes in the parent's own
 * domain stay in reach, which is none but itself.  Capabilities alone do
 * not do that: a root process whose capabilities are a subset of the
 * parent's (another vmd, a service with a bounding set) is in reach of
 * a root process without CAP_SYS_PTRACE.  A domain must handle some
 * access: making device nodes, which the parent never does.
 */
static void
landlock_parent(void)
{
	struct sandbox_ruleset_attr	 attr;
	int				 ruleset;

	if (landlock_abi() < 1) {
		log_warnx("Landlock is not available on this kernel; "
		    "the parent may reach into root processes with fewer "
		    "capabilities");
		return;
	}
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = LANDLOCK_ACCESS_FS_MAKE_CHAR |
	    LANDLOCK_ACCESS_FS_MAKE_BLOCK;
	ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset == -1)
		fatal("landlock_create_ruleset");
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
 * The parent keeps only the capabilities it uses: reading any file for
 * vm.conf and kernels (DAC_OVERRIDE, DAC_READ_SEARCH), handing ptys and
 * the socket to owners (CHOWN, FOWNER), a user's file rights (SETUID,
 * SETGID for setfsuid and setgroups) and ending its children (KILL).
 * Without CAP_SYS_PTRACE it cannot reach into processes of other users
 * (ptrace, process_vm_*, /proc/PID/mem of _vmd's processes) nor root's
 * that have capabilities it lacks; landlock_parent keeps it from the
 * rest.  Without CAP_SYS_ADMIN it cannot mount.  The bounding set loses the rest too, so
 * nothing it could execute would get them back.
 */
static void
caps_keep(const int *keep, size_t nkeep)
{
	struct __user_cap_header_struct	 hdr;
	struct __user_cap_data_struct	 data[2];
	uint64_t			 set = 0, have;
	size_t				 i;
	int				 cap;

	for (i = 0; i < nkeep; i++)
		set |= 1ULL << keep[i];
	memset(&hdr, 0, sizeof(hdr));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	if (syscall(SYS_capget, &hdr, data) == -1)
		fatal("capget");
	have = data[0].permitted | (uint64_t)data[1].permitted << 32;
	set &= have;
	for (cap = 0; cap < 64 && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0;
	    cap++)
		if (!(set & (1ULL << cap)) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 &&
		    errno != EPERM)
			fatal("dropping capability %d", cap);
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = (uint32_t)set;
	data[1].effective = data[1].permitted = (uint32_t)(set >> 32);
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	hdr.pid = 0;
	if (syscall(SYS_capset, &hdr, data) == -1)
		fatal("capset");
}

static void
caps_parent(void)
{
	static const int keep[] = {
		CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
		CAP_KILL, CAP_SETGID, CAP_SETUID
	};

	caps_keep(keep, sizeof(keep) / sizeof(keep[0]));
}

/*
 * priv makes taps, bridges members and addresses: CAP_NET_ADMIN, and
 * nothing else, not even reading files it does not own.
 */
static void
caps_priv(void)
{
	static const int keep[] = { CAP_NET_ADMIN };

	caps_keep(keep, sizeof(keep) / sizeof(keep[0]));
}

/*
 * The two halves of a sandbox, apart for regress/unit/sandbox_test.c,
 * which checks that each holds alone (Landlock may be missing, or too
 * old for scopes).  Both need no_new_privs first.
 */
void
sandbox_landlock(const struct sandbox_policy *p)
{
	if (p->flags & SBX_ROOT)
		landlock_parent();
	else
		landlock_enter(p);
}

void
sandbox_seccomp(const struct sandbox_policy *p,
    const struct sandbox_calls *const *extra)
{
	seccomp_enter(p, extra);
}

/*
 * Enter policy p, allowing the groups of extra (a NULL-terminated list
 * of group lists) too: a device's own calls, or for vmm what its
 * children need.
 */
void
sandbox_enter(const struct sandbox_policy *p,
    const struct sandbox_calls *const *extra)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("no_new_privs");
	if (p->flags & SBX_ROOT)
		caps_parent();
	if (p->flags & SBX_PRIV)
		caps_priv();
	sandbox_landlock(p);
	sandbox_seccomp(p, extra);
}
