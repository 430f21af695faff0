/*
 * loadfile_elf_test.c: unit tests of the ELF loader: PVH kernels (with
 * an initrd module and the RSDP) and OpenBSD kernels (vmd's boot
 * arguments, stack, GDT, page tables, the symbol table copy, the random
 * data segment).  ELF images are
 * built in memory, written to a memfd and loaded into a 16 MiB fake guest
 * (an anonymous mapping in a struct vm_mem): one good image checked byte
 * by byte, one hostile image per check the loader must make, each refused
 * with its errno and a reason, and a fixed-seed loop of randomly corrupted
 * images that may only ever succeed or fail cleanly.  It must never need
 * /dev/kvm or anything outside its own memfd and mapping.
 */

#include <sys/mman.h>
#include <sys/types.h>

#include <elf.h>
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
#include "vmd.h"
#include "regress/test.h"

#define GUEST_RAM	(16ULL << 20)

/* Layout of the good image. */
#define IMG_MAX		0x30000
#define PH_OFF		0x40
#define TEXT_OFF	0x1000
#define TEXT_PA		0x100000ULL
#define TEXT_LEN	0x200
#define DATA_OFF	0x1200
#define DATA_PA		0x200000ULL
#define DATA_FLEN	0x100
#define DATA_MLEN	0x3000
#define NOTE_OFF	0x1300
#define SH_OFF		0x1400	/* section headers, if any */
#define GOOD_LEN	0x1400
#define ENTRY		0x100040U

/* Offsets of the notes inside the note segment. */
#define NOTE_GNU	0	/* 12 + 4 + 20 */
#define NOTE_XEN17	36	/* 12 + 4 + 4 */
#define NOTE_PVH	56	/* 12 + 4 + 8 */
#define NOTE_LEN	80

#define START_INFO_GPA	0x6000
#define CMDLINE_GPA	0x7000

struct image {
	uint8_t		b[IMG_MAX] __attribute__((aligned(8)));
	size_t		len;
};

static struct vm_mem	 mem;
static int		 memfd = -1;
static struct image	 img;
static struct vmm_regs	 regs;
static struct vmm_sregs	 sregs;
static char		 errbuf[VM_REASON_MAX];
static int		 lerrno;
static int		 initrdfd = -1;	/* used by load() when set */
static const uint8_t	*bootmac;	/* used by load() when set */
static enum loadfile_kind lkind;

#define RSDP_GPA	0xe0000

/* loadfile_elf() on fd with the test's initrd, boot MAC and RSDP */
static int
lf(int fd, const char *cmdline)
{
	struct loadfile_args	 a;

	memset(&a, 0, sizeof(a));
	a.kernelfd = fd;
	a.initrdfd = initrdfd;
	a.cmdline = cmdline;
	a.rsdp = RSDP_GPA;
	a.bootmac = bootmac;
	lkind = (enum loadfile_kind)-1;
	return (loadfile_elf(&a, &mem, &regs, &sregs, &lkind, errbuf,
	    sizeof(errbuf)));
}

static Elf64_Ehdr *
eh(struct image *im)
{
	return ((Elf64_Ehdr *)im->b);
}

static Elf64_Phdr *
ph(struct image *im, int i)
{
	return ((Elf64_Phdr *)(im->b + PH_OFF) + i);
}

static Elf64_Nhdr *
note(struct image *im, size_t off)
{
	return ((Elf64_Nhdr *)(im->b + NOTE_OFF + off));
}

static void
put_note(struct image *im, size_t off, const char *name, uint32_t type,
    const void *desc, uint32_t descsz)
{
	Elf64_Nhdr	*n = note(im, off);

	n->n_namesz = 4;
	n->n_descsz = descsz;
	n->n_type = type;
	memcpy(n + 1, name, 4);
	memcpy((uint8_t *)(n + 1) + 4, desc, descsz);
}

static void
set_phdr(struct image *im, int i, uint32_t type, uint64_t off, uint64_t pa,
    uint64_t fsz, uint64_t msz)
{
	Elf64_Phdr	*p = ph(im, i);

	memset(p, 0, sizeof(*p));
	p->p_type = type;
	p->p_flags = PF_R;
	p->p_offset = off;
	p->p_vaddr = pa;
	p->p_paddr = pa;
	p->p_filesz = fsz;
	p->p_memsz = msz;
	p->p_align = type == PT_LOAD ? 0x1000 : 4;
}

/*
 * Two PT_LOADs (text; data with bss) and one PT_NOTE holding a GNU note,
 * a Xen note of another type and the PVH entry note with a 64-bit
 * description whose high half must be ignored.
 */
static void
build_good(struct image *im)
{
	Elf64_Ehdr	*e = eh(im);
	uint64_t	 entry64 = 0xffffffff00000000ULL | ENTRY;
	uint8_t		 buildid[20];
	uint32_t	 v17 = 0x12345678;
	size_t		 i;

	memset(im, 0, sizeof(*im));
	memcpy(e->e_ident, ELFMAG, SELFMAG);
	e->e_ident[EI_CLASS] = ELFCLASS64;
	e->e_ident[EI_DATA] = ELFDATA2LSB;
	e->e_ident[EI_VERSION] = EV_CURRENT;
	e->e_type = ET_EXEC;
	e->e_machine = EM_X86_64;
	e->e_version = EV_CURRENT;
	e->e_entry = 0xffffffff81000000ULL;
	e->e_phoff = PH_OFF;
	e->e_ehsize = sizeof(*e);
	e->e_phentsize = sizeof(Elf64_Phdr);
	e->e_phnum = 3;
	e->e_shentsize = sizeof(Elf64_Shdr);

	set_phdr(im, 0, PT_LOAD, TEXT_OFF, TEXT_PA, TEXT_LEN, TEXT_LEN);
	set_phdr(im, 1, PT_LOAD, DATA_OFF, DATA_PA, DATA_FLEN, DATA_MLEN);
	set_phdr(im, 2, PT_NOTE, NOTE_OFF, 0, NOTE_LEN, NOTE_LEN);
	for (i = 0; i < TEXT_LEN; i++)
		im->b[TEXT_OFF + i] = (uint8_t)(i * 7 + 1);
	for (i = 0; i < DATA_FLEN; i++)
		im->b[DATA_OFF + i] = (uint8_t)(i * 13 + 5);
	for (i = 0; i < sizeof(buildid); i++)
		buildid[i] = (uint8_t)i;
	put_note(im, NOTE_GNU, "GNU", 3, buildid, sizeof(buildid));
	put_note(im, NOTE_XEN17, "Xen", 17, &v17, 4);
	put_note(im, NOTE_PVH, "Xen", 18, &entry64, 8);
	im->len = GOOD_LEN;
}

