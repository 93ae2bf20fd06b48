/* Recognising and writing whiteouts and opaque markers. */
#include "whiteout.h"

#include "layers.h"
#include "xattrat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

static const char *const opaque_xattrs[] = { "trusted.overlay.opaque", "user.overlay.opaque" };
static const char *const whiteout_xattrs[] = { "trusted.overlay.whiteout", "user.overlay.whiteout" };
static const char *const redirect_xattrs[] = { "trusted.overlay.redirect", "user.overlay.redirect" };
static const char *const impure_xattrs[] = { "trusted.overlay.impure", "user.overlay.impure" };
static const char *const overlay_prefixes[] = { "trusted.overlay.", "user.overlay." };

/* Where one file's xattrs are read: through FD itself when it was opened
 * for reading (one plain call), else as NAME of DIRFD (xattrat.c: an
 * O_PATH fd has no f*xattr, and the walk of /proc, where the kernel has no
 * getxattrat, costs several times more: it was a quarter of the daemon's
 * time in a 64-layer walk). */
struct xattr_src {
	int fd;                   /* < 0: use DIRFD and NAME */
	int dirfd;
	const char *name;
};

static void xattr_src_at(struct xattr_src *src, int dirfd, const char *name)
{
	src->fd = -1;
	src->dirfd = dirfd;
	src->name = name;
}

static void xattr_src_of_dir(struct xattr_src *src, int dirfd)
{
	xattr_src_at(src, dirfd, ".");
	src->fd = dirfd;
}

static ssize_t xattr_src_get(const struct xattr_src *src, const char *name, void *value,
			     size_t size)
{
	return src->fd >= 0 ? fgetxattr(src->fd, name, value, size)
			    : xattrat_get(src->dirfd, src->name, name, value, size);
}

/* The names of a file's xattrs. Most entries of a layer have none, and one
 * listing then answers every question about markers at once. */
struct xattr_names {
	char list[1024];
	ssize_t len;              /* < 0: unknown (too many, or no listing) */
};

static void xattr_names_read(struct xattr_src *src, struct xattr_names *xn)
{
	if (src->fd >= 0) {
		xn->len = flistxattr(src->fd, xn->list, sizeof(xn->list));
		if (xn->len >= 0 || errno != EBADF)
			return;
		src->fd = -1;     /* an O_PATH fd: go through /proc */
	}
	xn->len = xattrat_list(src->dirfd, src->name, xn->list, sizeof(xn->list));
}

/* Whether NAME may be set: surely not if the listing lacks it. */
static bool xattr_may_have(const struct xattr_names *xn, const char *name)
{
	ssize_t off;

	if (xn->len < 0)
		return true;
	for (off = 0; off < xn->len; off += (ssize_t)strlen(xn->list + off) + 1)
		if (strcmp(xn->list + off, name) == 0)
			return true;
	return false;
}

/* The value of the first of NAMES set, NUL-terminated; NULL if none. */
static char *xattr_string(const struct xattr_src *src, const struct xattr_names *xn,
			  const char *const *names, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		ssize_t len = xattr_may_have(xn, names[i]) ?
			      xattr_src_get(src, names[i], NULL, 0) : -1;
		char *value;

		if (len <= 0)
			continue;
		value = malloc((size_t)len + 1);
		if (!value)
			return NULL;
		len = xattr_src_get(src, names[i], value, (size_t)len);
		if (len > 0) {
			value[len] = '\0';
			return value;
		}
		free(value);
	}
	return NULL;
}

/* The value of NAME if it is one character long, else 0. */
static char xattr_char(const struct xattr_src *src, const struct xattr_names *xn,
		       const char *name)
{
	char value[2];

	return xattr_may_have(xn, name) && xattr_src_get(src, name, value, sizeof(value)) == 1
		       ? value[0]
		       : 0;
}

void whiteout_dir_xattrs(int dirfd, struct wh_dirinfo *out)
{
	struct xattr_src src;
	struct xattr_names xn;
	size_t i;

	out->opaque = false;
	out->xwhiteouts = false;
	out->impure = false;
	xattr_src_of_dir(&src, dirfd);
	xattr_names_read(&src, &xn);
	out->redirect = xattr_string(&src, &xn, redirect_xattrs, 2);
	/* trusted.overlay.* and user.overlay.*, in the same order. */
	for (i = 0; i < sizeof(opaque_xattrs) / sizeof(opaque_xattrs[0]); i++) {
		char opaque = xattr_char(&src, &xn, opaque_xattrs[i]);

		out->opaque |= opaque == 'y';
		out->xwhiteouts |= opaque == 'x';
		out->impure |= xattr_char(&src, &xn, impure_xattrs[i]) == 'y';
	}
}

