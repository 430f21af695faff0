/*
 * fw_cfg.h: the firmware configuration device (QEMU's
 * docs/specs/fw_cfg.txt) through which firmware such as SeaBIOS learns
 * the platform: numbered items, named files listed in a directory, and
 * the DMA interface.  The vm process fills it before the guest runs;
 * the guest only reads.  Items are copied in, so callers keep nothing.
 */

#ifndef FW_CFG_H
#define FW_CFG_H

#include <stddef.h>
#include <stdint.h>

struct device;
struct vm_mem;
struct acpi_build;

#define FW_CFG_PORT_SEL		0x510	/* 16-bit selector */
#define FW_CFG_PORT_DATA	0x511	/* 8-bit data */
#define FW_CFG_PORT_DMA		0x514	/* DMA address, big-endian, 2x32 */

/* Selector keys of the items firmware reads by number */
#define FW_CFG_SIGNATURE	0x0000
#define FW_CFG_ID		0x0001
#define FW_CFG_NB_CPUS		0x0005
#define FW_CFG_MAX_CPUS		0x000f
#define FW_CFG_FILE_DIR		0x0019
#define FW_CFG_FILE_FIRST	0x0020

#define FW_CFG_NAME_LEN		56
#define FW_CFG_MAX_ITEMS	64
#define FW_CFG_ITEM_MAX		(16U << 20)	/* one item, bytes */

/* Boot devices of fw_cfg_bootorder(), as vmd.h's VMBOOTDEV_* */
#define FW_CFG_BOOT_AUTO	0
#define FW_CFG_BOOT_CDROM	1
#define FW_CFG_BOOT_DISK	2
#define FW_CFG_BOOT_NET		3

/* fw_cfg.c */
int	 fw_cfg_add_item(struct device *, uint16_t, const void *, size_t);
int	 fw_cfg_add_file(struct device *, const char *, const void *, size_t);
void	 fw_cfg_set_mem(struct device *, const struct vm_mem *);
void	 fw_cfg_clear(struct device *);
int	 fw_cfg_add_acpi(struct device *, const struct acpi_build *);
int	 fw_cfg_bootorder(char *, size_t, int, const uint8_t *, size_t,
	    int);

#endif /* FW_CFG_H */
