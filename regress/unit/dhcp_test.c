/*
 * dhcp_test.c: unit tests of dhcp.c, the local interface's DHCP/BOOTP
 * responder.  Requests are built here field by field; replies are taken
 * apart by a decoder of this file's own that checks every header,
 * checksum and option, and one OFFER is compared byte for byte with a
 * golden frame.  Each hostile frame is a valid DISCOVER with one thing
 * changed, so that its drop can only come from that change: truncated
 * at every length, oversized, fragmented, wrong hlen or htype, options
 * running past the end or with huge lengths, foreign MACs and ports.
 */

#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "regress/test.h"

#define FRAME_BUF	2048

static const uint8_t vm_mac[6] = { 0xfe, 0xe1, 0xbb, 0xd1, 0x34, 0x12 };
static const uint8_t tap_mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
static const uint8_t other_mac[6] = { 0xfe, 0xe1, 0xbb, 0xd1, 0x34, 0x13 };
static const uint8_t	 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t	 ip_any[4] = { 0, 0, 0, 0 };
static const uint8_t	 ip_bcast[4] = { 255, 255, 255, 255 };
static const uint8_t	 ip_host[4] = { 100, 64, 1, 2 };
static const uint8_t	 ip_guest[4] = { 100, 64, 1, 3 };
static const uint8_t	 ip_other[4] = { 100, 64, 1, 5 };

static struct dhcp_conf	 conf;

static void
conf_init(void)
{
	memset(&conf, 0, sizeof(conf));
	memcpy(conf.mac, vm_mac, 6);
	memcpy(conf.hostmac, tap_mac, 6);
	memcpy(&conf.guest.s_addr, ip_guest, 4);
	memcpy(&conf.host.s_addr, ip_host, 4);
	(void)inet_pton(AF_INET, "255.255.255.254", &conf.netmask);
	(void)snprintf(conf.hostname, sizeof(conf.hostname), "web1");
}

/* A request, field by field. */
struct rq {
	uint8_t		 dmac[6], smac[6];
	uint16_t	 ethertype;
	uint8_t		 ip_vhl;
	uint16_t	 ip_off;
	uint8_t		 ip_p;
	uint8_t		 ip_src[4], ip_dst[4];
	int		 ip_bad_sum;
	int		 ip_len_adj;		/* added to the length */
	uint16_t	 sport, dport;
	int		 udp_sum;		/* 1: computed, 0: zero */
	int		 udp_bad_sum;
	int		 udp_len_adj;
	uint8_t		 op, htype, hlen, hops;
	uint32_t	 xid;
	uint16_t	 flags;
	uint8_t		 ciaddr[4], giaddr[4];
	uint8_t		 chaddr[6];
	char		 file[16];
	int		 cookie;
	uint8_t		 opts[1500];
	size_t		 optlen;
	size_t		 bootp_len;	/* 0: 240 + opts, min 300 */
	size_t		 trailer;		/* Ethernet padding */
};

static uint32_t
csum(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return (sum);
}

static uint16_t
csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ((uint16_t)~sum);
}

static void
wr16(uint8_t *p, unsigned int v)
{
	p[0] = (v >> 8) & 0xff;
	p[1] = v & 0xff;
}

static unsigned int
rd16(const uint8_t *p)
{
	return ((unsigned int)p[0] << 8 | p[1]);
}

static void
opt_add(struct rq *r, const uint8_t *bytes, size_t len)
{
	memcpy(r->opts + r->optlen, bytes, len);
	r->optlen += len;
}

/* The DISCOVER a client like udhcpc sends from the VM's NIC. */
static void
discover(struct rq *r)
{
	static const uint8_t	 o[] = { 53, 1, 1, 55, 4, 1, 3, 6, 12,
				    61, 7, 1, 0xfe, 0xe1, 0xbb, 0xd1, 0x34,
				    0x12, 255 };

	memset(r, 0, sizeof(*r));
	memcpy(r->dmac, bcast, 6);
	memcpy(r->smac, vm_mac, 6);
	r->ethertype = 0x0800;
	r->ip_vhl = 0x45;
	r->ip_p = 17;
	memcpy(r->ip_src, ip_any, 4);
	memcpy(r->ip_dst, ip_bcast, 4);
	r->sport = 68;
	r->dport = 67;
	r->udp_sum = 1;
	r->op = 1;
	r->htype = 1;
	r->hlen = 6;
	r->xid = 0x12345678;
	memcpy(r->chaddr, vm_mac, 6);
	r->cookie = 1;
	opt_add(r, o, sizeof(o));
}

