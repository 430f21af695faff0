/*
 * loadfile.h: vmd as a boot loader.  One entry point, loadfile(), looks
 * at the kernel image and hands it to the loader of its kind: an ELF with
 * a PVH note (Linux vmlinux, the test guest) or an OpenBSD ELF kernel to
 * loadfile_elf.c, a Linux bzImage to loadfile_linux.c.  Each loader
 * validates the whole image before it writes to guest RAM, writes the
 * boot data its protocol wants at fixed low addresses of its own, and
 * returns the vCPU entry state.  Kernel and initrd are hostile input and
 * are only read with pread(), so the same descriptors reload on reboot.
 * Errors come back as -1, errno and a sentence naming the thing and why.
 */

#ifndef LOADFILE_H
#define LOADFILE_H

#include <stddef.h>
#include <stdint.h>

struct vm_mem;
struct vmm_regs;
struct vmm_sregs;

/* What to boot, and what the boot protocols pass to the kernel. */
struct loadfile_args {
	int		 kernelfd;
	int		 initrdfd;	/* -1: no initrd */
	const char	*cmdline;	/* NULL: empty */
	uint64_t	 rsdp;		/* guest address of the ACPI RSDP, or 0 */
	const uint8_t	*bootmac;	/* OpenBSD "boot device net": 6 bytes */
};

/* How the kernel was booted: decides what else the platform gives it. */
enum loadfile_kind {
	LOADFILE_PVH,		/* ELF with a PVH entry note */
	LOADFILE_PVH_LINUX,	/* the same with Linux's notes: a vmlinux */
	LOADFILE_OPENBSD,	/* OpenBSD ELF kernel, vmd's boot arguments */
	LOADFILE_LINUX,		/* bzImage, the 64-bit Linux boot protocol */
	LOADFILE_BIOS		/* firmware (SeaBIOS), from the reset vector */
};

/*
 * A firmware image is mapped below 4 GiB and its last 128 KiB copied to
 * the BIOS area below 1 MiB, as on a PC.
 */
#define LOADFILE_BIOS_MIN	(64U << 10)
#define LOADFILE_BIOS_MAX	(16U << 20)
#define LOADFILE_BIOS_LOW	(128U << 10)

/* loadfile.c */
int	 loadfile(const struct loadfile_args *, const struct vm_mem *,
	    struct vmm_regs *, struct vmm_sregs *, enum loadfile_kind *,
	    char *, size_t);
int	 loadfile_fail(char *, size_t, int, const char *, ...)
	    __attribute__((format(printf, 4, 5)));
int	 loadfile_read(int, uint64_t, void *, uint64_t, const char *,
	    char *, size_t);
int	 loadfile_size(int, const char *, uint64_t *, char *, size_t);
int	 loadfile_bios(int, uint64_t, const struct vm_mem *,
	    struct vmm_regs *, struct vmm_sregs *, char *, size_t);
int	 loadfile_initrd(int, const struct vm_mem *, uint64_t, uint64_t,
	    uint64_t *, uint64_t *, char *, size_t);

/* loadfile_elf.c */
int	 loadfile_elf(const struct loadfile_args *, const struct vm_mem *,
	    struct vmm_regs *, struct vmm_sregs *, enum loadfile_kind *,
	    char *, size_t);

/* loadfile_linux.c */
int	 loadfile_linux(const struct loadfile_args *, const struct vm_mem *,
	    struct vmm_regs *, struct vmm_sregs *, char *, size_t);

#endif /* LOADFILE_H */
