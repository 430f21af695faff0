/*
 * start_test.c: the start protocol of a VM.  The descriptor set
 * (vmop_fdset) and its counts (vmop_fds) with hostile placements; the
 * message table (msg_check) on each channel; the parent's opening of a
 * VM's resources (config_openvm): kernel, initrd, a raw disk and a
 * qcow2 overlay with its base, a cdrom, /dev/kvm and the console, the
 * image locks, and a user's file rights refusing what the user could
 * not read (the kernel, a disk, a base named inside an overlay); and a
 * real vmm process (vmm_run in a child) and a real vm process (vm_main
 * in a child) fed hostile descriptor messages by a fake peer: each
 * start fails with a reason naming the fault, the process stays up
 * (vmm) or says why it ends (vm), and no descriptor leaks.
 */

#include <sys/types.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "log.h"
#include "config.h"
#include "disk.h"
#include "proc.h"
#include "vm.h"
#include "vmd.h"
#include "regress/test.h"

static char	 tmpdir[PATH_MAX / 2];

static int
count_fds(pid_t pid)
{
	char		 path[64];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	(void)snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (n - 1);		/* the directory's own descriptor */
}

static int
devnull(void)
{
	return (open("/dev/null", O_RDONLY | O_CLOEXEC));
}

static struct vmop_fd
vmf(uint32_t kind, uint32_t index, uint32_t image)
{
	struct vmop_fd	 v = { 1, kind, index, image };

	return (v);
}

/* Hostile placements are refused, closing the descriptor. */
static void
fdset_put(void)
{
	struct vmop_fdset	 set;
	struct vmop_fd		 v;
	char			 err[VM_REASON_MAX];
	int			 base = count_fds(getpid());

	vmop_fdset_init(&set);
	v = vmf(VMOP_FD_KVM, 0, 0);
	CHECK(vmop_fdset_put(&set, &v, devnull(), err, sizeof(err)) == 0);
	/* twice the same place */
	CHECK(vmop_fdset_put(&set, &v, devnull(), err, sizeof(err)) == -1);
	CHECK(strstr(err, "sent twice") != NULL);
	/* no descriptor */
	v = vmf(VMOP_FD_KERNEL, 0, 0);
	CHECK(vmop_fdset_put(&set, &v, -1, err, sizeof(err)) == -1);
	CHECK(strstr(err, "without a descriptor") != NULL);
	/* unknown kind, index and image out of range */
	v = vmf(VMOP_FD_NKINDS, 0, 0);
	CHECK(vmop_fdset_put(&set, &v, devnull(), err, sizeof(err)) == -1);
	CHECK(strstr(err, "unknown descriptor kind") != NULL);
	v = vmf(VMOP_FD_DISK, VM_MAX_DISKS, 0);
	CHECK(vmop_fdset_put(&set, &v, devnull(), err, sizeof(err)) == -1);
	CHECK(strstr(err, "out of range") != NULL);
	v = vmf(VMOP_FD_DISK, 0, VM_MAX_DISK_CHAIN);
	CHECK(vmop_fdset_put(&set, &v, devnull(), err, sizeof(err)) == -1);
	v = vmf(VMOP_FD_KERNEL, 1, 0);
	CHECK(vmop_fdset_put(&set, &v, devnull(), err, sizeof(err)) == -1);
	v = vmf(VMOP_FD_TAP, 0, 1);
	CHECK(vmop_fdset_put(&set, &v, devnull(), err, sizeof(err)) == -1);
	v = vmf(VMOP_FD_CDROM, VM_MAX_CDROMS, 0);
	CHECK(vmop_fdset_put(&set, &v, devnull(), err, sizeof(err)) == -1);
	/* the last disk's last image is a place */
	v = vmf(VMOP_FD_DISK, VM_MAX_DISKS - 1, VM_MAX_DISK_CHAIN - 1);
	CHECK(vmop_fdset_put(&set, &v, devnull(), err, sizeof(err)) == 0);
	CHECK(vmop_fdset_get(&set, VMOP_FD_DISK, VM_MAX_DISKS - 1,
	    VM_MAX_DISK_CHAIN - 1) != -1);
	CHECK(count_fds(getpid()) == base + 2);
	vmop_fdset_close(&set);
	CHECK(count_fds(getpid()) == base);
}

