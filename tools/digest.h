/* sha256 digests of blobs and layers, in the OCI form "sha256:<64 hex>". */
#ifndef UNIONFUSE_DIGEST_H
#define UNIONFUSE_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_STR_LEN (7 + 64 + 1)   /* "sha256:" + hex + NUL */

struct digest;

struct digest *digest_new(void);
void digest_update(struct digest *d, const void *buf, size_t len);
/* Writes "sha256:<hex>" into OUT (DIGEST_STR_LEN bytes) and frees D. */
void digest_finish(struct digest *d, char *out);
void digest_free(struct digest *d);

/* The digest and size of the file at PATH; -errno. */
int digest_file(const char *path, char *out, uint64_t *size);
/* The digest of BUF. */
void digest_buffer(const void *buf, size_t len, char *out);
/* True if S is "sha256:" followed by 64 lowercase hex digits. */
int digest_valid(const char *s);

#endif
