/*
 * loadfile.c: the boot loader's front door and what the loaders share.
 * loadfile() reads the first bytes of the kernel image and dispatches on
 * them (ELF magic, or the bzImage boot flag and "HdrS"), or takes it for
 * firmware if it looks like a PC BIOS image (a size in 64 KiB steps and
 * a far jump at the reset vector); anything else is refused with a
 * sentence saying what vmd can boot.  The helpers read a
 * hostile file exactly (a short read is an I/O error: the size was
 * checked first) and place an initrd at the top of an allowed range.
 * Nothing here writes to guest RAM outside what vm_gpa_ptr() hands out.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dev/vmm/vmm.h"
#include "loadfile.h"
#include "vm.h"

#define PAGE_MASK	0xfffULL

/* bzImage setup header fields the dispatcher looks at */
#define BZ_BOOT_FLAG_OFF	0x1fe
#define BZ_BOOT_FLAG		0xaa55
#define BZ_HEADER_OFF		0x202
#define BZ_HEADER_MAGIC		"HdrS"
#define PROBE_LEN		(BZ_HEADER_OFF + 4)

int
loadfile_fail(char *err, size_t errlen, int error, const char *fmt, ...)
{
	va_list	 ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	errno = error;
	return (-1);
}

/*
 * Read exactly len bytes of what (for errors) at off.  The caller checked
 * the size against fstat, so a short read means the file changed.
 */
