/*
 * vmctl_fmt_test.c: unit tests of vmctl's pure helpers (fmt.c, included
 * here whole): scaled size parsing and printing against OpenBSD's
 * scan_scaled/fmt_scaled results, the -m checks, id, name, log and reset
 * arguments, the start options refused until their device exists, the
 * status header and rows (owner with group, every state) against lines
 * of OpenBSD's vmctl, and the console's "~." escape.  It must not need
 * vmd, a socket or a terminal.
 */

#include "regress/test.h"

#include "usr.sbin/vmctl/fmt.c"

static int
scan_is(const char *s, uint64_t want)
{
	uint64_t	 v = 0;

	return (scan_size(s, &v) == 0 && v == want);
}

static int
scan_fails(const char *s, int want_errno)
{
	uint64_t	 v = 0;

	errno = 0;
	return (scan_size(s, &v) == -1 && errno == want_errno);
}

static void
test_scan_size(void)
{
	CHECK(scan_is("64M", 64ULL << 20));
	CHECK(scan_is("512m", 512ULL << 20));
	CHECK(scan_is("1G", 1ULL << 30));
	CHECK(scan_is("1g", 1ULL << 30));
	CHECK(scan_is("1.5G", 3ULL << 29));
	CHECK(scan_is(".5K", 512));
	CHECK(scan_is("4096", 4096));
	CHECK(scan_is("4096B", 4096));
	CHECK(scan_is("2T", 2ULL << 40));
	CHECK(scan_is("15E", 15ULL << 60));
	CHECK(scan_is("0", 0));
	CHECK(scan_fails("", EINVAL));
	CHECK(scan_fails("M", EINVAL));
	CHECK(scan_fails("64X", EINVAL));
	CHECK(scan_fails("64MB", EINVAL));
	CHECK(scan_fails("-1M", EINVAL));
	CHECK(scan_fails("1.2.3", EINVAL));
	CHECK(scan_fails("16E", ERANGE));
	CHECK(scan_fails("99999999999999999999", ERANGE));
}

static int
fmt_is(uint64_t v, const char *want)
{
	char		 buf[FMT_SCALED_STRSIZE];

	fmt_size(v, buf);
	return (strcmp(buf, want) == 0);
}

static void
test_fmt_size(void)
{
	CHECK(fmt_is(0, "0B"));
	CHECK(fmt_is(1, "1B"));
	CHECK(fmt_is(1023, "1023B"));
	CHECK(fmt_is(1024, "1.0K"));
	CHECK(fmt_is(1536, "1.5K"));
	CHECK(fmt_is(64ULL << 20, "64.0M"));
	CHECK(fmt_is(1006ULL << 20, "1006M"));
	CHECK(fmt_is(92379546, "88.1M"));	/* 88.1 * 2^20 */
	CHECK(fmt_is(1ULL << 30, "1.0G"));
	CHECK(fmt_is(512ULL << 20, "512M"));
	CHECK(fmt_is(128ULL << 30, "128G"));
	/* Tenths round half up from 51.2K of remainder per 1M. */
	CHECK(fmt_is((1ULL << 20) + 51 * 1024, "1.0M"));
	CHECK(fmt_is((1ULL << 20) + 52 * 1024, "1.1M"));
	CHECK(fmt_is((1ULL << 20) + 972 * 1024, "1.9M"));
	CHECK(fmt_is((1ULL << 20) + 973 * 1024, "2.0M"));
	/* 9.96M rounds up to the next whole number, as fmt_scaled. */
	CHECK(fmt_is(10443817, "10.0M"));
	/* From 100 up there is no decimal; .5 rounds the number up. */
	CHECK(fmt_is(100ULL * 1024 + 512, "101K"));
	CHECK(fmt_is(UINT64_MAX, "16.0E"));
}

static void
test_parse_memsize(void)
{
	uint64_t	 v = 0;
	int		 rounded = -1;

	CHECK(parse_memsize("64M", &v, &rounded) == SIZE_OK);
	CHECK(v == 64ULL << 20 && rounded == 0);
	CHECK(parse_memsize("1.5M", &v, &rounded) == SIZE_OK);
	CHECK(v == 1ULL << 20 && rounded == 1);
	CHECK(parse_memsize("1048576", &v, &rounded) == SIZE_OK);
	CHECK(v == 1ULL << 20 && rounded == 0);
	CHECK(parse_memsize("1048575", &v, &rounded) == SIZE_SMALL);
	CHECK(parse_memsize("512K", &v, &rounded) == SIZE_SMALL);
	CHECK(parse_memsize("128G", &v, &rounded) == SIZE_OK);
	CHECK(parse_memsize("129G", &v, &rounded) == SIZE_LARGE);
	CHECK(parse_memsize("lots", &v, &rounded) == SIZE_INVALID);
}

