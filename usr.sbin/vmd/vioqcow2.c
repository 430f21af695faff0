/*
 * vioqcow2.c: qcow2 images, versions 2 and 3, to QEMU's specification
 * (docs/interop/qcow2.txt): header and extensions, L1 and L2 tables,
 * refcount tables and blocks of any width, zero clusters, backing
 * chains of qcow2 and raw images with copy-on-write into the top image,
 * and image creation.  Compressed and encrypted clusters, external data
 * files, extended L2 entries, internal snapshots and dirty or corrupt
 * images are refused.
 *
 * All metadata goes through one bounded write-back cache per disk (see
 * disk.h); clusters are appended at the end of the top image and never
 * freed while it is open, so a data write in flight can never land in a
 * cluster that something else now owns.  The cache is written in the
 * order that keeps a crash harmless: refcount blocks, sync, refcount
 * table, sync, L2 and L1 tables.  This file must never write a byte of
 * a base image, never write through a table entry it has not checked,
 * and never let image content decide how much memory or time it uses
 * beyond the bounds below.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "disk.h"

#define QC_MAGIC		"QFI\xfb"
#define QC_V2_HDR		72
#define QC_V3_HDR		104
#define QC_MIN_BITS		9		/* 512 B clusters */
#define QC_MAX_BITS		21		/* 2 MiB, as qemu */
#define QC_MAX_L1		(32 * 1024 * 1024)	/* bytes, as qemu */
#define QC_MAX_RT		(8 * 1024 * 1024)	/* bytes, as qemu */
#define QC_MAX_SIZE		(1ULL << 61)	/* virtual bytes */
#define QC_MAX_BACKING		1023
#define QC_HDR_READ		(64 * 1024)	/* header and extensions */
#define QC_SLICE		4096		/* cache slice, at most */
#define QC_BOUNCE		(64 * 1024)	/* copy-on-write buffer */
#define QC_SKIP_MAX		65536	/* used clusters past the end */
#define QC_SMALL_IOV		16
#define QC_ZERO_BUF		(64 * 1024)
#define QC_META_MAX		(128 * 1024)	/* metadata clusters known */
#define QC_SCAN_MAX		(32 * 1024 * 1024)	/* L2 bytes read at open */

#define QC_COPIED		(1ULL << 63)
#define QC_COMPRESSED		(1ULL << 62)
#define QC_ZERO			1ULL
#define QC_OFF_MASK		0x00fffffffffffe00ULL
#define QC_L1_RSVD		0x7f000000000001ffULL
#define QC_L2_RSVD		0x3f000000000001feULL
#define QC_RT_RSVD		0x00000000000001ffULL

#define QC_INC_DIRTY		(1ULL << 0)
#define QC_INC_CORRUPT		(1ULL << 1)
#define QC_INC_DATA_FILE	(1ULL << 2)
#define QC_INC_COMPRESSION	(1ULL << 3)
#define QC_INC_EXTL2		(1ULL << 4)

#define QC_EXT_END		0x00000000U
#define QC_EXT_BACKING_FMT	0xe2792acaU
#define QC_EXT_FEATURES		0x6803f857U

/* header field offsets */
#define QH_VERSION		4
#define QH_BK_OFF		8
#define QH_BK_SIZE		16
#define QH_CBITS		20
#define QH_SIZE			24
#define QH_CRYPT		32
#define QH_L1_SIZE		36
#define QH_L1_OFF		40
#define QH_RT_OFF		48
#define QH_RT_CLUSTERS		56
#define QH_NSNAP		60
#define QH_SNAP_OFF		64
#define QH_INCOMPAT		72
#define QH_COMPAT		80
#define QH_AUTOCLEAR		88
#define QH_RORDER		96
#define QH_HLEN			100
#define QH_COMPRESSION		104

enum qc_kind {
	QK_RB,			/* refcount block */
	QK_RT,			/* refcount table */
	QK_L2,
	QK_L1,
	QK_NKINDS
};

enum qc_type {
	QE_UNALLOC,		/* read from the backing chain, or zeros */
	QE_ZERO,		/* reads zeros; host: preallocated or 0 */
	QE_DATA
};

enum qc_fill {
	QF_FRESH,		/* a new cluster past the end: zeros already */
	QF_ZERO,		/* a reused cluster: zero it */
	QF_BACKING		/* copy from the backing chain */
};

/* What a header says, checked: see qc_hdr_read. */
struct qc_hdr {
	unsigned int	 version;
	unsigned int	 cbits;
	unsigned int	 rorder;
	uint32_t	 l1_size;
	uint32_t	 rt_clusters;
	uint64_t	 size;
	uint64_t	 l1_off;
	uint64_t	 rt_off;
	uint64_t	 autoclear;
	uint64_t	 filesize;
	size_t		 bk_len;
	enum disk_format bk_fmt;
	char		 bk_name[QC_MAX_BACKING + 1];
};

/* One image of the chain; only img[0] is ever written. */
struct qc_img {
	int		 fd;
	enum disk_format fmt;
	unsigned int	 version;
	unsigned int	 cbits;
	uint64_t	 csize;
	uint64_t	 size;		/* virtual size; raw: file size */
	uint32_t	 l1_size;
	uint64_t	 l1_off;
	uint64_t	 rt_off;
	uint64_t	 rt_len;	/* bytes */
	uint64_t	 rt_entries;
	unsigned int	 rorder;
	unsigned int	 rb_bits;	/* log2 of entries per refcount block */
	uint64_t	 end;		/* first cluster past the image */
	uint32_t	 slice;		/* cache slice bytes */
};

struct qc_slot {
	TAILQ_ENTRY(qc_slot) lru;
	struct qc_slot	*hnext;		/* by (img, off) */
	struct qc_slot	*cnext;		/* by (img, cluster) */
	uint64_t	 off;
	uint32_t	 dlo, dhi;	/* dirty bytes; dlo == dhi: clean */
	int		 img;		/* -1: unused */
	enum qc_kind	 kind;
	uint8_t		*data;
};

/* A write that allocates guest clusters [c0, c0 + n) of the top image. */
struct qc_flight {
	LIST_ENTRY(qc_flight) entry;
	uint64_t	 c0, n;
};

struct qcow2 {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cv;		/* a flight landed */
	struct qc_img	 img[DISK_CHAIN_MAX];
	size_t		 nimg;
	struct qc_slot	*slots;
	uint8_t		*mem;
	struct qc_slot	**hash, **chash;
	size_t		 nslots, hmask;
	TAILQ_HEAD(, qc_slot) lru;
	size_t		 ndirty[QK_NKINDS];
	LIST_HEAD(, qc_flight) flights;
	unsigned int	 warned;
	uint64_t	 fsize;		/* the top file is at least this long */
	uint64_t	*meta;		/* sorted: L2 tables, refcount blocks */
	size_t		 nmeta;
	int		 meta_full;	/* too many: fall back to the cache */
};

/* A request's iovecs and the scratch array to slice them into. */
struct qc_req {
	const struct iovec *iov;
	int		 cnt;
	struct iovec	*tmp;
};

/* Problems met in tables; each is logged once per disk. */
enum qc_bad {
	QB_L1,
	QB_L2,
	QB_RT,
	QB_COMPRESSED,
	QB_SHARED,
	QB_OVERLAP,
	QB_FULL,
	QB_RTMAX
};

static const char *const qc_bad_msg[] = {
	[QB_L1] = "bad L1 table entry",
	[QB_L2] = "bad L2 table entry",
	[QB_RT] = "bad refcount table entry",
	[QB_COMPRESSED] = "compressed clusters are not supported",
	[QB_SHARED] = "cluster shared (refcount above 1)",
	[QB_OVERLAP] = "L2 entry points into metadata",
	[QB_FULL] = "no free cluster past the end of the image",
	[QB_RTMAX] = "refcount table would exceed 8 MiB"
};

static const uint8_t	 qc_zeros[QC_ZERO_BUF];

static int	 qc_open(struct disk *, char *, size_t);
static ssize_t	 qc_preadv(struct disk *, const struct iovec *, int,
		    uint64_t);
static ssize_t	 qc_pwritev(struct disk *, const struct iovec *, int,
		    uint64_t);
static int	 qc_flush(struct disk *);
static int	 qc_discard(struct disk *, uint64_t, uint64_t);
static int	 qc_write_zeroes(struct disk *, uint64_t, uint64_t, int);
static int	 qc_status(struct disk *, uint64_t, uint64_t, uint64_t *);
static void	 qc_close(struct disk *);

static int	 qc_meta_write(struct qcow2 *);
static int	 qc_read(struct qcow2 *, size_t, struct qc_req *, size_t,
		    uint64_t, uint64_t);
static int	 qc_write(struct qcow2 *, struct qc_req *, size_t, uint64_t,
		    uint64_t);

const struct disk_ops disk_qcow2_ops = {
	.name = "qcow2",
	.open = qc_open,
	.preadv = qc_preadv,
	.pwritev = qc_pwritev,
	.flush = qc_flush,
	.discard = qc_discard,
	.write_zeroes = qc_write_zeroes,
	.status = qc_status,
	.close = qc_close
};

static uint32_t
get32(const uint8_t *p)
{
	uint32_t	 v;

	memcpy(&v, p, sizeof(v));
	return (be32toh(v));
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t	 v;

	memcpy(&v, p, sizeof(v));
	return (be64toh(v));
}

static void
put32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, sizeof(v));
}

static void
put64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, sizeof(v));
}

static int
qc_bad(struct qcow2 *q, enum qc_bad why, size_t img, uint64_t where)
{
	if (!(q->warned & (1U << why))) {
		q->warned |= 1U << why;
		log_warnx("qcow2 image %zu: %s (at 0x%llx); requests that "
		    "meet it fail", img, qc_bad_msg[why],
		    (unsigned long long)where);
	}
	errno = EIO;
	return (-1);
}

