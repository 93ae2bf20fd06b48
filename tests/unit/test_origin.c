/* Copy-up origins (origin.c): an entry copied up shows the inode number it
 * had below after a remount too, from what the copy-up recorded as
 * overlayfs records it (overlay.origin, overlay.impure); a merged directory
 * shows the number of the directory below; a recorded origin is taken only
 * for the lower entry it names, found below the same name or where the
 * copy-up recorded it was. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

TestSuite(origin, .fini = fx_cleanup);

static ino_t ino_of(struct fx *fx, const char *path)
{
	return u_stat(fx, path).st_ino;
}

static void append(struct fx *fx, const char *path)
{
	cr_assert_eq(u_open_write(fx, path, O_WRONLY | O_APPEND, "+"), 0);
}

/* The lower file d/f copied up by an append, and the union unmounted:
 * returns the inode number d/f showed. */
static ino_t copy_up_d_f(struct fx *fx)
{
	ino_t before;

	put_file(fx, "l0/d/f", "data");
	fx_mount(fx);
	before = ino_of(fx, "d/f");
	append(fx, "d/f");
	fx_unmount(fx);
	return before;
}

Test(origin, a_copied_up_file_keeps_its_lower_st_ino_after_a_remount)
{
	struct fx *fx = fx_new(1);
	ino_t before;

	put_file(fx, "l0/d/g", "");
	before = copy_up_d_f(fx);
	fx_mount(fx);
	cr_assert_eq(ino_of(fx, "d/f"), before);
	cr_assert_neq(real_stat(fx, "upper/d/f").st_ino, before);
	cr_assert_str_eq(u_read(fx, "d/f"), "data+");
	cr_assert_neq(ino_of(fx, "d/g"), before);
}

Test(origin, symlinks_and_directories_keep_theirs_too)
{
	struct fx *fx = fx_new(1);
	struct stat attr = { 0 }, out;
	ino_t link_ino, dir_ino;

	put_file(fx, "l0/d/f", "");
	cr_assert(symlink("f", fx_path(fx, "l0/d/s")) == 0);
	fx_mount(fx);
	link_ino = ino_of(fx, "d/s");
	dir_ino = ino_of(fx, "d");
	/* touch -h: a copy-up of the link itself, and of its directory. */
	cr_assert_eq(ufs_setattr(fx->u, u_lookup(fx, "d/s"), &attr,
				 UFS_SET_ATIME_NOW | UFS_SET_MTIME_NOW, -1, &out), 0);
	cr_assert(S_ISLNK(real_stat(fx, "upper/d/s").st_mode));
	fx_remount(fx);
	cr_assert_eq(ino_of(fx, "d/s"), link_ino);
	cr_assert_eq(ino_of(fx, "d"), dir_ino);
}

/* What overlayfs reads: the handle of the lower file in struct ovl_fb, and
 * the parent marked impure. */
Test(origin, the_copy_records_its_origin_as_overlayfs_does)
{
	struct fx *fx = fx_new(1);
	struct {
		struct file_handle fh;
		unsigned char bytes[MAX_HANDLE_SZ];
	} h = { .fh.handle_bytes = MAX_HANDLE_SZ };
	unsigned char fb[256];
	char impure[4];
	ssize_t len;
	int mount_id;

	put_file(fx, "l0/d/f", "data");
	fx_mount(fx);
	append(fx, "d/f");
	cr_assert(name_to_handle_at(AT_FDCWD, fx_path(fx, "l0/d/f"), &h.fh, &mount_id, 0) == 0);
	len = lgetxattr(fx_path(fx, "upper/d/f"), "trusted.overlay.origin", fb, sizeof(fb));
	cr_assert_eq(len, 21 + (ssize_t)h.fh.handle_bytes);
	cr_assert_eq(fb[0], 0);           /* version */
	cr_assert_eq(fb[1], 0xfb);        /* magic */
	cr_assert_eq(fb[2], len);
	cr_assert_eq(fb[4], h.fh.handle_type);
	cr_assert_eq(memcmp(fb + 21, h.fh.f_handle, h.fh.handle_bytes), 0);
	len = lgetxattr(fx_path(fx, "upper/d"), "trusted.overlay.impure", impure, sizeof(impure));
	cr_assert_eq(len, 1);
	cr_assert_eq(impure[0], 'y');
}