static void
test_vmid(void)
{
	char		 name[VM_NAME_MAX], longname[VM_NAME_MAX + 1];
	const char	*errstr = NULL;
	uint32_t	 id = 7;

	CHECK(parse_vmid("12", &id, name, &errstr) == 0);
	CHECK(id == 12 && name[0] == '\0');
	CHECK(parse_vmid("4294967295", &id, name, &errstr) == 0);
	CHECK(id == UINT32_MAX);
	CHECK(parse_vmid("vm1", &id, name, &errstr) == 0);
	CHECK(id == 0 && strcmp(name, "vm1") == 0);
	CHECK(parse_vmid("1a", &id, name, &errstr) == 0);
	CHECK(id == 0 && strcmp(name, "1a") == 0);
	CHECK(parse_vmid("0", &id, name, &errstr) == -1);
	CHECK(parse_vmid("4294967296", &id, name, &errstr) == -1);
	CHECK(parse_vmid("42949672960", &id, name, &errstr) == -1);
	CHECK(parse_vmid("-a", &id, name, &errstr) == -1);
	CHECK(parse_vmid("", &id, name, &errstr) == -1);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(parse_vmid(longname, &id, name, &errstr) == -1);
	CHECK(errstr != NULL && strcmp(errstr, "name too long") == 0);
	longname[VM_NAME_MAX - 1] = '\0';	/* 63 chars: fits */
	CHECK(parse_vmid(longname, &id, name, &errstr) == 0);
}

static void
test_name_valid(void)
{
	char		 longname[VM_NAME_MAX + 1];

	CHECK(vm_name_valid("vm1"));
	CHECK(vm_name_valid("web-01.example_a"));
	CHECK(!vm_name_valid(""));
	CHECK(!vm_name_valid("-vm"));
	CHECK(!vm_name_valid(".vm"));
	CHECK(!vm_name_valid("_vm"));
	CHECK(!vm_name_valid("vm 1"));
	CHECK(!vm_name_valid("vm/1"));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(!vm_name_valid(longname));
}

static struct vmop_info_result
sample_vm(void)
{
	struct vmop_info_result	 vir;

	memset(&vir, 0, sizeof(vir));
	vir.vir_id = 1;
	vir.vir_pid = 85075;
	vir.vir_ncpus = 1;
	vir.vir_state = VM_STATE_RUNNING;
	vir.vir_memsize = 1ULL << 30;
	vir.vir_used = 1006ULL << 20;
	(void)strcpy(vir.vir_name, "vm1");
	(void)strcpy(vir.vir_ttyname, "/dev/ttyp8");
	return (vir);
}

static void
test_status_header(void)
{
	char		 buf[256];

	(void)status_header(buf, sizeof(buf));
	CHECK(strcmp(buf, "   ID   PID VCPUS  MAXMEM  CURMEM     TTY"
	    "        OWNER    STATE NAME\n") == 0);
}

static void
test_status_row_running(void)
{
	struct vmop_info_result	 vir = sample_vm();
	char			 buf[256];

	(void)status_row(buf, sizeof(buf), &vir, "root");
	CHECK(strcmp(buf, "    1 85075     1    1.0G   1006M   ttyp8"
	    "         root  running vm1\n") == 0);

	(void)strcpy(vir.vir_ttyname, "/dev/pts/3");
	vir.vir_state = VM_STATE_SHUTDOWN;
	(void)status_row(buf, sizeof(buf), &vir, "root");
	CHECK(strcmp(buf, "    1 85075     1    1.0G   1006M   pts/3"
	    "         root stopping vm1\n") == 0);

	vir.vir_ttyname[0] = '\0';
	vir.vir_state = VM_STATE_STARTING;
	(void)status_row(buf, sizeof(buf), &vir, "root");
	CHECK(strcmp(buf, "    1 85075     1    1.0G   1006M       -"
	    "         root starting vm1\n") == 0);
}