/* The name the feature name table gives an incompatible bit, if any. */
static void
qc_feature_name(const uint8_t *tab, size_t len, unsigned int bit,
    char *name, size_t nlen)
{
	size_t		 i, n;

	name[0] = '\0';
	for (i = 0; tab != NULL && i + 48 <= len; i += 48) {
		if (tab[i] != 0 || tab[i + 1] != bit)
			continue;
		for (n = 0; n < 46 && n + 1 < nlen && tab[i + 2 + n]; n++)
			name[n] = (tab[i + 2 + n] >= 0x20 &&
			    tab[i + 2 + n] < 0x7f) ? (char)tab[i + 2 + n] : '?';
		name[n] = '\0';
		return;
	}
}

static int
qc_incompat_msg(uint64_t bits, const uint8_t *tab, size_t tablen,
    char *err, size_t errlen)
{
	char		 name[48];
	unsigned int	 bit;

	if (bits & QC_INC_DIRTY)
		disk_errf(err, errlen, "the image is dirty (lazy refcounts "
		    "in use when it was last closed); repair it with "
		    "qemu-img check -r all");
	else if (bits & QC_INC_CORRUPT)
		disk_errf(err, errlen, "the image is marked corrupt; repair "
		    "it with qemu-img check -r all");
	else if (bits & QC_INC_DATA_FILE)
		disk_errf(err, errlen, "external data files are not "
		    "supported");
	else if (bits & QC_INC_COMPRESSION)
		disk_errf(err, errlen, "compressed clusters (compression "
		    "type other than zlib) are not supported");
	else if (bits & QC_INC_EXTL2)
		disk_errf(err, errlen, "extended L2 entries are not "
		    "supported");
	else {
		for (bit = 0; bit < 64 && !(bits & (1ULL << bit)); bit++)
			;
		qc_feature_name(tab, tablen, bit, name, sizeof(name));
		if (name[0] != '\0')
			disk_errf(err, errlen, "unknown incompatible feature "
			    "\"%s\" (bit %u)", name, bit);
		else
			disk_errf(err, errlen, "unknown incompatible feature "
			    "bit %u", bit);
	}
	errno = ENOTSUP;
	return (-1);
}

/* Do the cluster ranges of [a, a + alen) and [b, b + blen) meet? */
static int
qc_overlap(unsigned int cbits, uint64_t a, uint64_t alen, uint64_t b,
    uint64_t blen)
{
	if (alen == 0 || blen == 0)
		return (0);
	return ((a >> cbits) <= ((b + blen - 1) >> cbits) &&
	    (b >> cbits) <= ((a + alen - 1) >> cbits));
}

/*
 * Read and check the header of the qcow2 image fd: everything that can
 * be checked without its tables.  Memory and time are bounded by
 * QC_HDR_READ whatever the file holds.
 */
static int
qc_hdr_read(int fd, struct qc_hdr *h, char *err, size_t errlen)
{
	struct stat	 st;
	uint8_t		*b;
	const uint8_t	*ftab = NULL;
	size_t		 n, hlen, pos, limit, ftablen = 0;
	uint64_t	 bk_off, incompat, need, per_l1, csize, fend;
	uint32_t	 bk_size, crypt, nsnap, type, elen = 0;
	ssize_t		 r;
	int		 ret = -1;

	memset(h, 0, sizeof(*h));
	h->bk_fmt = DISK_FMT_AUTO;
	if (fstat(fd, &st) == -1) {
		disk_errf(err, errlen, "%s", strerror(errno));
		return (-1);
	}
	h->filesize = (uint64_t)st.st_size;
	n = h->filesize < QC_HDR_READ ? (size_t)h->filesize : QC_HDR_READ;
	if (n < QC_V2_HDR) {
		disk_errf(err, errlen, "not a qcow2 image: file too short");
		errno = EINVAL;
		return (-1);
	}
	if ((b = malloc(n)) == NULL) {
		disk_errf(err, errlen, "%s", strerror(errno));
		return (-1);
	}
	do {
		r = pread(fd, b, n, 0);
	} while (r == -1 && errno == EINTR);
	if (r != (ssize_t)n) {
		disk_errf(err, errlen, "cannot read the header: %s",
		    r == -1 ? strerror(errno) : "short read");
		if (r != -1)
			errno = EIO;
		goto out;
	}
	errno = EINVAL;
	if (memcmp(b, QC_MAGIC, 4) != 0) {
		disk_errf(err, errlen, "not a qcow2 image: bad magic");
		goto out;
	}
	h->version = get32(b + QH_VERSION);
	if (h->version != 2 && h->version != 3) {
		disk_errf(err, errlen, "qcow2 version %u is not supported",
		    h->version);
		errno = ENOTSUP;
		goto out;
	}
	h->cbits = get32(b + QH_CBITS);
	if (h->cbits < QC_MIN_BITS || h->cbits > QC_MAX_BITS) {
		disk_errf(err, errlen, "cluster_bits %u out of range (%d to "
		    "%d)", h->cbits, QC_MIN_BITS, QC_MAX_BITS);
		goto out;
	}
	csize = 1ULL << h->cbits;
	/* a table may end in the last, partly written, cluster */
	fend = (h->filesize + csize - 1) & ~(csize - 1);
	if (h->version == 2) {
		hlen = QC_V2_HDR;
		h->rorder = 4;
		incompat = 0;
	} else {
		if (n < QC_V3_HDR) {
			disk_errf(err, errlen, "header too short");
			goto out;
		}
		hlen = get32(b + QH_HLEN);
		if (hlen < QC_V3_HDR || hlen % 8 != 0 || hlen > csize ||
		    hlen > n) {
			disk_errf(err, errlen, "bad header length %zu", hlen);
			goto out;
		}
		incompat = get64(b + QH_INCOMPAT);
		h->autoclear = get64(b + QH_AUTOCLEAR);
		h->rorder = get32(b + QH_RORDER);
		if (h->rorder > 6) {
			disk_errf(err, errlen, "refcount_order %u out of range "
			    "(0 to 6)", h->rorder);
			goto out;
		}
		if (hlen >= QH_COMPRESSION + 1 &&
		    !(incompat & QC_INC_COMPRESSION) &&
		    b[QH_COMPRESSION] != 0) {
			disk_errf(err, errlen, "compression type set without "
			    "its feature bit");
			goto out;
		}
	}

	/* Extensions end at the backing file name, or the first cluster. */
	bk_off = get64(b + QH_BK_OFF);
	bk_size = get32(b + QH_BK_SIZE);
	if (bk_off == 0)
		bk_size = 0;
	limit = n < csize ? n : (size_t)csize;
	if (bk_size != 0 && bk_off < limit)
		limit = (size_t)bk_off;
	for (pos = hlen; pos + 8 <= limit; pos += 8 + ((elen + 7) & ~7U)) {
		type = get32(b + pos);
		elen = get32(b + pos + 4);
		if (type == QC_EXT_END)
			break;
		if (elen > limit - pos - 8) {
			disk_errf(err, errlen, "header extension 0x%08x too "
			    "long", type);
			goto out;
		}
		if (type == QC_EXT_FEATURES) {
			ftab = b + pos + 8;
			ftablen = elen;
		} else if (type == QC_EXT_BACKING_FMT) {
			if (elen == 3 && memcmp(b + pos + 8, "raw", 3) == 0)
				h->bk_fmt = DISK_FMT_RAW;
			else if (elen == 5 &&
			    memcmp(b + pos + 8, "qcow2", 5) == 0)
				h->bk_fmt = DISK_FMT_QCOW2;
			else {
				disk_errf(err, errlen, "backing file format "
				    "\"%.*s\" is not supported",
				    elen > 16 ? 16 : (int)elen,
				    (const char *)b + pos + 8);
				errno = ENOTSUP;
				goto out;
			}
		}
	}

	if ((crypt = get32(b + QH_CRYPT)) != 0) {
		disk_errf(err, errlen, "encrypted images are not supported");
		errno = ENOTSUP;
		goto out;
	}
	if (incompat != 0) {
		qc_incompat_msg(incompat, ftab, ftablen, err, errlen);
		goto out;
	}
	if ((nsnap = get32(b + QH_NSNAP)) != 0) {
		disk_errf(err, errlen, "internal snapshots are not supported "
		    "(%u in the image)", nsnap);
		errno = ENOTSUP;
		goto out;
	}

	h->size = get64(b + QH_SIZE);
	if (h->size > QC_MAX_SIZE) {
		disk_errf(err, errlen, "virtual size %llu too large",
		    (unsigned long long)h->size);
		goto out;
	}
	h->l1_size = get32(b + QH_L1_SIZE);
	h->l1_off = get64(b + QH_L1_OFF);
	if ((uint64_t)h->l1_size * 8 > QC_MAX_L1) {
		disk_errf(err, errlen, "L1 table too large (%u entries)",
		    h->l1_size);
		goto out;
	}
	per_l1 = csize * (csize / 8);
	need = h->size / per_l1 + (h->size % per_l1 != 0);
	if (h->l1_size < need) {
		disk_errf(err, errlen, "L1 table too small for the virtual "
		    "size");
		goto out;
	}
	if (h->l1_size > 0) {
		if (h->l1_off % csize != 0) {
			disk_errf(err, errlen, "L1 table not aligned to a "
			    "cluster");
			goto out;
		}
		if (h->l1_off < csize) {
			disk_errf(err, errlen, "L1 table overlaps the header");
			goto out;
		}
		if (h->l1_off > fend ||
		    (uint64_t)h->l1_size * 8 > fend - h->l1_off) {
			disk_errf(err, errlen, "L1 table past the end of the "
			    "file");
			goto out;
		}
	}
	h->rt_off = get64(b + QH_RT_OFF);
	h->rt_clusters = get32(b + QH_RT_CLUSTERS);
	if (h->rt_clusters == 0 ||
	    (uint64_t)h->rt_clusters * csize > QC_MAX_RT) {
		disk_errf(err, errlen, "refcount table size %u clusters out "
		    "of range", h->rt_clusters);
		goto out;
	}
	if (h->rt_off % csize != 0) {
		disk_errf(err, errlen, "refcount table not aligned to a "
		    "cluster");
		goto out;
	}
	if (h->rt_off < csize) {
		disk_errf(err, errlen, "refcount table overlaps the header");
		goto out;
	}
	if (h->rt_off > fend ||
	    (uint64_t)h->rt_clusters * csize > fend - h->rt_off) {
		disk_errf(err, errlen, "refcount table past the end of the "
		    "file");
		goto out;
	}
	if (qc_overlap(h->cbits, h->l1_off, (uint64_t)h->l1_size * 8,
	    h->rt_off, (uint64_t)h->rt_clusters * csize)) {
		disk_errf(err, errlen, "L1 and refcount tables overlap");
		goto out;
	}

	if (bk_size != 0) {
		if (bk_size > QC_MAX_BACKING) {
			disk_errf(err, errlen, "backing file name too long "
			    "(%u bytes)", bk_size);
			goto out;
		}
		if (bk_off < hlen || bk_off > csize ||
		    bk_size > csize - bk_off || bk_off + bk_size > n) {
			disk_errf(err, errlen, "backing file name outside the "
			    "first cluster");
			goto out;
		}
		if (memchr(b + bk_off, '\0', bk_size) != NULL) {
			disk_errf(err, errlen, "backing file name contains a "
			    "NUL byte");
			goto out;
		}
		memcpy(h->bk_name, b + bk_off, bk_size);
		h->bk_name[bk_size] = '\0';
		h->bk_len = bk_size;
	}
	ret = 0;
 out:
	free(b);
	return (ret);
}

