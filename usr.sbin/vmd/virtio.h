/*
 * virtio.h: the virtio PCI transport as a library.  A virtio device
 * declares its constants in a struct virtio_type (device id, class code,
 * queue count and size, features, config size) and a few hooks, calls
 * virtio_attach() from its devsw attach, and runs its queues with the
 * ring helpers of virtq.h; the transport does the rest: the PCI function
 * with the modern (1.x) capabilities and MSI-X, or the legacy (0.9) I/O
 * layout, feature negotiation, status and reset, queue setup,
 * notifications through ioeventfd and interrupts through irqfd.
 *
 * The vm process keeps the PCI config space, the common configuration,
 * the MSI-X table and the device configuration.  What a queue's handler
 * needs is one struct virtq_state (virtq.h), flat, so a device process
 * can own the queue later: virtio_queue_state() gives it out.
 */

#ifndef VIRTIO_H
#define VIRTIO_H

#include <stdint.h>

#include "dev.h"
#include "virtq.h"

#define VIRTIO_PCI_VENDOR	0x1af4
#define VIRTIO_PCI_DEVICE_BASE	0x1040	/* + virtio device id (modern) */

/* Device ids ("Device Types") */
#define VIRTIO_ID_NET		1
#define VIRTIO_ID_BLOCK		2
#define VIRTIO_ID_ENTROPY	4
#define VIRTIO_ID_SCSI		8

/* Device status bits */
#define VIRTIO_STATUS_ACK		0x01
#define VIRTIO_STATUS_DRIVER		0x02
#define VIRTIO_STATUS_DRIVER_OK		0x04
#define VIRTIO_STATUS_FEATURES_OK	0x08
#define VIRTIO_STATUS_NEEDS_RESET	0x40
#define VIRTIO_STATUS_FAILED		0x80

#define VIRTIO_ISR_QUEUE	0x01
#define VIRTIO_ISR_CONFIG	0x02
#define VIRTIO_MSI_NO_VECTOR	0xffff

/* Modern PCI capabilities (cfg_type) and the layout of our one BAR */
#define VIRTIO_PCI_CAP_COMMON	1
#define VIRTIO_PCI_CAP_NOTIFY	2
#define VIRTIO_PCI_CAP_ISR	3
#define VIRTIO_PCI_CAP_DEVICE	4
#define VIRTIO_PCI_CAP_PCI_CFG	5

#define VIRTIO_BAR		0	/* everything in BAR 0 */
#define VIRTIO_BAR_SIZE		0x8000
#define VIRTIO_OFF_COMMON	0x0000
#define VIRTIO_OFF_ISR		0x1000
#define VIRTIO_OFF_DEVICE	0x2000
#define VIRTIO_OFF_NOTIFY	0x3000
#define VIRTIO_OFF_MSIX_TABLE	0x4000
#define VIRTIO_OFF_MSIX_PBA	0x5000
#define VIRTIO_NOTIFY_MULT	4	/* bytes between queue doorbells */
#define VIRTIO_COMMON_LEN	0x38	/* through queue_device */

#define VIRTIO_MAX_QUEUES	64
#define VIRTIO_MAX_VECTORS	64	/* one PBA word */
#define VIRTIO_MAX_CONFIG	(0x1000)

/* Legacy (0.9) I/O BAR registers */
#define VIRTIO_LEG_DEVICE_FEATURES	0	/* 32 */
#define VIRTIO_LEG_DRIVER_FEATURES	4	/* 32 */
#define VIRTIO_LEG_QUEUE_PFN		8	/* 32 */
#define VIRTIO_LEG_QUEUE_SIZE		12	/* 16 */
#define VIRTIO_LEG_QUEUE_SELECT		14	/* 16 */
#define VIRTIO_LEG_QUEUE_NOTIFY		16	/* 16 */
#define VIRTIO_LEG_STATUS		18	/* 8 */
#define VIRTIO_LEG_ISR			19	/* 8 */
#define VIRTIO_LEG_CONFIG		20	/* device config, no MSI-X */
#define VIRTIO_LEG_QUEUE_ALIGN		4096

