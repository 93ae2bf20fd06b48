/* The inode numbers of a tree's entries, to check that a union shows the
 * same numbers after a remount as before it. */
#ifndef DIFF_INODES_H
#define DIFF_INODES_H

#include <stddef.h>

#include "util.h"

/* "PATH INO\n" for every entry below the directory fd ROOT (not
 * following symlinks), PATH quoted (sb_add_quoted), sorted, into OUT.
 * Returns 0 or -errno. */
int inodes_take(int root, struct strbuf *out);

/* Appends to REPORT the first few entries whose numbers differ between the
 * maps BEFORE and AFTER (an entry only in one of them is no difference:
 * the trees are compared elsewhere). Returns the number of such entries. */
size_t inodes_diff(const char *before, const char *after, struct strbuf *report);

#endif
