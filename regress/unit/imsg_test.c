/*
 * imsg_test.c: unit tests of lib/libutil's imsg over real socketpairs:
 * round trips of every size, descriptor passing and its refusal, partial
 * and malformed input from a raw peer, EOF, a 1000-message non-blocking
 * run, and descriptor accounting.  It needs only lib/libutil and must
 * never pass a case whose checks did not run.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "regress/test.h"

#define PAYLOAD_MAX	(MAX_IMSGSIZE - IMSG_HEADER_SIZE)

struct pair {
	int		 sv[2];
	struct imsgbuf	 a;	/* sender side */
	struct imsgbuf	 b;	/* receiver side */
};

static int
pair_open(struct pair *p, int nonblock)
{
	int	 type = SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0);

	if (socketpair(AF_UNIX, type, 0, p->sv) == -1)
		return (-1);
	if (imsgbuf_init(&p->a, p->sv[0]) == -1 ||
	    imsgbuf_init(&p->b, p->sv[1]) == -1)
		return (-1);
	return (0);
}

static void
pair_close(struct pair *p)
{
	imsgbuf_clear(&p->a);
	imsgbuf_clear(&p->b);
	if (p->sv[0] != -1)
		close(p->sv[0]);
	if (p->sv[1] != -1)
		close(p->sv[1]);
}

static int
count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (n - 1);	/* the DIR's own */
}

static int
fd_is_open(int fd)
{
	return (fcntl(fd, F_GETFD) != -1);
}

static void
fill(unsigned char *buf, size_t len, unsigned int seed)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(seed * 131 + i * 7);
}

/* Read until one message is complete; -1 on error or EOF. */
static ssize_t
get_one(struct imsgbuf *ib, struct imsg *imsg)
{
	ssize_t	 n;
	int	 i, r;

	for (i = 0; i < 1000; i++) {
		if ((n = imsg_get(ib, imsg)) != 0)
			return (n);
		if ((r = imsgbuf_read(ib)) != 1)
			return (-1);
	}
	return (-1);
}

static void
test_roundtrip_sizes(void)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 100, 4000,
	    PAYLOAD_MAX - 1, PAYLOAD_MAX, 0 };
	static unsigned char out[PAYLOAD_MAX], in[PAYLOAD_MAX];
	struct pair	 p;
	struct imsg	 imsg;
	size_t		 i, n = sizeof(sizes) / sizeof(sizes[0]);
	ssize_t		 len;

	CHECK(pair_open(&p, 0) == 0);
	for (i = 0; i < n; i++) {
		fill(out, sizes[i], i);
		CHECK(imsg_compose(&p.a, 100 + i, 7 * i, 1000 + i, -1, out,
		    sizes[i]) == 1);
	}
	CHECK(imsgbuf_queuelen(&p.a) == n);
	CHECK(imsgbuf_flush(&p.a) == 0);
	CHECK(imsgbuf_queuelen(&p.a) == 0);
	for (i = 0; i < n; i++) {
		len = get_one(&p.b, &imsg);
		CHECK(len == (ssize_t)(sizes[i] + IMSG_HEADER_SIZE));
		if (len <= 0)
			break;
		CHECK(imsg_get_type(&imsg) == 100 + i);
		CHECK(imsg_get_id(&imsg) == 7 * i);
		CHECK(imsg_get_pid(&imsg) == (pid_t)(1000 + i));
		CHECK(imsg_get_len(&imsg) == sizes[i]);
		CHECK(imsg.hdr.len == sizes[i] + IMSG_HEADER_SIZE);
		CHECK(imsg_get_fd(&imsg) == -1);
		if (sizes[i] == 0) {
			CHECK(imsg.data == NULL);
		} else {
			fill(out, sizes[i], i);
			CHECK(imsg_get_data(&imsg, in, sizes[i]) == 0);
			CHECK(memcmp(in, out, sizes[i]) == 0);
			CHECK(memcmp(imsg.data, out, sizes[i]) == 0);
		}
		imsg_free(&imsg);
	}
	CHECK(imsg_get(&p.b, &imsg) == 0);
	pair_close(&p);
}

