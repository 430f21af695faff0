/*
 * x86_vm_test.c: the guest memory layout and the dispatch of vCPU exits
 * to the platform devices, driven through the scripted vmm_null backend
 * (no /dev/kvm needed).
 */

#include <sys/mman.h>

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "vm.h"
#include "devproc.h"
#include "regress/test.h"

#define MB	(1ULL << 20)
#define GB	(1ULL << 30)

static void
test_memmap_small(void)
{
	struct vm_memrange	 r[VM_MAX_MEMRANGES];
	size_t			 n;

	n = vm_memmap(64 * MB, r, VM_MAX_MEMRANGES);
	CHECK(n == 3);
	CHECK(r[0].addr == 0 && r[0].size == 0xa0000 && r[0].type == E820_RAM);
	CHECK(r[1].addr == 0xa0000 && r[1].type == E820_RESERVED);
	CHECK(r[2].addr == MB && r[2].size == 63 * MB && r[2].type == E820_RAM);
	CHECK(vm_memmap(64 * MB, r, 1) == 1);
}

static void
test_memmap_high(void)
{
	struct vm_memrange	 r[VM_MAX_MEMRANGES];
	size_t			 n;

	n = vm_memmap(5 * GB, r, VM_MAX_MEMRANGES);
	CHECK(n == 4);
	CHECK(r[2].addr == MB && r[2].addr + r[2].size == 3 * GB);
	CHECK(r[3].addr == 4 * GB && r[3].size == 2 * GB);
}

static void
test_gpa_ptr(void)
{
	struct vm_mem	 m;
	uint8_t		*fake;

	/* address space only: nothing is touched */
	fake = mmap(NULL, 6 * GB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
	    MAP_NORESERVE, -1, 0);
	CHECK(fake != MAP_FAILED);
	if (fake == MAP_FAILED)
		return;
	m.ram = fake;
	m.memsize = 64 * MB;
	CHECK(vm_gpa_ptr(&m, 0, 16) == fake);
	CHECK(vm_gpa_ptr(&m, 0x9fff0, 16) != NULL);
	CHECK(vm_gpa_ptr(&m, 0x9fff0, 17) == NULL);	/* into the hole */
	CHECK(vm_gpa_ptr(&m, 0xa0000, 1) == NULL);
	CHECK(vm_gpa_ptr(&m, 0xfffff, 2) == NULL);
	CHECK(vm_gpa_ptr(&m, MB, 63 * MB) == fake + MB);
	CHECK(vm_gpa_ptr(&m, MB, 63 * MB + 1) == NULL);
	CHECK(vm_gpa_ptr(&m, 64 * MB, 1) == NULL);
	CHECK(vm_gpa_ptr(&m, MB, 0) == NULL);
	CHECK(vm_gpa_ptr(&m, UINT64_MAX - 1, 4) == NULL);
	CHECK(vm_gpa_ptr(&m, 4 * GB, 1) == NULL);
	m.memsize = 5 * GB;
	CHECK(vm_gpa_ptr(&m, 3 * GB - 1, 1) == fake + 3 * GB - 1);
	CHECK(vm_gpa_ptr(&m, 3 * GB - 1, 2) == NULL);
	CHECK(vm_gpa_ptr(&m, 3 * GB, 1) == NULL);	/* the PCI hole */
	CHECK(vm_gpa_ptr(&m, 4 * GB, 1) == fake + 3 * GB);
	CHECK(vm_gpa_ptr(&m, 6 * GB - 8, 8) == fake + 5 * GB - 8);
	CHECK(vm_gpa_ptr(&m, 6 * GB - 8, 9) == NULL);
	CHECK(vm_gpa_ptr(&m, 6 * GB, 1) == NULL);
	munmap(fake, 6 * GB);
}

/*
 * What devices may DMA to: guest RAM with the 640K-1M hole, where
 * SeaBIOS keeps the requests of its int 13h handler; the same pieces of
 * the memfd go to device processes (vmdev_memranges()).
 */
