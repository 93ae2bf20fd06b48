/* Copy-up origins: which lower entry an upper one was copied from, kept in
 * the upper layer as overlayfs keeps it, so that an entry shows the inode
 * number it had below after a remount too, as it does for the life of the
 * mount (copyup.c) and as kernel overlayfs shows it.
 *
 * overlayfs writes, at copy-up, overlay.origin on the copy: a file handle
 * of the lower entry in its struct ovl_fb form (version 0, magic 0xfb, the
 * length, flags, the handle type, the lower filesystem's UUID, the handle),
 * and overlay.impure on the upper parent, which tells readers that some
 * entries there have one. The union writes the same, so an upper layer it
 * leaves mounts under overlayfs with the same inode numbers, and reads them
 * in upper layers overlayfs left.
 *
 * overlayfs decodes the handle to find the lower entry; a daemon without
 * CAP_DAC_READ_SEARCH cannot (open_by_handle_at), and the entry it opens
 * may be anywhere on that filesystem. The union looks where the entry
 * should be instead, and takes its number only if its handle is the one
 * recorded: below the same name, or, for a file renamed or given a second
 * name since its copy-up, where the copy-up found it. That place is the
 * union's own record, overlay.unionfuse.origin_path (the lower entry's
 * path in its layer), which overlayfs neither writes nor reads (it hides
 * it, as every overlay.* name, and a layer commit drops it). An upper
 * layer overlayfs wrote has none: there a renamed copy, or one with two
 * names (so that both show one number), shows its upper inode number. A
 * file hard-linked below takes none (as overlayfs without an index): its
 * copy is a file of its own, and the names left below share the lower
 * number. Directories need no origin to be read: a merged directory shows
 * the number of the directory of the first layer below. */
#include "origin.h"

#include "internal.h"
#include "whiteout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* struct ovl_fb, byte by byte. */
enum { FB_VERSION, FB_MAGIC, FB_LEN, FB_FLAGS, FB_TYPE, FB_UUID, FB_FID = FB_UUID + 16 };
#define FB_FLAG_BIG_ENDIAN 1
#define FB_FLAG_ANY_ENDIAN 2
#define FB_FLAG_PATH_UPPER 4
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define FB_FLAG_CPU_ENDIAN FB_FLAG_BIG_ENDIAN
#else
#define FB_FLAG_CPU_ENDIAN 0
#endif

/* The keys, after overlay's prefix, of the lower entry's path, and of the
 * mark of a directory holding copies moved or linked since their copy-up. */
#define ORIGIN_PATH_KEY "unionfuse.origin_path"
#define MOVED_KEY "unionfuse.moved"
/* The longest path recorded. A file's xattrs share one block on ext4 (4
 * KiB): the union's bookkeeping must leave the room to its user's own (and
 * to its own marks: a directory's path, near 4 KiB deep in a tree, left
 * none for overlay.impure). overlayfs bounds its redirects likewise
 * (redirect_max). */
#define ORIGIN_PATH_RECORDED_MAX 1024

/* A handle as name_to_handle_at gives it, with room for the largest. */
struct origin_handle {
	struct file_handle fh;
	unsigned char bytes[MAX_HANDLE_SZ];
};

/* The overlay.origin value for the entry NAME of DIRFD, on the filesystem
 * whose UUID is UUID, into FB (ORIGIN_MAX bytes). Returns its length, or
 * -errno: -EOPNOTSUPP where the filesystem has no file handles. */
static int origin_encode(int dirfd, const char *name, const unsigned char uuid[16],
			 unsigned char *fb)
{
	struct origin_handle h;
	int mount_id;

	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(dirfd, name, &h.fh, &mount_id, 0) < 0)
		return -errno;
	if (h.fh.handle_bytes > ORIGIN_MAX - FB_FID || h.fh.handle_type < 0 ||
	    h.fh.handle_type > 0xff)
		return -EOPNOTSUPP;
	fb[FB_VERSION] = 0;
	fb[FB_MAGIC] = 0xfb;
	fb[FB_LEN] = (unsigned char)(FB_FID + h.fh.handle_bytes);
	fb[FB_FLAGS] = FB_FLAG_CPU_ENDIAN;
	fb[FB_TYPE] = (unsigned char)h.fh.handle_type;
	memcpy(fb + FB_UUID, uuid, 16);
	memcpy(fb + FB_FID, h.fh.f_handle, h.fh.handle_bytes);
	return FB_FID + (int)h.fh.handle_bytes;
}

/* Where NODE lies in LAYER: a directory may lie elsewhere than below its
 * parent's path there (an overlayfs redirect). NULL on ENOMEM. */
static char *entry_layer_path(struct node *node, int layer)
{
	return node_is_dir(node) ? node_layer_path(node, layer)
				 : node_layer_path_below(node->parent, layer, node->name);
}

