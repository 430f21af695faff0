/*
 * dhcp.c: the DHCP/BOOTP responder of a local interface, as OpenBSD's
 * vmd runs it: one Ethernet frame the guest sent in, at most one reply
 * frame out.  It answers only the VM's own MAC, always with the same
 * lease (the guest side of the interface's /31, forever), the host side
 * as server, router and name server, the VM's name as host name and,
 * for "boot device net", the file name "auto_install".  There is no
 * state between frames: DISCOVER gets an OFFER, REQUEST an ACK (or a NAK
 * when it asks for another address), a BOOTP request a BOOTREPLY.
 *
 * Every byte comes from the guest.  The function reads only inside the
 * frame it is given, writes only inside the caller's buffer, allocates
 * nothing, does no I/O and costs time linear in a frame of at most
 * DHCP_FRAME_MAX bytes; anything malformed, truncated, oversized,
 * fragmented, relayed or foreign gets no answer, never an error.
 */

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net.h"

#define ETHER_HDR		14
#define ETHERTYPE_IPV4		0x0800
#define IP_HDR_MIN		20
#define IP_PROTO_UDP		17
#define REPLY_TOS		0x10	/* IPTOS_LOWDELAY as vmd */
#define REPLY_TTL		16	/* as vmd: stays on the link */
#define UDP_HDR			8
#define PORT_SERVER		67
#define PORT_CLIENT		68

/* BOOTP (RFC 951) with DHCP's options (RFC 2131, 2132) */
#define BOOTP_OP		0
#define BOOTP_HTYPE		1
#define BOOTP_HLEN		2
#define BOOTP_HOPS		3
#define BOOTP_XID		4
#define BOOTP_FLAGS		10
#define BOOTP_CIADDR		12
#define BOOTP_YIADDR		16
#define BOOTP_SIADDR		20
#define BOOTP_GIADDR		24
#define BOOTP_CHADDR		28
#define BOOTP_FILE		108
#define BOOTP_FILE_LEN		128
#define BOOTP_FIXED		236	/* up to the vendor area */
#define BOOTP_COOKIE		236
#define BOOTP_OPTIONS		240
#define BOOTP_MIN		300	/* a reply is padded to this */
#define BOOTP_FLAG_BROADCAST	0x8000

#define BOOTREQUEST		1
#define BOOTREPLY		2
#define HTYPE_ETHER		1

#define DHO_PAD			0
#define DHO_SUBNET_MASK		1
#define DHO_ROUTERS		3
#define DHO_DNS			6
#define DHO_HOST_NAME		12
#define DHO_REQUESTED_ADDRESS	50
#define DHO_LEASE_TIME		51
#define DHO_MESSAGE_TYPE	53
#define DHO_SERVER_ID		54
#define DHO_END			255

#define DHCPDISCOVER		1
#define DHCPOFFER		2
#define DHCPREQUEST		3
#define DHCPACK			5
#define DHCPNAK			6

#define HOSTNAME_LABEL_MAX	63

/* The longest reply: headers, fixed part, cookie and every option. */
#define REPLY_MAX	(ETHER_HDR + IP_HDR_MIN + UDP_HDR + BOOTP_OPTIONS + \
			 3 + 6 + 6 + 6 + 6 + 6 + 2 + DHCP_NAME_MAX + 1)

static const uint8_t	 cookie[4] = { 99, 130, 83, 99 };
static const uint8_t	 bcast_mac[NET_ETHER_LEN] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff
};

/* What the request asked, once it passed every check. */
struct dhcp_req {
	uint8_t		 type;		/* 0: plain BOOTP */
	int		 has_reqaddr;
	uint8_t		 reqaddr[4];
	int		 has_server;
	uint8_t		 server[4];
	uint8_t		 xid[4];
	uint8_t		 flags[2];
	uint8_t		 ciaddr[4];
};

static uint16_t
get16(const uint8_t *p)
{
	return ((uint16_t)(p[0] << 8 | p[1]));
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* The ones' complement sum of RFC 1071, not yet complemented. */
static uint32_t
sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t	 i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return (sum);
}

static uint16_t
fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ((uint16_t)~sum);
}

/* The UDP pseudo-header sum: addresses, protocol and UDP length. */
static uint32_t
pseudo(const uint8_t *src, const uint8_t *dst, size_t ulen)
{
	uint32_t	 sum;

	sum = sum16(src, 4, 0);
	sum = sum16(dst, 4, sum);
	return (sum + IP_PROTO_UDP + (uint32_t)ulen);
}

