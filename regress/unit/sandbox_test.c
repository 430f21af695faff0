/*
 * sandbox_test.c: the sandbox policies of sandbox.c, tried for real in
 * child processes: what a device process may touch (no file), what vmm
 * may execute (vmd's binary by descriptor,
 * wherever it lies, and nothing else, not even through the dynamic
 * loader), whom a vm, control or vmm process may signal (a vm process
 * only itself, with kill, tgkill or a descriptor's owner signal, with
 * Landlock's scope and with the seccomp rules each alone; vmm its own
 * children), what the parent may no longer do (reach into other
 * processes, root's with fewer capabilities too, mount, exec, fork,
 * make non-local sockets) and
 * still does (open files, hand them to users, act as a user, end its
 * children), and how proc_spawn reports a child that cannot start.  Every case runs in a fork so that the harness itself is
 * never confined.  The victims run as the same user as the sandboxed
 * process (root or not), so only the sandbox can say no.
 */

#include <sys/types.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "vmd.h"
#include "regress/test.h"

#define PROBE_EXIT	42	/* the re-executed test binary says hello */

extern char	**environ;

/* Run fn in a child; returns its wait status. */
static int
in_child(int (*fn)(void *), void *arg)
{
	pid_t	 pid;
	int	 status;

	fflush(stdout);
	if ((pid = fork()) == -1)
		return (-1);
	if (pid == 0)
		_exit(fn(arg));
	if (waitpid(pid, &status, 0) != pid)
		return (-1);
	return (status);
}

