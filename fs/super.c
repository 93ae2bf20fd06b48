/* Setting up a union: opening and checking the layers, preparing the work
 * directory, the root node and the inode-number map. */
#define HASH_FUNCTION(keyptr, keylen, hashv) \
	((hashv) = (unsigned)XXH3_64bits((keyptr), (keylen)))
#include <xxhash.h>

#include "internal.h"
#include "layerscan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uthash.h>

struct ino_key {
	dev_t dev;
	ino_t ino;
};

struct inomap {
	struct ino_key key;
	ino_t vino;
	UT_hash_handle hh;
};

/* Entries of the upper (or top) layer's device keep their own inode
 * numbers, so st_ino survives a remount (git's index relies on that);
 * other devices get numbers from a range real inodes do not reach. */
ino_t ufs_vino(struct ufs *u, dev_t dev, ino_t ino)
{
	struct ino_key key = { .dev = dev, .ino = ino };
	struct inomap *m;
	ino_t vino;

	if (dev == u->main_dev)
		return ino;
	pthread_mutex_lock(&u->ino_lock);
	HASH_FIND(hh, u->inomap, &key, sizeof(key), m);
	if (m) {
		vino = m->vino;
	} else {
		vino = u->next_vino++;
		m = calloc(1, sizeof(*m));
		if (m) {
			m->key = key;
			m->vino = vino;
			HASH_ADD(hh, u->inomap, key, sizeof(key), m);
		}
	}
	pthread_mutex_unlock(&u->ino_lock);
	return vino;
}

bool ufs_read_only(const struct ufs *u)
{
	return u->upper < 0;
}

static int fail(char **why, const char *path, const char *cause)
{
	if (why && asprintf(why, "%s: %s", path, cause) < 0)
		*why = NULL;
	return -EINVAL;
}

static int fail_errno(char **why, const char *path, int err)
{
	fail(why, path, strerror(-err));
	return err;
}

static int fail_two(char **why, const char *path, const char *cause, const char *other, int err)
{
	if (asprintf(why, "%s: %s %s", path, cause, other) < 0)
		*why = NULL;
	return err;
}

static int open_layers(struct ufs *u, const struct ufs_config *cfg, char **why)
{
	int n = cfg->nlowers + (cfg->init ? 1 : 0) + (cfg->upper ? 1 : 0);
	int i, idx = 0, err;

	u->layers = calloc((size_t)n, sizeof(*u->layers));
	if (!u->layers)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		u->layers[i].fd = -1;
	u->upper = -1;
	if (cfg->upper) {
		err = layer_open(cfg->upper, LAYER_UPPER, &u->layers[idx]);
		if (err)
			return fail_errno(why, cfg->upper, err);
		u->upper = idx++;
		u->nlayers = idx;
	}
	if (cfg->init) {
		err = layer_open(cfg->init, LAYER_INIT, &u->layers[idx]);
		if (err)
			return fail_errno(why, cfg->init, err);
		u->nlayers = ++idx;
	}
	for (i = cfg->nlowers - 1; i >= 0; i--) {
		err = layer_open(cfg->lowers[i], LAYER_LOWER, &u->layers[idx]);
		if (err)
			return fail_errno(why, cfg->lowers[i], err);
		u->nlayers = ++idx;
	}
	return 0;
}

