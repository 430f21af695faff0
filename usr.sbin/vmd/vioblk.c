/*
 * vioblk.c: virtio-blk, the request engine of a disk's device process.
 * A request is parsed from its chain (header, data, status: virtio 1.2
 * "Device Operation" of the block device, any framing), checked (type,
 * length, sector range, flags, read-only) and run on the disk library
 * with iovecs that point straight into guest RAM; its status byte is
 * written last and the chain goes back to the used ring.  Several
 * requests run at once on a small pool of I/O threads; the queue, the
 * slots and the work list share one lock, which is never held across
 * disk I/O.  A completed flush means the disk's flush (fdatasync) has
 * returned; a driver that did not take FLUSH gets each write synced
 * before it completes, as the spec asks.  Nothing the guest writes is
 * trusted: a value is copied out of guest RAM once and checked there, a
 * malformed ring breaks the queue, a bad request fails alone, and no
 * request can reach outside the disk's range or the RAM view.
 */

#include <sys/types.h>
#include <sys/uio.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "vioblk.h"

#define VIOBLK_THREAD_STACK	(256 * 1024)

struct vioblk {
	struct disk		*disk;
	uint64_t		 capacity;	/* sectors */
	uint64_t		 offered;	/* device features */
	int			 writethrough;	/* FLUSH not taken */
	char			 serial[VIOBLK_ID_BYTES + 1];
	uint8_t			 config[VIOBLK_CONFIG_LEN];
	vioblk_error_fn		 error;
	void			*arg;

	pthread_mutex_t		 lock;		/* all below */
	pthread_cond_t		 work_cv;	/* work queued, or stop */
	pthread_cond_t		 idle_cv;	/* busy fell to 0 */
	struct virtq		 vq;
	int			 live;		/* vq set up and not broken */
	int			 paused;
	int			 starved;	/* left chains for lack of slots */
	int			 stop;		/* the threads exit */
	unsigned int		 busy;		/* slots taken */
	struct vioblk_req	*free;
	struct vioblk_req	*work, **work_tail;
	unsigned int		 nthreads;
	pthread_t		 thread[VIOBLK_THREADS_MAX];
	struct vioblk_req	 slot[VIOBLK_SLOTS];
};

static void	*vioblk_thread(void *);
static int	 vioblk_run_locked(struct vioblk *, char *, size_t);

static void
put_le(uint8_t *p, int size, uint64_t v)
{
	int	 i;

	for (i = 0; i < size; i++)
		p[i] = v >> (8 * i);
}

static uint64_t
get_le(const uint8_t *p, int size)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return (v);
}

/*
 * The serial number GET_ID answers: the disk's place in its VM first, so
 * that it survives the cut to 20 bytes, then the VM's name.  Stable
 * across boots, unique inside a VM (vmd gives none; Linux shows it as
 * /sys/block/vdX/serial and /dev/disk/by-id/virtio-SERIAL).
 */
static void
make_serial(struct vioblk *sc, unsigned int index, const char *vmname)
{
	char	 buf[128];

	(void)snprintf(buf, sizeof(buf), "disk%u-%s", index,
	    vmname != NULL ? vmname : "");
	memset(sc->serial, 0, sizeof(sc->serial));
	memcpy(sc->serial, buf, strnlen(buf, VIOBLK_ID_BYTES));
}

