/* Resolution (DESIGN section 3): building a directory's merged view in one
 * pass over its layers, and answering lookups from it. */
#include "internal.h"
#include "layerscan.h"
#include "origin.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *node_layer_path(struct node *dir, int layer)
{
	uint16_t i;

	if (!dir->parent)
		return strdup(".");
	for (i = 0; dir->dl_path && i < dir->ndl; i++)
		if (dir->dl[i] == layer && dir->dl_path[i])
			return strdup(dir->dl_path[i]);
	return node_layer_path_below(dir->parent, layer, dir->name);
}

char *node_layer_path_below(struct node *dir, int layer, const char *name)
{
	char *parent = node_layer_path(dir, layer), *path;

	if (!parent)
		return NULL;
	if (strcmp(parent, ".") == 0)
		path = strdup(name);
	else if (asprintf(&path, "%s/%s", parent, name) < 0)
		path = NULL;
	free(parent);
	return path;
}

uint64_t ufs_new_node_id(struct ufs *u)
{
	return (uint64_t)atomic_fetch_add(&u->next_node_id, 1) + 1;
}

int at_open_self(struct ufs *u, struct node *dir, int layer, struct at *at)
{
	char *path;
	int fd;

	at->name = ".";
	at->owned = false;
	at->cached = NULL;
	if (dir->detached)
		return -ENOENT;
	if (dir == u->root) {
		at->dirfd = u->layers[layer].fd;
		return 0;
	}
	at->cached = dircache_get(u->dircache, dir->id, layer, &at->dirfd);
	if (at->cached)
		return 0;
	path = node_layer_path(dir, layer);
	if (!path)
		return -ENOMEM;
	fd = layer_open_dir(u->layers[layer].fd, path);
	free(path);
	if (fd < 0)
		return fd;
	at->dirfd = fd;
	at->cached = dircache_add(u->dircache, dir->id, layer, fd);
	at->owned = !at->cached;
	return 0;
}

int at_open(struct ufs *u, struct node *node, int layer, struct at *at)
{
	int err;

	if (node->detached)
		return -ENOENT;
	if (node == u->root) {
		at->dirfd = u->layers[layer].fd;
		at->name = ".";
		at->owned = false;
		at->cached = NULL;
		return 0;
	}
	err = at_open_self(u, node->parent, layer, at);
	at->name = node->name;
	return err;
}

int at_open_dir(struct ufs *u, struct node *dir, int layer, int flags, int *fd)
{
	char *path;

	if (dir->detached)
		return -ENOENT;
	path = node_layer_path(dir, layer);
	if (!path)
		return -ENOMEM;
	*fd = layer_openat(u->layers[layer].fd, path, flags | O_DIRECTORY, 0);
	free(path);
	return *fd < 0 ? *fd : 0;
}

void at_close(struct ufs *u, struct at *at)
{
	if (at->cached)
		dircache_put(u->dircache, at->cached);
	else if (at->owned && at->dirfd >= 0)
		close(at->dirfd);
	at->cached = NULL;
	at->dirfd = -1;
}

struct node *node_ref(struct node *node)
{
	atomic_fetch_add(&node->nlookup, 1);
	return node;
}

/* What lies on the way to PATH in one layer, component by component, as
 * overlayfs' redirect walk sees it: a .wh.NAME marker for a component stops
 * the walk; an opaque directory above the last component makes this layer
 * the last one. */
struct redirect_way {
	bool whited_out;
	bool opaque_above;
};

static void redirect_walk_way(int layerfd, const char *path, struct redirect_way *way)
{
	char *copy = strdup(path), *slash, *name = copy;
	int dirfd = layerfd;

	way->whited_out = way->opaque_above = false;
	while (copy && name && !way->whited_out) {
		struct wh_dirinfo info;
		struct stat st;
		char *marker;
		int next;

		slash = strchr(name, '/');
		if (slash)
			*slash = '\0';
		marker = whiteout_aufs_name(name);
		if (!marker)
			break;
		way->whited_out = fstatat(dirfd, marker, &st, AT_SYMLINK_NOFOLLOW) == 0;
		free(marker);
		if (way->whited_out || !slash)
			break;
		next = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dirfd != layerfd)
			close(dirfd);
		dirfd = next;
		if (dirfd < 0)
			break;
		if (whiteout_dir_info(dirfd, &info) == 0) {
			way->opaque_above |= info.opaque;
			free(info.redirect);
		}
		name = slash + 1;
	}
	if (dirfd >= 0 && dirfd != layerfd)
		close(dirfd);
	free(copy);
}

