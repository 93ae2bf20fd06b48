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

bool ufs_is_upper(const struct ufs *u, int layer)
{
	return u->upper >= 0 && layer == u->upper;
}

void ufs_tmpname(struct ufs *u, char *buf, size_t size)
{
	unsigned long n = (unsigned long)atomic_fetch_add(&u->tmp_counter, 1);

	snprintf(buf, size, "#uf%lu", n);
}
