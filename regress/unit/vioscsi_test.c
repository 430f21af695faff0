/*
 * vioscsi_test.c: unit tests of the virtio-scsi CD-ROM (vioscsi.c) over
 * a scratch image of 40 blocks (and 100 bytes more, which no command may
 * reach), each block holding a pattern made of its number.  Every
 * command we answer is checked against golden bytes written from the
 * specs (SPC-3, SBC-3, MMC-5, virtio 1.x), then hostile CDBs: short
 * ones, reserved bits, LBA and length overflows, transfers longer than
 * the buffers, every opcode with random fields under guard bytes that
 * must stay untouched.  Then the virtio side: request and response
 * layout with the sizes a driver may write, the control queue, the
 * configuration, whole queues over a fake guest RAM, and the device on
 * the PCI transport as a driver finds and drives it.  It cleans up
 * its scratch directory and touches nothing else.
 */

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "dev.h"
#include "disk.h"
#include "pci.h"
#include "virtio.h"
#include "virtq.h"
#include "vioscsi.h"
#include "regress/test.h"

#define NBLOCKS		40
#define BUF_MAX		(64 * 2048)
#define GUARD		0xee

static char		 dir[] = "/tmp/vioscsi_test.XXXXXX";
static char		 image[PATH_MAX], empty[PATH_MAX];
static struct disk	*dk, *dk_empty;
static struct scsi_cd	 cd;
static struct scsi_result r;
static uint8_t		 data[BUF_MAX + 64];
static size_t		 buflen;
static uint64_t		 seed = 7;

static const uint8_t	 LUN0[8] = { 1, 0, 0x40, 0, 0, 0, 0, 0 };

#define C(...)	((const uint8_t[]){ __VA_ARGS__ }), \
		    sizeof((const uint8_t[]){ __VA_ARGS__ })

static uint64_t
rnd(void)
{
	uint64_t	 z = (seed += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31));
}

static uint8_t
pattern(uint64_t block, size_t off)
{
	return ((uint8_t)(block * 37 + off * 11 + (off >> 8)));
}

static int
block_ok(const uint8_t *p, uint64_t block)
{
	size_t	 i;

	for (i = 0; i < 2048; i++)
		if (p[i] != pattern(block, i))
			return (0);
	return (1);
}

static int
untouched(size_t from, size_t to)
{
	size_t	 i;

	for (i = from; i < to; i++)
		if (data[i] != GUARD)
			return (0);
	return (1);
}

/* A fresh target on the image, its power-on unit attention taken. */
static void
fresh(void)
{
	scsi_cd_init(&cd, dk, "VMDCD0");
	cd.ua = 0;
}

static void
run_lun(const uint8_t *lun, const uint8_t *cdb, size_t cdblen, size_t len)
{
	struct iovec	 v = { data, len };

	memset(data, GUARD, sizeof(data));
	buflen = len;
	scsi_cd_command(&cd, lun, cdb, cdblen, &v, len ? 1 : 0, &r);
}

static void
run(const uint8_t *cdb, size_t cdblen, size_t len)
{
	run_lun(LUN0, cdb, cdblen, len);
}

/* GOOD with n bytes of data, the rest of the buffer untouched */
static int
good(size_t n)
{
	return (r.response == VIRTIO_SCSI_S_OK && r.status == SCSI_GOOD &&
	    r.sense_len == 0 && r.len == n && r.resid == buflen - n &&
	    untouched(n, sizeof(data)));
}

/* CHECK CONDITION with this sense, no data */
static int
sense(uint8_t key, uint16_t asc)
{
	return (r.response == VIRTIO_SCSI_S_OK &&
	    r.status == SCSI_CHECK_CONDITION && r.sense_len == 18 &&
	    r.sense[0] == 0x70 && r.sense[2] == key && r.sense[7] == 10 &&
	    r.sense[12] == asc >> 8 && r.sense[13] == (asc & 0xff) &&
	    r.len == 0 && r.resid == buflen && untouched(0, sizeof(data)));
}

static int
invalid(void)
{
	return (sense(SKEY_ILLEGAL_REQUEST, ASC_INVALID_FIELD));
}

static int
same(const uint8_t *want, size_t n)
{
	return (memcmp(data, want, n) == 0);
}

#define GOLD(...)	same(((const uint8_t[]){ __VA_ARGS__ }), \
			    sizeof((const uint8_t[]){ __VA_ARGS__ }))

static void
test_unit_attention(void)
{
	scsi_cd_init(&cd, dk, "VMDCD0");
	run(C(0x12, 0, 0, 0, 36, 0), 36);	/* INQUIRY: not stopped */
	CHECK(good(36));
	run(C(0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0), 16);
	CHECK(good(16));
	run(C(0x46, 0, 0, 0, 0, 0, 0, 0, 8, 0), 8);
	CHECK(good(8));
	run(C(0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0), 8);
	CHECK(good(8));
	run(C(0x00, 0, 0, 0, 0, 0), 0);		/* TEST UNIT READY */
	CHECK(sense(SKEY_UNIT_ATTENTION, ASC_POWER_ON));
	run(C(0x00, 0, 0, 0, 0, 0), 0);
	CHECK(good(0));
	/* REQUEST SENSE reports it as data and clears it */
	scsi_cd_reset(&cd, ASC_LU_RESET);
	run(C(0x03, 0, 0, 0, 18, 0), 18);
	CHECK(good(18) && data[0] == 0x70 && data[2] == SKEY_UNIT_ATTENTION &&
	    data[12] == 0x29 && data[13] == 0x03);
	run(C(0x00, 0, 0, 0, 0, 0), 0);
	CHECK(good(0));
	/* it comes before an opcode we do not know, then that is refused */
	scsi_cd_reset(&cd, ASC_POWER_ON);
	run(C(0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0), 2048);
	CHECK(sense(SKEY_UNIT_ATTENTION, ASC_POWER_ON));
	run(C(0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0), 2048);
	CHECK(sense(SKEY_ILLEGAL_REQUEST, ASC_INVALID_OPCODE));
	/* a reset unlocks the tray */
	run(C(0x1e, 0, 0, 0, 1, 0), 0);
	CHECK(good(0) && cd.prevent);
	scsi_cd_reset(&cd, ASC_POWER_ON);
	CHECK(!cd.prevent);
}

static void
test_inquiry(void)
{
	fresh();
	run(C(0x12, 0, 0, 0, 36, 0), 36);
	CHECK(good(36));
	CHECK(GOLD(0x05, 0x80, 0x05, 0x02, 31, 0, 0, 0x02,
	    'O', 'p', 'e', 'n', 'B', 'S', 'D', ' ',
	    'V', 'M', 'M', ' ', 'C', 'D', '-', 'R', 'O', 'M', ' ', ' ', ' ',
	    ' ', ' ', ' ', '0', '0', '1', ' '));
	run(C(0x12, 0, 0, 0, 5, 0), 100);	/* allocation length cuts */
	CHECK(good(5) && data[4] == 31);
	run(C(0x12, 0, 0, 0, 0, 0), 100);
	CHECK(good(0));
	run(C(0x12, 0, 0, 0x01, 0x00, 0), 300);	/* 256: all 36 */
	CHECK(good(36));
	run(C(0x12, 0, 0, 0, 36, 0), 10);	/* buffer cuts */
	CHECK(good(10) && data[0] == 0x05);
	run(C(0x12, 1, 0x00, 0, 255, 0), 255);	/* VPD: supported pages */
	CHECK(good(7) && GOLD(0x05, 0x00, 0x00, 0x03, 0x00, 0x80, 0x83));
	run(C(0x12, 1, 0x80, 0, 255, 0), 255);	/* unit serial number */
	CHECK(good(10) && GOLD(0x05, 0x80, 0x00, 0x06,
	    'V', 'M', 'D', 'C', 'D', '0'));
	run(C(0x12, 1, 0x83, 0, 255, 0), 255);	/* device identification */
	CHECK(good(38) && GOLD(0x05, 0x83, 0x00, 34, 0x02, 0x01, 0x00, 30,
	    'O', 'p', 'e', 'n', 'B', 'S', 'D', ' ',
	    'V', 'M', 'M', ' ', 'C', 'D', '-', 'R', 'O', 'M', ' ', ' ', ' ',
	    ' ', ' ', ' ', 'V', 'M', 'D', 'C', 'D', '0'));
	run(C(0x12, 1, 0x83, 0, 4, 0), 255);
	CHECK(good(4) && data[3] == 34);
	run(C(0x12, 1, 0xb0, 0, 255, 0), 255);	/* a disk's page */
	CHECK(invalid());
	run(C(0x12, 0, 0x80, 0, 255, 0), 255);	/* page without EVPD */
	CHECK(invalid());
	run(C(0x12, 2, 0, 0, 36, 0), 36);	/* CMDDT */
	CHECK(invalid());
	/* a serial that is not printable ASCII is made so, and cut */
	scsi_cd_init(&cd, dk, "a b\x01\xffqqqqqqqqqqqqqqqqqqqqqqqqqq");
	cd.ua = 0;
	run(C(0x12, 1, 0x80, 0, 255, 0), 255);
	CHECK(good(24) && data[3] == 20 && memcmp(data + 4, "a_b__", 5) == 0);
	scsi_cd_init(&cd, dk, NULL);
	cd.ua = 0;
	run(C(0x12, 1, 0x80, 0, 255, 0), 255);
	CHECK(good(4) && data[3] == 0);
}

static void
test_request_sense(void)
{
	fresh();
	run(C(0x03, 0, 0, 0, 252, 0), 252);
	CHECK(good(18) && GOLD(0x70, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0,
	    0, 0, 0, 0));
	run(C(0x03, 1, 0, 0, 252, 0), 252);	/* descriptor format */
	CHECK(good(8) && GOLD(0x72, 0, 0, 0, 0, 0, 0, 0));
	scsi_cd_reset(&cd, ASC_NEXUS_LOSS);
	run(C(0x03, 1, 0, 0, 252, 0), 252);
	CHECK(good(8) && GOLD(0x72, 0x06, 0x29, 0x07, 0, 0, 0, 0));
	run(C(0x03, 0, 0, 0, 4, 0), 252);
	CHECK(good(4) && GOLD(0x70, 0, 0, 0));
	run(C(0x03, 0, 0, 0, 0, 0), 252);
	CHECK(good(0));
}