/* Where DIR lies in layer J by a redirect: an absolute one names the path
 * from every layer root; a relative one a sibling, below the parent's own
 * path in that layer. */
static char *redirect_path_in(struct node *dir, int j, const char *redirect)
{
	if (redirect[0] == '/') {
		while (*redirect == '/')
			redirect++;
		return strdup(*redirect ? redirect : ".");
	}
	return node_layer_path_below(dir->parent, j, redirect);
}

/* overlayfs refuses a redirect that could climb: a relative one is one
 * name, an absolute one a path of names, and "." or ".." is none of them.
 * A layer cannot send the daemon out of itself, or into its own mount. */
static bool redirect_valid(const char *redirect)
{
	const char *p = redirect, *end;

	if (*p != '/')
		return *p && !strchr(p, '/') && strcmp(p, ".") != 0 && strcmp(p, "..") != 0;
	for (; *p; p = end) {
		while (*p == '/')
			p++;
		end = p + strcspn(p, "/");
		if ((end - p == 1 && p[0] == '.') || (end - p == 2 && p[0] == '.' && p[1] == '.'))
			return false;
	}
	return true;
}

/* Whether directory DIR takes part in LAYER. [tree] */
static bool node_in_layer(const struct node *dir, int layer)
{
	uint16_t i;

	for (i = 0; i < dir->ndl; i++)
		if (dir->dl[i] == layer)
			return true;
	return false;
}

/* overlayfs' redirect_dir: the layers below LAYER hold DIR at REDIRECT, not
 * at its own path. Look it up there in each of them, top first, as overlayfs
 * does: a missing one is skipped, a whiteout or a non-directory on the way
 * stops, an opaque one (or one below an opaque directory) is the last, and
 * a further redirect moves on. A relative redirect names a sibling: a
 * layer the parent takes no part in holds none (overlayfs looks only in
 * the parent's own lower directories), whatever lies at the parent's
 * name there. */
static int follow_redirect(struct ufs *u, struct node *dir, int layer, const char *first)
{
	char *redirect = strdup(first);
	int err = redirect ? 0 : -ENOMEM, j;

	for (j = layer + 1; !err && j < u->nlayers && redirect_valid(redirect); j++) {
		char *path;
		struct redirect_way way;
		struct wh_dirinfo info;
		int fd;

		if (redirect[0] != '/' && !node_in_layer(dir->parent, j))
			continue;
		path = redirect_path_in(dir, j, redirect);
		if (!path) {
			err = -ENOMEM;
			break;
		}
		fd = layer_open_dir(u->layers[j].fd, path);
		redirect_walk_way(u->layers[j].fd, path, &way);
		if (fd == -ENOENT && !way.whited_out && !way.opaque_above) {
			free(path);
			continue;
		}
		if (fd < 0 || way.whited_out) {
			if (fd >= 0)
				close(fd);
			free(path);
			break;
		}
		err = whiteout_dir_info(fd, &info);
		close(fd);
		if (!err)
			err = node_dl_append_path(dir, j, path);
		else
			free(path);
		if (!err && info.redirect) {
			free(redirect);
			redirect = info.redirect;
			info.redirect = NULL;
		}
		free(info.redirect);
		if (err || info.opaque || way.opaque_above)
			break;
	}
	free(redirect);
	return err;
}

/* What the markers of DIR's layer number I say about the layers below it:
 * an opaque directory or a redirect ends the list there (a redirect then
 * continues it where it points). [dir->lock] */
static int layers_cut_at(struct ufs *u, struct node *dir, uint16_t i,
			 const struct wh_dirinfo *info, bool *final)
{
	if (!info->opaque && !info->redirect)
		return 0;
	*final = true;
	node_dl_truncate(dir, (uint16_t)(i + 1));
	return info->opaque ? 0 : follow_redirect(u, dir, dir->dl[i], info->redirect);
}

