/*
 * acpi_tables_test.c: unit tests of the ACPI tables in acpi_tables.c.
 * The tables are built, placed at guest addresses in a fake guest RAM
 * and then read back the way an OS reads them: RSDP checksums, XSDT and
 * RSDT entries to each table, each table's length and checksum, the FADT
 * fields acpi.c and the platform depend on, the MADT entries, the AML of
 * the DSDT.  If iasl (Debian's acpica-tools) is installed the placed
 * tables are disassembled with `iasl -d` and must come out without an
 * error or warning.  It needs nothing but a temporary directory.
 */

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acpi.h"
#include "pci.h"
#include "vm.h"
#include "regress/test.h"

#define GUEST_RAM	(16ULL << 20)

static struct vm_mem	 mem;
static struct acpi_build ab;

static uint64_t
le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return (v);
}

static uint8_t
sum(const uint8_t *p, size_t n)
{
	uint8_t	 s = 0;

	while (n-- > 0)
		s += *p++;
	return (s);
}

static uint8_t *
gpa(uint64_t a)
{
	return (mem.ram + a);
}

/* A table at a guest address: signature, sane length, checksum 0. */
static const uint8_t *
table_at(uint64_t a, const char *sig)
{
	const uint8_t	*t;
	uint32_t	 len;

	if (a < 0x1000 || a >= GUEST_RAM - 36)
		return (NULL);
	t = gpa(a);
	len = (uint32_t)le(t + 4, 4);
	if (memcmp(t, sig, 4) != 0 || len < 36 || len > GUEST_RAM - a)
		return (NULL);
	if (sum(t, len) != 0)
		return (NULL);
	return (t);
}

struct found {
	const uint8_t	*rsdp, *rsdt, *xsdt, *fadt, *madt, *dsdt, *facs;
};

/* Walk from the RSDP as an OS does; NULL members for what is broken. */
static void
walk(uint64_t rsdp_gpa, struct found *f)
{
	const uint8_t	*x, *r;
	uint64_t	 a;
	uint32_t	 n, i;

	memset(f, 0, sizeof(*f));
	f->rsdp = gpa(rsdp_gpa);
	CHECK(memcmp(f->rsdp, "RSD PTR ", 8) == 0);
	CHECK(sum(f->rsdp, 20) == 0);
	CHECK(sum(f->rsdp, 36) == 0);
	CHECK(f->rsdp[15] == 2 && le(f->rsdp + 20, 4) == 36);
	f->rsdt = r = table_at(le(f->rsdp + 16, 4), "RSDT");
	f->xsdt = x = table_at(le(f->rsdp + 24, 8), "XSDT");
	CHECK(r != NULL && x != NULL);
	if (r == NULL || x == NULL)
		return;
	n = ((uint32_t)le(x + 4, 4) - 36) / 8;
	CHECK(n == 2 && le(r + 4, 4) == 36 + 4 * n);
	for (i = 0; i < n; i++) {
		a = le(x + 36 + 8 * i, 8);
		CHECK(a == le(r + 36 + 4 * i, 4));
		if (memcmp(gpa(a), "FACP", 4) == 0)
			f->fadt = table_at(a, "FACP");
		else if (memcmp(gpa(a), "APIC", 4) == 0)
			f->madt = table_at(a, "APIC");
	}
	CHECK(f->fadt != NULL && f->madt != NULL);
	if (f->fadt == NULL)
		return;
	a = le(f->fadt + 140, 8);
	CHECK(a == le(f->fadt + 40, 4));
	f->dsdt = table_at(a, "DSDT");
	CHECK(le(f->fadt + 132, 8) == 0);	/* X_FIRMWARE_CTRL */
	a = le(f->fadt + 36, 4);
	CHECK(a % 64 == 0);
	f->facs = gpa(a);
	CHECK(memcmp(f->facs, "FACS", 4) == 0 && le(f->facs + 4, 4) == 64);
	CHECK(f->dsdt != NULL);
}

