/*
 * virtio_dev.c: the vm process's PCI function of a virtio device that
 * runs in a device process (vioblk, vionet).  The transport (virtio.c)
 * keeps the PCI function, the common configuration, MSI-X and the
 * queue registers here; what the function offers (features, queues,
 * device configuration) is what the device process said when it was
 * ready.  Once the driver sets DRIVER_OK each enabled queue is handed
 * over (vmdev_queue: its state, its ioeventfd and irqfd), so requests
 * never pass through this process.  Configuration reads come from the
 * last configuration the device sent, writes go to it; a driver reset
 * goes to it too and reads as pending until it acknowledged; a queue it
 * found broken sets DEVICE_NEEDS_RESET.  Nothing here trusts the device
 * process beyond vm_devproc.c's checks: it can break its own function,
 * not this process.  One function per device process, attached from
 * x86_vm.c with the struct vmdev in the attach arguments.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "dev.h"
#include "virtio.h"
#include "devproc.h"
#include "vmd.h"

struct viodev {
	struct virtio_dev	*vdev;
	struct vmdev		*vmdev;
	struct virtio_type	 type;
	char			 name[32];
	uint8_t			 config[DEVOP_CONFIG_MAX];
	uint32_t		 config_len;
	uint32_t		 reset_seq;	/* the reset awaited, or 0 */
};

static int	 viodev_attach(struct device *, const struct dev_attach_args *);
static void	 viodev_reset(struct device *);
static void	 viodev_detach(struct device *);

const struct devsw viodev_devsw = {
	.name = "viodev",
	.attach = viodev_attach,
	.reset = viodev_reset,
	.detach = viodev_detach
};

/* What each kind of device process is on the PCI bus. */
static const struct {
	uint32_t	 kind;
	uint16_t	 device_id;
	uint8_t		 class, subclass;
} viodev_kinds[] = {
	{ VMOP_FD_VIOBLK, VIRTIO_ID_BLOCK,	0x01, 0x00 },	/* storage */
	{ VMOP_FD_VIONET, VIRTIO_ID_NET,	0x02, 0x00 },	/* ethernet */
};

/* Reads come from the configuration the device process sent last. */
static void
viodev_config_read(struct virtio_dev *vdev, uint32_t off, uint8_t *data,
    int size)
{
	struct viodev	*sc = virtio_softc(vdev);

	memset(data, 0, size);
	if (off < sc->config_len)
		memcpy(data, sc->config + off,
		    (uint32_t)size < sc->config_len - off ?
		    (uint32_t)size : sc->config_len - off);
}

static void
viodev_config_write(struct virtio_dev *vdev, uint32_t off,
    const uint8_t *data, int size)
{
	struct viodev	*sc = virtio_softc(vdev);

	if (vmdev_config_write(sc->vmdev, off, data, size) == -1)
		log_debug("%s: config write: %s", sc->name, strerror(errno));
}

/* DRIVER_OK: every queue the driver enabled goes to the device process. */
static void
viodev_driver_ok(struct virtio_dev *vdev)
{
	struct viodev		*sc = virtio_softc(vdev);
	struct virtq_state	 st;
	uint16_t		 i;

	for (i = 0; i < sc->type.nqueues; i++) {
		if (virtio_queue_state(vdev, i, &st) == -1)
			continue;
		if (vmdev_queue(sc->vmdev, &st) == -1) {
			virtio_needs_reset(vdev, i, "cannot hand the queue "
			    "to its device process");
			continue;
		}
	}
}

/*
 * The driver or the VM reset the function: the device process drops its
 * queues; until it says so the status does not read 0.
 */
static void
viodev_type_reset(struct virtio_dev *vdev)
{
	struct viodev	*sc = virtio_softc(vdev);

	if (!vmdev_alive(sc->vmdev))
		return;
	if ((sc->reset_seq = vmdev_ctl(sc->vmdev, IMSG_DEVOP_RESET)) != 0)
		virtio_reset_pending(vdev, 1);
}

/* Event thread: what the device process says. */
static void
viodev_cb_config(void *arg, struct vmdev *d, const struct devop_ready *dr)
{
	struct viodev	*sc = arg;
	struct device	*dev = virtio_device(sc->vdev);

	pthread_mutex_lock(&dev->lock);
	sc->config_len = dr->dr_config_len < sc->type.config_size ?
	    dr->dr_config_len : sc->type.config_size;
	memcpy(sc->config, dr->dr_config, sc->config_len);
	virtio_config_changed(sc->vdev);
	pthread_mutex_unlock(&dev->lock);
}

