/*
 * parse.y: the vm.conf(5) grammar (byacc), shaped like OpenBSD's vmd
 * parse.y: a lexer with macros ($name, -D), quoted and adjacent strings,
 * \ line continuation and include, then global settings (local prefix,
 * local inet6, socket owner, agentx, staggered start), switch blocks and
 * vm blocks (with instances), into the flat model of config.h.  The file
 * is outside input: every string is bounded, every error is reported as
 * "FILE:LINE: message" and counted, nothing in here exits the process
 * except running out of memory, and no state survives from one
 * parse_config() call to the next except -D macros.
 */

%{
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <net/ethernet.h>
#include <netinet/ether.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "config.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#define CONF_MAX_INCLUDE	16	/* nested include files */
#define CONF_MAX_TOKEN		8192	/* bytes of one word or string */
#define CONF_RDOMAIN_MAX	255	/* as OpenBSD's RT_TABLEID_MAX */
#define CONF_QCOW2_MAGIC	"QFI\xfb"

struct conf_file {
	TAILQ_ENTRY(conf_file)	 entry;
	FILE			*stream;
	char			*name;
	unsigned char		*unget;		/* pushed-back bytes */
	size_t			 nunget;
	size_t			 ungetsize;
	int			 eof_reached;
	int			 badbyte;	/* reported once per file */
	int			 lineno;
	int			 errors;
};
TAILQ_HEAD(conf_files, conf_file);

struct conf_sym {
	TAILQ_ENTRY(conf_sym)	 entry;
	int			 used;
	int			 persist;	/* from -D: not overridden */
	char			*name;
	char			*value;
};
TAILQ_HEAD(conf_syms, conf_sym);

/* Names seen so far, so 10 000 VMs need no quadratic duplicate check. */
struct name_ent {
	struct name_ent		*next;
	const char		*name;		/* in the entry's object */
	void			*obj;
};
struct name_table {
	struct name_ent		**bucket;
	size_t			 nbuckets;	/* a power of two, or 0 */
	size_t			 count;
};

struct owner_id {
	int			 ok;
	uid_t			 uid;
	gid_t			 gid;
};

/* The parser's state: yacc parsers are not reentrant anyway. */
static struct conf_files	 files = TAILQ_HEAD_INITIALIZER(files);
static struct conf_file		*file, *topfile;
static struct conf_syms		 symhead = TAILQ_HEAD_INITIALIZER(symhead);
static struct vmd_conf		*conf_out;
static int			 conf_flags;
static int			 expanding;
static int			 nerrors;	/* in every file, so far */
static struct name_table	 vmnames, swnames;
static char			 rp_last[PATH_MAX], rp_real[PATH_MAX];

/* The block being read. */
static struct vmd_conf_vm	*cur;
static int			 cur_memory_set;
static int			 cur_cmdline_set;
static int			 cur_nifs;	/* "interfaces N", or -1 */
static int			 cur_bad;	/* its header was wrong */
static int			 cur_errors;	/* nerrors when it began */
static int			 nic_errors;	/* nerrors when it began */
static struct vmd_conf_nic	 curnic;
static struct vmd_conf_switch	*cursw;

static struct conf_file	*pushfile(const char *, int);
static int		 popfile(void);
static int		 yyerror(const char *, ...)
			    __attribute__((__format__(printf, 1, 2)));
static void		 yyerror_at(int, const char *, ...)
			    __attribute__((__format__(printf, 2, 3)));
static void		 yydebug_at(int, const char *, ...)
			    __attribute__((__format__(printf, 2, 3)));
static int		 yylex(void);
static int		 igetc(void);
static int		 lgetc(int);
static void		 lungetc(int);
static int		 findeol(void);
static int		 symset(const char *, const char *, int);
static char		*symget(const char *);
static void		*name_find(struct name_table *, const char *);
static void		 name_add(struct name_table *, const char *, void *);
static void		 name_clear(struct name_table *);

static void		 do_include(char *);
static void		 do_varset(char *, char *);
static void		 do_prefix4(const char *);
static void		 do_prefix6(const char *);
static void		 owner_parse(char *, struct owner_id *);
static void		 vm_begin(char *, char *);
static void		 vm_end(void);
static void		 vm_memory(uint64_t, const char *, int);
static void		 vm_boot(const char *);
static void		 vm_cdrom(const char *);
static void		 vm_cmdline(const char *);
static void		 vm_initrd(const char *);
static void		 vm_disk(const char *, int);
static void		 vm_nifs(long long);
static void		 vm_vcpu(long long);
static void		 nic_begin(void);
static void		 nic_end(int, char *);
static void		 nic_switch(const char *);
static void		 nic_group(const char *);
static void		 nic_rdomain(long long);
static void		 sw_begin(char *);
static void		 sw_end(void);
static void		 sw_interface(const char *);
static void		 sw_group(const char *);
static void		 sw_rdomain(long long);
static int		 valid_group(const char *);

typedef struct {
	union {
		long long	 number;
		char		*string;
		struct {
			uint8_t	 ea[ETHER_ADDR_LEN];
			int	 set;
		}		 lladdr;
		struct owner_id	 owner;
	} v;
	int lineno;
} YYSTYPE;
#define YYSTYPE_IS_DECLARED 1

%}

%token	INCLUDE ERROR
%token	AGENTX ALLOW BOOT CDROM CMDLINE CONTEXT DELAY DEVICE DISABLE DISK
%token	DOWN ENABLE FORMAT GROUP INET6 INITRD INSTANCE INTERFACE INTERFACES
%token	LLADDR LOCAL LOCKED MEMORY NET OWNER PARALLEL PATH PREFIX RDOMAIN
%token	SOCKET STAGGERED START SWITCH UP VCPU VM
%token	<v.number>	NUMBER
%token	<v.string>	STRING
%type	<v.string>	string optstring vm_instance
%type	<v.number>	disable local locked updown bootdevice image_format
%type	<v.lladdr>	lladdr
%type	<v.owner>	owner_id
%destructor	{ free($$); } <v.string>

%%

grammar		: /* empty */
		| grammar include '\n'
		| grammar '\n'
		| grammar varset '\n'
		| grammar main '\n'
		| grammar switch '\n'
		| grammar vm '\n'
		/*
		 * As OpenBSD's grammar: the one place to resume after a
		 * syntax error is the next line outside any block, and
		 * without yyerrok yacc says nothing of the errors in the
		 * next three tokens, so a wrong word in a block costs one
		 * message, not one for each line left in the block.
		 */
		| grammar error '\n'
		;

include		: INCLUDE string		{
			char	*name = $2;

			$2 = NULL;
			do_include(name);
		}
		;

varset		: STRING '=' string		{
			char	*name = $1, *value = $3;

			$1 = $3 = NULL;
			do_varset(name, value);
		}
		| STRING '=' NUMBER		{
			char	*name = $1, *value;

			$1 = NULL;
			if (asprintf(&value, "%lld", $3) == -1)
				fatal("asprintf macro");
			do_varset(name, value);
		}
		;

