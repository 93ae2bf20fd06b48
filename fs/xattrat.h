/* Extended attributes of an entry named relative to a directory fd, as the
 * l*xattr calls give them for a path: the kernel's *xattrat calls (Linux
 * 6.13) where it has them, else the entry's /proc/self/fd name
 * (layer_proc_path), which costs three times more: a view built in a
 * directory marked as holding moved copies reads one origin per entry. */
#ifndef UNIONFUSE_XATTRAT_H
#define UNIONFUSE_XATTRAT_H

#include <stddef.h>
#include <sys/types.h>

/* lgetxattr, lsetxattr and llistxattr of the entry NAME of the directory
 * fd DIRFD ("." for DIRFD itself): what they return, with errno set on
 * -1. No symlink is followed in NAME, nor at its end. */
ssize_t xattrat_get(int dirfd, const char *name, const char *xname, void *value, size_t size);
int xattrat_set(int dirfd, const char *name, const char *xname, const void *value, size_t size,
		int flags);
ssize_t xattrat_list(int dirfd, const char *name, char *list, size_t size);

#endif
