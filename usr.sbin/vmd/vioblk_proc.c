/*
 * vioblk_proc.c: the "vioblk" device role, one process per disk of a VM
 * ("vm NAME vioblk 0").  It opens the disk from the image descriptors
 * vmm passed (the top image first, its read-only bases after it; the
 * parent opened and locked them), starts vioblk.c's request engine on
 * it with a few I/O threads, and tells the vm process what the device
 * offers.  Everything else (channels, guest RAM, queue hand-over, reset,
 * pause) is devproc.c's runner.  It must never open a file (Landlock and
 * seccomp allow none) nor trust the queue state the vm process sends:
 * the engine checks every ring and request itself.
 */

#include <sys/types.h>

#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "disk.h"
#include "devproc.h"
#include "vioblk.h"

struct vioblk_dev {
	struct devproc		*dp;
	struct vioblk		*sc;
	int			 started;	/* engine runs queue 0 */
	struct virtq_state	 st;		/* as it was started */
};

/*
 * What a disk needs beyond the device sandbox: reading and writing its
 * images, syncing them for FLUSH, growing a qcow2 image and punching
 * holes for DISCARD and WRITE_ZEROES.  The I/O threads are threads of
 * this process (the SELF policy allows those).
 */
static const int vioblk_io_calls[] = {
	SCMP_SYS(preadv), SCMP_SYS(pwritev), SCMP_SYS(pwrite64),
};
static const int vioblk_sync_calls[] = {
	SCMP_SYS(fdatasync), SCMP_SYS(fsync),
};
static const int vioblk_space_calls[] = {
	SCMP_SYS(ftruncate), SCMP_SYS(fallocate),
};
static const struct sandbox_calls vioblk_calls[] = {
	SANDBOX_CALLS("reading and writing the disk's images",
	    vioblk_io_calls),
	SANDBOX_CALLS("FLUSH: a completed flush means fdatasync returned",
	    vioblk_sync_calls),
	SANDBOX_CALLS("qcow2 clusters appended, discard and zeroes punched",
	    vioblk_space_calls),
	{ NULL, NULL, 0 }
};

/* The engine found the queue malformed: the runner reports it. */
static void
vioblk_dev_error(void *arg, uint16_t queue, const char *why)
{
	struct vioblk_dev	*v = arg;
	struct virtq		*vq;

	if ((vq = devproc_queue(v->dp, queue)) == NULL)
		return;
	(void)snprintf(vq->error, sizeof(vq->error), "%s", why);
	v->started = 0;
	devproc_queue_error(v->dp, vq);
}

static int
vioblk_dev_init(struct devproc *dp, const struct devop_start *ds,
    struct vmop_fdset *fds, struct devop_ready *ready, char *err,
    size_t errlen)
{
	const struct vmop_disk	*vd = &ds->ds_fds.vf_disk[0];
	struct vioblk_dev	*v;
	struct disk		*disk;
	enum disk_format	 fmt;
	int			 imgs[DISK_CHAIN_MAX];
	uint32_t		 i, n = vd->vd_nimages;

	if (ds->ds_fds.vf_count[VMOP_FD_DISK] != 1 || n == 0 ||
	    n > DISK_CHAIN_MAX) {
		(void)snprintf(err, errlen, "no disk images");
		return (-1);
	}
	switch (vd->vd_format) {
	case VMOP_DISK_RAW:
		fmt = DISK_FMT_RAW;
		break;
	case VMOP_DISK_QCOW2:
		fmt = DISK_FMT_QCOW2;
		break;
	default:
		(void)snprintf(err, errlen, "disk format %u", vd->vd_format);
		return (-1);
	}
	for (i = 0; i < n; i++)
		if ((imgs[i] = vmop_fdset_take(fds, VMOP_FD_DISK, 0, i)) == -1) {
			while (i-- > 0)
				close(imgs[i]);
			(void)snprintf(err, errlen, "disk image %u missing", i);
			return (-1);
		}
	if ((disk = disk_open(fmt, imgs, n, (vd->vd_flags &
	    VMOP_DISK_RDONLY) ? DISK_RDONLY : 0, 0, err, errlen)) == NULL) {
		for (i = 0; i < n; i++)
			close(imgs[i]);
		return (-1);
	}
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		disk_close(disk);
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	v->dp = dp;
	if ((v->sc = vioblk_new(disk, VIOBLK_THREADS, ds->ds_index,
	    ds->ds_vmname, vioblk_dev_error, v, err, errlen)) == NULL) {
		disk_close(disk);
		free(v);
		return (-1);
	}
	devproc_set_softc(dp, v);
	ready->dr_features = vioblk_features(v->sc);
	ready->dr_nqueues = 1;
	ready->dr_queue_max = VIOBLK_QUEUE_SIZE;
	ready->dr_config_len = vioblk_config(v->sc, ready->dr_config,
	    sizeof(ready->dr_config));
	log_debug("%s image%s, %llu bytes%s, serial %s",
	    disk_format_name(fmt), n > 1 ? "s" : "",
	    (unsigned long long)disk_size(disk),
	    disk_readonly(disk) ? ", read-only" : "", vioblk_serial(v->sc));
	return (0);
}

static int
same_queue(const struct virtq_state *a, const struct virtq_state *b)
{
	return (a->desc == b->desc && a->avail == b->avail &&
	    a->used == b->used && a->size == b->size &&
	    a->features == b->features && a->kickfd == b->kickfd &&
	    a->callfd == b->callfd);
}

/*
 * The runner's queue was kicked (or just handed over): the engine runs
 * it, from the state the runner checked; a queue handed over again
 * starts the engine over.
 */
static void
vioblk_dev_notify(struct devproc *dp, struct virtq *vq)
{
	struct vioblk_dev	*v = devproc_softc(dp);
	char			 err[VIRTQ_ERR_LEN];

	if (!v->started || !same_queue(&v->st, &vq->st)) {
		if (vioblk_queue_start(v->sc, &vq->st, &vq->mem, err,
		    sizeof(err)) == -1) {
			v->started = 0;
			(void)snprintf(vq->error, sizeof(vq->error), "%s",
			    err);
			devproc_queue_error(dp, vq);
			return;
		}
		v->st = vq->st;
		v->started = 1;
	}
	vioblk_kick(v->sc);
}

/* Before the runner forgets the queue: what is in flight finishes. */
static void
vioblk_dev_reset(struct devproc *dp)
{
	struct vioblk_dev	*v = devproc_softc(dp);

	vioblk_reset(v->sc);
	v->started = 0;
}

static void
vioblk_dev_pause(struct devproc *dp)
{
	struct vioblk_dev	*v = devproc_softc(dp);

	vioblk_pause(v->sc);
}

/* The runner notifies each running queue after this. */
static void
vioblk_dev_resume(struct devproc *dp)
{
	struct vioblk_dev	*v = devproc_softc(dp);

	vioblk_resume(v->sc);
}

static void
vioblk_dev_fini(struct devproc *dp)
{
	struct vioblk_dev	*v = devproc_softc(dp);

	if (v == NULL)
		return;
	vioblk_free(v->sc);	/* ends the threads, closes the disk */
	free(v);
	devproc_set_softc(dp, NULL);
}

const struct devproc_ops vioblk_ops = {
	.name = "vioblk",
	.fdkind = VMOP_FD_DISK,
	.calls = vioblk_calls,
	.init = vioblk_dev_init,
	.notify = vioblk_dev_notify,
	.reset = vioblk_dev_reset,
	.pause = vioblk_dev_pause,
	.resume = vioblk_dev_resume,
	.fini = vioblk_dev_fini,
};
