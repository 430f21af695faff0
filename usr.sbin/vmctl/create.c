/*
 * create.c: "vmctl create": a new raw or qcow2 disk image, empty, over
 * a qcow2 base image, or converted from another image (-i), with
 * OpenBSD's vmctl rules and messages.  The image formats themselves
 * live in usr.sbin/vmd (disk.h).  It runs with the user's rights, never
 * overwrites a file, never talks to vmd, and leaves no partial image
 * behind when it fails.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "vmctl.h"

#define MB		(1024ULL * 1024)
#define COPY_CHUNK	(1024 * 1024)
#define ZERO_GRAIN	(64 * 1024)	/* all-zero runs this long are skipped */

static int
plain_open(const char *path, int flags, void *arg)
{
	return (open(path, flags));
}

/* -s: at least a megabyte, rounded down to whole megabytes. */
uint64_t
create_size_arg(const char *word)
{
	char		 result[FMT_SCALED_STRSIZE];
	uint64_t	 val, size;

	if (scan_size(word, &val) == -1)
		err(1, "invalid disk size: %s", word);
	if (val < MB)
		errx(1, "disk size must be at least 1MB");
	size = val / MB * MB;
	if (size != val) {
		fmt_size(size, result);
		warnx("disk size rounded to %s", result);
	}
	return (size);
}

/*
 * As OpenBSD's parse_disktype: a "raw:" or "qcow2:" prefix, else the
 * qcow2 magic of an existing file, else the extension, else raw.
 */
