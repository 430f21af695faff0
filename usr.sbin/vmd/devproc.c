/*
 * devproc.c: the runner of a device process ("vm NAME vioblk 0").  It
 * takes the device's descriptors and start from vmm (fd 3), sets the
 * device up through its ops, announces it ready to the vm process (fd
 * 4), maps guest RAM from the memfd the vm process sends, starts the
 * queues it hands over (state plus kick and call eventfds), calls the
 * device when a queue is kicked, and passes reset, pause, resume and
 * configuration writes on.  It runs in the sandbox proc_run entered: no
 * files, no sockets, no signals but to itself.  Nothing from the vm
 * process is trusted: a queue outside the RAM mapped, an index beyond
 * the device's queues, a range that overlaps another are refused and
 * logged; a broken queue is reported (IMSG_DEVOP_NEEDS_RESET) and no
 * longer used, the process stays up.  It ends when either channel
 * closes or on SIGTERM; vmm reports its end.
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "devproc.h"
#include "vmd.h"

struct devproc_queue {
	struct virtq		 vq;
	struct event		 ev_kick;
	int			 kickfd;	/* pending until it runs */
	int			 callfd;
	int			 running;
	int			 watched;	/* ev_kick added */
};

struct devproc {
	const struct devproc_ops *ops;
	struct proc_env		*env;
	struct event_base	*evbase;
	struct imsgev		 vmm;
	struct imsgev		 vm;
	struct vmop_fdset	 fds;
	struct devop_start	 start;
	struct devop_ready	 ready;
	int			 started;
	char			 title[VMD_PROCNAME_MAX];
	uint8_t			*ram;
	size_t			 ramlen;
	struct devop_memrange	 range[DEVOP_MAX_RANGES];
	uint32_t		 nranges;
	struct devproc_queue	 q[DEVOP_MAX_QUEUES];
	int			 paused;
	void			*softc;
	int			 status;	/* to exit with */
	struct event		 ev_sigterm;
	struct event		 ev_sigint;
};

static int	 devproc_dispatch_vmm(struct imsgev *, struct imsg *);
static int	 devproc_dispatch_vm(struct imsgev *, struct imsg *);
static void	 devproc_closed(struct imsgev *);
static void	 devproc_signal(int, short, void *);
static void	 devproc_start(struct devproc *, struct imsg *);
static void	 devproc_mem(struct devproc *, struct imsg *);
static void	 devproc_queue_fd(struct devproc *, struct imsg *);
static void	 devproc_queue_start(struct devproc *, struct imsg *);
static void	 devproc_ctl(struct devproc *, struct imsg *);
static void	 devproc_config_write(struct devproc *, struct imsg *);
static void	 devproc_queue_stop(struct devproc *, struct devproc_queue *);
static void	 devproc_queues_stop(struct devproc *, int);
static void	 devproc_kick(int, short, void *);
static void	 devproc_end(struct devproc *, int);

/* The entry of a device role: channels on 3 and 4 (proc_spawn). */
void
devproc_main(struct proc_env *env)
{
	const struct devproc_ops	*ops = env->role->dev;

	if (ops == NULL)
		fatalx("%s: no device", env->role->title);
	exit(devproc_run(ops, env, PROC_PARENT_FD, PROC_DEVICE_VM_FD));
}

/*
 * Run the device ops with vmmfd and vmfd as its channels until it ends;
 * returns the exit status.  regress/unit/devproc_test.c calls it in a
 * child of its own.
 */
