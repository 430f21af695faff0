/*
 * loadfile_linux_test.c: unit tests of the bzImage loader and of the
 * loader dispatch in loadfile.c.  Synthetic bzImages are built in memory
 * (a setup header as the 64-bit boot protocol describes it and a
 * patterned protected-mode kernel), written to a memfd and loaded into a
 * 32 MiB fake guest: one good image checked byte by byte (kernel, zero
 * page, e820, command line, initrd, page tables, GDT, entry state), one
 * hostile header per check the loader makes, and a fixed-seed loop of
 * corrupted images that may only succeed or fail cleanly.  "-w DIR"
 * writes the seed corpus of regress/fuzz/bzimage_fuzz.c.  It needs no
 * /dev/kvm and nothing outside its memfds and mapping.
 */

#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev/vmm/vmm.h"
#include "loadfile.h"
#include "vm.h"
#include "regress/test.h"

#define GUEST_RAM	(32ULL << 20)

#define SETUP_SECTS	4
#define SETUP_LEN	((SETUP_SECTS + 1) * 512)
#define KERNEL_LEN	0x3000
#define IMG_LEN		(SETUP_LEN + KERNEL_LEN)
#define INIT_SIZE	0x40000
#define PREF		0x1000000ULL
#define ALIGN		0x200000

#define ZP		0x10000ULL	/* the zero page */
#define CMDLINE		0x11000ULL
#define GDT		0x12000ULL
#define PML4		0x13000ULL

static struct vm_mem	 mem;
static int		 memfd = -1;
static uint8_t		 img[IMG_LEN + 4096];
static size_t		 img_len;
static struct vmm_regs	 regs;
static struct vmm_sregs	 sregs;
static char		 errbuf[256];
static int		 lerrno;
static int		 initrdfd = -1;
static enum loadfile_kind lkind;

static void
put(size_t off, uint64_t v, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		img[off + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
rd(uint64_t pa, int n)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)mem.ram[pa + i] << (8 * i);
	return (v);
}

static void
build_good(void)
{
	size_t	 i;

	memset(img, 0, sizeof(img));
	img[0x1f1] = SETUP_SECTS;
	put(0x1f4, KERNEL_LEN / 16, 4);		/* syssize */
	put(0x1fe, 0xaa55, 2);
	img[0x200] = 0xeb;			/* jmp to the end of the */
	img[0x201] = 0x26c - 0x202;		/* header, 2.15's */
	memcpy(img + 0x202, "HdrS", 4);
	put(0x206, 0x020f, 2);			/* version 2.15 */
	img[0x211] = 0x01;			/* LOADED_HIGH */
	put(0x214, 0x100000, 4);		/* code32_start */
	put(0x22c, 0x7fffffff, 4);		/* initrd_addr_max */
	put(0x230, ALIGN, 4);			/* kernel_alignment */
	img[0x234] = 1;				/* relocatable */
	img[0x235] = 21;
	put(0x236, 0x0003, 2);			/* KERNEL_64, ABOVE_4G */
	put(0x238, 2047, 4);			/* cmdline_size */
	put(0x258, PREF, 8);			/* pref_address */
	put(0x260, INIT_SIZE, 4);
	for (i = 0; i < KERNEL_LEN; i++)
		img[SETUP_LEN + i] = (uint8_t)(i * 13 + 7);
	/* setup code bytes after the header, which must not be copied */
	for (i = 0x26c; i < 0x290; i++)
		img[i] = 0xcc;
	img_len = IMG_LEN;
}

