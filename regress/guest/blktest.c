/*
 * blktest.c: what the test guest does with its disks: the blk check
 * (a pattern the host wrote, a pattern the guest writes, flushes and
 * reads back) and the blkcopy and blkbench modes.  The patterns are a
 * contract with the host tests (README): change them only together.
 * It must keep per-I/O work small; the data itself is only compared in
 * the blk check, a few KiB of it.
 */

#include "guest.h"

#define SECTOR			512
#define REC			32	/* bytes per pattern record */
#define PAT_SECTORS		8	/* host pattern: sectors 0-7 */
#define GUEST_FIRST		8	/* guest pattern: sectors 8-15 */
#define COPY_REQ		(1U << 20)
#define COPY_BUFS		8
#define BENCH_SEQ_REQ		(1U << 20)
#define BENCH_SEQ_DEPTH		8
#define BENCH_SEQ_MAX		(256ULL << 20)
#define BENCH_RAND_REQ		4096
#define BENCH_US		2000000

/*
 * One 32-byte record: "vmdblk: sector NNNNNNNN pattern\n" for what the
 * host wrote, "... written\n" for what the guest writes.  Each sector
 * holds its record 16 times.
 */
static void
make_record(char *r, uint32_t sector, int guest)
{
	static const char head[] = "vmdblk: sector ";
	const char *tail = guest ? " written\n" : " pattern\n";
	int i;

	memcpy(r, head, 15);
	for (i = 7; i >= 0; i--) {
		r[15 + i] = '0' + sector % 10;
		sector /= 10;
	}
	memcpy(r + 23, tail, 9);
}

static void
fill_pattern(uint8_t *buf, uint32_t first, uint32_t n, int guest)
{
	uint32_t s;
	int i;

	for (s = 0; s < n; s++) {
		make_record((char *)buf + s * SECTOR, first + s, guest);
		for (i = 1; i < SECTOR / REC; i++)
			memcpy(buf + s * SECTOR + i * REC, buf + s * SECTOR,
			    REC);
	}
}

/* First sector of buf that differs from the pattern, or -1. */
static int
check_pattern(const uint8_t *buf, const uint8_t *want, uint32_t n)
{
	uint32_t s;

	for (s = 0; s < n; s++)
		if (memcmp(buf + s * SECTOR, want + s * SECTOR, SECTOR) != 0)
			return (int)s;
	return -1;
}

static void
show_record(const char *what, const uint8_t *r)
{
	char txt[REC + 1];
	int i;

	for (i = 0; i < REC; i++)
		txt[i] = r[i] >= 0x20 && r[i] < 0x7f ? r[i] : '.';
	txt[REC] = '\0';
	kprintf("note: blk: %s '%s'\n", what, txt);
}

void
check_blk(struct guest *g)
{
	const uint32_t len = PAT_SECTORS * SECTOR;
	struct vblk *b;
	const char *why;
	uint8_t *buf, *want;
	uint32_t irq0;
	int bad, st;

	if ((b = vblk_open(0, &why)) == NULL) {
		kprintf("FAIL blk: %s\n", why);
		return;
	}
	if (b->capacity < GUEST_FIRST + PAT_SECTORS) {
		kprintf("FAIL blk: disk of %lu sectors is too small\n",
		    (unsigned long)b->capacity);
		return;
	}
	buf = palloc(len, 4096);
	want = palloc(len, 4096);
	if (buf == NULL || want == NULL) {
		kprintf("FAIL blk: out of memory\n");
		return;
	}
	irq0 = b->vd->irqs;
	if ((st = vblk_io(b, VBLK_IN, 0, buf, len)) != 0) {
		kprintf("FAIL blk: read of sectors 0-7: status %d\n", st);
		return;
	}
	fill_pattern(want, 0, PAT_SECTORS, 0);
	if ((bad = check_pattern(buf, want, PAT_SECTORS)) >= 0) {
		show_record("found", buf + bad * SECTOR);
		kprintf("FAIL blk: sector %d does not hold the host's "
		    "pattern\n", bad);
		return;
	}
	if (b->ro) {
		kprintf("FAIL blk: disk is read-only, cannot write\n");
		return;
	}
	fill_pattern(want, GUEST_FIRST, PAT_SECTORS, 1);
	if ((st = vblk_io(b, VBLK_OUT, GUEST_FIRST, want, len)) != 0) {
		kprintf("FAIL blk: write of sectors 8-15: status %d\n", st);
		return;
	}
	if (b->flush && (st = vblk_io(b, VBLK_FLUSH, 0, NULL, 0)) != 0) {
		kprintf("FAIL blk: flush: status %d\n", st);
		return;
	}
	memset(buf, 0, len);
	if ((st = vblk_io(b, VBLK_IN, GUEST_FIRST, buf, len)) != 0) {
		kprintf("FAIL blk: read back of sectors 8-15: status %d\n",
		    st);
		return;
	}
	if ((bad = check_pattern(buf, want, PAT_SECTORS)) >= 0) {
		show_record("read back", buf + bad * SECTOR);
		kprintf("FAIL blk: sector %d read back differs\n",
		    GUEST_FIRST + bad);
		return;
	}
	if (!virtio_irq_seen(b->vd, irq0)) {
		kprintf("FAIL blk: requests completed without an "
		    "interrupt\n");
		return;
	}
	kprintf("PASS blk: %lu sectors, read sectors 0-7, wrote%s and "
	    "read back sectors 8-15, %u interrupts (%s)\n",
	    (unsigned long)b->capacity, b->flush ? ", flushed" : "",
	    b->vd->irqs - irq0, virtio_intr_name(b->vd));
}

