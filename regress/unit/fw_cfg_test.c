/*
 * fw_cfg_test.c: unit tests of the fw_cfg device as firmware drives it:
 * signature and feature ID through the selector and data ports, the file
 * directory, reads past an item's end, the DMA interface (select, read,
 * skip, the refused write, hostile addresses and lengths), and the ACPI
 * linker/loader script, which is run here as SeaBIOS runs it to check
 * that the tables it produces are the ones vmd places itself, and the
 * boot order SeaBIOS reads for each boot device.
 */

#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "dev.h"
#include "fw_cfg.h"
#include "vm.h"
#include "regress/test.h"

#define GUEST_RAM	(8ULL << 20)
#define REQ		0x8000ULL	/* a DMA request */
#define BUF		0x9000ULL

static struct vm_mem	 mem;
static struct devices	 set;
static struct dev_host	 host;
static struct device	*fw;

static void
out16(uint16_t port, uint16_t v)
{
	uint8_t	 d[2] = { v, v >> 8 };

	dev_io(&set, DEV_SPACE_IO, port, 2, d, 1);
}

static void
out32(uint16_t port, uint32_t v)
{
	uint8_t	 d[4] = { v, v >> 8, v >> 16, v >> 24 };

	dev_io(&set, DEV_SPACE_IO, port, 4, d, 1);
}

static uint8_t
in8(uint16_t port)
{
	uint8_t	 d = 0;

	dev_io(&set, DEV_SPACE_IO, port, 1, &d, 0);
	return (d);
}

static void
read_item(uint16_t key, uint8_t *buf, size_t n)
{
	size_t	 i;

	out16(FW_CFG_PORT_SEL, key);
	for (i = 0; i < n; i++)
		buf[i] = in8(FW_CFG_PORT_DATA);
}

static uint32_t
be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]);
}

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* One DMA request at REQ; returns the control word written back. */
static uint32_t
dma(uint32_t ctl, uint32_t len, uint64_t addr)
{
	uint8_t	*r = mem.ram + REQ;

	put_be(r, ctl, 4);
	put_be(r + 4, len, 4);
	put_be(r + 8, addr, 8);
	/* the port is big-endian: the bytes go out high first */
	out32(FW_CFG_PORT_DMA, 0);
	out32(FW_CFG_PORT_DMA + 4, __builtin_bswap32((uint32_t)REQ));
	return (be32(r));
}

/* Find a file in the directory: its selector and size. */
static int
find_file(const char *name, uint16_t *key, uint32_t *size)
{
	uint8_t	 cnt[4], e[64];
	uint32_t n, i;

	read_item(FW_CFG_FILE_DIR, cnt, 4);
	n = be32(cnt);
	for (i = 0; i < n; i++) {
		for (size_t k = 0; k < 64; k++)
			e[k] = in8(FW_CFG_PORT_DATA);
		if (strcmp((char *)e + 8, name) == 0) {
			*size = be32(e);
			*key = (uint16_t)(e[4] << 8 | e[5]);
			return (0);
		}
	}
	return (-1);
}

static void
test_ports(void)
{
	uint8_t	 b[8];

	read_item(FW_CFG_SIGNATURE, b, 4);
	CHECK(memcmp(b, "QEMU", 4) == 0);
	read_item(FW_CFG_ID, b, 4);
	CHECK(b[0] == 3 && b[1] == 0);		/* traditional + DMA */
	/* the DMA port reads back its signature */
	for (int i = 0; i < 8; i++)
		b[i] = in8(FW_CFG_PORT_DMA + i);
	CHECK(memcmp(b, "QEMU CFG", 8) == 0);
	/* an unknown item reads as zeros, never as stale data */
	read_item(0x1234, b, 4);
	CHECK(b[0] == 0 && b[3] == 0);
	/* reserved keys cannot be replaced */
	CHECK(fw_cfg_add_item(fw, FW_CFG_SIGNATURE, "XXXX", 4) == -1);
	CHECK(fw_cfg_add_item(fw, FW_CFG_FILE_DIR, "XXXX", 4) == -1);
	CHECK(fw_cfg_add_file(fw, "", "x", 1) == -1);
	CHECK(fw_cfg_add_file(fw, "a-name-that-is-much-too-long-for-the-"
	    "fifty-six-bytes-fw_cfg-allows", "x", 1) == -1);
}

