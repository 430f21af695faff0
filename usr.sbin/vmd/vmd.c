/*
 * vmd.c: main() and the parent process.  main() either enters a
 * re-exec'd role (-P, internal) or becomes the parent: it checks the
 * host, reads vm.conf, creates the control socket, starts the control
 * and vmm processes and then keeps the VM registry.  The parent is the
 * only process that opens files for VMs (kernel, /dev/kvm, the pty) and
 * it passes descriptors, never paths.  It applies perm.c's rules of who
 * may do what to which VM (owners, groups, templates), reloads vm.conf
 * and starts VMs in staggered groups.  It must never act on a request it has not
 * checked (type, size, NUL-terminated strings, permission), a refused
 * request must change nothing, and nothing a client or a child sends
 * may end it.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event.h>

#include "imsg.h"
#include "log.h"
#include "proc.h"
#include "config.h"
#include "vmd.h"
#include "dev/vmm/vmm.h"

#define VMD_SHUTDOWN_WAIT	8	/* s for VMs to end; vmm kills at 5 */
#define VMD_CHILD_WAIT		3	/* s for control and vmm to exit */
#define VMD_SUN_PATH_MAX	sizeof(((struct sockaddr_un *)0)->sun_path)
#define VMD_UID_WAITERS		16	/* waits of one user on one VM */
#define VMD_PIDFILE		"/var/run/vmd.pid"	/* for etc/rc.d/vmd */

/* What a vm.conf file does to the registry. */
enum vmd_apply {
	VMD_APPLY_START,	/* the file vmd started with */
	VMD_APPLY_RELOAD,	/* the same file again: replaces definitions */
	VMD_APPLY_LOAD		/* another file: only adds VMs */
};

struct vmd_waiter {
	TAILQ_ENTRY(vmd_waiter)	 entry;
	uint32_t		 peerid;
	uint32_t		 type;	/* the response it waits for */
	uid_t			 uid;	/* who asked */
};
TAILQ_HEAD(vmd_waiters, vmd_waiter);

/*
 * One VM the parent knows: configured, an instance of a template, or
 * started by vmctl.  def is its definition (what the next start uses);
 * params and run_owner are those of the current run, which a reload
 * leaves alone.
 */
struct vmd_vm {
	TAILQ_ENTRY(vmd_vm)		 entry;
	uint32_t			 id;
	char				 name[VM_NAME_MAX];
	struct vmd_conf_vm		*def;
	struct vmop_create_params	 params;	/* of this run */
	struct vmd_conf_owner		 run_owner;	/* of this run */
	int				 configured;	/* in a vm.conf */
	int				 disabled;
	int				 state;		/* VM_STATE_* */
	pid_t				 pid;
	char				 ttyname[VM_TTYNAME_MAX];
	int				 start_pending;
	uint32_t			 start_peer;
	int				 pause_pending;
	uint32_t			 pause_peer;
	uint32_t			 pause_type;	/* the answer it waits for */
	int				 shutdown;	/* the guest is asked to */
	int				 stop_pending;	/* its answer is not in */
	uint32_t			 stop_peer;
	int				 stop_wait;	/* stop -w: a waiter too */
	struct vmd_waiters		 waiters;
};
TAILQ_HEAD(vmd_vms, vmd_vm);

struct vmd {
	struct proc_env		 env;
	struct imsgev		 control;
	struct imsgev		 vmm;
	pid_t			 control_pid;
	pid_t			 vmm_pid;
	struct vmd_vms		 vms;
	uint32_t		 nextid;
	char			 conffile[PATH_MAX];	/* absolute */
	int			 conf_flags;
	int			 stagger_parallel;	/* 0: all at once */
	int			 stagger_delay;		/* seconds */
	struct vmd_conf_owner	 sock_owner;
	struct event		 ev_stagger;
	char			 socket_path[VMD_SUN_PATH_MAX];
	dev_t			 socket_dev;	/* to unlink only ours */
	ino_t			 socket_ino;
	int			 pidfile;	/* we wrote VMD_PIDFILE */
	int			 shutting_down;
	int			 hostquirks;	/* vmm_host_probe() */
	struct event		 ev_sigterm;
	struct event		 ev_sigint;
	struct event		 ev_sighup;
	struct event		 ev_sigchld;
	struct event		 ev_shutdown;
};

static void	 usage(void) __attribute__((noreturn));
static void	 vmd_die(const char *, ...)
		    __attribute__((noreturn, format(printf, 1, 2)));
static int	 vmd_control_socket(struct vmd *);
static void	 vmd_write_pidfile(struct vmd *);
static void	 vmd_spawn_children(struct vmd *, int);
static int	 vmd_apply_config(struct vmd *, struct vmd_conf *,
		    enum vmd_apply, char *, size_t);
static void	 vmd_stagger_cancel(struct vmd *);
static int	 vmd_start_defined(struct vmd *, struct vmd_vm *, char *,
		    size_t);
static struct vmd_vm *vmd_vm_byname(struct vmd *, const char *);
static void	 vmd_vm_remove(struct vmd *, struct vmd_vm *);
static void	 vmd_apply_globals(struct vmd *, struct vmd_conf *,
		    enum vmd_apply);
static void	 vmd_start_enabled(struct vmd *);
static void	 vmd_stagger(int, short, void *);
static int	 vmd_reload(struct vmd *, const char *, char *, size_t);
static void	 vmd_reset(struct vmd *, uint32_t);
static void	 vmd_socket_owner(struct vmd *);
static int	 vmd_dispatch_control(struct imsgev *, struct imsg *);
static void	 vmd_control_closed(struct imsgev *);
static int	 vmd_dispatch_vmm(struct imsgev *, struct imsg *);
static void	 vmd_vmm_closed(struct imsgev *);
static void	 vmd_sigterm(int, short, void *);
static void	 vmd_sighup(int, short, void *);
static void	 vmd_sigchld(int, short, void *);
static void	 vmd_shutdown_timeout(int, short, void *);
static void	 vmd_shutdown(struct vmd *);
static void	 vmd_finish(struct vmd *) __attribute__((noreturn));
static void	 vmd_reply(struct vmd *, uint32_t, uint32_t, int,
		    const struct vmd_vm *, const char *);
static void	 vmd_req_start(struct vmd *, struct imsg *, uid_t);
static void	 vmd_req_terminate(struct vmd *, struct imsg *, uid_t);
static void	 vmd_req_wait(struct vmd *, struct imsg *, uid_t);
static void	 vmd_req_info(struct vmd *, struct imsg *);
static void	 vmd_req_pause(struct vmd *, struct imsg *, uid_t);
static void	 vmd_req_config(struct vmd *, struct imsg *);
static void	 vmd_req_verbose(struct vmd *, struct imsg *);
static void	 vmd_pause_done(struct vmd *, struct imsg *);
static void	 vmd_req_shutdown(struct vmd *, struct vmd_vm *, uint32_t,
		    uint32_t, uid_t);
static void	 vmd_shutdown_done(struct vmd *, struct imsg *);
static void	 vmd_vm_cancel(struct vmd *, struct vmd_vm *);
static int	 vmd_start_vm(struct vmd *, struct vmd_vm *,
		    const struct perm_cred *, uint32_t, char *, size_t);
static void	 vmd_vm_started(struct vmd *, struct imsg *);
static void	 vmd_vm_ended(struct vmd *, struct imsg *);
static void	 vmd_vm_reboot(struct vmd *, struct imsg *);
static void	 vmd_log_line(struct imsg *, const char *);
static void	 vmd_reasonf(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-dnv] [-D macro=value] [-f file] "
	    "[-s socket]\n", program_invocation_short_name);
	exit(1);
}

