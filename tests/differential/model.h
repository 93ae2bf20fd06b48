/* What a test case is made of: a layer stack described independently of its
 * on-disk marker format, and a list of operations. Both are plain data so that
 * the shrinker can drop items and the reproducer can print and reread them. */
#ifndef DIFF_MODEL_H
#define DIFF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_LOWER 8

enum entry_kind { E_FILE, E_DIR, E_SYMLINK, E_HARDLINK, E_FIFO, E_WHITEOUT };

/* How a whiteout or opaque marker is written in the unionfuse copy. The
 * kernel copy always gets an overlayfs-native equivalent (see stack_write.c). */
enum marker_fmt {
	MK_CHR,          /* whiteout: char device 0/0 */
	MK_XATTR,        /* whiteout: empty file + trusted.overlay.whiteout, dir opaque=x;
			  * opaque: trusted.overlay.opaque=y */
	MK_AUFS,         /* whiteout: .wh.NAME; opaque: .wh..wh..opq */
};

struct entry {
	int layer;               /* 0 = base lower .. nlower-1 = top lower; nlower = upper */
	enum entry_kind kind;
	char *path;              /* relative to the layer root, no leading '/' */
	char *target;            /* symlink text, or the hard link's existing path */
	mode_t mode;             /* permission bits only */
	uid_t uid;
	gid_t gid;
	int64_t mtime;           /* seconds; fixed in the past, see policy.c */
	uint64_t size;           /* file: logical size */
	uint32_t fill;           /* file: content pattern seed */
	bool sparse;             /* file: data only at both ends, a hole between */
	bool opaque;             /* dir: hides everything below it */
	enum marker_fmt fmt;     /* whiteout / opaque marker format (unionfuse copy) */
	char *xname, *xvalue;    /* one user.* xattr, or NULL */
};

struct stack {
	int nlower;
	size_t n;
	struct entry *e;
};

enum op_kind {
	OP_CREATE, OP_WRITE, OP_TRUNCATE, OP_APPEND, OP_UNLINK, OP_MKDIR,
	OP_RMDIR, OP_RENAME, OP_LINK, OP_SYMLINK, OP_CHMOD, OP_CHOWN,
	OP_UTIMENS, OP_SETXATTR, OP_REMOVEXATTR, OP_MKFIFO, OP_READ, OP_STAT,
	OP_READDIR, OP_REMOUNT, OP__COUNT
};

/* Time values of OP_UTIMENS besides plain seconds. */
#define T_NOW  (-1)
#define T_OMIT (-2)

struct op {
	enum op_kind kind;
	char *path;
	char *path2;             /* rename/link destination, symlink target text */
	uint64_t off, len;       /* write offset and length, truncate length */
	uint32_t fill;           /* byte pattern seed for written data */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	unsigned flags;          /* per op: O_EXCL/O_TRUNC, RENAME_*, XATTR_*, AT_SYMLINK_NOFOLLOW */
	int64_t atime, mtime;    /* utimens: seconds, T_NOW or T_OMIT */
	char *xname, *xvalue;
};

struct oplist {
	size_t n;
	struct op *op;
};

struct testcase {
	uint64_t seed;
	struct stack stack;
	struct oplist ops;
};

const char *op_name(enum op_kind k);
const char *entry_kind_name(enum entry_kind k);
const char *marker_fmt_name(enum marker_fmt f);

void entry_free(struct entry *e);
void op_free(struct op *op);
void stack_free(struct stack *s);
void oplist_free(struct oplist *l);
void testcase_free(struct testcase *tc);

struct entry entry_dup(const struct entry *e);
struct op op_dup(const struct op *op);
struct testcase testcase_dup(const struct testcase *tc);
void stack_push(struct stack *s, struct entry e);
void oplist_push(struct oplist *l, struct op op);

/* The layer directory name in a stack directory: "l0".."l7" or "upper". */
const char *layer_dirname(const struct stack *s, int layer);

#endif
