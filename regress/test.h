/*
 * test.h: the tiny harness every unit test in regress/unit uses.  A test
 * program runs its cases and prints one line per case, "PASS name" or
 * "FAIL name: why", which regress/run.sh counts.  It must never print a
 * PASS line for a case that did not run its checks.
 */

#ifndef REGRESS_TEST_H
#define REGRESS_TEST_H

#include <stdio.h>
#include <string.h>

static int	 test_failed_now;
static int	 test_nfail;
static const char *test_name_now;

/* CHECK(cond): record a failure of the current case and keep going. */
#define CHECK(cond) do {						\
	if (!(cond)) {							\
		if (!test_failed_now)					\
			printf("FAIL %s: %s:%d: %s\n", test_name_now,	\
			    __FILE__, __LINE__, #cond);			\
		test_failed_now = 1;					\
	}								\
} while (0)

#define RUN(fn) do {							\
	test_name_now = #fn;						\
	test_failed_now = 0;						\
	fn();								\
	if (test_failed_now)						\
		test_nfail++;						\
	else								\
		printf("PASS %s\n", #fn);				\
	fflush(stdout);							\
} while (0)

#define TEST_EXIT()	return (test_nfail ? 1 : 0)

#endif /* REGRESS_TEST_H */