static void
test_compose_too_large(void)
{
	static unsigned char big[PAYLOAD_MAX + 1];
	struct pair	 p;
	struct iovec	 iov[2];
	int		 pfd[2];

	CHECK(pair_open(&p, 0) == 0);
	errno = 0;
	CHECK(imsg_compose(&p.a, 1, 0, 0, -1, big, sizeof(big)) == -1);
	CHECK(errno == ERANGE);
	/* Two halves that only together are too large. */
	iov[0].iov_base = big;
	iov[0].iov_len = PAYLOAD_MAX / 2 + 1;
	iov[1].iov_base = big;
	iov[1].iov_len = PAYLOAD_MAX / 2 + 1;
	errno = 0;
	CHECK(imsg_composev(&p.a, 1, 0, 0, -1, iov, 2) == -1);
	CHECK(errno == ERANGE);
	/* The fd is ours even on failure: it must be closed, not leaked. */
	CHECK(pipe(pfd) == 0);
	errno = 0;
	CHECK(imsg_compose(&p.a, 1, 0, 0, pfd[0], big, sizeof(big)) == -1);
	CHECK(errno == ERANGE);
	CHECK(!fd_is_open(pfd[0]));
	close(pfd[1]);
	CHECK(imsgbuf_queuelen(&p.a) == 0);
	/* A smaller maximum applies to compose as well. */
	CHECK(imsgbuf_set_maxsize(&p.a, 64) == 0);
	CHECK(imsg_compose(&p.a, 1, 0, 0, -1, big, 64 - IMSG_HEADER_SIZE)
	    == 1);
	CHECK(imsg_compose(&p.a, 1, 0, 0, -1, big, 65 - IMSG_HEADER_SIZE)
	    == -1);
	CHECK(imsgbuf_set_maxsize(&p.a, IMSG_HEADER_SIZE - 1) == -1);
	CHECK(imsgbuf_set_maxsize(&p.a, 70000) == -1);
	pair_close(&p);
}

static void
test_composev(void)
{
	struct pair	 p;
	struct imsg	 imsg;
	struct iovec	 iov[3];
	char		 buf[16];

	CHECK(pair_open(&p, 0) == 0);
	iov[0].iov_base = "abc";
	iov[0].iov_len = 3;
	iov[1].iov_base = NULL;
	iov[1].iov_len = 0;
	iov[2].iov_base = "defgh";
	iov[2].iov_len = 5;
	CHECK(imsg_composev(&p.a, 9, 1, 2, -1, iov, 3) == 1);
	CHECK(imsgbuf_flush(&p.a) == 0);
	CHECK(get_one(&p.b, &imsg) == IMSG_HEADER_SIZE + 8);
	CHECK(imsg_get_data(&imsg, buf, 8) == 0);
	CHECK(memcmp(buf, "abcdefgh", 8) == 0);
	imsg_free(&imsg);
	pair_close(&p);
}

static void
test_fd_pass(void)
{
	struct pair	 p;
	struct imsg	 imsg;
	int		 pfd[2], fd, base;
	char		 c = 0;

	base = count_fds();
	CHECK(pair_open(&p, 0) == 0);
	imsgbuf_allow_fdpass(&p.b);
	CHECK(pipe(pfd) == 0);
	CHECK(imsg_compose(&p.a, 5, 0, 0, pfd[0], "x", 1) == 1);
	CHECK(fd_is_open(pfd[0]));	/* queued, not yet sent */
	CHECK(imsgbuf_flush(&p.a) == 0);
	CHECK(!fd_is_open(pfd[0]));	/* closed once sent */
	CHECK(get_one(&p.b, &imsg) == IMSG_HEADER_SIZE + 1);
	CHECK(imsg.hdr.flags & IMSGF_HASFD);
	fd = imsg_get_fd(&imsg);
	CHECK(fd >= 0);
	CHECK(imsg_get_fd(&imsg) == -1);
	imsg_free(&imsg);
	CHECK(fd >= 0 && fd_is_open(fd));	/* imsg_free left it to us */
	CHECK(write(pfd[1], "Z", 1) == 1);
	CHECK(fd >= 0 && read(fd, &c, 1) == 1);
	CHECK(c == 'Z');
	CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
	if (fd >= 0)
		close(fd);
	close(pfd[1]);
	pair_close(&p);
	CHECK(count_fds() == base);
}

