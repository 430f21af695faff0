/*
 * vionet.c: virtio-net in a process of its own ("vm NAME vionet 0"), one
 * per interface, with the interface's tap and the guest RAM: the receive
 * queue is filled from the tap, the transmit queue drained into it, each
 * frame with a virtio-net header, so checksum and segmentation offloads
 * pass between the guest and the host kernel (TUNSETOFFLOAD turns on
 * what the driver accepted).  Both ways are bounded: a tap frame that
 * finds no room in the guest waits (alone) while the tap's own queue
 * fills and the kernel drops; a guest frame the tap does not take is
 * dropped; each turn moves at most VIONET_BUDGET frames; every drop is
 * counted.  A "locked lladdr" interface drops guest frames from another
 * MAC and unicast frames to another one; a local interface answers the
 * guest's DHCP/BOOTP itself (dhcp.c) and sends it nowhere else.  It
 * runs in the device sandbox (devproc.c): no files, no sockets; the one
 * ioctl it makes is on its tap.  Every byte of a chain is the guest's.
 */

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <linux/if_tun.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "log.h"
#include "proc.h"
#include "devproc.h"
#include "vionet.h"
#include "vmd.h"

#define ETHERTYPE_IPV4		0x0800
#define IP_PROTO_UDP		17
#define PORT_DHCP_SERVER	67

/* Header flags and GSO types (struct virtio_net_hdr_v1) */
#define HDR_F_NEEDS_CSUM	1
#define HDR_GSO_NONE		0
#define HDR_GSO_TCPV4		1
#define HDR_GSO_TCPV6		4
#define HDR_GSO_ECN		0x80

#ifndef VIONET_ENGINE_ONLY
struct vionet_proc {
	struct vionet		 net;
	struct devproc		*dp;
	struct event		 ev_tap;
	struct event		 ev_more;	/* another turn, budget spent */
	int			 tap_watched;
	int			 tap_failed;	/* said so */
	uint8_t			 config[VIONET_CONFIG_LEN];
};

static ssize_t	 vionet_writev(int, const struct iovec *, int)
		    __attribute__((noinline));
static int	 vionet_init(struct devproc *, const struct devop_start *,
		    struct vmop_fdset *, struct devop_ready *, char *, size_t);
static void	 vionet_notify(struct devproc *, struct virtq *);
static void	 vionet_reset(struct devproc *);
static void	 vionet_pause(struct devproc *);
static void	 vionet_fini(struct devproc *);
static void	 vionet_rx_run(struct vionet_proc *);
static void	 vionet_tx_run(struct vionet_proc *);

/*
 * Beyond the device sandbox: the tap's offloads and header size are set
 * with ioctl on the tap (the only descriptor it has that takes one).
 */
static const int vionet_sc_tap[] = { SYS_ioctl };
static const struct sandbox_calls vionet_calls[] = {
	SANDBOX_CALLS("TUNSETOFFLOAD and TUNSETVNETHDRSZ on the tap",
	    vionet_sc_tap),
	{ NULL, NULL, 0 }
};

const struct devproc_ops vionet_ops = {
	.name = "vionet",
	.fdkind = VMOP_FD_TAP,
	.calls = vionet_calls,
	.init = vionet_init,
	.notify = vionet_notify,
	.reset = vionet_reset,
	.pause = vionet_pause,
	.fini = vionet_fini
};

#endif

static uint16_t
get16be(const uint8_t *p)
{
	return ((uint16_t)(p[0] << 8 | p[1]));
}

