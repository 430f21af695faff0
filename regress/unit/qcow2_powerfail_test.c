/*
 * qcow2_powerfail_test.c: power-loss simulation for the qcow2 code.
 * The library is compiled in here with its writes, syncs and fallocates
 * going through a shim that remembers, for every 4 KiB page of the top
 * image written since the last fdatasync, what it held before each
 * write.  A workload of stamped writes, zeroings and flushes runs until
 * a chosen shim call, where the power "fails": that call and all after
 * it never reach the file, and each page keeps a random prefix of its
 * unsynced writes, in any combination across pages, as a page cache may
 * leave it.  Then qemu-img check must report no corruption (leaks are
 * allowed), and every sector must hold what it held at the last flush
 * that completed or something written after it, never anything else.
 * Without qemu-img the check part is skipped, the data part still runs.
 * It only touches its own scratch directory.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regress/test.h"

/* The shim: declared before the library sees the names. */
static ssize_t	 shim_pwritev(int, const struct iovec *, int, off_t);
static int	 shim_fdatasync(int);
static int	 shim_fallocate(int, int, off_t, off_t);

/* object-like: struct disk_ops's pwritev member is renamed alike */
#define pwritev		shim_pwritev
#define fdatasync	shim_fdatasync
#define fallocate	shim_fallocate
#include "usr.sbin/vmd/disk.c"
#include "usr.sbin/vmd/vioraw.c"
#include "usr.sbin/vmd/vioqcow2.c"
#undef pwritev
#undef fdatasync
#undef fallocate

#define PAGE		4096
#define SEC		512
#define VSIZE		(4 * 1024 * 1024)
#define NSEC		(VSIZE / SEC)
#define NOPS		70
#define MAXPEND		4096

struct undo {
	uint64_t	 page;
	uint8_t		 before[PAGE];
};

static struct {
	int		 fd;		/* the top image, -1: pass through */
	long		 calls;		/* shim calls so far */
	long		 crash_at;	/* power fails at this call */
	int		 dead;
	struct undo	*log;
	size_t		 n, cap;
} sh = { -1, 0, -1, 0, NULL, 0, 0 };

static char	 dir[] = "/tmp/powerfail_test.XXXXXX";
static char	 msg[DISK_ERR_MAX];
static int	 have_qemu;
static uint64_t	 rs;