/* Startup errors, before logging is set up: "vmd: message". */
static void
vmd_die(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "vmd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	static struct vmd	 vmd;
	struct vmd_conf		 conf;
	const char		*conffile = VMD_CONF, *sockpath = VMD_SOCKET;
	const char		*role = NULL, *vmname = NULL;
	int			 ch, debug = 0, noaction = 0, verbose = 0;
	int			 conf_flags = CONF_ERR_STDERR, lsock, kvm;
	char			 cwd[PATH_MAX], reason[VM_REASON_MAX];
	char			 hostwhy[128];

	/* A stray signal must not end vmd or any of its processes. */
	proc_signals_ignore();
	/*
	 * '+': options end at the first operand (no GNU reordering), and
	 * complaints name vmd as OpenBSD's getopt does, not argv[0].
	 */
	opterr = 0;
	while ((ch = getopt(argc, argv, "+dD:f:nN:P:s:v")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'D':
			if (cmdline_symset(optarg) == -1)
				vmd_die("could not parse macro definition %s",
				    optarg);
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'n':
			noaction = 1;
			break;
		case 'N':
			vmname = optarg;
			break;
		case 'P':
			role = optarg;
			break;
		case 's':
			sockpath = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			if (optopt != 0 && strchr("DfNPs", optopt) != NULL)
				fprintf(stderr, "%s: option requires an "
				    "argument -- %c\n",
				    program_invocation_short_name, optopt);
			else if (optopt != 0)
				fprintf(stderr, "%s: unknown option -- %c\n",
				    program_invocation_short_name, optopt);
			usage();
		}
	}
	if (optind != argc)
		usage();

	if (role != NULL) {
		/*
		 * A re-exec'd child: fd 3 (and 4) are already in place.  It
		 * never opens syslog: its lines go to stderr until the role
		 * sends them to the parent (proc_log_to).
		 */
		proc_env_init(&vmd.env, debug, verbose);
		log_init(1, LOG_DAEMON);
		log_setverbose(verbose);
		proc_run(&vmd.env, role, vmname);
	}

	/* Only the default file may be missing: that is "no VMs". */
	if (strcmp(conffile, VMD_CONF) == 0)
		conf_flags |= CONF_MISSING_OK;
	config_init(&conf);
	if (noaction) {
		/* -n -v shows the parser's debug notes */
		log_setverbose(verbose);
		if (parse_config(conffile, conf_flags, &conf) == -1)
			exit(1);
		config_free(&conf);
		fprintf(stderr, "configuration OK\n");
		exit(0);
	}

	if (geteuid() != 0)
		vmd_die("need root privileges");
	proc_env_init(&vmd.env, debug, verbose);
	if (proc_lookup_user(&vmd.env) == -1)
		vmd_die("unknown user %s", VMD_USER);
	if ((kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) == -1)
		vmd_die("cannot open /dev/kvm: %s (is KVM available and "
		    "the kvm module loaded?)", strerror(errno));
	close(kvm);
	vmd.hostquirks = vmm_host_probe(hostwhy, sizeof(hostwhy));
	if ((vmd.env.exe_fd = open("/proc/self/exe",
	    O_RDONLY | O_CLOEXEC)) == -1)
		vmd_die("cannot open my own binary: %s", strerror(errno));
	if (parse_config(conffile, conf_flags, &conf) == -1)
		exit(1);
	/* Reloads happen after daemon() has left the directory. */
	if (conffile[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			vmd_die("getcwd: %s", strerror(errno));
		if (snprintf(vmd.conffile, sizeof(vmd.conffile), "%s/%s", cwd,
		    conffile) >= (int)sizeof(vmd.conffile))
			vmd_die("config file path too long: %s", conffile);
	} else if (snprintf(vmd.conffile, sizeof(vmd.conffile), "%s",
	    conffile) >= (int)sizeof(vmd.conffile))
		vmd_die("config file path too long: %s", conffile);
	vmd.conf_flags = conf_flags & ~CONF_ERR_STDERR;

	/* Kept absolute: the daemon leaves its directory but unlinks it. */
	if (sockpath[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			vmd_die("getcwd: %s", strerror(errno));
		if (snprintf(vmd.socket_path, sizeof(vmd.socket_path),
		    "%s/%s", cwd, sockpath) >= (int)sizeof(vmd.socket_path))
			vmd_die("socket path too long: %s", sockpath);
	} else if (snprintf(vmd.socket_path, sizeof(vmd.socket_path), "%s",
	    sockpath) >= (int)sizeof(vmd.socket_path))
		vmd_die("socket path too long: %s", sockpath);
	lsock = vmd_control_socket(&vmd);

	if (!debug && daemon(0, 0) == -1)
		vmd_die("daemon: %s", strerror(errno));
	log_init(debug, LOG_DAEMON);
	/* The rc script finds the daemon of the default socket by it. */
	if (!debug && strcmp(sockpath, VMD_SOCKET) == 0)
		vmd_write_pidfile(&vmd);
	log_setverbose(verbose);

	TAILQ_INIT(&vmd.vms);
	vmd.nextid = 1;
	if ((vmd.env.evbase = event_base_new()) == NULL)
		fatalx("event_base_new");
	evtimer_assign(&vmd.ev_stagger, vmd.env.evbase, vmd_stagger, &vmd);
	if (vmd_apply_config(&vmd, &conf, VMD_APPLY_START, reason,
	    sizeof(reason)) == -1)
		log_warnx("%s", reason);
	config_free(&conf);
	vmd_spawn_children(&vmd, lsock);

	evsignal_assign(&vmd.ev_sigterm, vmd.env.evbase, SIGTERM,
	    vmd_sigterm, &vmd);
	evsignal_assign(&vmd.ev_sigint, vmd.env.evbase, SIGINT,
	    vmd_sigterm, &vmd);
	evsignal_assign(&vmd.ev_sighup, vmd.env.evbase, SIGHUP,
	    vmd_sighup, &vmd);
	evsignal_assign(&vmd.ev_sigchld, vmd.env.evbase, SIGCHLD,
	    vmd_sigchld, &vmd);
	evtimer_assign(&vmd.ev_shutdown, vmd.env.evbase,
	    vmd_shutdown_timeout, &vmd);
	if (event_add(&vmd.ev_sigterm, NULL) == -1 ||
	    event_add(&vmd.ev_sigint, NULL) == -1 ||
	    event_add(&vmd.ev_sighup, NULL) == -1 ||
	    event_add(&vmd.ev_sigchld, NULL) == -1)
		fatalx("cannot watch signals");
	proc_signals_log(vmd.env.evbase, 0);

	sandbox_enter(&sandbox_parent, NULL);
	/* OpenBSD vmd's words, for those who grep their logs */
	log_info("startup");
	if (vmd.hostquirks) {
		log_info("host-quirk layer on: %s", hostwhy);
		log_info("Linux kernels vmd boots here get on their command "
		    "line: %s",
		    vmm_host_linux_args());
	}
	vmd_start_enabled(&vmd);
	event_base_dispatch(vmd.env.evbase);
	vmd_finish(&vmd);
}

/*
 * Create the listening control socket.  A socket that still answers
 * belongs to a running vmd: refuse to steal it.  One that does not is
 * stale and replaced.
 */
static void
vmd_write_pidfile(struct vmd *vmd)
{
	FILE	*f;
	int	 fd;

	if ((fd = open(VMD_PIDFILE, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC | O_NOFOLLOW, 0644)) == -1 ||
	    (f = fdopen(fd, "w")) == NULL) {
		log_warn("%s", VMD_PIDFILE);
		if (fd != -1)
			close(fd);
		return;
	}
	fprintf(f, "%d\n", (int)getpid());
	if (fclose(f) == EOF)
		log_warn("%s", VMD_PIDFILE);
	else
		vmd->pidfile = 1;
}

static int
vmd_control_socket(struct vmd *vmd)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	const char		*path = vmd->socket_path;
	mode_t			 old_umask;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path) >=
	    (int)sizeof(sun.sun_path))
		vmd_die("socket path too long: %s", path);

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		vmd_die("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		vmd_die("socket %s in use", path);
	close(fd);

	if (unlink(path) == -1 && errno != ENOENT)
		vmd_die("unlink %s: %s", path, strerror(errno));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		vmd_die("socket: %s", strerror(errno));
	old_umask = umask(S_IXUSR | S_IXGRP | S_IRWXO);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		vmd_die("bind %s: %s", path, strerror(errno));
	umask(old_umask);
	if (chmod(path, 0660) == -1) {
		unlink(path);
		vmd_die("chmod %s: %s", path, strerror(errno));
	}
	if (listen(fd, 16) == -1) {
		unlink(path);
		vmd_die("listen %s: %s", path, strerror(errno));
	}
	if (stat(path, &st) == 0) {
		vmd->socket_dev = st.st_dev;
		vmd->socket_ino = st.st_ino;
	}
	return (fd);
}

static void
vmd_spawn_children(struct vmd *vmd, int lsock)
{
	int	 cp[2], vp[2], fds[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cp) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, vp) == -1)
		fatal("socketpair");

	fds[0] = cp[1];
	fds[1] = lsock;
	if ((vmd->control_pid = proc_spawn(&vmd->env, "control", NULL,
	    "vmd: control", fds, 2)) == -1)
		fatalx("cannot start the control process: %s",
		    proc_spawn_error());
	close(cp[1]);
	close(lsock);

	fds[0] = vp[1];
	fds[1] = vmd->env.exe_fd;
	if ((vmd->vmm_pid = proc_spawn(&vmd->env, "vmm", NULL, "vmd: vmm",
	    fds, 2)) == -1)
		fatalx("cannot start the vmm process: %s",
		    proc_spawn_error());
	close(vp[1]);
	/* priv: the host side of networks; what a killed vmd left goes */
	if (netconf_start(&vmd->env, vmd->socket_path) == -1)
		fatalx("cannot start the priv process: %s",
		    proc_spawn_error());
	netconf_cleanup();
	config_tap_opener(netconf_open_tap);
	/* Only vmm starts processes from now on. */
	close(vmd->env.exe_fd);
	vmd->env.exe_fd = -1;

	if (imsgev_init(&vmd->control, vmd->env.evbase, cp[0], "control", 0,
	    vmd_dispatch_control, vmd_control_closed, vmd) == -1 ||
	    imsgev_init(&vmd->vmm, vmd->env.evbase, vp[0], "vmm", 0,
	    vmd_dispatch_vmm, vmd_vmm_closed, vmd) == -1)
		fatal("channels");
}

static struct vmd_vm *
vmd_vm_byid(struct vmd *vmd, uint32_t id)
{
	struct vmd_vm	*vm;

	TAILQ_FOREACH(vm, &vmd->vms, entry)
		if (vm->id == id)
			return (vm);
	return (NULL);
}

static struct vmd_vm *
vmd_vm_byname(struct vmd *vmd, const char *name)
{
	struct vmd_vm	*vm;

	TAILQ_FOREACH(vm, &vmd->vms, entry)
		if (strcmp(vm->name, name) == 0)
			return (vm);
	return (NULL);
}

/* A VM started by vmctl alone is forgotten when it ends, as on OpenBSD. */
static void
vmd_vm_remove(struct vmd *vmd, struct vmd_vm *vm)
{
	struct vmd_waiter	*w;

	while ((w = TAILQ_FIRST(&vm->waiters)) != NULL) {
		TAILQ_REMOVE(&vm->waiters, w, entry);
		free(w);
	}
	TAILQ_REMOVE(&vmd->vms, vm, entry);
	free(vm->def);
	free(vm);
}

/* The registry's own copy of a definition. */
static struct vmd_conf_vm *
vmd_def_dup(const struct vmd_conf_vm *cv)
{
	struct vmd_conf_vm	*def;

	if ((def = malloc(sizeof(*def))) == NULL)
		return (NULL);
	*def = *cv;
	memset(&def->entry, 0, sizeof(def->entry));
	return (def);
}

/* A new VM gets the next id, as on OpenBSD; def becomes the VM's. */
static struct vmd_vm *
vmd_vm_new(struct vmd *vmd, const char *name, struct vmd_conf_vm *def)
{
	struct vmd_vm	*vm;

	if ((vm = calloc(1, sizeof(*vm))) == NULL)
		return (NULL);
	vm->id = vmd->nextid++;
	(void)snprintf(vm->name, sizeof(vm->name), "%s", name);
	vm->def = def;
	vm->state = VM_STATE_STOPPED;
	vm->pid = -1;
	TAILQ_INIT(&vm->waiters);
	TAILQ_INSERT_TAIL(&vmd->vms, vm, entry);
	return (vm);
}

static int
vmd_has_process(const struct vmd_vm *vm)
{
	return (vm->state == VM_STATE_STARTING ||
	    vm->state == VM_STATE_RUNNING || vm->state == VM_STATE_SHUTDOWN ||
	    vm->state == VM_STATE_PAUSED);
}

/*
 * Take a parsed file into the registry.  START and RELOAD make it the
 * configuration: definitions are replaced (a running VM keeps its run),
 * VMs gone from the file are forgotten once stopped.  LOAD only adds
 * the VMs whose names are new.  Nothing is changed when it fails.
 */