static void
request(struct rq *r, const uint8_t *reqaddr, const uint8_t *server)
{
	uint8_t	 o[6];

	discover(r);
	r->optlen = 0;
	opt_add(r, (const uint8_t *)"\x35\x01\x03", 3);
	if (reqaddr != NULL) {
		o[0] = 50;
		o[1] = 4;
		memcpy(o + 2, reqaddr, 4);
		opt_add(r, o, 6);
	}
	if (server != NULL) {
		o[0] = 54;
		o[1] = 4;
		memcpy(o + 2, server, 4);
		opt_add(r, o, 6);
	}
	opt_add(r, (const uint8_t *)"\xff", 1);
}

static size_t
build(const struct rq *r, uint8_t *f)
{
	uint8_t		*ip = f + 14, *udp = ip + 20, *bp = udp + 8;
	size_t		 blen, ulen;
	uint32_t	 s;

	memset(f, 0, FRAME_BUF);
	memcpy(f, r->dmac, 6);
	memcpy(f + 6, r->smac, 6);
	wr16(f + 12, r->ethertype);

	blen = r->bootp_len;
	if (blen == 0) {
		blen = 240 + r->optlen;
		if (blen < 300)
			blen = 300;
	}
	bp[0] = r->op;
	bp[1] = r->htype;
	bp[2] = r->hlen;
	bp[3] = r->hops;
	bp[4] = r->xid >> 24;
	bp[5] = r->xid >> 16;
	bp[6] = r->xid >> 8;
	bp[7] = r->xid;
	wr16(bp + 10, r->flags);
	memcpy(bp + 12, r->ciaddr, 4);
	memcpy(bp + 24, r->giaddr, 4);
	memcpy(bp + 28, r->chaddr, 6);
	memcpy(bp + 108, r->file, strlen(r->file));
	if (r->cookie)
		memcpy(bp + 236, "\x63\x82\x53\x63", 4);
	memcpy(bp + 240, r->opts, r->optlen);

	ulen = 8 + blen;
	ip[0] = r->ip_vhl;
	wr16(ip + 2, (unsigned int)(20 + ulen + r->ip_len_adj));
	wr16(ip + 6, r->ip_off);
	ip[8] = 64;
	ip[9] = r->ip_p;
	memcpy(ip + 12, r->ip_src, 4);
	memcpy(ip + 16, r->ip_dst, 4);
	wr16(ip + 10, csum_fold(csum(ip, 20, 0)) ^ (r->ip_bad_sum ? 1 : 0));

	wr16(udp, r->sport);
	wr16(udp + 2, r->dport);
	wr16(udp + 4, (unsigned int)(ulen + r->udp_len_adj));
	if (r->udp_sum) {
		s = csum(ip + 12, 8, 17 + (uint32_t)ulen);
		s = csum(udp, ulen, s);
		wr16(udp + 6, csum_fold(s) ^ (r->udp_bad_sum ? 1 : 0));
	}
	return (14 + 20 + ulen + r->trailer);
}

/* A reply, taken apart and checked structurally. */
struct rp {
	uint8_t		 dmac[6], smac[6];
	uint8_t		 ip_src[4], ip_dst[4];
	int		 ttl, tos;
	unsigned int	 sport, dport;
	uint8_t		 op, htype, hlen, hops;
	uint32_t	 xid;
	unsigned int	 flags;
	uint8_t		 ciaddr[4], yiaddr[4], siaddr[4], giaddr[4];
	uint8_t		 chaddr[16];
	char		 file[129], sname[65];
	size_t		 bootp_len;
	int		 cookie;
	char		 codes[64];	/* option codes, in order */
	int		 type;
	uint8_t		 lease[4], server[4], mask[4], router[4], dns[4];
	char		 hostname[256];
};

