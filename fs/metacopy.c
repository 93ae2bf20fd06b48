/* Metadata-only copy-up (-o metacopy; overlayfs' metacopy=on). A chmod,
 * chown, touch or xattr change of a lower regular file copies up its
 * metadata alone: the upper file has the right size but no data (a hole
 * all along) and carries overlay.metacopy. Reads go on to the lower file;
 * the first change to the data (write, truncate) or to the name (rename,
 * link) copies the data in, and the mark goes (copyup.c).
 *
 * The mark is read once per node, when its data is first wanted (an open,
 * a change), not at each lookup: that would cost a walk of /proc per upper
 * file. A stat reads it early only for a file with holes (all of a file
 * that holds only metadata is hole), to show its data's block count. Files
 * written by overlayfs are read the same way, including one it moved
 * (overlay.redirect: where its data lies below). */
#include "internal.h"
#include "metacopy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static const char *const metacopy_xattrs[] = { "trusted.overlay.metacopy",
					       "user.overlay.metacopy" };
static const char *const redirect_xattrs[] = { "trusted.overlay.redirect",
					       "user.overlay.redirect" };
#define NXATTRS 2

int metacopy_mark(int dirfd, const char *name)
{
	/* Empty, as overlayfs writes it when no fs-verity digest is kept. */
	return overlay_xattr_set(dirfd, name, "metacopy", "", 0);
}

int metacopy_unmark(int fd)
{
	int i;

	for (i = 0; i < NXATTRS; i++)
		if (fremovexattr(fd, metacopy_xattrs[i]) < 0 && errno != ENODATA &&
		    errno != ENOTSUP && errno != EPERM)
			return -errno;
	return 0;
}

static bool has_holes(const struct stat *st)
{
	return st->st_size > 0 && (off_t)st->st_blocks * 512 < st->st_size;
}

static bool path_has_xattr(const char *path, const char *const *names)
{
	int i;

	for (i = 0; i < NXATTRS; i++)
		if (lgetxattr(path, names[i], NULL, 0) >= 0)
			return true;
	return false;
}

bool metacopy_is_marked(int dirfd, const char *name)
{
	char path[LAYER_PROC_PATH_MAX];

	layer_proc_path(dirfd, name, path);
	return path_has_xattr(path, metacopy_xattrs);
}

/* The first of NAMES set on PATH, NUL-terminated; NULL if none. */
static char *path_xattr_string(const char *path, const char *const *names)
{
	int i;

	for (i = 0; i < NXATTRS; i++) {
		ssize_t len = lgetxattr(path, names[i], NULL, 0);
		char *value;

		if (len <= 0)
			continue;
		value = calloc(1, (size_t)len + 1);
		if (value && lgetxattr(path, names[i], value, (size_t)len) == len)
			return value;
		free(value);
	}
	return NULL;
}

void metacopy_set(struct node *node, int layer, char *path)
{
	pthread_mutex_lock(&node->lock);
	free(node->data_path);
	node->data_layer = layer;
	node->data_path = path;
	node->data_checked = true;
	pthread_mutex_unlock(&node->lock);
}

/* Open the data file, where NODE lies in LAYER or at PATH there. */
static int data_open(struct ufs *u, struct node *node, int layer, const char *path, int flags)
{
	struct at at;
	int fd, err;

	flags |= O_NOFOLLOW | O_CLOEXEC;
	if (path)
		return layer_openat(u->layers[layer].fd, path, flags, 0);
	err = at_open(u, node, layer, &at);
	if (err)
		return err;
	fd = openat(at.dirfd, at.name, flags);
	if (fd < 0)
		fd = -errno;
	at_close(u, &at);
	return fd;
}

/* Where the data of NODE lies: at REDIRECT if overlayfs moved it, else in
 * the first lower layer that holds its name, if that is a regular file. */
