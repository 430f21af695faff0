/*
 * vmm.c: the vmm process.  Running as _vmd, it collects the descriptors
 * the parent opened for a VM and starts the VM's processes (fork and
 * fexecve of vmd through the binary descriptor it inherited, so it
 * needs no filesystem): one "vm NAME" process, and one device process
 * ("vm NAME vioblk 0") for each disk or interface whose device runs
 * apart, each with its own descriptors, a channel to vmm and a channel
 * to the vm process, which vmm makes and hands to both ends.  It relays
 * the vm's news and every child's log lines to the parent, pauses and
 * unpauses VMs through their vm process, passes the log level on,
 * terminates VMs on request and reaps every child, reporting exactly
 * one end per VM: the vm's own, or the death of one of its device
 * processes, which ends the whole VM.  Nothing of a VM outlives it.  It
 * must never trust a child: ids, pids and names in what it relays are
 * its own, and a child that dies or talks nonsense only ends its VM.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

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
#include "util.h"
#include "proc.h"
#include "config.h"
#include "devproc.h"
#include "vmd.h"

#define VMM_KILL_TIMEOUT	5	/* seconds from SIGTERM to SIGKILL */

struct vmm;
struct vmm_guest;

/* One process of a VM: its vm process or one of its device processes. */
struct vmm_child {
	TAILQ_ENTRY(vmm_child)	 entry;
	struct vmm_guest	*guest;
	const struct proc_role	*role;
	uint32_t		 index;		/* which disk, interface */
	pid_t			 pid;
	struct imsgev		 iev;		/* its channel to vmm */
	char			 title[VMD_PROCNAME_MAX];
	char			 last_word[VM_REASON_MAX];	/* its fatal */
	uint32_t		 log_dropped;	/* its lines we dropped */
};
TAILQ_HEAD(vmm_children, vmm_child);

/* One VM as vmm sees it: its start, its processes, its end. */
struct vmm_guest {
	TAILQ_ENTRY(vmm_guest)	 entry;
	struct vmm		*vmm;
	uint32_t		 id;
	char			 name[VM_NAME_MAX];
	struct vmop_fdset	 fds;		/* until handed on */
	char			 start_error[192];	/* or "" */
	int			 spawned;	/* children started */
	struct vmm_children	 children;
	struct vmm_child	*vm;		/* the vm process, until reaped */
	pid_t			 vm_pid;
	int			 started;
	int			 have_end;
	struct vmop_result	 end;		/* how it ended */
	int			 ending;	/* its processes were told */
	struct event		 ev_kill;
	int			 kill_armed;
};

struct vmm {
	struct proc_env		*env;
	struct imsgev		 parent;
	TAILQ_HEAD(, vmm_guest)	 guests;
	struct event		 ev_sigchld;
	struct event		 ev_sigterm;
};

static int	 vmm_dispatch_parent(struct imsgev *, struct imsg *);
static void	 vmm_parent_closed(struct imsgev *);
static int	 vmm_dispatch_child(struct imsgev *, struct imsg *);
static void	 vmm_child_closed(struct imsgev *);
static void	 vmm_sigchld(int, short, void *);
static void	 vmm_sigterm(int, short, void *);
static void	 vmm_kill_timeout(int, short, void *);
static void	 vmm_start_fd(struct vmm *, struct imsg *);
static void	 vmm_start_end(struct vmm *, struct imsg *);
static int	 vmm_start_devices(struct vmm_guest *,
		    struct vmop_create_params *, char *, size_t);
static void	 vmm_terminate(struct vmm *, struct imsg *);
static void	 vmm_pause(struct vmm *, struct imsg *);
static void	 vmm_verbose(struct vmm *, struct imsg *);
static void	 vmm_vm_news(struct vmm_child *, struct imsg *);
static void	 vmm_child_log(struct vmm_child *, struct imsg *);
static void	 vmm_child_reaped(struct vmm_child *, int);
static void	 vmm_guest_end(struct vmm_guest *, const char *);
static void	 vmm_guest_free(struct vmm_guest *);
static void	 vmm_report_end(struct vmm *, uint32_t, pid_t, uint32_t,
		    int, const char *);
