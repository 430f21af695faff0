/*
 * netconf.c: the parent's side of VM networking.  It starts the priv
 * process and asks it, one request at a time and waiting for the answer
 * (priv only talks to the kernel, within a bounded time), for the taps
 * a VM's interfaces need; it keeps what vm.conf says about switches and
 * local prefixes, and turns a VM's interfaces into priv's requests and
 * the vionet processes' parameters (struct vmop_nic): the switch's
 * bridge, VRF and locking, the local interface's addresses, the MAC.
 * The parent itself has no CAP_NET_ADMIN: nothing here changes the host
 * but through priv.  A missing or disabled switch, a bridge that is not
 * there, a group vmd cannot name: the VM does not start, and the reason
 * says which.
 */

#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imsg.h"
#include "log.h"
#include "config.h"
#include "net.h"
#include "proc.h"
#include "vmd.h"

#define NETCONF_WAIT_MS		10000	/* for one answer of priv's */
#define NETCONF_GROUP_FILE	"/etc/iproute2/group"

static struct {
	int			 fd;
	pid_t			 pid;
	struct imsgbuf		 ibuf;
	char			 tag[NET_TAG_MAX];
	struct vmd_conf_switch	*sw;		/* vm.conf's switches */
	size_t			 nsw;
	struct net_local	 local;
	int			 applied;	/* local is vm.conf's */
} netconf = { .fd = -1, .pid = -1 };

/* Start priv with its channel on fd 3; its pid, or -1. */
pid_t
netconf_start(struct proc_env *env, const char *sockpath)
{
	int	 sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		return (-1);
	if ((netconf.pid = proc_spawn(env, "priv", NULL, "vmd: priv",
	    &sp[1], 1)) == -1) {
		close(sp[0]);
		close(sp[1]);
		return (-1);
	}
	close(sp[1]);
	netconf.fd = sp[0];
	if (imsgbuf_init(&netconf.ibuf, netconf.fd) == -1) {
		close(netconf.fd);
		netconf.fd = -1;
		return (-1);
	}
	imsgbuf_allow_fdpass(&netconf.ibuf);
	net_instance_tag(sockpath, netconf.tag);
	return (netconf.pid);
}

pid_t
netconf_pid(void)
{
	return (netconf.pid);
}

/* priv ended (reaped): every later request fails, saying so. */
void
netconf_gone(void)
{
	netconf.pid = -1;
	if (netconf.fd != -1) {
		imsgbuf_clear(&netconf.ibuf);
		close(netconf.fd);
		netconf.fd = -1;
	}
}

static int
elapsed_ms(const struct timespec *t0)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((int)((now.tv_sec - t0->tv_sec) * 1000 +
	    (now.tv_nsec - t0->tv_nsec) / 1000000));
}

/*
 * One request and its answer; priv's log lines on the way are logged.
 * Returns 0 with *pr (and *fdp, the fd that came, or -1), or -1 with
 * pr->pr_reason saying why.
 */
static int
netconf_ask(uint32_t type, const void *data, size_t len,
    struct priv_result *pr, int *fdp)
{
	struct imsg		 imsg;
	struct vmop_log		 vl;
	struct timespec		 t0;
	struct pollfd		 pfd;
	char			 text[VMD_LOG_TEXT_MAX + 1], err[128];
	ssize_t			 n;
	int			 left, got = 0;

	memset(pr, 0, sizeof(*pr));
	*fdp = -1;
	if (netconf.fd == -1) {
		(void)snprintf(pr->pr_reason, sizeof(pr->pr_reason),
		    "the priv process is not running");
		return (-1);
	}
	if (imsg_compose(&netconf.ibuf, type, 0, 0, -1, data, len) == -1 ||
	    imsgbuf_flush(&netconf.ibuf) == -1)
		goto broken;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!got) {
		if ((left = NETCONF_WAIT_MS - elapsed_ms(&t0)) <= 0) {
			(void)snprintf(pr->pr_reason, sizeof(pr->pr_reason),
			    "the priv process did not answer");
			/* a late answer would be taken for the next one's */
			goto broken_quiet;
		}
		pfd.fd = netconf.fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left) == -1) {
			if (errno == EINTR)
				continue;
			goto broken;
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (imsgbuf_read(&netconf.ibuf) != 1)
			goto broken;
		while (!got && (n = imsg_get(&netconf.ibuf, &imsg)) > 0) {
			if (msg_check(MSG_PRIV_PARENT, imsg_get_type(&imsg),
			    imsg.data, imsg_get_len(&imsg), err,
			    sizeof(err)) != 0) {
				log_warnx("priv: %s", err);
			} else if (imsg_get_type(&imsg) == IMSG_LOG) {
				if (proc_log_parse(&imsg, &vl, text,
				    sizeof(text)) == 0)
					log_emit(vl.vl_pri, "priv", text);
			} else if (imsg_get_type(&imsg) == IMSG_PRIV_RESULT) {
				(void)imsg_get_data(&imsg, pr, sizeof(*pr));
				*fdp = imsg_get_fd(&imsg);
				got = 1;
			}
			imsg_free(&imsg);
		}
		if (n == -1)
			goto broken;
	}
	return (0);
 broken:
	(void)snprintf(pr->pr_reason, sizeof(pr->pr_reason),
	    "the priv process is gone");
 broken_quiet:
	log_warnx("%s", pr->pr_reason);
	netconf_gone();
	return (-1);
}

