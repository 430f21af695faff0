/*
 * msg.c: the one table of vmd's messages: for each type, its name, the
 * size of what it carries, the channels it may travel (MSG_* in vmd.h)
 * and the check of its contents (every string NUL-terminated within its
 * array, only known flags and enum values, counts within vmd's limits).
 * Every dispatcher passes each message through msg_check (msg_ok in
 * proc.c) before it reads a byte of it, and the fuzzers in regress/fuzz
 * call the same function, so what they try is what runs.  Here too are
 * the descriptors of a VM's start (vmop_fdset): where each kind, index
 * and image is filed and what a complete start holds.  All of it is pure
 * (no I/O but closing refused descriptors, no state, no allocation) and
 * must never read outside the buffer it is given; it decides nothing
 * about permissions, which are perm.c's.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "vmd.h"
#include "devproc.h"

#define MSG_CREATE_FLAGS	(VMOP_CREATE_KERNEL | VMOP_CREATE_MEMORY | \
				 VMOP_CREATE_CMDLINE | VMOP_CREATE_NETWORK | \
				 VMOP_CREATE_DISK | VMOP_CREATE_CDROM | \
				 VMOP_CREATE_INSTANCE | VMOP_CREATE_INITRD | \
				 VMOP_CREATE_VCPUS)
#define MSG_ID_FLAGS		(VMOP_WAIT | VMOP_FORCE)
#define MSG_VERBOSE_MAX		8	/* more -v than anybody reads */

#define MSG_PAUSE_LINKS		(MSG_CLIENT | MSG_PARENT_VMM | MSG_VMM_VM)
#define MSG_PAUSED_LINKS	(MSG_REPLY | MSG_VMM_PARENT | MSG_VM_VMM)

typedef int	(*msg_check_fn)(uint32_t, const void *, size_t, char *,
		    size_t);

struct msg_def {
	const char	*name;
	size_t		 len;	/* the exact size, or the least with max */
	size_t		 max;	/* 0: exactly len */
	uint32_t	 links;	/* MSG_*: where it may travel */
	msg_check_fn	 check;	/* contents, once the size is right */
};

static int	 chk_create(uint32_t, const void *, size_t, char *, size_t);
static int	 chk_id(uint32_t, const void *, size_t, char *, size_t);
static int	 chk_result(uint32_t, const void *, size_t, char *, size_t);
static int	 chk_info(uint32_t, const void *, size_t, char *, size_t);
static int	 chk_path(uint32_t, const void *, size_t, char *, size_t);
static int	 chk_reset(uint32_t, const void *, size_t, char *, size_t);
static int	 chk_verbose(uint32_t, const void *, size_t, char *, size_t);
static int	 chk_fd(uint32_t, const void *, size_t, char *, size_t);
static int	 chk_priv_cleanup(uint32_t, const void *, size_t, char *,
		    size_t);
static int	 chk_priv_tap(uint32_t, const void *, size_t, char *, size_t);
static int	 chk_priv_result(uint32_t, const void *, size_t, char *,
		    size_t);
static int	 chk_dev_start(uint32_t, const void *, size_t, char *, size_t);
static int	 chk_dev_mem(uint32_t, const void *, size_t, char *, size_t);
static int	 chk_dev_qfd(uint32_t, const void *, size_t, char *, size_t);
static int	 chk_dev_cfgw(uint32_t, const void *, size_t, char *, size_t);
static int	 chk_dev_ready(uint32_t, const void *, size_t, char *, size_t);
static int	 chk_dev_error(uint32_t, const void *, size_t, char *, size_t);

#define SZ(t)	sizeof(struct t)

