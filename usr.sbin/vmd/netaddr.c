/*
 * netaddr.c: the names and numbers vmd derives for a VM's interfaces, as
 * OpenBSD's vmd derives them: the host-side and guest-side addresses of
 * a local interface from "local prefix" and "local inet6", the random
 * fe:e1:bb:dN:xx:xx MAC, the tap's name and alias, and the number behind
 * an interface group name.  Pure functions of their arguments (the
 * caller brings the randomness and the open group file), so each is
 * unit-tested; none may touch the network, and none trusts a prefix,
 * VM id or name to be in range without checking.
 */

#include <sys/types.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "vmd.h"

#define ERR(...)	((void)snprintf(err, errlen, __VA_ARGS__), -1)

/* RFC 6598 shared address space, vmd's default "local prefix". */
#define LOCAL4_DEFAULT		0x64400000U	/* 100.64.0.0 */
#define LOCAL4_DEFAULT_LEN	10
#define LOCAL4_LEN_MAX		16	/* vm.conf refuses longer */
#define LOCAL6_LEN_MAX		64

void
net_local_default(struct net_local *l)
{
	memset(l, 0, sizeof(*l));
	l->in4.s_addr = htonl(LOCAL4_DEFAULT);
	l->len4 = LOCAL4_DEFAULT_LEN;
}

/*
 * "local inet6" without a prefix: fd00::/8 with the 56 bits of global
 * and subnet id random (RFC 4193), drawn once by the caller.
 */
void
net_local6_random(struct net_local *l, const uint8_t *rnd7)
{
	memset(&l->in6, 0, sizeof(l->in6));
	l->in6.s6_addr[0] = 0xfd;
	memcpy(&l->in6.s6_addr[1], rnd7, 7);
	l->len6 = 64;
	l->inet6 = 1;
}

void
net_local4_mask(struct in_addr *mask)
{
	mask->s_addr = htonl(0xfffffffeU);
}

static int
local4_check(const struct net_local *l, char *err, size_t errlen)
{
	char		 buf[INET_ADDRSTRLEN];
	uint32_t	 mask;

	if (l->len4 < 1 || l->len4 > LOCAL4_LEN_MAX)
		return (ERR("local prefix /%d: must be /1 to /%d, room for "
		    "a /24 per VM", l->len4, LOCAL4_LEN_MAX));
	mask = 0xffffffffU << (32 - l->len4);
	if (ntohl(l->in4.s_addr) & ~mask) {
		(void)inet_ntop(AF_INET, &l->in4, buf, sizeof(buf));
		return (ERR("local prefix %s/%d has host bits set", buf,
		    l->len4));
	}
	return (0);
}

/*
 * The address of interface idx of VM vmid on a local interface: VM N
 * gets the /24 N of the prefix, its interface I the /31 at .2(I+1),
 * whose first address is the host's and second the guest's.  vmd
 * ORs these bits into the prefix and checks the result against the
 * mask, which lets a VM id alias into set prefix bits; here a VM id
 * that does not fit in the host bits is refused outright.
 */
int
net_local4(const struct net_local *l, uint32_t vmid, unsigned int idx,
    int guest, struct in_addr *out, char *err, size_t errlen)
{
	uint64_t	 host, room;

	if (local4_check(l, err, errlen) == -1)
		return (-1);
	if (idx >= NET_LOCAL_IFMAX)
		return (ERR("interface %u: a local prefix has room for %d "
		    "interfaces per VM", idx, NET_LOCAL_IFMAX));
	room = 1ULL << (32 - l->len4 - 8);	/* VM ids that fit */
	if (vmid >= room)
		return (ERR("vm id %u does not fit in the local prefix /%d "
		    "(ids below %llu)", vmid, l->len4,
		    (unsigned long long)room));
	host = ((uint64_t)vmid << 8) | ((idx + 1) * 2) | (guest ? 1 : 0);
	out->s_addr = l->in4.s_addr | htonl((uint32_t)host);
	return (0);
}

