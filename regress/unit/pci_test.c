/*
 * pci_test.c: unit tests of the PCI host bridge in pci.c through the
 * 0xcf8/0xcfc ports with every access size: the bridge's ids and class,
 * empty slots and functions reading all-ones, read-only fields, and a
 * fake function whose BARs are sized, placed, enabled and moved by the
 * guest, with its hooks and capabilities; BARs claim their ranges in
 * the device map as they move, two BARs at one place share a counted
 * claim, and a BAR over another device or outside the windows does not
 * decode.  Hooks record what they saw; checks look at those records,
 * never at the code's intent.
 */

#include <stdlib.h>
#include <string.h>

#include "dev.h"
#include "pci.h"
#include "vm.h"
#include "regress/test.h"

struct fake_fn {
	int		 moved;
	int		 moved_bar;
	uint64_t	 moved_old, moved_new;
	int		 io;
	int		 io_bar;
	uint64_t	 io_off;
	int		 io_size;
	int		 io_write;
	uint64_t	 io_val;
	int		 cfg_writes;
	uint8_t		 cfg_write_off;
	uint32_t	 cfg_write_val;
};

static void
fn_moved(void *arg, int bar, uint64_t o, uint64_t n)
{
	struct fake_fn	*f = arg;

	f->moved++;
	f->moved_bar = bar;
	f->moved_old = o;
	f->moved_new = n;
}

static void
fn_io(void *arg, int bar, uint64_t off, int size, uint8_t *data, int write)
{
	struct fake_fn	*f = arg;
	int		 i;

	f->io++;
	f->io_bar = bar;
	f->io_off = off;
	f->io_size = size;
	f->io_write = write;
	if (write) {
		f->io_val = 0;
		for (i = 0; i < size; i++)
			f->io_val |= (uint64_t)data[i] << (8 * i);
	} else
		for (i = 0; i < size; i++)
			data[i] = 0xa0 + i;
}

/* Live register at 0x40: reads come from the function, not the bytes. */
static void
fn_cfg_read(void *arg, uint8_t off, int size, uint32_t *val)
{
	if (off == 0x40 && size == 4)
		*val = 0xfeedf00d;
}

static void
fn_cfg_write(void *arg, uint8_t off, int size, uint32_t val)
{
	struct fake_fn	*f = arg;

	f->cfg_writes++;
	f->cfg_write_off = off;
	f->cfg_write_val = val;
}

static const struct pci_func_ops fn_ops = {
	.cfg_read = fn_cfg_read,
	.cfg_write = fn_cfg_write,
	.bar_moved = fn_moved,
	.bar_io = fn_io
};

static const struct pci_func_id fn_id = {
	.vendor = 0x1af4,
	.device = 0x1042,
	.subsys_vendor = 0x1af4,
	.subsys = 0x0002,
	.class = 0x01,
	.subclass = 0x00,
	.revision = 0x01,
	.irq_pin = 1,
	.irq_line = 11
};

struct bus {
	struct devices	 set;
	struct dev_host	 host;
	struct device	*dev;
};

static int
bus_open(struct bus *b)
{
	struct dev_attach_args a = { .fd = -1, .fd2 = -1 };

	memset(b, 0, sizeof(*b));
	dev_init(&b->set, &b->host);
	b->dev = dev_attach(&b->set, &pci_devsw, &a);
	return (b->dev != NULL ? 0 : -1);
}

static uint32_t
in(struct bus *b, enum dev_space sp, uint64_t port, int size)
{
	uint8_t	 d[8] = { 0 };

	dev_io(&b->set, sp, port, size, d, 0);
	return (d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24);
}

static void
out(struct bus *b, enum dev_space sp, uint64_t port, int size, uint32_t v)
{
	uint8_t	 d[8] = { v, v >> 8, v >> 16, v >> 24 };

	dev_io(&b->set, sp, port, size, d, 1);
}

#define IO	DEV_SPACE_IO
#define MMIO	DEV_SPACE_MMIO

static uint32_t
cfg_addr(int bus, int slot, int fn, int reg)
{
	return (0x80000000U | bus << 16 | slot << 11 | fn << 8 | (reg & 0xfc));
}

