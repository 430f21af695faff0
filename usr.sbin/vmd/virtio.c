/*
 * virtio.c: the virtio PCI transport for devices that declare a struct
 * virtio_type.  Modern (virtio 1.x) functions get one memory BAR with the
 * common configuration, ISR, device configuration, queue doorbells and
 * the MSI-X table and PBA, described by vendor capabilities, plus the
 * PCI configuration access capability; legacy (0.9) functions get the
 * old I/O layout and INTx.  Queue doorbells are ioeventfds at the
 * doorbell address once the driver enables a queue (a doorbell write
 * that still exits lands here and signals the same eventfd); each queue's
 * interrupt eventfd is an irqfd on the GSI routed to its MSI-X vector
 * while that vector is enabled and unmasked, and is read here otherwise
 * (pending bit, INTx, or dropped for NO_VECTOR).
 *
 * Register accesses come from vCPU threads under the PCI bus lock, queue
 * and interrupt events from the event thread; both take the device's
 * lock (dev->lock), always after the bus lock, never the other way.
 * Nothing the guest writes may crash the process or reach outside this
 * device: a malformed queue sets DEVICE_NEEDS_RESET and stops that queue,
 * with a rate-limited log line naming the device and the reason.
 */

#include <sys/eventfd.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "dev.h"
#include "pci.h"
#include "virtio.h"

#define PCI_CAP_VENDOR		0x09
#define PCI_CAP_MSIX		0x11
#define MSIX_CTL_ENABLE		0x80	/* in the high byte of msgctl */
#define MSIX_CTL_FMASK		0x40
#define MSIX_ENTRY_MASKED	0x1

/* offsets inside a virtio_pci_cap, from its first byte */
#define VCAP_BAR		4
#define VCAP_OFFSET		8
#define VCAP_LENGTH		12
#define VCAP_DATA		16	/* notify multiplier, pci_cfg data */

struct msix_entry {
	uint32_t	 addr_lo;
	uint32_t	 addr_hi;
	uint32_t	 data;
	uint32_t	 ctrl;
};

struct virtio_queue {
	struct virtio_dev *vdev;
	uint16_t	 index;
	uint16_t	 size;		/* as the driver set it */
	uint16_t	 vector;	/* MSI-X vector or NO_VECTOR */
	int		 enabled;
	uint64_t	 desc, avail, used;
	uint32_t	 pfn;		/* legacy */
	int		 kickfd;	/* eventfd: doorbell */
	int		 callfd;	/* eventfd: interrupt */
	struct event	*ev_kick;
	struct event	*ev_call;
	int		 call_watched;
	uint64_t	 kick_addr;	/* ioeventfd there, or PCI_BAR_OFF */
	int		 irqfd_gsi;	/* irqfd bound there, or -1 */
	int		 live;		/* vq runs, in this process */
	struct virtq	 vq;
};

struct virtio_dev {
	struct device	*dev;
	struct device	*bus;
	const struct virtio_type *type;
	void		*softc;
	uint8_t		 slot;
	uint8_t		 irq;
	uint32_t	 bar_size;
	uint64_t	 bar;		/* BAR 0 decodes here, or OFF */
	uint64_t	 offered;
	uint64_t	 accepted;
	uint32_t	 dfsel, gfsel;
	uint8_t		 status;
	uint8_t		 status_old;	/* read while a reset is pending */
	int		 reset_pending;
	uint8_t		 isr;
	uint8_t		 generation;
	int		 config_dirty;
	uint16_t	 qsel;
	uint16_t	 config_vector;
	int		 intx_level;
	/* what we mirror of our PCI config space (see shadow_write) */
	uint8_t		 cfg[256];
	uint8_t		 wmask[256];
	uint8_t		 cap_msix;	/* 0: none (legacy) */
	uint8_t		 cap_pcicfg;
	uint16_t	 nvec;
	struct msix_entry msix[VIRTIO_MAX_VECTORS];
	uint64_t	 pba;
	int		 gsi_ok;
	uint32_t	 gsi_base;
	struct {
		int		 set;
		uint64_t	 addr;
		uint32_t	 data;
	}		 route[VIRTIO_MAX_VECTORS];
	struct dev_ratelim rl;
	uint16_t	 nq;
	struct virtio_queue q[];
};

static void	 bar_access(struct virtio_dev *, uint64_t, int, uint8_t *,
		    int);
static void	 msix_update(struct virtio_dev *);

static uint64_t
get_le(const uint8_t *p, int size)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return (v);
}

static void
put_le(uint8_t *p, int size, uint64_t v)
{
	int	 i;

	for (i = 0; i < size; i++)
		p[i] = v >> (8 * i);
}

static int
msix_on(const struct virtio_dev *vdev)
{
	return (vdev->cap_msix != 0 &&
	    (vdev->cfg[vdev->cap_msix + 3] & MSIX_CTL_ENABLE));
}

static int
msix_fmasked(const struct virtio_dev *vdev)
{
	return (vdev->cfg[vdev->cap_msix + 3] & MSIX_CTL_FMASK);
}

static int
vector_masked(const struct virtio_dev *vdev, uint16_t v)
{
	return (msix_fmasked(vdev) || (vdev->msix[v].ctrl & MSIX_ENTRY_MASKED));
}

static uint64_t
vector_addr(const struct virtio_dev *vdev, uint16_t v)
{
	return ((uint64_t)vdev->msix[v].addr_hi << 32 | vdev->msix[v].addr_lo);
}

/* INTx follows ISR while MSI-X is off; the PCI status bit says so too. */
static void
intx_update(struct virtio_dev *vdev)
{
	uint16_t cmd = get_le(&vdev->cfg[PCI_CFG_COMMAND], 2);
	int	 pending = vdev->isr != 0 && !msix_on(vdev);
	int	 level = pending && !(cmd & PCI_COMMAND_INTX_OFF);

	pci_set_intx_status(vdev->bus, vdev->slot, pending);
	if (level != vdev->intx_level) {
		vdev->intx_level = level;
		dev_irq(vdev->dev, vdev->irq, level);
	}
}

