/*
 * net.c: the test guest's network protocols over vnet.c: Ethernet, ARP
 * (answering for its address, resolving a peer), IPv4 with ICMP echo
 * answered, UDP, a DHCP client (DISCOVER, OFFER, REQUEST, ACK, with the
 * lease and its options printed) and the netbench mode.  Interfaces come
 * up with DHCP, or statically from ip=CLIENT:SERVER:GATEWAY:NETMASK for
 * the first one; while the guest waits, net_poll_all() runs from the
 * wait hook.  It must never read past a received frame, answer for an
 * address it does not hold, or send anything but to its own link.
 */

#include "guest.h"

#define ETH_HLEN		14
#define ETH_MAX			1514
#define ETH_IP			0x0800
#define ETH_ARP			0x0806
#define IP_HLEN			20
#define IP_ICMP			1
#define IP_UDP			17
#define UDP_HLEN		8
#define DHCP_SPORT		68
#define DHCP_DPORT		67
#define DHCP_FIXED		240	/* BOOTP header and magic cookie */
#define DHCP_MIN		300
#define DHCP_MAGIC		0x63825363U
#define DHCP_RETRY_TICKS	(PIT_HZ * 2)
#define DHCP_TRIES		15
#define BENCH_PORT		5001
#define BENCH_PAYLOAD		(ETH_MAX - ETH_HLEN - IP_HLEN - UDP_HLEN)
#define BENCH_US		2000000
#define RX_BURST		256	/* a whole ring: no frame waits for a tick */
#define NARP			8

enum { DHCP_OFF, DHCP_SELECTING, DHCP_REQUESTING, DHCP_BOUND,
    DHCP_FAILED };

enum { DHCPDISCOVER = 1, DHCPOFFER, DHCPREQUEST, DHCPDECLINE, DHCPACK,
    DHCPNAK };

struct netif {
	struct vnet	*v;
	int		 up;
	int		 is_static;
	uint32_t	 ip, mask, gw, server, dns;
	uint32_t	 lease;
	int		 has_lease;
	char		 hostname[64];
	int		 dstate;
	int		 verbose;	/* print every option of the ACK */
	uint32_t	 xid;
	uint32_t	 offer_ip, offer_server;
	int		 tries;
	uint64_t	 next_tick;
	struct {
		uint32_t	ip;
		uint8_t		mac[6];
	}		 arp[NARP];
	int		 arp_next;
	/* netbench receive side */
	int		 brx_on;
	uint64_t	 brx_pkts, brx_first, brx_last;
};

static const uint8_t	bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ping mode: the echo request in flight and its answer */
#define PING_ID			0x766d	/* "vm" */
#define PING_COUNT		20
#define PING_DATA		56
static uint16_t		ping_seq;
static int		ping_got;
static uint64_t		ping_t1;
static struct netif	ifs[VNET_MAX];
static int		nifs;
static int		net_probed;

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint16_t
csum(const uint8_t *p, int len)
{
	uint32_t s = 0;
	int i;

	for (i = 0; i + 1 < len; i += 2)
		s += get16(p + i);
	if (len & 1)
		s += p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

static const char *
ifname(const struct netif *ni)
{
	static char name[8] = "vio0";

	name[3] = '0' + ni->v->index;
	return name;
}

static void
print_mac(const uint8_t *m)
{
	kprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
	    m[4], m[5]);
}

static int
prefix_len(uint32_t mask)
{
	int n = 0;

	while (mask & 0x80000000U) {
		n++;
		mask <<= 1;
	}
	return n;
}

/* Ethernet and IPv4 headers; returns where the IP payload goes. */
static uint8_t *
ip_frame(struct netif *ni, uint8_t *f, const uint8_t *dmac, uint32_t dst,
    uint8_t proto, uint32_t plen)
{
	uint8_t *ip = f + ETH_HLEN;

	memcpy(f, dmac, 6);
	memcpy(f + 6, ni->v->mac, 6);
	put16(f + 12, ETH_IP);
	memset(ip, 0, IP_HLEN);
	ip[0] = 0x45;
	put16(ip + 2, IP_HLEN + plen);
	ip[6] = 0x40;			/* don't fragment */
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, ni->ip);
	put32(ip + 16, dst);
	put16(ip + 10, csum(ip, IP_HLEN));
	return ip + IP_HLEN;
}

