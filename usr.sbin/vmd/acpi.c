/*
 * acpi.c: the fixed ACPI hardware the guest's ACPI tables point at: the
 * PM1a event block (status, enable) at VM_PM_BASE with the fixed-feature
 * power button, the PM1a control register whose S5 sleep request powers
 * the VM off, and the 24-bit PM timer at 3.579545 MHz.  The SCI (IRQ 9,
 * level) is asserted while an enabled status bit is set.  A sleep request
 * is the only way out of here and it goes through dev_request(); nothing
 * a guest writes may end the vm process by any other path.  The guest
 * clearing the status of a press the VM made is its answer to it, and
 * goes there too (DEV_REQ_SHUTDOWN_ACK).
 */

#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "acpi.h"
#include "dev.h"
#include "vm.h"

/* offsets from VM_PM_BASE */
#define PM1_STS		0x0
#define PM1_EN		0x2
#define PM1_CNT		0x4
#define PM_TMR		0x8
#define PM_NPORTS	0xc

#define PM1_PWRBTN	0x0100	/* PWRBTN_STS, PWRBTN_EN */
#define PM1_EN_WMASK	0x0521	/* TMR, GBL, PWRBTN, RTC enables */
#define PM1_CNT_SCI_EN	0x0001
#define PM1_CNT_WMASK	0x1c06	/* BM_RLD, GBL_RLS, SLP_TYP */
#define PM1_SLP_TYP(v)	(((v) >> 10) & 0x7)

#define PM_TMR_HZ	3579545ULL
#define PM_TMR_MASK	0xffffffU	/* TMR_VAL_EXT=0: 24 bits */

struct acpi_pm {
	struct device	*dev;
	uint16_t	 base;
	uint32_t	 irq;
	uint16_t	 sts;
	uint16_t	 en;
	uint16_t	 cnt;
	int		 sci;		/* line level last set */
	int		 pressed;	/* by the VM, not answered yet */
};

static int	 acpi_attach(struct device *, const struct dev_attach_args *);
static void	 acpi_io(struct device *, enum dev_space, uint64_t, int,
		    uint8_t *, int);
static void	 acpi_reset(struct device *);
static void	 acpi_detach(struct device *);

const struct devsw acpi_devsw = {
	.name = "acpi",
	.attach = acpi_attach,
	.io = acpi_io,
	.reset = acpi_reset,
	.detach = acpi_detach
};

static uint32_t
pm_timer(void)
{
	struct timespec	 ts;
	uint64_t	 ticks;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ticks = (uint64_t)ts.tv_sec * PM_TMR_HZ +
	    (uint64_t)ts.tv_nsec * PM_TMR_HZ / 1000000000ULL;
	return (ticks & PM_TMR_MASK);
}

/* The SCI follows (status & enable); called with the device lock held. */
static void
sci_update(struct acpi_pm *sc)
{
	int	 level = (sc->sts & sc->en) != 0;

	if (level == sc->sci)
		return;
	sc->sci = level;
	dev_irq(sc->dev, sc->irq, level);
}

/* SLP_EN is write-only: it acts and is never stored. */
static void
pm1_cnt_write(struct acpi_pm *sc, uint16_t v)
{
	sc->cnt = (v & PM1_CNT_WMASK) | PM1_CNT_SCI_EN;
	sc->cnt &= ~0x0004;	/* GBL_RLS is write-only too */
	if (!(v & VM_PM1_SLP_EN))
		return;
	if (PM1_SLP_TYP(v) == VM_PM1_SLP_TYP_S5) {
		log_limited(LOG_DEBUG, "acpi: S5 requested");
		dev_request(sc->dev, DEV_REQ_POWEROFF);
	} else
		log_limited(LOG_DEBUG,
		    "acpi: sleep type %u not supported, ignored",
		    PM1_SLP_TYP(v));
}

/* The 12-byte block as the guest sees it, one little-endian image. */
static void
acpi_read(struct acpi_pm *sc, unsigned int off, int size, uint8_t *data)
{
	uint8_t		 img[PM_NPORTS];
	uint32_t	 t = pm_timer();
	int		 i;

	img[PM1_STS] = sc->sts;
	img[PM1_STS + 1] = sc->sts >> 8;
	img[PM1_EN] = sc->en;
	img[PM1_EN + 1] = sc->en >> 8;
	img[PM1_CNT] = sc->cnt;
	img[PM1_CNT + 1] = sc->cnt >> 8;
	img[PM1_CNT + 2] = img[PM1_CNT + 3] = 0xff;	/* nothing there */
	for (i = 0; i < 4; i++)
		img[PM_TMR + i] = t >> (8 * i);
	for (i = 0; i < size; i++)
		data[i] = off + i < PM_NPORTS ? img[off + i] : 0xff;
}