/* Send vector v, or leave it pending while masked. */
static void
vector_fire(struct virtio_dev *vdev, uint16_t v)
{
	if (v >= vdev->nvec)
		return;
	if (vector_masked(vdev, v)) {
		vdev->pba |= 1ULL << v;
		return;
	}
	if (dev_msi(vdev->dev, vector_addr(vdev, v), vdev->msix[v].data) ==
	    -1)
		log_debug("%s: msi of vector %u: %s", vdev->type->name, v,
		    strerror(errno));
}

static void
config_interrupt(struct virtio_dev *vdev)
{
	if (msix_on(vdev)) {
		vector_fire(vdev, vdev->config_vector);
		return;
	}
	vdev->isr |= VIRTIO_ISR_CONFIG;
	intx_update(vdev);
}

/* The interrupt of q, when it does not go through an irqfd. */
static void
queue_interrupt(struct virtio_queue *q)
{
	struct virtio_dev *vdev = q->vdev;

	if (msix_on(vdev)) {
		vector_fire(vdev, q->vector);
		return;
	}
	vdev->isr |= VIRTIO_ISR_QUEUE;
	intx_update(vdev);
}

static uint64_t
drain(int fd)
{
	uint64_t n = 0;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return (0);
	return (n);
}

/* A queue became unusable: tell the driver and stop running it. */
static void
queue_fail(struct virtio_queue *q, const char *why)
{
	struct virtio_dev *vdev = q->vdev;
	unsigned int	 dropped;

	q->live = 0;
	if (dev_ratelim(&vdev->rl, &dropped))
		log_warnx("%s (pci slot %u): queue %u: %s; device needs reset"
		    "%s", vdev->type->name, vdev->slot, q->index, why,
		    dev_ratelim_note(dropped));
	if (vdev->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	vdev->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
		config_interrupt(vdev);
}

static void
call_watch(struct virtio_queue *q, int on)
{
	if (q->ev_call == NULL || on == q->call_watched)
		return;
	if (on)
		event_add(q->ev_call, NULL);
	else
		/* never wait for a running callback: it wants our lock */
		event_del_noblock(q->ev_call);
	q->call_watched = on;
}

/* Route vector v's GSI to its message as the table has it now. */
static int
route_ensure(struct virtio_dev *vdev, uint16_t v)
{
	uint64_t addr = vector_addr(vdev, v);
	uint32_t data = vdev->msix[v].data;

	if (vdev->route[v].set && vdev->route[v].addr == addr &&
	    vdev->route[v].data == data)
		return (0);
	vdev->route[v].set = 0;
	if (dev_msi_route(vdev->dev, vdev->gsi_base + v, addr, data) == -1) {
		log_debug("%s: route of vector %u: %s", vdev->type->name, v,
		    strerror(errno));
		return (-1);
	}
	vdev->route[v].set = 1;
	vdev->route[v].addr = addr;
	vdev->route[v].data = data;
	return (0);
}

/*
 * Bind q's interrupt eventfd to its vector's GSI if the vector can take
 * it directly, else watch the eventfd here.  Signals that came while it
 * was watched here are delivered before the irqfd takes over.
 */
static void
queue_irq_update(struct virtio_queue *q)
{
	struct virtio_dev *vdev = q->vdev;
	int		 want = -1;

	if (q->enabled && vdev->gsi_ok && msix_on(vdev) &&
	    q->vector < vdev->nvec && !vector_masked(vdev, q->vector) &&
	    route_ensure(vdev, q->vector) == 0)
		want = vdev->gsi_base + q->vector;
	if (want != q->irqfd_gsi) {
		if (q->irqfd_gsi != -1 &&
		    dev_irqfd(vdev->dev, q->callfd, q->irqfd_gsi, 0) == -1)
			log_debug("%s: irqfd off: %s", vdev->type->name,
			    strerror(errno));
		q->irqfd_gsi = -1;
		if (want != -1) {
			if (drain(q->callfd) > 0)
				queue_interrupt(q);
			if (dev_irqfd(vdev->dev, q->callfd, want, 1) == 0)
				q->irqfd_gsi = want;
			else
				log_debug("%s: irqfd on: %s", vdev->type->name,
				    strerror(errno));
		}
	}
	call_watch(q, q->enabled && q->irqfd_gsi == -1);
}

/* Doorbell of q as an ioeventfd where the BAR puts it now. */
static void
queue_kick_update(struct virtio_queue *q)
{
	struct virtio_dev *vdev = q->vdev;
	enum dev_space	 space;
	uint64_t	 want = PCI_BAR_OFF;
	int		 legacy = vdev->type->legacy;

	space = legacy ? DEV_SPACE_IO : DEV_SPACE_MMIO;
	if (q->enabled && vdev->bar != PCI_BAR_OFF)
		want = vdev->bar + (legacy ? VIRTIO_LEG_QUEUE_NOTIFY :
		    VIRTIO_OFF_NOTIFY + VIRTIO_NOTIFY_MULT * q->index);
	if (want == q->kick_addr)
		return;
	if (q->kick_addr != PCI_BAR_OFF &&
	    dev_ioeventfd(vdev->dev, q->kickfd, space, q->kick_addr, 2,
	    legacy, q->index, 0) == -1)
		log_debug("%s: ioeventfd off: %s", vdev->type->name,
		    strerror(errno));
	q->kick_addr = PCI_BAR_OFF;
	if (want != PCI_BAR_OFF) {
		if (dev_ioeventfd(vdev->dev, q->kickfd, space, want, 2,
		    legacy, q->index, 1) == 0)
			q->kick_addr = want;
		else
			log_debug("%s: ioeventfd on: %s", vdev->type->name,
			    strerror(errno));
	}
}

static void
queue_start(struct virtio_queue *q)
{
	struct virtio_dev *vdev = q->vdev;
	struct virtq_state st;
	struct virtq_mem mem;

	memset(&st, 0, sizeof(st));
	st.desc = q->desc;
	st.avail = q->avail;
	st.used = q->used;
	st.features = vdev->accepted;
	st.index = q->index;
	st.size = q->size;
	st.kickfd = q->kickfd;
	st.callfd = q->callfd;
	mem.ptr = vdev->dev->host != NULL ? vdev->dev->host->gpa_ptr : NULL;
	mem.arg = vdev->dev->host != NULL ? vdev->dev->host->arg : NULL;
	q->enabled = 1;
	if (mem.ptr == NULL) {
		queue_fail(q, "no guest memory to run it in");
		return;
	}
	if (virtq_init(&q->vq, &st, &mem) == -1) {
		queue_fail(q, q->vq.error);
		return;
	}
	q->live = 1;
}

static void
queue_enable(struct virtio_queue *q)
{
	if (q->enabled || q->size == 0)
		return;
	queue_start(q);
	queue_kick_update(q);
	queue_irq_update(q);
}

static void
queue_reset(struct virtio_queue *q)
{
	q->enabled = 0;
	q->live = 0;
	queue_kick_update(q);
	queue_irq_update(q);
	drain(q->kickfd);
	drain(q->callfd);
	q->size = q->vdev->type->queue_max;
	q->vector = VIRTIO_MSI_NO_VECTOR;
	q->desc = q->avail = q->used = 0;
	q->pfn = 0;
}

/* Device reset: what writing 0 to the status does. */
static void
status_reset(struct virtio_dev *vdev)
{
	uint16_t	 i;

	for (i = 0; i < vdev->nq; i++)
		queue_reset(&vdev->q[i]);
	vdev->status_old = vdev->status;
	vdev->status = 0;
	vdev->accepted = 0;
	vdev->dfsel = vdev->gfsel = 0;
	vdev->qsel = 0;
	vdev->config_vector = VIRTIO_MSI_NO_VECTOR;
	vdev->isr = 0;
	intx_update(vdev);
	if (vdev->type->reset != NULL)
		vdev->type->reset(vdev);
}

static void
status_write(struct virtio_dev *vdev, uint8_t v)
{
	uint64_t	 one = 1;
	uint16_t	 i;
	uint8_t		 old = vdev->status;

	if (v == 0) {
		status_reset(vdev);
		return;
	}
	if (!vdev->type->legacy && (v & VIRTIO_STATUS_FEATURES_OK) &&
	    !(vdev->status & VIRTIO_STATUS_FEATURES_OK) &&
	    (!(vdev->accepted & VIRTIO_F_VERSION_1) ||
	    (vdev->accepted & ~vdev->offered) != 0))
		v &= ~VIRTIO_STATUS_FEATURES_OK;
	/* buffers offered before DRIVER_OK are run now */
	if ((v & VIRTIO_STATUS_DRIVER_OK) &&
	    !(vdev->status & VIRTIO_STATUS_DRIVER_OK))
		for (i = 0; i < vdev->nq; i++)
			if (vdev->q[i].live)
				(void)write(vdev->q[i].kickfd, &one,
				    sizeof(one));
	vdev->status = v | (vdev->status & VIRTIO_STATUS_NEEDS_RESET);
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) &&
	    vdev->type->driver_ok != NULL)
		vdev->type->driver_ok(vdev);
}

