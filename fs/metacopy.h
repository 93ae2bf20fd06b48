/* The metacopy mark, for readers of an upper layer outside a mount (commit):
 * the rest of metadata-only copy-up is the union's own (internal.h). */
#ifndef UNIONFUSE_METACOPY_H
#define UNIONFUSE_METACOPY_H

#include <stdbool.h>

/* Whether the file NAME in DIRFD holds only metadata, its data lying in a
 * lower layer (overlay.metacopy). */
bool metacopy_is_marked(int dirfd, const char *name);

#endif
