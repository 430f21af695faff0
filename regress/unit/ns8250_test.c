/*
 * ns8250_test.c: unit tests of the 16550A model in ns8250.c, alone with a
 * fake host and a real event_base pumped by hand: divisor latch, LSR,
 * IIR priorities and THRE rules, irq level changes, loopback, receive
 * flow control from a socket, the transmit ring dropping its oldest bytes
 * when nobody reads, and random register abuse.  No test may pass
 * without the device having moved the bytes it checks.
 */

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "dev.h"
#include "vm.h"
#include "regress/test.h"

#define COM	VM_COM1_PORT

struct irq_rec {
	int		 calls;
	int		 level;
	int		 repeated;	/* calls that kept the level */
	uint32_t	 irq;
};

static struct irq_rec	 rec;

static void
rec_irq(void *arg, uint32_t irq, int level)
{
	struct irq_rec	*r = arg;

	if (r->calls > 0 && r->level == level)
		r->repeated++;
	if (r->calls == 0 && level == 0)
		r->repeated++;
	r->calls++;
	r->level = level;
	r->irq = irq;
}

struct uart {
	struct devices	 set;
	struct dev_host	 host;
	struct event_base *evb;
	struct device	*dev;
};

static int
uart_open(struct uart *u, int fd)
{
	struct dev_attach_args a = { .fd = fd, .fd2 = -1 };

	memset(u, 0, sizeof(*u));
	memset(&rec, 0, sizeof(rec));
	u->evb = event_base_new();
	u->host.evbase = u->evb;
	u->host.arg = &rec;
	u->host.irq_set = rec_irq;
	dev_init(&u->set, &u->host);
	u->dev = dev_attach(&u->set, &ns8250_devsw, &a);
	return (u->dev != NULL && u->evb != NULL ? 0 : -1);
}

static void
uart_close(struct uart *u)
{
	dev_detach_all(&u->set);
	event_base_free(u->evb);
}

static void
pump(struct uart *u)
{
	event_base_loop(u->evb, EVLOOP_NONBLOCK);
}

static uint8_t
inb(struct uart *u, int reg)
{
	uint8_t	 v = 0;

	dev_io(&u->set, DEV_SPACE_IO, COM + reg, 1, &v, 0);
	return (v);
}

static void
outb(struct uart *u, int reg, uint8_t v)
{
	dev_io(&u->set, DEV_SPACE_IO, COM + reg, 1, &v, 1);
}

static void
test_attach_default(void)
{
	struct uart	 u;

	CHECK(uart_open(&u, -1) == 0);
	if (u.dev == NULL)
		return;
	CHECK(u.set.nrange == 1 && u.set.range[0].start == 0x3f8 &&
	    u.set.range[0].len == 8);
	CHECK(inb(&u, 5) == 0x60);		/* THRE | TEMT */
	CHECK(inb(&u, 2) == 0x01);		/* nothing pending */
	CHECK(inb(&u, 1) == 0x00);
	CHECK((inb(&u, 6) & 0xb0) == 0xb0);	/* DCD DSR CTS */
	uart_close(&u);
}

static void
test_dlab(void)
{
	struct uart	 u;

	CHECK(uart_open(&u, -1) == 0);
	if (u.dev == NULL)
		return;
	outb(&u, 1, 0x05);			/* IER */
	outb(&u, 3, 0x83);			/* DLAB */
	outb(&u, 0, 0x01);
	outb(&u, 1, 0x02);
	CHECK(inb(&u, 0) == 0x01 && inb(&u, 1) == 0x02);
	CHECK(inb(&u, 3) == 0x83);
	outb(&u, 3, 0x03);
	CHECK(inb(&u, 1) == 0x05);		/* IER untouched by DLM */
	CHECK(inb(&u, 5) == 0x60);		/* DLL write sent nothing */
	outb(&u, 3, 0x83);
	CHECK(inb(&u, 0) == 0x01 && inb(&u, 1) == 0x02);
	/* scratch */
	outb(&u, 7, 0xa5);
	CHECK(inb(&u, 7) == 0xa5);
	/* a word access is two byte accesses: DLL then DLM */
	{
		uint8_t	 w[2] = { 0x34, 0x12 }, r[2] = { 0, 0 };

		dev_io(&u.set, DEV_SPACE_IO, COM, 2, w, 1);
		dev_io(&u.set, DEV_SPACE_IO, COM, 2, r, 0);
		CHECK(r[0] == 0x34 && r[1] == 0x12);
	}
	uart_close(&u);
}