static int
is_zero(const uint8_t *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (p[i] != 0)
			return (0);
	return (1);
}

static int
alnum(int c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'));
}

/*
 * Whether a host name is fit to hand out, as res_hnok(3) judges it:
 * dot-separated labels of 1 to 63 characters, each starting and ending
 * with a letter or digit, with '-' and '_' allowed inside.
 */
static size_t
hostname_ok(const char *name)
{
	size_t	 len, i, label = 0;

	len = strnlen(name, DHCP_NAME_MAX);
	if (len == 0 || len >= DHCP_NAME_MAX)
		return (0);
	for (i = 0; i < len; i++) {
		int	 c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0 || !alnum(name[i - 1]))
				return (0);
			label = 0;
			continue;
		}
		if (label == 0 ? !alnum(c) :
		    !(alnum(c) || c == '-' || c == '_'))
			return (0);
		if (++label > HOSTNAME_LABEL_MAX)
			return (0);
	}
	if (!alnum(name[len - 1]))
		return (0);
	return (len);
}

/*
 * Walks the options after the magic cookie, keeping the message type,
 * the requested address and the server identifier.  Each step moves at
 * least one byte forward, so a frame's worth of options is a bounded
 * walk.  Returns NULL, or why the options are unusable.
 */
static const char *
parse_options(const uint8_t *opt, size_t len, struct dhcp_req *req)
{
	size_t	 i = 0, olen;

	while (i < len) {
		uint8_t	 code = opt[i];

		if (code == DHO_PAD) {
			i++;
			continue;
		}
		if (code == DHO_END)
			return (NULL);
		if (i + 1 >= len)
			return ("an option runs past the end");
		olen = opt[i + 1];
		if (i + 2 + olen > len)
			return ("an option runs past the end");
		switch (code) {
		case DHO_MESSAGE_TYPE:
			if (olen != 1 || req->type != 0 || opt[i + 2] == 0)
				return ("bad message type option");
			req->type = opt[i + 2];
			break;
		case DHO_REQUESTED_ADDRESS:
			if (olen != 4 || req->has_reqaddr)
				return ("bad requested address option");
			memcpy(req->reqaddr, opt + i + 2, 4);
			req->has_reqaddr = 1;
			break;
		case DHO_SERVER_ID:
			if (olen != 4 || req->has_server)
				return ("bad server identifier option");
			memcpy(req->server, opt + i + 2, 4);
			req->has_server = 1;
			break;
		}
		i += 2 + olen;
	}
	return ("options without an end");
}

/*
 * Checks the frame down to the BOOTP fixed part and the options.
 * Returns the BOOTP payload and its length in *plen, or NULL with the
 * reason in *why.
 */
