/* Namespace changes (DESIGN section 4): mkdir over whiteouts, rmdir of
 * merged directories, and files that live on after unlink while open. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

TestSuite(dir, .fini = fx_cleanup);

Test(dir, fresh_mkdir_is_not_opaque)
{
	struct fx *fx = fx_new(1);

	put_dir(fx, "l0/d");
	fx_mount(fx);
	cr_assert_eq(u_mkdir(fx, "n"), 0);
	cr_assert_eq(u_mkdir(fx, "d/n"), 0);
	cr_assert(S_ISDIR(real_stat(fx, "upper/n").st_mode));
	cr_assert_not(real_is_opaque(fx, "upper/n"));
	cr_assert_not(real_is_opaque(fx, "upper/d/n"));
	cr_assert_not(real_is_opaque(fx, "upper/d"));
	cr_assert_str_eq(u_list(fx, ""), "d n");
}

Test(dir, mkdir_of_existing_name_is_eexist)
{
	struct fx *fx = fx_new(1);

	put_dir(fx, "l0/d");
	put_file(fx, "l0/f", "");
	fx_mount(fx);
	cr_assert_eq(u_mkdir(fx, "d"), -EEXIST);
	cr_assert_eq(u_mkdir(fx, "f"), -EEXIST);
	cr_assert_eq(u_create(fx, "f", ""), -EEXIST);
}

Test(dir, mkdir_over_whiteout_is_opaque)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/old", "");
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "d/old"), 0);
	cr_assert_eq(u_rmdir(fx, "d"), 0);
	cr_assert_eq(u_mkdir(fx, "d"), 0);
	cr_assert(S_ISDIR(real_stat(fx, "upper/d").st_mode));
	cr_assert(real_is_opaque(fx, "upper/d"));
	cr_assert_str_eq(u_list(fx, "d"), "");
	cr_assert_eq(u_lookup_err(fx, "d/old"), -ENOENT);
}

Test(dir, mkdir_over_whiteout_found_at_mount_is_opaque)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/old", "");
	put_whiteout(fx, "upper/d");
	fx_mount(fx);
	cr_assert_eq(u_mkdir(fx, "d"), 0);
	cr_assert_eq(real_xattr(fx, "upper/d", "trusted.overlay.opaque")[0], 'y');
	cr_assert_str_eq(u_list(fx, "d"), "");
}

Test(dir, aufs_format_mkdir_over_whiteout_gets_opq_marker)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d", "was a file");
	fx->cfg.whiteout_format = WH_FORMAT_AUFS;
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "d"), 0);
	cr_assert_eq(u_mkdir(fx, "d"), 0);
	cr_assert_str_eq(real_list(fx, "upper"), "d");
	cr_assert(real_exists(fx, "upper/d/.wh..wh..opq"));
	cr_assert_str_eq(u_list(fx, "d"), "");
}

Test(dir, rmdir_of_merged_non_empty_dir_is_enotempty)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/x", "");
	put_dir(fx, "upper/d");
	fx_mount(fx);
	cr_assert_eq(u_rmdir(fx, "d"), -ENOTEMPTY);
	cr_assert_str_eq(u_list(fx, "d"), "x");
	cr_assert(S_ISDIR(real_stat(fx, "upper/d").st_mode));
}

Test(dir, rmdir_of_lower_non_empty_dir_is_enotempty)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/d/x", "");
	put_dir(fx, "l1/d");
	fx_mount(fx);
	cr_assert_eq(u_rmdir(fx, "d"), -ENOTEMPTY);
	cr_assert_str_eq(real_list(fx, "upper"), "");
}

Test(dir, rmdir_of_merged_empty_dir_leaves_whiteout)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/x", "");
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "d/x"), 0);
	cr_assert_str_eq(u_list(fx, "d"), "");
	cr_assert_eq(u_rmdir(fx, "d"), 0);
	cr_assert(real_is_whiteout(fx, "upper/d"));
	cr_assert_eq(u_lookup_err(fx, "d"), -ENOENT);
	cr_assert_str_eq(u_list(fx, ""), "");
	cr_assert_str_eq(work_scratch(fx), "");
}

Test(dir, whiteouts_are_links_to_one_device_cleaned_by_the_next_mount)
{
	struct fx *fx = fx_new(1);
	struct stat a, b;

	put_file(fx, "l0/a", "");
	put_file(fx, "l0/d/b", "");
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "a"), 0);
	cr_assert_eq(u_unlink(fx, "d/b"), 0);
	cr_assert(real_is_whiteout(fx, "upper/a"));
	cr_assert(real_is_whiteout(fx, "upper/d/b"));
	a = real_stat(fx, "upper/a");
	b = real_stat(fx, "upper/d/b");
	cr_assert_eq(a.st_ino, b.st_ino);
	cr_assert_eq(a.st_nlink, 3);
	cr_assert_str_eq(work_scratch(fx), "");
	fx_remount(fx);
	cr_assert_str_eq(real_list(fx, "work/work"), "");
	cr_assert(real_is_whiteout(fx, "upper/a"));
	cr_assert_eq(u_lookup_err(fx, "a"), -ENOENT);
	cr_assert_eq(u_lookup_err(fx, "d/b"), -ENOENT);
}

Test(dir, rmdir_of_lower_empty_dir_leaves_whiteout)
{
	struct fx *fx = fx_new(1);

	put_dir(fx, "l0/a/d");
	fx_mount(fx);
	cr_assert_eq(u_rmdir(fx, "a/d"), 0);
	cr_assert(real_is_whiteout(fx, "upper/a/d"));
	cr_assert(S_ISDIR(real_stat(fx, "l0/a/d").st_mode));
}

Test(dir, rmdir_of_upper_only_dir_leaves_nothing)
{
	struct fx *fx = fx_new(1);

	fx_mount(fx);
	cr_assert_eq(u_mkdir(fx, "n"), 0);
	cr_assert_eq(u_rmdir(fx, "n"), 0);
	cr_assert_str_eq(real_list(fx, "upper"), "");
}

Test(dir, aufs_format_rmdir_of_merged_empty_dir_writes_wh_file)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/x", "");
	fx->cfg.whiteout_format = WH_FORMAT_AUFS;
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "d/x"), 0);
	cr_assert_eq(u_rmdir(fx, "d"), 0);
	cr_assert_str_eq(real_list(fx, "upper"), ".wh.d");
	cr_assert_eq(u_lookup_err(fx, "d"), -ENOENT);
}

Test(dir, rmdir_on_a_file_is_enotdir_and_unlink_on_a_dir_is_eisdir)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/f", "");
	put_dir(fx, "l0/d");
	fx_mount(fx);
	cr_assert_eq(u_rmdir(fx, "f"), -ENOTDIR);
	cr_assert_eq(u_unlink(fx, "d"), -EISDIR);
	cr_assert_eq(u_unlink(fx, "missing"), -ENOENT);
}

Test(dir, unlinked_open_lower_file_still_reads_and_has_no_links)
{
	struct fx *fx = fx_new(1);
	struct handle *h;
	struct node *f;
	struct stat st;
	char buf[16] = { 0 };

	put_file(fx, "l0/f", "still here");
	fx_mount(fx);
	f = u_lookup(fx, "f");
	cr_assert_eq(ufs_open(fx->u, f, O_RDONLY, &h), 0);
	cr_assert_eq(u_unlink(fx, "f"), 0);
	cr_assert_eq(pread(h->fd, buf, sizeof(buf) - 1, 0), 10);
	cr_assert_str_eq(buf, "still here");
	cr_assert_eq(ufs_getattr(fx->u, f, &st), 0);
	cr_assert_eq(st.st_nlink, 0);
	cr_assert_eq(st.st_size, 10);
	cr_assert_eq(u_lookup_err(fx, "f"), -ENOENT);
	ufs_release(fx->u, h);
}

/* A working directory or a descriptor may outlive its directory: as on a
 * local filesystem, it keeps the attributes it had, with no links, and
 * takes a chmod. */
