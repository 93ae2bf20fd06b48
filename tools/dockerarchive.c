/* docker-archive: a tar holding manifest.json ([{Config, RepoTags,
 * Layers}]), the config and one tar per layer, in any order (manifest.json
 * usually last). Its files are spooled under our own names first; the
 * archive's names are only ever looked up, never used as paths. Layer
 * tars are checked against the config's diff_ids; the config against its
 * name (<sha256>.json or blobs/sha256/<sha256>). */
#include "dockerarchive.h"

#include "digest.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct spool {
	char **names;           /* member names, "./" stripped */
	char **links;           /* a symlink member's target; NULL for a file */
	int n, cap;
	const char *dir;
};

static int say(const char *what, const char *cause)
{
	fprintf(stderr, "unionfuse: %s: %s\n", what, cause);
	return -1;
}

static char *spooled_path(const struct spool *s, int i)
{
	char *p;

	return asprintf(&p, "%s/m%d", s->dir, i) < 0 ? NULL : p;
}

static int spool_grow(struct spool *s)
{
	char **n, **l;

	if (s->n < s->cap)
		return 0;
	s->cap = s->cap * 2 + 16;
	n = reallocarray(s->names, (size_t)s->cap, sizeof(char *));
	if (n)
		s->names = n;
	l = reallocarray(s->links, (size_t)s->cap, sizeof(char *));
	if (l)
		s->links = l;
	return n && l ? 0 : -1;
}

static const char *strip_dot(const char *name)
{
	while (name && name[0] == '.' && name[1] == '/')
		name += 2;
	return name;
}

/* docker save writes ID/layer.tar as a symlink to the layer's file. */
static int spool_link(struct spool *s, struct archive_entry *e)
{
	const char *target = archive_entry_symlink(e);

	if (spool_grow(s))
		return -1;
	s->names[s->n] = strdup(strip_dot(archive_entry_pathname(e)));
	s->links[s->n] = strdup(target ? target : "");
	if (!s->names[s->n] || !s->links[s->n])
		return -1;
	s->n++;
	return 0;
}

static int spool_member(struct spool *s, struct archive *a, struct archive_entry *e,
			const char *tarpath)
{
	const char *name = strip_dot(archive_entry_pathname(e));
	char *path;
	const void *buf;
	size_t size;
	la_int64_t off;
	int fd, r;

	if (spool_grow(s))
		return -1;
	s->names[s->n] = strdup(name ? name : "");
	s->links[s->n] = NULL;
	path = spooled_path(s, s->n);
	if (!s->names[s->n] || !path) {
		free(path);
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		say(path, strerror(errno));
		free(path);
		return -1;
	}
	s->n++;
	while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK)
		if (pwrite(fd, buf, size, off) != (ssize_t)size) {
			say(path, strerror(errno));
			r = ARCHIVE_FATAL;
			break;
		}
	if (r == ARCHIVE_EOF && ftruncate(fd, archive_entry_size(e)) < 0)
		r = ARCHIVE_FATAL;
	close(fd);
	free(path);
	if (r != ARCHIVE_EOF)
		return say(tarpath, archive_error_string(a) ? archive_error_string(a) : "read error");
	return 0;
}

static int spool_all(struct spool *s, const char *tarpath)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int r, err = 0;

	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, tarpath, 65536) != ARCHIVE_OK) {
		say(tarpath, archive_error_string(a));
		archive_read_free(a);
		return -1;
	}
	while (!err && (r = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN)
			err = say(tarpath, archive_error_string(a));
		else if (archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e))
			err = spool_member(s, a, e, tarpath);
		else if (archive_entry_filetype(e) == AE_IFLNK)
			err = spool_link(s, e);
	}
	archive_read_free(a);
	return err;
}

/* TARGET of a symlink member FROM, as a member name: "a/b" + "../c" → "c". */
static char *link_target(const char *from, const char *target)
{
	char *joined, *out, *save = NULL, *c;
	const char *slash = strrchr(from, '/');
	size_t len = 0;

	if (asprintf(&joined, "%.*s/%s", slash ? (int)(slash - from) : 0, from, target) < 0)
		return NULL;
	out = calloc(strlen(joined) + 1, 1);
	for (c = strtok_r(joined, "/", &save); out && c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			while (len > 0 && out[--len] != '/')
				;
			out[len] = '\0';
			continue;
		}
		len += (size_t)sprintf(out + len, "%s%s", len ? "/" : "", c);
	}
	free(joined);
	return out;
}

/* The spooled copy of member NAME, through symlink members; NULL after a
 * message. */
