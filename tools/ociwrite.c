/* commit --image: the new image shares every blob of its base and adds
 * three: the layer, a config whose rootfs.diff_ids and history grow by
 * one, and a manifest listing the layer last. index.json is rewritten
 * through a temporary file and rename, so a reader sees the old index or
 * the new one; the tag moves to the new manifest. Blobs are written before
 * the index names them. */
#include "ociwrite.h"

#include "digest.h"
#include "oci.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int say(const char *what, const char *cause)
{
	fprintf(stderr, "unionfuse: %s: %s\n", what, cause);
	return 1;
}

char *ociwrite_scratch_path(const char *image)
{
	char *dir, *tag, *path = NULL;

	if (oci_split_ref(image, &dir, &tag))
		return NULL;
	if (asprintf(&path, "%s/blobs/sha256/.unionfuse-commit-%ld.tmp", dir, (long)getpid()) < 0)
		path = NULL;
	free(dir);
	free(tag);
	return path;
}

static int write_file(const char *path, const char *data, size_t len)
{
	char *tmp;
	int fd, err = 0;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return 1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) < 0)
		err = say(tmp, strerror(errno));
	if (fd >= 0 && close(fd) < 0 && !err)
		err = say(tmp, strerror(errno));
	if (!err && rename(tmp, path) < 0)
		err = say(path, strerror(errno));
	if (err)
		unlink(tmp);
	free(tmp);
	return err;
}

/* Store JSON as a blob; fills its descriptor's digest and size. */
static int put_json_blob(const char *dir, json_t *j, char *digest, size_t *size)
{
	char *text = json_dumps(j, JSON_COMPACT), *path;
	int err;

	if (!text)
		return say(dir, "cannot serialise JSON");
	*size = strlen(text);
	digest_buffer(text, *size, digest);
	path = oci_blob_path(dir, digest);
	err = path ? write_file(path, text, *size) : 1;
	free(path);
	free(text);
	return err;
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY | O_CLOEXEC), out, err = 0;

	if (in < 0)
		return say(from, strerror(errno));
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		close(in);
		return say(to, strerror(errno));
	}
	while (!err && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			err = say(to, strerror(errno));
	if (n < 0)
		err = say(from, strerror(errno));
	if (fsync(out) < 0 || close(out) < 0)
		err = err ?: say(to, strerror(errno));
	close(in);
	return err;
}

static int put_layer_blob(const char *dir, const char *layer, bool move, const char *digest)
{
	char *path = oci_blob_path(dir, digest), *tmp = NULL;
	int err;

	if (!path)
		return 1;
	if (move) {
		err = rename(layer, path) < 0 ? say(path, strerror(errno)) : 0;
	} else if (asprintf(&tmp, "%s.tmp", path) < 0) {
		err = 1;
	} else {
		err = copy_file(layer, tmp);
		if (!err && rename(tmp, path) < 0)
			err = say(path, strerror(errno));
		if (err)
			unlink(tmp);
	}
	free(tmp);
	free(path);
	return err;
}

static char *timestamp(void)
{
	const char *epoch = getenv("SOURCE_DATE_EPOCH");
	time_t t = epoch ? (time_t)strtoll(epoch, NULL, 10) : time(NULL);
	char buf[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return strdup(buf);
}

static json_t *new_config(json_t *base, const char *diffid, const char *tag)
{
	json_t *cfg = json_deep_copy(base), *rootfs, *ids, *history;
	char *now = timestamp();
	char *what = NULL;

	if (!cfg || !now || asprintf(&what, "unionfuse commit (tag %s)", tag) < 0)
		goto fail;
	rootfs = json_object_get(cfg, "rootfs");
	if (!json_is_object(rootfs)) {
		rootfs = json_pack("{s:s, s:[]}", "type", "layers", "diff_ids");
		json_object_set_new(cfg, "rootfs", rootfs);
	}
	ids = json_object_get(rootfs, "diff_ids");
	history = json_object_get(cfg, "history");
	if (!json_is_array(history)) {
		history = json_array();
		json_object_set_new(cfg, "history", history);
	}
	if (!json_is_array(ids) || json_array_append_new(ids, json_string(diffid)) ||
	    json_array_append_new(history, json_pack("{s:s, s:s}", "created", now, "created_by", what)) ||
	    json_object_set_new(cfg, "created", json_string(now)))
		goto fail;
	free(now);
	free(what);
	return cfg;
fail:
	free(now);
	free(what);
	json_decref(cfg);
	return NULL;
}

static const char *layer_media_type(json_t *manifest, bool gzip)
{
	const char *mt = json_string_value(json_object_get(manifest, "mediaType"));

	if (mt && strstr(mt, "docker"))
		return gzip ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
			    : "application/vnd.docker.image.rootfs.diff.tar";
	return gzip ? "application/vnd.oci.image.layer.v1.tar+gzip"
		    : "application/vnd.oci.image.layer.v1.tar";
}

static json_t *new_manifest(json_t *base, const char *cfg_digest, size_t cfg_size, bool gzip,
			    const char *digest, uint64_t size)
{
	json_t *m = json_deep_copy(base), *cfg, *layers;

	if (!m)
		return NULL;
	cfg = json_object_get(m, "config");
	layers = json_object_get(m, "layers");
	if (!json_is_object(cfg) || !json_is_array(layers) ||
	    json_object_set_new(cfg, "digest", json_string(cfg_digest)) ||
	    json_object_set_new(cfg, "size", json_integer((json_int_t)cfg_size)) ||
	    json_array_append_new(layers, json_pack("{s:s, s:s, s:I}",
						    "mediaType", layer_media_type(m, gzip),
						    "digest", digest, "size", (json_int_t)size))) {
		json_decref(m);
		return NULL;
	}
	return m;
}

/* The tag leaves whatever manifest had it and names the new one. */
static int retag(json_t *index, json_t *base_desc, const char *digest, size_t size, const char *tag)
{
	json_t *list = json_object_get(index, "manifests"), *desc, *d;
	size_t i;

	json_array_foreach(list, i, d) {
		json_t *ann = json_object_get(d, "annotations");
		const char *name = json_string_value(json_object_get(ann, OCI_REF_NAME));

		if (name && !strcmp(name, tag)) {
			json_object_del(ann, OCI_REF_NAME);
			if (json_object_size(ann) == 0)
				json_object_del(d, "annotations");
		}
	}
	desc = json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType", OCI_MT_MANIFEST, "digest", digest,
			 "size", (json_int_t)size, "annotations", OCI_REF_NAME, tag);
	if (!desc)
		return 1;
	if (json_object_get(base_desc, "platform"))
		json_object_set(desc, "platform", json_object_get(base_desc, "platform"));
	return json_array_append_new(list, desc) ? 1 : 0;
}

