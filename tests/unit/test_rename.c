/* Rename (DESIGN section 4): files are copied up and moved with a whiteout
 * left where the old name still exists below; directories with lower
 * content move too, as opaque upper directories; NOREPLACE and EXCHANGE. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

TestSuite(rename, .fini = fx_cleanup);

Test(rename, lower_file_moves_and_leaves_whiteout)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a", "data");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "a", "b", 0), 0);
	cr_assert_str_eq(u_read(fx, "b"), "data");
	cr_assert_eq(u_lookup_err(fx, "a"), -ENOENT);
	cr_assert_str_eq(real_read(fx, "upper/b"), "data");
	cr_assert(real_is_whiteout(fx, "upper/a"));
	cr_assert_str_eq(real_read(fx, "l0/a"), "data");
	cr_assert_str_eq(u_list(fx, ""), "b");
}

Test(rename, upper_only_file_moves_without_whiteout)
{
	struct fx *fx = fx_new(1);

	fx_mount(fx);
	cr_assert_eq(u_create(fx, "a", "mine"), 0);
	cr_assert_eq(u_rename(fx, "a", "b", 0), 0);
	cr_assert_str_eq(real_list(fx, "upper"), "b");
	cr_assert_str_eq(u_read(fx, "b"), "mine");
}

Test(rename, file_over_lower_file_replaces_it)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a", "new");
	put_file(fx, "l0/b", "old");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "a", "b", 0), 0);
	cr_assert_str_eq(u_read(fx, "b"), "new");
	cr_assert_eq(u_lookup_err(fx, "a"), -ENOENT);
	cr_assert(real_is_whiteout(fx, "upper/a"));
	cr_assert_str_eq(real_read(fx, "l0/b"), "old");
	/* b still exists below: removing it now needs a whiteout. */
	cr_assert_eq(u_unlink(fx, "b"), 0);
	cr_assert(real_is_whiteout(fx, "upper/b"));
	cr_assert_eq(u_lookup_err(fx, "b"), -ENOENT);
}

Test(rename, file_onto_whited_out_name_shows_only_the_moved_file)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a", "a");
	put_file(fx, "l0/b", "b");
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "b"), 0);
	cr_assert_eq(u_rename(fx, "a", "b", 0), 0);
	cr_assert_str_eq(u_read(fx, "b"), "a");
	cr_assert_eq(u_lookup_err(fx, "a"), -ENOENT);
	cr_assert(real_is_whiteout(fx, "upper/a"));
	cr_assert_str_eq(real_list(fx, "upper"), "a b");
}

Test(rename, file_into_lower_only_directory_copies_parents_up)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a", "data");
	put_file(fx, "l0/x/y/other", "");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "a", "x/y/a", 0), 0);
	cr_assert_str_eq(u_read(fx, "x/y/a"), "data");
	cr_assert_str_eq(real_list(fx, "upper/x/y"), "a");
	cr_assert_str_eq(u_list(fx, "x/y"), "a other");
}

static void put_merged_dir(struct fx *fx)
{
	put_file(fx, "l0/d/x", "x");
	put_file(fx, "l0/d/sub/deep", "deep");
	put_file(fx, "l1/d/y", "y");
	put_file(fx, "l0/d/gone", "");
	put_whiteout(fx, "l1/d/gone");
	put_file(fx, "upper/d/z", "z");
}

Test(rename, merged_directory_moves_with_its_lower_content)
{
	struct fx *fx = fx_new(2);

	put_merged_dir(fx);
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "d", "e", 0), 0);
	cr_assert_str_eq(u_list(fx, "e"), "sub x y z");
	cr_assert_str_eq(u_read(fx, "e/x"), "x");
	cr_assert_str_eq(u_read(fx, "e/y"), "y");
	cr_assert_str_eq(u_read(fx, "e/z"), "z");
	cr_assert_str_eq(u_read(fx, "e/sub/deep"), "deep");
	cr_assert_eq(u_lookup_err(fx, "d"), -ENOENT);
	cr_assert_eq(u_lookup_err(fx, "e/gone"), -ENOENT);
}

