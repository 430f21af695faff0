/*
 * virtq.h: split virtqueues (virtio 1.x, "Split Virtqueues") as a device
 * sees them: pop a descriptor chain into a bounded iovec array, push used
 * elements, suppress notifications and decide when to interrupt.  The
 * ring code is pure over a view of guest RAM (struct virtq_mem), keeps
 * its state in the caller's struct virtq and nowhere else, and depends on
 * no other part of vmd, so any process that maps guest RAM (the vm
 * process, a device process) can run a queue.  Everything in a ring is
 * the guest's to scribble on: each index, address, length and flag is
 * checked before use, a queue found malformed stays broken (with the
 * reason) until it is set up again, and nothing here may ever read or
 * write outside the guest RAM the view allows.
 */

#ifndef VIRTQ_H
#define VIRTQ_H

#include <sys/uio.h>

#include <stddef.h>
#include <stdint.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtqueues are little-endian; this code reads them in place"
#endif

/* Device-independent feature bits ("Reserved Feature Bits") */
#define VIRTIO_F_INDIRECT_DESC	(1ULL << 28)
#define VIRTIO_F_EVENT_IDX	(1ULL << 29)
#define VIRTIO_F_VERSION_1	(1ULL << 32)

#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_DESC_F_INDIRECT	4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	1

#define VIRTQ_MAX_SIZE		32768	/* largest queue the spec allows */
#define VIRTQ_INDIRECT_MAX	VIRTQ_MAX_SIZE	/* entries per indirect table */

/* The rings as they lie in guest memory (little-endian, as is the host). */
struct virtq_desc {
	uint64_t	 addr;
	uint32_t	 len;
	uint16_t	 flags;
	uint16_t	 next;
};

struct virtq_avail {
	uint16_t	 flags;
	uint16_t	 idx;
	uint16_t	 ring[];	/* then used_event */
};

struct virtq_used_elem {
	uint32_t	 id;
	uint32_t	 len;
};

struct virtq_used {
	uint16_t	 flags;
	uint16_t	 idx;
	struct virtq_used_elem ring[];	/* then avail_event */
};

/* Bytes of each ring part for a queue of n entries, event fields included */
#define VIRTQ_DESC_BYTES(n)	(16ULL * (n))
#define VIRTQ_AVAIL_BYTES(n)	(6ULL + 2ULL * (n))
#define VIRTQ_USED_BYTES(n)	(6ULL + 8ULL * (n))

/*
 * Everything a queue's handler needs, flat: no pointers, fixed-size
 * fields, so the vm process can hand a queue to a device process in one
 * message.  The two descriptors travel as passed fds; in a message the
 * fields say -1 and the receiver puts the fds it got in their place.
 * last_avail and used_idx are the device's own counters, so a queue can
 * move between processes (or be saved) without losing its place.
 */
struct virtq_state {
	uint64_t	 desc;		/* guest-physical: descriptor table */
	uint64_t	 avail;		/* driver area */
	uint64_t	 used;		/* device area */
	uint64_t	 features;	/* negotiated */
	uint16_t	 index;		/* queue number in its device */
	uint16_t	 size;		/* entries, a power of 2 */
	uint16_t	 last_avail;	/* next available entry to pop */
	uint16_t	 used_idx;	/* next used entry to fill */
	int32_t		 kickfd;	/* eventfd: the driver notified us */
	int32_t		 callfd;	/* eventfd: interrupt the driver */
};

/*
 * A view of guest RAM: ptr returns a host pointer to [gpa, gpa + len) if
 * all of it is guest RAM, else NULL (len is never 0).  The mapping must
 * not move while a queue uses it.
 */
struct virtq_mem {
	void		*(*ptr)(void *, uint64_t, uint64_t);
	void		*arg;
};

/*
 * One popped chain: iov[0, nread) are device-readable, iov[nread, niov)
 * device-writable (the spec puts all readable buffers first).  The
 * caller points iov at an array of max entries; a chain with more
 * buffers than that is refused.
 */
struct virtq_chain {
	struct iovec	*iov;
	uint16_t	 max;
	uint16_t	 niov;
	uint16_t	 nread;
	uint16_t	 head;		/* to give back with virtq_push */
	uint32_t	 rlen;		/* bytes readable */
	uint32_t	 wlen;		/* bytes writable */
};

#define VIRTQ_ERR_LEN		112

/* A running queue; all of it belongs to the one thread that runs it. */
struct virtq {
	struct virtq_state	 st;
	struct virtq_mem	 mem;
	volatile struct virtq_desc *desc;
	struct virtq_avail	*avail;
	struct virtq_used	*used;
	uint16_t		*used_event;	/* driver: interrupt me at... */
	uint16_t		*avail_event;	/* device: notify me at... */
	uint16_t		 mask;		/* size - 1 */
	uint16_t		 signalled;	/* used_idx when last asked */
	int			 event_idx;
	int			 indirect;
	int			 broken;
	char			 error[VIRTQ_ERR_LEN];	/* why it broke */
};

/* virtq.c */
int		 virtq_init(struct virtq *, const struct virtq_state *,
		    const struct virtq_mem *);
int		 virtq_pop(struct virtq *, struct virtq_chain *);
int		 virtq_push(struct virtq *, uint16_t, uint32_t);
int		 virtq_push_nopublish(struct virtq *, uint16_t, uint32_t);
void		 virtq_publish(struct virtq *);
void		 virtq_notify_off(struct virtq *);
int		 virtq_notify_on(struct virtq *);
int		 virtq_need_interrupt(struct virtq *);
int		 virtq_interrupt(struct virtq *);
size_t		 virtq_chain_read(const struct virtq_chain *, size_t,
		    void *, size_t);
size_t		 virtq_chain_write(const struct virtq_chain *, size_t,
		    const void *, size_t);
void		 virtq_get_state(const struct virtq *, struct virtq_state *);

#endif /* VIRTQ_H */
