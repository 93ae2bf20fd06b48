/* Fixtures for the union library's unit tests (see fixture.h). */
#include "fixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

const struct ufs_cred fx_root = { .uid = 0, .gid = 0 };

/* The fixture of the running test: each test runs in its own process. */
static struct fx *current;

static char *keep_str(struct fx *fx, char *s)
{
	cr_assert(s, "out of memory");
	if (fx->nstrs == fx->strs_cap) {
		fx->strs_cap = fx->strs_cap ? 2 * fx->strs_cap : 32;
		fx->strs = realloc(fx->strs, fx->strs_cap * sizeof(*fx->strs));
		cr_assert(fx->strs, "out of memory");
	}
	fx->strs[fx->nstrs++] = s;
	return s;
}

static char *fmt(struct fx *fx, const char *f, const char *a, const char *b)
{
	char *s;

	cr_assert(asprintf(&s, f, a, b) >= 0, "out of memory");
	return keep_str(fx, s);
}

struct node *fx_keep(struct fx *fx, struct node *node)
{
	if (fx->nrefs == fx->refs_cap) {
		fx->refs_cap = fx->refs_cap ? 2 * fx->refs_cap : 32;
		fx->refs = realloc(fx->refs, fx->refs_cap * sizeof(*fx->refs));
		cr_assert(fx->refs, "out of memory");
	}
	fx->refs[fx->nrefs++] = node;
	return node;
}

const char *fx_path(struct fx *fx, const char *rel)
{
	return fmt(fx, "%s/%s", fx->dir, rel);
}

