/*
 * virtio_bench.c: the vm process's share of a virtio-rng round trip, in
 * microseconds: from the doorbell eventfd being signalled (what KVM's
 * ioeventfd does on the guest's doorbell write) to the interrupt
 * eventfd being signalled (what KVM's irqfd turns into an MSI), through
 * the event loop, the transport and viornd filling a 16-byte buffer from
 * getrandom(2).  The PCI function is set up as a guest driver would
 * (BAR, MSI-X on, vector unmasked, queue enabled) over a heap "guest
 * RAM"; the hypervisor calls are recorded, not made, so KVM's own exit
 * and injection costs are not in the number.  It stays inside viornd's
 * burst so the rate bound does not show.  It measures only; it must never
 * be part of a pass/fail test.
 *
 * Build: make bench/virtio_bench.  Run: bench/virtio_bench [rounds]
 */

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "dev.h"
#include "pci.h"
#include "virtio.h"

#define RAM		(1024 * 1024)
#define BAR		0xe0000000ULL
#define QSZ		64
#define DESC		0x10000
#define AVAIL		0x11000
#define USED		0x12000
#define BUF		0x20000

static uint8_t	*ram;
static int	 kickfd = -1, callfd = -1;

static void *
h_gpa(void *arg, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa >= RAM || len > RAM - gpa)
		return (NULL);
	return (ram + gpa);
}

static int
h_ioeventfd(void *arg, int fd, enum dev_space sp, uint64_t addr,
    uint32_t len, int has_match, uint64_t match, int assign)
{
	if (assign)
		kickfd = fd;
	return (0);
}

static int
h_irqfd(void *arg, int fd, uint32_t gsi, int assign)
{
	if (assign)
		callfd = fd;
	return (0);
}

static int
h_route(void *arg, uint32_t gsi, uint64_t addr, uint32_t data)
{
	return (0);
}

static int
h_gsi(void *arg, uint32_t n, uint32_t *first)
{
	*first = 24;
	return (0);
}

static void
h_irq(void *arg, uint32_t irq, int level)
{
}

static void
wr(struct devices *set, enum dev_space sp, uint64_t addr, int size,
    uint64_t v)
{
	uint8_t	 d[8];
	int	 i;

	for (i = 0; i < 8; i++)
		d[i] = v >> (8 * i);
	dev_io(set, sp, addr, size, d, 1);
}

static uint32_t
cfgrd(struct devices *set, int reg, int size)
{
	uint8_t	 d[4] = { 0 };

	wr(set, DEV_SPACE_IO, 0xcf8, 4, 0x80000800U | (reg & 0xfc));
	dev_io(set, DEV_SPACE_IO, 0xcfc + (reg & 3), size, d, 0);
	return (d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24);
}

static void
cfgwr(struct devices *set, int reg, int size, uint32_t v)
{
	wr(set, DEV_SPACE_IO, 0xcf8, 4, 0x80000800U | (reg & 0xfc));
	wr(set, DEV_SPACE_IO, 0xcfc + (reg & 3), size, v);
}

static void *
loop_main(void *arg)
{
	event_base_loop(arg, EVLOOP_NO_EXIT_ON_EMPTY);
	return (NULL);
}

static double
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1e6 + ts.tv_nsec / 1e3);
}

static int
cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