/*
 * A byte write to either half of a 16-bit register merges with the
 * other half, so byte-wise and word-wise guests get the same result.
 */
static void
acpi_write(struct acpi_pm *sc, unsigned int off, int size,
    const uint8_t *data)
{
	uint16_t v, mask;
	unsigned int reg;
	int	 i, answered = 0;

	for (reg = PM1_STS; reg <= PM1_CNT; reg += 2) {
		v = 0;
		mask = 0;
		for (i = 0; i < size; i++) {
			if (off + i == reg) {
				v |= data[i];
				mask |= 0x00ff;
			} else if (off + i == reg + 1) {
				v |= data[i] << 8;
				mask |= 0xff00;
			}
		}
		if (mask == 0)
			continue;
		switch (reg) {
		case PM1_STS:
			if (sc->pressed && (sc->sts & v & mask & PM1_PWRBTN)) {
				sc->pressed = 0;
				answered = 1;
			}
			sc->sts &= ~(v & mask);	/* write 1 to clear */
			break;
		case PM1_EN:
			sc->en = (sc->en & ~mask) | (v & mask & PM1_EN_WMASK);
			break;
		case PM1_CNT:
			pm1_cnt_write(sc, (sc->cnt & ~mask) | (v & mask));
			break;
		}
	}
	/* the timer is read-only */
	sci_update(sc);
	if (answered)
		dev_request(sc->dev, DEV_REQ_SHUTDOWN_ACK);
}

static void
acpi_io(struct device *dev, enum dev_space space, uint64_t addr, int size,
    uint8_t *data, int write)
{
	struct acpi_pm	*sc = dev->softc;
	uint64_t	 off = addr - sc->base;
	int		 i;

	if (space != DEV_SPACE_IO || off >= PM_NPORTS) {
		if (!write)
			for (i = 0; i < size; i++)
				data[i] = 0xff;
		return;
	}
	if (write)
		acpi_write(sc, off, size, data);
	else
		acpi_read(sc, off, size, data);
}

static int
acpi_attach(struct device *dev, const struct dev_attach_args *args)
{
	struct acpi_pm	*sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		log_warn("acpi: calloc");
		return (-1);
	}
	sc->dev = dev;
	sc->base = args->iobase ? args->iobase : VM_PM_BASE;
	sc->irq = args->irq ? args->irq : VM_SCI_IRQ;
	sc->cnt = PM1_CNT_SCI_EN;
	if (dev_claim(dev, DEV_SPACE_IO, sc->base, PM_NPORTS) == -1) {
		free(sc);
		return (-1);
	}
	dev->softc = sc;
	return (0);
}

static void
acpi_reset(struct device *dev)
{
	struct acpi_pm	*sc = dev->softc;

	pthread_mutex_lock(&dev->lock);
	sc->sts = 0;
	sc->en = 0;
	sc->cnt = PM1_CNT_SCI_EN;
	sc->pressed = 0;
	sci_update(sc);
	pthread_mutex_unlock(&dev->lock);
}

/*
 * Press the power button (vmctl stop of a guest without vmmci): the
 * status bit is set whether or not the guest listens.  Returns 1 if the
 * guest has enabled the button's event, so an SCI went out, else 0: an
 * OS that never enabled it will not shut down, and the caller decides
 * how long to wait.  Any thread may call it.
 */
int
acpi_power_button(struct device *dev)
{
	struct acpi_pm	*sc;
	int		 enabled;

	if (dev == NULL || dev->sw != &acpi_devsw)
		return (0);
	sc = dev->softc;
	pthread_mutex_lock(&dev->lock);
	sc->sts |= PM1_PWRBTN;
	sci_update(sc);
	enabled = (sc->en & PM1_PWRBTN) != 0;
	sc->pressed = enabled;
	pthread_mutex_unlock(&dev->lock);
	log_debug("acpi: power button pressed%s", enabled ? "" :
	    " (the guest has not enabled it)");
	return (enabled);
}

/*
 * Take a press back that the guest did not answer, so that it does not
 * act on it later: the status bit goes, and the SCI with it.
 */
void
acpi_power_button_cancel(struct device *dev)
{
	struct acpi_pm	*sc;

	if (dev == NULL || dev->sw != &acpi_devsw)
		return;
	sc = dev->softc;
	pthread_mutex_lock(&dev->lock);
	sc->sts &= ~PM1_PWRBTN;
	sc->pressed = 0;
	sci_update(sc);
	pthread_mutex_unlock(&dev->lock);
}

static void
acpi_detach(struct device *dev)
{
	free(dev->softc);
	dev->softc = NULL;
}
