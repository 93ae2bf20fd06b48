/* Directory fd cache: a uthash table keyed by (directory id, layer) and a
 * least-recently-used list. Directory ids are never reused, so an entry of
 * a directory that is gone is simply never asked for again and ages out.
 * Why that is safe: a merged directory keeps its inode in each layer for
 * its whole life (a rename moves the inode with the node), and every
 * change of identity (rmdir, replacement) makes a new node with a new id. */
#define HASH_FUNCTION(keyptr, keylen, hashv) \
	((hashv) = (unsigned)XXH3_64bits((keyptr), (keylen)))
#include <xxhash.h>

#include "dircache.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <uthash.h>

struct dircache_key {
	uint64_t id;
	int64_t layer;
};

struct dircache_entry {
	struct dircache_key key;
	int fd;
	int pins;                           /* users of fd right now */
	struct dircache_entry *prev, *next; /* LRU, most recent first */
	UT_hash_handle hh;
};

struct dircache {
	pthread_mutex_t lock;               /* everything below */
	struct dircache_entry *table;
	struct dircache_entry *head, *tail;
	size_t count, capacity;
};

struct dircache *dircache_new(size_t capacity)
{
	struct dircache *dc = calloc(1, sizeof(*dc));

	if (!dc)
		return NULL;
	pthread_mutex_init(&dc->lock, NULL);
	dc->capacity = capacity;
	return dc;
}

static void lru_unlink(struct dircache *dc, struct dircache_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		dc->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		dc->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct dircache *dc, struct dircache_entry *e)
{
	e->next = dc->head;
	e->prev = NULL;
	if (dc->head)
		dc->head->prev = e;
	dc->head = e;
	if (!dc->tail)
		dc->tail = e;
}

static void entry_drop(struct dircache *dc, struct dircache_entry *e)
{
	HASH_DEL(dc->table, e);
	lru_unlink(dc, e);
	close(e->fd);
	free(e);
	dc->count--;
}

/* Close the least recently used fds nobody is using, down to capacity. */
static void evict(struct dircache *dc)
{
	struct dircache_entry *e = dc->tail, *prev;

	while (e && dc->count > dc->capacity) {
		prev = e->prev;
		if (e->pins == 0)
			entry_drop(dc, e);
		e = prev;
	}
}

void dircache_free(struct dircache *dc)
{
	if (!dc)
		return;
	while (dc->head)
		entry_drop(dc, dc->head);
	pthread_mutex_destroy(&dc->lock);
	free(dc);
}

struct dircache_entry *dircache_get(struct dircache *dc, uint64_t id, int layer, int *fd)
{
	struct dircache_key key = { .id = id, .layer = layer };
	struct dircache_entry *e;

	pthread_mutex_lock(&dc->lock);
	HASH_FIND(hh, dc->table, &key, sizeof(key), e);
	if (e) {
		e->pins++;
		lru_unlink(dc, e);
		lru_push(dc, e);
		*fd = e->fd;
	}
	pthread_mutex_unlock(&dc->lock);
	return e;
}

struct dircache_entry *dircache_add(struct dircache *dc, uint64_t id, int layer, int fd)
{
	struct dircache_key key = { .id = id, .layer = layer };
	struct dircache_entry *e, *old;

	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->key = key;
	e->fd = fd;
	e->pins = 1;
	pthread_mutex_lock(&dc->lock);
	HASH_FIND(hh, dc->table, &key, sizeof(key), old);
	if (old) {
		/* Another thread cached it first: keep theirs. */
		pthread_mutex_unlock(&dc->lock);
		free(e);
		return NULL;
	}
	HASH_ADD(hh, dc->table, key, sizeof(key), e);
	lru_push(dc, e);
	dc->count++;
	evict(dc);
	pthread_mutex_unlock(&dc->lock);
	return e;
}

void dircache_put(struct dircache *dc, struct dircache_entry *e)
{
	pthread_mutex_lock(&dc->lock);
	e->pins--;
	if (dc->count > dc->capacity)
		evict(dc);
	pthread_mutex_unlock(&dc->lock);
}
