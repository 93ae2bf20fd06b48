/* Copy-up origins (overlay.origin, overlay.impure): the inode number an
 * entry had below, kept across remounts. See origin.c. */
#ifndef UNIONFUSE_ORIGIN_H
#define UNIONFUSE_ORIGIN_H

#include <fcntl.h>
#include <stdbool.h>

struct ufs;
struct node;
struct at;

/* overlayfs' struct ovl_fb with the largest handle. */
#define ORIGIN_MAX (21 + MAX_HANDLE_SZ)

/* Record on the entry NAME of DIRFD (the copy of NODE, not yet in place)
 * that it was copied from SRC, NODE's entry in its layer NODE->top, and,
 * for a non-directory, where that lies in the layer (NODE->origin_path
 * then set): 1. Nothing is recorded, and 0 returned, where the lower
 * filesystem gives no file handles or the upper one takes no such xattr;
 * -errno on other failures. [tree] */
int origin_record(struct ufs *u, struct node *node, const struct at *src, int dirfd,
		  const char *name);
/* DIR, a directory of a tree copied up whole to move, in the upper layer
 * and merging with the directory below whose number it shows, is about to
 * stop merging: record that directory as its origin unless it has another
 * (one made before copy-ups recorded it), and where it lies, so that it
 * keeps that number after a remount. [tree exclusive] */
int origin_keep_for_move(struct ufs *u, struct node *dir);
/* Mark DIR, the upper directory NAME of DIRFD, as holding entries with an
 * origin (once a mount). [tree exclusive] */
int origin_mark_impure(struct node *dir, int dirfd, const char *name);
/* Before the upper entry NAME of DIRFD moves into NEWDIR (NEWDIRFD, its
 * upper copy): if it has an origin, NEWDIR is marked impure. [tree
 * exclusive] */
int origin_follow_move(struct node *newdir, int dirfd, const char *name, int newdirfd);
/* Mark NODE, the upper directory NAME of DIRFD, as holding copies whose
 * names are not those their copy-up found below (and impure): a copy
 * renamed or linked into it, whose number comes from below, or, for a
 * directory copied up whole and about to move, anywhere in its tree. A
 * view built there looks for the lower entries of such copies where
 * their copy-up found them. [tree exclusive] */
int origin_mark_moved(struct node *node, int dirfd, const char *name);
/* Once DIR's view is merged from its layers, give the entries of its upper
 * copy that came from below the inode numbers they had there: directories
 * that merge with the layers below, and, in an upper directory marked
 * impure (IMPURE), files whose recorded origin is the lower entry of their
 * name, or, where DIR or a directory above it is marked as holding moved
 * copies, the entry where their copy-up found it. [dir->lock, tree] */
int origin_settle_view(struct ufs *u, struct node *dir, bool impure);

#endif