static const struct msg_def msg_defs[IMSG_MAX] = {
	[IMSG_VMDOP_START_VM_REQUEST] = { "start request",
	    SZ(vmop_create_params), 0, MSG_CLIENT, chk_create },
	[IMSG_VMDOP_START_VM_RESPONSE] = { "start response",
	    SZ(vmop_result), 0, MSG_REPLY, chk_result },
	[IMSG_VMDOP_TERMINATE_VM_REQUEST] = { "stop request",
	    SZ(vmop_id), 0, MSG_CLIENT, chk_id },
	[IMSG_VMDOP_TERMINATE_VM_RESPONSE] = { "stop response",
	    SZ(vmop_result), 0, MSG_REPLY, chk_result },
	[IMSG_VMDOP_WAIT_VM_REQUEST] = { "wait request",
	    SZ(vmop_id), 0, MSG_CLIENT, chk_id },
	[IMSG_VMDOP_WAIT_VM_RESPONSE] = { "wait response",
	    SZ(vmop_result), 0, MSG_REPLY, chk_result },
	[IMSG_VMDOP_GET_INFO_VM_REQUEST] = { "status request",
	    0, 0, MSG_CLIENT, NULL },
	[IMSG_VMDOP_GET_INFO_VM_DATA] = { "status",
	    SZ(vmop_info_result), 0, MSG_REPLY, chk_info },
	[IMSG_VMDOP_GET_INFO_VM_END_DATA] = { "status end",
	    0, 0, MSG_REPLY, NULL },
	[IMSG_CTL_FAIL] = { "failure",
	    SZ(vmop_result), 0, MSG_REPLY, chk_result },
	[IMSG_VMDOP_PAUSE_VM] = { "pause",
	    SZ(vmop_id), 0, MSG_PAUSE_LINKS, chk_id },
	[IMSG_VMDOP_PAUSE_VM_RESPONSE] = { "pause response",
	    SZ(vmop_result), 0, MSG_PAUSED_LINKS, chk_result },
	[IMSG_VMDOP_UNPAUSE_VM] = { "unpause",
	    SZ(vmop_id), 0, MSG_PAUSE_LINKS, chk_id },
	[IMSG_VMDOP_UNPAUSE_VM_RESPONSE] = { "unpause response",
	    SZ(vmop_result), 0, MSG_PAUSED_LINKS, chk_result },
	[IMSG_VMDOP_LOAD] = { "load",
	    SZ(vmop_path), 0, MSG_CLIENT, chk_path },
	[IMSG_VMDOP_RELOAD] = { "reload",
	    0, 0, MSG_CLIENT, NULL },
	[IMSG_CTL_RESET] = { "reset",
	    SZ(vmop_reset), 0, MSG_CLIENT, chk_reset },
	[IMSG_CTL_VERBOSE] = { "log level",
	    sizeof(int32_t), 0, MSG_CLIENT | MSG_PARENT_CONTROL |
	    MSG_PARENT_VMM | MSG_VMM_VM | MSG_VMM_DEV | MSG_PARENT_PRIV,
	    chk_verbose },
	[IMSG_CTL_OK] = { "done",
	    SZ(vmop_result), 0, MSG_REPLY, chk_result },
	[IMSG_CTL_CLIENT_GONE] = { "client gone",
	    0, 0, MSG_CONTROL_PARENT, NULL },
	[IMSG_VMDOP_START_VM_FD] = { "start descriptor",
	    SZ(vmop_fd), 0, MSG_PARENT_VMM | MSG_VMM_VM | MSG_VMM_DEV,
	    chk_fd },
	[IMSG_VMDOP_START_VM_END] = { "start",
	    SZ(vmop_create_params), 0, MSG_PARENT_VMM | MSG_VMM_VM,
	    chk_create },
	[IMSG_VMDOP_VM_STARTED] = { "started",
	    SZ(vmop_result), 0, MSG_VM_VMM | MSG_VMM_PARENT, chk_result },
	[IMSG_VMDOP_VM_TERMINATE] = { "terminate",
	    SZ(vmop_id), 0, MSG_PARENT_VMM, chk_id },
	[IMSG_VMDOP_TERMINATE_VM_EVENT] = { "ended",
	    SZ(vmop_result), 0, MSG_VM_VMM | MSG_VMM_PARENT, chk_result },
	[IMSG_VMDOP_VM_REBOOT] = { "reboot",
	    SZ(vmop_id), 0, MSG_VM_VMM | MSG_VMM_PARENT, chk_id },
	[IMSG_VMDOP_VM_SHUTDOWN] = { "shutdown",
	    SZ(vmop_id), 0, MSG_PARENT_VMM | MSG_VMM_VM, chk_id },
	[IMSG_VMDOP_VM_SHUTDOWN_RESPONSE] = { "shutdown response",
	    SZ(vmop_result), 0, MSG_VM_VMM | MSG_VMM_PARENT, chk_result },
	/* proc_log_parse reads the text */
	[IMSG_LOG] = { "log line",
	    SZ(vmop_log) + 1, SZ(vmop_log) + VMD_LOG_TEXT_MAX,
	    MSG_CONTROL_PARENT | MSG_VMM_PARENT | MSG_VM_VMM | MSG_DEV_VMM |
	    MSG_PRIV_PARENT, NULL },
	[IMSG_PRIV_CLEANUP] = { "tap cleanup",
	    SZ(priv_cleanup), 0, MSG_PARENT_PRIV, chk_priv_cleanup },
	[IMSG_PRIV_TAP] = { "tap request",
	    SZ(priv_tap), 0, MSG_PARENT_PRIV, chk_priv_tap },
	[IMSG_PRIV_RESULT] = { "tap result",
	    SZ(priv_result), 0, MSG_PRIV_PARENT, chk_priv_result },
	[IMSG_DEVOP_START] = { "device start",
	    SZ(devop_start), 0, MSG_VMM_DEV, chk_dev_start },
	[IMSG_DEVOP_READY] = { "device ready",
	    SZ(devop_ready), 0, MSG_DEV_VM, chk_dev_ready },
	[IMSG_DEVOP_MEM] = { "guest memory",
	    SZ(devop_mem), 0, MSG_VM_DEV, chk_dev_mem },
	[IMSG_DEVOP_QUEUE_FD] = { "queue descriptor",
	    SZ(devop_queue_fd), 0, MSG_VM_DEV, chk_dev_qfd },
	/* virtq_init checks every field against the RAM it maps */
	[IMSG_DEVOP_QUEUE] = { "queue",
	    SZ(virtq_state), 0, MSG_VM_DEV | MSG_DEV_VM, NULL },
	[IMSG_DEVOP_RESET] = { "device reset",
	    SZ(devop_ctl), 0, MSG_VM_DEV, NULL },
	[IMSG_DEVOP_PAUSE] = { "device pause",
	    SZ(devop_ctl), 0, MSG_VM_DEV, NULL },
	[IMSG_DEVOP_RESUME] = { "device resume",
	    SZ(devop_ctl), 0, MSG_VM_DEV, NULL },
	[IMSG_DEVOP_ACK] = { "device answer",
	    SZ(devop_ctl), 0, MSG_DEV_VM, NULL },
	[IMSG_DEVOP_CONFIG_WRITE] = { "config write",
	    SZ(devop_config_write), 0, MSG_VM_DEV, chk_dev_cfgw },
	[IMSG_DEVOP_CONFIG] = { "config changed",
	    SZ(devop_ready), 0, MSG_DEV_VM, chk_dev_ready },
	[IMSG_DEVOP_NEEDS_RESET] = { "queue broken",
	    SZ(devop_error), 0, MSG_DEV_VM, chk_dev_error },
};

