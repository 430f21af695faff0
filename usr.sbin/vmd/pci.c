/*
 * pci.c: the PCI host bridge, configuration mechanism #1 at 0xcf8/0xcfc,
 * bus 0 only, one function per slot.  Each slot has a 256-byte config
 * space with a per-byte mask of what the guest may write and of what it
 * clears by writing ones, so read-only fields stay put and BAR sizing
 * falls out of the masks.  A BAR that decodes, inside the I/O or MMIO
 * window, is claimed in the device map for as long as it stays there, so
 * a BAR the guest moves takes its range with it; the bus calls the owning
 * function with an offset inside the BAR.  A BAR the guest puts over
 * another device's range does not decode.  No guest value indexes
 * anything here unchecked.
 */

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "dev.h"
#include "pci.h"
#include "vm.h"

#define PCI_CONF_ADDR		0xcf8
#define PCI_CONF_DATA		0xcfc
#define PCI_CONF_NPORTS		8
#define PCI_ADDR_ENABLE		0x80000000U
#define PCI_ADDR_MASK		0x80fffffcU	/* reserved bits read 0 */

#define PCI_HB_VENDOR		0x0b5d		/* OpenBSD */
#define PCI_HB_DEVICE		0x0666
#define PCI_CLASS_BRIDGE	0x06

/* Command bits a guest may change; status bits it clears with ones. */
#define PCI_COMMAND_WMASK	0x0547
#define PCI_STATUS_W1C		0xf900

#define PCI_CFG_SIZE		256

struct pci_bar {
	enum pci_bar_type	 type;
	uint32_t		 size;
	uint64_t		 mapped;	/* claimed, reported; or OFF */
};

struct pci_func {
	int			 used;
	uint8_t			 cfg[PCI_CFG_SIZE];
	uint8_t			 wmask[PCI_CFG_SIZE];
	uint8_t			 w1c[PCI_CFG_SIZE];
	uint8_t			 cap_last;	/* 0: no capability yet */
	uint8_t			 cap_free;	/* first free byte */
	int			 intx;		/* atomic: INTx asserted */
	struct pci_bar		 bar[PCI_MAX_BARS];
	const struct pci_func_ops *ops;
	void			*cookie;
};

struct pci_bus {
	struct device		*dev;
	uint32_t		 addr;		/* 0xcf8 */
	struct pci_func		 slot[PCI_MAX_SLOTS];
	struct dev_ratelim	 rl;		/* refused BAR placements */
};

static int	 pci_attach(struct device *, const struct dev_attach_args *);
static void	 pci_io(struct device *, enum dev_space, uint64_t, int,
		    uint8_t *, int);
static void	 pci_reset(struct device *);
static void	 pci_detach(struct device *);

const struct devsw pci_devsw = {
	.name = "pci",
	.attach = pci_attach,
	.io = pci_io,
	.reset = pci_reset,
	.detach = pci_detach
};

static void
cfg_put(uint8_t *p, uint8_t off, int size, uint32_t v)
{
	int	 i;

	for (i = 0; i < size; i++)
		p[off + i] = v >> (8 * i);
}

static uint32_t
cfg_get(const uint8_t *p, uint8_t off, int size)
{
	uint32_t v = 0;
	int	 i;

	for (i = 0; i < size; i++)
		v |= (uint32_t)p[off + i] << (8 * i);
	return (v);
}

/*
 * Where the BAR decodes now, from its register and the command bits;
 * only inside the window the platform gives to BARs.
 */
static uint64_t
bar_decoded(const struct pci_func *f, int i)
{
	uint32_t cmd = cfg_get(f->cfg, PCI_CFG_COMMAND, 2);
	uint32_t v = cfg_get(f->cfg, PCI_CFG_BAR0 + 4 * i, 4);
	uint64_t base, size = f->bar[i].size;

	switch (f->bar[i].type) {
	case PCI_BAR_IO:
		if (!(cmd & PCI_COMMAND_IO))
			return (PCI_BAR_OFF);
		base = v & ~3U;
		if (base < PCI_IO_WINDOW_START ||
		    base + size > PCI_IO_WINDOW_END)
			return (PCI_BAR_OFF);
		return (base);
	case PCI_BAR_MEM32:
		if (!(cmd & PCI_COMMAND_MEM))
			return (PCI_BAR_OFF);
		base = v & ~0xfU;
		if (base < VM_PCI_MMIO_START || base + size > VM_PCI_MMIO_END)
			return (PCI_BAR_OFF);
		return (base);
	default:
		return (PCI_BAR_OFF);
	}
}

