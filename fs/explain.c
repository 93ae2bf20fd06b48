/* The virtual xattrs of explain.h: the stack of a running union and the
 * daemon's own view of one entry, formatted for `unionfuse layers` and
 * `unionfuse explain`. */
#include "explain.h"

#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool explain_is_virtual_xattr(const char *name)
{
	return strncmp(name, EXPLAIN_XATTR_PREFIX, sizeof(EXPLAIN_XATTR_PREFIX) - 1) == 0;
}

/* A path on one line: newline and backslash escaped. */
static void put_path(FILE *f, const char *path)
{
	for (; *path; path++) {
		if (*path == '\n')
			fputs("\\n", f);
		else if (*path == '\\')
			fputs("\\\\", f);
		else
			fputc(*path, f);
	}
}

static const char *layer_role_word(const struct ufs *u, int layer)
{
	if (layer == u->nlayers - 1)
		return "base";
	return layer_role_name(u->layers[layer].role);
}

static void put_layers(struct ufs *u, FILE *f)
{
	int i;

	for (i = 0; i < u->nlayers; i++) {
		fprintf(f, "%d %s ", u->nlayers - 1 - i, layer_role_word(u, i));
		put_path(f, u->layers[i].abspath);
		fputc('\n', f);
	}
	if (u->work_path) {
		fputs("work ", f);
		put_path(f, u->work_path);
		fputc('\n', f);
	}
	fprintf(f, "option whiteout=%s\n",
		u->whiteout_format == WH_FORMAT_AUFS ? "aufs" : "overlay");
}

const char *explain_type_word(mode_t type)
{
	if ((type & S_IFMT) == 0)
		return "none";
	switch (type & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "directory";
	case S_IFLNK: return "symlink";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	case S_IFCHR: return "char device";
	case S_IFBLK: return "block device";
	}
	return "other";
}

static const char *yes_no(bool b)
{
	return b ? "yes" : "no";
}

/* The layer whose opaque marker ended DIR's layers, or -1: the bottom one
 * of them, if it is opaque. The root merges every layer, opaque or not. */
static int opaque_layer(struct ufs *u, struct node *dir)
{
	struct wh_dirinfo info;
	struct at self;
	int last;

	if (dir == u->root || dir->ndl == 0)
		return -1;
	last = dir->dl[dir->ndl - 1];
	if (at_open_self(u, dir, last, &self))
		return -1;
	if (whiteout_dir_info(self.dirfd, &info))
		info.opaque = false;
	else
		free(info.redirect);
	at_close(u, &self);
	return info.opaque ? last : -1;
}

/* Directory lines of the origin. [tree] */
static int put_dir_origin(struct ufs *u, struct node *dir, FILE *f)
{
	char name[TRACE_LAYER_MAX];
	int err = ufs_layers_final(u, dir), opaque;
	uint16_t i;

	if (err)
		return err;
	fputs("layers=", f);
	for (i = 0; i < dir->ndl; i++)
		fprintf(f, "%s%s", i ? ", " : "", trace_layer(u, dir->dl[i], name));
	fputc('\n', f);
	opaque = opaque_layer(u, dir);
	fprintf(f, "opaque=%s\n", opaque < 0 ? "no" : trace_layer(u, opaque, name));
	for (i = 0; dir->dl_path && i < dir->ndl; i++) {
		if (!dir->dl_path[i])
			continue;
		fprintf(f, "redirect=%s at /", trace_layer(u, dir->dl[i], name));
		put_path(f, strcmp(dir->dl_path[i], ".") == 0 ? "" : dir->dl_path[i]);
		fputc('\n', f);
	}
	fprintf(f, "view_built=%s\n", yes_no(atomic_load(&dir->view_built)));
	return 0;
}

/* Where a file's data is read: below, while its upper copy holds only
 * metadata (metacopy.c). [tree] */
static void put_data_origin(struct ufs *u, struct node *file, FILE *f)
{
	char name[TRACE_LAYER_MAX];
	int layer;

	if (!metacopy_pending(u, file))
		return;
	pthread_mutex_lock(&file->lock);
	layer = file->data_layer;
	pthread_mutex_unlock(&file->lock);
	fprintf(f, "data=%s\n", layer >= 0 ? trace_layer(u, layer, name) : "missing");
}

static int put_origin(struct ufs *u, struct node *node, FILE *f)
{
	char name[TRACE_LAYER_MAX];
	bool in_upper, below, copied;
	char *path;
	int err = 0;

	pthread_rwlock_rdlock(&u->lock);
	if (node->detached) {
		fputs("detached=yes\n", f);
		goto out_unlock;
	}
	path = trace_path(node, NULL);
	if (!path) {
		err = -ENOMEM;
		goto out_unlock;
	}
	fputs("path=", f);
	put_path(f, path);
	fputc('\n', f);
	free(path);
	in_upper = node->top == u->upper;
	/* The root lies in every layer, and is never copied up; an opaque
	 * upper directory replaced, not copied, what lies below. */
	below = node == u->root || node->lower_positive;
	copied = in_upper && below && node != u->root;
	/* A file renamed or linked since its copy-up shows the number it had
	 * below, as every copy does that recorded its origin. */
	copied |= in_upper && !node_is_dir(node) && node->vino_below;
	if (copied && node_is_dir(node) && ufs_layers_final(u, node) == 0 &&
	    opaque_layer(u, node) == u->upper)
		copied = false;
	fprintf(f, "type=%s\nlayer=%s\nupper=%s\nlower=%s\ncopied_up=%s\ndetached=no\n",
		explain_type_word(node->type), trace_layer(u, node->top, name), yes_no(in_upper),
		yes_no(below), yes_no(copied));
	if (node_is_dir(node))
		err = put_dir_origin(u, node, f);
	else if (in_upper)
		put_data_origin(u, node, f);
out_unlock:
	pthread_rwlock_unlock(&u->lock);
	return err;
}

ssize_t explain_xattr(struct ufs *u, struct node *node, const char *name, char **value)
{
	size_t len = 0;
	FILE *f;
	int err;

	if (strcmp(name, EXPLAIN_XATTR_LAYERS) != 0 && strcmp(name, EXPLAIN_XATTR_ORIGIN) != 0)
		return -ENODATA;
	if (strcmp(name, EXPLAIN_XATTR_LAYERS) == 0 && node != u->root)
		return -ENODATA;
	*value = NULL;
	f = open_memstream(value, &len);
	if (!f)
		return -ENOMEM;
	if (strcmp(name, EXPLAIN_XATTR_LAYERS) == 0) {
		put_layers(u, f);
		err = 0;
	} else {
		err = put_origin(u, node, f);
	}
	if (fclose(f) != 0 && !err)
		err = -ENOMEM;
	if (err) {
		free(*value);
		*value = NULL;
		return err;
	}
	return (ssize_t)len;
}
