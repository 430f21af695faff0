/*
 * config.h: vm.conf(5) as the parser hands it to the parent: global
 * settings, switches and VM definitions, all flat data.  parse.y fills
 * it, config.c holds the rules it shares with vmctl requests, vmd.c
 * consumes it.  Nothing in here is sent over a socket as is; it never
 * holds descriptors.
 */

#ifndef CONFIG_H
#define CONFIG_H

#include <sys/types.h>
#include <sys/queue.h>

#include <net/if.h>
#include <netinet/in.h>

#include "vmd.h"

#define VM_MAX_GROUPNAME	16

enum vm_disk_format {
	VMDF_RAW,
	VMDF_QCOW2
};

enum vm_bootdev {
	VMBOOT_AUTO,		/* kernel if any, else disk */
	VMBOOT_CDROM,
	VMBOOT_DISK,
	VMBOOT_NET
};

struct vmd_conf_disk {
	char			path[PATH_MAX];
	enum vm_disk_format	format;
};

/* One "interface" of a vm block (or one of "interfaces N"). */
struct vmd_conf_nic {
	char		ifname[IF_NAMESIZE];	/* "tapN", or "" for any */
	char		sw[VM_NAME_MAX];	/* switch name, or "" */
	char		group[VM_MAX_GROUPNAME];
	uint8_t		lladdr[6];		/* random fe:e1:bb:dN:xx:xx */
	int		lladdr_set;		/* given in vm.conf */
	int		locked;			/* locked lladdr */
	int		rdomain;		/* -1: not set */
	int		updown;			/* -1 not set, 0 down, 1 up */
	int		local;			/* local interface */
};

struct vmd_conf_owner {
	int		set;
	uid_t		uid;		/* (uid_t)-1: any user of gid */
	gid_t		gid;		/* (gid_t)-1: no group */
};

/*
 * A user as permission rules see it: uid, primary group and the other
 * groups it is a member of (config_cred looks them up).  known is 0 for
 * a uid without a passwd entry, which is then in no group.
 */
#define PERM_MAX_GROUPS		1024

struct perm_cred {
	uid_t		uid;
	gid_t		gid;
	int		known;
	int		ngroups;
	gid_t		groups[PERM_MAX_GROUPS];
};

/*
 * One vm "name" [instance "name"] { ... } block.  allow_flags are the
 * VMOP_CREATE_* settings "allow instance { ... }" lets an instance of
 * this VM change, allow_owner who may create instances.
 */
struct vmd_conf_vm {
	TAILQ_ENTRY(vmd_conf_vm) entry;
	struct vmop_create_params params;	/* name, kernel, cmdline, memory */
	char			instance_of[VM_NAME_MAX];	/* or "" */
	int			disabled;
	struct vmd_conf_owner	owner;
	char			cdrom[PATH_MAX];	/* or "" */
	struct vmd_conf_disk	disk[VM_MAX_DISKS];
	size_t			ndisks;
	struct vmd_conf_nic	nic[VM_MAX_NICS];
	size_t			nnics;
	enum vm_bootdev		bootdev;
	uint32_t		allow_flags;	/* VMOP_CREATE_* */
	struct vmd_conf_owner	allow_owner;	/* may create instances */
	int			lineno;
};
TAILQ_HEAD(vmd_conf_vms, vmd_conf_vm);

/* One switch "name" { ... } block; the interface is a Linux bridge. */
struct vmd_conf_switch {
	TAILQ_ENTRY(vmd_conf_switch) entry;
	char			name[VM_NAME_MAX];
	char			ifname[IF_NAMESIZE];
	char			group[VM_MAX_GROUPNAME];
	int			locked;		/* locked lladdr */
	int			rdomain;	/* -1: not set */
	int			disabled;
	int			updown;		/* -1 not set, 0 down, 1 up */
	int			lineno;
};
TAILQ_HEAD(vmd_conf_switches, vmd_conf_switch);

