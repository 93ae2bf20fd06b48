/* Operation generation. The generator keeps a rough model of which paths
 * exist: the stack's visible entries, plus what earlier operations created,
 * minus what they removed or renamed away (assuming every call succeeds).
 * Most paths come from that "alive" pool, some from every path ever seen,
 * and some are new names, so most operations hit a real entry, and some hit
 * nothing (ENOENT, ENOTDIR are results worth comparing too). */
#include "gen_ops.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "names.h"
#include "ops.h"
#include "rng.h"
#include "util.h"

#define MAX_DEPTH 3
#define T_PAST 1000000000

struct pool {
	size_t n;
	char **path;
};

static void pool_add(struct pool *p, const char *path)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->path[i], path))
			return;
	p->path = xrealloc(p->path, (p->n + 1) * sizeof(*p->path));
	p->path[p->n++] = xstrdup(path);
}

static bool is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && path[n] == '/';
}

/* Drops path and everything below it. */
static void pool_remove_tree(struct pool *p, const char *path)
{
	size_t j = 0;

	for (size_t i = 0; i < p->n; i++) {
		if (!strcmp(p->path[i], path) || is_under(p->path[i], path))
			free(p->path[i]);
		else
			p->path[j++] = p->path[i];
	}
	p->n = j;
}

/* Renames path and everything below it to dst. */
static void pool_move_tree(struct pool *p, const char *src, const char *dst)
{
	struct pool moved = { 0 };
	size_t len = strlen(src);

	for (size_t i = 0; i < p->n; i++) {
		if (!strcmp(p->path[i], src) || is_under(p->path[i], src)) {
			char *np = xasprintf("%s%s", dst, p->path[i] + len);

			pool_add(&moved, np);
			free(np);
		}
	}
	pool_remove_tree(p, dst);
	pool_remove_tree(p, src);
	for (size_t i = 0; i < moved.n; i++) {
		pool_add(p, moved.path[i]);
		free(moved.path[i]);
	}
	free(moved.path);
}

static void pool_free(struct pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->path[i]);
	free(p->path);
}

static int depth_of(const char *path)
{
	int d = 1;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

struct pools {
	struct pool all;        /* every path seen: stack entries, op targets */
	struct pool alive;      /* what probably exists in the merged tree now */
	struct pool dirs;       /* the part of alive that is probably a directory */
};

enum want { ANY, FILE_LIKE, DIR_LIKE };

static const char *pick_from(struct rng *r, const struct pool *p)
{
	return p->path[rng_below(r, (uint32_t)p->n)];
}

static bool in_pool(const struct pool *p, const char *path)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->path[i], path))
			return true;
	return false;
}

/* An alive path of the wanted kind, or NULL when there is none (few tries:
 * the pools are small). */
static const char *pick_alive(struct rng *r, const struct pools *p, enum want want)
{
	if (want == DIR_LIKE)
		return p->dirs.n ? pick_from(r, &p->dirs) : NULL;
	for (int tries = 0; p->alive.n && tries < 8; tries++) {
		const char *path = pick_from(r, &p->alive);

		if (want == ANY || !in_pool(&p->dirs, path))
			return path;
	}
	return NULL;
}

/* Mostly alive paths of the kind the operation wants; a fifth of the time
 * any path ever seen (whited-out, hidden under an opaque directory, removed,
 * of the other kind), which exercises the error paths too. */
static char *existing_path(struct rng *r, const struct pools *p, enum want want)
{
	const char *path = rng_chance(r, 80) ? pick_alive(r, p, want) : NULL;

	return xstrdup(path ? path : pick_from(r, &p->all));
}

/* A name that may not exist yet: in the root or in a directory of the pool. */
static char *new_path(struct rng *r, const struct pools *p)
{
	const char *parent = "";

	if (rng_chance(r, 50)) {
		parent = rng_chance(r, 85) ? pick_alive(r, p, DIR_LIKE) : NULL;
		parent = parent ? parent : pick_from(r, &p->all);
	}
	if (*parent && depth_of(parent) < MAX_DEPTH)
		return xasprintf("%s/%s", parent, names_pick(r));
	return xstrdup(names_pick(r));
}

static char *some_path(struct rng *r, const struct pools *p, unsigned pct_existing)
{
	return rng_chance(r, pct_existing) ? existing_path(r, p, ANY) : new_path(r, p);
}

static char *file_path(struct rng *r, const struct pools *p, unsigned pct_existing)
{
	return rng_chance(r, pct_existing) ? existing_path(r, p, FILE_LIKE) : new_path(r, p);
}

