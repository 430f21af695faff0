/*
 * x86_vm.c: the x86 PC platform of a vm process: the guest memory layout
 * and its memfd, the table of platform devices, booting (hypervisor VM,
 * memory slots, vCPU, kernel load) and the dispatch of vCPU exits to the
 * devices.  It talks to the hypervisor only through vmm.h and to devices
 * only through dev.h.  Nothing the guest does may end the process from
 * here: a bad exit becomes a VM_REQ_ERROR with a reason.
 */

#include <sys/mman.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "acpi.h"
#include "fw_cfg.h"
#include "loadfile.h"
#include "pci.h"
#include "virtio.h"
#include "devproc.h"
#include "vm.h"
#include "devproc.h"
#include "vmd.h"

#define SLOT_LOW	0	/* RAM below the PCI hole */
#define SLOT_HIGH	1	/* RAM above 4G */
#define SLOT_BIOS	2	/* firmware image below 4G */

int
x86_mem_alloc(struct vmctx *ctx, char *err, size_t errlen)
{
	struct vm_mem	*mem = &ctx->mem;
	void		*p;

	mem->memsize = ctx->params->vmc_memsize;
	mem->fd = memfd_create("guest-ram", MFD_CLOEXEC);
	if (mem->fd == -1) {
		snprintf(err, errlen, "guest memory: %s", strerror(errno));
		return (-1);
	}
	if (ftruncate(mem->fd, mem->memsize) == -1) {
		snprintf(err, errlen, "guest memory of %llu bytes: %s",
		    (unsigned long long)mem->memsize, strerror(errno));
		return (-1);
	}
	p = mmap(NULL, mem->memsize, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_NORESERVE, mem->fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "guest memory mapping: %s",
		    strerror(errno));
		return (-1);
	}
	mem->ram = p;
	return (0);
}

static void
x86_irq_set(void *arg, uint32_t irq, int level)
{
	struct vmctx	*ctx = arg;

	pthread_mutex_lock(&ctx->vm_lock);
	if (ctx->vm != NULL && vmm_set_irq(ctx->vm, irq, level) == -1)
		log_warn("irq %u", irq);
	pthread_mutex_unlock(&ctx->vm_lock);
}

static void
x86_dev_request(void *arg, enum dev_request req)
{
	struct vmctx	*ctx = arg;

	switch (req) {
	case DEV_REQ_POWEROFF:
		vm_request(ctx, VM_REQ_POWEROFF, "guest powered off");
		break;
	case DEV_REQ_RESET:
		vm_request(ctx, VM_REQ_RESET, "guest reset");
		break;
	case DEV_REQ_SHUTDOWN_ACK:
	case DEV_REQ_SHUTDOWN_NOACK:
	case DEV_REQ_SHUTDOWN_LATE:
		vm_stop_notice(ctx, req);
		break;
	}
}

static void *
x86_gpa_ptr(void *arg, uint64_t gpa, uint64_t len)
{
	struct vmctx	*ctx = arg;

	return (vm_dma_ptr(&ctx->mem, gpa, len));
}

/*
 * Hypervisor services for devices.  Between boots there is no VM: the
 * calls succeed without effect, and the devices' reset that follows
 * forgets what they had registered.
 */
static int
x86_ioeventfd(void *arg, int fd, enum dev_space space, uint64_t addr,
    uint32_t len, int has_match, uint64_t match, int assign)
{
	struct vmctx	*ctx = arg;
	int		 rv = 0;

	pthread_mutex_lock(&ctx->vm_lock);
	if (ctx->vm != NULL)
		rv = vmm_ioeventfd(ctx->vm, fd, addr, len,
		    space == DEV_SPACE_MMIO, has_match, match, !assign);
	pthread_mutex_unlock(&ctx->vm_lock);
	return (rv);
}

static int
x86_irqfd(void *arg, int fd, uint32_t gsi, int assign)
{
	struct vmctx	*ctx = arg;
	int		 rv = 0;

	pthread_mutex_lock(&ctx->vm_lock);
	if (ctx->vm != NULL)
		rv = vmm_irqfd(ctx->vm, fd, gsi, !assign);
	pthread_mutex_unlock(&ctx->vm_lock);
	return (rv);
}

