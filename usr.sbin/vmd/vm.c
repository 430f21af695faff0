/*
 * vm.c: the life of one "vm NAME" process.  It receives its descriptors
 * and parameters from vmm, enters its sandbox before it parses anything
 * from outside (the kernel image), boots the guest, runs each vCPU in its
 * own thread and the devices' events and the vmm channel on the main
 * thread, restarts the guest on reset and reports how the VM ended.  It
 * must never touch the filesystem or exit without telling vmm why.
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/thread.h>

#include "log.h"
#include "util.h"
#include "vm.h"
#include "vmd.h"
#include "proc.h"
#include "devproc.h"

_Static_assert(sizeof(((struct vmctx *)0)->reason) == VM_REASON_MAX,
    "vm.h's reason buffer must match the protocol's");
_Static_assert(VM_CMDLINE_LEN == VM_CMDLINE_MAX,
    "the guest's command line must hold what the protocol carries");
_Static_assert(VM_VCPUS_MAX == VM_MAX_VCPUS,
    "vm.h's vCPU table must hold what vmd allows");

#define REBOOT_WINDOW		10	/* seconds */
#define REBOOT_MAX		20	/* resets in a window before giving up */
#define PAUSE_WAIT_SEC		2	/* for the vCPUs to park */
#define CONSOLE_DRAIN_TICK_MS	5
#define CONSOLE_DRAIN_IDLE_MS	100	/* no reader progress: give up */
#define CONSOLE_DRAIN_MAX_MS	2000

/*
 * The channel to vmm, one per process, on imsgev like every channel of
 * vmd.  The event thread reads it; any thread writes it (vCPU threads
 * log and report), so writes hold vm_wlock (imsgev_threads).  A log
 * line never waits for vmm: it is queued (within VMD_LOG_QUEUE_MAX, else
 * dropped and counted) and the event thread sends the rest.
 */
static struct imsgev	 vm_iev;
static pthread_mutex_t	 vm_wlock = PTHREAD_MUTEX_INITIALIZER;
static struct event	*vm_ev_limit;	/* reports what log_limited drops */

static void	vm_start_vcpu(struct vmctx *);
static int	vm_dispatch_vmm(struct imsgev *, struct imsg *);
static void	vm_vmm_closed(struct imsgev *);

/* Messages about the VM's life: never dropped, sent before returning. */
static void
vm_send(uint32_t type, const void *data, size_t len)
{
	if (imsgev_compose_sync(&vm_iev, type, data, len, 2000) == -1)
		log_warnx("cannot tell vmm: %s", msg_name(type));
}

/*
 * The guest made log_limited drop a line: say how many, a second later,
 * from the event loop (any thread may get here).
 */
static void
vm_limit_notify(void)
{
	struct timeval	 tv = { 1, 0 };

	evtimer_add(vm_ev_limit, &tv);
}

static void
vm_limit_flush(evutil_socket_t fd, short ev, void *arg)
{
	log_limited_flush();
}

/*
 * Closing the pty master hangs up the slave, and a hangup throws away
 * what the console reader has not read yet: the guest's last words.  So
 * wait while someone is reading the slave's queue, but not for a queue
 * nobody reads.
 */
static void
vm_drain_console(struct vmctx *ctx)
{
	struct timespec	 tick = { 0, CONSOLE_DRAIN_TICK_MS * 1000000L };
	int		 queued, last = -1, still = 0, i;

	if (ctx->tty_slave == -1)
		return;
	for (i = 0; i < CONSOLE_DRAIN_MAX_MS / CONSOLE_DRAIN_TICK_MS; i++) {
		if (ioctl(ctx->tty_slave, FIONREAD, &queued) == -1)
			return;
		if (queued == 0 && last == 0)
			return;
		if (queued == last && queued != 0) {
			if (++still * CONSOLE_DRAIN_TICK_MS >=
			    CONSOLE_DRAIN_IDLE_MS)
				return;
		} else
			still = 0;
		last = queued;
		nanosleep(&tick, NULL);
	}
}

