/*
 * perm_test.c: the permission rules of perm.c, without users or files:
 * owners by user and by group (primary and supplementary), root, unknown
 * users, starts of configured and unknown VMs with and without changes,
 * instances and their owners, whose rights open a path, the console's
 * owner and mode, and the root-only requests.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "vmd.h"
#include "regress/test.h"

static struct perm_cred
cred(uid_t uid, gid_t gid, int ngroups, const gid_t *groups)
{
	struct perm_cred	 c;
	int			 i;

	memset(&c, 0, sizeof(c));
	c.uid = uid;
	c.gid = gid;
	c.known = 1;
	c.ngroups = ngroups;
	for (i = 0; i < ngroups; i++)
		c.groups[i] = groups[i];
	return (c);
}

static struct vmd_conf_owner
owner(uid_t uid, gid_t gid)
{
	struct vmd_conf_owner	 o = { 1, uid, gid };

	return (o);
}

static void
owner_rules(void)
{
	static const gid_t	 extra[] = { 300, 301 };
	struct vmd_conf_owner	 none = { 0, (uid_t)-1, (gid_t)-1 };
	struct vmd_conf_owner	 u = owner(1000, (gid_t)-1);
	struct vmd_conf_owner	 g = owner((uid_t)-1, 301);
	struct vmd_conf_owner	 pg = owner((uid_t)-1, 100);
	struct vmd_conf_owner	 ug = owner(1000, 400);
	struct perm_cred	 root = cred(0, 0, 0, NULL);
	struct perm_cred	 alice = cred(1000, 100, 2, extra);
	struct perm_cred	 bob = cred(1001, 200, 0, NULL);
	struct perm_cred	 ghost = cred(1002, 301, 1, extra);

	/* root: everything, owner or not */
	CHECK(perm_owner_ok(&none, &root));
	CHECK(perm_owner_ok(&u, &root));
	/* no owner: nobody but root */
	CHECK(!perm_owner_ok(&none, &alice));
	/* by user */
	CHECK(perm_owner_ok(&u, &alice));
	CHECK(!perm_owner_ok(&u, &bob));
	/* by group: supplementary and primary */
	CHECK(perm_owner_ok(&g, &alice));
	CHECK(perm_owner_ok(&pg, &alice));
	CHECK(!perm_owner_ok(&g, &bob));
	/* user:group lets either in */
	CHECK(perm_owner_ok(&ug, &alice));
	ug.uid = 999;
	CHECK(!perm_owner_ok(&ug, &alice));
	/* a uid without a passwd entry is in no group, whatever it says */
	ghost.known = 0;
	CHECK(!perm_owner_ok(&g, &ghost));
	CHECK(!perm_in_group(&ghost, 301));
	/* a group count beyond the array is not read beyond it */
	alice.ngroups = PERM_MAX_GROUPS + 10;
	CHECK(!perm_in_group(&alice, 12345));
}

static void
start_rules(void)
{
	struct vmd_conf_owner	 u = owner(1000, (gid_t)-1);
	struct perm_cred	 root = cred(0, 0, 0, NULL);
	struct perm_cred	 alice = cred(1000, 100, 0, NULL);
	struct perm_cred	 bob = cred(1001, 200, 0, NULL);
	static const uint32_t	 changes[] = {
		VMOP_CREATE_KERNEL, VMOP_CREATE_MEMORY, VMOP_CREATE_CMDLINE,
		VMOP_CREATE_INITRD, VMOP_CREATE_DISK, VMOP_CREATE_CDROM,
		VMOP_CREATE_NETWORK, VMOP_CREATE_VCPUS
	};
	size_t			 i;

	/* root starts anything, known or not, with any change */
	CHECK(perm_start(&root, NULL, VMOP_CREATE_KERNEL) == 0);
	CHECK(perm_start(&root, &u, VMOP_CREATE_MEMORY) == 0);
	/* a user: configured VMs it owns, as they are */
	CHECK(perm_start(&alice, &u, 0) == 0);
	CHECK(perm_start(&bob, &u, 0) == EPERM);
	CHECK(perm_start(&alice, NULL, 0) == EPERM);
	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++)
		CHECK(perm_start(&alice, &u, changes[i]) == EPERM);
}

