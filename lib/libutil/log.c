/*
 * log.c: OpenBSD-style daemon logging.  Debug mode writes to stderr with
 * the process name in front; daemon mode goes to syslog with LOG_PID.
 * Every line is formatted whole into a stack buffer and emitted with a
 * single write(2) or syslog(3) call so that lines from several threads
 * never interleave.  Logging must never change errno for its caller and
 * must never fail loudly itself: a line that does not fit is truncated.
 * Until log_init is called, lines go to stderr, so tools and tests that
 * never call it still see their messages.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdarg.h>
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
 * Format one line: the process name (on stderr always, in syslog only
 * when it says more than the ident syslog already shows), the message,
 * and ": strerror(err)" if err is not 0.
 */
static void
vlog_err(int pri, int err, const char *pfx, const char *fmt, va_list ap)
{
	struct logline	 l;
	char		 ebuf[128];
	int		 saved_errno = errno;

	l.len = 0;
	l.buf[0] = '\0';
	if (log_to_stderr || strcmp(log_procname, log_ident) != 0)
		line_add(&l, "%s: ",
		    log_procname[0] != '\0' ? log_procname :
		    program_invocation_short_name);
	if (pfx != NULL)
		line_add(&l, "%s", pfx);
	if (fmt != NULL)
		line_vadd(&l, fmt, ap);
	if (err != 0)
		line_add(&l, "%s%s", fmt != NULL || pfx != NULL ? ": " : "",
		    strerror_r(err, ebuf, sizeof(ebuf)));

	if (log_to_stderr)
		emit_stderr(&l);
	else
		syslog(pri, "%s", l.buf);
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
