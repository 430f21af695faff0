/*
 * vnet.c: the test guest's virtio-net driver: one receive and one
 * transmit queue, receive buffers of 2 KiB posted once and reposted as
 * they are consumed, transmit slots tied to descriptors, the 12-byte
 * virtio 1.x header in front of every frame.  Protocols live in net.c.
 * It must never hand net.c more bytes than the device says it wrote,
 * nor more than a buffer holds.
 */

#include "guest.h"

#define VIRTIO_ID_NET		1
#define NET_F_MAC		(1ULL << 5)
#define NET_F_STATUS		(1ULL << 16)
#define CFG_MAC			0
#define CFG_STATUS		6
#define NET_HDR			12	/* struct virtio_net_hdr_v1 */
#define BUF_SIZE		2048
#define RXQ			0
#define TXQ			1
#define QSIZE			256

static struct vnet	nets[VNET_MAX];
uint8_t			vnet_mac[6];	/* mac= */
int			vnet_mac_set;

struct vnet *
vnet_open(int n, const char **why)
{
	struct vnet *v;
	struct vdev *vd;
	int i;

	if (n < 0 || n >= VNET_MAX) {
		*why = "no such NIC";
		return NULL;
	}
	v = &nets[n];
	if (v->vd != NULL)
		return v;
	if ((vd = virtio_find(VIRTIO_ID_NET, n, why)) == NULL)
		return NULL;
	vd->svc = 1;
	if (virtio_start(vd, NET_F_MAC | NET_F_STATUS, 2, QSIZE, why) == -1)
		return NULL;
	v->rxq = &vd->vq[RXQ];
	v->txq = &vd->vq[TXQ];
	v->rxbuf = palloc((uint64_t)v->rxq->size * BUF_SIZE, 4096);
	v->txbuf = palloc((uint64_t)v->txq->size * BUF_SIZE, 4096);
	v->txfree = palloc(sizeof(uint16_t) * v->txq->size, 8);
	if (v->rxbuf == NULL || v->txbuf == NULL || v->txfree == NULL) {
		*why = "out of memory";
		return NULL;
	}
	if (n == 0 && vnet_mac_set)
		/* mac=: the first NIC claims another address (a spoofer) */
		for (i = 0; i < 6; i++)
			v->mac[i] = vnet_mac[i];
	else if (vd->features & NET_F_MAC)
		for (i = 0; i < 6; i++)
			v->mac[i] = virtio_cfg8(vd, CFG_MAC + i);
	else {
		/* A locally administered address of our own. */
		v->mac[0] = 0xfe;
		v->mac[1] = 0xe1;
		v->mac[2] = 0xba;
		v->mac[3] = 0xd0;
		v->mac[4] = 0x00;
		v->mac[5] = n;
	}
	v->index = n;
	v->vd = vd;
	vnet_reset_queues(v);
	return v;
}

/* Posts every receive buffer and frees every transmit slot. */
void
vnet_reset_queues(struct vnet *v)
{
	uint16_t i;

	for (i = 0; i < v->rxq->size; i++) {
		v->rxq->desc[i].addr = (uintptr_t)v->rxbuf +
		    (uint64_t)i * BUF_SIZE;
		v->rxq->desc[i].len = BUF_SIZE;
		v->rxq->desc[i].flags = VRING_DESC_F_WRITE;
		v->rxq->desc[i].next = 0;
		vq_push(v->rxq, i);
	}
	vq_kick(v->rxq);
	for (i = 0; i < v->txq->size; i++)
		v->txfree[i] = i;
	v->ntxfree = v->txq->size;
	v->resets = v->vd->resets;
}

/* Link state: 1 up, 0 down, -1 unknown (no STATUS feature). */
int
vnet_link(struct vnet *v)
{
	if (!(v->vd->features & NET_F_STATUS))
		return -1;
	return virtio_cfg16(v->vd, CFG_STATUS) & 1;
}

/*
 * Hands up to max received frames to fn (frame after the virtio header,
 * its length) and gives their buffers straight back, one barrier and
 * one notification per burst: the receive path costs a few dozen
 * instructions a frame.  Returns how many used elements it took.
 */
