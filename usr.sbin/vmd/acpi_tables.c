/*
 * acpi_tables.c: builds the ACPI tables that describe the guest platform
 * (ACPI 6.x): RSDP, RSDT and XSDT, FADT (PM1a event and control blocks
 * and the PM timer at VM_PM_BASE, SCI on IRQ 9, a fixed-feature power
 * button, reset through the i8042), FACS, a DSDT written in AML here (\_S5
 * with the SLP_TYP acpi.c acts on, the PCI root bridge with pci.c's
 * windows and INTx routing, COM1, the RTC, one ACPI0007 processor device
 * per vCPU) and a MADT (one LAPIC per vCPU, KVM's IOAPIC, IRQ0 -> GSI 2
 * and the SCI as level).  The build is position independent (see acpi.h); placing it
 * fixes the pointers and checksums.  It takes no input from a guest; its
 * only inputs are the vCPU count and the platform constants, and it must
 * never write past the buffers of struct acpi_build.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "pci.h"
#include "vm.h"

#define OEM_ID		"VMD   "	/* 6 bytes */
#define OEM_TABLE_ID	"VMDTABLE"	/* 8 bytes */
#define OEM_REVISION	1
#define CREATOR_ID	"VMD "
#define CREATOR_REV	1

#define HDR_LEN		36
#define HDR_CKSUM	9

/* FADT (revision 6, ACPI 6.x) offsets and flags */
#define FADT_LEN		276
#define FADT_REV		6
#define FADT_MINOR		4	/* ACPI 6.4 */
#define FADT_FIRMWARE_CTRL	36
#define FADT_DSDT		40
#define FADT_SCI_INT		46
#define FADT_PM1A_EVT		56
#define FADT_PM1A_CNT		64
#define FADT_PM_TMR		76
#define FADT_PM1_EVT_LEN	88
#define FADT_PM1_CNT_LEN	89
#define FADT_PM_TMR_LEN		91
#define FADT_P_LVL2_LAT		96
#define FADT_P_LVL3_LAT		98
#define FADT_CENTURY		108
#define FADT_IAPC_BOOT_ARCH	109
#define FADT_FLAGS		112
#define FADT_RESET_REG		116
#define FADT_RESET_VALUE	128
#define FADT_MINOR_VERSION	131
#define FADT_X_DSDT		140
#define FADT_X_PM1A_EVT		148
#define FADT_X_PM1A_CNT		172
#define FADT_X_PM_TMR		208

#define BOOT_ARCH_LEGACY	0x0001	/* ISA devices (COM1, RTC) */
#define BOOT_ARCH_8042		0x0002
#define BOOT_ARCH_NO_VGA	0x0004

#define FADT_F_WBINVD		(1U << 0)
#define FADT_F_PROC_C1		(1U << 2)
#define FADT_F_SLP_BUTTON	(1U << 5)	/* no fixed sleep button */
#define FADT_F_FIX_RTC		(1U << 6)	/* no RTC wake status */
#define FADT_F_RESET_REG_SUP	(1U << 10)
/* PWR_BUTTON (bit 4) stays clear: the power button is fixed hardware. */

#define GAS_SYSTEM_IO		1
#define GAS_BYTE		1
#define GAS_WORD		2
#define GAS_DWORD		3

#define RTC_CENTURY_REG		0x32
#define I8042_CMD_PORT		(VM_I8042_PORT + 4)
#define I8042_RESET		0xfe

#define FACS_LEN		64

/* MADT */
#define MADT_PCAT_COMPAT	1
#define MADT_LAPIC		0
#define MADT_IOAPIC		1
#define MADT_ISO		2
#define MADT_LAPIC_NMI		4
#define MPS_ACTIVE_HIGH		0x1
#define MPS_LEVEL		(0x3 << 2)
#define IOAPIC_ID		0	/* what KVM's IOAPIC reports */

/* AML opcodes */
#define AML_ZERO		0x00
#define AML_ONE			0x01
#define AML_NAME		0x08
#define AML_BYTE		0x0a
#define AML_WORD		0x0b
#define AML_DWORD		0x0c
#define AML_STRING		0x0d
#define AML_SCOPE		0x10
#define AML_BUFFER		0x11
#define AML_PACKAGE		0x12
#define AML_EXT			0x5b
#define AML_DEVICE		0x82
#define AML_ROOT		'\\'
#define AML_MAX_DEPTH		8

