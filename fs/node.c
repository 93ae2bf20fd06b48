/* Node allocation, the per-directory view tables and paths. */
#define HASH_FUNCTION(keyptr, keylen, hashv) \
	((hashv) = (unsigned)XXH3_64bits((keyptr), (keylen)))
#include <xxhash.h>

#include "internal.h"
#include "node.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct node *node_new(const char *name, mode_t type, int top)
{
	struct node *node = calloc(1, sizeof(*node));

	if (!node)
		return NULL;
	node->name = strdup(name);
	if (!node->name) {
		free(node);
		return NULL;
	}
	node->type = type;
	node->top = top;
	node->decided_at = top;
	node->lower_layer = -1;
	node->stop_after = -1;
	node->data_layer = -1;
	node->last_cookie = 2; /* . and .. */
	node->default_acl = -1;
	pthread_mutex_init(&node->lock, NULL);
	return node;
}

static void node_dl_free_paths(struct node *node);

void node_free(struct node *node)
{
	if (!node)
		return;
	node_free_view(node);
	nodefile_free(node);
	pthread_mutex_destroy(&node->lock);
	node_dl_free_paths(node);
	free(node->dl);
	free(node->data_path);
	free(node->removed_attr);
	free(node->name);
	free(node);
}

void node_keep_removed_attr(struct node *dir, const struct stat *was)
{
	free(dir->removed_attr);
	dir->removed_attr = malloc(sizeof(*was));
	if (!dir->removed_attr)
		return;
	*dir->removed_attr = *was;
	dir->removed_attr->st_nlink = 0;
}

void node_free_view(struct node *dir)
{
	struct node *child, *tmp;

	dir->list_next = NULL;
	HASH_ITER(hh, dir->children, child, tmp) {
		HASH_DEL(dir->children, child);
		child->parent = NULL;
		child->detached = true;
		if (atomic_load(&child->nlookup) == 0)
			node_free(child);
	}
	atomic_store(&dir->view_built, false);
}

void node_free_tree(struct node *node)
{
	struct node *child, *tmp;

	HASH_ITER(hh, node->children, child, tmp) {
		HASH_DEL(node->children, child);
		node_free_tree(child);
	}
	node_free(node);
}

struct node *view_find(struct node *dir, const char *name)
{
	struct node *child = NULL;

	HASH_FIND(hh, dir->children, name, strlen(name), child);
	return child;
}

void view_add(struct node *dir, struct node *child)
{
	child->parent = dir;
	child->detached = false;
	/* uthash keeps names in the order they were added: cookies rise
	 * along it. */
	child->cookie = ++dir->last_cookie;
	HASH_ADD_KEYPTR(hh, dir->children, child->name, strlen(child->name), child);
}

void view_remove(struct node *dir, struct node *child)
{
	if (dir->list_next == child)
		dir->list_next = NULL;
	HASH_DEL(dir->children, child);
	child->parent = NULL;
}

static void node_dl_free_paths(struct node *node)
{
	uint16_t i;

	if (!node->dl_path)
		return;
	for (i = 0; i < node->ndl; i++)
		free(node->dl_path[i]);
	free(node->dl_path);
	node->dl_path = NULL;
}

int node_dl_set_single(struct node *node, int layer)
{
	uint16_t *dl = realloc(node->dl, sizeof(*dl));

	if (!dl)
		return -ENOMEM;
	node_dl_free_paths(node);
	dl[0] = (uint16_t)layer;
	node->dl = dl;
	node->ndl = 1;
	return 0;
}

/* Make room for one more layer at the end (dl and dl_path). */
static int node_dl_grow(struct node *node)
{
	uint16_t *dl = realloc(node->dl, (node->ndl + 1u) * sizeof(*dl));

	if (!dl)
		return -ENOMEM;
	node->dl = dl;
	if (node->dl_path) {
		char **paths = realloc(node->dl_path, (node->ndl + 1u) * sizeof(*paths));

		if (!paths)
			return -ENOMEM;
		paths[node->ndl] = NULL;
		node->dl_path = paths;
	}
	return 0;
}

int node_dl_append(struct node *node, int layer)
{
	if (node_dl_grow(node) < 0)
		return -ENOMEM;
	node->dl[node->ndl++] = (uint16_t)layer;
	return 0;
}

int node_dl_append_path(struct node *node, int layer, char *path)
{
	if (!node->dl_path) {
		node->dl_path = calloc(node->ndl + 1u, sizeof(*node->dl_path));
		if (!node->dl_path)
			return -ENOMEM;
	}
	if (node_dl_grow(node) < 0)
		return -ENOMEM;
	node->dl_path[node->ndl] = path;
	node->dl[node->ndl++] = (uint16_t)layer;
	return 0;
}

int node_dl_prepend(struct node *node, int layer)
{
	if (node_dl_grow(node) < 0)
		return -ENOMEM;
	memmove(node->dl + 1, node->dl, node->ndl * sizeof(*node->dl));
	node->dl[0] = (uint16_t)layer;
	if (node->dl_path) {
		memmove(node->dl_path + 1, node->dl_path, node->ndl * sizeof(*node->dl_path));
		node->dl_path[0] = NULL;
	}
	node->ndl++;
	return 0;
}

/* Keep the first N layers. */
void node_dl_truncate(struct node *node, uint16_t n)
{
	uint16_t i;

	if (node->dl_path)
		for (i = n; i < node->ndl; i++) {
			free(node->dl_path[i]);
			node->dl_path[i] = NULL;
		}
	if (n < node->ndl)
		node->ndl = n;
}

char *node_path(const struct node *node)
{
	const struct node *n;
	size_t len = 0, pos;
	char *path;

	if (!node->parent)
		return strdup(".");
	for (n = node; n->parent; n = n->parent)
		len += strlen(n->name) + 1;
	path = malloc(len);
	if (!path)
		return NULL;
	pos = len - 1;
	path[pos] = '\0';
	for (n = node; n->parent; n = n->parent) {
		size_t nlen = strlen(n->name);

		pos -= nlen;
		memcpy(path + pos, n->name, nlen);
		if (pos > 0)
			path[--pos] = '/';
	}
	return path;
}

void node_keep_number(struct node *node)
{
	node->vino_kept |= node->vino_below && !node->origin_path;
}

bool node_is_dir(const struct node *node)
{
	return S_ISDIR(node->type);
}
