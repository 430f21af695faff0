/*
 * vmd.h: the protocol of vmd's processes and vmctl: the one enum of
 * message types, the fixed-size structures those messages carry (those
 * of device processes are in devproc.h), the descriptors of a VM's start,
 * and the one table of message sizes and checks (msg.c) every
 * dispatcher and the fuzzers use.  The guest platform is in vm.h, each
 * process's own prototypes in its own header (proc.h, config.h, vm.h,
 * devproc.h).  Every structure sent over a socket is flat (no pointers)
 * and every string in one is NUL-terminated within its array; msg_check
 * checks both before a dispatcher sees a message.
 */

#ifndef VMD_H
#define VMD_H

#include <sys/types.h>
#include <stdint.h>
#include <limits.h>

#define VMD_USER		"_vmd"
#define VMD_CONF		"/etc/vm.conf"
#define VMD_SOCKET		"/var/run/vmd.sock"

#define VM_NAME_MAX		64	/* including the NUL */
#define VM_TTYNAME_MAX		32
#define VM_CMDLINE_MAX		2048	/* including the NUL */
#define VM_REASON_MAX		256
#define VM_MAX_VCPUS		64	/* OpenBSD's VMM_MAX_VCPUS_PER_VM */
#define VM_DEFAULT_MEMORY	(512ULL << 20)
#define VM_MIN_MEMORY		(1ULL << 20)
#define VM_MAX_MEMORY		(128ULL << 30)
/* What a VM without a kernel boots, as OpenBSD's vmd its vmm-bios. */
#define VM_DEFAULT_BIOS		"/usr/share/seabios/bios.bin"

/* One enum for every message between vmd's processes and vmctl. */
enum imsg_type {
	IMSG_NONE,
	/* vmctl <-> control <-> parent */
	IMSG_VMDOP_START_VM_REQUEST,	/* struct vmop_create_params */
	IMSG_VMDOP_START_VM_RESPONSE,	/* struct vmop_result */
	IMSG_VMDOP_TERMINATE_VM_REQUEST,/* struct vmop_id */
	IMSG_VMDOP_TERMINATE_VM_RESPONSE,/* struct vmop_result */
	IMSG_VMDOP_WAIT_VM_REQUEST,	/* struct vmop_id */
	IMSG_VMDOP_WAIT_VM_RESPONSE,	/* struct vmop_result */
	IMSG_VMDOP_GET_INFO_VM_REQUEST,	/* empty */
	IMSG_VMDOP_GET_INFO_VM_DATA,	/* struct vmop_info_result */
	IMSG_VMDOP_GET_INFO_VM_END_DATA,/* empty */
	IMSG_CTL_FAIL,			/* struct vmop_result */
	IMSG_VMDOP_PAUSE_VM,		/* struct vmop_id; also parent -> vmm -> vm */
	IMSG_VMDOP_PAUSE_VM_RESPONSE,	/* struct vmop_result; also vm -> vmm -> parent */
	IMSG_VMDOP_UNPAUSE_VM,		/* struct vmop_id; also parent -> vmm -> vm */
	IMSG_VMDOP_UNPAUSE_VM_RESPONSE,	/* struct vmop_result; also vm -> vmm -> parent */
	IMSG_VMDOP_LOAD,		/* struct vmop_path: load FILE (root) */
	IMSG_VMDOP_RELOAD,		/* empty: reload vm.conf (root) */
	IMSG_CTL_RESET,			/* struct vmop_reset (root) */
	IMSG_CTL_VERBOSE,		/* int32_t level (root); also to every process */
	IMSG_CTL_OK,			/* struct vmop_result: done */
	IMSG_CTL_CLIENT_GONE,		/* empty: control -> parent, peerid closed */
	/* parent <-> vmm <-> vm */
	IMSG_VMDOP_START_VM_FD,		/* struct vmop_fd, one fd */
	IMSG_VMDOP_START_VM_END,	/* struct vmop_create_params */
	IMSG_VMDOP_VM_STARTED,		/* struct vmop_result: vm -> vmm -> parent */
	IMSG_VMDOP_VM_TERMINATE,	/* struct vmop_id: parent -> vmm */
	IMSG_VMDOP_TERMINATE_VM_EVENT,	/* struct vmop_result: vmm -> parent */
	IMSG_VMDOP_VM_REBOOT,		/* struct vmop_id: vm -> vmm -> parent */
	IMSG_VMDOP_VM_SHUTDOWN,		/* struct vmop_id: parent -> vmm -> vm */
	IMSG_VMDOP_VM_SHUTDOWN_RESPONSE,/* struct vmop_result: vm -> vmm -> parent */
	IMSG_LOG,			/* struct vmop_log + text: see below */
	/* vmm -> device process; vm <-> device process: see devproc.h */
	IMSG_DEVOP_START,		/* struct devop_start */
	IMSG_DEVOP_READY,		/* struct devop_ready */
	IMSG_DEVOP_MEM,			/* struct devop_mem, the memfd */
	IMSG_DEVOP_QUEUE_FD,		/* struct devop_queue_fd, an eventfd */
	IMSG_DEVOP_QUEUE,		/* struct virtq_state */
	IMSG_DEVOP_RESET,		/* struct devop_ctl */
	IMSG_DEVOP_PAUSE,		/* struct devop_ctl */
	IMSG_DEVOP_RESUME,		/* struct devop_ctl */
	IMSG_DEVOP_ACK,			/* struct devop_ctl */
	IMSG_DEVOP_CONFIG_WRITE,	/* struct devop_config_write */
	IMSG_DEVOP_CONFIG,		/* struct devop_ready */
	IMSG_DEVOP_NEEDS_RESET,		/* struct devop_error */
	/* parent <-> priv */
	IMSG_PRIV_CLEANUP,		/* struct priv_cleanup */
	IMSG_PRIV_TAP,			/* struct priv_tap */
	IMSG_PRIV_RESULT,		/* struct priv_result, a tap's fd */
	IMSG_MAX
};