static struct virtio_queue *
selected(struct virtio_dev *vdev)
{
	return (vdev->qsel < vdev->nq ? &vdev->q[vdev->qsel] : NULL);
}

/* The common configuration as the driver would read it now. */
static void
common_image(struct virtio_dev *vdev, uint8_t *img)
{
	struct virtio_queue *q = selected(vdev);

	memset(img, 0, VIRTIO_COMMON_LEN);
	put_le(img + 0x00, 4, vdev->dfsel);
	put_le(img + 0x04, 4, vdev->dfsel < 2 ?
	    (uint32_t)(vdev->offered >> (32 * vdev->dfsel)) : 0);
	put_le(img + 0x08, 4, vdev->gfsel);
	put_le(img + 0x0c, 4, vdev->gfsel < 2 ?
	    (uint32_t)(vdev->accepted >> (32 * vdev->gfsel)) : 0);
	put_le(img + 0x10, 2, vdev->config_vector);
	put_le(img + 0x12, 2, vdev->nq);
	/* a reset shows done (0) once the device process says so */
	img[0x14] = vdev->reset_pending && vdev->status == 0 ?
	    vdev->status_old : vdev->status;
	img[0x15] = vdev->generation;
	put_le(img + 0x16, 2, vdev->qsel);
	put_le(img + 0x1a, 2, VIRTIO_MSI_NO_VECTOR);
	if (q == NULL)
		return;
	put_le(img + 0x18, 2, q->size);
	put_le(img + 0x1a, 2, q->vector);
	put_le(img + 0x1c, 2, q->enabled);
	put_le(img + 0x1e, 2, q->index);
	put_le(img + 0x20, 8, q->desc);
	put_le(img + 0x28, 8, q->avail);
	put_le(img + 0x30, 8, q->used);
}

static void
set_half(uint64_t *field, uint64_t off, int size, uint64_t v)
{
	if (size == 8)
		*field = v;
	else if (off & 4)
		*field = (*field & 0xffffffffULL) | v << 32;
	else
		*field = (*field & ~0xffffffffULL) | v;
}

