/* Applies one operation to a mounted tree and renders its outcome. */
#ifndef DIFF_OPS_H
#define DIFF_OPS_H

#include "model.h"
#include "util.h"

/* Flag bit of struct op.flags: do not follow a final symlink. Above the
 * open/rename/xattr flag bits it shares the field with. */
#define OPF_NOFOLLOW (1u << 20)

/* Runs op against the tree mounted at mnt (root is an fd on mnt) and
 * appends its outcome to result: the return value or errno name, plus what
 * the call returned (bytes read and their digest, a stat, a listing). */
void ops_apply(int root, const char *mnt, const struct op *op, struct strbuf *result);

#endif
