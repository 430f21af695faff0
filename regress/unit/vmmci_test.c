/*
 * vmmci_test.c: unit tests of vmmci.c, OpenBSD's VMM control device, on
 * the legacy virtio transport, driven as OpenBSD's vmmci(4) drives it:
 * PCI ids and the I/O BAR found through config cycles, features, status,
 * the configuration-change interrupt on INTx, the command register and
 * its acknowledgement, the clock registers.  The timers run with short
 * timeouts on a real event loop; what the device tells the VM is what a
 * fake host records of dev_request().  Covered: requests before and after
 * DRIVER_OK, acknowledged shutdown and reboot and their grace periods, a
 * request nobody acknowledges (withdrawn), a guest that announces its own
 * shutdown, clock sync and what may not hide a shutdown, a driver without
 * VMMCI_F_ACK, VM and driver resets, and random register traffic.
 * Also vm_stop.c's measure of a host clock step, which decides the
 * clock syncs it posts between pauses.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "dev.h"
#include "pci.h"
#include "virtio.h"
#include "vm.h"
#include "regress/test.h"

#define IO		DEV_SPACE_IO
#define SLOT		1
#define IOBASE		0x2000
#define CFG		(IOBASE + VIRTIO_LEG_CONFIG)
#define T_SHORT		40	/* ms */
#define T_LONG		120	/* ms */
#define NREQ		5

static struct {
	int		 irq_level[32];
	int		 req[NREQ];		/* dev_request()s, by kind */
	int		 nreq;
} fh;

struct vm {
	struct devices	 set;
	struct dev_host	 host;
	struct event_base *base;
	struct device	*mci;
};

static void
h_irq(void *arg, uint32_t irq, int level)
{
	if (irq < 32)
		fh.irq_level[irq] = level;
}

static void
h_request(void *arg, enum dev_request req)
{
	if ((int)req >= 0 && req < NREQ)
		fh.req[req]++;
	fh.nreq++;
}

static uint64_t
rd(struct vm *vm, uint64_t addr, int size)
{
	uint8_t	 d[8] = { 0 };
	uint64_t v = 0;
	int	 i;

	dev_io(&vm->set, IO, addr, size, d, 0);
	for (i = 0; i < size; i++)
		v |= (uint64_t)d[i] << (8 * i);
	return (v);
}

static void
wr(struct vm *vm, uint64_t addr, int size, uint64_t v)
{
	uint8_t	 d[8];
	int	 i;

	for (i = 0; i < 8; i++)
		d[i] = v >> (8 * i);
	dev_io(&vm->set, IO, addr, size, d, 1);
}

static uint32_t
cfgrd(struct vm *vm, int reg, int size)
{
	wr(vm, 0xcf8, 4, 0x80000000U | SLOT << 11 | (reg & 0xfc));
	return (rd(vm, 0xcfc + (reg & 3), size));
}

static void
cfgwr(struct vm *vm, int reg, int size, uint32_t v)
{
	wr(vm, 0xcf8, 4, 0x80000000U | SLOT << 11 | (reg & 0xfc));
	wr(vm, 0xcfc + (reg & 3), size, v);
}

/* BAR 0 where the tests look for it (again after a VM reset) */
static void
place_bar(struct vm *vm)
{
	cfgwr(vm, 0x10, 4, IOBASE);
	cfgwr(vm, 0x04, 2, PCI_COMMAND_IO);
}

static int
vm_open(struct vm *vm)
{
	struct dev_attach_args a = { .fd = -1, .fd2 = -1 };

	memset(vm, 0, sizeof(*vm));
	memset(&fh, 0, sizeof(fh));
	vm->base = event_base_new();
	vm->host.evbase = vm->base;
	vm->host.irq_set = h_irq;
	vm->host.request = h_request;
	dev_init(&vm->set, &vm->host);
	if (dev_attach(&vm->set, &pci_devsw, &a) == NULL ||
	    (vm->mci = dev_attach(&vm->set, &vmmci_devsw, &a)) == NULL)
		return (-1);
	vmmci_timeouts(vm->mci, T_SHORT, T_LONG);
	place_bar(vm);
	return (0);
}

static void
vm_close(struct vm *vm)
{
	dev_detach_all(&vm->set);
	event_base_free(vm->base);
}

