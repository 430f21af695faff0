/*
 * disk.h: disk images behind one small ops struct: raw (vioraw.c) and
 * qcow2 v2 and v3 (vioqcow2.c), with what their three users share
 * (disk.c).  The vioblk device process opens a disk from descriptors
 * only (the top image and its backing chain, top first) and does
 * iovec I/O on it from several threads at once; the parent detects
 * formats, walks backing chains and takes the image locks with the
 * requesting user's file rights; vmctl creates and converts images.
 * Nothing here trusts an image: every header field and table entry is
 * checked before use, a bad one fails the open or the one request that
 * met it, and no image content may make the code crash, loop or grow
 * its memory beyond the bounds below.
 *
 * Threads.  disk_preadv, disk_pwritev, disk_flush, disk_discard,
 * disk_write_zeroes and disk_status may be called by any number of
 * threads at once on one disk.  Data moves between the iovecs and the
 * image files outside any lock; qcow2 metadata (the cache below, cluster
 * allocation) is changed under one mutex per disk, and writes that
 * allocate the same guest clusters wait for each other.  disk_open and
 * disk_close run alone.
 *
 * Memory.  A qcow2 disk keeps its L1 table, refcount table, L2 tables
 * and refcount blocks in one metadata cache of at most `cache' bytes
 * (DISK_CACHE_DEFAULT if 0) in slices of up to 4 KiB.  Beyond it a
 * writable disk keeps the list of clusters that hold L2 tables and
 * refcount blocks (at most 1 MiB: 128 Ki clusters, beyond which only
 * cached ones are known), so that no guest write lands on metadata
 * whatever an L2 entry says; a few KiB more; and each request in flight
 * at most 64 KiB of bounce buffer while it copies a cluster from the
 * backing chain.  Descriptors must not be O_DIRECT: metadata is
 * written in pieces smaller than a sector.
 *
 * Crash safety (qcow2).  Clusters are only ever appended at the end of
 * the top image; a cluster's refcount reaches the file, and is synced,
 * before any table that points to it, and guest data is synced before
 * the L2 entry that points to it is written.  A kill or a power loss at
 * any point leaves an image that qemu-img check finds clean or with
 * leaked clusters only, and disk_flush returns only when what it covers
 * is on stable storage.
 *
 * Locking.  disk_lock() takes an OFD lock (fcntl F_OFD_SETLK) on the
 * whole file: exclusive for a writable top image, shared for read-only
 * images and bases.  It belongs to the open file description, so it
 * travels with the descriptor to the device process and ends when the
 * last descriptor of it is closed.  QEMU uses OFD locks on the same
 * files, so neither can write an image the other has open.
 */

#ifndef DISK_H
#define DISK_H

#include <sys/types.h>
#include <sys/uio.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define DISK_CHAIN_MAX		16	/* images in a disk, top included */
#define DISK_CACHE_DEFAULT	(1024 * 1024)	/* qcow2 metadata cache */
#define DISK_CACHE_MIN		(64 * 1024)
#define DISK_ERR_MAX		256	/* room for an error message */
#define DISK_IOV_MAX		1024	/* iovecs in one request */

enum disk_format {
	DISK_FMT_AUTO,		/* qcow2 if the file has the magic, else raw */
	DISK_FMT_RAW,
	DISK_FMT_QCOW2
};

/* disk_open() flags */
#define DISK_RDONLY		0x01

/* disk_features() */
#define DISK_F_DISCARD		0x01	/* disk_discard frees space */
#define DISK_F_WRITE_ZEROES	0x02	/* disk_write_zeroes is cheap */

struct disk;

/*
 * One image format.  open gets a struct disk with fds, nfds and flags
 * set and fills size and priv, or writes why not into err and returns
 * -1.  The I/O functions return what disk.h's wrappers of the same
 * name return, after the wrappers checked the range.
 */
struct disk_ops {
	const char	*name;
	int		(*open)(struct disk *, char *, size_t);
	ssize_t		(*preadv)(struct disk *, const struct iovec *, int,
			    uint64_t);
	ssize_t		(*pwritev)(struct disk *, const struct iovec *, int,
			    uint64_t);
	int		(*flush)(struct disk *);
	int		(*discard)(struct disk *, uint64_t, uint64_t);
	int		(*write_zeroes)(struct disk *, uint64_t, uint64_t, int);
	int		(*status)(struct disk *, uint64_t, uint64_t,
			    uint64_t *);
	void		(*close)(struct disk *);
};

/* For the format files and disk.c only: users see struct disk opaque. */
struct disk {
	const struct disk_ops	*ops;
	enum disk_format	 fmt;
	int			 flags;		/* DISK_RDONLY */
	unsigned int		 features;	/* DISK_F_* */
	uint64_t		 size;		/* virtual size in bytes */
	size_t			 cache;		/* qcow2 cache bound, bytes */
	int			 fds[DISK_CHAIN_MAX];
	size_t			 nfds;
	void			*priv;
};

/* A backing chain as the parent opened it, top first. */
struct disk_chain {
	int			 fd[DISK_CHAIN_MAX];
	enum disk_format	 fmt[DISK_CHAIN_MAX];
	size_t			 n;
};

