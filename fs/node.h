/* Nodes: one per name of the merged tree that the union has resolved. A
 * directory's children form its merged view, a uthash table keyed by name
 * with XXH3: this is the hashed path cache. A repeated lookup is one probe.
 *
 * Locking (see ufs.h for the order): fields marked [tree] are protected by
 * ufs->lock (read it shared, change it exclusive); fields marked [self] by
 * the node's own mutex. */
#ifndef UNIONFUSE_NODE_H
#define UNIONFUSE_NODE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <uthash.h>

struct ufs;
struct handle;
struct stat;

struct node {
	UT_hash_handle hh;        /* [tree] in parent->children, keyed by name */
	struct node *parent;      /* [tree] NULL for the root and detached nodes */
	char *name;               /* [tree] */
	atomic_uint_fast64_t nlookup; /* references held by the kernel */

	mode_t type;              /* [tree] S_IFMT; 0: whited out by the upper layer */
	int top;                  /* [tree] layer index of the winning entry */
	uint8_t upper_wh;         /* [tree] WH_* markers for this name in upper */
	bool lower_positive;      /* [tree] without the upper layer the name exists */
	bool detached;            /* [tree] unlinked or replaced; only fds remain */
	struct stat *removed_attr; /* [tree] a removed directory's attributes as
				   * it went, with no links: what its descriptors
				   * and a working directory in it still see */
	/* ufs->caps_gen + 1 when the file was known to carry no
	 * security.capability at that generation; 0: unknown. */
	atomic_uint_fast64_t no_caps_gen;
	atomic_uchar prot;        /* protattr.c: immutable, append-only, once known */
	ino_t vino;               /* st_ino shown for the life of the mount */
	bool vino_below;          /* [tree] vino is the number the entry had in a
				   * layer below, not its upper entry's own (a
				   * copy-up keeps it; origin.c gives it back) */
	bool vino_kept;           /* [tree] vino would not come back from the
				   * layers if the node were built again (a copy
				   * without a recorded origin, a copy moved or
				   * linked since without a recorded origin path):
				   * the node is never freed while in the tree
				   * (evict.c) */
	bool origin_path;         /* [tree] its upper copy is known to record
				   * where its lower entry lies (origin.c): a
				   * number from below comes back from there,
				   * wherever the copy moves */
	uint64_t id;              /* directories: unique, never reused (dircache key) */

	/* directories */
	uint16_t *dl;             /* [tree] contributing layers, top first */
	uint16_t ndl;             /* [tree] */
	char **dl_path;           /* [tree] NULL, or per layer: where this directory
				   * lies in it when an overlayfs redirect moved it
				   * (NULL item: parent's path + name) */
	atomic_bool layers_final; /* dl cut at the first opaque layer [self] */
	atomic_bool view_built;   /* children is the complete merged view [self] */
	atomic_bool listed;       /* a listing of it went to the kernel, which
				   * may keep it (ufs_listing_changed) [self] */
	struct node *children;    /* [tree] the merged view */
	uint64_t last_cookie;     /* [tree] the cookie the latest child took */
	bool upper_impure;        /* [tree; or dir->lock while its view is built]
				   * its upper copy is marked impure (origin.c) */
	atomic_bool moved_copies; /* its upper copy is marked as holding copies
				   * moved or linked since their copy-up, in it or
				   * anywhere below it (origin.c); read by the
				   * views built below it */
	int8_t default_acl;       /* [tree] whether its upper copy has a default
				   * ACL (acl.c): 1 or 0; -1: not known yet */
	struct node *list_next;   /* [self] where the latest listing read stopped */
	uint64_t list_next_after; /* [self] the cookie it stopped after */

	/* in a directory's view */
	uint64_t cookie;          /* [tree] its place in the listing, which is
				   * in the order names joined the view (. and ..
				   * are 1 and 2); the offset of the next entry */

	/* state used only while a view is built */
	int decided_at;           /* layer that decided this name */
	int stop_after;           /* a whiteout in this layer: merge nothing below */
	int lower_layer;          /* first non-upper layer that had the name */
	ino_t lower_ino;          /* the inode number of its entry there */
	bool collecting;          /* a directory still merging lower layers */
	bool seen_lower;

	/* regular files whose upper copy holds only metadata (metacopy.c) */
	int data_layer;           /* [self] the layer holding the data; -1: the
				   * file is whole; METACOPY_DATA_LOST: none found */
	char *data_path;          /* [self] where in it (an overlayfs redirect);
				   * NULL: where the node itself lies */
	bool data_checked;        /* [self] the two above are known */

	struct handle *handles;   /* [self] open files, for detached nodes */
	struct handle *files[3];  /* [self] its own, by enum ufs_access (nodefile.c) */
	pthread_mutex_t lock;
};

struct node *node_new(const char *name, mode_t type, int top);
void node_free(struct node *node);
/* Free a directory's view and every child that the kernel does not hold. */
void node_free_view(struct node *dir);
/* DIR is being removed, and had attributes WAS: the kernel may go on
 * holding it, as a working directory or an open descriptor, and asks its
 * attributes as of any directory. A local filesystem gives them as they
 * were, with no links, and takes a chmod still; so does the union, from
 * this copy (node_stat, ufs_setattr). Without it they fail ENOENT. */
void node_keep_removed_attr(struct node *dir, const struct stat *was);
/* Free NODE and everything below it, held by the kernel or not (unmount). */
void node_free_tree(struct node *node);
/* NODE moved, or took a second name: a number it had below comes back from
 * the layers only by the path its copy-up recorded (origin.c), which a copy
 * overlayfs made lacks, and which one settled by its name was not read
 * for: without it known, the node keeps its number and stays in the tree.
 * [tree exclusive] */
void node_keep_number(struct node *node);

struct node *view_find(struct node *dir, const char *name);
/* CHILD joins DIR's view, after every name there (a new cookie). */
void view_add(struct node *dir, struct node *child);
void view_remove(struct node *dir, struct node *child);

int node_dl_set_single(struct node *node, int layer);
int node_dl_append(struct node *node, int layer);
int node_dl_prepend(struct node *node, int layer);
/* Append LAYER where the directory lies at PATH (taken over), not below its parent. */
int node_dl_append_path(struct node *node, int layer, char *path);
void node_dl_truncate(struct node *node, uint16_t n);

/* "a/b/c" below the root ("." for the root); NULL on ENOMEM. [tree] */
char *node_path(const struct node *node);
bool node_is_dir(const struct node *node);

#endif
