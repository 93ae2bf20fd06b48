/* Listing a merged directory. With an open handle: a snapshot of its view
 * taken when a listing starts (a read at offset 0), so offsets stay valid
 * while the directory changes underneath. Not at opendir: the kernel caches
 * what a listing returns as the directory's current contents, and a handle
 * opened before a change and read after it must not put the old contents
 * there. Without one (no OPENDIR requests): straight from the view, the
 * offsets being the cookies names keep while they are in it. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int snapshot_add(struct dir_snapshot *snap, const char *name, mode_t type, ino_t ino)
{
	struct dir_entry *e = &snap->entries[snap->count];

	e->name = strdup(name);
	if (!e->name)
		return -ENOMEM;
	e->type = type;
	e->ino = ino;
	e->next_off = ++snap->count;
	return 0;
}

static int snapshot_fill(struct ufs *u, struct node *dir, struct dir_snapshot *snap)
{
	struct node *child, *tmp;
	size_t n = 2;
	int err;

	err = ufs_view_build(u, dir);
	if (err)
		return err;
	HASH_ITER(hh, dir->children, child, tmp)
		n += child->type != 0;
	snap->entries = calloc(n, sizeof(*snap->entries));
	if (!snap->entries)
		return -ENOMEM;
	err = snapshot_add(snap, ".", S_IFDIR, dir->vino);
	if (!err)
		err = snapshot_add(snap, "..", S_IFDIR, dir->parent ? dir->parent->vino : dir->vino);
	HASH_ITER(hh, dir->children, child, tmp) {
		if (err)
			break;
		if (child->type)
			err = snapshot_add(snap, child->name, child->type, child->vino);
	}
	return err;
}

static void snapshot_clear(struct dir_snapshot *snap)
{
	size_t i;

	for (i = 0; i < snap->count; i++)
		free(snap->entries[i].name);
	free(snap->entries);
	snap->entries = NULL;
	snap->count = 0;
}

int ufs_opendir(struct ufs *u, struct node *dir, struct dir_snapshot **out)
{
	struct dir_snapshot *snap = calloc(1, sizeof(*snap));
	int err;

	if (!snap)
		return -ENOMEM;
	/* What cannot be listed fails here, as opendir would. */
	pthread_rwlock_rdlock(&u->lock);
	err = ufs_view_build(u, dir);
	pthread_rwlock_unlock(&u->lock);
	if (err) {
		free(snap);
		return err;
	}
	*out = snap;
	return 0;
}

int ufs_readdir_start(struct ufs *u, struct node *dir, struct dir_snapshot *snap)
{
	int err;

	snapshot_clear(snap);
	atomic_store(&dir->listed, true);
	pthread_rwlock_rdlock(&u->lock);
	err = snapshot_fill(u, dir, snap);
	pthread_rwlock_unlock(&u->lock);
	if (err)
		snapshot_clear(snap);
	return err;
}

void ufs_releasedir(struct dir_snapshot *snap)
{
	if (!snap)
		return;
	snapshot_clear(snap);
	free(snap);
}

/* The first child of DIR with a cookie above OFF: where the latest read
 * stopped if it stopped there (a listing read in order costs no search),
 * else found from the start. [tree shared] */
static struct node *listing_resume(struct node *dir, uint64_t off)
{
	struct node *child;

	pthread_mutex_lock(&dir->lock);
	child = dir->list_next_after == off ? dir->list_next : NULL;
	pthread_mutex_unlock(&dir->lock);
	if (child)
		return child;
	for (child = dir->children; child && child->cookie <= off; child = child->hh.next)
		;
	return child;
}

/* Add NAME with cookie COOKIE to OUT if it fits what is left of BUDGET
 * (USED so far); 1: it does not, the read is full. */
static int listing_add(struct dir_snapshot *out, const char *name, mode_t type, ino_t ino,
		       uint64_t cookie, const struct readdir_budget *budget, size_t *used)
{
	size_t need = budget->entry_size(budget->ctx, name);
	int err;

	if (*used + need > budget->bytes)
		return 1;
	err = snapshot_add(out, name, type, ino);
	if (err)
		return err;
	out->entries[out->count - 1].next_off = cookie;
	*used += need;
	return 0;
}

static void listing_stopped(struct node *dir, uint64_t after, struct node *next)
{
	pthread_mutex_lock(&dir->lock);
	dir->list_next = next;
	dir->list_next_after = after;
	pthread_mutex_unlock(&dir->lock);
}

/* The entries after OFF that fit in BUDGET: ".", "..", then DIR's names,
 * in cookie order. [tree shared] */
static int listing_read(struct ufs *u, struct node *dir, uint64_t off,
			const struct readdir_budget *budget, struct dir_snapshot *out)
{
	size_t used = 0;
	struct node *child;
	int err = ufs_view_build(u, dir);

	if (err)
		return err;
	out->entries = calloc(HASH_COUNT(dir->children) + 2, sizeof(*out->entries));
	if (!out->entries)
		return -ENOMEM;
	if (off < 1)
		err = listing_add(out, ".", S_IFDIR, dir->vino, 1, budget, &used);
	if (err <= 0 && off < 2)
		err = listing_add(out, "..", S_IFDIR, dir->parent ? dir->parent->vino : dir->vino,
				  2, budget, &used);
	if (err > 0)
		return 0;
	for (child = listing_resume(dir, off); child; child = child->hh.next) {
		if (!child->type)
			continue;
		err = listing_add(out, child->name, child->type, child->vino, child->cookie,
				  budget, &used);
		if (err)
			break;
	}
	if (err < 0)
		return err;
	/* Stopped at CHILD for want of room: the next read starts there. */
	if (child && out->count > 0)
		listing_stopped(dir, out->entries[out->count - 1].next_off, child);
	return 0;
}

int ufs_readdir_from(struct ufs *u, struct node *dir, uint64_t off,
		     const struct readdir_budget *budget, struct dir_snapshot *out)
{
	int err;

	out->entries = NULL;
	out->count = 0;
	atomic_store(&dir->listed, true);
	pthread_rwlock_rdlock(&u->lock);
	err = listing_read(u, dir, off, budget, out);
	pthread_rwlock_unlock(&u->lock);
	if (err)
		snapshot_clear(out);
	return err;
}

void ufs_readdir_done(struct dir_snapshot *snap)
{
	snapshot_clear(snap);
}
