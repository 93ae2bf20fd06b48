/* One function per operation kind. Each does exactly the system call(s) the
 * operation names, relative to the mount's root fd, and writes down what
 * came back; comparing the two sides' text compares return values and errno.
 * Opens use O_NONBLOCK so that a fifo never blocks the tester. */
#include "ops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "policy.h"
#include "snapshot.h"
#include "stack_write.h"

static void put_ret(struct strbuf *r, long ret)
{
	if (ret < 0)
		sb_addf(r, "%s", strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
	else
		sb_addf(r, "%ld", ret);
}

/* close() can report a deferred error (FUSE flush): part of the outcome. */
static void put_close(struct strbuf *r, int fd)
{
	if (close(fd) < 0)
		sb_addf(r, " close=%s", strerrorname_np(errno));
}

static char *full_path(const char *mnt, const char *path)
{
	return xasprintf("%s/%s", mnt, path);
}

static void do_create(int root, const struct op *op, struct strbuf *r)
{
	int fd = openat(root, op->path, O_WRONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC |
			(int)(op->flags & (O_EXCL | O_TRUNC)), op->mode);

	put_ret(r, fd < 0 ? -1 : 0);
	if (fd >= 0)
		put_close(r, fd);
}

static void do_write(int root, const struct op *op, int extra_flags, struct strbuf *r)
{
	int fd = openat(root, op->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | extra_flags);
	char *buf;
	ssize_t n;

	if (fd < 0) {
		put_ret(r, -1);
		return;
	}
	buf = xmalloc(op->len);
	stack_pattern(op->fill, op->off, buf, op->len);
	if (extra_flags & O_APPEND)
		n = write(fd, buf, op->len);
	else
		n = pwrite(fd, buf, op->len, (off_t)op->off);
	put_ret(r, n);
	put_close(r, fd);
	free(buf);
}

static void do_truncate(const char *mnt, const struct op *op, struct strbuf *r)
{
	char *full = full_path(mnt, op->path);

	put_ret(r, truncate(full, (off_t)op->len));
	free(full);
}

static void do_rename(int root, const struct op *op, struct strbuf *r)
{
	put_ret(r, renameat2(root, op->path, root, op->path2, op->flags));
}

static void put_time(struct timespec *ts, int64_t t)
{
	if (t == T_NOW)
		*ts = (struct timespec){ .tv_nsec = UTIME_NOW };
	else if (t == T_OMIT)
		*ts = (struct timespec){ .tv_nsec = UTIME_OMIT };
	else
		*ts = (struct timespec){ .tv_sec = t, .tv_nsec = stack_nsec(t) };
}

static void do_utimens(int root, const struct op *op, struct strbuf *r)
{
	struct timespec ts[2];

	put_time(&ts[0], op->atime);
	put_time(&ts[1], op->mtime);
	put_ret(r, utimensat(root, op->path, ts,
			     op->flags & OPF_NOFOLLOW ? AT_SYMLINK_NOFOLLOW : 0));
}

static void do_setxattr(const char *mnt, const struct op *op, struct strbuf *r)
{
	char *full = full_path(mnt, op->path);
	int flags = (int)(op->flags & (XATTR_CREATE | XATTR_REPLACE));
	size_t len = strlen(op->xvalue);

	if (op->flags & OPF_NOFOLLOW)
		put_ret(r, lsetxattr(full, op->xname, op->xvalue, len, flags));
	else
		put_ret(r, setxattr(full, op->xname, op->xvalue, len, flags));
	free(full);
}

static void do_removexattr(const char *mnt, const struct op *op, struct strbuf *r)
{
	char *full = full_path(mnt, op->path);

	if (op->flags & OPF_NOFOLLOW)
		put_ret(r, lremovexattr(full, op->xname));
	else
		put_ret(r, removexattr(full, op->xname));
	free(full);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads a directory through an fd of our own: names with d_type, sorted. */
static void put_listing(int fd, struct strbuf *r)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	if (!d) {
		put_ret(r, -1);
		close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = xasprintf("%s/%u", de->d_name, de->d_type);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	sb_addf(r, "%zu entries:", n);
	for (size_t i = 0; i < n; i++) {
		sb_add(r, " ");
		sb_add_quoted(r, names[i]);
		free(names[i]);
	}
	free(names);
}

static void do_read(int root, const struct op *op, struct strbuf *r)
{
	int fd = openat(root, op->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	unsigned long long digest, size;
	struct stat st;
	int err;

	if (fd < 0) {
		put_ret(r, -1);
		return;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		put_listing(fd, r);
		return;
	}
	err = snapshot_digest_fd(fd, &digest, &size);
	if (err) {
		errno = -err;
		put_ret(r, -1);
	} else {
		sb_addf(r, "%llu bytes xxh3=%016llx", size, digest);
	}
	put_close(r, fd);
}

/* The same fields as the tree comparison, on one line. */
static void do_stat(int root, const struct op *op, struct strbuf *r)
{
	struct strbuf fields = { 0 };
	struct stat st;

	if (fstatat(root, op->path, &st, op->flags & OPF_NOFOLLOW ? AT_SYMLINK_NOFOLLOW : 0) < 0) {
		put_ret(r, -1);
		return;
	}
	policy_render_stat(&st, &fields);
	for (char *p = fields.s; p && *p; p++)
		if (*p == '\n')
			*p = ' ';
	sb_add(r, sb_str(&fields));
	sb_free(&fields);
}

/* "." lists through the mount's long-lived root fd (a dup shares its
 * offset; put_listing rewinds): POSIX wants rewinddir() to show the
 * directory as it is now, however long the handle has been open. */
static void do_readdir(int root, const struct op *op, struct strbuf *r)
{
	int fd = !strcmp(op->path, ".") ? dup(root) :
		 openat(root, op->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		put_ret(r, -1);
		return;
	}
	put_listing(fd, r);
}

void ops_apply(int root, const char *mnt, const struct op *op, struct strbuf *r)
{
	int nofollow = op->flags & OPF_NOFOLLOW ? AT_SYMLINK_NOFOLLOW : 0;

	errno = 0;
	switch (op->kind) {
	case OP_CREATE: do_create(root, op, r); break;
	case OP_WRITE: do_write(root, op, 0, r); break;
	case OP_APPEND: do_write(root, op, O_APPEND, r); break;
	case OP_TRUNCATE: do_truncate(mnt, op, r); break;
	case OP_UNLINK: put_ret(r, unlinkat(root, op->path, 0)); break;
	case OP_MKDIR: put_ret(r, mkdirat(root, op->path, op->mode)); break;
	case OP_RMDIR: put_ret(r, unlinkat(root, op->path, AT_REMOVEDIR)); break;
	case OP_RENAME: do_rename(root, op, r); break;
	case OP_LINK: put_ret(r, linkat(root, op->path, root, op->path2, 0)); break;
	case OP_SYMLINK: put_ret(r, symlinkat(op->path2, root, op->path)); break;
	case OP_CHMOD: put_ret(r, fchmodat(root, op->path, op->mode, 0)); break;
	case OP_CHOWN: put_ret(r, fchownat(root, op->path, op->uid, op->gid, nofollow)); break;
	case OP_UTIMENS: do_utimens(root, op, r); break;
	case OP_SETXATTR: do_setxattr(mnt, op, r); break;
	case OP_REMOVEXATTR: do_removexattr(mnt, op, r); break;
	case OP_MKFIFO: put_ret(r, mknodat(root, op->path, S_IFIFO | op->mode, 0)); break;
	case OP_READ: do_read(root, op, r); break;
	case OP_STAT: do_stat(root, op, r); break;
	case OP_READDIR: do_readdir(root, op, r); break;
	default: sb_add(r, "bad op"); break;
	}
}
