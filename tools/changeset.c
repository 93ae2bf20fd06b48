/* Walking an upper layer into tar entries. Order: depth first, names in a
 * directory sorted bytewise, except that a directory's `.wh..wh..opq` and
 * its whiteouts come right after the directory itself, before its other
 * children, so an extractor applies the deletions before the additions.
 * Times are whole seconds and atime/ctime are left out: what is hashed is
 * the content, never when it was looked at. */
#include "changeset.h"

#include "layers.h"
#include "metacopy.h"
#include "owner.h"
#include "whiteout.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <uthash.h>

/* A regular file with more than one link, by its first path in the tar. */
struct link_seen {
	struct { dev_t dev; ino_t ino; } key;
	char *path;
	UT_hash_handle hh;
};

struct walk {
	struct archive *a;
	const char *root;             /* for messages */
	struct link_seen *links;
};

enum kind { K_CHILD, K_WHITEOUT, K_SKIP };

struct child {
	char *name;                   /* in the tar: the target of a whiteout */
	enum kind kind;
	struct stat st;
};

static int say(const struct walk *w, const char *path, const char *cause)
{
	fprintf(stderr, "unionfuse: %s/%s: %s\n", w->root, path, cause);
	return -1;
}

/* PREFIX is a directory's path with its trailing slash ("" for the root). */
static int say_dir(const struct walk *w, const char *prefix, const char *cause)
{
	int len = *prefix ? (int)strlen(prefix) - 1 : 1;

	fprintf(stderr, "unionfuse: %s/%.*s: %s\n", w->root, len, *prefix ? prefix : ".", cause);
	return -1;
}

static int say_errno(const struct walk *w, const char *path, int err)
{
	say(w, path, strerror(err));
	return -err;
}

static int say_archive(const struct walk *w, const char *path)
{
	say(w, path, archive_error_string(w->a));
	return -EIO;
}

static char *join(const char *prefix, const char *name)
{
	char *path;

	if (asprintf(&path, "%s%s", prefix, name) < 0)
		return NULL;
	return path;
}

static void entry_from_stat(struct archive_entry *e, const struct stat *st)
{
	archive_entry_set_mode(e, st->st_mode);
	archive_entry_set_uid(e, st->st_uid);
	archive_entry_set_gid(e, st->st_gid);
	archive_entry_set_mtime(e, st->st_mtim.tv_sec, 0);
}

/* An upper layer made without privilege keeps the owners it could not
 * give in an xattr (fs/owner.h); the layer carries them as real owners. */
static void entry_owner_override(struct archive_entry *e, int dirfd, const char *name,
				 const struct stat *st)
{
	uid_t uid;
	gid_t gid;
	mode_t mode;

	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		return;
	if (owner_override_read(dirfd, name, &uid, &gid, &mode) < 0)
		return;
	archive_entry_set_uid(e, uid);
	archive_entry_set_gid(e, gid);
	archive_entry_set_perm(e, mode);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The xattrs of NAME in DIRFD that belong in a layer, sorted by name. */
static int add_xattrs(const struct walk *w, struct archive_entry *e, int dirfd,
		      const char *name, const char *path)
{
	char proc[LAYER_PROC_PATH_MAX], *list = NULL, **names = NULL;
	ssize_t len;
	size_t n = 0, i, off;
	int err = 0;

	layer_proc_path(dirfd, name, proc);
	len = llistxattr(proc, NULL, 0);
	if (len <= 0)
		return len < 0 && errno != ENOTSUP ? say_errno(w, path, errno) : 0;
	list = malloc((size_t)len);
	names = calloc((size_t)len, sizeof(char *));
	if (!list || !names) {
		err = -ENOMEM;
		goto out;
	}
	len = llistxattr(proc, list, (size_t)len);
	if (len < 0) {
		err = say_errno(w, path, errno);
		goto out;
	}
	for (off = 0; off < (size_t)len; off += strlen(list + off) + 1)
		if (!xattr_is_private(list + off))
			names[n++] = list + off;
	qsort(names, n, sizeof(char *), cmp_str);
	for (i = 0; i < n && !err; i++) {
		ssize_t vlen = lgetxattr(proc, names[i], NULL, 0);
		char *value = vlen >= 0 ? malloc((size_t)vlen + 1) : NULL;

		if (vlen >= 0 && value)
			vlen = lgetxattr(proc, names[i], value, (size_t)vlen);
		if (vlen < 0)
			err = say_errno(w, path, errno);
		else if (!value)
			err = -ENOMEM;
		else
			archive_entry_xattr_add_entry(e, names[i], value, (size_t)vlen);
		free(value);
	}
out:
	free(names);
	free(list);
	return err;
}

static int write_file_data(const struct walk *w, int dirfd, const char *name,
			   const char *path, off_t size)
{
	char buf[65536];
	off_t done = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), err = 0;

	if (fd < 0)
		return say_errno(w, path, errno);
	while (done < size) {
		size_t want = size - done < (off_t)sizeof(buf) ? (size_t)(size - done) : sizeof(buf);
		ssize_t n = read(fd, buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? say_errno(w, path, errno) :
				      (say(w, path, "file shrank while it was read"), -EIO);
			break;
		}
		if (archive_write_data(w->a, buf, (size_t)n) != n) {
			err = say_archive(w, path);
			break;
		}
		done += n;
	}
	close(fd);
	return err;
}

