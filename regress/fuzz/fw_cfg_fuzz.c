/*
 * fw_cfg_fuzz.c: libFuzzer target for the fw_cfg device.  The input is a
 * guest's program: each step selects an item, reads the data port, or
 * writes a DMA request (control, length, address, all from the input)
 * into a 4 MiB fake guest RAM and starts it.  The device must never
 * touch memory outside that RAM (ASan watches it) or abort.
 */

#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev.h"
#include "fw_cfg.h"
#include "vm.h"

#define FUZZ_RAM	(4ULL << 20)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct vm_mem	 mem;
static struct devices	 set;
static struct dev_host	 host;
static struct device	*fw;

static void
setup(void)
{
	struct dev_attach_args a = { .fd = -1, .fd2 = -1 };
	static const uint8_t e820[40] = { 0 };
	void	*p;

	p = mmap(NULL, FUZZ_RAM, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		abort();
	mem.ram = p;
	mem.memsize = FUZZ_RAM;
	mem.fd = -1;
	dev_init(&set, &host);
	if ((fw = dev_attach(&set, &fw_cfg_devsw, &a)) == NULL)
		abort();
	fw_cfg_set_mem(fw, &mem);
	if (fw_cfg_add_file(fw, "etc/e820", e820, sizeof(e820)) == -1 ||
	    fw_cfg_add_file(fw, "bootorder", "", 0) == -1 ||
	    fw_cfg_add_item(fw, FW_CFG_NB_CPUS, "\1\0", 2) == -1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	uint8_t	 b[16];
	uint64_t req;
	size_t	 i = 0;

	if (fw == NULL)
		setup();
	while (i < n) {
		switch (d[i++] % 3) {
		case 0:			/* select */
			if (n - i < 2)
				return (0);
			memcpy(b, d + i, 2);
			i += 2;
			dev_io(&set, DEV_SPACE_IO, FW_CFG_PORT_SEL, 2, b, 1);
			break;
		case 1:			/* read data */
			dev_io(&set, DEV_SPACE_IO, FW_CFG_PORT_DATA, 1, b, 0);
			break;
		case 2:			/* DMA: 4-byte request address, 16 bytes */
			if (n - i < 20)
				return (0);
			memcpy(b, d + i, 4);
			req = (uint64_t)(b[0] | b[1] << 8 | b[2] << 16 |
			    (uint32_t)b[3] << 24) % (FUZZ_RAM + 64);
			if (req + 16 <= FUZZ_RAM)
				memcpy(mem.ram + req, d + i + 4, 16);
			i += 20;
			b[0] = b[1] = b[2] = b[3] = 0;
			dev_io(&set, DEV_SPACE_IO, FW_CFG_PORT_DMA, 4, b, 1);
			b[0] = req >> 24;
			b[1] = req >> 16;
			b[2] = req >> 8;
			b[3] = req;
			dev_io(&set, DEV_SPACE_IO, FW_CFG_PORT_DMA + 4, 4, b, 1);
			break;
		}
	}
	return (0);
}
