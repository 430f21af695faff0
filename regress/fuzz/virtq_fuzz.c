/*
 * virtq_fuzz.c: libFuzzer target for the split-virtqueue code in virtq.c.
 * An input is a 16-byte header (queue size, negotiated features, where
 * the three rings lie, the device's starting indices, how many buffers a
 * chain may have) followed by the image of a 64 KiB guest RAM holding
 * whatever rings and descriptors the fuzzer makes up.  The target runs
 * the queue as a device would: pop, read every readable byte, write every
 * writable one, push, decide on interrupts, toggle notifications, until
 * the queue is empty or broken.  The RAM is a heap block of exactly its
 * size, so ASan sees any access outside it; no input may crash, hang or
 * leak.  Build with "make fuzz"; run longer with
 *
 *   regress/fuzz/virtq_fuzzer -max_total_time=600 regress/fuzz/corpus/virtq
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtq.h"

#define FUZZ_RAM	(64 * 1024)
#define FUZZ_HDR	16
#define FUZZ_MAX_IOV	64

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint8_t	*ram;

static void *
fuzz_ptr(void *arg, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa >= FUZZ_RAM || len > FUZZ_RAM - gpa)
		return (NULL);
	return (ram + gpa);
}

static uint16_t
get16(const uint8_t *p)
{
	return (p[0] | p[1] << 8);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct virtq_mem mem = { fuzz_ptr, NULL };
	struct virtq_state st;
	struct virtq	 vq;
	struct virtq_chain c;
	struct iovec	 iov[FUZZ_MAX_IOV];
	uint8_t		 scratch[256];
	size_t		 off, n;
	int		 i, rv;

	if (size < FUZZ_HDR)
		return (0);
	if (ram == NULL && (ram = malloc(FUZZ_RAM)) == NULL)
		abort();
	memset(ram, 0, FUZZ_RAM);
	n = size - FUZZ_HDR > FUZZ_RAM ? FUZZ_RAM : size - FUZZ_HDR;
	memcpy(ram, data + FUZZ_HDR, n);

	memset(&st, 0, sizeof(st));
	st.size = 1U << (data[0] % 10);		/* 1 to 512, or bad: */
	if (data[0] >= 250)
		st.size = get16(data + 14);	/* anything at all */
	st.features = (data[1] & 1 ? VIRTIO_F_INDIRECT_DESC : 0) |
	    (data[1] & 2 ? VIRTIO_F_EVENT_IDX : 0) | VIRTIO_F_VERSION_1;
	/* ring addresses: any 16-bit value, scaled, so some are misaligned */
	st.desc = (uint64_t)get16(data + 2) * (data[1] & 4 ? 1 : 16);
	st.avail = (uint64_t)get16(data + 4) * (data[1] & 8 ? 1 : 2);
	st.used = (uint64_t)get16(data + 6) * (data[1] & 16 ? 1 : 4);
	if (data[1] & 32)
		st.desc |= 0xffffffff00000000ULL;	/* far away */
	st.last_avail = st.used_idx = get16(data + 8);
	st.kickfd = st.callfd = -1;
	c.iov = iov;
	c.max = 1 + data[10] % FUZZ_MAX_IOV;

	if (virtq_init(&vq, &st, &mem) == -1)
		return (0);
	/* a queue is never longer than its size in chains; allow slack */
	for (i = 0; i < 2 * (int)st.size + 2; i++) {
		if (i % 3 == 0)
			virtq_notify_off(&vq);
		rv = virtq_pop(&vq, &c);
		if (rv != 1) {
			if (rv == 0)
				virtq_notify_on(&vq);
			break;
		}
		for (off = 0; off < c.rlen; off += sizeof(scratch))
			virtq_chain_read(&c, off, scratch, sizeof(scratch));
		memset(scratch, data[11], sizeof(scratch));
		for (off = 0; off < c.wlen && off < 4 * FUZZ_RAM;
		    off += sizeof(scratch))
			virtq_chain_write(&c, off, scratch, sizeof(scratch));
		virtq_push(&vq, c.head, c.wlen);
		if (data[12] & 1)
			virtq_interrupt(&vq);
		if (i % 3 == 2 && virtq_notify_on(&vq) == 0)
			break;
	}
	virtq_need_interrupt(&vq);
	virtq_push(&vq, get16(data + 12), 0);	/* a device bug: any head */
	return (0);
}
