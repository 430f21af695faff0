/*
 * vblk.c: the test guest's virtio-blk driver: requests in fixed slots
 * (one indirect table each when the device offers indirect descriptors,
 * else a fixed run of ring descriptors), split into segments as SIZE_MAX
 * and SEG_MAX demand, several in flight, completions reaped by slot.
 * It must never touch the data it moves: buffers go to the device as
 * they are, because every CPL 0 instruction is emulated on the
 * development host.
 */

#include "guest.h"

#define VIRTIO_ID_BLK		2
#define BLK_F_SIZE_MAX		(1ULL << 1)
#define BLK_F_SEG_MAX		(1ULL << 2)
#define BLK_F_RO		(1ULL << 5)
#define BLK_F_BLK_SIZE		(1ULL << 6)
#define BLK_F_FLUSH		(1ULL << 9)

#define CFG_CAPACITY		0
#define CFG_SIZE_MAX		8
#define CFG_SEG_MAX		12
#define CFG_BLK_SIZE		20

#define MAX_SEG			64
#define MAX_REQ			(1U << 20)	/* largest request we make */
#define QSIZE			256
#define REQ_TIMEOUT_MS		30000

struct blk_hdr {
	uint32_t	type;
	uint32_t	reserved;
	uint64_t	sector;
};

struct blk_slot {
	struct blk_hdr	hdr;
	uint8_t		status;
	uint8_t		busy;
	struct vring_desc *tbl;		/* indirect table, or ring run */
};

static struct vblk	blks[4];

static void	slots_init(struct vblk *);

/*
 * Starts the n-th virtio-blk device; NULL with *why set.  Starting it
 * twice returns the same, already started driver.
 */
struct vblk *
vblk_open(int n, const char **why)
{
	struct vblk *b;
	struct vdev *vd;
	uint64_t want;
	int i;

	if (n < 0 || n >= 4) {
		*why = "no such disk";
		return NULL;
	}
	b = &blks[n];
	if (b->vd != NULL)
		return b;
	if ((vd = virtio_find(VIRTIO_ID_BLK, n, why)) == NULL)
		return NULL;
	want = BLK_F_SIZE_MAX | BLK_F_SEG_MAX | BLK_F_RO | BLK_F_BLK_SIZE |
	    BLK_F_FLUSH | VIRTIO_F_INDIRECT_DESC;
	if (virtio_start(vd, want, 1, QSIZE, why) == -1)
		return NULL;
	b->vq = &vd->vq[0];
	b->capacity = virtio_cfg64(vd, CFG_CAPACITY);
	b->size_max = (vd->features & BLK_F_SIZE_MAX) ?
	    virtio_cfg32(vd, CFG_SIZE_MAX) : 0;
	if (b->size_max != 0 && b->size_max < 4096)
		b->size_max = 4096;
	b->seg_max = (vd->features & BLK_F_SEG_MAX) ?
	    virtio_cfg32(vd, CFG_SEG_MAX) : MAX_SEG;
	if (b->seg_max == 0 || b->seg_max > MAX_SEG)
		b->seg_max = MAX_SEG;
	b->blk_size = (vd->features & BLK_F_BLK_SIZE) ?
	    virtio_cfg32(vd, CFG_BLK_SIZE) : 512;
	b->ro = (vd->features & BLK_F_RO) != 0;
	b->flush = (vd->features & BLK_F_FLUSH) != 0;
	b->indirect = (vd->features & VIRTIO_F_INDIRECT_DESC) != 0;
	/*
	 * Buffers are physically contiguous: more than one segment is only
	 * needed where SIZE_MAX cuts a 1 MiB request.  Fewer descriptors
	 * per request make a deeper queue without indirect descriptors.
	 */
	if (b->size_max != 0 && (MAX_REQ + b->size_max - 1) / b->size_max <
	    b->seg_max)
		b->seg_max = (MAX_REQ + b->size_max - 1) / b->size_max;
	else if (b->size_max == 0)
		b->seg_max = 1;
	b->ndesc = 2 + b->seg_max;
	if (b->indirect) {
		b->depth = b->vq->size;
		/* An indirect table may not exceed the queue size. */
		if (b->ndesc > b->vq->size) {
			b->ndesc = b->vq->size;
			b->seg_max = b->ndesc - 2;
		}
	} else {
		if (b->ndesc > b->vq->size) {
			b->ndesc = b->vq->size;
			b->seg_max = b->ndesc - 2;
		}
		b->depth = b->vq->size / b->ndesc;
	}
	if (b->depth > VBLK_MAX_DEPTH)
		b->depth = VBLK_MAX_DEPTH;
	b->slot = pzalloc(sizeof(struct blk_slot) * b->depth, 64);
	b->freeslot = palloc(sizeof(uint16_t) * b->depth, 8);
	if (b->slot == NULL || b->freeslot == NULL) {
		*why = "out of memory";
		return NULL;
	}
	for (i = 0; i < b->depth; i++) {
		if (b->indirect) {
			b->slot[i].tbl = palloc(16 * b->ndesc, 16);
			if (b->slot[i].tbl == NULL) {
				*why = "out of memory";
				return NULL;
			}
		} else
			b->slot[i].tbl = &b->vq->desc[i * b->ndesc];
	}
	b->resets = vd->resets;
	b->vd = vd;
	slots_init(b);
	return b;
}