int
devproc_run(const struct devproc_ops *ops, struct proc_env *env,
    int vmmfd, int vmfd)
{
	static struct devproc	 dp;
	size_t			 i;

	memset(&dp, 0, sizeof(dp));
	dp.ops = ops;
	dp.env = env;
	vmop_fdset_init(&dp.fds);
	for (i = 0; i < DEVOP_MAX_QUEUES; i++)
		dp.q[i].kickfd = dp.q[i].callfd = -1;
	(void)snprintf(dp.title, sizeof(dp.title), "vm %s %s",
	    env->vm_name != NULL ? env->vm_name : "?", ops->name);

	if ((dp.evbase = event_base_new()) == NULL)
		fatalx("event_base_new");
	env->evbase = dp.evbase;
	if (imsgev_init(&dp.vmm, dp.evbase, vmmfd, "vmm", 1,
	    devproc_dispatch_vmm, devproc_closed, &dp) == -1)
		fatal("vmm channel");
	proc_log_to(&dp.vmm);
	/* The vm process is heard once the device is set up. */
	if (imsgev_init(&dp.vm, dp.evbase, vmfd, "vm", 1,
	    devproc_dispatch_vm, devproc_closed, &dp) == -1)
		fatal("vm channel");
	imsgev_pause(&dp.vm);
	evsignal_assign(&dp.ev_sigterm, dp.evbase, SIGTERM, devproc_signal,
	    &dp);
	evsignal_assign(&dp.ev_sigint, dp.evbase, SIGINT, devproc_signal,
	    &dp);
	if (event_add(&dp.ev_sigterm, NULL) == -1 ||
	    event_add(&dp.ev_sigint, NULL) == -1)
		fatalx("cannot watch signals");
	proc_signals_log(dp.evbase, 0);

	event_base_dispatch(dp.evbase);
	devproc_queues_stop(&dp, 0);
	if (dp.started && ops->fini != NULL)
		ops->fini(&dp);
	vmop_fdset_close(&dp.fds);
	if (dp.ram != NULL)
		munmap(dp.ram, dp.ramlen);
	imsgev_clear(&dp.vm);
	proc_flush(&dp.vmm.ibuf, 1000);
	imsgev_clear(&dp.vmm);
	return (dp.status);
}

static void
devproc_end(struct devproc *dp, int status)
{
	dp->status = status;
	event_base_loopbreak(dp->evbase);
}

static void
devproc_signal(int sig, short events, void *arg)
{
	log_debug("terminated");
	devproc_end(arg, 0);
}

/* vmm or the vm process went away: so does the VM, so do we. */
static void
devproc_closed(struct imsgev *iev)
{
	struct devproc	*dp = iev->arg;

	log_debug("%s channel closed", iev->name);
	devproc_end(dp, 0);
}

void *
devproc_softc(struct devproc *dp)
{
	return (dp->softc);
}

void
devproc_set_softc(struct devproc *dp, void *softc)
{
	dp->softc = softc;
}

struct event_base *
devproc_evbase(struct devproc *dp)
{
	return (dp->evbase);
}

const char *
devproc_title(struct devproc *dp)
{
	return (dp->title);
}

/*
 * Guest-physical [gpa, gpa + len) as a pointer, if it lies in one range
 * of the RAM the vm process sent; else NULL.
 */
void *
devproc_gpa(struct devproc *dp, uint64_t gpa, uint64_t len)
{
	const struct devop_memrange	*r;
	uint32_t			 i;

	if (len == 0 || dp->ram == NULL)
		return (NULL);
	for (i = 0; i < dp->nranges; i++) {
		r = &dp->range[i];
		if (gpa >= r->gpa && gpa - r->gpa <= r->len &&
		    len <= r->len - (gpa - r->gpa))
			return (dp->ram + r->offset + (gpa - r->gpa));
	}
	return (NULL);
}

static void *
devproc_gpa_view(void *arg, uint64_t gpa, uint64_t len)
{
	return (devproc_gpa(arg, gpa, len));
}

/* A running queue, or NULL. */
struct virtq *
devproc_queue(struct devproc *dp, uint16_t index)
{
	if (index >= DEVOP_MAX_QUEUES || !dp->q[index].running)
		return (NULL);
	return (&dp->q[index].vq);
}

/*
 * The device found vq malformed (vq->error says why): it is no longer
 * used, and the vm process is told to set DEVICE_NEEDS_RESET.
 */
void
devproc_queue_error(struct devproc *dp, struct virtq *vq)
{
	struct devop_error	 de;
	uint16_t		 index = vq->st.index;

	if (index >= DEVOP_MAX_QUEUES || !dp->q[index].running)
		return;
	memset(&de, 0, sizeof(de));
	de.de_queue = index;
	(void)snprintf(de.de_reason, sizeof(de.de_reason), "%s",
	    vq->error[0] != '\0' ? vq->error : "malformed queue");
	log_debug("queue %u broken: %s", index, de.de_reason);
	devproc_queue_stop(dp, &dp->q[index]);
	imsgev_compose(&dp->vm, IMSG_DEVOP_NEEDS_RESET, 0, 0, -1, &de,
	    sizeof(de));
}

/* The device's configuration changed: the vm process tells the driver. */
int
devproc_config_changed(struct devproc *dp, const uint8_t *config,
    uint32_t len)
{
	if (len > sizeof(dp->ready.dr_config)) {
		errno = EINVAL;
		return (-1);
	}
	memcpy(dp->ready.dr_config, config, len);
	dp->ready.dr_config_len = len;
	return (imsgev_compose(&dp->vm, IMSG_DEVOP_CONFIG, 0, 0, -1,
	    &dp->ready, sizeof(dp->ready)));
}

