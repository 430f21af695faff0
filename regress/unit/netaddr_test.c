/*
 * netaddr_test.c: golden tests of netaddr.c, the numbers vmd derives for
 * VM interfaces: local interface addresses from "local prefix" and
 * "local inet6" (checked against literal values and, for VM ids 1 to
 * 300 and interfaces 0 to 3, against the octets written out by hand),
 * refusal of prefixes too small or with host bits, the random MAC
 * scheme, tap names and aliases and their parsing, the instance tag and
 * the iproute2 group table lookup.
 */

#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "net.h"
#include "regress/test.h"

static char	 err[256];

static const char *
a4(const struct in_addr *a)
{
	static char	 buf[4][INET_ADDRSTRLEN];
	static int	 n;

	n = (n + 1) % 4;
	return (inet_ntop(AF_INET, a, buf[n], sizeof(buf[n])));
}

static const char *
a6(const struct in6_addr *a)
{
	static char	 buf[INET6_ADDRSTRLEN];

	return (inet_ntop(AF_INET6, a, buf, sizeof(buf)));
}

static void
prefix4(struct net_local *l, const char *addr, int len)
{
	memset(l, 0, sizeof(*l));
	(void)inet_pton(AF_INET, addr, &l->in4);
	l->len4 = len;
}

static const char *
v4(const struct net_local *l, uint32_t vmid, unsigned int idx, int guest)
{
	struct in_addr	 a;

	err[0] = '\0';
	if (net_local4(l, vmid, idx, guest, &a, err, sizeof(err)) == -1)
		return ("refused");
	return (a4(&a));
}

static void
test_local4_default(void)
{
	struct net_local	 l;
	struct in_addr		 m;

	net_local_default(&l);
	CHECK(strcmp(a4(&l.in4), "100.64.0.0") == 0 && l.len4 == 10);
	CHECK(!l.inet6);
	CHECK(strcmp(v4(&l, 1, 0, 0), "100.64.1.2") == 0);
	CHECK(strcmp(v4(&l, 1, 0, 1), "100.64.1.3") == 0);
	CHECK(strcmp(v4(&l, 1, 1, 0), "100.64.1.4") == 0);
	CHECK(strcmp(v4(&l, 1, 3, 1), "100.64.1.9") == 0);
	CHECK(strcmp(v4(&l, 2, 1, 1), "100.64.2.5") == 0);
	CHECK(strcmp(v4(&l, 255, 0, 0), "100.64.255.2") == 0);
	CHECK(strcmp(v4(&l, 256, 0, 0), "100.65.0.2") == 0);
	CHECK(strcmp(v4(&l, 16383, 3, 1), "100.127.255.9") == 0);
	CHECK(strcmp(v4(&l, 0, 0, 1), "100.64.0.3") == 0);
	CHECK(strcmp(v4(&l, 7, 126, 0), "100.64.7.254") == 0);
	CHECK(strcmp(v4(&l, 7, 126, 1), "100.64.7.255") == 0);
	net_local4_mask(&m);
	CHECK(strcmp(a4(&m), "255.255.255.254") == 0);
}

/* VM ids 1..300, interfaces 0..3, both sides, octet by octet. */
static void
test_local4_table(void)
{
	struct net_local	 l;
	char			 want[INET_ADDRSTRLEN];
	uint32_t		 id;
	unsigned int		 i;
	int			 g, bad = 0;

	net_local_default(&l);
	for (id = 1; id <= 300; id++)
		for (i = 0; i < 4; i++)
			for (g = 0; g < 2; g++) {
				(void)snprintf(want, sizeof(want),
				    "100.%u.%u.%u", 64 + id / 256, id % 256,
				    2 * (i + 1) + g);
				if (strcmp(v4(&l, id, i, g), want) != 0)
					bad++;
			}
	CHECK(bad == 0);

	prefix4(&l, "10.20.0.0", 16);
	bad = 0;
	for (id = 1; id <= 255; id++)
		for (i = 0; i < 4; i++) {
			(void)snprintf(want, sizeof(want), "10.20.%u.%u", id,
			    2 * (i + 1) + 1);
			if (strcmp(v4(&l, id, i, 1), want) != 0)
				bad++;
		}
	CHECK(bad == 0);
}

