/* Writes a stack description to disk, in the marker format of one side. */
#ifndef DIFF_STACK_WRITE_H
#define DIFF_STACK_WRITE_H

#include "model.h"

enum copy_kind {
	COPY_KERNEL,    /* char 0/0 and opaque=y, and no whiteout that hides nothing */
	COPY_UNION,     /* the marker format each entry asks for */
};

/* Creates dir/l0..l<n-1>, dir/upper, dir/work and dir/mnt and fills the
 * layers. An entry that cannot be made (the shrinker removed the file a hard
 * link points to) is skipped the same way in both copies. Returns 0 or -errno
 * for a failure of the tester's own setup. */
int stack_write(const struct stack *s, const char *dir, enum copy_kind copy);

/* The time every directory that no entry describes gets (implicit parents,
 * layer roots), so that both copies agree on it. */
#define T_IMPLICIT 1000000000

/* Nanoseconds paired with a generated time: copy-up must keep them too. */
long stack_nsec(int64_t sec);

/* Fills buf[0..len) with the pattern of a file whose content seed is fill,
 * starting at logical offset off. */
void stack_pattern(uint32_t fill, uint64_t off, char *buf, size_t len);

#endif
