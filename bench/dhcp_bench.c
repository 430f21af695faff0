/*
 * dhcp_bench.c: the cost of dhcp_answer() per frame, which a vionet
 * process pays on every frame a guest sends on a local interface: a
 * full-size TCP frame to the host (the common case, which must cost
 * next to nothing), an ARP request, a DISCOVER answered with an OFFER,
 * and a flood of full-size frames to port 67 with a bad UDP checksum
 * (the worst a guest can make it do).  It prints nanoseconds per frame
 * and frames per second.  It measures only; it is never a pass/fail test.
 *
 * Build: make bench/dhcp_bench.  Run: bench/dhcp_bench [frames]
 */

#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net.h"

static const uint8_t vm_mac[6] = { 0xfe, 0xe1, 0xbb, 0xd1, 0x34, 0x12 };
static const uint8_t tap_mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static uint16_t
ipsum(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ((uint16_t)~sum);
}

/* An IPv4 frame from the VM: protocol, ports, total frame length. */
static size_t
ipv4(uint8_t *f, const uint8_t *dmac, int proto, int sport, int dport,
    size_t len, const char *src, const char *dst)
{
	uint8_t		*ip = f + 14, *l4 = ip + 20;
	uint16_t	 s;

	memset(f, 0, len);
	memcpy(f, dmac, 6);
	memcpy(f + 6, vm_mac, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (len - 14) >> 8;
	ip[3] = (len - 14) & 0xff;
	ip[8] = 64;
	ip[9] = proto;
	(void)inet_pton(AF_INET, src, ip + 12);
	(void)inet_pton(AF_INET, dst, ip + 16);
	s = ipsum(ip, 20, 0);
	ip[10] = s >> 8;
	ip[11] = s & 0xff;
	l4[0] = sport >> 8;
	l4[1] = sport & 0xff;
	l4[2] = dport >> 8;
	l4[3] = dport & 0xff;
	if (proto == 17) {
		l4[4] = (len - 34) >> 8;
		l4[5] = (len - 34) & 0xff;
	}
	return (len);
}

static void
run(const char *what, const struct dhcp_conf *conf, const uint8_t *f,
    size_t len, int flags, long n)
{
	static uint8_t	 out[DHCP_FRAME_MAX];
	volatile size_t	 sink = 0;
	double		 t0, t;
	long		 i;

	t0 = now();
	for (i = 0; i < n; i++)
		sink += dhcp_answer(conf, f, len, flags, out, sizeof(out),
		    NULL);
	t = now() - t0;
	printf("%-40s %7.1f ns/frame %12.0f frames/s%s\n", what,
	    t * 1e9 / n, n / t, sink > 0 ? " (answered)" : "");
}

int
main(int argc, char *argv[])
{
	struct dhcp_conf	 conf;
	uint8_t			 f[DHCP_FRAME_MAX];
	long			 n = argc > 1 ? atol(argv[1]) : 2000000;
	size_t			 len;
	uint8_t			*bp;

	if (n <= 0)
		n = 2000000;
	memset(&conf, 0, sizeof(conf));
	memcpy(conf.mac, vm_mac, 6);
	memcpy(conf.hostmac, tap_mac, 6);
	(void)inet_pton(AF_INET, "100.64.1.3", &conf.guest);
	(void)inet_pton(AF_INET, "100.64.1.2", &conf.host);
	(void)inet_pton(AF_INET, "255.255.255.254", &conf.netmask);
	(void)snprintf(conf.hostname, sizeof(conf.hostname), "bench");

	len = ipv4(f, tap_mac, 6, 40000, 22, 1514, "100.64.1.3",
	    "100.64.1.2");
	run("TCP 1514 bytes to the host", &conf, f, len, 0, n);

	memset(f, 0xff, 6);
	memcpy(f + 6, vm_mac, 6);
	f[12] = 0x08;
	f[13] = 0x06;
	memset(f + 14, 0, 28);
	run("ARP request 42 bytes", &conf, f, 42, 0, n);

	len = ipv4(f, (const uint8_t *)"\xff\xff\xff\xff\xff\xff", 17, 68,
	    67, 342, "0.0.0.0", "255.255.255.255");
	bp = f + 42;
	bp[0] = 1;
	bp[1] = 1;
	bp[2] = 6;
	memcpy(bp + 28, vm_mac, 6);
	memcpy(bp + 236, "\x63\x82\x53\x63\x35\x01\x01\xff", 8);
	run("DISCOVER -> OFFER", &conf, f, len, 0, n);

	len = ipv4(f, (const uint8_t *)"\xff\xff\xff\xff\xff\xff", 17, 68,
	    67, 1514, "0.0.0.0", "255.255.255.255");
	f[40] = 0x12;	/* some UDP checksum, wrong */
	run("flood: 1514 bytes to port 67", &conf, f, len, 0, n);
	bp = f + 42;
	bp[0] = 1;
	bp[1] = 1;
	bp[2] = 6;
	memcpy(bp + 28, vm_mac, 6);
	run("flood: the same as our client, bad sum", &conf, f, len, 0, n);
	return (0);
}