static enum dev_space
bar_space(const struct pci_bar *b)
{
	return (b->type == PCI_BAR_IO ? DEV_SPACE_IO : DEV_SPACE_MMIO);
}

/*
 * Make each BAR's claim follow its register: drop the old range before
 * claiming the new one (a BAR moved by less than its size overlaps its
 * old self), and tell the function where it decodes now.  A placement
 * the map refuses leaves the BAR off, and is tried again at the next
 * write to this function's command register or BARs.
 */
static void
bars_update(struct pci_bus *bus, struct pci_func *f)
{
	struct pci_bar	*b;
	uint64_t	 want, old;
	unsigned int	 dropped;
	int		 i;

	for (i = 0; i < PCI_MAX_BARS; i++) {
		b = &f->bar[i];
		if (b->type == PCI_BAR_NONE)
			continue;
		want = bar_decoded(f, i);
		if (want == b->mapped)
			continue;
		old = b->mapped;
		if (old != PCI_BAR_OFF)
			dev_unclaim(bus->dev, bar_space(b), old, b->size);
		b->mapped = PCI_BAR_OFF;
		if (want != PCI_BAR_OFF &&
		    dev_claim(bus->dev, bar_space(b), want, b->size) == -1) {
			if (dev_ratelim(&bus->rl, &dropped))
				log_warnx("pci: slot %u BAR %d at 0x%llx "
				    "overlaps another device; not decoded%s",
				    (unsigned int)(f - bus->slot), i,
				    (unsigned long long)want, dropped ?
				    " (more such lines held back)" : "");
			want = PCI_BAR_OFF;
		}
		b->mapped = want;
		if (want != old && f->ops != NULL && f->ops->bar_moved != NULL)
			f->ops->bar_moved(f->cookie, i, old, want);
	}
}

static uint32_t
cfg_read(struct pci_func *f, uint8_t off, int size)
{
	uint32_t v = cfg_get(f->cfg, off, size);

	/* the interrupt status bit lives apart so functions need no lock */
	if (off <= PCI_CFG_STATUS && off + size > PCI_CFG_STATUS &&
	    __atomic_load_n(&f->intx, __ATOMIC_RELAXED))
		v |= PCI_STATUS_INTX << (8 * (PCI_CFG_STATUS - off));
	if (f->ops != NULL && f->ops->cfg_read != NULL)
		f->ops->cfg_read(f->cookie, off, size, &v);
	return (v);
}

static void
cfg_write(struct pci_bus *bus, struct pci_func *f, uint8_t off, int size,
    uint32_t v)
{
	uint8_t	 b, m;
	int	 i;

	for (i = 0; i < size; i++) {
		b = v >> (8 * i);
		m = f->wmask[off + i];
		f->cfg[off + i] = (f->cfg[off + i] & ~m) | (b & m);
		f->cfg[off + i] &= ~(b & f->w1c[off + i]);
	}
	if (off < PCI_CFG_BAR0 + 4 * PCI_MAX_BARS &&
	    off + size > PCI_CFG_COMMAND)
		bars_update(bus, f);
	if (f->ops != NULL && f->ops->cfg_write != NULL)
		f->ops->cfg_write(f->cookie, off, size, v);
}

/* The function the address register selects, or NULL. */
static struct pci_func *
conf_func(struct pci_bus *bus)
{
	uint32_t a = bus->addr;
	struct pci_func *f;

	if (!(a & PCI_ADDR_ENABLE))
		return (NULL);
	if (((a >> 16) & 0xff) != 0 || ((a >> 8) & 0x7) != 0)
		return (NULL);
	f = &bus->slot[(a >> 11) & 0x1f];
	return (f->used ? f : NULL);
}

static void
conf_io(struct pci_bus *bus, uint64_t port, int size, uint8_t *data,
    int write)
{
	struct pci_func *f;
	uint8_t	 off;

	if (port == PCI_CONF_ADDR && size == 4) {
		if (write)
			bus->addr = cfg_get(data, 0, 4) & PCI_ADDR_MASK;
		else
			cfg_put(data, 0, 4, bus->addr);
		return;
	}
	if (port < PCI_CONF_DATA || (f = conf_func(bus)) == NULL) {
		/* byte and word accesses to 0xcf8 are not config cycles */
		if (!write)
			memset(data, 0xff, size);
		return;
	}
	/* dev_io keeps the access inside 0xcfc-0xcff */
	off = (bus->addr & 0xfc) + (port - PCI_CONF_DATA);
	if (write)
		cfg_write(bus, f, off, size, cfg_get(data, 0, size));
	else
		cfg_put(data, 0, size, cfg_read(f, off, size));
}