struct vmd_conf {
	struct vmd_conf_vms	 vms;
	struct vmd_conf_switches switches;
	int			 local4_set;	/* local prefix */
	struct in_addr		 local4;
	int			 local4_len;
	int			 local6_set;	/* local inet6 [prefix] */
	struct in6_addr		 local6;
	int			 local6_len;
	int			 local6_auto;	/* local inet6, no prefix */
	struct vmd_conf_owner	 sock_owner;	/* socket owner */
	int			 agentx;	/* agentx given */
	char			 agentx_context[64];
	char			 agentx_path[PATH_MAX];
	int			 stagger_parallel; /* 0: not staggered */
	int			 stagger_delay;	/* seconds */
};

#define CONF_MISSING_OK		0x01	/* no such file: empty config */
#define CONF_ERR_STDERR		0x02	/* errors as FILE:LINE: to stderr */

#define CONF_AGENTX_PATH	"/var/agentx/master"	/* agentx default */

/* What makes the tap of an interface (netconf_open_tap): fd or -1. */
typedef int	(*config_tap_fn)(const struct vmd_conf_vm *, uint32_t,
		    unsigned int, struct vmop_nic *, char *, size_t);

/* How config_setvm sends: imsg_compose's contract, fd given away. */
typedef int	(*config_send_fn)(void *, uint32_t, int, const void *, size_t);

/* config.c */
int		 vmd_valid_name(const char *);
int		 config_parse_size(const char *, uint64_t *);
int		 config_check_memsize(uint64_t, char *, size_t);
void		 config_init(struct vmd_conf *);
void		 config_free(struct vmd_conf *);
void		 config_random_lladdr(uint8_t *);
int		 config_name_check(const char *, const char *, char *, size_t);
struct vmd_conf_vm *config_find_vm(struct vmd_conf *, const char *);
void		 config_cred(uid_t, struct perm_cred *);
int		 config_openvm(const struct vmd_conf_vm *,
		    struct vmop_create_params *, const struct perm_cred *,
		    uint32_t, struct vmop_fdset *, char *, size_t);
void		 config_tap_opener(config_tap_fn);
int		 config_setvm(config_send_fn, void *,
		    const struct vmd_conf_vm *, struct vmop_create_params *,
		    const struct perm_cred *, uint32_t, char *, size_t);
int		 config_instance_check(const struct vmd_conf_vm *,
		    const struct vmd_conf_vm *, char *, size_t);
int		 config_instance_apply(const struct vmd_conf_vm *,
		    struct vmd_conf_vm *, int, char *, size_t);

/* netconf.c */
struct proc_env;
pid_t		 netconf_start(struct proc_env *, const char *);
pid_t		 netconf_pid(void);
void		 netconf_gone(void);
void		 netconf_cleanup(void);
void		 netconf_apply(const struct vmd_conf *);
int		 netconf_open_tap(const struct vmd_conf_vm *, uint32_t,
		    unsigned int, struct vmop_nic *, char *, size_t);

/* perm.c */
int		 perm_in_group(const struct perm_cred *, gid_t);
int		 perm_owner_ok(const struct vmd_conf_owner *,
		    const struct perm_cred *);
int		 perm_start(const struct perm_cred *,
		    const struct vmd_conf_owner *, uint32_t);
int		 perm_instance(const struct vmd_conf_owner *,
		    const struct perm_cred *);
void		 perm_instance_owner(const struct vmd_conf_owner *,
		    const struct perm_cred *, struct vmd_conf_owner *);
uid_t		 perm_open_uid(const struct perm_cred *, uint32_t, uint32_t);
void		 perm_console(const struct vmd_conf_owner *, gid_t, uid_t *,
		    gid_t *, mode_t *);
int		 perm_root_only(uint32_t);

/* parse.y */
int		 parse_config(const char *, int, struct vmd_conf *);
int		 cmdline_symset(const char *);

#endif /* CONFIG_H */
