/* Whiteouts and opaque directories: recognising every marker format in any
 * layer (DESIGN section 3), and writing one format into the upper layer. */
#ifndef UNIONFUSE_WHITEOUT_H
#define UNIONFUSE_WHITEOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#define WH_PREFIX ".wh."
#define WH_PREFIX_LEN 4
#define WH_OPAQUE_NAME ".wh..wh..opq"

enum wh_format {
	WH_FORMAT_OVERLAY, /* char device 0/0, xattr overlay.opaque=y */
	WH_FORMAT_AUFS,    /* .wh.NAME files, .wh..wh..opq */
};

/* Which markers for a name sit in the upper layer (bit set). */
enum { WH_AT_NAME = 1, WH_AUFS_FILE = 2 };

struct wh_dirinfo {
	bool opaque;      /* overlay.opaque=y or a .wh..wh..opq inside */
	bool xwhiteouts;  /* overlay.opaque=x: look for xattr whiteouts inside */
	char *redirect;   /* overlay.redirect: where lower layers hold this
			   * directory ("/abs/path" or a sibling name); free it */
	bool impure;      /* overlay.impure=y: some entries inside were copied
			   * up, and carry their origin (origin.c) */
};

/* DIRFD is an fd of the directory itself: O_PATH is enough, one opened
 * for reading is cheaper. */
int whiteout_dir_info(int dirfd, struct wh_dirinfo *out);
/* The same from its extended attributes alone, for a caller that reads the
 * directory's entries anyway and finds a .wh..wh..opq among them: a stat
 * less per directory and layer (layerscan.c). */
void whiteout_dir_xattrs(int dirfd, struct wh_dirinfo *out);

/* ".wh.NAME" → "NAME"; NULL for other names and for the opaque marker. */
const char *whiteout_aufs_target(const char *name);
/* "NAME" → ".wh.NAME", malloc'd; NULL on ENOMEM. */
char *whiteout_aufs_name(const char *name);
bool whiteout_is_marker_name(const char *name);
bool whiteout_is_device(const struct stat *st);
/* A zero-size regular file carrying overlay.whiteout (the "xwhiteout"). */
bool whiteout_is_xattr_file(int dirfd, const char *name, const struct stat *st);
/* Whether a listed entry of type D_TYPE (a dirent's) may be a whiteout that
 * only a stat tells: a type the listing does not give, a character device,
 * or a regular file in a directory marked to hold xattr whiteouts. */
bool whiteout_may_hide_in(unsigned char d_type, const struct wh_dirinfo *info);

/* Extended attributes private to the union, never shown in the merged view. */
bool xattr_is_private(const char *name);

/* overlayfs' own xattr KEY ("origin", "impure") of the entry NAME in
 * DIRFD: set as trusted.overlay.KEY, or where the daemon may not (an
 * ordinary user), as user.overlay.KEY, which overlayfs reads with
 * -o userxattr. Set returns -EOPNOTSUPP if neither can be set; get reads
 * either, the trusted one first, and returns its length or -errno
 * (-ENODATA: none). */
int overlay_xattr_set(int dirfd, const char *name, const char *key, const void *value,
		      size_t len);
ssize_t overlay_xattr_get(int dirfd, const char *name, const char *key, void *value,
			  size_t size);
/* Remove KEY from either namespace; 0 if it was in neither. */
int overlay_xattr_remove(int dirfd, const char *name, const char *key);

/* Write a whiteout for NAME into DIRFD (an upper directory). Falls back to
 * the other format when the first cannot be created (no CAP_MKNOD, a name
 * too long for ".wh."). Returns the WH_* bit written or -errno. */
int whiteout_create(int dirfd, const char *name, enum wh_format fmt);
/* A character device 0/0 named NAME in DIRFD, for atomic replacement. */
int whiteout_create_device(int dirfd, const char *name);
/* Remove the markers WH (WH_* bits) for NAME from DIRFD. */
int whiteout_remove(int dirfd, const char *name, int wh);
/* Mark the directory NAME in DIRFD opaque (again, if it is already). */
int opaque_mark(int dirfd, const char *name, enum wh_format fmt);

#endif