/* Resource descriptors */
#define RES_IRQ_NOFLAGS		0x22
#define RES_IO			0x47
#define RES_END			0x79
#define RES_DWORD_ADDR		0x87
#define RES_WORD_ADDR		0x88
#define RES_TYPE_MEM		0
#define RES_TYPE_IO		1
#define RES_TYPE_BUS		2
#define RES_MIN_MAX_FIXED	0x0c	/* producer, positive decode */

/* A growing AML byte string with nested PkgLength-prefixed scopes. */
struct aml {
	uint8_t		*b;
	size_t		 len;
	size_t		 cap;
	size_t		 open[AML_MAX_DEPTH];
	int		 depth;
	int		 err;
};

static void
aml_byte(struct aml *a, uint8_t v)
{
	if (a->len >= a->cap) {
		a->err = 1;
		return;
	}
	a->b[a->len++] = v;
}

static void
aml_bytes(struct aml *a, const void *p, size_t n)
{
	const uint8_t	*s = p;
	size_t		 i;

	for (i = 0; i < n; i++)
		aml_byte(a, s[i]);
}

static void
aml_le(struct aml *a, uint64_t v, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

/*
 * Open a PkgLength scope: reserve the longest encoding (4 bytes) and
 * shrink it when the scope is closed and its length known.
 */
static void
aml_open(struct aml *a)
{
	if (a->depth >= AML_MAX_DEPTH) {
		a->err = 1;
		return;
	}
	a->open[a->depth++] = a->len;
	aml_le(a, 0, 4);
}

static void
aml_close(struct aml *a)
{
	size_t	 start, body, total;
	int	 n;

	if (a->err || a->depth == 0) {
		a->err = 1;
		return;
	}
	start = a->open[--a->depth];
	body = a->len - start - 4;
	/* PkgLength counts itself */
	if (body + 1 <= 0x3f)
		n = 1;
	else if (body + 2 <= 0xfff)
		n = 2;
	else if (body + 3 <= 0xfffff)
		n = 3;
	else if (body + 4 <= 0xfffffff)
		n = 4;
	else {
		a->err = 1;
		return;
	}
	total = body + n;
	if (n == 1)
		a->b[start] = (uint8_t)total;
	else {
		a->b[start] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		a->b[start + 1] = (uint8_t)(total >> 4);
		if (n > 2)
			a->b[start + 2] = (uint8_t)(total >> 12);
		if (n > 3)
			a->b[start + 3] = (uint8_t)(total >> 20);
	}
	memmove(a->b + start + n, a->b + start + 4, body);
	a->len -= 4 - n;
}

/* A NameSeg or a path of dot-separated NameSegs, each padded with '_'. */
static void
aml_name(struct aml *a, const char *path)
{
	const char	*p = path, *dot;
	size_t		 nseg = 1, i, l;

	if (*p == AML_ROOT)
		aml_byte(a, *p++);
	for (i = 0; p[i] != '\0'; i++)
		if (p[i] == '.')
			nseg++;
	if (nseg == 2)
		aml_byte(a, 0x2e);		/* DualNamePrefix */
	else if (nseg > 2) {
		aml_byte(a, 0x2f);		/* MultiNamePrefix */
		aml_byte(a, (uint8_t)nseg);
	}
	while (nseg-- > 0) {
		dot = strchr(p, '.');
		l = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (l == 0 || l > 4) {
			a->err = 1;
			return;
		}
		for (i = 0; i < 4; i++)
			aml_byte(a, i < l ? (uint8_t)p[i] : '_');
		p += l + (dot != NULL);
	}
}

static void
aml_int(struct aml *a, uint64_t v)
{
	if (v == 0)
		aml_byte(a, AML_ZERO);
	else if (v == 1)
		aml_byte(a, AML_ONE);
	else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		aml_le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD);
		aml_le(a, v, 2);
	} else {
		aml_byte(a, AML_DWORD);
		aml_le(a, v, 4);
	}
}

static void
aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

/* EISAID("PNP0A03"): three letters and four hex digits, big-endian. */
static void
aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v;
	int	 i, c;

	v = (uint32_t)(id[0] - 0x40) << 26 | (uint32_t)(id[1] - 0x40) << 21 |
	    (uint32_t)(id[2] - 0x40) << 16;
	for (i = 3; i < 7; i++) {
		c = id[i];
		c = c >= 'A' ? c - 'A' + 10 : c - '0';
		v |= (uint32_t)c << (4 * (6 - i));
	}
	aml_byte(a, AML_DWORD);
	aml_le(a, __builtin_bswap32(v), 4);
}