static void
test_files(void)
{
	uint8_t		 b[16];
	uint16_t	 key, key2;
	uint32_t	 size;

	CHECK(fw_cfg_add_file(fw, "etc/one", "hello", 5) == 0);
	CHECK(fw_cfg_add_file(fw, "etc/two", "world!", 6) == 0);
	CHECK(find_file("etc/one", &key, &size) == 0 && size == 5);
	CHECK(key >= FW_CFG_FILE_FIRST);
	read_item(key, b, 8);
	CHECK(memcmp(b, "hello\0\0\0", 8) == 0);	/* zeros past the end */
	/* replacing keeps the selector */
	CHECK(fw_cfg_add_file(fw, "etc/one", "HELLO!!", 7) == 0);
	CHECK(find_file("etc/one", &key2, &size) == 0 && key2 == key &&
	    size == 7);
	read_item(key, b, 7);
	CHECK(memcmp(b, "HELLO!!", 7) == 0);
	CHECK(find_file("etc/two", &key2, &size) == 0 && key2 != key);
	CHECK(find_file("etc/three", &key2, &size) == -1);
	/* numbered items */
	CHECK(fw_cfg_add_item(fw, FW_CFG_NB_CPUS, "\x02\x00", 2) == 0);
	read_item(FW_CFG_NB_CPUS, b, 2);
	CHECK(b[0] == 2 && b[1] == 0);
}

static void
test_dma(void)
{
	uint16_t	 key;
	uint32_t	 size;

	CHECK(find_file("etc/two", &key, &size) == 0);
	memset(mem.ram + BUF, 0xaa, 16);
	/* select and read, past the end: zeros */
	CHECK(dma((uint32_t)key << 16 | 0x08 | 0x02, 8, BUF) == 0);
	CHECK(memcmp(mem.ram + BUF, "world!\0\0", 8) == 0);
	CHECK(mem.ram[BUF + 8] == 0xaa);
	/* skip, then read the rest */
	CHECK(dma((uint32_t)key << 16 | 0x08 | 0x04, 2, 0) == 0);
	CHECK(dma(0x02, 4, BUF) == 0);
	CHECK(memcmp(mem.ram + BUF, "rld!", 4) == 0);
	/* into the BIOS area firmware lives in */
	CHECK(dma((uint32_t)key << 16 | 0x08 | 0x02, 6, 0xf0000) == 0);
	CHECK(memcmp(mem.ram + 0xf0000, "world!", 6) == 0);
	/* writes are refused with the error bit */
	CHECK(dma((uint32_t)key << 16 | 0x08 | 0x10, 4, BUF) == 1);
	/* hostile destinations: error, nothing written */
	CHECK(dma((uint32_t)key << 16 | 0x08 | 0x02, 16, GUEST_RAM - 8) == 1);
	CHECK(dma((uint32_t)key << 16 | 0x08 | 0x02, 0xffffffff, BUF) == 1);
	CHECK(dma((uint32_t)key << 16 | 0x08 | 0x02, 16,
	    UINT64_MAX - 4) == 1);
	CHECK(dma((uint32_t)key << 16 | 0x08 | 0x02, 16, 0xfec00000) == 1);
	/* a request outside guest RAM is ignored, nothing to write back */
	out32(FW_CFG_PORT_DMA, __builtin_bswap32(1));
	out32(FW_CFG_PORT_DMA + 4, 0);
	CHECK(dma(0x02, 0, BUF) == 0);		/* still works after */
}

/* SeaBIOS's romfile-loader, in short: allocate, add pointers, sums. */
struct lfile {
	char		 name[56];
	uint8_t		*data;
	uint32_t	 size;
	uint64_t	 gpa;
};

static struct lfile *
lfind(struct lfile *f, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strncmp(f[i].name, name, 56) == 0)
			return (&f[i]);
	return (NULL);
}