Test(origin, a_merged_directory_shows_the_st_ino_of_the_directory_below)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/d/x", "");
	put_file(fx, "l1/d/y", "");
	put_file(fx, "upper/d/z", "");
	fx_mount(fx);
	cr_assert_eq(ino_of(fx, "d"), real_stat(fx, "l1/d").st_ino);
	cr_assert_str_eq(u_list(fx, "d"), "x y z");
}

Test(origin, an_opaque_directory_shows_its_own_st_ino)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/x", "");
	put_file(fx, "upper/d/z", "");
	put_xattr(fx, "upper/d", "trusted.overlay.opaque", "y");
	fx_mount(fx);
	cr_assert_eq(ino_of(fx, "d"), real_stat(fx, "upper/d").st_ino);
	cr_assert_str_eq(u_list(fx, "d"), "z");
}

/* As overlayfs without an index: the copy of one name of a hard-linked
 * file is a file of its own, and the names left below keep the number. */
Test(origin, a_copied_up_hard_link_keeps_the_st_ino_of_its_copy_after_a_remount)
{
	struct fx *fx = fx_new(1);
	ino_t copy, below;

	put_file(fx, "l0/a", "same");
	cr_assert(link(fx_path(fx, "l0/a"), fx_path(fx, "l0/b")) == 0);
	fx_mount(fx);
	below = ino_of(fx, "b");
	append(fx, "a");
	copy = ino_of(fx, "a");
	cr_assert_neq(copy, below);
	fx_remount(fx);
	cr_assert_eq(ino_of(fx, "a"), copy);
	cr_assert_eq(ino_of(fx, "b"), below);
}

/* The lower file was replaced between two mounts: the origin names a file
 * that is gone, and the copy takes the number of no other. */
Test(origin, an_origin_naming_a_file_gone_from_below_is_not_taken)
{
	struct fx *fx = fx_new(1);

	copy_up_d_f(fx);
	cr_assert(unlink(fx_path(fx, "l0/d/f")) == 0);
	put_file(fx, "l0/d/f", "two");
	fx_mount(fx);
	cr_assert_eq(ino_of(fx, "d/f"), real_stat(fx, "upper/d/f").st_ino);
	cr_assert_str_eq(u_read(fx, "d/f"), "data+");
}

/* Renamed after its copy-up, a file keeps its lower number, for the mount
 * and after a remount, where the name below is another file's: found
 * where the copy-up recorded it was, as overlayfs finds it by its handle. */
Test(origin, a_file_renamed_over_another_lower_name_keeps_its_lower_st_ino_after_a_remount)
{
	struct fx *fx = fx_new(1);
	ino_t a;

	put_file(fx, "l0/a", "a");
	put_file(fx, "l0/b", "b");
	fx_mount(fx);
	a = ino_of(fx, "a");
	append(fx, "a");
	cr_assert_eq(u_rename(fx, "a", "b", 0), 0);
	cr_assert_eq(ino_of(fx, "b"), a);
	fx_remount(fx);
	cr_assert_eq(ino_of(fx, "b"), a);
	cr_assert_eq(ino_of(fx, "b"), real_stat(fx, "l0/a").st_ino);
	cr_assert_str_eq(u_read(fx, "b"), "a+");
	cr_assert_eq(u_expect_listing_inos(fx, ""), 1);
}

Test(origin, a_copy_moved_to_another_directory_keeps_its_lower_st_ino_after_a_remount)
{
	struct fx *fx = fx_new(2);
	ino_t f;

	put_file(fx, "l0/a/f", "data");
	put_dir(fx, "l1/b");
	fx_mount(fx);
	f = ino_of(fx, "a/f");
	append(fx, "a/f");
	cr_assert_eq(u_rename(fx, "a/f", "b/g", 0), 0);
	fx_remount(fx);
	cr_assert_eq(ino_of(fx, "b/g"), f);
	cr_assert_eq(u_expect_listing_inos(fx, "b"), 1);
}

/* A directory with lower content is copied up whole to move: its copies
 * and those of its subdirectories are all found where their copy-up found
 * them. */