static int
decode(const uint8_t *f, size_t len, struct rp *p)
{
	const uint8_t	*ip = f + 14, *udp = ip + 20, *bp = udp + 8, *o;
	size_t		 iplen, ulen, i, n = 0;

	memset(p, 0, sizeof(*p));
	if (len < 14 + 20 + 8 + 240 || rd16(f + 12) != 0x0800)
		return (-1);
	memcpy(p->dmac, f, 6);
	memcpy(p->smac, f + 6, 6);
	if (ip[0] != 0x45 || rd16(ip + 6) != 0 || ip[9] != 17 ||
	    csum_fold(csum(ip, 20, 0)) != 0)
		return (-1);
	iplen = rd16(ip + 2);
	if (iplen != len - 14)
		return (-1);
	p->tos = ip[1];
	p->ttl = ip[8];
	memcpy(p->ip_src, ip + 12, 4);
	memcpy(p->ip_dst, ip + 16, 4);
	ulen = rd16(udp + 4);
	if (ulen != iplen - 20 || rd16(udp + 6) == 0 ||
	    csum_fold(csum(udp, ulen, csum(ip + 12, 8, 17 + (uint32_t)ulen)))
	    != 0)
		return (-1);
	p->sport = rd16(udp);
	p->dport = rd16(udp + 2);
	p->bootp_len = ulen - 8;
	p->op = bp[0];
	p->htype = bp[1];
	p->hlen = bp[2];
	p->hops = bp[3];
	p->xid = (uint32_t)bp[4] << 24 | bp[5] << 16 | bp[6] << 8 | bp[7];
	p->flags = rd16(bp + 10);
	memcpy(p->ciaddr, bp + 12, 4);
	memcpy(p->yiaddr, bp + 16, 4);
	memcpy(p->siaddr, bp + 20, 4);
	memcpy(p->giaddr, bp + 24, 4);
	memcpy(p->chaddr, bp + 28, 16);
	memcpy(p->sname, bp + 44, 64);
	memcpy(p->file, bp + 108, 128);
	p->cookie = memcmp(bp + 236, "\x63\x82\x53\x63", 4) == 0;
	o = bp + 240;
	for (i = 0; i < p->bootp_len - 240;) {
		uint8_t	 c = o[i], l;

		if (c == 0) {
			i++;
			continue;
		}
		if (n + 1 >= sizeof(p->codes))
			return (-1);
		p->codes[n++] = (char)c;
		if (c == 255)
			break;
		if (i + 2 > p->bootp_len - 240)
			return (-1);
		l = o[i + 1];
		if (i + 2 + l > p->bootp_len - 240)
			return (-1);
		switch (c) {
		case 53:
			p->type = o[i + 2];
			break;
		case 51:
			memcpy(p->lease, o + i + 2, 4);
			break;
		case 54:
			memcpy(p->server, o + i + 2, 4);
			break;
		case 1:
			memcpy(p->mask, o + i + 2, 4);
			break;
		case 3:
			memcpy(p->router, o + i + 2, 4);
			break;
		case 6:
			memcpy(p->dns, o + i + 2, 4);
			break;
		case 12:
			memcpy(p->hostname, o + i + 2, l);
			break;
		}
		i += 2 + (size_t)l;
	}
	if (n == 0 || p->codes[n - 1] != (char)255)
		return (-1);
	return (0);
}

static uint8_t	 frame[FRAME_BUF], out[FRAME_BUF];
static const char *why;

static size_t
answer(const struct rq *r, int flags)
{
	size_t	 len = build(r, frame);

	memset(out, 0xa5, sizeof(out));
	return (dhcp_answer(&conf, frame, len, flags, out, sizeof(out), &why));
}

static int
answered(const struct rq *r, struct rp *p)
{
	size_t	 n = answer(r, 0);

	return (n > 0 && decode(out, n, p) == 0);
}

