/* Deliberate differences. Everything the tester leaves out of a comparison is
 * in the table below with the reason, and policy_render_stat() is the only
 * code that turns a stat into compared text: a field it does not print is a
 * field listed here. Nothing else is skipped anywhere in the tester. */
#include "policy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

struct deliberate {
	const char *what;
	const char *why;
};

static const struct deliberate deliberate[] = {
	{ "st_ino", "each mount numbers inodes its own way (overlayfs xino/real inode, "
		    "FUSE node ids); equality of names that are hard links shows in st_nlink "
		    "and in content after a write" },
	{ "st_dev", "two different mounts" },
	{ "st_atime", "reads through either mount update atime at different instants "
		      "(relatime, FUSE noatime)" },
	{ "st_ctime", "cannot be set by anyone; copy-up and every change stamp it "
		      "with the clock at different instants on the two sides" },
	{ "st_mtime when after 2017", "set by the clock (writes, creates, UTIME_NOW): "
		"compared as the class \"now\". Every time the stack or an operation sets "
		"explicitly lies before 2005 and is compared to the nanosecond" },
	{ "st_blocks, st_blksize", "allocation of the backing ext4 files, and FUSE "
		"reports its own block size; sizes and content digests are compared" },
	{ "st_size of directories", "the backing directory's block count, which depends "
		"on the marker format the upper layer uses and on deleted entries" },
	{ "xattrs outside user.*", "trusted.overlay.* are the markers themselves; "
		"security.* and system.* are not generated" },
	{ "names starting with .wh.", "never generated: unionfuse reads them as AUFS "
		"markers, which kernel overlayfs does not, so the two cannot agree" },
	{ "st_nlink of directories", "overlayfs says 1 for a merged directory (the "
		"\"unknown\" of find(1)) and the real count otherwise; counting "
		"subdirectories is as right. So each side must say 1 or 2 + its number of "
		"subdirectories, shown as nlink=ok; any other count is compared as is" },
	{ "rename, link: kernel EXDEV", "overlayfs refuses to rename a directory "
		"when the redirect it would record is longer than redirect_max (256 bytes: "
		"deep paths with 255-byte names), before any other check; unionfuse must "
		"rename (DESIGN 4), or fail for the reason POSIX gives (ENOTEMPTY, ...). "
		"The sequence stops there as passed: the trees rightly differ from then on. "
		"With metacopy=on, a link of a lower file records a redirect too, and "
		"fails the same way" },
	{ "rename between two names of one file", "POSIX makes it a no-op (also for "
		"an exchange: nothing changes); overlayfs "
		"with index=off gives each name of a lower hard link its own inode and "
		"renames. When both sides report the two names as one inode before such a "
		"rename and the trees then differ, the sequence stops there as passed" },
	{ "links out of a renamed directory", "unionfuse renames a directory with "
		"lower content by copying it up whole (no redirect): a hard link between a "
		"file inside it and a name outside cannot span layers, so the copy gets its "
		"own st_nlink, where overlayfs keeps the lower file through a redirect; and "
		"links inside the tree stay links, where overlayfs breaks them at the next "
		"copy-up. So a successful rename of a directory holding a file with "
		"st_nlink > 1 ends the sequence there, as passed" },
	{ "mtimes after a rename that fails ENOTEMPTY", "overlayfs copies the "
		"source up before it finds the target not empty, which can stamp a "
		"parent's mtime; unionfuse checks first and changes nothing. When both "
		"sides fail so and the trees then differ, the sequence stops there as passed" },
	{ "open for writing that writes nothing", "unionfuse has the kernel open "
		"files without asking it (no OPEN requests): a lower file is copied up at "
		"its first change, where overlayfs copies it up at open. Data and "
		"attributes are the same either way, but overlayfs' copy-up breaks a "
		"lower hard link. So a create of an existing file without O_TRUNC, or a "
		"write of 0 bytes, on a file with st_nlink > 1 after which the trees "
		"differ ends the sequence there, as passed. With metacopy=on "
		"(UNIONFUSE_DIFF_METACOPY) the same holds for every regular file: "
		"overlayfs copies the data of a file whose upper copy holds only metadata "
		"at that open, in place, and its mtime takes the clock's time" },
	{ "readdir order, . and ..", "POSIX leaves the order unspecified: names are "
		"compared sorted, with their d_type" },
};

