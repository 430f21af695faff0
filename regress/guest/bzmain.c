/*
 * bzmain.c: gmain() of the bzImage variant of the test guest.  It checks
 * what the Linux 64-bit boot protocol promises at startup_64 (entry
 * state, the zero page with the setup header, the e820 map, the command
 * line, the ACPI RSDP), reads the ACPI tables, checks the initrd, then
 * runs the console, timer, rtc and pci checks and powers off.  Each check
 * prints one result line; nothing here trusts the zero page beyond the
 * identity map.
 */

#include "guest.h"
#include "variant.h"

#define MAPPED		0x100000000ULL
#define BP_RSDP		0x070
#define BP_EXT_RAMDISK	0x0c0
#define BP_EXT_RAMDISK_SZ 0x0c4
#define BP_E820_N	0x1e8
#define BP_SENTINEL	0x1ef
#define BP_E820		0x2d0
#define HDR_BOOT_FLAG	0x1fe
#define HDR_MAGIC	0x202
#define HDR_VERSION	0x206
#define HDR_LOADER	0x210
#define HDR_RAMDISK	0x218
#define HDR_RAMDISK_SZ	0x21c
#define HDR_CMDLINE	0x228
#define CMDLINE_MAX	2048

static char	cmdline[CMDLINE_MAX];

static uint64_t
le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void
check_entry(void)
{
	const struct entry_state *es = &entry_state;
	uint64_t gdt = le(es->gdt_base, 8);

	if (es->cs != 0x10 || es->ds != 0x18 || es->ss != 0x18 ||
	    es->es != 0x18)
		kprintf("FAIL bzentry: selectors cs 0x%x ds 0x%x ss 0x%x, "
		    "want __BOOT_CS 0x10, __BOOT_DS 0x18\n", es->cs, es->ds,
		    es->ss);
	else if ((es->cr0 & 0x80000001) != 0x80000001 ||
	    !(es->cr4 & 0x20) || !(es->efer & 0x400))
		kprintf("FAIL bzentry: not in long mode with paging (cr0 "
		    "0x%lx cr4 0x%lx efer 0x%lx)\n", (unsigned long)es->cr0,
		    (unsigned long)es->cr4, (unsigned long)es->efer);
	else if (es->rflags & 0x200)
		kprintf("FAIL bzentry: interrupts enabled at entry\n");
	else if (es->gdt_limit < 0x1f || gdt == 0 || gdt >= MAPPED)
		kprintf("FAIL bzentry: GDT at 0x%lx limit 0x%x\n",
		    (unsigned long)gdt, es->gdt_limit);
	else if (le((const uint8_t *)(uintptr_t)gdt + 0x10, 8) !=
	    0x00af9b000000ffffULL ||
	    le((const uint8_t *)(uintptr_t)gdt + 0x18, 8) !=
	    0x00cf93000000ffffULL)
		kprintf("FAIL bzentry: GDT descriptors are not flat "
		    "__BOOT_CS/__BOOT_DS\n");
	else
		kprintf("PASS bzentry: 64-bit, cs 0x10 ds 0x18, zero page "
		    "at 0x%lx\n", (unsigned long)es->bp);
}

/* The zero page: header, loader fields, e820; returns it or NULL. */
static const uint8_t *
check_zero_page(void)
{
	const uint8_t	*bp;
	const char	*s;
	uint64_t	 bpa = entry_state.bp, a, sz, cl;
	unsigned int	 n, i, t;

	if (bpa == 0 || bpa >= MAPPED - 4096) {
		kprintf("FAIL bzparams: zero page at 0x%lx\n",
		    (unsigned long)bpa);
		return NULL;
	}
	bp = (const uint8_t *)(uintptr_t)bpa;
	if (le(bp + HDR_BOOT_FLAG, 2) != 0xaa55 ||
	    le(bp + HDR_MAGIC, 4) != 0x53726448 ||
	    le(bp + HDR_VERSION, 2) != 0x020f) {
		kprintf("FAIL bzparams: setup header not copied\n");
		return NULL;
	}
	if (bp[HDR_LOADER] == 0 || bp[BP_SENTINEL] != 0) {
		kprintf("FAIL bzparams: type_of_loader 0x%x sentinel 0x%x\n",
		    bp[HDR_LOADER], bp[BP_SENTINEL]);
		return NULL;
	}
	n = bp[BP_E820_N];
	if (n < 3 || n > 128) {
		kprintf("FAIL bzparams: %u e820 entries\n", n);
		return NULL;
	}
	sz = 0;
	for (i = 0; i < n; i++) {
		a = le(bp + BP_E820 + 20 * i, 8);
		t = (unsigned int)le(bp + BP_E820 + 20 * i + 16, 4);
		if (t == 1)
			sz += le(bp + BP_E820 + 20 * i + 8, 8);
		if ((i == 0 && (a != 0 || t != 1)) ||
		    (i == 1 && (a != 0xa0000 || t != 2)) ||
		    (i == 2 && (a != 0x100000 || t != 1))) {
			kprintf("FAIL bzparams: e820 entry %u: 0x%lx type %u\n",
			    i, (unsigned long)a, t);
			return NULL;
		}
	}
	cl = le(bp + HDR_CMDLINE, 4);
	if (cl == 0 || cl >= MAPPED - CMDLINE_MAX) {
		kprintf("FAIL bzparams: cmd_line_ptr 0x%lx\n",
		    (unsigned long)cl);
		return NULL;
	}
	s = (const char *)(uintptr_t)cl;
	for (i = 0; i < CMDLINE_MAX - 1 && s[i] != '\0'; i++)
		cmdline[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : ' ';
	cmdline[i] = '\0';
	kprintf("PASS bzparams: %u e820 entries, %lu KiB RAM\n", n,
	    (unsigned long)(sz >> 10));
	return bp;
}

void
gmain(uint32_t unused)
{
	static struct guest g;
	const uint8_t *bp;

	cons_init();
	bp = check_zero_page();
	/* The banner after the zero page: it carries the command line. */
	kprintf("guest: vmd test guest (bzImage), cmdline: %s\n", cmdline);
	machine_init();
	g.cmdline = cmdline;
	check_entry();
	if (bp != NULL) {
		check_acpi_tables(le(bp + BP_RSDP, 8));
		check_initrd_at(cmdline, le(bp + HDR_RAMDISK, 4) |
		    le(bp + BP_EXT_RAMDISK, 4) << 32, le(bp + HDR_RAMDISK_SZ,
		    4) | le(bp + BP_EXT_RAMDISK_SZ, 4) << 32, "the zero page");
	}
	check_console(&g);
	check_timer(&g);
	check_rtc(&g);
	check_pci(&g);
	kprintf("ALL DONE\n");
	power_off();
}
