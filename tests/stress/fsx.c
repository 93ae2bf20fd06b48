/* unionfuse-fsx: a file-data exerciser in the spirit of fsx. It drives one
 * file of a union mount through random reads, writes, truncates, mmap reads
 * and writes, fallocate, copy_file_range and fsync, and checks the file
 * against an in-memory copy (the model) after every operation. The file
 * starts in a lower layer, opened read-only: the first operation that
 * changes it opens it for writing, which is what copies it up.
 *
 *   unionfuse-fsx init   [-S SEED] [-l MAXLEN] [-b BASE] LOWERFILE
 *   unionfuse-fsx run    [-N OPS] [-S SEED] [-l MAXLEN] [-o MAXOPLEN] [-b BASE]
 *                        [-u UPPERFILE] [-w MODELFILE] [-c EVERY] [-r REOPEN%]
 *                        [-L LOGLEN] [-R] [-q] FILE
 *   unionfuse-fsx verify [-b BASE] FILE MODELFILE      (-S, -l, -o ignored)
 *
 * init writes the file's first content (a function of the seed) into the
 * lower layer, before the mount; run must be given the same -S, -l and -b.
 * -b BASE puts the whole play at offset BASE and beyond (say 5G: offsets past
 * 4 GiB, and a sparse copy-up); the first BASE bytes are a hole that must
 * read as zeros. -u checks the upper layer's copy too, straight from the
 * disk, after every operation once the file is copied up (every write
 * reaches it synchronously: there is no writeback cache). -w saves the
 * model's final bytes (from BASE on) for verify, after a remount. -R keeps
 * the read-only descriptor opened before the copy-up and reads through it
 * as well: POSIX wants it to see every later write.
 *
 * On a mismatch: the last LOGLEN operations, the offset of the first
 * difference, the bytes around it and whose they look like; exit 1.
 * Exit 2: bad usage or an environment problem (not a finding). */
#include "splitmix.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_MISMATCH 1
#define EXIT_TROUBLE 2

enum op_kind {
	OP_READ, OP_WRITE, OP_MAPREAD, OP_MAPWRITE, OP_TRUNCATE, OP_FALLOCATE,
	OP_COPYRANGE, OP_FSYNC, OP_REOPEN, OP_KINDS
};

static const char *const op_names[OP_KINDS] = {
	"read", "write", "mapread", "mapwrite", "truncate", "fallocate",
	"copyrange", "fsync", "reopen",
};

/* Out of 100: reads and writes dominate, as in fsx. */
static const unsigned op_weights[OP_KINDS] = { 22, 22, 9, 9, 9, 10, 7, 7, 5 };

enum falloc_kind { FA_ALLOC, FA_KEEP_SIZE, FA_PUNCH, FA_ZERO, FA_ZERO_KEEP, FA_KINDS };

static const int falloc_modes[FA_KINDS] = {
	0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	FALLOC_FL_ZERO_RANGE, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
};

static const char *const falloc_names[FA_KINDS] = {
	"alloc", "keep-size", "punch-hole", "zero-range", "zero-range,keep-size",
};

/* One operation as the log keeps it: enough to replay it by hand. */
struct op_record {
	uint64_t n;          /* 1-based operation number; 0: the initial content */
	enum op_kind kind;
	int sub;             /* fallocate: enum falloc_kind; fsync: 1 = fdatasync */
	off_t off, len;      /* relative to BASE */
	off_t src;           /* copyrange: source offset */
	off_t size_before, size_after;
	bool via_early_fd;   /* read through the descriptor opened before copy-up */
};

struct options {
	uint64_t ops, seed;
	off_t maxlen, maxoplen, base;
	const char *file, *upper, *model_out;
	uint64_t check_every;
	unsigned reopen_pct;
	unsigned loglen;
	bool early_reader, quiet;
};

/* The state of a run. Offsets in the model and the log are relative to
 * BASE; only syscalls see absolute ones. */
struct fsx {
	struct options opt;
	uint64_t rng;
	unsigned char *model;    /* MAXLEN bytes; [size, MAXLEN) kept zero */
	off_t size;
	unsigned char *scratch;  /* MAXLEN bytes for reading back */
	int fd;                  /* read-write; -1 until the first change */
	int early_fd;            /* read-only, opened before the copy-up */
	bool falloc_ok[FA_KINDS];
	bool copyrange_ok;
	struct op_record *log;   /* ring of the last LOGLEN operations */
	uint64_t done;
	uint64_t count[OP_KINDS];
	long pagesize;
};

/* ------------------------------------------------------------ randomness */

static uint64_t rng_below(struct fsx *f, uint64_t n)
{
	return n ? rng_next(&f->rng) % n : 0;
}

/* The byte operation N writes at file offset POS (relative to BASE). Every
 * operation writes different bytes, so a byte found in the wrong place says
 * which operation put it there. */
