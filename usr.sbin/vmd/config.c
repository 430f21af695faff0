/*
 * config.c: the rules vm.conf and vmctl requests share (valid VM names,
 * memory sizes with K/M/G/T suffixes and their limits, random link-layer
 * addresses, what an instance of a VM may change and what it inherits,
 * freeing a parsed configuration), and, as OpenBSD's config_setvm,
 * opening a VM's resources with the right credentials and sending their
 * descriptors to vmm.  The grammar itself is in parse.y.  Everything
 * here takes text from outside: it must bound every length and reject
 * overflow, never trust a terminator it has not seen, and never exit
 * the process, but when it cannot return to root's credentials after
 * acting as a user.
 */

#include <sys/types.h>
#include <sys/fsuid.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "config.h"
#include "disk.h"

#define ERR(...)	((void)snprintf(err, errlen, __VA_ARGS__), -1)

/*
 * 1 to VM_NAME_MAX - 1 characters of letters, digits, '.', '-' and '_',
 * starting with a letter or digit: safe in a process title, a log line
 * and a file name.
 */
int
vmd_valid_name(const char *name)
{
	size_t	 i, len;

	len = strnlen(name, VM_NAME_MAX);
	if (len == 0 || len >= VM_NAME_MAX)
		return (0);
	if (!isalnum((unsigned char)name[0]))
		return (0);
	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)name[i]) && name[i] != '.' &&
		    name[i] != '-' && name[i] != '_')
			return (0);
	}
	return (1);
}

/*
 * "512M", "1G", "1048576" (bytes), suffixes K, M, G, T in either case,
 * optionally followed by B.  Returns 0 and the size in bytes, or -1.
 */
int
config_parse_size(const char *s, uint64_t *bytes)
{
	uint64_t	 val = 0, mult = 1;
	const char	*p = s;
	int		 shift = 0;

	if (!isdigit((unsigned char)*p))
		return (-1);
	for (; isdigit((unsigned char)*p); p++) {
		if (val > (UINT64_MAX - 9) / 10)
			return (-1);
		val = val * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case '\0':
		break;
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	case 't': case 'T':
		shift = 40;
		break;
	default:
		return (-1);
	}
	if (shift != 0) {
		p++;
		if (*p == 'b' || *p == 'B')
			p++;
	}
	if (*p != '\0')
		return (-1);
	mult <<= shift;
	if (val > UINT64_MAX / mult)
		return (-1);
	*bytes = val * mult;
	return (0);
}

/*
 * Why a VM (what = "vm") or switch name is not acceptable, in words for
 * FILE:LINE messages; 0 if it is.
 */
int
config_name_check(const char *what, const char *name, char *err,
    size_t errlen)
{
	size_t	 len;

	len = strnlen(name, VM_NAME_MAX);
	if (len >= VM_NAME_MAX)
		return (ERR("%s name too long", what));
	if (len == 0)
		return (ERR("%s name is empty", what));
	if (vmd_valid_name(name))
		return (0);
	if (!isalnum((unsigned char)name[0]))
		return (ERR("invalid %s name \"%s\": must start with a "
		    "letter or digit", what, name));
	return (ERR("invalid %s name \"%s\": only letters, digits, '.', "
	    "'-' and '_' are allowed", what, name));
}

/* The limits of guest memory, with OpenBSD's words where it has them. */
int
config_check_memsize(uint64_t bytes, char *reason, size_t len)
{
	if (bytes < VM_MIN_MEMORY) {
		(void)snprintf(reason, len, "memory size must be at least 1MB");
		return (-1);
	}
	if (bytes > VM_MAX_MEMORY) {
		(void)snprintf(reason, len, "memory size too large (limit is "
		    "%lluG)", (unsigned long long)(VM_MAX_MEMORY >> 30));
		return (-1);
	}
	return (0);
}

/*
 * fe:e1:bb:dN:xx:xx, as vmd hands out: locally administered, unicast,
 * and recognisable as a VM's in a neighbour table.
 */
