/*
 * priv_nl.c: the host side of VM networking, for the priv process only:
 * taps through /dev/net/tun (TUNSETIFF with a virtio-net header, and a
 * probe of the offloads the kernel takes), and links and addresses
 * through rtnetlink with libmnl: up and down, MTU, the alias that
 * carries vmd's "vmN-ifI-NAME" description, the interface group,
 * joining a bridge or a VRF, the host-side addresses of local
 * interfaces, and removing the taps a killed vmd left.  Errors come back
 * as text naming the interface and the kernel's own reason.  It never
 * runs ip(8), never opens a file but /dev/net/tun, and never touches a
 * link it was not asked about by index or name, except for the taps
 * nl_tap_cleanup() proves to be vmd's by name and alias.
 */

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

#define ERR(...)	((void)snprintf(err, errlen, __VA_ARGS__), -1)

#define NL_BUF		65536	/* the largest message of a dump */
#define TUN_DEV		"/dev/net/tun"
#define NL_TIMEOUT	5	/* seconds */

/* Offload bits newer than some distributions' headers. */
#ifndef TUN_F_USO4
#define TUN_F_USO4	0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6	0x40
#endif

struct nl {
	struct mnl_socket	*sock;
	unsigned int		 portid;
	unsigned int		 seq;
	char			*buf;
};

/* One request in flight: the caller's callback and the kernel's answer. */
struct nl_req {
	mnl_cb_t		 cb;
	void			*arg;
	int			 error;	/* errno from the kernel */
	char			 msg[128];	/* its ext ack text */
};

struct nl *
nl_open(char *err, size_t errlen)
{
	struct nl	*nl;
	struct timeval	 tv = { NL_TIMEOUT, 0 };
	int		 one = 1;

	if ((nl = calloc(1, sizeof(*nl))) == NULL ||
	    (nl->buf = malloc(NL_BUF)) == NULL) {
		free(nl);
		(void)ERR("netlink: %s", strerror(errno));
		return (NULL);
	}
	if ((nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC)) ==
	    NULL || mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) == -1) {
		(void)ERR("netlink socket: %s", strerror(errno));
		nl_close(nl);
		return (NULL);
	}
	/* the kernel's reason as text, and no copy of our request */
	(void)mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one,
	    sizeof(one));
	(void)mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one,
	    sizeof(one));
	/* the kernel answers at once; never wait on it forever */
	(void)setsockopt(mnl_socket_get_fd(nl->sock), SOL_SOCKET, SO_RCVTIMEO,
	    &tv, sizeof(tv));
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned int)getpid() << 8;
	return (nl);
}

void
nl_close(struct nl *nl)
{
	if (nl == NULL)
		return;
	if (nl->sock != NULL)
		(void)mnl_socket_close(nl->sock);
	free(nl->buf);
	free(nl);
}

static int
ack_attr_cb(const struct nlattr *attr, void *data)
{
	struct nl_req	*req = data;
	size_t		 len;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_STRING) == 0) {
		len = mnl_attr_get_payload_len(attr);
		if (len >= sizeof(req->msg))
			len = sizeof(req->msg) - 1;
		memcpy(req->msg, mnl_attr_get_payload(attr), len);
		req->msg[len] = '\0';
	}
	return (MNL_CB_OK);
}

/* NLMSG_ERROR: an ACK (error 0) ends the request, anything else fails it. */
static int
error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_req		*req = data;
	const struct nlmsgerr	*e;
	size_t			 off;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		req->error = EBADMSG;
		return (MNL_CB_ERROR);
	}
	e = mnl_nlmsg_get_payload(nlh);
	if (e->error == 0)
		return (MNL_CB_STOP);
	req->error = e->error < 0 ? -e->error : e->error;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return (MNL_CB_ERROR);
	/* the TLVs follow our request, or only its header when capped */
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off = sizeof(e->error) + MNL_ALIGN(e->msg.nlmsg_len);
	if (off < mnl_nlmsg_get_payload_len(nlh))
		(void)mnl_attr_parse(nlh, (unsigned int)off, ack_attr_cb, req);
	return (MNL_CB_ERROR);
}

