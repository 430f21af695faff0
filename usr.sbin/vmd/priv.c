/*
 * priv.c: the priv process, the one part of vmd that changes host
 * networking, as OpenBSD's vmd has it.  It stays root but keeps only
 * CAP_NET_ADMIN, may open nothing but /dev/net/tun (Landlock), and may
 * make no system call but its event loop's, netlink on the socket it
 * opened before its sandbox, and the tun ioctls (seccomp).  It answers
 * the parent's requests one at a time (vmd.h: IMSG_PRIV_*): the taps a
 * killed vmd left are removed at start, and each interface of a VM gets
 * its tap, named, described, grouped, bridged or put in its VRF, with
 * its local addresses and up, or a reason why not, and then no tap at
 * all.  The tap's fd goes to the parent, and through vmm to the
 * interface's vionet process; priv keeps none, so a tap disappears with
 * its VM, or with vmd however it ends.  Every request is checked
 * (msg.c) before use.
 */

#include <sys/types.h>

#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "imsg.h"
#include "log.h"
#include "net.h"
#include "proc.h"
#include "vmd.h"

#define ERR(...)	((void)snprintf(pr->pr_reason, \
			    sizeof(pr->pr_reason), __VA_ARGS__))

struct priv {
	struct proc_env	*env;
	struct imsgev	 parent;
	struct nl	*nl;
	struct event	 ev_sigterm;
};

static int	 priv_dispatch(struct imsgev *, struct imsg *);
static void	 priv_closed(struct imsgev *);

static void
priv_cleaned(const struct nl_link *l, void *arg)
{
	log_info("removed tap %s (%s) left by an earlier vmd", l->name,
	    l->alias);
}

static void
priv_cleanup(struct priv *p, const struct priv_cleanup *pc,
    struct priv_result *pr)
{
	int	 n;

	if ((n = nl_tap_cleanup(p->nl, pc->pc_tag, priv_cleaned, NULL,
	    pr->pr_reason, sizeof(pr->pr_reason))) == -1) {
		pr->pr_result = errno != 0 ? errno : EIO;
		return;
	}
	pr->pr_count = n;
}

/* The host side of one interface; its fd, or -1 with pr filled in. */
static int
priv_tap(struct priv *p, const struct priv_tap *pt, struct priv_result *pr)
{
	struct nl_tap	 tap;
	struct in_addr	 a4;
	struct in6_addr	 a6;
	char		 name[IF_NAMESIZE], alias[NET_ALIAS_MAX];
	char		 err[VM_REASON_MAX];
	unsigned int	 vrf;
	int		 fd;

	if (pt->pt_ifname[0] != '\0')
		(void)snprintf(name, sizeof(name), "%s", pt->pt_ifname);
	else if (net_tapname(name, sizeof(name), pt->pt_tag, pt->pt_vmid,
	    pt->pt_index) == -1) {
		ERR("interface %u: no tap name for vm %u", pt->pt_index,
		    pt->pt_vmid);
		pr->pr_result = EINVAL;
		return (-1);
	}
	if ((fd = nl_tap_open(p->nl, name, &tap, err, sizeof(err))) == -1) {
		pr->pr_result = errno != 0 ? errno : EIO;
		ERR("%s", err);
		return (-1);
	}
	(void)snprintf(pr->pr_ifname, sizeof(pr->pr_ifname), "%s",
	    tap.link.name);
	memcpy(pr->pr_lladdr, tap.link.lladdr, sizeof(pr->pr_lladdr));
	if (net_tapalias(alias, sizeof(alias), pt->pt_vmid, pt->pt_index,
	    pt->pt_vmname) == -1 ||
	    nl_link_alias(p->nl, tap.link.ifindex, alias, err,
	    sizeof(err)) == -1)
		goto fail;
	if ((pt->pt_flags & PRIV_TAP_GROUP) &&
	    nl_link_group(p->nl, tap.link.ifindex, pt->pt_group, err,
	    sizeof(err)) == -1)
		goto fail;
	if (pt->pt_bridge[0] != '\0' &&
	    nl_bridge_join(p->nl, tap.link.ifindex, pt->pt_bridge, err,
	    sizeof(err)) == -1)
		goto fail;
	if (pt->pt_flags & PRIV_TAP_RDOMAIN) {
		if (nl_vrf_find(p->nl, pt->pt_rdomain, &vrf, err,
		    sizeof(err)) == -1 ||
		    nl_link_master(p->nl, tap.link.ifindex, vrf, err,
		    sizeof(err)) == -1)
			goto fail;
	}
	if (pt->pt_flags & PRIV_TAP_LOCAL4) {
		a4.s_addr = pt->pt_host4;
		if (nl_addr4_add(p->nl, tap.link.ifindex, &a4,
		    (int)pt->pt_len4, err, sizeof(err)) == -1)
			goto fail;
	}
	if (pt->pt_flags & PRIV_TAP_LOCAL6) {
		memcpy(&a6, pt->pt_host6, sizeof(a6));
		if (nl_addr6_add(p->nl, tap.link.ifindex, &a6,
		    (int)pt->pt_len6, err, sizeof(err)) == -1)
			goto fail;
	}
	if (!(pt->pt_flags & PRIV_TAP_DOWN) &&
	    nl_link_updown(p->nl, tap.link.ifindex, 1, err,
	    sizeof(err)) == -1)
		goto fail;
	log_debug("vm %u interface %u: tap %s%s%s", pt->pt_vmid,
	    pt->pt_index, tap.link.name, pt->pt_bridge[0] != '\0' ?
	    " on bridge " : "", pt->pt_bridge);
	return (fd);
 fail:
	pr->pr_result = errno != 0 ? errno : EIO;
	ERR("%s", err);
	/* not persistent: closing it is removing it */
	close(fd);
	return (-1);
}

