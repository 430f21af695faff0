/*
 * checks.c: the test guest's hardware checks.  Each prints exactly one
 * result line, "PASS name[: detail]", "FAIL name: reason" or "SKIP name:
 * reason", and keeps its work tiny: every CPL 0 instruction is emulated
 * on the development host and every port access is a VM exit.  A check
 * must never wait without a bound.
 */

#include "guest.h"

#define UART_SCR		7
#define TIMER_TICKS		10
#define RTC_SEC			0x00
#define RTC_MIN			0x02
#define RTC_HOUR		0x04
#define RTC_DAY			0x07
#define RTC_MON			0x08
#define RTC_YEAR		0x09
#define RTC_REG_A		0x0a
#define RTC_REG_B		0x0b
#define RTC_CENTURY		0x32
#define RTC_A_UIP		0x80
#define RTC_B_24H		0x02
#define RTC_B_BINARY		0x04
#define RTC_HOUR_PM		0x80
#define RTC_UIP_TRIES		1000
#define RTC_READ_TRIES		5
#define RTC_HOST_SLACK		60
#define REBOOT_MARKER_REG	0x38
#define REBOOT_MAGIC		0xb7
#define PCI_ENABLE		0x80000000U
#define ECHO_TIMEOUT_MS		30000

void
check_console(struct guest *g)
{
	if (!cons_uart_present()) {
		kprintf("FAIL console: no UART at 0x%x\n", COM1_PORT);
		return;
	}
	outb(COM1_PORT + UART_SCR, 0xa5);
	if (inb(COM1_PORT + UART_SCR) != 0xa5) {
		kprintf("FAIL console: UART scratch register lost 0xa5\n");
		return;
	}
	kprintf("PASS console\n");
}

/*
 * Two boots: the first sets the CMOS marker and resets, the second finds
 * it, clears it and passes.
 */
void
check_reboot(struct guest *g)
{
	if (cmos_read(REBOOT_MARKER_REG) == REBOOT_MAGIC) {
		cmos_write(REBOOT_MARKER_REG, 0);
		kprintf("PASS reboot\n");
		return;
	}
	cmos_write(REBOOT_MARKER_REG, REBOOT_MAGIC);
	if (cmos_read(REBOOT_MARKER_REG) != REBOOT_MAGIC) {
		kprintf("FAIL reboot: CMOS byte 0x%x does not keep a value\n",
		    REBOOT_MARKER_REG);
		return;
	}
	kprintf("reboot: resetting\n");
	machine_reset();
}

static uint64_t timer_target;

static int
timer_reached(void)
{
	return ticks_now() >= timer_target;
}

/*
 * The PIT runs from boot.  Count TIMER_TICKS of its interrupts and hold
 * the time they took against the LAPIC clock: a PIT at the wrong rate
 * (say an unprogrammed 18.2 Hz) shows there.
 */
void
check_timer(struct guest *g)
{
	uint64_t t0 = ticks_now(), us, want_us;
	uint32_t want_ms = TIMER_TICKS * 1000 / PIT_HZ;

	timer_target = t0 + TIMER_TICKS;
	if (!wait_until(timer_reached, want_ms * 4)) {
		kprintf("FAIL timer: %lu of %d PIT interrupts in %u ms\n",
		    (unsigned long)(ticks_now() - t0), TIMER_TICKS,
		    want_ms * 4);
		return;
	}
	if (!lapic_present()) {
		kprintf("PASS timer: %d ticks at %d Hz (no LAPIC clock to "
		    "compare)\n", TIMER_TICKS, PIT_HZ);
		return;
	}
	us = wait_elapsed_us();
	want_us = (uint64_t)want_ms * 1000;
	if (us < want_us / 2 || us > want_us * 10) {
		kprintf("FAIL timer: %d ticks at %d Hz took %lu us by the "
		    "LAPIC clock, want about %lu\n", TIMER_TICKS, PIT_HZ,
		    (unsigned long)us, (unsigned long)want_us);
		return;
	}
	kprintf("PASS timer: %d ticks at %d Hz in %lu ms by the LAPIC clock\n",
	    TIMER_TICKS, PIT_HZ, (unsigned long)((us + 500) / 1000));
}

/* Converts a BCD byte; -1 if a digit is not decimal. */
static int
bcd(uint8_t v)
{
	if ((v & 0x0f) > 9 || (v >> 4) > 9)
		return -1;
	return (v >> 4) * 10 + (v & 0x0f);
}