Test(rename, merged_directory_lands_as_opaque_upper_dir_with_whiteout_behind)
{
	struct fx *fx = fx_new(2);

	put_merged_dir(fx);
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "d", "e", 0), 0);
	cr_assert(S_ISDIR(real_stat(fx, "upper/e").st_mode));
	cr_assert(real_is_opaque(fx, "upper/e"));
	cr_assert_str_eq(real_read(fx, "upper/e/x"), "x");
	cr_assert_str_eq(real_read(fx, "upper/e/sub/deep"), "deep");
	cr_assert(real_is_whiteout(fx, "upper/d"));
	cr_assert_str_eq(real_read(fx, "l0/d/x"), "x");
	cr_assert_str_eq(real_read(fx, "l1/d/y"), "y");
	cr_assert_str_eq(work_scratch(fx), "");
}

Test(rename, moved_directory_reads_the_same_after_remount)
{
	struct fx *fx = fx_new(2);

	put_merged_dir(fx);
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "d", "e", 0), 0);
	fx_remount(fx);
	cr_assert_str_eq(u_list(fx, ""), "e");
	cr_assert_str_eq(u_list(fx, "e"), "sub x y z");
	cr_assert_str_eq(u_list(fx, "e/sub"), "deep");
}

Test(rename, lower_directory_into_a_subdirectory_moves)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/src/d/f", "f");
	put_dir(fx, "l0/dst");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "src/d", "dst/d", 0), 0);
	cr_assert_str_eq(u_read(fx, "dst/d/f"), "f");
	cr_assert_str_eq(u_list(fx, "src"), "");
	cr_assert(real_is_whiteout(fx, "upper/src/d"));
}

Test(rename, upper_dir_onto_whited_out_lower_dir_hides_the_lower_content)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/e/old", "");
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "e/old"), 0);
	cr_assert_eq(u_rmdir(fx, "e"), 0);
	cr_assert_eq(u_mkdir(fx, "n"), 0);
	cr_assert_eq(u_create(fx, "n/new", ""), 0);
	cr_assert_eq(u_rename(fx, "n", "e", 0), 0);
	cr_assert_str_eq(u_list(fx, "e"), "new");
	cr_assert(real_is_opaque(fx, "upper/e"));
	cr_assert_str_eq(real_list(fx, "upper"), "e");
}

/* dpkg makes every new directory as NAME.dpkg-new and renames it in place:
 * kernel overlayfs marks it opaque there, since its parent merges layers. */
Test(rename, new_directory_moved_within_a_merged_directory_is_marked_opaque)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/usr/lib/libc", "c");
	fx_mount(fx);
	cr_assert_eq(u_mkdir(fx, "usr/lib/sasl2.dpkg-new"), 0);
	cr_assert_eq(u_create(fx, "usr/lib/sasl2.dpkg-new/db", "d"), 0);
	cr_assert_eq(u_rename(fx, "usr/lib/sasl2.dpkg-new", "usr/lib/sasl2", 0), 0);
	cr_assert(real_is_opaque(fx, "upper/usr/lib/sasl2"));
	cr_assert_not(real_is_opaque(fx, "upper/usr/lib"));
	cr_assert_str_eq(u_list(fx, "usr/lib"), "libc sasl2");
	cr_assert_str_eq(u_read(fx, "usr/lib/sasl2/db"), "d");
}

Test(rename, new_directory_moved_within_an_upper_only_directory_is_not_marked)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/f", "");
	fx_mount(fx);
	cr_assert_eq(u_mkdir(fx, "new"), 0);
	cr_assert_eq(u_mkdir(fx, "new/a.tmp"), 0);
	cr_assert_eq(u_rename(fx, "new/a.tmp", "new/a", 0), 0);
	cr_assert_not(real_is_opaque(fx, "upper/new/a"));
}

/* The aufs marker of a directory made over a whiteout is 0444: marking the
 * directory again where it lands must not need to write it. */
Test(rename, aufs_opaque_directory_moved_within_a_merged_directory_stays_opaque)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/old", "");
	fx->cfg.whiteout_format = WH_FORMAT_AUFS;
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "d/old"), 0);
	cr_assert_eq(u_rmdir(fx, "d"), 0);
	cr_assert_eq(u_mkdir(fx, "d"), 0);
	cr_assert_eq(u_rename(fx, "d", "e", 0), 0);
	cr_assert_str_eq(real_list(fx, "upper/e"), ".wh..wh..opq");
	cr_assert_str_eq(u_list(fx, ""), "e");
}

Test(rename, noreplace_onto_existing_lower_name_is_eexist)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a", "a");
	put_file(fx, "l0/b", "b");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "a", "b", RENAME_NOREPLACE), -EEXIST);
	cr_assert_str_eq(u_read(fx, "a"), "a");
	cr_assert_str_eq(u_read(fx, "b"), "b");
	cr_assert_str_eq(real_list(fx, "upper"), "");
}

