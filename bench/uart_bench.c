/*
 * uart_bench.c: throughput of guest console output through the ns8250
 * model: this thread plays the vCPU writing THR byte by byte through
 * dev_io(), an event thread drains the transmit ring into a pipe as the
 * vm process does, and a reader thread empties the pipe.  It prints the
 * vCPU-side write rate and the delivered rate in bytes per second.  It
 * measures only; it must never be part of a pass/fail test.
 *
 * Build: make bench/uart_bench.  Run: bench/uart_bench [bytes]
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "dev.h"
#include "vm.h"

struct reader {
	int		 fd;
	size_t		 n;
};

static void *
loop_main(void *arg)
{
	event_base_loop(arg, EVLOOP_NO_EXIT_ON_EMPTY);
	return (NULL);
}

static void *
reader_main(void *arg)
{
	struct reader	*r = arg;
	char		 buf[65536];
	ssize_t		 n;

	while ((n = read(r->fd, buf, sizeof(buf))) > 0)
		__atomic_add_fetch(&r->n, n, __ATOMIC_RELAXED);
	return (NULL);
}

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

int
main(int argc, char *argv[])
{
	struct dev_attach_args a = { .fd2 = -1 };
	struct dev_host	 host;
	struct devices	 set;
	struct reader	 r;
	struct event_base *evb;
	pthread_t	 tl, tr;
	size_t		 total = argc > 1 ? strtoull(argv[1], NULL, 0) :
			    (size_t)32 << 20, i, last = 0;
	double		 t0, t1, t2;
	int		 p[2], stable = 0;
	uint8_t		 c;

	evthread_use_pthreads();
	if (pipe(p) == -1 || (evb = event_base_new()) == NULL) {
		perror("setup");
		return (1);
	}
	memset(&host, 0, sizeof(host));
	host.evbase = evb;
	dev_init(&set, &host);
	a.fd = p[1];
	if (dev_attach(&set, &ns8250_devsw, &a) == NULL) {
		fprintf(stderr, "attach failed\n");
		return (1);
	}
	memset(&r, 0, sizeof(r));
	r.fd = p[0];
	pthread_create(&tl, NULL, loop_main, evb);
	pthread_create(&tr, NULL, reader_main, &r);

	t0 = now();
	for (i = 0; i < total; i++) {
		c = i;
		dev_io(&set, DEV_SPACE_IO, VM_COM1_PORT, 1, &c, 1);
	}
	t1 = now();
	/* delivered: until the count stops moving for 50 ms */
	while (stable < 50) {
		usleep(1000);
		i = __atomic_load_n(&r.n, __ATOMIC_RELAXED);
		stable = (i == last) ? stable + 1 : 0;
		last = i;
		if (i == total)
			break;
	}
	t2 = now() - (stable ? stable * 0.001 : 0);

	printf("ns8250 THR writes: %zu bytes in %.3f s: %.0f bytes/s\n",
	    total, t1 - t0, total / (t1 - t0));
	printf("delivered to pipe: %zu bytes in %.3f s: %.0f bytes/s"
	    " (%zu dropped)\n", last, t2 - t0, last / (t2 - t0),
	    total - last);

	event_base_loopbreak(evb);
	pthread_join(tl, NULL);
	dev_detach_all(&set);
	close(p[1]);
	pthread_join(tr, NULL);
	close(p[0]);
	event_base_free(evb);
	return (0);
}
