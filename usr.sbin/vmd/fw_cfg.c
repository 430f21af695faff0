/*
 * fw_cfg.c: QEMU's firmware configuration device (docs/specs/fw_cfg.txt)
 * on ports 0x510 (selector), 0x511 (data) and 0x514 (DMA address), as
 * SeaBIOS uses it: the "QEMU" signature, the feature ID with DMA, a file
 * directory, and whatever items and files the vm process added (the
 * e820 map, the ACPI tables with QEMU's linker/loader script, the boot
 * order, the serial console port).  Reads past an item's end give zeros.
 * A DMA request is read from guest RAM, its length and address are
 * checked against guest memory before anything is copied, and its status
 * is written back; a bad request sets the error bit and changes nothing
 * else.  Nothing the guest writes here may end or block the vm process.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "acpi.h"
#include "dev.h"
#include "fw_cfg.h"
#include "vm.h"

#define SEL_PORTS		2	/* 0x510-0x511 */
#define DMA_PORTS		8	/* 0x514-0x51b */
#define FW_CFG_ID_TRAD		0x01
#define FW_CFG_ID_DMA		0x02
#define DMA_SIGNATURE		"QEMU CFG"

#define DMA_CTL_ERROR		0x01
#define DMA_CTL_READ		0x02
#define DMA_CTL_SKIP		0x04
#define DMA_CTL_SELECT		0x08
#define DMA_CTL_WRITE		0x10
#define DMA_REQ_LEN		16

/* QEMU's linker/loader commands (hw/acpi/bios-linker-loader.c) */
#define LOADER_ALLOCATE		1
#define LOADER_ADD_POINTER	2
#define LOADER_ADD_CHECKSUM	3
#define LOADER_ZONE_HIGH	1
#define LOADER_ZONE_FSEG	2
#define LOADER_CMD_LEN		128

struct fw_cfg_item {
	uint16_t	 key;
	uint8_t		*data;
	uint32_t	 len;
	char		 name[FW_CFG_NAME_LEN];	/* "" for a numbered item */
};

struct fw_cfg {
	struct device		*dev;
	const struct vm_mem	*mem;		/* for DMA, or NULL */
	struct fw_cfg_item	 item[FW_CFG_MAX_ITEMS];
	size_t			 nitem;
	uint16_t		 nfile;
	uint8_t			*dir;		/* the file directory */
	uint32_t		 dirlen;
	uint16_t		 sel;
	uint32_t		 off;
	uint32_t		 dma_hi;
};

static int	 fw_cfg_attach(struct device *, const struct dev_attach_args *);
static void	 fw_cfg_io(struct device *, enum dev_space, uint64_t, int,
		    uint8_t *, int);
static void	 fw_cfg_reset(struct device *);
static void	 fw_cfg_detach(struct device *);

const struct devsw fw_cfg_devsw = {
	.name = "fw_cfg",
	.attach = fw_cfg_attach,
	.io = fw_cfg_io,
	.reset = fw_cfg_reset,
	.detach = fw_cfg_detach
};

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void
put_le(uint8_t *p, uint64_t v, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return (v);
}

static struct fw_cfg_item *
item_find(struct fw_cfg *sc, uint16_t key)
{
	size_t	 i;

	for (i = 0; i < sc->nitem; i++)
		if (sc->item[i].key == key)
			return (&sc->item[i]);
	return (NULL);
}

/* Replace or add an item; called with the device lock held. */
static int
item_set(struct fw_cfg *sc, uint16_t key, const char *name, const void *data,
    size_t len)
{
	struct fw_cfg_item *it;
	uint8_t		*copy = NULL;

	if (len > FW_CFG_ITEM_MAX) {
		errno = EFBIG;
		return (-1);
	}
	if (len > 0) {
		if ((copy = malloc(len)) == NULL)
			return (-1);
		memcpy(copy, data, len);
	}
	if ((it = item_find(sc, key)) == NULL) {
		if (sc->nitem >= FW_CFG_MAX_ITEMS) {
			free(copy);
			errno = ENOSPC;
			return (-1);
		}
		it = &sc->item[sc->nitem++];
		it->key = key;
	} else
		free(it->data);
	it->data = copy;
	it->len = (uint32_t)len;
	memset(it->name, 0, sizeof(it->name));
	if (name != NULL)
		strncpy(it->name, name, sizeof(it->name) - 1);
	return (0);
}

