/*
 * scsi_fuzz.c: libFuzzer target for the virtio-scsi CD-ROM (vioscsi.c)
 * over a small ISO-like image: 64 blocks of a known pattern and a few
 * bytes of a 65th, in a memfd.  An input is a script of 32-byte steps
 * run against one fresh device, so state (unit attentions, the tray
 * lock, the sizes a driver writes) carries from step to step.  Step
 * byte 0 picks what it does: a SCSI command straight to the target, the
 * same through a virtio request chain, a control queue request, or a
 * configuration write; the other bytes are the LUN, the CDB, and the
 * shape of the buffers.  Every buffer is its own heap block of exactly
 * its size, so ASan sees any write past it; beyond the sanitizers the
 * target aborts when a command writes past what it says it wrote, says
 * it wrote more than it had, or reads data that is not the image's.
 *
 * Build: make regress/fuzz/scsi_fuzzer
 * Run:   regress/fuzz/scsi_fuzzer -max_total_time=300 regress/fuzz/corpus/scsi
 */

#include <sys/mman.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "virtq.h"
#include "vioscsi.h"

#define NBLOCKS		64
#define STEP		32
#define STEPS_MAX	16
#define NBUF_MAX	6
#define GUARD		0xa5

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The library's warnings, compiled to this (see the Makefile). */
void
fuzz_log(const char *fmt, ...)
{
}

static struct disk	*disk;

static uint8_t
pattern(uint64_t off)
{
	return ((uint8_t)(off * 7 + (off >> 11) * 13));
}

static void
setup(void)
{
	static uint8_t	 img[NBLOCKS * SCSI_CD_BLOCK + 300];
	char		 err[DISK_ERR_MAX];
	size_t		 i;
	int		 fd;

	for (i = 0; i < sizeof(img); i++)
		img[i] = pattern(i);
	if ((fd = memfd_create("scsi_fuzz", MFD_CLOEXEC)) == -1 ||
	    write(fd, img, sizeof(img)) != (ssize_t)sizeof(img))
		abort();
	if ((disk = disk_open(DISK_FMT_RAW, &fd, 1, DISK_RDONLY, 0, err,
	    sizeof(err))) == NULL)
		abort();
}

/* A LUN: LUN 0, LUN 1, a bad target, or the step's own bytes */
static void
pick_lun(const uint8_t *s, uint8_t *lun)
{
	static const uint8_t luns[3][8] = {
		{ 1, 0, 0x40, 0, 0, 0, 0, 0 },
		{ 1, 0, 0x40, 1, 0, 0, 0, 0 },
		{ 1, 2, 0x40, 0, 0, 0, 0, 0 }
	};

	if (s[1] & 0x80)
		memcpy(lun, s + 2, 8);
	else
		memcpy(lun, luns[s[1] % 3], 8);
}

struct bufs {
	struct iovec	 iov[NBUF_MAX];
	int		 n;
	size_t		 total;
};

/* n buffers of sizes from the step, each its own heap block */
static void
bufs_make(struct bufs *b, const uint8_t *s, size_t base)
{
	int	 i;

	b->n = s[27] % NBUF_MAX;
	b->total = 0;
	for (i = 0; i < b->n; i++) {
		b->iov[i].iov_len = (size_t)s[28 + i % 4] * (i & 1 ? 3 : 67) +
		    (i == 0 ? base : 0);
		if ((b->iov[i].iov_base = malloc(b->iov[i].iov_len + 1)) ==
		    NULL)
			abort();
		memset(b->iov[i].iov_base, GUARD, b->iov[i].iov_len);
		b->total += b->iov[i].iov_len;
	}
}

/* Bytes [from, total) of the buffers are still the guard */
static int
bufs_untouched(const struct bufs *b, size_t from)
{
	size_t		 off = 0, j;
	int		 i;

	for (i = 0; i < b->n; i++) {
		for (j = 0; j < b->iov[i].iov_len; j++, off++)
			if (off >= from &&
			    ((uint8_t *)b->iov[i].iov_base)[j] != GUARD)
				return (0);
	}
	return (1);
}

static void
bufs_free(struct bufs *b)
{
	int	 i;

	for (i = 0; i < b->n; i++)
		free(b->iov[i].iov_base);
	b->n = 0;
}

/* A GOOD read must have brought the image's bytes */
static void
check_read(const uint8_t *cdb, size_t cdblen, const struct bufs *b,
    const struct scsi_result *r)
{
	uint64_t	 lba, off;
	size_t		 j;
	int		 i;

	if (r->status != SCSI_GOOD || r->response != VIRTIO_SCSI_S_OK ||
	    r->len == 0)
		return;
	switch (cdb[0]) {
	case 0x08:
		lba = (uint64_t)(cdb[1] & 0x1f) << 16 | cdb[2] << 8 | cdb[3];
		break;
	case 0x28:
	case 0xa8:
		lba = (uint64_t)cdb[2] << 24 | cdb[3] << 16 | cdb[4] << 8 |
		    cdb[5];
		break;
	case 0x88:
		lba = 0;
		for (i = 2; i < 10; i++)
			lba = lba << 8 | cdb[i];
		break;
	default:
		return;
	}
	off = lba * SCSI_CD_BLOCK;
	for (i = 0; i < b->n && off < lba * SCSI_CD_BLOCK + r->len; i++)
		for (j = 0; j < b->iov[i].iov_len &&
		    off < lba * SCSI_CD_BLOCK + r->len; j++, off++)
			if (((uint8_t *)b->iov[i].iov_base)[j] != pattern(off))
				abort();
}

