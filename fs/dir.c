/* Namespace changes (DESIGN section 4): creating over whiteouts, removing
 * with whiteouts, and renames that keep what the move means in the upper
 * layer. All of them hold the tree lock exclusive. */
#include "internal.h"
#include "origin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum new_kind { NEW_FILE, NEW_DIR, NEW_SYMLINK, NEW_NODE, NEW_LINK };

struct new_entry {
	enum new_kind kind;
	mode_t mode;
	dev_t rdev;
	const char *target;          /* NEW_SYMLINK */
	struct node *link_src;       /* NEW_LINK */
	int open_flags;              /* NEW_FILE */
	int fd;                      /* NEW_FILE: out */
};

static int check_name(const char *name)
{
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	/* Such a name would read back as a marker, not as a file. */
	if (whiteout_is_marker_name(name))
		return -EINVAL;
	return 0;
}

/* Take NODE out of the merged tree. Open files keep it alive. */
void node_detach(struct node *node)
{
	node->detached = true;
	node->parent = NULL;
	if (atomic_load(&node->nlookup) == 0)
		node_free(node);
}

/* Owner of a new entry: the caller, with the group of a set-group-ID parent.
 * Returns whether the entry needs a chown: not when the daemon creates it
 * with that owner already (a caller of the daemon's own ids). */
static bool new_owner(const struct ufs *u, int udirfd, const struct ufs_cred *cred, uid_t *uid,
		      gid_t *gid, mode_t *mode, enum new_kind kind)
{
	gid_t made_gid = getegid();
	struct stat pst;

	*uid = owner_stored_uid(u, cred->uid);
	*gid = owner_stored_gid(u, cred->gid);
	if (fstat(udirfd, &pst) < 0)
		return true;
	if (pst.st_mode & S_ISGID) {
		*gid = made_gid = pst.st_gid;
		if (kind == NEW_DIR)
			*mode |= S_ISGID;
	}
	return *uid != geteuid() || *gid != made_gid;
}

static int make_object(int dirfd, const char *name, struct new_entry *ne, mode_t mode)
{
	switch (ne->kind) {
	case NEW_FILE:
		ne->fd = openat(dirfd, name, (ne->open_flags & ~O_CREAT) | O_CREAT | O_EXCL |
				O_NOFOLLOW | O_CLOEXEC, mode & 07777);
		return ne->fd < 0 ? -errno : 0;
	case NEW_DIR:
		return mkdirat(dirfd, name, mode & 07777) < 0 ? -errno : 0;
	case NEW_SYMLINK:
		return symlinkat(ne->target, dirfd, name) < 0 ? -errno : 0;
	case NEW_NODE:
		return mknodat(dirfd, name, mode, ne->rdev) < 0 ? -errno : 0;
	case NEW_LINK:
		break;
	}
	return -EINVAL;
}

static int link_object(struct ufs *u, struct node *src, int dirfd, const char *name)
{
	struct at at;
	int err = at_open(u, src, u->upper, &at);

	if (err)
		return err;
	if (linkat(at.dirfd, at.name, dirfd, name, 0) < 0)
		err = -errno;
	at_close(u, &at);
	return err;
}

/* Owner and set-id bits of a new entry (chown as root clears set-id bits). */
static int set_new_owner(struct ufs *u, int dirfd, const char *name, uid_t uid, gid_t gid,
			 mode_t mode, enum new_kind kind, bool do_chown)
{
	static const mode_t type_of[] = { [NEW_FILE] = S_IFREG, [NEW_DIR] = S_IFDIR,
					  [NEW_SYMLINK] = S_IFLNK, [NEW_NODE] = 0, [NEW_LINK] = 0 };
	struct stat st;
	int err = 0;

	/* A stat is cheaper than a chown, which dirties the inode: check
	 * that the filesystem gave the owner foreseen (not so with grpid). */
	if (!do_chown)
		do_chown = fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			   st.st_uid != uid || st.st_gid != gid;
	if (do_chown)
		err = owner_set(u, dirfd, name, uid, gid, type_of[kind] | (mode & ~S_IFMT));
	if (err || kind == NEW_SYMLINK || !(mode & (S_ISUID | S_ISGID)))
		return err;
	/* The permission bits are the filesystem's (a default ACL may have
	 * set them): only the set-id bits are added. */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return layer_chmod(dirfd, name, (st.st_mode & 0777) | (mode & 07000));
}

