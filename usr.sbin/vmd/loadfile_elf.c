/*
 * loadfile_elf.c: loads an x86-64 ELF kernel into guest RAM and gives
 * back its entry state, in one of two ways.  A kernel with a PVH entry
 * note (XEN_ELFNOTE_PHYS32_ENTRY: Linux vmlinux, the test guest) gets
 * the PVH start info with the memory map, the command line, the ACPI
 * RSDP and an initrd as its first module, and enters in 32-bit protected
 * mode.  An OpenBSD kernel (its ident note, its randomize segment or its
 * ELF OS ABI) gets what OpenBSD's vmd gives it: the symbol table copied
 * after the kernel, the BIOS boot arguments (memory map, com0 at 115200,
 * the boot MAC for "boot device net"), the boot loader's stack, a GDT and
 * an identity map of the first GiB, and enters in compatibility mode.
 * The file is hostile input: every header field is checked before use,
 * the file is only read with pread() (its offset never matters, so the
 * same fd reloads on reboot), and nothing is written to guest RAM until
 * the whole image has been validated.  It must never write outside the
 * ranges vm_gpa_ptr() hands out, never trust a size without an
 * overflow-safe bound, and never abort on a bad file: errors come back as
 * -1, errno and a short reason.
 *
 * errno: ENOEXEC for anything that is not a loadable kernel (bad or
 * truncated headers, bad notes, no entry), EFBIG for headers or notes past
 * our caps, ERANGE for segments, symbols or an initrd outside guest RAM or
 * on the boot area, EINVAL for inconsistent segments and an over-long
 * command line, EIO for a failed or short read.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev/vmm/vmm.h"
#include "loadfile.h"
#include "vm.h"

/*
 * Where the PVH boot data goes in guest-physical memory.  Low RAM below
 * 0x8000 is free on our platform (no BIOS data is needed for PVH) and
 * below any place a kernel is linked to, so a segment landing there is
 * refused rather than silently overwritten.  The start info is followed
 * directly by the memory map; the command line gets its own page.
 */
#define PVH_START_INFO_GPA	0x6000ULL
#define PVH_CMDLINE_GPA		0x7000ULL
#define PVH_AREA_START		PVH_START_INFO_GPA
#define PVH_AREA_END		(PVH_CMDLINE_GPA + VM_CMDLINE_LEN)

/*
 * Where OpenBSD's vmd puts an OpenBSD kernel's boot data (its
 * loadfile.h): the boot arguments, the boot loader's stack, the GDT and
 * the page tables mapping the first GiB.
 */
#define OBSD_BOOTARGS_GPA	0x2000ULL
#define OBSD_STACK_GPA		0xf000ULL
#define OBSD_GDT_GPA		0x10000ULL
#define OBSD_PML4_GPA		0x11000ULL
#define OBSD_PML3_GPA		0x12000ULL
#define OBSD_PML2_GPA		0x13000ULL
#define OBSD_AREA_END		0x14000ULL
#define OBSD_PAGE		4096

/* Caps on what a hostile header may make us read. */
#define ELF_MAX_PHDRS		64
#define ELF_MAX_SHDRS		512
#define ELF_MAX_NOTES_SIZE	(64 * 1024)	/* each */
#define ELF_MAX_SHSTRTAB	(64 * 1024)

#define XEN_ELFNOTE_PHYS32_ENTRY	18
#define XEN_HVM_START_MAGIC_VALUE	0x336ec578U

#define PT_OPENBSD_RANDOMIZE	0x65a3dbe6
#define NT_OPENBSD_IDENT	1
#define ELFOSABI_OPENBSD_	12

/* OpenBSD's boot arguments (machine/biosvar.h) */
#define BOOTARG_MEMMAP		0
#define BOOTARG_CONSDEV		5
#define BOOTARG_BOOTMAC		7
#define BOOTARG_END		0xffffffffU
#define BOOTARG_APIVER		0x0e
#define OBSD_BOOTDEV		0xa0000004U	/* MAKEBOOTDEV(4,0,0,0,0): sd0a */
#define OBSD_COM0_DEV		0x800		/* makedev(8, 0) */
#define OBSD_COM0_SPEED		115200
#define OBSD_LOADADDR_MASK	0xfffffffULL	/* amd64 LOADADDR() */

/* PVH boot ABI structures, laid out as in Xen's hvm/start_info.h. */
struct hvm_start_info {
	uint32_t	magic;
	uint32_t	version;
	uint32_t	flags;
	uint32_t	nr_modules;
	uint64_t	modlist_paddr;
	uint64_t	cmdline_paddr;
	uint64_t	rsdp_paddr;
	uint64_t	memmap_paddr;
	uint32_t	memmap_entries;
	uint32_t	reserved;
};

struct hvm_memmap_table_entry {
	uint64_t	addr;
	uint64_t	size;
	uint32_t	type;
	uint32_t	reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24,
    "hvm_memmap_table_entry");
#define PVH_MEMMAP_GPA \
	(PVH_START_INFO_GPA + sizeof(struct hvm_start_info))
struct hvm_modlist_entry {
	uint64_t	paddr;
	uint64_t	size;
	uint64_t	cmdline_paddr;
	uint64_t	reserved;
};

_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry");
#define PVH_MODLIST_GPA \
	(PVH_MEMMAP_GPA + VM_MAX_MEMRANGES * \
	sizeof(struct hvm_memmap_table_entry))
_Static_assert(PVH_MODLIST_GPA + sizeof(struct hvm_modlist_entry) <=
    PVH_CMDLINE_GPA, "PVH memory map and module list run into the "
    "command line");

