/* Copy-up (DESIGN section 4): the first change to an entry of a lower layer
 * copies it to the upper layer, parents first. The copy is built in the work
 * directory and renamed into place, so nobody sees half of it and a crash
 * leaves only scratch that the next mount removes. */
#define HASH_FUNCTION(keyptr, keylen, hashv) \
	((hashv) = (unsigned)XXH3_64bits((keyptr), (keylen)))
#include <xxhash.h>

#include "internal.h"
#include "origin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Write all of BUF at POS: a short write (the disk filling up) is
 * followed by another, which says why it cannot go on. */
static int write_all(int fd, const char *buf, size_t len, off_t pos)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, pos);

		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
		pos += n;
	}
	return 0;
}

/* The ways to copy data, best first: copy_file_range (a clone or an
 * in-kernel copy on one filesystem); sendfile, which splices in the kernel
 * between two filesystems, as overlayfs copies; read and write through the
 * daemon, where neither can. */
enum copy_way { COPY_RANGE, COPY_SPLICE, COPY_READ_WRITE };

#define COPY_SPLICE_MAX (1 << 30)

/* Copy up to LEN bytes at POS one WAY: the bytes copied, 0 at the end of
 * SRC, -1 with errno set. COPY_SPLICE writes at DST's offset, which the
 * caller keeps at POS. */
static ssize_t copy_step(enum copy_way way, int src, int dst, off_t pos, size_t len)
{
	loff_t in = pos, out = pos;
	char buf[65536];
	ssize_t n;
	int err;

	switch (way) {
	case COPY_RANGE:
		return copy_file_range(src, &in, dst, &out, len, 0);
	case COPY_SPLICE:
		return sendfile(dst, src, &in, len < COPY_SPLICE_MAX ? len : COPY_SPLICE_MAX);
	default:
		n = pread(src, buf, len < sizeof(buf) ? len : sizeof(buf), pos);
		if (n > 0 && (err = write_all(dst, buf, (size_t)n, pos))) {
			errno = -err;
			return -1;
		}
		return n;
	}
}

/* The kernel cannot copy so here (another filesystem, no support). */
static bool copy_way_unsupported(int err)
{
	return err == EXDEV || err == ENOSYS || err == EINVAL || err == EOPNOTSUPP;
}

/* Copy [POS, END) the best way the kernel takes. Returns the offset
 * reached, END unless the file was shorter, or -errno. */