static uint64_t pattern_word(uint64_t seed, uint64_t n, uint64_t word)
{
	uint64_t state = seed ^ (n * 0xd1b54a32d192ed03ULL) ^ (word * 0x8cb92ba72f3d8dd7ULL);

	return rng_next(&state);
}

static unsigned char pattern_byte(uint64_t seed, uint64_t n, uint64_t pos)
{
	return (unsigned char)(pattern_word(seed, n, pos / 8) >> (8 * (pos % 8)));
}

static void pattern_fill(unsigned char *buf, uint64_t seed, uint64_t n, uint64_t pos, size_t len)
{
	size_t i = 0;

	while (i < len && (pos + i) % 8)
		buf[i] = pattern_byte(seed, n, pos + i), i++;
	for (; i + 8 <= len; i += 8) {
		uint64_t w = pattern_word(seed, n, (pos + i) / 8);

		memcpy(buf + i, &w, 8);  /* little-endian, as pattern_byte reads it */
	}
	for (; i < len; i++)
		buf[i] = pattern_byte(seed, n, pos + i);
}

/* ------------------------------------------------------------ reporting */

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "unionfuse-fsx: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(EXIT_TROUBLE);
}

static void describe_op(const struct op_record *r, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%-9s", op_names[r->kind]);

	switch (r->kind) {
	case OP_FSYNC:
		snprintf(buf + n, size - (size_t)n, " %s", r->sub ? "fdatasync" : "fsync");
		return;
	case OP_REOPEN:
		return;
	case OP_TRUNCATE:
		snprintf(buf + n, size - (size_t)n, " to 0x%jx", (intmax_t)r->off);
		return;
	case OP_FALLOCATE:
		n += snprintf(buf + n, size - (size_t)n, " %s", falloc_names[r->sub]);
		break;
	case OP_COPYRANGE:
		n += snprintf(buf + n, size - (size_t)n, " from 0x%jx", (intmax_t)r->src);
		break;
	default:
		break;
	}
	snprintf(buf + n, size - (size_t)n, " 0x%jx..0x%jx (0x%jx bytes)%s", (intmax_t)r->off,
		 (intmax_t)(r->off + r->len), (intmax_t)r->len,
		 r->via_early_fd ? " via the early read-only fd" : "");
}

static void print_log(const struct fsx *f)
{
	uint64_t first = f->done > f->opt.loglen ? f->done - f->opt.loglen : 0, i;
	char what[160];

	fprintf(stderr, "last %ju operations (seed %ju, base 0x%jx):\n",
		(uintmax_t)(f->done - first), (uintmax_t)f->opt.seed, (intmax_t)f->opt.base);
	for (i = first; i < f->done; i++) {
		const struct op_record *r = &f->log[i % f->opt.loglen];

		describe_op(r, what, sizeof(what));
		fprintf(stderr, "  #%-7ju %s  size 0x%jx -> 0x%jx\n", (uintmax_t)r->n, what,
			(intmax_t)r->size_before, (intmax_t)r->size_after);
	}
}

/* Does operation N's pattern match the LEN bytes GOT at POS? */
static bool pattern_matches(uint64_t seed, uint64_t n, const unsigned char *got, uint64_t pos,
			    size_t len)
{
	size_t k;

	for (k = 0; k < len; k++)
		if (got[k] != pattern_byte(seed, n, pos + k))
			return false;
	return true;
}

/* Whose bytes are these? Zeros, the most recent logged operation whose
 * pattern matches them, or the initial (lower) content. A guess: bytes
 * moved by copy_file_range carry their writer's pattern elsewhere. */
static void guess_origin(const struct fsx *f, const unsigned char *got, off_t pos, size_t len)
{
	uint64_t first = f->done > f->opt.loglen ? f->done - f->opt.loglen : 0, i;
	size_t want = len < 8 ? len : 8, k;

	for (k = 0; k < want && got[k] == 0; k++)
		;
	if (k == want) {
		fprintf(stderr, "  the bytes found there are zeros\n");
		return;
	}
	for (i = f->done; i > first; i--) {
		uint64_t n = f->log[(i - 1) % f->opt.loglen].n;

		if (pattern_matches(f->opt.seed, n, got, (uint64_t)pos, want)) {
			fprintf(stderr, "  the bytes found there are what operation #%ju wrote\n",
				(uintmax_t)n);
			return;
		}
	}
	if (pattern_matches(f->opt.seed, 0, got, (uint64_t)pos, want))
		fprintf(stderr, "  the bytes found there are the initial (lower) content\n");
	else
		fprintf(stderr, "  the bytes found there match no logged operation\n");
}

static void hexdump(const char *label, const unsigned char *p, off_t at, size_t len)
{
	size_t i;

	fprintf(stderr, "  %-8s @0x%jx:", label, (intmax_t)at);
	for (i = 0; i < len; i++)
		fprintf(stderr, " %02x", p[i]);
	fprintf(stderr, "\n");
}

