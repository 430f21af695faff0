/*
 * loadfile_linux.c: boots a Linux bzImage through the 64-bit boot
 * protocol (Documentation/arch/x86/boot.rst): checks the setup header,
 * loads the protected-mode kernel at its preferred address, builds the
 * zero page (struct boot_params: the setup header, the e820 map from our
 * memory map, the command line, the initrd and the ACPI RSDP), an
 * identity map of the low 4 GiB and a GDT with the flat __BOOT_CS and
 * __BOOT_DS, and enters startup_64 with %rsi at the zero page.  The image
 * is hostile: every header field is checked before anything is written
 * to guest RAM, every size is bounded without overflow, and a bad image
 * is refused with errno and a reason, never an abort.
 *
 * errno: ENOEXEC for what is not a bootable bzImage (bad magic, protocol
 * too old, no 64-bit entry, truncated), EINVAL for inconsistent header
 * fields and an over-long command line, ERANGE for a kernel or initrd
 * that does not fit in guest RAM, EIO for read errors.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dev/vmm/vmm.h"
#include "loadfile.h"
#include "vm.h"

/*
 * Where the boot data goes: one block of low RAM above the real-mode
 * area and below any place a kernel is loaded (1 MiB and up).
 */
#define LX_BOOT_PARAMS_GPA	0x10000ULL
#define LX_CMDLINE_GPA		0x11000ULL
#define LX_GDT_GPA		0x12000ULL
#define LX_PML4_GPA		0x13000ULL
#define LX_PDPT_GPA		0x14000ULL
#define LX_PD_GPA		0x15000ULL	/* four pages: 4 GiB */
#define LX_AREA_START		LX_BOOT_PARAMS_GPA
#define LX_AREA_END		(LX_PD_GPA + 4 * 4096)
#define LX_ZERO_PAGE_LEN	4096

/* Setup header, as offsets in the image and in the zero page */
#define SH_START		0x1f1
#define SH_SETUP_SECTS		0x1f1
#define SH_SYSSIZE		0x1f4
#define SH_BOOT_FLAG		0x1fe
#define SH_JUMP			0x200
#define SH_HEADER		0x202
#define SH_VERSION		0x206
#define SH_TYPE_OF_LOADER	0x210
#define SH_LOADFLAGS		0x211
#define SH_RAMDISK_IMAGE	0x218
#define SH_RAMDISK_SIZE		0x21c
#define SH_CMD_LINE_PTR		0x228
#define SH_INITRD_ADDR_MAX	0x22c
#define SH_KERNEL_ALIGNMENT	0x230
#define SH_RELOCATABLE		0x234
#define SH_XLOADFLAGS		0x236
#define SH_CMDLINE_SIZE		0x238
#define SH_HW_SUBARCH		0x23c
#define SH_SETUP_DATA		0x250
#define SH_PREF_ADDRESS		0x258
#define SH_INIT_SIZE		0x260
#define SH_END_MAX		0x290	/* edd_mbr_sig_buffer follows */

/* boot_params fields outside the setup header */
#define BP_ACPI_RSDP_ADDR	0x070
#define BP_EXT_RAMDISK_IMAGE	0x0c0
#define BP_EXT_RAMDISK_SIZE	0x0c4
#define BP_EXT_CMD_LINE_PTR	0x0c8
#define BP_E820_ENTRIES		0x1e8
#define BP_E820_TABLE		0x2d0
#define BP_E820_MAX		128

#define LOADED_HIGH		0x01
#define XLF_KERNEL_64		0x0001
#define LOADER_UNDEFINED	0xff
#define PROTO_MIN		0x020c	/* 2.12: xloadflags, 64-bit entry */
#define INITRD_MAX_DEFAULT	0x37ffffffU
#define ENTRY64_OFF		0x200
#define MIN_LOAD		0x100000ULL

#define SEL_BOOT_CS		0x10
#define SEL_BOOT_DS		0x18

#define PG_P			0x001ULL
#define PG_RW			0x002ULL
#define PG_PS			0x080ULL

#define CR0_PE			0x00000001ULL
#define CR0_ET			0x00000010ULL
#define CR0_PG			0x80000000ULL
#define CR4_PAE			0x00000020ULL
#define EFER_LME		0x00000100ULL
#define EFER_LMA		0x00000400ULL