/* Reaps all completions of b into done[]; -1 on a failed request. */
static int
reap_all(struct vblk *b, const char *name, int (*done)(int, void *),
    void *arg)
{
	int r, s, st;

	while ((r = vblk_reap(b, &s, &st)) == 1) {
		if (st != 0) {
			kprintf("FAIL %s: request failed, status %d\n", name,
			    st);
			return -1;
		}
		if (done(s, arg) == -1)
			return -1;
	}
	if (r == -1) {
		kprintf("FAIL %s: device returned a bad id\n", name);
		return -1;
	}
	return 0;
}

struct copy {
	struct vblk	*src, *dst;
	uint8_t		*buf[COPY_BUFS];
	uint64_t	 sector[COPY_BUFS];
	uint32_t	 len[COPY_BUFS];
	int		 rslot[VBLK_MAX_DEPTH];	/* slot of src -> buffer */
	int		 wslot[VBLK_MAX_DEPTH];	/* slot of dst -> buffer */
	int		 busy[COPY_BUFS];
	int		 inflight;
};

static int
copy_read_done(int s, void *arg)
{
	struct copy *c = arg;
	int i = c->rslot[s], ws;

	if ((ws = vblk_slot(c->dst)) == -1 ||
	    vblk_submit(c->dst, ws, VBLK_OUT, c->sector[i], c->buf[i],
	    c->len[i]) == -1) {
		kprintf("FAIL blkcopy: cannot queue a write\n");
		return -1;
	}
	c->wslot[ws] = i;
	return 0;
}

static int
copy_write_done(int s, void *arg)
{
	struct copy *c = arg;

	c->busy[c->wslot[s]] = 0;
	c->inflight--;
	return 0;
}

/*
 * Copies disk 0 onto disk 1 with big requests, several in flight: each
 * buffer is read into and written from, never touched by the CPU.
 */
