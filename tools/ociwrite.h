/* Writing images: a committed layer appended to an OCI layout as a new
 * image version (blob, config, manifest, tagged index entry). */
#ifndef UNIONFUSE_OCIWRITE_H
#define UNIONFUSE_OCIWRITE_H

#include <stdbool.h>
#include <stdint.h>

/* Where commit writes a layer bound only for the image IMAGE (DIR[:TAG]):
 * a scratch file in its blob directory. NULL after a message. */
char *ociwrite_scratch_path(const char *image);

/* Add the layer file LAYER (DIFFID, DIGEST, SIZE) on top of the image
 * IMAGE (DIR or DIR:BASETAG) and tag the result TAG in DIR's index.json.
 * MOVE: LAYER is scratch, renamed into the blobs; otherwise copied.
 * Returns the exit status. */
int ociwrite_append_layer(const char *image, const char *tag, const char *layer, bool move,
			  bool gzip, const char *diffid, const char *digest, uint64_t size);

#endif
