/* Mounting and unmounting the two sides. */
#ifndef DIFF_MOUNT_H
#define DIFF_MOUNT_H

#include <stdbool.h>

#include "util.h"

enum fs_kind {
	FS_KERNEL,      /* kernel overlayfs */
	FS_FUSE,        /* the binary under test: unionfuse, or fuse-overlayfs */
};

struct mount_req {
	enum fs_kind kind;
	const char *fuse_bin;   /* FS_FUSE: program taking -o lowerdir=... MNT */
	const char *lowers;     /* directory holding l0..l<n-1> */
	int nlower;
	const char *upper, *work, *mnt;
	const char *log;        /* FS_FUSE: file receiving the program's output */
	bool metacopy;          /* metacopy=on (kernel) / -o metacopy (FUSE) */
	bool evict_eagerly;     /* FUSE: -o evict_after=1 */
};

/* Mounts; on failure appends the reason to err and returns -1. */
int mount_side(const struct mount_req *req, struct strbuf *err);

/* Unmounts mnt, retrying while busy. Returns 0 or -errno. */
int unmount_side(const char *mnt);

/* Unmounts everything mounted under prefix (deepest first), aborting FUSE
 * connections first so that a hung daemon cannot hang the cleanup. */
void unmount_all_under(const char *prefix);

#endif