int
loadfile_read(int fd, uint64_t off, void *buf, uint64_t len,
    const char *what, char *err, size_t errlen)
{
	uint8_t	*p = buf;
	ssize_t	 n;
	size_t	 chunk;

	while (len > 0) {
		if (off > (uint64_t)INT64_MAX)
			return (loadfile_fail(err, errlen, EIO, "%s: read past "
			    "the largest file offset", what));
		chunk = len > (1U << 30) ? (1U << 30) : (size_t)len;
		n = pread(fd, p, chunk, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return (loadfile_fail(err, errlen, EIO, "%s: read error "
			    "at offset 0x%llx: %s", what,
			    (unsigned long long)off, strerror(errno)));
		if (n == 0)
			return (loadfile_fail(err, errlen, EIO, "%s: short read "
			    "at offset 0x%llx: file changed while loading",
			    what, (unsigned long long)off));
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return (0);
}

/* The size of a regular file, or -1. */
int
loadfile_size(int fd, const char *what, uint64_t *size, char *err,
    size_t errlen)
{
	struct stat	 st;

	if (fstat(fd, &st) == -1)
		return (loadfile_fail(err, errlen, errno, "cannot stat %s: %s",
		    what, strerror(errno)));
	if (!S_ISREG(st.st_mode))
		return (loadfile_fail(err, errlen, EINVAL, "%s is not a "
		    "regular file", what));
	*size = (uint64_t)st.st_size;
	return (0);
}

/*
 * Load the initrd on fd as high as it fits in [lo, hi), page aligned, as
 * the boot protocols want it; *addr and *size say where it went.
 */
int
loadfile_initrd(int fd, const struct vm_mem *mem, uint64_t lo, uint64_t hi,
    uint64_t *addr, uint64_t *size, char *err, size_t errlen)
{
	uint64_t	 len, at;
	void		*dst;

	if (loadfile_size(fd, "initrd", &len, err, errlen) == -1)
		return (-1);
	if (len == 0)
		return (loadfile_fail(err, errlen, EINVAL, "initrd is empty"));
	lo = (lo + PAGE_MASK) & ~PAGE_MASK;
	if (hi <= lo || len > hi - lo)
		return (loadfile_fail(err, errlen, ERANGE, "initrd of %llu "
		    "bytes does not fit between 0x%llx and 0x%llx: give the "
		    "VM more memory", (unsigned long long)len,
		    (unsigned long long)lo, (unsigned long long)hi));
	at = (hi - len) & ~PAGE_MASK;
	if (at < lo || (dst = vm_gpa_ptr(mem, at, len)) == NULL)
		return (loadfile_fail(err, errlen, ERANGE, "initrd of %llu "
		    "bytes does not fit in guest RAM below 0x%llx",
		    (unsigned long long)len, (unsigned long long)hi));
	if (loadfile_read(fd, 0, dst, len, "initrd", err, errlen) == -1)
		return (-1);
	*addr = at;
	*size = len;
	return (0);
}

int
loadfile(const struct loadfile_args *args, const struct vm_mem *mem,
    struct vmm_regs *regs, struct vmm_sregs *sregs, enum loadfile_kind *kind,
    char *err, size_t errlen)
{
	uint8_t		 probe[PROBE_LEN];
	uint64_t	 size;
	uint16_t	 flag;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (loadfile_size(args->kernelfd, "kernel", &size, err, errlen) == -1)
		return (-1);
	memset(probe, 0, sizeof(probe));
	if (loadfile_read(args->kernelfd, 0, probe,
	    size < sizeof(probe) ? size : sizeof(probe), "kernel", err,
	    errlen) == -1)
		return (-1);
	if (size >= 4 && memcmp(probe, "\177ELF", 4) == 0)
		return (loadfile_elf(args, mem, regs, sregs, kind, err,
		    errlen));
	memcpy(&flag, probe + BZ_BOOT_FLAG_OFF, sizeof(flag));
	if (size >= PROBE_LEN && flag == BZ_BOOT_FLAG &&
	    memcmp(probe + BZ_HEADER_OFF, BZ_HEADER_MAGIC, 4) == 0) {
		*kind = LOADFILE_LINUX;
		return (loadfile_linux(args, mem, regs, sregs, err, errlen));
	}
	if (loadfile_bios(args->kernelfd, size, mem, regs, sregs, NULL,
	    0) == 0) {
		if (args->initrdfd != -1)
			return (loadfile_fail(err, errlen, EINVAL, "a BIOS "
			    "image takes no initrd"));
		*kind = LOADFILE_BIOS;
		return (0);
	}
	return (loadfile_fail(err, errlen, ENOEXEC, "kernel image is neither "
	    "an ELF kernel (PVH or OpenBSD), a Linux bzImage nor a BIOS "
	    "image"));
}

static void
seg_real(struct vmm_segment *s, uint16_t sel, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = (uint64_t)sel << 4;
	s->limit = 0xffff;
	s->type = type;
	s->present = 1;
	s->s = 1;
}

/*
 * A BIOS image of size bytes on fd: check it, copy its last 128 KiB (or
 * all of a smaller one) to
 * the BIOS area (the shadow RAM firmware runs from) and set the reset
 * state, CS:IP at F000:FFF0 with CS based at 0xffff0000.  Mapping all of
 * it below 4 GiB is the caller's.
 */
int
loadfile_bios(int fd, uint64_t size, const struct vm_mem *mem,
    struct vmm_regs *regs, struct vmm_sregs *sregs, char *err, size_t errlen)
{
	uint8_t		 vec[16];
	uint8_t		*low;
	uint64_t	 lowlen;

	if (size < LOADFILE_BIOS_MIN || size > LOADFILE_BIOS_MAX ||
	    size % LOADFILE_BIOS_MIN != 0)
		return (loadfile_fail(err, errlen, ENOEXEC, "not a BIOS image "
		    "(size %llu)", (unsigned long long)size));
	if (loadfile_read(fd, size - sizeof(vec), vec, sizeof(vec), "BIOS",
	    err, errlen) == -1)
		return (-1);
	if (vec[0] != 0xea && vec[0] != 0xe9)
		return (loadfile_fail(err, errlen, ENOEXEC, "not a BIOS image "
		    "(no jump at the reset vector)"));
	lowlen = size < LOADFILE_BIOS_LOW ? size : LOADFILE_BIOS_LOW;
	low = vm_hole_ptr(mem, VM_HIGHMEM_START - lowlen, lowlen);
	if (low == NULL)
		return (loadfile_fail(err, errlen, ERANGE, "guest RAM too "
		    "small for a BIOS"));
	if (loadfile_read(fd, size - lowlen, low, lowlen, "BIOS", err,
	    errlen) == -1)
		return (-1);
	memset(regs, 0, sizeof(*regs));
	regs->rip = 0xfff0;
	regs->rflags = 0x2;
	memset(sregs, 0, sizeof(*sregs));
	seg_real(&sregs->cs, 0xf000, 0xb);
	sregs->cs.base = 0xffff0000;
	seg_real(&sregs->ds, 0, 0x3);
	sregs->es = sregs->ss = sregs->fs = sregs->gs = sregs->ds;
	sregs->tr.type = 0xb;
	sregs->tr.present = 1;
	sregs->tr.limit = 0xffff;
	sregs->ldt.type = 2;
	sregs->ldt.present = 1;
	sregs->ldt.limit = 0xffff;
	sregs->gdt.limit = 0xffff;
	sregs->idt.limit = 0xffff;
	sregs->cr0 = 0x60000010;		/* CD, NW, ET: the reset value */
	sregs->apic_base = 0xfee00000ULL | 0x800 | 0x100;
	return (0);
}