static int
str_ok(const char *s, size_t len)
{
	return (memchr(s, '\0', len) != NULL);
}

static int
bad(char *reason, size_t rlen, uint32_t link, const char *what)
{
	if (reason != NULL && rlen > 0)
		(void)snprintf(reason, rlen, "malformed %s: %s",
		    link == MSG_CLIENT ? "request" : "message", what);
	return (EINVAL);
}

/*
 * Returns 0 when a message of type may travel link (one MSG_* bit) with
 * these len bytes, else an errno value (EOPNOTSUPP: unknown here,
 * EINVAL: malformed) with reason filled in.  data may be NULL when len
 * is 0.
 */
int
msg_check(uint32_t link, uint32_t type, const void *data, size_t len,
    char *reason, size_t rlen)
{
	const struct msg_def	*d;

	if (type >= IMSG_MAX || msg_defs[type].name == NULL ||
	    (msg_defs[type].links & link) == 0) {
		if (reason != NULL && rlen > 0)
			(void)snprintf(reason, rlen, "%s",
			    link == MSG_CLIENT ? "unknown request" :
			    "unexpected message");
		return (EOPNOTSUPP);
	}
	d = &msg_defs[type];
	if (d->max == 0 ? len != d->len : len < d->len || len > d->max)
		return (bad(reason, rlen, link, "wrong size"));
	if (len > 0 && data == NULL)
		return (bad(reason, rlen, link, "no data"));
	if (d->check != NULL)
		return (d->check(link, data, len, reason, rlen));
	return (0);
}

