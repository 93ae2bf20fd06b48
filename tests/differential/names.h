/* The names the generators draw from, shared by the stack and the operation
 * generators so that operations mostly hit names the stack already has. */
#ifndef DIFF_NAMES_H
#define DIFF_NAMES_H

#include "rng.h"

/* A random name from a small pool: a few plain names so that layers and
 * operations collide often, and the odd ones (space, newline, UTF-8, a
 * leading dot or dash, exactly 255 bytes). Never one starting with ".wh.":
 * unionfuse reserves those as markers, so the two sides cannot agree on them. */
const char *names_pick(struct rng *r);

/* True when the name is too long to carry a ".wh." prefix. */
int names_too_long_for_aufs(const char *name);

#endif