/*
 * At start: the taps that a vmd on the same socket left when it was
 * killed go.
 */
void
netconf_cleanup(void)
{
	struct priv_cleanup	 pc;
	struct priv_result	 pr;
	int			 fd;

	memset(&pc, 0, sizeof(pc));
	(void)snprintf(pc.pc_tag, sizeof(pc.pc_tag), "%s", netconf.tag);
	if (netconf_ask(IMSG_PRIV_CLEANUP, &pc, sizeof(pc), &pr, &fd) == -1)
		return;
	if (fd != -1)
		close(fd);
	if (pr.pr_result != 0)
		log_warnx("cleaning up taps: %s", pr.pr_reason);
	else if (pr.pr_count > 0)
		log_info("removed %d taps an earlier vmd left", pr.pr_count);
}

/* What vm.conf says about networks (switches, local prefixes). */
void
netconf_apply(const struct vmd_conf *conf)
{
	const struct vmd_conf_switch	*s;
	struct vmd_conf_switch		*sw;
	uint8_t				 rnd[7];
	size_t				 n = 0;

	TAILQ_FOREACH(s, &conf->switches, entry)
		n++;
	if ((sw = calloc(n ? n : 1, sizeof(*sw))) == NULL) {
		log_warn("switches");
		return;
	}
	n = 0;
	TAILQ_FOREACH(s, &conf->switches, entry)
		sw[n++] = *s;
	free(netconf.sw);
	netconf.sw = sw;
	netconf.nsw = n;

	net_local_default(&netconf.local);
	netconf.applied = 1;
	if (conf->local4_set) {
		netconf.local.in4 = conf->local4;
		netconf.local.len4 = conf->local4_len;
	}
	if (conf->local6_set && conf->local6_auto) {
		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
			memset(rnd, 0, sizeof(rnd));
		net_local6_random(&netconf.local, rnd);
	} else if (conf->local6_set) {
		netconf.local.inet6 = 1;
		netconf.local.in6 = conf->local6;
		netconf.local.len6 = conf->local6_len;
	}
}

static const struct vmd_conf_switch *
netconf_switch(const char *name)
{
	size_t	 i;

	for (i = 0; i < netconf.nsw; i++)
		if (strcmp(netconf.sw[i].name, name) == 0)
			return (&netconf.sw[i]);
	return (NULL);
}

/* An interface group name as Linux numbers it (iproute2's table). */
static int
netconf_group(const char *name, uint32_t *id)
{
	FILE	*fp;
	int	 r;

	if ((fp = fopen(NETCONF_GROUP_FILE, "re")) == NULL)
		return (-1);
	r = net_group_lookup(fp, name, id);
	fclose(fp);
	return (r);
}

#define REASON(...)	((void)snprintf(reason, rlen, __VA_ARGS__))

/*
 * The tap of interface idx of VM def (vm id vmid) through priv; nic
 * gets what vmm and the vionet process need.  Returns the tap's fd, or
 * -1 with reason.
 */