main		: LOCAL PREFIX STRING		{ do_prefix4($3); free($3); }
		| LOCAL INET6			{
			conf_out->local6_set = 1;
			conf_out->local6_auto = 1;
		}
		| LOCAL INET6 PREFIX STRING	{ do_prefix6($4); free($4); }
		| SOCKET OWNER owner_id		{
			if ($3.ok) {
				conf_out->sock_owner.set = 1;
				conf_out->sock_owner.uid = $3.uid;
				conf_out->sock_owner.gid = $3.gid;
			}
		}
		| AGENTX			{
			conf_out->agentx = 1;
		} agentxopts			{
			if (conf_out->agentx_path[0] == '\0')
				(void)snprintf(conf_out->agentx_path,
				    sizeof(conf_out->agentx_path), "%s",
				    CONF_AGENTX_PATH);
		}
		| STAGGERED START PARALLEL NUMBER DELAY NUMBER {
			if ($4 < 1 || $4 > INT_MAX)
				yyerror("invalid parallelism: %lld", $4);
			else if ($6 < 0 || $6 > INT_MAX)
				yyerror("invalid delay: %lld", $6);
			else {
				conf_out->stagger_parallel = (int)$4;
				conf_out->stagger_delay = (int)$6;
			}
		}
		;

agentxopts	: /* empty */
		| agentxopts agentxopt
		;

agentxopt	: CONTEXT string		{
			if (strlen($2) >= sizeof(conf_out->agentx_context))
				yyerror("agentx context too large");
			else
				(void)snprintf(conf_out->agentx_context,
				    sizeof(conf_out->agentx_context), "%s",
				    $2);
			free($2);
		}
		| PATH string			{
			if (strlen($2) >= sizeof(conf_out->agentx_path))
				yyerror("agentx path too large");
			else if ($2[0] != '/')
				yyerror("agentx path is not absolute");
			else
				(void)snprintf(conf_out->agentx_path,
				    sizeof(conf_out->agentx_path), "%s", $2);
			free($2);
		}
		;

switch		: SWITCH string			{
			char	*name = $2;

			$2 = NULL;
			sw_begin(name);
		} '{' optnl switch_opts_o '}'	{ sw_end(); }
		;

switch_opts_o	: /* empty */
		| switch_opts_l optnl
		;

switch_opts_l	: switch_opts_l sep optnl switch_opts
		| switch_opts
		;

switch_opts	: disable			{ cursw->disabled = (int)$1; }
		| GROUP string			{ sw_group($2); free($2); }
		| INTERFACE string		{ sw_interface($2); free($2); }
		| LOCKED LLADDR			{ cursw->locked = 1; }
		| RDOMAIN NUMBER		{ sw_rdomain($2); }
		| updown			{ cursw->updown = (int)$1; }
		;

vm		: VM string vm_instance		{
			char	*name = $2, *inst = $3;

			$2 = $3 = NULL;
			vm_begin(name, inst);
		} '{' optnl vm_opts_o '}'	{ vm_end(); }
		;

vm_instance	: /* empty */			{ $$ = NULL; }
		| INSTANCE string		{ $$ = $2; }
		;

/* Options are separated by newlines or ';', as many as one likes. */
vm_opts_o	: /* empty */
		| vm_opts_l optnl
		;

vm_opts_l	: vm_opts_l sep optnl vm_opts
		| vm_opts
		;

vm_opts		: disable			{ cur->disabled = (int)$1; }
		| DISK string image_format	{
			vm_disk($2, (int)$3);
			free($2);
		}
		| local INTERFACE		{ nic_begin(); }
		    optstring iface_opts_o	{
			char	*name = $4;

			$4 = NULL;
			nic_end((int)$1, name);
		}
		| INTERFACES NUMBER		{ vm_nifs($2); }
		| BOOT string			{ vm_boot($2); free($2); }
		| BOOT DEVICE bootdevice	{
			cur->bootdev = (enum vm_bootdev)$3;
		}
		| CDROM string			{ vm_cdrom($2); free($2); }
		| MEMORY NUMBER			{
			char	 buf[32];

			(void)snprintf(buf, sizeof(buf), "%lld", $2);
			if ($2 < 0)
				yyerror("failed to parse size: %s", buf);
			else
				vm_memory((uint64_t)$2, buf, 0);
		}
		| MEMORY STRING			{
			uint64_t	 bytes;

			if (config_parse_size($2, &bytes) == -1)
				yyerror("failed to parse size: %s", $2);
			else
				vm_memory(bytes, $2, 1);
			free($2);
		}
		| CMDLINE string		{ vm_cmdline($2); free($2); }
		| INITRD string			{ vm_initrd($2); free($2); }
		| VCPU NUMBER			{ vm_vcpu($2); }
		| OWNER owner_id		{
			if ($2.ok) {
				cur->owner.set = 1;
				cur->owner.uid = $2.uid;
				cur->owner.gid = $2.gid;
			}
		}
		| instance
		;

instance	: ALLOW INSTANCE '{' allow_seq '}'
		| ALLOW INSTANCE instance_flags
		;

allow_seq	: /* empty */
		| allow_seq instance_flags
		| allow_seq ','
		| allow_seq sep
		;

instance_flags	: BOOT		{ cur->allow_flags |= VMOP_CREATE_KERNEL; }
		| MEMORY	{ cur->allow_flags |= VMOP_CREATE_MEMORY; }
		| CMDLINE	{ cur->allow_flags |= VMOP_CREATE_CMDLINE; }
		| INTERFACE	{ cur->allow_flags |= VMOP_CREATE_NETWORK; }
		| DISK		{ cur->allow_flags |= VMOP_CREATE_DISK; }
		| CDROM		{ cur->allow_flags |= VMOP_CREATE_CDROM; }
		| INSTANCE	{ cur->allow_flags |= VMOP_CREATE_INSTANCE; }
		| OWNER owner_id {
			if ($2.ok) {
				cur->allow_owner.set = 1;
				cur->allow_owner.uid = $2.uid;
				cur->allow_owner.gid = $2.gid;
			}
		}
		;

owner_id	: NUMBER			{
			$$.ok = 0;
			$$.uid = (uid_t)-1;
			$$.gid = (gid_t)-1;
			if ($1 < 0 || $1 >= (long long)UINT32_MAX)
				yyerror("invalid user id: %lld", $1);
			else {
				$$.uid = (uid_t)$1;
				$$.ok = 1;
			}
		}
		| STRING			{
			owner_parse($1, &$$);
			free($1);
		}
		;

image_format	: /* empty */			{ $$ = -1; }
		| FORMAT string			{
			if (strcasecmp($2, "raw") == 0)
				$$ = VMDF_RAW;
			else if (strcasecmp($2, "qcow2") == 0)
				$$ = VMDF_QCOW2;
			else {
				yyerror("unrecognized disk format %s", $2);
				$$ = -2;
			}
			free($2);
		}
		;

