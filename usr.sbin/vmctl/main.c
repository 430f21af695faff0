/*
 * main.c: vmctl(8)'s command line: the global options, the one table of
 * commands (any unique prefix selects one, as on OpenBSD), each
 * command's options and arguments, and the usage messages.  It only
 * fills a struct parse_result; talking to vmd is vmctl.c's job.  It must
 * never pass on a command or option that vmd cannot carry out yet: those
 * are refused here, saying so, before anything is sent.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "vmd.h"
#include "vmctl.h"

static void	 usage(void) __attribute__((noreturn));
static int	 ctl_create(struct parse_result *, int, char *[]);
static int	 ctl_load(struct parse_result *, int, char *[]);
static int	 ctl_log(struct parse_result *, int, char *[]);
static int	 ctl_noargs(struct parse_result *, int, char *[]);
static int	 ctl_one_vm(struct parse_result *, int, char *[]);
static int	 ctl_reset(struct parse_result *, int, char *[]);
static int	 ctl_start(struct parse_result *, int, char *[]);
static int	 ctl_status(struct parse_result *, int, char *[]);
static int	 ctl_stop(struct parse_result *, int, char *[]);

/* OpenBSD's commands, in its order, with its usage lines (plus -I, -k, -p). */
static const struct ctl_command ctl_commands[] = {
	{ "console",	CMD_CONSOLE,	ctl_one_vm,	"id" },
	{ "create",	CMD_CREATE,	ctl_create,
	    "[-b base | -i disk] [-s size] disk" },
	{ "load",	CMD_LOAD,	ctl_load,	"filename" },
	{ "log",	CMD_LOG,	ctl_log,	"[brief | verbose]" },
	{ "pause",	CMD_PAUSE,	ctl_one_vm,	"id" },
	{ "reload",	CMD_RELOAD,	ctl_noargs,	"" },
	{ "reset",	CMD_RESET,	ctl_reset,	"[all | switches | vms]" },
	{ "show",	CMD_STATUS,	ctl_status,	"[-r] [id]" },
	{ "start",	CMD_START,	ctl_start,
	    "[-cL] [-B device] [-b path] [-d disk] [-i count]\n"
	    "\t\t[-I path] [-k cmdline] [-m size] [-n switch] [-p count]"
	    "\n\t\t[-r path] [-t name] id | name" },
	{ "status",	CMD_STATUS,	ctl_status,	"[-r] [id]" },
	{ "stop",	CMD_STOP,	ctl_stop,	"[-fw] [id | -a]" },
	{ "unpause",	CMD_UNPAUSE,	ctl_one_vm,	"id" },
	{ "wait",	CMD_WAITFOR,	ctl_one_vm,	"id" },
	{ NULL }
};

static void
usage(void)
{
	fprintf(stderr, "usage:\t%s [-v] [-s socket] command [arg ...]\n",
	    program_invocation_short_name);
	exit(1);
}

void
ctl_usage(const struct ctl_command *ctl)
{
	/* No trailing blank after a command without arguments. */
	fprintf(stderr, "usage:\t%s [-v] %s%s%s\n",
	    program_invocation_short_name, ctl->name,
	    ctl->usage[0] != '\0' ? " " : "", ctl->usage);
	exit(1);
}

/*
 * An exact name wins; otherwise the word must be the prefix of exactly
 * one command.  No command is the prefix of another, so this is
 * OpenBSD's rule.
 */
static const struct ctl_command *
lookup_command(const char *word)
{
	const struct ctl_command *ctl, *found = NULL;
	size_t		 len = strlen(word);

	for (ctl = ctl_commands; ctl->name != NULL; ctl++) {
		if (strcmp(ctl->name, word) == 0)
			return (ctl);
		/* "" is a prefix of every command: ambiguous */
		if (strncmp(ctl->name, word, len) != 0)
			continue;
		if (found != NULL) {
			fprintf(stderr, "ambiguous argument: %s\n", word);
			usage();
		}
		found = ctl;
	}
	if (found == NULL) {
		fprintf(stderr, "unknown argument: %s\n", word);
		usage();
	}
	return (found);
}

/*
 * The one "id | name" operand of a command.  As OpenBSD's vmctl: a name
 * too long is said first, then every refusal is "invalid id".
 */