static int
dropped(const struct rq *r, const char *reason)
{
	if (answer(r, 0) != 0 || why == NULL)
		return (0);
	if (reason != NULL && strstr(why, reason) == NULL) {
		printf("# dropped for \"%s\", not \"%s\"\n", why, reason);
		return (0);
	}
	return (1);
}

/* What every answer to the VM carries, whatever its type. */
static int
common_ok(const struct rp *p)
{
	return (memcmp(p->smac, tap_mac, 6) == 0 &&
	    memcmp(p->ip_src, ip_host, 4) == 0 && p->sport == 67 &&
	    p->dport == 68 && p->op == 2 && p->htype == 1 && p->hlen == 6 &&
	    p->hops == 0 && p->xid == 0x12345678 &&
	    memcmp(p->chaddr, vm_mac, 6) == 0 &&
	    memcmp(p->giaddr, ip_any, 4) == 0 && p->cookie &&
	    p->bootp_len >= 300 && p->ttl == 16 && p->tos == 0x10);
}

static int
lease_ok(const struct rp *p)
{
	return (memcmp(p->yiaddr, ip_guest, 4) == 0 &&
	    memcmp(p->siaddr, ip_host, 4) == 0 &&
	    memcmp(p->mask, "\xff\xff\xff\xfe", 4) == 0 &&
	    memcmp(p->router, ip_host, 4) == 0 &&
	    memcmp(p->dns, ip_host, 4) == 0 &&
	    strcmp(p->hostname, "web1") == 0);
}

static void
test_discover_offer(void)
{
	struct rq	 r;
	struct rp	 p;

	conf_init();
	discover(&r);
	CHECK(answered(&r, &p));
	CHECK(common_ok(&p) && lease_ok(&p));
	CHECK(p.type == 2);
	CHECK(strcmp(p.codes, "\x35\x33\x36\x01\x03\x06\x0c\xff") == 0);
	CHECK(memcmp(p.lease, "\xff\xff\xff\xff", 4) == 0);
	CHECK(memcmp(p.server, ip_host, 4) == 0);
	CHECK(memcmp(p.dmac, vm_mac, 6) == 0);
	CHECK(memcmp(p.ip_dst, ip_guest, 4) == 0);
	CHECK(p.flags == 0 && p.file[0] == '\0' && p.sname[0] == '\0');
	CHECK(memcmp(p.ciaddr, ip_any, 4) == 0);
}

/*
 * The OFFER above, byte for byte: a guard on the frame that
 * regress/e2e/dhcp_client.sh shows a real client accepts.
 */
static void
test_golden_offer(void)
{
	static const char	 hex[] =
	    "fee1bbd13412021122334455080045100148000000001011"
	    "df106440010264400103004300440134a412020106001234"
	    "56780000000000000000644001036440010200000000fee1"
	    "bbd134120000000000000000000000000000000000000000"
	    "000000000000000000000000000000000000000000000000"
	    "000000000000000000000000000000000000000000000000"
	    "000000000000000000000000000000000000000000000000"
	    "000000000000000000000000000000000000000000000000"
	    "000000000000000000000000000000000000000000000000"
	    "000000000000000000000000000000000000000000000000"
	    "000000000000000000000000000000000000000000000000"
	    "0000000000000000000000000000638253633501023304ff"
	    "ffffff3604644001020104fffffffe030464400102060464"
	    "4001020c0477656231ff";
	uint8_t			 want[400];
	struct rq		 r;
	size_t			 n, i, wlen = 0;
	unsigned int		 b;

	conf_init();
	for (i = 0; hex[i] != '\0' && hex[i + 1] != '\0'; i += 2) {
		if (sscanf(hex + i, "%2x", &b) != 1)
			break;
		want[wlen++] = (uint8_t)b;
	}
	discover(&r);
	n = answer(&r, 0);
	CHECK(n == 14 + 20 + 8 + 300);
	/* the rest of the 300-byte message is zero padding */
	CHECK(wlen <= n && memcmp(out, want, wlen) == 0);
	for (i = wlen; i < n; i++)
		CHECK(out[i] == 0);
}