/*
 * An access in a range the bus claimed for a BAR: to the BAR that
 * decodes it now (the map and the BARs agree under the bus lock).
 */
static void
bar_io(struct pci_bus *bus, enum dev_space space, uint64_t addr, int size,
    uint8_t *data, int write)
{
	enum pci_bar_type want;
	struct pci_func	*f;
	struct pci_bar	*b;
	int		 s, i;

	want = space == DEV_SPACE_IO ? PCI_BAR_IO : PCI_BAR_MEM32;
	for (s = 0; s < PCI_MAX_SLOTS; s++) {
		f = &bus->slot[s];
		if (!f->used || f->ops == NULL || f->ops->bar_io == NULL)
			continue;
		for (i = 0; i < PCI_MAX_BARS; i++) {
			b = &f->bar[i];
			if (b->type != want || b->mapped == PCI_BAR_OFF ||
			    addr < b->mapped || addr - b->mapped >= b->size ||
			    (uint64_t)size > b->size - (addr - b->mapped))
				continue;
			f->ops->bar_io(f->cookie, i, addr - b->mapped, size,
			    data, write);
			return;
		}
	}
	if (!write)
		memset(data, 0xff, size);
}

static void
pci_io(struct device *dev, enum dev_space space, uint64_t addr, int size,
    uint8_t *data, int write)
{
	struct pci_bus	*bus = dev->softc;

	if (space == DEV_SPACE_IO && addr >= PCI_CONF_ADDR &&
	    addr < PCI_CONF_ADDR + PCI_CONF_NPORTS)
		conf_io(bus, addr, size, data, write);
	else
		bar_io(bus, space, addr, size, data, write);
}

/* The header fields every function has, and what the guest may write. */
static void
func_init(struct pci_func *f, const struct pci_func_id *id)
{
	memset(f, 0, sizeof(*f));
	f->used = 1;
	cfg_put(f->cfg, PCI_CFG_VENDOR, 2, id->vendor);
	cfg_put(f->cfg, PCI_CFG_DEVICE, 2, id->device);
	f->cfg[PCI_CFG_REVISION] = id->revision;
	f->cfg[PCI_CFG_CLASS] = id->progif;
	f->cfg[PCI_CFG_CLASS + 1] = id->subclass;
	f->cfg[PCI_CFG_CLASS + 2] = id->class;
	f->cfg[PCI_CFG_HDRTYPE] = 0;
	cfg_put(f->cfg, PCI_CFG_SUBVENDOR, 2, id->subsys_vendor);
	cfg_put(f->cfg, PCI_CFG_SUBSYS, 2, id->subsys);
	f->cfg[PCI_CFG_INTLINE] = id->irq_line;
	f->cfg[PCI_CFG_INTPIN] = id->irq_pin;
	cfg_put(f->wmask, PCI_CFG_COMMAND, 2, PCI_COMMAND_WMASK);
	cfg_put(f->w1c, PCI_CFG_STATUS, 2, PCI_STATUS_W1C);
	f->wmask[0x0c] = 0xff;			/* cache line size */
	f->wmask[0x0d] = 0xff;			/* latency timer */
	f->wmask[PCI_CFG_INTLINE] = 0xff;
	f->cap_free = PCI_CFG_CAPSTART;
}

static struct pci_func *
func_get(struct pci_bus *bus, uint8_t slot)
{
	if (slot >= PCI_MAX_SLOTS || !bus->slot[slot].used)
		return (NULL);
	return (&bus->slot[slot]);
}

int
pci_add_function(struct device *dev, uint8_t *slot_out,
    const struct pci_func_ops *ops, void *cookie,
    const struct pci_func_id *id)
{
	struct pci_bus	*bus = dev->softc;
	int		 s, rv = -1;

	pthread_mutex_lock(&dev->lock);
	for (s = 1; s < PCI_MAX_SLOTS; s++) {
		if (bus->slot[s].used)
			continue;
		func_init(&bus->slot[s], id);
		if (id->irq_pin != 0 && id->irq_line == 0)
			bus->slot[s].cfg[PCI_CFG_INTLINE] = pci_intx_irq(s);
		bus->slot[s].ops = ops;
		bus->slot[s].cookie = cookie;
		*slot_out = s;
		rv = 0;
		break;
	}
	pthread_mutex_unlock(&dev->lock);
	if (rv == -1)
		log_warnx("pci: no free slot for %04x:%04x", id->vendor,
		    id->device);
	return (rv);
}