/* NLMSG_DONE ends a dump; it may carry the dump's error. */
static int
done_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_req	*req = data;
	int		 e;

	if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(e))) {
		memcpy(&e, mnl_nlmsg_get_payload(nlh), sizeof(e));
		if (e < 0) {
			req->error = -e;
			return (MNL_CB_ERROR);
		}
	}
	return (MNL_CB_STOP);
}

static int
data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_req	*req = data;

	if (req->cb == NULL)
		return (MNL_CB_OK);
	return (req->cb(nlh, req->arg));
}

/*
 * Sends one request built in nl->buf and reads the answer to its end:
 * the ACK of a change or a get, or NLMSG_DONE of a dump, passing each data
 * message to cb.  Returns 0, or -1 with "what: reason" in err.
 */
static int
nl_talk(struct nl *nl, struct nlmsghdr *nlh, int dump, mnl_cb_t cb,
    void *arg, const char *what, char *err, size_t errlen)
{
	static mnl_cb_t	 ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = error_cb,
		[NLMSG_DONE] = done_cb,
	};
	struct nl_req	 req;
	unsigned int	 seq;
	ssize_t		 n;
	int		 ret;

	memset(&req, 0, sizeof(req));
	req.cb = cb;
	req.arg = arg;
	/* NLM_F_DUMP shares its bits with NLM_F_REPLACE and friends */
	if (!dump)
		nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = seq = ++nl->seq;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) == -1)
		return (ERR("%s: netlink: %s", what, strerror(errno)));
	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, nl->buf, NL_BUF);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (ERR("%s: netlink: %s", what, strerror(errno)));
		}
		ret = mnl_cb_run2(nl->buf, (size_t)n, seq, nl->portid,
		    data_cb, &req, ctl, NLMSG_MIN_TYPE);
		if (ret == MNL_CB_STOP)
			return (0);
		if (ret == MNL_CB_ERROR) {
			if (req.error == 0)
				req.error = errno != 0 ? errno : EPROTO;
			errno = req.error;
			if (req.msg[0] != '\0')
				return (ERR("%s: %s (%s)", what,
				    strerror(req.error), req.msg));
			return (ERR("%s: %s", what, strerror(req.error)));
		}
	}
}

struct link_parse {
	struct nl_link		*l;
	const struct nlattr	*info_data;
};

static void
attr_str(const struct nlattr *attr, char *dst, size_t dlen)
{
	size_t	 len;

	len = strnlen(mnl_attr_get_payload(attr),
	    mnl_attr_get_payload_len(attr));
	if (len >= dlen)
		len = dlen - 1;
	memcpy(dst, mnl_attr_get_payload(attr), len);
	dst[len] = '\0';
}

static int
tun_attr_cb(const struct nlattr *attr, void *data)
{
	struct nl_link	*l = data;

	switch (mnl_attr_get_type(attr)) {
	case IFLA_TUN_TYPE:
		if (mnl_attr_validate(attr, MNL_TYPE_U8) == 0)
			l->tap = mnl_attr_get_u8(attr) == IFF_TAP;
		break;
	case IFLA_TUN_PERSIST:
		if (mnl_attr_validate(attr, MNL_TYPE_U8) == 0)
			l->persist = mnl_attr_get_u8(attr) != 0;
		break;
	}
	return (MNL_CB_OK);
}

static int
vrf_attr_cb(const struct nlattr *attr, void *data)
{
	struct nl_link	*l = data;

	if (mnl_attr_get_type(attr) == IFLA_VRF_TABLE &&
	    mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		l->vrf_table = mnl_attr_get_u32(attr);
	return (MNL_CB_OK);
}

static int
linkinfo_attr_cb(const struct nlattr *attr, void *data)
{
	struct link_parse	*p = data;

	switch (mnl_attr_get_type(attr)) {
	case IFLA_INFO_KIND:
		if (mnl_attr_validate(attr, MNL_TYPE_STRING) == 0)
			attr_str(attr, p->l->kind, sizeof(p->l->kind));
		break;
	case IFLA_INFO_DATA:
		if (mnl_attr_validate(attr, MNL_TYPE_NESTED) == 0)
			p->info_data = attr;
		break;
	}
	return (MNL_CB_OK);
}

static int
link_attr_cb(const struct nlattr *attr, void *data)
{
	struct link_parse	*p = data;
	struct nl_link		*l = p->l;

	switch (mnl_attr_get_type(attr)) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(attr, MNL_TYPE_STRING) == 0)
			attr_str(attr, l->name, sizeof(l->name));
		break;
	case IFLA_IFALIAS:
		if (mnl_attr_validate(attr, MNL_TYPE_STRING) == 0)
			attr_str(attr, l->alias, sizeof(l->alias));
		break;
	case IFLA_MTU:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			l->mtu = mnl_attr_get_u32(attr);
		break;
	case IFLA_MASTER:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			l->master = mnl_attr_get_u32(attr);
		break;
	case IFLA_GROUP:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			l->group = mnl_attr_get_u32(attr);
		break;
	case IFLA_ADDRESS:
		if (mnl_attr_get_payload_len(attr) == NET_ETHER_LEN)
			memcpy(l->lladdr, mnl_attr_get_payload(attr),
			    NET_ETHER_LEN);
		break;
	case IFLA_LINKINFO:
		if (mnl_attr_validate(attr, MNL_TYPE_NESTED) == 0)
			(void)mnl_attr_parse_nested(attr, linkinfo_attr_cb, p);
		break;
	}
	return (MNL_CB_OK);
}