/* As vmmci(4) attaches: ACK, DRIVER, features, DRIVER_OK. */
static void
driver_init(struct vm *vm, uint32_t features)
{
	wr(vm, IOBASE + VIRTIO_LEG_STATUS, 1, 0);
	wr(vm, IOBASE + VIRTIO_LEG_STATUS, 1, VIRTIO_STATUS_ACK);
	wr(vm, IOBASE + VIRTIO_LEG_STATUS, 1, VIRTIO_STATUS_ACK |
	    VIRTIO_STATUS_DRIVER);
	wr(vm, IOBASE + VIRTIO_LEG_DRIVER_FEATURES, 4, features &
	    rd(vm, IOBASE + VIRTIO_LEG_DEVICE_FEATURES, 4));
	wr(vm, IOBASE + VIRTIO_LEG_STATUS, 1, VIRTIO_STATUS_ACK |
	    VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
}

static int
ms_since(const struct timespec *t0)
{
	struct timespec	 t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return ((t.tv_sec - t0->tv_sec) * 1000 +
	    (t.tv_nsec - t0->tv_nsec) / 1000000);
}

/*
 * Run the event loop until the device has made n requests in all, or
 * for ms milliseconds; returns the milliseconds it took.
 */
static int
run_until(struct vm *vm, int n, int ms)
{
	struct timespec	 t0;
	struct timeval	 tick = { 0, 2000 };

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (fh.nreq < n && ms_since(&t0) < ms) {
		event_base_loopexit(vm->base, &tick);
		event_base_dispatch(vm->base);
	}
	return (ms_since(&t0));
}

static void
test_ids(void)
{
	struct vm	 vm;

	CHECK(vm_open(&vm) == 0);
	CHECK(cfgrd(&vm, 0x00, 4) == 0x07770b5d);
	CHECK(cfgrd(&vm, 0x2c, 4) == 0xffff0b5d);
	CHECK(cfgrd(&vm, 0x08, 1) == 0);		/* revision */
	CHECK(cfgrd(&vm, 0x0a, 2) == 0x0780);		/* class */
	CHECK(cfgrd(&vm, 0x3d, 1) == 1);		/* INTA# */
	CHECK(!(cfgrd(&vm, 0x06, 2) & PCI_STATUS_CAPLIST));
	cfgwr(&vm, 0x10, 4, 0xffffffff);
	CHECK(cfgrd(&vm, 0x10, 4) == 0xffffffc1);	/* 64 ports */
	cfgwr(&vm, 0x10, 4, IOBASE);
	CHECK(rd(&vm, IOBASE + VIRTIO_LEG_DEVICE_FEATURES, 4) == 0x7);
	CHECK(rd(&vm, IOBASE + VIRTIO_LEG_QUEUE_SIZE, 2) == 0);
	/* no queue: its registers lead nowhere */
	wr(&vm, IOBASE + VIRTIO_LEG_QUEUE_PFN, 4, 0x10);
	CHECK(rd(&vm, IOBASE + VIRTIO_LEG_QUEUE_PFN, 4) == 0);
	wr(&vm, IOBASE + VIRTIO_LEG_QUEUE_NOTIFY, 2, 0);
	CHECK(rd(&vm, CFG + 0, 4) == VMMCI_NONE);
	CHECK(rd(&vm, CFG + 20, 4) == 0);		/* past the config */
	vm_close(&vm);
}

/* The clock, read as vmd's is: low half of the seconds first. */
static void
test_clock(void)
{
	struct vm	 vm;
	uint64_t	 sec, usec;
	time_t		 now;

	CHECK(vm_open(&vm) == 0);
	driver_init(&vm, 0x7);
	now = time(NULL);
	sec = rd(&vm, CFG + 4, 4);
	sec |= rd(&vm, CFG + 8, 4) << 32;
	usec = rd(&vm, CFG + 12, 4) | rd(&vm, CFG + 16, 4) << 32;
	CHECK((int64_t)sec >= now && (int64_t)sec <= now + 2);
	CHECK(usec < 1000000);
	/* the other words do not read the clock again */
	CHECK(rd(&vm, CFG + 12, 4) == (uint32_t)usec);
	/* the clock registers are read-only */
	wr(&vm, CFG + 4, 4, 0);
	CHECK(rd(&vm, CFG + 8, 4) == sec >> 32);
	vm_close(&vm);
}

static void
test_no_driver(void)
{
	struct vm	 vm;

	CHECK(vm_open(&vm) == 0);
	CHECK(vmmci_ctl(vm.mci, VMMCI_SHUTDOWN) == -1);
	CHECK(vmmci_ctl(NULL, VMMCI_SHUTDOWN) == -1);
	/* a driver halfway through its setup is no driver yet */
	wr(&vm, IOBASE + VIRTIO_LEG_STATUS, 1, VIRTIO_STATUS_ACK |
	    VIRTIO_STATUS_DRIVER);
	CHECK(vmmci_ctl(vm.mci, VMMCI_SHUTDOWN) == -1);
	CHECK(rd(&vm, CFG, 4) == VMMCI_NONE);
	run_until(&vm, 1, 2 * T_SHORT);
	CHECK(fh.nreq == 0);
	vm_close(&vm);
}

static void
test_shutdown_ack(void)
{
	struct vm	 vm;
	int		 irq = pci_intx_irq(SLOT), ms;

	CHECK(vm_open(&vm) == 0);
	driver_init(&vm, 0x7);
	CHECK(vmmci_ctl(vm.mci, VMMCI_SHUTDOWN) == 1);
	CHECK(fh.irq_level[irq] == 1);
	CHECK(rd(&vm, IOBASE + VIRTIO_LEG_ISR, 1) == VIRTIO_ISR_CONFIG);
	CHECK(fh.irq_level[irq] == 0);
	CHECK(rd(&vm, CFG, 4) == VMMCI_SHUTDOWN);
	/* the same request again: nothing new for the guest */
	CHECK(vmmci_ctl(vm.mci, VMMCI_SHUTDOWN) == 0);
	CHECK(fh.irq_level[irq] == 0);
	/* another command written back is no acknowledgement */
	wr(&vm, CFG, 4, VMMCI_REBOOT);
	CHECK(fh.nreq == 0);
	wr(&vm, CFG, 4, VMMCI_SHUTDOWN);
	CHECK(fh.nreq == 1 && fh.req[DEV_REQ_SHUTDOWN_ACK] == 1);
	/* acknowledged once only; a second write restarts the grace */
	wr(&vm, CFG, 4, VMMCI_SHUTDOWN);
	CHECK(fh.nreq == 1);
	/* past the short timeout nothing happens: it was acknowledged */
	run_until(&vm, 2, T_SHORT + 20);
	CHECK(fh.nreq == 1);
	ms = run_until(&vm, 2, 10 * T_LONG);
	CHECK(fh.nreq == 2 && fh.req[DEV_REQ_SHUTDOWN_LATE] == 1);
	CHECK(ms >= T_LONG - T_SHORT - 20 - 5);
	CHECK(rd(&vm, CFG, 4) == VMMCI_SHUTDOWN);
	run_until(&vm, 3, 2 * T_LONG);
	CHECK(fh.nreq == 2);
	vm_close(&vm);
}

static void
test_shutdown_noack(void)
{
	struct vm	 vm;
	int		 ms;

	CHECK(vm_open(&vm) == 0);
	driver_init(&vm, 0x7);
	CHECK(vmmci_ctl(vm.mci, VMMCI_SHUTDOWN) == 1);
	ms = run_until(&vm, 1, 10 * T_SHORT);
	CHECK(fh.nreq == 1 && fh.req[DEV_REQ_SHUTDOWN_NOACK] == 1);
	CHECK(ms >= T_SHORT - 5 && ms < T_LONG);
	/* withdrawn: a driver that looks now finds nothing */
	CHECK(rd(&vm, CFG, 4) == VMMCI_NONE);
	run_until(&vm, 2, 2 * T_LONG);
	CHECK(fh.nreq == 1);
	/* asked again, it is posted again */
	CHECK(vmmci_ctl(vm.mci, VMMCI_SHUTDOWN) == 1);
	CHECK(rd(&vm, CFG, 4) == VMMCI_SHUTDOWN);
	vm_close(&vm);
}

static void
test_reboot(void)
{
	struct vm	 vm;

	CHECK(vm_open(&vm) == 0);
	driver_init(&vm, 0x7);
	CHECK(vmmci_ctl(vm.mci, VMMCI_REBOOT) == 1);
	CHECK(rd(&vm, CFG, 4) == VMMCI_REBOOT);
	wr(&vm, CFG, 4, VMMCI_REBOOT);
	CHECK(fh.nreq == 1 && fh.req[DEV_REQ_SHUTDOWN_ACK] == 1);
	run_until(&vm, 2, 10 * T_LONG);
	CHECK(fh.nreq == 2 && fh.req[DEV_REQ_RESET] == 1);
	/* the guest reset the VM: a reboot was asked, nothing is left */
	dev_reset_all(&vm.set);
	place_bar(&vm);
	CHECK(rd(&vm, CFG, 4) == VMMCI_NONE);
	CHECK(vmmci_ctl(vm.mci, VMMCI_REBOOT) == -1);
	vm_close(&vm);
}

/* OpenBSD's driver says so on its way down, with nothing pending. */
static void
test_guest_shutdown(void)
{
	struct vm	 vm;
	int		 ms;

	CHECK(vm_open(&vm) == 0);
	driver_init(&vm, 0x7);
	wr(&vm, CFG, 4, VMMCI_SHUTDOWN);
	CHECK(fh.nreq == 0);
	ms = run_until(&vm, 1, 10 * T_SHORT);
	CHECK(fh.nreq == 1 && fh.req[DEV_REQ_POWEROFF] == 1);
	CHECK(ms >= T_SHORT - 5);
	/* the guest reboots in time: the VM reset ends the wait */
	wr(&vm, CFG, 4, VMMCI_SHUTDOWN);
	dev_reset_all(&vm.set);
	run_until(&vm, 2, 3 * T_SHORT);
	CHECK(fh.nreq == 1);
	vm_close(&vm);
}

static void
test_syncrtc(void)
{
	struct vm	 vm;
	int		 irq = pci_intx_irq(SLOT);

	CHECK(vm_open(&vm) == 0);
	/* a driver that did not ask for clock syncs gets none */
	driver_init(&vm, 0x3);
	CHECK(vmmci_ctl(vm.mci, VMMCI_SYNCRTC) == 0);
	CHECK(fh.irq_level[irq] == 0);
	driver_init(&vm, 0x7);
	CHECK(vmmci_ctl(vm.mci, VMMCI_SYNCRTC) == 1);
	CHECK(fh.irq_level[irq] == 1);
	rd(&vm, IOBASE + VIRTIO_LEG_ISR, 1);
	CHECK(rd(&vm, CFG, 4) == VMMCI_SYNCRTC);
	wr(&vm, CFG, 4, VMMCI_SYNCRTC);
	CHECK(rd(&vm, CFG, 4) == VMMCI_NONE);
	/* a shutdown may replace a sync; a sync never hides a shutdown */
	CHECK(vmmci_ctl(vm.mci, VMMCI_SYNCRTC) == 1);
	CHECK(vmmci_ctl(vm.mci, VMMCI_SHUTDOWN) == 1);
	CHECK(rd(&vm, CFG, 4) == VMMCI_SHUTDOWN);
	CHECK(vmmci_ctl(vm.mci, VMMCI_SYNCRTC) == 0);
	wr(&vm, CFG, 4, VMMCI_SYNCRTC);		/* a stale sync ack */
	CHECK(rd(&vm, CFG, 4) == VMMCI_SHUTDOWN);
	CHECK(fh.nreq == 0);
	run_until(&vm, 1, 10 * T_SHORT);
	CHECK(fh.nreq == 1 && fh.req[DEV_REQ_SHUTDOWN_NOACK] == 1);
	vm_close(&vm);
}

/* A driver without VMMCI_F_ACK acts but never answers. */
static void
test_no_ack_feature(void)
{
	struct vm	 vm;

	CHECK(vm_open(&vm) == 0);
	driver_init(&vm, 0x5);
	CHECK(vmmci_ctl(vm.mci, VMMCI_SHUTDOWN) == 1);
	CHECK(fh.nreq == 1 && fh.req[DEV_REQ_SHUTDOWN_ACK] == 1);
	run_until(&vm, 2, 10 * T_LONG);
	CHECK(fh.nreq == 2 && fh.req[DEV_REQ_SHUTDOWN_LATE] == 1);
	vm_close(&vm);
}

static void
test_resets(void)
{
	struct vm	 vm;

	CHECK(vm_open(&vm) == 0);
	driver_init(&vm, 0x7);
	/* a driver reset keeps what is pending, as on vmd */
	CHECK(vmmci_ctl(vm.mci, VMMCI_SHUTDOWN) == 1);
	wr(&vm, IOBASE + VIRTIO_LEG_STATUS, 1, 0);
	CHECK(rd(&vm, CFG, 4) == VMMCI_SHUTDOWN);
	run_until(&vm, 1, 10 * T_SHORT);
	CHECK(fh.req[DEV_REQ_SHUTDOWN_NOACK] == 1);
	/* a VM reset forgets it, acknowledged or not */
	driver_init(&vm, 0x7);
	CHECK(vmmci_ctl(vm.mci, VMMCI_SHUTDOWN) == 1);
	wr(&vm, CFG, 4, VMMCI_SHUTDOWN);
	CHECK(fh.req[DEV_REQ_SHUTDOWN_ACK] == 1);
	dev_reset_all(&vm.set);
	place_bar(&vm);
	CHECK(rd(&vm, IOBASE + VIRTIO_LEG_STATUS, 1) == 0);
	CHECK(rd(&vm, CFG, 4) == VMMCI_NONE);
	run_until(&vm, 3, 2 * T_LONG);
	CHECK(fh.nreq == 2);
	vm_close(&vm);
}

/*
 * Random traffic at every port of the BAR: the device may then only
 * have seen a guest shutting down by itself, never a request of ours.
 */
static void
test_random(void)
{
	struct vm	 vm;
	static const int sizes[] = { 1, 2, 4 };
	int		 i, sz;

	CHECK(vm_open(&vm) == 0);
	srandom(777);
	for (i = 0; i < 100000; i++) {
		sz = sizes[random() % 3];
		if (random() % 2)
			wr(&vm, IOBASE + random() % 64, sz, random() % 8);
		else
			rd(&vm, IOBASE + random() % 64, sz);
		if (i % 10000 == 0)
			run_until(&vm, fh.nreq + 1, 1);
	}
	run_until(&vm, fh.nreq + 1, 3 * T_SHORT);
	CHECK(fh.nreq == fh.req[DEV_REQ_POWEROFF]);
	dev_reset_all(&vm.set);
	place_bar(&vm);
	driver_init(&vm, 0x7);
	fh.nreq = 0;
	memset(fh.req, 0, sizeof(fh.req));
	CHECK(vmmci_ctl(vm.mci, VMMCI_SHUTDOWN) == 1);
	wr(&vm, CFG, 4, VMMCI_SHUTDOWN);
	CHECK(fh.nreq == 1 && fh.req[DEV_REQ_SHUTDOWN_ACK] == 1);
	vm_close(&vm);
}

static struct timespec
ts(long long sec, long nsec)
{
	struct timespec	 t;

	t.tv_sec = sec;
	t.tv_nsec = nsec;
	return (t);
}

/* The host's clock against the time that passed (CLOCK_MONOTONIC). */
static void
test_clock_step(void)
{
	struct timespec	 r0 = ts(1700000000, 900000000), m0 = ts(500, 0);
	struct timespec	 r1, m1;

	/* a tick a second later: nothing */
	r1 = ts(1700000001, 900000000), m1 = ts(501, 0);
	CHECK(vm_clock_step(&r0, &m0, &r1, &m1) == 0);
	/* a late tick (busy host) is no step */
	r1 = ts(1700000012, 900000000), m1 = ts(512, 0);
	CHECK(vm_clock_step(&r0, &m0, &r1, &m1) == 0);
	/* NTP slewing: half a millisecond */
	r1 = ts(1700000001, 900500000), m1 = ts(501, 0);
	CHECK(vm_clock_step(&r0, &m0, &r1, &m1) == 0);
	/* a host suspend of 600 s: the monotonic clock stood still */
	r1 = ts(1700000601, 950000000), m1 = ts(501, 50000000);
	CHECK(vm_clock_step(&r0, &m0, &r1, &m1) == 600);
	/* nanoseconds that borrow across the second */
	r1 = ts(1700000007, 100000000), m1 = ts(501, 0);
	CHECK(vm_clock_step(&r0, &m0, &r1, &m1) == 5);
	/* the host's clock set back an hour */
	r1 = ts(1699996401, 900000000), m1 = ts(501, 0);
	CHECK(vm_clock_step(&r0, &m0, &r1, &m1) == -3600);
}

int
main(void)
{
	RUN(test_ids);
	RUN(test_clock);
	RUN(test_no_driver);
	RUN(test_shutdown_ack);
	RUN(test_shutdown_noack);
	RUN(test_reboot);
	RUN(test_guest_shutdown);
	RUN(test_syncrtc);
	RUN(test_no_ack_feature);
	RUN(test_resets);
	RUN(test_random);
	RUN(test_clock_step);
	TEST_EXIT();
}
