/*
 * devproc_test.c: device processes end to end, without KVM.  This
 * binary links a role table of its own (in place of roles.c) with a
 * test device, "echodev", that serves a VM's disks: it reads the first
 * bytes of its disk as its configuration and copies what the driver
 * gives it in each chain back into the chain's writable buffers.  The
 * test plays the parent of a real vmm (vmm_run, re-executed from this
 * binary as _vmd in its sandbox), which starts for each VM a fake vm
 * process (this binary again, using the vm process's real device
 * channel code, vm_devproc.c) and a real device process (devproc.c's
 * runner around echodev).  Checked: titles, the device ready with its
 * configuration, guest RAM and a queue handed over, a request served
 * through the kick and call eventfds, a malformed queue reported as
 * needing a reset, and the life cycle: a device's death is logged and
 * ends its VM with exactly one end naming the device; the vm process's
 * death ends its devices; a device that cannot start ends its VM with
 * its reason; nothing is left behind.
 */

#include <sys/types.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "devproc.h"
#include "vm.h"
#include "vmd.h"
#include "regress/test.h"

#define ECHO_CONFIG	16		/* bytes of the disk as config */
#define RAM_SIZE	(1 << 20)
#define Q_DESC		0x1000
#define Q_AVAIL		0x2000
#define Q_USED		0x3000
#define Q_SIZE		8
#define BUF_IN		0x10000
#define BUF_OUT		0x20000

/* echodev: the device */

struct echo {
	int	 served;
};

static int
echo_init(struct devproc *dp, const struct devop_start *ds,
    struct vmop_fdset *fds, struct devop_ready *ready, char *err,
    size_t errlen)
{
	static struct echo	 echo;
	int			 fd;

	fd = vmop_fdset_get(fds, VMOP_FD_DISK, 0, 0);
	/* a call beyond the device policy's: echo_calls must let it by */
	if (fdatasync(fd) == -1) {
		(void)snprintf(err, errlen, "fdatasync: %s", strerror(errno));
		return (-1);
	}
	if (pread(fd, ready->dr_config, ECHO_CONFIG, 0) != ECHO_CONFIG) {
		(void)snprintf(err, errlen, "disk too small for a config");
		return (-1);
	}
	ready->dr_config_len = ECHO_CONFIG;
	ready->dr_nqueues = 1;
	ready->dr_queue_max = 256;
	devproc_set_softc(dp, &echo);
	return (0);
}

static void
echo_notify(struct devproc *dp, struct virtq *vq)
{
	struct echo		*e = devproc_softc(dp);
	struct iovec		 iov[8];
	struct virtq_chain	 c = { .iov = iov, .max = 8 };
	uint8_t			 buf[256];
	size_t			 n;
	int			 r;

	while ((r = virtq_pop(vq, &c)) == 1) {
		n = virtq_chain_read(&c, 0, buf, sizeof(buf));
		n = virtq_chain_write(&c, 0, buf, n);
		virtq_push(vq, c.head, (uint32_t)n);
		e->served++;
	}
	if (r == -1) {
		devproc_queue_error(dp, vq);
		return;
	}
	virtq_interrupt(vq);
}

static const int echo_calls_list[] = { SCMP_SYS(fdatasync) };
static const struct sandbox_calls echo_calls[] = {
	SANDBOX_CALLS("syncing its disk", echo_calls_list),
	{ NULL, NULL, 0 }
};

static const struct devproc_ops echo_ops = {
	.name = "echodev",
	.fdkind = VMOP_FD_DISK,
	.calls = echo_calls,
	.init = echo_init,
	.notify = echo_notify,
};

/* The fake vm process: the real device channel, a tiny guest RAM. */

static int	 fake_needs_reset;
static char	 fake_reason[VM_REASON_MAX];

static void
fake_needs_reset_cb(void *arg, struct vmdev *d, uint16_t q, const char *why)
{
	fake_needs_reset = 1;
	(void)snprintf(fake_reason, sizeof(fake_reason), "queue %u: %s", q,
	    why);
}

static const struct vmdev_cb fake_cb = {
	.needs_reset = fake_needs_reset_cb,
};

struct fake {
	struct event_base		*evbase;
	struct imsgev			 iev;
	struct vmop_fdset		 fds;
	struct vmop_create_params	 vmc;
	int				 received;
};

