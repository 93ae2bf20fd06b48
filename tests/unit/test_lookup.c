/* Resolution (DESIGN section 3): which layer a name comes from, how
 * directories merge, opaque directories in every format, and what a merged
 * listing or xattr list never shows. Whiteouts are in test_whiteout.c. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(lookup, .fini = fx_cleanup);

Test(lookup, top_lower_layer_wins)
{
	struct fx *fx = fx_new(3);

	put_file(fx, "l0/a", "base");
	put_file(fx, "l1/a", "middle");
	put_file(fx, "l0/b", "base");
	fx_mount(fx);
	cr_assert_str_eq(u_read(fx, "a"), "middle");
	cr_assert_str_eq(u_read(fx, "b"), "base");
}

Test(lookup, upper_layer_wins_over_lowers)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/a", "base");
	put_file(fx, "l1/a", "app");
	put_file(fx, "upper/a", "mine");
	fx_mount(fx);
	cr_assert_str_eq(u_read(fx, "a"), "mine");
}

Test(lookup, init_layer_sits_between_upper_and_lowers)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/hosts", "image");
	put_file(fx, "l0/hostname", "image");
	put_file(fx, "init/hosts", "init");
	put_file(fx, "init/hostname", "init");
	put_file(fx, "upper/hostname", "mine");
	fx->cfg.init = fx_path(fx, "init");
	fx_mount(fx);
	cr_assert_str_eq(u_read(fx, "hosts"), "init");
	cr_assert_str_eq(u_read(fx, "hostname"), "mine");
}

Test(lookup, missing_name_is_enoent)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/a", "x");
	fx_mount(fx);
	cr_assert_eq(u_lookup_err(fx, "nope"), -ENOENT);
	cr_assert_eq(u_lookup_err(fx, "a/nope"), -ENOTDIR);
}

Test(lookup, name_longer_than_255_is_enametoolong)
{
	struct fx *fx = fx_new(1);
	char name[300];

	memset(name, 'n', 256);
	name[256] = '\0';
	fx_mount(fx);
	cr_assert_eq(u_lookup_err(fx, name), -ENAMETOOLONG);
}

Test(lookup, directories_merge_across_layers)
{
	struct fx *fx = fx_new(3);

	put_file(fx, "l0/d/a", "0");
	put_file(fx, "l1/d/b", "1");
	put_file(fx, "l2/d/c", "2");
	put_file(fx, "upper/d/u", "u");
	put_file(fx, "l0/d/sub/x", "0");
	put_file(fx, "l2/d/sub/y", "2");
	fx_mount(fx);
	cr_assert_str_eq(u_list(fx, "d"), "a b c sub u");
	cr_assert_str_eq(u_list(fx, "d/sub"), "x y");
	cr_assert_str_eq(u_read(fx, "d/a"), "0");
	cr_assert_str_eq(u_read(fx, "d/sub/x"), "0");
}

Test(lookup, root_lists_the_union_of_all_layers)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/a", "");
	put_file(fx, "l1/b", "");
	put_file(fx, "upper/c", "");
	put_file(fx, "l0/same", "");
	put_file(fx, "l1/same", "");
	fx_mount(fx);
	cr_assert_str_eq(u_list(fx, ""), "a b c same");
}

Test(lookup, file_above_shadows_directory_below)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/d/x", "below");
	put_file(fx, "l1/d", "file");
	fx_mount(fx);
	cr_assert(S_ISREG(u_stat(fx, "d").st_mode));
	cr_assert_str_eq(u_read(fx, "d"), "file");
	cr_assert_eq(u_lookup_err(fx, "d/x"), -ENOTDIR);
}

Test(lookup, directory_above_shadows_file_below)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/d", "file");
	put_file(fx, "l1/d/x", "above");
	fx_mount(fx);
	cr_assert(S_ISDIR(u_stat(fx, "d").st_mode));
	cr_assert_str_eq(u_list(fx, "d"), "x");
}

Test(lookup, dir_merge_stops_at_a_non_directory_below)
{
	struct fx *fx = fx_new(3);

	put_file(fx, "l0/d/base", "");
	put_file(fx, "l1/d", "file in between");
	put_file(fx, "l2/d/top", "");
	fx_mount(fx);
	cr_assert_str_eq(u_list(fx, "d"), "top");
	cr_assert_eq(u_lookup_err(fx, "d/base"), -ENOENT);
}

Test(lookup, symlink_above_shadows_directory_below)
{
	struct fx *fx = fx_new(2);
	char *target = NULL;

	put_file(fx, "l0/d/x", "");
	put_dir(fx, "l1");
	cr_assert(symlink("elsewhere", fx_path(fx, "l1/d")) == 0);
	fx_mount(fx);
	cr_assert(S_ISLNK(u_stat(fx, "d").st_mode));
	cr_assert_eq(ufs_readlink(fx->u, u_lookup(fx, "d"), &target), 0);
	cr_assert_str_eq(target, "elsewhere");
	free(target);
}

/* Opaque directories: each format hides the layers below its own only. */