static int
devproc_dispatch_vmm(struct imsgev *iev, struct imsg *imsg)
{
	struct devproc	*dp = iev->arg;
	struct vmop_fd	 vmf;
	char		 err[VM_REASON_MAX];
	int32_t		 level;
	int		 fd;

	if (!msg_ok(imsg, MSG_VMM_DEV, "vmm"))
		return (0);
	switch (imsg_get_type(imsg)) {
	case IMSG_VMDOP_START_VM_FD:
		fd = imsg_get_fd(imsg);
		(void)imsg_get_data(imsg, &vmf, sizeof(vmf));
		/* vmm's own protocol: nothing to go on without it. */
		if (dp->started)
			fatalx("descriptor after the start");
		if (vmop_fdset_put(&dp->fds, &vmf, fd, err,
		    sizeof(err)) == -1)
			fatalx("%s", err);
		break;
	case IMSG_DEVOP_START:
		devproc_start(dp, imsg);
		break;
	case IMSG_CTL_VERBOSE:
		(void)imsg_get_data(imsg, &level, sizeof(level));
		log_setverbose(level);
		break;
	}
	return (0);
}

/* All descriptors are in: set the device up and tell the vm process. */
static void
devproc_start(struct devproc *dp, struct imsg *imsg)
{
	char		 err[VM_REASON_MAX];

	if (dp->started)
		fatalx("started twice");
	(void)imsg_get_data(imsg, &dp->start, sizeof(dp->start));
	if (vmop_fds_complete(&dp->fds, &dp->start.ds_fds, err,
	    sizeof(err)) == -1)
		fatalx("%s", err);
	(void)snprintf(dp->title, sizeof(dp->title), "vm %s %s %u",
	    dp->start.ds_vmname, dp->ops->name, dp->start.ds_index);
	log_procinit(dp->title);

	memset(&dp->ready, 0, sizeof(dp->ready));
	err[0] = '\0';
	if (dp->ops->init(dp, &dp->start, &dp->fds, &dp->ready, err,
	    sizeof(err)) == -1)
		fatalx("%s", err[0] != '\0' ? err : "cannot start");
	vmop_fdset_close(&dp->fds);
	if (dp->ready.dr_nqueues == 0 ||
	    dp->ready.dr_nqueues > DEVOP_MAX_QUEUES ||
	    dp->ready.dr_config_len > DEVOP_CONFIG_MAX)
		fatalx("device declares %u queues and %u config bytes",
		    dp->ready.dr_nqueues, dp->ready.dr_config_len);
	dp->started = 1;
	log_debug("ready: %u queues, features 0x%llx", dp->ready.dr_nqueues,
	    (unsigned long long)dp->ready.dr_features);
	imsgev_compose(&dp->vm, IMSG_DEVOP_READY, 0, 0, -1, &dp->ready,
	    sizeof(dp->ready));
	if (imsgev_resume(&dp->vm) == -1)
		return;
}

/* Messages from the vm process, which may be a compromised guest's. */
static int
devproc_dispatch_vm(struct imsgev *iev, struct imsg *imsg)
{
	struct devproc	*dp = iev->arg;

	if (!msg_ok(imsg, MSG_VM_DEV, "vm"))
		return (0);
	switch (imsg_get_type(imsg)) {
	case IMSG_DEVOP_MEM:
		devproc_mem(dp, imsg);
		break;
	case IMSG_DEVOP_QUEUE_FD:
		devproc_queue_fd(dp, imsg);
		break;
	case IMSG_DEVOP_QUEUE:
		devproc_queue_start(dp, imsg);
		break;
	case IMSG_DEVOP_RESET:
	case IMSG_DEVOP_PAUSE:
	case IMSG_DEVOP_RESUME:
		devproc_ctl(dp, imsg);
		break;
	case IMSG_DEVOP_CONFIG_WRITE:
		devproc_config_write(dp, imsg);
		break;
	}
	return (0);
}

/*
 * Check a memory map: each range non-empty, no sum wraps, no two
 * overlap as guest addresses or in the memfd, all of it inside a file
 * of size bytes.  Returns the length to map, or 0 with err set.
 */
