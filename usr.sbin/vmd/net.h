/*
 * net.h: vmd's networking pieces that stand apart from any process: the
 * DHCP/BOOTP responder of local interfaces (dhcp.c, run in a vionet
 * process on frames the guest sends), the addresses, MACs, tap names and
 * group numbers vmd derives from vm.conf (netaddr.c, pure), and the host
 * side through /dev/net/tun and netlink (priv_nl.c, for the priv process
 * only).  Everything that crosses a process boundary here is flat data;
 * dhcp.c does no I/O, netaddr.c reads only a stream it is handed, and
 * nothing here ever runs ip(8).
 */

#ifndef NET_H
#define NET_H

#include <sys/types.h>

#include <net/if.h>
#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NET_ETHER_LEN		6

/* dhcp.c */
#define DHCP_FRAME_MAX		1514	/* longest frame in or out */
#define DHCP_NAME_MAX		64	/* host name, NUL included */

/* What the responder hands out on one local interface. */
struct dhcp_conf {
	uint8_t		 mac[NET_ETHER_LEN];	/* the guest NIC's */
	uint8_t		 hostmac[NET_ETHER_LEN]; /* the tap's */
	struct in_addr	 guest;		/* the address offered */
	struct in_addr	 host;		/* server, router, DNS */
	struct in_addr	 netmask;
	char		 hostname[DHCP_NAME_MAX]; /* VM name or "" */
	int		 pxeboot;	/* boot device net */
};

/* dhcp_answer() flags */
#define DHCP_CSUM_PARTIAL	0x01	/* UDP sum left to offload */

size_t	 dhcp_answer(const struct dhcp_conf *, const uint8_t *, size_t,
	    int, uint8_t *, size_t, const char **);

/* netaddr.c */
#define NET_LOCAL4_PLEN		31	/* host .2k, guest .2k+1 */
#define NET_LOCAL6_PLEN		96
#define NET_LOCAL_IFMAX		127	/* NICs a VM's /24 holds */
#define NET_TAG_MAX		4	/* instance tag, NUL included */
#define NET_ALIAS_MAX		256	/* IFALIASZ */

/* "local prefix" and "local inet6 [prefix]" of vm.conf. */
struct net_local {
	struct in_addr	 in4;
	int		 len4;		/* 1 to 16 */
	int		 inet6;		/* local inet6 given */
	struct in6_addr	 in6;
	int		 len6;		/* 0 to 64 */
};

void	 net_local_default(struct net_local *);
void	 net_local6_random(struct net_local *, const uint8_t *);
int	 net_local4(const struct net_local *, uint32_t, unsigned int, int,
	    struct in_addr *, char *, size_t);
int	 net_local6(const struct net_local *, uint32_t, unsigned int, int,
	    struct in6_addr *, char *, size_t);
void	 net_local4_mask(struct in_addr *);
void	 net_lladdr(uint8_t *, unsigned int, uint32_t);
void	 net_instance_tag(const char *, char *);
int	 net_tapname(char *, size_t, const char *, uint32_t, unsigned int);
int	 net_tapname_parse(const char *, const char *, uint32_t *,
	    unsigned int *);
int	 net_tapalias(char *, size_t, uint32_t, unsigned int, const char *);
int	 net_tapalias_match(const char *, uint32_t, unsigned int);
int	 net_group_lookup(FILE *, const char *, uint32_t *);

/* priv_nl.c */
#define TAP_VNET_HDR_LEN	12	/* struct virtio_net_hdr_v1 */

struct nl;

/* One link as netlink reports it. */
struct nl_link {
	unsigned int	 ifindex;
	char		 name[IF_NAMESIZE];
	char		 kind[16];	/* "tun", "bridge", "vrf", "" */
	char		 alias[NET_ALIAS_MAX];
	unsigned int	 flags;		/* IFF_* */
	unsigned int	 mtu;
	unsigned int	 master;	/* ifindex, or 0 */
	uint32_t	 group;
	uint8_t		 lladdr[NET_ETHER_LEN];
	int		 tap;		/* kind "tun" in tap mode */
	int		 persist;	/* a persistent tun/tap */
	uint32_t	 vrf_table;	/* kind "vrf" */
};

/* A tap vmd opened: its fd goes to the vionet process. */
struct nl_tap {
	struct nl_link	 link;
	unsigned int	 offloads;	/* TUN_F_* the kernel takes */
};

struct nl	*nl_open(char *, size_t);
void		 nl_close(struct nl *);
int		 nl_link_get(struct nl *, const char *, struct nl_link *,
		    char *, size_t);
int		 nl_link_foreach(struct nl *,
		    int (*)(const struct nl_link *, void *), void *,
		    char *, size_t);
int		 nl_link_updown(struct nl *, unsigned int, int, char *,
		    size_t);
int		 nl_link_mtu(struct nl *, unsigned int, unsigned int,
		    char *, size_t);
int		 nl_link_alias(struct nl *, unsigned int, const char *,
		    char *, size_t);
int		 nl_link_group(struct nl *, unsigned int, uint32_t, char *,
		    size_t);
int		 nl_link_master(struct nl *, unsigned int, unsigned int,
		    char *, size_t);
int		 nl_link_del(struct nl *, unsigned int, char *, size_t);
int		 nl_bridge_join(struct nl *, unsigned int, const char *,
		    char *, size_t);
int		 nl_vrf_find(struct nl *, uint32_t, unsigned int *, char *,
		    size_t);
int		 nl_addr4_add(struct nl *, unsigned int,
		    const struct in_addr *, int, char *, size_t);
int		 nl_addr6_add(struct nl *, unsigned int,
		    const struct in6_addr *, int, char *, size_t);
int		 nl_tap_open(struct nl *, const char *, struct nl_tap *,
		    char *, size_t);
int		 nl_tap_cleanup(struct nl *, const char *,
		    void (*)(const struct nl_link *, void *), void *,
		    char *, size_t);

#endif /* NET_H */
