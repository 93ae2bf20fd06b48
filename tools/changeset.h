/* An upper layer as an OCI layer changeset: the entries of the tar, in a
 * fixed order, with every whiteout and opaque marker in the `.wh.` form. */
#ifndef UNIONFUSE_CHANGESET_H
#define UNIONFUSE_CHANGESET_H

struct archive;

/* Write the tree below ROOTFD (an O_RDONLY directory fd of the upper
 * layer; ROOTPATH for messages) into A. Returns 0, or -errno after one
 * line on stderr naming the path and the cause. */
int changeset_write(int rootfd, const char *rootpath, struct archive *a);

#endif
