/*
 * vmctl.c: vmctl(8)'s side of the control protocol and its console.  It
 * connects to vmd's socket, sends the requests of one command, checks
 * each reply (type, exact size, NUL-terminated strings) before using
 * it, and prints the results with OpenBSD vmctl's words.  The console is
 * cu(1) when that can work, else a small built-in client on the VM's
 * pty.  It must never trust a reply's contents or leave the user's
 * terminal in raw mode.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "imsg.h"
#include "vmd.h"
#include "vmctl.h"

#define VMCTL_MAX_VMS	65536	/* more status rows than this is a bug */

struct ctl_conn {
	struct imsgbuf	 ibuf;
	int		 verbose;
	int		 midline;	/* "stopping vm x: " awaits its end */
};

static const char *
imsg_name(uint32_t type)
{
	static const char *const names[] = {
		[IMSG_VMDOP_START_VM_REQUEST] = "START_VM_REQUEST",
		[IMSG_VMDOP_START_VM_RESPONSE] = "START_VM_RESPONSE",
		[IMSG_VMDOP_TERMINATE_VM_REQUEST] = "TERMINATE_VM_REQUEST",
		[IMSG_VMDOP_TERMINATE_VM_RESPONSE] = "TERMINATE_VM_RESPONSE",
		[IMSG_VMDOP_WAIT_VM_REQUEST] = "WAIT_VM_REQUEST",
		[IMSG_VMDOP_WAIT_VM_RESPONSE] = "WAIT_VM_RESPONSE",
		[IMSG_VMDOP_GET_INFO_VM_REQUEST] = "GET_INFO_VM_REQUEST",
		[IMSG_VMDOP_GET_INFO_VM_DATA] = "GET_INFO_VM_DATA",
		[IMSG_VMDOP_GET_INFO_VM_END_DATA] = "GET_INFO_VM_END_DATA",
		[IMSG_CTL_FAIL] = "CTL_FAIL",
		[IMSG_VMDOP_PAUSE_VM] = "PAUSE_VM",
		[IMSG_VMDOP_PAUSE_VM_RESPONSE] = "PAUSE_VM_RESPONSE",
		[IMSG_VMDOP_UNPAUSE_VM] = "UNPAUSE_VM",
		[IMSG_VMDOP_UNPAUSE_VM_RESPONSE] = "UNPAUSE_VM_RESPONSE",
		[IMSG_VMDOP_LOAD] = "LOAD",
		[IMSG_VMDOP_RELOAD] = "RELOAD",
		[IMSG_CTL_RESET] = "CTL_RESET",
		[IMSG_CTL_VERBOSE] = "CTL_VERBOSE",
		[IMSG_CTL_OK] = "CTL_OK",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type] != NULL)
		return (names[type]);
	return ("unknown message");
}

static void
conn_open(struct ctl_conn *c, const struct parse_result *res)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(res->socket) >= sizeof(sun.sun_path))
		errx(1, "socket name too long: %s", res->socket);
	(void)strcpy(sun.sun_path, res->socket);

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		err(1, "connect: %s", res->socket);
	if (imsgbuf_init(&c->ibuf, fd) == -1)
		err(1, "imsgbuf_init");
	c->verbose = res->verbose;
	if (c->verbose)
		warnx("connected to %s", res->socket);
}

static void
conn_close(struct ctl_conn *c)
{
	int		 fd = c->ibuf.fd;

	imsgbuf_clear(&c->ibuf);
	(void)close(fd);
}

/* Before vmctl dies, end a line that a stop or wait request began. */
static void
conn_endline(struct ctl_conn *c)
{
	if (c->midline)
		fputc('\n', stderr);
	c->midline = 0;
}

static void
conn_send(struct ctl_conn *c, uint32_t type, const void *data, size_t len)
{
	if (imsg_compose(&c->ibuf, type, 0, 0, -1, data, len) == -1 ||
	    imsgbuf_flush(&c->ibuf) == -1) {
		conn_endline(c);
		err(1, "write error");
	}
	if (c->verbose)
		warnx("sent %s (%zu bytes)", imsg_name(type), len);
}

/*
 * vmd's own words if it gave some, else those of the errno value (all
 * that OpenBSD's vmd sends).  Ours say more, as in "no permission to set
 * cmdline" where OpenBSD would say "Operation not permitted".
 */
