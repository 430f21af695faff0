/*
 * vm_stop.c: what the vm process asks of the guest's operating system.  A
 * stop without -f asks the guest to shut down: through vmmci if a driver
 * runs that device, else by pressing the ACPI power button if the guest
 * enabled it; vmmci's answer is its acknowledgement, the button's is the
 * guest clearing its status.  Through vmmci the request is a reboot, as
 * OpenBSD's vmd posts it: the guest goes down as for any shutdown, and its
 * reset ends the VM (vm_reboot() with a stop pending), so a guest that
 * cannot power off (OpenBSD without ACPI) ends too.  vmm hears once, with
 * IMSG_VMDOP_VM_SHUTDOWN_RESPONSE: 0 when the guest answered (it then has
 * vmd's long timeout to power off or reset before the VM is stopped), an
 * error when it cannot be asked or did not answer in vmd's short timeout,
 * and then the VM stays as it is.  When the guest's clock must be off (after
 * a long pause, a host suspend or a step of the host's clock), it asks for a
 * vmmci clock sync, as vmd does.  It runs on the main thread; devices reach
 * it from any thread through vm_stop_notice(), which only hands the news
 * over.  Nothing the guest does here can end the VM but its own answer and
 * the timeouts.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "dev.h"
#include "virtio.h"
#include "vm.h"
#include "vmd.h"

/* A pause longer than this leaves the guest's clock behind (vmd's). */
#define VM_CLOCK_DRIFT_MAX	5	/* seconds */
/* How often the host's clock is checked for steps (vmd's RTC tick). */
#define VM_CLOCK_CHECK		1	/* seconds */

enum stop_state {
	STOP_NONE,
	STOP_VMMCI,		/* vmmci asked; it answers and times itself */
	STOP_BUTTON,		/* power button pressed, waiting for the guest */
	STOP_ACKED		/* the guest is shutting down */
};

struct vm_stop {
	struct vmctx	*ctx;
	struct device	*vmmci;
	enum stop_state	 state;
	int		 by_button;	/* the answer came through the button */
	struct event	*ev_timer;	/* the button's timeouts */
	struct event	*ev_notice;
	uint32_t	 notices;	/* 1 << enum dev_request, atomic */
	int		 paused;
	struct timespec	 paused_at;
	struct event	*ev_clock;
	struct timespec	 real;		/* the clocks at the last check */
	struct timespec	 mono;
};

static void
answer(struct vm_stop *s, int error, const char *reason)
{
	vm_result(s->ctx, IMSG_VMDOP_VM_SHUTDOWN_RESPONSE, error, reason);
}

static void
timer_set(struct vm_stop *s, int sec)
{
	struct timeval	 tv = { sec, 0 };

	evtimer_add(s->ev_timer, &tv);
}

/* vmmci could not ask, or was not answered: the button, if enabled. */
static void
try_button(struct vm_stop *s, int vmmci_asked)
{
	if (x86_power_button(s->ctx)) {
		log_info("shutdown: power button pressed");
		s->state = STOP_BUTTON;
		timer_set(s, VMMCI_TIMEOUT_SHORT);
		return;
	}
	/* not enabled: the press would wait there for a later guest */
	x86_power_button_cancel(s->ctx);
	s->state = STOP_NONE;
	if (vmmci_asked) {
		log_info("shutdown: the guest did not answer in %d seconds",
		    VMMCI_TIMEOUT_SHORT);
		answer(s, ETIMEDOUT, "the guest did not acknowledge the "
		    "shutdown request; the vm stays up, stop -f ends it");
	} else {
		log_info("shutdown: the guest cannot be asked (no vmmci driver, "
		    "power button not enabled)");
		answer(s, EOPNOTSUPP, "the guest has neither a vmmci driver "
		    "nor an enabled power button; stop -f ends it");
	}
}

static void
timer_expired(evutil_socket_t fd, short ev, void *arg)
{
	struct vm_stop	*s = arg;

	switch (s->state) {
	case STOP_BUTTON:
		/* released: a guest that looks later finds no press */
		x86_power_button_cancel(s->ctx);
		s->state = STOP_NONE;
		log_info("shutdown: the guest did not take the power button "
		    "in %d seconds", VMMCI_TIMEOUT_SHORT);
		answer(s, ETIMEDOUT, "the guest did not answer the power "
		    "button; the vm stays up, stop -f ends it");
		break;
	case STOP_ACKED:
		vm_request(s->ctx, VM_REQ_STOP, "the guest took the power "
		    "button but did not power off in %d seconds",
		    VMMCI_TIMEOUT_LONG);
		break;
	default:
		break;
	}
}

static void
acked(struct vm_stop *s, int by_button)
{
	s->state = STOP_ACKED;
	s->by_button = by_button;
	if (by_button)
		timer_set(s, VMMCI_TIMEOUT_LONG);
	log_info("shutdown: the guest acknowledged (%s)", by_button ?
	    "power button" : "vmmci");
	answer(s, 0, "");
}

/* Main thread: what the devices said, in the order it matters. */
static void
notice_run(evutil_socket_t fd, short ev, void *arg)
{
	struct vm_stop	*s = arg;
	uint32_t	 n;

	n = __atomic_exchange_n(&s->notices, 0, __ATOMIC_ACQ_REL);
	if (n & (1U << DEV_REQ_SHUTDOWN_ACK)) {
		if (s->state == STOP_VMMCI)
			acked(s, 0);
		else if (s->state == STOP_BUTTON) {
			evtimer_del(s->ev_timer);
			acked(s, 1);
		}
	}
	if ((n & (1U << DEV_REQ_SHUTDOWN_NOACK)) && s->state == STOP_VMMCI)
		try_button(s, 1);
	if ((n & (1U << DEV_REQ_SHUTDOWN_LATE)) && s->state == STOP_ACKED &&
	    !s->by_button)
		vm_request(s->ctx, VM_REQ_STOP, "the guest acknowledged the "
		    "shutdown request but did not power off in %d seconds",
		    VMMCI_TIMEOUT_LONG);
}

