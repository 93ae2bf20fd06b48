/* Our own extractor rather than archive_write_disk: every name is split
 * into components and walked from the layer's root fd with O_NOFOLLOW, so
 * no entry can name, or reach through a symlink, anything outside the
 * layer; the archive's names are never handed to a path-based call.
 * Directories get their final mode and times after all their children are
 * in, since writing a child changes the parent's mtime. */
#include "unpack.h"

#include "layers.h"
#include "owner.h"
#include "whiteout.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define NAME_MAX_BYTES 255

/* A name from the archive, checked and cut into components. */
struct relpath {
	char *buf;                /* the components, NUL-separated */
	char **comp;
	int n;
};

struct dir_fixup {
	struct relpath rp;
	mode_t mode;
	struct timespec times[2];
};

struct unpacker {
	const struct unpack_opts *o;
	const char *archive;      /* for messages */
	int root;
	struct dir_fixup *fix;
	size_t nfix, capfix;
	bool warned_mknod, warned_xattr;
};

static int refuse(const struct unpacker *u, const char *name, const char *cause)
{
	fprintf(stderr, "unionfuse: %s: entry '%s': %s\n", u->archive, name, cause);
	return -1;
}

static void relpath_free(struct relpath *rp)
{
	free(rp->buf);
	free(rp->comp);
	memset(rp, 0, sizeof(*rp));
}

/* Split NAME; refuses absolute names, ".." and over-long components. */
static int relpath_parse(const struct unpacker *u, const char *name, struct relpath *rp)
{
	char *save = NULL, *c;

	memset(rp, 0, sizeof(*rp));
	if (name[0] == '/')
		return refuse(u, name, "refused: absolute name");
	rp->buf = strdup(name);
	rp->comp = calloc(strlen(name) / 2 + 2, sizeof(char *));
	if (!rp->buf || !rp->comp) {
		relpath_free(rp);
		return refuse(u, name, "out of memory");
	}
	for (c = strtok_r(rp->buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..") || strlen(c) > NAME_MAX_BYTES) {
			const char *why = !strcmp(c, "..") ? "refused: '..' in the name" :
				"refused: a component longer than 255 bytes";

			relpath_free(rp);
			return refuse(u, name, why);
		}
		rp->comp[rp->n++] = c;
	}
	return 0;
}

/* An fd of the directory holding RP's last component. Missing directories
 * are made (0755, as tar does) when CREATE; a symlink on the way is refused,
 * whatever it points at. */
