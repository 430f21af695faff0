/*
 * vioscsi.c: the virtio-scsi CD-ROM (virtio device 8), as OpenBSD's vmd
 * gives a VM for `-r' and `cdrom': one read-only MMC drive with
 * 2048-byte blocks at target 0, LUN 0, whose medium is an ISO image read
 * through the disk library.  The SCSI target (scsi_cd_*) answers what
 * Linux's sr and scsi drivers and SeaBIOS send to find, probe and read
 * a disc, and refuses the rest with CHECK CONDITION and fixed-format
 * sense data; the virtio side (vioscsi_*) takes requests apart, runs
 * the control queue's task management and event queries, and keeps the
 * event queue's buffers (it never has an event to send).  It runs in
 * the vm process on the event thread; commands complete one by one, in
 * order, before the next is taken.  Everything in a request is the
 * guest's: every CDB field is bounds-checked, no command may read
 * outside the image or write outside the data-in buffers the guest
 * gave, and a malformed request breaks its queue, never the VM.
 */

#include <sys/types.h>
#include <sys/uio.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "virtq.h"
#include "vioscsi.h"
#ifndef VIOSCSI_TARGET_ONLY
#include "log.h"
#include "dev.h"
#include "virtio.h"
#endif

/* Opcodes we answer */
#define OP_TEST_UNIT_READY	0x00
#define OP_REQUEST_SENSE	0x03
#define OP_READ_6		0x08
#define OP_INQUIRY		0x12
#define OP_MODE_SENSE_6		0x1a
#define OP_START_STOP_UNIT	0x1b
#define OP_PREVENT_ALLOW	0x1e
#define OP_READ_CAPACITY_10	0x25
#define OP_READ_10		0x28
#define OP_READ_TOC		0x43
#define OP_GET_CONFIGURATION	0x46
#define OP_GET_EVENT_STATUS	0x4a
#define OP_READ_DISC_INFO	0x51
#define OP_MODE_SENSE_10	0x5a
#define OP_READ_16		0x88
#define OP_SERVICE_ACTION_IN	0x9e
#define OP_REPORT_LUNS		0xa0
#define OP_READ_12		0xa8
#define OP_GET_PERFORMANCE	0xac
#define OP_SET_CD_SPEED		0xbb
#define OP_MECHANISM_STATUS	0xbd

#define SAI_READ_CAPACITY_16	0x10

#define PDT_CDROM		0x05
#define PDT_NO_LUN		0x7f	/* qualifier 3, type 0x1f */

#define MODE_PC_CHANGEABLE	1
#define MODE_PC_SAVED		3
#define MODE_PAGE_ERROR		0x01
#define MODE_PAGE_CAPABILITIES	0x2a
#define MODE_PAGE_ALL		0x3f

#define PROFILE_NONE		0x0000
#define PROFILE_CDROM		0x0008
#define PROFILE_DVDROM		0x0010

#define TOC_ADR_CTL		0x14	/* Q subchannel position, data track */
#define TOC_LEADOUT		0xaa

/* Read speed in kB/s for the obsolete fields some drivers still print */
#define CD_SPEED		(176 * 32)

/* What a target keeps in one place while it runs one command */
struct scsi_io {
	const struct iovec	*din;
	int			 niov;
	uint32_t		 total;		/* data-in bytes given */
	int			 nolun;		/* addressed a LUN not there */
	struct scsi_result	*r;
};

#define F_NOUA		0x01	/* a unit attention does not stop it */
#define F_MEDIUM	0x02	/* needs a medium */
#define F_ANYLUN	0x04	/* answered for LUNs that are not there */

struct scsi_op {
	uint8_t		 op;
	uint8_t		 flags;
	void		(*fn)(struct scsi_cd *, const uint8_t *,
			    struct scsi_io *);
};