static const char *
result_reason(const struct vmop_result *vmr)
{
	if (vmr->vmr_reason[0] != '\0')
		return (vmr->vmr_reason);
	return (strerror(vmr->vmr_result));
}

/* vmd refused the request as a whole (permission, malformed request). */
static void
ctl_fail(struct imsg *imsg)
{
	struct vmop_result	 vmr;

	if (imsg_get_data(imsg, &vmr, sizeof(vmr)) == -1)
		errx(1, "command failed");
	vmr.vmr_reason[sizeof(vmr.vmr_reason) - 1] = '\0';
	if (vmr.vmr_result == 0 && vmr.vmr_reason[0] == '\0')
		errx(1, "command failed");
	errx(1, "command failed: %s", result_reason(&vmr));
}

/* The next message from vmd; a lost connection ends vmctl. */
static void
conn_recv(struct ctl_conn *c, struct imsg *imsg)
{
	ssize_t		 n;

	for (;;) {
		if ((n = imsg_get(&c->ibuf, imsg)) > 0)
			break;
		if (n == 0 && (n = imsgbuf_read(&c->ibuf)) > 0)
			continue;
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		conn_endline(c);
		if (n == 0)
			errx(1, "pipe closed");
		err(1, "read error");
	}
	if (c->verbose)
		warnx("received %s (%zu bytes)", imsg_name(imsg_get_type(imsg)),
		    imsg_get_len(imsg));
	if (imsg_get_type(imsg) == IMSG_CTL_FAIL) {
		conn_endline(c);
		ctl_fail(imsg);
	}
	c->midline = 0;
}

/* Take a struct vmop_result of the given type out of imsg, or fail. */
static int
result_read(struct imsg *imsg, uint32_t type, struct vmop_result *vmr)
{
	int		 ret = 0;

	if (imsg_get_type(imsg) != type ||
	    imsg_get_data(imsg, vmr, sizeof(*vmr)) == -1)
		ret = -1;
	imsg_free(imsg);
	if (ret == 0) {
		vmr->vmr_ttyname[sizeof(vmr->vmr_ttyname) - 1] = '\0';
		vmr->vmr_reason[sizeof(vmr->vmr_reason) - 1] = '\0';
	}
	return (ret);
}

/* All VMs vmd knows, sorted by id; *np is set to their number. */
static struct vmop_info_result *
get_info(struct ctl_conn *c, size_t *np)
{
	struct vmop_info_result	*list = NULL, *vir;
	struct imsg		 imsg;
	size_t			 n = 0;
	uint32_t		 type;

	conn_send(c, IMSG_VMDOP_GET_INFO_VM_REQUEST, NULL, 0);
	for (;;) {
		conn_recv(c, &imsg);
		type = imsg_get_type(&imsg);
		if (type == IMSG_VMDOP_GET_INFO_VM_END_DATA) {
			imsg_free(&imsg);
			break;
		}
		if (type != IMSG_VMDOP_GET_INFO_VM_DATA || n >= VMCTL_MAX_VMS)
			errx(1, "unexpected response received from vmd");
		if ((vir = reallocarray(list, n + 1, sizeof(*list))) == NULL)
			err(1, "reallocarray");
		list = vir;
		vir = &list[n];
		if (imsg_get_data(&imsg, vir, sizeof(*vir)) == -1)
			errx(1, "unexpected response received from vmd");
		imsg_free(&imsg);
		vir->vir_name[sizeof(vir->vir_name) - 1] = '\0';
		vir->vir_ttyname[sizeof(vir->vir_ttyname) - 1] = '\0';
		n++;
	}
	if (n > 0)
		qsort(list, n, sizeof(*list), vm_cmp_id);
	*np = n;
	return (list);
}

/*
 * The start request names the VM; an id on the command line is turned
 * into the name vmd has for it.
 */
static int
resolve_name(struct ctl_conn *c, struct parse_result *res)
{
	struct vmop_info_result	*list;
	size_t			 i, n;
	int			 ret = -1;

	list = get_info(c, &n);
	for (i = 0; i < n; i++) {
		if (list[i].vir_id == res->id) {
			(void)strcpy(res->name, list[i].vir_name);
			ret = 0;
			break;
		}
	}
	free(list);
	return (ret);
}

