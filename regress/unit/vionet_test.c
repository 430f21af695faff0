/*
 * vionet_test.c: unit tests of vionet.c's frame engine with rings in a
 * buffer of this test's and a socket pair in place of the tap.  Transmit:
 * a frame reaches the "tap" with the header made safe (offloads the
 * driver did not negotiate cleared, always 12 bytes); a locked interface
 * drops frames from another MAC and counts them; a local interface
 * answers DHCP itself and sends nothing to the tap; short frames are
 * dropped.  Receive: a frame in one buffer, a merged frame over three
 * with num_buffers set and all three published together, a frame too big
 * for a buffer without MRG_RXBUF given back empty and counted, a frame
 * that waits when the guest has no buffer, a locked interface refusing
 * unicast for another MAC.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vionet.h"
#include "vmd.h"
#include "regress/test.h"

#define RAM_SIZE	(256 * 1024)
#define QSZ		16
#define DESC		0x0000
#define AVAIL		0x0100
#define USED		0x0200
#define BUF		0x1000

static uint8_t		 ram[RAM_SIZE];
static struct vionet	 net;
static struct virtq	 vq;
static int		 sp[2];
static uint16_t		 avail_n;

static const uint8_t	 mac[6] = { 0xfe, 0xe1, 0xbb, 0xd1, 0x34, 0x12 };
static const uint8_t	 other[6] = { 0xfe, 0xe1, 0xbb, 0xd1, 0x34, 0x13 };

static void *
ram_ptr(void *arg, uint64_t gpa, uint64_t len)
{
	if (len == 0 || gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return (NULL);
	return (ram + gpa);
}

static void
setup(uint32_t flags, uint64_t features)
{
	struct virtq_state	 st;
	struct virtq_mem	 mem = { ram_ptr, NULL };
	struct dhcp_conf	 dhcp;

	memset(ram, 0, sizeof(ram));
	if (sp[0] == 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK,
	    0, sp) == -1)
		abort();
	memset(&dhcp, 0, sizeof(dhcp));
	memcpy(dhcp.mac, mac, 6);
	dhcp.guest.s_addr = htonl(0x64400103);
	dhcp.host.s_addr = htonl(0x64400102);
	dhcp.netmask.s_addr = htonl(0xfffffffe);
	(void)snprintf(dhcp.hostname, sizeof(dhcp.hostname), "web1");
	vionet_cleanup(&net);
	if (vionet_setup(&net, sp[0], mac, flags, &dhcp) == -1)
		abort();
	/* a socket takes no offloads: what the test negotiates is offered */
	net.offered |= features;
	vionet_features(&net, features);
	memset(&st, 0, sizeof(st));
	st.desc = DESC;
	st.avail = AVAIL;
	st.used = USED;
	st.size = QSZ;
	st.features = features;
	st.kickfd = st.callfd = -1;
	if (virtq_init(&vq, &st, &mem) == -1)
		abort();
	avail_n = 0;
}

/* A chain of one buffer at gpa of len bytes; write: device-writable. */
static void
offer(uint16_t d, uint64_t gpa, uint32_t len, int write)
{
	struct virtq_desc	*desc = (struct virtq_desc *)(ram + DESC);
	struct virtq_avail	*av = (struct virtq_avail *)(ram + AVAIL);

	desc[d].addr = gpa;
	desc[d].len = len;
	desc[d].flags = write ? VIRTQ_DESC_F_WRITE : 0;
	desc[d].next = 0;
	av->ring[avail_n % QSZ] = d;
	av->idx = ++avail_n;
}

static struct virtq_used *
used(void)
{
	return ((struct virtq_used *)(ram + USED));
}

