/*
 * proc.c: the privilege separation framework.  The role table below is
 * the one list of vmd's processes; proc_spawn() starts a role by fork and
 * fexecve of vmd's own binary (so each child starts clean, with nothing
 * of its parent's memory), proc_run() enters it (user switch, parent-death
 * signal, sandbox) and the imsgev helpers drive imsg channels from
 * libevent.  Nothing here may trust what arrives on a channel: messages
 * go to the role's dispatcher, which checks type and size first, and a
 * broken channel is closed, never fatal by itself.
 */

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <linux/close_range.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>

#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "config.h"
#include "vmd.h"
#include "devproc.h"

#define PROC_ARGV_MAX		16
#define PROC_FD_STAGE		64	/* fds are staged above this */
#define PROC_FD_MAX		4096	/* highest fd marked close-on-exec */
#define PROC_DRAIN_MAX		1024	/* reads per imsgev_drain */
#define PROC_LOG_FLUSH_MS	1000	/* a dying process's last lines */
#define PROC_MAX_ROLES		16

static void	 proc_privdrop(struct proc_env *);
static int	 proc_child_fds(const int *, int, int, int);
static void	 imsgev_handler(int, short, void *);
static int	 imsgev_dispatch_all(struct imsgev *);
static int	 proc_log_sink(int, const char *, size_t, void *);

static uint32_t	 proc_log_dropped;	/* lines proc_log_sink dropped */

/*
 * Signals vmd does not use.  They are ignored in every process, as
 * OpenBSD's vmd ignores SIGUSR1 and SIGPIPE, so that a stray kill ends
 * nothing; where an event loop runs they are logged.  The realtime
 * signals are ignored too, silently.  Synchronous fault signals, SIGQUIT
 * and the job control signals keep their default actions.
 */
static const int proc_unused_signals[] = {
	SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGVTALRM, SIGPROF, SIGIO,
	SIGPWR, SIGSTKFLT, SIGXCPU, SIGXFSZ
};
#define PROC_NUNUSED	(sizeof(proc_unused_signals) / \
			    sizeof(proc_unused_signals[0]))

const struct proc_role *
proc_role_find(const char *title)
{
	size_t	 i;

	for (i = 0; i < proc_nroles; i++)
		if (strcmp(proc_roles[i].title, title) == 0)
			return (&proc_roles[i]);
	return (NULL);
}

/* The device role that serves descriptors of kind (VMOP_FD_*), or NULL. */
const struct proc_role *
proc_role_device(uint32_t kind)
{
	size_t	 i;

	for (i = 0; i < proc_nroles; i++)
		if (proc_roles[i].dev != NULL &&
		    proc_roles[i].dev->fdkind == kind)
			return (&proc_roles[i]);
	return (NULL);
}

/*
 * The groups of calls a role gets beyond its policy's: a device's own;
 * for a role that starts the per-VM roles (vmm), every group they need,
 * since they run under its filter and a filter only ever narrows.
 */
const struct sandbox_calls *const *
proc_role_calls(const struct proc_role *role)
{
	static const struct sandbox_calls	*list[PROC_MAX_ROLES * 2 + 1];
	size_t					 i, n = 0;

	if (role->dev != NULL && role->dev->calls != NULL)
		list[n++] = role->dev->calls;
	if (role->flags & PROC_SPAWNS) {
		for (i = 0; i < proc_nroles && n + 2 < sizeof(list) / sizeof(list[0]); i++) {
			if (!(proc_roles[i].flags & PROC_PER_VM))
				continue;
			list[n++] = sandbox_groups(proc_roles[i].sandbox);
			if (proc_roles[i].dev != NULL &&
			    proc_roles[i].dev->calls != NULL)
				list[n++] = proc_roles[i].dev->calls;
		}
	}
	list[n] = NULL;
	return (list);
}

void
proc_env_init(struct proc_env *env, int debug, int verbose)
{
	memset(env, 0, sizeof(*env));
	env->debug = debug;
	env->verbose = verbose;
	env->ppid = getppid();
	env->exe_fd = -1;
	env->role = proc_role_find("parent");
}