/* A mismatch is the finding this program exists for: say everything. */
static void fail_content(struct fsx *f, const char *where, off_t start,
			 const unsigned char *got, size_t len)
{
	const unsigned char *want = f->model + start;
	size_t d = 0, from, show;

	while (d < len && got[d] == want[d])
		d++;
	fprintf(stderr, "unionfuse-fsx: MISMATCH in %s after operation #%ju: first difference "
		"at offset 0x%jx (absolute 0x%jx)\n", where, (uintmax_t)f->done,
		(intmax_t)(start + (off_t)d), (intmax_t)(f->opt.base + start + (off_t)d));
	from = d >= 8 ? d - 8 : 0;
	show = len - from < 32 ? len - from : 32;
	hexdump("expected", want + from, start + (off_t)from, show);
	hexdump("got", got + from, start + (off_t)from, show);
	guess_origin(f, got + d, start + (off_t)d, len - d);
	print_log(f);
	exit(EXIT_MISMATCH);
}

static void fail_op(struct fsx *f, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "unionfuse-fsx: FAILED after operation #%ju: ", (uintmax_t)f->done);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	print_log(f);
	exit(EXIT_MISMATCH);
}

/* ------------------------------------------------------------ file access */

static void read_exact(struct fsx *f, int fd, unsigned char *buf, off_t off, size_t len,
		       const char *what)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, f->opt.base + off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail_op(f, "%s: pread at 0x%jx: %s", what, (intmax_t)(off + (off_t)got),
				strerror(errno));
		if (n == 0)
			fail_op(f, "%s: pread at 0x%jx: end of file, 0x%zx bytes short (size "
				"0x%jx expected)", what, (intmax_t)(off + (off_t)got), len - got,
				(intmax_t)f->size);
		got += (size_t)n;
	}
}

static void write_exact(struct fsx *f, const unsigned char *buf, off_t off, size_t len)
{
	size_t put = 0;

	while (put < len) {
		ssize_t n = pwrite(f->fd, buf + put, len - put, f->opt.base + off + (off_t)put);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail_op(f, "pwrite at 0x%jx, 0x%zx bytes: %s", (intmax_t)(off + (off_t)put),
				len - put, n < 0 ? strerror(errno) : "wrote nothing");
		put += (size_t)n;
	}
}

/* The descriptor for reading: the read-write one once the file is copied
 * up, else the read-only one opened at the start. */
static int read_fd(const struct fsx *f)
{
	return f->fd >= 0 ? f->fd : f->early_fd;
}

/* The first change: open for writing, which copies the file up. */
static void ensure_writable(struct fsx *f)
{
	if (f->fd >= 0)
		return;
	f->fd = open(f->opt.file, O_RDWR | O_CLOEXEC);
	if (f->fd < 0)
		fail_op(f, "open %s for writing (copy-up): %s", f->opt.file, strerror(errno));
	if (!f->opt.early_reader) {
		close(f->early_fd);
		f->early_fd = -1;
	}
}

/* ------------------------------------------------------------ checks */

static void check_size(struct fsx *f)
{
	struct stat st;

	if (fstat(read_fd(f), &st) < 0)
		fail_op(f, "fstat: %s", strerror(errno));
	if (st.st_size != f->opt.base + f->size)
		fail_op(f, "fstat size 0x%jx, expected 0x%jx", (intmax_t)(st.st_size - f->opt.base),
			(intmax_t)f->size);
	/* A second way in: the size the kernel caches for the name. */
	if (stat(f->opt.file, &st) < 0)
		fail_op(f, "stat %s: %s", f->opt.file, strerror(errno));
	if (st.st_size != f->opt.base + f->size)
		fail_op(f, "stat size 0x%jx, expected 0x%jx", (intmax_t)(st.st_size - f->opt.base),
			(intmax_t)f->size);
}

static void check_range_fd(struct fsx *f, int fd, off_t off, off_t len, const char *where)
{
	if (off >= f->size || len <= 0)
		return;
	if (off + len > f->size)
		len = f->size - off;
	read_exact(f, fd, f->scratch, off, (size_t)len, where);
	if (memcmp(f->scratch, f->model + off, (size_t)len) != 0)
		fail_content(f, where, off, f->scratch, (size_t)len);
}

/* The upper layer's copy, read straight from the disk, must already hold
 * every change: writes, truncates and msync all reach it synchronously.
 * Before the first change there must be none: reading copies nothing up. */
