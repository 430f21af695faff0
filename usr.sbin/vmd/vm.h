/*
 * vm.h: the state of one VM inside its own "vm NAME" process, shared by
 * the process life cycle (vm.c) and the x86 platform (x86_vm.c).  Only
 * that process ever holds one of these; nothing in it is sent anywhere.
 */

#ifndef VM_H
#define VM_H

#include <pthread.h>

#include <event.h>

#include "imsg.h"
#include "dev/vmm/vmm.h"
#include "dev.h"
#include "vmd.h"

/* Why the vCPU loop stopped, in the order they win. */
enum vm_request {
	VM_REQ_NONE,
	VM_REQ_RESET,		/* guest reboot: reload and run again */
	VM_REQ_POWEROFF,	/* guest powered off */
	VM_REQ_ERROR,		/* the VM cannot go on; see reason */
	VM_REQ_STOP		/* terminated from outside */
};

struct vmctx {
	struct vmop_create_params params;
	int			 kvmfd;
	int			 kernelfd;
	int			 tty_master;
	int			 tty_slave;
	struct vm_mem		 mem;
	struct vmm_vm		*vm;		/* NULL between boots */
	struct vmm_vcpu		*vcpu;
	pthread_mutex_t		 vm_lock;	/* guards vm, pause state */
	pthread_cond_t		 pause_cv;	/* pause state changed */
	int			 pause_req;	/* vmctl pause in force */
	int			 vcpu_paused;	/* the vCPU thread is parked */
	struct devices		 devs;
	struct dev_host		 host;
	struct event_base	*evbase;
	struct event		*ev_vcpu_done;
	pthread_t		 vcpu_thread;
	int			 vcpu_running;
	int			 request;	/* enum vm_request, atomic */
	char			 reason[VM_REASON_MAX];
	uint64_t		 exits;		/* for debug logs */
};

/* vm.c */
void	 vm_request(struct vmctx *, enum vm_request, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

/* x86_vm.c */
int	 x86_mem_alloc(struct vmctx *, char *, size_t);
int	 x86_devices_attach(struct vmctx *, char *, size_t);
int	 x86_boot(struct vmctx *, char *, size_t);
void	 x86_halt(struct vmctx *);
int	 x86_handle_exit(struct vmctx *, struct vmm_exit *);

#endif /* VM_H */
