/*
 * acpicheck.c: the test guest reads the ACPI tables as an OS would, from
 * the RSDP address its boot loader gave it: RSDP checksums, the XSDT and
 * each table it lists (signature, length, checksum), the FADT's PM1
 * blocks and SCI, the DSDT with its \_S5 object, the MADT's local APIC
 * and IOAPIC.  One result line, "PASS acpi: ..." or "FAIL acpi: ...".
 * It must never dereference an address outside the identity map or
 * trust a length it has not bounded.
 */

#include "guest.h"
#include "variant.h"

#define MAPPED		0x100000000ULL	/* start.S maps 0-4 GiB */
#define TABLE_MAX	0x10000

static uint64_t
le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int
sum_ok(const uint8_t *p, uint32_t n)
{
	uint8_t	 s = 0;

	while (n-- > 0)
		s += *p++;
	return s == 0;
}

static int
same(const uint8_t *p, const char *s, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (p[i] != (uint8_t)s[i])
			return 0;
	return 1;
}

/* A table at pa with signature sig, bounded and summing to zero. */
static const uint8_t *
table(uint64_t pa, const char *sig, const char **why)
{
	const uint8_t	*t;
	uint64_t	 len;

	if (pa == 0 || pa >= MAPPED - 36) {
		*why = "table address outside the map";
		return NULL;
	}
	t = (const uint8_t *)(uintptr_t)pa;
	len = le(t + 4, 4);
	if (!same(t, sig, 4)) {
		*why = "bad table signature";
		return NULL;
	}
	if (len < 36 || len > TABLE_MAX || pa + len > MAPPED) {
		*why = "bad table length";
		return NULL;
	}
	if (!sum_ok(t, (uint32_t)len)) {
		*why = "bad table checksum";
		return NULL;
	}
	return t;
}

static int
has_s5(const uint8_t *dsdt)
{
	uint32_t len = (uint32_t)le(dsdt + 4, 4), i;

	for (i = 36; i + 4 <= len; i++)
		if (same(dsdt + i, "_S5_", 4))
			return 1;
	return 0;
}

static int
madt_ok(const uint8_t *m, unsigned int *ncpu)
{
	uint32_t len = (uint32_t)le(m + 4, 4), off;
	int	 ioapic = 0;

	*ncpu = 0;
	for (off = 44; off + 2 <= len && m[off + 1] >= 2 &&
	    off + m[off + 1] <= len; off += m[off + 1]) {
		if (m[off] == 0 && (le(m + off + 4, 4) & 1))
			(*ncpu)++;
		if (m[off] == 1 && le(m + off + 4, 4) == 0xfec00000)
			ioapic = 1;
	}
	return off == len && ioapic && *ncpu > 0;
}

void
check_acpi_tables(uint64_t rsdp_pa)
{
	const uint8_t	*rsdp, *x, *t, *fadt = NULL, *madt = NULL, *dsdt;
	const char	*why = "no RSDP address";
	uint32_t	 n, i;
	unsigned int	 ncpu;
	uint64_t	 pa;

	if (rsdp_pa == 0 || rsdp_pa >= MAPPED - 36)
		goto fail;
	rsdp = (const uint8_t *)(uintptr_t)rsdp_pa;
	why = "bad RSDP";
	if (!same(rsdp, "RSD PTR ", 8) || !sum_ok(rsdp, 20) ||
	    rsdp[15] < 2 || le(rsdp + 20, 4) != 36 || !sum_ok(rsdp, 36))
		goto fail;
	if ((x = table(le(rsdp + 24, 8), "XSDT", &why)) == NULL)
		goto fail;
	if (table(le(rsdp + 16, 4), "RSDT", &why) == NULL)
		goto fail;
	n = ((uint32_t)le(x + 4, 4) - 36) / 8;
	for (i = 0; i < n; i++) {
		pa = le(x + 36 + 8 * i, 8);
		if (pa >= MAPPED - 36) {
			why = "XSDT entry outside the map";
			goto fail;
		}
		t = (const uint8_t *)(uintptr_t)pa;
		if (same(t, "FACP", 4))
			fadt = table(pa, "FACP", &why);
		else if (same(t, "APIC", 4))
			madt = table(pa, "APIC", &why);
		else
			why = "unknown table";
		if (fadt == NULL && madt == NULL)
			goto fail;
	}
	why = "no FADT or MADT";
	if (fadt == NULL || madt == NULL)
		goto fail;
	why = "FADT: PM1 blocks or SCI not where acpi.c is";
	if (le(fadt + 56, 4) != 0x600 || le(fadt + 64, 4) != 0x604 ||
	    le(fadt + 46, 2) != 9)
		goto fail;
	if ((dsdt = table(le(fadt + 140, 8), "DSDT", &why)) == NULL)
		goto fail;
	why = "DSDT has no \\_S5";
	if (!has_s5(dsdt))
		goto fail;
	why = "MADT: no enabled LAPIC or no IOAPIC at 0xfec00000";
	if (!madt_ok(madt, &ncpu))
		goto fail;
	kprintf("PASS acpi: RSDP at 0x%lx, %u tables, %u cpu\n",
	    (unsigned long)rsdp_pa, n, ncpu);
	return;
 fail:
	kprintf("FAIL acpi: %s\n", why);
}