static void __attribute__((noreturn))
vm_end(struct vmctx *ctx, enum vm_end how, const char *reason)
{
	struct vmop_result	 r;

	vm_drain_console(ctx);
	log_limited_flush();

	memset(&r, 0, sizeof(r));
	r.vmr_id = ctx->params->vmc_id;
	r.vmr_pid = getpid();
	r.vmr_state = how;
	strlcpy(r.vmr_reason, reason, sizeof(r.vmr_reason));
	vm_send(IMSG_VMDOP_TERMINATE_VM_EVENT, &r, sizeof(r));
	exit(how == VM_END_ERROR ? 1 : 0);
}

static void __attribute__((noreturn))
vm_start_failed(struct vmctx *ctx, int error, const char *reason)
{
	struct vmop_result	 r;

	log_warnx("start failed: %s", reason);
	memset(&r, 0, sizeof(r));
	r.vmr_id = ctx->params->vmc_id;
	r.vmr_pid = getpid();
	r.vmr_result = error ? error : EINVAL;
	strlcpy(r.vmr_reason, reason, sizeof(r.vmr_reason));
	vm_send(IMSG_VMDOP_VM_STARTED, &r, sizeof(r));
	exit(1);
}

/* A result for vmm to pass on to the parent: error 0 or an errno value. */
void
vm_result(struct vmctx *ctx, uint32_t type, int error, const char *reason)
{
	struct vmop_result	 r;

	memset(&r, 0, sizeof(r));
	r.vmr_id = ctx->params->vmc_id;
	r.vmr_pid = getpid();
	r.vmr_result = error;
	strlcpy(r.vmr_reason, reason, sizeof(r.vmr_reason));
	vm_send(type, &r, sizeof(r));
}

/* Make every vCPU thread come out of the guest soon; vm_lock held. */
static void
vm_kick_all(struct vmctx *ctx)
{
	uint32_t	 i;

	if (!ctx->vcpu_running)
		return;
	for (i = 0; i < ctx->ncpus; i++)
		if (ctx->vcpus[i].vcpu != NULL)
			vmm_vcpu_kick(ctx->vcpus[i].vcpu);
}

/*
 * Ask every vCPU loop to stop for req; a later, stronger request wins
 * (a stop beats a poweroff beats a reset) and keeps its own reason.
 * Any vCPU thread may ask, and several at once: the lock keeps the
 * reason whole and with its request.
 */