Test(origin, copies_in_a_moved_directory_keep_their_lower_st_ino_after_a_remount)
{
	struct fx *fx = fx_new(1);
	ino_t d, sub, f, g;

	put_file(fx, "l0/d/f", "f");
	put_file(fx, "l0/d/sub/g", "g");
	fx_mount(fx);
	d = ino_of(fx, "d");
	sub = ino_of(fx, "d/sub");
	f = ino_of(fx, "d/f");
	g = ino_of(fx, "d/sub/g");
	cr_assert_eq(u_rename(fx, "d", "e", 0), 0);
	cr_assert_eq(ino_of(fx, "e"), d);
	fx_remount(fx);
	cr_assert_eq(ino_of(fx, "e"), d);
	cr_assert_eq(ino_of(fx, "e/sub"), sub);
	cr_assert_eq(ino_of(fx, "e/f"), f);
	cr_assert_eq(ino_of(fx, "e/sub/g"), g);
	cr_assert_eq(u_expect_listing_inos(fx, ""), 1);
	cr_assert_eq(u_expect_listing_inos(fx, "e"), 2);
	cr_assert_eq(u_expect_listing_inos(fx, "e/sub"), 1);
}

/* Moved again, it is a directory of the upper layer alone: where it lands
 * is marked too. */
Test(origin, a_directory_moved_twice_keeps_its_lower_st_ino_after_a_remount)
{
	struct fx *fx = fx_new(1);
	ino_t d;

	put_dir(fx, "l0/d");
	put_dir(fx, "l0/b");
	fx_mount(fx);
	d = ino_of(fx, "d");
	cr_assert_eq(u_rename(fx, "d", "b/d", 0), 0);
	cr_assert_eq(u_rename(fx, "b/d", "a", 0), 0);
	fx_remount(fx);
	cr_assert_eq(ino_of(fx, "a"), d);
}

/* Moved over a name a lower directory holds, it merges with nothing there
 * (copied whole, it is opaque), and keeps the number of its own origin. */
Test(origin, a_directory_moved_over_a_lower_name_keeps_its_own_st_ino_after_a_remount)
{
	struct fx *fx = fx_new(1);
	ino_t d;

	put_file(fx, "l0/d/f", "f");
	put_dir(fx, "l0/e");
	fx_mount(fx);
	d = ino_of(fx, "d");
	cr_assert_eq(u_rename(fx, "d", "e", 0), 0);
	fx_remount(fx);
	cr_assert_eq(ino_of(fx, "e"), d);
	cr_assert_neq(ino_of(fx, "e"), real_stat(fx, "l0/e").st_ino);
}

Test(origin, names_of_a_copy_in_two_directories_show_its_lower_number_after_a_remount)
{
	struct fx *fx = fx_new(1);
	ino_t f;

	put_file(fx, "l0/d/f", "data");
	put_dir(fx, "l0/e");
	fx_mount(fx);
	f = ino_of(fx, "d/f");
	append(fx, "d/f");
	cr_assert_eq(u_link(fx, "d/f", "e/g"), 0);
	fx_remount(fx);
	cr_assert_eq(ino_of(fx, "e/g"), f);
	cr_assert_eq(ino_of(fx, "d/f"), f);
}

/* Only a directory where a copy took another name is marked: a view
 * built elsewhere never looks for paths (a getxattr for every new file). */
Test(origin, only_a_directory_a_copy_moved_into_is_marked_as_holding_moved_copies)
{
	struct fx *fx = fx_new(1);
	const char *moved = "trusted.overlay.unionfuse.moved";

	put_file(fx, "l0/a/f", "data");
	put_file(fx, "l0/b/g", "data");
	put_dir(fx, "l0/c");
	fx_mount(fx);
	append(fx, "a/f");
	append(fx, "b/g");
	cr_assert_eq(u_create(fx, "b/new", ""), 0);
	cr_assert_eq(u_rename(fx, "b/new", "b/new2", 0), 0);
	cr_assert_null(real_xattr(fx, "upper/a", moved));
	cr_assert_null(real_xattr(fx, "upper/b", moved));
	cr_assert_eq(u_rename(fx, "b/g", "c/g", 0), 0);
	cr_assert_null(real_xattr(fx, "upper/b", moved));
	cr_assert_str_eq(real_xattr(fx, "upper/c", moved), "y");
	cr_assert_str_eq(real_xattr(fx, "upper/c", "trusted.overlay.impure"), "y");
}

