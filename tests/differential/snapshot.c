/* Tree capture. Every entry becomes one line of "key=value" fields, so two
 * trees compare as sorted lists of strings and a mismatch prints as the
 * fields that differ. Everything goes through *at calls on directory fds
 * without following symlinks: a symlink in the tree is data, not a way out. */
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <xxhash.h>

#include "policy.h"

struct walk {
	struct snapshot *snap;
	size_t cap;
};

static void add_node(struct walk *w, const char *path, struct strbuf *attrs)
{
	if (w->snap->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 64;
		w->snap->v = xrealloc(w->snap->v, w->cap * sizeof(*w->snap->v));
	}
	w->snap->v[w->snap->n++] = (struct node){
		.path = xstrdup(path),
		.attrs = attrs->s ? attrs->s : xstrdup(""),
	};
	*attrs = (struct strbuf){ 0 };
}

int snapshot_digest_fd(int fd, unsigned long long *digest, unsigned long long *size)
{
	XXH3_state_t *st = XXH3_createState();
	char buf[65536];
	ssize_t n;
	int err = 0;

	if (!st)
		return -ENOMEM;
	XXH3_64bits_reset(st);
	*size = 0;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		XXH3_64bits_update(st, buf, (size_t)n);
		*size += (unsigned long long)n;
	}
	*digest = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return err;
}

static void add_errno(struct strbuf *a, const char *what, int err)
{
	sb_addf(a, "%s=%s\n", what, strerrorname_np(err) ? strerrorname_np(err) : "?");
}

static void capture_content(int dir, const char *name, struct strbuf *a)
{
	int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	unsigned long long digest, size;
	int err;

	if (fd < 0) {
		add_errno(a, "open", errno);
		return;
	}
	err = snapshot_digest_fd(fd, &digest, &size);
	close(fd);
	if (err)
		add_errno(a, "read", -err);
	else
		sb_addf(a, "xxh3=%016llx\nread=%llu\n", digest, size);
}

static void capture_target(int dir, const char *name, struct strbuf *a)
{
	char buf[4097];
	ssize_t n = readlinkat(dir, name, buf, sizeof(buf) - 1);

	if (n < 0) {
		add_errno(a, "readlink", errno);
		return;
	}
	buf[n] = '\0';
	sb_add(a, "target=");
	sb_add_quoted(a, buf);
	sb_add(a, "\n");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The user.* xattrs, sorted, through /proc/self/fd so that no fd is opened
 * on the entry (a fifo or a symlink) and no path is rebuilt. */
static void capture_xattrs(int dir, const char *name, struct strbuf *a)
{
	char *path = xasprintf("/proc/self/fd/%d/%s", dir, name);
	char list[65536], value[65536], *names[256];
	ssize_t len = llistxattr(path, list, sizeof(list));
	size_t count = 0;

	if (len < 0) {
		add_errno(a, "listxattr", errno);
		goto out;
	}
	for (char *p = list; p < list + len && count < 256; p += strlen(p) + 1)
		if (policy_xattr_compared(p))
			names[count++] = p;
	qsort(names, count, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < count; i++) {
		ssize_t n = lgetxattr(path, names[i], value, sizeof(value) - 1);

		sb_addf(a, "xattr.%s=", names[i]);
		if (n < 0) {
			add_errno(a, "error", errno);
			continue;
		}
		value[n] = '\0';
		sb_add_quoted(a, value);
		sb_add(a, "\n");
	}
out:
	free(path);
}

struct dent {
	char *name;
	unsigned char type;
};

static int cmp_dent(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name, ((const struct dent *)b)->name);
}

/* Reads a directory's names, sorted; marks duplicates, which a merged
 * listing must never have. */
static int list_dir(int fd, struct dent **out, size_t *count)
{
	int dup_fd = dup(fd);
	DIR *d = dup_fd < 0 ? NULL : fdopendir(dup_fd);
	struct dirent *de;
	size_t n = 0, cap = 0;

	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		return -errno;
	}
	/* A dup shares the offset: a listing done before left it at the end. */
	rewinddir(d);
	*out = NULL;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[n++] = (struct dent){ xstrdup(de->d_name), de->d_type };
	}
	closedir(d);
	if (n)
		qsort(*out, n, sizeof(**out), cmp_dent);
	*count = n;
	return 0;
}

static void walk_dir(struct walk *w, int fd, const char *path, struct strbuf *attrs);

static const char *dtype_name(unsigned char t)
{
	switch (t) {
	case DT_REG: return "reg";
	case DT_DIR: return "dir";
	case DT_LNK: return "lnk";
	case DT_FIFO: return "fifo";
	case DT_CHR: return "chr";
	case DT_BLK: return "blk";
	case DT_SOCK: return "sock";
	}
	return "unknown";
}