/* Turn the PT_NOTE into PT_NULL and describe the notes by sections. */
static void
add_note_sections(struct image *im)
{
	Elf64_Shdr	*sh = (Elf64_Shdr *)(im->b + SH_OFF);

	ph(im, 2)->p_type = PT_NULL;
	memset(sh, 0, 3 * sizeof(*sh));
	sh[1].sh_type = SHT_PROGBITS;
	sh[1].sh_offset = TEXT_OFF;
	sh[1].sh_size = TEXT_LEN;
	sh[2].sh_type = SHT_NOTE;
	sh[2].sh_offset = NOTE_OFF;
	sh[2].sh_size = NOTE_LEN;
	eh(im)->e_shoff = SH_OFF;
	eh(im)->e_shnum = 3;
	im->len = SH_OFF + 3 * sizeof(*sh);
}

static int
write_image(const uint8_t *b, size_t len)
{
	if (ftruncate(memfd, 0) == -1 || ftruncate(memfd, (off_t)len) == -1)
		return (-1);
	if (len > 0 && pwrite(memfd, b, len, 0) != (ssize_t)len)
		return (-1);
	return (0);
}

static int
load(const uint8_t *b, size_t len, const char *cmdline)
{
	int	rv;

	if (write_image(b, len) == -1) {
		CHECK(!"cannot write the image to the memfd");
		return (-2);
	}
	errbuf[0] = '\0';
	errno = 0;
	rv = lf(memfd, cmdline);
	lerrno = errno;
	return (rv);
}

/* Load im and expect a refusal with errno e and why in the reason. */
static void
expect_fail(struct image *im, int e, const char *why)
{
	int	rv;

	rv = load(im->b, im->len, "console=ttyS0");
	CHECK(rv == -1);
	CHECK(lerrno == e);
	CHECK(strstr(errbuf, why) != NULL);
	if (rv != -1 || lerrno != e || strstr(errbuf, why) == NULL)
		printf("    got rv %d errno %d (%s) reason \"%s\"\n", rv,
		    lerrno, strerror(lerrno), errbuf);
}

static uint8_t *
gpa(uint64_t pa)
{
	return (mem.ram + pa);
}

static void
check_segment(const struct vmm_segment *s, uint16_t sel, uint8_t type)
{
	CHECK(s->base == 0);
	CHECK(s->limit == 0xffffffff);
	CHECK(s->selector == sel);
	CHECK(s->type == type);
	CHECK(s->present == 1 && s->s == 1 && s->db == 1 && s->g == 1);
	CHECK(s->l == 0 && s->dpl == 0 && s->unusable == 0);
}

static void
check_regs(uint32_t entry)
{
	CHECK(regs.rip == entry);
	CHECK(regs.rbx == START_INFO_GPA);
	CHECK(regs.rflags == 0x2);
	CHECK(regs.rax == 0 && regs.rcx == 0 && regs.rdx == 0);
	CHECK(regs.rsi == 0 && regs.rdi == 0 && regs.rsp == 0);
	CHECK(regs.rbp == 0 && regs.r8 == 0 && regs.r15 == 0);
	CHECK((sregs.cr0 & ~0x10ULL) == 0x1);
	CHECK(sregs.cr4 == 0 && sregs.efer == 0 && sregs.cr3 == 0);
	check_segment(&sregs.cs, 0x10, 0xb);
	check_segment(&sregs.ds, 0x18, 0x3);
	check_segment(&sregs.es, 0x18, 0x3);
	check_segment(&sregs.ss, 0x18, 0x3);
	check_segment(&sregs.fs, 0x18, 0x3);
	check_segment(&sregs.gs, 0x18, 0x3);
	CHECK(sregs.tr.type == 0xb && sregs.tr.present == 1);
	CHECK(sregs.tr.s == 0 && sregs.tr.limit == 0x67);
	CHECK(sregs.tr.base == 0 && sregs.tr.selector == 0);
}

static void
check_boot_data(const char *cmdline)
{
	struct vm_memrange	mr[VM_MAX_MEMRANGES];
	uint8_t		       *si = gpa(START_INFO_GPA);
	uint32_t		u32;
	uint64_t		u64, mmap_pa;
	size_t			n, i;

	memcpy(&u32, si, 4);
	CHECK(u32 == 0x336ec578);
	memcpy(&u32, si + 4, 4);
	CHECK(u32 == 1);
	memcpy(&u32, si + 8, 4);
	CHECK(u32 == 0);			/* flags */
	memcpy(&u32, si + 12, 4);
	CHECK(u32 == 0);			/* nr_modules */
	memcpy(&u64, si + 24, 8);
	CHECK(u64 == CMDLINE_GPA);
	memcpy(&u64, si + 32, 8);
	CHECK(u64 == RSDP_GPA);			/* rsdp */
	memcpy(&mmap_pa, si + 40, 8);
	CHECK(mmap_pa == START_INFO_GPA + 56);
	memcpy(&u32, si + 48, 4);

	n = vm_memmap(mem.memsize, mr, VM_MAX_MEMRANGES);
	CHECK(n >= 2 && u32 == n);
	for (i = 0; i < n && i < VM_MAX_MEMRANGES && mmap_pa < 0x7000; i++) {
		uint8_t	*e = gpa(mmap_pa + i * 24);

		memcpy(&u64, e, 8);
		CHECK(u64 == mr[i].addr);
		memcpy(&u64, e + 8, 8);
		CHECK(u64 == mr[i].size);
		memcpy(&u32, e + 16, 4);
		CHECK(u32 == mr[i].type);
	}
	CHECK(strcmp((char *)gpa(CMDLINE_GPA), cmdline) == 0);
}

static void
good_image(void)
{
	size_t	i;
	int	ok = 1;

	memset(mem.ram, 0xaa, GUEST_RAM);
	build_good(&img);
	CHECK(load(img.b, img.len, "console=ttyS0 root=/dev/vda1") == 0);
	CHECK(errbuf[0] == '\0');
	CHECK(lkind == LOADFILE_PVH);
	for (i = 0; i < TEXT_LEN; i++)
		ok &= *gpa(TEXT_PA + i) == (uint8_t)(i * 7 + 1);
	for (i = 0; i < DATA_FLEN; i++)
		ok &= *gpa(DATA_PA + i) == (uint8_t)(i * 13 + 5);
	CHECK(ok);
	for (i = DATA_FLEN; i < DATA_MLEN; i++)
		ok &= *gpa(DATA_PA + i) == 0;
	CHECK(ok);			/* bss zeroed */
	CHECK(*gpa(TEXT_PA - 1) == 0xaa && *gpa(TEXT_PA + TEXT_LEN) == 0xaa);
	CHECK(*gpa(DATA_PA + DATA_MLEN) == 0xaa);
	check_regs(ENTRY);
	check_boot_data("console=ttyS0 root=/dev/vda1");
}