static int
x86_msi_route(void *arg, uint32_t gsi, uint64_t addr, uint32_t data)
{
	struct vmctx	*ctx = arg;
	int		 rv = 0;

	pthread_mutex_lock(&ctx->vm_lock);
	if (ctx->vm != NULL)
		rv = vmm_msi_route(ctx->vm, gsi, addr, data);
	pthread_mutex_unlock(&ctx->vm_lock);
	return (rv);
}

static int
x86_msi(void *arg, uint64_t addr, uint32_t data)
{
	struct vmctx	*ctx = arg;
	int		 rv = 0;

	pthread_mutex_lock(&ctx->vm_lock);
	if (ctx->vm != NULL)
		rv = vmm_signal_msi(ctx->vm, addr, data);
	pthread_mutex_unlock(&ctx->vm_lock);
	return (rv);
}

/* GSIs are handed out once, at attach, and kept across reboots. */
static int
x86_gsi_alloc(void *arg, uint32_t n, uint32_t *first)
{
	struct vmctx	*ctx = arg;

	if (n > VMM_GSI_MAX - ctx->gsi_next) {
		errno = ENOSPC;
		return (-1);
	}
	*first = ctx->gsi_next;
	ctx->gsi_next += n;
	return (0);
}

static void
com1_args(struct vmctx *ctx, struct dev_attach_args *a)
{
	a->fd = ctx->tty_master;
	a->fd2 = ctx->tty_slave;
	a->iobase = VM_COM1_PORT;
	a->irq = VM_COM1_IRQ;
}

/* The platform: every device of an x86 VM, in attach order. */
static const struct {
	const struct devsw	*sw;
	void			(*args)(struct vmctx *,
				    struct dev_attach_args *);
} x86_devtab[] = {
	{ &ns8250_devsw,	com1_args },
	{ &mc146818_devsw,	NULL },
	{ &pci_devsw,		NULL },
	{ &i8042_devsw,		NULL },
	{ &acpi_devsw,		NULL },
	{ &fw_cfg_devsw,	NULL },
	{ &viornd_devsw,	NULL },	/* every VM has one, as on vmd */
	{ &vmmci_devsw,		NULL },	/* this one too */
};

int
x86_devices_attach(struct vmctx *ctx, char *err, size_t errlen)
{
	struct dev_attach_args	 a;
	size_t			 i;

	ctx->host.evbase = ctx->evbase;
	ctx->host.arg = ctx;
	ctx->host.irq_set = x86_irq_set;
	ctx->host.request = x86_dev_request;
	ctx->host.memsize = ctx->mem.memsize;
	ctx->host.gpa_ptr = x86_gpa_ptr;
	ctx->host.ioeventfd = x86_ioeventfd;
	ctx->host.irqfd = x86_irqfd;
	ctx->host.msi_route = x86_msi_route;
	ctx->host.msi = x86_msi;
	ctx->host.gsi_alloc = x86_gsi_alloc;
	ctx->gsi_next = VMM_GSI_MSI_FIRST;
	dev_init(&ctx->devs, &ctx->host);
	for (i = 0; i < sizeof(x86_devtab) / sizeof(x86_devtab[0]); i++) {
		memset(&a, 0, sizeof(a));
		a.fd = a.fd2 = -1;
		if (x86_devtab[i].args != NULL)
			x86_devtab[i].args(ctx, &a);
		if (dev_attach(&ctx->devs, x86_devtab[i].sw, &a) == NULL) {
			snprintf(err, errlen, "device %s failed to attach",
			    x86_devtab[i].sw->name);
			return (-1);
		}
	}
	/* a PCI function for each device process, in the order they came */
	for (i = 0; i < ctx->ndevprocs; i++) {
		memset(&a, 0, sizeof(a));
		a.fd = a.fd2 = -1;
		a.arg = ctx->devprocs[i];
		if (dev_attach(&ctx->devs, &viodev_devsw, &a) == NULL) {
			snprintf(err, errlen, "%s failed to attach",
			    vmdev_name(ctx->devprocs[i]));
			return (-1);
		}
	}
	/* the CD-ROM runs here, as on vmd: it reads, never writes */
	if (ctx->cdromfd != -1) {
		memset(&a, 0, sizeof(a));
		a.fd = ctx->cdromfd;
		a.fd2 = -1;
		ctx->cdromfd = -1;	/* the device owns it now */
		if (dev_attach(&ctx->devs, &vioscsi_devsw, &a) == NULL) {
			snprintf(err, errlen, "cdrom failed to attach");
			return (-1);
		}
	}
	return (0);
}