static int
load_as(const char *cmdline, int dispatch)
{
	struct loadfile_args	 a;
	int			 rv;

	if (ftruncate(memfd, 0) == -1 ||
	    ftruncate(memfd, (off_t)img_len) == -1 ||
	    (img_len > 0 && pwrite(memfd, img, img_len, 0) !=
	    (ssize_t)img_len)) {
		CHECK(!"cannot write the image");
		return (-2);
	}
	memset(&a, 0, sizeof(a));
	a.kernelfd = memfd;
	a.initrdfd = initrdfd;
	a.cmdline = cmdline;
	a.rsdp = 0xe0000;
	errbuf[0] = '\0';
	errno = 0;
	lkind = (enum loadfile_kind)-1;
	if (dispatch)
		rv = loadfile(&a, &mem, &regs, &sregs, &lkind, errbuf,
		    sizeof(errbuf));
	else
		rv = loadfile_linux(&a, &mem, &regs, &sregs, errbuf,
		    sizeof(errbuf));
	lerrno = errno;
	return (rv);
}

static int
load(const char *cmdline)
{
	return (load_as(cmdline, 1));
}

static void
expect_fail(int e, const char *why)
{
	int	 rv = load("console=ttyS0");

	CHECK(rv == -1 && lerrno == e && strstr(errbuf, why) != NULL);
	if (rv != -1 || lerrno != e || strstr(errbuf, why) == NULL)
		printf("    got rv %d errno %d reason \"%s\", wanted \"%s\"\n",
		    rv, lerrno, errbuf, why);
}

static int
make_initrd(size_t len)
{
	uint8_t	*b;
	size_t	 i;
	int	 fd;

	if ((fd = memfd_create("initrd", MFD_CLOEXEC)) == -1)
		return (-1);
	if ((b = malloc(len ? len : 1)) == NULL)
		return (-1);
	for (i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 3 + 1);
	if (len > 0 && pwrite(fd, b, len, 0) != (ssize_t)len)
		fd = -1;
	free(b);
	return (fd);
}

static void
check_entry(void)
{
	CHECK(regs.rip == PREF + 0x200);
	CHECK(regs.rsi == ZP && regs.rflags == 0x2);
	CHECK(regs.rax == 0 && regs.rbx == 0 && regs.rsp == 0);
	CHECK(sregs.cs.selector == 0x10 && sregs.cs.l == 1 &&
	    sregs.cs.db == 0 && sregs.cs.type == 0xb && sregs.cs.present);
	CHECK(sregs.ds.selector == 0x18 && sregs.ds.type == 0x3 &&
	    sregs.ds.db == 1 && sregs.ds.limit == 0xffffffff);
	CHECK(sregs.es.selector == 0x18 && sregs.ss.selector == 0x18);
	CHECK(sregs.cr0 == 0x80000011 && sregs.cr3 == PML4);
	CHECK(sregs.cr4 == 0x20 && sregs.efer == 0x500);
	CHECK(sregs.gdt.base == GDT && sregs.gdt.limit >= 0x1f);
	/* the GDT holds flat __BOOT_CS (64-bit) and __BOOT_DS */
	CHECK(rd(GDT + 0x10, 8) == 0x00af9b000000ffffULL);
	CHECK(rd(GDT + 0x18, 8) == 0x00cf93000000ffffULL);
	/* identity map: PML4 -> PDPT -> four PDs of 2 MiB pages */
	CHECK((rd(PML4, 8) & ~0xfffULL) == 0x14000 && (rd(PML4, 8) & 1));
	CHECK((rd(0x14000 + 24, 8) & ~0xfffULL) == 0x18000);
	CHECK(rd(0x15000, 8) == 0x83);
	CHECK(rd(0x15000 + 8 * 8, 8) == (PREF | 0x83));
	CHECK(rd(0x15000 + 8 * 2047, 8) == ((2047ULL << 21) | 0x83));
}