static void
test_dma_ptr(void)
{
	struct devop_memrange	 r[DEVOP_MAX_RANGES];
	struct vm_mem		 m;
	uint8_t			*fake;

	fake = mmap(NULL, 6 * GB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
	    MAP_NORESERVE, -1, 0);
	CHECK(fake != MAP_FAILED);
	if (fake == MAP_FAILED)
		return;
	m.ram = fake;
	m.memsize = 64 * MB;
	CHECK(vm_dma_ptr(&m, 0xef2f8, 16) == fake + 0xef2f8);
	CHECK(vm_dma_ptr(&m, 0x9fff0, 0x100) == fake + 0x9fff0);
	CHECK(vm_dma_ptr(&m, 0xffff0, 0x20) == fake + 0xffff0);
	CHECK(vm_dma_ptr(&m, 0, 64 * MB) == fake);
	CHECK(vm_dma_ptr(&m, 0, 64 * MB + 1) == NULL);
	CHECK(vm_dma_ptr(&m, 64 * MB, 1) == NULL);
	CHECK(vm_dma_ptr(&m, MB, 0) == NULL);
	CHECK(vm_dma_ptr(&m, UINT64_MAX - 1, 4) == NULL);
	CHECK(vm_dma_ptr(&m, 0x100, UINT64_MAX) == NULL);
	CHECK(vm_gpa_ptr(&m, 0xef2f8, 16) == NULL);	/* loaders: not RAM */
	CHECK(vmdev_memranges(m.memsize, r, DEVOP_MAX_RANGES) == 1);
	CHECK(r[0].gpa == 0 && r[0].len == 64 * MB && r[0].offset == 0);
	m.memsize = 5 * GB;
	CHECK(vm_dma_ptr(&m, 3 * GB - 8, 8) == fake + 3 * GB - 8);
	CHECK(vm_dma_ptr(&m, 3 * GB - 8, 9) == NULL);	/* the PCI hole */
	CHECK(vm_dma_ptr(&m, 4 * GB, 8) == fake + 3 * GB);
	CHECK(vm_dma_ptr(&m, 6 * GB - 8, 9) == NULL);
	CHECK(vmdev_memranges(m.memsize, r, DEVOP_MAX_RANGES) == 2);
	CHECK(r[0].gpa == 0 && r[0].len == 3 * GB && r[0].offset == 0);
	CHECK(r[1].gpa == 4 * GB && r[1].len == 2 * GB &&
	    r[1].offset == 3 * GB);
	CHECK(vmdev_memranges(m.memsize, r, 1) == 1);
	munmap(fake, 6 * GB);
}

static struct vmctx *
ctx_new(void)
{
	struct vmctx	*ctx;
	char		 err[256];

	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return (NULL);
	pthread_mutex_init(&ctx->vm_lock, NULL);
	ctx->tty_master = ctx->tty_slave = -1;
	ctx->cdromfd = -1;
	ctx->mem.memsize = 64 * MB;
	ctx->evbase = event_base_new();
	ctx->vm = vmm_vm_create(-1);
	ctx->ncpus = 1;
	ctx->vcpus[0].vcpu = vmm_vcpu_create(ctx->vm, 0);
	if (x86_devices_attach(ctx, err, sizeof(err)) == -1) {
		printf("attach: %s\n", err);
		return (NULL);
	}
	return (ctx);
}

static void
ctx_free(struct vmctx *ctx)
{
	dev_detach_all(&ctx->devs);
	vmm_vcpu_destroy(ctx->vcpus[0].vcpu);
	vmm_vm_destroy(ctx->vm);
	event_base_free(ctx->evbase);
	free(ctx);
}

static struct vmm_exit
io_exit(uint16_t port, int in, int size, uint32_t val)
{
	static uint8_t	 buf[8];
	struct vmm_exit	 ve;

	memset(&ve, 0, sizeof(ve));
	ve.reason = VMM_EXIT_IO;
	ve.io.port = port;
	ve.io.in = in;
	ve.io.size = size;
	ve.io.count = 1;
	memcpy(buf, &val, 4);
	ve.io.data = buf;
	return (ve);
}

static void
test_exit_poweroff(void)
{
	struct vmctx	*ctx = ctx_new();
	struct vmm_exit	 ve;

	CHECK(ctx != NULL);
	if (ctx == NULL)
		return;
	ve = io_exit(VM_PM1_CNT_PORT, 0, 2, VM_PM1_SLP_EN);
	CHECK(x86_handle_exit(ctx, &ctx->vcpus[0], &ve) == 0);
	CHECK(ctx->request == VM_REQ_POWEROFF);
	CHECK(strcmp(ctx->reason, "guest powered off") == 0);
	ctx_free(ctx);
}

static void
test_exit_unclaimed(void)
{
	struct vmctx	*ctx = ctx_new();
	struct vmm_exit	 ve;

	CHECK(ctx != NULL);
	if (ctx == NULL)
		return;
	ve = io_exit(0x1234, 1, 4, 0);
	CHECK(x86_handle_exit(ctx, &ctx->vcpus[0], &ve) == 0);
	CHECK(memcmp(ve.io.data, "\xff\xff\xff\xff", 4) == 0);
	CHECK(ctx->request == VM_REQ_NONE);
	ctx_free(ctx);
}