int
netconf_open_tap(const struct vmd_conf_vm *def, uint32_t vmid,
    unsigned int idx, struct vmop_nic *nic, char *reason, size_t rlen)
{
	const struct vmd_conf_nic	*cn = &def->nic[idx];
	const struct vmd_conf_switch	*sw = NULL;
	struct priv_tap			 pt;
	struct priv_result		 pr;
	struct in_addr			 a4;
	struct in6_addr			 a6;
	char				 err[128];
	const char			*group;
	int				 fd, rdomain;

	if (!netconf.applied) {
		net_local_default(&netconf.local);
		netconf.applied = 1;
	}
	memset(&pt, 0, sizeof(pt));
	memset(nic, 0, sizeof(*nic));
	pt.pt_vmid = vmid;
	pt.pt_index = idx;
	(void)snprintf(pt.pt_vmname, sizeof(pt.pt_vmname), "%s",
	    def->params.vmc_name);
	(void)snprintf(pt.pt_tag, sizeof(pt.pt_tag), "%s", netconf.tag);
	(void)snprintf(pt.pt_ifname, sizeof(pt.pt_ifname), "%s", cn->ifname);
	memcpy(nic->vn_lladdr, cn->lladdr, sizeof(nic->vn_lladdr));
	if (cn->locked)
		nic->vn_flags |= VMOP_NIC_LOCKED;
	rdomain = cn->rdomain;
	group = cn->group;
	if (cn->sw[0] != '\0') {
		if ((sw = netconf_switch(cn->sw)) == NULL) {
			REASON("interface %u: switch \"%s\" is not defined",
			    idx, cn->sw);
			return (-1);
		}
		if (sw->disabled) {
			REASON("interface %u: switch \"%s\" is disabled", idx,
			    cn->sw);
			return (-1);
		}
		(void)snprintf(pt.pt_bridge, sizeof(pt.pt_bridge), "%s",
		    sw->ifname);
		(void)snprintf(nic->vn_switch, sizeof(nic->vn_switch), "%s",
		    sw->name);
		if (sw->locked)
			nic->vn_flags |= VMOP_NIC_LOCKED;
		if (rdomain == -1)
			rdomain = sw->rdomain;
		if (group[0] == '\0')
			group = sw->group;
	}
	if (group[0] != '\0') {
		if (netconf_group(group, &pt.pt_group) == -1) {
			REASON("interface %u: group \"%s\" is not in %s", idx,
			    group, NETCONF_GROUP_FILE);
			return (-1);
		}
		pt.pt_flags |= PRIV_TAP_GROUP;
	}
	if (rdomain >= 0) {
		pt.pt_rdomain = (uint32_t)rdomain;
		pt.pt_flags |= PRIV_TAP_RDOMAIN;
	}
	if (cn->updown == 0)
		pt.pt_flags |= PRIV_TAP_DOWN;
	if (cn->local) {
		nic->vn_flags |= VMOP_NIC_LOCAL;
		if (def->bootdev == VMBOOT_NET)
			nic->vn_flags |= VMOP_NIC_PXE;
		if (net_local4(&netconf.local, vmid, idx, 1, &a4, err,
		    sizeof(err)) == -1) {
			REASON("interface %u: %s", idx, err);
			return (-1);
		}
		nic->vn_guest4 = a4.s_addr;
		(void)net_local4(&netconf.local, vmid, idx, 0, &a4, err,
		    sizeof(err));
		nic->vn_host4 = a4.s_addr;
		net_local4_mask(&a4);
		nic->vn_mask4 = a4.s_addr;
		pt.pt_host4 = nic->vn_host4;
		pt.pt_len4 = NET_LOCAL4_PLEN;
		pt.pt_flags |= PRIV_TAP_LOCAL4;
		if (netconf.local.inet6) {
			if (net_local6(&netconf.local, vmid, idx, 0, &a6, err,
			    sizeof(err)) == -1) {
				REASON("interface %u: %s", idx, err);
				return (-1);
			}
			memcpy(pt.pt_host6, &a6, sizeof(pt.pt_host6));
			pt.pt_len6 = NET_LOCAL6_PLEN;
			pt.pt_flags |= PRIV_TAP_LOCAL6;
		}
	}
	if (netconf_ask(IMSG_PRIV_TAP, &pt, sizeof(pt), &pr, &fd) == -1) {
		REASON("interface %u: %s", idx, pr.pr_reason);
		return (-1);
	}
	if (pr.pr_result != 0 || fd == -1) {
		if (fd != -1)
			close(fd);
		if (sw != NULL)
			REASON("interface %u: switch \"%s\": %s", idx,
			    sw->name, pr.pr_reason);
		else
			REASON("interface %u: %s", idx, pr.pr_reason);
		return (-1);
	}
	memcpy(nic->vn_hostmac, pr.pr_lladdr, sizeof(nic->vn_hostmac));
	(void)snprintf(nic->vn_ifname, sizeof(nic->vn_ifname), "%s",
	    pr.pr_ifname);
	return (fd);
}
