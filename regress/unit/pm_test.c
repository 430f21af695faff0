/*
 * pm_test.c: unit tests of the two ways a guest ends or restarts the
 * machine without a virtio device: the ACPI PM1a block in acpi.c (S5
 * sleep request, other sleep types ignored, status/enable registers, the
 * PM timer) and the i8042 in i8042.c (pulse 0xfe, output port 0xd1,
 * self-test, command byte).  Requests are recorded by a fake host.
 */

#include <string.h>
#include <time.h>

#include "acpi.h"
#include "dev.h"
#include "vm.h"
#include "regress/test.h"

struct req_rec {
	int		 n;
	int		 poweroff;
	int		 reset;
	int		 ack;
	int		 irqs;
	uint32_t	 last_irq;
	int		 level;
};

static struct req_rec	 rec;

static void
rec_request(void *arg, enum dev_request r)
{
	struct req_rec	*p = arg;

	p->n++;
	if (r == DEV_REQ_POWEROFF)
		p->poweroff++;
	else if (r == DEV_REQ_RESET)
		p->reset++;
	else if (r == DEV_REQ_SHUTDOWN_ACK)
		p->ack++;
}

static void
rec_irq(void *arg, uint32_t irq, int level)
{
	struct req_rec	*p = arg;

	p->irqs++;
	p->last_irq = irq;
	p->level = level;
}

struct plat {
	struct devices	 set;
	struct dev_host	 host;
	struct device	*acpi, *kbd;
};

static int
plat_open(struct plat *p)
{
	struct dev_attach_args a = { .fd = -1, .fd2 = -1 };

	memset(p, 0, sizeof(*p));
	memset(&rec, 0, sizeof(rec));
	p->host.arg = &rec;
	p->host.request = rec_request;
	p->host.irq_set = rec_irq;
	dev_init(&p->set, &p->host);
	p->acpi = dev_attach(&p->set, &acpi_devsw, &a);
	p->kbd = dev_attach(&p->set, &i8042_devsw, &a);
	return (p->acpi != NULL && p->kbd != NULL ? 0 : -1);
}

static uint32_t
in(struct plat *p, uint16_t port, int size)
{
	uint8_t	 d[4] = { 0, 0, 0, 0 };

	dev_io(&p->set, DEV_SPACE_IO, port, size, d, 0);
	return (d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24);
}

static void
out(struct plat *p, uint16_t port, int size, uint32_t v)
{
	uint8_t	 d[4] = { v, v >> 8, v >> 16, v >> 24 };

	dev_io(&p->set, DEV_SPACE_IO, port, size, d, 1);
}

#define PM1_STS	(VM_PM_BASE + 0)
#define PM1_EN	(VM_PM_BASE + 2)
#define PM1_CNT	VM_PM1_CNT_PORT
#define PM_TMR	(VM_PM_BASE + 8)
#define SLP(t)	(VM_PM1_SLP_EN | ((t) << 10))

static void
test_poweroff(void)
{
	struct plat	 p;

	CHECK(plat_open(&p) == 0);
	if (p.acpi == NULL)
		return;
	CHECK(in(&p, PM1_CNT, 2) == 0x0001);	/* SCI_EN */
	/* the type alone, without SLP_EN, does nothing */
	out(&p, PM1_CNT, 2, VM_PM1_SLP_TYP_S5 << 10);
	CHECK(rec.n == 0);
	out(&p, PM1_CNT, 2, SLP(VM_PM1_SLP_TYP_S5));
	CHECK(rec.n == 1 && rec.poweroff == 1);
	/* SLP_EN reads back 0; SCI_EN stays 1 */
	CHECK((in(&p, PM1_CNT, 2) & (VM_PM1_SLP_EN | 1)) == 1);
	/* byte-wise: type in the high byte along with SLP_EN */
	out(&p, PM1_CNT + 1, 1, SLP(VM_PM1_SLP_TYP_S5) >> 8);
	CHECK(rec.poweroff == 2);
	/* a 32-bit write covering the register */
	out(&p, PM1_CNT, 4, SLP(VM_PM1_SLP_TYP_S5));
	CHECK(rec.poweroff == 3 && rec.reset == 0 && rec.irqs == 0);
	dev_detach_all(&p.set);
}

