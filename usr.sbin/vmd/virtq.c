/*
 * virtq.c: split virtqueues from the device side, over a view of guest
 * RAM.  The guest runs on other CPUs while we read its rings, so each
 * value it controls is read once, into our own memory, and checked there;
 * the ordering the spec asks of a device is kept with acquire loads of
 * the available index, release stores of the used index, and full fences
 * between publishing our side and reading the driver's suppression
 * fields.  No globals and no dependency on the rest of vmd: a device
 * process links this file alone.  A malformed ring breaks the queue, with
 * its reason in vq->error; it must never crash or reach outside the view.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "virtq.h"

_Static_assert(sizeof(struct virtq_desc) == 16, "descriptor layout");
_Static_assert(sizeof(struct virtq_used_elem) == 8, "used element layout");

/* Keep the compiler from fetching again what it already copied. */
#define COMPILER_BARRIER()	__asm__ volatile("" ::: "memory")

static int	virtq_fail(struct virtq *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static int
virtq_fail(struct virtq *vq, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(vq->error, sizeof(vq->error), fmt, ap);
	va_end(ap);
	vq->broken = 1;
	return (-1);
}

static int
overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return (a < b + blen && b < a + alen);
}

/*
 * Check the rings the driver placed and map them.  Sizes include the
 * event fields whether or not EVENT_IDX was negotiated, as the spec's
 * table does.  Returns 0, or -1 with vq->error set.
 */
int
virtq_init(struct virtq *vq, const struct virtq_state *st,
    const struct virtq_mem *mem)
{
	uint64_t	 n;

	memset(vq, 0, sizeof(*vq));
	vq->st = *st;
	vq->mem = *mem;
	n = st->size;
	if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1)) != 0)
		return (virtq_fail(vq, "queue size %llu is not a power of 2 "
		    "up to %u", (unsigned long long)n, VIRTQ_MAX_SIZE));
	if ((st->desc & 15) != 0 || (st->avail & 1) != 0 ||
	    (st->used & 3) != 0)
		return (virtq_fail(vq, "misaligned rings: descriptors 0x%llx, "
		    "driver area 0x%llx, device area 0x%llx",
		    (unsigned long long)st->desc,
		    (unsigned long long)st->avail,
		    (unsigned long long)st->used));
	/* gpa + size may wrap: the view refuses those, overlaps() need not */
	vq->desc = mem->ptr(mem->arg, st->desc, VIRTQ_DESC_BYTES(n));
	vq->avail = mem->ptr(mem->arg, st->avail, VIRTQ_AVAIL_BYTES(n));
	vq->used = mem->ptr(mem->arg, st->used, VIRTQ_USED_BYTES(n));
	if (vq->desc == NULL || vq->avail == NULL || vq->used == NULL)
		return (virtq_fail(vq, "rings outside guest RAM: descriptors "
		    "0x%llx, driver area 0x%llx, device area 0x%llx, size %llu",
		    (unsigned long long)st->desc,
		    (unsigned long long)st->avail,
		    (unsigned long long)st->used, (unsigned long long)n));
	/* what we write must not land on what we read */
	if (overlaps(st->used, VIRTQ_USED_BYTES(n), st->desc,
	    VIRTQ_DESC_BYTES(n)) ||
	    overlaps(st->used, VIRTQ_USED_BYTES(n), st->avail,
	    VIRTQ_AVAIL_BYTES(n)))
		return (virtq_fail(vq, "device area 0x%llx overlaps the "
		    "descriptors or the driver area",
		    (unsigned long long)st->used));
	vq->mask = n - 1;
	vq->used_event = &vq->avail->ring[n];
	vq->avail_event = (uint16_t *)&vq->used->ring[n];
	vq->event_idx = (st->features & VIRTIO_F_EVENT_IDX) != 0;
	vq->indirect = (st->features & VIRTIO_F_INDIRECT_DESC) != 0;
	vq->signalled = st->used_idx;
	return (0);
}

static void
desc_read(const volatile struct virtq_desc *src, struct virtq_desc *d)
{
	memcpy(d, (const void *)src, sizeof(*d));
	COMPILER_BARRIER();
}

/* Does a buffer the device will write cover part of this queue's rings? */
static int
over_rings(const struct virtq *vq, uint64_t gpa, uint32_t len)
{
	uint64_t	 n = vq->st.size;

	return (overlaps(gpa, len, vq->st.desc, VIRTQ_DESC_BYTES(n)) ||
	    overlaps(gpa, len, vq->st.avail, VIRTQ_AVAIL_BYTES(n)) ||
	    overlaps(gpa, len, vq->st.used, VIRTQ_USED_BYTES(n)));
}

/*
 * Walk the chain at head into c.  Each table is walked at most as many
 * steps as it has entries, so a loop ends as "longer than its table";
 * an indirect descriptor switches to its table, once.
 */
