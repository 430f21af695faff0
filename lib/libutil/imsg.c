/*
 * imsg.c: imsg framing over a stream socket, OpenBSD's 7.7 API in our own
 * code.  The read side keeps one input buffer of maxsize bytes and a queue
 * of descriptors received by SCM_RIGHTS; imsg_get cuts complete messages
 * out of the buffer and gives each message flagged IMSGF_HASFD the oldest
 * queued descriptor.  The peer is never trusted: a bad header is EBADMSG,
 * a short message is "not yet", and surplus descriptors are closed, never
 * kept; nothing here may crash, grow without bound or leak on its input.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"

/* Descriptors accepted from one recvmsg; a sane peer sends one. */
#define IMSG_RECV_FDS	8

int
imsgbuf_init(struct imsgbuf *ib, int fd)
{
	memset(ib, 0, sizeof(*ib));
	if ((ib->rbuf = malloc(MAX_IMSGSIZE)) == NULL)
		return (-1);
	ib->fd = fd;
	ib->pid = getpid();
	ib->maxsize = MAX_IMSGSIZE;
	msgbuf_init(&ib->w);
	TAILQ_INIT(&ib->rfds);
	return (0);
}

void
imsgbuf_allow_fdpass(struct imsgbuf *ib)
{
	ib->flags |= IMSGBUF_ALLOW_FDPASS;
}

/* Move unread input to the start of the buffer to make room at the end. */
static void
imsgbuf_compact(struct imsgbuf *ib)
{
	if (ib->rpos == 0)
		return;
	memmove(ib->rbuf, ib->rbuf + ib->rpos, ib->wpos - ib->rpos);
	ib->wpos -= ib->rpos;
	ib->rpos = 0;
}

/* max is the largest whole message, header included. */
int
imsgbuf_set_maxsize(struct imsgbuf *ib, uint32_t max)
{
	unsigned char	*p;

	if (max < IMSG_HEADER_SIZE || max > IMSG_MAXSIZE_LIMIT) {
		errno = ERANGE;
		return (-1);
	}
	if (ib->rbuf == NULL) {
		errno = EBADF;
		return (-1);
	}
	imsgbuf_compact(ib);
	if (ib->wpos > max) {
		errno = EBUSY;	/* more input buffered than would fit */
		return (-1);
	}
	if ((p = realloc(ib->rbuf, max)) == NULL)
		return (-1);
	ib->rbuf = p;
	ib->maxsize = max;
	return (0);
}

static void
imsgbuf_enqueue_fd(struct imsgbuf *ib, struct imsg_fd *ifd)
{
	TAILQ_INSERT_TAIL(&ib->rfds, ifd, entry);
	ib->nrfds++;
}

static int
imsgbuf_dequeue_fd(struct imsgbuf *ib)
{
	struct imsg_fd	*ifd;
	int		 fd;

	if ((ifd = TAILQ_FIRST(&ib->rfds)) == NULL)
		return (-1);
	TAILQ_REMOVE(&ib->rfds, ifd, entry);
	ib->nrfds--;
	fd = ifd->fd;
	free(ifd);
	return (fd);
}

/* Release everything; only imsgbuf_init may be used on ib afterwards. */
void
imsgbuf_clear(struct imsgbuf *ib)
{
	int	 fd, saved_errno = errno;

	msgbuf_clear(&ib->w);
	while ((fd = imsgbuf_dequeue_fd(ib)) != -1)
		close(fd);
	free(ib->rbuf);
	ib->rbuf = NULL;
	ib->rpos = ib->wpos = 0;
	errno = saved_errno;
}

static void
close_fds(const int *fds, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		close(fds[i]);
}

/* Collect every SCM_RIGHTS descriptor of msg into fds; returns the count. */
static int
collect_fds(struct msghdr *msg, int *fds, int max)
{
	struct cmsghdr	*cmsg;
	size_t		 i, cnt;
	int		 n = 0, fd;

	for (cmsg = CMSG_FIRSTHDR(msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < cnt; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			if (n < max)
				fds[n++] = fd;
			else
				close(fd);
		}
	}
	return (n);
}

/*
 * Keep at most one descriptor from this read.  Every pending descriptor
 * belongs to a message whose first byte is in the buffer and not yet
 * taken by imsg_get, so a peer that sends more than that is lying: close
 * the surplus and fail rather than hold descriptors nobody will claim.
 */
static int
imsgbuf_accept_fds(struct imsgbuf *ib, int *fds, int n)
{
	struct imsg_fd	*ifd;
	size_t		 limit;

	if (n == 0)
		return (0);
	if ((ib->flags & IMSGBUF_ALLOW_FDPASS) == 0) {
		close_fds(fds, n);
		errno = EPERM;
		return (-1);
	}
	close_fds(fds + 1, n - 1);
	limit = (ib->wpos - ib->rpos) / IMSG_HEADER_SIZE + 1;
	if (ib->nrfds >= limit) {
		close(fds[0]);
		errno = EBADMSG;
		return (-1);
	}
	if ((ifd = malloc(sizeof(*ifd))) == NULL) {
		close(fds[0]);
		return (-1);
	}
	ifd->fd = fds[0];
	imsgbuf_enqueue_fd(ib, ifd);
	return (0);
}

