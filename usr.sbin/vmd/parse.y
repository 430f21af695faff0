/*
 * parse.y: the vm.conf(5) grammar (byacc), shaped like OpenBSD's so the
 * full language can grow into it: a lexer with macros ($name, -D),
 * "quoted" strings, \ line continuation and include, then statements.
 * Accepted now: macro definitions, include "file" and
 *	vm "name" { boot "path"; memory SIZE; cmdline "string";
 *	    vcpu 1; enable; disable }
 * The result is a list of struct vmd_conf_vm.  The file is outside
 * input: every string is bounded, every error is reported as
 * "FILE:LINE: message" and counted, and nothing in here is fatal except
 * running out of memory.
 */

%{
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "config.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#define CONF_MAX_INCLUDE	16	/* nested include files */
#define CONF_MAX_TOKEN		8192	/* bytes of one word or string */

struct conf_file {
	TAILQ_ENTRY(conf_file)	 entry;
	FILE			*stream;
	char			*name;
	unsigned char		*unget;		/* pushed-back bytes */
	size_t			 nunget;
	size_t			 ungetsize;
	int			 eof_reached;
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

/* The parser's state: yacc parsers are not reentrant anyway. */
static struct conf_files	 files = TAILQ_HEAD_INITIALIZER(files);
static struct conf_file		*file, *topfile;
static struct conf_syms		 symhead = TAILQ_HEAD_INITIALIZER(symhead);
static struct vmd_conf		*conf_out;
static int			 conf_flags;
static int			 expanding;

/* The vm block being read. */
static struct vmd_conf_vm	*cur;
static int			 cur_memory_set;
static int			 cur_cmdline_set;

static struct conf_file	*pushfile(const char *);
static int		 popfile(void);
static int		 yyerror(const char *, ...)
			    __attribute__((__format__(printf, 1, 2)));
static int		 yylex(void);
static int		 igetc(void);
static int		 lgetc(int);
static void		 lungetc(int);
static int		 findeol(void);
static int		 symset(const char *, const char *, int);
static char		*symget(const char *);
static void		 vm_memory(uint64_t, const char *);

typedef struct {
	union {
		long long	 number;
		char		*string;
	} v;
	int lineno;
} YYSTYPE;
#define YYSTYPE_IS_DECLARED 1

%}

%token	INCLUDE ERROR
%token	BOOT CMDLINE DISABLE ENABLE MEMORY VCPU VM
%token	<v.number>	NUMBER
%token	<v.string>	STRING
%type	<v.string>	string
%destructor	{ free($$); } <v.string>

%%

grammar		: /* empty */
		| grammar include '\n'
		| grammar '\n'
		| grammar varset '\n'
		| grammar vm '\n'
		| grammar error '\n'		{ file->errors++; }
		;

include		: INCLUDE string		{
			struct conf_file	*nfile;
			int			 depth = 0;

			TAILQ_FOREACH(nfile, &files, entry)
				depth++;
			if (depth >= CONF_MAX_INCLUDE) {
				yyerror("include files nested too deeply");
				YYERROR;	/* the destructor frees $2 */
			}
			if ((nfile = pushfile($2)) == NULL) {
				yyerror("failed to include file %s", $2);
				YYERROR;
			}
			free($2);
			file = nfile;
			lungetc('\n');
		}
		;

varset		: STRING '=' string		{
			const char	*s;

			for (s = $1; *s != '\0'; s++)
				if (!isalnum((unsigned char)*s) &&
				    *s != '_')
					break;
			if (*s != '\0' || $1[0] == '\0') {
				yyerror("invalid macro name: %s", $1);
				YYERROR;	/* destructor frees $1, $3 */
			}
			if (symset($1, $3, 0) == -1)
				fatal("cannot store variable");
			free($1);
			free($3);
		}
		;

vm		: VM string			{
			/* A block cut short by a syntax error leaves one. */
			free(cur);
			if ((cur = calloc(1, sizeof(*cur))) == NULL)
				fatal("vm");
			cur->lineno = file->lineno;
			cur_memory_set = cur_cmdline_set = 0;
			if (strlen($2) >= sizeof(cur->params.vmc_name))
				yyerror("vm name too long");
			else if (!vmd_valid_name($2))
				yyerror("invalid vm name: %s", $2);
			(void)snprintf(cur->params.vmc_name,
			    sizeof(cur->params.vmc_name), "%s", $2);
		} '{' optnl vm_opts_o '}'	{
			struct vmd_conf_vm	*cv;

			/* Freed here, not above: on error it is discarded. */
			free($2);

			TAILQ_FOREACH(cv, &conf_out->vms, entry)
				if (strcmp(cv->params.vmc_name,
				    cur->params.vmc_name) == 0)
					break;
			if (cv != NULL) {
				yyerror("duplicate vm name");
				free(cur);
			} else if (cur->params.vmc_kernel[0] == '\0') {
				yyerror("vm \"%s\": no kernel specified",
				    cur->params.vmc_name);
				free(cur);
			} else {
				cur->params.vmc_ncpus = 1;
				if (cur->params.vmc_memsize == 0)
					cur->params.vmc_memsize =
					    VM_DEFAULT_MEMORY;
				TAILQ_INSERT_TAIL(&conf_out->vms, cur, entry);
			}
			cur = NULL;
		}
		;

/* Options are separated by newlines or ';', as many as one likes. */
vm_opts_o	: /* empty */
		| vm_opts_l optnl
		;

vm_opts_l	: vm_opts_l sep optnl vm_opts
		| vm_opts
		;

vm_opts		: ENABLE			{ cur->disabled = 0; }
		| DISABLE			{ cur->disabled = 1; }
		| BOOT string			{
			char	 path[PATH_MAX];

			if (cur->params.vmc_kernel[0] != '\0')
				yyerror("kernel specified more than once");
			else if (realpath($2, path) == NULL)
				yyerror("kernel path not found: %s",
				    strerror(errno));
			else if (strlen(path) >=
			    sizeof(cur->params.vmc_kernel))
				yyerror("kernel name too long");
			else {
				(void)snprintf(cur->params.vmc_kernel,
				    sizeof(cur->params.vmc_kernel), "%s",
				    path);
				cur->params.vmc_flags |= VMOP_CREATE_KERNEL;
			}
			free($2);
		}
		| MEMORY NUMBER			{
			char	 buf[32];

			(void)snprintf(buf, sizeof(buf), "%lld", $2);
			if ($2 < 0)
				yyerror("failed to parse size: %s", buf);
			else
				vm_memory((uint64_t)$2, buf);
		}
		| MEMORY STRING			{
			uint64_t	 bytes;

			if (config_parse_size($2, &bytes) == -1)
				yyerror("failed to parse size: %s", $2);
			else
				vm_memory(bytes, $2);
			free($2);
		}
		| CMDLINE string		{
			if (cur_cmdline_set)
				yyerror("cmdline specified more than once");
			else if (strlen($2) >=
			    sizeof(cur->params.vmc_cmdline))
				yyerror("cmdline too long");
			else {
				(void)snprintf(cur->params.vmc_cmdline,
				    sizeof(cur->params.vmc_cmdline), "%s",
				    $2);
				cur->params.vmc_flags |= VMOP_CREATE_CMDLINE;
				cur_cmdline_set = 1;
			}
			free($2);
		}
		| VCPU NUMBER			{
			if ($2 != VM_MAX_VCPUS)
				yyerror("vcpu count must be %d",
				    VM_MAX_VCPUS);
		}
		;

string		: STRING string			{
			if (asprintf(&$$, "%s%s", $1, $2) == -1)
				fatal("asprintf string");
			free($1);
			free($2);
		}
		| STRING
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

static void
vm_memory(uint64_t bytes, const char *text)
{
	char	 reason[VM_REASON_MAX];

	if (cur_memory_set) {
		yyerror("memory specified more than once");
		return;
	}
	if (config_check_memsize(bytes, reason, sizeof(reason)) == -1) {
		yyerror("%s", reason);
		return;
	}
	/* Guest memory comes in whole megabytes. */
	cur->params.vmc_memsize = bytes & ~((1ULL << 20) - 1);
	cur->params.vmc_flags |= VMOP_CREATE_MEMORY;
	cur_memory_set = 1;
}

static int
yyerror(const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	file->errors++;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("yyerror vasprintf");
	va_end(ap);
	if (conf_flags & CONF_ERR_STDERR)
		fprintf(stderr, "%s:%d: %s\n", file->name, yylval.lineno, msg);
	else
		log_warnx("%s:%d: %s", file->name, yylval.lineno, msg);
	free(msg);
	return (0);
}

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
		{ "boot",	BOOT },
		{ "cmdline",	CMDLINE },
		{ "disable",	DISABLE },
		{ "enable",	ENABLE },
		{ "include",	INCLUDE },
		{ "memory",	MEMORY },
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

static int
igetc(void)
{
	int	 c;

	for (;;) {
		if (file->nunget > 0)
			c = file->unget[--file->nunget];
		else
			c = getc(file->stream);
		if (c == START_EXPAND)
			expanding = 1;
		else if (c == DONE_EXPAND)
			expanding = 0;
		else
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
			yyerror("reached end of file while parsing "
			    "quoted string");
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
		if ((c = lgetc(quotec)) == EOF)
			return (0);
		if (c == '\n') {
			file->lineno++;
			continue;
		} else if (c == '\\') {
			if ((next = lgetc(quotec)) == EOF)
				return (0);
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
		} else if (c == '\0') {
			yyerror("syntax error");
			return (findeol());
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
yylex(void)
{
	char		 buf[CONF_MAX_TOKEN];
	char		*p;
	const char	*errstr;
	long long	 n;
	int		 c, token;

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
		do {
			*p++ = (char)c;
			if ((size_t)(p - buf) >= sizeof(buf) - 1) {
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
			errstr = errno == ERANGE ? "out of range" : NULL;
			if (errstr != NULL) {
				yyerror("\"%s\" invalid number: %s", buf,
				    errstr);
				return (findeol());
			}
			yylval.v.number = n;
			return (NUMBER);
		}
		/* Not a number after all: read it again as a word. */
		while (p > buf + 1)
			lungetc((unsigned char)*--p);
		c = (unsigned char)*--p;
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
	/* A NUL must not read as the end of the input. */
	if (c == '\0')
		return (ERROR);
	return (c);
}

static struct conf_file *
pushfile(const char *name)
{
	struct conf_file	*nfile;
	struct stat		 st;

	if ((nfile = calloc(1, sizeof(*nfile))) == NULL)
		return (NULL);
	if ((nfile->name = strdup(name)) == NULL) {
		free(nfile);
		return (NULL);
	}
	if ((nfile->stream = fopen(name, "re")) == NULL) {
		free(nfile->name);
		free(nfile);
		return (NULL);
	}
	if (fstat(fileno(nfile->stream), &st) == -1 ||
	    S_ISDIR(st.st_mode)) {
		fclose(nfile->stream);
		free(nfile->name);
		free(nfile);
		errno = EISDIR;
		return (NULL);
	}
	nfile->lineno = TAILQ_EMPTY(&files) ? 1 : 0;
	nfile->ungetsize = 16;
	if ((nfile->unget = malloc(nfile->ungetsize)) == NULL) {
		fclose(nfile->stream);
		free(nfile->name);
		free(nfile);
		return (NULL);
	}
	TAILQ_INSERT_TAIL(&files, nfile, entry);
	return (nfile);
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
	cur = NULL;
	if ((file = pushfile(filename)) == NULL) {
		if (errno == ENOENT && (flags & CONF_MISSING_OK)) {
			log_debug("%s: not found, no VMs configured",
			    filename);
			return (0);
		}
		log_warn("failed to open %s", filename);
		return (-1);
	}
	topfile = file;

	yyparse();
	errors = file->errors;
	/* An error inside a vm block can leave it half read. */
	free(cur);
	cur = NULL;
	while (file != NULL)
		popfile();

	TAILQ_FOREACH_SAFE(sym, &symhead, entry, next) {
		if (!sym->persist) {
			TAILQ_REMOVE(&symhead, sym, entry);
			free(sym->name);
			free(sym->value);
			free(sym);
		}
	}
	if (errors) {
		config_free(conf);
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
		TAILQ_REMOVE(&symhead, sym, entry);
		free(sym->name);
		free(sym->value);
		free(sym);
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
