/* Stack generation. An entry's meaning comes from what lies below it: a
 * directory over a directory merges, a file over a directory shadows it, a
 * whiteout hides it. So the kind of a new entry is drawn with weights that
 * depend on what the layers below already hold at that path. */
#include "gen_stack.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "rng.h"
#include "util.h"

#define MAX_DEPTH 3
#define T_BASE 1000000000       /* 2001-09-09: every stack time is long past */

static bool is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && path[n] == '/';
}

static int depth_of(const char *path)
{
	int d = 1;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

/* Whether an entry at path cannot go into this layer: the path is taken, an
 * ancestor is a non-directory here, or entries below it need it as a dir. */
static bool layer_blocks(const struct stack *s, int layer, const char *path,
			 enum entry_kind kind)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct entry *e = &s->e[i];

		if (e->layer != layer)
			continue;
		if (!strcmp(e->path, path))
			return true;
		if (e->kind != E_DIR && is_under(path, e->path))
			return true;
		if (kind != E_DIR && is_under(e->path, path))
			return true;
	}
	return false;
}

/* The kind of the topmost entry at exactly this path below layer, or -1. */
static int kind_below(const struct stack *s, int layer, const char *path)
{
	int best_layer = -1, kind = -1;

	for (size_t i = 0; i < s->n; i++) {
		const struct entry *e = &s->e[i];

		if (e->layer < layer && e->layer > best_layer && !strcmp(e->path, path)) {
			best_layer = e->layer;
			kind = (int)e->kind;
		}
	}
	return kind;
}

static const struct entry *random_entry(struct rng *r, const struct stack *s,
					int layer, int kind)
{
	size_t count = 0, pick;

	for (size_t i = 0; i < s->n; i++)
		count += (layer < 0 || s->e[i].layer == layer) &&
			 (kind < 0 || (int)s->e[i].kind == kind);
	if (!count)
		return NULL;
	pick = rng_below(r, (uint32_t)count);
	for (size_t i = 0; i < s->n; i++) {
		if ((layer < 0 || s->e[i].layer == layer) &&
		    (kind < 0 || (int)s->e[i].kind == kind) && !pick--)
			return &s->e[i];
	}
	return NULL;
}

/* Reuses a path of the layers below half the time, so layers overlap. */
static char *pick_path(struct rng *r, const struct stack *s)
{
	const struct entry *e;

	if (rng_chance(r, 55) && (e = random_entry(r, s, -1, -1)))
		return xstrdup(e->path);
	e = rng_chance(r, 55) ? random_entry(r, s, -1, E_DIR) : NULL;
	if (e && depth_of(e->path) < MAX_DEPTH)
		return xasprintf("%s/%s", e->path, names_pick(r));
	return xstrdup(names_pick(r));
}

static enum entry_kind pick_kind(struct rng *r, int below)
{
	/* weights: file, dir, symlink, hardlink, fifo, whiteout */
	static const unsigned w_none[] = { 45, 30, 10, 10, 5, 2 };
	static const unsigned w_dir[] = { 20, 40, 5, 5, 5, 25 };
	static const unsigned w_other[] = { 30, 20, 5, 5, 5, 35 };
	const unsigned *w = below < 0 ? w_none : below == E_DIR ? w_dir : w_other;
	unsigned total = 0, x;

	for (int k = 0; k <= E_WHITEOUT; k++)
		total += w[k];
	x = rng_below(r, total);
	for (int k = 0; k <= E_WHITEOUT; k++) {
		if (x < w[k])
			return (enum entry_kind)k;
		x -= w[k];
	}
	return E_FILE;
}

static mode_t pick_mode(struct rng *r, enum entry_kind kind)
{
	static const mode_t file[] = { 0644, 0644, 0600, 0755, 0444, 0640, 04755, 02755, 0 };
	static const mode_t dir[] = { 0755, 0755, 0700, 0775, 01777, 0555 };

	if (kind == E_DIR)
		return dir[rng_below(r, sizeof(dir) / sizeof(dir[0]))];
	if (kind == E_SYMLINK)
		return 0777;
	return file[rng_below(r, sizeof(file) / sizeof(file[0]))];
}

static uid_t pick_id(struct rng *r)
{
	static const uid_t ids[] = { 0, 0, 0, 1000, 65534 };

	return ids[rng_below(r, sizeof(ids) / sizeof(ids[0]))];
}