iface_opts_o	: '{' iface_seq '}'
		| iface_opts_c
		| /* empty */
		;

iface_seq	: /* empty */
		| iface_seq iface_opts
		| iface_seq ','
		| iface_seq sep
		;

iface_opts_c	: iface_opts_c iface_opts optcomma
		| iface_opts optcomma
		;

iface_opts	: SWITCH string			{ nic_switch($2); free($2); }
		| GROUP string			{ nic_group($2); free($2); }
		| locked LLADDR lladdr		{
			curnic.locked = (int)$1;
			if ($3.set) {
				memcpy(curnic.lladdr, $3.ea,
				    sizeof(curnic.lladdr));
				curnic.lladdr_set = 1;
			}
		}
		| RDOMAIN NUMBER		{ nic_rdomain($2); }
		| updown			{ curnic.updown = (int)$1; }
		;

lladdr		: STRING			{
			struct ether_addr	 ea;

			$$.set = 0;
			if (ether_aton_r($1, &ea) == NULL)
				yyerror("invalid address: %s", $1);
			else if (ea.ether_addr_octet[0] & 0x01)
				yyerror("invalid address: %s (multicast)",
				    $1);
			else {
				memcpy($$.ea, ea.ether_addr_octet,
				    sizeof($$.ea));
				$$.set = 1;
			}
			free($1);
		}
		| /* empty */			{ $$.set = 0; }
		;

optstring	: STRING			{ $$ = $1; }
		| /* empty */			{ $$ = NULL; }
		;

string		: STRING string			{
			if (asprintf(&$$, "%s%s", $1, $2) == -1)
				fatal("asprintf string");
			free($1);
			free($2);
		}
		| STRING
		;

local		: /* empty */			{ $$ = 0; }
		| LOCAL				{ $$ = 1; }
		;

locked		: /* empty */			{ $$ = 0; }
		| LOCKED			{ $$ = 1; }
		;

updown		: UP				{ $$ = 1; }
		| DOWN				{ $$ = 0; }
		;

disable		: ENABLE			{ $$ = 0; }
		| DISABLE			{ $$ = 1; }
		;

bootdevice	: CDROM				{ $$ = VMBOOT_CDROM; }
		| DISK				{ $$ = VMBOOT_DISK; }
		| NET				{ $$ = VMBOOT_NET; }
		;

optcomma	: ','
		| /* empty */
		;

optnl		: sep optnl
		| /* empty */
		;

sep		: '\n'
		| ';'
		;

%%

struct keyword {
	const char	*k_name;
	int		 k_val;
};

/* Global settings and macros. */

static void
do_include(char *name)
{
	struct conf_file	*nfile;
	int			 depth = 0;

	TAILQ_FOREACH(nfile, &files, entry)
		depth++;
	if (depth >= CONF_MAX_INCLUDE)
		yyerror("failed to include file %s: nested too deeply", name);
	else if ((nfile = pushfile(name, 1)) == NULL)
		yyerror("failed to include file %s: %s", name,
		    strerror(errno));
	else {
		file = nfile;
		/* Ends the include statement in the file that has it. */
		lungetc('\n');
	}
	free(name);
}

static void
do_varset(char *name, char *value)
{
	const char	*s;

	for (s = name; *s != '\0'; s++)
		if (isspace((unsigned char)*s))
			break;
	if (*s != '\0')
		yyerror("macro name cannot contain whitespace");
	else {
		for (s = name; *s != '\0'; s++)
			if (!isalnum((unsigned char)*s) && *s != '_')
				break;
		if (*s != '\0' || name[0] == '\0')
			yyerror("invalid macro name: %s", name);
		else if (symset(name, value, 0) == -1)
			fatal("cannot store variable");
	}
	free(name);
	free(value);
}

/* ADDR[/LEN] as OpenBSD takes it: LEN 1 to 16, default 16, host bits 0. */
static void
do_prefix4(const char *str)
{
	char		 buf[INET_ADDRSTRLEN + 4], *slash, *end;
	struct in_addr	 addr;
	long		 len = 16;
	uint32_t	 mask;

	if (strlen(str) >= sizeof(buf)) {
		yyerror("invalid local prefix: invalid format");
		return;
	}
	(void)snprintf(buf, sizeof(buf), "%s", str);
	if ((slash = strrchr(buf, '/')) != NULL) {
		*slash++ = '\0';
		errno = 0;
		len = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || len < 1 || len > 16) {
			yyerror("invalid local prefix: %s",
			    len > 16 ? "too large" : "invalid prefix length");
			return;
		}
	}
	if (inet_pton(AF_INET, buf, &addr) != 1) {
		yyerror("invalid local prefix: invalid format");
		return;
	}
	mask = htonl(0xffffffffU << (32 - len));
	if ((addr.s_addr & mask) != addr.s_addr) {
		yyerror("invalid local prefix: bad mask");
		return;
	}
	conf_out->local4_set = 1;
	conf_out->local4 = addr;
	conf_out->local4_len = (int)len;
}

/* ADDR[/LEN], LEN 0 to 64, default 64, host bits 0. */
static void
do_prefix6(const char *str)
{
	char		 buf[INET6_ADDRSTRLEN + 4], *slash, *end;
	struct in6_addr	 addr;
	long		 len = 64;
	int		 i;

	if (strlen(str) >= sizeof(buf)) {
		yyerror("invalid local inet6 prefix: invalid format");
		return;
	}
	(void)snprintf(buf, sizeof(buf), "%s", str);
	if ((slash = strrchr(buf, '/')) != NULL) {
		*slash++ = '\0';
		len = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || len < 0 || len > 64) {
			yyerror("invalid local inet6 prefix: %s",
			    len > 64 ? "too large" : "invalid prefix length");
			return;
		}
	}
	if (inet_pton(AF_INET6, buf, &addr) != 1) {
		yyerror("invalid local inet6 prefix: invalid format");
		return;
	}
	for (i = 0; i < 16; i++) {
		int	 bits = (int)len - i * 8;
		uint8_t	 m;

		m = bits >= 8 ? 0xff : bits <= 0 ? 0 :
		    (uint8_t)(0xff00 >> bits);
		if ((addr.s6_addr[i] & m) != addr.s6_addr[i]) {
			yyerror("invalid local inet6 prefix: bad mask");
			return;
		}
	}
	conf_out->local6_set = 1;
	conf_out->local6_auto = 0;
	conf_out->local6 = addr;
	conf_out->local6_len = (int)len;
}