static void mkdir_p(const char *path)
{
	char *copy = strdup(path), *p;

	cr_assert(copy);
	for (p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		cr_assert(mkdir(copy, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", copy,
			  strerror(errno));
		*p = '/';
	}
	cr_assert(mkdir(copy, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", copy,
		  strerror(errno));
	free(copy);
}

static void mkdir_parent(const char *path)
{
	char *copy = strdup(path);
	char *slash = strrchr(copy, '/');

	*slash = '\0';
	mkdir_p(copy);
	free(copy);
}

struct fx *fx_new(int nlowers)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char tmpl[] = "/tmp/ufs-unit-XXXXXX";
	int i;

	cr_assert(fx && nlowers >= 0 && nlowers <= FX_MAX_LOWERS);
	cr_assert(mkdtemp(tmpl), "mkdtemp: %s", strerror(errno));
	fx->dir = strdup(tmpl);
	current = fx;
	fx->nlowers = nlowers;
	for (i = 0; i < nlowers; i++) {
		char name[16];

		snprintf(name, sizeof(name), "l%d", i);
		fx->lowers[i] = fx_path(fx, name);
		mkdir_p(fx->lowers[i]);
	}
	put_dir(fx, "upper");
	put_dir(fx, "work");
	fx->cfg.lowers = fx->lowers;
	fx->cfg.nlowers = nlowers;
	fx->cfg.upper = fx_path(fx, "upper");
	fx->cfg.work = fx_path(fx, "work");
	fx->cfg.whiteout_format = WH_FORMAT_OVERLAY;
	return fx;
}

void fx_lower_elsewhere(struct fx *fx, int i)
{
	char tmpl[] = "/dev/shm/ufs-unit-XXXXXX";

	cr_assert(i < fx->nlowers && !fx->elsewhere);
	cr_assert(mkdtemp(tmpl), "mkdtemp: %s", strerror(errno));
	fx->elsewhere = strdup(tmpl);
	cr_assert(rmdir(fx->lowers[i]) == 0);
	cr_assert(symlink(fx->elsewhere, fx->lowers[i]) == 0);
}

void fx_mount(struct fx *fx)
{
	char *why = NULL;
	int err = ufs_new(&fx->cfg, &fx->u, &why);

	cr_assert_eq(err, 0, "ufs_new: %s (%s)", why ? why : "?", strerror(-err));
	free(why);
}

/* Remove NAME below DIRFD and all it holds, fd by fd: some tests build
 * trees deeper than PATH_MAX, which path-based walkers cannot remove. */
static void remove_tree(int at, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if (unlinkat(at, name, 0) == 0 || (errno != EISDIR && errno != EPERM))
		return;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			remove_tree(dirfd(d), de->d_name);
	closedir(d);
	unlinkat(at, name, AT_REMOVEDIR);
}

void fx_forget_all(struct fx *fx)
{
	size_t i;

	/* Latest first: children go before the directories holding them. */
	for (i = fx->nrefs; i > 0; i--)
		ufs_forget(fx->u, fx->refs[i - 1], 1);
	fx->nrefs = 0;
}

void fx_unmount(struct fx *fx)
{
	if (!fx->u)
		return;
	fx_forget_all(fx);
	ufs_destroy(fx->u);
	fx->u = NULL;
}

void fx_remount(struct fx *fx)
{
	fx_unmount(fx);
	fx_mount(fx);
}

void fx_cleanup(void)
{
	struct fx *fx = current;
	size_t i;

	if (!fx)
		return;
	current = NULL;
	fx_unmount(fx);
	remove_tree(AT_FDCWD, fx->dir);
	if (fx->elsewhere)
		remove_tree(AT_FDCWD, fx->elsewhere);
	free(fx->elsewhere);
	for (i = 0; i < fx->nstrs; i++)
		free(fx->strs[i]);
	free(fx->strs);
	free(fx->refs);
	free(fx->dir);
	free(fx);
}

/* Building layers */

void put_dir(struct fx *fx, const char *rel)
{
	mkdir_p(fx_path(fx, rel));
}

void put_file(struct fx *fx, const char *rel, const char *data)
{
	const char *path = fx_path(fx, rel);
	int fd;

	mkdir_parent(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert(fd >= 0, "create %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
}

void put_whiteout(struct fx *fx, const char *rel)
{
	const char *path = fx_path(fx, rel);

	mkdir_parent(path);
	cr_assert(mknod(path, S_IFCHR | 0600, makedev(0, 0)) == 0, "mknod %s: %s", path,
		  strerror(errno));
}

void put_xwhiteout(struct fx *fx, const char *rel, const char *ns)
{
	const char *path = fx_path(fx, rel);
	char *dir = strdup(path);

	put_file(fx, rel, "");
	put_xattr(fx, rel, fmt(fx, "%s%s", ns, ".overlay.whiteout"), "");
	*strrchr(dir, '/') = '\0';
	cr_assert(lsetxattr(dir, fmt(fx, "%s%s", ns, ".overlay.opaque"), "x", 1, 0) == 0,
		  "setxattr %s: %s", dir, strerror(errno));
	free(dir);
}

void put_xattr(struct fx *fx, const char *rel, const char *name, const char *value)
{
	const char *path = fx_path(fx, rel);

	cr_assert(lsetxattr(path, name, value, strlen(value), 0) == 0, "setxattr %s %s: %s",
		  path, name, strerror(errno));
}

void put_mtime(struct fx *fx, const char *rel, time_t sec, long nsec)
{
	struct timespec ts[2] = { { sec, nsec }, { sec, nsec } };

	cr_assert(utimensat(AT_FDCWD, fx_path(fx, rel), ts, AT_SYMLINK_NOFOLLOW) == 0);
}

/* Looking at layers */

bool real_exists(struct fx *fx, const char *rel)
{
	struct stat st;

	return lstat(fx_path(fx, rel), &st) == 0;
}

bool real_is_whiteout(struct fx *fx, const char *rel)
{
	struct stat st;

	return lstat(fx_path(fx, rel), &st) == 0 && S_ISCHR(st.st_mode) &&
	       st.st_rdev == makedev(0, 0);
}

static bool xattr_is(const char *path, const char *name, const char *want)
{
	char value[16];
	ssize_t len = lgetxattr(path, name, value, sizeof(value));

	return len == (ssize_t)strlen(want) && memcmp(value, want, (size_t)len) == 0;
}

bool real_is_opaque(struct fx *fx, const char *rel)
{
	const char *path = fx_path(fx, rel);

	return xattr_is(path, "trusted.overlay.opaque", "y") ||
	       xattr_is(path, "user.overlay.opaque", "y") ||
	       real_exists(fx, fmt(fx, "%s/%s", rel, ".wh..wh..opq"));
}

struct stat real_stat(struct fx *fx, const char *rel)
{
	struct stat st;

	cr_assert(lstat(fx_path(fx, rel), &st) == 0, "lstat %s: %s", rel, strerror(errno));
	return st;
}

static char *read_fd(struct fx *fx, int fd)
{
	size_t len = 0, cap = 256;
	char *buf = malloc(cap);
	ssize_t n;

	cr_assert(buf);
	while ((n = pread(fd, buf + len, cap - len - 1, (off_t)len)) > 0) {
		len += (size_t)n;
		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert(buf);
		}
	}
	cr_assert(n == 0, "read: %s", strerror(errno));
	buf[len] = '\0';
	return keep_str(fx, buf);
}

char *real_read(struct fx *fx, const char *rel)
{
	int fd = open(fx_path(fx, rel), O_RDONLY | O_NOFOLLOW);
	char *s;

	cr_assert(fd >= 0, "open %s: %s", rel, strerror(errno));
	s = read_fd(fx, fd);
	close(fd);
	return s;
}

char *real_xattr(struct fx *fx, const char *rel, const char *name)
{
	char value[256];
	ssize_t len = lgetxattr(fx_path(fx, rel), name, value, sizeof(value) - 1);

	if (len < 0)
		return NULL;
	value[len] = '\0';
	return keep_str(fx, strdup(value));
}

bool real_all_hole(struct fx *fx, const char *rel)
{
	int fd = open(fx_path(fx, rel), O_RDONLY | O_CLOEXEC);
	bool hole;

	cr_assert(fd >= 0, "open %s: %s", rel, strerror(errno));
	hole = lseek(fd, 0, SEEK_DATA) < 0 && errno == ENXIO;
	close(fd);
	return hole;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* NAMES sorted and joined with spaces; frees nothing. */
static char *join_sorted(struct fx *fx, char **names, size_t n)
{
	size_t i, len = 1;
	char *s;

	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++)
		len += strlen(names[i]) + 1;
	s = calloc(1, len);
	cr_assert(s);
	for (i = 0; i < n; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, names[i]);
	}
	return keep_str(fx, s);
}

char *real_list(struct fx *fx, const char *rel)
{
	DIR *d = opendir(fx_path(fx, rel));
	char **names = NULL;
	struct dirent *de;
	size_t n = 0, i;
	char *s;

	cr_assert(d, "opendir %s: %s", rel, strerror(errno));
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		cr_assert(names);
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	s = join_sorted(fx, names, n);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return s;
}

int fx_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	cr_assert(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

char *work_scratch(struct fx *fx)
{
	char *s = real_list(fx, "work/work");
	const char *shared = "#whiteout";
	size_t len = strlen(shared);

	if (strncmp(s, shared, len) == 0 && (s[len] == '\0' || s[len] == ' '))
		return s[len] ? s + len + 1 : s + len;
	return s;
}

static void snapshot_entry(FILE *out, const char *path, const char *name)
{
	char list[1024], value[256];
	struct stat st;
	ssize_t len, vlen;
	char *x;

	cr_assert(lstat(path, &st) == 0, "lstat %s", path);
	fprintf(out, "%s %o %u:%u %lld m%lld.%09ld c%lld.%09ld", name, st.st_mode,
		st.st_uid, st.st_gid, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
		st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	len = llistxattr(path, list, sizeof(list));
	for (x = list; len > 0 && x < list + len; x += strlen(x) + 1) {
		vlen = lgetxattr(path, x, value, sizeof(value) - 1);
		value[vlen > 0 ? vlen : 0] = '\0';
		fprintf(out, " %s=%s", x, value);
	}
	if (S_ISREG(st.st_mode)) {
		int fd = open(path, O_RDONLY | O_NOFOLLOW);
		char buf[4096];
		ssize_t n;
		unsigned long sum = 5381;

		cr_assert(fd >= 0);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			for (ssize_t i = 0; i < n; i++)
				sum = sum * 33 + (unsigned char)buf[i];
		close(fd);
		fprintf(out, " data:%lx", sum);
	}
	fputc('\n', out);
}

static void snapshot_tree(FILE *out, const char *path, const char *name)
{
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i;
	DIR *d;

	snapshot_entry(out, path, name);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++) {
		char *p, *q;

		cr_assert(asprintf(&p, "%s/%s", path, names[i]) >= 0);
		cr_assert(asprintf(&q, "%s/%s", name, names[i]) >= 0);
		snapshot_tree(out, p, q);
		free(p);
		free(q);
		free(names[i]);
	}
	free(names);
}

char *real_snapshot(struct fx *fx, const char *rel)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&buf, &size);

	cr_assert(out);
	snapshot_tree(out, fx_path(fx, rel), ".");
	fclose(out);
	return keep_str(fx, buf);
}

