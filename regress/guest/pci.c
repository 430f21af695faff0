/*
 * pci.c: the test guest's PCI layer: configuration mechanism #1 on bus
 * 0, a list of the functions found, BAR sizing and placement (under PVH
 * no firmware placed them; under QEMU's SeaBIOS most are placed, those
 * above 4 GiB are moved below it, where start.S maps), capability
 * walking and MSI-X tables.  It must never touch a function's BARs
 * while they decode, and never place a BAR over another.
 */

#include "guest.h"

#define PCI_ENABLE		0x80000000U
#define PCI_MAX_FUNCS		32

#define PCI_COMMAND		0x04
#define PCI_CMD_IO		0x0001
#define PCI_CMD_MEM		0x0002
#define PCI_CMD_MASTER		0x0004
#define PCI_CMD_INTX_OFF	0x0400
#define PCI_STATUS		0x06
#define PCI_STATUS_CAPS		0x0010
#define PCI_HDRTYPE		0x0e
#define PCI_BAR0		0x10
#define PCI_SUBVENDOR		0x2c
#define PCI_CAPPTR		0x34
#define PCI_INTLINE		0x3c

#define PCI_CAP_MSIX		0x11
#define MSIX_CTL_ENABLE		0x8000
#define MSIX_CTL_MASKALL	0x4000
#define MSIX_ENTRY		16
#define MSI_ADDR		0xfee00000U

/* Where BARs the guest places go: vmd's windows (vmd.h). */
#define MEM_WIN_START		0xe0000000ULL
#define MEM_WIN_END		0xfec00000ULL
#define IO_WIN_START		0x1000ULL
#define IO_WIN_END		0x10000ULL
#define MAX_RANGES		64

struct range {
	uint64_t	base, size;
	int		io;
};

/* On the heap, not in .bss: start.S zeroes .bss before the banner. */
static struct pci_func	*funcs;
static int		nfuncs = -1;
static struct range	used[MAX_RANGES];
static int		nused;

static uint32_t
cfg_addr(const struct pci_func *f, uint8_t off)
{
	return PCI_ENABLE | (uint32_t)f->bus << 16 | (uint32_t)f->dev << 11 |
	    (uint32_t)f->fn << 8 | (off & 0xfc);
}

uint32_t
pci_read32(const struct pci_func *f, uint8_t off)
{
	outl(PCI_CONF_PORT, cfg_addr(f, off));
	return inl(PCI_CONF_PORT + 4);
}

uint16_t
pci_read16(const struct pci_func *f, uint8_t off)
{
	outl(PCI_CONF_PORT, cfg_addr(f, off));
	return inw(PCI_CONF_PORT + 4 + (off & 2));
}

uint8_t
pci_read8(const struct pci_func *f, uint8_t off)
{
	outl(PCI_CONF_PORT, cfg_addr(f, off));
	return inb(PCI_CONF_PORT + 4 + (off & 3));
}

void
pci_write32(const struct pci_func *f, uint8_t off, uint32_t v)
{
	outl(PCI_CONF_PORT, cfg_addr(f, off));
	outl(PCI_CONF_PORT + 4, v);
}

void
pci_write16(const struct pci_func *f, uint8_t off, uint16_t v)
{
	outl(PCI_CONF_PORT, cfg_addr(f, off));
	outw(PCI_CONF_PORT + 4 + (off & 2), v);
}

/*
 * Sizes every BAR of f with decoding off, and notes the placed ones so
 * that BARs placed later avoid them.
 */
