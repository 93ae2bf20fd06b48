/* Immutable and append-only entries (protattr.c): set with chattr through
 * the union (overlay.protattr) or carried by a lower entry itself, refused
 * every change the kernel refuses for a local file, with EPERM. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

TestSuite(protattr, .fini = fx_cleanup);

static void u_chattr(struct fx *fx, const char *path, unsigned int add, unsigned int drop)
{
	struct node *node = u_lookup(fx, path);
	unsigned int flags;

	cr_assert_eq(ufs_getflags(fx->u, node, &flags), 0);
	cr_assert_eq(ufs_setflags(fx->u, node, (flags | add) & ~drop), 0, "chattr %s", path);
}

static int u_chmod(struct fx *fx, const char *path, mode_t mode)
{
	struct stat attr = { .st_mode = mode }, out;

	return ufs_setattr(fx->u, u_lookup(fx, path), &attr, UFS_SET_MODE, -1, &out);
}

static int u_touch(struct fx *fx, const char *path)
{
	struct stat attr = { 0 }, out;

	return ufs_setattr(fx->u, u_lookup(fx, path), &attr,
			   UFS_SET_ATIME_NOW | UFS_SET_MTIME_NOW, -1, &out);
}

static int u_truncate(struct fx *fx, const char *path)
{
	struct stat attr = { .st_size = 0 }, out;

	return ufs_setattr(fx->u, u_lookup(fx, path), &attr, UFS_SET_SIZE, -1, &out);
}

static int u_setxattr(struct fx *fx, const char *path)
{
	return ufs_setxattr(fx->u, u_lookup(fx, path), "user.tag", "x", 1, 0);
}

Test(protattr, an_immutable_file_takes_no_change)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/f", "data");
	fx_mount(fx);
	u_chattr(fx, "d/f", FS_IMMUTABLE_FL, 0);
	cr_assert_eq(ufs_may_write(fx->u, u_lookup(fx, "d/f"), false), -EPERM);
	cr_assert_eq(ufs_may_write(fx->u, u_lookup(fx, "d/f"), true), -EPERM);
	cr_assert_eq(u_open_write(fx, "d/f", O_WRONLY | O_APPEND, "+"), -EPERM);
	cr_assert_eq(u_truncate(fx, "d/f"), -EPERM);
	cr_assert_eq(u_chmod(fx, "d/f", 0600), -EPERM);
	cr_assert_eq(u_touch(fx, "d/f"), -EPERM);
	cr_assert_eq(u_setxattr(fx, "d/f"), -EPERM);
	cr_assert_eq(u_unlink(fx, "d/f"), -EPERM);
	cr_assert_eq(u_rename(fx, "d/f", "d/g", 0), -EPERM);
	cr_assert_eq(u_link(fx, "d/f", "d/h"), -EPERM);
	cr_assert_str_eq(u_read(fx, "d/f"), "data");
	cr_assert_str_eq(u_list(fx, "d"), "f");
	u_chattr(fx, "d/f", 0, FS_IMMUTABLE_FL);
	cr_assert_eq(u_open_write(fx, "d/f", O_WRONLY | O_APPEND, "+"), 0);
	cr_assert_str_eq(u_read(fx, "d/f"), "data+");
}

Test(protattr, an_append_only_file_takes_appends_only)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/log", "one");
	fx_mount(fx);
	u_chattr(fx, "log", FS_APPEND_FL, 0);
	cr_assert_eq(u_open_write(fx, "log", O_WRONLY | O_APPEND, "+two"), 0);
	cr_assert_eq(u_open_write(fx, "log", O_WRONLY, "x"), -EPERM);
	cr_assert_eq(ufs_may_write(fx->u, u_lookup(fx, "log"), false), -EPERM);
	cr_assert_eq(u_truncate(fx, "log"), -EPERM);
	cr_assert_eq(u_chmod(fx, "log", 0600), -EPERM);
	cr_assert_eq(u_touch(fx, "log"), 0);
	cr_assert_eq(u_unlink(fx, "log"), -EPERM);
	cr_assert_eq(u_rename(fx, "log", "old", 0), -EPERM);
	cr_assert_str_eq(u_read(fx, "log"), "one+two");
}

/* Its entries stay as they are, but a file in it may still be written:
 * the union's copy-up into it is its own business (hence protattr). */