struct vioblk *
vioblk_new(struct disk *disk, unsigned int nthreads, unsigned int index,
    const char *vmname, vioblk_error_fn error, void *arg, char *err,
    size_t errlen)
{
	struct vioblk	*sc;
	pthread_attr_t	 attr;
	unsigned int	 i, f;
	int		 rv;

	if (nthreads > VIOBLK_THREADS_MAX) {
		(void)snprintf(err, errlen, "%u I/O threads, at most %d",
		    nthreads, VIOBLK_THREADS_MAX);
		return (NULL);
	}
	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		(void)snprintf(err, errlen, "%s", strerror(errno));
		return (NULL);
	}
	sc->disk = disk;
	sc->error = error;
	sc->arg = arg;
	sc->capacity = disk_size(disk) / VIOBLK_SECTOR;
	make_serial(sc, index, vmname);

	/*
	 * What the device offers: the segment limit and block size Linux
	 * reads, FLUSH (a write is stable only once a flush after it
	 * completed), read-only for images opened so, and discard and
	 * write zeroes where the format does them.
	 */
	sc->offered = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE |
	    VIRTIO_BLK_F_FLUSH;
	f = disk_features(disk);
	if (disk_readonly(disk))
		sc->offered |= VIRTIO_BLK_F_RO;
	else {
		if (f & DISK_F_DISCARD)
			sc->offered |= VIRTIO_BLK_F_DISCARD;
		if (f & DISK_F_WRITE_ZEROES)
			sc->offered |= VIRTIO_BLK_F_WRITE_ZEROES;
	}
	put_le(sc->config + VIOBLK_CFG_CAPACITY, 8, sc->capacity);
	put_le(sc->config + VIOBLK_CFG_SEG_MAX, 4, VIOBLK_SEG_MAX);
	put_le(sc->config + VIOBLK_CFG_BLK_SIZE, 4, VIOBLK_SECTOR);
	if (sc->offered & VIRTIO_BLK_F_DISCARD) {
		put_le(sc->config + VIOBLK_CFG_MAX_DISCARD_SECTORS, 4,
		    VIOBLK_DWZ_SECTORS);
		put_le(sc->config + VIOBLK_CFG_MAX_DISCARD_SEG, 4,
		    VIOBLK_DWZ_SEG_MAX);
		put_le(sc->config + VIOBLK_CFG_DISCARD_ALIGN, 4,
		    VIOBLK_DISCARD_ALIGN);
	}
	if (sc->offered & VIRTIO_BLK_F_WRITE_ZEROES) {
		put_le(sc->config + VIOBLK_CFG_MAX_WZ_SECTORS, 4,
		    VIOBLK_DWZ_SECTORS);
		put_le(sc->config + VIOBLK_CFG_MAX_WZ_SEG, 4,
		    VIOBLK_DWZ_SEG_MAX);
		sc->config[VIOBLK_CFG_WZ_MAY_UNMAP] = 1;
	}

	for (i = 0; i < VIOBLK_SLOTS; i++) {
		sc->slot[i].next = sc->free;
		sc->free = &sc->slot[i];
	}
	sc->work_tail = &sc->work;
	if ((rv = pthread_mutex_init(&sc->lock, NULL)) != 0 ||
	    (rv = pthread_cond_init(&sc->work_cv, NULL)) != 0 ||
	    (rv = pthread_cond_init(&sc->idle_cv, NULL)) != 0) {
		(void)snprintf(err, errlen, "%s", strerror(rv));
		free(sc);
		return (NULL);
	}
	/* Small stacks: the disk library keeps its buffers on the heap. */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, VIOBLK_THREAD_STACK);
	for (i = 0; i < nthreads; i++) {
		if ((rv = pthread_create(&sc->thread[i], &attr, vioblk_thread,
		    sc)) != 0) {
			(void)snprintf(err, errlen, "I/O thread: %s",
			    strerror(rv));
			pthread_attr_destroy(&attr);
			sc->disk = NULL;	/* the caller's on failure */
			vioblk_free(sc);
			return (NULL);
		}
		sc->nthreads++;
	}
	pthread_attr_destroy(&attr);
	return (sc);
}

void
vioblk_free(struct vioblk *sc)
{
	unsigned int	 i;

	if (sc == NULL)
		return;
	vioblk_reset(sc);
	pthread_mutex_lock(&sc->lock);
	sc->stop = 1;
	pthread_cond_broadcast(&sc->work_cv);
	pthread_mutex_unlock(&sc->lock);
	for (i = 0; i < sc->nthreads; i++)
		pthread_join(sc->thread[i], NULL);
	if (sc->disk != NULL)
		disk_close(sc->disk);
	pthread_cond_destroy(&sc->idle_cv);
	pthread_cond_destroy(&sc->work_cv);
	pthread_mutex_destroy(&sc->lock);
	free(sc);
}

uint64_t
vioblk_features(const struct vioblk *sc)
{
	return (sc->offered);
}

