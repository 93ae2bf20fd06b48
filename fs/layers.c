/* Opening layer roots and resolving paths inside them safely. */
#include "layers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Beneath the layer root, no symlinks, and no other mounts: like overlayfs,
 * a layer is one directory tree of one filesystem, and a mount inside it
 * (this union's own mountpoint, say) is never entered. */
#define RESOLVE_SAFE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | \
		      RESOLVE_NO_XDEV)

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

static int openat2_safe(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (unsigned)flags | O_CLOEXEC,
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_SAFE,
	};
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

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
