/*
 * control_fuzz.c: libFuzzer target for msg.c, the one table of message
 * checks every dispatcher of vmd runs (control on vmctl's requests, the
 * parent, vmm, vm and device processes on each other's), and for the
 * descriptor set of a VM's start.  In message mode (first byte below
 * 0x80) the first byte picks the channel, the second the type (modulo
 * IMSG_MAX + 2, so unknown types are tried too), the rest is the
 * payload; beyond the sanitizers, it aborts when a message is accepted
 * that its receiver could not safely use: a size other than the
 * structure's, a string without its NUL, a count beyond vmd's limits.
 * In descriptor mode the input is a struct vmop_fds and a series of
 * struct vmop_fd, each filed with a real descriptor; it aborts when a
 * complete set holds other than what the counts promise, or when a
 * descriptor leaks.  It must never touch anything but the bytes it is
 * given and descriptors it made.
 *
 * Build: make regress/fuzz/control_fuzzer
 * Run:   regress/fuzz/control_fuzzer -max_total_time=60
 */

#include <sys/types.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmd.h"
#include "devproc.h"

#define NLINKS		12	/* MSG_CLIENT ... MSG_DEV_VM */

static int
terminated(const char *s, size_t len)
{
	return (memchr(s, '\0', len) != NULL);
}

static void
verify_fds(const struct vmop_fds *fds)
{
	uint32_t	 i;

	for (i = 0; i < VMOP_FD_NKINDS; i++)
		if (fds->vf_count[i] > VM_MAX_DISK_CHAIN)
			abort();
	if (fds->vf_count[VMOP_FD_DISK] > VM_MAX_DISKS ||
	    fds->vf_count[VMOP_FD_TAP] > VM_MAX_NICS ||
	    fds->vf_count[VMOP_FD_CDROM] > VM_MAX_CDROMS ||
	    fds->vf_count[VMOP_FD_KERNEL] > 1)
		abort();
	for (i = 0; i < fds->vf_count[VMOP_FD_DISK]; i++)
		if (fds->vf_disk[i].vd_nimages == 0 ||
		    fds->vf_disk[i].vd_nimages > VM_MAX_DISK_CHAIN)
			abort();
}

/* What an accepted message must satisfy, checked apart from msg.c. */
static void
verify(uint32_t link, uint32_t type, const uint8_t *data, size_t len)
{
	struct vmop_create_params	 vmc;
	struct vmop_id			 vid;
	struct vmop_path		 vp;
	struct vmop_result		 vmr;
	struct vmop_fd			 vmf;
	struct devop_start		 ds;
	struct devop_ready		 dr;
	struct devop_error		 de;

	switch (type) {
	case IMSG_VMDOP_START_VM_REQUEST:
	case IMSG_VMDOP_START_VM_END:
		if (len != sizeof(vmc))
			abort();
		memcpy(&vmc, data, sizeof(vmc));
		if (!terminated(vmc.vmc_name, sizeof(vmc.vmc_name)) ||
		    !terminated(vmc.vmc_kernel, sizeof(vmc.vmc_kernel)) ||
		    !terminated(vmc.vmc_initrd, sizeof(vmc.vmc_initrd)) ||
		    !terminated(vmc.vmc_cmdline, sizeof(vmc.vmc_cmdline)) ||
		    !terminated(vmc.vmc_instance, sizeof(vmc.vmc_instance)))
			abort();
		verify_fds(&vmc.vmc_fds);
		if (link == MSG_CLIENT && vmc.vmc_fds.vf_count[VMOP_FD_KVM])
			abort();
		break;
	case IMSG_VMDOP_TERMINATE_VM_REQUEST:
	case IMSG_VMDOP_WAIT_VM_REQUEST:
	case IMSG_VMDOP_PAUSE_VM:
	case IMSG_VMDOP_UNPAUSE_VM:
	case IMSG_VMDOP_VM_TERMINATE:
	case IMSG_VMDOP_VM_REBOOT:
		if (len != sizeof(vid))
			abort();
		memcpy(&vid, data, sizeof(vid));
		if (!terminated(vid.vid_name, sizeof(vid.vid_name)))
			abort();
		break;
	case IMSG_VMDOP_LOAD:
		if (len != sizeof(vp))
			abort();
		memcpy(&vp, data, sizeof(vp));
		if (!terminated(vp.vp_path, sizeof(vp.vp_path)))
			abort();
		break;
	case IMSG_VMDOP_GET_INFO_VM_REQUEST:
	case IMSG_VMDOP_RELOAD:
	case IMSG_VMDOP_GET_INFO_VM_END_DATA:
	case IMSG_CTL_CLIENT_GONE:
		if (len != 0)
			abort();
		break;
	case IMSG_CTL_RESET:
		if (len != sizeof(struct vmop_reset))
			abort();
		break;
	case IMSG_CTL_VERBOSE:
		if (len != sizeof(int32_t))
			abort();
		break;
	case IMSG_VMDOP_START_VM_RESPONSE:
	case IMSG_VMDOP_TERMINATE_VM_RESPONSE:
	case IMSG_VMDOP_WAIT_VM_RESPONSE:
	case IMSG_VMDOP_PAUSE_VM_RESPONSE:
	case IMSG_VMDOP_UNPAUSE_VM_RESPONSE:
	case IMSG_CTL_FAIL:
	case IMSG_CTL_OK:
	case IMSG_VMDOP_VM_STARTED:
	case IMSG_VMDOP_TERMINATE_VM_EVENT:
		if (len != sizeof(vmr))
			abort();
		memcpy(&vmr, data, sizeof(vmr));
		if (!terminated(vmr.vmr_reason, sizeof(vmr.vmr_reason)))
			abort();
		break;
	case IMSG_VMDOP_GET_INFO_VM_DATA:
		if (len != sizeof(struct vmop_info_result))
			abort();
		break;
	case IMSG_VMDOP_START_VM_FD:
		if (len != sizeof(vmf))
			abort();
		memcpy(&vmf, data, sizeof(vmf));
		if (vmf.vmf_kind >= VMOP_FD_NKINDS)
			abort();
		break;
	case IMSG_LOG:
		if (len <= sizeof(struct vmop_log) ||
		    len > sizeof(struct vmop_log) + VMD_LOG_TEXT_MAX)
			abort();
		break;
	case IMSG_DEVOP_START:
		if (len != sizeof(ds))
			abort();
		memcpy(&ds, data, sizeof(ds));
		if (!terminated(ds.ds_vmname, sizeof(ds.ds_vmname)))
			abort();
		verify_fds(&ds.ds_fds);
		break;
	case IMSG_DEVOP_READY:
	case IMSG_DEVOP_CONFIG:
		if (len != sizeof(dr))
			abort();
		memcpy(&dr, data, sizeof(dr));
		if (dr.dr_config_len > DEVOP_CONFIG_MAX ||
		    dr.dr_nqueues > DEVOP_MAX_QUEUES)
			abort();
		break;
	case IMSG_DEVOP_NEEDS_RESET:
		if (len != sizeof(de))
			abort();
		memcpy(&de, data, sizeof(de));
		if (!terminated(de.de_reason, sizeof(de.de_reason)) ||
		    de.de_queue >= DEVOP_MAX_QUEUES)
			abort();
		break;
	case IMSG_DEVOP_MEM:
		if (len != sizeof(struct devop_mem))
			abort();
		break;
	case IMSG_DEVOP_QUEUE_FD:
		if (len != sizeof(struct devop_queue_fd))
			abort();
		break;
	case IMSG_DEVOP_QUEUE:
		if (len != sizeof(struct virtq_state))
			abort();
		break;
	case IMSG_DEVOP_RESET:
	case IMSG_DEVOP_PAUSE:
	case IMSG_DEVOP_RESUME:
	case IMSG_DEVOP_ACK:
		if (len != sizeof(struct devop_ctl))
			abort();
		break;
	case IMSG_DEVOP_CONFIG_WRITE:
		if (len != sizeof(struct devop_config_write))
			abort();
		break;
	default:
		abort();	/* an unknown type was accepted */
	}
	/* Client requests travel one way only. */
	if (link == MSG_CLIENT && type >= IMSG_VMDOP_START_VM_FD)
		abort();
}

