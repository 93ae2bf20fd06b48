/* Reading images: OCI image layouts (index.json, manifests, configs, blobs
 * named by digest) into one list of layers, base first. */
#ifndef UNIONFUSE_OCI_H
#define UNIONFUSE_OCI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define OCI_REF_NAME "org.opencontainers.image.ref.name"
#define OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"

struct oci_layer {
	char *path;        /* the blob as a file */
	char *digest;      /* "sha256:..." of the file; NULL when nothing names it */
	int64_t size;      /* as the manifest says; -1 if unknown */
	char *diffid;      /* "sha256:..." of the uncompressed tar; NULL if unknown */
};

struct oci_image {
	struct oci_layer *layers;   /* base first */
	int nlayers;
	json_t *manifest, *config;
};

/* "DIR:TAG" → DIR and TAG when DIR names something that exists and REF
 * itself does not; otherwise REF and no tag. Caller frees both. */
int oci_split_ref(const char *ref, char **path, char **tag);
/* DIR/blobs/ALG/HEX for a valid DIGEST; NULL (after a message) otherwise. */
char *oci_blob_path(const char *dir, const char *digest);
/* Read the blob DIGEST of DIR, check its size (SIZE >= 0) and digest,
 * parse it as JSON. WHAT names it in messages. NULL after one line. */
json_t *oci_load_blob_json(const char *dir, const char *digest, int64_t size, const char *what);
/* Check a blob file against its digest and size; 0 or -1 after a message. */
int oci_verify_blob(const char *path, const char *digest, int64_t size);
/* The manifest descriptor of DIR's index.json that TAG names (the only
 * one when TAG is NULL). Borrowed from INDEX. NULL after a message. */
json_t *oci_select_manifest(const char *dir, json_t *index, const char *tag);
/* Load DIR/index.json; NULL after a message. */
json_t *oci_load_index(const char *dir);
/* An OCI layout's image: manifest and config read and verified, the
 * layers listed (their blobs are verified by whoever unpacks them). */
int oci_open_image(const char *dir, const char *tag, struct oci_image *img);
/* The same from a manifest descriptor of DIR's index. */
int oci_open_desc(const char *dir, json_t *desc, struct oci_image *img);
/* Fill IMG's diff IDs from its config (rootfs.diff_ids). */
int oci_take_diffids(struct oci_image *img, const char *where);
void oci_image_free(struct oci_image *img);

#endif