/* UDP header in front of plen payload bytes at u + UDP_HLEN. */
static void
udp_hdr(uint8_t *u, uint16_t sport, uint16_t dport, uint32_t plen)
{
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, UDP_HLEN + plen);
	put16(u + 6, 0);		/* no checksum: allowed over IPv4 */
}

static void
arp_send(struct netif *ni, int op, const uint8_t *dmac, const uint8_t *tha,
    uint32_t tpa)
{
	uint8_t *f, *a;
	uint16_t slot;

	if ((f = vnet_tx_buf(ni->v, &slot)) == NULL)
		return;
	memcpy(f, dmac, 6);
	memcpy(f + 6, ni->v->mac, 6);
	put16(f + 12, ETH_ARP);
	a = f + ETH_HLEN;
	put16(a, 1);
	put16(a + 2, ETH_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, ni->v->mac, 6);
	put32(a + 14, ni->ip);
	memcpy(a + 18, tha, 6);
	put32(a + 24, tpa);
	/* Pad to the Ethernet minimum. */
	memset(f + ETH_HLEN + 28, 0, 60 - ETH_HLEN - 28);
	vnet_tx_send(ni->v, slot, 60);
}

static void
arp_learn(struct netif *ni, uint32_t ip, const uint8_t *mac)
{
	int i;

	for (i = 0; i < NARP; i++)
		if (ni->arp[i].ip == ip)
			break;
	if (i == NARP) {
		i = ni->arp_next;
		ni->arp_next = (ni->arp_next + 1) % NARP;
	}
	ni->arp[i].ip = ip;
	memcpy(ni->arp[i].mac, mac, 6);
}

static const uint8_t *
arp_lookup(struct netif *ni, uint32_t ip)
{
	int i;

	for (i = 0; i < NARP; i++)
		if (ni->arp[i].ip == ip && ip != 0)
			return ni->arp[i].mac;
	return NULL;
}

static void
arp_input(struct netif *ni, const uint8_t *a, uint32_t len)
{
	uint32_t spa, tpa;

	if (len < 28 || get16(a) != 1 || get16(a + 2) != ETH_IP ||
	    a[4] != 6 || a[5] != 4 || ni->ip == 0)
		return;
	spa = get32(a + 14);
	tpa = get32(a + 24);
	if (tpa != ni->ip)
		return;
	if (spa != 0)
		arp_learn(ni, spa, a + 8);
	if (get16(a + 6) == 1)
		arp_send(ni, 2, a + 8, a + 8, spa);
}

/* Echo reply built from the request, in place in a transmit buffer. */
static void
icmp_echo(struct netif *ni, const uint8_t *f, uint32_t len)
{
	const uint8_t *ip = f + ETH_HLEN;
	uint32_t ihl = (ip[0] & 0x0f) * 4, tot = get16(ip + 2), s;
	uint8_t *r, *ic;
	uint16_t slot;

	if (tot < ihl + 8 || ETH_HLEN + tot > len)
		return;
	if ((r = vnet_tx_buf(ni->v, &slot)) == NULL)
		return;
	memcpy(r, f, ETH_HLEN + tot);
	memcpy(r, f + 6, 6);
	memcpy(r + 6, ni->v->mac, 6);
	memcpy(r + ETH_HLEN + 12, ip + 16, 4);
	memcpy(r + ETH_HLEN + 16, ip + 12, 4);
	r[ETH_HLEN + 8] = 64;
	put16(r + ETH_HLEN + 10, 0);
	put16(r + ETH_HLEN + 10, csum(r + ETH_HLEN, ihl));
	ic = r + ETH_HLEN + ihl;
	ic[0] = 0;
	/* RFC 1624: the type word went from 0x0800 to 0x0000. */
	s = (~get16(ic + 2) & 0xffff) + (~0x0800 & 0xffff);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	put16(ic + 2, ~s & 0xffff);
	vnet_tx_send(ni->v, slot, ETH_HLEN + tot < 60 ? 60 : ETH_HLEN + tot);
}

/*
 * Walks DHCP options: calls fn for each (code, data, len); bounded by
 * the packet, a truncated option ends the walk.  Returns the message
 * type (option 53) or 0.
 */
