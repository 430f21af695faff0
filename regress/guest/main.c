/*
 * main.c: the test guest's C entry: validates the PVH start info, reads
 * the command line, runs the requested checks in their fixed order,
 * then either offers the interactive prompt or prints "ALL DONE" and
 * powers off.  It must never trust the start info beyond its bounds and
 * never end in a silent hang.
 */

#include "guest.h"

#define CMDLINE_MAX	2048	/* VM_CMDLINE_MAX in usr.sbin/vmd/vmd.h */
#define PHYS_MAPPED	0x100000000ULL	/* start.S maps 0-4 GiB */

static const struct check {
	const char	*name;
	void		(*fn)(struct guest *);
	int		 dflt;
} checks[] = {
	/* Reboot early: what ran before it runs again after the reset. */
	{ "console",	check_console,	1 },
	{ "reboot",	check_reboot,	0 },
	{ "timer",	check_timer,	1 },
	{ "rtc",	check_rtc,	1 },
	{ "pci",	check_pci,	1 },
	{ "initrd",	check_initrd,	0 },
	{ "smp",	check_smp,	0 },
	{ "rng",	check_rng,	0 },
	{ "rngreset",	check_rngreset,	0 },
	{ "blk",	check_blk,	0 },
	{ "cdrom",	check_cdrom,	0 },
	{ "dhcp",	check_dhcp,	0 },
	{ "echo",	check_echo,	0 },
	{ "int3",	check_int3,	0 },
	{ "popcnt",	check_popcnt,	0 },
	{ "user",	check_user,	0 },
	{ "hostbench",	check_hostbench, 0 },
	/* Modes for tests and benchmarks. */
	{ "blkcopy",	mode_blkcopy,	0 },
	{ "blkbench",	mode_blkbench,	0 },
	{ "netbench",	mode_netbench,	0 },
	{ "ping",	mode_ping,	0 },
	/* Wait for the host to end the guest: last. */
	{ "vmmci",	check_vmmci,	0 },
	{ "pwrbtn",	check_pwrbtn,	0 },
	{ "idle",	mode_idle,	0 },
	{ "deaf",	mode_deaf,	0 },
};
#define NCHECKS	(sizeof(checks) / sizeof(checks[0]))

static char	cmdline[CMDLINE_MAX];
static char	words[CMDLINE_MAX];	/* cmdline cut into words */

/* Accepts a physical range only if it lies in the identity map. */
static const void *
phys(uint64_t pa, uint64_t len)
{
	if (pa == 0 || pa >= PHYS_MAPPED || len > PHYS_MAPPED - pa)
		return NULL;
	return (const void *)(uintptr_t)pa;
}

/* Copies the command line, printable ASCII only, bounded. */
static void
read_cmdline(const struct hvm_start_info *si)
{
	const char *s;
	size_t i;

	if (si == NULL || (s = phys(si->cmdline_paddr, 1)) == NULL)
		return;
	for (i = 0; i < sizeof(cmdline) - 1; i++) {
		if (si->cmdline_paddr + i >= PHYS_MAPPED || s[i] == '\0')
			break;
		cmdline[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : ' ';
	}
	cmdline[i] = '\0';
}

/*
 * ip=CLIENT:SERVER:GATEWAY:NETMASK, the first four fields of Linux's
 * ip= (empty SERVER, GATEWAY or NETMASK allowed; more fields ignored).
 */
/* mac=XX:XX:XX:XX:XX:XX, hexadecimal, two digits each. */
static int
parse_mac(const char *s, uint8_t *mac)
{
	int i, j, d;

	for (i = 0; i < 6; i++) {
		mac[i] = 0;
		for (j = 0; j < 2; j++, s++) {
			if (*s >= '0' && *s <= '9')
				d = *s - '0';
			else if (*s >= 'a' && *s <= 'f')
				d = *s - 'a' + 10;
			else if (*s >= 'A' && *s <= 'F')
				d = *s - 'A' + 10;
			else
				return -1;
			mac[i] = (uint8_t)(mac[i] << 4 | d);
		}
		if (*s != (i < 5 ? ':' : '\0'))
			return -1;
		if (i < 5)
			s++;
	}
	return 0;
}

static int
parse_ip(struct guest *g, const char *s)
{
	uint32_t v[4] = { 0 };
	int i;

	for (i = 0; i < 4; i++) {
		if (*s != ':' && *s != '\0' &&
		    (s = parse_ipv4(s, &v[i])) == NULL)
			return -1;
		if (*s == ':')
			s++;
		else if (i < 3 && *s != '\0')
			return -1;
		else if (*s == '\0')
			break;
	}
	if (v[0] == 0)
		return -1;
	g->ip = v[0];
	g->ip_server = v[1];
	g->ip_gw = v[2];
	g->ip_mask = v[3];
	g->ip_set = 1;
	return 0;
}

/*
 * Cuts a copy of cmdline into words and marks the named checks in
 * want[]; returns how many check names it saw.
 */
static int
parse_cmdline(struct guest *g, int *want, int *interactive)
{
	char *p = words, *w;
	size_t i;
	int named = 0, found;

	/* Both arrays are the same size and cmdline ends in a NUL. */
	for (i = 0; i == 0 || words[i - 1] != '\0'; i++)
		words[i] = cmdline[i];
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		w = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = '\0';
		found = 0;
		for (i = 0; i < NCHECKS; i++) {
			if (streq(w, checks[i].name)) {
				want[i] = found = 1;
				named++;
			}
		}
		if (found)
			continue;
		if (streq(w, "poweroff"))
			named++;
		else if (streq(w, "interactive"))
			*interactive = 1;
		else if (prefix(w, "user="))
			;	/* read by check_user() */
		else if (prefix(w, "initrd="))
			;	/* read by check_initrd() */
		else if (streq(w, "intx"))
			virtio_no_msix = 1;
		else if (prefix(w, "mac=")) {
			if (parse_mac(w + 4, vnet_mac) == -1)
				kprintf("note: bad %s, ignored\n", w);
			else
				vnet_mac_set = 1;
		} else if (prefix(w, "ip=")) {
			if (parse_ip(g, w + 3) == -1)
				kprintf("note: bad %s, ignored\n", w);
		} else if (prefix(w, "hosttime=")) {
			if (parse_u64(w + 9, &g->hosttime) == 0)
				g->hosttime_set = 1;
			else
				kprintf("note: bad %s, ignored\n", w);
		} else
			kprintf("note: unknown word '%s' ignored\n", w);
	}
	return named;
}

