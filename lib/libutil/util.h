/*
 * util.h: small BSD helpers: the string functions glibc lacks before
 * 2.38, and fmt_scaled(3)'s way of printing sizes.
 */

#ifndef LIBUTIL_UTIL_H
#define LIBUTIL_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define FMT_SCALED_STRSIZE	7	/* as OpenBSD's <util.h> */

/* fmt.c */
void	fmt_size(uint64_t, char *);

/* strl.c */
#if !defined(__GLIBC__) || (__GLIBC__ == 2 && __GLIBC_MINOR__ < 38)
size_t	strlcpy(char *, const char *, size_t);
size_t	strlcat(char *, const char *, size_t);
#endif

#endif /* LIBUTIL_UTIL_H */