Test(dir, a_removed_directory_still_held_keeps_its_attributes)
{
	struct fx *fx = fx_new(1);
	struct stat st, set = { .st_mode = 0700 };
	struct node *lower, *upper, *replaced;

	put_dir(fx, "l0/low");
	fx_mount(fx);
	cr_assert_eq(u_mkdir(fx, "up"), 0);
	cr_assert_eq(u_mkdir(fx, "replaced"), 0);
	cr_assert_eq(u_mkdir(fx, "src"), 0);
	lower = u_lookup(fx, "low");
	upper = u_lookup(fx, "up");
	replaced = u_lookup(fx, "replaced");
	cr_assert_eq(ufs_setattr(fx->u, upper, &(struct stat){ .st_mode = 0751 }, UFS_SET_MODE, -1,
				 &st), 0);
	cr_assert_eq(u_rmdir(fx, "low"), 0);
	cr_assert_eq(u_rmdir(fx, "up"), 0);
	cr_assert_eq(u_rename(fx, "src", "replaced", 0), 0);
	cr_assert_eq(ufs_getattr(fx->u, lower, &st), 0, "a lower directory removed");
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_nlink, 0);
	cr_assert_eq(ufs_getattr(fx->u, upper, &st), 0, "an upper directory removed");
	cr_assert_eq(st.st_mode, S_IFDIR | 0751);
	cr_assert_eq(st.st_nlink, 0);
	cr_assert_eq(ufs_getattr(fx->u, replaced, &st), 0, "a directory a rename replaced");
	cr_assert_eq(st.st_nlink, 0);
	cr_assert_eq(ufs_setattr(fx->u, upper, &set, UFS_SET_MODE, -1, &st), 0);
	cr_assert_eq(st.st_mode, S_IFDIR | 0700);
	cr_assert_eq(ufs_getattr(fx->u, upper, &st), 0);
	cr_assert_eq(st.st_mode, S_IFDIR | 0700, "the chmod stays");
	cr_assert_eq(u_lookup_err(fx, "up"), -ENOENT);
}

