/*
 * pwrbtn.c: the guest's side of vmd's stop without -f for guests that
 * have no vmmci driver.  The pwrbtn check behaves as Linux does with
 * ACPI: it finds the PM1a event block and the SCI in the FADT, enables
 * the fixed power button, and on the SCI clears the button's status
 * (write 1 to clear, which is what tells the host the press was seen)
 * and powers off.  The idle mode waits answering nothing at all (no
 * vmmci, no button); the deaf mode sets vmmci up and enables the button
 * but never answers either, as a guest that hangs.  Waits are bounded
 * and the guest never trusts a FADT field it has not checked.
 */

#include "guest.h"

#define FADT_SCI_INT		46	/* 16 bits */
#define FADT_PM1A_EVT_BLK	56	/* 32 bits, an I/O port */
#define FADT_MIN_LEN		(FADT_PM1A_EVT_BLK + 4)

#define PM1_STS			0	/* from PM1a_EVT_BLK */
#define PM1_EN			2
#define PM1_PWRBTN		0x0100	/* PWRBTN_STS, PWRBTN_EN */

#define WAIT_MS			120000

static struct {
	uint16_t	 evt;
	int		 sci;
	volatile int	 pressed;
	volatile uint32_t irqs;
} pb;

static int
sci_intr(void *arg)
{
	if (!(inw(pb.evt + PM1_STS) & PM1_PWRBTN))
		return 0;
	outw(pb.evt + PM1_STS, PM1_PWRBTN);
	pb.irqs++;
	pb.pressed = 1;
	return 1;
}

static int
pressed(void)
{
	return pb.pressed;
}

static int
never(void)
{
	return 0;
}

/* The FADT's PM1a event block and SCI; 0, or -1 with *why set. */
static int
find_pm(struct guest *g, const char **why)
{
	const uint8_t *fadt;
	uint32_t len, evt;

	if ((fadt = acpi_find_table(g, "FACP")) == NULL) {
		*why = "no FADT";
		return -1;
	}
	len = *(const uint32_t *)(fadt + 4);
	if (len < FADT_MIN_LEN) {
		*why = "FADT too short";
		return -1;
	}
	evt = *(const uint32_t *)(fadt + FADT_PM1A_EVT_BLK);
	pb.sci = *(const uint16_t *)(fadt + FADT_SCI_INT);
	if (evt == 0 || evt > 0xfffc) {
		*why = "no PM1a event block in I/O space";
		return -1;
	}
	pb.evt = (uint16_t)evt;
	return 0;
}

/* Enables the fixed power button and takes the SCI; 0 or -1. */
static int
button_enable(struct guest *g, int (*fn)(void *), const char **why)
{
	if (find_pm(g, why) == -1)
		return -1;
	if (irq_establish(pb.sci, fn, NULL) == -1) {
		*why = "SCI line not usable";
		return -1;
	}
	outw(pb.evt + PM1_STS, PM1_PWRBTN);
	outw(pb.evt + PM1_EN, inw(pb.evt + PM1_EN) | PM1_PWRBTN);
	return 0;
}

void
check_pwrbtn(struct guest *g)
{
	const char *why;

	if (button_enable(g, sci_intr, &why) == -1) {
		kprintf("FAIL pwrbtn: %s\n", why);
		return;
	}
	kprintf("pwrbtn: enabled (PM1a 0x%x, SCI %d), waiting for the power "
	    "button\n", pb.evt, pb.sci);
	if (!wait_until(pressed, WAIT_MS)) {
		kprintf("FAIL pwrbtn: not pressed in %d s\n", WAIT_MS / 1000);
		return;
	}
	kprintf("PASS pwrbtn: power button pressed (%u SCI), status cleared\n",
	    pb.irqs);
	kprintf("ALL DONE\n");
	power_off();
}

void
mode_idle(struct guest *g)
{
	kprintf("idle: waiting, answering nothing\n");
	wait_until(never, WAIT_MS);
	kprintf("FAIL idle: nobody ended the guest in %d s\n", WAIT_MS / 1000);
}

/* Takes the SCI and leaves the status set: the host sees no answer. */
static int
sci_ignore(void *arg)
{
	if (!(inw(pb.evt + PM1_STS) & PM1_PWRBTN))
		return 0;
	/* a level SCI would come back at once: stop it at the source */
	outw(pb.evt + PM1_EN, inw(pb.evt + PM1_EN) & ~PM1_PWRBTN);
	pb.irqs++;
	return 1;
}

void
mode_deaf(struct guest *g)
{
	const char *why;

	/* No wait hook: vmmci's interrupts are taken, never acted on. */
	set_wait_hook(NULL);
	if (vmmci_attach(&why) == -1)
		kprintf("note: deaf: vmmci: %s\n", why);
	if (button_enable(g, sci_ignore, &why) == -1)
		kprintf("note: deaf: power button: %s\n", why);
	kprintf("deaf: vmmci and power button enabled, answering neither\n");
	wait_until(never, WAIT_MS);
	kprintf("FAIL deaf: nobody ended the guest in %d s (%u SCI)\n",
	    WAIT_MS / 1000, pb.irqs);
}