static void
aml_name_int(struct aml *a, const char *name, uint64_t v)
{
	aml_byte(a, AML_NAME);
	aml_name(a, name);
	aml_int(a, v);
}

static void
aml_name_eisaid(struct aml *a, const char *name, const char *id)
{
	aml_byte(a, AML_NAME);
	aml_name(a, name);
	aml_eisaid(a, id);
}

static void
aml_device_open(struct aml *a, const char *name)
{
	aml_byte(a, AML_EXT);
	aml_byte(a, AML_DEVICE);
	aml_open(a);
	aml_name(a, name);
}

/* Name (name, ResourceTemplate () { ... }): open; body; res_close() */
static void
res_open(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME);
	aml_name(a, name);
	aml_byte(a, AML_BUFFER);
	aml_open(a);
	/* BufferSize as a DWordConst, filled in by res_close() */
	aml_byte(a, AML_DWORD);
	aml_le(a, 0, 4);
}

static void
res_close(struct aml *a)
{
	size_t	 start, size_at, n;

	aml_byte(a, RES_END);
	aml_byte(a, 0);			/* checksum 0: "ignore" */
	if (a->err || a->depth == 0) {
		a->err = 1;
		return;
	}
	start = a->open[a->depth - 1] + 4;	/* after the PkgLength */
	size_at = start + 1;
	n = a->len - (size_at + 4);
	a->b[size_at] = (uint8_t)n;
	a->b[size_at + 1] = (uint8_t)(n >> 8);
	a->b[size_at + 2] = (uint8_t)(n >> 16);
	a->b[size_at + 3] = (uint8_t)(n >> 24);
	aml_close(a);
}

static void
res_io(struct aml *a, uint16_t base, uint8_t align, uint8_t len)
{
	aml_byte(a, RES_IO);
	aml_byte(a, 1);			/* 16-bit decode */
	aml_le(a, base, 2);		/* minimum */
	aml_le(a, base, 2);		/* maximum */
	aml_byte(a, align);
	aml_byte(a, len);
}

static void
res_irq(struct aml *a, unsigned int irq)
{
	aml_byte(a, RES_IRQ_NOFLAGS);
	aml_le(a, 1U << irq, 2);
}

static void
res_word(struct aml *a, uint8_t type, uint8_t tflags, uint16_t min,
    uint16_t max)
{
	aml_byte(a, RES_WORD_ADDR);
	aml_le(a, 13, 2);
	aml_byte(a, type);
	aml_byte(a, RES_MIN_MAX_FIXED);
	aml_byte(a, tflags);
	aml_le(a, 0, 2);		/* granularity */
	aml_le(a, min, 2);
	aml_le(a, max, 2);
	aml_le(a, 0, 2);		/* translation */
	aml_le(a, (uint32_t)max - min + 1, 2);
}

static void
res_dword_mem(struct aml *a, uint32_t min, uint32_t max)
{
	aml_byte(a, RES_DWORD_ADDR);
	aml_le(a, 23, 2);
	aml_byte(a, RES_TYPE_MEM);
	aml_byte(a, RES_MIN_MAX_FIXED);
	aml_byte(a, 0x01);		/* read-write, non-cacheable */
	aml_le(a, 0, 4);		/* granularity */
	aml_le(a, min, 4);
	aml_le(a, max, 4);
	aml_le(a, 0, 4);		/* translation */
	aml_le(a, (uint64_t)max - min + 1, 4);
}

/*
 * \_SB.PCI0._PRT: the INTA# of each slot wired, as pci_intx_irq() says,
 * straight to a GSI (source 0), which the OS programs level-triggered;
 * without it an ACPI OS in APIC mode finds no interrupt for a function
 * that has no MSI-X.  Other pins are not wired: every function is single
 * and uses INTA#.
 */
static void
dsdt_prt(struct aml *a)
{
	uint8_t	 slot;

	aml_byte(a, AML_NAME);
	aml_name(a, "_PRT");
	aml_byte(a, AML_PACKAGE);
	aml_open(a);
	aml_byte(a, PCI_MAX_SLOTS - 1);
	for (slot = 1; slot < PCI_MAX_SLOTS; slot++) {
		aml_byte(a, AML_PACKAGE);
		aml_open(a);
		aml_byte(a, 4);
		aml_int(a, ((uint32_t)slot << 16) | 0xffff);	/* any fn */
		aml_int(a, 0);					/* INTA# */
		aml_int(a, 0);					/* a GSI */
		aml_int(a, pci_intx_irq(slot));
		aml_close(a);
	}
	aml_close(a);
}

