/*
 * acpi.h: the ACPI side of the guest platform: the tables that describe
 * it (acpi_tables.c) and the fixed hardware they point at (acpi.c, the
 * PM1 block with its power button).  The tables are built once, position
 * independent: every pointer inside them is an offset into one of two
 * "files" (the RSDP, and the blob of all other tables) plus a list of the
 * places that hold such pointers and of the checksums to compute.  The
 * same build is then either placed at fixed guest addresses by vmd
 * itself (PVH and bzImage boots) or handed to firmware through fw_cfg,
 * whose linker/loader script says the same thing in QEMU's words.
 */

#ifndef ACPI_H
#define ACPI_H

#include <stddef.h>
#include <stdint.h>

struct device;
struct vm_mem;

enum acpi_file {
	ACPI_FILE_RSDP,			/* the RSDP alone, 36 bytes */
	ACPI_FILE_TABLES		/* FACS, DSDT, FADT, MADT, RSDT, XSDT */
};

#define ACPI_RSDP_LEN		36
#define ACPI_TABLES_MAX		16384
#define ACPI_MAX_PTRS		16
#define ACPI_MAX_SUMS		8
#define ACPI_MAX_CPUS		255	/* 8-bit APIC IDs in the MADT */
#define ACPI_TABLES_ALIGN	64	/* the FACS must be 64-byte aligned */

/*
 * A pointer field: size bytes at off in file src hold an offset into
 * file dst; placing adds dst's guest address to it.
 */
struct acpi_ptr {
	enum acpi_file	 src;
	uint32_t	 off;
	uint8_t		 size;		/* 4 or 8 */
	enum acpi_file	 dst;
};

/* A checksum byte at off in file, over [start, start + len). */
struct acpi_sum {
	enum acpi_file	 file;
	uint32_t	 start;
	uint32_t	 len;
	uint32_t	 off;
};

struct acpi_build {
	uint8_t		 rsdp[ACPI_RSDP_LEN];
	uint8_t		 tables[ACPI_TABLES_MAX];
	size_t		 tables_len;
	struct acpi_ptr	 ptr[ACPI_MAX_PTRS];
	size_t		 nptr;
	struct acpi_sum	 sum[ACPI_MAX_SUMS];	/* in the order to apply */
	size_t		 nsum;
	uint32_t	 dsdt_off;		/* offsets in the tables blob, */
	uint32_t	 fadt_off;		/* for tests and fw_cfg users */
	uint32_t	 madt_off;
	uint32_t	 facs_off;
};

/*
 * Where vmd itself places the tables for kernels it boots directly: in
 * the BIOS area, which the e820 map reserves, so the kernel leaves them
 * alone and a scan of 0xe0000-0xfffff finds the RSDP.
 */
#define ACPI_RSDP_GPA		0xe0000ULL
#define ACPI_TABLES_GPA		0xe1000ULL
#define ACPI_AREA_END		0x100000ULL

/* acpi_tables.c */
int	 acpi_tables_build(struct acpi_build *, uint32_t);
void	 acpi_tables_place(const struct acpi_build *, uint8_t *, uint64_t,
	    uint8_t *, uint64_t);
int	 acpi_tables_install(const struct vm_mem *, uint32_t, uint64_t *,
	    char *, size_t);

/* acpi.c */
int	 acpi_power_button(struct device *);
void	 acpi_power_button_cancel(struct device *);

#endif /* ACPI_H */