/* The device configuration into buf; returns its length. */
size_t
vioblk_config(const struct vioblk *sc, uint8_t *buf, size_t len)
{
	if (len > VIOBLK_CONFIG_LEN)
		len = VIOBLK_CONFIG_LEN;
	memcpy(buf, sc->config, len);
	return (VIOBLK_CONFIG_LEN);
}

const char *
vioblk_serial(const struct vioblk *sc)
{
	return (sc->serial);
}

/*
 * Take apart r->chain, which virtq_pop filled.  The header is the first
 * 16 readable bytes and the status the last writable byte, wherever the
 * driver put the buffer boundaries; the data part is what lies between,
 * readable for OUT, DISCARD and WRITE_ZEROES, writable for IN and
 * GET_ID, and is sliced out of r->iov in place.  Returns 0 with r ready
 * to run (r->result says OK or why it must fail), or -1 if the chain has
 * no room for a header or a status: the driver broke the protocol and
 * the queue must stop.
 */
int
vioblk_req_parse(struct vioblk *sc, struct vioblk_req *r)
{
	struct virtq_chain *c = &r->chain;
	struct iovec	*last;
	uint8_t		 hdr[VIOBLK_HDR_LEN];
	size_t		 skip;
	int		 i;

	if (c->rlen < VIOBLK_HDR_LEN || c->wlen < 1)
		return (-1);
	(void)virtq_chain_read(c, 0, hdr, sizeof(hdr));
	r->type = get_le(hdr, 4);
	r->sector = get_le(hdr + 8, 8);
	last = &c->iov[c->niov - 1];
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	r->result = VIRTIO_BLK_S_OK;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_GET_ID:
		/* the writable buffers, less the status byte */
		r->data = &c->iov[c->nread];
		r->ndata = c->niov - c->nread;
		r->dlen = c->wlen - 1;
		if (--last->iov_len == 0)
			r->ndata--;
		/* nothing but the header may be readable */
		if (c->rlen != VIOBLK_HDR_LEN)
			r->result = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_OUT:
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
	case VIRTIO_BLK_T_FLUSH:
	default:
		/* the readable buffers after the header */
		skip = VIOBLK_HDR_LEN;
		for (i = 0; i < c->nread && skip >= c->iov[i].iov_len; i++)
			skip -= c->iov[i].iov_len;
		r->data = &c->iov[i];
		r->ndata = c->nread - i;
		if (r->ndata > 0) {
			c->iov[i].iov_base = (uint8_t *)c->iov[i].iov_base +
			    skip;
			c->iov[i].iov_len -= skip;
		}
		r->dlen = c->rlen - VIOBLK_HDR_LEN;
		/* nothing but the status may be writable */
		if (c->wlen != 1)
			r->result = VIRTIO_BLK_S_IOERR;
		break;
	}
	return (0);
}

/* A data range in sectors: inside the disk, whole sectors. */
static int
range_ok(const struct vioblk *sc, uint64_t sector, uint64_t bytes)
{
	if (bytes % VIOBLK_SECTOR != 0 || sector > sc->capacity)
		return (0);
	return (bytes / VIOBLK_SECTOR <= sc->capacity - sector);
}

/* Copy len bytes of src into the data buffers. */
static void
data_fill(struct vioblk_req *r, const void *src, size_t len)
{
	size_t	 n;
	int	 i;

	for (i = 0; i < r->ndata && len > 0; i++) {
		n = r->data[i].iov_len < len ? r->data[i].iov_len : len;
		memcpy(r->data[i].iov_base, src, n);
		src = (const uint8_t *)src + n;
		len -= n;
	}
}

/* Copy len bytes of the data buffers into dst. */
static void
data_take(const struct vioblk_req *r, void *dst, size_t len)
{
	size_t	 n;
	int	 i;

	for (i = 0; i < r->ndata && len > 0; i++) {
		n = r->data[i].iov_len < len ? r->data[i].iov_len : len;
		memcpy(dst, r->data[i].iov_base, n);
		dst = (uint8_t *)dst + n;
		len -= n;
	}
}

