/*
 * viornd.c: virtio-rng (virtio entropy device, id 4), fed from the host
 * kernel's getrandom(2).  One queue of device-writable buffers; each
 * chain gets at most VIORND_CHUNK bytes, and the whole device at most
 * VIORND_RATE bytes per second after a burst of VIORND_BURST; below
 * VIORND_MIN bytes of budget no chain is taken, which bounds chains per
 * second too, so a guest asking without pause costs the host little
 * CPU.  When the budget is spent the device stops taking buffers and a
 * timer runs the queue again once the budget allows; the driver just
 * waits.  It runs in the vm process on the event thread.  It never reads
 * guest memory and writes only the buffers the ring code handed it.
 */

#include <sys/random.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "dev.h"
#include "virtio.h"

#define VIORND_QUEUE_SIZE	64
#define VIORND_CHUNK		4096		/* bytes per chain at most */
#define VIORND_RATE		(256 * 1024)	/* bytes per second */
#define VIORND_BURST		(64 * 1024)	/* bytes at once */
#define VIORND_MIN		256		/* budget to take a chain */
#define VIORND_MAX_IOV		16

struct viornd {
	struct virtio_dev	*vdev;
	struct event		*ev_refill;
	int			 paused;
	int			 waiting;	/* for the budget, timer set */
	double			 tokens;	/* bytes we may give now */
	struct timespec		 last;		/* tokens computed then */
};

static int	 viornd_attach(struct device *, const struct dev_attach_args *);
static void	 viornd_reset(struct device *);
static void	 viornd_pause(struct device *);
static void	 viornd_resume(struct device *);
static void	 viornd_detach(struct device *);
static void	 viornd_notify(struct virtio_dev *, struct virtq *);

const struct devsw viornd_devsw = {
	.name = "viornd",
	.attach = viornd_attach,
	.reset = viornd_reset,
	.pause = viornd_pause,
	.resume = viornd_resume,
	.detach = viornd_detach
};

static const struct virtio_type viornd_type = {
	.name = "viornd",
	.device_id = VIRTIO_ID_ENTROPY,
	.class = 0x08,		/* system peripheral, other: as vmd */
	.subclass = 0x80,
	.nqueues = 1,
	.queue_max = VIORND_QUEUE_SIZE,
	.queue_notify = viornd_notify
};

static void
refill(struct viornd *sc)
{
	struct timespec	 now;
	double		 dt;

	clock_gettime(CLOCK_MONOTONIC, &now);
	dt = (now.tv_sec - sc->last.tv_sec) +
	    (now.tv_nsec - sc->last.tv_nsec) / 1e9;
	sc->last = now;
	if (dt > 0)
		sc->tokens += dt * VIORND_RATE;
	if (sc->tokens > VIORND_BURST)
		sc->tokens = VIORND_BURST;
}

/* Fill up to n bytes of the writable buffers; returns the count. */
static size_t
fill(const struct virtq_chain *c, size_t n)
{
	size_t	 done = 0, off, want;
	ssize_t	 got;
	int	 i;

	for (i = c->nread; i < c->niov && done < n; i++) {
		want = c->iov[i].iov_len;
		if (want > n - done)
			want = n - done;
		for (off = 0; off < want; off += got) {
			got = getrandom((uint8_t *)c->iov[i].iov_base + off,
			    want - off, 0);
			if (got == -1 && errno == EINTR) {
				got = 0;
				continue;
			}
			if (got <= 0) {
				log_warn("viornd: getrandom");
				return (done + off);
			}
		}
		done += want;
	}
	return (done);
}

static void
wait_budget(struct viornd *sc)
{
	struct timeval	 tv;
	double		 s;

	if (sc->waiting || sc->paused || sc->ev_refill == NULL)
		return;
	/* until a whole chunk is there again */
	s = (VIORND_CHUNK - sc->tokens) / VIORND_RATE;
	if (s < 0.001)
		s = 0.001;
	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - tv.tv_sec) * 1e6);
	if (evtimer_add(sc->ev_refill, &tv) == 0)
		sc->waiting = 1;
}

/* The driver offered buffers: fill them while the budget lasts. */
static void
viornd_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	struct viornd	*sc = virtio_softc(vdev);
	struct virtq_chain c;
	struct iovec	 iov[VIORND_MAX_IOV];
	size_t		 n;
	int		 rv;

	c.iov = iov;
	c.max = VIORND_MAX_IOV;
	refill(sc);
	do {
		virtq_notify_off(vq);
		for (;;) {
			if (sc->tokens < VIORND_MIN) {
				/* a doorbell now would only wake us early */
				wait_budget(sc);
				virtq_interrupt(vq);
				return;
			}
			if ((rv = virtq_pop(vq, &c)) != 1)
				break;
			n = c.wlen;
			if (n > VIORND_CHUNK)
				n = VIORND_CHUNK;
			if (n > sc->tokens)
				n = sc->tokens;
			n = fill(&c, n);
			sc->tokens -= n;
			virtq_push(vq, c.head, n);
		}
		if (rv == -1) {
			virtio_queue_error(vdev, vq);
			return;
		}
	} while (virtq_notify_on(vq));
	virtq_interrupt(vq);
}

static void
viornd_refill(evutil_socket_t fd, short ev, void *arg)
{
	struct device	*dev = arg;
	struct viornd	*sc = dev->softc;

	pthread_mutex_lock(&dev->lock);
	sc->waiting = 0;
	if (!sc->paused)
		virtio_queue_kick(sc->vdev, 0);
	pthread_mutex_unlock(&dev->lock);
}

static int
viornd_attach(struct device *dev, const struct dev_attach_args *args)
{
	struct viornd	*sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		log_warn("viornd: calloc");
		return (-1);
	}
	sc->tokens = VIORND_BURST;
	clock_gettime(CLOCK_MONOTONIC, &sc->last);
	if (dev->host != NULL && dev->host->evbase != NULL &&
	    (sc->ev_refill = evtimer_new(dev->host->evbase, viornd_refill,
	    dev)) == NULL) {
		log_warnx("viornd: timer");
		free(sc);
		return (-1);
	}
	dev->softc = sc;
	if ((sc->vdev = virtio_attach(dev, &viornd_type, sc)) == NULL) {
		if (sc->ev_refill != NULL)
			event_free(sc->ev_refill);
		free(sc);
		dev->softc = NULL;
		return (-1);
	}
	return (0);
}

/* VM reset; the budget is the VM's, not the boot's: it stays. */
static void
viornd_reset(struct device *dev)
{
	struct viornd	*sc = dev->softc;

	virtio_reset(sc->vdev);
}

static void
viornd_pause(struct device *dev)
{
	struct viornd	*sc = dev->softc;

	pthread_mutex_lock(&dev->lock);
	sc->paused = 1;
	if (sc->waiting) {
		event_del_noblock(sc->ev_refill);
		sc->waiting = 0;
	}
	pthread_mutex_unlock(&dev->lock);
}

static void
viornd_resume(struct device *dev)
{
	struct viornd	*sc = dev->softc;

	pthread_mutex_lock(&dev->lock);
	sc->paused = 0;
	virtio_queue_kick(sc->vdev, 0);
	pthread_mutex_unlock(&dev->lock);
}

static void
viornd_detach(struct device *dev)
{
	struct viornd	*sc = dev->softc;

	if (sc == NULL)
		return;
	if (sc->ev_refill != NULL)
		event_free(sc->ev_refill);
	virtio_detach(sc->vdev);
	free(sc);
	dev->softc = NULL;
}