void
config_random_lladdr(uint8_t *ea)
{
	uint8_t	 rnd[3];

	arc4random_buf(rnd, sizeof(rnd));
	ea[0] = 0xfe;
	ea[1] = 0xe1;
	ea[2] = 0xbb;
	ea[3] = 0xd0 | (rnd[0] & 0x0f);
	ea[4] = rnd[1];
	ea[5] = rnd[2];
}

/*
 * Look a user up for the permission rules: primary group and the other
 * groups it is in.  Root is not looked up (it may do anything); a uid
 * without a passwd entry comes back unknown, in no group.
 */
void
config_cred(uid_t uid, struct perm_cred *cred)
{
	struct passwd	*pw;
	int		 n = PERM_MAX_GROUPS;

	memset(cred, 0, sizeof(*cred));
	cred->uid = uid;
	cred->gid = (gid_t)-1;
	if (uid == 0 || (pw = getpwuid(uid)) == NULL)
		return;
	cred->known = 1;
	cred->gid = pw->pw_gid;
	/* On -1, n is how many there are; the first ones are filled. */
	if (getgrouplist(pw->pw_name, pw->pw_gid, cred->groups, &n) == -1 ||
	    n > PERM_MAX_GROUPS)
		n = PERM_MAX_GROUPS;
	cred->ngroups = n < 0 ? 0 : n;
}

/* Linear: for the daemon's few look-ups; the parser keeps a hash. */
struct vmd_conf_vm *
config_find_vm(struct vmd_conf *conf, const char *name)
{
	struct vmd_conf_vm	*cv;

	TAILQ_FOREACH(cv, &conf->vms, entry)
		if (strcmp(cv->params.vmc_name, name) == 0)
			return (cv);
	return (NULL);
}

/*
 * What no instance may do, whoever creates it: take the parent's disks,
 * link-layer addresses or tap interfaces, which two running VMs cannot
 * share, or grant instance rights of its own.
 */
static int
instance_exclusive(const struct vmd_conf_vm *parent,
    const struct vmd_conf_vm *child, char *err, size_t errlen)
{
	const char	*name = child->params.vmc_name;
	size_t		 i, j;

	if (child->allow_flags != 0 || child->allow_owner.set)
		return (ERR("vm \"%s\" cannot change instance permissions",
		    name));
	for (i = 0; i < child->ndisks; i++)
		for (j = 0; j < parent->ndisks; j++)
			if (strcmp(child->disk[i].path,
			    parent->disk[j].path) == 0)
				return (ERR("vm \"%s\" disk %s cannot be "
				    "reused", name, child->disk[i].path));
	for (i = 0; i < child->nnics; i++) {
		for (j = 0; j < parent->nnics; j++) {
			if (child->nic[i].lladdr_set &&
			    memcmp(child->nic[i].lladdr, parent->nic[j].lladdr,
			    sizeof(child->nic[i].lladdr)) == 0)
				return (ERR("vm \"%s\" lladdr cannot be "
				    "reused", name));
			if (child->nic[i].ifname[0] != '\0' &&
			    strcmp(child->nic[i].ifname,
			    parent->nic[j].ifname) == 0)
				return (ERR("vm \"%s\" interface %s cannot be "
				    "reused", name, child->nic[i].ifname));
		}
	}
	return (0);
}

static int
instance_may(const struct vmd_conf_vm *parent, uint32_t flag)
{
	return ((parent->allow_flags & flag) != 0);
}

/*
 * May a user who is not root make child from parent?  The rules of
 * OpenBSD's vm_instance for a non-root requester: every setting the
 * child changes needs its "allow instance" flag in the parent, and the
 * exclusive options stay exclusive.  Who may create instances at all
 * (allow instance { owner }) depends on the requester and is the
 * caller's to check.  Returns 0, or -1 with the reason in err.
 */
