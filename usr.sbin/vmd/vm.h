/*
 * vm.h: the guest platform (memory map, fixed ports and interrupt lines,
 * the e820 map) and the vm process's own API: the state of one VM inside
 * its "vm NAME" process, shared by the process life cycle (vm.c) and the
 * x86 platform (x86_vm.c).  Devices and loaders include this and dev.h,
 * never vmd.h: the daemon's protocol is not theirs to see.  Only the vm
 * process ever holds a struct vmctx; nothing in it is sent anywhere.
 */

#ifndef VM_H
#define VM_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <event.h>

#include "imsg.h"
#include "dev/vmm/vmm.h"
#include "dev.h"

/*
 * Guest-physical memory layout, as on OpenBSD's vmd: RAM below 640K, a
 * reserved hole to 1M, RAM from 1M to the PCI MMIO hole, the rest of RAM
 * above 4G.  The guest RAM memfd holds RAM at offset == gpa below the
 * hole (the 640K-1M hole included, unused) and the part above 4G right
 * after it.
 */
#define VM_LOWMEM_END		0xa0000ULL
#define VM_HIGHMEM_START	0x100000ULL
#define VM_MMIO_HOLE_START	0xc0000000ULL
#define VM_MMIO_HOLE_END	0x100000000ULL
#define VM_PCI_MMIO_START	0xe0000000ULL	/* BARs go here */
#define VM_PCI_MMIO_END		0xfec00000ULL

/* The longest guest command line, NUL included (VM_CMDLINE_MAX in vmd.h) */
#define VM_CMDLINE_LEN		2048

/* Fixed platform ports and lines. */
#define VM_COM1_PORT		0x3f8
#define VM_COM1_IRQ		4
#define VM_RTC_PORT		0x70
#define VM_RTC_IRQ		8
#define VM_PCI_CONF_PORT	0xcf8
#define VM_I8042_PORT		0x60	/* data 0x60, command/status 0x64 */
#define VM_PM_BASE		0x600	/* ACPI PM1a event 0x600, control 0x604 */
#define VM_PM1_CNT_PORT		(VM_PM_BASE + 4)
#define VM_PM1_SLP_EN		0x2000
#define VM_PM1_SLP_TYP_S5	0	/* SLP_TYP for S5 (poweroff), as QEMU's */
#define VM_SCI_IRQ		9	/* ACPI SCI: level, as QEMU's */
/*
 * PCI INTA# of the function in slot s (1-31) is wired to ISA IRQ
 * VM_PCI_INTX_IRQS[(s - 1) % VM_PCI_NINTX], level-triggered, active high
 * at the irqchip; the Interrupt Line register says the same at reset.
 */
#define VM_PCI_INTX_IRQS	{ 5, 10, 11, 3, 6, 7, 12, 14, 15 }
#define VM_PCI_NINTX		9
#define VM_IOAPIC_BASE		0xfec00000ULL	/* KVM's in-kernel IOAPIC */
#define VM_LAPIC_BASE		0xfee00000ULL

/*
 * Guest memory as the vm process holds it: one mapping of the whole RAM
 * memfd.  vm_gpa_ptr() is the only way to turn a guest-physical address
 * into a pointer; it fails unless the whole range is guest RAM.  Devices
 * use vm_dma_ptr(), which also reaches the 640K-1M hole firmware uses.
 */
struct vm_mem {
	uint8_t		*ram;		/* mapping of the memfd */
	uint64_t	 memsize;	/* bytes of guest RAM */
	int		 fd;		/* the memfd */
};

/* e820 entry types, as the PVH memory map and bzImage use them */
#define E820_RAM		1
#define E820_RESERVED		2

struct vm_memrange {
	uint64_t	addr;
	uint64_t	size;
	uint32_t	type;
};

#define VM_MAX_MEMRANGES	8

/* vm_mem.c */
uint64_t	 vm_lowram_end(uint64_t);
size_t		 vm_memmap(uint64_t, struct vm_memrange *, size_t);
void		*vm_gpa_ptr(const struct vm_mem *, uint64_t, uint64_t);
void		*vm_hole_ptr(const struct vm_mem *, uint64_t, uint64_t);
void		*vm_dma_ptr(const struct vm_mem *, uint64_t, uint64_t);

