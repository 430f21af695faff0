/*
 * disktool.c: drives the disk image library (usr.sbin/vmd/disk.h) from
 * the shell for the interop and crash tests, with qemu-img as the
 * referee.  It opens an image and its backing chain by path, as the
 * parent does, and then:
 *
 *   info                      format, size, images in the chain
 *   zero OFF LEN [unmap]      write_zeroes, then flush
 *   dump OUT [SEED]           read the whole disk into the raw file OUT
 *                             (random request sizes with SEED)
 *   load IN [SEED]            write the raw file IN over the disk
 *   mirror REF SEED N THREADS N random writes, write_zeroes and
 *                             discards, each also applied to the raw
 *                             file REF; THREADS at once
 *   crash SEED JOURNAL        generations of stamped writes from 4
 *                             threads, each ended by a flush and a line
 *                             in JOURNAL, until killed
 *   verify SEED JOURNAL REF   after a kill: every sector holds what the
 *                             flushed generations wrote, or a later
 *                             generation's stamp, never anything else;
 *                             REF holds the disk before the run
 *
 * It exits 0 when all went well, 1 with a message otherwise.  It is a
 * test tool: it trusts its command line.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"

#define SECTOR		512
#define UNIT		4096		/* a thread's smallest region */
#define STRIPE		(4 * UNIT)	/* consecutive bytes of one thread */
#define CRASH_THREADS	4
#define CRASH_WRITES	6		/* per thread and generation */
#define STAMP_MAGIC	0x5354414d50u	/* "STAMP" */

static struct disk	*dk;
static uint64_t		 dsize;

