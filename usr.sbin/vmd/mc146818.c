/*
 * mc146818.c: the RTC and CMOS memory at ports 0x70 (index) and 0x71
 * (data).  Time is the host's UTC clock plus an offset the guest sets
 * through the SET bit; registers are produced on demand in the format
 * REG_B asks for.  Periodic, update-ended and alarm interrupts come from
 * libevent timers.  The NVRAM bytes are battery-backed: a reset must
 * never clear them.  Nothing the guest writes is trusted as a valid date.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "dev.h"
#include "vm.h"

#define RTC_SEC		0x00
#define RTC_SEC_ALARM	0x01
#define RTC_MIN		0x02
#define RTC_MIN_ALARM	0x03
#define RTC_HOUR	0x04
#define RTC_HOUR_ALARM	0x05
#define RTC_WDAY	0x06
#define RTC_MDAY	0x07
#define RTC_MONTH	0x08
#define RTC_YEAR	0x09
#define RTC_REG_A	0x0a
#define RTC_REG_B	0x0b
#define RTC_REG_C	0x0c
#define RTC_REG_D	0x0d
#define RTC_NVRAM	0x0e	/* first battery-backed byte */
#define RTC_CENTURY	0x32
#define RTC_NREGS	128

#define REGA_UIP	0x80
#define REGA_RS		0x0f

#define REGB_SET	0x80
#define REGB_PIE	0x40
#define REGB_AIE	0x20
#define REGB_UIE	0x10
#define REGB_SQWE	0x08
#define REGB_DM		0x04	/* binary, not BCD */
#define REGB_24H	0x02

#define REGC_IRQF	0x80
#define REGC_PF		0x40
#define REGC_AF		0x20
#define REGC_UF		0x10

#define REGD_VRT	0x80

#define HOUR_PM		0x80
#define ALARM_ANY	0xc0	/* alarm values 0xc0-0xff match anything */

/*
 * Interrupts cost an exit and a KVM_IRQ_LINE each, and on the PVM-style
 * nested host this project is developed on that is slow; 1024 Hz is the
 * rate guests actually ask for, so faster rates are clamped to it.
 */
#define RTC_MAX_HZ	1024

/* Time for an update cycle, reported as UIP before each second ends. */
#define RTC_UIP_NSEC	244000L

struct mc146818 {
	struct device	*dev;
	uint16_t	 base;
	uint32_t	 irq;
	uint8_t		 index;
	uint8_t		 reg[RTC_NREGS];
	time_t		 offset;	/* guest time - host time, seconds */
	int		 irq_level;
	int		 paused;
	struct event	*ev_periodic;
	struct event	*ev_second;
};

static int	 mc146818_attach(struct device *,
		    const struct dev_attach_args *);
static void	 mc146818_io(struct device *, enum dev_space, uint64_t, int,
		    uint8_t *, int);
static void	 mc146818_reset(struct device *);
static void	 mc146818_pause(struct device *);
static void	 mc146818_resume(struct device *);
static void	 mc146818_detach(struct device *);
static void	 rtc_timers(struct mc146818 *);

const struct devsw mc146818_devsw = {
	.name = "mc146818",
	.attach = mc146818_attach,
	.io = mc146818_io,
	.reset = mc146818_reset,
	.pause = mc146818_pause,
	.resume = mc146818_resume,
	.detach = mc146818_detach
};

static uint8_t
to_reg(const struct mc146818 *sc, int v)
{
	if (sc->reg[RTC_REG_B] & REGB_DM)
		return (v);
	return (((v / 10) << 4) | (v % 10));
}

/* Garbage BCD from the guest decodes to some number, never a crash. */
static int
from_reg(const struct mc146818 *sc, uint8_t v)
{
	if (sc->reg[RTC_REG_B] & REGB_DM)
		return (v);
	return ((v >> 4) * 10 + (v & 0x0f));
}