int
pci_add_bar(struct device *dev, uint8_t slot, int i, enum pci_bar_type type,
    uint32_t size)
{
	struct pci_bus	*bus = dev->softc;
	struct pci_func	*f;
	uint32_t	 mask;
	int		 rv = -1;

	pthread_mutex_lock(&dev->lock);
	if ((f = func_get(bus, slot)) == NULL || i < 0 || i >= PCI_MAX_BARS ||
	    f->bar[i].type != PCI_BAR_NONE || (size & (size - 1)) != 0 ||
	    (type == PCI_BAR_IO && (size < 4 || size > 256)) ||
	    (type == PCI_BAR_MEM32 && (size < 16 || size > (1U << 31))) ||
	    (type != PCI_BAR_IO && type != PCI_BAR_MEM32))
		goto out;
	f->bar[i].type = type;
	f->bar[i].size = size;
	f->bar[i].mapped = PCI_BAR_OFF;
	/* address bits below the size stay zero: that is how sizing works */
	mask = ~(size - 1);
	cfg_put(f->cfg, PCI_CFG_BAR0 + 4 * i, 4, type == PCI_BAR_IO ? 1 : 0);
	cfg_put(f->wmask, PCI_CFG_BAR0 + 4 * i, 4,
	    type == PCI_BAR_IO ? (mask & ~3U) : (mask & ~0xfU));
	rv = 0;
 out:
	pthread_mutex_unlock(&dev->lock);
	if (rv == -1)
		log_warnx("pci: slot %u: bad BAR %d (type %d size 0x%x)",
		    slot, i, type, size);
	return (rv);
}

/* Append a capability; body is what follows its id and next bytes. */
int
pci_add_cap(struct device *dev, uint8_t slot, uint8_t capid,
    const void *body, size_t len, uint8_t *off_out)
{
	struct pci_bus	*bus = dev->softc;
	struct pci_func	*f;
	size_t		 off;
	int		 rv = -1;

	pthread_mutex_lock(&dev->lock);
	if ((f = func_get(bus, slot)) == NULL)
		goto out;
	off = (f->cap_free + 3) & ~3U;
	if (len > PCI_CFG_SIZE || off + 2 + len > PCI_CFG_SIZE)
		goto out;
	f->cfg[off] = capid;
	f->cfg[off + 1] = 0;
	memcpy(&f->cfg[off + 2], body, len);
	if (f->cap_last == 0)
		f->cfg[PCI_CFG_CAPPTR] = off;
	else
		f->cfg[f->cap_last + 1] = off;
	f->cfg[PCI_CFG_STATUS] |= PCI_STATUS_CAPLIST;
	f->cap_last = off;
	f->cap_free = off + 2 + len;
	if (off_out != NULL)
		*off_out = off;
	rv = 0;
 out:
	pthread_mutex_unlock(&dev->lock);
	if (rv == -1)
		log_warnx("pci: slot %u: no room for capability 0x%02x",
		    slot, capid);
	return (rv);
}

/*
 * Set function-specific config bytes (0x40 and up) and, if wmask is not
 * NULL, which of their bits the guest may write.
 */
int
pci_cfg_set(struct device *dev, uint8_t slot, uint8_t off, const void *val,
    size_t len, const void *wmask)
{
	struct pci_bus	*bus = dev->softc;
	struct pci_func	*f;
	int		 rv = -1;

	pthread_mutex_lock(&dev->lock);
	if ((f = func_get(bus, slot)) == NULL || off < PCI_CFG_CAPSTART ||
	    len > (size_t)(PCI_CFG_SIZE - off))
		goto out;
	memcpy(&f->cfg[off], val, len);
	if (wmask != NULL)
		memcpy(&f->wmask[off], wmask, len);
	rv = 0;
 out:
	pthread_mutex_unlock(&dev->lock);
	return (rv);
}