/* A user or group, by name or number. */
static int
lookup_id(const char *s, int group, unsigned long *id)
{
	struct passwd	*pw;
	struct group	*gr;
	char		*end;

	if (isdigit((unsigned char)s[0])) {
		errno = 0;
		*id = strtoul(s, &end, 10);
		return (*end == '\0' && errno == 0 && *id < UINT32_MAX ?
		    0 : -1);
	}
	if (group) {
		if ((gr = getgrnam(s)) == NULL)
			return (-1);
		*id = gr->gr_gid;
	} else {
		if ((pw = getpwnam(s)) == NULL)
			return (-1);
		*id = pw->pw_uid;
	}
	return (0);
}

/* user, user:group or :group; a missing part is (id_t)-1. */
static void
owner_parse(char *s, struct owner_id *o)
{
	char		*user = s, *group;
	unsigned long	 id;

	o->ok = 0;
	o->uid = (uid_t)-1;
	o->gid = (gid_t)-1;
	if ((group = strchr(s, ':')) != NULL)
		*group++ = '\0';
	if (*user == '\0' && (group == NULL || *group == '\0')) {
		yyerror("invalid owner: no user or group given");
		return;
	}
	if (*user != '\0') {
		if (lookup_id(user, 0, &id) == -1) {
			yyerror("failed to get user: %s", user);
			return;
		}
		o->uid = (uid_t)id;
	}
	if (group != NULL && *group != '\0') {
		if (lookup_id(group, 1, &id) == -1) {
			yyerror("failed to get group: %s", group);
			return;
		}
		o->gid = (gid_t)id;
	}
	o->ok = 1;
}

/*
 * Interface group names as OpenBSD's ifconfig takes them: shorter than
 * IF_NAMESIZE and not ending in a digit (that would read as a unit).
 */
static int
valid_group(const char *s)
{
	size_t	 len = strlen(s);

	if (len == 0 || len >= VM_MAX_GROUPNAME)
		return (0);
	return (!isdigit((unsigned char)s[len - 1]));
}

static int
valid_ifname(const char *s)
{
	size_t	 i, len = strlen(s);

	if (len == 0 || len >= IF_NAMESIZE)
		return (0);
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '-' && s[i] != '.')
			return (0);
	return (1);
}

/* Switch blocks. */

static void
sw_begin(char *name)
{
	struct vmd_conf_switch	*prev;
	char			 err[VM_REASON_MAX];

	/* A block cut short by a syntax error leaves one. */
	free(cursw);
	if ((cursw = calloc(1, sizeof(*cursw))) == NULL)
		fatal("switch");
	cursw->lineno = yylval.lineno;
	cursw->rdomain = -1;
	cursw->updown = -1;
	cur_bad = 0;
	cur_errors = nerrors;
	if (config_name_check("switch", name, err, sizeof(err)) == -1) {
		yyerror("%s", err);
		cur_bad = 1;
	} else if ((prev = name_find(&swnames, name)) != NULL) {
		yyerror("duplicate switch name \"%s\" (first on line %d)",
		    name, prev->lineno);
		cur_bad = 1;
	}
	(void)snprintf(cursw->name, sizeof(cursw->name), "%s", name);
	free(name);
}

static void
sw_end(void)
{
	/* After an error in the block, more would only be its echo. */
	if (nerrors != cur_errors)
		cur_bad = 1;
	else if (cursw->ifname[0] == '\0') {
		yyerror_at(cursw->lineno, "switch \"%s\" is missing interface "
		    "name", cursw->name);
		cur_bad = 1;
	}
	if (cur_bad)
		free(cursw);
	else {
		TAILQ_INSERT_TAIL(&conf_out->switches, cursw, entry);
		name_add(&swnames, cursw->name, cursw);
	}
	cursw = NULL;
}

static void
sw_interface(const char *name)
{
	if (strlen(name) >= sizeof(cursw->ifname))
		yyerror("switch interface too long: %s", name);
	else if (!valid_ifname(name))
		yyerror("invalid switch interface: %s", name);
	else
		(void)snprintf(cursw->ifname, sizeof(cursw->ifname), "%s",
		    name);
}

static void
sw_group(const char *name)
{
	if (!valid_group(name))
		yyerror("invalid group name: %s", name);
	else
		(void)snprintf(cursw->group, sizeof(cursw->group), "%s", name);
}

static void
sw_rdomain(long long n)
{
	if (n < 0 || n > CONF_RDOMAIN_MAX)
		yyerror("invalid rdomain: %lld", n);
	else
		cursw->rdomain = (int)n;
}

/* VM blocks. */

static void
nic_reset(void)
{
	memset(&curnic, 0, sizeof(curnic));
	curnic.rdomain = -1;
	curnic.updown = -1;
}

static void
vm_begin(char *name, char *inst)
{
	struct vmd_conf_vm	*prev;
	char			 err[VM_REASON_MAX];
	const char		*vmname = inst != NULL ? inst : name;

	free(cur);
	if ((cur = calloc(1, sizeof(*cur))) == NULL)
		fatal("vm");
	cur->lineno = yylval.lineno;
	cur_memory_set = cur_cmdline_set = cur_bad = 0;
	cur_nifs = -1;
	cur_errors = nerrors;
	nic_reset();
	if (inst != NULL) {
		if (strlen(name) >= sizeof(cur->instance_of)) {
			yyerror("vm %s name too long", name);
			cur_bad = 1;
		} else
			(void)snprintf(cur->instance_of,
			    sizeof(cur->instance_of), "%s", name);
	}
	if (config_name_check("vm", vmname, err, sizeof(err)) == -1) {
		yyerror("%s", err);
		cur_bad = 1;
	} else if ((prev = name_find(&vmnames, vmname)) != NULL) {
		yyerror("duplicate vm name \"%s\" (first on line %d)", vmname,
		    prev->lineno);
		cur_bad = 1;
	}
	(void)snprintf(cur->params.vmc_name, sizeof(cur->params.vmc_name),
	    "%s", vmname);
	free(name);
	free(inst);
}

/* "interfaces N" asks for at least N; the rest get the defaults. */
static void
vm_fill_nics(void)
{
	size_t	 i, want;

	want = cur_nifs > 0 ? (size_t)cur_nifs : 0;
	for (i = cur->nnics; i < want; i++) {
		memset(&cur->nic[i], 0, sizeof(cur->nic[i]));
		cur->nic[i].rdomain = -1;
		cur->nic[i].updown = -1;
		config_random_lladdr(cur->nic[i].lladdr);
	}
	if (want > cur->nnics)
		cur->nnics = want;
	if (cur->nnics > 0)
		cur->params.vmc_flags |= VMOP_CREATE_NETWORK;
}

