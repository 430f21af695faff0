/*
 * smp.c: the smp check: finds the processors in the ACPI MADT (the RSDP
 * from the PVH start info, else the EBDA and the BIOS area) or, failing
 * that, the MP table, starts each enabled AP with INIT and SIPI through
 * the LAPIC, one at a time, and lets each print its APIC id.  An AP
 * then halts with interrupts off for good.  It must never start an AP
 * whose trampoline page or stack is not there, and never wait unbounded.
 */

#include "guest.h"

#define AP_TRAMP		0x8000	/* start.S: SIPI vector 8 */
#define MAX_CPUS		32
#define AP_STACK		8192
#define AP_WAIT_MS		2000

#define ICR_INIT		0x00004500	/* INIT, assert, level */
#define ICR_STARTUP		0x00004600	/* SIPI | vector */

extern char	ap_tramp[], ap_tramp_end[];
extern uint64_t	ap_stack;

static uint32_t		apic_ids[MAX_CPUS];
static int		ncpus;
static const char	*table_name;
static volatile int	ap_arrived;
static volatile uint32_t ap_seen_id;

/* The EBDA segment from the BIOS data area, as a physical address. */
static uint64_t
ebda_base(void)
{
	uintptr_t a = 0x40e;

	/* Hide the constant: the compiler takes it for a null-ish pointer. */
	__asm__("" : "+r"(a));
	return (uint64_t)*(const volatile uint16_t *)a << 4;
}

static int
sum_ok(const uint8_t *p, uint32_t len)
{
	uint8_t s = 0;
	uint32_t i;

	for (i = 0; i < len; i++)
		s += p[i];
	return s == 0;
}

/* Finds an 8-byte signature on 16-byte boundaries in [a, a + len). */
static const uint8_t *
scan(uint64_t a, uint64_t len, uint64_t sig, int siglen)
{
	uint64_t p, mask = siglen == 8 ? ~0ULL : (1ULL << (8 * siglen)) - 1;

	for (p = a; p + 16 <= a + len; p += 16)
		if ((*(const uint64_t *)(uintptr_t)p & mask) == sig)
			return (const uint8_t *)(uintptr_t)p;
	return NULL;
}

static const uint8_t *
find_rsdp(const struct guest *g)
{
	const uint8_t *r = NULL;
	uint64_t ebda;

	if (g->si != NULL && g->si->rsdp_paddr != 0 &&
	    g->si->rsdp_paddr < 0xc0000000ULL)
		r = (const uint8_t *)(uintptr_t)g->si->rsdp_paddr;
	if (r != NULL && memcmp(r, "RSD PTR ", 8) == 0 && sum_ok(r, 20))
		return r;
	ebda = ebda_base();
	if (ebda >= 0x80000 && ebda < 0xa0000 &&
	    (r = scan(ebda, 1024, 0x2052545020445352ULL, 8)) != NULL &&
	    sum_ok(r, 20))
		return r;
	if ((r = scan(0xe0000, 0x20000, 0x2052545020445352ULL, 8)) != NULL &&
	    sum_ok(r, 20))
		return r;
	return NULL;
}

static const uint8_t *
acpi_table(uint64_t pa, const char *sig)
{
	const uint8_t *t;
	uint32_t len;

	if (pa == 0 || pa >= 0xfee00000ULL)
		return NULL;
	t = (const uint8_t *)(uintptr_t)pa;
	len = *(const uint32_t *)(t + 4);
	if (memcmp(t, sig, 4) != 0 || len < 36 || len > 0x100000 ||
	    !sum_ok(t, len))
		return NULL;
	return t;
}

static void
add_cpu(uint32_t id)
{
	int i;

	for (i = 0; i < ncpus; i++)
		if (apic_ids[i] == id)
			return;
	if (ncpus < MAX_CPUS)
		apic_ids[ncpus++] = id;
}

/*
 * The ACPI table with signature sig that the XSDT (or RSDT) lists,
 * checked; NULL if there is none.  Also for pwrbtn.c, which wants the
 * FADT.
 */
const uint8_t *
acpi_find_table(const struct guest *g, const char *sig)
{
	const uint8_t *rsdp, *sdt, *t = NULL;
	uint32_t len, i, n, esz;
	uint64_t pa;
	int x;

	if ((rsdp = find_rsdp(g)) == NULL)
		return NULL;
	x = rsdp[15] >= 2 && *(const uint64_t *)(rsdp + 24) != 0;
	sdt = x ? acpi_table(*(const uint64_t *)(rsdp + 24), "XSDT") :
	    acpi_table(*(const uint32_t *)(rsdp + 16), "RSDT");
	if (sdt == NULL)
		return NULL;
	esz = x ? 8 : 4;
	len = *(const uint32_t *)(sdt + 4);
	n = (len - 36) / esz;
	for (i = 0; i < n && t == NULL; i++) {
		pa = x ? *(const uint64_t *)(sdt + 36 + 8 * i) :
		    *(const uint32_t *)(sdt + 36 + 4 * i);
		t = acpi_table(pa, sig);
	}
	return t;
}

/* The enabled processors of the MADT; 0 if there is no MADT. */
static int
parse_madt(const struct guest *g)
{
	const uint8_t *madt, *e;
	uint32_t len;

	if ((madt = acpi_find_table(g, "APIC")) == NULL)
		return 0;
	len = *(const uint32_t *)(madt + 4);
	for (e = madt + 44; e + 2 <= madt + len && e[1] >= 2 &&
	    e + e[1] <= madt + len; e += e[1]) {
		if (e[0] == 0 && e[1] >= 8 && (e[4] & 1))
			add_cpu(e[3]);
		else if (e[0] == 9 && e[1] >= 16 && (e[8] & 1))
			add_cpu(*(const uint32_t *)(e + 4));
	}
	table_name = "ACPI MADT";
	return ncpus;
}