/*
 * Press the ACPI power button, for a stop that asks the guest to shut
 * down when it has no vmmci.  Returns 1 if the guest has enabled the
 * button (so it was told), 0 if not; it may run from any thread.
 */
int
x86_power_button(struct vmctx *ctx)
{
	size_t	 i;

	for (i = 0; i < ctx->devs.ndev; i++)
		if (ctx->devs.dev[i]->sw == &acpi_devsw)
			return (acpi_power_button(ctx->devs.dev[i]));
	return (0);
}

/* Take a press back that the guest did not act on. */
void
x86_power_button_cancel(struct vmctx *ctx)
{
	acpi_power_button_cancel(dev_find(&ctx->devs, &acpi_devsw));
}

static int
x86_map_ram(struct vmctx *ctx)
{
	struct vm_mem	*mem = &ctx->mem;
	uint64_t	 low = vm_lowram_end(mem->memsize);

	if (vmm_map_memory(ctx->vm, SLOT_LOW, 0, low, mem->ram) == -1)
		return (-1);
	if (mem->memsize > VM_MMIO_HOLE_START &&
	    vmm_map_memory(ctx->vm, SLOT_HIGH, VM_MMIO_HOLE_END,
	    mem->memsize - VM_MMIO_HOLE_START, mem->ram + low) == -1)
		return (-1);
	return (0);
}

_Static_assert(FW_CFG_BOOT_AUTO == VMBOOTDEV_AUTO &&
    FW_CFG_BOOT_CDROM == VMBOOTDEV_CDROM &&
    FW_CFG_BOOT_DISK == VMBOOTDEV_DISK && FW_CFG_BOOT_NET == VMBOOTDEV_NET,
    "fw_cfg numbers boot devices as the start protocol");

/*
 * The boot order of the VM's disks and CD-ROM, by their PCI slots, and
 * what SeaBIOS does around it: no boot menu prompt (the boot device is
 * vm.conf's or vmctl's), and after "No bootable device" it waits halted
 * until the VM is stopped instead of rebooting into the same failure
 * every minute (its etc/boot-fail-wait, in milliseconds, -1 forever).
 */
static int
x86_bootorder(struct vmctx *ctx, struct device *fw)
{
	static const uint32_t	 failwait = UINT32_MAX;
	static const uint16_t	 menu = 0;
	struct device		*pci;
	uint8_t			 disks[PCI_MAX_SLOTS], cd;
	size_t			 nd = 0, nc = 0;
	char			 order[PCI_MAX_SLOTS * 48];
	int			 len;

	if ((pci = dev_find(&ctx->devs, &pci_devsw)) != NULL) {
		nd = pci_find_slots(pci, VIRTIO_PCI_VENDOR,
		    VIRTIO_PCI_DEVICE_BASE + VIRTIO_ID_BLOCK, disks,
		    sizeof(disks));
		nc = pci_find_slots(pci, VIRTIO_PCI_VENDOR,
		    VIRTIO_PCI_DEVICE_BASE + VIRTIO_ID_SCSI, &cd, 1);
	}
	if ((len = fw_cfg_bootorder(order, sizeof(order),
	    (int)ctx->params->vmc_bootdevice, disks, nd, nc > 0 ? cd : -1)) ==
	    -1) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if (ctx->params->vmc_bootdevice == VMBOOTDEV_NET)
		log_warnx("boot device net: the firmware has no network boot");
	return (fw_cfg_add_file(fw, "bootorder", order, (size_t)len + 1) ==
	    -1 || fw_cfg_add_file(fw, "etc/boot-fail-wait", &failwait,
	    sizeof(failwait)) == -1 || fw_cfg_add_file(fw,
	    "etc/show-boot-menu", &menu, sizeof(menu)) == -1 ? -1 : 0);
}

