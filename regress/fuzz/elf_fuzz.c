/*
 * elf_fuzz.c: libFuzzer target for the ELF loader (PVH and OpenBSD).  Each input is
 * written to a memfd as a kernel file and loaded into a 16 MiB fake guest
 * RAM; the loader must return 0 or -1 with a reason, and must never read
 * or write outside what it was given (ASan watches the RAM mapping, which
 * is exactly as big as the guest).  It must never touch anything but its
 * own memfd and mapping.  Build (from the top of the tree):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Ilib/libutil \
 *       -Isys -Iusr.sbin/vmd -D_GNU_SOURCE -o regress/fuzz/elf_fuzz \
 *       regress/fuzz/elf_fuzz.c usr.sbin/vmd/loadfile_elf.c <vm_gpa_ptr>
 *
 * where <vm_gpa_ptr> is usr.sbin/vmd/x86_vm.c with what it links against
 * (the unit-test archive usr.sbin/vmd/libvmd.a, sys/dev/vmm/vmm_null.o and
 * lib/libutil/libutil.a, all built with the same sanitizers).  Run with
 * the seed corpus: regress/fuzz/elf_fuzz -max_total_time=120
 * regress/fuzz/corpus/elf
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
#include "vmd.h"

#define FUZZ_GUEST_RAM	(16ULL << 20)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct vm_mem	mem;
static int		memfd = -1;

static void
fuzz_setup(void)
{
	void	*p;

	p = mmap(NULL, FUZZ_GUEST_RAM, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memfd = memfd_create("elf_fuzz", MFD_CLOEXEC);
	if (p == MAP_FAILED || memfd == -1) {
		perror("elf_fuzz setup");
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
	enum loadfile_kind	 kind = LOADFILE_LINUX;
	char			 err[VM_REASON_MAX];
	int			 rv;

	if (memfd == -1)
		fuzz_setup();
	if (ftruncate(memfd, 0) == -1 || ftruncate(memfd, (off_t)size) == -1 ||
	    (size > 0 && pwrite(memfd, data, size, 0) != (ssize_t)size)) {
		perror("elf_fuzz memfd");
		abort();
	}
	err[0] = '\0';
	memset(&a, 0, sizeof(a));
	a.kernelfd = memfd;
	a.initrdfd = -1;
	a.cmdline = "console=ttyS0";
	a.rsdp = 0xe0000;
	rv = loadfile_elf(&a, &mem, &regs, &sregs, &kind, err, sizeof(err));
	/* The contract the caller relies on. */
	if (rv == -1 && (err[0] == '\0' || errno == 0))
		abort();
	if (rv == 0 && (regs.rip > UINT32_MAX ||
	    vm_gpa_ptr(&mem, regs.rip, 1) == NULL))
		abort();
	if (rv == 0 && !(((kind == LOADFILE_PVH ||
	    kind == LOADFILE_PVH_LINUX) && regs.rbx == 0x6000) ||
	    (kind == LOADFILE_OPENBSD && regs.rsp == 0xffdc)))
		abort();
	if (rv != 0 && rv != -1)
		abort();
	return (0);
}
