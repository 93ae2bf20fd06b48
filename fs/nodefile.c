/* A node's own open files. The FUSE layer asks the kernel not to send OPEN
 * and RELEASE (a round trip per open and one per close spared): reads and
 * writes then come with no handle, and are served through a file the node
 * keeps, one per kind of access (read, write, append), opened at first use
 * (a write copies the file up first, as an open for writing would have).
 *
 * At most files.max of them stay open, the least recently used closed
 * first; one in use is closed by its last user (handles are counted). They
 * go when the kernel forgets the node.
 *
 * A file removed while the kernel holds its node may still be open in some
 * process, which must go on reading and writing it: removal pins the node's
 * file (opening it if needed) until the kernel forgets the node. Pinned
 * files are outside the bound, as the open files of a process would be.
 *
 * Lock order: files.lock before node->lock. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static const int access_flags[UFS_ACCESS_KINDS] = {
	[UFS_READ] = O_RDONLY,
	[UFS_WRITE] = O_WRONLY,
	[UFS_APPEND] = O_WRONLY | O_APPEND,
};

/* A quarter of the descriptors the process may have, up to
 * UFS_NODEFILE_MAX: the rest is for directories and pinned files. */
void nodefile_init(struct ufs *u)
{
	struct rlimit rl;
	rlim_t max = UFS_NODEFILE_MAX;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur / 4 < max)
		max = rl.rlim_cur / 4 > 16 ? rl.rlim_cur / 4 : 16;
	pthread_mutex_init(&u->files.lock, NULL);
	u->files.head = u->files.tail = NULL;
	u->files.count = 0;
	u->files.max = (unsigned)max;
}

/* [files.lock] */
static void lru_unlink(struct ufs *u, struct handle *h)
{
	if (h->lru_prev)
		h->lru_prev->lru_next = h->lru_next;
	else
		u->files.head = h->lru_next;
	if (h->lru_next)
		h->lru_next->lru_prev = h->lru_prev;
	else
		u->files.tail = h->lru_prev;
	h->lru_prev = h->lru_next = NULL;
	h->in_lru = false;
	u->files.count--;
}

/* [files.lock] */
static void lru_push(struct ufs *u, struct handle *h)
{
	h->lru_prev = NULL;
	h->lru_next = u->files.head;
	if (u->files.head)
		u->files.head->lru_prev = h;
	else
		u->files.tail = h;
	u->files.head = h;
	h->in_lru = true;
	u->files.count++;
}

static void lru_touch(struct ufs *u, struct handle *h)
{
	pthread_mutex_lock(&u->files.lock);
	if (h->in_lru && u->files.head != h) {
		lru_unlink(u, h);
		lru_push(u, h);
	}
	pthread_mutex_unlock(&u->files.lock);
}

/* Close the least recently used kept files until at most KEEP stay. */
static void shrink(struct ufs *u, unsigned keep)
{
	struct handle *h;

	pthread_mutex_lock(&u->files.lock);
	while (u->files.count > keep && (h = u->files.tail)) {
		lru_unlink(u, h);
		pthread_mutex_lock(&h->node->lock);
		h->node->files[h->access] = NULL;
		pthread_mutex_unlock(&h->node->lock);
		pthread_mutex_unlock(&u->files.lock);
		ufs_handle_put(u, h);
		pthread_mutex_lock(&u->files.lock);
	}
	pthread_mutex_unlock(&u->files.lock);
}

static struct handle *kept_file(struct node *node, enum ufs_access access)
{
	struct handle *h;

	pthread_mutex_lock(&node->lock);
	h = node->files[access];
	if (h)
		atomic_fetch_add(&h->refs, 1);
	pthread_mutex_unlock(&node->lock);
	return h;
}

/* Make H, just opened, NODE's file for ACCESS, unless another request did
 * meanwhile: then that one is returned and H closed. */
static struct handle *keep_file(struct ufs *u, struct node *node, enum ufs_access access,
				struct handle *h)
{
	struct handle *cur;

	pthread_mutex_lock(&u->files.lock);
	pthread_mutex_lock(&node->lock);
	cur = node->files[access];
	if (cur) {
		atomic_fetch_add(&cur->refs, 1);
	} else {
		h->access = (uint8_t)access;
		atomic_fetch_add(&h->refs, 1); /* the node's reference */
		node->files[access] = h;
	}
	pthread_mutex_unlock(&node->lock);
	if (cur) {
		pthread_mutex_unlock(&u->files.lock);
		ufs_handle_put(u, h);
		return cur;
	}
	/* A removed node's file is pinned from the start (see nodefile_pin). */
	if (!node->detached)
		lru_push(u, h);
	pthread_mutex_unlock(&u->files.lock);
	shrink(u, u->files.max);
	return h;
}

