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
#define LAPIC_ID	0x020
#define LAPIC_VERSION	0x030
#define LAPIC_EOI	0x0b0
#define LAPIC_SVR	0x0f0
#define LAPIC_SVR_EN	0x100
#define LAPIC_ICR_LO	0x300
#define LAPIC_ICR_HI	0x310
#define LAPIC_ICR_BUSY	0x1000
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
#define IRQ_SHARE	4	/* handlers on one PIC line */
#define IRQ_PASSES	4	/* rounds over a shared line's handlers */
#define TSC_CAL_TICKS	25	/* 100 ms at PIT_HZ */

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

struct handler {
	void	(*fn)(void *);
	void	*arg;
};
struct line_handler {
	int	(*fn)(void *);
	void	*arg;
};
static struct line_handler irq_handlers[16][IRQ_SHARE];
static struct handler	 msi_handlers[NVEC - VEC_MSI];
static int		 msi_next;
static uint64_t		 tsc_freq;

/* Background work run from waits; see wait_until(). */
static void		(*wait_hook)(void);
static volatile int	 in_hook;
volatile int		 svc_pending;
volatile int		 svc_need_tick;

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

uint32_t
lapic_id(void)
{
	return lapic != NULL ? lapic_read(LAPIC_ID) >> 24 : 0;
}

/*
 * Sends one IPI (ICR low word lo) to an xAPIC id; 0 once the LAPIC took
 * it, -1 if it stays busy.
 */
int
lapic_ipi(uint32_t apicid, uint32_t lo)
{
	int i;

	if (lapic == NULL)
		return -1;
	lapic_write(LAPIC_ICR_HI, apicid << 24);
	lapic_write(LAPIC_ICR_LO, lo);
	for (i = 0; i < 1000; i++)
		if (!(lapic_read(LAPIC_ICR_LO) & LAPIC_ICR_BUSY))
			return 0;
	return -1;
}

/* What an AP needs of the BSP's setup: its LAPIC on, as the BSP's. */
void
lapic_ap_init(void)
{
	if (lapic == NULL)
		return;
	lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASK | VEC_WATCHDOG);
	lapic_write(LAPIC_SVR, LAPIC_SVR_EN | VEC_SPURIOUS);
}

void
idt_load(void)
{
	struct idt_desc d;

	d.limit = sizeof(idt) - 1;
	d.base = (uint64_t)(uintptr_t)idt;
	__asm__ volatile("lidt %0" : : "m"(d));
}

/*
 * Hands out the next free vector for an MSI or MSI-X message; -1 when
 * none is left.  Interrupts delivered there call fn(arg) and get their
 * LAPIC EOI.
 */
int
msi_alloc(void (*fn)(void *), void *arg)
{
	int v;

	if (lapic == NULL || msi_next >= NVEC - VEC_MSI)
		return -1;
	v = msi_next++;
	msi_handlers[v].arg = arg;
	msi_handlers[v].fn = fn;
	return VEC_MSI + v;
}

/*
 * Adds fn(arg) to the handlers of a PIC line and unmasks it; fn returns
 * 1 when its device had something pending.  The line's trigger mode
 * stays as the firmware or the VMM set it (ELCR): they know how their
 * INTx behaves.  0, or -1 if the line is not one a device may use or
 * has no room.
 */
int
irq_establish(int irq, int (*fn)(void *), void *arg)
{
	int i;

	if (irq <= 2 || irq >= 16 || irq == 8 || irq == 13)
		return -1;
	for (i = 0; i < IRQ_SHARE; i++)
		if (irq_handlers[irq][i].fn == NULL)
			break;
	if (i == IRQ_SHARE)
		return -1;
	cli();
	irq_handlers[irq][i].arg = arg;
	irq_handlers[irq][i].fn = fn;
	pic_unmask(irq);
	sti();
	return 0;
}