static void check_opaque_middle(struct fx *fx)
{
	put_file(fx, "l0/d/base", "");
	put_file(fx, "l1/d/mid", "");
	put_file(fx, "l2/d/top", "");
	fx_mount(fx);
	cr_assert_str_eq(u_list(fx, "d"), "mid top");
	cr_assert_eq(u_lookup_err(fx, "d/base"), -ENOENT);
	cr_assert_str_eq(real_read(fx, "l0/d/base"), "");
}

Test(lookup, trusted_opaque_xattr_hides_layers_below_only)
{
	struct fx *fx = fx_new(3);

	put_dir(fx, "l1/d");
	put_xattr(fx, "l1/d", "trusted.overlay.opaque", "y");
	check_opaque_middle(fx);
}

Test(lookup, user_opaque_xattr_hides_layers_below_only)
{
	struct fx *fx = fx_new(3);

	put_dir(fx, "l1/d");
	put_xattr(fx, "l1/d", "user.overlay.opaque", "y");
	check_opaque_middle(fx);
}

Test(lookup, aufs_opaque_marker_hides_layers_below_only)
{
	struct fx *fx = fx_new(3);

	put_file(fx, "l1/d/.wh..wh..opq", "");
	check_opaque_middle(fx);
}

Test(lookup, opaque_upper_dir_hides_all_lowers)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/d/a", "");
	put_file(fx, "l1/d/b", "");
	put_file(fx, "upper/d/c", "");
	put_xattr(fx, "upper/d", "trusted.overlay.opaque", "y");
	fx_mount(fx);
	cr_assert_str_eq(u_list(fx, "d"), "c");
}

Test(lookup, opaque_only_applies_to_its_own_directory)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/d/a", "");
	put_file(fx, "l0/d/sub/a", "");
	put_file(fx, "l0/e/a", "");
	put_file(fx, "l1/d/sub/b", "");
	put_file(fx, "l1/e/b", "");
	put_xattr(fx, "l1/d/sub", "trusted.overlay.opaque", "y");
	fx_mount(fx);
	cr_assert_str_eq(u_list(fx, "d"), "a sub");
	cr_assert_str_eq(u_list(fx, "d/sub"), "b");
	cr_assert_str_eq(u_list(fx, "e"), "a b");
}

Test(lookup, opaque_x_is_not_opaque)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/d/a", "");
	put_file(fx, "l1/d/b", "");
	put_xattr(fx, "l1/d", "trusted.overlay.opaque", "x");
	fx_mount(fx);
	cr_assert_str_eq(u_list(fx, "d"), "a b");
}

/* A directory of many layers has them read at once, ahead of the merge
 * (fs/layerscan.c): a cut found in the middle must still drop what was
 * read for the layers below it. */
Test(lookup, layers_read_ahead_still_cut_at_an_opaque_middle_layer)
{
	struct fx *fx = fx_new(8);
	char rel[32];
	int i;

	for (i = 0; i < 8; i++) {
		snprintf(rel, sizeof(rel), "l%d/d/f%d", i, i);
		put_file(fx, rel, "");
	}
	put_xattr(fx, "l4/d", "trusted.overlay.opaque", "y");
	fx_mount(fx);
	cr_assert_str_eq(u_list(fx, "d"), "f4 f5 f6 f7");
	cr_assert_eq(u_lookup_err(fx, "d/f3"), -ENOENT);
}

