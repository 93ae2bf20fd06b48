/* Cleaning up a half-unpacked layer or a stale init layer: what is removed
 * may hold hostile symlinks, so every step is an *at call on an fd. */
#include "rmtree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Passes until one finds nothing left: removing names while reading the
 * directory may make readdir skip some. */
static int empty_dir(int fd)
{
	struct dirent *de;
	DIR *d = fdopendir(fd);
	int err = 0, removed = 1;

	if (!d) {
		close(fd);
		return -errno;
	}
	while (!err && removed) {
		removed = 0;
		rewinddir(d);
		while (!err && (de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			err = rmtree_at(dirfd(d), de->d_name);
			if (err == -ENOENT)
				err = 0;
			else if (!err)
				removed++;
		}
	}
	closedir(d);
	return err;
}

int rmtree_at(int dirfd, const char *name)
{
	int fd, err;

	if (unlinkat(dirfd, name, 0) == 0)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* A directory left without write permission by an archive. */
	fchmod(fd, 0700);
	err = empty_dir(fd);
	if (err)
		return err;
	return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}
