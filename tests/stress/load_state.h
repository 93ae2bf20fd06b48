/* The load test's shared knowledge: the expected state of every path (a
 * file mapped MAP_SHARED by all workers, and read again by the final
 * check), the self-describing block content, and the per-worker op logs.
 *
 * Every file is a sequence of LOAD_BLOCK-byte blocks; each block says who
 * wrote it (writer, seq) and where it belongs (block index), and the rest
 * of it is a pure function of those three, so any block can be checked on
 * its own, and a file against what its last writer wrote. Writer 0 is the
 * lower layer's initial content. */
#ifndef LOAD_STATE_H
#define LOAD_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define LOAD_BLOCK 4096
#define LOAD_MAX_BLOCKS 256      /* 1 MiB files at most */
#define LOAD_MAX_WORKERS 256
#define LOAD_MAGIC 0x554644534c4f4144ULL  /* "UFDSLOAD" */

/* writer (16 bits) and seq (48 bits) of one block, packed. */
typedef uint64_t load_tag;

static inline load_tag load_tag_make(unsigned writer, uint64_t seq)
{
	return ((uint64_t)writer << 48) | (seq & 0xffffffffffffULL);
}

static inline unsigned load_tag_writer(load_tag t)
{
	return (unsigned)(t >> 48);
}

static inline uint64_t load_tag_seq(load_tag t)
{
	return t & 0xffffffffffffULL;
}

/* One path of the tree (DIR/NAME). Protected by LOCK: a worker holds it
 * exclusive while it changes the path and updates this record, shared
 * while it checks the path against it. */
struct load_path {
	pthread_rwlock_t lock;
	uint32_t exists;
	uint32_t nblocks;
	uint64_t version;                /* changes made so far, for the log */
	load_tag blocks[LOAD_MAX_BLOCKS];
};

/* What a worker is doing now: for the report when one hangs. Written by
 * the worker alone, read by the parent. */
struct load_status {
	volatile int op;                 /* enum load_op, -1 when idle */
	volatile int path;               /* the last path it asked to lock */
	volatile int locked[2];          /* the paths it holds locked, or -1 */
	volatile int64_t since_ns;       /* CLOCK_MONOTONIC */
	volatile int64_t max_latency_ns; /* the slowest operation so far */
	volatile int max_latency_op;
	volatile uint64_t ops;
};

struct load_header {
	uint64_t magic;
	uint32_t ndirs, files_per_dir;
	uint32_t shared_per_dir;         /* f0000..: every worker picks among them */
	uint32_t hot_per_dir;            /* the first few of those: picked most */
	uint32_t nworkers;
	uint32_t pad;
	struct load_status status[LOAD_MAX_WORKERS];
};

struct load_state {
	struct load_header *h;
	struct load_path *paths;
	size_t map_len;
	int npaths;
};

int load_state_create(const char *file, struct load_state *s, uint32_t ndirs,
		      uint32_t files_per_dir, uint32_t shared_per_dir, uint32_t hot_per_dir);
int load_state_open(const char *file, struct load_state *s);
void load_state_close(struct load_state *s);

/* "dNN/fNNNN" of path index I, relative to the tree's root. */
void load_path_name(const struct load_state *s, int i, char *buf, size_t size);
int load_path_dir(const struct load_state *s, int i);
/* Parses a name back; -1 if it is not one of ours. */
int load_path_index(const struct load_state *s, int dir, const char *name);

/* The bytes of block BLOCK written as TAG. */
void load_block_fill(unsigned char *buf, load_tag tag, uint32_t block);
/* Is BUF a whole, untorn block at index BLOCK? Its tag in *TAG. */
bool load_block_valid(const unsigned char *buf, uint32_t block, load_tag *tag);

int64_t load_now_ns(void);

#endif