void
mode_blkcopy(struct guest *g)
{
	struct copy *c;
	struct vblk *bs[2];
	const char *why;
	uint64_t next = 0, t0, us;
	uint32_t req;
	int i, n, s;

	if ((c = pzalloc(sizeof(*c), 64)) == NULL) {
		kprintf("FAIL blkcopy: out of memory\n");
		return;
	}
	if ((c->src = vblk_open(0, &why)) == NULL ||
	    (c->dst = vblk_open(1, &why)) == NULL) {
		kprintf("FAIL blkcopy: %s\n", why);
		return;
	}
	if (c->dst->ro || c->dst->capacity < c->src->capacity) {
		kprintf("FAIL blkcopy: second disk is %s\n", c->dst->ro ?
		    "read-only" : "smaller than the first");
		return;
	}
	req = COPY_REQ;
	if (req > vblk_max_request(c->src))
		req = vblk_max_request(c->src) & ~4095U;
	if (req > vblk_max_request(c->dst))
		req = vblk_max_request(c->dst) & ~4095U;
	n = COPY_BUFS;
	if (n > c->src->depth)
		n = c->src->depth;
	if (n > c->dst->depth)
		n = c->dst->depth;
	for (i = 0; i < n; i++)
		if ((c->buf[i] = palloc(req, 4096)) == NULL)
			break;
	if ((n = i) == 0 || req == 0) {
		kprintf("FAIL blkcopy: out of memory\n");
		return;
	}
	tsc_hz();
	bs[0] = c->src;
	bs[1] = c->dst;
	t0 = rdtsc();
	for (;;) {
		for (i = 0; i < n && next < c->src->capacity; i++) {
			if (c->busy[i])
				continue;
			s = vblk_slot(c->src);
			c->sector[i] = next;
			c->len[i] = c->src->capacity - next > req / SECTOR ?
			    req : (uint32_t)(c->src->capacity - next) * SECTOR;
			if (s == -1 || vblk_submit(c->src, s, VBLK_IN, next,
			    c->buf[i], c->len[i]) == -1) {
				kprintf("FAIL blkcopy: cannot queue a read\n");
				return;
			}
			c->rslot[s] = i;
			c->busy[i] = 1;
			c->inflight++;
			next += c->len[i] / SECTOR;
		}
		vblk_kick(c->src);
		if (c->inflight == 0)
			break;
		if (vblk_wait(bs, 2) <= 0) {
			kprintf("FAIL blkcopy: requests timed out or the "
			    "device was reset\n");
			return;
		}
		if (reap_all(c->src, "blkcopy", copy_read_done, c) == -1)
			return;
		vblk_kick(c->dst);
		if (reap_all(c->dst, "blkcopy", copy_write_done, c) == -1)
			return;
	}
	if (c->dst->flush && vblk_io(c->dst, VBLK_FLUSH, 0, NULL, 0) != 0) {
		kprintf("FAIL blkcopy: flush failed\n");
		return;
	}
	us = tsc_us(t0, rdtsc());
	kprintf("PASS blkcopy: %lu MiB in %lu ms\n",
	    (unsigned long)(c->src->capacity * SECTOR >> 20),
	    (unsigned long)(us / 1000));
}

struct bench {
	struct vblk	*b;
	uint32_t	 type, req;
	uint64_t	 region;	/* sectors */
	uint64_t	 next;		/* sequential: next sector */
	uint64_t	 rng;
	uint8_t		*buf[VBLK_MAX_DEPTH];
	uint64_t	 ios;
};

static int
bench_issue(struct bench *x, int slot_buf)
{
	uint64_t sector;
	int s;

	if (x->next + x->req / SECTOR > x->region)
		return 1;
	sector = x->next;
	x->next += x->req / SECTOR;
	if ((s = vblk_slot(x->b)) == -1 ||
	    vblk_submit(x->b, s, x->type, sector, x->buf[slot_buf],
	    x->req) == -1)
		return -1;
	return 0;
}

static int
bench_done(int s, void *arg)
{
	struct bench *x = arg;

	x->ios++;
	return 0;
}

/*
 * Keeps depth sequential requests in flight until the region is done or
 * BENCH_US pass; returns the microseconds taken, 0 on failure.
 */
static uint64_t
bench_run(struct bench *x, int depth, const char *name)
{
	uint64_t t0 = rdtsc(), limit = tsc_hz() / 1000000 * BENCH_US;
	uint64_t issued = 0;
	int i, stop = 0, r;

	x->ios = 0;
	x->next = 0;
	for (i = 0; i < depth && !stop; i++) {
		if ((r = bench_issue(x, i)) == -1)
			goto fail;
		stop = r;
		issued += !r;
	}
	vblk_kick(x->b);
	while (x->ios < issued) {
		if (!vq_pending(x->b->vq) && vblk_wait(&x->b, 1) <= 0)
			goto fail;
		i = (int)x->ios;
		if (reap_all(x->b, name, bench_done, x) == -1)
			return 0;
		if (rdtsc() - t0 > limit)
			stop = 1;
		/* Buffers are reused in turn: their content does not matter. */
		for (; i < (int)x->ios && !stop; i++) {
			if ((r = bench_issue(x, i % depth)) == -1)
				goto fail;
			stop = r;
			issued += !r;
		}
		vblk_kick(x->b);
	}
	return tsc_us(t0, rdtsc());
fail:
	kprintf("FAIL %s: requests failed, timed out or the device was "
	    "reset\n", name);
	return 0;
}