int
config_instance_check(const struct vmd_conf_vm *parent,
    const struct vmd_conf_vm *child, char *err, size_t errlen)
{
	const struct vmop_create_params	*p = &parent->params;
	const struct vmop_create_params	*c = &child->params;
	const char			*name = c->vmc_name;

	if ((c->vmc_flags & VMOP_CREATE_MEMORY) &&
	    c->vmc_memsize != p->vmc_memsize &&
	    !instance_may(parent, VMOP_CREATE_MEMORY))
		return (ERR("vm \"%s\" no permission to set memory", name));
	/* a vCPU count is a share of the host, as memory is */
	if ((c->vmc_flags & VMOP_CREATE_VCPUS) &&
	    c->vmc_ncpus != p->vmc_ncpus &&
	    !instance_may(parent, VMOP_CREATE_MEMORY))
		return (ERR("vm \"%s\" no permission to set vcpus", name));
	if (child->ndisks > 0 && !instance_may(parent, VMOP_CREATE_DISK))
		return (ERR("vm \"%s\" no permission to set disks", name));
	if (child->nnics > 0 && child->nnics != parent->nnics &&
	    !instance_may(parent, VMOP_CREATE_NETWORK))
		return (ERR("vm \"%s\" no permission to set interfaces",
		    name));
	if (c->vmc_kernel[0] != '\0' &&
	    strcmp(c->vmc_kernel, p->vmc_kernel) != 0 &&
	    !instance_may(parent, VMOP_CREATE_KERNEL))
		return (ERR("vm \"%s\" no permission to set boot image",
		    name));
	/* The initrd goes with the kernel: "allow instance boot". */
	if (c->vmc_initrd[0] != '\0' &&
	    strcmp(c->vmc_initrd, p->vmc_initrd) != 0 &&
	    !instance_may(parent, VMOP_CREATE_KERNEL))
		return (ERR("vm \"%s\" no permission to set initrd", name));
	if ((c->vmc_flags & VMOP_CREATE_CMDLINE) &&
	    strcmp(c->vmc_cmdline, p->vmc_cmdline) != 0 &&
	    !instance_may(parent, VMOP_CREATE_CMDLINE))
		return (ERR("vm \"%s\" no permission to set cmdline", name));
	if (child->cdrom[0] != '\0' && !instance_may(parent, VMOP_CREATE_CDROM))
		return (ERR("vm \"%s\" no permission to set cdrom", name));
	return (instance_exclusive(parent, child, err, errlen));
}

static void
instance_inherit_nics(const struct vmd_conf_vm *parent,
    struct vmd_conf_vm *child)
{
	struct vmd_conf_nic	*nic;
	size_t			 i;

	/* Interfaces the child does not configure come from the parent. */
	for (i = child->nnics; i < parent->nnics; i++) {
		nic = &child->nic[i];
		*nic = parent->nic[i];
		/* Exclusive: a fresh address and any free tap. */
		nic->ifname[0] = '\0';
		nic->lladdr_set = 0;
		config_random_lladdr(nic->lladdr);
	}
	if (parent->nnics > child->nnics) {
		child->nnics = parent->nnics;
		child->params.vmc_flags |= VMOP_CREATE_NETWORK;
	}
}

/*
 * Make child an instance of parent: check it (for root, as vm.conf is,
 * only the exclusive options and the owner; for anyone else
 * config_instance_check too), then fill in what the child left unset.
 * Disks are never inherited.  Returns 0, or -1 with the reason in err.
 */
int
config_instance_apply(const struct vmd_conf_vm *parent,
    struct vmd_conf_vm *child, int asroot, char *err, size_t errlen)
{
	const struct vmop_create_params	*p = &parent->params;
	struct vmop_create_params	*c = &child->params;
	const char			*name = c->vmc_name;

	if (!asroot) {
		if (config_instance_check(parent, child, err, errlen) == -1)
			return (-1);
	} else if (instance_exclusive(parent, child, err, errlen) == -1)
		return (-1);
	if (child->owner.set && child->owner.uid != (uid_t)-1 &&
	    (!parent->owner.set || child->owner.uid != parent->owner.uid))
		return (ERR("vm \"%s\" user mismatch", name));
	if (child->owner.set && child->owner.gid != (gid_t)-1 &&
	    (!parent->owner.set || child->owner.gid != parent->owner.gid))
		return (ERR("vm \"%s\" group mismatch", name));

