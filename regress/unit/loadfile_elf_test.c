/*
 * loadfile_elf_test.c: unit tests of the PVH ELF loader.  ELF images are
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev/vmm/vmm.h"
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
	rv = loadfile_elf(memfd, &mem, cmdline, &regs, &sregs, errbuf,
	    sizeof(errbuf));
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
	CHECK(u64 == 0);			/* rsdp */
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
static void
reload_same_fd(void)
{
	off_t	pos;

	build_good(&img);
	CHECK(load(img.b, img.len, "a") == 0);
	memset(mem.ram, 0x55, GUEST_RAM);
	pos = lseek(memfd, 0x777, SEEK_SET);
	CHECK(loadfile_elf(memfd, &mem, "b", &regs, &sregs, errbuf,
	    sizeof(errbuf)) == 0);
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
	img.len = TEXT_OFF + 10;	/* cuts segment 0 */
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
	expect_fail(&img, ENOEXEC, "no PVH entry note (only PVH ELF kernels "
	    "can be loaded directly");
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
	CHECK(loadfile_elf(p[0], &mem, "", &regs, &sregs, errbuf,
	    sizeof(errbuf)) == -1);
	CHECK(errno == EINVAL && errbuf[0] != '\0');
	close(p[0]);
	close(p[1]);
	errno = 0;
	CHECK(loadfile_elf(p[0], &mem, "", &regs, &sregs, errbuf,
	    sizeof(errbuf)) == -1);
	CHECK(errno == EBADF && errbuf[0] != '\0');
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
	RUN(random_corruption);
	TEST_EXIT();
}
