/*
 * vrng.c: the test guest's virtio-rng driver and its rng check: two
 * 64-byte reads through one device-writable descriptor each, which
 * must differ from each other and not repeat a byte throughout.  It
 * must never take more bytes than the device says it wrote.
 */

#include "guest.h"

#define VIRTIO_ID_RNG		4
#define RNG_BYTES		64
#define RNG_TIMEOUT_MS		10000

static struct vdev	*rng_vd;

/* Fills buf; the number of bytes the device wrote, or -1. */
static int
rng_read(uint8_t *buf, uint32_t len, const char **why)
{
	struct virtq *vq = &rng_vd->vq[0];
	uint16_t id;
	uint32_t got;
	int r;

	vq->desc[0].addr = (uintptr_t)buf;
	vq->desc[0].len = len;
	vq->desc[0].flags = VRING_DESC_F_WRITE;
	vq->desc[0].next = 0;
	vq_push(vq, 0);
	vq_kick(vq);
	while (!vq_pop(vq, &id, &got)) {
		if ((r = vq_wait(rng_vd, &vq, 1, RNG_TIMEOUT_MS)) <= 0) {
			*why = r == 0 ? "no entropy within 10 s" :
			    "device needed a reset";
			return -1;
		}
	}
	if (id != 0 || got > len) {
		*why = "device returned a bad used element";
		return -1;
	}
	return (int)got;
}

/* All bytes equal: a stuck source. */
static int
constant(const uint8_t *b, int n)
{
	int i;

	for (i = 1; i < n; i++)
		if (b[i] != b[0])
			return 0;
	return 1;
}

static int
rng_attach(const char **why)
{
	if (rng_vd != NULL)
		return 0;
	if ((rng_vd = virtio_find(VIRTIO_ID_RNG, 0, why)) == NULL ||
	    virtio_start(rng_vd, 0, 1, 8, why) == -1) {
		rng_vd = NULL;
		return -1;
	}
	return 0;
}

void
check_rngreset(struct guest *g)
{
	static uint8_t a[RNG_BYTES] __attribute__((aligned(64)));
	struct virtq *vq;
	const char *why;
	uint32_t resets, cfg0;
	int r, n;

	if (rng_attach(&why) == -1) {
		kprintf("FAIL rngreset: %s\n", why);
		return;
	}
	vq = &rng_vd->vq[0];
	resets = rng_vd->resets;
	cfg0 = rng_vd->cfg_irqs;
	vq->desc[0].addr = (uintptr_t)a;
	vq->desc[0].len = sizeof(a);
	vq->desc[0].flags = VRING_DESC_F_WRITE | VRING_DESC_F_NEXT;
	vq->desc[0].next = 0xffff;
	vq_push(vq, 0);
	vq_kick(vq);
	r = vq_wait(rng_vd, &vq, 1, RNG_TIMEOUT_MS);
	if (r == 1) {
		kprintf("FAIL rngreset: device used a chain that leaves the "
		    "queue\n");
		return;
	}
	if (rng_vd->resets == resets) {
		kprintf("FAIL rngreset: no DEVICE_NEEDS_RESET within %d s\n",
		    RNG_TIMEOUT_MS / 1000);
		return;
	}
	if ((n = rng_read(a, sizeof(a), &why)) < 8) {
		kprintf("FAIL rngreset: after the reset: %s\n",
		    n < 0 ? why : "too few bytes");
		return;
	}
	kprintf("PASS rngreset: bad chain refused with DEVICE_NEEDS_RESET "
	    "(%s), reset, then %d bytes\n", rng_vd->cfg_irqs != cfg0 ?
	    "configuration interrupt" : "seen on timeout", n);
}

void
check_rng(struct guest *g)
{
	static uint8_t a[RNG_BYTES] __attribute__((aligned(64)));
	static uint8_t b[RNG_BYTES] __attribute__((aligned(64)));
	const char *why;
	uint32_t irq0;
	int na, nb;

	if (rng_attach(&why) == -1) {
		kprintf("FAIL rng: %s\n", why);
		return;
	}
	irq0 = rng_vd->irqs;
	if ((na = rng_read(a, sizeof(a), &why)) < 0 ||
	    (nb = rng_read(b, sizeof(b), &why)) < 0) {
		kprintf("FAIL rng: %s\n", why);
		return;
	}
	if (na < 8 || nb < 8) {
		kprintf("FAIL rng: only %d and %d bytes\n", na, nb);
		return;
	}
	if (constant(a, na) || constant(b, nb) ||
	    (na == nb && memcmp(a, b, na) == 0)) {
		kprintf("FAIL rng: bytes repeat\n");
		return;
	}
	if (!virtio_irq_seen(rng_vd, irq0)) {
		kprintf("FAIL rng: reads completed without an interrupt\n");
		return;
	}
	kprintf("PASS rng: %d+%d bytes, first %02x%02x%02x%02x%02x%02x%02x%02x"
	    ", %u interrupts (%s)\n", na, nb, a[0], a[1], a[2], a[3], a[4],
	    a[5], a[6], a[7], rng_vd->irqs - irq0, virtio_intr_name(rng_vd));
}