static void check_upper(struct fsx *f)
{
	struct stat st;
	int fd;

	if (!f->opt.upper)
		return;
	if (f->fd < 0) {
		if (lstat(f->opt.upper, &st) == 0 || errno != ENOENT)
			fail_op(f, "%s exists before anything changed the file", f->opt.upper);
		return;
	}
	fd = open(f->opt.upper, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_op(f, "open the upper copy %s: %s", f->opt.upper, strerror(errno));
	if (fstat(fd, &st) < 0)
		fail_op(f, "fstat the upper copy: %s", strerror(errno));
	if (st.st_size != f->opt.base + f->size)
		fail_op(f, "upper copy size 0x%jx, expected 0x%jx",
			(intmax_t)(st.st_size - f->opt.base), (intmax_t)f->size);
	check_range_fd(f, fd, 0, f->size, "the upper layer's copy");
	close(fd);
}

static void check_all(struct fsx *f)
{
	check_size(f);
	/* The early fd first: after a reopen the kernel has no pages cached,
	 * and what this read brings in comes through that fd's own handle. */
	if (f->opt.early_reader && f->early_fd >= 0 && f->fd >= 0)
		check_range_fd(f, f->early_fd, 0, f->size, "a whole-file read through the early "
			       "read-only fd (opened before the copy-up)");
	check_range_fd(f, read_fd(f), 0, f->size, "a read of the whole file");
	check_upper(f);
}

/* ------------------------------------------------------------ operations */

static void pick_range(struct fsx *f, off_t limit, off_t *off, off_t *len)
{
	*off = limit > 0 ? (off_t)rng_below(f, (uint64_t)limit) : 0;
	*len = (off_t)rng_below(f, (uint64_t)f->opt.maxoplen) + 1;
	if (*off + *len > f->opt.maxlen)
		*len = f->opt.maxlen - *off;
}

static void model_set_size(struct fsx *f, off_t size)
{
	if (size < f->size)
		memset(f->model + size, 0, (size_t)(f->size - size));
	f->size = size;
}

static void do_read(struct fsx *f, struct op_record *r)
{
	int fd = read_fd(f);

	pick_range(f, f->size, &r->off, &r->len);
	/* Half the reads, once the file is copied up, through the early fd. */
	if (f->opt.early_reader && f->early_fd >= 0 && f->fd >= 0 && rng_below(f, 2)) {
		fd = f->early_fd;
		r->via_early_fd = true;
	}
	check_range_fd(f, fd, r->off, r->len, r->via_early_fd ? "a read through the early "
		       "read-only fd (opened before the copy-up)" : "a read");
}

static void do_write(struct fsx *f, struct op_record *r)
{
	/* Some writes start past the end: they leave a hole behind. */
	pick_range(f, f->size + f->opt.maxoplen < f->opt.maxlen ? f->size + f->opt.maxoplen
								 : f->opt.maxlen, &r->off, &r->len);
	if (r->len <= 0)
		return;
	ensure_writable(f);
	pattern_fill(f->model + r->off, f->opt.seed, r->n, (uint64_t)r->off, (size_t)r->len);
	write_exact(f, f->model + r->off, r->off, (size_t)r->len);
	if (r->off + r->len > f->size)
		f->size = r->off + r->len;
}

/* A mapping of [OFF, OFF+LEN) relative to BASE; *MAP is page aligned and
 * *DELTA bytes before OFF. */
static unsigned char *map_range(struct fsx *f, int fd, int prot, off_t off, off_t len,
				size_t *maplen, size_t *delta)
{
	off_t abs = f->opt.base + off, page = abs & ~((off_t)f->pagesize - 1);
	unsigned char *p;

	*delta = (size_t)(abs - page);
	*maplen = *delta + (size_t)len;
	p = mmap(NULL, *maplen, prot, MAP_SHARED, fd, page);
	if (p == MAP_FAILED)
		fail_op(f, "mmap 0x%jx..0x%jx: %s", (intmax_t)off, (intmax_t)(off + len),
			strerror(errno));
	return p;
}

static void do_mapread(struct fsx *f, struct op_record *r)
{
	size_t maplen, delta;
	unsigned char *p;

	pick_range(f, f->size, &r->off, &r->len);
	if (r->off + r->len > f->size)
		r->len = f->size - r->off;
	if (r->len <= 0)
		return;
	p = map_range(f, read_fd(f), PROT_READ, r->off, r->len, &maplen, &delta);
	if (memcmp(p + delta, f->model + r->off, (size_t)r->len) != 0) {
		memcpy(f->scratch, p + delta, (size_t)r->len);
		munmap(p, maplen);
		fail_content(f, "an mmap read", r->off, f->scratch, (size_t)r->len);
	}
	if (munmap(p, maplen) < 0)
		fail_op(f, "munmap: %s", strerror(errno));
}

/* As fsx does: a mapped write past the end first extends the file, since a
 * mapping cannot. */
static void do_mapwrite(struct fsx *f, struct op_record *r)
{
	size_t maplen, delta;
	unsigned char *p;

	pick_range(f, f->size + f->opt.maxoplen < f->opt.maxlen ? f->size + f->opt.maxoplen
								 : f->opt.maxlen, &r->off, &r->len);
	if (r->len <= 0)
		return;
	ensure_writable(f);
	if (r->off + r->len > f->size) {
		if (ftruncate(f->fd, f->opt.base + r->off + r->len) < 0)
			fail_op(f, "ftruncate to 0x%jx before a mapped write: %s",
				(intmax_t)(r->off + r->len), strerror(errno));
		f->size = r->off + r->len;
	}
	pattern_fill(f->model + r->off, f->opt.seed, r->n, (uint64_t)r->off, (size_t)r->len);
	p = map_range(f, f->fd, PROT_READ | PROT_WRITE, r->off, r->len, &maplen, &delta);
	memcpy(p + delta, f->model + r->off, (size_t)r->len);
	if (msync(p, maplen, MS_SYNC) < 0)
		fail_op(f, "msync: %s", strerror(errno));
	if (munmap(p, maplen) < 0)
		fail_op(f, "munmap: %s", strerror(errno));
}

static void do_truncate(struct fsx *f, struct op_record *r)
{
	r->off = (off_t)rng_below(f, (uint64_t)f->opt.maxlen + 1);
	ensure_writable(f);
	if (ftruncate(f->fd, f->opt.base + r->off) < 0)
		fail_op(f, "ftruncate to 0x%jx: %s", (intmax_t)r->off, strerror(errno));
	model_set_size(f, r->off);
}

static bool any_falloc(const struct fsx *f)
{
	int i;

	for (i = 0; i < FA_KINDS; i++)
		if (f->falloc_ok[i])
			return true;
	return false;
}

/* What fallocate MODE does to the model: zeros where it punches or zeroes,
 * a longer file where it may extend. */
static void model_falloc(struct fsx *f, int kind, off_t off, off_t len)
{
	bool zeroes = kind == FA_PUNCH || kind == FA_ZERO || kind == FA_ZERO_KEEP;
	bool may_extend = kind == FA_ALLOC || kind == FA_ZERO;
	off_t end = off + len;
	/* Past the end the model is zeros already. */
	off_t zero_end = end < f->size ? end : f->size;

	if (zeroes && zero_end > off)
		memset(f->model + off, 0, (size_t)(zero_end - off));
	if (may_extend && end > f->size)
		f->size = end;
}

static void do_fallocate(struct fsx *f, struct op_record *r)
{
	int kind;

	if (!any_falloc(f))
		return;
	do
		kind = (int)rng_below(f, FA_KINDS);
	while (!f->falloc_ok[kind]);
	r->sub = kind;
	pick_range(f, f->size + f->opt.maxoplen < f->opt.maxlen ? f->size + f->opt.maxoplen
								 : f->opt.maxlen, &r->off, &r->len);
	if (r->len <= 0)
		return;
	ensure_writable(f);
	if (fallocate(f->fd, falloc_modes[kind], f->opt.base + r->off, r->len) < 0) {
		if (errno != EOPNOTSUPP)
			fail_op(f, "fallocate %s 0x%jx..0x%jx: %s", falloc_names[kind],
				(intmax_t)r->off, (intmax_t)(r->off + r->len), strerror(errno));
		/* The layer's filesystem cannot: leave the mode out from now on. */
		if (!f->opt.quiet)
			fprintf(stderr, "unionfuse-fsx: fallocate %s not supported here, "
				"left out\n", falloc_names[kind]);
		f->falloc_ok[kind] = false;
		r->len = 0;
		return;
	}
	model_falloc(f, kind, r->off, r->len);
}

/* copy_file_range within the file, between ranges that do not overlap
 * (the kernel refuses overlapping ones). */
static void do_copyrange(struct fsx *f, struct op_record *r)
{
	off_t done = 0;

	if (!f->copyrange_ok || f->size < 2)
		return;
	r->src = (off_t)rng_below(f, (uint64_t)f->size);
	r->len = (off_t)rng_below(f, (uint64_t)f->opt.maxoplen) + 1;
	r->off = (off_t)rng_below(f, (uint64_t)(f->size + f->opt.maxoplen < f->opt.maxlen ?
						f->size + f->opt.maxoplen : f->opt.maxlen));
	if (r->src + r->len > f->size)
		r->len = f->size - r->src;
	if (r->off + r->len > f->opt.maxlen)
		r->len = f->opt.maxlen - r->off;
	if (r->off < r->src + r->len && r->src < r->off + r->len) {
		r->len = 0;
		return;
	}
	ensure_writable(f);
	while (done < r->len) {
		loff_t in = f->opt.base + r->src + done, out = f->opt.base + r->off + done;
		ssize_t n = copy_file_range(f->fd, &in, f->fd, &out, (size_t)(r->len - done), 0);

		if (n < 0 && (errno == EOPNOTSUPP || errno == ENOSYS || errno == EXDEV) && !done) {
			if (!f->opt.quiet)
				fprintf(stderr, "unionfuse-fsx: copy_file_range: %s, left out\n",
					strerror(errno));
			f->copyrange_ok = false;
			r->len = 0;
			return;
		}
		if (n <= 0)
			fail_op(f, "copy_file_range 0x%jx -> 0x%jx, 0x%jx bytes: %s",
				(intmax_t)(r->src + done), (intmax_t)(r->off + done),
				(intmax_t)(r->len - done), n < 0 ? strerror(errno) : "copied nothing");
		done += n;
	}
	memmove(f->model + r->off, f->model + r->src, (size_t)r->len);
	if (r->off + r->len > f->size)
		f->size = r->off + r->len;
}

static void do_fsync(struct fsx *f, struct op_record *r)
{
	int fd = read_fd(f);

	r->sub = (int)rng_below(f, 2);
	if ((r->sub ? fdatasync(fd) : fsync(fd)) < 0)
		fail_op(f, "%s: %s", r->sub ? "fdatasync" : "fsync", strerror(errno));
}

/* Close, drop the kernel's cached pages (so the next reads come from the
 * daemon, not from memory), open again and check everything. */
static void do_reopen(struct fsx *f, struct op_record *r)
{
	int fd = read_fd(f);

	(void)r;
	if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0)
		fail_op(f, "posix_fadvise DONTNEED failed");
	if (f->fd >= 0) {
		if (close(f->fd) < 0)
			fail_op(f, "close before reopening: %s", strerror(errno));
		f->fd = open(f->opt.file, O_RDWR | O_CLOEXEC);
		if (f->fd < 0)
			fail_op(f, "reopen %s: %s", f->opt.file, strerror(errno));
	} else {
		close(f->early_fd);
		f->early_fd = open(f->opt.file, O_RDONLY | O_CLOEXEC);
		if (f->early_fd < 0)
			fail_op(f, "reopen %s read-only: %s", f->opt.file, strerror(errno));
	}
	check_all(f);
}

