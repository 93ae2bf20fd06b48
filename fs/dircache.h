/* The directory fd cache: O_PATH fds of a merged directory in one layer,
 * so that an operation on an entry does not walk the path to its parent
 * again. Bounded (least recently used goes first), and an fd in use is
 * never closed under its user. */
#ifndef UNIONFUSE_DIRCACHE_H
#define UNIONFUSE_DIRCACHE_H

#include <stddef.h>
#include <stdint.h>

struct dircache;
struct dircache_entry;

struct dircache *dircache_new(size_t capacity);
void dircache_free(struct dircache *dc);

/* The cached fd of directory ID in LAYER, pinned; NULL if not cached. */
struct dircache_entry *dircache_get(struct dircache *dc, uint64_t id, int layer, int *fd);
/* Cache FD (taking it over) for ID in LAYER, pinned. NULL: not cached, the
 * caller keeps FD. */
struct dircache_entry *dircache_add(struct dircache *dc, uint64_t id, int layer, int fd);
void dircache_put(struct dircache *dc, struct dircache_entry *e);

#endif
