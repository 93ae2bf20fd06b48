/* Unpacking one layer archive (tar, tar+gzip, tar+zstd, ...) into a
 * directory, refusing anything that would write outside it. */
#ifndef UNIONFUSE_UNPACK_H
#define UNIONFUSE_UNPACK_H

#include <stdbool.h>

struct unpack_opts {
	bool overlay_whiteouts;   /* .wh.NAME → char 0/0, .wh..wh..opq → overlay.opaque=y */
	bool set_owner;           /* chown entries to their uid/gid (root only) */
};

/* Unpack the archive at PATH into the directory DESTFD (DESTPATH for
 * messages). Returns 0, or -1 after one line naming the entry and the
 * cause; whatever was written stays below DESTFD for the caller to remove. */
int unpack_layer(const char *path, int destfd, const char *destpath, const struct unpack_opts *o);

#endif