/*
 * The DSDT body.  The power button needs no object: it is the FADT's
 * fixed-feature button, which the OS finds without one.
 */
static void
dsdt_body(struct aml *a, uint32_t ncpus)
{
	char	 name[8];
	uint32_t i;

	/* \_S5: SLP_TYPa, SLP_TYPb, two reserved */
	aml_byte(a, AML_NAME);
	aml_name(a, "\\_S5");
	aml_byte(a, AML_PACKAGE);
	aml_open(a);
	aml_byte(a, 4);
	aml_int(a, VM_PM1_SLP_TYP_S5);
	aml_int(a, VM_PM1_SLP_TYP_S5);
	aml_int(a, 0);
	aml_int(a, 0);
	aml_close(a);

	aml_byte(a, AML_SCOPE);
	aml_open(a);
	aml_name(a, "\\_SB");

	aml_device_open(a, "PCI0");
	aml_name_eisaid(a, "_HID", "PNP0A03");
	aml_name_int(a, "_ADR", 0);
	aml_name_int(a, "_UID", 0);
	res_open(a, "_CRS");
	res_word(a, RES_TYPE_BUS, 0, 0, 0xff);
	res_io(a, VM_PCI_CONF_PORT, 1, 8);
	res_word(a, RES_TYPE_IO, 0x03, PCI_IO_WINDOW_START,
	    PCI_IO_WINDOW_END - 1);
	res_dword_mem(a, VM_PCI_MMIO_START, VM_PCI_MMIO_END - 1);
	res_close(a);
	dsdt_prt(a);
	aml_close(a);

	aml_device_open(a, "COM1");
	aml_name_eisaid(a, "_HID", "PNP0501");
	aml_name_int(a, "_UID", 1);
	res_open(a, "_CRS");
	res_io(a, VM_COM1_PORT, 1, 8);
	res_irq(a, VM_COM1_IRQ);
	res_close(a);
	aml_close(a);

	aml_device_open(a, "RTC");
	aml_name_eisaid(a, "_HID", "PNP0B00");
	res_open(a, "_CRS");
	res_io(a, VM_RTC_PORT, 1, 2);
	res_irq(a, VM_RTC_IRQ);
	res_close(a);
	aml_close(a);

	for (i = 0; i < ncpus; i++) {
		snprintf(name, sizeof(name), "C%03X", i);
		aml_device_open(a, name);
		aml_byte(a, AML_NAME);
		aml_name(a, "_HID");
		aml_string(a, "ACPI0007");
		aml_name_int(a, "_UID", i);
		aml_close(a);
	}

	aml_close(a);			/* \_SB */
}

static void
put_le(uint8_t *p, uint64_t v, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return (v);
}

static void
put_gas(uint8_t *p, uint8_t bits, uint8_t access, uint64_t addr)
{
	p[0] = GAS_SYSTEM_IO;
	p[1] = bits;
	p[2] = 0;
	p[3] = access;
	put_le(p + 4, addr, 8);
}

struct builder {
	struct acpi_build	*ab;
	size_t			 cap;
	int			 err;
};

/* Room for len bytes at the next multiple of align; NULL when full. */
static uint8_t *
blob_alloc(struct builder *b, size_t len, size_t align, uint32_t *off)
{
	struct acpi_build *ab = b->ab;
	size_t		 at = (ab->tables_len + align - 1) & ~(align - 1);

	if (at > b->cap || len > b->cap - at) {
		b->err = 1;
		return (NULL);
	}
	memset(ab->tables + ab->tables_len, 0, at + len - ab->tables_len);
	ab->tables_len = at + len;
	*off = (uint32_t)at;
	return (ab->tables + at);
}

static void
add_ptr(struct builder *b, enum acpi_file src, uint32_t off, uint8_t size,
    enum acpi_file dst, uint32_t target)
{
	struct acpi_build *ab = b->ab;
	uint8_t		*p = src == ACPI_FILE_RSDP ? ab->rsdp : ab->tables;