static off_t copy_range(int src, int dst, off_t pos, off_t end)
{
	enum copy_way way = COPY_RANGE;

	while (pos < end) {
		ssize_t n = copy_step(way, src, dst, pos, (size_t)(end - pos));

		if (n < 0 && way != COPY_READ_WRITE && copy_way_unsupported(errno)) {
			way++;
			if (way == COPY_SPLICE && lseek(dst, pos, SEEK_SET) < 0)
				return -errno;
			continue;
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		pos += n;
	}
	return pos;
}

/* Data extents only: holes stay holes (SEEK_DATA/SEEK_HOLE). */
static int copy_data(int src, int dst, off_t size)
{
	off_t pos = 0, reached = 0;

	if (ioctl(dst, FICLONE, src) == 0)
		return 0;
	while (reached >= 0 && pos < size) {
		off_t data = lseek(src, pos, SEEK_DATA);
		off_t hole;

		if (data < 0 && errno == ENXIO)
			break;
		if (data < 0) {
			/* No SEEK_DATA here: copy everything. */
			reached = copy_range(src, dst, pos, size);
			break;
		}
		hole = lseek(src, data, SEEK_HOLE);
		if (hole < 0)
			hole = size;
		reached = copy_range(src, dst, data, hole);
		pos = hole;
	}
	if (reached < 0)
		return (int)reached;
	/* Only a file ending in a hole is still short: a truncate to the
	 * same size would cost a journal transaction for nothing. */
	if (reached < size && ftruncate(dst, size) < 0)
		return -errno;
	return 0;
}

static int copy_xattr(const char *from, const char *to, const char *name)
{
	ssize_t len = lgetxattr(from, name, NULL, 0);
	char *value;
	int err = 0;

	if (len < 0)
		return errno == ENODATA ? 0 : -errno;
	value = malloc(len ? (size_t)len : 1);
	if (!value)
		return -ENOMEM;
	len = lgetxattr(from, name, value, (size_t)len);
	if (len < 0 || lsetxattr(to, name, value, (size_t)len, 0) < 0)
		err = -errno;
	free(value);
	/* A filesystem without xattrs for a namespace loses them, as cp -a does. */
	return err == -EOPNOTSUPP ? 0 : err;
}

/* Every xattr but the union's own; security.capability last, because the
 * chown before it would clear it. */
static int copy_xattrs(const char *from, const char *to)
{
	ssize_t len = llistxattr(from, NULL, 0);
	char *list, *name;
	int err = 0;

	if (len <= 0)
		return len < 0 && errno != EOPNOTSUPP ? -errno : 0;
	list = malloc((size_t)len);
	if (!list)
		return -ENOMEM;
	len = llistxattr(from, list, (size_t)len);
	if (len < 0)
		err = -errno;
	for (name = list; !err && name < list + len; name += strlen(name) + 1)
		if (!xattr_is_private(name) && strcmp(name, "security.capability") != 0)
			err = copy_xattr(from, to, name);
	if (!err)
		err = copy_xattr(from, to, "security.capability");
	free(list);
	return err;
}

/* The data copied into FD (SIZE bytes) is on the disk before the copy
 * takes its name, as overlayfs has it: the rename is journaled at once,
 * while delayed allocation may write the data half a minute later, and
 * a power loss in between would leave an empty or partial copy hiding
 * the intact lower file, though the user changed only its mode, say.
 * -o volatile (overlayfs' option) skips the wait. */
static int copy_sync(const struct ufs *u, int fd, off_t size)
{
	if (u->volatile_upper || size == 0)
		return 0;
	return fdatasync(fd) < 0 ? -errno : 0;
}

/* Whether a copy-up that may release the tree lock should, for its data
 * copy: a large file takes long to copy, and any file long to sync. */
static bool copy_unlocked(const struct ufs *u, const struct stat *st)
{
	return S_ISREG(st->st_mode) &&
	       (st->st_size >= COPYUP_UNLOCKED_MIN || (!u->volatile_upper && st->st_size > 0));
}

/* The regular file WORK/TMP, with the data of SRC (stat ST) unless
 * WITH_DATA is false, synced. UNSYNCED (a tree's batch, below): not
 * synced, but its writeback started, and the file left open in it. */
static int copy_regular(struct ufs *u, const struct at *src, const struct stat *st,
			const char *tmp, bool with_data, int *unsynced)
{
	int sfd, tfd = openat(u->work_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int err = 0;

	if (tfd < 0)
		return -errno;
	if (with_data) {
		sfd = openat(src->dirfd, src->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		err = sfd < 0 ? -errno : copy_data(sfd, tfd, st->st_size);
		if (sfd >= 0)
			close(sfd);
	}
	if (!err && unsynced) {
		/* Only a start: what it fails to start, the batch's
		 * fdatasync does. */
		if (!u->volatile_upper && st->st_size > 0)
			(void)sync_file_range(tfd, 0, 0, SYNC_FILE_RANGE_WRITE);
		*unsynced = tfd;
		return 0;
	}
	if (!err && with_data)
		err = copy_sync(u, tfd, st->st_size);
	close(tfd);
	return err;
}

/* Make the scratch copy WORK/TMP of SRC (whose stat is ST). */
static int copy_object(struct ufs *u, const struct at *src, const struct stat *st,
		       const char *tmp, bool with_data)
{
	int err = 0;
	char *target;
	ssize_t len;

	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		return copy_regular(u, src, st, tmp, with_data, NULL);
	case S_IFDIR:
		return mkdirat(u->work_fd, tmp, 0700) < 0 ? -errno : 0;
	case S_IFLNK:
		target = malloc((size_t)st->st_size + 1);
		if (!target)
			return -ENOMEM;
		len = readlinkat(src->dirfd, src->name, target, (size_t)st->st_size + 1);
		if (len < 0 || len > st->st_size)
			err = len < 0 ? -errno : -EIO;
		else {
			target[len] = '\0';
			if (symlinkat(target, u->work_fd, tmp) < 0)
				err = -errno;
		}
		free(target);
		return err;
	default:
		return mknodat(u->work_fd, tmp, st->st_mode, st->st_rdev) < 0 ? -errno : 0;
	}
}

/* A file removed while some process had it open is written by it: were it
 * in a lower layer, the write goes to a nameless copy (O_TMPFILE in the
 * work directory, gone with its last user), and H, the node's read file, is
 * moved onto that copy so that reads see the writes. Owner and mode are
 * kept; the file has no name, so nothing else of it can be seen. */
int copyup_detached(struct ufs *u, struct handle *h)
{
	struct stat st;
	int fd, err = 0;

	if (ufs_read_only(u))
		return -EROFS;
	pthread_mutex_lock(&h->node->lock);
	if (h->layer == u->upper)
		goto out;
	if (fstat(h->fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	fd = openat(u->work_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, st.st_mode & 07777);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	err = copy_data(h->fd, fd, st.st_size);
	if (!err && fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM)
		err = -errno;
	if (!err && fchmod(fd, st.st_mode & 07777) < 0)
		err = -errno;
	if (!err && dup3(fd, h->fd, O_CLOEXEC) < 0)
		err = -errno;
	if (!err)
		h->layer = u->upper;
	close(fd);
out:
	pthread_mutex_unlock(&h->node->lock);
	return err;
}

/* Inode flags, owner, then mode (chown clears set-id bits), xattrs, and
 * times last. */
static int copy_meta(struct ufs *u, const struct at *src, const struct stat *st, const char *tmp)
{
	char from[LAYER_PROC_PATH_MAX], to[LAYER_PROC_PATH_MAX];
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	int err = 0;

	/* First, while the copy is still the daemon's own (0600, 0700). */
	if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))
		err = fileattr_copy(src->dirfd, src->name, u->work_fd, tmp);
	if (!err)
		err = owner_set(u, u->work_fd, tmp, idmap_copy_owner(&u->uids, st->st_uid),
				idmap_copy_owner(&u->gids, st->st_gid), st->st_mode);
	if (err)
		return err;
	if (!S_ISLNK(st->st_mode) && (err = layer_chmod(u->work_fd, tmp, st->st_mode & 07777)))
		return err;
	layer_proc_path(src->dirfd, src->name, from);
	layer_proc_path(u->work_fd, tmp, to);
	err = copy_xattrs(from, to);
	if (err)
		return err;
	if (utimensat(u->work_fd, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/* A copy-up is not a change the user made: the upper parent keeps its times. */
static void restore_dir_times(int dirfd, const struct stat *before)
{
	char path[LAYER_PROC_PATH_MAX];
	struct timespec ts[2] = { before->st_atim, before->st_mtim };

	layer_proc_path(dirfd, ".", path);
	utimensat(AT_FDCWD, path, ts, 0);
}

/* What copy_sync did with SIZE bytes of copied data, for the trace. */
static const char *trace_synced(const struct ufs *u, off_t size)
{
	if (size == 0)
		return "";
	return u->volatile_upper ? ", not synced (volatile)" : ", synced to disk";
}

static void trace_copyup(struct ufs *u, struct node *node, const struct stat *st,
			 bool with_data, bool meta, double start)
{
	char *path = trace_path(node->parent, node->name);
	char layer[TRACE_LAYER_MAX], what[80], size[32];

	if (S_ISDIR(st->st_mode))
		snprintf(what, sizeof(what), "directory, its entries stay below");
	else if (!S_ISREG(st->st_mode))
		snprintf(what, sizeof(what), "%s", S_ISLNK(st->st_mode) ? "symlink" : "special file");
	else if (meta)
		snprintf(what, sizeof(what), "metadata only, the data stays there");
	else if (!with_data)
		snprintf(what, sizeof(what), "no data (truncated)");
	else {
		trace_size(st->st_size, size, sizeof(size));
		snprintf(what, sizeof(what), "%s%s", size, trace_synced(u, st->st_size));
	}
	trace_line(u, "copy-up %s from %s to upper: %s, %.1f ms", path,
		   trace_layer(u, node->top, layer), what, trace_now_ms() - start);
	free(path);
}

/* Put the finished scratch copy TMP of NODE (whose lower stat is ST) in
 * its place in the upper layer. ORIGIN: the copy carries its origin, and
 * its parent is marked impure first, as overlayfs does, so that no reader
 * ever finds the one without the other. */
static int copyup_install(struct ufs *u, struct node *node, const char *tmp,
			  const struct stat *st, bool origin)
{
	struct stat parent_st, copied;
	ino_t upper_vino;
	struct at dst;
	int err = at_open(u, node, u->upper, &dst);

	if (err)
		return err;
	if (fstat(dst.dirfd, &parent_st) < 0) {
		err = -errno;
		goto out;
	}
	if (origin && (err = origin_mark_impure(node->parent, dst.dirfd, ".")))
		goto out;
	if (renameat2(u->work_fd, tmp, dst.dirfd, dst.name, RENAME_NOREPLACE) < 0) {
		err = -errno;
		goto out;
	}
	restore_dir_times(dst.dirfd, &parent_st);
	if (fstatat(dst.dirfd, dst.name, &copied, AT_SYMLINK_NOFOLLOW) < 0) {
		/* In place, but with no knowing what number it has there. */
		node->vino_below = node->vino_kept = true;
		goto out;
	}
	upper_vino = ufs_vino(u, u->layers[u->upper].dev, copied.st_ino);
	/* As overlayfs without an index: a copied-up hard link becomes a file
	 * of its own, so it stops sharing st_ino with the names left below;
	 * a listing the kernel cached must then show the new number too. */
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		node->vino = upper_vino;
		ufs_listing_changed(u, node->parent);
	}
	node->vino_below = node->vino != upper_vino;
out:
	at_close(u, &dst);
	return err;
}

/* The node now lives in the upper layer; META: its metadata only, the
 * data staying where it was, and the files open on it with it. ORIGIN:
 * the copy carries its origin. A view built again gives the copy the
 * number it had below from its origin, and a directory from the layer
 * below it merges with (origin.c); otherwise the node must stay. */
static int copyup_done(struct ufs *u, struct node *node, bool meta, bool origin)
{
	if (node_is_dir(node) && node_dl_prepend(node, u->upper) < 0)
		return -ENOMEM;
	if (node->type == S_IFREG)
		metacopy_set(node, meta ? node->top : -1, NULL);
	node->top = u->upper;
	node->vino_kept |= node->vino_below && !origin && !node_is_dir(node);
	if (node->type == S_IFREG && !meta)
		ufs_handles_follow_copyup(u, node);
	ufs_attr_changed(u, node);
	return 0;
}

/* The entry of NODE's top layer and its attributes, as the union shows
 * its owner. */
static int copyup_source(struct ufs *u, struct node *node, struct at *src, struct stat *st)
{
	int err = at_open(u, node, node->top, src);

	if (err)
		return err;
	if (fstatat(src->dirfd, src->name, st, AT_SYMLINK_NOFOLLOW) < 0) {
		err = -errno;
		at_close(u, src);
		return err;
	}
	owner_apply(u, src->dirfd, src->name, st);
	return 0;
}

/* What every copy-up checks first; 1: nothing left to do. */
static int copyup_needed(struct ufs *u, struct node *node)
{
	if (ufs_read_only(u))
		return -EROFS;
	if (node->detached)
		return -ENOENT;
	return node->top == u->upper;
}

/* The data of SRC, a regular file of ST's size, into the new scratch file
 * WORK/TMP, with the tree lock released meanwhile. With the lock back,
 * NODE is checked again: 1 if it was copied up meanwhile (that copy
 * stands), else SRC is reopened where NODE now lies and its parent is in
 * the upper layer. SRC is closed on any other return. [tree exclusive,
 * released meanwhile] */
static int copy_data_unlocked(struct ufs *u, struct node *node, struct at *src,
			      const struct stat *st, const char *tmp)
{
	int sfd = openat(src->dirfd, src->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), tfd, err;

	at_close(u, src);
	if (sfd < 0)
		return -errno;
	tfd = openat(u->work_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (tfd < 0) {
		err = -errno;
		close(sfd);
		return err;
	}
	pthread_rwlock_unlock(&u->lock);
	err = copy_data(sfd, tfd, st->st_size);
	if (!err)
		err = copy_sync(u, tfd, st->st_size);
	close(sfd);
	close(tfd);
	pthread_rwlock_wrlock(&u->lock);
	if (!err)
		err = copyup_needed(u, node);
	/* Moved meanwhile, NODE may have a parent not yet copied up. */
	if (!err)
		err = copyup(u, node->parent, true);
	if (!err)
		err = at_open(u, node, node->top, src);
	return err;
}

/* The scratch copy TMP of SRC (stat ST) with its metadata only: as large
 * as the original, all hole, marked. *META false: the upper layer takes no
 * mark, and the data was copied after all. */
static int copy_object_meta(struct ufs *u, const struct at *src, const struct stat *st,
			    const char *tmp, bool *meta)
{
	int err = copy_object(u, src, st, tmp, false);
	int fd;

	if (err)
		return err;
	err = metacopy_mark(u->work_fd, tmp);
	if (err != -EOPNOTSUPP) {
		fd = err ? -1 : openat(u->work_fd, tmp, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		if (!err && (fd < 0 || ftruncate(fd, st->st_size) < 0))
			err = -errno;
		if (fd >= 0)
			close(fd);
		return err;
	}
	*meta = false;
	if (unlinkat(u->work_fd, tmp, 0) < 0)
		return -errno;
	return copy_object(u, src, st, tmp, true);
}

/* A copy of NODE made in the work directory, not yet in its place. */
struct staged_copy {
	struct node *node;
	struct stat st;      /* of the entry copied */
	char tmp[UFS_TMPNAME_MAX];
	bool origin;         /* it carries its origin */
	int fd;              /* a tree's batch only: the copy, open, unsynced */
	double start;        /* for the trace */
};

/* The metadata of SRC on S's copy, then its origin. */
static int copy_meta_origin(struct ufs *u, const struct at *src, struct staged_copy *s)
{
	int err = copy_meta(u, src, &s->st, s->tmp);

	if (!err)
		err = origin_record(u, s->node, src, u->work_fd, s->tmp);
	s->origin = err > 0;
	return err < 0 ? err : 0;
}

/* Put S's copy in its place and make its node an upper one; the copy is
 * dropped if it cannot go there. WITH_DATA, META: as copied, for the trace. */
static int staged_install(struct ufs *u, struct staged_copy *s, bool with_data, bool meta)
{
	int err = copyup_install(u, s->node, s->tmp, &s->st, s->origin);

	if (err) {
		util_remove_tree(u->work_fd, s->tmp);
		return err;
	}
	if (u->trace)
		trace_copyup(u, s->node, &s->st, with_data, meta, s->start);
	return copyup_done(u, s->node, meta, s->origin);
}

/* Copy NODE to the upper layer; MAY_UNLOCK: a large regular file's data
 * with the tree lock released (copy_data_unlocked); META_ONLY: for a
 * change of attributes, which with -o metacopy copies no data. 1: someone
 * else did it meanwhile. */
static int copyup_one(struct ufs *u, struct node *node, bool with_data, bool may_unlock,
		      bool meta_only)
{
	struct staged_copy s = { .node = node, .fd = -1,
				 .start = u->trace ? trace_now_ms() : 0 };
	struct at src;
	bool meta;
	int err = copyup_source(u, node, &src, &s.st);

	if (err)
		return err;
	ufs_tmpname(u, s.tmp, sizeof(s.tmp));
	meta = meta_only && u->metacopy && S_ISREG(s.st.st_mode) && s.st.st_size > 0;
	if (meta)
		err = copy_object_meta(u, &src, &s.st, s.tmp, &meta);
	else if (may_unlock && with_data && copy_unlocked(u, &s.st))
		err = copy_data_unlocked(u, node, &src, &s.st, s.tmp);
	else
		err = copy_object(u, &src, &s.st, s.tmp, with_data);
	if (!err)
		err = copy_meta_origin(u, &src, &s);
	at_close(u, &src);
	if (err) {
		util_remove_tree(u->work_fd, s.tmp);
		return err;
	}
	return staged_install(u, &s, with_data, meta);
}

/* Restore what writing the data into FD, an upper file of stat ST, may
 * have taken from it: set-id bits, security.capability (CAPS, CAPS_LEN
 * bytes, if any) and its times. */
static int data_restore_meta(int fd, const struct stat *st, const char *caps, ssize_t caps_len)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (fchmod(fd, st->st_mode & 07777) < 0)
		return -errno;
	if (caps_len >= 0 &&
	    fsetxattr(fd, "security.capability", caps, (size_t)caps_len, 0) < 0)
		return -errno;
	return futimens(fd, ts) < 0 ? -errno : 0;
}

/* LAYER < 0: no data was copied, the file being emptied. */
static void trace_data_copyup(struct ufs *u, struct node *node, int layer, off_t size,
			      double start)
{
	char *path = trace_path(node->parent, node->name);
	char from[TRACE_LAYER_MAX], what[80], amount[32];

	trace_size(size, amount, sizeof(amount));
	snprintf(what, sizeof(what), "%s%s", amount, trace_synced(u, size));
	if (layer < 0)
		trace_line(u, "copy-up data of %s: none, it is truncated to 0, %.1f ms", path,
			   trace_now_ms() - start);
	else
		trace_line(u, "copy-up data of %s from %s into its upper copy: %s, %.1f ms", path,
			   trace_layer(u, layer, from), what, trace_now_ms() - start);
	free(path);
}

/* Give UFD, NODE's upper copy (of stat ST), its data from below, or, for
 * WITH_DATA false, empty it. *LAYER: where the data was read, -1 if not. */
static int data_in(struct ufs *u, struct node *node, int ufd, const struct stat *st,
		   bool with_data, int *layer)
{
	struct stat dst;
	int dfd, err;

	*layer = -1;
	if (!with_data)
		return ftruncate(ufd, 0) < 0 ? -errno : 0;
	/* O_NONBLOCK: a lower file swapped for a FIFO must not hold the
	 * tree lock forever. */
	dfd = metacopy_open_data(u, node, O_RDONLY | O_NONBLOCK, layer);
	if (dfd < 0)
		return dfd;
	if (fstat(dfd, &dst) < 0)
		err = -errno;
	else if (!S_ISREG(dst.st_mode))
		err = -EIO;
	else
		err = copy_data(dfd, ufd, st->st_size);
	close(dfd);
	/* Before the mark goes: till then the data is read below. */
	return err ? err : copy_sync(u, ufd, st->st_size);
}

/* NODE's upper copy holds only its metadata: copy its data in, in place
 * (its hard links, its inode number and the files open on it stay), then
 * drop the mark. Until the mark goes, its data is read below: a crash
 * halfway loses nothing. WITH_DATA false: the file is being truncated to
 * 0, and is emptied instead. */
static int copyup_meta_data(struct ufs *u, struct node *node, bool with_data)
{
	double start = u->trace ? trace_now_ms() : 0;
	char caps[256];
	ssize_t caps_len = -1;
	struct stat st;
	struct at at;
	int ufd, layer = -1, err = at_open(u, node, u->upper, &at);

	if (err)
		return err;
	ufd = openat(at.dirfd, at.name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	err = ufd < 0 ? -errno : 0;
	at_close(u, &at);
	if (err)
		return err;
	if (fstat(ufd, &st) < 0)
		err = -errno;
	else
		caps_len = fgetxattr(ufd, "security.capability", caps, sizeof(caps));
	if (!err)
		err = data_in(u, node, ufd, &st, with_data, &layer);
	if (!err)
		err = data_restore_meta(ufd, &st, caps, caps_len);
	if (!err)
		err = metacopy_unmark(ufd);
	close(ufd);
	if (err)
		return err;
	if (u->trace)
		trace_data_copyup(u, node, layer, st.st_size, start);
	metacopy_set(node, -1, NULL);
	ufs_handles_follow_copyup(u, node);
	ufs_attr_changed(u, node);
	return 0;
}

static int copyup_node(struct ufs *u, struct node *node, bool with_data, bool may_unlock,
		       bool meta_only)
{
	int err = copyup_needed(u, node);

	if (err == 0)
		err = copyup(u, node->parent, true);
	if (err == 0 && node_is_dir(node))
		err = ufs_layers_final(u, node);
	if (err == 0)
		err = copyup_one(u, node, with_data, may_unlock, meta_only);
	if (err < 0)
		return err;
	/* Any other change needs the data too; a truncation to 0 only
	 * needs the mark gone. */
	if (!meta_only && node->type == S_IFREG && metacopy_pending(u, node))
		return copyup_meta_data(u, node, with_data);
	return 0;
}

int copyup(struct ufs *u, struct node *node, bool with_data)
{
	return copyup_node(u, node, with_data, false, false);
}

int copyup_may_unlock(struct ufs *u, struct node *node, bool with_data)
{
	return copyup_node(u, node, with_data, true, false);
}

int copyup_meta(struct ufs *u, struct node *node, bool may_unlock)
{
	return copyup_node(u, node, true, may_unlock, true);
}

/* Hard links met while copying a tree: a lower file and the node whose
 * upper copy its other names become links to. */
struct link_seen {
	struct ino_key_dev {
		dev_t dev;
		ino_t ino;
	} key;
	struct node *first;
	UT_hash_handle hh;
};

static int copyup_as_link(struct ufs *u, struct node *node, struct node *first)
{
	struct at from, to;
	int err = copyup(u, node->parent, true);

	if (!err)
		err = at_open(u, first, u->upper, &from);
	if (err)
		return err;
	err = at_open(u, node, u->upper, &to);
	if (!err) {
		if (linkat(from.dirfd, from.name, to.dirfd, to.name, 0) < 0)
			err = -errno;
		at_close(u, &to);
	}
	at_close(u, &from);
	if (err)
		return err;
	node->top = u->upper;
	node->vino = first->vino;
	node->vino_below = true;
	node->vino_kept = true;
	ufs_handles_follow_copyup(u, node);
	ufs_attr_changed(u, node);
	return 0;
}

/* The single-link files of a tree are copied up in batches: each one's
 * copy made in the work directory with its writeback started, then all
 * synced, then all put in place. A sync per file would cost a journal
 * commit each (10,000 files: 6.5 s against 0.9 s unsynced); the batch's
 * first fdatasync commits the allocations of all, and the others find
 * theirs committed. */
#define TREE_BATCH_MAX 64

struct tree_batch {
	unsigned n;
	struct staged_copy files[TREE_BATCH_MAX];
};

/* NODE's copy, whole but for its sync, into the work directory. */
static int tree_stage(struct ufs *u, struct node *node, struct staged_copy *s)
{
	struct at src;
	int err;

	*s = (struct staged_copy){ .node = node, .fd = -1,
				   .start = u->trace ? trace_now_ms() : 0 };
	err = copyup_source(u, node, &src, &s->st);
	if (err)
		return err;
	ufs_tmpname(u, s->tmp, sizeof(s->tmp));
	err = copy_regular(u, &src, &s->st, s->tmp, true, &s->fd);
	if (!err)
		err = copy_meta_origin(u, &src, s);
	at_close(u, &src);
	if (err) {
		if (s->fd >= 0)
			close(s->fd);
		util_remove_tree(u->work_fd, s->tmp);
	}
	return err;
}

static int tree_batch_sync(struct ufs *u, struct tree_batch *b)
{
	int err = 0;

	for (unsigned i = 0; i < b->n && !err; i++)
		err = copy_sync(u, b->files[i].fd, b->files[i].st.st_size);
	return err;
}

/* Sync B's copies, put them in place, and empty B. On an error, what
 * was not yet in place is dropped. */
static int tree_batch_flush(struct ufs *u, struct tree_batch *b)
{
	int err = tree_batch_sync(u, b);

	for (unsigned i = 0; i < b->n; i++) {
		struct staged_copy *s = &b->files[i];

		close(s->fd);
		if (err)
			util_remove_tree(u->work_fd, s->tmp);
		else
			err = staged_install(u, s, true, false);
	}
	b->n = 0;
	return err;
}

/* NODE, a regular file of a tree not yet in the upper layer, into B
 * (flushed first if full). */
static int tree_batch_add(struct ufs *u, struct tree_batch *b, struct node *node)
{
	int err;

	if (b->n == TREE_BATCH_MAX && (err = tree_batch_flush(u, b)))
		return err;
	err = tree_stage(u, node, &b->files[b->n]);
	if (!err)
		b->n++;
	return err;
}

/* What a failed tree copy leaves in B: dropped. */
static void tree_batch_drop(struct ufs *u, struct tree_batch *b)
{
	for (unsigned i = 0; i < b->n; i++) {
		close(b->files[i].fd);
		util_remove_tree(u->work_fd, b->files[i].tmp);
	}
	b->n = 0;
}

/* Copy up a file of the tree, keeping its hard links to names already
 * copied; a regular file goes into B. */
static int tree_copy_file(struct ufs *u, struct node *node, struct link_seen **seen,
			  struct tree_batch *b)
{
	struct ino_key_dev key;
	struct link_seen *ls;
	struct stat st;
	struct at at;
	int err;

	/* Its data too, if only its metadata was: the tree will be opaque. */
	if (node->top == u->upper)
		return copyup(u, node, true);
	err = at_open(u, node, node->top, &at);
	if (err)
		return err;
	err = fstatat(at.dirfd, at.name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	at_close(u, &at);
	if (err)
		return err;
	key = (struct ino_key_dev){ .dev = st.st_dev, .ino = st.st_ino };
	ls = NULL;
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
		HASH_FIND(hh, *seen, &key, sizeof(key), ls);
	if (ls) {
		/* The first name must be in place to be linked to. */
		if (ls->first->top != u->upper && (err = tree_batch_flush(u, b)))
			return err;
		return copyup_as_link(u, node, ls->first);
	}
	err = S_ISREG(st.st_mode) ? tree_batch_add(u, b, node) : copyup(u, node, true);
	if (err || S_ISDIR(st.st_mode) || st.st_nlink < 2)
		return err;
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return -ENOMEM;
	ls->key = key;
	ls->first = node;
	HASH_ADD(hh, *seen, key, sizeof(key), ls);
	return 0;
}

/* Whiteouts inside a tree that becomes opaque hide nothing any more: drop
 * them, so no reader of the upper layer ever lists them. */
static int tree_drop_whiteouts(struct ufs *u, struct node *dir)
{
	struct node *child, *tmp;
	struct at self;
	int err = at_open_self(u, dir, u->upper, &self);

	if (err)
		return err;
	HASH_ITER(hh, dir->children, child, tmp) {
		if (child->type || !child->upper_wh)
			continue;
		err = whiteout_remove(self.dirfd, child->name, child->upper_wh);
		if (err)
			break;
		view_remove(dir, child);
		node_free(child);
	}
	at_close(u, &self);
	return err;
}

/* Times of DIR's upper copy, or of the directory in its top layer. */
static int dir_times(struct ufs *u, struct node *dir, struct stat *st)
{
	struct at self;
	int err = at_open_self(u, dir, u->upper, &self);

	if (err)
		return err;
	if (fstat(self.dirfd, st) < 0)
		err = -errno;
	at_close(u, &self);
	return err;
}

/* Give DIR's upper copy back the times BEFORE (from dir_times). */
static int dir_restore_times(struct ufs *u, struct node *dir, const struct stat *before)
{
	struct at self;
	int err = at_open_self(u, dir, u->upper, &self);

	if (err)
		return err;
	restore_dir_times(self.dirfd, before);
	at_close(u, &self);
	return 0;
}

/* Copy DIR's tree into the upper layer, beside what the lower layers
 * hold: the copies equal the originals, and the upper directories still
 * merge with the lower ones, so until the caller marks DIR opaque the
 * merged view is what it was. A crash or a full disk here loses nothing. */
static int tree_copy(struct ufs *u, struct node *dir, struct link_seen **seen,
		     struct tree_batch *b)
{
	struct node *child, *tmp;
	struct stat before;
	int err = copyup(u, dir, true);

	if (!err)
		err = origin_keep_for_move(u, dir);
	if (!err)
		err = dir_times(u, dir, &before);
	if (!err)
		err = ufs_view_build(u, dir);
	HASH_ITER(hh, dir->children, child, tmp) {
		if (err)
			break;
		if (child->type == 0)
			continue;
		err = node_is_dir(child) ? tree_copy(u, child, seen, b)
					 : tree_copy_file(u, child, seen, b);
	}
	/* Moving a tree changes nothing in it that a user could see. */
	if (!err)
		err = tree_batch_flush(u, b);
	if (!err)
		err = dir_restore_times(u, dir, &before);
	return err;
}

/* Once DIR is opaque, the whiteouts in its tree hide nothing, and kernel
 * overlayfs would list them in directories it no longer merges: drop them,
 * keeping each directory's times. */
static int tree_drop_all_whiteouts(struct ufs *u, struct node *dir)
{
	struct node *child, *tmp;
	struct stat before;
	int err = dir_times(u, dir, &before);

	if (!err)
		err = tree_drop_whiteouts(u, dir);
	HASH_ITER(hh, dir->children, child, tmp) {
		if (err)
			break;
		if (child->type && node_is_dir(child))
			err = tree_drop_all_whiteouts(u, child);
	}
	if (!err)
		err = dir_restore_times(u, dir, &before);
	return err;
}

int copyup_tree(struct ufs *u, struct node *dir)
{
	struct link_seen *seen = NULL, *ls, *tmp;
	struct tree_batch *batch = calloc(1, sizeof(*batch));
	struct stat before;
	struct at at;
	int err;

	if (!batch)
		return -ENOMEM;
	err = tree_copy(u, dir, &seen, batch);
	if (err)
		tree_batch_drop(u, batch);
	free(batch);

	HASH_ITER(hh, seen, ls, tmp) {
		HASH_DEL(seen, ls);
		free(ls);
	}
	/* Opaque only once the whole tree is in the upper layer: from here
	 * on the upper copy alone is the tree. */
	if (!err)
		err = dir_times(u, dir, &before);
	if (!err)
		err = at_open(u, dir, u->upper, &at);
	if (!err) {
		err = opaque_mark(at.dirfd, at.name, u->whiteout_format);
		at_close(u, &at);
	}
	if (!err)
		err = tree_drop_all_whiteouts(u, dir);
	if (!err)
		err = dir_restore_times(u, dir, &before);
	return err;
}