/* Counts are bounded; a set must hold exactly what they promise. */
static void
fdset_complete(void)
{
	struct vmop_fdset	 set;
	struct vmop_fds		 fds;
	struct vmop_fd		 v;
	char			 err[VM_REASON_MAX];
	uint32_t		 i;

	memset(&fds, 0, sizeof(fds));
	fds.vf_count[VMOP_FD_DISK] = VM_MAX_DISKS + 1;
	CHECK(vmop_fds_check(&fds, err, sizeof(err)) == -1);
	memset(&fds, 0, sizeof(fds));
	fds.vf_count[VMOP_FD_CDROM] = 2;
	CHECK(vmop_fds_check(&fds, err, sizeof(err)) == -1);
	memset(&fds, 0, sizeof(fds));
	fds.vf_count[VMOP_FD_TAP] = VM_MAX_NICS + 1;
	CHECK(vmop_fds_check(&fds, err, sizeof(err)) == -1);
	memset(&fds, 0, sizeof(fds));
	fds.vf_count[VMOP_FD_KVM] = 2;
	CHECK(vmop_fds_check(&fds, err, sizeof(err)) == -1);
	/* a disk: 1 to 16 images, a known format, known flags */
	memset(&fds, 0, sizeof(fds));
	fds.vf_count[VMOP_FD_DISK] = 1;
	fds.vf_disk[0].vd_nimages = 0;
	fds.vf_disk[0].vd_format = VMOP_DISK_RAW;
	CHECK(vmop_fds_check(&fds, err, sizeof(err)) == -1);
	fds.vf_disk[0].vd_nimages = VM_MAX_DISK_CHAIN + 1;
	CHECK(vmop_fds_check(&fds, err, sizeof(err)) == -1);
	fds.vf_disk[0].vd_nimages = VM_MAX_DISK_CHAIN;
	CHECK(vmop_fds_check(&fds, err, sizeof(err)) == 0);
	fds.vf_disk[0].vd_format = 7;
	CHECK(vmop_fds_check(&fds, err, sizeof(err)) == -1);
	fds.vf_disk[0].vd_format = VMOP_DISK_QCOW2;
	fds.vf_disk[0].vd_flags = 0x80;
	CHECK(vmop_fds_check(&fds, err, sizeof(err)) == -1);
	fds.vf_disk[0].vd_flags = VMOP_DISK_RDONLY;
	/* a disk described but not counted */
	fds.vf_disk[2].vd_nimages = 1;
	CHECK(vmop_fds_check(&fds, err, sizeof(err)) == -1);
	CHECK(strstr(err, "not counted") != NULL);

	/* complete: every promised one, nothing else */
	memset(&fds, 0, sizeof(fds));
	fds.vf_count[VMOP_FD_KVM] = 1;
	fds.vf_count[VMOP_FD_DISK] = 1;
	fds.vf_disk[0].vd_nimages = 3;
	fds.vf_disk[0].vd_format = VMOP_DISK_QCOW2;
	vmop_fdset_init(&set);
	v = vmf(VMOP_FD_KVM, 0, 0);
	(void)vmop_fdset_put(&set, &v, devnull(), err, sizeof(err));
	for (i = 0; i < 2; i++) {
		v = vmf(VMOP_FD_DISK, 0, i);
		(void)vmop_fdset_put(&set, &v, devnull(), err, sizeof(err));
	}
	CHECK(vmop_fds_complete(&set, &fds, err, sizeof(err)) == -1);
	CHECK(strstr(err, "missing disk 0 image 2") != NULL);
	v = vmf(VMOP_FD_DISK, 0, 2);
	(void)vmop_fdset_put(&set, &v, devnull(), err, sizeof(err));
	CHECK(vmop_fds_complete(&set, &fds, err, sizeof(err)) == 0);
	v = vmf(VMOP_FD_TAP, 1, 0);
	(void)vmop_fdset_put(&set, &v, devnull(), err, sizeof(err));
	CHECK(vmop_fds_complete(&set, &fds, err, sizeof(err)) == -1);
	CHECK(strstr(err, "unexpected tap 1") != NULL);
	vmop_fdset_close(&set);
}