static void	 vmm_shutdown(struct vmm *) __attribute__((noreturn));

void
vmm_run(struct proc_env *env)
{
	struct vmm	 vmm;
	struct stat	 st;

	memset(&vmm, 0, sizeof(vmm));
	vmm.env = env;
	TAILQ_INIT(&vmm.guests);

	/* vmd's own binary, to start processes; theirs is not to keep. */
	env->exe_fd = PROC_EXE_FD;
	if (fstat(env->exe_fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    fcntl(env->exe_fd, F_SETFD, FD_CLOEXEC) == -1)
		fatalx("descriptor %d is not vmd's binary", PROC_EXE_FD);

	signal(SIGINT, SIG_IGN);

	if ((env->evbase = event_base_new()) == NULL)
		fatalx("event_base_new");
	if (imsgev_init(&vmm.parent, env->evbase, PROC_PARENT_FD, "parent",
	    1, vmm_dispatch_parent, vmm_parent_closed, &vmm) == -1)
		fatal("parent channel");
	proc_log_to(&vmm.parent);
	proc_signals_log(env->evbase, 0);
	evsignal_assign(&vmm.ev_sigchld, env->evbase, SIGCHLD, vmm_sigchld,
	    &vmm);
	evsignal_assign(&vmm.ev_sigterm, env->evbase, SIGTERM, vmm_sigterm,
	    &vmm);
	if (event_add(&vmm.ev_sigchld, NULL) == -1 ||
	    event_add(&vmm.ev_sigterm, NULL) == -1)
		fatalx("cannot watch signals");

	log_debug("ready");
	event_base_dispatch(env->evbase);
	vmm_shutdown(&vmm);
}

/* End every process of every VM now and leave. */
static void
vmm_shutdown(struct vmm *vmm)
{
	struct vmm_guest	*g;
	struct vmm_child	*c;
	int			 status;

	TAILQ_FOREACH(g, &vmm->guests, entry)
		TAILQ_FOREACH(c, &g->children, entry)
			kill(c->pid, SIGKILL);
	TAILQ_FOREACH(g, &vmm->guests, entry)
		TAILQ_FOREACH(c, &g->children, entry)
			while (waitpid(c->pid, &status, 0) == -1 &&
			    errno == EINTR)
				;
	exit(0);
}

static void
vmm_sigterm(int sig, short events, void *arg)
{
	vmm_shutdown(arg);
}

static void
vmm_parent_closed(struct imsgev *iev)
{
	log_debug("parent gone, exiting");
	vmm_shutdown(iev->arg);
}

static struct vmm_guest *
vmm_guest_find(struct vmm *vmm, uint32_t id)
{
	struct vmm_guest	*g;

	TAILQ_FOREACH(g, &vmm->guests, entry)
		if (g->id == id)
			return (g);
	return (NULL);
}

static struct vmm_child *
vmm_child_find(struct vmm *vmm, pid_t pid)
{
	struct vmm_guest	*g;
	struct vmm_child	*c;

	TAILQ_FOREACH(g, &vmm->guests, entry)
		TAILQ_FOREACH(c, &g->children, entry)
			if (c->pid == pid)
				return (c);
	return (NULL);
}

static struct vmm_guest *
vmm_guest_new(struct vmm *vmm, uint32_t id)
{
	struct vmm_guest	*g;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return (NULL);
	g->vmm = vmm;
	g->id = id;
	g->vm_pid = -1;
	vmop_fdset_init(&g->fds);
	TAILQ_INIT(&g->children);
	TAILQ_INSERT_TAIL(&vmm->guests, g, entry);
	return (g);
}

/* Only once its children are reaped. */
static void
vmm_guest_free(struct vmm_guest *g)
{
	TAILQ_REMOVE(&g->vmm->guests, g, entry);
	if (g->kill_armed)
		evtimer_del(&g->ev_kill);
	vmop_fdset_close(&g->fds);
	free(g);
}

static int
vmm_dispatch_parent(struct imsgev *iev, struct imsg *imsg)
{
	struct vmm	*vmm = iev->arg;

	if (!msg_ok(imsg, MSG_PARENT_VMM, "parent"))
		return (0);
	switch (imsg_get_type(imsg)) {
	case IMSG_VMDOP_START_VM_FD:
		vmm_start_fd(vmm, imsg);
		break;
	case IMSG_VMDOP_START_VM_END:
		vmm_start_end(vmm, imsg);
		break;
	case IMSG_VMDOP_VM_TERMINATE:
		vmm_terminate(vmm, imsg);
		break;
	case IMSG_VMDOP_PAUSE_VM:
	case IMSG_VMDOP_UNPAUSE_VM:
	case IMSG_VMDOP_VM_SHUTDOWN:
		vmm_pause(vmm, imsg);
		break;
	case IMSG_CTL_VERBOSE:
		vmm_verbose(vmm, imsg);
		break;
	}
	return (0);
}

/*
 * One of a VM's descriptors; kept until START_VM_END for that id.  The
 * first one refused is remembered: the start then fails with it.
 */
static void
vmm_start_fd(struct vmm *vmm, struct imsg *imsg)
{
	struct vmop_fd		 vmf;
	struct vmm_guest	*g;
	char			 err[192];
	int			 fd;

	fd = imsg_get_fd(imsg);
	(void)imsg_get_data(imsg, &vmf, sizeof(vmf));
	if ((g = vmm_guest_find(vmm, vmf.vmf_id)) == NULL &&
	    (g = vmm_guest_new(vmm, vmf.vmf_id)) == NULL) {
		log_warn("%s", __func__);
		if (fd != -1)
			close(fd);
		return;
	}
	if (g->spawned) {
		log_warnx("vm %u: descriptor after the start", g->id);
		if (fd != -1)
			close(fd);
		return;
	}
	if (vmop_fdset_put(&g->fds, &vmf, fd, err, sizeof(err)) == -1) {
		log_warnx("vm %u: %s", g->id, err);
		if (g->start_error[0] == '\0')
			(void)snprintf(g->start_error, sizeof(g->start_error),
			    "%s", err);
	}
}

static void
vmm_report_end(struct vmm *vmm, uint32_t id, pid_t pid, uint32_t state,
    int error, const char *reason)
{
	struct vmop_result	 vmr;

	memset(&vmr, 0, sizeof(vmr));
	vmr.vmr_id = id;
	vmr.vmr_pid = pid;
	vmr.vmr_state = state;
	vmr.vmr_result = error;
	(void)snprintf(vmr.vmr_reason, sizeof(vmr.vmr_reason), "%s", reason);
	imsgev_compose(&vmm->parent, IMSG_VMDOP_TERMINATE_VM_EVENT, 0, 0, -1,
	    &vmr, sizeof(vmr));
}

/* The kind of channel a device process of fds of kind gets, or -1. */
static int
vmm_chan_kind(uint32_t kind)
{
	switch (kind) {
	case VMOP_FD_DISK:
		return (VMOP_FD_VIOBLK);
	case VMOP_FD_TAP:
		return (VMOP_FD_VIONET);
	default:
		return (-1);
	}
}

/*
 * Start a child of g in role with fds on 3, 4, ...  Its channel to vmm
 * is fds[0]'s other end, chan, which is the child's now (closed if it
 * cannot start).  Returns it, or NULL with reason.
 */
static struct vmm_child *
vmm_child_spawn(struct vmm_guest *g, const struct proc_role *role,
    uint32_t index, int chan, const int *fds, int nfds, char *reason,
    size_t rlen)
{
	struct vmm_child	*c;
	char			 show[VMD_PROCNAME_MAX + 8];

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		(void)snprintf(reason, rlen, "out of memory");
		return (NULL);
	}
	c->guest = g;
	c->role = role;
	c->index = index;
	if (role->dev != NULL)
		(void)snprintf(c->title, sizeof(c->title), "vm %s %s %u",
		    g->name, role->title, index);
	else
		(void)snprintf(c->title, sizeof(c->title), "vm %s", g->name);
	(void)snprintf(show, sizeof(show), "vmd: %s", c->title);
	if ((c->pid = proc_spawn(g->vmm->env, role->title, g->name, show,
	    fds, nfds)) == -1) {
		(void)snprintf(reason, rlen, "cannot start %s process: %s",
		    role->dev != NULL ? role->title : "vm",
		    proc_spawn_error());
		close(chan);
		free(c);
		return (NULL);
	}
	TAILQ_INSERT_TAIL(&g->children, c, entry);
	if (imsgev_init(&c->iev, g->vmm->env->evbase, chan, c->title, 1,
	    vmm_dispatch_child, vmm_child_closed, c) == -1) {
		/* The reaper reports its end. */
		log_warn("%s: channel", c->title);
		close(chan);
		kill(c->pid, SIGKILL);
		(void)snprintf(reason, rlen, "%s: no channel", c->title);
		return (NULL);
	}
	log_debug("%s: started process %d", c->title, (int)c->pid);
	return (c);
}