static int
vmd_apply_config(struct vmd *vmd, struct vmd_conf *conf,
    enum vmd_apply how, char *reason, size_t rlen)
{
	struct vmd_conf_vm	*cv, *def;
	struct vmd_vm		*vm, *next;

	/* parse.y made the instances of vm.conf (config_instance_apply). */
	vmd_stagger_cancel(vmd);

	if (how == VMD_APPLY_RELOAD) {
		for (vm = TAILQ_FIRST(&vmd->vms); vm != NULL; vm = next) {
			next = TAILQ_NEXT(vm, entry);
			if (!vm->configured ||
			    config_find_vm(conf, vm->name) != NULL)
				continue;
			log_debug("vm %s: no longer configured", vm->name);
			if (vmd_has_process(vm))
				vm->configured = 0;
			else
				vmd_vm_remove(vmd, vm);
		}
	}
	TAILQ_FOREACH(cv, &conf->vms, entry) {
		vm = vmd_vm_byname(vmd, cv->params.vmc_name);
		if (vm != NULL && how == VMD_APPLY_LOAD) {
			log_info("vm %s skipped (%s)", vm->name,
			    vmd_has_process(vm) ? "running" :
			    "already exists");
			continue;
		}
		if ((def = vmd_def_dup(cv)) == NULL) {
			log_warn("vm %s", cv->params.vmc_name);
			continue;
		}
		if (vm == NULL &&
		    (vm = vmd_vm_new(vmd, cv->params.vmc_name, def)) == NULL) {
			log_warn("vm %s", cv->params.vmc_name);
			free(def);
			continue;
		}
		if (vm->def != def) {
			free(vm->def);
			vm->def = def;
		}
		vm->configured = 1;
		vm->disabled = cv->disabled;
		log_debug("vm %s registered (%s)", vm->name,
		    vm->disabled ? "disabled" : "enabled");
	}
	vmd_apply_globals(vmd, conf, how);
	return (0);
}

/* The global settings; a loaded file does not change them. */
static void
vmd_apply_globals(struct vmd *vmd, struct vmd_conf *conf,
    enum vmd_apply how)
{
	if (how == VMD_APPLY_LOAD)
		return;
	vmd->stagger_parallel = conf->stagger_parallel > 0 ?
	    conf->stagger_parallel : 0;
	vmd->stagger_delay = conf->stagger_delay > 0 ? conf->stagger_delay :
	    0;
	vmd->sock_owner = conf->sock_owner;
	vmd_socket_owner(vmd);
	netconf_apply(conf);
	if (conf->agentx)
		log_warnx("agentx is not supported yet, ignored");
}

/*
 * "socket owner user:group" hands the control socket to them (mode
 * stays 0660); without it the socket is root's again.
 */
static void
vmd_socket_owner(struct vmd *vmd)
{
	struct stat	 st;
	uid_t		 uid = 0;
	gid_t		 gid = 0;

	if (vmd->sock_owner.set) {
		if (vmd->sock_owner.uid != (uid_t)-1)
			uid = vmd->sock_owner.uid;
		if (vmd->sock_owner.gid != (gid_t)-1)
			gid = vmd->sock_owner.gid;
	}
	if (stat(vmd->socket_path, &st) == -1 ||
	    st.st_dev != vmd->socket_dev || st.st_ino != vmd->socket_ino)
		return;
	if ((st.st_uid != uid || st.st_gid != gid) &&
	    chown(vmd->socket_path, uid, gid) == -1)
		log_warn("chown %s", vmd->socket_path);
}

/* Staggered groups not started yet go back to "stopped". */
static void
vmd_stagger_cancel(struct vmd *vmd)
{
	struct vmd_vm	*vm;

	evtimer_del(&vmd->ev_stagger);
	TAILQ_FOREACH(vm, &vmd->vms, entry)
		if (vm->state == VM_STATE_WAITING)
			vm->state = VM_STATE_STOPPED;
}

/*
 * Every enabled configured VM that is not running starts: all at once,
 * or "staggered start parallel N delay S": N now, N more every S
 * seconds, the rest "waiting" meanwhile.
 */
static void
vmd_start_enabled(struct vmd *vmd)
{
	struct vmd_vm	*vm;

	vmd_stagger_cancel(vmd);
	if (vmd->shutting_down)
		return;
	TAILQ_FOREACH(vm, &vmd->vms, entry)
		if (vm->configured && !vm->disabled &&
		    vm->state == VM_STATE_STOPPED)
			vm->state = VM_STATE_WAITING;
	vmd_stagger(-1, 0, vmd);
}

static void
vmd_stagger(int fd, short events, void *arg)
{
	struct vmd	*vmd = arg;
	struct vmd_vm	*vm;
	struct timeval	 tv;
	char		 reason[VM_REASON_MAX];
	int		 n = 0, more = 0;

	TAILQ_FOREACH(vm, &vmd->vms, entry) {
		if (vm->state != VM_STATE_WAITING)
			continue;
		if (vmd->stagger_parallel > 0 && n >= vmd->stagger_parallel) {
			more = 1;
			break;
		}
		n++;
		vm->state = VM_STATE_STOPPED;
		if (vmd_start_defined(vmd, vm, reason, sizeof(reason)) != 0)
			log_warnx("vm %s: %s", vm->name, reason);
	}
	if (more) {
		tv.tv_sec = vmd->stagger_delay;
		tv.tv_usec = 0;
		evtimer_add(&vmd->ev_stagger, &tv);
	}
}

static int
vmd_running(struct vmd *vmd)
{
	struct vmd_vm	*vm;
	int		 n = 0;

	TAILQ_FOREACH(vm, &vmd->vms, entry)
		if (vmd_has_process(vm))
			n++;
	return (n);
}

static void
vmd_reply(struct vmd *vmd, uint32_t peerid, uint32_t type, int error,
    const struct vmd_vm *vm, const char *reason)
{
	struct vmop_result	 vmr;

	if (peerid == VMD_PEERID_NONE)
		return;
	memset(&vmr, 0, sizeof(vmr));
	vmr.vmr_result = error;
	vmr.vmr_pid = -1;
	if (vm != NULL) {
		vmr.vmr_id = vm->id;
		vmr.vmr_pid = vm->pid;
		(void)snprintf(vmr.vmr_ttyname, sizeof(vmr.vmr_ttyname), "%s",
		    vm->ttyname);
	}
	if (reason != NULL)
		(void)snprintf(vmr.vmr_reason, sizeof(vmr.vmr_reason), "%s",
		    reason);
	imsgev_compose(&vmd->control, type, peerid, 0, -1, &vmr,
	    sizeof(vmr));
}

/*
 * A vmctl connection closed: nobody is left to answer there.  Its waits
 * are forgotten; a start or pause it asked for goes on, unanswered.
 */
static void
vmd_client_gone(struct vmd *vmd, uint32_t peerid)
{
	struct vmd_vm		*vm;
	struct vmd_waiter	*w, *next;
	int			 n = 0;

	TAILQ_FOREACH(vm, &vmd->vms, entry) {
		if (vm->start_pending && vm->start_peer == peerid)
			vm->start_peer = VMD_PEERID_NONE;
		if (vm->pause_pending && vm->pause_peer == peerid)
			vm->pause_peer = VMD_PEERID_NONE;
		if (vm->stop_pending && vm->stop_peer == peerid)
			vm->stop_peer = VMD_PEERID_NONE;
		for (w = TAILQ_FIRST(&vm->waiters); w != NULL; w = next) {
			next = TAILQ_NEXT(w, entry);
			if (w->peerid != peerid)
				continue;
			TAILQ_REMOVE(&vm->waiters, w, entry);
			free(w);
			n++;
		}
	}
	if (n > 0)
		log_debug("client %u gone, %d wait(s) dropped", peerid, n);
}

/*
 * Requests from vmctl, relayed by control: peerid, uid in the pid.
 * msg_ok checked them as control did; each type has its one handler.
 */
static int
vmd_dispatch_control(struct imsgev *iev, struct imsg *imsg)
{
	struct vmd	*vmd = iev->arg;
	uid_t		 uid = (uid_t)imsg_get_pid(imsg);
	uint32_t	 type = imsg_get_type(imsg);

	if (!msg_ok(imsg, MSG_CLIENT | MSG_CONTROL_PARENT, "control"))
		return (0);
	/* control refuses these to users; so do we. */
	if (perm_root_only(type) && uid != 0) {
		log_warnx("denied request %u from uid %u", type,
		    (unsigned)uid);
		vmd_reply(vmd, imsg_get_id(imsg), IMSG_CTL_FAIL, EPERM, NULL,
		    "permission denied");
		return (0);
	}
	switch (type) {
	case IMSG_VMDOP_START_VM_REQUEST:
		vmd_req_start(vmd, imsg, uid);
		break;
	case IMSG_VMDOP_TERMINATE_VM_REQUEST:
		vmd_req_terminate(vmd, imsg, uid);
		break;
	case IMSG_VMDOP_WAIT_VM_REQUEST:
		vmd_req_wait(vmd, imsg, uid);
		break;
	case IMSG_VMDOP_GET_INFO_VM_REQUEST:
		vmd_req_info(vmd, imsg);
		break;
	case IMSG_VMDOP_PAUSE_VM:
	case IMSG_VMDOP_UNPAUSE_VM:
		vmd_req_pause(vmd, imsg, uid);
		break;
	case IMSG_CTL_VERBOSE:
		vmd_req_verbose(vmd, imsg);
		break;
	case IMSG_VMDOP_RELOAD:
	case IMSG_VMDOP_LOAD:
	case IMSG_CTL_RESET:
		vmd_req_config(vmd, imsg);
		break;
	case IMSG_CTL_CLIENT_GONE:
		vmd_client_gone(vmd, imsg_get_id(imsg));
		break;
	case IMSG_LOG:
		vmd_log_line(imsg, "control");
		break;
	}
	return (0);
}

