/*
 * virtio.c: the test guest's virtio 1.x PCI transport: finds modern
 * (1af4:1040+type) and transitional (1af4:1000-103f) functions, always
 * drives them through the modern capabilities, negotiates VERSION_1,
 * sets up split virtqueues, takes interrupts through MSI-X (one vector
 * for configuration changes, one per queue while the table has room)
 * or INTx, and resets a device that reports DEVICE_NEEDS_RESET.  It
 * must never trust the device beyond what the spec lets it say: queue
 * sizes, used ids and lengths are checked before use.
 */

#include "guest.h"

#define VIRTIO_VENDOR		0x1af4
#define VIRTIO_MODERN		0x1040
#define VIRTIO_TRANS_FIRST	0x1000
#define VIRTIO_TRANS_LAST	0x103f

#define PCI_CAP_VENDOR		0x09
#define VCAP_COMMON		1
#define VCAP_NOTIFY		2
#define VCAP_ISR		3
#define VCAP_DEVICE		4

/* struct virtio_pci_common_cfg */
#define CC_DFSELECT		0x00
#define CC_DF			0x04
#define CC_GFSELECT		0x08
#define CC_GF			0x0c
#define CC_MSIX			0x10
#define CC_NUMQ			0x12
#define CC_STATUS		0x14
#define CC_GEN			0x15
#define CC_QSELECT		0x16
#define CC_QSIZE		0x18
#define CC_QMSIX		0x1a
#define CC_QENABLE		0x1c
#define CC_QNOTIFY		0x1e
#define CC_QDESC		0x20
#define CC_QDRIVER		0x28
#define CC_QDEVICE		0x30

#define ST_ACK			0x01
#define ST_DRIVER		0x02
#define ST_DRIVER_OK		0x04
#define ST_FEATURES_OK		0x08
#define ST_NEEDS_RESET		0x40
#define ST_FAILED		0x80

#define ISR_QUEUE		0x01
#define ISR_CONFIG		0x02
#define NO_VECTOR		0xffff
#define MAX_VDEVS		12
#define RESET_TRIES		1000

int			virtio_no_msix;	/* "intx" on the command line */
static struct vdev	*vdevs;		/* on the heap: .bss is zeroed early */
static int		nvdevs;
static int		want_type;

/* Device type of a virtio function; 0 if it is none. */
static int
vtype(const struct pci_func *f)
{
	if (f->vendor != VIRTIO_VENDOR)
		return 0;
	if (f->device >= VIRTIO_MODERN && f->device < VIRTIO_MODERN + 0x40)
		return f->device - VIRTIO_MODERN;
	/* Transitional: the subsystem id is the device type. */
	if (f->device >= VIRTIO_TRANS_FIRST && f->device <= VIRTIO_TRANS_LAST)
		return f->subdevice;
	return 0;
}

static int
match_type(const struct pci_func *f)
{
	return vtype(f) == want_type;
}

static uint32_t
cc_r32(struct vdev *vd, int off)
{
	return mmio_r32(vd->common + off);
}

static void
cc_w32(struct vdev *vd, int off, uint32_t v)
{
	mmio_w32(vd->common + off, v);
}

static void
cc_w64(struct vdev *vd, int off, uint64_t v)
{
	mmio_w32(vd->common + off, (uint32_t)v);
	mmio_w32(vd->common + off + 4, (uint32_t)(v >> 32));
}

uint8_t
virtio_status(struct vdev *vd)
{
	return mmio_r8(vd->common + CC_STATUS);
}

static void
set_status(struct vdev *vd, uint8_t st)
{
	mmio_w8(vd->common + CC_STATUS, st);
}

static void
intr_queue(void *arg)
{
	struct vdev *vd = arg;

	vd->irqs++;
	if (vd->svc)
		svc_pending = 1;
}

static void
intr_config(void *arg)
{
	struct vdev *vd = arg;

	vd->cfg_irqs++;
	svc_pending = 1;
}

/* INTx: the ISR read tells which, and lowers the line. */
static int
intr_intx(void *arg)
{
	struct vdev *vd = arg;
	uint8_t isr = mmio_r8(vd->isr);

	if (isr & ISR_QUEUE)
		intr_queue(vd);
	if (isr & ISR_CONFIG)
		intr_config(vd);
	return (isr & (ISR_QUEUE | ISR_CONFIG)) != 0;
}