/* Is the directory FD, or one of its ancestors, the directory ANCESTOR? */
static bool dir_is_below(int fd, const struct stat *ancestor)
{
	int cur = openat(fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	bool below = false;

	while (cur >= 0) {
		struct stat st, parent_st;
		int parent;

		if (fstat(cur, &st) < 0)
			break;
		if (st.st_dev == ancestor->st_dev && st.st_ino == ancestor->st_ino) {
			below = true;
			break;
		}
		parent = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (parent < 0 || fstat(parent, &parent_st) < 0 ||
		    (parent_st.st_dev == st.st_dev && parent_st.st_ino == st.st_ino)) {
			if (parent >= 0)
				close(parent);
			break;
		}
		close(cur);
		cur = parent;
	}
	if (cur >= 0)
		close(cur);
	return below;
}

static int check_upper(struct ufs *u, char **why)
{
	struct layer *upper = &u->layers[u->upper];
	int i;

	for (i = 0; i < u->nlayers; i++) {
		struct stat st;

		if (i == u->upper || fstat(u->layers[i].fd, &st) < 0)
			continue;
		if (dir_is_below(upper->fd, &st))
			return fail(why, upper->path, "upper layer lies inside a lower layer");
	}
	for (i = 0; i < u->nlayers; i++) {
		struct stat st;

		if (i == u->upper || fstat(upper->fd, &st) < 0)
			continue;
		if (dir_is_below(u->layers[i].fd, &st))
			return fail(why, u->layers[i].path, "lower layer lies inside the upper layer");
	}
	return 0;
}

/* WORK/work is scratch: whatever an earlier mount left there (a crash in
 * the middle of a copy-up) is removed before this mount uses it. */
static int open_work(struct ufs *u, const char *work, char **why)
{
	struct layer *upper = &u->layers[u->upper];
	struct stat st, ust;
	int wfd, fd, err;

	wfd = open(work, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (wfd < 0)
		return fail_errno(why, work, -errno);
	if (fstat(wfd, &st) < 0) {
		err = -errno;
		close(wfd);
		return fail_errno(why, work, err);
	}
	if (st.st_dev != upper->dev) {
		close(wfd);
		return fail_two(why, work, "not on the same filesystem as", upper->path, -EXDEV);
	}
	if (fstat(upper->fd, &ust) == 0 &&
	    (dir_is_below(wfd, &ust) || dir_is_below(upper->fd, &st))) {
		close(wfd);
		return fail_two(why, work, "work directory and upper layer overlap:", upper->path,
				-EINVAL);
	}
	if (mkdirat(wfd, "work", 0700) < 0 && errno != EEXIST) {
		err = -errno;
		close(wfd);
		return fail_errno(why, work, err);
	}
	fd = openat(wfd, "work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(wfd);
	if (fd < 0)
		return fail_errno(why, work, -errno);
	err = util_empty_dir(fd);
	if (err) {
		close(fd);
		return fail_errno(why, work, err);
	}
	u->work_fd = fd;
	u->work_path = realpath(work, NULL);
	if (!u->work_path && errno != ENOMEM)
		u->work_path = strdup(work);
	return u->work_path ? 0 : -ENOMEM;
}

static int make_root(struct ufs *u)
{
	struct stat st;
	int i;

	if (fstat(u->layers[0].fd, &st) < 0)
		return -errno;
	u->root = node_new("", S_IFDIR, 0);
	if (!u->root)
		return -ENOMEM;
	u->root->vino = st.st_ino;
	/* The root of every layer merges: overlayfs ignores opaque roots. */
	for (i = 0; i < u->nlayers; i++)
		if (node_dl_append(u->root, i) < 0)
			return -ENOMEM;
	atomic_store(&u->root->layers_final, true);
	atomic_store(&u->root->nlookup, 1);
	return 0;
}

int ufs_new(const struct ufs_config *cfg, struct ufs **out, char **why)
{
	struct ufs *u = calloc(1, sizeof(*u));
	int err;

	*why = NULL;
	if (!u)
		return -ENOMEM;
	u->work_fd = -1;
	u->whiteout_format = cfg->whiteout_format;
	u->metacopy = cfg->metacopy;
	u->volatile_upper = cfg->volatile_upper;
	u->trace = cfg->trace;
	atomic_store(&u->overrides, cfg->unprivileged);
	pthread_mutex_init(&u->trace_lock, NULL);
	u->next_vino = (ino_t)1 << 62;
	pthread_rwlock_init(&u->lock, NULL);
	pthread_mutex_init(&u->ino_lock, NULL);
	nodefile_init(u);
	evict_init(u, cfg->evict_after ? cfg->evict_after : UFS_EVICT_MIN);
	if (idmap_copy(&u->uids, &cfg->uids) || idmap_copy(&u->gids, &cfg->gids)) {
		err = -ENOMEM;
		goto out_destroy;
	}
	if (cfg->nlowers < 1) {
		err = fail(why, "unionfuse", "at least one lower layer is needed");
		goto out_destroy;
	}
	err = open_layers(u, cfg, why);
	if (err)
		goto out_destroy;
	u->main_dev = u->layers[0].dev;
	if (u->upper >= 0) {
		err = cfg->work ? check_upper(u, why)
				: fail(why, cfg->upper, "an upper layer needs a work directory");
		if (!err)
			err = open_work(u, cfg->work, why);
		if (err)
			goto out_destroy;
	}
	u->dircache = dircache_new(UFS_DIRCACHE_CAPACITY);
	u->scan_pool = layer_scan_pool_new(LAYER_SCAN_SLOW_NS);
	err = u->dircache && u->scan_pool ? make_root(u) : -ENOMEM;
	if (err)
		goto out_destroy;
	*out = u;
	return 0;

out_destroy:
	ufs_destroy(u);
	return err;
}

void ufs_destroy(struct ufs *u)
{
	struct inomap *m, *tmp;
	int i;

	if (!u)
		return;
	evict_stop(u);
	nodefile_clear(u);
	if (u->root)
		node_free_tree(u->root);
	layer_scan_pool_free(u->scan_pool);
	dircache_free(u->dircache);
	for (i = 0; i < u->nlayers; i++)
		layer_close(&u->layers[i]);
	free(u->layers);
	/* The shared whiteout stays in WORK/work: this runs after the
	 * kernel let go of the mount, when the directories may already be
	 * someone else's (a kernel overlayfs mounted on them, which cleans
	 * WORK/work as the next unionfuse mount does). */
	if (u->work_fd >= 0)
		close(u->work_fd);
	free(u->work_path);
	idmap_free(&u->uids);
	idmap_free(&u->gids);
	HASH_ITER(hh, u->inomap, m, tmp) {
		HASH_DEL(u->inomap, m);
		free(m);
	}
	pthread_rwlock_destroy(&u->lock);
	pthread_mutex_destroy(&u->ino_lock);
	pthread_mutex_destroy(&u->trace_lock);
	free(u);
}