/* A config read of size at reg, the way a guest does it. */
static uint32_t
cfgrd(struct bus *b, int slot, int reg, int size)
{
	out(b, IO, 0xcf8, 4, cfg_addr(0, slot, 0, reg));
	return (in(b, IO, 0xcfc + (reg & 3), size));
}

static void
cfgwr(struct bus *b, int slot, int reg, int size, uint32_t v)
{
	out(b, IO, 0xcf8, 4, cfg_addr(0, slot, 0, reg));
	out(b, IO, 0xcfc + (reg & 3), size, v);
}

static void
test_host_bridge(void)
{
	struct bus	 b;
	int		 i;

	CHECK(bus_open(&b) == 0);
	if (b.dev == NULL)
		return;
	CHECK(cfgrd(&b, 0, 0x00, 4) == 0x06660b5d);
	CHECK(cfgrd(&b, 0, 0x00, 2) == 0x0b5d);
	CHECK(cfgrd(&b, 0, 0x02, 2) == 0x0666);
	CHECK(cfgrd(&b, 0, 0x00, 1) == 0x5d);
	CHECK(cfgrd(&b, 0, 0x01, 1) == 0x0b);
	CHECK(cfgrd(&b, 0, 0x02, 1) == 0x66);
	CHECK(cfgrd(&b, 0, 0x03, 1) == 0x06);
	CHECK((cfgrd(&b, 0, 0x08, 4) >> 8) == 0x060000);
	CHECK(cfgrd(&b, 0, 0x0b, 1) == 0x06);
	CHECK(cfgrd(&b, 0, 0x0a, 1) == 0x00);
	CHECK(cfgrd(&b, 0, 0x0a, 2) == 0x0600);
	CHECK(cfgrd(&b, 0, 0x0e, 1) == 0x00);	/* header type 0 */
	/* unaligned word inside the dword */
	CHECK(cfgrd(&b, 0, 0x01, 2) == 0x660b);
	/* read-only: vendor, device, class */
	cfgwr(&b, 0, 0x00, 4, 0x12345678);
	cfgwr(&b, 0, 0x08, 4, 0xffffffff);
	CHECK(cfgrd(&b, 0, 0x00, 4) == 0x06660b5d);
	CHECK((cfgrd(&b, 0, 0x08, 4) >> 8) == 0x060000);
	/* writable: interrupt line, latency timer */
	cfgwr(&b, 0, 0x3c, 1, 0x0a);
	CHECK(cfgrd(&b, 0, 0x3c, 1) == 0x0a);
	/* the rest of the header of a bridge with nothing reads 0 */
	for (i = 0x10; i < 0x28; i += 4)
		CHECK(cfgrd(&b, 0, i, 4) == 0);
	dev_detach_all(&b.set);
}

static void
test_address_register(void)
{
	struct bus	 b;

	CHECK(bus_open(&b) == 0);
	if (b.dev == NULL)
		return;
	out(&b, IO, 0xcf8, 4, 0xffffffff);
	CHECK(in(&b, IO, 0xcf8, 4) == 0x80fffffc);
	out(&b, IO, 0xcf8, 4, 0x80000000);
	CHECK(in(&b, IO, 0xcf8, 4) == 0x80000000);
	/* byte and word accesses to 0xcf8-0xcfb are not config cycles */
	out(&b, IO, 0xcfb, 1, 0x01);
	out(&b, IO, 0xcf8, 2, 0x1234);
	CHECK(in(&b, IO, 0xcf8, 4) == 0x80000000);
	CHECK(in(&b, IO, 0xcf8, 2) == 0xffff);
	CHECK(in(&b, IO, 0xcfa, 1) == 0xff);
	/* enable bit clear: no config cycle */
	out(&b, IO, 0xcf8, 4, 0x00000000);
	CHECK(in(&b, IO, 0xcfc, 4) == 0xffffffff);
	out(&b, IO, 0xcfc, 4, 0);
	/* dword at 0xcfe would run past 0xcff: nobody's */
	out(&b, IO, 0xcf8, 4, 0x80000000);
	CHECK(in(&b, IO, 0xcfe, 4) == 0xffffffff);
	dev_detach_all(&b.set);
}

