/*
 * vmmci.c: the test guest's driver for OpenBSD's VMM control device
 * (vmmci(4) on the guest side, vmd's vmmci on the host side): a legacy
 * virtio 0.9 PCI function, vendor 0b5d (OpenBSD) device 0777, subsystem
 * 0xffff, with no queues, one I/O BAR and INTx.  The host writes a
 * command into the device configuration and raises a configuration
 * change; the guest acknowledges by writing the command back, then acts
 * (shutdown: poweroff; reboot: reset; clock sync: reread the RTC).  It
 * follows OpenBSD's driver in what it negotiates and writes, so it
 * meets vmd's device exactly, and must never act on a command twice.
 */

#include "guest.h"

#define VMMCI_VENDOR		0x0b5d
#define VMMCI_DEVICE		0x0777
#define VMMCI_SUBSYS		0xffff

/* Legacy virtio header in BAR 0 (I/O) */
#define VL_DEV_FEATURES		0
#define VL_GUEST_FEATURES	4
#define VL_STATUS		18
#define VL_ISR			19
#define VL_CONFIG		20	/* without MSI-X */

#define VMMCI_COMMAND		(VL_CONFIG + 0)
#define VMMCI_TIME_SEC		(VL_CONFIG + 4)
#define VMMCI_TIME_USEC		(VL_CONFIG + 12)

#define VMMCI_F_TIMESYNC	(1U << 0)
#define VMMCI_F_ACK		(1U << 1)
#define VMMCI_F_SYNCRTC		(1U << 2)

#define VMMCI_NONE		0
#define VMMCI_SHUTDOWN		1
#define VMMCI_REBOOT		2
#define VMMCI_SYNCRTC		3

#define ST_ACK			0x01
#define ST_DRIVER		0x02
#define ST_DRIVER_OK		0x04
#define ISR_CONFIG		0x02
#define WAIT_MS			120000

static struct {
	struct pci_func	*pf;
	uint16_t	 io;
	uint32_t	 features;
	uint32_t	 cmd;		/* last command seen */
	volatile int	 pending;
	volatile uint32_t irqs;
	int		 checking;	/* the vmmci check is waiting */
	int		 attached;
} mc;

static int
match(const struct pci_func *f)
{
	return f->vendor == VMMCI_VENDOR && f->device == VMMCI_DEVICE;
}

static int
vmmci_intr(void *arg)
{
	if (!(inb(mc.io + VL_ISR) & ISR_CONFIG))
		return 0;
	mc.irqs++;
	mc.pending = 1;
	svc_pending = 1;
	return 1;
}

/* Finds and starts the device; 0, or -1 with *why set. */
int
vmmci_attach(const char **why)
{
	uint32_t have;

	if (mc.attached)
		return 0;
	if ((mc.pf = pci_find(match, 0)) == NULL) {
		*why = "no vmmci device";
		return -1;
	}
	if (mc.pf->subdevice != VMMCI_SUBSYS)
		kprintf("note: vmmci: subsystem id %04x, expected %04x\n",
		    mc.pf->subdevice, VMMCI_SUBSYS);
	if (mc.pf->bar_type[0] != BAR_IO) {
		*why = "BAR 0 is not an I/O BAR";
		return -1;
	}
	if (pci_enable(mc.pf, why) == -1)
		return -1;
	mc.io = (uint16_t)mc.pf->bar[0];
	outb(mc.io + VL_STATUS, 0);
	outb(mc.io + VL_STATUS, ST_ACK);
	outb(mc.io + VL_STATUS, ST_ACK | ST_DRIVER);
	have = inl(mc.io + VL_DEV_FEATURES);
	mc.features = have & (VMMCI_F_TIMESYNC | VMMCI_F_ACK |
	    VMMCI_F_SYNCRTC);
	outl(mc.io + VL_GUEST_FEATURES, mc.features);
	if (mc.pf->irq_pin == 0 ||
	    irq_establish(mc.pf->irq_line, vmmci_intr, NULL) == -1) {
		*why = "no usable INTx line";
		return -1;
	}
	/* Commands already posted before DRIVER_OK are not acted on. */
	mc.cmd = inl(mc.io + VMMCI_COMMAND);
	outb(mc.io + VL_STATUS, ST_ACK | ST_DRIVER | ST_DRIVER_OK);
	mc.attached = 1;
	return 0;
}

