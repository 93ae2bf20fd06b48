/* Reproducer text. One item per line: words, "quoted strings" (C escapes,
 * see sb_add_quoted) and key=value options, so that names with spaces,
 * newlines or UTF-8 survive and a person can edit a case by hand:
 *
 *     lower 2
 *     entry l0 dir "d" mode=0755 uid=0 gid=0 mtime=1000000000
 *     entry l1 whiteout "d/x" fmt=aufs
 *     op rename "d" "e" flags=noreplace
 */
#include "repro.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "ops.h"

/* ---- formatting ---- */

static void add_str(struct strbuf *out, const char *key, const char *s)
{
	sb_addf(out, " %s%s", key ? key : "", key ? "=" : "");
	sb_add_quoted(out, s);
}

static void add_time(struct strbuf *out, const char *key, int64_t t)
{
	if (t == T_NOW)
		sb_addf(out, " %s=now", key);
	else if (t == T_OMIT)
		sb_addf(out, " %s=omit", key);
	else
		sb_addf(out, " %s=%" PRId64, key, t);
}

static const char *rename_flags_name(unsigned f)
{
	return f == RENAME_NOREPLACE ? "noreplace" : f == RENAME_EXCHANGE ? "exchange" : "none";
}

static const char *create_flags_name(unsigned f)
{
	return f & O_EXCL ? "excl" : f & O_TRUNC ? "trunc" : "none";
}

static const char *xattr_flags_name(unsigned f)
{
	return f & XATTR_CREATE ? "create" : f & XATTR_REPLACE ? "replace" : "none";
}

void repro_format_op(const struct op *op, struct strbuf *out)
{
	sb_add(out, op_name(op->kind));
	add_str(out, NULL, op->path);
	switch (op->kind) {
	case OP_CREATE:
		sb_addf(out, " mode=%04o flags=%s", (unsigned)op->mode, create_flags_name(op->flags));
		break;
	case OP_WRITE:
		sb_addf(out, " off=%" PRIu64 " len=%" PRIu64 " fill=%u", op->off, op->len, op->fill);
		break;
	case OP_APPEND:
		sb_addf(out, " len=%" PRIu64 " fill=%u", op->len, op->fill);
		break;
	case OP_TRUNCATE:
		sb_addf(out, " len=%" PRIu64, op->len);
		break;
	case OP_MKDIR: case OP_MKFIFO: case OP_CHMOD:
		sb_addf(out, " mode=%04o", (unsigned)op->mode);
		break;
	case OP_RENAME:
		add_str(out, NULL, op->path2);
		sb_addf(out, " flags=%s", rename_flags_name(op->flags));
		break;
	case OP_LINK:
		add_str(out, NULL, op->path2);
		break;
	case OP_SYMLINK:
		add_str(out, "target", op->path2);
		break;
	case OP_CHOWN:
		sb_addf(out, " uid=%u gid=%u", (unsigned)op->uid, (unsigned)op->gid);
		break;
	case OP_UTIMENS:
		add_time(out, "atime", op->atime);
		add_time(out, "mtime", op->mtime);
		break;
	case OP_SETXATTR:
		add_str(out, "name", op->xname);
		add_str(out, "value", op->xvalue);
		sb_addf(out, " flags=%s", xattr_flags_name(op->flags));
		break;
	case OP_REMOVEXATTR:
		add_str(out, "name", op->xname);
		break;
	default:
		break;
	}
	if (op->flags & OPF_NOFOLLOW)
		sb_add(out, " nofollow");
}

void repro_format_entry(const struct stack *s, const struct entry *e, struct strbuf *out)
{
	sb_addf(out, "entry %s %s", layer_dirname(s, e->layer), entry_kind_name(e->kind));
	add_str(out, NULL, e->path);
	switch (e->kind) {
	case E_WHITEOUT:
		sb_addf(out, " fmt=%s", marker_fmt_name(e->fmt));
		return;
	case E_HARDLINK:
		add_str(out, "target", e->target);
		return;
	case E_SYMLINK:
		add_str(out, "target", e->target);
		break;
	default:
		break;
	}
	sb_addf(out, " mode=%04o uid=%u gid=%u mtime=%" PRId64, (unsigned)e->mode,
		(unsigned)e->uid, (unsigned)e->gid, e->mtime);
	if (e->kind == E_FILE)
		sb_addf(out, " size=%" PRIu64 " fill=%u%s", e->size, e->fill,
			e->sparse ? " sparse" : "");
	if (e->kind == E_DIR && e->opaque)
		sb_addf(out, " opaque fmt=%s", marker_fmt_name(e->fmt));
	if (e->xname) {
		add_str(out, "xname", e->xname);
		add_str(out, "xvalue", e->xvalue);
	}
}

