/*
 * log.h: OpenBSD's daemon logging API.  In debug mode lines go to stderr
 * prefixed with the process name set by log_procinit ("vmd: ",
 * "vm t1: "); otherwise to syslog(3).  Each line is built whole and
 * emitted with one call, so threads may log at once.  Nothing here may
 * change errno for its caller, except fatal/fatalx, which never return.
 */

#ifndef LIBUTIL_LOG_H
#define LIBUTIL_LOG_H

#include <stdarg.h>
#include <syslog.h>

#ifndef __dead
#define __dead		__attribute__((__noreturn__))
#endif

#define LOG_PRINTF(f, a)	__attribute__((__format__(__printf__, f, a)))

void	log_init(int, int);
void	log_procinit(const char *);
void	log_setverbose(int);
int	log_getverbose(void);
void	log_warn(const char *, ...) LOG_PRINTF(1, 2);
void	log_warnx(const char *, ...) LOG_PRINTF(1, 2);
void	log_info(const char *, ...) LOG_PRINTF(1, 2);
void	log_debug(const char *, ...) LOG_PRINTF(1, 2);
void	logit(int, const char *, ...) LOG_PRINTF(2, 3);
void	vlog(int, const char *, va_list) LOG_PRINTF(2, 0);
__dead void fatal(const char *, ...) LOG_PRINTF(1, 2);
__dead void fatalx(const char *, ...) LOG_PRINTF(1, 2);

#endif /* LIBUTIL_LOG_H */