static uint8_t
hour_to_reg(const struct mc146818 *sc, int h)
{
	int	 h12;

	if (sc->reg[RTC_REG_B] & REGB_24H)
		return (to_reg(sc, h));
	h12 = h % 12 == 0 ? 12 : h % 12;
	return (to_reg(sc, h12) | (h >= 12 ? HOUR_PM : 0));
}

static int
hour_from_reg(const struct mc146818 *sc, uint8_t v)
{
	int	 h;

	if (sc->reg[RTC_REG_B] & REGB_24H)
		return (from_reg(sc, v));
	h = from_reg(sc, v & ~HOUR_PM) % 12;
	return ((v & HOUR_PM) ? h + 12 : h);
}

/* The host's clock, as the VM's host gives it (a unit test's own). */
static void
rtc_now(const struct mc146818 *sc, struct timespec *ts)
{
	dev_realtime(sc->dev, ts);
}

/* Fill the time registers from the host clock plus the guest's offset. */
static void
rtc_refresh(struct mc146818 *sc)
{
	struct timespec	 ts;
	struct tm	 tm;
	time_t		 t;

	if (sc->reg[RTC_REG_B] & REGB_SET)
		return;		/* the guest is writing the time */
	rtc_now(sc, &ts);
	t = ts.tv_sec + sc->offset;
	if (gmtime_r(&t, &tm) == NULL)
		return;
	sc->reg[RTC_SEC] = to_reg(sc, tm.tm_sec > 59 ? 59 : tm.tm_sec);
	sc->reg[RTC_MIN] = to_reg(sc, tm.tm_min);
	sc->reg[RTC_HOUR] = hour_to_reg(sc, tm.tm_hour);
	sc->reg[RTC_WDAY] = to_reg(sc, tm.tm_wday + 1);
	sc->reg[RTC_MDAY] = to_reg(sc, tm.tm_mday);
	sc->reg[RTC_MONTH] = to_reg(sc, tm.tm_mon + 1);
	sc->reg[RTC_YEAR] = to_reg(sc, tm.tm_year % 100);
	sc->reg[RTC_CENTURY] = to_reg(sc, (tm.tm_year + 1900) / 100);
}

/* The guest cleared SET: its registers are the new time. */
static void
rtc_set_time(struct mc146818 *sc)
{
	struct timespec	 ts;
	struct tm	 tm;
	int		 century, year;
	time_t		 t;

	memset(&tm, 0, sizeof(tm));
	tm.tm_sec = from_reg(sc, sc->reg[RTC_SEC]);
	tm.tm_min = from_reg(sc, sc->reg[RTC_MIN]);
	tm.tm_hour = hour_from_reg(sc, sc->reg[RTC_HOUR]);
	tm.tm_mday = from_reg(sc, sc->reg[RTC_MDAY]);
	tm.tm_mon = from_reg(sc, sc->reg[RTC_MONTH]) - 1;
	year = from_reg(sc, sc->reg[RTC_YEAR]) % 100;
	century = from_reg(sc, sc->reg[RTC_CENTURY]);
	if (century < 19 || century > 99)
		century = year < 70 ? 20 : 19;
	tm.tm_year = century * 100 + year - 1900;
	if ((t = timegm(&tm)) == (time_t)-1) {
		log_limited(LOG_DEBUG,
		    "mc146818: guest set an invalid time, ignored");
		return;
	}
	rtc_now(sc, &ts);
	sc->offset = t - ts.tv_sec;
	log_limited(LOG_DEBUG, "mc146818: guest clock offset now %lld s",
	    (long long)sc->offset);
}