/* A second path to an inode already in the tar becomes a hard link. */
static int check_hardlink(struct walk *w, struct archive_entry *e, const struct stat *st,
			  const char *path, bool *linked)
{
	struct link_seen *seen, key;

	*linked = false;
	if (!S_ISREG(st->st_mode) || st->st_nlink < 2)
		return 0;
	memset(&key, 0, sizeof(key));
	key.key.dev = st->st_dev;
	key.key.ino = st->st_ino;
	HASH_FIND(hh, w->links, &key.key, sizeof(key.key), seen);
	if (seen) {
		archive_entry_set_hardlink(e, seen->path);
		archive_entry_set_size(e, 0);
		*linked = true;
		return 0;
	}
	seen = calloc(1, sizeof(*seen));
	if (!seen || !(seen->path = strdup(path))) {
		free(seen);
		return -ENOMEM;
	}
	seen->key = key.key;
	HASH_ADD(hh, w->links, key, sizeof(seen->key), seen);
	return 0;
}

static int fill_entry(struct walk *w, struct archive_entry *e, int dirfd, const char *name,
		      const struct stat *st, const char *path, bool *with_data)
{
	bool linked;
	int err;

	*with_data = false;
	entry_from_stat(e, st);
	entry_owner_override(e, dirfd, name, st);
	if (S_ISLNK(st->st_mode)) {
		char *target = malloc((size_t)st->st_size + 1);
		ssize_t n = target ? readlinkat(dirfd, name, target, (size_t)st->st_size + 1) : -1;

		if (n < 0 || n > st->st_size) {
			free(target);
			return target ? say_errno(w, path, n < 0 ? errno : EAGAIN) : -ENOMEM;
		}
		target[n] = '\0';
		archive_entry_set_symlink(e, target);
		free(target);
	} else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		archive_entry_set_rdev(e, st->st_rdev);
	} else if (S_ISREG(st->st_mode)) {
		if (metacopy_is_marked(dirfd, name))
			return say(w, path, "holds only metadata (metacopy): its data is in a "
				   "lower layer, which commit does not read");
		err = check_hardlink(w, e, st, path, &linked);
		if (err)
			return err;
		if (!linked) {
			archive_entry_set_size(e, st->st_size);
			*with_data = true;
		}
	}
	return add_xattrs(w, e, dirfd, name, path);
}

static int write_marker(const struct walk *w, const char *path, const struct stat *st)
{
	struct archive_entry *e = archive_entry_new();
	int err = 0;

	if (!e)
		return -ENOMEM;
	archive_entry_set_pathname(e, path);
	entry_from_stat(e, st);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, st->st_mode & 07777);
	archive_entry_set_size(e, 0);
	if (archive_write_header(w->a, e) != ARCHIVE_OK)
		err = say_archive(w, path);
	archive_entry_free(e);
	return err;
}

static int walk_dir(struct walk *w, int dirfd, const char *prefix);