static void
test_discover_broadcast(void)
{
	struct rq	 r;
	struct rp	 p;

	conf_init();
	discover(&r);
	r.flags = 0x8000;
	CHECK(answered(&r, &p));
	CHECK(common_ok(&p) && lease_ok(&p) && p.type == 2);
	CHECK(p.flags == 0x8000);
	CHECK(memcmp(p.dmac, bcast, 6) == 0);
	CHECK(memcmp(p.ip_dst, ip_bcast, 4) == 0);
}

static void
test_request_ack(void)
{
	struct rq	 r;
	struct rp	 p;

	conf_init();
	request(&r, ip_guest, ip_host);
	CHECK(answered(&r, &p));
	CHECK(common_ok(&p) && lease_ok(&p) && p.type == 5);
	CHECK(strcmp(p.codes, "\x35\x33\x36\x01\x03\x06\x0c\xff") == 0);
	CHECK(memcmp(p.dmac, vm_mac, 6) == 0);
	CHECK(memcmp(p.ip_dst, ip_guest, 4) == 0);

	/* no requested address: the one address there is */
	request(&r, NULL, NULL);
	CHECK(answered(&r, &p) && p.type == 5 && lease_ok(&p));

	/* sent to the tap's MAC rather than broadcast */
	request(&r, ip_guest, NULL);
	memcpy(r.dmac, tap_mac, 6);
	CHECK(answered(&r, &p) && p.type == 5);
}

static void
test_request_nak(void)
{
	struct rq	 r;
	struct rp	 p;

	conf_init();
	request(&r, ip_other, NULL);
	CHECK(answered(&r, &p));
	CHECK(common_ok(&p) && p.type == 6);
	CHECK(strcmp(p.codes, "\x35\x36\xff") == 0);
	CHECK(memcmp(p.server, ip_host, 4) == 0);
	CHECK(memcmp(p.yiaddr, ip_any, 4) == 0);
	CHECK(memcmp(p.siaddr, ip_any, 4) == 0);
	CHECK(memcmp(p.dmac, bcast, 6) == 0);
	CHECK(memcmp(p.ip_dst, ip_bcast, 4) == 0);

	/* the client chose another server: not ours to answer */
	request(&r, ip_guest, ip_other);
	CHECK(dropped(&r, "another server"));
}

/* RENEWING: unicast from the leased address to the server. */
static void
test_request_renew(void)
{
	struct rq	 r;
	struct rp	 p;

	conf_init();
	request(&r, NULL, NULL);
	memcpy(r.ciaddr, ip_guest, 4);
	memcpy(r.ip_src, ip_guest, 4);
	memcpy(r.ip_dst, ip_host, 4);
	memcpy(r.dmac, tap_mac, 6);
	CHECK(answered(&r, &p));
	CHECK(common_ok(&p) && lease_ok(&p) && p.type == 5);
	CHECK(memcmp(p.ciaddr, ip_guest, 4) == 0);
	CHECK(memcmp(p.ip_dst, ip_guest, 4) == 0);
	CHECK(memcmp(p.dmac, vm_mac, 6) == 0);

	/* REBINDING: the same, broadcast */
	memcpy(r.ip_dst, ip_bcast, 4);
	memcpy(r.dmac, bcast, 6);
	CHECK(answered(&r, &p) && p.type == 5);

	/* an address the VM cannot hold */
	memcpy(r.ciaddr, ip_other, 4);
	CHECK(answered(&r, &p) && p.type == 6);

	/* sent to some other host */
	request(&r, NULL, NULL);
	memcpy(r.ip_dst, ip_other, 4);
	CHECK(dropped(&r, "host address"));
}

static void
test_bootp(void)
{
	struct rq	 r;
	struct rp	 p;

	conf_init();
	discover(&r);
	r.optlen = 0;
	r.cookie = 0;
	CHECK(answered(&r, &p));
	CHECK(common_ok(&p) && lease_ok(&p) && p.type == 0);
	CHECK(strcmp(p.codes, "\x01\x03\x06\x0c\xff") == 0);
	CHECK(p.bootp_len == 300);

	/* no vendor area at all */
	r.bootp_len = 236;
	CHECK(answered(&r, &p) && p.type == 0 && lease_ok(&p));

	/* a cookie and no options: BOOTP with RFC 1048 extensions */
	r.bootp_len = 0;
	r.cookie = 1;
	opt_add(&r, (const uint8_t *)"\xff", 1);
	CHECK(answered(&r, &p) && p.type == 0);

	/* BOOTP from a client that knows its address: vmd ignores it */
	memcpy(r.ciaddr, ip_guest, 4);
	CHECK(dropped(&r, "client address"));
}