/*
 * Firmware: the whole image mapped to end at 4 GiB (loadfile_bios()
 * copied its last 128 KiB below 1 MiB), and what SeaBIOS asks fw_cfg
 * for: the memory map, the ACPI tables with their loader script, the
 * vCPU count, the serial console, the boot order.
 */
static int
x86_bios(struct vmctx *ctx, char *err, size_t errlen)
{
	struct vm_memrange	 mr[VM_MAX_MEMRANGES];
	struct acpi_build	*ab = NULL;
	struct device		*fw;
	uint8_t			 e820[VM_MAX_MEMRANGES * 20], *e;
	uint16_t		 ncpus = (uint16_t)ctx->ncpus;
	uint16_t		 sercon = VM_COM1_PORT;
	uint64_t		 size;
	size_t			 i, n;
	void			*img;
	int			 rv = -1;

	if (loadfile_size(ctx->kernelfd, "BIOS", &size, err, errlen) == -1)
		return (-1);
	if (ctx->bios == NULL || ctx->bios_size != size) {
		if (ctx->bios != NULL)
			munmap(ctx->bios, ctx->bios_size);
		img = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (img == MAP_FAILED) {
			snprintf(err, errlen, "BIOS: %s", strerror(errno));
			ctx->bios = NULL;
			return (-1);
		}
		ctx->bios = img;
		ctx->bios_size = size;
	}
	/* read again on every boot: the guest may have written to it */
	if (loadfile_read(ctx->kernelfd, 0, ctx->bios, size, "BIOS", err,
	    errlen) == -1)
		return (-1);
	if (vmm_map_memory(ctx->vm, SLOT_BIOS, VM_MMIO_HOLE_END - size, size,
	    ctx->bios) == -1) {
		snprintf(err, errlen, "map BIOS: %s", strerror(errno));
		return (-1);
	}
	if ((fw = dev_find(&ctx->devs, &fw_cfg_devsw)) == NULL) {
		snprintf(err, errlen, "BIOS: no fw_cfg device");
		return (-1);
	}
	n = vm_memmap(ctx->mem.memsize, mr, VM_MAX_MEMRANGES);
	for (i = 0, e = e820; i < n; i++, e += 20) {
		memcpy(e, &mr[i].addr, 8);
		memcpy(e + 8, &mr[i].size, 8);
		memcpy(e + 16, &mr[i].type, 4);
	}
	if ((ab = malloc(sizeof(*ab))) == NULL ||
	    acpi_tables_build(ab, ncpus) == -1) {
		snprintf(err, errlen, "BIOS: ACPI tables: %s",
		    strerror(errno));
		goto done;
	}
	fw_cfg_clear(fw);
	fw_cfg_set_mem(fw, &ctx->mem);
	if (fw_cfg_add_item(fw, FW_CFG_NB_CPUS, &ncpus, 2) == -1 ||
	    fw_cfg_add_item(fw, FW_CFG_MAX_CPUS, &ncpus, 2) == -1 ||
	    fw_cfg_add_file(fw, "etc/e820", e820, 20 * n) == -1 ||
	    fw_cfg_add_file(fw, "etc/sercon-port", &sercon, 2) == -1 ||
	    x86_bootorder(ctx, fw) == -1 ||
	    fw_cfg_add_acpi(fw, ab) == -1) {
		snprintf(err, errlen, "BIOS: fw_cfg: %s", strerror(errno));
		goto done;
	}
	rv = 0;
 done:
	free(ab);
	return (rv);
}

/*
 * Where the host-quirk layer is on, a Linux kernel vmd loads itself gets
 * the options that keep it off what the host cannot emulate (vmm(4)),
 * after the user's: it is loaded again with them.
 */
