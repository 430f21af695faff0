/*
 * ns8250.c: a 16550A UART (COM1) backed by a pty.  The register model
 * (divisor, FIFOs, interrupt identification, loopback, modem lines)
 * is kept apart from the pty plumbing: transmitted bytes go into a bounded
 * ring that the event loop drains into the pty master, and received bytes
 * are read from the pty only while the receive FIFO has room.  A vCPU must
 * never block here on console output: when nobody reads the pty the
 * oldest output is dropped instead.  Input is never dropped: when the
 * FIFO is full the pty is simply not read until the guest drains it.
 * The interrupt output is a level that is reported only when it changes.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "dev.h"
#include "vm.h"

/* register offsets */
#define COM_DATA	0	/* RBR read, THR write; DLL with DLAB */
#define COM_IER		1	/* DLM with DLAB */
#define COM_IIR		2	/* IIR read, FCR write */
#define COM_LCR		3
#define COM_MCR		4
#define COM_LSR		5
#define COM_MSR		6
#define COM_SCR		7
#define COM_NPORTS	8

#define IER_ERBFI	0x01	/* received data available */
#define IER_ETBEI	0x02	/* transmitter holding register empty */
#define IER_ELSI	0x04	/* receiver line status */
#define IER_EDSSI	0x08	/* modem status */
#define IER_MASK	0x0f

#define IIR_NOPEND	0x01
#define IIR_MLSC	0x00
#define IIR_TXRDY	0x02
#define IIR_RXRDY	0x04
#define IIR_RLS		0x06
#define IIR_RXTOUT	0x0c
#define IIR_FIFO	0xc0	/* FIFOs enabled, as a 16550A shows them */

#define FCR_ENABLE	0x01
#define FCR_RCV_RST	0x02
#define FCR_XMT_RST	0x04
#define FCR_TRIGGER	0xc0

#define LCR_DLAB	0x80

#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define MCR_MASK	0x1f

#define LSR_DR		0x01
#define LSR_OE		0x02
#define LSR_PE		0x04
#define LSR_FE		0x08
#define LSR_BI		0x10
#define LSR_THRE	0x20
#define LSR_TEMT	0x40
#define LSR_ERRORS	(LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS	0x01
#define MSR_DDSR	0x02
#define MSR_TERI	0x04
#define MSR_DDCD	0x08
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80
#define MSR_DELTAS	0x0f
/* A pty is always "connected": carrier, data set ready, clear to send. */
#define MSR_PTY		(MSR_DCD | MSR_DSR | MSR_CTS)

#define RX_FIFO_SIZE	16
#define TX_RING_SIZE	(64 * 1024)

struct ns8250 {
	struct device	*dev;
	uint16_t	 base;
	uint32_t	 irq;
	int		 fd;		/* pty master, or -1 */

	uint8_t		 ier, lcr, mcr, lsr, msr, scr, dll, dlm, fcr;
	int		 thre_pending;	/* THRE interrupt latched */
	int		 irq_level;	/* what we last told the PIC */

	uint8_t		 rx[RX_FIFO_SIZE];
	size_t		 rx_head, rx_count;

	uint8_t		*tx;		/* ring of TX_RING_SIZE */
	size_t		 tx_head, tx_len;
	uint64_t	 tx_drops;
	int		 tx_err_logged;
	int		 tx_waiting;	/* ev_write is added */

	struct event	*ev_read;
	struct event	*ev_write;
	int		 reading;	/* ev_read is added */
	int		 rx_dead;	/* EOF or error on the master */
	int		 paused;
};

static int	 ns8250_attach(struct device *, const struct dev_attach_args *);
static void	 ns8250_io(struct device *, enum dev_space, uint64_t, int,
		    uint8_t *, int);
static void	 ns8250_reset(struct device *);
static void	 ns8250_pause(struct device *);
static void	 ns8250_resume(struct device *);
static void	 ns8250_detach(struct device *);