static void
instance_rules(void)
{
	struct vmd_conf_owner	 allow = owner(1000, (gid_t)-1);
	struct vmd_conf_owner	 tmpl = owner(1000, 500);
	struct vmd_conf_owner	 noowner = { 0, (uid_t)-1, (gid_t)-1 };
	struct vmd_conf_owner	 child;
	struct perm_cred	 root = cred(0, 0, 0, NULL);
	struct perm_cred	 alice = cred(1000, 100, 0, NULL);
	struct perm_cred	 bob = cred(1001, 200, 0, NULL);

	CHECK(perm_instance(&allow, &alice) == 0);
	CHECK(perm_instance(&allow, &bob) == EPERM);
	CHECK(perm_instance(&noowner, &bob) == EPERM);
	CHECK(perm_instance(&noowner, &root) == 0);

	/* the user who made it, the template's group */
	child = tmpl;
	perm_instance_owner(&tmpl, &bob, &child);
	CHECK(child.set && child.uid == 1001 && child.gid == 500);
	/* a template without owner: no group */
	child = noowner;
	perm_instance_owner(&noowner, &bob, &child);
	CHECK(child.set && child.uid == 1001 && child.gid == (gid_t)-1);
	/* root's instance keeps what it had */
	child = tmpl;
	perm_instance_owner(&tmpl, &root, &child);
	CHECK(child.uid == 1000 && child.gid == 500);
}

static void
open_rights(void)
{
	struct perm_cred	 alice = cred(1000, 100, 0, NULL);

	/* what the request named: the user's rights; vm.conf's: root's */
	CHECK(perm_open_uid(&alice, VMOP_CREATE_KERNEL,
	    VMOP_CREATE_KERNEL) == 1000);
	CHECK(perm_open_uid(&alice, VMOP_CREATE_MEMORY,
	    VMOP_CREATE_KERNEL) == 0);
	CHECK(perm_open_uid(&alice, VMOP_CREATE_DISK | VMOP_CREATE_KERNEL,
	    VMOP_CREATE_DISK) == 1000);
}

static void
console_owner(void)
{
	struct vmd_conf_owner	 none = { 0, (uid_t)-1, (gid_t)-1 };
	struct vmd_conf_owner	 u = owner(1000, (gid_t)-1);
	struct vmd_conf_owner	 ug = owner(1000, 500);
	struct vmd_conf_owner	 g = owner((uid_t)-1, 500);
	uid_t			 uid;
	gid_t			 gid;
	mode_t			 mode;

	perm_console(&none, 5, &uid, &gid, &mode);
	CHECK(uid == 0 && gid == 5 && mode == 0620);
	perm_console(&none, (gid_t)-1, &uid, &gid, &mode);
	CHECK(uid == 0 && gid == 0 && mode == 0600);
	perm_console(&u, 5, &uid, &gid, &mode);
	CHECK(uid == 1000 && gid == 5 && mode == 0620);
	perm_console(&ug, 5, &uid, &gid, &mode);
	CHECK(uid == 1000 && gid == 500 && mode == 0660);
	perm_console(&g, 5, &uid, &gid, &mode);
	CHECK(uid == 0 && gid == 500 && mode == 0660);
}

static void
root_only(void)
{
	CHECK(perm_root_only(IMSG_VMDOP_LOAD));
	CHECK(perm_root_only(IMSG_VMDOP_RELOAD));
	CHECK(perm_root_only(IMSG_CTL_RESET));
	CHECK(perm_root_only(IMSG_CTL_VERBOSE));
	CHECK(!perm_root_only(IMSG_VMDOP_START_VM_REQUEST));
	CHECK(!perm_root_only(IMSG_VMDOP_TERMINATE_VM_REQUEST));
	CHECK(!perm_root_only(IMSG_VMDOP_GET_INFO_VM_REQUEST));
	CHECK(!perm_root_only(IMSG_MAX + 7));
}

/* config_cred: root is not looked up; an unknown uid is in no group. */
static void
cred_lookup(void)
{
	struct perm_cred	 c;

	config_cred(0, &c);
	CHECK(c.uid == 0 && !c.known);
	config_cred((uid_t)0x7ffffff0, &c);
	CHECK(c.uid == (uid_t)0x7ffffff0 && !c.known && c.ngroups == 0);
	CHECK(!perm_in_group(&c, (gid_t)-1));
}

int
main(void)
{
	RUN(owner_rules);
	RUN(start_rules);
	RUN(instance_rules);
	RUN(open_rights);
	RUN(console_owner);
	RUN(root_only);
	RUN(cred_lookup);
	TEST_EXIT();
}