static int
x86_linux_quirks(struct vmctx *ctx, struct loadfile_args *la,
    struct vmm_regs *regs, struct vmm_sregs *sregs, enum loadfile_kind *kind,
    char *err, size_t errlen)
{
	char		 cmdline[VM_CMDLINE_LEN];
	const char	*user = la->cmdline != NULL ? la->cmdline : "";
	const char	*add = vmm_host_linux_args();
	int		 n;

	n = snprintf(cmdline, sizeof(cmdline), "%s%s%s", user,
	    user[0] != '\0' ? " " : "", add);
	if (n < 0 || (size_t)n >= sizeof(cmdline)) {
		snprintf(err, errlen, "command line too long for the %zu "
		    "bytes of options this host adds for Linux (max %d)",
		    strlen(add) + 1, VM_CMDLINE_LEN - 1);
		errno = EINVAL;
		return (-1);
	}
	la->cmdline = cmdline;
	memset(regs, 0, sizeof(*regs));
	memset(sregs, 0, sizeof(*sregs));
	if (loadfile(la, &ctx->mem, regs, sregs, kind, err, errlen) == -1)
		return (-1);
	la->cmdline = user;
	log_debug("Linux kernel: host-quirk options added to its command line");
	return (0);
}

/*
 * Create the hypervisor VM and its vCPUs, load the kernel and set the
 * entry state of vCPU 0; the others wait in the in-kernel LAPIC for the
 * guest's INIT and SIPI, as application processors after a reset.
 * Called at start and again after each guest reset.
 */
int
x86_boot(struct vmctx *ctx, char *err, size_t errlen)
{
	struct loadfile_args	 la;
	struct vmm_regs		 regs;
	struct vmm_sregs	 sregs;
	struct vmm_vm		*vm;
	enum loadfile_kind	 kind;
	uint64_t		 rsdp;
	uint32_t		 i;

	if (ctx->params->vmc_flags & VMOP_CREATE_HOSTQUIRKS)
		vmm_host_enable();
	if ((vm = vmm_vm_create(ctx->kvmfd)) == NULL) {
		snprintf(err, errlen, "create VM: %s", strerror(errno));
		return (-1);
	}
	pthread_mutex_lock(&ctx->vm_lock);
	ctx->vm = vm;
	pthread_mutex_unlock(&ctx->vm_lock);
	if (x86_map_ram(ctx) == -1) {
		snprintf(err, errlen, "map guest memory: %s", strerror(errno));
		return (-1);
	}
	if (vmm_irqchip_create(vm) == -1) {
		snprintf(err, errlen, "create irqchip: %s", strerror(errno));
		return (-1);
	}
	for (i = 0; i < ctx->ncpus; i++) {
		if ((ctx->vcpus[i].vcpu = vmm_vcpu_create(vm, i)) == NULL) {
			snprintf(err, errlen, "create vcpu %u: %s", i,
			    strerror(errno));
			return (-1);
		}
		if (i > 0 && vmm_vcpu_wait_sipi(ctx->vcpus[i].vcpu) == -1) {
			snprintf(err, errlen, "vcpu %u: wait for SIPI: %s", i,
			    strerror(errno));
			return (-1);
		}
	}
	memset(&regs, 0, sizeof(regs));
	memset(&sregs, 0, sizeof(sregs));
	memset(&la, 0, sizeof(la));
	la.kernelfd = ctx->kernelfd;
	la.initrdfd = ctx->initrdfd;
	la.cmdline = ctx->params->vmc_cmdline;
	la.rsdp = ACPI_RSDP_GPA;
	if (loadfile(&la, &ctx->mem, &regs, &sregs, &kind, err, errlen) == -1)
		return (-1);
	if (vmm_host_enabled() && (kind == LOADFILE_LINUX ||
	    kind == LOADFILE_PVH_LINUX) && x86_linux_quirks(ctx, &la, &regs,
	    &sregs, &kind, err, errlen) == -1)
		return (-1);
	/*
	 * Linux gets ACPI tables; an OpenBSD kernel gets the platform it
	 * has on OpenBSD's vmd, which has none.
	 */
	if (kind == LOADFILE_BIOS) {
		if (x86_bios(ctx, err, errlen) == -1)
			return (-1);
	} else if (kind != LOADFILE_OPENBSD && acpi_tables_install(&ctx->mem,
	    ctx->ncpus, &rsdp, err, errlen) == -1)
		return (-1);
	if (vmm_set_sregs(ctx->vcpus[0].vcpu, &sregs) == -1 ||
	    vmm_set_regs(ctx->vcpus[0].vcpu, &regs) == -1) {
		snprintf(err, errlen, "set vcpu registers: %s",
		    strerror(errno));
		return (-1);
	}
	return (0);
}