static char *dir_path(struct rng *r, const struct pools *p, unsigned pct_existing)
{
	return rng_chance(r, pct_existing) ? existing_path(r, p, DIR_LIKE) : new_path(r, p);
}

static mode_t pick_mode(struct rng *r)
{
	static const mode_t modes[] = { 0644, 0600, 0755, 0700, 0444, 0, 04755, 02775, 01777 };

	return modes[rng_below(r, sizeof(modes) / sizeof(modes[0]))];
}

static uint64_t pick_offset(struct rng *r)
{
	uint32_t x = rng_below(r, 100);

	if (x < 30)
		return 0;
	if (x < 85)
		return rng_below(r, 400);
	if (x < 95)
		return rng_below(r, 300000);
	return (1u << 20) + rng_below(r, 4096);
}

static int64_t pick_time(struct rng *r)
{
	uint32_t x = rng_below(r, 100);

	if (x < 15)
		return T_NOW;
	if (x < 25)
		return T_OMIT;
	return T_PAST + rng_below(r, 100000000);
}

static void pick_xattr(struct rng *r, struct op *op, bool with_value)
{
	static const char *const names[] = { "user.a", "user.b", "user.new" };
	static const char *const values[] = { "v", "", "other value", "x" };

	op->xname = xstrdup(names[rng_below(r, 3)]);
	if (with_value)
		op->xvalue = xstrdup(values[rng_below(r, 4)]);
}

static unsigned pick_rename_flags(struct rng *r)
{
	uint32_t x = rng_below(r, 100);

	return x < 60 ? 0 : x < 80 ? RENAME_NOREPLACE : RENAME_EXCHANGE;
}

static enum op_kind pick_kind(struct rng *r)
{
	static const unsigned weight[OP__COUNT] = {
		[OP_CREATE] = 7, [OP_WRITE] = 10, [OP_TRUNCATE] = 5, [OP_APPEND] = 4,
		[OP_UNLINK] = 8, [OP_MKDIR] = 6, [OP_RMDIR] = 6, [OP_RENAME] = 14,
		[OP_LINK] = 4, [OP_SYMLINK] = 3, [OP_CHMOD] = 4, [OP_CHOWN] = 3,
		[OP_UTIMENS] = 4, [OP_SETXATTR] = 5, [OP_REMOVEXATTR] = 3,
		[OP_MKFIFO] = 2, [OP_READ] = 4, [OP_STAT] = 3, [OP_READDIR] = 4,
		[OP_REMOUNT] = 2,
	};
	unsigned total = 0, x;

	for (int k = 0; k < OP__COUNT; k++)
		total += weight[k];
	x = rng_below(r, total);
	for (int k = 0; k < OP__COUNT; k++) {
		if (x < weight[k])
			return (enum op_kind)k;
		x -= weight[k];
	}
	return OP_STAT;
}

