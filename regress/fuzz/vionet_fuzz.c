/*
 * vionet_fuzz.c: libFuzzer target for the virtio-net transmit path of a
 * vionet process (vionet.c's engine over virtq.c): the input is guest
 * RAM, rings, chains, headers and frames, and the device drains the
 * transmit queue into a tap (here /dev/null), then gives what the DHCP
 * responder answered to the receive queue, as a hostile driver would
 * have it.  The first byte chooses the setting: bit 0 locked lladdr, bit
 * 1 local interface (DHCP answered), bit 2 EVENT_IDX, bit 3
 * INDIRECT_DESC, bit 4 MRG_RXBUF, bit 5 VERSION_1 (else the legacy
 * header), bit 6 checksum and TSO offloads, bit 7 a second round.
 * Beyond the sanitizers it aborts when the device gives back more chains
 * than were offered or a descriptor outside the queue.
 *
 * Build: make regress/fuzz/vionet_fuzzer
 * Run:   regress/fuzz/vionet_fuzzer -max_total_time=300 regress/fuzz/corpus/vionet
 */

#include <sys/types.h>

#include <arpa/inet.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vionet.h"
#include "vmd.h"

#define RAM_SIZE	(64 * 1024)
#define QSZ		16
#define TX_DESC		0x0000
#define TX_AVAIL	0x0100
#define TX_USED		0x0200
#define RX_DESC		0x0400
#define RX_AVAIL	0x0500
#define RX_USED		0x0600

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The engine's warnings, compiled to this (see the Makefile). */
void
fuzz_log(const char *fmt, ...)
{
}

static uint8_t		*ram;
static int		 devnull = -1;
static struct vionet	 net;

static void *
ram_ptr(void *arg, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return (NULL);
	return (ram + gpa);
}

static void
queue(struct virtq *vq, uint16_t index, uint64_t desc, uint64_t avail,
    uint64_t used, uint64_t features)
{
	struct virtq_state	 st;
	struct virtq_mem	 mem = { ram_ptr, NULL };

	memset(&st, 0, sizeof(st));
	st.desc = desc;
	st.avail = avail;
	st.used = used;
	st.size = QSZ;
	st.index = index;
	st.features = features;
	st.kickfd = st.callfd = -1;
	memset(ram + used, 0, VIRTQ_USED_BYTES(QSZ));
	if (virtq_init(vq, &st, &mem) == -1)
		abort();
}

/* The used ring may grow by at most what was available, with ids < QSZ. */
static void
check_used(const struct virtq *vq, uint16_t before, uint16_t offered)
{
	const struct virtq_used	*u = (const struct virtq_used *)ram_ptr(NULL,
	    vq->st.used, VIRTQ_USED_BYTES(QSZ));
	uint16_t		 n = (uint16_t)(vq->st.used_idx - before), i;

	if (n > offered && n > QSZ)
		abort();
	for (i = 0; i < n && i < QSZ; i++)
		if (u->ring[(uint16_t)(before + i) % QSZ].id >= QSZ)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t	 mac[6] = { 0xfe, 0xe1, 0xbb, 0xd1, 1, 2 };
	struct dhcp_conf	 dhcp;
	struct virtq		 tx, rx;
	struct virtq_avail	*avail;
	uint64_t		 features;
	uint32_t		 flags;
	uint16_t		 before;
	int			 rounds, r, k;

	if (size < 1)
		return (0);
	if (ram == NULL && (ram = malloc(RAM_SIZE)) == NULL)
		abort();
	if (devnull == -1 &&
	    (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		abort();
	memset(ram, 0, RAM_SIZE);
	memcpy(ram, data + 1, size - 1 < RAM_SIZE ? size - 1 : RAM_SIZE);

	flags = 0;
	if (data[0] & 1)
		flags |= VMOP_NIC_LOCKED;
	if (data[0] & 2)
		flags |= VMOP_NIC_LOCAL;
	memset(&dhcp, 0, sizeof(dhcp));
	memcpy(dhcp.mac, mac, sizeof(mac));
	dhcp.guest.s_addr = htonl(0x64400103);
	dhcp.host.s_addr = htonl(0x64400102);
	dhcp.netmask.s_addr = htonl(0xfffffffe);
	memcpy(dhcp.hostname, "fuzz", 5);
	if (vionet_setup(&net, devnull, mac, flags, &dhcp) == -1)
		abort();
	features = 0;
	if (data[0] & 4)
		features |= VIRTIO_F_EVENT_IDX;
	if (data[0] & 8)
		features |= VIRTIO_F_INDIRECT_DESC;
	if (data[0] & 16)
		features |= VIRTIO_NET_F_MRG_RXBUF;
	if (data[0] & 32)
		features |= VIRTIO_F_VERSION_1;
	if (data[0] & 64)
		features |= VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4 |
		    VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_HOST_ECN;
	/* /dev/null takes no offloads: only what the engine offered stays */
	net.offered |= features;
	vionet_features(&net, features);
	queue(&tx, VIONET_TXQ, TX_DESC, TX_AVAIL, TX_USED, features);
	queue(&rx, VIONET_RXQ, RX_DESC, RX_AVAIL, RX_USED, features);

	rounds = (data[0] & 128) ? 2 : 1;
	for (k = 0; k < rounds; k++) {
		avail = (struct virtq_avail *)(ram + TX_AVAIL);
		before = tx.st.used_idx;
		r = vionet_tx_queue(&net, &tx, VIONET_BUDGET);
		if (r != -1)
			check_used(&tx, before,
			    (uint16_t)(avail->idx - before));
		while (net.ninject > 0) {
			before = rx.st.used_idx;
			if (vionet_rx_deliver(&net, &rx, net.inject[0],
			    net.inject_len[0]) != 1)
				break;
			check_used(&rx, before, QSZ);
			net.ninject--;
			memmove(net.inject[0], net.inject[1],
			    net.ninject * sizeof(net.inject[0]));
			memmove(net.inject_len, net.inject_len + 1,
			    net.ninject * sizeof(net.inject_len[0]));
		}
	}
	vionet_cleanup(&net);
	return (0);
}