/* Why a VM ended, in vmop_result.vmr_state of TERMINATE_VM_EVENT. */
enum vm_end {
	VM_END_POWEROFF,	/* guest powered off */
	VM_END_STOPPED,		/* terminated on request */
	VM_END_ERROR,		/* failed to start or crashed; see reason */
	VM_END_KILLED		/* vm process died */
};

/*
 * Flags of vmop_create_params.vmc_flags: what a request sets (and what
 * "allow instance" lets an instance change, INSTANCE: who may make one).
 */
#define VMOP_CREATE_KERNEL	0x01
#define VMOP_CREATE_MEMORY	0x02
#define VMOP_CREATE_CMDLINE	0x04
#define VMOP_CREATE_NETWORK	0x08
#define VMOP_CREATE_DISK	0x10
#define VMOP_CREATE_CDROM	0x20
#define VMOP_CREATE_INSTANCE	0x40
#define VMOP_CREATE_INITRD	0x100
#define VMOP_CREATE_VCPUS	0x200	/* vmc_ncpus set */
#define VMOP_CREATE_HOSTQUIRKS	0x80000000	/* parent: vmm_host.c on */

/*
 * The limits of one VM, as vmd's: disks (each a chain of images, the top
 * first), CD-ROMs and network interfaces.
 */
#define VM_MAX_DISKS		4
#define VM_MAX_DISK_CHAIN	16
#define VM_MAX_CDROMS		1
#define VM_CDROM_BLOCK		2048	/* the CD-ROM's block size (vioscsi.c) */
#define VM_MAX_NICS		4

/*
 * A VM's start: the parent sends vmm each descriptor the VM needs
 * (IMSG_VMDOP_START_VM_FD, a struct vmop_fd and the fd), then the
 * parameters (IMSG_VMDOP_START_VM_END), whose vmc_fds says how many of
 * each kind came.  vmm hands the vm process its own (IMSG_VMDOP_START_VM_FD
 * again, then START_VM_END with the counts of what it sent), each device
 * process its unit's (index 0 of the kind, then IMSG_DEVOP_START), and
 * the vm process a channel to each device process.  A receiver files
 * each descriptor with vmop_fdset_put (known kind, index and image in
 * range, not twice) and checks the whole with vmop_fds_complete (counts
 * within the limits, every descriptor the counts promise there, none
 * beyond them) before it uses any.
 */