static void pick_content(struct rng *r, struct entry *e)
{
	uint32_t x = rng_below(r, 100);

	e->fill = (uint32_t)rng_next(r);
	if (x < 20)
		e->size = 0;
	else if (x < 80)
		e->size = 1 + rng_below(r, 300);
	else if (x < 90)
		e->size = 1 + rng_below(r, 8192);
	else {
		e->sparse = true;
		e->size = 65536 + rng_below(r, 200000);
	}
}

static char *pick_symlink_target(struct rng *r)
{
	/* Relative and without "..": resolved through the mount it stays in
	 * the tree, so following it never touches the host. */
	if (rng_chance(r, 20))
		return xasprintf("%s/%s", names_pick(r), names_pick(r));
	if (rng_chance(r, 10))
		return xstrdup("nowhere");
	return xstrdup(names_pick(r));
}

static void pick_xattr(struct rng *r, struct entry *e)
{
	static const char *const names[] = { "user.a", "user.b", "user.long.name" };
	static const char *const values[] = { "v", "", "value with space", "second" };

	if (!rng_chance(r, 20))
		return;
	e->xname = xstrdup(names[rng_below(r, 3)]);
	e->xvalue = xstrdup(values[rng_below(r, 4)]);
}

static enum marker_fmt pick_whiteout_fmt(struct rng *r, const struct entry *e,
					 bool upper, unsigned marks)
{
	const char *name = strrchr(e->path, '/');
	enum marker_fmt f;

	name = name ? name + 1 : e->path;
	/* The upper layer must stay readable by kernel overlayfs (crosswise
	 * check), and overlayfs reads xattr whiteouts only in lower layers. */
	if (upper)
		return MK_CHR;
	for (int tries = 0; tries < 8; tries++) {
		f = (enum marker_fmt)rng_below(r, 3);
		if (!(marks & (1u << f)))
			continue;
		if (f == MK_AUFS && names_too_long_for_aufs(name))
			continue;
		return f;
	}
	return MK_CHR;
}

static void fill_entry(struct rng *r, const struct stack *s, struct entry *e,
		       bool upper, unsigned marks)
{
	const struct entry *t;

	e->mode = pick_mode(r, e->kind);
	e->uid = pick_id(r);
	e->gid = pick_id(r);
	e->mtime = T_BASE + rng_below(r, 100000000);
	switch (e->kind) {
	case E_FILE:
		pick_content(r, e);
		pick_xattr(r, e);
		break;
	case E_DIR:
		e->opaque = rng_chance(r, 25);
		e->fmt = !upper && (marks & (1u << MK_AUFS)) && rng_chance(r, 50) ?
			 MK_AUFS : MK_XATTR;
		pick_xattr(r, e);
		break;
	case E_SYMLINK:
		e->target = pick_symlink_target(r);
		break;
	case E_HARDLINK:
		t = random_entry(r, s, e->layer, E_FILE);
		if (t) {
			e->target = xstrdup(t->path);
		} else {
			e->kind = E_FILE;
			pick_content(r, e);
		}
		break;
	case E_FIFO:
		break;
	case E_WHITEOUT:
		e->fmt = pick_whiteout_fmt(r, e, upper, marks);
		break;
	}
}

static void gen_layer(struct rng *r, struct stack *s, int layer, unsigned count,
		      unsigned marks)
{
	bool upper = layer == s->nlower;

	for (unsigned k = 0; k < count; k++) {
		struct entry e = { .layer = layer };

		e.path = pick_path(r, s);
		e.kind = pick_kind(r, kind_below(s, layer, e.path));
		if (layer_blocks(s, layer, e.path, e.kind)) {
			free(e.path);
			continue;
		}
		fill_entry(r, s, &e, upper, marks);
		stack_push(s, e);
	}
}

void gen_stack(uint64_t seed, unsigned marks, struct stack *out)
{
	struct rng r = { seed * 2654435761u + 17 };

	*out = (struct stack){ .nlower = 1 + (int)rng_below(&r, MAX_LOWER) };
	for (int layer = 0; layer < out->nlower; layer++)
		gen_layer(&r, out, layer, 2 + rng_below(&r, 6), marks);
	gen_layer(&r, out, out->nlower, rng_below(&r, 5), marks);
}