static int
parse_link(const struct nlmsghdr *nlh, struct nl_link *l)
{
	const struct ifinfomsg	*ifi;
	struct link_parse	 p;

	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)))
		return (-1);
	ifi = mnl_nlmsg_get_payload(nlh);
	memset(l, 0, sizeof(*l));
	l->ifindex = (unsigned int)ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	memset(&p, 0, sizeof(p));
	p.l = l;
	if (mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, &p) != MNL_CB_OK)
		return (-1);
	if (p.info_data != NULL && strcmp(l->kind, "tun") == 0)
		(void)mnl_attr_parse_nested(p.info_data, tun_attr_cb, l);
	else if (p.info_data != NULL && strcmp(l->kind, "vrf") == 0)
		(void)mnl_attr_parse_nested(p.info_data, vrf_attr_cb, l);
	return (0);
}

static struct nlmsghdr *
link_msg(struct nl *nl, uint16_t type, uint16_t flags, unsigned int ifindex)
{
	struct nlmsghdr		*nlh;
	struct ifinfomsg	*ifi;

	nlh = mnl_nlmsg_put_header(nl->buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	return (nlh);
}

static int
get_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nl_link	*l = arg;

	if (parse_link(nlh, l) == -1)
		return (MNL_CB_ERROR);
	return (MNL_CB_OK);
}

/* The link named name.  Its absence is ENODEV in errno. */
int
nl_link_get(struct nl *nl, const char *name, struct nl_link *l, char *err,
    size_t errlen)
{
	struct nlmsghdr	*nlh;
	char		 what[64];

	(void)snprintf(what, sizeof(what), "interface %.*s", IF_NAMESIZE,
	    name);
	if (strlen(name) >= IF_NAMESIZE || name[0] == '\0') {
		errno = EINVAL;
		return (ERR("%s: invalid name", what));
	}
	memset(l, 0, sizeof(*l));
	nlh = link_msg(nl, RTM_GETLINK, 0, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (nl_talk(nl, nlh, 0, get_cb, l, what, err, errlen) == -1)
		return (-1);
	if (l->ifindex == 0) {
		errno = ENODEV;
		return (ERR("%s: no such interface", what));
	}
	return (0);
}

struct foreach_arg {
	int	(*fn)(const struct nl_link *, void *);
	void	*arg;
};

static int
foreach_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct foreach_arg	*fa = arg;
	struct nl_link		 l;

	if (parse_link(nlh, &l) == -1)
		return (MNL_CB_OK);
	if (fa->fn(&l, fa->arg) == -1)
		return (MNL_CB_ERROR);
	return (MNL_CB_OK);
}

/*
 * Calls fn for every link.  fn must not talk netlink itself (the dump is
 * still running); it may stop the walk by returning -1.
 */
int
nl_link_foreach(struct nl *nl, int (*fn)(const struct nl_link *, void *),
    void *arg, char *err, size_t errlen)
{
	struct nlmsghdr		*nlh;
	struct foreach_arg	 fa;

	fa.fn = fn;
	fa.arg = arg;
	nlh = link_msg(nl, RTM_GETLINK, NLM_F_DUMP, 0);
	return (nl_talk(nl, nlh, 1, foreach_cb, &fa, "interfaces", err,
	    errlen));
}