Test(lookup, layers_read_ahead_give_way_to_a_redirect_below_the_top)
{
	struct fx *fx = fx_new(8);

	put_file(fx, "l7/d/top", "");
	put_file(fx, "l6/d/mid", "");
	put_xattr(fx, "l6/d", "trusted.overlay.redirect", "/src");
	put_file(fx, "l5/d/stale", "");
	put_file(fx, "l4/src/moved", "");
	put_file(fx, "l2/d/stale2", "");
	fx_mount(fx);
	cr_assert_str_eq(u_list(fx, "d"), "mid moved top");
	cr_assert_eq(u_lookup_err(fx, "d/stale"), -ENOENT);
}

/* What a listing or an xattr list never shows */

Test(lookup, markers_are_never_listed)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/d/keep", "");
	put_file(fx, "l0/d/gone1", "");
	put_file(fx, "l0/d/gone2", "");
	put_file(fx, "l0/d/gone3", "");
	put_whiteout(fx, "l1/d/gone1");
	put_file(fx, "l1/d/.wh.gone2", "");
	put_xwhiteout(fx, "l1/d/gone3", "trusted");
	put_file(fx, "l1/d/.wh.never-existed", "");
	put_whiteout(fx, "l1/d/never-either");
	put_file(fx, "upper/d/.wh..wh..opq", "");
	put_file(fx, "upper/d/mine", "");
	put_file(fx, "l1/e/.wh..wh..opq", "");
	fx_mount(fx);
	cr_assert_str_eq(u_list(fx, "d"), "mine");
	cr_assert_str_eq(u_list(fx, "e"), "");
	cr_assert_eq(u_lookup_err(fx, "d/.wh..wh..opq"), -ENOENT);
	cr_assert_eq(u_lookup_err(fx, "d/.wh.gone2"), -ENOENT);
}

Test(lookup, markers_in_lower_listing_are_hidden_without_upper_changes)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/d/a", "");
	put_file(fx, "l0/d/b", "");
	put_whiteout(fx, "l1/d/a");
	put_file(fx, "l1/d/.wh.b", "");
	put_file(fx, "l1/d/c", "");
	fx_mount(fx);
	cr_assert_str_eq(u_list(fx, "d"), "c");
}

Test(lookup, private_xattrs_are_hidden_from_listxattr_and_getxattr)
{
	struct fx *fx = fx_new(1);
	char list[256];
	char value[16];
	ssize_t len;
	struct node *d;

	put_dir(fx, "l0/d");
	put_xattr(fx, "l0/d", "trusted.overlay.opaque", "y");
	put_xattr(fx, "l0/d", "user.overlay.opaque", "y");
	put_xattr(fx, "l0/d", "trusted.overlay.redirect", "/x");
	put_xattr(fx, "l0/d", "user.visible", "1");
	fx_mount(fx);
	d = u_lookup(fx, "d");
	len = ufs_listxattr(fx->u, d, list, sizeof(list), true);
	cr_assert_eq(len, (ssize_t)sizeof("user.visible"));
	cr_assert_str_eq(list, "user.visible");
	cr_assert_eq(ufs_listxattr(fx->u, d, NULL, 0, true), (ssize_t)sizeof("user.visible"));
	cr_assert_eq(ufs_listxattr(fx->u, d, list, 4, true), -ERANGE);
	cr_assert_eq(ufs_getxattr(fx->u, d, "trusted.overlay.opaque", value, sizeof(value)),
		     -ENODATA);
	cr_assert_eq(ufs_getxattr(fx->u, d, "user.overlay.opaque", value, sizeof(value)),
		     -ENODATA);
	cr_assert_eq(ufs_getxattr(fx->u, d, "user.visible", value, sizeof(value)), 1);
}

Test(lookup, private_xattrs_cannot_be_set_through_the_union)
{
	struct fx *fx = fx_new(1);

	put_dir(fx, "l0/d");
	fx_mount(fx);
	cr_assert_lt(ufs_setxattr(fx->u, u_lookup(fx, "d"), "trusted.overlay.opaque", "y", 1, 0),
		     0);
	cr_assert_not(real_is_opaque(fx, "upper/d"));
}