const struct devsw ns8250_devsw = {
	.name = "ns8250",
	.attach = ns8250_attach,
	.io = ns8250_io,
	.reset = ns8250_reset,
	.pause = ns8250_pause,
	.resume = ns8250_resume,
	.detach = ns8250_detach
};

static size_t
rx_capacity(const struct ns8250 *sc)
{
	/* without FIFOs the 16550 holds one received byte */
	return ((sc->fcr & FCR_ENABLE) ? RX_FIFO_SIZE : 1);
}

static size_t
rx_trigger(const struct ns8250 *sc)
{
	static const size_t	 level[4] = { 1, 4, 8, 14 };

	if (!(sc->fcr & FCR_ENABLE))
		return (1);
	return (level[(sc->fcr & FCR_TRIGGER) >> 6]);
}

/*
 * IIR in priority order.  Data below the trigger level is reported as a
 * character timeout at once: emulated characters arrive in bursts, so
 * waiting four character times would only add latency.
 */
static uint8_t
ns8250_iir(const struct ns8250 *sc)
{
	if ((sc->ier & IER_ELSI) && (sc->lsr & LSR_ERRORS))
		return (IIR_RLS);
	if ((sc->ier & IER_ERBFI) && sc->rx_count > 0)
		return (sc->rx_count >= rx_trigger(sc) ? IIR_RXRDY :
		    IIR_RXTOUT);
	if ((sc->ier & IER_ETBEI) && sc->thre_pending)
		return (IIR_TXRDY);
	if ((sc->ier & IER_EDSSI) && (sc->msr & MSR_DELTAS))
		return (IIR_MLSC);
	return (IIR_NOPEND);
}

/*
 * OUT2 does not gate the line here as it does on a PC board: QEMU and
 * bhyve do not gate it either and guests written against them may not
 * set it.
 */
static void
ns8250_update_irq(struct ns8250 *sc)
{
	int	 level = (ns8250_iir(sc) != IIR_NOPEND);

	if (level != sc->irq_level) {
		sc->irq_level = level;
		dev_irq(sc->dev, sc->irq, level);
	}
}

/* Read the pty again if it was stopped for a full FIFO. */
static void
ns8250_rx_resume(struct ns8250 *sc)
{
	if (sc->ev_read == NULL || sc->reading || sc->rx_dead || sc->paused)
		return;
	if (sc->rx_count >= rx_capacity(sc))
		return;
	if (event_add(sc->ev_read, NULL) == -1) {
		log_warnx("ns8250: event_add read");
		return;
	}
	sc->reading = 1;
}

static void
rx_clear(struct ns8250 *sc)
{
	sc->rx_head = sc->rx_count = 0;
	sc->lsr &= ~LSR_DR;
}

/* A byte into the receive FIFO; a full FIFO is an overrun. */
static void
rx_push(struct ns8250 *sc, uint8_t c)
{
	if (sc->rx_count >= rx_capacity(sc)) {
		sc->lsr |= LSR_OE;
		return;
	}
	sc->rx[(sc->rx_head + sc->rx_count) % RX_FIFO_SIZE] = c;
	sc->rx_count++;
	sc->lsr |= LSR_DR;
}

static uint8_t
rx_pop(struct ns8250 *sc)
{
	uint8_t	 c;

	if (sc->rx_count == 0)
		return (0);
	c = sc->rx[sc->rx_head];
	sc->rx_head = (sc->rx_head + 1) % RX_FIFO_SIZE;
	if (--sc->rx_count == 0)
		sc->lsr &= ~LSR_DR;
	ns8250_rx_resume(sc);
	return (c);
}

/*
 * Write as much of the ring as the pty takes.  Returns 1 if bytes remain
 * that the pty may take later (EAGAIN), 0 otherwise.
 */