static int
vm_start(struct ctl_conn *c, struct parse_result *res)
{
	struct vmop_create_params vmc;
	struct vmop_result	 vmr;
	struct imsg		 imsg;
	unsigned int		 i;

	if (res->id != 0 && resolve_name(c, res) == -1) {
		warnx("start vm command failed: vm not found");
		return (1);
	}
	memset(&vmc, 0, sizeof(vmc));
	if (res->ncpus != 0) {
		vmc.vmc_flags |= VMOP_CREATE_VCPUS;
		vmc.vmc_ncpus = res->ncpus;
	}
	(void)strcpy(vmc.vmc_name, res->name);
	if (res->kernel[0] != '\0') {
		vmc.vmc_flags |= VMOP_CREATE_KERNEL;
		(void)strcpy(vmc.vmc_kernel, res->kernel);
	}
	vmc.vmc_bootdevice = res->bootdevice;
	if (res->initrd[0] != '\0') {
		vmc.vmc_flags |= VMOP_CREATE_INITRD;
		(void)strcpy(vmc.vmc_initrd, res->initrd);
	}
	if (res->cdrom[0] != '\0') {
		vmc.vmc_flags |= VMOP_CREATE_CDROM;
		(void)strcpy(vmc.vmc_cdrom, res->cdrom);
	}
	if (res->memsize != 0) {
		vmc.vmc_flags |= VMOP_CREATE_MEMORY;
		vmc.vmc_memsize = res->memsize;
	}
	if (res->has_cmdline) {
		vmc.vmc_flags |= VMOP_CREATE_CMDLINE;
		(void)strcpy(vmc.vmc_cmdline, res->cmdline);
	}
	if (res->ndisks > 0) {
		vmc.vmc_flags |= VMOP_CREATE_DISK;
		vmc.vmc_ndisks = res->ndisks;
		memcpy(vmc.vmc_disks, res->disks, sizeof(vmc.vmc_disks));
		memcpy(vmc.vmc_disktypes, res->disktypes,
		    sizeof(vmc.vmc_disktypes));
	}
	(void)strcpy(vmc.vmc_instance, res->instance);
	/* -n and -L each add an interface; -i asks for at least so many */
	vmc.vmc_nnics = res->nnets;
	if (res->nifs > 0 && (unsigned int)res->nifs > vmc.vmc_nnics)
		vmc.vmc_nnics = (uint32_t)res->nifs;
	for (i = 0; i < res->nnets; i++) {
		if (res->nets[i][0] == '\0')
			vmc.vmc_nics[i].vn_flags |= VMOP_NIC_LOCAL;
		else
			(void)strcpy(vmc.vmc_nics[i].vn_switch, res->nets[i]);
	}
	if (vmc.vmc_nnics > 0)
		vmc.vmc_flags |= VMOP_CREATE_NETWORK;

	conn_send(c, IMSG_VMDOP_START_VM_REQUEST, &vmc, sizeof(vmc));
	conn_recv(c, &imsg);
	if (result_read(&imsg, IMSG_VMDOP_START_VM_RESPONSE, &vmr) == -1) {
		warnx("unexpected response received from vmd");
		return (1);
	}
	if (vmr.vmr_result != 0) {
		warnx("start vm command failed: %s", result_reason(&vmr));
		return (1);
	}
	/* Said with -c too, unlike OpenBSD: the tty is worth knowing. */
	warnx("started vm %u successfully, tty %s", vmr.vmr_id,
	    vmr.vmr_ttyname);
	if (res->autoconnect) {
		conn_close(c);
		ctl_openconsole(vmr.vmr_ttyname);
	}
	return (0);
}

/*
 * The reply to a stop or wait request, ending the line that
 * "stopping vm NAME: " or "waiting for vm NAME: " began, in OpenBSD
 * vmctl's words: a stop, forced or not, was requested; a wait (or stop
 * -w) saw the VM end.  A refusal gives vmd's reason, which says more
 * than the errno text OpenBSD's vmctl prints (vmctl(8), DIAGNOSTICS).
 */
