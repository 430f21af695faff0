/*
 * vmctl.h: what the files of vmctl(8) share: the parsed command line,
 * the command table entry, and the prototypes of main.c, vmctl.c,
 * create.c and fmt.c.  vmctl is a client only: it never holds VM state
 * beyond one reply from vmd, and nothing here may be used by vmd
 * itself.
 */

#ifndef VMCTL_H
#define VMCTL_H

#include <sys/types.h>
#include <limits.h>
#include <stdint.h>

#include "util.h"
#include "vmd.h"

#define VMCTL_CONSOLE_SPEED	115200
#define VMCTL_CU		"cu"
#define VMCTL_OWNER_MAX		16	/* OWNER column, as OpenBSD's user[16] */
#define VMCTL_LOG_BRIEF		0	/* log brief: vmd's level without -v */
#define VMCTL_LOG_VERBOSE	2	/* log verbose: as vmd -v */

enum actions {
	CMD_NONE,
	CMD_CONSOLE,
	CMD_CREATE,
	CMD_LOAD,
	CMD_LOG,
	CMD_PAUSE,
	CMD_RELOAD,
	CMD_RESET,
	CMD_START,
	CMD_STATUS,
	CMD_STOP,
	CMD_STOPALL,
	CMD_UNPAUSE,
	CMD_WAITFOR
};

struct parse_result;

struct ctl_command {
	const char	*name;
	enum actions	 action;
	int		(*main)(struct parse_result *, int, char *[]);
	const char	*usage;
};

/* Everything one command line asks for; vmctl.c turns it into imsgs. */
struct parse_result {
	enum actions	 action;
	const struct ctl_command *ctl;
	const char	*socket;	/* vmd's control socket */
	int		 verbose;
	uint32_t	 id;		/* 0: by name */
	char		 name[VM_NAME_MAX];
	char		 kernel[PATH_MAX];	/* "": not given */
	char		 initrd[PATH_MAX];	/* "": not given */
	char		 cdrom[VMOP_DISK_PATH_MAX];	/* -r, "": not given */
	uint32_t	 bootdevice;	/* start -B: VMBOOTDEV_*, 0 not given */
	char		 disks[VM_MAX_DISKS][VMOP_DISK_PATH_MAX];	/* -d */
	uint32_t	 disktypes[VM_MAX_DISKS];	/* VMOP_DISK_* */
	uint32_t	 ndisks;
	char		 path[PATH_MAX];	/* load: absolute path */
	char		 instance[VM_NAME_MAX];	/* start -t, "": not given */
	char		 cmdline[VM_CMDLINE_MAX];
	int		 has_cmdline;
	uint64_t	 memsize;	/* bytes, 0: not given */
	uint32_t	 ncpus;		/* start -p, 0: not given */
	unsigned int	 flags;		/* VMOP_FORCE, VMOP_WAIT */
	int		 autoconnect;	/* start -c */
	int		 running_only;	/* status -r */
	int32_t		 loglevel;	/* log: VMCTL_LOG_* */
	uint32_t	 reset;		/* reset: VMOP_RESET_* */
	int		 nifs;		/* start -i, -1: not given */
	unsigned int	 nnets;		/* start -n and -L, in order */
	char		 nets[VM_MAX_NICS][VM_NAME_MAX];	/* "": -L */
};

/* What parse_memsize() found wrong with a -m argument. */
enum size_check {
	SIZE_OK,
	SIZE_INVALID,	/* not a size; errno says why */
	SIZE_SMALL,	/* below VM_MIN_MEMORY */
	SIZE_LARGE	/* above VM_MAX_MEMORY */
};

/* State of the "~." scanner over console input. */
struct console_esc {
	int	 bol;	/* next byte starts a line */
	int	 tilde;	/* a '~' at the start of a line is held back */
};

/* main.c */
void		 ctl_usage(const struct ctl_command *)
		    __attribute__((noreturn));

/* create.c */
uint64_t	 create_size_arg(const char *);
int		 disk_type(const char *, const char **);
int		 create_image(const struct ctl_command *, const char *,
		    const char *, const char *, uint64_t);

/* vmctl.c */
int		 vmmaction(struct parse_result *);
void		 ctl_openconsole(const char *) __attribute__((noreturn));

/* fmt.c */
int		 scan_size(const char *, uint64_t *);
enum size_check	 parse_memsize(const char *, uint64_t *, int *);
int		 vm_name_valid(const char *);
int		 parse_vmid(const char *, uint32_t *, char *, const char **);
int		 vm_matches(const struct vmop_info_result *, uint32_t,
		    const char *);
int		 vm_running(const struct vmop_info_result *);
const char	*vm_state_name(uint32_t);
const char	*tty_short(const char *);
void		 owner_name(uint32_t, uint32_t, char *, size_t);
int		 parse_loglevel(const char *, int32_t *);
int		 parse_reset(const char *, uint32_t *);
const char	*start_flag_missing(int);
int		 status_header(char *, size_t);
int		 status_row(char *, size_t, const struct vmop_info_result *,
		    const char *);
int		 vm_cmp_id(const void *, const void *);
void		 console_esc_init(struct console_esc *);
size_t		 console_esc_filter(struct console_esc *, const char *, size_t,
		    char *, int *);

#endif /* VMCTL_H */