/* The merged tree */

/* Walk PATH from the root; 0 and *OUT, or -errno. */
static int walk(struct fx *fx, const char *path, struct node **out)
{
	char *copy = strdup(path), *save = NULL, *name;
	struct node *node;
	int err = 0;

	cr_assert(fx->u, "fx_mount first");
	node = fx->u->root;
	for (name = strtok_r(copy, "/", &save); name; name = strtok_r(NULL, "/", &save)) {
		struct stat st;
		struct node *child;

		err = ufs_lookup(fx->u, node, name, &child, &st);
		if (err)
			break;
		node = fx_keep(fx, child);
	}
	free(copy);
	*out = node;
	return err;
}

struct node *u_lookup(struct fx *fx, const char *path)
{
	struct node *node;
	int err = walk(fx, path, &node);

	cr_assert_eq(err, 0, "lookup %s: %s", path, strerror(-err));
	return node;
}

int u_lookup_err(struct fx *fx, const char *path)
{
	struct node *node;

	return walk(fx, path, &node);
}

struct node *u_parent(struct fx *fx, const char *path, const char **base)
{
	char *copy = keep_str(fx, strdup(path));
	char *slash = strrchr(copy, '/');

	if (!slash) {
		*base = path;
		return fx->u->root;
	}
	*slash = '\0';
	*base = slash + 1;
	return u_lookup(fx, copy);
}