static void
rtc_update_irq(struct mc146818 *sc)
{
	uint8_t	 b = sc->reg[RTC_REG_B], c = sc->reg[RTC_REG_C];
	int	 level;

	level = ((c & REGC_PF) && (b & REGB_PIE)) ||
	    ((c & REGC_AF) && (b & REGB_AIE)) ||
	    ((c & REGC_UF) && (b & REGB_UIE));
	if (level)
		sc->reg[RTC_REG_C] |= REGC_IRQF;
	else
		sc->reg[RTC_REG_C] &= ~REGC_IRQF;
	if (level != sc->irq_level) {
		sc->irq_level = level;
		dev_irq(sc->dev, sc->irq, level);
	}
}

static int
alarm_match(uint8_t alarm, uint8_t now)
{
	return ((alarm & ALARM_ANY) == ALARM_ANY || alarm == now);
}

/* Period of the REG_A rate select, 0 for none. */
static long
rtc_period_usec(const struct mc146818 *sc)
{
	int	 rs = sc->reg[RTC_REG_A] & REGA_RS;
	long	 hz;

	if (rs == 0)
		return (0);
	hz = rs <= 2 ? 32768 >> (rs + 6) : 32768 >> (rs - 1);
	if (hz > RTC_MAX_HZ)
		hz = RTC_MAX_HZ;
	return (1000000L / hz);
}

static void
rtc_periodic_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mc146818	*sc = arg;

	pthread_mutex_lock(&sc->dev->lock);
	sc->reg[RTC_REG_C] |= REGC_PF;
	rtc_update_irq(sc);
	pthread_mutex_unlock(&sc->dev->lock);
}

/* Arm the one-shot second timer for just after the next host second. */
static void
rtc_arm_second(struct mc146818 *sc)
{
	struct timespec	 ts;
	struct timeval	 tv;

	rtc_now(sc, &ts);
	tv.tv_sec = 0;
	/* a millisecond late, so the host second has surely turned */
	tv.tv_usec = (1000000000L - ts.tv_nsec) / 1000 + 1000;
	if (tv.tv_usec >= 1000000) {
		tv.tv_sec = 1;
		tv.tv_usec -= 1000000;
	}
	if (event_add(sc->ev_second, &tv) == -1)
		log_warnx("mc146818: event_add");
}

static void
rtc_second_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mc146818	*sc = arg;
	uint8_t		*r = sc->reg;

	pthread_mutex_lock(&sc->dev->lock);
	if (!(r[RTC_REG_B] & REGB_SET)) {
		rtc_refresh(sc);
		r[RTC_REG_C] |= REGC_UF;
		if (alarm_match(r[RTC_SEC_ALARM], r[RTC_SEC]) &&
		    alarm_match(r[RTC_MIN_ALARM], r[RTC_MIN]) &&
		    alarm_match(r[RTC_HOUR_ALARM], r[RTC_HOUR]))
			r[RTC_REG_C] |= REGC_AF;
		rtc_update_irq(sc);
	}
	if (!sc->paused && (r[RTC_REG_B] & (REGB_UIE | REGB_AIE)))
		rtc_arm_second(sc);
	pthread_mutex_unlock(&sc->dev->lock);
}

/*
 * Timers run only while an interrupt needs them: the flags alone are
 * not worth a timer firing 1024 times a second.  Called with the lock
 * held, so only the non-blocking delete is used here.
 */
static void
rtc_timers(struct mc146818 *sc)
{
	struct timeval	 tv;
	long		 us;

	if (sc->ev_periodic == NULL)
		return;
	us = rtc_period_usec(sc);
	if (!sc->paused && us > 0 && (sc->reg[RTC_REG_B] & REGB_PIE)) {
		tv.tv_sec = us / 1000000;
		tv.tv_usec = us % 1000000;
		if (event_add(sc->ev_periodic, &tv) == -1)
			log_warnx("mc146818: event_add");
	} else
		event_del_noblock(sc->ev_periodic);
	if (!sc->paused && (sc->reg[RTC_REG_B] & (REGB_UIE | REGB_AIE))) {
		if (!event_pending(sc->ev_second, EV_TIMEOUT, NULL))
			rtc_arm_second(sc);
	} else
		event_del_noblock(sc->ev_second);
}

