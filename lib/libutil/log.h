/*
 * log.h: OpenBSD's daemon logging API.  In debug mode lines go to stderr
 * prefixed with the process name set by log_procinit ("vmd: ",
 * "vm t1: "); otherwise to syslog(3), or to a sink (log_setsink) that
 * relays it to another process, which writes it with log_emit.  Each
 * line is built whole and emitted with one call, so threads may log at
 * once.  Nothing here may change errno for its caller, except
 * fatal/fatalx, which never return.
 */

#ifndef LIBUTIL_LOG_H
#define LIBUTIL_LOG_H

#include <stdarg.h>
#include <syslog.h>

#ifndef __dead
#define __dead		__attribute__((__noreturn__))
#endif

#define LOG_PRINTF(f, a)	__attribute__((__format__(__printf__, f, a)))

/* log_limited: lines an outsider can cause, per process */
#define LOG_LIMIT_RATE		10	/* a second, after */
#define LOG_LIMIT_BURST		20	/* at once */

/*
 * A sink takes one formatted line (without the process name) and returns
 * 0, or -1 when it could not, and the line then goes to stderr.
 */
typedef int	(*log_sink_fn)(int, const char *, size_t, void *);

void	log_init(int, int);
void	log_procinit(const char *);
void	log_setsink(log_sink_fn, void *);
void	log_emit(int, const char *, const char *);
void	log_setverbose(int);
int	log_getverbose(void);
void	log_warn(const char *, ...) LOG_PRINTF(1, 2);
void	log_warnx(const char *, ...) LOG_PRINTF(1, 2);
void	log_info(const char *, ...) LOG_PRINTF(1, 2);
void	log_debug(const char *, ...) LOG_PRINTF(1, 2);
void	logit(int, const char *, ...) LOG_PRINTF(2, 3);
void	log_limited(int, const char *, ...) LOG_PRINTF(2, 3);
void	log_limited_flush(void);
void	log_limited_notify(void (*)(void));
void	vlog(int, const char *, va_list) LOG_PRINTF(2, 0);
__dead void fatal(const char *, ...) LOG_PRINTF(1, 2);
__dead void fatalx(const char *, ...) LOG_PRINTF(1, 2);

#endif /* LIBUTIL_LOG_H */