/* The fd's offset must not matter: the same fd is reloaded on reboot. */
/*
 * Linux's own notes (owner "Linux") make it a vmlinux: the host-quirk
 * layer gives those Linux options.  Put one where the GNU note was,
 * with an empty note filling the rest of that slot.
 */
static void
linux_notes(void)
{
	Elf64_Nhdr	*n;
	uint32_t	 salt = 0;

	build_good(&img);
	memset(img.b + NOTE_OFF + NOTE_GNU, 0, NOTE_XEN17 - NOTE_GNU);
	n = note(&img, NOTE_GNU);
	n->n_namesz = 6;		/* "Linux", padded to 8 */
	n->n_descsz = 4;
	n->n_type = 0x100;		/* LINUX_ELFNOTE_BUILD_SALT */
	memcpy(n + 1, "Linux", 6);
	memcpy((uint8_t *)(n + 1) + 8, &salt, 4);
	CHECK(load(img.b, img.len, "console=ttyS0") == 0);
	CHECK(lkind == LOADFILE_PVH_LINUX);
	/* "Linu" (namesz 4) is not it */
	memset(img.b + NOTE_OFF + NOTE_GNU, 0, NOTE_XEN17 - NOTE_GNU);
	n->n_namesz = 4;
	n->n_descsz = 20;
	memcpy(n + 1, "Linu", 4);
	CHECK(load(img.b, img.len, "console=ttyS0") == 0);
	CHECK(lkind == LOADFILE_PVH);
}

static void
reload_same_fd(void)
{
	off_t	pos;

	build_good(&img);
	CHECK(load(img.b, img.len, "a") == 0);
	memset(mem.ram, 0x55, GUEST_RAM);
	pos = lseek(memfd, 0x777, SEEK_SET);
	CHECK(lf(memfd, "b") == 0);
	CHECK(lseek(memfd, 0, SEEK_CUR) == pos);
	CHECK(*gpa(TEXT_PA) == 1 && *gpa(DATA_PA + DATA_FLEN) == 0);
	check_regs(ENTRY);
	check_boot_data("b");
}

static void
pvh_desc_32bit(void)
{
	uint32_t	e32 = TEXT_PA + 0x10;

	build_good(&img);
	put_note(&img, NOTE_PVH, "Xen", 18, &e32, 4);
	/* The 4 bytes left over at the end are too short for a note. */
	CHECK(load(img.b, img.len, NULL) == 0);
	check_regs(TEXT_PA + 0x10);
	check_boot_data("");
}

static void
notes_in_sections(void)
{
	build_good(&img);
	add_note_sections(&img);
	CHECK(load(img.b, img.len, "x") == 0);
	check_regs(ENTRY);

	/* Same, but no section is a note: no PVH entry. */
	((Elf64_Shdr *)(img.b + SH_OFF))[2].sh_type = SHT_PROGBITS;
	expect_fail(&img, ENOEXEC, "no PVH entry note");

	build_good(&img);
	add_note_sections(&img);
	eh(&img)->e_shentsize = 40;
	expect_fail(&img, ENOEXEC, "section header size");

	build_good(&img);
	add_note_sections(&img);
	eh(&img)->e_shoff = img.len - 8;
	expect_fail(&img, ENOEXEC, "section headers past end of file");

	build_good(&img);
	add_note_sections(&img);
	((Elf64_Shdr *)(img.b + SH_OFF))[2].sh_size = UINT64_MAX;
	expect_fail(&img, ENOEXEC, "truncated file: note section 2");
}

static void
max_cmdline(void)
{
	char	line[VM_CMDLINE_MAX + 1];

	build_good(&img);
	memset(line, 'c', sizeof(line));
	line[VM_CMDLINE_MAX - 1] = '\0';
	CHECK(load(img.b, img.len, line) == 0);
	check_boot_data(line);

	line[VM_CMDLINE_MAX - 1] = 'c';
	line[VM_CMDLINE_MAX] = '\0';
	CHECK(load(img.b, img.len, line) == -1 && lerrno == EINVAL);
	CHECK(strstr(errbuf, "command line too long") != NULL);
}

static void
bad_magic(void)
{
	build_good(&img);
	img.b[1] = 'F';
	expect_fail(&img, ENOEXEC, "not an ELF file");
	build_good(&img);
	memcpy(img.b, "#!/bin/sh\n", 10);
	expect_fail(&img, ENOEXEC, "not an ELF file");
}

static void
empty_and_truncated(void)
{
	build_good(&img);
	img.len = 0;
	expect_fail(&img, ENOEXEC, "not an ELF file");
	build_good(&img);
	img.len = 3;
	expect_fail(&img, ENOEXEC, "not an ELF file");
	build_good(&img);
	img.len = 40;
	expect_fail(&img, ENOEXEC, "truncated ELF header");
	build_good(&img);
	img.len = sizeof(Elf64_Ehdr) - 1;
	expect_fail(&img, ENOEXEC, "truncated ELF header");
	build_good(&img);
	img.len = PH_OFF + 100;		/* cuts the program headers */
	expect_fail(&img, ENOEXEC, "program headers past end of file");
	build_good(&img);
	img.len = TEXT_OFF + 10;	/* cuts segment 0 and the notes */
	expect_fail(&img, ENOEXEC, "truncated file: note segment 2 data "
	    "past end of file");
	build_good(&img);
	ph(&img, 2)->p_offset = TEXT_OFF - NOTE_LEN;	/* notes first */
	memcpy(img.b + TEXT_OFF - NOTE_LEN, img.b + NOTE_OFF, NOTE_LEN);
	img.len = TEXT_OFF + 10;
	expect_fail(&img, ENOEXEC, "truncated file: segment 0 data past "
	    "end of file");
}

static void
wrong_class_machine_type(void)
{
	build_good(&img);
	img.b[EI_CLASS] = ELFCLASS32;
	expect_fail(&img, ENOEXEC, "32-bit ELF not supported");
	build_good(&img);
	img.b[EI_CLASS] = 7;
	expect_fail(&img, ENOEXEC, "bad ELF class");
	build_good(&img);
	img.b[EI_DATA] = ELFDATA2MSB;
	expect_fail(&img, ENOEXEC, "little-endian");
	build_good(&img);
	eh(&img)->e_machine = EM_386;
	expect_fail(&img, ENOEXEC, "not an x86-64 ELF");
	build_good(&img);
	eh(&img)->e_machine = EM_AARCH64;
	expect_fail(&img, ENOEXEC, "not an x86-64 ELF");
	build_good(&img);
	eh(&img)->e_type = ET_DYN;
	expect_fail(&img, ENOEXEC, "not an executable ELF");
	build_good(&img);
	eh(&img)->e_version = 2;
	expect_fail(&img, ENOEXEC, "ELF version");
}