static const uint8_t *
parse_request(const struct dhcp_conf *conf, const uint8_t *f, size_t len,
    int flags, struct dhcp_req *req, size_t *plen, const char **why)
{
	const uint8_t	*ip, *udp, *bp;
	size_t		 ihl, iplen, ulen;
	const char	*bad;

#define DROP(r)		do { *why = (r); return (NULL); } while (0)
	if (len < ETHER_HDR + IP_HDR_MIN + UDP_HDR + BOOTP_FIXED)
		DROP("too short");
	if (len > DHCP_FRAME_MAX)
		DROP("too long");
	if (memcmp(f, bcast_mac, NET_ETHER_LEN) != 0 &&
	    memcmp(f, conf->hostmac, NET_ETHER_LEN) != 0)
		DROP("not to the broadcast or the host MAC");
	if (memcmp(f + NET_ETHER_LEN, conf->mac, NET_ETHER_LEN) != 0)
		DROP("not from the VM's MAC");
	if (get16(f + 12) != ETHERTYPE_IPV4)
		DROP("not IPv4");

	ip = f + ETHER_HDR;
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	iplen = get16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < IP_HDR_MIN)
		DROP("bad IP header");
	if (iplen < ihl + UDP_HDR || iplen > len - ETHER_HDR)
		DROP("bad IP length");
	if (get16(ip + 6) & 0x3fff)
		DROP("IP fragment");
	if (ip[9] != IP_PROTO_UDP)
		DROP("not UDP");
	if (fold(sum16(ip, ihl, 0)) != 0)
		DROP("bad IP checksum");
	if (memcmp(ip + 16, "\xff\xff\xff\xff", 4) != 0 &&
	    memcmp(ip + 16, &conf->host.s_addr, 4) != 0)
		DROP("not to the broadcast or the host address");

	udp = ip + ihl;
	ulen = get16(udp + 4);
	if (get16(udp) != PORT_CLIENT || get16(udp + 2) != PORT_SERVER)
		DROP("not from port 68 to port 67");
	if (ulen < UDP_HDR || ulen > iplen - ihl)
		DROP("bad UDP length");

	bp = udp + UDP_HDR;
	*plen = ulen - UDP_HDR;
	if (*plen < BOOTP_FIXED)
		DROP("short BOOTP message");
	if (bp[BOOTP_OP] != BOOTREQUEST)
		DROP("not a BOOTREQUEST");
	if (bp[BOOTP_HTYPE] != HTYPE_ETHER || bp[BOOTP_HLEN] != NET_ETHER_LEN)
		DROP("not an Ethernet hardware address");
	if (memcmp(bp + BOOTP_CHADDR, conf->mac, NET_ETHER_LEN) != 0)
		DROP("client address is not the VM's MAC");
	if (bp[BOOTP_HOPS] != 0 || !is_zero(bp + BOOTP_GIADDR, 4))
		DROP("relayed");
	/* as vmd: a client that names its boot file is not ours to serve */
	if (bp[BOOTP_FILE] != '\0')
		DROP("asks for a boot file");
	/* last, as the dearest check: only our client's requests pay it */
	if (get16(udp + 6) != 0 && !(flags & DHCP_CSUM_PARTIAL) &&
	    fold(sum16(udp, ulen, pseudo(ip + 12, ip + 16, ulen))) != 0)
		DROP("bad UDP checksum");

	memset(req, 0, sizeof(*req));
	memcpy(req->xid, bp + BOOTP_XID, 4);
	memcpy(req->flags, bp + BOOTP_FLAGS, 2);
	memcpy(req->ciaddr, bp + BOOTP_CIADDR, 4);
	/* without the cookie, the vendor area is BOOTP's, not options */
	if (*plen >= BOOTP_OPTIONS &&
	    memcmp(bp + BOOTP_COOKIE, cookie, sizeof(cookie)) == 0 &&
	    (bad = parse_options(bp + BOOTP_OPTIONS, *plen - BOOTP_OPTIONS,
	    req)) != NULL)
		DROP(bad);
	return (bp);
#undef DROP
}

static size_t
put_opt(uint8_t *p, uint8_t code, const void *val, size_t len)
{
	p[0] = code;
	p[1] = (uint8_t)len;
	memcpy(p + 2, val, len);
	return (2 + len);
}

/*
 * Answers one frame the guest sent: returns the length of the reply
 * built in out (which must not overlap the frame), or 0 for no answer,
 * with the reason in *why when why is not NULL.
 */
