/*
 * obsdmain.c: gmain() of the OpenBSD variant of the test guest.  It
 * checks everything OpenBSD's vmd hands an OpenBSD kernel: the entry
 * state (compatibility mode on vmd's page tables and GDT), the boot
 * loader's stack (howto, bootdev, API version, esym, the boot arguments'
 * size and address), the boot arguments (memory map, com0 console, end
 * marker), the symbol table copied after the kernel (found by looking up
 * obsd_start in it) and the random data, then runs the console, timer,
 * rtc and pci checks and powers off.  One result line per check.
 */

#include "guest.h"
#include "variant.h"

#define BOOTARGS	0x2000
#define ESYM_MASK	0xfffffff

extern char		_obsd_end[];
extern char		obsd_start[];
extern uint8_t		obsd_random[64];

static uint64_t
le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static const uint8_t *
pa(uint64_t a)
{
	return (const uint8_t *)(uintptr_t)a;
}

static void
check_entry(void)
{
	const struct entry_state *es = &entry_state;
	const uint8_t *gdt = pa(le(es->gdt_base, 4));

	if (es->rsp != 0xffdc)
		kprintf("FAIL obsd.entry: esp 0x%lx, want 0xffdc\n",
		    (unsigned long)es->rsp);
	else if (es->cs != 0x08 || es->ds != 0x10 || es->ss != 0x10 ||
	    es->es != 0x10)
		kprintf("FAIL obsd.entry: selectors cs 0x%x ds 0x%x ss "
		    "0x%x\n", es->cs, es->ds, es->ss);
	else if (es->cr0 != 0x80000011 || es->cr3 != 0x11000 ||
	    es->cr4 != 0x30 || (es->efer & 0x500) != 0x500)
		kprintf("FAIL obsd.entry: cr0 0x%lx cr3 0x%lx cr4 0x%lx efer "
		    "0x%lx\n", (unsigned long)es->cr0, (unsigned long)es->cr3,
		    (unsigned long)es->cr4, (unsigned long)es->efer);
	else if (es->rflags & 0x200)
		kprintf("FAIL obsd.entry: interrupts enabled\n");
	else if (le(es->gdt_base, 4) != 0x10000 || es->gdt_limit != 0xffff ||
	    le(gdt + 8, 8) != 0x00cf9b000000ffffULL ||
	    le(gdt + 16, 8) != 0x00cf93000000ffffULL)
		kprintf("FAIL obsd.entry: GDT at 0x%lx limit 0x%x\n",
		    (unsigned long)le(es->gdt_base, 4), es->gdt_limit);
	/* the CPU may have set accessed and dirty bits since */
	else if ((le(pa(0x11000), 8) & ~0x60ULL) != 0x12001 ||
	    (le(pa(0x12000), 8) & ~0x60ULL) != 0x13007 ||
	    (le(pa(0x13000 + 8 * 3), 8) & ~0x60ULL) != ((3ULL << 21) | 0x87))
		kprintf("FAIL obsd.entry: page tables are not vmd's\n");
	else
		kprintf("PASS obsd.entry: compatibility mode, esp 0xffdc\n");
}

/* Walk the boot arguments; returns their size or 0. */
static uint32_t
check_bootargs(void)
{
	const uint8_t	*b = pa(BOOTARGS);
	uint32_t	 at = 0, type, sz, n, i;
	uint64_t	 addr = 1, size = 1, ram = 0;
	int		 seen_mem = 0, seen_cons = 0;

	for (;;) {
		type = (uint32_t)le(b + at, 4);
		if (type == 0xffffffff)
			break;
		sz = (uint32_t)le(b + at + 4, 4);
		if (sz < 12 || at + sz > 4096 || le(b + at + 8, 4) != sz) {
			kprintf("FAIL obsd.bootargs: bad entry %u at +%u\n",
			    type, at);
			return 0;
		}
		if (type == 0) {
			n = (sz - 12) / 20;
			for (i = 0; i < n; i++) {
				addr = le(b + at + 12 + 20 * i, 8);
				size = le(b + at + 20 + 20 * i, 8);
				if (le(b + at + 28 + 20 * i, 4) == 1)
					ram += size;
				if (i == 0 && (addr != 0 || size != 0xa0000))
					break;
			}
			if (n < 3 || i != n || size != 0 || addr != 0) {
				kprintf("FAIL obsd.bootargs: memory map (%u "
				    "entries) not as vmd gives it\n", n);
				return 0;
			}
			seen_mem = 1;
		} else if (type == 5) {
			if (sz != 28 || le(b + at + 12, 4) != 0x800 ||
			    le(b + at + 16, 4) != 115200 ||
			    le(b + at + 20, 4) != 0x3f8 ||
			    le(b + at + 24, 4) != 0) {
				kprintf("FAIL obsd.bootargs: console is not "
				    "com0 at 115200\n");
				return 0;
			}
			seen_cons = 1;
		}
		at += sz;
	}
	if (!seen_mem || !seen_cons) {
		kprintf("FAIL obsd.bootargs: memory map %d, console %d\n",
		    seen_mem, seen_cons);
		return 0;
	}
	kprintf("PASS obsd.bootargs: %lu KiB RAM, com0 at 115200\n",
	    (unsigned long)(ram >> 10));
	return at + 4;
}