/* Only naturally sized, aligned writes of a field do anything. */
static void
common_write(struct virtio_dev *vdev, uint64_t off, int size, uint64_t v)
{
	struct virtio_queue *q = selected(vdev);
	unsigned int	 sh;

	switch (off) {
	case 0x00:
		if (size == 4)
			vdev->dfsel = v;
		return;
	case 0x08:
		if (size == 4)
			vdev->gfsel = v;
		return;
	case 0x0c:
		if (size != 4 || vdev->gfsel >= 2 ||
		    (vdev->status & VIRTIO_STATUS_FEATURES_OK))
			return;
		sh = 32 * vdev->gfsel;
		vdev->accepted = (vdev->accepted & ~(0xffffffffULL << sh)) |
		    (v << sh);
		return;
	case 0x10:
		if (size == 2)
			vdev->config_vector = v < vdev->nvec ? v :
			    VIRTIO_MSI_NO_VECTOR;
		return;
	case 0x14:
		if (size == 1)
			status_write(vdev, v);
		return;
	case 0x16:
		if (size == 2)
			vdev->qsel = v;
		return;
	}
	if (q == NULL)
		return;
	switch (off) {
	case 0x18:
		if (size == 2 && !q->enabled && v != 0 && (v & (v - 1)) == 0 &&
		    v <= vdev->type->queue_max)
			q->size = v;
		return;
	case 0x1a:
		if (size == 2) {
			q->vector = v < vdev->nvec ? v : VIRTIO_MSI_NO_VECTOR;
			queue_irq_update(q);
		}
		return;
	case 0x1c:
		if (size == 2 && v == 1)
			queue_enable(q);
		return;
	}
	if (q->enabled || off < 0x20 || off >= VIRTIO_COMMON_LEN ||
	    !(size == 4 || (size == 8 && (off & 7) == 0)))
		return;
	if (off < 0x28)
		set_half(&q->desc, off, size, v);
	else if (off < 0x30)
		set_half(&q->avail, off, size, v);
	else
		set_half(&q->used, off, size, v);
}

static void
config_access(struct virtio_dev *vdev, uint64_t off, int size,
    uint8_t *data, int write)
{
	const struct virtio_type *t = vdev->type;

	if (off >= t->config_size || (uint64_t)size > t->config_size - off)
		return;
	if (write) {
		if (t->config_write != NULL)
			t->config_write(vdev, off, data, size);
		return;
	}
	/* a change since the last read shows as a new generation */
	if (vdev->config_dirty) {
		vdev->generation++;
		vdev->config_dirty = 0;
	}
	if (t->config_read != NULL)
		t->config_read(vdev, off, data, size);
}

/* A queue's doorbell written through an exit rather than an ioeventfd. */
static void
doorbell(struct virtio_dev *vdev, uint64_t qi)
{
	uint64_t one = 1;

	if (qi < vdev->nq && vdev->q[qi].enabled)
		(void)write(vdev->q[qi].kickfd, &one, sizeof(one));
}

static void
msix_access(struct virtio_dev *vdev, uint64_t off, int size, uint8_t *data,
    int write)
{
	struct msix_entry *e;
	uint64_t	 v;
	uint16_t	 n = off / 16;

	if (n >= vdev->nvec || (size != 4 && size != 8) || (off & 3) != 0 ||
	    (size == 8 && (off & 7) != 0))
		return;
	e = &vdev->msix[n];
	if (!write) {
		uint8_t	 img[16];

		put_le(img, 4, e->addr_lo);
		put_le(img + 4, 4, e->addr_hi);
		put_le(img + 8, 4, e->data);
		put_le(img + 12, 4, e->ctrl);
		memcpy(data, img + (off & 15), size);
		return;
	}
	v = get_le(data, size);
	switch (off & 15) {
	case 0:
		e->addr_lo = v & ~3U;
		if (size == 8)
			e->addr_hi = v >> 32;
		break;
	case 4:
		e->addr_hi = v;
		break;
	case 8:
		e->data = v;
		if (size == 8)
			e->ctrl = (v >> 32) & MSIX_ENTRY_MASKED;
		break;
	case 12:
		e->ctrl = v & MSIX_ENTRY_MASKED;
		break;
	}
	msix_update(vdev);
}

static void
modern_access(struct virtio_dev *vdev, uint64_t off, int size,
    uint8_t *data, int write)
{
	uint8_t	 img[VIRTIO_COMMON_LEN];

	if (off < VIRTIO_COMMON_LEN) {
		if (write)
			common_write(vdev, off, size, get_le(data, size));
		else if (off + size <= VIRTIO_COMMON_LEN) {
			common_image(vdev, img);
			memcpy(data, img + off, size);
		}
	} else if (off == VIRTIO_OFF_ISR) {
		if (!write) {
			data[0] = vdev->isr;
			vdev->isr = 0;
			intx_update(vdev);
		}
	} else if (off >= VIRTIO_OFF_DEVICE &&
	    off < VIRTIO_OFF_DEVICE + VIRTIO_MAX_CONFIG)
		config_access(vdev, off - VIRTIO_OFF_DEVICE, size, data, write);
	else if (off >= VIRTIO_OFF_NOTIFY &&
	    off < VIRTIO_OFF_NOTIFY + VIRTIO_NOTIFY_MULT * (uint64_t)vdev->nq) {
		if (write)
			doorbell(vdev, (off - VIRTIO_OFF_NOTIFY) /
			    VIRTIO_NOTIFY_MULT);
	} else if (off >= VIRTIO_OFF_MSIX_TABLE &&
	    off < VIRTIO_OFF_MSIX_TABLE + 16 * (uint64_t)vdev->nvec)
		msix_access(vdev, off - VIRTIO_OFF_MSIX_TABLE, size, data,
		    write);
	else if (off >= VIRTIO_OFF_MSIX_PBA && off + size <=
	    VIRTIO_OFF_MSIX_PBA + 8 && !write)
		put_le(data, size, vdev->pba >> (8 * (off -
		    VIRTIO_OFF_MSIX_PBA)));
}