static void
test_lsr_loopback(void)
{
	struct uart	 u;

	CHECK(uart_open(&u, -1) == 0);
	if (u.dev == NULL)
		return;
	outb(&u, 4, 0x10);			/* loopback */
	outb(&u, 0, 'A');
	CHECK(inb(&u, 5) == 0x61);		/* DR THRE TEMT */
	CHECK(inb(&u, 0) == 'A');
	CHECK(inb(&u, 5) == 0x60);
	CHECK(inb(&u, 0) == 0);			/* empty FIFO reads 0 */
	/* Linux's probe: RTS|OUT2 in loopback shows as CTS|DCD */
	outb(&u, 4, 0x1a);
	CHECK((inb(&u, 6) & 0xf0) == 0x90);
	outb(&u, 4, 0x1f);
	CHECK((inb(&u, 6) & 0xf0) == 0xf0);
	outb(&u, 4, 0x10);
	/* RI fell: trailing edge; the others changed too */
	CHECK((inb(&u, 6) & 0x0f) == 0x0f);
	CHECK((inb(&u, 6) & 0x0f) == 0x00);	/* deltas clear on read */
	outb(&u, 4, 0x00);
	CHECK((inb(&u, 6) & 0xf0) == 0xb0);
	/* without FIFOs a second byte overruns the holding register */
	outb(&u, 4, 0x10);
	outb(&u, 0, 'x');
	outb(&u, 0, 'y');
	CHECK(inb(&u, 5) == 0x63);		/* OE DR THRE TEMT */
	CHECK(inb(&u, 5) == 0x61);		/* OE clears on read */
	CHECK(inb(&u, 0) == 'x');
	uart_close(&u);
}

static void
test_iir_priority(void)
{
	struct uart	 u;

	CHECK(uart_open(&u, -1) == 0);
	if (u.dev == NULL)
		return;
	outb(&u, 4, 0x10);	/* loopback: MSR deltas appear */
	outb(&u, 1, 0x0f);	/* all sources; THR empty raises THRE */
	CHECK(rec.level == 1 && rec.irq == VM_COM1_IRQ);
	outb(&u, 0, 'a');	/* RX data beats THRE */
	outb(&u, 0, 'b');	/* overrun: line status beats RX */
	CHECK(inb(&u, 2) == 0x06);
	CHECK(inb(&u, 2) == 0x06);	/* IIR read does not clear RLS */
	CHECK(inb(&u, 5) == 0x63);
	CHECK(inb(&u, 2) == 0x04);
	CHECK(inb(&u, 0) == 'a');
	CHECK(inb(&u, 2) == 0x02);	/* THRE, cleared by this read */
	CHECK(inb(&u, 2) == 0x00);	/* modem status */
	CHECK(rec.level == 1);
	inb(&u, 6);
	CHECK(inb(&u, 2) == 0x01);
	CHECK(rec.level == 0);
	CHECK(rec.repeated == 0);
	uart_close(&u);
}

static void
test_thre(void)
{
	struct uart	 u;
	int		 calls;

	CHECK(uart_open(&u, -1) == 0);
	if (u.dev == NULL)
		return;
	CHECK(inb(&u, 2) == 0x01);
	outb(&u, 1, 0x02);		/* ETBEI with THR empty */
	CHECK(rec.level == 1 && rec.calls == 1);
	CHECK(inb(&u, 2) == 0x02);
	CHECK(rec.level == 0 && rec.calls == 2);
	CHECK(inb(&u, 2) == 0x01);
	outb(&u, 0, 'z');		/* THR written, empty again */
	CHECK(rec.level == 1 && rec.calls == 3);
	CHECK(inb(&u, 5) == 0x60);
	outb(&u, 0, 'z');		/* still pending: no new call */
	CHECK(rec.calls == 3);
	outb(&u, 1, 0x00);		/* masked: line drops */
	CHECK(rec.level == 0 && rec.calls == 4);
	outb(&u, 1, 0x02);		/* re-enabled while empty */
	CHECK(rec.level == 1 && rec.calls == 5);
	outb(&u, 1, 0x02);		/* same value: nothing new */
	calls = rec.calls;
	CHECK(inb(&u, 2) == 0x02 && inb(&u, 2) == 0x01);
	CHECK(rec.calls == calls + 1 && rec.level == 0);
	/* rewriting an enabled ETBEI is no new edge; toggling it is */
	outb(&u, 1, 0x02);
	CHECK(rec.level == 0 && inb(&u, 2) == 0x01);
	outb(&u, 1, 0x00);
	outb(&u, 1, 0x02);
	CHECK(rec.level == 1);
	/* reset lowers the line and forgets the enables */
	dev_reset_all(&u.set);
	CHECK(rec.level == 0 && inb(&u, 1) == 0 && inb(&u, 3) == 0x03);
	CHECK(rec.repeated == 0);
	uart_close(&u);
}

