/* Generates a layer stack description from a seed. */
#ifndef DIFF_GEN_STACK_H
#define DIFF_GEN_STACK_H

#include <stdint.h>

#include "model.h"

/* Marker formats the unionfuse copy of the lower layers may use (a mask of
 * 1 << enum marker_fmt). Restrict it for implementations that do not read
 * them all (fuse-overlayfs 1.10 reads only char 0/0 and opaque=y). */
#define MARKS_ALL ((1u << MK_CHR) | (1u << MK_XATTR) | (1u << MK_AUFS))

/* Fills *out with 1..8 lower layers and an upper layer, each with a few
 * entries whose names often collide with those of the layers below, so that
 * merged, shadowed, whited-out and opaque directories come up on their own. */
void gen_stack(uint64_t seed, unsigned marks, struct stack *out);

#endif