static void	 cmd_tur(struct scsi_cd *, const uint8_t *, struct scsi_io *);
static void	 cmd_request_sense(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_read_6(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_inquiry(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_mode_sense(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_start_stop(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_prevent_allow(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_read_capacity(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_read_10(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_read_toc(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_get_configuration(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_get_event_status(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_read_disc_info(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_read_16(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_service_action_in(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_report_luns(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_read_12(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_get_performance(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_good(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);
static void	 cmd_mechanism_status(struct scsi_cd *, const uint8_t *,
		    struct scsi_io *);

/*
 * INQUIRY, REPORT LUNS and REQUEST SENSE never report a unit attention
 * (SAM); MMC adds GET CONFIGURATION and GET EVENT STATUS NOTIFICATION,
 * which drivers poll while they wait for a disc.
 */
static const struct scsi_op scsi_ops[] = {
	{ OP_TEST_UNIT_READY,	F_MEDIUM,		cmd_tur },
	{ OP_REQUEST_SENSE,	F_NOUA | F_ANYLUN,	cmd_request_sense },
	{ OP_READ_6,		F_MEDIUM,		cmd_read_6 },
	{ OP_INQUIRY,		F_NOUA | F_ANYLUN,	cmd_inquiry },
	{ OP_MODE_SENSE_6,	0,			cmd_mode_sense },
	{ OP_START_STOP_UNIT,	0,			cmd_start_stop },
	{ OP_PREVENT_ALLOW,	0,			cmd_prevent_allow },
	{ OP_READ_CAPACITY_10,	F_MEDIUM,		cmd_read_capacity },
	{ OP_READ_10,		F_MEDIUM,		cmd_read_10 },
	{ OP_READ_TOC,		F_MEDIUM,		cmd_read_toc },
	{ OP_GET_CONFIGURATION,	F_NOUA,			cmd_get_configuration },
	{ OP_GET_EVENT_STATUS,	F_NOUA,			cmd_get_event_status },
	{ OP_READ_DISC_INFO,	F_MEDIUM,		cmd_read_disc_info },
	{ OP_MODE_SENSE_10,	0,			cmd_mode_sense },
	{ OP_READ_16,		F_MEDIUM,		cmd_read_16 },
	{ OP_SERVICE_ACTION_IN,	0,			cmd_service_action_in },
	{ OP_REPORT_LUNS,	F_NOUA | F_ANYLUN,	cmd_report_luns },
	{ OP_READ_12,		F_MEDIUM,		cmd_read_12 },
	{ OP_GET_PERFORMANCE,	0,			cmd_get_performance },
	{ OP_SET_CD_SPEED,	0,			cmd_good },
	{ OP_MECHANISM_STATUS,	0,			cmd_mechanism_status }
};

static const char scsi_vendor[8] = { 'O', 'p', 'e', 'n', 'B', 'S', 'D', ' ' };
static const char scsi_product[16] = { 'V', 'M', 'M', ' ', 'C', 'D', '-',
	'R', 'O', 'M', ' ', ' ', ' ', ' ', ' ', ' ' };
static const char scsi_revision[4] = { '0', '0', '1', ' ' };

/* Feature codes of GET CONFIGURATION, ascending as MMC lists them */
static const uint16_t scsi_features[] = {
	0x0000,		/* profile list */
	0x0001,		/* core */
	0x0002,		/* morphing */
	0x0003,		/* removable medium */
	0x0010,		/* random readable */
	0x001e,		/* CD read */
	0x001f,		/* DVD read */
	0x0100		/* power management */
};

static uint16_t
get_be16(const uint8_t *p)
{
	return ((uint16_t)(p[0] << 8 | p[1]));
}

static uint32_t
get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

static uint64_t
get_be64(const uint8_t *p)
{
	return ((uint64_t)get_be32(p) << 32 | get_be32(p + 4));
}

static void
put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, (uint32_t)v);
}

static uint32_t
get_le32(const uint8_t *p)
{
	return ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[1] << 8 | p[0]);
}

static void
put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

/* CDB length by opcode group; 0 for the groups we have nothing in */
static size_t
cdb_len(uint8_t op)
{
	switch (op >> 5) {
	case 0:
		return (6);
	case 1:
	case 2:
		return (10);
	case 4:
		return (16);
	case 5:
		return (12);
	default:
		return (0);
	}
}

static const struct scsi_op *
op_find(uint8_t op)
{
	size_t	 i;

	for (i = 0; i < sizeof(scsi_ops) / sizeof(scsi_ops[0]); i++)
		if (scsi_ops[i].op == op)
			return (&scsi_ops[i]);
	return (NULL);
}

/* End the command with CHECK CONDITION and fixed-format sense data. */
static void
check(struct scsi_io *io, uint8_t key, uint16_t asc)
{
	struct scsi_result *r = io->r;

	r->status = SCSI_CHECK_CONDITION;
	r->len = 0;
	r->resid = io->total;
	memset(r->sense, 0, sizeof(r->sense));
	r->sense[0] = 0x70;		/* current error, fixed format */
	r->sense[2] = key;
	r->sense[7] = SCSI_SENSE_LEN - 8;
	r->sense[12] = asc >> 8;
	r->sense[13] = asc & 0xff;
	r->sense_len = SCSI_SENSE_LEN;
}

static void
invalid_field(struct scsi_io *io)
{
	check(io, SKEY_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
}

/*
 * GOOD with data: the first min(avail, alloc, buffers) bytes of buf go
 * to the data-in buffers; fields like a length in buf keep saying what
 * was available, as SPC wants when the allocation length cuts it.
 */
static void
reply(struct scsi_io *io, const uint8_t *buf, size_t avail, size_t alloc)
{
	struct scsi_result *r = io->r;
	size_t		 n, done = 0, take;
	int		 i;

	n = avail < alloc ? avail : alloc;
	if (n > io->total)
		n = io->total;
	for (i = 0; i < io->niov && done < n; i++) {
		take = io->din[i].iov_len;
		if (take > n - done)
			take = n - done;
		memcpy(io->din[i].iov_base, buf + done, take);
		done += take;
	}
	r->status = SCSI_GOOD;
	r->len = (uint32_t)n;
	r->resid = io->total - (uint32_t)n;
}

/* 1 for a DVD-ROM medium, 0 for a CD-ROM or none */
static int
is_dvd(const struct scsi_cd *cd)
{
	return (cd->blocks > SCSI_CD_CD_BLOCKS);
}

/* The last LBA as a 32-bit field: all ones if it does not fit */
static uint32_t
last_lba32(const struct scsi_cd *cd)
{
	return (cd->blocks - 1 > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)(cd->blocks - 1));
}

static void
cmd_good(struct scsi_cd *cd, const uint8_t *cdb, struct scsi_io *io)
{
	reply(io, NULL, 0, 0);
}

static void
cmd_tur(struct scsi_cd *cd, const uint8_t *cdb, struct scsi_io *io)
{
	reply(io, NULL, 0, 0);		/* F_MEDIUM did the work */
}

/*
 * The sense data of the condition at hand: a unit attention (which this
 * clears), no LUN, no medium, or nothing; fixed format or, with DESC,
 * descriptor format.
 */
static void
cmd_request_sense(struct scsi_cd *cd, const uint8_t *cdb, struct scsi_io *io)
{
	uint8_t		 buf[SCSI_SENSE_LEN];
	uint8_t		 key = SKEY_NO_SENSE;
	uint16_t	 asc = ASC_NONE;
	size_t		 n;

	if (io->nolun) {
		key = SKEY_ILLEGAL_REQUEST;
		asc = ASC_LUN_NOT_SUPPORTED;
	} else if (cd->ua != 0) {
		key = SKEY_UNIT_ATTENTION;
		asc = cd->ua;
		cd->ua = 0;
	} else if (cd->blocks == 0) {
		key = SKEY_NOT_READY;
		asc = ASC_NO_MEDIUM;
	}
	memset(buf, 0, sizeof(buf));
	if (cdb[1] & 0x01) {
		buf[0] = 0x72;
		buf[1] = key;
		buf[2] = asc >> 8;
		buf[3] = asc & 0xff;
		n = 8;
	} else {
		buf[0] = 0x70;
		buf[2] = key;
		buf[7] = SCSI_SENSE_LEN - 8;
		buf[12] = asc >> 8;
		buf[13] = asc & 0xff;
		n = SCSI_SENSE_LEN;
	}
	reply(io, buf, n, cdb[4]);
}

static size_t
inquiry_standard(uint8_t *b, int nolun)
{
	memset(b, 0, 36);
	b[0] = nolun ? PDT_NO_LUN : PDT_CDROM;
	b[1] = nolun ? 0 : 0x80;	/* removable medium */
	b[2] = 0x05;			/* SPC-3, as QEMU claims */
	b[3] = 0x02;			/* response data format 2 */
	b[4] = 36 - 5;
	b[7] = 0x02;			/* several commands in flight */
	memcpy(b + 8, scsi_vendor, sizeof(scsi_vendor));
	memcpy(b + 16, scsi_product, sizeof(scsi_product));
	memcpy(b + 32, scsi_revision, sizeof(scsi_revision));
	return (36);
}

static void
cmd_inquiry(struct scsi_cd *cd, const uint8_t *cdb, struct scsi_io *io)
{
	uint8_t		 b[64];
	size_t		 n, slen = strlen(cd->serial);
	uint16_t	 alloc = get_be16(cdb + 3);

	if (cdb[1] & 0x02) {		/* CMDDT, obsolete */
		invalid_field(io);
		return;
	}
	if (!(cdb[1] & 0x01)) {
		if (cdb[2] != 0) {
			invalid_field(io);
			return;
		}
		reply(io, b, inquiry_standard(b, io->nolun), alloc);
		return;
	}
	if (io->nolun) {
		check(io, SKEY_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
		return;
	}
	memset(b, 0, sizeof(b));
	b[0] = PDT_CDROM;
	b[1] = cdb[2];
	switch (cdb[2]) {
	case 0x00:			/* supported pages */
		b[4] = 0x00;
		b[5] = 0x80;
		b[6] = 0x83;
		n = 7;
		break;
	case 0x80:			/* unit serial number */
		memcpy(b + 4, cd->serial, slen);
		n = 4 + slen;
		break;
	case 0x83:			/* device identification */
		b[4] = 0x02;		/* ASCII */
		b[5] = 0x01;		/* the LU, T10 vendor id based */
		b[7] = (uint8_t)(8 + 16 + slen);
		memcpy(b + 8, scsi_vendor, sizeof(scsi_vendor));
		memcpy(b + 16, scsi_product, sizeof(scsi_product));
		memcpy(b + 32, cd->serial, slen);
		n = 32 + slen;
		break;
	default:
		invalid_field(io);
		return;
	}
	put_be16(b + 2, (uint16_t)(n - 4));
	reply(io, b, n, alloc);
}

/* One mode page into p; its length, or 0 if we have no such page. */
static size_t
mode_page(const struct scsi_cd *cd, uint8_t code, int pc, uint8_t *p)
{
	switch (code) {
	case MODE_PAGE_ERROR:		/* read/write error recovery */
		memset(p, 0, 12);
		p[0] = code;
		p[1] = 10;
		if (pc != MODE_PC_CHANGEABLE)
			p[3] = 5;	/* read retry count */
		return (12);
	case MODE_PAGE_CAPABILITIES:	/* MMC-3 capabilities and status */
		memset(p, 0, 30);
		p[0] = code;
		p[1] = 28;
		if (pc == MODE_PC_CHANGEABLE)
			return (30);
		p[2] = 0x08;		/* reads DVD-ROM (and CD-ROM) */
		p[3] = 0x00;		/* writes nothing */
		/* tray; can lock, locked if so; cannot eject (no 0x08) */
		p[6] = 0x21 | (cd->prevent ? 0x02 : 0);
		put_be16(p + 8, CD_SPEED);
		put_be16(p + 14, CD_SPEED);
		return (30);
	default:
		return (0);
	}
}

/*
 * MODE SENSE(6) and (10).  MMC drives have no block descriptors, so DBD
 * and LLBAA change nothing; there are no subpages.
 */
static void
cmd_mode_sense(struct scsi_cd *cd, const uint8_t *cdb, struct scsi_io *io)
{
	uint8_t		 b[128];
	int		 ten = cdb[0] == OP_MODE_SENSE_10;
	int		 pc = cdb[2] >> 6;
	uint8_t		 code = cdb[2] & 0x3f, sub = cdb[3];
	size_t		 n, len, alloc = ten ? get_be16(cdb + 7) : cdb[4];

	if (pc == MODE_PC_SAVED) {
		check(io, SKEY_ILLEGAL_REQUEST, ASC_SAVING_UNSUPPORTED);
		return;
	}
	n = ten ? 8 : 4;
	memset(b, 0, n);
	if (code == MODE_PAGE_ALL) {
		if (sub != 0x00 && sub != 0xff) {
			invalid_field(io);
			return;
		}
		n += mode_page(cd, MODE_PAGE_ERROR, pc, b + n);
		n += mode_page(cd, MODE_PAGE_CAPABILITIES, pc, b + n);
	} else {
		if (sub != 0 || (len = mode_page(cd, code, pc, b + n)) == 0) {
			invalid_field(io);
			return;
		}
		n += len;
	}
	/* medium type, device-specific byte, descriptor length stay 0 */
	if (ten)
		put_be16(b, (uint16_t)(n - 2));
	else
		b[0] = (uint8_t)(n - 1);
	reply(io, b, n, alloc);
}

/*
 * Power conditions and spinning up or down are no-ops; loading is one
 * too (the disc is always in).  The tray cannot open: an eject fails,
 * saying why if removal is prevented.
 */
static void
cmd_start_stop(struct scsi_cd *cd, const uint8_t *cdb, struct scsi_io *io)
{
	int	 loej = cdb[4] & 0x02, start = cdb[4] & 0x01;

	if ((cdb[4] >> 4) == 0 && loej && !start) {
		if (cd->prevent)
			check(io, SKEY_ILLEGAL_REQUEST, ASC_REMOVAL_PREVENTED);
		else
			invalid_field(io);
		return;
	}
	reply(io, NULL, 0, 0);
}

static void
cmd_prevent_allow(struct scsi_cd *cd, const uint8_t *cdb, struct scsi_io *io)
{
	cd->prevent = cdb[4] & 0x01;
	reply(io, NULL, 0, 0);
}

static void
cmd_read_capacity(struct scsi_cd *cd, const uint8_t *cdb, struct scsi_io *io)
{
	uint8_t		 b[8];

	/* an LBA only makes sense with PMI (SBC) */
	if (!(cdb[8] & 0x01) && get_be32(cdb + 2) != 0) {
		invalid_field(io);
		return;
	}
	put_be32(b, last_lba32(cd));
	put_be32(b + 4, SCSI_CD_BLOCK);
	reply(io, b, sizeof(b), sizeof(b));
}

static void
cmd_service_action_in(struct scsi_cd *cd, const uint8_t *cdb,
    struct scsi_io *io)
{
	uint8_t		 b[32];

	if ((cdb[1] & 0x1f) != SAI_READ_CAPACITY_16 ||
	    (!(cdb[14] & 0x01) && get_be64(cdb + 2) != 0)) {
		invalid_field(io);
		return;
	}
	if (cd->blocks == 0) {
		check(io, SKEY_NOT_READY, ASC_NO_MEDIUM);
		return;
	}
	memset(b, 0, sizeof(b));
	put_be64(b, cd->blocks - 1);
	put_be32(b + 8, SCSI_CD_BLOCK);
	reply(io, b, sizeof(b), get_be32(cdb + 10));
}

/*
 * n blocks from lba straight into the data-in buffers.  The range is
 * checked without overflow (zero blocks at the end of the disc are in
 * range, one past it not); a transfer longer than the buffers is the
 * transport's overrun, as QEMU's virtio-scsi answers it.
 */
static void
do_read(struct scsi_cd *cd, struct scsi_io *io, uint64_t lba, uint64_t n)
{
	struct iovec	 v[SCSI_CD_IOV_MAX];
	size_t		 nv;
	uint64_t	 bytes;

	if (lba > cd->blocks || n > cd->blocks - lba) {
		check(io, SKEY_ILLEGAL_REQUEST, ASC_LBA_RANGE);
		return;
	}
	if (n == 0) {
		reply(io, NULL, 0, 0);
		return;
	}
	if (n > SCSI_CD_MAX_XFER) {
		invalid_field(io);
		return;
	}
	bytes = n * SCSI_CD_BLOCK;
	if (bytes > io->total) {
		io->r->response = VIRTIO_SCSI_S_OVERRUN;
		return;
	}
	nv = disk_iov_slice(io->din, io->niov, 0, (size_t)bytes, v);
	if (disk_preadv(cd->disk, v, (int)nv, lba * SCSI_CD_BLOCK) == -1) {
		check(io, SKEY_MEDIUM_ERROR, ASC_READ_ERROR);
		return;
	}
	io->r->status = SCSI_GOOD;
	io->r->len = (uint32_t)bytes;
	io->r->resid = io->total - (uint32_t)bytes;
}

static void
cmd_read_6(struct scsi_cd *cd, const uint8_t *cdb, struct scsi_io *io)
{
	uint32_t	 lba;

	lba = (uint32_t)(cdb[1] & 0x1f) << 16 | get_be16(cdb + 2);
	do_read(cd, io, lba, cdb[4] == 0 ? 256 : cdb[4]);
}

/* RDPROTECT needs protection information, which a disc has not */
static void
cmd_read_10(struct scsi_cd *cd, const uint8_t *cdb, struct scsi_io *io)
{
	if (cdb[1] & 0xe0)
		invalid_field(io);
	else
		do_read(cd, io, get_be32(cdb + 2), get_be16(cdb + 7));
}

static void
cmd_read_12(struct scsi_cd *cd, const uint8_t *cdb, struct scsi_io *io)
{
	if (cdb[1] & 0xe0)
		invalid_field(io);
	else
		do_read(cd, io, get_be32(cdb + 2), get_be32(cdb + 6));
}

static void
cmd_read_16(struct scsi_cd *cd, const uint8_t *cdb, struct scsi_io *io)
{
	if (cdb[1] & 0xe0)
		invalid_field(io);
	else
		do_read(cd, io, get_be64(cdb + 2), get_be32(cdb + 10));
}

/* An address as READ TOC gives it: LBA, or MSF with the 2 s pregap */
static void
toc_addr(uint64_t lba, int msf, uint8_t *p)
{
	uint64_t	 f = lba + 150;

	if (!msf) {
		put_be32(p, lba > UINT32_MAX ? UINT32_MAX : (uint32_t)lba);
		return;
	}
	p[0] = 0;
	if (f / (60 * 75) > 0xff) {	/* past what MSF can say */
		p[1] = 0xff;
		p[2] = 59;
		p[3] = 74;
		return;
	}
	p[1] = (uint8_t)(f / (60 * 75));
	p[2] = (uint8_t)(f / 75 % 60);
	p[3] = (uint8_t)(f % 75);
}

static size_t
toc_track(uint8_t *p, uint8_t track, uint64_t lba, int msf)
{
	p[0] = 0;
	p[1] = TOC_ADR_CTL;
	p[2] = track;
	p[3] = 0;
	toc_addr(lba, msf, p + 4);
	return (8);
}

/* One full-TOC (format 2) entry: point and its address in MSF */
static size_t
toc_full(uint8_t *p, uint8_t point, uint8_t pm, uint8_t ps, uint8_t pf)
{
	memset(p, 0, 11);
	p[0] = 1;			/* session */
	p[1] = TOC_ADR_CTL;
	p[3] = point;
	p[8] = pm;
	p[9] = ps;
	p[10] = pf;
	return (11);
}

/*
 * READ TOC/PMA/ATIP: one session holding one data track from LBA 0 to
 * the lead-out at the end of the image.  Formats 0 (TOC), 1 (session
 * information) and 2 (full TOC); the SFF-8020 format bits in the
 * control byte count when the format field is 0, as ATAPI drivers
 * still send them there.
 */
static void
cmd_read_toc(struct scsi_cd *cd, const uint8_t *cdb, struct scsi_io *io)
{
	uint8_t		 b[64], lo[4];
	int		 msf = cdb[1] & 0x02;
	uint8_t		 format = cdb[2] & 0x0f, track = cdb[6];
	size_t		 n = 4;

	if (format == 0)
		format = cdb[9] >> 6;
	memset(b, 0, sizeof(b));
	b[2] = 1;			/* first track or session */
	b[3] = 1;			/* last */
	switch (format) {
	case 0:
		if (track > 1 && track != TOC_LEADOUT) {
			invalid_field(io);
			return;
		}
		if (track <= 1)
			n += toc_track(b + n, 1, 0, msf);
		n += toc_track(b + n, TOC_LEADOUT, cd->blocks, msf);
		break;
	case 1:
		n += toc_track(b + n, 1, 0, msf);
		break;
	case 2:
		if (track > 1) {
			invalid_field(io);
			return;
		}
		toc_addr(cd->blocks, 1, lo);
		/* first track and disc type (CD-ROM), last track, lead-out */
		n += toc_full(b + n, 0xa0, 1, 0x00, 0);
		n += toc_full(b + n, 0xa1, 1, 0, 0);
		n += toc_full(b + n, 0xa2, lo[1], lo[2], lo[3]);
		n += toc_full(b + n, 1, 0, 2, 0);	/* track 1, 00:02:00 */
		break;
	default:
		invalid_field(io);
		return;
	}
	put_be16(b, (uint16_t)(n - 2));
	reply(io, b, n, get_be16(cdb + 7));
}

/* One feature descriptor of GET CONFIGURATION into p; its length. */
static size_t
feature(const struct scsi_cd *cd, uint16_t code, uint8_t *p)
{
	int	 dvd = is_dvd(cd), cdm = cd->blocks != 0 && !dvd;

	memset(p, 0, 12);
	put_be16(p, code);
	switch (code) {
	case 0x0000:
		p[2] = 0x03;		/* persistent, current */
		p[3] = 8;
		put_be16(p + 4, PROFILE_DVDROM);
		p[6] = dvd;
		put_be16(p + 8, PROFILE_CDROM);
		p[10] = cdm;
		return (12);
	case 0x0001:
		p[2] = 0x0b;		/* version 2, persistent, current */
		p[3] = 8;
		put_be32(p + 4, 1);	/* SCSI family */
		return (12);
	case 0x0002:
		p[2] = 0x07;		/* version 1, persistent, current */
		p[3] = 4;
		return (8);
	case 0x0003:
		p[2] = 0x03;
		p[3] = 4;
		p[4] = 0x21;		/* tray, lockable, no eject */
		return (8);
	case 0x0010:
		p[2] = cd->blocks != 0;
		p[3] = 8;
		put_be32(p + 4, SCSI_CD_BLOCK);
		put_be16(p + 8, dvd ? 16 : 1);	/* blocks per ECC block */
		return (12);
	case 0x001e:
		p[2] = 0x08 | cdm;	/* version 2 */
		p[3] = 4;
		return (8);
	case 0x001f:
		p[2] = 0x04 | dvd;	/* version 1 */
		p[3] = 4;
		return (8);
	case 0x0100:
		p[2] = 0x03;
		return (4);
	default:
		return (0);
	}
}

/*
 * GET CONFIGURATION: RT 0 all features from the starting one, 1 only
 * the current ones, 2 just the one named.  The current profile is
 * DVD-ROM for a medium larger than a CD holds, CD-ROM otherwise.
 */
static void
cmd_get_configuration(struct scsi_cd *cd, const uint8_t *cdb,
    struct scsi_io *io)
{
	uint8_t		 b[8 + 12 * sizeof(scsi_features) /
			    sizeof(scsi_features[0])];
	int		 rt = cdb[1] & 0x03;
	uint16_t	 sfn = get_be16(cdb + 2), f, profile = PROFILE_NONE;
	size_t		 i, n = 8, len;

	if (rt == 3) {
		invalid_field(io);
		return;
	}
	memset(b, 0, 8);
	for (i = 0; i < sizeof(scsi_features) / sizeof(scsi_features[0]);
	    i++) {
		f = scsi_features[i];
		if (rt == 2 ? f != sfn : f < sfn)
			continue;
		len = feature(cd, f, b + n);
		if (rt == 1 && !(b[n + 2] & 0x01))
			continue;
		n += len;
	}
	if (cd->blocks != 0)
		profile = is_dvd(cd) ? PROFILE_DVDROM : PROFILE_CDROM;
	put_be32(b, (uint32_t)(n - 4));
	put_be16(b + 6, profile);
	reply(io, b, n, get_be16(cdb + 7));
}

/*
 * GET EVENT STATUS NOTIFICATION, polled only: the media class, which
 * has nothing new to say (the disc never changes) but whether a disc
 * is in; any other class finds no event.
 */
static void
cmd_get_event_status(struct scsi_cd *cd, const uint8_t *cdb,
    struct scsi_io *io)
{
	uint8_t		 b[8];
	size_t		 n = 4;

	if (!(cdb[1] & 0x01)) {
		invalid_field(io);
		return;
	}
	memset(b, 0, sizeof(b));
	b[3] = 0x10;			/* we support the media class */
	if (cdb[4] & 0x10) {
		b[2] = 0x04;		/* media */
		b[4] = 0x00;		/* no change */
		b[5] = cd->blocks != 0 ? 0x02 : 0x00;	/* present */
		n = 8;
	} else
		b[2] = 0x80;		/* no event available */
	put_be16(b, (uint16_t)(n - 2));
	reply(io, b, n, get_be16(cdb + 7));
}

/* One complete (finalized) session, as a pressed disc */
static void
cmd_read_disc_info(struct scsi_cd *cd, const uint8_t *cdb, struct scsi_io *io)
{
	uint8_t		 b[34];

	if ((cdb[1] & 0x07) != 0) {
		invalid_field(io);
		return;
	}
	memset(b, 0, sizeof(b));
	put_be16(b, sizeof(b) - 2);
	b[2] = 0x0e;		/* last session complete, disc finalized */
	b[3] = 1;		/* first track */
	b[4] = 1;		/* sessions */
	b[5] = 1;		/* first track of the last session */
	b[6] = 1;		/* last track of the last session */
	b[7] = 0x20;		/* unrestricted use */
	b[8] = 0x00;		/* CD-DA or CD-ROM (and DVD-ROM) */
	reply(io, b, sizeof(b), get_be16(cdb + 7));
}

/* No changer: idle, door closed, one slot as QEMU says */
static void
cmd_mechanism_status(struct scsi_cd *cd, const uint8_t *cdb,
    struct scsi_io *io)
{
	uint8_t		 b[8];

	memset(b, 0, sizeof(b));
	b[5] = 1;
	reply(io, b, sizeof(b), get_be16(cdb + 8));
}

/* LUN 0 alone; SPC-3 wants room for a whole header and one entry. */
static void
cmd_report_luns(struct scsi_cd *cd, const uint8_t *cdb, struct scsi_io *io)
{
	uint8_t		 b[16];
	uint32_t	 alloc = get_be32(cdb + 6);
	size_t		 n = 8;

	if (alloc < 16 || cdb[2] > 0x02) {
		invalid_field(io);
		return;
	}
	memset(b, 0, sizeof(b));
	if (cdb[2] != 0x01)		/* 1: well-known LUNs only: none */
		n += 8;
	put_be32(b, (uint32_t)(n - 8));
	reply(io, b, n, alloc);
}

/*
 * GET PERFORMANCE: the nominal read performance over the whole disc, no
 * exceptions, no write speeds; other types are refused.  There is no
 * allocation length: the driver bounds the number of descriptors.
 */
static void
cmd_get_performance(struct scsi_cd *cd, const uint8_t *cdb,
    struct scsi_io *io)
{
	uint8_t		 b[8 + 16];
	int		 write = cdb[1] & 0x04, except = cdb[1] & 0x03;
	uint16_t	 max = get_be16(cdb + 8);
	size_t		 n = 8;

	memset(b, 0, sizeof(b));
	switch (cdb[10]) {
	case 0x00:			/* performance */
		if (except == 3) {
			invalid_field(io);
			return;
		}
		b[4] = (write ? 0x02 : 0) | (except ? 0x01 : 0);
		if (!write && except != 2 && cd->blocks != 0 && max > 0) {
			put_be32(b + 8, 0);
			put_be32(b + 12, CD_SPEED);
			put_be32(b + 16, last_lba32(cd));
			put_be32(b + 20, CD_SPEED);
			n += 16;
		}
		break;
	case 0x03:			/* write speed: none */
		break;
	default:
		invalid_field(io);
		return;
	}
	put_be32(b, (uint32_t)(n - 4));
	reply(io, b, n, n);
}

/*
 * How the eight LUN bytes address us (virtio: 1, target, a single-level
 * LUN, zeros).  A target other than 0, or an address method we do not
 * know, is no target at all; a LUN other than 0 on target 0 is a
 * logical unit that is not there, which SAM answers in band.
 */
#define LUN_BAD_TARGET	0
#define LUN_ZERO	1
#define LUN_OTHER	2

static int
lun_decode(const uint8_t *l)
{
	if (l[0] != 1 || l[1] != 0)
		return (LUN_BAD_TARGET);
	/* peripheral addressing on bus 0, or flat addressing */
	if (l[2] != 0 && (l[2] & 0xc0) != 0x40)
		return (LUN_BAD_TARGET);
	if ((l[2] & 0x3f) != 0 || l[3] != 0 || l[4] != 0 || l[5] != 0 ||
	    l[6] != 0 || l[7] != 0)
		return (LUN_OTHER);
	return (LUN_ZERO);
}

void
scsi_cd_init(struct scsi_cd *cd, struct disk *disk, const char *serial)
{
	size_t	 i;

	memset(cd, 0, sizeof(*cd));
	cd->disk = disk;
	if (disk != NULL)
		cd->blocks = disk_size(disk) / SCSI_CD_BLOCK;
	cd->ua = ASC_POWER_ON;
	/* VPD pages carry the serial as printable ASCII */
	for (i = 0; serial != NULL && serial[i] != '\0' &&
	    i < SCSI_CD_SERIAL_MAX; i++)
		cd->serial[i] = serial[i] > 0x20 && serial[i] < 0x7f ?
		    serial[i] : '_';
}

/* A reset, with the unit attention that reports it; unlocks the tray */
void
scsi_cd_reset(struct scsi_cd *cd, uint16_t why)
{
	cd->ua = why;
	cd->prevent = 0;
}

/*
 * Run one command.  lun points at the request's eight LUN bytes, cdb at
 * cdblen bytes of CDB (what the request carries: a short one fails the
 * command), din at niov data-in buffers (at most SCSI_CD_IOV_MAX,
 * 4 GiB in all).  r says what happened; r->len bytes of the buffers
 * were written, and nothing else was.
 */
void
scsi_cd_command(struct scsi_cd *cd, const uint8_t *lun, const uint8_t *cdb,
    size_t cdblen, const struct iovec *din, int niov, struct scsi_result *r)
{
	const struct scsi_op *op;
	struct scsi_io	 io;
	uint64_t	 total = 0;
	size_t		 len;
	uint16_t	 ua;
	int		 i, where;

	memset(r, 0, sizeof(*r));
	if (niov < 0 || niov > SCSI_CD_IOV_MAX) {
		r->response = VIRTIO_SCSI_S_FAILURE;
		return;
	}
	for (i = 0; i < niov; i++)
		total += din[i].iov_len;
	if (total > UINT32_MAX) {
		r->response = VIRTIO_SCSI_S_FAILURE;
		return;
	}
	r->resid = (uint32_t)total;
	if ((where = lun_decode(lun)) == LUN_BAD_TARGET) {
		r->response = VIRTIO_SCSI_S_BAD_TARGET;
		return;
	}
	r->response = VIRTIO_SCSI_S_OK;
	io.din = din;
	io.niov = niov;
	io.total = (uint32_t)total;
	io.nolun = where == LUN_OTHER;
	io.r = r;
	op = cdblen > 0 ? op_find(cdb[0]) : NULL;
	if (io.nolun) {
		if (op == NULL || !(op->flags & F_ANYLUN)) {
			check(&io, SKEY_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
			return;
		}
	} else if (cd->ua != 0 && (op == NULL || !(op->flags & F_NOUA))) {
		ua = cd->ua;
		cd->ua = 0;
		check(&io, SKEY_UNIT_ATTENTION, ua);
		return;
	}
	if (op == NULL) {
		check(&io, SKEY_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return;
	}
	/* the whole CDB must be there; NACA asks for ACA, which we lack */
	len = cdb_len(op->op);
	if (cdblen < len || (cdb[len - 1] & 0x04)) {
		invalid_field(&io);
		return;
	}
	if ((op->flags & F_MEDIUM) && cd->blocks == 0) {
		check(&io, SKEY_NOT_READY, ASC_NO_MEDIUM);
		return;
	}
	op->fn(cd, cdb, &io);
}

/*
 * A task management function, for the control queue; returns its
 * virtio response.  Commands never wait here, so there is never a task
 * to abort or find: those functions complete.  Resets leave a unit
 * attention behind, as SAM has them do.
 */
uint8_t
scsi_cd_tmf(struct scsi_cd *cd, uint32_t subtype, const uint8_t *lun)
{
	int	 where = lun_decode(lun);

	if (where == LUN_BAD_TARGET)
		return (VIRTIO_SCSI_S_BAD_TARGET);
	switch (subtype) {
	case VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET:
		scsi_cd_reset(cd, ASC_NEXUS_LOSS);
		return (VIRTIO_SCSI_S_OK);
	case VIRTIO_SCSI_T_TMF_ABORT_TASK:
	case VIRTIO_SCSI_T_TMF_ABORT_TASK_SET:
	case VIRTIO_SCSI_T_TMF_CLEAR_ACA:
	case VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET:
	case VIRTIO_SCSI_T_TMF_QUERY_TASK:
	case VIRTIO_SCSI_T_TMF_QUERY_TASK_SET:
		return (where == LUN_ZERO ? VIRTIO_SCSI_S_OK :
		    VIRTIO_SCSI_S_INCORRECT_LUN);
	case VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET:
		if (where != LUN_ZERO)
			return (VIRTIO_SCSI_S_INCORRECT_LUN);
		scsi_cd_reset(cd, ASC_LU_RESET);
		return (VIRTIO_SCSI_S_OK);
	default:
		return (VIRTIO_SCSI_S_FUNCTION_REJECTED);
	}
}

/*
 * An asynchronous notification query or subscription: we send no
 * events, so the answer is always the empty set.
 */
uint8_t
scsi_cd_an(struct scsi_cd *cd, const uint8_t *lun, uint32_t requested,
    uint32_t *actual)
{
	int	 where = lun_decode(lun);

	*actual = 0;
	if (where == LUN_BAD_TARGET)
		return (VIRTIO_SCSI_S_BAD_TARGET);
	if (where != LUN_ZERO)
		return (VIRTIO_SCSI_S_INCORRECT_LUN);
	return (VIRTIO_SCSI_S_OK);
}

void
vioscsi_init(struct vioscsi *sc, struct disk *disk, const char *serial)
{
	memset(sc, 0, sizeof(*sc));
	scsi_cd_init(&sc->cd, disk, serial);
	sc->sense_size = VIOSCSI_SENSE_DEFAULT;
	sc->cdb_size = VIOSCSI_CDB_DEFAULT;
}

/* The driver reset the device: the sizes it wrote go back (virtio). */
void
vioscsi_reset(struct vioscsi *sc)
{
	sc->sense_size = VIOSCSI_SENSE_DEFAULT;
	sc->cdb_size = VIOSCSI_CDB_DEFAULT;
	scsi_cd_reset(&sc->cd, ASC_POWER_ON);
}

static void
config_image(const struct vioscsi *sc, uint8_t *b)
{
	memset(b, 0, VIOSCSI_CONFIG_SIZE);
	put_le32(b + 0, 1);			/* num_queues */
	put_le32(b + 4, VIOSCSI_SEG_MAX);	/* seg_max */
	put_le32(b + 8, 0xffff);		/* max_sectors */
	put_le32(b + 12, VIOSCSI_QUEUE_SIZE);	/* cmd_per_lun */
	put_le32(b + 16, VIOSCSI_EVENT_SIZE);	/* event_info_size */
	put_le32(b + 20, sc->sense_size);
	put_le32(b + 24, sc->cdb_size);
	put_le16(b + 28, 0);			/* max_channel */
	put_le16(b + 30, 0);			/* max_target */
	put_le32(b + 32, 0);			/* max_lun */
}

void
vioscsi_config_read(struct vioscsi *sc, uint32_t off, uint8_t *data,
    int size)
{
	uint8_t		 b[VIOSCSI_CONFIG_SIZE];
	int		 i;

	config_image(sc, b);
	for (i = 0; i < size; i++)
		data[i] = off < sizeof(b) && (uint32_t)i < sizeof(b) - off ?
		    b[off + i] : 0;
}

/* Only sense_size and cdb_size are the driver's to write. */
void
vioscsi_config_write(struct vioscsi *sc, uint32_t off, const uint8_t *data,
    int size)
{
	uint8_t		 b[VIOSCSI_CONFIG_SIZE];
	int		 i;

	config_image(sc, b);
	for (i = 0; i < size && off < sizeof(b) &&
	    (uint32_t)i < sizeof(b) - off; i++)
		if (off + i >= 20 && off + i < 28)
			b[off + i] = data[i];
	sc->sense_size = get_le32(b + 20);
	sc->cdb_size = get_le32(b + 24);
}

/*
 * One request from a request queue: the header (whose CDB is cdb_size
 * bytes long), data-out, the response (with sense_size bytes of sense),
 * data-in.  *used is what we wrote.  Returns -1 with why set for a
 * request too short for its headers, which breaks the queue.
 */
int
vioscsi_request(struct vioscsi *sc, const struct virtq_chain *c,
    uint32_t *used, char *why, size_t whylen)
{
	uint8_t		 hdr[VIOSCSI_REQ_HDR + VIOSCSI_CDB_MAX];
	uint8_t		 resp[VIOSCSI_RESP_HDR + VIOSCSI_SENSE_MAX];
	struct iovec	 din[SCSI_CD_IOV_MAX];
	struct scsi_result r;
	uint64_t	 reqlen, resplen;
	uint32_t	 ncdb, nsense, dinlen;
	int		 nw;
	size_t		 ndin;

	reqlen = VIOSCSI_REQ_HDR + (uint64_t)sc->cdb_size;
	resplen = VIOSCSI_RESP_HDR + (uint64_t)sc->sense_size;
	if (c->rlen < reqlen || c->wlen < resplen) {
		snprintf(why, whylen, "SCSI request of %u+%u bytes, short of "
		    "its headers (%llu+%llu)", c->rlen, c->wlen,
		    (unsigned long long)reqlen, (unsigned long long)resplen);
		return (-1);
	}
	ncdb = sc->cdb_size < VIOSCSI_CDB_MAX ? sc->cdb_size :
	    VIOSCSI_CDB_MAX;
	memset(hdr, 0, sizeof(hdr));
	virtq_chain_read(c, 0, hdr, VIOSCSI_REQ_HDR + ncdb);
	dinlen = c->wlen - (uint32_t)resplen;
	nw = c->niov - c->nread;
	if ((c->rlen > reqlen && dinlen > 0) || nw > SCSI_CD_IOV_MAX) {
		/* both directions at once: VIRTIO_SCSI_F_INOUT is not ours */
		memset(&r, 0, sizeof(r));
		r.response = VIRTIO_SCSI_S_FAILURE;
		r.resid = dinlen;
	} else {
		ndin = disk_iov_slice(c->iov + c->nread, nw, (size_t)resplen,
		    dinlen, din);
		scsi_cd_command(&sc->cd, hdr, hdr + VIOSCSI_REQ_HDR, ncdb, din,
		    (int)ndin, &r);
	}
	nsense = sc->sense_size < VIOSCSI_SENSE_MAX ? sc->sense_size :
	    VIOSCSI_SENSE_MAX;
	memset(resp, 0, sizeof(resp));
	put_le32(resp, r.sense_len < nsense ? r.sense_len : nsense);
	put_le32(resp + 4, r.resid);
	put_le16(resp + 8, 0);			/* status qualifier */
	resp[10] = r.status;
	resp[11] = r.response;
	memcpy(resp + VIOSCSI_RESP_HDR, r.sense,
	    r.sense_len < nsense ? r.sense_len : nsense);
	virtq_chain_write(c, 0, resp, VIOSCSI_RESP_HDR + nsense);
	*used = (uint32_t)resplen + r.len;
	return (0);
}

/*
 * One request from the control queue: a task management function or
 * an event query or subscription.  An unknown type, or buffers too
 * short for its layout, is -1 with why set, as for requests.
 */
int
vioscsi_control(struct vioscsi *sc, const struct virtq_chain *c,
    uint32_t *used, char *why, size_t whylen)
{
	uint8_t		 req[24], out[5];
	uint32_t	 type, actual;

	if (c->rlen < 4) {
		snprintf(why, whylen, "control request of %u bytes", c->rlen);
		return (-1);
	}
	memset(req, 0, sizeof(req));
	virtq_chain_read(c, 0, req, sizeof(req));
	type = get_le32(req);
	switch (type) {
	case VIRTIO_SCSI_T_TMF:
		if (c->rlen < 24 || c->wlen < 1)
			break;
		out[0] = scsi_cd_tmf(&sc->cd, get_le32(req + 4), req + 8);
		*used = virtq_chain_write(c, 0, out, 1);
		return (0);
	case VIRTIO_SCSI_T_AN_QUERY:
	case VIRTIO_SCSI_T_AN_SUBSCRIBE:
		if (c->rlen < 16 || c->wlen < 5)
			break;
		out[4] = scsi_cd_an(&sc->cd, req + 4, get_le32(req + 12),
		    &actual);
		put_le32(out, actual);
		*used = virtq_chain_write(c, 0, out, 5);
		return (0);
	default:
		snprintf(why, whylen, "control request of unknown type %u",
		    type);
		return (-1);
	}
	snprintf(why, whylen, "control request of type %u in %u+%u bytes, "
	    "short of its layout", type, c->rlen, c->wlen);
	return (-1);
}

/*
 * Run one queue until it is empty: the control queue or the request
 * queue; the event queue keeps its buffers for events that never come.
 * Returns the chains completed, or -1 if the queue broke (vq->error
 * says why; the caller tells the transport).
 */
int
vioscsi_run(struct vioscsi *sc, struct virtq *vq)
{
	struct iovec	 iov[VIOSCSI_MAX_IOV];
	struct virtq_chain c;
	char		 why[VIRTQ_ERR_LEN];
	uint32_t	 used = 0;
	int		 rv, n = 0, bad;

	if (vq->st.index == VIOSCSI_EVENTQ)
		return (0);
	c.iov = iov;
	c.max = VIOSCSI_MAX_IOV;
	do {
		virtq_notify_off(vq);
		while ((rv = virtq_pop(vq, &c)) == 1) {
			if (vq->st.index == VIOSCSI_CONTROLQ)
				bad = vioscsi_control(sc, &c, &used, why,
				    sizeof(why));
			else
				bad = vioscsi_request(sc, &c, &used, why,
				    sizeof(why));
			if (bad == -1) {
				vq->broken = 1;
				memcpy(vq->error, why, sizeof(vq->error));
				return (-1);
			}
			if (virtq_push(vq, c.head, used) == -1)
				return (-1);
			n++;
		}
		if (rv == -1)
			return (-1);
	} while (virtq_notify_on(vq));
	virtq_interrupt(vq);
	return (n);
}

#ifndef VIOSCSI_TARGET_ONLY	/* the fuzzer and bench build what is above */

/*
 * The PCI function, on the virtio transport: 1af4:1048, mass storage /
 * SCSI, three queues, no feature bits of its own (no hotplug, no
 * events, no INOUT, no T10 PI).  attach takes args->fd, the image,
 * opened read-only by the parent; the device owns it from then on.
 * It runs in the vm process (x86_devices_attach), as on vmd.
 */
static int	 vioscsi_attach(struct device *,
		    const struct dev_attach_args *);
static void	 vioscsi_dev_reset(struct device *);
static void	 vioscsi_detach(struct device *);
static void	 vioscsi_cfg_read(struct virtio_dev *, uint32_t, uint8_t *,
		    int);
static void	 vioscsi_cfg_write(struct virtio_dev *, uint32_t,
		    const uint8_t *, int);
static void	 vioscsi_notify(struct virtio_dev *, struct virtq *);
static void	 vioscsi_vreset(struct virtio_dev *);

const struct devsw vioscsi_devsw = {
	.name = "vioscsi",
	.attach = vioscsi_attach,
	.reset = vioscsi_dev_reset,
	.detach = vioscsi_detach
};

static const struct virtio_type vioscsi_type = {
	.name = "vioscsi",
	.device_id = VIRTIO_ID_SCSI,
	.class = 0x01,			/* mass storage: SCSI, as vmd */
	.subclass = 0x00,
	.nqueues = VIOSCSI_NQUEUES,
	.queue_max = VIOSCSI_QUEUE_SIZE,
	.config_size = VIOSCSI_CONFIG_SIZE,
	.config_read = vioscsi_cfg_read,
	.config_write = vioscsi_cfg_write,
	.queue_notify = vioscsi_notify,
	.reset = vioscsi_vreset
};

static int
vioscsi_attach(struct device *dev, const struct dev_attach_args *args)
{
	struct vioscsi	*sc;
	struct disk	*disk;
	char		 err[DISK_ERR_MAX];
	int		 fd = args->fd;

	if (fd == -1) {
		log_warnx("vioscsi: no image");
		return (-1);
	}
	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		log_warn("vioscsi: calloc");
		return (-1);
	}
	if ((disk = disk_open(DISK_FMT_RAW, &fd, 1, DISK_RDONLY, 0, err,
	    sizeof(err))) == NULL) {
		log_warnx("vioscsi: %s", err);
		free(sc);
		return (-1);
	}
	vioscsi_init(sc, disk, "VMD-CD0");
	dev->softc = sc;
	if ((sc->vdev = virtio_attach(dev, &vioscsi_type, sc)) == NULL) {
		disk_close(disk);
		free(sc);
		dev->softc = NULL;
		return (-1);
	}
	return (0);
}

/* VM reset: the transport's reset runs vioscsi_vreset */
static void
vioscsi_dev_reset(struct device *dev)
{
	struct vioscsi	*sc = dev->softc;

	virtio_reset(sc->vdev);
}

static void
vioscsi_detach(struct device *dev)
{
	struct vioscsi	*sc = dev->softc;

	if (sc == NULL)
		return;
	virtio_detach(sc->vdev);
	disk_close(sc->cd.disk);
	free(sc);
	dev->softc = NULL;
}

static void
vioscsi_cfg_read(struct virtio_dev *vdev, uint32_t off, uint8_t *data,
    int size)
{
	vioscsi_config_read(virtio_softc(vdev), off, data, size);
}

static void
vioscsi_cfg_write(struct virtio_dev *vdev, uint32_t off, const uint8_t *data,
    int size)
{
	vioscsi_config_write(virtio_softc(vdev), off, data, size);
}

static void
vioscsi_notify(struct virtio_dev *vdev, struct virtq *vq)
{
	if (vioscsi_run(virtio_softc(vdev), vq) == -1)
		virtio_queue_error(vdev, vq);
}

/* The driver wrote 0 to the status, or the VM reset */
static void
vioscsi_vreset(struct virtio_dev *vdev)
{
	vioscsi_reset(virtio_softc(vdev));
}

#endif /* !VIOSCSI_TARGET_ONLY */