static uint64_t
devproc_mem_check(const struct devop_mem *dm, uint64_t size, char *err,
    size_t errlen)
{
	const struct devop_memrange	*a, *b;
	uint64_t			 end = 0;
	uint32_t			 i, j;

	if (dm->dm_nranges == 0 || dm->dm_nranges > DEVOP_MAX_RANGES) {
		(void)snprintf(err, errlen, "%u memory ranges",
		    dm->dm_nranges);
		return (0);
	}
	for (i = 0; i < dm->dm_nranges; i++) {
		a = &dm->dm_range[i];
		if (a->len == 0 || a->gpa + a->len < a->gpa ||
		    a->offset + a->len < a->offset ||
		    a->offset + a->len > size) {
			(void)snprintf(err, errlen, "memory range %u "
			    "(0x%llx, 0x%llx bytes at 0x%llx) outside the "
			    "memory", i, (unsigned long long)a->gpa,
			    (unsigned long long)a->len,
			    (unsigned long long)a->offset);
			return (0);
		}
		for (j = 0; j < i; j++) {
			b = &dm->dm_range[j];
			if ((a->gpa < b->gpa + b->len &&
			    b->gpa < a->gpa + a->len) ||
			    (a->offset < b->offset + b->len &&
			    b->offset < a->offset + a->len)) {
				(void)snprintf(err, errlen, "memory ranges "
				    "%u and %u overlap", j, i);
				return (0);
			}
		}
		if (a->offset + a->len > end)
			end = a->offset + a->len;
	}
	return (end);
}

/* Guest RAM: the memfd and where its pieces sit; queues start over. */
static void
devproc_mem(struct devproc *dp, struct imsg *imsg)
{
	struct devop_mem	 dm;
	struct stat		 st;
	char			 err[128];
	uint64_t		 len;
	void			*p;
	int			 fd;

	fd = imsg_get_fd(imsg);
	(void)imsg_get_data(imsg, &dm, sizeof(dm));
	if (fd == -1) {
		log_warnx("memory map without memory");
		return;
	}
	if (fstat(fd, &st) == -1 || st.st_size < 0) {
		log_warn("guest memory");
		close(fd);
		return;
	}
	if ((len = devproc_mem_check(&dm, (uint64_t)st.st_size, err,
	    sizeof(err))) == 0 || len > SIZE_MAX) {
		log_warnx("memory map refused: %s", err);
		close(fd);
		return;
	}
	p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0);
	close(fd);
	if (p == MAP_FAILED) {
		log_warn("cannot map guest memory");
		return;
	}
	/* Queues point into the old mapping: they must be set up again. */
	devproc_queues_stop(dp, 1);
	if (dp->ram != NULL)
		munmap(dp->ram, dp->ramlen);
	dp->ram = p;
	dp->ramlen = (size_t)len;
	memcpy(dp->range, dm.dm_range, sizeof(dp->range));
	dp->nranges = dm.dm_nranges;
	log_debug("guest memory: %llu bytes in %u ranges",
	    (unsigned long long)len, dp->nranges);
}

static void
devproc_queue_fd(struct devproc *dp, struct imsg *imsg)
{
	struct devop_queue_fd	 dq;
	struct devproc_queue	*q;
	int			 fd, *slot;

	fd = imsg_get_fd(imsg);
	(void)imsg_get_data(imsg, &dq, sizeof(dq));
	if (fd == -1 || dq.dq_queue >= dp->ready.dr_nqueues ||
	    dq.dq_which > DEVOP_FD_CALL) {
		log_warnx("queue descriptor refused: queue %u, kind %u%s",
		    dq.dq_queue, dq.dq_which, fd == -1 ? ", no fd" : "");
		if (fd != -1)
			close(fd);
		return;
	}
	q = &dp->q[dq.dq_queue];
	/* A running queue is being set up again: it stops now. */
	if (q->running)
		devproc_queue_stop(dp, q);
	slot = dq.dq_which == DEVOP_FD_KICK ? &q->kickfd : &q->callfd;
	if (*slot != -1)
		close(*slot);
	*slot = fd;
}

