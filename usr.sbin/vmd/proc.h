/*
 * proc.h: vmd's privilege separation framework.  One table of roles
 * (title, id, dispatcher, entry), one way to start a role (fork and
 * fexecve of vmd's own binary with the role's channel on fd 3), one way
 * to enter it (privilege drop, parent-death signal, sandbox), and the
 * imsg-over-libevent helpers every process uses.  Nothing here knows
 * about VMs; nothing here may trust a message before its dispatcher
 * checked its type and size.
 */

#ifndef PROC_H
#define PROC_H

#include <sys/types.h>

#include <event.h>

#include "imsg.h"
#include "vmd.h"

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

enum proc_id {
	PROC_PARENT,
	PROC_CONTROL,
	PROC_VMM,
	PROC_VM,
	PROC_MAX
};

struct proc_env;

/* sandbox.c's policies */
enum sandbox_role {
	SANDBOX_PARENT,
	SANDBOX_CONTROL,
	SANDBOX_VMM,
	SANDBOX_VM
};

/* A row of the role table. */
struct proc_role {
	const char	*title;		/* -P argument and log name */
	enum proc_id	 id;
	int		 privdrop;	/* switch to _vmd (needs root) */
	int		 chroot;	/* chroot to _vmd's home first */
	enum sandbox_role sandbox;
	int		 late_sandbox;	/* run() enters the sandbox itself */
	void		(*run)(struct proc_env *) __attribute__((noreturn));
};

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
};

/* sandbox.c */
void		 sandbox_enter(enum sandbox_role);
void		 sandbox_exe(int);
void		 sandbox_landlock(enum sandbox_role);
void		 sandbox_seccomp(enum sandbox_role);

/* control.c */
void		 control_run(struct proc_env *) __attribute__((noreturn));

/* vmm.c */
void		 vmm_run(struct proc_env *) __attribute__((noreturn));

/* proc.c */
const struct proc_role	*proc_role_find(const char *);
void		 proc_env_init(struct proc_env *, int, int);
void		 proc_run(struct proc_env *, const char *, const char *)
		    __attribute__((noreturn));
pid_t		 proc_spawn(struct proc_env *, const char *, const char *,
		    const int *, int);
const char	*proc_spawn_error(void);
void		 proc_signals_ignore(void);
void		 proc_signals_log(struct event_base *, int);
int		 proc_pdeathsig(pid_t);
int		 proc_lookup_user(struct proc_env *);
int		 imsgev_init(struct imsgev *, struct event_base *, int,
		    const char *, int, imsgev_dispatch_fn, imsgev_closed_fn,
		    void *);
void		 imsgev_add(struct imsgev *);
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