static uint64_t
rnd(void)
{
	uint64_t	 z = (rs += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

/* Remember what the pages of [off, off + len) hold now. */
static void
shim_save(uint64_t off, uint64_t len)
{
	uint64_t	 p;
	ssize_t		 n;

	for (p = off / PAGE; len > 0 && p <= (off + len - 1) / PAGE; p++) {
		if (sh.n == sh.cap) {
			sh.cap = sh.cap ? sh.cap * 2 : 256;
			sh.log = realloc(sh.log, sh.cap * sizeof(*sh.log));
			if (sh.log == NULL)
				abort();
		}
		sh.log[sh.n].page = p;
		n = pread(sh.fd, sh.log[sh.n].before, PAGE, (off_t)(p * PAGE));
		if (n < 0)
			abort();
		memset(sh.log[sh.n].before + n, 0, PAGE - (size_t)n);
		sh.n++;
	}
}

/* Does this call reach the file? */
static int
shim_live(int fd)
{
	if (fd != sh.fd)
		return (1);
	if (sh.dead)
		return (0);
	if (++sh.calls == sh.crash_at) {
		sh.dead = 1;
		return (0);
	}
	return (1);
}

static ssize_t
shim_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	size_t		 len = 0;
	int		 i;

	for (i = 0; i < cnt; i++)
		len += iov[i].iov_len;
	if (!shim_live(fd))
		return ((ssize_t)len);
	if (fd == sh.fd)
		shim_save((uint64_t)off, len);
	return (pwritev(fd, iov, cnt, off));
}

static int
shim_fdatasync(int fd)
{
	if (!shim_live(fd))
		return (0);
	if (fd == sh.fd)
		sh.n = 0;
	return (fdatasync(fd));
}

static int
shim_fallocate(int fd, int mode, off_t off, off_t len)
{
	if (!shim_live(fd))
		return (0);
	if (fd == sh.fd)
		shim_save((uint64_t)off, (uint64_t)len);
	return (fallocate(fd, mode, off, len));
}

/* The power failed: each page keeps a random prefix of its writes. */
static void
shim_crash(void)
{
	size_t		 i, j, m, k;
	uint8_t		*done = calloc(sh.n ? sh.n : 1, 1);

	for (i = 0; i < sh.n; i++) {
		if (done[i])
			continue;
		for (j = i, m = 0; j < sh.n; j++)
			if (sh.log[j].page == sh.log[i].page)
				m++;
		k = (size_t)(rnd() % (m + 1));
		for (j = i, m = 0; j < sh.n; j++) {
			if (sh.log[j].page != sh.log[i].page)
				continue;
			done[j] = 1;
			if (m++ == k &&
			    pwrite(sh.fd, sh.log[j].before, PAGE,
			    (off_t)(sh.log[j].page * PAGE)) != PAGE)
				abort();
		}
	}
	free(done);
	sh.n = 0;
}

/*
 * What a sector may hold: a stamp (s, seq), zeros, or the base's.
 * expect[] is the state at the last completed flush; pend[] the writes
 * since.
 */
enum { ST_INIT, ST_ZERO, ST_STAMP };

struct state {
	uint8_t		 kind;
	uint32_t	 seq;
};

struct pend {
	uint32_t	 s0, n;
	struct state	 st;
};

static struct state	 expect[NSEC];
static struct pend	 pend[MAXPEND];
static size_t		 npend;
static uint8_t		 init[VSIZE];	/* what the disk held at first */

static void
stamp(uint8_t *p, uint64_t s, uint32_t seq)
{
	uint64_t	 h = s * 2654435761ULL + seq * 40503ULL + 7;
	size_t		 i;

	for (i = 0; i < SEC; i += 8) {
		h = h * 6364136223846793005ULL + 1442695040888963407ULL;
		memcpy(p + i, &h, 8);
	}
	memcpy(p, &s, 8);
	memcpy(p + 8, &seq, 4);
}

static int
matches(const uint8_t *p, uint64_t s, struct state st)
{
	static const uint8_t zero[SEC];
	uint8_t		 want[SEC];

	switch (st.kind) {
	case ST_INIT:
		return (memcmp(p, init + s * SEC, SEC) == 0);
	case ST_ZERO:
		return (memcmp(p, zero, SEC) == 0);
	default:
		stamp(want, s, st.seq);
		return (memcmp(p, want, SEC) == 0);
	}
}

static int
dio(struct disk *d, void *p, size_t n, uint64_t off, int wr)
{
	struct iovec	 iov = { p, n };

	if (wr)
		return (disk_pwritev(d, &iov, 1, off) == (ssize_t)n ? 0 : -1);
	return (disk_preadv(d, &iov, 1, off) == (ssize_t)n ? 0 : -1);
}

static int
opener(const char *p, int flags, void *arg)
{
	return (open(p, flags));
}

static struct disk *
dopen(const char *name, int rdonly, size_t cache)
{
	struct disk_chain c;
	struct disk	*d;
	char		 p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (disk_chain_open(p, DISK_FMT_AUTO, rdonly, opener, NULL, &c, msg,
	    sizeof(msg)) == -1)
		return (NULL);
	if ((d = disk_open(c.fmt[0], c.fd, c.n, rdonly ? DISK_RDONLY : 0,
	    cache, msg, sizeof(msg))) == NULL)
		disk_chain_close(&c);
	return (d);
}

/* The workload: returns the shim calls it made. */
static long
workload(struct disk *d, uint64_t seed)
{
	uint8_t		 buf[64 * SEC];
	uint64_t	 s0, n, i;
	uint32_t	 seq = 0;
	int		 op, k;

	rs = seed;
	npend = 0;
	for (i = 0; i < NSEC; i++)
		expect[i].kind = ST_INIT;
	for (k = 0; k < NOPS; k++) {
		s0 = rnd() % NSEC;
		n = 1 + rnd() % (rnd() % 3 == 0 ? 64 : 9);
		if (n > NSEC - s0)
			n = NSEC - s0;
		op = (int)(rnd() % 8);
		if (op < 5) {
			seq++;
			for (i = 0; i < n; i++)
				stamp(buf + i * SEC, s0 + i, seq);
			if (dio(d, buf, n * SEC, s0 * SEC, 1) == -1)
				return (-1);
			pend[npend].st.kind = ST_STAMP;
			pend[npend].st.seq = seq;
		} else if (op < 7) {
			if (disk_write_zeroes(d, s0 * SEC, n * SEC, op == 6) ==
			    -1)
				return (-1);
			pend[npend].st.kind = ST_ZERO;
		} else {
			if (disk_flush(d) == -1)
				return (-1);
			if (sh.dead)
				continue;	/* it never completed */
			for (i = 0; i < npend; i++)
				for (s0 = 0; s0 < pend[i].n; s0++)
					expect[pend[i].s0 + s0] = pend[i].st;
			npend = 0;
			continue;
		}
		pend[npend].s0 = (uint32_t)s0;
		pend[npend].n = (uint32_t)n;
		npend++;
	}
	return (sh.calls);
}

static int
verify(struct disk *d)
{
	uint8_t		*buf = malloc(VSIZE);
	uint64_t	 s;
	size_t		 i;
	int		 ok, bad = 0;

	if (buf == NULL || dio(d, buf, VSIZE, 0, 0) == -1) {
		free(buf);
		return (0);
	}
	for (s = 0; s < NSEC && bad < 3; s++) {
		ok = matches(buf + s * SEC, s, expect[s]);
		for (i = 0; !ok && i < npend; i++)
			if (s >= pend[i].s0 && s < pend[i].s0 + pend[i].n)
				ok = matches(buf + s * SEC, s, pend[i].st);
		if (!ok) {
			printf("# sector %llu: neither the flushed state "
			    "(kind %d seq %u) nor a later write\n",
			    (unsigned long long)s, expect[s].kind,
			    expect[s].seq);
			bad++;
		}
	}
	free(buf);
	return (bad == 0);
}

/* qemu-img check: 0 clean, 3 leaks only; anything else fails. */
static int
qemu_check(const char *name)
{
	char		 cmd[PATH_MAX + 64];
	int		 st;

	if (!have_qemu)
		return (1);
	snprintf(cmd, sizeof(cmd), "qemu-img check -q %s/%s >/dev/null 2>&1",
	    dir, name);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return (0);
	if (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 3) {
		snprintf(cmd, sizeof(cmd), "qemu-img check %s/%s | head -5 | "
		    "sed 's/^/# /'", dir, name);
		(void)system(cmd);
		return (0);
	}
	return (1);
}

static int
mkimg(const char *name, unsigned int cbits, const char *base,
    enum disk_format bfmt, uint64_t size)
{
	char		 p[PATH_MAX];
	int		 fd, r;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	(void)unlink(p);
	if ((fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0600)) == -1)
		return (-1);
	if (bfmt == DISK_FMT_RAW && base == NULL)
		r = raw_create(fd, size);
	else
		r = qcow2_create(fd, size, cbits, base, bfmt, msg, sizeof(msg));
	close(fd);
	return (r);
}

