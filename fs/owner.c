/* Recording and showing owners the daemon could not set (owner.h). */
#include "owner.h"

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/xattr.h>
#include <unistd.h>

int owner_override_read(int dirfd, const char *name, uid_t *uid, gid_t *gid, mode_t *mode)
{
	char path[LAYER_PROC_PATH_MAX], value[64];
	unsigned long u, g, m;
	ssize_t len;

	layer_proc_path(dirfd, name, path);
	len = lgetxattr(path, OWNER_OVERRIDE_XATTR, value, sizeof(value) - 1);
	if (len <= 0)
		return -ENODATA;
	value[len] = '\0';
	if (sscanf(value, "%lu:%lu:%lo", &u, &g, &m) != 3)
		return -EINVAL;
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	*mode = (mode_t)m & 07777;
	return 0;
}

int owner_override_write(int dirfd, const char *name, uid_t uid, gid_t gid, mode_t mode)
{
	char path[LAYER_PROC_PATH_MAX], value[64];
	int len = snprintf(value, sizeof(value), "%u:%u:0%o", (unsigned)uid, (unsigned)gid,
			   (unsigned)(mode & 07777));

	layer_proc_path(dirfd, name, path);
	if (lsetxattr(path, OWNER_OVERRIDE_XATTR, value, (size_t)len, 0) < 0)
		return -errno;
	return 0;
}

int owner_set(struct ufs *u, int dirfd, const char *name, uid_t uid, gid_t gid, mode_t mode)
{
	if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != EPERM && errno != EINVAL)
		return -errno;
	/* user.* xattrs exist only on files and directories; a symlink's
	 * owner means nothing to anyone and stays the daemon's. */
	if (!S_ISREG(mode) && !S_ISDIR(mode))
		return 0;
	atomic_store(&u->overrides, true);
	return owner_override_write(dirfd, name, uid, gid, mode);
}

int owner_set_mode(int dirfd, const char *name, mode_t mode)
{
	uid_t uid;
	gid_t gid;
	mode_t old;

	if (owner_override_read(dirfd, name, &uid, &gid, &old) < 0)
		return 0;
	return owner_override_write(dirfd, name, uid, gid, mode);
}

void owner_apply(const struct ufs *u, int dirfd, const char *name, struct stat *st)
{
	uid_t uid;
	gid_t gid;
	mode_t mode;

	if (!atomic_load(&u->overrides) || !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)))
		return;
	if (owner_override_read(dirfd, name, &uid, &gid, &mode) < 0)
		return;
	st->st_uid = uid;
	st->st_gid = gid;
	st->st_mode = (st->st_mode & S_IFMT) | mode;
}

void owner_show(const struct ufs *u, struct stat *st)
{
	st->st_uid = idmap_shown(&u->uids, st->st_uid);
	st->st_gid = idmap_shown(&u->gids, st->st_gid);
}

uid_t owner_stored_uid(const struct ufs *u, uid_t shown)
{
	return shown == (uid_t)-1 ? shown : idmap_stored(&u->uids, shown);
}

gid_t owner_stored_gid(const struct ufs *u, gid_t shown)
{
	return shown == (gid_t)-1 ? shown : idmap_stored(&u->gids, shown);
}