static void
bad_program_headers(void)
{
	build_good(&img);
	eh(&img)->e_phoff = GOOD_LEN + 0x1000;
	expect_fail(&img, ENOEXEC, "program headers past end of file");
	build_good(&img);
	eh(&img)->e_phoff = UINT64_MAX - 0x20;
	expect_fail(&img, ENOEXEC, "program headers past end of file");
	build_good(&img);
	eh(&img)->e_phnum = 0xffff;
	expect_fail(&img, EFBIG, "too many program headers");
	build_good(&img);
	eh(&img)->e_phnum = 65;
	expect_fail(&img, EFBIG, "too many program headers");
	build_good(&img);
	eh(&img)->e_phnum = 0;
	expect_fail(&img, ENOEXEC, "no program headers");
	build_good(&img);
	eh(&img)->e_phentsize = 32;
	expect_fail(&img, ENOEXEC, "program header size");
	build_good(&img);
	eh(&img)->e_phentsize = 0;
	expect_fail(&img, ENOEXEC, "program header size");
	build_good(&img);
	ph(&img, 0)->p_type = PT_NULL;
	ph(&img, 1)->p_type = PT_NULL;
	expect_fail(&img, ENOEXEC, "no loadable segments");
}

static void
segment_outside_ram(void)
{
	build_good(&img);
	ph(&img, 1)->p_paddr = GUEST_RAM + 0x1000;	/* above memsize */
	expect_fail(&img, ERANGE, "segment 1 at 0x1001000 size 0x3000 "
	    "outside guest RAM");
	build_good(&img);
	ph(&img, 1)->p_paddr = GUEST_RAM - 0x1000;	/* straddles end */
	expect_fail(&img, ERANGE, "outside guest RAM");
	build_good(&img);
	ph(&img, 0)->p_paddr = 0xb8000;		/* the 640K-1M hole */
	expect_fail(&img, ERANGE, "segment 0 at 0xb8000");
	build_good(&img);
	ph(&img, 0)->p_paddr = 0x9ff00;		/* into the hole */
	expect_fail(&img, ERANGE, "outside guest RAM");
	build_good(&img);
	ph(&img, 0)->p_paddr = 0xfff00;		/* straddles out of it */
	expect_fail(&img, ERANGE, "outside guest RAM");
	build_good(&img);
	ph(&img, 1)->p_memsz = 1ULL << 63;
	expect_fail(&img, ERANGE, "outside guest RAM");
	build_good(&img);
	ph(&img, 1)->p_paddr = UINT64_MAX - 0xff;	/* wraps */
	expect_fail(&img, ERANGE, "outside guest RAM");
	build_good(&img);
	ph(&img, 1)->p_paddr = 0x100000000ULL;	/* above 4G: none */
	expect_fail(&img, ERANGE, "outside guest RAM");
}

static void
segment_file_bounds(void)
{
	build_good(&img);
	ph(&img, 1)->p_offset = GOOD_LEN - 0x10;
	expect_fail(&img, ENOEXEC, "truncated file: segment 1 data past "
	    "end of file");
	build_good(&img);
	ph(&img, 1)->p_offset = UINT64_MAX - 0x10;	/* sum overflows */
	expect_fail(&img, ENOEXEC, "truncated file: segment 1");
	build_good(&img);
	ph(&img, 1)->p_filesz = UINT64_MAX;
	ph(&img, 1)->p_memsz = UINT64_MAX;
	expect_fail(&img, ENOEXEC, "truncated file: segment 1");
	build_good(&img);
	ph(&img, 1)->p_filesz = DATA_MLEN + 1;
	expect_fail(&img, EINVAL, "larger than memory size");
}

static void
segments_overlap(void)
{
	build_good(&img);
	ph(&img, 1)->p_paddr = TEXT_PA + TEXT_LEN - 1;
	expect_fail(&img, EINVAL, "segments 0 and 1 overlap");
	build_good(&img);
	ph(&img, 0)->p_paddr = DATA_PA + DATA_MLEN - 1;	/* into bss */
	expect_fail(&img, EINVAL, "segments 0 and 1 overlap");
	/* Touching is not overlapping. */
	build_good(&img);
	ph(&img, 1)->p_paddr = TEXT_PA + TEXT_LEN;
	CHECK(load(img.b, img.len, "") == 0);
}

static void
segment_on_boot_data(void)
{
	build_good(&img);
	ph(&img, 1)->p_paddr = 0x5000;		/* ends in start info */
	ph(&img, 1)->p_memsz = 0x1001;
	ph(&img, 1)->p_filesz = 0x100;
	expect_fail(&img, ERANGE, "PVH boot data");
	build_good(&img);
	ph(&img, 1)->p_paddr = 0x77ff;		/* last cmdline byte */
	expect_fail(&img, ERANGE, "PVH boot data");
	build_good(&img);
	ph(&img, 1)->p_paddr = 0x7800;		/* just past it: fine */
	ph(&img, 1)->p_memsz = 0x1000;
	CHECK(load(img.b, img.len, "") == 0);
}

static void
bad_notes(void)
{
	build_good(&img);
	note(&img, NOTE_GNU)->n_namesz = NOTE_LEN;
	expect_fail(&img, ENOEXEC, "bad note in note segment 2");
	build_good(&img);
	note(&img, NOTE_GNU)->n_namesz = 0xffffffff;	/* rounds to 2^32 */
	expect_fail(&img, ENOEXEC, "bad note in note segment 2");
	build_good(&img);
	note(&img, NOTE_PVH)->n_descsz = 13;		/* past the end */
	expect_fail(&img, ENOEXEC, "bad note in note segment 2");
	build_good(&img);
	note(&img, NOTE_XEN17)->n_descsz = 0xfffffff0;
	expect_fail(&img, ENOEXEC, "bad note");
	build_good(&img);
	note(&img, NOTE_PVH)->n_descsz = 2;
	expect_fail(&img, ENOEXEC, "bad PVH entry note");
	build_good(&img);
	ph(&img, 2)->p_filesz = NOTE_LEN - 4;	/* PVH desc cut short */
	expect_fail(&img, ENOEXEC, "bad note");
	build_good(&img);
	ph(&img, 2)->p_offset = GOOD_LEN - 8;
	expect_fail(&img, ENOEXEC, "truncated file: note segment 2");
	build_good(&img);
	ph(&img, 2)->p_filesz = IMG_MAX - NOTE_OFF;	/* too big */
	img.len = IMG_MAX;
	expect_fail(&img, EFBIG, "note segment 2 too large");
}