/* For log lines: "start descriptor", or "message 77". */
const char *
msg_name(uint32_t type)
{
	static __thread char	 buf[32];

	if (type < IMSG_MAX && msg_defs[type].name != NULL)
		return (msg_defs[type].name);
	(void)snprintf(buf, sizeof(buf), "message %u", type);
	return (buf);
}

/* The interfaces of a start: strings ended, known flags, a sane count. */
static int
nic_ok(const struct vmop_nic *n)
{
	return (str_ok(n->vn_switch, sizeof(n->vn_switch)) &&
	    str_ok(n->vn_ifname, sizeof(n->vn_ifname)) &&
	    (n->vn_flags & ~VMOP_NIC_FLAGS) == 0);
}

static int
chk_create(uint32_t link, const void *data, size_t len, char *reason,
    size_t rlen)
{
	static const struct vmop_fds	 none;
	struct vmop_create_params	 vmc;
	uint32_t			 i;

	memcpy(&vmc, data, sizeof(vmc));
	if (!str_ok(vmc.vmc_name, sizeof(vmc.vmc_name)) ||
	    !str_ok(vmc.vmc_instance, sizeof(vmc.vmc_instance)) ||
	    !str_ok(vmc.vmc_kernel, sizeof(vmc.vmc_kernel)) ||
	    !str_ok(vmc.vmc_initrd, sizeof(vmc.vmc_initrd)) ||
	    !str_ok(vmc.vmc_cmdline, sizeof(vmc.vmc_cmdline)) ||
	    !str_ok(vmc.vmc_ttyname, sizeof(vmc.vmc_ttyname)) ||
	    !str_ok(vmc.vmc_cdrom, sizeof(vmc.vmc_cdrom)))
		return (bad(reason, rlen, link, "unterminated string"));
	if (vmc.vmc_cdrom[0] != '\0' && vmc.vmc_cdrom[0] != '/')
		return (bad(reason, rlen, link, "bad cdrom"));
	if (vmc.vmc_bootdevice > VMBOOTDEV_NET)
		return (bad(reason, rlen, link, "unknown boot device"));
	if (vmc.vmc_ndisks > VM_MAX_DISKS)
		return (bad(reason, rlen, link, "too many disks"));
	for (i = 0; i < VM_MAX_DISKS; i++) {
		if (!str_ok(vmc.vmc_disks[i], sizeof(vmc.vmc_disks[i])))
			return (bad(reason, rlen, link,
			    "unterminated string"));
		if (i < vmc.vmc_ndisks &&
		    (vmc.vmc_disks[i][0] != '/' ||
		    (vmc.vmc_disktypes[i] != VMOP_DISK_RAW &&
		    vmc.vmc_disktypes[i] != VMOP_DISK_QCOW2)))
			return (bad(reason, rlen, link, "bad disk"));
	}
	if (vmc.vmc_nnics > VM_MAX_NICS)
		return (bad(reason, rlen, link, "too many interfaces"));
	for (i = 0; i < VM_MAX_NICS; i++)
		if (!nic_ok(&vmc.vmc_nics[i]))
			return (bad(reason, rlen, link, "bad interface"));
	if (link == MSG_CLIENT) {
		if (vmc.vmc_flags & ~MSG_CREATE_FLAGS)
			return (bad(reason, rlen, link, "unknown flags"));
		/* The parent says what descriptors a VM gets. */
		if (memcmp(&vmc.vmc_fds, &none, sizeof(none)) != 0)
			return (bad(reason, rlen, link, "descriptors"));
		return (0);
	}
	if (vmop_fds_check(&vmc.vmc_fds, reason, rlen) != 0)
		return (EINVAL);
	return (0);
}

