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

/* Vectors: 0-31 exceptions, PIC at 0x20-0x2f, LAPIC watchdog, spurious. */
#define VEC_PIC			0x20
#define VEC_WATCHDOG		0x30
#define VEC_SPURIOUS		0x3f
#define NVEC			0x40	/* stubs in start.S, gates in the IDT */

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

/* main.c */
void		gmain(uint32_t);

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

/* user.c */
void		check_user(struct guest *);
int		user_trap(struct trapframe *);

extern volatile int		bp_expected;
extern volatile uint64_t	bp_rip;
#define VEC_BP		3
int		rtc_read(struct rtc_time *, const char **);

#endif /* GUEST_H */