static int open_parent(const struct unpacker *u, const char *name, const struct relpath *rp,
		       bool create)
{
	int cur = dup(u->root), i;

	for (i = 0; cur >= 0 && i < rp->n - 1; i++) {
		int next = openat(cur, rp->comp[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		/* A parent the archive does not list: 0755 whatever the umask. */
		if (next < 0 && errno == ENOENT && create && mkdirat(cur, rp->comp[i], 0755) == 0 &&
		    fchmodat(cur, rp->comp[i], 0755, 0) == 0)
			next = openat(cur, rp->comp[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			struct stat st;
			int err = errno;
			bool link = fstatat(cur, rp->comp[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				    S_ISLNK(st.st_mode);

			close(cur);
			return refuse(u, name, link ? "refused: its path goes through a symlink" :
					       strerror(err));
		}
		close(cur);
		cur = next;
	}
	if (cur < 0)
		refuse(u, name, strerror(errno));
	return cur;
}

static void warn_once(bool *warned, const char *archive, const char *what)
{
	if (!*warned)
		fprintf(stderr, "unionfuse: warning: %s: %s\n", archive, what);
	*warned = true;
}

/* Make room for NAME in DIRFD. An existing directory stays when a
 * directory replaces it (tar merges them); *KEEP says so. */
static int clear_name(const struct unpacker *u, const char *ename, int dirfd, const char *name,
		      bool is_dir, bool *keep)
{
	struct stat st;

	*keep = false;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : refuse(u, ename, strerror(errno));
	if (S_ISDIR(st.st_mode) && is_dir) {
		*keep = true;
		return 0;
	}
	if (unlinkat(dirfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
		return refuse(u, ename, strerror(errno));
	return 0;
}

static int set_xattrs(struct unpacker *u, struct archive_entry *e, int dirfd, const char *name)
{
	char proc[LAYER_PROC_PATH_MAX];
	const char *xname;
	const void *value;
	size_t size;

	layer_proc_path(dirfd, name, proc);
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &xname, &value, &size) == ARCHIVE_OK) {
		/* A layer says whiteouts and opaque dirs with .wh. names; an
		 * overlay.* xattr in it would change what layers below mean. */
		if (xattr_is_private(xname))
			continue;
		if (lsetxattr(proc, xname, value, size, 0) == 0)
			continue;
		if (errno != EPERM && errno != ENOTSUP && errno != EACCES)
			return refuse(u, archive_entry_pathname(e), strerror(errno));
		warn_once(&u->warned_xattr, u->archive, "some extended attributes could not be set");
	}
	return 0;
}

static void entry_times(struct archive_entry *e, struct timespec *ts)
{
	ts[1].tv_sec = archive_entry_mtime(e);
	ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	if (archive_entry_atime_is_set(e)) {
		ts[0].tv_sec = archive_entry_atime(e);
		ts[0].tv_nsec = archive_entry_atime_nsec(e);
	} else {
		ts[0] = ts[1];
	}
}

/* The archive's owner for NAME. Root gives it; a caller who may not
 * (an ordinary user, root of a user namespace lacking the id) keeps it,
 * with the mode, in user.containers.override_stat, as the daemon does for
 * a copy-up it cannot chown (fs/owner.h): a mount shows it all the same.
 * Symlinks, devices and fifos can hold no user.* xattr and stay ours. */
static int give_owner(struct unpacker *u, struct archive_entry *e, int dirfd, const char *name)
{
	uid_t uid = (uid_t)archive_entry_uid(e);
	gid_t gid = (gid_t)archive_entry_gid(e);
	struct stat st;
	int err;

	if (u->o->set_owner && fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (u->o->set_owner && errno != EPERM && errno != EINVAL)
		return refuse(u, archive_entry_pathname(e), strerror(errno));
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return refuse(u, archive_entry_pathname(e), strerror(errno));
	if ((!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) || (st.st_uid == uid && st.st_gid == gid))
		return 0;
	err = owner_override_write(dirfd, name, uid, gid, archive_entry_perm(e));
	return err ? refuse(u, archive_entry_pathname(e), strerror(-err)) : 0;
}

/* Owner, xattrs, mode and times of a non-directory just created. */
static int set_meta(struct unpacker *u, struct archive_entry *e, int dirfd, const char *name)
{
	const char *ename = archive_entry_pathname(e);
	bool is_link = archive_entry_filetype(e) == AE_IFLNK;
	struct timespec ts[2];

	if (give_owner(u, e, dirfd, name))
		return -1;
	if (set_xattrs(u, e, dirfd, name))
		return -1;
	/* After chown, which clears set-id bits. */
	if (!is_link && fchmodat(dirfd, name, archive_entry_perm(e), 0) < 0)
		return refuse(u, ename, strerror(errno));
	entry_times(e, ts);
	if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return refuse(u, ename, strerror(errno));
	return 0;
}

static int write_data(struct unpacker *u, struct archive *a, struct archive_entry *e, int fd)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int r;

	while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
		const char *p = buf;

		while (size) {
			ssize_t n = pwrite(fd, p, size, off);

			if (n < 0)
				return refuse(u, archive_entry_pathname(e), strerror(errno));
			p += n;
			off += n;
			size -= (size_t)n;
		}
	}
	if (r != ARCHIVE_EOF)
		return refuse(u, archive_entry_pathname(e), archive_error_string(a));
	/* A sparse file may end in a hole. */
	if (ftruncate(fd, archive_entry_size(e)) < 0)
		return refuse(u, archive_entry_pathname(e), strerror(errno));
	return 0;
}

static int make_file(struct unpacker *u, struct archive *a, struct archive_entry *e,
		     int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int err;

	if (fd < 0)
		return refuse(u, archive_entry_pathname(e), strerror(errno));
	err = write_data(u, a, e, fd);
	close(fd);
	return err;
}

static int make_hardlink(struct unpacker *u, struct archive_entry *e, int dirfd, const char *name)
{
	const char *target = archive_entry_hardlink(e), *ename = archive_entry_pathname(e);
	struct relpath rp;
	int tdir, err = 0;

	if (relpath_parse(u, target, &rp))
		return -1;
	if (rp.n == 0) {
		relpath_free(&rp);
		return refuse(u, ename, "hard link to the layer's root");
	}
	tdir = open_parent(u, target, &rp, false);
	/* No AT_SYMLINK_FOLLOW: a link to a symlink is a link to the symlink. */
	if (tdir >= 0 && linkat(tdir, rp.comp[rp.n - 1], dirfd, name, 0) < 0)
		err = refuse(u, ename, errno == ENOENT ? "hard link to a missing entry" : strerror(errno));
	if (tdir < 0)
		err = -1;
	else
		close(tdir);
	relpath_free(&rp);
	return err;
}

static int defer_dir(struct unpacker *u, struct archive_entry *e, struct relpath *rp)
{
	struct dir_fixup *f;

	if (u->nfix == u->capfix) {
		size_t cap = u->capfix * 2 + 16;
		struct dir_fixup *n = reallocarray(u->fix, cap, sizeof(*n));

		if (!n)
			return refuse(u, archive_entry_pathname(e), "out of memory");
		u->fix = n;
		u->capfix = cap;
	}
	f = &u->fix[u->nfix++];
	f->rp = *rp;
	memset(rp, 0, sizeof(*rp));
	f->mode = archive_entry_perm(e);
	entry_times(e, f->times);
	return 0;
}

static int make_dir(struct unpacker *u, struct archive_entry *e, int dirfd, const char *name,
		    bool exists, struct relpath *rp)
{
	const char *ename = archive_entry_pathname(e);
	char self[] = ".";
	int fd;

	/* Owner-writable until the fixup, whatever the archive says. */
	if (!exists && mkdirat(dirfd, name, 0700) < 0)
		return refuse(u, ename, strerror(errno));
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return refuse(u, ename, strerror(errno));
	if (give_owner(u, e, fd, self)) {
		close(fd);
		return -1;
	}
	if (set_xattrs(u, e, fd, self)) {
		close(fd);
		return -1;
	}
	close(fd);
	return defer_dir(u, e, rp);
}

static int make_node(struct unpacker *u, struct archive_entry *e, int dirfd, const char *name)
{
	mode_t type = archive_entry_filetype(e);

	if (mknodat(dirfd, name, type | archive_entry_perm(e), archive_entry_rdev(e)) == 0)
		return 1;
	if (errno != EPERM)
		return refuse(u, archive_entry_pathname(e), strerror(errno));
	warn_once(&u->warned_mknod, u->archive, "device nodes left out (no permission to create them)");
	return 0;
}

/* --whiteout=overlay: the marker becomes what kernel overlayfs reads.
 * Returns 1 when it was converted, 0 to keep it as a .wh. file. */
static int convert_marker(struct unpacker *u, struct archive_entry *e, int dirfd, const char *name)
{
	const char *target = whiteout_aufs_target(name), *ename = archive_entry_pathname(e);
	bool keep;
	int err;

	if (!strcmp(name, WH_OPAQUE_NAME)) {
		err = opaque_mark(dirfd, ".", WH_FORMAT_OVERLAY);

		return err ? refuse(u, ename, strerror(-err)) : 1;
	}
	if (!target || clear_name(u, ename, dirfd, target, false, &keep))
		return target ? -1 : 0;
	err = whiteout_create_device(dirfd, target);
	if (err == 0)
		return 1;
	if (err != -EPERM)
		return refuse(u, ename, strerror(-err));
	warn_once(&u->warned_mknod, u->archive, "whiteouts kept as .wh. files (no permission for 0/0 devices)");
	return 0;
}

static int unpack_entry(struct unpacker *u, struct archive *a, struct archive_entry *e)
{
	const char *ename = archive_entry_pathname(e), *name;
	mode_t type = archive_entry_filetype(e);
	bool is_dir = type == AE_IFDIR && !archive_entry_hardlink(e), keep;
	struct relpath rp;
	int dirfd, err = 0;

	if (!ename)
		return refuse(u, "?", "entry without a name");
	if (relpath_parse(u, ename, &rp))
		return -1;
	if (rp.n == 0) {            /* "./": the layer's root itself */
		relpath_free(&rp);
		return 0;
	}
	dirfd = open_parent(u, ename, &rp, true);
	if (dirfd < 0) {
		relpath_free(&rp);
		return -1;
	}
	name = rp.comp[rp.n - 1];
	/* AUFS's own bookkeeping (.wh..wh.plnk, .wh..wh.orph): not content,
	 * left out as docker does. */
	if (!strncmp(name, WH_PREFIX WH_PREFIX, 2 * WH_PREFIX_LEN) && strcmp(name, WH_OPAQUE_NAME))
		goto out;
	if (u->o->overlay_whiteouts && whiteout_is_marker_name(name))
		err = convert_marker(u, e, dirfd, name);
	if (err) {
		err = err < 0 ? -1 : 0;
		goto out;
	}
	err = clear_name(u, ename, dirfd, name, is_dir, &keep);
	if (err)
		goto out;
	if (archive_entry_hardlink(e)) {
		err = make_hardlink(u, e, dirfd, name);
		goto out;
	}
	switch (type) {
	case AE_IFREG:
		err = make_file(u, a, e, dirfd, name);
		break;
	case AE_IFDIR:
		err = make_dir(u, e, dirfd, name, keep, &rp);
		goto out;
	case AE_IFLNK:
		if (symlinkat(archive_entry_symlink(e) ? archive_entry_symlink(e) : "", dirfd, name) < 0)
			err = refuse(u, ename, strerror(errno));
		break;
	case AE_IFCHR: case AE_IFBLK: case AE_IFIFO:
		err = make_node(u, e, dirfd, name);
		if (err <= 0)
			goto out;
		err = 0;
		break;
	default:
		goto out;           /* sockets: nothing a layer can carry */
	}
	if (!err)
		err = set_meta(u, e, dirfd, name);
out:
	close(dirfd);
	relpath_free(&rp);
	return err;
}

/* Final modes and times of directories, deepest (latest) first. */
static int fix_dirs(struct unpacker *u)
{
	int err = 0;

	while (u->nfix) {
		struct dir_fixup *f = &u->fix[--u->nfix];
		const char *leaf = f->rp.comp[f->rp.n - 1];
		int dirfd = err ? -1 : open_parent(u, leaf, &f->rp, false);

		if (dirfd >= 0) {
			if (fchmodat(dirfd, leaf, f->mode, 0) < 0 ||
			    utimensat(dirfd, leaf, f->times, AT_SYMLINK_NOFOLLOW) < 0)
				err = refuse(u, leaf, strerror(errno));
			close(dirfd);
		} else {
			err = -1;
		}
		relpath_free(&f->rp);
	}
	return err;
}

int unpack_layer(const char *path, int destfd, const char *destpath, const struct unpack_opts *o)
{
	struct unpacker u = { .o = o, .archive = path, .root = destfd };
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int r, err = 0;

	(void)destpath;
	if (!a)
		return refuse(&u, path, "out of memory");
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		fprintf(stderr, "unionfuse: %s: %s\n", path, archive_error_string(a));
		archive_read_free(a);
		return -1;
	}
	while (!err && (r = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN) {
			fprintf(stderr, "unionfuse: %s: %s\n", path, archive_error_string(a));
			err = -1;
			break;
		}
		err = unpack_entry(&u, a, e);
	}
	if (fix_dirs(&u))
		err = -1;
	free(u.fix);
	archive_read_free(a);
	return err;
}