static int
exit_code(int status)
{
	return (status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* The dynamic loader of this binary, as /proc/self/maps names it. */
static int
loader_path(char *buf, size_t len)
{
	FILE	*f;
	char	 line[512], *p;
	int	 found = 0;

	if ((f = fopen("/proc/self/maps", "r")) == NULL)
		return (-1);
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		if ((p = strchr(line, '/')) == NULL ||
		    strstr(p, "/ld-") == NULL)
			continue;
		p[strcspn(p, "\n")] = '\0';
		found = snprintf(buf, len, "%s", p) < (int)len;
	}
	fclose(f);
	return (found ? 0 : -1);
}

struct vmm_exec {
	int	 exe_fd;
	int	 null_fd;		/* the loader's complaint goes here */
	char	 loader[256];
	char	 lib[256];
};

/*
 * In vmm's sandbox: /bin/true may not be executed, nor read through the
 * loader, nor a shared library executed; vmd's binary (this test) may.
 * Exit codes: 10+ for what was wrongly allowed, else PROBE_EXIT.
 */
static int
child_vmm_exec(void *arg)
{
	struct vmm_exec	*v = arg;
	char		*argv_true[] = { "true", NULL };
	char		*argv_ld[] = { v->loader, "/bin/true", NULL };
	char		*argv_lib[] = { v->lib, NULL };
	char		*argv_probe[] = { "sandbox_test", "-probe", NULL };
	pid_t		 pid;
	int		 status;

	sandbox_exe(v->exe_fd);
	sandbox_enter(&sandbox_vmm, proc_role_calls(proc_role_find("vmm")));
	execve("/bin/true", argv_true, environ);
	if (errno != EACCES)
		return (10);
	execve(v->lib, argv_lib, environ);
	if (errno != EACCES)
		return (11);
	/* The loader may run (it runs vmd) but must not read /bin/true. */
	if ((pid = fork()) == 0) {
		dup2(v->null_fd, STDERR_FILENO);
		execve(v->loader, argv_ld, environ);
		_exit(0);
	}
	if (pid == -1 || waitpid(pid, &status, 0) != pid ||
	    (WIFEXITED(status) && WEXITSTATUS(status) == 0))
		return (12);
	fexecve(v->exe_fd, argv_probe, environ);
	return (13);
}

static void
test_vmm_exec(void)
{
	struct vmm_exec	 v;
	FILE		*f;
	char		 line[512], *p;

	memset(&v, 0, sizeof(v));
	CHECK((v.exe_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) != -1);
	CHECK((v.null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) != -1);
	CHECK(loader_path(v.loader, sizeof(v.loader)) == 0);
	/* a shared library this binary uses */
	if ((f = fopen("/proc/self/maps", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if ((p = strstr(line, "/libc.so")) != NULL ||
			    (p = strstr(line, "/libc-")) != NULL) {
				p = strchr(line, '/');
				p[strcspn(p, "\n")] = '\0';
				(void)snprintf(v.lib, sizeof(v.lib), "%s", p);
				break;
			}
		fclose(f);
	}
	CHECK(v.lib[0] == '/');
	CHECK(exit_code(in_child(child_vmm_exec, &v)) == PROBE_EXIT);
	close(v.exe_fd);
	close(v.null_fd);
}

/* A process of the same user that waits to be signalled. */
static pid_t
victim(void)
{
	pid_t	 pid;

	if ((pid = fork()) == 0) {
		for (;;)
			pause();
	}
	return (pid);
}

static int
victim_alive(pid_t pid)
{
	int	 status;

	return (waitpid(pid, &status, WNOHANG) == 0 && kill(pid, 0) == 0);
}

static void
victim_end(pid_t pid)
{
	int	 status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

static volatile sig_atomic_t	 got_usr2;

static void
on_usr2(int sig)
{
	got_usr2 = 1;
}

enum layers { BOTH, LANDLOCK_ONLY, SECCOMP_ONLY };

struct sig_case {
	const struct sandbox_policy *role;
	enum layers		 layers;
	pid_t			 victim;
};

/*
 * In a vm or control sandbox: signalling the victim or our parent fails
 * with EPERM, whichever way it is tried; signalling ourselves works.
 * Exit 0, or the number of the check that failed.
 */
static int
child_signal(void *arg)
{
	struct sig_case		*c = arg;
	struct f_owner_ex	 own;
	pid_t			 parent = getppid();
	int			 p[2];

	signal(SIGUSR2, on_usr2);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return (1);
	if (c->layers != SECCOMP_ONLY)
		sandbox_landlock(c->role);
	if (c->layers != LANDLOCK_ONLY)
		sandbox_seccomp(c->role, NULL);
	if (kill(c->victim, SIGKILL) != -1 || errno != EPERM)
		return (2);
	if (syscall(SYS_tgkill, c->victim, c->victim, SIGKILL) != -1 ||
	    errno != EPERM)
		return (3);
	if (kill(parent, SIGUSR1) != -1 || errno != EPERM)
		return (4);
	/*
	 * A signal by way of a descriptor: the victim owns our pipe and is
	 * sent SIGKILL when it becomes readable.  Seccomp refuses making
	 * it the owner (or the signal); Landlock's scope refuses sending.
	 * The victim must live (test_* checks); the failed steps do not
	 * matter here, only that no step ends us.
	 */
	if (pipe2(p, O_CLOEXEC) == -1)
		return (8);
	(void)fcntl(p[0], F_SETOWN, c->victim);
	(void)fcntl(p[0], F_SETSIG, SIGKILL);
	own.type = F_OWNER_PID;
	own.pid = c->victim;
	(void)fcntl(p[0], F_SETOWN_EX, &own);
	/* the kernel reads the command as 32 bits */
	(void)syscall(SYS_fcntl, p[0], 0x100000000L | F_SETOWN, c->victim);
	if (fcntl(p[0], F_SETFL, O_ASYNC) == -1 ||
	    write(p[1], "x", 1) != 1)
		return (9);
	usleep(10000);
	/*
	 * Everybody: signal 0 only asks, so a broken sandbox cannot end the
	 * host.  The kernel answers 0 when it found processes, even if it
	 * might signal none, so only seccomp's EPERM is to be seen.
	 */
	if (c->layers != LANDLOCK_ONLY &&
	    (kill(-1, 0) != -1 || errno != EPERM))
		return (5);
	if (kill(getpid(), 0) != 0)
		return (6);
	if (raise(SIGUSR2) != 0 || !got_usr2)	/* tgkill, our own tgid */
		return (7);
	return (0);
}

static int
landlock_has_scopes(void)
{
	return (syscall(SYS_landlock_create_ruleset, NULL, 0, 1) >= 6);
}

static void
signal_case(const struct sandbox_policy *role, enum layers layers)
{
	struct sig_case	 c = { role, layers, victim() };

	CHECK(c.victim > 0);
	CHECK(exit_code(in_child(child_signal, &c)) == 0);
	CHECK(victim_alive(c.victim));
	victim_end(c.victim);
}

static void
test_vm_signals(void)
{
	signal_case(&sandbox_vm, BOTH);
}

static void
test_vm_signals_seccomp(void)
{
	signal_case(&sandbox_vm, SECCOMP_ONLY);
}

static void
test_vm_signals_landlock(void)
{
	signal_case(&sandbox_vm, LANDLOCK_ONLY);
}

static void
test_control_signals(void)
{
	signal_case(&sandbox_control, BOTH);
}

static void
test_device_signals(void)
{
	signal_case(&sandbox_device, BOTH);
	signal_case(&sandbox_device, SECCOMP_ONLY);
}

/*
 * A device process touches no file: Landlock refuses the open, and
 * seccomp ends a process that even tries.  Exit 0 when refused.
 */
static int
child_device_files(void *arg)
{
	const int	*layers = arg;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return (1);
	if (*layers != SECCOMP_ONLY)
		sandbox_landlock(&sandbox_device);
	if (*layers != LANDLOCK_ONLY)
		sandbox_seccomp(&sandbox_device, NULL);
	if (open("/etc/passwd", O_RDONLY) != -1)
		return (2);
	return (0);
}

static void
test_device_files(void)
{
	int	 layers, status;

	/* sanitizer builds let their runtime open files (sc_sanitizer) */
#ifndef __SANITIZE_ADDRESS__
	layers = SECCOMP_ONLY;
	status = in_child(child_device_files, &layers);
	CHECK(status != -1 && WIFSIGNALED(status) &&
	    WTERMSIG(status) == SIGSYS);
#else
	(void)status;
#endif
	if (syscall(SYS_landlock_create_ruleset, NULL, 0, 1) >= 1) {
		layers = LANDLOCK_ONLY;
		CHECK(exit_code(in_child(child_device_files, &layers)) == 0);
	}
}

/*
 * vmm ends its vm processes (started after its sandbox, nested in its
 * domain) but nothing outside, which Landlock's scope alone forbids.
 */
static int
child_vmm_signal(void *arg)
{
	struct vmm_exec	*v = arg;
	pid_t		 kid;
	int		 status;

	sandbox_exe(v->exe_fd);
	sandbox_enter(&sandbox_vmm, proc_role_calls(proc_role_find("vmm")));
	if ((kid = fork()) == 0) {
		for (;;)
			sleep(1);	/* nanosleep: vmm's filter allows it */
	}
	if (kid == -1)
		return (1);
	if (kill(kid, SIGTERM) != 0)
		return (2);
	if (waitpid(kid, &status, 0) != kid || !WIFSIGNALED(status) ||
	    WTERMSIG(status) != SIGTERM)
		return (3);
	if (kill((pid_t)v->null_fd, SIGKILL) != -1 || errno != EPERM)
		return (4);
	return (0);
}

static void
test_vmm_signals(void)
{
	struct vmm_exec	 v;
	pid_t		 pid = victim();

	memset(&v, 0, sizeof(v));
	CHECK((v.exe_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) != -1);
	v.null_fd = pid;	/* the victim, here */
	CHECK(exit_code(in_child(child_vmm_signal, &v)) == 0);
	CHECK(victim_alive(pid));
	victim_end(pid);
	close(v.exe_fd);
}

#if defined(__SANITIZE_ADDRESS__)
#define TEST_SANITIZER	1	/* the sanitizers' runtime may fork */
#endif

struct parent_case {
	pid_t	 v_root;	/* a root process with every capability */
	pid_t	 v_user;	/* one of another user, as _vmd's are */
	pid_t	 v_nocap;	/* root with fewer capabilities than we */
	int	 fd;		/* a file of ours */
};

static int
mem_denied(pid_t pid)
{
	char	 path[64];
	int	 fd;

	(void)snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	if ((fd = open(path, O_RDONLY)) != -1) {
		close(fd);
		return (0);
	}
	return (errno == EACCES || errno == EPERM);
}

/* In the parent's sandbox: exit 0, or the number of the failed check. */
static int
child_parent(void *arg)
{
	struct parent_case	*c = arg;
	char			*argv_true[] = { "true", NULL }, buf[8];
	char			 path[64];
	struct iovec		 local = { buf, sizeof(buf) };
	struct iovec		 remote = { (void *)0x1000, sizeof(buf) };
	int			 fd, n;

	sandbox_enter(&sandbox_parent, NULL);
	if (!mem_denied(c->v_user))
		return (1);
	if (!mem_denied(c->v_root))
		return (2);
	/*
	 * A root process whose capabilities are a subset of ours (another
	 * vmd, a service with a bounding set) is one the kernel lets us
	 * reach into, unless the sandbox says no.
	 */
	if (!mem_denied(c->v_nocap))
		return (16);
	if (ptrace(PTRACE_ATTACH, c->v_user, NULL, NULL) != -1 ||
	    errno != EPERM)
		return (3);
	if (process_vm_readv(c->v_root, &local, 1, &remote, 1, 0) != -1 ||
	    errno != EPERM)
		return (4);
	if (syscall(SYS_fsopen, "tmpfs", 0) != -1 || errno != EPERM)
		return (5);
	if (mount("none", "/mnt", "tmpfs", 0, NULL) != -1 ||
	    errno != EPERM)
		return (6);
	if (socket(AF_INET, SOCK_STREAM, 0) != -1 || errno != EPERM)
		return (7);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1)
		return (8);
	close(fd);
	execve("/bin/true", argv_true, environ);
	if (errno != EPERM)
		return (9);
#ifndef TEST_SANITIZER
	if (fork() != -1 || errno != EPERM)
		return (10);
#endif
	if (fchown(c->fd, 65534, 65534) != 0 || fchmod(c->fd, 0600) != 0)
		return (11);
	(void)setfsuid(65534);
	if ((uid_t)setfsuid((uid_t)-1) != 65534)
		return (12);
	(void)setfsuid(0);
	if (kill(c->v_user, 0) != 0)
		return (13);
	if (ioctl(c->fd, FIONREAD, &n) != -1 || errno != EPERM)
		return (14);
	(void)snprintf(path, sizeof(path), "/proc/%d/statm", (int)c->v_user);
	if ((fd = open(path, O_RDONLY)) == -1)
		return (15);
	close(fd);
	return (0);
}

static void
test_parent(void)
{
	struct parent_case	 c;
	char			 path[] = "/tmp/sandbox_test.XXXXXX";
	pid_t			 pid;

	if ((pid = fork()) == 0) {
		if (setgid(65534) == -1 || setuid(65534) == -1)
			_exit(1);
		for (;;)
			pause();
	}
	c.v_user = pid;
	c.v_root = victim();
	if ((pid = fork()) == 0) {
		struct __user_cap_header_struct	 hdr = {
			_LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct	 none[2];

		memset(none, 0, sizeof(none));
		if (syscall(SYS_capset, &hdr, none) == -1)
			_exit(1);
		for (;;)
			pause();
	}
	c.v_nocap = pid;
	CHECK((c.fd = mkstemp(path)) != -1);
	unlink(path);
	CHECK(exit_code(in_child(child_parent, &c)) == 0);
	CHECK(victim_alive(c.v_root) && victim_alive(c.v_user) &&
	    victim_alive(c.v_nocap));
	victim_end(c.v_nocap);
	victim_end(c.v_root);
	victim_end(c.v_user);
	close(c.fd);
}

/* A binary the child cannot execute: proc_spawn says so, in words. */
static void
test_spawn_error(void)
{
	struct proc_env	 env;
	char		 path[] = "/tmp/sandbox_test.XXXXXX";
	int		 fd, sp[2];
	pid_t		 pid;

	CHECK((fd = mkstemp(path)) != -1);
	if (fd == -1)
		return;
	unlink(path);
	CHECK(write(fd, "#!/bin/sh\n", 10) == 10);
	CHECK(fchmod(fd, 0644) == 0);	/* not executable, even for root */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
	proc_env_init(&env, 1, 0);
	env.exe_fd = fd;
	pid = proc_spawn(&env, "vm", "t1", NULL, &sp[1], 1);
	CHECK(pid == -1 && errno == EACCES);
	CHECK(strcmp(proc_spawn_error(),
	    "cannot execute vmd's binary: Permission denied") == 0);
	close(sp[0]);
	close(sp[1]);
	close(fd);
}

int
main(int argc, char *argv[])
{
	if (argc == 2 && strcmp(argv[1], "-probe") == 0)
		return (PROBE_EXIT);
	log_init(1, LOG_DAEMON);
	RUN(test_vmm_exec);
	RUN(test_spawn_error);
	RUN(test_vm_signals);
	RUN(test_vm_signals_seccomp);
	RUN(test_control_signals);
	RUN(test_device_signals);
	RUN(test_device_files);
	/* the parent's sandbox is for root */
	if (geteuid() == 0)
		RUN(test_parent);
	else
		printf("SKIP test_parent: needs root\n");
	/* Landlock alone stops signals only from ABI 6 on */
	if (landlock_has_scopes()) {
		RUN(test_vm_signals_landlock);
		RUN(test_vmm_signals);
	} else
		printf("SKIP test_vm_signals_landlock, test_vmm_signals: "
		    "no Landlock scopes on this kernel\n");
	TEST_EXIT();
}
