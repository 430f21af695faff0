/*
 * fmt.c: the pure parts of vmctl(8): parsing scaled sizes the way
 * OpenBSD's scan_scaled(3) does (lib/libutil/fmt.c prints them),
 * checking VM names, id, log and reset arguments, knowing which start
 * options wait for a device, formatting the rows of "vmctl status", and
 * spotting the "~." escape in console input.  Nothing here does I/O, talks to
 * vmd or exits, so regress/unit/vmctl_fmt_test.c can include this file
 * and check every function against fixed inputs.
 */

#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vmd.h"
#include "vmctl.h"

static const char scale_units[] = "BKMGTPE";	/* powers of 1024 */

/* The multiplier of a unit letter, 0 if c is not one. */
static uint64_t
unit_scale(int c)
{
	uint64_t	 scale = 1;
	size_t		 i;

	for (i = 0; scale_units[i] != '\0'; i++, scale *= 1024)
		if (scale_units[i] == toupper(c))
			return (scale);
	return (0);
}

/*
 * Parse "64M", "1.5G", "512k" or a plain byte count.  Returns 0, or -1
 * with errno EINVAL (not a size) or ERANGE (does not fit 64 bits).
 */
int
scan_size(const char *s, uint64_t *out)
{
	uint64_t	 whole = 0, frac = 0, fdiv = 1, scale = 1;
	unsigned __int128 v;
	int		 ndigits = 0, overflow = 0;

	while (isspace((unsigned char)*s))
		s++;
	for (; isdigit((unsigned char)*s); s++, ndigits++) {
		if (whole > (UINT64_MAX - 9) / 10)
			overflow = 1;
		else
			whole = whole * 10 + (uint64_t)(*s - '0');
	}
	if (*s == '.') {
		/* Digits past 18 cannot change the result by a byte. */
		for (s++; isdigit((unsigned char)*s); s++, ndigits++) {
			if (fdiv < 1000000000000000000ULL) {
				frac = frac * 10 + (uint64_t)(*s - '0');
				fdiv *= 10;
			}
		}
	}
	if (ndigits == 0) {
		errno = EINVAL;
		return (-1);
	}
	if (*s != '\0') {
		if ((scale = unit_scale(*s)) == 0 || s[1] != '\0') {
			errno = EINVAL;
			return (-1);
		}
	}
	v = (unsigned __int128)whole * scale +
	    (unsigned __int128)frac * scale / fdiv;
	if (overflow || v > UINT64_MAX) {
		errno = ERANGE;
		return (-1);
	}
	*out = (uint64_t)v;
	return (0);
}

/*
 * The -m argument of "vmctl start": at least 1M, at most VM_MAX_MEMORY,
 * rounded down to whole megabytes as OpenBSD's vmctl does.
 */
enum size_check
parse_memsize(const char *word, uint64_t *out, int *rounded)
{
	uint64_t	 v;

	if (scan_size(word, &v) == -1)
		return (SIZE_INVALID);
	if (v < VM_MIN_MEMORY)
		return (SIZE_SMALL);
	if (v > VM_MAX_MEMORY)
		return (SIZE_LARGE);
	*out = v & ~(VM_MIN_MEMORY - 1);
	*rounded = (*out != v);
	return (SIZE_OK);
}

/*
 * VM names as OpenBSD's vmctl allows them: letters, digits, '.', '-'
 * and '_', not starting with one of the last three, and fitting in
 * VM_NAME_MAX with its NUL.
 */
int
vm_name_valid(const char *name)
{
	const char	*s;

	if (*name == '\0' || *name == '-' || *name == '.' || *name == '_')
		return (0);
	for (s = name; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-' &&
		    *s != '_')
			return (0);
	return (strlen(name) < VM_NAME_MAX);
}

/*
 * An "id | name" argument: all digits is an id (1 to UINT32_MAX, as vmd
 * never hands out 0), anything else a name.  Returns 0 and fills exactly
 * one of *id and name (size VM_NAME_MAX), or -1 with *errstr.
 */