/*
 * Read what the socket has, up to the free room in the input buffer.
 * Returns 1 (also when nothing could be read yet), 0 at EOF, -1 on error.
 */
int
imsgbuf_read(struct imsgbuf *ib)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * IMSG_RECV_FDS)];
	} cmsgbuf;
	int		 fds[IMSG_RECV_FDS];
	struct iovec	 iov;
	struct msghdr	 msg;
	ssize_t		 n;
	int		 nfds;

	if (ib->rbuf == NULL) {
		errno = EBADF;
		return (-1);
	}
	imsgbuf_compact(ib);
	if (ib->wpos >= ib->maxsize)
		return (1);	/* a whole message waits for imsg_get */

	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = ib->rbuf + ib->wpos;
	iov.iov_len = ib->maxsize - ib->wpos;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);

	if ((n = recvmsg(ib->fd, &msg, MSG_CMSG_CLOEXEC)) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return (1);
		return (-1);
	}
	ib->wpos += n;
	nfds = collect_fds(&msg, fds, IMSG_RECV_FDS);
	if (imsgbuf_accept_fds(ib, fds, nfds) == -1)
		return (-1);
	if (n == 0)
		return (0);
	return (1);
}

int
imsgbuf_write(struct imsgbuf *ib)
{
	return (msgbuf_write(ib->fd, &ib->w));
}

/* Write until the queue is empty, waiting on a non-blocking socket. */
int
imsgbuf_flush(struct imsgbuf *ib)
{
	struct pollfd	 pfd;

	while (imsgbuf_queuelen(ib) > 0) {
		if (imsgbuf_write(ib) == -1)
			return (-1);
		if (imsgbuf_queuelen(ib) == 0)
			break;
		pfd.fd = ib->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return (-1);
	}
	return (0);
}

uint32_t
imsgbuf_queuelen(struct imsgbuf *ib)
{
	return (msgbuf_queuelen(&ib->w));
}

/*
 * Take the next complete message out of the input buffer.  Returns its
 * length (header included), 0 if none is complete yet, -1 with EBADMSG
 * if the header is impossible or a promised descriptor never came.
 */
ssize_t
imsg_get(struct imsgbuf *ib, struct imsg *imsg)
{
	struct imsg_hdr	 hdr;
	struct ibuf	*buf = NULL;
	size_t		 avail, datalen;
	int		 fd = -1;

	if (ib->rbuf == NULL) {
		errno = EBADF;
		return (-1);
	}
	avail = ib->wpos - ib->rpos;
	if (avail < IMSG_HEADER_SIZE)
		return (0);
	memcpy(&hdr, ib->rbuf + ib->rpos, sizeof(hdr));
	if (hdr.len < IMSG_HEADER_SIZE || hdr.len > ib->maxsize) {
		errno = EBADMSG;
		return (-1);
	}
	if (avail < hdr.len)
		return (0);
	if ((hdr.flags & IMSGF_HASFD) && TAILQ_EMPTY(&ib->rfds)) {
		errno = EBADMSG;
		return (-1);
	}

	datalen = hdr.len - IMSG_HEADER_SIZE;
	if (datalen > 0) {
		if ((buf = ibuf_open(datalen)) == NULL)
			return (-1);
		if (ibuf_add(buf, ib->rbuf + ib->rpos + IMSG_HEADER_SIZE,
		    datalen) == -1) {
			ibuf_free(buf);
			return (-1);
		}
	}
	if (hdr.flags & IMSGF_HASFD)
		fd = imsgbuf_dequeue_fd(ib);

	imsg->hdr = hdr;
	imsg->buf = buf;
	imsg->data = buf != NULL ? ibuf_data(buf) : NULL;
	imsg->fd = fd;

	ib->rpos += hdr.len;
	if (ib->rpos == ib->wpos)
		ib->rpos = ib->wpos = 0;
	return (hdr.len);
}

/* Start a message of datalen payload bytes; finish it with imsg_close. */
struct ibuf *
imsg_create(struct imsgbuf *ib, uint32_t type, uint32_t id, pid_t pid,
    size_t datalen)
{
	struct imsg_hdr	 hdr;
	struct ibuf	*wbuf;

	if (datalen > ib->maxsize - IMSG_HEADER_SIZE) {
		errno = ERANGE;
		return (NULL);
	}
	if ((wbuf = ibuf_dynamic(datalen + IMSG_HEADER_SIZE,
	    ib->maxsize)) == NULL)
		return (NULL);
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.peerid = id;
	hdr.pid = (uint32_t)pid;
	if (ibuf_add(wbuf, &hdr, sizeof(hdr)) == -1) {
		ibuf_free(wbuf);
		return (NULL);
	}
	return (wbuf);
}