static int
has(const uint8_t *p, size_t n, const void *needle, size_t nlen)
{
	return (memmem(p, n, needle, nlen) != NULL);
}

static void
test_fadt(void)
{
	struct found	 f;
	const uint8_t	*t;
	uint64_t	 rsdp;
	char		 err[128];

	memset(mem.ram, 0xaa, GUEST_RAM);
	CHECK(acpi_tables_install(&mem, 1, &rsdp, err, sizeof(err)) == 0);
	CHECK(rsdp == ACPI_RSDP_GPA);
	walk(rsdp, &f);
	if ((t = f.fadt) == NULL)
		return;
	CHECK(le(t + 4, 4) == 276 && t[8] == 6);
	CHECK(le(t + 46, 2) == VM_SCI_IRQ);
	CHECK(le(t + 48, 4) == 0);		/* no SMI: ACPI always on */
	CHECK(le(t + 56, 4) == VM_PM_BASE);
	CHECK(le(t + 64, 4) == VM_PM1_CNT_PORT);
	CHECK(le(t + 76, 4) == VM_PM_BASE + 8);
	CHECK(t[88] == 4 && t[89] == 2 && t[91] == 4);
	CHECK(le(t + 80, 4) == 0 && t[92] == 0);	/* no GPE block */
	CHECK(t[108] == 0x32);			/* CMOS century */
	/* fixed power button (bit 4 clear), no fixed sleep button */
	CHECK((le(t + 112, 4) & (1U << 4)) == 0);
	CHECK((le(t + 112, 4) & (1U << 5)) != 0);
	CHECK((le(t + 112, 4) & (1U << 20)) == 0);	/* not HW-reduced */
	/* reset: 0xfe to the i8042 command port */
	CHECK((le(t + 112, 4) & (1U << 10)) != 0);
	CHECK(t[116] == 1 && le(t + 120, 8) == 0x64 && t[128] == 0xfe);
	/* extended blocks agree with the legacy ones */
	CHECK(t[148] == 1 && le(t + 152, 8) == VM_PM_BASE);
	CHECK(t[172] == 1 && le(t + 176, 8) == VM_PM1_CNT_PORT);
	CHECK(t[208] == 1 && le(t + 212, 8) == VM_PM_BASE + 8);
	/* nothing outside the area was touched */
	CHECK(*gpa(ACPI_RSDP_GPA - 1) == 0xaa);
	CHECK(*gpa(ACPI_TABLES_GPA + ab.tables_len) == 0xaa ||
	    ab.tables_len == 0);
}

static void
test_madt(void)
{
	static const uint32_t counts[] = { 1, 2, 4, 255 };
	struct found	 f;
	const uint8_t	*t, *e, *end;
	uint64_t	 rsdp;
	uint32_t	 nlapic, niso, nio, nnmi, sci_flags, irq0_gsi;
	char		 err[128];
	size_t		 k;

	for (k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		CHECK(acpi_tables_install(&mem, counts[k], &rsdp, err,
		    sizeof(err)) == 0);
		walk(rsdp, &f);
		if ((t = f.madt) == NULL)
			return;
		CHECK(le(t + 36, 4) == VM_LAPIC_BASE && le(t + 40, 4) == 1);
		nlapic = niso = nio = nnmi = 0;
		sci_flags = irq0_gsi = 0xffff;
		end = t + le(t + 4, 4);
		for (e = t + 44; e + 2 <= end && e[1] >= 2; e += e[1]) {
			switch (e[0]) {
			case 0:
				CHECK(e[1] == 8 && e[2] == nlapic &&
				    e[3] == nlapic && le(e + 4, 4) == 1);
				nlapic++;
				break;
			case 1:
				CHECK(e[1] == 12 &&
				    le(e + 4, 4) == VM_IOAPIC_BASE &&
				    le(e + 8, 4) == 0);
				nio++;
				break;
			case 2:
				CHECK(e[1] == 10 && e[2] == 0);
				if (e[3] == 0)
					irq0_gsi = (uint32_t)le(e + 4, 4);
				if (e[3] == VM_SCI_IRQ)
					sci_flags = (uint32_t)le(e + 8, 2);
				niso++;
				break;
			case 4:
				CHECK(e[1] == 6 && e[2] == 0xff && e[5] == 1);
				nnmi++;
				break;
			default:
				CHECK(!"unexpected MADT entry");
			}
		}
		CHECK(e == end);
		CHECK(nlapic == counts[k] && nio == 1 && niso == 2 &&
		    nnmi == 1);
		CHECK(irq0_gsi == 2);
		CHECK(sci_flags == 0x0d);	/* level, active high */
	}
}

