/* FUSE low-level operations over the union library. Each handler computes
 * one result and replies exactly once. Modelled on libfuse's passthrough_ll. */
#include "fuse_ops.h"
#include "fuse_dirplus.h"
#include "fuse_killpriv.h"
#include "fuse_requests.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/fuse.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static struct ufuse *uf(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct ufs *ufs_of(fuse_req_t req)
{
	return uf(req)->u;
}

static struct node *node_of(fuse_req_t req, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return ufs_of(req)->root;
	return (struct node *)(uintptr_t)ino;
}

/* Before the reply: a census read after it has the request in it. */
static void count_request(fuse_req_t req, unsigned opcode)
{
	requests_count(&uf(req)->requests, opcode);
}

static struct handle *handle_of(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

static struct ufs_cred cred_of(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	return (struct ufs_cred){ .uid = ctx->uid, .gid = ctx->gid, .umask = ctx->umask };
}

/* Names of one upper file are separate kernel inodes here: their cached
 * attributes would go stale when the file changes through another name.
 * Lower files never change, whatever their link count. */
static double attr_timeout(fuse_req_t req, struct node *node, const struct stat *st)
{
	bool shared = !S_ISDIR(st->st_mode) && st->st_nlink > 1 &&
		      node->top == ufs_of(req)->upper;

	return shared ? 0 : uf(req)->timeout;
}

/* The same for cached pages of such a file. */
static int keep_cache(fuse_req_t req, const struct handle *h)
{
	struct stat st;

	if (h->layer != ufs_of(req)->upper)
		return 1;
	return fstat(h->fd, &st) == 0 && st.st_nlink <= 1;
}

static void entry_fill(fuse_req_t req, struct fuse_entry_param *e, struct node *node,
		       const struct stat *st)
{
	memset(e, 0, sizeof(*e));
	e->ino = (uintptr_t)node;
	if (node == ufs_of(req)->root)
		e->ino = FUSE_ROOT_ID;
	e->attr = *st;
	e->attr_timeout = attr_timeout(req, node, st);
	e->entry_timeout = uf(req)->timeout;
}

static void reply_entry(fuse_req_t req, int err, struct node *node, const struct stat *st)
{
	struct fuse_entry_param e;

	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	entry_fill(req, &e, node, st);
	fuse_reply_entry(req, &e);
}

void ufuse_attr_changed(void *session, struct node *node)
{
	/* A negative offset drops attributes only: no page is locked, so
	 * this is safe from inside a request. */
	fuse_lowlevel_notify_inval_inode(session, (uintptr_t)node, -1, 0);
}

void ufuse_listing_changed(void *session, struct node *dir, bool root)
{
	/* Offset 0: the cached listing (the directory's pages) goes too.
	 * The kernel locks a page of a listing only while it fills it, not
	 * across a request, so this too is safe from inside one. */
	fuse_lowlevel_notify_inval_inode(session, root ? FUSE_ROOT_ID : (uintptr_t)dir, 0, 0);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct ufuse *f = userdata;

	requests_count(&f->requests, FUSE_INIT);
	/* No OPEN and RELEASE requests: the first OPEN gets ENOSYS, and the
	 * kernel opens and closes files on its own from then on, sparing a
	 * round trip per open (the union checks nothing there: the kernel
	 * checks permissions) and one per close. Reads and writes then come
	 * without a handle and use the node's own file (nodefile.c); a write
	 * copies up, as the open for writing did. O_TRUNC must then come as
	 * a SETATTR (no ATOMIC_O_TRUNC), or it would be lost. The kernel
	 * keeps every file's cached pages: where a file can change through
	 * another of its names (an upper hard link, seen here as a separate
	 * inode with no attribute caching), AUTO_INVAL_DATA has each read
	 * check its size and mtime and drop pages that went stale.
	 * -o copyup_on_open keeps OPEN requests, for overlayfs' timing: a
	 * lower file copied up by an open for writing, even if nothing is
	 * written (which breaks a lower hard link there and then). */
	if (!f->copyup_on_open && (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) &&
	    (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)) {
		f->no_open = true;
		conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	}
	/* No OPENDIR and RELEASEDIR either: listings come without a handle
	 * and are read straight from the view (ufs_readdir_from), and the
	 * kernel caches them as it did with cache_readdir. A walk the kernel
	 * has cached then asks the daemon nothing at all. */
	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT)
		f->no_opendir = true;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* Replies to READ are spliced from the layer's page cache to
	 * /dev/fuse: one copy, straight into the mount's pages. Not
	 * SPLICE_MOVE: it manages to take over few pages (124 of a cached
	 * 1 GiB file: the others are large folios) and measured slower and
	 * less steady here (a fresh 1 GiB read 0.30-1.38 s, median 0.41 s,
	 * against 0.26-0.50 s, median 0.32 s, without). (SPLICE_READ, for
	 * writes, is on by libfuse's default.) */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	/* POSIX ACLs, kept in the layers as system.posix_acl_* xattrs, are
	 * enforced by the kernel as for a local filesystem. The umask of a
	 * new entry is left to the union, which knows whether a default ACL
	 * replaces it (acl.c). */
	if (conn->capable & FUSE_CAP_POSIX_ACL)
		conn->want |= FUSE_CAP_POSIX_ACL;
	if (conn->capable & FUSE_CAP_DONT_MASK)
		conn->want |= FUSE_CAP_DONT_MASK;
	/* Large requests: fewer round trips for big reads and writes. */
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node *node;
	struct stat st;
	int err = ufs_lookup(ufs_of(req), node_of(req, parent), name, &node, &st);

	count_request(req, FUSE_LOOKUP);
	if (err == -ENOENT) {
		/* A negative entry the kernel may cache as long as a positive one. */
		struct fuse_entry_param e = { .ino = 0, .entry_timeout = uf(req)->timeout };

		fuse_reply_entry(req, &e);
		return;
	}
	/* If its directory was listed without files' attributes, listings
	 * give them from now on (fuse_dirplus.h). */
	if (!err && !S_ISDIR(st.st_mode))
		dirplus_file_looked_up(&uf(req)->dirplus, parent);
	reply_entry(req, err, node, &st);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	count_request(req, FUSE_FORGET);
	if (ino != FUSE_ROOT_ID)
		ufs_forget(ufs_of(req), node_of(req, ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	size_t i;

	count_request(req, FUSE_BATCH_FORGET);
	for (i = 0; i < count; i++)
		if (forgets[i].ino != FUSE_ROOT_ID)
			ufs_forget(ufs_of(req), node_of(req, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int err = ufs_getattr(ufs_of(req), node_of(req, ino), &st);

	count_request(req, FUSE_GETATTR);
	(void)fi;
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &st, attr_timeout(req, node_of(req, ino), &st));
}

static int setattr_flags(int valid)
{
	static const struct { int fuse, ufs; } map[] = {
		{ FUSE_SET_ATTR_MODE, UFS_SET_MODE }, { FUSE_SET_ATTR_UID, UFS_SET_UID },
		{ FUSE_SET_ATTR_GID, UFS_SET_GID }, { FUSE_SET_ATTR_SIZE, UFS_SET_SIZE },
		{ FUSE_SET_ATTR_ATIME, UFS_SET_ATIME }, { FUSE_SET_ATTR_MTIME, UFS_SET_MTIME },
		{ FUSE_SET_ATTR_ATIME_NOW, UFS_SET_ATIME_NOW },
		{ FUSE_SET_ATTR_MTIME_NOW, UFS_SET_MTIME_NOW },
	};
	int to_set = 0;
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (valid & map[i].fuse)
			to_set |= map[i].ufs;
	return to_set;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		       struct fuse_file_info *fi)
{
	int fd = fi && fi->fh ? handle_of(fi)->fd : -1;
	struct stat st;
	int err;

	count_request(req, FUSE_SETATTR);
	err = ufs_setattr(ufs_of(req), node_of(req, ino), attr, setattr_flags(valid), fd, &st);
	if (!err && (valid & FUSE_SET_ATTR_SIZE) && (st.st_mode & (S_ISUID | S_ISGID))) {
		killpriv_drop_setid(req, node_of(req, ino));
		err = ufs_getattr(ufs_of(req), node_of(req, ino), &st);
	}
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &st, attr_timeout(req, node_of(req, ino), &st));
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char *target;
	int err = ufs_readlink(ufs_of(req), node_of(req, ino), &target);

	count_request(req, FUSE_READLINK);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	fuse_reply_readlink(req, target);
	free(target);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct ufs_cred cred = cred_of(req);
	struct node *node;
	struct stat st;
	int err = ufs_mknod(ufs_of(req), node_of(req, parent), name, mode, rdev, &cred, &node, &st);

	count_request(req, FUSE_MKNOD);
	reply_entry(req, err, node, &st);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct ufs_cred cred = cred_of(req);
	struct node *node;
	struct stat st;
	int err = ufs_mkdir(ufs_of(req), node_of(req, parent), name, mode, &cred, &node, &st);

	count_request(req, FUSE_MKDIR);
	reply_entry(req, err, node, &st);
}

static void op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	struct ufs_cred cred = cred_of(req);
	struct node *node;
	struct stat st;
	int err = ufs_symlink(ufs_of(req), node_of(req, parent), name, target, &cred, &node, &st);

	count_request(req, FUSE_SYMLINK);
	reply_entry(req, err, node, &st);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	struct node *node;
	struct stat st;
	int err = ufs_link(ufs_of(req), node_of(req, ino), node_of(req, parent), name, &node, &st);

	count_request(req, FUSE_LINK);
	reply_entry(req, err, node, &st);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	count_request(req, FUSE_UNLINK);
	fuse_reply_err(req, -ufs_unlink(ufs_of(req), node_of(req, parent), name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	count_request(req, FUSE_RMDIR);
	fuse_reply_err(req, -ufs_rmdir(ufs_of(req), node_of(req, parent), name));
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	int err = ufs_rename(ufs_of(req), node_of(req, parent), name,
			     node_of(req, newparent), newname, flags);

	count_request(req, flags ? FUSE_RENAME2 : FUSE_RENAME);
	fuse_reply_err(req, -err);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h;
	int err;

	count_request(req, FUSE_OPEN);
	if (uf(req)->no_open) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	err = ufs_open(ufs_of(req), node_of(req, ino), fi->flags, &h);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	fi->fh = (uintptr_t)h;
	if ((fi->flags & O_TRUNC) && (h->mode & (S_ISUID | S_ISGID)))
		killpriv_drop_setid(req, h->node);
	/* Every change goes through this mount, so cached pages stay true. */
	fi->keep_cache = keep_cache(req, h);
	if (fuse_reply_open(req, fi) == -ENOENT)
		ufs_release(ufs_of(req), h);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct ufs_cred cred = cred_of(req);
	struct fuse_entry_param e;
	struct handle *h;
	struct node *node;
	struct stat st;
	int err;

	count_request(req, FUSE_CREATE);
	err = ufs_create(ufs_of(req), node_of(req, parent), name, mode, fi->flags, &cred,
			 &node, &st, &h);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	fi->keep_cache = 1;
	entry_fill(req, &e, node, &st);
	if (uf(req)->no_open) {
		/* No RELEASE will come for this handle either: the file
		 * becomes the node's own, and the kernel gets none. */
		ufs_node_file_adopt(ufs_of(req), h, fi->flags);
		fi->fh = 0;
		fuse_reply_create(req, &e, fi);
		return;
	}
	fi->fh = (uintptr_t)h;
	if (fuse_reply_create(req, &e, fi) == -ENOENT)
		ufs_release(ufs_of(req), h);
}

/* The open file a request on INO is for: the handle the kernel holds, or
 * without one (no OPEN requests) the node's own file for ACCESS. Given back
 * with file_done, before the reply (see op_read). */
static int file_of(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		   enum ufs_access access, struct handle **h)
{
	if (fi && fi->fh) {
		*h = handle_of(fi);
		return 0;
	}
	return ufs_node_file(ufs_of(req), node_of(req, ino), access, h);
}

/* file_of for a change of the data: refused first where the file is
 * immutable, or append-only and the change does more than GROW it (its
 * descriptor may be older than the flag). */
static int file_to_change(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
			  enum ufs_access access, bool grow, struct handle **h)
{
	int err = ufs_may_write(ufs_of(req), node_of(req, ino), grow);

	return err ? err : file_of(req, ino, fi, access, h);
}

static void file_done(struct ufs *u, struct fuse_file_info *fi, struct handle *h)
{
	if (!(fi && fi->fh))
		ufs_handle_put(u, h);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	struct handle *h;
	int fd, err = file_of(req, ino, fi, UFS_READ, &h);

	count_request(req, FUSE_READ);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	/* A node's file is given back before the reply: once the reply is
	 * out, the kernel may forget the node, and the node go with it. The
	 * reply reads from a duplicate. */
	fd = fi->fh ? h->fd : dup(h->fd);
	file_done(ufs_of(req), fi, h);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, 0);
	if (!fi->fh)
		close(fd);
}

/* Whether a write through H may have set-id bits to drop. A node's own
 * file lives long: its mode is looked at now. */
static bool may_have_setid(const struct fuse_file_info *fi, const struct handle *h)
{
	struct stat st;

	if (fi->fh)
		return h->mode & (S_ISUID | S_ISGID);
	return fstat(h->fd, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID));
}

static void op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
			 struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	struct ufs *u = ufs_of(req);
	struct handle *h;
	ssize_t n;
	bool append = fi->flags & O_APPEND;
	int err = file_to_change(req, ino, fi, append ? UFS_APPEND : UFS_WRITE, append, &h);

	count_request(req, FUSE_WRITE);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	if (may_have_setid(fi, h))
		killpriv_drop_setid(req, h->node);
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = h->fd;
	out.buf[0].pos = off;
	n = fuse_buf_copy(&out, in, 0);
	file_done(u, fi, h);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count_request(req, FUSE_RELEASE);
	(void)ino;
	if (fi->fh)
		ufs_release(ufs_of(req), handle_of(fi));
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct handle *h;
	int err = file_of(req, ino, fi, UFS_READ, &h);

	count_request(req, FUSE_FSYNC);
	if (!err) {
		if ((datasync ? fdatasync(h->fd) : fsync(h->fd)) < 0)
			err = -errno;
		file_done(ufs_of(req), fi, h);
	}
	fuse_reply_err(req, -err);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dir_snapshot *snap;
	int err;

	count_request(req, FUSE_OPENDIR);
	if (uf(req)->no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	err = ufs_opendir(ufs_of(req), node_of(req, ino), &snap);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	fi->fh = (uintptr_t)snap;
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	if (fuse_reply_open(req, fi) == -ENOENT)
		ufs_releasedir(snap);
}

/* Whether DE goes into a readdirplus reply bare, with no attributes (as
 * in a plain READDIR): "." and "..", and files unless FILES_FULL
 * (fuse_dirplus.h). A type of 0 is unknown: it may be a directory. */
static bool entry_bare(const struct dir_entry *de, bool files_full)
{
	if (strcmp(de->name, ".") == 0 || strcmp(de->name, "..") == 0)
		return true;
	return !files_full && de->type != 0 && !S_ISDIR(de->type);
}

/* Add one entry to a readdirplus reply; returns its size (0: it did not
 * fit, -1: it vanished and is skipped). */
static ssize_t add_plus(fuse_req_t req, fuse_ino_t ino, char *p, size_t rem,
			const struct dir_entry *de, bool files_full)
{
	struct fuse_entry_param e = { 0 };
	struct node *node = NULL;
	struct stat st;
	size_t size;

	if (entry_bare(de, files_full)) {
		e.attr.st_ino = de->ino;
		e.attr.st_mode = de->type;
	} else {
		int err = ufs_lookup_quiet(ufs_of(req), node_of(req, ino), de->name, &node, &st);

		if (err)
			return -1;
		entry_fill(req, &e, node, &st);
	}
	size = fuse_add_direntry_plus(req, p, rem, de->name, &e, (off_t)de->next_off);
	if (size > rem) {
		if (node)
			ufs_forget(ufs_of(req), node, 1);
		return 0;
	}
	return (ssize_t)size;
}

/* Reply to a READDIR(PLUS) at offset OFF with the entries of SNAP from
 * index FIRST on, as many as fit in SIZE bytes. */
static void reply_entries(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  const struct dir_snapshot *snap, size_t first, bool plus)
{
	char *buf = malloc(size), *p = buf;
	size_t rem = size, i;
	bool files_full = plus && dirplus_files_full(&uf(req)->dirplus, ino, (uint64_t)off);

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (i = first; i < snap->count; i++) {
		const struct dir_entry *de = &snap->entries[i];
		ssize_t n;

		if (plus) {
			n = add_plus(req, ino, p, rem, de, files_full);
			if (n < 0)
				continue;
		} else {
			struct stat st = { .st_ino = de->ino, .st_mode = de->type };
			size_t need = fuse_add_direntry(req, p, rem, de->name, &st,
							(off_t)de->next_off);

			n = need > rem ? 0 : (ssize_t)need;
		}
		if (n == 0)
			break;
		p += n;
		rem -= (size_t)n;
	}
	fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

struct entry_size_ctx {
	fuse_req_t req;
	bool plus;
};

/* What one entry named NAME takes in a reply (libfuse tells, given no buffer). */
static size_t entry_size(void *ctx, const char *name)
{
	const struct entry_size_ctx *c = ctx;

	if (c->plus)
		return fuse_add_direntry_plus(c->req, NULL, 0, name, NULL, 0);
	return fuse_add_direntry(c->req, NULL, 0, name, NULL, 0);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct dir_snapshot *snap = (struct dir_snapshot *)(uintptr_t)fi->fh;
	struct entry_size_ctx ctx = { .req = req, .plus = plus };
	struct readdir_budget budget = { .bytes = size, .entry_size = entry_size, .ctx = &ctx };
	struct dir_snapshot part;
	int err;

	if (!snap) {
		/* No OPENDIR: straight from the view, offsets are cookies. */
		err = ufs_readdir_from(ufs_of(req), node_of(req, ino), (uint64_t)off, &budget,
				       &part);
		if (err) {
			fuse_reply_err(req, -err);
			return;
		}
		reply_entries(req, ino, size, off, &part, 0, plus);
		ufs_readdir_done(&part);
		return;
	}
	err = off == 0 ? ufs_readdir_start(ufs_of(req), node_of(req, ino), snap) : 0;
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	reply_entries(req, ino, size, off, snap, (size_t)off, plus);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	count_request(req, FUSE_READDIR);
	do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	count_request(req, FUSE_READDIRPLUS);
	do_readdir(req, ino, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count_request(req, FUSE_RELEASEDIR);
	(void)ino;
	/* fh 0 (no OPENDIR): nothing was opened. */
	ufs_releasedir((struct dir_snapshot *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	count_request(req, FUSE_FSYNCDIR);
	(void)fi;
	fuse_reply_err(req, -ufs_fsyncdir(ufs_of(req), node_of(req, ino), datasync));
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;
	int err = ufs_statfs(ufs_of(req), &st);

	count_request(req, FUSE_STATFS);
	(void)ino;
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_statfs(req, &st);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	count_request(req, FUSE_SETXATTR);
	fuse_reply_err(req, -ufs_setxattr(ufs_of(req), node_of(req, ino), name, value, size, flags));
}

static void reply_xattr(fuse_req_t req, ssize_t len, const char *buf, size_t size)
{
	if (len < 0)
		fuse_reply_err(req, (int)-len);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else
		fuse_reply_buf(req, buf, (size_t)len);
}

/* The census itself (fuse_requests.h), on the mount root: not counted, so
 * that reading it twice reads the same. */
static void reply_requests(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *value = NULL;
	ssize_t len = ino == FUSE_ROOT_ID ? requests_format(&uf(req)->requests, &value) : -ENODATA;

	if (size && len > (ssize_t)size)
		len = -ERANGE;
	reply_xattr(req, len, value, size);
	free(value);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *buf;
	ssize_t len;

	if (strcmp(name, REQUESTS_XATTR) == 0) {
		reply_requests(req, ino, size);
		return;
	}
	count_request(req, FUSE_GETXATTR);
	buf = size ? malloc(size) : NULL;
	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	len = ufs_getxattr(ufs_of(req), node_of(req, ino), name, buf, size);
	reply_xattr(req, len, buf, size);
	free(buf);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	ssize_t len;

	count_request(req, FUSE_LISTXATTR);
	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* Root of the mount's user namespace stands for CAP_SYS_ADMIN. */
	len = ufs_listxattr(ufs_of(req), node_of(req, ino), buf, size, fuse_req_ctx(req)->uid == 0);
	reply_xattr(req, len, buf, size);
	free(buf);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	count_request(req, FUSE_REMOVEXATTR);
	fuse_reply_err(req, -ufs_removexattr(ufs_of(req), node_of(req, ino), name));
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct stat st;
	int err = ufs_getattr(ufs_of(req), node_of(req, ino), &st);

	count_request(req, FUSE_ACCESS);
	/* Permission bits were checked by the kernel (default_permissions). */
	if (!err && (mask & W_OK) && ufs_read_only(ufs_of(req)))
		err = -EROFS;
	fuse_reply_err(req, -err);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	struct handle *h;
	/* As the kernel: an append-only file may take a plain allocation. */
	int err = file_to_change(req, ino, fi, UFS_WRITE, !(mode & ~FALLOC_FL_KEEP_SIZE), &h);

	count_request(req, FUSE_FALLOCATE);
	if (!err) {
		if (may_have_setid(fi, h))
			killpriv_drop_setid(req, h->node);
		if (fallocate(h->fd, mode, off, len) < 0)
			err = -errno;
		file_done(ufs_of(req), fi, h);
	}
	fuse_reply_err(req, -err);
}

union fileattr_arg {
	unsigned int flags;
	struct fsxattr fsx;
};

/* Whether CMD is an inode flag request; *GET: it reads them; *SIZE: the
 * size of its argument, which the kernel sizes from CMD (a set brings it
 * whole, a get has room for it). */
static bool fileattr_cmd(unsigned int cmd, bool *get, size_t *size)
{
	*get = cmd == FS_IOC_GETFLAGS || cmd == FS_IOC_FSGETXATTR;
	*size = cmd == FS_IOC_GETFLAGS || cmd == FS_IOC_SETFLAGS ? sizeof(unsigned int)
								   : sizeof(struct fsxattr);
	return cmd == FS_IOC_GETFLAGS || cmd == FS_IOC_SETFLAGS ||
	       cmd == FS_IOC_FSGETXATTR || cmd == FS_IOC_FSSETXATTR;
}

static int fileattr_request(struct ufs *u, struct node *node, unsigned int cmd,
			    union fileattr_arg *v)
{
	switch (cmd) {
	case FS_IOC_GETFLAGS:
		return ufs_getflags(u, node, &v->flags);
	case FS_IOC_SETFLAGS:
		return ufs_setflags(u, node, v->flags);
	case FS_IOC_FSGETXATTR:
		return ufs_fsgetxattr(u, node, &v->fsx);
	default:
		return ufs_fssetxattr(u, node, &v->fsx);
	}
}

/* The inode flag requests the kernel makes for lsattr and chattr (its
 * fileattr calls), after its own permission checks. Others: ENOTTY, as
 * from a filesystem that knows no such request. */
static void op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
		     struct fuse_file_info *fi, unsigned flags, const void *in_buf,
		     size_t in_bufsz, size_t out_bufsz)
{
	union fileattr_arg v;
	size_t size;
	bool get;
	int err;

	count_request(req, FUSE_IOCTL);
	(void)arg;
	(void)fi;
	if ((flags & FUSE_IOCTL_COMPAT) || !fileattr_cmd(cmd, &get, &size)) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	if ((get ? out_bufsz : in_bufsz) < size) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	memset(&v, 0, sizeof(v));
	if (!get)
		memcpy(&v, in_buf, size);
	err = fileattr_request(ufs_of(req), node_of(req, ino), cmd, &v);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_ioctl(req, 0, get ? &v : NULL, get ? size : 0);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct handle *h;
	off_t res;
	int err = file_of(req, ino, fi, UFS_READ, &h);

	count_request(req, FUSE_LSEEK);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	res = lseek(h->fd, off, whence);
	err = res < 0 ? errno : 0;
	file_done(ufs_of(req), fi, h);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_lseek(req, res);
}

static void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len, int flags)
{
	loff_t in = off_in, out = off_out;
	struct handle *hin, *hout;
	ssize_t n = -1;
	int err = file_of(req, ino_in, fi_in, UFS_READ, &hin);

	count_request(req, FUSE_COPY_FILE_RANGE);
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	err = file_to_change(req, ino_out, fi_out, UFS_WRITE, false, &hout);
	if (!err) {
		if (may_have_setid(fi_out, hout))
			killpriv_drop_setid(req, hout->node);
		n = copy_file_range(hin->fd, &in, hout->fd, &out, len, (unsigned)flags);
		err = n < 0 ? -errno : 0;
		file_done(ufs_of(req), fi_out, hout);
	}
	file_done(ufs_of(req), fi_in, hin);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_write(req, (size_t)n);
}

const struct fuse_lowlevel_ops ufuse_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.symlink = op_symlink,
	.link = op_link,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write_buf = op_write_buf,
	/* No flush: writes reach the upper layer's file synchronously, so
	 * close(2) has no delayed error to report, and locks are the
	 * kernel's own. Without it the kernel skips a round trip per close. */
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.access = op_access,
	.fallocate = op_fallocate,
	.lseek = op_lseek,
	.ioctl = op_ioctl,
	.copy_file_range = op_copy_file_range,
};