/* Where the data of FILE lies, a metadata-only upper copy that overlayfs
 * moved (REDIRECT, its redirect xattr): looked up at REDIRECT in the layers
 * below the upper one, top first, as overlayfs does; a whiteout, or an
 * entry that is not a regular file, ends the search. */
int redirect_find_data(struct ufs *u, struct node *file, const char *redirect,
		       int *layer, char **path)
{
	int j;

	if (!redirect_valid(redirect))
		return -EIO;
	for (j = u->upper + 1; j < u->nlayers; j++) {
		char *p = redirect_path_in(file, j, redirect);
		struct redirect_way way;
		struct stat st;
		int fd;

		if (!p)
			return -ENOMEM;
		redirect_walk_way(u->layers[j].fd, p, &way);
		fd = way.whited_out ? -ENOENT : layer_openat(u->layers[j].fd, p, O_PATH | O_NOFOLLOW, 0);
		if (fd == -ENOENT && !way.whited_out && !way.opaque_above) {
			free(p);
			continue;
		}
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
			close(fd);
			*layer = j;
			*path = p;
			return 0;
		}
		if (fd >= 0)
			close(fd);
		free(p);
		break;
	}
	return -ENOENT;
}

/* Cut a directory's layers at the first opaque one, and follow overlayfs
 * redirects. Done once, lazily: most directories are never asked, and a
 * view build does it on the way (view_merge_layer). */
int ufs_layers_final(struct ufs *u, struct node *dir)
{
	bool final;
	int err = 0;
	uint16_t i;

	if (atomic_load(&dir->layers_final))
		return 0;
	pthread_mutex_lock(&dir->lock);
	final = atomic_load(&dir->layers_final);
	for (i = 0; !err && !final && i < dir->ndl; i++) {
		struct wh_dirinfo info;
		struct at self;

		err = at_open_self(u, dir, dir->dl[i], &self);
		if (err)
			break;
		err = whiteout_dir_info(self.dirfd, &info);
		at_close(u, &self);
		if (!err)
			err = layers_cut_at(u, dir, i, &info, &final);
		free(info.redirect);
	}
	if (!err)
		atomic_store(&dir->layers_final, true);
	pthread_mutex_unlock(&dir->lock);
	return err;
}

int ufs_dir_top_merges(struct ufs *u, struct node *dir, bool *merges)
{
	struct wh_dirinfo info;
	struct at self;
	int err = at_open_self(u, dir, dir->dl[0], &self);

	if (err)
		return err;
	err = whiteout_dir_info(self.dirfd, &info);
	at_close(u, &self);
	if (err)
		return err;
	*merges = !info.opaque && !info.redirect;
	free(info.redirect);
	return 0;
}

/* Whether DIR's top layer is neither opaque nor redirecting: then the
 * layer below stays in DIR's list whatever the others hold. [dir->lock] */
static bool top_keeps_below(struct ufs *u, struct node *dir)
{
	bool keeps = false;

	if (dir->ndl < 2 || atomic_load(&dir->layers_final))
		return false;
	return ufs_dir_top_merges(u, dir, &keeps) == 0 && keeps;
}

/* The top layer alone decides unless it is opaque or redirects, so a
 * readdirplus does not read the markers of every layer of every
 * subdirectory it lists. */
int ufs_dir_merged(struct ufs *u, struct node *dir, bool *merged)
{
	bool keeps = false;
	int err;

	if (!atomic_load(&dir->layers_final)) {
		pthread_mutex_lock(&dir->lock);
		keeps = top_keeps_below(u, dir);
		pthread_mutex_unlock(&dir->lock);
	}
	if (keeps) {
		*merged = true;
		return 0;
	}
	err = ufs_layers_final(u, dir);
	*merged = dir->ndl > 1;
	return err;
}

