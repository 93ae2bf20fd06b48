/* Default ACLs and the umask of a new entry.
 *
 * The kernel leaves the umask to the daemon (FUSE_CAP_DONT_MASK), because
 * only the daemon knows whether the new entry's directory has a default
 * ACL: POSIX has the default ACL replace the umask there. The upper
 * filesystem applies that ACL itself, if the entry is made in the
 * directory. An entry that replaces a whiteout is made elsewhere first
 * and swapped in (dir.c): it is made in a scratch directory of work/
 * given the same default ACL, so the filesystem computes the same ACL and
 * mode it would have in place. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define ACL_DEFAULT_XATTR "system.posix_acl_default"

bool acl_dir_has_default(struct node *dir, int udirfd)
{
	char path[LAYER_PROC_PATH_MAX];

	/* Known once per directory: through /proc (UDIRFD may be an O_PATH
	 * fd, which has no fgetxattr) the check costs more than a create. */
	if (dir->default_acl < 0) {
		layer_proc_path(udirfd, ".", path);
		dir->default_acl = lgetxattr(path, ACL_DEFAULT_XATTR, NULL, 0) > 0;
	}
	return dir->default_acl;
}

static int copy_default_acl(int from_dirfd, int to_dirfd)
{
	char from[LAYER_PROC_PATH_MAX], to[LAYER_PROC_PATH_MAX];
	ssize_t len;
	char *value;
	int err = 0;

	layer_proc_path(from_dirfd, ".", from);
	layer_proc_path(to_dirfd, ".", to);
	len = lgetxattr(from, ACL_DEFAULT_XATTR, NULL, 0);
	if (len < 0)
		return -errno;
	value = malloc((size_t)len + 1);
	if (!value)
		return -ENOMEM;
	len = lgetxattr(from, ACL_DEFAULT_XATTR, value, (size_t)len + 1);
	if (len < 0 || lsetxattr(to, ACL_DEFAULT_XATTR, value, (size_t)len, 0) < 0)
		err = -errno;
	free(value);
	return err;
}

int acl_staging_open(struct ufs *u, int dirfd, char *name, size_t size, int *fd)
{
	int err;

	ufs_tmpname(u, name, size);
	if (mkdirat(u->work_fd, name, 0700) < 0)
		return -errno;
	*fd = openat(u->work_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	err = *fd < 0 ? -errno : copy_default_acl(dirfd, *fd);
	if (err) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		unlinkat(u->work_fd, name, AT_REMOVEDIR);
	}
	return err;
}
