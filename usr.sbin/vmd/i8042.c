/*
 * i8042.c: just enough of the PC keyboard controller for a guest to
 * reset the machine through it (command 0xfe, or the output port written
 * with the reset line low) and for probes to see a sane, keyboard-less
 * controller at ports 0x60 (data) and 0x64 (status/command).  There is
 * no keyboard and no interrupt; it must never raise one.
 */

#include <stdlib.h>

#include "log.h"
#include "dev.h"
#include "vm.h"

#define KBD_DATA	0	/* offset of 0x60 */
#define KBD_CMD		4	/* offset of 0x64 */

#define STS_OBF		0x01	/* output buffer full */
#define STS_SYS		0x04	/* system flag, from the command byte */
#define STS_CMD		0x08	/* last write was to the command port */
#define STS_UNLOCKED	0x10	/* keyboard not inhibited */

#define CB_SYS		0x04

#define CMD_READ_CB	0x20
#define CMD_WRITE_CB	0x60
#define CMD_AUX_OFF	0xa7
#define CMD_AUX_ON	0xa8
#define CMD_AUX_TEST	0xa9
#define CMD_SELF_TEST	0xaa
#define CMD_KBD_TEST	0xab
#define CMD_KBD_OFF	0xad
#define CMD_KBD_ON	0xae
#define CMD_READ_OUT	0xd0
#define CMD_WRITE_OUT	0xd1
#define CMD_PULSE	0xf0	/* 0xf0-0xff: pulse output bits low */

#define OUT_RESET	0x01	/* output port bit 0: CPU reset, active low */
#define OUT_A20		0x02

struct i8042 {
	struct device	*dev;
	uint16_t	 base;
	uint8_t		 cb;		/* command byte */
	uint8_t		 out;		/* output buffer */
	int		 obf;
	int		 last_cmd;	/* last write went to 0x64 */
	uint8_t		 pending;	/* command waiting for data, or 0 */
	uint8_t		 outport;
};

static int	 i8042_attach(struct device *, const struct dev_attach_args *);
static void	 i8042_io(struct device *, enum dev_space, uint64_t, int,
		    uint8_t *, int);
static void	 i8042_reset(struct device *);
static void	 i8042_detach(struct device *);

const struct devsw i8042_devsw = {
	.name = "i8042",
	.attach = i8042_attach,
	.io = i8042_io,
	.reset = i8042_reset,
	.detach = i8042_detach
};

static void
i8042_power_on(struct i8042 *sc)
{
	sc->cb = 0x45;		/* translate, system flag, kbd interrupt */
	sc->out = 0;
	sc->obf = 0;
	sc->last_cmd = 0;
	sc->pending = 0;
	sc->outport = OUT_RESET | OUT_A20;
}

static void
i8042_reply(struct i8042 *sc, uint8_t v)
{
	sc->out = v;
	sc->obf = 1;
}

static void
i8042_command(struct i8042 *sc, uint8_t cmd)
{
	sc->pending = 0;
	switch (cmd) {
	case CMD_READ_CB:
		i8042_reply(sc, sc->cb);
		break;
	case CMD_WRITE_CB:
	case CMD_WRITE_OUT:
		sc->pending = cmd;
		break;
	case CMD_SELF_TEST:
		i8042_reply(sc, 0x55);
		break;
	case CMD_KBD_TEST:
	case CMD_AUX_TEST:
		i8042_reply(sc, 0x00);
		break;
	case CMD_KBD_OFF:
		sc->cb |= 0x10;
		break;
	case CMD_KBD_ON:
		sc->cb &= ~0x10;
		break;
	case CMD_AUX_OFF:
		sc->cb |= 0x20;
		break;
	case CMD_AUX_ON:
		sc->cb &= ~0x20;
		break;
	case CMD_READ_OUT:
		i8042_reply(sc, sc->outport);
		break;
	default:
		if (cmd >= CMD_PULSE) {
			if (!(cmd & OUT_RESET)) {
				log_limited(LOG_DEBUG, "i8042: reset pulse");
				dev_request(sc->dev, DEV_REQ_RESET);
			}
			break;
		}
		log_limited(LOG_DEBUG, "i8042: command 0x%02x ignored",
		    cmd);
		break;
	}
}

static void
i8042_data(struct i8042 *sc, uint8_t v)
{
	uint8_t	 cmd = sc->pending;

	sc->pending = 0;
	switch (cmd) {
	case CMD_WRITE_CB:
		sc->cb = v;
		break;
	case CMD_WRITE_OUT:
		sc->outport = v | OUT_RESET;
		if (!(v & OUT_RESET)) {
			log_limited(LOG_DEBUG,
			    "i8042: reset through output port");
			dev_request(sc->dev, DEV_REQ_RESET);
		}
		break;
	default:
		/* bytes for a keyboard that is not there */
		break;
	}
}

static uint8_t
i8042_status(const struct i8042 *sc)
{
	return (STS_UNLOCKED | (sc->cb & CB_SYS) |
	    (sc->last_cmd ? STS_CMD : 0) | (sc->obf ? STS_OBF : 0));
}

static void
i8042_io(struct device *dev, enum dev_space space, uint64_t addr, int size,
    uint8_t *data, int write)
{
	struct i8042	*sc = dev->softc;
	uint64_t	 port;
	int		 i;

	for (i = 0; i < size; i++) {
		port = addr + i - sc->base;
		if (space != DEV_SPACE_IO ||
		    (port != KBD_DATA && port != KBD_CMD)) {
			if (!write)
				data[i] = 0xff;
			continue;
		}
		if (write) {
			sc->last_cmd = (port == KBD_CMD);
			if (port == KBD_CMD)
				i8042_command(sc, data[i]);
			else
				i8042_data(sc, data[i]);
		} else if (port == KBD_CMD)
			data[i] = i8042_status(sc);
		else {
			data[i] = sc->out;
			sc->obf = 0;
		}
	}
}

static int
i8042_attach(struct device *dev, const struct dev_attach_args *args)
{
	struct i8042	*sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		log_warn("i8042: calloc");
		return (-1);
	}
	sc->dev = dev;
	sc->base = args->iobase ? args->iobase : VM_I8042_PORT;
	i8042_power_on(sc);
	if (dev_claim(dev, DEV_SPACE_IO, sc->base + KBD_DATA, 1) == -1 ||
	    dev_claim(dev, DEV_SPACE_IO, sc->base + KBD_CMD, 1) == -1) {
		free(sc);
		return (-1);
	}
	dev->softc = sc;
	return (0);
}

static void
i8042_reset(struct device *dev)
{
	pthread_mutex_lock(&dev->lock);
	i8042_power_on(dev->softc);
	pthread_mutex_unlock(&dev->lock);
}

static void
i8042_detach(struct device *dev)
{
	free(dev->softc);
	dev->softc = NULL;
}
