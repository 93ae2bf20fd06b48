/* Ownership helpers and names for the plain-data test case. */
#include "model.h"

#include <stdlib.h>

#include "util.h"

static const char *const op_names[OP__COUNT] = {
	[OP_CREATE] = "create", [OP_WRITE] = "write", [OP_TRUNCATE] = "truncate",
	[OP_APPEND] = "append", [OP_UNLINK] = "unlink", [OP_MKDIR] = "mkdir",
	[OP_RMDIR] = "rmdir", [OP_RENAME] = "rename", [OP_LINK] = "link",
	[OP_SYMLINK] = "symlink", [OP_CHMOD] = "chmod", [OP_CHOWN] = "chown",
	[OP_UTIMENS] = "utimens", [OP_SETXATTR] = "setxattr",
	[OP_REMOVEXATTR] = "removexattr", [OP_MKFIFO] = "mkfifo",
	[OP_READ] = "read", [OP_STAT] = "stat", [OP_READDIR] = "readdir",
	[OP_REMOUNT] = "remount",
};

const char *op_name(enum op_kind k)
{
	return k < OP__COUNT ? op_names[k] : "?";
}

const char *entry_kind_name(enum entry_kind k)
{
	static const char *const names[] = {
		[E_FILE] = "file", [E_DIR] = "dir", [E_SYMLINK] = "symlink",
		[E_HARDLINK] = "hardlink", [E_FIFO] = "fifo", [E_WHITEOUT] = "whiteout",
	};
	return k <= E_WHITEOUT ? names[k] : "?";
}

const char *marker_fmt_name(enum marker_fmt f)
{
	static const char *const names[] = {
		[MK_CHR] = "chr", [MK_XATTR] = "xattr", [MK_AUFS] = "aufs",
	};
	return f <= MK_AUFS ? names[f] : "?";
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void entry_free(struct entry *e)
{
	free(e->path);
	free(e->target);
	free(e->xname);
	free(e->xvalue);
}

void op_free(struct op *op)
{
	free(op->path);
	free(op->path2);
	free(op->xname);
	free(op->xvalue);
}

struct entry entry_dup(const struct entry *e)
{
	struct entry d = *e;

	d.path = dup_or_null(e->path);
	d.target = dup_or_null(e->target);
	d.xname = dup_or_null(e->xname);
	d.xvalue = dup_or_null(e->xvalue);
	return d;
}

struct op op_dup(const struct op *op)
{
	struct op d = *op;

	d.path = dup_or_null(op->path);
	d.path2 = dup_or_null(op->path2);
	d.xname = dup_or_null(op->xname);
	d.xvalue = dup_or_null(op->xvalue);
	return d;
}

void stack_free(struct stack *s)
{
	for (size_t i = 0; i < s->n; i++)
		entry_free(&s->e[i]);
	free(s->e);
	s->e = NULL;
	s->n = 0;
}

void oplist_free(struct oplist *l)
{
	for (size_t i = 0; i < l->n; i++)
		op_free(&l->op[i]);
	free(l->op);
	l->op = NULL;
	l->n = 0;
}

void testcase_free(struct testcase *tc)
{
	stack_free(&tc->stack);
	oplist_free(&tc->ops);
}

void stack_push(struct stack *s, struct entry e)
{
	s->e = xrealloc(s->e, (s->n + 1) * sizeof(*s->e));
	s->e[s->n++] = e;
}

void oplist_push(struct oplist *l, struct op op)
{
	l->op = xrealloc(l->op, (l->n + 1) * sizeof(*l->op));
	l->op[l->n++] = op;
}

const char *layer_dirname(const struct stack *s, int layer)
{
	static const char *const lower[MAX_LOWER] = {
		"l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7",
	};
	return layer >= s->nlower ? "upper" : lower[layer];
}

struct testcase testcase_dup(const struct testcase *tc)
{
	struct testcase t = { .seed = tc->seed, .stack.nlower = tc->stack.nlower };

	for (size_t i = 0; i < tc->stack.n; i++)
		stack_push(&t.stack, entry_dup(&tc->stack.e[i]));
	for (size_t i = 0; i < tc->ops.n; i++)
		oplist_push(&t.ops, op_dup(&tc->ops.op[i]));
	return t;
}
