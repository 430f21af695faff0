/*
 * dev.h: the device seam of the vm process.  A device is one .c file that
 * exports one struct devsw; its state lives in a softc it allocates at
 * attach, never in globals, so two instances are just two attaches.  A
 * device claims port or MMIO ranges and is called through dev_io() for
 * accesses inside them; it reaches the rest of the VM only through the
 * struct dev_host callbacks, so a unit test can build one device alone.
 * Nothing here may trust a guest-supplied value without a bounds check,
 * and a line the guest can cause at will is logged with log_limited
 * (log.h), so that a guest cannot flood the log.
 */

#ifndef DEV_H
#define DEV_H

#include <sys/types.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct device;
struct timespec;

enum dev_space {
	DEV_SPACE_IO,
	DEV_SPACE_MMIO
};

/* What a device may ask of the VM as a whole, or tell it. */
enum dev_request {
	DEV_REQ_POWEROFF,	/* guest asked to power off */
	DEV_REQ_RESET,		/* guest asked to reset (reboot) */
	/* of a shutdown the VM asked the guest for (vmmci, power button): */
	DEV_REQ_SHUTDOWN_ACK,	/* the guest acknowledged it */
	DEV_REQ_SHUTDOWN_NOACK,	/* it did not, in time */
	DEV_REQ_SHUTDOWN_LATE	/* it did, but is still running too long after */
};

/*
 * Services the vm process (or a unit test) provides to devices.  All
 * callbacks may be called from a vCPU thread or the event thread, and
 * any of them may be NULL (the dev_*() wrappers then fail with ENOSYS).
 * Between two boots of the guest there is no hypervisor VM: the
 * hypervisor calls then succeed and do nothing, as a reset follows.
 */
struct dev_host {
	struct event_base	*evbase;
	void			*arg;
	void			(*irq_set)(void *, uint32_t, int);
	void			(*request)(void *, enum dev_request);
	uint64_t		 memsize;	/* guest RAM in bytes */
	/* guest RAM: a pointer to [gpa, gpa + len) if all RAM, else NULL */
	void			*(*gpa_ptr)(void *, uint64_t, uint64_t);
	/* signal fd when the guest writes len bytes at addr (match: value) */
	int			(*ioeventfd)(void *, int, enum dev_space,
				    uint64_t, uint32_t, int, uint64_t, int);
	/* inject the interrupt of gsi when fd is signalled */
	int			(*irqfd)(void *, int, uint32_t, int);
	/* route gsi to an MSI message, replacing its old route */
	int			(*msi_route)(void *, uint32_t, uint64_t,
				    uint32_t);
	/* send one MSI message now */
	int			(*msi)(void *, uint64_t, uint32_t);
	/* n consecutive GSIs for MSI routes, for the life of the VM */
	int			(*gsi_alloc)(void *, uint32_t, uint32_t *);
	/* the host's UTC clock; NULL: CLOCK_REALTIME (a test sets its own) */
	void			(*realtime)(void *, struct timespec *);
};

/* Per-device attach arguments; each device reads the fields it needs. */
struct dev_attach_args {
	int		 fd;		/* ns8250: pty master, or -1 */
	int		 fd2;		/* ns8250: pty slave kept open, or -1 */
	uint16_t	 iobase;	/* base port, 0 for the device default */
	uint32_t	 irq;		/* irq line, 0 for the device default */
	void		*arg;		/* viodev: its struct vmdev */
};

struct devsw {
	const char	*name;
	/* allocate dev->softc, claim ranges; 0 or -1 with a log message */
	int		(*attach)(struct device *, const struct dev_attach_args *);
	/*
	 * One access of size 1, 2, 4 (or 8 for MMIO) at addr (absolute port
	 * or guest-physical address).  A read fills data.  Called with
	 * dev->lock held.  NULL for a device that claims nothing itself
	 * (a PCI function: the bus claims its BARs).
	 */
	void		(*io)(struct device *, enum dev_space, uint64_t, int,
			    uint8_t *, int);
	void		(*reset)(struct device *);	/* power-on state */
	void		(*pause)(struct device *);	/* stop timers */
	void		(*resume)(struct device *);
	void		(*detach)(struct device *);	/* free softc */
	/*
	 * Device state for sending a VM elsewhere (NULL until send/receive
	 * exists): save writes at most len bytes and returns the count or
	 * -1; restore takes what save wrote, checks it all, and returns 0
	 * or -1 with a log message.
	 */
	ssize_t		(*save)(struct device *, uint8_t *, size_t);
	int		(*restore)(struct device *, const uint8_t *, size_t);
};

