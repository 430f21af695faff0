/*
 * sandbox_test.c: the sandbox policies of sandbox.c, tried for real in
 * child processes: what vmm may execute (vmd's binary by descriptor,
 * wherever it lies, and nothing else, not even through the dynamic
 * loader), and how proc_spawn reports a child that cannot start.  Every
 * case runs in a fork so that the harness itself is never confined.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
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
		if ((p = strchr(line, '/')) == NULL || strstr(p, "/ld-") == NULL)
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
	sandbox_enter(SANDBOX_VMM);
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
	pid = proc_spawn(&env, "vm", "t1", &sp[1], 1);
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
	TEST_EXIT();
}