/* Each type travels only its channels, with its size and contents. */
static void
msg_table(void)
{
	struct vmop_create_params	*vmc;
	struct vmop_fd			 v = vmf(VMOP_FD_KVM, 0, 0);
	struct vmop_id			 vid;
	char				 reason[VM_REASON_MAX];
	int32_t				 level = 2;

	if ((vmc = calloc(1, sizeof(*vmc))) == NULL) {
		CHECK(vmc != NULL);
		return;
	}
	/* a client may ask to start, never hand descriptors */
	CHECK(msg_check(MSG_CLIENT, IMSG_VMDOP_START_VM_REQUEST, vmc,
	    sizeof(*vmc), reason, sizeof(reason)) == 0);
	CHECK(msg_check(MSG_CLIENT, IMSG_VMDOP_START_VM_FD, &v, sizeof(v),
	    reason, sizeof(reason)) == EOPNOTSUPP);
	CHECK(strcmp(reason, "unknown request") == 0);
	CHECK(msg_check(MSG_PARENT_VMM, IMSG_VMDOP_START_VM_FD, &v,
	    sizeof(v), reason, sizeof(reason)) == 0);
	/* ... nor say what descriptors a VM gets */
	vmc->vmc_fds.vf_count[VMOP_FD_KVM] = 1;
	CHECK(msg_check(MSG_CLIENT, IMSG_VMDOP_START_VM_REQUEST, vmc,
	    sizeof(*vmc), reason, sizeof(reason)) == EINVAL);
	CHECK(msg_check(MSG_PARENT_VMM, IMSG_VMDOP_START_VM_END, vmc,
	    sizeof(*vmc), reason, sizeof(reason)) == 0);
	vmc->vmc_fds.vf_count[VMOP_FD_DISK] = VM_MAX_DISKS + 1;
	CHECK(msg_check(MSG_VMM_VM, IMSG_VMDOP_START_VM_END, vmc,
	    sizeof(*vmc), reason, sizeof(reason)) == EINVAL);
	vmc->vmc_fds.vf_count[VMOP_FD_DISK] = 0;
	/* unterminated strings, wrong sizes */
	memset(vmc->vmc_initrd, 'x', sizeof(vmc->vmc_initrd));
	CHECK(msg_check(MSG_PARENT_VMM, IMSG_VMDOP_START_VM_END, vmc,
	    sizeof(*vmc), reason, sizeof(reason)) == EINVAL);
	CHECK(msg_check(MSG_PARENT_VMM, IMSG_VMDOP_START_VM_FD, &v,
	    sizeof(v) - 1, reason, sizeof(reason)) == EINVAL);
	v.vmf_kind = 77;
	CHECK(msg_check(MSG_PARENT_VMM, IMSG_VMDOP_START_VM_FD, &v,
	    sizeof(v), reason, sizeof(reason)) == EINVAL);
	/* a vm process may report, not start or terminate VMs */
	memset(&vid, 0, sizeof(vid));
	CHECK(msg_check(MSG_VM_VMM, IMSG_VMDOP_VM_REBOOT, &vid, sizeof(vid),
	    reason, sizeof(reason)) == 0);
	CHECK(msg_check(MSG_VM_VMM, IMSG_VMDOP_VM_TERMINATE, &vid,
	    sizeof(vid), reason, sizeof(reason)) == EOPNOTSUPP);
	CHECK(msg_check(MSG_VM_VMM, IMSG_CTL_VERBOSE, &level, sizeof(level),
	    reason, sizeof(reason)) == EOPNOTSUPP);
	CHECK(msg_check(MSG_VMM_VM, IMSG_CTL_VERBOSE, &level, sizeof(level),
	    reason, sizeof(reason)) == 0);
	/* device messages stay between a vm and its devices */
	CHECK(msg_check(MSG_VM_VMM, IMSG_DEVOP_MEM, NULL, 0, reason,
	    sizeof(reason)) == EOPNOTSUPP);
	CHECK(msg_check(MSG_CLIENT, IMSG_MAX + 3, NULL, 0, reason,
	    sizeof(reason)) == EOPNOTSUPP);
	/* log lines: a header and 1 to VMD_LOG_TEXT_MAX bytes */
	CHECK(msg_check(MSG_VM_VMM, IMSG_LOG, vmc,
	    sizeof(struct vmop_log), reason, sizeof(reason)) == EINVAL);
	CHECK(msg_check(MSG_VM_VMM, IMSG_LOG, vmc,
	    sizeof(struct vmop_log) + 1, reason, sizeof(reason)) == 0);
	CHECK(msg_check(MSG_DEV_VMM, IMSG_LOG, vmc,
	    sizeof(struct vmop_log) + VMD_LOG_TEXT_MAX + 1, reason,
	    sizeof(reason)) == EINVAL);
	free(vmc);
}