static int
terminate_complete(struct imsg *imsg, uint32_t type, unsigned int flags)
{
	struct vmop_result	 vmr;

	if (result_read(imsg, type, &vmr) == -1) {
		fprintf(stderr, "unexpected response received from vmd\n");
		return (1);
	}
	switch (vmr.vmr_result) {
	case 0:
		if (flags & VMOP_WAIT)
			fprintf(stderr, "terminated vm %u\n", vmr.vmr_id);
		else
			fprintf(stderr, "requested to shutdown vm %u\n",
			    vmr.vmr_id);
		return (0);
	case ENOENT:
		fprintf(stderr, "vm not found\n");
		break;
	case EINTR:
		fprintf(stderr, "interrupted call\n");
		break;
	default:
		fprintf(stderr, "failed: %s\n", result_reason(&vmr));
		break;
	}
	return (1);
}

static struct vmop_id
make_vmop_id(uint32_t id, const char *name, unsigned int flags)
{
	struct vmop_id		 vid;

	memset(&vid, 0, sizeof(vid));
	vid.vid_id = id;
	(void)strcpy(vid.vid_name, name);
	vid.vid_flags = flags & (VMOP_FORCE | VMOP_WAIT);
	return (vid);
}

static int
vm_stop(struct ctl_conn *c, uint32_t id, const char *name,
    unsigned int flags)
{
	struct vmop_id		 vid;
	struct imsg		 imsg;

	vid = make_vmop_id(id, name, flags);
	if (name[0] != '\0')
		fprintf(stderr, "stopping vm %s: ", name);
	else
		fprintf(stderr, "stopping vm: ");
	c->midline = 1;
	conn_send(c, IMSG_VMDOP_TERMINATE_VM_REQUEST, &vid, sizeof(vid));
	conn_recv(c, &imsg);
	return (terminate_complete(&imsg, IMSG_VMDOP_TERMINATE_VM_RESPONSE,
	    flags));
}

/* stop -a: every VM that has a process, one after the other. */
static int
vm_stop_all(struct ctl_conn *c, unsigned int flags)
{
	struct vmop_info_result	*list;
	size_t			 i, n;
	int			 ret = 0;

	list = get_info(c, &n);
	for (i = 0; i < n; i++)
		if (vm_running(&list[i]))
			ret |= vm_stop(c, 0, list[i].vir_name, flags);
	free(list);
	return (ret);
}

static int
vm_waitfor(struct ctl_conn *c, uint32_t id, const char *name)
{
	struct vmop_id		 vid;
	struct imsg		 imsg;

	vid = make_vmop_id(id, name, 0);
	if (name[0] != '\0')
		fprintf(stderr, "waiting for vm %s: ", name);
	else
		fprintf(stderr, "waiting for vm: ");
	c->midline = 1;
	conn_send(c, IMSG_VMDOP_WAIT_VM_REQUEST, &vid, sizeof(vid));
	conn_recv(c, &imsg);
	return (terminate_complete(&imsg, IMSG_VMDOP_WAIT_VM_RESPONSE,
	    VMOP_WAIT));
}

/* pause and unpause, with OpenBSD vmctl's words. */
static int
vm_pause(struct ctl_conn *c, const struct parse_result *res, int pause)
{
	struct vmop_id		 vid;
	struct vmop_result	 vmr;
	struct imsg		 imsg;
	const char		*what = pause ? "pause" : "unpause";

	vid = make_vmop_id(res->id, res->name, 0);
	conn_send(c, pause ? IMSG_VMDOP_PAUSE_VM : IMSG_VMDOP_UNPAUSE_VM,
	    &vid, sizeof(vid));
	conn_recv(c, &imsg);
	if (result_read(&imsg, pause ? IMSG_VMDOP_PAUSE_VM_RESPONSE :
	    IMSG_VMDOP_UNPAUSE_VM_RESPONSE, &vmr) == -1) {
		warnx("unexpected response received from vmd");
		return (1);
	}
	if (vmr.vmr_result != 0) {
		warnx("%s vm command failed: %s", what, result_reason(&vmr));
		return (1);
	}
	warnx("%sd vm %u successfully", what, vmr.vmr_id);
	return (0);
}

/*
 * load, reload, reset and log: one request, answered by IMSG_CTL_OK or
 * IMSG_CTL_FAIL (which conn_recv reports).  Silent on success, as on
 * OpenBSD.
 */
