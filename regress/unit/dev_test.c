/*
 * dev_test.c: unit tests of the device seam in dev.c with a fake device:
 * range claims and refusals, counted claims and unclaims, dispatch to the
 * owning device, all-ones for unclaimed reads, size checks, failed
 * attaches, life-cycle hooks, the host callbacks, the log budget, and
 * claims moving while other threads do I/O.  It must never depend on a
 * real device.
 */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"
#include "regress/test.h"

struct fake {
	uint64_t	 last_addr;
	int		 last_size;
	int		 last_write;
	uint8_t		 last_byte;
	int		 nio;
	int		 resets, pauses, resumes;
	int		*detached;
};

struct host_rec {
	int		 irq_calls;
	uint32_t	 irq;
	int		 level;
	int		 requests;
	enum dev_request req;
};

static void
rec_irq(void *arg, uint32_t irq, int level)
{
	struct host_rec *h = arg;

	h->irq_calls++;
	h->irq = irq;
	h->level = level;
}

static void
rec_request(void *arg, enum dev_request req)
{
	struct host_rec *h = arg;

	h->requests++;
	h->req = req;
}

/* iobase: start to claim (IO), irq: its length; irq 0 claims nothing */
static int
fake_attach(struct device *dev, const struct dev_attach_args *a)
{
	struct fake	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return (-1);
	if (a->irq != 0 && dev_claim(dev, DEV_SPACE_IO, a->iobase, a->irq)) {
		free(f);
		return (-1);
	}
	dev->softc = f;
	return (0);
}

/* claims, then fails as a device whose later setup failed */
static int
failing_attach(struct device *dev, const struct dev_attach_args *a)
{
	dev_claim(dev, DEV_SPACE_IO, a->iobase, 4);
	return (-1);
}

static void
fake_io(struct device *dev, enum dev_space space, uint64_t addr, int size,
    uint8_t *data, int write)
{
	struct fake	*f = dev->softc;

	f->last_addr = addr;
	f->last_size = size;
	f->last_write = write;
	f->nio++;
	if (write)
		f->last_byte = data[0];
	else
		memset(data, 0x5a, size);
}

static void
fake_reset(struct device *dev)
{
	((struct fake *)dev->softc)->resets++;
}

static void
fake_pause(struct device *dev)
{
	((struct fake *)dev->softc)->pauses++;
}

static void
fake_resume(struct device *dev)
{
	((struct fake *)dev->softc)->resumes++;
}

static void
fake_detach(struct device *dev)
{
	struct fake	*f = dev->softc;

	if (f->detached != NULL)
		(*f->detached)++;
	free(f);
}

static const struct devsw fake_devsw = {
	.name = "fake",
	.attach = fake_attach,
	.io = fake_io,
	.reset = fake_reset,
	.pause = fake_pause,
	.resume = fake_resume,
	.detach = fake_detach
};

/* no hooks but attach and io: the *_all walkers must skip the NULLs */
static const struct devsw bare_devsw = {
	.name = "bare",
	.attach = fake_attach,
	.io = fake_io
};

static const struct devsw failing_devsw = {
	.name = "failing",
	.attach = failing_attach,
	.io = fake_io
};

static struct host_rec	 rec;
static struct dev_host	 host = {
	.arg = &rec,
	.irq_set = rec_irq,
	.request = rec_request
};

static struct device *
attach_at(struct devices *set, const struct devsw *sw, uint16_t base,
    uint32_t len)
{
	struct dev_attach_args a = { .fd = -1, .fd2 = -1 };

	a.iobase = base;
	a.irq = len;
	return (dev_attach(set, sw, &a));
}

