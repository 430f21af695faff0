/*
 * disk.c: the front of the disk image formats: the checked wrappers the
 * vioblk device calls (which pick the format's ops), format detection,
 * image locks, backing chain walking for the parent, image creation for
 * vmctl, and the iovec and descriptor helpers vioraw.c and vioqcow2.c
 * share.  It must never open a file by itself except in disk_create and
 * through the caller's opener, never follow a name an image gives
 * without that opener, and never let a request outside the disk reach a
 * format.
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "disk.h"

#define QCOW2_MAGIC		"QFI\xfb"
#define ZERO_BUF		(64 * 1024)

static const uint8_t	 zero_buf[ZERO_BUF];

static const struct disk_ops *
format_ops(enum disk_format fmt)
{
	return (fmt == DISK_FMT_QCOW2 ? &disk_qcow2_ops : &disk_raw_ops);
}

void
disk_errf(char *err, size_t len, const char *fmt, ...)
{
	va_list		 ap;

	if (err == NULL || len == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

const char *
disk_format_name(enum disk_format fmt)
{
	switch (fmt) {
	case DISK_FMT_RAW:
		return ("raw");
	case DISK_FMT_QCOW2:
		return ("qcow2");
	default:
		return ("auto");
	}
}

/*
 * The same file twice in a chain is a loop; so is a descriptor that is
 * not a regular file (or, for a raw image, a block device).
 */
static int
same_file(const struct stat *a, const struct stat *b)
{
	return (a->st_dev == b->st_dev && a->st_ino == b->st_ino);
}

struct disk *
disk_open(enum disk_format fmt, const int *fds, size_t nfds, int flags,
    size_t cache, char *err, size_t errlen)
{
	struct disk	*d;
	struct stat	 st[DISK_CHAIN_MAX];
	size_t		 i, j;
	int		 mode;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (nfds == 0 || nfds > DISK_CHAIN_MAX) {
		disk_errf(err, errlen, "%zu images in a disk (1 to %d)",
		    nfds, DISK_CHAIN_MAX);
		errno = EINVAL;
		return (NULL);
	}
	for (i = 0; i < nfds; i++) {
		if (fstat(fds[i], &st[i]) == -1) {
			disk_errf(err, errlen, "image %zu: %s", i,
			    strerror(errno));
			return (NULL);
		}
		if (!S_ISREG(st[i].st_mode) && !S_ISBLK(st[i].st_mode)) {
			disk_errf(err, errlen, "image %zu is not a regular "
			    "file", i);
			errno = EINVAL;
			return (NULL);
		}
		for (j = 0; j < i; j++)
			if (same_file(&st[i], &st[j])) {
				disk_errf(err, errlen, "backing file loop: "
				    "image %zu is image %zu", i, j);
				errno = ELOOP;
				return (NULL);
			}
	}
	if (!(flags & DISK_RDONLY)) {
		if ((mode = fcntl(fds[0], F_GETFL)) == -1)
			mode = O_RDONLY;
		if ((mode & O_ACCMODE) == O_RDONLY) {
			disk_errf(err, errlen, "image is open read-only");
			errno = EBADF;
			return (NULL);
		}
	}
	for (i = 0; i < nfds; i++)
		if (disk_lock(fds[i], i > 0 || (flags & DISK_RDONLY),
		    err, errlen) == -1)
			return (NULL);
	if (fmt == DISK_FMT_AUTO && disk_probe(fds[0], &fmt) == -1) {
		disk_errf(err, errlen, "cannot read the image: %s",
		    strerror(errno));
		return (NULL);
	}
	if (fmt == DISK_FMT_QCOW2 && !S_ISREG(st[0].st_mode)) {
		disk_errf(err, errlen, "a qcow2 image must be a regular file");
		errno = EINVAL;
		return (NULL);
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		disk_errf(err, errlen, "%s", strerror(errno));
		return (NULL);
	}
	d->ops = format_ops(fmt);
	d->fmt = fmt;
	d->flags = flags & DISK_RDONLY;
	d->cache = cache == 0 ? DISK_CACHE_DEFAULT : cache;
	if (d->cache < DISK_CACHE_MIN)
		d->cache = DISK_CACHE_MIN;
	memcpy(d->fds, fds, nfds * sizeof(*fds));
	d->nfds = nfds;
	if (d->ops->open(d, err, errlen) == -1) {
		if (errno == 0)
			errno = EINVAL;
		free(d);
		return (NULL);
	}
	return (d);
}

