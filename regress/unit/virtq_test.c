/*
 * virtq_test.c: unit tests of the split-virtqueue code in virtq.c over a
 * fake guest RAM: ring placement checks, chains of every shape a driver
 * may build (direct, indirect, mixed, 16-bit index wrap), and hostile
 * rings (loops, chains longer than the queue, indices out of range,
 * buffers outside RAM or wrapping, zero lengths, readable after
 * writable, indirect inside indirect, an available index running ahead,
 * writable buffers over the rings), then notification suppression and
 * interrupt decisions with and without EVENT_IDX, and a driver thread and
 * a device thread passing 200000 chains through eventfds, which hangs or
 * loses a buffer if a barrier or a suppression check is wrong.  Checks
 * look at guest memory and at what the calls return, never at the code's
 * intent.
 */

#include <sys/eventfd.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virtq.h"
#include "regress/test.h"

#define RAM_SIZE	(1024 * 1024)
#define QSZ		8
#define DESC_GPA	0x1000
#define AVAIL_GPA	0x2000
#define USED_GPA	0x3000
#define BUF_GPA		0x10000

static uint8_t	*ram;

static void *
flat_ptr(void *arg, uint64_t gpa, uint64_t len)
{
	uint64_t	 size = (uintptr_t)arg;

	if (len == 0 || gpa >= size || len > size - gpa)
		return (NULL);
	return (ram + gpa);
}

/* Every range is "RAM" at one dummy byte: for length-only checks. */
static uint8_t	 dummy;

static void *
any_ptr(void *arg, uint64_t gpa, uint64_t len)
{
	if (gpa + len < gpa)
		return (NULL);
	if (gpa < RAM_SIZE && len <= RAM_SIZE - gpa)
		return (ram + gpa);
	return (&dummy);
}

static const struct virtq_mem flat = { flat_ptr, (void *)RAM_SIZE };

static struct virtq_desc *
desc_at(uint64_t gpa, int i)
{
	return ((struct virtq_desc *)(ram + gpa) + i);
}

