/* unionfuse-load: many processes on one union mount at once, then an
 * integrity check. Workers read, write in place (which copies lower files
 * up), replace files whole (write a temporary file, rename it over), truncate,
 * rename, exchange and unlink overlapping files, and check them, for a given
 * time. Changes to one path are serialised by a lock on that path in a
 * shared state file, which records what the path must hold afterwards; so
 * "what its last writer wrote" is exact, while the daemon still sees every
 * kind of request at once, on the same directories and files, with readers
 * that take no lock at all.
 *
 *   unionfuse-load prepare LOWER STATE [-d DIRS] [-f FILES] [-s SHARED] [-H HOT]
 *   unionfuse-load run ROOT STATE [-p PROCS] [-t SECONDS] [-S SEED] [-l LOGDIR]
 *                      [-F FRESH-MS] [-g GRACE] [-C]
 *   unionfuse-load check ROOT STATE [-l LOGDIR] [-C]
 *   unionfuse-load check-lower LOWER STATE
 *
 * prepare writes the lower layer: DIRS directories dNN of FILES files fNNNN.
 * The first SHARED of each directory are the paths every worker changes (the
 * first HOT of them most often); each of the rest is changed by one worker
 * only, once, as "a first write to a lower file": one every FRESH-MS
 * milliseconds per worker, so copy-ups go on for the whole run. check
 * compares every path and every directory listing under ROOT with STATE;
 * check-lower says the lower layer still holds what prepare wrote. -C: the
 * daemon is killed during the run; run takes the workers' failures as the
 * crash's doing, and check allows the paths in flight at that moment their
 * old or new state (whole blocks, or nothing).
 * Exit: 0 fine, 1 a wrong answer or content, 2 trouble, 3 a worker hung. */
#include "load_state.h"

#include "splitmix.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A file in each directory that nobody changes: every listing, however
 * busy the directory, must show it. */
#define ANCHOR "anchor"

#define EXIT_WRONG 1
#define EXIT_TROUBLE 2
#define EXIT_HUNG 3

enum load_op {
	OP_REPLACE, OP_BLOCKWRITE, OP_TRUNCATE, OP_UNLINK, OP_RENAME, OP_VERIFY,
	OP_READ, OP_TOUCH, OP_READDIR, OP_STAT, OP_FRESH, OP_KINDS
};

static const char *const op_names[OP_KINDS] = {
	"replace", "blockwrite", "truncate", "unlink", "rename", "verify",
	"read", "touch", "readdir", "stat", "fresh-copyup",
};

/* Out of 100, for the ops on shared paths (OP_FRESH is paced by time). */
static const unsigned op_weights[OP_KINDS] = { 12, 18, 5, 6, 9, 10, 20, 6, 6, 8, 0 };

struct worker {
	struct load_state *s;
	struct load_status *status;
	int id;
	unsigned writer;         /* id + 1: 0 is the lower layer */
	uint64_t seq;
	uint64_t rng;
	int rootfd;
	const char *root;
	FILE *log;
	int64_t deadline_ns, fresh_every_ns, next_fresh_ns;
	uint32_t fresh_next;     /* ordinal of this worker's next fresh path */
	unsigned char *buf;      /* LOAD_MAX_BLOCKS + 1 blocks */
	uint64_t count[OP_KINDS];
	uint64_t torn_unlocked_reads, duplicate_names;
};

/* ------------------------------------------------------------ helpers */

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "unionfuse-load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(EXIT_TROUBLE);
}

static uint32_t below(struct worker *w, uint32_t n)
{
	return n ? (uint32_t)(rng_next(&w->rng) % n) : 0;
}

static const char *name_of(const struct worker *w, int path, char *buf, size_t size)
{
	load_path_name(w->s, path, buf, size);
	return buf;
}

/* A wrong answer from the mount: say what, where, and end this worker. */
static void worker_fail(struct worker *w, int path, const char *fmt, ...)
{
	char name[32];
	va_list ap;

	fprintf(stderr, "unionfuse-load: worker %d, %s on %s: ", w->id,
		op_names[w->status->op >= 0 ? w->status->op : 0], name_of(w, path, name, sizeof(name)));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (w->log)
		fflush(w->log);
	_exit(EXIT_WRONG);
}

static void log_change(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (!w->log)
		return;
	fprintf(w->log, "%" PRId64 " w%d ", load_now_ns(), w->id);
	va_start(ap, fmt);
	vfprintf(w->log, fmt, ap);
	va_end(ap);
	fputc('\n', w->log);
}

/* The locked paths are what a worker has in flight: after a crash, the
 * check allows them either state. */
static void lock_path(struct worker *w, int path, bool exclusive)
{
	int err;

	w->status->path = path;
	err = exclusive ? pthread_rwlock_wrlock(&w->s->paths[path].lock)
			: pthread_rwlock_rdlock(&w->s->paths[path].lock);
	if (err)
		die("locking a path: %s", strerror(err));
	w->status->locked[w->status->locked[0] < 0 ? 0 : 1] = path;
}

static void unlock_path(struct worker *w, int path)
{
	w->status->locked[w->status->locked[0] == path ? 0 : 1] = -1;
	pthread_rwlock_unlock(&w->s->paths[path].lock);
}

/* Two paths, always in index order, so two renames cannot deadlock. */
static void lock_two(struct worker *w, int a, int b)
{
	lock_path(w, a < b ? a : b, true);
	if (a != b)
		lock_path(w, a < b ? b : a, true);
}

