/*
 * proc.h: vmd's privilege separation framework.  One table of roles
 * (roles.c: title, flags, sandbox policy, entry, device), one way to
 * start a role (fork and fexecve of vmd's own binary with the role's
 * channels on fd 3 and up), one way to enter it (privilege drop,
 * parent-death signal, sandbox), and the imsg-over-libevent helpers
 * every process uses.  Nothing here knows
 * about VMs; nothing here may trust a message before its dispatcher
 * checked its type and size.
 */

#ifndef PROC_H
#define PROC_H

#include <sys/types.h>

#include <pthread.h>

#include <event.h>

#include "imsg.h"
#include "vmd.h"

/*
 * SANITIZE=1 builds: the sanitizer runtimes read /proc (LeakSanitizer
 * lists there the threads it stops at exit), so the sandboxes let them
 * and no role is chrooted away from it (proc.c, sandbox.c).
 */
#if defined(__SANITIZE_ADDRESS__)
#define PROC_SANITIZER		1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROC_SANITIZER		1
#endif
#endif
#ifndef PROC_SANITIZER
#define PROC_SANITIZER		0
#endif

/*
 * Every imsgev queues at most this many messages by default: past it a
 * compose fails (ENOBUFS) instead of growing the process without end.
 * A safety net far above what the back-pressure lets through (a status
 * of every VM for each request in flight), not a working limit.
 */
#define IMSGEV_MAXQUEUE		65536

/* Descriptors a re-exec'd role finds in place. */
#define PROC_PARENT_FD		3	/* the channel to the parent */
#define PROC_CONTROL_SOCK_FD	4	/* control: the listening socket */
#define PROC_EXE_FD		4	/* vmm: vmd's binary, for fexecve */
#define PROC_DEVICE_VM_FD	4	/* a device: its channel to the vm */

struct proc_env;
struct devproc_ops;
struct sandbox_policy;

/*
 * A row of the role table (roles.c): one per kind of process.  Adding a
 * role, a device process above all, is adding a row.
 */
#define PROC_PRIVDROP	0x01	/* switch to _vmd (needs root) */
#define PROC_CHROOT	0x02	/* chroot to _vmd's home first */
#define PROC_LATE	0x04	/* run() enters the sandbox itself */
#define PROC_PER_VM	0x08	/* started by vmm for one VM, -N names it */
#define PROC_SPAWNS	0x10	/* starts the PER_VM roles: vmd's binary */
#define PROC_ROOT	0x20	/* stays root: its sandbox drops the rest */

struct proc_role {
	const char			*title;	/* -P argument, log name */
	unsigned int			 flags;
	const struct sandbox_policy	*sandbox;
	void				(*run)(struct proc_env *)
					    __attribute__((noreturn));
	const struct devproc_ops	*dev;	/* device roles: the device */
};

/* roles.c */
extern const struct proc_role	 proc_roles[];
extern const size_t		 proc_nroles;

/* What every process of vmd knows about itself. */
struct proc_env {
	const struct proc_role	*role;
	struct event_base	*evbase;
	int			 debug;
	int			 verbose;
	pid_t			 ppid;		/* parent at start */
	int			 exe_fd;	/* vmd's binary or -1 */
	const char		*vm_name;	/* role vm */
	uid_t			 vmd_uid;
	gid_t			 vmd_gid;
	char			 vmd_home[PATH_MAX];
};

struct imsgev;

/*
 * A dispatcher gets one message; it returns 0 to go on, -1 when the
 * channel must be closed (the closed callback then runs).
 */
typedef int	(*imsgev_dispatch_fn)(struct imsgev *, struct imsg *);
typedef void	(*imsgev_closed_fn)(struct imsgev *);

/* An imsg channel driven by libevent. */
struct imsgev {
	struct imsgbuf		 ibuf;
	struct event		 ev;
	struct event_base	*evbase;
	short			 events;	/* currently registered */
	int			 active;
	int			 paused;	/* not reading: imsgev_pause */
	uint32_t		 maxqueue;	/* queued messages at most */
	imsgev_dispatch_fn	 dispatch;
	imsgev_closed_fn	 closed;
	void			*arg;
	const char		*name;		/* peer, for logs */
	pthread_mutex_t		*lock;		/* imsgev_threads */
	struct event		*ev_wake;	/* another thread queued */
};

/*
 * sandbox.c: one policy per kind of process, each a list of groups of
 * system calls with the reason for each (struct sandbox_calls), plus
 * its Landlock rules; a role may add groups of its own.
 */
struct sandbox_calls {
	const char	*why;		/* NULL ends a list */
	const int	*calls;
	size_t		 n;
};
#define SANDBOX_CALLS(why, list) \
	{ (why), (list), sizeof(list) / sizeof((list)[0]) }

extern const struct sandbox_policy sandbox_parent;
extern const struct sandbox_policy sandbox_control;
extern const struct sandbox_policy sandbox_vmm;
extern const struct sandbox_policy sandbox_vm;
extern const struct sandbox_policy sandbox_device;
extern const struct sandbox_policy sandbox_priv;

void		 sandbox_enter(const struct sandbox_policy *,
		    const struct sandbox_calls *const *);
void		 sandbox_exe(int);
void		 sandbox_landlock(const struct sandbox_policy *);
void		 sandbox_seccomp(const struct sandbox_policy *,
		    const struct sandbox_calls *const *);
const struct sandbox_calls *sandbox_groups(const struct sandbox_policy *);

/* control.c */
void		 control_run(struct proc_env *) __attribute__((noreturn));

/* priv.c */
void		 priv_run(struct proc_env *) __attribute__((noreturn));

/* vmm.c */
void		 vmm_run(struct proc_env *) __attribute__((noreturn));

/* proc.c */
const struct proc_role	*proc_role_find(const char *);
const struct proc_role	*proc_role_device(uint32_t);
const struct sandbox_calls *const *proc_role_calls(const struct proc_role *);
void		 proc_log_fd(int);
void		 proc_env_init(struct proc_env *, int, int);
void		 proc_run(struct proc_env *, const char *, const char *)
		    __attribute__((noreturn));
pid_t		 proc_spawn(struct proc_env *, const char *, const char *,
		    const char *, const int *, int);
const char	*proc_spawn_error(void);
void		 proc_signals_ignore(void);
void		 proc_signals_log(struct event_base *, int);
int		 proc_pdeathsig(pid_t);
int		 proc_lookup_user(struct proc_env *);
int		 imsgev_init(struct imsgev *, struct event_base *, int,
		    const char *, int, imsgev_dispatch_fn, imsgev_closed_fn,
		    void *);
void		 imsgev_add(struct imsgev *);
int		 imsgev_threads(struct imsgev *, pthread_mutex_t *);
int		 imsgev_compose_sync(struct imsgev *, uint32_t, const void *,
		    size_t, int);
int		 imsgev_compose(struct imsgev *, uint32_t, uint32_t, pid_t,
		    int, const void *, size_t);
void		 imsgev_clear(struct imsgev *);
void		 imsgev_pause(struct imsgev *);
int		 imsgev_resume(struct imsgev *);
int		 imsgev_room(struct imsgev *, uint32_t);
int		 imsgev_drain(struct imsgev *);
int		 msg_ok(struct imsg *, uint32_t, const char *);
void		 proc_log_to(struct imsgev *);
int		 proc_log_compose(struct imsgbuf *, int, uint32_t,
		    const char *, const char *, size_t);
int		 proc_log_parse(struct imsg *, struct vmop_log *, char *,
		    size_t);
void		 proc_flush(struct imsgbuf *, int);


#endif /* PROC_H */
