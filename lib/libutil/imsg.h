/*
 * imsg.h: our own implementation of OpenBSD's imsg(3) message framing
 * (the 7.7 API: imsgbuf_init, imsgbuf_read/write/flush, imsg_get, the
 * imsg_get_* accessors) and the small ibuf/msgbuf buffers it is built on.
 * Messages are a struct imsg_hdr followed by up to maxsize - header bytes
 * of payload; a descriptor travels by SCM_RIGHTS with the message it
 * belongs to.  Nothing here may trust the peer: every header is checked,
 * every buffer is bounded, and no received descriptor may leak.
 */

#ifndef LIBUTIL_IMSG_H
#define LIBUTIL_IMSG_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/uio.h>
#include <stddef.h>
#include <stdint.h>

#define IMSG_HEADER_SIZE	sizeof(struct imsg_hdr)
#define MAX_IMSGSIZE		16384	/* whole message, header included */
#define IMSG_MAXSIZE_LIMIT	UINT16_MAX	/* hdr.len is 16 bits */

#define IMSGF_HASFD		0x0001	/* an SCM_RIGHTS fd came with it */

/*
 * A byte buffer: fixed (max == size) or growable up to max.  Data lives
 * in buf[rpos, wpos).  fd is a descriptor sent along with it (-1: none),
 * owned by the ibuf and closed by ibuf_free.
 */
struct ibuf {
	TAILQ_ENTRY(ibuf)	 entry;
	unsigned char		*buf;
	size_t			 size;
	size_t			 max;
	size_t			 wpos;
	size_t			 rpos;
	int			 fd;
};

/* The output queue: complete messages waiting for the socket. */
struct msgbuf {
	TAILQ_HEAD(, ibuf)	 bufs;
	uint32_t		 queued;
};

/* A descriptor received but not yet handed to a message. */
struct imsg_fd {
	TAILQ_ENTRY(imsg_fd)	 entry;
	int			 fd;
};

struct imsgbuf {
	int			 fd;		/* the socket */
	pid_t			 pid;
	uint32_t		 maxsize;	/* header included */
	int			 flags;
	struct msgbuf		 w;
	unsigned char		*rbuf;		/* maxsize bytes */
	size_t			 rpos;
	size_t			 wpos;
	TAILQ_HEAD(, imsg_fd)	 rfds;
	unsigned int		 nrfds;
};

#define IMSGBUF_ALLOW_FDPASS	0x01

struct imsg_hdr {
	uint32_t		 type;
	uint16_t		 len;		/* header included */
	uint16_t		 flags;
	uint32_t		 peerid;
	uint32_t		 pid;
};

struct imsg {
	struct imsg_hdr		 hdr;
	void			*data;		/* NULL if no payload */
	struct ibuf		*buf;		/* owns data */
	int			 fd;		/* -1 if none or claimed */
};

/* imsg-buffer.c */
struct ibuf	*ibuf_open(size_t);
struct ibuf	*ibuf_dynamic(size_t, size_t);
int		 ibuf_add(struct ibuf *, const void *, size_t);
void		*ibuf_reserve(struct ibuf *, size_t);
void		*ibuf_seek(struct ibuf *, size_t, size_t);
void		*ibuf_data(const struct ibuf *);
size_t		 ibuf_size(const struct ibuf *);
void		 ibuf_fd_set(struct ibuf *, int);
int		 ibuf_fd_get(struct ibuf *);
void		 ibuf_free(struct ibuf *);
void		 msgbuf_init(struct msgbuf *);
void		 msgbuf_clear(struct msgbuf *);
uint32_t	 msgbuf_queuelen(const struct msgbuf *);
void		 ibuf_close(struct msgbuf *, struct ibuf *);
int		 msgbuf_write(int, struct msgbuf *);

/* imsg.c */
int		 imsgbuf_init(struct imsgbuf *, int);
void		 imsgbuf_allow_fdpass(struct imsgbuf *);
int		 imsgbuf_set_maxsize(struct imsgbuf *, uint32_t);
void		 imsgbuf_clear(struct imsgbuf *);
int		 imsgbuf_read(struct imsgbuf *);
int		 imsgbuf_write(struct imsgbuf *);
int		 imsgbuf_flush(struct imsgbuf *);
uint32_t	 imsgbuf_queuelen(struct imsgbuf *);
ssize_t		 imsg_get(struct imsgbuf *, struct imsg *);
int		 imsg_compose(struct imsgbuf *, uint32_t, uint32_t, pid_t,
		    int, const void *, size_t);
int		 imsg_composev(struct imsgbuf *, uint32_t, uint32_t, pid_t,
		    int, const struct iovec *, int);
struct ibuf	*imsg_create(struct imsgbuf *, uint32_t, uint32_t, pid_t,
		    size_t);
int		 imsg_add(struct ibuf *, const void *, size_t);
void		 imsg_close(struct imsgbuf *, struct ibuf *);
int		 imsg_forward(struct imsgbuf *, struct imsg *);
uint32_t	 imsg_get_type(struct imsg *);
uint32_t	 imsg_get_id(struct imsg *);
pid_t		 imsg_get_pid(struct imsg *);
size_t		 imsg_get_len(struct imsg *);
int		 imsg_get_fd(struct imsg *);
int		 imsg_get_data(struct imsg *, void *, size_t);
void		 imsg_free(struct imsg *);

#endif /* LIBUTIL_IMSG_H */