static int
priv_dispatch(struct imsgev *iev, struct imsg *imsg)
{
	struct priv		*p = iev->arg;
	struct priv_cleanup	 pc;
	struct priv_tap		 pt;
	struct priv_result	 pr;
	int32_t			 level;
	int			 fd = -1;

	if (!msg_ok(imsg, MSG_PARENT_PRIV, "parent"))
		return (0);
	memset(&pr, 0, sizeof(pr));
	switch (imsg_get_type(imsg)) {
	case IMSG_PRIV_CLEANUP:
		(void)imsg_get_data(imsg, &pc, sizeof(pc));
		priv_cleanup(p, &pc, &pr);
		break;
	case IMSG_PRIV_TAP:
		(void)imsg_get_data(imsg, &pt, sizeof(pt));
		fd = priv_tap(p, &pt, &pr);
		break;
	case IMSG_CTL_VERBOSE:
		(void)imsg_get_data(imsg, &level, sizeof(level));
		log_setverbose(level);
		return (0);
	default:
		return (0);
	}
	if (imsgev_compose(&p->parent, IMSG_PRIV_RESULT, 0, 0, fd, &pr,
	    sizeof(pr)) == -1 && fd != -1)
		close(fd);
	return (0);
}

static void
priv_closed(struct imsgev *iev)
{
	struct priv	*p = iev->arg;

	event_base_loopbreak(p->env->evbase);
}

static void
priv_sigterm(int sig, short events, void *arg)
{
	struct priv	*p = arg;

	event_base_loopbreak(p->env->evbase);
}

/* The role's entry: the parent's channel is on PROC_PARENT_FD. */
void
priv_run(struct proc_env *env)
{
	static struct priv	 p;
	char			 err[VM_REASON_MAX];

	p.env = env;
	/* the parent orchestrates shutdown; a terminal ^C is its signal */
	signal(SIGINT, SIG_IGN);
	if ((env->evbase = event_base_new()) == NULL)
		fatalx("event_base_new");
	if (imsgev_init(&p.parent, env->evbase, PROC_PARENT_FD, "parent", 1,
	    priv_dispatch, priv_closed, &p) == -1)
		fatal("parent channel");
	proc_log_to(&p.parent);
	/* the one socket it will ever have, before the sandbox forbids it */
	if ((p.nl = nl_open(err, sizeof(err))) == NULL)
		fatalx("%s", err);
	sandbox_enter(env->role->sandbox, NULL);
	evsignal_assign(&p.ev_sigterm, env->evbase, SIGTERM, priv_sigterm,
	    &p);
	if (event_add(&p.ev_sigterm, NULL) == -1)
		fatalx("cannot watch signals");
	proc_signals_log(env->evbase, 0);
	event_base_dispatch(env->evbase);
	nl_close(p.nl);
	proc_flush(&p.parent.ibuf, 1000);
	imsgev_clear(&p.parent);
	exit(0);
}
