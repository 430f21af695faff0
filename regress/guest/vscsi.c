/*
 * vscsi.c: the test guest's virtio-scsi driver and its cdrom check: one
 * command at a time on the first request queue, a scan for the first
 * CD-ROM (peripheral type 5) among the targets, then TEST UNIT READY,
 * READ CAPACITY(10) and READ(10) of the ISO 9660 primary volume
 * descriptor (sector 16), whose volume id the host chose.  It must
 * never trust lengths the device returns beyond its buffers.
 */

#include "guest.h"

#define VIRTIO_ID_SCSI		8
#define QSIZE			16
#define REQ_Q			2
#define CDB_SIZE		32
#define SENSE_SIZE		96
#define MAX_SCAN		16
#define CMD_TIMEOUT_MS		10000
#define CD_BLOCK		2048
#define PVD_SECTOR		16

#define CFG_MAX_TARGET		30

#define RESP_OK			0
#define STATUS_GOOD		0
#define STATUS_CHECK		2
#define SENSE_UNIT_ATTENTION	6
#define SENSE_NOT_READY		2

struct scsi_req {
	uint8_t		lun[8];
	uint64_t	id;
	uint8_t		task_attr;
	uint8_t		prio;
	uint8_t		crn;
	uint8_t		cdb[CDB_SIZE];
} __attribute__((packed));

struct scsi_resp {
	uint32_t	sense_len;
	uint32_t	resid;
	uint16_t	status_qualifier;
	uint8_t		status;
	uint8_t		response;
	uint8_t		sense[SENSE_SIZE];
} __attribute__((packed));

struct vscsi {
	struct vdev	*vd;
	struct virtq	*vq;
	struct scsi_req	*req;
	struct scsi_resp *resp;
	uint8_t		*data;		/* CD_BLOCK bytes */
	uint64_t	 tag;
};

static struct vscsi	sc;

/*
 * Runs one command for target:lun 0; data_len bytes come back into
 * sc.data.  Returns the SCSI status (0 GOOD), or -1 with *why set for
 * a transport failure, or -2 if the target does not exist.
 */
static int
scsi_cmd(int target, const uint8_t *cdb, int cdb_len, uint32_t data_len,
    uint32_t *got, const char **why)
{
	struct vring_desc *d = sc.vq->desc;
	uint16_t id;
	uint32_t len;
	int r;

	memset(sc.req, 0, sizeof(*sc.req));
	sc.req->lun[0] = 1;
	sc.req->lun[1] = target;
	sc.req->lun[2] = 0x40;		/* flat LUN addressing, LUN 0 */
	sc.req->id = ++sc.tag;
	memcpy(sc.req->cdb, cdb, cdb_len);
	memset(sc.resp, 0, sizeof(*sc.resp));
	sc.resp->response = 0xff;
	d[0].addr = (uintptr_t)sc.req;
	d[0].len = sizeof(*sc.req);
	d[0].flags = VRING_DESC_F_NEXT;
	d[0].next = 1;
	d[1].addr = (uintptr_t)sc.resp;
	d[1].len = sizeof(*sc.resp);
	d[1].flags = VRING_DESC_F_WRITE;
	if (data_len > 0) {
		d[1].flags |= VRING_DESC_F_NEXT;
		d[1].next = 2;
		d[2].addr = (uintptr_t)sc.data;
		d[2].len = data_len;
		d[2].flags = VRING_DESC_F_WRITE;
	}
	vq_push(sc.vq, 0);
	vq_kick(sc.vq);
	for (;;) {
		if (vq_pop(sc.vq, &id, &len))
			break;
		r = vq_wait(sc.vd, &sc.vq, 1, CMD_TIMEOUT_MS);
		if (r == 0) {
			*why = "command timed out";
			return -1;
		}
		if (r == -1) {
			*why = "device needed a reset";
			return -1;
		}
	}
	if (id != 0) {
		*why = "device returned a descriptor it was not given";
		return -1;
	}
	if (sc.resp->response != RESP_OK)
		return -2;
	len = len > sizeof(*sc.resp) ? len - sizeof(*sc.resp) : 0;
	if (len > data_len)
		len = data_len;
	if (sc.resp->resid <= data_len && data_len - sc.resp->resid < len)
		len = data_len - sc.resp->resid;
	if (got != NULL)
		*got = len;
	return sc.resp->status;
}