static int
ctl_request(struct ctl_conn *c, uint32_t type, const void *data,
    size_t len)
{
	struct vmop_result	 vmr;
	struct imsg		 imsg;

	conn_send(c, type, data, len);
	conn_recv(c, &imsg);
	if (result_read(&imsg, IMSG_CTL_OK, &vmr) == -1) {
		warnx("unexpected response received from vmd");
		return (1);
	}
	return (0);
}

/* As OpenBSD: exit status 1 when not a single row was shown. */
static int
vm_status(struct ctl_conn *c, const struct parse_result *res)
{
	struct vmop_info_result	*list;
	char			 line[256], owner[VMCTL_OWNER_MAX];
	size_t			 i, n, shown = 0;

	list = get_info(c, &n);
	(void)status_header(line, sizeof(line));
	fputs(line, stdout);
	for (i = 0; i < n; i++) {
		if (res->running_only && !vm_running(&list[i]))
			continue;
		if (!vm_matches(&list[i], res->id, res->name))
			continue;
		owner_name(list[i].vir_uid, list[i].vir_gid, owner,
		    sizeof(owner));
		(void)status_row(line, sizeof(line), &list[i], owner);
		fputs(line, stdout);
		shown++;
	}
	free(list);
	if (fflush(stdout) == EOF)
		err(1, "stdout");
	return (shown == 0);
}

static int
vm_console(struct ctl_conn *c, const struct parse_result *res)
{
	struct vmop_info_result	*list;
	char			 tty[VM_TTYNAME_MAX];
	size_t			 i, n;

	tty[0] = '\0';
	list = get_info(c, &n);
	for (i = 0; i < n; i++) {
		if (vm_matches(&list[i], res->id, res->name) &&
		    vm_running(&list[i]) && list[i].vir_ttyname[0] != '\0') {
			(void)strcpy(tty, list[i].vir_ttyname);
			break;
		}
	}
	free(list);
	if (tty[0] == '\0')
		errx(1, "console not found");
	conn_close(c);
	ctl_openconsole(tty);
}

int
vmmaction(struct parse_result *res)
{
	struct ctl_conn		 c;
	struct vmop_path	 vp;
	struct vmop_reset	 vr;
	int			 ret = 1;

	memset(&vp, 0, sizeof(vp));
	(void)strcpy(vp.vp_path, res->path);	/* both PATH_MAX */
	memset(&vr, 0, sizeof(vr));
	vr.vr_what = res->reset;
	memset(&c, 0, sizeof(c));
	conn_open(&c, res);
	switch (res->action) {
	case CMD_START:
		ret = vm_start(&c, res);
		break;
	case CMD_STOP:
		ret = vm_stop(&c, res->id, res->name, res->flags);
		break;
	case CMD_STOPALL:
		ret = vm_stop_all(&c, res->flags);
		break;
	case CMD_WAITFOR:
		ret = vm_waitfor(&c, res->id, res->name);
		break;
	case CMD_STATUS:
		ret = vm_status(&c, res);
		break;
	case CMD_CONSOLE:
		ret = vm_console(&c, res);
		break;
	case CMD_PAUSE:
	case CMD_UNPAUSE:
		ret = vm_pause(&c, res, res->action == CMD_PAUSE);
		break;
	case CMD_LOAD:
		ret = ctl_request(&c, IMSG_VMDOP_LOAD, &vp, sizeof(vp));
		break;
	case CMD_RELOAD:
		ret = ctl_request(&c, IMSG_VMDOP_RELOAD, NULL, 0);
		break;
	case CMD_RESET:
		ret = ctl_request(&c, IMSG_CTL_RESET, &vr, sizeof(vr));
		break;
	case CMD_LOG:
		ret = ctl_request(&c, IMSG_CTL_VERBOSE, &res->loglevel,
		    sizeof(res->loglevel));
		break;
	case CMD_CREATE:
	case CMD_NONE:
		errx(1, "invalid action %d", res->action);
	}
	conn_close(&c);
	return (ret);
}

/*
 * The built-in console.  The saved terminal settings are file state
 * because the signal handler that restores them can reach nothing else.
 */
static struct termios	 saved_tio;
static volatile sig_atomic_t tio_saved;

static void
term_restore(void)
{
	if (tio_saved)
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	tio_saved = 0;
}

static void
term_signal(int sig)
{
	term_restore();
	(void)signal(sig, SIG_DFL);
	(void)raise(sig);
}

