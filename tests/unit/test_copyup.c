/* Copy-up (DESIGN section 4): the first change to a lower entry copies it
 * to the upper layer, parents first, keeping data, holes, mode, owner,
 * times and xattrs; the lower layers are never written. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

TestSuite(copyup, .fini = fx_cleanup);

#define OLD_SEC 1000000000 /* 2001-09-09 */

/* A lower file d/f with everything copy-up must keep. */
static void put_rich_file(struct fx *fx)
{
	put_file(fx, "l0/d/f", "data");
	put_xattr(fx, "l0/d/f", "user.color", "blue");
	put_xattr(fx, "l0/d/f", "trusted.tag", "t");
	cr_assert(lchown(fx_path(fx, "l0/d/f"), 1234, 5678) == 0);
	cr_assert(chmod(fx_path(fx, "l0/d/f"), 04751) == 0);
	put_mtime(fx, "l0/d/f", OLD_SEC, 123456789);
	cr_assert(lchown(fx_path(fx, "l0/d"), 42, 43) == 0);
	cr_assert(chmod(fx_path(fx, "l0/d"), 0751) == 0);
	put_mtime(fx, "l0/d", OLD_SEC - 100, 0);
}

/* The upper copy has the data, mode, owner and xattrs of the lower file. */
static void check_copied(struct fx *fx, const char *data)
{
	struct stat st = real_stat(fx, "upper/d/f");

	cr_assert_str_eq(real_read(fx, "upper/d/f"), data);
	cr_assert_eq(st.st_mode & 07777, 04751, "mode %o", st.st_mode & 07777);
	cr_assert_eq(st.st_uid, 1234);
	cr_assert_eq(st.st_gid, 5678);
	cr_assert_str_eq(real_xattr(fx, "upper/d/f", "user.color"), "blue");
	cr_assert_str_eq(real_xattr(fx, "upper/d/f", "trusted.tag"), "t");
}

static void check_parent_copied(struct fx *fx)
{
	struct stat st = real_stat(fx, "upper/d");

	cr_assert_eq(st.st_mode & 07777, 0751);
	cr_assert_eq(st.st_uid, 42);
	cr_assert_eq(st.st_gid, 43);
	cr_assert_eq(st.st_mtim.tv_sec, OLD_SEC - 100, "parent mtime %ld", st.st_mtim.tv_sec);
}

static void check_mtime_kept(struct fx *fx)
{
	struct stat st = real_stat(fx, "upper/d/f");

	cr_assert_eq(st.st_mtim.tv_sec, OLD_SEC);
	cr_assert_eq(st.st_mtim.tv_nsec, 123456789);
}

static void check_lower_untouched(struct fx *fx)
{
	struct stat st = real_stat(fx, "l0/d/f");

	cr_assert_str_eq(real_read(fx, "l0/d/f"), "data");
	cr_assert_eq(st.st_mode & 07777, 04751);
	cr_assert_eq(st.st_uid, 1234);
	cr_assert_eq(st.st_mtim.tv_sec, OLD_SEC);
	cr_assert_eq(st.st_nlink, 1);
}

Test(copyup, open_for_read_copies_nothing)
{
	struct fx *fx = fx_new(1);

	put_rich_file(fx);
	fx_mount(fx);
	cr_assert_str_eq(u_read(fx, "d/f"), "data");
	u_list(fx, "d");
	u_stat(fx, "d/f");
	cr_assert_str_eq(real_list(fx, "upper"), "");
}

Test(copyup, open_for_write_copies_up_keeping_data_mode_owner_times_xattrs)
{
	struct fx *fx = fx_new(1);

	put_rich_file(fx);
	fx_mount(fx);
	cr_assert_eq(u_open_write(fx, "d/f", O_WRONLY, NULL), 0);
	check_copied(fx, "data");
	check_mtime_kept(fx);
	check_parent_copied(fx);
	check_lower_untouched(fx);
}

Test(copyup, write_after_copy_up_changes_upper_only)
{
	struct fx *fx = fx_new(1);

	put_rich_file(fx);
	fx_mount(fx);
	cr_assert_eq(u_open_write(fx, "d/f", O_WRONLY | O_APPEND, "+more"), 0);
	cr_assert_str_eq(real_read(fx, "upper/d/f"), "data+more");
	cr_assert_str_eq(u_read(fx, "d/f"), "data+more");
	check_lower_untouched(fx);
}