Test(dir, unlinked_open_upper_file_still_reads_and_writes)
{
	struct fx *fx = fx_new(1);
	struct handle *h;
	struct node *f;
	struct stat st;
	char buf[16] = { 0 };

	fx_mount(fx);
	cr_assert_eq(u_create(fx, "f", "abc"), 0);
	f = u_lookup(fx, "f");
	cr_assert_eq(ufs_open(fx->u, f, O_RDWR, &h), 0);
	cr_assert_eq(u_unlink(fx, "f"), 0);
	cr_assert_not(real_exists(fx, "upper/f"));
	cr_assert_eq(pwrite(h->fd, "def", 3, 3), 3);
	cr_assert_eq(pread(h->fd, buf, sizeof(buf) - 1, 0), 6);
	cr_assert_str_eq(buf, "abcdef");
	cr_assert_eq(ufs_getattr(fx->u, f, &st), 0);
	cr_assert_eq(st.st_nlink, 0);
	cr_assert_eq(st.st_size, 6);
	ufs_release(fx->u, h);
}

Test(dir, create_in_lower_only_dir_copies_up_the_dir_only)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/sub/x", "");
	put_file(fx, "l0/d/y", "");
	fx_mount(fx);
	cr_assert_eq(u_create(fx, "d/sub/new", "n"), 0);
	cr_assert_str_eq(real_list(fx, "upper/d"), "sub");
	cr_assert_str_eq(real_list(fx, "upper/d/sub"), "new");
	cr_assert_str_eq(u_list(fx, "d/sub"), "new x");
	cr_assert_str_eq(u_list(fx, "d"), "sub y");
}

Test(dir, name_longer_than_255_cannot_be_created)
{
	struct fx *fx = fx_new(1);
	char name[300];

	memset(name, 'n', 256);
	name[256] = '\0';
	fx_mount(fx);
	cr_assert_eq(u_mkdir(fx, name), -ENAMETOOLONG);
	cr_assert_eq(u_create(fx, name, ""), -ENAMETOOLONG);
}

Test(dir, unlinked_open_file_can_still_be_truncated_through_its_fd)
{
	struct fx *fx = fx_new(1);
	struct stat attr = { .st_size = 2 }, out;
	struct handle *h;
	struct node *f;
	int err;

	fx_mount(fx);
	cr_assert_eq(u_create(fx, "f", "abcdef"), 0);
	f = u_lookup(fx, "f");
	cr_assert_eq(ufs_open(fx->u, f, O_RDWR, &h), 0);
	cr_assert_eq(u_unlink(fx, "f"), 0);
	err = ufs_setattr(fx->u, f, &attr, UFS_SET_SIZE, h->fd, &out);
	cr_expect_eq(err, 0, "ftruncate of an open unlinked file: %s", strerror(-err));
	cr_expect_eq(lseek(h->fd, 0, SEEK_END), 2);
	ufs_release(fx->u, h);
}

Test(dir, changes_survive_a_remount)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/gone", "");
	put_file(fx, "l0/d/x", "");
	put_file(fx, "l0/e/y", "");
	put_file(fx, "l0/keep", "");
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "gone"), 0);
	cr_assert_eq(u_unlink(fx, "d/x"), 0);
	cr_assert_eq(u_rmdir(fx, "d"), 0);
	cr_assert_eq(u_unlink(fx, "e/y"), 0);
	cr_assert_eq(u_rmdir(fx, "e"), 0);
	cr_assert_eq(u_mkdir(fx, "e"), 0);
	cr_assert_eq(u_create(fx, "e/new", ""), 0);
	fx_remount(fx);
	cr_assert_str_eq(u_list(fx, ""), "e keep");
	cr_assert_str_eq(u_list(fx, "e"), "new");
}