/* Start a queue with the state sent and the two fds sent before. */
static void
devproc_queue_start(struct devproc *dp, struct imsg *imsg)
{
	struct virtq_state	 st;
	struct virtq_mem	 mem = { devproc_gpa_view, dp };
	struct devproc_queue	*q;

	(void)imsg_get_data(imsg, &st, sizeof(st));
	if (st.index >= dp->ready.dr_nqueues) {
		log_warnx("queue %u refused: the device has %u", st.index,
		    dp->ready.dr_nqueues);
		return;
	}
	q = &dp->q[st.index];
	if (q->running)
		devproc_queue_stop(dp, q);
	if (q->kickfd == -1 || q->callfd == -1 || dp->ram == NULL) {
		log_warnx("queue %u refused: no %s", st.index,
		    dp->ram == NULL ? "guest memory" : "eventfds");
		return;
	}
	if (dp->ready.dr_queue_max != 0 && st.size > dp->ready.dr_queue_max) {
		log_warnx("queue %u refused: %u entries, at most %u",
		    st.index, st.size, dp->ready.dr_queue_max);
		return;
	}
	st.kickfd = q->kickfd;
	st.callfd = q->callfd;
	q->running = 1;
	if (virtq_init(&q->vq, &st, &mem) == -1) {
		devproc_queue_error(dp, &q->vq);
		return;
	}
	event_assign(&q->ev_kick, dp->evbase, q->kickfd, EV_READ | EV_PERSIST,
	    devproc_kick, q);
	if (event_add(&q->ev_kick, NULL) == -1) {
		log_warnx("queue %u: cannot watch its kicks", st.index);
		devproc_queue_stop(dp, q);
		return;
	}
	q->watched = 1;
	log_debug("queue %u: %u entries", st.index, st.size);
	/* What the driver queued before the hand-over. */
	if (!dp->paused)
		dp->ops->notify(dp, &q->vq);
}

static void
devproc_kick(int fd, short events, void *arg)
{
	struct devproc_queue	*q = arg;
	struct devproc		*dp = q->vq.mem.arg;
	uint64_t		 n;

	/* An eventfd: one read takes every kick since the last. */
	if (read(fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("queue %u kick", q->vq.st.index);
	if (q->running && !dp->paused)
		dp->ops->notify(dp, &q->vq);
}

static void
devproc_queue_stop(struct devproc *dp, struct devproc_queue *q)
{
	if (q->watched)
		event_del(&q->ev_kick);
	q->watched = 0;
	q->running = 0;
	if (q->kickfd != -1)
		close(q->kickfd);
	if (q->callfd != -1)
		close(q->callfd);
	q->kickfd = q->callfd = -1;
}

/* Stop every queue; reset: the device drops its work in flight first. */
static void
devproc_queues_stop(struct devproc *dp, int reset)
{
	size_t	 i;

	if (reset && dp->started && dp->ops->reset != NULL)
		dp->ops->reset(dp);
	for (i = 0; i < DEVOP_MAX_QUEUES; i++)
		devproc_queue_stop(dp, &dp->q[i]);
}

static void
devproc_ctl(struct devproc *dp, struct imsg *imsg)
{
	struct devop_ctl	 dc;
	struct virtq_state	 st;
	uint32_t		 type = imsg_get_type(imsg);
	size_t			 i;

	(void)imsg_get_data(imsg, &dc, sizeof(dc));
	dc.dc_type = type;
	dc.dc_result = 0;
	switch (type) {
	case IMSG_DEVOP_RESET:
		devproc_queues_stop(dp, 1);
		dp->paused = 0;
		break;
	case IMSG_DEVOP_PAUSE:
		if (dp->paused) {
			dc.dc_result = EALREADY;
			break;
		}
		dp->paused = 1;
		if (dp->ops->pause != NULL)
			dp->ops->pause(dp);
		for (i = 0; i < DEVOP_MAX_QUEUES; i++) {
			if (!dp->q[i].running)
				continue;
			virtq_get_state(&dp->q[i].vq, &st);
			st.kickfd = st.callfd = -1;
			imsgev_compose(&dp->vm, IMSG_DEVOP_QUEUE, 0, 0, -1, &st,
			    sizeof(st));
		}
		break;
	case IMSG_DEVOP_RESUME:
		if (!dp->paused) {
			dc.dc_result = EALREADY;
			break;
		}
		dp->paused = 0;
		if (dp->ops->resume != NULL)
			dp->ops->resume(dp);
		/* Kicks that came while paused were taken, not served. */
		for (i = 0; i < DEVOP_MAX_QUEUES; i++)
			if (dp->q[i].running)
				dp->ops->notify(dp, &dp->q[i].vq);
		break;
	}
	imsgev_compose(&dp->vm, IMSG_DEVOP_ACK, 0, 0, -1, &dc, sizeof(dc));
}

static void
devproc_config_write(struct devproc *dp, struct imsg *imsg)
{
	struct devop_config_write	 dw;

	(void)imsg_get_data(imsg, &dw, sizeof(dw));
	if (dw.dw_off >= dp->ready.dr_config_len ||
	    dw.dw_len > dp->ready.dr_config_len - dw.dw_off) {
		log_warnx("config write of %u bytes at %u refused",
		    dw.dw_len, dw.dw_off);
		return;
	}
	if (dp->ops->config_write != NULL)
		dp->ops->config_write(dp, dw.dw_off, dw.dw_data, dw.dw_len);
}
