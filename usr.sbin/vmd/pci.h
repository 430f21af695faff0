/*
 * pci.h: what a PCI function (the virtio transport, later devices) uses
 * of the host bridge in pci.c: a slot on bus 0 with its own 256-byte
 * configuration space, BARs the guest sizes and places, capabilities, and
 * hooks called when the guest touches them.  The bus owns the decoding:
 * it claims the PCI I/O and MMIO windows and hands a function only the
 * accesses that fall inside one of its enabled BARs, with the offset
 * inside that BAR.  Nothing a function gets here is a raw guest address.
 */

#ifndef PCI_H
#define PCI_H

#include <stddef.h>
#include <stdint.h>

#include "dev.h"

#define PCI_MAX_SLOTS		32
#define PCI_MAX_BARS		6
#define PCI_BAR_OFF		UINT64_MAX	/* BAR not decoded */

/* Where the bus decodes BARs; the ACPI tables must say the same. */
#define PCI_IO_WINDOW_START	0x1000
#define PCI_IO_WINDOW_END	0x10000

/* Standard configuration header offsets a function may want. */
#define PCI_CFG_VENDOR		0x00
#define PCI_CFG_DEVICE		0x02
#define PCI_CFG_COMMAND		0x04
#define PCI_CFG_STATUS		0x06
#define PCI_CFG_REVISION	0x08
#define PCI_CFG_CLASS		0x09	/* prog-if, subclass, class */
#define PCI_CFG_HDRTYPE		0x0e
#define PCI_CFG_BAR0		0x10
#define PCI_CFG_SUBVENDOR	0x2c
#define PCI_CFG_SUBSYS		0x2e
#define PCI_CFG_CAPPTR		0x34
#define PCI_CFG_INTLINE		0x3c
#define PCI_CFG_INTPIN		0x3d
#define PCI_CFG_CAPSTART	0x40	/* first byte capabilities may use */

#define PCI_COMMAND_IO		0x0001
#define PCI_COMMAND_MEM		0x0002
#define PCI_COMMAND_MASTER	0x0004
#define PCI_COMMAND_INTX_OFF	0x0400
#define PCI_STATUS_INTX		0x0008
#define PCI_STATUS_CAPLIST	0x0010

enum pci_bar_type {
	PCI_BAR_NONE,
	PCI_BAR_IO,		/* I/O space, at least 4 bytes */
	PCI_BAR_MEM32		/* 32-bit non-prefetchable MMIO, >= 16 bytes */
};

struct pci_func_id {
	uint16_t	 vendor;
	uint16_t	 device;
	uint16_t	 subsys_vendor;
	uint16_t	 subsys;
	uint8_t		 class;
	uint8_t		 subclass;
	uint8_t		 progif;
	uint8_t		 revision;
	uint8_t		 irq_pin;	/* 1 for INTA#, 0 for none */
	uint8_t		 irq_line;	/* Interrupt Line; 0: the slot's */
};

/*
 * Hooks of one function; any may be NULL.  They are called with the bus
 * lock held, from a vCPU thread, and must not call pci_*() themselves.
 */
struct pci_func_ops {
	/* after a config read filled *val from the function's config space */
	void	(*cfg_read)(void *, uint8_t off, int size, uint32_t *val);
	/* after a config write was applied to the writable bits */
	void	(*cfg_write)(void *, uint8_t off, int size, uint32_t val);
	/*
	 * A BAR's decoded address changed (base written, or decoding turned
	 * on or off in the command register); PCI_BAR_OFF when not decoded.
	 */
	void	(*bar_moved)(void *, int bar, uint64_t oldbase,
		    uint64_t newbase);
	/* one access inside a decoded BAR; off is the offset inside it */
	void	(*bar_io)(void *, int bar, uint64_t off, int size,
		    uint8_t *data, int write);
};

/* pci.c */
int		 pci_add_function(struct device *, uint8_t *,
		    const struct pci_func_ops *, void *,
		    const struct pci_func_id *);
int		 pci_add_bar(struct device *, uint8_t, int, enum pci_bar_type,
		    uint32_t);
int		 pci_add_cap(struct device *, uint8_t, uint8_t, const void *,
		    size_t, uint8_t *);
uint64_t	 pci_bar_base(struct device *, uint8_t, int);
int		 pci_cfg_set(struct device *, uint8_t, uint8_t, const void *,
		    size_t, const void *);
int		 pci_set_intx_status(struct device *, uint8_t, int);
uint8_t		 pci_intx_irq(uint8_t);
size_t		 pci_find_slots(struct device *, uint16_t, uint16_t,
		    uint8_t *, size_t);

#endif /* PCI_H */