/* The symbol table copy: an ELF header, section headers, symbols. */
static int
find_symbol(uint64_t start, uint64_t esym, const char *want,
    uint64_t value)
{
	const uint8_t	*eh = pa(start), *sh, *sym, *str;
	uint64_t	 shoff, shnum, i, j, symsz, strsz, link;
	size_t		 k;

	if (le(eh, 4) != 0x464c457f || le(eh + 32, 8) != 0 ||
	    le(eh + 56, 2) != 0)
		return -1;
	shoff = le(eh + 40, 8);
	shnum = le(eh + 60, 2);
	if (shoff != 64 || shnum == 0 || start + shoff + 64 * shnum > esym)
		return -1;
	for (i = 0; i < shnum; i++) {
		sh = eh + shoff + 64 * i;
		if (le(sh + 4, 4) != 2)			/* SHT_SYMTAB */
			continue;
		link = le(sh + 40, 4);
		if (link >= shnum)
			return -1;
		sym = eh + le(sh + 24, 8);
		symsz = le(sh + 32, 8);
		str = eh + le(eh + shoff + 64 * link + 24, 8);
		strsz = le(eh + shoff + 64 * link + 32, 8);
		if ((uint64_t)(sym - eh) + symsz > esym - start ||
		    (uint64_t)(str - eh) + strsz > esym - start)
			return -1;
		for (j = 0; j + 24 <= symsz; j += 24) {
			uint32_t name = (uint32_t)le(sym + j, 4);

			if (name >= strsz || le(sym + j + 8, 8) != value)
				continue;
			for (k = 0; want[k] != '\0' && name + k < strsz &&
			    str[name + k] == want[k]; k++)
				;
			if (want[k] == '\0' && name + k < strsz &&
			    str[name + k] == '\0')
				return 0;
		}
	}
	return -1;
}

static void
check_stack_and_symbols(uint32_t bootargsz)
{
	const uint32_t	*s = entry_state.stack;
	uint64_t	 start = ((uint64_t)(uintptr_t)_obsd_end + 7) & ~7ULL;
	int		 i, nz = 0;

	/* ret, howto, bootdev, apiver, esym, extmem, cnvmem, size, args */
	if (s[0] != 0 || s[1] != 0 || s[2] != 0xa0000004 || s[3] != 0x0e ||
	    s[5] != 0 || s[6] != 0 || s[8] != BOOTARGS ||
	    (bootargsz != 0 && s[7] != bootargsz))
		kprintf("FAIL obsd.stack: %x %x %x %x %x %x %x %x %x\n",
		    s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]);
	else if (s[4] <= (start & ESYM_MASK))
		kprintf("FAIL obsd.stack: esym 0x%x not past the kernel end "
		    "0x%lx\n", s[4], (unsigned long)start);
	else
		kprintf("PASS obsd.stack: bootdev sd0a, API 0x0e, esym "
		    "0x%x\n", s[4]);
	if (find_symbol(start, s[4], "obsd_start",
	    (uint64_t)(uintptr_t)obsd_start) == 0)
		kprintf("PASS obsd.symbols: obsd_start found in the copied "
		    "symbol table\n");
	else
		kprintf("FAIL obsd.symbols: no symbol table copy at 0x%lx\n",
		    (unsigned long)start);
	for (i = 0; i < 64; i++)
		nz += obsd_random[i] != 0;
	if (nz > 32)
		kprintf("PASS obsd.random: %d of 64 bytes set\n", nz);
	else
		kprintf("FAIL obsd.random: %d of 64 bytes set\n", nz);
}

void
gmain(uint32_t unused)
{
	static struct guest g;
	uint32_t	 bootargsz;

	cons_init();
	kprintf("guest: vmd test guest (OpenBSD boot)\n");
	machine_init();
	g.cmdline = "";
	check_entry();
	bootargsz = check_bootargs();
	check_stack_and_symbols(bootargsz);
	check_console(&g);
	check_timer(&g);
	check_rtc(&g);
	check_pci(&g);
	kprintf("ALL DONE\n");
	power_off();
}