static int
name_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nl_link	*l = arg;

	(void)parse_link(nlh, l);
	return (MNL_CB_OK);
}

/* A link's name for an error message, or "#ifindex". */
static void
link_name(struct nl *nl, unsigned int ifindex, char *name, size_t len)
{
	struct nlmsghdr	*nlh;
	struct nl_link	 l;
	char		 ignored[8];

	memset(&l, 0, sizeof(l));
	nlh = link_msg(nl, RTM_GETLINK, 0, ifindex);
	if (ifindex == 0 || nl_talk(nl, nlh, 0, name_cb, &l, "", ignored,
	    sizeof(ignored)) == -1 || l.name[0] == '\0')
		(void)snprintf(name, len, "#%u", ifindex);
	else
		(void)snprintf(name, len, "%s", l.name);
}

/*
 * Sends a change to one link; on failure err says "interface NAME:
 * change: reason", with the name looked up only then, and errno is the
 * kernel's.
 */
static int
link_set(struct nl *nl, struct nlmsghdr *nlh, unsigned int ifindex,
    const char *change, char *err, size_t errlen)
{
	char	 reason[256], name[IF_NAMESIZE + 8];
	int	 saved;

	if (nl_talk(nl, nlh, 0, NULL, NULL, change, reason,
	    sizeof(reason)) == 0)
		return (0);
	saved = errno;
	link_name(nl, ifindex, name, sizeof(name));
	errno = saved;
	return (ERR("interface %s: %s", name, reason));
}

int
nl_link_updown(struct nl *nl, unsigned int ifindex, int up, char *err,
    size_t errlen)
{
	struct nlmsghdr		*nlh;
	struct ifinfomsg	*ifi;

	nlh = link_msg(nl, RTM_SETLINK, 0, ifindex);
	ifi = mnl_nlmsg_get_payload(nlh);
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	return (link_set(nl, nlh, ifindex, up ? "up" : "down", err, errlen));
}

int
nl_link_mtu(struct nl *nl, unsigned int ifindex, unsigned int mtu,
    char *err, size_t errlen)
{
	struct nlmsghdr	*nlh;
	char		 what[32];

	nlh = link_msg(nl, RTM_SETLINK, 0, ifindex);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	(void)snprintf(what, sizeof(what), "mtu %u", mtu);
	return (link_set(nl, nlh, ifindex, what, err, errlen));
}

/* The alias: vmd's interface description.  "" removes it. */
int
nl_link_alias(struct nl *nl, unsigned int ifindex, const char *alias,
    char *err, size_t errlen)
{
	struct nlmsghdr	*nlh;
	size_t		 len;

	len = strlen(alias);
	if (len >= NET_ALIAS_MAX) {
		errno = EINVAL;
		return (ERR("interface alias too long"));
	}
	nlh = link_msg(nl, RTM_SETLINK, 0, ifindex);
	mnl_attr_put(nlh, IFLA_IFALIAS, len, alias);
	return (link_set(nl, nlh, ifindex, "alias", err, errlen));
}

int
nl_link_group(struct nl *nl, unsigned int ifindex, uint32_t group,
    char *err, size_t errlen)
{
	struct nlmsghdr	*nlh;
	char		 what[32];

	nlh = link_msg(nl, RTM_SETLINK, 0, ifindex);
	mnl_attr_put_u32(nlh, IFLA_GROUP, group);
	(void)snprintf(what, sizeof(what), "group %u", group);
	return (link_set(nl, nlh, ifindex, what, err, errlen));
}

static int
link_master(struct nl *nl, unsigned int ifindex, unsigned int master,
    const char *mname, char *err, size_t errlen)
{
	struct nlmsghdr	*nlh;
	char		 what[48];

	nlh = link_msg(nl, RTM_SETLINK, 0, ifindex);
	mnl_attr_put_u32(nlh, IFLA_MASTER, master);
	if (master == 0)
		(void)snprintf(what, sizeof(what), "no master");
	else if (mname != NULL)
		(void)snprintf(what, sizeof(what), "master %s", mname);
	else
		(void)snprintf(what, sizeof(what), "master #%u", master);
	return (link_set(nl, nlh, ifindex, what, err, errlen));
}