static int
chain_walk(struct virtq *vq, uint16_t head, struct virtq_chain *c)
{
	const volatile struct virtq_desc *table = vq->desc;
	struct virtq_desc d;
	uint64_t	 total = 0;
	uint32_t	 n = vq->st.size, steps = 0, idx = head;
	int		 indirect = 0;
	void		*p;

	c->head = head;
	c->niov = c->nread = 0;
	c->rlen = c->wlen = 0;
	for (;;) {
		if (steps++ >= n)
			return (virtq_fail(vq, "chain at %u longer than its "
			    "%s (%u entries): a loop?", head,
			    indirect ? "indirect table" : "queue", n));
		desc_read(&table[idx], &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq->indirect)
				return (virtq_fail(vq, "indirect descriptor "
				    "without INDIRECT_DESC negotiated"));
			if (indirect)
				return (virtq_fail(vq, "indirect descriptor "
				    "inside an indirect table"));
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return (virtq_fail(vq, "indirect descriptor "
				    "with NEXT set"));
			if (d.len == 0 || d.len % sizeof(d) != 0 ||
			    d.len / sizeof(d) > VIRTQ_INDIRECT_MAX)
				return (virtq_fail(vq, "indirect table of %u "
				    "bytes", d.len));
			table = vq->mem.ptr(vq->mem.arg, d.addr, d.len);
			if (table == NULL)
				return (virtq_fail(vq, "indirect table "
				    "0x%llx+%u outside guest RAM",
				    (unsigned long long)d.addr, d.len));
			n = d.len / sizeof(d);
			idx = 0;
			steps = 0;
			indirect = 1;
			continue;
		}
		if (d.len == 0)
			return (virtq_fail(vq, "zero-length buffer in chain "
			    "at %u", head));
		if ((p = vq->mem.ptr(vq->mem.arg, d.addr, d.len)) == NULL)
			return (virtq_fail(vq, "buffer 0x%llx+%u outside guest "
			    "RAM", (unsigned long long)d.addr, d.len));
		if (d.flags & VIRTQ_DESC_F_WRITE) {
			if (over_rings(vq, d.addr, d.len))
				return (virtq_fail(vq, "writable buffer "
				    "0x%llx+%u over the queue's own rings",
				    (unsigned long long)d.addr, d.len));
		} else if (c->niov > c->nread)
			return (virtq_fail(vq, "device-readable buffer after "
			    "a writable one in chain at %u", head));
		total += d.len;
		if (total > UINT32_MAX)
			return (virtq_fail(vq, "chain at %u longer than 4 GiB",
			    head));
		if (c->niov >= c->max)
			return (virtq_fail(vq, "chain at %u has more than %u "
			    "buffers", head, c->max));
		c->iov[c->niov].iov_base = p;
		c->iov[c->niov].iov_len = d.len;
		c->niov++;
		if (d.flags & VIRTQ_DESC_F_WRITE)
			c->wlen += d.len;
		else {
			c->nread++;
			c->rlen += d.len;
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return (0);
		idx = d.next;
		if (idx >= n)
			return (virtq_fail(vq, "next index %u out of range "
			    "(%u entries)", idx, n));
	}
}

/*
 * Take the next available chain: 1 with c filled, 0 if there is none,
 * -1 if the queue is (now) broken.
 */
int
virtq_pop(struct virtq *vq, struct virtq_chain *c)
{
	uint16_t	 avail_idx, pending, head;

	if (vq->broken)
		return (-1);
	/* the entries and descriptors are read after the index: acquire */
	avail_idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
	pending = avail_idx - vq->st.last_avail;
	if (pending == 0)
		return (0);
	if (pending > vq->st.size)
		return (virtq_fail(vq, "available index %u ran %u ahead of "
		    "the device, more than the queue size %u", avail_idx,
		    pending, vq->st.size));
	head = __atomic_load_n(&vq->avail->ring[vq->st.last_avail & vq->mask],
	    __ATOMIC_RELAXED);
	if (head >= vq->st.size)
		return (virtq_fail(vq, "available entry %u names descriptor "
		    "%u of %u", vq->st.last_avail, head, vq->st.size));
	if (chain_walk(vq, head, c) == -1)
		return (-1);
	vq->st.last_avail++;
	return (1);
}

/*
 * Give a chain back with len bytes written into it.  The element is
 * complete before the driver can see the new index: release.
 */
int
virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	struct virtq_used_elem *e;

	if (vq->broken || head >= vq->st.size)
		return (-1);
	e = &vq->used->ring[vq->st.used_idx & vq->mask];
	__atomic_store_n(&e->id, head, __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
	vq->st.used_idx++;
	__atomic_store_n(&vq->used->idx, vq->st.used_idx, __ATOMIC_RELEASE);
	return (0);
}

