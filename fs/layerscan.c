/* Reading one directory in each of its layers, several layers at once. */
#include "layerscan.h"

#include "layers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Below this many layers left the threads cost more than they save. */
#define SCAN_PARALLEL_MIN 4
/* Reads in flight at once: enough to keep a disk's queue busy. */
#define SCAN_THREADS_MAX 8
/* A helper woken for every few layers: no more than can keep busy. */
#define SCAN_LAYERS_PER_HELPER 4
#define SCAN_BUF_START 32768

/* All entries of the open directory FD, appended into one growing buffer. */
static int read_entries(int fd, char **ents, size_t *len)
{
	size_t cap = SCAN_BUF_START;
	char *buf = malloc(cap);
	ssize_t n;

	*len = 0;
	while (buf) {
		/* Room for the longest entry, or getdents64 fails EINVAL. */
		if (cap - *len < sizeof(struct dirent64) + 256) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger)
				break;
			buf = bigger;
			cap *= 2;
		}
		n = getdents64(fd, buf + *len, cap - *len);
		if (n < 0) {
			free(buf);
			return -errno;
		}
		if (n == 0) {
			*ents = buf;
			return 0;
		}
		*len += (size_t)n;
	}
	free(buf);
	return -ENOMEM;
}

/* What the entries of SCAN tell of the directory: it is opaque if they
 * hold an aufs opaque marker. Returns whether the merge will stat an entry
 * through the directory's fd (whiteout_may_hide_in). */
static bool scan_markers(struct layer_scan *scan)
{
	struct dirent64 *de;
	size_t pos = 0;
	bool needs_fd = false;

	while ((de = layer_scan_next(scan, &pos))) {
		if (de->d_name[0] == '.' && strcmp(de->d_name, WH_OPAQUE_NAME) == 0)
			scan->info.opaque = true;
		needs_fd |= whiteout_may_hide_in(de->d_type, &scan->info);
	}
	return needs_fd;
}

void layer_scan_one(struct layer_scan *scan, int layerfd, const char *path)
{
	scan->ents = NULL;
	scan->len = 0;
	scan->info.redirect = NULL;
	scan->fd = path ? layer_openat(layerfd, path, O_RDONLY | O_DIRECTORY, 0) : -ENOMEM;
	if (scan->fd < 0) {
		scan->err = scan->fd;
		scan->fd = -1;
		return;
	}
	whiteout_dir_xattrs(scan->fd, &scan->info);
	scan->err = read_entries(scan->fd, &scan->ents, &scan->len);
	if (scan->err) {
		layer_scan_release(scan);
		return;
	}
	/* The fd stays only if the merge will stat an entry through it:
	 * a directory of 500 layers does not hold 500 fds while it merges. */
	if (!scan_markers(scan)) {
		close(scan->fd);
		scan->fd = -1;
	}
}

void layer_scan_release(struct layer_scan *scan)
{
	if (scan->fd >= 0)
		close(scan->fd);
	scan->fd = -1;
	free(scan->info.redirect);
	scan->info.redirect = NULL;
	free(scan->ents);
	scan->ents = NULL;
}

/* The layers of one directory, shared out: each index is taken once, by
 * the merging thread or a helper; DONE counts the finished ones. */
struct scan_job {
	struct layer_scan *scans;
	const int *layerfds;
	char *const *paths;
	size_t n, next, done;     /* [pool->lock] */
	pthread_cond_t finished;
	struct scan_job *queued;  /* next job with indexes left [pool->lock] */
};

struct layer_scan_pool {
	pthread_mutex_t lock;
	pthread_cond_t work;      /* a job was queued, or the pool stops */
	struct scan_job *jobs;    /* jobs with indexes left, oldest first */
	bool stopping;
	long long slow_ns;
	size_t nthreads;
	pthread_t threads[SCAN_THREADS_MAX - 1];
};

/* Take the next index of the oldest job, if any. [pool->lock] */
static struct scan_job *take_index(struct layer_scan_pool *pool, size_t *i)
{
	struct scan_job *job = pool->jobs;

	if (!job)
		return NULL;
	*i = job->next++;
	if (job->next == job->n)
		pool->jobs = job->queued;
	return job;
}