static void
put16le(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

/* What the tap takes from its reader, probed on the tap and left off. */
static unsigned int
tap_offloads(int fd)
{
	static const unsigned int	 steps[] = {
		TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN
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
 * Set an interface up on tapfd (not a tap: a test's socket or /dev/null
 * will do, with no offloads): the features it offers follow what the
 * tap can do.  dhcp is the responder's lease for a local interface.
 */
int
vionet_setup(struct vionet *sc, int tapfd, const uint8_t *mac,
    uint32_t flags, const struct dhcp_conf *dhcp)
{
	int	 hdr = VIONET_HDR_LEN;

	memset(sc, 0, sizeof(*sc));
	sc->tapfd = tapfd;
	sc->flags = flags;
	memcpy(sc->mac, mac, NET_ETHER_LEN);
	if (dhcp != NULL)
		sc->dhcp = *dhcp;
	if ((sc->buf = malloc(VIONET_BUF_MAX)) == NULL)
		return (-1);
	/* priv set it already; a tap of somebody else's might not have */
	(void)ioctl(tapfd, TUNSETVNETHDRSZ, &hdr);
	sc->tap_offloads = tap_offloads(tapfd);
	sc->offered = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS |
	    VIRTIO_NET_F_MRG_RXBUF;
	if (sc->tap_offloads & TUN_F_CSUM) {
		/* a tap takes partial checksums and TSO frames written */
		sc->offered |= VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM |
		    VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6 |
		    VIRTIO_NET_F_HOST_ECN;
		if (sc->tap_offloads & TUN_F_TSO4)
			sc->offered |= VIRTIO_NET_F_GUEST_TSO4;
		if (sc->tap_offloads & TUN_F_TSO6)
			sc->offered |= VIRTIO_NET_F_GUEST_TSO6;
		if ((sc->tap_offloads & TUN_F_TSO_ECN) &&
		    (sc->tap_offloads & (TUN_F_TSO4 | TUN_F_TSO6)))
			sc->offered |= VIRTIO_NET_F_GUEST_ECN;
	}
	sc->hdrlen = VIONET_HDR_LEN;
	return (0);
}

void
vionet_cleanup(struct vionet *sc)
{
	free(sc->buf);
	sc->buf = NULL;
}

/*
 * The driver's features, as a queue brought them: the header length
 * and what the tap may hand us follow.
 */
void
vionet_features(struct vionet *sc, uint64_t features)
{
	unsigned int	 want = 0;

	features &= sc->offered | VIRTIO_F_VERSION_1;
	sc->features = features;
	sc->hdrlen = (features & (VIRTIO_F_VERSION_1 |
	    VIRTIO_NET_F_MRG_RXBUF)) ? VIONET_HDR_LEN : VIONET_HDR_LEN_LEGACY;
	if (features & VIRTIO_NET_F_GUEST_CSUM) {
		want |= TUN_F_CSUM;
		if (features & VIRTIO_NET_F_GUEST_TSO4)
			want |= TUN_F_TSO4;
		if (features & VIRTIO_NET_F_GUEST_TSO6)
			want |= TUN_F_TSO6;
		if ((features & VIRTIO_NET_F_GUEST_ECN) &&
		    (want & (TUN_F_TSO4 | TUN_F_TSO6)))
			want |= TUN_F_TSO_ECN;
	}
	want &= sc->tap_offloads;
	if (want == sc->tap_on)
		return;
	if (ioctl(sc->tapfd, TUNSETOFFLOAD, (unsigned long)want) == -1) {
		log_warn("tap offloads 0x%x", want);
		want = 0;
		(void)ioctl(sc->tapfd, TUNSETOFFLOAD, 0UL);
	}
	sc->tap_on = want;
}

/*
 * Where a guest frame goes: p holds the first plen of its len bytes,
 * the header included (at least header + 42 bytes if there are so many,
 * enough for the UDP ports of a plain IPv4 header).
 */
enum vionet_tx
vionet_tx_class(const struct vionet *sc, const uint8_t *p, size_t plen,
    size_t len)
{
	const uint8_t	*eh, *ip;
	size_t		 ihl;

	if (len < sc->hdrlen + VIONET_ETHER_HDR ||
	    plen < sc->hdrlen + VIONET_ETHER_HDR)
		return (VIONET_TX_SHORT);
	if (len - sc->hdrlen > VIONET_FRAME_MAX)
		return (VIONET_TX_LONG);
	eh = p + sc->hdrlen;
	if ((sc->flags & VMOP_NIC_LOCKED) &&
	    memcmp(eh + 6, sc->mac, NET_ETHER_LEN) != 0)
		return (VIONET_TX_SPOOF);
	if (!(sc->flags & VMOP_NIC_LOCAL))
		return (VIONET_TX_SEND);
	/* IPv4, UDP, to port 67: the responder's, whatever it says */
	plen -= sc->hdrlen + VIONET_ETHER_HDR;
	ip = eh + VIONET_ETHER_HDR;
	if (get16be(eh + 12) != ETHERTYPE_IPV4 || plen < 20 ||
	    (ip[0] >> 4) != 4 || ip[9] != IP_PROTO_UDP)
		return (VIONET_TX_SEND);
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	if (ihl < 20 || plen < ihl + 4)
		return (VIONET_TX_SEND);
	if (get16be(ip + ihl + 2) != PORT_DHCP_SERVER)
		return (VIONET_TX_SEND);
	return (VIONET_TX_DHCP);
}

/* Queue a DHCP answer for the guest, with a header saying nothing. */
static void
vionet_inject(struct vionet *sc, const uint8_t *frame, size_t len)
{
	uint8_t	*p;

	if (sc->ninject >= VIONET_INJECT_MAX || len > DHCP_FRAME_MAX) {
		sc->st.rx_dropped++;
		return;
	}
	p = sc->inject[sc->ninject];
	memset(p, 0, VIONET_HDR_LEN);
	memcpy(p + VIONET_HDR_LEN, frame, len);
	sc->inject_len[sc->ninject++] = VIONET_HDR_LEN + len;
}

/*
 * Out of line: with ASan, gcc's object-size tracking takes the frame's
 * header in txiov[0] for the size of the whole vector and refuses to
 * build (-Wstringop-overread).
 */
static ssize_t
vionet_writev(int fd, const struct iovec *iov, int n)
{
	return (writev(fd, iov, n));
}

/*
 * The guest's header, made safe for the tap: offloads the driver did not
 * negotiate are not asked of the kernel, and the tap's header is always
 * VIONET_HDR_LEN long.
 */
static void
tx_header(const struct vionet *sc, const uint8_t *in, uint8_t *out)
{
	uint8_t	 gso;

	memset(out, 0, VIONET_HDR_LEN);
	memcpy(out, in, VIONET_HDR_LEN_LEGACY);
	put16le(out + VIONET_HDR_NUM_BUFFERS, 0);
	if (!(sc->features & VIRTIO_NET_F_CSUM))
		out[0] &= ~HDR_F_NEEDS_CSUM;
	out[0] &= HDR_F_NEEDS_CSUM;
	gso = out[1] & ~HDR_GSO_ECN;
	if ((gso == HDR_GSO_TCPV4 &&
	    !(sc->features & VIRTIO_NET_F_HOST_TSO4)) ||
	    (gso == HDR_GSO_TCPV6 &&
	    !(sc->features & VIRTIO_NET_F_HOST_TSO6)) ||
	    (gso != HDR_GSO_NONE && gso != HDR_GSO_TCPV4 &&
	    gso != HDR_GSO_TCPV6) ||
	    ((out[1] & HDR_GSO_ECN) &&
	    !(sc->features & VIRTIO_NET_F_HOST_ECN)) ||
	    !(out[0] & HDR_F_NEEDS_CSUM))
		out[1] = HDR_GSO_NONE;
	if (out[1] == HDR_GSO_NONE) {
		put16le(out + 2, 0);	/* hdr_len */
		put16le(out + 4, 0);	/* gso_size */
	}
}

/*
 * One chain the guest sent: to the tap, the responder, or nowhere.
 * Returns 0, or -1 if the tap failed for good.
 */
int
vionet_tx_chain(struct vionet *sc, const struct virtq_chain *c)
{
	uint8_t		 peek[VIONET_HDR_LEN + VIONET_ETHER_HDR + 64];
	uint8_t		 hdr[VIONET_HDR_LEN];
	uint8_t		 frame[DHCP_FRAME_MAX], out[DHCP_FRAME_MAX];
	size_t		 plen, off, n, flen;
	ssize_t		 w;
	int		 i, niov;

	plen = virtq_chain_read(c, 0, peek, sizeof(peek));
	switch (vionet_tx_class(sc, peek, plen, c->rlen)) {
	case VIONET_TX_SHORT:
	case VIONET_TX_LONG:
		sc->st.tx_bad++;
		return (0);
	case VIONET_TX_SPOOF:
		sc->st.tx_spoofed++;
		return (0);
	case VIONET_TX_DHCP:
		sc->st.tx_dhcp++;
		flen = c->rlen - sc->hdrlen;
		if (flen > sizeof(frame))
			return (0);
		if (virtq_chain_read(c, sc->hdrlen, frame, flen) != flen)
			return (0);
		if ((n = dhcp_answer(&sc->dhcp, frame, flen, 0, out,
		    sizeof(out), NULL)) > 0)
			vionet_inject(sc, out, n);
		return (0);
	case VIONET_TX_SEND:
		break;
	}

	/* the safe header, then the chain's readable part past its own */
	tx_header(sc, peek, hdr);
	sc->txiov[0].iov_base = hdr;
	sc->txiov[0].iov_len = sizeof(hdr);
	niov = 1;
	off = sc->hdrlen;
	for (i = 0; i < c->nread && niov < VIONET_IOV_MAX; i++) {
		if (off >= c->iov[i].iov_len) {
			off -= c->iov[i].iov_len;
			continue;
		}
		sc->txiov[niov].iov_base = (uint8_t *)c->iov[i].iov_base + off;
		sc->txiov[niov].iov_len = c->iov[i].iov_len - off;
		off = 0;
		niov++;
	}
	if (i < c->nread) {
		sc->st.tx_bad++;
		return (0);
	}
	w = vionet_writev(sc->tapfd, sc->txiov, niov);
	if (w == -1) {
		/* full, or a frame the kernel refused: dropped either way */
		sc->st.tx_dropped++;
		if (errno == EAGAIN || errno == EINVAL || errno == ENOBUFS ||
		    errno == EMSGSIZE)
			return (0);
		return (-1);
	}
	sc->st.tx_frames++;
	sc->st.tx_bytes += c->rlen - sc->hdrlen;
	return (0);
}

/*
 * Drain the transmit queue, at most budget chains: how many it took
 * (budget: there may be more), or -1 if the queue broke.  The driver is
 * asked not to notify while we drain, and again once it is empty.
 */
int
vionet_tx_queue(struct vionet *sc, struct virtq *vq, int budget)
{
	struct iovec		 iov[VIONET_IOV_MAX];
	struct virtq_chain	 c;
	int			 i, r;

	virtq_notify_off(vq);
	for (i = 0; i < budget; i++) {
		c.iov = iov;
		c.max = VIONET_IOV_MAX;
		if ((r = virtq_pop(vq, &c)) == -1)
			return (-1);
		if (r == 0) {
			if (virtq_notify_on(vq)) {
				virtq_notify_off(vq);
				i--;
				continue;
			}
			return (i);
		}
		if (vionet_tx_chain(sc, &c) == -1 && sc->tap_errno == 0)
			sc->tap_errno = errno;
		(void)virtq_push(vq, c.head, 0);
	}
	return (i);
}

/*
 * May a tap frame (its header included) go to the guest?  A locked
 * interface takes unicast only for its own MAC.
 */
int
vionet_rx_want(const struct vionet *sc, const uint8_t *p, size_t len)
{
	const uint8_t	*dst = p + VIONET_HDR_LEN;

	if (len < VIONET_HDR_LEN + VIONET_ETHER_HDR)
		return (0);
	if ((sc->flags & VMOP_NIC_LOCKED) && !(dst[0] & 1) &&
	    memcmp(dst, sc->mac, NET_ETHER_LEN) != 0)
		return (0);
	return (1);
}

/* Give n used chains back at once, so a merged frame appears whole. */
static void
rx_push(struct virtq *vq, const struct virtq_chain *c, const uint32_t *lens,
    uint16_t n)
{
	uint16_t	 i;

	for (i = 0; i < n; i++)
		(void)virtq_push_nopublish(vq, c[i].head, lens[i]);
	virtq_publish(vq);
}

/*
 * One frame p (len bytes with the tap's header) into the guest's
 * receive queue: 1 when placed (or dropped for good: too big for what
 * the guest gives), 0 when the queue has no room yet (the frame must
 * wait), -1 when the queue broke.
 */
int
vionet_rx_deliver(struct vionet *sc, struct virtq *vq, const uint8_t *p,
    size_t len)
{
	struct vionet_held	*h = &sc->held;
	uint32_t		 lens[VIONET_MRG_MAX];
	uint64_t		 cap = 0;
	size_t			 skip, total, off, n;
	uint16_t		 i, used, max;
	int			 r;

	if (len < VIONET_HDR_LEN)
		return (1);
	/* a header of hdrlen, then the frame */
	skip = VIONET_HDR_LEN - sc->hdrlen;
	total = len - skip;
	max = (sc->features & VIRTIO_NET_F_MRG_RXBUF) ? VIONET_MRG_MAX : 1;
	/* chains held from a queue that was set up again are not ours */
	if (h->n > 0 && (h->desc != vq->st.desc ||
	    h->last_avail != vq->st.last_avail))
		h->n = 0;
	for (i = 0; i < h->n; i++)
		cap += h->c[i].wlen;
	while (cap < total && h->n < max) {
		h->c[h->n].iov = h->iov[h->n];
		h->c[h->n].max = VIONET_IOV_MAX;
		if ((r = virtq_pop(vq, &h->c[h->n])) == -1) {
			h->n = 0;
			return (-1);
		}
		if (r == 0)
			return (0);
		cap += h->c[h->n].wlen;
		h->n++;
		h->last_avail = vq->st.last_avail;
		h->desc = vq->st.desc;
	}
	if (cap < total || h->c[0].wlen < sc->hdrlen) {
		/* too big for the buffers the guest posts: given back empty */
		memset(lens, 0, sizeof(lens));
		rx_push(vq, h->c, lens, h->n);
		h->n = 0;
		sc->st.rx_dropped++;
		return (1);
	}
	off = 0;
	used = 0;
	while (off < total) {
		n = total - off;
		if (n > h->c[used].wlen)
			n = h->c[used].wlen;
		if (off < sc->hdrlen) {
			/* the header in the first chain, whole */
			(void)virtq_chain_write(&h->c[used], 0, p, sc->hdrlen);
			(void)virtq_chain_write(&h->c[used], sc->hdrlen,
			    p + VIONET_HDR_LEN, n - sc->hdrlen);
		} else
			(void)virtq_chain_write(&h->c[used], 0,
			    p + skip + off, n);
		lens[used++] = (uint32_t)n;
		off += n;
	}
	if (sc->hdrlen == VIONET_HDR_LEN) {
		uint8_t	 nb[2];

		put16le(nb, used);
		(void)virtq_chain_write(&h->c[0], VIONET_HDR_NUM_BUFFERS, nb,
		    sizeof(nb));
	}
	rx_push(vq, h->c, lens, used);
	/* what is left stays held for the next frame */
	for (i = used; i < h->n; i++) {
		h->c[i - used] = h->c[i];
		memcpy(h->iov[i - used], h->iov[i], sizeof(h->iov[i]));
		h->c[i - used].iov = h->iov[i - used];
	}
	h->n -= used;
	sc->st.rx_frames++;
	sc->st.rx_bytes += total - sc->hdrlen;
	return (1);
}

#ifndef VIONET_ENGINE_ONLY
static void
tap_watch(struct vionet_proc *vp, int on)
{
	if (on == vp->tap_watched)
		return;
	if (on ? event_add(&vp->ev_tap, NULL) : event_del(&vp->ev_tap))
		log_warnx("cannot %s the tap", on ? "watch" : "unwatch");
	else
		vp->tap_watched = on;
}

/* Read and drop what the tap has, for want of a queue. */
static void
rx_discard(struct vionet_proc *vp)
{
	struct vionet	*sc = &vp->net;
	int		 i;

	for (i = 0; i < VIONET_BUDGET; i++) {
		if (read(sc->tapfd, sc->buf, VIONET_BUF_MAX) <= 0)
			return;
		sc->st.rx_dropped++;
	}
}

static void
vionet_rx_run(struct vionet_proc *vp)
{
	struct vionet	*sc = &vp->net;
	struct virtq	*vq;
	ssize_t		 n;
	int		 i, r, more = 0;

	if ((vq = devproc_queue(vp->dp, VIONET_RXQ)) == NULL) {
		sc->pending = 0;
		sc->ninject = 0;
		rx_discard(vp);
		return;
	}
	vionet_features(sc, vq->st.features);
	for (i = 0; i < VIONET_BUDGET; i++) {
		if (sc->ninject > 0) {
			r = vionet_rx_deliver(sc, vq, sc->inject[0],
			    sc->inject_len[0]);
			if (r == 1) {
				sc->ninject--;
				memmove(sc->inject[0], sc->inject[1],
				    sc->ninject * sizeof(sc->inject[0]));
				memmove(sc->inject_len, sc->inject_len + 1,
				    sc->ninject * sizeof(sc->inject_len[0]));
				continue;
			}
		} else if (sc->pending == 0) {
			n = read(sc->tapfd, sc->buf, VIONET_BUF_MAX);
			if (n <= 0) {
				if (n == -1 && errno != EAGAIN)
					log_warn("tap read");
				break;
			}
			if (!vionet_rx_want(sc, sc->buf, (size_t)n)) {
				sc->st.rx_filtered++;
				continue;
			}
			sc->pending = (size_t)n;
			r = vionet_rx_deliver(sc, vq, sc->buf, sc->pending);
			if (r == 1)
				sc->pending = 0;
		} else {
			r = vionet_rx_deliver(sc, vq, sc->buf, sc->pending);
			if (r == 1)
				sc->pending = 0;
		}
		if (r == -1) {
			devproc_queue_error(vp->dp, vq);
			sc->pending = 0;
			return;
		}
		if (r == 0) {
			/*
			 * No room: stop reading the tap until the driver
			 * posts buffers (its kick runs us again).
			 */
			if (virtq_notify_on(vq))
				continue;
			tap_watch(vp, 0);
			(void)virtq_interrupt(vq);
			return;
		}
	}
	if (i == VIONET_BUDGET)
		more = 1;
	(void)virtq_interrupt(vq);
	tap_watch(vp, 1);
	if (more)
		event_active(&vp->ev_more, EV_TIMEOUT, 0);
}

static void
vionet_tx_run(struct vionet_proc *vp)
{
	struct vionet		*sc = &vp->net;
	struct virtq		*vq;
	int			 r;

	if ((vq = devproc_queue(vp->dp, VIONET_TXQ)) == NULL)
		return;
	vionet_features(sc, vq->st.features);
	if ((r = vionet_tx_queue(sc, vq, VIONET_BUDGET)) == -1) {
		devproc_queue_error(vp->dp, vq);
		return;
	}
	/* a tap that fails is said once; frames go on dropping */
	if (sc->tap_errno != 0 && !vp->tap_failed) {
		errno = sc->tap_errno;
		log_warn("tap write");
		vp->tap_failed = 1;
	}
	(void)virtq_interrupt(vq);
	if (r == VIONET_BUDGET)
		event_active(&vp->ev_more, EV_TIMEOUT, 0);
	/* DHCP answers wait for the receive side */
	if (sc->ninject > 0)
		vionet_rx_run(vp);
}

static void
vionet_tap_ready(int fd, short events, void *arg)
{
	vionet_rx_run(arg);
}

static void
vionet_more(int fd, short events, void *arg)
{
	struct vionet_proc	*vp = arg;

	if (devproc_queue(vp->dp, VIONET_TXQ) != NULL)
		vionet_tx_run(vp);
	vionet_rx_run(vp);
}

static int
vionet_init(struct devproc *dp, const struct devop_start *ds,
    struct vmop_fdset *fds, struct devop_ready *ready, char *err,
    size_t errlen)
{
	const struct vmop_nic	*nic = &ds->ds_nic;
	struct vionet_proc	*vp;
	struct dhcp_conf	 dhcp;
	int			 tapfd;

	if ((tapfd = vmop_fdset_take(fds, VMOP_FD_TAP, 0, 0)) == -1) {
		(void)snprintf(err, errlen, "no tap");
		return (-1);
	}
	if ((vp = calloc(1, sizeof(*vp))) == NULL) {
		close(tapfd);
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	memset(&dhcp, 0, sizeof(dhcp));
	memcpy(dhcp.mac, nic->vn_lladdr, sizeof(dhcp.mac));
	memcpy(dhcp.hostmac, nic->vn_hostmac, sizeof(dhcp.hostmac));
	dhcp.guest.s_addr = nic->vn_guest4;
	dhcp.host.s_addr = nic->vn_host4;
	dhcp.netmask.s_addr = nic->vn_mask4;
	(void)snprintf(dhcp.hostname, sizeof(dhcp.hostname), "%s",
	    ds->ds_vmname);
	dhcp.pxeboot = (nic->vn_flags & VMOP_NIC_PXE) != 0;
	if (vionet_setup(&vp->net, tapfd, nic->vn_lladdr, nic->vn_flags,
	    &dhcp) == -1) {
		close(tapfd);
		free(vp);
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	vp->dp = dp;
	event_assign(&vp->ev_tap, devproc_evbase(dp), tapfd,
	    EV_READ | EV_PERSIST, vionet_tap_ready, vp);
	event_assign(&vp->ev_more, devproc_evbase(dp), -1, 0, vionet_more,
	    vp);
	devproc_set_softc(dp, vp);

	memcpy(vp->config + VIONET_CFG_MAC, nic->vn_lladdr, NET_ETHER_LEN);
	put16le(vp->config + VIONET_CFG_STATUS, VIRTIO_NET_S_LINK_UP);
	ready->dr_features = vp->net.offered;
	ready->dr_nqueues = VIONET_NQUEUES;
	ready->dr_queue_max = VIONET_QUEUE_SIZE;
	ready->dr_config_len = sizeof(vp->config);
	memcpy(ready->dr_config, vp->config, sizeof(vp->config));
	log_debug("%s: %02x:%02x:%02x:%02x:%02x:%02x, offloads 0x%x%s%s",
	    nic->vn_ifname, nic->vn_lladdr[0], nic->vn_lladdr[1],
	    nic->vn_lladdr[2], nic->vn_lladdr[3], nic->vn_lladdr[4],
	    nic->vn_lladdr[5], vp->net.tap_offloads,
	    (nic->vn_flags & VMOP_NIC_LOCKED) ? ", locked" : "",
	    (nic->vn_flags & VMOP_NIC_LOCAL) ? ", local" : "");
	return (0);
}

static void
vionet_notify(struct devproc *dp, struct virtq *vq)
{
	struct vionet_proc	*vp = devproc_softc(dp);

	if (vq->st.index == VIONET_TXQ)
		vionet_tx_run(vp);
	else
		vionet_rx_run(vp);
}

/* The queues go: so do frames held for them. */
static void
vionet_reset(struct devproc *dp)
{
	struct vionet_proc	*vp = devproc_softc(dp);

	vp->net.held.n = 0;
	vp->net.pending = 0;
	vp->net.ninject = 0;
	tap_watch(vp, 0);
}

static void
vionet_pause(struct devproc *dp)
{
	struct vionet_proc	*vp = devproc_softc(dp);

	tap_watch(vp, 0);
	event_del(&vp->ev_more);
}

static void
vionet_fini(struct devproc *dp)
{
	struct vionet_proc	*vp = devproc_softc(dp);
	struct vionet_stats	*s = &vp->net.st;

	if (vp == NULL)
		return;
	log_debug("tx %llu frames %llu bytes, %llu dropped, %llu bad, "
	    "%llu spoofed, %llu dhcp; rx %llu frames %llu bytes, %llu "
	    "dropped, %llu filtered",
	    (unsigned long long)s->tx_frames, (unsigned long long)s->tx_bytes,
	    (unsigned long long)s->tx_dropped, (unsigned long long)s->tx_bad,
	    (unsigned long long)s->tx_spoofed, (unsigned long long)s->tx_dhcp,
	    (unsigned long long)s->rx_frames, (unsigned long long)s->rx_bytes,
	    (unsigned long long)s->rx_dropped,
	    (unsigned long long)s->rx_filtered);
	tap_watch(vp, 0);
	event_del(&vp->ev_more);
	close(vp->net.tapfd);
	vionet_cleanup(&vp->net);
	free(vp);
	devproc_set_softc(dp, NULL);
}
#endif /* VIONET_ENGINE_ONLY */