size_t
dhcp_answer(const struct dhcp_conf *conf, const uint8_t *frame, size_t len,
    int flags, uint8_t *out, size_t outlen, const char **why)
{
	static const uint8_t	 forever[4] = { 0xff, 0xff, 0xff, 0xff };
	struct dhcp_req		 req;
	const uint8_t		*dst_ip;
	const char		*reason = NULL;
	uint8_t			*ip, *udp, *bp, *opt, type;
	size_t			 plen, o, namelen, blen, ulen;
	uint32_t		 sum;
	int			 bcast;

	if (why == NULL)
		why = &reason;
	*why = NULL;
	if (frame == NULL || out == NULL)
		return (0);
	if (parse_request(conf, frame, len, flags, &req, &plen, why) == NULL)
		return (0);
	if (outlen < REPLY_MAX) {
		*why = "reply buffer too small";
		return (0);
	}

	/*
	 * No state: the reply follows from the request alone.  A renewing
	 * client (ciaddr set) gets its ACK only for the one address it may
	 * hold; vmd ignores renewals, which only works with an infinite
	 * lease that no client ever renews.
	 */
	switch (req.type) {
	case 0:
		if (!is_zero(req.ciaddr, 4)) {
			*why = "BOOTP request with a client address";
			return (0);
		}
		type = 0;
		break;
	case DHCPDISCOVER:
		if (!is_zero(req.ciaddr, 4)) {
			*why = "DISCOVER with a client address";
			return (0);
		}
		type = DHCPOFFER;
		break;
	case DHCPREQUEST:
		if (req.has_server &&
		    memcmp(req.server, &conf->host.s_addr, 4) != 0) {
			*why = "REQUEST for another server";
			return (0);
		}
		if (!is_zero(req.ciaddr, 4))
			type = memcmp(req.ciaddr, &conf->guest.s_addr, 4) == 0 ?
			    DHCPACK : DHCPNAK;
		else if (!req.has_reqaddr ||
		    memcmp(req.reqaddr, &conf->guest.s_addr, 4) == 0)
			type = DHCPACK;
		else
			type = DHCPNAK;
		break;
	default:
		/* DECLINE, RELEASE, INFORM and server messages */
		*why = "message type not answered";
		return (0);
	}

	/*
	 * Where the reply goes (RFC 2131 4.1): a NAK and a reply to a
	 * client that asked for broadcast go to 255.255.255.255, a renewal
	 * to its ciaddr, anything else to the address being handed out,
	 * on the guest's MAC.
	 */
	memset(out, 0, REPLY_MAX);
	bcast = type == DHCPNAK || (req.flags[0] & (BOOTP_FLAG_BROADCAST >> 8));
	if (bcast)
		dst_ip = forever;
	else if (!is_zero(req.ciaddr, 4))
		dst_ip = req.ciaddr;
	else
		dst_ip = (const uint8_t *)&conf->guest.s_addr;

	bp = out + ETHER_HDR + IP_HDR_MIN + UDP_HDR;
	bp[BOOTP_OP] = BOOTREPLY;
	bp[BOOTP_HTYPE] = HTYPE_ETHER;
	bp[BOOTP_HLEN] = NET_ETHER_LEN;
	memcpy(bp + BOOTP_XID, req.xid, 4);
	memcpy(bp + BOOTP_FLAGS, req.flags, 2);
	memcpy(bp + BOOTP_CIADDR, req.ciaddr, 4);
	if (type != DHCPNAK) {
		memcpy(bp + BOOTP_YIADDR, &conf->guest.s_addr, 4);
		memcpy(bp + BOOTP_SIADDR, &conf->host.s_addr, 4);
		if (conf->pxeboot)
			memcpy(bp + BOOTP_FILE, "auto_install",
			    sizeof("auto_install"));
	}
	memcpy(bp + BOOTP_CHADDR, conf->mac, NET_ETHER_LEN);
	memcpy(bp + BOOTP_COOKIE, cookie, sizeof(cookie));

	opt = bp + BOOTP_OPTIONS;
	o = 0;
	if (type != 0) {
		o += put_opt(opt + o, DHO_MESSAGE_TYPE, &type, 1);
		if (type != DHCPNAK)
			o += put_opt(opt + o, DHO_LEASE_TIME, forever, 4);
		o += put_opt(opt + o, DHO_SERVER_ID, &conf->host.s_addr, 4);
	}
	if (type != DHCPNAK) {
		o += put_opt(opt + o, DHO_SUBNET_MASK, &conf->netmask.s_addr,
		    4);
		o += put_opt(opt + o, DHO_ROUTERS, &conf->host.s_addr, 4);
		o += put_opt(opt + o, DHO_DNS, &conf->host.s_addr, 4);
		if ((namelen = hostname_ok(conf->hostname)) > 0)
			o += put_opt(opt + o, DHO_HOST_NAME, conf->hostname,
			    namelen);
	}
	opt[o++] = DHO_END;
	blen = BOOTP_OPTIONS + o;
	if (blen < BOOTP_MIN)
		blen = BOOTP_MIN;
	ulen = UDP_HDR + blen;

	memcpy(out, bcast ? bcast_mac : conf->mac, NET_ETHER_LEN);
	memcpy(out + NET_ETHER_LEN, conf->hostmac, NET_ETHER_LEN);
	put16(out + 12, ETHERTYPE_IPV4);

	ip = out + ETHER_HDR;
	ip[0] = 0x45;
	ip[1] = REPLY_TOS;
	put16(ip + 2, (uint16_t)(IP_HDR_MIN + ulen));
	ip[8] = REPLY_TTL;
	ip[9] = IP_PROTO_UDP;
	memcpy(ip + 12, &conf->host.s_addr, 4);
	memcpy(ip + 16, dst_ip, 4);
	put16(ip + 10, fold(sum16(ip, IP_HDR_MIN, 0)));

	udp = ip + IP_HDR_MIN;
	put16(udp, PORT_SERVER);
	put16(udp + 2, PORT_CLIENT);
	put16(udp + 4, (uint16_t)ulen);
	sum = fold(sum16(udp, ulen, pseudo(ip + 12, ip + 16, ulen)));
	put16(udp + 6, sum == 0 ? 0xffff : (uint16_t)sum);

	return (ETHER_HDR + IP_HDR_MIN + ulen);
}
