/*
 * vm_devproc.c: the vm process's end of its device processes.  Each
 * device process ("vm NAME vioblk 0") has a channel to the vm process,
 * which vmm made and handed over at the start; over it the vm process
 * learns what the device offers (IMSG_DEVOP_READY), sends guest RAM
 * (the memfd and its map), hands over each queue the driver set up
 * (its state and its kick and call eventfds), passes reset, pause,
 * resume and configuration writes on, and hears of broken queues and
 * configuration changes.  A virtio device of the vm process drives one
 * of these instead of running its queues itself.  Any thread may send
 * (a vCPU thread in a config-space write); what comes is read on the
 * event thread and handed to the device's callbacks.  Nothing a device
 * process says is trusted beyond msg_check and the checks below: it
 * can break its own device, never the vm process.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event.h>

#include "log.h"
#include "proc.h"
#include "devproc.h"
#include "vm.h"
#include "vmd.h"

struct vmdev {
	struct imsgev		 iev;
	pthread_mutex_t		 lock;		/* the channel's writes */
	uint32_t		 kind;		/* VMOP_FD_VIOBLK, _VIONET */
	uint32_t		 index;
	char			 name[32];	/* "vioblk 0" */
	int			 ready;
	struct devop_ready	 info;
	uint32_t		 seq;
	const struct vmdev_cb	*cb;
	void			*arg;
};

static int	 vmdev_dispatch(struct imsgev *, struct imsg *);
static void	 vmdev_closed(struct imsgev *);

/*
 * Take fd, the channel to the device process of kind and index.  Returns
 * it, or NULL with errno (fd is closed then).
 */
struct vmdev *
vmdev_open(struct event_base *evbase, int fd, uint32_t kind, uint32_t index)
{
	struct vmdev	*d;
	int		 error;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		close(fd);
		return (NULL);
	}
	d->kind = kind;
	d->index = index;
	(void)snprintf(d->name, sizeof(d->name), "%s %u",
	    kind == VMOP_FD_VIOBLK ? "vioblk" : kind == VMOP_FD_VIONET ?
	    "vionet" : "device", index);
	pthread_mutex_init(&d->lock, NULL);
	if (imsgev_init(&d->iev, evbase, fd, d->name, 1, vmdev_dispatch,
	    vmdev_closed, d) == -1) {
		error = errno;
		close(fd);
		goto fail;
	}
	if (imsgev_threads(&d->iev, &d->lock) == -1) {
		error = errno;
		imsgev_clear(&d->iev);
		goto fail;
	}
	return (d);
 fail:
	pthread_mutex_destroy(&d->lock);
	free(d);
	errno = error;
	return (NULL);
}