/* The directory: count, then size, select, reserved, name per file. */
static int
dir_rebuild(struct fw_cfg *sc)
{
	uint8_t	*d, *e;
	size_t	 i, n = 0;

	for (i = 0; i < sc->nitem; i++)
		if (sc->item[i].name[0] != '\0')
			n++;
	if ((d = calloc(1, 4 + 64 * n)) == NULL)
		return (-1);
	put_be(d, n, 4);
	e = d + 4;
	for (i = 0; i < sc->nitem; i++) {
		if (sc->item[i].name[0] == '\0')
			continue;
		put_be(e, sc->item[i].len, 4);
		put_be(e + 4, sc->item[i].key, 2);
		memcpy(e + 8, sc->item[i].name, FW_CFG_NAME_LEN);
		e += 64;
	}
	free(sc->dir);
	sc->dir = d;
	sc->dirlen = (uint32_t)(4 + 64 * n);
	return (0);
}

/* What the selector shows: the fixed items, the directory, the rest. */
static void
selected(struct fw_cfg *sc, const uint8_t **p, uint32_t *len)
{
	static const uint8_t sig[4] = { 'Q', 'E', 'M', 'U' };
	static const uint8_t id[4] = { FW_CFG_ID_TRAD | FW_CFG_ID_DMA };
	struct fw_cfg_item *it;

	*p = NULL;
	*len = 0;
	switch (sc->sel) {
	case FW_CFG_SIGNATURE:
		*p = sig;
		*len = sizeof(sig);
		return;
	case FW_CFG_ID:
		*p = id;
		*len = sizeof(id);
		return;
	case FW_CFG_FILE_DIR:
		*p = sc->dir;
		*len = sc->dirlen;
		return;
	}
	if ((it = item_find(sc, sc->sel)) != NULL) {
		*p = it->data;
		*len = it->len;
	}
}

static void
select_item(struct fw_cfg *sc, uint16_t sel)
{
	sc->sel = sel;
	sc->off = 0;
}

/* The next n bytes of the selected item into dst, zeros past its end. */
static void
data_read(struct fw_cfg *sc, uint8_t *dst, uint32_t n)
{
	const uint8_t	*p;
	uint32_t	 len, k;

	selected(sc, &p, &len);
	k = sc->off < len ? len - sc->off : 0;
	if (k > n)
		k = n;
	if (k > 0)
		memcpy(dst, p + sc->off, k);
	memset(dst + k, 0, n - k);
	sc->off = n > UINT32_MAX - sc->off ? UINT32_MAX : sc->off + n;
}

/* Guest RAM for DMA: ordinary RAM or the BIOS area firmware lives in. */
static uint8_t *
dma_ptr(struct fw_cfg *sc, uint64_t gpa, uint64_t len)
{
	uint8_t	*p;

	if (sc->mem == NULL || len == 0)
		return (NULL);
	if ((p = vm_gpa_ptr(sc->mem, gpa, len)) != NULL)
		return (p);
	return (vm_hole_ptr(sc->mem, gpa, len));
}

static void
dma_run(struct fw_cfg *sc, uint64_t req)
{
	uint8_t		*r, *dst;
	uint32_t	 ctl, len;
	uint64_t	 addr;
	int		 err = 0;

	if ((r = dma_ptr(sc, req, DMA_REQ_LEN)) == NULL) {
		log_limited(LOG_DEBUG,
		    "fw_cfg: DMA request at 0x%llx outside guest RAM",
		    (unsigned long long)req);
		return;
	}
	ctl = (uint32_t)get_be(r, 4);
	len = (uint32_t)get_be(r + 4, 4);
	addr = get_be(r + 8, 8);
	if (ctl & DMA_CTL_SELECT)
		select_item(sc, (uint16_t)(ctl >> 16));
	if (ctl & DMA_CTL_WRITE)
		err = 1;		/* every item is read-only */
	else if (ctl & DMA_CTL_READ) {
		if (len > 0 && (dst = dma_ptr(sc, addr, len)) == NULL)
			err = 1;
		else if (len > 0)
			data_read(sc, dst, len);
	} else if (ctl & DMA_CTL_SKIP)
		sc->off = len > UINT32_MAX - sc->off ? UINT32_MAX :
		    sc->off + len;
	put_be(r, err ? DMA_CTL_ERROR : 0, 4);
}

