/*
 * disk_bench.c: throughput of the disk image library (disk.h) on raw
 * and qcow2 images of the same size in the same directory, the way the
 * vioblk device will drive it: several threads with requests in
 * flight, buffered file I/O, a flush at the end of each write phase.
 * Phases: sequential write into a new image (allocating), sequential
 * overwrite, sequential read (1 MiB requests), random 4 KiB reads and
 * overwrites, random 4 KiB writes into a new image; three rounds that
 * alternate which format goes first, medians printed.  Then the time
 * to create a 50 GiB qcow2 image, in the library and with vmctl.
 * It measures only; it must never be part of a pass/fail test.
 *
 * Build: make bench/disk_bench
 * Run:   bench/disk_bench [-d dir] [-s MiB] [-t threads] [-n ops]
 *        [-v vmctl]
 */

#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <err.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "disk.h"

#define MB		(1024ULL * 1024)
#define SEQ_REQ		(1024 * 1024)
#define RND_REQ		4096

static const char	*dir = "/var/tmp";
static uint64_t		 size = 1024 * MB;
static int		 nthreads = 4;
static long		 nops = 40000;

enum phase { SEQ_WRITE, SEQ_READ, RND_READ, RND_WRITE };

struct job {
	struct disk	*d;
	enum phase	 ph;
	int		 t;
	long		 n;
};

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static int
opener(const char *p, int flags, void *arg)
{
	return (open(p, flags));
}

static struct disk *
dopen(const char *path)
{
	struct disk_chain c;
	struct disk	*d;
	char		 msg[DISK_ERR_MAX];

	if (disk_chain_open(path, DISK_FMT_AUTO, 0, opener, NULL, &c, msg,
	    sizeof(msg)) == -1)
		errx(1, "%s", msg);
	if ((d = disk_open(c.fmt[0], c.fd, c.n, 0, 0, msg,
	    sizeof(msg))) == NULL)
		errx(1, "%s", msg);
	return (d);
}

static void *
worker(void *p)
{
	struct job	*j = p;
	struct iovec	 iov;
	uint8_t		*buf;
	uint64_t	 off, end, s = (uint64_t)j->t * 7919 + 1, z;
	long		 k;

	if (posix_memalign((void **)&buf, 4096, SEQ_REQ) != 0)
		err(1, NULL);
	memset(buf, 0xa5 + j->t, SEQ_REQ);
	if (j->ph == SEQ_WRITE || j->ph == SEQ_READ) {
		/* each thread streams through its own part */
		off = size / nthreads * j->t;
		end = off + size / nthreads;
		iov.iov_base = buf;
		for (; off < end; off += SEQ_REQ) {
			iov.iov_len = end - off < SEQ_REQ ? end - off :
			    SEQ_REQ;
			if ((j->ph == SEQ_WRITE ?
			    disk_pwritev(j->d, &iov, 1, off) :
			    disk_preadv(j->d, &iov, 1, off)) == -1)
				err(1, "seq");
		}
	} else {
		iov.iov_base = buf;
		iov.iov_len = RND_REQ;
		for (k = 0; k < j->n; k++) {
			z = (s += 0x9e3779b97f4a7c15ULL);
			z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ULL;
			off = (z >> 8) % (size / RND_REQ) * RND_REQ;
			if ((j->ph == RND_WRITE ?
			    disk_pwritev(j->d, &iov, 1, off) :
			    disk_preadv(j->d, &iov, 1, off)) == -1)
				err(1, "random");
		}
	}
	free(buf);
	return (NULL);
}

