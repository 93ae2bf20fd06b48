/* Materialises a stack description. The two copies differ only in how
 * whiteouts and opaque directories are spelled: the kernel copy uses the
 * overlayfs-native char 0/0 and opaque=y, the unionfuse copy whatever format
 * the entry was generated with (char 0/0, xattr whiteout, .wh.NAME, opaque=y,
 * .wh..wh..opq). */
#include "stack_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "stack_resolve.h"
#include "util.h"

long stack_nsec(int64_t sec)
{
	return (long)((uint64_t)sec * 7919u % 1000000000u);
}

void stack_pattern(uint32_t fill, uint64_t off, char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t x = (off + i) * 0x9e3779b1u + fill;

		buf[i] = (char)('0' + (x >> 7) % 75);
	}
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? strndup(path, (size_t)(slash - path)) : xstrdup("");
}

static const char *base_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static const struct entry *find_entry(const struct stack *s, int layer, const char *path)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->e[i].layer == layer && !strcmp(s->e[i].path, path))
			return &s->e[i];
	return NULL;
}

/* True when, in this copy, the entry's parent is marked opaque through the
 * xattr: its overlay.opaque then says "y" and cannot also say "x", so an
 * xattr whiteout there would read as a plain empty file. */
static bool parent_opaque_by_xattr(const struct stack *s, const struct entry *e,
				   enum copy_kind copy)
{
	char *parent = dir_of(e->path);
	const struct entry *p = find_entry(s, e->layer, parent);

	free(parent);
	return p && p->kind == E_DIR && p->opaque &&
	       (copy == COPY_KERNEL || p->fmt != MK_AUFS);
}

/* The kernel copy always gets char 0/0: overlayfs lists an xattr whiteout
 * correctly but rmdir of its directory still says ENOTEMPTY (6.18). */
static enum marker_fmt whiteout_fmt(const struct stack *s, const struct entry *e,
				    enum copy_kind copy)
{
	if (copy == COPY_KERNEL)
		return MK_CHR;
	if (e->fmt == MK_XATTR && !parent_opaque_by_xattr(s, e, copy))
		return MK_XATTR;
	return e->fmt == MK_AUFS ? MK_AUFS : MK_CHR;
}

/* A whiteout in a directory that fewer than two layers make up hides
 * nothing, but overlayfs would list it and refuse rmdir/rename over its
 * directory (see stack_resolve.c): the kernel copy leaves it out, while
 * unionfuse must take it for the no-op it is. Except in the upper layer,
 * which kernel overlayfs mounts in the crosswise check. */
static bool whiteout_needed(const struct stack *s, const struct entry *e, enum copy_kind copy)
{
	char *parent = dir_of(e->path);
	bool needed = (copy == COPY_UNION && e->layer < s->nlower) ||
		      stack_dir_layers(s, parent) >= 2;

	free(parent);
	return needed;
}

static int write_content(int fd, const struct entry *e)
{
	char buf[4096];
	uint64_t head = e->sparse ? 100 : e->size;

	/* A sparse file has 100 bytes at each end and a hole between. */
	if (e->sparse) {
		if (ftruncate(fd, (off_t)e->size) < 0)
			return -errno;
		stack_pattern(e->fill, e->size - 100, buf, 100);
		if (pwrite(fd, buf, 100, (off_t)(e->size - 100)) != 100)
			return -EIO;
	}
	for (uint64_t off = 0; off < head; off += sizeof(buf)) {
		size_t n = head - off < sizeof(buf) ? (size_t)(head - off) : sizeof(buf);

		stack_pattern(e->fill, off, buf, n);
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n)
			return -EIO;
	}
	return 0;
}

