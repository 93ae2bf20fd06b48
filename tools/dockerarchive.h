/* Reading `docker save` / `podman save` tarballs (docker-archive). */
#ifndef UNIONFUSE_DOCKERARCHIVE_H
#define UNIONFUSE_DOCKERARCHIVE_H

#include "oci.h"

/* Copy the files of the tarball PATH into the directory SCRATCH (made by
 * the caller, removed by the caller) and describe the image TAG names (the
 * only one when TAG is NULL): config verified, layers listed with their
 * diff IDs. Returns 0 or -1 after one message. */
int dockerarchive_open(const char *path, const char *tag, const char *scratch,
		       struct oci_image *img);

#endif