static int stat_detached(struct node *node, struct stat *st)
{
	int err = -ENOENT;

	pthread_mutex_lock(&node->lock);
	if (node->handles)
		err = fstat(node->handles->fd, st) < 0 ? -errno : 0;
	pthread_mutex_unlock(&node->lock);
	st->st_nlink = 0;
	return err;
}

int node_stat(struct ufs *u, struct node *node, struct stat *st)
{
	struct at at;
	int err;

	if (node->removed_attr) {
		*st = *node->removed_attr;      /* as shown when it went */
		return 0;
	}
	if (node->detached)
		err = stat_detached(node, st);
	else if ((err = at_open(u, node, node->top, &at)) == 0) {
		if (fstatat(at.dirfd, at.name, st, AT_SYMLINK_NOFOLLOW) < 0)
			err = -errno;
		else
			owner_apply(u, at.dirfd, at.name, st);
		if (!err && node->top == u->upper && S_ISREG(st->st_mode))
			err = metacopy_stat(u, node, &at, st);
		at_close(u, &at);
	}
	if (err)
		return err;
	owner_show(u, st);
	st->st_ino = node->vino;
	if (node_is_dir(node)) {
		bool merged;

		err = ufs_dir_merged(u, node, &merged);
		/* As overlayfs: counting subdirectories of a merged directory
		 * is not worth it; 1 keeps find and friends happy. */
		if (!err && merged)
			st->st_nlink = 1;
	}
	return err;
}

/* A whiteout for NAME found in layer LAYER. */
static int view_apply_marker(struct ufs *u, struct node *dir, const char *name,
			     int layer, int kind)
{
	struct node *e = view_find(dir, name);

	if (!e) {
		e = node_new(name, 0, layer);
		if (!e)
			return -ENOMEM;
		e->id = ufs_new_node_id(u);
		view_add(dir, e);
	}
	/* The whiteout hides what lies below its own layer only: a
	 * directory NAME of this same layer still merges. */
	if (e->stop_after < 0 || layer < e->stop_after)
		e->stop_after = layer;
	if (ufs_is_upper(u, layer))
		e->upper_wh |= (uint8_t)kind;
	else if (!e->seen_lower) {
		e->seen_lower = true;
		e->lower_layer = layer;
		e->lower_positive = false;
	}
	return 0;
}

static void entry_take(struct ufs *u, struct node *e, mode_t type, ino_t ino, int layer)
{
	e->type = type;
	e->top = layer;
	e->vino = ufs_vino(u, u->layers[layer].dev, ino);
}

/* A real entry NAME of TYPE found in layer LAYER. */
static int view_apply_entry(struct ufs *u, struct node *dir, const char *name,
			    mode_t type, ino_t ino, int layer)
{
	struct node *e = view_find(dir, name);

	if (e && e->stop_after >= 0 && layer > e->stop_after)
		e->collecting = false;
	if (!e) {
		e = node_new(name, type, layer);
		if (!e)
			return -ENOMEM;
		e->id = ufs_new_node_id(u);
		entry_take(u, e, type, ino, layer);
		if (S_ISDIR(type) && node_dl_set_single(e, layer) < 0) {
			node_free(e);
			return -ENOMEM;
		}
		e->collecting = S_ISDIR(type);
		view_add(dir, e);
	} else if (e->decided_at == layer && e->type == 0) {
		/* .wh.NAME of this same layer came first in readdir order. */
		entry_take(u, e, type, ino, layer);
		if (S_ISDIR(type) && node_dl_set_single(e, layer) < 0)
			return -ENOMEM;
		e->collecting = S_ISDIR(type);
	} else if (e->collecting && S_ISDIR(type)) {
		if (node_dl_append(e, layer) < 0)
			return -ENOMEM;
	} else {
		e->collecting = false;
	}
	if (!ufs_is_upper(u, layer) && (!e->seen_lower || e->lower_layer == layer)) {
		e->seen_lower = true;
		e->lower_layer = layer;
		e->lower_positive = true;
		e->lower_ino = ino;
	}
	return 0;
}