static int
mkfile(const char *name, mode_t mode, char *path, size_t len)
{
	int	 fd;

	(void)snprintf(path, len, "%s/%s", tmpdir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)) == -1)
		return (-1);
	if (write(fd, "image", 5) != 5) {
		close(fd);
		return (-1);
	}
	close(fd);
	return (chmod(path, mode));
}

/* A VM's resources, opened and counted as the start protocol says. */
static void
openvm(void)
{
	static struct vmd_conf_vm	 def;
	static struct vmop_create_params params;
	struct vmop_fdset		 set, set2;
	struct perm_cred		 root, nobody;
	struct passwd			*pw;
	char				 reason[VM_REASON_MAX];
	char				 raw[PATH_MAX], base[PATH_MAX];
	char				 top[PATH_MAX], path[PATH_MAX];
	char				 err[256];
	int				 fdbase, error;

	if (geteuid() != 0 || access("/dev/kvm", R_OK | W_OK) == -1) {
		printf("SKIP openvm: needs root and /dev/kvm\n");
		return;
	}
	fdbase = count_fds(getpid());
	config_cred(0, &root);
	memset(&def, 0, sizeof(def));
	memset(&params, 0, sizeof(params));
	CHECK(mkfile("kernel", 0600, params.vmc_kernel,
	    sizeof(params.vmc_kernel)) == 0);
	CHECK(mkfile("initrd", 0600, params.vmc_initrd,
	    sizeof(params.vmc_initrd)) == 0);
	CHECK(mkfile("cd.iso", 0600, def.cdrom, sizeof(def.cdrom)) == 0);
	CHECK(truncate(def.cdrom, 2048) == 0);	/* one CD block at least */
	(void)snprintf(raw, sizeof(raw), "%s/raw.img", tmpdir);
	(void)snprintf(base, sizeof(base), "%s/base.qcow2", tmpdir);
	(void)snprintf(top, sizeof(top), "%s/top.qcow2", tmpdir);
	CHECK(disk_create(raw, DISK_FMT_RAW, 1 << 20, NULL, DISK_FMT_AUTO,
	    err, sizeof(err)) == 0);
	CHECK(disk_create(base, DISK_FMT_QCOW2, 1 << 20, NULL, DISK_FMT_AUTO,
	    err, sizeof(err)) == 0);
	CHECK(disk_create(top, DISK_FMT_QCOW2, 1 << 20, base, DISK_FMT_QCOW2,
	    err, sizeof(err)) == 0);
	def.ndisks = 2;
	(void)snprintf(def.disk[0].path, sizeof(def.disk[0].path), "%s", raw);
	def.disk[0].format = VMDF_RAW;
	(void)snprintf(def.disk[1].path, sizeof(def.disk[1].path), "%s", top);
	def.disk[1].format = VMDF_QCOW2;

	error = config_openvm(&def, &params, &root, 0, &set, reason,
	    sizeof(reason));
	CHECK(error == 0);
	if (error != 0) {
		printf("# %s\n", reason);
		return;
	}
	CHECK(params.vmc_fds.vf_count[VMOP_FD_KVM] == 1);
	CHECK(params.vmc_fds.vf_count[VMOP_FD_KERNEL] == 1);
	CHECK(params.vmc_fds.vf_count[VMOP_FD_INITRD] == 1);
	CHECK(params.vmc_fds.vf_count[VMOP_FD_TTY_MASTER] == 1);
	CHECK(params.vmc_fds.vf_count[VMOP_FD_TTY_SLAVE] == 1);
	CHECK(params.vmc_fds.vf_count[VMOP_FD_CDROM] == 1);
	CHECK(params.vmc_fds.vf_count[VMOP_FD_DISK] == 2);
	CHECK(params.vmc_fds.vf_disk[0].vd_nimages == 1);
	CHECK(params.vmc_fds.vf_disk[0].vd_format == VMOP_DISK_RAW);
	CHECK(params.vmc_fds.vf_disk[1].vd_nimages == 2);
	CHECK(params.vmc_fds.vf_disk[1].vd_format == VMOP_DISK_QCOW2);
	CHECK(strncmp(params.vmc_ttyname, "/dev/pts/", 9) == 0);
	CHECK(vmop_fds_complete(&set, &params.vmc_fds, reason,
	    sizeof(reason)) == 0);
	CHECK(count_fds(getpid()) == fdbase + 9);

	/* the images are locked: a second start finds them in use */
	error = config_openvm(&def, &params, &root, 0, &set2, reason,
	    sizeof(reason));
	CHECK(error == EBUSY);
	CHECK(strstr(reason, "disk image is in use") != NULL);
	CHECK(count_fds(getpid()) == fdbase + 9);
	vmop_fdset_close(&set);
	CHECK(count_fds(getpid()) == fdbase);

	/* a missing file is named */
	def.ndisks = 0;
	(void)snprintf(path, sizeof(path), "%s/nothere", tmpdir);
	(void)snprintf(params.vmc_initrd, sizeof(params.vmc_initrd), "%s",
	    path);
	CHECK(config_openvm(&def, &params, &root, 0, &set, reason,
	    sizeof(reason)) == ENOENT);
	CHECK(strstr(reason, "initrd") != NULL &&
	    strstr(reason, "nothere") != NULL);
	params.vmc_initrd[0] = '\0';

	/* a user's rights: what it names, it must be able to read */
	if ((pw = getpwnam("nobody")) == NULL) {
		printf("# no user nobody: user rights not tried\n");
		return;
	}
	config_cred(pw->pw_uid, &nobody);
	CHECK(config_openvm(&def, &params, &nobody, VMOP_CREATE_KERNEL, &set,
	    reason, sizeof(reason)) == EACCES);
	CHECK(strstr(reason, "kernel") != NULL);
	/* vm.conf's kernel is root's to read */
	CHECK(config_openvm(&def, &params, &nobody, 0, &set, reason,
	    sizeof(reason)) == 0);
	vmop_fdset_close(&set);
	/* a disk, and a base named inside an image the user may read */
	def.ndisks = 1;
	def.cdrom[0] = '\0';
	CHECK(chmod(tmpdir, 0711) == 0 && chmod(top, 0666) == 0);
	CHECK(config_openvm(&def, &params, &nobody, VMOP_CREATE_DISK, &set,
	    reason, sizeof(reason)) == EACCES);
	CHECK(strstr(reason, "raw.img") != NULL);
	(void)snprintf(def.disk[0].path, sizeof(def.disk[0].path), "%s", top);
	def.disk[0].format = VMDF_QCOW2;
	CHECK(config_openvm(&def, &params, &nobody, VMOP_CREATE_DISK, &set,
	    reason, sizeof(reason)) == EACCES);
	CHECK(strstr(reason, "base.qcow2") != NULL);
	CHECK(config_openvm(&def, &params, &root, VMOP_CREATE_DISK, &set,
	    reason, sizeof(reason)) == 0);
	vmop_fdset_close(&set);
	CHECK(chmod(tmpdir, 0700) == 0);
	CHECK(count_fds(getpid()) == fdbase);
	/* and the parent is root again */
	CHECK(setfsuid(-1) == 0);
}

