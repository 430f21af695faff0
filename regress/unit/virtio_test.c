/*
 * virtio_test.c: unit tests of the virtio PCI transport (virtio.c) and
 * of viornd through it, driven the way a guest driver does: config
 * cycles at 0xcf8/0xcfc to find the function and its capabilities and
 * to place BAR 0, then MMIO to the common configuration, doorbells, ISR
 * and MSI-X table, over a fake guest RAM and a fake host that records
 * ioeventfd, irqfd, MSI route and MSI calls.  Covered: ids and
 * capabilities, feature negotiation, queue setup, ioeventfds following
 * the BAR, INTx and MSI-X delivery with masking and pending bits, irqfd
 * binding, the pci_cfg window, DEVICE_NEEDS_RESET on a hostile ring and
 * recovery by reset, VM reset, viornd's output and its rate bound, the
 * legacy layout, and random register traffic.  Checks look at guest
 * memory and at what the host saw, never at the code's intent.
 */

#include <sys/eventfd.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "dev.h"
#include "pci.h"
#include "virtio.h"
#include "vm.h"
#include "regress/test.h"

#define RAM_SIZE	(1024 * 1024)
#define BAR_ADDR	0xe0000000ULL
#define DESC_GPA	0x10000
#define AVAIL_GPA	0x11000
#define USED_GPA	0x12000
#define BUF_GPA		0x20000

#define IO	DEV_SPACE_IO
#define MMIO	DEV_SPACE_MMIO

struct fake_host {
	uint8_t		*ram;
	int		 irq_level[32];
	int		 irq_raised[32];
	int		 ioeventfds;		/* registered now */
	uint64_t	 ioeventfd_addr;
	enum dev_space	 ioeventfd_space;
	int		 ioeventfd_match;
	uint64_t	 ioeventfd_val;
	int		 irqfds;		/* bound now */
	uint32_t	 irqfd_gsi;
	int		 irqfd_fd;
	int		 routes;
	uint32_t	 route_gsi;
	uint64_t	 route_addr;
	uint32_t	 route_data;
	int		 msis;
	uint64_t	 msi_addr;
	uint32_t	 msi_data;
	int		 fail_irqfd;
};

static struct fake_host	 fh;

static void
h_irq(void *arg, uint32_t irq, int level)
{
	if (irq < 32) {
		if (level && !fh.irq_level[irq])
			fh.irq_raised[irq]++;
		fh.irq_level[irq] = level;
	}
}

static void *
h_gpa(void *arg, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return (NULL);
	return (fh.ram + gpa);
}

static int
h_ioeventfd(void *arg, int fd, enum dev_space sp, uint64_t addr,
    uint32_t len, int has_match, uint64_t match, int assign)
{
	if (len != 2)
		return (-1);
	fh.ioeventfds += assign ? 1 : -1;
	fh.ioeventfd_addr = addr;
	fh.ioeventfd_space = sp;
	fh.ioeventfd_match = has_match;
	fh.ioeventfd_val = match;
	return (0);
}

static int
h_irqfd(void *arg, int fd, uint32_t gsi, int assign)
{
	if (assign && fh.fail_irqfd) {
		errno = EINVAL;
		return (-1);
	}
	fh.irqfds += assign ? 1 : -1;
	fh.irqfd_gsi = gsi;
	fh.irqfd_fd = fd;
	return (0);
}

static int
h_route(void *arg, uint32_t gsi, uint64_t addr, uint32_t data)
{
	fh.routes++;
	fh.route_gsi = gsi;
	fh.route_addr = addr;
	fh.route_data = data;
	return (0);
}

static int
h_msi(void *arg, uint64_t addr, uint32_t data)
{
	fh.msis++;
	fh.msi_addr = addr;
	fh.msi_data = data;
	return (0);
}

static int
h_gsi(void *arg, uint32_t n, uint32_t *first)
{
	*first = 100;
	return (0);
}

struct vm {
	struct devices	 set;
	struct dev_host	 host;
	struct event_base *base;
	struct device	*pci;
	struct device	*rnd;
};

static int
vm_open(struct vm *vm, int with_rnd)
{
	struct dev_attach_args a = { .fd = -1, .fd2 = -1 };

	memset(vm, 0, sizeof(*vm));
	memset(fh.ram, 0, RAM_SIZE);
	{
		uint8_t	*ram = fh.ram;

		memset(&fh, 0, sizeof(fh));
		fh.ram = ram;
	}
	vm->base = event_base_new();
	vm->host.evbase = vm->base;
	vm->host.irq_set = h_irq;
	vm->host.memsize = RAM_SIZE;
	vm->host.gpa_ptr = h_gpa;
	vm->host.ioeventfd = h_ioeventfd;
	vm->host.irqfd = h_irqfd;
	vm->host.msi_route = h_route;
	vm->host.msi = h_msi;
	vm->host.gsi_alloc = h_gsi;
	dev_init(&vm->set, &vm->host);
	vm->pci = dev_attach(&vm->set, &pci_devsw, &a);
	if (with_rnd)
		vm->rnd = dev_attach(&vm->set, &viornd_devsw, &a);
	return (vm->pci != NULL && (!with_rnd || vm->rnd != NULL) ? 0 : -1);
}

