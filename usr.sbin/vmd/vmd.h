/*
 * vmd.h: what vmd's processes and vmctl share: the one enum of message
 * types, the fixed-size structures those messages carry, and the
 * prototypes of the daemon's files, grouped by file.  The guest platform
 * (memory map, ports, interrupt lines) is not here but in vm.h.  Every
 * structure sent over a socket is flat (no pointers) and every string in
 * one is NUL-terminated within its array; receivers check both.
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
#define VM_MAX_VCPUS		1
#define VM_DEFAULT_MEMORY	(512ULL << 20)
#define VM_MIN_MEMORY		(1ULL << 20)
#define VM_MAX_MEMORY		(128ULL << 30)

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
	IMSG_LOG,			/* struct vmop_log + text: see below */
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
#define VMOP_CREATE_HOSTQUIRKS	0x80000000	/* parent: vmm_host.c on */

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
	char		vmc_cmdline[VM_CMDLINE_MAX];
	char		vmc_ttyname[VM_TTYNAME_MAX];	/* set by the parent */
};

/* Which descriptor an IMSG_VMDOP_START_VM_FD carries. */
enum vmop_fd_kind {
	VMOP_FD_KVM,
	VMOP_FD_KERNEL,
	VMOP_FD_TTY_MASTER,
	VMOP_FD_TTY_SLAVE
};

struct vmop_fd {
	uint32_t	vmf_id;
	uint32_t	vmf_kind;	/* enum vmop_fd_kind */
};

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
#define VMD_PROCNAME_MAX	(VM_NAME_MAX + 8)	/* "vm NAME" */

struct vmop_log {
	int32_t		vl_pri;		/* syslog priority */
	uint32_t	vl_dropped;	/* lines dropped just before this one */
	char		vl_proc[VMD_PROCNAME_MAX];	/* set by vmm for vm */
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

/* sandbox.c */
enum sandbox_role {
	SANDBOX_PARENT,
	SANDBOX_CONTROL,
	SANDBOX_VMM,
	SANDBOX_VM
};
void		 sandbox_enter(enum sandbox_role);
void		 sandbox_exe(int);
void		 sandbox_landlock(enum sandbox_role);
void		 sandbox_seccomp(enum sandbox_role);

/* vm.c: entry of a "vm NAME" process; fd is its socket to vmm */
void		 vm_main(int, const char *) __attribute__((noreturn));
void		 vm_log_init(int);

/*
 * vmctl -> control -> parent: control forwards a client's request with
 * the imsg peerid set to the client's connection id and the imsg pid
 * field set to the client's uid as SO_PEERCRED reported it, never what
 * the client claims.  The parent answers with the same peerid and
 * control routes the answer back to that connection, if still there.
 */
#define VMD_PEERID_NONE		0	/* no client waits for this answer */

/* vmd.c: main() and the parent; nothing exported */

/* proc.c: see proc.h */

/* control.c */
struct proc_env;
void		 control_run(struct proc_env *) __attribute__((noreturn));

/* vmm.c */
void		 vmm_run(struct proc_env *) __attribute__((noreturn));

/* config.c, parse.y: see config.h */

#endif /* VMD_H */
