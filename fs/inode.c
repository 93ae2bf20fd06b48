/* Attributes and extended attributes of merged entries. Changing either
 * copies the entry up first (DESIGN section 4). */
#include "explain.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

int ufs_getattr(struct ufs *u, struct node *node, struct stat *st)
{
	int err;

	pthread_rwlock_rdlock(&u->lock);
	err = node_stat(u, node, st);
	pthread_rwlock_unlock(&u->lock);
	return err;
}

static int truncate_at(const struct at *at, off_t size, int fd)
{
	int err = 0;

	if (fd >= 0)
		return ftruncate(fd, size) < 0 ? -errno : 0;
	fd = openat(at->dirfd, at->name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size) < 0)
		err = -errno;
	close(fd);
	return err;
}

#define UFS_SET_TIMES (UFS_SET_ATIME | UFS_SET_MTIME | UFS_SET_ATIME_NOW | UFS_SET_MTIME_NOW)

static void times_from(const struct stat *attr, int to_set, struct timespec ts[2])
{
	ts[0] = ts[1] = (struct timespec){ .tv_nsec = UTIME_OMIT };
	if (to_set & UFS_SET_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (to_set & UFS_SET_ATIME)
		ts[0] = attr->st_atim;
	if (to_set & UFS_SET_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (to_set & UFS_SET_MTIME)
		ts[1] = attr->st_mtim;
}

static int set_times_at(const struct at *at, const struct stat *attr, int to_set)
{
	struct timespec ts[2];

	times_from(attr, to_set, ts);
	if (utimensat(at->dirfd, at->name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/* A chown of a file drops set-user-ID, and set-group-ID with group execute,
 * whoever asks (the kernel's chown_common). fchownat does it to the file;
 * an owner override (owner.c) is given the mode without them. */
static mode_t mode_after_chown(mode_t mode)
{
	if (!S_ISREG(mode))
		return mode;
	mode &= ~(mode_t)S_ISUID;
	if (mode & S_IXGRP)
		mode &= ~(mode_t)S_ISGID;
	return mode;
}

static int apply_attrs(struct ufs *u, const struct at *at, const struct stat *attr, int to_set,
		       int fd)
{
	uid_t uid = owner_stored_uid(u, (to_set & UFS_SET_UID) ? attr->st_uid : (uid_t)-1);
	gid_t gid = owner_stored_gid(u, (to_set & UFS_SET_GID) ? attr->st_gid : (gid_t)-1);
	int err = 0;

	if (to_set & (UFS_SET_UID | UFS_SET_GID)) {
		struct stat cur;

		if (fstatat(at->dirfd, at->name, &cur, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		owner_apply(u, at->dirfd, at->name, &cur);
		err = owner_set(u, at->dirfd, at->name, uid == (uid_t)-1 ? cur.st_uid : uid,
				gid == (gid_t)-1 ? cur.st_gid : gid, mode_after_chown(cur.st_mode));
		if (err)
			return err;
	}
	if (to_set & UFS_SET_MODE) {
		err = layer_chmod(at->dirfd, at->name, attr->st_mode & 07777);
		if (err)
			return err;
		err = owner_set_mode(at->dirfd, at->name, attr->st_mode);
		if (err)
			return err;
	}
	if (to_set & UFS_SET_SIZE)
		err = truncate_at(at, attr->st_size, fd);
	if (!err && (to_set & UFS_SET_TIMES))
		err = set_times_at(at, attr, to_set);
	return err;
}

/* A removed directory has nothing left on disk to change: a change through
 * a descriptor still open on it changes what those descriptors see
 * (node_keep_removed_attr), as a local filesystem still takes it. */
static int setattr_removed_dir(struct node *node, const struct stat *attr, int to_set,
			       struct stat *out)
{
	struct stat *st = node->removed_attr;
	struct timespec now, ts[2];
	int i;

	if (clock_gettime(CLOCK_REALTIME, &now) < 0)
		return -errno;
	times_from(attr, to_set, ts);
	for (i = 0; i < 2; i++)
		if (ts[i].tv_nsec == UTIME_NOW)
			ts[i] = now;
	if (to_set & UFS_SET_UID)
		st->st_uid = attr->st_uid;
	if (to_set & UFS_SET_GID)
		st->st_gid = attr->st_gid;
	if (to_set & UFS_SET_MODE)
		st->st_mode = (st->st_mode & S_IFMT) | (attr->st_mode & 07777);
	if (ts[0].tv_nsec != UTIME_OMIT)
		st->st_atim = ts[0];
	if (ts[1].tv_nsec != UTIME_OMIT)
		st->st_mtim = ts[1];
	st->st_ctim = now;
	*out = *st;
	return 0;
}

/* A node without a name: only an open file of it remains to be changed,
 * through its descriptor: FD if the caller has one, else the node's own
 * file for writing (a lower file is first copied into a nameless upper
 * one: see copyup_detached). */
static int setattr_detached(struct ufs *u, struct node *node, const struct stat *attr,
			    int to_set, int fd, struct stat *out)
{
	uid_t uid = owner_stored_uid(u, (to_set & UFS_SET_UID) ? attr->st_uid : (uid_t)-1);
	gid_t gid = owner_stored_gid(u, (to_set & UFS_SET_GID) ? attr->st_gid : (gid_t)-1);
	struct handle *h = NULL;
	struct timespec ts[2];
	int err = 0;

	if (node->removed_attr)
		return setattr_removed_dir(node, attr, to_set, out);
	if (fd < 0) {
		err = ufs_node_file(u, node, UFS_WRITE, &h);
		if (err)
			return err;
		fd = h->fd;
	}
	times_from(attr, to_set, ts);
	if ((to_set & (UFS_SET_UID | UFS_SET_GID)) && fchown(fd, uid, gid) < 0)
		err = -errno;
	else if ((to_set & UFS_SET_MODE) && fchmod(fd, attr->st_mode & 07777) < 0)
		err = -errno;
	else if ((to_set & UFS_SET_SIZE) && ftruncate(fd, attr->st_size) < 0)
		err = -errno;
	else if ((to_set & UFS_SET_TIMES) && futimens(fd, ts) < 0)
		err = -errno;
	else if (fstat(fd, out) < 0)
		err = -errno;
	owner_show(u, out);
	out->st_ino = node->vino;
	out->st_nlink = 0;
	if (h)
		ufs_handle_put(u, h);
	return err;
}

int ufs_setattr(struct ufs *u, struct node *node, const struct stat *attr,
		int to_set, int fd, struct stat *out)
{
	bool no_data = (to_set & UFS_SET_SIZE) && attr->st_size == 0;
	struct at at;
	int err;

	if (ufs_read_only(u))
		return -EROFS;
	pthread_rwlock_wrlock(&u->lock);
	if (node->detached) {
		err = setattr_detached(u, node, attr, to_set, fd, out);
		goto out_unlock;
	}
	err = protattr_may_setattr(u, node, to_set);
	if (err)
		goto out_unlock;
	/* With -o metacopy, new attributes alone copy no data up. */
	if (to_set & UFS_SET_SIZE)
		err = copyup_may_unlock(u, node, !no_data);
	else
		err = copyup_meta(u, node, true);
	if (err)
		goto out_unlock;
	err = at_open(u, node, u->upper, &at);
	if (err)
		goto out_unlock;
	err = apply_attrs(u, &at, attr, to_set, fd);
	at_close(u, &at);
	if (!err)
		err = node_stat(u, node, out);
out_unlock:
	pthread_rwlock_unlock(&u->lock);
	return err;
}

int ufs_readlink(struct ufs *u, struct node *node, char **target)
{
	size_t size = 256;
	struct at at;
	int err;

	pthread_rwlock_rdlock(&u->lock);
	err = at_open(u, node, node->top, &at);
	if (err)
		goto out_unlock;
	for (;;) {
		char *buf = malloc(size);
		ssize_t len;

		if (!buf) {
			err = -ENOMEM;
			break;
		}
		len = readlinkat(at.dirfd, at.name, buf, size);
		if (len < 0) {
			err = -errno;
			free(buf);
			break;
		}
		if ((size_t)len < size) {
			buf[len] = '\0';
			*target = buf;
			break;
		}
		free(buf);
		size *= 2;
	}
	at_close(u, &at);
out_unlock:
	pthread_rwlock_unlock(&u->lock);
	return err;
}

int ufs_statfs(struct ufs *u, struct statvfs *st)
{
	return fstatvfs(u->layers[0].fd, st) < 0 ? -errno : 0;
}

/* Where the xattr calls find NODE: PATH, and whether they must follow its
 * last component. A node without a name is reached through an open file,
 * whose /proc link must be followed; any other path names the entry itself
 * (the l* calls). AT holds the fd the path goes through: at_close it. */
static int xattr_path(struct ufs *u, struct node *node, struct at *at, char *path, bool *follow)
{
	int err;

	pthread_rwlock_rdlock(&u->lock);
	*follow = node->detached;
	if (node->detached) {
		at->dirfd = node_handle_fd(node, -1);
		at->owned = true;
		at->cached = NULL;
		err = at->dirfd < 0 ? at->dirfd : 0;
		if (!err)
			snprintf(path, LAYER_PROC_PATH_MAX, "/proc/self/fd/%d", at->dirfd);
	} else {
		err = at_open(u, node, node->top, at);
		if (!err)
			layer_proc_path(at->dirfd, at->name, path);
	}
	pthread_rwlock_unlock(&u->lock);
	return err;
}

/* user.unionfuse.*: made up on each call (explain.h), never read from a layer. */
static ssize_t getxattr_virtual(struct ufs *u, struct node *node, const char *name,
				void *buf, size_t size)
{
	char *value;
	ssize_t len = explain_xattr(u, node, name, &value);

	if (len < 0)
		return len;
	if (size > 0 && (size_t)len > size)
		len = -ERANGE;
	else if (size > 0 && len > 0)
		memcpy(buf, value, (size_t)len);
	free(value);
	return len;
}

#define XATTR_CAPS "security.capability"

/* The kernel asks for security.capability before every write to learn
 * whether the write must drop it; almost no file has one. A file's answer
 * "none" is kept until some security.capability changes (caps_gen): only
 * setxattr adds one, and a chown, write or copy-up can only take it away. */
static bool caps_known_absent(struct ufs *u, struct node *node)
{
	return atomic_load(&node->no_caps_gen) == atomic_load(&u->caps_gen) + 1;
}

void ufs_caps_absent(struct node *node, uint64_t gen)
{
	atomic_store(&node->no_caps_gen, gen + 1);
}

ssize_t ufs_getxattr(struct ufs *u, struct node *node, const char *name, void *buf, size_t size)
{
	char path[LAYER_PROC_PATH_MAX];
	bool caps = strcmp(name, XATTR_CAPS) == 0;
	uint64_t gen = atomic_load(&u->caps_gen);
	bool follow;
	struct at at;
	ssize_t len;
	int err;

	if (explain_is_virtual_xattr(name))
		return getxattr_virtual(u, node, name, buf, size);
	if (xattr_is_private(name))
		return -ENODATA;
	if (caps && caps_known_absent(u, node))
		return -ENODATA;
	err = xattr_path(u, node, &at, path, &follow);
	if (err)
		return err;
	len = follow ? getxattr(path, name, buf, size) : lgetxattr(path, name, buf, size);
	if (len < 0)
		len = -errno;
	if (caps && len == -ENODATA && !follow)
		ufs_caps_absent(node, gen);
	at_close(u, &at);
	return len;
}

/* Drop the union's private names, and any stored name that would pass for
 * a virtual one, from a listxattr buffer, and trusted.* names unless
 * SHOW_TRUSTED (the kernel lists them to CAP_SYS_ADMIN only); returns the
 * new length. */
static size_t xattr_list_filter(char *list, size_t len, bool show_trusted)
{
	size_t in = 0, out = 0;

	while (in < len) {
		size_t n = strlen(list + in) + 1;

		if (!xattr_is_private(list + in) && !explain_is_virtual_xattr(list + in) &&
		    (show_trusted || strncmp(list + in, "trusted.", 8) != 0)) {
			memmove(list + out, list + in, n);
			out += n;
		}
		in += n;
	}
	return out;
}

ssize_t ufs_listxattr(struct ufs *u, struct node *node, char *buf, size_t size, bool show_trusted)
{
	char path[LAYER_PROC_PATH_MAX];
	char *list = NULL;
	bool follow;
	struct at at;
	ssize_t len;
	int err;

	err = xattr_path(u, node, &at, path, &follow);
	if (err)
		return err;
	len = follow ? listxattr(path, NULL, 0) : llistxattr(path, NULL, 0);
	if (len > 0) {
		list = malloc((size_t)len);
		if (!list)
			len = (errno = ENOMEM, -1);
		else
			len = follow ? listxattr(path, list, (size_t)len)
				     : llistxattr(path, list, (size_t)len);
	}
	if (len < 0) {
		len = -errno;
		goto out;
	}
	len = (ssize_t)xattr_list_filter(list, (size_t)len, show_trusted);
	if (size > 0) {
		if ((size_t)len > size)
			len = -ERANGE;
		else if (len > 0)
			memcpy(buf, list, (size_t)len);
	}
out:
	free(list);
	at_close(u, &at);
	return len;
}

/* Copy NODE up and run a path-based xattr change on its upper copy. */
static int change_xattr(struct ufs *u, struct node *node, const char *name,
			const void *value, size_t size, int flags, bool remove)
{
	char path[LAYER_PROC_PATH_MAX];
	struct at at;
	int err = 0;

	if (explain_is_virtual_xattr(name))
		return -EPERM;
	if (xattr_is_private(name))
		return -EOPNOTSUPP;
	if (ufs_read_only(u))
		return -EROFS;
	pthread_rwlock_wrlock(&u->lock);
	err = node->detached ? 0 : protattr_may_change(u, node);
	/* Removing what is not there changes nothing: no copy-up. */
	if (!err && remove && node->top != u->upper && !node->detached &&
	    (err = at_open(u, node, node->top, &at)) == 0) {
		layer_proc_path(at.dirfd, at.name, path);
		if (lgetxattr(path, name, NULL, 0) < 0)
			err = -errno;
		at_close(u, &at);
	}
	if (!err)
		err = copyup_meta(u, node, true);
	if (!err)
		err = at_open(u, node, u->upper, &at);
	if (!err) {
		bool caps = strcmp(name, XATTR_CAPS) == 0;

		layer_proc_path(at.dirfd, at.name, path);
		if (caps)
			atomic_fetch_add(&u->caps_gen, 1);
		if (remove ? lremovexattr(path, name) : lsetxattr(path, name, value, size, flags))
			err = -errno;
		if (caps)
			atomic_fetch_add(&u->caps_gen, 1);
		at_close(u, &at);
		node->default_acl = -1;
	}
	pthread_rwlock_unlock(&u->lock);
	return err;
}

int ufs_setxattr(struct ufs *u, struct node *node, const char *name,
		 const void *value, size_t size, int flags)
{
	return change_xattr(u, node, name, value, size, flags, false);
}

int ufs_removexattr(struct ufs *u, struct node *node, const char *name)
{
	return change_xattr(u, node, name, NULL, 0, 0, true);
}

int ufs_fsyncdir(struct ufs *u, struct node *dir, int datasync)
{
	int fd, err;

	pthread_rwlock_rdlock(&u->lock);
	err = at_open_dir(u, dir, dir->top, O_RDONLY, &fd);
	pthread_rwlock_unlock(&u->lock);
	if (err)
		return err;
	if ((datasync ? fdatasync(fd) : fsync(fd)) < 0)
		err = -errno;
	close(fd);
	return err;
}
