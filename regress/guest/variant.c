/*
 * variant.c: what the boot-protocol variants need from main.c, which
 * they replace with their own gmain(): waiting_begin(), as the checks
 * call it before they wait (vmmci and the network answer while the guest
 * waits).  It must stay what main.c's does.
 */

#include "guest.h"

void
waiting_begin(struct guest *g)
{
	static int done;
	const char *why;

	if (done)
		return;
	done = 1;
	if (vmmci_attach(&why) == 0)
		kprintf("vmmci: attached, answering host requests\n");
	net_up(g);
}