int
proc_lookup_user(struct proc_env *env)
{
	struct passwd	*pw;

	if ((pw = getpwnam(VMD_USER)) == NULL)
		return (-1);
	env->vmd_uid = pw->pw_uid;
	env->vmd_gid = pw->pw_gid;
	if (snprintf(env->vmd_home, sizeof(env->vmd_home), "%s",
	    pw->pw_dir) >= (int)sizeof(env->vmd_home))
		env->vmd_home[0] = '\0';
	return (0);
}

/*
 * Die with the parent: nothing of vmd may outlive the process that
 * manages it.  The setting is lost on a credential change, so roles arm
 * it again after dropping privileges.  The check closes the window in
 * which the parent died before the signal was armed.
 */
int
proc_pdeathsig(pid_t ppid)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		return (-1);
	if (getppid() != ppid)
		return (-1);
	return (0);
}

/*
 * A child that cannot become the role tells its parent why, over a
 * close-on-exec pipe (a successful exec closes it empty): which step
 * failed and errno.
 */
struct proc_spawn_err {
	int	 step;
	int	 error;
};

enum {
	PROC_STEP_FDS,		/* placing the descriptors */
	PROC_STEP_EXEC		/* executing vmd */
};

static char	 proc_spawn_why[128];

static void __attribute__((noreturn))
proc_spawn_fail(int pipefd, int step)
{
	struct proc_spawn_err	 e = { step, errno };

	(void)write(pipefd, &e, sizeof(e));
	_exit(127);
}

/*
 * Put fds[i] on descriptor 3 + i and mark everything above close-on-exec.
 * Staging them high first keeps a source from being overwritten by an
 * earlier destination.  Returns where exe_fd is now.
 */