/* The total length of iov, or -1 (EINVAL) for a request we refuse. */
static int
request_check(struct disk *d, const struct iovec *iov, int cnt,
    uint64_t off, uint64_t *lenp)
{
	uint64_t	 len = 0;
	int		 i;

	if (cnt < 0 || cnt > DISK_IOV_MAX) {
		errno = EINVAL;
		return (-1);
	}
	for (i = 0; i < cnt; i++) {
		if (iov[i].iov_len > d->size || len + iov[i].iov_len < len) {
			errno = EINVAL;
			return (-1);
		}
		len += iov[i].iov_len;
	}
	if (off > d->size || len > d->size - off) {
		errno = EINVAL;
		return (-1);
	}
	*lenp = len;
	return (0);
}

static int
range_check(struct disk *d, uint64_t off, uint64_t len)
{
	if (off > d->size || len > d->size - off) {
		errno = EINVAL;
		return (-1);
	}
	return (0);
}

ssize_t
disk_preadv(struct disk *d, const struct iovec *iov, int cnt, uint64_t off)
{
	uint64_t	 len;

	if (request_check(d, iov, cnt, off, &len) == -1)
		return (-1);
	if (len == 0)
		return (0);
	if (len > SSIZE_MAX) {
		errno = EINVAL;
		return (-1);
	}
	return (d->ops->preadv(d, iov, cnt, off));
}

ssize_t
disk_pwritev(struct disk *d, const struct iovec *iov, int cnt, uint64_t off)
{
	uint64_t	 len;

	if (request_check(d, iov, cnt, off, &len) == -1)
		return (-1);
	if (d->flags & DISK_RDONLY) {
		errno = EROFS;
		return (-1);
	}
	if (len == 0)
		return (0);
	if (len > SSIZE_MAX) {
		errno = EINVAL;
		return (-1);
	}
	return (d->ops->pwritev(d, iov, cnt, off));
}

int
disk_flush(struct disk *d)
{
	if (d->flags & DISK_RDONLY)
		return (0);
	return (d->ops->flush(d));
}

int
disk_discard(struct disk *d, uint64_t off, uint64_t len)
{
	if (range_check(d, off, len) == -1)
		return (-1);
	if (d->flags & DISK_RDONLY) {
		errno = EROFS;
		return (-1);
	}
	if (len == 0)
		return (0);
	return (d->ops->discard(d, off, len));
}

int
disk_write_zeroes(struct disk *d, uint64_t off, uint64_t len, int unmap)
{
	if (range_check(d, off, len) == -1)
		return (-1);
	if (d->flags & DISK_RDONLY) {
		errno = EROFS;
		return (-1);
	}
	if (len == 0)
		return (0);
	return (d->ops->write_zeroes(d, off, len, unmap));
}

int
disk_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum)
{
	if (range_check(d, off, len) == -1)
		return (-1);
	if (len == 0) {
		*pnum = 0;
		return (0);
	}
	return (d->ops->status(d, off, len, pnum));
}

uint64_t
disk_size(const struct disk *d)
{
	return (d->size);
}

int
disk_readonly(const struct disk *d)
{
	return (d->flags & DISK_RDONLY);
}

unsigned int
disk_features(const struct disk *d)
{
	return (d->features);
}

enum disk_format
disk_format_of(const struct disk *d)
{
	return (d->fmt);
}

void
disk_close(struct disk *d)
{
	size_t		 i;

	if (d == NULL)
		return;
	d->ops->close(d);
	for (i = 0; i < d->nfds; i++)
		(void)close(d->fds[i]);
	free(d);
}

enum disk_format
disk_name_format(const char *name, const char **path)
{
	*path = name;
	if (strncmp(name, "raw:", 4) == 0) {
		*path = name + 4;
		return (DISK_FMT_RAW);
	}
	if (strncmp(name, "qcow2:", 6) == 0) {
		*path = name + 6;
		return (DISK_FMT_QCOW2);
	}
	return (DISK_FMT_AUTO);
}

