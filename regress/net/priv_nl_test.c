/*
 * priv_nl_test.c: tests of priv_nl.c against the real kernel, run by
 * regress/e2e/priv_nl.sh inside a network namespace it made for this:
 * taps with a virtio-net header, alias, MTU, up and down, a bridge (and
 * the clear errors for a missing one or a non-bridge), a VRF found by
 * table, the interface group, the host-side IPv4 and IPv6 addresses of a
 * local interface, deletion, and the removal of taps a killed vmd left.
 * What priv_nl.c reports is checked against ip(8)'s view.  It refuses to
 * run anywhere but in a fresh namespace, one with nothing but lo.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <linux/if_tun.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "regress/test.h"

static struct nl	*nl;
static char		 err[512];

/* Runs a shell command; returns its output (static) or NULL on failure. */
static const char *
sh(const char *fmt, ...)
{
	static char	 out[16384];
	char		 cmd[512];
	va_list		 ap;
	FILE		*fp;
	size_t		 n;

	va_start(ap, fmt);
	(void)vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if ((fp = popen(cmd, "r")) == NULL)
		return (NULL);
	n = fread(out, 1, sizeof(out) - 1, fp);
	out[n] = '\0';
	if (pclose(fp) != 0)
		return (NULL);
	return (out);
}

static int
has(const char *out, const char *needle)
{
	if (out == NULL)
		return (0);
	if (strstr(out, needle) == NULL) {
		printf("# \"%s\" not in:\n%s", needle, out);
		return (0);
	}
	return (1);
}

static int
gone(const char *name)
{
	return (sh("ip link show dev %s 2>/dev/null", name) == NULL);
}

static int	 fd1 = -1, fd2 = -1;
static struct nl_tap tap1, tap2;

static void
test_tap_open(void)
{
	char	 name[IF_NAMESIZE];

	CHECK(net_tapname(name, sizeof(name), "", 1, 0) == 0);
	fd1 = nl_tap_open(nl, name, &tap1, err, sizeof(err));
	if (fd1 == -1)
		printf("# %s\n", err);
	CHECK(fd1 >= 0);
	CHECK(strcmp(tap1.link.name, "vm1-if0") == 0);
	CHECK(tap1.link.ifindex > 0);
	CHECK(strcmp(tap1.link.kind, "tun") == 0 && tap1.link.tap);
	CHECK(!tap1.link.persist);
	CHECK(tap1.offloads & TUN_F_CSUM);
	CHECK(tap1.offloads & TUN_F_TSO4);
	CHECK(has(sh("ip -d link show dev vm1-if0"), "tun type tap"));
	CHECK(has(sh("ip -d link show dev vm1-if0"), "vnet_hdr on"));
	CHECK(has(sh("ip -d link show dev vm1-if0"), "persist off"));
	printf("# offloads the kernel takes: 0x%x\n", tap1.offloads);

	/* the kernel numbers a "%d" name */
	fd2 = nl_tap_open(nl, "vmdtest%d", &tap2, err, sizeof(err));
	CHECK(fd2 >= 0 && strcmp(tap2.link.name, "vmdtest0") == 0);
	if (fd2 >= 0)
		(void)close(fd2);
	CHECK(gone("vmdtest0"));
}

static void
test_tap_refused(void)
{
	struct nl_tap	 t;

	CHECK(nl_tap_open(nl, "vm1-if0", &t, err, sizeof(err)) == -1);
	CHECK(has(err, "vm1-if0: in use"));
	CHECK(sh("ip link add vmdtestbr type bridge") != NULL);
	CHECK(nl_tap_open(nl, "vmdtestbr", &t, err, sizeof(err)) == -1);
	CHECK(has(err, "not a tap"));
	CHECK(nl_tap_open(nl, "a-name-far-too-long", &t, err,
	    sizeof(err)) == -1);
	CHECK(has(err, "invalid name"));
	CHECK(nl_tap_open(nl, "", &t, err, sizeof(err)) == -1);
}

