/*
 * machine.c: the test guest's view of the platform: the IDT and trap
 * dispatch, the 8259 pair, the 8254 tick, the LAPIC timer (used only as
 * a watchdog behind every timed wait), CMOS access and the ways out:
 * poweroff and reset.  It must never busy-wait: every CPL 0 instruction
 * is emulated on the development host, so waits are sti;hlt, each one
 * bounded by the PIT and, should the PIT stay silent, by the watchdog.
 */

#include "guest.h"

#define PIC1		0x20
#define PIC2		0xa0
#define PIC_EOI		0x20
#define PIT_CH0		0x40
#define PIT_MODE	0x43
#define PIT_INPUT_HZ	1193182

#define MSR_APIC_BASE	0x1b
#define APIC_BASE_EN	(1ULL << 11)
#define APIC_BASE_X2	(1ULL << 10)
#define LAPIC_VERSION	0x030
#define LAPIC_EOI	0x0b0
#define LAPIC_SVR	0x0f0
#define LAPIC_SVR_EN	0x100
#define LAPIC_LVT_TIMER	0x320
#define LAPIC_LVT0	0x350
#define LAPIC_EXTINT	0x700
#define LAPIC_LVT_MASK	0x10000
#define LAPIC_INIT	0x380
#define LAPIC_CUR	0x390
#define LAPIC_DIV	0x3e0
#define LAPIC_DIV_128	0x0a
/* KVM and QEMU clock the LAPIC timer at 1 GHz: one count is 128 ns. */
#define LAPIC_NS	128

struct idt_gate {
	uint16_t	off_lo;
	uint16_t	sel;
	uint8_t		ist;
	uint8_t		type;
	uint16_t	off_mid;
	uint32_t	off_hi;
	uint32_t	zero;
};

struct idt_desc {
	uint16_t	limit;
	uint64_t	base;
} __attribute__((packed));

static struct idt_gate	 idt[NVEC] __attribute__((aligned(16)));
static volatile uint64_t ticks;
static volatile int	 watchdog_fired;
static volatile int	 in_exception;
static volatile uint32_t *lapic;	/* NULL: no usable xAPIC */
static uint32_t		 watchdog_count;
static uint64_t		 last_wait_us;
static uint16_t		 pic_mask = 0xffff;

static void
idt_init(void)
{
	struct idt_desc d;
	uint64_t a;
	int v;

	for (v = 0; v < NVEC; v++) {
		a = (uint64_t)(uintptr_t)vector_stubs + 16 * v;
		idt[v].off_lo = a & 0xffff;
		idt[v].sel = 0x08;
		idt[v].type = 0x8e;	/* present, DPL 0, interrupt gate */
		idt[v].off_mid = (a >> 16) & 0xffff;
		idt[v].off_hi = a >> 32;
	}
	d.limit = sizeof(idt) - 1;
	d.base = (uint64_t)(uintptr_t)idt;
	__asm__ volatile("lidt %0" : : "m"(d));
}

static void
pic_init(void)
{
	outb(PIC1, 0x11);		/* ICW1: edge, cascade, ICW4 */
	outb(PIC2, 0x11);
	outb(PIC1 + 1, VEC_PIC);	/* ICW2: vector base */
	outb(PIC2 + 1, VEC_PIC + 8);
	outb(PIC1 + 1, 1 << 2);		/* ICW3: slave on IRQ 2 */
	outb(PIC2 + 1, 2);
	outb(PIC1 + 1, 0x01);		/* ICW4: 8086 mode */
	outb(PIC2 + 1, 0x01);
	pic_mask = 0xffff & ~(1 << 2);
	outb(PIC1 + 1, pic_mask & 0xff);
	outb(PIC2 + 1, pic_mask >> 8);
}

void
pic_unmask(int irq)
{
	pic_mask &= ~(1 << irq);
	if (irq < 8)
		outb(PIC1 + 1, pic_mask & 0xff);
	else
		outb(PIC2 + 1, pic_mask >> 8);
}

static void
pic_mask_irq(int irq)
{
	pic_mask |= 1 << irq;
	if (irq < 8)
		outb(PIC1 + 1, pic_mask & 0xff);
	else
		outb(PIC2 + 1, pic_mask >> 8);
}

static void
pic_eoi(int irq)
{
	if (irq >= 8)
		outb(PIC2, PIC_EOI);
	outb(PIC1, PIC_EOI);
}

static void
pit_start(void)
{
	uint16_t div = (PIT_INPUT_HZ + PIT_HZ / 2) / PIT_HZ;

	outb(PIT_MODE, 0x34);		/* channel 0, lo/hi, rate generator */
	outb(PIT_CH0, div & 0xff);
	outb(PIT_CH0, div >> 8);
}

static uint32_t
lapic_read(uint32_t reg)
{
	return lapic[reg / 4];
}

static void
lapic_write(uint32_t reg, uint32_t v)
{
	lapic[reg / 4] = v;
}

/*
 * The LAPIC serves the watchdog timer only.  LVT0 is ExtINT after a KVM
 * reset, but firmware may leave it masked (QEMU microvm's qboot does):
 * set virtual wire mode so the PIC reaches the CPU either way.
 */
static void
lapic_init(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	uint64_t pa = base & 0xffffff000ULL;
	uint32_t ver;

	if (!(base & APIC_BASE_EN) || (base & APIC_BASE_X2) ||
	    pa >= 0x100000000ULL)
		return;
	lapic = (volatile uint32_t *)(uintptr_t)pa;
	ver = lapic_read(LAPIC_VERSION);
	if (ver == 0 || ver == 0xffffffff) {
		lapic = NULL;
		return;
	}
	lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASK | VEC_WATCHDOG);
	lapic_write(LAPIC_DIV, LAPIC_DIV_128);
	lapic_write(LAPIC_SVR, LAPIC_SVR_EN | VEC_SPURIOUS);
	lapic_write(LAPIC_LVT0, LAPIC_EXTINT);
}