struct config {
	const char	*name;
	unsigned int	 cbits;
	int		 base;		/* 0 none, 1 qcow2, 2 raw */
	unsigned int	 bbits;
	int		 v2;
	size_t		 cache;
};

/* One image set: base (filled), top; then crash at call k. */
static int
one_round(const struct config *c, uint64_t seed, long k)
{
	struct disk	*d;
	uint8_t		*buf;
	long		 calls;
	int		 ok = 1;

	if (c->base) {
		if (mkimg("b.img", c->bbits, NULL, c->base == 2 ?
		    DISK_FMT_RAW : DISK_FMT_QCOW2, VSIZE) == -1 ||
		    (d = dopen("b.img", 0, 0)) == NULL)
			return (0);
		buf = malloc(VSIZE);
		rs = seed ^ 0xbadc0de;
		for (size_t i = 0; i < VSIZE; i += 8) {
			uint64_t v = rnd();
			memcpy(buf + i, &v, 8);
		}
		/* some of the base stays unallocated */
		memset(buf + VSIZE / 2, 0, VSIZE / 4);
		ok = dio(d, buf, VSIZE, 0, 1) == 0;
		free(buf);
		disk_close(d);
	}
	if (!ok || mkimg("t.qcow2", c->cbits, c->base ? "b.img" : NULL,
	    c->base == 2 ? DISK_FMT_RAW : DISK_FMT_QCOW2, VSIZE) == -1)
		return (0);
	if (c->v2) {
		char	 p[PATH_MAX];
		uint32_t v = htobe32(2);
		int	 fd;

		snprintf(p, sizeof(p), "%s/t.qcow2", dir);
		fd = open(p, O_WRONLY);
		ok = fd != -1 && pwrite(fd, &v, 4, 4) == 4;
		close(fd);
	}
	if (!ok || (d = dopen("t.qcow2", 0, c->cache)) == NULL)
		return (0);
	if (dio(d, init, VSIZE, 0, 0) == -1) {
		disk_close(d);
		return (0);
	}
	sh.fd = d->fds[0];
	sh.calls = 0;
	sh.crash_at = k;
	sh.dead = 0;
	sh.n = 0;
	calls = workload(d, seed);
	if (k > 0)
		shim_crash();
	/* after the failure nothing reaches the file, close included */
	sh.dead = k > 0;
	disk_close(d);
	sh.fd = -1;
	if (calls == -1) {
		printf("# workload failed: %s\n", strerror(errno));
		return (0);
	}
	if (k == 0)
		return ((int)calls);
	if (!qemu_check("t.qcow2"))
		return (0);
	if ((d = dopen("t.qcow2", 1, 0)) == NULL) {
		printf("# reopen: %s\n", msg);
		return (0);
	}
	ok = verify(d);
	disk_close(d);
	return (ok);
}