/* The path is the lower entry's in its layer; a directory's is recorded
 * only when it moves. */
Test(origin, the_copy_records_where_its_lower_entry_lies)
{
	static const char *key = "trusted.overlay.unionfuse.origin_path";
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/e/f", "data");
	fx_mount(fx);
	append(fx, "d/e/f");
	cr_assert_str_eq(real_xattr(fx, "upper/d/e/f", key), "d/e/f");
	cr_assert_not_null(real_xattr(fx, "upper/d/e", "trusted.overlay.origin"));
	cr_assert_null(real_xattr(fx, "upper/d/e", key));
	cr_assert_eq(u_rename(fx, "d", "moved", 0), 0);
	cr_assert_str_eq(real_xattr(fx, "upper/moved", key), "d");
	cr_assert_str_eq(real_xattr(fx, "upper/moved/e", key), "d/e");
}

/* A path too long to leave a file's xattr space to its user is not
 * recorded: the copy is made, and keeps its number for the mount. */
Test(origin, a_path_over_a_kilobyte_is_not_recorded)
{
	char deep[1200] = "", lower[1300], upper[1300];
	struct fx *fx = fx_new(1);
	ino_t f;

	while (strlen(deep) < 1100)
		strcat(deep, "directory-name-of-forty-bytes-or-so-xx/");
	strcat(deep, "f");
	snprintf(lower, sizeof(lower), "l0/%s", deep);
	snprintf(upper, sizeof(upper), "upper/%s", deep);
	put_file(fx, lower, "data");
	fx_mount(fx);
	f = ino_of(fx, deep);
	append(fx, deep);
	cr_assert_eq(ino_of(fx, deep), f);
	cr_assert_not_null(real_xattr(fx, upper, "trusted.overlay.origin"));
	cr_assert_null(real_xattr(fx, upper, "trusted.overlay.unionfuse.origin_path"));
}

/* An upper layer as overlayfs leaves it: the origin without the union's
 * path. A renamed copy cannot be found, and shows its own number. */
Test(origin, without_the_recorded_path_a_renamed_copy_shows_its_own_st_ino)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a", "a");
	fx_mount(fx);
	append(fx, "a");
	cr_assert_eq(u_rename(fx, "a", "b", 0), 0);
	fx_unmount(fx);
	cr_assert(lremovexattr(fx_path(fx, "upper/b"), "trusted.overlay.unionfuse.origin_path") == 0);
	fx_mount(fx);
	cr_assert_eq(ino_of(fx, "b"), real_stat(fx, "upper/b").st_ino);
}

/* A path that climbs out of its layer, or through a symlink, is not
 * followed, even to the very file the origin names. */
Test(origin, a_recorded_path_leaving_the_layer_is_not_followed)
{
	static const char *const paths[] = { "../outside/a", "/outside/a", "sym/a", "./a", "" };
	struct fx *fx = fx_new(1);
	size_t i;

	put_file(fx, "l0/a", "a");
	cr_assert(mkdir(fx_path(fx, "outside"), 0755) == 0);
	cr_assert(symlink("../outside", fx_path(fx, "l0/sym")) == 0);
	fx_mount(fx);
	append(fx, "a");
	cr_assert_eq(u_rename(fx, "a", "b", 0), 0);
	fx_unmount(fx);
	/* the lower file moved out of the layer keeps its handle */
	cr_assert(rename(fx_path(fx, "l0/a"), fx_path(fx, "outside/a")) == 0);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		put_xattr(fx, "upper/b", "trusted.overlay.unionfuse.origin_path", paths[i]);
		fx_mount(fx);
		cr_assert_eq(ino_of(fx, "b"), real_stat(fx, "upper/b").st_ino, "followed \"%s\"",
			     paths[i]);
		fx_unmount(fx);
	}
}

/* An upper layer written by a daemon without CAP_SYS_ADMIN, or by
 * overlayfs with -o userxattr, holds user.overlay.*. */