int
qcow2_header_info(int fd, uint64_t *size, char *name, size_t nlen,
    size_t *len, enum disk_format *fmt, char *err, size_t errlen)
{
	struct qc_hdr	*h;

	if ((h = malloc(sizeof(*h))) == NULL) {
		disk_errf(err, errlen, "%s", strerror(errno));
		return (-1);
	}
	if (qc_hdr_read(fd, h, err, errlen) == -1) {
		free(h);
		return (-1);
	}
	*size = h->size;
	*len = h->bk_len;
	*fmt = h->bk_fmt;
	if (name != NULL && nlen > 0) {
		if (h->bk_len >= nlen) {
			disk_errf(err, errlen, "backing file name too long");
			free(h);
			errno = ENAMETOOLONG;
			return (-1);
		}
		memcpy(name, h->bk_name, h->bk_len + 1);
	}
	free(h);
	return (0);
}

/*
 * The metadata cache.  A slot holds one slice (up to 4 KiB, never
 * across a cluster) of a table of one image, found by (image, offset);
 * a second hash by (image, cluster) tells whether a cluster holds
 * cached metadata.  A pointer into a slot is good only until the next
 * qc_cache_get, which may evict it.  Called with q->lock held.
 */
static size_t
qc_hkey(const struct qcow2 *q, int img, uint64_t off)
{
	return ((size_t)(((off >> 9) + (uint64_t)img * 7919) *
	    0x9e3779b97f4a7c15ULL >> 20) & q->hmask);
}

static size_t
qc_ckey(const struct qcow2 *q, int img, uint64_t cluster)
{
	return ((size_t)((cluster + (uint64_t)img * 7919) *
	    0x9e3779b97f4a7c15ULL >> 20) & q->hmask);
}

static int
qc_cache_init(struct qcow2 *q, size_t bytes)
{
	size_t		 i, nb;

	q->nslots = bytes / QC_SLICE;
	for (nb = 1; nb < q->nslots; nb <<= 1)
		;
	q->hmask = nb - 1;
	q->slots = calloc(q->nslots, sizeof(*q->slots));
	q->mem = calloc(q->nslots, QC_SLICE);
	q->hash = calloc(nb, sizeof(*q->hash));
	q->chash = calloc(nb, sizeof(*q->chash));
	if (q->slots == NULL || q->mem == NULL || q->hash == NULL ||
	    q->chash == NULL)
		return (-1);
	TAILQ_INIT(&q->lru);
	for (i = 0; i < q->nslots; i++) {
		q->slots[i].img = -1;
		q->slots[i].data = q->mem + i * QC_SLICE;
		TAILQ_INSERT_TAIL(&q->lru, &q->slots[i], lru);
	}
	return (0);
}

static void
qc_cache_free(struct qcow2 *q)
{
	free(q->slots);
	free(q->mem);
	free(q->hash);
	free(q->chash);
}

static struct qc_slot *
qc_cache_find(struct qcow2 *q, int img, uint64_t off)
{
	struct qc_slot	*s;

	for (s = q->hash[qc_hkey(q, img, off)]; s != NULL; s = s->hnext)
		if (s->img == img && s->off == off)
			return (s);
	return (NULL);
}

/* Does cluster c of image img hold cached metadata? */
static int
qc_cache_has_cluster(struct qcow2 *q, int img, uint64_t c)
{
	struct qc_slot	*s;
	unsigned int	 cb = q->img[img].cbits;

	for (s = q->chash[qc_ckey(q, img, c)]; s != NULL; s = s->cnext)
		if (s->img == img && (s->off >> cb) == c)
			return (1);
	return (0);
}

static void
qc_cache_unlink(struct qcow2 *q, struct qc_slot *s)
{
	struct qc_slot	**pp;
	unsigned int	 cb;

	if (s->img < 0)
		return;
	cb = q->img[s->img].cbits;
	for (pp = &q->hash[qc_hkey(q, s->img, s->off)]; *pp != s;
	    pp = &(*pp)->hnext)
		;
	*pp = s->hnext;
	for (pp = &q->chash[qc_ckey(q, s->img, s->off >> cb)]; *pp != s;
	    pp = &(*pp)->cnext)
		;
	*pp = s->cnext;
	s->img = -1;
}

static void
qc_dirty(struct qcow2 *q, struct qc_slot *s, size_t lo, size_t hi)
{
	if (s->dlo == s->dhi) {
		q->ndirty[s->kind]++;
		s->dlo = (uint32_t)lo;
		s->dhi = (uint32_t)hi;
		return;
	}
	if (lo < s->dlo)
		s->dlo = (uint32_t)lo;
	if (hi > s->dhi)
		s->dhi = (uint32_t)hi;
}

static int
qc_cache_get(struct qcow2 *q, int img, enum qc_kind kind, uint64_t off,
    struct qc_slot **sp)
{
	struct qc_slot	*s;
	struct iovec	 iov;
	size_t		 h;
	unsigned int	 cb = q->img[img].cbits;

	if ((s = qc_cache_find(q, img, off)) != NULL) {
		TAILQ_REMOVE(&q->lru, s, lru);
		TAILQ_INSERT_TAIL(&q->lru, s, lru);
		*sp = s;
		return (0);
	}
	s = TAILQ_FIRST(&q->lru);
	if (s->dlo != s->dhi && qc_meta_write(q) == -1)
		return (-1);
	qc_cache_unlink(q, s);
	iov.iov_base = s->data;
	iov.iov_len = q->img[img].slice;
	if (disk_fd_preadv(q->img[img].fd, &iov, 1, off) == -1)
		return (-1);
	s->img = img;
	s->off = off;
	s->kind = kind;
	s->dlo = s->dhi = 0;
	h = qc_hkey(q, img, off);
	s->hnext = q->hash[h];
	q->hash[h] = s;
	h = qc_ckey(q, img, off >> cb);
	s->cnext = q->chash[h];
	q->chash[h] = s;
	TAILQ_REMOVE(&q->lru, s, lru);
	TAILQ_INSERT_TAIL(&q->lru, s, lru);
	*sp = s;
	return (0);
}

/* Drop the clean slots of [off, off + len) of the top image. */
static void
qc_cache_drop(struct qcow2 *q, uint64_t off, uint64_t len)
{
	size_t		 i;

	for (i = 0; i < q->nslots; i++) {
		struct qc_slot	*s = &q->slots[i];

		if (s->img == 0 && s->off >= off && s->off - off < len &&
		    s->dlo == s->dhi) {
			qc_cache_unlink(q, s);
			TAILQ_REMOVE(&q->lru, s, lru);
			TAILQ_INSERT_HEAD(&q->lru, s, lru);
		}
	}
}

static int
qc_write_kind(struct qcow2 *q, enum qc_kind kind)
{
	size_t		 i;

	for (i = 0; i < q->nslots && q->ndirty[kind] > 0; i++) {
		struct qc_slot	*s = &q->slots[i];

		if (s->img != 0 || s->kind != kind || s->dlo == s->dhi)
			continue;
		if (disk_fd_pwrite(q->img[0].fd, s->data + s->dlo,
		    s->dhi - s->dlo, s->off + s->dlo) == -1)
			return (-1);
		s->dlo = s->dhi = 0;
		q->ndirty[kind]--;
	}
	return (0);
}

/*
 * Every allocated cluster lies inside the file before anything that
 * points to it is written: qemu-img check counts a reference past the
 * end of the file as corruption, and a hole there reads as zeros, which
 * is what a fresh cluster must hold.
 */
static int
qc_extend(struct qcow2 *q)
{
	struct qc_img	*im = &q->img[0];
	struct stat	 st;
	uint64_t	 want = im->end << im->cbits;

	if (q->fsize >= want)
		return (0);
	if (fstat(im->fd, &st) == -1)
		return (-1);
	/* never shrinks: nothing is written past the allocated clusters */
	if ((uint64_t)st.st_size < want &&
	    ftruncate(im->fd, (off_t)want) == -1)
		return (-1);
	q->fsize = want;
	return (0);
}

/*
 * Write the dirty metadata in the order that keeps every state a crash
 * can leave consistent: refcount blocks first (a count too high is a
 * leak), then, once they are stable, the refcount table that points to
 * new blocks, then, once that and every data write before it are
 * stable, the L2 and L1 tables that point to new clusters.
 */
static int
qc_meta_write(struct qcow2 *q)
{
	int		 fd = q->img[0].fd;

	if ((q->ndirty[QK_RT] > 0 || q->ndirty[QK_L2] > 0 ||
	    q->ndirty[QK_L1] > 0) && qc_extend(q) == -1)
		return (-1);
	if (qc_write_kind(q, QK_RB) == -1)
		return (-1);
	if (q->ndirty[QK_RT] > 0) {
		if (fdatasync(fd) == -1 || qc_write_kind(q, QK_RT) == -1)
			return (-1);
	}
	if (q->ndirty[QK_L2] > 0 || q->ndirty[QK_L1] > 0) {
		if (fdatasync(fd) == -1 || qc_write_kind(q, QK_L2) == -1 ||
		    qc_write_kind(q, QK_L1) == -1)
			return (-1);
	}
	return (0);
}