/* Enslaves the link to a bridge or VRF; master 0 frees it. */
int
nl_link_master(struct nl *nl, unsigned int ifindex, unsigned int master,
    char *err, size_t errlen)
{
	return (link_master(nl, ifindex, master, NULL, err, errlen));
}

int
nl_link_del(struct nl *nl, unsigned int ifindex, char *err, size_t errlen)
{
	struct nlmsghdr	*nlh;

	nlh = link_msg(nl, RTM_DELLINK, 0, ifindex);
	return (link_set(nl, nlh, ifindex, "delete", err, errlen));
}

/* A switch: its interface must be a Linux bridge that exists. */
int
nl_bridge_join(struct nl *nl, unsigned int ifindex, const char *bridge,
    char *err, size_t errlen)
{
	struct nl_link	 br;

	if (nl_link_get(nl, bridge, &br, err, errlen) == -1) {
		if (errno == ENODEV)
			return (ERR("bridge %s does not exist", bridge));
		return (-1);
	}
	if (strcmp(br.kind, "bridge") != 0) {
		errno = EINVAL;
		return (ERR("%s is not a bridge (%s)", bridge,
		    br.kind[0] != '\0' ? br.kind : "no link kind"));
	}
	return (link_master(nl, ifindex, br.ifindex, br.name, err, errlen));
}

struct vrf_find {
	uint32_t	 table;
	unsigned int	 ifindex;
};

static int
vrf_cb(const struct nl_link *l, void *arg)
{
	struct vrf_find	*v = arg;

	if (strcmp(l->kind, "vrf") == 0 && l->vrf_table == v->table &&
	    v->ifindex == 0)
		v->ifindex = l->ifindex;
	return (0);
}

/* rdomain N: the VRF device whose routing table is N. */
int
nl_vrf_find(struct nl *nl, uint32_t table, unsigned int *ifindex, char *err,
    size_t errlen)
{
	struct vrf_find	 v;

	v.table = table;
	v.ifindex = 0;
	if (nl_link_foreach(nl, vrf_cb, &v, err, errlen) == -1)
		return (-1);
	if (v.ifindex == 0) {
		errno = ENOENT;
		return (ERR("rdomain %u: no VRF device with table %u", table,
		    table));
	}
	*ifindex = v.ifindex;
	return (0);
}

static int
addr_add(struct nl *nl, unsigned int ifindex, int family, const void *addr,
    size_t alen, int plen, const char *text, char *err, size_t errlen)
{
	struct nlmsghdr		*nlh;
	struct ifaddrmsg	*ifa;
	char			 what[96];

	nlh = mnl_nlmsg_put_header(nl->buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = (uint8_t)plen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, alen, addr);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, addr);
	/* a point-to-point gateway: usable at once, no DAD delay */
	if (family == AF_INET6)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	(void)snprintf(what, sizeof(what), "address %s/%d", text, plen);
	return (link_set(nl, nlh, ifindex, what, err, errlen));
}

int
nl_addr4_add(struct nl *nl, unsigned int ifindex, const struct in_addr *a,
    int plen, char *err, size_t errlen)
{
	char	 text[INET_ADDRSTRLEN];

	if (plen < 0 || plen > 32) {
		errno = EINVAL;
		return (ERR("invalid prefix length %d", plen));
	}
	if (inet_ntop(AF_INET, a, text, sizeof(text)) == NULL)
		text[0] = '\0';
	return (addr_add(nl, ifindex, AF_INET, a, sizeof(*a), plen, text, err,
	    errlen));
}

int
nl_addr6_add(struct nl *nl, unsigned int ifindex, const struct in6_addr *a,
    int plen, char *err, size_t errlen)
{
	char	 text[INET6_ADDRSTRLEN];

	if (plen < 0 || plen > 128) {
		errno = EINVAL;
		return (ERR("invalid prefix length %d", plen));
	}
	if (inet_ntop(AF_INET6, a, text, sizeof(text)) == NULL)
		text[0] = '\0';
	return (addr_add(nl, ifindex, AF_INET6, a, sizeof(*a), plen, text, err,
	    errlen));
}

/*
 * Which offloads the kernel takes from this tap's reader: TSO needs the
 * checksum offload, ECN needs TSO, and USO comes only as a v4/v6 pair.
 * The tap is left with none: the vionet process turns on what the guest
 * negotiates.
 */
