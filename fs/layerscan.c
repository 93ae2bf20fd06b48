/* Reading one directory in each of its layers, several layers at once. */
#include "layerscan.h"

#include "layers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* Below this many layers the threads cost more than they save. */
#define SCAN_PARALLEL_MIN 4
/* Reads in flight at once: enough to keep a disk's queue busy. */
#define SCAN_THREADS_MAX 8
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
	scan->err = whiteout_dir_info(scan->fd, &scan->info);
	if (!scan->err)
		scan->err = read_entries(scan->fd, &scan->ents, &scan->len);
	if (scan->err) {
		layer_scan_release(scan);
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

struct scan_job {
	struct layer_scan *scans;
	const int *layerfds;
	char *const *paths;
	size_t n;
	atomic_size_t next;
};

static void *scan_worker(void *arg)
{
	struct scan_job *job = arg;
	size_t i;

	while ((i = atomic_fetch_add(&job->next, 1)) < job->n)
		layer_scan_one(&job->scans[i], job->layerfds[i], job->paths[i]);
	return NULL;
}

void layer_scan_all(struct layer_scan *scans, const int *layerfds, char *const *paths,
		    size_t n)
{
	struct scan_job job = { scans, layerfds, paths, n, 0 };
	pthread_t helpers[SCAN_THREADS_MAX - 1];
	size_t wanted = 0, started = 0;

	if (n >= SCAN_PARALLEL_MIN)
		wanted = n / 2 < SCAN_THREADS_MAX - 1 ? n / 2 : SCAN_THREADS_MAX - 1;
	/* A helper that cannot start only leaves more work to the others. */
	while (started < wanted && pthread_create(&helpers[started], NULL, scan_worker, &job) == 0)
		started++;
	scan_worker(&job);
	while (started > 0)
		pthread_join(helpers[--started], NULL);
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