/*
 * What never changes in a slot's descriptors is written once here, so
 * a request writes only its own fields: every instruction counts where
 * CPL 0 is emulated.
 */
static void
slots_init(struct vblk *b)
{
	struct vring_desc *d;
	int i, j, base;

	for (i = 0; i < b->depth; i++) {
		d = b->slot[i].tbl;
		base = b->indirect ? 0 : i * b->ndesc;
		d[0].addr = (uintptr_t)&b->slot[i].hdr;
		d[0].len = sizeof(struct blk_hdr);
		d[0].flags = VRING_DESC_F_NEXT;
		for (j = 0; j < b->ndesc; j++)
			d[j].next = base + j + 1;
		if (b->indirect) {
			b->vq->desc[i].addr = (uintptr_t)d;
			b->vq->desc[i].flags = VRING_DESC_F_INDIRECT;
			b->vq->desc[i].next = 0;
		}
		b->slot[i].busy = 0;
		b->freeslot[i] = b->depth - 1 - i;
	}
	b->nfree = b->depth;
}

/* Largest request the device takes in one go, in bytes. */
uint32_t
vblk_max_request(struct vblk *b)
{
	uint64_t m = b->size_max ? (uint64_t)b->size_max * b->seg_max :
	    MAX_REQ;

	return m > MAX_REQ ? MAX_REQ : (uint32_t)m;
}

/* Takes a free slot (give it to vblk_submit()), or -1. */
int
vblk_slot(struct vblk *b)
{
	return b->nfree > 0 ? b->freeslot[--b->nfree] : -1;
}

/*
 * Queues request type (VBLK_IN, VBLK_OUT, VBLK_FLUSH) in slot s, taken
 * with vblk_slot(); the caller kicks.  0, or -1 (the slot is given back)
 * if the buffer needs more segments than the device takes.
 */
int
vblk_submit(struct vblk *b, int s, uint32_t type, uint64_t sector,
    void *buf, uint32_t len)
{
	if (vblk_prepare(b, s, type, buf, len) == -1) {
		b->freeslot[b->nfree++] = s;
		return -1;
	}
	vblk_requeue(b, s, sector);
	return 0;
}

/* Queues slot s again, as vblk_prepare() left it, for another sector. */
void
vblk_requeue(struct vblk *b, int s, uint64_t sector)
{
	b->slot[s].hdr.sector = sector;
	b->slot[s].status = 0xff;	/* a device that writes none fails */
	b->slot[s].busy = 1;
	vq_push(b->vq, b->indirect ? s : s * b->ndesc);
}

/*
 * Builds slot s's descriptors for a request without queueing it (see
 * vblk_requeue()); -1 if the buffer needs more segments than the
 * device takes.
 */
int
vblk_prepare(struct vblk *b, int s, uint32_t type, void *buf, uint32_t len)
{
	struct blk_slot *sl = &b->slot[s];
	struct vring_desc *d = sl->tbl;
	uint64_t a = (uintptr_t)buf;
	uint32_t seg, n = 1;
	uint16_t flags = type == VBLK_IN ?
	    VRING_DESC_F_WRITE | VRING_DESC_F_NEXT : VRING_DESC_F_NEXT;

	sl->hdr.type = type;
	while (len > 0) {
		if (n > b->seg_max)
			return -1;
		seg = b->size_max && len > b->size_max ? b->size_max : len;
		d[n].addr = a;
		d[n].len = seg;
		d[n].flags = flags;
		a += seg;
		len -= seg;
		n++;
	}
	d[n].addr = (uintptr_t)&sl->status;
	d[n].len = 1;
	d[n].flags = VRING_DESC_F_WRITE;
	if (b->indirect)
		b->vq->desc[s].len = 16 * (n + 1);
	return 0;
}

