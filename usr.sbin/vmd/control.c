/*
 * control.c: the control process.  It holds the listening control socket
 * (created by the parent, on descriptor 4) and one imsg channel per vmctl
 * connection, learns each client's uid from SO_PEERCRED, and relays
 * well-formed requests to the parent (peerid = connection id, pid = uid)
 * and the parent's answers back to the connection they belong to.  A
 * client with CONTROL_MAX_INFLIGHT requests not yet answered is not read
 * until an answer comes, so no client can queue work without end.  It
 * refuses root-only requests (load, reload, reset, log) from other
 * users but decides nothing about VMs, and must never believe what a
 * client says about itself; a malformed request gets IMSG_CTL_FAIL,
 * never a crash.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "config.h"
#include "vmd.h"

#define CONTROL_MAX_CONNS	64	/* clients at once */
#define CONTROL_ROOT_CONNS	8	/* of those, kept for root */
#define CONTROL_UID_CONNS	16	/* clients of one user at once */
#define CONTROL_MAX_QUEUE	1024	/* unread answers before we hang up */
#define CONTROL_MAX_INFLIGHT	4	/* a client's requests at the parent */

struct control;

struct ctl_conn {
	TAILQ_ENTRY(ctl_conn)	 entry;
	uint32_t		 id;
	uid_t			 uid;
	unsigned int		 inflight;	/* requests not answered yet */
	struct imsgev		 iev;
	struct control		*ctl;
	char			 name[32];
};

struct control {
	struct proc_env		*env;
	struct imsgev		 parent;
	int			 lsock;
	struct event		 ev_accept;
	struct event		 ev_pause;
	struct event		 ev_sigterm;
	TAILQ_HEAD(, ctl_conn)	 conns;
	unsigned int		 nconns;
	uint32_t		 nextid;
	uint32_t		 info_run;	/* DATA of the status being relayed */
	uint32_t		 info_max;	/* messages of the longest status */
};

static void	 control_accept(int, short, void *);
static void	 control_resume(int, short, void *);
static void	 control_sigterm(int, short, void *);
static int	 control_dispatch_client(struct imsgev *, struct imsg *);
static void	 control_client_closed(struct imsgev *);
static int	 control_dispatch_parent(struct imsgev *, struct imsg *);
static void	 control_parent_closed(struct imsgev *);
static int	 control_fail(struct ctl_conn *, int, const char *);
static int	 control_conn_ok(struct control *, uid_t);
static int	 control_queue_full(struct ctl_conn *);
static int	 control_final(uint32_t);
static struct ctl_conn *control_conn_find(struct control *, uint32_t);
static void	 control_limit_notify(void);
static void	 control_limit_flush(int, short, void *);

/* Reports what log_limited dropped, a second after the first drop. */
static struct event	 control_ev_limit;