/* Several messages, some with fds: each fd reaches its own message. */
static void
test_fd_order(void)
{
	static const int hasfd[] = { 1, 0, 1, 1, 0, 0, 1 };
	struct pair	 p;
	struct imsg	 imsg;
	int		 pfd[7][2], i, fd, base;
	char		 c;

	base = count_fds();
	CHECK(pair_open(&p, 0) == 0);
	imsgbuf_allow_fdpass(&p.b);
	for (i = 0; i < 7; i++) {
		pfd[i][0] = pfd[i][1] = -1;
		if (hasfd[i]) {
			CHECK(pipe(pfd[i]) == 0);
			c = (char)('a' + i);
			CHECK(write(pfd[i][1], &c, 1) == 1);
			close(pfd[i][1]);
		}
		CHECK(imsg_compose(&p.a, i, 0, 0, pfd[i][0], &i,
		    sizeof(i)) == 1);
	}
	CHECK(imsgbuf_flush(&p.a) == 0);
	for (i = 0; i < 7; i++) {
		CHECK(get_one(&p.b, &imsg) > 0);
		CHECK(imsg_get_type(&imsg) == (uint32_t)i);
		fd = imsg_get_fd(&imsg);
		if (!hasfd[i]) {
			CHECK(fd == -1);
		} else {
			c = 0;
			CHECK(fd >= 0 && read(fd, &c, 1) == 1);
			CHECK(c == 'a' + i);
			if (fd >= 0)
				close(fd);
		}
		imsg_free(&imsg);
	}
	pair_close(&p);
	CHECK(count_fds() == base);
}

/* An fd left unclaimed is closed by imsg_free. */
static void
test_fd_unclaimed(void)
{
	struct pair	 p;
	struct imsg	 imsg;
	int		 pfd[2], base;

	base = count_fds();
	CHECK(pair_open(&p, 0) == 0);
	imsgbuf_allow_fdpass(&p.b);
	CHECK(pipe(pfd) == 0);
	close(pfd[1]);
	CHECK(imsg_compose(&p.a, 1, 0, 0, pfd[0], NULL, 0) == 1);
	CHECK(imsgbuf_flush(&p.a) == 0);
	CHECK(get_one(&p.b, &imsg) == IMSG_HEADER_SIZE);
	CHECK(imsg.fd >= 0);
	imsg_free(&imsg);
	pair_close(&p);
	CHECK(count_fds() == base);
}

static void
test_fd_rejected(void)
{
	struct pair	 p;
	int		 pfd[2], base;

	base = count_fds();
	CHECK(pair_open(&p, 0) == 0);
	CHECK(pipe(pfd) == 0);
	close(pfd[1]);
	CHECK(imsg_compose(&p.a, 1, 0, 0, pfd[0], "x", 1) == 1);
	CHECK(imsgbuf_flush(&p.a) == 0);
	errno = 0;
	CHECK(imsgbuf_read(&p.b) == -1);
	CHECK(errno == EPERM);
	pair_close(&p);
	CHECK(count_fds() == base);
}

/* Queued fds never sent are closed by imsgbuf_clear. */
static void
test_clear_closes(void)
{
	struct pair	 p;
	int		 pfd[2];

	CHECK(pair_open(&p, 0) == 0);
	CHECK(pipe(pfd) == 0);
	CHECK(imsg_compose(&p.a, 1, 0, 0, pfd[0], "x", 1) == 1);
	CHECK(imsgbuf_queuelen(&p.a) == 1);
	imsgbuf_clear(&p.a);
	CHECK(!fd_is_open(pfd[0]));
	close(pfd[1]);
	imsgbuf_clear(&p.a);	/* twice is harmless */
	CHECK(imsgbuf_init(&p.a, p.sv[0]) == 0);
	pair_close(&p);
}

static void
put_hdr(unsigned char *buf, uint32_t type, uint16_t len, uint16_t flags)
{
	struct imsg_hdr	 hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = len;
	hdr.flags = flags;
	memcpy(buf, &hdr, sizeof(hdr));
}

