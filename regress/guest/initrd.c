/*
 * initrd.c: the initrd check: the ramdisk the boot loader reported (the
 * PVH start info's first module, or the bzImage zero page's ramdisk
 * fields) must lie in the identity map, start on a page, and have the
 * size and FNV-1a hash the command line's "initrd=SIZE:HASH" promises.
 * It reads the ramdisk only within what the loader reported and never
 * beyond the identity map.
 */

#include "guest.h"

#define PHYS_MAPPED	0x100000000ULL	/* start.S maps 0-4 GiB */

/* struct hvm_modlist_entry of the PVH boot ABI. */
struct hvm_modlist_entry {
	uint64_t	paddr;
	uint64_t	size;
	uint64_t	cmdline_paddr;
	uint64_t	reserved;
};

/* The decimal number at *s, up to a separator; NULL if none. */
static const char *
number(const char *s, uint64_t *v)
{
	uint64_t n = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - 9) / 10)
			return NULL;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return NULL;
	*v = n;
	return p;
}

/* "initrd=SIZE:HASH" among cmdline's words: 1 found, 0 none, -1 bad. */
static int
expected(const char *cmdline, uint64_t *size, uint64_t *hash)
{
	const char *p = cmdline;

	while (*p != '\0') {
		while (*p == ' ')
			p++;
		if (prefix(p, "initrd=")) {
			p += 7;
			if ((p = number(p, size)) == NULL || *p++ != ':' ||
			    (p = number(p, hash)) == NULL ||
			    (*p != ' ' && *p != '\0'))
				return -1;
			return 1;
		}
		while (*p != ' ' && *p != '\0')
			p++;
	}
	return 0;
}

void
check_initrd_at(const char *cmdline, uint64_t pa, uint64_t len,
    const char *how)
{
	const volatile uint8_t *b;
	uint64_t size, want, i;
	uint32_t h = 2166136261u;

	switch (expected(cmdline, &size, &want)) {
	case -1:
		kprintf("FAIL initrd: bad initrd=SIZE:HASH on the command "
		    "line\n");
		return;
	case 0:
		if (len != 0 || pa != 0)
			kprintf("FAIL initrd: %s reports one (0x%lx, %lu "
			    "bytes) nobody gave\n", how, (unsigned long)pa,
			    (unsigned long)len);
		else
			kprintf("PASS initrd: none given, none reported\n");
		return;
	}
	if (len == 0) {
		kprintf("FAIL initrd: %s reports no initrd\n", how);
		return;
	}
	if (pa == 0 || pa >= PHYS_MAPPED || len > PHYS_MAPPED - pa ||
	    (pa & 0xfff) != 0) {
		kprintf("FAIL initrd: at 0x%lx, %lu bytes: not a page in the "
		    "low 4 GiB\n", (unsigned long)pa, (unsigned long)len);
		return;
	}
	if (len != size) {
		kprintf("FAIL initrd: %lu bytes, want %lu\n",
		    (unsigned long)len, (unsigned long)size);
		return;
	}
	b = (const volatile uint8_t *)(uintptr_t)pa;
	for (i = 0; i < len; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	if (h != want) {
		kprintf("FAIL initrd: FNV-1a %u, want %lu\n", h,
		    (unsigned long)want);
		return;
	}
	kprintf("PASS initrd: %lu bytes at 0x%lx through %s, FNV-1a %u\n",
	    (unsigned long)len, (unsigned long)pa, how, h);
}

/* PVH: the first module is the initrd, as Linux takes it. */
void
check_initrd(struct guest *g)
{
	const struct hvm_modlist_entry *m;
	const struct hvm_start_info *si = g->si;

	if (si == NULL) {
		kprintf("FAIL initrd: no PVH start info\n");
		return;
	}
	if (si->nr_modules == 0) {
		check_initrd_at(g->cmdline, 0, 0, "the PVH start info");
		return;
	}
	if (si->modlist_paddr == 0 || si->modlist_paddr >= PHYS_MAPPED -
	    sizeof(*m)) {
		kprintf("FAIL initrd: module list at 0x%lx\n",
		    (unsigned long)si->modlist_paddr);
		return;
	}
	m = (const struct hvm_modlist_entry *)(uintptr_t)si->modlist_paddr;
	check_initrd_at(g->cmdline, m->paddr, m->size, "the PVH start info");
}
