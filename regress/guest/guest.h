/*
 * guest.h: what the test guest's files share: port and MSR access, the
 * trap frame the vector stubs in start.S build, and the prototypes of
 * each file, grouped by file.  This is a freestanding kernel: it must
 * never include a hosted header or use the FPU, SSE or any instruction
 * the host's CPL 0 emulator lacks (see README).
 */

#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Vectors: 0-31 exceptions, PIC at 0x20-0x2f, LAPIC watchdog, spurious,
 * then MSI-X vectors handed out by msi_alloc().
 */
#define VEC_PIC			0x20
#define VEC_WATCHDOG		0x30
#define VEC_SPURIOUS		0x3f
#define VEC_MSI			0x40
#define NVEC			0x80	/* stubs in start.S, gates in the IDT */

#define IRQ_PIT			0
#define IRQ_COM1		4

#define PIT_HZ			250

/* Platform ports, as in usr.sbin/vmd/vmd.h. */
#define COM1_PORT		0x3f8
#define RTC_PORT		0x70
#define PCI_CONF_PORT		0xcf8
#define I8042_CMD_PORT		0x64
#define PM1_CNT_PORT		0x604
#define QEMU_PM1_CNT_PORT	0xb004	/* QEMU -M pc, PIIX4 PM */
#define PM1_SLP_EN		0x2000

/* struct hvm_start_info of the PVH boot ABI (Xen's start_info.h). */
#define PVH_START_MAGIC		0x336ec578
struct hvm_start_info {
	uint32_t	magic;
	uint32_t	version;
	uint32_t	flags;
	uint32_t	nr_modules;
	uint64_t	modlist_paddr;
	uint64_t	cmdline_paddr;
	uint64_t	rsdp_paddr;
	uint64_t	memmap_paddr;	/* version >= 1 */
	uint32_t	memmap_entries;	/* version >= 1 */
	uint32_t	reserved;
};

struct hvm_memmap_entry {
	uint64_t	addr;
	uint64_t	size;
	uint32_t	type;		/* 1: RAM, as in the ACPI/e820 map */
	uint32_t	reserved;
};

/* What the stubs in start.S push, lowest address first. */
struct trapframe {
	uint64_t	r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
	uint64_t	vector, error;
	uint64_t	rip, cs, rflags, rsp, ss;
};

/* A validated CMOS date, binary, 24-hour, full year. */
struct rtc_time {
	unsigned int	year, mon, day, hour, min, sec;
};

/* What the command line asked for, and what the boot loader gave us. */
struct guest {
	const struct hvm_start_info *si;	/* NULL if not valid */
	const char	*cmdline;
	uint64_t	 hosttime;		/* unix time, if hosttime_set */
	int		 hosttime_set;
	int		 ip_set;		/* ip=C:S:G:M, host order */
	uint32_t	 ip, ip_server, ip_gw, ip_mask;
};

/* PCI functions as pci.c found them. */
enum { BAR_NONE, BAR_IO, BAR_MEM32, BAR_MEM64 };

struct pci_func {
	uint8_t		bus, dev, fn;
	uint8_t		irq_line, irq_pin;
	uint16_t	vendor, device, subvendor, subdevice;
	uint8_t		bar_type[6];
	uint64_t	bar[6], bar_size[6];
	uint8_t		msix_cap;
	uint64_t	msix_table;
};

/* Split virtqueues (virtio 1.x, 2.7). */
#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2
#define VRING_DESC_F_INDIRECT	4
#define VRING_USED_F_NO_NOTIFY	1
#define VIRTIO_F_INDIRECT_DESC	(1ULL << 28)
#define VIRTIO_F_VERSION_1	(1ULL << 32)
#define VIRTIO_MAXQ		4

struct vring_desc {
	uint64_t	addr;
	uint32_t	len;
	uint16_t	flags;
	uint16_t	next;
};

struct vring_avail {
	uint16_t	flags;
	uint16_t	idx;
	uint16_t	ring[];
};

struct vring_used_elem {
	uint32_t	id;
	uint32_t	len;
};

struct vring_used {
	uint16_t	flags;
	uint16_t	idx;
	struct vring_used_elem ring[];
};

struct virtq {
	uint16_t		 size, index;
	struct vring_desc	*desc;
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
	uint16_t		 avail_idx, last_used, seen_used;
	uintptr_t		 notify;
};

struct vdev {
	struct pci_func	*pf;
	int		 type, index;
	uintptr_t	 common, notify, isr, devcfg;
	uint32_t	 notify_mul, devcfg_len;
	uint64_t	 offered, features, want;
	int		 nq;
	uint16_t	 qsize;
	struct virtq	 vq[VIRTIO_MAXQ];
	int		 msix_n, msix, force_intx, intr_done;
	int		 started, svc;
	volatile uint32_t irqs, cfg_irqs;
	uint32_t	 resets;
};

