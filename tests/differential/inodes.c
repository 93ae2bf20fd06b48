/* The inode numbers of a tree's entries (see inodes.h). */
#include "inodes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct lines {
	char **v;
	size_t n, cap;
};

static void lines_add(struct lines *l, char *line)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = line;
}

/* The line of PATH, numbered INO. */
static void add(struct lines *out, const char *path, ino_t ino)
{
	struct strbuf line = { 0 };

	/* Quoted: a generated name may hold a space or a newline. */
	sb_add_quoted(&line, path);
	sb_addf(&line, " %" PRIuMAX, (uintmax_t)ino);
	lines_add(out, line.s);
}

/* Every entry below the directory fd DIR, whose path is PREFIX. */
static int walk(int dir, const char *prefix, struct lines *out)
{
	DIR *d = fdopendir(dir);
	struct dirent *de;
	int err = 0;

	if (!d) {
		close(dir);
		return -errno;
	}
	while (!err && (errno = 0, de = readdir(d))) {
		char *path;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		path = *prefix ? xasprintf("%s/%s", prefix, de->d_name) : xstrdup(de->d_name);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			err = -errno;
		} else if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd(d), de->d_name,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			add(out, path, st.st_ino);
			err = fd < 0 ? -errno : walk(fd, path, out);
		} else {
			add(out, path, st.st_ino);
		}
		free(path);
	}
	if (!err && errno)
		err = -errno;
	closedir(d);
	return err;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int inodes_take(int root, struct strbuf *out)
{
	struct lines l = { 0 };
	int fd = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = fd < 0 ? -errno : walk(fd, "", &l);

	if (l.n)        /* an empty tree: no array at all */
		qsort(l.v, l.n, sizeof(*l.v), by_path);
	for (size_t i = 0; i < l.n; i++) {
		sb_add(out, l.v[i]);
		sb_add(out, "\n");
		free(l.v[i]);
	}
	free(l.v);
	return err;
}

/* The next line of *P, without its newline, into LINE (SIZE bytes). */
static bool next_line(const char **p, char *line, size_t size)
{
	const char *end = strchr(*p, '\n');
	size_t n;

	if (!end)
		return false;
	n = (size_t)(end - *p) < size - 1 ? (size_t)(end - *p) : size - 1;
	memcpy(line, *p, n);
	line[n] = '\0';
	*p = end + 1;
	return true;
}

/* The quoted path of LINE ("PATH INO"), cut there; the number after. */
static const char *split(char *line)
{
	char *space = strrchr(line, ' ');

	if (!space)
		return "";
	*space = '\0';
	return space + 1;
}

size_t inodes_diff(const char *before, const char *after, struct strbuf *report)
{
	char a[4 * PATH_MAX], b[4 * PATH_MAX];
	const char *pa = before, *pb = after, *na = NULL, *nb = NULL;
	bool have_a = next_line(&pa, a, sizeof(a)), have_b = next_line(&pb, b, sizeof(b));
	size_t found = 0;

	if (have_a)
		na = split(a);
	if (have_b)
		nb = split(b);
	while (have_a && have_b) {
		int cmp = strcmp(a, b);

		if (cmp == 0 && strcmp(na, nb) != 0 && found++ < 4)
			sb_addf(report, "    %s: %s before the remount, %s after\n", a, na, nb);
		if (cmp <= 0 && (have_a = next_line(&pa, a, sizeof(a))))
			na = split(a);
		if (cmp >= 0 && (have_b = next_line(&pb, b, sizeof(b))))
			nb = split(b);
	}
	return found;
}