/* Put TDIR/TMP (in work/) at NAME in the upper directory UDIRFD, in place
 * of the upper whiteout(s) WH. A device whiteout is swapped out atomically. */
static int install_over_whiteout(int tdir, const char *tmp, int udirfd, const char *name,
				 int wh)
{
	if (wh & WH_AT_NAME) {
		if (renameat2(tdir, tmp, udirfd, name, RENAME_EXCHANGE) < 0)
			return -errno;
		util_remove_tree(tdir, tmp);
	} else if (renameat2(tdir, tmp, udirfd, name, RENAME_NOREPLACE) < 0) {
		return -errno;
	}
	return whiteout_remove(udirfd, name, wh & WH_AUFS_FILE);
}

/* Where an entry replacing whiteout(s) WH of the upper directory UDIRFD is
 * made before it is swapped in: work/, or a scratch directory there with
 * UDIRFD's default ACL, for the entry to inherit it (acl.c). *STAGING is
 * that directory's name, "" if none. */
static int new_entry_place(struct ufs *u, int udirfd, int wh, bool inherits, char *staging,
			   int *tdir)
{
	*staging = '\0';
	*tdir = udirfd;
	if (!wh)
		return 0;
	*tdir = u->work_fd;
	if (!inherits)
		return 0;
	return acl_staging_open(u, udirfd, staging, UFS_TMPNAME_MAX, tdir);
}

static void new_entry_place_done(struct ufs *u, const char *staging, int tdir)
{
	if (!*staging)
		return;
	close(tdir);
	util_remove_tree(u->work_fd, staging);
}

/* Undo a new entry made at TDIR/TNAME, NE->fd included. */
static void new_entry_undo(const struct new_entry *ne, int tdir, const char *tname)
{
	if (ne->kind == NEW_FILE)
		close(ne->fd);
	util_remove_tree(tdir, tname);
}

/* Make the entry NE at TDIR/TNAME with its owner and set-id bits, and opaque
 * if it is a directory replacing a whiteout (it must not show what lies
 * below). Nothing is left behind on failure. */
static int new_entry_make(struct ufs *u, int udirfd, int tdir, const char *tname,
			  struct new_entry *ne, const struct ufs_cred *cred, mode_t mode, bool wh)
{
	/* Made in work/, the entry takes its group from there: chown it. */
	bool do_chown;
	uid_t uid;
	gid_t gid;
	int err;

	do_chown = new_owner(u, udirfd, cred, &uid, &gid, &mode, ne->kind) || wh;
	if (ne->kind == NEW_LINK)
		return link_object(u, ne->link_src, tdir, tname);
	err = make_object(tdir, tname, ne, mode);
	if (err)
		return err;
	err = set_new_owner(u, tdir, tname, uid, gid, mode, ne->kind, do_chown);
	if (!err && ne->kind == NEW_DIR && wh)
		err = opaque_mark(tdir, tname, u->whiteout_format);
	if (err)
		new_entry_undo(ne, tdir, tname);
	return err;
}

/* A second name, in DIR (UDIRFD), for SRC, a copy whose number comes from
 * below: the directories of both names are marked (origin.c), so that
 * after a remount each finds the lower entry where the copy-up recorded
 * it was, and both show its number. */
static int mark_linked_copy(struct ufs *u, struct node *src, struct node *dir, int udirfd)
{
	struct at at;
	int err;

	if (!src->vino_below)
		return 0;
	err = origin_mark_moved(dir, udirfd, ".");
	if (err || src->detached || !src->parent || src->parent == dir)
		return err;
	err = at_open(u, src, u->upper, &at);
	if (err)
		return err;
	err = origin_mark_moved(src->parent, at.dirfd, ".");
	at_close(u, &at);
	return err;
}

static int new_entry_create(struct ufs *u, struct node *dir, int udirfd, const char *name,
			    struct node *old, struct new_entry *ne, const struct ufs_cred *cred)
{
	int wh = old ? old->upper_wh : 0;
	char tmp[UFS_TMPNAME_MAX], staging[UFS_TMPNAME_MAX];
	bool inherits = ne->kind != NEW_LINK && acl_dir_has_default(dir, udirfd);
	mode_t mode = inherits ? ne->mode : ne->mode & ~(cred->umask & 0777);
	int tdir, err = 0;

