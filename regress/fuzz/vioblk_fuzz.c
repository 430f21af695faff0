/*
 * vioblk_fuzz.c: libFuzzer target for the virtio-blk request engine
 * (vioblk.c) with the ring code under it (virtq.c) and a small disk: the
 * input is guest RAM, descriptors, rings, request headers, data and all,
 * and the device runs its queue over it, without threads, as a hostile
 * driver would have it.  The first byte chooses the setting: bit 0 a
 * qcow2 image (else raw), bit 1 read-only, bit 2 EVENT_IDX, bit 3 FLUSH
 * not negotiated (writes synced one by one), bit 4 INDIRECT_DESC, bits
 * 5-7 the number of kicks.  Beyond the sanitizers it aborts when the
 * device gives back a descriptor outside the queue or more chains at
 * once than the queue holds.  The disk lives in a memfd.
 *
 * Build: make regress/fuzz/vioblk_fuzzer
 * Run:   regress/fuzz/vioblk_fuzzer -max_total_time=300 regress/fuzz/corpus/vioblk
 */

#include <sys/mman.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "vioblk.h"

#define RAM_SIZE	(64 * 1024)
#define QSZ		16
#define DESC_GPA	0x0000
#define AVAIL_GPA	0x0100
#define USED_GPA	0x0200
#define DISK_BYTES	(64 * 1024)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The library's warnings, compiled to this (see the Makefile). */
void
fuzz_log(const char *fmt, ...)
{
}

static uint8_t	*ram;
static int	 broke;

static void *
ram_ptr(void *arg, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return (NULL);
	return (ram + gpa);
}

static void
on_error(void *arg, uint16_t q, const char *why)
{
	broke++;
}

/* A disk of DISK_BYTES with a pattern at 8 KiB, opened as asked. */
static struct disk *
make_disk(int qcow2, int rdonly)
{
	enum disk_format fmt = qcow2 ? DISK_FMT_QCOW2 : DISK_FMT_RAW;
	char		 err[DISK_ERR_MAX];
	uint8_t		 pat[4096];
	struct disk	*d;
	struct iovec	 iov = { pat, sizeof(pat) };
	int		 fd, wfd, i;

	if ((fd = memfd_create("vioblk_fuzz", MFD_CLOEXEC)) == -1)
		abort();
	if (qcow2) {
		if (qcow2_create(fd, DISK_BYTES, 12, NULL, 0, err,
		    sizeof(err)) == -1)
			abort();
	} else if (ftruncate(fd, DISK_BYTES) == -1)
		abort();
	if ((wfd = dup(fd)) == -1 || (d = disk_open(fmt, &wfd, 1, 0,
	    DISK_CACHE_MIN, err, sizeof(err))) == NULL)
		abort();
	for (i = 0; i < (int)sizeof(pat); i++)
		pat[i] = (uint8_t)i;
	(void)disk_pwritev(d, &iov, 1, 8192);
	disk_close(d);
	if ((d = disk_open(fmt, &fd, 1, rdonly ? DISK_RDONLY : 0,
	    DISK_CACHE_MIN, err, sizeof(err))) == NULL)
		abort();
	return (d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq_state st;
	struct virtq_mem mem = { ram_ptr, NULL };
	struct virtq_used *used;
	struct virtq_avail *avail;
	struct vioblk	*sc;
	struct disk	*d;
	char		 err[256];
	uint16_t	 seen, avail_idx, i, id;
	int		 flags, kicks, k;

	if (size < 1)
		return (0);
	if (ram == NULL && (ram = malloc(RAM_SIZE)) == NULL)
		abort();
	flags = data[0];
	memset(ram, 0, RAM_SIZE);
	memcpy(ram, data + 1, size - 1 < RAM_SIZE ? size - 1 : RAM_SIZE);

	d = make_disk(flags & 1, flags & 2);
	if ((sc = vioblk_new(d, 0, 0, "fuzz", on_error, NULL, err,
	    sizeof(err))) == NULL)
		abort();
	memset(&st, 0, sizeof(st));
	st.desc = DESC_GPA;
	st.avail = AVAIL_GPA;
	st.used = USED_GPA;
	st.size = QSZ;
	st.kickfd = st.callfd = -1;
	st.features = VIRTIO_F_VERSION_1 | vioblk_features(sc);
	if (flags & 4)
		st.features |= VIRTIO_F_EVENT_IDX;
	if (flags & 8)
		st.features &= ~VIRTIO_BLK_F_FLUSH;
	if (flags & 16)
		st.features |= VIRTIO_F_INDIRECT_DESC;
	broke = 0;
	if (vioblk_queue_start(sc, &st, &mem, err, sizeof(err)) == -1)
		abort();
	used = (struct virtq_used *)(ram + USED_GPA);
	memset(used, 0, VIRTQ_USED_BYTES(QSZ));
	avail = (struct virtq_avail *)(ram + AVAIL_GPA);
	kicks = 1 + ((flags >> 5) & 7);
	seen = 0;
	for (k = 0; k < kicks; k++) {
		avail_idx = avail->idx;
		vioblk_kick(sc);
		/* what came back must be what was made available */
		for (i = seen; i != used->idx; i++) {
			id = used->ring[i % QSZ].id;
			if (id >= QSZ)
				abort();
		}
		if ((uint16_t)(used->idx - seen) > QSZ)
			abort();
		seen = used->idx;
		/* the next round: more chains, as a driver would */
		avail->idx = avail_idx + (uint16_t)(k + 1);
	}
	vioblk_free(sc);
	return (0);
}