static void
set_desc(uint64_t table, int i, uint64_t addr, uint32_t len, uint16_t flags,
    uint16_t next)
{
	struct virtq_desc *d = desc_at(table, i);

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static struct virtq_avail *
avail(void)
{
	return ((struct virtq_avail *)(ram + AVAIL_GPA));
}

static struct virtq_used *
used(void)
{
	return ((struct virtq_used *)(ram + USED_GPA));
}

/* Make head the next available chain. */
static void
offer(uint16_t head)
{
	struct virtq_avail *a = avail();

	a->ring[a->idx % QSZ] = head;
	a->idx++;
}

static void
state(struct virtq_state *st, uint64_t features)
{
	memset(st, 0, sizeof(*st));
	st->desc = DESC_GPA;
	st->avail = AVAIL_GPA;
	st->used = USED_GPA;
	st->size = QSZ;
	st->features = features | VIRTIO_F_VERSION_1;
	st->kickfd = st->callfd = -1;
}

static int
fresh(struct virtq *vq, uint64_t features)
{
	struct virtq_state st;

	memset(ram, 0, RAM_SIZE);
	state(&st, features);
	return (virtq_init(vq, &st, &flat));
}

static int
has(const struct virtq *vq, const char *what)
{
	return (vq->broken && strstr(vq->error, what) != NULL);
}

static void
test_init(void)
{
	struct virtq_state st;
	struct virtq	 vq;

	state(&st, 0);
	CHECK(virtq_init(&vq, &st, &flat) == 0 && !vq.broken);
	st.size = 0;
	CHECK(virtq_init(&vq, &st, &flat) == -1 && has(&vq, "power of 2"));
	st.size = 6;
	CHECK(virtq_init(&vq, &st, &flat) == -1);
	st.size = 65535;
	CHECK(virtq_init(&vq, &st, &flat) == -1);
	st.size = 32768;	/* fine, but then its rings overlap */
	CHECK(virtq_init(&vq, &st, &flat) == -1 && has(&vq, "overlaps"));
	st.used = RAM_SIZE - 0x10000;	/* and run out of our RAM */
	CHECK(virtq_init(&vq, &st, &flat) == -1 && has(&vq, "outside"));
	state(&st, 0);
	st.desc = DESC_GPA + 8;
	CHECK(virtq_init(&vq, &st, &flat) == -1 && has(&vq, "misaligned"));
	state(&st, 0);
	st.avail = AVAIL_GPA + 1;
	CHECK(virtq_init(&vq, &st, &flat) == -1 && has(&vq, "misaligned"));
	state(&st, 0);
	st.used = USED_GPA + 2;
	CHECK(virtq_init(&vq, &st, &flat) == -1 && has(&vq, "misaligned"));
	state(&st, 0);
	st.used = RAM_SIZE - 16;
	CHECK(virtq_init(&vq, &st, &flat) == -1 && has(&vq, "outside"));
	state(&st, 0);
	st.desc = UINT64_MAX - 15;		/* wraps */
	CHECK(virtq_init(&vq, &st, &flat) == -1 && has(&vq, "outside"));
	state(&st, 0);
	st.used = DESC_GPA + 64;		/* inside the descriptors */
	CHECK(virtq_init(&vq, &st, &flat) == -1 && has(&vq, "overlaps"));
	state(&st, 0);
	st.used = AVAIL_GPA;			/* on the driver area */
	CHECK(virtq_init(&vq, &st, &flat) == -1 && has(&vq, "overlaps"));
	state(&st, 0);
	st.avail = DESC_GPA;		/* the driver's own areas may touch */
	CHECK(virtq_init(&vq, &st, &flat) == 0);
}

static void
test_simple(void)
{
	struct virtq	 vq;
	struct virtq_chain c;
	struct iovec	 iov[8];
	uint8_t		 hdr[4] = { 1, 2, 3, 4 }, out[16];

	CHECK(fresh(&vq, 0) == 0);
	c.iov = iov;
	c.max = 8;
	CHECK(virtq_pop(&vq, &c) == 0);
	memcpy(ram + BUF_GPA, hdr, 4);
	set_desc(DESC_GPA, 3, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 5);
	set_desc(DESC_GPA, 5, BUF_GPA + 0x100, 6,
	    VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	set_desc(DESC_GPA, 0, BUF_GPA + 0x200, 10, VIRTQ_DESC_F_WRITE, 7);
	offer(3);
	CHECK(virtq_pop(&vq, &c) == 1);
	CHECK(c.head == 3 && c.niov == 3 && c.nread == 1);
	CHECK(c.rlen == 4 && c.wlen == 16);
	CHECK(iov[0].iov_base == ram + BUF_GPA && iov[0].iov_len == 4);
	CHECK(iov[1].iov_base == ram + BUF_GPA + 0x100 && iov[1].iov_len == 6);
	CHECK(iov[2].iov_base == ram + BUF_GPA + 0x200);
	CHECK(virtq_chain_read(&c, 1, out, 16) == 3 && out[0] == 2 &&
	    out[2] == 4);
	memset(out, 0xab, sizeof(out));
	CHECK(virtq_chain_write(&c, 4, out, 16) == 12);
	CHECK(ram[BUF_GPA + 0x100 + 3] == 0 && ram[BUF_GPA + 0x100 + 4] ==
	    0xab && ram[BUF_GPA + 0x200 + 9] == 0xab &&
	    ram[BUF_GPA + 0x200 + 10] == 0);
	CHECK(virtq_pop(&vq, &c) == 0);
	CHECK(used()->idx == 0);
	CHECK(virtq_push(&vq, 3, 12) == 0);
	CHECK(used()->idx == 1 && used()->ring[0].id == 3 &&
	    used()->ring[0].len == 12);
	CHECK(virtq_push(&vq, QSZ, 0) == -1);	/* no such head */
	CHECK(used()->idx == 1);
	CHECK(virtq_need_interrupt(&vq) == 1);
	CHECK(virtq_need_interrupt(&vq) == 0);	/* nothing new */
	CHECK(vq.st.last_avail == 1 && vq.st.used_idx == 1);
}

static void
test_index_wrap(void)
{
	struct virtq_state st;
	struct virtq	 vq;
	struct virtq_chain c;
	struct iovec	 iov[2];
	int		 i, ok = 1;

	memset(ram, 0, RAM_SIZE);
	state(&st, 0);
	st.last_avail = st.used_idx = 65533;
	avail()->idx = 65533;
	used()->idx = 65533;
	CHECK(virtq_init(&vq, &st, &flat) == 0);
	c.iov = iov;
	c.max = 2;
	for (i = 0; i < QSZ; i++)
		set_desc(DESC_GPA, i, BUF_GPA + 16 * i, 16,
		    VIRTQ_DESC_F_WRITE, 0);
	for (i = 0; i < 6; i++)
		offer(i);
	CHECK(avail()->idx == 3);
	for (i = 0; i < 6; i++) {
		if (virtq_pop(&vq, &c) != 1 || c.head != i)
			ok = 0;
		else
			virtq_push(&vq, c.head, 16);
	}
	CHECK(ok);
	CHECK(virtq_pop(&vq, &c) == 0);
	CHECK(used()->idx == 3 && vq.st.last_avail == 3);
	CHECK(used()->ring[65535 % QSZ].id == 2);
}

static void
test_hostile(void)
{
	struct virtq	 vq;
	struct virtq_chain c;
	struct iovec	 iov[4];

	c.iov = iov;
	c.max = 4;

	/* a loop */
	fresh(&vq, 0);
	set_desc(DESC_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC_GPA, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	c.max = 4;
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && (has(&vq, "buffers") ||
	    has(&vq, "loop")));
	/* a loop of a size the caller allows: found by the step bound */
	struct iovec big[QSZ + 4];
	fresh(&vq, 0);
	set_desc(DESC_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC_GPA, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(0);
	c.iov = big;
	c.max = QSZ + 4;
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "loop"));
	/* stays broken: no more pops, no pushes */
	CHECK(virtq_pop(&vq, &c) == -1);
	CHECK(virtq_push(&vq, 0, 0) == -1 && used()->idx == 0);
	CHECK(virtq_need_interrupt(&vq) == 0);
	c.iov = iov;
	c.max = 4;

	/* next out of range */
	fresh(&vq, 0);
	set_desc(DESC_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, QSZ);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "out of range"));
	/* head out of range */
	fresh(&vq, 0);
	offer(QSZ + 1);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "names descriptor"));
	/* available index ahead by more than the queue */
	fresh(&vq, 0);
	avail()->idx = QSZ + 1;
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "ran"));
	fresh(&vq, 0);
	avail()->idx = 0xffff;		/* "behind": as far ahead */
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "ran"));
	/* exactly the queue size ahead is fine */
	fresh(&vq, 0);
	set_desc(DESC_GPA, 0, BUF_GPA, 8, 0, 0);
	avail()->idx = QSZ;
	CHECK(virtq_pop(&vq, &c) == 1);
	/* buffers outside RAM, at its end, wrapping */
	fresh(&vq, 0);
	set_desc(DESC_GPA, 0, RAM_SIZE - 4, 8, 0, 0);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "outside"));
	fresh(&vq, 0);
	set_desc(DESC_GPA, 0, RAM_SIZE - 8, 8, 0, 0);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == 1 && iov[0].iov_base == ram + RAM_SIZE - 8);
	fresh(&vq, 0);
	set_desc(DESC_GPA, 0, UINT64_MAX - 3, 8, 0, 0);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "outside"));
	/* zero length */
	fresh(&vq, 0);
	set_desc(DESC_GPA, 0, BUF_GPA, 0, 0, 0);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "zero-length"));
	/* readable after writable */
	fresh(&vq, 0);
	set_desc(DESC_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE |
	    VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC_GPA, 1, BUF_GPA + 8, 8, 0, 0);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "after"));
	/* more buffers than the caller takes */
	fresh(&vq, 0);
	set_desc(DESC_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC_GPA, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	set_desc(DESC_GPA, 2, BUF_GPA, 8, 0, 0);
	offer(0);
	c.max = 2;
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "more than 2"));
	c.max = 4;
	/* writable buffers over the rings; readable ones may be anywhere */
	fresh(&vq, 0);
	set_desc(DESC_GPA, 0, USED_GPA + 8, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "rings"));
	fresh(&vq, 0);
	set_desc(DESC_GPA, 0, DESC_GPA - 4, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "rings"));
	fresh(&vq, 0);
	set_desc(DESC_GPA, 0, DESC_GPA, 16, 0, 0);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == 1);
	/* overlapping data buffers are legal (readv of one buffer twice) */
	fresh(&vq, 0);
	set_desc(DESC_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE |
	    VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC_GPA, 1, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == 1 && c.wlen == 16);
}