static int view_apply_dirent(struct ufs *u, struct node *dir, int fd, struct dirent64 *de,
			     const struct wh_dirinfo *info, int layer)
{
	const char *target = whiteout_aufs_target(de->d_name);
	mode_t type = DTTOIF(de->d_type);
	ino_t ino = de->d_ino;
	struct stat st;

	if (target)
		return view_apply_marker(u, dir, target, layer, WH_AUFS_FILE);
	if (strcmp(de->d_name, WH_OPAQUE_NAME) == 0)
		return 0;
	if (whiteout_may_hide_in(de->d_type, info)) {
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return errno == ENOENT ? 0 : -errno;
		if (whiteout_is_device(&st) ||
		    (info->xwhiteouts && whiteout_is_xattr_file(fd, de->d_name, &st)))
			return view_apply_marker(u, dir, de->d_name, layer, WH_AT_NAME);
		type = st.st_mode & S_IFMT;
		ino = st.st_ino;
	}
	return view_apply_entry(u, dir, de->d_name, type, ino, layer);
}

/* Merge SCAN, DIR's layer number I, into the view: its markers first
 * (while the layers are not FINAL, they may cut the list here), then its
 * entries in the order the layer lists them. [dir->lock] */
static int view_merge_layer(struct ufs *u, struct node *dir, uint16_t i,
			    const struct layer_scan *scan, bool *final)
{
	struct dirent64 *de;
	size_t pos = 0;
	int err = 0;

	if (scan->err)
		return scan->err == -ENOENT || scan->err == -ENOTDIR ? 0 : scan->err;
	if (!*final)
		err = layers_cut_at(u, dir, i, &scan->info, final);
	while (!err && (de = layer_scan_next(scan, &pos))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		err = view_apply_dirent(u, dir, scan->fd, de, &scan->info, dir->dl[i]);
	}
	return err;
}

/* Whiteouts of lower layers only make a name absent: drop them. Those of
 * the upper layer are kept, as negative nodes, for creating over them. */
static void view_finish(struct node *dir)
{
	struct node *e, *tmp;

	HASH_ITER(hh, dir->children, e, tmp) {
		e->collecting = false;
		if (e->type == 0 && e->upper_wh == 0) {
			view_remove(dir, e);
			node_free(e);
		}
	}
}

/* Read all of DIR's layers at once (layerscan.c). [dir->lock] */
static struct layer_scan *view_scan_all(struct ufs *u, struct node *dir)
{
	uint16_t n = dir->ndl, i;
	struct layer_scan *scans = calloc(n + 1u, sizeof(*scans));
	char **paths = calloc(n + 1u, sizeof(*paths));
	int *fds = calloc(n + 1u, sizeof(*fds));

	if (scans && paths && fds) {
		for (i = 0; i < n; i++) {
			paths[i] = node_layer_path(dir, dir->dl[i]);
			fds[i] = u->layers[dir->dl[i]].fd;
		}
		layer_scan_all(u->scan_pool, scans, fds, paths, n);
		for (i = 0; i < n; i++)
			free(paths[i]);
	} else {
		free(scans);
		scans = NULL;
	}
	free(paths);
	free(fds);
	return scans;
}

/* A layer that a redirect added after the others were read: read alone. */
static int view_merge_late(struct ufs *u, struct node *dir, uint16_t i, bool *final)
{
	char *path = node_layer_path(dir, dir->dl[i]);
	struct layer_scan scan;
	int err;

	layer_scan_one(&scan, u->layers[dir->dl[i]].fd, path);
	free(path);
	err = view_merge_layer(u, dir, i, &scan, final);
	layer_scan_release(&scan);
	return err;
}

static int view_build_locked(struct ufs *u, struct node *dir)
{
	bool final = atomic_load(&dir->layers_final);
	uint16_t nread = dir->ndl, valid = dir->ndl, i;
	struct layer_scan *scans = view_scan_all(u, dir);
	int err = scans ? 0 : -ENOMEM;

	for (i = 0; !err && i < dir->ndl; i++) {
		bool was_final = final;

		if (i < valid)
			err = view_merge_layer(u, dir, i, &scans[i], &final);
		else
			err = view_merge_late(u, dir, i, &final);
		/* A cut at this layer replaces the layers after it: what was
		 * read ahead for them is not theirs. */
		if (final && !was_final)
			valid = (uint16_t)(i + 1);
	}
	if (!err && dir->dl[0] == u->upper) {
		bool impure = scans[0].err == 0 && scans[0].info.impure;

		dir->upper_impure |= impure;
		err = origin_settle_view(u, dir, impure);
	}
	for (i = 0; scans && i < nread; i++)
		layer_scan_release(&scans[i]);
	free(scans);
	if (err) {
		node_free_view(dir);
		return err;
	}
	atomic_store(&dir->layers_final, true);
	view_finish(dir);
	atomic_store(&dir->view_built, true);
	return 0;
}