Test(copyup, open_with_o_trunc_copies_up_empty)
{
	struct fx *fx = fx_new(1);

	put_rich_file(fx);
	fx_mount(fx);
	cr_assert_eq(u_open_write(fx, "d/f", O_WRONLY | O_TRUNC, NULL), 0);
	check_copied(fx, "");
	check_lower_untouched(fx);
}

Test(copyup, truncate_copies_up_keeping_the_prefix)
{
	struct fx *fx = fx_new(1);
	struct stat attr = { .st_size = 2 }, out;

	put_rich_file(fx);
	fx_mount(fx);
	cr_assert_eq(ufs_setattr(fx->u, u_lookup(fx, "d/f"), &attr, UFS_SET_SIZE, -1, &out), 0);
	cr_assert_eq(out.st_size, 2);
	check_copied(fx, "da");
	check_lower_untouched(fx);
}

Test(copyup, chmod_copies_up_with_new_mode)
{
	struct fx *fx = fx_new(1);
	struct stat attr = { .st_mode = 0600 }, out;

	put_rich_file(fx);
	fx_mount(fx);
	cr_assert_eq(ufs_setattr(fx->u, u_lookup(fx, "d/f"), &attr, UFS_SET_MODE, -1, &out), 0);
	cr_assert_eq(real_stat(fx, "upper/d/f").st_mode & 07777, 0600);
	cr_assert_eq(out.st_mode & 07777, 0600);
	cr_assert_str_eq(real_read(fx, "upper/d/f"), "data");
	cr_assert_eq(real_stat(fx, "upper/d/f").st_uid, 1234);
	cr_assert_str_eq(real_xattr(fx, "upper/d/f", "user.color"), "blue");
	check_parent_copied(fx);
	check_lower_untouched(fx);
}

Test(copyup, chown_copies_up_with_new_owner)
{
	struct fx *fx = fx_new(1);
	struct stat attr = { .st_uid = 7, .st_gid = 8 }, out;

	put_rich_file(fx);
	fx_mount(fx);
	cr_assert_eq(ufs_setattr(fx->u, u_lookup(fx, "d/f"), &attr, UFS_SET_UID | UFS_SET_GID,
				 -1, &out), 0);
	cr_assert_eq(real_stat(fx, "upper/d/f").st_uid, 7);
	cr_assert_eq(real_stat(fx, "upper/d/f").st_gid, 8);
	cr_assert_str_eq(real_read(fx, "upper/d/f"), "data");
	cr_assert_str_eq(real_xattr(fx, "upper/d/f", "user.color"), "blue");
	check_lower_untouched(fx);
}

Test(copyup, utimens_copies_up_with_new_times)
{
	struct fx *fx = fx_new(1);
	struct stat attr = { 0 }, out;

	put_rich_file(fx);
	attr.st_atim.tv_sec = OLD_SEC + 5;
	attr.st_mtim.tv_sec = OLD_SEC + 7;
	fx_mount(fx);
	cr_assert_eq(ufs_setattr(fx->u, u_lookup(fx, "d/f"), &attr,
				 UFS_SET_ATIME | UFS_SET_MTIME, -1, &out), 0);
	cr_assert_eq(real_stat(fx, "upper/d/f").st_mtim.tv_sec, OLD_SEC + 7);
	cr_assert_eq(real_stat(fx, "upper/d/f").st_atim.tv_sec, OLD_SEC + 5);
	check_copied(fx, "data");
	check_lower_untouched(fx);
}

Test(copyup, setxattr_copies_up_keeping_other_xattrs)
{
	struct fx *fx = fx_new(1);

	put_rich_file(fx);
	fx_mount(fx);
	cr_assert_eq(ufs_setxattr(fx->u, u_lookup(fx, "d/f"), "user.size", "L", 1, 0), 0);
	cr_assert_str_eq(real_xattr(fx, "upper/d/f", "user.size"), "L");
	check_copied(fx, "data");
	check_mtime_kept(fx);
	cr_assert_null(real_xattr(fx, "l0/d/f", "user.size"));
	check_lower_untouched(fx);
}