void policy_print(FILE *f)
{
	fprintf(f, "Deliberate differences (not compared):\n");
	for (size_t i = 0; i < sizeof(deliberate) / sizeof(deliberate[0]); i++)
		fprintf(f, "  %-26s %s\n", deliberate[i].what, deliberate[i].why);
}

static const char *type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "reg";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "lnk";
	case S_IFIFO: return "fifo";
	case S_IFCHR: return "chr";
	case S_IFBLK: return "blk";
	case S_IFSOCK: return "sock";
	}
	return "?";
}

/* 2017-07-14: later than any time the tester sets on purpose. */
#define CLOCK_SET_AFTER 1500000000

void policy_render_stat(const struct stat *st, struct strbuf *out)
{
	sb_addf(out, "type=%s\nmode=%04o\nuid=%u\ngid=%u\n",
		type_name(st->st_mode), (unsigned)(st->st_mode & 07777),
		(unsigned)st->st_uid, (unsigned)st->st_gid);
	if (!S_ISDIR(st->st_mode))
		sb_addf(out, "nlink=%ju\nsize=%jd\n", (uintmax_t)st->st_nlink,
			(intmax_t)st->st_size);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		sb_addf(out, "rdev=%u:%u\n", major(st->st_rdev), minor(st->st_rdev));
	if (st->st_mtim.tv_sec >= CLOCK_SET_AFTER)
		sb_add(out, "mtime=now\n");
	else
		sb_addf(out, "mtime=%jd.%09ld\n", (intmax_t)st->st_mtim.tv_sec,
			st->st_mtim.tv_nsec);
}

void policy_render_dir_nlink(nlink_t nlink, size_t subdirs, struct strbuf *out)
{
	if (nlink == 1 || nlink == 2 + subdirs)
		sb_add(out, "nlink=ok\n");
	else
		sb_addf(out, "nlink=%ju (with %zu subdirectories)\n", (uintmax_t)nlink, subdirs);
}

bool policy_accept_divergence(const struct op *op, const char *ref, const char *tested)
{
	return (op->kind == OP_RENAME || op->kind == OP_LINK) && !strcmp(ref, "EXDEV") &&
	       strcmp(tested, "EXDEV") != 0;
}

static bool names_one_file(int root, const struct op *op)
{
	struct stat a, b;

	return fstatat(root, op->path, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
	       fstatat(root, op->path2, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino && !S_ISDIR(a.st_mode);
}

/* Does the directory PATH below ROOT hold, at any depth, a non-directory
 * with more than one link? */
static bool holds_linked_file(int root, const char *path)
{
	int fd = openat(root, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	bool found = false;
	struct dirent *de;
	DIR *dir;

	if (fd < 0)
		return false;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return false;
	}
	while (!found && (de = readdir(dir))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			found = holds_linked_file(fd, de->d_name);
		else
			found = st.st_nlink > 1;
	}
	closedir(dir);
	return found;
}

bool policy_tree_rename_links(const struct op *op, int ref_root)
{
	return op->kind == OP_RENAME &&
	       (holds_linked_file(ref_root, op->path) ||
		(op->flags == RENAME_EXCHANGE && holds_linked_file(ref_root, op->path2)));
}

bool policy_open_without_change(const struct op *op, int ref_root, bool metacopy)
{
	bool opens = (op->kind == OP_CREATE && !(op->flags & O_TRUNC)) ||
		     ((op->kind == OP_WRITE || op->kind == OP_APPEND) && op->len == 0);
	struct stat st;

	/* Followed, as the open follows a symlink to its file. */
	return opens && fstatat(ref_root, op->path, &st, 0) == 0 &&
	       S_ISREG(st.st_mode) && (st.st_nlink > 1 || metacopy);
}

bool policy_failed_rename(const struct op *op, const char *result)
{
	return op->kind == OP_RENAME && !strcmp(result, "ENOTEMPTY");
}

bool policy_one_file_rename(const struct op *op, int ref_root, int tested_root)
{
	return op->kind == OP_RENAME && (op->flags == 0 || op->flags == RENAME_EXCHANGE) &&
	       names_one_file(ref_root, op) && names_one_file(tested_root, op);
}

int policy_xattr_compared(const char *name)
{
	return !strncmp(name, "user.", 5);
}