static void
test_truncated(void)
{
	struct pair	 p;
	struct imsg	 imsg;
	unsigned char	 raw[IMSG_HEADER_SIZE + 100];
	char		 data[100];
	size_t		 cut;

	for (cut = 1; cut < sizeof(raw); cut += 37) {
		CHECK(pair_open(&p, 1) == 0);
		put_hdr(raw, 42, sizeof(raw), 0);
		fill(raw + IMSG_HEADER_SIZE, 100, 3);
		CHECK(write(p.sv[0], raw, cut) == (ssize_t)cut);
		CHECK(imsgbuf_read(&p.b) == 1);
		CHECK(imsg_get(&p.b, &imsg) == 0);
		CHECK(imsgbuf_read(&p.b) == 1);	/* EAGAIN: still fine */
		CHECK(imsg_get(&p.b, &imsg) == 0);
		CHECK(write(p.sv[0], raw + cut, sizeof(raw) - cut) ==
		    (ssize_t)(sizeof(raw) - cut));
		CHECK(imsgbuf_read(&p.b) == 1);
		CHECK(imsg_get(&p.b, &imsg) == (ssize_t)sizeof(raw));
		CHECK(imsg_get_type(&imsg) == 42);
		CHECK(imsg_get_data(&imsg, data, sizeof(data)) == 0);
		CHECK(memcmp(data, raw + IMSG_HEADER_SIZE, 100) == 0);
		imsg_free(&imsg);
		pair_close(&p);
	}
}

static void
raw_expect_badmsg(uint16_t len, uint16_t flags, uint32_t maxsize)
{
	struct pair	 p;
	struct imsg	 imsg;
	unsigned char	 raw[IMSG_HEADER_SIZE + 32];

	memset(raw, 0, sizeof(raw));
	CHECK(pair_open(&p, 1) == 0);
	if (maxsize != 0)
		CHECK(imsgbuf_set_maxsize(&p.b, maxsize) == 0);
	put_hdr(raw, 1, len, flags);
	CHECK(write(p.sv[0], raw, sizeof(raw)) == (ssize_t)sizeof(raw));
	CHECK(imsgbuf_read(&p.b) == 1);
	errno = 0;
	CHECK(imsg_get(&p.b, &imsg) == -1);
	CHECK(errno == EBADMSG);
	errno = 0;
	CHECK(imsg_get(&p.b, &imsg) == -1);	/* and stays so */
	CHECK(errno == EBADMSG);
	pair_close(&p);
}

static void
test_oversize_header(void)
{
	raw_expect_badmsg(MAX_IMSGSIZE + 1, 0, 0);
	raw_expect_badmsg(UINT16_MAX, 0, 0);
	raw_expect_badmsg(IMSG_HEADER_SIZE + 17, 0, IMSG_HEADER_SIZE + 16);
}

static void
test_undersize_header(void)
{
	raw_expect_badmsg(0, 0, 0);
	raw_expect_badmsg(IMSG_HEADER_SIZE - 1, 0, 0);
}

/* A header that promises an fd that never came. */
static void
test_missing_fd(void)
{
	raw_expect_badmsg(IMSG_HEADER_SIZE, IMSGF_HASFD, 0);
}

static void
test_eof(void)
{
	struct pair	 p;
	struct imsg	 imsg;

	CHECK(pair_open(&p, 0) == 0);
	CHECK(imsg_compose(&p.a, 3, 0, 0, -1, "hi", 2) == 1);
	CHECK(imsgbuf_flush(&p.a) == 0);
	close(p.sv[0]);
	p.sv[0] = -1;
	CHECK(imsgbuf_read(&p.b) == 1);
	CHECK(imsgbuf_read(&p.b) == 0);
	CHECK(imsg_get(&p.b, &imsg) == IMSG_HEADER_SIZE + 2);
	imsg_free(&imsg);
	CHECK(imsg_get(&p.b, &imsg) == 0);
	pair_close(&p);
}

/*
 * Writing to a closed peer is an error, not a SIGPIPE: tried in a child
 * with SIGPIPE at its default, so a signal would kill the child only.
 */
