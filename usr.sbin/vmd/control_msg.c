/*
 * control_msg.c: the one check of a request as vmctl sends it, before
 * control relays it to the parent: a known type, the exact size of its
 * structure, every string NUL-terminated within its array, and only
 * known flag bits and enum values.  It is a pure function of the bytes
 * (no I/O, no state, no allocation) so that the libFuzzer target in
 * regress/fuzz/control_fuzz.c can call it as control.c does.  It must
 * never read outside the buffer it is given, and it decides nothing
 * about permissions: who may send what is control.c's and vmd.c's job.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "proc.h"
#include "vmd.h"

#define CTL_CREATE_FLAGS	(VMOP_CREATE_KERNEL | VMOP_CREATE_MEMORY | \
				 VMOP_CREATE_CMDLINE | VMOP_CREATE_NETWORK | \
				 VMOP_CREATE_DISK | VMOP_CREATE_CDROM | \
				 VMOP_CREATE_INSTANCE)
#define CTL_ID_FLAGS		(VMOP_WAIT | VMOP_FORCE)
#define CTL_VERBOSE_MAX		8	/* more -v than anybody reads */

static int
ctl_str(const char *s, size_t len)
{
	return (memchr(s, '\0', len) != NULL);
}

static int
ctl_bad(char *reason, size_t rlen, const char *what)
{
	if (reason != NULL && rlen > 0)
		(void)snprintf(reason, rlen, "malformed request: %s", what);
	return (EINVAL);
}

static int
ctl_check_create(const void *data, char *reason, size_t rlen)
{
	struct vmop_create_params	 vmc;

	memcpy(&vmc, data, sizeof(vmc));
	if (!ctl_str(vmc.vmc_name, sizeof(vmc.vmc_name)) ||
	    !ctl_str(vmc.vmc_instance, sizeof(vmc.vmc_instance)) ||
	    !ctl_str(vmc.vmc_kernel, sizeof(vmc.vmc_kernel)) ||
	    !ctl_str(vmc.vmc_cmdline, sizeof(vmc.vmc_cmdline)) ||
	    !ctl_str(vmc.vmc_ttyname, sizeof(vmc.vmc_ttyname)))
		return (ctl_bad(reason, rlen, "unterminated string"));
	if (vmc.vmc_flags & ~CTL_CREATE_FLAGS)
		return (ctl_bad(reason, rlen, "unknown flags"));
	return (0);
}

static int
ctl_check_id(const void *data, char *reason, size_t rlen)
{
	struct vmop_id	 vid;

	memcpy(&vid, data, sizeof(vid));
	if (!ctl_str(vid.vid_name, sizeof(vid.vid_name)))
		return (ctl_bad(reason, rlen, "unterminated name"));
	if (vid.vid_flags & ~CTL_ID_FLAGS)
		return (ctl_bad(reason, rlen, "unknown flags"));
	return (0);
}

static int
ctl_check_path(const void *data, char *reason, size_t rlen)
{
	struct vmop_path	 vp;

	memcpy(&vp, data, sizeof(vp));
	if (!ctl_str(vp.vp_path, sizeof(vp.vp_path)))
		return (ctl_bad(reason, rlen, "unterminated path"));
	if (vp.vp_path[0] == '\0')
		return (ctl_bad(reason, rlen, "empty path"));
	return (0);
}

/*
 * Returns 0 when a request of this type may carry these len bytes,
 * else an errno value (EOPNOTSUPP: unknown type, EINVAL: malformed)
 * with reason filled in for the client.  data may be NULL when len is 0.
 */
int
control_msg_check(uint32_t type, const void *data, size_t len,
    char *reason, size_t rlen)
{
	struct vmop_reset	 vr;
	int32_t			 level;
	size_t			 want;

	switch (type) {
	case IMSG_VMDOP_START_VM_REQUEST:
		want = sizeof(struct vmop_create_params);
		break;
	case IMSG_VMDOP_TERMINATE_VM_REQUEST:
	case IMSG_VMDOP_WAIT_VM_REQUEST:
	case IMSG_VMDOP_PAUSE_VM:
	case IMSG_VMDOP_UNPAUSE_VM:
		want = sizeof(struct vmop_id);
		break;
	case IMSG_VMDOP_GET_INFO_VM_REQUEST:
	case IMSG_VMDOP_RELOAD:
		want = 0;
		break;
	case IMSG_VMDOP_LOAD:
		want = sizeof(struct vmop_path);
		break;
	case IMSG_CTL_RESET:
		want = sizeof(struct vmop_reset);
		break;
	case IMSG_CTL_VERBOSE:
		want = sizeof(int32_t);
		break;
	default:
		if (reason != NULL && rlen > 0)
			(void)snprintf(reason, rlen, "unknown request");
		return (EOPNOTSUPP);
	}
	if (len != want)
		return (ctl_bad(reason, rlen, "wrong size"));
	if (want > 0 && data == NULL)
		return (ctl_bad(reason, rlen, "no data"));

	switch (type) {
	case IMSG_VMDOP_START_VM_REQUEST:
		return (ctl_check_create(data, reason, rlen));
	case IMSG_VMDOP_TERMINATE_VM_REQUEST:
	case IMSG_VMDOP_WAIT_VM_REQUEST:
	case IMSG_VMDOP_PAUSE_VM:
	case IMSG_VMDOP_UNPAUSE_VM:
		return (ctl_check_id(data, reason, rlen));
	case IMSG_VMDOP_LOAD:
		return (ctl_check_path(data, reason, rlen));
	case IMSG_CTL_RESET:
		memcpy(&vr, data, sizeof(vr));
		if (vr.vr_what > VMOP_RESET_VMS)
			return (ctl_bad(reason, rlen, "unknown reset"));
		break;
	case IMSG_CTL_VERBOSE:
		memcpy(&level, data, sizeof(level));
		if (level < 0 || level > CTL_VERBOSE_MAX)
			return (ctl_bad(reason, rlen, "bad log level"));
		break;
	}
	return (0);
}