static enum op_kind pick_kind(struct fsx *f)
{
	unsigned total = 0, roll;
	int k;

	for (k = 0; k < OP_KINDS; k++)
		total += op_weights[k];
	roll = (unsigned)rng_below(f, total);
	for (k = 0; k < OP_KINDS; k++) {
		if (roll < op_weights[k])
			break;
		roll -= op_weights[k];
	}
	if (k == OP_REOPEN && rng_below(f, 100) >= f->opt.reopen_pct)
		k = OP_READ;
	return (enum op_kind)k;
}

/* After each operation: the size always; the range it touched; the whole
 * file (and the upper copy) every CHECK_EVERY operations. */
static void check_after(struct fsx *f, const struct op_record *r)
{
	check_size(f);
	if (r->kind != OP_READ && r->kind != OP_MAPREAD && r->len > 0)
		check_range_fd(f, read_fd(f), r->off, r->len, "reading back what the operation changed");
	if (f->opt.check_every && r->n % f->opt.check_every == 0)
		check_all(f);
}

static void run_one(struct fsx *f)
{
	struct op_record *r = &f->log[f->done % f->opt.loglen];

	memset(r, 0, sizeof(*r));
	r->n = f->done + 1;
	r->kind = pick_kind(f);
	r->size_before = f->size;
	f->done++;
	switch (r->kind) {
	case OP_READ: do_read(f, r); break;
	case OP_WRITE: do_write(f, r); break;
	case OP_MAPREAD: do_mapread(f, r); break;
	case OP_MAPWRITE: do_mapwrite(f, r); break;
	case OP_TRUNCATE: do_truncate(f, r); break;
	case OP_FALLOCATE: do_fallocate(f, r); break;
	case OP_COPYRANGE: do_copyrange(f, r); break;
	case OP_FSYNC: do_fsync(f, r); break;
	case OP_REOPEN: do_reopen(f, r); break;
	case OP_KINDS: break;
	}
	r->size_after = f->size;
	f->count[r->kind]++;
	check_after(f, r);
}

