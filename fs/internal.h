/* Helpers shared by the union library's own files, not by its callers. */
#ifndef UNIONFUSE_INTERNAL_H
#define UNIONFUSE_INTERNAL_H

#include "dircache.h"
#include "owner.h"
#include "trace.h"
#include "ufs.h"

/* Where an entry of the merged tree sits in one layer: DIRFD is its parent
 * directory in that layer (or the layer root itself for the root, with
 * NAME "."). */
struct at {
	int dirfd;
	const char *name;
	bool owned;                    /* dirfd is ours to close */
	struct dircache_entry *cached; /* dirfd is pinned in the cache */
};

int at_open(struct ufs *u, struct node *node, int layer, struct at *at);
/* The directory DIR itself in LAYER: DIRFD is it, NAME is ".". */
int at_open_self(struct ufs *u, struct node *dir, int layer, struct at *at);
uint64_t ufs_new_node_id(struct ufs *u);
int at_open_dir(struct ufs *u, struct node *dir, int layer, int flags, int *fd);
/* Where directory DIR lies in LAYER, relative to the layer root ("." for
 * the root): below its parent, unless an overlayfs redirect put it
 * elsewhere. NULL on ENOMEM. [tree] */
char *node_layer_path(struct node *dir, int layer);
/* Where the name NAME below directory DIR lies in LAYER. NULL on ENOMEM.
 * [tree] */
char *node_layer_path_below(struct node *dir, int layer, const char *name);
void at_close(struct ufs *u, struct at *at);

bool ufs_is_upper(const struct ufs *u, int layer);
/* Tell the FUSE layer NODE's attributes changed behind the kernel's back
 * (ufs->attr_changed), if the kernel holds it at all. */
void ufs_attr_changed(struct ufs *u, struct node *node);
/* Tell the FUSE layer the listing of DIR changed behind the kernel's back
 * (ufs->listing_changed), if the kernel may have it cached: a listing of
 * DIR went to it (node->listed). */
void ufs_listing_changed(struct ufs *u, struct node *dir);
/* A fresh unique name for scratch in the work directory. */
void ufs_tmpname(struct ufs *u, char *buf, size_t size);
#define UFS_TMPNAME_MAX 32
/* whiteout_create and whiteout_create_device for the upper layer, made as
 * hard links to one whiteout in the work directory where they can be. */
int ufs_whiteout_create(struct ufs *u, int dirfd, const char *name);
int ufs_whiteout_device(struct ufs *u, int dirfd, const char *name);
/* The whiteout they link to, in the work directory: scratch, which the
 * next mount removes. */
#define UFS_SHARED_WHITEOUT "#whiteout"

/* acl.c: whether the directory DIR, whose upper copy is UDIRFD, has a
 * default ACL, which replaces the umask of a new entry there (the
 * filesystem applies it). Kept in DIR until its xattrs change. [tree
 * exclusive] */
bool acl_dir_has_default(struct node *dir, int udirfd);
/* A scratch directory of work/ (its NAME of SIZE bytes and an O_PATH *FD)
 * with the default ACL of DIRFD: an entry made in it gets what it would
 * get in DIRFD. */
int acl_staging_open(struct ufs *u, int dirfd, char *name, size_t size, int *fd);

/* Attributes of the node as the merged view shows them. [tree] */
int node_stat(struct ufs *u, struct node *node, struct stat *st);

/* Take a reference for the kernel and return it. */
struct node *node_ref(struct node *node);

/* inode.c: FILE has no security.capability as of ufs->caps_gen GEN. */
void ufs_caps_absent(struct node *file, uint64_t gen);

/* copyup.c [tree exclusive] */
/* NODE whole in the upper layer: copied up (WITH_DATA false: empty, for a
 * truncation to 0), or its data brought up if only its metadata was. */
int copyup(struct ufs *u, struct node *node, bool with_data);
/* NODE in the upper layer for a change of its attributes or xattrs: with
 * -o metacopy a regular file's data stays below (metacopy.c). MAY_UNLOCK as
 * copyup_may_unlock. */
int copyup_meta(struct ufs *u, struct node *node, bool may_unlock);
/* The same, for a caller that can have the tree lock released meanwhile
 * (an open for writing, a change of attributes or xattrs, a rename, a
 * link): a file of at least this size has its data copied unlocked, so
 * that the mount keeps serving (any file with data, unless -o volatile:
 * the sync of its data takes long). The node is checked again after:
 * ENOENT if it was removed meanwhile; copied up by someone else, that copy
 * stands. */
#define COPYUP_UNLOCKED_MIN (1 << 20)
int copyup_may_unlock(struct ufs *u, struct node *node, bool with_data);
/* The whole tree below DIR into the upper layer, which alone holds it from
 * then on: DIR becomes opaque, hard links inside it are kept, whiteouts
 * inside it are dropped. */
int copyup_tree(struct ufs *u, struct node *dir);
/* A removed lower file, written through H (its node's read file): copy it
 * into a nameless upper file and move H there. */
int copyup_detached(struct ufs *u, struct handle *h);

/* protattr.c: immutable and append-only entries. The checks return 0 or
 * -EPERM (or -errno if the flags cannot be read). [tree] */