/*
 * IPv6 as vmd encodes it: the prefix, the guest's IPv4 address in bytes
 * 8 to 11, and ::1 for the host or ::2 for the guest in the last byte;
 * the host side carries it as a /96.
 */
int
net_local6(const struct net_local *l, uint32_t vmid, unsigned int idx,
    int guest, struct in6_addr *out, char *err, size_t errlen)
{
	struct in_addr	 v4;
	int		 i;

	if (!l->inet6)
		return (ERR("local inet6 is not enabled"));
	if (l->len6 < 0 || l->len6 > LOCAL6_LEN_MAX)
		return (ERR("local inet6 prefix /%d: must be /%d or shorter",
		    l->len6, LOCAL6_LEN_MAX));
	for (i = 0; i < 16; i++) {
		int	 bits = l->len6 - i * 8;
		uint8_t	 m = bits >= 8 ? 0xff : bits <= 0 ? 0 :
		    (uint8_t)(0xff00 >> bits);

		if (l->in6.s6_addr[i] & ~m)
			return (ERR("local inet6 prefix has host bits set"));
	}
	if (net_local4(l, vmid, idx, 1, &v4, err, errlen) == -1)
		return (-1);
	*out = l->in6;
	memcpy(&out->s6_addr[8], &v4.s_addr, sizeof(v4.s_addr));
	out->s6_addr[15] = guest ? 2 : 1;
	return (0);
}

/*
 * vmd's MAC for a NIC without "lladdr": fe:e1:bb (locally administered,
 * unicast), then 0xd0 plus the interface number + 1, then 16 random
 * bits.  rnd is the caller's random draw.
 */
void
net_lladdr(uint8_t *ea, unsigned int idx, uint32_t rnd)
{
	ea[0] = 0xfe;
	ea[1] = 0xe1;
	ea[2] = 0xbb;
	ea[3] = 0xd0 | ((idx + 1) & 0x0f);
	ea[4] = rnd & 0xff;
	ea[5] = (rnd >> 8) & 0xff;
}

/*
 * The tag that keeps the taps of several vmd instances apart: none for
 * the default control socket, else three base-32 characters of an
 * FNV-1a hash of the socket path.  A vmd restarted on the same socket
 * gets the same tag, so it finds what its predecessor left.
 */
void
net_instance_tag(const char *sockpath, char *tag)
{
	static const char	 digits[] = "0123456789abcdefghijklmnopqrstuv";
	uint32_t		 h = 2166136261U;
	const unsigned char	*p;
	int			 i;

	tag[0] = '\0';
	if (sockpath == NULL || strcmp(sockpath, VMD_SOCKET) == 0)
		return;
	for (p = (const unsigned char *)sockpath; *p != '\0'; p++) {
		h ^= *p;
		h *= 16777619U;
	}
	for (i = 0; i < NET_TAG_MAX - 1; i++) {
		tag[i] = digits[h & 0x1f];
		h >>= 5;
	}
	tag[NET_TAG_MAX - 1] = '\0';
}

static int
tag_valid(const char *tag)
{
	size_t	 i, len;

	len = strnlen(tag, NET_TAG_MAX);
	if (len >= NET_TAG_MAX)
		return (0);
	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)tag[i]) &&
		    !islower((unsigned char)tag[i]))
			return (0);
	return (1);
}

/*
 * A tap's name: "vmN-ifI", with "-TAG" for a vmd on another socket.  It
 * fits IFNAMSIZ for VM ids up to 99999 with a tag; a longer name is an
 * error, never truncated, since truncation could name another VM's tap.
 */
int
net_tapname(char *buf, size_t len, const char *tag, uint32_t vmid,
    unsigned int idx)
{
	int	 n;

	if (!tag_valid(tag))
		return (-1);
	if (len > IF_NAMESIZE)
		len = IF_NAMESIZE;
	n = snprintf(buf, len, "vm%u-if%u%s%s", vmid, idx,
	    tag[0] != '\0' ? "-" : "", tag);
	if (n < 0 || (size_t)n >= len)
		return (-1);
	return (0);
}