/* Maps the capability of a type; 0 if absent or outside its BAR. */
static uintptr_t
map_cap(struct vdev *vd, int type, uint32_t *mul, uint32_t *len)
{
	struct pci_func *f = vd->pf;
	uint8_t c = 0;
	uint32_t off, l;
	int bar;

	while ((c = pci_find_cap(f, PCI_CAP_VENDOR, c)) != 0) {
		if (pci_read8(f, c + 3) != type)
			continue;
		bar = pci_read8(f, c + 4);
		off = pci_read32(f, c + 8);
		l = pci_read32(f, c + 12);
		if (bar > 5 || (f->bar_type[bar] != BAR_MEM32 &&
		    f->bar_type[bar] != BAR_MEM64) ||
		    (uint64_t)off + l > f->bar_size[bar])
			continue;
		if (mul != NULL)
			*mul = pci_read32(f, c + 16);
		if (len != NULL)
			*len = l;
		return (uintptr_t)(f->bar[bar] + off);
	}
	return 0;
}

/*
 * The n-th virtio device of a type (0 first), its transport mapped, or
 * NULL with *why set.  The device is reset, not started.
 */
struct vdev *
virtio_find(int type, int n, const char **why)
{
	struct pci_func *f;
	struct vdev *vd;
	int i;

	want_type = type;
	if (vdevs == NULL &&
	    (vdevs = pzalloc(sizeof(*vdevs) * MAX_VDEVS, 64)) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	if ((f = pci_find(match_type, n)) == NULL) {
		*why = "no such virtio device";
		return NULL;
	}
	for (i = 0; i < nvdevs; i++)
		if (vdevs[i].pf == f)
			return &vdevs[i];
	if (nvdevs == MAX_VDEVS) {
		*why = "too many virtio devices";
		return NULL;
	}
	vd = &vdevs[nvdevs];
	vd->pf = f;
	vd->type = type;
	vd->index = n;
	vd->force_intx = virtio_no_msix;
	if (pci_enable(f, why) == -1)
		return NULL;
	vd->common = map_cap(vd, VCAP_COMMON, NULL, NULL);
	vd->notify = map_cap(vd, VCAP_NOTIFY, &vd->notify_mul, NULL);
	vd->isr = map_cap(vd, VCAP_ISR, NULL, NULL);
	vd->devcfg = map_cap(vd, VCAP_DEVICE, NULL, &vd->devcfg_len);
	if (vd->common == 0 || vd->notify == 0 || vd->isr == 0) {
		*why = "no modern virtio capabilities";
		return NULL;
	}
	vd->msix_n = pci_msix_count(f);
	nvdevs++;
	return vd;
}

/* Writes 0 and waits, bounded, until the device reads back 0. */
static int
virtio_reset(struct vdev *vd)
{
	int i;

	set_status(vd, 0);
	for (i = 0; i < RESET_TRIES; i++)
		if (virtio_status(vd) == 0)
			return 0;
	return -1;
}

static void
vq_init_rings(struct virtq *vq)
{
	memset(vq->desc, 0, 16 * vq->size);
	memset((void *)vq->avail, 0, 6 + 2 * vq->size);
	memset((void *)vq->used, 0, 6 + 8 * vq->size);
	vq->avail_idx = 0;
	vq->last_used = 0;
	vq->seen_used = 0;
}

static int
setup_queue(struct vdev *vd, int q, uint16_t want, const char **why)
{
	struct virtq *vq = &vd->vq[q];
	uint16_t max, size, vec;

	mmio_w16(vd->common + CC_QSELECT, q);
	max = mmio_r16(vd->common + CC_QSIZE);
	if (max == 0) {
		*why = "queue not available";
		return -1;
	}
	for (size = 1; size * 2 <= max && size * 2 <= want; size *= 2)
		;
	if (vq->desc == NULL || vq->size != size) {
		vq->size = size;
		vq->desc = palloc(16 * size, 4096);
		vq->avail = palloc(6 + 2 * size, 4096);
		vq->used = palloc(6 + 8 * size, 4096);
		if (vq->desc == NULL || vq->avail == NULL || vq->used == NULL) {
			vq->desc = NULL;
			*why = "out of memory for a queue";
			return -1;
		}
	}
	vq->index = q;
	vq_init_rings(vq);
	mmio_w16(vd->common + CC_QSIZE, size);
	if (vd->msix) {
		vec = vd->msix_n > q + 1 ? q + 1 : vd->msix_n - 1;
		mmio_w16(vd->common + CC_QMSIX, vec);
		if (mmio_r16(vd->common + CC_QMSIX) != vec) {
			*why = "device refused the MSI-X vector of a queue";
			return -1;
		}
	}
	cc_w64(vd, CC_QDESC, (uintptr_t)vq->desc);
	cc_w64(vd, CC_QDRIVER, (uintptr_t)vq->avail);
	cc_w64(vd, CC_QDEVICE, (uintptr_t)vq->used);
	vq->notify = vd->notify + (uintptr_t)mmio_r16(vd->common + CC_QNOTIFY) *
	    vd->notify_mul;
	mmio_w16(vd->common + CC_QENABLE, 1);
	return 0;
}

/*
 * Interrupts: MSI-X when the table has at least two entries and the
 * LAPIC has vectors left (entry 0 configuration, entry 1 on the
 * queues, one each while entries last), else INTx on the line the
 * firmware or vmd wrote into the Interrupt Line register.
 */
static int
setup_intr(struct vdev *vd, const char **why)
{
	int i, v;

	if (vd->intr_done)
		return 0;
	if (vd->msix_n >= 2 && !vd->force_intx) {
		if (vd->msix_n > 1 + vd->nq)
			vd->msix_n = 1 + vd->nq;
		for (i = 0; i < vd->msix_n; i++) {
			v = msi_alloc(i == 0 ? intr_config : intr_queue, vd);
			if (v < 0)
				break;
			pci_msix_set(vd->pf, i, v);
		}
		if (i == vd->msix_n) {
			pci_msix_enable(vd->pf, 1);
			vd->msix = 1;
			vd->intr_done = 1;
			return 0;
		}
	}
	if (vd->msix_n > 0)
		pci_msix_enable(vd->pf, 0);
	vd->msix = 0;
	if (vd->pf->irq_pin == 0 ||
	    irq_establish(vd->pf->irq_line, intr_intx, vd) == -1) {
		*why = "no usable interrupt (no MSI-X, no INTx line)";
		return -1;
	}
	vd->intr_done = 1;
	return 0;
}

/*
 * Resets the device, negotiates want (with VERSION_1, which must be
 * offered) and sets up nq queues of up to qsize entries, then DRIVER_OK.
 * 0, or -1 with *why set (the device is then left FAILED).
 */
int
virtio_start(struct vdev *vd, uint64_t want, int nq, uint16_t qsize,
    const char **why)
{
	uint64_t have;
	int q;

	if (nq > VIRTIO_MAXQ) {
		*why = "too many queues";
		return -1;
	}
	vd->want = want;
	vd->nq = nq;
	vd->qsize = qsize;
	if (virtio_reset(vd) == -1) {
		*why = "device does not reset";
		return -1;
	}
	if (setup_intr(vd, why) == -1)
		return -1;
	set_status(vd, ST_ACK);
	set_status(vd, ST_ACK | ST_DRIVER);
	cc_w32(vd, CC_DFSELECT, 0);
	have = cc_r32(vd, CC_DF);
	cc_w32(vd, CC_DFSELECT, 1);
	have |= (uint64_t)cc_r32(vd, CC_DF) << 32;
	vd->offered = have;
	if (!(have & VIRTIO_F_VERSION_1)) {
		*why = "device does not offer VERSION_1";
		goto fail;
	}
	vd->features = have & (want | VIRTIO_F_VERSION_1);
	cc_w32(vd, CC_GFSELECT, 0);
	cc_w32(vd, CC_GF, (uint32_t)vd->features);
	cc_w32(vd, CC_GFSELECT, 1);
	cc_w32(vd, CC_GF, (uint32_t)(vd->features >> 32));
	set_status(vd, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	if (!(virtio_status(vd) & ST_FEATURES_OK)) {
		*why = "device refused the features";
		goto fail;
	}
	if (vd->msix) {
		mmio_w16(vd->common + CC_MSIX, 0);
		if (mmio_r16(vd->common + CC_MSIX) != 0) {
			*why = "device refused the configuration vector";
			goto fail;
		}
	}
	for (q = 0; q < nq; q++)
		if (setup_queue(vd, q, qsize, why) == -1)
			goto fail;
	set_status(vd, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	vd->started = 1;
	return 0;
fail:
	set_status(vd, ST_FAILED);
	return -1;
}

/*
 * A device that set DEVICE_NEEDS_RESET is reset and started again with
 * the same features and empty queues; what was in flight is lost, and
 * vd->resets tells its driver.  Returns 1 if that happened.
 */
int
virtio_check_reset(struct vdev *vd)
{
	const char *why;

	if (!vd->started || !(virtio_status(vd) & ST_NEEDS_RESET))
		return 0;
	kprintf("note: virtio %d.%d: device needs reset, resetting\n",
	    vd->type, vd->index);
	vd->resets++;
	vd->started = 0;
	if (virtio_start(vd, vd->want, vd->nq, vd->qsize, &why) == -1)
		kprintf("note: virtio %d.%d: restart failed: %s\n", vd->type,
		    vd->index, why);
	return 1;
}

/* Device configuration space; reads retried while the generation moves. */
uint32_t
virtio_cfg32(struct vdev *vd, int off)
{
	uint32_t v;
	uint8_t gen;
	int i;

	if (vd->devcfg == 0 || (uint32_t)off + 4 > vd->devcfg_len)
		return 0;
	for (i = 0; i < 10; i++) {
		gen = mmio_r8(vd->common + CC_GEN);
		v = mmio_r32(vd->devcfg + off);
		if (mmio_r8(vd->common + CC_GEN) == gen)
			break;
	}
	return v;
}

uint16_t
virtio_cfg16(struct vdev *vd, int off)
{
	if (vd->devcfg == 0 || (uint32_t)off + 2 > vd->devcfg_len)
		return 0;
	return mmio_r16(vd->devcfg + off);
}

uint8_t
virtio_cfg8(struct vdev *vd, int off)
{
	if (vd->devcfg == 0 || (uint32_t)off + 1 > vd->devcfg_len)
		return 0;
	return mmio_r8(vd->devcfg + off);
}

uint64_t
virtio_cfg64(struct vdev *vd, int off)
{
	uint32_t lo, hi;
	uint8_t gen;
	int i;

	lo = hi = 0;
	for (i = 0; i < 10; i++) {
		gen = mmio_r8(vd->common + CC_GEN);
		lo = virtio_cfg32(vd, off);
		hi = virtio_cfg32(vd, off + 4);
		if (mmio_r8(vd->common + CC_GEN) == gen)
			break;
	}
	return (uint64_t)hi << 32 | lo;
}

/* Makes descriptor head available (no notification yet). */
void
vq_push(struct virtq *vq, uint16_t head)
{
	vq->avail->ring[vq->avail_idx & (vq->size - 1)] = head;
	vq->avail_idx++;
}

/* Publishes what vq_push added and notifies unless the device opted out. */
void
vq_kick(struct virtq *vq)
{
	mb();
	vq->avail->idx = vq->avail_idx;
	mb();
	if (!(vq->used->flags & VRING_USED_F_NO_NOTIFY))
		mmio_w16(vq->notify, vq->index);
}

/*
 * Takes one used element: 1 with *id and *len, 0 if none.  An id
 * outside the ring is reported as size (callers check it).
 */
int
vq_pop(struct virtq *vq, uint16_t *id, uint32_t *len)
{
	uint16_t i;

	/* One read of the index and one barrier per batch, not per element. */
	if (vq->last_used == vq->seen_used) {
		vq->seen_used = vq->used->idx;
		if (vq->seen_used == vq->last_used)
			return 0;
		mb();
	}
	i = vq->last_used & (vq->size - 1);
	*id = vq->used->ring[i].id < vq->size ? vq->used->ring[i].id :
	    vq->size;
	*len = vq->used->ring[i].len;
	vq->last_used++;
	return 1;
}

int
vq_pending(struct virtq *vq)
{
	return vq->last_used != vq->seen_used ||
	    vq->used->idx != vq->last_used;
}

static struct virtq	**wait_vqs;
static int		  wait_nvq;
static struct vdev	 *wait_vd;
static uint32_t		  wait_cfg;

static int
any_used(void)
{
	int i;

	for (i = 0; i < wait_nvq; i++)
		if (vq_pending(wait_vqs[i]))
			return 1;
	return wait_vd != NULL && wait_vd->cfg_irqs != wait_cfg;
}

/*
 * Sleeps until one of the queues has a used element (1), or ms pass
 * (0), or the device vd (if given) signals a configuration change and
 * turns out to need a reset (-1, after resetting it).
 */
int
vq_wait(struct vdev *vd, struct virtq **vqs, int n, uint32_t ms)
{
	int r;

	for (;;) {
		wait_vqs = vqs;
		wait_nvq = n;
		wait_vd = vd;
		wait_cfg = vd != NULL ? vd->cfg_irqs : 0;
		r = wait_until(any_used, ms);
		wait_vd = NULL;
		if (r == 0)
			return vd != NULL && virtio_check_reset(vd) ? -1 : 0;
		for (r = 0; r < n; r++)
			if (vq_pending(vqs[r]))
				return 1;
		if (virtio_check_reset(vd))
			return -1;
	}
}

static struct vdev	*irq_vd;
static uint32_t		 irq_base;

static int
irq_moved(void)
{
	return irq_vd->irqs != irq_base;
}

/*
 * Whether an interrupt arrived since the count was irq0, waiting a
 * little: a device may finish a request before its interrupt lands.
 */
int
virtio_irq_seen(struct vdev *vd, uint32_t irq0)
{
	irq_vd = vd;
	irq_base = irq0;
	return wait_until(irq_moved, 200);
}

/* "msix" or "intx irq N", for result lines. */
const char *
virtio_intr_name(struct vdev *vd)
{
	static char buf[16];

	if (vd->msix)
		return "msix";
	memcpy(buf, "intx irq ", 9);
	buf[9] = '0' + vd->pf->irq_line / 10;
	buf[10] = '0' + vd->pf->irq_line % 10;
	buf[11] = '\0';
	if (buf[9] == '0') {
		buf[9] = buf[10];
		buf[10] = '\0';
	}
	return buf;
}