void
vmdev_close(struct vmdev *d)
{
	if (d == NULL)
		return;
	imsgev_clear(&d->iev);
	if (d->iev.ev_wake != NULL)
		event_free(d->iev.ev_wake);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/* What the device does with what it hears; cb stays the caller's. */
void
vmdev_set_cb(struct vmdev *d, const struct vmdev_cb *cb, void *arg)
{
	d->cb = cb;
	d->arg = arg;
}

uint32_t
vmdev_kind(const struct vmdev *d)
{
	return (d->kind);
}

uint32_t
vmdev_index(const struct vmdev *d)
{
	return (d->index);
}

const char *
vmdev_name(const struct vmdev *d)
{
	return (d->name);
}

/* What the device offers, once it said so; NULL before. */
const struct devop_ready *
vmdev_ready(const struct vmdev *d)
{
	return (d->ready ? &d->info : NULL);
}

/* Is the channel still there (the device process alive)? */
int
vmdev_alive(const struct vmdev *d)
{
	return (d->iev.active);
}

static int
vmdev_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	struct vmdev		*d = iev->arg;
	struct devop_ready	 dr;
	struct devop_error	 de;
	struct devop_ctl	 dc;
	struct virtq_state	 st;

	if (!msg_ok(imsg, MSG_DEV_VM, d->name))
		return (0);
	switch (imsg_get_type(imsg)) {
	case IMSG_DEVOP_READY:
		(void)imsg_get_data(imsg, &dr, sizeof(dr));
		if (d->ready) {
			log_warnx("%s: ready twice", d->name);
			break;
		}
		d->info = dr;
		d->ready = 1;
		log_debug("%s ready: %u queues", d->name, dr.dr_nqueues);
		break;
	case IMSG_DEVOP_CONFIG:
		(void)imsg_get_data(imsg, &dr, sizeof(dr));
		if (!d->ready)
			break;
		/* What it offers does not change; its configuration may. */
		d->info.dr_config_len = dr.dr_config_len;
		memcpy(d->info.dr_config, dr.dr_config,
		    sizeof(d->info.dr_config));
		if (d->cb != NULL && d->cb->config != NULL)
			d->cb->config(d->arg, d, &d->info);
		break;
	case IMSG_DEVOP_NEEDS_RESET:
		(void)imsg_get_data(imsg, &de, sizeof(de));
		log_limited(LOG_WARNING, "%s: queue %u: %s", d->name,
		    de.de_queue, de.de_reason);
		if (d->cb != NULL && d->cb->needs_reset != NULL)
			d->cb->needs_reset(d->arg, d, de.de_queue,
			    de.de_reason);
		break;
	case IMSG_DEVOP_ACK:
		(void)imsg_get_data(imsg, &dc, sizeof(dc));
		if (d->cb != NULL && d->cb->ack != NULL)
			d->cb->ack(d->arg, d, &dc);
		break;
	case IMSG_DEVOP_QUEUE:
		(void)imsg_get_data(imsg, &st, sizeof(st));
		st.kickfd = st.callfd = -1;
		if (d->cb != NULL && d->cb->queue_state != NULL)
			d->cb->queue_state(d->arg, d, &st);
		break;
	}
	return (0);
}

/* Its process is gone: vmm ends the VM; meanwhile nothing goes there. */
static void
vmdev_closed(struct imsgev *iev)
{
	struct vmdev	*d = iev->arg;

	log_debug("%s: channel closed", d->name);
	if (d->cb != NULL && d->cb->closed != NULL)
		d->cb->closed(d->arg, d);
}

/* Are all of devs ready?  1 yes, 0 not yet, -1 one went away (err). */
static int
vmdev_all_ready(struct vmdev *const *devs, size_t n, size_t *waiting,
    char *err, size_t errlen)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (!devs[i]->iev.active) {
			(void)snprintf(err, errlen, "%s went away before it "
			    "was ready", devs[i]->name);
			return (-1);
		}
		if (!devs[i]->ready) {
			*waiting = i;
			return (0);
		}
	}
	return (1);
}

static void
vmdev_tick(evutil_socket_t fd, short ev, void *arg)
{
}

/*
 * Run evbase until every device of devs[n] is ready, at most ms.
 * Returns 0, or -1 with err naming the first that is not.
 */
int
vmdev_wait_ready(struct event_base *evbase, struct vmdev *const *devs,
    size_t n, int ms, char *err, size_t errlen)
{
	struct timespec	 start, now;
	struct timeval	 tick = { 0, 20000 };
	struct event	*ev_tick;
	size_t		 waiting = 0;
	int		 rv;

	/*
	 * A tick of our own to look at the clock, not event_base_loopexit:
	 * its timer would outlive this loop and end the caller's next one.
	 */
	if ((ev_tick = evtimer_new(evbase, vmdev_tick, NULL)) == NULL) {
		(void)snprintf(err, errlen, "cannot wait: %s",
		    strerror(errno));
		return (-1);
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	while ((rv = vmdev_all_ready(devs, n, &waiting, err, errlen)) == 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_nsec - start.tv_nsec) / 1000000 >= ms) {
			(void)snprintf(err, errlen, "%s not ready in %d ms",
			    devs[waiting]->name, ms);
			rv = -1;
			break;
		}
		evtimer_add(ev_tick, &tick);
		event_base_loop(evbase, EVLOOP_ONCE);
	}
	event_free(ev_tick);
	return (rv == 1 ? 0 : -1);
}

/*
 * Send guest RAM: memfd (dup'd: the caller keeps its own) and where
 * each piece of it sits, as struct devop_memrange.
 */