static void
operand_vmid(struct parse_result *res, const char *word)
{
	const char	*errstr;

	if (parse_vmid(word, &res->id, res->name, &errstr) == -1) {
		if (strcmp(errstr, "invalid id") != 0)
			warnx("%s", errstr);
		errx(1, "invalid id: %s", word);
	}
}

/*
 * getopt(3) for a command: its complaints name vmctl, not the command
 * (GNU getopt would print argv[0]), and end with the command's usage.
 * opts start with '+': options end at the first operand, as on OpenBSD
 * ("start vm1 -c" is a usage error, not a reordered "start -c vm1").
 */
static int
ctl_getopt(struct parse_result *res, int argc, char *argv[],
    const char *opts)
{
	int		 ch;

	opterr = 0;
	if ((ch = getopt(argc, argv, opts)) != '?')
		return (ch);
	if (optopt != 0 && strchr(opts + 1, optopt) != NULL)
		warnx("option requires an argument -- %c", optopt);
	else if (optopt != 0)
		warnx("unknown option -- %c", optopt);
	else
		warnx("unknown option -- %s", argv[optind - 1]);
	ctl_usage(res->ctl);
}

/* start -m: OpenBSD's checks and messages. */
static void
opt_memsize(struct parse_result *res, const char *word)
{
	char		 size[FMT_SCALED_STRSIZE];
	int		 rounded;

	if (res->memsize != 0)
		errx(1, "memory specified multiple times");
	switch (parse_memsize(word, &res->memsize, &rounded)) {
	case SIZE_OK:
		break;
	case SIZE_INVALID:
		err(1, "invalid memory size: %s", word);
	case SIZE_SMALL:
		errx(1, "memory size must be at least 1MB");
	case SIZE_LARGE:
		fmt_size(VM_MAX_MEMORY, size);
		errx(1, "memory size too large (limit is %s)", size);
	}
	if (rounded) {
		fmt_size(res->memsize, size);
		warnx("memory size rounded to %s", size);
	}
}

/* start -p: the vCPU count, in vm.conf's "vcpu" limits. */
static void
opt_ncpus(struct parse_result *res, const char *word)
{
	char	*end;
	long	 n;

	if (res->ncpus != 0)
		errx(1, "vcpu count specified multiple times");
	errno = 0;
	n = strtol(word, &end, 10);
	if (word[0] < '0' || word[0] > '9' || *end != '\0' || errno != 0 ||
	    n < 1 || n > VM_MAX_VCPUS)
		errx(1, "invalid vcpu count: %s (1 to %d)", word,
		    VM_MAX_VCPUS);
	res->ncpus = (uint32_t)n;
}

/*
 * start -b and -I: the kernel and initrd must be files vmctl's user can
 * open, as on OpenBSD where vmctl opens the kernel (vmd opens them
 * again, with the user's rights).  Non-blocking, so that a FIFO cannot
 * hang vmctl.
 */
static void
check_file(const char *what, const char *path)
{
	struct stat	 st;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		err(1, "cannot open %s '%s'", what, path);
	if (fstat(fd, &st) == -1)
		err(1, "fstat %s", what);
	if (!S_ISREG(st.st_mode))
		errx(1, "%s must be a regular file", what);
	(void)close(fd);
}

/*
 * Each command parses its own options, argv[0] being its name; optind =
 * 0 makes GNU getopt start over for this second pass.
 */
/*
 * start -d: as OpenBSD's vmctl, the format from a "raw:" or "qcow2:"
 * prefix, else the qcow2 magic or the extension; vmd opens the path
 * made absolute, with the user's rights.
 */
static void
opt_disk(struct parse_result *res, const char *arg)
{
	char		 path[PATH_MAX];
	const char	*name = arg;
	int		 type;

	if (res->ndisks >= VM_MAX_DISKS)
		errx(1, "too many disks");
	type = disk_type(arg, &name);
	if (realpath(name, path) == NULL)
		err(1, "invalid disk path");
	if (strlen(path) >= sizeof(res->disks[0]))
		errx(1, "disk path too long");
	(void)strcpy(res->disks[res->ndisks], path);
	res->disktypes[res->ndisks] = type == DISK_FMT_QCOW2 ?
	    VMOP_DISK_QCOW2 : VMOP_DISK_RAW;
	res->ndisks++;
}