static void
test_link_settings(void)
{
	struct nl_link	 l;
	unsigned int	 i = tap1.link.ifindex;
	char		 alias[NET_ALIAS_MAX + 1];

	CHECK(net_tapalias(alias, sizeof(alias), 1, 0, "web.example") == 0);
	CHECK(nl_link_alias(nl, i, alias, err, sizeof(err)) == 0);
	CHECK(has(sh("ip -d link show dev vm1-if0"),
	    "alias vm1-if0-web.example"));
	CHECK(nl_link_mtu(nl, i, 1400, err, sizeof(err)) == 0);
	CHECK(has(sh("ip link show dev vm1-if0"), "mtu 1400"));
	CHECK(nl_link_updown(nl, i, 1, err, sizeof(err)) == 0);
	CHECK(has(sh("ip link show dev vm1-if0"), ",UP"));
	CHECK(nl_link_group(nl, i, 7, err, sizeof(err)) == 0);
	CHECK(has(sh("ip link show dev vm1-if0"), "group 7"));

	CHECK(nl_link_get(nl, "vm1-if0", &l, err, sizeof(err)) == 0);
	CHECK(l.ifindex == i && l.mtu == 1400 && (l.flags & IFF_UP));
	CHECK(l.group == 7 && strcmp(l.alias, "vm1-if0-web.example") == 0);
	CHECK(memcmp(l.lladdr, tap1.link.lladdr, NET_ETHER_LEN) == 0);

	CHECK(nl_link_updown(nl, i, 0, err, sizeof(err)) == 0);
	CHECK(sh("ip link show dev vm1-if0") != NULL &&
	    strstr(sh("ip link show dev vm1-if0"), ",UP") == NULL);
	CHECK(nl_link_get(nl, "vm1-if0", &l, err, sizeof(err)) == 0 &&
	    !(l.flags & IFF_UP));

	/* the kernel's reasons come back with the interface's name */
	CHECK(nl_link_mtu(nl, i, 70000, err, sizeof(err)) == -1);
	CHECK(has(err, "interface vm1-if0: mtu 70000:"));
	printf("# %s\n", err);
	CHECK(nl_link_alias(nl, 999999, "x", err, sizeof(err)) == -1);
	CHECK(has(err, "#999999"));
	CHECK(nl_link_get(nl, "nosuchif", &l, err, sizeof(err)) == -1 &&
	    errno == ENODEV);
	/* IFALIASZ counts the NUL: 255 characters fit, 256 do not */
	memset(alias, 'a', sizeof(alias));
	alias[NET_ALIAS_MAX] = '\0';
	CHECK(nl_link_alias(nl, i, alias, err, sizeof(err)) == -1);
	alias[NET_ALIAS_MAX - 1] = '\0';
	CHECK(nl_link_alias(nl, i, alias, err, sizeof(err)) == 0);
	CHECK(nl_link_get(nl, "vm1-if0", &l, err, sizeof(err)) == 0 &&
	    strcmp(l.alias, alias) == 0);
	CHECK(nl_link_alias(nl, i, "", err, sizeof(err)) == 0);
	CHECK(nl_link_get(nl, "vm1-if0", &l, err, sizeof(err)) == 0 &&
	    l.alias[0] == '\0');
	CHECK(nl_link_group(nl, i, 0, err, sizeof(err)) == 0);
}

static void
test_bridge(void)
{
	struct nl_link	 l;

	CHECK(nl_bridge_join(nl, tap1.link.ifindex, "vmdtestbr", err,
	    sizeof(err)) == 0);
	CHECK(has(sh("ip link show dev vm1-if0"), "master vmdtestbr"));
	CHECK(has(sh("ip link show master vmdtestbr"), "vm1-if0"));
	CHECK(nl_link_get(nl, "vm1-if0", &l, err, sizeof(err)) == 0);
	CHECK(l.master != 0);

	CHECK(nl_bridge_join(nl, tap1.link.ifindex, "vmdtestnobr", err,
	    sizeof(err)) == -1);
	CHECK(has(err, "bridge vmdtestnobr does not exist"));
	CHECK(sh("ip tuntap add vmdtesttun mode tun") != NULL);
	CHECK(nl_bridge_join(nl, tap1.link.ifindex, "vmdtesttun", err,
	    sizeof(err)) == -1);
	CHECK(has(err, "vmdtesttun is not a bridge (tun)"));

	CHECK(nl_link_master(nl, tap1.link.ifindex, 0, err, sizeof(err)) == 0);
	CHECK(sh("ip link show dev vm1-if0") != NULL &&
	    strstr(sh("ip link show dev vm1-if0"), "master") == NULL);
	CHECK(nl_bridge_join(nl, tap1.link.ifindex, "vmdtestbr", err,
	    sizeof(err)) == 0);
}

