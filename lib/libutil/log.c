/*
 * log.c: OpenBSD-style daemon logging.  Debug mode writes to stderr with
 * the process name in front; daemon mode goes to syslog with LOG_PID.
 * Every line is formatted whole into a stack buffer and emitted with a
 * single write(2) or syslog(3) call so that lines from several threads
 * never interleave.  Logging must never change errno for its caller and
 * must never fail loudly itself: a line that does not fit is truncated.
 * Until log_init is called, lines go to stderr, so tools and tests that
 * never call it still see their messages.
 *
 * A sandboxed process must never open a socket to log: it installs a
 * sink (log_setsink) that hands each line, without the process name, to
 * its parent, and the parent writes it with log_emit.  A line the sink
 * cannot take, or one logged from inside the sink, goes to stderr, which
 * never needs a new descriptor.
 *
 * Lines that somebody outside can cause at will (a guest touching a
 * port, a client sending garbage) go through log_limited, a token bucket
 * per process: LOG_LIMIT_BURST at once, LOG_LIMIT_RATE a second after
 * that; what it drops is counted and reported by log_limited_flush.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* At most PIPE_BUF, so one write(2) to a pipe stays atomic. */
#define LOG_LINE_MAX	4096
#define LOG_NAME_MAX	64

static int	 log_to_stderr = 1;
static int	 log_verbose;
static char	 log_ident[LOG_NAME_MAX];
static char	 log_procname[LOG_NAME_MAX];
static log_sink_fn log_sink;
static void	*log_sink_arg;
static __thread int log_in_sink;	/* the sink itself logs: not again */

/* log_limited's bucket, in thousandths of a line. */
static pthread_mutex_t	 limit_mtx = PTHREAD_MUTEX_INITIALIZER;
static int64_t		 limit_tokens = LOG_LIMIT_BURST * 1000LL;
static int64_t		 limit_last_ms = -1;
static uint64_t		 limit_dropped;
static int		 limit_notified;
static void		(*limit_notify)(void);

struct logline {
	char	 buf[LOG_LINE_MAX];
	size_t	 len;
};

static void	 line_vadd(struct logline *, const char *, va_list)
		    LOG_PRINTF(2, 0);
static void	 line_add(struct logline *, const char *, ...)
		    LOG_PRINTF(2, 3);
static void	 vlog_err(int, int, const char *, const char *, va_list)
		    LOG_PRINTF(4, 0);

static void
copy_name(char *dst, const char *src)
{
	snprintf(dst, LOG_NAME_MAX, "%s", src != NULL ? src : "");
}

void
log_init(int debug, int facility)
{
	log_to_stderr = debug;
	log_setverbose(debug);
	copy_name(log_ident, program_invocation_short_name);
	copy_name(log_procname, log_ident);
	if (!debug)
		openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
	/* Load the zone now: a sandboxed process cannot open it later. */
	tzset();
}

void
log_procinit(const char *name)
{
	if (name != NULL)
		copy_name(log_procname, name);
}

void
log_setsink(log_sink_fn fn, void *arg)
{
	log_sink_arg = arg;
	__atomic_store_n(&log_sink, fn, __ATOMIC_RELEASE);
}

void
log_setverbose(int v)
{
	__atomic_store_n(&log_verbose, v, __ATOMIC_RELAXED);
}

int
log_getverbose(void)
{
	return (__atomic_load_n(&log_verbose, __ATOMIC_RELAXED));
}

static void
line_vadd(struct logline *l, const char *fmt, va_list ap)
{
	size_t	 room = sizeof(l->buf) - l->len;
	int	 n;

	if (room <= 1)
		return;
	n = vsnprintf(l->buf + l->len, room, fmt, ap);
	if (n < 0)
		return;
	l->len += (size_t)n < room ? (size_t)n : room - 1;
}

static void
line_add(struct logline *l, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	line_vadd(l, fmt, ap);
	va_end(ap);
}

