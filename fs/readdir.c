/* Listing a merged directory: a snapshot of its view taken when a listing
 * starts (a read at offset 0), so offsets stay valid while the directory
 * changes underneath. Not at opendir: the kernel caches what a listing
 * returns as the directory's current contents, and a handle opened before
 * a change and read after it must not put the old contents there. */
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
	snap->count++;
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
