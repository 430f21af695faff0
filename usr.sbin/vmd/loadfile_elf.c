/*
 * loadfile_elf.c: loads an x86-64 ELF kernel that carries a PVH entry
 * note (XEN_ELFNOTE_PHYS32_ENTRY) into guest RAM, writes the PVH start
 * info, memory map and command line, and gives back the initial vCPU
 * state of the PVH boot ABI.  The file is hostile input: every header
 * field is checked before use, the file is only read with pread() (its
 * offset never matters, so the same fd reloads on reboot), and nothing is
 * written to guest RAM until the whole image has been validated.  It must
 * never write outside the ranges vm_gpa_ptr() hands out, never trust a
 * size without an overflow-safe bound, and never abort on a bad file:
 * errors come back as -1, errno and a short reason.
 *
 * errno: ENOEXEC for anything that is not a loadable PVH kernel (bad or
 * truncated headers, bad notes, no entry), EFBIG for headers or notes past
 * our caps, ERANGE for segments outside guest RAM or on the boot area,
 * EINVAL for inconsistent segments and an over-long command line, EIO for
 * a failed or short read.
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

/* Caps on what a hostile header may make us read. */
#define ELF_MAX_PHDRS		64
#define ELF_MAX_SHDRS		512
#define ELF_MAX_NOTES_SIZE	(64 * 1024)	/* each */

#define XEN_ELFNOTE_PHYS32_ENTRY	18
#define XEN_HVM_START_MAGIC_VALUE	0x336ec578U

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
_Static_assert(PVH_MEMMAP_GPA + VM_MAX_MEMRANGES *
    sizeof(struct hvm_memmap_table_entry) <= PVH_CMDLINE_GPA,
    "PVH memory map runs into the command line");

struct elf_image {
	int		 fd;
	uint64_t	 size;		/* of the file, from fstat */
	Elf64_Ehdr	 eh;
	Elf64_Phdr	 ph[ELF_MAX_PHDRS];
	size_t		 phnum;
	int		 have_entry;
	uint32_t	 entry;
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
	unsigned long long	 pa = ph->p_paddr, msz = ph->p_memsz;

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
	if (ranges_overlap(pa, msz, PVH_AREA_START,
	    PVH_AREA_END - PVH_AREA_START))
		return (elf_fail(img, ERANGE, "segment %zu at 0x%llx size "
		    "0x%llx overlaps the PVH boot data at 0x%llx-0x%llx", i,
		    pa, msz, PVH_AREA_START, PVH_AREA_END - 1));
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

static int
elf_find_pvh_entry(struct elf_image *img)
{
	const Elf64_Phdr	*ph;
	size_t			 i, nnote = 0;

	for (i = 0; i < img->phnum && !img->have_entry; i++) {
		ph = &img->ph[i];
		if (ph->p_type != PT_NOTE)
			continue;
		nnote++;
		if (elf_scan_notes(img, ph->p_offset, ph->p_filesz,
		    "note segment", i) == -1)
			return (-1);
	}
	if (nnote == 0 && elf_scan_note_sections(img) == -1)
		return (-1);
	if (!img->have_entry)
		return (elf_fail(img, ENOEXEC, "no PVH entry note "
		    "(only PVH ELF kernels can be loaded directly; SeaBIOS "
		    "and bzImage support come later)"));
	return (0);
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
	return (elf_fail(img, ENOEXEC, "PVH entry 0x%x outside the loaded "
	    "segments", img->entry));
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

/* The start info, memory map and command line, per the PVH boot ABI. */
static int
pvh_write_boot_data(struct elf_image *img, const struct vm_mem *mem,
    const char *cmdline, size_t cmdlen)
{
	struct hvm_start_info		 si;
	struct hvm_memmap_table_entry	 e;
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
	si.memmap_paddr = PVH_MEMMAP_GPA;
	si.memmap_entries = (uint32_t)n;
	memcpy(area, &si, sizeof(si));

	memcpy(area + (PVH_CMDLINE_GPA - PVH_AREA_START), cmdline, cmdlen);
	return (0);
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

int
loadfile_elf(int fd, const struct vm_mem *mem, const char *cmdline,
    struct vmm_regs *regs, struct vmm_sregs *sregs, char *err, size_t errlen)
{
	struct elf_image	*img;
	struct stat		 st;
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
	img->fd = fd;
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
	if (fstat(fd, &st) == -1) {
		elf_fail(img, errno, "cannot stat kernel: %s",
		    strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		elf_fail(img, EINVAL, "kernel is not a regular file");
		goto done;
	}
	img->size = (uint64_t)st.st_size;

	if (elf_check_header(img) == -1 ||
	    elf_read_phdrs(img) == -1 ||
	    elf_check_segments(img, mem) == -1 ||
	    elf_find_pvh_entry(img) == -1 ||
	    elf_check_entry(img) == -1 ||
	    elf_load_segments(img, mem) == -1 ||
	    pvh_write_boot_data(img, mem, cmdline, cmdlen) == -1)
		goto done;
	pvh_set_regs(img->entry, regs, sregs);
	rv = 0;
 done:
	saved = errno;
	free(img);
	errno = saved;
	return (rv);
}