/* ------------------------------------------------------------ initial content */

/* The file's first content, from the seed alone: a random size up to
 * MAXLEN, data in a few extents with holes between them. */
static off_t initial_content(uint64_t seed, off_t maxlen, unsigned char *buf)
{
	uint64_t state = seed ^ 0x5eed;
	off_t size = (off_t)(rng_next(&state) % (uint64_t)(maxlen + 1)), pos = 0;

	memset(buf, 0, (size_t)maxlen);
	while (pos < size) {
		off_t data = (off_t)(rng_next(&state) % 65536) + 1;
		off_t hole = rng_next(&state) % 3 ? 0 : (off_t)(rng_next(&state) % 65536);

		if (pos + data > size)
			data = size - pos;
		pattern_fill(buf + pos, seed, 0, (uint64_t)pos, (size_t)data);
		pos += data + hole;
	}
	return size;
}

/* Writes only the data extents: the holes stay holes in the lower file, so
 * the copy-up has holes to keep. */
static int write_initial(const struct options *opt, const unsigned char *buf, off_t size)
{
	int fd = open(opt->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	off_t pos = 0;

	if (fd < 0)
		die("%s: %s", opt->file, strerror(errno));
	while (pos < size) {
		off_t end = pos;

		while (end < size && (end - pos < 4096 || buf[end]))
			end++;
		if (pwrite(fd, buf + pos, (size_t)(end - pos), opt->base + pos) != end - pos)
			die("%s: write: %s", opt->file, strerror(errno));
		pos = end;
		while (pos < size && !buf[pos])
			pos++;
	}
	if (ftruncate(fd, opt->base + size) < 0 || close(fd) < 0)
		die("%s: %s", opt->file, strerror(errno));
	return 0;
}

/* ------------------------------------------------------------ command line */

static off_t parse_size(const char *s, const char *what)
{
	char *end;
	double v = strtod(s, &end);

	switch (*end) {
	case 'k': case 'K': v *= 1024; end++; break;
	case 'm': case 'M': v *= 1024 * 1024; end++; break;
	case 'g': case 'G': v *= 1024.0 * 1024 * 1024; end++; break;
	default: break;
	}
	if (end == s || *end || v < 0)
		die("%s: not a size: %s", what, s);
	return (off_t)v;
}

static uint64_t parse_count(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (end == s || *end || errno)
		die("%s: not a number: %s", what, s);
	return v;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: unionfuse-fsx init [-S SEED] [-l MAXLEN] [-b BASE] LOWERFILE\n"
		"       unionfuse-fsx run [-N OPS] [-S SEED] [-l MAXLEN] [-o MAXOPLEN] [-b BASE]\n"
		"                     [-u UPPERFILE] [-w MODELFILE] [-c EVERY] [-r REOPEN%%]\n"
		"                     [-L LOGLEN] [-R] [-q] FILE\n"
		"       unionfuse-fsx verify [-b BASE] FILE MODELFILE\n");
	exit(EXIT_TROUBLE);
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	int c;

	*opt = (struct options){ .ops = 10000, .seed = (uint64_t)time(NULL) ^ (uint64_t)getpid(),
				 .maxlen = 256 * 1024, .maxoplen = 64 * 1024, .check_every = 1,
				 .reopen_pct = 100, .loglen = 64 };
	while ((c = getopt(argc, argv, "N:S:l:o:b:u:w:c:r:L:Rq")) != -1) {
		switch (c) {
		case 'N': opt->ops = parse_count(optarg, "-N"); break;
		case 'S': opt->seed = parse_count(optarg, "-S"); break;
		case 'l': opt->maxlen = parse_size(optarg, "-l"); break;
		case 'o': opt->maxoplen = parse_size(optarg, "-o"); break;
		case 'b': opt->base = parse_size(optarg, "-b"); break;
		case 'u': opt->upper = optarg; break;
		case 'w': opt->model_out = optarg; break;
		case 'c': opt->check_every = parse_count(optarg, "-c"); break;
		case 'r': opt->reopen_pct = (unsigned)parse_count(optarg, "-r"); break;
		case 'L': opt->loglen = (unsigned)parse_count(optarg, "-L"); break;
		case 'R': opt->early_reader = true; break;
		case 'q': opt->quiet = true; break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	opt->file = argv[optind];
	if (opt->maxlen < 1 || opt->maxoplen < 1 || opt->loglen < 1)
		die("-l, -o and -L must be positive");
}

static int cmd_init(int argc, char **argv)
{
	struct options opt;
	unsigned char *buf;
	off_t size;

	parse_options(argc, argv, &opt);
	buf = malloc((size_t)opt.maxlen);
	if (!buf)
		die("out of memory");
	size = initial_content(opt.seed, opt.maxlen, buf);
	write_initial(&opt, buf, size);
	free(buf);
	return 0;
}

static void save_model(const struct fsx *f)
{
	int fd = open(f->opt.model_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, f->model, (size_t)f->size) != f->size || close(fd) < 0)
		die("%s: %s", f->opt.model_out, strerror(errno));
}

static void fsx_setup(struct fsx *f, const struct options *opt)
{
	int k;

	memset(f, 0, sizeof(*f));
	f->opt = *opt;
	f->rng = opt->seed;
	f->pagesize = sysconf(_SC_PAGESIZE);
	f->model = malloc((size_t)opt->maxlen);
	f->scratch = malloc((size_t)opt->maxlen);
	f->log = calloc(opt->loglen, sizeof(*f->log));
	if (!f->model || !f->scratch || !f->log)
		die("out of memory");
	for (k = 0; k < FA_KINDS; k++)
		f->falloc_ok[k] = true;
	f->copyrange_ok = true;
	f->size = initial_content(opt->seed, opt->maxlen, f->model);
	f->fd = -1;
	f->early_fd = open(opt->file, O_RDONLY | O_CLOEXEC);
	if (f->early_fd < 0)
		die("%s: %s", opt->file, strerror(errno));
}

static int cmd_run(int argc, char **argv)
{
	struct timespec t0, t1;
	struct fsx f;
	int k;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	{
		struct options opt;

		parse_options(argc, argv, &opt);
		fsx_setup(&f, &opt);
	}
	/* What the lower layer shows before anything changes it. */
	check_all(&f);
	while (f.done < f.opt.ops)
		run_one(&f);
	check_all(&f);
	if (f.opt.model_out)
		save_model(&f);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!f.opt.quiet) {
		printf("unionfuse-fsx: seed %ju: %ju operations in %.1fs, final size 0x%jx:",
		       (uintmax_t)f.opt.seed, (uintmax_t)f.done,
		       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		       (intmax_t)f.size);
		for (k = 0; k < OP_KINDS; k++)
			printf(" %s %ju", op_names[k], (uintmax_t)f.count[k]);
		printf("\n");
	}
	if (f.fd >= 0 && close(f.fd) < 0)
		fail_op(&f, "close: %s", strerror(errno));
	if (f.early_fd >= 0)
		close(f.early_fd);
	free(f.model);
	free(f.scratch);
	free(f.log);
	return 0;
}