static void
test_status_row_stopped(void)
{
	struct vmop_info_result	 vir = sample_vm();
	char			 buf[256];

	vir.vir_id = 12;
	vir.vir_pid = -1;
	vir.vir_used = 0;
	vir.vir_memsize = 64ULL << 20;
	vir.vir_state = VM_STATE_STOPPED;
	vir.vir_ttyname[0] = '\0';
	(void)strcpy(vir.vir_name, "test");
	(void)status_row(buf, sizeof(buf), &vir, "alice");
	CHECK(strcmp(buf, "   12     -     1   64.0M       -       -"
	    "        alice  stopped test\n") == 0);
	CHECK(!vm_running(&vir));
	vir.vir_state = 42;
	CHECK(strcmp(vm_state_name(vir.vir_state), "unknown") == 0);
}

static int
owner_is(uint32_t uid, uint32_t gid, const char *want)
{
	char		 buf[VMCTL_OWNER_MAX];

	memset(buf, 'x', sizeof(buf));
	owner_name(uid, gid, buf, sizeof(buf));
	return (strcmp(buf, want) == 0);
}

static void
test_owner_and_tty(void)
{
	CHECK(owner_is(0, UINT32_MAX, "root"));
	/* A group: "user:group", by name or by number. */
	CHECK(owner_is(0, 0, "root:root"));
	CHECK(owner_is(0, 4000000000U, "root:4000000000"));
	/* No such user: the number. */
	CHECK(owner_is(4000000000U, UINT32_MAX, "4000000000"));
	/* Cut to 15 characters, as OpenBSD's 16-byte buffer does. */
	CHECK(owner_is(4000000000U, 4000000000U, "4000000000:4000"));
	CHECK(strcmp(tty_short("/dev/pts/12"), "pts/12") == 0);
	CHECK(strcmp(tty_short("ttyp8"), "ttyp8") == 0);
	CHECK(strcmp(tty_short("/dev/"), "/dev/") == 0);
	CHECK(strcmp(tty_short(""), "-") == 0);
}

static void
test_status_states(void)
{
	struct vmop_info_result	 vir = sample_vm();
	char			 buf[256];

	CHECK(strcmp(vm_state_name(VM_STATE_STOPPED), "stopped") == 0);
	CHECK(strcmp(vm_state_name(VM_STATE_RUNNING), "running") == 0);
	CHECK(strcmp(vm_state_name(VM_STATE_STARTING), "starting") == 0);
	CHECK(strcmp(vm_state_name(VM_STATE_SHUTDOWN), "stopping") == 0);
	CHECK(strcmp(vm_state_name(VM_STATE_PAUSED), "paused") == 0);
	CHECK(strcmp(vm_state_name(VM_STATE_WAITING), "waiting") == 0);
	CHECK(strcmp(vm_state_name(VM_STATE_WAITING + 1), "unknown") == 0);

	/* A paused VM keeps its process: it is shown as running would be. */
	vir.vir_state = VM_STATE_PAUSED;
	(void)strcpy(vir.vir_ttyname, "/dev/pts/3");
	(void)status_row(buf, sizeof(buf), &vir, "root:wheel");
	CHECK(strcmp(buf, "    1 85075     1    1.0G   1006M   pts/3"
	    "   root:wheel   paused vm1\n") == 0);
	CHECK(vm_running(&vir));

	/* A VM waiting for its staggered start has no process yet. */
	vir.vir_state = VM_STATE_WAITING;
	vir.vir_pid = -1;
	(void)status_row(buf, sizeof(buf), &vir, "root");
	CHECK(strcmp(buf, "    1     -     1    1.0G       -       -"
	    "         root  waiting vm1\n") == 0);
	CHECK(!vm_running(&vir));
}

static int
level_is(const char *word, int32_t want)
{
	int32_t		 level = -7;

	return (parse_loglevel(word, &level) == 0 && level == want);
}

static void
test_parse_loglevel(void)
{
	int32_t		 level = -7;

	CHECK(level_is("brief", VMCTL_LOG_BRIEF));
	CHECK(level_is("b", VMCTL_LOG_BRIEF));
	CHECK(level_is("BRIEF", VMCTL_LOG_BRIEF));
	CHECK(level_is("verbose", VMCTL_LOG_VERBOSE));
	CHECK(level_is("v", VMCTL_LOG_VERBOSE));
	CHECK(level_is("VeRb", VMCTL_LOG_VERBOSE));
	CHECK(VMCTL_LOG_BRIEF == 0 && VMCTL_LOG_VERBOSE == 2);
	CHECK(parse_loglevel("", &level) == -1);
	CHECK(parse_loglevel("briefly", &level) == -1);
	CHECK(parse_loglevel("verbosee", &level) == -1);
	CHECK(parse_loglevel("debug", &level) == -1);
	CHECK(parse_loglevel("-v", &level) == -1);
	CHECK(level == -7);
}