void
vblk_kick(struct vblk *b)
{
	vq_kick(b->vq);
}

/*
 * Reaps one completion: 1 with its slot and status (0 OK), 0 if none,
 * -1 if the device returned an id it was never given.
 */
int
vblk_reap(struct vblk *b, int *slot, int *status)
{
	uint16_t id;
	uint32_t len;
	int s;

	if (!vq_pop(b->vq, &id, &len))
		return 0;
	s = b->indirect ? id : id / b->ndesc;
	if (id >= b->vq->size || s >= b->depth || !b->slot[s].busy ||
	    (!b->indirect && id % b->ndesc != 0))
		return -1;
	b->slot[s].busy = 0;
	b->freeslot[b->nfree++] = s;
	*slot = s;
	*status = b->slot[s].status;
	return 1;
}

/*
 * Waits for completions of one or more disks; 1 if some arrived, 0 on
 * timeout, -1 if a device had to be reset (requests lost).
 */
int
vblk_wait(struct vblk **bs, int n)
{
	struct virtq *vqs[4];
	int i, r;

	for (i = 0; i < n && i < 4; i++)
		vqs[i] = bs[i]->vq;
	r = vq_wait(bs[0]->vd, vqs, i, REQ_TIMEOUT_MS);
	for (i = 0; i < n; i++) {
		if (virtio_check_reset(bs[i]->vd) || bs[i]->resets !=
		    bs[i]->vd->resets) {
			/* What was in flight is gone with the old queue. */
			bs[i]->resets = bs[i]->vd->resets;
			slots_init(bs[i]);
			r = -1;
		}
	}
	return r;
}

/* One request, waited for: its status, or -1 on timeout or reset. */
int
vblk_io(struct vblk *b, uint32_t type, uint64_t sector, void *buf,
    uint32_t len)
{
	int s, st, r;

	if ((s = vblk_slot(b)) == -1 ||
	    vblk_submit(b, s, type, sector, buf, len) == -1)
		return -1;
	vblk_kick(b);
	for (;;) {
		r = vblk_reap(b, &s, &st);
		if (r == 1)
			return st;
		if (r == -1 || vblk_wait(&b, 1) <= 0)
			return -1;
	}
}

/*
 * The random I/O benchmark's loop: depth requests of len bytes, one
 * buffer each, kept in flight at random len-aligned offsets below
 * blocks * len until the TSC passes limit.  Each completion costs a few
 * dozen instructions: the slots are built once, a requeue writes only
 * the sector.  Returns the requests completed, or -1 on a failed
 * request, a timeout or a reset.
 */
int64_t
vblk_random(struct vblk *b, uint32_t type, uint8_t **bufs, int depth,
    uint32_t len, uint64_t blocks, uint64_t limit, uint64_t *rng)
{
	struct virtq *vq = b->vq;
	uint64_t spb = len / 512, done = 0;
	uint16_t u, id;
	int i, s, inflight = 0, stop = 0;

	for (i = 0; i < depth; i++) {
		if ((s = vblk_slot(b)) == -1 ||
		    vblk_prepare(b, s, type, bufs[i], len) == -1)
			return -1;
		vblk_requeue(b, s, rand64(rng) % blocks * spb);
		inflight++;
	}
	vq_kick(vq);
	while (inflight > 0) {
		if (!vq_pending(vq) && vblk_wait(&b, 1) <= 0)
			return -1;
		u = vq->used->idx;
		mb();
		while (vq->last_used != u) {
			id = vq->used->ring[vq->last_used & (vq->size - 1)].id;
			vq->last_used++;
			s = b->indirect ? id : id / b->ndesc;
			if (s >= b->depth || !b->slot[s].busy ||
			    b->slot[s].status != 0)
				return -1;
			done++;
			if (stop) {
				b->slot[s].busy = 0;
				b->freeslot[b->nfree++] = s;
				inflight--;
			} else
				vblk_requeue(b, s, rand64(rng) % blocks * spb);
		}
		vq->seen_used = u;
		if (!stop && rdtsc() > limit)
			stop = 1;
		vq_kick(vq);
	}
	return (int64_t)done;
}