static int
tx_flush(struct ns8250 *sc)
{
	size_t	 chunk;
	ssize_t	 n;

	while (sc->tx_len > 0 && sc->fd != -1) {
		chunk = TX_RING_SIZE - sc->tx_head;
		if (chunk > sc->tx_len)
			chunk = sc->tx_len;
		n = write(sc->fd, sc->tx + sc->tx_head, chunk);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return (1);
			/*
			 * No reader can appear without a writable master;
			 * keep the bytes and retry on the next guest write
			 * only, so a dead pty never makes us spin.
			 */
			if (!sc->tx_err_logged)
				log_debug("ns8250: write: %s",
				    strerror(errno));
			sc->tx_err_logged = 1;
			return (0);
		}
		sc->tx_err_logged = 0;
		sc->tx_head = (sc->tx_head + n) % TX_RING_SIZE;
		sc->tx_len -= n;
	}
	return (0);
}

static void
tx_wait(struct ns8250 *sc)
{
	if (sc->paused || sc->ev_write == NULL || sc->tx_waiting)
		return;
	if (event_add(sc->ev_write, NULL) == -1) {
		log_warnx("ns8250: event_add write");
		return;
	}
	sc->tx_waiting = 1;
}

/* A transmitted byte; the oldest one goes if the ring is full. */
static void
tx_push(struct ns8250 *sc, uint8_t c)
{
	if (sc->tx_len == TX_RING_SIZE) {
		sc->tx_head = (sc->tx_head + 1) % TX_RING_SIZE;
		sc->tx_len--;
		if (sc->tx_drops++ == 0 || sc->tx_drops % 65536 == 0)
			log_debug("ns8250: console output dropped, %llu bytes"
			    " so far", (unsigned long long)sc->tx_drops);
	}
	sc->tx[(sc->tx_head + sc->tx_len) % TX_RING_SIZE] = c;
	sc->tx_len++;
	/*
	 * While the write event waits it owns the ring; writing here too
	 * would only cost a failing syscall per byte.
	 */
	if (sc->tx_waiting || sc->paused)
		return;
	if (tx_flush(sc))
		tx_wait(sc);
}

static void
ns8250_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ns8250	*sc = arg;

	pthread_mutex_lock(&sc->dev->lock);
	sc->tx_waiting = 0;
	if (!sc->paused && tx_flush(sc))
		tx_wait(sc);
	pthread_mutex_unlock(&sc->dev->lock);
}

static void
ns8250_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ns8250	*sc = arg;
	uint8_t		 buf[RX_FIFO_SIZE];
	size_t		 room, i;
	ssize_t		 n;

	pthread_mutex_lock(&sc->dev->lock);
	room = rx_capacity(sc) - sc->rx_count;
	if (room == 0 || sc->paused) {
		/* our own event: deleting it here cannot wait on ourselves */
		event_del(sc->ev_read);
		sc->reading = 0;
		goto out;
	}
	n = read(sc->fd, buf, room);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		goto out;
	if (n <= 0) {
		if (n == 0)
			log_debug("ns8250: console eof");
		else
			log_debug("ns8250: read: %s", strerror(errno));
		event_del(sc->ev_read);
		sc->reading = 0;
		sc->rx_dead = 1;
		goto out;
	}
	for (i = 0; i < (size_t)n; i++)
		rx_push(sc, buf[i]);
	if (sc->rx_count >= rx_capacity(sc)) {
		event_del(sc->ev_read);
		sc->reading = 0;
	}
	ns8250_update_irq(sc);
 out:
	pthread_mutex_unlock(&sc->dev->lock);
}

/* Modem status inputs as MCR drives them in loopback, else the pty's. */
static void
ns8250_update_msr(struct ns8250 *sc)
{
	uint8_t	 in = MSR_PTY, old = sc->msr, delta = 0;

	if (sc->mcr & MCR_LOOP) {
		in = 0;
		if (sc->mcr & MCR_RTS)
			in |= MSR_CTS;
		if (sc->mcr & MCR_DTR)
			in |= MSR_DSR;
		if (sc->mcr & MCR_OUT1)
			in |= MSR_RI;
		if (sc->mcr & MCR_OUT2)
			in |= MSR_DCD;
	}
	if ((old ^ in) & MSR_CTS)
		delta |= MSR_DCTS;
	if ((old ^ in) & MSR_DSR)
		delta |= MSR_DDSR;
	if ((old & MSR_RI) && !(in & MSR_RI))
		delta |= MSR_TERI;
	if ((old ^ in) & MSR_DCD)
		delta |= MSR_DDCD;
	sc->msr = in | ((old | delta) & MSR_DELTAS);
}

