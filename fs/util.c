/* Small filesystem helpers of the union library. */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int util_empty_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *dir;
	int err = 0;

	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		err = -errno;
		close(fd);
		return err;
	}
	while ((errno = 0, de = readdir(dir))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		err = util_remove_tree(fd, de->d_name);
		if (err)
			break;
	}
	if (!de && errno && !err)
		err = -errno;
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
		return -errno;
	err = util_empty_dir(fd);
	close(fd);
	if (err)
		return err;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
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
