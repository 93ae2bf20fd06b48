/* Filesystem helpers of the union library that the tools use too. */
#ifndef UNIONFUSE_UTIL_H
#define UNIONFUSE_UTIL_H

/* Remove NAME in DIRFD and, if it is a directory, everything below it,
 * following no symlink: what is removed may hold hostile links. 0 or -errno
 * (a NAME already gone is 0). */
int util_remove_tree(int dirfd, const char *name);
/* Empty the directory DIRFD. */
int util_empty_dir(int dirfd);

#endif