static void
test_empty(void)
{
	struct bus	 b;
	int		 s, sz;

	CHECK(bus_open(&b) == 0);
	if (b.dev == NULL)
		return;
	for (s = 1; s < 32; s++)
		for (sz = 1; sz <= 4; sz *= 2)
			CHECK(cfgrd(&b, s, 0, sz) ==
			    (sz == 4 ? 0xffffffff : (1U << (8 * sz)) - 1));
	/* function 1 of slot 0, bus 1 */
	out(&b, IO, 0xcf8, 4, cfg_addr(0, 0, 1, 0));
	CHECK(in(&b, IO, 0xcfc, 4) == 0xffffffff);
	out(&b, IO, 0xcf8, 4, cfg_addr(1, 0, 0, 0));
	CHECK(in(&b, IO, 0xcfc, 4) == 0xffffffff);
	out(&b, IO, 0xcfc, 4, 0);		/* dropped */
	CHECK(cfgrd(&b, 0, 0, 4) == 0x06660b5d);
	dev_detach_all(&b.set);
}

static void
test_bar_sizing(void)
{
	struct bus	 b;
	struct fake_fn	 f;
	uint8_t		 slot = 0;

	memset(&f, 0, sizeof(f));
	CHECK(bus_open(&b) == 0);
	if (b.dev == NULL)
		return;
	CHECK(pci_add_function(b.dev, &slot, &fn_ops, &f, &fn_id) == 0);
	CHECK(slot == 1);
	CHECK(pci_add_bar(b.dev, slot, 0, PCI_BAR_MEM32, 0x1000) == 0);
	CHECK(pci_add_bar(b.dev, slot, 1, PCI_BAR_IO, 0x20) == 0);
	CHECK(pci_add_bar(b.dev, slot, 1, PCI_BAR_IO, 0x20) == -1);
	CHECK(pci_add_bar(b.dev, slot, 2, PCI_BAR_MEM32, 0x1800) == -1);
	CHECK(pci_add_bar(b.dev, slot, 2, PCI_BAR_IO, 2) == -1);
	CHECK(pci_add_bar(b.dev, slot, 6, PCI_BAR_MEM32, 0x1000) == -1);
	CHECK(pci_add_bar(b.dev, 9, 2, PCI_BAR_MEM32, 0x1000) == -1);
	CHECK(cfgrd(&b, slot, 0, 4) == 0x10421af4);
	CHECK(cfgrd(&b, slot, 0x2c, 4) == 0x00021af4);
	CHECK(cfgrd(&b, slot, 0x3c, 2) == 0x010b);
	/* unassigned BARs read their type bits */
	CHECK(cfgrd(&b, slot, 0x10, 4) == 0x00000000);
	CHECK(cfgrd(&b, slot, 0x14, 4) == 0x00000001);
	/* sizing */
	cfgwr(&b, slot, 0x10, 4, 0xffffffff);
	cfgwr(&b, slot, 0x14, 4, 0xffffffff);
	cfgwr(&b, slot, 0x18, 4, 0xffffffff);
	CHECK(cfgrd(&b, slot, 0x10, 4) == 0xfffff000);
	CHECK(cfgrd(&b, slot, 0x14, 4) == 0xffffffe1);
	CHECK(cfgrd(&b, slot, 0x18, 4) == 0);		/* no BAR 2 */
	CHECK(cfgrd(&b, slot, 0x30, 4) == 0);		/* no ROM */
	CHECK(f.moved == 0);			/* decoding is off */
	/* placing, with decoding still off */
	cfgwr(&b, slot, 0x10, 4, 0xe0001234);
	cfgwr(&b, slot, 0x14, 4, 0x00001000);
	CHECK(cfgrd(&b, slot, 0x10, 4) == 0xe0001000);
	CHECK(cfgrd(&b, slot, 0x14, 4) == 0x00001001);
	CHECK(f.moved == 0);
	CHECK(pci_bar_base(b.dev, slot, 0) == PCI_BAR_OFF);
	CHECK(in(&b, MMIO, 0xe0001010, 4) == 0xffffffff && f.io == 0);
	/* memory decoding on: BAR 0 appears */
	cfgwr(&b, slot, 0x04, 2, PCI_COMMAND_MEM);
	CHECK(f.moved == 1 && f.moved_bar == 0 &&
	    f.moved_old == PCI_BAR_OFF && f.moved_new == 0xe0001000);
	CHECK(pci_bar_base(b.dev, slot, 0) == 0xe0001000);
	CHECK(in(&b, MMIO, 0xe0001010, 4) == 0xa3a2a1a0);
	CHECK(f.io == 1 && f.io_bar == 0 && f.io_off == 0x10 &&
	    f.io_size == 4 && !f.io_write);
	out(&b, MMIO, 0xe0001ff8, 8, 0);
	CHECK(f.io == 2 && f.io_off == 0xff8 && f.io_size == 8);
	/* straddling the end of the BAR reaches nobody */
	CHECK(in(&b, MMIO, 0xe0001ffe, 4) == 0xffffffff && f.io == 2);
	/* I/O BAR still off */
	CHECK(in(&b, IO, 0x1004, 1) == 0xff && f.io == 2);
	cfgwr(&b, slot, 0x04, 2, PCI_COMMAND_MEM | PCI_COMMAND_IO);
	CHECK(f.moved == 2 && f.moved_bar == 1 && f.moved_new == 0x1000);
	out(&b, IO, 0x1005, 1, 0x42);
	CHECK(f.io == 3 && f.io_bar == 1 && f.io_off == 5 && f.io_write &&
	    f.io_val == 0x42);
	/* moving BAR 0 while decoded */
	cfgwr(&b, slot, 0x10, 4, 0xe0004000);
	CHECK(f.moved == 3 && f.moved_bar == 0 &&
	    f.moved_old == 0xe0001000 && f.moved_new == 0xe0004000);
	CHECK(in(&b, MMIO, 0xe0001010, 4) == 0xffffffff && f.io == 3);
	CHECK(in(&b, MMIO, 0xe0004010, 1) == 0xa0 && f.io == 4);
	/* a byte write to the BAR's top byte moves it too */
	cfgwr(&b, slot, 0x13, 1, 0xe1);
	CHECK(f.moved == 4 && f.moved_new == 0xe1004000);
	/* decoding off again: both go away */
	cfgwr(&b, slot, 0x04, 2, 0);
	CHECK(f.moved == 6 && f.moved_new == PCI_BAR_OFF);
	CHECK(in(&b, MMIO, 0xe1004010, 1) == 0xff && f.io == 4);
	/* reset: BARs unassigned */
	cfgwr(&b, slot, 0x04, 2, PCI_COMMAND_MEM);
	CHECK(f.moved == 7);
	dev_reset_all(&b.set);
	CHECK(f.moved == 8 && f.moved_new == PCI_BAR_OFF);
	CHECK(cfgrd(&b, slot, 0x10, 4) == 0 && cfgrd(&b, slot, 0x04, 2) == 0);
	CHECK(cfgrd(&b, slot, 0, 4) == 0x10421af4);
	dev_detach_all(&b.set);
}

