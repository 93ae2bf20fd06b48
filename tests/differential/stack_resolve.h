/* Resolution of a directory in a stack description, by the rules of
 * DESIGN.md section 3, without touching the disk. */
#ifndef DIFF_STACK_RESOLVE_H
#define DIFF_STACK_RESOLVE_H

#include "model.h"

/* The number of layers that contribute to the merged directory at path
 * ("" is the root), or 0 when path is not a visible directory. */
int stack_dir_layers(const struct stack *s, const char *path);

#endif