static void
vm_close(struct vm *vm)
{
	dev_detach_all(&vm->set);
	event_base_free(vm->base);
}

static void
run_events(struct vm *vm)
{
	int	 i;

	for (i = 0; i < 4; i++)
		event_base_loop(vm->base, EVLOOP_NONBLOCK);
}

static uint64_t
rd(struct vm *vm, enum dev_space sp, uint64_t addr, int size)
{
	uint8_t	 d[8] = { 0 };
	uint64_t v = 0;
	int	 i;

	dev_io(&vm->set, sp, addr, size, d, 0);
	for (i = 0; i < size; i++)
		v |= (uint64_t)d[i] << (8 * i);
	return (v);
}

static void
wr(struct vm *vm, enum dev_space sp, uint64_t addr, int size, uint64_t v)
{
	uint8_t	 d[8];
	int	 i;

	for (i = 0; i < 8; i++)
		d[i] = v >> (8 * i);
	dev_io(&vm->set, sp, addr, size, d, 1);
}

static uint32_t
cfgrd(struct vm *vm, int slot, int reg, int size)
{
	wr(vm, IO, 0xcf8, 4, 0x80000000U | slot << 11 | (reg & 0xfc));
	return (rd(vm, IO, 0xcfc + (reg & 3), size));
}

static void
cfgwr(struct vm *vm, int slot, int reg, int size, uint32_t v)
{
	wr(vm, IO, 0xcf8, 4, 0x80000000U | slot << 11 | (reg & 0xfc));
	wr(vm, IO, 0xcfc + (reg & 3), size, v);
}

/* The offset of the first vendor cap of cfg_type (or cap id if > 0xff). */
static int
find_cap(struct vm *vm, int slot, int id, int type)
{
	int	 off, n = 0;

	if (!(cfgrd(vm, slot, 0x06, 2) & PCI_STATUS_CAPLIST))
		return (0);
	for (off = cfgrd(vm, slot, 0x34, 1); off != 0 && n < 48; n++,
	    off = cfgrd(vm, slot, off + 1, 1))
		if (cfgrd(vm, slot, off, 1) == (uint32_t)id &&
		    (type < 0 || cfgrd(vm, slot, off + 3, 1) == (uint32_t)type))
			return (off);
	return (0);
}

#define SLOT	1
#define COMMON	(BAR_ADDR + VIRTIO_OFF_COMMON)

static void
place_bar(struct vm *vm)
{
	cfgwr(vm, SLOT, 0x10, 4, (uint32_t)BAR_ADDR);
	cfgwr(vm, SLOT, 0x04, 2, PCI_COMMAND_MEM | PCI_COMMAND_MASTER);
}

/* A ring of QSZ entries for queue 0, set up as a driver does. */
#define QSZ	8

