/*
 * vioblk.h: virtio-blk (virtio 1.2, "Block Device"), the constants both
 * sides share and the request engine of the device process.  The vm
 * process only declares the PCI function (vioblk_type); everything a
 * request touches (the disk, the rings, guest RAM) lives in the disk's
 * own "vioblk" process, which runs one queue with a small pool of I/O
 * threads.  Nothing a guest writes may make the engine read or write
 * outside the guest RAM it was given or the disk's range, block it for
 * good, or grow its memory: a malformed ring or a request without a
 * header or status byte breaks the queue (DEVICE_NEEDS_RESET), any other
 * bad request fails with an I/O error or "unsupported".
 */

#ifndef VIOBLK_H
#define VIOBLK_H

#include <sys/types.h>
#include <sys/uio.h>

#include <pthread.h>
#include <stdint.h>

#include "virtq.h"

/* Feature bits ("Feature bits" of the block device) */
#define VIRTIO_BLK_F_SIZE_MAX		(1ULL << 1)
#define VIRTIO_BLK_F_SEG_MAX		(1ULL << 2)
#define VIRTIO_BLK_F_RO			(1ULL << 5)
#define VIRTIO_BLK_F_BLK_SIZE		(1ULL << 6)
#define VIRTIO_BLK_F_FLUSH		(1ULL << 9)
#define VIRTIO_BLK_F_DISCARD		(1ULL << 13)
#define VIRTIO_BLK_F_WRITE_ZEROES	(1ULL << 14)

/* Request types, status values */
#define VIRTIO_BLK_T_IN			0
#define VIRTIO_BLK_T_OUT		1
#define VIRTIO_BLK_T_FLUSH		4
#define VIRTIO_BLK_T_GET_ID		8
#define VIRTIO_BLK_T_DISCARD		11
#define VIRTIO_BLK_T_WRITE_ZEROES	13
#define VIRTIO_BLK_S_OK			0
#define VIRTIO_BLK_S_IOERR		1
#define VIRTIO_BLK_S_UNSUPP		2
#define VIRTIO_BLK_DWZ_UNMAP		0x1	/* discard/write zeroes flag */

/* Device configuration: offsets of the fields we fill */
#define VIOBLK_CFG_CAPACITY		0	/* le64, sectors */
#define VIOBLK_CFG_SEG_MAX		12	/* le32 */
#define VIOBLK_CFG_BLK_SIZE		20	/* le32 */
#define VIOBLK_CFG_MAX_DISCARD_SECTORS	36	/* le32 */
#define VIOBLK_CFG_MAX_DISCARD_SEG	40	/* le32 */
#define VIOBLK_CFG_DISCARD_ALIGN	44	/* le32, sectors */
#define VIOBLK_CFG_MAX_WZ_SECTORS	48	/* le32 */
#define VIOBLK_CFG_MAX_WZ_SEG		52	/* le32 */
#define VIOBLK_CFG_WZ_MAY_UNMAP		56	/* u8 */
#define VIOBLK_CONFIG_LEN		60	/* through unused1[3] */

#define VIOBLK_SECTOR		512
#define VIOBLK_HDR_LEN		16	/* type, reserved, sector */
#define VIOBLK_DWZ_LEN		16	/* sector, num_sectors, flags */
#define VIOBLK_ID_BYTES		20
#define VIOBLK_QUEUE_SIZE	256	/* entries of the one queue */
#define VIOBLK_SEG_MAX		126	/* data buffers in a request */
#define VIOBLK_IOV_MAX		(VIOBLK_SEG_MAX + 2)	/* with hdr, status */
#define VIOBLK_DWZ_SEG_MAX	16	/* ranges in a discard/write zeroes */
#define VIOBLK_DWZ_SECTORS	(1U << 22)	/* sectors in one range */
#define VIOBLK_DISCARD_ALIGN	8	/* sectors: 4 KiB */
/*
 * Requests taken off the ring at once; the rest wait in it.  This and
 * VIOBLK_IOV_MAX bound the engine's memory; the I/O threads bound how
 * many reach the disk at once.
 */
#define VIOBLK_SLOTS		64
#define VIOBLK_THREADS_MAX	16
#define VIOBLK_THREADS		4	/* default */

struct disk;
struct vioblk;

/* One request, from its chain to its status. */
struct vioblk_req {
	struct virtq_chain	 chain;		/* iov points at iov below */
	struct iovec		 iov[VIOBLK_IOV_MAX];
	struct iovec		*data;		/* the data part, in iov */
	int			 ndata;
	uint64_t		 dlen;		/* bytes of data */
	uint64_t		 sector;
	uint32_t		 type;
	uint8_t			*status;	/* in guest RAM */
	uint8_t			 result;	/* VIRTIO_BLK_S_* */
	struct vioblk_req	*next;		/* free list, work list */
};

/*
 * What the engine tells its host (the device process's runner): a queue
 * broke (the vm process then sets DEVICE_NEEDS_RESET).  Called from
 * vioblk_kick or vioblk_resume, on their caller's thread, without the
 * engine's lock.  I/O threads never call it: when they must have the
 * queue run again they signal its kick eventfd.
 */
typedef void	(*vioblk_error_fn)(void *, uint16_t, const char *);

/*
 * vioblk.c, device side.  vioblk_new takes the open disk (vioblk_free
 * closes it) and starts nthreads I/O threads; 0 runs every request on
 * the thread that kicks, which the unit tests and the fuzzer use.
 * vioblk_queue_start starts queue 0 over guest RAM (0, or -1 with the
 * reason in err: the queue is then broken); vioblk_kick runs it (the
 * driver notified); vioblk_pause stops taking requests and waits for
 * those in flight, vioblk_resume takes them again, vioblk_reset pauses
 * and forgets the queue.  vioblk_queue_state says where the queue
 * stands (-1 when none runs).
 */
struct vioblk	*vioblk_new(struct disk *, unsigned int, unsigned int,
		    const char *, vioblk_error_fn, void *, char *, size_t);
void		 vioblk_free(struct vioblk *);
uint64_t	 vioblk_features(const struct vioblk *);
size_t		 vioblk_config(const struct vioblk *, uint8_t *, size_t);
const char	*vioblk_serial(const struct vioblk *);
int		 vioblk_queue_start(struct vioblk *, const struct virtq_state *,
		    const struct virtq_mem *, char *, size_t);
void		 vioblk_kick(struct vioblk *);
void		 vioblk_pause(struct vioblk *);
void		 vioblk_resume(struct vioblk *);
void		 vioblk_reset(struct vioblk *);
int		 vioblk_queue_state(struct vioblk *, struct virtq_state *);
int		 vioblk_req_parse(struct vioblk *, struct vioblk_req *);
void		 vioblk_req_run(struct vioblk *, struct vioblk_req *);

#endif /* VIOBLK_H */