static void
test_write_peer_gone(void)
{
	struct pair	 p;
	pid_t		 pid;
	int		 status = -1;

	CHECK(pair_open(&p, 0) == 0);
	close(p.sv[1]);
	p.sv[1] = -1;
	CHECK(imsg_compose(&p.a, 3, 0, 0, -1, "hi", 2) == 1);
	if ((pid = fork()) == 0) {
		signal(SIGPIPE, SIG_DFL);
		errno = 0;
		if (imsgbuf_write(&p.a) == -1 && errno == EPIPE)
			_exit(0);
		_exit(1);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	pair_close(&p);
}

static size_t
msg_size(int i)
{
	return ((size_t)(i * 37) % 3000);
}

/* 1000 messages through a small non-blocking socket, both ends busy. */
static void
test_nonblocking_1000(void)
{
	static unsigned char out[3000], in[3000];
	struct pair	 p;
	struct imsg	 imsg;
	int		 sent = 0, got = 0, rounds = 0, sndbuf = 4096;
	int		 partial = 0, bad = 0, pid = 1;
	ssize_t		 n;

	CHECK(pair_open(&p, 1) == 0);
	CHECK(setsockopt(p.sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    sizeof(sndbuf)) == 0);
	while (got < 1000 && rounds++ < 100000) {
		/* Compose in bursts so the queue both grows and drains. */
		while (sent < 1000 && imsgbuf_queuelen(&p.a) < 50) {
			fill(out, msg_size(sent), sent);
			if (imsg_compose(&p.a, sent, 0, pid, -1, out,
			    msg_size(sent)) != 1)
				bad++;
			sent++;
		}
		if (imsgbuf_write(&p.a) == -1)
			bad++;
		if (imsgbuf_read(&p.b) != 1)
			bad++;
		while ((n = imsg_get(&p.b, &imsg)) > 0) {
			if (imsg_get_type(&imsg) != (uint32_t)got ||
			    imsg_get_len(&imsg) != msg_size(got))
				bad++;
			fill(out, msg_size(got), got);
			if (msg_size(got) > 0 && (imsg_get_data(&imsg, in,
			    msg_size(got)) == -1 ||
			    memcmp(in, out, msg_size(got)) != 0))
				bad++;
			imsg_free(&imsg);
			got++;
		}
		if (n == -1)
			bad++;
		if (imsgbuf_queuelen(&p.a) > 0 &&
		    TAILQ_FIRST(&p.a.w.bufs)->rpos)
			partial++;
	}
	CHECK(bad == 0);
	CHECK(got == 1000);
	CHECK(imsgbuf_queuelen(&p.a) == 0);
	CHECK(partial > 0);	/* the socket really did cut messages */
	pair_close(&p);
}

static void
test_get_data_len(void)
{
	struct pair	 p;
	struct imsg	 imsg;
	uint32_t	 v = 0xdeadbeef, w = 0;
	uint64_t	 big;
	uint16_t	 small;

	CHECK(pair_open(&p, 0) == 0);
	CHECK(imsg_compose(&p.a, 1, 0, 0, -1, &v, sizeof(v)) == 1);
	CHECK(imsg_compose(&p.a, 2, 0, 0, -1, NULL, 0) == 1);
	CHECK(imsgbuf_flush(&p.a) == 0);
	CHECK(get_one(&p.b, &imsg) > 0);
	errno = 0;
	CHECK(imsg_get_data(&imsg, &big, sizeof(big)) == -1);
	CHECK(errno == EBADMSG);
	errno = 0;
	CHECK(imsg_get_data(&imsg, &small, sizeof(small)) == -1);
	CHECK(errno == EBADMSG);
	CHECK(imsg_get_data(&imsg, &w, 0) == -1);
	CHECK(imsg_get_data(&imsg, &w, sizeof(w)) == 0);
	CHECK(w == v);
	imsg_free(&imsg);
	CHECK(get_one(&p.b, &imsg) == IMSG_HEADER_SIZE);
	errno = 0;
	CHECK(imsg_get_data(&imsg, &w, sizeof(w)) == -1);
	CHECK(errno == EBADMSG);
	imsg_free(&imsg);
	pair_close(&p);
}

static void
test_forward(void)
{
	struct pair	 p, q;
	struct imsg	 imsg;
	char		 buf[5];

	CHECK(pair_open(&p, 0) == 0);
	CHECK(pair_open(&q, 0) == 0);
	CHECK(imsg_compose(&p.a, 77, 5, 6, -1, "hello", 5) == 1);
	CHECK(imsgbuf_flush(&p.a) == 0);
	CHECK(get_one(&p.b, &imsg) > 0);
	CHECK(imsg_forward(&q.a, &imsg) == 1);
	imsg_free(&imsg);
	CHECK(imsgbuf_flush(&q.a) == 0);
	CHECK(get_one(&q.b, &imsg) == IMSG_HEADER_SIZE + 5);
	CHECK(imsg_get_type(&imsg) == 77);
	CHECK(imsg_get_id(&imsg) == 5);
	CHECK(imsg_get_pid(&imsg) == 6);
	CHECK(imsg_get_data(&imsg, buf, 5) == 0);
	CHECK(memcmp(buf, "hello", 5) == 0);
	imsg_free(&imsg);
	pair_close(&p);
	pair_close(&q);
}

/* Send one byte with n fds attached, bypassing imsg. */
static int
send_fds(int sock, int fd, int n)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 32)];
	} cm;
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct iovec	 iov;
	int		 fds[32], i;
	char		 c = 0;

	for (i = 0; i < n; i++)
		fds[i] = fd;
	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = &c;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * n);
	return (sendmsg(sock, &msg, 0) == 1 ? 0 : -1);
}