static int write_child(struct walk *w, int dirfd, const struct child *c, const char *prefix)
{
	struct archive_entry *e;
	char *path = join(prefix, c->name);
	bool with_data;
	int err;

	if (!path)
		return -ENOMEM;
	e = archive_entry_new();
	if (!e) {
		free(path);
		return -ENOMEM;
	}
	archive_entry_set_pathname(e, path);
	err = fill_entry(w, e, dirfd, c->name, &c->st, path, &with_data);
	if (!err && archive_write_header(w->a, e) != ARCHIVE_OK)
		err = say_archive(w, path);
	if (!err && with_data)
		err = write_file_data(w, dirfd, c->name, path, c->st.st_size);
	archive_entry_free(e);
	if (!err && S_ISDIR(c->st.st_mode)) {
		int sub = openat(dirfd, c->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		char *subprefix = join(path, "/");

		if (sub < 0)
			err = say_errno(w, path, errno);
		else if (!subprefix)
			err = -ENOMEM;
		else
			err = walk_dir(w, sub, subprefix);
		if (sub >= 0)
			close(sub);
		free(subprefix);
	}
	free(path);
	return err;
}

/* What NAME is in the changeset. Names of the `.wh..wh.` family other than
 * the opaque marker are private scratch (AUFS's plink and orphan dirs). */
static enum kind classify(int dirfd, const char *name, const struct stat *st, char **tarname)
{
	const char *target = whiteout_aufs_target(name);

	*tarname = NULL;
	if (strncmp(name, WH_PREFIX WH_PREFIX, 2 * WH_PREFIX_LEN) == 0)
		return K_SKIP;
	if (target) {
		*tarname = strdup(target);
		return K_WHITEOUT;
	}
	*tarname = strdup(name);
	if (whiteout_is_device(st) || whiteout_is_xattr_file(dirfd, name, st))
		return K_WHITEOUT;
	return K_CHILD;
}

static int cmp_child(const void *a, const void *b)
{
	const struct child *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind == K_WHITEOUT ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void free_children(struct child *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(c[i].name);
	free(c);
}

/* The entries of DIRFD, whiteouts first, each part sorted. */
static int list_dir(const struct walk *w, int dirfd, const char *prefix,
		    struct child **out, size_t *count, bool *opaque_file)
{
	struct child *c = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int fd = dup(dirfd), err = 0;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	*opaque_file = false;
	if (!d) {
		if (fd >= 0)
			close(fd);
		say_dir(w, prefix, strerror(errno));
		return -errno;
	}
	while (!err && (errno = 0, de = readdir(d))) {
		struct child item = { 0 };

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!strcmp(de->d_name, WH_OPAQUE_NAME)) {
			*opaque_file = true;
			continue;
		}
		if (fstatat(dirfd, de->d_name, &item.st, AT_SYMLINK_NOFOLLOW) < 0) {
			err = say_errno(w, de->d_name, errno);
			break;
		}
		item.kind = classify(dirfd, de->d_name, &item.st, &item.name);
		if (item.kind == K_SKIP)
			continue;
		if (!item.name || (n == cap && !(c = reallocarray(c, cap = cap * 2 + 16, sizeof(*c))))) {
			free(item.name);
			err = -ENOMEM;
			break;
		}
		c[n++] = item;
	}
	if (!err && errno) {
		err = -errno;
		say_dir(w, prefix, strerror(errno));
	}
	closedir(d);
	if (err) {
		free_children(c, n);
		return err;
	}
	if (n)
		qsort(c, n, sizeof(*c), cmp_child);
	*out = c;
	*count = n;
	return 0;
}

static int write_whiteout(const struct walk *w, const char *prefix, const struct child *c)
{
	char *path;
	int err;

	if (asprintf(&path, "%s" WH_PREFIX "%s", prefix, c->name) < 0)
		return -ENOMEM;
	err = write_marker(w, path, &c->st);
	free(path);
	return err;
}

static int write_opaque(const struct walk *w, int dirfd, const char *prefix)
{
	struct stat st;
	char *path = join(prefix, WH_OPAQUE_NAME);
	int err;

	if (!path)
		return -ENOMEM;
	/* Docker gives the marker the directory's owner, mode and time. */
	if (fstat(dirfd, &st) < 0) {
		err = -errno;
		say_dir(w, prefix, strerror(errno));
	} else {
		err = write_marker(w, path, &st);
	}
	free(path);
	return err;
}

static int dir_markers(const struct walk *w, int dirfd, const char *prefix, bool opaque_file)
{
	struct wh_dirinfo info;
	int err = whiteout_dir_info(dirfd, &info);

	if (err) {
		say_dir(w, prefix, strerror(-err));
		return err;
	}
	if (info.redirect) {
		free(info.redirect);
		say_dir(w, prefix, "renamed directory (overlay.redirect) cannot be expressed in an OCI layer");
		return -EINVAL;
	}
	if (info.opaque || opaque_file)
		return write_opaque(w, dirfd, prefix);
	return 0;
}

static int walk_dir(struct walk *w, int dirfd, const char *prefix)
{
	struct child *c = NULL;
	size_t n = 0, i;
	bool opaque_file;
	int err = list_dir(w, dirfd, prefix, &c, &n, &opaque_file);

	if (err)
		return err;
	/* The root's own markers cannot be said in a layer: no entry for "/". */
	if (*prefix)
		err = dir_markers(w, dirfd, prefix, opaque_file);
	for (i = 0; i < n && !err; i++) {
		/* A name whited out in two forms at once: one marker. */
		if (i > 0 && c[i].kind == K_WHITEOUT && c[i - 1].kind == K_WHITEOUT &&
		    !strcmp(c[i].name, c[i - 1].name)) {
			continue;
		}
		err = c[i].kind == K_WHITEOUT ? write_whiteout(w, prefix, &c[i])
					      : write_child(w, dirfd, &c[i], prefix);
	}
	free_children(c, n);
	return err;
}

int changeset_write(int rootfd, const char *rootpath, struct archive *a)
{
	struct walk w = { .a = a, .root = rootpath };
	struct link_seen *s, *tmp;
	int err = walk_dir(&w, rootfd, "");

	HASH_ITER(hh, w.links, s, tmp) {
		HASH_DEL(w.links, s);
		free(s->path);
		free(s);
	}
	return err;
}