/*
 * All descriptors are in: check that they are what the parameters say,
 * start the vm process and the device processes, and hand each its
 * descriptors, the vm process its channels to the devices too.
 */
static void
vmm_start_end(struct vmm *vmm, struct imsg *imsg)
{
	struct vmop_create_params	 vmc;
	struct vmop_fd			 vmf;
	struct vmm_guest		*g;
	const struct proc_role		*vmrole;
	char				 reason[VM_REASON_MAX];
	char				 err[192];
	uint32_t			 kind, index;
	int				 sp[2];

	(void)imsg_get_data(imsg, &vmc, sizeof(vmc));
	if ((g = vmm_guest_find(vmm, vmc.vmc_id)) == NULL || g->spawned) {
		log_warnx("vm %u: start without descriptors", vmc.vmc_id);
		if (g == NULL)
			vmm_report_end(vmm, vmc.vmc_id, -1, VM_END_ERROR,
			    EINVAL, "incomplete start request");
		return;
	}
	g->spawned = 1;
	if (g->start_error[0] == '\0' && !vmd_valid_name(vmc.vmc_name))
		(void)snprintf(g->start_error, sizeof(g->start_error),
		    "invalid vm name");
	if (g->start_error[0] == '\0' &&
	    vmop_fds_complete(&g->fds, &vmc.vmc_fds, err, sizeof(err)) == -1)
		(void)snprintf(g->start_error, sizeof(g->start_error), "%s",
		    err);
	for (kind = 0; kind < VMOP_FD_NKINDS && g->start_error[0] == '\0';
	    kind++) {
		if (vmc.vmc_fds.vf_count[kind] == 0 ||
		    vmm_chan_kind(kind) == -1)
			continue;
		if (proc_role_device(kind) == NULL)
			(void)snprintf(g->start_error, sizeof(g->start_error),
			    "no device process serves a %s",
			    vmop_fd_kind_name(kind));
	}
	if ((vmrole = proc_role_find("vm")) == NULL &&
	    g->start_error[0] == '\0')
		(void)snprintf(g->start_error, sizeof(g->start_error),
		    "no vm role");
	if (g->start_error[0] != '\0') {
		(void)snprintf(reason, sizeof(reason), "incomplete start "
		    "request: %s", g->start_error);
		log_warnx("vm %u: %s", g->id, reason);
		vmm_report_end(vmm, g->id, -1, VM_END_ERROR, EINVAL, reason);
		vmm_guest_free(g);
		return;
	}
	(void)snprintf(g->name, sizeof(g->name), "%s", vmc.vmc_name);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		(void)snprintf(reason, sizeof(reason),
		    "cannot start vm process: %s", strerror(errno));
		vmm_report_end(vmm, g->id, -1, VM_END_ERROR, errno, reason);
		vmm_guest_free(g);
		return;
	}
	g->vm = vmm_child_spawn(g, vmrole, 0, sp[0], &sp[1], 1, reason,
	    sizeof(reason));
	close(sp[1]);
	if (g->vm == NULL) {
		log_warnx("vm %s: %s", g->name, reason);
		if (TAILQ_EMPTY(&g->children)) {
			vmm_report_end(vmm, g->id, -1, VM_END_ERROR, EIO,
			    reason);
			vmm_guest_free(g);
		} else
			vmm_guest_end(g, reason);
		return;
	}
	g->vm_pid = g->vm->pid;
	if (vmm_start_devices(g, &vmc, reason, sizeof(reason)) == -1) {
		log_warnx("vm %s: %s", g->name, reason);
		vmm_guest_end(g, reason);
		return;
	}

	/* The vm process gets its descriptors, then what came. */
	for (kind = 0; kind < VMOP_FD_NKINDS; kind++) {
		for (index = 0; index < vmc.vmc_fds.vf_count[kind]; index++) {
			vmf.vmf_id = g->id;
			vmf.vmf_kind = kind;
			vmf.vmf_index = index;
			vmf.vmf_image = 0;
			imsgev_compose(&g->vm->iev, IMSG_VMDOP_START_VM_FD, 0,
			    0, vmop_fdset_take(&g->fds, kind, index, 0), &vmf,
			    sizeof(vmf));
		}
	}
	imsgev_compose(&g->vm->iev, IMSG_VMDOP_START_VM_END, 0, 0, -1, &vmc,
	    sizeof(vmc));
}