/* vmctl create: the extension names the format of a file not made yet. */
enum disk_format
disk_ext_format(const char *path)
{
	const char	*slash, *ext;

	slash = strrchr(path, '/');
	ext = strrchr(slash != NULL ? slash : path, '.');
	if (ext == NULL || ext[1] == '\0')
		return (DISK_FMT_AUTO);
	if (strcasecmp(ext + 1, "raw") == 0)
		return (DISK_FMT_RAW);
	if (strcasecmp(ext + 1, "qcow2") == 0)
		return (DISK_FMT_QCOW2);
	return (DISK_FMT_AUTO);
}

int
disk_probe(int fd, enum disk_format *fmt)
{
	char		 magic[4];
	ssize_t		 n;

	do {
		n = pread(fd, magic, sizeof(magic), 0);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return (-1);
	*fmt = (n == (ssize_t)sizeof(magic) &&
	    memcmp(magic, QCOW2_MAGIC, sizeof(magic)) == 0) ?
	    DISK_FMT_QCOW2 : DISK_FMT_RAW;
	return (0);
}

/*
 * An OFD lock over the whole file (see disk.h).  Taking it again on the
 * same open file description is a no-op, so the parent and the device
 * process may both take it.
 */
int
disk_lock(int fd, int shared, char *err, size_t errlen)
{
	struct flock	 fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = shared ? F_RDLCK : F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return (0);
	if (errno == EAGAIN || errno == EACCES) {
		disk_errf(err, errlen, "disk image is in use");
		errno = EBUSY;
	} else
		disk_errf(err, errlen, "cannot lock the disk image: %s",
		    strerror(errno));
	return (-1);
}

/*
 * As qemu's path_combine: a relative backing name is taken from the
 * directory part of the image's own name, or as is when that name has
 * none.
 */
int
disk_backing(int fd, const char *path, char *buf, size_t len,
    enum disk_format *fmt, char *err, size_t errlen)
{
	char		 name[1024];
	const char	*slash;
	size_t		 nlen, dlen;
	uint64_t	 size;

	if (qcow2_header_info(fd, &size, name, sizeof(name), &nlen, fmt,
	    err, errlen) == -1)
		return (-1);
	if (nlen == 0)
		return (0);
	if (strncmp(name, "json:", 5) == 0) {
		disk_errf(err, errlen, "backing file \"%s\": json: names are "
		    "not supported", name);
		errno = EINVAL;
		return (-1);
	}
	slash = strrchr(path, '/');
	if (name[0] == '/' || slash == NULL) {
		if (nlen >= len)
			goto toolong;
		memcpy(buf, name, nlen + 1);
		return (1);
	}
	dlen = (size_t)(slash - path) + 1;
	if (dlen + nlen >= len)
		goto toolong;
	memcpy(buf, path, dlen);
	memcpy(buf + dlen, name, nlen + 1);
	return (1);
 toolong:
	disk_errf(err, errlen, "backing file name too long");
	errno = ENAMETOOLONG;
	return (-1);
}

void
disk_chain_close(struct disk_chain *c)
{
	size_t		 i;

	for (i = 0; i < c->n; i++)
		(void)close(c->fd[i]);
	c->n = 0;
}

int
disk_chain_open(const char *name, enum disk_format fmt, int rdonly,
    disk_opener opener, void *arg, struct disk_chain *c, char *err,
    size_t errlen)
{
	char		 path[PATH_MAX], next[PATH_MAX];
	struct stat	 st[DISK_CHAIN_MAX];
	enum disk_format bfmt;
	size_t		 i;
	int		 fd, flags, r, saved;

	c->n = 0;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (fmt == DISK_FMT_AUTO)
		fmt = disk_name_format(name, &name);
	if (strlen(name) >= sizeof(path)) {
		disk_errf(err, errlen, "disk path too long");
		errno = ENAMETOOLONG;
		return (-1);
	}
	(void)strcpy(path, name);
	flags = rdonly ? O_RDONLY : O_RDWR;
	for (;;) {
		if (c->n == DISK_CHAIN_MAX) {
			disk_errf(err, errlen, "%s: backing chain deeper "
			    "than %d images", name, DISK_CHAIN_MAX);
			errno = ELOOP;
			goto fail;
		}
		/* O_NONBLOCK: a fifo named as a backing file must not hang */
		if ((fd = opener(path, flags | O_CLOEXEC | O_NONBLOCK,
		    arg)) == -1) {
			disk_errf(err, errlen, "%s: %s", path,
			    strerror(errno));
			goto fail;
		}
		c->fd[c->n] = fd;
		c->fmt[c->n] = fmt;
		c->n++;
		if (fstat(fd, &st[c->n - 1]) == -1) {
			disk_errf(err, errlen, "%s: %s", path,
			    strerror(errno));
			goto fail;
		}
		for (i = 0; i + 1 < c->n; i++)
			if (same_file(&st[i], &st[c->n - 1])) {
				disk_errf(err, errlen, "%s: backing file loop",
				    path);
				errno = ELOOP;
				goto fail;
			}
		if (!S_ISREG(st[c->n - 1].st_mode) &&
		    !(S_ISBLK(st[c->n - 1].st_mode) && fmt == DISK_FMT_RAW)) {
			disk_errf(err, errlen, "%s: not a regular file", path);
			errno = EINVAL;
			goto fail;
		}
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		if (disk_lock(fd, rdonly || c->n > 1, err, errlen) == -1) {
			saved = errno;
			if (saved == EBUSY)
				disk_errf(err, errlen, "%s: disk image is in "
				    "use", path);
			errno = saved;
			goto fail;
		}
		if (fmt == DISK_FMT_AUTO) {
			if (disk_probe(fd, &fmt) == -1) {
				disk_errf(err, errlen, "%s: %s", path,
				    strerror(errno));
				goto fail;
			}
			c->fmt[c->n - 1] = fmt;
		}
		if (fmt != DISK_FMT_QCOW2)
			return (0);
		r = disk_backing(fd, path, next, sizeof(next), &bfmt, err,
		    errlen);
		if (r == -1) {
			saved = errno;
			if (strncmp(err, "backing", 7) != 0) {
				char	 msg[DISK_ERR_MAX];

				(void)snprintf(msg, sizeof(msg), "%s", err);
				disk_errf(err, errlen, "%s: %s", path, msg);
			}
			errno = saved;
			goto fail;
		}
		if (r == 0)
			return (0);
		(void)strcpy(path, next);
		fmt = bfmt;
		flags = O_RDONLY;
	}
 fail:
	saved = errno;
	disk_chain_close(c);
	errno = saved;
	return (-1);
}

int
disk_create(const char *path, enum disk_format fmt, uint64_t size,
    const char *base, enum disk_format basefmt, char *err, size_t errlen)
{
	int		 fd, r, saved;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (base != NULL && fmt != DISK_FMT_QCOW2) {
		disk_errf(err, errlen, "base images require qcow2 disk "
		    "format");
		errno = EINVAL;
		return (-1);
	}
	/* Never overwrite: an image may be somebody's disk. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    S_IRUSR | S_IWUSR)) == -1)
		return (-1);
	if (fmt == DISK_FMT_QCOW2)
		r = qcow2_create(fd, size, 16, base, basefmt, err, errlen);
	else
		r = raw_create(fd, size);
	saved = errno;
	if (close(fd) == -1 && r == 0) {
		r = -1;
		saved = errno;
	}
	if (r == -1) {
		(void)unlink(path);
		errno = saved;
	}
	return (r);
}

int
disk_image_size(int fd, enum disk_format fmt, uint64_t *size, char *err,
    size_t errlen)
{
	size_t		 nlen;
	enum disk_format bfmt;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (fmt == DISK_FMT_AUTO && disk_probe(fd, &fmt) == -1)
		return (-1);
	if (fmt == DISK_FMT_QCOW2)
		return (qcow2_header_info(fd, size, NULL, 0, &nlen, &bfmt,
		    err, errlen));
	*size = disk_fd_size(fd);
	return (0);
}

uint64_t
disk_fd_size(int fd)
{
	struct stat	 st;
	uint64_t	 size;

	if (fstat(fd, &st) == -1)
		return (0);
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) == -1)
			return (0);
		return (size);
	}
	return (st.st_size < 0 ? 0 : (uint64_t)st.st_size);
}

/*
 * Fill out[] with the part [skip, skip + len) of iov; out has room for
 * as many entries as iov.  Returns the number of entries used.
 */
size_t
disk_iov_slice(const struct iovec *iov, int cnt, size_t skip, size_t len,
    struct iovec *out)
{
	size_t		 n = 0, take;
	int		 i;

	for (i = 0; i < cnt && len > 0; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - skip;
		if (take > len)
			take = len;
		out[n].iov_base = (char *)iov[i].iov_base + skip;
		out[n].iov_len = take;
		n++;
		len -= take;
		skip = 0;
	}
	return (n);
}

void
disk_iov_zero(const struct iovec *iov, int cnt, size_t skip, size_t len)
{
	size_t		 take;
	int		 i;

	for (i = 0; i < cnt && len > 0; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - skip;
		if (take > len)
			take = len;
		memset((char *)iov[i].iov_base + skip, 0, take);
		len -= take;
		skip = 0;
	}
}

/* Drop n bytes from the front of iov[*cnt]; returns the new start. */
static struct iovec *
iov_advance(struct iovec *iov, int *cnt, size_t n)
{
	while (*cnt > 0 && n >= iov->iov_len) {
		n -= iov->iov_len;
		iov++;
		(*cnt)--;
	}
	if (*cnt > 0) {
		iov->iov_base = (char *)iov->iov_base + n;
		iov->iov_len -= n;
	}
	return (iov);
}

/*
 * Read all of iov (which this changes) from fd at off; what lies past
 * the end of the file reads as zeros.
 */
int
disk_fd_preadv(int fd, struct iovec *iov, int cnt, uint64_t off)
{
	ssize_t		 n;

	while (cnt > 0) {
		if (iov->iov_len == 0) {
			iov++;
			cnt--;
			continue;
		}
		n = preadv(fd, iov, cnt > DISK_IOV_MAX ? DISK_IOV_MAX : cnt,
		    (off_t)off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0) {
			for (; cnt > 0; iov++, cnt--)
				memset(iov->iov_base, 0, iov->iov_len);
			return (0);
		}
		off += (uint64_t)n;
		iov = iov_advance(iov, &cnt, (size_t)n);
	}
	return (0);
}

int
disk_fd_pwritev(int fd, struct iovec *iov, int cnt, uint64_t off)
{
	ssize_t		 n;

	while (cnt > 0) {
		if (iov->iov_len == 0) {
			iov++;
			cnt--;
			continue;
		}
		n = pwritev(fd, iov, cnt > DISK_IOV_MAX ? DISK_IOV_MAX : cnt,
		    (off_t)off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0) {
			errno = EIO;
			return (-1);
		}
		off += (uint64_t)n;
		iov = iov_advance(iov, &cnt, (size_t)n);
	}
	return (0);
}

int
disk_fd_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	struct iovec	 iov;

	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	return (disk_fd_pwritev(fd, &iov, 1, off));
}

/*
 * Make [off, off + len) of fd read as zeros: a hole when unmap allows,
 * else zeroed extents, else written zeros.  Never changes the size.
 */
int
disk_fd_zero(int fd, uint64_t off, uint64_t len, int unmap)
{
	struct iovec	 iov[16];
	uint64_t	 n;
	int		 i;

	if (unmap && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    (off_t)off, (off_t)len) == 0)
		return (0);
	if (fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
	    (off_t)off, (off_t)len) == 0)
		return (0);
	if (errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL)
		return (-1);
	while (len > 0) {
		n = 0;
		for (i = 0; i < 16 && n < len; i++) {
			iov[i].iov_base = (void *)zero_buf;
			iov[i].iov_len = len - n < ZERO_BUF ? len - n :
			    ZERO_BUF;
			n += iov[i].iov_len;
		}
		if (disk_fd_pwritev(fd, iov, i, off) == -1)
			return (-1);
		off += n;
		len -= n;
	}
	return (0);
}

/*
 * Whether [off, off + *pnum) of fd may hold data (1) or reads as zeros
 * (0): holes, found with SEEK_DATA and SEEK_HOLE, read as zeros.
 */
int
disk_fd_status(int fd, uint64_t off, uint64_t len, uint64_t *pnum)
{
	off_t		 data, hole;

	data = lseek(fd, (off_t)off, SEEK_DATA);
	if (data == -1) {
		*pnum = len;
		/* ENXIO: no data after off; else no SEEK_DATA here */
		return (errno == ENXIO ? 0 : 1);
	}
	if ((uint64_t)data > off) {
		*pnum = (uint64_t)data - off < len ? (uint64_t)data - off : len;
		return (0);
	}
	hole = lseek(fd, (off_t)off, SEEK_HOLE);
	if (hole == -1 || (uint64_t)hole <= off)
		*pnum = len;
	else
		*pnum = (uint64_t)hole - off < len ? (uint64_t)hole - off : len;
	return (1);
}