static void fill_op(struct rng *r, const struct pools *p, struct op *op)
{
	static const unsigned create_flags[] = { O_EXCL, 0, O_TRUNC };
	static const uid_t ids[] = { 0, 1000, 65534 };
	unsigned nofollow = rng_chance(r, 30) ? OPF_NOFOLLOW : 0;

	switch (op->kind) {
	case OP_CREATE:
		op->path = some_path(r, p, 35);
		op->mode = pick_mode(r);
		op->flags = create_flags[rng_below(r, 3)];
		break;
	case OP_WRITE:
	case OP_APPEND:
		op->path = file_path(r, p, 90);
		op->off = op->kind == OP_WRITE ? pick_offset(r) : 0;
		op->len = 1 + rng_below(r, rng_chance(r, 80) ? 300 : 20000);
		op->fill = (uint32_t)rng_next(r);
		break;
	case OP_TRUNCATE:
		op->path = file_path(r, p, 90);
		op->len = rng_chance(r, 30) ? 0 : pick_offset(r);
		break;
	case OP_MKDIR:
	case OP_MKFIFO:
		op->path = some_path(r, p, 35);
		op->mode = pick_mode(r);
		break;
	case OP_RENAME:
	case OP_LINK:
		op->path = op->kind == OP_LINK ? file_path(r, p, 90) : some_path(r, p, 90);
		op->path2 = some_path(r, p, op->kind == OP_RENAME ? 50 : 25);
		op->flags = op->kind == OP_RENAME ? pick_rename_flags(r) : 0;
		break;
	case OP_SYMLINK:
		op->path = some_path(r, p, 30);
		op->path2 = xstrdup(names_pick(r));
		break;
	case OP_CHMOD:
		op->path = some_path(r, p, 90);
		op->mode = pick_mode(r);
		break;
	case OP_CHOWN:
		op->path = some_path(r, p, 90);
		op->uid = ids[rng_below(r, 3)];
		op->gid = ids[rng_below(r, 3)];
		op->flags = nofollow;
		break;
	case OP_UTIMENS:
		op->path = some_path(r, p, 90);
		op->atime = pick_time(r);
		op->mtime = pick_time(r);
		op->flags = nofollow;
		break;
	case OP_SETXATTR:
	case OP_REMOVEXATTR:
		op->path = some_path(r, p, 90);
		pick_xattr(r, op, op->kind == OP_SETXATTR);
		op->flags = nofollow;
		if (op->kind == OP_SETXATTR && rng_chance(r, 30))
			op->flags |= rng_chance(r, 50) ? XATTR_CREATE : XATTR_REPLACE;
		break;
	case OP_STAT:
		op->path = some_path(r, p, 90);
		op->flags = nofollow;
		break;
	case OP_REMOUNT:
		op->path = xstrdup(".");        /* the whole union */
		break;
	case OP_READDIR:
		/* "." reads the root through the fd held for the whole run. */
		op->path = rng_chance(r, 25) ? xstrdup(".") : dir_path(r, p, 92);
		break;
	case OP_RMDIR:
		op->path = dir_path(r, p, 92);
		break;
	default:        /* unlink, read */
		op->path = file_path(r, p, 92);
		break;
	}
}

static void alive_add(struct pools *p, const char *path, bool dir)
{
	pool_add(&p->all, path);
	pool_add(&p->alive, path);
	if (dir)
		pool_add(&p->dirs, path);
}

/* Follows the operation in the model, as if it succeeded. */
static void pools_note(struct pools *p, const struct op *op)
{
	switch (op->kind) {
	case OP_CREATE: case OP_MKDIR: case OP_MKFIFO: case OP_SYMLINK:
		alive_add(p, op->path, op->kind == OP_MKDIR);
		break;
	case OP_LINK:
		alive_add(p, op->path2, false);
		break;
	case OP_RENAME:
		pool_add(&p->all, op->path2);
		if (op->flags & RENAME_EXCHANGE || is_under(op->path2, op->path))
			break;
		pool_move_tree(&p->alive, op->path, op->path2);
		pool_move_tree(&p->dirs, op->path, op->path2);
		break;
	case OP_UNLINK: case OP_RMDIR:
		pool_remove_tree(&p->alive, op->path);
		pool_remove_tree(&p->dirs, op->path);
		break;
	default:
		break;
	}
}

/* The topmost entry at exactly path, or NULL. */
static const struct entry *topmost(const struct stack *s, const char *path)
{
	const struct entry *best = NULL;

	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->e[i].path, path) && (!best || s->e[i].layer > best->layer))
			best = &s->e[i];
	return best;
}

/* Roughly visible: neither the path nor a parent is topmost a whiteout, and
 * every parent is topmost a directory (opaque directories are ignored). */
static bool roughly_visible(const struct stack *s, const char *path)
{
	char *copy = xstrdup(path), *slash;
	const struct entry *e = topmost(s, copy);
	bool visible = e && e->kind != E_WHITEOUT;

	while (visible && (slash = strrchr(copy, '/'))) {
		*slash = '\0';
		e = topmost(s, copy);
		visible = !e || e->kind == E_DIR;
	}
	free(copy);
	return visible;
}

void gen_ops(uint64_t seed, const struct stack *s, unsigned count, struct oplist *out)
{
	struct rng r = { seed * 0x2545f4914f6cdd1dULL + 99 };
	struct pools p = { 0 };

	for (size_t i = 0; i < s->n; i++) {
		pool_add(&p.all, s->e[i].path);
		if (roughly_visible(s, s->e[i].path))
			alive_add(&p, s->e[i].path, topmost(s, s->e[i].path)->kind == E_DIR);
	}
	if (!p.all.n)
		pool_add(&p.all, "a");
	for (unsigned k = 0; k < count; k++) {
		struct op op = { .kind = pick_kind(&r) };

		fill_op(&r, &p, &op);
		pools_note(&p, &op);
		oplist_push(out, op);
	}
	pool_free(&p.all);
	pool_free(&p.alive);
	pool_free(&p.dirs);
}