static int
rtc_field(uint8_t v, uint8_t regb)
{
	return (regb & RTC_B_BINARY) ? v : bcd(v);
}

static int
days_in_month(unsigned int y, unsigned int m)
{
	static const uint8_t dim[12] =
	    { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

struct rtc_raw {
	uint8_t	sec, min, hour, day, mon, year, century;
};

static void
rtc_raw_read(struct rtc_raw *r)
{
	r->sec = cmos_read(RTC_SEC);
	r->min = cmos_read(RTC_MIN);
	r->hour = cmos_read(RTC_HOUR);
	r->day = cmos_read(RTC_DAY);
	r->mon = cmos_read(RTC_MON);
	r->year = cmos_read(RTC_YEAR);
	r->century = cmos_read(RTC_CENTURY);
}

static int
rtc_raw_same(const struct rtc_raw *a, const struct rtc_raw *b)
{
	return a->sec == b->sec && a->min == b->min && a->hour == b->hour &&
	    a->day == b->day && a->mon == b->mon && a->year == b->year &&
	    a->century == b->century;
}

/* Fills t from raw CMOS fields; 0, or -1 with *why set. */
static int
rtc_decode(const struct rtc_raw *r, uint8_t regb, struct rtc_time *t,
    const char **why)
{
	int sec, min, hour, day, mon, year, cent, pm = 0;
	uint8_t h = r->hour;

	if (!(regb & RTC_B_24H)) {
		pm = (h & RTC_HOUR_PM) != 0;
		h &= ~RTC_HOUR_PM;
	}
	sec = rtc_field(r->sec, regb);
	min = rtc_field(r->min, regb);
	hour = rtc_field(h, regb);
	day = rtc_field(r->day, regb);
	mon = rtc_field(r->mon, regb);
	year = rtc_field(r->year, regb);
	cent = rtc_field(r->century, regb);
	if (!(regb & RTC_B_24H)) {
		if (hour < 1 || hour > 12) {
			*why = "12-hour clock hour out of range";
			return -1;
		}
		hour = hour % 12 + (pm ? 12 : 0);
	}
	if (sec < 0 || sec > 59 || min < 0 || min > 59 || hour < 0 ||
	    hour > 23 || mon < 1 || mon > 12 || year < 0 || year > 99) {
		*why = "field out of range";
		return -1;
	}
	/* The century byte is a convention, not a register: trust it little. */
	t->year = (cent >= 19 && cent <= 21 ? cent : 20) * 100 + year;
	if (day < 1 || day > days_in_month(t->year, mon)) {
		*why = "day out of range";
		return -1;
	}
	t->mon = mon;
	t->day = day;
	t->hour = hour;
	t->min = min;
	t->sec = sec;
	return 0;
}

/*
 * Reads the date once no update is in progress, twice until both reads
 * agree (each port access is slow here: an update can start midway).
 */
int
rtc_read(struct rtc_time *t, const char **why)
{
	struct rtc_raw a, b;
	int i, n;

	for (n = 0; n < RTC_READ_TRIES; n++) {
		for (i = 0; i < RTC_UIP_TRIES; i++)
			if (!(cmos_read(RTC_REG_A) & RTC_A_UIP))
				break;
		if (i == RTC_UIP_TRIES) {
			*why = "update in progress does not end";
			return -1;
		}
		rtc_raw_read(&a);
		rtc_raw_read(&b);
		if (rtc_raw_same(&a, &b))
			return rtc_decode(&a, cmos_read(RTC_REG_B), t, why);
	}
	*why = "date keeps changing while read";
	return -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (any y >= 1). */
static int64_t
days_since_epoch(unsigned int y, unsigned int m, unsigned int d)
{
	static const uint16_t before[12] =
	    { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };
	int64_t days = before[m - 1] + d - 1;
	unsigned int yy = y - 1;

	if (m > 2 && days_in_month(y, 2) == 29)
		days++;
	days += ((int64_t)y - 1970) * 365;
	days += (yy / 4 - yy / 100 + yy / 400) - (1969 / 4 - 1969 / 100 +
	    1969 / 400);
	return days;
}

void
check_rtc(struct guest *g)
{
	struct rtc_time t;
	const char *why;
	int64_t secs, off;

	/*
	 * QEMU microvm with KVM has no RTC; a guest given hosttime= (as
	 * vmd's tests do) must have one.
	 */
	if (cmos_read(RTC_REG_A) == 0xff && cmos_read(RTC_REG_B) == 0xff) {
		kprintf("%s rtc: no RTC (CMOS registers read 0xff)\n",
		    g->hosttime_set ? "FAIL" : "SKIP");
		return;
	}
	if (rtc_read(&t, &why) == -1) {
		kprintf("FAIL rtc: %s\n", why);
		return;
	}
	if (!g->hosttime_set) {
		kprintf("PASS rtc: %u-%02u-%02u %02u:%02u:%02u\n", t.year,
		    t.mon, t.day, t.hour, t.min, t.sec);
		return;
	}
	secs = days_since_epoch(t.year, t.mon, t.day) * 86400 +
	    t.hour * 3600 + t.min * 60 + t.sec;
	off = secs - (int64_t)g->hosttime;
	if (off < -RTC_HOST_SLACK || off > RTC_HOST_SLACK) {
		kprintf("FAIL rtc: %u-%02u-%02u %02u:%02u:%02u is %ld s off "
		    "the host time\n", t.year, t.mon, t.day, t.hour, t.min,
		    t.sec, (long)off);
		return;
	}
	kprintf("PASS rtc: %u-%02u-%02u %02u:%02u:%02u, %ld s off the host "
	    "time\n", t.year, t.mon, t.day, t.hour, t.min, t.sec, (long)off);
}

void
check_pci(struct guest *g)
{
	uint32_t id[32];
	int dev, n = 0;

	for (dev = 0; dev < 32; dev++) {
		outl(PCI_CONF_PORT, PCI_ENABLE | (uint32_t)dev << 11);
		id[n] = inl(PCI_CONF_PORT + 4);
		if ((id[n] & 0xffff) != 0xffff && id[n] != 0)
			n++;
	}
	outl(PCI_CONF_PORT, 0);
	if (n == 0) {
		kprintf("SKIP pci: no device answers on bus 0\n");
		return;
	}
	kprintf("PASS pci: %d device%s:", n, n == 1 ? "" : "s");
	for (dev = 0; dev < n; dev++)
		kprintf(" %04x:%04x", id[dev] & 0xffff, id[dev] >> 16);
	kprintf("\n");
}

void
check_echo(struct guest *g)
{
	char buf[128];

	waiting_begin(g);
	kprintf("echo: type a line\n");
	cons_rx_enable(0);
	if (cons_getline(buf, sizeof(buf), ECHO_TIMEOUT_MS) < 0) {
		kprintf("FAIL echo: timeout after %d s\n",
		    ECHO_TIMEOUT_MS / 1000);
		return;
	}
	kprintf("echo: %s\n", buf);
	kprintf("PASS echo\n");
}

/*
 * A breakpoint at CPL 0 must trap to #BP with RIP after the int3.  Some
 * nested hypervisors cannot emulate int3 and vmd completes it itself:
 * this check is what exercises that.
 */
void
check_int3(struct guest *g)
{
	uint64_t after;

	bp_rip = 0;
	bp_expected = 1;
	__asm__ volatile("int3\n1:\tleaq 1b(%%rip), %0" : "=r"(after) : :
	    "memory");
	if (bp_expected) {
		bp_expected = 0;
		kprintf("FAIL int3: no breakpoint trap\n");
	} else if (bp_rip != after)
		kprintf("FAIL int3: trap at rip 0x%lx, expected 0x%lx\n",
		    (unsigned long)bp_rip, (unsigned long)after);
	else
		kprintf("PASS int3\n");
}

/*
 * popcnt at CPL 0: hosts whose KVM emulates CPL 0 code cannot do it and
 * vmd must end the VM with a register dump; elsewhere it just runs.
 */
void
check_popcnt(struct guest *g)
{
	uint64_t in = 0xf0f0, out = 0;

	kprintf("popcnt: trying\n");
	__asm__ volatile(".byte 0xf3, 0x48, 0x0f, 0xb8, 0xc1"	/* popcnt */
	    : "=a"(out) : "c"(in));
	if (out == 8)
		kprintf("PASS popcnt: executed\n");
	else
		kprintf("FAIL popcnt: got %lu\n", (unsigned long)out);
}