static int
chk_id(uint32_t link, const void *data, size_t len, char *reason,
    size_t rlen)
{
	struct vmop_id	 vid;

	memcpy(&vid, data, sizeof(vid));
	if (!str_ok(vid.vid_name, sizeof(vid.vid_name)))
		return (bad(reason, rlen, link, "unterminated name"));
	if (vid.vid_flags & ~MSG_ID_FLAGS)
		return (bad(reason, rlen, link, "unknown flags"));
	return (0);
}

static int
chk_result(uint32_t link, const void *data, size_t len, char *reason,
    size_t rlen)
{
	struct vmop_result	 vmr;

	memcpy(&vmr, data, sizeof(vmr));
	if (!str_ok(vmr.vmr_ttyname, sizeof(vmr.vmr_ttyname)) ||
	    !str_ok(vmr.vmr_reason, sizeof(vmr.vmr_reason)))
		return (bad(reason, rlen, link, "unterminated string"));
	return (0);
}

static int
chk_info(uint32_t link, const void *data, size_t len, char *reason,
    size_t rlen)
{
	struct vmop_info_result	 vir;

	memcpy(&vir, data, sizeof(vir));
	if (!str_ok(vir.vir_name, sizeof(vir.vir_name)) ||
	    !str_ok(vir.vir_ttyname, sizeof(vir.vir_ttyname)))
		return (bad(reason, rlen, link, "unterminated string"));
	return (0);
}

static int
chk_path(uint32_t link, const void *data, size_t len, char *reason,
    size_t rlen)
{
	struct vmop_path	 vp;

	memcpy(&vp, data, sizeof(vp));
	if (!str_ok(vp.vp_path, sizeof(vp.vp_path)))
		return (bad(reason, rlen, link, "unterminated path"));
	if (vp.vp_path[0] == '\0')
		return (bad(reason, rlen, link, "empty path"));
	return (0);
}

static int
chk_reset(uint32_t link, const void *data, size_t len, char *reason,
    size_t rlen)
{
	struct vmop_reset	 vr;

	memcpy(&vr, data, sizeof(vr));
	if (vr.vr_what > VMOP_RESET_VMS)
		return (bad(reason, rlen, link, "unknown reset"));
	return (0);
}

static int
chk_verbose(uint32_t link, const void *data, size_t len, char *reason,
    size_t rlen)
{
	int32_t		 level;

	memcpy(&level, data, sizeof(level));
	if (level < 0 || level > MSG_VERBOSE_MAX)
		return (bad(reason, rlen, link, "bad log level"));
	return (0);
}

static int
chk_fd(uint32_t link, const void *data, size_t len, char *reason,
    size_t rlen)
{
	struct vmop_fd	 vmf;

	memcpy(&vmf, data, sizeof(vmf));
	if (vmf.vmf_kind >= VMOP_FD_NKINDS)
		return (bad(reason, rlen, link, "unknown descriptor kind"));
	return (0);
}

static int
chk_priv_cleanup(uint32_t link, const void *data, size_t len, char *reason,
    size_t rlen)
{
	struct priv_cleanup	 pc;

	memcpy(&pc, data, sizeof(pc));
	if (!str_ok(pc.pc_tag, sizeof(pc.pc_tag)))
		return (bad(reason, rlen, link, "unterminated tag"));
	return (0);
}

static int
chk_priv_tap(uint32_t link, const void *data, size_t len, char *reason,
    size_t rlen)
{
	struct priv_tap	 pt;

	memcpy(&pt, data, sizeof(pt));
	if (!str_ok(pt.pt_vmname, sizeof(pt.pt_vmname)) ||
	    !str_ok(pt.pt_tag, sizeof(pt.pt_tag)) ||
	    !str_ok(pt.pt_ifname, sizeof(pt.pt_ifname)) ||
	    !str_ok(pt.pt_bridge, sizeof(pt.pt_bridge)))
		return (bad(reason, rlen, link, "unterminated string"));
	if ((pt.pt_flags & ~PRIV_TAP_FLAGS) != 0 || pt.pt_len4 > 32 ||
	    pt.pt_len6 > 128 || pt.pt_index >= VM_MAX_NICS)
		return (bad(reason, rlen, link, "bad field"));
	return (0);
}