int ufs_dir_empty(struct ufs *u, struct node *dir)
{
	struct node *child, *tmp;
	int err = ufs_view_build(u, dir);

	if (err)
		return err;
	HASH_ITER(hh, dir->children, child, tmp)
		if (child->type)
			return -ENOTEMPTY;
	return 0;
}

int ufs_view_build(struct ufs *u, struct node *dir)
{
	int err = 0;

	if (dir->detached)
		return -ENOENT;
	if (!node_is_dir(dir))
		return -ENOTDIR;
	if (atomic_load(&dir->view_built))
		return 0;
	pthread_mutex_lock(&dir->lock);
	if (!atomic_load(&dir->view_built))
		err = view_build_locked(u, dir);
	pthread_mutex_unlock(&dir->lock);
	return err;
}

static void trace_lookup(struct ufs *u, struct node *dir, const char *name, struct node *child)
{
	char *path = trace_path(dir, name);
	char top[TRACE_LAYER_MAX], next[TRACE_LAYER_MAX];

	if (!child)
		trace_line(u, "lookup %s -> not found", path);
	else if (node_is_dir(child) && child->ndl > 1)
		trace_line(u, "lookup %s -> directory in %s, merged with %d layer%s below (%s%s)",
			   path, trace_layer(u, child->top, top), child->ndl - 1,
			   child->ndl > 2 ? "s" : "", trace_layer(u, child->dl[1], next),
			   child->ndl > 2 ? ", ..." : "");
	else
		trace_line(u, "lookup %s -> %s", path, trace_layer(u, child->top, top));
	free(path);
}

static int lookup_common(struct ufs *u, struct node *dir, const char *name,
			 struct node **out, struct stat *st, bool traced)
{
	struct node *child;
	int err;

	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	pthread_rwlock_rdlock(&u->lock);
	err = ufs_view_build(u, dir);
	if (err)
		goto out_unlock;
	child = view_find(dir, name);
	if (!child || child->type == 0) {
		if (traced && u->trace)
			trace_lookup(u, dir, name, NULL);
		err = -ENOENT;
		goto out_unlock;
	}
	err = node_stat(u, child, st);
	if (!err) {
		*out = node_ref(child);
		if (traced && u->trace)
			trace_lookup(u, dir, name, child);
	}
out_unlock:
	pthread_rwlock_unlock(&u->lock);
	return err;
}

int ufs_lookup(struct ufs *u, struct node *dir, const char *name,
	       struct node **out, struct stat *st)
{
	return lookup_common(u, dir, name, out, st, true);
}

int ufs_lookup_quiet(struct ufs *u, struct node *dir, const char *name,
		     struct node **out, struct stat *st)
{
	return lookup_common(u, dir, name, out, st, false);
}

void ufs_forget(struct ufs *u, struct node *node, uint64_t nlookup)
{
	size_t freeable = 1;
	uint64_t left;

	pthread_rwlock_rdlock(&u->lock);
	left = atomic_fetch_sub(&node->nlookup, nlookup) - nlookup;
	if (left == 0)
		nodefile_forget(u, node);
	/* A directory forgotten may take its whole view with it. */
	if (left == 0 && !node->detached)
		freeable += HASH_COUNT(node->children);
	/* A detached node is reachable only through the kernel's reference:
	 * detaching takes the lock exclusive, so it cannot race with this. */
	if (left == 0 && node->detached && node != u->root)
		node_free(node);
	pthread_rwlock_unlock(&u->lock);
	if (left == 0)
		evict_note_forgotten(u, freeable);
}
