/* The deliberate differences: the one place that says what the tester does
 * not compare between the two sides, and why. */
#ifndef DIFF_POLICY_H
#define DIFF_POLICY_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

#include "model.h"
#include "util.h"

/* Appends the compared attributes of st, one "key=value" per line. Only
 * what this function prints is compared; policy.c lists what it leaves out. */
void policy_render_stat(const struct stat *st, struct strbuf *out);

/* Appends the compared form of a directory's link count, given the number
 * of subdirectories its listing shows. */
void policy_render_dir_nlink(nlink_t nlink, size_t subdirs, struct strbuf *out);

/* Whether differing outcomes of op (as ops_apply renders them) on the
 * reference and the tested side are a known, accepted divergence after
 * which the sequence cannot go on being compared. */
bool policy_accept_divergence(const struct op *op, const char *ref, const char *tested);

/* Called before op: whether it renames one name of a file onto another name
 * of the same file on both sides, after which differing trees are accepted
 * (see the table in policy.c). */
/* A rename of a directory that holds a hard-linked file (see the table). */
bool policy_tree_rename_links(const struct op *op, int ref_root);
/* Before op: an open for writing that changes nothing, of a hard-linked
 * file, or of any file under METACOPY (see the table). */
bool policy_open_without_change(const struct op *op, int ref_root, bool metacopy);
/* A rename both sides refused with ENOTEMPTY (see the table). */
bool policy_failed_rename(const struct op *op, const char *result);
bool policy_one_file_rename(const struct op *op, int ref_root, int tested_root);

/* Whether an extended attribute takes part in the comparison. */
int policy_xattr_compared(const char *name);

/* Prints the list of deliberate differences with their reasons. */
void policy_print(FILE *f);

#endif
