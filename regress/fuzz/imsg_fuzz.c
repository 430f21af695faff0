/*
 * imsg_fuzz.c: libFuzzer target for lib/libutil's imsg read side.  The
 * input's first two bytes choose the options (fd passing allowed or not,
 * descriptors sent along with the bytes, chunk size, maximum message
 * size); the rest is written as a raw byte stream into a non-blocking
 * socketpair while imsgbuf_read, imsg_get, the accessors, imsg_forward
 * and imsg_free run until the stream is exhausted.  It aborts on any
 * descriptor leak.  It must never write anywhere but its own sockets.
 *
 * Build: clang -std=gnu11 -g -O1 -D_GNU_SOURCE -Ilib/libutil \
 *     -fsanitize=fuzzer,address,undefined -o regress/fuzz/imsg_fuzzer \
 *     regress/fuzz/imsg_fuzz.c lib/libutil/imsg.c lib/libutil/imsg-buffer.c
 * Run:   regress/fuzz/imsg_fuzzer -max_total_time=60
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

struct fuzzctx {
	int		 sv[2];
	int		 sink[2];	/* where forwarded messages go */
	struct imsgbuf	 in;
	struct imsgbuf	 fwd;
	int		 dead;		/* imsg_get or read failed */
};

/* Send one chunk, with one descriptor attached if withfd. */
static ssize_t
send_chunk(int sock, const uint8_t *p, size_t len, int withfd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 2)];
	} cm;
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct iovec	 iov;
	int		 fds[2];
	ssize_t		 n;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)(uintptr_t)p;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (withfd) {
		/* Two at once: the reader must keep one and close the other. */
		fds[0] = fds[1] = STDERR_FILENO;
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(fds));
		memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
	}
	n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	return (n);
}

static void
consume(struct fuzzctx *c, struct imsg *imsg)
{
	unsigned char	 buf[UINT16_MAX];
	size_t		 len;
	int		 fd;

	(void)imsg_get_type(imsg);
	(void)imsg_get_id(imsg);
	(void)imsg_get_pid(imsg);
	len = imsg_get_len(imsg);
	if (len != imsg->hdr.len - IMSG_HEADER_SIZE)
		abort();
	if (len > 0) {
		if (imsg_get_data(imsg, buf, len) != 0)
			abort();
		if (memcmp(buf, imsg->data, len) != 0)
			abort();
		if (len > 1 && imsg_get_data(imsg, buf, len - 1) != -1)
			abort();
	}
	/* Claim every other descriptor; imsg_free must close the rest. */
	if (imsg_get_type(imsg) & 1) {
		if ((fd = imsg_get_fd(imsg)) != -1)
			close(fd);
	}
	if (imsg_forward(&c->fwd, imsg) != 1)
		abort();
	if (imsgbuf_write(&c->fwd) == -1)
		abort();
	imsg_free(imsg);
}

static void
drain_sink(struct fuzzctx *c)
{
	char	 buf[65536];

	while (read(c->sink[1], buf, sizeof(buf)) > 0)
		;
}

/* Read what is there and take every complete message. */
static int
pump(struct fuzzctx *c)
{
	struct imsg	 imsg;
	ssize_t		 n;
	int		 r;

	if (c->dead)
		return (-1);
	r = imsgbuf_read(&c->in);
	if (r == -1) {
		c->dead = 1;
		return (-1);
	}
	while ((n = imsg_get(&c->in, &imsg)) > 0)
		consume(c, &imsg);
	if (n == -1) {
		if (errno != EBADMSG && errno != ENOMEM)
			abort();
		c->dead = 1;
		return (-1);
	}
	drain_sink(c);
	return (r);
}

static int
lowest_free_fd(void)
{
	int	 fd;

	if ((fd = dup(STDIN_FILENO)) == -1 &&
	    (fd = open("/dev/null", O_RDONLY)) == -1)
		abort();
	close(fd);
	return (fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzzctx	 c;
	size_t		 off, chunk, nchunk = 0;
	uint32_t	 maxsize;
	ssize_t		 n;
	int		 fdbase, withfds, spins = 0;

	if (size < 2)
		return (0);
	fdbase = lowest_free_fd();
	memset(&c, 0, sizeof(c));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, c.sv) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, c.sink) == -1)
		abort();
	if (imsgbuf_init(&c.in, c.sv[1]) == -1 ||
	    imsgbuf_init(&c.fwd, c.sink[0]) == -1)
		abort();
	if (data[0] & 1)
		imsgbuf_allow_fdpass(&c.in);
	withfds = (data[0] & 2) != 0;
	chunk = 1 + (size_t)(data[0] >> 2) * 67;
	maxsize = IMSG_HEADER_SIZE + (uint32_t)(data[1] % 255) * 257;
	if (imsgbuf_set_maxsize(&c.in, maxsize) == -1 ||
	    imsgbuf_set_maxsize(&c.fwd, maxsize) == -1)
		abort();

	for (off = 2; off < size && !c.dead && spins < 100000; spins++) {
		if (chunk > size - off)
			chunk = size - off;
		/* An fd with every third chunk keeps data and fds apart. */
		n = send_chunk(c.sv[0], data + off, chunk,
		    withfds && nchunk++ % 3 == 0);
		if (n > 0)
			off += (size_t)n;
		else if (n == -1 && errno != EAGAIN)
			abort();
		pump(&c);
	}
	shutdown(c.sv[0], SHUT_WR);
	while (!c.dead && pump(&c) == 1 && spins++ < 200000)
		;

	imsgbuf_clear(&c.in);
	imsgbuf_clear(&c.fwd);
	close(c.sv[0]);
	close(c.sv[1]);
	close(c.sink[0]);
	close(c.sink[1]);
	if (lowest_free_fd() != fdbase)
		abort();	/* a received descriptor leaked */
	return (0);
}