static void
ns8250_power_on(struct ns8250 *sc)
{
	sc->ier = 0;
	sc->lcr = 0x03;		/* 8N1 */
	sc->mcr = 0;
	sc->lsr = LSR_THRE | LSR_TEMT;
	sc->msr = MSR_PTY;
	sc->scr = 0;
	sc->dll = 12;		/* 9600 baud */
	sc->dlm = 0;
	sc->fcr = 0;
	sc->thre_pending = 0;
	rx_clear(sc);
}

static void
ns8250_write_thr(struct ns8250 *sc, uint8_t v)
{
	sc->thre_pending = 0;
	if (sc->mcr & MCR_LOOP)
		rx_push(sc, v);
	else
		tx_push(sc, v);
	/* the byte left the holding register at once: empty again */
	sc->thre_pending = 1;
}

static void
ns8250_write_fcr(struct ns8250 *sc, uint8_t v)
{
	/* toggling the FIFO enable clears both FIFOs */
	if ((v ^ sc->fcr) & FCR_ENABLE)
		v |= FCR_RCV_RST | FCR_XMT_RST;
	if (v & FCR_RCV_RST)
		rx_clear(sc);
	sc->fcr = v & (FCR_ENABLE | FCR_TRIGGER);
	ns8250_rx_resume(sc);
}

static void
ns8250_write(struct ns8250 *sc, unsigned int reg, uint8_t v)
{
	switch (reg) {
	case COM_DATA:
		if (sc->lcr & LCR_DLAB)
			sc->dll = v;
		else
			ns8250_write_thr(sc, v);
		break;
	case COM_IER:
		if (sc->lcr & LCR_DLAB) {
			sc->dlm = v;
			break;
		}
		/* enabling ETBEI with an empty THR raises THRE again */
		if ((v & IER_ETBEI) && !(sc->ier & IER_ETBEI))
			sc->thre_pending = 1;
		sc->ier = v & IER_MASK;
		break;
	case COM_IIR:
		ns8250_write_fcr(sc, v);
		break;
	case COM_LCR:
		sc->lcr = v;
		break;
	case COM_MCR:
		sc->mcr = v & MCR_MASK;
		ns8250_update_msr(sc);
		break;
	case COM_SCR:
		sc->scr = v;
		break;
	default:
		/* LSR and MSR writes are factory test modes: ignore */
		break;
	}
}

static uint8_t
ns8250_read(struct ns8250 *sc, unsigned int reg)
{
	uint8_t	 v;

	switch (reg) {
	case COM_DATA:
		if (sc->lcr & LCR_DLAB)
			return (sc->dll);
		return (rx_pop(sc));
	case COM_IER:
		return ((sc->lcr & LCR_DLAB) ? sc->dlm : sc->ier);
	case COM_IIR:
		v = ns8250_iir(sc);
		if (v == IIR_TXRDY)
			sc->thre_pending = 0;
		return (v | ((sc->fcr & FCR_ENABLE) ? IIR_FIFO : 0));
	case COM_LCR:
		return (sc->lcr);
	case COM_MCR:
		return (sc->mcr);
	case COM_LSR:
		v = sc->lsr;
		sc->lsr &= ~LSR_ERRORS;
		return (v);
	case COM_MSR:
		v = sc->msr;
		sc->msr &= ~MSR_DELTAS;
		return (v);
	default:
		return (sc->scr);
	}
}

/* The UART is byte-wide: wider accesses are split as the ISA bus does. */
static void
ns8250_io(struct device *dev, enum dev_space space, uint64_t addr, int size,
    uint8_t *data, int write)
{
	struct ns8250	*sc = dev->softc;
	uint64_t	 reg;
	int		 i;

	for (i = 0; i < size; i++) {
		reg = addr + i - sc->base;
		if (space != DEV_SPACE_IO || reg >= COM_NPORTS) {
			if (!write)
				data[i] = 0xff;
			continue;
		}
		if (write)
			ns8250_write(sc, reg, data[i]);
		else
			data[i] = ns8250_read(sc, reg);
	}
	ns8250_update_irq(sc);
}