/* ------------------------------------------------------------ verify */

/* Nothing but zeros in [0, BASE): the hole below the play area. Checked
 * where data would be (SEEK_DATA), else by reading a few samples. */
static int verify_hole(int fd, off_t base, const char *file)
{
	unsigned char buf[4096];
	off_t data = lseek(fd, 0, SEEK_DATA), at;
	int i;

	if (data >= 0 && data < base && data + (off_t)sizeof(buf) <= base)
		at = data;
	else
		at = base / 2;
	for (i = 0; i < 2 && base > 0; i++, at = base - (off_t)sizeof(buf)) {
		ssize_t n = pread(fd, buf, sizeof(buf), at < 0 ? 0 : at);
		ssize_t k;

		if (n < 0)
			die("%s: pread: %s", file, strerror(errno));
		for (k = 0; k < n; k++)
			if (buf[k]) {
				fprintf(stderr, "unionfuse-fsx: %s: non-zero byte at 0x%jx, below the "
					"base 0x%jx\n", file, (intmax_t)(at + k), (intmax_t)base);
				return EXIT_MISMATCH;
			}
	}
	return 0;
}

static int verify_window(int fd, int mfd, off_t base, off_t size, const char *file)
{
	unsigned char a[65536], b[65536];
	off_t pos = 0;

	while (pos < size) {
		size_t want = (size_t)(size - pos) < sizeof(a) ? (size_t)(size - pos) : sizeof(a);
		ssize_t na = pread(fd, a, want, base + pos), nb = pread(mfd, b, want, pos);
		size_t k;

		if (na != (ssize_t)want || nb != (ssize_t)want)
			die("%s: short read at 0x%jx", file, (intmax_t)pos);
		if (memcmp(a, b, want) == 0) {
			pos += (off_t)want;
			continue;
		}
		for (k = 0; a[k] == b[k]; k++)
			;
		fprintf(stderr, "unionfuse-fsx: %s differs from the model at offset 0x%jx: "
			"expected %02x, got %02x\n", file, (intmax_t)(pos + (off_t)k), b[k], a[k]);
		return EXIT_MISMATCH;
	}
	return 0;
}

static int cmd_verify(int argc, char **argv)
{
	struct stat st, mst;
	off_t base = 0;
	int fd, mfd, c, rc;

	/* -S, -l and -o are taken and ignored: a script passes the same
	 * options to init, run and verify. */
	while ((c = getopt(argc, argv, "b:S:l:o:")) != -1) {
		if (c == '?')
			usage();
		if (c == 'b')
			base = parse_size(optarg, "-b");
	}
	if (optind != argc - 2)
		usage();
	fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
	mfd = open(argv[optind + 1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || mfd < 0 || fstat(fd, &st) < 0 || fstat(mfd, &mst) < 0)
		die("%s or %s: %s", argv[optind], argv[optind + 1], strerror(errno));
	if (st.st_size != base + mst.st_size) {
		fprintf(stderr, "unionfuse-fsx: %s: size 0x%jx, the model says 0x%jx\n",
			argv[optind], (intmax_t)st.st_size, (intmax_t)(base + mst.st_size));
		return EXIT_MISMATCH;
	}
	rc = verify_hole(fd, base, argv[optind]);
	if (!rc)
		rc = verify_window(fd, mfd, base, mst.st_size, argv[optind]);
	close(fd);
	close(mfd);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	usage();
	return EXIT_TROUBLE;
}
