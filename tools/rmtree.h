/* Removing a directory tree without following any symlink in it. */
#ifndef UNIONFUSE_RMTREE_H
#define UNIONFUSE_RMTREE_H

/* Remove NAME in DIRFD and everything below it. 0, or -errno
 * (ENOENT included: nothing was there). */
int rmtree_at(int dirfd, const char *name);

#endif
