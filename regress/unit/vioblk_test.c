/*
 * vioblk_test.c: unit tests of the virtio-blk request engine (vioblk.c)
 * over a fake guest RAM and a queue driven the way a driver drives it:
 * what the device offers and its configuration; reads, writes, flushes,
 * GET_ID, discard and write zeroes on raw and qcow2 images, with the
 * header and status split or shared across buffers as any framing
 * allows; every way a request can be wrong (ranges, overflow, lengths,
 * flags, read-only, unknown types) answered with the status the spec
 * asks and nothing written; chains without a header or a status break
 * the queue with a reason; and the I/O threads under load: hundreds of
 * requests in flight past the slot limit, a reset waiting for what is in
 * flight, writes synced when the driver did not take FLUSH.  Checks look
 * at guest memory, the used ring and the image's bytes.
 */

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "vioblk.h"
#include "regress/test.h"

#define RAM_SIZE	(8 * 1024 * 1024)
#define QSZ		VIOBLK_QUEUE_SIZE
#define DESC_GPA	0x10000
#define AVAIL_GPA	0x20000
#define USED_GPA	0x30000
#define HDR_GPA		0x40000		/* headers, 16 bytes per slot */
#define STATUS_GPA	0x50000		/* status bytes, one per slot */
#define BUF_GPA		0x100000	/* data, 16 KiB per slot */
#define BUF_SLOT	16384
#define DISK_SIZE	(4ULL * 1024 * 1024)
#define FEAT		(VIRTIO_F_VERSION_1 | VIRTIO_BLK_F_FLUSH | \
			 VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE)

static uint8_t		*ram;
static char		 dir[] = "/tmp/vioblk_test.XXXXXX";
static char		 why[256];
static int		 nerrors;
static struct disk	*cur_disk;	/* the device's, for image_read */
static uint64_t		 irqs;		/* interrupts the driver took */

struct drv {
	struct vioblk		*sc;
	struct virtq_desc	*desc;
	struct virtq_avail	*avail;
	struct virtq_used	*used;
	uint16_t		 avail_idx;
	uint16_t		 last_used;
	uint16_t		 next_desc;
	int			 kickfd, callfd;
};

static void *
flat_ptr(void *arg, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return (NULL);
	return (ram + gpa);
}

static void
on_error(void *arg, uint16_t q, const char *reason)
{
	nerrors++;
	(void)snprintf(why, sizeof(why), "%s", reason);
}

static uint64_t	 seed = 7;

static uint64_t
rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (seed);
}

/* A disk image file of DISK_SIZE with a known pattern; its path. */
static const char *
make_image(const char *name, enum disk_format fmt)
{
	static char	 path[256];
	uint8_t		*buf;
	struct disk	*d;
	struct iovec	 iov;
	int		 fd;
	size_t		 i;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	(void)unlink(path);
	if (disk_create(path, fmt, DISK_SIZE, NULL, 0, why, sizeof(why)) ==
	    -1)
		return (NULL);
	if ((fd = open(path, O_RDWR)) == -1)
		return (NULL);
	if ((d = disk_open(fmt, &fd, 1, 0, 0, why, sizeof(why))) == NULL) {
		close(fd);
		return (NULL);
	}
	buf = malloc(DISK_SIZE);
	for (i = 0; i < DISK_SIZE; i++)
		buf[i] = (uint8_t)(i / 512 * 7 + i % 251);
	iov.iov_base = buf;
	iov.iov_len = DISK_SIZE;
	(void)disk_pwritev(d, &iov, 1, 0);
	disk_close(d);
	free(buf);
	return (path);
}

static uint8_t
pattern(uint64_t off)
{
	return ((uint8_t)(off / 512 * 7 + off % 251));
}

static struct disk *
open_disk(const char *path, enum disk_format fmt, int rdonly)
{
	struct disk	*d;
	int		 fd;

	if ((fd = open(path, rdonly ? O_RDONLY : O_RDWR)) == -1)
		return (NULL);
	if ((d = disk_open(fmt, &fd, 1, rdonly ? DISK_RDONLY : 0, 0, why,
	    sizeof(why))) == NULL)
		close(fd);
	cur_disk = d;
	return (d);
}

/*
 * What the image holds at off: a raw file's bytes as they are, a qcow2
 * image's through the device's own disk (a second open would meet the
 * image lock).
 */
static int
image_read(const char *path, enum disk_format fmt, uint64_t off, void *buf,
    size_t len)
{
	struct iovec	 iov = { buf, len };
	ssize_t		 n;
	int		 fd;

	if (fmt == DISK_FMT_QCOW2)
		return (disk_preadv(cur_disk, &iov, 1, off) == (ssize_t)len ?
		    0 : -1);
	if ((fd = open(path, O_RDONLY)) == -1)
		return (-1);
	n = pread(fd, buf, len, off);
	close(fd);
	return (n == (ssize_t)len ? 0 : -1);
}