static int
parse_uint(const char **sp, uint32_t *v)
{
	const char	*s = *sp;
	uint64_t	 n = 0;

	if (!isdigit((unsigned char)*s))
		return (-1);
	while (isdigit((unsigned char)*s)) {
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > UINT32_MAX)
			return (-1);
		s++;
	}
	*v = (uint32_t)n;
	*sp = s;
	return (0);
}

/*
 * Whether name is exactly what net_tapname() makes for this tag, and
 * for which VM id and interface.  "vm01-if0", another tag's names and
 * anything with trailing bytes do not match.
 */
int
net_tapname_parse(const char *name, const char *tag, uint32_t *vmid,
    unsigned int *idx)
{
	char		 canon[IF_NAMESIZE];
	const char	*s = name;
	uint32_t	 v, i;

	if (strncmp(s, "vm", 2) != 0)
		return (-1);
	s += 2;
	if (parse_uint(&s, &v) == -1 || strncmp(s, "-if", 3) != 0)
		return (-1);
	s += 3;
	if (parse_uint(&s, &i) == -1)
		return (-1);
	if (net_tapname(canon, sizeof(canon), tag, v, i) == -1 ||
	    strcmp(canon, name) != 0)
		return (-1);
	*vmid = v;
	*idx = i;
	return (0);
}

/* vmd's interface description, "vmN-ifI-NAME", as the tap's alias. */
int
net_tapalias(char *buf, size_t len, uint32_t vmid, unsigned int idx,
    const char *vmname)
{
	int	 n;

	n = snprintf(buf, len, "vm%u-if%u-%s", vmid, idx, vmname);
	if (n < 0 || (size_t)n >= len)
		return (-1);
	return (0);
}

/* Whether an alias is one net_tapalias() made for this VM id and NIC. */
int
net_tapalias_match(const char *alias, uint32_t vmid, unsigned int idx)
{
	char	 prefix[32];
	int	 n;

	n = snprintf(prefix, sizeof(prefix), "vm%u-if%u-", vmid, idx);
	if (n < 0 || (size_t)n >= sizeof(prefix))
		return (0);
	return (strncmp(alias, prefix, (size_t)n) == 0);
}

/*
 * The number of an interface group name in an iproute2 group table
 * (/etc/iproute2/group: "NUMBER NAME" lines, decimal or 0x hex, '#'
 * comments), the names ip(8) and nft(8) take for Linux's one group
 * number per link.  Returns 0 and the number, -1 if the name is not
 * there.  Lines it cannot read are skipped, as iproute2 skips them.
 */
int
net_group_lookup(FILE *fp, const char *name, uint32_t *id)
{
	char		 line[512], *p, *end, *word, *digits;
	unsigned long	 n;
	size_t		 wlen;
	int		 base;

	if (name[0] == '\0')
		return (-1);
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			int	 c;

			/* an overlong line: skip the rest of it */
			while ((c = fgetc(fp)) != EOF && c != '\n')
				;
			continue;
		}
		p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!isdigit((unsigned char)*p))
			continue;
		digits = p;
		base = 10;
		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
			digits = p + 2;
			base = 16;
		}
		if (!isxdigit((unsigned char)digits[0]))
			continue;
		errno = 0;
		n = strtoul(digits, &end, base);
		if (errno != 0 || end == digits || n > UINT32_MAX ||
		    (*end != ' ' && *end != '\t'))
			continue;
		p = end;
		while (*p == ' ' || *p == '\t')
			p++;
		word = p;
		wlen = strcspn(word, " \t\r\n#");
		if (wlen == 0)
			continue;
		if (wlen == strlen(name) && strncmp(word, name, wlen) == 0) {
			*id = (uint32_t)n;
			return (0);
		}
	}
	return (-1);
}