static int make_file(const char *full, const struct entry *e)
{
	int fd = open(full, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int err;

	if (fd < 0)
		return -errno;
	err = write_content(fd, e);
	close(fd);
	return err;
}

/* The xattr naming a marker: overlayfs reads trusted.overlay.*; the
 * unionfuse copy uses user.overlay.* (the userxattr form) for about half of
 * the markers of its lower layers, chosen by path so a case replays the
 * same. Its upper layer keeps trusted.*: kernel overlayfs mounts that one in
 * the crosswise check. */
static const char *marker_xattr(const struct entry *e, const struct stack *s,
				enum copy_kind copy, bool opaque)
{
	static const char *const names[2][2] = {
		{ "trusted.overlay.whiteout", "trusted.overlay.opaque" },
		{ "user.overlay.whiteout", "user.overlay.opaque" },
	};
	unsigned hash = 5381;

	for (const char *c = e->path; *c; c++)
		hash = hash * 33 + (unsigned char)*c;
	return names[copy == COPY_UNION && e->layer < s->nlower && (hash & 1)][opaque];
}

static int make_whiteout(const char *root, const struct stack *s,
			 const struct entry *e, enum copy_kind copy)
{
	char *dir, *full;
	int ret = 0;

	if (!whiteout_needed(s, e, copy))
		return 0;
	dir = dir_of(e->path);

	switch (whiteout_fmt(s, e, copy)) {
	case MK_CHR:
		full = xasprintf("%s/%s", root, e->path);
		if (mknod(full, S_IFCHR | 0600, makedev(0, 0)) < 0)
			ret = -errno;
		break;
	case MK_XATTR:
		full = xasprintf("%s/%s", root, e->path);
		if (close(open(full, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
		    lsetxattr(full, marker_xattr(e, s, copy, false), "", 0, 0) < 0)
			ret = -errno;
		free(full);
		full = xasprintf("%s/%s", root, dir);
		if (!ret && lsetxattr(full, marker_xattr(e, s, copy, true), "x", 1, 0) < 0)
			ret = -errno;
		break;
	default:
		full = xasprintf("%s/%s%s.wh.%s", root, dir, *dir ? "/" : "", base_of(e->path));
		if (close(open(full, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
			ret = -errno;
		break;
	}
	free(full);
	free(dir);
	return ret;
}

static int mark_opaque(const char *full, const struct stack *s, const struct entry *e,
		       enum copy_kind copy)
{
	char *marker;
	int fd;

	if (copy == COPY_KERNEL || e->fmt != MK_AUFS)
		return lsetxattr(full, marker_xattr(e, s, copy, true), "y", 1, 0) < 0 ?
			       -errno : 0;
	marker = xasprintf("%s/.wh..wh..opq", full);
	fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	free(marker);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int make_node(const char *root, const char *full, const struct stack *s,
		     const struct entry *e, enum copy_kind copy)
{
	char *target;
	int ret = 0;

	switch (e->kind) {
	case E_FILE:
		return make_file(full, e);
	case E_DIR:
		/* An earlier entry below it may have created it as a parent. */
		if (mkdir(full, 0700) < 0 && errno != EEXIST)
			return -errno;
		return e->opaque ? mark_opaque(full, s, e, copy) : 0;
	case E_SYMLINK:
		return symlink(e->target, full) < 0 ? -errno : 0;
	case E_HARDLINK:
		target = xasprintf("%s/%s", root, e->target);
		if (link(target, full) < 0)
			ret = -errno;
		free(target);
		return ret;
	case E_FIFO:
		return mknod(full, S_IFIFO | 0600, 0) < 0 ? -errno : 0;
	case E_WHITEOUT:
		return make_whiteout(root, s, e, copy);
	}
	return -EINVAL;
}

/* Owner, mode and xattr; chown first, since it clears set-id bits. */
static int set_attrs(const char *full, const struct entry *e)
{
	if (e->kind == E_WHITEOUT || e->kind == E_HARDLINK)
		return 0;
	if (lchown(full, e->uid, e->gid) < 0)
		return -errno;
	if (e->kind != E_SYMLINK && chmod(full, e->mode) < 0)
		return -errno;
	if (e->xname && lsetxattr(full, e->xname, e->xvalue, strlen(e->xvalue), 0) < 0)
		return -errno;
	return 0;
}

static void set_time(const char *full, int64_t sec)
{
	struct timespec ts[2] = {
		{ .tv_sec = sec, .tv_nsec = stack_nsec(sec) },
		{ .tv_sec = sec, .tv_nsec = stack_nsec(sec) },
	};

	/* Fails only for an entry that was skipped: nothing to date then. */
	if (utimensat(AT_FDCWD, full, ts, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
		fprintf(stderr, "unionfuse-diff: %s: utimensat: %m\n", full);
}

/* Creating a child changes its directory's mtime, so times go last: first
 * every ancestor gets T_IMPLICIT, then each entry its own time. */
static void set_times(const struct stack *s, const char *dir)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct entry *e = &s->e[i];
		char *root = xasprintf("%s/%s", dir, layer_dirname(s, e->layer));
		char *parent = dir_of(e->path);

		while (*parent) {
			char *full = xasprintf("%s/%s", root, parent), *up;

			set_time(full, T_IMPLICIT);
			free(full);
			up = dir_of(parent);
			free(parent);
			parent = up;
		}
		free(parent);
		free(root);
	}
	for (int layer = 0; layer <= s->nlower; layer++) {
		char *root = xasprintf("%s/%s", dir, layer_dirname(s, layer));

		set_time(root, T_IMPLICIT);
		free(root);
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct entry *e = &s->e[i];
		char *full;

		if (e->kind == E_WHITEOUT || e->kind == E_HARDLINK)
			continue;
		full = xasprintf("%s/%s/%s", dir, layer_dirname(s, e->layer), e->path);
		set_time(full, e->mtime);
		free(full);
	}
}

static int make_layout(const struct stack *s, const char *dir)
{
	static const char *const extra[] = { "work", "mnt" };
	int err;

	for (int layer = 0; layer <= s->nlower; layer++) {
		char *path = xasprintf("%s/%s", dir, layer_dirname(s, layer));

		err = mkdir_p(path, 0755);
		free(path);
		if (err)
			return err;
	}
	for (size_t i = 0; i < 2; i++) {
		char *path = xasprintf("%s/%s", dir, extra[i]);

		err = mkdir_p(path, 0755);
		free(path);
		if (err)
			return err;
	}
	return 0;
}

int stack_write(const struct stack *s, const char *dir, enum copy_kind copy)
{
	int err = make_layout(s, dir);

	if (err)
		return err;
	for (size_t i = 0; i < s->n; i++) {
		const struct entry *e = &s->e[i];
		char *root = xasprintf("%s/%s", dir, layer_dirname(s, e->layer));
		char *full = xasprintf("%s/%s", root, e->path);
		char *parent = dir_of(full);

		/* An entry that cannot be made (a hard link whose target the
		 * shrinker removed; a hand-edited case with a file on the
		 * way) is skipped, identically in both copies. */
		if (mkdir_p(parent, 0755) == 0 && make_node(root, full, s, e, copy) == 0)
			err = set_attrs(full, e);
		if (err)
			fprintf(stderr, "unionfuse-diff: %s: %s\n", full, strerror(-err));
		free(parent);
		free(full);
		free(root);
		if (err)
			return err;
	}
	set_times(s, dir);
	return 0;
}
