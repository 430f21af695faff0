/*
 * config.c: the rules vm.conf and vmctl requests share: valid VM names,
 * memory sizes with K/M/G/T suffixes and their limits, random link-layer
 * addresses, what an instance of a VM may change and what it inherits,
 * and freeing a parsed configuration.  The grammar itself is in parse.y.
 * Everything here takes text from outside: it must bound every length
 * and reject overflow, never trust a terminator it has not seen, and
 * never exit the process.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

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