static int
reset_is(const char *word, uint32_t want)
{
	uint32_t	 what = 99;

	return (parse_reset(word, &what) == 0 && what == want);
}

static void
test_parse_reset(void)
{
	uint32_t	 what = 99;

	CHECK(reset_is("all", VMOP_RESET_ALL));
	CHECK(reset_is("ALL", VMOP_RESET_ALL));
	CHECK(reset_is("switches", VMOP_RESET_SWITCHES));
	CHECK(reset_is("Switches", VMOP_RESET_SWITCHES));
	CHECK(reset_is("vms", VMOP_RESET_VMS));
	/* Whole words only, unlike log. */
	CHECK(parse_reset("", &what) == -1);
	CHECK(parse_reset("al", &what) == -1);
	CHECK(parse_reset("vm", &what) == -1);
	CHECK(parse_reset("switch", &what) == -1);
	CHECK(parse_reset("allx", &what) == -1);
	CHECK(what == 99);
}

static void
test_start_flags(void)
{
	const char	*kept = "BbcdIiLkmnrt";
	const char	*s;

	for (s = kept; *s != '\0'; s++)
		CHECK(start_flag_missing(*s) == NULL);
	CHECK(start_flag_missing('r') == NULL);
	CHECK(start_flag_missing('?') == NULL);
}

static void
test_match_and_sort(void)
{
	struct vmop_info_result	 v[3];

	v[0] = sample_vm();
	v[1] = sample_vm();
	v[2] = sample_vm();
	v[0].vir_id = 9;
	v[1].vir_id = 2;
	v[2].vir_id = 5;
	(void)strcpy(v[2].vir_name, "five");
	qsort(v, 3, sizeof(v[0]), vm_cmp_id);
	CHECK(v[0].vir_id == 2 && v[1].vir_id == 5 && v[2].vir_id == 9);
	CHECK(vm_matches(&v[0], 0, ""));
	CHECK(vm_matches(&v[0], 2, ""));
	CHECK(!vm_matches(&v[0], 5, ""));
	CHECK(vm_matches(&v[1], 0, "five"));
	CHECK(!vm_matches(&v[0], 0, "five"));
}

/* Feed s in pieces of step bytes; return what reaches the VM. */
static int
esc_run(const char *s, size_t step, char *sent, size_t *nsent)
{
	struct console_esc	 esc;
	char			 out[64];
	size_t			 i, k, n = strlen(s);
	int			 quit = 0;

	console_esc_init(&esc);
	*nsent = 0;
	for (i = 0; i < n && !quit; i += step) {
		k = n - i < step ? n - i : step;
		k = console_esc_filter(&esc, s + i, k, out, &quit);
		memcpy(sent + *nsent, out, k);
		*nsent += k;
	}
	sent[*nsent] = '\0';
	return (quit);
}

static void
test_console_escape(void)
{
	char		 sent[128];
	size_t		 n, step;

	for (step = 1; step <= 8; step++) {
		CHECK(esc_run("~.", step, sent, &n) == 1 && n == 0);
		CHECK(esc_run("ls\r~.echo", step, sent, &n) == 1);
		CHECK(strcmp(sent, "ls\r") == 0);
		CHECK(esc_run("ls\n~.", step, sent, &n) == 1);
		CHECK(strcmp(sent, "ls\n") == 0);
		/* Not at the start of a line: plain data. */
		CHECK(esc_run("a~.b", step, sent, &n) == 0);
		CHECK(strcmp(sent, "a~.b") == 0);
		/* A held '~' followed by something else goes through. */
		CHECK(esc_run("~x\r~~\r", step, sent, &n) == 0);
		CHECK(strcmp(sent, "~x\r~~\r") == 0);
	}
}

int
main(void)
{
	RUN(test_scan_size);
	RUN(test_fmt_size);
	RUN(test_parse_memsize);
	RUN(test_vmid);
	RUN(test_name_valid);
	RUN(test_status_header);
	RUN(test_status_row_running);
	RUN(test_status_row_stopped);
	RUN(test_owner_and_tty);
	RUN(test_status_states);
	RUN(test_parse_loglevel);
	RUN(test_parse_reset);
	RUN(test_start_flags);
	RUN(test_match_and_sort);
	RUN(test_console_escape);
	TEST_EXIT();
}