static int
fake_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	struct fake	*f = iev->arg;
	struct vmop_fd	 vmf;
	char		 err[128];
	int		 fd;

	if (!msg_ok(imsg, MSG_VMM_VM, "vmm"))
		return (0);
	switch (imsg_get_type(imsg)) {
	case IMSG_VMDOP_START_VM_FD:
		fd = imsg_get_fd(imsg);
		(void)imsg_get_data(imsg, &vmf, sizeof(vmf));
		if (vmop_fdset_put(&f->fds, &vmf, fd, err, sizeof(err)) == -1)
			fatalx("%s", err);
		break;
	case IMSG_VMDOP_START_VM_END:
		(void)imsg_get_data(imsg, &f->vmc, sizeof(f->vmc));
		f->received = 1;
		break;
	}
	return (0);
}

static void
fake_closed(struct imsgev *iev)
{
	_exit(0);
}

/* Wait for fd to be readable, at most ms; 1 if it is. */
static int
readable(int fd, int ms)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };

	return (poll(&pfd, 1, ms) == 1);
}

/*
 * The guest side of one queue in RAM: a chain of a readable and a
 * writable buffer at head, then the avail ring says so.
 */
static void
fake_chain(uint8_t *ram, uint16_t head, uint64_t in, uint64_t out,
    uint16_t avail_idx)
{
	struct virtq_desc	*d = (struct virtq_desc *)(ram + Q_DESC);
	struct virtq_avail	*a = (struct virtq_avail *)(ram + Q_AVAIL);

	d[head].addr = in;
	d[head].len = 6;
	d[head].flags = VIRTQ_DESC_F_NEXT;
	d[head].next = head + 1;
	d[head + 1].addr = out;
	d[head + 1].len = 16;
	d[head + 1].flags = VIRTQ_DESC_F_WRITE;
	d[head + 1].next = 0;
	a->ring[avail_idx % Q_SIZE] = head;
	__atomic_store_n(&a->idx, avail_idx + 1, __ATOMIC_RELEASE);
}

static __attribute__((noreturn)) void
fake_vm_run(struct proc_env *env)
{
	static struct fake	 f;
	struct vmdev		*dev;
	struct devop_memrange	 r = { 0, RAM_SIZE, 0 };
	struct virtq_state	 st;
	struct virtq_used	*u;
	const struct devop_ready *ready;
	struct vmop_result	 res;
	uint8_t			*ram;
	uint64_t		 one = 1, n;
	char			 err[128] = "";
	int			 memfd, kick, call, fd;

	if ((f.evbase = event_base_new()) == NULL ||
	    imsgev_init(&f.iev, f.evbase, PROC_PARENT_FD, "vmm", 1,
	    fake_dispatch, fake_closed, &f) == -1)
		fatalx("fake vm: setup");
	proc_log_to(&f.iev);
	vmop_fdset_init(&f.fds);
	while (!f.received)
		event_base_loop(f.evbase, EVLOOP_ONCE);
	sandbox_enter(&sandbox_vm, NULL);

	memset(&res, 0, sizeof(res));
	if (vmop_fds_complete(&f.fds, &f.vmc.vmc_fds, err, sizeof(err)) ==
	    -1 || f.vmc.vmc_fds.vf_count[VMOP_FD_VIOBLK] != 1 ||
	    f.vmc.vmc_fds.vf_count[VMOP_FD_DISK] != 0) {
		(void)snprintf(res.vmr_reason, sizeof(res.vmr_reason),
		    "bad start: %s", err);
		goto report;
	}
	fd = vmop_fdset_take(&f.fds, VMOP_FD_VIOBLK, 0, 0);
	if ((dev = vmdev_open(f.evbase, fd, VMOP_FD_VIOBLK, 0)) == NULL)
		fatal("vmdev_open");
	vmdev_set_cb(dev, &fake_cb, NULL);
	if (vmdev_wait_ready(f.evbase, &dev, 1, 5000, err,
	    sizeof(err)) == -1) {
		(void)snprintf(res.vmr_reason, sizeof(res.vmr_reason),
		    "not ready: %s", err);
		goto report;
	}
	ready = vmdev_ready(dev);

	if ((memfd = memfd_create("ram", MFD_CLOEXEC)) == -1 ||
	    ftruncate(memfd, RAM_SIZE) == -1 ||
	    (ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    memfd, 0)) == MAP_FAILED)
		fatal("guest memory");
	memcpy(ram + BUF_IN, "hello", 6);
	fake_chain(ram, 0, BUF_IN, BUF_OUT, 0);
	if ((kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1 ||
	    (call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		fatal("eventfd");
	memset(&st, 0, sizeof(st));
	st.desc = Q_DESC;
	st.avail = Q_AVAIL;
	st.used = Q_USED;
	st.size = Q_SIZE;
	st.kickfd = kick;
	st.callfd = call;
	if (vmdev_mem(dev, memfd, &r, 1) == -1 || vmdev_queue(dev, &st) == -1)
		fatal("hand over");
	/* the device serves what was queued before the hand-over... */
	u = (struct virtq_used *)(ram + Q_USED);
	if (!readable(call, 5000) ||
	    __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) != 1 ||
	    memcmp(ram + BUF_OUT, "hello", 6) != 0 ||
	    u->ring[0].len != 6) {
		(void)snprintf(res.vmr_reason, sizeof(res.vmr_reason),
		    "first request not served");
		goto report;
	}
	(void)read(call, &n, sizeof(n));
	/* ...and a kick */
	memcpy(ram + BUF_IN, "again", 6);
	fake_chain(ram, 2, BUF_IN, BUF_OUT + 64, 1);
	(void)write(kick, &one, sizeof(one));
	if (!readable(call, 5000) ||
	    __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) != 2 ||
	    memcmp(ram + BUF_OUT + 64, "again", 6) != 0) {
		(void)snprintf(res.vmr_reason, sizeof(res.vmr_reason),
		    "kicked request not served");
		goto report;
	}
	/* a buffer outside RAM breaks the queue, not the device */
	fake_chain(ram, 4, BUF_IN, 0x7fff0000, 2);
	(void)write(kick, &one, sizeof(one));
	while (!fake_needs_reset && vmdev_alive(dev))
		event_base_loop(f.evbase, EVLOOP_ONCE);
	(void)snprintf(res.vmr_reason, sizeof(res.vmr_reason),
	    "echo ok, config %.*s, %.160s", ECHO_CONFIG,
	    (const char *)ready->dr_config, fake_reason);
 report:
	res.vmr_result = strncmp(res.vmr_reason, "echo ok", 7) == 0 ? 0 :
	    EIO;
	imsgev_compose_sync(&f.iev, IMSG_VMDOP_VM_STARTED, &res, sizeof(res),
	    2000);
	/* Live on with the VM, as a vm process does, until vmm ends it. */
	event_base_loop(f.evbase, EVLOOP_NO_EXIT_ON_EMPTY);
	_exit(0);
}