int whiteout_dir_info(int dirfd, struct wh_dirinfo *out)
{
	struct stat st;
	int err;

	whiteout_dir_xattrs(dirfd, out);
	if (fstatat(dirfd, WH_OPAQUE_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		out->opaque = true;
	} else if (errno != ENOENT) {
		err = -errno;
		free(out->redirect);
		out->redirect = NULL;
		return err;
	}
	return 0;
}

const char *whiteout_aufs_target(const char *name)
{
	if (strncmp(name, WH_PREFIX, WH_PREFIX_LEN) != 0 || strcmp(name, WH_OPAQUE_NAME) == 0)
		return NULL;
	return name + WH_PREFIX_LEN;
}

bool whiteout_is_marker_name(const char *name)
{
	return strncmp(name, WH_PREFIX, WH_PREFIX_LEN) == 0;
}

bool whiteout_is_device(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

bool whiteout_is_xattr_file(int dirfd, const char *name, const struct stat *st)
{
	struct xattr_src src;
	struct xattr_names xn;
	size_t i;

	if (!S_ISREG(st->st_mode) || st->st_size != 0)
		return false;
	xattr_src_at(&src, dirfd, name);
	xattr_names_read(&src, &xn);
	for (i = 0; i < sizeof(whiteout_xattrs) / sizeof(whiteout_xattrs[0]); i++)
		if (xattr_may_have(&xn, whiteout_xattrs[i]) &&
		    xattr_src_get(&src, whiteout_xattrs[i], NULL, 0) >= 0)
			return true;
	return false;
}

bool whiteout_may_hide_in(unsigned char d_type, const struct wh_dirinfo *info)
{
	return d_type == DT_UNKNOWN || d_type == DT_CHR || (d_type == DT_REG && info->xwhiteouts);
}

bool xattr_is_private(const char *name)
{
	return strncmp(name, "trusted.overlay.", 16) == 0 ||
	       strncmp(name, "user.overlay.", 13) == 0 ||
	       strcmp(name, "user.containers.override_stat") == 0;
}

int overlay_xattr_set(int dirfd, const char *name, const char *key, const void *value,
		      size_t len)
{
	char xname[64];
	size_t i;

	for (i = 0; i < sizeof(overlay_prefixes) / sizeof(overlay_prefixes[0]); i++) {
		snprintf(xname, sizeof(xname), "%s%s", overlay_prefixes[i], key);
		if (xattrat_set(dirfd, name, xname, value, len, 0) == 0)
			return 0;
		/* EPERM: not root for trusted.*, or user.* on a symlink. */
		if (errno != EPERM && errno != ENOTSUP)
			return -errno;
	}
	return -EOPNOTSUPP;
}

int overlay_xattr_remove(int dirfd, const char *name, const char *key)
{
	char path[LAYER_PROC_PATH_MAX], xname[64];
	size_t i;

	layer_proc_path(dirfd, name, path);
	for (i = 0; i < sizeof(overlay_prefixes) / sizeof(overlay_prefixes[0]); i++) {
		snprintf(xname, sizeof(xname), "%s%s", overlay_prefixes[i], key);
		if (lremovexattr(path, xname) < 0 && errno != ENODATA && errno != EPERM &&
		    errno != ENOTSUP)
			return -errno;
	}
	return 0;
}

ssize_t overlay_xattr_get(int dirfd, const char *name, const char *key, void *value,
			  size_t size)
{
	char xname[64];
	ssize_t len = -ENODATA;
	size_t i;

	for (i = 0; i < sizeof(overlay_prefixes) / sizeof(overlay_prefixes[0]); i++) {
		snprintf(xname, sizeof(xname), "%s%s", overlay_prefixes[i], key);
		len = xattrat_get(dirfd, name, xname, value, size);
		if (len >= 0)
			return len;
		len = -errno;
		if (errno != ENODATA && errno != ENOTSUP && errno != EPERM)
			break;
	}
	return len == -ENOTSUP || len == -EPERM ? -ENODATA : len;
}

int whiteout_create_device(int dirfd, const char *name)
{
	if (mknodat(dirfd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
		return -errno;
	return 0;
}

char *whiteout_aufs_name(const char *name)
{
	size_t len = strlen(name);
	char *marker = malloc(WH_PREFIX_LEN + len + 1);

	if (marker) {
		memcpy(marker, WH_PREFIX, WH_PREFIX_LEN);
		memcpy(marker + WH_PREFIX_LEN, name, len + 1);
	}
	return marker;
}

static int whiteout_create_aufs(int dirfd, const char *name)
{
	char *marker = whiteout_aufs_name(name);
	int fd, err = 0;

	if (!marker)
		return -ENOMEM;
	fd = openat(dirfd, marker, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (fd < 0)
		err = -errno;
	else
		close(fd);
	free(marker);
	return err;
}

int whiteout_create(int dirfd, const char *name, enum wh_format fmt)
{
	int err;

	if (fmt == WH_FORMAT_AUFS) {
		err = whiteout_create_aufs(dirfd, name);
		if (err != -ENAMETOOLONG)
			return err ? err : WH_AUFS_FILE;
	}
	err = whiteout_create_device(dirfd, name);
	if (err == -EPERM && fmt == WH_FORMAT_OVERLAY) {
		/* No CAP_MKNOD (a user namespace): the one form we may create. */
		err = whiteout_create_aufs(dirfd, name);
		return err ? err : WH_AUFS_FILE;
	}
	return err ? err : WH_AT_NAME;
}

int whiteout_remove(int dirfd, const char *name, int wh)
{
	if ((wh & WH_AT_NAME) && unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	if (wh & WH_AUFS_FILE) {
		char *marker = whiteout_aufs_name(name);
		int err = 0;

		if (!marker)
			return -ENOMEM;
		if (unlinkat(dirfd, marker, 0) < 0 && errno != ENOENT)
			err = -errno;
		free(marker);
		return err;
	}
	return 0;
}

int opaque_mark(int dirfd, const char *name, enum wh_format fmt)
{
	int fd, dfd;

	if (fmt == WH_FORMAT_OVERLAY) {
		int err = overlay_xattr_set(dirfd, name, "opaque", "y", 1);

		if (err != -EOPNOTSUPP)
			return err;
	}
	dfd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	/* Read-only: a marker already there (0444) opens without the right
	 * to write it, which a daemon run by an ordinary user lacks. */
	fd = openat(dfd, WH_OPAQUE_NAME, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0444);
	close(dfd);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}
