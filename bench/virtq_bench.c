/*
 * virtq_bench.c: the cost of the split-virtqueue code in virtq.c per
 * chain, in nanoseconds: a driver loop in this thread offers chains and a
 * device loop pops them, touches nothing, pushes them back and decides
 * on an interrupt, for three shapes of chain (one writable buffer as
 * virtio-rng uses, header + data + status as virtio-blk uses, the same
 * through an indirect table) and with and without EVENT_IDX.  Guest RAM
 * is a plain heap block behind the same kind of view the vm process
 * uses.  It measures only; it must never be part of a pass/fail test.
 *
 * Build: make bench/virtq_bench.  Run: bench/virtq_bench [rounds]
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "virtq.h"

#define RAM		(4 * 1024 * 1024)
#define QSZ		256
#define DESC		0x10000
#define AVAIL		0x20000
#define USED		0x30000
#define INDIR		0x40000
#define BUF		0x100000

static uint8_t	*ram;

static void *
view(void *arg, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa >= RAM || len > RAM - gpa)
		return (NULL);
	return (ram + gpa);
}

static void
set_desc(uint64_t table, int i, uint64_t addr, uint32_t len, uint16_t flags,
    uint16_t next)
{
	struct virtq_desc *d = (struct virtq_desc *)(ram + table) + i;

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1e9 + ts.tv_nsec);
}

enum shape { RNG, BLK, BLK_INDIRECT };

/* Lay out QSZ / 4 chains of the shape; returns their heads' stride. */
static int
layout(enum shape s)
{
	int	 i, h;

	memset(ram, 0, RAM);
	for (h = 0; h < QSZ; h += 4) {
		switch (s) {
		case RNG:
			set_desc(DESC, h, BUF + h * 4096, 64,
			    VIRTQ_DESC_F_WRITE, 0);
			break;
		case BLK:
			set_desc(DESC, h, BUF + h * 4096, 16,
			    VIRTQ_DESC_F_NEXT, h + 1);
			set_desc(DESC, h + 1, BUF + h * 4096 + 512, 4096,
			    VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, h + 2);
			set_desc(DESC, h + 2, BUF + h * 4096 + 16, 1,
			    VIRTQ_DESC_F_WRITE, 0);
			break;
		case BLK_INDIRECT:
			i = INDIR + h * 16;
			set_desc(DESC, h, i, 48, VIRTQ_DESC_F_INDIRECT, 0);
			set_desc(i, 0, BUF + h * 4096, 16, VIRTQ_DESC_F_NEXT,
			    1);
			set_desc(i, 1, BUF + h * 4096 + 512, 4096,
			    VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
			set_desc(i, 2, BUF + h * 4096 + 16, 1,
			    VIRTQ_DESC_F_WRITE, 0);
			break;
		}
	}
	return (4);
}

static double
run(enum shape s, int event_idx, long rounds)
{
	static const struct virtq_mem mem = { view, NULL };
	struct virtq_avail *a = (struct virtq_avail *)(ram + AVAIL);
	struct virtq_state st;
	struct virtq	 vq;
	struct virtq_chain c;
	struct iovec	 iov[8];
	double		 t0, t;
	long		 r, done = 0;
	int		 h, stride;

	stride = layout(s);
	memset(&st, 0, sizeof(st));
	st.desc = DESC;
	st.avail = AVAIL;
	st.used = USED;
	st.size = QSZ;
	st.features = VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC |
	    (event_idx ? VIRTIO_F_EVENT_IDX : 0);
	st.kickfd = st.callfd = -1;
	if (virtq_init(&vq, &st, &mem) == -1) {
		fprintf(stderr, "virtq_init: %s\n", vq.error);
		exit(1);
	}
	c.iov = iov;
	c.max = 8;
	t0 = now();
	for (r = 0; r < rounds; r++) {
		/* the driver offers a batch of QSZ / stride chains */
		for (h = 0; h < QSZ; h += stride)
			a->ring[(a->idx + h / stride) % QSZ] = h;
		__atomic_store_n(&a->idx, a->idx + QSZ / stride,
		    __ATOMIC_RELEASE);
		/* the device drains it */
		virtq_notify_off(&vq);
		while (virtq_pop(&vq, &c) == 1) {
			virtq_push(&vq, c.head, c.wlen);
			done++;
		}
		virtq_notify_on(&vq);
		virtq_need_interrupt(&vq);
	}
	t = now() - t0;
	if (vq.broken) {
		fprintf(stderr, "broken: %s\n", vq.error);
		exit(1);
	}
	return (t / done);
}

int
main(int argc, char *argv[])
{
	static const char *names[] = { "rng (1 writable)",
	    "blk (hdr+data+status)", "blk via indirect table" };
	long	 rounds = argc > 1 ? atol(argv[1]) : 20000;
	int	 s, e;

	if ((ram = malloc(RAM)) == NULL)
		return (1);
	for (s = RNG; s <= BLK_INDIRECT; s++)
		for (e = 0; e <= 1; e++)
			printf("%-24s %-13s pop+push %6.1f ns/chain\n",
			    names[s], e ? "EVENT_IDX" : "flags",
			    run(s, e, rounds));
	free(ram);
	return (0);
}