static void
no_pvh_note(void)
{
	build_good(&img);
	note(&img, NOTE_PVH)->n_type = 19;
	expect_fail(&img, ENOEXEC, "no PVH entry note, and not an OpenBSD "
	    "kernel");
	build_good(&img);
	memcpy(note(&img, NOTE_PVH) + 1, "Xem", 4);
	expect_fail(&img, ENOEXEC, "no PVH entry note");
	build_good(&img);
	ph(&img, 2)->p_type = PT_NULL;		/* and no sections */
	expect_fail(&img, ENOEXEC, "no PVH entry note");
}

static void
entry_outside(void)
{
	uint64_t	e;

	build_good(&img);
	e = 0x300000;
	put_note(&img, NOTE_PVH, "Xen", 18, &e, 8);
	expect_fail(&img, ENOEXEC, "PVH entry 0x300000 outside");
	build_good(&img);
	e = TEXT_PA + TEXT_LEN;			/* one past text */
	put_note(&img, NOTE_PVH, "Xen", 18, &e, 8);
	expect_fail(&img, ENOEXEC, "outside the loaded segments");
}

/* A refused image must leave guest RAM as it found it. */
static void
failure_leaves_ram(void)
{
	uint64_t	e = 0x300000;
	size_t		i;
	int		ok = 1;

	memset(mem.ram, 0x5a, GUEST_RAM);
	build_good(&img);
	put_note(&img, NOTE_PVH, "Xen", 18, &e, 8);
	CHECK(load(img.b, img.len, "x") == -1);
	for (i = 0; i < GUEST_RAM; i += 512)
		ok &= mem.ram[i] == 0x5a;
	CHECK(ok);
	CHECK(*gpa(TEXT_PA) == 0x5a && *gpa(START_INFO_GPA) == 0x5a);
}

static void
not_a_regular_file(void)
{
	int	p[2];

	CHECK(pipe(p) == 0);
	errno = 0;
	CHECK(lf(p[0], "") == -1);
	CHECK(errno == EINVAL && errbuf[0] != '\0');
	close(p[0]);
	close(p[1]);
	errno = 0;
	CHECK(lf(p[0], "") == -1);
	CHECK(errno == EBADF && errbuf[0] != '\0');
}

static int
make_initrd(size_t len, uint8_t seed)
{
	uint8_t	*b;
	size_t	 i;
	int	 fd;

	if ((fd = memfd_create("initrd", MFD_CLOEXEC)) == -1)
		return (-1);
	if ((b = malloc(len ? len : 1)) == NULL) {
		close(fd);
		return (-1);
	}
	for (i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 31 + seed);
	if (len > 0 && pwrite(fd, b, len, 0) != (ssize_t)len) {
		close(fd);
		fd = -1;
	}
	free(b);
	return (fd);
}

/* The initrd is the first PVH module: at the top of RAM, page aligned. */
static void
pvh_initrd(void)
{
	uint8_t	*si = gpa(START_INFO_GPA), *m;
	uint64_t mod, pa, size, cl;
	uint32_t u32;
	size_t	 i;
	int	 ok = 1;

	memset(mem.ram, 0, GUEST_RAM);
	build_good(&img);
	initrdfd = make_initrd(10000, 3);
	CHECK(initrdfd != -1);
	CHECK(load(img.b, img.len, "initrd") == 0);
	memcpy(&u32, si + 12, 4);
	CHECK(u32 == 1);			/* nr_modules */
	memcpy(&mod, si + 16, 8);
	CHECK(mod > START_INFO_GPA && mod + 32 <= CMDLINE_GPA);
	m = gpa(mod);
	memcpy(&pa, m, 8);
	memcpy(&size, m + 8, 8);
	memcpy(&cl, m + 16, 8);
	CHECK(size == 10000 && cl == 0);
	CHECK(pa % 4096 == 0 && pa + size <= GUEST_RAM &&
	    pa + size > GUEST_RAM - 4096);
	for (i = 0; i < size && pa + size <= GUEST_RAM; i++)
		ok &= *gpa(pa + i) == (uint8_t)(i * 31 + 3);
	CHECK(ok);
	/* the memory map still comes first */
	memcpy(&u32, si + 48, 4);
	CHECK(u32 >= 2);

	/* too big for the RAM above the kernel */
	close(initrdfd);
	initrdfd = make_initrd(GUEST_RAM - 0x100000, 1);
	expect_fail(&img, ERANGE, "initrd of");
	CHECK(strstr(errbuf, "give the VM more memory") != NULL);
	/* empty */
	close(initrdfd);
	initrdfd = make_initrd(0, 0);
	expect_fail(&img, EINVAL, "initrd is empty");
	/* not a file */
	close(initrdfd);
	initrdfd = open("/dev/null", O_RDONLY);
	expect_fail(&img, EINVAL, "initrd is not a regular file");
	close(initrdfd);
	initrdfd = -1;
}

/*
 * An OpenBSD-like kernel: the good image with an OpenBSD ident note in
 * place of the PVH note, a 64-bit e_entry (masked to 28 bits), a random
 * data segment inside the bss, and section headers with a symbol table,
 * a string table, .debug_line, the name table and a .text section.
 */
#define OB_ENTRY	(0xffffffff80000000ULL | ENTRY)
#define OB_RAND_PA	(DATA_PA + 0x1000)
#define OB_RAND_LEN	0x20
#define OB_SYM_OFF	0x1600
#define OB_STR_OFF	0x1640
#define OB_SHSTR_OFF	0x1660
#define OB_DBG_OFF	0x16a0
#define OB_LEN		0x16c0
#define OB_SHNUM	6

static const char ob_names[] = "\0.symtab\0.strtab\0.shstrtab\0.debug_line"
    "\0.text";

