/*
 * perm.c: who may do what to which VM, as OpenBSD's vmd decides it.
 * Root may do everything; a user may act on the VMs whose owner (user,
 * or group it is a member of) it is, start only what vm.conf defines or
 * an instance of a template that allows it, and change nothing of a
 * configured VM.  Paths a request names are opened with the requester's
 * file rights, those of vm.conf with root's.  Everything here is a pure
 * function of its arguments: the caller looks the user up
 * (config_cred) and acts on the answer, so that every rule is tested in
 * regress/unit/perm_test.c without users, files or a daemon.  Nothing
 * here may grant more than these rules say when a lookup failed: an
 * unknown user is in no group.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "vmd.h"

/* Is the user of cred in group gid, as its primary group or another? */
int
perm_in_group(const struct perm_cred *cred, gid_t gid)
{
	int	 i;

	if (!cred->known)
		return (0);
	if (cred->gid == gid)
		return (1);
	for (i = 0; i < cred->ngroups && i < PERM_MAX_GROUPS; i++)
		if (cred->groups[i] == gid)
			return (1);
	return (0);
}

/*
 * An owner of vm.conf ("owner user", "owner :group", "owner user:group")
 * lets that user and the group's members in; root may do anything.
 */
int
perm_owner_ok(const struct vmd_conf_owner *o, const struct perm_cred *cred)
{
	if (cred->uid == 0)
		return (1);
	if (!o->set)
		return (0);
	if (o->uid != (uid_t)-1 && o->uid == cred->uid)
		return (1);
	if (o->gid != (gid_t)-1 && perm_in_group(cred, o->gid))
		return (1);
	return (0);
}

/*
 * May cred start a VM whose owner is owner (NULL: no VM of that name is
 * known), with a request that sets flags (VMOP_CREATE_*)?  Users start
 * what vm.conf gives them, as it is; new VMs of their own are instances
 * (perm_instance).  Returns 0 or EPERM.
 */
int
perm_start(const struct perm_cred *cred, const struct vmd_conf_owner *owner,
    uint32_t flags)
{
	if (cred->uid == 0)
		return (0);
	if (owner == NULL || !perm_owner_ok(owner, cred))
		return (EPERM);
	if (flags & (VMOP_CREATE_KERNEL | VMOP_CREATE_MEMORY |
	    VMOP_CREATE_CMDLINE | VMOP_CREATE_INITRD | VMOP_CREATE_DISK |
	    VMOP_CREATE_CDROM | VMOP_CREATE_NETWORK | VMOP_CREATE_VCPUS))
		return (EPERM);
	return (0);
}

/*
 * May cred make an instance of a template whose "allow instance" owner
 * is allow?  What the instance may change is config_instance_check's.
 */
int
perm_instance(const struct vmd_conf_owner *allow,
    const struct perm_cred *cred)
{
	return (perm_owner_ok(allow, cred) ? 0 : EPERM);
}

/*
 * The owner of an instance a user made: that user, and the template's
 * group if the template has an owner.  Root's instances keep what
 * config_instance_apply gave them (the template's owner).
 */
void
perm_instance_owner(const struct vmd_conf_owner *template,
    const struct perm_cred *cred, struct vmd_conf_owner *child)
{
	if (cred->uid == 0)
		return;
	child->set = 1;
	child->uid = cred->uid;
	if (!template->set)
		child->gid = (gid_t)-1;
}

/*
 * Whose file rights open a path: the requester's when its request named
 * the path (the VMOP_CREATE_* bit what is set in flags), as OpenBSD's
 * vmd checks with the user's credentials; root's for vm.conf's own.
 */
uid_t
perm_open_uid(const struct perm_cred *cred, uint32_t flags, uint32_t what)
{
	return ((flags & what) ? cred->uid : 0);
}

/*
 * The console belongs to the VM's owner, as on OpenBSD: mode 0660 and
 * the owner's group if there is one, else 0620 and group tty (ttygid,
 * (gid_t)-1 if there is no such group) so write(1) works, else 0600.
 */
void
perm_console(const struct vmd_conf_owner *o, gid_t ttygid, uid_t *uid,
    gid_t *gid, mode_t *mode)
{
	*uid = 0;
	*gid = 0;
	*mode = 0600;
	if (o->set && o->uid != (uid_t)-1)
		*uid = o->uid;
	if (o->set && o->gid != (gid_t)-1) {
		*gid = o->gid;
		*mode = 0660;
	} else if (ttygid != (gid_t)-1) {
		*gid = ttygid;
		*mode = 0620;
	}
}

/* Requests only root may make (load, reload, reset, log level). */
int
perm_root_only(uint32_t type)
{
	switch (type) {
	case IMSG_VMDOP_LOAD:
	case IMSG_VMDOP_RELOAD:
	case IMSG_CTL_RESET:
	case IMSG_CTL_VERBOSE:
		return (1);
	default:
		return (0);
	}
}
