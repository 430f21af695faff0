/*
 * netpeer.c: the host side of the test guest's netbench mode.  It binds
 * a UDP port (5001 unless -p), counts what the guest sends there (the
 * netbench.tx phase), and when the datagram "vmd-netbench-rx-start"
 * arrives it sends 1472-byte datagrams (1500-byte IPv4 packets) back to
 * that datagram's source as fast as it can (the netbench.rx phase),
 * until "vmd-netbench-rx-stop" arrives or -t seconds pass; then it
 * prints what it counted and exits.  It never sends to any address but
 * the one that asked.
 *
 * usage: netpeer [-b address] [-p port] [-t seconds] [-w seconds]
 *   -t: longest sending phase (default 10)
 *   -w: give up after this long without a start request (default 120)
 */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAYLOAD		1472
#define BURST		32
#define START		"vmd-netbench-rx-start"
#define STOP		"vmd-netbench-rx-stop"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
is_msg(const char *buf, ssize_t n, const char *msg)
{
	return (size_t)n == strlen(msg) && memcmp(buf, msg, n) == 0;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sin, peer, src;
	socklen_t slen;
	struct pollfd pfd;
	char buf[2048], out[PAYLOAD], addr[INET_ADDRSTRLEN];
	const char *bind_addr = "0.0.0.0";
	double tend, twait = 120, tsend = 10, first = 0, last = 0, t0;
	unsigned long rx = 0, tx = 0, txfail = 0;
	int s, c, i, port = 5001, started = 0;
	ssize_t n;

	while ((c = getopt(argc, argv, "b:p:t:w:")) != -1) {
		switch (c) {
		case 'b':
			bind_addr = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 't':
			tsend = atof(optarg);
			break;
		case 'w':
			twait = atof(optarg);
			break;
		default:
			fprintf(stderr, "usage: netpeer [-b address] [-p port] "
			    "[-t seconds] [-w seconds]\n");
			return 2;
		}
	}
	if ((s = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		err(1, "socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (inet_pton(AF_INET, bind_addr, &sin.sin_addr) != 1)
		errx(1, "bad address %s", bind_addr);
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err(1, "bind %s:%d", bind_addr, port);
	memset(out, 'h', sizeof(out));
	pfd.fd = s;
	pfd.events = POLLIN;

	/* Phase 1: count the guest's frames until it asks us to send. */
	tend = now() + twait;
	while (!started && now() < tend) {
		if (poll(&pfd, 1, 100) == -1 && errno != EINTR)
			err(1, "poll");
		for (;;) {
			slen = sizeof(src);
			n = recvfrom(s, buf, sizeof(buf), MSG_DONTWAIT,
			    (struct sockaddr *)&src, &slen);
			if (n < 0)
				break;
			if (is_msg(buf, n, START)) {
				peer = src;
				started = 1;
				break;
			}
			last = now();
			if (rx++ == 0)
				first = last;
		}
	}
	printf("netpeer: received %lu datagrams", rx);
	if (rx > 1 && last > first)
		printf(", %.0f pkt/s", (rx - 1) / (last - first));
	printf("\n");
	if (!started) {
		printf("netpeer: no start request in %.0f s\n", twait);
		return 1;
	}

	/* Phase 2: send to whoever asked, until stop or time is up. */
	inet_ntop(AF_INET, &peer.sin_addr, addr, sizeof(addr));
	t0 = now();
	tend = t0 + tsend;
	while (now() < tend) {
		for (i = 0; i < BURST; i++) {
			if (sendto(s, out, sizeof(out), 0,
			    (struct sockaddr *)&peer, sizeof(peer)) == -1) {
				txfail++;
				if (errno != ENOBUFS && errno != EAGAIN &&
				    errno != ECONNREFUSED && errno != EINTR)
					err(1, "sendto %s", addr);
			} else
				tx++;
		}
		slen = sizeof(src);
		n = recvfrom(s, buf, sizeof(buf), MSG_DONTWAIT,
		    (struct sockaddr *)&src, &slen);
		if (n > 0 && is_msg(buf, n, STOP))
			break;
	}
	printf("netpeer: sent %lu datagrams to %s:%d in %.2f s (%lu failed)\n",
	    tx, addr, ntohs(peer.sin_port), now() - t0, txfail);
	return 0;
}