static int
ns8250_set_nonblock(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		log_warn("ns8250: fcntl");
		return (-1);
	}
	return (0);
}

static int
ns8250_attach(struct device *dev, const struct dev_attach_args *args)
{
	struct ns8250	*sc;
	struct event_base *evb = dev->host->evbase;

	if ((sc = calloc(1, sizeof(*sc))) == NULL ||
	    (sc->tx = malloc(TX_RING_SIZE)) == NULL) {
		log_warn("ns8250: alloc");
		free(sc);
		return (-1);
	}
	sc->dev = dev;
	sc->base = args->iobase ? args->iobase : VM_COM1_PORT;
	sc->irq = args->irq ? args->irq : VM_COM1_IRQ;
	sc->fd = args->fd;
	ns8250_power_on(sc);
	if (sc->fd != -1) {
		if (evb == NULL || ns8250_set_nonblock(sc->fd) == -1)
			goto fail;
		sc->ev_read = event_new(evb, sc->fd, EV_READ | EV_PERSIST,
		    ns8250_read_cb, sc);
		sc->ev_write = event_new(evb, sc->fd, EV_WRITE,
		    ns8250_write_cb, sc);
		if (sc->ev_read == NULL || sc->ev_write == NULL) {
			log_warnx("ns8250: event_new");
			goto fail;
		}
	}
	if (dev_claim(dev, DEV_SPACE_IO, sc->base, COM_NPORTS) == -1)
		goto fail;
	dev->softc = sc;
	ns8250_rx_resume(sc);
	return (0);
 fail:
	if (sc->ev_read != NULL)
		event_free(sc->ev_read);
	if (sc->ev_write != NULL)
		event_free(sc->ev_write);
	free(sc->tx);
	free(sc);
	return (-1);
}

/* Registers to power-on values; the console ring and pty stay. */
static void
ns8250_reset(struct device *dev)
{
	struct ns8250	*sc = dev->softc;

	pthread_mutex_lock(&dev->lock);
	ns8250_power_on(sc);
	ns8250_update_irq(sc);
	ns8250_rx_resume(sc);
	pthread_mutex_unlock(&dev->lock);
}

/*
 * The flag is set under the lock so a running callback does not re-add
 * its event; the blocking event_del runs without it, since it waits for
 * that callback, which takes the lock.
 */
static void
ns8250_pause(struct device *dev)
{
	struct ns8250	*sc = dev->softc;

	pthread_mutex_lock(&dev->lock);
	sc->paused = 1;
	pthread_mutex_unlock(&dev->lock);
	if (sc->ev_read != NULL)
		event_del(sc->ev_read);
	if (sc->ev_write != NULL)
		event_del(sc->ev_write);
	pthread_mutex_lock(&dev->lock);
	sc->reading = 0;
	sc->tx_waiting = 0;
	pthread_mutex_unlock(&dev->lock);
}

static void
ns8250_resume(struct device *dev)
{
	struct ns8250	*sc = dev->softc;

	pthread_mutex_lock(&dev->lock);
	sc->paused = 0;
	ns8250_rx_resume(sc);
	if (tx_flush(sc))
		tx_wait(sc);
	pthread_mutex_unlock(&dev->lock);
}

/* The pty descriptors belong to the caller and stay open. */
static void
ns8250_detach(struct device *dev)
{
	struct ns8250	*sc = dev->softc;

	if (sc == NULL)
		return;
	if (sc->ev_read != NULL)
		event_free(sc->ev_read);
	if (sc->ev_write != NULL)
		event_free(sc->ev_write);
	if (sc->tx_drops > 0)
		log_debug("ns8250: %llu bytes of console output dropped",
		    (unsigned long long)sc->tx_drops);
	free(sc->tx);
	free(sc);
	dev->softc = NULL;
}