/* News from vmm about the VMs. */
static int
vmd_dispatch_vmm(struct imsgev *iev, struct imsg *imsg)
{
	struct vmd	*vmd = iev->arg;

	if (!msg_ok(imsg, MSG_VMM_PARENT, "vmm"))
		return (0);
	switch (imsg_get_type(imsg)) {
	case IMSG_VMDOP_VM_STARTED:
		vmd_vm_started(vmd, imsg);
		break;
	case IMSG_VMDOP_TERMINATE_VM_EVENT:
		vmd_vm_ended(vmd, imsg);
		break;
	case IMSG_VMDOP_VM_REBOOT:
		vmd_vm_reboot(vmd, imsg);
		break;
	case IMSG_VMDOP_PAUSE_VM_RESPONSE:
	case IMSG_VMDOP_UNPAUSE_VM_RESPONSE:
		vmd_pause_done(vmd, imsg);
		break;
	case IMSG_VMDOP_VM_SHUTDOWN_RESPONSE:
		vmd_shutdown_done(vmd, imsg);
		break;
	case IMSG_LOG:
		vmd_log_line(imsg, NULL);
		break;
	}
	return (0);
}

/*
 * A child's log line: the parent is the one process that writes the
 * log.  control's lines carry its name; vmm names its own ("vmm") and
 * those it relays for vm processes ("vm NAME"), proc is then NULL.
 */
static void
vmd_log_line(struct imsg *imsg, const char *proc)
{
	struct vmop_log	 vl;
	char		 text[VMD_LOG_TEXT_MAX + 1], note[64];

	if (proc_log_parse(imsg, &vl, text, sizeof(text)) == -1) {
		log_warnx("%s: malformed log message, dropped",
		    proc != NULL ? proc : "vmm");
		return;
	}
	if (proc == NULL)
		proc = vl.vl_proc[0] != '\0' ? vl.vl_proc : "vmm";
	if (vl.vl_dropped > 0) {
		(void)snprintf(note, sizeof(note),
		    "%u log messages dropped", vl.vl_dropped);
		log_emit(LOG_WARNING, proc, note);
	}
	log_emit(vl.vl_pri, proc, text);
}

/*
 * The parameters of this run: the configured VM's (if any) with what
 * vmctl gave on its command line on top, then the defaults and limits.
 */
static int
vmd_merge_params(const struct vmd_vm *vm,
    const struct vmop_create_params *req, struct vmop_create_params *out,
    char *reason, size_t rlen)
{
	if (vm != NULL)
		*out = vm->def->params;
	else {
		memset(out, 0, sizeof(*out));
		(void)snprintf(out->vmc_name, sizeof(out->vmc_name), "%s",
		    req->vmc_name);
	}
	if (req->vmc_flags & VMOP_CREATE_KERNEL) {
		memcpy(out->vmc_kernel, req->vmc_kernel,
		    sizeof(out->vmc_kernel));
		out->vmc_flags |= VMOP_CREATE_KERNEL;
	}
	if ((req->vmc_flags & VMOP_CREATE_MEMORY) && req->vmc_memsize != 0) {
		out->vmc_memsize = req->vmc_memsize;
		out->vmc_flags |= VMOP_CREATE_MEMORY;
	}
	if (req->vmc_flags & VMOP_CREATE_CMDLINE) {
		memcpy(out->vmc_cmdline, req->vmc_cmdline,
		    sizeof(out->vmc_cmdline));
		out->vmc_flags |= VMOP_CREATE_CMDLINE;
	}
	if (req->vmc_flags & VMOP_CREATE_INITRD) {
		memcpy(out->vmc_initrd, req->vmc_initrd,
		    sizeof(out->vmc_initrd));
		out->vmc_flags |= VMOP_CREATE_INITRD;
	}
	/* Disks a request names replace the configured ones. */
	if ((req->vmc_flags & VMOP_CREATE_DISK) && req->vmc_ndisks > 0) {
		out->vmc_ndisks = req->vmc_ndisks;
		memcpy(out->vmc_disktypes, req->vmc_disktypes,
		    sizeof(out->vmc_disktypes));
		memcpy(out->vmc_disks, req->vmc_disks, sizeof(out->vmc_disks));
		out->vmc_flags |= VMOP_CREATE_DISK;
	}
	/* A CD-ROM a request names replaces the configured one. */
	if ((req->vmc_flags & VMOP_CREATE_CDROM) &&
	    req->vmc_cdrom[0] != '\0') {
		memcpy(out->vmc_cdrom, req->vmc_cdrom, sizeof(out->vmc_cdrom));
		out->vmc_flags |= VMOP_CREATE_CDROM;
	}
	if (out->vmc_kernel[0] == '\0' && out->vmc_initrd[0] != '\0') {
		(void)snprintf(reason, rlen, "initrd given without a kernel "
		    "to boot");
		return (EINVAL);
	}
	/* vmctl's interfaces replace the definition's for this run */
	out->vmc_nnics = 0;
	memset(out->vmc_nics, 0, sizeof(out->vmc_nics));
	if ((req->vmc_flags & VMOP_CREATE_NETWORK) && req->vmc_nnics > 0) {
		out->vmc_nnics = req->vmc_nnics;
		memcpy(out->vmc_nics, req->vmc_nics, sizeof(out->vmc_nics));
		out->vmc_flags |= VMOP_CREATE_NETWORK;
	}
	/* Without a kernel the firmware boots, as on OpenBSD. */
	if (out->vmc_kernel[0] == '\0') {
		(void)snprintf(out->vmc_kernel, sizeof(out->vmc_kernel), "%s",
		    VM_DEFAULT_BIOS);
		out->vmc_flags &= ~VMOP_CREATE_KERNEL;
	}
	out->vmc_bootdevice = vm != NULL ? (uint32_t)vm->def->bootdev :
	    VMBOOTDEV_AUTO;
	if (req->vmc_bootdevice != VMBOOTDEV_AUTO)
		out->vmc_bootdevice = req->vmc_bootdevice;
	if (out->vmc_memsize == 0)
		out->vmc_memsize = VM_DEFAULT_MEMORY;
	/* Whole megabytes, as vm.conf gives them. */
	out->vmc_memsize &= ~((1ULL << 20) - 1);
	if (config_check_memsize(out->vmc_memsize, reason, rlen) == -1)
		return (EINVAL);
	if (req->vmc_flags & VMOP_CREATE_VCPUS) {
		out->vmc_ncpus = req->vmc_ncpus;
		out->vmc_flags |= VMOP_CREATE_VCPUS;
	}
	if (out->vmc_ncpus == 0)
		out->vmc_ncpus = 1;
	if (out->vmc_ncpus > VM_MAX_VCPUS) {
		(void)snprintf(reason, rlen, "vcpu count %u: at most %d",
		    out->vmc_ncpus, VM_MAX_VCPUS);
		return (EINVAL);
	}
	out->vmc_ttyname[0] = '\0';
	return (0);
}

/* A running VM is checked against the owner of its run, as on OpenBSD. */
static const struct vmd_conf_owner *
vmd_owner(const struct vmd_vm *vm)
{
	return (vmd_has_process(vm) ? &vm->run_owner : &vm->def->owner);
}

/* May uid act on vm?  Looks the user up only when it is not root. */
static int
vmd_checkperm(const struct vmd_vm *vm, uid_t uid)
{
	struct perm_cred	 cred;

	config_cred(uid, &cred);
	return (perm_owner_ok(vmd_owner(vm), &cred));
}

static void
vmd_denied(const char *name, uint32_t type, uid_t uid)
{
	log_warnx("vm %s: denied request %u from uid %u", name, type,
	    (unsigned)uid);
}

/*
 * An instance of a template, from "vmctl start -t template name": who
 * may make one is the template's "allow instance" owner (or root), what
 * it may change its "allow instance" flags (config_instance_check); the
 * instance is owned by the user who made it and the template's group.
 */
static int
vmd_instance(struct vmd *vmd, const struct vmop_create_params *req,
    const struct perm_cred *cred, struct vmd_conf_vm **out, char *reason,
    size_t rlen)
{
	uid_t			 uid = cred->uid;
	struct vmd_conf_vm	*child;
	struct vmd_vm		*parent;
	char			 err[VM_REASON_MAX];
	uint32_t		 i;

	if ((parent = vmd_vm_byname(vmd, req->vmc_instance)) == NULL) {
		(void)snprintf(reason, rlen, "invalid template %s",
		    req->vmc_instance);
		return (ENOENT);
	}
	if (vmd_vm_byname(vmd, req->vmc_name) != NULL) {
		(void)snprintf(reason, rlen, "vm %s already exists",
		    req->vmc_name);
		return (EALREADY);
	}
	if (perm_instance(&parent->def->allow_owner, cred) != 0) {
		log_warnx("vm \"%s\" no permission to create vm instance "
		    "(uid %u)", parent->name, (unsigned)uid);
		(void)snprintf(reason, rlen, "no permission to create an "
		    "instance of vm %s", parent->name);
		return (EPERM);
	}
	if ((child = calloc(1, sizeof(*child))) == NULL) {
		(void)snprintf(reason, rlen, "out of memory");
		return (ENOMEM);
	}
	(void)snprintf(child->params.vmc_name, sizeof(child->params.vmc_name),
	    "%s", req->vmc_name);
	child->params.vmc_flags = req->vmc_flags &
	    (VMOP_CREATE_KERNEL | VMOP_CREATE_MEMORY | VMOP_CREATE_CMDLINE |
	    VMOP_CREATE_INITRD | VMOP_CREATE_DISK |
	    VMOP_CREATE_VCPUS | VMOP_CREATE_CDROM);
	if (req->vmc_flags & VMOP_CREATE_VCPUS)
		child->params.vmc_ncpus = req->vmc_ncpus;
	if (req->vmc_flags & VMOP_CREATE_CDROM)
		(void)snprintf(child->cdrom, sizeof(child->cdrom), "%s",
		    req->vmc_cdrom);
	for (i = 0; i < req->vmc_ndisks && i < VM_MAX_DISKS; i++) {
		(void)snprintf(child->disk[i].path,
		    sizeof(child->disk[i].path), "%s", req->vmc_disks[i]);
		child->disk[i].format = req->vmc_disktypes[i] ==
		    VMOP_DISK_QCOW2 ? VMDF_QCOW2 : VMDF_RAW;
		child->ndisks = i + 1;
	}
	if (req->vmc_flags & VMOP_CREATE_KERNEL)
		memcpy(child->params.vmc_kernel, req->vmc_kernel,
		    sizeof(child->params.vmc_kernel));
	if (req->vmc_flags & VMOP_CREATE_INITRD)
		memcpy(child->params.vmc_initrd, req->vmc_initrd,
		    sizeof(child->params.vmc_initrd));
	child->bootdev = (enum vm_bootdev)req->vmc_bootdevice;
	if (req->vmc_flags & VMOP_CREATE_MEMORY)
		child->params.vmc_memsize = req->vmc_memsize;
	if (req->vmc_flags & VMOP_CREATE_CMDLINE)
		memcpy(child->params.vmc_cmdline, req->vmc_cmdline,
		    sizeof(child->params.vmc_cmdline));
	child->lineno = parent->def->lineno;
	if (config_instance_apply(parent->def, child, uid == 0, err,
	    sizeof(err)) == -1) {
		log_warnx("%s (uid %u)", err, (unsigned)uid);
		(void)snprintf(reason, rlen, "%s", err);
		free(child);
		return (EPERM);
	}
	(void)snprintf(child->params.vmc_instance,
	    sizeof(child->params.vmc_instance), "%s", parent->name);
	perm_instance_owner(&parent->def->owner, cred, &child->owner);
	*out = child;
	return (0);
}