	if (!(c->vmc_flags & VMOP_CREATE_MEMORY)) {
		c->vmc_memsize = p->vmc_memsize;
		c->vmc_flags |= p->vmc_flags & VMOP_CREATE_MEMORY;
	}
	if (c->vmc_kernel[0] == '\0') {
		memcpy(c->vmc_kernel, p->vmc_kernel, sizeof(c->vmc_kernel));
		c->vmc_flags |= p->vmc_flags & VMOP_CREATE_KERNEL;
	}
	if (c->vmc_initrd[0] == '\0') {
		memcpy(c->vmc_initrd, p->vmc_initrd, sizeof(c->vmc_initrd));
		c->vmc_flags |= p->vmc_flags & VMOP_CREATE_INITRD;
	}
	if (!(c->vmc_flags & VMOP_CREATE_CMDLINE)) {
		memcpy(c->vmc_cmdline, p->vmc_cmdline, sizeof(c->vmc_cmdline));
		c->vmc_flags |= p->vmc_flags & VMOP_CREATE_CMDLINE;
	}
	if (child->cdrom[0] == '\0') {
		memcpy(child->cdrom, parent->cdrom, sizeof(child->cdrom));
		c->vmc_flags |= p->vmc_flags & VMOP_CREATE_CDROM;
	}
	if (c->vmc_ncpus == 0)
		c->vmc_ncpus = p->vmc_ncpus;
	if (child->bootdev == VMBOOT_AUTO)
		child->bootdev = parent->bootdev;
	if (!child->owner.set)
		child->owner = parent->owner;
	instance_inherit_nics(parent, child);
	if (parent->allow_flags & VMOP_CREATE_INSTANCE) {
		child->allow_flags = parent->allow_flags;
		child->allow_owner = parent->allow_owner;
	}
	(void)snprintf(child->instance_of, sizeof(child->instance_of), "%s",
	    p->vmc_name);
	return (0);
}

void
config_init(struct vmd_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	TAILQ_INIT(&conf->vms);
	TAILQ_INIT(&conf->switches);
}

void
config_free(struct vmd_conf *conf)
{
	struct vmd_conf_vm	*cv;
	struct vmd_conf_switch	*sw;

	while ((cv = TAILQ_FIRST(&conf->vms)) != NULL) {
		TAILQ_REMOVE(&conf->vms, cv, entry);
		free(cv);
	}
	while ((sw = TAILQ_FIRST(&conf->switches)) != NULL) {
		TAILQ_REMOVE(&conf->switches, sw, entry);
		free(sw);
	}
}

/*
 * Opening a VM's resources, as OpenBSD's config_setvm: the parent opens
 * every file a VM needs and hands the descriptors on; nothing below it
 * ever gets a path.  A path the request named is opened with the
 * requester's file rights (perm_open_uid): the kernel checks every
 * directory and the file as it would for that user, and the open cannot
 * race a check.  The parent is single-threaded, so nothing else runs
 * meanwhile.
 */

/* The parent's own groups, to go back to after acting as a user. */
struct config_creds {
	gid_t	 groups[PERM_MAX_GROUPS];
	int	 ngroups;
};

/*
 * Open files from now on with cred's filesystem credentials: its uid,
 * primary group and other groups.  Returns 0, or an errno value (EPERM
 * for a user without a passwd entry, whose groups are unknown).
 */
static int
config_creds_enter(const struct perm_cred *cred, struct config_creds *saved)
{
	if (!cred->known)
		return (EPERM);
	if ((saved->ngroups = getgroups(PERM_MAX_GROUPS, saved->groups)) == -1)
		return (errno);
	if (setgroups(cred->ngroups, cred->groups) == -1)
		return (errno);
	(void)setfsgid(cred->gid);
	(void)setfsuid(cred->uid);
	/* setfsuid() answers the old value; asking again tells the new. */
	if ((uid_t)setfsuid((uid_t)-1) != cred->uid ||
	    (gid_t)setfsgid((gid_t)-1) != cred->gid) {
		(void)setfsuid(0);
		(void)setfsgid(0);
		if (setgroups(saved->ngroups, saved->groups) == -1)
			fatal("cannot restore my groups");
		return (EPERM);
	}
	return (0);
}

/* Back to root; going on with a user's credentials is not an option. */
static void
config_creds_leave(const struct config_creds *saved)
{
	(void)setfsuid(0);
	(void)setfsgid(0);
	if ((uid_t)setfsuid((uid_t)-1) != 0 ||
	    (gid_t)setfsgid((gid_t)-1) != 0 ||
	    setgroups(saved->ngroups, saved->groups) == -1)
		fatal("cannot return to root's credentials");
}