static int
dhcp_options(const uint8_t *o, uint32_t len,
    void (*fn)(struct netif *, int, const uint8_t *, int), struct netif *ni)
{
	uint32_t i = 0;
	int type = 0, code, l;

	while (i < len) {
		code = o[i++];
		if (code == 0)
			continue;
		if (code == 255 || i >= len)
			break;
		l = o[i++];
		if (i + l > len)
			break;
		if (code == 53 && l == 1)
			type = o[i];
		if (fn != NULL)
			fn(ni, code, o + i, l);
		i += l;
	}
	return type;
}

static void
print_ips(const uint8_t *d, int l)
{
	char buf[16];
	int i;

	for (i = 0; i + 4 <= l; i += 4)
		kprintf(" %s", ipv4_str(get32(d + i), buf));
}

static void
print_text(const uint8_t *d, int l)
{
	int i;

	kprintf(" '");
	for (i = 0; i < l && d[i] != '\0'; i++)
		kprintf("%c", d[i] >= 0x20 && d[i] < 0x7f ? d[i] : '.');
	kprintf("'");
}

/* Takes what the ACK says, printing each option when verbose. */
static void
ack_option(struct netif *ni, int code, const uint8_t *d, int l)
{
	int i, n;

	switch (code) {
	case 1:
		if (l == 4)
			ni->mask = get32(d);
		break;
	case 3:
		if (l >= 4)
			ni->gw = get32(d);
		break;
	case 6:
		if (l >= 4)
			ni->dns = get32(d);
		break;
	case 12:
		n = l < (int)sizeof(ni->hostname) - 1 ? l :
		    (int)sizeof(ni->hostname) - 1;
		for (i = 0; i < n; i++)
			ni->hostname[i] = d[i] >= 0x20 && d[i] < 0x7f ?
			    d[i] : '.';
		ni->hostname[n] = '\0';
		break;
	case 51:
		if (l == 4) {
			ni->lease = get32(d);
			ni->has_lease = 1;
		}
		break;
	case 54:
		if (l == 4)
			ni->server = get32(d);
		break;
	}
	if (!ni->verbose)
		return;
	kprintf("dhcp: %s option %d", ifname(ni), code);
	switch (code) {
	case 1:
		kprintf(" subnet mask");
		print_ips(d, l);
		break;
	case 3:
		kprintf(" router");
		print_ips(d, l);
		break;
	case 6:
		kprintf(" dns");
		print_ips(d, l);
		break;
	case 12:
		kprintf(" host name");
		print_text(d, l);
		break;
	case 15:
		kprintf(" domain name");
		print_text(d, l);
		break;
	case 28:
		kprintf(" broadcast");
		print_ips(d, l);
		break;
	case 51:
	case 58:
	case 59:
		kprintf(code == 51 ? " lease time" : code == 58 ?
		    " renewal time" : " rebinding time");
		if (l == 4 && get32(d) == 0xffffffffU)
			kprintf(" infinite");
		else if (l == 4)
			kprintf(" %u s", get32(d));
		break;
	case 53:
		kprintf(" message type %u", l ? d[0] : 0);
		break;
	case 54:
		kprintf(" server id");
		print_ips(d, l);
		break;
	case 67:
		kprintf(" boot file");
		print_text(d, l);
		break;
	default:
		kprintf(" (%d bytes)", l);
		for (i = 0; i < l && i < 16; i++)
			kprintf(" %02x", d[i]);
		break;
	}
	kprintf("\n");
}