/*
 * A device process for each unit of each kind a device role serves:
 * its descriptors and start over its channel to vmm, a channel to the
 * vm process (its other end filed for the vm as a channel kind).  The
 * parameters the vm process gets then count channels, not images.
 */
static int
vmm_start_devices(struct vmm_guest *g, struct vmop_create_params *vmc,
    char *reason, size_t rlen)
{
	struct vmop_fds		*fds = &vmc->vmc_fds;
	const struct proc_role	*role;
	struct vmm_child	*c;
	struct devop_start	 ds;
	struct vmop_fd		 vmf;
	char			 err[64];
	uint32_t		 kind, index, image, n;
	int			 mc[2], vc[2], cfds[2], chan;

	for (kind = 0; kind < VMOP_FD_NKINDS; kind++) {
		if ((chan = vmm_chan_kind(kind)) == -1 ||
		    (n = fds->vf_count[kind]) == 0)
			continue;
		role = proc_role_device(kind);
		for (index = 0; index < n; index++) {
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			    mc) == -1) {
				(void)snprintf(reason, rlen, "socketpair: %s",
				    strerror(errno));
				return (-1);
			}
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			    vc) == -1) {
				(void)snprintf(reason, rlen, "socketpair: %s",
				    strerror(errno));
				close(mc[0]);
				close(mc[1]);
				return (-1);
			}
			cfds[0] = mc[1];
			cfds[1] = vc[1];
			c = vmm_child_spawn(g, role, index, mc[0], cfds, 2,
			    reason, rlen);
			close(mc[1]);
			close(vc[1]);
			if (c == NULL) {
				close(vc[0]);
				return (-1);
			}
			/* Its unit is index 0 of the kind, in its own eyes. */
			memset(&ds, 0, sizeof(ds));
			ds.ds_vmid = g->id;
			ds.ds_index = index;
			(void)snprintf(ds.ds_vmname, sizeof(ds.ds_vmname),
			    "%s", g->name);
			ds.ds_fds.vf_count[kind] = 1;
			if (kind == VMOP_FD_DISK)
				ds.ds_fds.vf_disk[0] = fds->vf_disk[index];
			if (kind == VMOP_FD_TAP && index < VM_MAX_NICS)
				ds.ds_nic = vmc->vmc_nics[index];
			for (image = 0; image < vmop_fds_images(fds, kind,
			    index); image++) {
				vmf.vmf_id = g->id;
				vmf.vmf_kind = kind;
				vmf.vmf_index = 0;
				vmf.vmf_image = image;
				imsgev_compose(&c->iev, IMSG_VMDOP_START_VM_FD,
				    0, 0, vmop_fdset_take(&g->fds, kind, index,
				    image), &vmf, sizeof(vmf));
			}
			imsgev_compose(&c->iev, IMSG_DEVOP_START, 0, 0, -1,
			    &ds, sizeof(ds));
			vmf.vmf_kind = chan;
			vmf.vmf_index = index;
			vmf.vmf_image = 0;
			if (vmop_fdset_put(&g->fds, &vmf, vc[0], err,
			    sizeof(err)) == -1) {
				(void)snprintf(reason, rlen, "%s", err);
				return (-1);
			}
		}
		fds->vf_count[chan] = n;
		fds->vf_count[kind] = 0;
	}
	memset(fds->vf_disk, 0, sizeof(fds->vf_disk));
	return (0);
}