/* A peer flooding fds: extras closed, the read fails, nothing leaks. */
static void
test_fd_flood(void)
{
	struct pair	 p;
	int		 i, r = 1, base, peak = 0, nowopen, pfd[2];

	CHECK(pipe(pfd) == 0);
	base = count_fds();
	CHECK(pair_open(&p, 1) == 0);
	imsgbuf_allow_fdpass(&p.b);
	for (i = 0; i < 200 && r == 1; i++) {
		CHECK(send_fds(p.sv[0], pfd[0], 32) == 0);
		r = imsgbuf_read(&p.b);
		nowopen = count_fds();
		if (nowopen > peak)
			peak = nowopen;
	}
	CHECK(r == -1);
	CHECK(errno == EBADMSG);
	CHECK(peak - base < 20);	/* the sockets, a few kept fds */
	pair_close(&p);
	CHECK(count_fds() == base);
	close(pfd[0]);
	close(pfd[1]);
}

static void
test_read_full_buffer(void)
{
	struct pair	 p;
	struct imsg	 imsg;
	int		 i, r;

	/* Two whole max-size messages: the buffer fills with the first. */
	CHECK(pair_open(&p, 1) == 0);
	for (i = 0; i < 2; i++) {
		static unsigned char data[PAYLOAD_MAX];

		CHECK(imsg_compose(&p.a, i, 0, 0, -1, data, sizeof(data))
		    == 1);
	}
	CHECK(imsgbuf_flush(&p.a) == 0);
	for (i = 0; i < 5; i++)
		CHECK((r = imsgbuf_read(&p.b)) == 1);
	CHECK(p.b.wpos <= p.b.maxsize);
	CHECK(imsg_get(&p.b, &imsg) == MAX_IMSGSIZE);
	imsg_free(&imsg);
	CHECK(get_one(&p.b, &imsg) == MAX_IMSGSIZE);
	CHECK(imsg_get_type(&imsg) == 1);
	imsg_free(&imsg);
	pair_close(&p);
}

int
main(void)
{
	RUN(test_roundtrip_sizes);
	RUN(test_compose_too_large);
	RUN(test_composev);
	RUN(test_fd_pass);
	RUN(test_fd_order);
	RUN(test_fd_unclaimed);
	RUN(test_fd_rejected);
	RUN(test_clear_closes);
	RUN(test_truncated);
	RUN(test_oversize_header);
	RUN(test_undersize_header);
	RUN(test_missing_fd);
	RUN(test_eof);
	RUN(test_write_peer_gone);
	RUN(test_nonblocking_1000);
	RUN(test_get_data_len);
	RUN(test_forward);
	RUN(test_fd_flood);
	RUN(test_read_full_buffer);
	TEST_EXIT();
}