Test(lookup, read_only_union_refuses_writes)
{
	struct fx *fx = fx_new(1);
	struct handle *h;

	put_file(fx, "l0/a", "x");
	fx->cfg.upper = NULL;
	fx->cfg.work = NULL;
	fx_mount(fx);
	cr_assert(ufs_read_only(fx->u));
	cr_assert_str_eq(u_read(fx, "a"), "x");
	cr_assert_eq(ufs_open(fx->u, u_lookup(fx, "a"), O_WRONLY, &h), -EROFS);
	cr_assert_eq(u_unlink(fx, "a"), -EROFS);
	cr_assert_eq(u_mkdir(fx, "d"), -EROFS);
}

/* DESIGN section 7: paths deeper than PATH_MAX. */
Test(lookup, path_deeper_than_path_max_resolves_and_copies_up)
{
	struct fx *fx = fx_new(1);
	char name[201], *path = calloc(1, 30 * 202 + 8);
	int fd, i;

	memset(name, 'a', 200);
	name[200] = '\0';
	fd = open(fx_path(fx, "l0"), O_RDONLY | O_DIRECTORY);
	for (i = 0; i < 30; i++) {
		int next;

		cr_assert(mkdirat(fd, name, 0755) == 0);
		next = openat(fd, name, O_RDONLY | O_DIRECTORY);
		close(fd);
		fd = next;
		cr_assert(fd >= 0);
		strcat(path, name);
		strcat(path, "/");
	}
	i = openat(fd, "f", O_WRONLY | O_CREAT, 0644);
	cr_assert_eq(write(i, "deep", 4), 4);
	close(i);
	close(fd);
	strcat(path, "f");
	cr_assert_gt(strlen(path), PATH_MAX);
	fx_mount(fx);
	cr_assert_str_eq(u_read(fx, path), "deep");
	cr_assert_eq(u_open_write(fx, path, O_WRONLY | O_APPEND, "er"), 0);
	cr_assert_str_eq(u_read(fx, path), "deeper");
	fx_remount(fx);
	cr_assert_str_eq(u_read(fx, path), "deeper");
	free(path);
}

/* DESIGN section 7: containers/storage stacks up to 500 layers. */
Test(lookup, five_hundred_lower_layers_resolve)
{
	struct fx *fx = fx_new(1);
	const char **lowers = calloc(500, sizeof(*lowers));
	char rel[64];
	int i;

	for (i = 0; i < 500; i++) {
		snprintf(rel, sizeof(rel), "many/%03d/d/f%03d", i, i);
		put_file(fx, rel, rel);
		snprintf(rel, sizeof(rel), "many/%03d", i);
		lowers[i] = fx_path(fx, rel);
	}
	put_file(fx, "many/000/base-only", "base");
	put_file(fx, "many/250/d/f000", "middle wins");
	fx->cfg.lowers = lowers;
	fx->cfg.nlowers = 500;
	fx_mount(fx);
	cr_assert_str_eq(u_read(fx, "base-only"), "base");
	cr_assert_str_eq(u_read(fx, "d/f000"), "middle wins");
	cr_assert_str_eq(u_read(fx, "d/f499"), "many/499/d/f499");
	cr_assert_eq(strlen(u_list(fx, "d")), 500 * 5 - 1);
	free(lowers);
}

Test(lookup, xattrs_of_the_root_come_from_the_top_layer_root)
{
	struct fx *fx = fx_new(1);
	char value[16] = { 0 };
	char list[256];
	ssize_t len;

	put_xattr(fx, "upper", "user.root", "top");
	put_xattr(fx, "l0", "user.root", "base");
	fx_mount(fx);
	len = ufs_getxattr(fx->u, fx->u->root, "user.root", value, sizeof(value));
	cr_assert_eq(len, 3, "getxattr on the root: %zd", len);
	cr_assert_str_eq(value, "top");
	len = ufs_listxattr(fx->u, fx->u->root, list, sizeof(list), true);
	cr_assert_eq(len, (ssize_t)sizeof("user.root"), "listxattr on the root: %zd", len);
}

Test(lookup, xattrs_can_be_set_on_the_root)
{
	struct fx *fx = fx_new(1);
	int err;

	fx_mount(fx);
	err = ufs_setxattr(fx->u, fx->u->root, "user.new", "v", 1, 0);
	cr_assert_eq(err, 0, "setxattr on the root: %s", strerror(-err));
	cr_assert_str_eq(real_xattr(fx, "upper", "user.new"), "v");
}

