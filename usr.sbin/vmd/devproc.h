/*
 * devproc.h: device processes and what they say to their vm process.
 * A virtio device whose data path must not run in the vm process
 * (vioblk, vionet) runs in a process of its own, "vm NAME vioblk 0",
 * which vmm starts as _vmd with two channels: fd 3 to vmm (its start
 * and its descriptors, log lines, the log level) and fd 4 to its VM's
 * vm process (the messages below).  The vm process keeps the PCI
 * function and the virtio registers; once the driver is ready it hands
 * each queue over, its state and two eventfds (the ioeventfd and irqfd
 * it registered with KVM), so a request goes guest -> ioeventfd ->
 * device process -> irqfd -> guest and the vm process is off the data
 * path.  The runner (devproc.c) does all a device process does but the
 * device: event loop, channels, sandbox, guest RAM, queue kicks, reset,
 * pause and resume; a device is one struct devproc_ops.  A device
 * process trusts nothing the vm process sends (it may be a compromised
 * guest's): every message is checked as vmd.h's table says, every range
 * against the RAM it mapped, and a bad queue only breaks that queue.
 */

#ifndef DEVPROC_H
#define DEVPROC_H

#include <sys/types.h>

#include <stdint.h>

#include "vmd.h"
#include "virtq.h"

#define DEVOP_MAX_QUEUES	16	/* queues of one device */
#define DEVOP_MAX_RANGES	8	/* pieces of guest RAM */
#define DEVOP_CONFIG_MAX	256	/* bytes of device configuration */
#define DEVOP_REASON_MAX	128

/*
 * IMSG_DEVOP_START, vmm -> device, after the device's descriptors
 * (IMSG_VMDOP_START_VM_FD, index 0 of their kind): which VM and which
 * unit of it, and what descriptors came (ds_fds, as vmop_fds_complete
 * checks them).
 */
struct devop_start {
	uint32_t		 ds_vmid;
	uint32_t		 ds_index;	/* which disk, interface */
	char			 ds_vmname[VM_NAME_MAX];
	struct vmop_fds		 ds_fds;
};

/*
 * IMSG_DEVOP_MEM, vm -> device, with the guest RAM memfd: guest-physical
 * [gpa, gpa + len) is at offset in it.  Ranges do not overlap in either
 * space.  Sent again, it replaces the old mapping (queues stop first).
 */
struct devop_memrange {
	uint64_t		 gpa;
	uint64_t		 len;
	uint64_t		 offset;
};

struct devop_mem {
	uint32_t		 dm_nranges;
	uint32_t		 dm_pad;
	struct devop_memrange	 dm_range[DEVOP_MAX_RANGES];
};

/*
 * IMSG_DEVOP_QUEUE_FD, vm -> device, with one eventfd of a queue: the
 * kick (the ioeventfd of its doorbell) or the call (the irqfd of its
 * interrupt).  Then IMSG_DEVOP_QUEUE, a struct virtq_state (its fds
 * fields ignored), starts the queue with the fds that came for it.  A
 * device sends IMSG_DEVOP_QUEUE back for each running queue when paused,
 * so its place in the rings is known (to save a VM, later).
 */
#define DEVOP_FD_KICK		0
#define DEVOP_FD_CALL		1

struct devop_queue_fd {
	uint16_t		 dq_queue;
	uint16_t		 dq_which;	/* DEVOP_FD_* */
};

/*
 * IMSG_DEVOP_RESET, _PAUSE and _RESUME, vm -> device, each answered by
 * an IMSG_DEVOP_ACK with the same seq and type and a result (0 or an
 * errno value).  A reset stops and forgets every queue (the driver sets
 * them up again) and drops work in flight; a pause stops taking work
 * from the queues until resume.
 */
struct devop_ctl {
	uint32_t		 dc_seq;
	uint32_t		 dc_type;	/* in an ACK: what it answers */
	int32_t			 dc_result;
};

/* IMSG_DEVOP_CONFIG_WRITE, vm -> device: the driver wrote its config. */
struct devop_config_write {
	uint32_t		 dw_off;
	uint32_t		 dw_len;	/* 1, 2, 4 or 8 */
	uint8_t			 dw_data[8];
};

/*
 * IMSG_DEVOP_READY, device -> vm, once its descriptors are checked and
 * open: what the vm process offers the driver for it.  IMSG_DEVOP_CONFIG
 * carries the same when the configuration changed (the vm process then
 * tells the driver).
 */
struct devop_ready {
	uint64_t		 dr_features;	/* device-specific, offered */
	uint16_t		 dr_nqueues;
	uint16_t		 dr_queue_max;	/* entries per queue */
	uint32_t		 dr_config_len;
	uint8_t			 dr_config[DEVOP_CONFIG_MAX];
};

/*
 * IMSG_DEVOP_NEEDS_RESET, device -> vm: a queue was found malformed and
 * is no longer used; the vm process sets DEVICE_NEEDS_RESET.
 */
struct devop_error {
	uint16_t		 de_queue;
	uint16_t		 de_pad;
	char			 de_reason[DEVOP_REASON_MAX];
};

#endif /* DEVPROC_H */
