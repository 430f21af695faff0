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
	struct vmop_nic		 ds_nic;	/* vionet: its interface */
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

struct devproc;
struct event_base;
struct proc_env;
struct sandbox_calls;

/*
 * A device of its own process.  Every hook runs on the runner's one
 * thread (a device may start threads of its own and must end them in
 * reset and fini) and may be NULL but init and notify.
 */
struct devproc_ops {
	const char	*name;		/* the role: "vioblk" */
	uint32_t	 fdkind;	/* the vmop_fd kind it serves */
	/* calls beyond the device sandbox's, each group with its reason */
	const struct sandbox_calls *calls;
	/*
	 * Set up from the descriptors (take them out of fds: the runner
	 * closes what is left), in the sandbox; fill ready.  0, or -1
	 * with err, which ends the process and so its VM.
	 */
	int		(*init)(struct devproc *, const struct devop_start *,
			    struct vmop_fdset *, struct devop_ready *, char *,
			    size_t);
	/* vq was kicked, or resumed: pop, work, push, virtq_interrupt */
	void		(*notify)(struct devproc *, struct virtq *);
	/* before the queues go: drop (or finish) work in flight */
	void		(*reset)(struct devproc *);
	void		(*pause)(struct devproc *);
	void		(*resume)(struct devproc *);
	void		(*config_write)(struct devproc *, uint32_t,
			    const uint8_t *, uint32_t);
	void		(*fini)(struct devproc *);
};

/* the devices of their own processes, one file each */
extern const struct devproc_ops vionet_ops;

/* devproc.c */
void		 devproc_main(struct proc_env *) __attribute__((noreturn));
int		 devproc_run(const struct devproc_ops *, struct proc_env *,
		    int, int);
void		*devproc_softc(struct devproc *);
void		 devproc_set_softc(struct devproc *, void *);
struct event_base *devproc_evbase(struct devproc *);
const char	*devproc_title(struct devproc *);
void		*devproc_gpa(struct devproc *, uint64_t, uint64_t);
struct virtq	*devproc_queue(struct devproc *, uint16_t);
void		 devproc_queue_error(struct devproc *, struct virtq *);
int		 devproc_config_changed(struct devproc *, const uint8_t *,
		    uint32_t);

/* The device roles (roles.c's rows) */
extern const struct devproc_ops	 vioblk_ops;	/* vioblk_proc.c */

/*
 * The vm process's end of a device process (vm_devproc.c).  Callbacks
 * run on the event thread and may be NULL.
 */
struct vmdev;

struct vmdev_cb {
	void	(*config)(void *, struct vmdev *, const struct devop_ready *);
	void	(*needs_reset)(void *, struct vmdev *, uint16_t,
		    const char *);
	void	(*ack)(void *, struct vmdev *, const struct devop_ctl *);
	void	(*queue_state)(void *, struct vmdev *,
		    const struct virtq_state *);
	void	(*closed)(void *, struct vmdev *);
};

/* vm_devproc.c */
struct vmdev	*vmdev_open(struct event_base *, int, uint32_t, uint32_t);
void		 vmdev_close(struct vmdev *);
void		 vmdev_set_cb(struct vmdev *, const struct vmdev_cb *, void *);
uint32_t	 vmdev_kind(const struct vmdev *);
uint32_t	 vmdev_index(const struct vmdev *);
const char	*vmdev_name(const struct vmdev *);
const struct devop_ready *vmdev_ready(const struct vmdev *);
int		 vmdev_alive(const struct vmdev *);
int		 vmdev_wait_ready(struct event_base *, struct vmdev *const *,
		    size_t, int, char *, size_t);
int		 vmdev_mem(struct vmdev *, int, const struct devop_memrange *,
		    uint32_t);
uint32_t	 vmdev_memranges(uint64_t, struct devop_memrange *, uint32_t);
int		 vmdev_queue(struct vmdev *, const struct virtq_state *);
uint32_t	 vmdev_ctl(struct vmdev *, uint32_t);
int		 vmdev_config_write(struct vmdev *, uint32_t, const uint8_t *,
		    uint32_t);

#endif /* DEVPROC_H */