int
main(int argc, char *argv[])
{
	struct dev_attach_args a = { .fd = -1, .fd2 = -1 };
	struct devices	 set;
	struct dev_host	 host;
	struct event_base *base;
	struct virtq_desc *d;
	struct virtq_avail *av;
	struct virtq_used *u;
	struct pollfd	 p;
	pthread_t	 t;
	uint64_t	 one = 1, n, c = BAR + VIRTIO_OFF_COMMON;
	double		*lat, t0;
	int		 rounds = argc > 1 ? atoi(argv[1]) : 2000, i, cap;

	if (rounds < 1 || rounds > 3000)
		rounds = 2000;		/* inside the rate bound's burst */
	if ((ram = calloc(1, RAM)) == NULL ||
	    (lat = calloc(rounds, sizeof(*lat))) == NULL)
		return (1);
	evthread_use_pthreads();
	base = event_base_new();
	memset(&host, 0, sizeof(host));
	host.evbase = base;
	host.irq_set = h_irq;
	host.gpa_ptr = h_gpa;
	host.ioeventfd = h_ioeventfd;
	host.irqfd = h_irqfd;
	host.msi_route = h_route;
	host.gsi_alloc = h_gsi;
	dev_init(&set, &host);
	if (dev_attach(&set, &pci_devsw, &a) == NULL ||
	    dev_attach(&set, &viornd_devsw, &a) == NULL)
		return (1);
	/* BAR 0, MSI-X on with vector 1 unmasked, one queue */
	cfgwr(&set, 0x10, 4, (uint32_t)BAR);
	cfgwr(&set, 0x04, 2, PCI_COMMAND_MEM | PCI_COMMAND_MASTER);
	for (cap = cfgrd(&set, 0x34, 1); cap != 0 &&
	    cfgrd(&set, cap, 1) != 0x11; cap = cfgrd(&set, cap + 1, 1))
		;
	wr(&set, DEV_SPACE_MMIO, BAR + VIRTIO_OFF_MSIX_TABLE + 16, 4,
	    0xfee00000);
	wr(&set, DEV_SPACE_MMIO, BAR + VIRTIO_OFF_MSIX_TABLE + 24, 4, 0x41);
	wr(&set, DEV_SPACE_MMIO, BAR + VIRTIO_OFF_MSIX_TABLE + 28, 4, 0);
	cfgwr(&set, cap + 2, 2, 0x8000);
	wr(&set, DEV_SPACE_MMIO, c + 0x14, 1, 0x03);
	wr(&set, DEV_SPACE_MMIO, c + 0x08, 4, 1);
	wr(&set, DEV_SPACE_MMIO, c + 0x0c, 4, 1);	/* VERSION_1 */
	wr(&set, DEV_SPACE_MMIO, c + 0x14, 1, 0x0b);
	wr(&set, DEV_SPACE_MMIO, c + 0x16, 2, 0);
	wr(&set, DEV_SPACE_MMIO, c + 0x18, 2, QSZ);
	wr(&set, DEV_SPACE_MMIO, c + 0x1a, 2, 1);
	wr(&set, DEV_SPACE_MMIO, c + 0x20, 8, DESC);
	wr(&set, DEV_SPACE_MMIO, c + 0x28, 8, AVAIL);
	wr(&set, DEV_SPACE_MMIO, c + 0x30, 8, USED);
	wr(&set, DEV_SPACE_MMIO, c + 0x1c, 2, 1);
	wr(&set, DEV_SPACE_MMIO, c + 0x14, 1, 0x0f);
	if (kickfd == -1 || callfd == -1) {
		fprintf(stderr, "no doorbell or irqfd registered\n");
		return (1);
	}
	if (pthread_create(&t, NULL, loop_main, base) != 0)
		return (1);
	d = (struct virtq_desc *)(ram + DESC);
	av = (struct virtq_avail *)(ram + AVAIL);
	u = (struct virtq_used *)(ram + USED);
	for (i = 0; i < QSZ; i++) {
		d[i].addr = BUF + 16 * i;
		d[i].len = 16;
		d[i].flags = VIRTQ_DESC_F_WRITE;
	}
	p.fd = callfd;
	p.events = POLLIN;
	for (i = 0; i < rounds; i++) {
		av->ring[av->idx % QSZ] = i % QSZ;
		__atomic_store_n(&av->idx, av->idx + 1, __ATOMIC_RELEASE);
		t0 = now_us();
		(void)write(kickfd, &one, sizeof(one));
		if (poll(&p, 1, 2000) != 1 ||
		    read(callfd, &n, sizeof(n)) != sizeof(n)) {
			fprintf(stderr, "no interrupt in round %d\n", i);
			return (1);
		}
		lat[i] = now_us() - t0;
		if (__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) != av->idx) {
			fprintf(stderr, "round %d: chain not used\n", i);
			return (1);
		}
	}
	qsort(lat, rounds, sizeof(*lat), cmp);
	printf("viornd doorbell -> interrupt eventfd, vm process share: "
	    "median %.1f us, p90 %.1f us, p99 %.1f us (%d rounds)\n",
	    lat[rounds / 2], lat[rounds * 9 / 10], lat[rounds * 99 / 100],
	    rounds);
	return (0);
}