/* The user's terminal goes raw so that every key reaches the guest. */
static void
term_raw(void)
{
	struct termios		 tio;
	static const int	 sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM };
	size_t			 i;

	if (tcgetattr(STDIN_FILENO, &saved_tio) == -1)
		err(1, "tcgetattr");
	tio_saved = 1;
	if (atexit(term_restore) != 0)
		errx(1, "atexit failed");
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		(void)signal(sigs[i], term_signal);
	tio = saved_tio;
	cfmakeraw(&tio);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio) == -1)
		err(1, "tcsetattr");
}

/* Like cu(1), put the console line in raw mode at the console's speed. */
static void
line_raw(int fd)
{
	struct termios		 tio;

	if (tcgetattr(fd, &tio) == -1)
		return;		/* not a tty: nothing to set */
	cfmakeraw(&tio);
	(void)cfsetspeed(&tio, B115200);
	(void)tcsetattr(fd, TCSANOW, &tio);
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		buf += n;
		len -= (size_t)n;
	}
	return (0);
}

/*
 * Copy guest output to stdout and stdin to the guest until the VM's side
 * of the pty goes away (read gives EOF or EIO) or "~." is typed.  The
 * end of a script's stdin does not end the session: a script that feeds
 * nothing still sees the console to the end.  A terminal that hangs up
 * does, as it does cu(1)'s.
 */
static void
console_loop(int fd, int interactive)
{
	struct console_esc	 esc;
	struct pollfd		 pfd[2];
	char			 buf[4096], out[sizeof(buf) + 1];
	ssize_t			 n;
	size_t			 o;
	int			 quit = 0, nfds = 2;

	console_esc_init(&esc);
	pfd[0].fd = fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = STDIN_FILENO;
	pfd[1].events = POLLIN;
	while (!quit) {
		if (poll(pfd, nfds, -1) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		if (pfd[0].revents != 0) {
			if ((n = read(fd, buf, sizeof(buf))) == -1 &&
			    (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				break;
			if (write_all(STDOUT_FILENO, buf, (size_t)n) == -1)
				break;
		}
		if (nfds == 2 && pfd[1].revents != 0) {
			if ((n = read(STDIN_FILENO, buf, sizeof(buf))) == -1 &&
			    (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				if (interactive)
					break;
				nfds = 1;
				continue;
			}
			o = console_esc_filter(&esc, buf, (size_t)n, out,
			    &quit);
			if (o > 0 && write_all(fd, out, o) == -1)
				break;
		}
	}
}

/* Where cu(1) is in PATH, or 0 if it is not. */
static int
find_cu(char *path, size_t len)
{
	const char	*p, *end, *env;
	struct stat	 sb;
	int		 n;

	if ((env = getenv("PATH")) == NULL)
		env = "/usr/bin:/bin";
	for (p = env; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		if ((end = strchr(p, ':')) == NULL)
			end = p + strlen(p);
		n = snprintf(path, len, "%.*s/%s", (int)(end - p), p,
		    VMCTL_CU);
		if (end == p || n < 0 || (size_t)n >= len)
			continue;
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    access(path, X_OK) == 0)
			return (1);
	}
	return (0);
}

/*
 * Attach to a VM's console.  cu(1) is used for an interactive user who
 * has it, except root: Debian's cu (Taylor UUCP) switches from root to
 * the uucp user and then cannot open vmd's pty.  Does not return.
 */
void
ctl_openconsole(const char *tty)
{
	char		 cu[PATH_MAX];
	int		 fd, interactive;

	if (tty[0] == '\0')
		errx(1, "console not found");
	if ((fd = open(tty, O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1)
		err(1, "failed to open the console %s", tty);
	interactive = isatty(STDIN_FILENO);
	if (interactive && getuid() != 0 && find_cu(cu, sizeof(cu))) {
		(void)close(fd);
		closefrom(STDERR_FILENO + 1);
		execl(cu, cu, "-l", tty, "-s", "115200", (char *)NULL);
		err(1, "failed to open the console");
	}
	line_raw(fd);
	fprintf(stderr, "Connected to %s (speed %d)\n", tty,
	    VMCTL_CONSOLE_SPEED);
	if (interactive)
		term_raw();
	console_loop(fd, interactive);
	term_restore();
	exit(0);
}