static uint64_t
rnd(uint64_t *s)
{
	uint64_t	 z;

	z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

static void
fill_random(uint8_t *p, size_t n, uint64_t *s)
{
	uint64_t	 v;
	size_t		 i;

	for (i = 0; i < n; i += 8) {
		v = rnd(s);
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static int
opener(const char *path, int flags, void *arg)
{
	return (open(path, flags));
}

static void
dread(void *buf, size_t len, uint64_t off)
{
	struct iovec	 iov = { buf, len };

	if (disk_preadv(dk, &iov, 1, off) != (ssize_t)len)
		err(1, "disk read %zu at %" PRIu64, len, off);
}

static void
dwrite(const void *buf, size_t len, uint64_t off)
{
	struct iovec	 iov = { (void *)buf, len };

	if (disk_pwritev(dk, &iov, 1, off) != (ssize_t)len)
		err(1, "disk write %zu at %" PRIu64, len, off);
}

static void
fread_at(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t		 n = pread(fd, buf, len, (off_t)off);

	if (n < 0)
		err(1, "pread");
	if ((size_t)n < len)
		memset((char *)buf + n, 0, len - (size_t)n);
}

static void
fwrite_at(int fd, const void *buf, size_t len, uint64_t off)
{
	if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
		err(1, "pwrite");
}

static int
cmd_info(void)
{
	printf("format %s size %" PRIu64 " features %u\n",
	    disk_format_name(disk_format_of(dk)), dsize, disk_features(dk));
	return (0);
}

static int
cmd_zero(const char *off, const char *len, int unmap)
{
	if (disk_write_zeroes(dk, strtoull(off, NULL, 0),
	    strtoull(len, NULL, 0), unmap) == -1 || disk_flush(dk) == -1)
		err(1, "write_zeroes");
	return (0);
}

/* Request sizes: random, odd ones included, up to 1 MiB. */
static size_t
chunk_len(uint64_t *s, uint64_t left)
{
	size_t		 n;

	if (s == NULL)
		n = 1 << 20;
	else switch (rnd(s) % 4) {
	case 0:
		n = 1 + rnd(s) % 8192;
		break;
	case 1:
		n = SECTOR * (1 + rnd(s) % 128);
		break;
	default:
		n = 1 + rnd(s) % (1 << 20);
	}
	return (n < left ? n : (size_t)left);
}

static int
cmd_dump(const char *out, const char *seed)
{
	uint64_t	 s, *sp = NULL, off;
	uint8_t		*buf;
	size_t		 n;
	int		 fd;

	if (seed != NULL) {
		s = strtoull(seed, NULL, 0);
		sp = &s;
	}
	if ((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1)
		err(1, "%s", out);
	if (ftruncate(fd, (off_t)dsize) == -1)
		err(1, "ftruncate");
	if ((buf = malloc(1 << 20)) == NULL)
		err(1, NULL);
	for (off = 0; off < dsize; off += n) {
		n = chunk_len(sp, dsize - off);
		dread(buf, n, off);
		fwrite_at(fd, buf, n, off);
	}
	free(buf);
	close(fd);
	return (0);
}

static int
cmd_load(const char *in, const char *seed)
{
	uint64_t	 s, *sp = NULL, off;
	uint8_t		*buf;
	size_t		 n;
	int		 fd;

	if (seed != NULL) {
		s = strtoull(seed, NULL, 0);
		sp = &s;
	}
	if ((fd = open(in, O_RDONLY)) == -1)
		err(1, "%s", in);
	if ((buf = malloc(1 << 20)) == NULL)
		err(1, NULL);
	for (off = 0; off < dsize; off += n) {
		n = chunk_len(sp, dsize - off);
		fread_at(fd, buf, n, off);
		dwrite(buf, n, off);
	}
	if (disk_flush(dk) == -1)
		err(1, "flush");
	free(buf);
	close(fd);
	return (0);
}

struct mirror_arg {
	int		 ref;
	uint64_t	 seed;
	unsigned int	 n, t, nthreads;
};

/* Pick a range: anywhere when alone, else inside one of our stripes. */
static void
pick_range(struct mirror_arg *a, uint64_t *s, uint64_t *off, size_t *len)
{
	uint64_t	 nstripes, st;

	if (a->nthreads == 1) {
		*off = rnd(s) % dsize;
		if (rnd(s) % 2)
			*off &= ~(uint64_t)(SECTOR - 1);
		*len = chunk_len(s, dsize - *off);
		if (*len > 256 * 1024 && rnd(s) % 2)
			*len = 256 * 1024;
		return;
	}
	nstripes = dsize / STRIPE;
	st = rnd(s) % (nstripes / a->nthreads) * a->nthreads + a->t;
	*off = st * STRIPE + rnd(s) % STRIPE;
	if (rnd(s) % 2)
		*off &= ~(uint64_t)(SECTOR - 1);
	*len = 1 + rnd(s) % ((st + 1) * STRIPE - *off);
}

static void *
mirror_thread(void *p)
{
	struct mirror_arg *a = p;
	uint64_t	 s = a->seed * 1000003 + a->t, off;
	uint8_t		*buf, *old;
	size_t		 len, i;
	unsigned int	 k, op;

	if ((buf = malloc(1 << 20)) == NULL || (old = malloc(1 << 20)) == NULL)
		err(1, NULL);
	for (k = 0; k < a->n; k++) {
		pick_range(a, &s, &off, &len);
		op = rnd(&s) % 10;
		if (op < 7) {
			fill_random(buf, len, &s);
			dwrite(buf, len, off);
			fwrite_at(a->ref, buf, len, off);
		} else if (op < 9) {
			if (disk_write_zeroes(dk, off, len, op == 8) == -1)
				err(1, "write_zeroes %zu at %" PRIu64, len,
				    off);
			memset(buf, 0, len);
			fwrite_at(a->ref, buf, len, off);
		} else {
			/* discard: each byte is zero or what it was */
			fread_at(a->ref, old, len, off);
			if (disk_discard(dk, off, len) == -1)
				err(1, "discard");
			dread(buf, len, off);
			for (i = 0; i < len; i++)
				if (buf[i] != 0 && buf[i] != old[i])
					errx(1, "discard at %" PRIu64 " made "
					    "byte %zu neither zero nor old",
					    off, i);
			fwrite_at(a->ref, buf, len, off);
		}
		if (rnd(&s) % 16 == 0 && disk_flush(dk) == -1)
			err(1, "flush");
	}
	free(buf);
	free(old);
	return (NULL);
}

static int
cmd_mirror(const char *ref, const char *seed, const char *n,
    const char *threads)
{
	struct mirror_arg a[16];
	pthread_t	 th[16];
	unsigned int	 i, nt = (unsigned int)atoi(threads);
	int		 fd;

	if (nt < 1 || nt > 16)
		errx(1, "1 to 16 threads");
	if ((fd = open(ref, O_RDWR)) == -1)
		err(1, "%s", ref);
	for (i = 0; i < nt; i++) {
		a[i].ref = fd;
		a[i].seed = strtoull(seed, NULL, 0);
		a[i].n = (unsigned int)atoi(n);
		a[i].t = i;
		a[i].nthreads = nt;
		if (pthread_create(&th[i], NULL, mirror_thread, &a[i]) != 0)
			errx(1, "pthread_create");
	}
	for (i = 0; i < nt; i++)
		pthread_join(th[i], NULL);
	if (disk_flush(dk) == -1)
		err(1, "flush");
	close(fd);
	return (0);
}

/*
 * The crash workload.  Generation g, thread t writes CRASH_WRITES
 * ranges of whole sectors inside its own stripes, chosen by a PRNG
 * seeded from (seed, g, t) alone, so verify can replay them.  Each
 * sector written holds a stamp: its own number, g, and bytes derived
 * from both.
 */
struct stamp {
	uint64_t	 magic;
	uint64_t	 sector;
	uint64_t	 gen;
	uint64_t	 seed;
};

static void
stamp_make(uint8_t *p, uint64_t sector, uint64_t gen, uint64_t seed)
{
	struct stamp	 st = { STAMP_MAGIC, sector, gen, seed };
	uint64_t	 s = sector * 31 + gen * 1000003 + seed;

	memcpy(p, &st, sizeof(st));
	fill_random(p + sizeof(st), SECTOR - sizeof(st), &s);
}

/* The generation of a valid stamp for sector, or -1. */
static int64_t
stamp_gen(const uint8_t *p, uint64_t sector, uint64_t seed)
{
	struct stamp	 st;
	uint8_t		 want[SECTOR];

	memcpy(&st, p, sizeof(st));
	if (st.magic != STAMP_MAGIC || st.sector != sector || st.seed != seed)
		return (-1);
	stamp_make(want, sector, st.gen, seed);
	return (memcmp(p, want, SECTOR) == 0 ? (int64_t)st.gen : -1);
}

struct crash_range {
	uint64_t	 sector, n;
};

static void
crash_ranges(uint64_t seed, uint64_t gen, unsigned int t,
    struct crash_range *r)
{
	uint64_t	 s = seed * 7919 + gen * 104729 + t, nstripes, st, a, b;
	unsigned int	 k;
	uint64_t	 per = STRIPE / SECTOR;

	nstripes = dsize / STRIPE;
	for (k = 0; k < CRASH_WRITES; k++) {
		st = rnd(&s) % (nstripes / CRASH_THREADS) * CRASH_THREADS + t;
		a = rnd(&s) % per;
		b = a + 1 + rnd(&s) % (per - a);
		r[k].sector = st * per + a;
		r[k].n = b - a;
	}
}

struct crash_arg {
	uint64_t	 seed, gen;
	unsigned int	 t;
};

static void *
crash_thread(void *p)
{
	struct crash_arg *a = p;
	struct crash_range r[CRASH_WRITES];
	uint8_t		 buf[STRIPE];
	uint64_t	 i;
	unsigned int	 k;

	crash_ranges(a->seed, a->gen, a->t, r);
	for (k = 0; k < CRASH_WRITES; k++) {
		for (i = 0; i < r[k].n; i++)
			stamp_make(buf + i * SECTOR, r[k].sector + i, a->gen,
			    a->seed);
		dwrite(buf, r[k].n * SECTOR, r[k].sector * SECTOR);
	}
	return (NULL);
}

static int
cmd_crash(const char *seed, const char *journal)
{
	struct crash_arg a[CRASH_THREADS];
	pthread_t	 th[CRASH_THREADS];
	uint64_t	 gen;
	unsigned int	 t;
	char		 line[32];
	int		 jfd;

	if ((jfd = open(journal, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND,
	    0644)) == -1)
		err(1, "%s", journal);
	for (gen = 1;; gen++) {
		for (t = 0; t < CRASH_THREADS; t++) {
			a[t].seed = strtoull(seed, NULL, 0);
			a[t].gen = gen;
			a[t].t = t;
			if (pthread_create(&th[t], NULL, crash_thread,
			    &a[t]) != 0)
				errx(1, "pthread_create");
		}
		for (t = 0; t < CRASH_THREADS; t++)
			pthread_join(th[t], NULL);
		if (disk_flush(dk) == -1)
			err(1, "flush");
		/* one write(2) per line: a kill cannot leave half of one */
		snprintf(line, sizeof(line), "%" PRIu64 "\n", gen);
		if (write(jfd, line, strlen(line)) != (ssize_t)strlen(line) ||
		    fdatasync(jfd) == -1)
			err(1, "journal");
	}
}

/*
 * For each sector: the last generation up to the journal's that wrote
 * it must be there, or a later generation that wrote it (up to two
 * past the journal: one flushed but not yet noted, one in progress);
 * a sector no noted generation wrote may also still hold what REF has.
 */
static int
cmd_verify(const char *seed_s, const char *journal, const char *ref)
{
	struct crash_range r[CRASH_WRITES];
	uint64_t	 seed = strtoull(seed_s, NULL, 0), committed = 0, g, i;
	uint64_t	 nsec = dsize / SECTOR, s, *last;
	uint8_t		*wrote, *buf, refbuf[SECTOR];
	unsigned int	 t, k;
	int64_t		 have;
	FILE		*fp;
	char		 line[64];
	int		 rfd, bad = 0;

	if ((fp = fopen(journal, "r")) == NULL)
		err(1, "%s", journal);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strchr(line, '\n') != NULL)
			committed = strtoull(line, NULL, 10);
	fclose(fp);
	if ((rfd = open(ref, O_RDONLY)) == -1)
		err(1, "%s", ref);
	last = calloc(nsec, sizeof(*last));
	wrote = calloc(nsec, 4);	/* bit per generation past committed */
	buf = malloc(1 << 20);
	if (last == NULL || wrote == NULL || buf == NULL)
		err(1, NULL);
	for (g = 1; g <= committed + 2; g++)
		for (t = 0; t < CRASH_THREADS; t++) {
			crash_ranges(seed, g, t, r);
			for (k = 0; k < CRASH_WRITES; k++)
				for (i = 0; i < r[k].n; i++) {
					s = r[k].sector + i;
					if (g <= committed)
						last[s] = g;
					else
						wrote[s] |= 1 << (g -
						    committed - 1);
				}
		}
	for (s = 0; s < nsec && bad < 10; s++) {
		if (s % 2048 == 0)
			dread(buf, (nsec - s < 2048 ? nsec - s : 2048) *
			    SECTOR, s * SECTOR);
		have = stamp_gen(buf + (s % 2048) * SECTOR, s, seed);
		if (have >= 0 && (uint64_t)have == last[s] && last[s] != 0)
			continue;
		if (have > (int64_t)committed &&
		    have <= (int64_t)committed + 2 &&
		    (wrote[s] & (1 << (have - (int64_t)committed - 1))))
			continue;
		if (last[s] == 0) {
			fread_at(rfd, refbuf, SECTOR, s * SECTOR);
			if (memcmp(refbuf, buf + (s % 2048) * SECTOR,
			    SECTOR) == 0)
				continue;
		}
		warnx("sector %" PRIu64 ": generation %" PRId64 ", expected "
		    "%" PRIu64 " (journal %" PRIu64 ")", s, have, last[s],
		    committed);
		bad++;
	}
	free(last);
	free(wrote);
	free(buf);
	close(rfd);
	if (bad)
		return (1);
	printf("verified %" PRIu64 " generations\n", committed);
	return (0);
}

static void
usage(void)
{
	fprintf(stderr, "usage: disktool [-r] [-c cache] [-f raw|qcow2] "
	    "image command [arg ...]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct disk_chain c;
	enum disk_format fmt = DISK_FMT_AUTO;
	char		 msg[DISK_ERR_MAX];
	size_t		 cache = 0;
	int		 ch, rdonly = 0, r;

	while ((ch = getopt(argc, argv, "c:f:r")) != -1) {
		switch (ch) {
		case 'c':
			cache = strtoul(optarg, NULL, 0);
			break;
		case 'f':
			fmt = strcmp(optarg, "raw") == 0 ? DISK_FMT_RAW :
			    DISK_FMT_QCOW2;
			break;
		case 'r':
			rdonly = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		usage();
	if (disk_chain_open(argv[0], fmt, rdonly, opener, NULL, &c, msg,
	    sizeof(msg)) == -1)
		errx(1, "%s", msg);
	if ((dk = disk_open(c.fmt[0], c.fd, c.n, rdonly ? DISK_RDONLY : 0,
	    cache, msg, sizeof(msg))) == NULL) {
		disk_chain_close(&c);
		errx(1, "%s: %s", argv[0], msg);
	}
	dsize = disk_size(dk);
	if (strcmp(argv[1], "info") == 0)
		r = cmd_info();
	else if (strcmp(argv[1], "zero") == 0 && argc >= 4)
		r = cmd_zero(argv[2], argv[3], argc > 4);
	else if (strcmp(argv[1], "dump") == 0 && argc >= 3)
		r = cmd_dump(argv[2], argc > 3 ? argv[3] : NULL);
	else if (strcmp(argv[1], "load") == 0 && argc >= 3)
		r = cmd_load(argv[2], argc > 3 ? argv[3] : NULL);
	else if (strcmp(argv[1], "mirror") == 0 && argc == 6)
		r = cmd_mirror(argv[2], argv[3], argv[4], argv[5]);
	else if (strcmp(argv[1], "crash") == 0 && argc == 4)
		r = cmd_crash(argv[2], argv[3]);
	else if (strcmp(argv[1], "verify") == 0 && argc == 5)
		r = cmd_verify(argv[2], argv[3], argv[4]);
	else
		usage();
	disk_close(dk);
	return (r);
}