	if (ab->nptr >= ACPI_MAX_PTRS) {
		b->err = 1;
		return;
	}
	put_le(p + off, target, size);
	ab->ptr[ab->nptr++] = (struct acpi_ptr){ src, off, size, dst };
}

static void
add_sum(struct builder *b, enum acpi_file file, uint32_t start, uint32_t len,
    uint32_t off)
{
	struct acpi_build *ab = b->ab;

	if (ab->nsum >= ACPI_MAX_SUMS) {
		b->err = 1;
		return;
	}
	ab->sum[ab->nsum++] = (struct acpi_sum){ file, start, len, off };
}

static void
put_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put_le(t + 4, len, 4);
	t[8] = rev;
	t[HDR_CKSUM] = 0;
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	put_le(t + 24, OEM_REVISION, 4);
	memcpy(t + 28, CREATOR_ID, 4);
	put_le(t + 32, CREATOR_REV, 4);
}

/* A table of len bytes, 8-byte aligned, with its header and checksum. */
static uint8_t *
table_new(struct builder *b, const char *sig, uint32_t len, uint8_t rev,
    uint32_t *off)
{
	uint8_t	*t;

	if ((t = blob_alloc(b, len, 8, off)) == NULL)
		return (NULL);
	put_header(t, sig, len, rev);
	add_sum(b, ACPI_FILE_TABLES, *off, len, *off + HDR_CKSUM);
	return (t);
}

static void
build_facs(struct builder *b)
{
	uint8_t	*t;

	if ((t = blob_alloc(b, FACS_LEN, ACPI_TABLES_ALIGN,
	    &b->ab->facs_off)) == NULL)
		return;
	memcpy(t, "FACS", 4);
	put_le(t + 4, FACS_LEN, 4);
	t[32] = 2;			/* version */
}

static void
build_dsdt(struct builder *b, uint32_t ncpus)
{
	struct acpi_build *ab = b->ab;
	struct aml	 a;
	uint32_t	 off;
	uint8_t		*t;

	if ((t = blob_alloc(b, HDR_LEN, 8, &off)) == NULL)
		return;
	memset(&a, 0, sizeof(a));
	a.b = ab->tables;
	a.len = ab->tables_len;
	a.cap = b->cap;
	dsdt_body(&a, ncpus);
	if (a.err || a.depth != 0) {
		b->err = 1;
		return;
	}
	ab->tables_len = a.len;
	put_header(t, "DSDT", (uint32_t)(a.len - off), 2);
	add_sum(b, ACPI_FILE_TABLES, off, (uint32_t)(a.len - off),
	    off + HDR_CKSUM);
	ab->dsdt_off = off;
}

static void
build_fadt(struct builder *b)
{
	struct acpi_build *ab = b->ab;
	uint32_t	 off;
	uint8_t		*t;

	if ((t = table_new(b, "FACP", FADT_LEN, FADT_REV, &off)) == NULL)
		return;
	ab->fadt_off = off;
	put_le(t + FADT_SCI_INT, VM_SCI_IRQ, 2);
	put_le(t + FADT_PM1A_EVT, VM_PM_BASE, 4);
	put_le(t + FADT_PM1A_CNT, VM_PM1_CNT_PORT, 4);
	put_le(t + FADT_PM_TMR, VM_PM_BASE + 8, 4);
	t[FADT_PM1_EVT_LEN] = 4;
	t[FADT_PM1_CNT_LEN] = 2;
	t[FADT_PM_TMR_LEN] = 4;
	put_le(t + FADT_P_LVL2_LAT, 101, 2);	/* > 100: no C2 */
	put_le(t + FADT_P_LVL3_LAT, 1001, 2);	/* > 1000: no C3 */
	t[FADT_CENTURY] = RTC_CENTURY_REG;
	put_le(t + FADT_IAPC_BOOT_ARCH, BOOT_ARCH_LEGACY | BOOT_ARCH_8042 |
	    BOOT_ARCH_NO_VGA, 2);
	put_le(t + FADT_FLAGS, FADT_F_WBINVD | FADT_F_PROC_C1 |
	    FADT_F_SLP_BUTTON | FADT_F_FIX_RTC | FADT_F_RESET_REG_SUP, 4);
	put_gas(t + FADT_RESET_REG, 8, GAS_BYTE, I8042_CMD_PORT);
	t[FADT_RESET_VALUE] = I8042_RESET;
	t[FADT_MINOR_VERSION] = FADT_MINOR;
	put_gas(t + FADT_X_PM1A_EVT, 32, GAS_WORD, VM_PM_BASE);
	put_gas(t + FADT_X_PM1A_CNT, 16, GAS_WORD, VM_PM1_CNT_PORT);
	put_gas(t + FADT_X_PM_TMR, 32, GAS_DWORD, VM_PM_BASE + 8);
	add_ptr(b, ACPI_FILE_TABLES, off + FADT_FIRMWARE_CTRL, 4,
	    ACPI_FILE_TABLES, ab->facs_off);
	add_ptr(b, ACPI_FILE_TABLES, off + FADT_DSDT, 4, ACPI_FILE_TABLES,
	    ab->dsdt_off);
	/*
	 * The FACS only through the 32-bit field: ACPICA installs it once
	 * per field it finds set.
	 */
	add_ptr(b, ACPI_FILE_TABLES, off + FADT_X_DSDT, 8, ACPI_FILE_TABLES,
	    ab->dsdt_off);
}