const struct proc_role proc_roles[] = {
	{ "parent",	PROC_LATE,			&sandbox_parent,
	    NULL,		NULL },
	{ "vmm",	PROC_PRIVDROP | PROC_SPAWNS,	&sandbox_vmm,
	    vmm_run,		NULL },
	{ "vm",		PROC_PER_VM | PROC_LATE,	&sandbox_vm,
	    fake_vm_run,	NULL },
	{ "echodev",	PROC_PER_VM,			&sandbox_device,
	    devproc_main,	&echo_ops },
};
const size_t proc_nroles = sizeof(proc_roles) / sizeof(proc_roles[0]);

/* The test: the parent of vmm. */

static struct imsgbuf	 ib;
static pid_t		 vmm_pid;
static char		 tmpdir[PATH_MAX / 2];
static char		 lastlog[VMD_LOG_TEXT_MAX + VMD_PROCNAME_MAX + 4];

/* Next message but log lines (the last kept in lastlog), at most ms. */
static int
next_msg(struct imsg *imsg, int ms)
{
	struct vmop_log	 vl;
	char		 text[VMD_LOG_TEXT_MAX + 1];
	ssize_t		 n;

	for (;;) {
		if ((n = imsg_get(&ib, imsg)) == -1)
			return (-1);
		if (n == 0) {
			if (!readable(ib.fd, ms) || imsgbuf_read(&ib) <= 0)
				return (-1);
			continue;
		}
		if (imsg_get_type(imsg) != IMSG_LOG)
			return (0);
		if (proc_log_parse(imsg, &vl, text, sizeof(text)) == 0) {
			(void)snprintf(lastlog, sizeof(lastlog), "%s: %s",
			    vl.vl_proc, text);
			if (getenv("DEVPROC_TEST_VERBOSE") != NULL)
				printf("# log %s\n", lastlog);
		}
		imsg_free(imsg);
	}
}

/* A disk of content for VM id, started; returns the start's answer. */
static int
start_vm(uint32_t id, const char *name, const char *content,
    struct vmop_result *vmr)
{
	static struct vmop_create_params vmc;
	struct vmop_fd		 vmf = { id, VMOP_FD_DISK, 0, 0 };
	struct imsg		 imsg;
	char			 path[PATH_MAX];
	int			 fd, type;