/* Locate a table entry: the slot holding it and its offset there. */
static int
qc_entry(struct qcow2 *q, int img, enum qc_kind kind, uint64_t off,
    struct qc_slot **sp, size_t *pos)
{
	uint32_t	 slice = q->img[img].slice;

	*pos = (size_t)(off & (slice - 1));
	return (qc_cache_get(q, img, kind, off & ~(uint64_t)(slice - 1), sp));
}

static int
qc_entry_set(struct qcow2 *q, enum qc_kind kind, uint64_t off, uint64_t v)
{
	struct qc_slot	*s;
	size_t		 pos;

	if (qc_entry(q, 0, kind, off, &s, &pos) == -1)
		return (-1);
	put64(s->data + pos, v);
	qc_dirty(q, s, pos, pos + 8);
	return (0);
}

/*
 * May a table of image img live at off: a whole cluster inside the
 * image, past the header, apart from the L1 and refcount tables?
 */
static int
qc_table_ok(const struct qc_img *im, uint64_t off)
{
	if (off % im->csize != 0 || off < im->csize ||
	    (off >> im->cbits) >= im->end)
		return (0);
	if (qc_overlap(im->cbits, off, im->csize, im->l1_off,
	    (uint64_t)im->l1_size * 8))
		return (0);
	if (im->fmt == DISK_FMT_QCOW2 && im->rt_len > 0 &&
	    qc_overlap(im->cbits, off, im->csize, im->rt_off, im->rt_len))
		return (0);
	return (1);
}

/*
 * The clusters of the top image that hold L2 tables and refcount
 * blocks, as the tables said at open plus what was allocated since
 * (always past the rest, so the array stays sorted), so that no data
 * write lands on them whatever an L2 entry says.  Past QC_META_MAX
 * only the cached ones are known.
 */
static void
qc_meta_add(struct qcow2 *q, uint64_t c)
{
	if (q->meta_full)
		return;
	if (q->nmeta == QC_META_MAX) {
		q->meta_full = 1;
		log_warnx("qcow2: more than %d metadata clusters; only "
		    "cached ones are protected from data writes",
		    QC_META_MAX);
		return;
	}
	q->meta[q->nmeta++] = c;
}

/* Is any of clusters [c0, c1] in the set? */
static int
qc_meta_in(struct qcow2 *q, uint64_t c0, uint64_t c1)
{
	size_t		 lo = 0, hi = q->nmeta, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (q->meta[mid] < c0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo < q->nmeta && q->meta[lo] <= c1);
}