static void
build_madt(struct builder *b, uint32_t ncpus)
{
	uint32_t len, off, i;
	uint8_t	*t, *e;

	len = 44 + 8 * ncpus + 12 + 2 * 10 + 6;
	if ((t = table_new(b, "APIC", len, 4, &off)) == NULL)
		return;
	b->ab->madt_off = off;
	put_le(t + 36, VM_LAPIC_BASE, 4);
	put_le(t + 40, MADT_PCAT_COMPAT, 4);
	e = t + 44;
	for (i = 0; i < ncpus; i++, e += 8) {
		e[0] = MADT_LAPIC;
		e[1] = 8;
		e[2] = (uint8_t)i;		/* processor UID */
		e[3] = (uint8_t)i;		/* APIC ID = vCPU id */
		put_le(e + 4, 1, 4);		/* enabled */
	}
	e[0] = MADT_IOAPIC;
	e[1] = 12;
	e[2] = IOAPIC_ID;
	put_le(e + 4, VM_IOAPIC_BASE, 4);
	put_le(e + 8, 0, 4);			/* GSI base */
	e += 12;
	/* the PIT's IRQ 0 on IOAPIC pin 2, as on a PC (vmm routes it so) */
	e[0] = MADT_ISO;
	e[1] = 10;
	e[3] = 0;
	put_le(e + 4, 2, 4);
	e += 10;
	/* the SCI: level, and KVM's IOAPIC ignores polarity: high */
	e[0] = MADT_ISO;
	e[1] = 10;
	e[3] = VM_SCI_IRQ;
	put_le(e + 4, VM_SCI_IRQ, 4);
	put_le(e + 8, MPS_ACTIVE_HIGH | MPS_LEVEL, 2);
	e += 10;
	e[0] = MADT_LAPIC_NMI;
	e[1] = 6;
	e[2] = 0xff;				/* all processors */
	e[5] = 1;				/* LINT1 */
}

static void
build_xsdt_rsdt(struct builder *b)
{
	struct acpi_build *ab = b->ab;
	uint32_t	 ent[2] = { ab->fadt_off, ab->madt_off };
	uint32_t	 roff, xoff, i, n = 2;
	uint8_t		*t;

	if ((t = table_new(b, "RSDT", HDR_LEN + 4 * n, 1, &roff)) == NULL)
		return;
	for (i = 0; i < n; i++)
		add_ptr(b, ACPI_FILE_TABLES, roff + HDR_LEN + 4 * i, 4,
		    ACPI_FILE_TABLES, ent[i]);
	if ((t = table_new(b, "XSDT", HDR_LEN + 8 * n, 1, &xoff)) == NULL)
		return;
	for (i = 0; i < n; i++)
		add_ptr(b, ACPI_FILE_TABLES, xoff + HDR_LEN + 8 * i, 8,
		    ACPI_FILE_TABLES, ent[i]);

	memcpy(ab->rsdp, "RSD PTR ", 8);
	memcpy(ab->rsdp + 9, OEM_ID, 6);
	ab->rsdp[15] = 2;			/* revision: ACPI 2.0+ */
	put_le(ab->rsdp + 20, ACPI_RSDP_LEN, 4);
	add_ptr(b, ACPI_FILE_RSDP, 16, 4, ACPI_FILE_TABLES, roff);
	add_ptr(b, ACPI_FILE_RSDP, 24, 8, ACPI_FILE_TABLES, xoff);
	/* the first checksum is inside the range of the second */
	add_sum(b, ACPI_FILE_RSDP, 0, 20, 8);
	add_sum(b, ACPI_FILE_RSDP, 0, ACPI_RSDP_LEN, 32);
}