static void
build_obsd(struct image *im)
{
	Elf64_Nhdr	*n;
	Elf64_Shdr	*sh;
	uint32_t	 zero = 0;
	size_t		 i;

	build_good(im);
	eh(im)->e_entry = OB_ENTRY;
	n = note(im, NOTE_PVH);
	n->n_namesz = 8;
	n->n_descsz = 4;
	n->n_type = 1;
	memcpy(n + 1, "OpenBSD", 8);
	memcpy((uint8_t *)(n + 1) + 8, &zero, 4);
	eh(im)->e_phnum = 4;
	set_phdr(im, 3, 0x65a3dbe6, DATA_OFF, OB_RAND_PA, OB_RAND_LEN,
	    OB_RAND_LEN);

	sh = (Elf64_Shdr *)(im->b + SH_OFF);
	memset(sh, 0, OB_SHNUM * sizeof(*sh));
	sh[1].sh_name = 1;
	sh[1].sh_type = SHT_SYMTAB;
	sh[1].sh_offset = OB_SYM_OFF;
	sh[1].sh_size = 0x30;
	sh[2].sh_name = 9;
	sh[2].sh_type = SHT_STRTAB;
	sh[2].sh_offset = OB_STR_OFF;
	sh[2].sh_size = 0x13;			/* not a multiple of 8 */
	sh[3].sh_name = 17;
	sh[3].sh_type = SHT_STRTAB;
	sh[3].sh_offset = OB_SHSTR_OFF;
	sh[3].sh_size = sizeof(ob_names);
	sh[4].sh_name = 27;
	sh[4].sh_type = SHT_PROGBITS;
	sh[4].sh_offset = OB_DBG_OFF;
	sh[4].sh_size = 0x18;
	sh[5].sh_name = 39;
	sh[5].sh_type = SHT_PROGBITS;
	sh[5].sh_offset = TEXT_OFF;
	sh[5].sh_size = TEXT_LEN;
	for (i = 0; i < 0x30; i++)
		im->b[OB_SYM_OFF + i] = (uint8_t)(0x40 + i);
	memcpy(im->b + OB_STR_OFF, "\0start\0end\0esym\0xx", 0x13);
	memcpy(im->b + OB_SHSTR_OFF, ob_names, sizeof(ob_names));
	for (i = 0; i < 0x18; i++)
		im->b[OB_DBG_OFF + i] = (uint8_t)(0x90 + i);
	eh(im)->e_shoff = SH_OFF;
	eh(im)->e_shnum = OB_SHNUM;
	eh(im)->e_shstrndx = 3;
	im->len = OB_LEN;
}

static uint32_t
rd32(uint64_t pa)
{
	uint32_t v;

	memcpy(&v, gpa(pa), 4);
	return (v);
}

static uint64_t
rd64(uint64_t pa)
{
	uint64_t v;

	memcpy(&v, gpa(pa), 8);
	return (v);
}

#define R8(x)	(((x) + 7) & ~7ULL)

/* Where the copy of the symbols starts and ends, computed by hand. */
#define OB_SYM_START	(DATA_PA + DATA_MLEN)
#define OB_SECT_START	(OB_SYM_START + 64 + R8(OB_SHNUM * 64))
#define OB_SYM_END	(OB_SECT_START + R8(0x30) + R8(0x13) + \
			R8(sizeof(ob_names)) + R8(0x18))

static void
check_obsd_state(void)
{
	/* compatibility mode: long mode on, 32-bit code segment */
	CHECK(regs.rip == ENTRY);
	CHECK(regs.rsp == 0xffdc && regs.rflags == 0x2);
	CHECK(regs.rbx == 0 && regs.rsi == 0);
	CHECK(sregs.cr0 == 0x80000011 && sregs.cr3 == 0x11000);
	CHECK(sregs.cr4 == 0x30 && sregs.efer == 0x500);
	CHECK(sregs.cs.selector == 0x08 && sregs.cs.type == 0xf &&
	    sregs.cs.l == 0 && sregs.cs.db == 1 && sregs.cs.limit ==
	    0xffffffff && sregs.cs.base == 0);
	CHECK(sregs.ds.selector == 0x10 && sregs.ds.type == 0x3);
	CHECK(sregs.ss.selector == 0x10 && sregs.es.selector == 0x10);
	CHECK(sregs.gdt.base == 0x10000 && sregs.gdt.limit == 0xffff);
	CHECK(sregs.idt.base == 0 && sregs.idt.limit == 0xffff);
	/* the GDT and page tables */
	CHECK(rd64(0x10000) == 0);
	CHECK(rd64(0x10008) == 0x00cf9b000000ffffULL);
	CHECK(rd64(0x10010) == 0x00cf93000000ffffULL);
	CHECK(rd64(0x11000) == 0x12001 && rd64(0x11008) == 0);
	CHECK(rd64(0x12000) == 0x13007 && rd64(0x12008) == 0);
	CHECK(rd64(0x13000) == 0x87 && rd64(0x13008) == 0x200087);
	CHECK(rd64(0x13000 + 8 * 511) == ((511ULL << 21) | 0x87));
}

/* The boot arguments chain and the stack; bootmac as given. */
static void
check_obsd_args(const uint8_t *mac)
{
	struct vm_memrange	mr[VM_MAX_MEMRANGES];
	uint64_t		at = 0x2000;
	uint32_t		size;
	size_t			n, i;

	n = vm_memmap(mem.memsize, mr, VM_MAX_MEMRANGES);
	CHECK(rd32(at) == 0 && rd32(at + 4) == 12 + 20 * (n + 1) &&
	    rd32(at + 8) == rd32(at + 4));
	for (i = 0; i < n; i++) {
		CHECK(rd64(at + 12 + 20 * i) == mr[i].addr);
		CHECK(rd64(at + 20 + 20 * i) == mr[i].size);
		CHECK(rd32(at + 28 + 20 * i) == mr[i].type);
	}
	CHECK(rd64(at + 12 + 20 * n) == 0 && rd64(at + 20 + 20 * n) == 0 &&
	    rd32(at + 28 + 20 * n) == 0);
	at += rd32(at + 4);
	CHECK(rd32(at) == 5 && rd32(at + 4) == 28 && rd32(at + 8) == 28);
	CHECK(rd32(at + 12) == 0x800 && rd32(at + 16) == 115200 &&
	    rd32(at + 20) == 0x3f8 && rd32(at + 24) == 0);
	at += 28;
	if (mac != NULL) {
		CHECK(rd32(at) == 7 && rd32(at + 4) == 20 &&
		    rd32(at + 8) == 20);
		CHECK(memcmp(gpa(at + 12), mac, 6) == 0);
		at += 20;
	}
	CHECK(rd32(at) == 0xffffffff);
	size = (uint32_t)(at + 4 - 0x2000);

	CHECK(rd32(0xfffc) == 0x2000);
	CHECK(rd32(0xfff8) == size);
	CHECK(rd32(0xfff4) == 0 && rd32(0xfff0) == 0);
	CHECK(rd32(0xffec) == (uint32_t)(OB_SYM_END & 0xfffffff));
	CHECK(rd32(0xffe8) == 0x0e);
	CHECK(rd32(0xffe4) == 0xa0000004);
	CHECK(rd32(0xffe0) == 0);		/* howto */
	CHECK(rd32(0xffdc) == 0);		/* return address */
}

