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
 * overlayfs decodes the handle; a daemon without CAP_DAC_READ_SEARCH cannot.
 * The union does not need to: the lower entry of the same name is the only
 * one whose number it may take (any other is still shown where it lies),
 * and it is that entry if its handle is the one recorded. An entry renamed
 * after its copy-up therefore shows its upper inode number after a remount,
 * and so does a copy given a second name (a hard link in the upper layer),
 * so that both names show one number. A file hard-linked below takes none
 * (as overlayfs without an index): its copy is a file of its own, and the
 * names left below share the lower number. Directories need no origin to
 * be read: a merged directory shows the number of the directory of the
 * first layer below. */
#include "origin.h"

#include "internal.h"
#include "whiteout.h"

#include <errno.h>
#include <fcntl.h>
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

int origin_record(struct ufs *u, int layer, const struct at *src, int dirfd,
		  const char *name)
{
	unsigned char fb[ORIGIN_MAX];
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

/* Whether the upper entry E of the directory UPPERFD was copied up from the
 * entry of the same name in LOWERFD, its layer E->lower_layer. */
static bool origin_verified(struct ufs *u, const struct node *e, int upperfd, int lowerfd)
{
	unsigned char stored[ORIGIN_MAX], here[ORIGIN_MAX];
	ssize_t len = overlay_xattr_get(upperfd, e->name, "origin", stored, sizeof(stored));
	struct stat st;
	int here_len;

	if (len <= 0)
		return false;
	/* Names of one upper file must show one number: only one of them
	 * can match below. */
	if (fstatat(upperfd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_nlink != 1)
		return false;
	if (fstatat(lowerfd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (st.st_mode & S_IFMT) != e->type || st.st_nlink != 1)
		return false;
	here_len = origin_encode(lowerfd, e->name, u->layers[e->lower_layer].uuid, here);
	return here_len > 0 && origin_same(stored, len, here, here_len);
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

/* E, an entry of DIR's upper copy (UPPERFD) with one of its name below. */
static int settle_entry(struct ufs *u, struct node *dir, struct node *e, int upperfd,
			bool impure, struct lower_dir *lower)
{
	bool merged = false;
	int fd, err;

	/* A directory overlayfs redirected shows its upper number: the union
	 * would have to follow the redirect for every listing. */
	if (S_ISDIR(e->type)) {
		if (e->ndl < 2)
			return 0;
		err = ufs_dir_top_merges(u, e, &merged);
		if (!err && merged) {
			e->vino = ufs_vino(u, u->layers[e->dl[1]].dev, e->lower_ino);
			e->vino_below = true;
		}
		return err == -ENOENT ? 0 : err;
	}
	if (!impure)
		return 0;
	fd = lower_dir_fd(u, dir, e->lower_layer, lower);
	if (fd == -ENOENT || fd == -ENOTDIR)
		return 0;
	if (fd < 0)
		return fd;
	if (origin_verified(u, e, upperfd, fd)) {
		e->vino = ufs_vino(u, u->layers[e->lower_layer].dev, e->lower_ino);
		e->vino_below = true;
	}
	return 0;
}

int origin_settle_view(struct ufs *u, struct node *dir, bool impure)
{
	struct lower_dir lower = { .layer = -1, .fd = -1 };
	struct node *e, *tmp;
	struct at self;
	int err = 0;
	bool opened = false;

	HASH_ITER(hh, dir->children, e, tmp) {
		if (e->top != u->upper || e->type == 0 || !e->seen_lower || !e->lower_positive)
			continue;
		if (!opened) {
			err = at_open_self(u, dir, u->upper, &self);
			if (err)
				break;
			opened = true;
		}
		err = settle_entry(u, dir, e, self.dirfd, impure, &lower);
		if (err)
			break;
	}
	if (opened)
		at_close(u, &self);
	if (lower.fd >= 0)
		close(lower.fd);
	return err;
}