/* An area of boot data that no segment may overlap. */
struct boot_area {
	uint64_t	 start;
	uint64_t	 end;
};

static const struct boot_area pvh_areas[] = {
	{ PVH_AREA_START, PVH_AREA_END }
};
static const struct boot_area obsd_areas[] = {
	{ OBSD_BOOTARGS_GPA, OBSD_BOOTARGS_GPA + OBSD_PAGE },
	{ OBSD_STACK_GPA, OBSD_AREA_END }
};

struct elf_image {
	int		 fd;
	uint64_t	 size;		/* of the file, from fstat */
	Elf64_Ehdr	 eh;
	Elf64_Phdr	 ph[ELF_MAX_PHDRS];
	size_t		 phnum;
	int		 have_entry;
	uint32_t	 entry;
	int		 openbsd;	/* an OpenBSD kernel */
	int		 is_linux;	/* Linux's notes: a vmlinux */
	const struct boot_area *areas;
	size_t		 nareas;
	const char	*area_name;
	uint64_t	 seg_end;	/* end of the highest segment */
	/* OpenBSD: the symbols copied after the kernel */
	Elf64_Shdr	*sh;		/* NULL if not loaded */
	size_t		 shnum;
	char		*shstr;
	uint64_t	 shstrsz;
	uint64_t	 sym_start;	/* where the ELF header copy goes */
	uint64_t	 sym_end;	/* the kernel's "end", before masking */
	char		*err;
	size_t		 errlen;
};

