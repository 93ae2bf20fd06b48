/* Captures a whole directory tree as comparable text, and compares two. */
#ifndef DIFF_SNAPSHOT_H
#define DIFF_SNAPSHOT_H

#include <stddef.h>

#include "util.h"

struct node {
	char *path;     /* "" for the root */
	char *attrs;    /* "key=value\n" lines, see policy.c and snapshot.c */
};

struct snapshot {
	size_t n;
	struct node *v; /* sorted by path */
};

/* Walks the tree below the directory fd root (not following symlinks):
 * stat attributes, d_type, content digest, symlink target, user.* xattrs,
 * and each directory's listing. Returns 0 or -errno of the walk itself;
 * errors of single entries become part of the snapshot. */
int snapshot_take(int root, struct snapshot *out);
void snapshot_free(struct snapshot *s);

/* Appends a description of the differing entries (at most a few) to report,
 * naming the sides an and bn. Returns the number of differing entries. */
size_t snapshot_diff(const struct snapshot *a, const struct snapshot *b,
		     const char *an, const char *bn, struct strbuf *report);

/* Hashes the contents of fd from its current offset; sets *size. */
int snapshot_digest_fd(int fd, unsigned long long *digest, unsigned long long *size);

#endif
