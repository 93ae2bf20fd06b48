/* Writing a layer tar file that is the same bytes for the same content:
 * pax (restricted: ustar headers unless a field needs more), fixed block
 * size, gzip without name or timestamp. Hashes both the tar stream (the
 * diffID) and the file as written (the digest) while it goes out. */
#ifndef UNIONFUSE_LAYERFILE_H
#define UNIONFUSE_LAYERFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "digest.h"

struct archive;
struct layerfile;

/* Creates PATH (through PATH.tmp, renamed at the end). Returns 0 or -errno;
 * on error *WHY may say more (caller frees). */
int layerfile_create(const char *path, bool gzip, struct layerfile **out);
/* The archive to write entries to. */
struct archive *layerfile_archive(struct layerfile *lf);
/* Closes the archive, renames the file into place, reports its digests and
 * size; frees LF. With OK false (an error on the way) the file is removed. */
int layerfile_finish(struct layerfile *lf, bool ok, char *diffid, char *digest, uint64_t *size);

#endif
