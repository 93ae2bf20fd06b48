/* The stack of a running union, as its daemon tells it (the virtual xattrs
 * of fs/explain.h): finding the mount a path lies in, and its layers. */
#ifndef UNIONFUSE_STACKINFO_H
#define UNIONFUSE_STACKINFO_H

struct stack_layer {
	int number;         /* as the trace numbers layers: base is 0 */
	char *role;         /* upper, init, lower or base */
	char *path;         /* absolute */
	char name[40];      /* "upper", "layer 1 (lower)": as the trace names it */
	int fd;             /* O_PATH root, or -1 if it cannot be opened now */
};

struct stack {
	char *mount;                /* the mount root */
	struct stack_layer *layers; /* top first */
	int nlayers;
	char *work;                 /* NULL without an upper layer */
	char *whiteout;             /* the whiteout= option */
};

/* The value of the extended attribute NAME of PATH (not following a final
 * symlink), NUL-terminated; NULL with errno set if there is none. */
char *xattr_get(const char *path, const char *name);

/* The root of the mount PATH lies in (its final component not followed)
 * and PATH relative to it ("" for the root itself). 0, or -1 after a
 * message naming PATH on stderr. */
int stack_find_root(const char *cmd, const char *path, char **root, char **rel);

/* Read the stack of the union mounted at ROOT and open its layer roots.
 * 0, or -1 after a message naming ASKED (the path the user gave) on stderr. */
int stack_load(const char *cmd, const char *asked, const char *root, struct stack *s);
void stack_free(struct stack *s);

#endif