struct stat u_stat(struct fx *fx, const char *path)
{
	struct stat st;
	int err = ufs_getattr(fx->u, u_lookup(fx, path), &st);

	cr_assert_eq(err, 0, "getattr %s: %s", path, strerror(-err));
	return st;
}

char *u_read(struct fx *fx, const char *path)
{
	struct handle *h;
	char *s;
	int err = ufs_open(fx->u, u_lookup(fx, path), O_RDONLY, &h);

	cr_assert_eq(err, 0, "open %s: %s", path, strerror(-err));
	s = read_fd(fx, h->fd);
	ufs_release(fx->u, h);
	return s;
}

char *u_list(struct fx *fx, const char *path)
{
	struct dir_snapshot *snap;
	char **names;
	size_t i, n = 0;
	char *s;
	struct node *dir = u_lookup(fx, path);
	int err = ufs_opendir(fx->u, dir, &snap);

	cr_assert_eq(err, 0, "opendir %s: %s", path, strerror(-err));
	err = ufs_readdir_start(fx->u, dir, snap);
	cr_assert_eq(err, 0, "listing %s: %s", path, strerror(-err));
	names = calloc(snap->count + 1, sizeof(*names));
	cr_assert(names);
	for (i = 0; i < snap->count; i++)
		if (strcmp(snap->entries[i].name, ".") && strcmp(snap->entries[i].name, ".."))
			names[n++] = snap->entries[i].name;
	s = join_sorted(fx, names, n);
	free(names);
	ufs_releasedir(snap);
	return s;
}

size_t u_expect_listing_inos(struct fx *fx, const char *path)
{
	struct dir_snapshot *snap;
	struct node *dir = u_lookup(fx, path);
	size_t i, checked = 0;
	int err = ufs_opendir(fx->u, dir, &snap);

	cr_assert_eq(err, 0, "opendir %s: %s", path, strerror(-err));
	err = ufs_readdir_start(fx->u, dir, snap);
	cr_assert_eq(err, 0, "listing %s: %s", path, strerror(-err));
	for (i = 0; i < snap->count; i++) {
		const char *name = snap->entries[i].name;
		char *child;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		cr_assert(asprintf(&child, "%s%s%s", path, *path ? "/" : "", name) > 0);
		cr_expect_eq(snap->entries[i].ino, u_stat(fx, child).st_ino, "%s", child);
		free(child);
		checked++;
	}
	ufs_releasedir(snap);
	return checked;
}

int u_create(struct fx *fx, const char *path, const char *data)
{
	const char *base;
	struct node *dir = u_parent(fx, path, &base), *node;
	struct handle *h;
	struct stat st;
	int err = ufs_create(fx->u, dir, base, S_IFREG | 0644, O_WRONLY, &fx_root, &node, &st, &h);

	if (err)
		return err;
	fx_keep(fx, node);
	cr_assert_eq(write(h->fd, data, strlen(data)), (ssize_t)strlen(data));
	ufs_release(fx->u, h);
	return 0;
}

int u_mkdir(struct fx *fx, const char *path)
{
	const char *base;
	struct node *dir = u_parent(fx, path, &base), *node;
	struct stat st;
	int err = ufs_mkdir(fx->u, dir, base, 0755, &fx_root, &node, &st);

	if (!err)
		fx_keep(fx, node);
	return err;
}

int u_unlink(struct fx *fx, const char *path)
{
	const char *base;
	struct node *dir = u_parent(fx, path, &base);

	return ufs_unlink(fx->u, dir, base);
}

int u_rmdir(struct fx *fx, const char *path)
{
	const char *base;
	struct node *dir = u_parent(fx, path, &base);

	return ufs_rmdir(fx->u, dir, base);
}

int u_rename(struct fx *fx, const char *from, const char *to, unsigned int flags)
{
	const char *base, *newbase;
	struct node *dir = u_parent(fx, from, &base);
	struct node *newdir = u_parent(fx, to, &newbase);

	return ufs_rename(fx->u, dir, base, newdir, newbase, flags);
}

int u_link(struct fx *fx, const char *from, const char *to)
{
	const char *base;
	struct node *dir = u_parent(fx, to, &base), *out;
	struct stat st;
	int err = ufs_link(fx->u, u_lookup(fx, from), dir, base, &out, &st);

	if (!err)
		fx_keep(fx, out);
	return err;
}

int u_open_write(struct fx *fx, const char *path, int flags, const char *data)
{
	struct handle *h;
	int err = ufs_open(fx->u, u_lookup(fx, path), flags, &h);

	if (err)
		return err;
	if (data)
		cr_assert_eq(write(h->fd, data, strlen(data)), (ssize_t)strlen(data));
	ufs_release(fx->u, h);
	return 0;
}