static void
good_image(void)
{
	struct vm_memrange	 mr[VM_MAX_MEMRANGES];
	size_t			 i, n;
	int			 ok = 1;

	memset(mem.ram, 0xaa, GUEST_RAM);
	build_good();
	CHECK(load("console=ttyS0 root=/dev/vda1") == 0);
	CHECK(lkind == LOADFILE_LINUX && errbuf[0] == '\0');
	for (i = 0; i < KERNEL_LEN; i++)
		ok &= mem.ram[PREF + i] == (uint8_t)(i * 13 + 7);
	CHECK(ok);
	CHECK(mem.ram[PREF - 1] == 0xaa);
	check_entry();
	/* the zero page: header copied, loader's fields set */
	CHECK(rd(ZP + 0x1fe, 2) == 0xaa55 && rd(ZP + 0x206, 2) == 0x020f);
	CHECK(memcmp(mem.ram + ZP + 0x202, "HdrS", 4) == 0);
	CHECK(rd(ZP + 0x260, 4) == INIT_SIZE && rd(ZP + 0x258, 8) == PREF);
	CHECK(mem.ram[ZP + 0x210] == 0xff);		/* type_of_loader */
	CHECK(rd(ZP + 0x228, 4) == CMDLINE && rd(ZP + 0xc8, 4) == 0);
	CHECK(rd(ZP + 0x218, 4) == 0 && rd(ZP + 0x21c, 4) == 0);
	CHECK(rd(ZP + 0x70, 8) == 0xe0000);		/* acpi_rsdp_addr */
	CHECK(mem.ram[ZP + 0x1ef] == 0);		/* sentinel */
	CHECK(rd(ZP + 0x26c, 8) == 0);		/* past the header */
	CHECK(rd(ZP + 0x250, 8) == 0);		/* no setup_data */
	CHECK(strcmp((char *)mem.ram + CMDLINE,
	    "console=ttyS0 root=/dev/vda1") == 0);
	n = vm_memmap(mem.memsize, mr, VM_MAX_MEMRANGES);
	CHECK(mem.ram[ZP + 0x1e8] == n && n >= 3);
	for (i = 0; i < n; i++) {
		CHECK(rd(ZP + 0x2d0 + 20 * i, 8) == mr[i].addr);
		CHECK(rd(ZP + 0x2d8 + 20 * i, 8) == mr[i].size);
		CHECK(rd(ZP + 0x2e0 + 20 * i, 4) == mr[i].type);
	}
}

static void
initrd(void)
{
	uint64_t addr, size;
	size_t	 i;
	int	 ok = 1;

	memset(mem.ram, 0, GUEST_RAM);
	build_good();
	initrdfd = make_initrd(100000);
	CHECK(load("") == 0);
	addr = rd(ZP + 0x218, 4);
	size = rd(ZP + 0x21c, 4);
	CHECK(size == 100000 && addr % 4096 == 0);
	CHECK(addr >= PREF + INIT_SIZE && addr + size <= GUEST_RAM &&
	    addr + size > GUEST_RAM - 4096);
	CHECK(rd(ZP + 0xc0, 4) == 0 && rd(ZP + 0xc4, 4) == 0);
	for (i = 0; i < size && addr + size <= GUEST_RAM; i++)
		ok &= mem.ram[addr + i] == (uint8_t)(i * 3 + 1);
	CHECK(ok);

	/* initrd_addr_max is honoured */
	put(0x22c, PREF + INIT_SIZE + 0x40000 - 1, 4);
	CHECK(load("") == 0);
	addr = rd(ZP + 0x218, 4);
	CHECK(addr + 100000 <= PREF + INIT_SIZE + 0x40000);
	CHECK(addr >= PREF + INIT_SIZE);
	/* and refused when there is no room under it */
	put(0x22c, PREF + INIT_SIZE + 0x1000 - 1, 4);
	expect_fail(ERANGE, "initrd of 100000 bytes does not fit");
	/* 0 means the protocol's old default, 0x37ffffff: room enough */
	put(0x22c, 0, 4);
	CHECK(load("") == 0);
	close(initrdfd);

	build_good();
	initrdfd = make_initrd(GUEST_RAM - PREF - INIT_SIZE + 1);
	expect_fail(ERANGE, "give the VM more memory");
	close(initrdfd);
	initrdfd = -1;
}