Test(dir, chmod_of_lower_dir_copies_only_the_dir_and_keeps_it_merged)
{
	struct fx *fx = fx_new(2);
	struct stat attr = { .st_mode = 0700 }, out;

	put_file(fx, "l0/d/a", "");
	put_file(fx, "l1/d/b", "");
	fx_mount(fx);
	cr_assert_eq(ufs_setattr(fx->u, u_lookup(fx, "d"), &attr, UFS_SET_MODE, -1, &out), 0);
	cr_assert_eq(real_stat(fx, "upper/d").st_mode & 07777, 0700);
	cr_assert_str_eq(real_list(fx, "upper/d"), "");
	cr_assert_not(real_is_opaque(fx, "upper/d"));
	cr_assert_str_eq(u_list(fx, "d"), "a b");
	fx_remount(fx);
	cr_assert_str_eq(u_list(fx, "d"), "a b");
	cr_assert_eq(u_stat(fx, "d").st_mode & 07777, 0700);
}

Test(dir, new_entries_belong_to_the_caller)
{
	struct fx *fx = fx_new(1);
	const struct ufs_cred user = { .uid = 1000, .gid = 1001 };
	struct stat st;
	struct node *n;

	fx_mount(fx);
	cr_assert_eq(ufs_mkdir(fx->u, fx->u->root, "d", 0750, &user, &n, &st), 0);
	fx_keep(fx, n);
	cr_assert_eq(ufs_symlink(fx->u, fx->u->root, "ln", "d", &user, &n, &st), 0);
	fx_keep(fx, n);
	cr_assert_eq(real_stat(fx, "upper/d").st_uid, 1000);
	cr_assert_eq(real_stat(fx, "upper/d").st_gid, 1001);
	cr_assert_eq(real_stat(fx, "upper/d").st_mode & 07777, 0750);
	cr_assert_eq(real_stat(fx, "upper/ln").st_uid, 1000);
}

Test(dir, new_entries_in_a_setgid_lower_dir_take_its_group)
{
	struct fx *fx = fx_new(1);
	const struct ufs_cred user = { .uid = 1000, .gid = 1001 };
	struct stat st;
	struct node *n;

	put_dir(fx, "l0/shared");
	cr_assert(chown(fx_path(fx, "l0/shared"), 0, 50) == 0);
	cr_assert(chmod(fx_path(fx, "l0/shared"), 02775) == 0);
	fx_mount(fx);
	cr_assert_eq(ufs_mkdir(fx->u, u_lookup(fx, "shared"), "sub", 0755, &user, &n, &st), 0);
	fx_keep(fx, n);
	cr_assert_eq(real_stat(fx, "upper/shared").st_mode & 07777, 02775);
	cr_assert_eq(real_stat(fx, "upper/shared/sub").st_gid, 50);
	cr_assert(real_stat(fx, "upper/shared/sub").st_mode & S_ISGID);
}

Test(dir, symlink_and_fifo_can_be_created_over_whiteouts)
{
	struct fx *fx = fx_new(1);
	struct stat st;
	struct node *n;
	char *target = NULL;

	put_file(fx, "l0/ln", "was a file");
	put_file(fx, "l0/fifo", "was a file");
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "ln"), 0);
	cr_assert_eq(u_unlink(fx, "fifo"), 0);
	cr_assert_eq(ufs_symlink(fx->u, fx->u->root, "ln", "there", &fx_root, &n, &st), 0);
	fx_keep(fx, n);
	cr_assert_eq(ufs_mknod(fx->u, fx->u->root, "fifo", S_IFIFO | 0600, 0, &fx_root, &n, &st),
		     0);
	fx_keep(fx, n);
	cr_assert(S_ISLNK(real_stat(fx, "upper/ln").st_mode));
	cr_assert(S_ISFIFO(real_stat(fx, "upper/fifo").st_mode));
	cr_assert_eq(ufs_readlink(fx->u, u_lookup(fx, "ln"), &target), 0);
	cr_assert_str_eq(target, "there");
	free(target);
	cr_assert_str_eq(real_list(fx, "upper"), "fifo ln");
}