/* Append to a message being built; on failure the message is freed. */
int
imsg_add(struct ibuf *wbuf, const void *data, size_t datalen)
{
	if (datalen > 0 && data == NULL) {
		ibuf_free(wbuf);
		errno = EINVAL;
		return (-1);
	}
	if (ibuf_add(wbuf, data, datalen) == -1) {
		ibuf_free(wbuf);
		return (-1);
	}
	return ((int)datalen);
}

/* Seal the header (length, fd flag) and queue the message. */
void
imsg_close(struct imsgbuf *ib, struct ibuf *wbuf)
{
	struct imsg_hdr	 hdr;
	void		*p;

	if ((p = ibuf_seek(wbuf, 0, sizeof(hdr))) == NULL) {
		ibuf_free(wbuf);	/* not built by imsg_create */
		return;
	}
	memcpy(&hdr, p, sizeof(hdr));
	hdr.len = (uint16_t)ibuf_size(wbuf);
	hdr.flags &= ~IMSGF_HASFD;
	if (wbuf->fd != -1)
		hdr.flags |= IMSGF_HASFD;
	memcpy(p, &hdr, sizeof(hdr));
	ibuf_close(&ib->w, wbuf);
}

/*
 * Queue a message.  fd (or -1) becomes ours: it is closed once sent, or
 * at once if the message cannot be queued.  Returns 1, or -1 with errno
 * (ERANGE when the message would exceed the maximum size).
 */
int
imsg_composev(struct imsgbuf *ib, uint32_t type, uint32_t id, pid_t pid,
    int fd, const struct iovec *iov, int iovcnt)
{
	struct ibuf	*wbuf;
	size_t		 datalen = 0;
	int		 i, saved_errno;

	if (iovcnt < 0 || (iovcnt > 0 && iov == NULL)) {
		errno = EINVAL;
		goto fail;
	}
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > ib->maxsize - datalen) {
			errno = ERANGE;
			goto fail;
		}
		datalen += iov[i].iov_len;
	}
	if ((wbuf = imsg_create(ib, type, id, pid, datalen)) == NULL)
		goto fail;
	for (i = 0; i < iovcnt; i++)
		if (imsg_add(wbuf, iov[i].iov_base, iov[i].iov_len) == -1)
			goto fail;
	ibuf_fd_set(wbuf, fd);
	imsg_close(ib, wbuf);
	return (1);

 fail:
	if (fd != -1) {
		saved_errno = errno;
		close(fd);
		errno = saved_errno;
	}
	return (-1);
}

int
imsg_compose(struct imsgbuf *ib, uint32_t type, uint32_t id, pid_t pid,
    int fd, const void *data, size_t datalen)
{
	struct iovec	 iov;

	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = datalen;
	return (imsg_composev(ib, type, id, pid, fd, &iov, 1));
}

/* Queue a copy of a received message; its descriptor stays with imsg. */
int
imsg_forward(struct imsgbuf *ib, struct imsg *imsg)
{
	return (imsg_compose(ib, imsg->hdr.type, imsg->hdr.peerid,
	    (pid_t)imsg->hdr.pid, -1, imsg->data, imsg_get_len(imsg)));
}

uint32_t
imsg_get_type(struct imsg *imsg)
{
	return (imsg->hdr.type);
}

uint32_t
imsg_get_id(struct imsg *imsg)
{
	return (imsg->hdr.peerid);
}

pid_t
imsg_get_pid(struct imsg *imsg)
{
	return ((pid_t)imsg->hdr.pid);
}

size_t
imsg_get_len(struct imsg *imsg)
{
	if (imsg->buf == NULL)
		return (0);
	return (ibuf_size(imsg->buf));
}

/* The caller owns the returned descriptor; a second call returns -1. */
int
imsg_get_fd(struct imsg *imsg)
{
	int	 fd = imsg->fd;

	imsg->fd = -1;
	return (fd);
}

/* Copy the payload, which must be exactly len bytes. */
int
imsg_get_data(struct imsg *imsg, void *data, size_t len)
{
	if (len == 0) {
		errno = EINVAL;
		return (-1);
	}
	if (imsg_get_len(imsg) != len) {
		errno = EBADMSG;
		return (-1);
	}
	memcpy(data, ibuf_data(imsg->buf), len);
	return (0);
}

void
imsg_free(struct imsg *imsg)
{
	int	 saved_errno = errno;

	ibuf_free(imsg->buf);
	imsg->buf = NULL;
	imsg->data = NULL;
	if (imsg->fd != -1)
		close(imsg->fd);
	imsg->fd = -1;
	errno = saved_errno;
}