/* A guest frame: header (hdrlen bytes, flags/gso as given) and Ethernet. */
static size_t
frame(uint8_t *p, size_t hdrlen, const uint8_t *src, uint8_t hflags,
    uint8_t gso, size_t paylen)
{
	size_t	 i;

	memset(p, 0, hdrlen);
	p[0] = hflags;
	p[1] = gso;
	p[4] = 0xdc;	/* gso_size 1500 */
	p[5] = 0x05;
	memcpy(p + hdrlen, other, 6);
	memcpy(p + hdrlen + 6, src, 6);
	p[hdrlen + 12] = 0x88;	/* not IPv4: not the responder's */
	p[hdrlen + 13] = 0xb5;
	for (i = 0; i < paylen; i++)
		p[hdrlen + 14 + i] = (uint8_t)i;
	return (hdrlen + 14 + paylen);
}

static void
drain_tap(void)
{
	uint8_t	 buf[2048];

	while (read(sp[1], buf, sizeof(buf)) > 0)
		;
}

static void
tx_sends_safe_header(void)
{
	uint8_t	 got[2048];
	size_t	 n;
	ssize_t	 r;

	setup(0, VIRTIO_F_VERSION_1);
	drain_tap();
	/* asks for checksum and TSO without having negotiated them */
	n = frame(ram + BUF, 12, mac, 1, 1, 100);
	offer(0, BUF, (uint32_t)n, 0);
	CHECK(vionet_tx_queue(&net, &vq, 16) == 1);
	CHECK(used()->idx == 1 && used()->ring[0].id == 0);
	r = read(sp[1], got, sizeof(got));
	CHECK(r == (ssize_t)n);
	CHECK(got[0] == 0 && got[1] == 0);	/* no csum, no gso */
	CHECK(memcmp(got + 12, ram + BUF + 12, n - 12) == 0);
	CHECK(net.st.tx_frames == 1);
}

static void
tx_keeps_negotiated_offloads(void)
{
	uint8_t	 got[2048];
	size_t	 n;

	setup(0, VIRTIO_F_VERSION_1 | VIRTIO_NET_F_CSUM |
	    VIRTIO_NET_F_HOST_TSO4);
	drain_tap();
	n = frame(ram + BUF, 12, mac, 1, 1, 100);
	offer(0, BUF, (uint32_t)n, 0);
	CHECK(vionet_tx_queue(&net, &vq, 16) == 1);
	CHECK(read(sp[1], got, sizeof(got)) == (ssize_t)n);
	CHECK(got[0] == 1 && got[1] == 1 && got[4] == 0xdc);
}

static void
tx_legacy_header_grows(void)
{
	uint8_t	 got[2048];
	size_t	 n;

	setup(0, 0);		/* neither VERSION_1 nor MRG: 10 bytes */
	drain_tap();
	n = frame(ram + BUF, 10, mac, 0, 0, 60);
	offer(0, BUF, (uint32_t)n, 0);
	CHECK(vionet_tx_queue(&net, &vq, 16) == 1);
	CHECK(read(sp[1], got, sizeof(got)) == (ssize_t)n + 2);
	CHECK(memcmp(got + 12, ram + BUF + 10, n - 10) == 0);
}

static void
tx_locked_drops_spoofer(void)
{
	uint8_t	 got[2048];
	size_t	 n;

	setup(VMOP_NIC_LOCKED, VIRTIO_F_VERSION_1);
	drain_tap();
	n = frame(ram + BUF, 12, other, 0, 0, 60);
	offer(0, BUF, (uint32_t)n, 0);
	n = frame(ram + BUF + 0x800, 12, mac, 0, 0, 60);
	offer(1, BUF + 0x800, (uint32_t)n, 0);
	CHECK(vionet_tx_queue(&net, &vq, 16) == 2);
	CHECK(used()->idx == 2);
	CHECK(net.st.tx_spoofed == 1 && net.st.tx_frames == 1);
	CHECK(read(sp[1], got, sizeof(got)) == (ssize_t)n);
	CHECK(memcmp(got + 18, mac, 6) == 0);
	CHECK(read(sp[1], got, sizeof(got)) == -1 && errno == EAGAIN);
}