static int
qc_u64cmp(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/*
 * Read the L1 and refcount tables of the top image once, in slices, to
 * fill the set: bounded by their sizes (32 MiB and 8 MiB at most).
 */
static int
qc_meta_load(struct qcow2 *q)
{
	struct qc_img	*im = &q->img[0];
	uint8_t		 buf[QC_SLICE];
	struct iovec	 iov;
	uint64_t	 tab[2][2], i, n, e, k, off;

	if ((q->meta = reallocarray(NULL, QC_META_MAX,
	    sizeof(*q->meta))) == NULL)
		return (-1);
	tab[0][0] = im->l1_off;
	tab[0][1] = (uint64_t)im->l1_size * 8;
	tab[1][0] = im->rt_off;
	tab[1][1] = im->rt_len;
	for (k = 0; k < 2; k++)
		for (i = 0; i < tab[k][1] && !q->meta_full; i += n) {
			n = tab[k][1] - i < sizeof(buf) ? tab[k][1] - i :
			    sizeof(buf);
			iov.iov_base = buf;
			iov.iov_len = n;
			if (disk_fd_preadv(im->fd, &iov, 1,
			    tab[k][0] + i) == -1)
				return (-1);
			for (off = 0; off < n; off += 8) {
				e = get64(buf + off) & QC_OFF_MASK;
				if (e != 0 && qc_table_ok(im, e))
					qc_meta_add(q, e >> im->cbits);
			}
		}
	qsort(q->meta, q->nmeta, sizeof(*q->meta), qc_u64cmp);
	return (0);
}

/* May guest data be written to [host, host + len) of the top image? */
static int
qc_write_ok(struct qcow2 *q, uint64_t host, uint64_t len)
{
	const struct qc_img *im = &q->img[0];
	uint64_t	 c, c0, c1;

	if (len == 0)
		return (1);
	c0 = host >> im->cbits;
	c1 = (host + len - 1) >> im->cbits;
	if (c0 == 0 || c1 >= im->end ||
	    qc_overlap(im->cbits, host, len, im->l1_off,
	    (uint64_t)im->l1_size * 8) ||
	    qc_overlap(im->cbits, host, len, im->rt_off, im->rt_len))
		return (0);
	if (!q->meta_full)
		return (!qc_meta_in(q, c0, c1));
	for (c = c0; c <= c1; c++)
		if (qc_cache_has_cluster(q, 0, c))
			return (0);
	return (1);
}

/* The refcount block of top cluster c: its offset, or 0 for none. */
static int
qc_rt_get(struct qcow2 *q, uint64_t r, uint64_t *rb)
{
	struct qc_img	*im = &q->img[0];
	struct qc_slot	*s;
	size_t		 pos;
	uint64_t	 e;

	*rb = 0;
	if (r >= im->rt_entries)
		return (0);
	if (qc_entry(q, 0, QK_RT, im->rt_off + r * 8, &s, &pos) == -1)
		return (-1);
	e = get64(s->data + pos);
	if (e == 0)
		return (0);
	if ((e & QC_RT_RSVD) || !qc_table_ok(im, e))
		return (qc_bad(q, QB_RT, 0, im->rt_off + r * 8));
	*rb = e;
	return (0);
}

/* Where entry idx of the refcount block at rb lives. */
static int
qc_rb_entry(struct qcow2 *q, uint64_t rb, uint64_t idx, struct qc_slot **sp,
    size_t *pos, unsigned int *shift)
{
	uint64_t	 bit = idx << q->img[0].rorder;

	*shift = (unsigned int)(bit & 7);
	return (qc_entry(q, 0, QK_RB, rb + (bit >> 3), sp, pos));
}

static uint64_t
qc_rb_value(const uint8_t *p, unsigned int rorder, unsigned int shift)
{
	switch (rorder) {
	case 0:
	case 1:
	case 2:
		return ((p[0] >> shift) & ((1U << (1U << rorder)) - 1));
	case 3:
		return (p[0]);
	case 4:
		return ((uint64_t)p[0] << 8 | p[1]);
	case 5:
		return (get32(p));
	default:
		return (get64(p));
	}
}

static int
qc_rb_set(struct qcow2 *q, uint64_t rb, uint64_t idx, uint64_t v)
{
	struct qc_slot	*s;
	size_t		 pos, w;
	unsigned int	 shift, ro = q->img[0].rorder, mask;
	uint8_t		*p;

	if (qc_rb_entry(q, rb, idx, &s, &pos, &shift) == -1)
		return (-1);
	p = s->data + pos;
	w = 1;
	switch (ro) {
	case 0:
	case 1:
	case 2:
		mask = ((1U << (1U << ro)) - 1) << shift;
		p[0] = (uint8_t)((p[0] & ~mask) | ((v << shift) & mask));
		break;
	case 3:
		p[0] = (uint8_t)v;
		break;
	case 4:
		p[0] = (uint8_t)(v >> 8);
		p[1] = (uint8_t)v;
		w = 2;
		break;
	case 5:
		put32(p, (uint32_t)v);
		w = 4;
		break;
	default:
		put64(p, v);
		w = 8;
		break;
	}
	qc_dirty(q, s, pos, pos + w);
	return (0);
}

static int
qc_refcount(struct qcow2 *q, uint64_t c, uint64_t *v)
{
	struct qc_img	*im = &q->img[0];
	struct qc_slot	*s;
	size_t		 pos;
	unsigned int	 shift;
	uint64_t	 rb;

	*v = 0;
	if (qc_rt_get(q, c >> im->rb_bits, &rb) == -1)
		return (-1);
	if (rb == 0)
		return (0);
	if (qc_rb_entry(q, rb, c & ((1ULL << im->rb_bits) - 1), &s, &pos,
	    &shift) == -1)
		return (-1);
	*v = qc_rb_value(s->data + pos, im->rorder, shift);
	return (0);
}

static int
qc_refcount_set(struct qcow2 *q, uint64_t c, uint64_t v)
{
	struct qc_img	*im = &q->img[0];
	uint64_t	 rb;

	if (qc_rt_get(q, c >> im->rb_bits, &rb) == -1)
		return (-1);
	if (rb == 0) {
		errno = EIO;
		return (-1);
	}
	return (qc_rb_set(q, rb, c & ((1ULL << im->rb_bits) - 1), v));
}

/*
 * Entries [first, first + n) of a fresh refcount block at rb (never
 * written, so zeros) set to 1, written straight to the file.
 */
static int
qc_rb_fill(struct qcow2 *q, uint64_t rb, uint64_t first, uint64_t n)
{
	struct qc_img	*im = &q->img[0];
	uint8_t		 buf[QC_SLICE];
	uint64_t	 bit0, bit1, byte0, byte1, i, b, chunk;
	unsigned int	 w = 1U << im->rorder;

	bit0 = first * w;
	bit1 = (first + n) * w;
	byte0 = bit0 >> 3;
	byte1 = (bit1 + 7) >> 3;
	for (b = byte0; b < byte1; b += chunk) {
		chunk = byte1 - b < sizeof(buf) ? byte1 - b : sizeof(buf);
		memset(buf, 0, sizeof(buf));
		for (i = 0; i < chunk * 8; i += w) {
			uint64_t	 bit = (b << 3) + i;

			if (bit < bit0 || bit >= bit1)
				continue;
			if (w < 8)
				buf[i >> 3] |= (uint8_t)(1U << (bit & 7));
			else
				buf[(i >> 3) + w / 8 - 1] = 1;
		}
		if (disk_fd_pwrite(im->fd, buf, chunk, rb + b) == -1)
			return (-1);
	}
	return (0);
}

/*
 * The refcount table is full: write a larger one past the end, with
 * the refcount blocks that count it and themselves, make it stable,
 * point the header at it (one 12-byte write), make that stable, and
 * only then free the old table.
 */
static int
qc_grow_rt(struct qcow2 *q)
{
	struct qc_img	*im = &q->img[0];
	uint8_t		 buf[QC_SLICE], hdr[12];
	uint64_t	 start, t, nb, b, need, per_cl, r0, i, j, k, total;
	uint64_t	 old_off = im->rt_off, old_cl = im->rt_len >> im->cbits;
	uint64_t	 old_ent = im->rt_entries, lo, hi, e;
	struct iovec	 iov;

	if (qc_meta_write(q) == -1)
		return (-1);
	per_cl = im->csize / 8;
	start = im->end;
	t = old_cl * 2;
	for (;;) {
		for (b = 0;; b = nb) {
			nb = ((start + t + b - 1) >> im->rb_bits) -
			    (start >> im->rb_bits) + 1;
			if (nb <= b)
				break;
		}
		need = ((start + t + b - 1) >> im->rb_bits) + 1;
		if (t * per_cl >= need)
			break;
		t = (need + per_cl - 1) / per_cl;
	}
	if (t * im->csize > QC_MAX_RT)
		return (qc_bad(q, QB_RTMAX, 0, old_off));
	r0 = start >> im->rb_bits;
	for (k = 0; k < b; k++) {
		lo = (r0 + k) << im->rb_bits;
		hi = (r0 + k + 1) << im->rb_bits;
		if (lo < start)
			lo = start;
		if (hi > start + t + b)
			hi = start + t + b;
		if (qc_rb_fill(q, (start + t + k) << im->cbits,
		    lo & ((1ULL << im->rb_bits) - 1), hi - lo) == -1)
			return (-1);
	}
	total = r0 + b;
	for (i = 0; i < total; i += sizeof(buf) / 8) {
		memset(buf, 0, sizeof(buf));
		if (i < old_ent) {
			iov.iov_base = buf;
			iov.iov_len = (old_ent - i) * 8 < sizeof(buf) ?
			    (old_ent - i) * 8 : sizeof(buf);
			if (disk_fd_preadv(im->fd, &iov, 1,
			    old_off + i * 8) == -1)
				return (-1);
		}
		for (j = 0; j < sizeof(buf) / 8 && i + j < total; j++) {
			if (i + j < r0)
				continue;
			e = (start + t + (i + j - r0)) << im->cbits;
			put64(buf + j * 8, e);
		}
		if (disk_fd_pwrite(im->fd, buf, j * 8,
		    (start << im->cbits) + i * 8) == -1)
			return (-1);
	}
	im->end = start + t + b;
	if (qc_extend(q) == -1 || fdatasync(im->fd) == -1)
		return (-1);
	put64(hdr, start << im->cbits);
	put32(hdr + 8, (uint32_t)t);
	if (disk_fd_pwrite(im->fd, hdr, sizeof(hdr), QH_RT_OFF) == -1 ||
	    fdatasync(im->fd) == -1)
		return (-1);
	qc_cache_drop(q, old_off, im->rt_len);
	im->rt_off = start << im->cbits;
	im->rt_len = t << im->cbits;
	im->rt_entries = t * per_cl;
	im->end = start + t + b;
	for (k = 0; k < b; k++)
		qc_meta_add(q, start + t + k);
	/* A failure here only leaks the old table. */
	for (i = 0; i < old_cl; i++)
		(void)qc_refcount_set(q, (old_off >> im->cbits) + i, 0);
	return (0);
}

/*
 * Allocate up to want clusters (at least one) at the end of the top
 * image, contiguous, refcounts set to 1: the first in *c, how many in
 * *got.
 */
static int
qc_alloc(struct qcow2 *q, uint64_t want, uint64_t *c, uint64_t *got)
{
	struct qc_img	*im = &q->img[0];
	uint64_t	 r, rb, v, n, mask = (1ULL << im->rb_bits) - 1;
	unsigned int	 skips = 0;

	for (;;) {
		*c = im->end;
		r = *c >> im->rb_bits;
		if (r >= im->rt_entries) {
			if (qc_grow_rt(q) == -1)
				return (-1);
			continue;
		}
		if (qc_rt_get(q, r, &rb) == -1)
			return (-1);
		if (rb == 0) {
			/* a new refcount block counting itself */
			im->end = *c + 1;
			qc_meta_add(q, *c);
			rb = *c << im->cbits;
			if (qc_rb_set(q, rb, *c & mask, 1) == -1 ||
			    qc_entry_set(q, QK_RT, im->rt_off + r * 8,
			    rb) == -1)
				return (-1);
			continue;
		}
		if (qc_refcount(q, *c, &v) == -1)
			return (-1);
		if (v != 0) {
			if (++skips > QC_SKIP_MAX)
				return (qc_bad(q, QB_FULL, 0, *c));
			im->end = *c + 1;
			continue;
		}
		for (n = 0; n < want && ((*c + n) >> im->rb_bits) == r; n++) {
			if (n > 0 && (qc_refcount(q, *c + n, &v) == -1 ||
			    v != 0))
				break;
			if (qc_rb_set(q, rb, (*c + n) & mask, 1) == -1)
				return (-1);
			im->end = *c + n + 1;
		}
		*got = n;
		return (0);
	}
}

/* One L2 entry, classified and checked. */
static int
qc_classify(struct qcow2 *q, size_t i, uint64_t e, uint64_t where,
    enum qc_type *type, uint64_t *host)
{
	const struct qc_img *im = &q->img[i];

	if (e & QC_COMPRESSED)
		return (qc_bad(q, QB_COMPRESSED, i, where));
	if (e & QC_L2_RSVD)
		return (qc_bad(q, QB_L2, i, where));
	*host = e & QC_OFF_MASK;
	if (*host != 0 && (*host % im->csize != 0 ||
	    (*host >> im->cbits) >= im->end))
		return (qc_bad(q, QB_L2, i, where));
	if (e & QC_ZERO) {
		if (im->version < 3)
			return (qc_bad(q, QB_L2, i, where));
		*type = QE_ZERO;
	} else if (*host == 0) {
		if (e & QC_COPIED)
			return (qc_bad(q, QB_L2, i, where));
		*type = QE_UNALLOC;
	} else
		*type = QE_DATA;
	return (0);
}

/* What [off, off + x->len) of image i is, for up to maxlen bytes. */
struct qc_ext {
	enum qc_type	 type;
	uint64_t	 host;		/* host offset of off, or 0 */
	uint64_t	 len;
	int		 copied;
};

static int
qc_l1_get(struct qcow2 *q, size_t i, uint64_t l1i, uint64_t *l2)
{
	const struct qc_img *im = &q->img[i];
	struct qc_slot	*s;
	size_t		 pos;
	uint64_t	 e;

	*l2 = 0;
	if (l1i >= im->l1_size)
		return (qc_bad(q, QB_L1, i, l1i));
	if (qc_entry(q, (int)i, QK_L1, im->l1_off + l1i * 8, &s, &pos) == -1)
		return (-1);
	e = get64(s->data + pos);
	if (e & QC_L1_RSVD)
		return (qc_bad(q, QB_L1, i, im->l1_off + l1i * 8));
	if ((e & QC_OFF_MASK) != 0 && !qc_table_ok(im, e & QC_OFF_MASK))
		return (qc_bad(q, QB_L1, i, im->l1_off + l1i * 8));
	*l2 = e;
	return (0);
}

static int
qc_map(struct qcow2 *q, size_t i, uint64_t off, uint64_t maxlen,
    struct qc_ext *x)
{
	const struct qc_img *im = &q->img[i];
	struct qc_slot	*s;
	uint64_t	 gc, l1e, l2, l2i, e, host, host0 = 0, n, cover, eps;
	uint64_t	 in = off & (im->csize - 1);
	enum qc_type	 type, type0 = QE_UNALLOC;
	size_t		 pos, j;
	int		 copied, copied0 = 0;
	unsigned int	 l2bits = im->cbits - 3;

	gc = off >> im->cbits;
	if (qc_l1_get(q, i, gc >> l2bits, &l1e) == -1)
		return (-1);
	l2 = l1e & QC_OFF_MASK;
	l2i = gc & ((1ULL << l2bits) - 1);
	eps = im->slice / 8;
	if (l2 == 0) {
		/* the whole L2 table is unallocated */
		cover = (((1ULL << l2bits) - l2i) << im->cbits) - in;
		x->type = QE_UNALLOC;
		x->host = 0;
		x->copied = 0;
		x->len = cover < maxlen ? cover : maxlen;
		return (0);
	}
	if (qc_entry(q, (int)i, QK_L2, l2 + l2i * 8, &s, &pos) == -1)
		return (-1);
	for (j = pos / 8, n = 0; j < eps; j++) {
		e = get64(s->data + j * 8);
		if (qc_classify(q, i, e, l2 + (l2i + n) * 8, &type,
		    &host) == -1) {
			if (n == 0)
				return (-1);
			break;
		}
		copied = (e & QC_COPIED) != 0;
		if (n == 0) {
			type0 = type;
			host0 = host;
			copied0 = copied;
		} else if (type != type0 || copied != copied0 ||
		    (type0 != QE_UNALLOC &&
		    host != (host0 == 0 ? 0 : host0 + (n << im->cbits))))
			break;
		n++;
		/* a preallocated zero cluster is reused one at a time */
		if ((n << im->cbits) - in >= maxlen ||
		    (type0 == QE_ZERO && host0 != 0))
			break;
	}
	cover = (n << im->cbits) - in;
	x->type = type0;
	x->copied = copied0;
	x->host = host0 == 0 ? 0 : (type0 == QE_DATA ? host0 + in : host0);
	x->len = cover < maxlen ? cover : maxlen;
	return (0);
}

static int
qc_l2_set(struct qcow2 *q, uint64_t gc, uint64_t v)
{
	struct qc_img	*im = &q->img[0];
	uint64_t	 l1e;
	unsigned int	 l2bits = im->cbits - 3;

	if (qc_l1_get(q, 0, gc >> l2bits, &l1e) == -1)
		return (-1);
	if ((l1e & QC_OFF_MASK) == 0) {
		errno = EIO;
		return (-1);
	}
	return (qc_entry_set(q, QK_L2, (l1e & QC_OFF_MASK) +
	    (gc & ((1ULL << l2bits) - 1)) * 8, v));
}

/*
 * The L2 table for L1 index l1i exists and is ours alone: allocate it
 * (a fresh cluster reads as an empty table), or set the COPIED flag
 * that a refcount of 1 allows.
 */
static int
qc_l2_ensure(struct qcow2 *q, uint64_t l1i)
{
	struct qc_img	*im = &q->img[0];
	uint64_t	 l1e, l2, c, got, v;

	if (qc_l1_get(q, 0, l1i, &l1e) == -1)
		return (-1);
	l2 = l1e & QC_OFF_MASK;
	if (l2 != 0) {
		if (l1e & QC_COPIED)
			return (0);
		if (qc_refcount(q, l2 >> im->cbits, &v) == -1)
			return (-1);
		if (v != 1)
			return (qc_bad(q, QB_SHARED, 0, l2));
		return (qc_entry_set(q, QK_L1, im->l1_off + l1i * 8,
		    l2 | QC_COPIED));
	}
	if (qc_alloc(q, 1, &c, &got) == -1)
		return (-1);
	qc_meta_add(q, c);
	return (qc_entry_set(q, QK_L1, im->l1_off + l1i * 8,
	    (c << im->cbits) | QC_COPIED));
}

/*
 * A data cluster without COPIED: with a refcount of 1 it is ours and
 * gets the flag (as qemu-img check -r would set it); shared, it is an
 * error, since images with snapshots are refused.
 */
static int
qc_fix_copied(struct qcow2 *q, uint64_t off, struct qc_ext *x)
{
	struct qc_img	*im = &q->img[0];
	uint64_t	 v, host = x->host & ~(im->csize - 1), rest;

	if (qc_refcount(q, host >> im->cbits, &v) == -1)
		return (-1);
	if (v != 1)
		return (qc_bad(q, QB_SHARED, 0, host));
	if (qc_l2_set(q, off >> im->cbits, host | QC_COPIED) == -1)
		return (-1);
	rest = im->csize - (off & (im->csize - 1));
	if (x->len > rest)
		x->len = rest;
	x->copied = 1;
	return (0);
}

static int
qc_flight_busy(struct qcow2 *q, uint64_t c0, uint64_t n)
{
	struct qc_flight *f;

	LIST_FOREACH(f, &q->flights, entry)
		if (f->c0 < c0 + n && c0 < f->c0 + f->n)
			return (1);
	return (0);
}

static void
qc_flight_land(struct qcow2 *q, struct qc_flight *f)
{
	LIST_REMOVE(f, entry);
	pthread_cond_broadcast(&q->cv);
}

static int
qc_all_zero(const uint8_t *p, size_t n)
{
	while (n >= QC_ZERO_BUF) {
		if (memcmp(p, qc_zeros, QC_ZERO_BUF) != 0)
			return (0);
		p += QC_ZERO_BUF;
		n -= QC_ZERO_BUF;
	}
	return (memcmp(p, qc_zeros, n) == 0);
}

/*
 * Make [host, host + len) of the top image hold what guest offset goff
 * of the disk held before it was allocated.  Runs without the lock.
 */
static int
qc_fill(struct qcow2 *q, enum qc_fill how, uint64_t goff, uint64_t host,
    uint64_t len)
{
	struct iovec	 iov, tmp;
	struct qc_req	 rq;
	uint8_t		*buf;
	uint64_t	 n;
	int		 r = 0;

	if (len == 0 || how == QF_FRESH)
		return (0);
	if (how == QF_ZERO)
		return (disk_fd_zero(q->img[0].fd, host, len, 0));
	if ((buf = malloc(len < QC_BOUNCE ? len : QC_BOUNCE)) == NULL)
		return (-1);
	rq.iov = &iov;
	rq.cnt = 1;
	rq.tmp = &tmp;
	while (len > 0 && r == 0) {
		n = len < QC_BOUNCE ? len : QC_BOUNCE;
		iov.iov_base = buf;
		iov.iov_len = n;
		r = qc_read(q, 1, &rq, 0, goff, n);
		/* the cluster is fresh: zeros need no write */
		if (r == 0 && !qc_all_zero(buf, n))
			r = disk_fd_pwrite(q->img[0].fd, buf, n, host);
		goff += n;
		host += n;
		len -= n;
	}
	free(buf);
	return (r);
}

/*
 * A write to guest clusters that have no cluster of their own in the
 * top image.  Called with the lock held and returns with it held; the
 * data and the copy-on-write run without it.  Returns the bytes
 * written, 0 after waiting for another write to the same clusters (the
 * caller looks again), or -1.
 */
static int64_t
qc_alloc_write(struct qcow2 *q, struct qc_req *rq, size_t skip,
    uint64_t off, struct qc_ext *x)
{
	struct qc_img	*im = &q->img[0];
	struct qc_flight fl;
	enum qc_fill	 how;
	uint64_t	 cs = im->csize, c0, head, n, host, hc, got, wlen, k;
	uint64_t	 tail;
	size_t		 cnt;
	int		 r = -1;

	c0 = off >> im->cbits;
	head = off & (cs - 1);
	n = (head + x->len + cs - 1) >> im->cbits;
	if (qc_flight_busy(q, c0, n)) {
		pthread_cond_wait(&q->cv, &q->lock);
		return (0);
	}
	fl.c0 = c0;
	fl.n = n;
	LIST_INSERT_HEAD(&q->flights, &fl, entry);
	if (qc_l2_ensure(q, c0 >> (im->cbits - 3)) == -1)
		goto out;
	if (x->type == QE_ZERO && x->host != 0) {
		host = x->host;
		got = 1;
		how = QF_ZERO;
		if (!qc_write_ok(q, host, cs)) {
			qc_bad(q, QB_OVERLAP, 0, host);
			goto out;
		}
	} else {
		if (qc_alloc(q, n, &hc, &got) == -1)
			goto out;
		host = hc << im->cbits;
		how = (x->type == QE_UNALLOC && q->nimg > 1) ? QF_BACKING :
		    QF_FRESH;
	}
	wlen = (got << im->cbits) - head;
	if (wlen > x->len)
		wlen = x->len;
	tail = (got << im->cbits) - head - wlen;

	pthread_mutex_unlock(&q->lock);
	r = qc_fill(q, how, c0 << im->cbits, host, head);
	if (r == 0) {
		cnt = disk_iov_slice(rq->iov, rq->cnt, skip, wlen, rq->tmp);
		r = disk_fd_pwritev(im->fd, rq->tmp, (int)cnt, host + head);
	}
	if (r == 0)
		r = qc_fill(q, how, (c0 << im->cbits) + head + wlen,
		    host + head + wlen, tail);
	pthread_mutex_lock(&q->lock);

	/* the data is written: now the L2 entries may point to it */
	for (k = 0; r == 0 && k < got; k++)
		r = qc_l2_set(q, c0 + k, (host + (k << im->cbits)) |
		    QC_COPIED);
 out:
	qc_flight_land(q, &fl);
	return (r == 0 ? (int64_t)wlen : -1);
}

static int
qc_req_init(struct qc_req *rq, const struct iovec *iov, int cnt,
    struct iovec *small)
{
	rq->iov = iov;
	rq->cnt = cnt;
	rq->tmp = small;
	if (cnt > QC_SMALL_IOV &&
	    (rq->tmp = reallocarray(NULL, cnt, sizeof(*rq->tmp))) == NULL)
		return (-1);
	return (0);
}

static void
qc_req_free(struct qc_req *rq, struct iovec *small)
{
	if (rq->tmp != small)
		free(rq->tmp);
}

/*
 * Read [off, off + len) of image i of the chain into bytes [skip, skip
 * + len) of the request.  Past the image's size, and where no image
 * has the cluster, it reads zeros.
 */
static int
qc_read(struct qcow2 *q, size_t i, struct qc_req *rq, size_t skip,
    uint64_t off, uint64_t len)
{
	const struct qc_img *im = &q->img[i];
	struct qc_ext	 x;
	size_t		 cnt;
	int		 r;

	if (off >= im->size) {
		disk_iov_zero(rq->iov, rq->cnt, skip, len);
		return (0);
	}
	if (len > im->size - off) {
		disk_iov_zero(rq->iov, rq->cnt, skip + (im->size - off),
		    len - (im->size - off));
		len = im->size - off;
	}
	if (im->fmt == DISK_FMT_RAW) {
		cnt = disk_iov_slice(rq->iov, rq->cnt, skip, len, rq->tmp);
		return (disk_fd_preadv(im->fd, rq->tmp, (int)cnt, off));
	}
	while (len > 0) {
		pthread_mutex_lock(&q->lock);
		r = qc_map(q, i, off, len, &x);
		pthread_mutex_unlock(&q->lock);
		if (r == -1)
			return (-1);
		switch (x.type) {
		case QE_DATA:
			cnt = disk_iov_slice(rq->iov, rq->cnt, skip, x.len,
			    rq->tmp);
			if (disk_fd_preadv(im->fd, rq->tmp, (int)cnt,
			    x.host) == -1)
				return (-1);
			break;
		case QE_ZERO:
			disk_iov_zero(rq->iov, rq->cnt, skip, x.len);
			break;
		case QE_UNALLOC:
			if (i + 1 < q->nimg) {
				if (qc_read(q, i + 1, rq, skip, off,
				    x.len) == -1)
					return (-1);
			} else
				disk_iov_zero(rq->iov, rq->cnt, skip, x.len);
			break;
		}
		off += x.len;
		skip += x.len;
		len -= x.len;
	}
	return (0);
}

static ssize_t
qc_preadv(struct disk *d, const struct iovec *iov, int cnt, uint64_t off)
{
	struct iovec	 small[QC_SMALL_IOV];
	struct qc_req	 rq;
	uint64_t	 len = 0;
	int		 i, r;

	for (i = 0; i < cnt; i++)
		len += iov[i].iov_len;
	if (qc_req_init(&rq, iov, cnt, small) == -1)
		return (-1);
	r = qc_read(d->priv, 0, &rq, 0, off, len);
	qc_req_free(&rq, small);
	return (r == -1 ? -1 : (ssize_t)len);
}

static int
qc_write(struct qcow2 *q, struct qc_req *rq, size_t skip, uint64_t off,
    uint64_t len)
{
	struct qc_ext	 x;
	size_t		 cnt;
	int64_t		 n;
	int		 r = 0;

	pthread_mutex_lock(&q->lock);
	while (len > 0 && r == 0) {
		if ((r = qc_map(q, 0, off, len, &x)) == -1)
			break;
		if (x.type == QE_DATA && !x.copied &&
		    (r = qc_fix_copied(q, off, &x)) == -1)
			break;
		if (x.type == QE_DATA) {
			if (!qc_write_ok(q, x.host, x.len)) {
				r = qc_bad(q, QB_OVERLAP, 0, x.host);
				break;
			}
			pthread_mutex_unlock(&q->lock);
			cnt = disk_iov_slice(rq->iov, rq->cnt, skip, x.len,
			    rq->tmp);
			r = disk_fd_pwritev(q->img[0].fd, rq->tmp, (int)cnt,
			    x.host);
			pthread_mutex_lock(&q->lock);
			n = (int64_t)x.len;
		} else {
			if ((n = qc_alloc_write(q, rq, skip, off, &x)) == -1)
				r = -1;
		}
		off += (uint64_t)n;
		skip += (size_t)n;
		len -= (uint64_t)n;
	}
	pthread_mutex_unlock(&q->lock);
	return (r);
}

static ssize_t
qc_pwritev(struct disk *d, const struct iovec *iov, int cnt, uint64_t off)
{
	struct iovec	 small[QC_SMALL_IOV];
	struct qc_req	 rq;
	uint64_t	 len = 0;
	int		 i, r;

	for (i = 0; i < cnt; i++)
		len += iov[i].iov_len;
	if (qc_req_init(&rq, iov, cnt, small) == -1)
		return (-1);
	r = qc_write(d->priv, &rq, 0, off, len);
	qc_req_free(&rq, small);
	return (r == -1 ? -1 : (ssize_t)len);
}

/* Write len zero bytes at off through the ordinary write path. */
static int
qc_write_zero_bytes(struct qcow2 *q, uint64_t off, uint64_t len)
{
	struct iovec	 iov[32], tmp[32];
	struct qc_req	 rq;
	uint64_t	 n;
	int		 i;

	while (len > 0) {
		for (i = 0, n = 0; i < 32 && n < len; i++) {
			iov[i].iov_base = (void *)qc_zeros;
			iov[i].iov_len = len - n < QC_ZERO_BUF ? len - n :
			    QC_ZERO_BUF;
			n += iov[i].iov_len;
		}
		rq.iov = iov;
		rq.cnt = i;
		rq.tmp = tmp;
		if (qc_write(q, &rq, 0, off, n) == -1)
			return (-1);
		off += n;
		len -= n;
	}
	return (0);
}

enum qc_zmode {
	QZ_DISCARD,
	QZ_ZERO,
	QZ_ZERO_UNMAP
};

/*
 * Whole clusters [off, off + len) read as zeros afterwards (discard:
 * may keep what the backing chain has).  Clusters are never freed:
 * their host clusters become holes.
 */
static int
qc_zero_clusters(struct qcow2 *q, uint64_t off, uint64_t len,
    enum qc_zmode mode, uint64_t *done)
{
	struct qc_img	*im = &q->img[0];
	struct qc_flight fl;
	struct qc_ext	 x;
	uint64_t	 k, n, c, got, cs = im->csize;
	int		 r = 0;

	*done = 0;
	pthread_mutex_lock(&q->lock);
	if (qc_map(q, 0, off, len, &x) == -1)
		goto fail;
	if (x.type == QE_DATA && !x.copied && qc_fix_copied(q, off, &x) == -1)
		goto fail;
	switch (x.type) {
	case QE_DATA:
	case QE_ZERO:
		if (x.type == QE_ZERO && (x.host == 0 || mode == QZ_ZERO))
			break;
		if (!qc_write_ok(q, x.host, x.len)) {
			qc_bad(q, QB_OVERLAP, 0, x.host);
			goto fail;
		}
		pthread_mutex_unlock(&q->lock);
		r = disk_fd_zero(im->fd, x.host, x.len, mode != QZ_ZERO);
		if (r == -1 && mode == QZ_DISCARD &&
		    (errno == EOPNOTSUPP || errno == ENOSYS))
			r = 0;
		*done = x.len;
		return (r);
	case QE_UNALLOC:
		if (q->nimg == 1 || mode == QZ_DISCARD)
			break;
		/* bounded work under the lock per call */
		if (x.len > (512ULL << im->cbits))
			x.len = 512ULL << im->cbits;
		n = x.len >> im->cbits;
		if (qc_flight_busy(q, off >> im->cbits, n)) {
			pthread_cond_wait(&q->cv, &q->lock);
			pthread_mutex_unlock(&q->lock);
			return (0);
		}
		fl.c0 = off >> im->cbits;
		fl.n = n;
		LIST_INSERT_HEAD(&q->flights, &fl, entry);
		r = qc_l2_ensure(q, fl.c0 >> (im->cbits - 3));
		if (r == 0 && im->version >= 3) {
			for (k = 0; r == 0 && k < n; k++)
				r = qc_l2_set(q, fl.c0 + k, QC_ZERO);
		} else if (r == 0) {
			/* v2 has no zero flag: fresh clusters read zeros */
			if ((r = qc_alloc(q, n, &c, &got)) == 0) {
				for (k = 0; r == 0 && k < got; k++)
					r = qc_l2_set(q, fl.c0 + k,
					    ((c + k) << im->cbits) | QC_COPIED);
				x.len = got * cs;
			}
		}
		qc_flight_land(q, &fl);
		if (r == -1)
			goto fail;
		break;
	}
	pthread_mutex_unlock(&q->lock);
	*done = x.len;
	return (0);
 fail:
	pthread_mutex_unlock(&q->lock);
	return (-1);
}

static int
qc_zero(struct qcow2 *q, uint64_t off, uint64_t len, enum qc_zmode mode)
{
	uint64_t	 cs = q->img[0].csize, head, n, done;

	while (len > 0) {
		head = off & (cs - 1);
		if (head != 0 || len < cs) {
			n = cs - head < len ? cs - head : len;
			/* a partial cluster: discard is only a hint */
			if (mode != QZ_DISCARD &&
			    qc_write_zero_bytes(q, off, n) == -1)
				return (-1);
			off += n;
			len -= n;
			continue;
		}
		if (qc_zero_clusters(q, off, len & ~(cs - 1), mode,
		    &done) == -1)
			return (-1);
		off += done;
		len -= done;
	}
	return (0);
}

static int
qc_discard(struct disk *d, uint64_t off, uint64_t len)
{
	return (qc_zero(d->priv, off, len, QZ_DISCARD));
}

static int
qc_write_zeroes(struct disk *d, uint64_t off, uint64_t len, int unmap)
{
	return (qc_zero(d->priv, off, len, unmap ? QZ_ZERO_UNMAP : QZ_ZERO));
}

static int
qc_status_img(struct qcow2 *q, size_t i, uint64_t off, uint64_t len,
    uint64_t *pnum)
{
	const struct qc_img *im = &q->img[i];
	struct qc_ext	 x;
	int		 r;

	if (off >= im->size) {
		*pnum = len;
		return (0);
	}
	if (len > im->size - off)
		len = im->size - off;
	if (im->fmt == DISK_FMT_RAW)
		return (disk_fd_status(im->fd, off, len, pnum));
	pthread_mutex_lock(&q->lock);
	r = qc_map(q, i, off, len, &x);
	pthread_mutex_unlock(&q->lock);
	if (r == -1)
		return (-1);
	*pnum = x.len;
	if (x.type == QE_DATA)
		return (1);
	if (x.type == QE_UNALLOC && i + 1 < q->nimg)
		return (qc_status_img(q, i + 1, off, x.len, pnum));
	return (0);
}

static int
qc_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum)
{
	return (qc_status_img(d->priv, 0, off, len, pnum));
}