static void
cmdline_limits(void)
{
	char	 line[VM_CMDLINE_LEN + 1];

	build_good();
	put(0x238, 10, 4);			/* cmdline_size */
	CHECK(load("0123456789") == 0);
	expect_fail(EINVAL, "command line too long for this kernel "
	    "(13 bytes, max 10)");
	build_good();
	memset(line, 'x', sizeof(line));
	line[VM_CMDLINE_LEN] = '\0';
	CHECK(load(line) == -1 && lerrno == EINVAL);
	CHECK(strstr(errbuf, "command line too long") != NULL);
	line[VM_CMDLINE_LEN - 1] = '\0';
	CHECK(load(line) == 0);
	CHECK(strlen((char *)mem.ram + CMDLINE) == VM_CMDLINE_LEN - 1);
	CHECK(load(NULL) == 0 && mem.ram[CMDLINE] == '\0');
}

static void
bad_headers(void)
{
	build_good();
	put(0x1fe, 0xaa56, 2);
	expect_fail(ENOEXEC, "neither an ELF kernel");
	CHECK(load_as("", 0) == -1 && strstr(errbuf, "not a Linux bzImage"));
	build_good();
	memcpy(img + 0x202, "HdrT", 4);
	expect_fail(ENOEXEC, "neither an ELF kernel");
	build_good();
	put(0x206, 0x020b, 2);
	expect_fail(ENOEXEC, "Linux boot protocol 2.11 is too old");
	build_good();
	img[0x211] = 0;
	expect_fail(ENOEXEC, "not loaded high");
	build_good();
	put(0x236, 0x0002, 2);
	expect_fail(ENOEXEC, "no 64-bit entry point");
	build_good();
	img[0x201] = 0x10;			/* header ends too early */
	expect_fail(ENOEXEC, "truncated bzImage setup header");
	build_good();
	img[0x1f1] = 0xff;			/* setup past the file */
	expect_fail(ENOEXEC, "no kernel after 255 setup sectors");
	build_good();
	img[0x1f1] = 0;				/* 0 means 4 */
	CHECK(load("") == 0);
	build_good();
	put(0x1f4, 0xffffffff, 4);
	expect_fail(ENOEXEC, "truncated bzImage: header says");
	build_good();
	img_len = IMG_LEN - 0x100;
	expect_fail(ENOEXEC, "truncated bzImage: header says");
	build_good();
	img_len = 0x280;			/* inside the header */
	expect_fail(ENOEXEC, "truncated bzImage");
	build_good();
	img_len = 0x210;
	expect_fail(ENOEXEC, "truncated bzImage setup header");
	build_good();
	put(0x260, KERNEL_LEN - 1, 4);
	expect_fail(EINVAL, "init_size 0x2fff is smaller than its kernel");
	build_good();
	put(0x230, 0x300000, 4);
	expect_fail(EINVAL, "kernel_alignment 0x300000 is not a power");
	build_good();
	put(0x230, 0, 4);
	expect_fail(EINVAL, "kernel_alignment 0x0");
	build_good();
	img[0x234] = 0;				/* not relocatable */
	put(0x258, 0x80000, 8);
	expect_fail(EINVAL, "preferred address 0x80000 is outside");
	img[0x234] = 1;				/* aligned up: fine */
	CHECK(load("") == 0 && regs.rip == ALIGN + 0x200);
	build_good();
	put(0x258, 0xffffffff00000000ULL, 8);
	expect_fail(EINVAL, "is outside 1 MiB-3 GiB");
	build_good();
	put(0x258, GUEST_RAM, 8);
	expect_fail(ERANGE, "give it more memory");
	build_good();
	put(0x260, 0xffffffff, 4);
	expect_fail(ERANGE, "kernel needs guest RAM at 0x1000000-");
	/* not relocatable: exactly at pref_address, unaligned is fine */
	build_good();
	img[0x234] = 0;
	put(0x258, PREF + 0x1000, 8);
	CHECK(load("") == 0 && regs.rip == PREF + 0x1200);
	/* relocatable: aligned up */
	img[0x234] = 1;
	CHECK(load("") == 0 && regs.rip == PREF + ALIGN + 0x200);
	/* pref_address 0: the protocol's 1 MiB */
	build_good();
	put(0x258, 0, 8);
	put(0x230, 0x1000, 4);
	CHECK(load("") == 0 && regs.rip == 0x100200);
}

