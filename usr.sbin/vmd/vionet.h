/*
 * vionet.h: virtio-net (virtio 1.2, "Network Device") as vmd runs it:
 * the constants the vm process declares for the PCI function, and the
 * frame engine of an interface's own "vionet" process, which moves
 * frames between the guest's two queues and the tap.  The engine is
 * written so a test or a fuzzer can drive it without a process around
 * it: a struct vionet, a tap descriptor (any fd), and a chain.  Nothing
 * a guest puts in a queue may make it read or write outside the chain it
 * was given, block, or grow: frames that cannot go on are dropped and
 * counted.
 */

#ifndef VIONET_H
#define VIONET_H

#include <sys/types.h>

#include <stdint.h>

#include "net.h"
#include "virtq.h"

/* Feature bits ("Feature bits" of the network device) */
#define VIRTIO_NET_F_CSUM		(1ULL << 0)
#define VIRTIO_NET_F_GUEST_CSUM		(1ULL << 1)
#define VIRTIO_NET_F_MAC		(1ULL << 5)
#define VIRTIO_NET_F_GUEST_TSO4		(1ULL << 7)
#define VIRTIO_NET_F_GUEST_TSO6		(1ULL << 8)
#define VIRTIO_NET_F_GUEST_ECN		(1ULL << 9)
#define VIRTIO_NET_F_HOST_TSO4		(1ULL << 11)
#define VIRTIO_NET_F_HOST_TSO6		(1ULL << 12)
#define VIRTIO_NET_F_HOST_ECN		(1ULL << 13)
#define VIRTIO_NET_F_MRG_RXBUF		(1ULL << 15)
#define VIRTIO_NET_F_STATUS		(1ULL << 16)

#define VIRTIO_NET_S_LINK_UP		1

/* struct virtio_net_hdr_v1 */
#define VIONET_HDR_LEN		12	/* with num_buffers */
#define VIONET_HDR_LEN_LEGACY	10	/* neither VERSION_1 nor MRG_RXBUF */
#define VIONET_HDR_NUM_BUFFERS	10	/* le16 */

/* Device configuration: mac[6], status (le16) */
#define VIONET_CFG_MAC		0
#define VIONET_CFG_STATUS	6
#define VIONET_CONFIG_LEN	8

#define VIONET_RXQ		0
#define VIONET_TXQ		1
#define VIONET_NQUEUES		2
#define VIONET_QUEUE_SIZE	256

#define VIONET_ETHER_HDR	14
#define VIONET_FRAME_MAX	(65535 + VIONET_ETHER_HDR) /* a TSO frame */
#define VIONET_BUF_MAX		(VIONET_HDR_LEN + VIONET_FRAME_MAX)
#define VIONET_IOV_MAX		64	/* buffers in one chain */
#define VIONET_MRG_MAX		32	/* chains in one merged frame */
#define VIONET_BUDGET		256	/* frames per turn of each way */
#define VIONET_INJECT_MAX	4	/* DHCP answers waiting for the guest */

/* Why a frame from the guest does not reach the tap (vionet_tx_class). */
enum vionet_tx {
	VIONET_TX_SEND,		/* to the tap */
	VIONET_TX_SHORT,	/* shorter than header + Ethernet header */
	VIONET_TX_LONG,		/* longer than any frame */
	VIONET_TX_SPOOF,	/* locked lladdr: another source MAC */
	VIONET_TX_DHCP		/* local interface: for the DHCP responder */
};

/* Counters of one interface, logged when it stops. */
struct vionet_stats {
	uint64_t	 tx_frames;	/* to the tap */
	uint64_t	 tx_bytes;
	uint64_t	 tx_dropped;	/* the tap did not take them */
	uint64_t	 tx_bad;	/* short, long */
	uint64_t	 tx_spoofed;	/* locked lladdr */
	uint64_t	 tx_dhcp;	/* to the responder */
	uint64_t	 rx_frames;	/* to the guest */
	uint64_t	 rx_bytes;
	uint64_t	 rx_dropped;	/* no room, or no queue */
	uint64_t	 rx_filtered;	/* locked lladdr: not for the guest */
};

/* Chains popped for a merged frame that is not complete yet. */
struct vionet_held {
	uint16_t		 n;
	uint16_t		 last_avail;	/* the queue's after them */
	uint64_t		 desc;		/* of the queue they came from */
	struct virtq_chain	 c[VIONET_MRG_MAX];
	struct iovec		 iov[VIONET_MRG_MAX][VIONET_IOV_MAX];
};

struct vionet {
	int			 tapfd;
	uint32_t		 flags;		/* VMOP_NIC_* */
	uint8_t			 mac[NET_ETHER_LEN];
	struct dhcp_conf	 dhcp;		/* VMOP_NIC_LOCAL */
	uint64_t		 offered;	/* features */
	uint64_t		 features;	/* negotiated, as the queues say */
	unsigned int		 tap_offloads;	/* TUN_F_* the tap takes */
	unsigned int		 tap_on;	/* TUN_F_* turned on */
	size_t			 hdrlen;
	struct vionet_stats	 st;
	/* a frame read from the tap that waits for room in the guest */
	size_t			 pending;
	uint8_t			*buf;		/* VIONET_BUF_MAX */
	struct vionet_held	 held;
	/* DHCP answers, each with its header */
	size_t			 ninject;
	size_t			 inject_len[VIONET_INJECT_MAX];
	uint8_t			 inject[VIONET_INJECT_MAX]
				    [VIONET_HDR_LEN + DHCP_FRAME_MAX];
	struct iovec		 txiov[VIONET_IOV_MAX];
	int			 tap_errno;	/* the first write error */
};

/* vionet.c */
int		 vionet_setup(struct vionet *, int, const uint8_t *, uint32_t,
		    const struct dhcp_conf *);
void		 vionet_cleanup(struct vionet *);
void		 vionet_features(struct vionet *, uint64_t);
enum vionet_tx	 vionet_tx_class(const struct vionet *, const uint8_t *,
		    size_t, size_t);
int		 vionet_tx_chain(struct vionet *, const struct virtq_chain *);
int		 vionet_tx_queue(struct vionet *, struct virtq *, int);
int		 vionet_rx_deliver(struct vionet *, struct virtq *,
		    const uint8_t *, size_t);
int		 vionet_rx_want(const struct vionet *, const uint8_t *,
		    size_t);

#endif /* VIONET_H */