void
control_run(struct proc_env *env)
{
	struct control	 ctl;
	int		 flags;

	memset(&ctl, 0, sizeof(ctl));
	ctl.env = env;
	ctl.nextid = 1;
	TAILQ_INIT(&ctl.conns);
	ctl.lsock = PROC_CONTROL_SOCK_FD;

	/* The parent orchestrates shutdown; a terminal ^C is its signal. */
	signal(SIGINT, SIG_IGN);

	if ((env->evbase = event_base_new()) == NULL)
		fatalx("event_base_new");
	if (imsgev_init(&ctl.parent, env->evbase, PROC_PARENT_FD, "parent",
	    0, control_dispatch_parent, control_parent_closed, &ctl) == -1)
		fatal("parent channel");
	proc_log_to(&ctl.parent);

	if ((flags = fcntl(ctl.lsock, F_GETFL)) == -1 ||
	    fcntl(ctl.lsock, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(ctl.lsock, F_SETFD, FD_CLOEXEC) == -1)
		fatal("control socket");
	event_assign(&ctl.ev_accept, env->evbase, ctl.lsock,
	    EV_READ | EV_PERSIST, control_accept, &ctl);
	evtimer_assign(&ctl.ev_pause, env->evbase, control_resume, &ctl);
	evsignal_assign(&ctl.ev_sigterm, env->evbase, SIGTERM,
	    control_sigterm, &ctl);
	evtimer_assign(&control_ev_limit, env->evbase, control_limit_flush,
	    NULL);
	log_limited_notify(control_limit_notify);
	proc_signals_log(env->evbase, 0);
	if (event_add(&ctl.ev_accept, NULL) == -1 ||
	    event_add(&ctl.ev_sigterm, NULL) == -1)
		fatalx("cannot watch the control socket");

	log_debug("ready");
	event_base_dispatch(env->evbase);
	exit(0);
}

static void
control_limit_notify(void)
{
	struct timeval	 tv = { 1, 0 };

	evtimer_add(&control_ev_limit, &tv);
}

static void
control_limit_flush(int fd, short events, void *arg)
{
	log_limited_flush();
}

static void
control_sigterm(int sig, short events, void *arg)
{
	exit(0);
}

static void
control_parent_closed(struct imsgev *iev)
{
	/* Without the parent there is nothing to relay to. */
	log_debug("parent gone, exiting");
	exit(0);
}

/* Out of descriptors: stop accepting for a second instead of spinning. */
static void
control_pause(struct control *ctl)
{
	struct timeval	 tv = { 1, 0 };

	event_del(&ctl->ev_accept);
	evtimer_add(&ctl->ev_pause, &tv);
}

static void
control_resume(int fd, short events, void *arg)
{
	struct control	*ctl = arg;

	event_add(&ctl->ev_accept, NULL);
}

static void
control_accept(int lsock, short events, void *arg)
{
	struct control		*ctl = arg;
	struct ctl_conn		*c;
	struct ucred		 cred;
	socklen_t		 len = sizeof(cred);
	int			 fd;

	if ((fd = accept4(lsock, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			log_warn("accept");
			control_pause(ctl);
		} else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    len != sizeof(cred)) {
		log_warn("SO_PEERCRED");
		close(fd);
		return;
	}
	if (!control_conn_ok(ctl, cred.uid)) {
		log_limited(LOG_ERR, "too many clients of uid %u, "
		    "connection refused", (unsigned)cred.uid);
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s", __func__);
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->uid = cred.uid;
	c->id = ctl->nextid++;
	if (ctl->nextid == VMD_PEERID_NONE)
		ctl->nextid = 1;
	(void)snprintf(c->name, sizeof(c->name), "client %u", c->id);
	if (imsgev_init(&c->iev, ctl->env->evbase, fd, c->name, 0,
	    control_dispatch_client, control_client_closed, c) == -1) {
		log_warn("%s", c->name);
		close(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&ctl->conns, c, entry);
	ctl->nconns++;
	log_debug("%s: connected, uid %u", c->name, (unsigned)c->uid);
}

/*
 * One user must not be able to lock everybody out by holding
 * connections open: each user gets a share, and root always finds a
 * free slot among the last few.
 */
static int
control_conn_ok(struct control *ctl, uid_t uid)
{
	struct ctl_conn	*c;
	unsigned int	 mine = 0;

	if (ctl->nconns >= CONTROL_MAX_CONNS)
		return (0);
	if (uid == 0)
		return (1);
	if (ctl->nconns >= CONTROL_MAX_CONNS - CONTROL_ROOT_CONNS)
		return (0);
	TAILQ_FOREACH(c, &ctl->conns, entry)
		if (c->uid == uid)
			mine++;
	return (mine < CONTROL_UID_CONNS);
}

static void
control_client_closed(struct imsgev *iev)
{
	struct ctl_conn	*c = iev->arg;
	struct control	*ctl = c->ctl;

	log_debug("%s: disconnected", c->name);
	/* so that the parent forgets what this client waits for */
	imsgev_compose(&ctl->parent, IMSG_CTL_CLIENT_GONE, c->id, 0, -1,
	    NULL, 0);
	TAILQ_REMOVE(&ctl->conns, c, entry);
	ctl->nconns--;
	free(c);
}

static struct ctl_conn *
control_conn_find(struct control *ctl, uint32_t id)
{
	struct ctl_conn	*c;

	TAILQ_FOREACH(c, &ctl->conns, entry)
		if (c->id == id)
			return (c);
	return (NULL);
}

/* A client that does not read what we answer is not kept forever. */
static int
control_queue_full(struct ctl_conn *c)
{
	struct control	*ctl = c->ctl;
	uint32_t	 answer = ctl->info_max > ctl->info_run + 1 ?
			    ctl->info_max : ctl->info_run + 1;

	/*
	 * Room for the answers to every request it may have in flight, a
	 * status of every VM being the longest, and CONTROL_MAX_QUEUE more:
	 * a client that reads is never cut off, however many VMs there are.
	 */
	if (imsgbuf_queuelen(&c->iev.ibuf) < CONTROL_MAX_QUEUE +
	    CONTROL_MAX_INFLIGHT * answer)
		return (0);
	log_warnx("%s: not reading its answers, disconnected", c->name);
	return (1);
}

/*
 * Refuse a request.  Returns -1 when the client must be dropped instead
 * (it does not read its answers), as its dispatcher then returns.
 */
static int
control_fail(struct ctl_conn *c, int error, const char *reason)
{
	struct vmop_result	 vmr;

	if (control_queue_full(c))
		return (-1);
	memset(&vmr, 0, sizeof(vmr));
	vmr.vmr_result = error;
	(void)snprintf(vmr.vmr_reason, sizeof(vmr.vmr_reason), "%s", reason);
	imsgev_compose(&c->iev, IMSG_CTL_FAIL, 0, 0, -1, &vmr, sizeof(vmr));
	return (0);
}

/*
 * One request from vmctl: msg_check() decides whether it is
 * well-formed, root-only requests from anybody else stop here, the rest
 * goes to the parent with the uid from SO_PEERCRED in the pid field.
 */
static int
control_dispatch_client(struct imsgev *iev, struct imsg *imsg)
{
	struct ctl_conn		*c = iev->arg;
	union {
		struct vmop_create_params	vmc;
		struct vmop_id			vid;
		struct vmop_path		vp;
		struct vmop_reset		vr;
		int32_t				level;
	}			 req;
	uint32_t		 type = imsg_get_type(imsg);
	size_t			 len = imsg_get_len(imsg);
	char			 reason[VM_REASON_MAX];
	int			 error;

	if (len > sizeof(req)) {
		log_limited(LOG_ERR, "%s: request type %u with %zu bytes, "
		    "dropped", c->name, type, len);
		return (control_fail(c, EINVAL,
		    "malformed request: wrong size"));
	}
	if (len > 0 && imsg_get_data(imsg, &req, len) == -1)
		return (control_fail(c, EINVAL, "malformed request"));
	if ((error = msg_check(MSG_CLIENT, type, len > 0 ? &req : NULL, len,
	    reason, sizeof(reason))) != 0) {
		log_limited(LOG_ERR, "%s: request type %u: %s", c->name, type,
		    reason);
		return (control_fail(c, error, reason));
	}
	if (perm_root_only(type) && c->uid != 0) {
		log_limited(LOG_ERR, "denied request %u from uid %u", type,
		    (unsigned)c->uid);
		return (control_fail(c, EPERM, "permission denied"));
	}
	if (imsgev_compose(&c->ctl->parent, type, c->id, (pid_t)c->uid, -1,
	    len > 0 ? &req : NULL, len) == -1)
		return (control_fail(c, EBUSY, "vmd is busy, try again"));
	/* Back-pressure: this client waits for answers before it may ask. */
	if (++c->inflight >= CONTROL_MAX_INFLIGHT)
		imsgev_pause(&c->iev);
	return (0);
}

/* Does this answer end a request (GET_INFO's DATA does not)? */
static int
control_final(uint32_t type)
{
	return (type != IMSG_VMDOP_GET_INFO_VM_DATA);
}

/*
 * From the parent: answers, routed to their client if still there, and
 * a new log level for this process.
 */
static int
control_dispatch_parent(struct imsgev *iev, struct imsg *imsg)
{
	struct control		*ctl = iev->arg;
	struct ctl_conn		*c;
	union {
		struct vmop_result	vmr;
		struct vmop_info_result	vir;
		int32_t			level;
	}			 ans;
	uint32_t		 type = imsg_get_type(imsg);
	size_t			 want = imsg_get_len(imsg);

	if (!msg_ok(imsg, MSG_REPLY | MSG_PARENT_CONTROL, "parent"))
		return (0);
	if (type == IMSG_CTL_VERBOSE) {
		if (imsg_get_data(imsg, &ans.level, sizeof(ans.level)) == 0) {
			log_setverbose(ans.level);
			ctl->env->verbose = ans.level;
		}
		return (0);
	}
	if (want > sizeof(ans) ||
	    (want > 0 && imsg_get_data(imsg, &ans, want) == -1))
		return (0);
	/* The parent sends a status whole: DATA for each VM, then END. */
	if (type == IMSG_VMDOP_GET_INFO_VM_DATA)
		ctl->info_run++;
	else if (type == IMSG_VMDOP_GET_INFO_VM_END_DATA) {
		if (ctl->info_run + 1 > ctl->info_max)
			ctl->info_max = ctl->info_run + 1;
		ctl->info_run = 0;
	}
	if ((c = control_conn_find(ctl, imsg_get_id(imsg))) == NULL) {
		log_limited(LOG_DEBUG, "answer for gone client %u dropped",
		    imsg_get_id(imsg));
		return (0);
	}
	if (control_queue_full(c)) {
		imsgev_clear(&c->iev);
		control_client_closed(&c->iev);
		return (0);
	}
	imsgev_compose(&c->iev, type, 0, 0, -1, want > 0 ? &ans : NULL,
	    want);
	if (control_final(type) && c->inflight > 0 &&
	    --c->inflight < CONTROL_MAX_INFLIGHT && c->iev.paused)
		(void)imsgev_resume(&c->iev);	/* may close c */
	return (0);
}