/* Seconds for one phase over all threads, flush included for writes. */
static double
run(struct disk *d, enum phase ph, long n)
{
	struct job	 j[64];
	pthread_t	 th[64];
	double		 t0;
	int		 i;

	t0 = now();
	for (i = 0; i < nthreads; i++) {
		j[i].d = d;
		j[i].ph = ph;
		j[i].t = i;
		j[i].n = n / nthreads;
		pthread_create(&th[i], NULL, worker, &j[i]);
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	if ((ph == SEQ_WRITE || ph == RND_WRITE) && disk_flush(d) == -1)
		err(1, "flush");
	return (now() - t0);
}

static void
fresh(const char *path, enum disk_format fmt)
{
	char		 msg[DISK_ERR_MAX];

	(void)unlink(path);
	if (disk_create(path, fmt, size, NULL, 0, msg, sizeof(msg)) == -1)
		err(1, "create %s", path);
}

#define NPHASES	6
#define ROUNDS	3

static const char *const phase_name[NPHASES] = {
	"seq write, new image  MiB/s",
	"seq overwrite         MiB/s",
	"seq read              MiB/s",
	"4k random read         IOPS",
	"4k random overwrite    IOPS",
	"4k random write, new   IOPS"
};

/* One round of every phase on a new image of format fmt. */
static void
bench_format(enum disk_format fmt, double *res)
{
	char		 path[4096];
	struct disk	*d;
	double		 mib = (double)size / MB;

	snprintf(path, sizeof(path), "%s/disk_bench.%s", dir,
	    disk_format_name(fmt));
	fresh(path, fmt);
	d = dopen(path);
	res[0] = mib / run(d, SEQ_WRITE, 0);
	res[1] = mib / run(d, SEQ_WRITE, 0);
	res[2] = mib / run(d, SEQ_READ, 0);
	res[3] = nops / run(d, RND_READ, nops);
	res[4] = nops / run(d, RND_WRITE, nops);
	disk_close(d);
	fresh(path, fmt);
	d = dopen(path);
	res[5] = nops / run(d, RND_WRITE, nops);
	disk_close(d);
	(void)unlink(path);
}

static int cmp_double(const void *, const void *);

/* Rounds alternate which format goes first; medians are printed. */
static void
bench_formats(void)
{
	double		 r[2][NPHASES][ROUNDS], one[NPHASES], m[2];
	int		 k, f, p;

	for (k = 0; k < ROUNDS; k++)
		for (f = 0; f < 2; f++) {
			int	 fmt = (f + k) % 2;

			bench_format(fmt ? DISK_FMT_QCOW2 : DISK_FMT_RAW, one);
			for (p = 0; p < NPHASES; p++)
				r[fmt][p][k] = one[p];
		}
	printf("%-28s %10s %10s %7s\n", "median of 3", "raw", "qcow2",
	    "qcow2%");
	for (p = 0; p < NPHASES; p++) {
		for (f = 0; f < 2; f++) {
			qsort(r[f][p], ROUNDS, sizeof(double), cmp_double);
			m[f] = r[f][p][ROUNDS / 2];
		}
		printf("%-28s %10.0f %10.0f %6.0f%%\n", phase_name[p], m[0],
		    m[1], 100 * m[1] / m[0]);
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double		 x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

/* Median of 21 creations of a 50 GiB qcow2 image, library or vmctl. */
static void
bench_create(const char *vmctl)
{
	char		 path[4096], msg[DISK_ERR_MAX];
	double		 t[21], t0;
	int		 i, st;
	pid_t		 pid;

	snprintf(path, sizeof(path), "%s/disk_bench.create.qcow2", dir);
	for (i = 0; i < 21; i++) {
		(void)unlink(path);
		t0 = now();
		if (disk_create(path, DISK_FMT_QCOW2, 50 * 1024 * MB, NULL, 0,
		    msg, sizeof(msg)) == -1)
			err(1, "create");
		t[i] = now() - t0;
	}
	qsort(t, 21, sizeof(t[0]), cmp_double);
	printf("create 50G qcow2 (library)      %8.2f ms median, %.2f max\n",
	    t[10] * 1e3, t[20] * 1e3);
	for (i = 0; vmctl != NULL && i < 21; i++) {
		(void)unlink(path);
		t0 = now();
		if ((pid = fork()) == 0) {
			int	 fd = open("/dev/null", O_WRONLY);

			dup2(fd, 2);
			execl(vmctl, "vmctl", "create", "-s", "50G", path,
			    (char *)NULL);
			_exit(127);
		}
		if (pid == -1 || waitpid(pid, &st, 0) == -1 ||
		    !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			errx(1, "vmctl create failed");
		t[i] = now() - t0;
	}
	if (vmctl != NULL) {
		qsort(t, 21, sizeof(t[0]), cmp_double);
		printf("vmctl create -s 50G (process)   %8.2f ms median, "
		    "%.2f max\n", t[10] * 1e3, t[20] * 1e3);
	}
	(void)unlink(path);
}

int
main(int argc, char *argv[])
{
	const char	*vmctl = "usr.sbin/vmctl/vmctl";
	int		 ch;

	while ((ch = getopt(argc, argv, "d:n:s:t:v:")) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			nops = atol(optarg);
			break;
		case 's':
			size = strtoull(optarg, NULL, 0) * MB;
			break;
		case 't':
			nthreads = atoi(optarg);
			break;
		case 'v':
			vmctl = optarg;
			break;
		default:
			fprintf(stderr, "usage: disk_bench [-d dir] [-s MiB] "
			    "[-t threads] [-n ops] [-v vmctl]\n");
			return (1);
		}
	}
	if (nthreads < 1 || nthreads > 64 || size < 64 * MB)
		errx(1, "1 to 64 threads, at least 64 MiB");
	if (access(vmctl, X_OK) == -1)
		vmctl = NULL;
	printf("%llu MiB images in %s, %d threads, %ld random ops\n",
	    (unsigned long long)(size / MB), dir, nthreads, nops);
	bench_formats();
	bench_create(vmctl);
	return (0);
}