struct bz_image {
	uint64_t	 size;		/* of the file */
	uint8_t		 hdr[SH_END_MAX];
	size_t		 hdr_len;	/* bytes of hdr read from the file */
	size_t		 sh_end;	/* end of the setup header */
	uint16_t	 version;
	uint64_t	 setup_size;	/* real-mode part, skipped */
	uint64_t	 ksize;		/* protected-mode kernel in the file */
	uint64_t	 load;		/* where it goes */
	uint64_t	 init_size;	/* what it needs from there */
	uint64_t	 initrd_max;	/* last byte an initrd may use, + 1 */
	uint32_t	 cmdline_max;	/* bytes, without the NUL */
};

static uint64_t
get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return (v);
}

static void
put_le(uint8_t *p, uint64_t v, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int
bz_read_header(struct bz_image *bz, int fd, char *err, size_t errlen)
{
	bz->hdr_len = bz->size < SH_END_MAX ? (size_t)bz->size : SH_END_MAX;
	memset(bz->hdr, 0, sizeof(bz->hdr));
	if (loadfile_read(fd, 0, bz->hdr, bz->hdr_len, "kernel", err,
	    errlen) == -1)
		return (-1);
	if (bz->hdr_len < SH_HEADER + 4 ||
	    get_le(bz->hdr + SH_BOOT_FLAG, 2) != 0xaa55 ||
	    memcmp(bz->hdr + SH_HEADER, "HdrS", 4) != 0)
		return (loadfile_fail(err, errlen, ENOEXEC, "not a Linux "
		    "bzImage (no boot flag or HdrS signature)"));
	bz->version = (uint16_t)get_le(bz->hdr + SH_VERSION, 2);
	if (bz->version < PROTO_MIN)
		return (loadfile_fail(err, errlen, ENOEXEC, "Linux boot "
		    "protocol %u.%02u is too old (the 64-bit entry needs "
		    "2.12)", bz->version >> 8, bz->version & 0xff));
	/* the header ends where the jump at 0x200 lands, at most here */
	bz->sh_end = SH_JUMP + 2 + bz->hdr[SH_JUMP + 1];
	if (bz->sh_end > SH_END_MAX)
		bz->sh_end = SH_END_MAX;
	if (bz->sh_end < SH_INIT_SIZE + 4 || bz->hdr_len < bz->sh_end)
		return (loadfile_fail(err, errlen, ENOEXEC, "truncated "
		    "bzImage setup header (ends at 0x%zx)", bz->sh_end));
	return (0);
}

static int
bz_check(struct bz_image *bz, const struct vm_mem *mem, char *err,
    size_t errlen)
{
	const uint8_t	*h = bz->hdr;
	uint64_t	 sects, syssize, align, need, pref;
	uint8_t		 lf = h[SH_LOADFLAGS];
	uint16_t	 xlf = (uint16_t)get_le(h + SH_XLOADFLAGS, 2);
	int		 reloc = h[SH_RELOCATABLE] != 0;

	if (!(lf & LOADED_HIGH))
		return (loadfile_fail(err, errlen, ENOEXEC, "bzImage is not "
		    "loaded high (loadflags 0x%02x): zImage not supported",
		    lf));
	if (!(xlf & XLF_KERNEL_64))
		return (loadfile_fail(err, errlen, ENOEXEC, "bzImage has no "
		    "64-bit entry point (xloadflags 0x%04x)", xlf));
	sects = h[SH_SETUP_SECTS] ? h[SH_SETUP_SECTS] : 4;
	bz->setup_size = (sects + 1) * 512;
	if (bz->setup_size >= bz->size)
		return (loadfile_fail(err, errlen, ENOEXEC, "truncated "
		    "bzImage: no kernel after %llu setup sectors",
		    (unsigned long long)sects));
	bz->ksize = bz->size - bz->setup_size;
	syssize = get_le(h + SH_SYSSIZE, 4) * 16;
	if (syssize > bz->ksize + 15)
		return (loadfile_fail(err, errlen, ENOEXEC, "truncated "
		    "bzImage: header says 0x%llx bytes of kernel, file has "
		    "0x%llx", (unsigned long long)syssize,
		    (unsigned long long)bz->ksize));
	bz->init_size = get_le(h + SH_INIT_SIZE, 4);
	if (bz->init_size < bz->ksize)
		return (loadfile_fail(err, errlen, EINVAL, "bzImage init_size "
		    "0x%llx is smaller than its kernel (0x%llx)",
		    (unsigned long long)bz->init_size,
		    (unsigned long long)bz->ksize));
	align = get_le(h + SH_KERNEL_ALIGNMENT, 4);
	if (reloc && (align == 0 || (align & (align - 1)) != 0))
		return (loadfile_fail(err, errlen, EINVAL, "bzImage "
		    "kernel_alignment 0x%llx is not a power of two",
		    (unsigned long long)align));
	pref = get_le(h + SH_PREF_ADDRESS, 8);
	if (pref == 0)
		pref = MIN_LOAD;
	if (reloc && (pref & (align - 1)) != 0)
		pref = (pref + align - 1) & ~(align - 1);
	if (pref < MIN_LOAD || pref >= VM_MMIO_HOLE_START)
		return (loadfile_fail(err, errlen, EINVAL, "bzImage preferred "
		    "address 0x%llx is outside 1 MiB-3 GiB",
		    (unsigned long long)pref));
	bz->load = pref;
	need = bz->init_size;
	if (vm_gpa_ptr(mem, bz->load, need) == NULL)
		return (loadfile_fail(err, errlen, ERANGE, "kernel needs guest "
		    "RAM at 0x%llx-0x%llx; the VM has %llu MB: give it more "
		    "memory", (unsigned long long)bz->load,
		    (unsigned long long)(bz->load + need - 1),
		    (unsigned long long)(mem->memsize >> 20)));
	bz->initrd_max = (uint64_t)get_le(h + SH_INITRD_ADDR_MAX, 4) + 1;
	if (bz->initrd_max == 1)
		bz->initrd_max = (uint64_t)INITRD_MAX_DEFAULT + 1;
	bz->cmdline_max = (uint32_t)get_le(h + SH_CMDLINE_SIZE, 4);
	return (0);
}

/* Identity map of 0-4 GiB in 2 MiB pages, and the boot GDT. */
static void
bz_write_tables(uint8_t *area)
{
	uint8_t		*gdt = area + (LX_GDT_GPA - LX_AREA_START);
	uint8_t		*pml4 = area + (LX_PML4_GPA - LX_AREA_START);
	uint8_t		*pdpt = area + (LX_PDPT_GPA - LX_AREA_START);
	uint8_t		*pd = area + (LX_PD_GPA - LX_AREA_START);
	uint64_t	 i;

	put_le(pml4, LX_PDPT_GPA | PG_P | PG_RW, 8);
	for (i = 0; i < 4; i++)
		put_le(pdpt + 8 * i, (LX_PD_GPA + 4096 * i) | PG_P | PG_RW,
		    8);
	for (i = 0; i < 2048; i++)
		put_le(pd + 8 * i, (i << 21) | PG_P | PG_RW | PG_PS, 8);
	/* null, null, __BOOT_CS (64-bit code), __BOOT_DS (flat data) */
	put_le(gdt + SEL_BOOT_CS, 0x00af9b000000ffffULL, 8);
	put_le(gdt + SEL_BOOT_DS, 0x00cf93000000ffffULL, 8);
}

static void
bz_write_zero_page(const struct bz_image *bz, uint8_t *zp,
    const struct vm_mem *mem, const struct loadfile_args *args,
    uint64_t initrd, uint64_t initrd_size)
{
	struct vm_memrange	 mr[VM_MAX_MEMRANGES];
	uint8_t			*e;
	size_t			 i, n;

	memcpy(zp + SH_START, bz->hdr + SH_START, bz->sh_end - SH_START);
	zp[SH_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	put_le(zp + SH_CMD_LINE_PTR, LX_CMDLINE_GPA, 4);
	put_le(zp + BP_EXT_CMD_LINE_PTR, LX_CMDLINE_GPA >> 32, 4);
	put_le(zp + SH_RAMDISK_IMAGE, initrd, 4);
	put_le(zp + SH_RAMDISK_SIZE, initrd_size, 4);
	put_le(zp + BP_EXT_RAMDISK_IMAGE, initrd >> 32, 4);
	put_le(zp + BP_EXT_RAMDISK_SIZE, initrd_size >> 32, 4);
	put_le(zp + SH_HW_SUBARCH, 0, 4);	/* a PC */
	put_le(zp + SH_SETUP_DATA, 0, 8);
	put_le(zp + BP_ACPI_RSDP_ADDR, args->rsdp, 8);

	n = vm_memmap(mem->memsize, mr, VM_MAX_MEMRANGES);
	for (i = 0; i < n && i < BP_E820_MAX; i++) {
		e = zp + BP_E820_TABLE + 20 * i;
		put_le(e, mr[i].addr, 8);
		put_le(e + 8, mr[i].size, 8);
		put_le(e + 16, mr[i].type, 4);
	}
	zp[BP_E820_ENTRIES] = (uint8_t)i;
}

static void
seg_flat(struct vmm_segment *s, uint16_t sel, uint8_t type, int code64)
{
	memset(s, 0, sizeof(*s));
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code64;
	s->db = !code64;
}

/* startup_64: long mode, paging on, flat __BOOT_CS/__BOOT_DS, %rsi. */
static void
bz_set_regs(uint64_t entry, struct vmm_regs *regs, struct vmm_sregs *sregs)
{
	memset(regs, 0, sizeof(*regs));
	regs->rip = entry;
	regs->rsi = LX_BOOT_PARAMS_GPA;
	regs->rflags = 0x2;

	memset(sregs, 0, sizeof(*sregs));
	seg_flat(&sregs->cs, SEL_BOOT_CS, 0xb, 1);
	seg_flat(&sregs->ds, SEL_BOOT_DS, 0x3, 0);
	sregs->es = sregs->ss = sregs->fs = sregs->gs = sregs->ds;
	sregs->tr.type = 0xb;		/* busy 64-bit TSS */
	sregs->tr.present = 1;
	sregs->tr.limit = 0x67;
	sregs->ldt.type = 2;
	sregs->ldt.present = 1;
	sregs->ldt.limit = 0xffff;
	sregs->ldt.unusable = 1;
	sregs->gdt.base = LX_GDT_GPA;
	sregs->gdt.limit = SEL_BOOT_DS + 7;
	sregs->idt.limit = 0;
	sregs->cr0 = CR0_PE | CR0_ET | CR0_PG;
	sregs->cr3 = LX_PML4_GPA;
	sregs->cr4 = CR4_PAE;
	sregs->efer = EFER_LME | EFER_LMA;
	sregs->apic_base = 0xfee00000ULL | 0x800 | 0x100;
}

int
loadfile_linux(const struct loadfile_args *args, const struct vm_mem *mem,
    struct vmm_regs *regs, struct vmm_sregs *sregs, char *err, size_t errlen)
{
	struct bz_image	 bz;
	const char	*cmdline = args->cmdline != NULL ? args->cmdline : "";
	uint8_t		*area, *kdst;
	uint64_t	 initrd = 0, initrd_size = 0, hi;
	size_t		 cmdlen;

	memset(&bz, 0, sizeof(bz));
	cmdlen = strnlen(cmdline, VM_CMDLINE_LEN);
	if (cmdlen >= VM_CMDLINE_LEN)
		return (loadfile_fail(err, errlen, EINVAL, "command line too "
		    "long (max %d bytes)", VM_CMDLINE_LEN - 1));
	if (loadfile_size(args->kernelfd, "kernel", &bz.size, err,
	    errlen) == -1 ||
	    bz_read_header(&bz, args->kernelfd, err, errlen) == -1 ||
	    bz_check(&bz, mem, err, errlen) == -1)
		return (-1);
	if (cmdlen > bz.cmdline_max)
		return (loadfile_fail(err, errlen, EINVAL, "command line too "
		    "long for this kernel (%zu bytes, max %u)", cmdlen,
		    bz.cmdline_max));
	area = vm_gpa_ptr(mem, LX_AREA_START, LX_AREA_END - LX_AREA_START);
	if (area == NULL)
		return (loadfile_fail(err, errlen, ERANGE, "guest RAM too "
		    "small for the boot data"));
	kdst = vm_gpa_ptr(mem, bz.load, bz.ksize);

	/* Everything is checked: write. */
	if (loadfile_read(args->kernelfd, bz.setup_size, kdst, bz.ksize,
	    "kernel", err, errlen) == -1)
		return (-1);
	if (args->initrdfd != -1) {
		hi = vm_lowram_end(mem->memsize);
		if (hi > bz.initrd_max)
			hi = bz.initrd_max;
		if (loadfile_initrd(args->initrdfd, mem,
		    bz.load + bz.init_size, hi, &initrd, &initrd_size, err,
		    errlen) == -1)
			return (-1);
	}
	memset(area, 0, LX_AREA_END - LX_AREA_START);
	bz_write_zero_page(&bz, area, mem, args, initrd, initrd_size);
	memcpy(area + (LX_CMDLINE_GPA - LX_AREA_START), cmdline, cmdlen + 1);
	bz_write_tables(area);
	bz_set_regs(bz.load + ENTRY64_OFF, regs, sregs);
	return (0);
}