/*
 * Fill the next used element without showing it to the driver yet, for
 * a device whose completions must appear together (a merged receive
 * buffer): virtq_publish shows everything filled so far.
 */
int
virtq_push_nopublish(struct virtq *vq, uint16_t head, uint32_t len)
{
	struct virtq_used_elem *e;

	if (vq->broken || head >= vq->st.size)
		return (-1);
	e = &vq->used->ring[vq->st.used_idx & vq->mask];
	__atomic_store_n(&e->id, head, __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
	vq->st.used_idx++;
	return (0);
}

/* The elements filled before the driver sees the index: release. */
void
virtq_publish(struct virtq *vq)
{
	if (vq->broken)
		return;
	__atomic_store_n(&vq->used->idx, vq->st.used_idx, __ATOMIC_RELEASE);
}

/*
 * Ask the driver not to notify while we are draining the queue.  With
 * EVENT_IDX there is nothing to write: avail_event stays behind, so the
 * driver's check never fires until virtq_notify_on moves it.
 */
void
virtq_notify_off(struct virtq *vq)
{
	if (vq->broken || vq->event_idx)
		return;
	__atomic_store_n(&vq->used->flags, VIRTQ_USED_F_NO_NOTIFY,
	    __ATOMIC_RELAXED);
}

/*
 * Ask for notifications again; returns 1 if chains arrived meanwhile
 * (the driver may have looked at our flag before we changed it, so the
 * caller must drain again), else 0.
 */
int
virtq_notify_on(struct virtq *vq)
{
	uint16_t	 idx;

	if (vq->broken)
		return (0);
	if (vq->event_idx)
		__atomic_store_n(vq->avail_event, vq->st.last_avail,
		    __ATOMIC_RELAXED);
	else
		__atomic_store_n(&vq->used->flags, 0, __ATOMIC_RELAXED);
	/* our store before the driver's index: store-load, a full fence */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
	return (idx != vq->st.last_avail);
}

/*
 * Does the driver want an interrupt for what was pushed since the last
 * decision?  Without EVENT_IDX it says so with a flag; with it, with the
 * used index it waits for (interrupt when the pushes crossed it).
 */
int
virtq_need_interrupt(struct virtq *vq)
{
	uint16_t	 new = vq->st.used_idx, old = vq->signalled, ev;

	if (vq->broken)
		return (0);
	/* the used index we stored before the driver's fields: full fence */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled = new;
	if (new == old)
		return (0);
	if (vq->event_idx) {
		ev = __atomic_load_n(vq->used_event, __ATOMIC_RELAXED);
		return ((uint16_t)(new - ev - 1) < (uint16_t)(new - old));
	}
	return (!(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED) &
	    VIRTQ_AVAIL_F_NO_INTERRUPT));
}

/*
 * Interrupt the driver through callfd if it wants one.  Returns 1 if it
 * was signalled, 0 if not wanted, -1 if the eventfd write failed.
 */
int
virtq_interrupt(struct virtq *vq)
{
	uint64_t	 one = 1;

	if (!virtq_need_interrupt(vq))
		return (0);
	if (vq->st.callfd < 0)
		return (1);
	if (write(vq->st.callfd, &one, sizeof(one)) != sizeof(one) &&
	    errno != EAGAIN)
		return (-1);
	return (1);
}

/* Copy up to len readable bytes from offset off of the chain. */
size_t
virtq_chain_read(const struct virtq_chain *c, size_t off, void *dst,
    size_t len)
{
	size_t	 done = 0, n;
	int	 i;

	for (i = 0; i < c->nread && done < len; i++) {
		if (off >= c->iov[i].iov_len) {
			off -= c->iov[i].iov_len;
			continue;
		}
		n = c->iov[i].iov_len - off;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)dst + done, (uint8_t *)c->iov[i].iov_base +
		    off, n);
		done += n;
		off = 0;
	}
	return (done);
}

/* Copy up to len bytes into the writable part, from offset off of it. */
size_t
virtq_chain_write(const struct virtq_chain *c, size_t off, const void *src,
    size_t len)
{
	size_t	 done = 0, n;
	int	 i;

	for (i = c->nread; i < c->niov && done < len; i++) {
		if (off >= c->iov[i].iov_len) {
			off -= c->iov[i].iov_len;
			continue;
		}
		n = c->iov[i].iov_len - off;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)c->iov[i].iov_base + off,
		    (const uint8_t *)src + done, n);
		done += n;
		off = 0;
	}
	return (done);
}

/* Where the queue stands, to hand it over or save it. */
void
virtq_get_state(const struct virtq *vq, struct virtq_state *st)
{
	*st = vq->st;
}