static int
chk_priv_result(uint32_t link, const void *data, size_t len, char *reason,
    size_t rlen)
{
	struct priv_result	 pr;

	memcpy(&pr, data, sizeof(pr));
	if (!str_ok(pr.pr_ifname, sizeof(pr.pr_ifname)) ||
	    !str_ok(pr.pr_reason, sizeof(pr.pr_reason)))
		return (bad(reason, rlen, link, "unterminated string"));
	return (0);
}

static int
chk_dev_start(uint32_t link, const void *data, size_t len, char *reason,
    size_t rlen)
{
	struct devop_start	 ds;

	memcpy(&ds, data, sizeof(ds));
	if (!str_ok(ds.ds_vmname, sizeof(ds.ds_vmname)) ||
	    ds.ds_vmname[0] == '\0')
		return (bad(reason, rlen, link, "bad vm name"));
	if (!nic_ok(&ds.ds_nic))
		return (bad(reason, rlen, link, "bad interface"));
	if (vmop_fds_check(&ds.ds_fds, reason, rlen) != 0)
		return (EINVAL);
	return (0);
}

static int
chk_dev_mem(uint32_t link, const void *data, size_t len, char *reason,
    size_t rlen)
{
	struct devop_mem	 dm;

	memcpy(&dm, data, sizeof(dm));
	if (dm.dm_nranges == 0 || dm.dm_nranges > DEVOP_MAX_RANGES)
		return (bad(reason, rlen, link, "memory ranges"));
	return (0);
}

static int
chk_dev_qfd(uint32_t link, const void *data, size_t len, char *reason,
    size_t rlen)
{
	struct devop_queue_fd	 dq;

	memcpy(&dq, data, sizeof(dq));
	if (dq.dq_queue >= DEVOP_MAX_QUEUES || dq.dq_which > DEVOP_FD_CALL)
		return (bad(reason, rlen, link, "queue descriptor"));
	return (0);
}

static int
chk_dev_cfgw(uint32_t link, const void *data, size_t len, char *reason,
    size_t rlen)
{
	struct devop_config_write	 dw;

	memcpy(&dw, data, sizeof(dw));
	if (dw.dw_len != 1 && dw.dw_len != 2 && dw.dw_len != 4 &&
	    dw.dw_len != 8)
		return (bad(reason, rlen, link, "config write size"));
	return (0);
}

static int
chk_dev_ready(uint32_t link, const void *data, size_t len, char *reason,
    size_t rlen)
{
	struct devop_ready	 dr;

	memcpy(&dr, data, sizeof(dr));
	if (dr.dr_nqueues == 0 || dr.dr_nqueues > DEVOP_MAX_QUEUES ||
	    dr.dr_config_len > DEVOP_CONFIG_MAX)
		return (bad(reason, rlen, link, "device description"));
	return (0);
}

static int
chk_dev_error(uint32_t link, const void *data, size_t len, char *reason,
    size_t rlen)
{
	struct devop_error	 de;

	memcpy(&de, data, sizeof(de));
	if (!str_ok(de.de_reason, sizeof(de.de_reason)) ||
	    de.de_queue >= DEVOP_MAX_QUEUES)
		return (bad(reason, rlen, link, "queue error"));
	return (0);
}

/*
 * The descriptors of a start.  Each kind has a number of indexes, each
 * index a number of images (disks: the chain), each of those one slot.
 */
struct vmop_kind {
	const char	*name;
	uint32_t	 nindex;
	uint32_t	 nimage;
	uint32_t	 base;		/* first slot */
};

#define K_CDROM		5
#define K_DISK		(K_CDROM + VM_MAX_CDROMS)
#define K_TAP		(K_DISK + VM_MAX_DISKS * VM_MAX_DISK_CHAIN)
#define K_VIOBLK	(K_TAP + VM_MAX_NICS)
#define K_VIONET	(K_VIOBLK + VM_MAX_DISKS)