static void
test_other_sleep(void)
{
	struct plat	 p;
	int		 t;

	CHECK(plat_open(&p) == 0);
	if (p.acpi == NULL)
		return;
	for (t = 0; t < 8; t++)
		if (t != VM_PM1_SLP_TYP_S5)
			out(&p, PM1_CNT, 2, SLP(t));
	CHECK(rec.n == 0);
	/* the last type written reads back */
	CHECK(((in(&p, PM1_CNT, 2) >> 10) & 7) == 7);
	dev_detach_all(&p.set);
}

static void
test_pm1_regs(void)
{
	struct plat	 p;

	CHECK(plat_open(&p) == 0);
	if (p.acpi == NULL)
		return;
	CHECK(in(&p, PM1_STS, 2) == 0);
	out(&p, PM1_EN, 2, 0x0121);
	CHECK(in(&p, PM1_EN, 2) == 0x0121);
	out(&p, PM1_EN + 1, 1, 0x00);
	CHECK(in(&p, PM1_EN, 2) == 0x0021);
	CHECK(in(&p, PM1_STS, 4) == 0x00210000);
	/* writes of ones to status clear, never set */
	out(&p, PM1_STS, 2, 0xffff);
	CHECK(in(&p, PM1_STS, 2) == 0);
	dev_reset_all(&p.set);
	CHECK(in(&p, PM1_EN, 2) == 0 && in(&p, PM1_CNT, 2) == 1);
	CHECK(rec.n == 0);
	dev_detach_all(&p.set);
}

/*
 * The fixed-feature power button: a press sets PWRBTN_STS; the SCI (IRQ
 * 9) is raised only while the guest has enabled it, and drops when the
 * guest clears the status.
 */
static void
test_power_button(void)
{
	struct plat	 p;

	CHECK(plat_open(&p) == 0);
	if (p.acpi == NULL)
		return;
	/* not enabled: status set, no interrupt, the caller is told */
	CHECK(acpi_power_button(p.acpi) == 0);
	CHECK(in(&p, PM1_STS, 2) == 0x0100);
	CHECK(rec.irqs == 0);
	/* enabling with the status pending raises the SCI at once */
	out(&p, PM1_EN, 2, 0x0100);
	CHECK(rec.irqs == 1 && rec.last_irq == 9 && rec.level == 1);
	/* clearing the status lowers it */
	out(&p, PM1_STS, 2, 0x0100);
	CHECK(in(&p, PM1_STS, 2) == 0);
	CHECK(rec.irqs == 2 && rec.level == 0);
	/* enabled: a press raises it, a second press changes nothing */
	CHECK(acpi_power_button(p.acpi) == 1);
	CHECK(rec.irqs == 3 && rec.level == 1);
	CHECK(acpi_power_button(p.acpi) == 1);
	CHECK(rec.irqs == 3);
	/* a byte write to the high half clears it too: that answers */
	CHECK(rec.ack == 0);
	out(&p, PM1_STS + 1, 1, 0x01);
	CHECK(rec.irqs == 4 && rec.level == 0);
	CHECK(rec.ack == 1);
	/* disabling with the status pending lowers the line */
	CHECK(acpi_power_button(p.acpi) == 1);
	CHECK(rec.level == 1);
	out(&p, PM1_EN, 2, 0);
	CHECK(rec.level == 0 && in(&p, PM1_STS, 2) == 0x0100);
	/* reset clears it all, the line stays low */
	out(&p, PM1_EN, 2, 0x0100);
	CHECK(rec.level == 1);
	dev_reset_all(&p.set);
	CHECK(rec.level == 0 && in(&p, PM1_STS, 2) == 0 &&
	    in(&p, PM1_EN, 2) == 0);
	/* enable bits that do not exist do not stick */
	out(&p, PM1_EN, 2, 0xffff);
	CHECK(in(&p, PM1_EN, 2) == 0x0521);
	/* no other request came from any of this */
	CHECK(rec.n == 1 && rec.ack == 1);
	/* a device that is not the ACPI block is refused */
	CHECK(acpi_power_button(p.kbd) == 0);
	CHECK(acpi_power_button(NULL) == 0);
	dev_detach_all(&p.set);
}