/*
 * End VM g: its vm process and device processes are told to go (SIGTERM,
 * SIGKILL after VMM_KILL_TIMEOUT), and why is its end unless it has one
 * already.  Reported once the last of them is reaped.
 */
static void
vmm_guest_end(struct vmm_guest *g, const char *why)
{
	struct timeval		 tv = { VMM_KILL_TIMEOUT, 0 };
	struct vmm_child	*c;

	if (!g->have_end && why != NULL) {
		memset(&g->end, 0, sizeof(g->end));
		g->end.vmr_state = VM_END_ERROR;
		g->end.vmr_result = EIO;
		(void)snprintf(g->end.vmr_reason, sizeof(g->end.vmr_reason),
		    "%s", why);
		g->have_end = 1;
	}
	g->ending = 1;
	TAILQ_FOREACH(c, &g->children, entry)
		(void)kill(c->pid, SIGTERM);
	if (!g->kill_armed) {
		evtimer_assign(&g->ev_kill, g->vmm->env->evbase,
		    vmm_kill_timeout, g);
		g->kill_armed = 1;
		evtimer_add(&g->ev_kill, &tv);
	}
}

static void
vmm_terminate(struct vmm *vmm, struct imsg *imsg)
{
	struct vmop_id		 vid;
	struct vmm_guest	*g;
	struct timeval		 tv = { VMM_KILL_TIMEOUT, 0 };

	(void)imsg_get_data(imsg, &vid, sizeof(vid));
	if ((g = vmm_guest_find(vmm, vid.vid_id)) == NULL || g->vm == NULL) {
		log_debug("vm %u: terminate: not running", vid.vid_id);
		return;
	}
	/* The vm process ends the VM; its devices follow it. */
	log_debug("vm %s: terminating process %d", g->name, (int)g->vm->pid);
	if (kill(g->vm->pid, SIGTERM) == -1)
		log_warn("vm %s: kill", g->name);
	if (!g->kill_armed) {
		evtimer_assign(&g->ev_kill, vmm->env->evbase,
		    vmm_kill_timeout, g);
		g->kill_armed = 1;
	}
	evtimer_add(&g->ev_kill, &tv);
}