static void
test_local4_refused(void)
{
	struct net_local	 l;

	net_local_default(&l);
	CHECK(strcmp(v4(&l, 16384, 0, 0), "refused") == 0);
	CHECK(strstr(err, "vm id 16384") != NULL);
	CHECK(strcmp(v4(&l, 0xffffffffU, 0, 0), "refused") == 0);
	CHECK(strcmp(v4(&l, 1, 127, 0), "refused") == 0);
	CHECK(strstr(err, "interface 127") != NULL);

	/* /16 is the smallest: one /24 per VM id below 256 */
	prefix4(&l, "10.20.0.0", 16);
	CHECK(strcmp(v4(&l, 255, 3, 1), "10.20.255.9") == 0);
	CHECK(strcmp(v4(&l, 256, 0, 0), "refused") == 0);
	prefix4(&l, "10.20.0.0", 17);
	CHECK(strcmp(v4(&l, 1, 0, 0), "refused") == 0);
	CHECK(strstr(err, "/17") != NULL);
	prefix4(&l, "10.20.1.0", 24);
	CHECK(strcmp(v4(&l, 1, 0, 0), "refused") == 0);
	prefix4(&l, "0.0.0.0", 0);
	CHECK(strcmp(v4(&l, 1, 0, 0), "refused") == 0);
	prefix4(&l, "10.20.0.1", 16);
	CHECK(strcmp(v4(&l, 1, 0, 0), "refused") == 0);
	CHECK(strstr(err, "host bits") != NULL);

	/* /1: the largest, every id that fits 23 bits */
	prefix4(&l, "128.0.0.0", 1);
	CHECK(strcmp(v4(&l, (1U << 23) - 1, 0, 0), "255.255.255.2") == 0);
	CHECK(strcmp(v4(&l, 1U << 23, 0, 0), "refused") == 0);
}

static void
test_local6(void)
{
	struct net_local	 l;
	struct in6_addr		 a;
	static const uint8_t	 rnd[7] = { 0x12, 0x34, 0x56, 0x78, 0x9a,
				    0xbc, 0xde };
	char			 want[INET6_ADDRSTRLEN];
	uint32_t		 id;
	unsigned int		 i;
	int			 bad = 0;

	net_local_default(&l);
	CHECK(net_local6(&l, 1, 0, 0, &a, err, sizeof(err)) == -1);

	(void)inet_pton(AF_INET6, "fd00:1234:5678:9abc::", &l.in6);
	l.len6 = 64;
	l.inet6 = 1;
	CHECK(net_local6(&l, 1, 0, 0, &a, err, sizeof(err)) == 0);
	CHECK(strcmp(a6(&a), "fd00:1234:5678:9abc:6440:103:0:1") == 0);
	CHECK(net_local6(&l, 1, 0, 1, &a, err, sizeof(err)) == 0);
	CHECK(strcmp(a6(&a), "fd00:1234:5678:9abc:6440:103:0:2") == 0);
	CHECK(net_local6(&l, 2, 3, 0, &a, err, sizeof(err)) == 0);
	CHECK(strcmp(a6(&a), "fd00:1234:5678:9abc:6440:209:0:1") == 0);
	for (id = 1; id <= 300; id++)
		for (i = 0; i < 4; i++) {
			(void)snprintf(want, sizeof(want),
			    "fd00:1234:5678:9abc:64%02x:%x%02x:0:1",
			    64 + id / 256, id % 256, 2 * (i + 1) + 1);
			/* inet_ntop drops a zero third octet's leading 0 */
			if (id % 256 == 0)
				(void)snprintf(want, sizeof(want),
				    "fd00:1234:5678:9abc:64%02x:%x:0:1",
				    64 + id / 256, 2 * (i + 1) + 1);
			if (net_local6(&l, id, i, 0, &a, err,
			    sizeof(err)) == -1 || strcmp(a6(&a), want) != 0)
				bad++;
		}
	CHECK(bad == 0);

	/* a /48 keeps its zero subnet bits */
	(void)inet_pton(AF_INET6, "2001:db8:1::", &l.in6);
	l.len6 = 48;
	CHECK(net_local6(&l, 3, 0, 0, &a, err, sizeof(err)) == 0);
	CHECK(strcmp(a6(&a), "2001:db8:1:0:6440:303:0:1") == 0);

	/* too small, host bits, VM id out of the IPv4 prefix */
	l.len6 = 65;
	CHECK(net_local6(&l, 1, 0, 0, &a, err, sizeof(err)) == -1);
	(void)inet_pton(AF_INET6, "2001:db8:1::1:0:0:0", &l.in6);
	l.len6 = 64;
	CHECK(net_local6(&l, 1, 0, 0, &a, err, sizeof(err)) == -1);
	CHECK(strstr(err, "host bits") != NULL);
	(void)inet_pton(AF_INET6, "2001:db8:1::", &l.in6);
	CHECK(net_local6(&l, 16384, 0, 0, &a, err, sizeof(err)) == -1);

	/* the random ULA prefix: fd, then the caller's 56 bits */
	net_local6_random(&l, rnd);
	CHECK(l.inet6 && l.len6 == 64);
	CHECK(net_local6(&l, 1, 0, 0, &a, err, sizeof(err)) == 0);
	CHECK(strcmp(a6(&a), "fd12:3456:789a:bcde:6440:103:0:1") == 0);
}