static void
tx_short_and_budget(void)
{
	uint16_t	 i;

	setup(0, VIRTIO_F_VERSION_1);
	drain_tap();
	offer(0, BUF, 20, 0);		/* header and 8 bytes */
	for (i = 1; i < 6; i++)
		offer(i, BUF + 0x800, (uint32_t)frame(ram + BUF + 0x800, 12,
		    mac, 0, 0, 10), 0);
	CHECK(vionet_tx_queue(&net, &vq, 3) == 3);
	CHECK(net.st.tx_bad == 1 && net.st.tx_frames == 2);
	CHECK(vionet_tx_queue(&net, &vq, 16) == 3);
	CHECK(used()->idx == 6 && net.st.tx_frames == 5);
}

/* A DHCPDISCOVER from mac, with its header. */
static size_t
discover(uint8_t *p)
{
	uint8_t	*e = p + 12, *ip = e + 14, *udp = ip + 20, *bp = udp + 8;
	size_t	 blen = 240 + 4;
	uint32_t sum = 0;
	int	 i;

	memset(p, 0, 12 + 14 + 20 + 8 + blen);
	memset(e, 0xff, 6);
	memcpy(e + 6, mac, 6);
	e[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + 8 + blen) >> 8);
	ip[3] = (uint8_t)(20 + 8 + blen);
	ip[8] = 64;
	ip[9] = 17;
	memset(ip + 16, 0xff, 4);
	for (i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(~sum >> 8);
	ip[11] = (uint8_t)~sum;
	udp[1] = 68;
	udp[3] = 67;
	udp[4] = (uint8_t)((8 + blen) >> 8);
	udp[5] = (uint8_t)(8 + blen);
	bp[0] = 1;
	bp[1] = 1;
	bp[2] = 6;
	bp[4] = 0x12;
	memcpy(bp + 28, mac, 6);
	bp[236] = 99;
	bp[237] = 130;
	bp[238] = 83;
	bp[239] = 99;
	bp[240] = 53;
	bp[241] = 1;
	bp[242] = 1;
	bp[243] = 255;
	return (12 + 14 + 20 + 8 + blen);
}

static void
tx_local_answers_dhcp(void)
{
	uint8_t	 got[2048];
	size_t	 n;

	setup(VMOP_NIC_LOCAL, VIRTIO_F_VERSION_1);
	drain_tap();
	n = discover(ram + BUF);
	offer(0, BUF, (uint32_t)n, 0);
	CHECK(vionet_tx_queue(&net, &vq, 16) == 1);
	CHECK(net.st.tx_dhcp == 1 && net.st.tx_frames == 0);
	CHECK(read(sp[1], got, sizeof(got)) == -1);
	CHECK(net.ninject == 1);
	/* an OFFER for 100.64.1.3, to the guest's MAC or broadcast */
	CHECK(net.inject_len[0] > 12 + 14 + 20 + 8 + 240);
	CHECK(memcmp(net.inject[0] + 12 + 14 + 20 + 8 + 16,
	    "\x64\x40\x01\x03", 4) == 0);
	/* not local: the same frame goes to the tap */
	setup(0, VIRTIO_F_VERSION_1);
	n = discover(ram + BUF);
	offer(0, BUF, (uint32_t)n, 0);
	CHECK(vionet_tx_queue(&net, &vq, 16) == 1);
	CHECK(net.ninject == 0 && net.st.tx_frames == 1);
	drain_tap();
}

/* A tap frame: the tap's 12-byte header, then len bytes to dst. */
static size_t
tapframe(uint8_t *p, const uint8_t *dst, size_t len)
{
	size_t	 i;

	memset(p, 0, 12);
	p[0] = 2;	/* DATA_VALID, passed through */
	memcpy(p + 12, dst, 6);
	memcpy(p + 18, other, 6);
	for (i = 12; i < len; i++)
		p[12 + i] = (uint8_t)(i * 7);
	return (12 + len);
}

static void
rx_one_buffer(void)
{
	uint8_t	 f[2048];
	size_t	 n;

	setup(0, VIRTIO_F_VERSION_1);
	n = tapframe(f, mac, 1000);
	CHECK(vionet_rx_deliver(&net, &vq, f, n) == 0);	/* no buffer yet */
	offer(0, BUF, 2048, 1);
	CHECK(vionet_rx_deliver(&net, &vq, f, n) == 1);
	CHECK(used()->idx == 1 && used()->ring[0].len == n);
	CHECK(ram[BUF] == 2 && ram[BUF + 10] == 1 && ram[BUF + 11] == 0);
	CHECK(memcmp(ram + BUF + 12, f + 12, n - 12) == 0);
	CHECK(net.st.rx_frames == 1);
}