static void
size_bars(struct pci_func *f, int nbars)
{
	uint16_t cmd = pci_read16(f, PCI_COMMAND);
	uint32_t lo, hi, szlo, szhi;
	uint64_t size;
	int i;

	pci_write16(f, PCI_COMMAND, cmd & ~(PCI_CMD_IO | PCI_CMD_MEM));
	for (i = 0; i < nbars; i++) {
		lo = pci_read32(f, PCI_BAR0 + 4 * i);
		pci_write32(f, PCI_BAR0 + 4 * i, 0xffffffff);
		szlo = pci_read32(f, PCI_BAR0 + 4 * i);
		pci_write32(f, PCI_BAR0 + 4 * i, lo);
		if (szlo == 0 || szlo == 0xffffffff)
			continue;
		if (lo & 1) {
			f->bar_type[i] = BAR_IO;
			f->bar[i] = lo & ~3U;
			size = (~(szlo & ~3U) + 1) & 0xffff;
		} else if ((lo & 6) == 4 && i + 1 < nbars) {
			f->bar_type[i] = BAR_MEM64;
			hi = pci_read32(f, PCI_BAR0 + 4 * i + 4);
			pci_write32(f, PCI_BAR0 + 4 * i + 4, 0xffffffff);
			szhi = pci_read32(f, PCI_BAR0 + 4 * i + 4);
			pci_write32(f, PCI_BAR0 + 4 * i + 4, hi);
			f->bar[i] = ((uint64_t)hi << 32) | (lo & ~15U);
			size = ~(((uint64_t)szhi << 32) | (szlo & ~15U)) + 1;
		} else {
			f->bar_type[i] = BAR_MEM32;
			f->bar[i] = lo & ~15U;
			size = (uint32_t)(~(szlo & ~15U) + 1);
		}
		f->bar_size[i] = size;
		if (f->bar[i] != 0 && nused < MAX_RANGES) {
			used[nused].base = f->bar[i];
			used[nused].size = size;
			used[nused].io = f->bar_type[i] == BAR_IO;
			nused++;
		}
		if (f->bar_type[i] == BAR_MEM64)
			i++;
	}
	pci_write16(f, PCI_COMMAND, cmd);
}

/* Finds the functions on bus 0; returns how many. */
int
pci_scan(void)
{
	struct pci_func *f;
	uint32_t id;
	uint8_t hdr;
	int dev, fn, nfn;

	if (nfuncs >= 0)
		return nfuncs;
	if ((funcs = pzalloc(sizeof(*funcs) * PCI_MAX_FUNCS, 64)) == NULL)
		return 0;
	nfuncs = 0;
	for (dev = 0; dev < 32; dev++) {
		nfn = 1;
		for (fn = 0; fn < nfn && nfuncs < PCI_MAX_FUNCS; fn++) {
			f = &funcs[nfuncs];
			f->bus = 0;
			f->dev = dev;
			f->fn = fn;
			id = pci_read32(f, 0);
			if ((id & 0xffff) == 0xffff || id == 0)
				continue;
			hdr = pci_read8(f, PCI_HDRTYPE);
			if (fn == 0 && (hdr & 0x80))
				nfn = 8;
			f->vendor = id & 0xffff;
			f->device = id >> 16;
			id = pci_read32(f, PCI_SUBVENDOR);
			f->subvendor = id & 0xffff;
			f->subdevice = id >> 16;
			f->irq_line = pci_read8(f, PCI_INTLINE);
			f->irq_pin = pci_read8(f, PCI_INTLINE + 1);
			if ((hdr & 0x7f) == 0)
				size_bars(f, 6);
			else if ((hdr & 0x7f) == 1)
				size_bars(f, 2);
			nfuncs++;
		}
	}
	outl(PCI_CONF_PORT, 0);
	return nfuncs;
}

/* The n-th function (0 first) that match() accepts, or NULL. */
struct pci_func *
pci_find(int (*match)(const struct pci_func *), int n)
{
	int i;

	pci_scan();
	for (i = 0; i < nfuncs; i++)
		if (match(&funcs[i]) && n-- == 0)
			return &funcs[i];
	return NULL;
}

static int
overlaps(uint64_t base, uint64_t size, int io)
{
	int i;

	for (i = 0; i < nused; i++)
		if (used[i].io == io && base < used[i].base + used[i].size &&
		    used[i].base < base + size)
			return 1;
	return 0;
}

/* First naturally aligned free spot of size in the window; 0 if none. */
static uint64_t
find_space(uint64_t size, int io)
{
	uint64_t start = io ? IO_WIN_START : MEM_WIN_START;
	uint64_t end = io ? IO_WIN_END : MEM_WIN_END;
	uint64_t b;

	if (size < 16)
		size = 16;
	for (b = (start + size - 1) & ~(size - 1); b + size <= end; b += size)
		if (!overlaps(b, size, io))
			return b;
	return 0;
}