/*
 * DISCARD and WRITE_ZEROES: up to VIOBLK_DWZ_SEG_MAX ranges, each
 * checked whole before any is done.  Unknown flags, and unmap on a
 * discard, are "unsupported", as the spec says.
 */
static uint8_t
run_ranges(struct vioblk *sc, struct vioblk_req *r)
{
	uint8_t		 buf[VIOBLK_DWZ_SEG_MAX * VIOBLK_DWZ_LEN];
	uint64_t	 sector[VIOBLK_DWZ_SEG_MAX];
	uint32_t	 n[VIOBLK_DWZ_SEG_MAX], flags;
	uint32_t	 allowed;
	size_t		 nseg, i;
	int		 rv;

	allowed = r->type == VIRTIO_BLK_T_WRITE_ZEROES ?
	    VIRTIO_BLK_DWZ_UNMAP : 0;
	if (!(sc->offered & (r->type == VIRTIO_BLK_T_DISCARD ?
	    VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES)))
		return (VIRTIO_BLK_S_UNSUPP);
	if (r->dlen == 0 || r->dlen % VIOBLK_DWZ_LEN != 0 ||
	    r->dlen / VIOBLK_DWZ_LEN > VIOBLK_DWZ_SEG_MAX)
		return (VIRTIO_BLK_S_IOERR);
	nseg = r->dlen / VIOBLK_DWZ_LEN;
	data_take(r, buf, r->dlen);
	for (i = 0; i < nseg; i++) {
		sector[i] = get_le(buf + i * VIOBLK_DWZ_LEN, 8);
		n[i] = get_le(buf + i * VIOBLK_DWZ_LEN + 8, 4);
		flags = get_le(buf + i * VIOBLK_DWZ_LEN + 12, 4);
		if (flags & ~allowed)
			return (VIRTIO_BLK_S_UNSUPP);
		if (n[i] > VIOBLK_DWZ_SECTORS ||
		    !range_ok(sc, sector[i], (uint64_t)n[i] * VIOBLK_SECTOR))
			return (VIRTIO_BLK_S_IOERR);
	}
	for (i = 0; i < nseg; i++) {
		flags = get_le(buf + i * VIOBLK_DWZ_LEN + 12, 4);
		if (r->type == VIRTIO_BLK_T_DISCARD)
			rv = disk_discard(sc->disk, sector[i] * VIOBLK_SECTOR,
			    (uint64_t)n[i] * VIOBLK_SECTOR);
		else
			rv = disk_write_zeroes(sc->disk,
			    sector[i] * VIOBLK_SECTOR,
			    (uint64_t)n[i] * VIOBLK_SECTOR,
			    (flags & VIRTIO_BLK_DWZ_UNMAP) != 0);
		if (rv == -1)
			return (VIRTIO_BLK_S_IOERR);
	}
	if (sc->writethrough && disk_flush(sc->disk) == -1)
		return (VIRTIO_BLK_S_IOERR);
	return (VIRTIO_BLK_S_OK);
}

/*
 * Do what a parsed request asks and write its status.  Runs on an I/O
 * thread, without the lock: it touches only r, the disk (thread-safe)
 * and what never changes while requests run.
 */
void
vioblk_req_run(struct vioblk *sc, struct vioblk_req *r)
{
	ssize_t		 n;
	uint8_t		 st = r->result;

	if (st != VIRTIO_BLK_S_OK)
		goto done;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (!range_ok(sc, r->sector, r->dlen)) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		if (r->type == VIRTIO_BLK_T_IN) {
			n = disk_preadv(sc->disk, r->data, r->ndata,
			    r->sector * VIOBLK_SECTOR);
		} else if (sc->offered & VIRTIO_BLK_F_RO) {
			/* "MUST NOT write any data" */
			st = VIRTIO_BLK_S_IOERR;
			break;
		} else {
			n = disk_pwritev(sc->disk, r->data, r->ndata,
			    r->sector * VIOBLK_SECTOR);
			if (n == (ssize_t)r->dlen && sc->writethrough &&
			    disk_flush(sc->disk) == -1)
				n = -1;
		}
		if (n != (ssize_t)r->dlen)
			st = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (disk_flush(sc->disk) == -1)
			st = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID:
		data_fill(r, sc->serial, r->dlen < VIOBLK_ID_BYTES ?
		    r->dlen : VIOBLK_ID_BYTES);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (sc->offered & VIRTIO_BLK_F_RO)
			st = VIRTIO_BLK_S_IOERR;
		else
			st = run_ranges(sc, r);
		break;
	default:
		st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
 done:
	/* the status is the last byte the device writes */
	__atomic_store_n(r->status, st, __ATOMIC_RELEASE);
	r->result = st;
}