	if (ne->kind == NEW_LINK)
		err = mark_linked_copy(u, ne->link_src, dir, udirfd);
	if (!err)
		err = new_entry_place(u, udirfd, wh, inherits, staging, &tdir);
	if (err)
		return err;
	ufs_tmpname(u, tmp, sizeof(tmp));
	err = new_entry_make(u, udirfd, tdir, wh ? tmp : name, ne, cred, mode, wh);
	if (!err && wh) {
		err = install_over_whiteout(tdir, tmp, udirfd, name, wh);
		if (err)
			new_entry_undo(ne, tdir, tmp);
	}
	new_entry_place_done(u, staging, tdir);
	return err;
}

/* The node for the new entry NAME, replacing the negative node OLD. */
static int new_entry_node(struct ufs *u, struct node *dir, const char *name, struct node *old,
			  const struct new_entry *ne, int udirfd, struct node **out, struct stat *st)
{
	struct node *node;
	mode_t type;

	if (fstatat(udirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	owner_apply(u, udirfd, name, st);
	owner_show(u, st);
	type = st->st_mode & S_IFMT;
	node = node_new(name, type, u->upper);
	if (!node)
		return -ENOMEM;
	node->id = ufs_new_node_id(u);
	node->vino = ne->kind == NEW_LINK ? ne->link_src->vino
					  : ufs_vino(u, u->layers[u->upper].dev, st->st_ino);
	node->vino_below = ne->kind == NEW_LINK && ne->link_src->vino_below;
	node->vino_kept = ne->kind == NEW_LINK && ne->link_src->vino_kept;
	node->origin_path = ne->kind == NEW_LINK && ne->link_src->origin_path;
	protattr_none(node);    /* new, or a name of a file that has none */
	if (S_ISDIR(type)) {
		if (node_dl_set_single(node, u->upper) < 0) {
			node_free(node);
			return -ENOMEM;
		}
		atomic_store(&node->layers_final, true);
		atomic_store(&node->view_built, true);
	}
	/* A new file, or a name of a whole one: none holds only metadata. */
	if (S_ISREG(type))
		node->data_checked = true;
	if (old) {
		node->lower_positive = old->lower_positive;
		view_remove(dir, old);
		node_free(old);
	}
	view_add(dir, node);
	st->st_ino = node->vino;
	*out = node_ref(node);
	return 0;
}

static void trace_create_over(struct ufs *u, struct node *dir, const char *name, bool is_dir)
{
	char *path = trace_path(dir, name);

	if (is_dir)
		trace_line(u, "mkdir %s over a whiteout: new directory marked opaque", path);
	else
		trace_line(u, "create %s over a whiteout: the whiteout is replaced", path);
	free(path);
}

static int create_entry(struct ufs *u, struct node *dir, const char *name, struct new_entry *ne,
			const struct ufs_cred *cred, struct node **out, struct stat *st)
{
	struct at up = { .dirfd = -1 };
	struct node *old;
	int err;

	ne->fd = -1;
	err = check_name(name);
	if (err)
		return err;
	if (ufs_read_only(u))
		return -EROFS;
	pthread_rwlock_wrlock(&u->lock);
	err = ufs_view_build(u, dir);
	if (err)
		goto out_unlock;
	old = view_find(dir, name);
	if (old && old->type) {
		err = -EEXIST;
		goto out_unlock;
	}
	err = protattr_may_add_in(u, dir);
	if (!err)
		err = copyup(u, dir, true);
	if (!err)
		err = at_open_self(u, dir, u->upper, &up);
	if (!err)
		err = new_entry_create(u, dir, up.dirfd, name, old, ne, cred);
	if (!err && u->trace && old && old->upper_wh)
		trace_create_over(u, dir, name, ne->kind == NEW_DIR);
	if (!err) {
		err = new_entry_node(u, dir, name, old, ne, up.dirfd, out, st);
		if (err && ne->kind == NEW_FILE)
			close(ne->fd);
	}
	at_close(u, &up);
out_unlock:
	pthread_rwlock_unlock(&u->lock);
	return err;
}

int ufs_mknod(struct ufs *u, struct node *dir, const char *name, mode_t mode, dev_t rdev,
	      const struct ufs_cred *cred, struct node **out, struct stat *st)
{
	struct new_entry ne = { .kind = S_ISREG(mode) ? NEW_FILE : NEW_NODE,
				.mode = mode, .rdev = rdev, .open_flags = O_WRONLY };
	int err;

	/* It would read back as a whiteout. overlayfs refuses it too. */
	if (S_ISCHR(mode) && rdev == 0)
		return -EPERM;
	err = create_entry(u, dir, name, &ne, cred, out, st);

	if (!err && ne.kind == NEW_FILE)
		close(ne.fd);
	return err;
}

int ufs_mkdir(struct ufs *u, struct node *dir, const char *name, mode_t mode,
	      const struct ufs_cred *cred, struct node **out, struct stat *st)
{
	struct new_entry ne = { .kind = NEW_DIR, .mode = mode };

	return create_entry(u, dir, name, &ne, cred, out, st);
}

int ufs_symlink(struct ufs *u, struct node *dir, const char *name, const char *target,
		const struct ufs_cred *cred, struct node **out, struct stat *st)
{
	struct new_entry ne = { .kind = NEW_SYMLINK, .mode = S_IFLNK | 0777, .target = target };

	return create_entry(u, dir, name, &ne, cred, out, st);
}

int ufs_create_file(struct ufs *u, struct node *dir, const char *name, mode_t mode, int flags,
		    const struct ufs_cred *cred, struct node **out, struct stat *st, int *fd)
{
	struct new_entry ne = { .kind = NEW_FILE, .mode = mode, .open_flags = flags };
	int err = create_entry(u, dir, name, &ne, cred, out, st);

	*fd = ne.fd;
	return err;
}

int ufs_link(struct ufs *u, struct node *node, struct node *dir, const char *name,
	     struct node **out, struct stat *st)
{
	struct new_entry ne = { .kind = NEW_LINK, .link_src = node };
	const struct ufs_cred none = { .uid = 0, .gid = 0 };
	int err;

	if (ufs_read_only(u))
		return -EROFS;
	if (node_is_dir(node))
		return -EPERM;
	/* The source must be in the upper layer to be linked there; a large
	 * one is copied with the tree lock released, the mount served. */
	pthread_rwlock_wrlock(&u->lock);
	err = node->detached ? 0 : protattr_may_change(u, node);
	if (!err)
		err = copyup_may_unlock(u, node, true);
	/* The new name takes the number from here (new_entry_node). */
	if (!err)
		node_keep_number(node);
	pthread_rwlock_unlock(&u->lock);
	if (err)
		return err;
	err = create_entry(u, dir, name, &ne, &none, out, st);
	/* The source's link count changed too. */
	if (!err)
		ufs_attr_changed(u, node);
	return err;
}

/* A marker made for a removal that then failed goes again; returns ERR. */
static int undo_marker(int udirfd, const char *name, int wh, int err)
{
	if (wh)
		whiteout_remove(udirfd, name, wh);
	return err;
}

/* Remove NAME's upper entry (a file, or a directory holding only markers),
 * leaving a whiteout when WANT_WHITEOUT. Returns the WH_* bits now in upper. */
static int remove_upper(struct ufs *u, int udirfd, const char *name, bool is_dir,
			bool want_whiteout)
{
	char tmp[UFS_TMPNAME_MAX];
	int err, wh;

	ufs_tmpname(u, tmp, sizeof(tmp));
	if (want_whiteout && u->whiteout_format == WH_FORMAT_OVERLAY &&
	    ufs_whiteout_device(u, u->work_fd, tmp) == 0) {
		/* Swap the entry for a whiteout in one step. */
		if (renameat2(u->work_fd, tmp, udirfd, name, RENAME_EXCHANGE) < 0) {
			err = -errno;
			unlinkat(u->work_fd, tmp, 0);
			return err;
		}
		util_remove_tree(u->work_fd, tmp);
		return WH_AT_NAME;
	}
	/* A .wh.NAME marker is made before NAME goes: beside NAME in one
	 * layer it hides only what lies below, which NAME (empty of anything
	 * visible, for a directory) hid anyway. A crash between the two steps
	 * then shows NAME as it was, never the lower entries it hid. */
	wh = 0;
	if (want_whiteout && strlen(name) + WH_PREFIX_LEN <= NAME_MAX) {
		wh = whiteout_create(udirfd, name, WH_FORMAT_AUFS);
		if (wh == -EEXIST)      /* left by such a crash */
			wh = WH_AUFS_FILE;
		if (wh < 0)
			return wh;
	}
	if (is_dir) {
		if (renameat2(udirfd, name, u->work_fd, tmp, RENAME_NOREPLACE) < 0)
			return undo_marker(udirfd, name, wh, -errno);
		util_remove_tree(u->work_fd, tmp);
	} else if (unlinkat(udirfd, name, 0) < 0) {
		return undo_marker(udirfd, name, wh, -errno);
	}
	/* A name too long for a marker gets a device whiteout after all. */
	if (want_whiteout && !wh)
		wh = ufs_whiteout_create(u, udirfd, name);
	return wh;
}

/* After NODE's name in DIR went away: a negative node keeps the upper
 * markers that remain, for a later create over them. */
int node_leave_negative(struct node *dir, const char *name, int upper, int wh,
			  bool lower_positive)
{
	struct node *neg;

	if (!wh)
		return 0;
	neg = node_new(name, 0, upper);
	if (!neg)
		return -ENOMEM;
	neg->upper_wh = (uint8_t)wh;
	neg->lower_positive = lower_positive;
	view_add(dir, neg);
	return 0;
}

static const char *whiteout_words(int wh)
{
	if (wh & WH_AT_NAME)
		return "char 0/0";
	return ".wh. file";
}

static void trace_remove(struct ufs *u, struct node *dir, struct node *node, int wh, bool rmdir)
{
	char *path = trace_path(dir, node->name);
	char layer[TRACE_LAYER_MAX];
	const char *op = rmdir ? "rmdir" : "unlink";

	if (wh)
		trace_line(u, "%s %s: exists in %s, whiteout written to upper (%s)", op, path,
			   trace_layer(u, node->top == u->upper && node->ndl > 1 ? node->dl[1] :
				       node->top, layer), whiteout_words(wh));
	else
		trace_line(u, "%s %s: only in upper, removed", op, path);
	free(path);
}

static int remove_entry(struct ufs *u, struct node *dir, const char *name, bool rmdir)
{
	struct at up;
	struct node *node;
	struct stat was;
	bool was_known = false;
	int wh, err;

	if (ufs_read_only(u))
		return -EROFS;
	pthread_rwlock_wrlock(&u->lock);
	err = ufs_view_build(u, dir);
	if (err)
		goto out_unlock;
	node = view_find(dir, name);
	if (!node || !node->type) {
		err = -ENOENT;
		goto out_unlock;
	}
	if (rmdir != node_is_dir(node)) {
		err = rmdir ? -ENOTDIR : -EISDIR;
		goto out_unlock;
	}
	err = protattr_may_remove(u, dir, node);
	if (err)
		goto out_unlock;
	if (rmdir) {
		err = ufs_dir_empty(u, node);
		if (err)
			goto out_unlock;
		was_known = node_stat(u, node, &was) == 0;
	}
	err = copyup(u, dir, true);
	if (!err)
		err = at_open_self(u, dir, u->upper, &up);
	if (err)
		goto out_unlock;
	nodefile_pin(u, node);
	if (node->top == u->upper)
		wh = remove_upper(u, up.dirfd, name, rmdir, node->lower_positive);
	else
		wh = ufs_whiteout_create(u, up.dirfd, name);
	at_close(u, &up);
	if (wh < 0) {
		err = wh;
		goto out_unlock;
	}
	if (u->trace)
		trace_remove(u, dir, node, wh, rmdir);
	view_remove(dir, node);
	err = node_leave_negative(dir, name, u->upper, wh | (node->upper_wh & WH_AUFS_FILE),
			     node->lower_positive);
	if (rmdir)
		node_free_view(node);
	if (was_known)
		node_keep_removed_attr(node, &was);
	node_detach(node);
out_unlock:
	pthread_rwlock_unlock(&u->lock);
	return err;
}

int ufs_unlink(struct ufs *u, struct node *dir, const char *name)
{
	return remove_entry(u, dir, name, false);
}

int ufs_rmdir(struct ufs *u, struct node *dir, const char *name)
{
	return remove_entry(u, dir, name, true);
}
