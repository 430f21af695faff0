/*
 * dhcp_fuzz.c: libFuzzer target for dhcp_answer(), the DHCP/BOOTP
 * responder a vionet process runs on every frame a guest sends on a
 * local interface.  The input's first byte picks options (bit 0: the
 * UDP checksum is left to offload; bit 1: repair the IP header
 * checksum and bit 2: zero the UDP checksum, so mutations get past
 * them; bit 3: boot device net), the rest is the frame.  Beyond the
 * sanitizers, it aborts when a reply is not a well-formed frame from
 * the host side to this VM's MAC.  It must never touch anything but
 * the bytes it is given.
 *
 * Build: make regress/fuzz/dhcp_fuzzer
 * Run:   regress/fuzz/dhcp_fuzzer -max_total_time=60 regress/fuzz/corpus/dhcp
 */

#include <arpa/inet.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

#define IN_MAX		4096

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const uint8_t vm_mac[6] = { 0xfe, 0xe1, 0xbb, 0xd1, 0x34, 0x12 };
static const uint8_t tap_mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

static uint32_t
sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		sum += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (sum);
}

static void
repair(uint8_t *f, size_t len, int sel)
{
	size_t	 ihl, s;

	if (len < 14 + 20)
		return;
	ihl = (size_t)(f[14] & 0x0f) * 4;
	if (ihl < 20 || 14 + ihl > len)
		return;
	if (sel & 0x02) {
		f[24] = f[25] = 0;
		s = ~sum16(f + 14, ihl, 0) & 0xffff;
		f[24] = (uint8_t)(s >> 8);
		f[25] = (uint8_t)s;
	}
	if ((sel & 0x04) && 14 + ihl + 8 <= len)
		f[14 + ihl + 6] = f[14 + ihl + 7] = 0;
}

/* What any reply must be, checked apart from dhcp.c's own code. */
static void
verify(const uint8_t *r, size_t n, size_t outlen)
{
	const uint8_t	*ip = r + 14, *udp = ip + 20, *bp = udp + 8;
	size_t		 iplen, ulen;

	if (n < 14 + 20 + 8 + 300 || n > outlen || n > DHCP_FRAME_MAX)
		abort();
	if (memcmp(r + 6, tap_mac, 6) != 0 ||
	    (memcmp(r, vm_mac, 6) != 0 &&
	    memcmp(r, "\xff\xff\xff\xff\xff\xff", 6) != 0))
		abort();
	if (r[12] != 0x08 || r[13] != 0x00 || ip[0] != 0x45 || ip[9] != 17)
		abort();
	if (sum16(ip, 20, 0) != 0xffff)
		abort();
	iplen = (size_t)ip[2] << 8 | ip[3];
	ulen = (size_t)udp[4] << 8 | udp[5];
	if (iplen != n - 14 || ulen != iplen - 20)
		abort();
	if (sum16(udp, ulen, sum16(ip + 12, 8, 17 + (uint32_t)ulen)) != 0xffff)
		abort();
	if (udp[0] != 0 || udp[1] != 67 || udp[2] != 0 || udp[3] != 68)
		abort();
	if (bp[0] != 2 || bp[1] != 1 || bp[2] != 6 ||
	    memcmp(bp + 28, vm_mac, 6) != 0 ||
	    memcmp(bp + 236, "\x63\x82\x53\x63", 4) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t		 out[DHCP_FRAME_MAX];
	struct dhcp_conf	 conf;
	uint8_t			*in;
	const char		*why = NULL;
	size_t			 len, n;
	int			 sel;

	if (size < 1 || size - 1 > IN_MAX)
		return (0);
	sel = data[0];
	len = size - 1;
	/* a heap copy of the exact length: ASan sees any read past it */
	if ((in = malloc(len > 0 ? len : 1)) == NULL)
		return (0);
	memcpy(in, data + 1, len);
	repair(in, len, sel);

	memset(&conf, 0, sizeof(conf));
	memcpy(conf.mac, vm_mac, 6);
	memcpy(conf.hostmac, tap_mac, 6);
	conf.guest.s_addr = htonl(0x64400103);
	conf.host.s_addr = htonl(0x64400102);
	conf.netmask.s_addr = htonl(0xfffffffe);
	memcpy(conf.hostname, "fuzz.example", sizeof("fuzz.example"));
	conf.pxeboot = (sel & 0x08) != 0;

	n = dhcp_answer(&conf, in, len, (sel & 0x01) ? DHCP_CSUM_PARTIAL : 0,
	    out, sizeof(out), &why);
	free(in);
	if (n > 0)
		verify(out, n, sizeof(out));
	else if (why == NULL)
		abort();
	return (0);
}