static void
test_hooks_caps(void)
{
	struct bus	 b;
	struct fake_fn	 f;
	uint8_t		 slot = 0, off1 = 0, off2 = 0, big[300];
	const uint8_t	 body1[] = { 0x10, 0x01, 0x02 };
	const uint8_t	 body2[] = { 0x05, 0x06 };
	const uint8_t	 val[4] = { 1, 2, 3, 4 }, wm[4] = { 0xff, 0, 0, 0 };

	memset(&f, 0, sizeof(f));
	memset(big, 0, sizeof(big));
	CHECK(bus_open(&b) == 0);
	if (b.dev == NULL)
		return;
	CHECK(pci_add_function(b.dev, &slot, &fn_ops, &f, &fn_id) == 0);
	CHECK((cfgrd(&b, slot, 0x06, 2) & PCI_STATUS_CAPLIST) == 0);
	CHECK(pci_add_cap(b.dev, slot, 0x09, body1, sizeof(body1), &off1) ==
	    0);
	CHECK(pci_add_cap(b.dev, slot, 0x11, body2, sizeof(body2), &off2) ==
	    0);
	CHECK(pci_add_cap(b.dev, slot, 0x09, big, sizeof(big), NULL) == -1);
	CHECK(off1 == 0x40 && off2 == 0x48);
	CHECK(cfgrd(&b, slot, 0x06, 2) & PCI_STATUS_CAPLIST);
	CHECK(cfgrd(&b, slot, 0x34, 1) == off1);
	CHECK(cfgrd(&b, slot, off1 + 1, 1) == off2);
	CHECK(cfgrd(&b, slot, off2, 1) == 0x11);
	CHECK(cfgrd(&b, slot, off2 + 1, 1) == 0);
	CHECK(cfgrd(&b, slot, off2 + 2, 2) == 0x0605);
	/* the read hook overrides a live register */
	CHECK(cfgrd(&b, slot, 0x40, 4) == 0xfeedf00d);
	CHECK(cfgrd(&b, slot, 0x42, 1) == 0x10);
	CHECK(cfgrd(&b, slot, 0x43, 1) == 0x01);
	/* caps are read-only unless the function says otherwise */
	cfgwr(&b, slot, 0x4a, 1, 0x77);
	CHECK(cfgrd(&b, slot, 0x4a, 1) == 0x05);
	CHECK(f.cfg_writes == 1 && f.cfg_write_off == 0x4a &&
	    f.cfg_write_val == 0x77);
	CHECK(pci_cfg_set(b.dev, slot, 0x80, val, 4, wm) == 0);
	CHECK(pci_cfg_set(b.dev, slot, 0x10, val, 4, NULL) == -1);
	CHECK(pci_cfg_set(b.dev, slot, 0xfe, val, 4, NULL) == -1);
	cfgwr(&b, slot, 0x80, 4, 0xffffffff);
	CHECK(cfgrd(&b, slot, 0x80, 4) == 0x040302ff);
	/* status: interrupt bit from the function; error bits are W1C */
	CHECK(pci_set_intx_status(b.dev, slot, 1) == 0);
	CHECK(cfgrd(&b, slot, 0x06, 2) & PCI_STATUS_INTX);
	CHECK(cfgrd(&b, slot, 0x04, 4) & (PCI_STATUS_INTX << 16));
	pci_set_intx_status(b.dev, slot, 0);
	CHECK((cfgrd(&b, slot, 0x06, 2) & PCI_STATUS_INTX) == 0);
	cfgwr(&b, slot, 0x06, 2, 0xffff);
	CHECK(cfgrd(&b, slot, 0x06, 2) == PCI_STATUS_CAPLIST);
	/* command: only the defined bits stick */
	cfgwr(&b, slot, 0x04, 2, 0xffff);
	CHECK(cfgrd(&b, slot, 0x04, 2) == 0x0547);
	dev_detach_all(&b.set);
}