static void
test_lladdr(void)
{
	uint8_t		 ea[NET_ETHER_LEN];
	static const uint8_t	 want0[] = { 0xfe, 0xe1, 0xbb, 0xd1, 0x34,
				    0x12 };
	static const uint8_t	 want3[] = { 0xfe, 0xe1, 0xbb, 0xd4, 0xff,
				    0x00 };

	net_lladdr(ea, 0, 0xabcd1234U);
	CHECK(memcmp(ea, want0, sizeof(ea)) == 0);
	net_lladdr(ea, 3, 0x00ff);
	CHECK(memcmp(ea, want3, sizeof(ea)) == 0);
	/* locally administered, unicast */
	CHECK((ea[0] & 0x02) && !(ea[0] & 0x01));
}

static void
test_tapname(void)
{
	char		 name[IF_NAMESIZE];
	char		 tag[NET_TAG_MAX], tag2[NET_TAG_MAX];
	uint32_t	 id;
	unsigned int	 i;

	CHECK(net_tapname(name, sizeof(name), "", 1, 0) == 0);
	CHECK(strcmp(name, "vm1-if0") == 0);
	CHECK(net_tapname(name, sizeof(name), "abc", 12, 3) == 0);
	CHECK(strcmp(name, "vm12-if3-abc") == 0);
	CHECK(net_tapname(name, sizeof(name), "abc", 99999, 3) == 0);
	CHECK(strcmp(name, "vm99999-if3-abc") == 0);
	CHECK(net_tapname(name, sizeof(name), "abc", 100000, 3) == -1);
	CHECK(net_tapname(name, sizeof(name), "", 4294967295U, 3) == -1);
	CHECK(net_tapname(name, sizeof(name), "ABC", 1, 0) == -1);
	CHECK(net_tapname(name, sizeof(name), "abcd", 1, 0) == -1);
	CHECK(net_tapname(name, 5, "", 1, 0) == -1);

	CHECK(net_tapname_parse("vm12-if3-abc", "abc", &id, &i) == 0 &&
	    id == 12 && i == 3);
	CHECK(net_tapname_parse("vm1-if0", "", &id, &i) == 0 && id == 1 &&
	    i == 0);
	CHECK(net_tapname_parse("vm1-if0-abc", "", &id, &i) == -1);
	CHECK(net_tapname_parse("vm1-if0", "abc", &id, &i) == -1);
	CHECK(net_tapname_parse("vm1-if0-abd", "abc", &id, &i) == -1);
	CHECK(net_tapname_parse("vm01-if0", "", &id, &i) == -1);
	CHECK(net_tapname_parse("vm1-if0x", "", &id, &i) == -1);
	CHECK(net_tapname_parse("vm-if0", "", &id, &i) == -1);
	CHECK(net_tapname_parse("vm1-if", "", &id, &i) == -1);
	CHECK(net_tapname_parse("vm4294967296-if0", "", &id, &i) == -1);
	CHECK(net_tapname_parse("tap0", "", &id, &i) == -1);
	CHECK(net_tapname_parse("", "", &id, &i) == -1);

	net_instance_tag(NULL, tag);
	CHECK(tag[0] == '\0');
	net_instance_tag("/var/run/vmd.sock", tag);
	CHECK(tag[0] == '\0');
	net_instance_tag("/tmp/vmd-e2e.abc/vmd.sock", tag);
	CHECK(strlen(tag) == 3 &&
	    strspn(tag, "0123456789abcdefghijklmnopqrstuv") == 3);
	net_instance_tag("/tmp/vmd-e2e.abc/vmd.sock", tag2);
	CHECK(strcmp(tag, tag2) == 0);
	net_instance_tag("/tmp/vmd-e2e.abd/vmd.sock", tag2);
	CHECK(strcmp(tag, tag2) != 0);
	CHECK(net_tapname(name, sizeof(name), tag, 1, 0) == 0 &&
	    net_tapname_parse(name, tag, &id, &i) == 0);
}