int
parse_vmid(const char *word, uint32_t *id, char *name, const char **errstr)
{
	const char	*s;
	unsigned long long n = 0;

	*id = 0;
	name[0] = '\0';
	if (*word == '\0' || *word == '-') {
		*errstr = "invalid id";
		return (-1);
	}
	for (s = word; isdigit((unsigned char)*s); s++)
		if (n <= UINT32_MAX)
			n = n * 10 + (unsigned long long)(*s - '0');
	if (*s == '\0') {
		if (n == 0 || n > UINT32_MAX) {
			*errstr = "invalid id";
			return (-1);
		}
		*id = (uint32_t)n;
		return (0);
	}
	if (strlen(word) >= VM_NAME_MAX) {
		*errstr = "name too long";
		return (-1);
	}
	(void)strcpy(name, word);	/* length checked just above */
	return (0);
}

/* Whether the argument (id, or name, or neither: all) selects vir. */
int
vm_matches(const struct vmop_info_result *vir, uint32_t id,
    const char *name)
{
	if (id == 0 && name[0] == '\0')
		return (1);
	if (id != 0)
		return (vir->vir_id == id);
	return (strcmp(vir->vir_name, name) == 0);
}

/* A VM is running, for status and "stop -a", while it has a process. */
int
vm_running(const struct vmop_info_result *vir)
{
	return (vir->vir_pid > 0);
}

const char *
vm_state_name(uint32_t state)
{
	switch (state) {
	case VM_STATE_STOPPED:
		return ("stopped");
	case VM_STATE_RUNNING:
		return ("running");
	case VM_STATE_STARTING:
		return ("starting");
	case VM_STATE_SHUTDOWN:
		return ("stopping");
	case VM_STATE_PAUSED:
		return ("paused");
	case VM_STATE_WAITING:
		return ("waiting");
	default:
		return ("unknown");
	}
}

/* The TTY column: "/dev/pts/3" shows as "pts/3", none as "-". */
const char *
tty_short(const char *ttyname)
{
	if (ttyname[0] == '\0')
		return ("-");
	if (strncmp(ttyname, "/dev/", 5) == 0 && ttyname[5] != '\0')
		return (ttyname + 5);
	return (ttyname);
}

#define NAME_CACHE	64

/*
 * uid or gid to name, remembered: a status of a thousand VMs must not
 * read the password file a thousand times.
 */
static const char *
id_name(uint32_t id, int is_group)
{
	static struct {
		int		 valid;
		uint32_t	 id;
		char		 name[32];
	} cache[2][NAME_CACHE];
	struct passwd	*pw;
	struct group	*gr;
	const char	*name = NULL;
	int		 slot = id % NAME_CACHE;

	if (cache[is_group][slot].valid && cache[is_group][slot].id == id)
		return (cache[is_group][slot].name);
	if (is_group) {
		if ((gr = getgrgid((gid_t)id)) != NULL)
			name = gr->gr_name;
	} else if ((pw = getpwuid((uid_t)id)) != NULL)
		name = pw->pw_name;
	cache[is_group][slot].valid = 1;
	cache[is_group][slot].id = id;
	if (name != NULL)
		(void)snprintf(cache[is_group][slot].name,
		    sizeof(cache[is_group][slot].name), "%s", name);
	else
		(void)snprintf(cache[is_group][slot].name,
		    sizeof(cache[is_group][slot].name), "%u", id);
	return (cache[is_group][slot].name);
}

/*
 * The OWNER column: the user name, or the uid if it has none, then
 * ":group" (name or gid) when the VM has a group.  OpenBSD's vmctl
 * builds it in 16 bytes; len should be VMCTL_OWNER_MAX to cut it alike.
 */
void
owner_name(uint32_t uid, uint32_t gid, char *buf, size_t len)
{
	if (gid != UINT32_MAX)
		(void)snprintf(buf, len, "%s:%s", id_name(uid, 0),
		    id_name(gid, 1));
	else
		(void)snprintf(buf, len, "%s", id_name(uid, 0));
}