static int	elf_fail(struct elf_image *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static int
elf_fail(struct elf_image *img, int error, const char *fmt, ...)
{
	va_list	ap;

	if (img->err != NULL && img->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(img->err, img->errlen, fmt, ap);
		va_end(ap);
	}
	errno = error;
	return (-1);
}

/* Is [off, off + len) inside the file?  Written so nothing can wrap. */
static int
elf_in_file(const struct elf_image *img, uint64_t off, uint64_t len)
{
	return (off <= img->size && len <= img->size - off);
}

/*
 * Read exactly len bytes at off.  The size was checked against fstat, so
 * a short read means the file changed under us: an I/O error, not a bad
 * image.
 */
static int
elf_read(struct elf_image *img, uint64_t off, void *buf, size_t len)
{
	uint8_t	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		if (off > (uint64_t)INT64_MAX)
			return (elf_fail(img, EIO, "read past the largest "
			    "file offset"));
		n = pread(img->fd, p, len, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return (elf_fail(img, EIO, "read error at offset "
			    "0x%llx: %s", (unsigned long long)off,
			    strerror(errno)));
		if (n == 0)
			return (elf_fail(img, EIO, "short read at offset "
			    "0x%llx: file changed while loading",
			    (unsigned long long)off));
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return (0);
}

static int
elf_check_header(struct elf_image *img)
{
	const Elf64_Ehdr	*eh = &img->eh;
	size_t			 avail;

	if (img->size == 0)
		return (elf_fail(img, ENOEXEC, "not an ELF file (empty)"));
	avail = img->size < sizeof(*eh) ? (size_t)img->size : sizeof(*eh);
	memset(&img->eh, 0, sizeof(img->eh));
	if (elf_read(img, 0, &img->eh, avail) == -1)
		return (-1);
	if (avail < SELFMAG || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return (elf_fail(img, ENOEXEC, "not an ELF file"));
	if (avail < EI_NIDENT)
		return (elf_fail(img, ENOEXEC, "truncated ELF header"));
	if (eh->e_ident[EI_CLASS] == ELFCLASS32)
		return (elf_fail(img, ENOEXEC, "32-bit ELF not supported"));
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return (elf_fail(img, ENOEXEC, "bad ELF class %u",
		    eh->e_ident[EI_CLASS]));
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return (elf_fail(img, ENOEXEC, "not a little-endian ELF"));
	if (avail < sizeof(*eh))
		return (elf_fail(img, ENOEXEC, "truncated ELF header"));
	if (eh->e_ident[EI_VERSION] != EV_CURRENT ||
	    eh->e_version != EV_CURRENT)
		return (elf_fail(img, ENOEXEC, "bad ELF version"));
	if (eh->e_machine != EM_X86_64)
		return (elf_fail(img, ENOEXEC, "not an x86-64 ELF "
		    "(machine %u)", eh->e_machine));
	if (eh->e_type != ET_EXEC)
		return (elf_fail(img, ENOEXEC, "not an executable ELF "
		    "(type %u)", eh->e_type));
	return (0);
}

static int
elf_read_phdrs(struct elf_image *img)
{
	const Elf64_Ehdr	*eh = &img->eh;
	uint64_t		 len;

	if (eh->e_phnum == 0)
		return (elf_fail(img, ENOEXEC, "no program headers"));
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return (elf_fail(img, ENOEXEC, "bad program header size %u "
		    "(expected %zu)", eh->e_phentsize, sizeof(Elf64_Phdr)));
	if (eh->e_phnum > ELF_MAX_PHDRS)
		return (elf_fail(img, EFBIG, "too many program headers "
		    "(%u, max %d)", eh->e_phnum, ELF_MAX_PHDRS));
	len = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
	if (!elf_in_file(img, eh->e_phoff, len))
		return (elf_fail(img, ENOEXEC, "truncated file: program "
		    "headers past end of file"));
	img->phnum = eh->e_phnum;
	return (elf_read(img, eh->e_phoff, img->ph, (size_t)len));
}

/* Half-open ranges [a, a + alen) and [b, b + blen), neither wrapping. */
static int
ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return (a < b + blen && b < a + alen);
}

static int
elf_is_load(const Elf64_Phdr *ph)
{
	return (ph->p_type == PT_LOAD && ph->p_memsz > 0);
}

static int
elf_check_segment(struct elf_image *img, const struct vm_mem *mem, size_t i)
{
	const Elf64_Phdr	*ph = &img->ph[i];
	const struct boot_area	*a;
	unsigned long long	 pa = ph->p_paddr, msz = ph->p_memsz;
	size_t			 j;

	if (ph->p_filesz > ph->p_memsz)
		return (elf_fail(img, EINVAL, "segment %zu: file size 0x%llx "
		    "larger than memory size 0x%llx", i,
		    (unsigned long long)ph->p_filesz, msz));
	if (!elf_in_file(img, ph->p_offset, ph->p_filesz))
		return (elf_fail(img, ENOEXEC, "truncated file: segment %zu "
		    "data past end of file", i));
	if (msz > UINT64_MAX - pa ||
	    vm_gpa_ptr(mem, ph->p_paddr, ph->p_memsz) == NULL)
		return (elf_fail(img, ERANGE, "segment %zu at 0x%llx size "
		    "0x%llx outside guest RAM", i, pa, msz));
	for (j = 0; j < img->nareas; j++) {
		a = &img->areas[j];
		if (ranges_overlap(pa, msz, a->start, a->end - a->start))
			return (elf_fail(img, ERANGE, "segment %zu at 0x%llx "
			    "size 0x%llx overlaps the %s boot data at "
			    "0x%llx-0x%llx", i, pa, msz, img->area_name,
			    (unsigned long long)a->start,
			    (unsigned long long)a->end - 1));
	}
	if (ph->p_paddr + ph->p_memsz > img->seg_end)
		img->seg_end = ph->p_paddr + ph->p_memsz;
	return (0);
}

/*
 * Validate every PT_LOAD before anything is copied, so a bad image leaves
 * guest RAM as it was.  Empty PT_LOADs are ignored: they load nothing.
 */
static int
elf_check_segments(struct elf_image *img, const struct vm_mem *mem)
{
	const Elf64_Phdr	*a, *b;
	size_t			 i, j, nload = 0;

	for (i = 0; i < img->phnum; i++) {
		a = &img->ph[i];
		if (!elf_is_load(a))
			continue;
		if (elf_check_segment(img, mem, i) == -1)
			return (-1);
		nload++;
		for (j = 0; j < i; j++) {
			b = &img->ph[j];
			if (elf_is_load(b) && ranges_overlap(a->p_paddr,
			    a->p_memsz, b->p_paddr, b->p_memsz))
				return (elf_fail(img, EINVAL, "segments %zu "
				    "and %zu overlap", j, i));
		}
	}
	if (nload == 0)
		return (elf_fail(img, ENOEXEC, "no loadable segments"));
	return (0);
}

/*
 * Walk the notes in buf (one note segment or section, what/idx naming it
 * in errors) and record the first PVH entry.  Sizes are widened before
 * rounding so a namesz near 2^32 cannot wrap.
 */
static int
elf_parse_notes(struct elf_image *img, const uint8_t *buf, size_t len,
    const char *what, size_t idx)
{
	Elf64_Nhdr	 nh;
	uint64_t	 namepad, descpad, left;
	size_t		 off = 0;
	const uint8_t	*name, *desc;

	while (len - off >= sizeof(nh)) {
		memcpy(&nh, buf + off, sizeof(nh));
		off += sizeof(nh);
		left = len - off;
		namepad = ((uint64_t)nh.n_namesz + 3) & ~3ULL;
		descpad = ((uint64_t)nh.n_descsz + 3) & ~3ULL;
		if (namepad > left || nh.n_descsz > left - namepad)
			return (elf_fail(img, ENOEXEC, "bad note in %s %zu: "
			    "name or description past its end", what, idx));
		name = buf + off;
		desc = name + namepad;
		if (nh.n_namesz == 8 && memcmp(name, "OpenBSD", 8) == 0 &&
		    nh.n_type == NT_OPENBSD_IDENT)
			img->openbsd = 1;
		if (nh.n_namesz == 6 && memcmp(name, "Linux", 6) == 0)
			img->is_linux = 1;
		if (!img->have_entry && nh.n_namesz == 4 &&
		    memcmp(name, "Xen", 4) == 0 &&
		    nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY) {
			if (nh.n_descsz != 4 && nh.n_descsz != 8)
				return (elf_fail(img, ENOEXEC, "bad PVH entry "
				    "note in %s %zu: size %u", what, idx,
				    nh.n_descsz));
			/* A 64-bit entry is still a 32-bit address. */
			memcpy(&img->entry, desc, sizeof(img->entry));
			img->have_entry = 1;
		}
		/* The last note may lack its padding. */
		if (namepad + descpad >= left)
			break;
		off += (size_t)(namepad + descpad);
	}
	return (0);
}

static int
elf_scan_notes(struct elf_image *img, uint64_t off, uint64_t len,
    const char *what, size_t idx)
{
	uint8_t	*buf;
	int	 rv;

	if (!elf_in_file(img, off, len))
		return (elf_fail(img, ENOEXEC, "truncated file: %s %zu data "
		    "past end of file", what, idx));
	if (len > ELF_MAX_NOTES_SIZE)
		return (elf_fail(img, EFBIG, "%s %zu too large (0x%llx bytes, "
		    "max 0x%x)", what, idx, (unsigned long long)len,
		    ELF_MAX_NOTES_SIZE));
	if (len == 0)
		return (0);
	if ((buf = malloc((size_t)len)) == NULL)
		return (elf_fail(img, ENOMEM, "out of memory reading notes"));
	rv = elf_read(img, off, buf, (size_t)len);
	if (rv == 0)
		rv = elf_parse_notes(img, buf, (size_t)len, what, idx);
	free(buf);
	return (rv);
}

/* Linkers may keep notes only in sections; look there as a fallback. */
static int
elf_scan_note_sections(struct elf_image *img)
{
	const Elf64_Ehdr	*eh = &img->eh;
	Elf64_Shdr		 sh;
	uint64_t		 off;
	size_t			 i;

	if (eh->e_shnum == 0)
		return (0);
	if (eh->e_shentsize != sizeof(Elf64_Shdr))
		return (elf_fail(img, ENOEXEC, "bad section header size %u "
		    "(expected %zu)", eh->e_shentsize, sizeof(Elf64_Shdr)));
	if (eh->e_shnum > ELF_MAX_SHDRS)
		return (elf_fail(img, EFBIG, "too many section headers "
		    "(%u, max %d)", eh->e_shnum, ELF_MAX_SHDRS));
	if (!elf_in_file(img, eh->e_shoff,
	    (uint64_t)eh->e_shnum * sizeof(sh)))
		return (elf_fail(img, ENOEXEC, "truncated file: section "
		    "headers past end of file"));
	for (i = 0; i < eh->e_shnum && !img->have_entry; i++) {
		off = eh->e_shoff + i * sizeof(sh);
		if (elf_read(img, off, &sh, sizeof(sh)) == -1)
			return (-1);
		if (sh.sh_type != SHT_NOTE)
			continue;
		if (elf_scan_notes(img, sh.sh_offset, sh.sh_size,
		    "note section", i) == -1)
			return (-1);
	}
	return (0);
}

/*
 * Which boot protocol: the PVH note wins; else an OpenBSD kernel by its
 * ident note, its randomize segment or its OS ABI.
 */
static int
elf_find_kind(struct elf_image *img)
{
	const Elf64_Phdr	*ph;
	size_t			 i, nnote = 0;

	for (i = 0; i < img->phnum; i++) {
		ph = &img->ph[i];
		if (ph->p_type == PT_OPENBSD_RANDOMIZE)
			img->openbsd = 1;
		if (ph->p_type != PT_NOTE)
			continue;
		nnote++;
		if (elf_scan_notes(img, ph->p_offset, ph->p_filesz,
		    "note segment", i) == -1)
			return (-1);
	}
	if (nnote == 0 && elf_scan_note_sections(img) == -1)
		return (-1);
	if (img->eh.e_ident[EI_OSABI] == ELFOSABI_OPENBSD_)
		img->openbsd = 1;
	if (img->have_entry) {
		img->areas = pvh_areas;
		img->nareas = sizeof(pvh_areas) / sizeof(pvh_areas[0]);
		img->area_name = "PVH";
		return (0);
	}
	if (img->openbsd) {
		img->entry = (uint32_t)(img->eh.e_entry & OBSD_LOADADDR_MASK);
		img->areas = obsd_areas;
		img->nareas = sizeof(obsd_areas) / sizeof(obsd_areas[0]);
		img->area_name = "OpenBSD";
		return (0);
	}
	return (elf_fail(img, ENOEXEC, "no PVH entry note, and not an "
	    "OpenBSD kernel: vmd boots ELF kernels with a PVH note (Linux "
	    "vmlinux) or OpenBSD kernels"));
}

static int
elf_check_entry(struct elf_image *img)
{
	const Elf64_Phdr	*ph;
	size_t			 i;

	for (i = 0; i < img->phnum; i++) {
		ph = &img->ph[i];
		if (elf_is_load(ph) && img->entry >= ph->p_paddr &&
		    img->entry - ph->p_paddr < ph->p_memsz)
			return (0);
	}
	return (elf_fail(img, ENOEXEC, "%s entry 0x%x outside the loaded "
	    "segments", img->have_entry ? "PVH" : "OpenBSD", img->entry));
}

static int
elf_load_segments(struct elf_image *img, const struct vm_mem *mem)
{
	const Elf64_Phdr	*ph;
	uint8_t			*dst;
	size_t			 i;

	for (i = 0; i < img->phnum; i++) {
		ph = &img->ph[i];
		if (!elf_is_load(ph))
			continue;
		/* Checked by elf_check_segments(); never NULL here. */
		if ((dst = vm_gpa_ptr(mem, ph->p_paddr, ph->p_memsz)) == NULL)
			return (elf_fail(img, ERANGE, "segment %zu outside "
			    "guest RAM", i));
		if (elf_read(img, ph->p_offset, dst, (size_t)ph->p_filesz)
		    == -1)
			return (-1);
		memset(dst + ph->p_filesz, 0,
		    (size_t)(ph->p_memsz - ph->p_filesz));
	}
	return (0);
}

/*
 * OpenBSD's boot loader copies the symbol table after the kernel for
 * ddb: an ELF header, all section headers, then the symbol and string
 * tables (and .debug_line, CTF), each 8-byte aligned, their offsets made
 * relative to the header copy.  Plan it here: read and check the section
 * headers and names, and compute where it all goes, before anything is
 * written.
 */
#define ROUND8(x)	(((x) + 7) & ~7ULL)

static int
obsd_sym_wanted(const struct elf_image *img, const Elf64_Shdr *sh)
{
	const char	*name;
	uint64_t	 left;

	if (sh->sh_type == SHT_SYMTAB || sh->sh_type == SHT_STRTAB)
		return (1);
	if (img->shstr == NULL || sh->sh_name >= img->shstrsz)
		return (0);
	name = img->shstr + sh->sh_name;
	left = img->shstrsz - sh->sh_name;
	return ((left >= sizeof(".debug_line") &&
	    memcmp(name, ".debug_line", sizeof(".debug_line")) == 0) ||
	    (left >= sizeof(".SUNW_ctf") &&
	    memcmp(name, ".SUNW_ctf", sizeof(".SUNW_ctf")) == 0));
}

static int
obsd_plan_symbols(struct elf_image *img, const struct vm_mem *mem)
{
	const Elf64_Ehdr	*eh = &img->eh;
	const Elf64_Shdr	*str;
	const struct boot_area	*a;
	uint64_t		 end, len;
	size_t			 i;

	img->sym_start = ROUND8(img->seg_end);
	end = img->sym_start + sizeof(Elf64_Ehdr);
	img->shnum = eh->e_shnum;
	if (img->shnum > 0) {
		if (eh->e_shentsize != sizeof(Elf64_Shdr))
			return (elf_fail(img, ENOEXEC, "bad section header "
			    "size %u (expected %zu)", eh->e_shentsize,
			    sizeof(Elf64_Shdr)));
		if (img->shnum > ELF_MAX_SHDRS)
			return (elf_fail(img, EFBIG, "too many section headers "
			    "(%zu, max %d)", img->shnum, ELF_MAX_SHDRS));
		len = (uint64_t)img->shnum * sizeof(Elf64_Shdr);
		if (!elf_in_file(img, eh->e_shoff, len))
			return (elf_fail(img, ENOEXEC, "truncated file: "
			    "section headers past end of file"));
		if ((img->sh = calloc(img->shnum, sizeof(Elf64_Shdr))) == NULL)
			return (elf_fail(img, ENOMEM, "out of memory reading "
			    "section headers"));
		if (elf_read(img, eh->e_shoff, img->sh, (size_t)len) == -1)
			return (-1);
		if (eh->e_shstrndx != SHN_UNDEF) {
			if (eh->e_shstrndx >= img->shnum)
				return (elf_fail(img, ENOEXEC, "section name "
				    "table index %u out of range",
				    eh->e_shstrndx));
			str = &img->sh[eh->e_shstrndx];
			if (str->sh_size > ELF_MAX_SHSTRTAB)
				return (elf_fail(img, EFBIG, "section name "
				    "table too large (0x%llx bytes)",
				    (unsigned long long)str->sh_size));
			if (!elf_in_file(img, str->sh_offset, str->sh_size))
				return (elf_fail(img, ENOEXEC, "truncated "
				    "file: section name table past end of "
				    "file"));
			img->shstrsz = str->sh_size;
			if ((img->shstr = malloc(img->shstrsz + 1)) == NULL)
				return (elf_fail(img, ENOMEM, "out of memory "
				    "reading section names"));
			if (elf_read(img, str->sh_offset, img->shstr,
			    (size_t)img->shstrsz) == -1)
				return (-1);
			img->shstr[img->shstrsz] = '\0';
		}
		end += ROUND8(len);
		for (i = 0; i < img->shnum; i++) {
			if (!obsd_sym_wanted(img, &img->sh[i]))
				continue;
			if (!elf_in_file(img, img->sh[i].sh_offset,
			    img->sh[i].sh_size))
				return (elf_fail(img, ENOEXEC, "truncated "
				    "file: section %zu past end of file", i));
			end += ROUND8(img->sh[i].sh_size);
		}
	}
	/* each term is bounded by the file size: no wrap */
	if (vm_gpa_ptr(mem, img->sym_start, end - img->sym_start) == NULL)
		return (elf_fail(img, ERANGE, "no room in guest RAM for the "
		    "symbol table at 0x%llx-0x%llx",
		    (unsigned long long)img->sym_start,
		    (unsigned long long)end));
	for (i = 0; i < img->nareas; i++) {
		a = &img->areas[i];
		if (ranges_overlap(img->sym_start, end - img->sym_start,
		    a->start, a->end - a->start))
			return (elf_fail(img, ERANGE, "symbol table at "
			    "0x%llx overlaps the OpenBSD boot data",
			    (unsigned long long)img->sym_start));
	}
	img->sym_end = end;
	return (0);
}

static int
obsd_load_symbols(struct elf_image *img, const struct vm_mem *mem)
{
	Elf64_Ehdr	 eh = img->eh;
	uint64_t	 at, off;
	uint8_t		*dst;
	size_t		 i;
	int		 havesyms = 0;

	for (i = 0; i < img->shnum; i++)
		if (img->sh[i].sh_type == SHT_SYMTAB)
			havesyms = 1;
	at = img->sym_start + sizeof(Elf64_Ehdr) +
	    ROUND8((uint64_t)img->shnum * sizeof(Elf64_Shdr));
	off = ROUND8(sizeof(Elf64_Ehdr) +
	    (uint64_t)img->shnum * sizeof(Elf64_Shdr));
	for (i = 0; i < img->shnum; i++) {
		if (!obsd_sym_wanted(img, &img->sh[i]))
			continue;
		/* as OpenBSD's loader: no symbols, no tables, same room */
		if (havesyms && img->sh[i].sh_size > 0) {
			dst = vm_gpa_ptr(mem, at, img->sh[i].sh_size);
			if (dst == NULL)
				return (elf_fail(img, ERANGE, "symbols outside "
				    "guest RAM"));
			if (elf_read(img, img->sh[i].sh_offset, dst,
			    (size_t)img->sh[i].sh_size) == -1)
				return (-1);
		}
		at += ROUND8(img->sh[i].sh_size);
		img->sh[i].sh_offset = off;
		img->sh[i].sh_flags |= SHF_ALLOC;
		off += ROUND8(img->sh[i].sh_size);
	}
	if (img->shnum > 0) {
		dst = vm_gpa_ptr(mem, img->sym_start + sizeof(eh),
		    (uint64_t)img->shnum * sizeof(Elf64_Shdr));
		if (dst == NULL)
			return (elf_fail(img, ERANGE, "symbols outside guest "
			    "RAM"));
		memcpy(dst, img->sh, img->shnum * sizeof(Elf64_Shdr));
	}
	eh.e_phoff = 0;
	eh.e_shoff = sizeof(Elf64_Ehdr);
	eh.e_phentsize = 0;
	eh.e_phnum = 0;
	if ((dst = vm_gpa_ptr(mem, img->sym_start, sizeof(eh))) == NULL)
		return (elf_fail(img, ERANGE, "symbols outside guest RAM"));
	memcpy(dst, &eh, sizeof(eh));
	return (0);
}

/* PT_OPENBSD_RANDOMIZE: the kernel's random data, filled by the loader. */
static int
obsd_check_random(struct elf_image *img, const struct vm_mem *mem)
{
	const Elf64_Phdr	*ph;
	size_t			 i;

	for (i = 0; i < img->phnum; i++) {
		ph = &img->ph[i];
		if (ph->p_type != PT_OPENBSD_RANDOMIZE || ph->p_filesz == 0)
			continue;
		if (vm_gpa_ptr(mem, ph->p_paddr, ph->p_filesz) == NULL)
			return (elf_fail(img, ERANGE, "random data segment %zu "
			    "at 0x%llx outside guest RAM", i,
			    (unsigned long long)ph->p_paddr));
	}
	return (0);
}

static void
obsd_fill_random(struct elf_image *img, const struct vm_mem *mem)
{
	const Elf64_Phdr	*ph;
	size_t			 i;

	for (i = 0; i < img->phnum; i++) {
		ph = &img->ph[i];
		if (ph->p_type == PT_OPENBSD_RANDOMIZE && ph->p_filesz > 0)
			arc4random_buf(vm_gpa_ptr(mem, ph->p_paddr,
			    ph->p_filesz), (size_t)ph->p_filesz);
	}
}

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void
put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/*
 * The boot arguments page: a chain of {type, size, next} headers with
 * their payloads, as OpenBSD's boot(8) leaves them; returns its size.
 */
static uint32_t
obsd_bootargs(uint8_t *ba, const struct vm_mem *mem, const uint8_t *bootmac)
{
	struct vm_memrange	 mr[VM_MAX_MEMRANGES];
	uint32_t		 at = 0, sz;
	size_t			 i, n;

	memset(ba, 0, OBSD_PAGE);
	n = vm_memmap(mem->memsize, mr, VM_MAX_MEMRANGES);
	/* bios_memmap_t: addr, size, type; packed; a zero entry ends it */
	sz = 12 + (uint32_t)(n + 1) * 20;
	put32(ba + at, BOOTARG_MEMMAP);
	put32(ba + at + 4, sz);
	put32(ba + at + 8, sz);
	for (i = 0; i < n; i++) {
		put64(ba + at + 12 + 20 * i, mr[i].addr);
		put64(ba + at + 12 + 20 * i + 8, mr[i].size);
		put32(ba + at + 12 + 20 * i + 16, mr[i].type);
	}
	at += sz;
	/* bios_consdev_t: dev, speed, addr, freq: com0 */
	sz = 12 + 16;
	put32(ba + at, BOOTARG_CONSDEV);
	put32(ba + at + 4, sz);
	put32(ba + at + 8, sz);
	put32(ba + at + 12, OBSD_COM0_DEV);
	put32(ba + at + 16, OBSD_COM0_SPEED);
	put32(ba + at + 20, VM_COM1_PORT);
	put32(ba + at + 24, 0);
	at += sz;
	if (bootmac != NULL) {
		sz = 12 + 8;		/* 6 bytes, padded */
		put32(ba + at, BOOTARG_BOOTMAC);
		put32(ba + at + 4, sz);
		put32(ba + at + 8, sz);
		memcpy(ba + at + 12, bootmac, 6);
		at += sz;
	}
	put32(ba + at, BOOTARG_END);
	return (at + 4);
}

/*
 * The OpenBSD boot data; returns the stack pointer.  The stack holds
 * what boot(8) passes to the kernel's start: howto, bootdev, the boot
 * argument API version, the kernel's end, extmem, cnvmem, the size of
 * the boot arguments and their address, above a null return address.
 */
static uint32_t
obsd_write_boot_data(struct elf_image *img, const struct vm_mem *mem,
    const struct loadfile_args *args)
{
	uint8_t		*ba, *stack, *gdt, *pml4, *pml3, *pml2;
	uint32_t	 bootargsz, *sp;
	uint64_t	 i;

	/* all checked in loadfile_elf() against vm_gpa_ptr() */
	ba = vm_gpa_ptr(mem, OBSD_BOOTARGS_GPA, OBSD_PAGE);
	stack = vm_gpa_ptr(mem, OBSD_STACK_GPA, OBSD_PAGE);
	gdt = vm_gpa_ptr(mem, OBSD_GDT_GPA, OBSD_PAGE);
	pml4 = vm_gpa_ptr(mem, OBSD_PML4_GPA, OBSD_PAGE);
	pml3 = vm_gpa_ptr(mem, OBSD_PML3_GPA, OBSD_PAGE);
	pml2 = vm_gpa_ptr(mem, OBSD_PML2_GPA, OBSD_PAGE);

	bootargsz = obsd_bootargs(ba, mem, args->bootmac);

	memset(stack, 0, OBSD_PAGE);
	sp = (uint32_t *)(void *)(stack + OBSD_PAGE);
	*--sp = OBSD_BOOTARGS_GPA;
	*--sp = bootargsz;
	*--sp = 0;				/* cnvmem: use the map */
	*--sp = 0;				/* extmem */
	*--sp = (uint32_t)(img->sym_end & OBSD_LOADADDR_MASK);
	*--sp = BOOTARG_APIVER;
	*--sp = OBSD_BOOTDEV;
	*--sp = 0;				/* howto */
	--sp;					/* return address */

	/* null, then flat 32-bit code (0x08) and data (0x10) */
	memset(gdt, 0, OBSD_PAGE);
	put64(gdt + 0x08, 0x00cf9b000000ffffULL);
	put64(gdt + 0x10, 0x00cf93000000ffffULL);

	/* the first GiB in 2 MiB pages, as vmd maps it */
	memset(pml4, 0, OBSD_PAGE);
	memset(pml3, 0, OBSD_PAGE);
	put64(pml4, OBSD_PML3_GPA | 0x1);			/* V */
	put64(pml3, OBSD_PML2_GPA | 0x7);			/* V RW U */
	for (i = 0; i < 512; i++)
		put64(pml2 + 8 * i, (i << 21) | 0x87);	/* V RW U PS */

	return ((uint32_t)(OBSD_STACK_GPA +
	    ((uint8_t *)sp - stack)));
}

static void
seg_flat(struct vmm_segment *s, uint16_t sel, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->db = 1;
	s->g = 1;
}

/*
 * OpenBSD vmd's entry state for an ELF kernel: long mode active with
 * paging on the identity map, in compatibility mode (a 32-bit code
 * segment), as a 32-bit boot loader would have jumped to the kernel.
 */
static void
obsd_set_regs(uint32_t entry, uint32_t rsp, struct vmm_regs *regs,
    struct vmm_sregs *sregs)
{
	memset(regs, 0, sizeof(*regs));
	regs->rip = entry;
	regs->rsp = rsp;
	regs->rflags = 0x2;

	memset(sregs, 0, sizeof(*sregs));
	seg_flat(&sregs->cs, 0x08, 0xf);
	seg_flat(&sregs->ds, 0x10, 0x3);
	sregs->es = sregs->ss = sregs->fs = sregs->gs = sregs->ds;
	sregs->tr.type = 0xb;
	sregs->tr.present = 1;
	sregs->tr.limit = 0xffff;
	sregs->ldt.type = 2;
	sregs->ldt.present = 1;
	sregs->ldt.limit = 0xffff;
	sregs->gdt.base = OBSD_GDT_GPA;
	sregs->gdt.limit = 0xffff;
	sregs->idt.limit = 0xffff;
	sregs->cr0 = 0x80000011ULL;		/* PG, ET, PE */
	sregs->cr3 = OBSD_PML4_GPA;
	sregs->cr4 = 0x30;			/* PAE, PSE */
	sregs->efer = 0x500;			/* LMA, LME */
	sregs->apic_base = 0xfee00000ULL | 0x800 | 0x100;
}

/*
 * The start info, memory map, module list (the initrd) and command line,
 * per the PVH boot ABI.
 */
static int
pvh_write_boot_data(struct elf_image *img, const struct vm_mem *mem,
    const char *cmdline, size_t cmdlen, uint64_t rsdp, uint64_t initrd,
    uint64_t initrd_size)
{
	struct hvm_start_info		 si;
	struct hvm_memmap_table_entry	 e;
	struct hvm_modlist_entry	 m;
	struct vm_memrange		 mr[VM_MAX_MEMRANGES];
	uint8_t				*area, *p;
	size_t				 i, n;

	area = vm_gpa_ptr(mem, PVH_AREA_START, PVH_AREA_END - PVH_AREA_START);
	if (area == NULL)
		return (elf_fail(img, ERANGE, "guest RAM too small for the "
		    "PVH boot data"));
	memset(area, 0, PVH_AREA_END - PVH_AREA_START);

	n = vm_memmap(mem->memsize, mr, VM_MAX_MEMRANGES);
	if (n > VM_MAX_MEMRANGES)
		n = VM_MAX_MEMRANGES;
	p = area + (PVH_MEMMAP_GPA - PVH_AREA_START);
	for (i = 0; i < n; i++) {
		memset(&e, 0, sizeof(e));
		e.addr = mr[i].addr;
		e.size = mr[i].size;
		e.type = mr[i].type;
		memcpy(p + i * sizeof(e), &e, sizeof(e));
	}

	memset(&si, 0, sizeof(si));
	si.magic = XEN_HVM_START_MAGIC_VALUE;
	si.version = 1;
	si.cmdline_paddr = PVH_CMDLINE_GPA;
	si.rsdp_paddr = rsdp;
	si.memmap_paddr = PVH_MEMMAP_GPA;
	si.memmap_entries = (uint32_t)n;
	if (initrd_size > 0) {
		memset(&m, 0, sizeof(m));
		m.paddr = initrd;
		m.size = initrd_size;
		memcpy(area + (PVH_MODLIST_GPA - PVH_AREA_START), &m,
		    sizeof(m));
		si.nr_modules = 1;
		si.modlist_paddr = PVH_MODLIST_GPA;
	}
	memcpy(area, &si, sizeof(si));

	memcpy(area + (PVH_CMDLINE_GPA - PVH_AREA_START), cmdline, cmdlen);
	return (0);
}


/*
 * PVH ABI entry state: 32-bit protected mode, paging off, flat segments,
 * a busy 32-bit TSS, %ebx = start info.  The guest loads its own GDT and
 * IDT, so ours only have reset values.
 */
static void
pvh_set_regs(uint32_t entry, struct vmm_regs *regs, struct vmm_sregs *sregs)
{
	memset(regs, 0, sizeof(*regs));
	regs->rip = entry;
	regs->rbx = PVH_START_INFO_GPA;
	regs->rflags = 0x2;		/* bit 1 is always set */

	memset(sregs, 0, sizeof(*sregs));
	seg_flat(&sregs->cs, 0x10, 0xb);	/* execute/read, accessed */
	seg_flat(&sregs->ds, 0x18, 0x3);	/* read/write, accessed */
	sregs->es = sregs->ss = sregs->fs = sregs->gs = sregs->ds;

	sregs->tr.type = 0xb;			/* busy 32-bit TSS */
	sregs->tr.present = 1;
	sregs->tr.limit = 0x67;

	sregs->ldt.type = 2;
	sregs->ldt.present = 1;
	sregs->ldt.limit = 0xffff;
	sregs->ldt.unusable = 1;

	sregs->gdt.limit = 0xffff;
	sregs->idt.limit = 0xffff;

	sregs->cr0 = 0x11;			/* PE, ET */
	/* The reset value: xAPIC enabled at 0xfee00000, this is the BSP. */
	sregs->apic_base = 0xfee00000ULL | 0x800 | 0x100;
}

/* The OpenBSD boot pages must be guest RAM: they are written last. */
static int
obsd_check_area(struct elf_image *img, const struct vm_mem *mem)
{
	if (vm_gpa_ptr(mem, OBSD_BOOTARGS_GPA, OBSD_PAGE) == NULL ||
	    vm_gpa_ptr(mem, OBSD_STACK_GPA, OBSD_AREA_END - OBSD_STACK_GPA) ==
	    NULL)
		return (elf_fail(img, ERANGE, "guest RAM too small for the "
		    "OpenBSD boot data"));
	return (0);
}

static int
elf_load(struct elf_image *img, const struct loadfile_args *args,
    const struct vm_mem *mem, const char *cmdline, size_t cmdlen,
    struct vmm_regs *regs, struct vmm_sregs *sregs)
{
	uint64_t	 lo, hi, initrd = 0, initrd_size = 0;
	uint32_t	 rsp;

	if (elf_check_header(img) == -1 ||
	    elf_read_phdrs(img) == -1 ||
	    elf_find_kind(img) == -1 ||
	    elf_check_segments(img, mem) == -1 ||
	    elf_check_entry(img) == -1)
		return (-1);
	if (!img->have_entry) {
		if (args->initrdfd != -1)
			return (elf_fail(img, EINVAL, "OpenBSD kernels take "
			    "no initrd"));
		if (obsd_check_area(img, mem) == -1 ||
		    obsd_check_random(img, mem) == -1 ||
		    obsd_plan_symbols(img, mem) == -1 ||
		    elf_load_segments(img, mem) == -1 ||
		    obsd_load_symbols(img, mem) == -1)
			return (-1);
		obsd_fill_random(img, mem);
		rsp = obsd_write_boot_data(img, mem, args);
		obsd_set_regs(img->entry, rsp, regs, sregs);
		return (0);
	}
	if (elf_load_segments(img, mem) == -1)
		return (-1);
	if (args->initrdfd != -1) {
		/* Linux reads only 32 bits of the module address */
		lo = img->seg_end > VM_HIGHMEM_START ? img->seg_end :
		    VM_HIGHMEM_START;
		hi = vm_lowram_end(mem->memsize);
		if (loadfile_initrd(args->initrdfd, mem, lo, hi, &initrd,
		    &initrd_size, img->err, img->errlen) == -1)
			return (-1);
	}
	if (pvh_write_boot_data(img, mem, cmdline, cmdlen, args->rsdp,
	    initrd, initrd_size) == -1)
		return (-1);
	pvh_set_regs(img->entry, regs, sregs);
	return (0);
}

int
loadfile_elf(const struct loadfile_args *args, const struct vm_mem *mem,
    struct vmm_regs *regs, struct vmm_sregs *sregs, enum loadfile_kind *kind,
    char *err, size_t errlen)
{
	struct elf_image	*img;
	struct stat		 st;
	const char		*cmdline = args->cmdline;
	size_t			 cmdlen;
	int			 rv = -1, saved;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	/* Too big for the stack of a vCPU thread; it is small anyway. */
	if ((img = calloc(1, sizeof(*img))) == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return (-1);
	}
	img->fd = args->kernelfd;
	img->err = err;
	img->errlen = errlen;

	if (cmdline == NULL)
		cmdline = "";
	cmdlen = strnlen(cmdline, VM_CMDLINE_LEN) + 1;
	if (cmdlen > VM_CMDLINE_LEN) {
		elf_fail(img, EINVAL, "command line too long (max %d bytes)",
		    VM_CMDLINE_LEN - 1);
		goto done;
	}
	if (fstat(img->fd, &st) == -1) {
		elf_fail(img, errno, "cannot stat kernel: %s",
		    strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		elf_fail(img, EINVAL, "kernel is not a regular file");
		goto done;
	}
	img->size = (uint64_t)st.st_size;
	if (elf_load(img, args, mem, cmdline, cmdlen, regs, sregs) == -1)
		goto done;
	if (!img->have_entry)
		*kind = LOADFILE_OPENBSD;
	else
		*kind = img->is_linux ? LOADFILE_PVH_LINUX : LOADFILE_PVH;
	rv = 0;
 done:
	saved = errno;
	free(img->sh);
	free(img->shstr);
	free(img);
	errno = saved;
	return (rv);
}