static const struct config configs[] = {
	{ "64k", 16, 0, 0, 0, 0 },
	{ "4k.over.4k", 12, 1, 12, 0, 0 },
	{ "64k.over.4k", 16, 1, 12, 0, 0 },
	{ "4k.over.64k.v2", 12, 1, 16, 1, 0 },
	{ "64k.over.raw", 16, 2, 0, 0, 0 },
	{ "512.tinycache", 9, 1, 16, 0, 1 },
	{ "4k.tinycache", 12, 0, 0, 0, 1 },
	{ NULL }
};

static void
test_powerfail(void)
{
	const struct config *c;
	uint64_t	 seed;
	long		 calls, k;
	int		 r;

	for (c = configs; c->name != NULL; c++) {
		for (seed = 1; seed <= 12; seed++) {
			/* a dry run counts the calls, then crash in them */
			calls = one_round(c, seed, 0);
			CHECK(calls > 0);
			if (calls <= 0)
				return;
			for (r = 0; r < 4; r++) {
				rs = seed * 131 + (uint64_t)r;
				k = 1 + (long)(rnd() % (uint64_t)calls);
				if (!one_round(c, seed, k)) {
					printf("# %s seed %llu: power failed "
					    "at call %ld of %ld\n", c->name,
					    (unsigned long long)seed, k,
					    calls);
					CHECK(0);
					return;
				}
			}
		}
	}
}

int
main(void)
{
	char		 cmd[PATH_MAX + 16];

	if (mkdtemp(dir) == NULL) {
		printf("FAIL qcow2_powerfail_test: mkdtemp\n");
		return (1);
	}
	have_qemu = system("qemu-img --version >/dev/null 2>&1") == 0;
	if (!have_qemu)
		printf("SKIP test_powerfail.qemu_img_check: no qemu-img\n");
	RUN(test_powerfail);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)system(cmd);
	free(sh.log);
	TEST_EXIT();
}
