/*
 * variant.h: what the boot-protocol variants of the test guest share:
 * bzguest.bin (a bzImage entered through the Linux 64-bit boot protocol)
 * and obsdguest.elf (an OpenBSD-style ELF kernel entered as OpenBSD's
 * vmd enters one).  Their assembly entry stubs record the entry state in
 * struct entry_state (in .data: start.S zeroes .bss later), then go on
 * through start.S's pvh_start in compatibility mode; their own gmain()
 * checks what the loader left and prints one result line per check.
 * Offsets are shared with the assembly, so keep the two in step.
 */

#ifndef VARIANT_H
#define VARIANT_H

#define ES_BP		0	/* bzImage: %rsi, the zero page */
#define ES_CR0		8
#define ES_CR3		16
#define ES_CR4		24
#define ES_EFER		32
#define ES_RFLAGS	40
#define ES_RSP		48
#define ES_CS		56
#define ES_DS		58
#define ES_ES		60
#define ES_SS		62
#define ES_GDTR		64	/* 2 + 8 bytes */
#define ES_STACK	80	/* OpenBSD: 9 words from the entry %esp */
#define ES_SIZE		128

#ifndef __ASSEMBLER__
#include <stdint.h>

struct entry_state {
	uint64_t	bp;
	uint64_t	cr0, cr3, cr4, efer, rflags, rsp;
	uint16_t	cs, ds, es, ss;
	uint16_t	gdt_limit;
	uint8_t		gdt_base[8];	/* unaligned in the SGDT image */
	uint8_t		pad[6];
	uint32_t	stack[9];
	uint8_t		pad2[12];
};

_Static_assert(sizeof(struct entry_state) == ES_SIZE, "entry_state");

extern struct entry_state entry_state;

/* acpicheck.c */
void	check_acpi_tables(uint64_t);

#endif
#endif /* VARIANT_H */