static int find_data(struct ufs *u, struct node *node, const char *redirect, int *layer,
		     char **path)
{
	struct stat st;
	int fd, err;

	*path = NULL;
	if (redirect)
		err = redirect_find_data(u, node, redirect, layer, path);
	else if (node->lower_positive && node->lower_layer >= 0)
		err = (*layer = node->lower_layer, 0);
	else
		err = -ENOENT;
	if (err)
		return err;
	fd = data_open(u, node, *layer, *path, O_PATH);
	err = fd < 0 ? fd : 0;
	if (!err && fstat(fd, &st) < 0)
		err = -errno;
	else if (!err && !S_ISREG(st.st_mode))
		err = -ENOENT;
	if (fd >= 0)
		close(fd);
	if (err) {
		free(*path);
		*path = NULL;
	}
	return err;
}

/* Read the mark of NODE's upper file, at PATH (its /proc name), and note
 * what it says. */
static int detect_at(struct ufs *u, struct node *node, const char *path)
{
	char *redirect, *data_path;
	int layer, err;

	if (!path_has_xattr(path, metacopy_xattrs)) {
		metacopy_set(node, -1, NULL);
		return 0;
	}
	redirect = path_xattr_string(path, redirect_xattrs);
	err = find_data(u, node, redirect, &layer, &data_path);
	free(redirect);
	if (err == -ENOMEM)
		return err;
	/* None found: shown as it is, reading it fails (EIO), removing it
	 * works. */
	metacopy_set(node, err ? METACOPY_DATA_LOST : layer, err ? NULL : data_path);
	return 0;
}

bool metacopy_pending(struct ufs *u, struct node *node)
{
	char path[LAYER_PROC_PATH_MAX];
	bool checked, pending;
	struct at at;

	if (node->top != u->upper || node->type != S_IFREG)
		return false;
	pthread_mutex_lock(&node->lock);
	checked = node->data_checked;
	pending = node->data_layer != -1;
	pthread_mutex_unlock(&node->lock);
	if (checked)
		return pending;
	if (at_open(u, node, u->upper, &at))
		return false;
	layer_proc_path(at.dirfd, at.name, path);
	detect_at(u, node, path);
	at_close(u, &at);
	pthread_mutex_lock(&node->lock);
	pending = node->data_checked && node->data_layer != -1;
	pthread_mutex_unlock(&node->lock);
	return pending;
}

int metacopy_stat(struct ufs *u, struct node *node, const struct at *at, struct stat *st)
{
	char path[LAYER_PROC_PATH_MAX];
	bool checked;
	int layer, fd, err;

	pthread_mutex_lock(&node->lock);
	checked = node->data_checked;
	pthread_mutex_unlock(&node->lock);
	/* Unknown and whole: the question waits for the data to be wanted. */
	if (!checked && !has_holes(st))
		return 0;
	if (!checked) {
		layer_proc_path(at->dirfd, at->name, path);
		err = detect_at(u, node, path);
		if (err)
			return err;
	}
	if (!metacopy_pending(u, node))
		return 0;
	/* As overlayfs: the space the file takes is its data's. */
	fd = metacopy_open_data(u, node, O_PATH, &layer);
	if (fd >= 0) {
		struct stat data;

		if (fstat(fd, &data) == 0)
			st->st_blocks = data.st_blocks;
		close(fd);
	}
	return 0;
}

int metacopy_open_data(struct ufs *u, struct node *node, int flags, int *layer)
{
	char *path = NULL;
	bool moved;
	int fd;

	pthread_mutex_lock(&node->lock);
	*layer = node->data_layer;
	moved = node->data_path != NULL;
	if (moved)
		path = strdup(node->data_path);
	pthread_mutex_unlock(&node->lock);
	if (moved && !path)
		return -ENOMEM;
	if (*layer == METACOPY_DATA_LOST)
		return -EIO;
	if (*layer < 0)
		return -ENOENT;
	fd = data_open(u, node, *layer, path, flags);
	free(path);
	return fd;
}