static void
dhcp_send(struct netif *ni, int type)
{
	uint8_t *f, *u, *d, *o;
	uint16_t slot;
	uint32_t saved = ni->ip;

	if ((f = vnet_tx_buf(ni->v, &slot)) == NULL)
		return;
	ni->ip = 0;
	u = ip_frame(ni, f, bcast, 0xffffffffU, IP_UDP, UDP_HLEN + DHCP_MIN);
	ni->ip = saved;
	udp_hdr(u, DHCP_SPORT, DHCP_DPORT, DHCP_MIN);
	d = u + UDP_HLEN;
	memset(d, 0, DHCP_MIN);
	d[0] = 1;			/* BOOTREQUEST */
	d[1] = 1;
	d[2] = 6;
	put32(d + 4, ni->xid);
	put16(d + 8, (uint16_t)(ni->tries * 2));
	put16(d + 10, 0x8000);		/* answer by broadcast */
	memcpy(d + 28, ni->v->mac, 6);
	put32(d + 236, DHCP_MAGIC);
	o = d + DHCP_FIXED;
	*o++ = 53;
	*o++ = 1;
	*o++ = type;
	*o++ = 61;			/* client id: type 1, the MAC */
	*o++ = 7;
	*o++ = 1;
	memcpy(o, ni->v->mac, 6);
	o += 6;
	if (type == DHCPREQUEST) {
		*o++ = 50;
		*o++ = 4;
		put32(o, ni->offer_ip);
		o += 4;
		*o++ = 54;
		*o++ = 4;
		put32(o, ni->offer_server);
		o += 4;
	}
	*o++ = 55;			/* what we would like to hear */
	*o++ = 8;
	*o++ = 1;
	*o++ = 3;
	*o++ = 6;
	*o++ = 12;
	*o++ = 15;
	*o++ = 28;
	*o++ = 51;
	*o++ = 54;
	*o++ = 255;
	vnet_tx_send(ni->v, slot, ETH_HLEN + IP_HLEN + UDP_HLEN + DHCP_MIN);
	ni->next_tick = ticks_now() + DHCP_RETRY_TICKS;
}

static void
dhcp_start(struct netif *ni)
{
	ni->xid = (uint32_t)rdtsc() ^ ((uint32_t)ni->v->mac[5] << 24);
	ni->dstate = DHCP_SELECTING;
	ni->tries = 0;
	ni->ip = 0;
	svc_need_tick = 1;
	dhcp_send(ni, DHCPDISCOVER);
}

static void
show_lease(struct netif *ni, const char *how)
{
	char a[16], b[16];

	kprintf("%s %s %s/%d", how, ifname(ni), ipv4_str(ni->ip, a),
	    prefix_len(ni->mask));
	if (ni->gw)
		kprintf(" router %s", ipv4_str(ni->gw, a));
	if (ni->dns)
		kprintf(" dns %s", ipv4_str(ni->dns, a));
	if (ni->server)
		kprintf(" server %s", ipv4_str(ni->server, b));
	if (ni->has_lease && ni->lease == 0xffffffffU)
		kprintf(" lease infinite");
	else if (ni->has_lease)
		kprintf(" lease %u s", ni->lease);
	if (ni->hostname[0])
		kprintf(" host name %s", ni->hostname);
}

static void
dhcp_input(struct netif *ni, const uint8_t *d, uint32_t len)
{
	char a[16], b[16];
	int type, i;

	if (len < DHCP_FIXED || d[0] != 2 || get32(d + 4) != ni->xid ||
	    memcmp(d + 28, ni->v->mac, 6) != 0 ||
	    get32(d + 236) != DHCP_MAGIC)
		return;
	type = dhcp_options(d + DHCP_FIXED, len - DHCP_FIXED, NULL, ni);
	if (ni->dstate == DHCP_SELECTING && type == DHCPOFFER) {
		ni->offer_ip = get32(d + 16);
		ni->offer_server = 0;
		ni->server = 0;
		/* The server id, without printing the offer's options. */
		i = ni->verbose;
		ni->verbose = 0;
		dhcp_options(d + DHCP_FIXED, len - DHCP_FIXED, ack_option, ni);
		ni->verbose = i;
		ni->offer_server = ni->server ? ni->server : get32(d + 20);
		if (ni->verbose)
			kprintf("dhcp: %s offer %s from %s\n", ifname(ni),
			    ipv4_str(ni->offer_ip, a),
			    ipv4_str(ni->offer_server, b));
		ni->dstate = DHCP_REQUESTING;
		ni->tries = 0;
		dhcp_send(ni, DHCPREQUEST);
	} else if (ni->dstate == DHCP_REQUESTING && type == DHCPACK) {
		ni->mask = ni->gw = ni->dns = ni->server = 0;
		ni->has_lease = 0;
		ni->hostname[0] = '\0';
		dhcp_options(d + DHCP_FIXED, len - DHCP_FIXED, ack_option, ni);
		ni->ip = get32(d + 16);
		if (ni->server == 0)
			ni->server = ni->offer_server;
		if (ni->mask == 0)
			ni->mask = 0xffffff00U;
		if (ni->verbose && d[108] != '\0') {
			kprintf("dhcp: %s file", ifname(ni));
			print_text(d + 108, 128);
			kprintf("\n");
		}
		ni->dstate = DHCP_BOUND;
		ni->up = 1;
		if (!ni->verbose) {
			show_lease(ni, "net:");
			kprintf(" (dhcp)\n");
		}
	} else if (ni->dstate == DHCP_REQUESTING && type == DHCPNAK) {
		kprintf("note: dhcp: %s NAK, starting over\n", ifname(ni));
		dhcp_start(ni);
	}
}