static void
obsd_kernel(void)
{
	const Elf64_Ehdr *e;
	const Elf64_Shdr *sh;
	uint64_t	 s;
	size_t		 i;
	int		 ok = 1, nonzero = 0;

	memset(mem.ram, 0, GUEST_RAM);
	build_obsd(&img);
	CHECK(load(img.b, img.len, "ignored") == 0);
	CHECK(lkind == LOADFILE_OPENBSD);
	check_obsd_state();
	check_obsd_args(NULL);
	/* segments loaded, bss zero but for the random data */
	for (i = 0; i < TEXT_LEN; i++)
		ok &= *gpa(TEXT_PA + i) == (uint8_t)(i * 7 + 1);
	CHECK(ok);
	for (i = 0; i < OB_RAND_LEN; i++)
		nonzero += *gpa(OB_RAND_PA + i) != 0;
	CHECK(nonzero > OB_RAND_LEN / 2);
	CHECK(*gpa(OB_RAND_PA + OB_RAND_LEN) == 0);
	/* the ELF header copy */
	e = (const Elf64_Ehdr *)gpa(OB_SYM_START);
	CHECK(memcmp(e->e_ident, ELFMAG, SELFMAG) == 0);
	CHECK(e->e_phoff == 0 && e->e_phnum == 0 && e->e_phentsize == 0);
	CHECK(e->e_shoff == 64 && e->e_shnum == OB_SHNUM &&
	    e->e_shstrndx == 3 && e->e_entry == OB_ENTRY);
	/* section headers: wanted ones relocated and allocated */
	sh = (const Elf64_Shdr *)gpa(OB_SYM_START + 64);
	s = OB_SECT_START - OB_SYM_START;
	CHECK(sh[1].sh_offset == s && (sh[1].sh_flags & SHF_ALLOC));
	CHECK(sh[2].sh_offset == s + 0x30);
	CHECK(sh[3].sh_offset == s + 0x30 + R8(0x13));
	CHECK(sh[4].sh_offset == s + 0x30 + R8(0x13) + R8(sizeof(ob_names)));
	CHECK(sh[5].sh_offset == TEXT_OFF && !(sh[5].sh_flags & SHF_ALLOC));
	/* and the data where they say */
	CHECK(memcmp(gpa(OB_SYM_START + sh[1].sh_offset),
	    img.b + OB_SYM_OFF, 0x30) == 0);
	CHECK(memcmp(gpa(OB_SYM_START + sh[2].sh_offset),
	    img.b + OB_STR_OFF, 0x13) == 0);
	CHECK(memcmp(gpa(OB_SYM_START + sh[4].sh_offset),
	    img.b + OB_DBG_OFF, 0x18) == 0);
	/* no PVH data was written */
	CHECK(rd32(START_INFO_GPA) == 0);

	/* boot device net: the MAC */
	bootmac = (const uint8_t *)"\xfe\xe1\xba\xd0\x00\x01";
	memset(mem.ram, 0, GUEST_RAM);
	CHECK(load(img.b, img.len, "") == 0);
	check_obsd_args(bootmac);
	bootmac = NULL;

	/* other ways to say OpenBSD: the randomize segment, the OS ABI */
	build_obsd(&img);
	note(&img, NOTE_PVH)->n_type = 2;
	CHECK(load(img.b, img.len, "") == 0 && lkind == LOADFILE_OPENBSD);
	ph(&img, 3)->p_type = PT_NULL;
	expect_fail(&img, ENOEXEC, "not an OpenBSD kernel");
	img.b[EI_OSABI] = 12;
	CHECK(load(img.b, img.len, "") == 0 && lkind == LOADFILE_OPENBSD);

	/* a PVH note wins over OpenBSD marks */
	build_good(&img);
	img.b[EI_OSABI] = 12;
	CHECK(load(img.b, img.len, "") == 0 && lkind == LOADFILE_PVH);
}

/* No symbols: no tables copied, the room is still counted, as vmd does. */
static void
obsd_stripped(void)
{
	const Elf64_Shdr *sh;

	memset(mem.ram, 0, GUEST_RAM);
	build_obsd(&img);
	((Elf64_Shdr *)(img.b + SH_OFF))[1].sh_type = SHT_PROGBITS;
	CHECK(load(img.b, img.len, "") == 0);
	sh = (const Elf64_Shdr *)gpa(OB_SYM_START + 64);
	CHECK(sh[2].sh_offset == OB_SECT_START - OB_SYM_START);
	CHECK(*gpa(OB_SECT_START) == 0);	/* not copied */
	CHECK(rd32(0xffec) == (uint32_t)(OB_SECT_START + R8(0x13) +
	    R8(sizeof(ob_names)) + R8(0x18)));
	/* no sections at all */
	build_obsd(&img);
	eh(&img)->e_shnum = 0;
	eh(&img)->e_shstrndx = 0;
	CHECK(load(img.b, img.len, "") == 0);
	CHECK(rd32(0xffec) == OB_SYM_START + 64);
}

static void
obsd_hostile(void)
{
	build_obsd(&img);
	ph(&img, 1)->p_paddr = 0x2800;		/* on the boot arguments */
	ph(&img, 1)->p_memsz = 0x100;
	ph(&img, 1)->p_filesz = 0x100;
	ph(&img, 3)->p_paddr = 0x2800;
	expect_fail(&img, ERANGE, "OpenBSD boot data");
	build_obsd(&img);
	ph(&img, 1)->p_paddr = 0x13f00;		/* on the page tables */
	ph(&img, 1)->p_memsz = 0x100;
	ph(&img, 1)->p_filesz = 0x100;
	ph(&img, 3)->p_paddr = 0x13f00;
	expect_fail(&img, ERANGE, "OpenBSD boot data");
	build_obsd(&img);
	ph(&img, 1)->p_paddr = 0x6000;		/* PVH's area is fine */
	ph(&img, 3)->p_paddr = 0x6000;
	CHECK(load(img.b, img.len, "") == 0);
	build_obsd(&img);
	eh(&img)->e_entry = 0xffffffff80300000ULL;
	expect_fail(&img, ENOEXEC, "OpenBSD entry 0x300000 outside");
	build_obsd(&img);
	ph(&img, 3)->p_paddr = GUEST_RAM - 0x10;
	expect_fail(&img, ERANGE, "random data segment 3");
	build_obsd(&img);
	eh(&img)->e_shstrndx = OB_SHNUM;
	expect_fail(&img, ENOEXEC, "section name table index");
	build_obsd(&img);
	((Elf64_Shdr *)(img.b + SH_OFF))[3].sh_size = 0x100000;
	expect_fail(&img, EFBIG, "section name table too large");
	build_obsd(&img);
	((Elf64_Shdr *)(img.b + SH_OFF))[3].sh_offset = UINT64_MAX - 4;
	expect_fail(&img, ENOEXEC, "section name table past end");
	build_obsd(&img);
	((Elf64_Shdr *)(img.b + SH_OFF))[1].sh_size = UINT64_MAX;
	expect_fail(&img, ENOEXEC, "section 1 past end of file");
	build_obsd(&img);
	((Elf64_Shdr *)(img.b + SH_OFF))[3].sh_name = 0xfffffff0;
	CHECK(load(img.b, img.len, "") == 0);	/* a name out of range */
	build_obsd(&img);
	eh(&img)->e_shnum = 600;
	expect_fail(&img, EFBIG, "too many section headers");
	build_obsd(&img);
	eh(&img)->e_shentsize = 32;
	expect_fail(&img, ENOEXEC, "bad section header size");
	/* the symbols do not fit above the kernel */
	build_obsd(&img);
	ph(&img, 1)->p_paddr = GUEST_RAM - DATA_MLEN;
	ph(&img, 3)->p_paddr = GUEST_RAM - DATA_MLEN;
	expect_fail(&img, ERANGE, "no room in guest RAM for the symbol table");
	/* an initrd makes no sense to OpenBSD */
	build_obsd(&img);
	initrdfd = make_initrd(100, 0);
	expect_fail(&img, EINVAL, "OpenBSD kernels take no initrd");
	close(initrdfd);
	initrdfd = -1;
}