static void
test_fifo(void)
{
	struct uart	 u;
	int		 i, ok = 1;

	CHECK(uart_open(&u, -1) == 0);
	if (u.dev == NULL)
		return;
	outb(&u, 2, 0xc7);		/* enable, clear, trigger 14 */
	CHECK((inb(&u, 2) & 0xc0) == 0xc0);
	outb(&u, 4, 0x10);
	outb(&u, 1, 0x01);
	outb(&u, 0, 0);
	CHECK(inb(&u, 2) == 0xcc);	/* below trigger: timeout */
	for (i = 1; i < 20; i++)
		outb(&u, 0, i);
	CHECK(inb(&u, 2) == 0xc4);	/* at trigger */
	CHECK(inb(&u, 5) & 0x02);	/* the 17th byte overran */
	for (i = 0; i < 16; i++)
		if (inb(&u, 0) != i)
			ok = 0;
	CHECK(ok);
	CHECK((inb(&u, 5) & 0x01) == 0);
	CHECK(inb(&u, 2) == 0xc1);
	CHECK(rec.level == 0);
	/* RCVR reset empties the FIFO */
	outb(&u, 0, 1);
	outb(&u, 0, 2);
	outb(&u, 2, 0xc3);
	CHECK((inb(&u, 5) & 0x01) == 0);
	/* disabling the FIFOs shows in IIR */
	outb(&u, 2, 0x00);
	CHECK((inb(&u, 2) & 0xc0) == 0);
	uart_close(&u);
}

static size_t
pending_bytes(int fd)
{
	int	 n = 0;

	if (ioctl(fd, FIONREAD, &n) == -1)
		return ((size_t)-1);
	return (n);
}

/* RX flow: the FIFO fills, reading stops, nothing is lost. */
static void
rx_flow(int fifo)
{
	struct uart	 u;
	uint8_t		 buf[100], got[100];
	size_t		 n = 0, cap = fifo ? 16 : 1;
	int		 sv[2], i, spins;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(uart_open(&u, sv[0]) == 0);
	if (u.dev == NULL)
		return;
	if (fifo)
		outb(&u, 2, 0x01);
	outb(&u, 1, 0x01);
	for (i = 0; i < (int)sizeof(buf); i++)
		buf[i] = i * 7 + 3;
	CHECK(write(sv[1], buf, sizeof(buf)) == (ssize_t)sizeof(buf));
	pump(&u);
	pump(&u);
	CHECK(rec.level == 1);
	CHECK(pending_bytes(sv[0]) == sizeof(buf) - cap);
	CHECK(inb(&u, 5) & 0x01);
	/* more pumping reads nothing while the FIFO is full */
	pump(&u);
	CHECK(pending_bytes(sv[0]) == sizeof(buf) - cap);
	for (spins = 0; n < sizeof(buf) && spins < 1000; spins++) {
		while (n < sizeof(buf) && (inb(&u, 5) & 0x01))
			got[n++] = inb(&u, 0);
		pump(&u);
	}
	CHECK(n == sizeof(buf));
	CHECK(memcmp(buf, got, sizeof(buf)) == 0);
	CHECK((inb(&u, 5) & 0x02) == 0);	/* never an overrun */
	CHECK(rec.level == 0 && rec.repeated == 0);
	uart_close(&u);
	close(sv[0]);
	close(sv[1]);
}

static void
test_rx_fifo(void)
{
	rx_flow(1);
}

static void
test_rx_nofifo(void)
{
	rx_flow(0);
}