static void
udp_input(struct netif *ni, const uint8_t *ip, uint32_t ihl, uint32_t tot)
{
	const uint8_t *u = ip + ihl;
	uint32_t ulen;
	uint16_t dport;

	if (tot < ihl + UDP_HLEN)
		return;
	ulen = get16(u + 4);
	if (ulen < UDP_HLEN || ihl + ulen > tot)
		return;
	dport = get16(u + 2);
	if (dport == DHCP_SPORT && get16(u) == DHCP_DPORT)
		dhcp_input(ni, u + UDP_HLEN, ulen - UDP_HLEN);
}

static void
net_input(void *arg, const uint8_t *f, uint32_t len)
{
	struct netif *ni = arg;
	const uint8_t *ip;
	uint32_t ihl, tot, dst;

	/* The netbench receive phase counts, and no more, per frame. */
	if (ni->brx_on && len == ETH_MAX && f[23] == IP_UDP &&
	    f[36] == (BENCH_PORT >> 8) && f[37] == (BENCH_PORT & 0xff)) {
		ni->brx_pkts++;
		return;
	}
	if (len < ETH_HLEN)
		return;
	if (get16(f + 12) == ETH_ARP) {
		arp_input(ni, f + ETH_HLEN, len - ETH_HLEN);
		return;
	}
	if (get16(f + 12) != ETH_IP || len < ETH_HLEN + IP_HLEN)
		return;
	ip = f + ETH_HLEN;
	ihl = (ip[0] & 0x0f) * 4;
	tot = get16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < IP_HLEN || tot < ihl ||
	    ETH_HLEN + tot > len || (get16(ip + 6) & 0x3fff) != 0)
		return;
	dst = get32(ip + 16);
	if (dst != ni->ip && dst != 0xffffffffU &&
	    !(ni->ip && ni->mask && dst == (ni->ip | ~ni->mask)))
		return;
	if (ip[9] == IP_ICMP && dst == ni->ip && ni->ip != 0 &&
	    tot >= ihl + 8 && ip[ihl] == 8 && ip[ihl + 1] == 0)
		icmp_echo(ni, f, len);
	else if (ip[9] == IP_ICMP && dst == ni->ip && ni->ip != 0 &&
	    tot >= ihl + 8 && ip[ihl] == 0 && ip[ihl + 1] == 0 &&
	    get16(ip + ihl + 4) == PING_ID &&
	    get16(ip + ihl + 6) == ping_seq && !ping_got) {
		ping_t1 = rdtsc();
		ping_got = 1;
	}
	else if (ip[9] == IP_UDP)
		udp_input(ni, ip, ihl, tot);
}

static void
dhcp_timer(struct netif *ni)
{
	int any = 0, i;

	if ((ni->dstate == DHCP_SELECTING || ni->dstate == DHCP_REQUESTING) &&
	    ticks_now() >= ni->next_tick) {
		if (++ni->tries >= DHCP_TRIES) {
			ni->dstate = DHCP_FAILED;
			kprintf("note: dhcp: %s: no lease after %d tries\n",
			    ifname(ni), DHCP_TRIES);
		} else
			dhcp_send(ni, ni->dstate == DHCP_SELECTING ?
			    DHCPDISCOVER : DHCPREQUEST);
	}
	for (i = 0; i < nifs; i++)
		if (ifs[i].dstate == DHCP_SELECTING ||
		    ifs[i].dstate == DHCP_REQUESTING)
			any = 1;
	svc_need_tick = any;
}