/*
 * A boot image, initrd or ISO (what names it: "kernel"): a regular file,
 * opened read-only without blocking on a FIFO.  Returns the fd, or -1
 * with errno and reason set.
 */
static int
config_open_file(const char *what, const char *path, char *reason,
    size_t rlen)
{
	struct stat	 st;
	int		 fd, error;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK |
	    O_NOCTTY)) == -1 || fstat(fd, &st) == -1) {
		error = errno;
		(void)snprintf(reason, rlen, "%s %s: %s", what, path,
		    strerror(error));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		error = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		(void)snprintf(reason, rlen, "%s %s: %s", what, path,
		    S_ISDIR(st.st_mode) ? strerror(EISDIR) :
		    "not a regular file");
		goto fail;
	}
	if (fcntl(fd, F_SETFL, 0) == -1) {
		error = errno;
		(void)snprintf(reason, rlen, "%s %s: %s", what, path,
		    strerror(error));
		goto fail;
	}
	return (fd);
 fail:
	if (fd != -1)
		close(fd);
	errno = error;
	return (-1);
}

/* disk_chain_open's opener: credentials are already the right ones. */
static int
config_disk_opener(const char *path, int flags, void *arg)
{
	return (open(path, flags | O_NOCTTY));
}

/*
 * The console: a raw pty at 115200 baud.  The slave must be raw too, or
 * its echo would feed the guest's output back to it as input.
 */