static int
qc_flush(struct disk *d)
{
	struct qcow2	*q = d->priv;
	int		 r;

	pthread_mutex_lock(&q->lock);
	r = qc_meta_write(q);
	pthread_mutex_unlock(&q->lock);
	if (r == -1)
		return (-1);
	/* covers every write that completed before the flush began */
	return (fdatasync(q->img[0].fd));
}

static void
qc_close(struct disk *d)
{
	struct qcow2	*q = d->priv;

	if (!(d->flags & DISK_RDONLY)) {
		if (qc_meta_write(q) == -1)
			log_warn("qcow2: writing metadata at close");
		else if (fdatasync(q->img[0].fd) == -1)
			log_warn("qcow2: fdatasync at close");
	}
	qc_cache_free(q);
	free(q->meta);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cv);
	free(q);
}

static int
qc_img_init(struct qc_img *im, int fd, const struct qc_hdr *h)
{
	im->fd = fd;
	im->fmt = DISK_FMT_QCOW2;
	im->version = h->version;
	im->cbits = h->cbits;
	im->csize = 1ULL << h->cbits;
	im->size = h->size;
	im->l1_size = h->l1_size;
	im->l1_off = h->l1_off;
	im->rt_off = h->rt_off;
	im->rt_len = (uint64_t)h->rt_clusters << h->cbits;
	im->rt_entries = im->rt_len / 8;
	im->rorder = h->rorder;
	im->rb_bits = h->cbits + 3 - h->rorder;
	im->end = (h->filesize + im->csize - 1) >> h->cbits;
	im->slice = im->csize < QC_SLICE ? (uint32_t)im->csize : QC_SLICE;
	return (0);
}

