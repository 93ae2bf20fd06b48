/* Layers: the directories a union is stacked from, and the only way the
 * library touches them — relative to a layer's root fd, never following a
 * symlink on the way (DESIGN section 5). */
#ifndef UNIONFUSE_LAYERS_H
#define UNIONFUSE_LAYERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum layer_role { LAYER_LOWER, LAYER_INIT, LAYER_UPPER };

struct layer {
	int fd;               /* O_PATH|O_DIRECTORY fd of the layer's root */
	char *path;           /* as given on the command line, for messages */
	char *abspath;        /* its realpath at setup: the daemon chdirs to / */
	dev_t dev;            /* st_dev of the root */
	unsigned char uuid[16]; /* its filesystem's UUID, as overlayfs puts it
				 * in a file handle (origin.c); zero if unknown */
	enum layer_role role;
};

/* Open PATH as a layer root; -errno if it is missing or not a directory. */
int layer_open(const char *path, enum layer_role role, struct layer *out);
void layer_close(struct layer *layer);
const char *layer_role_name(enum layer_role role);

/* openat2() below DIRFD with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS: no
 * symlink or ".." can lead out. RELPATH may be longer than PATH_MAX; it is
 * then walked in pieces. Returns an fd or -errno. */
int layer_openat(int dirfd, const char *relpath, int flags, mode_t mode);

/* What layer_openat falls back to where openat2 is missing (kernels before
 * 5.6, valgrind, seccomp filters): the same refusals, made one component
 * at a time with O_NOFOLLOW. */
int layer_openat_walk(int dirfd, const char *relpath, int flags, mode_t mode);

/* Open the directory RELPATH (O_PATH) below DIRFD; "." is DIRFD itself. */
int layer_open_dir(int dirfd, const char *relpath);

/* A path through /proc/self/fd naming the entry NAME of the directory fd
 * DIRFD, for the l*xattr calls, which have no *at form. It follows no
 * symlink in NAME. BUF must hold LAYER_PROC_PATH_MAX bytes. */
#define LAYER_PROC_PATH_MAX (32 + 256)
void layer_proc_path(int dirfd, const char *name, char *buf);

/* fchmodat(DIRFD, NAME, MODE, AT_SYMLINK_NOFOLLOW): 0 or -errno
 * (-EOPNOTSUPP for a symlink). */
int layer_chmod(int dirfd, const char *name, mode_t mode);

#endif