static void
test_dsdt(void)
{
	/* \_S5 package: PackageOp, len, 4 elements, SLP_TYP, SLP_TYP */
	static const uint8_t s5[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12,
	    0x06, 0x04, 0x00, 0x00, 0x00, 0x00 };
	/* EISAID PNP0A03, PNP0501, PNP0B00 as DWordConsts */
	static const uint8_t pci[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
	static const uint8_t com[] = { 0x0c, 0x41, 0xd0, 0x05, 0x01 };
	static const uint8_t rtc[] = { 0x0c, 0x41, 0xd0, 0x0b, 0x00 };
	/* IO (Decode16, 0x3f8, 0x3f8, 1, 8), IRQNoFlags {4} */
	static const uint8_t com_io[] = { 0x47, 0x01, 0xf8, 0x03, 0xf8,
	    0x03, 0x01, 0x08, 0x22, 0x10, 0x00 };
	/* Package (4) { 0xSSSSFFFF, Zero, Zero, GSI } */
	static const uint8_t prt1[] = { 0x12, 0x0b, 0x04, 0x0c, 0xff, 0xff,
	    0x01, 0x00, 0x00, 0x00, 0x0a, 0x05 };
	static const uint8_t prt4[] = { 0x12, 0x0b, 0x04, 0x0c, 0xff, 0xff,
	    0x04, 0x00, 0x00, 0x00, 0x0a, 0x03 };
	static const uint8_t prt10[] = { 0x12, 0x0b, 0x04, 0x0c, 0xff, 0xff,
	    0x0a, 0x00, 0x00, 0x00, 0x0a, 0x05 };
	static const uint8_t prt31[] = { 0x12, 0x0b, 0x04, 0x0c, 0xff, 0xff,
	    0x1f, 0x00, 0x00, 0x00, 0x0a, 0x03 };
	struct found	 f;
	const uint8_t	*t;
	uint64_t	 rsdp;
	uint32_t	 len;
	uint8_t		 mem32[8];
	char		 err[128];

	CHECK(acpi_tables_install(&mem, 2, &rsdp, err, sizeof(err)) == 0);
	walk(rsdp, &f);
	if ((t = f.dsdt) == NULL)
		return;
	len = (uint32_t)le(t + 4, 4);
	CHECK(has(t, len, s5, sizeof(s5)));
	CHECK(has(t, len, pci, sizeof(pci)));
	CHECK(has(t, len, com, sizeof(com)));
	CHECK(has(t, len, rtc, sizeof(rtc)));
	CHECK(has(t, len, com_io, sizeof(com_io)));
	/* _PRT: slot 1 INTA# -> GSI 5, slot 4 -> 3, slot 10 -> 5, 31 -> 3 */
	CHECK(has(t, len, "_PRT\x12", 5));
	CHECK(has(t, len, prt1, sizeof(prt1)) && has(t, len, prt4,
	    sizeof(prt4)) && has(t, len, prt10, sizeof(prt10)) &&
	    has(t, len, prt31, sizeof(prt31)));
	CHECK(has(t, len, "ACPI0007", 9));
	CHECK(has(t, len, "C000", 4) && has(t, len, "C001", 4));
	CHECK(!has(t, len, "C002", 4));
	/* the MMIO window's minimum and maximum, as pci.c decodes */
	mem32[0] = VM_PCI_MMIO_START & 0xff;
	mem32[1] = (VM_PCI_MMIO_START >> 8) & 0xff;
	mem32[2] = (VM_PCI_MMIO_START >> 16) & 0xff;
	mem32[3] = (VM_PCI_MMIO_START >> 24) & 0xff;
	mem32[4] = (VM_PCI_MMIO_END - 1) & 0xff;
	mem32[5] = ((VM_PCI_MMIO_END - 1) >> 8) & 0xff;
	mem32[6] = ((VM_PCI_MMIO_END - 1) >> 16) & 0xff;
	mem32[7] = ((VM_PCI_MMIO_END - 1) >> 24) & 0xff;
	CHECK(has(t, len, mem32, sizeof(mem32)));

	/* 255 processors: the \_SB scope needs a 3-byte PkgLength */
	CHECK(acpi_tables_install(&mem, 255, &rsdp, err, sizeof(err)) == 0);
	walk(rsdp, &f);
	CHECK(f.dsdt != NULL);
	if (f.dsdt != NULL)
		CHECK(has(f.dsdt, le(f.dsdt + 4, 4), "C0FE", 4));
}

/* Pointers are offsets before placing and addresses after. */
static void
test_relocation(void)
{
	static uint8_t	 rs[ACPI_RSDP_LEN], tb[ACPI_TABLES_MAX];
	size_t		 i;

	CHECK(acpi_tables_build(&ab, 1) == 0);
	CHECK(ab.tables_len > 0 && ab.tables_len <= ACPI_TABLES_MAX);
	CHECK(ab.facs_off % 64 == 0);
	CHECK(le(ab.rsdp + 24, 8) < ab.tables_len);
	CHECK(ab.nptr == 9 && ab.nsum == 7);
	for (i = 0; i < ab.nptr; i++)
		CHECK(ab.ptr[i].off + ab.ptr[i].size <=
		    (ab.ptr[i].src == ACPI_FILE_RSDP ? ACPI_RSDP_LEN :
		    ab.tables_len));
	acpi_tables_place(&ab, rs, 0x12340, tb, 0x100000000ULL);
	CHECK(le(rs + 16, 4) == (uint32_t)(0x100000000ULL +
	    le(ab.rsdp + 16, 4)));
	CHECK(le(rs + 24, 8) == 0x100000000ULL + le(ab.rsdp + 24, 8));
	CHECK(sum(rs, 20) == 0 && sum(rs, 36) == 0);
	CHECK(sum(tb + ab.madt_off, le(tb + ab.madt_off + 4, 4)) == 0);
}

static void
test_refused(void)
{
	struct vm_mem	 small;
	uint64_t	 rsdp = 7;
	char		 err[128];

	errno = 0;
	CHECK(acpi_tables_build(&ab, 0) == -1 && errno == EINVAL);
	CHECK(acpi_tables_build(&ab, 256) == -1 && errno == EINVAL);
	CHECK(acpi_tables_install(&mem, 0, &rsdp, err, sizeof(err)) == -1);
	CHECK(strstr(err, "ACPI tables for 0 vCPUs") != NULL && rsdp == 7);
	/* a guest too small to have the BIOS area */
	small = mem;
	small.memsize = 0x90000;
	CHECK(acpi_tables_install(&small, 1, &rsdp, err, sizeof(err)) == -1);
	CHECK(strstr(err, "no room") != NULL && rsdp == 7);
	/* the hole accessor refuses what is not in the hole */
	CHECK(vm_hole_ptr(&mem, 0x9ffff, 2) == NULL);
	CHECK(vm_hole_ptr(&mem, 0xfffff, 2) == NULL);
	CHECK(vm_hole_ptr(&mem, 0xe0000, 0) == NULL);
	CHECK(vm_hole_ptr(&mem, 0xe0000, UINT64_MAX) == NULL);
	CHECK(vm_hole_ptr(&mem, 0xa0000, 0x60000) == gpa(0xa0000));
	CHECK(vm_gpa_ptr(&mem, ACPI_RSDP_GPA, 1) == NULL);
}

static int
write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE	*f;
	int	 ok;

	if ((f = fopen(path, "w")) == NULL)
		return (-1);
	ok = fwrite(p, 1, n, f) == n;
	return (fclose(f) == 0 && ok ? 0 : -1);
}