static int
proc_child_fds(const int *fds, int nfds, int exe_fd, int errfd)
{
	struct rlimit	 rl;
	int		 staged[4];
	int		 i;

	errno = EINVAL;
	if (nfds < 0 || nfds > 4)
		proc_spawn_fail(errfd, PROC_STEP_FDS);
	/* The binary's descriptor may sit where a channel must go. */
	if ((exe_fd = fcntl(exe_fd, F_DUPFD_CLOEXEC, PROC_FD_STAGE)) == -1)
		proc_spawn_fail(errfd, PROC_STEP_FDS);
	for (i = 0; i < nfds; i++)
		if ((staged[i] = fcntl(fds[i], F_DUPFD, PROC_FD_STAGE)) == -1)
			proc_spawn_fail(errfd, PROC_STEP_FDS);
	for (i = 0; i < nfds; i++)
		if (dup2(staged[i], PROC_PARENT_FD + i) == -1)
			proc_spawn_fail(errfd, PROC_STEP_FDS);
	/*
	 * Everything vmd opens is close-on-exec already; this is the second
	 * guard.  close_range(2) does it in one call; kernels before 5.11
	 * lack CLOSE_RANGE_CLOEXEC and get the loop.
	 */
	if (close_range(PROC_PARENT_FD + nfds, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return (exe_fd);
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur > PROC_FD_MAX)
		rl.rlim_cur = PROC_FD_MAX;
	for (i = PROC_PARENT_FD + nfds; i < (int)rl.rlim_cur; i++)
		(void)fcntl(i, F_SETFD, FD_CLOEXEC);
	return (exe_fd);
}

/* Why the last proc_spawn failed, in words. */
const char *
proc_spawn_error(void)
{
	return (proc_spawn_why);
}

/*
 * Start role title (with VM name for the per-VM roles) as a child
 * running vmd's binary, env->exe_fd, with fds[] on descriptors 3, 4, ...
 * and show (what ps shows: "vmd: vm NAME vioblk 0") as its argv[0].
 * Returns the child's pid once it runs vmd, or -1 with errno and
 * proc_spawn_error() saying why (the child is then reaped).
 */
pid_t
proc_spawn(struct proc_env *env, const char *title, const char *name,
    const char *show, const int *fds, int nfds)
{
	struct proc_spawn_err	 e;
	char			*argv[PROC_ARGV_MAX];
	extern char		**environ;
	sigset_t		 mask, omask;
	pid_t			 parent, pid;
	ssize_t			 n;
	int			 argc = 0, i, exe_fd, ep[2], errfd, status;

	if (env->exe_fd == -1) {
		errno = EBADF;
		(void)snprintf(proc_spawn_why, sizeof(proc_spawn_why),
		    "no binary to execute");
		return (-1);
	}
	argv[argc++] = (char *)(show != NULL ? show : "vmd");
	argv[argc++] = "-P";
	argv[argc++] = (char *)title;
	if (name != NULL) {
		argv[argc++] = "-N";
		argv[argc++] = (char *)name;
	}
	if (env->debug)
		argv[argc++] = "-d";
	for (i = 0; i < env->verbose && argc < PROC_ARGV_MAX - 1; i++)
		argv[argc++] = "-v";
	argv[argc] = NULL;

	if (pipe2(ep, O_CLOEXEC) == -1) {
		(void)snprintf(proc_spawn_why, sizeof(proc_spawn_why),
		    "pipe: %s", strerror(errno));
		return (-1);
	}
	parent = getpid();
	/*
	 * No signal may reach the child before it has dropped our handlers
	 * (libevent's would tell our loop of a signal we never got), and
	 * none that vmd does not use may end it before or after exec.
	 */
	sigfillset(&mask);
	sigprocmask(SIG_BLOCK, &mask, &omask);
	if ((pid = fork()) == -1) {
		sigprocmask(SIG_SETMASK, &omask, NULL);
		(void)snprintf(proc_spawn_why, sizeof(proc_spawn_why),
		    "fork: %s", strerror(errno));
		close(ep[0]);
		close(ep[1]);
		return (-1);
	}
	if (pid == 0) {
		/* child; the pipe's end must not sit where a channel goes */
		if ((errfd = fcntl(ep[1], F_DUPFD_CLOEXEC, PROC_FD_STAGE)) ==
		    -1)
			_exit(127);
		for (i = 1; i < NSIG; i++)
			if (i != SIGKILL && i != SIGSTOP)
				signal(i, SIG_DFL);
		proc_signals_ignore();
		if (proc_pdeathsig(parent) == -1)
			_exit(1);
		/* A terminal's ^C is for the parent, which stops everything. */
		(void)setsid();
		sigemptyset(&mask);
		sigprocmask(SIG_SETMASK, &mask, NULL);
		exe_fd = proc_child_fds(fds, nfds, env->exe_fd, errfd);
		fexecve(exe_fd, argv, environ);
		proc_spawn_fail(errfd, PROC_STEP_EXEC);
	}

	sigprocmask(SIG_SETMASK, &omask, NULL);
	close(ep[1]);
	while ((n = read(ep[0], &e, sizeof(e))) == -1 && errno == EINTR)
		;
	close(ep[0]);
	if (n == 0)
		return (pid);		/* exec closed the pipe: it runs */
	if (n != (ssize_t)sizeof(e)) {
		e.step = PROC_STEP_EXEC;
		e.error = n == -1 ? errno : EIO;
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	(void)snprintf(proc_spawn_why, sizeof(proc_spawn_why), "%s: %s",
	    e.step == PROC_STEP_FDS ? "cannot pass descriptors" :
	    "cannot execute vmd's binary", strerror(e.error));
	errno = e.error;
	return (-1);
}

static void
proc_privdrop(struct proc_env *env)
{
	struct stat	 st;

	if (geteuid() != 0)
		fatalx("%s: needs to start as root", env->role->title);
	if (proc_lookup_user(env) == -1)
		fatalx("unknown user %s", VMD_USER);
	if (env->role->flags & PROC_CHROOT) {
		/*
		 * _vmd's home is normally an empty directory.  Without one
		 * the sandbox's filesystem rules still apply; so they do in
		 * SANITIZE=1 builds, whose leak check at exit needs /proc.
		 */
		if (!PROC_SANITIZER && env->vmd_home[0] != '\0' &&
		    stat(env->vmd_home, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (chroot(env->vmd_home) == -1)
				fatal("chroot %s", env->vmd_home);
			if (chdir("/") == -1)
				fatal("chdir /");
		} else
			log_debug("%s: no home directory to chroot to",
			    VMD_USER);
	}
	if (setgroups(1, &env->vmd_gid) == -1 ||
	    setresgid(env->vmd_gid, env->vmd_gid, env->vmd_gid) == -1 ||
	    setresuid(env->vmd_uid, env->vmd_uid, env->vmd_uid) == -1)
		fatal("cannot drop privileges");
	if (geteuid() == 0 || getegid() == 0)
		fatalx("privileges still held after dropping them");
}

/*
 * Enter a re-exec'd role: log name, user switch, parent-death signal,
 * sandbox, then the role's own entry.  Never returns.
 */
void
proc_run(struct proc_env *env, const char *title, const char *name)
{
	const struct proc_role	*role;
	static char		 procname[VMD_PROCNAME_MAX];
	struct stat		 st;

	if ((role = proc_role_find(title)) == NULL || role->run == NULL)
		fatalx("unknown process role %s", title);
	env->role = role;
	if (role->flags & PROC_PER_VM) {
		if (name == NULL || !vmd_valid_name(name))
			fatalx("%s process without a valid vm name", title);
		env->vm_name = name;
		if (role->dev != NULL)
			(void)snprintf(procname, sizeof(procname), "vm %s %s",
			    name, title);
		else
			(void)snprintf(procname, sizeof(procname), "vm %s",
			    name);
		log_procinit(procname);
	} else
		log_procinit(role->title);

	if (fstat(PROC_PARENT_FD, &st) == -1 || !S_ISSOCK(st.st_mode))
		fatalx("%s: descriptor %d is not a socket; this flag is "
		    "internal to vmd", title, PROC_PARENT_FD);
	/* HUP is the parent's (reload); TERM and INT are each role's own. */
	signal(SIGHUP, SIG_IGN);
	/* From here on a per-VM process's lines (its fatal too) reach vmm. */
	if (role->flags & PROC_PER_VM)
		proc_log_fd(PROC_PARENT_FD);
	/* vmm starts processes from vmd's binary, by descriptor. */
	if (role->flags & PROC_SPAWNS) {
		env->exe_fd = PROC_EXE_FD;
		sandbox_exe(env->exe_fd);
	}

	if (role->flags & PROC_PRIVDROP)
		proc_privdrop(env);
	else if (geteuid() == 0 && !(role->flags & PROC_ROOT))
		fatalx("%s: must not run as root", title);

	/* The parent may have died while the signal was not armed. */
	if (proc_pdeathsig(env->ppid) == -1)
		_exit(0);

	if (!(role->flags & PROC_LATE))
		sandbox_enter(role->sandbox, proc_role_calls(role));
	role->run(env);
}

/*
 * imsgev: an imsg channel on a non-blocking socket, read and written from
 * libevent.  The dispatcher sees one message at a time; returning -1 (or
 * a broken channel) calls the closed callback, which owns the cleanup.
 */
int
imsgev_init(struct imsgev *iev, struct event_base *evbase, int fd,
    const char *name, int fdpass, imsgev_dispatch_fn dispatch,
    imsgev_closed_fn closed, void *arg)
{
	int	 flags;

	memset(iev, 0, sizeof(*iev));
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		return (-1);
	if (imsgbuf_init(&iev->ibuf, fd) == -1)
		return (-1);
	if (fdpass)
		imsgbuf_allow_fdpass(&iev->ibuf);
	iev->evbase = evbase;
	iev->dispatch = dispatch;
	iev->closed = closed;
	iev->arg = arg;
	iev->name = name;
	iev->active = 1;
	iev->maxqueue = IMSGEV_MAXQUEUE;
	imsgev_add(iev);
	return (0);
}

/*
 * Register for what the channel waits for.  Only ever on the thread
 * that runs evbase; other threads wake it (imsgev_wake).
 */
void
imsgev_add(struct imsgev *iev)
{
	short		 events = iev->paused ? 0 : EV_READ;
	uint32_t	 queued;

	if (!iev->active)
		return;
	if (iev->lock != NULL)
		pthread_mutex_lock(iev->lock);
	queued = imsgbuf_queuelen(&iev->ibuf);
	if (iev->lock != NULL)
		pthread_mutex_unlock(iev->lock);
	if (queued > 0)
		events |= EV_WRITE;
	if (iev->events == events)
		return;
	if (iev->events != 0)
		event_del(&iev->ev);
	event_assign(&iev->ev, iev->evbase, iev->ibuf.fd, events,
	    imsgev_handler, iev);
	if (event_add(&iev->ev, NULL) == -1) {
		log_warnx("%s: cannot watch channel", iev->name);
		iev->events = 0;
		return;
	}
	iev->events = events;
}

static void
imsgev_wake(int fd, short events, void *arg)
{
	imsgev_add(arg);
}

/*
 * A channel other threads write too (the vm process's vCPU threads log
 * and report): every write to the buffer holds lock, and a thread that
 * queued what the socket did not take wakes the event thread through
 * ev_wake rather than touching the events, which are that thread's.
 * Reading stays with the event thread.
 */
int
imsgev_threads(struct imsgev *iev, pthread_mutex_t *lock)
{
	if ((iev->ev_wake = event_new(iev->evbase, -1, 0, imsgev_wake,
	    iev)) == NULL)
		return (-1);
	iev->lock = lock;
	return (0);
}

/* With iev->lock held: write what the socket takes, wake for the rest. */
static void
imsgev_flush_locked(struct imsgev *iev)
{
	if (imsgbuf_write(&iev->ibuf) == -1)
		return;
	if (imsgbuf_queuelen(&iev->ibuf) > 0)
		event_active(iev->ev_wake, 0, 0);
}

/*
 * Queue one message and write it before returning, waiting up to ms for
 * the peer: for what must not be lost when the process ends next (a
 * VM's end).  From any thread.  Returns 0, or -1 when not all was sent.
 */
int
imsgev_compose_sync(struct imsgev *iev, uint32_t type, const void *data,
    size_t len, int ms)
{
	int	 rv = -1;

	if (iev->lock != NULL)
		pthread_mutex_lock(iev->lock);
	if (iev->active && imsg_compose(&iev->ibuf, type, 0, 0, -1, data,
	    len) != -1) {
		proc_flush(&iev->ibuf, ms);
		rv = imsgbuf_queuelen(&iev->ibuf) == 0 ? 0 : -1;
	}
	if (iev->lock != NULL)
		pthread_mutex_unlock(iev->lock);
	return (rv);
}

/*
 * Back-pressure: stop reading the peer (what it sent stays in the socket
 * and its buffer) until imsgev_resume.
 */
void
imsgev_pause(struct imsgev *iev)
{
	iev->paused = 1;
	imsgev_add(iev);
}

/*
 * Read again, first dispatching what was read but not yet handled.
 * Returns -1 when that closed the channel (the closed callback ran).
 */
int
imsgev_resume(struct imsgev *iev)
{
	int	 rv;

	if (!iev->active || !iev->paused)
		return (iev->active ? 0 : -1);
	iev->paused = 0;
	if ((rv = imsgev_dispatch_all(iev)) == 1)
		return (-1);
	if (rv == -1) {
		imsgev_clear(iev);
		if (iev->closed != NULL)
			iev->closed(iev);
		return (-1);
	}
	imsgev_add(iev);
	return (0);
}

/* May n more messages be queued? */
int
imsgev_room(struct imsgev *iev, uint32_t n)
{
	return (imsgbuf_queuelen(&iev->ibuf) + n <= iev->maxqueue);
}

/* Stop watching, drop queued output and close the socket. */
void
imsgev_clear(struct imsgev *iev)
{
	if (!iev->active)
		return;
	if (iev->events != 0)
		event_del(&iev->ev);
	iev->events = 0;
	if (iev->lock != NULL)
		pthread_mutex_lock(iev->lock);
	iev->active = 0;
	imsgbuf_clear(&iev->ibuf);
	close(iev->ibuf.fd);
	iev->ibuf.fd = -1;
	if (iev->lock != NULL)
		pthread_mutex_unlock(iev->lock);
}

/*
 * Queue one message.  As with imsg_compose, fd is given away: it is
 * closed once sent, or here if it cannot be queued.
 */
int
imsgev_compose(struct imsgev *iev, uint32_t type, uint32_t peerid,
    pid_t pid, int fd, const void *data, size_t len)
{
	if (!iev->active) {
		if (fd != -1)
			close(fd);
		errno = EPIPE;
		return (-1);
	}
	if (!imsgev_room(iev, 1)) {
		log_limited(LOG_ERR, "%s: %u messages queued, message %u "
		    "dropped", iev->name, iev->maxqueue, type);
		if (fd != -1)
			close(fd);
		errno = ENOBUFS;
		return (-1);
	}
	if (iev->lock != NULL) {
		pthread_mutex_lock(iev->lock);
		if (imsg_compose(&iev->ibuf, type, peerid, pid, fd, data,
		    len) == -1) {
			pthread_mutex_unlock(iev->lock);
			goto fail;
		}
		imsgev_flush_locked(iev);
		pthread_mutex_unlock(iev->lock);
		return (0);
	}
	if (imsg_compose(&iev->ibuf, type, peerid, pid, fd, data,
	    len) == -1)
		goto fail;
	imsgev_add(iev);
	return (0);
 fail:
	log_warn("%s: cannot queue message %u", iev->name, type);
	if (fd != -1)
		close(fd);
	return (-1);
}

/*
 * Returns 0 when all complete messages were handled, -1 when the channel
 * must close, 1 when a dispatcher already closed it.
 */
static int
imsgev_dispatch_all(struct imsgev *iev)
{
	struct imsg	 imsg;
	ssize_t		 n;
	int		 rv;

	for (;;) {
		if (!iev->active)
			return (1);
		if (iev->paused)
			return (0);
		if ((n = imsg_get(&iev->ibuf, &imsg)) == -1) {
			log_warn("%s: bad message", iev->name);
			return (-1);
		}
		if (n == 0)
			return (0);
		rv = iev->dispatch(iev, &imsg);
		imsg_free(&imsg);
		if (rv == -1)
			return (-1);
	}
}

static void
imsgev_handler(int fd, short events, void *arg)
{
	struct imsgev	*iev = arg;
	int		 n, rv;

	/* The event is not persistent: it is no longer pending now. */
	iev->events = 0;
	if (events & EV_WRITE) {
		if (iev->lock != NULL)
			pthread_mutex_lock(iev->lock);
		n = imsgbuf_write(&iev->ibuf);
		if (iev->lock != NULL)
			pthread_mutex_unlock(iev->lock);
		if (n == -1) {
			if (errno != EPIPE && errno != ECONNRESET)
				log_warn("%s: write", iev->name);
			goto closed;
		}
	}
	if (events & EV_READ) {
		if ((n = imsgbuf_read(&iev->ibuf)) == -1) {
			if (errno != ECONNRESET)
				log_warn("%s: read", iev->name);
			goto closed;
		}
		if ((rv = imsgev_dispatch_all(iev)) == 1)
			return;
		if (rv == -1 || n == 0)
			goto closed;
	}
	imsgev_add(iev);
	return;
 closed:
	imsgev_clear(iev);
	if (iev->closed != NULL)
		iev->closed(iev);
}

/*
 * Read and dispatch everything a peer that has exited left in the socket,
 * up to its EOF.  Returns -1 once the channel is finished (always, for a
 * dead peer); the caller then clears it.
 */
int
imsgev_drain(struct imsgev *iev)
{
	int	 i, n;

	if (!iev->active)
		return (-1);
	for (i = 0; i < PROC_DRAIN_MAX; i++) {
		if ((n = imsgbuf_read(&iev->ibuf)) == -1)
			return (-1);
		if (imsgev_dispatch_all(iev) != 0 || n == 0)
			return (-1);
	}
	return (0);
}

/*
 * The one check of every dispatcher: is this message allowed on this
 * channel (the MSG_* bits of link), with this size and contents, as
 * msg.c's table says?  A message that is not is logged (rate-limited:
 * the peer may be hostile) and dropped; its descriptor is closed by
 * imsg_free.
 */
int
msg_ok(struct imsg *imsg, uint32_t link, const char *from)
{
	char		 reason[VM_REASON_MAX];
	uint32_t	 type = imsg_get_type(imsg);

	if (msg_check(link, type, imsg->data, imsg_get_len(imsg), reason,
	    sizeof(reason)) == 0)
		return (1);
	log_limited(LOG_WARNING, "%s: %s (%s, %zu bytes), dropped", from,
	    reason, msg_name(type), imsg_get_len(imsg));
	return (0);
}

/*
 * Logging through the parent.  A line is queued on the channel unless
 * VMD_LOG_QUEUE_MAX messages wait there already: then it is dropped and
 * counted, and the count goes with the next line that fits.  Lines of
 * LOG_CRIT and worse (fatal) are flushed at once, since the process is
 * about to exit.  Returns 0 when queued, -1 when dropped.
 */
int
proc_log_compose(struct imsgbuf *ibuf, int pri, uint32_t dropped,
    const char *proc, const char *text, size_t len)
{
	struct vmop_log	 vl;
	struct iovec	 iov[2];

	if (imsgbuf_queuelen(ibuf) >= VMD_LOG_QUEUE_MAX && pri > LOG_CRIT)
		return (-1);
	if (len > VMD_LOG_TEXT_MAX)
		len = VMD_LOG_TEXT_MAX;
	if (len == 0) {
		text = " ";
		len = 1;
	}
	memset(&vl, 0, sizeof(vl));
	vl.vl_pri = pri;
	vl.vl_dropped = dropped;
	if (proc != NULL)
		(void)snprintf(vl.vl_proc, sizeof(vl.vl_proc), "%s", proc);
	iov[0].iov_base = &vl;
	iov[0].iov_len = sizeof(vl);
	iov[1].iov_base = (void *)(uintptr_t)text;
	iov[1].iov_len = len;
	if (imsg_composev(ibuf, IMSG_LOG, 0, 0, -1, iov, 2) == -1)
		return (-1);
	if (pri <= LOG_CRIT)
		proc_flush(ibuf, PROC_LOG_FLUSH_MS);
	return (0);
}

/*
 * An IMSG_LOG as it arrived: the header, and the text NUL-terminated in
 * text (at least VMD_LOG_TEXT_MAX + 1 bytes).  The priority is kept
 * between LOG_CRIT and LOG_DEBUG: no child may make syslog page every
 * terminal.  Returns -1 for a malformed message.
 */
int
proc_log_parse(struct imsg *imsg, struct vmop_log *vl, char *text,
    size_t textlen)
{
	size_t	 len = imsg_get_len(imsg);

	if (len <= sizeof(*vl) || len > sizeof(*vl) + VMD_LOG_TEXT_MAX ||
	    textlen < len - sizeof(*vl) + 1 || imsg->data == NULL)
		return (-1);
	memcpy(vl, imsg->data, sizeof(*vl));
	len -= sizeof(*vl);
	memcpy(text, (char *)imsg->data + sizeof(*vl), len);
	text[len] = '\0';
	vl->vl_proc[sizeof(vl->vl_proc) - 1] = '\0';
	if (vl->vl_pri < LOG_CRIT)
		vl->vl_pri = LOG_CRIT;
	if (vl->vl_pri > LOG_DEBUG)
		vl->vl_pri = LOG_DEBUG;
	return (0);
}

/* Write what ibuf holds, waiting at most ms in all. */
void
proc_flush(struct imsgbuf *ibuf, int ms)
{
	struct pollfd	 pfd;
	int		 step = 10;

	while (imsgbuf_queuelen(ibuf) > 0 && ms > 0) {
		if (imsgbuf_write(ibuf) == -1)
			return;
		if (imsgbuf_queuelen(ibuf) == 0)
			return;
		pfd.fd = ibuf->fd;
		pfd.events = POLLOUT;
		(void)poll(&pfd, 1, step);
		ms -= step;
	}
}

static int
proc_log_sink(int pri, const char *text, size_t len, void *arg)
{
	struct imsgev	*iev = arg;

	if (!iev->active)
		return (-1);
	if (iev->lock != NULL) {
		pthread_mutex_lock(iev->lock);
		if (proc_log_compose(&iev->ibuf, pri, proc_log_dropped, NULL,
		    text, len) == -1)
			proc_log_dropped++;
		else {
			proc_log_dropped = 0;
			imsgev_flush_locked(iev);
		}
		pthread_mutex_unlock(iev->lock);
		return (0);
	}
	if (proc_log_compose(&iev->ibuf, pri, proc_log_dropped, NULL, text,
	    len) == -1) {
		proc_log_dropped++;
		return (0);
	}
	proc_log_dropped = 0;
	imsgev_add(iev);
	return (0);
}

/*
 * Before a process has its event loop: each line goes at once, over a
 * channel of its own on fd, and the process waits until it is written.
 */
static struct imsgbuf	 proc_early_ibuf;

static int
proc_log_early(int pri, const char *text, size_t len, void *arg)
{
	if (proc_log_compose(&proc_early_ibuf, pri, proc_log_dropped, NULL,
	    text, len) == -1) {
		proc_log_dropped++;
		return (0);
	}
	proc_log_dropped = 0;
	proc_flush(&proc_early_ibuf, PROC_LOG_FLUSH_MS);
	return (0);
}

/* Until proc_log_to, this process's log lines go over fd, one by one. */
void
proc_log_fd(int fd)
{
	if (imsgbuf_init(&proc_early_ibuf, fd) == -1)
		return;
	log_setsink(proc_log_early, NULL);
}

/* From now on this process's log lines go to the parent over iev. */
void
proc_log_to(struct imsgev *iev)
{
	log_setsink(proc_log_sink, iev);
}

/* Ignore every signal vmd does not use; first thing in every process. */
void
proc_signals_ignore(void)
{
	size_t	 i;
	int	 sig;

	for (i = 0; i < PROC_NUNUSED; i++)
		signal(proc_unused_signals[i], SIG_IGN);
	for (sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		signal(sig, SIG_IGN);
}

/* "ignoring SIGUSR1", at most once a second for each signal. */
static void
proc_signal_ignored(int sig, short events, void *arg)
{
	static time_t	 last[PROC_NUNUSED];
	struct timespec	 ts;
	size_t		 i;

	for (i = 0; i < PROC_NUNUSED; i++)
		if (proc_unused_signals[i] == sig)
			break;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (i < PROC_NUNUSED && last[i] == ts.tv_sec)
		return;
	if (i < PROC_NUNUSED)
		last[i] = ts.tv_sec;
	log_info("ignoring SIG%s", sigabbrev_np(sig));
}

/*
 * Log the unused signals from evbase's loop, but for the one this
 * process uses itself (except: the vm process's vCPU kick), or 0.
 */
void
proc_signals_log(struct event_base *evbase, int except)
{
	struct event	*ev;
	size_t		 i;

	for (i = 0; i < PROC_NUNUSED; i++) {
		if (proc_unused_signals[i] == except)
			continue;
		if ((ev = evsignal_new(evbase, proc_unused_signals[i],
		    proc_signal_ignored, NULL)) == NULL ||
		    event_add(ev, NULL) == -1)
			log_warnx("cannot watch signal %d",
			    proc_unused_signals[i]);
	}
}