static int
driver_init(struct vm *vm, uint64_t features)
{
	wr(vm, MMIO, COMMON + 0x14, 1, 0);
	wr(vm, MMIO, COMMON + 0x14, 1, VIRTIO_STATUS_ACK);
	wr(vm, MMIO, COMMON + 0x14, 1, VIRTIO_STATUS_ACK |
	    VIRTIO_STATUS_DRIVER);
	wr(vm, MMIO, COMMON + 0x08, 4, 0);
	wr(vm, MMIO, COMMON + 0x0c, 4, (uint32_t)features);
	wr(vm, MMIO, COMMON + 0x08, 4, 1);
	wr(vm, MMIO, COMMON + 0x0c, 4, features >> 32);
	wr(vm, MMIO, COMMON + 0x14, 1, VIRTIO_STATUS_ACK |
	    VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	if (!(rd(vm, MMIO, COMMON + 0x14, 1) & VIRTIO_STATUS_FEATURES_OK))
		return (-1);
	wr(vm, MMIO, COMMON + 0x16, 2, 0);
	wr(vm, MMIO, COMMON + 0x18, 2, QSZ);
	wr(vm, MMIO, COMMON + 0x20, 4, DESC_GPA);
	wr(vm, MMIO, COMMON + 0x24, 4, 0);
	wr(vm, MMIO, COMMON + 0x28, 8, AVAIL_GPA);
	wr(vm, MMIO, COMMON + 0x30, 4, USED_GPA);
	wr(vm, MMIO, COMMON + 0x1c, 2, 1);
	wr(vm, MMIO, COMMON + 0x14, 1, VIRTIO_STATUS_ACK |
	    VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
	    VIRTIO_STATUS_DRIVER_OK);
	return (0);
}

static struct virtq_avail *
avail(void)
{
	return ((struct virtq_avail *)(fh.ram + AVAIL_GPA));
}

static struct virtq_used *
used(void)
{
	return ((struct virtq_used *)(fh.ram + USED_GPA));
}

static void
offer(int id, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc *d = (struct virtq_desc *)(fh.ram + DESC_GPA) + id;

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static void
publish(uint16_t head)
{
	avail()->ring[avail()->idx % QSZ] = head;
	avail()->idx++;
}

static void
doorbell(struct vm *vm, int q)
{
	wr(vm, MMIO, BAR_ADDR + VIRTIO_OFF_NOTIFY + 4 * q, 2, q);
	run_events(vm);
}

static void
test_ids_caps(void)
{
	struct vm	 vm;
	int		 c, slot = SLOT;

	CHECK(vm_open(&vm, 1) == 0);
	CHECK(cfgrd(&vm, slot, 0x00, 4) == 0x10441af4);
	CHECK(cfgrd(&vm, slot, 0x08, 1) == 1);		/* revision */
	CHECK(cfgrd(&vm, slot, 0x0a, 2) == 0x0880);	/* class */
	CHECK(cfgrd(&vm, slot, 0x2c, 4) == 0x10441af4);
	CHECK(cfgrd(&vm, slot, 0x3d, 1) == 1);		/* INTA# */
	CHECK(cfgrd(&vm, slot, 0x3c, 1) == pci_intx_irq(slot));
	/* BAR 0: 32 KiB of memory */
	cfgwr(&vm, slot, 0x10, 4, 0xffffffff);
	CHECK(cfgrd(&vm, slot, 0x10, 4) == (uint32_t)~(VIRTIO_BAR_SIZE - 1));
	CHECK(cfgrd(&vm, slot, 0x14, 4) == 0);
	c = find_cap(&vm, slot, 0x09, VIRTIO_PCI_CAP_COMMON);
	CHECK(c != 0 && cfgrd(&vm, slot, c + 4, 1) == 0 &&
	    cfgrd(&vm, slot, c + 8, 4) == VIRTIO_OFF_COMMON &&
	    cfgrd(&vm, slot, c + 12, 4) == VIRTIO_COMMON_LEN);
	c = find_cap(&vm, slot, 0x09, VIRTIO_PCI_CAP_NOTIFY);
	CHECK(c != 0 && cfgrd(&vm, slot, c + 2, 1) == 20 &&
	    cfgrd(&vm, slot, c + 8, 4) == VIRTIO_OFF_NOTIFY &&
	    cfgrd(&vm, slot, c + 12, 4) >= 2 &&
	    cfgrd(&vm, slot, c + 16, 4) == VIRTIO_NOTIFY_MULT);
	c = find_cap(&vm, slot, 0x09, VIRTIO_PCI_CAP_ISR);
	CHECK(c != 0 && cfgrd(&vm, slot, c + 8, 4) == VIRTIO_OFF_ISR);
	/* rng has no device configuration */
	CHECK(find_cap(&vm, slot, 0x09, VIRTIO_PCI_CAP_DEVICE) == 0);
	CHECK(find_cap(&vm, slot, 0x09, VIRTIO_PCI_CAP_PCI_CFG) != 0);
	c = find_cap(&vm, slot, 0x11, -1);
	CHECK(c != 0 && (cfgrd(&vm, slot, c + 2, 2) & 0x7ff) == 1 &&
	    cfgrd(&vm, slot, c + 4, 4) == VIRTIO_OFF_MSIX_TABLE &&
	    cfgrd(&vm, slot, c + 8, 4) == VIRTIO_OFF_MSIX_PBA);
	/* capabilities are read-only; msgctl's enable and mask are not */
	cfgwr(&vm, slot, c + 4, 4, 0x12345678);
	CHECK(cfgrd(&vm, slot, c + 4, 4) == VIRTIO_OFF_MSIX_TABLE);
	cfgwr(&vm, slot, c + 2, 2, 0xffff);
	CHECK(cfgrd(&vm, slot, c + 2, 2) == 0xc001);
	vm_close(&vm);
}

static void
test_features(void)
{
	struct vm	 vm;

	CHECK(vm_open(&vm, 1) == 0);
	place_bar(&vm);
	wr(&vm, MMIO, COMMON + 0x00, 4, 0);
	CHECK(rd(&vm, MMIO, COMMON + 0x04, 4) == (uint32_t)(
	    VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX));
	wr(&vm, MMIO, COMMON + 0x00, 4, 1);
	CHECK(rd(&vm, MMIO, COMMON + 0x04, 4) == 1);	/* VERSION_1 */
	wr(&vm, MMIO, COMMON + 0x00, 4, 2);
	CHECK(rd(&vm, MMIO, COMMON + 0x04, 4) == 0);
	CHECK(rd(&vm, MMIO, COMMON + 0x12, 2) == 1);	/* num_queues */
	/* without VERSION_1: FEATURES_OK does not stick */
	CHECK(driver_init(&vm, VIRTIO_F_EVENT_IDX) == -1);
	/* a feature never offered: refused too */
	CHECK(driver_init(&vm, VIRTIO_F_VERSION_1 | (1ULL << 5)) == -1);
	CHECK(driver_init(&vm, VIRTIO_F_VERSION_1) == 0);
	/* after FEATURES_OK the driver's features are fixed */
	wr(&vm, MMIO, COMMON + 0x08, 4, 0);
	wr(&vm, MMIO, COMMON + 0x0c, 4, 0xffffffff);
	CHECK(rd(&vm, MMIO, COMMON + 0x0c, 4) == 0);
	/* queue registers: size, select out of range */
	wr(&vm, MMIO, COMMON + 0x16, 2, 0);
	CHECK(rd(&vm, MMIO, COMMON + 0x18, 2) == QSZ);
	CHECK(rd(&vm, MMIO, COMMON + 0x1c, 2) == 1);
	CHECK(rd(&vm, MMIO, COMMON + 0x20, 4) == DESC_GPA);
	CHECK(rd(&vm, MMIO, COMMON + 0x28, 8) == AVAIL_GPA);
	wr(&vm, MMIO, COMMON + 0x20, 4, 0x5000);	/* enabled: ignored */
	CHECK(rd(&vm, MMIO, COMMON + 0x20, 4) == DESC_GPA);
	wr(&vm, MMIO, COMMON + 0x16, 2, 7);
	CHECK(rd(&vm, MMIO, COMMON + 0x18, 2) == 0);
	CHECK(rd(&vm, MMIO, COMMON + 0x1a, 2) == VIRTIO_MSI_NO_VECTOR);
	/* reset: everything back */
	wr(&vm, MMIO, COMMON + 0x14, 1, 0);
	CHECK(rd(&vm, MMIO, COMMON + 0x14, 1) == 0);
	wr(&vm, MMIO, COMMON + 0x16, 2, 0);
	CHECK(rd(&vm, MMIO, COMMON + 0x1c, 2) == 0);
	CHECK(rd(&vm, MMIO, COMMON + 0x18, 2) == 64);
	wr(&vm, MMIO, COMMON + 0x18, 2, 6);		/* not a power of 2 */
	CHECK(rd(&vm, MMIO, COMMON + 0x18, 2) == 64);
	wr(&vm, MMIO, COMMON + 0x18, 2, 128);		/* above the max */
	CHECK(rd(&vm, MMIO, COMMON + 0x18, 2) == 64);
	vm_close(&vm);
}

static void
test_rng_intx(void)
{
	struct vm	 vm;
	uint8_t		 zero[64];
	int		 irq = pci_intx_irq(SLOT);

	memset(zero, 0, sizeof(zero));
	CHECK(vm_open(&vm, 1) == 0);
	place_bar(&vm);
	CHECK(fh.ioeventfds == 0);
	CHECK(driver_init(&vm, VIRTIO_F_VERSION_1) == 0);
	/* the doorbell is an ioeventfd at the queue's notify address */
	CHECK(fh.ioeventfds == 1 && fh.ioeventfd_space == MMIO &&
	    fh.ioeventfd_addr == BAR_ADDR + VIRTIO_OFF_NOTIFY &&
	    !fh.ioeventfd_match);
	CHECK(fh.irqfds == 0);		/* MSI-X is off: INTx */
	offer(0, BUF_GPA, 64, VIRTQ_DESC_F_WRITE, 0);
	publish(0);
	doorbell(&vm, 0);
	CHECK(used()->idx == 1 && used()->ring[0].id == 0 &&
	    used()->ring[0].len == 64);
	CHECK(memcmp(fh.ram + BUF_GPA, zero, 64) != 0);
	CHECK(fh.ram[BUF_GPA + 64] == 0);
	CHECK(fh.irq_level[irq] == 1 && fh.irq_raised[irq] == 1);
	CHECK(cfgrd(&vm, SLOT, 0x06, 2) & PCI_STATUS_INTX);
	/* INTx disable in the command register holds the line low */
	cfgwr(&vm, SLOT, 0x04, 2, PCI_COMMAND_MEM | PCI_COMMAND_INTX_OFF);
	CHECK(fh.irq_level[irq] == 0);
	cfgwr(&vm, SLOT, 0x04, 2, PCI_COMMAND_MEM);
	CHECK(fh.irq_level[irq] == 1);
	/* reading ISR says "queue" and lowers the line */
	CHECK(rd(&vm, MMIO, BAR_ADDR + VIRTIO_OFF_ISR, 1) == 1);
	CHECK(fh.irq_level[irq] == 0);
	CHECK(rd(&vm, MMIO, BAR_ADDR + VIRTIO_OFF_ISR, 1) == 0);
	CHECK(!(cfgrd(&vm, SLOT, 0x06, 2) & PCI_STATUS_INTX));
	/* two chains, one with two buffers; both filled */
	offer(1, BUF_GPA + 0x100, 16, VIRTQ_DESC_F_WRITE |
	    VIRTQ_DESC_F_NEXT, 2);
	offer(2, BUF_GPA + 0x200, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(3, BUF_GPA + 0x300, 8000, VIRTQ_DESC_F_WRITE, 0);
	publish(1);
	publish(3);
	doorbell(&vm, 0);
	CHECK(used()->idx == 3 && used()->ring[1].len == 32);
	CHECK(used()->ring[2].id == 3 && used()->ring[2].len == 4096);
	CHECK(memcmp(fh.ram + BUF_GPA + 0x210, zero, 16) == 0 ||
	    memcmp(fh.ram + BUF_GPA + 0x200, zero, 16) != 0);
	CHECK(fh.irq_raised[irq] == 3);
	/* the BAR moves: the ioeventfd follows; decoding off drops it */
	cfgwr(&vm, SLOT, 0x10, 4, (uint32_t)BAR_ADDR + 0x10000);
	CHECK(fh.ioeventfds == 1 &&
	    fh.ioeventfd_addr == BAR_ADDR + 0x10000 + VIRTIO_OFF_NOTIFY);
	cfgwr(&vm, SLOT, 0x04, 2, 0);
	CHECK(fh.ioeventfds == 0);
	cfgwr(&vm, SLOT, 0x10, 4, (uint32_t)BAR_ADDR);
	cfgwr(&vm, SLOT, 0x04, 2, PCI_COMMAND_MEM);
	CHECK(fh.ioeventfds == 1);
	/* a driver reset unregisters it */
	wr(&vm, MMIO, COMMON + 0x14, 1, 0);
	CHECK(fh.ioeventfds == 0);
	vm_close(&vm);
}

static void
test_msix(void)
{
	struct vm	 vm;
	uint64_t	 one = 1, tbl = BAR_ADDR + VIRTIO_OFF_MSIX_TABLE;
	int		 c, irq = pci_intx_irq(SLOT);

	CHECK(vm_open(&vm, 1) == 0);
	place_bar(&vm);
	c = find_cap(&vm, SLOT, 0x11, -1);
	/* vectors start masked */
	CHECK(rd(&vm, MMIO, tbl + 12, 4) == 1 && rd(&vm, MMIO, tbl + 28, 4) ==
	    1);
	wr(&vm, MMIO, tbl + 0, 8, 0xfee00000);		/* vector 0: config */
	wr(&vm, MMIO, tbl + 8, 4, 0x41);
	wr(&vm, MMIO, tbl + 16, 4, 0xfee01000);		/* vector 1: queue */
	wr(&vm, MMIO, tbl + 20, 4, 0);
	wr(&vm, MMIO, tbl + 24, 4, 0x42);
	CHECK(rd(&vm, MMIO, tbl + 16, 8) == 0xfee01000);
	cfgwr(&vm, SLOT, c + 2, 2, 0x8000);		/* MSI-X on */
	CHECK(driver_init(&vm, VIRTIO_F_VERSION_1) == 0);
	wr(&vm, MMIO, COMMON + 0x10, 2, 0);
	CHECK(rd(&vm, MMIO, COMMON + 0x10, 2) == 0);
	wr(&vm, MMIO, COMMON + 0x10, 2, 5);		/* no such vector */
	CHECK(rd(&vm, MMIO, COMMON + 0x10, 2) == VIRTIO_MSI_NO_VECTOR);
	wr(&vm, MMIO, COMMON + 0x10, 2, 0);
	wr(&vm, MMIO, COMMON + 0x16, 2, 0);
	wr(&vm, MMIO, COMMON + 0x1a, 2, 1);
	CHECK(rd(&vm, MMIO, COMMON + 0x1a, 2) == 1);
	/* vector 1 is still masked: no irqfd, the eventfd is ours */
	CHECK(fh.irqfds == 0);
	offer(0, BUF_GPA, 32, VIRTQ_DESC_F_WRITE, 0);
	publish(0);
	doorbell(&vm, 0);
	CHECK(used()->idx == 1 && fh.msis == 0);
	CHECK(rd(&vm, MMIO, BAR_ADDR + VIRTIO_OFF_MSIX_PBA, 8) == 2);
	CHECK(fh.irq_raised[irq] == 0);		/* never INTx with MSI-X */
	/* unmask: the pending message goes out, and the irqfd is bound */
	wr(&vm, MMIO, tbl + 28, 4, 0);
	CHECK(fh.msis == 1 && fh.msi_addr == 0xfee01000 &&
	    fh.msi_data == 0x42);
	CHECK(rd(&vm, MMIO, BAR_ADDR + VIRTIO_OFF_MSIX_PBA, 8) == 0);
	CHECK(fh.irqfds == 1 && fh.irqfd_gsi == 101);
	CHECK(fh.routes == 1 && fh.route_gsi == 101 &&
	    fh.route_addr == 0xfee01000 && fh.route_data == 0x42);
	/* the guest retargets the vector: the route follows */
	wr(&vm, MMIO, tbl + 24, 4, 0x43);
	CHECK(fh.routes == 2 && fh.route_data == 0x43 && fh.irqfds == 1);
	/* function mask: irqfd off; a signal while masked is pending */
	cfgwr(&vm, SLOT, c + 2, 2, 0xc000);
	CHECK(fh.irqfds == 0);
	CHECK(write(fh.irqfd_fd, &one, sizeof(one)) == sizeof(one));
	run_events(&vm);
	CHECK(fh.msis == 1 &&
	    rd(&vm, MMIO, BAR_ADDR + VIRTIO_OFF_MSIX_PBA, 8) == 2);
	cfgwr(&vm, SLOT, c + 2, 2, 0x8000);
	CHECK(fh.msis == 2 && fh.msi_data == 0x43 && fh.irqfds == 1);
	/* the vector unmapped: nothing is delivered at all */
	wr(&vm, MMIO, COMMON + 0x1a, 2, VIRTIO_MSI_NO_VECTOR);
	CHECK(fh.irqfds == 0);
	CHECK(write(fh.irqfd_fd, &one, sizeof(one)) == sizeof(one));
	run_events(&vm);
	CHECK(fh.msis == 2 &&
	    rd(&vm, MMIO, BAR_ADDR + VIRTIO_OFF_MSIX_PBA, 8) == 0);
	/* an irqfd the host refuses: messages sent from here instead */
	fh.fail_irqfd = 1;
	wr(&vm, MMIO, COMMON + 0x1a, 2, 1);
	CHECK(fh.irqfds == 0);
	offer(1, BUF_GPA, 32, VIRTQ_DESC_F_WRITE, 0);
	publish(1);
	doorbell(&vm, 0);
	CHECK(used()->idx == 2 && fh.msis == 3);
	fh.fail_irqfd = 0;
	/* config change goes to vector 0 (masked: pending) */
	wr(&vm, MMIO, tbl + 12, 4, 0);
	offer(2, RAM_SIZE, 32, VIRTQ_DESC_F_WRITE, 0);	/* outside RAM */
	publish(2);
	doorbell(&vm, 0);
	CHECK(rd(&vm, MMIO, COMMON + 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(fh.msis == 4 && fh.msi_addr == 0xfee00000 &&
	    fh.msi_data == 0x41);
	CHECK(used()->idx == 2);
	/* VM reset: MSI-X off, vectors masked, nothing registered */
	dev_reset_all(&vm.set);
	CHECK(fh.irqfds == 0 && fh.ioeventfds == 0);
	CHECK((cfgrd(&vm, SLOT, c + 2, 2) & 0xc000) == 0);
	place_bar(&vm);
	CHECK(rd(&vm, MMIO, tbl + 12, 4) == 1 && rd(&vm, MMIO, tbl, 4) == 0);
	CHECK(rd(&vm, MMIO, COMMON + 0x14, 1) == 0);
	vm_close(&vm);
}

static void
test_needs_reset(void)
{
	struct vm	 vm;
	int		 irq = pci_intx_irq(SLOT);

	CHECK(vm_open(&vm, 1) == 0);
	place_bar(&vm);
	CHECK(driver_init(&vm, VIRTIO_F_VERSION_1) == 0);
	/* a loop in the chain */
	offer(0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	offer(1, BUF_GPA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	publish(0);
	doorbell(&vm, 0);
	CHECK(rd(&vm, MMIO, COMMON + 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(rd(&vm, MMIO, BAR_ADDR + VIRTIO_OFF_ISR, 1) ==
	    VIRTIO_ISR_CONFIG);
	CHECK(fh.irq_raised[irq] == 1 && fh.irq_level[irq] == 0);
	CHECK(used()->idx == 0);
	/* the queue is not used any more */
	offer(2, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	publish(2);
	doorbell(&vm, 0);
	CHECK(used()->idx == 0 && fh.irq_raised[irq] == 1);
	/* the driver writing status keeps NEEDS_RESET until it resets */
	wr(&vm, MMIO, COMMON + 0x14, 1, 0x0f);
	CHECK(rd(&vm, MMIO, COMMON + 0x14, 1) == (0x0f |
	    VIRTIO_STATUS_NEEDS_RESET));
	/* a reset and a fresh start work */
	memset(fh.ram + DESC_GPA, 0, 0x3000);
	CHECK(driver_init(&vm, VIRTIO_F_VERSION_1) == 0);
	CHECK(!(rd(&vm, MMIO, COMMON + 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET));
	offer(0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	publish(0);
	doorbell(&vm, 0);
	CHECK(used()->idx == 1 && used()->ring[0].len == 8);
	/* rings outside RAM at enable: NEEDS_RESET; DRIVER_OK not yet */
	wr(&vm, MMIO, COMMON + 0x14, 1, 0);
	wr(&vm, MMIO, COMMON + 0x14, 1, 0x0b);
	wr(&vm, MMIO, COMMON + 0x20, 8, RAM_SIZE - 16);
	wr(&vm, MMIO, COMMON + 0x1c, 2, 1);
	CHECK(rd(&vm, MMIO, COMMON + 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(rd(&vm, MMIO, BAR_ADDR + VIRTIO_OFF_ISR, 1) == 0);
	vm_close(&vm);
}

static void
test_pcicfg(void)
{
	struct vm	 vm;
	int		 c;

	CHECK(vm_open(&vm, 1) == 0);
	c = find_cap(&vm, SLOT, 0x09, VIRTIO_PCI_CAP_PCI_CFG);
	CHECK(c != 0);
	/* BAR 0 not even placed: the window still reaches the registers */
	cfgwr(&vm, SLOT, c + 4, 1, 0);
	cfgwr(&vm, SLOT, c + 8, 4, VIRTIO_OFF_COMMON + 0x12);
	cfgwr(&vm, SLOT, c + 12, 4, 2);
	CHECK(cfgrd(&vm, SLOT, c + 16, 4) == 1);	/* num_queues */
	CHECK(cfgrd(&vm, SLOT, c + 16, 2) == 1);
	cfgwr(&vm, SLOT, c + 8, 4, VIRTIO_OFF_COMMON + 0x14);
	cfgwr(&vm, SLOT, c + 12, 4, 1);
	cfgwr(&vm, SLOT, c + 16, 4, VIRTIO_STATUS_ACK);
	CHECK(cfgrd(&vm, SLOT, c + 16, 4) == VIRTIO_STATUS_ACK);
	/* misaligned, wrong length, another BAR, past the BAR: nothing */
	cfgwr(&vm, SLOT, c + 8, 4, VIRTIO_OFF_COMMON + 0x13);
	cfgwr(&vm, SLOT, c + 12, 4, 2);
	CHECK(cfgrd(&vm, SLOT, c + 16, 4) == 0);
	cfgwr(&vm, SLOT, c + 12, 4, 3);
	CHECK(cfgrd(&vm, SLOT, c + 16, 4) == 0);
	cfgwr(&vm, SLOT, c + 4, 1, 2);
	cfgwr(&vm, SLOT, c + 8, 4, VIRTIO_OFF_COMMON + 0x14);
	cfgwr(&vm, SLOT, c + 12, 4, 1);
	CHECK(cfgrd(&vm, SLOT, c + 16, 4) == 0);
	cfgwr(&vm, SLOT, c + 4, 1, 0);
	cfgwr(&vm, SLOT, c + 8, 4, 0xfffffffc);
	cfgwr(&vm, SLOT, c + 12, 4, 4);
	CHECK(cfgrd(&vm, SLOT, c + 16, 4) == 0);
	vm_close(&vm);
}

static void
test_rate(void)
{
	struct vm	 vm;
	uint32_t	 total = 0;
	int		 i, n = 0;

	CHECK(vm_open(&vm, 1) == 0);
	place_bar(&vm);
	CHECK(driver_init(&vm, VIRTIO_F_VERSION_1) == 0);
	/* ask for 4 KiB at a time, far beyond the burst */
	for (i = 0; i < 64; i++) {
		offer(i % QSZ, BUF_GPA + 4096 * (i % QSZ), 4096,
		    VIRTQ_DESC_F_WRITE, 0);
		publish(i % QSZ);
		doorbell(&vm, 0);
		while (n != used()->idx) {
			total += used()->ring[n % QSZ].len;
			n++;
		}
		if (n != i + 1)
			break;		/* held back by the budget */
	}
	/* 64 KiB of burst, plus what the rate gave meanwhile */
	CHECK(total >= 64 * 1024 - 256 && total < 96 * 1024);
	CHECK(n < 64 && used()->idx == n);
	/* the budget comes back with time */
	usleep(50000);
	event_base_loop(vm.base, EVLOOP_ONCE);
	run_events(&vm);
	CHECK(used()->idx > n);
	vm_close(&vm);
}

/* A legacy device with 8 bytes of config, as vmmci will be. */
static uint8_t	 leg_cfg[8];
static int	 leg_notified;

static void
leg_read(struct virtio_dev *v, uint32_t off, uint8_t *d, int size)
{
	memcpy(d, leg_cfg + off, size);
}

static void
leg_write(struct virtio_dev *v, uint32_t off, const uint8_t *d, int size)
{
	memcpy(leg_cfg + off, d, size);
}

static void
leg_notify(struct virtio_dev *v, struct virtq *vq)
{
	struct virtq_chain c;
	struct iovec	 iov[2];

	leg_notified++;
	c.iov = iov;
	c.max = 2;
	while (virtq_pop(vq, &c) == 1)
		virtq_push(vq, c.head, 0);
	virtq_interrupt(vq);
}

static const struct virtio_type leg_type = {
	.name = "legacy",
	.class = 0x08,
	.subclass = 0x80,
	.nqueues = 1,
	.queue_max = QSZ,
	.features = 0x7,
	.config_size = sizeof(leg_cfg),
	.legacy = 1,
	.pci_vendor = 0x0b5d,
	.pci_device = 0x0777,
	.subsys_vendor = 0x0b5d,
	.subsys = 0xffff,
	.config_read = leg_read,
	.config_write = leg_write,
	.queue_notify = leg_notify
};

static int
leg_attach(struct device *dev, const struct dev_attach_args *a)
{
	return ((dev->softc = virtio_attach(dev, &leg_type, NULL)) ? 0 : -1);
}

static void
leg_detach(struct device *dev)
{
	virtio_detach(dev->softc);
}

static const struct devsw leg_devsw = {
	.name = "legacy",
	.attach = leg_attach,
	.detach = leg_detach
};

static void
test_legacy(void)
{
	struct dev_attach_args a = { .fd = -1, .fd2 = -1 };
	struct vm	 vm;
	uint64_t	 io = 0x2000, q = 0x10000;
	struct virtq_desc *d = (struct virtq_desc *)(fh.ram + q);
	struct virtq_avail *av = (struct virtq_avail *)(fh.ram + q + 16 * QSZ);
	struct virtq_used *u = (struct virtq_used *)(fh.ram + q + 0x1000);
	int		 irq = pci_intx_irq(SLOT);

	CHECK(vm_open(&vm, 0) == 0);
	CHECK(dev_attach(&vm.set, &leg_devsw, &a) != NULL);
	CHECK(cfgrd(&vm, SLOT, 0, 4) == 0x07770b5d);
	CHECK(cfgrd(&vm, SLOT, 0x2c, 4) == 0xffff0b5d);
	CHECK(cfgrd(&vm, SLOT, 0x08, 1) == 0);
	CHECK(!(cfgrd(&vm, SLOT, 0x06, 2) & PCI_STATUS_CAPLIST));
	cfgwr(&vm, SLOT, 0x10, 4, 0xffffffff);
	CHECK(cfgrd(&vm, SLOT, 0x10, 4) == 0xffffffe1);	/* 32 ports */
	cfgwr(&vm, SLOT, 0x10, 4, io);
	cfgwr(&vm, SLOT, 0x04, 2, PCI_COMMAND_IO);
	CHECK(rd(&vm, IO, io + 0, 4) == 0x7);
	CHECK(rd(&vm, IO, io + 12, 2) == QSZ);
	wr(&vm, IO, io + 4, 4, 0xff);
	CHECK(rd(&vm, IO, io + 4, 4) == 0x7);
	leg_cfg[2] = 0x5a;
	CHECK(rd(&vm, IO, io + 20, 4) == 0x5a0000);
	wr(&vm, IO, io + 21, 1, 0x77);
	CHECK(leg_cfg[1] == 0x77);
	CHECK(rd(&vm, IO, io + 28, 4) == 0);		/* past the config */
	wr(&vm, IO, io + 18, 1, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
	wr(&vm, IO, io + 14, 2, 0);
	wr(&vm, IO, io + 8, 4, q / 4096);
	CHECK(rd(&vm, IO, io + 8, 4) == q / 4096);
	CHECK(fh.ioeventfds == 1 && fh.ioeventfd_space == IO &&
	    fh.ioeventfd_addr == io + 16 && fh.ioeventfd_match &&
	    fh.ioeventfd_val == 0);
	wr(&vm, IO, io + 18, 1, 0x07);
	d[0].addr = BUF_GPA;
	d[0].len = 4;
	d[0].flags = 0;
	av->ring[0] = 0;
	av->idx = 1;
	wr(&vm, IO, io + 16, 2, 0);
	run_events(&vm);
	CHECK(leg_notified == 1 && u->idx == 1);
	CHECK(fh.irq_level[irq] == 1);
	CHECK(rd(&vm, IO, io + 19, 1) == VIRTIO_ISR_QUEUE);
	CHECK(fh.irq_level[irq] == 0);
	/* PFN 0 takes the queue down */
	wr(&vm, IO, io + 8, 4, 0);
	CHECK(fh.ioeventfds == 0);
	wr(&vm, IO, io + 18, 1, 0);
	CHECK(rd(&vm, IO, io + 18, 1) == 0);
	vm_close(&vm);
}

/* Random traffic at every register; then the device must still work. */
static void
test_random(void)
{
	struct vm	 vm;
	static const int sizes[] = { 1, 2, 4, 8 };
	uint64_t	 off;
	int		 i, c, sz;

	CHECK(vm_open(&vm, 1) == 0);
	place_bar(&vm);
	c = find_cap(&vm, SLOT, 0x11, -1);
	srandom(1040);
	for (i = 0; i < 100000; i++) {
		sz = sizes[random() % 4];
		switch (random() % 6) {
		case 0:
			off = random() % VIRTIO_COMMON_LEN;
			break;
		case 1:
			off = VIRTIO_OFF_MSIX_TABLE + random() % 48;
			break;
		case 2:
			off = VIRTIO_OFF_NOTIFY + random() % 16;
			break;
		case 3:
			if (random() % 4 == 0)
				cfgwr(&vm, SLOT, c + 2, 2, random());
			else
				cfgwr(&vm, SLOT, 0x40 + random() % 0xc0,
				    sizes[random() % 3], random());
			continue;
		default:
			off = random() % VIRTIO_BAR_SIZE;
			break;
		}
		if (random() % 2)
			wr(&vm, MMIO, BAR_ADDR + off, sz, (uint64_t)random() <<
			    32 | random());
		else
			rd(&vm, MMIO, BAR_ADDR + off, sz);
		if (i % 1000 == 0) {
			/* rings the guest scribbles on */
			memset(fh.ram + DESC_GPA + random() % 0x3000,
			    random(), random() % 64);
			run_events(&vm);
		}
	}
	run_events(&vm);
	dev_reset_all(&vm.set);
	CHECK(fh.irqfds == 0 && fh.ioeventfds == 0);
	memset(fh.ram + DESC_GPA, 0, 0x3000);
	place_bar(&vm);
	CHECK(driver_init(&vm, VIRTIO_F_VERSION_1) == 0);
	offer(0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	publish(0);
	doorbell(&vm, 0);
	CHECK(used()->idx == 1);
	vm_close(&vm);
}

int
main(void)
{
	if ((fh.ram = calloc(1, RAM_SIZE)) == NULL)
		return (1);
	RUN(test_ids_caps);
	RUN(test_features);
	RUN(test_rng_intx);
	RUN(test_msix);
	RUN(test_needs_reset);
	RUN(test_pcicfg);
	RUN(test_rate);
	RUN(test_legacy);
	RUN(test_random);
	free(fh.ram);
	TEST_EXIT();
}