/*
 * Pass a pause, unpause or shutdown request on to the vm process (which
 * pauses its devices).  The parent only asks for running VMs; one that
 * ended meanwhile gets its answer here.
 */
static void
vmm_pause(struct vmm *vmm, struct imsg *imsg)
{
	struct vmop_id		 vid;
	struct vmop_result	 vmr;
	struct vmm_guest	*g;
	uint32_t		 type = imsg_get_type(imsg);

	(void)imsg_get_data(imsg, &vid, sizeof(vid));
	g = vmm_guest_find(vmm, vid.vid_id);
	if (g == NULL || g->vm == NULL || !g->started || g->ending ||
	    !g->vm->iev.active) {
		memset(&vmr, 0, sizeof(vmr));
		vmr.vmr_id = vid.vid_id;
		vmr.vmr_pid = -1;
		vmr.vmr_result = EINVAL;
		(void)snprintf(vmr.vmr_reason, sizeof(vmr.vmr_reason),
		    "vm not running");
		imsgev_compose(&vmm->parent, type == IMSG_VMDOP_PAUSE_VM ?
		    IMSG_VMDOP_PAUSE_VM_RESPONSE : type ==
		    IMSG_VMDOP_UNPAUSE_VM ? IMSG_VMDOP_UNPAUSE_VM_RESPONSE :
		    IMSG_VMDOP_VM_SHUTDOWN_RESPONSE, 0, 0, -1, &vmr,
		    sizeof(vmr));
		return;
	}
	imsgev_compose(&g->vm->iev, type, 0, 0, -1, &vid, sizeof(vid));
}

