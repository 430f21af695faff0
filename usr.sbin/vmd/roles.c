/*
 * roles.c: every process of vmd, one row each.  The parent is listed for
 * its name and sandbox; it is never entered through proc_run.  control
 * needs no file at all once it holds its socket, so it is chrooted; vmm
 * must stay able to fexecve vmd (the dynamic loader is found by path),
 * so it is not, and it starts the per-VM roles.  priv stays root with
 * CAP_NET_ADMIN alone and makes taps for the parent (priv.c).  The
 * per-VM roles: vm processes, which
 * enter their sandbox once they have read their descriptors, and device
 * processes, which run devproc.c's runner around their struct
 * devproc_ops and serve the descriptors of one kind (a disk, a tap).
 * A device is one more row here.  The table is alone in this file so
 * that a test can link its own in its place; nothing else may live
 * here.
 */

#include <sys/types.h>

#include "proc.h"
#include "vm.h"
#include "devproc.h"

const struct proc_role proc_roles[] = {
	{ "parent",	PROC_LATE,			&sandbox_parent,
	    NULL,		NULL },
	{ "control",	PROC_PRIVDROP | PROC_CHROOT,	&sandbox_control,
	    control_run,	NULL },
	{ "vmm",	PROC_PRIVDROP | PROC_SPAWNS,	&sandbox_vmm,
	    vmm_run,		NULL },
	{ "priv",	PROC_ROOT | PROC_LATE,		&sandbox_priv,
	    priv_run,		NULL },
	{ "vm",		PROC_PER_VM | PROC_LATE,	&sandbox_vm,
	    vm_run,		NULL },
	{ "vioblk",	PROC_PER_VM,			&sandbox_device,
	    devproc_main,	&vioblk_ops },
	{ "vionet",	PROC_PER_VM,			&sandbox_device,
	    devproc_main,	&vionet_ops },
};

const size_t proc_nroles = sizeof(proc_roles) / sizeof(proc_roles[0]);