static uint64_t
bench_random(struct bench *x, int depth, uint32_t type, const char *name)
{
	uint64_t t0 = rdtsc(), limit = t0 + tsc_hz() / 1000000 * BENCH_US;
	int64_t n;

	n = vblk_random(x->b, type, x->buf, depth, BENCH_RAND_REQ,
	    x->b->capacity / (BENCH_RAND_REQ / SECTOR), limit, &x->rng);
	if (n <= 0) {
		kprintf("FAIL %s: requests failed, timed out or the device "
		    "was reset\n", name);
		return 0;
	}
	x->ios = (uint64_t)n;
	return tsc_us(t0, rdtsc());
}

void
mode_blkbench(struct guest *g)
{
	struct bench *x;
	const char *why;
	uint64_t us, bytes;
	int i, seqd, randd;

	if ((x = pzalloc(sizeof(*x), 64)) == NULL) {
		kprintf("FAIL blkbench: out of memory\n");
		return;
	}
	if ((x->b = vblk_open(0, &why)) == NULL) {
		kprintf("FAIL blkbench: %s\n", why);
		return;
	}
	if (x->b->ro) {
		kprintf("FAIL blkbench: disk is read-only\n");
		return;
	}
	x->req = BENCH_SEQ_REQ;
	if (x->req > vblk_max_request(x->b))
		x->req = vblk_max_request(x->b) & ~4095U;
	seqd = x->b->depth < BENCH_SEQ_DEPTH ? x->b->depth : BENCH_SEQ_DEPTH;
	randd = x->b->depth;
	for (i = 0; i < seqd; i++)
		if ((x->buf[i] = palloc(x->req, 4096)) == NULL)
			break;
	if (i < seqd || x->b->capacity * SECTOR < x->req) {
		kprintf("FAIL blkbench: out of memory or disk too small\n");
		return;
	}
	tsc_hz();
	bytes = x->b->capacity * SECTOR < BENCH_SEQ_MAX ?
	    x->b->capacity * SECTOR : BENCH_SEQ_MAX;
	x->region = bytes / SECTOR;
	x->type = VBLK_IN;
	if ((us = bench_run(x, seqd, "blkbench.seqread")) == 0)
		return;
	kprintf("PASS blkbench.seqread: %lu MB/s\n",
	    (unsigned long)(x->ios * x->req / us));
	x->type = VBLK_OUT;
	if ((us = bench_run(x, seqd, "blkbench.seqwrite")) == 0)
		return;
	if (x->b->flush)
		vblk_io(x->b, VBLK_FLUSH, 0, NULL, 0);
	kprintf("PASS blkbench.seqwrite: %lu MB/s\n",
	    (unsigned long)(x->ios * x->req / us));
	/* 4 KiB buffers inside the big ones: randd of them. */
	for (i = seqd; i < randd; i++)
		x->buf[i] = x->buf[i % seqd] + (uint64_t)(i / seqd) *
		    BENCH_RAND_REQ % x->req;
	x->rng = 0x9e3779b97f4a7c15ULL ^ rdtsc();
	if ((us = bench_random(x, randd, VBLK_IN, "blkbench.randread")) == 0)
		return;
	kprintf("PASS blkbench.randread: %lu IOPS\n",
	    (unsigned long)(x->ios * 1000000 / us));
	if ((us = bench_random(x, randd, VBLK_OUT,
	    "blkbench.randwrite")) == 0)
		return;
	if (x->b->flush)
		vblk_io(x->b, VBLK_FLUSH, 0, NULL, 0);
	kprintf("note: blkbench: 4 KiB random I/O at queue depth %d\n",
	    randd);
	kprintf("PASS blkbench.randwrite: %lu IOPS\n",
	    (unsigned long)(x->ios * 1000000 / us));
}