static int
ctl_start(struct parse_result *res, int argc, char *argv[])
{
	char		 path[PATH_MAX];
	const char	*missing;
	char		*end;
	long		 n = 0;
	int		 ch;

	res->nifs = -1;
	optind = 0;
	while ((ch = ctl_getopt(res, argc, argv,
	    "+b:B:cd:I:i:k:Lm:n:p:r:t:")) != -1) {
		if ((missing = start_flag_missing(ch)) != NULL)
			errx(1, "-%c: %s", ch, missing);
		switch (ch) {
		case 'b':
			if (res->kernel[0] != '\0')
				errx(1, "boot image specified multiple times");
			/* vmd opens it, from another working directory. */
			if (realpath(optarg, path) == NULL)
				err(1, "invalid boot image path");
			(void)snprintf(res->kernel, sizeof(res->kernel), "%s",
			    path);
			break;
		case 'B':
			if (res->bootdevice != VMBOOTDEV_AUTO)
				errx(1, "boot device specified multiple times");
			if (strcmp(optarg, "disk") == 0)
				res->bootdevice = VMBOOTDEV_DISK;
			else if (strcmp(optarg, "cdrom") == 0)
				res->bootdevice = VMBOOTDEV_CDROM;
			else if (strcmp(optarg, "net") == 0)
				res->bootdevice = VMBOOTDEV_NET;
			else
				errx(1, "unknown boot device %s", optarg);
			break;
		case 'c':
			res->autoconnect = 1;
			break;
		case 'd':
			opt_disk(res, optarg);
			break;
		case 'I':
			if (res->initrd[0] != '\0')
				errx(1, "initrd specified multiple times");
			if (realpath(optarg, path) == NULL)
				err(1, "invalid initrd path");
			(void)snprintf(res->initrd, sizeof(res->initrd), "%s",
			    path);
			break;
		case 'i':
			if (res->nifs != -1)
				errx(1, "interfaces specified multiple times");
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    n < 1 || n > VM_MAX_NICS)
				errx(1, "invalid count \"%s\": %s", optarg,
				    n < 1 ? "too small" : "too large");
			res->nifs = (int)n;
			break;
		case 'L':
		case 'n':
			if (res->nnets >= VM_MAX_NICS)
				errx(1, "too many network interfaces");
			if (ch == 'n' && (optarg[0] == '\0' ||
			    strlen(optarg) >= sizeof(res->nets[0])))
				errx(1, "invalid network: %s", optarg);
			(void)strcpy(res->nets[res->nnets++],
			    ch == 'n' ? optarg : "");
			break;
		case 'k':
			if (res->has_cmdline)
				errx(1, "kernel command line specified "
				    "multiple times");
			if (strlen(optarg) >= sizeof(res->cmdline))
				errx(1, "kernel command line too long");
			(void)strcpy(res->cmdline, optarg);
			res->has_cmdline = 1;
			break;
		case 'm':
			opt_memsize(res, optarg);
			break;
		case 'p':
			opt_ncpus(res, optarg);
			break;
		case 'r':
			/* vmd opens it with our rights and says what is wrong */
			if (res->cdrom[0] != '\0')
				errx(1, "iso image specified multiple times");
			if (realpath(optarg, path) == NULL)
				err(1, "invalid iso image path");
			if (strlen(path) >= sizeof(res->cdrom))
				errx(1, "iso image path too long");
			(void)strcpy(res->cdrom, path);
			break;
		case 't':
			if (strlen(optarg) >= sizeof(res->instance)) {
				warnx("instance vm name too long");
				errx(1, "invalid name: %s", optarg);
			}
			(void)strcpy(res->instance, optarg);
			break;
		default:
			ctl_usage(res->ctl);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		ctl_usage(res->ctl);
	operand_vmid(res, argv[0]);
	if (res->id == 0 && !vm_name_valid(res->name))
		errx(1, "invalid VM name");
	if (res->kernel[0] != '\0')
		check_file("kernel", res->kernel);
	if (res->initrd[0] != '\0')
		check_file("initrd", res->initrd);
	return (vmmaction(res));
}

/* create.c makes the image; vmd is not involved. */
static int
ctl_create(struct parse_result *res, int argc, char *argv[])
{
	const char	*base = NULL, *input = NULL;
	uint64_t	 size = 0;
	int		 ch;

	optind = 0;
	while ((ch = ctl_getopt(res, argc, argv, "+b:i:s:")) != -1) {
		switch (ch) {
		case 'b':
			base = optarg;
			break;
		case 'i':
			input = optarg;
			break;
		case 's':
			size = create_size_arg(optarg);
			break;
		default:
			ctl_usage(res->ctl);
		}
	}
	if (argc - optind != 1)
		ctl_usage(res->ctl);
	return (create_image(res->ctl, argv[optind], base, input, size));
}

/*
 * vmd reads the file from its own working directory: send the path made
 * absolute.  Whether the file is there and readable is for vmd to say,
 * as it does for vmd -f.
 */
static int
ctl_load(struct parse_result *res, int argc, char *argv[])
{
	char		 cwd[PATH_MAX];
	int		 n = -1;

	if (argc != 2)
		ctl_usage(res->ctl);
	if (argv[1][0] == '/')
		n = snprintf(res->path, sizeof(res->path), "%s", argv[1]);
	else if (getcwd(cwd, sizeof(cwd)) == NULL)
		err(1, "getcwd");
	else
		n = snprintf(res->path, sizeof(res->path), "%s/%s", cwd,
		    argv[1]);
	if (n < 0 || (size_t)n >= sizeof(res->path))
		errx(1, "path too long: %s", argv[1]);
	return (vmmaction(res));
}

static int
ctl_log(struct parse_result *res, int argc, char *argv[])
{
	if (argc != 2 || parse_loglevel(argv[1], &res->loglevel) == -1)
		ctl_usage(res->ctl);
	return (vmmaction(res));
}

static int
ctl_reset(struct parse_result *res, int argc, char *argv[])
{
	res->reset = VMOP_RESET_ALL;
	if (argc > 2 ||
	    (argc == 2 && parse_reset(argv[1], &res->reset) == -1))
		ctl_usage(res->ctl);
	return (vmmaction(res));
}

/* reload */
static int
ctl_noargs(struct parse_result *res, int argc, char *argv[])
{
	if (argc != 1)
		ctl_usage(res->ctl);
	return (vmmaction(res));
}

static int
ctl_status(struct parse_result *res, int argc, char *argv[])
{
	int		 ch;

	optind = 0;
	while ((ch = ctl_getopt(res, argc, argv, "+r")) != -1) {
		switch (ch) {
		case 'r':
			res->running_only = 1;
			break;
		default:
			ctl_usage(res->ctl);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		ctl_usage(res->ctl);
	if (argc == 1)
		operand_vmid(res, argv[0]);
	return (vmmaction(res));
}

static int
ctl_stop(struct parse_result *res, int argc, char *argv[])
{
	int		 ch;

	optind = 0;
	while ((ch = ctl_getopt(res, argc, argv, "+afw")) != -1) {
		switch (ch) {
		case 'a':
			res->action = CMD_STOPALL;
			break;
		case 'f':
			res->flags |= VMOP_FORCE;
			break;
		case 'w':
			res->flags |= VMOP_WAIT;
			break;
		default:
			ctl_usage(res->ctl);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != (res->action == CMD_STOPALL ? 0 : 1))
		ctl_usage(res->ctl);
	if (argc == 1)
		operand_vmid(res, argv[0]);
	return (vmmaction(res));
}

/*
 * console, pause, unpause and wait: no options, one "id | name"; a word
 * with a dash is an invalid id, as on OpenBSD.
 */
static int
ctl_one_vm(struct parse_result *res, int argc, char *argv[])
{
	if (argc != 2)
		ctl_usage(res->ctl);
	operand_vmid(res, argv[1]);
	return (vmmaction(res));
}

int
main(int argc, char *argv[])
{
	struct parse_result	 res;
	const struct ctl_command *ctl;
	int			 ch;

	memset(&res, 0, sizeof(res));
	res.socket = VMD_SOCKET;

	/* '+': stop at the command, its options are its own. */
	opterr = 0;
	while ((ch = getopt(argc, argv, "+s:v")) != -1) {
		switch (ch) {
		case 's':
			res.socket = optarg;
			break;
		case 'v':
			res.verbose = 1;
			break;
		default:
			if (optopt == 's')
				warnx("option requires an argument -- s");
			else if (optopt != 0)
				warnx("unknown option -- %c", optopt);
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();

	ctl = lookup_command(argv[0]);
	res.ctl = ctl;
	res.action = ctl->action;
	return (ctl->main(&res, argc, argv));
}