/* Legacy queue at a page frame, laid out as the 0.9 spec fixes it. */
static void
legacy_pfn(struct virtio_queue *q, uint32_t pfn)
{
	uint64_t	 n = q->size;

	if (pfn == 0) {
		queue_reset(q);
		return;
	}
	if (q->enabled)
		return;
	q->pfn = pfn;
	q->desc = (uint64_t)pfn * VIRTIO_LEG_QUEUE_ALIGN;
	q->avail = q->desc + VIRTQ_DESC_BYTES(n);
	q->used = (q->avail + VIRTQ_AVAIL_BYTES(n) + VIRTIO_LEG_QUEUE_ALIGN -
	    1) & ~(uint64_t)(VIRTIO_LEG_QUEUE_ALIGN - 1);
	queue_enable(q);
}

static void
legacy_access(struct virtio_dev *vdev, uint64_t off, int size, uint8_t *data,
    int write)
{
	struct virtio_queue *q = selected(vdev);
	uint8_t		 img[VIRTIO_LEG_CONFIG];
	uint64_t	 v = get_le(data, size);

	if (off >= VIRTIO_LEG_CONFIG) {
		config_access(vdev, off - VIRTIO_LEG_CONFIG, size, data,
		    write);
		return;
	}
	if (!write) {
		if (off + size > VIRTIO_LEG_CONFIG)
			return;
		memset(img, 0, sizeof(img));
		put_le(img + VIRTIO_LEG_DEVICE_FEATURES, 4, vdev->offered);
		put_le(img + VIRTIO_LEG_DRIVER_FEATURES, 4, vdev->accepted);
		put_le(img + VIRTIO_LEG_QUEUE_PFN, 4, q ? q->pfn : 0);
		put_le(img + VIRTIO_LEG_QUEUE_SIZE, 2, q ? q->size : 0);
		put_le(img + VIRTIO_LEG_QUEUE_SELECT, 2, vdev->qsel);
		img[VIRTIO_LEG_STATUS] = vdev->status;
		img[VIRTIO_LEG_ISR] = vdev->isr;
		memcpy(data, img + off, size);
		if (off <= VIRTIO_LEG_ISR && off + size > VIRTIO_LEG_ISR) {
			vdev->isr = 0;
			intx_update(vdev);
		}
		return;
	}
	switch (off) {
	case VIRTIO_LEG_DRIVER_FEATURES:
		if (size == 4 && !(vdev->status & VIRTIO_STATUS_DRIVER_OK))
			vdev->accepted = v & vdev->offered;
		break;
	case VIRTIO_LEG_QUEUE_PFN:
		if (size == 4 && q != NULL)
			legacy_pfn(q, v);
		break;
	case VIRTIO_LEG_QUEUE_SELECT:
		if (size == 2)
			vdev->qsel = v;
		break;
	case VIRTIO_LEG_QUEUE_NOTIFY:
		if (size == 2)
			doorbell(vdev, v);
		break;
	case VIRTIO_LEG_STATUS:
		if (size == 1)
			status_write(vdev, v);
		break;
	}
}

/* One access at off inside BAR 0; dev->lock held.  Reads start as 0. */
static void
bar_access(struct virtio_dev *vdev, uint64_t off, int size, uint8_t *data,
    int write)
{
	if (!write)
		memset(data, 0, size);
	if (off >= vdev->bar_size || (uint64_t)size > vdev->bar_size - off)
		return;
	if (vdev->type->legacy)
		legacy_access(vdev, off, size, data, write);
	else
		modern_access(vdev, off, size, data, write);
}

/*
 * MSI-X enable, function mask, vector masks or messages changed: send
 * what became deliverable and rebind each queue's interrupt.
 */
static void
msix_update(struct virtio_dev *vdev)
{
	uint16_t	 v, i;

	if (msix_on(vdev))
		for (v = 0; v < vdev->nvec; v++)
			if ((vdev->pba & (1ULL << v)) &&
			    !vector_masked(vdev, v)) {
				vdev->pba &= ~(1ULL << v);
				vector_fire(vdev, v);
			}
	for (i = 0; i < vdev->nq; i++)
		queue_irq_update(&vdev->q[i]);
	intx_update(vdev);
}

/*
 * Mirror a config write into our copy of the bytes we care about (the
 * command register, MSI-X message control, the pci_cfg capability),
 * through the same write masks the bus applied.
 */
static void
shadow_write(struct virtio_dev *vdev, uint8_t off, int size, uint32_t val)
{
	uint8_t	 b, m;
	int	 i;

	for (i = 0; i < size && off + i < 256; i++) {
		b = val >> (8 * i);
		m = vdev->wmask[off + i];
		vdev->cfg[off + i] = (vdev->cfg[off + i] & ~m) | (b & m);
	}
}

static int
covers(uint8_t off, int size, unsigned int field)
{
	return (field >= off && field < (unsigned int)off + size);
}

/* The BAR access the pci_cfg capability describes, or -1 if none. */
static int
pcicfg_target(struct virtio_dev *vdev, uint64_t *boff, int *len)
{
	uint8_t	*c = &vdev->cfg[vdev->cap_pcicfg];

	*boff = get_le(c + VCAP_OFFSET, 4);
	*len = get_le(c + VCAP_LENGTH, 4);
	if (c[VCAP_BAR] != VIRTIO_BAR || (*len != 1 && *len != 2 &&
	    *len != 4) || *boff % *len != 0)
		return (-1);
	return (0);
}

static void
fn_cfg_write(void *arg, uint8_t off, int size, uint32_t val)
{
	struct virtio_dev *vdev = arg;
	uint8_t		 data[4];
	uint64_t	 boff;
	int		 len, msix_before;

	pthread_mutex_lock(&vdev->dev->lock);
	msix_before = vdev->cap_msix ? vdev->cfg[vdev->cap_msix + 3] : 0;
	shadow_write(vdev, off, size, val);
	if (vdev->cap_pcicfg != 0 && off == vdev->cap_pcicfg + VCAP_DATA &&
	    pcicfg_target(vdev, &boff, &len) == 0 && size >= len) {
		put_le(data, 4, val);
		bar_access(vdev, boff, len, data, 1);
	}
	if (vdev->cap_msix != 0 &&
	    vdev->cfg[vdev->cap_msix + 3] != msix_before)
		msix_update(vdev);
	if (covers(off, size, PCI_CFG_COMMAND + 1))
		intx_update(vdev);
	pthread_mutex_unlock(&vdev->dev->lock);
}

