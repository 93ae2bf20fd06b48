/* OCI image layouts, read side (image-spec image-layout.md): index.json
 * lists manifests, possibly through nested indexes (one per platform);
 * a manifest names a config and the layers, base first; every blob is a
 * file named by its sha256, checked before it is trusted. */
#include "oci.h"

#include "digest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

static int say(const char *what, const char *cause)
{
	fprintf(stderr, "unionfuse: %s: %s\n", what, cause);
	return -1;
}

int oci_split_ref(const char *ref, char **path, char **tag)
{
	const char *colon;
	struct stat st;

	*tag = NULL;
	/* The first colon that leaves an existing path before it: a tag may
	 * hold colons itself (docker's "name:tag"). */
	for (colon = strchr(ref, ':'); stat(ref, &st) < 0 && colon; colon = strchr(colon + 1, ':')) {
		char *head = strndup(ref, (size_t)(colon - ref));

		if (head && colon[1] && stat(head, &st) == 0) {
			*path = head;
			*tag = strdup(colon + 1);
			return *tag ? 0 : -ENOMEM;
		}
		free(head);
	}
	*path = strdup(ref);
	return *path ? 0 : -ENOMEM;
}

char *oci_blob_path(const char *dir, const char *digest)
{
	char *path;

	if (!digest || !digest_valid(digest)) {
		say(dir, digest ? "blob digest is not a sha256 digest" : "descriptor without a digest");
		return NULL;
	}
	if (asprintf(&path, "%s/blobs/sha256/%s", dir, digest + 7) < 0)
		return NULL;
	return path;
}

int oci_verify_blob(const char *path, const char *digest, int64_t size)
{
	char got[DIGEST_STR_LEN], msg[256];
	uint64_t got_size;
	int err = digest_file(path, got, &got_size);

	if (err)
		return say(path, strerror(-err));
	if (size >= 0 && (uint64_t)size != got_size) {
		snprintf(msg, sizeof(msg), "size %llu, but the descriptor says %lld",
			 (unsigned long long)got_size, (long long)size);
		return say(path, msg);
	}
	if (strcmp(got, digest) != 0) {
		snprintf(msg, sizeof(msg), "digest mismatch: expected %s, got %s", digest, got);
		return say(path, msg);
	}
	return 0;
}

json_t *oci_load_blob_json(const char *dir, const char *digest, int64_t size, const char *what)
{
	char *path = oci_blob_path(dir, digest);
	json_error_t jerr;
	json_t *j = NULL;

	if (!path)
		return NULL;
	if (oci_verify_blob(path, digest, size) == 0) {
		j = json_load_file(path, 0, &jerr);
		if (!j || !json_is_object(j)) {
			fprintf(stderr, "unionfuse: %s: %s is not valid JSON: %s\n", path, what,
				j ? "not an object" : jerr.text);
			json_decref(j);
			j = NULL;
		}
	}
	free(path);
	return j;
}

json_t *oci_load_index(const char *dir)
{
	char *path;
	json_error_t jerr;
	json_t *index;
	struct stat st;

	if (asprintf(&path, "%s/oci-layout", dir) < 0)
		return NULL;
	if (stat(path, &st) < 0) {
		say(dir, "not an OCI image layout (no oci-layout file)");
		free(path);
		return NULL;
	}
	free(path);
	if (asprintf(&path, "%s/index.json", dir) < 0)
		return NULL;
	index = json_load_file(path, 0, &jerr);
	if (!index || !json_is_array(json_object_get(index, "manifests"))) {
		fprintf(stderr, "unionfuse: %s: %s\n", path,
			index ? "no manifests array" : jerr.text);
		json_decref(index);
		index = NULL;
	}
	free(path);
	return index;
}

static const char *ref_name(json_t *desc)
{
	return json_string_value(json_object_get(json_object_get(desc, "annotations"), OCI_REF_NAME));
}

json_t *oci_select_manifest(const char *dir, json_t *index, const char *tag)
{
	json_t *list = json_object_get(index, "manifests"), *desc, *found = NULL;
	size_t i;

	json_array_foreach(list, i, desc) {
		const char *name = ref_name(desc);

		if (tag && name && strcmp(name, tag) == 0)
			found = desc;
	}
	if (tag && !found) {
		fprintf(stderr, "unionfuse: %s: no image tagged '%s'\n", dir, tag);
		return NULL;
	}
	if (!tag && json_array_size(list) != 1) {
		fprintf(stderr, "unionfuse: %s: %s; name one as %s:TAG\n", dir,
			json_array_size(list) ? "holds several images" : "holds no image", dir);
		return NULL;
	}
	return found ? found : json_array_get(list, 0);
}