static void
test_pxeboot_hostname(void)
{
	struct rq	 r;
	struct rp	 p;
	static const char *bad[] = { "-web", "web-", "a..b", ".web", "web.",
	    "we b", "_web", "web_" };
	size_t		 i;

	conf_init();
	conf.pxeboot = 1;
	discover(&r);
	CHECK(answered(&r, &p) && strcmp(p.file, "auto_install") == 0);
	request(&r, ip_other, NULL);
	CHECK(answered(&r, &p) && p.type == 6 && p.file[0] == '\0');

	conf_init();
	discover(&r);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(conf.hostname, sizeof(conf.hostname), "%s",
		    bad[i]);
		CHECK(answered(&r, &p) && p.hostname[0] == '\0' &&
		    strchr(p.codes, 12) == NULL);
	}
	(void)snprintf(conf.hostname, sizeof(conf.hostname),
	    "a.b-c.d_e.x%s", "0123456789012345678901234567890123456789");
	CHECK(answered(&r, &p) && strcmp(p.hostname, conf.hostname) == 0);
	/* a label of 64 characters */
	memset(conf.hostname, 'a', 64);
	conf.hostname[63] = '\0';
	CHECK(answered(&r, &p) && strcmp(p.hostname, conf.hostname) == 0);
	conf.hostname[0] = '\0';
	CHECK(answered(&r, &p) && strchr(p.codes, 12) == NULL);
	/* not terminated within its array */
	memset(conf.hostname, 'a', sizeof(conf.hostname));
	CHECK(answered(&r, &p) && strchr(p.codes, 12) == NULL);
}

/* Frames that are odd but valid. */
static void
test_lenient(void)
{
	struct rq	 r;
	struct rp	 p;

	conf_init();
	discover(&r);
	r.udp_sum = 0;
	CHECK(answered(&r, &p) && p.type == 2);

	discover(&r);
	r.udp_bad_sum = 1;
	CHECK(answer(&r, DHCP_CSUM_PARTIAL) > 0);

	discover(&r);
	r.trailer = 18;
	CHECK(answered(&r, &p) && p.type == 2);

	discover(&r);
	r.optlen = 0;
	opt_add(&r, (const uint8_t *)"\0\0\0\x35\x01\x01\xff\x35\x09", 9);
	CHECK(answered(&r, &p) && p.type == 2);

	discover(&r);
	r.bootp_len = 1400;
	CHECK(answered(&r, &p) && p.type == 2);
}

static void
test_foreign(void)
{
	struct rq	 r;

	conf_init();
	discover(&r);
	memcpy(r.smac, other_mac, 6);
	CHECK(dropped(&r, "VM's MAC"));
	discover(&r);
	memcpy(r.chaddr, other_mac, 6);
	CHECK(dropped(&r, "client address is not"));
	discover(&r);
	memcpy(r.dmac, other_mac, 6);
	CHECK(dropped(&r, "broadcast or the host MAC"));
	discover(&r);
	r.dport = 68;
	CHECK(dropped(&r, "port 67"));
	discover(&r);
	r.dport = 53;
	CHECK(dropped(&r, "port 67"));
	discover(&r);
	r.sport = 67;
	CHECK(dropped(&r, "port 68"));
	discover(&r);
	r.op = 2;
	CHECK(dropped(&r, "BOOTREQUEST"));
	discover(&r);
	r.hops = 1;
	CHECK(dropped(&r, "relayed"));
	discover(&r);
	memcpy(r.giaddr, ip_other, 4);
	CHECK(dropped(&r, "relayed"));
	discover(&r);
	(void)snprintf(r.file, sizeof(r.file), "bsd.rd");
	CHECK(dropped(&r, "boot file"));
	discover(&r);
	memcpy(r.ciaddr, ip_guest, 4);
	CHECK(dropped(&r, "client address"));
}

