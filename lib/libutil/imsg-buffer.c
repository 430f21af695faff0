/*
 * imsg-buffer.c: the byte buffers under imsg.  An ibuf is a bounded
 * buffer (fixed, or growable up to a maximum) that may carry one
 * descriptor; a msgbuf is the queue of ibufs waiting to be written to a
 * socket, each descriptor sent with the first byte of its own buffer.
 * No buffer may ever grow past its maximum, and no descriptor it owns
 * may be lost without being closed.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

/* How many queued buffers one sendmsg may gather. */
#define MSGBUF_IOV_MAX	64

static struct ibuf *
ibuf_alloc(size_t len, size_t max)
{
	struct ibuf	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return (NULL);
	if (len > 0 && (b->buf = malloc(len)) == NULL) {
		free(b);
		return (NULL);
	}
	b->size = len;
	b->max = max;
	b->fd = -1;
	return (b);
}

/* A buffer of exactly len bytes. */
struct ibuf *
ibuf_open(size_t len)
{
	if (len == 0) {
		errno = EINVAL;
		return (NULL);
	}
	return (ibuf_alloc(len, len));
}

/* A buffer starting at len bytes that may grow up to max. */
struct ibuf *
ibuf_dynamic(size_t len, size_t max)
{
	if (max == 0 || len > max) {
		errno = EINVAL;
		return (NULL);
	}
	return (ibuf_alloc(len, max));
}

static int
ibuf_grow(struct ibuf *b, size_t need)
{
	unsigned char	*p;
	size_t		 nsize;

	if (need <= b->size)
		return (0);
	if (need > b->max) {
		errno = ERANGE;
		return (-1);
	}
	/* Double to keep appends amortised, but never past the maximum. */
	nsize = b->size < 64 ? 64 : b->size;
	while (nsize < need)
		nsize = nsize > b->max / 2 ? b->max : nsize * 2;
	if (nsize > b->max)
		nsize = b->max;
	if ((p = realloc(b->buf, nsize)) == NULL)
		return (-1);
	b->buf = p;
	b->size = nsize;
	return (0);
}

/* Append len bytes of room and return a pointer to it. */
void *
ibuf_reserve(struct ibuf *b, size_t len)
{
	void	*p;

	if (len > SIZE_MAX - b->wpos) {
		errno = ERANGE;
		return (NULL);
	}
	if (ibuf_grow(b, b->wpos + len) == -1)
		return (NULL);
	p = b->buf + b->wpos;
	b->wpos += len;
	return (p);
}

int
ibuf_add(struct ibuf *b, const void *data, size_t len)
{
	void	*p;

	if (len == 0)
		return (0);
	if ((p = ibuf_reserve(b, len)) == NULL)
		return (-1);
	memcpy(p, data, len);
	return (0);
}

/* A pointer to len already written bytes at pos, for patching headers. */
void *
ibuf_seek(struct ibuf *b, size_t pos, size_t len)
{
	if (pos > b->wpos || len > b->wpos - pos) {
		errno = ERANGE;
		return (NULL);
	}
	return (b->buf + pos);
}

void *
ibuf_data(const struct ibuf *b)
{
	if (b->buf == NULL)
		return (NULL);
	return (b->buf + b->rpos);
}

size_t
ibuf_size(const struct ibuf *b)
{
	return (b->wpos - b->rpos);
}

/* The buffer takes ownership of fd, closing any it held before. */
void
ibuf_fd_set(struct ibuf *b, int fd)
{
	if (b->fd != -1 && b->fd != fd)
		close(b->fd);
	b->fd = fd;
}

/* Hand the buffer's fd to the caller. */
int
ibuf_fd_get(struct ibuf *b)
{
	int	 fd = b->fd;

	b->fd = -1;
	return (fd);
}

void
ibuf_free(struct ibuf *b)
{
	int	 saved_errno;

	if (b == NULL)
		return;
	saved_errno = errno;
	if (b->fd != -1)
		close(b->fd);
	free(b->buf);
	free(b);
	errno = saved_errno;
}

void
msgbuf_init(struct msgbuf *m)
{
	TAILQ_INIT(&m->bufs);
	m->queued = 0;
}

static void
msgbuf_dequeue(struct msgbuf *m, struct ibuf *b)
{
	TAILQ_REMOVE(&m->bufs, b, entry);
	m->queued--;
	ibuf_free(b);
}

/* Drop everything queued, closing the descriptors never sent. */
void
msgbuf_clear(struct msgbuf *m)
{
	struct ibuf	*b;

	while ((b = TAILQ_FIRST(&m->bufs)) != NULL)
		msgbuf_dequeue(m, b);
}

uint32_t
msgbuf_queuelen(const struct msgbuf *m)
{
	return (m->queued);
}

/* Queue a complete buffer for writing; the msgbuf now owns it. */
void
ibuf_close(struct msgbuf *m, struct ibuf *b)
{
	b->rpos = 0;
	TAILQ_INSERT_TAIL(&m->bufs, b, entry);
	m->queued++;
}

/* Forget the first n bytes sent, freeing the buffers fully written. */
static void
msgbuf_drain(struct msgbuf *m, size_t n)
{
	struct ibuf	*b, *next;
	size_t		 left;

	for (b = TAILQ_FIRST(&m->bufs); b != NULL && n > 0; b = next) {
		next = TAILQ_NEXT(b, entry);
		left = ibuf_size(b);
		if (n >= left) {
			n -= left;
			msgbuf_dequeue(m, b);
		} else {
			b->rpos += n;
			n = 0;
		}
	}
}

/*
 * Gather queued buffers into iov.  A buffer with an fd may only come
 * first, so that its fd rides with its own first byte: the receiver
 * matches fds to messages by that order.
 */
static int
msgbuf_gather(struct msgbuf *m, struct iovec *iov, int *fdp)
{
	struct ibuf	*b;
	int		 n = 0;

	*fdp = -1;
	TAILQ_FOREACH(b, &m->bufs, entry) {
		if (n == MSGBUF_IOV_MAX || (n > 0 && b->fd != -1))
			break;
		iov[n].iov_base = ibuf_data(b);
		iov[n].iov_len = ibuf_size(b);
		n++;
		if (b->fd != -1) {
			*fdp = b->fd;
			break;
		}
	}
	return (n);
}

/*
 * Write as much as the socket takes now.  Returns 0 (also when the socket
 * is full or the call was interrupted) or -1 with errno.
 */
int
msgbuf_write(int sock, struct msgbuf *m)
{
	struct iovec	 iov[MSGBUF_IOV_MAX];
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	struct ibuf	*first;
	ssize_t		 n;
	int		 fd;

	if ((first = TAILQ_FIRST(&m->bufs)) == NULL)
		return (0);
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = msgbuf_gather(m, iov, &fd);
	if (fd != -1) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}

	/* MSG_NOSIGNAL: a dead peer is an error to report, not a SIGPIPE. */
	n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR || errno == ENOBUFS)
			return (0);
		return (-1);
	}
	if (n == 0) {
		errno = EPIPE;
		return (-1);
	}

	/* The fd went with the first byte: never send it twice. */
	if (fd != -1) {
		close(first->fd);
		first->fd = -1;
	}
	msgbuf_drain(m, (size_t)n);
	return (0);
}