static unsigned int
tap_probe_offloads(int fd)
{
	static const unsigned int	 steps[] = {
		TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN, TUN_F_USO4 | TUN_F_USO6
	};
	unsigned int			 ok = 0, i;

	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)TUN_F_CSUM) == 0) {
		ok = TUN_F_CSUM;
		for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
			if (ioctl(fd, TUNSETOFFLOAD,
			    (unsigned long)(ok | steps[i])) == 0)
				ok |= steps[i];
	}
	(void)ioctl(fd, TUNSETOFFLOAD, 0UL);
	return (ok);
}

/*
 * Opens the tap named name (made if it does not exist; "%d" in the name
 * lets the kernel pick a number), with a virtio-net header on every
 * frame.  Returns its fd, non-blocking and close-on-exec, or -1.  The
 * tap disappears when the last fd to it is closed.
 */
int
nl_tap_open(struct nl *nl, const char *name, struct nl_tap *tap, char *err,
    size_t errlen)
{
	struct ifreq	 ifr;
	int		 fd, hdr = TAP_VNET_HDR_LEN, saved;

	memset(tap, 0, sizeof(*tap));
	if (name[0] == '\0' || strlen(name) >= IF_NAMESIZE) {
		errno = EINVAL;
		return (ERR("tap \"%s\": invalid name", name));
	}
	if ((fd = open(TUN_DEV, O_RDWR | O_CLOEXEC | O_NONBLOCK)) == -1)
		return (ERR("%s: %s", TUN_DEV, strerror(errno)));
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		if (saved == EBUSY)
			return (ERR("tap %s: in use by another process",
			    name));
		if (saved == EINVAL)
			return (ERR("tap %s: an interface of that name exists "
			    "and is not a tap", name));
		return (ERR("tap %s: %s", name, strerror(saved)));
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return (ERR("tap %s: virtio-net header: %s", ifr.ifr_name,
		    strerror(saved)));
	}
	tap->offloads = tap_probe_offloads(fd);
	ifr.ifr_name[IF_NAMESIZE - 1] = '\0';
	if (nl_link_get(nl, ifr.ifr_name, &tap->link, err, errlen) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return (-1);
	}
	return (fd);
}

struct cleanup {
	const char	*tag;
	struct nl_link	*found;
	size_t		 n, cap;
	int		 nomem;
};

static int
cleanup_cb(const struct nl_link *l, void *arg)
{
	struct cleanup	*c = arg;
	struct nl_link	*p;
	uint32_t	 vmid;
	unsigned int	 idx;

	if (strcmp(l->kind, "tun") != 0 || !l->tap ||
	    net_tapname_parse(l->name, c->tag, &vmid, &idx) == -1 ||
	    !net_tapalias_match(l->alias, vmid, idx))
		return (0);
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		if ((p = reallocarray(c->found, c->cap, sizeof(*p))) == NULL) {
			c->nomem = 1;
			return (-1);
		}
		c->found = p;
	}
	c->found[c->n++] = *l;
	return (0);
}

/*
 * Removes the taps a previous vmd on the same instance tag left: links
 * of kind tun in tap mode whose name is net_tapname()'s for this tag and
 * whose alias is net_tapalias()'s for the same VM id and interface.
 * Taps named in vm.conf ("tapN") and anybody else's are never touched.
 * fn, if not NULL, hears of each removed tap.  Returns how many were
 * removed, or -1.
 */
int
nl_tap_cleanup(struct nl *nl, const char *tag,
    void (*fn)(const struct nl_link *, void *), void *arg, char *err,
    size_t errlen)
{
	struct cleanup	 c;
	size_t		 i;
	int		 n = 0;

	memset(&c, 0, sizeof(c));
	c.tag = tag;
	if (nl_link_foreach(nl, cleanup_cb, &c, err, errlen) == -1) {
		if (c.nomem)
			(void)ERR("interfaces: %s", strerror(ENOMEM));
		free(c.found);
		return (-1);
	}
	for (i = 0; i < c.n; i++) {
		if (nl_link_del(nl, c.found[i].ifindex, err, errlen) == -1) {
			/* gone meanwhile: that is what we wanted */
			if (errno == ENODEV)
				continue;
			free(c.found);
			return (-1);
		}
		n++;
		if (fn != NULL)
			fn(&c.found[i], arg);
	}
	free(c.found);
	return (n);
}