Test(copyup, link_copies_up_and_shares_the_inode)
{
	struct fx *fx = fx_new(1);

	put_rich_file(fx);
	fx_mount(fx);
	cr_assert_eq(u_link(fx, "d/f", "d/g"), 0);
	check_copied(fx, "data");
	cr_assert_eq(real_stat(fx, "upper/d/g").st_ino, real_stat(fx, "upper/d/f").st_ino);
	cr_assert_eq(real_stat(fx, "upper/d/f").st_nlink, 2);
	cr_assert_str_eq(u_read(fx, "d/g"), "data");
	cr_assert_eq(u_stat(fx, "d/g").st_ino, u_stat(fx, "d/f").st_ino);
	cr_assert_eq(u_stat(fx, "d/f").st_nlink, 2);
	check_lower_untouched(fx);
}

Test(copyup, rename_copies_up_keeping_attributes)
{
	struct fx *fx = fx_new(1);

	put_rich_file(fx);
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "d/f", "d/g", 0), 0);
	cr_assert_str_eq(real_read(fx, "upper/d/g"), "data");
	cr_assert_eq(real_stat(fx, "upper/d/g").st_mode & 07777, 04751);
	cr_assert_eq(real_stat(fx, "upper/d/g").st_uid, 1234);
	cr_assert_eq(real_stat(fx, "upper/d/g").st_mtim.tv_sec, OLD_SEC);
	cr_assert_str_eq(real_xattr(fx, "upper/d/g", "user.color"), "blue");
	check_lower_untouched(fx);
}

Test(copyup, copy_up_creates_parents_first_with_their_attributes)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a/b/c/f", "deep");
	put_file(fx, "l0/a/b/sibling", "");
	cr_assert(chmod(fx_path(fx, "l0/a/b"), 0700) == 0);
	cr_assert(lchown(fx_path(fx, "l0/a/b"), 5, 6) == 0);
	put_xattr(fx, "l0/a/b", "user.dir", "yes");
	put_mtime(fx, "l0/a/b", OLD_SEC, 0);
	put_mtime(fx, "l0/a", OLD_SEC + 1, 0);
	fx_mount(fx);
	cr_assert_eq(u_open_write(fx, "a/b/c/f", O_RDWR, NULL), 0);
	cr_assert_str_eq(real_read(fx, "upper/a/b/c/f"), "deep");
	cr_assert_str_eq(real_list(fx, "upper/a/b"), "c");
	cr_assert_eq(real_stat(fx, "upper/a/b").st_mode & 07777, 0700);
	cr_assert_eq(real_stat(fx, "upper/a/b").st_uid, 5);
	cr_assert_eq(real_stat(fx, "upper/a/b").st_mtim.tv_sec, OLD_SEC);
	cr_assert_eq(real_stat(fx, "upper/a").st_mtim.tv_sec, OLD_SEC + 1);
	cr_assert_str_eq(real_xattr(fx, "upper/a/b", "user.dir"), "yes");
	cr_assert_str_eq(u_list(fx, "a/b"), "c sibling");
}

Test(copyup, copy_up_from_a_middle_layer_takes_that_layers_file)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/f", "base");
	put_file(fx, "l1/f", "app");
	fx_mount(fx);
	cr_assert_eq(u_open_write(fx, "f", O_WRONLY | O_APPEND, "!"), 0);
	cr_assert_str_eq(real_read(fx, "upper/f"), "app!");
	cr_assert_str_eq(real_read(fx, "l1/f"), "app");
	cr_assert_str_eq(real_read(fx, "l0/f"), "base");
}

/* DESIGN section 7: files over 4 GiB, sparse. */
Test(copyup, sparse_file_over_4_gib_stays_sparse)
{
	struct fx *fx = fx_new(1);
	off_t size = 5L << 30;
	struct stat st;
	char buf[4];
	int fd;

	put_file(fx, "l0/sparse", "");
	fd = open(fx_path(fx, "l0/sparse"), O_WRONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(pwrite(fd, "head", 4, 0), 4);
	cr_assert_eq(pwrite(fd, "tail", 4, size - 4), 4);
	close(fd);
	fx_mount(fx);
	cr_assert_eq(u_open_write(fx, "sparse", O_WRONLY, NULL), 0);
	st = real_stat(fx, "upper/sparse");
	cr_assert_eq(st.st_size, size);
	cr_assert_lt(st.st_blocks * 512, 1L << 20, "%ld blocks for a 5 GiB sparse file",
		     (long)st.st_blocks);
	fd = open(fx_path(fx, "upper/sparse"), O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, buf, 4, size - 4), 4);
	cr_assert(memcmp(buf, "tail", 4) == 0);
	cr_assert_eq(pread(fd, buf, 4, 0), 4);
	cr_assert(memcmp(buf, "head", 4) == 0);
	cr_assert_eq(pread(fd, buf, 4, 4L << 30), 4);
	cr_assert(memcmp(buf, "\0\0\0\0", 4) == 0);
	close(fd);
}