static void move_to_user_namespace(struct fx *fx, const char *rel, const char *key)
{
	char trusted[64], user[64], value[256];
	ssize_t len;

	snprintf(trusted, sizeof(trusted), "trusted.overlay.%s", key);
	snprintf(user, sizeof(user), "user.overlay.%s", key);
	len = lgetxattr(fx_path(fx, rel), trusted, value, sizeof(value));
	cr_assert(len > 0, "%s has no %s", rel, trusted);
	cr_assert(lsetxattr(fx_path(fx, rel), user, value, (size_t)len, 0) == 0);
	cr_assert(lremovexattr(fx_path(fx, rel), trusted) == 0);
}

Test(origin, an_origin_in_the_user_namespace_is_read_too)
{
	struct fx *fx = fx_new(1);
	ino_t before = copy_up_d_f(fx);

	move_to_user_namespace(fx, "upper/d/f", "origin");
	move_to_user_namespace(fx, "upper/d", "impure");
	fx_mount(fx);
	cr_assert_eq(ino_of(fx, "d/f"), before);
}

Test(origin, listings_give_the_numbers_stat_gives_after_a_remount)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/a", "");
	put_file(fx, "l0/d/b", "");
	put_file(fx, "l0/d/sub/c", "");
	fx_mount(fx);
	append(fx, "d/a");
	cr_assert_eq(u_create(fx, "d/sub/n", ""), 0);
	cr_assert_eq(u_create(fx, "d/new", ""), 0);
	fx_remount(fx);
	cr_assert_eq(u_expect_listing_inos(fx, "d"), 4);
	cr_assert_eq(ino_of(fx, "d/a"), real_stat(fx, "l0/d/a").st_ino);
	cr_assert_eq(ino_of(fx, "d/sub"), real_stat(fx, "l0/d/sub").st_ino);
}

/* A second name given to a copied-up file: both names show the lower
 * number, the second found where the first was. */
Test(origin, names_of_one_upper_file_show_its_lower_number_after_a_remount)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/f", "data");
	fx_mount(fx);
	append(fx, "d/f");
	cr_assert_eq(u_link(fx, "d/f", "d/g"), 0);
	cr_assert_eq(ino_of(fx, "d/g"), ino_of(fx, "d/f"));
	fx_remount(fx);
	cr_assert_eq(ino_of(fx, "d/g"), ino_of(fx, "d/f"));
	cr_assert_eq(ino_of(fx, "d/f"), real_stat(fx, "l0/d/f").st_ino);
}

/* Without the path (an upper layer overlayfs wrote), only the name below
 * could match: so that both names show one number, neither takes it. */
Test(origin, without_the_recorded_path_names_of_one_upper_file_show_its_upper_number)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/f", "data");
	fx_mount(fx);
	append(fx, "d/f");
	fx_unmount(fx);
	cr_assert(link(fx_path(fx, "upper/d/f"), fx_path(fx, "upper/d/g")) == 0);
	cr_assert(lremovexattr(fx_path(fx, "upper/d/f"), "trusted.overlay.unionfuse.origin_path") == 0);
	fx_mount(fx);
	cr_assert_eq(ino_of(fx, "d/g"), ino_of(fx, "d/f"));
	cr_assert_eq(ino_of(fx, "d/f"), real_stat(fx, "upper/d/f").st_ino);
}

/* As overlayfs, which then reads the origins in that directory when it
 * lists it. */
Test(origin, a_copied_up_file_moved_into_another_directory_marks_it_impure)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a/f", "data");
	put_file(fx, "l0/b/g", "");
	put_file(fx, "l0/c/h", "");
	fx_mount(fx);
	append(fx, "a/f");
	cr_assert_eq(u_rename(fx, "a/f", "b/f", 0), 0);
	cr_assert_str_eq(real_xattr(fx, "upper/b", "trusted.overlay.impure"), "y");
	/* A file that has none (created here) leaves the directory as it was. */
	cr_assert_eq(u_create(fx, "new", ""), 0);
	cr_assert_eq(u_rename(fx, "new", "c/new", 0), 0);
	cr_assert_null(real_xattr(fx, "upper/c", "trusted.overlay.impure"));
}
