/*
 * vmm.c: the vmm process.  Running as _vmd, it collects the descriptors
 * the parent opened for a VM, starts one "vm NAME" process per VM (fork
 * and fexecve of vmd through the binary descriptor it inherited, so it
 * needs no filesystem), hands the descriptors on, relays the vm's news
 * to the parent, pauses and unpauses VMs through their process, passes
 * the log level on, terminates VMs on request and reaps them, reporting
 * exactly one end per VM.  It must never trust a vm process: ids and
 * pids in what it relays are its own, and a vm that dies or talks
 * nonsense only ends that VM.
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
#include "vmd.h"

#define VMM_KILL_TIMEOUT	5	/* seconds from SIGTERM to SIGKILL */

struct vmm;

struct vmm_vm {
	TAILQ_ENTRY(vmm_vm)	 entry;
	struct vmm		*vmm;
	uint32_t		 id;
	char			 name[VM_NAME_MAX];
	struct vmop_fdset	 fds;		/* until handed on */
	char			 start_error[192];	/* or "" */
	pid_t			 pid;		/* -1 while collecting */
	struct imsgev		 iev;		/* to the vm process */
	int			 started;
	int			 have_end;
	struct vmop_result	 end;		/* the vm's own report */
	char			 last_word[VM_REASON_MAX];	/* its fatal */
	uint32_t		 log_dropped;	/* its lines we dropped */
	struct event		 ev_kill;
	int			 kill_armed;
};

struct vmm {
	struct proc_env		*env;
	struct imsgev		 parent;
	TAILQ_HEAD(, vmm_vm)	 vms;
	struct event		 ev_sigchld;
	struct event		 ev_sigterm;
};

static int	 vmm_dispatch_parent(struct imsgev *, struct imsg *);
static void	 vmm_parent_closed(struct imsgev *);
static int	 vmm_dispatch_vm(struct imsgev *, struct imsg *);
static void	 vmm_vm_closed(struct imsgev *);
static void	 vmm_sigchld(int, short, void *);
static void	 vmm_sigterm(int, short, void *);
static void	 vmm_kill_timeout(int, short, void *);
static void	 vmm_start_fd(struct vmm *, struct imsg *);
static void	 vmm_start_end(struct vmm *, struct imsg *);
static void	 vmm_terminate(struct vmm *, struct imsg *);
static void	 vmm_pause(struct vmm *, struct imsg *);
static void	 vmm_verbose(struct vmm *, struct imsg *);
static void	 vmm_vm_log(struct vmm_vm *, struct imsg *);
static void	 vmm_vm_ended(struct vmm_vm *, int);
static void	 vmm_vm_free(struct vmm_vm *);
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
	TAILQ_INIT(&vmm.vms);

	/* vmd's own binary, to start vm processes; theirs is not to keep. */
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