static void unlock_two(struct worker *w, int a, int b)
{
	unlock_path(w, a);
	if (a != b)
		unlock_path(w, b);
}

static int pick_shared(struct worker *w)
{
	const struct load_header *h = w->s->h;
	uint32_t dir = below(w, h->ndirs);
	uint32_t idx = below(w, 2) ? below(w, h->hot_per_dir) : below(w, h->shared_per_dir);

	return (int)(dir * h->files_per_dir + idx);
}

/* Lock-free readers look anywhere, fresh lower files included. */
static int pick_any(struct worker *w)
{
	return below(w, 2) ? pick_shared(w) : (int)below(w, (uint32_t)w->s->npaths);
}

/* ------------------------------------------------------------ file content */

static void fill_blocks(struct worker *w, load_tag tag, uint32_t first, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		load_block_fill(w->buf + (size_t)i * LOAD_BLOCK, tag, first + i);
}

static void write_all(struct worker *w, int path, int fd, const unsigned char *buf, size_t len,
		      off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, buf + done, len - done, off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			worker_fail(w, path, "pwrite at %jd: %s", (intmax_t)(off + (off_t)done),
				    n < 0 ? strerror(errno) : "wrote nothing");
		done += (size_t)n;
	}
}

/* Reads the whole file (at most LOAD_MAX_BLOCKS + 1 blocks); its length,
 * or -errno. */