static void
vm_end(void)
{
	struct vmd_conf_vm	*parent;
	struct vmop_create_params *p = &cur->params;
	char			 err[VM_REASON_MAX];

	vm_fill_nics();
	/* After an error in the block, more would only be its echo. */
	if (nerrors != cur_errors)
		cur_bad = 1;
	if (!cur_bad && cur->instance_of[0] != '\0') {
		if ((parent = name_find(&vmnames, cur->instance_of)) == NULL) {
			yyerror_at(cur->lineno, "vm \"%s\" is an instance of "
			    "unknown vm \"%s\" (define it first)",
			    p->vmc_name, cur->instance_of);
			cur_bad = 1;
		} else if (config_instance_apply(parent, cur, 1, err,
		    sizeof(err)) == -1) {
			yyerror_at(cur->lineno, "%s", err);
			cur_bad = 1;
		}
	}
	if (p->vmc_ncpus == 0)
		p->vmc_ncpus = 1;
	if (p->vmc_memsize == 0)
		p->vmc_memsize = VM_DEFAULT_MEMORY;
	/*
	 * No boot, disk or cdrom is a valid configuration, as on OpenBSD;
	 * vmd refuses to start the VM, saying why.
	 */
	if (cur_bad)
		free(cur);
	else {
		TAILQ_INSERT_TAIL(&conf_out->vms, cur, entry);
		name_add(&vmnames, p->vmc_name, cur);
	}
	cur = NULL;
}

/*
 * A second "memory" is refused in OpenBSD's words, which depend on how
 * the size was written: a plain number, or a string such as "1G".
 */
static void
vm_memory(uint64_t bytes, const char *text, int is_string)
{
	char		 reason[VM_REASON_MAX], size[FMT_SCALED_STRSIZE];
	uint64_t	 rounded;

	if (cur_memory_set) {
		yyerror("%s specified more than once",
		    is_string ? "argument" : "memory");
		return;
	}
	cur_memory_set = 1;
	if (config_check_memsize(bytes, reason, sizeof(reason)) == -1) {
		yyerror("%s", reason);
		yyerror("failed to parse size: %s", text);
		return;
	}
	/* Guest memory comes in whole megabytes. */
	rounded = bytes & ~((1ULL << 20) - 1);
	if (rounded != bytes) {
		fmt_size(rounded, size);
		yydebug_at(yylval.lineno, "memory size rounded to %s", size);
	}
	cur->params.vmc_memsize = rounded;
	cur->params.vmc_flags |= VMOP_CREATE_MEMORY;
}

/*
 * realpath(3), remembering the last answer of this parse: thousands of
 * VMs booting the same kernel would otherwise cost three system calls
 * each.
 */
static char *
conf_realpath(const char *path, char *real)
{
	if (rp_last[0] != '\0' && strcmp(path, rp_last) == 0) {
		memcpy(real, rp_real, PATH_MAX);
		return (real);
	}
	if (realpath(path, real) == NULL)
		return (NULL);
	if (strlen(path) < sizeof(rp_last)) {
		(void)snprintf(rp_last, sizeof(rp_last), "%s", path);
		memcpy(rp_real, real, PATH_MAX);
	}
	return (real);
}

static void
vm_boot(const char *path)
{
	char	 real[PATH_MAX];

	if (cur->params.vmc_kernel[0] != '\0')
		yyerror("kernel specified more than once");
	else if (strlen(path) >= sizeof(cur->params.vmc_kernel))
		yyerror("kernel name too long");
	else if (conf_realpath(path, real) == NULL)
		yyerror("kernel path not found: %s", strerror(errno));
	else {
		(void)snprintf(cur->params.vmc_kernel,
		    sizeof(cur->params.vmc_kernel), "%s", real);
		cur->params.vmc_flags |= VMOP_CREATE_KERNEL;
	}
}

/* Like the kernel: must exist now, its absolute path is kept. */
static void
vm_initrd(const char *path)
{
	char	 real[PATH_MAX];

	if (cur->params.vmc_initrd[0] != '\0')
		yyerror("initrd specified more than once");
	else if (strlen(path) >= sizeof(cur->params.vmc_initrd))
		yyerror("initrd name too long");
	else if (conf_realpath(path, real) == NULL)
		yyerror("initrd path not found: %s", strerror(errno));
	else {
		(void)snprintf(cur->params.vmc_initrd,
		    sizeof(cur->params.vmc_initrd), "%s", real);
		cur->params.vmc_flags |= VMOP_CREATE_INITRD;
	}
}

static void
vm_cdrom(const char *path)
{
	if (cur->cdrom[0] != '\0')
		yyerror("cdrom specified more than once");
	else if (strlen(path) >= sizeof(cur->cdrom))
		yyerror("cdrom name too long");
	else if (path[0] == '\0')
		yyerror("cdrom name is empty");
	else {
		(void)snprintf(cur->cdrom, sizeof(cur->cdrom), "%s", path);
		cur->params.vmc_flags |= VMOP_CREATE_CDROM;
	}
}

static void
vm_cmdline(const char *s)
{
	if (cur_cmdline_set)
		yyerror("cmdline specified more than once");
	else if (strlen(s) >= sizeof(cur->params.vmc_cmdline))
		yyerror("cmdline too long");
	else {
		(void)snprintf(cur->params.vmc_cmdline,
		    sizeof(cur->params.vmc_cmdline), "%s", s);
		cur->params.vmc_flags |= VMOP_CREATE_CMDLINE;
		cur_cmdline_set = 1;
	}
}

/* Without "format", a qcow2 header says qcow2 and anything else is raw. */
static int
disk_format(const char *path)
{
	char		 magic[4];
	struct stat	 st;
	int		 fd, fmt = VMDF_RAW;

	/* Non-blocking: a FIFO named as a disk must not hang the parse. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return (fmt);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
	    memcmp(magic, CONF_QCOW2_MAGIC, sizeof(magic)) == 0)
		fmt = VMDF_QCOW2;
	close(fd);
	return (fmt);
}

static void
vm_disk(const char *path, int format)
{
	char	 real[PATH_MAX];
	int	 ok = 0;

	if (format == -2)	/* unrecognized, already said */
		return;
	if (cur->ndisks >= VM_MAX_DISKS)
		yyerror("too many disks");
	else if (strlen(path) >= PATH_MAX)
		yyerror("disk path too long");
	else if (conf_realpath(path, real) == NULL)
		yyerror("disk %s: %s", path, strerror(errno));
	else if (strlen(real) >= sizeof(cur->disk[0].path))
		yyerror("disk path too long");
	else
		ok = 1;
	if (!ok) {
		yyerror("failed to parse disks: %s", path);
		return;
	}
	(void)snprintf(cur->disk[cur->ndisks].path,
	    sizeof(cur->disk[cur->ndisks].path), "%s", real);
	if (format < 0)
		format = disk_format(real);
	cur->disk[cur->ndisks].format = (enum vm_disk_format)format;
	cur->ndisks++;
	cur->params.vmc_flags |= VMOP_CREATE_DISK;
}

static void
vm_nifs(long long n)
{
	if (cur_nifs != -1)
		yyerror("interfaces specified more than once");
	else if (n < 0 || n > VM_MAX_NICS)
		yyerror("too many interfaces: %lld", n);
	else
		cur_nifs = (int)n;
}