static void
test_vrf(void)
{
	unsigned int	 vrf = 0;

	CHECK(nl_vrf_find(nl, 5, &vrf, err, sizeof(err)) == 0 && vrf > 0);
	CHECK(nl_vrf_find(nl, 6, &vrf, err, sizeof(err)) == -1);
	CHECK(has(err, "rdomain 6: no VRF device with table 6"));
	/* a switch in an rdomain: the bridge goes into the VRF */
	CHECK(nl_vrf_find(nl, 5, &vrf, err, sizeof(err)) == 0);
	CHECK(nl_link_master(nl, if_nametoindex("vmdtestbr"), vrf, err,
	    sizeof(err)) == 0);
	CHECK(has(sh("ip link show dev vmdtestbr"), "master vmdtestvrf"));
}

static void
test_local_addresses(void)
{
	struct net_local	 lp;
	struct in_addr		 a4;
	struct in6_addr		 a6;
	char			 name[IF_NAMESIZE];

	CHECK(net_tapname(name, sizeof(name), "", 2, 0) == 0);
	fd2 = nl_tap_open(nl, name, &tap2, err, sizeof(err));
	CHECK(fd2 >= 0);
	net_local_default(&lp);
	(void)inet_pton(AF_INET6, "fd00:1::", &lp.in6);
	lp.len6 = 64;
	lp.inet6 = 1;
	CHECK(net_local4(&lp, 2, 0, 0, &a4, err, sizeof(err)) == 0);
	CHECK(nl_addr4_add(nl, tap2.link.ifindex, &a4, NET_LOCAL4_PLEN, err,
	    sizeof(err)) == 0);
	CHECK(net_local6(&lp, 2, 0, 0, &a6, err, sizeof(err)) == 0);
	CHECK(nl_addr6_add(nl, tap2.link.ifindex, &a6, NET_LOCAL6_PLEN, err,
	    sizeof(err)) == 0);
	CHECK(nl_link_updown(nl, tap2.link.ifindex, 1, err, sizeof(err)) == 0);
	CHECK(has(sh("ip addr show dev vm2-if0"), "inet 100.64.2.2/31"));
	CHECK(has(sh("ip addr show dev vm2-if0"),
	    "inet6 fd00:1::6440:203:0:1/96"));
	CHECK(has(sh("ip route show dev vm2-if0"), "100.64.2.2/31"));
	/* again: replaced, not an error */
	CHECK(nl_addr4_add(nl, tap2.link.ifindex, &a4, NET_LOCAL4_PLEN, err,
	    sizeof(err)) == 0);
	CHECK(nl_addr4_add(nl, tap2.link.ifindex, &a4, 33, err,
	    sizeof(err)) == -1);
	CHECK(nl_addr6_add(nl, 999999, &a6, 96, err, sizeof(err)) == -1);
	CHECK(has(err, "interface #999999: address fd00:1::6440:203:0:1/96"));
}

static void
test_group_table(void)
{
	char		 path[] = "/tmp/vmd-group.XXXXXX";
	FILE		*fp;
	uint32_t	 id = 0;
	int		 fd;

	if ((fd = mkstemp(path)) == -1 || (fp = fdopen(fd, "w+")) == NULL) {
		CHECK(0);
		return;
	}
	fprintf(fp, "0 default\n42\tvms\n");
	rewind(fp);
	CHECK(net_group_lookup(fp, "vms", &id) == 0 && id == 42);
	CHECK(nl_link_group(nl, tap2.link.ifindex, id, err, sizeof(err)) == 0);
	fclose(fp);
	CHECK(has(sh("ip link show dev vm2-if0"), "group 42"));
	/* ip(8) shows the name from the same kind of table */
	CHECK(has(sh("ip -d link show group 42"), "vm2-if0"));
	(void)unlink(path);
}

static void
test_close_delete(void)
{
	(void)close(fd2);
	fd2 = -1;
	CHECK(gone("vm2-if0"));
	CHECK(nl_link_del(nl, tap1.link.ifindex, err, sizeof(err)) == 0);
	CHECK(gone("vm1-if0"));
	CHECK(nl_link_del(nl, tap1.link.ifindex, err, sizeof(err)) == -1 &&
	    errno == ENODEV);
	(void)close(fd1);
	fd1 = -1;
}