/*
 * Places the BARs of f that nobody placed (or that lie above 4 GiB,
 * outside the guest's page tables), then turns on decoding and bus
 * mastering.  0, or -1 with *why set.
 */
int
pci_enable(struct pci_func *f, const char **why)
{
	uint16_t cmd = pci_read16(f, PCI_COMMAND);
	uint64_t b;
	int i;

	pci_write16(f, PCI_COMMAND, cmd & ~(PCI_CMD_IO | PCI_CMD_MEM));
	for (i = 0; i < 6; i++) {
		if (f->bar_type[i] == BAR_NONE)
			continue;
		if (f->bar[i] != 0 && (f->bar_type[i] == BAR_IO ||
		    f->bar[i] + f->bar_size[i] <= 0x100000000ULL))
			continue;
		b = find_space(f->bar_size[i], f->bar_type[i] == BAR_IO);
		if (b == 0) {
			*why = "no room for a BAR";
			return -1;
		}
		if (nused < MAX_RANGES) {
			used[nused].base = b;
			used[nused].size = f->bar_size[i];
			used[nused].io = f->bar_type[i] == BAR_IO;
			nused++;
		}
		f->bar[i] = b;
		pci_write32(f, PCI_BAR0 + 4 * i, (uint32_t)b);
		if (f->bar_type[i] == BAR_MEM64)
			pci_write32(f, PCI_BAR0 + 4 * i + 4, 0);
	}
	pci_write16(f, PCI_COMMAND, cmd | PCI_CMD_IO | PCI_CMD_MEM |
	    PCI_CMD_MASTER);
	return 0;
}

/* Offset of the first capability with id cap after start (0: from the
 * list head); 0 if none.  Bounded: a looping list ends. */
uint8_t
pci_find_cap(const struct pci_func *f, uint8_t cap, uint8_t start)
{
	uint8_t off;
	int n;

	if (!(pci_read16(f, PCI_STATUS) & PCI_STATUS_CAPS))
		return 0;
	off = start ? pci_read8(f, start + 1) : pci_read8(f, PCI_CAPPTR);
	for (n = 0; n < 48 && off >= 0x40; n++) {
		off &= 0xfc;
		if (pci_read8(f, off) == cap)
			return off;
		off = pci_read8(f, off + 1);
	}
	return 0;
}

/* Number of MSI-X table entries, 0 if the function has no MSI-X. */
int
pci_msix_count(struct pci_func *f)
{
	uint8_t c = pci_find_cap(f, PCI_CAP_MSIX, 0);
	uint32_t t;

	if (c == 0)
		return 0;
	t = pci_read32(f, c + 4);
	if (f->bar_type[t & 7] != BAR_MEM32 && f->bar_type[t & 7] != BAR_MEM64)
		return 0;
	f->msix_cap = c;
	f->msix_table = f->bar[t & 7] + (t & ~7U);
	return (pci_read16(f, c + 2) & 0x7ff) + 1;
}

/* Points table entry n at a vector of this CPU and unmasks it. */
void
pci_msix_set(struct pci_func *f, int n, int vector)
{
	uintptr_t e = (uintptr_t)f->msix_table + (uintptr_t)n * MSIX_ENTRY;

	mmio_w32(e + 0, MSI_ADDR | lapic_id() << 12);
	mmio_w32(e + 4, 0);
	mmio_w32(e + 8, (uint32_t)vector);
	mmio_w32(e + 12, 0);
}

/* MSI-X on and INTx off, or the reverse. */
void
pci_msix_enable(struct pci_func *f, int on)
{
	uint16_t ctl = pci_read16(f, f->msix_cap + 2);
	uint16_t cmd = pci_read16(f, PCI_COMMAND);

	ctl &= ~(MSIX_CTL_ENABLE | MSIX_CTL_MASKALL);
	if (on)
		ctl |= MSIX_CTL_ENABLE;
	pci_write16(f, f->msix_cap + 2, ctl);
	if (on)
		cmd |= PCI_CMD_INTX_OFF;
	else
		cmd &= ~PCI_CMD_INTX_OFF;
	pci_write16(f, PCI_COMMAND, cmd);
}