/* vm.h: the vm process */
#define VM_REASON_LEN		256	/* as VM_REASON_MAX in vmd.h */

struct vmop_create_params;
struct vmop_fdset;
struct vmdev;
struct proc_env;

#define VM_DEVPROCS		8	/* device processes: disks, nics */
#define VM_VCPUS_MAX		64	/* as VM_MAX_VCPUS in vmd.h */
#define VM_DEVPROC_WAIT_MS	10000	/* for them to be ready */

/* Why the vCPU loop stopped, in the order they win. */
enum vm_request {
	VM_REQ_NONE,
	VM_REQ_RESET,		/* guest reboot: reload and run again */
	VM_REQ_POWEROFF,	/* guest powered off */
	VM_REQ_ERROR,		/* the VM cannot go on; see reason */
	VM_REQ_STOP		/* terminated from outside */
};

/* One vCPU and the thread that runs it; vCPU i has APIC id i. */
struct vmctx;
struct vm_vcpu {
	struct vmctx		*ctx;
	struct vmm_vcpu		*vcpu;		/* NULL between boots */
	uint32_t		 id;
	pthread_t		 thread;
	uint64_t		 exits;		/* for debug logs */
};

struct vmctx {
	struct vmop_create_params *params;	/* from vmm, checked */
	struct vmop_fdset	*fds;		/* as they came */
	int			 received;	/* the start is in */
	char			 start_error[192];	/* or "" */
	struct vmdev		*devprocs[VM_DEVPROCS];	/* device processes */
	size_t			 ndevprocs;
	int			 kvmfd;
	int			 kernelfd;
	int			 initrdfd;	/* or -1 */
	int			 tty_master;
	int			 tty_slave;
	int			 cdromfd;	/* or -1 */
	struct vm_mem		 mem;
	void			*bios;		/* firmware image, or NULL */
	uint64_t		 bios_size;
	struct vmm_vm		*vm;		/* NULL between boots */
	struct vm_vcpu		 vcpus[VM_VCPUS_MAX];
	uint32_t		 ncpus;		/* from the parameters */
	pthread_mutex_t		 vm_lock;	/* guards vm, vCPU threads,
						   pause state, request */
	pthread_cond_t		 pause_cv;	/* pause state changed */
	int			 pause_req;	/* vmctl pause in force */
	uint32_t		 nparked;	/* vCPU threads parked */
	uint32_t		 nthreads;	/* vCPU threads in their loop */
	uint32_t		 nstarted;	/* vCPU threads to join */
	struct devices		 devs;
	struct dev_host		 host;
	uint32_t		 gsi_next;	/* next GSI for an MSI route */
	struct event_base	*evbase;
	struct event		*ev_vcpu_done;
	int			 vcpu_running;	/* vCPU threads exist */
	int			 request;	/* enum vm_request, atomic */
	char			 reason[VM_REASON_LEN];
	struct vm_stop		*stop;		/* vm_stop.c's */
};

/* vm.c: entry of a "vm NAME" process; fd is its channel to vmm */
void	 vm_run(struct proc_env *) __attribute__((noreturn));
void	 vm_main(int, const char *) __attribute__((noreturn));
void	 vm_devices_ctl(struct vmctx *, uint32_t);
void	 vm_request(struct vmctx *, enum vm_request, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	 vm_result(struct vmctx *, uint32_t, int, const char *);

/* vm_stop.c */
int	 vm_stop_init(struct vmctx *);
void	 vm_stop_request(struct vmctx *);
void	 vm_stop_notice(struct vmctx *, enum dev_request);
int	 vm_stop_pending(struct vmctx *);
void	 vm_stop_paused(struct vmctx *, int);
int64_t	 vm_clock_step(const struct timespec *, const struct timespec *,
	    const struct timespec *, const struct timespec *);

/* x86_vm.c */
int	 x86_mem_alloc(struct vmctx *, char *, size_t);
int	 x86_devices_attach(struct vmctx *, char *, size_t);
int	 x86_boot(struct vmctx *, char *, size_t);
void	 x86_halt(struct vmctx *);
int	 x86_power_button(struct vmctx *);
void	 x86_power_button_cancel(struct vmctx *);
int	 x86_handle_exit(struct vmctx *, struct vm_vcpu *,
	    struct vmm_exit *);

#endif /* VM_H */