static void
test_claims(void)
{
	struct devices	 set;
	struct device	*d;
	size_t		 i;

	dev_init(&set, &host);
	d = attach_at(&set, &fake_devsw, 0, 0);
	CHECK(d != NULL);
	CHECK(dev_claim(d, DEV_SPACE_IO, 0x30, 0x10) == 0);
	CHECK(dev_claim(d, DEV_SPACE_IO, 0x10, 0x10) == 0);
	CHECK(dev_claim(d, DEV_SPACE_IO, 0x18, 0x10) == -1);	/* overlap */
	CHECK(dev_claim(d, DEV_SPACE_IO, 0x08, 0x09) == -1);	/* one byte */
	CHECK(dev_claim(d, DEV_SPACE_IO, 0x3f, 1) == -1);
	CHECK(dev_claim(d, DEV_SPACE_IO, 0x00, 0x100) == -1);	/* covers */
	CHECK(dev_claim(d, DEV_SPACE_IO, 0x20, 0x10) == 0);	/* adjacent */
	CHECK(dev_claim(d, DEV_SPACE_IO, 0x50, 0) == -1);	/* empty */
	CHECK(dev_claim(d, DEV_SPACE_IO, 0xfff0, 0x20) == -1);	/* > 64K */
	CHECK(dev_claim(d, DEV_SPACE_MMIO, UINT64_MAX - 1, 4) == -1);
	/* the same numbers in the other space are another address */
	CHECK(dev_claim(d, DEV_SPACE_MMIO, 0x10, 0x10) == 0);
	CHECK(dev_claim(d, DEV_SPACE_MMIO, 0x0, 0x8) == 0);
	CHECK(set.nrange == 5);
	for (i = 1; i < set.nrange; i++) {
		if (set.range[i].space == set.range[i - 1].space)
			CHECK(set.range[i].start > set.range[i - 1].start);
		else
			CHECK(set.range[i].space > set.range[i - 1].space);
	}
	dev_detach_all(&set);
	CHECK(set.nrange == 0 && set.ndev == 0);
}

static void
test_claim_limit(void)
{
	struct devices	 set;
	struct device	*d;
	int		 i, ok = 0;

	dev_init(&set, &host);
	d = attach_at(&set, &fake_devsw, 0, 0);
	/* claim in reverse order to exercise insertion at the front */
	for (i = DEV_MAX_RANGES + 4; i > 0; i--)
		if (dev_claim(d, DEV_SPACE_IO, i * 4, 2) == 0)
			ok++;
	CHECK(ok == DEV_MAX_RANGES);
	CHECK(set.nrange == DEV_MAX_RANGES);
	for (i = 1; i < DEV_MAX_RANGES; i++)
		CHECK(set.range[i].start > set.range[i - 1].start);
	dev_detach_all(&set);
}

static void
test_dispatch(void)
{
	struct devices	 set;
	struct device	*a, *b;
	struct fake	*fa, *fb;
	uint8_t		 buf[8];

	dev_init(&set, &host);
	a = attach_at(&set, &fake_devsw, 0x100, 8);
	b = attach_at(&set, &fake_devsw, 0x40, 4);
	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		return;
	fa = a->softc;
	fb = b->softc;
	buf[0] = 0x77;
	CHECK(dev_io(&set, DEV_SPACE_IO, 0x105, 1, buf, 1) == 0);
	CHECK(fa->nio == 1 && fa->last_addr == 0x105 && fa->last_write &&
	    fa->last_byte == 0x77 && fb->nio == 0);
	memset(buf, 0, sizeof(buf));
	CHECK(dev_io(&set, DEV_SPACE_IO, 0x42, 2, buf, 0) == 0);
	CHECK(fb->nio == 1 && fb->last_addr == 0x42 && fb->last_size == 2);
	CHECK(buf[0] == 0x5a && buf[1] == 0x5a && buf[2] == 0);
	CHECK(dev_io(&set, DEV_SPACE_IO, 0x104, 4, buf, 0) == 0);
	CHECK(fa->nio == 2 && fa->last_size == 4);
	/* the same address in MMIO space is nobody's */
	CHECK(dev_io(&set, DEV_SPACE_MMIO, 0x105, 1, buf, 0) == -1);
	CHECK(fa->nio == 2);
	dev_detach_all(&set);
}