/*
 * A peer: send one message with an optional descriptor, read one back.
 * Returns the type, or -1 when nothing came within a few seconds.
 */
static int
peer_send(struct imsgbuf *ib, uint32_t type, int fd, const void *data,
    size_t len)
{
	if (imsg_compose(ib, type, 0, 0, fd, data, len) == -1)
		return (-1);
	return (imsgbuf_flush(ib));
}

static int
peer_read(struct imsgbuf *ib, struct imsg *imsg, int ms)
{
	struct pollfd	 pfd = { ib->fd, POLLIN, 0 };
	ssize_t		 n;

	for (;;) {
		if ((n = imsg_get(ib, imsg)) > 0)
			return (0);
		if (n == -1 || poll(&pfd, 1, ms) != 1)
			return (-1);
		if ((n = imsgbuf_read(ib)) <= 0)
			return (-1);
	}
}

/* The next message but log lines, whose text goes to text. */
static int
peer_next(struct imsgbuf *ib, struct imsg *imsg, char *text, size_t len)
{
	struct vmop_log	 vl;
	char		 buf[VMD_LOG_TEXT_MAX + 1];

	for (;;) {
		if (peer_read(ib, imsg, 5000) == -1)
			return (-1);
		if (imsg_get_type(imsg) != IMSG_LOG)
			return (0);
		if (proc_log_parse(imsg, &vl, buf, sizeof(buf)) == 0 &&
		    text != NULL)
			(void)snprintf(text, len, "%s", buf);
		imsg_free(imsg);
	}
}