static void
ack(uint32_t cmd)
{
	if (mc.features & VMMCI_F_ACK)
		outl(mc.io + VMMCI_COMMAND, cmd);
}

/*
 * Acts on a new command; called from waits (the wait hook) after the
 * interrupt.  Shutdown and reboot do not return.
 */
void
vmmci_poll(void)
{
	struct rtc_time t;
	const char *why;
	uint32_t cmd;

	if (!mc.attached || !mc.pending)
		return;
	mc.pending = 0;
	cmd = inl(mc.io + VMMCI_COMMAND);
	if (cmd == mc.cmd)
		return;
	mc.cmd = cmd;
	switch (cmd) {
	case VMMCI_NONE:
		return;
	case VMMCI_SHUTDOWN:
		ack(cmd);
		if (mc.checking)
			kprintf("PASS vmmci: shutdown request acknowledged\n");
		else
			kprintf("vmmci: shutdown requested, acknowledged\n");
		kprintf("ALL DONE\n");
		power_off();
	case VMMCI_REBOOT:
		ack(cmd);
		if (mc.checking)
			kprintf("PASS vmmci: reboot request acknowledged\n");
		else
			kprintf("vmmci: reboot requested, acknowledged\n");
		/*
		 * As on the way to poweroff: the line before says what
		 * happened, and a console that loses the last bytes when
		 * the VM ends (vmd stops a VM that resets while stopping)
		 * loses only this one.
		 */
		kprintf("ALL DONE\n");
		machine_reset();
	case VMMCI_SYNCRTC:
		ack(cmd);
		/* As OpenBSD's driver: a clock sync is not remembered. */
		mc.cmd = VMMCI_NONE;
		if (rtc_read(&t, &why) == 0)
			kprintf("vmmci: clock sync requested, acknowledged, "
			    "rtc %u-%02u-%02u %02u:%02u:%02u\n", t.year, t.mon,
			    t.day, t.hour, t.min, t.sec);
		else
			kprintf("vmmci: clock sync requested, acknowledged, "
			    "rtc: %s\n", why);
		return;
	default:
		kprintf("note: vmmci: invalid command %u ignored\n", cmd);
		return;
	}
}

static int
never(void)
{
	return 0;
}

/*
 * The vmmci check: attach, report the host's clock, then wait for the
 * host's shutdown or reboot request; vmmci_poll() prints the result and
 * acts.  A clock sync in between is acknowledged and the wait goes on.
 */
void
check_vmmci(struct guest *g)
{
	const char *why;
	uint32_t sec, usec;

	if (vmmci_attach(&why) == -1) {
		kprintf("%s vmmci: %s\n", g->hosttime_set ? "FAIL" : "SKIP",
		    why);
		return;
	}
	if (mc.features & VMMCI_F_TIMESYNC) {
		sec = inl(mc.io + VMMCI_TIME_SEC);
		usec = inl(mc.io + VMMCI_TIME_USEC);
		kprintf("vmmci: features 0x%x, host time %u.%06u\n",
		    mc.features, sec, usec);
	} else
		kprintf("vmmci: features 0x%x\n", mc.features);
	kprintf("vmmci: waiting for a host request\n");
	mc.checking = 1;
	wait_until(never, WAIT_MS);
	mc.checking = 0;
	kprintf("FAIL vmmci: no shutdown or reboot request in %d s\n",
	    WAIT_MS / 1000);
}