static void
test_slots_full(void)
{
	struct bus	 b;
	uint8_t		 slot;
	int		 i, ok = 1;

	CHECK(bus_open(&b) == 0);
	if (b.dev == NULL)
		return;
	for (i = 1; i < 32; i++)
		if (pci_add_function(b.dev, &slot, NULL, NULL, &fn_id) != 0 ||
		    slot != i)
			ok = 0;
	CHECK(ok);
	CHECK(pci_add_function(b.dev, &slot, NULL, NULL, &fn_id) == -1);
	CHECK(cfgrd(&b, 31, 0, 4) == 0x10421af4);
	/* a function without ops: BAR accesses read all-ones */
	CHECK(pci_add_bar(b.dev, 31, 0, PCI_BAR_MEM32, 0x100) == 0);
	cfgwr(&b, 31, 0x10, 4, 0xe0000000);
	cfgwr(&b, 31, 0x04, 2, PCI_COMMAND_MEM);
	CHECK(in(&b, MMIO, 0xe0000000, 4) == 0xffffffff);
	dev_detach_all(&b.set);
}

static void
test_random(void)
{
	struct bus	 b;
	struct fake_fn	 f;
	uint8_t		 slot, d[8];
	int		 i, sizes[3] = { 1, 2, 4 };

	memset(&f, 0, sizeof(f));
	CHECK(bus_open(&b) == 0);
	if (b.dev == NULL)
		return;
	CHECK(pci_add_function(b.dev, &slot, &fn_ops, &f, &fn_id) == 0);
	CHECK(pci_add_bar(b.dev, slot, 0, PCI_BAR_MEM32, 0x1000) == 0);
	CHECK(pci_add_bar(b.dev, slot, 2, PCI_BAR_IO, 0x40) == 0);
	srandom(0xcf8);
	for (i = 0; i < 20000; i++) {
		memset(d, random(), sizeof(d));
		d[0] = random();
		if (random() % 3 == 0) {
			/* aim at slots 0-2 most of the time */
			out(&b, IO, 0xcf8, 4, 0x80000000U |
			    (random() % 3) << 11 | (random() & 0xfc) |
			    (random() % 8 == 0 ? (uint32_t)random() : 0));
			continue;
		}
		dev_io(&b.set, IO, 0xcf8 + random() % 8, sizes[random() % 3],
		    d, random() & 1);
		if (random() % 16 == 0)
			dev_io(&b.set, MMIO, 0xe0000000 + (random() & 0xffff),
			    4, d, random() & 1);
	}
	CHECK(cfgrd(&b, 0, 0, 4) == 0x06660b5d);
	CHECK(cfgrd(&b, slot, 0, 4) == 0x10421af4);
	dev_detach_all(&b.set);
}