Test(protattr, an_immutable_directory_takes_no_new_or_removed_entry)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/f", "data");
	put_file(fx, "l0/e/g", "");
	fx_mount(fx);
	u_chattr(fx, "d", FS_IMMUTABLE_FL, 0);
	cr_assert_eq(u_create(fx, "d/new", ""), -EPERM);
	cr_assert_eq(u_mkdir(fx, "d/sub"), -EPERM);
	cr_assert_eq(u_unlink(fx, "d/f"), -EPERM);
	cr_assert_eq(u_rename(fx, "d/f", "e/f", 0), -EPERM);
	cr_assert_eq(u_rename(fx, "e/g", "d/g", 0), -EPERM);
	cr_assert_eq(u_rmdir(fx, "d"), -EPERM);
	cr_assert_eq(u_open_write(fx, "d/f", O_WRONLY | O_APPEND, "+"), 0);
	cr_assert_str_eq(u_read(fx, "d/f"), "data+");
	cr_assert_str_eq(u_list(fx, "d"), "f");
}

/* A directory renamed over an empty one removes it: not an immutable one,
 * nor one in an immutable directory. */
Test(protattr, an_empty_directory_renamed_over_keeps_its_flags)
{
	struct fx *fx = fx_new(1);

	put_dir(fx, "l0/src");
	put_dir(fx, "l0/empty");
	put_dir(fx, "l0/d/sub");
	fx_mount(fx);
	u_chattr(fx, "empty", FS_IMMUTABLE_FL, 0);
	u_chattr(fx, "d", FS_IMMUTABLE_FL, 0);
	cr_assert_eq(u_rename(fx, "src", "empty", 0), -EPERM);
	cr_assert_eq(u_rename(fx, "src", "d/sub", 0), -EPERM);
	cr_assert_str_eq(u_list(fx, ""), "d empty src");
}

Test(protattr, an_append_only_directory_takes_new_entries_and_loses_none)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/f", "");
	fx_mount(fx);
	u_chattr(fx, "d", FS_APPEND_FL, 0);
	cr_assert_eq(u_create(fx, "d/new", ""), 0);
	cr_assert_eq(u_unlink(fx, "d/new"), -EPERM);
	cr_assert_eq(u_unlink(fx, "d/f"), -EPERM);
	cr_assert_eq(u_rename(fx, "d/f", "d/g", 0), -EPERM);
	cr_assert_str_eq(u_list(fx, "d"), "f new");
}

/* The flag of a lower file itself, as a layer may carry it. Expectations,
 * not assertions: the flag must come off again for the fixture to go. */
Test(protattr, a_lower_files_own_append_only_flag_counts_and_a_copy_up_keeps_it)
{
	struct fx *fx = fx_new(1);
	unsigned int flags = 0;
	int fd;

	put_file(fx, "l0/log", "one");
	fx_mount(fx);
	fd = open(fx_path(fx, "l0/log"), O_RDONLY);
	cr_assert(fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0);
	flags |= FS_APPEND_FL;
	cr_assert(ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0, "the test needs CAP_LINUX_IMMUTABLE");
	cr_expect_eq(u_unlink(fx, "log"), -EPERM);
	cr_expect_eq(u_open_write(fx, "log", O_WRONLY | O_APPEND, "+two"), 0);
	cr_expect_str_eq(real_xattr(fx, "upper/log", "trusted.overlay.protattr"), "a");
	cr_expect_eq(u_open_write(fx, "log", O_WRONLY, "x"), -EPERM);
	flags &= ~FS_APPEND_FL;
	cr_assert(ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0);
	close(fd);
	cr_assert_str_eq(u_read(fx, "log"), "one+two");
}

/* A hostile or future layer: a value longer than any flags overlayfs
 * writes is ignored, as overlayfs ignores it, not an error on every change. */
Test(protattr, a_mark_of_no_known_format_is_ignored)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "upper/f", "data");
	put_xattr(fx, "upper/f", "trusted.overlay.protattr", "iaiaiaiaiaiaiaiaiaia");
	fx_mount(fx);
	cr_assert_eq(u_open_write(fx, "f", O_WRONLY | O_APPEND, "+"), 0);
	cr_assert_eq(u_unlink(fx, "f"), 0);
}