static void
rtc_write_b(struct mc146818 *sc, uint8_t v)
{
	uint8_t	 old = sc->reg[RTC_REG_B];

	if ((v & REGB_SET) && !(old & REGB_SET))
		rtc_refresh(sc);	/* freeze what the guest will edit */
	if (v & REGB_SET)
		v &= ~REGB_UIE;		/* as the datasheet says */
	/* decode in the format the guest wrote the registers in */
	if (!(v & REGB_SET) && (old & REGB_SET))
		rtc_set_time(sc);
	sc->reg[RTC_REG_B] = v;
	/* a new period restarts the periodic timer only when it changed */
	if ((v ^ old) & (REGB_PIE | REGB_UIE | REGB_AIE))
		rtc_timers(sc);
	rtc_update_irq(sc);
}

static void
rtc_write(struct mc146818 *sc, uint8_t idx, uint8_t v)
{
	uint8_t	 old;

	switch (idx) {
	case RTC_REG_A:
		old = sc->reg[RTC_REG_A];
		sc->reg[RTC_REG_A] = v & ~REGA_UIP;
		if ((old ^ v) & REGA_RS)
			rtc_timers(sc);
		break;
	case RTC_REG_B:
		rtc_write_b(sc, v);
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break;		/* read-only */
	default:
		sc->reg[idx] = v;
		break;
	}
}

static int
rtc_uip(const struct mc146818 *sc)
{
	struct timespec	 ts;

	if (sc->reg[RTC_REG_B] & REGB_SET)
		return (0);
	rtc_now(sc, &ts);
	return (ts.tv_nsec >= 1000000000L - RTC_UIP_NSEC);
}

static uint8_t
rtc_read(struct mc146818 *sc, uint8_t idx)
{
	uint8_t	 v;

	switch (idx) {
	case RTC_SEC:
	case RTC_MIN:
	case RTC_HOUR:
	case RTC_WDAY:
	case RTC_MDAY:
	case RTC_MONTH:
	case RTC_YEAR:
	case RTC_CENTURY:
		rtc_refresh(sc);
		return (sc->reg[idx]);
	case RTC_REG_A:
		return (sc->reg[RTC_REG_A] | (rtc_uip(sc) ? REGA_UIP : 0));
	case RTC_REG_C:
		v = sc->reg[RTC_REG_C];
		sc->reg[RTC_REG_C] = 0;
		rtc_update_irq(sc);
		return (v);
	case RTC_REG_D:
		return (REGD_VRT);
	default:
		return (sc->reg[idx]);
	}
}

static void
mc146818_io(struct device *dev, enum dev_space space, uint64_t addr,
    int size, uint8_t *data, int write)
{
	struct mc146818	*sc = dev->softc;
	uint64_t	 port;
	int		 i;

	for (i = 0; i < size; i++) {
		port = addr + i - sc->base;
		if (space != DEV_SPACE_IO || port > 1) {
			if (!write)
				data[i] = 0xff;
			continue;
		}
		if (port == 0) {
			/* bit 7 masks NMIs on a PC; there are none to mask */
			if (write)
				sc->index = data[i] & 0x7f;
			else
				data[i] = 0xff;
		} else if (write)
			rtc_write(sc, sc->index, data[i]);
		else
			data[i] = rtc_read(sc, sc->index);
	}
}

static void
cmos_set16(struct mc146818 *sc, int idx, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	sc->reg[idx] = v & 0xff;
	sc->reg[idx + 1] = v >> 8;
}

