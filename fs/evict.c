/* Freeing what the kernel has forgotten. A merged view is kept while its
 * directory may be asked again; once the kernel has forgotten a directory
 * and everything below it (it sends FORGET when it drops an inode from its
 * own cache, under memory pressure or drop_caches), the view is only
 * memory: it is freed, and built again from the layers if the directory
 * is looked into again. The daemon then holds about what the kernel caches.
 *
 * Nothing of a view lives only in memory: each entry is rebuilt from the
 * layers as it was (the upper layer holds every change), and st_ino comes
 * back the same (super.c: the device's own number, or the same number from
 * the map of other devices; a copy-up's number from below through the
 * origin it recorded, origin.c). Entries whose number would not come back
 * (a copy moved or given a second name since, a copy the upper filesystem
 * could not record an origin for) stay, with the directories above them
 * (node.h, vino_kept). A directory the kernel still holds keeps its view,
 * so a listing being read keeps its offsets.
 *
 * The sweep walks the whole tree with ufs->lock exclusive, so it runs only
 * (in a thread of its own, see evictor) once the nodes that forgetting may
 * have made freeable (a node, or a directory and its view) add up to an
 * eighth of what the last sweep kept, and at least UFS_EVICT_MIN (or
 * -o evict_after=N): its cost stays a constant per node freed, and what is
 * left unfreed is at most that much. */
#include "internal.h"

#include <errno.h>
#include <malloc.h>
#include <time.h>

#define EVICT_QUIET_MS 100
#define EVICT_WAIT_MAX_MS 2000
/* Deeper nodes are kept: the walk recurses, and a thread's stack is finite. */
#define EVICT_MAX_DEPTH 2048

/* The kernel does not hold NODE, no open file of it is in use, and a
 * rebuilt view would give it back the same. */
static bool unheld(struct ufs *u, struct node *node)
{
	bool files = false;
	int i;

	if (node == u->root || atomic_load(&node->nlookup) != 0 || node->vino_kept)
		return false;
	pthread_mutex_lock(&node->lock);
	for (i = 0; i < UFS_ACCESS_KINDS; i++)
		files |= node->files[i] != NULL;
	files |= node->handles != NULL;
	pthread_mutex_unlock(&node->lock);
	return !files;
}

struct evict_count {
	size_t seen, freed;
};

/* Whether NODE and all below it are unheld; on the way up, the views of
 * unheld directories with nothing held below are freed. [tree, exclusive] */
static bool evict_below(struct ufs *u, struct node *node, int depth, struct evict_count *count)
{
	struct node *child, *tmp;
	bool all_free = depth < EVICT_MAX_DEPTH;

	count->seen++;
	if (all_free)
		HASH_ITER(hh, node->children, child, tmp)
			if (!evict_below(u, child, depth + 1, count))
				all_free = false;
	if (!unheld(u, node))
		return false;
	if (all_free && node->children) {
		count->freed += HASH_COUNT(node->children);
		node_free_view(node);
	}
	return all_free;
}

size_t ufs_evict_views(struct ufs *u)
{
	struct evict_count count = { 0, 0 };
	double start = u->trace ? trace_now_ms() : 0;
	size_t kept;

	pthread_rwlock_wrlock(&u->lock);
	evict_below(u, u->root, 0, &count);
	kept = count.seen - count.freed;
	atomic_store(&u->evict.at, kept / 8 > u->evict.min ? kept / 8 : u->evict.min);
	atomic_store(&u->evict.forgotten, 0);
	pthread_rwlock_unlock(&u->lock);
	/* The time includes the wait for the lock; the mount waits on the rest. */
	if (count.freed && u->trace)
		trace_line(u, "forget: %zu entries below directories the kernel forgot freed, %zu kept, %.1f ms",
			   count.freed, kept, trace_now_ms() - start);
	/* Freed nodes are small blocks spread over the heap: give the pages
	 * they leave whole back to the system. */
	if (count.freed)
		malloc_trim(0);
	return kept;
}

/* Sleep MS milliseconds, unless told to stop. [evict.lock] */
static void evictor_nap(struct ufs *u, long ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += ms * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	while (!u->evict.stopping &&
	       pthread_cond_timedwait(&u->evict.wake, &u->evict.lock, &until) != ETIMEDOUT)
		;
}

/* The kernel forgets in bursts, a directory after what lies below it: a
 * sweep in the middle of one would find the directories still held. So
 * the sweep waits for a pause in the forgetting (EVICT_QUIET_MS), or at
 * most EVICT_WAIT_MAX_MS while it goes on. */
static void *evictor(void *arg)
{
	struct ufs *u = arg;

	pthread_mutex_lock(&u->evict.lock);
	while (!u->evict.stopping) {
		size_t seen = atomic_load(&u->evict.forgotten);
		long waited = 0;

		if (seen < atomic_load(&u->evict.at)) {
			pthread_cond_wait(&u->evict.wake, &u->evict.lock);
			continue;
		}
		do {
			seen = atomic_load(&u->evict.forgotten);
			evictor_nap(u, EVICT_QUIET_MS);
			waited += EVICT_QUIET_MS;
		} while (!u->evict.stopping && atomic_load(&u->evict.forgotten) != seen &&
			 waited < EVICT_WAIT_MAX_MS);
		if (u->evict.stopping)
			break;
		pthread_mutex_unlock(&u->evict.lock);
		ufs_evict_views(u);
		pthread_mutex_lock(&u->evict.lock);
	}
	pthread_mutex_unlock(&u->evict.lock);
	return NULL;
}

void evict_note_forgotten(struct ufs *u, size_t freeable)
{
	size_t before = atomic_fetch_add(&u->evict.forgotten, freeable), at = atomic_load(&u->evict.at);

	/* The thread is woken when the count reaches the mark; it then sees
	 * by itself whether more come. */
	if (before >= at || before + freeable < at)
		return;
	pthread_mutex_lock(&u->evict.lock);
	/* Started at the first need, in the process that serves: a daemon
	 * forks after the union is set up, and threads do not follow. */
	if (!u->evict.started && !u->evict.stopping)
		u->evict.started = pthread_create(&u->evict.thread, NULL, evictor, u) == 0;
	pthread_cond_signal(&u->evict.wake);
	pthread_mutex_unlock(&u->evict.lock);
}

void evict_init(struct ufs *u, size_t min)
{
	pthread_condattr_t attr;

	pthread_mutex_init(&u->evict.lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&u->evict.wake, &attr);
	pthread_condattr_destroy(&attr);
	u->evict.started = u->evict.stopping = false;
	atomic_store(&u->evict.forgotten, 0);
	u->evict.min = min;
	atomic_store(&u->evict.at, min);
}

void evict_stop(struct ufs *u)
{
	bool started;

	pthread_mutex_lock(&u->evict.lock);
	u->evict.stopping = true;
	started = u->evict.started;
	pthread_cond_signal(&u->evict.wake);
	pthread_mutex_unlock(&u->evict.lock);
	if (started)
		pthread_join(u->evict.thread, NULL);
	pthread_cond_destroy(&u->evict.wake);
	pthread_mutex_destroy(&u->evict.lock);
}