static void
vm_vcpu(long long n)
{
	if (n < 1 || n > VM_MAX_VCPUS)
		yyerror("vcpu %lld: the count must be 1 to %d", n,
		    VM_MAX_VCPUS);
	else
		cur->params.vmc_ncpus = (uint32_t)n;
}

static void
nic_switch(const char *name)
{
	if (strlen(name) >= sizeof(curnic.sw))
		yyerror("switch name too long: %s", name);
	else
		(void)snprintf(curnic.sw, sizeof(curnic.sw), "%s", name);
}

static void
nic_group(const char *name)
{
	if (!valid_group(name))
		yyerror("invalid group name: %s", name);
	else
		(void)snprintf(curnic.group, sizeof(curnic.group), "%s", name);
}

static void
nic_rdomain(long long n)
{
	if (n < 0 || n > CONF_RDOMAIN_MAX)
		yyerror("invalid rdomain: %lld", n);
	else
		curnic.rdomain = (int)n;
}

static void
nic_begin(void)
{
	nic_reset();
	nic_errors = nerrors;
}

/* "tap" is any free tap device, as on OpenBSD; "tapN" a given one. */
static void
nic_end(int local, char *name)
{
	const char	*p;

	/* A bad option was reported; counting the interface would echo. */
	if (nerrors != nic_errors)
		goto done;
	if (cur->nnics >= VM_MAX_NICS) {
		yyerror("too many interfaces: %zu", cur->nnics + 1);
		goto done;
	}
	if (name != NULL && strcmp(name, "tap") != 0) {
		p = name;
		if (strncmp(name, "tap", 3) == 0)
			for (p = name + 3; isdigit((unsigned char)*p); p++)
				;
		if (p == name || p == name + 3 || *p != '\0') {
			yyerror("invalid interface: %s", name);
			goto done;
		}
		if (strlen(name) >= sizeof(curnic.ifname)) {
			yyerror("interface name too long: %s", name);
			goto done;
		}
		(void)snprintf(curnic.ifname, sizeof(curnic.ifname), "%s",
		    name);
	}
	curnic.local = local;
	if (!curnic.lladdr_set)
		config_random_lladdr(curnic.lladdr);
	cur->nic[cur->nnics++] = curnic;
	cur->params.vmc_flags |= VMOP_CREATE_NETWORK;
 done:
	free(name);
	nic_reset();
}

/* Messages. */

static void
vreport(int lineno, const char *prefix, const char *fmt, va_list ap)
{
	char	*msg;

	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("yyerror vasprintf");
	if (conf_flags & CONF_ERR_STDERR)
		fprintf(stderr, "%s:%d: %s%s\n", file->name, lineno, prefix,
		    msg);
	else
		log_warnx("%s:%d: %s%s", file->name, lineno, prefix, msg);
	free(msg);
}

static int
yyerror(const char *fmt, ...)
{
	va_list	 ap;

	file->errors++;
	nerrors++;
	/*
	 * An ERROR token, after the lexer has said what is wrong (an
	 * undefined macro, a string too long), is a syntax error too, and
	 * yacc says so, as OpenBSD's vmd does.
	 */
	va_start(ap, fmt);
	vreport(yylval.lineno, "", fmt, ap);
	va_end(ap);
	return (0);
}

static void
yyerror_at(int lineno, const char *fmt, ...)
{
	va_list	 ap;

	file->errors++;
	nerrors++;
	va_start(ap, fmt);
	vreport(lineno, "", fmt, ap);
	va_end(ap);
}

/* A debug message, as on OpenBSD: shown with -v only (vmd -n -v too). */
static void
yydebug_at(int lineno, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	if (log_getverbose() < 1)
		return;
	va_start(ap, fmt);
	if (conf_flags & CONF_ERR_STDERR)
		vreport(lineno, "", fmt, ap);
	else {
		if (vasprintf(&msg, fmt, ap) == -1)
			fatal("yydebug vasprintf");
		log_debug("%s:%d: %s", file->name, lineno, msg);
		free(msg);
	}
	va_end(ap);
}

/* The lexer. */

static int
kw_cmp(const void *k, const void *e)
{
	return (strcmp(k, ((const struct keyword *)e)->k_name));
}

static int
lookup(const char *s)
{
	/* sorted, for bsearch */
	static const struct keyword keywords[] = {
		{ "agentx",	AGENTX },
		{ "allow",	ALLOW },
		{ "boot",	BOOT },
		{ "cdrom",	CDROM },
		{ "cmdline",	CMDLINE },
		{ "context",	CONTEXT },
		{ "delay",	DELAY },
		{ "device",	DEVICE },
		{ "disable",	DISABLE },
		{ "disk",	DISK },
		{ "down",	DOWN },
		{ "enable",	ENABLE },
		{ "format",	FORMAT },
		{ "group",	GROUP },
		{ "include",	INCLUDE },
		{ "inet6",	INET6 },
		{ "initrd",	INITRD },
		{ "instance",	INSTANCE },
		{ "interface",	INTERFACE },
		{ "interfaces",	INTERFACES },
		{ "lladdr",	LLADDR },
		{ "local",	LOCAL },
		{ "locked",	LOCKED },
		{ "memory",	MEMORY },
		{ "net",	NET },
		{ "owner",	OWNER },
		{ "parallel",	PARALLEL },
		{ "path",	PATH },
		{ "prefix",	PREFIX },
		{ "rdomain",	RDOMAIN },
		{ "socket",	SOCKET },
		{ "staggered",	STAGGERED },
		{ "start",	START },
		{ "switch",	SWITCH },
		{ "up",		UP },
		{ "vcpu",	VCPU },
		{ "vm",		VM },
	};
	const struct keyword	*p;

	p = bsearch(s, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), kw_cmp);
	return (p != NULL ? p->k_val : STRING);
}

/* Bytes that mark where a macro's expansion starts and ends. */
#define START_EXPAND	1
#define DONE_EXPAND	2

/*
 * The next byte.  The expansion markers only count when they come back
 * from the push-back buffer, where the lexer put them; in the file they,
 * and NUL, are not text: said once per file and read as a blank.
 */
static int
igetc(void)
{
	int	 c;

	for (;;) {
		if (file->nunget > 0) {
			c = file->unget[--file->nunget];
			if (c == START_EXPAND)
				expanding = 1;
			else if (c == DONE_EXPAND)
				expanding = 0;
			else
				return (c);
			continue;
		}
		c = getc(file->stream);
		if (c == '\0' || c == START_EXPAND || c == DONE_EXPAND) {
			if (!file->badbyte) {
				file->badbyte = 1;
				if (c == '\0')
					yyerror_at(file->lineno,
					    "NUL byte in input");
				else
					yyerror_at(file->lineno, "invalid "
					    "control character 0x%02x in input",
					    c);
			}
			file->errors++;
			nerrors++;
			return (' ');
		}
		return (c);
	}
}