int
vnet_rx_burst(struct vnet *v, int max,
    void (*fn)(void *, const uint8_t *, uint32_t), void *arg)
{
	struct virtq *vq = v->rxq;
	volatile struct vring_used_elem *e;
	uint16_t u, id, mask = vq->size - 1;
	uint32_t len;
	int n = 0;

	if (v->resets != v->vd->resets)
		vnet_reset_queues(v);
	u = vq->used->idx;
	if (u == vq->last_used)
		return 0;
	mb();
	while (vq->last_used != u && n < max) {
		e = &vq->used->ring[vq->last_used & mask];
		id = e->id;
		len = e->len;
		vq->last_used++;
		n++;
		if (id >= vq->size)
			continue;	/* lost for good: an id never given */
		if (len > NET_HDR && len <= BUF_SIZE) {
			v->rx_packets++;
			fn(arg, v->rxbuf + (uint64_t)id * BUF_SIZE + NET_HDR,
			    len - NET_HDR);
		} else
			v->rx_drops++;
		vq->avail->ring[vq->avail_idx & mask] = id;
		vq->avail_idx++;
	}
	vq->seen_used = vq->last_used;
	vq_kick(vq);
	return n;
}

/* Frees the transmit slots the device finished with. */
void
vnet_tx_reclaim(struct vnet *v)
{
	uint16_t id;
	uint32_t l;

	if (v->flooding)
		return;
	while (vq_pop(v->txq, &id, &l))
		if (id < v->txq->size && v->ntxfree < v->txq->size)
			v->txfree[v->ntxfree++] = id;
}

/*
 * A transmit buffer for a frame of up to 1514 bytes, or NULL when the
 * ring is full.  Fill it, then vnet_tx_send().
 */
uint8_t *
vnet_tx_buf(struct vnet *v, uint16_t *slot)
{
	uint8_t *b;

	if (v->resets != v->vd->resets)
		vnet_reset_queues(v);
	if (v->ntxfree == 0)
		vnet_tx_reclaim(v);
	if (v->ntxfree == 0) {
		v->tx_drops++;
		return NULL;
	}
	*slot = v->txfree[--v->ntxfree];
	b = v->txbuf + (uint64_t)*slot * BUF_SIZE;
	memset(b, 0, NET_HDR);
	return b + NET_HDR;
}

void
vnet_tx_send(struct vnet *v, uint16_t slot, uint32_t len)
{
	v->txq->desc[slot].addr = (uintptr_t)v->txbuf +
	    (uint64_t)slot * BUF_SIZE;
	v->txq->desc[slot].len = NET_HDR + len;
	v->txq->desc[slot].flags = 0;
	v->txq->desc[slot].next = 0;
	vq_push(v->txq, slot);
	vq_kick(v->txq);
	v->tx_packets++;
}

/*
 * The transmit benchmark's loop: the same frame (virtio header included,
 * at hdr_frame) sent over and over without copying until the TSC passes
 * limit.  Descriptor i and ring position i are tied together once, so
 * a batch costs a few instructions however many frames it holds; that
 * needs the device to use transmit buffers in order, which is checked
 * on the last one of each batch.  Returns the frames sent, or -1.
 */
int64_t
vnet_tx_flood(struct vnet *v, const uint8_t *hdr_frame, uint32_t len,
    uint64_t limit)
{
	struct virtq *vq = v->txq;
	uint16_t i, u, mask = vq->size - 1;
	int64_t sent = 0;
	int outstanding = 0, stop = 0, n;

	/* Start from an idle ring: what is in flight is waited for. */
	for (n = 0; n < 100 && v->ntxfree < vq->size; n++) {
		vnet_tx_reclaim(v);
		if (v->ntxfree < vq->size)
			vq_wait(v->vd, &vq, 1, 100);
	}
	if (v->ntxfree < vq->size)
		return -1;
	/* The wait hook's net_poll() must not reclaim under us. */
	v->flooding = 1;
	for (i = 0; i < vq->size; i++) {
		vq->desc[i].addr = (uintptr_t)hdr_frame;
		vq->desc[i].len = NET_HDR + len;
		vq->desc[i].flags = 0;
		vq->desc[i].next = 0;
		vq->avail->ring[i] = i;
	}
	while (!stop || outstanding > 0) {
		if (!stop) {
			n = vq->size - outstanding;
			vq->avail_idx += n;
			outstanding += n;
			sent += n;
			vq_kick(vq);
		}
		if (!vq_pending(vq) && vq_wait(v->vd, &vq, 1, 1000) <= 0)
			goto fail;
		u = vq->used->idx;
		mb();
		if (vq->used->ring[(u - 1) & mask].id != ((u - 1) & mask))
			goto fail;
		outstanding -= (uint16_t)(u - vq->last_used);
		vq->last_used = vq->seen_used = u;
		if (rdtsc() > limit)
			stop = 1;
	}
	v->flooding = 0;
	for (i = 0; i < vq->size; i++)
		v->txfree[i] = i;
	v->ntxfree = vq->size;
	v->tx_packets += sent;
	return sent;
fail:
	/* The ring's state is unknown now: the NIC stays out of use. */
	v->ntxfree = 0;
	return -1;
}
