/* Open files. Opening for write copies the file up first; reads and writes
 * then go straight to the real file, with no union lock. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static bool wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

/* The flags a layer's file is opened with, of those the merged file was
 * opened with. Not O_DIRECT: the kernel does direct I/O on the mount's
 * side, and the daemon writes from buffers of its own, not aligned as a
 * file opened O_DIRECT demands (every write would fail EINVAL). */
static int layer_flags(int flags)
{
	return flags & ~O_DIRECT;
}

int node_handle_fd(struct node *node, int layer)
{
	struct handle *h;
	int fd = -ENOENT;

	pthread_mutex_lock(&node->lock);
	for (h = node->handles; h; h = h->next) {
		if (layer < 0 || h->layer == layer) {
			fd = dup(h->fd);
			if (fd < 0)
				fd = -errno;
			break;
		}
	}
	pthread_mutex_unlock(&node->lock);
	return fd;
}

static int handle_new(struct node *node, int fd, int layer, mode_t mode, struct handle **out)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (!h) {
		close(fd);
		return -ENOMEM;
	}
	h->fd = fd;
	h->layer = layer;
	h->mode = mode;
	h->node = node;
	atomic_init(&h->refs, 1);
	pthread_mutex_lock(&node->lock);
	h->next = node->handles;
	node->handles = h;
	pthread_mutex_unlock(&node->lock);
	*out = h;
	return 0;
}

/* FD, if it is a regular file (what the kernel asked to open), with
 * O_NONBLOCK as FLAGS have it; closed otherwise. */
static int check_regular(int fd, int flags, mode_t *mode)
{
	struct stat st;
	int err = 0;

	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = S_ISDIR(st.st_mode) ? -EISDIR : -ENXIO;
	else if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags & ~(O_ACCMODE | O_TRUNC)) < 0)
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	*mode = st.st_mode;
	return fd;
}

/* NODE's file where it is now, or, for reading a file whose upper copy
 * holds only metadata, its data below; *LAYER: where it was opened. */
static int open_top(struct ufs *u, struct node *node, int flags, mode_t *mode, int *layer)
{
	struct at at;
	int fd, err;

	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY);
	/* O_NONBLOCK until the type is known: a lower file swapped for a
	 * FIFO under the mount must not hold a daemon thread forever. */
	if (!wants_write(flags) && metacopy_pending(u, node)) {
		fd = metacopy_open_data(u, node, flags | O_NONBLOCK, layer);
		return fd < 0 ? fd : check_regular(fd, flags, mode);
	}
	err = at_open(u, node, node->top, &at);
	if (err)
		return err;
	*layer = node->top;
	fd = openat(at.dirfd, at.name, flags | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	at_close(u, &at);
	if (fd >= 0)
		fd = check_regular(fd, flags, mode);
	return fd;
}

int ufs_open(struct ufs *u, struct node *node, int flags, struct handle **out)
{
	bool append = (flags & O_APPEND) && !(flags & O_TRUNC);
	int err = 0;

	/* An open for writing is a change of the data to come. */
	if (wants_write(flags))
		err = ufs_may_write(u, node, append);
	return err ? err : node_open(u, node, flags, out);
}

int node_open(struct ufs *u, struct node *node, int flags, struct handle **out)
{
	int err;

	flags = layer_flags(flags);
	if (wants_write(flags) && ufs_read_only(u))
		return -EROFS;
	pthread_rwlock_rdlock(&u->lock);
	if (wants_write(flags) && (node->top != u->upper || metacopy_pending(u, node))) {
		/* Copy-up changes the tree: retake the lock exclusive. A
		 * second opener waits here and then finds the copy done, or,
		 * while a large file's data is copied unlocked, copies too:
		 * the first copy put in place stands. */
		pthread_rwlock_unlock(&u->lock);
		pthread_rwlock_wrlock(&u->lock);
		err = copyup_may_unlock(u, node, !(flags & O_TRUNC));
		if (err) {
			pthread_rwlock_unlock(&u->lock);
			return err;
		}
	}
	err = node_open_locked(u, node, flags, out);
	pthread_rwlock_unlock(&u->lock);
	return err;
}

int node_open_locked(struct ufs *u, struct node *node, int flags, struct handle **out)
{
	mode_t mode = 0;
	int layer, fd = open_top(u, node, flags, &mode, &layer);

	if (fd < 0)
		return fd;
	return handle_new(node, fd, layer, mode, out);
}

int node_reopen(struct node *node, const struct handle *h, int flags, struct handle **out)
{
	char path[LAYER_PROC_PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", h->fd);
	fd = open(path, (flags & ~(O_CREAT | O_EXCL | O_TRUNC)) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return handle_new(node, fd, h->layer, h->mode, out);
}

/* After NODE was copied up: its handles still open on a lower copy are
 * moved to the upper one, so that a reader opened before the copy-up sees
 * the writes made after it, as one file would (and as overlayfs does). The
 * fd number stays: dup3 swaps what it refers to, atomically for a reader
 * using it at that moment. Best effort: a handle that cannot be moved keeps
 * reading what it read. */
void ufs_handles_follow_copyup(struct ufs *u, struct node *node)
{
	struct handle *h;
	struct at at;
	int fd;

	if (at_open(u, node, u->upper, &at))
		return;
	pthread_mutex_lock(&node->lock);
	for (h = node->handles; h; h = h->next) {
		if (h->layer == u->upper)
			continue;
		fd = openat(at.dirfd, at.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (dup3(fd, h->fd, O_CLOEXEC) >= 0)
			h->layer = u->upper;
		close(fd);
	}
	pthread_mutex_unlock(&node->lock);
	at_close(u, &at);
}

int ufs_create(struct ufs *u, struct node *dir, const char *name, mode_t mode, int flags,
	       const struct ufs_cred *cred, struct node **out, struct stat *st,
	       struct handle **hout)
{
	int fd, err;

	err = ufs_create_file(u, dir, name, mode, layer_flags(flags), cred, out, st, &fd);
	if (err)
		return err;
	/* A new file has no capability: spare the kernel's question before
	 * its first write a trip to the disk. */
	ufs_caps_absent(*out, atomic_load(&u->caps_gen));
	return handle_new(*out, fd, u->upper, st->st_mode, hout);
}

static void handle_close(struct handle *h)
{
	struct node *node = h->node;
	struct handle **p;

	pthread_mutex_lock(&node->lock);
	for (p = &node->handles; *p; p = &(*p)->next) {
		if (*p == h) {
			*p = h->next;
			break;
		}
	}
	pthread_mutex_unlock(&node->lock);
	close(h->fd);
	free(h);
}

void ufs_handle_put(struct ufs *u, struct handle *h)
{
	(void)u;
	if (atomic_fetch_sub(&h->refs, 1) == 1)
		handle_close(h);
}

void ufs_release(struct ufs *u, struct handle *h)
{
	ufs_handle_put(u, h);
}