static void
test_acpi_loader(void)
{
	struct acpi_build *ab = malloc(sizeof(*ab));
	struct lfile	 f[2];
	struct lfile	*d, *s;
	uint8_t		*script, *c, sum;
	uint16_t	 key;
	uint32_t	 size, slen, off, start, len, align;
	uint64_t	 p, next = 0x7f00000;
	int		 nf = 0, ok = 1;

	CHECK(ab != NULL && acpi_tables_build(ab, 2) == 0);
	CHECK(fw_cfg_add_acpi(fw, ab) == 0);
	CHECK(find_file("etc/table-loader", &key, &size) == 0);
	CHECK(size % 128 == 0 && size / 128 == 2 + ab->nptr + ab->nsum);
	slen = size;
	script = malloc(slen);
	read_item(key, script, slen);
	for (c = script; c < script + slen; c += 128) {
		switch (c[0]) {
		case 1:				/* ALLOCATE */
			memcpy(&align, c + 60, 4);
			CHECK(nf < 2 && find_file((char *)c + 4, &key,
			    &size) == 0);
			memcpy(f[nf].name, c + 4, 56);
			f[nf].size = size;
			f[nf].data = malloc(size);
			read_item(key, f[nf].data, size);
			/* FSEG for the RSDP, high memory for the rest */
			if (c[64] == 2) {
				CHECK(align == 16);
				f[nf].gpa = 0xf5a10;
			} else {
				CHECK(c[64] == 1 && align == 64);
				f[nf].gpa = next;
			}
			nf++;
			break;
		case 2:				/* ADD_POINTER */
			d = lfind(f, nf, (char *)c + 4);
			s = lfind(f, nf, (char *)c + 60);
			memcpy(&off, c + 116, 4);
			CHECK(d != NULL && s != NULL && off + c[120] <= d->size);
			if (d == NULL || s == NULL)
				break;
			p = 0;
			memcpy(&p, d->data + off, c[120]);
			p += s->gpa;
			memcpy(d->data + off, &p, c[120]);
			break;
		case 3:				/* ADD_CHECKSUM */
			d = lfind(f, nf, (char *)c + 4);
			memcpy(&off, c + 60, 4);
			memcpy(&start, c + 64, 4);
			memcpy(&len, c + 68, 4);
			CHECK(d != NULL && start + len <= d->size);
			if (d == NULL)
				break;
			sum = 0;
			for (uint32_t i = start; i < start + len; i++)
				sum += d->data[i];
			d->data[off] -= sum;
			break;
		default:
			ok = 0;
		}
	}
	CHECK(ok && nf == 2);
	/* the result is what vmd places itself at the same addresses */
	{
		static uint8_t rs[ACPI_RSDP_LEN], tb[ACPI_TABLES_MAX];

		acpi_tables_place(ab, rs, 0xf5a10, tb, next);
		s = lfind(f, nf, "etc/acpi/rsdp");
		d = lfind(f, nf, "etc/acpi/tables");
		CHECK(s != NULL && d != NULL);
		if (s != NULL && d != NULL) {
			CHECK(memcmp(s->data, rs, ACPI_RSDP_LEN) == 0);
			CHECK(d->size == ab->tables_len &&
			    memcmp(d->data, tb, ab->tables_len) == 0);
		}
	}
	for (int i = 0; i < nf; i++)
		free(f[i].data);
	free(script);
	free(ab);
}

/* SeaBIOS's boot order for each boot device, and a buffer too small. */
static void
test_bootorder(void)
{
	static const uint8_t	 disks[] = { 5, 6 };
	char			 b[256];

	CHECK(fw_cfg_bootorder(b, sizeof(b), FW_CFG_BOOT_AUTO, disks, 2, 9) ==
	    (int)strlen(b) && strcmp(b, "/pci@i0cf8/*@5\n/pci@i0cf8/*@6\n"
	    "/pci@i0cf8/*@9/*@0/*@0,0") == 0);
	CHECK(fw_cfg_bootorder(b, sizeof(b), FW_CFG_BOOT_AUTO, NULL, 0, -1) ==
	    0 && b[0] == '\0');
	CHECK(fw_cfg_bootorder(b, sizeof(b), FW_CFG_BOOT_DISK, disks, 2, 9) >
	    0 && strcmp(b, "/pci@i0cf8/*@5\n/pci@i0cf8/*@6\nHALT") == 0);
	CHECK(fw_cfg_bootorder(b, sizeof(b), FW_CFG_BOOT_DISK, NULL, 0, 9) >
	    0 && strcmp(b, "HALT") == 0);
	CHECK(fw_cfg_bootorder(b, sizeof(b), FW_CFG_BOOT_CDROM, disks, 2,
	    0x1a) > 0 && strcmp(b, "/pci@i0cf8/*@1a/*@0/*@0,0\nHALT") == 0);
	CHECK(fw_cfg_bootorder(b, sizeof(b), FW_CFG_BOOT_CDROM, disks, 2,
	    -1) > 0 && strcmp(b, "HALT") == 0);
	CHECK(fw_cfg_bootorder(b, sizeof(b), FW_CFG_BOOT_NET, disks, 2, 9) >
	    0 && strcmp(b, "HALT") == 0);
	CHECK(fw_cfg_bootorder(b, 20, FW_CFG_BOOT_DISK, disks, 2, 9) == -1);
	CHECK(fw_cfg_bootorder(b, 0, FW_CFG_BOOT_AUTO, NULL, 0, -1) == -1);
}

int
main(void)
{
	struct dev_attach_args a = { .fd = -1, .fd2 = -1 };
	void	*p;

	p = mmap(NULL, GUEST_RAM, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return (1);
	mem.ram = p;
	mem.memsize = GUEST_RAM;
	mem.fd = -1;
	dev_init(&set, &host);
	fw = dev_attach(&set, &fw_cfg_devsw, &a);
	if (fw == NULL) {
		printf("FAIL attach\n");
		return (1);
	}
	fw_cfg_set_mem(fw, &mem);
	RUN(test_ports);
	RUN(test_files);
	RUN(test_dma);
	RUN(test_acpi_loader);
	RUN(test_bootorder);
	fw_cfg_clear(fw);
	dev_detach_all(&set);
	TEST_EXIT();
}