Test(rename, noreplace_onto_whited_out_name_succeeds)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a", "a");
	put_file(fx, "l0/b", "b");
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "b"), 0);
	cr_assert_eq(u_rename(fx, "a", "b", RENAME_NOREPLACE), 0);
	cr_assert_str_eq(u_read(fx, "b"), "a");
}

Test(rename, exchange_swaps_two_lower_files)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a", "A");
	put_file(fx, "l0/b", "B");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "a", "b", RENAME_EXCHANGE), 0);
	cr_assert_str_eq(u_read(fx, "a"), "B");
	cr_assert_str_eq(u_read(fx, "b"), "A");
	cr_assert_str_eq(real_read(fx, "upper/a"), "B");
	cr_assert_str_eq(real_read(fx, "upper/b"), "A");
	cr_assert_str_eq(real_read(fx, "l0/a"), "A");
}

Test(rename, exchange_of_merged_dir_and_file_swaps_them)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/x", "x");
	put_file(fx, "l0/f", "F");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "d", "f", RENAME_EXCHANGE), 0);
	cr_assert_str_eq(u_read(fx, "d"), "F");
	cr_assert_str_eq(u_list(fx, "f"), "x");
	cr_assert_str_eq(u_read(fx, "f/x"), "x");
	cr_assert(real_is_opaque(fx, "upper/f"));
	/* Both names still exist below: removing either needs a whiteout. */
	cr_assert_eq(u_unlink(fx, "d"), 0);
	cr_assert(real_is_whiteout(fx, "upper/d"));
}

Test(rename, exchange_with_missing_name_is_enoent)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a", "A");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "a", "b", RENAME_EXCHANGE), -ENOENT);
	cr_assert_eq(u_rename(fx, "missing", "a", 0), -ENOENT);
}

Test(rename, directory_over_non_empty_directory_is_enotempty)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a/x", "");
	put_file(fx, "l0/b/y", "");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "a", "b", 0), -ENOTEMPTY);
	cr_assert_str_eq(u_list(fx, "b"), "y");
}

Test(rename, directory_over_merged_empty_directory_replaces_it)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a/x", "x");
	put_file(fx, "l0/b/y", "");
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "b/y"), 0);
	cr_assert_eq(u_rename(fx, "a", "b", 0), 0);
	cr_assert_str_eq(u_list(fx, "b"), "x");
	cr_assert_eq(u_lookup_err(fx, "b/y"), -ENOENT);
	cr_assert_eq(u_lookup_err(fx, "a"), -ENOENT);
}

Test(rename, file_over_directory_is_eisdir_and_back_is_enotdir)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/f", "");
	put_dir(fx, "l0/d");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "f", "d", 0), -EISDIR);
	cr_assert_eq(u_rename(fx, "d", "f", 0), -ENOTDIR);
}

Test(rename, aufs_format_leaves_wh_file_behind)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a", "data");
	fx->cfg.whiteout_format = WH_FORMAT_AUFS;
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "a", "b", 0), 0);
	cr_assert_str_eq(real_list(fx, "upper"), ".wh.a b");
	cr_assert_eq(u_lookup_err(fx, "a"), -ENOENT);
}

Test(rename, renamed_node_keeps_inode_number)
{
	struct fx *fx = fx_new(1);
	ino_t ino;

	put_file(fx, "l0/a", "data");
	fx_mount(fx);
	ino = u_stat(fx, "a").st_ino;
	cr_assert_eq(u_rename(fx, "a", "b", 0), 0);
	cr_assert_eq(u_stat(fx, "b").st_ino, ino);
}

Test(rename, moved_merged_dir_keeps_hiding_what_upper_whited_out)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/x", "");
	put_file(fx, "l0/d/gone", "");
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "d/gone"), 0);
	cr_assert_eq(u_rename(fx, "d", "e", 0), 0);
	cr_assert_str_eq(u_list(fx, "e"), "x");
	cr_assert_eq(u_lookup_err(fx, "e/gone"), -ENOENT);
	fx_remount(fx);
	cr_assert_str_eq(u_list(fx, "e"), "x");
	cr_assert_str_eq(u_list(fx, ""), "e");
}

