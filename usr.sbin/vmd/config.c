/*
 * config.c: the rules vm.conf and vmctl requests share: valid VM names,
 * memory sizes with K/M/G/T suffixes and their limits, and freeing a
 * parsed configuration.  The grammar itself is in parse.y.  Everything
 * here takes text from outside: it must bound every length and reject
 * overflow, never trust a terminator it has not seen.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

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

/* The limits of guest memory, with OpenBSD's words where it has them. */
int
config_check_memsize(uint64_t bytes, char *reason, size_t len)
{
	if (bytes < VM_MIN_MEMORY) {
		(void)snprintf(reason, len, "memory size must be at least 1MB");
		return (-1);
	}
	if (bytes > VM_MAX_MEMORY) {
		(void)snprintf(reason, len, "memory size too large (at most "
		    "%lluG)", (unsigned long long)(VM_MAX_MEMORY >> 30));
		return (-1);
	}
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