/* Opens a tap, names it, hands it to a child that holds it, like a
 * vionet process a killed vmd left behind; returns the child's pid. */
static pid_t
leftover(const char *name, const char *alias)
{
	struct nl_tap	 t;
	pid_t		 pid;
	int		 fd;

	if ((fd = nl_tap_open(nl, name, &t, err, sizeof(err))) == -1) {
		printf("# %s\n", err);
		return (-1);
	}
	if (alias != NULL &&
	    nl_link_alias(nl, t.link.ifindex, alias, err, sizeof(err)) == -1) {
		printf("# %s\n", err);
		(void)close(fd);
		return (-1);
	}
	if ((pid = fork()) == 0) {
		(void)alarm(60);	/* never outlive the test */
		for (;;)
			pause();
	}
	(void)close(fd);
	return (pid);
}

static int	 removed;

static void
removed_cb(const struct nl_link *l, void *arg)
{
	printf("# removed %s (%s)\n", l->name, l->alias);
	removed++;
}

static void
test_cleanup(void)
{
	pid_t	 pids[4];
	int	 i, n;

	pids[0] = leftover("vm3-if1-abc", "vm3-if1-old");
	pids[1] = leftover("vm4-if0-abc", NULL);	/* no alias */
	pids[2] = leftover("vm5-if0", "vm5-if0-x");	/* another tag */
	pids[3] = leftover("vm6-if2-abc", "vm7-if2-y");	/* wrong alias */
	for (i = 0; i < 4; i++)
		CHECK(pids[i] > 0);
	/* persistent ones, as "ip tuntap add" makes them */
	CHECK(sh("ip tuntap add vm8-if3-abc mode tap && "
	    "ip link set vm8-if3-abc alias vm8-if3-gone") != NULL);
	CHECK(sh("ip tuntap add tap7 mode tap && "
	    "ip link set tap7 alias vm7-if0-user") != NULL);
	CHECK(sh("ip tuntap add vm9-if0-abc mode tun && "
	    "ip link set vm9-if0-abc alias vm9-if0-tun") != NULL);

	n = nl_tap_cleanup(nl, "abc", removed_cb, NULL, err, sizeof(err));
	CHECK(n == 2 && removed == 2);
	CHECK(gone("vm3-if1-abc") && gone("vm8-if3-abc"));
	CHECK(!gone("vm4-if0-abc") && !gone("vm5-if0") &&
	    !gone("vm6-if2-abc") && !gone("tap7") && !gone("vm9-if0-abc"));
	CHECK(nl_tap_cleanup(nl, "abc", NULL, NULL, err, sizeof(err)) == 0);

	/* the default instance's own */
	CHECK(nl_tap_cleanup(nl, "", NULL, NULL, err, sizeof(err)) == 1);
	CHECK(gone("vm5-if0"));

	for (i = 0; i < 4; i++)
		if (pids[i] > 0) {
			(void)kill(pids[i], SIGKILL);
			(void)waitpid(pids[i], NULL, 0);
		}
	CHECK(gone("vm4-if0-abc") && gone("vm6-if2-abc"));
	CHECK(sh("ip link del tap7 && ip link del vm9-if0-abc") != NULL);
}

static int
count_cb(const struct nl_link *l, void *arg)
{
	if (strcmp(l->name, "lo") != 0)
		(*(int *)arg)++;
	return (0);
}

int
main(void)
{
	int	 others = 0;

	if ((nl = nl_open(err, sizeof(err))) == NULL) {
		printf("FAIL nl_open: %s\n", err);
		return (1);
	}
	/* a fresh namespace has nothing but lo: never touch a real host */
	if (nl_link_foreach(nl, count_cb, &others, err, sizeof(err)) == -1 ||
	    others != 0) {
		printf("FAIL priv_nl_test: run it in a fresh network namespace "
		    "(regress/e2e/priv_nl.sh)\n");
		return (1);
	}
	RUN(test_tap_open);
	RUN(test_tap_refused);
	RUN(test_link_settings);
	RUN(test_bridge);
	if (sh("ip link add vmdtestvrf type vrf table 5 2>/dev/null") != NULL)
		RUN(test_vrf);
	else
		printf("SKIP test_vrf: no VRF support in this kernel\n");
	RUN(test_local_addresses);
	RUN(test_group_table);
	RUN(test_close_delete);
	RUN(test_cleanup);
	nl_close(nl);
	TEST_EXIT();
}
