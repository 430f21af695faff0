/*
 * util.h: small BSD string helpers glibc lacks before 2.38.  Nothing
 * else belongs here.
 */

#ifndef LIBUTIL_UTIL_H
#define LIBUTIL_UTIL_H

#include <stddef.h>

/* strl.c */
#if !defined(__GLIBC__) || (__GLIBC__ == 2 && __GLIBC_MINOR__ < 38)
size_t	strlcpy(char *, const char *, size_t);
size_t	strlcat(char *, const char *, size_t);
#endif

#endif /* LIBUTIL_UTIL_H */