/* a plain device owning ports 0x2000-0x200f, to collide with */
static int
port_attach(struct device *dev, const struct dev_attach_args *a)
{
	return (dev_claim(dev, DEV_SPACE_IO, 0x2000, 0x10));
}

static void
port_io(struct device *dev, enum dev_space sp, uint64_t addr, int size,
    uint8_t *data, int write)
{
	if (!write)
		memset(data, 0x11, size);
}

static const struct devsw port_devsw = {
	.name = "port",
	.attach = port_attach,
	.io = port_io
};

/* Is [start, start+len) one range of the map, held by dev? */
static int
in_map(struct bus *b, enum dev_space sp, uint64_t start, uint64_t len,
    unsigned int refs)
{
	size_t	 i;

	for (i = 0; i < b->set.nrange; i++)
		if (b->set.range[i].space == sp &&
		    b->set.range[i].start == start &&
		    b->set.range[i].len == len &&
		    b->set.range[i].dev == b->dev &&
		    b->set.range[i].refs == refs)
			return (1);
	return (0);
}

static void
test_bar_claims(void)
{
	struct bus	 b;
	struct fake_fn	 f1, f2;
	struct dev_attach_args a = { .fd = -1, .fd2 = -1 };
	uint8_t		 s1 = 0, s2 = 0;
	size_t		 base;

	memset(&f1, 0, sizeof(f1));
	memset(&f2, 0, sizeof(f2));
	CHECK(bus_open(&b) == 0);
	if (b.dev == NULL)
		return;
	CHECK(dev_attach(&b.set, &port_devsw, &a) != NULL);
	base = b.set.nrange;		/* 0xcf8 and the port device */
	CHECK(base == 2);
	CHECK(pci_add_function(b.dev, &s1, &fn_ops, &f1, &fn_id) == 0);
	CHECK(pci_add_function(b.dev, &s2, &fn_ops, &f2, &fn_id) == 0);
	CHECK(pci_add_bar(b.dev, s1, 0, PCI_BAR_MEM32, 0x1000) == 0);
	CHECK(pci_add_bar(b.dev, s1, 1, PCI_BAR_IO, 0x20) == 0);
	CHECK(pci_add_bar(b.dev, s2, 0, PCI_BAR_MEM32, 0x1000) == 0);
	/* nothing decodes yet: nothing claimed */
	cfgwr(&b, s1, 0x10, 4, 0xe0000000);
	cfgwr(&b, s1, 0x14, 4, 0x3000);
	CHECK(b.set.nrange == base);
	cfgwr(&b, s1, 0x04, 2, PCI_COMMAND_MEM | PCI_COMMAND_IO);
	CHECK(b.set.nrange == base + 2);
	CHECK(in_map(&b, MMIO, 0xe0000000, 0x1000, 1));
	CHECK(in_map(&b, IO, 0x3000, 0x20, 1));
	/* moving by less than the size: the old range goes first */
	cfgwr(&b, s1, 0x14, 4, 0x3010);
	CHECK(pci_bar_base(b.dev, s1, 1) == 0x3000);	/* size-aligned */
	cfgwr(&b, s1, 0x10, 4, 0xe0001000);
	CHECK(in_map(&b, MMIO, 0xe0001000, 0x1000, 1));
	CHECK(!in_map(&b, MMIO, 0xe0000000, 0x1000, 1));
	CHECK(b.set.nrange == base + 2);
	/* the second function's BAR at the same place: one counted claim */
	cfgwr(&b, s2, 0x10, 4, 0xe0001000);
	cfgwr(&b, s2, 0x04, 2, PCI_COMMAND_MEM);
	CHECK(in_map(&b, MMIO, 0xe0001000, 0x1000, 2));
	CHECK(b.set.nrange == base + 2);
	/* moving one away leaves the other decoding */
	cfgwr(&b, s2, 0x10, 4, 0xe0008000);
	CHECK(in_map(&b, MMIO, 0xe0001000, 0x1000, 1));
	CHECK(in_map(&b, MMIO, 0xe0008000, 0x1000, 1));
	CHECK(in(&b, MMIO, 0xe0001004, 1) == 0xa0 && f1.io == 1);
	CHECK(in(&b, MMIO, 0xe0008004, 1) == 0xa0 && f2.io == 1);
	/* an I/O BAR over the port device does not decode */
	f1.moved = 0;
	cfgwr(&b, s1, 0x14, 4, 0x2000);
	CHECK(f1.moved == 1 && f1.moved_bar == 1 &&
	    f1.moved_old == 0x3000 && f1.moved_new == PCI_BAR_OFF);
	CHECK(pci_bar_base(b.dev, s1, 1) == PCI_BAR_OFF);
	CHECK(in(&b, IO, 0x2004, 1) == 0x11 && f1.io == 1);
	CHECK(!in_map(&b, IO, 0x3000, 0x20, 1));
	/* ... and decodes once placed somewhere free */
	cfgwr(&b, s1, 0x14, 4, 0x4000);
	CHECK(f1.moved == 2 && f1.moved_new == 0x4000);
	CHECK(in_map(&b, IO, 0x4000, 0x20, 1));
	/* outside the windows: not decoded, nothing claimed */
	cfgwr(&b, s1, 0x14, 4, 0x0300);
	CHECK(pci_bar_base(b.dev, s1, 1) == PCI_BAR_OFF);
	CHECK(in(&b, IO, 0x0304, 1) == 0xff);
	cfgwr(&b, s1, 0x10, 4, 0x10000000);
	CHECK(pci_bar_base(b.dev, s1, 0) == PCI_BAR_OFF);
	cfgwr(&b, s1, 0x10, 4, 0xfec00000);
	CHECK(pci_bar_base(b.dev, s1, 0) == PCI_BAR_OFF);
	cfgwr(&b, s1, 0x10, 4, 0xfebff000);	/* last page of the window */
	CHECK(pci_bar_base(b.dev, s1, 0) == 0xfebff000);
	/* decoding off, and reset, release everything */
	cfgwr(&b, s1, 0x04, 2, 0);
	CHECK(!in_map(&b, MMIO, 0xfebff000, 0x1000, 1));
	dev_reset_all(&b.set);
	CHECK(b.set.nrange == base);
	dev_detach_all(&b.set);
}

int
main(void)
{
	RUN(test_host_bridge);
	RUN(test_address_register);
	RUN(test_empty);
	RUN(test_bar_sizing);
	RUN(test_hooks_caps);
	RUN(test_slots_full);
	RUN(test_random);
	RUN(test_bar_claims);
	TEST_EXIT();
}
