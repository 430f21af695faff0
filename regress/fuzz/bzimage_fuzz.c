/*
 * bzimage_fuzz.c: libFuzzer target for the Linux bzImage loader, through
 * the loader dispatch of loadfile.c (so ELF inputs reach loadfile_elf.c
 * too).  Each input is written to a memfd as a kernel file and loaded
 * into a 32 MiB fake guest RAM; the loader must return 0 or -1 with a
 * reason, and never read or write outside what it was given (ASan
 * watches the RAM mapping, which is exactly as big as the guest).  It
 * touches nothing but its own memfd and mapping.  Built and run by
 * `make fuzz` and regress/fuzz/run.sh; the seed corpus in corpus/bzimage
 * comes from regress/unit/loadfile_linux_test -w.
 */

#include <sys/mman.h>
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev/vmm/vmm.h"
#include "loadfile.h"
#include "vm.h"

#define FUZZ_GUEST_RAM	(32ULL << 20)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct vm_mem	mem;
static int		memfd = -1;

static void
fuzz_setup(void)
{
	void	*p;

	p = mmap(NULL, FUZZ_GUEST_RAM, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memfd = memfd_create("bzimage_fuzz", MFD_CLOEXEC);
	if (p == MAP_FAILED || memfd == -1) {
		perror("bzimage_fuzz setup");
		abort();
	}
	mem.ram = p;
	mem.memsize = FUZZ_GUEST_RAM;
	mem.fd = -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct loadfile_args	 a;
	struct vmm_regs		 regs;
	struct vmm_sregs	 sregs;
	enum loadfile_kind	 kind = LOADFILE_PVH;
	char			 err[256];
	int			 rv;

	if (memfd == -1)
		fuzz_setup();
	if (ftruncate(memfd, 0) == -1 || ftruncate(memfd, (off_t)size) == -1 ||
	    (size > 0 && pwrite(memfd, data, size, 0) != (ssize_t)size)) {
		perror("bzimage_fuzz memfd");
		abort();
	}
	memset(&a, 0, sizeof(a));
	a.kernelfd = memfd;
	a.initrdfd = -1;
	a.cmdline = "console=ttyS0";
	a.rsdp = 0xe0000;
	err[0] = '\0';
	rv = loadfile(&a, &mem, &regs, &sregs, &kind, err, sizeof(err));
	/* The contract the caller relies on. */
	if (rv == -1 && (err[0] == '\0' || errno == 0))
		abort();
	if (rv == 0 && vm_gpa_ptr(&mem, regs.rip, 1) == NULL)
		abort();
	if (rv == 0 && kind == LOADFILE_LINUX && regs.rsi != 0x10000)
		abort();
	if (rv != 0 && rv != -1)
		abort();
	return (0);
}