/*
 * "vmctl log": any non-empty prefix of "brief" or "verbose", in any
 * case, as OpenBSD takes it.  Returns 0 and the level, or -1.
 */
int
parse_loglevel(const char *word, int32_t *level)
{
	size_t		 len = strlen(word);

	if (len == 0)
		return (-1);
	if (strncasecmp("brief", word, len) == 0)
		*level = VMCTL_LOG_BRIEF;
	else if (strncasecmp("verbose", word, len) == 0)
		*level = VMCTL_LOG_VERBOSE;
	else
		return (-1);
	return (0);
}

/* "vmctl reset": the whole word, in any case.  Returns 0 or -1. */
int
parse_reset(const char *word, uint32_t *what)
{
	if (strcasecmp(word, "all") == 0)
		*what = VMOP_RESET_ALL;
	else if (strcasecmp(word, "switches") == 0)
		*what = VMOP_RESET_SWITCHES;
	else if (strcasecmp(word, "vms") == 0)
		*what = VMOP_RESET_VMS;
	else
		return (-1);
	return (0);
}

/*
 * The start options whose device vmd does not have yet: what is
 * missing, for the refusal, or NULL when option ch is available.
 */
const char *
start_flag_missing(int ch)
{
	switch (ch) {
	default:
		return (NULL);
	}
}

int
status_header(char *buf, size_t len)
{
	return (snprintf(buf, len, "%5s %5s %5s %7s %7s %7s %12s %8s %s\n",
	    "ID", "PID", "VCPUS", "MAXMEM", "CURMEM", "TTY", "OWNER", "STATE",
	    "NAME"));
}

/*
 * One row of "vmctl status", with OpenBSD's columns and widths.  The
 * strings of vir must be NUL-terminated (vmctl.c makes sure).
 */
int
status_row(char *buf, size_t len, const struct vmop_info_result *vir,
    const char *owner)
{
	char		 maxmem[FMT_SCALED_STRSIZE], curmem[FMT_SCALED_STRSIZE];
	char		 pid[16];
	const char	*tty = "-";

	fmt_size(vir->vir_memsize, maxmem);
	(void)snprintf(curmem, sizeof(curmem), "-");
	(void)snprintf(pid, sizeof(pid), "-");
	if (vm_running(vir)) {
		(void)snprintf(pid, sizeof(pid), "%d", vir->vir_pid);
		fmt_size(vir->vir_used, curmem);
		tty = tty_short(vir->vir_ttyname);
	}
	return (snprintf(buf, len, "%5u %5s %5u %7s %7s %7s %12s %8s %s\n",
	    vir->vir_id, pid, vir->vir_ncpus, maxmem, curmem, tty, owner,
	    vm_state_name(vir->vir_state), vir->vir_name));
}

/* For qsort(3): status lists are shown by id. */
int
vm_cmp_id(const void *a, const void *b)
{
	const struct vmop_info_result *va = a, *vb = b;

	return ((va->vir_id > vb->vir_id) - (va->vir_id < vb->vir_id));
}

void
console_esc_init(struct console_esc *esc)
{
	esc->bol = 1;
	esc->tilde = 0;
}

/*
 * Copy console input from in to out (room for n + 1 bytes), holding back
 * a '~' typed at the start of a line until the next byte shows whether
 * it is the "~." escape.  Returns the bytes to send to the VM and sets
 * *quit when the escape was seen; nothing after it is copied.
 */
size_t
console_esc_filter(struct console_esc *esc, const char *in, size_t n,
    char *out, int *quit)
{
	size_t		 i, o = 0;
	char		 c;

	*quit = 0;
	for (i = 0; i < n; i++) {
		c = in[i];
		if (esc->tilde) {
			esc->tilde = 0;
			if (c == '.') {
				*quit = 1;
				break;
			}
			out[o++] = '~';
		} else if (esc->bol && c == '~') {
			esc->tilde = 1;
			esc->bol = 0;
			continue;
		}
		out[o++] = c;
		esc->bol = (c == '\r' || c == '\n');
	}
	return (o);
}