	(void)snprintf(path, sizeof(path), "%s/%s.img", tmpdir, name);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 ||
	    write(fd, content, strlen(content)) != (ssize_t)strlen(content))
		return (-1);
	memset(&vmc, 0, sizeof(vmc));
	vmc.vmc_id = id;
	(void)snprintf(vmc.vmc_name, sizeof(vmc.vmc_name), "%s", name);
	vmc.vmc_fds.vf_count[VMOP_FD_DISK] = 1;
	vmc.vmc_fds.vf_disk[0].vd_nimages = 1;
	vmc.vmc_fds.vf_disk[0].vd_format = VMOP_DISK_RAW;
	if (imsg_compose(&ib, IMSG_VMDOP_START_VM_FD, 0, 0, fd, &vmf,
	    sizeof(vmf)) == -1 ||
	    imsg_compose(&ib, IMSG_VMDOP_START_VM_END, 0, 0, -1, &vmc,
	    sizeof(vmc)) == -1 || imsgbuf_flush(&ib) == -1)
		return (-1);
	if (next_msg(&imsg, 15000) == -1)
		return (-1);
	type = imsg_get_type(&imsg);
	if (imsg_get_data(&imsg, vmr, sizeof(*vmr)) == -1)
		type = -1;
	imsg_free(&imsg);
	return (type);
}

/* The end of VM id, if one comes within ms; and no second one. */
static int
wait_end(uint32_t id, struct vmop_result *vmr, int ms)
{
	struct imsg	 imsg;
	int		 got = 0;

	while (next_msg(&imsg, got ? 1000 : ms) == 0) {
		if (imsg_get_type(&imsg) == IMSG_VMDOP_TERMINATE_VM_EVENT &&
		    imsg_get_data(&imsg, vmr, sizeof(*vmr)) == 0 &&
		    vmr->vmr_id == id)
			got++;
		imsg_free(&imsg);
		if (got)
			ms = 1000;
	}
	return (got);
}

/* vmm's children whose argv[0] starts with prefix, into pids. */
static int
children(const char *prefix, pid_t *pids, int max)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[300], buf[512];
	FILE		*f;
	int		 n = 0, ppid, fd;
	ssize_t		 len;

	if ((d = opendir("/proc")) == NULL)
		return (0);
	while ((de = readdir(d)) != NULL && n < max) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		ppid = -1;
		if (fscanf(f, "%*d (%*[^)]) %*c %d", &ppid) != 1)
			ppid = -1;
		fclose(f);
		if (ppid != vmm_pid)
			continue;
		(void)snprintf(path, sizeof(path), "/proc/%s/cmdline",
		    de->d_name);
		if ((fd = open(path, O_RDONLY)) == -1)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		if (strncmp(buf, prefix, strlen(prefix)) == 0)
			pids[n++] = atoi(de->d_name);
	}
	closedir(d);
	return (n);
}

static int
gone(pid_t pid)
{
	int	 i;

	for (i = 0; i < 100; i++) {
		if (kill(pid, 0) == -1 && errno == ESRCH)
			return (1);
		usleep(20000);
	}
	return (0);
}

static void
served(void)
{
	struct vmop_result	 vmr;
	pid_t			 vm[2], dev[2];

	CHECK(start_vm(1, "t1", "0123456789abcdefrest", &vmr) ==
	    IMSG_VMDOP_VM_STARTED);
	if (vmr.vmr_result != 0)
		printf("# t1: %s\n", vmr.vmr_reason);
	CHECK(vmr.vmr_result == 0);
	CHECK(strstr(vmr.vmr_reason, "config 0123456789abcdef") != NULL);
	CHECK(strstr(vmr.vmr_reason, "queue 0:") != NULL);
	/* what ps shows */
	CHECK(children("vmd: vm t1 echodev 0", dev, 2) == 1);
	CHECK(children("vmd: vm t1", vm, 2) == 2);
	/* the VM ends with its device; one end, naming it */
	CHECK(kill(dev[0], SIGKILL) == 0);
	CHECK(wait_end(1, &vmr, 10000) == 1);
	CHECK(vmr.vmr_state == VM_END_ERROR);
	if (strstr(vmr.vmr_reason, "echodev 0: killed by signal 9") == NULL)
		printf("# t1 end: %s\n", vmr.vmr_reason);
	CHECK(strstr(vmr.vmr_reason, "echodev 0: killed by signal 9") !=
	    NULL);
	CHECK(children("vmd: vm t1", vm, 2) == 0);
}

