/* Rename (DESIGN section 4). Files are copied up and moved. A directory
 * with content in lower layers is copied up whole and marked opaque where
 * it lands, so the upper layer alone says what the moved tree holds: kernel
 * overlayfs reads it the same way, with or without redirect_dir. A directory
 * of the upper layer alone is marked opaque where it lands in a merged
 * directory, as kernel overlayfs marks it (mark_if_needed). */
#include "internal.h"
#include "origin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rename_op {
	struct node *dir, *newdir;
	const char *name, *newname;
	struct node *src, *dst;     /* dst may be NULL or negative */
	struct at up, newup;        /* the two parents in the upper layer */
	int udirfd, newudirfd;      /* their fds */
	bool src_opaque, dst_opaque; /* whole tree copied up: mark opaque */
	bool dir_merges, newdir_merges; /* the parents merge lower layers */
	bool src_marked, dst_marked; /* marked opaque where they landed */
};

/* Everything below DIR now lives in the upper layer only, and keeps the
 * numbers it had. A directory that stops merging changes its link count:
 * the kernel must ask again. */
static void tree_upper_only(struct ufs *u, struct node *dir)
{
	struct node *child, *tmp;

	if (dir->ndl > 1)
		ufs_attr_changed(u, dir);
	node_dl_truncate(dir, 1);
	HASH_ITER(hh, dir->children, child, tmp) {
		child->lower_positive = false;
		node_keep_number(child);
		if (node_is_dir(child) && child->type)
			tree_upper_only(u, child);
	}
}

/* Bring NODE (and for a directory everything below it) to the upper
 * layer. *OPAQUE says the directory must become opaque where it lands. */
static int rename_copyup(struct ufs *u, struct node *node, bool *opaque)
{
	int err;

	*opaque = false;
	if (!node_is_dir(node))
		return copyup(u, node, true);
	err = ufs_layers_final(u, node);
	if (err)
		return err;
	if (node->top == u->upper && node->ndl == 1)
		return 0;
	*opaque = true;
	return copyup_tree(u, node);
}

static int rename_check(const struct node *src, const struct node *dst, unsigned int flags)
{
	bool dst_pos = dst && dst->type;

	if (flags & RENAME_EXCHANGE)
		return dst_pos ? 0 : -ENOENT;
	if (!dst_pos)
		return 0;
	if (flags & RENAME_NOREPLACE)
		return -EEXIST;
	if (node_is_dir(src) && !node_is_dir(dst))
		return -ENOTDIR;
	if (!node_is_dir(src) && node_is_dir(dst))
		return -EISDIR;
	return 0;
}

/* An upper directory that is empty in the merged view may still hold
 * whiteouts; rename(2) over it needs it really empty. */