/* A driver with queue 0 of sc started, with features feat. */
static int
drv_start(struct drv *v, struct vioblk *sc, uint64_t feat, int fds)
{
	struct virtq_state st;
	struct virtq_mem mem = { flat_ptr, NULL };

	memset(ram, 0, RAM_SIZE);
	memset(v, 0, sizeof(*v));
	v->sc = sc;
	v->desc = (struct virtq_desc *)(ram + DESC_GPA);
	v->avail = (struct virtq_avail *)(ram + AVAIL_GPA);
	v->used = (struct virtq_used *)(ram + USED_GPA);
	v->kickfd = v->callfd = -1;
	if (fds) {
		v->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		v->callfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	}
	memset(&st, 0, sizeof(st));
	st.desc = DESC_GPA;
	st.avail = AVAIL_GPA;
	st.used = USED_GPA;
	st.features = feat;
	st.size = QSZ;
	st.kickfd = v->kickfd;
	st.callfd = v->callfd;
	return (vioblk_queue_start(sc, &st, &mem, why, sizeof(why)));
}

static void
drv_stop(struct drv *v)
{
	if (v->kickfd != -1)
		close(v->kickfd);
	if (v->callfd != -1)
		close(v->callfd);
}

/* Append one descriptor of the chain being built; its index. */
static uint16_t
add(struct drv *v, uint64_t gpa, uint32_t len, int writable, int more)
{
	uint16_t	 i = v->next_desc++ % QSZ;

	v->desc[i].addr = gpa;
	v->desc[i].len = len;
	v->desc[i].flags = (writable ? VIRTQ_DESC_F_WRITE : 0) |
	    (more ? VIRTQ_DESC_F_NEXT : 0);
	v->desc[i].next = (i + 1) % QSZ;
	return (i);
}

static void
publish(struct drv *v, uint16_t head)
{
	v->avail->ring[v->avail_idx % QSZ] = head;
	v->avail_idx++;
	__atomic_store_n(&v->avail->idx, v->avail_idx, __ATOMIC_RELEASE);
}

static void
put_hdr(uint64_t gpa, uint32_t type, uint64_t sector)
{
	memset(ram + gpa, 0, 16);
	memcpy(ram + gpa, &type, 4);
	memcpy(ram + gpa + 8, &sector, 8);
}

/*
 * One request the common way: header, data (writable for IN and GET_ID),
 * status, each in a buffer of its own.  Returns its head.
 */
static uint16_t
submit(struct drv *v, uint32_t type, uint64_t sector, uint64_t buf,
    uint32_t len, uint64_t stgpa)
{
	uint16_t	 head;
	int		 w = type == VIRTIO_BLK_T_IN ||
			     type == VIRTIO_BLK_T_GET_ID;

	put_hdr(HDR_GPA + (stgpa - STATUS_GPA) * 16, type, sector);
	head = add(v, HDR_GPA + (stgpa - STATUS_GPA) * 16, 16, 0, 1);
	if (len > 0)
		add(v, buf, len, w, 1);
	ram[stgpa] = 0xee;
	add(v, stgpa, 1, 1, 0);
	publish(v, head);
	return (head);
}

/* The next used element, or -1 if none. */
static int
reap(struct drv *v, uint32_t *len)
{
	struct virtq_used_elem e;

	if (__atomic_load_n(&v->used->idx, __ATOMIC_ACQUIRE) == v->last_used)
		return (-1);
	e = v->used->ring[v->last_used % QSZ];
	v->last_used++;
	if (len != NULL)
		*len = e.len;
	return (e.id);
}

/* Run one request to completion without threads; its status or -1. */
static int
one(struct drv *v, uint32_t type, uint64_t sector, uint32_t len,
    uint32_t *used)
{
	int	 id;

	submit(v, type, sector, BUF_GPA, len, STATUS_GPA);
	vioblk_kick(v->sc);
	if ((id = reap(v, used)) == -1)
		return (-1);
	return (ram[STATUS_GPA]);
}

static struct vioblk *
new_dev(struct disk *d, unsigned int threads)
{
	return (vioblk_new(d, threads, 1, "testvm", on_error, NULL, why,
	    sizeof(why)));
}

static uint64_t
le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | p[n];
	return (v);
}