static pid_t
spawn_vmm(int *peer)
{
	struct proc_env	 env;
	int		 sp[2], exe;
	pid_t		 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		return (-1);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((exe = open("/proc/self/exe", O_RDONLY)) == -1 ||
		    dup2(sp[1], PROC_PARENT_FD) == -1 ||
		    dup2(exe, PROC_EXE_FD) == -1)
			_exit(2);
		proc_env_init(&env, 1, 0);
		env.role = proc_role_find("vmm");
		vmm_run(&env);
	}
	close(sp[1]);
	*peer = sp[0];
	return (pid);
}

struct bad_start {
	const char	*name;
	struct vmop_fd	 fds[4];	/* kind NKINDS ends */
	int		 nofd;		/* the last one comes without fd */
	uint32_t	 counts[VMOP_FD_NKINDS];
	const char	*reason;
};

/* A fake parent feeds a real vmm hostile starts. */
static void
vmm_hostile(void)
{
	static const struct bad_start	 cases[] = {
		{ "dup", { { 1, VMOP_FD_KVM, 0, 0 }, { 1, VMOP_FD_KVM, 0, 0 },
		    { 1, VMOP_FD_NKINDS, 0, 0 } }, 0, { 1 }, "sent twice" },
		{ "range", { { 2, VMOP_FD_DISK, 7, 0 },
		    { 2, VMOP_FD_NKINDS, 0, 0 } }, 0, { 0 }, "out of range" },
		{ "nofd", { { 3, VMOP_FD_KERNEL, 0, 0 },
		    { 3, VMOP_FD_NKINDS, 0, 0 } }, 1, { 0, 1 },
		    "without a descriptor" },
		{ "missing", { { 4, VMOP_FD_KVM, 0, 0 },
		    { 4, VMOP_FD_NKINDS, 0, 0 } }, 0, { 1, 1 },
		    "missing kernel" },
		{ "extra", { { 5, VMOP_FD_KVM, 0, 0 },
		    { 5, VMOP_FD_CDROM, 0, 0 }, { 5, VMOP_FD_NKINDS, 0, 0 } },
		    0, { 1 }, "unexpected cdrom" },
		{ "kind", { { 6, 200, 0, 0 }, { 6, VMOP_FD_NKINDS, 0, 0 } },
		    0, { 1 }, "incomplete start request" },
	};
	static struct vmop_create_params vmc;
	struct vmop_result		 vmr;
	struct imsgbuf			 ib;
	struct imsg			 imsg;
	const struct bad_start		*c;
	size_t				 i, j;
	int				 peer, base, fd;
	pid_t				 pid;

	if ((pid = spawn_vmm(&peer)) == -1) {
		CHECK(pid != -1);
		return;
	}
	CHECK(imsgbuf_init(&ib, peer) == 0);
	imsgbuf_allow_fdpass(&ib);
	usleep(200000);
	base = count_fds(pid);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		for (j = 0; c->fds[j].vmf_kind != VMOP_FD_NKINDS; j++) {
			fd = c->nofd && c->fds[j + 1].vmf_kind ==
			    VMOP_FD_NKINDS ? -1 : devnull();
			CHECK(peer_send(&ib, IMSG_VMDOP_START_VM_FD, fd,
			    &c->fds[j], sizeof(c->fds[j])) == 0);
		}
		memset(&vmc, 0, sizeof(vmc));
		vmc.vmc_id = c->fds[0].vmf_id;
		(void)snprintf(vmc.vmc_name, sizeof(vmc.vmc_name), "t%zu", i);
		memcpy(vmc.vmc_fds.vf_count, c->counts, sizeof(c->counts));
		CHECK(peer_send(&ib, IMSG_VMDOP_START_VM_END, -1, &vmc,
		    sizeof(vmc)) == 0);
		if (peer_next(&ib, &imsg, NULL, 0) == -1) {
			printf("# %s: no answer\n", c->name);
			CHECK(0);
			continue;
		}
		CHECK(imsg_get_type(&imsg) == IMSG_VMDOP_TERMINATE_VM_EVENT);
		if (imsg_get_data(&imsg, &vmr, sizeof(vmr)) == 0) {
			CHECK(vmr.vmr_id == vmc.vmc_id);
			CHECK(vmr.vmr_state == VM_END_ERROR);
			if (strstr(vmr.vmr_reason, c->reason) == NULL) {
				printf("# %s: %s\n", c->name, vmr.vmr_reason);
				CHECK(0);
			}
		}
		imsg_free(&imsg);
	}
	/* every descriptor of the refused starts was closed */
	CHECK(count_fds(pid) == base);
	CHECK(kill(pid, 0) == 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	imsgbuf_clear(&ib);
	close(peer);
}

