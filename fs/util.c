/* Small filesystem helpers of the union library. */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Passes until one finds nothing left: removing names while reading a
 * directory may make readdir skip some. */
static int empty_dir_stream(DIR *dir)
{
	int err = 0, removed = 1;
	struct dirent *de;

	while (!err && removed) {
		removed = 0;
		rewinddir(dir);
		while (!err && (errno = 0, de = readdir(dir))) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			err = util_remove_tree(dirfd(dir), de->d_name);
			removed++;
		}
		if (!err && !de && errno)
			err = -errno;
	}
	return err;
}

int util_empty_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir;
	int err;

	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		err = -errno;
		close(fd);
		return err;
	}
	err = empty_dir_stream(dir);
	closedir(dir);
	return err;
}

int util_remove_tree(int dirfd, const char *name)
{
	int fd, err;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	/* A directory left without write permission (by an archive, say). */
	fchmod(fd, 0700);
	err = util_empty_dir(fd);
	close(fd);
	if (err)
		return err;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

void ufs_attr_changed(struct ufs *u, struct node *node)
{
	if (u->attr_changed && atomic_load(&node->nlookup) > 0)
		u->attr_changed(u->attr_changed_ctx, node);
}

void ufs_listing_changed(struct ufs *u, struct node *dir)
{
	/* Dropping it costs a GETATTR of DIR too: not where no listing went. */
	if (u->listing_changed && atomic_load(&dir->listed) &&
	    (dir == u->root || atomic_load(&dir->nlookup) > 0))
		u->listing_changed(u->attr_changed_ctx, dir, dir == u->root);
}

bool ufs_is_upper(const struct ufs *u, int layer)
{
	return u->upper >= 0 && layer == u->upper;
}

/* One whiteout device in the work directory that every whiteout of the
 * upper layer is a hard link to, as overlayfs does: a link allocates no
 * inode, which is most of what a whiteout costs (ext4 searches its inode
 * bitmap, skipping recently deleted inodes, for each new one). Scratch like
 * the rest of work/, so the next mount removes it. */

/* A new shared whiteout, in place of one that is missing or full (EMLINK). */
static int shared_whiteout_renew(struct ufs *u)
{
	char tmp[UFS_TMPNAME_MAX];
	int err;

	ufs_tmpname(u, tmp, sizeof(tmp));
	err = whiteout_create_device(u->work_fd, tmp);
	if (err)
		return err;
	if (renameat(u->work_fd, tmp, u->work_fd, UFS_SHARED_WHITEOUT) < 0) {
		err = -errno;
		unlinkat(u->work_fd, tmp, 0);
	}
	return err;
}

int ufs_whiteout_device(struct ufs *u, int dirfd, const char *name)
{
	if (linkat(u->work_fd, UFS_SHARED_WHITEOUT, dirfd, name, 0) == 0)
		return 0;
	if ((errno == ENOENT || errno == EMLINK) && shared_whiteout_renew(u) == 0 &&
	    linkat(u->work_fd, UFS_SHARED_WHITEOUT, dirfd, name, 0) == 0)
		return 0;
	return whiteout_create_device(dirfd, name);
}

int ufs_whiteout_create(struct ufs *u, int dirfd, const char *name)
{
	if (u->whiteout_format == WH_FORMAT_OVERLAY && ufs_whiteout_device(u, dirfd, name) == 0)
		return WH_AT_NAME;
	return whiteout_create(dirfd, name, u->whiteout_format);
}

void ufs_tmpname(struct ufs *u, char *buf, size_t size)
{
	unsigned long n = (unsigned long)atomic_fetch_add(&u->tmp_counter, 1);

	snprintf(buf, size, "#uf%lu", n);
}