/* End every vm process now and leave; the parent is gone or wants it. */
static void
vmm_shutdown(struct vmm *vmm)
{
	struct vmm_vm	*vm;
	int		 status;

	TAILQ_FOREACH(vm, &vmm->vms, entry)
		if (vm->pid != -1)
			kill(vm->pid, SIGKILL);
	TAILQ_FOREACH(vm, &vmm->vms, entry)
		if (vm->pid != -1)
			while (waitpid(vm->pid, &status, 0) == -1 &&
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

static struct vmm_vm *
vmm_vm_find(struct vmm *vmm, uint32_t id)
{
	struct vmm_vm	*vm;

	TAILQ_FOREACH(vm, &vmm->vms, entry)
		if (vm->id == id)
			return (vm);
	return (NULL);
}

static struct vmm_vm *
vmm_vm_find_pid(struct vmm *vmm, pid_t pid)
{
	struct vmm_vm	*vm;

	TAILQ_FOREACH(vm, &vmm->vms, entry)
		if (vm->pid == pid)
			return (vm);
	return (NULL);
}

static void
vmm_vm_free(struct vmm_vm *vm)
{
	TAILQ_REMOVE(&vm->vmm->vms, vm, entry);
	if (vm->kill_armed)
		evtimer_del(&vm->ev_kill);
	imsgev_clear(&vm->iev);
	vmop_fdset_close(&vm->fds);
	free(vm);
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
	struct vmop_fd	 vmf;
	struct vmm_vm	*vm;
	char		 err[192];
	int		 fd;

	fd = imsg_get_fd(imsg);
	if (imsg_get_data(imsg, &vmf, sizeof(vmf)) == -1) {
		if (fd != -1)
			close(fd);
		return;
	}
	if ((vm = vmm_vm_find(vmm, vmf.vmf_id)) == NULL) {
		if ((vm = calloc(1, sizeof(*vm))) == NULL) {
			log_warn("%s", __func__);
			if (fd != -1)
				close(fd);
			return;
		}
		vm->vmm = vmm;
		vm->id = vmf.vmf_id;
		vm->pid = -1;
		vmop_fdset_init(&vm->fds);
		TAILQ_INSERT_TAIL(&vmm->vms, vm, entry);
	}
	if (vm->pid != -1) {
		log_warnx("vm %u: descriptor after the start", vm->id);
		if (fd != -1)
			close(fd);
		return;
	}
	if (vmop_fdset_put(&vm->fds, &vmf, fd, err, sizeof(err)) == -1) {
		log_warnx("vm %u: %s", vm->id, err);
		if (vm->start_error[0] == '\0')
			(void)snprintf(vm->start_error,
			    sizeof(vm->start_error), "%s", err);
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

/*
 * All descriptors are in: check that they are what the parameters say,
 * start the vm process and hand them on.
 */
static void
vmm_start_end(struct vmm *vmm, struct imsg *imsg)
{
	struct vmop_create_params	 vmc;
	struct vmop_fd			 vmf;
	struct vmm_vm			*vm;
	char				 reason[VM_REASON_MAX];
	char				 err[192];
	uint32_t			 kind, index;
	int				 sp[2];

	if (imsg_get_data(imsg, &vmc, sizeof(vmc)) == -1)
		return;
	if ((vm = vmm_vm_find(vmm, vmc.vmc_id)) == NULL || vm->pid != -1) {
		log_warnx("vm %u: start without descriptors", vmc.vmc_id);
		if (vm == NULL)
			vmm_report_end(vmm, vmc.vmc_id, -1, VM_END_ERROR,
			    EINVAL, "incomplete start request");
		return;
	}
	if (vm->start_error[0] == '\0' && !vmd_valid_name(vmc.vmc_name))
		(void)snprintf(vm->start_error, sizeof(vm->start_error),
		    "invalid vm name");
	if (vm->start_error[0] == '\0' &&
	    vmop_fds_complete(&vm->fds, &vmc.vmc_fds, err, sizeof(err)) == -1)
		(void)snprintf(vm->start_error, sizeof(vm->start_error),
		    "%s", err);
	/* No device process serves disks or interfaces yet. */
	if (vm->start_error[0] == '\0' && (vmc.vmc_fds.vf_count[VMOP_FD_DISK] ||
	    vmc.vmc_fds.vf_count[VMOP_FD_TAP]))
		(void)snprintf(vm->start_error, sizeof(vm->start_error),
		    "no device process for its disks or interfaces");
	if (vm->start_error[0] != '\0') {
		(void)snprintf(reason, sizeof(reason), "incomplete start "
		    "request: %s", vm->start_error);
		log_warnx("vm %u: %s", vm->id, reason);
		vmm_report_end(vmm, vm->id, -1, VM_END_ERROR, EINVAL, reason);
		vmm_vm_free(vm);
		return;
	}
	(void)snprintf(vm->name, sizeof(vm->name), "%s", vmc.vmc_name);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		(void)snprintf(reason, sizeof(reason),
		    "cannot start vm process: %s", strerror(errno));
		vmm_report_end(vmm, vm->id, -1, VM_END_ERROR, errno, reason);
		vmm_vm_free(vm);
		return;
	}
	if ((vm->pid = proc_spawn(vmm->env, "vm", vm->name, &sp[1], 1)) ==
	    -1) {
		(void)snprintf(reason, sizeof(reason),
		    "cannot start vm process: %s", proc_spawn_error());
		log_warnx("vm %s: %s", vm->name, reason);
		vmm_report_end(vmm, vm->id, -1, VM_END_ERROR, errno, reason);
		close(sp[0]);
		close(sp[1]);
		vmm_vm_free(vm);
		return;
	}
	close(sp[1]);
	if (imsgev_init(&vm->iev, vmm->env->evbase, sp[0], vm->name, 1,
	    vmm_dispatch_vm, vmm_vm_closed, vm) == -1) {
		/* The reaper reports its end. */
		log_warn("vm %s: channel", vm->name);
		close(sp[0]);
		kill(vm->pid, SIGKILL);
		return;
	}
	log_debug("vm %s: started process %d", vm->name, (int)vm->pid);

	/* The vm process gets its descriptors, then what came. */
	for (kind = 0; kind < VMOP_FD_NKINDS; kind++) {
		for (index = 0; index < vmc.vmc_fds.vf_count[kind]; index++) {
			vmf.vmf_id = vm->id;
			vmf.vmf_kind = kind;
			vmf.vmf_index = index;
			vmf.vmf_image = 0;
			imsgev_compose(&vm->iev, IMSG_VMDOP_START_VM_FD, 0, 0,
			    vmop_fdset_take(&vm->fds, kind, index, 0), &vmf,
			    sizeof(vmf));
		}
	}
	imsgev_compose(&vm->iev, IMSG_VMDOP_START_VM_END, 0, 0, -1, &vmc,
	    sizeof(vmc));
}

static void
vmm_terminate(struct vmm *vmm, struct imsg *imsg)
{
	struct vmop_id	 vid;
	struct vmm_vm	*vm;
	struct timeval	 tv = { VMM_KILL_TIMEOUT, 0 };

	if (imsg_get_data(imsg, &vid, sizeof(vid)) == -1)
		return;
	if ((vm = vmm_vm_find(vmm, vid.vid_id)) == NULL || vm->pid == -1) {
		log_debug("vm %u: terminate: not running", vid.vid_id);
		return;
	}
	log_debug("vm %s: terminating process %d", vm->name, (int)vm->pid);
	if (kill(vm->pid, SIGTERM) == -1)
		log_warn("vm %s: kill", vm->name);
	if (!vm->kill_armed) {
		evtimer_assign(&vm->ev_kill, vmm->env->evbase,
		    vmm_kill_timeout, vm);
		vm->kill_armed = 1;
	}
	evtimer_add(&vm->ev_kill, &tv);
}

/*
 * Pass a pause or unpause on to the vm process.  The parent only asks
 * for running VMs; one that ended meanwhile gets its answer here.
 */
static void
vmm_pause(struct vmm *vmm, struct imsg *imsg)
{
	struct vmop_id		 vid;
	struct vmop_result	 vmr;
	struct vmm_vm		*vm;
	uint32_t		 type = imsg_get_type(imsg);

	if (imsg_get_data(imsg, &vid, sizeof(vid)) == -1)
		return;
	vm = vmm_vm_find(vmm, vid.vid_id);
	if (vm == NULL || vm->pid == -1 || !vm->started || !vm->iev.active) {
		memset(&vmr, 0, sizeof(vmr));
		vmr.vmr_id = vid.vid_id;
		vmr.vmr_pid = -1;
		vmr.vmr_result = EINVAL;
		(void)snprintf(vmr.vmr_reason, sizeof(vmr.vmr_reason),
		    "vm not running");
		imsgev_compose(&vmm->parent, type == IMSG_VMDOP_PAUSE_VM ?
		    IMSG_VMDOP_PAUSE_VM_RESPONSE :
		    IMSG_VMDOP_UNPAUSE_VM_RESPONSE, 0, 0, -1, &vmr,
		    sizeof(vmr));
		return;
	}
	vid.vid_name[sizeof(vid.vid_name) - 1] = '\0';
	imsgev_compose(&vm->iev, type, 0, 0, -1, &vid, sizeof(vid));
}

/* A new log level: ours, and every vm process's (new ones get -v). */
static void
vmm_verbose(struct vmm *vmm, struct imsg *imsg)
{
	struct vmm_vm	*vm;
	int32_t		 level;

	if (imsg_get_data(imsg, &level, sizeof(level)) == -1)
		return;
	if (level < 0)
		level = 0;
	log_setverbose(level);
	vmm->env->verbose = level;
	TAILQ_FOREACH(vm, &vmm->vms, entry)
		if (vm->pid != -1 && vm->iev.active)
			imsgev_compose(&vm->iev, IMSG_CTL_VERBOSE, 0, 0, -1,
			    &level, sizeof(level));
}

static void
vmm_kill_timeout(int fd, short events, void *arg)
{
	struct vmm_vm	*vm = arg;

	log_warnx("vm %s: did not stop in %d seconds, killing it", vm->name,
	    VMM_KILL_TIMEOUT);
	kill(vm->pid, SIGKILL);
}

/* Messages from a vm process, which may be compromised. */
static int
vmm_dispatch_vm(struct imsgev *iev, struct imsg *imsg)
{
	struct vmm_vm		*vm = iev->arg;
	struct vmm		*vmm = vm->vmm;
	struct vmop_result	 vmr;
	struct vmop_id		 vid;
	uint32_t		 type = imsg_get_type(imsg);

	if (!msg_ok(imsg, MSG_VM_VMM, vm->name))
		return (0);
	switch (type) {
	case IMSG_LOG:
		vmm_vm_log(vm, imsg);
		return (0);
	case IMSG_VMDOP_VM_STARTED:
	case IMSG_VMDOP_TERMINATE_VM_EVENT:
	case IMSG_VMDOP_PAUSE_VM_RESPONSE:
	case IMSG_VMDOP_UNPAUSE_VM_RESPONSE:
		if (imsg_get_data(imsg, &vmr, sizeof(vmr)) == -1)
			return (0);
		vmr.vmr_id = vm->id;
		vmr.vmr_pid = vm->pid;
		vmr.vmr_reason[sizeof(vmr.vmr_reason) - 1] = '\0';
		vmr.vmr_ttyname[sizeof(vmr.vmr_ttyname) - 1] = '\0';
		break;
	case IMSG_VMDOP_VM_REBOOT:
		memset(&vid, 0, sizeof(vid));
		vid.vid_id = vm->id;
		(void)snprintf(vid.vid_name, sizeof(vid.vid_name), "%s",
		    vm->name);
		imsgev_compose(&vmm->parent, type, 0, 0, -1, &vid,
		    sizeof(vid));
		return (0);
	default:
		return (0);
	}

	switch (type) {
	case IMSG_VMDOP_VM_STARTED:
		if (vm->started) {
			log_warnx("vm %s: started twice?", vm->name);
			break;
		}
		vm->started = 1;
		imsgev_compose(&vmm->parent, type, 0, 0, -1, &vmr,
		    sizeof(vmr));
		break;
	case IMSG_VMDOP_TERMINATE_VM_EVENT:
		/* Reported when the process is reaped: one end per VM. */
		if (vmr.vmr_state > VM_END_KILLED)
			vmr.vmr_state = VM_END_ERROR;
		vm->end = vmr;
		vm->have_end = 1;
		break;
	case IMSG_VMDOP_PAUSE_VM_RESPONSE:
	case IMSG_VMDOP_UNPAUSE_VM_RESPONSE:
		/* Only errno-sized answers; the parent keeps the state. */
		if (vmr.vmr_result < 0 || vmr.vmr_result > 4095)
			vmr.vmr_result = EIO;
		imsgev_compose(&vmm->parent, type, 0, 0, -1, &vmr,
		    sizeof(vmr));
		break;
	}
	return (0);
}

/*
 * A log line of a vm process, relayed to the parent under the VM's name
 * (never one the vm gives).  A vm that floods finds the channel to the
 * parent full: its lines are dropped and counted, as malformed ones are.
 * Its fatal line is kept as the reason if it then exits.
 */
static void
vmm_vm_log(struct vmm_vm *vm, struct imsg *imsg)
{
	struct vmm		*vmm = vm->vmm;
	struct vmop_log		 vl;
	char			 text[VMD_LOG_TEXT_MAX + 1];
	char			 proc[VMD_PROCNAME_MAX];
	uint32_t		 dropped;

	if (proc_log_parse(imsg, &vl, text, sizeof(text)) == -1) {
		vm->log_dropped++;
		return;
	}
	if (vl.vl_pri <= LOG_CRIT)
		strlcpy(vm->last_word, text, sizeof(vm->last_word));
	dropped = vm->log_dropped + vl.vl_dropped;
	if (dropped < vm->log_dropped)
		dropped = UINT32_MAX;
	(void)snprintf(proc, sizeof(proc), "vm %s", vm->name);
	if (proc_log_compose(&vmm->parent.ibuf, vl.vl_pri, dropped, proc,
	    text, strlen(text)) == -1) {
		vm->log_dropped = dropped == UINT32_MAX ? dropped : dropped + 1;
		return;
	}
	vm->log_dropped = 0;
	imsgev_add(&vmm->parent);
}

static void
vmm_vm_closed(struct imsgev *iev)
{
	struct vmm_vm	*vm = iev->arg;

	/* The process may live on a moment; the reaper has the last word. */
	log_debug("vm %s: channel closed", vm->name);
}

static void
vmm_sigchld(int sig, short events, void *arg)
{
	struct vmm	*vmm = arg;
	struct vmm_vm	*vm;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((vm = vmm_vm_find_pid(vmm, pid)) == NULL) {
			log_debug("reaped unknown child %d", (int)pid);
			continue;
		}
		vmm_vm_ended(vm, status);
	}
}

/* A vm process is gone: read what it left, report once, forget it. */
static void
vmm_vm_ended(struct vmm_vm *vm, int status)
{
	struct vmm	*vmm = vm->vmm;
	char		 reason[VM_REASON_MAX];
	uint32_t	 state = VM_END_KILLED;

	if (vm->iev.active) {
		(void)imsgev_drain(&vm->iev);
		imsgev_clear(&vm->iev);
	}
	if (vm->have_end) {
		vm->end.vmr_pid = vm->pid;
		imsgev_compose(&vmm->parent, IMSG_VMDOP_TERMINATE_VM_EVENT,
		    0, 0, -1, &vm->end, sizeof(vm->end));
	} else {
		if (vm->last_word[0] != '\0') {
			state = VM_END_ERROR;
			(void)snprintf(reason, sizeof(reason), "%s",
			    vm->last_word);
		} else if (WIFSIGNALED(status))
			(void)snprintf(reason, sizeof(reason),
			    "vm process killed by signal %d",
			    WTERMSIG(status));
		else
			(void)snprintf(reason, sizeof(reason),
			    "vm process exited with status %d",
			    WEXITSTATUS(status));
		vmm_report_end(vmm, vm->id, vm->pid, state, EIO, reason);
	}
	log_debug("vm %s: process %d reaped", vm->name, (int)vm->pid);
	vmm_vm_free(vm);
}