/* Record, on the copy NAME of DIRFD of NODE, where the lower entry it came
 * from lies in LAYER: 1, and NODE->origin_path set. The path only helps
 * find that entry again: where it does not fit (longer than
 * ORIGIN_PATH_RECORDED_MAX, or than the upper filesystem takes in an
 * xattr), the copy goes without it, as one overlayfs made: 0. */
static int origin_record_path(struct node *node, int layer, int dirfd, const char *name)
{
	char *path = entry_layer_path(node, layer);
	int err = 0;

	if (!path)
		return -ENOMEM;
	err = strlen(path) <= ORIGIN_PATH_RECORDED_MAX
		      ? overlay_xattr_set(dirfd, name, ORIGIN_PATH_KEY, path, strlen(path))
		      : -E2BIG;
	free(path);
	if (err == -EOPNOTSUPP || err == -E2BIG || err == -ENOSPC || err == -ERANGE)
		return 0;
	if (err < 0)
		return err;
	node->origin_path = true;
	return 1;
}

int origin_record(struct ufs *u, struct node *node, const struct at *src, int dirfd,
		  const char *name)
{
	unsigned char fb[ORIGIN_MAX];
	int layer = node->top;
	int len = origin_encode(src->dirfd, src->name, u->layers[layer].uuid, fb);

	/* Without a handle there is no origin: the copy shows its own inode
	 * number after a remount, as overlayfs' would. */
	if (len == -EOPNOTSUPP || len == -EOVERFLOW)
		return 0;
	if (len < 0)
		return len;
	len = overlay_xattr_set(dirfd, name, "origin", fb, (size_t)len);
	/* Likewise where the upper layer takes no such xattr (user.* on a
	 * symlink, a filesystem without xattrs). */
	if (len == -EOPNOTSUPP)
		return 0;
	/* A directory's, only should it move (origin_keep_for_move). */
	if (!len && !node_is_dir(node))
		len = origin_record_path(node, layer, dirfd, name);
	return len < 0 ? len : 1;
}

int origin_mark_impure(struct node *dir, int dirfd, const char *name)
{
	int err;

	if (dir->upper_impure)
		return 0;
	err = overlay_xattr_set(dirfd, name, "impure", "y", 1);
	if (err == -EOPNOTSUPP)
		err = 0;
	if (!err)
		dir->upper_impure = true;
	return err;
}

int origin_mark_moved(struct node *node, int dirfd, const char *name)
{
	int err = origin_mark_impure(node, dirfd, name);

	if (err || atomic_load(&node->moved_copies))
		return err;
	err = overlay_xattr_set(dirfd, name, MOVED_KEY, "y", 1);
	if (err == -EOPNOTSUPP)
		err = 0;
	if (!err)
		atomic_store(&node->moved_copies, true);
	return err;
}

int origin_follow_move(struct node *newdir, int dirfd, const char *name, int newdirfd)
{
	ssize_t len = overlay_xattr_get(dirfd, name, "origin", NULL, 0);

	if (len == -ENODATA)
		return 0;
	if (len < 0)
		return (int)len;
	return origin_mark_impure(newdir, newdirfd, ".");
}

static bool uuid_is_null(const unsigned char *uuid)
{
	static const unsigned char null[16];

	return memcmp(uuid, null, 16) == 0;
}

/* Whether the origin STORED (LEN bytes) names the lower entry whose own
 * origin value is HERE (HERE_LEN bytes). overlayfs may leave the UUID null
 * (-o uuid=null or off): the handle alone then decides. */
static bool origin_same(const unsigned char *stored, ssize_t len, const unsigned char *here,
			int here_len)
{
	if (len != here_len || len < FB_FID || stored[FB_VERSION] != 0 ||
	    stored[FB_MAGIC] != 0xfb || stored[FB_LEN] != len ||
	    (stored[FB_FLAGS] & FB_FLAG_PATH_UPPER) || stored[FB_TYPE] != here[FB_TYPE])
		return false;
	if (!uuid_is_null(stored + FB_UUID) && memcmp(stored + FB_UUID, here + FB_UUID, 16) != 0)
		return false;
	return memcmp(stored + FB_FID, here + FB_FID, (size_t)(len - FB_FID)) == 0;
}

/* Whether NAME of DIRFD, an entry of LAYER, is the entry of type TYPE
 * that the origin STORED (LEN bytes) names, a directory or a single-link
 * file; its number in *INO. */
