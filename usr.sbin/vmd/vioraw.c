/*
 * vioraw.c: raw disk images: the guest's bytes are the file's bytes.
 * Files stay sparse: discard punches holes, and write_zeroes punches or
 * zeroes extents before it ever writes zeros.  Whatever a guest writes
 * (a qcow2 header included) is data; this file must never interpret
 * it, and must never touch bytes past the size the image had at open.
 */

#include <sys/types.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "disk.h"

#define RAW_SMALL_IOV	16

static int	 raw_open(struct disk *, char *, size_t);
static ssize_t	 raw_preadv(struct disk *, const struct iovec *, int,
		    uint64_t);
static ssize_t	 raw_pwritev(struct disk *, const struct iovec *, int,
		    uint64_t);
static int	 raw_flush(struct disk *);
static int	 raw_discard(struct disk *, uint64_t, uint64_t);
static int	 raw_write_zeroes(struct disk *, uint64_t, uint64_t, int);
static int	 raw_status(struct disk *, uint64_t, uint64_t, uint64_t *);
static void	 raw_close(struct disk *);

const struct disk_ops disk_raw_ops = {
	.name = "raw",
	.open = raw_open,
	.preadv = raw_preadv,
	.pwritev = raw_pwritev,
	.flush = raw_flush,
	.discard = raw_discard,
	.write_zeroes = raw_write_zeroes,
	.status = raw_status,
	.close = raw_close
};

int
raw_create(int fd, uint64_t size)
{
	if (size > INT64_MAX) {
		errno = EFBIG;
		return (-1);
	}
	if (ftruncate(fd, (off_t)size) == -1)
		return (-1);
	return (fsync(fd));
}

static int
raw_open(struct disk *d, char *err, size_t errlen)
{
	if (d->nfds != 1) {
		disk_errf(err, errlen, "a raw image has no backing file");
		errno = EINVAL;
		return (-1);
	}
	d->size = disk_fd_size(d->fds[0]);
	d->features = DISK_F_DISCARD | DISK_F_WRITE_ZEROES;
	return (0);
}

/*
 * The iovecs are the caller's (guest RAM): copy them so the short
 * transfer loop may advance its own array.
 */
static ssize_t
raw_io(struct disk *d, const struct iovec *iov, int cnt, uint64_t off,
    int write)
{
	struct iovec	 small[RAW_SMALL_IOV], *tmp = small;
	size_t		 len = 0;
	int		 i, r;

	if (cnt > RAW_SMALL_IOV &&
	    (tmp = reallocarray(NULL, cnt, sizeof(*tmp))) == NULL)
		return (-1);
	for (i = 0; i < cnt; i++) {
		tmp[i] = iov[i];
		len += iov[i].iov_len;
	}
	if (write)
		r = disk_fd_pwritev(d->fds[0], tmp, cnt, off);
	else
		r = disk_fd_preadv(d->fds[0], tmp, cnt, off);
	if (tmp != small)
		free(tmp);
	return (r == -1 ? -1 : (ssize_t)len);
}

static ssize_t
raw_preadv(struct disk *d, const struct iovec *iov, int cnt, uint64_t off)
{
	return (raw_io(d, iov, cnt, off, 0));
}

static ssize_t
raw_pwritev(struct disk *d, const struct iovec *iov, int cnt, uint64_t off)
{
	return (raw_io(d, iov, cnt, off, 1));
}

static int
raw_flush(struct disk *d)
{
	return (fdatasync(d->fds[0]));
}

/* A discard is a hint: where holes cannot be punched it does nothing. */
static int
raw_discard(struct disk *d, uint64_t off, uint64_t len)
{
	if (disk_fd_zero(d->fds[0], off, len, 1) == -1 &&
	    errno != EOPNOTSUPP && errno != ENOSYS)
		return (-1);
	return (0);
}

static int
raw_write_zeroes(struct disk *d, uint64_t off, uint64_t len, int unmap)
{
	return (disk_fd_zero(d->fds[0], off, len, unmap));
}

static int
raw_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum)
{
	return (disk_fd_status(d->fds[0], off, len, pnum));
}

static void
raw_close(struct disk *d)
{
	if (!(d->flags & DISK_RDONLY))
		(void)fdatasync(d->fds[0]);
}