/* How disk_chain_open() opens a file: open(2)'s contract, fd or -1. */
typedef int	(*disk_opener)(const char *, int, void *);

/*
 * disk.c: for the device process.  disk_open takes the descriptors on
 * success (disk_close closes them) and leaves them to the caller on
 * failure.  fds[0] is the top image in format fmt (DISK_FMT_AUTO:
 * probe); each qcow2 image that names a backing file takes the next
 * descriptor, in the format its header names or the probe finds.  A
 * chain longer or shorter than nfds, a loop, or more than
 * DISK_CHAIN_MAX images is refused.  The I/O functions return the
 * bytes moved (always all of them) or 0, or -1 with errno: EINVAL for a
 * range outside the disk or too many iovecs, EROFS on a read-only disk,
 * EIO for an image that fails or a table entry that is bad (logged
 * once with log_warnx), ENOSPC.  disk_status says whether
 * [off, off + *pnum) may hold data (1) or reads as zeros (0).
 */
struct disk	*disk_open(enum disk_format, const int *, size_t, int, size_t,
		    char *, size_t);
ssize_t		 disk_preadv(struct disk *, const struct iovec *, int,
		    uint64_t);
ssize_t		 disk_pwritev(struct disk *, const struct iovec *, int,
		    uint64_t);
int		 disk_flush(struct disk *);
int		 disk_discard(struct disk *, uint64_t, uint64_t);
int		 disk_write_zeroes(struct disk *, uint64_t, uint64_t, int);
int		 disk_status(struct disk *, uint64_t, uint64_t, uint64_t *);
uint64_t	 disk_size(const struct disk *);
int		 disk_readonly(const struct disk *);
unsigned int	 disk_features(const struct disk *);
enum disk_format disk_format_of(const struct disk *);
void		 disk_close(struct disk *);

/*
 * disk.c: for the parent and vmctl.  disk_name_format strips a "raw:"
 * or "qcow2:" prefix (which forces the format whatever the file holds)
 * and returns that format, or DISK_FMT_AUTO.  disk_probe reads the
 * magic.  disk_backing reads the backing file name of an open qcow2
 * image and resolves a relative one against the directory of path, the
 * image's own name, as qemu does (no symlinks are followed here; the
 * opener does that with the caller's rights): 1 and the name in buf, 0
 * for none, -1 and a message.  disk_chain_open opens path and its
 * chain with opener (the top O_RDWR unless rdonly, the bases O_RDONLY),
 * locks every image, and refuses loops, chains deeper than
 * DISK_CHAIN_MAX and anything but regular files (and block devices for
 * raw); errno EBUSY means an image is in use.
 */
enum disk_format disk_name_format(const char *, const char **);
enum disk_format disk_ext_format(const char *);
int		 disk_probe(int, enum disk_format *);
int		 disk_lock(int, int, char *, size_t);
int		 disk_backing(int, const char *, char *, size_t,
		    enum disk_format *, char *, size_t);
int		 disk_chain_open(const char *, enum disk_format, int,
		    disk_opener, void *, struct disk_chain *, char *, size_t);
void		 disk_chain_close(struct disk_chain *);
const char	*disk_format_name(enum disk_format);

/*
 * disk.c: for vmctl.  disk_create makes a new file (never overwriting
 * one) of size bytes; a qcow2 image may name a backing file, stored as
 * given.  disk_image_size reads the virtual size of an open image.
 * Both return 0, or -1 with errno set and, where errno alone would not
 * say it, a message in err (else err is "").
 */
int		 disk_create(const char *, enum disk_format, uint64_t,
		    const char *, enum disk_format, char *, size_t);
int		 disk_image_size(int, enum disk_format, uint64_t *, char *,
		    size_t);

/* disk.c: helpers of the format files. */
size_t		 disk_iov_slice(const struct iovec *, int, size_t, size_t,
		    struct iovec *);
void		 disk_iov_zero(const struct iovec *, int, size_t, size_t);
int		 disk_fd_preadv(int, struct iovec *, int, uint64_t);
int		 disk_fd_pwritev(int, struct iovec *, int, uint64_t);
int		 disk_fd_pwrite(int, const void *, size_t, uint64_t);
int		 disk_fd_zero(int, uint64_t, uint64_t, int);
int		 disk_fd_status(int, uint64_t, uint64_t, uint64_t *);
void		 disk_errf(char *, size_t, const char *, ...)
		    __attribute__((__format__(__printf__, 3, 4)));
uint64_t	 disk_fd_size(int);

/* vioraw.c */
extern const struct disk_ops	 disk_raw_ops;
int		 raw_create(int, uint64_t);

/* vioqcow2.c */
extern const struct disk_ops	 disk_qcow2_ops;
int		 qcow2_create(int, uint64_t, unsigned int, const char *,
		    enum disk_format, char *, size_t);
int		 qcow2_header_info(int, uint64_t *, char *, size_t, size_t *,
		    enum disk_format *, char *, size_t);

#endif /* DISK_H */