Test(copyup, symlink_is_copied_up_as_a_symlink)
{
	struct fx *fx = fx_new(1);
	struct stat attr = { .st_uid = 9, .st_gid = 9 }, out;
	char target[64];
	ssize_t len;

	put_dir(fx, "l0");
	cr_assert(symlink("some/where", fx_path(fx, "l0/ln")) == 0);
	fx_mount(fx);
	cr_assert_eq(ufs_setattr(fx->u, u_lookup(fx, "ln"), &attr, UFS_SET_UID | UFS_SET_GID,
				 -1, &out), 0);
	len = readlink(fx_path(fx, "upper/ln"), target, sizeof(target) - 1);
	cr_assert_eq(len, 10);
	target[len] = '\0';
	cr_assert_str_eq(target, "some/where");
	cr_assert_eq(real_stat(fx, "upper/ln").st_uid, 9);
}

Test(copyup, copy_up_leaves_no_scratch_in_work)
{
	struct fx *fx = fx_new(1);

	put_rich_file(fx);
	fx_mount(fx);
	cr_assert_eq(u_open_write(fx, "d/f", O_WRONLY, NULL), 0);
	cr_assert_str_eq(real_list(fx, "work/work"), "");
}

Test(copyup, mount_cleans_scratch_left_in_work)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "work/work/#uf0", "half a file");
	put_file(fx, "work/work/dir/x", "");
	put_file(fx, "work/work/#whiteout", "not a whiteout");
	fx_mount(fx);
	cr_assert_str_eq(real_list(fx, "work/work"), "");
}

Test(copyup, private_xattrs_are_not_copied_up)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/d/x", "");
	put_file(fx, "l1/d/f", "data");
	put_xattr(fx, "l1/d", "trusted.overlay.opaque", "y");
	fx_mount(fx);
	cr_assert_eq(u_open_write(fx, "d/f", O_WRONLY, NULL), 0);
	cr_assert_null(real_xattr(fx, "upper/d", "trusted.overlay.opaque"));
	cr_assert_str_eq(u_list(fx, "d"), "f");
}

Test(copyup, lower_layers_are_never_written)
{
	struct fx *fx = fx_new(2);
	struct stat attr = { .st_mode = 0600, .st_size = 1 }, out;
	char *l0, *l1;

	put_file(fx, "l0/f", "f");
	put_file(fx, "l0/g", "g");
	put_file(fx, "l0/h", "h");
	put_file(fx, "l0/d/x", "x");
	put_file(fx, "l1/d/y", "y");
	put_file(fx, "l1/e/z", "z");
	put_file(fx, "l1/t", "truncate me");
	put_dir(fx, "l0/empty");
	put_xattr(fx, "l0/f", "user.a", "1");
	l0 = real_snapshot(fx, "l0");
	l1 = real_snapshot(fx, "l1");
	fx_mount(fx);
	cr_assert_eq(u_open_write(fx, "f", O_WRONLY | O_APPEND, "+"), 0);
	cr_assert_eq(ufs_setattr(fx->u, u_lookup(fx, "g"), &attr, UFS_SET_MODE, -1, &out), 0);
	cr_assert_eq(ufs_setattr(fx->u, u_lookup(fx, "t"), &attr, UFS_SET_SIZE, -1, &out), 0);
	cr_assert_eq(ufs_setxattr(fx->u, u_lookup(fx, "h"), "user.b", "2", 1, 0), 0);
	cr_assert_eq(ufs_removexattr(fx->u, u_lookup(fx, "f"), "user.a"), 0);
	cr_assert_eq(u_link(fx, "h", "h2"), 0);
	cr_assert_eq(u_rename(fx, "d", "d2", 0), 0);
	cr_assert_eq(u_rename(fx, "e/z", "z", 0), 0);
	cr_assert_eq(u_rmdir(fx, "e"), 0);
	cr_assert_eq(u_rmdir(fx, "empty"), 0);
	cr_assert_eq(u_rename(fx, "g", "z", RENAME_EXCHANGE), 0);
	cr_assert_eq(u_unlink(fx, "h"), 0);
	cr_assert_eq(u_create(fx, "d2/new", "n"), 0);
	cr_assert_eq(u_mkdir(fx, "e"), 0);
	cr_assert_str_eq(real_snapshot(fx, "l0"), l0);
	cr_assert_str_eq(real_snapshot(fx, "l1"), l1);
}