static void
vm_dies(void)
{
	struct vmop_result	 vmr;
	pid_t			 vm[2], dev[2];

	CHECK(start_vm(2, "t2", "fedcba9876543210", &vmr) ==
	    IMSG_VMDOP_VM_STARTED && vmr.vmr_result == 0);
	CHECK(children("vmd: vm t2 echodev 0", dev, 2) == 1);
	CHECK(children("vmd: vm t2", vm, 2) == 2);
	if (vm[0] == dev[0])
		vm[0] = vm[1];
	/* the vm process's death ends its devices */
	CHECK(kill(vm[0], SIGKILL) == 0);
	CHECK(wait_end(2, &vmr, 10000) == 1);
	CHECK(strstr(vmr.vmr_reason, "vm process killed by signal 9") !=
	    NULL);
	CHECK(gone(dev[0]));
	CHECK(children("vmd: vm t2", vm, 2) == 0);
}

static void
device_fails(void)
{
	struct vmop_result	 vmr;
	pid_t			 vm[2];
	int			 type;

	/* a disk too small: the device cannot start, nor its VM */
	type = start_vm(3, "t3", "short", &vmr);
	if (type == IMSG_VMDOP_VM_STARTED) {
		CHECK(vmr.vmr_result != 0);
		CHECK(wait_end(3, &vmr, 10000) == 1);
	} else
		CHECK(type == IMSG_VMDOP_TERMINATE_VM_EVENT);
	if (strstr(vmr.vmr_reason, "echodev 0: disk too small") == NULL)
		printf("# t3 end: %s\n", vmr.vmr_reason);
	CHECK(strstr(vmr.vmr_reason, "echodev 0: disk too small") != NULL);
	CHECK(children("vmd: vm t3", vm, 2) == 0);
}

static void
terminated(void)
{
	struct vmop_result	 vmr;
	struct vmop_id		 vid;
	pid_t			 dev[2];

	CHECK(start_vm(4, "t4", "0123456789abcdef", &vmr) ==
	    IMSG_VMDOP_VM_STARTED && vmr.vmr_result == 0);
	CHECK(children("vmd: vm t4 echodev 0", dev, 2) == 1);
	memset(&vid, 0, sizeof(vid));
	vid.vid_id = 4;
	CHECK(imsg_compose(&ib, IMSG_VMDOP_VM_TERMINATE, 0, 0, -1, &vid,
	    sizeof(vid)) != -1 && imsgbuf_flush(&ib) == 0);
	CHECK(wait_end(4, &vmr, 10000) == 1);
	CHECK(gone(dev[0]));
}

int
main(int argc, char *argv[])
{
	struct proc_env	 env;
	const char	*role = NULL, *name = NULL;
	char		 cmd[PATH_MAX];
	int		 ch, debug = 0, verbose = 0, sp[2], fds[2];

	proc_signals_ignore();
	while ((ch = getopt(argc, argv, "dN:P:v")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'N':
			name = optarg;
			break;
		case 'P':
			role = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			return (2);
		}
	}
	if (role != NULL) {
		/* re-executed by proc_spawn: one of the roles above */
		proc_env_init(&env, debug, verbose);
		log_init(1, LOG_DAEMON);
		log_setverbose(verbose);
		proc_run(&env, role, name);
	}
	if (geteuid() != 0) {
		printf("SKIP devproc_test: needs root (vmm drops to %s)\n",
		    VMD_USER);
		return (0);
	}
	log_init(1, LOG_DAEMON);
	(void)snprintf(tmpdir, sizeof(tmpdir), "%s/devproc_test.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return (1);
	proc_env_init(&env, 1, getenv("DEVPROC_TEST_VERBOSE") != NULL);
	if ((env.exe_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) ==
	    -1 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		return (1);
	fds[0] = sp[1];
	fds[1] = env.exe_fd;
	if ((vmm_pid = proc_spawn(&env, "vmm", NULL, "vmd: vmm", fds,
	    2)) == -1) {
		printf("FAIL devproc_test: %s\n", proc_spawn_error());
		return (1);
	}
	close(sp[1]);
	if (imsgbuf_init(&ib, sp[0]) == -1)
		return (1);
	imsgbuf_allow_fdpass(&ib);

	RUN(served);
	RUN(vm_dies);
	RUN(device_fails);
	RUN(terminated);

	/* vmm leaves nothing behind */
	kill(vmm_pid, SIGTERM);
	waitpid(vmm_pid, NULL, 0);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void)system(cmd);
	TEST_EXIT();
}
