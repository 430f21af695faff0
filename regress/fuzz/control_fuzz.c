/*
 * control_fuzz.c: libFuzzer target for control_msg_check(), the decoder
 * control.c runs on every request from vmctl before relaying it.  The
 * input's first byte picks the message type (modulo IMSG_MAX + 2, so
 * unknown types are tried too), the rest is the payload.  Beyond the
 * sanitizers, it aborts when a request is accepted that the parent
 * could not safely use: a wrong size or a string without its NUL.  It
 * must never touch anything but the bytes it is given.
 *
 * Build: make regress/fuzz/control_fuzzer
 * Run:   regress/fuzz/control_fuzzer -max_total_time=60
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "proc.h"
#include "vmd.h"

static int
terminated(const char *s, size_t len)
{
	return (memchr(s, '\0', len) != NULL);
}

/* What an accepted request must satisfy, checked apart from the code. */
static void
verify(uint32_t type, const uint8_t *data, size_t len)
{
	struct vmop_create_params	 vmc;
	struct vmop_id			 vid;
	struct vmop_path		 vp;

	switch (type) {
	case IMSG_VMDOP_START_VM_REQUEST:
		if (len != sizeof(vmc))
			abort();
		memcpy(&vmc, data, sizeof(vmc));
		if (!terminated(vmc.vmc_name, sizeof(vmc.vmc_name)) ||
		    !terminated(vmc.vmc_kernel, sizeof(vmc.vmc_kernel)) ||
		    !terminated(vmc.vmc_cmdline, sizeof(vmc.vmc_cmdline)) ||
		    !terminated(vmc.vmc_instance, sizeof(vmc.vmc_instance)))
			abort();
		break;
	case IMSG_VMDOP_TERMINATE_VM_REQUEST:
	case IMSG_VMDOP_WAIT_VM_REQUEST:
	case IMSG_VMDOP_PAUSE_VM:
	case IMSG_VMDOP_UNPAUSE_VM:
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
	default:
		abort();	/* an unknown type was accepted */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
	char		 reason[VM_REASON_MAX];
	uint8_t		*copy = NULL;
	uint32_t	 type;
	size_t		 len;

	if (size < 1)
		return (0);
	type = buf[0] % (IMSG_MAX + 2);
	len = size - 1;
	/* An exact-size heap copy, so ASan sees any read past the end. */
	if (len > 0) {
		if ((copy = malloc(len)) == NULL)
			return (0);
		memcpy(copy, buf + 1, len);
	}
	if (control_msg_check(type, copy, len, reason, sizeof(reason)) == 0)
		verify(type, copy, len);
	else if (!terminated(reason, sizeof(reason)))
		abort();
	free(copy);
	return (0);
}