static void
vmd_req_start(struct vmd *vmd, struct imsg *imsg, uid_t uid)
{
	struct vmop_create_params req, params;
	struct vmd_conf_vm	*def = NULL;
	struct vmd_vm		*vm;
	struct perm_cred	 cred;
	uint32_t		 peer = imsg_get_id(imsg);
	char			 reason[VM_REASON_MAX];
	int			 error, created = 0;
	uint32_t		 reqflags;

	if (imsg_get_data(imsg, &req, sizeof(req)) == -1)
		return;
	config_cred(uid, &cred);
	/* Paths the requester names are opened with its credentials. */
	reqflags = req.vmc_flags;
	if (vmd->shutting_down) {
		vmd_reply(vmd, peer, IMSG_VMDOP_START_VM_RESPONSE, EBUSY, NULL,
		    "vmd is shutting down");
		return;
	}
	if (!vmd_valid_name(req.vmc_name)) {
		vmd_reply(vmd, peer, IMSG_VMDOP_START_VM_RESPONSE, EINVAL,
		    NULL, "invalid vm name");
		return;
	}
	vm = vmd_vm_byname(vmd, req.vmc_name);
	/* Before anything else, so that an instance is refused as a start. */
	if ((req.vmc_flags & VMOP_CREATE_VCPUS) && (req.vmc_ncpus < 1 ||
	    req.vmc_ncpus > VM_MAX_VCPUS)) {
		(void)snprintf(reason, sizeof(reason), "vcpu count %u: "
		    "the count must be 1 to %d", req.vmc_ncpus, VM_MAX_VCPUS);
		log_warnx("vm %s: %s", req.vmc_name, reason);
		vmd_reply(vmd, peer, IMSG_VMDOP_START_VM_RESPONSE, EINVAL, vm,
		    reason);
		return;
	}
	if (req.vmc_instance[0] != '\0') {
		if ((error = vmd_instance(vmd, &req, &cred, &def, reason,
		    sizeof(reason))) != 0) {
			vmd_reply(vmd, peer, IMSG_VMDOP_START_VM_RESPONSE,
			    error, vm, reason);
			return;
		}
		if ((vm = vmd_vm_new(vmd, req.vmc_name, def)) == NULL) {
			free(def);
			vmd_reply(vmd, peer, IMSG_VMDOP_START_VM_RESPONSE,
			    ENOMEM, NULL, "out of memory");
			return;
		}
		created = 1;
		/* What the request changes is in the definition now. */
		memset(&req, 0, sizeof(req));
	} else if (perm_start(&cred, vm != NULL ? vmd_owner(vm) : NULL,
	    req.vmc_flags) != 0) {
		/* Users start vm.conf's VMs as they are, or instances. */
		vmd_denied(req.vmc_name, IMSG_VMDOP_START_VM_REQUEST, uid);
		vmd_reply(vmd, peer, IMSG_VMDOP_START_VM_RESPONSE, EPERM, vm,
		    "permission denied");
		return;
	} else if (vm != NULL && vm->state != VM_STATE_STOPPED &&
	    vm->state != VM_STATE_WAITING) {
		vmd_reply(vmd, peer, IMSG_VMDOP_START_VM_RESPONSE, EALREADY,
		    vm, "vm already running");
		return;
	}
	if ((error = vmd_merge_params(vm, &req, &params, reason,
	    sizeof(reason))) != 0) {
		if (vm != NULL)
			goto fail;
		vmd_reply(vmd, peer, IMSG_VMDOP_START_VM_RESPONSE, error, NULL,
		    reason);
		return;
	}
	if (vm == NULL) {
		/* A VM of vmctl's alone: forgotten when it ends. */
		if ((def = calloc(1, sizeof(*def))) == NULL ||
		    (vm = vmd_vm_new(vmd, req.vmc_name, def)) == NULL) {
			free(def);
			vmd_reply(vmd, peer, IMSG_VMDOP_START_VM_RESPONSE,
			    ENOMEM, NULL, "out of memory");
			return;
		}
		def->params = params;
		created = 1;
	}
	vm->state = VM_STATE_STOPPED;
	vm->params = params;
	if ((error = vmd_start_vm(vmd, vm, &cred, reqflags, reason,
	    sizeof(reason))) != 0)
		goto fail;
	vm->start_pending = 1;
	vm->start_peer = peer;
	return;
 fail:
	log_warnx("vm %s: %s", vm->name, reason);
	vmd_reply(vmd, peer, IMSG_VMDOP_START_VM_RESPONSE, error, vm,
	    reason);
	/* A start that never happened does not use up an id. */
	if (created) {
		if (vm->id == vmd->nextid - 1)
			vmd->nextid--;
		vmd_vm_remove(vmd, vm);
	}
}

/* A definition's VM, started by vmd itself (vm.conf, reload, stagger). */
static int
vmd_start_defined(struct vmd *vmd, struct vmd_vm *vm, char *reason,
    size_t rlen)
{
	struct vmop_create_params	 req, params;
	struct perm_cred		 root;
	int				 error;

	memset(&req, 0, sizeof(req));
	if ((error = vmd_merge_params(vm, &req, &params, reason, rlen)) != 0)
		return (error);
	vm->params = params;
	config_cred(0, &root);
	return (vmd_start_vm(vmd, vm, &root, 0, reason, rlen));
}

/* A reason for vmctl; long paths are cut, which is fine for a message. */
static void
vmd_reasonf(char *reason, size_t rlen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(reason, rlen, fmt, ap);
	va_end(ap);
}

/* config_setvm's way to vmm. */
static int
vmd_send_vmm(void *arg, uint32_t type, int fd, const void *data, size_t len)
{
	struct vmd	*vmd = arg;

	return (imsgev_compose(&vmd->vmm, type, 0, 0, fd, data, len));
}

/*
 * Open what the VM needs and send it to vmm, which starts the vm
 * process (config_setvm); paths the request named (reqflags) are opened
 * with cred's rights.  Returns 0 (the answer comes with VM_STARTED or
 * the VM's end) or an errno value with reason filled in.
 */
static int
vmd_start_vm(struct vmd *vmd, struct vmd_vm *vm, const struct perm_cred *cred,
    uint32_t reqflags, char *reason, size_t rlen)
{
	const struct vmd_conf_vm	*def = vm->def;
	struct vmd_conf_vm		*run = NULL;
	uint32_t			 i;
	int				 error;

	/* interfaces from vmctl (-i, -n, -L): this run's, with new MACs */
	if (vm->params.vmc_nnics > 0) {
		if ((run = malloc(sizeof(*run))) == NULL) {
			vmd_reasonf(reason, rlen, "out of memory");
			return (ENOMEM);
		}
		*run = *vm->def;
		run->nnics = vm->params.vmc_nnics;
		for (i = 0; i < run->nnics && i < VM_MAX_NICS; i++) {
			memset(&run->nic[i], 0, sizeof(run->nic[i]));
			run->nic[i].rdomain = -1;
			run->nic[i].updown = -1;
			run->nic[i].local = (vm->params.vmc_nics[i].vn_flags &
			    VMOP_NIC_LOCAL) != 0;
			(void)snprintf(run->nic[i].sw, sizeof(run->nic[i].sw),
			    "%s", vm->params.vmc_nics[i].vn_switch);
			config_random_lladdr(run->nic[i].lladdr);
		}
		def = run;
	}
	vm->run_owner = vm->def->owner;
	vm->params.vmc_owner_uid = vm->run_owner.set &&
	    vm->run_owner.uid != (uid_t)-1 ? vm->run_owner.uid : 0;
	vm->params.vmc_owner_gid = vm->run_owner.set ?
	    (uint32_t)vm->run_owner.gid : (uint32_t)-1;
	vm->params.vmc_id = vm->id;
	if (vmd->hostquirks)
		vm->params.vmc_flags |= VMOP_CREATE_HOSTQUIRKS;
	else
		vm->params.vmc_flags &= ~VMOP_CREATE_HOSTQUIRKS;
	error = config_setvm(vmd_send_vmm, vmd, def, &vm->params, cred,
	    reqflags, reason, rlen);
	free(run);
	if (error != 0) {
		vm->ttyname[0] = '\0';
		return (error);
	}
	(void)snprintf(vm->ttyname, sizeof(vm->ttyname), "%s",
	    vm->params.vmc_ttyname);
	vm->state = VM_STATE_STARTING;
	vm->pid = -1;
	log_debug("vm %s: starting, id %u, tty %s", vm->name, vm->id,
	    vm->ttyname);
	return (0);
}

/*
 * The VM a report of vmm's is about, if it is in a state to get one
 * (state: want it, or !state: not it); a stray report is logged.
 */
static struct vmd_vm *
vmd_report_vm(struct vmd *vmd, struct imsg *imsg, struct vmop_result *vmr,
    int state, int want, const char *what)
{
	struct vmd_vm	*vm;

	if (imsg_get_data(imsg, vmr, sizeof(*vmr)) == -1)
		return (NULL);
	if ((vm = vmd_vm_byid(vmd, vmr->vmr_id)) == NULL ||
	    (vm->state == state) != want) {
		log_debug("vm %u: stray %s report", vmr->vmr_id, what);
		return (NULL);
	}
	return (vm);
}