Test(rename, file_removed_from_moved_dir_stays_removed)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/x", "");
	put_file(fx, "l0/d/y", "");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "d", "e", 0), 0);
	cr_assert_eq(u_unlink(fx, "e/x"), 0);
	cr_assert_str_eq(u_list(fx, "e"), "y");
	cr_assert_str_eq(real_list(fx, "upper/e"), "y");
	fx_remount(fx);
	cr_assert_str_eq(u_list(fx, "e"), "y");
}

Test(rename, old_name_of_moved_dir_can_be_made_again_empty)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/x", "");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "d", "e", 0), 0);
	cr_assert_eq(u_mkdir(fx, "d"), 0);
	cr_assert_str_eq(u_list(fx, "d"), "");
	cr_assert(real_is_opaque(fx, "upper/d"));
	fx_remount(fx);
	cr_assert_str_eq(u_list(fx, "d"), "");
	cr_assert_str_eq(u_list(fx, "e"), "x");
}

Test(rename, exchange_survives_a_remount)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/x", "x");
	put_file(fx, "l0/f", "F");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "d", "f", RENAME_EXCHANGE), 0);
	fx_remount(fx);
	cr_assert_str_eq(u_read(fx, "d"), "F");
	cr_assert_str_eq(u_list(fx, "f"), "x");
}

Test(rename, upper_dir_onto_whited_out_lower_dir_survives_a_remount)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/e/old", "");
	put_whiteout(fx, "upper/e");
	put_file(fx, "upper/n/new", "");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "n", "e", 0), 0);
	cr_assert_str_eq(u_list(fx, "e"), "new");
	fx_remount(fx);
	cr_assert_str_eq(u_list(fx, "e"), "new");
	cr_assert_str_eq(u_list(fx, ""), "e");
}

Test(rename, dir_over_empty_merged_dir_survives_a_remount)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/b/y", "");
	put_whiteout(fx, "upper/b/y");
	put_file(fx, "upper/a/x", "");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "a", "b", 0), 0);
	cr_assert_str_eq(u_list(fx, "b"), "x");
	fx_remount(fx);
	cr_assert_str_eq(u_list(fx, "b"), "x");
	cr_assert_str_eq(u_list(fx, ""), "b");
}

Test(rename, create_at_the_old_name_replaces_the_whiteout)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a", "old");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "a", "b", 0), 0);
	cr_assert_eq(u_create(fx, "a", "new"), 0);
	cr_assert_str_eq(u_read(fx, "a"), "new");
	cr_assert_str_eq(u_read(fx, "b"), "old");
	cr_assert(S_ISREG(real_stat(fx, "upper/a").st_mode));
	fx_remount(fx);
	cr_assert_str_eq(u_read(fx, "a"), "new");
}

Test(rename, directory_into_its_own_subdirectory_is_einval)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/sub/x", "");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "d", "d/sub/d", 0), -EINVAL);
	cr_assert_str_eq(u_list(fx, "d"), "sub");
	cr_assert_str_eq(u_list(fx, "d/sub"), "x");
}

Test(rename, merged_directory_moved_away_and_back_keeps_its_content)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/x", "x");
	put_file(fx, "l0/e/other", "");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "d", "tmp", 0), 0);
	cr_assert_eq(u_rename(fx, "tmp", "d", 0), 0);
	cr_assert_str_eq(u_list(fx, ""), "d e");
	cr_assert_str_eq(u_read(fx, "d/x"), "x");
	fx_remount(fx);
	cr_assert_str_eq(u_list(fx, ""), "d e");
	cr_assert_str_eq(u_list(fx, "d"), "x");
}

Test(rename, file_moved_away_and_back_keeps_its_data)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a", "data");
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "a", "b", 0), 0);
	cr_assert_eq(u_rename(fx, "b", "a", 0), 0);
	cr_assert_str_eq(u_list(fx, ""), "a");
	cr_assert_str_eq(u_read(fx, "a"), "data");
	fx_remount(fx);
	cr_assert_str_eq(u_list(fx, ""), "a");
	cr_assert_str_eq(u_read(fx, "a"), "data");
}

/* a and b are hard links in the lower layer; once a is copied up and
 * changed they are two different files, and renaming one over the other
 * must replace it. */