#define PROT_IMMUTABLE 1
#define PROT_APPEND 2
/* NODE's PROT_* bits (read once, then kept in the node), or -errno. */
int protattr_get(struct ufs *u, struct node *node);
/* NODE is new: it has none. */
void protattr_none(struct node *node);
/* A change of NODE itself: a new name, a link, a removal, an xattr. */
int protattr_may_change(struct ufs *u, struct node *node);
/* A new entry in DIR. */
int protattr_may_add_in(struct ufs *u, struct node *dir);
/* The removal of VICTIM from DIR (renamed away, or replaced). */
int protattr_may_remove(struct ufs *u, struct node *dir, struct node *victim);
/* New attributes for NODE (UFS_SET_* bits TO_SET). */
int protattr_may_setattr(struct ufs *u, struct node *node, int to_set);
/* Give NODE's upper copy the bits PROT (none: the mark goes). [exclusive] */
int protattr_record(struct ufs *u, struct node *node, int prot);
/* The mark itself on the entry NAME of DIRFD, for the bits PROT (0: the
 * mark goes). */
int protattr_write(int dirfd, const char *name, int prot);

/* fileattr.c: give the copy DSTNAME of DSTDIRFD the inode flags of
 * SRCNAME in SRCDIRFD that a copy-up carries (sync, noatime), where both
 * filesystems keep such flags. */
int fileattr_copy(int srcdirfd, const char *srcname, int dstdirfd, const char *dstname);



/* dir.c: create and open a regular file; *fd is the open file. */
int ufs_create_file(struct ufs *u, struct node *dir, const char *name, mode_t mode, int flags,
		    const struct ufs_cred *cred, struct node **out, struct stat *st, int *fd);
void node_detach(struct node *node);
int node_leave_negative(struct node *dir, const char *name, int upper, int wh,
			bool lower_positive);

/* file.c: a duplicate of an open file of NODE in LAYER (any layer if
 * negative), for a node that has no name left; -ENOENT if none. */
int node_handle_fd(struct node *node, int layer);
/* file.c: move NODE's handles on a lower copy to its new upper copy. */
void ufs_handles_follow_copyup(struct ufs *u, struct node *node);
/* file.c: ufs_open without the check of chattr's flags, for a caller that
 * made it for what it will do (nodefile.c). */
int node_open(struct ufs *u, struct node *node, int flags, struct handle **out);
/* file.c: open NODE's file where it is now, FLAGS as open(2) has them, for
 * a caller holding the tree lock; no copy-up. */
int node_open_locked(struct ufs *u, struct node *node, int flags, struct handle **out);
/* file.c: open again the file H has open (through /proc: it may have no
 * name left), with FLAGS. */
int node_reopen(struct node *node, const struct handle *h, int flags, struct handle **out);

/* nodefile.c */
void nodefile_init(struct ufs *u);
/* Close every node's file that is not pinned (unmount). */
void nodefile_clear(struct ufs *u);
/* The kernel let go of NODE: no process can have it open. */
void nodefile_forget(struct ufs *u, struct node *node);

/* evict.c */
void evict_init(struct ufs *u, size_t min);
void evict_stop(struct ufs *u);
/* A node's last kernel reference went, which may let FREEABLE nodes go
 * (1, or more for a directory and its view): a sweep follows when enough
 * have. Call without ufs->lock. */
void evict_note_forgotten(struct ufs *u, size_t freeable);
/* NODE is about to be removed from the tree [tree exclusive]: keep its
 * file open, out of the bound, for the processes that may have it open,
 * until the kernel forgets it. */
void nodefile_pin(struct ufs *u, struct node *node);
/* Free the files a node still keeps (the node is being freed). */
void nodefile_free(struct node *node);

/* lookup.c: where the data of FILE lies, a metadata-only upper copy that
 * overlayfs moved (REDIRECT: its overlay.redirect); -ENOENT if nowhere. */
int redirect_find_data(struct ufs *u, struct node *file, const char *redirect,
		       int *layer, char **path);

/* metacopy.c: metadata-only copy-up (-o metacopy, overlayfs' metacopy=on).
 * A regular file copied up for new attributes alone is an upper file of
 * the right size with no data in it, marked overlay.metacopy; its data
 * stays in the lower layer until the first change to it. */
#define METACOPY_DATA_LOST (-2)
/* Mark the scratch file NAME in DIRFD as holding only metadata;
 * -EOPNOTSUPP where no overlay xattr can be set. */
int metacopy_mark(int dirfd, const char *name);
/* Drop the mark of an upper file whose data is now in it. */
int metacopy_unmark(int fd);
/* NODE's upper file is at AT, of stat ST: if it is known to hold only
 * metadata (or has holes, and does), give ST its data's block count. [tree] */
int metacopy_stat(struct ufs *u, struct node *node, const struct at *at, struct stat *st);
/* NODE's data lies in layer LAYER (at PATH, taken over; NULL: where NODE
 * lies); LAYER -1: NODE's upper file is whole. */
void metacopy_set(struct node *node, int layer, char *path);
/* Whether NODE is an upper file holding only metadata, its data still
 * below (read from its mark the first time it is asked). [tree] */
bool metacopy_pending(struct ufs *u, struct node *node);
/* Open NODE's data for reading (FLAGS as open(2)); *LAYER: where. [tree] */
int metacopy_open_data(struct ufs *u, struct node *node, int flags, int *layer);

/* lookup.c: whether DIR merges lower layers with its top one (a directory's
 * link count and a rename's opaque mark depend on it). */
int ufs_dir_merged(struct ufs *u, struct node *dir, bool *merged);
/* lookup.c: whether the top layer of DIR is neither opaque nor redirecting,
 * so that the layers below merge into it. [dir->lock, or DIR not yet
 * reachable: a child of a view being built] */
int ufs_dir_top_merges(struct ufs *u, struct node *dir, bool *merges);
/* lookup.c: 0 if the merged view of DIR lists nothing, else -ENOTEMPTY. */
int ufs_dir_empty(struct ufs *u, struct node *dir);

/* util.c: util_remove_tree, util_empty_dir */
#include "util.h"
#endif