void repro_format(const struct testcase *tc, struct strbuf *out)
{
	sb_addf(out, "# unionfuse differential test case (seed %" PRIu64 ")\n", tc->seed);
	sb_add(out, "# replay: unionfuse-diff --replay FILE\n");
	sb_addf(out, "seed %" PRIu64 "\nlower %d\n", tc->seed, tc->stack.nlower);
	for (size_t i = 0; i < tc->stack.n; i++) {
		repro_format_entry(&tc->stack, &tc->stack.e[i], out);
		sb_add(out, "\n");
	}
	for (size_t i = 0; i < tc->ops.n; i++) {
		sb_add(out, "op ");
		repro_format_op(&tc->ops.op[i], out);
		sb_add(out, "\n");
	}
}

/* ---- parsing ---- */

#define MAX_TOKENS 32

struct token {
	char *key;      /* NULL for a positional word or string */
	char *value;
	bool quoted;
};

struct line {
	size_t n;
	struct token t[MAX_TOKENS];
};

static void line_free(struct line *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->t[i].key);
		free(l->t[i].value);
	}
	l->n = 0;
}

static char *parse_word(const char **pp, const char *stop)
{
	const char *p = *pp, *start = p;

	while (*p && !isspace((unsigned char)*p) && !strchr(stop, *p))
		p++;
	*pp = p;
	return strndup(start, (size_t)(p - start));
}

/* Splits one line (up to its newline) into tokens; *pp moves past it. */
static int tokenize(const char **pp, struct line *l)
{
	const char *p = *pp;

	l->n = 0;
	for (;;) {
		struct token t = { 0 };

		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (!*p || *p == '\n' || *p == '#')
			break;
		if (l->n == MAX_TOKENS)
			return -1;
		if (*p != '"') {
			t.key = parse_word(&p, "=\"");
			if (*p == '=') {
				p++;
			} else {
				t.value = t.key;
				t.key = NULL;
				l->t[l->n++] = t;
				continue;
			}
		}
		t.quoted = *p == '"';
		t.value = t.quoted ? parse_quoted(&p) : parse_word(&p, "");
		if (!t.value) {
			free(t.key);
			return -1;
		}
		l->t[l->n++] = t;
	}
	while (*p && *p != '\n')
		p++;
	*pp = *p ? p + 1 : p;
	return 0;
}

static const char *opt(const struct line *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->t[i].key && !strcmp(l->t[i].key, key))
			return l->t[i].value;
	return NULL;
}

static bool has_word(const struct line *l, const char *word)
{
	for (size_t i = 0; i < l->n; i++)
		if (!l->t[i].key && !l->t[i].quoted && !strcmp(l->t[i].value, word))
			return true;
	return false;
}

/* The n-th quoted positional string. */
static const char *positional(const struct line *l, int n)
{
	for (size_t i = 0; i < l->n; i++)
		if (!l->t[i].key && l->t[i].quoted && n-- == 0)
			return l->t[i].value;
	return NULL;
}

static uint64_t num(const struct line *l, const char *key, int base)
{
	const char *v = opt(l, key);

	return v ? strtoull(v, NULL, base) : 0;
}

static int64_t time_opt(const struct line *l, const char *key)
{
	const char *v = opt(l, key);

	if (!v || !strcmp(v, "omit"))
		return T_OMIT;
	if (!strcmp(v, "now"))
		return T_NOW;
	return strtoll(v, NULL, 10);
}

static char *dup_opt(const struct line *l, const char *key)
{
	const char *v = opt(l, key);

	return v ? xstrdup(v) : NULL;
}

static int lookup_name(const char *name, const char *(*namer)(int), int count)
{
	for (int k = 0; k < count; k++)
		if (name && !strcmp(name, namer(k)))
			return k;
	return -1;
}

static const char *kind_namer(int k) { return entry_kind_name((enum entry_kind)k); }
static const char *op_namer(int k) { return op_name((enum op_kind)k); }
static const char *fmt_namer(int k) { return marker_fmt_name((enum marker_fmt)k); }

static int parse_layer(const char *word, int nlower)
{
	if (!strcmp(word, "upper"))
		return nlower;
	if (word[0] == 'l' && word[1] >= '0' && word[1] <= '7' && !word[2] &&
	    word[1] - '0' < nlower)
		return word[1] - '0';
	return -1;
}

static int parse_entry(const struct line *l, struct stack *s)
{
	struct entry e = { 0 };
	int kind, fmt;

	if (l->n < 4 || l->t[1].key || l->t[2].key || !positional(l, 0))
		return -1;
	e.layer = parse_layer(l->t[1].value, s->nlower);
	kind = lookup_name(l->t[2].value, kind_namer, E_WHITEOUT + 1);
	fmt = lookup_name(opt(l, "fmt"), fmt_namer, MK_AUFS + 1);
	if (e.layer < 0 || kind < 0)
		return -1;
	e.kind = (enum entry_kind)kind;
	e.fmt = fmt < 0 ? (e.kind == E_WHITEOUT ? MK_CHR : MK_XATTR) : (enum marker_fmt)fmt;
	e.path = xstrdup(positional(l, 0));
	e.target = dup_opt(l, "target");
	e.mode = (mode_t)num(l, "mode", 8);
	e.uid = (uid_t)num(l, "uid", 10);
	e.gid = (gid_t)num(l, "gid", 10);
	e.mtime = (int64_t)num(l, "mtime", 10);
	e.size = num(l, "size", 10);
	e.fill = (uint32_t)num(l, "fill", 10);
	e.sparse = has_word(l, "sparse");
	e.opaque = has_word(l, "opaque");
	e.xname = dup_opt(l, "xname");
	e.xvalue = e.xname ? xstrdup(opt(l, "xvalue") ? opt(l, "xvalue") : "") : NULL;
	if ((e.kind == E_SYMLINK || e.kind == E_HARDLINK) && !e.target) {
		entry_free(&e);
		return -1;
	}
	if (e.sparse && e.size < 200)
		e.size = 200;   /* room for both data ends */
	stack_push(s, e);
	return 0;
}