/*
 * Compressed clusters are refused at open: read the L2 tables (in 64
 * KiB pieces) until one is found or QC_SCAN_MAX bytes were read; past
 * that, a request that meets one fails (qc_classify).  Cloud images
 * are often compressed, and an error at open says what to do about it.
 */
static int
qc_scan_compressed(const struct qc_img *im, char *err, size_t errlen)
{
	uint8_t		 l1[QC_SLICE], *buf;
	struct iovec	 iov;
	uint64_t	 i, j, k, n, e, l2, budget = QC_SCAN_MAX, chunk;
	int		 r = 0;

	chunk = im->csize < QC_BOUNCE ? im->csize : QC_BOUNCE;
	if ((buf = malloc(chunk)) == NULL)
		return (-1);
	for (i = 0; r == 0 && i < (uint64_t)im->l1_size * 8; i += n) {
		n = (uint64_t)im->l1_size * 8 - i < sizeof(l1) ?
		    (uint64_t)im->l1_size * 8 - i : sizeof(l1);
		iov.iov_base = l1;
		iov.iov_len = n;
		if ((r = disk_fd_preadv(im->fd, &iov, 1, im->l1_off + i)) ==
		    -1)
			break;
		for (j = 0; r == 0 && j < n; j += 8) {
			l2 = get64(l1 + j) & QC_OFF_MASK;
			if (l2 == 0 || !qc_table_ok(im, l2))
				continue;
			if (budget < im->csize)
				goto out;
			budget -= im->csize;
			for (k = 0; r == 0 && k < im->csize; k += chunk) {
				iov.iov_base = buf;
				iov.iov_len = chunk;
				if ((r = disk_fd_preadv(im->fd, &iov, 1,
				    l2 + k)) == -1)
					break;
				for (e = 0; e < chunk; e += 8)
					if (get64(buf + e) & QC_COMPRESSED) {
						disk_errf(err, errlen,
						    "compressed clusters are "
						    "not supported (convert "
						    "the image with qemu-img "
						    "convert -O qcow2)");
						errno = ENOTSUP;
						r = -1;
						break;
					}
			}
		}
	}
 out:
	free(buf);
	return (r);
}