uint64_t
pci_bar_base(struct device *dev, uint8_t slot, int i)
{
	struct pci_bus	*bus = dev->softc;
	struct pci_func	*f;
	uint64_t	 base = PCI_BAR_OFF;

	pthread_mutex_lock(&dev->lock);
	if ((f = func_get(bus, slot)) != NULL && i >= 0 && i < PCI_MAX_BARS)
		base = f->bar[i].mapped;
	pthread_mutex_unlock(&dev->lock);
	return (base);
}

/*
 * The slots of the functions with this vendor and device id, in slot
 * order (firmware's boot order names devices by slot): at most max of
 * them in slots, and how many there are.
 */
size_t
pci_find_slots(struct device *dev, uint16_t vendor, uint16_t device,
    uint8_t *slots, size_t max)
{
	struct pci_bus	*bus = dev->softc;
	size_t		 n = 0;
	int		 s;

	pthread_mutex_lock(&dev->lock);
	for (s = 0; s < PCI_MAX_SLOTS; s++) {
		if (!bus->slot[s].used ||
		    cfg_get(bus->slot[s].cfg, PCI_CFG_VENDOR, 2) != vendor ||
		    cfg_get(bus->slot[s].cfg, PCI_CFG_DEVICE, 2) != device)
			continue;
		if (n < max)
			slots[n] = (uint8_t)s;
		n++;
	}
	pthread_mutex_unlock(&dev->lock);
	return (n);
}

/* The irq line INTA# of a slot is wired to (see vm.h). */
uint8_t
pci_intx_irq(uint8_t slot)
{
	static const uint8_t irqs[VM_PCI_NINTX] = VM_PCI_INTX_IRQS;

	return (irqs[(slot + VM_PCI_NINTX - 1) % VM_PCI_NINTX]);
}

/*
 * Lock-free so a function may call it from its own interrupt path while
 * the bus lock is held by a vCPU calling into that function.
 */
int
pci_set_intx_status(struct device *dev, uint8_t slot, int asserted)
{
	struct pci_bus	*bus = dev->softc;

	if (slot >= PCI_MAX_SLOTS)
		return (-1);
	__atomic_store_n(&bus->slot[slot].intx, asserted ? 1 : 0,
	    __ATOMIC_RELAXED);
	return (0);
}

static int
pci_attach(struct device *dev, const struct dev_attach_args *args)
{
	struct pci_bus	*bus;
	struct pci_func_id hb = {
		.vendor = PCI_HB_VENDOR,
		.device = PCI_HB_DEVICE,
		.class = PCI_CLASS_BRIDGE,
		.subclass = 0x00
	};

	if ((bus = calloc(1, sizeof(*bus))) == NULL) {
		log_warn("pci: calloc");
		return (-1);
	}
	bus->dev = dev;
	func_init(&bus->slot[0], &hb);
	if (dev_claim(dev, DEV_SPACE_IO, PCI_CONF_ADDR, PCI_CONF_NPORTS) ==
	    -1) {
		log_warn("pci: ports 0x%x-0x%x", PCI_CONF_ADDR,
		    PCI_CONF_ADDR + PCI_CONF_NPORTS - 1);
		free(bus);
		return (-1);
	}
	dev->softc = bus;
	return (0);
}

/*
 * Power-on: BARs unassigned and decoding off, as firmware or the OS
 * expects to find them; what functions were added stays.
 */
static void
pci_reset(struct device *dev)
{
	struct pci_bus	*bus = dev->softc;
	struct pci_func	*f;
	int		 s, i;

	pthread_mutex_lock(&dev->lock);
	bus->addr = 0;
	for (s = 0; s < PCI_MAX_SLOTS; s++) {
		f = &bus->slot[s];
		if (!f->used)
			continue;
		cfg_put(f->cfg, PCI_CFG_COMMAND, 2, 0);
		f->cfg[PCI_CFG_STATUS + 1] = 0;
		f->cfg[0x0c] = f->cfg[0x0d] = 0;
		for (i = 0; i < PCI_MAX_BARS; i++)
			if (f->bar[i].type != PCI_BAR_NONE)
				cfg_put(f->cfg, PCI_CFG_BAR0 + 4 * i, 4,
				    f->bar[i].type == PCI_BAR_IO ? 1 : 0);
		bars_update(bus, f);
	}
	pthread_mutex_unlock(&dev->lock);
}

static void
pci_detach(struct device *dev)
{
	free(dev->softc);
	dev->softc = NULL;
}