static const char *host_arch(void)
{
	struct utsname u;

	uname(&u);
	if (!strcmp(u.machine, "x86_64"))
		return "amd64";
	if (!strcmp(u.machine, "aarch64"))
		return "arm64";
	return "";
}

/* In a nested index (a multi-platform image), this machine's manifest. */
static json_t *platform_manifest(const char *dir, json_t *nested)
{
	json_t *list = json_object_get(nested, "manifests"), *desc;
	size_t i;

	json_array_foreach(list, i, desc) {
		json_t *p = json_object_get(desc, "platform");
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *arch = json_string_value(json_object_get(p, "architecture"));

		if (!p || (os && arch && !strcmp(os, "linux") && !strcmp(arch, host_arch())))
			return desc;
	}
	say(dir, "the image has no manifest for linux on this machine's architecture");
	return NULL;
}

static int64_t desc_size(json_t *desc)
{
	json_t *size = json_object_get(desc, "size");

	return json_is_integer(size) ? json_integer_value(size) : -1;
}

/* DESC's manifest; through a nested index (one manifest per platform) to
 * this machine's one. The spec nests no deeper than that. */
static json_t *load_manifest(const char *dir, json_t *desc, int depth)
{
	json_t *blob = oci_load_blob_json(dir, json_string_value(json_object_get(desc, "digest")),
					  desc_size(desc), "manifest");
	json_t *inner, *manifest;

	if (!blob || !json_object_get(blob, "manifests"))
		return blob;
	inner = depth < 2 ? platform_manifest(dir, blob) : NULL;
	inner = inner ? json_deep_copy(inner) : NULL;
	json_decref(blob);
	if (!inner)
		return NULL;
	manifest = load_manifest(dir, inner, depth + 1);
	json_decref(inner);
	return manifest;
}

static int list_layers(const char *dir, struct oci_image *img)
{
	json_t *layers = json_object_get(img->manifest, "layers"), *l;
	size_t i;

	if (!json_is_array(layers))
		return say(dir, "manifest without a layers array");
	img->layers = calloc(json_array_size(layers) + 1, sizeof(*img->layers));
	if (!img->layers)
		return -1;
	json_array_foreach(layers, i, l) {
		struct oci_layer *ol = &img->layers[img->nlayers];
		const char *digest = json_string_value(json_object_get(l, "digest"));

		ol->path = oci_blob_path(dir, digest);
		if (!ol->path)
			return -1;
		ol->digest = strdup(digest);
		ol->size = desc_size(l);
		img->nlayers++;
	}
	return 0;
}

int oci_take_diffids(struct oci_image *img, const char *where)
{
	json_t *ids = json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
	int i;

	if (!json_is_array(ids) || json_array_size(ids) != (size_t)img->nlayers)
		return say(where, "config's rootfs.diff_ids do not match the layers");
	for (i = 0; i < img->nlayers; i++) {
		const char *id = json_string_value(json_array_get(ids, (size_t)i));

		if (!id || !digest_valid(id))
			return say(where, "config holds a diff_id that is not a sha256 digest");
		img->layers[i].diffid = strdup(id);
		if (!img->layers[i].diffid)
			return -1;
	}
	return 0;
}

int oci_open_desc(const char *dir, json_t *desc, struct oci_image *img)
{
	json_t *cfg;

	memset(img, 0, sizeof(*img));
	img->manifest = load_manifest(dir, desc, 0);
	if (!img->manifest)
		return -1;
	cfg = json_object_get(img->manifest, "config");
	img->config = oci_load_blob_json(dir, json_string_value(json_object_get(cfg, "digest")),
					 desc_size(cfg), "config");
	if (!img->config)
		return -1;
	if (list_layers(dir, img))
		return -1;
	return oci_take_diffids(img, dir);
}

int oci_open_image(const char *dir, const char *tag, struct oci_image *img)
{
	json_t *index = oci_load_index(dir), *desc;
	int err;

	memset(img, 0, sizeof(*img));
	if (!index)
		return -1;
	desc = oci_select_manifest(dir, index, tag);
	err = desc ? oci_open_desc(dir, desc, img) : -1;
	json_decref(index);
	return err;
}

void oci_image_free(struct oci_image *img)
{
	int i;

	for (i = 0; i < img->nlayers; i++) {
		free(img->layers[i].path);
		free(img->layers[i].digest);
		free(img->layers[i].diffid);
	}
	free(img->layers);
	json_decref(img->manifest);
	json_decref(img->config);
	memset(img, 0, sizeof(*img));
}