/*
 * Open the chain: the top is qcow2; each qcow2 image that names a
 * backing file takes the next descriptor, in the format its header
 * names or, without one, the one the magic says.
 */
static int
qc_open(struct disk *d, char *err, size_t errlen)
{
	struct qcow2	*q;
	struct qc_hdr	*h;
	enum disk_format fmt = DISK_FMT_QCOW2;
	uint8_t		 zero[8];
	size_t		 i;
	int		 saved;

	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (h = malloc(sizeof(*h))) == NULL) {
		free(q);
		disk_errf(err, errlen, "%s", strerror(errno));
		return (-1);
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cv, NULL);
	LIST_INIT(&q->flights);
	for (i = 0; i < d->nfds; i++) {
		struct qc_img	*im = &q->img[i];
		char		 msg[DISK_ERR_MAX];

		q->nimg = i + 1;
		if (fmt == DISK_FMT_AUTO &&
		    disk_probe(d->fds[i], &fmt) == -1) {
			disk_errf(err, errlen, "backing image %zu: %s", i,
			    strerror(errno));
			goto fail;
		}
		if (fmt == DISK_FMT_RAW) {
			im->fd = d->fds[i];
			im->fmt = DISK_FMT_RAW;
			im->size = disk_fd_size(d->fds[i]);
			im->cbits = 9;
			im->csize = 512;
			im->slice = 512;
			if (i + 1 < d->nfds) {
				disk_errf(err, errlen, "%zu images given, but "
				    "the chain ends at the raw image %zu",
				    d->nfds, i);
				errno = EINVAL;
				goto fail;
			}
			break;
		}
		if (qc_hdr_read(d->fds[i], h, msg, sizeof(msg)) == -1) {
			if (i == 0)
				disk_errf(err, errlen, "%s", msg);
			else
				disk_errf(err, errlen, "backing image %zu: %s",
				    i, msg);
			goto fail;
		}
		qc_img_init(im, d->fds[i], h);
		if (qc_scan_compressed(im, msg, sizeof(msg)) == -1) {
			if (i == 0)
				disk_errf(err, errlen, "%s", msg);
			else
				disk_errf(err, errlen, "backing image %zu: %s",
				    i, msg);
			goto fail;
		}
		if (h->bk_len == 0) {
			if (i + 1 < d->nfds) {
				disk_errf(err, errlen, "%zu images given, but "
				    "the chain ends at image %zu", d->nfds, i);
				errno = EINVAL;
				goto fail;
			}
			break;
		}
		if (i + 1 == d->nfds) {
			disk_errf(err, errlen, "backing file %s was not "
			    "given", h->bk_name);
			errno = EINVAL;
			goto fail;
		}
		fmt = h->bk_fmt;
	}
	if (qc_hdr_read(d->fds[0], h, err, errlen) == -1)
		goto fail;
	/* Bitmaps we do not keep must be marked inconsistent first. */
	if (!(d->flags & DISK_RDONLY) && h->autoclear != 0) {
		memset(zero, 0, sizeof(zero));
		if (disk_fd_pwrite(d->fds[0], zero, sizeof(zero),
		    QH_AUTOCLEAR) == -1 || fdatasync(d->fds[0]) == -1) {
			disk_errf(err, errlen, "clearing autoclear features: "
			    "%s", strerror(errno));
			goto fail;
		}
	}
	if (qc_cache_init(q, d->cache) == -1 ||
	    (!(d->flags & DISK_RDONLY) && qc_meta_load(q) == -1)) {
		disk_errf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	free(h);
	d->priv = q;
	d->size = q->img[0].size;
	d->features = DISK_F_DISCARD | DISK_F_WRITE_ZEROES;
	return (0);
 fail:
	saved = errno;
	qc_cache_free(q);
	free(q->meta);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cv);
	free(q);
	free(h);
	errno = saved;
	return (-1);
}

/*
 * A new image in fd (empty): v3, 2^cbits-byte clusters, 16-bit
 * refcounts; header, refcount table, refcount blocks and L1 table in
 * that order from cluster 0, the L1 table left as a hole.
 */
int
qcow2_create(int fd, uint64_t size, unsigned int cbits, const char *base,
    enum disk_format bfmt, char *err, size_t errlen)
{
	uint8_t		 buf[QC_SLICE];
	uint64_t	 cs = 1ULL << cbits, l1_ent, l1_cl, rt_cl, nb, total;
	uint64_t	 rbe = cs / 2, i, b, chunk, per_l1;
	size_t		 pos, blen = base != NULL ? strlen(base) : 0;
	const char	*fname = bfmt == DISK_FMT_RAW ? "raw" : "qcow2";

	if (cbits < QC_MIN_BITS || cbits > QC_MAX_BITS || size > QC_MAX_SIZE) {
		disk_errf(err, errlen, "disk size too large");
		errno = EFBIG;
		return (-1);
	}
	per_l1 = cs * (cs / 8);
	l1_ent = size / per_l1 + (size % per_l1 != 0);
	if (l1_ent * 8 > QC_MAX_L1) {
		disk_errf(err, errlen, "disk size too large");
		errno = EFBIG;
		return (-1);
	}
	l1_cl = (l1_ent * 8 + cs - 1) / cs;
	if (l1_cl == 0)
		l1_cl = 1;
	for (rt_cl = 1, nb = 1;;) {
		total = 1 + rt_cl + nb + l1_cl;
		b = (total + rbe - 1) / rbe;
		i = (b * 8 + cs - 1) / cs;
		if (b == nb && i == rt_cl)
			break;
		nb = b;
		rt_cl = i;
	}

	memset(buf, 0, sizeof(buf));
	memcpy(buf, QC_MAGIC, 4);
	put32(buf + QH_VERSION, 3);
	put32(buf + QH_CBITS, cbits);
	put64(buf + QH_SIZE, size);
	put32(buf + QH_L1_SIZE, (uint32_t)l1_ent);
	put64(buf + QH_L1_OFF, (1 + rt_cl + nb) << cbits);
	put64(buf + QH_RT_OFF, cs);
	put32(buf + QH_RT_CLUSTERS, (uint32_t)rt_cl);
	put32(buf + QH_RORDER, 4);
	put32(buf + QH_HLEN, QC_V3_HDR);
	pos = QC_V3_HDR;
	if (base != NULL) {
		put32(buf + pos, QC_EXT_BACKING_FMT);
		put32(buf + pos + 4, (uint32_t)strlen(fname));
		memcpy(buf + pos + 8, fname, strlen(fname));
		pos += 8 + ((strlen(fname) + 7) & ~(size_t)7);
	}
	pos += 8;		/* end of extensions */
	if (blen > QC_MAX_BACKING || pos + blen > cs) {
		disk_errf(err, errlen, "base image name too long");
		errno = ENAMETOOLONG;
		return (-1);
	}
	if (blen > 0) {
		put64(buf + QH_BK_OFF, pos);
		put32(buf + QH_BK_SIZE, (uint32_t)blen);
		memcpy(buf + pos, base, blen);
		pos += blen;
	}
	if (disk_fd_pwrite(fd, buf, pos, 0) == -1)
		return (-1);

	/* refcount table: nb blocks right after it */
	for (i = 0; i < nb; i += sizeof(buf) / 8) {
		memset(buf, 0, sizeof(buf));
		for (b = 0; b < sizeof(buf) / 8 && i + b < nb; b++)
			put64(buf + b * 8, (1 + rt_cl + i + b) << cbits);
		if (disk_fd_pwrite(fd, buf, b * 8, cs + i * 8) == -1)
			return (-1);
	}
	/* refcount blocks: every cluster of the image counted once */
	for (i = 0; i < total; i += chunk) {
		b = i / rbe;
		chunk = total - i;
		if (chunk > sizeof(buf) / 2)
			chunk = sizeof(buf) / 2;
		if (chunk > (b + 1) * rbe - i)
			chunk = (b + 1) * rbe - i;
		memset(buf, 0, sizeof(buf));
		for (pos = 0; pos < chunk; pos++)
			buf[pos * 2 + 1] = 1;
		if (disk_fd_pwrite(fd, buf, chunk * 2,
		    ((1 + rt_cl + b) << cbits) + (i % rbe) * 2) == -1)
			return (-1);
	}
	if (ftruncate(fd, (off_t)(total << cbits)) == -1)
		return (-1);
	return (fsync(fd));
}