static int
lowest_free_fd(void)
{
	int	 fd;

	if ((fd = open("/dev/null", O_RDONLY)) == -1)
		abort();
	close(fd);
	return (fd);
}

/* A start's descriptors, as a hostile sender might order them. */
static void
fdset_mode(const uint8_t *buf, size_t size)
{
	struct vmop_fdset	 set;
	struct vmop_fds		 fds;
	struct vmop_fd		 vmf;
	char			 err[VM_REASON_MAX];
	uint32_t		 kind, index, image, want = 0, have = 0;
	size_t			 i;
	int			 base = lowest_free_fd(), fd;

	if (size < sizeof(fds))
		return;
	memcpy(&fds, buf, sizeof(fds));
	buf += sizeof(fds);
	size -= sizeof(fds);
	vmop_fdset_init(&set);
	for (; size >= sizeof(vmf); buf += sizeof(vmf), size -= sizeof(vmf)) {
		memcpy(&vmf, buf, sizeof(vmf));
		/* Keep most of them near the places that exist. */
		vmf.vmf_kind %= VMOP_FD_NKINDS + 1;
		vmf.vmf_index %= 6;
		vmf.vmf_image %= 18;
		fd = (vmf.vmf_id & 7) == 7 ? -1 : open("/dev/null", O_RDONLY);
		err[0] = '\0';
		(void)vmop_fdset_put(&set, &vmf, fd, err, sizeof(err));
		if (!terminated(err, sizeof(err)))
			abort();
	}
	if (vmop_fds_complete(&set, &fds, err, sizeof(err)) == 0) {
		verify_fds(&fds);
		for (kind = 0; kind < VMOP_FD_NKINDS; kind++)
			for (index = 0; index < fds.vf_count[kind]; index++)
				for (image = 0; image < vmop_fds_images(&fds,
				    kind, index); image++) {
					if (vmop_fdset_get(&set, kind, index,
					    image) == -1)
						abort();
					want++;
				}
		for (i = 0; i < VMOP_FD_SLOTS; i++)
			if (set.fd[i] != -1)
				have++;
		if (have != want)
			abort();
	}
	vmop_fdset_close(&set);
	if (lowest_free_fd() != base)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
	char		 reason[VM_REASON_MAX];
	uint8_t		*copy = NULL;
	uint32_t	 type, link;
	size_t		 len;

	if (size < 2)
		return (0);
	if (buf[0] & 0x80) {
		fdset_mode(buf + 1, size - 1);
		return (0);
	}
	link = 1U << (buf[0] % NLINKS);
	type = buf[1] % (IMSG_MAX + 2);
	len = size - 2;
	/* An exact-size heap copy, so ASan sees any read past the end. */
	if (len > 0) {
		if ((copy = malloc(len)) == NULL)
			return (0);
		memcpy(copy, buf + 2, len);
	}
	if (msg_check(link, type, copy, len, reason, sizeof(reason)) == 0)
		verify(link, type, copy, len);
	else if (!terminated(reason, sizeof(reason)))
		abort();
	free(copy);
	return (0);
}