static bool lower_entry_is_origin(struct ufs *u, int layer, int dirfd, const char *name,
				  mode_t type, const unsigned char *stored, ssize_t len, ino_t *ino)
{
	unsigned char here[ORIGIN_MAX];
	struct stat st;
	int here_len;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (st.st_mode & S_IFMT) != type || (!S_ISDIR(type) && st.st_nlink != 1))
		return false;
	here_len = origin_encode(dirfd, name, u->layers[layer].uuid, here);
	if (here_len <= 0 || !origin_same(stored, len, here, here_len))
		return false;
	*ino = st.st_ino;
	return true;
}

/* A recorded origin path is taken only as plain components below the
 * layer root: no "", "." or "..", nothing absolute. */
static bool origin_path_plain(const char *path)
{
	const char *p = path, *end;

	if (!*p || *p == '/')
		return false;
	for (; p; p = end ? end + 1 : NULL) {
		size_t n;

		end = strchr(p, '/');
		n = end ? (size_t)(end - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
	}
	return true;
}

/* Where the copy-up found E's lower entry (PATH, in some lower layer): the
 * layer whose entry there is the one STORED names, and its number. */
static bool origin_found_at_path(struct ufs *u, const struct node *e, char *path,
				 const unsigned char *stored, ssize_t len, int *layer, ino_t *ino)
{
	char *slash = strrchr(path, '/');
	const char *dir = slash ? path : ".", *name = slash ? slash + 1 : path;
	bool found = false;
	int j;

	if (!origin_path_plain(path))
		return false;
	if (slash)
		*slash = '\0';
	for (j = u->upper + 1; j < u->nlayers && !found; j++) {
		int fd = layer_openat(u->layers[j].fd, dir, O_PATH | O_DIRECTORY, 0);

		if (fd < 0)
			continue;
		found = lower_entry_is_origin(u, j, fd, name, e->type, stored, len, ino);
		close(fd);
		if (found)
			*layer = j;
	}
	return found;
}

/* The directory being settled in one lower layer, kept open while the
 * entries that need it come in a row (most come from the same layer). */
struct lower_dir {
	int layer;
	int fd;
};

static int lower_dir_fd(struct ufs *u, struct node *dir, int layer, struct lower_dir *kept)
{
	int err;

	if (kept->fd >= 0 && kept->layer == layer)
		return kept->fd;
	if (kept->fd >= 0)
		close(kept->fd);
	kept->fd = -1;
	err = at_open_dir(u, dir, layer, O_PATH, &kept->fd);
	if (err)
		return err;
	kept->layer = layer;
	return kept->fd;
}

/* E, an entry of DIR's upper copy (UPPERFD) with the origin STORED (LEN
 * bytes): its lower entry where its copy-up recorded it was. */
static bool origin_found_recorded(struct ufs *u, struct node *e, int upperfd,
				  const unsigned char *stored, ssize_t len, int *layer, ino_t *ino)
{
	char path[ORIGIN_PATH_RECORDED_MAX + 1];
	ssize_t path_len = overlay_xattr_get(upperfd, e->name, ORIGIN_PATH_KEY, path,
					     sizeof(path) - 1);

	if (path_len <= 0 || memchr(path, '\0', (size_t)path_len))
		return false;
	path[path_len] = '\0';
	if (!origin_found_at_path(u, e, path, stored, len, layer, ino))
		return false;
	e->origin_path = true;
	return true;
}

static void settle_at(struct ufs *u, struct node *e, int layer, ino_t ino)
{
	e->vino = ufs_vino(u, u->layers[layer].dev, ino);
	e->vino_below = true;
}

/* E, a directory of DIR's upper copy (UPPERFD): the number of the
 * directory below of its name if the two merge, or, where DIR holds moved
 * copies (MOVED), that of the one it was copied from, a directory copied
 * up whole to move (it merges with nothing). */
static int settle_dir(struct ufs *u, struct node *e, int upperfd, bool moved)
{
	unsigned char stored[ORIGIN_MAX];
	bool merged = false;
	ssize_t len;
	int err = 0, layer;
	ino_t ino;

	/* A directory overlayfs redirected shows its upper number: the union
	 * would have to follow the redirect for every listing. */
	if (e->seen_lower && e->lower_positive && e->ndl >= 2)
		err = ufs_dir_top_merges(u, e, &merged);
	if (err)
		return err == -ENOENT ? 0 : err;
	if (merged) {
		settle_at(u, e, e->dl[1], e->lower_ino);
		return 0;
	}
	if (!moved)
		return 0;
	len = overlay_xattr_get(upperfd, e->name, "origin", stored, sizeof(stored));
	if (len > 0 && origin_found_recorded(u, e, upperfd, stored, len, &layer, &ino))
		settle_at(u, e, layer, ino);
	return 0;
}

/* E, a non-directory of DIR's upper copy (UPPERFD, marked impure): the
 * number of the lower entry its recorded origin names, if that is found
 * below E's name, or, where DIR holds moved copies (MOVED), where the
 * copy-up found it. */
static int settle_file(struct ufs *u, struct node *dir, struct node *e, int upperfd,
		       bool moved, struct lower_dir *lower)
{
	unsigned char stored[ORIGIN_MAX];
	ssize_t len = overlay_xattr_get(upperfd, e->name, "origin", stored, sizeof(stored));
	struct stat st;
	int layer = e->lower_layer, fd;
	bool found = false;
	ino_t ino;

	if (len <= 0)
		return 0;
	if (e->seen_lower && e->lower_positive) {
		fd = lower_dir_fd(u, dir, layer, lower);
		if (fd < 0 && fd != -ENOENT && fd != -ENOTDIR)
			return fd;
		/* Names of one upper file must show one number: a second name
		 * finds it only by the path, so this one takes it only so. */
		found = fd >= 0 && fstatat(upperfd, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			st.st_nlink == 1 &&
			lower_entry_is_origin(u, layer, fd, e->name, e->type, stored, len, &ino);
	}
	if (!found && moved)
		found = origin_found_recorded(u, e, upperfd, stored, len, &layer, &ino);
	if (found)
		settle_at(u, e, layer, ino);
	return 0;
}

/* Whether DIR's view may hold copies moved or linked since their copy-up:
 * it, or a directory above it, is marked so. DIR's own mark is read from
 * its upper copy (SELF) if IMPURE: a marked directory is impure too. */
static int holds_moved_copies(struct ufs *u, struct node *dir, bool impure,
			      struct at *self, bool *moved)
{
	const struct node *d;
	char mark;
	int err;

	if (impure && !atomic_load(&dir->moved_copies)) {
		err = at_open_self(u, dir, u->upper, self);
		if (err)
			return err;
		if (overlay_xattr_get(self->dirfd, ".", MOVED_KEY, &mark, 1) == 1 && mark == 'y')
			atomic_store(&dir->moved_copies, true);
	}
	*moved = false;
	for (d = dir; d && !*moved; d = d->parent)
		*moved = atomic_load(&d->moved_copies);
	return 0;
}

/* Whether E, of DIR's upper copy, may have come from below. */
static bool may_settle(const struct ufs *u, const struct node *e, bool impure, bool moved)
{
	bool same_name = e->seen_lower && e->lower_positive;

	if (e->top != u->upper || e->type == 0)
		return false;
	if (S_ISDIR(e->type))
		return same_name || moved;
	return impure && (same_name || moved);
}

int origin_settle_view(struct ufs *u, struct node *dir, bool impure)
{
	struct lower_dir lower = { .layer = -1, .fd = -1 };
	struct at self = { .dirfd = -1 };
	struct node *e, *tmp;
	bool moved;
	int err = holds_moved_copies(u, dir, impure, &self, &moved);

	HASH_ITER(hh, dir->children, e, tmp) {
		if (err)
			break;
		if (!may_settle(u, e, impure, moved))
			continue;
		if (self.dirfd < 0)
			err = at_open_self(u, dir, u->upper, &self);
		if (!err && S_ISDIR(e->type))
			err = settle_dir(u, e, self.dirfd, moved);
		else if (!err)
			err = settle_file(u, dir, e, self.dirfd, moved, &lower);
	}
	if (self.dirfd >= 0)
		at_close(u, &self);
	if (lower.fd >= 0)
		close(lower.fd);
	return err;
}

int origin_keep_for_move(struct ufs *u, struct node *dir)
{
	unsigned char here[ORIGIN_MAX], stored[ORIGIN_MAX];
	int layer = dir->ndl > 1 ? dir->dl[1] : -1, here_len, fd, err;
	struct at up;
	ssize_t len;

	if (dir->top != u->upper || layer < 0 || !dir->vino_below)
		return 0;
	err = at_open_dir(u, dir, layer, O_PATH, &fd);
	if (err)
		return err == -ENOENT ? 0 : err;
	here_len = origin_encode(fd, ".", u->layers[layer].uuid, here);
	close(fd);
	if (here_len == -EOPNOTSUPP || here_len == -EOVERFLOW)
		return 0;
	if (here_len < 0)
		return here_len;
	err = at_open(u, dir, u->upper, &up);
	if (err)
		return err;
	len = overlay_xattr_get(up.dirfd, up.name, "origin", stored, sizeof(stored));
	if (len > 0 && !origin_same(stored, len, here, here_len))
		goto out;       /* the copy of another directory: its own stands */
	err = origin_mark_impure(dir->parent, up.dirfd, ".");
	if (!err && len <= 0)
		err = overlay_xattr_set(up.dirfd, up.name, "origin", here, (size_t)here_len);
	if (!err)
		err = origin_record_path(dir, layer, up.dirfd, up.name);
out:
	at_close(u, &up);
	return err == -EOPNOTSUPP || err > 0 ? 0 : err;
}