static void
fn_cfg_read(void *arg, uint8_t off, int size, uint32_t *val)
{
	struct virtio_dev *vdev = arg;
	uint8_t		 data[4];
	uint64_t	 boff;
	int		 d, len, i;

	if (vdev->cap_pcicfg == 0)
		return;
	d = vdev->cap_pcicfg + VCAP_DATA;
	if (off >= d + 4 || off + size <= d)
		return;
	/* an access the window does not describe reads as 0 */
	memset(data, 0, sizeof(data));
	pthread_mutex_lock(&vdev->dev->lock);
	if (pcicfg_target(vdev, &boff, &len) == 0)
		bar_access(vdev, boff, len, data, 0);
	pthread_mutex_unlock(&vdev->dev->lock);
	for (i = 0; i < size; i++)
		if (off + i >= d && off + i < d + 4) {
			*val &= ~(0xffU << (8 * i));
			*val |= (uint32_t)data[off + i - d] << (8 * i);
		}
}

static void
fn_bar_moved(void *arg, int bar, uint64_t oldbase, uint64_t newbase)
{
	struct virtio_dev *vdev = arg;
	uint16_t	 i;

	if (bar != VIRTIO_BAR)
		return;
	pthread_mutex_lock(&vdev->dev->lock);
	vdev->bar = newbase;
	for (i = 0; i < vdev->nq; i++)
		queue_kick_update(&vdev->q[i]);
	pthread_mutex_unlock(&vdev->dev->lock);
}

static void
fn_bar_io(void *arg, int bar, uint64_t off, int size, uint8_t *data,
    int write)
{
	struct virtio_dev *vdev = arg;

	if (bar != VIRTIO_BAR) {
		if (!write)
			memset(data, 0xff, size);
		return;
	}
	pthread_mutex_lock(&vdev->dev->lock);
	bar_access(vdev, off, size, data, write);
	pthread_mutex_unlock(&vdev->dev->lock);
}

static const struct pci_func_ops virtio_pci_ops = {
	.cfg_read = fn_cfg_read,
	.cfg_write = fn_cfg_write,
	.bar_moved = fn_bar_moved,
	.bar_io = fn_bar_io
};