static void
test_config(void)
{
	const char	*raw = make_image("cfg.raw", DISK_FMT_RAW);
	struct vioblk	*sc;
	struct disk	*d;
	uint8_t		 cfg[VIOBLK_CONFIG_LEN];
	uint64_t	 f;

	CHECK(raw != NULL);
	CHECK((d = open_disk(raw, DISK_FMT_RAW, 0)) != NULL);
	CHECK((sc = new_dev(d, 0)) != NULL);
	if (sc == NULL)
		return;
	f = vioblk_features(sc);
	CHECK(f & VIRTIO_BLK_F_SEG_MAX);
	CHECK(f & VIRTIO_BLK_F_BLK_SIZE);
	CHECK(f & VIRTIO_BLK_F_FLUSH);
	CHECK(f & VIRTIO_BLK_F_DISCARD);
	CHECK(f & VIRTIO_BLK_F_WRITE_ZEROES);
	CHECK(!(f & VIRTIO_BLK_F_RO));
	CHECK(vioblk_config(sc, cfg, sizeof(cfg)) == VIOBLK_CONFIG_LEN);
	CHECK(le(cfg + VIOBLK_CFG_CAPACITY, 8) == DISK_SIZE / 512);
	CHECK(le(cfg + VIOBLK_CFG_SEG_MAX, 4) == VIOBLK_SEG_MAX);
	CHECK(le(cfg + VIOBLK_CFG_BLK_SIZE, 4) == 512);
	CHECK(le(cfg + VIOBLK_CFG_MAX_DISCARD_SEG, 4) == VIOBLK_DWZ_SEG_MAX);
	CHECK(le(cfg + VIOBLK_CFG_MAX_WZ_SECTORS, 4) == VIOBLK_DWZ_SECTORS);
	CHECK(cfg[VIOBLK_CFG_WZ_MAY_UNMAP] == 1);
	CHECK(strcmp(vioblk_serial(sc), "disk1-testvm") == 0);
	vioblk_free(sc);

	/* read-only: RO, and neither discard nor write zeroes */
	CHECK((d = open_disk(raw, DISK_FMT_RAW, 1)) != NULL);
	CHECK((sc = vioblk_new(d, 0, 3, "a-very-long-vm-name-indeed", NULL,
	    NULL, why, sizeof(why))) != NULL);
	if (sc == NULL)
		return;
	f = vioblk_features(sc);
	CHECK(f & VIRTIO_BLK_F_RO);
	CHECK(!(f & (VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES)));
	vioblk_config(sc, cfg, sizeof(cfg));
	CHECK(le(cfg + VIOBLK_CFG_MAX_DISCARD_SECTORS, 4) == 0);
	/* cut to 20 bytes, the index kept */
	CHECK(strcmp(vioblk_serial(sc), "disk3-a-very-long-vm") == 0);
	vioblk_free(sc);
}