static ssize_t read_file_at(int dirfd, const char *name, unsigned char *buf)
{
	size_t cap = (size_t)(LOAD_MAX_BLOCKS + 1) * LOAD_BLOCK, got = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	while (got < cap) {
		ssize_t n = read(fd, buf + got, cap - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err = -errno;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return err ? err : (ssize_t)got;
}

/* Does BUF (LEN bytes) hold exactly what P says? On a difference, *WHY. */
static bool content_matches(const struct load_path *p, const unsigned char *buf, size_t len,
			    char *why, size_t size)
{
	uint32_t b;
	load_tag found;

	if (len != (size_t)p->nblocks * LOAD_BLOCK) {
		snprintf(why, size, "size %zu, expected %u blocks (%u bytes)", len, p->nblocks,
			 p->nblocks * LOAD_BLOCK);
		return false;
	}
	for (b = 0; b < p->nblocks; b++) {
		const unsigned char *blk = buf + (size_t)b * LOAD_BLOCK;

		if (!load_block_valid(blk, b, &found)) {
			snprintf(why, size, "block %u is not a whole block of ours (torn or "
				 "misplaced), expected writer %u seq %ju", b,
				 load_tag_writer(p->blocks[b]), (uintmax_t)load_tag_seq(p->blocks[b]));
			return false;
		}
		if (found != p->blocks[b]) {
			snprintf(why, size, "block %u holds writer %u seq %ju, expected writer %u "
				 "seq %ju", b, load_tag_writer(found), (uintmax_t)load_tag_seq(found),
				 load_tag_writer(p->blocks[b]), (uintmax_t)load_tag_seq(p->blocks[b]));
			return false;
		}
	}
	return true;
}

/* ------------------------------------------------------------ locked ops */

/* The path against its record, under the shared lock. */
static void op_verify(struct worker *w, int path)
{
	struct load_path *p = &w->s->paths[path];
	char name[32], why[200];
	ssize_t len;

	lock_path(w, path, false);
	len = read_file_at(w->rootfd, name_of(w, path, name, sizeof(name)), w->buf);
	if (len == -ENOENT && !p->exists) {
		unlock_path(w, path);
		return;
	}
	if (len < 0)
		worker_fail(w, path, "read: %s (the path %s)", strerror((int)-len),
			    p->exists ? "exists" : "must not exist");
	if (!p->exists)
		worker_fail(w, path, "the path exists (%zd bytes), but its last change removed it", len);
	if (!content_matches(p, w->buf, (size_t)len, why, sizeof(why)))
		worker_fail(w, path, "%s (path version %ju)", why, (uintmax_t)p->version);
	unlock_path(w, path);
}

static void record_whole(struct load_path *p, load_tag tag, uint32_t n)
{
	uint32_t b;

	p->exists = 1;
	p->nblocks = n;
	for (b = 0; b < n; b++)
		p->blocks[b] = tag;
	p->version++;
}

/* A whole-file replace: the new content in a temporary file of the same
 * directory, renamed over the path, as editors and package managers do. */
static void op_replace(struct worker *w, int path)
{
	uint32_t n = below(w, 4) ? 1 + below(w, 8) : 1 + below(w, LOAD_MAX_BLOCKS / 4);
	load_tag tag = load_tag_make(w->writer, ++w->seq);
	char name[32], tmp[48];
	int fd;

	name_of(w, path, name, sizeof(name));
	snprintf(tmp, sizeof(tmp), "d%02d/.tmp-w%02d", load_path_dir(w->s, path), w->id);
	fill_blocks(w, tag, 0, n);
	lock_path(w, path, true);
	fd = openat(w->rootfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		worker_fail(w, path, "create %s: %s", tmp, strerror(errno));
	write_all(w, path, fd, w->buf, (size_t)n * LOAD_BLOCK, 0);
	/* Some do it the careful way, some don't. */
	if (below(w, 8) == 0 && fsync(fd) < 0)
		worker_fail(w, path, "fsync %s: %s", tmp, strerror(errno));
	if (close(fd) < 0)
		worker_fail(w, path, "close %s: %s", tmp, strerror(errno));
	if (renameat(w->rootfd, tmp, w->rootfd, name) < 0)
		worker_fail(w, path, "rename %s over it: %s", tmp, strerror(errno));
	record_whole(&w->s->paths[path], tag, n);
	log_change(w, "replace %s@%ju tag=%u:%ju blocks=%u", name,
		   (uintmax_t)w->s->paths[path].version, w->writer, (uintmax_t)w->seq, n);
	unlock_path(w, path);
}

/* Writes one to four blocks in place: the first write to a lower file is
 * what copies it up. A path that does not exist is created. */
static void op_blockwrite(struct worker *w, int path)
{
	struct load_path *p = &w->s->paths[path];
	load_tag tag = load_tag_make(w->writer, ++w->seq);
	uint32_t first, n = below(w, 4) ? 1 : 2 + below(w, 3), b;
	char name[32];
	int fd;

	name_of(w, path, name, sizeof(name));
	lock_path(w, path, true);
	first = p->exists ? below(w, p->nblocks + 1) : 0;
	if (first + n > LOAD_MAX_BLOCKS)
		first = LOAD_MAX_BLOCKS - n;
	fd = p->exists ? openat(w->rootfd, name, O_RDWR | O_CLOEXEC)
		       : openat(w->rootfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		worker_fail(w, path, "open (the path %s): %s", p->exists ? "exists" : "is absent",
			    strerror(errno));
	fill_blocks(w, tag, first, n);
	write_all(w, path, fd, w->buf, (size_t)n * LOAD_BLOCK, (off_t)first * LOAD_BLOCK);
	if (close(fd) < 0)
		worker_fail(w, path, "close: %s", strerror(errno));
	if (!p->exists)
		p->nblocks = 0;
	p->exists = 1;
	for (b = first; b < first + n; b++)
		p->blocks[b] = tag;
	if (first + n > p->nblocks)
		p->nblocks = first + n;
	p->version++;
	log_change(w, "blockwrite %s@%ju tag=%u:%ju blocks=%u..%u", name, (uintmax_t)p->version,
		   w->writer, (uintmax_t)w->seq, first, first + n - 1);
	unlock_path(w, path);
}

/* Shrinks by name (setattr: a copy-up without data when to zero). */
static void op_truncate(struct worker *w, int path)
{
	struct load_path *p = &w->s->paths[path];
	char name[32], *full;
	uint32_t n;

	name_of(w, path, name, sizeof(name));
	if (asprintf(&full, "%s/%s", w->root, name) < 0)
		die("out of memory");
	lock_path(w, path, true);
	if (!p->exists) {
		unlock_path(w, path);
		free(full);
		return;
	}
	n = below(w, 3) ? below(w, p->nblocks) : 0;
	if (truncate(full, (off_t)n * LOAD_BLOCK) < 0)
		worker_fail(w, path, "truncate to %u blocks: %s", n, strerror(errno));
	free(full);
	p->nblocks = n;
	p->version++;
	log_change(w, "truncate %s@%ju blocks=%u", name, (uintmax_t)p->version, n);
	unlock_path(w, path);
}

static void op_unlink(struct worker *w, int path)
{
	struct load_path *p = &w->s->paths[path];
	char name[32];

	name_of(w, path, name, sizeof(name));
	lock_path(w, path, true);
	if (!p->exists) {
		unlock_path(w, path);
		return;
	}
	if (unlinkat(w->rootfd, name, 0) < 0)
		worker_fail(w, path, "unlink: %s", strerror(errno));
	p->exists = 0;
	p->nblocks = 0;
	p->version++;
	log_change(w, "unlink %s@%ju", name, (uintmax_t)p->version);
	unlock_path(w, path);
}

static void swap_records(struct load_path *a, struct load_path *b)
{
	struct load_path tmp;
	size_t off = offsetof(struct load_path, exists);

	/* Everything but the locks, which stay with their paths. */
	memcpy((char *)&tmp + off, (char *)a + off, sizeof(tmp) - off);
	memcpy((char *)a + off, (char *)b + off, sizeof(tmp) - off);
	memcpy((char *)b + off, (char *)&tmp + off, sizeof(tmp) - off);
}

/* FROM onto TO: a plain rename, or an exchange when both exist. */
static void rename_locked(struct worker *w, int from, int to, const char *why)
{
	struct load_path *p = &w->s->paths[from], *q = &w->s->paths[to];
	bool exchange = q->exists && below(w, 4) == 0;
	uint64_t pv = p->version, qv = q->version;
	char a[32], b[32];

	name_of(w, from, a, sizeof(a));
	name_of(w, to, b, sizeof(b));
	if (renameat2(w->rootfd, a, w->rootfd, b, exchange ? RENAME_EXCHANGE : 0) < 0)
		worker_fail(w, from, "%s %s to %s (%s): %s", exchange ? "exchange" : "rename", a, b,
			    q->exists ? "which exists" : "which is absent", strerror(errno));
	swap_records(p, q);
	if (!exchange) {
		p->exists = 0;
		p->nblocks = 0;
	}
	p->version = pv + 1;
	q->version = qv + 1;
	log_change(w, "%s%s %s@%ju -> %s@%ju", why, exchange ? "exchange" : "rename", a,
		   (uintmax_t)p->version, b, (uintmax_t)q->version);
}

static void op_rename(struct worker *w, int from)
{
	int to = pick_shared(w);

	if (to == from)
		return;
	lock_two(w, from, to);
	if (w->s->paths[from].exists)
		rename_locked(w, from, to, "");
	unlock_two(w, from, to);
}

/* ------------------------------------------------------------ lock-free ops */

/* A read with no lock: it may race any change, so what it finds need only
 * be plausible. Anything odd is looked at again under the lock, where it
 * must be exact. */
static void op_read(struct worker *w, int path)
{
	char name[32];
	ssize_t len = read_file_at(w->rootfd, name_of(w, path, name, sizeof(name)), w->buf);
	load_tag tag;
	size_t b;

	if (len == -ENOENT)
		return;
	if (len < 0)
		worker_fail(w, path, "read: %s", strerror((int)-len));
	for (b = 0; (ssize_t)((b + 1) * LOAD_BLOCK) <= len; b++)
		if (!load_block_valid(w->buf + b * LOAD_BLOCK, (uint32_t)b, &tag))
			break;
	if (len % LOAD_BLOCK || (ssize_t)(b * LOAD_BLOCK) != len) {
		w->torn_unlocked_reads++;
		op_verify(w, path);
	}
}

static void op_stat(struct worker *w, int path)
{
	char name[32];
	struct stat st;

	if (fstatat(w->rootfd, name_of(w, path, name, sizeof(name)), &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			worker_fail(w, path, "stat: %s", strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode))
		worker_fail(w, path, "stat says mode %o, not a regular file", st.st_mode);
	if (st.st_size % LOAD_BLOCK)
		op_verify(w, path);
}

/* Open for writing and close, or set the times: a copy-up that changes no
 * data, racing whatever else happens to the path. */
static void op_touch(struct worker *w, int path)
{
	char name[32];
	int fd;

	name_of(w, path, name, sizeof(name));
	if (below(w, 2)) {
		if (utimensat(w->rootfd, name, NULL, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
			worker_fail(w, path, "utimensat: %s", strerror(errno));
		return;
	}
	fd = openat(w->rootfd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		worker_fail(w, path, "open for writing: %s", strerror(errno));
	if (fd >= 0 && close(fd) < 0)
		worker_fail(w, path, "close: %s", strerror(errno));
}

/* What a listing may show while others change the directory: our names,
 * workers' temporary files; never a marker or the daemon's scratch. */
static bool plausible_name(const struct load_state *s, int dir, const char *name)
{
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, ANCHOR) == 0)
		return true;
	if (strncmp(name, ".tmp-w", 6) == 0)
		return true;
	return load_path_index(s, dir, name) >= 0;
}

static void op_readdir(struct worker *w, int path)
{
	int dir = load_path_dir(w->s, path), fd;
	unsigned char *seen = w->buf;   /* one byte per file of the directory */
	int anchor_seen = 0;
	char dname[16];
	struct dirent *de;
	DIR *d;

	snprintf(dname, sizeof(dname), "d%02d", dir);
	fd = openat(w->rootfd, dname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd)))
		worker_fail(w, path, "opendir %s: %s", dname, strerror(errno));
	memset(seen, 0, w->s->h->files_per_dir);
	while ((errno = 0, de = readdir(d))) {
		int i = load_path_index(w->s, dir, de->d_name);

		if (!plausible_name(w->s, dir, de->d_name))
			worker_fail(w, path, "the listing of %s shows '%s'", dname, de->d_name);
		anchor_seen += strcmp(de->d_name, ANCHOR) == 0;
		/* Not wrong under POSIX while names change, but worth counting. */
		if (i >= 0 && seen[i % w->s->h->files_per_dir]++)
			w->duplicate_names++;
	}
	if (errno)
		worker_fail(w, path, "readdir %s: %s", dname, strerror(errno));
	closedir(d);
	/* It exists all along, so every listing must show it, once. */
	if (anchor_seen != 1)
		worker_fail(w, path, "the listing of %s shows %s %d times", dname, ANCHOR,
			    anchor_seen);
}

/* ------------------------------------------------------------ fresh copy-ups */

/* This worker's next lower file that nobody has touched; -1 when none is
 * left. Fresh files are dealt out round robin, across directories. */
static int next_fresh(struct worker *w)
{
	const struct load_header *h = w->s->h;
	uint32_t ordinal = w->fresh_next, dir, idx;

	dir = ordinal % h->ndirs;
	idx = h->shared_per_dir + ordinal / h->ndirs;
	if (idx >= h->files_per_dir)
		return -1;
	w->fresh_next += h->nworkers;
	return (int)(dir * h->files_per_dir + idx);
}

/* A first change to a file that so far lives only in the lower layer, by
 * each of the ways that copy up: open for writing, truncate, set the
 * times, rename. */
static void op_fresh(struct worker *w)
{
	int path = next_fresh(w);

	if (path < 0)
		return;
	switch (below(w, 4)) {
	case 0:
		op_truncate(w, path);
		break;
	case 1:
		op_touch(w, path);
		op_verify(w, path);
		break;
	case 2: {
		int to = pick_shared(w);

		lock_two(w, path, to);
		if (w->s->paths[path].exists)
			rename_locked(w, path, to, "fresh-");
		unlock_two(w, path, to);
		break;
	}
	default:
		op_blockwrite(w, path);
		break;
	}
}

/* ------------------------------------------------------------ workers */

static enum load_op pick_op(struct worker *w)
{
	unsigned total = 0, roll;
	int k;

	if (w->fresh_every_ns && load_now_ns() >= w->next_fresh_ns) {
		w->next_fresh_ns += w->fresh_every_ns;
		return OP_FRESH;
	}
	for (k = 0; k < OP_KINDS; k++)
		total += op_weights[k];
	roll = below(w, total);
	for (k = 0; k < OP_KINDS; k++) {
		if (roll < op_weights[k])
			break;
		roll -= op_weights[k];
	}
	return (enum load_op)k;
}

static void run_op(struct worker *w, enum load_op op)
{
	switch (op) {
	case OP_REPLACE: op_replace(w, pick_shared(w)); break;
	case OP_BLOCKWRITE: op_blockwrite(w, pick_shared(w)); break;
	case OP_TRUNCATE: op_truncate(w, pick_shared(w)); break;
	case OP_UNLINK: op_unlink(w, pick_shared(w)); break;
	case OP_RENAME: op_rename(w, pick_shared(w)); break;
	case OP_VERIFY: op_verify(w, pick_shared(w)); break;
	case OP_READ: op_read(w, pick_any(w)); break;
	case OP_TOUCH: op_touch(w, pick_shared(w)); break;
	case OP_READDIR: op_readdir(w, pick_any(w)); break;
	case OP_STAT: op_stat(w, pick_any(w)); break;
	case OP_FRESH: op_fresh(w); break;
	case OP_KINDS: break;
	}
}

static void note_latency(struct worker *w, enum load_op op, int64_t start)
{
	int64_t took = load_now_ns() - start;

	if (took > w->status->max_latency_ns) {
		w->status->max_latency_ns = took;
		w->status->max_latency_op = op;
	}
}

static void worker_report(const struct worker *w)
{
	int k;

	printf("worker %2d:", w->id);
	for (k = 0; k < OP_KINDS; k++)
		printf(" %s %ju", op_names[k], (uintmax_t)w->count[k]);
	printf(" | racy reads rechecked %ju, names seen twice %ju\n",
	       (uintmax_t)w->torn_unlocked_reads, (uintmax_t)w->duplicate_names);
	fflush(stdout);
}

static void worker_main(struct worker *w)
{
	while (load_now_ns() < w->deadline_ns) {
		enum load_op op = pick_op(w);
		int64_t start = load_now_ns();

		w->status->since_ns = start;
		w->status->op = op;
		run_op(w, op);
		note_latency(w, op, start);
		w->status->op = -1;
		w->status->ops++;
		w->count[op]++;
	}
	if (w->log && fclose(w->log) != 0)
		die("worker %d: writing its log: %s", w->id, strerror(errno));
	worker_report(w);
	_exit(0);
}

static FILE *open_worker_log(const char *logdir, int id)
{
	char path[4200];
	FILE *f;

	if (!logdir)
		return NULL;
	snprintf(path, sizeof(path), "%s/w%02d.log", logdir, id);
	f = fopen(path, "we");
	if (!f)
		die("%s: %s", path, strerror(errno));
	return f;
}

/* ------------------------------------------------------------ run */

struct run_options {
	int procs;
	double seconds;
	uint64_t seed;
	const char *logdir;
	int fresh_ms;
	int grace;
	bool crash_expected;     /* -C: the daemon will be killed under the load */
};

static pid_t start_worker(struct load_state *s, const char *root, int id,
			  const struct run_options *ro, int64_t deadline)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		struct worker w = {
			.s = s, .status = &s->h->status[id], .id = id, .writer = (unsigned)id + 1,
			.rng = ro->seed * 1000003 + (uint64_t)id, .root = root,
			.deadline_ns = deadline, .fresh_every_ns = (int64_t)ro->fresh_ms * 1000000,
			.fresh_next = (uint32_t)id,
		};

		w.next_fresh_ns = load_now_ns() + w.fresh_every_ns * (id + 1) / ro->procs;
		w.buf = malloc((size_t)(LOAD_MAX_BLOCKS + 1) * LOAD_BLOCK);
		w.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (!w.buf || w.rootfd < 0)
			die("worker %d: %s: %s", id, root, strerror(errno));
		w.log = open_worker_log(ro->logdir, id);
		worker_main(&w);
	}
	return pid;
}

static void report_hung(const struct load_state *s, const pid_t *pids, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		const struct load_status *st = &s->h->status[i];
		char name[32];

		if (!pids[i])
			continue;
		load_path_name(s, st->path >= 0 ? st->path : 0, name, sizeof(name));
		fprintf(stderr, "unionfuse-load: worker %d (pid %d) hung: %s (last path %s) for "
			"%.1fs\n", i, (int)pids[i], st->op >= 0 ? op_names[st->op] :
			"between operations", name, (double)(load_now_ns() - st->since_ns) / 1e9);
	}
}

static void kill_all(pid_t *pids, int n, int sig)
{
	int i;

	for (i = 0; i < n; i++)
		if (pids[i])
			kill(pids[i], sig);
}

/* Waits for every worker, until GIVE_UP. A worker that fails ends the run:
 * the others' state no longer says what the paths hold for sure. When a
 * crash is expected (the daemon is killed under the load), failures are
 * what the crash does; the workers still waiting on a lock their dead
 * holder kept are killed a moment later. */
static int wait_workers(struct load_state *s, pid_t *pids, int n, int64_t give_up,
			bool crash_expected)
{
	int left = n, rc = 0, i, status;

	while (left > 0) {
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid < 0)
			die("waitpid: %s", strerror(errno));
		if (pid == 0) {
			if (load_now_ns() > give_up) {
				if (!crash_expected)
					report_hung(s, pids, n);
				kill_all(pids, n, SIGKILL);
				while (waitpid(-1, NULL, 0) > 0)
					;
				return crash_expected ? 0 : EXIT_HUNG;
			}
			usleep(50000);
			continue;
		}
		for (i = 0; i < n; i++)
			if (pids[i] == pid)
				pids[i] = 0;
		left--;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		if (crash_expected) {
			if (give_up > load_now_ns() + 1000000000LL)
				give_up = load_now_ns() + 1000000000LL;
			continue;
		}
		if (!rc)
			kill_all(pids, n, SIGTERM);
		rc = WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_WRONG;
	}
	return rc;
}