static void
finish(void)
{
	kprintf("ALL DONE\n");
	power_off();
}

static void
info(struct guest *g)
{
	const struct hvm_memmap_entry *mm = NULL;
	struct rtc_time t;
	const char *why;
	uint64_t ram = 0;
	uint32_t i, n = 0;

	if (g->si != NULL && g->si->version >= 1) {
		n = g->si->memmap_entries;
		mm = phys(g->si->memmap_paddr, (uint64_t)n * sizeof(*mm));
		if (mm == NULL)
			n = 0;
	}
	for (i = 0; i < n; i++)
		if (mm[i].type == 1)
			ram += mm[i].size;
	kprintf("memory: %u map entries, %lu KiB RAM\n", n,
	    (unsigned long)(ram >> 10));
	kprintf("cmdline: %s\n", g->cmdline);
	if (rtc_read(&t, &why) == 0)
		kprintf("rtc: %u-%02u-%02u %02u:%02u:%02u\n", t.year, t.mon,
		    t.day, t.hour, t.min, t.sec);
	else
		kprintf("rtc: %s\n", why);
}

/*
 * While the guest waits it answers the host: vmmci requests and, on
 * every NIC, ARP and ping.  This brings them up; the wait hook does the
 * rest.
 */
void
waiting_begin(struct guest *g)
{
	static int done;
	const char *why;

	if (done)
		return;
	done = 1;
	if (vmmci_attach(&why) == 0)
		kprintf("vmmci: attached, answering host requests\n");
	net_up(g);
}

static void
svc_poll(void)
{
	vmmci_poll();
	net_poll_all();
}

static void
shell(struct guest *g)
{
	char buf[128];

	waiting_begin(g);
	cons_rx_enable(1);
	for (;;) {
		kprintf("guest> ");
		if (cons_getline(buf, sizeof(buf), 0) <= 0)
			continue;
		if (streq(buf, "help"))
			kprintf("commands: help info reboot poweroff\n");
		else if (streq(buf, "info"))
			info(g);
		else if (streq(buf, "reboot")) {
			kprintf("reboot: resetting\n");
			machine_reset();
		} else if (streq(buf, "poweroff"))
			finish();
		else
			kprintf("unknown command '%s', try help\n", buf);
	}
}

void
gmain(uint32_t si_pa)
{
	static struct guest g;
	const struct hvm_start_info *si;
	int want[NCHECKS] = { 0 };
	int interactive = 0;
	size_t i;

	cons_init();
	si = phys(si_pa, sizeof(*si));
	if (si != NULL && si->magic == PVH_START_MAGIC)
		g.si = si;
	read_cmdline(g.si);
	g.cmdline = cmdline;
	/* The banner first: boot benchmarks time it. */
	kprintf("guest: vmd test guest, cmdline: %s\n", cmdline);
	machine_init();
	if (g.si == NULL)
		kprintf("note: no PVH start info at 0x%x\n", si_pa);
	mem_init(&g);
	set_wait_hook(svc_poll);
	if (parse_cmdline(&g, want, &interactive) == 0)
		for (i = 0; i < NCHECKS; i++)
			want[i] = checks[i].dflt;
	for (i = 0; i < NCHECKS; i++)
		if (want[i])
			checks[i].fn(&g);
	if (interactive)
		shell(&g);
	finish();
}