static int clear_upper_dir(int udirfd, const char *name)
{
	int fd = openat(udirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int err;

	if (fd < 0)
		return -errno;
	err = util_empty_dir(fd);
	close(fd);
	return err;
}

static int set_name(struct node *node, const char *name)
{
	char *copy = strdup(name);

	if (!copy)
		return -ENOMEM;
	free(node->name);
	node->name = copy;
	return 0;
}

/* The directory NAME in UDIRFD, about to move, lands where lower layers
 * may hold the same name: it must not merge with what they hold there. A
 * directory copied up whole (OPAQUE) or landing on a name that exists below
 * (LOWER_BELOW) needs the mark for the merged view to stay right. A
 * directory of the upper layer alone landing in a merged directory
 * (INTO_MERGED) gets it as kernel overlayfs gives it (ovl_rename), whatever
 * lies below its new name: dpkg, which makes every new directory as
 * NAME.dpkg-new and renames it in place, leaves the upper layer overlayfs
 * would leave, and the moved tree stays its own should a lower layer ever
 * hold that name. */
static int mark_if_needed(struct ufs *u, struct node *node, bool opaque, bool lower_below,
			  bool into_merged, int udirfd, const char *name, bool *marked)
{
	int err;

	*marked = false;
	if (!node_is_dir(node) || !(opaque || lower_below || into_merged))
		return 0;
	err = opaque_mark(udirfd, name, u->whiteout_format);
	*marked = err == 0;
	return err;
}

/* A copy whose number comes from below keeps it after a remount only where
 * a view built will look for its lower entry where its copy-up found it
 * (origin.c): NODE, about to move from NAME of UDIRFD into NEWDIR
 * (NEWUDIRFD), marks NEWDIR, and, a directory copied up whole
 * (TREE_COPIED), itself: it holds such copies, whose paths all change (a
 * directory moved again carries its mark). */
static int mark_moved_copy(struct node *node, bool tree_copied, int udirfd, const char *name,
			   struct node *newdir, int newudirfd)
{
	int err;

	if (!node->vino_below && !tree_copied)
		return 0;
	err = origin_mark_moved(newdir, newudirfd, ".");
	if (!err && node_is_dir(node))
		err = origin_mark_moved(node, udirfd, name);
	return err;
}

static void trace_rename(struct ufs *u, struct rename_op *op, bool exchange, int old_wh)
{
	char *from = trace_path(op->dir, op->name), *to = trace_path(op->newdir, op->newname);
	const char *opaque = "";

	if (op->src_opaque || op->dst_opaque)
		opaque = " directory with lower content copied up whole and marked opaque;";
	else if (op->src_marked || op->dst_marked)
		opaque = " directory marked opaque where it lands, in a merged directory;";
	trace_line(u, "rename %s %s %s:%s%s%s", from, exchange ? "<->" : "->", to, opaque,
		   old_wh ? " whiteout left at " : " moved in upper", old_wh ? from : "");
	free(from);
	free(to);
}

/* Move SRC to its new name in the upper layer. With LEAVE_WHITEOUT the
 * old name must end up whited out, and never show the lower entry it hid,
 * even if the move fails or the daemon dies halfway: RENAME_WHITEOUT does
 * both in one step; where the kernel or the format says no, a .wh. marker
 * made before the move does (remove_upper in dir.c says why). *WH gets the
 * whiteout made, if any. */
static int move_in_upper(struct ufs *u, struct rename_op *op, unsigned int flags,
			 bool leave_whiteout, int *wh)
{
	int marker = 0;

	if (leave_whiteout && u->whiteout_format == WH_FORMAT_OVERLAY) {
		if (renameat2(op->udirfd, op->name, op->newudirfd, op->newname,
			      flags | RENAME_WHITEOUT) == 0) {
			*wh |= WH_AT_NAME;
			return 0;
		}
		if (errno != EINVAL && errno != EPERM && errno != EOPNOTSUPP)
			return -errno;
	}
	if (leave_whiteout && strlen(op->name) + WH_PREFIX_LEN <= NAME_MAX) {
		marker = whiteout_create(op->udirfd, op->name, WH_FORMAT_AUFS);
		if (marker == -EEXIST)
			marker = WH_AUFS_FILE;
		if (marker < 0)
			return marker;
	}
	if (renameat2(op->udirfd, op->name, op->newudirfd, op->newname, flags) < 0) {
		int err = -errno;

		if (marker)
			whiteout_remove(op->udirfd, op->name, marker);
		return err;
	}
	*wh |= marker;
	return 0;
}

/* The new name had only a whiteout in the upper layer: it swaps places
 * with SRC, and is often exactly the one the old name needs. */
static int swap_with_whiteout(struct rename_op *op, bool src_lower, int *old_wh)
{
	if (renameat2(op->udirfd, op->name, op->newudirfd, op->newname, RENAME_EXCHANGE) < 0)
		return -errno;
	if (src_lower)
		*old_wh |= WH_AT_NAME;
	else if (unlinkat(op->udirfd, op->name, 0) < 0)
		return -errno;
	return 0;
}

/* The move in the upper layer: SRC's entry to the new name, over DST's
 * if it has one there, and a whiteout at the old name if a lower layer
 * holds it. *OLD_WH: the markers left at the old name. */
static int move_on_disk(struct ufs *u, struct rename_op *op, int *old_wh)
{
	struct node *src = op->src, *dst = op->dst;
	bool dst_pos = dst && dst->type;
	bool src_lower = src->lower_positive;
	int dst_wh = dst ? dst->upper_wh : 0;
	int err;

	if (dst_pos)
		nodefile_pin(u, dst);
	if (dst_pos && node_is_dir(dst) && dst->top == u->upper) {
		err = clear_upper_dir(op->newudirfd, op->newname);
		if (err)
			return err;
	}
	if (dst_pos && dst->top == u->upper)
		err = move_in_upper(u, op, 0, src_lower && !*old_wh, old_wh);
	else if (!dst_pos && (dst_wh & WH_AT_NAME))
		err = swap_with_whiteout(op, src_lower, old_wh);
	else
		err = move_in_upper(u, op, RENAME_NOREPLACE, src_lower && !*old_wh, old_wh);
	if (!err && (dst_wh & WH_AUFS_FILE))
		err = whiteout_remove(op->newudirfd, op->newname, WH_AUFS_FILE);
	if (!err && src_lower && !*old_wh) {
		/* A name too long for a .wh. marker, without RENAME_WHITEOUT. */
		int wh = ufs_whiteout_create(u, op->udirfd, op->name);

		if (wh < 0)
			return wh;
		*old_wh |= wh;
	}
	return err;
}

/* The tree after the move: DST's node leaves it (detached if the kernel
 * holds it, keeping a directory's attributes DST_WAS if known), SRC's
 * takes the new name, in the upper layer, and the old name stays as a
 * negative entry with the markers OLD_WH. */
static int move_in_tree(struct ufs *u, struct rename_op *op, int old_wh,
			const struct stat *dst_was)
{
	struct node *src = op->src, *dst = op->dst;
	bool dst_lower = dst ? dst->lower_positive : false;
	bool src_lower = src->lower_positive;
	int err;

	view_remove(op->dir, src);
	if (dst) {
		view_remove(op->newdir, dst);
		if (dst->type) {
			node_free_view(dst);
			if (dst_was)
				node_keep_removed_attr(dst, dst_was);
			node_detach(dst);
		} else {
			node_free(dst);
		}
	}
	err = set_name(src, op->newname);
	src->top = u->upper;
	src->upper_wh = 0;
	src->lower_positive = dst_lower;
	node_keep_number(src);
	if (node_is_dir(src))
		tree_upper_only(u, src);
	view_add(op->newdir, src);
	if (!err)
		err = node_leave_negative(op->dir, op->name, u->upper, old_wh, src_lower);
	return err;
}

static int rename_move(struct ufs *u, struct rename_op *op)
{
	struct node *src = op->src, *dst = op->dst;
	bool dst_lower = dst ? dst->lower_positive : false;
	int old_wh = src->upper_wh & WH_AUFS_FILE;
	struct stat dst_was;
	bool dst_was_known = dst && dst->type && node_is_dir(dst) &&
			     node_stat(u, dst, &dst_was) == 0;
	int err;

	/* Marked before it moves, where it is (the mark goes with it): a
	 * failure then leaves nothing moved. */
	err = mark_if_needed(u, src, op->src_opaque, dst_lower, op->newdir_merges,
			     op->udirfd, op->name, &op->src_marked);
	if (!err && op->dir != op->newdir)
		err = origin_follow_move(op->newdir, op->udirfd, op->name, op->newudirfd);
	if (!err)
		err = mark_moved_copy(src, op->src_opaque, op->udirfd, op->name, op->newdir,
				      op->newudirfd);
	if (!err)
		err = move_on_disk(u, op, &old_wh);
	if (err)
		return err;
	err = move_in_tree(u, op, old_wh, dst_was_known ? &dst_was : NULL);
	if (u->trace)
		trace_rename(u, op, false, old_wh);
	return err;
}

static int rename_exchange(struct ufs *u, struct rename_op *op)
{
	struct node *src = op->src, *dst = op->dst;
	bool src_lower = src->lower_positive, dst_lower = dst->lower_positive;
	uint8_t src_wh = src->upper_wh, dst_wh = dst->upper_wh;
	int err;

	err = mark_if_needed(u, src, op->src_opaque, dst_lower, op->newdir_merges,
			     op->udirfd, op->name, &op->src_marked);
	if (!err)
		err = mark_if_needed(u, dst, op->dst_opaque, src_lower, op->dir_merges,
				     op->newudirfd, op->newname, &op->dst_marked);
	if (!err && op->dir != op->newdir)
		err = origin_follow_move(op->newdir, op->udirfd, op->name, op->newudirfd);
	if (!err && op->dir != op->newdir)
		err = origin_follow_move(op->dir, op->newudirfd, op->newname, op->udirfd);
	if (!err)
		err = mark_moved_copy(src, op->src_opaque, op->udirfd, op->name, op->newdir,
				      op->newudirfd);
	if (!err)
		err = mark_moved_copy(dst, op->dst_opaque, op->newudirfd, op->newname, op->dir,
				      op->udirfd);
	if (err)
		return err;
	if (renameat2(op->udirfd, op->name, op->newudirfd, op->newname, RENAME_EXCHANGE) < 0)
		return -errno;
	view_remove(op->dir, src);
	view_remove(op->newdir, dst);
	err = set_name(src, op->newname);
	if (!err)
		err = set_name(dst, op->name);
	src->lower_positive = dst_lower;
	dst->lower_positive = src_lower;
	src->upper_wh = dst_wh;
	dst->upper_wh = src_wh;
	node_keep_number(src);
	node_keep_number(dst);
	if (node_is_dir(src))
		tree_upper_only(u, src);
	if (node_is_dir(dst))
		tree_upper_only(u, dst);
	view_add(op->newdir, src);
	view_add(op->dir, dst);
	if (u->trace)
		trace_rename(u, op, true, 0);
	return err;
}

/* Immutable and append-only entries and directories (protattr.c): SRC
 * leaves its directory, DST is replaced (exchanged: leaves its own), or
 * the new name is added. */
static int rename_protattr(struct ufs *u, const struct rename_op *op)
{
	bool dst_pos = op->dst && op->dst->type;
	int err = protattr_may_remove(u, op->dir, op->src);

	if (!err)
		err = dst_pos ? protattr_may_remove(u, op->newdir, op->dst)
			      : protattr_may_add_in(u, op->newdir);
	return err;
}

/* The two names and what lies at them, checked: 1 if the rename has
 * nothing to do (two names of one file). */
static int rename_find(struct ufs *u, struct rename_op *op, unsigned int flags)
{
	int err;

	if (op->dir->detached || op->newdir->detached)
		return -ENOENT;
	err = ufs_view_build(u, op->dir);
	if (!err)
		err = ufs_view_build(u, op->newdir);
	if (err)
		return err;
	op->src = view_find(op->dir, op->name);
	op->dst = view_find(op->newdir, op->newname);
	if (!op->src || !op->src->type)
		return -ENOENT;
	err = rename_check(op->src, op->dst, flags);
	if (err)
		return err;
	/* Two names of one file: rename(2) does nothing. */
	if (op->dst && op->dst->type && (op->dst == op->src ||
	    (!node_is_dir(op->src) && op->dst->vino == op->src->vino)))
		return 1;
	if (op->dst && op->dst->type && node_is_dir(op->dst) && !(flags & RENAME_EXCHANGE)) {
		err = ufs_dir_empty(u, op->dst);
		if (err)
			return err;
	}
	return rename_protattr(u, op);
}

/* A lower file the rename moves, copied up first with the tree lock
 * released (copyup_may_unlock): the mount is served while a large one is
 * copied and synced, as kernel overlayfs serves every directory but the
 * two the rename holds. 1 if one was: the tree may have changed meanwhile,
 * and the names are looked up again. */
static int rename_copy_files_first(struct ufs *u, struct rename_op *op, unsigned int flags)
{
	struct node *moved[2] = { op->src, flags & RENAME_EXCHANGE ? op->dst : NULL };
	int i, err;

	for (i = 0; i < 2; i++) {
		struct node *file = moved[i];

		if (!file || node_is_dir(file) || file->top == u->upper)
			continue;
		err = copyup_may_unlock(u, file, true);
		return err < 0 ? err : 1;
	}
	return 0;
}

static int rename_locked(struct ufs *u, struct rename_op *op, unsigned int flags)
{
	int err, tries = 0;

	/* Each round copies one file; two files at most, and a third round
	 * should the tree have changed under a copy. */
	do
		err = rename_find(u, op, flags);
	while (!err && tries++ < 3 && (err = rename_copy_files_first(u, op, flags)) == 1);
	if (err)
		return err < 0 ? err : 0;
	err = copyup(u, op->dir, true);
	if (!err)
		err = copyup(u, op->newdir, true);
	if (!err)
		err = rename_copyup(u, op->src, &op->src_opaque);
	if (!err && (flags & RENAME_EXCHANGE))
		err = rename_copyup(u, op->dst, &op->dst_opaque);
	if (!err && (flags & RENAME_EXCHANGE)) /* the old parent takes DST */
		err = ufs_dir_merged(u, op->dir, &op->dir_merges);
	if (!err)
		err = ufs_dir_merged(u, op->newdir, &op->newdir_merges);
	if (!err)
		err = at_open_self(u, op->dir, u->upper, &op->up);
	if (err)
		return err;
	err = at_open_self(u, op->newdir, u->upper, &op->newup);
	if (!err) {
		op->udirfd = op->up.dirfd;
		op->newudirfd = op->newup.dirfd;
		err = (flags & RENAME_EXCHANGE) ? rename_exchange(u, op) : rename_move(u, op);
		at_close(u, &op->newup);
	}
	at_close(u, &op->up);
	return err;
}

int ufs_rename(struct ufs *u, struct node *dir, const char *name,
	       struct node *newdir, const char *newname, unsigned int flags)
{
	struct rename_op op = { .dir = dir, .newdir = newdir, .name = name, .newname = newname };
	int err;

	if ((flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) ||
	    (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE))
		return -EINVAL;
	if (ufs_read_only(u))
		return -EROFS;
	if (strlen(newname) > NAME_MAX)
		return -ENAMETOOLONG;
	if (whiteout_is_marker_name(newname))
		return -EINVAL;
	pthread_rwlock_wrlock(&u->lock);
	err = rename_locked(u, &op, flags);
	pthread_rwlock_unlock(&u->lock);
	return err;
}