void
vm_request(struct vmctx *ctx, enum vm_request req, const char *fmt, ...)
{
	va_list	 ap;

	pthread_mutex_lock(&ctx->vm_lock);
	if ((int)req <= __atomic_load_n(&ctx->request, __ATOMIC_ACQUIRE)) {
		pthread_mutex_unlock(&ctx->vm_lock);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(ctx->reason, sizeof(ctx->reason), fmt, ap);
	va_end(ap);
	__atomic_store_n(&ctx->request, req, __ATOMIC_RELEASE);
	vm_kick_all(ctx);
	pthread_cond_broadcast(&ctx->pause_cv);	/* parked vCPUs too */
	pthread_mutex_unlock(&ctx->vm_lock);
}

/*
 * vCPU thread: park while a pause is in force, counted so the main
 * thread knows when all are; any stop request unparks them.
 */
static void
vm_vcpu_park(struct vmctx *ctx)
{
	pthread_mutex_lock(&ctx->vm_lock);
	if (ctx->pause_req) {
		ctx->nparked++;
		pthread_cond_broadcast(&ctx->pause_cv);
		while (ctx->pause_req && __atomic_load_n(&ctx->request,
		    __ATOMIC_ACQUIRE) == VM_REQ_NONE)
			pthread_cond_wait(&ctx->pause_cv, &ctx->vm_lock);
		ctx->nparked--;
	}
	pthread_mutex_unlock(&ctx->vm_lock);
}

/*
 * Stop every vCPU and the devices' timers (pause) or start them again.
 * The devices pause only once no vCPU runs guest code, so none of them
 * sees an access after its pause.  Returns 0 or an errno value for the
 * reply.
 */
static int
vm_pause(struct vmctx *ctx, int pause)
{
	struct timespec	 deadline;
	int		 error = 0;

	pthread_mutex_lock(&ctx->vm_lock);
	if (ctx->pause_req == pause) {
		pthread_mutex_unlock(&ctx->vm_lock);
		return (EALREADY);
	}
	ctx->pause_req = pause;
	if (!pause) {
		pthread_cond_broadcast(&ctx->pause_cv);
		pthread_mutex_unlock(&ctx->vm_lock);
		dev_resume_all(&ctx->devs);
		vm_devices_ctl(ctx, IMSG_DEVOP_RESUME);
		return (0);
	}
	if (ctx->vcpu_running) {
		vm_kick_all(ctx);
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += PAUSE_WAIT_SEC;
		while (ctx->nparked < ctx->nthreads && error == 0 &&
		    __atomic_load_n(&ctx->request, __ATOMIC_ACQUIRE) ==
		    VM_REQ_NONE)
			error = pthread_cond_timedwait(&ctx->pause_cv,
			    &ctx->vm_lock, &deadline);
	}
	pthread_mutex_unlock(&ctx->vm_lock);
	if (error != 0) {
		log_warnx("vcpus did not stop for the pause");
		vm_pause(ctx, 0);
		return (EBUSY);
	}
	dev_pause_all(&ctx->devs);
	vm_devices_ctl(ctx, IMSG_DEVOP_PAUSE);
	return (0);
}

/*
 * One vCPU's thread.  A request ends every loop (vm_request kicks them
 * all); the last thread out tells the main thread.
 */
static void *
vm_vcpu_loop(void *arg)
{
	struct vm_vcpu	*vc = arg;
	struct vmctx	*ctx = vc->ctx;
	struct vmm_exit	 ve;
	sigset_t	 set;
	int		 last;

	/* Process signals belong to the event loop; the kick is ours. */
	sigfillset(&set);
	sigdelset(&set, SIGUSR1);
	pthread_sigmask(SIG_SETMASK, &set, NULL);

	while (__atomic_load_n(&ctx->request, __ATOMIC_ACQUIRE) ==
	    VM_REQ_NONE) {
		vm_vcpu_park(ctx);
		if (__atomic_load_n(&ctx->request, __ATOMIC_ACQUIRE) !=
		    VM_REQ_NONE)
			break;
		if (vmm_vcpu_run(vc->vcpu, &ve) == -1) {
			vm_request(ctx, VM_REQ_ERROR, "vcpu %u run: %s",
			    vc->id, strerror(errno));
			break;
		}
		if (x86_handle_exit(ctx, vc, &ve) == -1)
			break;
	}
	pthread_mutex_lock(&ctx->vm_lock);
	last = --ctx->nthreads == 0;
	pthread_cond_broadcast(&ctx->pause_cv);	/* a pause waiting on us */
	pthread_mutex_unlock(&ctx->vm_lock);
	if (last)
		event_active(ctx->ev_vcpu_done, EV_READ, 0);
	return (NULL);
}

static int
vm_reboot_allowed(void)
{
	static time_t	 window;
	static int	 count;
	time_t		 now = time(NULL);

	if (now - window > REBOOT_WINDOW) {
		window = now;
		count = 0;
	}
	return (++count <= REBOOT_MAX);
}

static void
vm_reboot(struct vmctx *ctx)
{
	struct vmop_id	 id;
	char		 err[VM_REASON_MAX];

	/*
	 * A guest asked to shut down resets as vmmci's request asks (or as
	 * it chose): that ends it.
	 */
	if (vm_stop_pending(ctx)) {
		log_info("shut down: the guest reset while asked to stop");
		vm_end(ctx, VM_END_STOPPED, "reset while asked to stop");
	}
	log_info("rebooting (%s)", ctx->reason);
	memset(&id, 0, sizeof(id));
	id.vid_id = ctx->params->vmc_id;
	strlcpy(id.vid_name, ctx->params->vmc_name, sizeof(id.vid_name));
	vm_send(IMSG_VMDOP_VM_REBOOT, &id, sizeof(id));
	x86_halt(ctx);
	if (!vm_reboot_allowed())
		vm_end(ctx, VM_END_ERROR, "reboot loop: too many resets");
	dev_reset_all(&ctx->devs);
	vm_devices_ctl(ctx, IMSG_DEVOP_RESET);
	ctx->reason[0] = '\0';
	__atomic_store_n(&ctx->request, VM_REQ_NONE, __ATOMIC_RELEASE);
	if (x86_boot(ctx, err, sizeof(err)) == -1)
		vm_end(ctx, VM_END_ERROR, err);
	vm_start_vcpu(ctx);
}

/* Main thread: every vCPU loop ended; reboot or report the end. */
static void
vm_vcpu_done(evutil_socket_t fd, short ev, void *arg)
{
	struct vmctx	*ctx = arg;
	uint32_t	 i, n;

	pthread_mutex_lock(&ctx->vm_lock);
	ctx->vcpu_running = 0;
	n = ctx->nstarted;
	ctx->nstarted = 0;
	pthread_mutex_unlock(&ctx->vm_lock);
	for (i = 0; i < n; i++)
		pthread_join(ctx->vcpus[i].thread, NULL);
	switch (__atomic_load_n(&ctx->request, __ATOMIC_ACQUIRE)) {
	case VM_REQ_RESET:
		vm_reboot(ctx);
		return;
	case VM_REQ_POWEROFF:
		log_info("%s", ctx->reason);
		vm_end(ctx, VM_END_POWEROFF, ctx->reason);
	case VM_REQ_STOP:
		vm_end(ctx, VM_END_STOPPED, ctx->reason);
	default:
		vm_end(ctx, VM_END_ERROR, ctx->reason);
	}
}

/*
 * A thread for each vCPU.  If one cannot be made, the ones that were
 * are asked to stop and the VM ends through vm_vcpu_done as for any
 * error.
 */
static void
vm_start_vcpu(struct vmctx *ctx)
{
	uint32_t	 i;
	int		 error = 0, last;

	pthread_mutex_lock(&ctx->vm_lock);
	ctx->vcpu_running = 1;
	ctx->nthreads = ctx->ncpus;
	ctx->nstarted = 0;
	pthread_mutex_unlock(&ctx->vm_lock);
	for (i = 0; i < ctx->ncpus; i++) {
		ctx->vcpus[i].ctx = ctx;
		ctx->vcpus[i].id = i;
		pthread_mutex_lock(&ctx->vm_lock);
		error = pthread_create(&ctx->vcpus[i].thread, NULL,
		    vm_vcpu_loop, &ctx->vcpus[i]);
		if (error == 0)
			ctx->nstarted++;
		pthread_mutex_unlock(&ctx->vm_lock);
		if (error != 0)
			break;
	}
	if (error == 0)
		return;
	log_warnx("vcpu %u thread: %s", i, strerror(error));
	vm_request(ctx, VM_REQ_ERROR, "cannot start the thread of vcpu %u", i);
	pthread_mutex_lock(&ctx->vm_lock);
	ctx->nthreads -= ctx->ncpus - i;
	last = ctx->nthreads == 0;
	pthread_mutex_unlock(&ctx->vm_lock);
	if (last)
		event_active(ctx->ev_vcpu_done, EV_READ, 0);
}

static void
vm_signal(evutil_socket_t sig, short ev, void *arg)
{
	struct vmctx	*ctx = arg;

	vm_request(ctx, VM_REQ_STOP, "terminated");
	/* Between boots there is no vCPU thread to end the loop. */
	if (!ctx->vcpu_running)
		vm_end(ctx, VM_END_STOPPED, ctx->reason);
}

static void
vm_answer_pause(struct vmctx *ctx, struct imsg *imsg, int pause)
{
	struct vmop_result	 r;
	struct vmop_id		 id;

	memset(&r, 0, sizeof(r));
	r.vmr_id = ctx->params->vmc_id;
	r.vmr_pid = getpid();
	if (imsg_get_data(imsg, &id, sizeof(id)) == -1)
		r.vmr_result = EINVAL;
	else
		r.vmr_result = vm_pause(ctx, pause);
	if (r.vmr_result == 0) {
		log_info("%s", pause ? "paused" : "unpaused");
		vm_stop_paused(ctx, pause);
	}
	vm_send(pause ? IMSG_VMDOP_PAUSE_VM_RESPONSE :
	    IMSG_VMDOP_UNPAUSE_VM_RESPONSE, &r, sizeof(r));
}

/*
 * vmm first gives the VM's descriptors and parameters, then asks for
 * pauses and log levels; its going away ends us.
 */
static int
vm_dispatch_vmm(struct imsgev *iev, struct imsg *imsg)
{
	struct vmctx	*ctx = iev->arg;
	struct vmop_fd	 vmf;
	int32_t		 verbose;
	int		 fd;

	if (!msg_ok(imsg, MSG_VMM_VM, "vmm"))
		return (0);
	switch (imsg_get_type(imsg)) {
	case IMSG_VMDOP_START_VM_FD:
		fd = imsg_get_fd(imsg);
		(void)imsg_get_data(imsg, &vmf, sizeof(vmf));
		if (ctx->received) {
			log_warnx("descriptor after the start");
			if (fd != -1)
				close(fd);
		} else if (ctx->start_error[0] == '\0')
			(void)vmop_fdset_put(ctx->fds, &vmf, fd,
			    ctx->start_error, sizeof(ctx->start_error));
		else if (fd != -1)
			close(fd);
		break;
	case IMSG_VMDOP_START_VM_END:
		if (ctx->received) {
			log_warnx("started twice?");
			break;
		}
		(void)imsg_get_data(imsg, ctx->params, sizeof(*ctx->params));
		ctx->received = 1;
		event_base_loopbreak(ctx->evbase);
		break;
	case IMSG_VMDOP_PAUSE_VM:
		vm_answer_pause(ctx, imsg, 1);
		break;
	case IMSG_VMDOP_UNPAUSE_VM:
		vm_answer_pause(ctx, imsg, 0);
		break;
	case IMSG_VMDOP_VM_SHUTDOWN:
		vm_stop_request(ctx);
		break;
	case IMSG_CTL_VERBOSE:
		(void)imsg_get_data(imsg, &verbose, sizeof(verbose));
		log_setverbose(verbose);
		break;
	}
	return (0);
}

static void
vm_vmm_closed(struct imsgev *iev)
{
	struct vmctx	*ctx = iev->arg;

	if (!ctx->received)
		exit(1);
	vm_request(ctx, VM_REQ_STOP, "vmm went away");
	if (!ctx->vcpu_running)
		exit(0);
}

/*
 * The parameters and the descriptors that came with them: what the
 * counts say (vmop_fds_complete), and what a vm process needs and may
 * hold: /dev/kvm, a boot image and the console, maybe an initrd and a
 * cdrom; never a disk image or a tap, which are device processes'.
 */
static int
vm_check_params(struct vmctx *ctx, struct vmop_fdset *fds, char *err,
    size_t errlen)
{
	struct vmop_create_params	*p = ctx->params;
	const struct vmop_fds		*n = &p->vmc_fds;

	if (memchr(p->vmc_name, '\0', sizeof(p->vmc_name)) == NULL ||
	    memchr(p->vmc_cmdline, '\0', sizeof(p->vmc_cmdline)) == NULL ||
	    memchr(p->vmc_kernel, '\0', sizeof(p->vmc_kernel)) == NULL) {
		snprintf(err, errlen, "unterminated string in parameters");
		return (-1);
	}
	if (p->vmc_memsize < VM_MIN_MEMORY || p->vmc_memsize > VM_MAX_MEMORY) {
		snprintf(err, errlen, "memory size %llu out of range",
		    (unsigned long long)p->vmc_memsize);
		return (-1);
	}
	if (vmop_fds_complete(fds, n, err, errlen) == -1)
		return (-1);
	if (n->vf_count[VMOP_FD_KVM] != 1 || n->vf_count[VMOP_FD_KERNEL] != 1 ||
	    n->vf_count[VMOP_FD_TTY_MASTER] != 1 ||
	    n->vf_count[VMOP_FD_TTY_SLAVE] != 1) {
		snprintf(err, errlen, "missing descriptors");
		return (-1);
	}
	if (n->vf_count[VMOP_FD_DISK] != 0 || n->vf_count[VMOP_FD_TAP] != 0) {
		snprintf(err, errlen, "disk and tap descriptors belong to "
		    "device processes");
		return (-1);
	}
	if (p->vmc_ncpus < 1 || p->vmc_ncpus > VM_MAX_VCPUS) {
		snprintf(err, errlen, "vcpu count %u out of range (1 to %d)",
		    p->vmc_ncpus, VM_MAX_VCPUS);
		return (-1);
	}
	ctx->ncpus = p->vmc_ncpus;
	ctx->kvmfd = vmop_fdset_take(fds, VMOP_FD_KVM, 0, 0);
	ctx->kernelfd = vmop_fdset_take(fds, VMOP_FD_KERNEL, 0, 0);
	ctx->initrdfd = vmop_fdset_take(fds, VMOP_FD_INITRD, 0, 0);
	ctx->tty_master = vmop_fdset_take(fds, VMOP_FD_TTY_MASTER, 0, 0);
	ctx->tty_slave = vmop_fdset_take(fds, VMOP_FD_TTY_SLAVE, 0, 0);
	ctx->cdromfd = vmop_fdset_take(fds, VMOP_FD_CDROM, 0, 0);
	return (0);
}

/*
 * The VM's device processes: a channel to each came with the start.
 * Wait until each says what it offers, then give each guest RAM.
 * On reset, pause and resume they follow the VM.
 */
static int
vm_devices_start(struct vmctx *ctx, struct vmop_fdset *fds, char *err,
    size_t errlen)
{
	static const uint32_t	 kinds[] = { VMOP_FD_VIOBLK, VMOP_FD_VIONET };
	struct devop_memrange	 r[DEVOP_MAX_RANGES];
	uint32_t		 nr, k, i;
	int			 fd;

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (i = 0; i < ctx->params->vmc_fds.vf_count[kinds[k]]; i++) {
			fd = vmop_fdset_take(fds, kinds[k], i, 0);
			if (ctx->ndevprocs >= VM_DEVPROCS) {
				close(fd);
				snprintf(err, errlen, "too many devices");
				return (-1);
			}
			if ((ctx->devprocs[ctx->ndevprocs] = vmdev_open(
			    ctx->evbase, fd, kinds[k], i)) == NULL) {
				snprintf(err, errlen, "%s %u: no channel",
				    vmop_fd_kind_name(kinds[k]), i);
				return (-1);
			}
			ctx->ndevprocs++;
		}
	}
	if (ctx->ndevprocs == 0)
		return (0);
	if (vmdev_wait_ready(ctx->evbase, ctx->devprocs, ctx->ndevprocs,
	    VM_DEVPROC_WAIT_MS, err, errlen) == -1)
		return (-1);
	nr = vmdev_memranges(ctx->mem.memsize, r, DEVOP_MAX_RANGES);
	for (i = 0; i < ctx->ndevprocs; i++)
		if (vmdev_mem(ctx->devprocs[i], ctx->mem.fd, r, nr) == -1) {
			snprintf(err, errlen, "%s: cannot send guest memory",
			    vmdev_name(ctx->devprocs[i]));
			return (-1);
		}
	return (0);
}

