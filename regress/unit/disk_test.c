/*
 * disk_test.c: unit tests of the disk image library (disk.c, vioraw.c,
 * vioqcow2.c) over files in a scratch directory: raw and qcow2 reads
 * and writes against an in-memory copy of what the disk must hold (all
 * cluster sizes, v2 and v3, backing chains of qcow2 and raw with
 * copy-on-write, zero clusters, refcount table growth, a tiny cache,
 * threads writing the same clusters), every header check with a hostile
 * header, bad table entries met by requests, chain walking (names,
 * loops, depth), image locks, format detection and creation.  QEMU's
 * tools are not used here (regress/e2e/disk_interop.sh does that).  It
 * must clean up its scratch directory and never touch anything else.
 */

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "regress/test.h"

#define MB		(1024ULL * 1024)

static char		 dir[] = "/tmp/disk_test.XXXXXX";
static char		 msg[DISK_ERR_MAX];
static uint64_t		 seed = 1;

static uint64_t
rnd(void)
{
	uint64_t	 z = (seed += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

static void
fill(uint8_t *p, size_t n)
{
	size_t		 i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static const char *
path(const char *name)
{
	static char	 buf[4][PATH_MAX];
	static int	 k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return (buf[k]);
}

static int
plain_open(const char *p, int flags, void *arg)
{
	int		*last = arg;

	if (last != NULL)
		*last = flags;
	return (open(p, flags));
}

static struct disk *
dopen_all(const char *name, int flags, size_t cache, enum disk_format fmt)
{
	struct disk_chain c;
	struct disk	*d;

	if (disk_chain_open(path(name), fmt, flags & DISK_RDONLY,
	    plain_open, NULL, &c, msg, sizeof(msg)) == -1)
		return (NULL);
	if ((d = disk_open(c.fmt[0], c.fd, c.n, flags, cache, msg,
	    sizeof(msg))) == NULL)
		disk_chain_close(&c);
	return (d);
}

static struct disk *
dopen_cache(const char *name, int flags, size_t cache)
{
	return (dopen_all(name, flags, cache, DISK_FMT_AUTO));
}

static struct disk *
dopen_fmt(const char *name, int flags, enum disk_format fmt)
{
	return (dopen_all(name, flags, 0, fmt));
}

static struct disk *
dopen(const char *name, int flags)
{
	return (dopen_all(name, flags, 0, DISK_FMT_AUTO));
}

static int
mkqcow(const char *name, uint64_t size, unsigned int cbits,
    const char *base, enum disk_format bfmt)
{
	int		 fd, r;

	(void)unlink(path(name));
	if ((fd = open(path(name), O_RDWR | O_CREAT | O_EXCL, 0600)) == -1)
		return (-1);
	r = qcow2_create(fd, size, cbits, base, bfmt, msg, sizeof(msg));
	close(fd);
	return (r);
}

static int
mkraw(const char *name, uint64_t size)
{
	(void)unlink(path(name));
	return (disk_create(path(name), DISK_FMT_RAW, size, NULL, 0, msg,
	    sizeof(msg)));
}

static void
patch(const char *name, uint64_t off, const void *p, size_t n)
{
	int		 fd = open(path(name), O_WRONLY);

	if (fd == -1 || pwrite(fd, p, n, (off_t)off) != (ssize_t)n)
		abort();
	close(fd);
}

static void
patch32(const char *name, uint64_t off, uint32_t v)
{
	v = htobe32(v);
	patch(name, off, &v, 4);
}

static void
patch64(const char *name, uint64_t off, uint64_t v)
{
	v = htobe64(v);
	patch(name, off, &v, 8);
}

static uint64_t
peek64(const char *name, uint64_t off)
{
	uint64_t	 v = 0;
	int		 fd = open(path(name), O_RDONLY);

	if (fd == -1 || pread(fd, &v, 8, (off_t)off) != 8)
		abort();
	close(fd);
	return (be64toh(v));
}

/* A cheap digest of a whole file, to prove it did not change. */
static uint64_t
file_sum(const char *name)
{
	uint8_t		 buf[65536];
	uint64_t	 h = 1469598103934665603ULL;
	ssize_t		 n, i;
	int		 fd = open(path(name), O_RDONLY);

	if (fd == -1)
		return (0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++)
			h = (h ^ buf[i]) * 1099511628211ULL;
	close(fd);
	return (h);
}

static int
dread(struct disk *d, void *p, size_t n, uint64_t off)
{
	struct iovec	 iov = { p, n };

	return (disk_preadv(d, &iov, 1, off) == (ssize_t)n ? 0 : -1);
}

/* Written as up to three iovecs, to exercise the slicing. */
static int
dwrite(struct disk *d, const void *p, size_t n, uint64_t off)
{
	struct iovec	 iov[3];
	size_t		 a = n / 3, b = n / 2;

	iov[0].iov_base = (void *)p;
	iov[0].iov_len = a;
	iov[1].iov_base = (char *)p + a;
	iov[1].iov_len = b - a;
	iov[2].iov_base = (char *)p + b;
	iov[2].iov_len = n - b;
	return (disk_pwritev(d, iov, 3, off) == (ssize_t)n ? 0 : -1);
}

/* The whole disk equals ref. */
static int
same(struct disk *d, const uint8_t *ref, uint64_t size)
{
	uint8_t		*buf = malloc(size);
	int		 r;

	if (buf == NULL || dread(d, buf, size, 0) == -1) {
		free(buf);
		return (0);
	}
	r = memcmp(buf, ref, size) == 0;
	free(buf);
	return (r);
}

/*
 * n random writes, zeroings and discards, mirrored into ref (a discard
 * is mirrored as what reads back, checked to be zeros or old bytes).
 */
static int
random_ops(struct disk *d, uint8_t *ref, uint64_t size, int n)
{
	uint8_t		*buf = malloc(1 << 20);
	uint64_t	 off, len, i;
	int		 k, op, ok = 1;

	for (k = 0; k < n && ok; k++) {
		off = rnd() % size;
		if (rnd() % 2)
			off &= ~511ULL;
		len = 1 + rnd() % (rnd() % 4 == 0 ? (1 << 20) : 9000);
		if (len > size - off)
			len = size - off;
		op = (int)(rnd() % 10);
		if (op < 7) {
			fill(buf, len);
			ok = dwrite(d, buf, len, off) == 0;
			memcpy(ref + off, buf, len);
		} else if (op < 9) {
			ok = disk_write_zeroes(d, off, len, op == 8) == 0;
			memset(ref + off, 0, len);
		} else {
			ok = disk_discard(d, off, len) == 0 &&
			    dread(d, buf, len, off) == 0;
			for (i = 0; ok && i < len; i++)
				ok = buf[i] == 0 || buf[i] == ref[off + i];
			memcpy(ref + off, buf, len);
		}
		if (ok && rnd() % 8 == 0)
			ok = disk_flush(d) == 0;
	}
	free(buf);
	return (ok);
}

static void
test_raw(void)
{
	struct disk	*d;
	uint8_t		*ref = calloc(1, 4 * MB), buf[8192];
	struct iovec	 iov[DISK_IOV_MAX + 1];
	uint64_t	 pnum;

	CHECK(mkraw("r.raw", 4 * MB) == 0);
	CHECK((d = dopen("r.raw", 0)) != NULL);
	if (d == NULL)
		return;
	CHECK(disk_size(d) == 4 * MB);
	CHECK(disk_format_of(d) == DISK_FMT_RAW);
	CHECK(disk_features(d) == (DISK_F_DISCARD | DISK_F_WRITE_ZEROES));
	CHECK(random_ops(d, ref, 4 * MB, 300));
	CHECK(same(d, ref, 4 * MB));
	/* a punched range is a hole */
	CHECK(disk_discard(d, 1 * MB, 1 * MB) == 0);
	memset(ref + MB, 0, MB);
	CHECK(disk_status(d, MB, MB, &pnum) == 0 && pnum == MB);
	CHECK(same(d, ref, 4 * MB));
	/* outside the disk, too many iovecs */
	CHECK(dread(d, buf, 2, 4 * MB - 1) == -1 && errno == EINVAL);
	CHECK(dwrite(d, buf, 512, 4 * MB) == -1 && errno == EINVAL);
	CHECK(disk_write_zeroes(d, 4 * MB - 10, 11, 0) == -1 &&
	    errno == EINVAL);
	memset(iov, 0, sizeof(iov));
	CHECK(disk_preadv(d, iov, DISK_IOV_MAX + 1, 0) == -1 &&
	    errno == EINVAL);
	disk_close(d);
	CHECK((d = dopen("r.raw", DISK_RDONLY)) != NULL);
	if (d != NULL) {
		CHECK(disk_readonly(d));
		CHECK(dwrite(d, buf, 512, 0) == -1 && errno == EROFS);
		CHECK(disk_discard(d, 0, 512) == -1 && errno == EROFS);
		CHECK(same(d, ref, 4 * MB));
		disk_close(d);
	}
	free(ref);
}

static void
check_qcow(unsigned int cbits, int version)
{
	struct disk	*d;
	uint64_t	 size = 8 * MB + 12345;
	uint8_t		*ref = calloc(1, size);

	CHECK(mkqcow("q.qcow2", size, cbits, NULL, 0) == 0);
	if (version == 2)
		patch32("q.qcow2", 4, 2);
	CHECK((d = dopen("q.qcow2", 0)) != NULL);
	if (d == NULL) {
		printf("# %s\n", msg);
		free(ref);
		return;
	}
	CHECK(disk_size(d) == size);
	CHECK(disk_format_of(d) == DISK_FMT_QCOW2);
	CHECK(random_ops(d, ref, size, 250));
	CHECK(same(d, ref, size));
	disk_close(d);
	/* what was closed is what reopens */
	CHECK((d = dopen("q.qcow2", DISK_RDONLY)) != NULL);
	if (d != NULL) {
		CHECK(same(d, ref, size));
		disk_close(d);
	}
	free(ref);
}

static void
test_qcow2_clusters(void)
{
	unsigned int	 cb;

	for (cb = 9; cb <= 21; cb += 3)
		check_qcow(cb, 3);
	check_qcow(21, 3);
}

static void
test_qcow2_v2(void)
{
	check_qcow(12, 2);
	check_qcow(16, 2);
}

/* Partial writes to an overlay copy the rest of the cluster. */
static void
check_cow(unsigned int tb, unsigned int bb, enum disk_format bfmt, int ver)
{
	struct disk	*d, *b;
	uint64_t	 size = 6 * MB, bsize = 5 * MB, sum;
	uint8_t		*ref = calloc(1, size);

	if (bfmt == DISK_FMT_RAW)
		CHECK(mkraw("b.img", bsize) == 0);
	else
		CHECK(mkqcow("b.img", bsize, bb, NULL, 0) == 0);
	CHECK((b = dopen("b.img", 0)) != NULL);
	if (b == NULL)
		return;
	fill(ref, bsize);
	CHECK(dwrite(b, ref, bsize, 0) == 0);
	CHECK(disk_write_zeroes(b, MB, 256 * 1024, 0) == 0);
	memset(ref + MB, 0, 256 * 1024);
	disk_close(b);
	sum = file_sum("b.img");
	CHECK(mkqcow("t.qcow2", size, tb, "b.img", bfmt) == 0);
	if (ver == 2)
		patch32("t.qcow2", 4, 2);
	CHECK((d = dopen("t.qcow2", 0)) != NULL);
	if (d == NULL) {
		printf("# %s\n", msg);
		return;
	}
	CHECK(same(d, ref, size));
	CHECK(random_ops(d, ref, size, 200));
	CHECK(same(d, ref, size));
	disk_close(d);
	CHECK(file_sum("b.img") == sum);
	CHECK((d = dopen("t.qcow2", DISK_RDONLY)) != NULL);
	if (d != NULL) {
		CHECK(same(d, ref, size));
		disk_close(d);
	}
	free(ref);
}

static void
test_backing(void)
{
	check_cow(16, 16, DISK_FMT_QCOW2, 3);
	check_cow(12, 16, DISK_FMT_QCOW2, 3);
	check_cow(16, 9, DISK_FMT_QCOW2, 3);
	check_cow(21, 12, DISK_FMT_QCOW2, 3);
	check_cow(16, 0, DISK_FMT_RAW, 3);
	check_cow(12, 12, DISK_FMT_QCOW2, 2);
}

/* Without a backing format extension the base is probed. */
static void
test_backing_probe(void)
{
	struct disk	*d;
	uint8_t		 buf[4096], got[4096];

	CHECK(mkqcow("b.img", MB, 16, NULL, 0) == 0);
	CHECK((d = dopen("b.img", 0)) != NULL);
	if (d == NULL)
		return;
	fill(buf, sizeof(buf));
	CHECK(dwrite(d, buf, sizeof(buf), 4096) == 0);
	disk_close(d);
	CHECK(mkqcow("t.qcow2", MB, 16, "b.img", DISK_FMT_QCOW2) == 0);
	/* blank the extension's type: now unknown, so skipped */
	patch32("t.qcow2", 104, 0x12345678);
	CHECK((d = dopen("t.qcow2", DISK_RDONLY)) != NULL);
	if (d != NULL) {
		CHECK(dread(d, got, sizeof(got), 4096) == 0);
		CHECK(memcmp(got, buf, sizeof(buf)) == 0);
		disk_close(d);
	}
}

/*
 * 512-byte clusters: the first refcount table covers 8 MiB, so 20 MiB
 * of writes make it grow, twice.
 */
static void
test_rt_growth(void)
{
	struct disk	*d;
	uint64_t	 size = 24 * MB, off;
	uint8_t		*ref = calloc(1, size);

	CHECK(mkqcow("g.qcow2", size, 9, NULL, 0) == 0);
	CHECK(peek64("g.qcow2", 48) == 512);
	CHECK((d = dopen("g.qcow2", 0)) != NULL);
	if (d == NULL)
		return;
	for (off = 0; off < 20 * MB; off += 256 * 1024) {
		fill(ref + off, 256 * 1024);
		CHECK(dwrite(d, ref + off, 256 * 1024, off) == 0);
	}
	CHECK(random_ops(d, ref, size, 100));
	CHECK(same(d, ref, size));
	disk_close(d);
	CHECK(peek64("g.qcow2", 48) != 512);
	CHECK((d = dopen("g.qcow2", DISK_RDONLY)) != NULL);
	if (d != NULL) {
		CHECK(same(d, ref, size));
		disk_close(d);
	}
	free(ref);
}

/* The smallest cache: every path that evicts dirty metadata. */
static void
test_small_cache(void)
{
	struct disk	*d;
	uint64_t	 size = 48 * MB;
	uint8_t		*ref = calloc(1, size);

	CHECK(mkqcow("s.qcow2", size, 12, NULL, 0) == 0);
	CHECK((d = dopen_cache("s.qcow2", 0, 1)) != NULL);
	if (d == NULL)
		return;
	CHECK(random_ops(d, ref, size, 300));
	CHECK(same(d, ref, size));
	disk_close(d);
	CHECK((d = dopen_cache("s.qcow2", DISK_RDONLY, 1)) != NULL);
	if (d != NULL) {
		CHECK(same(d, ref, size));
		disk_close(d);
	}
	free(ref);
}

/*
 * Threads writing interleaved sectors: every cluster is allocated by
 * several writers at once.
 */
#define NTHREADS	6
#define TAREA		(2 * MB)

struct targ {
	struct disk	*d;
	uint8_t		*ref;
	int		 t, ok;
	uint64_t	 seed;
};

static void *
writer(void *p)
{
	struct targ	*a = p;
	uint8_t		 buf[512];
	uint64_t	 s, k, sec, z;

	a->ok = 1;
	s = a->seed;
	for (k = 0; k < 600 && a->ok; k++) {
		z = (s += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ULL;
		sec = (z % (TAREA / 512 / NTHREADS)) * NTHREADS + a->t;
		memset(buf, (int)(z >> 40) | 1, sizeof(buf));
		buf[0] = (uint8_t)a->t;
		if (dwrite(a->d, buf, sizeof(buf), sec * 512) == -1)
			a->ok = 0;
		memcpy(a->ref + sec * 512, buf, sizeof(buf));
		if (k % 50 == 0 && disk_flush(a->d) == -1)
			a->ok = 0;
	}
	return (NULL);
}

static void
check_threads(const char *name)
{
	struct targ	 a[NTHREADS];
	pthread_t	 th[NTHREADS];
	struct disk	*d;
	uint8_t		*ref = calloc(1, TAREA * 2);
	int		 t;

	CHECK((d = dopen(name, 0)) != NULL);
	if (d == NULL)
		return;
	CHECK(dread(d, ref, TAREA * 2, 0) == 0);
	for (t = 0; t < NTHREADS; t++) {
		a[t].d = d;
		a[t].ref = ref;
		a[t].t = t;
		a[t].seed = (uint64_t)t * 77 + 5;
		pthread_create(&th[t], NULL, writer, &a[t]);
	}
	for (t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		CHECK(a[t].ok);
	}
	CHECK(same(d, ref, TAREA * 2));
	disk_close(d);
	CHECK((d = dopen(name, DISK_RDONLY)) != NULL);
	if (d != NULL) {
		CHECK(same(d, ref, TAREA * 2));
		disk_close(d);
	}
	free(ref);
}

static void
test_threads(void)
{
	struct disk	*d;
	uint8_t		*buf = malloc(4 * MB);

	CHECK(mkqcow("p.qcow2", 4 * MB, 16, NULL, 0) == 0);
	check_threads("p.qcow2");
	CHECK(mkqcow("p.qcow2", 4 * MB, 12, NULL, 0) == 0);
	check_threads("p.qcow2");
	/* over a base: every allocation copies from it */
	CHECK(mkqcow("pb.qcow2", 4 * MB, 16, NULL, 0) == 0);
	CHECK((d = dopen("pb.qcow2", 0)) != NULL);
	if (d != NULL) {
		fill(buf, 4 * MB);
		CHECK(dwrite(d, buf, 4 * MB, 0) == 0);
		disk_close(d);
	}
	CHECK(mkqcow("p.qcow2", 4 * MB, 16, "pb.qcow2", DISK_FMT_QCOW2) == 0);
	check_threads("p.qcow2");
	CHECK(mkraw("p.raw", 4 * MB) == 0);
	check_threads("p.raw");
	free(buf);
}

/* Whole clusters zeroed over a base read zeros, not the base. */
static void
test_zero_over_base(void)
{
	struct disk	*d;
	uint8_t		 buf[65536], got[65536];
	uint64_t	 pnum;
	int		 v;

	for (v = 2; v <= 3; v++) {
		CHECK(mkqcow("zb.qcow2", MB, 16, NULL, 0) == 0);
		CHECK((d = dopen("zb.qcow2", 0)) != NULL);
		if (d == NULL)
			return;
		memset(buf, 0x77, sizeof(buf));
		CHECK(dwrite(d, buf, sizeof(buf), 65536) == 0);
		disk_close(d);
		CHECK(mkqcow("z.qcow2", MB, 16, "zb.qcow2",
		    DISK_FMT_QCOW2) == 0);
		if (v == 2)
			patch32("z.qcow2", 4, 2);
		CHECK((d = dopen("z.qcow2", 0)) != NULL);
		if (d == NULL)
			return;
		CHECK(disk_status(d, 65536, 65536, &pnum) == 1);
		CHECK(disk_write_zeroes(d, 65536, 65536, 1) == 0);
		CHECK(dread(d, got, sizeof(got), 65536) == 0);
		memset(buf, 0, sizeof(buf));
		CHECK(memcmp(got, buf, sizeof(got)) == 0);
		CHECK(disk_status(d, 65536, 65536, &pnum) == (v == 3 ? 0 : 1));
		disk_close(d);
		/* v3 marks it with the zero flag, v2 allocates it */
		CHECK((peek64("z.qcow2", 0x40008) & 1) == (v == 3));
	}
}

struct hostile {
	const char	*name;
	uint64_t	 off;
	int		 width;		/* 4 or 8 */
	uint64_t	 val;
	const char	*want;		/* in the message */
};

/*
 * A fresh 1 MiB image, 64 KiB clusters: header at 0, refcount table at
 * 0x10000, one refcount block at 0x20000, L1 (one entry) at 0x30000.
 */
static const struct hostile hostile[] = {
	{ "magic", 0, 4, 0x51464900, "bad magic" },
	{ "version1", 4, 4, 1, "version 1" },
	{ "version4", 4, 4, 4, "version 4" },
	{ "cbits8", 20, 4, 8, "cluster_bits 8" },
	{ "cbits22", 20, 4, 22, "cluster_bits 22" },
	{ "cbitshuge", 20, 4, 0xffffffff, "cluster_bits" },
	{ "size", 24, 8, 1ULL << 62, "virtual size" },
	{ "sizel1", 24, 8, 1ULL << 40, "L1 table too small" },
	{ "aes", 32, 4, 1, "encrypted" },
	{ "luks", 32, 4, 2, "encrypted" },
	{ "l1huge", 36, 4, 0x7fffffff, "L1 table too large" },
	{ "l1eof", 36, 4, 0x100000, "past the end" },
	{ "l1hdr", 40, 8, 0, "overlaps the header" },
	{ "l1align", 40, 8, 0x30008, "not aligned" },
	{ "l1far", 40, 8, 0x7fffffffffff0000ULL, "past the end" },
	{ "l1rt", 40, 8, 0x10000, "tables overlap" },
	{ "rthdr", 48, 8, 0, "overlaps the header" },
	{ "rtalign", 48, 8, 0x10200, "not aligned" },
	{ "rteof", 48, 8, 0x400000, "past the end" },
	{ "rtnone", 56, 4, 0, "refcount table size" },
	{ "rthuge", 56, 4, 0x10000, "refcount table size" },
	{ "rtlong", 56, 4, 100, "past the end" },
	{ "snap", 60, 4, 1, "internal snapshots" },
	{ "dirty", 72, 8, 1, "dirty" },
	{ "corrupt", 72, 8, 2, "corrupt" },
	{ "datafile", 72, 8, 4, "external data" },
	{ "compress", 72, 8, 8, "compression" },
	{ "extl2", 72, 8, 16, "extended L2" },
	{ "unknown5", 72, 8, 32, "bit 5" },
	{ "unknown63", 72, 8, 1ULL << 63, "bit 63" },
	{ "rorder", 96, 4, 7, "refcount_order 7" },
	{ "hlen", 100, 4, 100, "header length" },
	{ "hlenodd", 100, 4, 108, "header length" },
	{ "hlenbig", 100, 4, 0x20000, "header length" },
	{ "ctype", 100, 4, 112, "compression type" },
	{ "bkoff", 8, 8, 0x20000, "backing file name" },
	{ "bklen", 16, 4, 2000, "too long" },
	{ "ext", 104, 8, 0x1234567800fffff0ULL, "extension" },
	{ "bkfmt", 104, 8, 0xe2792aca00000004ULL, "backing file format" },
	{ NULL }
};

static void
test_hostile_headers(void)
{
	const struct hostile *h;
	struct disk	*d;
	uint64_t	 size;
	int		 ok;

	for (h = hostile; h->name != NULL; h++) {
		CHECK(mkqcow("h.qcow2", MB, 16, NULL, 0) == 0);
		if (strcmp(h->name, "ctype") == 0)
			patch("h.qcow2", 104, "\1", 1);
		if (strcmp(h->name, "bkoff") == 0)
			patch32("h.qcow2", 16, 10);
		if (strcmp(h->name, "bklen") == 0)
			patch64("h.qcow2", 8, 0x100);
		if (strcmp(h->name, "bkfmt") == 0)
			patch("h.qcow2", 112, "vmdk\0\0\0\0\0\0\0\0", 12);
		if (h->width == 4)
			patch32("h.qcow2", h->off, (uint32_t)h->val);
		else
			patch64("h.qcow2", h->off, h->val);
		/* as the parent would: the format is known */
		d = dopen_fmt("h.qcow2", 0, DISK_FMT_QCOW2);
		ok = d == NULL && strstr(msg, h->want) != NULL;
		if (!ok)
			printf("# hostile %s: %s\n", h->name,
			    d == NULL ? msg : "opened");
		CHECK(ok);
		if (d != NULL)
			disk_close(d);
		/* the parent's header reader refuses it too */
		{
			int	 fd = open(path("h.qcow2"), O_RDONLY);
			char	 name[64];
			size_t	 nl;
			enum disk_format bf;

			CHECK(qcow2_header_info(fd, &size, name, sizeof(name),
			    &nl, &bf, msg, sizeof(msg)) == -1 ||
			    strcmp(h->name, "magic") == 0);
			close(fd);
		}
	}
	/* a feature name table names an unknown bit */
	CHECK(mkqcow("h.qcow2", MB, 16, NULL, 0) == 0);
	{
		uint8_t	 ext[8 + 48];

		memset(ext, 0, sizeof(ext));
		*(uint32_t *)ext = htobe32(0x6803f857);
		*(uint32_t *)(ext + 4) = htobe32(48);
		ext[8] = 0;
		ext[9] = 9;
		memcpy(ext + 10, "frobnication", 12);
		patch("h.qcow2", 104, ext, sizeof(ext));
		patch64("h.qcow2", 72, 1 << 9);
	}
	CHECK(dopen("h.qcow2", 0) == NULL &&
	    strstr(msg, "\"frobnication\" (bit 9)") != NULL);
	/* too short to be one: forced to qcow2, refused; probed, raw */
	CHECK(mkraw("h.qcow2", 0) == 0);
	patch("h.qcow2", 0, "QFI\xfb\0\0\0\3", 8);
	{
		struct disk_chain c;
		struct disk	*d2;

		CHECK(disk_chain_open(path("h.qcow2"), DISK_FMT_QCOW2, 1,
		    plain_open, NULL, &c, msg, sizeof(msg)) == -1 &&
		    strstr(msg, "too short") != NULL);
		CHECK((d2 = dopen("h.qcow2", DISK_RDONLY)) == NULL &&
		    strstr(msg, "too short") != NULL);
	}
}

static int
fails_eio_read(struct disk *d, uint64_t off)
{
	uint8_t		 buf[512];

	return (dread(d, buf, sizeof(buf), off) == -1 && errno == EIO);
}

static int
fails_eio_write(struct disk *d, uint64_t off)
{
	uint8_t		 buf[512];

	memset(buf, 0x5a, sizeof(buf));
	return (dwrite(d, buf, sizeof(buf), off) == -1 && errno == EIO);
}

/*
 * An image with data in guest cluster 0 and 2 (64 KiB clusters): L1 at
 * 0x30000, its one L2 table at 0x40000, the data at 0x50000 and
 * 0x60000.  Each entry is then broken in one way; a request that meets
 * it fails with EIO, other requests work, and the file is not changed.
 */
static void
make_two(void)
{
	struct disk	*d;
	uint8_t		 buf[65536];

	CHECK(mkqcow("e.qcow2", 4 * MB, 16, NULL, 0) == 0);
	CHECK((d = dopen("e.qcow2", 0)) != NULL);
	if (d == NULL)
		return;
	memset(buf, 0x11, sizeof(buf));
	CHECK(dwrite(d, buf, sizeof(buf), 0) == 0);
	memset(buf, 0x22, sizeof(buf));
	CHECK(dwrite(d, buf, sizeof(buf), 2 * 65536) == 0);
	disk_close(d);
	CHECK(peek64("e.qcow2", 0x30000) == (0x40000 | (1ULL << 63)));
	CHECK(peek64("e.qcow2", 0x40000) == (0x50000 | (1ULL << 63)));
	CHECK(peek64("e.qcow2", 0x40010) == (0x60000 | (1ULL << 63)));
}

static void
test_hostile_entries(void)
{
	static const struct {
		uint64_t	 off, val;
		int		 rd_fails, wr_fails;
	} t[] = {
		/* L2 entries of guest cluster 0 */
		{ 0x40000, 0x50002 | (1ULL << 63), 1, 1 },	/* reserved */
		{ 0x40000, 0x50200 | (1ULL << 63), 1, 1 },	/* unaligned */
		{ 0x40000, 0x7fff0000 | (1ULL << 63), 1, 1 },	/* past EOF */
		{ 0x40000, 0x30000 | (1ULL << 63), 0, 1 },	/* the L1 */
		{ 0x40000, 0x10000 | (1ULL << 63), 0, 1 },	/* the RT */
		{ 0x40000, 0x40000 | (1ULL << 63), 0, 1 },	/* its L2 */
		{ 0x40000, 0x20000 | (1ULL << 63), 0, 1 },	/* a block */
		{ 0x40000, 1ULL << 63, 1, 1 },		/* copied, no cluster */
		{ 0x40000, 0x50000, 0, 0 },	/* refcount 1: repaired, ok */
		/* the L1 entry */
		{ 0x30000, 0x40001 | (1ULL << 63), 1, 1 },	/* reserved */
		{ 0x30000, 0x10000 | (1ULL << 63), 1, 1 },	/* into the RT */
		{ 0x30000, 0x40100 | (1ULL << 63), 1, 1 },	/* unaligned */
		{ 0x30000, 0x7fff0000 | (1ULL << 63), 1, 1 },	/* past EOF */
		{ 0, 0, 0, 0 }
	};
	struct disk	*d;
	uint8_t		 buf[512];
	uint64_t	 sum;
	int		 i, wr;

	for (i = 0; t[i].off != 0; i++) {
		make_two();
		patch64("e.qcow2", t[i].off, t[i].val);
		sum = file_sum("e.qcow2");
		CHECK((d = dopen("e.qcow2", 0)) != NULL);
		if (d == NULL)
			continue;
		CHECK(fails_eio_read(d, 100) == t[i].rd_fails);
		wr = fails_eio_write(d, 100);
		if (wr != t[i].wr_fails)
			printf("# entry %d: write %s\n", i, wr ? "failed" :
			    "worked");
		CHECK(wr == t[i].wr_fails);
		if (t[i].off == 0x40000) {
			/* guest cluster 2 is fine */
			CHECK(dread(d, buf, sizeof(buf), 2 * 65536) == 0 &&
			    buf[0] == 0x22);
		}
		disk_close(d);
		if (t[i].wr_fails)
			CHECK(file_sum("e.qcow2") == sum);
	}
	/* a compressed cluster is refused at open */
	make_two();
	patch64("e.qcow2", 0x40010, 0x60000 | (1ULL << 62));
	CHECK(dopen("e.qcow2", DISK_RDONLY) == NULL &&
	    strstr(msg, "compressed clusters are not supported") != NULL);
	/* a bad refcount table entry fails allocations only */
	make_two();
	patch64("e.qcow2", 0x10000, 0x10000);
	CHECK((d = dopen("e.qcow2", 0)) != NULL);
	if (d != NULL) {
		CHECK(dread(d, buf, sizeof(buf), 0) == 0 && buf[0] == 0x11);
		CHECK(fails_eio_write(d, 5 * 65536));
		memset(buf, 0x33, sizeof(buf));
		CHECK(dwrite(d, buf, sizeof(buf), 0) == 0);
		disk_close(d);
	}
	/* a v2 image has no zero flag */
	make_two();
	patch32("e.qcow2", 4, 2);
	patch64("e.qcow2", 0x40000, 0x50001 | (1ULL << 63));
	CHECK((d = dopen("e.qcow2", 0)) != NULL);
	if (d != NULL) {
		CHECK(fails_eio_read(d, 0));
		disk_close(d);
	}
	/* a cluster shared with something (refcount 2) is never written */
	make_two();
	patch64("e.qcow2", 0x40000, 0x50000);
	{
		uint16_t	 two = htobe16(2);

		patch("e.qcow2", 0x20000 + 5 * 2, &two, 2);
	}
	sum = file_sum("e.qcow2");
	CHECK((d = dopen("e.qcow2", 0)) != NULL);
	if (d != NULL) {
		CHECK(dread(d, buf, sizeof(buf), 0) == 0 && buf[0] == 0x11);
		CHECK(fails_eio_write(d, 0));
		disk_close(d);
		CHECK(file_sum("e.qcow2") == sum);
	}
}

static void
test_chain(void)
{
	struct disk_chain c;
	struct disk	*d;
	char		 name[32], prev[32];
	int		 i, flags = -1, fds[3];

	/* relative names are taken from the overlay's directory */
	CHECK(mkdir(path("sub"), 0700) == 0 || errno == EEXIST);
	CHECK(mkqcow("sub/base.qcow2", MB, 16, NULL, 0) == 0);
	CHECK(mkqcow("sub/top.qcow2", MB, 16, "base.qcow2",
	    DISK_FMT_QCOW2) == 0);
	CHECK(disk_chain_open(path("sub/top.qcow2"), DISK_FMT_AUTO, 0,
	    plain_open, &flags, &c, msg, sizeof(msg)) == 0);
	CHECK(c.n == 2 && c.fmt[0] == DISK_FMT_QCOW2 &&
	    c.fmt[1] == DISK_FMT_QCOW2);
	/* the base was opened read-only */
	CHECK((flags & O_ACCMODE) == O_RDONLY);
	if (c.n == 2) {
		CHECK((fcntl(c.fd[1], F_GETFL) & O_ACCMODE) == O_RDONLY);
		/* too few and too many descriptors */
		CHECK(disk_open(DISK_FMT_QCOW2, c.fd, 1, 0, 0, msg,
		    sizeof(msg)) == NULL && strstr(msg, "not given") != NULL);
		fds[0] = c.fd[0];
		fds[1] = c.fd[1];
		fds[2] = open(path("sub/base.qcow2"), O_RDONLY);
		CHECK(disk_open(DISK_FMT_QCOW2, fds, 3, 0, 0, msg,
		    sizeof(msg)) == NULL && strstr(msg, "loop") != NULL);
		close(fds[2]);
		disk_chain_close(&c);
	}
	/* absolute name */
	CHECK(mkqcow("top2.qcow2", MB, 16, path("sub/base.qcow2"),
	    DISK_FMT_QCOW2) == 0);
	CHECK((d = dopen("top2.qcow2", 0)) != NULL);
	if (d != NULL)
		disk_close(d);
	/* missing */
	CHECK(mkqcow("top3.qcow2", MB, 16, "nonexistent.qcow2",
	    DISK_FMT_QCOW2) == 0);
	CHECK(dopen("top3.qcow2", 0) == NULL &&
	    strstr(msg, "nonexistent.qcow2") != NULL);
	/* json: is qemu's, not ours */
	CHECK(mkqcow("top4.qcow2", MB, 16, "json:{}", DISK_FMT_QCOW2) == 0);
	CHECK(dopen("top4.qcow2", 0) == NULL && strstr(msg, "json") != NULL);
	/* loops */
	CHECK(mkqcow("la.qcow2", MB, 16, "lb.qcow2", DISK_FMT_QCOW2) == 0);
	CHECK(mkqcow("lb.qcow2", MB, 16, "la.qcow2", DISK_FMT_QCOW2) == 0);
	CHECK(dopen("la.qcow2", 0) == NULL && strstr(msg, "loop") != NULL);
	CHECK(mkqcow("self.qcow2", MB, 16, "self.qcow2",
	    DISK_FMT_QCOW2) == 0);
	CHECK(dopen("self.qcow2", 0) == NULL && strstr(msg, "loop") != NULL);
	/* 16 images are allowed, 17 are not */
	CHECK(mkqcow("c0.qcow2", MB, 16, NULL, 0) == 0);
	for (i = 1; i <= 16; i++) {
		snprintf(name, sizeof(name), "c%d.qcow2", i);
		snprintf(prev, sizeof(prev), "c%d.qcow2", i - 1);
		CHECK(mkqcow(name, MB, 16, prev, DISK_FMT_QCOW2) == 0);
	}
	CHECK((d = dopen("c15.qcow2", 0)) != NULL);
	if (d != NULL)
		disk_close(d);
	CHECK(dopen("c16.qcow2", 0) == NULL &&
	    strstr(msg, "deeper than 16") != NULL);
	/* raw: forces raw whatever the file holds */
	CHECK(disk_chain_open(path("c16.qcow2"), DISK_FMT_RAW, 1,
	    plain_open, NULL, &c, msg, sizeof(msg)) == 0 && c.n == 1 &&
	    c.fmt[0] == DISK_FMT_RAW);
	if (c.n == 1) {
		CHECK((d = disk_open(c.fmt[0], c.fd, c.n, DISK_RDONLY, 0, msg,
		    sizeof(msg))) != NULL);
		if (d != NULL) {
			CHECK(disk_format_of(d) == DISK_FMT_RAW);
			disk_close(d);
		} else
			disk_chain_close(&c);
	}
	{
		char	 pre[PATH_MAX + 8];

		snprintf(pre, sizeof(pre), "raw:%s", path("c16.qcow2"));
		CHECK(disk_chain_open(pre, DISK_FMT_AUTO, 1, plain_open, NULL,
		    &c, msg, sizeof(msg)) == 0 && c.n == 1 &&
		    c.fmt[0] == DISK_FMT_RAW);
		disk_chain_close(&c);
	}
	/* not a regular file */
	CHECK(disk_chain_open(dir, DISK_FMT_AUTO, 1, plain_open, NULL, &c, msg,
	    sizeof(msg)) == -1);
}

static void
test_locks(void)
{
	struct disk	*a, *b;

	CHECK(mkqcow("lk.qcow2", MB, 16, NULL, 0) == 0);
	CHECK((a = dopen("lk.qcow2", 0)) != NULL);
	CHECK(dopen("lk.qcow2", 0) == NULL && errno == EBUSY &&
	    strstr(msg, "disk image is in use") != NULL);
	CHECK(dopen("lk.qcow2", DISK_RDONLY) == NULL && errno == EBUSY);
	disk_close(a);
	/* readers share; a writer may not join them */
	CHECK((a = dopen("lk.qcow2", DISK_RDONLY)) != NULL);
	CHECK((b = dopen("lk.qcow2", DISK_RDONLY)) != NULL);
	CHECK(dopen("lk.qcow2", 0) == NULL && errno == EBUSY);
	disk_close(a);
	disk_close(b);
	/* two overlays share a base; the base cannot be written meanwhile */
	CHECK(mkqcow("o1.qcow2", MB, 16, "lk.qcow2", DISK_FMT_QCOW2) == 0);
	CHECK(mkqcow("o2.qcow2", MB, 16, "lk.qcow2", DISK_FMT_QCOW2) == 0);
	CHECK((a = dopen("o1.qcow2", 0)) != NULL);
	CHECK((b = dopen("o2.qcow2", 0)) != NULL);
	CHECK(dopen("lk.qcow2", 0) == NULL && errno == EBUSY);
	disk_close(a);
	disk_close(b);
	CHECK((a = dopen("lk.qcow2", 0)) != NULL);
	disk_close(a);
}

/* Bitmaps are not kept: a writer clears the autoclear bits first. */
static void
test_autoclear(void)
{
	struct disk	*d;

	CHECK(mkqcow("ac.qcow2", MB, 16, NULL, 0) == 0);
	patch64("ac.qcow2", 88, 1);
	CHECK((d = dopen("ac.qcow2", DISK_RDONLY)) != NULL);
	disk_close(d);
	CHECK(peek64("ac.qcow2", 88) == 1);
	CHECK((d = dopen("ac.qcow2", 0)) != NULL);
	disk_close(d);
	CHECK(peek64("ac.qcow2", 88) == 0);
	/* lazy refcounts allowed while the dirty bit is clear */
	patch64("ac.qcow2", 80, 1);
	CHECK((d = dopen("ac.qcow2", 0)) != NULL);
	disk_close(d);
}

static void
test_names(void)
{
	const char	*p;
	enum disk_format fmt;
	int		 fd;

	CHECK(disk_name_format("raw:/a/b", &p) == DISK_FMT_RAW &&
	    strcmp(p, "/a/b") == 0);
	CHECK(disk_name_format("qcow2:x.img", &p) == DISK_FMT_QCOW2 &&
	    strcmp(p, "x.img") == 0);
	CHECK(disk_name_format("rawdisk", &p) == DISK_FMT_AUTO &&
	    strcmp(p, "rawdisk") == 0);
	CHECK(disk_ext_format("a.qcow2") == DISK_FMT_QCOW2);
	CHECK(disk_ext_format("a.QCOW2") == DISK_FMT_QCOW2);
	CHECK(disk_ext_format("a.raw") == DISK_FMT_RAW);
	CHECK(disk_ext_format("a.img") == DISK_FMT_AUTO);
	CHECK(disk_ext_format("dir.qcow2/a") == DISK_FMT_AUTO);
	CHECK(disk_ext_format("a.") == DISK_FMT_AUTO);
	CHECK(mkqcow("n.qcow2", MB, 16, NULL, 0) == 0);
	fd = open(path("n.qcow2"), O_RDONLY);
	CHECK(disk_probe(fd, &fmt) == 0 && fmt == DISK_FMT_QCOW2);
	close(fd);
	CHECK(mkraw("n.raw", MB) == 0);
	fd = open(path("n.raw"), O_RDONLY);
	CHECK(disk_probe(fd, &fmt) == 0 && fmt == DISK_FMT_RAW);
	close(fd);
}

static void
test_create(void)
{
	uint64_t	 size;
	int		 fd;
	struct stat	 st;

	(void)unlink(path("new.qcow2"));
	CHECK(disk_create(path("new.qcow2"), DISK_FMT_QCOW2, 50 * 1024 * MB,
	    NULL, 0, msg, sizeof(msg)) == 0);
	CHECK(disk_create(path("new.qcow2"), DISK_FMT_QCOW2, MB, NULL, 0, msg,
	    sizeof(msg)) == -1 && errno == EEXIST);
	CHECK(stat(path("new.qcow2"), &st) == 0 &&
	    (st.st_mode & 0777) == 0600 && st.st_size == 0x40000);
	fd = open(path("new.qcow2"), O_RDONLY);
	CHECK(disk_image_size(fd, DISK_FMT_AUTO, &size, msg,
	    sizeof(msg)) == 0 && size == 50 * 1024 * MB);
	close(fd);
	CHECK(disk_create(path("new.raw"), DISK_FMT_RAW, 3 * MB, "x", 0, msg,
	    sizeof(msg)) == -1 && strstr(msg, "require qcow2") != NULL);
	(void)unlink(path("new.raw"));
	CHECK(disk_create(path("new.raw"), DISK_FMT_RAW, 3 * MB, NULL, 0, msg,
	    sizeof(msg)) == 0);
	fd = open(path("new.raw"), O_RDONLY);
	CHECK(disk_image_size(fd, DISK_FMT_AUTO, &size, msg,
	    sizeof(msg)) == 0 && size == 3 * MB);
	close(fd);
	/* a 1 PiB image needs 256 L1 clusters */
	(void)unlink(path("big.qcow2"));
	CHECK(disk_create(path("big.qcow2"), DISK_FMT_QCOW2, 1ULL << 50, NULL,
	    0, msg, sizeof(msg)) == 0);
	CHECK(disk_create(path("big2.qcow2"), DISK_FMT_QCOW2, 1ULL << 52, NULL,
	    0, msg, sizeof(msg)) == -1 && errno == EFBIG);
	CHECK(disk_create(path("huge.qcow2"), DISK_FMT_QCOW2, 1ULL << 62,
	    NULL, 0, msg, sizeof(msg)) == -1 && errno == EFBIG);
	CHECK(access(path("huge.qcow2"), F_OK) == -1);
}

static void
cleanup(void)
{
	char		 cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		printf("FAIL disk_test: mkdtemp\n");
		return (1);
	}
	RUN(test_raw);
	RUN(test_qcow2_clusters);
	RUN(test_qcow2_v2);
	RUN(test_backing);
	RUN(test_backing_probe);
	RUN(test_rt_growth);
	RUN(test_small_cache);
	RUN(test_threads);
	RUN(test_zero_over_base);
	RUN(test_hostile_headers);
	RUN(test_hostile_entries);
	RUN(test_chain);
	RUN(test_locks);
	RUN(test_autoclear);
	RUN(test_names);
	RUN(test_create);
	cleanup();
	TEST_EXIT();
}