static void run_index(struct layer_scan_pool *pool, struct scan_job *job, size_t i)
{
	layer_scan_one(&job->scans[i], job->layerfds[i], job->paths[i]);
	pthread_mutex_lock(&pool->lock);
	/* After this, the job (on its owner's stack) is not touched again. */
	if (++job->done == job->n)
		pthread_cond_signal(&job->finished);
	pthread_mutex_unlock(&pool->lock);
}

static void *pool_thread(void *arg)
{
	struct layer_scan_pool *pool = arg;
	struct scan_job *job;
	size_t i;

	pthread_mutex_lock(&pool->lock);
	while (!pool->stopping) {
		job = take_index(pool, &i);
		if (!job) {
			pthread_cond_wait(&pool->work, &pool->lock);
			continue;
		}
		pthread_mutex_unlock(&pool->lock);
		run_index(pool, job, i);
		pthread_mutex_lock(&pool->lock);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

struct layer_scan_pool *layer_scan_pool_new(long long slow_ns)
{
	struct layer_scan_pool *pool = calloc(1, sizeof(*pool));

	if (!pool)
		return NULL;
	pool->slow_ns = slow_ns;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->work, NULL);
	return pool;
}

void layer_scan_pool_free(struct layer_scan_pool *pool)
{
	if (!pool)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->work);
	pthread_mutex_unlock(&pool->lock);
	while (pool->nthreads > 0)
		pthread_join(pool->threads[--pool->nthreads], NULL);
	pthread_cond_destroy(&pool->work);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

/* Start the helpers the first time a directory is worth them. A helper
 * that cannot start only leaves more work to the others. [pool->lock] */
static void pool_start(struct layer_scan_pool *pool)
{
	while (pool->nthreads < SCAN_THREADS_MAX - 1 &&
	       pthread_create(&pool->threads[pool->nthreads], NULL, pool_thread, pool) == 0)
		pool->nthreads++;
}

/* Read SCANS[0..N) with the helpers. */
static void scan_shared(struct layer_scan_pool *pool, struct layer_scan *scans,
			const int *layerfds, char *const *paths, size_t n)
{
	struct scan_job job = { scans, layerfds, paths, n, 0, 0, PTHREAD_COND_INITIALIZER, NULL };
	struct scan_job **tail;
	size_t i;

	pthread_mutex_lock(&pool->lock);
	if (pool->nthreads == 0)
		pool_start(pool);
	for (tail = &pool->jobs; *tail; tail = &(*tail)->queued)
		;
	*tail = &job;
	for (i = 0; i < n / SCAN_LAYERS_PER_HELPER && i < pool->nthreads; i++)
		pthread_cond_signal(&pool->work);
	/* This thread works too: the job ends even if every helper is busy. */
	while (job.next < job.n) {
		struct scan_job *taken = take_index(pool, &i);

		pthread_mutex_unlock(&pool->lock);
		run_index(pool, taken, i);
		pthread_mutex_lock(&pool->lock);
	}
	while (job.done < job.n)
		pthread_cond_wait(&job.finished, &pool->lock);
	pthread_mutex_unlock(&pool->lock);
	pthread_cond_destroy(&job.finished);
}

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* One layer after the other while they come from the cache; the helpers
 * take over the rest as soon as one was slow (layerscan.h). */
void layer_scan_all(struct layer_scan_pool *pool, struct layer_scan *scans,
		    const int *layerfds, char *const *paths, size_t n)
{
	bool slow = false;
	size_t i;

	for (i = 0; i < n; i++) {
		long long start = now_ns();

		if (slow && pool && n - i >= SCAN_PARALLEL_MIN) {
			scan_shared(pool, scans + i, layerfds + i, paths + i, n - i);
			return;
		}
		layer_scan_one(&scans[i], layerfds[i], paths[i]);
		slow = pool && now_ns() - start >= pool->slow_ns;
	}
}

struct dirent64 *layer_scan_next(const struct layer_scan *scan, size_t *pos)
{
	struct dirent64 *de;

	if (*pos >= scan->len)
		return NULL;
	de = (struct dirent64 *)(scan->ents + *pos);
	*pos += de->d_reclen;
	return de;
}