static const struct vmop_kind vmop_kinds[VMOP_FD_NKINDS] = {
	[VMOP_FD_KVM] =		{ "/dev/kvm", 1, 1, 0 },
	[VMOP_FD_KERNEL] =	{ "kernel", 1, 1, 1 },
	[VMOP_FD_INITRD] =	{ "initrd", 1, 1, 2 },
	[VMOP_FD_TTY_MASTER] =	{ "console master", 1, 1, 3 },
	[VMOP_FD_TTY_SLAVE] =	{ "console slave", 1, 1, 4 },
	[VMOP_FD_CDROM] =	{ "cdrom", VM_MAX_CDROMS, 1, K_CDROM },
	[VMOP_FD_DISK] =	{ "disk", VM_MAX_DISKS, VM_MAX_DISK_CHAIN,
				    K_DISK },
	[VMOP_FD_TAP] =		{ "tap", VM_MAX_NICS, 1, K_TAP },
	[VMOP_FD_VIOBLK] =	{ "vioblk channel", VM_MAX_DISKS, 1,
				    K_VIOBLK },
	[VMOP_FD_VIONET] =	{ "vionet channel", VM_MAX_NICS, 1,
				    K_VIONET },
};

_Static_assert(sizeof(struct vmop_create_params) + IMSG_HEADER_SIZE <=
    MAX_IMSGSIZE, "a start request fits one message");
_Static_assert(K_VIONET + VM_MAX_NICS == VMOP_FD_SLOTS,
    "vmd.h's VMOP_FD_SLOTS counts every slot of vmop_kinds");

const char *
vmop_fd_kind_name(uint32_t kind)
{
	return (kind < VMOP_FD_NKINDS ? vmop_kinds[kind].name : "unknown");
}

/* The slot of (kind, index, image), or -1 when there is no such place. */
static int
vmop_slot(uint32_t kind, uint32_t index, uint32_t image)
{
	const struct vmop_kind	*k;

	if (kind >= VMOP_FD_NKINDS)
		return (-1);
	k = &vmop_kinds[kind];
	if (index >= k->nindex || image >= k->nimage)
		return (-1);
	return ((int)(k->base + index * k->nimage + image));
}

/* How many images index of kind has, as fds says: its chain, or 1. */
uint32_t
vmop_fds_images(const struct vmop_fds *fds, uint32_t kind, uint32_t index)
{
	if (kind == VMOP_FD_DISK)
		return (index < VM_MAX_DISKS ?
		    fds->vf_disk[index].vd_nimages : 0);
	return (1);
}

/*
 * Are the counts within vmd's limits?  Each kind at most its indexes,
 * each disk counted a chain of 1 to VM_MAX_DISK_CHAIN images in a known
 * format, and nothing said about disks not counted.  0, or -1 with err.
 */
int
vmop_fds_check(const struct vmop_fds *fds, char *err, size_t errlen)
{
	static const struct vmop_disk	 none;
	const struct vmop_disk		*d;
	uint32_t			 kind, i;

	for (kind = 0; kind < VMOP_FD_NKINDS; kind++) {
		if (fds->vf_count[kind] > vmop_kinds[kind].nindex) {
			(void)snprintf(err, errlen, "%u %ss, at most %u",
			    fds->vf_count[kind], vmop_kinds[kind].name,
			    vmop_kinds[kind].nindex);
			return (-1);
		}
	}
	for (i = 0; i < VM_MAX_DISKS; i++) {
		d = &fds->vf_disk[i];
		if (i >= fds->vf_count[VMOP_FD_DISK]) {
			if (memcmp(d, &none, sizeof(none)) != 0) {
				(void)snprintf(err, errlen, "disk %u "
				    "described but not counted", i);
				return (-1);
			}
			continue;
		}
		if (d->vd_nimages == 0 || d->vd_nimages > VM_MAX_DISK_CHAIN) {
			(void)snprintf(err, errlen, "disk %u: %u images, from "
			    "1 to %u", i, d->vd_nimages, VM_MAX_DISK_CHAIN);
			return (-1);
		}
		if (d->vd_format != VMOP_DISK_RAW &&
		    d->vd_format != VMOP_DISK_QCOW2) {
			(void)snprintf(err, errlen, "disk %u: unknown format "
			    "%u", i, d->vd_format);
			return (-1);
		}
		if (d->vd_flags & ~VMOP_DISK_RDONLY) {
			(void)snprintf(err, errlen, "disk %u: unknown flags "
			    "0x%x", i, d->vd_flags);
			return (-1);
		}
	}
	return (0);
}