static void
lungetc(int c)
{
	unsigned char	*p;

	if (c == EOF)
		return;
	if (file->nunget >= file->ungetsize) {
		if ((p = reallocarray(file->unget, file->ungetsize, 2)) ==
		    NULL)
			fatal("lungetc");
		file->unget = p;
		file->ungetsize *= 2;
	}
	file->unget[file->nunget++] = (unsigned char)c;
}

/*
 * The next byte outside quotes: a backslash-newline joins lines, runs of
 * blanks become one space, and the end of a file reads as one newline
 * first (so a last line without one still ends its statement) before
 * the including file continues.
 */
static int
lgetc(int quotec)
{
	int	 c, next;

	if (quotec) {
		if ((c = igetc()) == EOF) {
			yyerror("unterminated quoted string");
			if (file == topfile || popfile() == EOF)
				return (EOF);
			return (quotec);
		}
		return (c);
	}
	while ((c = igetc()) == '\\') {
		next = igetc();
		if (next != '\n') {
			lungetc(next);
			break;
		}
		yylval.lineno = file->lineno;
		file->lineno++;
	}
	if (c == '\t' || c == ' ') {
		do {
			c = igetc();
		} while (c == '\t' || c == ' ');
		lungetc(c);
		c = ' ';
	}
	if (c == EOF) {
		if (!file->eof_reached) {
			file->eof_reached = 1;
			return ('\n');
		}
		while (c == EOF) {
			if (file == topfile || popfile() == EOF)
				return (EOF);
			c = igetc();
		}
	}
	return (c);
}

/*
 * Skip the rest of a bad line, but leave its newline: error recovery
 * needs it to end the bad statement, or the next line would go too.
 */
static int
findeol(void)
{
	int	 c;

	for (;;) {
		c = lgetc(0);
		if (c == '\n') {
			lungetc(c);
			break;
		}
		if (c == EOF)
			break;
	}
	return (ERROR);
}

static int
lex_macro(void)
{
	char	 buf[CONF_MAX_TOKEN];
	char	*p = buf, *val;
	int	 c;

	for (;;) {
		if ((c = lgetc(0)) == EOF)
			return (0);
		if (p + 1 >= buf + sizeof(buf)) {
			yyerror("string too long");
			return (findeol());
		}
		if (isalnum(c) || c == '_') {
			*p++ = (char)c;
			continue;
		}
		*p = '\0';
		lungetc(c);
		break;
	}
	if ((val = symget(buf)) == NULL) {
		yyerror("macro '%s' not defined", buf);
		return (findeol());
	}
	lungetc(DONE_EXPAND);
	for (p = val + strlen(val); p > val; )
		lungetc((unsigned char)*--p);
	lungetc(START_EXPAND);
	return (-1);
}

static int
lex_quoted(int quotec)
{
	char	 buf[CONF_MAX_TOKEN];
	char	*p = buf;
	int	 c, next;

	for (;;) {
		/* Unterminated, and said so: no "syntax error" after it. */
		if ((c = lgetc(quotec)) == EOF)
			return (ERROR);
		if (c == '\n') {
			file->lineno++;
			continue;
		} else if (c == '\\') {
			if ((next = lgetc(quotec)) == EOF)
				return (ERROR);
			if (next == quotec || next == ' ' || next == '\t' ||
			    next == '\\')
				c = next;
			else if (next == '\n') {
				file->lineno++;
				continue;
			} else
				lungetc(next);
		} else if (c == quotec) {
			*p = '\0';
			break;
		}
		if (p + 1 >= buf + sizeof(buf)) {
			yyerror("string too long");
			return (findeol());
		}
		*p++ = (char)c;
	}
	if ((yylval.v.string = strdup(buf)) == NULL)
		fatal("yylex: strdup");
	return (STRING);
}

#define allowed_to_end_number(x) \
	(isspace(x) || (x) == ')' || (x) == ',' || (x) == '/' || \
	(x) == '}' || (x) == '=' || (x) == ';')

#define allowed_in_string(x) \
	(isalnum(x) || (ispunct(x) && (x) != '(' && (x) != ')' && \
	(x) != '{' && (x) != '}' && (x) != '!' && (x) != '=' && \
	(x) != '#' && (x) != ',' && (x) != ';'))

static int
lex_number(int c, char *buf, size_t bufsize, char **pp)
{
	char	*p = buf;
	long long n;

	do {
		*p++ = (char)c;
		if ((size_t)(p - buf) >= bufsize - 1) {
			yyerror("string too long");
			return (findeol());
		}
	} while ((c = lgetc(0)) != EOF && isdigit(c));
	lungetc(c);
	if (!(p == buf + 1 && buf[0] == '-') &&
	    (c == EOF || allowed_to_end_number(c))) {
		*p = '\0';
		errno = 0;
		n = strtoll(buf, NULL, 10);
		if (errno == ERANGE) {
			yyerror("\"%s\" invalid number: %s", buf,
			    n < 0 ? "too small" : "too large");
			return (findeol());
		}
		yylval.v.number = n;
		return (NUMBER);
	}
	/* Not a number after all: read it again as a word. */
	while (p > buf + 1)
		lungetc((unsigned char)*--p);
	*pp = p - 1;
	return (-1);
}

static int
yylex(void)
{
	char	 buf[CONF_MAX_TOKEN];
	char	*p;
	int	 c, token;

 top:
	p = buf;
	while ((c = lgetc(0)) == ' ' || c == '\t')
		;
	yylval.lineno = file->lineno;
	if (c == '#')
		while ((c = lgetc(0)) != '\n' && c != EOF)
			;
	if (c == '$' && !expanding) {
		if ((token = lex_macro()) != -1)
			return (token);
		goto top;
	}
	if (c == '"' || c == '\'')
		return (lex_quoted(c));

	if (c == '-' || isdigit(c)) {
		if ((token = lex_number(c, buf, sizeof(buf), &p)) != -1)
			return (token);
		if (c == '-')
			return (c);
	}

	if (isalnum(c) || c == ':' || c == '_' || c == '/' || c == '.') {
		do {
			*p++ = (char)c;
			if ((size_t)(p - buf) >= sizeof(buf) - 1) {
				yyerror("string too long");
				return (findeol());
			}
		} while ((c = lgetc(0)) != EOF && allowed_in_string(c));
		lungetc(c);
		*p = '\0';
		if ((token = lookup(buf)) == STRING)
			if ((yylval.v.string = strdup(buf)) == NULL)
				fatal("yylex: strdup");
		return (token);
	}
	if (c == '\n') {
		yylval.lineno = file->lineno;
		file->lineno++;
	}
	if (c == EOF)
		return (0);
	return (c);
}

/* Files. */

/*
 * Included files are named as on OpenBSD: relative to the working
 * directory, not to the including file.  Only regular files: an include
 * of a device or a FIFO would read forever or block.
 */