static void
emit_stderr(struct logline *l)
{
	const char	*p = l->buf;
	size_t		 left;
	ssize_t		 n;

	/* Keep the newline even when the message was truncated. */
	if (l->len >= sizeof(l->buf) - 1)
		l->len = sizeof(l->buf) - 2;
	l->buf[l->len++] = '\n';
	left = l->len;
	while (left > 0) {
		n = write(STDERR_FILENO, p, left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		left -= (size_t)n;
	}
}

/*
 * The name in front of a line: on stderr always, in syslog only when it
 * says more than the ident syslog already shows.
 */
static void
line_name(struct logline *l, const char *name)
{
	if (name == NULL || name[0] == '\0')
		name = program_invocation_short_name;
	if (log_to_stderr || strcmp(name, log_ident) != 0)
		line_add(l, "%s: ", name);
}

static void
line_emit(int pri, struct logline *l)
{
	if (log_to_stderr)
		emit_stderr(l);
	else
		syslog(pri, "%s", l->buf);
}

/*
 * Format one line: the message and ": strerror(err)" if err is not 0.
 * A sink gets it as it is; stderr and syslog get the process name in
 * front.
 */
static void
vlog_err(int pri, int err, const char *pfx, const char *fmt, va_list ap)
{
	struct logline	 l, named;
	log_sink_fn	 sink;
	char		 ebuf[128];
	int		 saved_errno = errno;

	l.len = 0;
	l.buf[0] = '\0';
	if (pfx != NULL)
		line_add(&l, "%s", pfx);
	if (fmt != NULL)
		line_vadd(&l, fmt, ap);
	if (err != 0)
		line_add(&l, "%s%s", fmt != NULL || pfx != NULL ? ": " : "",
		    strerror_r(err, ebuf, sizeof(ebuf)));

	sink = __atomic_load_n(&log_sink, __ATOMIC_ACQUIRE);
	if (sink != NULL && !log_in_sink) {
		log_in_sink = 1;
		if (sink(pri, l.buf, l.len, log_sink_arg) == 0) {
			log_in_sink = 0;
			errno = saved_errno;
			return;
		}
		log_in_sink = 0;
	}
	named.len = 0;
	named.buf[0] = '\0';
	line_name(&named, log_procname);
	line_add(&named, "%s", l.buf);
	/* Never syslog once a sink is set: syslog may need a new socket. */
	if (sink != NULL)
		emit_stderr(&named);
	else
		line_emit(pri, &named);
	errno = saved_errno;
}

/*
 * A line another process of the daemon logged (text), written here as
 * if proc had written it.  text may come from a process that cannot be
 * trusted: control characters are shown as \ooo, never written as they
 * are, so it can neither forge lines nor drive a terminal.
 */
void
log_emit(int pri, const char *proc, const char *text)
{
	struct logline	 l;
	const unsigned char *p;
	int		 saved_errno = errno;

	if (pri == LOG_DEBUG && log_getverbose() <= 0)
		return;
	l.len = 0;
	l.buf[0] = '\0';
	line_name(&l, proc);
	for (p = (const unsigned char *)text; *p != '\0' &&
	    l.len < sizeof(l.buf) - 5; p++) {
		if (*p < 0x20 || *p == 0x7f)
			line_add(&l, "\\%03o", *p);
		else
			l.buf[l.len++] = (char)*p;
	}
	l.buf[l.len] = '\0';
	line_emit(pri, &l);
	errno = saved_errno;
}

void
vlog(int pri, const char *fmt, va_list ap)
{
	vlog_err(pri, 0, NULL, fmt, ap);
}

void
logit(int pri, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(pri, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog_err(LOG_ERR, errno, NULL, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_getverbose() <= 0)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 err = errno;

	va_start(ap, fmt);
	/* errno 0 would print "Success": leave the reason out instead. */
	vlog_err(LOG_CRIT, err, fmt != NULL ? "fatal: " : "fatal", fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog_err(LOG_CRIT, 0, fmt != NULL ? "fatal: " : "fatal", fmt, ap);
	va_end(ap);
	exit(1);
}

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * Take a token for one line.  Returns 1 if the line may go out, 0 if it
 * is dropped; *report says the dropped lines should be reported now (no
 * notify function, so the line that passes reports them).
 */
static int
limit_take(int *report)
{
	void	(*notify)(void) = NULL;
	int64_t	 now = now_ms();
	int	 ok;

	*report = 0;
	pthread_mutex_lock(&limit_mtx);
	if (limit_last_ms >= 0 && now > limit_last_ms) {
		limit_tokens += (now - limit_last_ms) * LOG_LIMIT_RATE;
		if (limit_tokens > LOG_LIMIT_BURST * 1000LL)
			limit_tokens = LOG_LIMIT_BURST * 1000LL;
	}
	limit_last_ms = now;
	if (limit_tokens >= 1000) {
		limit_tokens -= 1000;
		ok = 1;
		*report = limit_dropped > 0 && limit_notify == NULL;
	} else {
		ok = 0;
		limit_dropped++;
		if (!limit_notified) {
			limit_notified = 1;
			notify = limit_notify;
		}
	}
	pthread_mutex_unlock(&limit_mtx);
	if (notify != NULL)
		notify();
	return (ok);
}

void
log_limited(int pri, const char *fmt, ...)
{
	va_list	 ap;
	int	 report;

	if (pri == LOG_DEBUG && log_getverbose() <= 0)
		return;
	if (!limit_take(&report))
		return;
	if (report)
		log_limited_flush();
	va_start(ap, fmt);
	vlog(pri, fmt, ap);
	va_end(ap);
}

/* Say how many lines log_limited dropped since the last report. */
void
log_limited_flush(void)
{
	uint64_t	 n;

	pthread_mutex_lock(&limit_mtx);
	n = limit_dropped;
	limit_dropped = 0;
	limit_notified = 0;
	pthread_mutex_unlock(&limit_mtx);
	if (n > 0)
		logit(LOG_WARNING, "%llu log messages dropped (more than %d "
		    "a second)", (unsigned long long)n, LOG_LIMIT_RATE);
}

/*
 * fn is called (from whichever thread logs) at the first drop after a
 * report; it should arrange for log_limited_flush to run a little later.
 */
void
log_limited_notify(void (*fn)(void))
{
	pthread_mutex_lock(&limit_mtx);
	limit_notify = fn;
	pthread_mutex_unlock(&limit_mtx);
}
