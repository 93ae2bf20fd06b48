/* Reading one directory in each of its layers, several layers at once.
 *
 * A directory's merged view needs the entries and markers of the directory
 * in every layer it spans. Read one after the other, a 64-layer directory
 * waits for 64 disk reads in a row when the cache is cold; read by a few
 * threads at once, the disk serves them together. The merge itself stays
 * in layer order, in lookup.c: this file only reads. */
#ifndef UNIONFUSE_LAYERSCAN_H
#define UNIONFUSE_LAYERSCAN_H

#include "whiteout.h"

#include <dirent.h>
#include <stddef.h>

struct layer_scan {
	int fd;                   /* the directory, O_RDONLY, kept while an entry
				   * may need a stat through it (whiteout_may_hide_in);
				   * else -1 */
	int err;                  /* 0, or -errno of the open or the read */
	struct wh_dirinfo info;   /* its markers */
	char *ents;               /* its entries, as getdents64 returns them */
	size_t len;
};

/* Helper threads that read layers for any directory being merged: started
 * on first need, joined by layer_scan_pool_free. They take over the layers
 * left of a directory once one layer took longer than SLOW_NS to read:
 * that was the disk (a cached directory reads in a few microseconds), and
 * handing out cached layers costs more in wakeups than it saves. */
#define LAYER_SCAN_SLOW_NS 50000
struct layer_scan_pool;
struct layer_scan_pool *layer_scan_pool_new(long long slow_ns);
void layer_scan_pool_free(struct layer_scan_pool *pool);

/* Read directory PATHS[i] below layer root LAYERFDS[i] into SCANS[i], for
 * each i < N, with the pool's help. Never fails as a whole: each scan
 * carries its own error. */
void layer_scan_all(struct layer_scan_pool *pool, struct layer_scan *scans,
		    const int *layerfds, char *const *paths, size_t n);
void layer_scan_one(struct layer_scan *scan, int layerfd, const char *path);
void layer_scan_release(struct layer_scan *scan);

/* Walk the entries of SCAN: *POS starts at 0; NULL at the end. */
struct dirent64 *layer_scan_next(const struct layer_scan *scan, size_t *pos);

#endif