void
set_wait_hook(void (*fn)(void))
{
	wait_hook = fn;
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

static uint64_t hook_tick;

/*
 * Background work (answering the host's vmmci requests, ARP and ping)
 * runs from waits, with interrupts on, never nested: an interrupt that
 * concerns it sets svc_pending; timers of its own ask for every tick.
 * Called with interrupts off.
 */
static int
hook_due(void)
{
	if (wait_hook == NULL || in_hook)
		return 0;
	return svc_pending || (svc_need_tick && ticks != hook_tick);
}

static void
run_hook(void)
{
	svc_pending = 0;
	hook_tick = ticks;
	in_hook = 1;
	sti();
	wait_hook();
	in_hook = 0;
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
	int ok, masked = 0;

	if (ms) {
		deadline = ticks + ((uint64_t)ms * PIT_HZ + 999) / 1000 + 1;
		watchdog_arm(ms + ms / 4 + 20);
	} else if (!svc_need_tick) {
		/*
		 * No deadline: only another interrupt can end the wait, so
		 * the tick is silenced.  An idle guest then costs its host
		 * nothing, which matters where CPL 0 code is emulated.
		 * Background work with timers of its own keeps it.
		 */
		pic_mask_irq(IRQ_PIT);
		masked = 1;
	}
	for (;;) {
		cli();
		if ((ok = cond()) != 0)
			break;
		if (ms && (ticks >= deadline || watchdog_fired))
			break;
		if (hook_due()) {
			run_hook();
			continue;
		}
		__asm__ volatile("sti; hlt" : : : "memory");
	}
	sti();
	if (ms)
		last_wait_us = watchdog_disarm();
	else if (masked)
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

/*
 * Runs a shared PIC line's handlers until a whole round finds nothing
 * pending: the line is then low, so with edge triggering the next
 * assertion by any sharer is a fresh edge and not lost.
 */
static void
line_intr(int irq)
{
	struct line_handler *h = irq_handlers[irq];
	int i, n, busy;

	for (n = 0; n < IRQ_PASSES; n++) {
		busy = 0;
		for (i = 0; i < IRQ_SHARE && h[i].fn != NULL; i++)
			busy |= h[i].fn(h[i].arg);
		if (!busy)
			break;
	}
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
		line_intr(v - VEC_PIC);
		/* Unexpected or spurious: a non-specific EOI is harmless. */
		pic_eoi(v - VEC_PIC);
	} else if (v >= VEC_MSI && v < NVEC) {
		if (msi_handlers[v - VEC_MSI].fn != NULL)
			msi_handlers[v - VEC_MSI].fn(
			    msi_handlers[v - VEC_MSI].arg);
		if (lapic != NULL)
			lapic_write(LAPIC_EOI, 0);
	} else if (v == VEC_WATCHDOG) {
		watchdog_fired = 1;
		if (lapic != NULL)
			lapic_write(LAPIC_EOI, 0);
	}
	/* VEC_SPURIOUS and the rest need no EOI. */
}

static uint64_t tick_target;

static int
tick_reached(void)
{
	return ticks >= tick_target;
}

/*
 * TSC ticks per second, measured once against TSC_CAL_TICKS PIT ticks
 * (the first wait lines up on a tick edge); 0 if the PIT is silent.
 */
uint64_t
tsc_hz(void)
{
	uint64_t t0;

	if (tsc_freq != 0)
		return tsc_freq;
	tick_target = ticks + 1;
	if (!wait_until(tick_reached, 100))
		return 0;
	t0 = rdtsc();
	tick_target = ticks + TSC_CAL_TICKS;
	if (!wait_until(tick_reached, TSC_CAL_TICKS * 4000 / PIT_HZ))
		return 0;
	tsc_freq = (rdtsc() - t0) * PIT_HZ / TSC_CAL_TICKS;
	return tsc_freq;
}

/* Microseconds between two TSC readings. */
uint64_t
tsc_us(uint64_t t0, uint64_t t1)
{
	uint64_t hz = tsc_hz();

	if (hz == 0)
		return 0;
	return (t1 - t0) / (hz / 1000000 ? hz / 1000000 : 1);
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