static void
test_too_long(void)
{
	struct virtq_state st;
	struct virtq	 vq;
	struct virtq_chain c;
	struct iovec	 iov[4];
	const struct virtq_mem any = { any_ptr, NULL };

	memset(ram, 0, RAM_SIZE);
	state(&st, 0);
	CHECK(virtq_init(&vq, &st, &any) == 0);
	c.iov = iov;
	c.max = 4;
	set_desc(DESC_GPA, 0, 0x100000000ULL, 0x80000000U,
	    VIRTQ_DESC_F_NEXT, 1);
	set_desc(DESC_GPA, 1, 0x200000000ULL, 0x80000000U,
	    VIRTQ_DESC_F_NEXT, 2);
	set_desc(DESC_GPA, 2, 0x300000000ULL, 1, 0, 0);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "4 GiB"));
	/* 4 GiB - 1 in all is fine */
	CHECK(virtq_init(&vq, &st, &any) == 0);
	set_desc(DESC_GPA, 2, 0x300000000ULL, 1, VIRTQ_DESC_F_WRITE, 0);
	set_desc(DESC_GPA, 1, 0x200000000ULL, 0x7ffffffeU,
	    VIRTQ_DESC_F_NEXT, 2);
	CHECK(virtq_pop(&vq, &c) == 1 && c.rlen == 0xfffffffeU &&
	    c.wlen == 1);
}

