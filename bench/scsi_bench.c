/*
 * scsi_bench.c: the virtio-scsi CD-ROM's read path (vioscsi.c) as a
 * request chain reaches it, minus the ring: READ(10) requests of 2 KiB,
 * 64 KiB and 1 MiB over an image in the page cache, in MiB/s and
 * commands/s, beside disk_preadv of the same sizes (the limit: the
 * device adds only its parsing and response).  Then the rate of small
 * commands (TEST UNIT READY, INQUIRY, READ TOC).  Three rounds,
 * medians.  It measures only; it must never be part of a pass/fail
 * test.
 *
 * Build: make bench/scsi_bench
 * Run:   bench/scsi_bench [-d dir] [-s MiB]
 */

#include <sys/types.h>
#include <sys/uio.h>

#include <err.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "disk.h"
#include "virtq.h"
#include "vioscsi.h"

#define MB		(1024ULL * 1024)
#define ROUNDS		3
#define RESP		(VIOSCSI_RESP_HDR + VIOSCSI_SENSE_DEFAULT)
#define REQ		(VIOSCSI_REQ_HDR + VIOSCSI_CDB_DEFAULT)

static const char	*dir = "/var/tmp";
static uint64_t		 size = 256 * MB;

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static double
median(double *v)
{
	double	 t;
	int	 i, j;

	for (i = 0; i < ROUNDS; i++)
		for (j = i + 1; j < ROUNDS; j++)
			if (v[j] < v[i]) {
				t = v[i];
				v[i] = v[j];
				v[j] = t;
			}
	return (v[ROUNDS / 2]);
}

/*
 * One request chain: header, then response and data in pages, or in
 * 16 KiB pieces for a transfer that would take more segments than a
 * driver may give (seg_max), as Linux merges contiguous pages.
 */
struct req {
	uint8_t			 hdr[REQ];
	uint8_t			*in;
	struct iovec		 iov[VIOSCSI_MAX_IOV];
	struct virtq_chain	 c;
};

static void
req_make(struct req *q, size_t dlen)
{
	size_t	 off, n, seg = dlen > 256 * 1024 ? 16384 : 4096;

	memset(q->hdr, 0, sizeof(q->hdr));
	q->hdr[0] = 1;
	q->hdr[2] = 0x40;
	if ((q->in = aligned_alloc(4096, RESP + dlen + 4096)) == NULL)
		err(1, "aligned_alloc");
	q->iov[0].iov_base = q->hdr;
	q->iov[0].iov_len = REQ;
	q->iov[1].iov_base = q->in;
	q->iov[1].iov_len = RESP;
	for (off = 0, n = 2; off < dlen; off += seg, n++) {
		q->iov[n].iov_base = q->in + 4096 + off;
		q->iov[n].iov_len = dlen - off < seg ? dlen - off : seg;
	}
	q->c.iov = q->iov;
	q->c.max = VIOSCSI_MAX_IOV;
	q->c.niov = (uint16_t)n;
	q->c.nread = 1;
	q->c.rlen = REQ;
	q->c.wlen = (uint32_t)(RESP + dlen);
}

/* READ(10) of the whole image in dlen requests: MiB/s */
static double
scsi_read(struct vioscsi *sc, size_t dlen)
{
	struct req	 q;
	char		 why[VIRTQ_ERR_LEN];
	uint64_t	 lba, nblk = dlen / SCSI_CD_BLOCK;
	uint32_t	 used;
	double		 t0;
	uint8_t		*cdb;

	req_make(&q, dlen);
	cdb = q.hdr + VIOSCSI_REQ_HDR;
	cdb[0] = 0x28;
	cdb[7] = nblk >> 8;
	cdb[8] = nblk & 0xff;
	t0 = now();
	for (lba = 0; lba + nblk <= sc->cd.blocks; lba += nblk) {
		cdb[2] = lba >> 24;
		cdb[3] = lba >> 16;
		cdb[4] = lba >> 8;
		cdb[5] = lba;
		if (vioscsi_request(sc, &q.c, &used, why, sizeof(why)) == -1 ||
		    q.in[10] != SCSI_GOOD || used != RESP + dlen)
			errx(1, "READ(10) at %llu failed: status %u, %s",
			    (unsigned long long)lba, q.in[10], why);
	}
	t0 = now() - t0;
	free(q.in);
	return (size / (double)MB / t0);
}