/* A new log level: ours, and every child's (new ones get -v). */
static void
vmm_verbose(struct vmm *vmm, struct imsg *imsg)
{
	struct vmm_guest	*g;
	struct vmm_child	*c;
	int32_t			 level;

	(void)imsg_get_data(imsg, &level, sizeof(level));
	log_setverbose(level);
	vmm->env->verbose = level;
	TAILQ_FOREACH(g, &vmm->guests, entry)
		TAILQ_FOREACH(c, &g->children, entry)
			if (c->iev.active)
				imsgev_compose(&c->iev, IMSG_CTL_VERBOSE, 0, 0,
				    -1, &level, sizeof(level));
}

static void
vmm_kill_timeout(int fd, short events, void *arg)
{
	struct vmm_guest	*g = arg;
	struct vmm_child	*c;

	log_warnx("vm %s: did not stop in %d seconds, killing it", g->name,
	    VMM_KILL_TIMEOUT);
	TAILQ_FOREACH(c, &g->children, entry)
		(void)kill(c->pid, SIGKILL);
}

/* Messages from a child, which may be compromised. */
static int
vmm_dispatch_child(struct imsgev *iev, struct imsg *imsg)
{
	struct vmm_child	*c = iev->arg;

	if (!msg_ok(imsg, c == c->guest->vm ? MSG_VM_VMM : MSG_DEV_VMM,
	    c->title))
		return (0);
	if (imsg_get_type(imsg) == IMSG_LOG)
		vmm_child_log(c, imsg);
	else
		vmm_vm_news(c, imsg);
	return (0);
}

/* What the vm process says of its VM, passed on under vmm's ids. */
static void
vmm_vm_news(struct vmm_child *c, struct imsg *imsg)
{
	struct vmm_guest	*g = c->guest;
	struct vmm		*vmm = g->vmm;
	struct vmop_result	 vmr;
	struct vmop_id		 vid;
	uint32_t		 type = imsg_get_type(imsg);

	if (type == IMSG_VMDOP_VM_REBOOT) {
		memset(&vid, 0, sizeof(vid));
		vid.vid_id = g->id;
		(void)snprintf(vid.vid_name, sizeof(vid.vid_name), "%s",
		    g->name);
		imsgev_compose(&vmm->parent, type, 0, 0, -1, &vid,
		    sizeof(vid));
		return;
	}
	(void)imsg_get_data(imsg, &vmr, sizeof(vmr));
	vmr.vmr_id = g->id;
	vmr.vmr_pid = c->pid;
	switch (type) {
	case IMSG_VMDOP_VM_STARTED:
		if (g->started) {
			log_warnx("vm %s: started twice?", g->name);
			break;
		}
		g->started = 1;
		imsgev_compose(&vmm->parent, type, 0, 0, -1, &vmr,
		    sizeof(vmr));
		break;
	case IMSG_VMDOP_TERMINATE_VM_EVENT:
		/* Reported when its processes are reaped: one end per VM. */
		if (g->have_end)
			break;
		if (vmr.vmr_state > VM_END_KILLED)
			vmr.vmr_state = VM_END_ERROR;
		g->end = vmr;
		g->have_end = 1;
		break;
	case IMSG_VMDOP_PAUSE_VM_RESPONSE:
	case IMSG_VMDOP_UNPAUSE_VM_RESPONSE:
	case IMSG_VMDOP_VM_SHUTDOWN_RESPONSE:
		/* Only errno-sized answers; the parent keeps the state. */
		if (vmr.vmr_result < 0 || vmr.vmr_result > 4095)
			vmr.vmr_result = EIO;
		imsgev_compose(&vmm->parent, type, 0, 0, -1, &vmr,
		    sizeof(vmr));
		break;
	}
}

/*
 * A log line of a child, relayed to the parent under the child's title
 * (never one it gives).  A child that floods finds the channel to the
 * parent full: its lines are dropped and counted, as malformed ones
 * are.  Its fatal line is kept as the reason if it then exits.
 */