/* Reads, writes, flush and GET_ID on a format. */
static void
io_basic(enum disk_format fmt, const char *name)
{
	const char	*path = make_image(name, fmt);
	struct vioblk	*sc;
	struct disk	*d;
	struct drv	 v;
	uint8_t		 buf[8192];
	uint32_t	 used;
	size_t		 i;
	int		 ok;

	CHECK(path != NULL);
	if (path == NULL || (d = open_disk(path, fmt, 0)) == NULL ||
	    (sc = new_dev(d, 0)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(drv_start(&v, sc, FEAT, 0) == 0);

	/* read 8 KiB at sector 3 */
	CHECK(one(&v, VIRTIO_BLK_T_IN, 3, 8192, &used) == VIRTIO_BLK_S_OK);
	CHECK(used == 8193);
	for (ok = 1, i = 0; i < 8192; i++)
		if (ram[BUF_GPA + i] != pattern(3 * 512 + i))
			ok = 0;
	CHECK(ok);

	/* write 4 KiB at sector 100, read it back from the image */
	for (i = 0; i < 4096; i++)
		ram[BUF_GPA + i] = (uint8_t)(i * 13 + 1);
	CHECK(one(&v, VIRTIO_BLK_T_OUT, 100, 4096, &used) == VIRTIO_BLK_S_OK);
	CHECK(used == 1);
	CHECK(one(&v, VIRTIO_BLK_T_FLUSH, 0, 0, &used) == VIRTIO_BLK_S_OK);
	CHECK(image_read(path, fmt, 100 * 512, buf, 4096) == 0);
	CHECK(memcmp(buf, ram + BUF_GPA, 4096) == 0);
	/* the neighbours untouched */
	CHECK(image_read(path, fmt, 99 * 512, buf, 512) == 0);
	CHECK(buf[0] == pattern(99 * 512) && buf[511] == pattern(99 * 512 +
	    511));

	/* the last sector, and a zero-length read at the very end */
	CHECK(one(&v, VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1, 512, NULL) ==
	    VIRTIO_BLK_S_OK);
	CHECK(ram[BUF_GPA] == pattern(DISK_SIZE - 512));
	CHECK(one(&v, VIRTIO_BLK_T_IN, DISK_SIZE / 512, 0, &used) ==
	    VIRTIO_BLK_S_OK);
	CHECK(used == 1);

	/* GET_ID: 20 bytes, NUL-padded */
	memset(ram + BUF_GPA, 0xaa, 32);
	CHECK(one(&v, VIRTIO_BLK_T_GET_ID, 0, 20, &used) == VIRTIO_BLK_S_OK);
	CHECK(memcmp(ram + BUF_GPA, "disk1-testvm\0\0\0\0\0\0\0\0", 20) ==
	    0);
	CHECK(ram[BUF_GPA + 20] == 0xaa);
	/* a shorter buffer gets what fits */
	memset(ram + BUF_GPA, 0xaa, 32);
	CHECK(one(&v, VIRTIO_BLK_T_GET_ID, 0, 4, NULL) == VIRTIO_BLK_S_OK);
	CHECK(memcmp(ram + BUF_GPA, "disk", 4) == 0 &&
	    ram[BUF_GPA + 4] == 0xaa);
	CHECK(nerrors == 0);
	vioblk_free(sc);
	drv_stop(&v);
}

static void
test_raw_io(void)
{
	io_basic(DISK_FMT_RAW, "io.raw");
}

static void
test_qcow2_io(void)
{
	io_basic(DISK_FMT_QCOW2, "io.qcow2");
}

/*
 * Any framing: the header in two buffers (5 + 11 bytes), the data of a
 * write in three, the status sharing the last buffer of a read's data.
 */
static void
test_framing(void)
{
	const char	*path = make_image("frame.raw", DISK_FMT_RAW);
	struct vioblk	*sc;
	struct disk	*d;
	struct drv	 v;
	uint8_t		 buf[2048];
	uint16_t	 head;
	uint32_t	 used;
	int		 i, ok;

	if (path == NULL || (d = open_disk(path, DISK_FMT_RAW, 0)) == NULL ||
	    (sc = new_dev(d, 0)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(drv_start(&v, sc, FEAT, 0) == 0);
	/* write: header 5 + 11 + data 100 of a 1024-byte run, 900, 24 */
	put_hdr(HDR_GPA, VIRTIO_BLK_T_OUT, 20);
	memmove(ram + HDR_GPA + 100, ram + HDR_GPA + 5, 11);
	for (i = 0; i < 1024; i++)
		ram[BUF_GPA + i] = (uint8_t)(i ^ 0x5a);
	head = add(&v, HDR_GPA, 5, 0, 1);
	add(&v, HDR_GPA + 100, 11, 0, 1);
	add(&v, BUF_GPA, 100, 0, 1);
	add(&v, BUF_GPA + 100, 900, 0, 1);
	add(&v, BUF_GPA + 1000, 24, 0, 1);
	ram[STATUS_GPA] = 0xee;
	add(&v, STATUS_GPA, 1, 1, 0);
	publish(&v, head);
	vioblk_kick(sc);
	CHECK(reap(&v, &used) == head);
	CHECK(ram[STATUS_GPA] == VIRTIO_BLK_S_OK);
	CHECK(image_read(path, DISK_FMT_RAW, 20 * 512, buf, 1024) == 0);
	CHECK(memcmp(buf, ram + BUF_GPA, 1024) == 0);

	/* read: header, 300 bytes, then 724 bytes and the status */
	memset(ram + BUF_GPA, 0, 2048);
	put_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 30);
	head = add(&v, HDR_GPA, 16, 0, 1);
	add(&v, BUF_GPA, 300, 1, 1);
	add(&v, BUF_GPA + 300, 725, 1, 0);
	ram[BUF_GPA + 1024] = 0xee;
	publish(&v, head);
	vioblk_kick(sc);
	CHECK(reap(&v, &used) == head);
	CHECK(used == 1025);
	CHECK(ram[BUF_GPA + 1024] == VIRTIO_BLK_S_OK);
	for (ok = 1, i = 0; i < 1024; i++)
		if (ram[BUF_GPA + i] != pattern(30 * 512 + i))
			ok = 0;
	CHECK(ok);

	/* header, then one buffer with 512 bytes of data and the status */
	put_hdr(BUF_GPA, VIRTIO_BLK_T_IN, 30);
	head = add(&v, BUF_GPA, 16, 0, 1);
	add(&v, BUF_GPA + 16, 513, 1, 0);
	publish(&v, head);
	vioblk_kick(sc);
	CHECK(reap(&v, &used) == head);
	CHECK(ram[BUF_GPA + 16 + 512] == VIRTIO_BLK_S_OK);
	CHECK(ram[BUF_GPA + 16] == pattern(30 * 512));
	CHECK(nerrors == 0);
	vioblk_free(sc);
	drv_stop(&v);
}

/* Requests that must fail, and leave the image alone. */
static void
test_bad_requests(void)
{
	const char	*path = make_image("bad.raw", DISK_FMT_RAW);
	struct vioblk	*sc;
	struct disk	*d;
	struct drv	 v;
	uint8_t		 buf[512];
	uint16_t	 head;
	uint64_t	 cap = DISK_SIZE / 512;

	if (path == NULL || (d = open_disk(path, DISK_FMT_RAW, 0)) == NULL ||
	    (sc = new_dev(d, 0)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(drv_start(&v, sc, FEAT, 0) == 0);
	memset(ram + BUF_GPA, 0x77, BUF_SLOT);
	/* past the end, straddling it, overflowing the byte offset */
	CHECK(one(&v, VIRTIO_BLK_T_OUT, cap, 512, NULL) ==
	    VIRTIO_BLK_S_IOERR);
	CHECK(one(&v, VIRTIO_BLK_T_OUT, cap - 1, 1024, NULL) ==
	    VIRTIO_BLK_S_IOERR);
	CHECK(one(&v, VIRTIO_BLK_T_IN, cap + 1, 0, NULL) ==
	    VIRTIO_BLK_S_IOERR);
	CHECK(one(&v, VIRTIO_BLK_T_OUT, UINT64_MAX / 512 + 1, 512, NULL) ==
	    VIRTIO_BLK_S_IOERR);
	CHECK(one(&v, VIRTIO_BLK_T_IN, UINT64_MAX, 512, NULL) ==
	    VIRTIO_BLK_S_IOERR);
	/* not whole sectors */
	CHECK(one(&v, VIRTIO_BLK_T_OUT, 0, 100, NULL) == VIRTIO_BLK_S_IOERR);
	CHECK(one(&v, VIRTIO_BLK_T_IN, 0, 513, NULL) == VIRTIO_BLK_S_IOERR);
	/* unknown types, legacy ones included */
	CHECK(one(&v, 2, 0, 0, NULL) == VIRTIO_BLK_S_UNSUPP);
	CHECK(one(&v, 0x80000001, 0, 512, NULL) == VIRTIO_BLK_S_UNSUPP);
	CHECK(one(&v, 10, 0, 0, NULL) == VIRTIO_BLK_S_UNSUPP);
	/* a write with data in writable buffers */
	CHECK(one(&v, VIRTIO_BLK_T_GET_ID + 100, 0, 16, NULL) ==
	    VIRTIO_BLK_S_UNSUPP);
	put_hdr(HDR_GPA, VIRTIO_BLK_T_OUT, 0);
	head = add(&v, HDR_GPA, 16, 0, 1);
	add(&v, BUF_GPA, 512, 1, 1);
	ram[STATUS_GPA] = 0xee;
	add(&v, STATUS_GPA, 1, 1, 0);
	publish(&v, head);
	vioblk_kick(sc);
	CHECK(reap(&v, NULL) == head);
	CHECK(ram[STATUS_GPA] == VIRTIO_BLK_S_IOERR);
	/* a read with data in readable buffers */
	put_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 0);
	head = add(&v, HDR_GPA, 16, 0, 1);
	add(&v, BUF_GPA, 512, 0, 1);
	ram[STATUS_GPA] = 0xee;
	add(&v, STATUS_GPA, 1, 1, 0);
	publish(&v, head);
	vioblk_kick(sc);
	CHECK(reap(&v, NULL) == head);
	CHECK(ram[STATUS_GPA] == VIRTIO_BLK_S_IOERR);
	CHECK(image_read(path, DISK_FMT_RAW, 0, buf, 512) == 0);
	CHECK(buf[0] == pattern(0) && buf[300] == pattern(300));
	CHECK(image_read(path, DISK_FMT_RAW, DISK_SIZE - 512, buf, 512) ==
	    0);
	CHECK(buf[0] == pattern(DISK_SIZE - 512));
	CHECK(nerrors == 0);
	vioblk_free(sc);
	drv_stop(&v);

	/* a read-only disk: writes fail, nothing written; reads work */
	if ((d = open_disk(path, DISK_FMT_RAW, 1)) == NULL ||
	    (sc = new_dev(d, 0)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(drv_start(&v, sc, FEAT | VIRTIO_BLK_F_RO, 0) == 0);
	memset(ram + BUF_GPA, 0x77, BUF_SLOT);
	CHECK(one(&v, VIRTIO_BLK_T_OUT, 0, 512, NULL) == VIRTIO_BLK_S_IOERR);
	CHECK(one(&v, VIRTIO_BLK_T_IN, 0, 512, NULL) == VIRTIO_BLK_S_OK);
	CHECK(ram[BUF_GPA + 7] == pattern(7));
	CHECK(one(&v, VIRTIO_BLK_T_FLUSH, 0, 0, NULL) == VIRTIO_BLK_S_OK);
	CHECK(one(&v, VIRTIO_BLK_T_DISCARD, 0, 16, NULL) ==
	    VIRTIO_BLK_S_IOERR);
	CHECK(image_read(path, DISK_FMT_RAW, 0, buf, 512) == 0);
	CHECK(buf[0] == pattern(0));
	vioblk_free(sc);
	drv_stop(&v);
}

static void
put_range(uint64_t gpa, uint64_t sector, uint32_t n, uint32_t flags)
{
	memcpy(ram + gpa, &sector, 8);
	memcpy(ram + gpa + 8, &n, 4);
	memcpy(ram + gpa + 12, &flags, 4);
}

static int
all_zero(const uint8_t *p, size_t n)
{
	while (n-- > 0)
		if (*p++ != 0)
			return (0);
	return (1);
}

static void
dwz(enum disk_format fmt, const char *name)
{
	const char	*path = make_image(name, fmt);
	struct vioblk	*sc;
	struct disk	*d;
	struct drv	 v;
	uint8_t		*buf;
	uint64_t	 cap = DISK_SIZE / 512;

	buf = malloc(65536);
	if (path == NULL || (d = open_disk(path, fmt, 0)) == NULL ||
	    (sc = new_dev(d, 0)) == NULL) {
		CHECK(0);
		free(buf);
		return;
	}
	CHECK(drv_start(&v, sc, FEAT | VIRTIO_BLK_F_DISCARD |
	    VIRTIO_BLK_F_WRITE_ZEROES, 0) == 0);
	/* two ranges zeroed, one with unmap */
	put_range(BUF_GPA, 64, 8, 0);
	put_range(BUF_GPA + 16, 256, 128, VIRTIO_BLK_DWZ_UNMAP);
	CHECK(one(&v, VIRTIO_BLK_T_WRITE_ZEROES, 0, 32, NULL) ==
	    VIRTIO_BLK_S_OK);
	CHECK(image_read(path, fmt, 63 * 512, buf, 10 * 512) == 0);
	CHECK(buf[0] == pattern(63 * 512) && buf[511] == pattern(64 * 512 -
	    1));
	CHECK(all_zero(buf + 512, 8 * 512));
	CHECK(buf[9 * 512] == pattern(72 * 512));
	CHECK(image_read(path, fmt, 256 * 512, buf, 65536) == 0);
	CHECK(all_zero(buf, 65536));
	/* a discard is a hint: it must succeed and stay in range */
	put_range(BUF_GPA, 1024, 128, 0);
	CHECK(one(&v, VIRTIO_BLK_T_DISCARD, 0, 16, NULL) == VIRTIO_BLK_S_OK);
	CHECK(image_read(path, fmt, 1023 * 512, buf, 512) == 0);
	CHECK(buf[5] == pattern(1023 * 512 + 5));
	CHECK(image_read(path, fmt, 1152 * 512, buf, 512) == 0);
	CHECK(buf[5] == pattern(1152 * 512 + 5));

	/* unmap on a discard, unknown flags: unsupported */
	put_range(BUF_GPA, 2048, 8, VIRTIO_BLK_DWZ_UNMAP);
	CHECK(one(&v, VIRTIO_BLK_T_DISCARD, 0, 16, NULL) ==
	    VIRTIO_BLK_S_UNSUPP);
	put_range(BUF_GPA, 2048, 8, 0x2);
	CHECK(one(&v, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, NULL) ==
	    VIRTIO_BLK_S_UNSUPP);
	/* out of range, too long, overflowing; then nothing of it done */
	put_range(BUF_GPA, 2048, 8, 0);
	put_range(BUF_GPA + 16, cap - 4, 8, 0);
	CHECK(one(&v, VIRTIO_BLK_T_WRITE_ZEROES, 0, 32, NULL) ==
	    VIRTIO_BLK_S_IOERR);
	CHECK(image_read(path, fmt, 2048 * 512, buf, 512) == 0);
	CHECK(buf[0] == pattern(2048 * 512));
	put_range(BUF_GPA, 0, VIOBLK_DWZ_SECTORS + 1, 0);
	CHECK(one(&v, VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, NULL) ==
	    VIRTIO_BLK_S_IOERR);
	put_range(BUF_GPA, UINT64_MAX - 3, 8, 0);
	CHECK(one(&v, VIRTIO_BLK_T_DISCARD, 0, 16, NULL) ==
	    VIRTIO_BLK_S_IOERR);
	/* lengths: none, not whole ranges, more ranges than offered */
	CHECK(one(&v, VIRTIO_BLK_T_DISCARD, 0, 0, NULL) ==
	    VIRTIO_BLK_S_IOERR);
	CHECK(one(&v, VIRTIO_BLK_T_DISCARD, 0, 24, NULL) ==
	    VIRTIO_BLK_S_IOERR);
	memset(ram + BUF_GPA, 0, 16 * (VIOBLK_DWZ_SEG_MAX + 1));
	CHECK(one(&v, VIRTIO_BLK_T_WRITE_ZEROES, 0,
	    16 * (VIOBLK_DWZ_SEG_MAX + 1), NULL) == VIRTIO_BLK_S_IOERR);
	CHECK(one(&v, VIRTIO_BLK_T_WRITE_ZEROES, 0,
	    16 * VIOBLK_DWZ_SEG_MAX, NULL) == VIRTIO_BLK_S_OK);
	CHECK(nerrors == 0);
	vioblk_free(sc);
	drv_stop(&v);
	free(buf);
}

static void
test_raw_dwz(void)
{
	dwz(DISK_FMT_RAW, "dwz.raw");
}

static void
test_qcow2_dwz(void)
{
	dwz(DISK_FMT_QCOW2, "dwz.qcow2");
}

/* Chains the driver could not have meant: the queue breaks, once. */
static void
test_malformed(void)
{
	const char	*path = make_image("mal.raw", DISK_FMT_RAW);
	struct vioblk	*sc;
	struct disk	*d;
	struct drv	 v;
	struct virtq_state st;
	uint16_t	 head;

	if (path == NULL || (d = open_disk(path, DISK_FMT_RAW, 0)) == NULL ||
	    (sc = new_dev(d, 0)) == NULL) {
		CHECK(0);
		return;
	}
	/* no status byte: nothing writable */
	CHECK(drv_start(&v, sc, FEAT, 0) == 0);
	nerrors = 0;
	put_hdr(HDR_GPA, VIRTIO_BLK_T_OUT, 0);
	head = add(&v, HDR_GPA, 16, 0, 1);
	add(&v, BUF_GPA, 512, 0, 0);
	publish(&v, head);
	vioblk_kick(sc);
	CHECK(nerrors == 1);
	CHECK(strstr(why, "no status byte") != NULL);
	CHECK(reap(&v, NULL) == -1);
	CHECK(vioblk_queue_state(sc, &st) == -1);
	/* nothing more is taken, and no second report */
	submit(&v, VIRTIO_BLK_T_IN, 0, BUF_GPA, 512, STATUS_GPA);
	vioblk_kick(sc);
	CHECK(nerrors == 1);
	CHECK(reap(&v, NULL) == -1);

	/* a header of 15 bytes */
	CHECK(drv_start(&v, sc, FEAT, 0) == 0);
	nerrors = 0;
	head = add(&v, HDR_GPA, 15, 0, 1);
	add(&v, STATUS_GPA, 1, 1, 0);
	publish(&v, head);
	vioblk_kick(sc);
	CHECK(nerrors == 1);
	CHECK(strstr(why, "header") != NULL);

	/* a ring fault: next out of range, reported with the ring's words */
	CHECK(drv_start(&v, sc, FEAT, 0) == 0);
	nerrors = 0;
	head = add(&v, HDR_GPA, 16, 0, 1);
	v.desc[head].next = QSZ + 5;
	publish(&v, head);
	vioblk_kick(sc);
	CHECK(nerrors == 1);
	CHECK(strstr(why, "out of range") != NULL);

	/* more buffers than SEG_MAX allows */
	CHECK(drv_start(&v, sc, FEAT, 0) == 0);
	nerrors = 0;
	put_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 0);
	head = add(&v, HDR_GPA, 16, 0, 1);
	for (int i = 0; i < VIOBLK_SEG_MAX + 1; i++)
		add(&v, BUF_GPA + 512 * i, 512, 1, 1);
	add(&v, STATUS_GPA, 1, 1, 0);
	publish(&v, head);
	vioblk_kick(sc);
	CHECK(nerrors == 1);

	/* started again after a reset, it works */
	CHECK(drv_start(&v, sc, FEAT, 0) == 0);
	CHECK(one(&v, VIRTIO_BLK_T_IN, 0, 512, NULL) == VIRTIO_BLK_S_OK);
	CHECK(nerrors == 1);
	/* a queue the device has not: refused */
	memset(&st, 0, sizeof(st));
	st.index = 1;
	st.size = 8;
	CHECK(vioblk_queue_start(sc, &st, &(struct virtq_mem){ flat_ptr,
	    NULL }, why, sizeof(why)) == -1);
	vioblk_free(sc);
	drv_stop(&v);
	nerrors = 0;
}

/*
 * The driver's loop with I/O threads: kick by eventfd, wait for the
 * interrupt eventfd, reap.  Returns completions seen, -1 on a timeout.
 */
static int
drv_poll(struct drv *v, int ms, int *done, uint8_t *stat_ok)
{
	struct pollfd	 pfd[2];
	uint64_t	 n;
	int		 id;

	pfd[0].fd = v->kickfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = v->callfd;
	pfd[1].events = POLLIN;
	if (poll(pfd, 2, ms) == -1)
		return (-1);
	if (pfd[0].revents & POLLIN) {
		(void)read(v->kickfd, &n, sizeof(n));
		vioblk_kick(v->sc);
	}
	if ((pfd[1].revents & POLLIN) &&
	    read(v->callfd, &n, sizeof(n)) == sizeof(n))
		irqs += n;
	while ((id = reap(v, NULL)) != -1) {
		(*done)++;
		if (ram[STATUS_GPA + id % QSZ] != VIRTIO_BLK_S_OK)
			*stat_ok = 0;
	}
	/* EVENT_IDX: interrupt me for the next one (used_event) */
	__atomic_store_n(&v->avail->ring[QSZ], v->last_used,
	    __ATOMIC_RELEASE);
	return (0);
}

/*
 * Threads: every descriptor slot of the queue in flight (far more than
 * the engine's slots), random reads and writes to distinct places, all
 * completed, what was written there, what was read right.
 */
static void
threads_load(enum disk_format fmt, const char *name, uint64_t feat)
{
	const char	*path = make_image(name, fmt);
	struct vioblk	*sc;
	struct disk	*d;
	struct drv	 v;
	uint8_t		 buf[BUF_SLOT], stat_ok = 1;
	uint64_t	 sector[QSZ / 4];
	uint16_t	 before;
	int		 wrote[QSZ / 4], i, j, done = 0, rounds, ok = 1;

	if (path == NULL || (d = open_disk(path, fmt, 0)) == NULL ||
	    (sc = new_dev(d, VIOBLK_THREADS)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(drv_start(&v, sc, feat, 1) == 0);
	for (rounds = 0; rounds < 4; rounds++) {
		done = 0;
		irqs = 0;
		/* 64 requests of 3 descriptors: 192 of 256 ring entries */
		v.next_desc = 0;
		for (i = 0; i < QSZ / 4; i++) {
			sector[i] = (uint64_t)i * (BUF_SLOT / 512) +
			    rnd() % 2;
			wrote[i] = rnd() % 2;
			if (wrote[i])
				for (j = 0; j < BUF_SLOT; j++)
					ram[BUF_GPA + i * BUF_SLOT + j] =
					    (uint8_t)(j * rounds + i);
			else
				memset(ram + BUF_GPA + i * BUF_SLOT, 0,
				    BUF_SLOT);
			/* status at STATUS_GPA + head, head = 3 * i */
			put_hdr(HDR_GPA + i * 16, wrote[i] ?
			    VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, sector[i]);
			add(&v, HDR_GPA + i * 16, 16, 0, 1);
			add(&v, BUF_GPA + i * BUF_SLOT, BUF_SLOT - 512,
			    !wrote[i], 1);
			ram[STATUS_GPA + i * 3] = 0xee;
			add(&v, STATUS_GPA + i * 3, 1, 1, 0);
			publish(&v, i * 3);
		}
		/* half now, half as the kicks come */
		vioblk_kick(sc);
		/* short waits: a timeout only shows when all are lost */
		for (i = 0; done < QSZ / 4 && i < 1000; i++)
			if (drv_poll(&v, 10, &done, &stat_ok) == -1)
				break;
		CHECK(done == QSZ / 4);
		CHECK(stat_ok);
		/* they came by interrupt, not only by the driver looking */
		CHECK(irqs > 0);
		for (i = 0; i < QSZ / 4; i++) {
			if (wrote[i]) {
				if (image_read(path, fmt, sector[i] * 512,
				    buf, BUF_SLOT - 512) == -1 ||
				    memcmp(buf, ram + BUF_GPA + i * BUF_SLOT,
				    BUF_SLOT - 512) != 0)
					ok = 0;
			} else if (image_read(path, fmt, sector[i] * 512, buf,
			    BUF_SLOT - 512) == -1 || memcmp(buf, ram +
			    BUF_GPA + i * BUF_SLOT, BUF_SLOT - 512) != 0)
				ok = 0;
		}
		CHECK(ok);
	}
	/* a reset with requests in flight waits for them */
	before = __atomic_load_n(&v.used->idx, __ATOMIC_ACQUIRE);
	v.next_desc = 0;
	for (i = 0; i < 32; i++) {
		put_hdr(HDR_GPA + i * 16, VIRTIO_BLK_T_IN, i);
		add(&v, HDR_GPA + i * 16, 16, 0, 1);
		add(&v, BUF_GPA + i * BUF_SLOT, 4096, 1, 1);
		ram[STATUS_GPA + i * 3] = 0xee;
		add(&v, STATUS_GPA + i * 3, 1, 1, 0);
		publish(&v, i * 3);
	}
	vioblk_kick(sc);
	vioblk_reset(sc);
	/* whatever was taken is complete and stays so */
	for (i = 0, j = 0; i < 32; i++)
		if (ram[STATUS_GPA + i * 3] == VIRTIO_BLK_S_OK)
			j++;
	CHECK(j == (uint16_t)(__atomic_load_n(&v.used->idx,
	    __ATOMIC_ACQUIRE) - before));
	usleep(20000);
	CHECK(j == (uint16_t)(__atomic_load_n(&v.used->idx,
	    __ATOMIC_ACQUIRE) - before));
	CHECK(nerrors == 0);
	vioblk_free(sc);
	drv_stop(&v);
}

static void
test_threads_raw(void)
{
	threads_load(DISK_FMT_RAW, "thr.raw", FEAT | VIRTIO_F_EVENT_IDX);
}

static void
test_threads_qcow2(void)
{
	threads_load(DISK_FMT_QCOW2, "thr.qcow2", FEAT);
}

/* A driver without FLUSH: each write synced before it completes. */
static void
test_writethrough(void)
{
	threads_load(DISK_FMT_QCOW2, "wt.qcow2", FEAT & ~VIRTIO_BLK_F_FLUSH);
}

/* Pause waits for the queue to be idle and takes nothing until resume. */
static void
test_pause(void)
{
	const char	*path = make_image("pause.raw", DISK_FMT_RAW);
	struct vioblk	*sc;
	struct disk	*d;
	struct drv	 v;
	struct virtq_state st;
	uint8_t		 ok = 1;
	int		 done = 0, i;

	if (path == NULL || (d = open_disk(path, DISK_FMT_RAW, 0)) == NULL ||
	    (sc = new_dev(d, 2)) == NULL) {
		CHECK(0);
		return;
	}
	CHECK(drv_start(&v, sc, FEAT, 1) == 0);
	vioblk_pause(sc);
	submit(&v, VIRTIO_BLK_T_IN, 0, BUF_GPA, 512, STATUS_GPA);
	vioblk_kick(sc);
	usleep(20000);
	CHECK(reap(&v, NULL) == -1);
	CHECK(vioblk_queue_state(sc, &st) == 0);
	CHECK(st.last_avail == 0 && st.used_idx == 0);
	vioblk_resume(sc);
	for (i = 0; done < 1 && i < 1000; i++)
		if (drv_poll(&v, 10, &done, &ok) == -1)
			break;
	CHECK(done == 1 && ok);
	CHECK(vioblk_queue_state(sc, &st) == 0);
	CHECK(st.last_avail == 1 && st.used_idx == 1);
	vioblk_free(sc);
	drv_stop(&v);
}

static void
cleanup(void)
{
	char		 path[512];
	struct dirent	*de;
	DIR		*dp;

	if ((dp = opendir(dir)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		(void)unlink(path);
	}
	closedir(dp);
	(void)rmdir(dir);
}

int
main(void)
{
	if ((ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED ||
	    mkdtemp(dir) == NULL) {
		printf("FAIL setup: %s\n", strerror(errno));
		return (1);
	}
	RUN(test_config);
	RUN(test_raw_io);
	RUN(test_qcow2_io);
	RUN(test_framing);
	RUN(test_bad_requests);
	RUN(test_raw_dwz);
	RUN(test_qcow2_dwz);
	RUN(test_malformed);
	RUN(test_threads_raw);
	RUN(test_threads_qcow2);
	RUN(test_writethrough);
	RUN(test_pause);
	cleanup();
	TEST_EXIT();
}
