/* How many requests of each kind the kernel has sent the daemon since the
 * mount. What the kernel answers from its own caches never reaches the
 * daemon, so a second `cat` of a file shows here as nothing at all. Read
 * through the virtual xattr user.unionfuse.requests of the mount root
 * (`unionfuse requests`). */
#ifndef UNIONFUSE_FUSE_REQUESTS_H
#define UNIONFUSE_FUSE_REQUESTS_H

#include <stdatomic.h>
#include <sys/types.h>

/* On the mount root: one "NAME COUNT" line per kind of request counted at
 * least once, in the order of the kernel's opcodes; NAME as libfuse's -d
 * log spells it (LOOKUP, GETATTR, READDIRPLUS...). Reading it is not
 * counted. */
#define REQUESTS_XATTR "user.unionfuse.requests"

/* Opcodes of <linux/fuse.h> are below this. */
#define REQUESTS_KINDS 64

struct fuse_requests {
	atomic_ullong count[REQUESTS_KINDS];
};

/* Count one request of OPCODE (a FUSE_* of <linux/fuse.h>). */
void requests_count(struct fuse_requests *r, unsigned opcode);

/* The value of REQUESTS_XATTR, malloc'ed, in *VALUE; its length, or
 * -ENOMEM. */
ssize_t requests_format(struct fuse_requests *r, char **value);

#endif