static unsigned op_flags(const struct line *l, enum op_kind kind)
{
	const char *f = opt(l, "flags");
	unsigned flags = has_word(l, "nofollow") ? OPF_NOFOLLOW : 0;

	if (!f)
		return flags;
	if (kind == OP_RENAME)
		flags |= !strcmp(f, "noreplace") ? RENAME_NOREPLACE :
			 !strcmp(f, "exchange") ? RENAME_EXCHANGE : 0;
	else if (kind == OP_CREATE)
		flags |= !strcmp(f, "excl") ? O_EXCL : !strcmp(f, "trunc") ? O_TRUNC : 0;
	else if (kind == OP_SETXATTR)
		flags |= !strcmp(f, "create") ? XATTR_CREATE :
			 !strcmp(f, "replace") ? XATTR_REPLACE : 0;
	return flags;
}

static int parse_op(const struct line *l, struct oplist *ops)
{
	struct op op = { 0 };
	int kind;

	if (l->n < 3 || l->t[1].key || !positional(l, 0))
		return -1;
	kind = lookup_name(l->t[1].value, op_namer, OP__COUNT);
	if (kind < 0)
		return -1;
	op.kind = (enum op_kind)kind;
	op.path = xstrdup(positional(l, 0));
	op.path2 = op.kind == OP_SYMLINK ? dup_opt(l, "target") :
		   positional(l, 1) ? xstrdup(positional(l, 1)) : NULL;
	op.off = num(l, "off", 10);
	op.len = num(l, "len", 10);
	op.fill = (uint32_t)num(l, "fill", 10);
	op.mode = (mode_t)num(l, "mode", 8);
	op.uid = (uid_t)num(l, "uid", 10);
	op.gid = (gid_t)num(l, "gid", 10);
	op.flags = op_flags(l, op.kind);
	op.atime = time_opt(l, "atime");
	op.mtime = time_opt(l, "mtime");
	op.xname = dup_opt(l, "name");
	op.xvalue = dup_opt(l, "value");
	if (((op.kind == OP_RENAME || op.kind == OP_LINK || op.kind == OP_SYMLINK) && !op.path2) ||
	    ((op.kind == OP_SETXATTR || op.kind == OP_REMOVEXATTR) && !op.xname)) {
		op_free(&op);
		return -1;
	}
	if (op.kind == OP_SETXATTR && !op.xvalue)
		op.xvalue = xstrdup("");
	oplist_push(ops, op);
	return 0;
}

static int parse_line(const struct line *l, struct testcase *tc)
{
	const char *word = l->t[0].value;

	if (l->t[0].key || l->t[0].quoted)
		return -1;
	if (!strcmp(word, "seed") && l->n == 2) {
		tc->seed = strtoull(l->t[1].value, NULL, 10);
		return 0;
	}
	if (!strcmp(word, "lower") && l->n == 2 && !tc->stack.n) {
		tc->stack.nlower = atoi(l->t[1].value);
		return tc->stack.nlower >= 1 && tc->stack.nlower <= MAX_LOWER ? 0 : -1;
	}
	if (!strcmp(word, "entry"))
		return parse_entry(l, &tc->stack);
	if (!strcmp(word, "op"))
		return parse_op(l, &tc->ops);
	return -1;
}

int repro_parse(const char *text, struct testcase *tc)
{
	const char *p = text;
	struct line l = { 0 };
	int lineno = 0;

	*tc = (struct testcase){ .stack.nlower = 1 };
	while (*p) {
		const char *start = p;
		int err;

		lineno++;
		err = tokenize(&p, &l);
		if (!err && l.n)
			err = parse_line(&l, tc);
		line_free(&l);
		if (err) {
			const char *nl = strchr(start, '\n');

			fprintf(stderr, "unionfuse-diff: line %d: cannot parse: %.*s\n", lineno,
				(int)(nl ? nl - start : (long)strlen(start)), start);
			testcase_free(tc);
			return -1;
		}
	}
	return 0;
}

int repro_read_file(const char *path, struct testcase *tc)
{
	struct strbuf sb = { 0 };
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "re");
	int ret;

	if (!f) {
		fprintf(stderr, "unionfuse-diff: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sb_addn(&sb, buf, n);
	fclose(f);
	ret = repro_parse(sb_str(&sb), tc);
	sb_free(&sb);
	return ret;
}