/* virtio-blk */
#define VBLK_IN			0
#define VBLK_OUT		1
#define VBLK_FLUSH		4
#define VBLK_MAX_DEPTH		256

struct blk_slot;
struct vblk {
	struct vdev	*vd;
	struct virtq	*vq;
	uint64_t	 capacity;	/* 512-byte sectors */
	uint32_t	 size_max, seg_max, blk_size;
	int		 ro, flush, indirect;
	int		 ndesc, depth;
	struct blk_slot	*slot;
	uint16_t	*freeslot;	/* stack of free slots */
	int		 nfree;
	uint32_t	 resets;
};

/* virtio-net */
#define VNET_MAX		4

struct vnet {
	struct vdev	*vd;
	struct virtq	*rxq, *txq;
	int		 index;
	uint8_t		 mac[6];
	uint8_t		*rxbuf, *txbuf;
	uint16_t	*txfree;
	uint16_t	 ntxfree;
	int		 flooding;	/* vnet_tx_flood() owns the ring */
	uint32_t	 resets;
	uint64_t	 rx_packets, tx_packets, rx_drops, tx_drops;
};

static inline void
outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void
outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void
outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint16_t
inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint8_t
inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t
inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t
rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t
rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/*
 * A full barrier.  A locked add, not mfence: the host's CPL 0 emulator
 * may lack the fences.  Devices on other host threads read what the
 * driver published in order only through this.
 */
static inline void
mb(void)
{
	__asm__ volatile("lock; addl $0, (%%rsp)" : : : "memory", "cc");
}

/* MMIO accessors: one access of the given width, never split. */
static inline uint8_t
mmio_r8(uintptr_t a)
{
	return *(volatile uint8_t *)a;
}

static inline uint16_t
mmio_r16(uintptr_t a)
{
	return *(volatile uint16_t *)a;
}

static inline uint32_t
mmio_r32(uintptr_t a)
{
	return *(volatile uint32_t *)a;
}

static inline void
mmio_w8(uintptr_t a, uint8_t v)
{
	*(volatile uint8_t *)a = v;
}

static inline void
mmio_w16(uintptr_t a, uint16_t v)
{
	*(volatile uint16_t *)a = v;
}

static inline void
mmio_w32(uintptr_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}

static inline void
cli(void)
{
	__asm__ volatile("cli" : : : "memory");
}

static inline void
sti(void)
{
	__asm__ volatile("sti" : : : "memory");
}

/* start.S */
extern char	vector_stubs[];		/* NVEC stubs, 16 bytes apart */
void		triple_fault(void) __attribute__((noreturn));

/* util.c */
void		*memcpy(void *, const void *, size_t);
void		*memset(void *, int, size_t);
int		 memcmp(const void *, const void *, size_t);
size_t		 strlen(const char *);
int		 streq(const char *, const char *);
int		 prefix(const char *, const char *);
int		 parse_u64(const char *, uint64_t *);
const char	*parse_ipv4(const char *, uint32_t *);
char		*ipv4_str(uint32_t, char *);
void		 mem_init(const struct guest *);
void		*palloc(size_t, size_t);
void		*pzalloc(size_t, size_t);
uint64_t	 pfree_bytes(void);
uint64_t	 rand64(uint64_t *);

/* pci.c */
uint32_t	 pci_read32(const struct pci_func *, uint8_t);
uint16_t	 pci_read16(const struct pci_func *, uint8_t);
uint8_t		 pci_read8(const struct pci_func *, uint8_t);
void		 pci_write32(const struct pci_func *, uint8_t, uint32_t);
void		 pci_write16(const struct pci_func *, uint8_t, uint16_t);
int		 pci_scan(void);
struct pci_func	*pci_find(int (*)(const struct pci_func *), int);
int		 pci_enable(struct pci_func *, const char **);
uint8_t		 pci_find_cap(const struct pci_func *, uint8_t, uint8_t);
int		 pci_msix_count(struct pci_func *);
void		 pci_msix_set(struct pci_func *, int, int);
void		 pci_msix_enable(struct pci_func *, int);

/* virtio.c */
extern int	 virtio_no_msix;
struct vdev	*virtio_find(int, int, const char **);
int		 virtio_start(struct vdev *, uint64_t, int, uint16_t,
		    const char **);
uint8_t		 virtio_status(struct vdev *);
int		 virtio_check_reset(struct vdev *);
uint8_t		 virtio_cfg8(struct vdev *, int);
uint16_t	 virtio_cfg16(struct vdev *, int);
uint32_t	 virtio_cfg32(struct vdev *, int);
uint64_t	 virtio_cfg64(struct vdev *, int);
void		 vq_push(struct virtq *, uint16_t);
void		 vq_kick(struct virtq *);
int		 vq_pop(struct virtq *, uint16_t *, uint32_t *);
int		 vq_pending(struct virtq *);
int		 vq_wait(struct vdev *, struct virtq **, int, uint32_t);
int		 virtio_irq_seen(struct vdev *, uint32_t);
const char	*virtio_intr_name(struct vdev *);