static struct conf_file *
pushfile(const char *name, int regular)
{
	struct conf_file	*nfile;
	struct stat		 st;
	int			 saved;

	if ((nfile = calloc(1, sizeof(*nfile))) == NULL)
		return (NULL);
	if ((nfile->name = strdup(name)) == NULL) {
		free(nfile);
		return (NULL);
	}
	if ((nfile->stream = fopen(name, "re")) == NULL)
		goto fail;
	if (fstat(fileno(nfile->stream), &st) == -1)
		goto fail;
	if (S_ISDIR(st.st_mode) || (regular && !S_ISREG(st.st_mode))) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	nfile->lineno = TAILQ_EMPTY(&files) ? 1 : 0;
	nfile->ungetsize = 16;
	if ((nfile->unget = malloc(nfile->ungetsize)) == NULL)
		goto fail;
	TAILQ_INSERT_TAIL(&files, nfile, entry);
	return (nfile);
 fail:
	saved = errno;
	if (nfile->stream != NULL)
		fclose(nfile->stream);
	free(nfile->name);
	free(nfile);
	errno = saved;
	return (NULL);
}

static int
popfile(void)
{
	struct conf_file	*prev;

	if ((prev = TAILQ_PREV(file, conf_files, entry)) != NULL)
		prev->errors += file->errors;
	TAILQ_REMOVE(&files, file, entry);
	fclose(file->stream);
	free(file->name);
	free(file->unget);
	free(file);
	file = prev;
	return (file != NULL ? 0 : EOF);
}

/* Name tables: FNV-1a, chained, doubled when as full as buckets. */

static size_t
name_hash(const char *s)
{
	size_t	 h = 2166136261U;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619U;
	return (h);
}

static void *
name_find(struct name_table *t, const char *name)
{
	struct name_ent	*e;

	if (t->nbuckets == 0)
		return (NULL);
	for (e = t->bucket[name_hash(name) & (t->nbuckets - 1)]; e != NULL;
	    e = e->next)
		if (strcmp(e->name, name) == 0)
			return (e->obj);
	return (NULL);
}

static void
name_grow(struct name_table *t)
{
	struct name_ent	**nb, *e, *next;
	size_t		  i, n, h;

	n = t->nbuckets == 0 ? 64 : t->nbuckets * 2;
	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		fatal("name table");
	for (i = 0; i < t->nbuckets; i++) {
		for (e = t->bucket[i]; e != NULL; e = next) {
			next = e->next;
			h = name_hash(e->name) & (n - 1);
			e->next = nb[h];
			nb[h] = e;
		}
	}
	free(t->bucket);
	t->bucket = nb;
	t->nbuckets = n;
}

static void
name_add(struct name_table *t, const char *name, void *obj)
{
	struct name_ent	*e;
	size_t		 h;

	if (t->count >= t->nbuckets)
		name_grow(t);
	if ((e = malloc(sizeof(*e))) == NULL)
		fatal("name table");
	e->name = name;
	e->obj = obj;
	h = name_hash(name) & (t->nbuckets - 1);
	e->next = t->bucket[h];
	t->bucket[h] = e;
	t->count++;
}

static void
name_clear(struct name_table *t)
{
	struct name_ent	*e, *next;
	size_t		 i;

	for (i = 0; i < t->nbuckets; i++)
		for (e = t->bucket[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(t->bucket);
	memset(t, 0, sizeof(*t));
}

/* Macros. */

static void
report_unused_macros(void)
{
	struct conf_sym	*sym;

	TAILQ_FOREACH(sym, &symhead, entry) {
		if (sym->used)
			continue;
		if (conf_flags & CONF_ERR_STDERR)
			fprintf(stderr, "warning: macro '%s' not used\n",
			    sym->name);
		else
			log_warnx("warning: macro '%s' not used", sym->name);
	}
}

static void
sym_free(struct conf_sym *sym)
{
	TAILQ_REMOVE(&symhead, sym, entry);
	free(sym->name);
	free(sym->value);
	free(sym);
}

/*
 * Parse filename into conf.  flags: CONF_MISSING_OK, CONF_ERR_STDERR.
 * Returns 0, or -1 after reporting every error (conf is then empty).
 */
int
parse_config(const char *filename, int flags, struct vmd_conf *conf)
{
	struct conf_sym	*sym, *next;
	int		 errors;

	config_init(conf);
	conf_out = conf;
	conf_flags = flags;
	expanding = 0;
	nerrors = 0;
	rp_last[0] = '\0';
	cur = NULL;
	cursw = NULL;
	TAILQ_FOREACH(sym, &symhead, entry)
		sym->used = 0;
	if ((file = pushfile(filename, 0)) == NULL) {
		if (errno == ENOENT && (flags & CONF_MISSING_OK)) {
			log_debug("%s: not found, no VMs configured",
			    filename);
			return (0);
		}
		if (flags & CONF_ERR_STDERR)
			fprintf(stderr, "failed to open %s: %s\n", filename,
			    strerror(errno));
		else
			log_warn("failed to open %s", filename);
		return (-1);
	}
	topfile = file;

	yyparse();
	/* An error can leave a block half read, and include files open. */
	free(cur);
	cur = NULL;
	free(cursw);
	cursw = NULL;
	while (file != topfile)
		popfile();
	errors = file->errors;
	popfile();
	name_clear(&vmnames);
	name_clear(&swnames);

	report_unused_macros();
	TAILQ_FOREACH_SAFE(sym, &symhead, entry, next)
		if (!sym->persist)
			sym_free(sym);
	if (errors) {
		config_free(conf);
		config_init(conf);
		return (-1);
	}
	return (0);
}

static int
symset(const char *name, const char *value, int persist)
{
	struct conf_sym	*sym;

	TAILQ_FOREACH(sym, &symhead, entry)
		if (strcmp(name, sym->name) == 0)
			break;
	if (sym != NULL) {
		/* -D wins over the file. */
		if (sym->persist)
			return (0);
		sym_free(sym);
	}
	if ((sym = calloc(1, sizeof(*sym))) == NULL)
		return (-1);
	if ((sym->name = strdup(name)) == NULL) {
		free(sym);
		return (-1);
	}
	if ((sym->value = strdup(value)) == NULL) {
		free(sym->name);
		free(sym);
		return (-1);
	}
	sym->persist = persist;
	TAILQ_INSERT_TAIL(&symhead, sym, entry);
	return (0);
}

/* -D name=value */
int
cmdline_symset(const char *s)
{
	const char	*eq, *p;
	char		*name;
	int		 ret;

	if ((eq = strchr(s, '=')) == NULL || eq == s)
		return (-1);
	for (p = s; p < eq; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return (-1);
	if ((name = strndup(s, (size_t)(eq - s))) == NULL)
		return (-1);
	ret = symset(name, eq + 1, 1);
	free(name);
	return (ret);
}

static char *
symget(const char *name)
{
	struct conf_sym	*sym;

	TAILQ_FOREACH(sym, &symhead, entry) {
		if (strcmp(name, sym->name) == 0) {
			sym->used = 1;
			return (sym->value);
		}
	}
	return (NULL);
}