struct device {
	const struct devsw	*sw;
	void			*softc;
	struct dev_host		*host;
	struct devices		*set;
	pthread_mutex_t		 lock;	/* held around io and device events */
};

/*
 * A claimed range.  refs counts the claims of this very range by its
 * device: two PCI BARs the guest put at the same place are two claims of
 * the pci device, and moving one away must not take the other's range.
 */
struct dev_range {
	uint64_t	 start;
	uint64_t	 len;
	enum dev_space	 space;
	struct device	*dev;
	unsigned int	 refs;
};

/*
 * A budget for log lines a guest can cause: DEV_LOG_BURST lines per
 * DEV_LOG_INTERVAL seconds, the rest counted and reported with the next
 * line let through.
 */
struct dev_ratelim {
	int64_t		 window;	/* start of the interval, seconds */
	unsigned int	 lines;		/* let through in this interval */
	unsigned int	 dropped;	/* held back since the last line */
};

#define DEV_LOG_INTERVAL	10
#define DEV_LOG_BURST		5

#define DEV_MAX		32
#define DEV_MAX_RANGES	128

/*
 * All devices of one VM and the address ranges they claimed.  The map
 * changes while vCPUs run (a BAR moved from inside a config write), so
 * it is guarded by map_lock, which is never held across a device's io
 * call: a device may claim and unclaim from its io handler.
 */
struct devices {
	struct dev_host		*host;
	struct device		*dev[DEV_MAX];
	size_t			 ndev;
	pthread_rwlock_t	 map_lock;
	struct dev_range	 range[DEV_MAX_RANGES];	/* sorted by start */
	size_t			 nrange;
};

/* dev.c */
void		 dev_init(struct devices *, struct dev_host *);
struct device	*dev_attach(struct devices *, const struct devsw *,
		    const struct dev_attach_args *);
int		 dev_claim(struct device *, enum dev_space, uint64_t, uint64_t);
int		 dev_unclaim(struct device *, enum dev_space, uint64_t,
		    uint64_t);
struct device	*dev_find(struct devices *, const struct devsw *);
int		 dev_io(struct devices *, enum dev_space, uint64_t addr,
		    int size, uint8_t *data, int write);
void		 dev_reset_all(struct devices *);
void		 dev_pause_all(struct devices *);
void		 dev_resume_all(struct devices *);
void		 dev_detach_all(struct devices *);
void		 dev_irq(struct device *, uint32_t, int);
void		 dev_request(struct device *, enum dev_request);
void		 dev_realtime(struct device *, struct timespec *);
int		 dev_ratelim(struct dev_ratelim *, unsigned int *);
const char	*dev_ratelim_note(unsigned int);
void		*dev_gpa_ptr(struct device *, uint64_t, uint64_t);
int		 dev_ioeventfd(struct device *, int, enum dev_space, uint64_t,
		    uint32_t, int, uint64_t, int);
int		 dev_irqfd(struct device *, int, uint32_t, int);
int		 dev_msi_route(struct device *, uint32_t, uint64_t, uint32_t);
int		 dev_msi(struct device *, uint64_t, uint32_t);
int		 dev_gsi_alloc(struct device *, uint32_t, uint32_t *);

/* the devices, one file each */
extern const struct devsw ns8250_devsw;
extern const struct devsw mc146818_devsw;
extern const struct devsw pci_devsw;
extern const struct devsw i8042_devsw;
extern const struct devsw acpi_devsw;
extern const struct devsw fw_cfg_devsw;
extern const struct devsw viornd_devsw;
extern const struct devsw vioscsi_devsw;
extern const struct devsw vmmci_devsw;
extern const struct devsw viodev_devsw;

#endif /* DEV_H */