static void run_summary(const struct load_state *s, int n, double seconds)
{
	uint64_t total = 0;
	int64_t worst = 0;
	int i, worst_op = 0;

	for (i = 0; i < n; i++) {
		total += s->h->status[i].ops;
		if (s->h->status[i].max_latency_ns > worst) {
			worst = s->h->status[i].max_latency_ns;
			worst_op = s->h->status[i].max_latency_op;
		}
	}
	printf("unionfuse-load: %d processes, %.0fs: %ju operations (%.0f/s); slowest "
	       "operation %.3fs (%s)\n", n, seconds, (uintmax_t)total, (double)total / seconds,
	       (double)worst / 1e9, op_names[worst_op]);
}

static int cmd_run(const char *root, const char *statefile, const struct run_options *ro)
{
	pid_t pids[LOAD_MAX_WORKERS];
	struct load_state s;
	int64_t deadline;
	int i, rc, err = load_state_open(statefile, &s);

	if (err)
		die("%s: %s", statefile, strerror(-err));
	if (ro->procs < 1 || ro->procs > LOAD_MAX_WORKERS)
		die("-p: between 1 and %d processes", LOAD_MAX_WORKERS);
	s.h->nworkers = (uint32_t)ro->procs;
	for (i = 0; i < ro->procs; i++)
		s.h->status[i] = (struct load_status){ .op = -1, .path = -1 };
	deadline = load_now_ns() + (int64_t)(ro->seconds * 1e9);
	for (i = 0; i < ro->procs; i++)
		pids[i] = start_worker(&s, root, i, ro, deadline);
	rc = wait_workers(&s, pids, ro->procs, deadline + (int64_t)ro->grace * 1000000000,
			  ro->crash_expected);
	run_summary(&s, ro->procs, ro->seconds);
	load_state_close(&s);
	return rc;
}

