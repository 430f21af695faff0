/*
 * cons.c: the test guest's console on COM1: a bounded-wait transmitter,
 * a small printf, and an interrupt-driven line reader.  It must never
 * spin without a bound on the UART: the UART may report THRE always or
 * not at all, and every port access is a VM exit.
 */

#include "guest.h"

#define UART_RBR	0	/* THR on write */
#define UART_IER	1
#define UART_FCR	2
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define LCR_DLAB	0x80
#define LCR_8N1		0x03
#define MCR_DTR_RTS	0x03
#define MCR_OUT2	0x08	/* gates the UART's IRQ line on a PC */
#define IER_RX		0x01
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define THRE_TRIES	2000
#define RX_BURST	32

static int		 uart_present;
static int		 thre_stuck;	/* last wait for THRE timed out */

/* The line being typed, filled by cons_intr(). */
static volatile char	 line[128];
static volatile size_t	 line_len;
static volatile int	 line_done;
static int		 line_echo;
static int		 last_cr;

void
cons_init(void)
{
	outb(COM1_PORT + UART_IER, 0);
	outb(COM1_PORT + UART_LCR, LCR_DLAB);
	outb(COM1_PORT + 0, 1);		/* 115200 baud */
	outb(COM1_PORT + 1, 0);
	outb(COM1_PORT + UART_LCR, LCR_8N1);
	/* FIFOs stay off: enabling them would drop bytes already received. */
	outb(COM1_PORT + UART_FCR, 0);
	outb(COM1_PORT + UART_MCR, MCR_DTR_RTS);
	uart_present = inb(COM1_PORT + UART_LSR) != 0xff;
}

int
cons_uart_present(void)
{
	return uart_present;
}

/* Once a wait timed out, look once per byte until THRE shows again. */
static void
wait_thre(void)
{
	int i, n = thre_stuck ? 1 : THRE_TRIES;

	for (i = 0; i < n; i++) {
		if (inb(COM1_PORT + UART_LSR) & LSR_THRE) {
			thre_stuck = 0;
			return;
		}
	}
	thre_stuck = 1;
}

void
cons_putc(int c)
{
	if (c == '\n')
		cons_putc('\r');
	wait_thre();
	outb(COM1_PORT, c);
}

void
cons_puts(const char *s)
{
	while (*s)
		cons_putc(*s++);
}

static void
put_num(uint64_t v, unsigned int base, int width, int zero, int neg)
{
	char buf[24];
	int n = 0;

	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0 && n < (int)sizeof(buf));
	if (neg)
		buf[n++] = '-';
	for (; width > n; width--)
		cons_putc(zero ? '0' : ' ');
	while (n > 0)
		cons_putc(buf[--n]);
}

/* %s %c %d %u %x, with l, zero padding and a width: all we print. */
static void
vkprintf(const char *fmt, va_list ap)
{
	int width, zero, lng;
	int64_t sv;
	uint64_t uv;
	const char *s;

	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			cons_putc(*fmt);
			continue;
		}
		fmt++;
		zero = *fmt == '0';
		for (width = 0; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + (*fmt - '0');
		lng = *fmt == 'l';
		if (lng)
			fmt++;
		switch (*fmt) {
		case 's':
			s = va_arg(ap, const char *);
			cons_puts(s ? s : "(null)");
			break;
		case 'c':
			cons_putc(va_arg(ap, int));
			break;
		case 'd':
			sv = lng ? va_arg(ap, long) : va_arg(ap, int);
			uv = sv < 0 ? -(uint64_t)sv : (uint64_t)sv;
			put_num(uv, 10, width, zero, sv < 0);
			break;
		case 'u':
		case 'x':
			uv = lng ? va_arg(ap, unsigned long) :
			    va_arg(ap, unsigned int);
			put_num(uv, *fmt == 'u' ? 10 : 16, width, zero, 0);
			break;
		case '%':
			cons_putc('%');
			break;
		default:
			return;
		}
	}
}

void
kprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vkprintf(fmt, ap);
	va_end(ap);
}

/*
 * One received byte.  A line ends at \r or \n (a \n right after \r is
 * the same end); empty lines count only when echoing, where the user
 * expects a fresh prompt.  Bytes arriving before the last line was taken
 * are dropped.
 */
static void
rx_byte(int c)
{
	int crlf = c == '\n' && last_cr;

	last_cr = c == '\r';
	if (line_done || crlf)
		return;
	if (c == '\r' || c == '\n') {
		if (line_len == 0 && !line_echo)
			return;
		line_done = 1;
		if (line_echo)
			cons_putc('\n');
	} else if (c == 0x08 || c == 0x7f) {
		if (line_len > 0) {
			line_len--;
			if (line_echo)
				cons_puts("\b \b");
		}
	} else if (c >= 0x20 && c < 0x7f && line_len < sizeof(line) - 1) {
		line[line_len++] = c;
		if (line_echo)
			cons_putc(c);
	}
}

/* IRQ 4, and once by hand when receiving starts. */
void
cons_intr(void)
{
	int i;

	for (i = 0; i < RX_BURST; i++) {
		if (!(inb(COM1_PORT + UART_LSR) & LSR_DR))
			break;
		rx_byte(inb(COM1_PORT + UART_RBR));
	}
}

void
cons_rx_enable(int echo)
{
	cli();
	line_echo = echo;
	line_len = 0;
	line_done = 0;
	last_cr = 0;
	outb(COM1_PORT + UART_MCR, MCR_DTR_RTS | MCR_OUT2);
	outb(COM1_PORT + UART_IER, IER_RX);
	pic_unmask(IRQ_COM1);
	cons_intr();
	sti();
}

static int
line_ready(void)
{
	return line_done;
}

/*
 * Waits up to ms milliseconds (0: for ever) for a line; returns its
 * length, without the line end, or -1 on timeout.
 */
int
cons_getline(char *buf, size_t len, uint32_t ms)
{
	size_t i, n;

	if (len == 0 || !wait_until(line_ready, ms))
		return -1;
	cli();
	n = line_len < len - 1 ? line_len : len - 1;
	for (i = 0; i < n; i++)
		buf[i] = line[i];
	buf[n] = '\0';
	line_len = 0;
	line_done = 0;
	sti();
	return (int)n;
}