/* The dispatcher: ELF to loadfile_elf(), garbage refused. */
static void
dispatch(void)
{
	memset(img, 0, sizeof(img));
	img_len = 0;
	expect_fail(ENOEXEC, "neither an ELF kernel (PVH or OpenBSD), a "
	    "Linux bzImage nor a BIOS image");
	memcpy(img, "#!/bin/sh\n", 10);
	img_len = 10;
	expect_fail(ENOEXEC, "neither");
	memcpy(img, "\177ELF", 4);
	img_len = 4;
	expect_fail(ENOEXEC, "truncated ELF header");
	img_len = 3;
	expect_fail(ENOEXEC, "neither");
}

/* Firmware: a size in 64 KiB steps and a jump at the reset vector. */
static void
bios(void)
{
	static uint8_t	 b[128 << 10];
	size_t		 i;
	int		 fd = memfd_create("bios", MFD_CLOEXEC);
	struct loadfile_args a = { .kernelfd = fd, .initrdfd = -1 };

	for (i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 5 + 1);
	b[sizeof(b) - 16] = 0xea;
	memset(mem.ram, 0, GUEST_RAM);
	CHECK(fd != -1 && pwrite(fd, b, sizeof(b), 0) == sizeof(b));
	CHECK(loadfile(&a, &mem, &regs, &sregs, &lkind, errbuf,
	    sizeof(errbuf)) == 0 && lkind == LOADFILE_BIOS);
	CHECK(memcmp(mem.ram + 0xe0000, b, sizeof(b)) == 0);
	CHECK(regs.rip == 0xfff0 && sregs.cs.selector == 0xf000 &&
	    sregs.cs.base == 0xffff0000 && sregs.cr0 == 0x60000010);
	/* 64 KiB: the last 64 KiB of the first MiB */
	CHECK(ftruncate(fd, 64 << 10) == 0);
	CHECK(pwrite(fd, b + sizeof(b) - (64 << 10), 64 << 10, 0) ==
	    64 << 10);
	memset(mem.ram, 0, GUEST_RAM);
	CHECK(loadfile(&a, &mem, &regs, &sregs, &lkind, errbuf,
	    sizeof(errbuf)) == 0 && lkind == LOADFILE_BIOS);
	CHECK(mem.ram[0xeffff] == 0 &&
	    memcmp(mem.ram + 0xf0000, b + (64 << 10), 64 << 10) == 0);
	/* firmware takes no initrd */
	a.initrdfd = fd;
	CHECK(loadfile(&a, &mem, &regs, &sregs, &lkind, errbuf,
	    sizeof(errbuf)) == -1 && strstr(errbuf, "no initrd") != NULL);
	a.initrdfd = -1;
	/* no jump at the reset vector, or a size off the 64 KiB grid */
	b[sizeof(b) - 16] = 0x90;
	CHECK(pwrite(fd, b + sizeof(b) - (64 << 10), 64 << 10, 0) ==
	    64 << 10);
	CHECK(loadfile(&a, &mem, &regs, &sregs, &lkind, errbuf,
	    sizeof(errbuf)) == -1 && strstr(errbuf, "neither") != NULL);
	b[sizeof(b) - 16] = 0xea;
	CHECK(ftruncate(fd, (64 << 10) + 512) == 0);
	CHECK(loadfile(&a, &mem, &regs, &sregs, &lkind, errbuf,
	    sizeof(errbuf)) == -1);
	close(fd);
}

/* A refused image leaves guest RAM alone. */
static void
failure_leaves_ram(void)
{
	size_t	 i;
	int	 ok = 1;

	memset(mem.ram, 0x5a, GUEST_RAM);
	build_good();
	put(0x260, KERNEL_LEN - 1, 4);
	CHECK(load("") == -1);
	for (i = 0; i < GUEST_RAM; i += 512)
		ok &= mem.ram[i] == 0x5a;
	CHECK(ok);
}

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

