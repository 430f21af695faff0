/*
 * conf_fuzz.c: libFuzzer target for the vm.conf(5) parser.  Each input
 * is written to a memfd and parsed through /proc/self/fd/N as a config
 * file; parse_config must accept or reject it without crashing, leaking
 * or leaving state behind for the next input (the parser has globals),
 * and config_free must release what it built.  It must never write any
 * file: include and disk/boot paths in inputs are only opened for
 * reading, and the parser refuses to include anything but regular
 * files.  Build (from the top of the tree):
 *
 *   byacc -o usr.sbin/vmd/parse.c usr.sbin/vmd/parse.y
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -fno-sanitize-recover=undefined -std=gnu11 -Wall -Wextra -Werror \
 *       -Wno-unused-parameter -I. -Ilib/libutil -Isys -Iusr.sbin/vmd \
 *       -D_GNU_SOURCE -o regress/fuzz/conf_fuzzer regress/fuzz/conf_fuzz.c \
 *       usr.sbin/vmd/parse.c usr.sbin/vmd/config.c lib/libutil/log.c \
 *       lib/libutil/strl.c
 *
 * Run with the seed corpus:
 *   regress/fuzz/conf_fuzzer -max_total_time=180 -max_len=4096 \
 *       regress/fuzz/corpus/conf
 */

#include <sys/mman.h>
#include <sys/types.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

static int	memfd = -1;
static int	devnull = -1, saved_stderr = -1;
static char	path[64];

/*
 * The parser's messages would only slow the fuzzer down, so they go to
 * /dev/null while it runs, unless CONF_FUZZ_VERBOSE is set (to see them,
 * and a sanitizer's report, when replaying one input).
 */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (getenv("CONF_FUZZ_VERBOSE") == NULL) {
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		saved_stderr = dup(STDERR_FILENO);
	}
	/* Exercise -D macros too: they outlive each parse on purpose. */
	if (cmdline_symset("fuzzmacro=64M") == -1)
		abort();
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmd_conf		 conf;
	struct vmd_conf_vm	*cv;
	int			 ret;

	if (memfd == -1) {
		if ((memfd = memfd_create("vm.conf", MFD_CLOEXEC)) == -1)
			abort();
		(void)snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (ftruncate(memfd, 0) == -1 ||
	    pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();
	if (devnull != -1 && saved_stderr != -1)
		dup2(devnull, STDERR_FILENO);
	ret = parse_config(path, CONF_ERR_STDERR, &conf);
	if (devnull != -1 && saved_stderr != -1)
		dup2(saved_stderr, STDERR_FILENO);
	if (ret == -1) {
		/* A rejected file leaves nothing behind. */
		if (!TAILQ_EMPTY(&conf.vms) || !TAILQ_EMPTY(&conf.switches))
			abort();
		return (0);
	}
	/* What the daemon relies on in an accepted file. */
	if (conf.agentx && conf.agentx_path[0] != '/')
		abort();
	TAILQ_FOREACH(cv, &conf.vms, entry) {
		if (!vmd_valid_name(cv->params.vmc_name) ||
		    cv->params.vmc_ncpus < 1 ||
		    cv->params.vmc_ncpus > VM_MAX_VCPUS ||
		    cv->params.vmc_memsize < VM_MIN_MEMORY ||
		    cv->params.vmc_memsize > VM_MAX_MEMORY ||
		    cv->params.vmc_memsize % (1ULL << 20) != 0 ||
		    cv->ndisks > VM_MAX_DISKS || cv->nnics > VM_MAX_NICS)
			abort();
	}
	config_free(&conf);
	return (0);
}