static void
step_command(struct vioscsi *sc, const uint8_t *s)
{
	struct scsi_result r;
	struct bufs	 b;
	uint8_t		 lun[8];
	size_t		 cdblen = s[26] % 17;

	pick_lun(s, lun);
	bufs_make(&b, s, 0);
	scsi_cd_command(&sc->cd, lun, s + 10, cdblen, b.iov, b.n, &r);
	if (r.len > b.total || r.len + r.resid != b.total ||
	    !bufs_untouched(&b, r.len) || r.sense_len > SCSI_SENSE_LEN)
		abort();
	if (r.status == SCSI_CHECK_CONDITION && (r.len != 0 ||
	    r.sense_len != SCSI_SENSE_LEN))
		abort();
	check_read(s + 10, cdblen, &b, &r);
	bufs_free(&b);
}

/*
 * The same through a request chain: readable header (and perhaps
 * data-out), writable response and data-in, as the driver's sizes say.
 */
static void
step_request(struct vioscsi *sc, const uint8_t *s)
{
	struct iovec	 iov[NBUF_MAX + 2];
	struct virtq_chain c;
	struct bufs	 b;
	uint8_t		*req;
	char		 why[VIRTQ_ERR_LEN];
	size_t		 reqlen, resplen, i;
	uint32_t	 used;

	/* sizes a driver might have written, kept small enough to hold */
	if (sc->cdb_size > 300 || sc->sense_size > 300)
		return;
	reqlen = VIOSCSI_REQ_HDR + sc->cdb_size + (s[1] & 0x40 ? s[26] : 0);
	resplen = VIOSCSI_RESP_HDR + sc->sense_size;
	if (s[0] & 0x80 && reqlen > 0)		/* sometimes short */
		reqlen -= s[27] % 4;
	if ((req = malloc(reqlen + 1)) == NULL)
		abort();
	memset(req, 0, reqlen);
	pick_lun(s, req);
	for (i = 0; i < 16 && VIOSCSI_REQ_HDR + i < reqlen; i++)
		req[VIOSCSI_REQ_HDR + i] = s[10 + i];
	bufs_make(&b, s, resplen);
	iov[0].iov_base = req;
	iov[0].iov_len = reqlen;
	memcpy(iov + 1, b.iov, sizeof(b.iov[0]) * b.n);
	c.iov = iov;
	c.max = NBUF_MAX + 2;
	c.niov = (uint16_t)(1 + b.n);
	c.nread = 1;
	c.rlen = (uint32_t)reqlen;
	c.wlen = (uint32_t)b.total;
	c.head = 0;
	if (vioscsi_request(sc, &c, &used, why, sizeof(why)) == 0) {
		if (used > b.total || used < resplen ||
		    !bufs_untouched(&b, used))
			abort();
	} else if (reqlen >= VIOSCSI_REQ_HDR + sc->cdb_size &&
	    b.total >= resplen)
		abort();			/* refused a good request */
	free(req);
	bufs_free(&b);
}

static void
step_control(struct vioscsi *sc, const uint8_t *s)
{
	struct iovec	 iov[2];
	struct virtq_chain c;
	uint8_t		 req[32], resp[8];
	char		 why[VIRTQ_ERR_LEN];
	uint32_t	 used;

	memcpy(req, s, sizeof(req));
	req[0] = s[1] % 4;			/* mostly known types */
	req[1] = req[2] = req[3] = 0;
	memset(resp, GUARD, sizeof(resp));
	iov[0].iov_base = req;
	iov[0].iov_len = 4 + s[27] % 28;
	iov[1].iov_base = resp;
	iov[1].iov_len = s[26] % 9;
	c.iov = iov;
	c.max = 2;
	c.niov = 2;
	c.nread = 1;
	c.rlen = (uint32_t)iov[0].iov_len;
	c.wlen = (uint32_t)iov[1].iov_len;
	c.head = 0;
	if (vioscsi_control(sc, &c, &used, why, sizeof(why)) == 0 &&
	    (used > c.wlen || used == 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vioscsi	 sc;
	const uint8_t	*s;
	size_t		 n;

	if (disk == NULL)
		setup();
	vioscsi_init(&sc, disk, (const char *)"FUZZ");
	for (n = 0; n < STEPS_MAX && (n + 1) * STEP <= size; n++) {
		s = data + n * STEP;
		switch (s[0] & 0x03) {
		case 0:
			step_command(&sc, s);
			break;
		case 1:
			step_request(&sc, s);
			break;
		case 2:
			step_control(&sc, s);
			break;
		case 3:
			if (s[0] & 0x04)
				vioscsi_reset(&sc);
			vioscsi_config_write(&sc, s[1] % 40, s + 2,
			    1 + s[26] % 4);
			break;
		}
	}
	return (0);
}