static void
random_corruption(void)
{
	static const uint64_t	 nasty[] = { 0, 1, 0xff, 0xffff, 0x7fffffff,
	    0xffffffff, 0x100000, 0x1000000, GUEST_RAM, 0x20c, 0x200 };
	uint64_t		 seed = 0x2545f4914f6cdd1dULL, r, v;
	size_t			 off, k, n;
	int			 i, rv, nok = 0, nfail = 0, bad = 0;

	for (i = 0; i < 20000 && !bad; i++) {
		build_good();
		n = 1 + rnd(&seed) % 4;
		for (k = 0; k < n; k++) {
			r = rnd(&seed);
			off = 0x1f1 + (r >> 8) % (0x270 - 0x1f1);
			if ((r >> 40) % 3 == 0) {
				v = nasty[(r >> 44) % (sizeof(nasty) / 8)];
				memcpy(img + off, &v, (r >> 50) % 2 ? 4 : 2);
			} else
				img[off] = (uint8_t)(r >> 32);
		}
		if (rnd(&seed) % 16 == 0)
			img_len = rnd(&seed) % (IMG_LEN + 1);
		rv = load("console=ttyS0");
		if (rv == 0) {
			nok++;
			bad |= lkind != LOADFILE_LINUX;
			bad |= regs.rsi != ZP;
			bad |= vm_gpa_ptr(&mem, regs.rip, 1) == NULL;
		} else if (rv == -1) {
			nfail++;
			bad |= errbuf[0] == '\0';
			bad |= lerrno != ENOEXEC && lerrno != ERANGE &&
			    lerrno != EINVAL;
		} else
			bad = 1;
		if (bad)
			printf("    iteration %d: rv %d errno %d \"%s\"\n", i,
			    rv, lerrno, errbuf);
	}
	CHECK(!bad);
	CHECK(nok > 100 && nfail > 100);
}

static int
write_file(const char *dir, const char *name)
{
	char	 path[1024];
	FILE	*f;
	int	 ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		return (-1);
	ok = fwrite(img, 1, img_len, f) == img_len;
	return (fclose(f) == 0 && ok ? 0 : -1);
}

/* A kernel of 1 KiB: the corpus stays under run.sh's -max_len. */
static void
build_small(void)
{
	build_good();
	put(0x1f4, 0x400 / 16, 4);
	img_len = SETUP_LEN + 0x400;
}

/* The fuzz corpus: small kernels that load into the fuzzer's guest. */
static int
write_corpus(const char *dir)
{
	int	 rv = 0;

	build_small();
	put(0x258, 0x100000, 8);
	put(0x230, 0x1000, 4);
	rv |= write_file(dir, "good.bzimage");
	img[0x234] = 0;
	rv |= write_file(dir, "fixed.bzimage");
	build_small();
	put(0x206, 0x020c, 2);
	img[0x201] = 0x264 - 0x202;
	put(0x258, 0x100000, 8);
	rv |= write_file(dir, "proto212.bzimage");
	build_small();
	put(0x1f4, 0xffffffff, 4);
	rv |= write_file(dir, "syssize.bzimage");
	build_good();
	img_len = 0x280;
	rv |= write_file(dir, "short.bzimage");
	if (rv != 0)
		perror(dir);
	return (rv != 0);
}

int
main(int argc, char *argv[])
{
	void	*p;

	if (argc == 3 && strcmp(argv[1], "-w") == 0)
		return (write_corpus(argv[2]));
	p = mmap(NULL, GUEST_RAM, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memfd = memfd_create("loadfile_linux_test", MFD_CLOEXEC);
	if (p == MAP_FAILED || memfd == -1) {
		printf("FAIL setup: %s\n", strerror(errno));
		return (1);
	}
	mem.ram = p;
	mem.memsize = GUEST_RAM;
	mem.fd = -1;
	RUN(good_image);
	RUN(initrd);
	RUN(cmdline_limits);
	RUN(bad_headers);
	RUN(dispatch);
	RUN(bios);
	RUN(failure_leaves_ram);
	RUN(random_corruption);
	TEST_EXIT();
}