/* Event thread: the driver rang a doorbell. */
static void
ev_kick(evutil_socket_t fd, short ev, void *arg)
{
	struct virtio_queue *q = arg;
	struct virtio_dev *vdev = q->vdev;

	drain(q->kickfd);
	pthread_mutex_lock(&vdev->dev->lock);
	if (q->live && (vdev->status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(vdev->status & VIRTIO_STATUS_NEEDS_RESET) &&
	    vdev->type->queue_notify != NULL)
		vdev->type->queue_notify(vdev, &q->vq);
	pthread_mutex_unlock(&vdev->dev->lock);
}

/* Event thread: a queue interrupt that no irqfd took. */
static void
ev_call(evutil_socket_t fd, short ev, void *arg)
{
	struct virtio_queue *q = arg;
	struct virtio_dev *vdev = q->vdev;

	pthread_mutex_lock(&vdev->dev->lock);
	if (drain(q->callfd) > 0 && q->enabled)
		queue_interrupt(q);
	pthread_mutex_unlock(&vdev->dev->lock);
}

static int
add_cap(struct virtio_dev *vdev, const uint8_t *body, size_t len,
    uint8_t *off)
{
	if (pci_add_cap(vdev->bus, vdev->slot, PCI_CAP_VENDOR, body, len,
	    off) == -1)
		return (-1);
	memcpy(&vdev->cfg[*off + 2], body, len);
	return (0);
}

/* A virtio_pci_cap of cfg_type for [off, off + len) of BAR 0. */
static int
add_vcap(struct virtio_dev *vdev, uint8_t type, uint32_t off, uint32_t len,
    int extra, uint32_t extra_val, uint8_t *where)
{
	uint8_t	 body[18];
	size_t	 n = extra ? 18 : 14;

	memset(body, 0, sizeof(body));
	body[0] = n + 2;		/* cap_len, id and next included */
	body[1] = type;
	body[2] = VIRTIO_BAR;
	put_le(body + 6, 4, off);
	put_le(body + 10, 4, len);
	if (extra)
		put_le(body + 14, 4, extra_val);
	return (add_cap(vdev, body, n, where));
}

static int
modern_caps(struct virtio_dev *vdev)
{
	uint8_t	 off, msix[10], wm[20];
	const struct virtio_type *t = vdev->type;

	if (add_vcap(vdev, VIRTIO_PCI_CAP_COMMON, VIRTIO_OFF_COMMON,
	    VIRTIO_COMMON_LEN, 0, 0, &off) == -1 ||
	    add_vcap(vdev, VIRTIO_PCI_CAP_NOTIFY, VIRTIO_OFF_NOTIFY,
	    VIRTIO_NOTIFY_MULT * vdev->nq, 1, VIRTIO_NOTIFY_MULT, &off) ==
	    -1 ||
	    add_vcap(vdev, VIRTIO_PCI_CAP_ISR, VIRTIO_OFF_ISR, 1, 0, 0,
	    &off) == -1)
		return (-1);
	if (t->config_size > 0 && add_vcap(vdev, VIRTIO_PCI_CAP_DEVICE,
	    VIRTIO_OFF_DEVICE, t->config_size, 0, 0, &off) == -1)
		return (-1);
	/* pci_cfg: bar, offset, length and data are the driver's to write */
	if (add_vcap(vdev, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 1, 0,
	    &vdev->cap_pcicfg) == -1)
		return (-1);
	memset(wm, 0, sizeof(wm));
	wm[VCAP_BAR] = 0xff;
	memset(wm + VCAP_OFFSET, 0xff, 12);
	if (pci_cfg_set(vdev->bus, vdev->slot, vdev->cap_pcicfg + VCAP_BAR,
	    &vdev->cfg[vdev->cap_pcicfg + VCAP_BAR], sizeof(wm) - VCAP_BAR,
	    wm + VCAP_BAR) == -1)
		return (-1);
	memcpy(&vdev->wmask[vdev->cap_pcicfg], wm, sizeof(wm));
	/* MSI-X: table and PBA in BAR 0; enable and function mask are RW */
	memset(msix, 0, sizeof(msix));
	put_le(msix, 2, vdev->nvec - 1);
	put_le(msix + 2, 4, VIRTIO_OFF_MSIX_TABLE | VIRTIO_BAR);
	put_le(msix + 6, 4, VIRTIO_OFF_MSIX_PBA | VIRTIO_BAR);
	if (pci_add_cap(vdev->bus, vdev->slot, PCI_CAP_MSIX, msix,
	    sizeof(msix), &vdev->cap_msix) == -1)
		return (-1);
	memcpy(&vdev->cfg[vdev->cap_msix + 2], msix, sizeof(msix));
	memset(wm, 0, sizeof(wm));
	wm[1] = MSIX_CTL_ENABLE | MSIX_CTL_FMASK;
	if (pci_cfg_set(vdev->bus, vdev->slot, vdev->cap_msix + 2,
	    &vdev->cfg[vdev->cap_msix + 2], 2, wm) == -1)
		return (-1);
	vdev->wmask[vdev->cap_msix + 3] = MSIX_CTL_ENABLE | MSIX_CTL_FMASK;
	return (0);
}

static int
type_ok(const struct virtio_type *t)
{
	/* a legacy device may have no queue at all (vmmci) */
	if ((t->nqueues == 0 && !t->legacy) ||
	    t->nqueues > VIRTIO_MAX_QUEUES || t->config_size >
	    VIRTIO_MAX_CONFIG)
		return (0);
	if (t->nqueues > 0 && (t->queue_max == 0 || t->queue_max >
	    VIRTQ_MAX_SIZE || (t->queue_max & (t->queue_max - 1)) != 0))
		return (0);
	/* legacy: everything in a 256-port BAR, features in 32 bits */
	if (t->legacy && (VIRTIO_LEG_CONFIG + t->config_size > 256 ||
	    (t->features >> 32) != 0))
		return (0);
	return (1);
}

static void
queues_free(struct virtio_dev *vdev)
{
	struct virtio_queue *q;
	uint16_t	 i;

	for (i = 0; i < vdev->nq; i++) {
		q = &vdev->q[i];
		if (q->ev_kick != NULL)
			event_free(q->ev_kick);
		if (q->ev_call != NULL)
			event_free(q->ev_call);
		if (q->kickfd != -1)
			close(q->kickfd);
		if (q->callfd != -1)
			close(q->callfd);
	}
}

static int
queues_init(struct virtio_dev *vdev)
{
	struct event_base *base = vdev->dev->host != NULL ?
	    vdev->dev->host->evbase : NULL;
	struct virtio_queue *q;
	uint16_t	 i;

	for (i = 0; i < vdev->nq; i++) {
		q = &vdev->q[i];
		q->kickfd = q->callfd = -1;
	}
	for (i = 0; i < vdev->nq; i++) {
		q = &vdev->q[i];
		q->vdev = vdev;
		q->index = i;
		q->size = vdev->type->queue_max;
		q->vector = VIRTIO_MSI_NO_VECTOR;
		q->kick_addr = PCI_BAR_OFF;
		q->irqfd_gsi = -1;
		q->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		q->callfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (q->kickfd == -1 || q->callfd == -1) {
			log_warn("%s: eventfd", vdev->type->name);
			return (-1);
		}
		if (base == NULL)
			continue;
		q->ev_kick = event_new(base, q->kickfd, EV_READ | EV_PERSIST,
		    ev_kick, q);
		q->ev_call = event_new(base, q->callfd, EV_READ | EV_PERSIST,
		    ev_call, q);
		/* a device process reads the doorbells of its queues */
		if (q->ev_kick == NULL || q->ev_call == NULL ||
		    (!vdev->type->elsewhere &&
		    event_add(q->ev_kick, NULL) == -1)) {
			log_warnx("%s: queue events", vdev->type->name);
			return (-1);
		}
	}
	return (0);
}

/*
 * Make dev a virtio PCI function of type t with softc as the device's
 * own state.  Returns NULL, with a log line, if the bus has no room.
 */
struct virtio_dev *
virtio_attach(struct device *dev, const struct virtio_type *t, void *softc)
{
	struct virtio_dev *vdev;
	struct pci_func_id id;
	uint32_t	 size;
	uint16_t	 v;

	if (!type_ok(t)) {
		log_warnx("%s: bad virtio device declaration", t->name);
		return (NULL);
	}
	vdev = calloc(1, sizeof(*vdev) + t->nqueues * sizeof(vdev->q[0]));
	if (vdev == NULL) {
		log_warn("%s: calloc", t->name);
		return (NULL);
	}
	vdev->dev = dev;
	vdev->type = t;
	vdev->softc = softc;
	vdev->nq = t->nqueues;
	vdev->bar = PCI_BAR_OFF;
	vdev->config_vector = VIRTIO_MSI_NO_VECTOR;
	if ((vdev->bus = dev_find(dev->set, &pci_devsw)) == NULL) {
		log_warnx("%s: no PCI bus", t->name);
		free(vdev);
		return (NULL);
	}
	if (queues_init(vdev) == -1)
		goto fail;

	memset(&id, 0, sizeof(id));
	id.class = t->class;
	id.subclass = t->subclass;
	id.irq_pin = 1;
	if (t->legacy) {
		id.vendor = t->pci_vendor;
		id.device = t->pci_device;
		id.subsys_vendor = t->subsys_vendor;
		id.subsys = t->subsys;
		vdev->offered = t->features;
		for (size = 32; size < VIRTIO_LEG_CONFIG + t->config_size;
		    size *= 2)
			;
	} else {
		id.vendor = VIRTIO_PCI_VENDOR;
		id.device = VIRTIO_PCI_DEVICE_BASE + t->device_id;
		id.subsys_vendor = VIRTIO_PCI_VENDOR;
		id.subsys = VIRTIO_PCI_DEVICE_BASE + t->device_id;
		id.revision = 1;
		vdev->offered = t->features | VIRTIO_F_VERSION_1 |
		    VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX;
		vdev->nvec = t->nqueues + 1 > VIRTIO_MAX_VECTORS ?
		    VIRTIO_MAX_VECTORS : t->nqueues + 1;
		size = VIRTIO_BAR_SIZE;
	}
	vdev->bar_size = size;
	if (pci_add_function(vdev->bus, &vdev->slot, &virtio_pci_ops, vdev,
	    &id) == -1 ||
	    pci_add_bar(vdev->bus, vdev->slot, VIRTIO_BAR, t->legacy ?
	    PCI_BAR_IO : PCI_BAR_MEM32, size) == -1)
		goto fail;
	vdev->irq = pci_intx_irq(vdev->slot);
	/* the command register is mirrored for INTx disable */
	put_le(&vdev->wmask[PCI_CFG_COMMAND], 2, 0x0547);
	if (!t->legacy && modern_caps(vdev) == -1)
		goto fail;
	for (v = 0; v < vdev->nvec; v++)
		vdev->msix[v].ctrl = MSIX_ENTRY_MASKED;
	if (vdev->nvec > 0 &&
	    dev_gsi_alloc(dev, vdev->nvec, &vdev->gsi_base) == 0)
		vdev->gsi_ok = 1;
	return (vdev);
 fail:
	/* a function already on the bus stays, without ops to reach us */
	log_warnx("%s: cannot attach", t->name);
	queues_free(vdev);
	free(vdev);
	return (NULL);
}

/*
 * The VM is reset: the function is as at power-on (MSI-X off, vectors
 * masked) and the device as after a driver reset.  Called without
 * dev->lock, while no vCPU runs.
 */
void
virtio_reset(struct virtio_dev *vdev)
{
	uint16_t	 v;
	uint8_t		 zero = 0;

	/* the bus lock before ours, as everywhere */
	if (vdev->cap_msix != 0)
		pci_cfg_set(vdev->bus, vdev->slot, vdev->cap_msix + 3, &zero,
		    1, NULL);
	pthread_mutex_lock(&vdev->dev->lock);
	if (vdev->cap_msix != 0)
		vdev->cfg[vdev->cap_msix + 3] = 0;
	put_le(&vdev->cfg[PCI_CFG_COMMAND], 2, 0);
	for (v = 0; v < vdev->nvec; v++) {
		memset(&vdev->msix[v], 0, sizeof(vdev->msix[v]));
		vdev->msix[v].ctrl = MSIX_ENTRY_MASKED;
		vdev->route[v].set = 0;
	}
	vdev->pba = 0;
	status_reset(vdev);
	pthread_mutex_unlock(&vdev->dev->lock);
}

/* At process end: free what attach made; the bus function stays. */
void
virtio_detach(struct virtio_dev *vdev)
{
	if (vdev == NULL)
		return;
	queues_free(vdev);
	free(vdev);
}

void *
virtio_softc(struct virtio_dev *vdev)
{
	return (vdev->softc);
}

struct device *
virtio_device(struct virtio_dev *vdev)
{
	return (vdev->dev);
}

/* The device status the driver wrote; dev->lock held. */
uint8_t
virtio_status(struct virtio_dev *vdev)
{
	return (vdev->status);
}

/* The features both sides agreed on; dev->lock held. */
uint64_t
virtio_features(struct virtio_dev *vdev)
{
	return (vdev->accepted);
}

/* The queue handler found vq broken (vq->error says why); lock held. */
void
virtio_queue_error(struct virtio_dev *vdev, struct virtq *vq)
{
	uint16_t	 i = vq->st.index;

	if (i < vdev->nq && &vdev->q[i].vq == vq)
		queue_fail(&vdev->q[i], vq->error);
}

/* The device configuration changed; lock held. */
void
virtio_config_changed(struct virtio_dev *vdev)
{
	vdev->config_dirty = 1;
	if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
		config_interrupt(vdev);
}

/* Run queue i's handler again soon, as if the driver had rung. */
void
virtio_queue_kick(struct virtio_dev *vdev, uint16_t i)
{
	if (i < vdev->nq)
		doorbell(vdev, i);
}

/*
 * Queue i as a handler elsewhere needs it; -1 if it is not running.
 * lock held.
 */
int
virtio_queue_state(struct virtio_dev *vdev, uint16_t i,
    struct virtq_state *st)
{
	if (i >= vdev->nq || !vdev->q[i].live)
		return (-1);
	virtq_get_state(&vdev->q[i].vq, st);
	return (0);
}

/*
 * A device process found queue i broken (why): DEVICE_NEEDS_RESET, as
 * if this process had.  lock held.
 */
void
virtio_needs_reset(struct virtio_dev *vdev, uint16_t i, const char *why)
{
	if (i < vdev->nq)
		queue_fail(&vdev->q[i], why);
}

/*
 * A device process is still dropping its work after a reset (on): the
 * status reads as before the reset until it is done (off), so a driver
 * that waits for 0, as virtio 1.x asks, reuses no buffer too early.
 * lock held.
 */
void
virtio_reset_pending(struct virtio_dev *vdev, int on)
{
	vdev->reset_pending = on;
}