/* Handles what arrived on one interface, a bounded burst at a time. */
static void
net_poll(struct netif *ni)
{
	uint64_t before = ni->brx_pkts;

	vnet_rx_burst(ni->v, RX_BURST, net_input, ni);
	/* Bench timestamps per burst, not per frame: rdtsc is slow here. */
	if (ni->brx_pkts != before) {
		ni->brx_last = rdtsc();
		if (before == 0)
			ni->brx_first = ni->brx_last;
	}
	vnet_tx_reclaim(ni->v);
	dhcp_timer(ni);
}

void
net_poll_all(void)
{
	int i;

	for (i = 0; i < nifs; i++)
		net_poll(&ifs[i]);
}

/* Opens every NIC once; returns how many there are. */
static int
net_probe(void)
{
	const char *why;
	struct vnet *v;

	if (net_probed)
		return nifs;
	net_probed = 1;
	while (nifs < VNET_MAX) {
		if ((v = vnet_open(nifs, &why)) == NULL) {
			if (!streq(why, "no such virtio device"))
				kprintf("note: vio%d: %s\n", nifs, why);
			break;
		}
		ifs[nifs].v = v;
		nifs++;
	}
	return nifs;
}

/*
 * Brings every NIC up: the first one statically if ip= gave it an
 * address, the others (and it, otherwise) through DHCP, which goes on
 * in the background: this returns at once.
 */
void
net_up(struct guest *g)
{
	struct netif *ni;
	int i;

	net_probe();
	for (i = 0; i < nifs; i++) {
		ni = &ifs[i];
		if (ni->up || ni->dstate == DHCP_SELECTING ||
		    ni->dstate == DHCP_REQUESTING)
			continue;
		kprintf("net: %s ", ifname(ni));
		print_mac(ni->v->mac);
		kprintf(" link %s\n", vnet_link(ni->v) == 0 ? "down" : "up");
		if (i == 0 && g->ip_set) {
			ni->ip = g->ip;
			ni->server = g->ip_server;
			ni->gw = g->ip_gw;
			ni->mask = g->ip_mask ? g->ip_mask : 0xffffff00U;
			ni->is_static = 1;
			ni->up = 1;
			show_lease(ni, "net:");
			kprintf(" (static)\n");
		} else
			dhcp_start(ni);
	}
}

static struct netif	*wait_ni;

static int
dhcp_settled(void)
{
	net_poll_all();
	return wait_ni->dstate == DHCP_BOUND || wait_ni->dstate == DHCP_FAILED;
}

void
check_dhcp(struct guest *g)
{
	struct netif *ni;
	uint32_t irq0;

	if (net_probe() == 0) {
		kprintf("FAIL dhcp: no virtio-net device\n");
		return;
	}
	ni = &ifs[0];
	irq0 = ni->v->vd->irqs;
	ni->verbose = 1;
	ni->up = 0;
	kprintf("dhcp: %s ", ifname(ni));
	print_mac(ni->v->mac);
	kprintf(" discover\n");
	dhcp_start(ni);
	wait_ni = ni;
	wait_until(dhcp_settled, DHCP_TRIES * 2000 + 1000);
	ni->verbose = 0;
	if (ni->dstate != DHCP_BOUND) {
		kprintf("FAIL dhcp: %s: no lease (%s)\n", ifname(ni),
		    ni->dstate == DHCP_REQUESTING ? "no ACK" : "no OFFER");
		ni->dstate = DHCP_FAILED;
		return;
	}
	if (!virtio_irq_seen(ni->v->vd, irq0)) {
		kprintf("FAIL dhcp: packets arrived without an interrupt\n");
		return;
	}
	show_lease(ni, "PASS dhcp:");
	kprintf(", %u interrupts (%s)\n", ni->v->vd->irqs - irq0,
	    virtio_intr_name(ni->v->vd));
}

static uint32_t	 arp_want;

static int
arp_known(void)
{
	net_poll_all();
	return arp_lookup(wait_ni, arp_want) != NULL;
}

static int
if_settled(void)
{
	net_poll_all();
	return wait_ni->up || wait_ni->dstate == DHCP_FAILED;
}

/* A netbench frame to the peer: Ethernet, IPv4, UDP, filler. */
static void
bench_frame(struct netif *ni, uint8_t *f, const uint8_t *dmac, uint32_t dst)
{
	uint8_t *u;

	u = ip_frame(ni, f, dmac, dst, IP_UDP, UDP_HLEN + BENCH_PAYLOAD);
	udp_hdr(u, BENCH_PORT, BENCH_PORT, BENCH_PAYLOAD);
	memset(u + UDP_HLEN, 'v', BENCH_PAYLOAD);
}