static void
test_alias(void)
{
	char	 alias[NET_ALIAS_MAX];

	CHECK(net_tapalias(alias, sizeof(alias), 1, 0, "web") == 0);
	CHECK(strcmp(alias, "vm1-if0-web") == 0);
	CHECK(net_tapalias(alias, 8, 1, 0, "web") == -1);
	CHECK(net_tapalias_match("vm1-if0-web", 1, 0));
	CHECK(net_tapalias_match("vm1-if0-", 1, 0));
	CHECK(!net_tapalias_match("vm1-if0-web", 1, 1));
	CHECK(!net_tapalias_match("vm1-if0-web", 11, 0));
	CHECK(!net_tapalias_match("vm11-if0-web", 1, 0));
	CHECK(!net_tapalias_match("vm1-if0", 1, 0));
	CHECK(!net_tapalias_match("", 1, 0));
}

static int
group(const char *table, const char *name, uint32_t *id)
{
	FILE	*fp;
	int	 rc;

	if ((fp = fmemopen((void *)table, strlen(table), "r")) == NULL)
		return (-2);
	rc = net_group_lookup(fp, name, id);
	fclose(fp);
	return (rc);
}

static void
test_group(void)
{
	static const char	 table[] =
	    "# /etc/iproute2/group\n"
	    "0\tdefault\n"
	    "0x10 vms # the VMs\n"
	    "  7 lab\n"
	    "12x bad\n"
	    " 8\n"
	    "0x zero\n"
	    "0x 9 spaced\n"
	    "-3 negative\n"
	    "99999999999 huge\n"
	    "010 octal\n"
	    "#5 commented\n"
	    "5 other\r\n"
	    "6 last";
	char			 big[2048];
	uint32_t		 id = 12345;

	CHECK(group(table, "default", &id) == 0 && id == 0);
	CHECK(group(table, "vms", &id) == 0 && id == 16);
	CHECK(group(table, "lab", &id) == 0 && id == 7);
	CHECK(group(table, "other", &id) == 0 && id == 5);
	CHECK(group(table, "octal", &id) == 0 && id == 10);
	CHECK(group(table, "last", &id) == 0 && id == 6);
	id = 12345;
	CHECK(group(table, "bad", &id) == -1);
	CHECK(group(table, "zero", &id) == -1);
	CHECK(group(table, "spaced", &id) == -1);
	CHECK(group(table, "negative", &id) == -1);
	CHECK(group(table, "huge", &id) == -1);
	CHECK(group(table, "commented", &id) == -1);
	CHECK(group(table, "vm", &id) == -1);
	CHECK(group(table, "", &id) == -1);
	CHECK(id == 12345);

	/* an overlong line is skipped whole, the next one still read */
	memset(big, 'a', sizeof(big));
	memcpy(big, "1 ", 2);
	memcpy(big + 1500, " x\n4 after\n", 11);
	big[1511] = '\0';
	CHECK(group(big, "after", &id) == 0 && id == 4);
	CHECK(group(big, "x", &id) == -1);
}

int
main(void)
{
	RUN(test_local4_default);
	RUN(test_local4_table);
	RUN(test_local4_refused);
	RUN(test_local6);
	RUN(test_lladdr);
	RUN(test_tapname);
	RUN(test_alias);
	RUN(test_group);
	TEST_EXIT();
}
