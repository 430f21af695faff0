/*
 * vmmci.c: OpenBSD's VMM control interface, the device its guests'
 * vmmci(4) drives: a legacy (0.9) virtio function of vendor 0b5d (OpenBSD)
 * device 0777, subsystem ffff, with no queue, on an I/O BAR with INTx,
 * as vmd gives every VM.  Its configuration holds the command register
 * (the host writes a request there and raises a configuration change;
 * the driver writes the command back to acknowledge it) and the host's
 * clock.  Requests are shutdown, reboot and clock sync; the timers of
 * vmd (see virtio.h) say how long the guest has to answer and to finish.
 * What comes of a request goes to the VM through dev_request().
 *
 * It runs in the vm process: register accesses on vCPU threads, the
 * timer and vmmci_ctl() on the event thread, all under dev->lock.  A
 * guest can make it do nothing but answer its own requests: whatever it
 * writes, the only ways out are the three timers' outcomes.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "dev.h"
#include "virtio.h"

#define VMMCI_F_TIMESYNC	(1U << 0)	/* the clock registers */
#define VMMCI_F_ACK		(1U << 1)	/* commands are acknowledged */
#define VMMCI_F_SYNCRTC		(1U << 2)	/* clock sync requests */

/* device configuration */
#define VMMCI_CONFIG_COMMAND	0	/* 32 bits */
#define VMMCI_CONFIG_TIME_SEC	4	/* 64 bits */
#define VMMCI_CONFIG_TIME_USEC	12	/* 64 bits */
#define VMMCI_CONFIG_SIZE	20

/* What the timer, if set, waits for. */
enum vmmci_wait {
	VMMCI_WAIT_NONE,
	VMMCI_WAIT_ACK,		/* the guest to acknowledge cmd */
	VMMCI_WAIT_DONE,	/* the guest to power off or reset, as it said */
	VMMCI_WAIT_GUEST	/* a guest shutting down by itself: the end */
};

struct vmmci {
	struct device	*dev;
	struct virtio_dev *vdev;
	struct event	*ev_timer;
	uint32_t	 cmd;		/* the command register */
	enum vmmci_wait	 wait;
	struct timespec	 time;		/* the clock as read last */
	struct timeval	 t_short;
	struct timeval	 t_long;
};

static int	 vmmci_attach(struct device *, const struct dev_attach_args *);
static void	 vmmci_reset(struct device *);
static void	 vmmci_detach(struct device *);
static void	 vmmci_config_read(struct virtio_dev *, uint32_t, uint8_t *,
		    int);
static void	 vmmci_config_write(struct virtio_dev *, uint32_t,
		    const uint8_t *, int);

/*
 * No pause or resume: as on vmd, a VM paused while a request is pending
 * still gets its answer when the timer says.
 */
const struct devsw vmmci_devsw = {
	.name = "vmmci",
	.attach = vmmci_attach,
	.reset = vmmci_reset,
	.detach = vmmci_detach
};

static const struct virtio_type vmmci_type = {
	.name = "vmmci",
	.class = 0x07,		/* communications, other: as vmd */
	.subclass = 0x80,
	.nqueues = 0,
	.features = VMMCI_F_TIMESYNC | VMMCI_F_ACK | VMMCI_F_SYNCRTC,
	.config_size = VMMCI_CONFIG_SIZE,
	.legacy = 1,
	.pci_vendor = 0x0b5d,	/* OpenBSD */
	.pci_device = 0x0777,	/* OpenBSD VMM control */
	.subsys_vendor = 0x0b5d,
	.subsys = 0xffff,	/* what vmmci(4) matches */
	.config_read = vmmci_config_read,
	.config_write = vmmci_config_write
};

static const char *
cmd_name(uint32_t cmd)
{
	switch (cmd) {
	case VMMCI_SHUTDOWN:
		return ("shutdown");
	case VMMCI_REBOOT:
		return ("reboot");
	case VMMCI_SYNCRTC:
		return ("clock sync");
	default:
		return ("none");
	}
}

/* Wait for what, for how long; dev->lock held. */
static void
timer_set(struct vmmci *sc, enum vmmci_wait wait, const struct timeval *tv)
{
	sc->wait = wait;
	if (sc->ev_timer != NULL)
		evtimer_add(sc->ev_timer, tv);
}

static void
timer_clear(struct vmmci *sc)
{
	sc->wait = VMMCI_WAIT_NONE;
	/* never wait for a running callback: it wants our lock */
	if (sc->ev_timer != NULL)
		event_del_noblock(sc->ev_timer);
}