static int
config_open_pty(int *master, int *slave, char *name, size_t namelen,
    char *reason, size_t rlen)
{
	struct termios	 tio;
	char		 path[64];
	int		 m, s = -1, error;

	if ((m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1)
		goto fail;
	if (grantpt(m) == -1 || unlockpt(m) == -1 ||
	    ptsname_r(m, path, sizeof(path)) != 0)
		goto fail;
	if (strlen(path) >= namelen) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if ((s = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1)
		goto fail;
	if (tcgetattr(s, &tio) == -1)
		goto fail;
	cfmakeraw(&tio);
	if (cfsetspeed(&tio, B115200) == -1 ||
	    tcsetattr(s, TCSANOW, &tio) == -1)
		goto fail;
	if (fcntl(m, F_SETFL, O_NONBLOCK) == -1)
		goto fail;
	memcpy(name, path, strlen(path) + 1);
	*master = m;
	*slave = s;
	return (0);
 fail:
	error = errno;
	(void)snprintf(reason, rlen, "cannot open a pty: %s",
	    strerror(error));
	if (m != -1)
		close(m);
	if (s != -1)
		close(s);
	errno = error;
	return (-1);
}

/* The console belongs to the VM's owner (perm_console). */
static int
config_pty_owner(int fd, const struct vmd_conf_owner *o, char *reason,
    size_t rlen)
{
	struct group	*gr;
	uid_t		 uid;
	gid_t		 gid;
	mode_t		 mode;

	gr = getgrnam("tty");
	perm_console(o, gr != NULL ? gr->gr_gid : (gid_t)-1, &uid, &gid,
	    &mode);
	if (fchown(fd, uid, gid) == -1 || fchmod(fd, mode) == -1) {
		(void)snprintf(reason, rlen, "cannot hand the console to its "
		    "owner: %s", strerror(errno));
		return (-1);
	}
	return (0);
}

_Static_assert(VMBOOTDEV_AUTO == VMBOOT_AUTO &&
    VMBOOTDEV_CDROM == VMBOOT_CDROM && VMBOOTDEV_DISK == VMBOOT_DISK &&
    VMBOOTDEV_NET == VMBOOT_NET,
    "the start protocol numbers boot devices as vm.conf's");
_Static_assert(VMOP_DISK_RAW == DISK_FMT_RAW &&
    VMOP_DISK_QCOW2 == DISK_FMT_QCOW2,
    "the start protocol numbers disk formats as disk.h does");
_Static_assert(VM_MAX_DISK_CHAIN == DISK_CHAIN_MAX,
    "a disk's chain fits the start protocol");

/*
 * The disks of the run: those the request named (params), else def's,
 * each with its backing chain, opened and locked with cred's rights
 * (NULL: root's): the top read-write, the bases read-only.  Fills set
 * (DISK, disk, image) and fds's disk counts.
 */
static int
config_open_disks(const struct vmd_conf_vm *def,
    const struct vmop_create_params *params, const struct perm_cred *as,
    struct vmop_fds *fds, struct vmop_fdset *set, char *reason, size_t rlen)
{
	const char		*path;
	size_t			 ndisks;
	struct config_creds	 saved;
	struct disk_chain	 chain;
	char			 err[DISK_ERR_MAX];
	enum disk_format	 fmt;
	size_t			 d, i;
	int			 error = 0;

	if (as != NULL && (error = config_creds_enter(as, &saved)) != 0) {
		(void)snprintf(reason, rlen, "disk: cannot check access for "
		    "uid %u: %s", (unsigned)as->uid, strerror(error));
		return (error);
	}
	ndisks = params->vmc_ndisks > 0 ? params->vmc_ndisks : def->ndisks;
	for (d = 0; d < ndisks && d < VM_MAX_DISKS; d++) {
		if (params->vmc_ndisks > 0) {
			path = params->vmc_disks[d];
			fmt = params->vmc_disktypes[d] == VMOP_DISK_QCOW2 ?
			    DISK_FMT_QCOW2 : DISK_FMT_RAW;
		} else {
			path = def->disk[d].path;
			fmt = def->disk[d].format == VMDF_QCOW2 ?
			    DISK_FMT_QCOW2 : DISK_FMT_RAW;
		}
		if (disk_chain_open(path, fmt, 0, config_disk_opener, NULL,
		    &chain, err, sizeof(err)) == -1) {
			error = errno != 0 ? errno : EINVAL;
			(void)snprintf(reason, rlen, "disk %s", err);
			break;
		}
		fds->vf_count[VMOP_FD_DISK] = d + 1;
		fds->vf_disk[d].vd_nimages = chain.n;
		fds->vf_disk[d].vd_format = chain.fmt[0];
		fds->vf_disk[d].vd_flags = 0;
		for (i = 0; i < chain.n; i++) {
			struct vmop_fd	 vmf = { 0, VMOP_FD_DISK, d, i };

			(void)vmop_fdset_put(set, &vmf, chain.fd[i], err,
			    sizeof(err));
		}
	}
	if (as != NULL)
		config_creds_leave(&saved);
	return (error);
}

/*
 * A CD-ROM image holds whole 2048-byte blocks that READ CAPACITY(10)
 * and the 32-bit block numbers of ISO 9660 can reach: at least one,
 * at most 2^32 - 1 (a trailing partial block is not seen by the guest).
 */
static int
config_cdrom_size(int fd, const char *path, char *reason, size_t rlen)
{
	struct stat	 st;
	const char	*why = NULL;

	if (fstat(fd, &st) == -1) {
		(void)snprintf(reason, rlen, "cdrom %s: %s", path,
		    strerror(errno));
		return (errno);
	}
	if (st.st_size < VM_CDROM_BLOCK)
		why = st.st_size == 0 ? "empty image" :
		    "smaller than one 2048-byte block";
	else if ((uint64_t)st.st_size / VM_CDROM_BLOCK >= UINT32_MAX)
		why = "image too large (more than 2^32 - 1 2048-byte blocks)";
	if (why == NULL)
		return (0);
	(void)snprintf(reason, rlen, "cdrom %s: %s", path, why);
	return (EINVAL);
}

/* One file of kind (index 0) opened with as's rights (NULL: root's). */
static int
config_open_one(const struct perm_cred *as, const char *what,
    const char *path, uint32_t kind, struct vmop_fds *fds,
    struct vmop_fdset *set, char *reason, size_t rlen)
{
	struct config_creds	 saved;
	struct vmop_fd		 vmf = { 0, kind, 0, 0 };
	char			 err[64];
	int			 fd, error;

	if (as != NULL && (error = config_creds_enter(as, &saved)) != 0) {
		(void)snprintf(reason, rlen, "%s %s: cannot check access for "
		    "uid %u: %s", what, path, (unsigned)as->uid,
		    strerror(error));
		return (error);
	}
	fd = config_open_file(what, path, reason, rlen);
	error = errno;
	if (as != NULL)
		config_creds_leave(&saved);
	if (fd == -1)
		return (error);
	if (kind == VMOP_FD_CDROM &&
	    (error = config_cdrom_size(fd, path, reason, rlen)) != 0) {
		close(fd);
		return (error);
	}
	if (vmop_fdset_put(set, &vmf, fd, err, sizeof(err)) == -1) {
		(void)snprintf(reason, rlen, "%s: %s", what, err);
		return (EINVAL);
	}
	fds->vf_count[kind] = 1;
	return (0);
}

/*
 * Who makes a tap: netconf_open_tap in vmd's parent, which sets it; a
 * program that only reads vm.conf has none.
 */
static config_tap_fn	 config_tap_open;

void
config_tap_opener(config_tap_fn fn)
{
	config_tap_open = fn;
}

/*
 * The taps of def's interfaces, made by priv (netconf.c); params gets
 * each interface's parameters for its vionet process.
 */
static int
config_open_taps(const struct vmd_conf_vm *def,
    struct vmop_create_params *params, struct vmop_fdset *set, char *reason,
    size_t rlen)
{
	struct vmop_fd	 vmf = { 0, VMOP_FD_TAP, 0, 0 };
	char		 err[64];
	size_t		 i;
	int		 fd;

	memset(params->vmc_nics, 0, sizeof(params->vmc_nics));
	params->vmc_nnics = 0;
	if (def->nnics > 0 && config_tap_open == NULL) {
		(void)snprintf(reason, rlen, "no network interfaces here");
		return (ENOTSUP);
	}
	for (i = 0; i < def->nnics && i < VM_MAX_NICS; i++) {
		if ((fd = config_tap_open(def, params->vmc_id, i,
		    &params->vmc_nics[i], reason, rlen)) == -1)
			return (EINVAL);
		vmf.vmf_index = i;
		if (vmop_fdset_put(set, &vmf, fd, err, sizeof(err)) == -1) {
			(void)snprintf(reason, rlen, "tap: %s", err);
			return (EINVAL);
		}
		params->vmc_fds.vf_count[VMOP_FD_TAP] = i + 1;
		params->vmc_nnics = i + 1;
	}
	return (0);
}

/*
 * Open what the run params of VM def needs, with the rights perm.c
 * gives cred for a request that set reqflags (0 for vmd's own starts):
 * the boot image, initrd, disks and cdrom, then /dev/kvm and the
 * console (its owner the VM's, its name in params->vmc_ttyname) as
 * root.  Fills set and params->vmc_fds.  Returns 0, or an errno value
 * with reason, and then nothing stays open.
 */
int
config_openvm(const struct vmd_conf_vm *def,
    struct vmop_create_params *params, const struct perm_cred *cred,
    uint32_t reqflags, struct vmop_fdset *set, char *reason, size_t rlen)
{
	struct vmop_fds		*fds = &params->vmc_fds;
	struct vmop_fd		 vmf = { 0, VMOP_FD_KVM, 0, 0 };
	const char		*cdrom;
	char			 err[64];
	int			 error, m, s, fd;

#define AS(flag)	(perm_open_uid(cred, reqflags, (flag)) != 0 ? cred : \
			    NULL)
	memset(fds, 0, sizeof(*fds));
	vmop_fdset_init(set);
	params->vmc_ttyname[0] = '\0';
	if ((error = config_open_one(AS(VMOP_CREATE_KERNEL), "kernel",
	    params->vmc_kernel, VMOP_FD_KERNEL, fds, set, reason,
	    rlen)) != 0) {
		/* No kernel given: vmd's own firmware (vmd_merge_params). */
		if (!(reqflags & VMOP_CREATE_KERNEL) &&
		    !(params->vmc_flags & VMOP_CREATE_KERNEL) &&
		    strcmp(params->vmc_kernel, VM_DEFAULT_BIOS) == 0)
			(void)snprintf(reason, rlen, "no kernel to boot, and "
			    "the firmware %s: %s (install Debian's seabios, "
			    "or give boot or vmctl start -b)", VM_DEFAULT_BIOS,
			    strerror(error));
		goto fail;
	}
	if (params->vmc_initrd[0] != '\0' &&
	    (error = config_open_one(AS(VMOP_CREATE_INITRD), "initrd",
	    params->vmc_initrd, VMOP_FD_INITRD, fds, set, reason,
	    rlen)) != 0)
		goto fail;
	if ((error = config_open_disks(def, params, AS(VMOP_CREATE_DISK), fds,
	    set, reason, rlen)) != 0)
		goto fail;
	cdrom = params->vmc_cdrom[0] != '\0' ? params->vmc_cdrom : def->cdrom;
	if (cdrom[0] != '\0' &&
	    (error = config_open_one(AS(VMOP_CREATE_CDROM), "cdrom",
	    cdrom, VMOP_FD_CDROM, fds, set, reason, rlen)) != 0)
		goto fail;
#undef AS
	if ((error = config_open_taps(def, params, set, reason, rlen)) != 0)
		goto fail;

	if ((fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)) == -1) {
		error = errno;
		(void)snprintf(reason, rlen, "/dev/kvm: %s", strerror(error));
		goto fail;
	}
	(void)vmop_fdset_put(set, &vmf, fd, err, sizeof(err));
	fds->vf_count[VMOP_FD_KVM] = 1;
	if (config_open_pty(&m, &s, params->vmc_ttyname,
	    sizeof(params->vmc_ttyname), reason, rlen) == -1) {
		error = errno;
		goto fail;
	}
	vmf.vmf_kind = VMOP_FD_TTY_MASTER;
	(void)vmop_fdset_put(set, &vmf, m, err, sizeof(err));
	vmf.vmf_kind = VMOP_FD_TTY_SLAVE;
	(void)vmop_fdset_put(set, &vmf, s, err, sizeof(err));
	fds->vf_count[VMOP_FD_TTY_MASTER] = fds->vf_count[VMOP_FD_TTY_SLAVE] =
	    1;
	if (config_pty_owner(s, &def->owner, reason, rlen) == -1) {
		error = EPERM;
		goto fail;
	}
	return (0);
 fail:
	vmop_fdset_close(set);
	memset(fds, 0, sizeof(*fds));
	params->vmc_ttyname[0] = '\0';
	return (error != 0 ? error : EIO);
}