static void
test_rx_eof(void)
{
	struct uart	 u;
	int		 sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(uart_open(&u, sv[0]) == 0);
	if (u.dev == NULL)
		return;
	CHECK(write(sv[1], "hi", 2) == 2);
	close(sv[1]);
	pump(&u);
	pump(&u);
	CHECK(inb(&u, 0) == 'h');
	pump(&u);
	CHECK(inb(&u, 0) == 'i');
	pump(&u);
	pump(&u);
	/* after EOF no event is left to fire: the loop has nothing to do */
	CHECK(event_base_loop(u.evb, EVLOOP_NONBLOCK) == 1);
	CHECK((inb(&u, 5) & 0x01) == 0);
	uart_close(&u);
	close(sv[0]);
}

static void
test_pause_resume(void)
{
	struct uart	 u;
	int		 sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(uart_open(&u, sv[0]) == 0);
	if (u.dev == NULL)
		return;
	dev_pause_all(&u.set);
	CHECK(write(sv[1], "p", 1) == 1);
	pump(&u);
	CHECK((inb(&u, 5) & 0x01) == 0);
	CHECK(pending_bytes(sv[0]) == 1);
	dev_resume_all(&u.set);
	pump(&u);
	CHECK(inb(&u, 5) & 0x01);
	CHECK(inb(&u, 0) == 'p');
	uart_close(&u);
	close(sv[0]);
	close(sv[1]);
}

static void
test_tx(void)
{
	struct uart	 u;
	char		 buf[16];
	int		 p[2];
	const char	*msg = "hello\r\n";
	size_t		 i;

	CHECK(pipe(p) == 0);
	CHECK(uart_open(&u, p[1]) == 0);
	if (u.dev == NULL)
		return;
	for (i = 0; i < strlen(msg); i++)
		outb(&u, 0, msg[i]);
	memset(buf, 0, sizeof(buf));
	CHECK(read(p[0], buf, sizeof(buf)) == (ssize_t)strlen(msg));
	CHECK(strcmp(buf, msg) == 0);
	/* loopback output never reaches the pty */
	outb(&u, 4, 0x10);
	outb(&u, 0, 'L');
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	CHECK(read(p[0], buf, sizeof(buf)) == -1 && errno == EAGAIN);
	uart_close(&u);
	close(p[0]);
	close(p[1]);
}

/*
 * Nobody reads: the pipe takes what it can, the ring keeps the newest
 * 64 KiB, and everything in between is dropped, oldest first.
 */
static void
test_tx_drop_oldest(void)
{
	struct uart	 u;
	const size_t	 ring = 64 * 1024, total = ring + 20000;
	uint8_t		*got, buf[4096];
	size_t		 n = 0, prefix, i;
	ssize_t		 r;
	int		 p[2], idle = 0, spins, ok;

	CHECK(pipe(p) == 0);
	fcntl(p[0], F_SETPIPE_SZ, 4096);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	CHECK(uart_open(&u, p[1]) == 0);
	if (u.dev == NULL)
		return;
	got = calloc(1, total + 1);
	for (i = 0; i < total; i++)
		outb(&u, 0, i % 251);	/* never blocks */
	for (spins = 0; spins < 100000 && idle < 3; spins++) {
		pump(&u);
		r = read(p[0], buf, sizeof(buf));
		if (r > 0 && n + r <= total) {
			memcpy(got + n, buf, r);
			n += r;
			idle = 0;
		} else if (r > 0) {
			n = total + 1;		/* more than ever written */
			break;
		} else
			idle++;
	}
	for (prefix = 0; prefix < n && got[prefix] == prefix % 251; prefix++)
		;
	CHECK(prefix > 0 && prefix < total - ring);
	CHECK(n == prefix + ring);
	ok = 1;
	for (i = 0; n == prefix + ring && i < ring; i++)
		if (got[prefix + i] != (total - ring + i) % 251)
			ok = 0;
	CHECK(ok);
	free(got);
	uart_close(&u);
	close(p[0]);
	close(p[1]);
}

static void
test_random(void)
{
	struct uart	 u;
	uint8_t		 d[4];
	int		 sv[2], i, sizes[3] = { 1, 2, 4 }, sz;
	uint64_t	 port;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(uart_open(&u, sv[0]) == 0);
	if (u.dev == NULL)
		return;
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	srandom(8250);
	for (i = 0; i < 10000; i++) {
		sz = sizes[random() % 3];
		port = COM + random() % 8;
		d[0] = random();
		d[1] = random();
		d[2] = random();
		d[3] = random();
		dev_io(&u.set, DEV_SPACE_IO, port, sz, d, random() & 1);
		if (i % 97 == 0) {
			if (write(sv[1], d, 4) == -1 && errno != EAGAIN)
				CHECK(0);
			pump(&u);
			while (read(sv[1], d, 4) > 0)
				;
		}
		if (i % 1000 == 0)
			dev_reset_all(&u.set);
	}
	CHECK(rec.repeated == 0);
	uart_close(&u);
	close(sv[0]);
	close(sv[1]);
}