Test(rename, copied_up_hard_link_renamed_over_its_lower_twin_replaces_it)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a", "old");
	cr_assert(link(fx_path(fx, "l0/a"), fx_path(fx, "l0/b")) == 0);
	fx_mount(fx);
	cr_assert_eq(u_open_write(fx, "a", O_WRONLY | O_TRUNC, "new"), 0);
	cr_assert_str_eq(u_read(fx, "b"), "old");
	cr_assert_eq(u_rename(fx, "a", "b", 0), 0);
	cr_expect_eq(u_lookup_err(fx, "a"), -ENOENT, "a is still there after rename a b");
	cr_expect_str_eq(u_read(fx, "b"), "new");
}

Test(rename, moved_dir_holding_whiteouts_can_be_emptied_and_removed)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/x", "");
	put_file(fx, "l0/d/gone", "");
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "d/gone"), 0);
	cr_assert_eq(u_rename(fx, "d", "e", 0), 0);
	cr_assert_eq(u_unlink(fx, "e/x"), 0);
	cr_assert_eq(u_rmdir(fx, "e"), 0);
	cr_assert_str_eq(u_list(fx, ""), "");
	cr_assert_str_eq(real_list(fx, "upper"), "d");
	cr_assert(real_is_whiteout(fx, "upper/d"));
	cr_assert_str_eq(work_scratch(fx), "");
}

/* A renamed tree is copied up whole; two names of one lower file inside it
 * stay one file (found by the differential tester, seed 39). */
Test(rename, moved_tree_keeps_its_hard_links)
{
	struct fx *fx = fx_new(1);
	struct stat a, b;

	put_file(fx, "l0/d/a", "same");
	cr_assert_eq(link(fx_path(fx, "l0/d/a"), fx_path(fx, "l0/d/b")), 0);
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "d", "e", 0), 0);
	a = u_stat(fx, "e/a");
	b = u_stat(fx, "e/b");
	cr_assert_eq(a.st_nlink, 2);
	cr_assert_eq(a.st_ino, b.st_ino);
	a = real_stat(fx, "upper/e/a");
	b = real_stat(fx, "upper/e/b");
	cr_assert_eq(a.st_ino, b.st_ino, "the upper layer holds one file with two names");
}

/* Renaming a merged directory changes nothing inside it that a user sees:
 * its modification time stays (differential tester, seed 50). */
Test(rename, moved_directory_keeps_its_mtime)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/x", "x");
	put_mtime(fx, "l0/d", 1000000000, 0);
	put_dir(fx, "upper/d");
	put_whiteout(fx, "upper/d/x");
	put_mtime(fx, "upper/d", 1000000000, 0);
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "d", "e", 0), 0);
	cr_assert_eq(u_stat(fx, "e").st_mtim.tv_sec, 1000000000);
	cr_assert(!real_exists(fx, "upper/e/x"), "no whiteout left inside the opaque copy");
}

/* A renamed tree's files are copied in batches (copyup.c, TREE_BATCH_MAX):
 * more files than a batch holds, in a directory and below it, keep their
 * data and modes; a hard link whose first name waits in a batch still
 * becomes a link; nothing stays in the work directory. */
Test(rename, moved_tree_larger_than_a_batch_keeps_data_modes_and_links)
{
	struct fx *fx = fx_new(1);
	char lower[64], moved[64], data[32];
	struct stat a, b;

	for (int i = 0; i < 150; i++) {
		snprintf(lower, sizeof(lower), "l0/d/%s%03d", i % 2 ? "s/" : "", i);
		snprintf(data, sizeof(data), "file %d", i);
		put_file(fx, lower, data);
		cr_assert_eq(chmod(fx_path(fx, lower), i % 3 ? 0644 : 0400), 0);
	}
	cr_assert_eq(link(fx_path(fx, "l0/d/000"), fx_path(fx, "l0/d/s/link-to-000")), 0);
	fx_mount(fx);
	cr_assert_eq(u_rename(fx, "d", "e", 0), 0);
	for (int i = 0; i < 150; i++) {
		snprintf(moved, sizeof(moved), "e/%s%03d", i % 2 ? "s/" : "", i);
		snprintf(data, sizeof(data), "file %d", i);
		cr_expect_str_eq(u_read(fx, moved), data, "%s", moved);
		cr_expect_eq(u_stat(fx, moved).st_mode & 07777, i % 3 ? 0644u : 0400u, "%s", moved);
	}
	a = real_stat(fx, "upper/e/000");
	b = real_stat(fx, "upper/e/s/link-to-000");
	cr_expect_eq(a.st_ino, b.st_ino, "the upper layer holds one file with two names");
	cr_expect_str_eq(work_scratch(fx), "");
}