static void
vmm_child_log(struct vmm_child *c, struct imsg *imsg)
{
	struct vmm		*vmm = c->guest->vmm;
	struct vmop_log		 vl;
	char			 text[VMD_LOG_TEXT_MAX + 1];
	uint32_t		 dropped;

	if (proc_log_parse(imsg, &vl, text, sizeof(text)) == -1) {
		c->log_dropped++;
		return;
	}
	/* Its fatal, as the reason of its end: what, not "fatal: what". */
	if (vl.vl_pri <= LOG_CRIT)
		strlcpy(c->last_word, strncmp(text, "fatal: ", 7) == 0 ?
		    text + 7 : text, sizeof(c->last_word));
	dropped = c->log_dropped + vl.vl_dropped;
	if (dropped < c->log_dropped)
		dropped = UINT32_MAX;
	if (proc_log_compose(&vmm->parent.ibuf, vl.vl_pri, dropped, c->title,
	    text, strlen(text)) == -1) {
		c->log_dropped = dropped == UINT32_MAX ? dropped : dropped + 1;
		return;
	}
	c->log_dropped = 0;
	imsgev_add(&vmm->parent);
}

static void
vmm_child_closed(struct imsgev *iev)
{
	struct vmm_child	*c = iev->arg;

	/* The process may live on a moment; the reaper has the last word. */
	log_debug("%s: channel closed", c->title);
}

static void
vmm_sigchld(int sig, short events, void *arg)
{
	struct vmm		*vmm = arg;
	struct vmm_child	*c;
	pid_t			 pid;
	int			 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((c = vmm_child_find(vmm, pid)) == NULL) {
			log_debug("reaped unknown child %d", (int)pid);
			continue;
		}
		vmm_child_reaped(c, status);
	}
}

/*
 * A child is gone: read what it left and forget it.  A device's death
 * ends its VM (the first cause is the VM's end); the vm process's ends
 * its devices.  The last one reaped reports the VM's end, once.
 */
static void
vmm_child_reaped(struct vmm_child *c, int status)
{
	struct vmm_guest	*g = c->guest;
	struct vmm		*vmm = g->vmm;
	char			 why[192], reason[VM_REASON_MAX];
	int			 isvm = c == g->vm;

	if (c->iev.active) {
		(void)imsgev_drain(&c->iev);
		imsgev_clear(&c->iev);
	}
	if (c->last_word[0] != '\0')
		(void)snprintf(why, sizeof(why), "%.180s", c->last_word);
	else if (WIFSIGNALED(status))
		(void)snprintf(why, sizeof(why), "killed by signal %d",
		    WTERMSIG(status));
	else
		(void)snprintf(why, sizeof(why), "exited with status %d",
		    WEXITSTATUS(status));
	log_debug("%s: process %d reaped", c->title, (int)c->pid);
	TAILQ_REMOVE(&g->children, c, entry);

	if (isvm) {
		g->vm = NULL;
		if (!g->have_end) {
			memset(&g->end, 0, sizeof(g->end));
			g->end.vmr_state = c->last_word[0] != '\0' ?
			    VM_END_ERROR : VM_END_KILLED;
			g->end.vmr_result = EIO;
			(void)snprintf(g->end.vmr_reason,
			    sizeof(g->end.vmr_reason), "vm process %s", why);
			if (c->last_word[0] != '\0')
				(void)snprintf(g->end.vmr_reason,
				    sizeof(g->end.vmr_reason), "%s", why);
			g->have_end = 1;
		}
		if (!TAILQ_EMPTY(&g->children))
			vmm_guest_end(g, NULL);
	} else if (!g->ending && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0 && c->last_word[0] == '\0' &&
	    g->vm != NULL) {
		/*
		 * A device ends cleanly when its vm process went (or it was
		 * told to stop): the VM ends, and the vm process, reaped
		 * next, says why.
		 */
		vmm_guest_end(g, NULL);
	} else if (!g->ending) {
		/* Which VM, which device, why; then the VM ends. */
		(void)snprintf(reason, sizeof(reason), "%s %u: %s",
		    c->role->title, c->index, why);
		if (!g->have_end)
			log_warnx("vm %s: %s", g->name, reason);
		vmm_guest_end(g, reason);
	}
	free(c);

	if (!TAILQ_EMPTY(&g->children))
		return;
	g->end.vmr_id = g->id;
	g->end.vmr_pid = g->vm_pid;
	imsgev_compose(&vmm->parent, IMSG_VMDOP_TERMINATE_VM_EVENT, 0, 0, -1,
	    &g->end, sizeof(g->end));
	vmm_guest_free(g);
}