/*
 * Build the tables for ncpus vCPUs (1 to ACPI_MAX_CPUS).  Returns 0, or
 * -1 with errno EINVAL for a bad count, ENOSPC if they do not fit.
 */
int
acpi_tables_build(struct acpi_build *ab, uint32_t ncpus)
{
	struct builder	 b;

	memset(ab, 0, sizeof(*ab));
	if (ncpus == 0 || ncpus > ACPI_MAX_CPUS) {
		errno = EINVAL;
		return (-1);
	}
	b.ab = ab;
	b.cap = sizeof(ab->tables);
	b.err = 0;
	build_facs(&b);
	build_dsdt(&b, ncpus);
	build_fadt(&b);
	build_madt(&b, ncpus);
	build_xsdt_rsdt(&b);
	if (b.err) {
		memset(ab, 0, sizeof(*ab));
		errno = ENOSPC;
		return (-1);
	}
	return (0);
}

static void
apply_sum(uint8_t *p, const struct acpi_sum *s)
{
	uint8_t	 sum = 0;
	uint32_t i;

	p[s->off] = 0;
	for (i = 0; i < s->len; i++)
		sum += p[s->start + i];
	p[s->off] = (uint8_t)-sum;
}

/*
 * Copy the build to rsdp (ACPI_RSDP_LEN bytes, to live at guest address
 * rsdp_gpa) and tables (tables_len bytes, at tables_gpa), fixing the
 * pointers and checksums as firmware following fw_cfg's linker script
 * would.
 */
void
acpi_tables_place(const struct acpi_build *ab, uint8_t *rsdp,
    uint64_t rsdp_gpa, uint8_t *tables, uint64_t tables_gpa)
{
	const struct acpi_ptr *pt;
	uint8_t		*p;
	uint64_t	 v;
	size_t		 i;

	memcpy(rsdp, ab->rsdp, ACPI_RSDP_LEN);
	memcpy(tables, ab->tables, ab->tables_len);
	for (i = 0; i < ab->nptr; i++) {
		pt = &ab->ptr[i];
		p = (pt->src == ACPI_FILE_RSDP ? rsdp : tables) + pt->off;
		v = get_le(p, pt->size) +
		    (pt->dst == ACPI_FILE_RSDP ? rsdp_gpa : tables_gpa);
		put_le(p, v, pt->size);
	}
	for (i = 0; i < ab->nsum; i++)
		apply_sum(ab->sum[i].file == ACPI_FILE_RSDP ? rsdp : tables,
		    &ab->sum[i]);
}

/*
 * Build and place the tables where a directly booted kernel finds them
 * (ACPI_RSDP_GPA, ACPI_TABLES_GPA); *rsdp gets the RSDP's address.
 */
int
acpi_tables_install(const struct vm_mem *mem, uint32_t ncpus, uint64_t *rsdp,
    char *err, size_t errlen)
{
	struct acpi_build *ab;
	uint8_t		*r, *t;
	int		 rv = -1;

	/* 16K: not for the stack of a vCPU thread */
	if ((ab = malloc(sizeof(*ab))) == NULL) {
		snprintf(err, errlen, "ACPI tables: out of memory");
		return (-1);
	}
	if (acpi_tables_build(ab, ncpus) == -1) {
		snprintf(err, errlen, "ACPI tables for %u vCPUs: %s", ncpus,
		    strerror(errno));
		goto done;
	}
	r = vm_hole_ptr(mem, ACPI_RSDP_GPA, ACPI_RSDP_LEN);
	t = vm_hole_ptr(mem, ACPI_TABLES_GPA, ab->tables_len);
	if (r == NULL || t == NULL ||
	    ACPI_TABLES_GPA + ab->tables_len > ACPI_AREA_END) {
		snprintf(err, errlen, "no room for the ACPI tables");
		errno = ERANGE;
		goto done;
	}
	acpi_tables_place(ab, r, ACPI_RSDP_GPA, t, ACPI_TABLES_GPA);
	*rsdp = ACPI_RSDP_GPA;
	rv = 0;
 done:
	free(ab);
	return (rv);
}