static void
viodev_cb_needs_reset(void *arg, struct vmdev *d, uint16_t queue,
    const char *why)
{
	struct viodev	*sc = arg;
	struct device	*dev = virtio_device(sc->vdev);

	pthread_mutex_lock(&dev->lock);
	virtio_needs_reset(sc->vdev, queue, why);
	pthread_mutex_unlock(&dev->lock);
}

static void
viodev_cb_ack(void *arg, struct vmdev *d, const struct devop_ctl *dc)
{
	struct viodev	*sc = arg;
	struct device	*dev = virtio_device(sc->vdev);

	if (dc->dc_type != IMSG_DEVOP_RESET)
		return;
	pthread_mutex_lock(&dev->lock);
	if (sc->reset_seq != 0 && dc->dc_seq == sc->reset_seq) {
		sc->reset_seq = 0;
		virtio_reset_pending(sc->vdev, 0);
	}
	pthread_mutex_unlock(&dev->lock);
}

/* Its process is gone (vmm ends the VM): no reset will be answered. */
static void
viodev_cb_closed(void *arg, struct vmdev *d)
{
	struct viodev	*sc = arg;
	struct device	*dev = virtio_device(sc->vdev);

	pthread_mutex_lock(&dev->lock);
	sc->reset_seq = 0;
	virtio_reset_pending(sc->vdev, 0);
	pthread_mutex_unlock(&dev->lock);
}

static const struct vmdev_cb viodev_cb = {
	.config = viodev_cb_config,
	.needs_reset = viodev_cb_needs_reset,
	.ack = viodev_cb_ack,
	.closed = viodev_cb_closed,
};

static int
viodev_attach(struct device *dev, const struct dev_attach_args *a)
{
	struct viodev			*sc;
	struct vmdev			*d = a->arg;
	const struct devop_ready	*dr;
	size_t				 i;

	if (d == NULL || (dr = vmdev_ready(d)) == NULL) {
		log_warnx("viodev: no ready device process");
		return (-1);
	}
	for (i = 0; i < sizeof(viodev_kinds) / sizeof(viodev_kinds[0]); i++)
		if (viodev_kinds[i].kind == vmdev_kind(d))
			break;
	if (i == sizeof(viodev_kinds) / sizeof(viodev_kinds[0])) {
		log_warnx("%s: no virtio device of its kind", vmdev_name(d));
		return (-1);
	}
	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		log_warn("%s", vmdev_name(d));
		return (-1);
	}
	sc->vmdev = d;
	(void)snprintf(sc->name, sizeof(sc->name), "%s", vmdev_name(d));
	sc->type.name = sc->name;
	sc->type.device_id = viodev_kinds[i].device_id;
	sc->type.class = viodev_kinds[i].class;
	sc->type.subclass = viodev_kinds[i].subclass;
	sc->type.nqueues = dr->dr_nqueues;
	sc->type.queue_max = dr->dr_queue_max;
	/* the transport's own bits (VERSION_1, rings) are not the device's */
	sc->type.features = dr->dr_features & ((1ULL << 24) - 1);
	sc->type.config_size = dr->dr_config_len;
	sc->type.elsewhere = 1;
	sc->type.config_read = viodev_config_read;
	sc->type.config_write = viodev_config_write;
	sc->type.driver_ok = viodev_driver_ok;
	sc->type.reset = viodev_type_reset;
	sc->config_len = dr->dr_config_len;
	memcpy(sc->config, dr->dr_config, sizeof(sc->config));
	if ((sc->vdev = virtio_attach(dev, &sc->type, sc)) == NULL) {
		free(sc);
		return (-1);
	}
	dev->softc = sc;
	vmdev_set_cb(d, &viodev_cb, sc);
	return (0);
}

/* The VM is reset (no vCPU runs): the function as at power-on. */
static void
viodev_reset(struct device *dev)
{
	struct viodev	*sc = dev->softc;

	virtio_reset(sc->vdev);
}

static void
viodev_detach(struct device *dev)
{
	struct viodev	*sc = dev->softc;

	if (sc == NULL)
		return;
	vmdev_set_cb(sc->vmdev, NULL, NULL);
	virtio_detach(sc->vdev);
	free(sc);
	dev->softc = NULL;
}