/*
 * Whole seconds the host's clock moved beyond the time that passed
 * between two readings of both clocks: a host suspend (CLOCK_MONOTONIC
 * stands still meanwhile) or a step of the host's clock.  Slewing by NTP
 * stays far below a second between checks.
 */
int64_t
vm_clock_step(const struct timespec *real0, const struct timespec *mono0,
    const struct timespec *real1, const struct timespec *mono1)
{
	int64_t	 dreal, dmono;

	dreal = (int64_t)(real1->tv_sec - real0->tv_sec) * 1000000000 +
	    (real1->tv_nsec - real0->tv_nsec);
	dmono = (int64_t)(mono1->tv_sec - mono0->tv_sec) * 1000000000 +
	    (mono1->tv_nsec - mono0->tv_nsec);
	return ((dreal - dmono) / 1000000000);
}

/*
 * vmd asks for a clock sync when its RTC's one-second tick finds the
 * host's clock moved more than VM_CLOCK_DRIFT_MAX seconds; here the
 * monotonic clock says how much time really passed, so a tick that is
 * only late (a busy host) asks for nothing.
 */
static void
clock_check(evutil_socket_t fd, short ev, void *arg)
{
	struct vm_stop	*s = arg;
	struct timespec	 real, mono;
	int64_t		 step;

	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	step = vm_clock_step(&s->real, &s->mono, &real, &mono);
	s->real = real;
	s->mono = mono;
	if ((step > VM_CLOCK_DRIFT_MAX || step < -VM_CLOCK_DRIFT_MAX) &&
	    vmmci_ctl(s->vmmci, VMMCI_SYNCRTC) == 1)
		log_debug("host clock moved %lld s: clock sync requested",
		    (long long)step);
}

int
vm_stop_init(struct vmctx *ctx)
{
	struct timeval	 tick = { VM_CLOCK_CHECK, 0 };

	struct vm_stop	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (-1);
	ctx->stop = s;
	s->ctx = ctx;
	s->vmmci = dev_find(&ctx->devs, &vmmci_devsw);
	s->ev_timer = evtimer_new(ctx->evbase, timer_expired, s);
	s->ev_notice = event_new(ctx->evbase, -1, 0, notice_run, s);
	s->ev_clock = event_new(ctx->evbase, -1, EV_PERSIST, clock_check, s);
	if (s->ev_timer == NULL || s->ev_notice == NULL ||
	    s->ev_clock == NULL)
		return (-1);
	clock_gettime(CLOCK_REALTIME, &s->real);
	clock_gettime(CLOCK_MONOTONIC, &s->mono);
	if (event_add(s->ev_clock, &tick) == -1)
		return (-1);
	return (0);
}

/* vmm asks for a shutdown (a stop without -f); the answer goes back. */
void
vm_stop_request(struct vmctx *ctx)
{
	struct vm_stop	*s = ctx->stop;

	if (s->state == STOP_ACKED) {
		answer(s, 0, "");
		return;
	}
	if (s->state != STOP_NONE) {
		answer(s, EALREADY, "a shutdown request is pending");
		return;
	}
	if (vmmci_ctl(s->vmmci, VMMCI_REBOOT) >= 0) {
		log_info("shutdown: asked the guest through vmmci (reboot "
		    "request)");
		s->state = STOP_VMMCI;
		return;
	}
	try_button(s, 0);
}

/*
 * Any thread, any lock held: a device's news about the shutdown (see
 * enum dev_request), run later on the main thread.
 */
void
vm_stop_notice(struct vmctx *ctx, enum dev_request req)
{
	struct vm_stop	*s = ctx->stop;

	if (s == NULL)
		return;
	__atomic_or_fetch(&s->notices, 1U << req, __ATOMIC_ACQ_REL);
	event_active(s->ev_notice, EV_READ, 0);
}

/* A reset while a shutdown is asked for ends the VM instead (as vmd). */
int
vm_stop_pending(struct vmctx *ctx)
{
	return (ctx->stop != NULL && ctx->stop->state != STOP_NONE);
}

/*
 * Paused or unpaused.  The timers run on, as on vmd: a guest paused
 * before it answered will not have.  A long pause leaves the guest's
 * clock behind the RTC, which follows the host: ask for a sync.
 */
void
vm_stop_paused(struct vmctx *ctx, int pause)
{
	struct vm_stop	*s = ctx->stop;
	struct timespec	 now;
	time_t		 gap;

	clock_gettime(CLOCK_REALTIME, &now);
	if (pause) {
		s->paused = 1;
		s->paused_at = now;
		return;
	}
	if (!s->paused)
		return;
	s->paused = 0;
	gap = now.tv_sec - s->paused_at.tv_sec;
	if ((gap > VM_CLOCK_DRIFT_MAX || gap < -VM_CLOCK_DRIFT_MAX) &&
	    vmmci_ctl(s->vmmci, VMMCI_SYNCRTC) == 1)
		log_debug("paused %lld s: clock sync requested",
		    (long long)gap);
}