Test(dir, unlinked_open_file_keeps_its_xattrs)
{
	struct fx *fx = fx_new(1);
	char value[8] = { 0 };
	struct handle *h;
	struct node *f;
	ssize_t len;

	put_file(fx, "l0/f", "data");
	put_xattr(fx, "l0/f", "user.a", "1");
	fx_mount(fx);
	f = u_lookup(fx, "f");
	cr_assert_eq(ufs_open(fx->u, f, O_RDONLY, &h), 0);
	cr_assert_eq(u_unlink(fx, "f"), 0);
	len = ufs_getxattr(fx->u, f, "user.a", value, sizeof(value));
	cr_expect_eq(len, 1, "fgetxattr of an open unlinked file: %zd", len);
	ufs_release(fx->u, h);
}

/* A default ACL of version 2: user_obj rwx, group_obj rwx, mask rwx, other r-x. */
static const unsigned char group_rwx_default_acl[] = {
	2, 0, 0, 0,
	0x01, 0, 7, 0, 0xff, 0xff, 0xff, 0xff,
	0x04, 0, 7, 0, 0xff, 0xff, 0xff, 0xff,
	0x10, 0, 7, 0, 0xff, 0xff, 0xff, 0xff,
	0x20, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,
};

static void put_default_acl(struct fx *fx, const char *rel)
{
	if (setxattr(fx_path(fx, rel), "system.posix_acl_default", group_rwx_default_acl,
		     sizeof(group_rwx_default_acl), 0) < 0)
		cr_skip_test("no POSIX ACLs here: %s", strerror(errno));
}

static mode_t create_with_umask(struct fx *fx, const char *dir, const char *name, mode_t mode,
				mode_t umask)
{
	const struct ufs_cred cred = { .uid = 0, .gid = 0, .umask = umask };
	struct stat st;
	struct node *n;

	cr_assert_eq(ufs_mknod(fx->u, u_lookup(fx, dir), name, S_IFREG | mode, 0, &cred, &n, &st),
		     0);
	fx_keep(fx, n);
	return st.st_mode & 07777;
}

Test(dir, the_callers_umask_applies_where_no_default_acl_is)
{
	struct fx *fx = fx_new(1);
	const struct ufs_cred cred = { .uid = 0, .gid = 0, .umask = 027 };
	struct stat st;
	struct node *n;

	put_dir(fx, "l0/d");
	fx_mount(fx);
	cr_assert_eq(create_with_umask(fx, "d", "f", 0666, 027), 0640);
	cr_assert_eq(ufs_mkdir(fx->u, fx->u->root, "sub", 0777, &cred, &n, &st), 0);
	fx_keep(fx, n);
	cr_assert_eq(real_stat(fx, "upper/sub").st_mode & 07777, 0750);
}

/* POSIX: a default ACL replaces the umask. The group gets what the ACL
 * and the mode asked for allow (rw-), not what a umask of 077 would leave. */
Test(dir, a_default_acl_replaces_the_umask)
{
	struct fx *fx = fx_new(1);

	put_dir(fx, "l0/d");
	put_default_acl(fx, "l0/d");
	put_file(fx, "l0/d/gone", "old");
	fx_mount(fx);
	cr_assert_eq(create_with_umask(fx, "d", "f", 0666, 077), 0664);
	cr_assert_eq(real_stat(fx, "upper/d/f").st_mode & 07777, 0664);
	/* Made away from the directory, then swapped in over the whiteout. */
	cr_assert_eq(ufs_unlink(fx->u, u_lookup(fx, "d"), "gone"), 0);
	cr_assert_eq(create_with_umask(fx, "d", "gone", 0666, 077), 0664);
	cr_assert_eq(real_stat(fx, "upper/d/gone").st_mode & 07777, 0664);
	cr_assert_str_eq(work_scratch(fx), "");
}

/* What a directory's ACL was is remembered: a change through the mount must
 * be seen by the next create. */
Test(dir, a_default_acl_set_through_the_mount_applies_to_the_next_entry)
{
	struct fx *fx = fx_new(1);

	put_dir(fx, "l0/d");
	fx_mount(fx);
	cr_assert_eq(create_with_umask(fx, "d", "before", 0666, 077), 0600);
	if (ufs_setxattr(fx->u, u_lookup(fx, "d"), "system.posix_acl_default",
			 group_rwx_default_acl, sizeof(group_rwx_default_acl), 0) != 0)
		cr_skip_test("no POSIX ACLs here");
	cr_assert_eq(create_with_umask(fx, "d", "after", 0666, 077), 0664);
	cr_assert_eq(ufs_removexattr(fx->u, u_lookup(fx, "d"), "system.posix_acl_default"), 0);
	cr_assert_eq(create_with_umask(fx, "d", "again", 0666, 077), 0600);
}