static uint8_t
sense_key(void)
{
	if (sc.resp->sense_len < 3)
		return 0;
	return sc.resp->sense[2] & 0x0f;
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
copy_text(char *dst, const uint8_t *src, int n)
{
	int i, end = 0;

	for (i = 0; i < n; i++) {
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '.';
		if (dst[i] != ' ')
			end = i + 1;
	}
	dst[end] = '\0';
}

static int
scsi_open(const char **why)
{
	if (sc.vd != NULL)
		return 0;
	if ((sc.vd = virtio_find(VIRTIO_ID_SCSI, 0, why)) == NULL)
		return -1;
	/* Control and event queues exist but stay empty. */
	if (virtio_start(sc.vd, 0, REQ_Q + 1, QSIZE, why) == -1) {
		sc.vd = NULL;
		return -1;
	}
	sc.vq = &sc.vd->vq[REQ_Q];
	sc.req = pzalloc(sizeof(*sc.req), 64);
	sc.resp = pzalloc(sizeof(*sc.resp), 64);
	sc.data = palloc(CD_BLOCK, 4096);
	if (sc.req == NULL || sc.resp == NULL || sc.data == NULL) {
		*why = "out of memory";
		sc.vd = NULL;
		return -1;
	}
	return 0;
}

void
check_cdrom(struct guest *g)
{
	static const uint8_t tur[6] = { 0x00 };
	uint8_t cdb[10];
	char vendor[9], product[17], volume[33];
	const char *why;
	uint32_t got = 0, last_lba, bsize, irq0, maxt;
	int t, st, i;

	if (scsi_open(&why) == -1) {
		kprintf("FAIL cdrom: %s\n", why);
		return;
	}
	irq0 = sc.vd->irqs;
	maxt = virtio_cfg16(sc.vd, CFG_MAX_TARGET);
	if (maxt >= MAX_SCAN)
		maxt = MAX_SCAN - 1;
	for (t = 0; t <= (int)maxt; t++) {
		memset(cdb, 0, sizeof(cdb));
		cdb[0] = 0x12;			/* INQUIRY */
		cdb[4] = 36;
		st = scsi_cmd(t, cdb, 6, 36, &got, &why);
		if (st == -1) {
			kprintf("FAIL cdrom: INQUIRY: %s\n", why);
			return;
		}
		if (st == STATUS_GOOD && got >= 36 &&
		    (sc.data[0] & 0xe0) == 0 && (sc.data[0] & 0x1f) == 5)
			break;
	}
	if (t > (int)maxt) {
		kprintf("FAIL cdrom: no CD-ROM among targets 0-%u\n", maxt);
		return;
	}
	copy_text(vendor, sc.data + 8, 8);
	copy_text(product, sc.data + 16, 16);
	/* A fresh medium reports UNIT ATTENTION first: retry. */
	for (i = 0; i < 4; i++) {
		st = scsi_cmd(t, tur, 6, 0, NULL, &why);
		if (st != STATUS_CHECK ||
		    (sense_key() != SENSE_UNIT_ATTENTION &&
		    sense_key() != SENSE_NOT_READY))
			break;
	}
	if (st != STATUS_GOOD) {
		kprintf("FAIL cdrom: TEST UNIT READY: %s %d, sense key %u\n",
		    st < 0 ? "error" : "status", st, sense_key());
		return;
	}
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x25;				/* READ CAPACITY(10) */
	if ((st = scsi_cmd(t, cdb, 10, 8, &got, &why)) != STATUS_GOOD ||
	    got < 8) {
		kprintf("FAIL cdrom: READ CAPACITY: status %d\n", st);
		return;
	}
	last_lba = be32(sc.data);
	bsize = be32(sc.data + 4);
	if (bsize != CD_BLOCK || last_lba < PVD_SECTOR) {
		kprintf("FAIL cdrom: capacity %u blocks of %u bytes\n",
		    last_lba + 1, bsize);
		return;
	}
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x28;				/* READ(10) */
	cdb[5] = PVD_SECTOR;
	cdb[8] = 1;
	if ((st = scsi_cmd(t, cdb, 10, CD_BLOCK, &got, &why)) != STATUS_GOOD ||
	    got != CD_BLOCK) {
		kprintf("FAIL cdrom: READ(10) of sector %d: status %d, %u "
		    "bytes\n", PVD_SECTOR, st, st >= 0 ? got : 0);
		return;
	}
	if (sc.data[0] != 1 || memcmp(sc.data + 1, "CD001", 5) != 0) {
		kprintf("FAIL cdrom: sector %d is no ISO 9660 primary volume "
		    "descriptor\n", PVD_SECTOR);
		return;
	}
	copy_text(volume, sc.data + 40, 32);
	if (!virtio_irq_seen(sc.vd, irq0)) {
		kprintf("FAIL cdrom: commands completed without an "
		    "interrupt\n");
		return;
	}
	kprintf("PASS cdrom: target %d '%s %s', %u blocks of %u, sector %d "
	    "volume '%s', %u interrupts (%s)\n", t, vendor, product,
	    last_lba + 1, bsize, PVD_SECTOR, volume, sc.vd->irqs - irq0,
	    virtio_intr_name(sc.vd));
}