/*
 * OpenBSD's config_setvm: open what VM def needs for the run params
 * (config_openvm) and send it with send (the channel to vmm): each
 * descriptor, then the parameters saying what came.  Returns 0, or an
 * errno value with reason.
 */
int
config_setvm(config_send_fn send, void *arg, const struct vmd_conf_vm *def,
    struct vmop_create_params *params, const struct perm_cred *cred,
    uint32_t reqflags, char *reason, size_t rlen)
{
	struct vmop_fdset	 set;
	struct vmop_fd		 vmf;
	const struct vmop_fds	*fds = &params->vmc_fds;
	uint32_t		 kind, index, image;
	int			 error, fd;

	if ((error = config_openvm(def, params, cred, reqflags, &set, reason,
	    rlen)) != 0)
		return (error);
	/* Each descriptor is the channel's once given to send. */
	for (kind = 0; kind < VMOP_FD_NKINDS; kind++) {
		for (index = 0; index < fds->vf_count[kind]; index++) {
			for (image = 0; image < vmop_fds_images(fds, kind,
			    index); image++) {
				fd = vmop_fdset_take(&set, kind, index, image);
				vmf.vmf_id = params->vmc_id;
				vmf.vmf_kind = kind;
				vmf.vmf_index = index;
				vmf.vmf_image = image;
				if (send(arg, IMSG_VMDOP_START_VM_FD, fd, &vmf,
				    sizeof(vmf)) == -1)
					goto fail;
			}
		}
	}
	if (send(arg, IMSG_VMDOP_START_VM_END, -1, params,
	    sizeof(*params)) == -1)
		goto fail;
	return (0);
 fail:
	vmop_fdset_close(&set);
	(void)snprintf(reason, rlen, "cannot reach vmm");
	return (EIO);
}