static void
test_unclaimed(void)
{
	struct devices	 set;
	struct device	*a;
	struct fake	*fa;
	uint8_t		 buf[8];
	int		 i;

	dev_init(&set, &host);
	a = attach_at(&set, &fake_devsw, 0x100, 8);
	CHECK(a != NULL);
	if (a == NULL)
		return;
	fa = a->softc;
	memset(buf, 0, sizeof(buf));
	CHECK(dev_io(&set, DEV_SPACE_IO, 0x200, 4, buf, 0) == -1);
	CHECK(buf[0] == 0xff && buf[3] == 0xff && buf[4] == 0);
	memset(buf, 0, sizeof(buf));
	CHECK(dev_io(&set, DEV_SPACE_MMIO, 0xfee00000, 8, buf, 0) == -1);
	for (i = 0; i < 8; i++)
		CHECK(buf[i] == 0xff);
	CHECK(dev_io(&set, DEV_SPACE_IO, 0xff, 1, buf, 1) == -1);
	CHECK(dev_io(&set, DEV_SPACE_IO, 0x108, 1, buf, 1) == -1);
	/* an access straddling the end of a range reaches nobody */
	memset(buf, 0, sizeof(buf));
	CHECK(dev_io(&set, DEV_SPACE_IO, 0x106, 4, buf, 0) == -1);
	CHECK(buf[0] == 0xff && buf[3] == 0xff);
	CHECK(dev_io(&set, DEV_SPACE_IO, 0xfe, 4, buf, 1) == -1);
	CHECK(fa->nio == 0);
	/* an empty map */
	dev_detach_all(&set);
	CHECK(dev_io(&set, DEV_SPACE_IO, 0x100, 1, buf, 0) == -1);
	CHECK(buf[0] == 0xff);
}

static void
test_bad_sizes(void)
{
	struct devices	 set;
	struct device	*a;
	struct fake	*fa;
	uint8_t		 buf[16];
	static const int bad[] = { 0, 3, 5, 7, 16, -1 };
	size_t		 i;

	dev_init(&set, &host);
	a = attach_at(&set, &fake_devsw, 0x100, 16);
	CHECK(a != NULL);
	if (a == NULL)
		return;
	CHECK(dev_claim(a, DEV_SPACE_MMIO, 0x1000, 16) == 0);
	fa = a->softc;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(buf, 0, sizeof(buf));
		CHECK(dev_io(&set, DEV_SPACE_IO, 0x100, bad[i], buf, 0) == -1);
		if (bad[i] == 3)
			CHECK(buf[0] == 0xff && buf[2] == 0xff && buf[3] == 0);
		CHECK(buf[8] == 0);		/* never more than 8 */
		CHECK(dev_io(&set, DEV_SPACE_IO, 0x100, bad[i], buf, 1) == -1);
	}
	CHECK(dev_io(&set, DEV_SPACE_IO, 0x100, 8, buf, 0) == -1);
	CHECK(fa->nio == 0);
	CHECK(dev_io(&set, DEV_SPACE_MMIO, 0x1008, 8, buf, 0) == 0);
	CHECK(fa->nio == 1 && fa->last_size == 8);
	dev_detach_all(&set);
}

static void
test_failed_attach(void)
{
	struct devices	 set;
	struct dev_attach_args a = { .fd = -1, .fd2 = -1, .iobase = 0x80 };
	uint8_t		 buf[1];

	dev_init(&set, &host);
	CHECK(dev_attach(&set, &failing_devsw, &a) == NULL);
	CHECK(set.ndev == 0 && set.nrange == 0);
	CHECK(dev_io(&set, DEV_SPACE_IO, 0x80, 1, buf, 0) == -1);
	/* a second device may now claim what the failed one had */
	CHECK(attach_at(&set, &fake_devsw, 0x80, 4) != NULL);
	/* and a device overlapping it fails to attach */
	CHECK(attach_at(&set, &fake_devsw, 0x82, 4) == NULL);
	CHECK(set.ndev == 1 && set.nrange == 1);
	dev_detach_all(&set);
}

static void
test_lifecycle(void)
{
	struct devices	 set;
	struct device	*a, *b;
	struct fake	*fa;
	int		 detached = 0, i;

	dev_init(&set, &host);
	a = attach_at(&set, &fake_devsw, 0x10, 1);
	b = attach_at(&set, &bare_devsw, 0x20, 1);
	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		return;
	fa = a->softc;
	fa->detached = &detached;
	dev_reset_all(&set);
	dev_pause_all(&set);
	dev_pause_all(&set);
	dev_resume_all(&set);
	CHECK(fa->resets == 1 && fa->pauses == 2 && fa->resumes == 1);
	/* the bare device has no detach hook; its softc is ours to free */
	free(b->softc);
	b->softc = NULL;
	dev_detach_all(&set);
	CHECK(detached == 1 && set.ndev == 0);
	for (i = 0; i < DEV_MAX; i++)
		CHECK(attach_at(&set, &fake_devsw, 0, 0) != NULL);
	CHECK(attach_at(&set, &fake_devsw, 0, 0) == NULL);
	dev_detach_all(&set);
}