static void
bench_msg(struct netif *ni, const uint8_t *dmac, uint32_t dst,
    const char *msg)
{
	uint8_t *f, *u;
	uint16_t slot;
	uint32_t len = strlen(msg);

	if ((f = vnet_tx_buf(ni->v, &slot)) == NULL)
		return;
	u = ip_frame(ni, f, dmac, dst, IP_UDP, UDP_HLEN + len);
	udp_hdr(u, BENCH_PORT, BENCH_PORT, len);
	memcpy(u + UDP_HLEN, msg, len);
	len += ETH_HLEN + IP_HLEN + UDP_HLEN;
	vnet_tx_send(ni->v, slot, len < 60 ? 60 : len);
}

static int
brx_started(void)
{
	net_poll_all();
	return wait_ni->brx_pkts > 0;
}

static uint64_t brx_until;

static int
brx_done(void)
{
	net_poll_all();
	return rdtsc() >= brx_until;
}

/*
 * netbench: MTU-sized UDP frames to the peer (the host side: the ip=
 * SERVER, else the DHCP server, else the router) on port 5001 for 2 s,
 * then a "vmd-netbench-rx-start" datagram that asks bench/netpeer to
 * send to us, counted for 2 s from its first frame.
 */
void
mode_netbench(struct guest *g)
{
	struct netif *ni;
	uint8_t *hf, dmac[6];
	const uint8_t *m;
	uint32_t peer;
	uint64_t t0, hz, us, pkts;
	int64_t sent;
	char a[16];
	int n;

	if (net_probe() == 0) {
		kprintf("FAIL netbench: no virtio-net device\n");
		return;
	}
	ni = &ifs[0];
	wait_ni = ni;
	if (!ni->up) {
		net_up(g);
		wait_until(if_settled, DHCP_TRIES * 2000 + 1000);
		if (!ni->up) {
			kprintf("FAIL netbench: %s has no address\n",
			    ifname(ni));
			return;
		}
	}
	peer = ni->server ? ni->server : ni->gw;
	if (peer == 0) {
		kprintf("FAIL netbench: no peer (give ip=C:S:G:M)\n");
		return;
	}
	arp_want = peer;
	for (n = 0; n < 3 && arp_lookup(ni, peer) == NULL; n++) {
		arp_send(ni, 1, bcast, (const uint8_t *)"\0\0\0\0\0\0", peer);
		wait_until(arp_known, 1000);
	}
	if ((m = arp_lookup(ni, peer)) == NULL) {
		kprintf("FAIL netbench: no ARP answer from %s\n",
		    ipv4_str(peer, a));
		return;
	}
	memcpy(dmac, m, 6);
	kprintf("netbench: peer %s port %d\n", ipv4_str(peer, a), BENCH_PORT);
	if ((hf = pzalloc(2048, 64)) == NULL) {
		kprintf("FAIL netbench: out of memory\n");
		return;
	}
	bench_frame(ni, hf + 12, dmac, peer);
	hz = tsc_hz();
	t0 = rdtsc();
	sent = vnet_tx_flood(ni->v, hf, ETH_MAX, t0 + hz / 1000000 * BENCH_US);
	us = tsc_us(t0, rdtsc());
	if (sent <= 0) {
		kprintf("FAIL netbench.tx: transmit ring stalled or out of "
		    "order\n");
		return;
	}
	pkts = (uint64_t)sent;
	kprintf("PASS netbench.tx: %lu pkt/s %lu MB/s\n",
	    (unsigned long)(pkts * 1000000 / us),
	    (unsigned long)(pkts * ETH_MAX / us));

	ni->brx_pkts = 0;
	ni->brx_on = 1;
	for (n = 0; n < 60 && ni->brx_pkts == 0; n++) {
		bench_msg(ni, dmac, peer, "vmd-netbench-rx-start");
		wait_until(brx_started, 500);
	}
	if (ni->brx_pkts == 0) {
		ni->brx_on = 0;
		kprintf("FAIL netbench.rx: no frames from %s in 30 s (is "
		    "bench/netpeer running?)\n", ipv4_str(peer, a));
		return;
	}
	brx_until = ni->brx_first + hz / 1000000 * BENCH_US;
	wait_until(brx_done, BENCH_US / 1000 + 1000);
	ni->brx_on = 0;
	for (n = 0; n < 3; n++)
		bench_msg(ni, dmac, peer, "vmd-netbench-rx-stop");
	us = tsc_us(ni->brx_first, ni->brx_last);
	if (us == 0 || ni->brx_pkts < 2) {
		kprintf("FAIL netbench.rx: only %lu frames\n",
		    (unsigned long)ni->brx_pkts);
		return;
	}
	kprintf("PASS netbench.rx: %lu pkt/s %lu MB/s\n",
	    (unsigned long)(ni->brx_pkts * 1000000 / us),
	    (unsigned long)(ni->brx_pkts * ETH_MAX / us));
}