static void
vmd_vm_started(struct vmd *vmd, struct imsg *imsg)
{
	struct vmop_result	 vmr;
	struct vmd_vm		*vm;

	if ((vm = vmd_report_vm(vmd, imsg, &vmr, VM_STATE_STARTING, 1,
	    "start")) == NULL)
		return;
	if (vmr.vmr_result != 0) {
		/* Stays "starting" until vmm reports the process gone. */
		log_warnx("vm %s: start failed: %s", vm->name,
		    vmr.vmr_reason);
		if (vm->start_pending)
			vmd_reply(vmd, vm->start_peer,
			    IMSG_VMDOP_START_VM_RESPONSE, vmr.vmr_result, vm,
			    vmr.vmr_reason);
		vm->start_pending = 0;
		return;
	}
	vm->pid = vmr.vmr_pid;
	vm->state = VM_STATE_RUNNING;
	log_info("started %s (vm %u) successfully, tty %s", vm->name, vm->id,
	    vm->ttyname);
	log_debug("vm %s: pid %d", vm->name, (int)vm->pid);
	if (vm->start_pending)
		vmd_reply(vmd, vm->start_peer, IMSG_VMDOP_START_VM_RESPONSE, 0,
		    vm, NULL);
	vm->start_pending = 0;
}

static void
vmd_vm_ended(struct vmd *vmd, struct imsg *imsg)
{
	struct vmop_result	 vmr;
	struct vmd_waiter	*w;
	struct vmd_vm		*vm;
	const char		*why;
	int			 error;

	if ((vm = vmd_report_vm(vmd, imsg, &vmr, VM_STATE_STOPPED, 0,
	    "end")) == NULL)
		return;
	switch (vmr.vmr_state) {
	case VM_END_POWEROFF:
		why = "powered off";
		break;
	case VM_END_STOPPED:
		why = "stopped";
		break;
	default:
		why = vmr.vmr_reason[0] != '\0' ? vmr.vmr_reason : "ended";
		break;
	}
	log_info("vm %s: %s", vm->name, why);

	if (vm->start_pending) {
		error = vmr.vmr_result != 0 ? vmr.vmr_result : EIO;
		vmd_reply(vmd, vm->start_peer, IMSG_VMDOP_START_VM_RESPONSE,
		    error, vm, why);
		vm->start_pending = 0;
	}
	if (vm->pause_pending) {
		vmd_reply(vmd, vm->pause_peer, vm->pause_type, EINVAL, vm,
		    why);
		vm->pause_pending = 0;
	}
	/* asked to shut down, it did (or was stopped): done as asked */
	if (vm->stop_pending && !vm->stop_wait)
		vmd_reply(vmd, vm->stop_peer, IMSG_VMDOP_TERMINATE_VM_RESPONSE,
		    0, vm, NULL);
	vm->stop_pending = vm->shutdown = 0;
	vm->state = VM_STATE_STOPPED;
	vm->pid = -1;
	vm->ttyname[0] = '\0';
	while ((w = TAILQ_FIRST(&vm->waiters)) != NULL) {
		TAILQ_REMOVE(&vm->waiters, w, entry);
		vmd_reply(vmd, w->peerid, w->type, 0, vm, why);
		free(w);
	}
	if (!vm->configured)
		vmd_vm_remove(vmd, vm);
	if (vmd->shutting_down && vmd_running(vmd) == 0)
		vmd_finish(vmd);
}

static void
vmd_vm_reboot(struct vmd *vmd, struct imsg *imsg)
{
	struct vmop_id	 vid;
	struct vmd_vm	*vm;

	if (imsg_get_data(imsg, &vid, sizeof(vid)) == -1)
		return;
	if ((vm = vmd_vm_byid(vmd, vid.vid_id)) != NULL)
		log_info("vm %s: rebooting", vm->name);
}

/*
 * Find the VM a vmop_id names, checking what OpenBSD's vmd checks, in
 * its order: ENOENT, EALREADY (already stopping), EINVAL (not running).
 */
static struct vmd_vm *
vmd_find_target(struct vmd *vmd, struct vmop_id *vid, int force,
    int *error, const char **reason)
{
	struct vmd_vm	*vm;

	vid->vid_name[sizeof(vid->vid_name) - 1] = '\0';
	if (vid->vid_id != 0)
		vm = vmd_vm_byid(vmd, vid->vid_id);
	else
		vm = vmd_vm_byname(vmd, vid->vid_name);
	if (vm == NULL) {
		*error = ENOENT;
		*reason = "vm not found";
	} else if ((vm->state == VM_STATE_SHUTDOWN || vm->shutdown) &&
	    !force) {
		*error = EALREADY;
		*reason = "vm is shutting down";
	} else if (vm->state == VM_STATE_STOPPED) {
		*error = EINVAL;
		*reason = "vm not running";
	} else
		return (vm);
	return (NULL);
}

/*
 * Waiters are bounded, so a flood of wait requests cannot grow the
 * parent: a client waits once per VM, and a user has at most
 * VMD_UID_WAITERS waits on one VM.  Past that its oldest wait (most
 * likely of a client that has gone away) gives way, so a user can only
 * ever crowd out itself.  Returns 0 or an errno value with reason set.
 */
static int
vmd_add_waiter(struct vmd *vmd, struct vmd_vm *vm, uint32_t peerid,
    uint32_t type, uid_t uid, const char **reason)
{
	struct vmd_waiter	*w, *oldest = NULL;
	unsigned int		 n = 0;

	TAILQ_FOREACH(w, &vm->waiters, entry) {
		if (w->peerid == peerid) {
			*reason = "already waiting for this vm";
			return (EALREADY);
		}
		if (w->uid != uid)
			continue;
		if (oldest == NULL)
			oldest = w;
		n++;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		*reason = "out of memory";
		return (ENOMEM);
	}
	if (n >= VMD_UID_WAITERS) {
		log_warnx("vm %s: uid %u waits too often, dropping its "
		    "oldest wait", vm->name, (unsigned)uid);
		TAILQ_REMOVE(&vm->waiters, oldest, entry);
		vmd_reply(vmd, oldest->peerid, oldest->type, EBUSY, vm,
		    "too many waits on this vm");
		free(oldest);
	}
	w->peerid = peerid;
	w->type = type;
	w->uid = uid;
	TAILQ_INSERT_TAIL(&vm->waiters, w, entry);
	return (0);
}

/* Forget peerid's wait on vm, unanswered: it gets another answer. */
static void
vmd_drop_waiter(struct vmd_vm *vm, uint32_t peerid)
{
	struct vmd_waiter	*w;

	TAILQ_FOREACH(w, &vm->waiters, entry)
		if (w->peerid == peerid)
			break;
	if (w != NULL) {
		TAILQ_REMOVE(&vm->waiters, w, entry);
		free(w);
	}
}

static void
vmd_req_terminate(struct vmd *vmd, struct imsg *imsg, uid_t uid)
{
	struct vmop_id	 vid;
	struct vmd_vm	*vm;
	uint32_t	 peer = imsg_get_id(imsg), flags;
	const char	*reason;
	int		 error;

	if (imsg_get_data(imsg, &vid, sizeof(vid)) == -1)
		return;
	flags = vid.vid_flags;
	if ((vm = vmd_find_target(vmd, &vid, flags & VMOP_FORCE,
	    &error, &reason)) == NULL) {
		vmd_reply(vmd, peer, IMSG_VMDOP_TERMINATE_VM_RESPONSE, error,
		    NULL, reason);
		return;
	}
	if (!vmd_checkperm(vm, uid)) {
		vmd_denied(vm->name, IMSG_VMDOP_TERMINATE_VM_REQUEST, uid);
		vmd_reply(vmd, peer, IMSG_VMDOP_TERMINATE_VM_RESPONSE, EPERM,
		    vm, "permission denied");
		return;
	}
	if (vm->state == VM_STATE_WAITING) {
		/* Not started yet: it just will not be. */
		vmd_vm_cancel(vmd, vm);
		vmd_reply(vmd, peer, IMSG_VMDOP_TERMINATE_VM_RESPONSE, 0, vm,
		    NULL);
		return;
	}
	if ((flags & VMOP_FORCE) == 0) {
		vmd_req_shutdown(vmd, vm, peer, flags, uid);
		return;
	}
	if ((flags & VMOP_WAIT) && (error = vmd_add_waiter(vmd, vm,
	    peer, IMSG_VMDOP_TERMINATE_VM_RESPONSE, uid, &reason)) != 0) {
		vmd_reply(vmd, peer, IMSG_VMDOP_TERMINATE_VM_RESPONSE, error,
		    vm, reason);
		return;
	}
	memset(&vid, 0, sizeof(vid));
	vid.vid_id = vm->id;
	vid.vid_flags = VMOP_FORCE;
	(void)snprintf(vid.vid_name, sizeof(vid.vid_name), "%s", vm->name);
	vm->state = VM_STATE_SHUTDOWN;
	vm->shutdown = 0;	/* what the guest says no longer matters */
	log_debug("vm %s: terminating", vm->name);
	imsgev_compose(&vmd->vmm, IMSG_VMDOP_VM_TERMINATE, 0, 0, -1, &vid,
	    sizeof(vid));
	if ((flags & VMOP_WAIT) == 0)
		vmd_reply(vmd, peer, IMSG_VMDOP_TERMINATE_VM_RESPONSE, 0, vm,
		    NULL);
}

static void
vmd_req_wait(struct vmd *vmd, struct imsg *imsg, uid_t uid)
{
	struct vmop_id	 vid;
	struct vmd_vm	*vm;
	uint32_t	 peer = imsg_get_id(imsg);
	const char	*reason;
	int		 error;

	if (imsg_get_data(imsg, &vid, sizeof(vid)) == -1)
		return;
	/* Waiting on a VM that is being stopped is fine: it will end. */
	if ((vm = vmd_find_target(vmd, &vid, 1, &error, &reason)) == NULL) {
		vmd_reply(vmd, peer, IMSG_VMDOP_WAIT_VM_RESPONSE, error, NULL,
		    reason);
		return;
	}
	if (!vmd_checkperm(vm, uid)) {
		vmd_denied(vm->name, IMSG_VMDOP_WAIT_VM_REQUEST, uid);
		vmd_reply(vmd, peer, IMSG_VMDOP_WAIT_VM_RESPONSE, EPERM, vm,
		    "permission denied");
		return;
	}
	if ((error = vmd_add_waiter(vmd, vm, peer,
	    IMSG_VMDOP_WAIT_VM_RESPONSE, uid, &reason)) != 0)
		vmd_reply(vmd, peer, IMSG_VMDOP_WAIT_VM_RESPONSE, error, vm,
		    reason);
}

/*
 * A stop without -f: the vm process asks the guest to shut down (vmmci,
 * else the ACPI power button) and says in vmd_shutdown_done() whether it
 * answered.  The VM shows as stopping from now until it ends, or until
 * it turns out the guest will not.
 */