static void
vmmci_expire(evutil_socket_t fd, short ev, void *arg)
{
	struct device	*dev = arg;
	struct vmmci	*sc = dev->softc;
	enum vmmci_wait	 wait;
	uint32_t	 cmd;

	pthread_mutex_lock(&dev->lock);
	wait = sc->wait;
	cmd = sc->cmd;
	sc->wait = VMMCI_WAIT_NONE;
	switch (wait) {
	case VMMCI_WAIT_ACK:
		/*
		 * Withdrawn: a driver that wakes up later finds nothing to
		 * do, and the VM stays as it is.
		 */
		log_info("vmmci: the guest did not acknowledge the %s "
		    "request", cmd_name(cmd));
		sc->cmd = VMMCI_NONE;
		dev_request(dev, DEV_REQ_SHUTDOWN_NOACK);
		break;
	case VMMCI_WAIT_DONE:
		log_info("vmmci: the guest acknowledged the %s request but "
		    "did not complete it", cmd_name(cmd));
		dev_request(dev, cmd == VMMCI_REBOOT ? DEV_REQ_RESET :
		    DEV_REQ_SHUTDOWN_LATE);
		break;
	case VMMCI_WAIT_GUEST:
		log_info("vmmci: the guest announced its shutdown but did "
		    "not power off");
		dev_request(dev, DEV_REQ_POWEROFF);
		break;
	case VMMCI_WAIT_NONE:
		break;
	}
	pthread_mutex_unlock(&dev->lock);
}

/*
 * The driver wrote the command register: an acknowledgement of ours, or
 * the announcement that the guest shuts down by itself (which OpenBSD's
 * driver makes on its way down, and which is no acknowledgement when
 * nothing is pending).  dev->lock held.
 */
static void
vmmci_ack(struct vmmci *sc, uint32_t cmd)
{
	int	 first;

	switch (cmd) {
	case VMMCI_NONE:
		break;
	case VMMCI_SHUTDOWN:
		if (sc->cmd == VMMCI_NONE) {
			log_debug("vmmci: the guest is shutting down");
			timer_set(sc, VMMCI_WAIT_GUEST, &sc->t_short);
			break;
		}
		/* FALLTHROUGH */
	case VMMCI_REBOOT:
		if (cmd != sc->cmd)
			break;
		first = sc->wait == VMMCI_WAIT_ACK;
		timer_set(sc, VMMCI_WAIT_DONE, &sc->t_long);
		if (first) {
			log_debug("vmmci: %s request acknowledged",
			    cmd_name(cmd));
			dev_request(sc->dev, DEV_REQ_SHUTDOWN_ACK);
		}
		break;
	case VMMCI_SYNCRTC:
		/* only ours: a stray one must not cancel a shutdown */
		if (sc->cmd == VMMCI_SYNCRTC) {
			log_debug("vmmci: clock sync acknowledged");
			sc->cmd = VMMCI_NONE;
		}
		break;
	default:
		log_limited(LOG_DEBUG, "vmmci: unknown command %u written",
		    cmd);
		break;
	}
}

static void
put_le(uint8_t *p, int n, uint64_t v)
{
	int	 i;

	for (i = 0; i < n; i++)
		p[i] = v >> (8 * i);
}

/*
 * As on vmd, the clock is read when the guest reads the low half of the
 * seconds, and the other three words give that same instant.
 */
static void
vmmci_config_read(struct virtio_dev *vdev, uint32_t off, uint8_t *data,
    int size)
{
	struct vmmci	*sc = virtio_softc(vdev);
	uint8_t		 img[VMMCI_CONFIG_SIZE];

	if (off <= VMMCI_CONFIG_TIME_SEC && off + size >
	    VMMCI_CONFIG_TIME_SEC)
		clock_gettime(CLOCK_REALTIME, &sc->time);
	put_le(img + VMMCI_CONFIG_COMMAND, 4, sc->cmd);
	put_le(img + VMMCI_CONFIG_TIME_SEC, 8, (uint64_t)sc->time.tv_sec);
	put_le(img + VMMCI_CONFIG_TIME_USEC, 8,
	    (uint64_t)(sc->time.tv_nsec / 1000));
	memcpy(data, img + off, size);
}

/* Only the command register takes writes, whole or its low bytes. */
static void
vmmci_config_write(struct virtio_dev *vdev, uint32_t off,
    const uint8_t *data, int size)
{
	struct vmmci	*sc = virtio_softc(vdev);
	uint32_t	 v = 0;
	int		 i;

	if (off != VMMCI_CONFIG_COMMAND) {
		log_limited(LOG_DEBUG, "vmmci: write to read-only offset %u",
		    off);
		return;
	}
	for (i = 0; i < size && i < 4; i++)
		v |= (uint32_t)data[i] << (8 * i);
	vmmci_ack(sc, v);
}