/*
 * iasl -d must disassemble every table cleanly (not the RSDP: it is no
 * table with a header, and our own checks cover it).
 */
static void
test_iasl(void)
{
	static const char *const sigs[] = { "DSDT", "FACP", "APIC", "RSDT",
	    "XSDT", "FACS" };
	struct found	 f;
	const uint8_t	*tabs[6];
	char		 dir[] = "/tmp/acpi_test.XXXXXX", cmd[512], line[512];
	uint64_t	 rsdp;
	size_t		 i;
	FILE		*p;
	int		 bad = 0, st;

	CHECK(acpi_tables_install(&mem, 4, &rsdp, (char *)line,
	    sizeof(line)) == 0);
	walk(rsdp, &f);
	tabs[0] = f.dsdt;
	tabs[1] = f.fadt;
	tabs[2] = f.madt;
	tabs[3] = f.rsdt;
	tabs[4] = f.xsdt;
	tabs[5] = f.facs;
	CHECK(mkdtemp(dir) != NULL);
	for (i = 0; i < 6; i++) {
		if (tabs[i] == NULL)
			return;
		snprintf(cmd, sizeof(cmd), "%s/%s.dat", dir, sigs[i]);
		CHECK(write_file(cmd, tabs[i], le(tabs[i] + 4, 4)) == 0);
	}
	snprintf(cmd, sizeof(cmd), "cd %s && for t in DSDT FACP APIC RSDT "
	    "XSDT FACS; do iasl -d $t.dat 2>&1 || echo FAILED $t; done; "
	    "cat *.dsl", dir);
	if ((p = popen(cmd, "r")) == NULL) {
		CHECK(!"popen iasl");
		return;
	}
	while (fgets(line, sizeof(line), p) != NULL) {
		if (strstr(line, "FAILED") != NULL ||
		    strstr(line, "Error") != NULL ||
		    strstr(line, "Warning") != NULL ||
		    strstr(line, "Invalid") != NULL ||
		    strstr(line, "**** ") != NULL) {
			if (bad++ < 10)
				printf("    iasl: %s", line);
		}
	}
	st = pclose(p);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(bad == 0);
	snprintf(cmd, sizeof(cmd), "grep -qF 'Name (\\_S5, Package (0x04)' "
	    "%s/DSDT.dsl && grep -q 'WordIO (ResourceProducer' %s/DSDT.dsl "
	    "&& grep -q 'EisaId (\"PNP0A03\")' %s/DSDT.dsl && "
	    "grep -q 'Name (_PRT, Package (0x1F)' %s/DSDT.dsl && "
	    "grep -q 'Control Method Power Button (V1) : 0' %s/FACP.dsl", dir, dir, dir,
	    dir, dir);
	CHECK(system(cmd) == 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("    could not remove %s\n", dir);
}

int
main(void)
{
	void	*p;

	p = mmap(NULL, GUEST_RAM, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return (1);
	}
	mem.ram = p;
	mem.memsize = GUEST_RAM;
	mem.fd = -1;
	RUN(test_relocation);
	RUN(test_fadt);
	RUN(test_madt);
	RUN(test_dsdt);
	RUN(test_refused);
	if (system("command -v iasl >/dev/null 2>&1") == 0)
		RUN(test_iasl);
	else
		printf("SKIP test_iasl: iasl not installed (acpica-tools)\n");
	TEST_EXIT();
}