/* Does r need an I/O thread, or is its answer known already? */
static int
needs_io(const struct vioblk_req *r)
{
	if (r->result != VIRTIO_BLK_S_OK)
		return (0);
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
	case VIRTIO_BLK_T_FLUSH:
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return (1);
	}
	return (0);
}

/*
 * Give r back to the driver and its slot to the pool.  The used length
 * is the whole writable part, as QEMU reports it; drivers of the block
 * device read the status byte, not the length.  A broken queue takes
 * nothing back: the driver resets it.
 */
static void
complete_locked(struct vioblk *sc, struct vioblk_req *r)
{
	if (sc->live)
		(void)virtq_push(&sc->vq, r->chain.head, r->chain.wlen);
	r->next = sc->free;
	sc->free = r;
	if (--sc->busy == 0)
		pthread_cond_broadcast(&sc->idle_cv);
}

static void
queue_locked(struct vioblk *sc, struct vioblk_req *r)
{
	r->next = NULL;
	*sc->work_tail = r;
	sc->work_tail = &r->next;
}

/*
 * Take what the driver made available while slots last: parse each
 * chain, answer at once what needs no I/O, hand the rest to the I/O
 * threads (or run it here without threads).  Returns -1 when the queue
 * broke, with the reason in why; the lock is held throughout except
 * around requests run here.
 */
static int
vioblk_run_locked(struct vioblk *sc, char *why, size_t whylen)
{
	struct vioblk_req *r;
	unsigned int	 queued = 0, answered = 0;
	int		 rv = 0;

	if (!sc->live || sc->paused)
		return (0);
	do {
		virtq_notify_off(&sc->vq);
		for (;;) {
			if ((r = sc->free) == NULL) {
				/* a completion runs the queue again */
				sc->starved = 1;
				goto out;
			}
			r->chain.iov = r->iov;
			r->chain.max = VIOBLK_IOV_MAX;
			if ((rv = virtq_pop(&sc->vq, &r->chain)) != 1)
				break;
			sc->free = r->next;
			sc->busy++;
			if (vioblk_req_parse(sc, r) == -1) {
				(void)snprintf(why, whylen, "request at "
				    "descriptor %u has %s", r->chain.head,
				    r->chain.wlen < 1 ? "no status byte" :
				    "no room for its header");
				sc->live = 0;
				complete_locked(sc, r);
				return (-1);
			}
			if (!needs_io(r)) {
				vioblk_req_run(sc, r);
				complete_locked(sc, r);
				answered++;
			} else if (sc->nthreads == 0) {
				pthread_mutex_unlock(&sc->lock);
				vioblk_req_run(sc, r);
				pthread_mutex_lock(&sc->lock);
				complete_locked(sc, r);
				answered++;
				if (!sc->live || sc->paused)
					goto out;
			} else {
				queue_locked(sc, r);
				queued++;
			}
		}
		if (rv == -1) {
			(void)snprintf(why, whylen, "%s", sc->vq.error);
			sc->live = 0;
			return (-1);
		}
	} while (virtq_notify_on(&sc->vq));
 out:
	if (queued == 1)
		pthread_cond_signal(&sc->work_cv);
	else if (queued > 1)
		pthread_cond_broadcast(&sc->work_cv);
	if (answered > 0)
		(void)virtq_interrupt(&sc->vq);
	return (0);
}

static void
run_and_report(struct vioblk *sc)
{
	char	 why[VIRTQ_ERR_LEN + 64];
	int	 rv;

	rv = vioblk_run_locked(sc, why, sizeof(why));
	pthread_mutex_unlock(&sc->lock);
	if (rv == -1 && sc->error != NULL)
		sc->error(sc->arg, 0, why);
	pthread_mutex_lock(&sc->lock);
}

