/* Opening layer roots and resolving paths inside them safely. */
#include "layers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Beneath the layer root, no symlinks, and no other mounts: like overlayfs,
 * a layer is one directory tree of one filesystem, and a mount inside it
 * (this union's own mountpoint, say) is never entered. */
#define RESOLVE_SAFE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | \
		      RESOLVE_NO_XDEV)

/* FS_IOC_GETFSUUID (Linux 6.5), which the Debian 12 headers lack. */
struct layer_fsuuid {
	uint8_t len;
	uint8_t uuid[16];
};
#define LAYER_IOC_GETFSUUID _IOR(0x15, 0, struct layer_fsuuid)

/* The UUID of the filesystem holding the directory FD (O_PATH): left zero
 * where the kernel does not tell it (before 6.5, or a filesystem without
 * one), and then no origin written will name it. */
static void layer_read_uuid(int fd, unsigned char uuid[16])
{
	struct layer_fsuuid got = { .len = 16 };
	int rfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	memset(uuid, 0, 16);
	if (rfd < 0)
		return;
	if (ioctl(rfd, LAYER_IOC_GETFSUUID, &got) == 0 && got.len == 16)
		memcpy(uuid, got.uuid, 16);
	close(rfd);
}

int layer_open(const char *path, enum layer_role role, struct layer *out)
{
	struct stat st;
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	out->path = strdup(path);
	/* What the union tells about itself (user.unionfuse.layers) must
	 * still name the layer once the daemon has left its cwd. */
	out->abspath = realpath(path, NULL);
	if (!out->abspath && errno != ENOMEM)
		out->abspath = strdup(path);
	if (!out->path || !out->abspath) {
		free(out->path);
		free(out->abspath);
		out->path = out->abspath = NULL;
		close(fd);
		return -ENOMEM;
	}
	out->fd = fd;
	out->dev = st.st_dev;
	out->role = role;
	layer_read_uuid(fd, out->uuid);
	return 0;
}

void layer_close(struct layer *layer)
{
	if (layer->fd >= 0)
		close(layer->fd);
	layer->fd = -1;
	free(layer->path);
	free(layer->abspath);
	layer->path = layer->abspath = NULL;
}

const char *layer_role_name(enum layer_role role)
{
	switch (role) {
	case LAYER_LOWER: return "lower";
	case LAYER_INIT: return "init";
	case LAYER_UPPER: return "upper";
	}
	return "?";
}

/* Set once openat2 is found missing: kernels before 5.6, valgrind, seccomp
 * filters that do not know it. */
static atomic_bool no_openat2;

/* Open one component NAME of a walk in DIRFD, as RESOLVE_SAFE would: ".."
 * leaves the layer, a symlink is not followed (ELOOP, unless O_PATH with
 * O_NOFOLLOW asks for the link itself), and another device is a mount
 * crossed (EXDEV). */
static int walk_step(int dirfd, const char *name, int flags, mode_t mode, dev_t dev)
{
	struct stat st;
	int fd;

	if (strcmp(name, "..") == 0)
		return -EXDEV;
	fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		int err = errno;

		/* O_DIRECTORY on a symlink says ENOTDIR; openat2 says ELOOP. */
		if (err == ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			err = ELOOP;
		return -err;
	}
	if (fstat(fd, &st) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	if (st.st_dev != dev) {
		close(fd);
		return -EXDEV;
	}
	return fd;
}

int layer_openat_walk(int dirfd, const char *path, int flags, mode_t mode)
{
	char *copy = strdup(path), *comp, *slash;
	int cur = dirfd, fd = 0;
	struct stat root;

	if (!copy)
		return -ENOMEM;
	if (fstat(dirfd, &root) < 0) {
		free(copy);
		return -errno;
	}
	for (comp = copy; (slash = strchr(comp, '/')) && fd >= 0; comp = slash + 1) {
		*slash = '\0';
		if (*comp == '\0' || strcmp(comp, ".") == 0)
			continue;
		fd = walk_step(cur, comp, O_PATH | O_DIRECTORY, 0, root.st_dev);
		if (cur != dirfd)
			close(cur);
		cur = fd;
	}
	if (fd >= 0)
		fd = walk_step(cur, comp, flags, (flags & (O_CREAT | O_TMPFILE)) ? mode : 0, root.st_dev);
	if (cur != dirfd && cur >= 0)
		close(cur);
	free(copy);
	return fd;
}

static int openat2_safe(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (unsigned)flags | O_CLOEXEC,
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_SAFE,
	};
	long fd;

	if (atomic_load(&no_openat2))
		return layer_openat_walk(dirfd, path, flags, mode);
	fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS) {
		atomic_store(&no_openat2, true);
		return layer_openat_walk(dirfd, path, flags, mode);
	}
	return fd < 0 ? -errno : (int)fd;
}

/* Where to cut RELPATH so that the head is below PATH_MAX: the last '/'
 * before the limit. 0 if the path needs no cut or cannot be cut. */
static size_t long_path_cut(const char *relpath)
{
	size_t len = strlen(relpath);
	size_t cut;

	if (len < PATH_MAX - 1)
		return 0;
	for (cut = PATH_MAX - 2; cut > 0 && relpath[cut] != '/'; cut--)
		;
	return cut;
}

int layer_openat(int dirfd, const char *relpath, int flags, mode_t mode)
{
	size_t cut = long_path_cut(relpath);
	char *head;
	int headfd, fd;

	if (cut == 0)
		return openat2_safe(dirfd, relpath, flags, mode);
	head = strndup(relpath, cut);
	if (!head)
		return -ENOMEM;
	headfd = openat2_safe(dirfd, head, O_PATH | O_DIRECTORY, 0);
	free(head);
	if (headfd < 0)
		return headfd;
	fd = layer_openat(headfd, relpath + cut + 1, flags, mode);
	close(headfd);
	return fd;
}

int layer_open_dir(int dirfd, const char *relpath)
{
	return layer_openat(dirfd, relpath, O_PATH | O_DIRECTORY, 0);
}

void layer_proc_path(int dirfd, const char *name, char *buf)
{
	/* The trailing "/." makes the l*xattr calls act on the directory,
	 * not on the /proc link itself. */
	if (strcmp(name, ".") == 0)
		snprintf(buf, LAYER_PROC_PATH_MAX, "/proc/self/fd/%d/.", dirfd);
	else
		snprintf(buf, LAYER_PROC_PATH_MAX, "/proc/self/fd/%d/%s", dirfd, name);
}

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* one number on every architecture (Linux 6.6) */
#endif

int layer_chmod(int dirfd, const char *name, mode_t mode)
{
	static atomic_bool no_fchmodat2;

	/* glibc before 2.39 does fchmodat(AT_SYMLINK_NOFOLLOW) itself, in four
	 * calls (an O_PATH open, fstat, chmod of its /proc/self/fd link,
	 * close); the kernel's fchmodat2 does it in one. */
	if (!atomic_load_explicit(&no_fchmodat2, memory_order_relaxed)) {
		if (syscall(SYS_fchmodat2, dirfd, name, mode, AT_SYMLINK_NOFOLLOW) == 0)
			return 0;
		if (errno != ENOSYS)
			return -errno;
		atomic_store_explicit(&no_fchmodat2, true, memory_order_relaxed);
	}
	return fchmodat(dirfd, name, mode, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}