static int
ping_back(void)
{
	net_poll_all();
	return ping_got;
}

/*
 * ping: PING_COUNT ICMP echo requests to the peer (the ip= SERVER, else
 * the DHCP server, else the router), one at a time, each waited for up
 * to 1 s; the round trip of each by the TSC.  PASS "ping: N/M replies
 * from A, rtt min/avg/max X/Y/Z us", FAIL without a single reply.
 */
void
mode_ping(struct guest *g)
{
	struct netif *ni;
	const uint8_t *m;
	uint8_t dmac[6], *f, *ic;
	uint64_t t0, us, min = ~0ULL, max = 0, sum = 0;
	uint32_t peer, len;
	uint16_t slot;
	char a[16];
	int n, ok = 0, i;

	if (net_probe() == 0) {
		kprintf("FAIL ping: no virtio-net device\n");
		return;
	}
	ni = &ifs[0];
	wait_ni = ni;
	if (!ni->up) {
		net_up(g);
		wait_until(if_settled, DHCP_TRIES * 2000 + 1000);
		if (!ni->up) {
			kprintf("FAIL ping: %s has no address\n", ifname(ni));
			return;
		}
	}
	peer = ni->server ? ni->server : ni->gw;
	if (peer == 0) {
		kprintf("FAIL ping: no peer (give ip=C:S:G:M)\n");
		return;
	}
	arp_want = peer;
	for (n = 0; n < 5 && arp_lookup(ni, peer) == NULL; n++) {
		arp_send(ni, 1, bcast, (const uint8_t *)"\0\0\0\0\0\0", peer);
		wait_until(arp_known, 1000);
	}
	if ((m = arp_lookup(ni, peer)) == NULL) {
		kprintf("FAIL ping: no ARP answer from %s\n",
		    ipv4_str(peer, a));
		return;
	}
	memcpy(dmac, m, 6);
	for (n = 0; n < PING_COUNT; n++) {
		if ((f = vnet_tx_buf(ni->v, &slot)) == NULL) {
			vnet_tx_reclaim(ni->v);
			continue;
		}
		ic = ip_frame(ni, f, dmac, peer, IP_ICMP, 8 + PING_DATA);
		ic[0] = 8;
		ic[1] = 0;
		put16(ic + 2, 0);
		put16(ic + 4, PING_ID);
		ping_seq = (uint16_t)(n + 1);
		put16(ic + 6, ping_seq);
		for (i = 0; i < PING_DATA; i++)
			ic[8 + i] = (uint8_t)i;
		put16(ic + 2, csum(ic, 8 + PING_DATA));
		len = ETH_HLEN + IP_HLEN + 8 + PING_DATA;
		ping_got = 0;
		t0 = rdtsc();
		vnet_tx_send(ni->v, slot, len);
		wait_until(ping_back, 1000);
		if (!ping_got)
			continue;
		us = tsc_us(t0, ping_t1);
		ok++;
		sum += us;
		if (us < min)
			min = us;
		if (us > max)
			max = us;
	}
	if (ok == 0) {
		kprintf("FAIL ping: no reply from %s\n", ipv4_str(peer, a));
		return;
	}
	kprintf("PASS ping: %d/%d replies from %s, rtt min/avg/max "
	    "%lu/%lu/%lu us\n", ok, PING_COUNT, ipv4_str(peer, a),
	    (unsigned long)min, (unsigned long)(sum / ok),
	    (unsigned long)max);
}