void
vmop_fdset_init(struct vmop_fdset *set)
{
	size_t	 i;

	for (i = 0; i < VMOP_FD_SLOTS; i++)
		set->fd[i] = -1;
}

void
vmop_fdset_close(struct vmop_fdset *set)
{
	size_t	 i;

	for (i = 0; i < VMOP_FD_SLOTS; i++) {
		if (set->fd[i] != -1)
			close(set->fd[i]);
		set->fd[i] = -1;
	}
}

/*
 * File fd as vmf says.  A message without a descriptor, an unknown kind,
 * an index or image out of range or a place already taken is refused:
 * -1 with err, and fd is closed.  Returns 0 when fd is the set's.
 */
int
vmop_fdset_put(struct vmop_fdset *set, const struct vmop_fd *vmf, int fd,
    char *err, size_t errlen)
{
	int	 slot;

	if (fd == -1) {
		(void)snprintf(err, errlen, "%s descriptor message without a "
		    "descriptor", vmop_fd_kind_name(vmf->vmf_kind));
		return (-1);
	}
	if ((slot = vmop_slot(vmf->vmf_kind, vmf->vmf_index,
	    vmf->vmf_image)) == -1) {
		if (vmf->vmf_kind >= VMOP_FD_NKINDS)
			(void)snprintf(err, errlen, "unknown descriptor kind "
			    "%u", vmf->vmf_kind);
		else
			(void)snprintf(err, errlen, "%s %u image %u: out of "
			    "range", vmop_kinds[vmf->vmf_kind].name,
			    vmf->vmf_index, vmf->vmf_image);
		close(fd);
		return (-1);
	}
	if (set->fd[slot] != -1) {
		(void)snprintf(err, errlen, "%s %u image %u sent twice",
		    vmop_kinds[vmf->vmf_kind].name, vmf->vmf_index,
		    vmf->vmf_image);
		close(fd);
		return (-1);
	}
	set->fd[slot] = fd;
	return (0);
}

/* The descriptor at (kind, index, image), or -1; it stays the set's. */
int
vmop_fdset_get(const struct vmop_fdset *set, uint32_t kind, uint32_t index,
    uint32_t image)
{
	int	 slot;

	if ((slot = vmop_slot(kind, index, image)) == -1)
		return (-1);
	return (set->fd[slot]);
}

/* Take the descriptor at (kind, index, image) out of the set, or -1. */
int
vmop_fdset_take(struct vmop_fdset *set, uint32_t kind, uint32_t index,
    uint32_t image)
{
	int	 slot, fd;

	if ((slot = vmop_slot(kind, index, image)) == -1)
		return (-1);
	fd = set->fd[slot];
	set->fd[slot] = -1;
	return (fd);
}

/*
 * Does set hold exactly what fds counts: counts within the limits,
 * every descriptor they promise there, none beyond them?  0, or -1 with
 * err naming the first descriptor missing or too many.
 */
int
vmop_fds_complete(const struct vmop_fdset *set, const struct vmop_fds *fds,
    char *err, size_t errlen)
{
	const struct vmop_kind	*k;
	uint32_t		 kind, index, image;
	int			 want, have;

	if (vmop_fds_check(fds, err, errlen) == -1)
		return (-1);
	for (kind = 0; kind < VMOP_FD_NKINDS; kind++) {
		k = &vmop_kinds[kind];
		for (index = 0; index < k->nindex; index++) {
			for (image = 0; image < k->nimage; image++) {
				want = index < fds->vf_count[kind] &&
				    image < vmop_fds_images(fds, kind, index);
				have = set->fd[k->base + index * k->nimage +
				    image] != -1;
				if (want == have)
					continue;
				(void)snprintf(err, errlen, "%s %s %u image "
				    "%u", want ? "missing" : "unexpected",
				    k->name, index, image);
				return (-1);
			}
		}
	}
	return (0);
}