/* vblk.c */
struct vblk	*vblk_open(int, const char **);
uint32_t	 vblk_max_request(struct vblk *);
int		 vblk_slot(struct vblk *);
int		 vblk_submit(struct vblk *, int, uint32_t, uint64_t, void *,
		    uint32_t);
int		 vblk_prepare(struct vblk *, int, uint32_t, void *, uint32_t);
void		 vblk_requeue(struct vblk *, int, uint64_t);
int64_t		 vblk_random(struct vblk *, uint32_t, uint8_t **, int, uint32_t,
		    uint64_t, uint64_t, uint64_t *);
void		 vblk_kick(struct vblk *);
int		 vblk_reap(struct vblk *, int *, int *);
int		 vblk_wait(struct vblk **, int);
int		 vblk_io(struct vblk *, uint32_t, uint64_t, void *, uint32_t);

/* blktest.c */
void		 check_blk(struct guest *);
void		 mode_blkcopy(struct guest *);
void		 mode_blkbench(struct guest *);

/* vscsi.c */
void		 check_cdrom(struct guest *);

/* vrng.c */
void		 check_rng(struct guest *);
void		 check_rngreset(struct guest *);

/* vmmci.c */
int		 vmmci_attach(const char **);
void		 vmmci_poll(void);
void		 check_vmmci(struct guest *);

/* vnet.c */
struct vnet	*vnet_open(int, const char **);
extern uint8_t	 vnet_mac[6];
extern int	 vnet_mac_set;
void		 vnet_reset_queues(struct vnet *);
int		 vnet_link(struct vnet *);
int		 vnet_rx_burst(struct vnet *, int,
		    void (*)(void *, const uint8_t *, uint32_t), void *);
void		 vnet_tx_reclaim(struct vnet *);
uint8_t		*vnet_tx_buf(struct vnet *, uint16_t *);
void		 vnet_tx_send(struct vnet *, uint16_t, uint32_t);
int64_t		 vnet_tx_flood(struct vnet *, const uint8_t *, uint32_t,
		    uint64_t);

/* net.c */
void		 net_poll_all(void);
void		 net_up(struct guest *);
void		 check_dhcp(struct guest *);
void		 mode_netbench(struct guest *);
void		 mode_ping(struct guest *);

/* smp.c */
void		 ap_main(void);
void		 check_smp(struct guest *);
const uint8_t	*acpi_find_table(const struct guest *, const char *);

/* pwrbtn.c */
void		 check_pwrbtn(struct guest *);
void		 mode_idle(struct guest *);
void		 mode_deaf(struct guest *);

/* main.c */
void		gmain(uint32_t);
void		waiting_begin(struct guest *);

/* cons.c */
void		cons_init(void);
void		cons_putc(int);
void		cons_puts(const char *);
void		kprintf(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
int		cons_uart_present(void);
void		cons_rx_enable(int);
void		cons_intr(void);
int		cons_getline(char *, size_t, uint32_t);

/* machine.c */
void		machine_init(void);
void		trap(struct trapframe *);
void		pic_unmask(int);
uint64_t	ticks_now(void);
int		wait_until(int (*)(void), uint32_t);
int		lapic_present(void);
uint32_t	lapic_id(void);
int		lapic_ipi(uint32_t, uint32_t);
void		lapic_ap_init(void);
void		idt_load(void);
int		msi_alloc(void (*)(void *), void *);
int		irq_establish(int, int (*)(void *), void *);
void		set_wait_hook(void (*)(void));
extern volatile int svc_pending;
extern volatile int svc_need_tick;
uint64_t	tsc_hz(void);
uint64_t	tsc_us(uint64_t, uint64_t);
uint64_t	wait_elapsed_us(void);
uint8_t		cmos_read(uint8_t);
void		cmos_write(uint8_t, uint8_t);
void		power_off(void) __attribute__((noreturn));
void		machine_reset(void) __attribute__((noreturn));

/* checks.c */
void		check_console(struct guest *);
void		check_reboot(struct guest *);
void		check_timer(struct guest *);
void		check_rtc(struct guest *);
void		check_pci(struct guest *);
void		check_echo(struct guest *);
void		check_int3(struct guest *);
void		check_popcnt(struct guest *);

/* initrd.c */
void		check_initrd(struct guest *);
void		check_initrd_at(const char *, uint64_t, uint64_t, const char *);

/* user.c */
void		check_user(struct guest *);
int		user_trap(struct trapframe *);

/* hostbench.c */
void		check_hostbench(struct guest *);

extern volatile int		bp_expected;
extern volatile uint64_t	bp_rip;
#define VEC_BP		3
int		rtc_read(struct rtc_time *, const char **);

#endif /* GUEST_H */
