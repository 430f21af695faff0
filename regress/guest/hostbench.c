/*
 * hostbench.c: the `hostbench` check, a micro-benchmark of what vmd's
 * host-quirk layer completes: each allow-listed instruction runs BENCH_N
 * times at CPL 0 and is timed with the TSC (machine.c calibrates it),
 * next to a loop of nop as the baseline.  Where KVM runs these natively
 * the numbers are small; where vmd completes them each one is a round
 * trip to vmd.  It prints "note: bench" lines and passes when every
 * instruction ran to the end; it must leave CR4 and MXCSR as it found
 * them.
 */

#include "guest.h"

#define BENCH_N		1000
#define CR4_OSFXSR	0x200ULL
#define CPUID7_SMAP	(1U << 20)

static uint32_t	mxcsr_word;

static int
has_smap(void)
{
	uint32_t a = 7, b, c = 0, d;

	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return (b & CPUID7_SMAP) != 0;
}

static void
run(int which)
{
	int i;

	for (i = 0; i < BENCH_N; i++) {
		switch (which) {
		case 0:
			__asm__ volatile("nop");
			break;
		case 1:
			bp_expected = 1;
			__asm__ volatile("int3" : : : "memory");
			break;
		case 2:
			__asm__ volatile("clac; stac; clac" : : : "cc");
			break;
		case 3:
			__asm__ volatile("fwait");
			break;
		case 4:
			__asm__ volatile("lfence" : : : "memory");
			break;
		case 5:
			__asm__ volatile("mfence" : : : "memory");
			break;
		case 6:
			__asm__ volatile("sfence" : : : "memory");
			break;
		case 7:
			__asm__ volatile("ldmxcsr %0" : : "m"(mxcsr_word));
			break;
		case 8:
			__asm__ volatile("stmxcsr %0" : "=m"(mxcsr_word));
			break;
		}
	}
}

void
check_hostbench(struct guest *g)
{
	static const char *const name[] = {
		"nop (baseline)", "int3", "clac+stac+clac", "fwait", "lfence",
		"mfence", "sfence", "ldmxcsr", "stmxcsr"
	};
	uint64_t per_us, c0, c1, cr4, each;
	int w;

	if ((per_us = tsc_hz() / 1000000) == 0) {
		kprintf("SKIP hostbench: the PIT does not tick\n");
		return;
	}
	__asm__ volatile("movq %%cr4, %0" : "=r"(cr4));
	__asm__ volatile("movq %0, %%cr4" : : "r"(cr4 | CR4_OSFXSR));
	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr_word));
	for (w = 0; w < 9; w++) {
		if (w == 2 && !has_smap()) {
			kprintf("note: bench %s: no SMAP, not run\n", name[w]);
			continue;
		}
		c0 = rdtsc();
		run(w);
		c1 = rdtsc();
		each = (c1 - c0) / BENCH_N;
		kprintf("note: bench %s: %d runs, %lu cycles, %lu.%02lu us "
		    "each\n", name[w], BENCH_N, (unsigned long)each,
		    (unsigned long)(each / per_us),
		    (unsigned long)(each * 100 / per_us % 100));
	}
	__asm__ volatile("ldmxcsr %0" : : "m"(mxcsr_word));
	__asm__ volatile("movq %0, %%cr4" : : "r"(cr4));
	kprintf("PASS hostbench: %lu TSC cycles per us\n",
	    (unsigned long)per_us);
}