int
lapic_present(void)
{
	return lapic != NULL;
}

static void
watchdog_arm(uint32_t ms)
{
	uint64_t n = (uint64_t)ms * 1000000 / LAPIC_NS;

	watchdog_fired = 0;
	if (lapic == NULL)
		return;
	watchdog_count = n > 0xffffffffULL ? 0xffffffff : (uint32_t)n;
	lapic_write(LAPIC_LVT_TIMER, VEC_WATCHDOG);
	lapic_write(LAPIC_INIT, watchdog_count);
}

/* Stops the watchdog; returns the microseconds it ran. */
static uint64_t
watchdog_disarm(void)
{
	uint32_t cur;

	if (lapic == NULL)
		return 0;
	cur = watchdog_fired ? 0 : lapic_read(LAPIC_CUR);
	lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASK | VEC_WATCHDOG);
	lapic_write(LAPIC_INIT, 0);
	return (uint64_t)(watchdog_count - cur) * LAPIC_NS / 1000;
}

void
machine_init(void)
{
	idt_init();
	pic_init();
	pit_start();
	lapic_init();
	pic_unmask(IRQ_PIT);
	sti();
}

uint64_t
ticks_now(void)
{
	return ticks;
}

/*
 * Sleeps until cond() holds (returns 1) or ms milliseconds of PIT ticks
 * have passed (returns 0); ms 0 waits for ever.  cond() runs with
 * interrupts off, and sti;hlt cannot lose the wakeup: sti takes effect
 * only after hlt.  The watchdog fires a little after the PIT deadline,
 * so it decides only when the PIT is silent.
 */
int
wait_until(int (*cond)(void), uint32_t ms)
{
	uint64_t deadline = 0;
	int ok;

	if (ms) {
		deadline = ticks + ((uint64_t)ms * PIT_HZ + 999) / 1000 + 1;
		watchdog_arm(ms + ms / 4 + 20);
	} else {
		/*
		 * No deadline: only another interrupt can end the wait, so
		 * the tick is silenced.  An idle guest then costs its host
		 * nothing, which matters where CPL 0 code is emulated.
		 */
		pic_mask_irq(IRQ_PIT);
	}
	for (;;) {
		cli();
		if ((ok = cond()) != 0)
			break;
		if (ms && (ticks >= deadline || watchdog_fired))
			break;
		__asm__ volatile("sti; hlt" : : : "memory");
	}
	sti();
	if (ms)
		last_wait_us = watchdog_disarm();
	else
		pic_unmask(IRQ_PIT);
	return ok;
}

/* How long the last timed wait took by the LAPIC clock; 0 if none. */
uint64_t
wait_elapsed_us(void)
{
	return last_wait_us;
}

static int
never(void)
{
	return 0;
}

/* Gives the VMM time to act on a poweroff or reset request. */
static void
settle(void)
{
	wait_until(never, 20);
}

static void
exception(struct trapframe *tf)
{
	if (in_exception)
		triple_fault();
	in_exception = 1;
	kprintf("FAIL exception %lu at rip 0x%lx\n", (unsigned long)tf->vector,
	    (unsigned long)tf->rip);
	power_off();
}

/* Set by check_int3 around its int3; the breakpoint trap is then expected. */
volatile int		bp_expected;
volatile uint64_t	bp_rip;

void
trap(struct trapframe *tf)
{
	uint64_t v = tf->vector;

	if ((tf->cs & 3) == 3 && v < 32 && user_trap(tf))
		return;
	if (v == VEC_BP && bp_expected) {
		bp_expected = 0;
		bp_rip = tf->rip;
	} else if (v < 32)
		exception(tf);
	else if (v == VEC_PIC + IRQ_PIT) {
		ticks++;
		pic_eoi(IRQ_PIT);
	} else if (v == VEC_PIC + IRQ_COM1) {
		cons_intr();
		pic_eoi(IRQ_COM1);
	} else if (v >= VEC_PIC && v < VEC_PIC + 16) {
		/* Unexpected or spurious: a non-specific EOI is harmless. */
		pic_eoi(v - VEC_PIC);
	} else if (v == VEC_WATCHDOG) {
		watchdog_fired = 1;
		if (lapic != NULL)
			lapic_write(LAPIC_EOI, 0);
	}
	/* VEC_SPURIOUS and the rest need no EOI. */
}

uint8_t
cmos_read(uint8_t reg)
{
	outb(RTC_PORT, reg);
	return inb(RTC_PORT + 1);
}

void
cmos_write(uint8_t reg, uint8_t v)
{
	outb(RTC_PORT, reg);
	outb(RTC_PORT + 1, v);
}

/*
 * vmd's PM1a control port, then QEMU pc's PIIX4 one, then a triple
 * fault (QEMU -M microvm has neither port; with -no-reboot it exits).
 */
void
power_off(void)
{
	outw(PM1_CNT_PORT, PM1_SLP_EN);
	settle();
	kprintf("note: poweroff: port 0x%x ignored, trying 0x%x\n",
	    PM1_CNT_PORT, QEMU_PM1_CNT_PORT);
	outw(QEMU_PM1_CNT_PORT, PM1_SLP_EN);
	settle();
	kprintf("note: poweroff: no PM port answered, triple fault\n");
	triple_fault();
}

void
machine_reset(void)
{
	outb(I8042_CMD_PORT, 0xfe);
	settle();
	kprintf("note: reset: i8042 ignored 0xfe, triple fault\n");
	triple_fault();
}