static char *member(const struct spool *s, const char *name, const char *tarpath)
{
	char *resolved = NULL, *path = NULL;
	int i, hops;

	name = strip_dot(name);
	for (hops = 0; name && hops < 8 && !path; hops++) {
		for (i = s->n - 1; i >= 0 && strcmp(s->names[i], name); i--)
			;
		if (i < 0)
			break;
		if (!s->links[i]) {
			path = spooled_path(s, i);
			break;
		}
		free(resolved);
		name = resolved = link_target(s->names[i], s->links[i]);
	}
	if (!path)
		fprintf(stderr, "unionfuse: %s: no member '%s'\n", tarpath, name ? name : "(null)");
	free(resolved);
	return path;
}

/* "sha256:<hex>" when NAME is "<hex>.json", "<hex>.tar" or "blobs/sha256/<hex>". */
static char *digest_from_name(const char *name)
{
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	char *d;

	if (asprintf(&d, "sha256:%.64s", base) < 0)
		return NULL;
	if (!digest_valid(d) || (base[64] && strcmp(base + 64, ".json") && strcmp(base + 64, ".tar"))) {
		free(d);
		return NULL;
	}
	return d;
}

static bool tag_matches(json_t *entry, const char *tag)
{
	json_t *tags = json_object_get(entry, "RepoTags"), *t;
	size_t i;

	json_array_foreach(tags, i, t) {
		const char *s = json_string_value(t), *colon = s ? strrchr(s, ':') : NULL;

		if (s && (!strcmp(s, tag) || (colon && !strcmp(colon + 1, tag))))
			return true;
	}
	return false;
}

static json_t *pick_image(json_t *list, const char *tag, const char *tarpath)
{
	json_t *entry;
	size_t i;

	if (!json_is_array(list))
		return say(tarpath, "manifest.json is not a list of images"), NULL;
	if (!tag && json_array_size(list) == 1)
		return json_array_get(list, 0);
	if (!tag)
		return say(tarpath, json_array_size(list) ? "holds several images; name one as FILE:TAG"
							  : "holds no image"), NULL;
	json_array_foreach(list, i, entry)
		if (tag_matches(entry, tag))
			return entry;
	fprintf(stderr, "unionfuse: %s: no image tagged '%s'\n", tarpath, tag);
	return NULL;
}

static int load_config(const struct spool *s, json_t *entry, const char *tarpath,
		       struct oci_image *img)
{
	const char *name = json_string_value(json_object_get(entry, "Config"));
	char *path = member(s, name, tarpath), *digest = name ? digest_from_name(name) : NULL;
	json_error_t jerr;
	int err = 0;

	if (!path)
		err = -1;
	else if (digest)
		err = oci_verify_blob(path, digest, -1);
	if (!err) {
		img->config = json_load_file(path, 0, &jerr);
		if (!img->config)
			err = say(path, jerr.text);
	}
	free(digest);
	free(path);
	return err;
}

static int list_layers(const struct spool *s, json_t *entry, const char *tarpath,
		       struct oci_image *img)
{
	json_t *layers = json_object_get(entry, "Layers"), *l;
	size_t i;

	if (!json_is_array(layers))
		return say(tarpath, "manifest.json entry without Layers");
	img->layers = calloc(json_array_size(layers) + 1, sizeof(*img->layers));
	if (!img->layers)
		return -1;
	json_array_foreach(layers, i, l) {
		struct oci_layer *ol = &img->layers[img->nlayers];

		ol->path = member(s, json_string_value(l), tarpath);
		if (!ol->path)
			return -1;
		ol->digest = digest_from_name(json_string_value(l));
		ol->size = -1;
		img->nlayers++;
	}
	return oci_take_diffids(img, tarpath);
}

int dockerarchive_open(const char *path, const char *tag, const char *scratch,
		       struct oci_image *img)
{
	struct spool s = { .dir = scratch };
	json_error_t jerr;
	json_t *list = NULL, *entry;
	char *mpath;
	int err, i;

	memset(img, 0, sizeof(*img));
	err = spool_all(&s, path);
	mpath = err ? NULL : member(&s, "manifest.json", path);
	if (mpath) {
		list = json_load_file(mpath, 0, &jerr);
		if (!list)
			say(mpath, jerr.text);
	}
	entry = list ? pick_image(list, tag, path) : NULL;
	err = entry ? 0 : -1;
	if (!err) {
		img->manifest = json_incref(entry);
		err = load_config(&s, entry, path, img);
	}
	if (!err)
		err = list_layers(&s, entry, path, img);
	json_decref(list);
	free(mpath);
	for (i = 0; i < s.n; i++) {
		free(s.names[i]);
		free(s.links[i]);
	}
	free(s.names);
	free(s.links);
	return err;
}