/* ------------------------------------------------------------ prepare */

/* The size of lower file I: mostly small, one in 64 up to 1 MiB. */
static uint32_t initial_blocks(int i)
{
	uint64_t state = (uint64_t)i * 7919;
	uint64_t r = rng_next(&state);

	if (i % 64 == 63)
		return 64 + (uint32_t)(r % (LOAD_MAX_BLOCKS - 64 + 1));
	return 1 + (uint32_t)(r % 8);
}

static void write_lower_file(int dirfd, const char *name, int i, unsigned char *buf)
{
	uint32_t n = initial_blocks(i), b;
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		die("%s: %s", name, strerror(errno));
	for (b = 0; b < n; b++)
		load_block_fill(buf + (size_t)b * LOAD_BLOCK, load_tag_make(0, (uint64_t)i), b);
	if (write(fd, buf, (size_t)n * LOAD_BLOCK) != (ssize_t)n * LOAD_BLOCK || close(fd) < 0)
		die("%s: write: %s", name, strerror(errno));
}

static int cmd_prepare(const char *lower, const char *statefile, uint32_t ndirs, uint32_t files,
		       uint32_t shared, uint32_t hot)
{
	unsigned char *buf = malloc((size_t)LOAD_MAX_BLOCKS * LOAD_BLOCK);
	struct load_state s;
	char name[32];
	int rootfd, i, err;

	if (!buf || shared > files || hot > shared || hot < 1 || ndirs > 99 || files > 9999)
		die("bad sizes (or out of memory)");
	err = load_state_create(statefile, &s, ndirs, files, shared, hot);
	if (err)
		die("%s: %s", statefile, strerror(-err));
	rootfd = open(lower, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		die("%s: %s", lower, strerror(errno));
	for (i = 0; i < (int)ndirs; i++) {
		snprintf(name, sizeof(name), "d%02d", i);
		if (mkdirat(rootfd, name, 0755) < 0 && errno != EEXIST)
			die("%s/%s: %s", lower, name, strerror(errno));
		snprintf(name, sizeof(name), "d%02d/%s", i, ANCHOR);
		write_lower_file(rootfd, name, -1 - i, buf);
	}
	for (i = 0; i < s.npaths; i++) {
		load_path_name(&s, i, name, sizeof(name));
		write_lower_file(rootfd, name, i, buf);
		record_whole(&s.paths[i], load_tag_make(0, (uint64_t)i), initial_blocks(i));
		s.paths[i].version = 0;
	}
	close(rootfd);
	load_state_close(&s);
	free(buf);
	return 0;
}

/* ------------------------------------------------------------ check */

/* Every change a worker logged to NAME, in time order, for the report. */
static void print_history(const char *logdir, const char *name)
{
	char cmd[8192];

	if (!logdir)
		return;
	fprintf(stderr, "  last changes to %s (ns w op path@version ...):\n", name);
	fflush(stderr);
	/* A shell pipeline is the clearest way to merge and filter the logs. */
	snprintf(cmd, sizeof(cmd), "cat '%s'/w*.log 2>/dev/null | grep -F ' %s@' | sort -n | "
		 "tail -8 | sed 's/^/    /' >&2", logdir, name);
	if (system(cmd) != 0)
		fprintf(stderr, "    (no log lines)\n");
}

/* Was path I being changed when the daemon was killed? Then either its
 * old or its new state is right, and the check asks only that it be
 * absent or made of whole blocks. */
static bool in_flight(const struct load_state *s, int i)
{
	uint32_t w;

	for (w = 0; w < s->h->nworkers; w++)
		if (s->h->status[w].locked[0] == i || s->h->status[w].locked[1] == i)
			return true;
	return false;
}

static bool whole_blocks(const unsigned char *buf, ssize_t len)
{
	load_tag tag;
	ssize_t b;

	if (len % LOAD_BLOCK)
		return false;
	for (b = 0; b < len / LOAD_BLOCK; b++)
		if (!load_block_valid(buf + b * LOAD_BLOCK, (uint32_t)b, &tag))
			return false;
	return true;
}

static int check_path(const struct load_state *s, int rootfd, int i, unsigned char *buf,
		      const char *logdir, bool crashed)
{
	const struct load_path *p = &s->paths[i];
	char name[32], why[200];
	ssize_t len;

	load_path_name(s, i, name, sizeof(name));
	len = read_file_at(rootfd, name, buf);
	if (len == -ENOENT && !p->exists)
		return 0;
	if (crashed && in_flight(s, i) && (len == -ENOENT || (len >= 0 && whole_blocks(buf, len))))
		return 0;
	if (len < 0)
		snprintf(why, sizeof(why), "%s, but it %s", strerror((int)-len),
			 p->exists ? "must exist" : "must not exist");
	else if (!p->exists)
		snprintf(why, sizeof(why), "present (%zd bytes), but its last change removed it", len);
	else if (content_matches(p, buf, (size_t)len, why, sizeof(why)))
		return 0;
	fprintf(stderr, "unionfuse-load: check: %s (version %ju): %s\n", name,
		(uintmax_t)p->version, why);
	print_history(logdir, name);
	return 1;
}

/* 0 if DIR's anchor holds what prepare wrote. */
static int check_anchor(int rootfd, int dir)
{
	unsigned char *buf = malloc((size_t)(LOAD_MAX_BLOCKS + 1) * LOAD_BLOCK);
	struct load_path want = { .exists = 1 };
	char name[32], why[200];
	ssize_t len;
	int bad;

	if (!buf)
		die("out of memory");
	snprintf(name, sizeof(name), "d%02d/%s", dir, ANCHOR);
	record_whole(&want, load_tag_make(0, (uint64_t)(-1 - dir)), initial_blocks(-1 - dir));
	len = read_file_at(rootfd, name, buf);
	bad = len < 0 || !content_matches(&want, buf, (size_t)len, why, sizeof(why));
	free(buf);
	return bad;
}

/* The listing of each directory: exactly the paths that exist, and the
 * directory's anchor. After a crash, paths in flight may be there or not,
 * and workers' temporary files may be left. */
static int check_listing(const struct load_state *s, int rootfd, int dir, bool crashed)
{
	uint32_t f = s->h->files_per_dir, k;
	unsigned char *seen = calloc(f, 1);
	char dname[16];
	struct dirent *de;
	int fd, bad = 0, anchor_seen = 0;
	DIR *d;

	snprintf(dname, sizeof(dname), "d%02d", dir);
	fd = openat(rootfd, dname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!seen || fd < 0 || !(d = fdopendir(fd)))
		die("check: opendir %s: %s", dname, strerror(errno));
	while ((de = readdir(d))) {
		int i = load_path_index(s, dir, de->d_name);

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (strcmp(de->d_name, ANCHOR) == 0) {
			anchor_seen++;
			continue;
		}
		if (crashed && (strncmp(de->d_name, ".tmp-w", 6) == 0 || (i >= 0 && in_flight(s, i)))) {
			if (i >= 0)
				seen[i % f]++;
			continue;
		}
		if (i < 0 || seen[i % f]++ || !s->paths[i].exists) {
			struct stat st;
			/* A stale listing, or a real entry? The answer to a lookup
			 * tells them apart. */
			bool there = fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0;

			fprintf(stderr, "unionfuse-load: check: %s lists '%s'%s (a lookup of it "
				"says: %s)\n", dname, de->d_name,
				i < 0 ? "" : seen[i % f] > 1 ? " twice" : ", which must not exist",
				there ? "it exists" : strerror(errno));
			bad++;
		}
	}
	closedir(d);
	if (anchor_seen != 1 || check_anchor(rootfd, dir)) {
		fprintf(stderr, "unionfuse-load: check: %s lists %s %d times, or it is not "
			"as prepare wrote it\n", dname, ANCHOR, anchor_seen);
		bad++;
	}
	for (k = 0; k < f; k++)
		if (!seen[k] && s->paths[dir * (int)f + (int)k].exists &&
		    !(crashed && in_flight(s, dir * (int)f + (int)k))) {
			fprintf(stderr, "unionfuse-load: check: %s does not list f%04u, which exists\n",
				dname, k);
			bad++;
		}
	free(seen);
	return bad;
}

static int check_tree(const char *root, const struct load_state *s, const char *logdir,
		      bool initial, bool crashed)
{
	unsigned char *buf = malloc((size_t)(LOAD_MAX_BLOCKS + 1) * LOAD_BLOCK);
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int i, bad = 0, present = 0;

	if (!buf || rootfd < 0)
		die("check: %s: %s", root, strerror(errno));
	for (i = 0; i < s->npaths && bad < 10; i++) {
		bad += check_path(s, rootfd, i, buf, logdir, crashed);
		present += s->paths[i].exists ? 1 : 0;
	}
	for (i = 0; i < (int)s->h->ndirs && bad < 10; i++)
		bad += check_listing(s, rootfd, i, crashed);
	close(rootfd);
	free(buf);
	if (bad)
		return EXIT_WRONG;
	printf("unionfuse-load: %s: %s: %d paths, %d present, every one as %s\n", root,
	       initial ? "the lower layer" : "checked", s->npaths, present,
	       initial ? "prepare wrote it" : crashed ? "its last writer left it, but for "
	       "those in flight at the crash, which hold whole blocks or nothing" :
	       "its last writer left it");
	return 0;
}

static int cmd_check(const char *root, const char *statefile, const char *logdir, bool crashed)
{
	struct load_state s;
	int err = load_state_open(statefile, &s), rc;

	if (err)
		die("%s: %s", statefile, strerror(-err));
	rc = check_tree(root, &s, logdir, false, crashed);
	load_state_close(&s);
	return rc;
}

/* The lower layer against what prepare wrote: a state of its own, in
 * memory, rebuilt from the same functions. */
static int cmd_check_lower(const char *lower, const char *statefile)
{
	struct load_state s, init;
	int err = load_state_open(statefile, &s), rc, i;
	size_t len;

	if (err)
		die("%s: %s", statefile, strerror(-err));
	len = s.map_len;
	init.h = malloc(len);
	if (!init.h)
		die("out of memory");
	memcpy(init.h, s.h, sizeof(*init.h));
	init.paths = (struct load_path *)((char *)init.h + sizeof(struct load_header));
	init.npaths = s.npaths;
	for (i = 0; i < init.npaths; i++)
		record_whole(&init.paths[i], load_tag_make(0, (uint64_t)i), initial_blocks(i));
	rc = check_tree(lower, &init, NULL, true, false);
	free(init.h);
	load_state_close(&s);
	return rc;
}

/* ------------------------------------------------------------ command line */

static void usage(void)
{
	fprintf(stderr,
		"usage: unionfuse-load prepare LOWER STATE [-d DIRS] [-f FILES] [-s SHARED] [-H HOT]\n"
		"       unionfuse-load run ROOT STATE [-p PROCS] [-t SECONDS] [-S SEED] [-l LOGDIR]\n"
		"                          [-F FRESH-MS] [-g GRACE] [-C]\n"
		"       unionfuse-load check ROOT STATE [-l LOGDIR] [-C]\n"
		"       unionfuse-load check-lower LOWER STATE\n");
	exit(EXIT_TROUBLE);
}

static long number(const char *s)
{
	char *end;
	long v = strtol(s, &end, 0);

	if (end == s || *end || v < 0)
		die("not a number: %s", s);
	return v;
}

int main(int argc, char **argv)
{
	struct run_options ro = { .procs = 16, .seconds = 60, .seed = 1, .fresh_ms = 200,
				  .grace = 60 };
	uint32_t ndirs = 8, files = 640, shared = 32, hot = 2;
	const char *cmd, *a, *b;
	int c;

	if (argc < 4)
		usage();
	cmd = argv[1];
	a = argv[2];
	b = argv[3];
	optind = 4;
	while ((c = getopt(argc, argv, "d:f:s:H:p:t:S:l:F:g:C")) != -1) {
		switch (c) {
		case 'd': ndirs = (uint32_t)number(optarg); break;
		case 'f': files = (uint32_t)number(optarg); break;
		case 's': shared = (uint32_t)number(optarg); break;
		case 'H': hot = (uint32_t)number(optarg); break;
		case 'p': ro.procs = (int)number(optarg); break;
		case 't': ro.seconds = strtod(optarg, NULL); break;
		case 'S': ro.seed = (uint64_t)number(optarg); break;
		case 'l': ro.logdir = optarg; break;
		case 'F': ro.fresh_ms = (int)number(optarg); break;
		case 'g': ro.grace = (int)number(optarg); break;
		case 'C': ro.crash_expected = true; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (strcmp(cmd, "prepare") == 0)
		return cmd_prepare(a, b, ndirs, files, shared, hot);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(a, b, &ro);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(a, b, ro.logdir, ro.crash_expected);
	if (strcmp(cmd, "check-lower") == 0)
		return cmd_check_lower(a, b);
	usage();
	return EXIT_TROUBLE;
}