/*
 * A fake vmm feeds a real vm process a start that misplaces its
 * descriptors, or gives it a disk: it says why it cannot start.
 */
static uint32_t	start_ncpus = 1;

static void
vm_start_case(const char *name, const struct vmop_fd *fds, size_t nfds,
    const struct vmop_fds *counts, const char *want)
{
	static struct vmop_create_params vmc;
	struct vmop_result		 vmr;
	struct imsgbuf			 ib;
	struct imsg			 imsg;
	char				 text[VMD_LOG_TEXT_MAX + 1] = "";
	size_t				 i;
	int				 sp[2], status, got = 0;
	pid_t				 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		return;
	fflush(stdout);
	if ((pid = fork()) == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sp[0]);
		vm_main(sp[1], "t1");
	}
	close(sp[1]);
	CHECK(imsgbuf_init(&ib, sp[0]) == 0);
	imsgbuf_allow_fdpass(&ib);
	for (i = 0; i < nfds; i++)
		CHECK(peer_send(&ib, IMSG_VMDOP_START_VM_FD, devnull(),
		    &fds[i], sizeof(fds[i])) == 0);
	memset(&vmc, 0, sizeof(vmc));
	vmc.vmc_id = 1;
	vmc.vmc_memsize = 32 << 20;
	vmc.vmc_ncpus = start_ncpus;
	(void)snprintf(vmc.vmc_name, sizeof(vmc.vmc_name), "t1");
	vmc.vmc_fds = *counts;
	CHECK(peer_send(&ib, IMSG_VMDOP_START_VM_END, -1, &vmc,
	    sizeof(vmc)) == 0);
	/* a fatal comes as a log line; a refusal as a failed start */
	if (peer_next(&ib, &imsg, text, sizeof(text)) == 0) {
		if (imsg_get_type(&imsg) == IMSG_VMDOP_VM_STARTED &&
		    imsg_get_data(&imsg, &vmr, sizeof(vmr)) == 0) {
			CHECK(vmr.vmr_result != 0);
			(void)snprintf(text, sizeof(text), "%s",
			    vmr.vmr_reason);
		}
		imsg_free(&imsg);
	}
	got = strstr(text, want) != NULL;
	if (!got)
		printf("# vm %s: \"%s\"\n", name, text);
	CHECK(got);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0);
	imsgbuf_clear(&ib);
	close(sp[0]);
}