/* The driver notified the queue. */
void
vioblk_kick(struct vioblk *sc)
{
	pthread_mutex_lock(&sc->lock);
	run_and_report(sc);
	pthread_mutex_unlock(&sc->lock);
}

/*
 * An I/O thread: take a request, run it without the lock, give it back.
 * A completion that frees the first slot after the queue starved has the
 * queue run again.
 */
static void *
vioblk_thread(void *arg)
{
	struct vioblk	*sc = arg;
	struct vioblk_req *r;
	uint64_t	 one = 1;

	pthread_mutex_lock(&sc->lock);
	for (;;) {
		while (sc->work == NULL && !sc->stop)
			pthread_cond_wait(&sc->work_cv, &sc->lock);
		if (sc->stop)
			break;
		r = sc->work;
		if ((sc->work = r->next) == NULL)
			sc->work_tail = &sc->work;
		pthread_mutex_unlock(&sc->lock);

		vioblk_req_run(sc, r);

		pthread_mutex_lock(&sc->lock);
		complete_locked(sc, r);
		if (sc->live)
			(void)virtq_interrupt(&sc->vq);
		/* the queue runs on the thread that takes its kicks: ring it */
		if (sc->starved && sc->live && !sc->paused) {
			sc->starved = 0;
			if (sc->vq.st.kickfd >= 0)
				(void)write(sc->vq.st.kickfd, &one,
				    sizeof(one));
		}
	}
	pthread_mutex_unlock(&sc->lock);
	return (NULL);
}

int
vioblk_queue_start(struct vioblk *sc, const struct virtq_state *st,
    const struct virtq_mem *mem, char *err, size_t errlen)
{
	int	 rv = 0;

	vioblk_reset(sc);
	pthread_mutex_lock(&sc->lock);
	if (st->index != 0) {
		(void)snprintf(err, errlen, "no queue %u", st->index);
		rv = -1;
	} else if (virtq_init(&sc->vq, st, mem) == -1) {
		(void)snprintf(err, errlen, "%s", sc->vq.error);
		rv = -1;
	} else {
		sc->writethrough = (sc->offered & VIRTIO_BLK_F_FLUSH) &&
		    !(st->features & VIRTIO_BLK_F_FLUSH);
		sc->live = 1;
		sc->starved = 0;
	}
	pthread_mutex_unlock(&sc->lock);
	return (rv);
}

/* Stop taking requests; wait for those in flight. */
void
vioblk_pause(struct vioblk *sc)
{
	pthread_mutex_lock(&sc->lock);
	sc->paused = 1;
	while (sc->busy > 0)
		pthread_cond_wait(&sc->idle_cv, &sc->lock);
	pthread_mutex_unlock(&sc->lock);
}

void
vioblk_resume(struct vioblk *sc)
{
	pthread_mutex_lock(&sc->lock);
	sc->paused = 0;
	sc->starved = 0;
	run_and_report(sc);
	pthread_mutex_unlock(&sc->lock);
}

/*
 * The driver or the VM reset the device: what is in flight finishes
 * (nothing can stop a read that is under way) before the queue is
 * forgotten, so no guest memory is touched once this returns.
 */
void
vioblk_reset(struct vioblk *sc)
{
	pthread_mutex_lock(&sc->lock);
	sc->paused = 1;
	while (sc->busy > 0)
		pthread_cond_wait(&sc->idle_cv, &sc->lock);
	sc->live = 0;
	sc->starved = 0;
	sc->writethrough = 0;
	memset(&sc->vq, 0, sizeof(sc->vq));
	sc->paused = 0;
	pthread_mutex_unlock(&sc->lock);
}

int
vioblk_queue_state(struct vioblk *sc, struct virtq_state *st)
{
	int	 rv = -1;

	pthread_mutex_lock(&sc->lock);
	if (sc->live) {
		virtq_get_state(&sc->vq, st);
		rv = 0;
	}
	pthread_mutex_unlock(&sc->lock);
	return (rv);
}