static void walk_child(struct walk *w, int dir, const char *parent,
		       const struct dent *de)
{
	char *path = *parent ? xasprintf("%s/%s", parent, de->name) : xstrdup(de->name);
	struct strbuf a = { 0 };
	struct stat st;
	int fd;

	sb_addf(&a, "d_type=%s\n", dtype_name(de->type));
	if (fstatat(dir, de->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		add_errno(&a, "stat", errno);
		add_node(w, path, &a);
		goto out;
	}
	policy_render_stat(&st, &a);
	capture_xattrs(dir, de->name, &a);
	if (S_ISREG(st.st_mode))
		capture_content(dir, de->name, &a);
	else if (S_ISLNK(st.st_mode))
		capture_target(dir, de->name, &a);
	if (!S_ISDIR(st.st_mode)) {
		add_node(w, path, &a);
		goto out;
	}
	fd = openat(dir, de->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		add_errno(&a, "opendir", errno);
		add_node(w, path, &a);
		goto out;
	}
	walk_dir(w, fd, path, &a);
	close(fd);
out:
	sb_free(&a);
	free(path);
}

static void render_dir_nlink(int fd, const struct dent *ents, size_t n, struct strbuf *attrs)
{
	size_t subdirs = 0;
	struct stat st;

	for (size_t i = 0; i < n; i++)
		subdirs += fstatat(fd, ents[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			   S_ISDIR(st.st_mode);
	if (fstat(fd, &st) == 0)
		policy_render_dir_nlink(st.st_nlink, subdirs, attrs);
}

/* Adds the directory's own node (attrs plus its listing), then its children. */
static void walk_dir(struct walk *w, int fd, const char *path, struct strbuf *attrs)
{
	struct dent *ents = NULL;
	size_t n = 0;
	int err = list_dir(fd, &ents, &n);

	if (err) {
		add_errno(attrs, "readdir", -err);
		add_node(w, path, attrs);
		return;
	}
	sb_addf(attrs, "entries=%zu\n", n);
	render_dir_nlink(fd, ents, n, attrs);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(ents[i].name, ents[i - 1].name)) {
			sb_add(attrs, "duplicate=");
			sb_add_quoted(attrs, ents[i].name);
			sb_add(attrs, "\n");
		}
	add_node(w, path, attrs);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || strcmp(ents[i].name, ents[i - 1].name))
			walk_child(w, fd, path, &ents[i]);
	for (size_t i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const struct node *)a)->path, ((const struct node *)b)->path);
}

int snapshot_take(int root, struct snapshot *out)
{
	struct walk w = { .snap = out };
	struct strbuf a = { 0 };
	struct stat st;
	/* A fresh open, like every directory below: the caller's fd has been
	 * read before and lives across changes. */
	int fd = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	*out = (struct snapshot){ 0 };
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -errno;
	}
	policy_render_stat(&st, &a);
	capture_xattrs(fd, ".", &a);
	walk_dir(&w, fd, "", &a);
	close(fd);
	sb_free(&a);
	qsort(out->v, out->n, sizeof(out->v[0]), cmp_node);
	return 0;
}

void snapshot_free(struct snapshot *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].path);
		free(s->v[i].attrs);
	}
	free(s->v);
	*s = (struct snapshot){ 0 };
}

/* Appends the lines of x that are not in y (both "\n"-separated). */
static void add_missing_lines(const char *x, const char *y, struct strbuf *out)
{
	for (const char *p = x; *p; ) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		bool found = false;

		for (const char *q = y; *q; ) {
			const char *qnl = strchr(q, '\n');
			size_t qlen = qnl ? (size_t)(qnl - q) : strlen(q);

			if (qlen == len && !memcmp(p, q, len)) {
				found = true;
				break;
			}
			q += qlen + (qnl != NULL);
		}
		if (!found) {
			sb_add(out, " ");
			sb_addn(out, p, len);
		}
		p += len + (nl != NULL);
	}
}

static void report_path(struct strbuf *r, const char *path)
{
	sb_add(r, "    /");
	if (*path) {
		struct strbuf q = { 0 };

		sb_add_quoted(&q, path);
		/* Drop the quotes for the common case of a plain name. */
		if (!strpbrk(path, " \n\t\"\\"))
			sb_addn(r, q.s + 1, q.len - 2);
		else
			sb_add(r, q.s);
		sb_free(&q);
	}
	sb_add(r, ":");
}

#define MAX_REPORTED 6

static void report_one(struct strbuf *r, size_t k, const struct node *x,
		       const struct node *y, const char *xn, const char *yn)
{
	if (k >= MAX_REPORTED)
		return;
	report_path(r, x ? x->path : y->path);
	if (!y) {
		sb_addf(r, " only in %s\n", xn);
		return;
	}
	if (!x) {
		sb_addf(r, " only in %s\n", yn);
		return;
	}
	sb_addf(r, "\n      %s:", xn);
	add_missing_lines(x->attrs, y->attrs, r);
	sb_addf(r, "\n      %s:", yn);
	add_missing_lines(y->attrs, x->attrs, r);
	sb_add(r, "\n");
}

size_t snapshot_diff(const struct snapshot *a, const struct snapshot *b,
		     const char *an, const char *bn, struct strbuf *report)
{
	size_t i = 0, j = 0, k = 0;

	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i].path, b->v[j].path);

		if (c < 0) {
			report_one(report, k++, &a->v[i++], NULL, an, bn);
		} else if (c > 0) {
			report_one(report, k++, NULL, &b->v[j++], an, bn);
		} else {
			if (strcmp(a->v[i].attrs, b->v[j].attrs))
				report_one(report, k++, &a->v[i], &b->v[j], an, bn);
			i++;
			j++;
		}
	}
	if (k > MAX_REPORTED)
		sb_addf(report, "    ... and %zu more entries differ\n", k - MAX_REPORTED);
	return k;
}