static void
test_read_capacity(void)
{
	fresh();
	run(C(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), 8);
	CHECK(good(8) && GOLD(0, 0, 0, 39, 0, 0, 0x08, 0));
	run(C(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), 4);
	CHECK(good(4));
	run(C(0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0), 8);	/* LBA, no PMI */
	CHECK(invalid());
	run(C(0x25, 0, 0, 0, 0, 1, 0, 0, 1, 0), 8);
	CHECK(good(8) && data[3] == 39);
	run(C(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0), 32);
	CHECK(good(32) && GOLD(0, 0, 0, 0, 0, 0, 0, 39, 0, 0, 0x08, 0,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
	run(C(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0), 32);
	CHECK(good(12));
	run(C(0x9e, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0), 32);
	CHECK(invalid());
	run(C(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 32, 0, 0), 32);
	CHECK(invalid());
	/* beyond 32 bits: READ CAPACITY(10) says to ask (16) */
	cd.blocks = 1ULL << 33;
	run(C(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), 8);
	CHECK(good(8) && GOLD(0xff, 0xff, 0xff, 0xff, 0, 0, 0x08, 0));
	run(C(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0), 32);
	CHECK(good(32) && GOLD(0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff));
}

static void
test_read(void)
{
	struct iovec	 v[4];
	int		 i;

	fresh();
	run(C(0x28, 0, 0, 0, 0, 3, 0, 0, 2, 0), 4096);	/* READ(10) */
	CHECK(good(4096) && block_ok(data, 3) && block_ok(data + 2048, 4));
	run(C(0x08, 0, 0, 5, 1, 0), 2048);		/* READ(6) */
	CHECK(good(2048) && block_ok(data, 5));
	run(C(0xa8, 0, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0), 2048);	/* READ(12) */
	CHECK(good(2048) && block_ok(data, 16));
	run(C(0x88, 0, 0, 0, 0, 0, 0, 0, 0, 39, 0, 0, 0, 1, 0, 0), 8192);
	CHECK(good(2048) && block_ok(data, 39) && r.resid == 6144);
	run(C(0x28, 0, 0, 0, 0, 0, 0, 0, 40, 0), 40 * 2048);	/* all */
	CHECK(good(40 * 2048));
	for (i = 0; i < 40; i++)
		CHECK(block_ok(data + i * 2048, i));
	/* zero blocks: nothing moves, anywhere up to the end */
	run(C(0x28, 0, 0, 0, 0, 40, 0, 0, 0, 0), 2048);
	CHECK(good(0));
	run(C(0x28, 0, 0, 0, 0, 41, 0, 0, 0, 0), 2048);
	CHECK(sense(SKEY_ILLEGAL_REQUEST, ASC_LBA_RANGE));
	/* past the end, and the 100 bytes after the last block */
	run(C(0x28, 0, 0, 0, 0, 39, 0, 0, 2, 0), 4096);
	CHECK(sense(SKEY_ILLEGAL_REQUEST, ASC_LBA_RANGE));
	run(C(0x28, 0, 0, 0, 0, 40, 0, 0, 1, 0), 2048);
	CHECK(sense(SKEY_ILLEGAL_REQUEST, ASC_LBA_RANGE));
	/* overflows of LBA + length */
	run(C(0x28, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 2, 0), 4096);
	CHECK(sense(SKEY_ILLEGAL_REQUEST, ASC_LBA_RANGE));
	run(C(0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0,
	    0, 2, 0, 0), 4096);
	CHECK(sense(SKEY_ILLEGAL_REQUEST, ASC_LBA_RANGE));
	run(C(0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0,
	    0, 0, 0, 0), 4096);
	CHECK(sense(SKEY_ILLEGAL_REQUEST, ASC_LBA_RANGE));
	run(C(0xa8, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0), 4096);
	CHECK(sense(SKEY_ILLEGAL_REQUEST, ASC_LBA_RANGE));
	run(C(0x08, 0, 0, 0, 0, 0), 4096);	/* READ(6): 0 is 256 */
	CHECK(sense(SKEY_ILLEGAL_REQUEST, ASC_LBA_RANGE));
	/* more than the buffers hold: the transport's overrun */
	run(C(0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0), 4095);
	CHECK(r.response == VIRTIO_SCSI_S_OVERRUN && r.len == 0 &&
	    r.resid == 4095 && untouched(0, sizeof(data)));
	run(C(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0), 0);
	CHECK(r.response == VIRTIO_SCSI_S_OVERRUN && r.len == 0);
	/* more than one command may move, on a medium that would have it */
	cd.blocks = 1ULL << 30;
	run(C(0xa8, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x00, 0, 0), 4096);
	CHECK(invalid());
	cd.blocks = NBLOCKS;
	/* RDPROTECT: no protection information on a disc */
	run(C(0x28, 0x20, 0, 0, 0, 0, 0, 0, 1, 0), 2048);
	CHECK(invalid());
	run(C(0x28, 0x18, 0, 0, 0, 0, 0, 0, 1, 0), 2048);	/* DPO FUA */
	CHECK(good(2048) && block_ok(data, 0));
	/* scattered buffers, split inside blocks */
	memset(data, GUARD, sizeof(data));
	v[0].iov_base = data;
	v[0].iov_len = 1000;
	v[1].iov_base = data + 1000;
	v[1].iov_len = 3000;
	v[2].iov_base = data + 4000;
	v[2].iov_len = 1;
	v[3].iov_base = data + 4001;
	v[3].iov_len = 2143;
	buflen = 6144;
	scsi_cd_command(&cd, LUN0, C(0x28, 0, 0, 0, 0, 7, 0, 0, 3, 0), v, 4,
	    &r);
	CHECK(good(6144) && block_ok(data, 7) && block_ok(data + 2048, 8) &&
	    block_ok(data + 4096, 9));
	scsi_cd_command(&cd, LUN0, C(0x28, 0, 0, 0, 0, 7, 0, 0, 1, 0), v, 4,
	    &r);
	CHECK(r.status == SCSI_GOOD && r.len == 2048 && r.resid == 4096);
}

static void
test_read_error(void)
{
	int	 fd, dfd;

	/* the image's descriptor now names a directory: reads fail */
	CHECK((fd = open(image, O_RDONLY)) != -1);
	CHECK((dfd = open(dir, O_RDONLY | O_DIRECTORY)) != -1);
	{
		struct disk	*d;
		char		 err[DISK_ERR_MAX];

		d = disk_open(DISK_FMT_RAW, &fd, 1, DISK_RDONLY, 0, err,
		    sizeof(err));
		CHECK(d != NULL);
		if (d == NULL)
			return;
		scsi_cd_init(&cd, d, "X");
		cd.ua = 0;
		CHECK(dup2(dfd, fd) == fd);
		run(C(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0), 2048);
		CHECK(r.status == SCSI_CHECK_CONDITION &&
		    r.sense[2] == SKEY_MEDIUM_ERROR && r.sense[12] == 0x11 &&
		    r.len == 0 && r.resid == 2048);
		disk_close(d);
	}
	close(dfd);
}

static void
test_mode_sense(void)
{
	static const uint8_t cap[30] = { 0x2a, 28, 0x08, 0, 0, 0, 0x21, 0,
	    0x16, 0x00, 0, 0, 0, 0, 0x16, 0x00 };
	static const uint8_t err[12] = { 0x01, 10, 0, 5 };

	fresh();
	run(C(0x1a, 0, 0x2a, 0, 255, 0), 255);		/* MODE SENSE(6) */
	CHECK(good(34) && GOLD(33, 0, 0, 0));
	CHECK(memcmp(data + 4, cap, 30) == 0);
	run(C(0x5a, 0, 0x2a, 0, 0, 0, 0, 0x01, 0, 0), 256);	/* (10) */
	CHECK(good(38) && GOLD(0, 36, 0, 0, 0, 0, 0, 0));
	CHECK(memcmp(data + 8, cap, 30) == 0);
	run(C(0x5a, 0x08, 0x2a, 0, 0, 0, 0, 0, 128, 0), 128);	/* DBD */
	CHECK(good(38) && memcmp(data + 8, cap, 30) == 0);
	run(C(0x1a, 0, 0x01, 0, 255, 0), 255);
	CHECK(good(16) && GOLD(15, 0, 0, 0) && memcmp(data + 4, err, 12) == 0);
	run(C(0x1a, 0, 0x3f, 0, 255, 0), 255);		/* all pages */
	CHECK(good(46) && data[0] == 45 && memcmp(data + 4, err, 12) == 0 &&
	    memcmp(data + 16, cap, 30) == 0);
	run(C(0x1a, 0, 0x3f, 0xff, 255, 0), 255);	/* and subpages */
	CHECK(good(46));
	run(C(0x1a, 0, 0x2a, 0, 8, 0), 255);		/* cut: length 33 */
	CHECK(good(8) && data[0] == 33 && data[4] == 0x2a);
	run(C(0x1a, 0, 0x40 | 0x2a, 0, 255, 0), 255);	/* changeable */
	CHECK(good(34) && data[4] == 0x2a && data[5] == 28 && data[6] == 0 &&
	    data[10] == 0 && data[12] == 0);
	run(C(0x1a, 0, 0x80 | 0x2a, 0, 255, 0), 255);	/* default */
	CHECK(good(34) && memcmp(data + 4, cap, 30) == 0);
	run(C(0x1a, 0, 0xc0 | 0x2a, 0, 255, 0), 255);	/* saved */
	CHECK(sense(SKEY_ILLEGAL_REQUEST, ASC_SAVING_UNSUPPORTED));
	run(C(0x1a, 0, 0x08, 0, 255, 0), 255);		/* caching: no */
	CHECK(invalid());
	run(C(0x1a, 0, 0x2a, 1, 255, 0), 255);		/* a subpage */
	CHECK(invalid());
	run(C(0x1a, 0, 0x3f, 1, 255, 0), 255);
	CHECK(invalid());
	/* the lock shows */
	run(C(0x1e, 0, 0, 0, 1, 0), 0);
	run(C(0x1a, 0, 0x2a, 0, 255, 0), 255);
	CHECK(good(34) && data[4 + 6] == 0x23);
}

static void
test_get_configuration(void)
{
	static const uint16_t all[] = { 0x0000, 0x0001, 0x0002, 0x0003,
	    0x0010, 0x001e, 0x001f, 0x0100 };
	size_t		 off;
	int		 i;

	fresh();
	run(C(0x46, 0, 0, 0, 0, 0, 0, 0x01, 0, 0), 256);
	CHECK(good(80) && GOLD(0, 0, 0, 76, 0, 0, 0x00, 0x08,
	    0x00, 0x00, 0x03, 8, 0x00, 0x10, 0, 0, 0x00, 0x08, 1, 0,
	    0x00, 0x01, 0x0b, 8, 0, 0, 0, 1, 0, 0, 0, 0,
	    0x00, 0x02, 0x07, 4, 0, 0, 0, 0,
	    0x00, 0x03, 0x03, 4, 0x21, 0, 0, 0,
	    0x00, 0x10, 0x01, 8, 0, 0, 0x08, 0, 0, 1, 0, 0,
	    0x00, 0x1e, 0x09, 4, 0, 0, 0, 0,
	    0x00, 0x1f, 0x04, 4, 0, 0, 0, 0,
	    0x01, 0x00, 0x03, 0));
	for (i = 0, off = 8; off < 80 && i < 8; i++) {
		CHECK(data[off] << 8 == (all[i] & 0xff00) &&
		    data[off + 1] == (all[i] & 0xff));
		off += 4 + data[off + 3];
	}
	run(C(0x46, 0, 0, 0, 0, 0, 0, 0, 32, 0), 32);	/* as Linux asks */
	CHECK(good(32) && data[3] == 76 && data[7] == 0x08);
	run(C(0x46, 1, 0, 0, 0, 0, 0, 0x01, 0, 0), 256);	/* current */
	CHECK(good(72) && data[3] == 68 && data[61] == 0x1e &&
	    data[68] == 0x01 && data[69] == 0);
	run(C(0x46, 2, 0, 0x10, 0, 0, 0, 0x01, 0, 0), 256);	/* one */
	CHECK(good(20) && GOLD(0, 0, 0, 16, 0, 0, 0, 8,
	    0x00, 0x10, 0x01, 8, 0, 0, 0x08, 0, 0, 1, 0, 0));
	run(C(0x46, 2, 0, 0x05, 0, 0, 0, 0x01, 0, 0), 256);	/* absent */
	CHECK(good(8) && GOLD(0, 0, 0, 4, 0, 0, 0, 8));
	run(C(0x46, 0, 0, 0x11, 0, 0, 0, 0x01, 0, 0), 256);	/* from 0x11 */
	CHECK(good(28) && data[8] == 0 && data[9] == 0x1e &&
	    data[16] == 0 && data[17] == 0x1f && data[24] == 1);
	run(C(0x46, 0, 0xff, 0xff, 0, 0, 0, 0x01, 0, 0), 256);
	CHECK(good(8));
	run(C(0x46, 3, 0, 0, 0, 0, 0, 0x01, 0, 0), 256);
	CHECK(invalid());
	/* a DVD-sized disc */
	cd.blocks = SCSI_CD_CD_BLOCKS + 1;
	run(C(0x46, 0, 0, 0, 0, 0, 0, 0x01, 0, 0), 256);
	CHECK(good(80) && data[7] == 0x10 && data[14] == 1 && data[18] == 0 &&
	    data[62] == 0x08 && data[66] == 0x00 && data[70] == 0x05 &&
	    data[56] == 0 && data[57] == 16);
	cd.blocks = SCSI_CD_CD_BLOCKS;
	run(C(0x46, 0, 0, 0, 0, 0, 0, 0, 8, 0), 8);
	CHECK(good(8) && data[7] == 0x08);
}

static void
test_read_toc(void)
{
	fresh();
	run(C(0x43, 0, 0, 0, 0, 0, 0, 0, 255, 0), 255);	/* TOC, LBA */
	CHECK(good(20) && GOLD(0, 18, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0,
	    0, 0x14, 0xaa, 0, 0, 0, 0, 40));
	run(C(0x43, 2, 0, 0, 0, 0, 0, 0, 255, 0), 255);	/* TOC, MSF */
	CHECK(good(20) && GOLD(0, 18, 1, 1, 0, 0x14, 1, 0, 0, 0, 2, 0,
	    0, 0x14, 0xaa, 0, 0, 0, 2, 40));
	run(C(0x43, 2, 0, 0, 0, 0, 1, 0, 12, 0), 12);	/* as Linux asks */
	CHECK(good(12) && GOLD(0, 18, 1, 1, 0, 0x14, 1, 0, 0, 0, 2, 0));
	run(C(0x43, 0, 0, 0, 0, 0, 0xaa, 0, 255, 0), 255);	/* lead-out */
	CHECK(good(12) && GOLD(0, 10, 1, 1, 0, 0x14, 0xaa, 0, 0, 0, 0, 40));
	run(C(0x43, 0, 0, 0, 0, 0, 2, 0, 255, 0), 255);	/* no track 2 */
	CHECK(invalid());
	run(C(0x43, 0, 1, 0, 0, 0, 0, 0, 255, 0), 255);	/* sessions */
	CHECK(good(12) && GOLD(0, 10, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0));
	run(C(0x43, 2, 1, 0, 0, 0, 0, 0, 255, 0), 255);
	CHECK(good(12) && GOLD(0, 10, 1, 1, 0, 0x14, 1, 0, 0, 0, 2, 0));
	run(C(0x43, 0, 0, 0, 0, 0, 0, 0, 255, 0x40), 255);	/* SFF-8020 */
	CHECK(good(12) && data[1] == 10);
	run(C(0x43, 0, 2, 0, 0, 0, 0, 0, 255, 0), 255);	/* full TOC */
	CHECK(good(48) && GOLD(0, 46, 1, 1,
	    1, 0x14, 0, 0xa0, 0, 0, 0, 0, 1, 0, 0,
	    1, 0x14, 0, 0xa1, 0, 0, 0, 0, 1, 0, 0,
	    1, 0x14, 0, 0xa2, 0, 0, 0, 0, 0, 2, 40,
	    1, 0x14, 0, 0x01, 0, 0, 0, 0, 0, 2, 0));
	run(C(0x43, 0, 2, 0, 0, 0, 2, 0, 255, 0), 255);
	CHECK(invalid());
	run(C(0x43, 0, 3, 0, 0, 0, 0, 0, 255, 0), 255);	/* PMA */
	CHECK(invalid());
	run(C(0x43, 0, 4, 0, 0, 0, 0, 0, 255, 0), 255);	/* ATIP */
	CHECK(invalid());
	run(C(0x43, 0, 0, 0, 0, 0, 0, 0, 4, 0), 255);
	CHECK(good(4) && data[1] == 18);
	/* 60 minutes and 1 s, and what MSF cannot say */
	cd.blocks = 60 * 60 * 75 + 75 - 150;
	run(C(0x43, 2, 0, 0, 0, 0, 0xaa, 0, 255, 0), 255);
	CHECK(good(12) && data[9] == 60 && data[10] == 1 && data[11] == 0);
	cd.blocks = 1ULL << 34;
	run(C(0x43, 2, 0, 0, 0, 0, 0xaa, 0, 255, 0), 255);
	CHECK(good(12) && data[9] == 0xff && data[10] == 59 && data[11] == 74);
	run(C(0x43, 0, 0, 0, 0, 0, 0xaa, 0, 255, 0), 255);
	CHECK(good(12) && data[8] == 0xff && data[11] == 0xff);
}

static void
test_event_status(void)
{
	fresh();
	run(C(0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0), 8);	/* as Linux asks */
	CHECK(good(8) && GOLD(0, 6, 0x04, 0x10, 0, 0x02, 0, 0));
	run(C(0x4a, 1, 0, 0, 0x5e, 0, 0, 0, 255, 0), 255);
	CHECK(good(8) && data[2] == 0x04);
	run(C(0x4a, 1, 0, 0, 0x04, 0, 0, 0, 8, 0), 8);	/* power class */
	CHECK(good(4) && GOLD(0, 2, 0x80, 0x10));
	run(C(0x4a, 1, 0, 0, 0x10, 0, 0, 0, 4, 0), 8);
	CHECK(good(4) && data[1] == 6);
	run(C(0x4a, 0, 0, 0, 0x10, 0, 0, 0, 8, 0), 8);	/* asynchronous */
	CHECK(invalid());
}

static void
test_tray(void)
{
	fresh();
	run(C(0x1b, 0, 0, 0, 0x02, 0), 0);		/* eject */
	CHECK(invalid());
	run(C(0x1e, 0, 0, 0, 1, 0), 0);			/* prevent */
	CHECK(good(0) && cd.prevent);
	run(C(0x1b, 0, 0, 0, 0x02, 0), 0);
	CHECK(sense(SKEY_ILLEGAL_REQUEST, ASC_REMOVAL_PREVENTED));
	run(C(0x1e, 0, 0, 0, 0, 0), 0);			/* allow */
	CHECK(good(0) && !cd.prevent);
	run(C(0x1b, 1, 0, 0, 0x03, 0), 0);		/* load */
	CHECK(good(0));
	run(C(0x1b, 0, 0, 0, 0x01, 0), 0);		/* start */
	CHECK(good(0));
	run(C(0x1b, 0, 0, 0, 0x00, 0), 0);		/* stop */
	CHECK(good(0));
	run(C(0x1b, 0, 0, 0, 0x32, 0), 0);		/* power condition */
	CHECK(good(0));
	run(C(0x1b, 0, 0, 0, 0x02, 0), 0);
	CHECK(invalid());
	/* the disc is still there */
	run(C(0x00, 0, 0, 0, 0, 0), 0);
	CHECK(good(0));
	run(C(0xbb, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0), 0);
	CHECK(good(0));
}

static void
test_disc_info(void)
{
	fresh();
	run(C(0x51, 0, 0, 0, 0, 0, 0, 0, 34, 0), 34);
	CHECK(good(34) && GOLD(0, 32, 0x0e, 1, 1, 1, 1, 0x20, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0));
	run(C(0x51, 0, 0, 0, 0, 0, 0, 0, 2, 0), 34);
	CHECK(good(2) && data[1] == 32);
	run(C(0x51, 1, 0, 0, 0, 0, 0, 0, 34, 0), 34);	/* track resources */
	CHECK(invalid());
	run(C(0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0), 8);
	CHECK(good(8) && GOLD(0, 0, 0, 0, 0, 1, 0, 0));
	run(C(0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0), 16);	/* LUNs */
	CHECK(good(16) && GOLD(0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0));
	run(C(0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 0, 0), 16);
	CHECK(invalid());
	run(C(0xa0, 0, 1, 0, 0, 0, 0, 0, 0, 16, 0, 0), 16);
	CHECK(good(8) && GOLD(0, 0, 0, 0, 0, 0, 0, 0));
	run(C(0xa0, 0, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0), 64);
	CHECK(good(16));
	run(C(0xa0, 0, 0x10, 0, 0, 0, 0, 0, 0, 16, 0, 0), 16);
	CHECK(invalid());
	/* GET PERFORMANCE: nominal read speed over the disc */
	run(C(0xac, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0), 64);
	CHECK(good(24) && GOLD(0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0x16, 0, 0, 0, 0, 39, 0, 0, 0x16, 0));
	run(C(0xac, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 64);
	CHECK(good(8) && GOLD(0, 0, 0, 4, 0, 0, 0, 0));
	run(C(0xac, 0x04, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0), 64);	/* write */
	CHECK(good(8) && data[4] == 0x02);
	run(C(0xac, 0x02, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0), 64);	/* except */
	CHECK(good(8) && data[4] == 0x01);
	run(C(0xac, 0x03, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0), 64);
	CHECK(invalid());
	run(C(0xac, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0x03, 0), 64);	/* speeds */
	CHECK(good(8) && data[3] == 4);
	run(C(0xac, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0x01, 0), 64);
	CHECK(invalid());
	run(C(0xac, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0), 10);
	CHECK(good(10));
}

static void
test_refused(void)
{
	static const uint8_t ops[] = { 0x2a, 0x0a, 0x15, 0x55, 0x35, 0x2f,
	    0x42, 0xbe, 0xad, 0x52, 0x5c, 0xa3, 0x85, 0xa1, 0x7f, 0xff, 0x01,
	    0x04, 0xb6, 0x9f };
	uint8_t		 cdb[16];
	size_t		 i;

	fresh();
	for (i = 0; i < sizeof(ops); i++) {
		memset(cdb, 0, sizeof(cdb));
		cdb[0] = ops[i];
		run(cdb, sizeof(cdb), 4096);
		CHECK(sense(SKEY_ILLEGAL_REQUEST, ASC_INVALID_OPCODE));
	}
	/* a CDB shorter than its command, none at all, NACA */
	run(C(0x28, 0, 0, 0, 0, 0), 2048);
	CHECK(invalid());
	run(C(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 32);
	CHECK(invalid());
	run(NULL, 0, 2048);
	CHECK(sense(SKEY_ILLEGAL_REQUEST, ASC_INVALID_OPCODE));
	run(C(0x00, 0, 0, 0, 0, 0x04), 0);
	CHECK(invalid());
	run(C(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0x04), 2048);
	CHECK(invalid());
	/* a longer CDB than the command is fine (virtio sends 32 bytes) */
	run(C(0x00, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff), 0);
	CHECK(good(0));
	/* too many buffers, or too much in them */
	{
		struct iovec	 v[SCSI_CD_IOV_MAX + 1];
		int		 i;

		for (i = 0; i <= SCSI_CD_IOV_MAX; i++) {
			v[i].iov_base = data;
			v[i].iov_len = 1;
		}
		scsi_cd_command(&cd, LUN0, C(0, 0, 0, 0, 0, 0), v,
		    SCSI_CD_IOV_MAX + 1, &r);
		CHECK(r.response == VIRTIO_SCSI_S_FAILURE);
		v[0].iov_len = (size_t)UINT32_MAX;
		scsi_cd_command(&cd, LUN0, C(0, 0, 0, 0, 0, 0), v, 2, &r);
		CHECK(r.response == VIRTIO_SCSI_S_FAILURE);
		scsi_cd_command(&cd, LUN0, C(0, 0, 0, 0, 0, 0), v, 1, &r);
		CHECK(r.response == VIRTIO_SCSI_S_OK && r.resid == UINT32_MAX);
	}
}

static void
test_luns(void)
{
	static const uint8_t bad[][8] = {
		{ 0, 0, 0x40, 0, 0, 0, 0, 0 },		/* lun[0] not 1 */
		{ 1, 1, 0x40, 0, 0, 0, 0, 0 },		/* target 1 */
		{ 1, 255, 0x40, 0, 0, 0, 0, 0 },
		{ 1, 0, 0x01, 0, 0, 0, 0, 0 },		/* bus 1 */
		{ 1, 0, 0x80, 0, 0, 0, 0, 0 },		/* LU addressing */
		{ 1, 0, 0xc0, 0, 0, 0, 0, 0 }		/* extended */
	};
	static const uint8_t lun1[8] = { 1, 0, 0x40, 1, 0, 0, 0, 0 };
	static const uint8_t lunhi[8] = { 1, 0, 0x7f, 0xff, 0, 0, 0, 0 };
	static const uint8_t lunl2[8] = { 1, 0, 0x40, 0, 0, 1, 0, 0 };
	static const uint8_t periph0[8] = { 1, 0, 0, 0, 0, 0, 0, 0 };
	size_t		 i;

	fresh();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run_lun(bad[i], C(0x12, 0, 0, 0, 36, 0), 36);
		CHECK(r.response == VIRTIO_SCSI_S_BAD_TARGET && r.status == 0 &&
		    r.sense_len == 0 && r.len == 0 && r.resid == 36 &&
		    untouched(0, sizeof(data)));
	}
	run_lun(periph0, C(0x12, 0, 0, 0, 36, 0), 36);
	CHECK(good(36) && data[0] == 0x05);
	/* a LUN that is not there: in band, as SAM has it */
	scsi_cd_reset(&cd, ASC_POWER_ON);
	run_lun(lun1, C(0x12, 0, 0, 0, 36, 0), 36);
	CHECK(good(36) && data[0] == 0x7f && data[1] == 0);
	run_lun(lunhi, C(0x12, 0, 0, 0, 36, 0), 36);
	CHECK(good(36) && data[0] == 0x7f);
	run_lun(lunl2, C(0x12, 0, 0, 0, 36, 0), 36);
	CHECK(good(36) && data[0] == 0x7f);
	run_lun(lun1, C(0x12, 1, 0, 0, 36, 0), 36);
	CHECK(sense(SKEY_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED));
	run_lun(lun1, C(0x00, 0, 0, 0, 0, 0), 0);
	CHECK(sense(SKEY_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED));
	run_lun(lun1, C(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0), 2048);
	CHECK(sense(SKEY_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED));
	run_lun(lun1, C(0xff), 2048);
	CHECK(sense(SKEY_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED));
	run_lun(lun1, C(0x03, 0, 0, 0, 18, 0), 18);
	CHECK(good(18) && data[2] == SKEY_ILLEGAL_REQUEST && data[12] == 0x25);
	run_lun(lun1, C(0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0), 16);
	CHECK(good(16) && data[3] == 8);
	/* none of that touched LUN 0's unit attention */
	run(C(0x00, 0, 0, 0, 0, 0), 0);
	CHECK(sense(SKEY_UNIT_ATTENTION, ASC_POWER_ON));
}

static void
test_no_medium(void)
{
	scsi_cd_init(&cd, dk_empty, "E");
	cd.ua = 0;
	CHECK(cd.blocks == 0);
	run(C(0x00, 0, 0, 0, 0, 0), 0);
	CHECK(sense(SKEY_NOT_READY, ASC_NO_MEDIUM));
	run(C(0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0), 8);
	CHECK(sense(SKEY_NOT_READY, ASC_NO_MEDIUM));
	run(C(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0), 32);
	CHECK(sense(SKEY_NOT_READY, ASC_NO_MEDIUM));
	run(C(0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0), 2048);
	CHECK(sense(SKEY_NOT_READY, ASC_NO_MEDIUM));
	run(C(0x43, 0, 0, 0, 0, 0, 0, 0, 255, 0), 255);
	CHECK(sense(SKEY_NOT_READY, ASC_NO_MEDIUM));
	run(C(0x51, 0, 0, 0, 0, 0, 0, 0, 34, 0), 34);
	CHECK(sense(SKEY_NOT_READY, ASC_NO_MEDIUM));
	/* what SeaBIOS asks while it waits: the reason, as sense data */
	run(C(0x03, 0, 0, 0, 18, 0), 18);
	CHECK(good(18) && data[2] == SKEY_NOT_READY && data[12] == 0x3a);
	run(C(0x12, 0, 0, 0, 36, 0), 36);
	CHECK(good(36));
	run(C(0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0), 8);
	CHECK(good(8) && data[5] == 0);
	run(C(0x46, 0, 0, 0, 0, 0, 0, 0x01, 0, 0), 256);
	CHECK(good(80) && data[7] == 0 && data[50] == 0 &&
	    data[14] == 0 && data[18] == 0);
	run(C(0x1a, 0, 0x3f, 0, 255, 0), 255);
	CHECK(good(46));
	run(C(0xac, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0), 64);
	CHECK(good(8));
}

/*
 * Every opcode with random fields, random buffers: whatever comes back
 * is one of the answers a driver can take, and nothing past what the
 * target says it wrote is touched.
 */
static void
test_hostile(void)
{
	uint8_t		 cdb[16], lun[8];
	struct iovec	 v[5];
	size_t		 total, off;
	int		 op, k, i, n;

	fresh();
	for (op = 0; op < 256; op++) {
		for (k = 0; k < 200; k++) {
			for (i = 0; i < 16; i++)
				cdb[i] = (uint8_t)rnd();
			cdb[0] = (uint8_t)op;
			if (k & 1) {	/* small numbers are more telling */
				for (i = 1; i < 16; i++)
					if (rnd() & 1)
						cdb[i] = (uint8_t)(rnd() % 3);
			}
			memcpy(lun, LUN0, 8);
			if (k % 17 == 0)
				lun[3] = (uint8_t)rnd();
			if (k % 13 == 0)
				scsi_cd_reset(&cd, ASC_POWER_ON);
			n = (int)(rnd() % 6);
			total = 0;
			off = 0;
			for (i = 0; i < n; i++) {
				v[i].iov_len = rnd() % (k & 2 ? 9000 : 64);
				if (off + v[i].iov_len > BUF_MAX)
					v[i].iov_len = BUF_MAX - off;
				v[i].iov_base = data + off;
				off += v[i].iov_len;
			}
			total = off;
			memset(data, GUARD, sizeof(data));
			scsi_cd_command(&cd, lun, cdb, 6 + rnd() % 11, v, n,
			    &r);
			CHECK(r.response == VIRTIO_SCSI_S_OK ||
			    r.response == VIRTIO_SCSI_S_OVERRUN);
			CHECK(r.len <= total && r.len + r.resid == total);
			CHECK(untouched(r.len, sizeof(data)));
			if (r.status == SCSI_CHECK_CONDITION)
				CHECK(r.sense_len == 18 && r.len == 0 &&
				    r.sense[0] == 0x70);
			else
				CHECK(r.status == SCSI_GOOD &&
				    r.sense_len == 0);
			if (r.response == VIRTIO_SCSI_S_OVERRUN)
				CHECK(r.len == 0 && r.status == 0);
			if (test_failed_now) {
				printf("  opcode %02x, case %d\n", op, k);
				return;
			}
		}
	}
}

static void
test_tmf_an(void)
{
	static const uint8_t t1[8] = { 1, 1, 0x40, 0, 0, 0, 0, 0 };
	static const uint8_t l1[8] = { 1, 0, 0x40, 1, 0, 0, 0, 0 };
	uint32_t	 sub, actual;

	fresh();
	for (sub = 0; sub <= 7; sub++) {
		CHECK(scsi_cd_tmf(&cd, sub, t1) == VIRTIO_SCSI_S_BAD_TARGET);
		CHECK(scsi_cd_tmf(&cd, sub, LUN0) == VIRTIO_SCSI_S_OK);
		CHECK(scsi_cd_tmf(&cd, sub, l1) == (sub ==
		    VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET ? VIRTIO_SCSI_S_OK :
		    VIRTIO_SCSI_S_INCORRECT_LUN));
	}
	CHECK(scsi_cd_tmf(&cd, 8, LUN0) == VIRTIO_SCSI_S_FUNCTION_REJECTED);
	CHECK(scsi_cd_tmf(&cd, UINT32_MAX, LUN0) ==
	    VIRTIO_SCSI_S_FUNCTION_REJECTED);
	cd.ua = 0;
	run(C(0x1e, 0, 0, 0, 1, 0), 0);
	CHECK(scsi_cd_tmf(&cd, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, LUN0) ==
	    VIRTIO_SCSI_S_OK && !cd.prevent);
	run(C(0x00, 0, 0, 0, 0, 0), 0);
	CHECK(sense(SKEY_UNIT_ATTENTION, ASC_LU_RESET));
	CHECK(scsi_cd_tmf(&cd, VIRTIO_SCSI_T_TMF_ABORT_TASK, LUN0) ==
	    VIRTIO_SCSI_S_OK && cd.ua == 0);
	CHECK(scsi_cd_tmf(&cd, VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET, LUN0) ==
	    VIRTIO_SCSI_S_OK);
	run(C(0x00, 0, 0, 0, 0, 0), 0);
	CHECK(sense(SKEY_UNIT_ATTENTION, ASC_NEXUS_LOSS));
	actual = 99;
	CHECK(scsi_cd_an(&cd, LUN0, 0xffffffff, &actual) == VIRTIO_SCSI_S_OK &&
	    actual == 0);
	CHECK(scsi_cd_an(&cd, t1, 16, &actual) == VIRTIO_SCSI_S_BAD_TARGET);
	CHECK(scsi_cd_an(&cd, l1, 16, &actual) ==
	    VIRTIO_SCSI_S_INCORRECT_LUN);
}

/* The virtio side, on chains built by hand */

struct chain {
	struct iovec		 iov[16];
	struct virtq_chain	 c;
	uint8_t			 out[4096];	/* device-readable */
	uint8_t			 in[3 * 4096];	/* device-writable */
};

/*
 * Readable: the request header with a CDB of cdbsize bytes, split at
 * rsplit (0: one buffer); writable: wlen bytes split at wsplit.
 */
static void
chain(struct chain *ch, const uint8_t *lun, const uint8_t *cdb,
    size_t cdblen, uint32_t cdbsize, size_t rsplit, size_t wlen,
    size_t wsplit)
{
	size_t	 rlen = VIOSCSI_REQ_HDR + cdbsize;
	int	 n = 0;

	memset(ch->out, 0, sizeof(ch->out));
	memset(ch->in, GUARD, sizeof(ch->in));
	memcpy(ch->out, lun, 8);
	ch->out[8] = 0x5a;			/* tag */
	memcpy(ch->out + VIOSCSI_REQ_HDR, cdb, cdblen);
	if (rsplit > 0 && rsplit < rlen) {
		ch->iov[n].iov_base = ch->out;
		ch->iov[n++].iov_len = rsplit;
		ch->iov[n].iov_base = ch->out + 1024;
		memmove(ch->out + 1024, ch->out + rsplit, rlen - rsplit);
		ch->iov[n++].iov_len = rlen - rsplit;
	} else {
		ch->iov[n].iov_base = ch->out;
		ch->iov[n++].iov_len = rlen;
	}
	ch->c.nread = (uint16_t)n;
	if (wsplit > 0 && wsplit < wlen) {
		ch->iov[n].iov_base = ch->in;
		ch->iov[n++].iov_len = wsplit;
		ch->iov[n].iov_base = ch->in + wsplit + 100;
		ch->iov[n++].iov_len = wlen - wsplit;
	} else if (wlen > 0) {
		ch->iov[n].iov_base = ch->in;
		ch->iov[n++].iov_len = wlen;
	}
	ch->c.iov = ch->iov;
	ch->c.max = 16;
	ch->c.niov = (uint16_t)n;
	ch->c.rlen = (uint32_t)rlen;
	ch->c.wlen = (uint32_t)wlen;
	ch->c.head = 0;
}

static uint32_t
le32(const uint8_t *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24);
}

static void
test_virtio_request(void)
{
	static struct chain ch;
	struct vioscsi	 sc;
	char		 why[VIRTQ_ERR_LEN];
	uint32_t	 used;
	uint8_t		 v;

	vioscsi_init(&sc, dk, "VMDCD0");
	sc.cd.ua = 0;
	/* READ(10) of block 16: response (12 + 96) then the data */
	chain(&ch, LUN0, C(0x28, 0, 0, 0, 0, 16, 0, 0, 1, 0), 32, 0,
	    108 + 2048, 0);
	CHECK(vioscsi_request(&sc, &ch.c, &used, why, sizeof(why)) == 0);
	CHECK(used == 108 + 2048);
	CHECK(le32(ch.in) == 0 && le32(ch.in + 4) == 0 && ch.in[8] == 0 &&
	    ch.in[9] == 0 && ch.in[10] == SCSI_GOOD &&
	    ch.in[11] == VIRTIO_SCSI_S_OK);
	CHECK(block_ok(ch.in + 108, 16) && ch.in[108 + 2048] == GUARD);
	/* the same with headers and data split across buffers */
	chain(&ch, LUN0, C(0x28, 0, 0, 0, 0, 17, 0, 0, 1, 0), 32, 21,
	    108 + 4096, 50);
	CHECK(vioscsi_request(&sc, &ch.c, &used, why, sizeof(why)) == 0);
	CHECK(used == 108 + 2048 && ch.in[10] == SCSI_GOOD &&
	    le32(ch.in + 4) == 2048);
	{
		uint8_t		 got[2048];

		memcpy(got, ch.in + 150 + 58, 2048);
		CHECK(block_ok(got, 17));
	}
	/* CHECK CONDITION: sense in the response, no data */
	chain(&ch, LUN0, C(0x28, 0, 0, 0, 0, 99, 0, 0, 1, 0), 32, 0,
	    108 + 2048, 0);
	CHECK(vioscsi_request(&sc, &ch.c, &used, why, sizeof(why)) == 0);
	CHECK(used == 108 && le32(ch.in) == 18 && le32(ch.in + 4) == 2048 &&
	    ch.in[10] == SCSI_CHECK_CONDITION && ch.in[11] == 0 &&
	    ch.in[12] == 0x70 && ch.in[14] == SKEY_ILLEGAL_REQUEST &&
	    ch.in[24] == 0x21 && ch.in[12 + 18] == 0 && ch.in[107] == 0 &&
	    ch.in[108] == GUARD);
	/* the driver's sizes: 20 bytes of sense, 16 of CDB */
	v = 20;
	vioscsi_config_write(&sc, 20, &v, 1);
	v = 16;
	vioscsi_config_write(&sc, 24, &v, 1);
	CHECK(sc.sense_size == 20 && sc.cdb_size == 16);
	chain(&ch, LUN0, C(0x12, 0, 0, 0, 36, 0), 16, 0, 32 + 36, 0);
	CHECK(vioscsi_request(&sc, &ch.c, &used, why, sizeof(why)) == 0);
	CHECK(used == 32 + 36 && ch.in[32] == 0x05 && ch.in[32 + 8] == 'O');
	/* 8 bytes of sense: cut to that */
	v = 8;
	vioscsi_config_write(&sc, 20, &v, 1);
	chain(&ch, LUN0, C(0x00, 0, 0, 0, 0, 0x04), 16, 0, 20, 0);
	CHECK(vioscsi_request(&sc, &ch.c, &used, why, sizeof(why)) == 0);
	CHECK(used == 20 && le32(ch.in) == 8 && ch.in[12] == 0x70 &&
	    ch.in[20] == GUARD);
	/* headers longer than the buffers: the queue breaks */
	chain(&ch, LUN0, C(0x00, 0, 0, 0, 0, 0), 15, 0, 20, 0);
	CHECK(vioscsi_request(&sc, &ch.c, &used, why, sizeof(why)) == -1 &&
	    strstr(why, "short") != NULL);
	chain(&ch, LUN0, C(0x00, 0, 0, 0, 0, 0), 16, 0, 19, 0);
	CHECK(vioscsi_request(&sc, &ch.c, &used, why, sizeof(why)) == -1);
	/* a huge sense_size the buffers cannot hold */
	vioscsi_config_write(&sc, 20, (const uint8_t[]){ 0xff, 0xff, 0xff,
	    0xff }, 4);
	CHECK(sc.sense_size == UINT32_MAX);
	chain(&ch, LUN0, C(0x00, 0, 0, 0, 0, 0), 16, 0, 4096, 0);
	CHECK(vioscsi_request(&sc, &ch.c, &used, why, sizeof(why)) == -1);
	/* no CDB at all */
	vioscsi_reset(&sc);
	sc.cd.ua = 0;
	v = 0;
	vioscsi_config_write(&sc, 24, &v, 1);
	chain(&ch, LUN0, (const uint8_t *)"", 0, 0, 0, 108, 0);
	CHECK(vioscsi_request(&sc, &ch.c, &used, why, sizeof(why)) == 0);
	CHECK(ch.in[10] == SCSI_CHECK_CONDITION && ch.in[24] == 0x20);
	/* both directions: not ours */
	vioscsi_reset(&sc);
	sc.cd.ua = 0;
	chain(&ch, LUN0, C(0x12, 0, 0, 0, 36, 0), 32, 0, 108 + 36, 0);
	ch.iov[0].iov_len += 10;
	ch.c.rlen += 10;
	CHECK(vioscsi_request(&sc, &ch.c, &used, why, sizeof(why)) == 0);
	CHECK(used == 108 && ch.in[11] == VIRTIO_SCSI_S_FAILURE &&
	    le32(ch.in + 4) == 36 && ch.in[108] == GUARD);
	/* data-out alone: READ has nowhere to put its blocks */
	chain(&ch, LUN0, C(0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0), 32, 0, 108, 0);
	ch.iov[0].iov_len += 2048;
	ch.c.rlen += 2048;
	CHECK(vioscsi_request(&sc, &ch.c, &used, why, sizeof(why)) == 0);
	CHECK(used == 108 && ch.in[11] == VIRTIO_SCSI_S_OVERRUN);
	/* a bad target */
	chain(&ch, (const uint8_t[]){ 1, 3, 0x40, 0, 0, 0, 0, 0 },
	    C(0x12, 0, 0, 0, 36, 0), 32, 0, 108 + 36, 0);
	CHECK(vioscsi_request(&sc, &ch.c, &used, why, sizeof(why)) == 0);
	CHECK(used == 108 && ch.in[11] == VIRTIO_SCSI_S_BAD_TARGET &&
	    ch.in[10] == 0 && le32(ch.in + 4) == 36 && ch.in[108] == GUARD);
}

static void
ctrl_chain(struct chain *ch, const uint8_t *req, size_t rlen, size_t wlen)
{
	memset(ch->in, GUARD, sizeof(ch->in));
	memcpy(ch->out, req, rlen);
	ch->iov[0].iov_base = ch->out;
	ch->iov[0].iov_len = rlen;
	ch->iov[1].iov_base = ch->in;
	ch->iov[1].iov_len = wlen;
	ch->c.iov = ch->iov;
	ch->c.max = 16;
	ch->c.nread = 1;
	ch->c.niov = wlen ? 2 : 1;
	ch->c.rlen = (uint32_t)rlen;
	ch->c.wlen = (uint32_t)wlen;
}

static void
test_virtio_control(void)
{
	static struct chain ch;
	struct vioscsi	 sc;
	char		 why[VIRTQ_ERR_LEN];
	uint32_t	 used;
	const uint8_t	 tmf[24] = { 0, 0, 0, 0, 5, 0, 0, 0,
	    1, 0, 0x40, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8 };
	const uint8_t	 tmfbad[24] = { 0, 0, 0, 0, 0, 0, 0, 0,
	    1, 9, 0x40, 0, 0, 0, 0, 0 };
	const uint8_t	 an[16] = { 1, 0, 0, 0, 1, 0, 0x40, 0, 0, 0, 0, 0,
	    0x10, 0, 0, 0 };

	vioscsi_init(&sc, dk, "C");
	sc.cd.ua = 0;
	ctrl_chain(&ch, tmf, 24, 1);
	CHECK(vioscsi_control(&sc, &ch.c, &used, why, sizeof(why)) == 0);
	CHECK(used == 1 && ch.in[0] == VIRTIO_SCSI_S_OK &&
	    sc.cd.ua == ASC_LU_RESET && ch.in[1] == GUARD);
	ctrl_chain(&ch, tmfbad, 24, 1);
	CHECK(vioscsi_control(&sc, &ch.c, &used, why, sizeof(why)) == 0);
	CHECK(ch.in[0] == VIRTIO_SCSI_S_BAD_TARGET);
	ctrl_chain(&ch, an, 16, 5);
	CHECK(vioscsi_control(&sc, &ch.c, &used, why, sizeof(why)) == 0);
	CHECK(used == 5 && le32(ch.in) == 0 && ch.in[4] == VIRTIO_SCSI_S_OK);
	ctrl_chain(&ch, an, 16, 64);
	ch.out[0] = 2;				/* subscribe */
	CHECK(vioscsi_control(&sc, &ch.c, &used, why, sizeof(why)) == 0);
	CHECK(used == 5 && ch.in[5] == GUARD);
	/* too short for the layout, no type, an unknown type */
	ctrl_chain(&ch, tmf, 23, 1);
	CHECK(vioscsi_control(&sc, &ch.c, &used, why, sizeof(why)) == -1);
	ctrl_chain(&ch, tmf, 24, 0);
	CHECK(vioscsi_control(&sc, &ch.c, &used, why, sizeof(why)) == -1);
	ctrl_chain(&ch, an, 15, 5);
	CHECK(vioscsi_control(&sc, &ch.c, &used, why, sizeof(why)) == -1);
	ctrl_chain(&ch, an, 16, 4);
	CHECK(vioscsi_control(&sc, &ch.c, &used, why, sizeof(why)) == -1);
	ctrl_chain(&ch, an, 3, 4);
	CHECK(vioscsi_control(&sc, &ch.c, &used, why, sizeof(why)) == -1);
	ctrl_chain(&ch, (const uint8_t[]){ 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 24, 8);
	CHECK(vioscsi_control(&sc, &ch.c, &used, why, sizeof(why)) == -1 &&
	    strstr(why, "type 3") != NULL);
}

static void
test_virtio_config(void)
{
	struct vioscsi	 sc;
	uint8_t		 b[40];
	int		 i;

	vioscsi_init(&sc, dk, "C");
	vioscsi_config_read(&sc, 0, b, 36);
	CHECK(memcmp(b, ((const uint8_t[]){ 1, 0, 0, 0, 126, 0, 0, 0,
	    0xff, 0xff, 0, 0, 128, 0, 0, 0, 16, 0, 0, 0, 96, 0, 0, 0,
	    32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }), 36) == 0);
	for (i = 0; i < 36; i++) {
		uint8_t	 one;

		vioscsi_config_read(&sc, (uint32_t)i, &one, 1);
		CHECK(one == b[i]);
	}
	vioscsi_config_read(&sc, 34, b, 4);	/* past the end: zeros */
	CHECK(b[2] == 0 && b[3] == 0);
	vioscsi_config_read(&sc, UINT32_MAX, b, 4);
	CHECK(b[0] == 0);
	/* only sense_size and cdb_size take writes */
	memset(b, 0x55, sizeof(b));
	vioscsi_config_write(&sc, 0, b, 36);
	vioscsi_config_write(&sc, UINT32_MAX, b, 4);
	vioscsi_config_read(&sc, 0, b, 36);
	CHECK(memcmp(b, ((const uint8_t[]){ 1, 0, 0, 0, 126, 0, 0, 0,
	    0xff, 0xff, 0, 0, 128, 0, 0, 0, 16, 0, 0, 0, 0x55, 0x55, 0x55,
	    0x55, 0x55, 0x55, 0x55, 0x55, 0, 0, 0, 0, 0, 0, 0, 0 }), 36) == 0);
	CHECK(sc.sense_size == 0x55555555 && sc.cdb_size == 0x55555555);
	vioscsi_config_write(&sc, 22, (const uint8_t[]){ 0, 0 }, 2);
	CHECK(sc.sense_size == 0x5555);
	vioscsi_reset(&sc);
	CHECK(sc.sense_size == 96 && sc.cdb_size == 32 &&
	    sc.cd.ua == ASC_POWER_ON);
}

/* Whole queues over a fake guest RAM, as the transport runs them */

#define RAM_SIZE	(256 * 1024)
#define QSZ		8
#define DESC_GPA	0x1000
#define AVAIL_GPA	0x2000
#define USED_GPA	0x3000
#define BUF_GPA		0x10000

static uint8_t	*ram;

static void *
ram_ptr(void *arg, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return (NULL);
	return (ram + gpa);
}

static void
ring_init(struct virtq *vq, uint16_t index)
{
	static const struct virtq_mem mem = { ram_ptr, NULL };
	struct virtq_state st;

	memset(ram, 0, RAM_SIZE);
	memset(&st, 0, sizeof(st));
	st.desc = DESC_GPA;
	st.avail = AVAIL_GPA;
	st.used = USED_GPA;
	st.size = QSZ;
	st.index = index;
	st.features = VIRTIO_F_VERSION_1;
	st.kickfd = st.callfd = -1;
	CHECK(virtq_init(vq, &st, &mem) == 0);
}

static void
desc(int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc *d = (struct virtq_desc *)(ram + DESC_GPA) + i;

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static void
offer(uint16_t head)
{
	struct virtq_avail *a = (struct virtq_avail *)(ram + AVAIL_GPA);

	a->ring[a->idx % QSZ] = head;
	a->idx++;
}

static struct virtq_used *
used_ring(void)
{
	return ((struct virtq_used *)(ram + USED_GPA));
}

/* A request for LUN 0 with this CDB at gpa, data-in of dlen after it */
static void
put_request(int d0, uint64_t gpa, const uint8_t *cdb, size_t cdblen,
    uint32_t dlen)
{
	memset(ram + gpa, 0, 51);
	memcpy(ram + gpa, LUN0, 8);
	memcpy(ram + gpa + 19, cdb, cdblen);
	desc(d0, gpa, 51, VIRTQ_DESC_F_NEXT, (uint16_t)(d0 + 1));
	desc(d0 + 1, gpa + 64, 108, VIRTQ_DESC_F_WRITE |
	    (dlen ? VIRTQ_DESC_F_NEXT : 0), (uint16_t)(d0 + 2));
	if (dlen)
		desc(d0 + 2, gpa + 4096, dlen, VIRTQ_DESC_F_WRITE, 0);
}

static void
test_virtio_queues(void)
{
	struct vioscsi	 sc;
	struct virtq	 vq;
	uint8_t		 tmf[24] = { 0 };

	if ((ram = malloc(RAM_SIZE)) == NULL) {
		CHECK(ram != NULL);
		return;
	}
	vioscsi_init(&sc, dk, "Q");
	/* two requests: the power-on unit attention, then a read */
	ring_init(&vq, VIOSCSI_REQUESTQ);
	put_request(0, BUF_GPA, C(0x00, 0, 0, 0, 0, 0), 0);
	put_request(3, BUF_GPA + 0x4000, C(0x28, 0, 0, 0, 0, 2, 0, 0, 1, 0),
	    2048);
	offer(0);
	offer(3);
	CHECK(vioscsi_run(&sc, &vq) == 2 && !vq.broken);
	CHECK(used_ring()->idx == 2 && used_ring()->ring[0].id == 0 &&
	    used_ring()->ring[0].len == 108 && used_ring()->ring[1].id == 3 &&
	    used_ring()->ring[1].len == 108 + 2048);
	CHECK(ram[BUF_GPA + 64 + 10] == SCSI_CHECK_CONDITION &&
	    ram[BUF_GPA + 64 + 12 + 2] == SKEY_UNIT_ATTENTION);
	CHECK(ram[BUF_GPA + 0x4000 + 64 + 10] == SCSI_GOOD &&
	    block_ok(ram + BUF_GPA + 0x4000 + 4096, 2));
	CHECK(vioscsi_run(&sc, &vq) == 0);
	/* a request without room for its response breaks the queue */
	put_request(0, BUF_GPA, C(0x00, 0, 0, 0, 0, 0), 0);
	desc(1, BUF_GPA + 64, 100, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	CHECK(vioscsi_run(&sc, &vq) == -1 && vq.broken &&
	    strstr(vq.error, "SCSI request") != NULL);
	CHECK(used_ring()->idx == 2);
	/* the event queue keeps what the driver gives it */
	ring_init(&vq, VIOSCSI_EVENTQ);
	desc(0, BUF_GPA, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	CHECK(vioscsi_run(&sc, &vq) == 0 && used_ring()->idx == 0 &&
	    vq.st.last_avail == 0);
	/* the control queue */
	ring_init(&vq, VIOSCSI_CONTROLQ);
	tmf[0] = VIRTIO_SCSI_T_TMF;
	tmf[4] = VIRTIO_SCSI_T_TMF_ABORT_TASK;
	memcpy(tmf + 8, LUN0, 8);
	memcpy(ram + BUF_GPA, tmf, 24);
	ram[BUF_GPA + 64] = 0xff;
	desc(0, BUF_GPA, 24, VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF_GPA + 64, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	CHECK(vioscsi_run(&sc, &vq) == 1 && used_ring()->ring[0].len == 1 &&
	    ram[BUF_GPA + 64] == VIRTIO_SCSI_S_OK);
	free(ram);
	ram = NULL;
}

/* The device on the PCI transport, driven as a guest driver does */

#define PRAM_SIZE	(1024 * 1024)
#define BAR_ADDR	0xe0000000ULL
#define COMMON		(BAR_ADDR + VIRTIO_OFF_COMMON)
#define DEVCFG		(BAR_ADDR + VIRTIO_OFF_DEVICE)
#define SLOT		1
#define PQSZ		16
#define QRING(q)	(0x10000 + (uint64_t)(q) * 0x4000)
#define PBUF		0x40000

static uint8_t	*pram;
static int	 irq_level[32], irq_raised[32];

static void
h_irq(void *arg, uint32_t irq, int level)
{
	if (irq < 32) {
		if (level && !irq_level[irq])
			irq_raised[irq]++;
		irq_level[irq] = level;
	}
}

static void *
h_gpa(void *arg, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa >= PRAM_SIZE || len > PRAM_SIZE - gpa)
		return (NULL);
	return (pram + gpa);
}

static int
h_ioeventfd(void *arg, int fd, enum dev_space sp, uint64_t addr,
    uint32_t len, int has_match, uint64_t match, int assign)
{
	return (0);
}

static int
h_irqfd(void *arg, int fd, uint32_t gsi, int assign)
{
	return (0);
}

static int
h_route(void *arg, uint32_t gsi, uint64_t addr, uint32_t data)
{
	return (0);
}

static int
h_msi(void *arg, uint64_t addr, uint32_t data)
{
	return (0);
}

static int
h_gsi(void *arg, uint32_t n, uint32_t *first)
{
	*first = 100;
	return (0);
}

struct pvm {
	struct devices	 set;
	struct dev_host	 host;
	struct event_base *base;
	struct device	*scsi;
};

static int
pvm_open(struct pvm *vm, int fd)
{
	struct dev_attach_args a = { .fd = -1, .fd2 = -1 };

	memset(vm, 0, sizeof(*vm));
	memset(pram, 0, PRAM_SIZE);
	memset(irq_level, 0, sizeof(irq_level));
	memset(irq_raised, 0, sizeof(irq_raised));
	vm->base = event_base_new();
	vm->host.evbase = vm->base;
	vm->host.irq_set = h_irq;
	vm->host.memsize = PRAM_SIZE;
	vm->host.gpa_ptr = h_gpa;
	vm->host.ioeventfd = h_ioeventfd;
	vm->host.irqfd = h_irqfd;
	vm->host.msi_route = h_route;
	vm->host.msi = h_msi;
	vm->host.gsi_alloc = h_gsi;
	dev_init(&vm->set, &vm->host);
	if (dev_attach(&vm->set, &pci_devsw, &a) == NULL)
		return (-1);
	a.fd = fd;
	vm->scsi = dev_attach(&vm->set, &vioscsi_devsw, &a);
	return (vm->scsi != NULL ? 0 : -1);
}

static void
pvm_close(struct pvm *vm)
{
	dev_detach_all(&vm->set);
	event_base_free(vm->base);
}

static uint64_t
prd(struct pvm *vm, enum dev_space sp, uint64_t addr, int size)
{
	uint8_t	 d[8] = { 0 };
	uint64_t v = 0;
	int	 i;

	dev_io(&vm->set, sp, addr, size, d, 0);
	for (i = 0; i < size; i++)
		v |= (uint64_t)d[i] << (8 * i);
	return (v);
}

static void
pwr(struct pvm *vm, enum dev_space sp, uint64_t addr, int size, uint64_t v)
{
	uint8_t	 d[8];
	int	 i;

	for (i = 0; i < 8; i++)
		d[i] = v >> (8 * i);
	dev_io(&vm->set, sp, addr, size, d, 1);
}

static uint32_t
cfgrd(struct pvm *vm, int reg, int size)
{
	pwr(vm, DEV_SPACE_IO, 0xcf8, 4, 0x80000000U | SLOT << 11 |
	    (reg & 0xfc));
	return (prd(vm, DEV_SPACE_IO, 0xcfc + (reg & 3), size));
}

static void
cfgwr(struct pvm *vm, int reg, int size, uint32_t v)
{
	pwr(vm, DEV_SPACE_IO, 0xcf8, 4, 0x80000000U | SLOT << 11 |
	    (reg & 0xfc));
	pwr(vm, DEV_SPACE_IO, 0xcfc + (reg & 3), size, v);
}

static uint64_t
mrd(struct pvm *vm, uint64_t addr, int size)
{
	return (prd(vm, DEV_SPACE_MMIO, addr, size));
}

static void
mwr(struct pvm *vm, uint64_t addr, int size, uint64_t v)
{
	pwr(vm, DEV_SPACE_MMIO, addr, size, v);
}

/* What Linux's virtio_scsi does: sizes, then queues 0 and 2 */
static int
pdriver_init(struct pvm *vm)
{
	int	 q;

	cfgwr(vm, 0x10, 4, (uint32_t)BAR_ADDR);
	cfgwr(vm, 0x04, 2, PCI_COMMAND_MEM | PCI_COMMAND_MASTER);
	mwr(vm, COMMON + 0x14, 1, 0);
	mwr(vm, COMMON + 0x14, 1, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
	mwr(vm, COMMON + 0x08, 4, 1);
	mwr(vm, COMMON + 0x0c, 4, 1);		/* VERSION_1 */
	mwr(vm, COMMON + 0x14, 1, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER |
	    VIRTIO_STATUS_FEATURES_OK);
	if (!(mrd(vm, COMMON + 0x14, 1) & VIRTIO_STATUS_FEATURES_OK))
		return (-1);
	mwr(vm, DEVCFG + 20, 4, 96);		/* sense_size */
	mwr(vm, DEVCFG + 24, 4, 32);		/* cdb_size */
	for (q = 0; q < 3; q += 2) {
		mwr(vm, COMMON + 0x16, 2, q);
		mwr(vm, COMMON + 0x18, 2, PQSZ);
		mwr(vm, COMMON + 0x20, 8, QRING(q));
		mwr(vm, COMMON + 0x28, 8, QRING(q) + 0x1000);
		mwr(vm, COMMON + 0x30, 8, QRING(q) + 0x2000);
		mwr(vm, COMMON + 0x1c, 2, 1);
	}
	mwr(vm, COMMON + 0x14, 1, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER |
	    VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	return (0);
}

static void
pdesc(int q, int i, uint64_t addr, uint32_t len, uint16_t flags,
    uint16_t next)
{
	struct virtq_desc *d = (struct virtq_desc *)(pram + QRING(q)) + i;

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static struct virtq_used *
pused(int q)
{
	return ((struct virtq_used *)(pram + QRING(q) + 0x2000));
}

static void
pkick(struct pvm *vm, int q, uint16_t head)
{
	struct virtq_avail *a = (struct virtq_avail *)(pram + QRING(q) +
	    0x1000);
	int	 i;

	a->ring[a->idx % PQSZ] = head;
	a->idx++;
	mwr(vm, BAR_ADDR + VIRTIO_OFF_NOTIFY + VIRTIO_NOTIFY_MULT * q, 2, q);
	for (i = 0; i < 4; i++)
		event_base_loop(vm->base, EVLOOP_NONBLOCK);
}

/* One command on the request queue; the response at PBUF + 64 */
static void
pcmd(struct pvm *vm, int d0, const uint8_t *cdb, size_t cdblen,
    uint32_t dlen)
{
	memset(pram + PBUF, 0, 51);
	memcpy(pram + PBUF, LUN0, 8);
	memcpy(pram + PBUF + 19, cdb, cdblen);
	memset(pram + PBUF + 64, 0xee, 108 + 8192);
	pdesc(2, d0, PBUF, 51, VIRTQ_DESC_F_NEXT, (uint16_t)(d0 + 1));
	pdesc(2, d0 + 1, PBUF + 64, 108, VIRTQ_DESC_F_WRITE |
	    (dlen ? VIRTQ_DESC_F_NEXT : 0), (uint16_t)(d0 + 2));
	if (dlen)
		pdesc(2, d0 + 2, PBUF + 4096, dlen, VIRTQ_DESC_F_WRITE, 0);
	pkick(vm, 2, (uint16_t)d0);
}

static void
test_pci(void)
{
	struct pvm	 vm;
	int		 fd, c, n, irq = pci_intx_irq(SLOT);

	if ((pram = malloc(PRAM_SIZE)) == NULL) {
		CHECK(pram != NULL);
		return;
	}
	CHECK((fd = open(image, O_RDONLY)) != -1);
	if (pvm_open(&vm, fd) == -1) {
		CHECK(!"attach");
		free(pram);
		return;
	}
	/* 1af4:1048, mass storage / SCSI, and 36 bytes of configuration */
	CHECK(cfgrd(&vm, 0x00, 4) == 0x10481af4);
	CHECK(cfgrd(&vm, 0x0a, 2) == 0x0100);
	for (c = cfgrd(&vm, 0x34, 1), n = 0; c != 0 && n < 48; n++,
	    c = cfgrd(&vm, c + 1, 1))
		if (cfgrd(&vm, c, 1) == 0x09 &&
		    cfgrd(&vm, c + 3, 1) == VIRTIO_PCI_CAP_DEVICE)
			break;
	CHECK(c != 0 && cfgrd(&vm, c + 8, 4) == VIRTIO_OFF_DEVICE &&
	    cfgrd(&vm, c + 12, 4) == VIOSCSI_CONFIG_SIZE);
	CHECK(pdriver_init(&vm) == 0);
	CHECK(mrd(&vm, COMMON + 0x12, 2) == 3);		/* num_queues */
	mwr(&vm, COMMON + 0x16, 2, 2);
	CHECK(mrd(&vm, COMMON + 0x18, 2) == PQSZ);
	CHECK(mrd(&vm, DEVCFG + 0, 4) == 1 && mrd(&vm, DEVCFG + 4, 4) ==
	    VIOSCSI_SEG_MAX && mrd(&vm, DEVCFG + 8, 4) == 0xffff &&
	    mrd(&vm, DEVCFG + 20, 4) == 96 && mrd(&vm, DEVCFG + 24, 4) == 32 &&
	    mrd(&vm, DEVCFG + 30, 2) == 0 && mrd(&vm, DEVCFG + 32, 4) == 0);
	/* the power-on unit attention, then a READ(10) */
	pcmd(&vm, 0, C(0x00, 0, 0, 0, 0, 0), 0);
	CHECK(pused(2)->idx == 1 && pused(2)->ring[0].len == 108 &&
	    pram[PBUF + 64 + 10] == SCSI_CHECK_CONDITION &&
	    pram[PBUF + 64 + 12 + 2] == SKEY_UNIT_ATTENTION);
	CHECK(irq_raised[irq] == 1 && irq_level[irq] == 1);
	CHECK(mrd(&vm, BAR_ADDR + VIRTIO_OFF_ISR, 1) == VIRTIO_ISR_QUEUE);
	pcmd(&vm, 3, C(0x28, 0, 0, 0, 0, 16, 0, 0, 1, 0), 2048);
	CHECK(pused(2)->idx == 2 && pused(2)->ring[1].id == 3 &&
	    pused(2)->ring[1].len == 108 + 2048 &&
	    pram[PBUF + 64 + 10] == SCSI_GOOD &&
	    block_ok(pram + PBUF + 4096, 16));
	CHECK(irq_raised[irq] == 2);
	/* a task management function on the control queue */
	memset(pram + PBUF, 0, 24);
	memcpy(pram + PBUF + 8, LUN0, 8);
	pram[PBUF + 4] = VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET;
	pram[PBUF + 64] = 0xff;
	pdesc(0, 0, PBUF, 24, VIRTQ_DESC_F_NEXT, 1);
	pdesc(0, 1, PBUF + 64, 1, VIRTQ_DESC_F_WRITE, 0);
	pkick(&vm, 0, 0);
	CHECK(pused(0)->idx == 1 && pram[PBUF + 64] == VIRTIO_SCSI_S_OK);
	pcmd(&vm, 6, C(0x00, 0, 0, 0, 0, 0), 0);
	CHECK(pram[PBUF + 64 + 10] == SCSI_CHECK_CONDITION &&
	    pram[PBUF + 64 + 12 + 12] == 0x29 &&
	    pram[PBUF + 64 + 12 + 13] == 0x03);
	/* a request with no room for its response: DEVICE_NEEDS_RESET */
	pcmd(&vm, 9, C(0x00, 0, 0, 0, 0, 0), 0);
	CHECK(pused(2)->idx == 4);
	pdesc(2, 1, PBUF + 64, 50, VIRTQ_DESC_F_WRITE, 0);
	pkick(&vm, 2, 0);
	CHECK(pused(2)->idx == 4 &&
	    (mrd(&vm, COMMON + 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET));
	/* a driver reset brings the defaults back, and a unit attention */
	mwr(&vm, DEVCFG + 20, 4, 8);
	CHECK(mrd(&vm, DEVCFG + 20, 4) == 8);
	memset(pram + QRING(0), 0, 0xc000);
	CHECK(pdriver_init(&vm) == 0);
	CHECK(!(mrd(&vm, COMMON + 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET));
	CHECK(mrd(&vm, DEVCFG + 20, 4) == 96);
	pcmd(&vm, 0, C(0x00, 0, 0, 0, 0, 0), 0);
	CHECK(pused(2)->idx == 1 && pram[PBUF + 64 + 12 + 12] == 0x29);
	/* so does a VM reset */
	mwr(&vm, DEVCFG + 24, 4, 16);
	dev_reset_all(&vm.set);
	cfgwr(&vm, 0x10, 4, (uint32_t)BAR_ADDR);
	cfgwr(&vm, 0x04, 2, PCI_COMMAND_MEM);
	CHECK(mrd(&vm, COMMON + 0x14, 1) == 0 &&
	    mrd(&vm, DEVCFG + 24, 4) == 32);
	pvm_close(&vm);
	/* no image: no device */
	CHECK(pvm_open(&vm, -1) == -1);
	pvm_close(&vm);
	free(pram);
	pram = NULL;
}

static int
setup(void)
{
	uint8_t		 blk[2048];
	char		 err[DISK_ERR_MAX];
	int		 fd, efd;
	uint64_t	 b;
	size_t		 i;

	if (mkdtemp(dir) == NULL)
		return (-1);
	snprintf(image, sizeof(image), "%s/cd.iso", dir);
	snprintf(empty, sizeof(empty), "%s/empty.iso", dir);
	if ((fd = open(image, O_RDWR | O_CREAT | O_EXCL, 0600)) == -1)
		return (-1);
	for (b = 0; b < NBLOCKS; b++) {
		for (i = 0; i < sizeof(blk); i++)
			blk[i] = pattern(b, i);
		if (pwrite(fd, blk, sizeof(blk), (off_t)(b * 2048)) != 2048)
			return (-1);
	}
	memset(blk, 0x99, 100);			/* a partial block */
	if (pwrite(fd, blk, 100, NBLOCKS * 2048) != 100)
		return (-1);
	if ((efd = open(empty, O_RDWR | O_CREAT | O_EXCL, 0600)) == -1 ||
	    pwrite(efd, blk, 2047, 0) != 2047)
		return (-1);
	dk = disk_open(DISK_FMT_RAW, &fd, 1, DISK_RDONLY, 0, err, sizeof(err));
	dk_empty = disk_open(DISK_FMT_RAW, &efd, 1, DISK_RDONLY, 0, err,
	    sizeof(err));
	return (dk == NULL || dk_empty == NULL ? -1 : 0);
}

int
main(void)
{
	if (setup() == -1) {
		printf("FAIL vioscsi_setup: scratch image in %s\n", dir);
		return (1);
	}
	RUN(test_unit_attention);
	RUN(test_inquiry);
	RUN(test_request_sense);
	RUN(test_read_capacity);
	RUN(test_read);
	RUN(test_read_error);
	RUN(test_mode_sense);
	RUN(test_get_configuration);
	RUN(test_read_toc);
	RUN(test_event_status);
	RUN(test_tray);
	RUN(test_disc_info);
	RUN(test_refused);
	RUN(test_luns);
	RUN(test_no_medium);
	RUN(test_hostile);
	RUN(test_tmf_an);
	RUN(test_virtio_request);
	RUN(test_virtio_control);
	RUN(test_virtio_config);
	RUN(test_virtio_queues);
	RUN(test_pci);
	disk_close(dk);
	disk_close(dk_empty);
	unlink(image);
	unlink(empty);
	rmdir(dir);
	TEST_EXIT();
}