static void
fw_cfg_io(struct device *dev, enum dev_space space, uint64_t addr, int size,
    uint8_t *data, int write)
{
	struct fw_cfg	*sc = dev->softc;
	uint64_t	 v = 0;
	int		 i;

	if (space != DEV_SPACE_IO)
		goto unclaimed;
	if (addr == FW_CFG_PORT_SEL && size == 2) {
		if (write)
			select_item(sc, (uint16_t)(data[0] | data[1] << 8));
		else
			data[0] = data[1] = 0;
		return;
	}
	if (addr == FW_CFG_PORT_DATA && size == 1) {
		if (!write)
			data_read(sc, data, 1);
		return;
	}
	if (addr >= FW_CFG_PORT_DMA && addr < FW_CFG_PORT_DMA + DMA_PORTS) {
		if (!write) {
			for (i = 0; i < size; i++)
				data[i] = DMA_SIGNATURE[addr - FW_CFG_PORT_DMA +
				    i];
			return;
		}
		/* big-endian halves: the high one, then the low one acts */
		for (i = 0; i < size; i++)
			v = (v << 8) | data[i];
		if (addr == FW_CFG_PORT_DMA && size == 4)
			sc->dma_hi = (uint32_t)v;
		else if (addr == FW_CFG_PORT_DMA + 4 && size == 4) {
			dma_run(sc, (uint64_t)sc->dma_hi << 32 | v);
			sc->dma_hi = 0;
		}
		return;
	}
 unclaimed:
	if (!write)
		memset(data, 0xff, size);
}

int
fw_cfg_add_item(struct device *dev, uint16_t key, const void *data,
    size_t len)
{
	struct fw_cfg	*sc = dev->softc;
	int		 rv;

	if (key == FW_CFG_SIGNATURE || key == FW_CFG_ID ||
	    key == FW_CFG_FILE_DIR) {
		errno = EINVAL;
		return (-1);
	}
	pthread_mutex_lock(&dev->lock);
	rv = item_set(sc, key, NULL, data, len);
	pthread_mutex_unlock(&dev->lock);
	return (rv);
}

/* A named file; adding a name again replaces its contents. */
int
fw_cfg_add_file(struct device *dev, const char *name, const void *data,
    size_t len)
{
	struct fw_cfg	*sc = dev->softc;
	uint16_t	 key;
	size_t		 i;
	int		 rv;

	if (name[0] == '\0' || strlen(name) >= FW_CFG_NAME_LEN) {
		errno = EINVAL;
		return (-1);
	}
	pthread_mutex_lock(&dev->lock);
	key = FW_CFG_FILE_FIRST + sc->nfile;
	for (i = 0; i < sc->nitem; i++)
		if (strcmp(sc->item[i].name, name) == 0)
			key = sc->item[i].key;
	rv = item_set(sc, key, name, data, len);
	if (rv == 0 && key == FW_CFG_FILE_FIRST + sc->nfile)
		sc->nfile++;
	if (rv == 0)
		rv = dir_rebuild(sc);
	pthread_mutex_unlock(&dev->lock);
	return (rv);
}

void
fw_cfg_set_mem(struct device *dev, const struct vm_mem *mem)
{
	struct fw_cfg	*sc = dev->softc;

	pthread_mutex_lock(&dev->lock);
	sc->mem = mem;
	pthread_mutex_unlock(&dev->lock);
}

/* Forget every item and file, for a boot that needs none. */
void
fw_cfg_clear(struct device *dev)
{
	struct fw_cfg	*sc = dev->softc;
	size_t		 i;

	pthread_mutex_lock(&dev->lock);
	for (i = 0; i < sc->nitem; i++)
		free(sc->item[i].data);
	sc->nitem = 0;
	sc->nfile = 0;
	dir_rebuild(sc);
	pthread_mutex_unlock(&dev->lock);
}

static void
loader_name(uint8_t *p, enum acpi_file f)
{
	strncpy((char *)p, f == ACPI_FILE_RSDP ? "etc/acpi/rsdp" :
	    "etc/acpi/tables", FW_CFG_NAME_LEN);
}

/*
 * SeaBIOS's "bootorder" file: one device path per line, as SeaBIOS
 * builds them (src/boot.c): "/pci@i0cf8/" then "*@SLOT" for a PCI disk,
 * and after that "/" "*@0/" "*@TARGET,LUN" for a SCSI unit, here the
 * virtio-scsi CD-ROM at target 0, LUN 0 (a star is SeaBIOS's wildcard
 * for the device's name).  A chosen device (FW_CFG_BOOT_DISK, _CDROM, _NET)
 * comes alone and ends with HALT, which keeps SeaBIOS off any other;
 * the default lists the disks, then the CD-ROM.  There is no network
 * boot ROM, so "net" boots nothing.  disks holds ndisks slots, cdrom is
 * a slot or -1.  Returns the length of the NUL-terminated text in buf,
 * or -1 if len is too small.
 */