static void
test_message_types(void)
{
	struct rq	 r;
	int		 t;

	conf_init();
	for (t = 2; t < 256; t++) {
		if (t == 3)
			continue;
		discover(&r);
		r.opts[2] = (uint8_t)t;
		CHECK(dropped(&r, "not answered"));
	}
}

static void
test_bad_headers(void)
{
	struct rq	 r;

	conf_init();
	discover(&r);
	r.hlen = 5;
	CHECK(dropped(&r, "hardware address"));
	discover(&r);
	r.hlen = 16;
	CHECK(dropped(&r, "hardware address"));
	discover(&r);
	r.htype = 6;
	CHECK(dropped(&r, "hardware address"));
	discover(&r);
	r.ethertype = 0x8100;
	CHECK(dropped(&r, "not IPv4"));
	discover(&r);
	r.ethertype = 0x86dd;
	CHECK(dropped(&r, "not IPv4"));
	discover(&r);
	r.ip_vhl = 0x65;
	CHECK(dropped(&r, "IP header"));
	discover(&r);
	r.ip_vhl = 0x44;
	CHECK(dropped(&r, "IP header"));
	discover(&r);
	r.ip_vhl = 0x4f;	/* 60-byte header: the checksum fails */
	CHECK(dropped(&r, NULL));
	discover(&r);
	r.ip_p = 6;
	CHECK(dropped(&r, "not UDP"));
	discover(&r);
	r.ip_off = 0x2000;	/* more fragments */
	CHECK(dropped(&r, "fragment"));
	discover(&r);
	r.ip_off = 0x0001;
	CHECK(dropped(&r, "fragment"));
	discover(&r);
	r.ip_off = 0x4000;	/* don't fragment: fine */
	CHECK(answer(&r, 0) > 0);
	discover(&r);
	r.ip_bad_sum = 1;
	CHECK(dropped(&r, "IP checksum"));
	discover(&r);
	r.udp_bad_sum = 1;
	CHECK(dropped(&r, "UDP checksum"));
	discover(&r);
	r.ip_len_adj = 1;
	CHECK(dropped(&r, "IP length"));
	discover(&r);
	r.ip_len_adj = -(int)(8 + 300);
	CHECK(dropped(&r, "IP length"));
	discover(&r);
	r.udp_sum = 0;
	r.udp_len_adj = 1;
	CHECK(dropped(&r, "UDP length"));
	discover(&r);
	r.udp_sum = 0;
	r.udp_len_adj = -(int)(8 + 300) + 7;
	CHECK(dropped(&r, "UDP length"));
	discover(&r);
	r.udp_sum = 0;
	r.udp_len_adj = -65;	/* 235 bytes of BOOTP */
	CHECK(dropped(&r, "short BOOTP"));
}

static void
test_bad_options(void)
{
	struct rq	 r;

	conf_init();
	/* the last option runs past the end of the message */
	discover(&r);
	r.optlen = 0;
	r.bootp_len = 300;
	opt_add(&r, (const uint8_t *)"\x35\x01\x01", 3);
	memset(r.opts + 3, 0, 57);
	r.opts[57] = 12;
	r.opts[58] = 3;
	r.opts[59] = 'a';
	r.optlen = 60;
	CHECK(dropped(&r, "past the end"));
	/* a code as the very last byte */
	r.opts[57] = 0;
	r.opts[58] = 0;
	r.opts[59] = 12;
	CHECK(dropped(&r, "past the end"));
	/* a huge length early on */
	discover(&r);
	r.optlen = 0;
	opt_add(&r, (const uint8_t *)"\x0c\xff" "abc", 5);
	CHECK(dropped(&r, "past the end"));
	/* no end option: padding up to the end */
	discover(&r);
	r.optlen = 0;
	opt_add(&r, (const uint8_t *)"\x35\x01\x01", 3);
	CHECK(dropped(&r, "without an end"));
	discover(&r);
	r.opts[1] = 2;
	CHECK(dropped(&r, "message type"));
	discover(&r);
	r.opts[2] = 0;
	CHECK(dropped(&r, "message type"));
	discover(&r);
	r.optlen = 0;
	opt_add(&r, (const uint8_t *)"\x35\x01\x01\x35\x01\x03\xff", 7);
	CHECK(dropped(&r, "message type"));
	discover(&r);
	r.optlen = 0;
	opt_add(&r, (const uint8_t *)"\x35\x01\x03\x32\x03\x64\x40\x01\xff",
	    9);
	CHECK(dropped(&r, "requested address"));
	discover(&r);
	r.optlen = 0;
	opt_add(&r, (const uint8_t *)"\x35\x01\x03\x36\x05\x64\x40\x01\x02"
	    "\x00\xff", 11);
	CHECK(dropped(&r, "server identifier"));
}

