/*
 * log_test.c: unit tests of lib/libutil/log.c in debug (stderr) mode:
 * exact line formats with the process name, errno text, verbosity,
 * fatal/fatalx exit status, errno preservation, truncation, whole lines
 * from several threads at once, the sink that relays a sandboxed
 * process's lines, log_emit, which writes relayed lines, and the rate
 * limit of log_limited.  Each case runs in a child whose stderr is a
 * pipe, so the harness's own output is never touched.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "regress/test.h"

#define OUT_MAX		(1 << 20)
#define NTHREADS	4
#define NLINES		500
#define PAD		"............................." \
			"............................."	/* 58 */

static char	 out[OUT_MAX];

/*
 * Run fn in a child whose stderr is a pipe we drain; returns its wait
 * status.  A pipe, as journald or a terminal would be: writes of at most
 * PIPE_BUF bytes are atomic there, which the line-at-once design uses.
 */
static int
capture(void (*fn)(void))
{
	size_t	 len = 0;
	ssize_t	 n;
	pid_t	 pid;
	int	 p[2], status = -1;

	out[0] = '\0';
	if (pipe(p) == -1)
		return (-1);
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return (-1);
	}
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		fn();
		_exit(0);
	}
	close(p[1]);
	while (len < sizeof(out) - 1 &&
	    (n = read(p[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid)
		status = -1;
	return (status);
}

static int
exited(int status, int code)
{
	return (status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == code);
}

static void
child_formats(void)
{
	log_init(1, LOG_DAEMON);
	log_procinit("vm t1");
	log_warnx("hello %d", 42);
	errno = ENOENT;
	log_warn("open %s", "x");
	log_info("info %s", "line");
	log_setverbose(0);
	log_debug("hidden");
	log_setverbose(2);
	log_debug("shown %d", log_getverbose());
	logit(LOG_NOTICE, "logit %c", 'z');
}

static void
test_formats(void)
{
	int	 st = capture(child_formats);

	CHECK(exited(st, 0));
	CHECK(strcmp(out,
	    "vm t1: hello 42\n"
	    "vm t1: open x: No such file or directory\n"
	    "vm t1: info line\n"
	    "vm t1: shown 2\n"
	    "vm t1: logit z\n") == 0);
}

static void
child_init_verbose(void)
{
	log_init(1, LOG_DAEMON);	/* debug implies verbose, as OpenBSD */
	log_procinit("vmd");
	log_debug("d1");
	log_init(1, LOG_DAEMON);
	log_procinit("control");
	log_setverbose(0);
	log_debug("d2");
	log_info("i2");
}

static void
test_init_verbose(void)
{
	int	 st = capture(child_init_verbose);

	CHECK(exited(st, 0));
	CHECK(strcmp(out, "vmd: d1\ncontrol: i2\n") == 0);
}

static void
child_fatal(void)
{
	log_init(1, LOG_DAEMON);
	log_procinit("vmm");
	errno = EACCES;
	fatal("cannot %s", "open");
}

static void
child_fatalx(void)
{
	log_init(1, LOG_DAEMON);
	log_procinit("priv");
	errno = EACCES;
	fatalx("bad %d", 7);
}

static void
test_fatal(void)
{
	int	 st;

	st = capture(child_fatal);
	CHECK(exited(st, 1));
	CHECK(strcmp(out, "vmm: fatal: cannot open: Permission denied\n")
	    == 0);
	st = capture(child_fatalx);
	CHECK(exited(st, 1));
	CHECK(strcmp(out, "priv: fatal: bad 7\n") == 0);
}

static void
child_errno(void)
{
	log_init(1, LOG_DAEMON);
	errno = EIO;
	log_info("a");
	log_warn("b");
	log_debug("c");
	if (errno != EIO)
		_exit(3);
}

static void
test_errno_kept(void)
{
	CHECK(exited(capture(child_errno), 0));
	CHECK(strstr(out, ": b: Input/output error\n") != NULL);
}

static void
child_long(void)
{
	static char	 big[10000];

	memset(big, 'A', sizeof(big) - 1);
	log_init(1, LOG_DAEMON);
	log_procinit("t");
	log_warnx("%s", big);
	log_warnx("after");
}

static void
test_truncation(void)
{
	char	*nl;

	CHECK(exited(capture(child_long), 0));
	nl = strchr(out, '\n');
	CHECK(nl != NULL);
	CHECK(nl != NULL && nl - out < 4096 && nl - out > 4000);
	CHECK(nl != NULL && strcmp(nl + 1, "t: after\n") == 0);
}

/* Without log_init, messages still reach stderr. */
static void
child_noinit(void)
{
	log_warnx("early");
}

static void
test_before_init(void)
{
	size_t	 len;

	CHECK(exited(capture(child_noinit), 0));
	len = strlen(out);
	CHECK(len > 8 && strcmp(out + len - 8, ": early\n") == 0);
}

static void *
thread_main(void *arg)
{
	int	 i, t = *(int *)arg;

	for (i = 0; i < NLINES; i++)
		log_info("thread %d line %d %s", t, i, PAD);
	return (NULL);
}

static void
child_threads(void)
{
	pthread_t	 th[NTHREADS];
	int		 ids[NTHREADS], i;

	log_init(1, LOG_DAEMON);
	log_procinit("vm t1");
	for (i = 0; i < NTHREADS; i++) {
		ids[i] = i;
		if (pthread_create(&th[i], NULL, thread_main, &ids[i]) != 0)
			_exit(2);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
}

/* Every line whole and in order per thread: no interleaving. */
static void
test_threads(void)
{
	int	 next[NTHREADS] = { 0 }, t, l, n, bad = 0, lines = 0;
	char	*line, *save = NULL;

	CHECK(exited(capture(child_threads), 0));
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		lines++;
		n = -1;
		if (sscanf(line, "vm t1: thread %d line %d %n", &t, &l, &n)
		    != 2 || n == -1 || t < 0 || t >= NTHREADS ||
		    l != next[t] || strlen(line + n) != strlen(PAD)) {
			bad++;
			continue;
		}
		next[t]++;
	}
	CHECK(bad == 0);
	CHECK(lines == NTHREADS * NLINES);
}

/* A sink as a sandboxed process has: it takes lines without the name. */
static int	 sink_calls;

static int
sink_take(int pri, const char *text, size_t len, void *arg)
{
	sink_calls++;
	if (strcmp(text, "refused") == 0)
		return (-1);
	/* What the sink logs itself must not come back to it. */
	log_warnx("inside the sink");
	dprintf(STDERR_FILENO, "sink %d %s %zu %s\n", pri, text, len,
	    (const char *)arg);
	return (0);
}

static void
child_sink(void)
{
	log_init(1, LOG_DAEMON);
	log_procinit("vm t1");
	log_setsink(sink_take, "arg");
	log_warnx("hello %d", 1);
	errno = EIO;
	log_warn("io");
	log_info("refused");
	log_setverbose(0);
	log_debug("quiet");
	if (sink_calls != 3)
		_exit(3);
}

static void
test_sink(void)
{
	CHECK(exited(capture(child_sink), 0));
	CHECK(strcmp(out,
	    "vm t1: inside the sink\n"
	    "sink 3 hello 1 7 arg\n"
	    "vm t1: inside the sink\n"
	    "sink 3 io: Input/output error 22 arg\n"
	    "vm t1: refused\n") == 0);
}

/* log_emit: a relayed line under its sender's name, made harmless. */
static void
child_emit(void)
{
	log_init(1, LOG_DAEMON);
	log_procinit("vmd");
	log_emit(LOG_INFO, "vm t2", "plain");
	log_emit(LOG_WARNING, "control", "two\nlines \033[2J\x7f end");
	log_setverbose(0);
	log_emit(LOG_DEBUG, "vmm", "not shown");
	log_emit(LOG_INFO, NULL, "no name");
}

static void
test_emit(void)
{
	size_t	 len;

	CHECK(exited(capture(child_emit), 0));
	len = strlen("vm t2: plain\ncontrol: two\\012lines "
	    "\\033[2J\\177 end\n");
	CHECK(strncmp(out, "vm t2: plain\ncontrol: two\\012lines "
	    "\\033[2J\\177 end\n", len) == 0);
	CHECK(strstr(out + len, ": no name\n") != NULL);
	CHECK(strstr(out, "not shown") == NULL);
}

/* log_limited: the burst passes, the rest is counted and reported. */
static void
child_limited(void)
{
	struct timespec	 ts = { 0, 250 * 1000000L };
	int		 i;

	log_init(1, LOG_DAEMON);
	log_procinit("vm t1");
	log_setverbose(0);
	log_limited(LOG_DEBUG, "not counted");
	for (i = 0; i < 1000; i++)
		log_limited(LOG_INFO, "flood %d", i);
	log_limited_flush();
	log_limited_flush();		/* nothing more to say */
	nanosleep(&ts, NULL);		/* 2 or 3 tokens back */
	for (i = 0; i < 10; i++)
		log_limited(LOG_INFO, "later %d", i);
	/* no notify function: the next line that passes reports */
	nanosleep(&ts, NULL);
	log_limited(LOG_INFO, "last");
}

static void
test_limited(void)
{
	char	*p;
	int	 n = 0, later = 0;

	CHECK(exited(capture(child_limited), 0));
	for (p = out; (p = strstr(p, "vm t1: flood ")) != NULL; p++)
		n++;
	CHECK(n == LOG_LIMIT_BURST);
	CHECK(strstr(out, "vm t1: flood 19\nvm t1: 980 log messages dropped "
	    "(more than 10 a second)\nvm t1: later 0\n") != NULL);
	for (p = out; (p = strstr(p, "vm t1: later ")) != NULL; p++)
		later++;
	CHECK(later >= 2 && later <= 4);
	CHECK(strstr(out, "not counted") == NULL);
	p = strstr(out, "log messages dropped (more than 10 a second)\n"
	    "vm t1: last\n");
	CHECK(p != NULL && p[-1] == ' ' && atoi(p - 3) >= 6);
}

int
main(void)
{
	RUN(test_formats);
	RUN(test_init_verbose);
	RUN(test_fatal);
	RUN(test_errno_kept);
	RUN(test_truncation);
	RUN(test_before_init);
	RUN(test_threads);
	RUN(test_sink);
	RUN(test_emit);
	RUN(test_limited);
	TEST_EXIT();
}