static void
vmd_req_shutdown(struct vmd *vmd, struct vmd_vm *vm, uint32_t peer,
    uint32_t flags, uid_t uid)
{
	struct vmop_id	 vid;
	const char	*reason;
	int		 error;

	if (vm->state != VM_STATE_RUNNING && vm->state != VM_STATE_PAUSED) {
		vmd_reply(vmd, peer, IMSG_VMDOP_TERMINATE_VM_RESPONSE, EBUSY,
		    vm, "vm is starting; stop -f ends it");
		return;
	}
	if ((flags & VMOP_WAIT) && (error = vmd_add_waiter(vmd, vm,
	    peer, IMSG_VMDOP_TERMINATE_VM_RESPONSE, uid, &reason)) != 0) {
		vmd_reply(vmd, peer, IMSG_VMDOP_TERMINATE_VM_RESPONSE, error,
		    vm, reason);
		return;
	}
	memset(&vid, 0, sizeof(vid));
	vid.vid_id = vm->id;
	(void)snprintf(vid.vid_name, sizeof(vid.vid_name), "%s", vm->name);
	if (imsgev_compose(&vmd->vmm, IMSG_VMDOP_VM_SHUTDOWN, 0, 0, -1, &vid,
	    sizeof(vid)) == -1) {
		if (flags & VMOP_WAIT)
			vmd_drop_waiter(vm, peer);
		vmd_reply(vmd, peer, IMSG_VMDOP_TERMINATE_VM_RESPONSE, EIO,
		    vm, "cannot reach vmm");
		return;
	}
	log_debug("vm %s: asking the guest to shut down", vm->name);
	vm->shutdown = 1;
	vm->stop_pending = 1;
	vm->stop_peer = peer;
	vm->stop_wait = (flags & VMOP_WAIT) != 0;
	if (vm->state == VM_STATE_RUNNING)
		vm->state = VM_STATE_SHUTDOWN;
}

static void
vmd_shutdown_done(struct vmd *vmd, struct imsg *imsg)
{
	struct vmop_result	 vmr;
	struct vmd_vm		*vm;

	if (imsg_get_data(imsg, &vmr, sizeof(vmr)) == -1)
		return;
	vmr.vmr_reason[sizeof(vmr.vmr_reason) - 1] = '\0';
	if ((vm = vmd_vm_byid(vmd, vmr.vmr_id)) == NULL ||
	    !vm->stop_pending) {
		log_debug("vm %u: stray shutdown answer", vmr.vmr_id);
		return;
	}
	vm->stop_pending = 0;
	/* a stop -f since then decides; this one is done as asked */
	if (vmr.vmr_result == 0 || !vm->shutdown) {
		if (vmr.vmr_result == 0)
			log_info("vm %s: the guest is shutting down", vm->name);
		if (!vm->stop_wait)
			vmd_reply(vmd, vm->stop_peer,
			    IMSG_VMDOP_TERMINATE_VM_RESPONSE, 0, vm, NULL);
		return;
	}
	/* not answered: the VM goes on as it was */
	vm->shutdown = 0;
	if (vm->state == VM_STATE_SHUTDOWN)
		vm->state = VM_STATE_RUNNING;
	log_info("vm %s: not stopped: %s", vm->name, vmr.vmr_reason[0] ?
	    vmr.vmr_reason : strerror(vmr.vmr_result));
	if (vm->stop_wait)
		vmd_drop_waiter(vm, vm->stop_peer);
	vmd_reply(vmd, vm->stop_peer, IMSG_VMDOP_TERMINATE_VM_RESPONSE,
	    vmr.vmr_result, vm, vmr.vmr_reason);
}

/* A staggered VM that will not start after all: stopped, waiters told. */
static void
vmd_vm_cancel(struct vmd *vmd, struct vmd_vm *vm)
{
	struct vmd_waiter	*w;

	vm->state = VM_STATE_STOPPED;
	while ((w = TAILQ_FIRST(&vm->waiters)) != NULL) {
		TAILQ_REMOVE(&vm->waiters, w, entry);
		vmd_reply(vmd, w->peerid, w->type, 0, vm, "not started");
		free(w);
	}
}

/*
 * pause and unpause go to the vm process through vmm; the answer comes
 * back in vmd_pause_done().  One at a time per VM.
 */
static void
vmd_req_pause(struct vmd *vmd, struct imsg *imsg, uid_t uid)
{
	struct vmop_id	 vid;
	struct vmd_vm	*vm;
	uint32_t	 peer = imsg_get_id(imsg), type = imsg_get_type(imsg);
	uint32_t	 rtype;
	int		 pause = type == IMSG_VMDOP_PAUSE_VM, running;

	rtype = pause ? IMSG_VMDOP_PAUSE_VM_RESPONSE :
	    IMSG_VMDOP_UNPAUSE_VM_RESPONSE;
	if (imsg_get_data(imsg, &vid, sizeof(vid)) == -1)
		return;
	vid.vid_name[sizeof(vid.vid_name) - 1] = '\0';
	vm = vid.vid_id != 0 ? vmd_vm_byid(vmd, vid.vid_id) :
	    vmd_vm_byname(vmd, vid.vid_name);
	if (vm == NULL) {
		vmd_reply(vmd, peer, rtype, ENOENT, NULL, "vm not found");
		return;
	}
	if (!vmd_checkperm(vm, uid)) {
		vmd_denied(vm->name, type, uid);
		vmd_reply(vmd, peer, rtype, EPERM, vm, "permission denied");
		return;
	}
	if (vm->pause_pending) {
		vmd_reply(vmd, peer, rtype, EBUSY, vm,
		    "a pause or unpause is in progress");
		return;
	}
	/* a guest asked to shut down still runs, and may be paused (vmd) */
	running = vm->state == VM_STATE_RUNNING ||
	    (vm->state == VM_STATE_SHUTDOWN && vm->shutdown);
	if (pause && vm->state == VM_STATE_PAUSED) {
		vmd_reply(vmd, peer, rtype, EALREADY, vm,
		    "vm is already paused");
		return;
	}
	if (!pause && running) {
		vmd_reply(vmd, peer, rtype, EALREADY, vm, "vm is not paused");
		return;
	}
	if (pause ? !running : vm->state != VM_STATE_PAUSED) {
		vmd_reply(vmd, peer, rtype, EINVAL, vm, "vm not running");
		return;
	}
	memset(&vid, 0, sizeof(vid));
	vid.vid_id = vm->id;
	(void)snprintf(vid.vid_name, sizeof(vid.vid_name), "%s", vm->name);
	if (imsgev_compose(&vmd->vmm, type, 0, 0, -1, &vid,
	    sizeof(vid)) == -1) {
		vmd_reply(vmd, peer, rtype, EIO, vm, "cannot reach vmm");
		return;
	}
	vm->pause_pending = 1;
	vm->pause_peer = peer;
	vm->pause_type = rtype;
}

static void
vmd_pause_done(struct vmd *vmd, struct imsg *imsg)
{
	struct vmop_result	 vmr;
	struct vmd_vm		*vm;
	uint32_t		 type = imsg_get_type(imsg);
	int			 pause = type == IMSG_VMDOP_PAUSE_VM_RESPONSE;

	if (imsg_get_data(imsg, &vmr, sizeof(vmr)) == -1)
		return;
	vmr.vmr_reason[sizeof(vmr.vmr_reason) - 1] = '\0';
	if ((vm = vmd_vm_byid(vmd, vmr.vmr_id)) == NULL ||
	    !vm->pause_pending || vm->pause_type != type) {
		log_debug("vm %u: stray pause answer", vmr.vmr_id);
		return;
	}
	vm->pause_pending = 0;
	if (vmr.vmr_result == 0) {
		/* A VM being terminated stays so. */
		if (vm->state == VM_STATE_RUNNING ||
		    vm->state == VM_STATE_PAUSED ||
		    (vm->state == VM_STATE_SHUTDOWN && vm->shutdown))
			vm->state = pause ? VM_STATE_PAUSED : vm->shutdown ?
			    VM_STATE_SHUTDOWN : VM_STATE_RUNNING;
		log_info("%s: %s vm %u successfully", vm->name,
		    pause ? "paused" : "unpaused", vm->id);
	} else
		log_warnx("vm %s: %s failed: %s", vm->name,
		    pause ? "pause" : "unpause", vmr.vmr_reason[0] != '\0' ?
		    vmr.vmr_reason : strerror(vmr.vmr_result));
	vmd_reply(vmd, vm->pause_peer, type, vmr.vmr_result, vm,
	    vmr.vmr_reason);
}

/*
 * reload (file NULL: the file vmd started with) or load FILE.  A file
 * with errors changes nothing: its errors go to the log and the old
 * configuration stays in force.
 */
static int
vmd_reload(struct vmd *vmd, const char *file, char *reason, size_t rlen)
{
	struct vmd_conf	 conf;
	enum vmd_apply	 how = file == NULL ? VMD_APPLY_RELOAD :
			    VMD_APPLY_LOAD;
	int		 flags = file == NULL ? vmd->conf_flags : 0;
	int		 error;

	if (vmd->shutting_down) {
		(void)snprintf(reason, rlen, "vmd is shutting down");
		return (EBUSY);
	}
	if (file == NULL)
		file = vmd->conffile;
	log_info("%s %s", how == VMD_APPLY_RELOAD ? "reloading" : "loading",
	    file);
	/* A file that is not there is an error, as for vmd -f. */
	if (how == VMD_APPLY_LOAD && access(file, R_OK) == -1) {
		error = errno;
		log_warn("failed to open %s", file);
		vmd_reasonf(reason, rlen, "failed to open %s: %s", file,
		    strerror(error));
		return (error);
	}
	config_init(&conf);
	if (parse_config(file, flags, &conf) == -1) {
		config_free(&conf);
		log_warnx("%s: configuration has errors, not %s; the "
		    "previous one stays in force", file,
		    how == VMD_APPLY_RELOAD ? "reloaded" : "loaded");
		vmd_reasonf(reason, rlen, "%s: configuration has errors "
		    "(see the vmd log), nothing changed", file);
		return (EINVAL);
	}
	if (vmd_apply_config(vmd, &conf, how, reason, rlen) == -1) {
		config_free(&conf);
		log_warnx("%s: %s, nothing changed", file, reason);
		return (EINVAL);
	}
	config_free(&conf);
	vmd_start_enabled(vmd);
	return (0);
}