/* Memory sizes where SeaBIOS looks for them, as QEMU fills them. */
static void
cmos_memsize(struct mc146818 *sc, uint64_t memsize)
{
	uint64_t	 below, above, v;

	below = memsize < VM_MMIO_HOLE_START ? memsize : VM_MMIO_HOLE_START;
	above = memsize - below;
	v = below < VM_LOWMEM_END ? below : VM_LOWMEM_END;
	cmos_set16(sc, 0x15, v >> 10);
	v = below > VM_HIGHMEM_START ? (below - VM_HIGHMEM_START) >> 10 : 0;
	cmos_set16(sc, 0x17, v);
	cmos_set16(sc, 0x30, v);
	v = below > (16ULL << 20) ? (below - (16ULL << 20)) >> 16 : 0;
	cmos_set16(sc, 0x34, v);
	v = above >> 16;
	if (v > 0xffffff)
		v = 0xffffff;
	sc->reg[0x5b] = v & 0xff;
	sc->reg[0x5c] = (v >> 8) & 0xff;
	sc->reg[0x5d] = (v >> 16) & 0xff;
}

static int
mc146818_attach(struct device *dev, const struct dev_attach_args *args)
{
	struct mc146818	*sc;
	struct event_base *evb = dev->host->evbase;

	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		log_warn("mc146818: calloc");
		return (-1);
	}
	sc->dev = dev;
	sc->base = args->iobase ? args->iobase : VM_RTC_PORT;
	sc->irq = args->irq ? args->irq : VM_RTC_IRQ;
	sc->reg[RTC_REG_A] = 0x26;	/* 32.768 kHz divider, 1024 Hz */
	sc->reg[RTC_REG_B] = REGB_24H;
	sc->reg[RTC_REG_D] = REGD_VRT;
	cmos_memsize(sc, dev->host->memsize);
	rtc_refresh(sc);
	if (evb != NULL) {
		sc->ev_periodic = event_new(evb, -1, EV_PERSIST,
		    rtc_periodic_cb, sc);
		sc->ev_second = event_new(evb, -1, 0, rtc_second_cb, sc);
		if (sc->ev_periodic == NULL || sc->ev_second == NULL) {
			log_warnx("mc146818: event_new");
			goto fail;
		}
	}
	if (dev_claim(dev, DEV_SPACE_IO, sc->base, 2) == -1)
		goto fail;
	dev->softc = sc;
	return (0);
 fail:
	if (sc->ev_periodic != NULL)
		event_free(sc->ev_periodic);
	if (sc->ev_second != NULL)
		event_free(sc->ev_second);
	free(sc);
	return (-1);
}

/*
 * The RESET pin: interrupt enables and flags clear; the clock, its
 * format and the NVRAM are battery-backed and stay.
 */
static void
mc146818_reset(struct device *dev)
{
	struct mc146818	*sc = dev->softc;

	pthread_mutex_lock(&dev->lock);
	sc->reg[RTC_REG_B] &= ~(REGB_PIE | REGB_AIE | REGB_UIE | REGB_SQWE);
	sc->reg[RTC_REG_C] = 0;
	sc->index = 0;
	rtc_timers(sc);
	rtc_update_irq(sc);
	pthread_mutex_unlock(&dev->lock);
}

/* Stop the timers; on resume the clock follows the host again. */
static void
mc146818_pause(struct device *dev)
{
	struct mc146818	*sc = dev->softc;

	pthread_mutex_lock(&dev->lock);
	sc->paused = 1;
	pthread_mutex_unlock(&dev->lock);
	if (sc->ev_periodic != NULL) {
		event_del(sc->ev_periodic);
		event_del(sc->ev_second);
	}
}

static void
mc146818_resume(struct device *dev)
{
	struct mc146818	*sc = dev->softc;

	pthread_mutex_lock(&dev->lock);
	sc->paused = 0;
	rtc_timers(sc);
	pthread_mutex_unlock(&dev->lock);
}

static void
mc146818_detach(struct device *dev)
{
	struct mc146818	*sc = dev->softc;

	if (sc == NULL)
		return;
	if (sc->ev_periodic != NULL)
		event_free(sc->ev_periodic);
	if (sc->ev_second != NULL)
		event_free(sc->ev_second);
	free(sc);
	dev->softc = NULL;
}