static int write_index(const char *dir, json_t *index)
{
	char *text = json_dumps(index, JSON_COMPACT), *path;
	int err;

	if (!text || asprintf(&path, "%s/index.json", dir) < 0) {
		free(text);
		return 1;
	}
	err = write_file(path, text, strlen(text));
	free(path);
	free(text);
	return err;
}

/* The image to build on: BASETAG's; else the current TAG's, so commits
 * stack up as versions; else the only image of the layout. */
static json_t *base_descriptor(const char *dir, json_t *index, const char *basetag, const char *tag)
{
	json_t *d;
	size_t i;

	if (basetag)
		return oci_select_manifest(dir, index, basetag);
	json_array_foreach(json_object_get(index, "manifests"), i, d) {
		const char *name = json_string_value(json_object_get(json_object_get(d, "annotations"),
								     OCI_REF_NAME));

		if (name && !strcmp(name, tag))
			return d;
	}
	return oci_select_manifest(dir, index, NULL);
}

static int append(const char *dir, const char *basetag, const char *tag, const char *layer,
		  bool move, bool gzip, const char *diffid, const char *digest, uint64_t size)
{
	struct oci_image base;
	json_t *index = oci_load_index(dir), *desc, *cfg = NULL, *man = NULL;
	char cfg_digest[DIGEST_STR_LEN], man_digest[DIGEST_STR_LEN];
	size_t cfg_size, man_size;
	int err = 1;

	memset(&base, 0, sizeof(base));
	desc = index ? base_descriptor(dir, index, basetag, tag) : NULL;
	if (!desc || oci_open_desc(dir, desc, &base))
		goto out;
	if (json_object_get(desc, "mediaType") &&
	    strcmp(json_string_value(json_object_get(desc, "mediaType")), OCI_MT_MANIFEST)) {
		say(dir, "the base image is not a single-platform OCI manifest");
		goto out;
	}
	cfg = new_config(base.config, diffid, tag);
	if (!cfg || put_layer_blob(dir, layer, move, digest) ||
	    put_json_blob(dir, cfg, cfg_digest, &cfg_size))
		goto out;
	man = new_manifest(base.manifest, cfg_digest, cfg_size, gzip, digest, size);
	if (!man || put_json_blob(dir, man, man_digest, &man_size) ||
	    retag(index, desc, man_digest, man_size, tag) || write_index(dir, index))
		goto out;
	printf("image: %s:%s\nmanifest: %s\n", dir, tag, man_digest);
	err = 0;
out:
	if (err && move)
		unlink(layer);
	json_decref(man);
	json_decref(cfg);
	json_decref(index);
	oci_image_free(&base);
	return err;
}

int ociwrite_append_layer(const char *image, const char *tag, const char *layer, bool move,
			  bool gzip, const char *diffid, const char *digest, uint64_t size)
{
	char *dir, *basetag;
	int err;

	if (oci_split_ref(image, &dir, &basetag))
		return 1;
	err = append(dir, basetag, tag, layer, move, gzip, diffid, digest, size);
	free(dir);
	free(basetag);
	return err;
}