static void
vm_hostile(void)
{
	struct vmop_fds		 counts;
	struct vmop_fd		 f[6];

	memset(&counts, 0, sizeof(counts));
	f[0] = vmf(VMOP_FD_KVM, 0, 0);
	f[1] = vmf(VMOP_FD_KVM, 0, 0);
	counts.vf_count[VMOP_FD_KVM] = 1;
	vm_start_case("twice", f, 2, &counts, "sent twice");
	f[1] = vmf(VMOP_FD_TTY_SLAVE, 3, 0);
	vm_start_case("range", f, 2, &counts, "out of range");
	/* complete, but not what a vm process may hold */
	f[1] = vmf(VMOP_FD_KERNEL, 0, 0);
	f[2] = vmf(VMOP_FD_TTY_MASTER, 0, 0);
	f[3] = vmf(VMOP_FD_TTY_SLAVE, 0, 0);
	f[4] = vmf(VMOP_FD_DISK, 0, 0);
	counts.vf_count[VMOP_FD_KERNEL] = 1;
	counts.vf_count[VMOP_FD_TTY_MASTER] = 1;
	counts.vf_count[VMOP_FD_TTY_SLAVE] = 1;
	counts.vf_count[VMOP_FD_DISK] = 1;
	counts.vf_disk[0].vd_nimages = 1;
	counts.vf_disk[0].vd_format = VMOP_DISK_RAW;
	vm_start_case("disk", f, 5, &counts, "belong to device processes");
	/* vmd never sends a count out of range; a vm process checks anyway */
	counts.vf_count[VMOP_FD_DISK] = 0;
	memset(&counts.vf_disk[0], 0, sizeof(counts.vf_disk[0]));
	start_ncpus = 0;
	vm_start_case("vcpus0", f, 4, &counts, "vcpu count 0 out of range");
	start_ncpus = VM_MAX_VCPUS + 1;
	vm_start_case("vcpus65", f, 4, &counts, "vcpu count 65 out of range");
	start_ncpus = 1;
	counts.vf_count[VMOP_FD_DISK] = 1;
	counts.vf_disk[0].vd_nimages = 1;
	counts.vf_disk[0].vd_format = VMOP_DISK_RAW;
	counts.vf_count[VMOP_FD_INITRD] = 1;
	vm_start_case("missing", f, 5, &counts, "missing initrd");
}

int
main(void)
{
	char	 cmd[PATH_MAX + 16];

	log_init(1, LOG_DAEMON);
	(void)snprintf(tmpdir, sizeof(tmpdir), "%s/start_test.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return (1);
	}
	RUN(fdset_put);
	RUN(fdset_complete);
	RUN(msg_table);
	RUN(openvm);
	RUN(vmm_hostile);
	RUN(vm_hostile);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void)system(cmd);
	TEST_EXIT();
}