/* A fixed-seed xorshift: the same corrupted images on every run. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

#define NNASTY	(sizeof(nasty) / sizeof(nasty[0]))

static void
corrupt(struct image *im, uint64_t *s)
{
	static const uint64_t	 nasty[] = { 0, 1, 0xff, 0xffff,
	    0x7fffffff, 0xffffffff, 0x100000000ULL, 0x7fffffffffffffffULL,
	    0x8000000000000000ULL, UINT64_MAX, GUEST_RAM, 0x6000, 0x9ff00 };
	size_t			 n, k, off;
	uint64_t		 r, v;

	n = 1 + rnd(s) % 4;
	for (k = 0; k < n; k++) {
		r = rnd(s);
		switch (r % 8) {
		case 0: case 1: case 2:		/* headers */
			off = (r >> 8) % (PH_OFF + 3 * sizeof(Elf64_Phdr));
			break;
		case 3: case 4:			/* notes */
			off = NOTE_OFF + (r >> 8) % NOTE_LEN;
			break;
		default:
			off = (r >> 8) % im->len;
			break;
		}
		if ((r >> 40) % 4 == 0 && off + 8 <= im->len) {
			v = nasty[(r >> 44) % NNASTY];
			off &= ~(size_t)3;
			memcpy(im->b + off, &v, (r >> 50) % 2 ? 8 : 4);
		} else
			im->b[off] = (uint8_t)(r >> 32);
	}
	if (rnd(s) % 16 == 0)
		im->len = rnd(s) % (im->len + 1);
}

static void
random_corruption(void)
{
	uint64_t	seed = 0x9e3779b97f4a7c15ULL;
	int		i, rv, nok = 0, nfail = 0, bad = 0;

	for (i = 0; i < 20000; i++) {
		build_good(&img);
		corrupt(&img, &seed);
		rv = load(img.b, img.len, "console=ttyS0");
		if (rv == 0) {
			nok++;
			if (lkind == LOADFILE_OPENBSD)
				bad |= regs.rsp != 0xffdc;
			else
				bad |= regs.rbx != START_INFO_GPA;
			bad |= regs.rip > UINT32_MAX;
			bad |= vm_gpa_ptr(&mem, regs.rip, 1) == NULL;
		} else if (rv == -1) {
			nfail++;
			bad |= errbuf[0] == '\0';
			bad |= lerrno != ENOEXEC && lerrno != EFBIG &&
			    lerrno != ERANGE && lerrno != EINVAL;
		} else
			bad = 1;
		if (bad) {
			printf("    iteration %d: rv %d errno %d \"%s\" "
			    "rip 0x%llx\n", i, rv, lerrno, errbuf,
			    (unsigned long long)regs.rip);
			break;
		}
	}
	CHECK(!bad);
	/* Both outcomes must be exercised, or the loop tests nothing. */
	CHECK(nok > 100 && nfail > 100);
}

static int
write_file(const char *dir, const char *name, const struct image *im)
{
	char	 path[1024];
	FILE	*f;
	int	 ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		return (-1);
	ok = fwrite(im->b, 1, im->len, f) == im->len;
	return (fclose(f) == 0 && ok ? 0 : -1);
}

/*
 * "-w DIR" writes the seed corpus of regress/fuzz/elf_fuzz.c from the
 * same builders, so the corpus and the tests never drift apart.
 */
static int
write_corpus(const char *dir)
{
	uint32_t	e32 = ENTRY;
	int		rv = 0;

	build_good(&img);
	rv |= write_file(dir, "good.elf", &img);
	add_note_sections(&img);
	rv |= write_file(dir, "sections.elf", &img);
	build_good(&img);
	put_note(&img, NOTE_PVH, "Xen", 18, &e32, 4);
	rv |= write_file(dir, "desc32.elf", &img);
	build_good(&img);
	ph(&img, 1)->p_paddr = TEXT_PA + 0x10;
	rv |= write_file(dir, "overlap.elf", &img);
	build_good(&img);
	note(&img, NOTE_GNU)->n_namesz = 0xffffffff;
	rv |= write_file(dir, "badnote.elf", &img);
	build_good(&img);
	img.len = sizeof(Elf64_Ehdr);
	rv |= write_file(dir, "header.elf", &img);
	build_obsd(&img);
	rv |= write_file(dir, "openbsd.elf", &img);
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
	memfd = memfd_create("loadfile_elf_test", MFD_CLOEXEC);
	if (p == MAP_FAILED || memfd == -1) {
		printf("FAIL setup: %s\n", strerror(errno));
		return (1);
	}
	mem.ram = p;
	mem.memsize = GUEST_RAM;
	mem.fd = -1;

	RUN(good_image);
	RUN(reload_same_fd);
	RUN(pvh_desc_32bit);
	RUN(notes_in_sections);
	RUN(linux_notes);
	RUN(max_cmdline);
	RUN(bad_magic);
	RUN(empty_and_truncated);
	RUN(wrong_class_machine_type);
	RUN(bad_program_headers);
	RUN(segment_outside_ram);
	RUN(segment_file_bounds);
	RUN(segments_overlap);
	RUN(segment_on_boot_data);
	RUN(bad_notes);
	RUN(no_pvh_note);
	RUN(entry_outside);
	RUN(failure_leaves_ram);
	RUN(not_a_regular_file);
	RUN(pvh_initrd);
	RUN(obsd_kernel);
	RUN(obsd_stripped);
	RUN(obsd_hostile);
	RUN(random_corruption);
	TEST_EXIT();
}