/* The enabled processors of the MP table; 0 if there is none. */
static int
parse_mptable(void)
{
	const uint8_t *fp = NULL, *ct, *e;
	uint64_t ebda = ebda_base();
	uint32_t pa;
	uint16_t len, i, n;

	if (ebda >= 0x80000 && ebda < 0xa0000)
		fp = scan(ebda, 1024, 0x5f504d5fULL, 4);
	if (fp == NULL)
		fp = scan(0x9fc00, 1024, 0x5f504d5fULL, 4);
	if (fp == NULL)
		fp = scan(0xf0000, 0x10000, 0x5f504d5fULL, 4);
	if (fp == NULL || !sum_ok(fp, 16))
		return 0;
	pa = *(const uint32_t *)(fp + 4);
	if (pa == 0 || pa >= 0xfee00000U)
		return 0;
	ct = (const uint8_t *)(uintptr_t)pa;
	len = *(const uint16_t *)(ct + 4);
	if (memcmp(ct, "PCMP", 4) != 0 || len < 44 || !sum_ok(ct, len))
		return 0;
	n = *(const uint16_t *)(ct + 34);
	e = ct + 44;
	for (i = 0; i < n && e < ct + len; i++) {
		if (e[0] == 0) {
			if (e + 20 > ct + len)
				break;
			if (e[3] & 1)
				add_cpu(e[1]);
			e += 20;
		} else
			e += 8;
	}
	table_name = "MP table";
	return ncpus;
}

/* Runs on each AP, on its own stack, in long mode (start.S ap_long). */
void
ap_main(void)
{
	uint32_t id;

	idt_load();
	lapic_ap_init();
	id = lapic_id();
	kprintf("smp: cpu apic id %u up\n", id);
	ap_seen_id = id;
	mb();
	ap_arrived = 1;
	for (;;)
		__asm__ volatile("cli; hlt");
}

static int
in_tramp(uint64_t a, uint64_t len)
{
	return a < AP_TRAMP + 4096 && a + len > AP_TRAMP;
}

/* The start info and memory map stay in use after boot (info, mem). */
static int
overlaps_tramp(const struct guest *g)
{
	if (g->si == NULL)
		return 0;
	return in_tramp((uintptr_t)g->si, sizeof(*g->si)) ||
	    (g->si->version >= 1 && in_tramp(g->si->memmap_paddr,
	    (uint64_t)g->si->memmap_entries * 24));
}

static int
arrived(void)
{
	return ap_arrived;
}

static uint64_t pause_until;

static int
paused(void)
{
	return ticks_now() >= pause_until;
}

void
check_smp(struct guest *g)
{
	uint32_t bsp;
	uint8_t *stacks;
	int i, up = 1, sent;

	if (!lapic_present()) {
		kprintf("SKIP smp: no xAPIC\n");
		return;
	}
	ncpus = 0;
	if (parse_madt(g) == 0 && parse_mptable() == 0) {
		kprintf("SKIP smp: no ACPI MADT and no MP table\n");
		return;
	}
	bsp = lapic_id();
	kprintf("smp: %s lists %d CPU%s, BSP apic id %u\n", table_name,
	    ncpus, ncpus == 1 ? "" : "s", bsp);
	if ((stacks = palloc((uint64_t)AP_STACK * ncpus, 4096)) == NULL) {
		kprintf("FAIL smp: out of memory\n");
		return;
	}
	if (overlaps_tramp(g)) {
		kprintf("FAIL smp: the boot loader's data lies in the AP "
		    "trampoline page 0x%x\n", AP_TRAMP);
		return;
	}
	memcpy((void *)(uintptr_t)AP_TRAMP, ap_tramp,
	    (size_t)(ap_tramp_end - ap_tramp));
	for (i = 0; i < ncpus; i++) {
		if (apic_ids[i] == bsp)
			continue;
		if (apic_ids[i] > 0xfe) {
			kprintf("note: smp: apic id %u needs x2APIC, skipped\n",
			    apic_ids[i]);
			continue;
		}
		ap_stack = (uintptr_t)stacks + (uint64_t)AP_STACK * (i + 1);
		ap_arrived = 0;
		mb();
		sent = lapic_ipi(apic_ids[i], ICR_INIT) == 0;
		pause_until = ticks_now() + 3;	/* 10 ms, as the MP spec says */
		wait_until(paused, 100);
		sent = sent && lapic_ipi(apic_ids[i], ICR_STARTUP |
		    (AP_TRAMP >> 12)) == 0;
		if (sent && !wait_until(arrived, 10))
			sent = lapic_ipi(apic_ids[i], ICR_STARTUP |
			    (AP_TRAMP >> 12)) == 0;
		if (!sent) {
			kprintf("FAIL smp: IPI to apic id %u not taken\n",
			    apic_ids[i]);
			return;
		}
		if (!wait_until(arrived, AP_WAIT_MS)) {
			kprintf("FAIL smp: apic id %u did not come up in %d "
			    "ms\n", apic_ids[i], AP_WAIT_MS);
			return;
		}
		if (ap_seen_id != apic_ids[i]) {
			kprintf("FAIL smp: started apic id %u, apic id %u "
			    "answered\n", apic_ids[i], ap_seen_id);
			return;
		}
		up++;
	}
	if (up != ncpus) {
		kprintf("FAIL smp: %d of %d CPUs up\n", up, ncpus);
		return;
	}
	kprintf("PASS smp: %d of %d CPUs up, apic ids", up, ncpus);
	for (i = 0; i < ncpus; i++)
		kprintf(" %u", apic_ids[i]);
	kprintf("\n");
}