/*
 * The guest's answer to a press is clearing its status, once; clearing
 * it when the VM did not press, or after the press was taken back, is
 * none.  A press taken back leaves nothing for the guest to find.
 */
static void
test_power_button_answer(void)
{
	struct plat	 p;

	CHECK(plat_open(&p) == 0);
	if (p.acpi == NULL)
		return;
	/* what guests do at boot: clear every status bit */
	out(&p, PM1_STS, 2, 0xffff);
	out(&p, PM1_EN, 2, 0x0100);
	CHECK(rec.n == 0);
	CHECK(acpi_power_button(p.acpi) == 1);
	/* writes that do not clear the button are no answer */
	out(&p, PM1_STS, 2, 0x0001);
	out(&p, PM1_EN, 2, 0x0100);
	CHECK(rec.n == 0);
	out(&p, PM1_STS, 2, 0xffff);
	CHECK(rec.n == 1 && rec.ack == 1);
	out(&p, PM1_STS, 2, 0xffff);
	CHECK(rec.n == 1);
	/* taken back: status and SCI gone, a later clear answers nothing */
	CHECK(acpi_power_button(p.acpi) == 1);
	CHECK(rec.level == 1);
	acpi_power_button_cancel(p.acpi);
	CHECK(rec.level == 0 && in(&p, PM1_STS, 2) == 0);
	out(&p, PM1_STS, 2, 0x0100);
	CHECK(rec.n == 1);
	/* a press the guest had not enabled is taken back the same way */
	out(&p, PM1_EN, 2, 0);
	CHECK(acpi_power_button(p.acpi) == 0);
	acpi_power_button_cancel(p.acpi);
	out(&p, PM1_EN, 2, 0x0100);
	CHECK(rec.level == 0 && in(&p, PM1_STS, 2) == 0);
	/* a reset forgets a press */
	CHECK(acpi_power_button(p.acpi) == 1);
	dev_reset_all(&p.set);
	out(&p, PM1_STS, 2, 0x0100);
	CHECK(rec.n == 1);
	acpi_power_button_cancel(NULL);
	acpi_power_button_cancel(p.kbd);
	dev_detach_all(&p.set);
}

static long long
ns_since(const struct timespec *t0)
{
	struct timespec	 t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return ((t.tv_sec - t0->tv_sec) * 1000000000LL +
	    (t.tv_nsec - t0->tv_nsec));
}

static void
test_pm_timer(void)
{
	struct plat	 p;
	struct timespec	 t0, ts = { 0, 10000000 };
	uint32_t	 a, b, prev, cur, elapsed = 0;
	int		 i, ok = 1, wraps = 0;
	long long	 ns;

	CHECK(plat_open(&p) == 0);
	if (p.acpi == NULL)
		return;
	prev = in(&p, PM_TMR, 4);
	for (i = 0; i < 100000; i++) {
		cur = in(&p, PM_TMR, 4);
		if (cur > 0xffffff)
			ok = 0;
		if (cur < prev)		/* only a 24-bit wrap may go back */
			wraps++;
		prev = cur;
	}
	CHECK(ok && wraps <= 1);
	/* rate: about 3.58 ticks per microsecond over 10 ms */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	a = in(&p, PM_TMR, 4);
	nanosleep(&ts, NULL);
	b = in(&p, PM_TMR, 4);
	ns = ns_since(&t0);
	elapsed = (b - a) & 0xffffff;
	CHECK(elapsed > 0);
	CHECK(elapsed <= ns * 3579545 / 1000000000 + 2);
	CHECK(elapsed + 2 >= (ns - 2000000) * 3579545 / 1000000000);
	/* read-only: writing 0 does not restart it; 24 bits only */
	out(&p, PM_TMR, 4, 0);
	CHECK(in(&p, PM_TMR + 3, 1) == 0);
	CHECK(((in(&p, PM_TMR, 4) - b) & 0xffffff) < 0x800000);
	dev_detach_all(&p.set);
}