int
fw_cfg_bootorder(char *buf, size_t len, int bootdev, const uint8_t *disks,
    size_t ndisks, int cdrom)
{
	size_t	 off = 0, i;
	int	 n;

#define ADD(...)	do {						\
	n = snprintf(buf + off, len - off, __VA_ARGS__);		\
	if (n < 0 || (size_t)n >= len - off)				\
		return (-1);						\
	off += (size_t)n;						\
} while (0)
	if (len == 0)
		return (-1);
	buf[0] = '\0';
	if (bootdev == FW_CFG_BOOT_AUTO || bootdev == FW_CFG_BOOT_DISK)
		for (i = 0; i < ndisks; i++)
			ADD("%s/pci@i0cf8/*@%x", off > 0 ? "\n" : "",
			    disks[i]);
	if ((bootdev == FW_CFG_BOOT_AUTO || bootdev == FW_CFG_BOOT_CDROM) &&
	    cdrom >= 0)
		ADD("%s/pci@i0cf8/*@%x/*@0/*@0,0", off > 0 ? "\n" : "",
		    cdrom);
	if (bootdev != FW_CFG_BOOT_AUTO)
		ADD("%sHALT", off > 0 ? "\n" : "");
#undef ADD
	return ((int)off);
}

/*
 * The ACPI tables as QEMU hands them to SeaBIOS: the two files and the
 * linker/loader script that places them (the RSDP in the F segment, the
 * rest in high memory), fixes the pointers and the checksums.
 */
int
fw_cfg_add_acpi(struct device *dev, const struct acpi_build *ab)
{
	uint8_t		*s, *c;
	size_t		 n = 2 + ab->nptr + ab->nsum, i;
	int		 rv;

	if ((s = calloc(n, LOADER_CMD_LEN)) == NULL)
		return (-1);
	c = s;
	c[0] = LOADER_ALLOCATE;
	loader_name(c + 4, ACPI_FILE_RSDP);
	put_le(c + 60, 16, 4);			/* align */
	c[64] = LOADER_ZONE_FSEG;
	c += LOADER_CMD_LEN;
	c[0] = LOADER_ALLOCATE;
	loader_name(c + 4, ACPI_FILE_TABLES);
	put_le(c + 60, ACPI_TABLES_ALIGN, 4);
	c[64] = LOADER_ZONE_HIGH;
	c += LOADER_CMD_LEN;
	for (i = 0; i < ab->nptr; i++, c += LOADER_CMD_LEN) {
		c[0] = LOADER_ADD_POINTER;
		loader_name(c + 4, ab->ptr[i].src);	/* holds the pointer */
		loader_name(c + 60, ab->ptr[i].dst);	/* pointed to */
		put_le(c + 116, ab->ptr[i].off, 4);
		c[120] = ab->ptr[i].size;
	}
	for (i = 0; i < ab->nsum; i++, c += LOADER_CMD_LEN) {
		c[0] = LOADER_ADD_CHECKSUM;
		loader_name(c + 4, ab->sum[i].file);
		put_le(c + 60, ab->sum[i].off, 4);
		put_le(c + 64, ab->sum[i].start, 4);
		put_le(c + 68, ab->sum[i].len, 4);
	}
	rv = fw_cfg_add_file(dev, "etc/acpi/rsdp", ab->rsdp, ACPI_RSDP_LEN);
	if (rv == 0)
		rv = fw_cfg_add_file(dev, "etc/acpi/tables", ab->tables,
		    ab->tables_len);
	if (rv == 0)
		rv = fw_cfg_add_file(dev, "etc/table-loader", s,
		    n * LOADER_CMD_LEN);
	free(s);
	return (rv);
}

static int
fw_cfg_attach(struct device *dev, const struct dev_attach_args *args)
{
	struct fw_cfg	*sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		log_warn("fw_cfg: calloc");
		return (-1);
	}
	sc->dev = dev;
	if (dir_rebuild(sc) == -1 ||
	    dev_claim(dev, DEV_SPACE_IO, FW_CFG_PORT_SEL, SEL_PORTS) == -1 ||
	    dev_claim(dev, DEV_SPACE_IO, FW_CFG_PORT_DMA, DMA_PORTS) == -1) {
		free(sc->dir);
		free(sc);
		return (-1);
	}
	dev->softc = sc;
	return (0);
}

static void
fw_cfg_reset(struct device *dev)
{
	struct fw_cfg	*sc = dev->softc;

	pthread_mutex_lock(&dev->lock);
	select_item(sc, 0);
	sc->dma_hi = 0;
	pthread_mutex_unlock(&dev->lock);
}

static void
fw_cfg_detach(struct device *dev)
{
	struct fw_cfg	*sc = dev->softc;
	size_t		 i;

	for (i = 0; i < sc->nitem; i++)
		free(sc->item[i].data);
	free(sc->dir);
	free(sc);
	dev->softc = NULL;
}
