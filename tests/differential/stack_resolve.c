/* Which layers make up a merged directory. The stack writer needs it for
 * one kernel quirk: overlayfs reads a directory that only one layer provides
 * as a plain directory, so a whiteout in it shows in readdir and makes rmdir
 * and rename fail with ENOTEMPTY, although it hides nothing. */
#include "stack_resolve.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static bool is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && path[n] == '/';
}

/* The entry at exactly path in layer: explicit, or an implicit parent
 * directory of some deeper entry (returned as NULL with *implicit set). */
static const struct entry *entry_at(const struct stack *s, int layer, const char *path,
				    bool *implicit)
{
	*implicit = false;
	for (size_t i = 0; i < s->n; i++) {
		if (s->e[i].layer != layer)
			continue;
		if (!strcmp(s->e[i].path, path))
			return &s->e[i];
		if (is_under(s->e[i].path, path))
			*implicit = true;
	}
	return NULL;
}

/* One lookup step: from the layers of the parent (top first) to those of
 * the child named by prefix. Returns the new count; 0: not a directory. */
static int step(const struct stack *s, const int *cur, int ncur, const char *prefix, int *next)
{
	int n = 0;

	for (int i = 0; i < ncur; i++) {
		bool implicit;
		const struct entry *e = entry_at(s, cur[i], prefix, &implicit);

		if (!e && !implicit)
			continue;
		if (e && e->kind != E_DIR)
			return n;       /* a whiteout or non-directory ends the merge */
		next[n++] = cur[i];
		if (e && e->opaque)
			return n;
	}
	return n;
}

int stack_dir_layers(const struct stack *s, const char *path)
{
	int cur[MAX_LOWER + 1], next[MAX_LOWER + 1], n = s->nlower + 1;
	char *prefix = xstrdup(path);

	for (int i = 0; i < n; i++)
		cur[i] = s->nlower - i;         /* upper first, then top lower down */
	for (char *p = prefix; *path && n > 0; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		n = step(s, cur, n, prefix, next);
		memcpy(cur, next, sizeof(cur));
		*p = c;
		if (!c)
			break;
	}
	free(prefix);
	return n;
}