enum vmop_fd_kind {
	VMOP_FD_KVM,		/* /dev/kvm */
	VMOP_FD_KERNEL,		/* the boot image */
	VMOP_FD_INITRD,		/* the initial ramdisk */
	VMOP_FD_TTY_MASTER,	/* the console pty */
	VMOP_FD_TTY_SLAVE,
	VMOP_FD_CDROM,		/* an ISO image, read-only */
	VMOP_FD_DISK,		/* an image of a disk's chain */
	VMOP_FD_TAP,		/* a network interface's tap */
	VMOP_FD_VIOBLK,		/* vm: the channel to a disk's process */
	VMOP_FD_VIONET,		/* vm: the channel to an interface's process */
	VMOP_FD_NKINDS
};

struct vmop_fd {
	uint32_t	vmf_id;
	uint32_t	vmf_kind;	/* enum vmop_fd_kind */
	uint32_t	vmf_index;	/* which disk, cdrom, interface */
	uint32_t	vmf_image;	/* disks: in the chain, 0 the top */
};

/* Disk formats, as disk.h's enum disk_format numbers them. */
#define VMOP_DISK_RAW		1
#define VMOP_DISK_QCOW2		2

#define VMOP_DISK_RDONLY	0x01

struct vmop_disk {
	uint32_t	vd_nimages;	/* 1 to VM_MAX_DISK_CHAIN */
	uint32_t	vd_format;	/* of the top image: VMOP_DISK_* */
	uint32_t	vd_flags;
};

/* What descriptors a start carries: indexes of each kind, disk chains. */
struct vmop_fds {
	uint32_t	 vf_count[VMOP_FD_NKINDS];
	struct vmop_disk vf_disk[VM_MAX_DISKS];
};

/*
 * A disk a request names (vmctl start -d) travels as a path of at most
 * VMOP_DISK_PATH_MAX bytes, OpenBSD's PATH_MAX: four of Linux's would
 * not fit a message.  vm.conf's disks are the parent's and never sent.
 */
#define VMOP_DISK_PATH_MAX	1024

/*
 * One network interface of a VM.  From vmctl: flags (-L: LOCAL) and the
 * switch (-n), for vmc_nnics of them (-i).  The parent fills in the rest
 * once priv made the tap: vmm hands each vionet process its own in
 * devop_start.  Addresses are in network byte order.
 */
#define VMOP_NIC_LOCAL		0x01	/* local interface: DHCP answered */
#define VMOP_NIC_LOCKED		0x02	/* locked lladdr */
#define VMOP_NIC_PXE		0x04	/* boot device net: DHCP file name */
#define VMOP_NIC_FLAGS		0x07
#define VMOP_IFNAME_MAX		16	/* IF_NAMESIZE */

struct vmop_nic {
	uint32_t	vn_flags;	/* VMOP_NIC_* */
	uint8_t		vn_lladdr[6];	/* the guest's MAC */
	uint8_t		vn_hostmac[6];	/* the tap's */
	uint32_t	vn_guest4;	/* local: the guest's address */
	uint32_t	vn_host4;	/* local: the host side's */
	uint32_t	vn_mask4;
	char		vn_switch[VM_NAME_MAX];	/* vmctl -n, or "" */
	char		vn_ifname[VMOP_IFNAME_MAX]; /* the tap */
};

struct vmop_create_params {
	uint32_t	vmc_id;		/* 0 from vmctl; set by the parent */
	uint32_t	vmc_flags;
	uint64_t	vmc_memsize;	/* bytes; 0: configured or default */
	uint32_t	vmc_ncpus;
	uint32_t	vmc_owner_uid;	/* set by the parent */
	uint32_t	vmc_owner_gid;	/* set by the parent; -1: none */
	char		vmc_instance[VM_NAME_MAX];	/* start -t: template */
	char		vmc_name[VM_NAME_MAX];
	char		vmc_kernel[PATH_MAX];
	char		vmc_initrd[PATH_MAX];		/* or "" */
	char		vmc_cmdline[VM_CMDLINE_MAX];
	uint32_t	vmc_ndisks;	/* start -d: replace vm.conf's disks */
	uint32_t	vmc_disktypes[VM_MAX_DISKS];	/* VMOP_DISK_* */
	char		vmc_disks[VM_MAX_DISKS][VMOP_DISK_PATH_MAX];
	char		vmc_ttyname[VM_TTYNAME_MAX];	/* set by the parent */
	struct vmop_fds	vmc_fds;	/* set by the parent, then vmm */
	uint32_t	vmc_bootdevice;	/* VMBOOTDEV_*: start -B, boot device */
	uint32_t	vmc_nnics;	/* vmctl -i, -n, -L */
	struct vmop_nic	vmc_nics[VM_MAX_NICS];
	char		vmc_cdrom[VMOP_DISK_PATH_MAX];	/* start -r, or "" */
};