int
disk_type(const char *name, const char **path)
{
	enum disk_format fmt;
	int		 fd;

	if ((fmt = disk_name_format(name, path)) != DISK_FMT_AUTO)
		return (fmt);
	if ((fd = open(name, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) != -1) {
		if (disk_probe(fd, &fmt) == 0 && fmt == DISK_FMT_QCOW2) {
			close(fd);
			return (fmt);
		}
		close(fd);
	}
	if ((fmt = disk_ext_format(name)) != DISK_FMT_AUTO)
		return (fmt);
	return (DISK_FMT_RAW);
}

/*
 * The name to store for base: vmd resolves a relative one against the
 * new image's directory (as qemu does).  A relative name is kept when
 * it names the same file from there; a base in that very directory is
 * stored by its file name; anything else by its absolute path.
 */
static const char *
base_name(const char *base, const char *disk, char buf[PATH_MAX])
{
	struct stat	 a, b;
	const char	*slash, *file;
	char		 there[PATH_MAX];
	int		 n;

	if (base[0] == '/')
		return (base);
	if (stat(base, &b) == -1)
		err(1, "%s", base);
	slash = strrchr(disk, '/');
	n = slash == NULL ? 1 : (int)(slash - disk);
	if (slash == NULL)
		disk = ".";
	if (snprintf(there, sizeof(there), "%.*s/%s", n, disk, base) <
	    (int)sizeof(there) && stat(there, &a) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return (base);
	file = (file = strrchr(base, '/')) == NULL ? base : file + 1;
	if (snprintf(there, sizeof(there), "%.*s/%s", n, disk, file) <
	    (int)sizeof(there) && stat(there, &a) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return (file);
	if (realpath(base, buf) == NULL)
		err(1, "%s", base);
	return (buf);
}

/* -b: the base must be a qcow2 image we can open, of the same size. */
static uint64_t
check_base(const char *base, uint64_t size)
{
	char		 msg[DISK_ERR_MAX];
	enum disk_format fmt;
	uint64_t	 bsize;
	int		 fd;

	if ((fd = open(base, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1 ||
	    disk_probe(fd, &fmt) == -1)
		errx(1, "failure to read base image header");
	if (fmt != DISK_FMT_QCOW2)
		errx(1, "base image is not a qcow2 file");
	if (disk_image_size(fd, fmt, &bsize, msg, sizeof(msg)) == -1)
		errx(1, "base image %s: %s", base, msg);
	close(fd);
	if (size == 0)
		return (bsize);
	if (size != bsize)
		errx(1, "base size does not match requested size");
	return (size);
}

static int
all_zero(const uint8_t *p, size_t n)
{
	static const uint8_t zero[ZERO_GRAIN];

	while (n > 0) {
		size_t	 k = n < ZERO_GRAIN ? n : ZERO_GRAIN;

		if (memcmp(p, zero, k) != 0)
			return (0);
		p += k;
		n -= k;
	}
	return (1);
}

static struct disk *
open_image(const char *path, enum disk_format fmt, int rdonly, char *msg,
    size_t len)
{
	struct disk_chain c;
	struct disk	*d;

	if (disk_chain_open(path, fmt, rdonly, plain_open, NULL, &c, msg,
	    len) == -1)
		return (NULL);
	if ((d = disk_open(c.fmt[0], c.fd, c.n, rdonly ? DISK_RDONLY : 0, 0,
	    msg, len)) == NULL)
		disk_chain_close(&c);
	return (d);
}

/*
 * -i: a new image of the input's size (or the one given, not smaller),
 * rounded up to a megabyte, holding what the input holds; what reads
 * as zeros in the input is not written, so the copy stays sparse.
 */
static int
convert(const char *input, const char *disk, enum disk_format type,
    uint64_t size)
{
	char		 msg[DISK_ERR_MAX];
	const char	*src_path, *errstr = NULL;
	enum disk_format stype;
	struct disk	*src, *dst = NULL;
	struct iovec	 iov;
	uint64_t	 ssize, dsize, off, n, pnum;
	uint8_t		*buf = NULL;
	int		 created = 0, saved = 0, st;

	stype = disk_type(input, &src_path);
	if ((src = open_image(src_path, stype, 1, msg, sizeof(msg))) == NULL)
		errx(1, "failed to open source image file: %s", msg);
	ssize = disk_size(src);
	if (size == 0)
		size = ssize;
	if (size < ssize) {
		errstr = "size cannot be smaller than input disk size";
		goto done;
	}
	dsize = (size + MB - 1) / MB * MB;
	if (disk_create(disk, type, dsize, NULL, 0, msg, sizeof(msg)) == -1) {
		saved = errno;
		errstr = "failed to create destination image file";
		goto done;
	}
	created = 1;
	if ((dst = open_image(disk, type, 0, msg, sizeof(msg))) == NULL) {
		saved = errno;
		errstr = "failed to open destination image file";
		goto done;
	}
	if ((buf = malloc(COPY_CHUNK)) == NULL) {
		saved = errno;
		errstr = "failed to allocate buffers";
		goto done;
	}
	for (off = 0; off < ssize; off += n) {
		n = ssize - off < COPY_CHUNK ? ssize - off : COPY_CHUNK;
		if ((st = disk_status(src, off, n, &pnum)) == -1) {
			saved = errno;
			errstr = "failed to read from source";
			goto done;
		}
		if (pnum > 0 && pnum < n)
			n = pnum;
		if (st == 0)
			continue;
		iov.iov_base = buf;
		iov.iov_len = n;
		if (disk_preadv(src, &iov, 1, off) != (ssize_t)n) {
			saved = errno;
			errstr = "failed to read from source";
			goto done;
		}
		if (all_zero(buf, n))
			continue;
		if (disk_pwritev(dst, &iov, 1, off) != (ssize_t)n) {
			saved = errno;
			errstr = "failed to write to destination";
			goto done;
		}
	}
	if (disk_flush(dst) == -1) {
		saved = errno;
		errstr = "failed to write to destination";
		goto done;
	}
	if (size < dsize)
		warnx("destination size rounded to %llu megabytes",
		    (unsigned long long)(dsize / MB));
 done:
	free(buf);
	disk_close(src);
	if (dst != NULL)
		disk_close(dst);
	if (errstr != NULL) {
		if (created)
			(void)unlink(disk);
		if (saved != 0)
			errx(1, "%s: %s", errstr, strerror(saved));
		errx(1, "%s", errstr);
	}
	warnx("%s imagefile created", disk_format_name(type));
	return (0);
}

int
create_image(const struct ctl_command *ctl, const char *name,
    const char *base, const char *input, uint64_t size)
{
	char		 msg[DISK_ERR_MAX], buf[PATH_MAX];
	const char	*disk, *stored = NULL;
	enum disk_format type;

	type = disk_type(name, &disk);
	if (input != NULL) {
		if (base != NULL)
			errx(1, "conflicting -b and -i arguments");
		return (convert(input, disk, type, size));
	}
	if (base != NULL && type != DISK_FMT_QCOW2)
		errx(1, "base images require qcow2 disk format");
	if (size == 0 && base == NULL) {
		fprintf(stderr, "could not create %s: missing size argument\n",
		    disk);
		ctl_usage(ctl);
	}
	if (base != NULL) {
		size = check_base(base, size);
		stored = base_name(base, disk, buf);
	}
	if (disk_create(disk, type, size, stored, DISK_FMT_QCOW2, msg,
	    sizeof(msg)) == -1)
		err(1, "create imagefile operation failed");
	warnx("%s imagefile created", disk_format_name(type));
	return (0);
}