static void
test_host_callbacks(void)
{
	struct devices	 set;
	struct dev_host	 nohost = { 0 };
	struct device	*a;

	dev_init(&set, &host);
	a = attach_at(&set, &fake_devsw, 0x10, 1);
	CHECK(a != NULL);
	if (a == NULL)
		return;
	memset(&rec, 0, sizeof(rec));
	dev_irq(a, 9, 1);
	CHECK(rec.irq_calls == 1 && rec.irq == 9 && rec.level == 1);
	dev_irq(a, 9, 0);
	CHECK(rec.irq_calls == 2 && rec.level == 0);
	dev_request(a, DEV_REQ_POWEROFF);
	CHECK(rec.requests == 1 && rec.req == DEV_REQ_POWEROFF);
	dev_request(a, DEV_REQ_RESET);
	CHECK(rec.requests == 2 && rec.req == DEV_REQ_RESET);
	dev_detach_all(&set);
	/* a host without callbacks: nothing happens, nothing crashes */
	dev_init(&set, &nohost);
	a = attach_at(&set, &fake_devsw, 0x10, 1);
	CHECK(a != NULL);
	if (a == NULL)
		return;
	dev_irq(a, 4, 1);
	dev_request(a, DEV_REQ_RESET);
	CHECK(rec.irq_calls == 2 && rec.requests == 2);
	dev_detach_all(&set);
}

static void
test_claim_refs(void)
{
	struct devices	 set;
	struct device	*a, *b;
	struct fake	*fa;
	uint8_t		 buf[4];

	dev_init(&set, &host);
	a = attach_at(&set, &fake_devsw, 0, 0);
	b = attach_at(&set, &fake_devsw, 0, 0);
	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		return;
	fa = a->softc;
	CHECK(dev_claim(a, DEV_SPACE_IO, 0x1000, 0x20) == 0);
	CHECK(dev_claim(a, DEV_SPACE_IO, 0x1000, 0x20) == 0);	/* ref 2 */
	CHECK(set.nrange == 1 && set.range[0].refs == 2);
	/* another device, or another length, is an overlap */
	errno = 0;
	CHECK(dev_claim(b, DEV_SPACE_IO, 0x1000, 0x20) == -1 &&
	    errno == EEXIST);
	CHECK(dev_claim(a, DEV_SPACE_IO, 0x1000, 0x10) == -1);
	CHECK(dev_claim(a, DEV_SPACE_IO, 0x1010, 0x20) == -1);
	/* unclaims must match exactly */
	CHECK(dev_unclaim(b, DEV_SPACE_IO, 0x1000, 0x20) == -1);
	CHECK(dev_unclaim(a, DEV_SPACE_IO, 0x1000, 0x10) == -1);
	CHECK(dev_unclaim(a, DEV_SPACE_MMIO, 0x1000, 0x20) == -1);
	CHECK(dev_unclaim(a, DEV_SPACE_IO, 0x1000, 0x20) == 0);
	CHECK(set.nrange == 1);
	CHECK(dev_io(&set, DEV_SPACE_IO, 0x1004, 4, buf, 0) == 0 &&
	    fa->nio == 1);
	CHECK(dev_unclaim(a, DEV_SPACE_IO, 0x1000, 0x20) == 0);
	CHECK(set.nrange == 0);
	CHECK(dev_io(&set, DEV_SPACE_IO, 0x1004, 4, buf, 0) == -1 &&
	    fa->nio == 1 && buf[0] == 0xff);
	CHECK(dev_unclaim(a, DEV_SPACE_IO, 0x1000, 0x20) == -1);
	/* now the other device may have it */
	CHECK(dev_claim(b, DEV_SPACE_IO, 0x1000, 0x20) == 0);
	/* unclaiming from the middle of the map keeps it sorted */
	CHECK(dev_claim(a, DEV_SPACE_IO, 0x100, 0x10) == 0);
	CHECK(dev_claim(a, DEV_SPACE_IO, 0x2000, 0x10) == 0);
	CHECK(dev_unclaim(b, DEV_SPACE_IO, 0x1000, 0x20) == 0);
	CHECK(set.nrange == 2 && set.range[0].start == 0x100 &&
	    set.range[1].start == 0x2000);
	errno = 0;
	CHECK(dev_claim(a, DEV_SPACE_IO, 0, 0) == -1 && errno == EINVAL);
	dev_detach_all(&set);
}