/* Where the firmware boots from, as config.h's enum vm_bootdev. */
#define VMBOOTDEV_AUTO		0	/* disks, then the CD-ROM */
#define VMBOOTDEV_CDROM		1
#define VMBOOTDEV_DISK		2
#define VMBOOTDEV_NET		3

#define VMOP_WAIT		0x01	/* stop: answer when the VM ended */
#define VMOP_FORCE		0x02	/* stop: terminate now */

struct vmop_id {
	uint32_t	vid_id;		/* 0: look up by name */
	uint32_t	vid_flags;
	char		vid_name[VM_NAME_MAX];
};

struct vmop_result {
	int32_t		vmr_result;	/* 0 or an errno value */
	uint32_t	vmr_id;
	int32_t		vmr_pid;
	uint32_t	vmr_state;	/* enum vm_end for TERMINATE_VM_EVENT */
	char		vmr_ttyname[VM_TTYNAME_MAX];
	char		vmr_reason[VM_REASON_MAX];	/* human words, or "" */
};

/* vmop_info_result.vir_state */
#define VM_STATE_STOPPED	0
#define VM_STATE_RUNNING	1
#define VM_STATE_STARTING	2
#define VM_STATE_SHUTDOWN	3	/* stop requested */
#define VM_STATE_PAUSED		4
#define VM_STATE_WAITING	5	/* staggered start: not started yet */

/*
 * IMSG_LOG: no process but the parent writes to syslog (that needs a
 * socket, which sandboxed processes may not open), so every other one
 * sends its lines to the parent, and a vm process sends them to vmm,
 * which relays them.  The struct is followed by 1 to VMD_LOG_TEXT_MAX
 * bytes of text, not NUL-terminated.  Senders keep at most
 * VMD_LOG_QUEUE_MAX messages queued on the channel; a line beyond that
 * is dropped, counted, and the count travels with the next line.
 */
#define VMD_LOG_TEXT_MAX	4000
#define VMD_LOG_QUEUE_MAX	256
#define VMD_PROCNAME_MAX	(VM_NAME_MAX + 32)	/* "vm NAME vioblk 0" */

struct vmop_log {
	int32_t		vl_pri;		/* syslog priority */
	uint32_t	vl_dropped;	/* lines dropped just before this one */
	char		vl_proc[VMD_PROCNAME_MAX];	/* set by vmm */
};

/* vmctl load FILE */
struct vmop_path {
	char		vp_path[PATH_MAX];
};

/* vmctl reset [all|switches|vms] */
#define VMOP_RESET_ALL		0
#define VMOP_RESET_SWITCHES	1
#define VMOP_RESET_VMS		2

struct vmop_reset {
	uint32_t	vr_what;
};

struct vmop_info_result {
	uint32_t	vir_id;
	int32_t		vir_pid;	/* -1 when not running */
	uint32_t	vir_ncpus;
	uint32_t	vir_state;
	uint64_t	vir_memsize;	/* bytes */
	uint64_t	vir_used;	/* resident bytes, 0 when not running */
	uint32_t	vir_uid;
	uint32_t	vir_gid;
	char		vir_name[VM_NAME_MAX];
	char		vir_ttyname[VM_TTYNAME_MAX];
};

/*
 * vmctl -> control -> parent: control forwards a client's request with
 * the imsg peerid set to the client's connection id and the imsg pid
 * field set to the client's uid as SO_PEERCRED reported it, never what
 * the client claims.  The parent answers with the same peerid and
 * control routes the answer back to that connection, if still there.
 */
#define VMD_PEERID_NONE		0	/* no client waits for this answer */

/*
 * The channels a message may travel, for msg_check: each type is
 * allowed on some of them only, with its size and checks, in msg.c's
 * one table that every dispatcher and the fuzzers use.
 */