/* The file of a node that has no name left: what it keeps, reopened for
 * ACCESS. A lower file about to be written is first copied into a nameless
 * file of the upper layer, which its readers are moved to as well. */
static int detached_open(struct ufs *u, struct node *node, enum ufs_access access,
			 struct handle **out)
{
	struct handle *base = kept_file(node, UFS_READ);
	int err = 0;

	if (!base)
		return -ENOENT;
	if (access != UFS_READ && base->layer != u->upper)
		err = copyup_detached(u, base);
	if (!err)
		err = node_reopen(node, base, access_flags[access], out);
	ufs_handle_put(u, base);
	return err;
}

static int node_file_open(struct ufs *u, struct node *node, enum ufs_access access,
			  struct handle **out)
{
	if (node->detached)
		return detached_open(u, node, access, out);
	/* The caller checked the change (ufs_may_write): a plain allocation
	 * of an append-only file takes the file for writing too. */
	return node_open(u, node, access_flags[access], out);
}

int ufs_node_file(struct ufs *u, struct node *node, enum ufs_access access,
		  struct handle **out)
{
	struct handle *h = kept_file(node, access);
	int err;

	if (h) {
		lru_touch(u, h);
		*out = h;
		return 0;
	}
	err = node_file_open(u, node, access, &h);
	if (err == -EMFILE || err == -ENFILE) {
		/* Out of descriptors: the kept files go first. */
		shrink(u, u->files.max / 2);
		err = node_file_open(u, node, access, &h);
	}
	if (err)
		return err;
	*out = keep_file(u, node, access, h);
	return 0;
}

void ufs_node_file_adopt(struct ufs *u, struct handle *h, int flags)
{
	enum ufs_access access = UFS_WRITE;

	if ((flags & O_ACCMODE) == O_RDONLY)
		access = UFS_READ;
	else if (flags & O_APPEND)
		access = UFS_APPEND;
	ufs_handle_put(u, keep_file(u, h->node, access, h));
}

/* Take NODE's files from it (and from the bound) into TAKEN. */
static void take_files(struct ufs *u, struct node *node, struct handle **taken)
{
	int i;

	pthread_mutex_lock(&u->files.lock);
	pthread_mutex_lock(&node->lock);
	for (i = 0; i < UFS_ACCESS_KINDS; i++) {
		taken[i] = node->files[i];
		node->files[i] = NULL;
		if (taken[i] && taken[i]->in_lru)
			lru_unlink(u, taken[i]);
	}
	pthread_mutex_unlock(&node->lock);
	pthread_mutex_unlock(&u->files.lock);
}

void nodefile_forget(struct ufs *u, struct node *node)
{
	struct handle *taken[UFS_ACCESS_KINDS];
	int i;

	take_files(u, node, taken);
	for (i = 0; i < UFS_ACCESS_KINDS; i++)
		if (taken[i])
			ufs_handle_put(u, taken[i]);
}

void nodefile_pin(struct ufs *u, struct node *node)
{
	struct handle *h = NULL;
	int i;

	if (!S_ISREG(node->type) || atomic_load(&node->nlookup) == 0)
		return;
	/* Best effort: a file the daemon cannot open (EMFILE, a lower file
	 * it may not read) is not kept; reads through it then fail. */
	if (!node->files[UFS_READ] && node_open_locked(u, node, O_RDONLY, &h) == 0)
		h = keep_file(u, node, UFS_READ, h);
	pthread_mutex_lock(&u->files.lock);
	for (i = 0; i < UFS_ACCESS_KINDS; i++)
		if (node->files[i] && node->files[i]->in_lru)
			lru_unlink(u, node->files[i]);
	pthread_mutex_unlock(&u->files.lock);
	if (h)
		ufs_handle_put(u, h);
}

void nodefile_clear(struct ufs *u)
{
	shrink(u, 0);
	pthread_mutex_destroy(&u->files.lock);
}

void nodefile_free(struct node *node)
{
	int i;

	for (i = 0; i < UFS_ACCESS_KINDS; i++) {
		if (node->files[i])
			ufs_handle_put(NULL, node->files[i]);
		node->files[i] = NULL;
	}
}
