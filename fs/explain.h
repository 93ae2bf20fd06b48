/* What a running union tells about itself, for `unionfuse layers` and
 * `unionfuse explain`: virtual extended attributes, answered by getxattr,
 * never stored, never listed, refused by setxattr and removexattr. */
#ifndef UNIONFUSE_EXPLAIN_H
#define UNIONFUSE_EXPLAIN_H

#include <stdbool.h>
#include <sys/types.h>

struct ufs;
struct node;

#define EXPLAIN_XATTR_PREFIX "user.unionfuse."

/* On the mount root, one line per item:
 *     NUMBER ROLE PATH      each layer, top first; NUMBER as the trace numbers
 *                           them (base is 0), ROLE upper, init, lower or base
 *     work PATH             the work directory, with an upper layer
 *     option KEY=VALUE      whiteout=overlay|aufs
 * PATHs are absolute; a newline in one is written "\n", a backslash "\\". */
#define EXPLAIN_XATTR_LAYERS EXPLAIN_XATTR_PREFIX "layers"

/* On any entry: the daemon's current view of it, cache included, one
 * "key=value" per line: path, type, layer (the winner, as the trace names
 * it), upper, lower (the name exists below the upper layer), copied_up,
 * detached; for directories also layers (contributing layers, top first,
 * ", " between them), opaque (the layer whose opaque marker cut them, or
 * "no"), redirect (one per redirected layer) and view_built (the merged
 * listing is cached). */
#define EXPLAIN_XATTR_ORIGIN EXPLAIN_XATTR_PREFIX "origin"

/* "file", "directory", "symlink", ...; "none" for no type at all. */
const char *explain_type_word(mode_t type);

bool explain_is_virtual_xattr(const char *name);

/* The value of the virtual xattr NAME of NODE in *VALUE (malloc'ed, not
 * NUL-terminated), and its length; -ENODATA when NAME names nothing here. */
ssize_t explain_xattr(struct ufs *u, struct node *node, const char *name, char **value);

#endif
