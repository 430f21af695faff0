/*
 * dhcp_tap.c: a test harness that puts dhcp.c in front of a real DHCP
 * client.  It opens a tap with priv_nl.c and plays the VM's NIC the way
 * a vionet process does (virtio-net header on every frame, the header's
 * checksum flag passed on): every frame the host sends into the tap goes
 * through dhcp_answer() and any reply is written back, so a client such
 * as busybox udhcpc on the tap's host side talks to the responder.  It
 * also answers ARP for the server address, so renewals can be unicast.
 * Run only by regress/e2e/dhcp_client.sh, inside a network namespace of
 * the test's; it stops on SIGTERM or after the given seconds.
 *
 * Usage: dhcp_tap TAP HOSTNAME PXEBOOT SECONDS
 * Prints "ready" once the tap is up; logs each DHCP drop to stderr.
 */

#include <sys/types.h>

#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

#define VNET_F_NEEDS_CSUM	1

static volatile sig_atomic_t	 stop;

static void
on_term(int sig)
{
	stop = 1;
}

/* An ARP reply for the server address, from the "NIC" to the host. */
static size_t
arp_answer(const struct dhcp_conf *conf, const uint8_t *f, size_t len,
    uint8_t *out)
{
	if (len < 42 || f[12] != 0x08 || f[13] != 0x06 ||
	    f[20] != 0 || f[21] != 1 ||			/* request */
	    memcmp(f + 38, &conf->host.s_addr, 4) != 0)
		return (0);
	memcpy(out, f + 6, 6);
	memcpy(out + 6, conf->hostmac, 6);
	memcpy(out + 12, "\x08\x06\x00\x01\x08\x00\x06\x04\x00\x02", 10);
	memcpy(out + 22, conf->hostmac, 6);
	memcpy(out + 28, &conf->host.s_addr, 4);
	memcpy(out + 32, f + 22, 10);		/* sender's MAC, IP */
	return (42);
}

int
main(int argc, char *argv[])
{
	static uint8_t		 buf[65536 + TAP_VNET_HDR_LEN];
	static uint8_t		 out[TAP_VNET_HDR_LEN + DHCP_FRAME_MAX];
	static const uint8_t	 nic[NET_ETHER_LEN] = {
		0xfe, 0xe1, 0xbb, 0xd1, 0x00, 0x01
	};
	struct dhcp_conf	 conf;
	struct net_local	 lp;
	struct nl_tap		 tap;
	struct nl		*nl;
	struct pollfd		 pfd;
	struct sigaction	 sa;
	const char		*why;
	char			 err[512];
	time_t			 deadline;
	ssize_t			 n;
	size_t			 r;
	int			 fd;

	if (argc != 5) {
		fprintf(stderr, "usage: dhcp_tap tap hostname pxeboot secs\n");
		return (2);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	deadline = time(NULL) + atoi(argv[4]);

	if ((nl = nl_open(err, sizeof(err))) == NULL ||
	    (fd = nl_tap_open(nl, argv[1], &tap, err, sizeof(err))) == -1 ||
	    nl_link_updown(nl, tap.link.ifindex, 1, err, sizeof(err)) == -1) {
		fprintf(stderr, "dhcp_tap: %s\n", err);
		return (1);
	}

	/* the client on the host side is "the VM"; we are its server */
	memset(&conf, 0, sizeof(conf));
	memcpy(conf.mac, tap.link.lladdr, NET_ETHER_LEN);
	memcpy(conf.hostmac, nic, NET_ETHER_LEN);
	net_local_default(&lp);
	if (net_local4(&lp, 1, 0, 1, &conf.guest, err, sizeof(err)) == -1 ||
	    net_local4(&lp, 1, 0, 0, &conf.host, err, sizeof(err)) == -1) {
		fprintf(stderr, "dhcp_tap: %s\n", err);
		return (1);
	}
	net_local4_mask(&conf.netmask);
	(void)snprintf(conf.hostname, sizeof(conf.hostname), "%s", argv[2]);
	conf.pxeboot = atoi(argv[3]) != 0;
	printf("ready\n");
	fflush(stdout);

	pfd.fd = fd;
	pfd.events = POLLIN;
	while (!stop && time(NULL) < deadline) {
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		if ((n = read(fd, buf, sizeof(buf))) <= TAP_VNET_HDR_LEN) {
			if (n == -1 && errno != EAGAIN && errno != EINTR) {
				perror("dhcp_tap: read");
				return (1);
			}
			continue;
		}
		memset(out, 0, TAP_VNET_HDR_LEN);
		why = NULL;
		r = dhcp_answer(&conf, buf + TAP_VNET_HDR_LEN,
		    (size_t)n - TAP_VNET_HDR_LEN,
		    (buf[0] & VNET_F_NEEDS_CSUM) ? DHCP_CSUM_PARTIAL : 0,
		    out + TAP_VNET_HDR_LEN, sizeof(out) - TAP_VNET_HDR_LEN,
		    &why);
		if (r > 0)
			fprintf(stderr, "dhcp_tap: answered %zd bytes with "
			    "%zu\n", n - TAP_VNET_HDR_LEN, r);
		else if (why != NULL && strstr(why, "port") == NULL &&
		    strstr(why, "not IPv4") == NULL &&
		    strstr(why, "too short") == NULL)
			fprintf(stderr, "dhcp_tap: dropped: %s\n", why);
		if (r == 0)
			r = arp_answer(&conf, buf + TAP_VNET_HDR_LEN,
			    (size_t)n - TAP_VNET_HDR_LEN,
			    out + TAP_VNET_HDR_LEN);
		if (r > 0 && write(fd, out, TAP_VNET_HDR_LEN + r) == -1)
			perror("dhcp_tap: write");
	}
	(void)close(fd);
	nl_close(nl);
	return (0);
}