struct virtio_dev;

/*
 * What a virtio device declares.  Hooks are called with the device's
 * lock (dev->lock) held and may be NULL.
 */
struct virtio_type {
	const char	*name;
	uint16_t	 device_id;	/* virtio device id */
	uint8_t		 class;		/* PCI class code */
	uint8_t		 subclass;
	uint16_t	 nqueues;
	uint16_t	 queue_max;	/* entries per queue, a power of 2 */
	uint64_t	 features;	/* device-specific features offered */
	uint32_t	 config_size;	/* bytes of device configuration */
	/*
	 * Legacy (0.9) transport: an I/O BAR with the legacy layout, INTx
	 * only, and the PCI ids below instead of 1af4:1040+id.
	 */
	int		 legacy;
	uint16_t	 pci_vendor, pci_device, subsys_vendor, subsys;
	/*
	 * The queues run in a device process (virtio_dev.c): this process
	 * never reads their doorbells; driver_ok hands them over.
	 */
	int		 elsewhere;
	/* the driver set DRIVER_OK (queue_notify does the rest if NULL) */
	void		(*driver_ok)(struct virtio_dev *);
	/* device configuration access, off + size <= config_size */
	void		(*config_read)(struct virtio_dev *, uint32_t,
			    uint8_t *, int);
	void		(*config_write)(struct virtio_dev *, uint32_t,
			    const uint8_t *, int);
	/*
	 * The driver notified a queue (and DRIVER_OK is set): pop, work,
	 * push, virtq_interrupt().  Runs on the event thread.  A handler
	 * that finds the queue broken calls virtio_queue_error().
	 */
	void		(*queue_notify)(struct virtio_dev *, struct virtq *);
	/* the driver or the VM reset the device: drop work in flight */
	void		(*reset)(struct virtio_dev *);
};

/* virtio.c */
struct virtio_dev *virtio_attach(struct device *, const struct virtio_type *,
		    void *);
void		 virtio_reset(struct virtio_dev *);
void		 virtio_detach(struct virtio_dev *);
void		*virtio_softc(struct virtio_dev *);
struct device	*virtio_device(struct virtio_dev *);
uint8_t		 virtio_status(struct virtio_dev *);
uint64_t	 virtio_features(struct virtio_dev *);
void		 virtio_queue_error(struct virtio_dev *, struct virtq *);
void		 virtio_config_changed(struct virtio_dev *);
void		 virtio_queue_kick(struct virtio_dev *, uint16_t);
int		 virtio_queue_state(struct virtio_dev *, uint16_t,
		    struct virtq_state *);
void		 virtio_needs_reset(struct virtio_dev *, uint16_t,
		    const char *);
void		 virtio_reset_pending(struct virtio_dev *, int);

/*
 * vmmci.c: OpenBSD's VMM control device, a legacy virtio function with
 * no queue.  The host posts a command with vmmci_ctl(); the guest's
 * driver acknowledges it by writing it back.  A shutdown or reboot not
 * acknowledged within VMMCI_TIMEOUT_SHORT seconds is withdrawn
 * (DEV_REQ_SHUTDOWN_NOACK); one acknowledged and still running
 * VMMCI_TIMEOUT_LONG seconds later is given up on
 * (DEV_REQ_SHUTDOWN_LATE, or DEV_REQ_RESET for a reboot).  A guest that
 * announces its own shutdown gets VMMCI_TIMEOUT_SHORT seconds to power
 * off before DEV_REQ_POWEROFF.  The timeouts are vmd's.
 */
enum vmmci_cmd {
	VMMCI_NONE,
	VMMCI_SHUTDOWN,
	VMMCI_REBOOT,
	VMMCI_SYNCRTC
};

#define VMMCI_TIMEOUT_SHORT	3	/* seconds */
#define VMMCI_TIMEOUT_LONG	120	/* seconds */

int		 vmmci_ctl(struct device *, enum vmmci_cmd);
void		 vmmci_timeouts(struct device *, unsigned int, unsigned int);

#endif /* VIRTIO_H */