static void
rx_merged(void)
{
	uint8_t	 f[4096];
	size_t	 n;

	setup(0, VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MRG_RXBUF);
	n = tapframe(f, mac, 3000);
	offer(0, BUF, 1024, 1);
	offer(1, BUF + 0x1000, 1024, 1);
	/* two buffers are not enough: nothing is published yet */
	CHECK(vionet_rx_deliver(&net, &vq, f, n) == 0);
	CHECK(used()->idx == 0);
	offer(2, BUF + 0x2000, 1024, 1);
	offer(3, BUF + 0x3000, 1024, 1);
	CHECK(vionet_rx_deliver(&net, &vq, f, n) == 1);
	CHECK(used()->idx == 3);
	CHECK(used()->ring[0].len == 1024 && used()->ring[1].len == 1024 &&
	    used()->ring[2].len == n - 2048);
	CHECK(ram[BUF + 10] == 3);	/* num_buffers */
	CHECK(memcmp(ram + BUF + 12, f + 12, 1012) == 0);
	CHECK(memcmp(ram + BUF + 0x1000, f + 1024, 1024) == 0);
	CHECK(memcmp(ram + BUF + 0x2000, f + 2048, n - 2048) == 0);
	/* the fourth buffer is held for the next frame */
	n = tapframe(f, mac, 100);
	CHECK(vionet_rx_deliver(&net, &vq, f, n) == 1);
	CHECK(used()->idx == 4 && used()->ring[3].id == 3);
}

static void
rx_too_big_without_mrg(void)
{
	uint8_t	 f[4096];
	size_t	 n;

	setup(0, VIRTIO_F_VERSION_1);
	n = tapframe(f, mac, 3000);
	offer(0, BUF, 2048, 1);
	CHECK(vionet_rx_deliver(&net, &vq, f, n) == 1);
	CHECK(used()->idx == 1 && used()->ring[0].len == 0);
	CHECK(net.st.rx_dropped == 1 && net.st.rx_frames == 0);
}

static void
rx_locked_filter(void)
{
	uint8_t	 f[256];
	uint8_t	 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	setup(VMOP_NIC_LOCKED, VIRTIO_F_VERSION_1);
	CHECK(vionet_rx_want(&net, f, tapframe(f, mac, 64)) == 1);
	CHECK(vionet_rx_want(&net, f, tapframe(f, other, 64)) == 0);
	CHECK(vionet_rx_want(&net, f, tapframe(f, bcast, 64)) == 1);
	CHECK(vionet_rx_want(&net, f, 20) == 0);
	setup(0, VIRTIO_F_VERSION_1);
	CHECK(vionet_rx_want(&net, f, tapframe(f, other, 64)) == 1);
}

static void
rx_hostile_ring(void)
{
	uint8_t	 f[256];
	size_t	 n;

	setup(0, VIRTIO_F_VERSION_1);
	n = tapframe(f, mac, 64);
	offer(0, RAM_SIZE - 8, 64, 1);	/* runs past the RAM */
	CHECK(vionet_rx_deliver(&net, &vq, f, n) == -1);
	CHECK(vq.broken);
}

int
main(void)
{
	RUN(tx_sends_safe_header);
	RUN(tx_keeps_negotiated_offloads);
	RUN(tx_legacy_header_grows);
	RUN(tx_locked_drops_spoofer);
	RUN(tx_short_and_budget);
	RUN(tx_local_answers_dhcp);
	RUN(rx_one_buffer);
	RUN(rx_merged);
	RUN(rx_too_big_without_mrg);
	RUN(rx_locked_filter);
	RUN(rx_hostile_ring);
	vionet_cleanup(&net);
	TEST_EXIT();
}