Test(copyup, link_then_write_through_one_name_shows_in_the_other)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a", "old");
	fx_mount(fx);
	cr_assert_eq(u_link(fx, "a", "b"), 0);
	cr_assert_eq(u_open_write(fx, "b", O_WRONLY | O_TRUNC, "new"), 0);
	cr_assert_str_eq(u_read(fx, "a"), "new");
	cr_assert_eq(u_unlink(fx, "a"), 0);
	cr_assert_str_eq(u_read(fx, "b"), "new");
	cr_assert(real_is_whiteout(fx, "upper/a"));
}

/* The union keeps no fd per entry: what stays open after any number of
 * operations over any number of directories is bounded by the directory
 * fd cache. */
Test(copyup, open_file_descriptors_stay_bounded)
{
	struct fx *fx = fx_new(2);
	struct stat attr = { .st_mode = 0600, .st_size = 1 }, out;
	char list[64], path[64];
	int before, i;

	for (i = 0; i < UFS_DIRCACHE_CAPACITY + 100; i++) {
		snprintf(path, sizeof(path), "l1/many/d%d/f", i);
		put_file(fx, path, "f");
	}
	put_file(fx, "l0/d/x", "x");
	put_file(fx, "l1/d/y", "y");
	put_file(fx, "l0/f", "f");
	put_file(fx, "l0/g", "g");
	put_xattr(fx, "l0/g", "user.a", "1");
	fx_mount(fx);
	before = fx_count_fds();
	u_list(fx, "d");
	u_read(fx, "d/x");
	cr_assert_eq(u_open_write(fx, "f", O_WRONLY, "F"), 0);
	cr_assert_eq(ufs_setattr(fx->u, u_lookup(fx, "g"), &attr, UFS_SET_MODE | UFS_SET_SIZE,
				 -1, &out), 0);
	cr_assert_gt(ufs_listxattr(fx->u, u_lookup(fx, "g"), list, sizeof(list), true), 0);
	cr_assert_eq(ufs_setxattr(fx->u, u_lookup(fx, "g"), "user.b", "2", 1, 0), 0);
	cr_assert_eq(u_create(fx, "d/z", "z"), 0);
	cr_assert_eq(u_mkdir(fx, "n"), 0);
	cr_assert_eq(u_rename(fx, "d", "e", 0), 0);
	cr_assert_eq(u_rename(fx, "f", "g", RENAME_EXCHANGE), 0);
	cr_assert_eq(u_unlink(fx, "e/x"), 0);
	cr_assert_eq(u_rmdir(fx, "n"), 0);
	cr_assert_eq(u_lookup_err(fx, "missing"), -ENOENT);
	cr_assert_eq(u_rmdir(fx, "e"), -ENOTEMPTY);
	for (i = 0; i < UFS_DIRCACHE_CAPACITY + 100; i++) {
		snprintf(path, sizeof(path), "many/d%d/f", i);
		cr_assert_eq(u_open_write(fx, path, O_WRONLY | O_APPEND, "+"), 0);
	}
	/* e/x was removed while looked up (as if the kernel held it): its
	 * file stays open for whoever may have it open (nodefile.c). */
	cr_assert_leq(fx_count_fds(), before + UFS_DIRCACHE_CAPACITY + 1);
}

Test(copyup, init_layer_is_copied_up_like_a_lower_and_never_written)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/etc/passwd", "image");
	put_file(fx, "init/etc/hosts", "init");
	fx->cfg.init = fx_path(fx, "init");
	fx_mount(fx);
	cr_assert_eq(u_open_write(fx, "etc/hosts", O_WRONLY | O_APPEND, "+mine"), 0);
	cr_assert_eq(u_unlink(fx, "etc/passwd"), 0);
	cr_assert_str_eq(real_read(fx, "init/etc/hosts"), "init");
	cr_assert_str_eq(real_read(fx, "upper/etc/hosts"), "init+mine");
	cr_assert(real_is_whiteout(fx, "upper/etc/passwd"));
	cr_assert_str_eq(u_list(fx, "etc"), "hosts");
}