static void
test_indirect(void)
{
	struct virtq	 vq;
	struct virtq_chain c;
	struct iovec	 iov[8];
	const uint64_t	 T = 0x8000;	/* an indirect table */

	c.iov = iov;
	c.max = 8;
	/* direct, then an indirect table of three */
	fresh(&vq, VIRTIO_F_INDIRECT_DESC);
	set_desc(DESC_GPA, 2, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 6);
	set_desc(DESC_GPA, 6, T, 48, VIRTQ_DESC_F_INDIRECT |
	    VIRTQ_DESC_F_WRITE, 0);	/* WRITE here is ignored */
	set_desc(T, 0, BUF_GPA + 0x10, 8, VIRTQ_DESC_F_NEXT, 2);
	set_desc(T, 2, BUF_GPA + 0x20, 8, VIRTQ_DESC_F_WRITE |
	    VIRTQ_DESC_F_NEXT, 1);
	set_desc(T, 1, BUF_GPA + 0x30, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(2);
	CHECK(virtq_pop(&vq, &c) == 1);
	CHECK(c.head == 2 && c.niov == 4 && c.nread == 2 && c.rlen == 12 &&
	    c.wlen == 16);
	CHECK(iov[3].iov_base == ram + BUF_GPA + 0x30);
	/* not negotiated */
	fresh(&vq, 0);
	set_desc(DESC_GPA, 0, T, 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(T, 0, BUF_GPA, 8, 0, 0);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "negotiated"));
	/* indirect inside indirect */
	fresh(&vq, VIRTIO_F_INDIRECT_DESC);
	set_desc(DESC_GPA, 0, T, 32, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(T, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(T, 1, T, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "inside"));
	/* INDIRECT with NEXT */
	fresh(&vq, VIRTIO_F_INDIRECT_DESC);
	set_desc(DESC_GPA, 0, T, 16, VIRTQ_DESC_F_INDIRECT |
	    VIRTQ_DESC_F_NEXT, 1);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "NEXT"));
	/* bad table lengths, a table outside RAM */
	fresh(&vq, VIRTIO_F_INDIRECT_DESC);
	set_desc(DESC_GPA, 0, T, 0, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "0 bytes"));
	fresh(&vq, VIRTIO_F_INDIRECT_DESC);
	set_desc(DESC_GPA, 0, T, 24, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "24 bytes"));
	fresh(&vq, VIRTIO_F_INDIRECT_DESC);
	set_desc(DESC_GPA, 0, RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "outside"));
	fresh(&vq, VIRTIO_F_INDIRECT_DESC);
	set_desc(DESC_GPA, 0, T, 16 * (VIRTQ_INDIRECT_MAX + 1),
	    VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "indirect table of"));
	/* a loop inside the table, and next past its end */
	fresh(&vq, VIRTIO_F_INDIRECT_DESC);
	set_desc(DESC_GPA, 0, T, 32, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(T, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(T, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "loop"));
	fresh(&vq, VIRTIO_F_INDIRECT_DESC);
	set_desc(DESC_GPA, 0, T, 32, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(T, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	offer(0);
	CHECK(virtq_pop(&vq, &c) == -1 && has(&vq, "out of range"));
	/* an odd, unaligned table address is still read correctly */
	fresh(&vq, VIRTIO_F_INDIRECT_DESC);
	set_desc(DESC_GPA, 0, T + 3, 16, VIRTQ_DESC_F_INDIRECT, 0);
	{
		struct virtq_desc d = { BUF_GPA, 5, VIRTQ_DESC_F_WRITE, 0 };

		memcpy(ram + T + 3, &d, sizeof(d));
	}
	offer(0);
	CHECK(virtq_pop(&vq, &c) == 1 && c.wlen == 5);
}

static void
test_suppression(void)
{
	struct virtq	 vq;
	struct virtq_chain c;
	struct iovec	 iov[2];
	uint16_t	*used_event = &avail()->ring[QSZ];
	uint16_t	*avail_event = (uint16_t *)&used()->ring[QSZ];
	int		 i;

	c.iov = iov;
	c.max = 2;
	/* without EVENT_IDX: the flags */
	fresh(&vq, 0);
	for (i = 0; i < QSZ; i++)
		set_desc(DESC_GPA, i, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	virtq_notify_off(&vq);
	CHECK(used()->flags == VIRTQ_USED_F_NO_NOTIFY);
	CHECK(virtq_notify_on(&vq) == 0 && used()->flags == 0);
	offer(0);
	virtq_notify_off(&vq);
	CHECK(virtq_notify_on(&vq) == 1);	/* arrived meanwhile */
	CHECK(virtq_pop(&vq, &c) == 1);
	virtq_push(&vq, c.head, 8);
	avail()->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	CHECK(virtq_need_interrupt(&vq) == 0);
	offer(1);
	virtq_pop(&vq, &c);
	virtq_push(&vq, c.head, 8);
	avail()->flags = 0;
	CHECK(virtq_need_interrupt(&vq) == 1);
	CHECK(*avail_event == 0);	/* untouched without EVENT_IDX */

	/* with EVENT_IDX: the event indices */
	fresh(&vq, VIRTIO_F_EVENT_IDX);
	for (i = 0; i < QSZ; i++)
		set_desc(DESC_GPA, i, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	avail()->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;	/* to be ignored */
	virtq_notify_off(&vq);
	CHECK(used()->flags == 0);
	for (i = 0; i < 3; i++)
		offer(i);
	while (virtq_pop(&vq, &c) == 1)
		virtq_push(&vq, c.head, 8);
	CHECK(virtq_notify_on(&vq) == 0 && *avail_event == 3);
	/* the driver wants an interrupt when entry 1 is used: it was */
	*used_event = 1;
	CHECK(virtq_need_interrupt(&vq) == 1);
	/* it waits for entry 5 now; push 4 and 5 one at a time */
	*used_event = 5;
	offer(3);
	offer(4);
	offer(5);
	virtq_pop(&vq, &c);
	virtq_push(&vq, c.head, 8);		/* used idx 4 */
	CHECK(virtq_need_interrupt(&vq) == 0);
	virtq_pop(&vq, &c);
	virtq_push(&vq, c.head, 8);		/* idx 5: entry 4 */
	CHECK(virtq_need_interrupt(&vq) == 0);
	virtq_pop(&vq, &c);
	virtq_push(&vq, c.head, 8);		/* idx 6: entry 5 used */
	CHECK(virtq_need_interrupt(&vq) == 1);
	CHECK(virtq_need_interrupt(&vq) == 0);
}

static void
test_callfd(void)
{
	struct virtq	 vq;
	struct virtq_state st;
	struct virtq_chain c;
	struct iovec	 iov[2];
	uint64_t	 n = 0;
	int		 fd;

	memset(ram, 0, RAM_SIZE);
	state(&st, 0);
	CHECK((fd = eventfd(0, EFD_NONBLOCK)) != -1);
	st.callfd = fd;
	CHECK(virtq_init(&vq, &st, &flat) == 0);
	c.iov = iov;
	c.max = 2;
	set_desc(DESC_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	CHECK(virtq_interrupt(&vq) == 0);
	CHECK(read(fd, &n, sizeof(n)) == -1 && errno == EAGAIN);
	offer(0);
	virtq_pop(&vq, &c);
	virtq_push(&vq, c.head, 8);
	CHECK(virtq_interrupt(&vq) == 1);
	CHECK(read(fd, &n, sizeof(n)) == sizeof(n) && n == 1);
	virtq_get_state(&vq, &st);
	CHECK(st.last_avail == 1 && st.used_idx == 1 && st.callfd == fd);
	close(fd);
}

/*
 * A driver and a device on two threads, as a guest and a device process
 * are: the driver keeps the queue full of chains that carry a sequence
 * number the device answers plus one, kicks when the device's
 * suppression says so and sleeps on the interrupt eventfd; the device
 * drains with notifications off, re-enables them, and interrupts when
 * the driver's suppression says so.  A missed wakeup on either side is a
 * 5 s timeout.
 */
#define RACE_N		200000
#define RACE_QSZ	64

struct race {
	int		 kick, call;
	int		 event_idx;
	int		 device_failed;
	int		 done;
};

static int
wait_fd(int fd)
{
	struct pollfd	 p = { fd, POLLIN, 0 };
	uint64_t	 n;

	if (poll(&p, 1, 5000) != 1)
		return (-1);
	return (read(fd, &n, sizeof(n)) == sizeof(n) ? 0 : -1);
}

static void *
race_device(void *arg)
{
	struct race	*r = arg;
	struct virtq	 vq;
	struct virtq_state st;
	struct virtq_chain c;
	struct iovec	 iov[2];
	uint32_t	 seq;
	int		 more;

	memset(&st, 0, sizeof(st));
	st.desc = DESC_GPA;
	st.avail = AVAIL_GPA;
	st.used = USED_GPA;
	st.size = RACE_QSZ;
	st.features = r->event_idx ? VIRTIO_F_EVENT_IDX : 0;
	st.kickfd = r->kick;
	st.callfd = r->call;
	if (virtq_init(&vq, &st, &flat) == -1) {
		r->device_failed = 1;
		return (NULL);
	}
	c.iov = iov;
	c.max = 2;
	while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
		if (wait_fd(r->kick) == -1) {
			if (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
				r->device_failed = 2;
			break;
		}
		do {
			virtq_notify_off(&vq);
			while (virtq_pop(&vq, &c) == 1) {
				/* echo the sequence number, plus one */
				if (virtq_chain_read(&c, 0, &seq,
				    sizeof(seq)) != sizeof(seq))
					r->device_failed = 5;
				seq++;
				virtq_chain_write(&c, 0, &seq, sizeof(seq));
				virtq_push(&vq, c.head, sizeof(seq));
				if (vq.st.used_idx % 7 == 0 &&
				    virtq_interrupt(&vq) == -1)
					r->device_failed = 3;
			}
			if (vq.broken)
				r->device_failed = 4;
			more = virtq_notify_on(&vq);
		} while (more);
		if (virtq_interrupt(&vq) == -1)
			r->device_failed = 3;
	}
	return (NULL);
}

static int
need_event(uint16_t ev, uint16_t new, uint16_t old)
{
	return ((uint16_t)(new - ev - 1) < (uint16_t)(new - old));
}

static int
race_run(int event_idx)
{
	struct race	 r;
	struct virtq_avail *a = (struct virtq_avail *)(ram + AVAIL_GPA);
	struct virtq_used *u = (struct virtq_used *)(ram + USED_GPA);
	uint16_t	*used_event = &a->ring[RACE_QSZ];
	uint16_t	*avail_event = (uint16_t *)&u->ring[RACE_QSZ];
	uint16_t	 aidx = 0, last_used = 0, old, uidx, id;
	uint32_t	 sent = 0, got = 0, v, expect[RACE_QSZ];
	uint64_t	 one = 1;
	pthread_t	 t;
	int		 i, free_n, kick, bad = 0;
	uint16_t	 free_list[RACE_QSZ];

	memset(ram, 0, RAM_SIZE);
	memset(&r, 0, sizeof(r));
	r.event_idx = event_idx;
	r.kick = eventfd(0, EFD_NONBLOCK);
	r.call = eventfd(0, EFD_NONBLOCK);
	/* chains of two: head 2k readable (the number), 2k+1 writable */
	for (i = 0; i < RACE_QSZ / 2; i++)
		free_list[i] = 2 * i;
	free_n = RACE_QSZ / 2;
	if (pthread_create(&t, NULL, race_device, &r) != 0)
		return (-1);
	while (got < RACE_N && !bad) {
		/* offer what is free */
		old = aidx;
		while (free_n > 0 && sent < RACE_N) {
			id = free_list[--free_n];
			set_desc(DESC_GPA, id, BUF_GPA + 8 * id, 4,
			    VIRTQ_DESC_F_NEXT, id + 1);
			set_desc(DESC_GPA, id + 1, BUF_GPA + 8 * id + 8, 4,
			    VIRTQ_DESC_F_WRITE, 0);
			memcpy(ram + BUF_GPA + 8 * id, &sent, sizeof(sent));
			expect[id] = sent + 1;
			a->ring[aidx % RACE_QSZ] = id;
			aidx++;
			sent++;
		}
		if (aidx != old) {
			__atomic_store_n(&a->idx, aidx, __ATOMIC_RELEASE);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (event_idx)
				kick = need_event(__atomic_load_n(avail_event,
				    __ATOMIC_RELAXED), aidx, old);
			else
				kick = !(__atomic_load_n(&u->flags,
				    __ATOMIC_RELAXED) & VIRTQ_USED_F_NO_NOTIFY);
			if (kick)
				write(r.kick, &one, sizeof(one));
		}
		/* take what was used; then ask for an interrupt and recheck */
		for (;;) {
			uidx = __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);
			while (last_used != uidx) {
				id = u->ring[last_used % RACE_QSZ].id;
				memcpy(&v, ram + BUF_GPA + 8 * id + 8,
				    sizeof(v));
				if (id >= RACE_QSZ || v != expect[id] ||
				    u->ring[last_used % RACE_QSZ].len != 4) {
					printf("race: used %u id %u v %u "
					    "expect %u\n", last_used, id, v,
					    id < RACE_QSZ ? expect[id] : 0);
					bad = 1;
				}
				free_list[free_n++] = id;
				last_used++;
				got++;
			}
			if (free_n > 0 && sent < RACE_N)
				break;		/* go offer them */
			if (got >= RACE_N || bad)
				break;
			if (event_idx)
				__atomic_store_n(used_event, last_used,
				    __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			if (__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) !=
			    last_used)
				continue;
			if (wait_fd(r.call) == -1) {
				bad = 2;
				break;
			}
		}
	}
	__atomic_store_n(&r.done, 1, __ATOMIC_RELEASE);
	write(r.kick, &one, sizeof(one));
	pthread_join(t, NULL);
	close(r.kick);
	close(r.call);
	if (bad || r.device_failed || got != RACE_N) {
		printf("race: event_idx %d bad %d device %d got %u\n",
		    event_idx, bad, r.device_failed, got);
		return (-1);
	}
	return (0);
}

static void
test_race_flags(void)
{
	CHECK(race_run(0) == 0);
}

static void
test_race_event_idx(void)
{
	CHECK(race_run(1) == 0);
}

int
main(void)
{
	if ((ram = calloc(1, RAM_SIZE)) == NULL)
		return (1);
	RUN(test_init);
	RUN(test_simple);
	RUN(test_index_wrap);
	RUN(test_hostile);
	RUN(test_too_long);
	RUN(test_indirect);
	RUN(test_suppression);
	RUN(test_callfd);
	RUN(test_race_flags);
	RUN(test_race_event_idx);
	free(ram);
	TEST_EXIT();
}