#define TH_RX	20000
#define TH_TX	100000

struct th_peer {
	int		 fd;
	uint8_t		*got;
	size_t		 n;
};

static void *
th_loop(void *arg)
{
	event_base_loop(arg, EVLOOP_NO_EXIT_ON_EMPTY);
	return (NULL);
}

static void *
th_writer(void *arg)
{
	struct th_peer	*p = arg;
	uint8_t		 buf[TH_RX];
	size_t		 off = 0;
	ssize_t		 r;
	int		 i;

	for (i = 0; i < TH_RX; i++)
		buf[i] = i % 253;
	while (off < sizeof(buf)) {
		r = write(p->fd, buf + off, sizeof(buf) - off > 100 ? 100 :
		    sizeof(buf) - off);
		if (r <= 0)
			break;
		off += r;
	}
	return (NULL);
}

static void *
th_reader(void *arg)
{
	struct th_peer	*p = arg;
	ssize_t		 r;

	while (p->n < TH_TX) {
		r = read(p->fd, p->got + p->n, TH_TX - p->n);
		if (r <= 0)
			break;
		p->n += r;
	}
	return (NULL);
}

/*
 * The vm process's shape: the event loop in its own thread, this thread
 * as the vCPU.  Input must arrive whole and in order; output keeps at
 * least its newest bytes; pause and resume must not deadlock with a
 * running callback.
 */
static void
test_threads(void)
{
	struct uart	 u;
	struct th_peer	 wr, rd;
	struct timeval	 tmo = { 10, 0 };
	struct timespec	 t0, t;
	pthread_t	 tl, tw, tr;
	uint8_t		*rx;
	size_t		 nrx = 0, ntx = 0, i;
	int		 sv[2], ok = 1;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(uart_open(&u, sv[0]) == 0);
	if (u.dev == NULL)
		return;
	rx = calloc(1, TH_RX);
	memset(&wr, 0, sizeof(wr));
	memset(&rd, 0, sizeof(rd));
	wr.fd = rd.fd = sv[1];
	rd.got = calloc(1, TH_TX);
	setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	outb(&u, 2, 0x01);
	pthread_create(&tl, NULL, th_loop, u.evb);
	pthread_create(&tw, NULL, th_writer, &wr);
	pthread_create(&tr, NULL, th_reader, &rd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (nrx < TH_RX || ntx < TH_TX) {
		if (ntx < TH_TX) {
			outb(&u, 0, ntx % 251);
			ntx++;
		}
		while (nrx < TH_RX && (inb(&u, 5) & 0x01))
			rx[nrx++] = inb(&u, 0);
		if (ntx % 20000 == 0 && ntx < TH_TX) {
			dev_pause_all(&u.set);
			dev_resume_all(&u.set);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 20)
			break;
	}
	pthread_join(tw, NULL);
	pthread_join(tr, NULL);
	event_base_loopbreak(u.evb);
	pthread_join(tl, NULL);
	CHECK(nrx == TH_RX);
	for (i = 0; i < nrx; i++)
		if (rx[i] != i % 253)
			ok = 0;
	CHECK(ok);
	/* the newest output always arrives */
	CHECK(rd.n > 1000);
	for (i = 1; ok && i <= 1000 && i <= rd.n; i++)
		if (rd.got[rd.n - i] != (TH_TX - i) % 251)
			ok = 0;
	CHECK(ok);
	uart_close(&u);
	free(rx);
	free(rd.got);
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	evthread_use_pthreads();
	RUN(test_attach_default);
	RUN(test_dlab);
	RUN(test_lsr_loopback);
	RUN(test_iir_priority);
	RUN(test_thre);
	RUN(test_fifo);
	RUN(test_rx_fifo);
	RUN(test_rx_nofifo);
	RUN(test_rx_eof);
	RUN(test_pause_resume);
	RUN(test_tx);
	RUN(test_tx_drop_oldest);
	RUN(test_random);
	RUN(test_threads);
	TEST_EXIT();
}