/* Every truncation of a valid DISCOVER, and frames too long. */
static void
test_sizes(void)
{
	struct rq	 r;
	size_t		 len, n, answered_n = 0;

	conf_init();
	discover(&r);
	len = build(&r, frame);
	for (n = 0; n < len; n++) {
		why = NULL;
		if (dhcp_answer(&conf, frame, n, 0, out, sizeof(out), &why)
		    != 0 || why == NULL)
			answered_n++;
	}
	CHECK(answered_n == 0);
	CHECK(dhcp_answer(&conf, frame, len, 0, out, sizeof(out), &why) > 0);

	/* 1514 bytes is the most; with options up to there it is fine */
	discover(&r);
	r.bootp_len = 1514 - 42;
	CHECK(answer(&r, 0) > 0);
	r.bootp_len = 1514 - 42 + 1;
	CHECK(dropped(&r, "too long"));
	discover(&r);
	r.trailer = 2048 - 342 - 1;
	CHECK(dropped(&r, "too long"));

	/* the caller's buffer must hold any reply */
	discover(&r);
	len = build(&r, frame);
	CHECK(dhcp_answer(&conf, frame, len, 0, out, 341, &why) == 0);
	CHECK(dhcp_answer(&conf, frame, len, 0, NULL, 2048, &why) == 0);
	CHECK(dhcp_answer(&conf, NULL, len, 0, out, 2048, &why) == 0);
	CHECK(dhcp_answer(&conf, frame, len, 0, out, 2048, NULL) > 0);
}

/*
 * Random damage to a valid DISCOVER: whatever comes back is a well
 * formed frame to the VM.  (The libFuzzer target goes much further.)
 */
static void
test_random_damage(void)
{
	struct rq	 r;
	struct rp	 p;
	size_t		 len, n;
	int		 i, k, bad = 0;

	conf_init();
	srandom(1);
	discover(&r);
	len = build(&r, frame);
	for (i = 0; i < 20000; i++) {
		uint8_t	 f[FRAME_BUF];

		memcpy(f, frame, len);
		for (k = random() % 4; k >= 0; k--)
			f[random() % len] = (uint8_t)random();
		n = dhcp_answer(&conf, f, len, DHCP_CSUM_PARTIAL, out,
		    sizeof(out), &why);
		if (n > 0 && (decode(out, n, &p) != 0 ||
		    memcmp(p.smac, tap_mac, 6) != 0 ||
		    memcmp(p.chaddr, vm_mac, 6) != 0 ||
		    memcmp(p.ip_src, ip_host, 4) != 0 || p.op != 2))
			bad++;
	}
	CHECK(bad == 0);
}

int
main(void)
{
	RUN(test_discover_offer);
	RUN(test_golden_offer);
	RUN(test_discover_broadcast);
	RUN(test_request_ack);
	RUN(test_request_nak);
	RUN(test_request_renew);
	RUN(test_bootp);
	RUN(test_pxeboot_hostname);
	RUN(test_lenient);
	RUN(test_foreign);
	RUN(test_message_types);
	RUN(test_bad_headers);
	RUN(test_bad_options);
	RUN(test_sizes);
	RUN(test_random_damage);
	TEST_EXIT();
}
