/*
 * qcow2_fuzz.c: libFuzzer target for the qcow2 code (vioqcow2.c and
 * disk.c): an image from the input is opened and then driven by a
 * short script of reads, writes, zeroings, discards, flushes and status
 * queries, also from the input.  The first byte chooses the layout:
 * bit 0 opens read-only, bit 1 puts the image under a fresh overlay (so
 * it is read as a backing file), bits 4-6 give the number of 8-byte ops
 * at the end of the input.  Beyond the sanitizers it aborts when a read
 * returns a length it did not ask for.  It never touches a file: the
 * images live in memfds.
 *
 * Build: make regress/fuzz/qcow2_fuzzer
 * Run:   regress/fuzz/qcow2_fuzzer -max_total_time=300 regress/fuzz/corpus/qcow2
 */

#include <sys/mman.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"

#define OPS_MAX		8
#define IO_MAX		(128 * 1024)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The library's warnings, compiled to this (see the Makefile). */
void
fuzz_log(const char *fmt, ...)
{
}

static uint8_t	 buf[IO_MAX];

static int
memfd(const uint8_t *p, size_t n)
{
	int		 fd = memfd_create("qcow2_fuzz", MFD_CLOEXEC);

	if (fd == -1)
		abort();
	if (n > 0 && write(fd, p, n) != (ssize_t)n)
		abort();
	return (fd);
}

static void
run_ops(struct disk *d, const uint8_t *ops, size_t nops)
{
	struct iovec	 iov[2];
	uint64_t	 size = disk_size(d), off, len, pnum;
	size_t		 i;
	ssize_t		 r;

	for (i = 0; i < nops; i++) {
		const uint8_t *o = ops + i * 8;

		if (size == 0)
			return;
		off = ((uint64_t)o[1] << 24 | (uint64_t)o[2] << 16 |
		    (uint64_t)o[3] << 8 | o[4]) * 512 % size;
		len = ((uint64_t)o[5] << 16 | (uint64_t)o[6] << 8 | o[7]) %
		    IO_MAX + 1;
		if (len > size - off)
			len = size - off;
		iov[0].iov_base = buf;
		iov[0].iov_len = len / 3;
		iov[1].iov_base = buf + len / 3;
		iov[1].iov_len = len - len / 3;
		switch (o[0] % 7) {
		case 0:
		case 1:
			r = disk_preadv(d, iov, 2, off);
			if (r != -1 && (uint64_t)r != len)
				abort();
			break;
		case 2:
		case 3:
			memset(buf, o[0], len);
			(void)disk_pwritev(d, iov, 2, off);
			break;
		case 4:
			(void)disk_write_zeroes(d, off, len, o[0] & 8);
			break;
		case 5:
			(void)disk_discard(d, off, len);
			break;
		default:
			(void)disk_flush(d);
			(void)disk_status(d, off, len, &pnum);
			break;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct disk	*d;
	char		 err[DISK_ERR_MAX];
	size_t		 nops;
	int		 fds[2], flags, n = 1;
	uint64_t	 vsize;

	if (size < 2)
		return (0);
	flags = data[0];
	nops = (size_t)((flags >> 4) & 7);
	if (nops > OPS_MAX || size < 1 + nops * 8)
		nops = 0;
	fds[0] = memfd(data + 1, size - 1 - nops * 8);
	if (flags & 2) {
		/* the input as a backing file of a fresh overlay */
		if (disk_image_size(fds[0], DISK_FMT_QCOW2, &vsize, err,
		    sizeof(err)) == -1) {
			close(fds[0]);
			return (0);
		}
		fds[1] = fds[0];
		fds[0] = memfd(NULL, 0);
		if (qcow2_create(fds[0], vsize > (1ULL << 40) ? 1ULL << 40 :
		    vsize, 16, "base", DISK_FMT_QCOW2, err,
		    sizeof(err)) == -1) {
			close(fds[0]);
			close(fds[1]);
			return (0);
		}
		n = 2;
	}
	d = disk_open(DISK_FMT_QCOW2, fds, (size_t)n,
	    (flags & 1) ? DISK_RDONLY : 0, DISK_CACHE_MIN, err, sizeof(err));
	if (d == NULL) {
		close(fds[0]);
		if (n == 2)
			close(fds[1]);
		return (0);
	}
	run_ops(d, data + size - nops * 8, nops);
	disk_close(d);
	return (0);
}