/*
 * Post a request to the guest.  Returns 1 if it was posted, 0 if there
 * was nothing to post (the same request pending; a clock sync the guest
 * did not ask for or that would hide a shutdown), -1 if no driver runs
 * the device: the guest cannot be asked.  A driver that did not take
 * VMMCI_F_ACK will never acknowledge, so its request counts as
 * acknowledged at once.  Any thread; never with dev->lock held.
 */
int
vmmci_ctl(struct device *dev, enum vmmci_cmd cmd)
{
	struct vmmci	*sc;
	int		 rv = 1;

	if (dev == NULL || dev->sw != &vmmci_devsw || dev->softc == NULL)
		return (-1);
	sc = dev->softc;
	pthread_mutex_lock(&dev->lock);
	if (!(virtio_status(sc->vdev) & VIRTIO_STATUS_DRIVER_OK))
		rv = -1;
	else if (cmd == sc->cmd || cmd == VMMCI_NONE)
		rv = 0;
	else if (cmd == VMMCI_SYNCRTC) {
		if (!(virtio_features(sc->vdev) & VMMCI_F_SYNCRTC) ||
		    sc->cmd == VMMCI_SHUTDOWN || sc->cmd == VMMCI_REBOOT)
			rv = 0;
		else {
			sc->cmd = cmd;
			virtio_config_changed(sc->vdev);
		}
	} else {
		sc->cmd = cmd;
		virtio_config_changed(sc->vdev);
		timer_set(sc, VMMCI_WAIT_ACK, &sc->t_short);
		if (!(virtio_features(sc->vdev) & VMMCI_F_ACK))
			vmmci_ack(sc, cmd);
	}
	pthread_mutex_unlock(&dev->lock);
	if (rv == 1)
		log_debug("vmmci: %s request posted", cmd_name(cmd));
	return (rv);
}

/* Other timeouts than vmd's, in milliseconds (for tests). */
void
vmmci_timeouts(struct device *dev, unsigned int short_ms,
    unsigned int long_ms)
{
	struct vmmci	*sc;

	if (dev == NULL || dev->sw != &vmmci_devsw || dev->softc == NULL)
		return;
	sc = dev->softc;
	pthread_mutex_lock(&dev->lock);
	sc->t_short.tv_sec = short_ms / 1000;
	sc->t_short.tv_usec = (short_ms % 1000) * 1000;
	sc->t_long.tv_sec = long_ms / 1000;
	sc->t_long.tv_usec = (long_ms % 1000) * 1000;
	pthread_mutex_unlock(&dev->lock);
}

static int
vmmci_attach(struct device *dev, const struct dev_attach_args *args)
{
	struct vmmci	*sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		log_warn("vmmci: calloc");
		return (-1);
	}
	sc->dev = dev;
	sc->t_short.tv_sec = VMMCI_TIMEOUT_SHORT;
	sc->t_long.tv_sec = VMMCI_TIMEOUT_LONG;
	if (dev->host != NULL && dev->host->evbase != NULL &&
	    (sc->ev_timer = evtimer_new(dev->host->evbase, vmmci_expire,
	    dev)) == NULL) {
		log_warnx("vmmci: timer");
		free(sc);
		return (-1);
	}
	dev->softc = sc;
	if ((sc->vdev = virtio_attach(dev, &vmmci_type, sc)) == NULL) {
		if (sc->ev_timer != NULL)
			event_free(sc->ev_timer);
		free(sc);
		dev->softc = NULL;
		return (-1);
	}
	return (0);
}

/*
 * VM reset: nothing pending survives it.  (A driver's own reset, a write
 * of 0 to the status, leaves the request and its timer alone, as on
 * vmd: the guest may do that on its way down.)
 */
static void
vmmci_reset(struct device *dev)
{
	struct vmmci	*sc = dev->softc;

	virtio_reset(sc->vdev);
	pthread_mutex_lock(&dev->lock);
	sc->cmd = VMMCI_NONE;
	timer_clear(sc);
	pthread_mutex_unlock(&dev->lock);
}

static void
vmmci_detach(struct device *dev)
{
	struct vmmci	*sc = dev->softc;

	if (sc == NULL)
		return;
	if (sc->ev_timer != NULL)
		event_free(sc->ev_timer);
	virtio_detach(sc->vdev);
	free(sc);
	dev->softc = NULL;
}
