/* Generates an operation sequence from a seed, aimed at a given stack. */
#ifndef DIFF_GEN_OPS_H
#define DIFF_GEN_OPS_H

#include <stdint.h>

#include "model.h"

/* Appends count operations to *out. Paths are drawn mostly from the names
 * the stack holds in any layer (including whited-out and hidden ones) and
 * from names earlier operations created, so that operations land on merged,
 * shadowed, whited-out and opaque entries rather than on fresh names. */
void gen_ops(uint64_t seed, const struct stack *s, unsigned count, struct oplist *out);

#endif