Test(lookup, attributes_of_the_root_can_be_changed)
{
	struct fx *fx = fx_new(1);
	struct stat attr = { .st_mode = 0711, .st_uid = 3, .st_gid = 4 }, out;
	int err;

	attr.st_mtim.tv_sec = 1000000000;
	fx_mount(fx);
	err = ufs_setattr(fx->u, fx->u->root, &attr,
			  UFS_SET_MODE | UFS_SET_UID | UFS_SET_GID | UFS_SET_MTIME, -1, &out);
	cr_assert_eq(err, 0, "setattr on the root: %s", strerror(-err));
	cr_assert_eq(real_stat(fx, "upper").st_mode & 07777, 0711);
	cr_assert_eq(real_stat(fx, "upper").st_uid, 3);
	cr_assert_eq(real_stat(fx, "upper").st_mtim.tv_sec, 1000000000);
	cr_assert_eq(out.st_mode & 07777, 0711);
}

/* DESIGN section 7: 100,000 entries in one directory, from two layers. */
Test(lookup, directory_of_100000_entries_merges_and_looks_up, .timeout = 100)
{
	struct fx *fx = fx_new(2);
	struct dir_snapshot *snap;
	char name[32];
	int fd[2], i, f;

	put_dir(fx, "l0/big");
	put_dir(fx, "l1/big");
	fd[0] = open(fx_path(fx, "l0/big"), O_RDONLY | O_DIRECTORY);
	fd[1] = open(fx_path(fx, "l1/big"), O_RDONLY | O_DIRECTORY);
	for (i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "entry-%06d", i);
		f = openat(fd[i % 2], name, O_WRONLY | O_CREAT, 0644);
		cr_assert(f >= 0);
		close(f);
	}
	close(fd[0]);
	close(fd[1]);
	fx_mount(fx);
	cr_assert_eq(ufs_opendir(fx->u, u_lookup(fx, "big"), &snap), 0);
	cr_assert_eq(ufs_readdir_start(fx->u, u_lookup(fx, "big"), snap), 0);
	cr_assert_eq(snap->count, 100000 + 2);
	ufs_releasedir(snap);
	cr_assert_eq(u_lookup_err(fx, "big/entry-000000"), 0);
	cr_assert_eq(u_lookup_err(fx, "big/entry-099999"), 0);
	cr_assert_eq(u_lookup_err(fx, "big/entry-100000"), -ENOENT);
}

/* DESIGN section 5: a hostile layer cannot lead the union out of it. */
Test(lookup, symlink_to_a_host_directory_is_not_followed)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "host/secret", "host data");
	put_dir(fx, "l0");
	cr_assert(symlink(fx_path(fx, "host"), fx_path(fx, "l0/etc")) == 0);
	fx_mount(fx);
	cr_assert_eq(u_lookup_err(fx, "etc/secret"), -ENOTDIR);
}

Test(lookup, opening_a_symlink_for_write_does_not_write_its_target)
{
	struct fx *fx = fx_new(1);
	struct handle *h;

	put_file(fx, "host/file", "host data");
	put_dir(fx, "l0");
	cr_assert(symlink(fx_path(fx, "host/file"), fx_path(fx, "l0/evil")) == 0);
	fx_mount(fx);
	cr_assert_neq(ufs_open(fx->u, u_lookup(fx, "evil"), O_WRONLY | O_TRUNC, &h), 0);
	cr_assert_str_eq(real_read(fx, "host/file"), "host data");
}

Test(lookup, symlinked_directory_in_a_lower_layer_does_not_merge)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "host/secret", "");
	put_dir(fx, "l0");
	cr_assert(symlink(fx_path(fx, "host"), fx_path(fx, "l0/d")) == 0);
	put_file(fx, "l1/d/mine", "");
	fx_mount(fx);
	cr_assert_str_eq(u_list(fx, "d"), "mine");
	cr_assert_eq(u_create(fx, "d/new", ""), 0);
	cr_assert_str_eq(real_list(fx, "host"), "secret");
}