/*
 * reset vms: every VM is terminated and forgotten, configured or not,
 * until the next reload, as on OpenBSD.  There are no switches to reset
 * yet.
 */
static void
vmd_reset(struct vmd *vmd, uint32_t what)
{
	struct vmd_vm	*vm, *next;
	struct vmop_id	 vid;

	if (what == VMOP_RESET_ALL || what == VMOP_RESET_SWITCHES)
		log_info("reset: no switches to reset");
	if (what != VMOP_RESET_ALL && what != VMOP_RESET_VMS)
		return;
	log_info("reset: terminating all vms");
	vmd_stagger_cancel(vmd);
	for (vm = TAILQ_FIRST(&vmd->vms); vm != NULL; vm = next) {
		next = TAILQ_NEXT(vm, entry);
		if (!vmd_has_process(vm)) {
			vmd_vm_cancel(vmd, vm);
			vmd_vm_remove(vmd, vm);
			continue;
		}
		vm->configured = 0;
		if (vm->state == VM_STATE_SHUTDOWN && !vm->shutdown)
			continue;
		memset(&vid, 0, sizeof(vid));
		vid.vid_id = vm->id;
		vid.vid_flags = VMOP_FORCE;
		vm->state = VM_STATE_SHUTDOWN;
		vm->shutdown = 0;
		imsgev_compose(&vmd->vmm, IMSG_VMDOP_VM_TERMINATE, 0, 0, -1,
		    &vid, sizeof(vid));
	}
}

/* load, reload, reset: root's, answered IMSG_CTL_OK or IMSG_CTL_FAIL. */
static void
vmd_req_config(struct vmd *vmd, struct imsg *imsg)
{
	struct vmop_path	 vp;
	struct vmop_reset	 vr;
	uint32_t		 peer = imsg_get_id(imsg);
	char			 reason[VM_REASON_MAX] = "";
	int			 error = 0;

	switch (imsg_get_type(imsg)) {
	case IMSG_VMDOP_RELOAD:
		error = vmd_reload(vmd, NULL, reason, sizeof(reason));
		break;
	case IMSG_VMDOP_LOAD:
		if (imsg_get_data(imsg, &vp, sizeof(vp)) == -1)
			return;
		error = vmd_reload(vmd, vp.vp_path, reason, sizeof(reason));
		break;
	case IMSG_CTL_RESET:
		if (imsg_get_data(imsg, &vr, sizeof(vr)) == -1)
			return;
		vmd_reset(vmd, vr.vr_what);
		break;
	default:
		return;
	}
	vmd_reply(vmd, peer, error == 0 ? IMSG_CTL_OK : IMSG_CTL_FAIL, error,
	    NULL, error == 0 ? NULL : reason);
}

/* log brief|verbose: every process of vmd takes the new level. */
static void
vmd_req_verbose(struct vmd *vmd, struct imsg *imsg)
{
	int32_t		 level;

	if (imsg_get_data(imsg, &level, sizeof(level)) == -1)
		return;
	if (level < 0)
		level = 0;
	log_setverbose(level);
	vmd->env.verbose = level;
	log_info("log level %d", (int)level);
	imsgev_compose(&vmd->control, IMSG_CTL_VERBOSE, VMD_PEERID_NONE, 0,
	    -1, &level, sizeof(level));
	imsgev_compose(&vmd->vmm, IMSG_CTL_VERBOSE, 0, 0, -1, &level,
	    sizeof(level));
	vmd_reply(vmd, imsg_get_id(imsg), IMSG_CTL_OK, 0, NULL, NULL);
}

/* Resident bytes of a process, from /proc/PID/statm; 0 if unknown. */
static uint64_t
vmd_resident(pid_t pid)
{
	char			 path[64];
	FILE			*f;
	unsigned long long	 size, resident;
	long			 pagesz;
	uint64_t		 used = 0;

	if (pid <= 0)
		return (0);
	(void)snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return (0);
	if (fscanf(f, "%llu %llu", &size, &resident) == 2 &&
	    (pagesz = sysconf(_SC_PAGESIZE)) > 0)
		used = (uint64_t)resident * (uint64_t)pagesz;
	fclose(f);
	return (used);
}

static void
vmd_req_info(struct vmd *vmd, struct imsg *imsg)
{
	struct vmop_info_result	 vir;
	struct vmd_vm		*vm;
	uint32_t		 peer = imsg_get_id(imsg), n = 1;

	/* The whole list or nothing: a cut one would leave vmctl waiting. */
	TAILQ_FOREACH(vm, &vmd->vms, entry)
		n++;
	if (!imsgev_room(&vmd->control, n)) {
		vmd_reply(vmd, peer, IMSG_CTL_FAIL, EBUSY, NULL,
		    "vmd is busy, try again");
		return;
	}
	/* Anybody may look, as on OpenBSD; the registry is kept by id. */
	TAILQ_FOREACH(vm, &vmd->vms, entry) {
		const struct vmop_create_params *p = vmd_has_process(vm) ?
		    &vm->params : &vm->def->params;
		const struct vmd_conf_owner *o = vmd_has_process(vm) ?
		    &vm->run_owner : &vm->def->owner;

		memset(&vir, 0, sizeof(vir));
		vir.vir_id = vm->id;
		vir.vir_pid = vm->pid;
		vir.vir_ncpus = p->vmc_ncpus != 0 ? p->vmc_ncpus : 1;
		vir.vir_state = (uint32_t)vm->state;
		vir.vir_memsize = p->vmc_memsize != 0 ? p->vmc_memsize :
		    VM_DEFAULT_MEMORY;
		vir.vir_used = vmd_has_process(vm) ? vmd_resident(vm->pid) :
		    0;
		vir.vir_uid = o->set && o->uid != (uid_t)-1 ? o->uid : 0;
		vir.vir_gid = o->set ? (uint32_t)o->gid : (uint32_t)-1;
		(void)snprintf(vir.vir_name, sizeof(vir.vir_name), "%s",
		    vm->name);
		(void)snprintf(vir.vir_ttyname, sizeof(vir.vir_ttyname), "%s",
		    vm->ttyname);
		imsgev_compose(&vmd->control, IMSG_VMDOP_GET_INFO_VM_DATA,
		    peer, 0, -1, &vir, sizeof(vir));
	}
	imsgev_compose(&vmd->control, IMSG_VMDOP_GET_INFO_VM_END_DATA, peer,
	    0, -1, NULL, 0);
}

static void
vmd_sigterm(int sig, short events, void *arg)
{
	vmd_shutdown(arg);
}

static void
vmd_sighup(int sig, short events, void *arg)
{
	char	 reason[VM_REASON_MAX];

	log_info("reload requested with SIGHUP");
	if (vmd_reload(arg, NULL, reason, sizeof(reason)) != 0)
		log_warnx("reload failed: %s", reason);
}

/* control or vmm died: without either, vmd cannot go on. */
static void
vmd_sigchld(int sig, short events, void *arg)
{
	struct vmd	*vmd = arg;
	pid_t		 pid;
	int		 status;
	const char	*who;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == vmd->control_pid) {
			who = "control";
			vmd->control_pid = -1;
		} else if (pid == vmd->vmm_pid) {
			who = "vmm";
			vmd->vmm_pid = -1;
		} else if (pid == netconf_pid()) {
			who = "priv";
			netconf_gone();
		} else
			continue;
		if (WIFSIGNALED(status))
			log_warnx("%s process killed by signal %d", who,
			    WTERMSIG(status));
		else
			log_warnx("%s process exited with status %d", who,
			    WEXITSTATUS(status));
		if (vmd->vmm_pid == -1)
			vmd_finish(vmd);
		vmd_shutdown(vmd);
	}
}

static void
vmd_control_closed(struct imsgev *iev)
{
	log_warnx("control process gone");
	vmd_shutdown(iev->arg);
}

static void
vmd_vmm_closed(struct imsgev *iev)
{
	/* Its vm processes died with it (parent-death signal). */
	log_warnx("vmm process gone");
	vmd_finish(iev->arg);
}

/* Terminate every VM through vmm, then finish (bounded in time). */
static void
vmd_shutdown(struct vmd *vmd)
{
	struct timeval	 tv = { VMD_SHUTDOWN_WAIT, 0 };
	struct vmd_vm	*vm;
	struct vmop_id	 vid;

	if (vmd->shutting_down)
		return;
	vmd->shutting_down = 1;
	log_info("shutting down");
	vmd_stagger_cancel(vmd);
	TAILQ_FOREACH(vm, &vmd->vms, entry) {
		if (!vmd_has_process(vm))
			continue;
		memset(&vid, 0, sizeof(vid));
		vid.vid_id = vm->id;
		vid.vid_flags = VMOP_FORCE;
		vm->state = VM_STATE_SHUTDOWN;
		vm->shutdown = 0;
		imsgev_compose(&vmd->vmm, IMSG_VMDOP_VM_TERMINATE, 0, 0, -1,
		    &vid, sizeof(vid));
	}
	if (vmd_running(vmd) == 0)
		vmd_finish(vmd);
	evtimer_add(&vmd->ev_shutdown, &tv);
}

static void
vmd_shutdown_timeout(int fd, short events, void *arg)
{
	log_warnx("VMs did not end in %d seconds", VMD_SHUTDOWN_WAIT);
	vmd_finish(arg);
}

/* Wait for a child, SIGKILL after a while; never leave one behind. */
static void
vmd_reap(pid_t pid)
{
	int	 i, status;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (i = 0; i < VMD_CHILD_WAIT * 100; i++) {
		if (waitpid(pid, &status, WNOHANG) != 0)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
}

static void
vmd_finish(struct vmd *vmd)
{
	struct stat	 st;

	imsgev_clear(&vmd->control);
	imsgev_clear(&vmd->vmm);
	/* vmm first: it kills and reaps what is left of the VMs. */
	vmd_reap(vmd->vmm_pid);
	vmd_reap(vmd->control_pid);
	vmd_reap(netconf_pid());
	/* A newer vmd may have replaced it: leave that one alone. */
	if (vmd->socket_path[0] != '\0' &&
	    stat(vmd->socket_path, &st) == 0 &&
	    st.st_dev == vmd->socket_dev && st.st_ino == vmd->socket_ino)
		unlink(vmd->socket_path);
	if (vmd->pidfile)
		unlink(VMD_PIDFILE);
	log_warnx("terminating");
	exit(0);
}