int
vmdev_mem(struct vmdev *d, int memfd, const struct devop_memrange *r,
    uint32_t n)
{
	struct devop_mem	 dm;
	int			 fd;

	if (n == 0 || n > DEVOP_MAX_RANGES) {
		errno = EINVAL;
		return (-1);
	}
	memset(&dm, 0, sizeof(dm));
	dm.dm_nranges = n;
	memcpy(dm.dm_range, r, n * sizeof(*r));
	if ((fd = fcntl(memfd, F_DUPFD_CLOEXEC, 0)) == -1)
		return (-1);
	return (imsgev_compose(&d->iev, IMSG_DEVOP_MEM, 0, 0, fd, &dm,
	    sizeof(dm)));
}

/*
 * Hand a queue over: its state and its two eventfds (dup'd: the caller
 * keeps them registered with the hypervisor).
 */
int
vmdev_queue(struct vmdev *d, const struct virtq_state *st)
{
	struct devop_queue_fd	 dq;
	struct virtq_state	 s = *st;
	int			 kick, call;

	if (st->kickfd < 0 || st->callfd < 0) {
		errno = EBADF;
		return (-1);
	}
	if ((kick = fcntl(st->kickfd, F_DUPFD_CLOEXEC, 0)) == -1)
		return (-1);
	if ((call = fcntl(st->callfd, F_DUPFD_CLOEXEC, 0)) == -1) {
		close(kick);
		return (-1);
	}
	dq.dq_queue = st->index;
	dq.dq_which = DEVOP_FD_KICK;
	if (imsgev_compose(&d->iev, IMSG_DEVOP_QUEUE_FD, 0, 0, kick, &dq,
	    sizeof(dq)) == -1) {
		close(call);
		return (-1);
	}
	dq.dq_which = DEVOP_FD_CALL;
	if (imsgev_compose(&d->iev, IMSG_DEVOP_QUEUE_FD, 0, 0, call, &dq,
	    sizeof(dq)) == -1)
		return (-1);
	s.kickfd = s.callfd = -1;
	return (imsgev_compose(&d->iev, IMSG_DEVOP_QUEUE, 0, 0, -1, &s,
	    sizeof(s)));
}

/*
 * IMSG_DEVOP_RESET, _PAUSE or _RESUME; the device answers through the
 * ack callback with the seq returned here (0 when it could not be sent).
 */
uint32_t
vmdev_ctl(struct vmdev *d, uint32_t type)
{
	struct devop_ctl	 dc;

	memset(&dc, 0, sizeof(dc));
	pthread_mutex_lock(&d->lock);
	if (++d->seq == 0)
		d->seq = 1;
	dc.dc_seq = d->seq;
	pthread_mutex_unlock(&d->lock);
	dc.dc_type = type;
	if (imsgev_compose(&d->iev, type, 0, 0, -1, &dc, sizeof(dc)) == -1)
		return (0);
	return (dc.dc_seq);
}

int
vmdev_config_write(struct vmdev *d, uint32_t off, const uint8_t *data,
    uint32_t len)
{
	struct devop_config_write	 dw;

	if (len == 0 || len > sizeof(dw.dw_data)) {
		errno = EINVAL;
		return (-1);
	}
	memset(&dw, 0, sizeof(dw));
	dw.dw_off = off;
	dw.dw_len = len;
	memcpy(dw.dw_data, data, len);
	return (imsgev_compose(&d->iev, IMSG_DEVOP_CONFIG_WRITE, 0, 0, -1,
	    &dw, sizeof(dw)));
}

/*
 * The pieces of guest RAM in its memfd, as vm_mem.c lays them out and
 * vm_dma_ptr() gives them to in-process devices: low RAM with the
 * 640K-1M hole (firmware's int 13h requests live there) at offset ==
 * gpa, RAM above 4G right after low RAM.
 */
uint32_t
vmdev_memranges(uint64_t memsize, struct devop_memrange *out, uint32_t max)
{
	uint64_t	 low = vm_lowram_end(memsize);
	uint32_t	 k = 0;

	if (k < max && low > 0) {
		out[k].gpa = 0;
		out[k].len = low;
		out[k].offset = 0;
		k++;
	}
	if (k < max && memsize > VM_MMIO_HOLE_START) {
		out[k].gpa = VM_MMIO_HOLE_END;
		out[k].len = memsize - VM_MMIO_HOLE_START;
		out[k].offset = VM_MMIO_HOLE_START;
		k++;
	}
	return (k);
}