/* Tear down the hypervisor VM; memory, devices and the pty stay. */
void
x86_halt(struct vmctx *ctx)
{
	struct vmm_vm	*vm;
	uint32_t	 i;

	for (i = 0; i < ctx->ncpus; i++) {
		vmm_vcpu_destroy(ctx->vcpus[i].vcpu);
		ctx->vcpus[i].vcpu = NULL;
	}
	pthread_mutex_lock(&ctx->vm_lock);
	vm = ctx->vm;
	ctx->vm = NULL;
	pthread_mutex_unlock(&ctx->vm_lock);
	vmm_vm_destroy(vm);
}

static void
x86_exit_error(struct vmctx *ctx, struct vm_vcpu *vc, const char *what)
{
	char	 dump[512];

	vmm_vcpu_dump(vc->vcpu, dump, sizeof(dump));
	log_warnx("%s; %s", what, dump);
	vm_request(ctx, VM_REQ_ERROR, "%s", what);
}

/*
 * One vCPU exit.  Returns 0 to run on, -1 when the VM must stop (a
 * request with its reason is then pending).
 */
int
x86_handle_exit(struct vmctx *ctx, struct vm_vcpu *vc, struct vmm_exit *ve)
{
	char		 what[128];
	uint32_t	 i;

	vc->exits++;
	switch (ve->reason) {
	case VMM_EXIT_IO:
		for (i = 0; i < ve->io.count; i++)
			dev_io(&ctx->devs, DEV_SPACE_IO, ve->io.port,
			    ve->io.size, ve->io.data + i * ve->io.size,
			    !ve->io.in);
		return (0);
	case VMM_EXIT_MMIO:
		dev_io(&ctx->devs, DEV_SPACE_MMIO, ve->mmio.gpa,
		    ve->mmio.len, ve->mmio.data, ve->mmio.write);
		return (0);
	case VMM_EXIT_INTR:
		return (0);
	case VMM_EXIT_SHUTDOWN:
		vm_request(ctx, VM_REQ_RESET, "triple fault");
		return (-1);
	case VMM_EXIT_SYSTEM_EVENT:
		if (ve->code == VMM_EVENT_SHUTDOWN)
			vm_request(ctx, VM_REQ_POWEROFF, "guest powered off");
		else if (ve->code == VMM_EVENT_RESET)
			vm_request(ctx, VM_REQ_RESET, "guest reset");
		else
			x86_exit_error(ctx, vc, "guest crashed");
		return (-1);
	case VMM_EXIT_HLT:
		x86_exit_error(ctx, vc, "vcpu halted for good");
		return (-1);
	case VMM_EXIT_INTERNAL_ERROR:
		if (ve->internal.suberror == VMM_INTERNAL_EMULATION)
			snprintf(what, sizeof(what), "emulation failure");
		else
			snprintf(what, sizeof(what),
			    "hypervisor internal error %u",
			    ve->internal.suberror);
		x86_exit_error(ctx, vc, what);
		return (-1);
	case VMM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "vcpu entry failed, reason %#llx",
		    (unsigned long long)ve->code);
		x86_exit_error(ctx, vc, what);
		return (-1);
	case VMM_EXIT_DEBUG:
	case VMM_EXIT_WRMSR:
		/* Only the host-quirk layer asks for these. */
		snprintf(what, sizeof(what), "%s exit the host-quirk layer "
		    "did not finish", ve->reason == VMM_EXIT_DEBUG ? "debug" :
		    "wrmsr");
		x86_exit_error(ctx, vc, what);
		return (-1);
	case VMM_EXIT_UNKNOWN:
	default:
		snprintf(what, sizeof(what), "unexpected vcpu exit %#llx",
		    (unsigned long long)ve->code);
		x86_exit_error(ctx, vc, what);
		return (-1);
	}
}