#define MSG_CLIENT		0x0001	/* vmctl -> control -> parent */
#define MSG_REPLY		0x0002	/* parent -> control -> vmctl */
#define MSG_CONTROL_PARENT	0x0004	/* control's own, to the parent */
#define MSG_PARENT_CONTROL	0x0008
#define MSG_PARENT_VMM		0x0010
#define MSG_VMM_PARENT		0x0020
#define MSG_VMM_VM		0x0040
#define MSG_VM_VMM		0x0080
#define MSG_VMM_DEV		0x0100	/* vmm -> device process */
#define MSG_DEV_VMM		0x0200
#define MSG_VM_DEV		0x0400	/* vm -> device process */
#define MSG_DEV_VM		0x0800
#define MSG_PARENT_PRIV		0x1000
#define MSG_PRIV_PARENT		0x2000

/*
 * The priv process makes the host side of a VM's interfaces for the
 * parent, one request at a time, each answered by IMSG_PRIV_RESULT.
 * IMSG_PRIV_CLEANUP at start: the taps a killed vmd with the same
 * instance tag left go.  IMSG_PRIV_TAP: a tap (named vmN-ifI[-TAG]
 * unless vm.conf named it), described "vmN-ifI-NAME", in its group,
 * bridge or VRF, with the host side's local addresses, up unless asked
 * down; its fd comes with the result.  Addresses in network order.
 */
#define PRIV_TAG_MAX		4	/* NET_TAG_MAX */

struct priv_cleanup {
	char		pc_tag[PRIV_TAG_MAX];
};

#define PRIV_TAP_GROUP		0x01	/* pt_group is set */
#define PRIV_TAP_DOWN		0x02	/* leave it down */
#define PRIV_TAP_RDOMAIN	0x04	/* pt_rdomain: the VRF's table */
#define PRIV_TAP_LOCAL4		0x08	/* pt_host4/pt_len4 */
#define PRIV_TAP_LOCAL6		0x10	/* pt_host6/pt_len6 */
#define PRIV_TAP_FLAGS		0x1f

struct priv_tap {
	uint32_t	pt_vmid;
	uint32_t	pt_index;
	uint32_t	pt_flags;	/* PRIV_TAP_* */
	uint32_t	pt_group;
	uint32_t	pt_rdomain;
	uint32_t	pt_host4;
	uint32_t	pt_len4;
	uint8_t		pt_host6[16];
	uint32_t	pt_len6;
	char		pt_vmname[VM_NAME_MAX];
	char		pt_tag[PRIV_TAG_MAX];
	char		pt_ifname[VMOP_IFNAME_MAX];	/* or "": vmN-ifI */
	char		pt_bridge[VMOP_IFNAME_MAX];	/* or "" */
};

struct priv_result {
	int32_t		pr_result;	/* 0 or an errno value */
	int32_t		pr_count;	/* cleanup: taps removed */
	uint8_t		pr_lladdr[6];	/* the tap's */
	uint16_t	pr_pad;
	char		pr_ifname[VMOP_IFNAME_MAX];
	char		pr_reason[VM_REASON_MAX];
};

/*
 * The descriptors of one start, filed by kind, index and image; -1 where
 * none came.  VMOP_FD_SLOTS is every place vmop_fd allows.
 */
#define VMOP_FD_SLOTS		(5 + VM_MAX_CDROMS + \
				 VM_MAX_DISKS * VM_MAX_DISK_CHAIN + \
				 VM_MAX_NICS + VM_MAX_DISKS + VM_MAX_NICS)

struct vmop_fdset {
	int		 fd[VMOP_FD_SLOTS];
};

/* msg.c */
int		 msg_check(uint32_t, uint32_t, const void *, size_t, char *,
		    size_t);
const char	*msg_name(uint32_t);
int		 vmop_fds_check(const struct vmop_fds *, char *, size_t);
void		 vmop_fdset_init(struct vmop_fdset *);
void		 vmop_fdset_close(struct vmop_fdset *);
int		 vmop_fdset_put(struct vmop_fdset *, const struct vmop_fd *,
		    int, char *, size_t);
int		 vmop_fdset_take(struct vmop_fdset *, uint32_t, uint32_t,
		    uint32_t);
int		 vmop_fdset_get(const struct vmop_fdset *, uint32_t, uint32_t,
		    uint32_t);
int		 vmop_fds_complete(const struct vmop_fdset *,
		    const struct vmop_fds *, char *, size_t);
uint32_t	 vmop_fds_images(const struct vmop_fds *, uint32_t, uint32_t);
const char	*vmop_fd_kind_name(uint32_t);

#endif /* VMD_H */