static void
test_find(void)
{
	struct devices	 set;
	struct device	*a, *b;

	dev_init(&set, &host);
	CHECK(dev_find(&set, &fake_devsw) == NULL);
	a = attach_at(&set, &bare_devsw, 0, 0);
	b = attach_at(&set, &fake_devsw, 0, 0);
	CHECK(dev_find(&set, &fake_devsw) == b);
	CHECK(dev_find(&set, &bare_devsw) == a);
	CHECK(dev_find(&set, &failing_devsw) == NULL);
	free(a->softc);
	a->softc = NULL;
	dev_detach_all(&set);
}

static void
test_ratelim(void)
{
	struct dev_ratelim rl;
	unsigned int	 dropped = 99;
	int		 i, out = 0;

	memset(&rl, 0, sizeof(rl));
	for (i = 0; i < 100; i++)
		out += dev_ratelim(&rl, &dropped);
	CHECK(out == DEV_LOG_BURST);
	CHECK(dropped == 0 && rl.dropped == 100 - DEV_LOG_BURST);
	/* the next interval lets lines through and reports the count */
	rl.window -= DEV_LOG_INTERVAL;
	CHECK(dev_ratelim(&rl, &dropped) == 1);
	CHECK(dropped == 100 - DEV_LOG_BURST && rl.dropped == 0);
}

struct mover {
	struct devices	*set;
	struct device	*dev;
	int		 stop;
};

/* Moves a claim back and forth, as a guest moving a BAR does. */
static void *
mover_run(void *arg)
{
	struct mover	*m = arg;
	int		 i;

	for (i = 0; i < 20000; i++) {
		dev_claim(m->dev, DEV_SPACE_MMIO, 0x10000, 0x1000);
		dev_unclaim(m->dev, DEV_SPACE_MMIO, 0x10000, 0x1000);
		dev_claim(m->dev, DEV_SPACE_MMIO, 0x20000, 0x1000);
		dev_unclaim(m->dev, DEV_SPACE_MMIO, 0x20000, 0x1000);
	}
	__atomic_store_n(&m->stop, 1, __ATOMIC_RELEASE);
	return (NULL);
}

static void
test_concurrent_claims(void)
{
	struct devices	 set;
	struct device	*a, *b;
	struct fake	*fb;
	struct mover	 m;
	pthread_t	 t;
	uint8_t		 buf[4];
	int		 ok = 1, n = 0;

	dev_init(&set, &host);
	a = attach_at(&set, &fake_devsw, 0, 0);
	b = attach_at(&set, &fake_devsw, 0x80, 4);
	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		return;
	fb = b->softc;
	m.set = &set;
	m.dev = a;
	m.stop = 0;
	CHECK(pthread_create(&t, NULL, mover_run, &m) == 0);
	while (!__atomic_load_n(&m.stop, __ATOMIC_ACQUIRE)) {
		/* the moving range and a fixed one, from this thread */
		dev_io(&set, DEV_SPACE_MMIO, 0x10010, 4, buf, 0);
		dev_io(&set, DEV_SPACE_MMIO, 0x20010, 4, buf, 0);
		if (dev_io(&set, DEV_SPACE_IO, 0x81, 1, buf, 0) != 0)
			ok = 0;
		n++;
	}
	pthread_join(t, NULL);
	CHECK(ok);
	CHECK(fb->nio == n);
	CHECK(set.nrange == 1);
	dev_detach_all(&set);
}

int
main(void)
{
	RUN(test_claims);
	RUN(test_claim_limit);
	RUN(test_dispatch);
	RUN(test_unclaimed);
	RUN(test_bad_sizes);
	RUN(test_failed_attach);
	RUN(test_lifecycle);
	RUN(test_host_callbacks);
	RUN(test_claim_refs);
	RUN(test_find);
	RUN(test_ratelim);
	RUN(test_concurrent_claims);
	TEST_EXIT();
}