/* IMSG_DEVOP_RESET, _PAUSE or _RESUME to every device process. */
void
vm_devices_ctl(struct vmctx *ctx, uint32_t type)
{
	size_t	 i;

	for (i = 0; i < ctx->ndevprocs; i++)
		(void)vmdev_ctl(ctx->devprocs[i], type);
}

/* The role's entry: the channel to vmm is on PROC_PARENT_FD. */
void
vm_run(struct proc_env *env)
{
	vm_main(PROC_PARENT_FD, env->vm_name);
}

void
vm_main(int fd, const char *name)
{
	static struct vmop_create_params params;
	static struct vmctx	 vmctx;
	static struct vmop_fdset fds;
	struct vmctx		*ctx = &vmctx;
	struct vmop_result	 r;
	struct event		*ev_term, *ev_int;
	char			 err[VM_REASON_MAX], title[VM_NAME_MAX + 4];

	snprintf(title, sizeof(title), "vm %s", name);
	log_procinit(title);
	ctx->params = &params;
	ctx->fds = &fds;
	ctx->kvmfd = ctx->kernelfd = ctx->tty_master = ctx->tty_slave = -1;
	ctx->initrdfd = ctx->cdromfd = -1;
	vmop_fdset_init(&fds);
	pthread_mutex_init(&ctx->vm_lock, NULL);
	pthread_cond_init(&ctx->pause_cv, NULL);

	/* The channel to vmm first: from now on our lines reach it. */
	if (evthread_use_pthreads() == -1 ||
	    (ctx->evbase = event_base_new()) == NULL)
		fatalx("event loop");
	if (imsgev_init(&vm_iev, ctx->evbase, fd, "vmm", 1, vm_dispatch_vmm,
	    vm_vmm_closed, ctx) == -1 ||
	    imsgev_threads(&vm_iev, &vm_wlock) == -1)
		fatal("channel to vmm");
	proc_log_to(&vm_iev);
	while (!ctx->received)
		if (event_base_loop(ctx->evbase, EVLOOP_ONCE) == -1)
			fatalx("event loop");
	if (ctx->start_error[0] != '\0')
		fatalx("%s", ctx->start_error);

	/* Everything below parses what the outside gave us: sandbox first. */
	sandbox_enter(&sandbox_vm, NULL);

	if (vm_check_params(ctx, &fds, err, sizeof(err)) == -1)
		vm_start_failed(ctx, EINVAL, err);
	if (vmm_probe(ctx->kvmfd, err, sizeof(err)) == -1)
		vm_start_failed(ctx, errno, err);
	ctx->ev_vcpu_done = event_new(ctx->evbase, -1, 0, vm_vcpu_done, ctx);
	ev_term = evsignal_new(ctx->evbase, SIGTERM, vm_signal, ctx);
	ev_int = evsignal_new(ctx->evbase, SIGINT, vm_signal, ctx);
	vm_ev_limit = evtimer_new(ctx->evbase, vm_limit_flush, NULL);
	if (ctx->ev_vcpu_done == NULL || ev_term == NULL || ev_int == NULL ||
	    vm_ev_limit == NULL)
		vm_start_failed(ctx, ENOMEM, "events");
	log_limited_notify(vm_limit_notify);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	/* SIGUSR1 is the vCPU's kick (vmm_kvm.c), not to be logged. */
	proc_signals_log(ctx->evbase, SIGUSR1);

	if (x86_mem_alloc(ctx, err, sizeof(err)) == -1)
		vm_start_failed(ctx, ENOMEM, err);
	if (vm_devices_start(ctx, &fds, err, sizeof(err)) == -1)
		vm_start_failed(ctx, ENXIO, err);
	if (x86_devices_attach(ctx, err, sizeof(err)) == -1)
		vm_start_failed(ctx, ENXIO, err);
	if (vm_stop_init(ctx) == -1)
		vm_start_failed(ctx, ENOMEM, "events");
	errno = 0;
	if (x86_boot(ctx, err, sizeof(err)) == -1)
		vm_start_failed(ctx, errno ? errno : ENOEXEC, err);

	memset(&r, 0, sizeof(r));
	r.vmr_id = ctx->params->vmc_id;
	r.vmr_pid = getpid();
	/*
	 * The guest runs while the news travels; its end is only reported
	 * from the event loop, after this message.
	 */
	vm_start_vcpu(ctx);
	vm_send(IMSG_VMDOP_VM_STARTED, &r, sizeof(r));
	log_debug("started: %llu MB, kernel %s",
	    (unsigned long long)(ctx->mem.memsize >> 20),
	    ctx->params->vmc_kernel);

	event_base_dispatch(ctx->evbase);
	vm_end(ctx, VM_END_ERROR, "event loop ended");
}