static double
plain_read(struct disk *d, size_t dlen)
{
	struct req	 q;
	uint64_t	 off;
	double		 t0;

	req_make(&q, dlen);
	t0 = now();
	for (off = 0; off + dlen <= size; off += dlen)
		if (disk_preadv(d, q.iov + 2, q.c.niov - 2, off) == -1)
			err(1, "disk_preadv");
	t0 = now() - t0;
	free(q.in);
	return (size / (double)MB / t0);
}

/* Small commands per second */
static double
small(struct vioscsi *sc, const uint8_t *cdb, size_t cdblen, size_t dlen)
{
	struct req	 q;
	char		 why[VIRTQ_ERR_LEN];
	uint32_t	 used;
	double		 t0;
	int		 i, n = 1000000;

	req_make(&q, dlen);
	memcpy(q.hdr + VIOSCSI_REQ_HDR, cdb, cdblen);
	t0 = now();
	for (i = 0; i < n; i++)
		if (vioscsi_request(sc, &q.c, &used, why, sizeof(why)) == -1 ||
		    q.in[10] != SCSI_GOOD)
			errx(1, "command %02x failed", cdb[0]);
	t0 = now() - t0;
	free(q.in);
	return (n / t0);
}

int
main(int argc, char *argv[])
{
	static const size_t sizes[] = { 2048, 64 * 1024, 1024 * 1024 };
	static const uint8_t tur[6], inq[6] = { 0x12, 0, 0, 0, 36, 0 };
	static const uint8_t toc[10] = { 0x43, 2, 0, 0, 0, 0, 1, 0, 12, 0 };
	struct vioscsi	 sc;
	struct disk	*d;
	char		 path[4096], errbuf[DISK_ERR_MAX];
	double		 a[ROUNDS], b[ROUNDS], c[ROUNDS];
	uint8_t		*buf;
	uint64_t	 off;
	size_t		 i;
	int		 ch, fd, r;

	while ((ch = getopt(argc, argv, "d:s:")) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 's':
			size = strtoull(optarg, NULL, 10) * MB;
			break;
		default:
			fprintf(stderr,
			    "usage: scsi_bench [-d dir] [-s MiB]\n");
			return (1);
		}
	}
	if (size < 2 * MB)
		errx(1, "the image needs at least 2 MiB");
	snprintf(path, sizeof(path), "%s/scsi_bench.XXXXXX", dir);
	if ((fd = mkstemp(path)) == -1)
		err(1, "%s", path);
	unlink(path);
	if ((buf = malloc(MB)) == NULL)
		err(1, "malloc");
	for (off = 0; off < size; off += MB) {
		memset(buf, (int)(off / MB), MB);
		if (pwrite(fd, buf, MB, (off_t)off) != (ssize_t)MB)
			err(1, "pwrite");
	}
	free(buf);
	if ((d = disk_open(DISK_FMT_RAW, &fd, 1, DISK_RDONLY, 0, errbuf,
	    sizeof(errbuf))) == NULL)
		errx(1, "disk_open: %s", errbuf);
	vioscsi_init(&sc, d, "BENCH");
	sc.cd.ua = 0;
	plain_read(d, MB);			/* into the page cache */
	printf("%llu MiB image in %s's page cache; medians of %d rounds\n",
	    (unsigned long long)(size / MB), dir, ROUNDS);
	printf("%-10s %14s %14s %8s %14s\n", "READ(10)", "vioscsi",
	    "disk_preadv", "ratio", "commands/s");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (r = 0; r < ROUNDS; r++) {
			a[r] = scsi_read(&sc, sizes[i]);
			b[r] = plain_read(d, sizes[i]);
		}
		a[0] = median(a);
		b[0] = median(b);
		printf("%7zu KiB %9.0f MiB/s %9.0f MiB/s %7.0f%% %14.0f\n",
		    sizes[i] / 1024, a[0], b[0], 100 * a[0] / b[0],
		    a[0] * MB / sizes[i]);
	}
	for (r = 0; r < ROUNDS; r++) {
		a[r] = small(&sc, tur, sizeof(tur), 0);
		b[r] = small(&sc, inq, sizeof(inq), 36);
		c[r] = small(&sc, toc, sizeof(toc), 12);
	}
	printf("TEST UNIT READY %.0f/s, INQUIRY %.0f/s, READ TOC %.0f/s\n",
	    median(a), median(b), median(c));
	disk_close(d);
	return (0);
}