static void
test_i8042_reset(void)
{
	struct plat	 p;

	CHECK(plat_open(&p) == 0);
	if (p.kbd == NULL)
		return;
	CHECK((in(&p, 0x64, 1) & 0x07) == 0x04);	/* SYS, empty */
	out(&p, 0x64, 1, 0xfe);
	CHECK(rec.n == 1 && rec.reset == 1);
	CHECK(in(&p, 0x64, 1) & 0x08);			/* last: command */
	/* pulsing other lines leaves the reset line alone */
	out(&p, 0x64, 1, 0xff);
	out(&p, 0x64, 1, 0xfd);
	CHECK(rec.reset == 1);
	/* output port with bit 0 set: no reset; clear: reset */
	out(&p, 0x64, 1, 0xd1);
	out(&p, 0x60, 1, 0x03);
	CHECK(rec.reset == 1);
	CHECK((in(&p, 0x64, 1) & 0x08) == 0);		/* last: data */
	out(&p, 0x64, 1, 0xd1);
	out(&p, 0x60, 1, 0x02);
	CHECK(rec.reset == 2 && rec.poweroff == 0);
	/* a data byte without 0xd1 before it is for the keyboard */
	out(&p, 0x60, 1, 0x00);
	CHECK(rec.reset == 2);
	CHECK(rec.irqs == 0);
	dev_detach_all(&p.set);
}

static void
test_i8042_commands(void)
{
	struct plat	 p;

	CHECK(plat_open(&p) == 0);
	if (p.kbd == NULL)
		return;
	out(&p, 0x64, 1, 0xaa);
	CHECK(in(&p, 0x64, 1) & 0x01);
	CHECK(in(&p, 0x60, 1) == 0x55);
	CHECK((in(&p, 0x64, 1) & 0x01) == 0);
	out(&p, 0x64, 1, 0x20);
	CHECK(in(&p, 0x60, 1) == 0x45);
	out(&p, 0x64, 1, 0x60);
	out(&p, 0x60, 1, 0x30);
	out(&p, 0x64, 1, 0x20);
	CHECK(in(&p, 0x60, 1) == 0x30);
	CHECK((in(&p, 0x64, 1) & 0x04) == 0);		/* SYS follows */
	out(&p, 0x64, 1, 0xd0);
	CHECK(in(&p, 0x60, 1) & 0x01);			/* not in reset */
	out(&p, 0x64, 1, 0x12);				/* unknown */
	CHECK((in(&p, 0x64, 1) & 0x01) == 0);
	dev_reset_all(&p.set);
	out(&p, 0x64, 1, 0x20);
	CHECK(in(&p, 0x60, 1) == 0x45);
	/* nothing else lives between the two ports */
	CHECK(in(&p, 0x61, 1) == 0xff && in(&p, 0x60, 2) == 0xffff);
	CHECK(rec.n == 0 && rec.irqs == 0);
	dev_detach_all(&p.set);
}

int
main(void)
{
	RUN(test_poweroff);
	RUN(test_other_sleep);
	RUN(test_pm1_regs);
	RUN(test_power_button);
	RUN(test_power_button_answer);
	RUN(test_pm_timer);
	RUN(test_i8042_reset);
	RUN(test_i8042_commands);
	TEST_EXIT();
}