static void
test_exit_reset_and_errors(void)
{
	struct vmctx	*ctx = ctx_new();
	struct vmm_exit	 ve;

	CHECK(ctx != NULL);
	if (ctx == NULL)
		return;
	ve = io_exit(0x64, 0, 1, 0xfe);		/* i8042 reset */
	CHECK(x86_handle_exit(ctx, &ctx->vcpus[0], &ve) == 0);
	CHECK(ctx->request == VM_REQ_RESET);
	/* a stronger request wins, a weaker one does not */
	memset(&ve, 0, sizeof(ve));
	ve.reason = VMM_EXIT_INTERNAL_ERROR;
	ve.internal.suberror = 1;
	CHECK(x86_handle_exit(ctx, &ctx->vcpus[0], &ve) == -1);
	CHECK(ctx->request == VM_REQ_ERROR);
	CHECK(strcmp(ctx->reason, "emulation failure") == 0);
	ve.reason = VMM_EXIT_SHUTDOWN;
	CHECK(x86_handle_exit(ctx, &ctx->vcpus[0], &ve) == -1);
	CHECK(ctx->request == VM_REQ_ERROR);
	ctx_free(ctx);
}

static void
test_exit_triple_fault(void)
{
	struct vmctx	*ctx = ctx_new();
	struct vmm_exit	 ve;

	CHECK(ctx != NULL);
	if (ctx == NULL)
		return;
	memset(&ve, 0, sizeof(ve));
	ve.reason = VMM_EXIT_SHUTDOWN;
	CHECK(x86_handle_exit(ctx, &ctx->vcpus[0], &ve) == -1);
	CHECK(ctx->request == VM_REQ_RESET);
	CHECK(strcmp(ctx->reason, "triple fault") == 0);
	ve.reason = VMM_EXIT_UNKNOWN;
	ve.code = 0x99;
	CHECK(x86_handle_exit(ctx, &ctx->vcpus[0], &ve) == -1);
	CHECK(ctx->request == VM_REQ_ERROR);
	ctx_free(ctx);
}

static void
test_exit_com1_irq(void)
{
	struct vmctx	*ctx = ctx_new();
	struct vmm_exit	 ve;

	CHECK(ctx != NULL);
	if (ctx == NULL)
		return;
	/* COM1: IER THRE interrupt raises IRQ 4 through the backend */
	ve = io_exit(VM_COM1_PORT + 1, 0, 1, 0x02);
	CHECK(x86_handle_exit(ctx, &ctx->vcpus[0], &ve) == 0);
	CHECK(vmm_null_irq_count(ctx->vm, VM_COM1_IRQ) == 1);
	ctx_free(ctx);
}

/* The power button: the SCI goes out only once the guest enabled it. */
static void
test_power_button(void)
{
	struct vmctx	*ctx = ctx_new();
	struct vmm_exit	 ve;

	CHECK(ctx != NULL);
	if (ctx == NULL)
		return;
	CHECK(x86_power_button(ctx) == 0);
	CHECK(vmm_null_irq_count(ctx->vm, VM_SCI_IRQ) == 0);
	ve = io_exit(VM_PM_BASE, 0, 2, 0x0100);		/* clear status */
	CHECK(x86_handle_exit(ctx, &ctx->vcpus[0], &ve) == 0);
	ve = io_exit(VM_PM_BASE + 2, 0, 2, 0x0100);	/* PWRBTN_EN */
	CHECK(x86_handle_exit(ctx, &ctx->vcpus[0], &ve) == 0);
	CHECK(x86_power_button(ctx) == 1);
	CHECK(vmm_null_irq_count(ctx->vm, VM_SCI_IRQ) == 1);
	ve = io_exit(VM_PM_BASE, 1, 2, 0);
	CHECK(x86_handle_exit(ctx, &ctx->vcpus[0], &ve) == 0);
	CHECK((ve.io.data[0] | ve.io.data[1] << 8) == 0x0100);
	CHECK(ctx->request == VM_REQ_NONE);
	ctx_free(ctx);
}

int
main(void)
{
	RUN(test_memmap_small);
	RUN(test_memmap_high);
	RUN(test_gpa_ptr);
	RUN(test_dma_ptr);
	RUN(test_exit_poweroff);
	RUN(test_exit_unclaimed);
	RUN(test_exit_reset_and_errors);
	RUN(test_exit_triple_fault);
	RUN(test_exit_com1_irq);
	RUN(test_power_button);
	TEST_EXIT();
}
