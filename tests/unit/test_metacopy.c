/* Metadata-only copy-up (-o metacopy, fs/metacopy.c): a change of
 * attributes or xattrs of a lower file copies its metadata alone, the
 * upper file marked overlay.metacopy and holding no data; reads go to the
 * lower file until a change to the data or the name copies the data in. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "internal.h"

TestSuite(metacopy, .fini = fx_cleanup);

#define MARK "trusted.overlay.metacopy"
#define OLD_SEC 1000000000 /* 2001-09-09 */

/* A lower file d/f of 64 KiB ("data" then "x"s), with attributes to keep. */
static struct fx *metacopy_fx(void)
{
	struct fx *fx = fx_new(1);
	char *data = malloc(65536);

	cr_assert_not_null(data);
	memset(data, 'x', 65535);
	data[65535] = '\0';
	memcpy(data, "data", 4);
	put_file(fx, "l0/d/f", data);
	free(data);
	put_xattr(fx, "l0/d/f", "user.color", "blue");
	cr_assert(lchown(fx_path(fx, "l0/d/f"), 1234, 5678) == 0);
	cr_assert(chmod(fx_path(fx, "l0/d/f"), 04751) == 0);
	put_mtime(fx, "l0/d/f", OLD_SEC, 123456789);
	fx->cfg.metacopy = true;
	fx_mount(fx);
	return fx;
}

static void u_chmod(struct fx *fx, const char *path, mode_t mode)
{
	struct stat attr = { .st_mode = mode }, out;

	cr_assert_eq(ufs_setattr(fx->u, u_lookup(fx, path), &attr, UFS_SET_MODE, -1, &out), 0);
	cr_assert_eq(out.st_mode & 07777, mode);
}

/* The upper copy of d/f holds the metadata only: marked, all hole. */
static void check_metadata_only(struct fx *fx)
{
	struct stat st = real_stat(fx, "upper/d/f");
	const char *upper = real_read(fx, "upper/d/f");

	cr_assert_not_null(real_xattr(fx, "upper/d/f", MARK), "no metacopy mark");
	cr_assert_eq(st.st_size, 65535);
	/* Not st_blocks: its xattrs (the mark, the origin) may take a block. */
	cr_assert(real_all_hole(fx, "upper/d/f"), "upper copy holds data blocks");
	cr_assert_eq(upper[0], '\0', "upper copy holds data");
	cr_assert_eq(st.st_uid, 1234);
	cr_assert_eq(st.st_gid, 5678);
	cr_assert_str_eq(real_xattr(fx, "upper/d/f", "user.color"), "blue");
}

/* The upper copy of d/f is whole: data in, mark gone. */
static void check_whole(struct fx *fx, const char *start)
{
	const char *upper = real_read(fx, "upper/d/f");

	cr_assert_null(real_xattr(fx, "upper/d/f", MARK), "metacopy mark left");
	cr_assert_eq(strncmp(upper, start, strlen(start)), 0, "upper holds '%.8s'", upper);
}

Test(metacopy, chmod_copies_metadata_only_and_reads_go_below)
{
	struct fx *fx = metacopy_fx();
	struct stat lower = real_stat(fx, "l0/d/f"), st;

	u_chmod(fx, "d/f", 0600);
	check_metadata_only(fx);
	cr_assert_eq(real_stat(fx, "upper/d/f").st_mode & 07777, 0600);
	cr_assert_eq(strncmp(u_read(fx, "d/f"), "dataxx", 6), 0);
	st = u_stat(fx, "d/f");
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(st.st_size, 65535);
	cr_assert_eq(st.st_blocks, lower.st_blocks, "as overlayfs, the data's blocks");
	cr_assert_eq(real_stat(fx, "l0/d/f").st_mode & 07777, 04751, "lower changed");
}

Test(metacopy, chown_touch_and_setxattr_copy_metadata_only)
{
	struct fx *fx = metacopy_fx();
	struct stat attr = { .st_uid = 7, .st_gid = 8 }, out;

	put_file(fx, "l0/g", "gg");
	put_file(fx, "l0/h", "hh");
	fx_remount(fx);
	cr_assert_eq(ufs_setattr(fx->u, u_lookup(fx, "g"), &attr, UFS_SET_UID | UFS_SET_GID,
				 -1, &out), 0);
	attr.st_mtim.tv_sec = OLD_SEC + 7;
	cr_assert_eq(ufs_setattr(fx->u, u_lookup(fx, "h"), &attr, UFS_SET_MTIME, -1, &out), 0);
	cr_assert_eq(ufs_setxattr(fx->u, u_lookup(fx, "d/f"), "user.size", "L", 1, 0), 0);
	cr_assert_not_null(real_xattr(fx, "upper/g", MARK));
	cr_assert_eq(real_stat(fx, "upper/g").st_uid, 7);
	cr_assert_not_null(real_xattr(fx, "upper/h", MARK));
	cr_assert_eq(real_stat(fx, "upper/h").st_mtim.tv_sec, OLD_SEC + 7);
	check_metadata_only(fx);
	cr_assert_str_eq(real_xattr(fx, "upper/d/f", "user.size"), "L");
	cr_assert_str_eq(u_read(fx, "g"), "gg");
	cr_assert_str_eq(u_read(fx, "h"), "hh");
}

Test(metacopy, without_the_option_chmod_copies_the_data)
{
	struct fx *fx = metacopy_fx();

	fx->cfg.metacopy = false;
	fx_remount(fx);
	u_chmod(fx, "d/f", 0600);
	check_whole(fx, "dataxx");
}

Test(metacopy, an_empty_file_is_copied_whole)
{
	struct fx *fx = metacopy_fx();

	put_file(fx, "l0/empty", "");
	fx_remount(fx);
	u_chmod(fx, "empty", 0600);
	cr_assert_null(real_xattr(fx, "upper/empty", MARK));
}

Test(metacopy, a_write_copies_the_data_in_keeping_mode_and_times)
{
	struct fx *fx = metacopy_fx();
	struct stat st;

	u_chmod(fx, "d/f", 04700);
	/* An open for writing brings the data (the write comes after it). */
	cr_assert_eq(u_open_write(fx, "d/f", O_WRONLY, NULL), 0);
	check_whole(fx, "dataxx");
	st = real_stat(fx, "upper/d/f");
	cr_assert_eq(st.st_mode & 07777, 04700);
	cr_assert_eq(st.st_mtim.tv_sec, OLD_SEC);
	cr_assert_eq(st.st_mtim.tv_nsec, 123456789);
	cr_assert_eq(st.st_uid, 1234);
	cr_assert_str_eq(real_xattr(fx, "upper/d/f", "user.color"), "blue");
	cr_assert_eq(u_open_write(fx, "d/f", O_WRONLY, "DATA"), 0);
	check_whole(fx, "DATAxx");
	cr_assert_eq(strncmp(u_read(fx, "d/f"), "DATAxx", 6), 0);
	cr_assert_eq(strncmp(real_read(fx, "l0/d/f"), "dataxx", 6), 0, "lower written");
}

Test(metacopy, a_truncation_keeps_the_prefix_or_empties_it)
{
	struct fx *fx = metacopy_fx();
	struct stat attr = { .st_size = 2 }, out;

	put_file(fx, "l0/g", "gg");
	fx_remount(fx);
	u_chmod(fx, "d/f", 0600);
	u_chmod(fx, "g", 0600);
	cr_assert_eq(ufs_setattr(fx->u, u_lookup(fx, "d/f"), &attr, UFS_SET_SIZE, -1, &out), 0);
	cr_assert_str_eq(real_read(fx, "upper/d/f"), "da");
	cr_assert_null(real_xattr(fx, "upper/d/f", MARK));
	attr.st_size = 0;
	cr_assert_eq(ufs_setattr(fx->u, u_lookup(fx, "g"), &attr, UFS_SET_SIZE, -1, &out), 0);
	cr_assert_str_eq(u_read(fx, "g"), "");
	cr_assert_null(real_xattr(fx, "upper/g", MARK));
}

Test(metacopy, rename_and_link_copy_the_data_first)
{
	struct fx *fx = metacopy_fx();

	put_file(fx, "l0/g", "gg");
	fx_remount(fx);
	u_chmod(fx, "d/f", 0600);
	u_chmod(fx, "g", 0600);
	cr_assert_eq(u_rename(fx, "g", "h", 0), 0);
	cr_assert_str_eq(real_read(fx, "upper/h"), "gg");
	cr_assert_null(real_xattr(fx, "upper/h", MARK));
	cr_assert_eq(u_link(fx, "d/f", "d/l"), 0);
	check_whole(fx, "dataxx");
	cr_assert_eq(strncmp(real_read(fx, "upper/d/l"), "dataxx", 6), 0);
}

Test(metacopy, renaming_its_directory_copies_the_data_before_it_turns_opaque)
{
	struct fx *fx = metacopy_fx();

	u_chmod(fx, "d/f", 0600);
	/* Forget what the lookups learned: the rename must find out itself. */
	fx_remount(fx);
	cr_assert_eq(u_rename(fx, "d", "e", 0), 0);
	cr_assert(real_is_opaque(fx, "upper/e"));
	cr_assert_null(real_xattr(fx, "upper/e/f", MARK));
	cr_assert_eq(strncmp(u_read(fx, "e/f"), "dataxx", 6), 0);
	cr_assert_eq(strncmp(real_read(fx, "upper/e/f"), "dataxx", 6), 0);
}

Test(metacopy, a_reader_open_before_the_data_copy_sees_the_writes_after_it)
{
	struct fx *fx = metacopy_fx();
	struct handle *h;
	char buf[8] = { 0 };

	u_chmod(fx, "d/f", 0600);
	cr_assert_eq(ufs_open(fx->u, u_lookup(fx, "d/f"), O_RDONLY, &h), 0);
	cr_assert_eq(u_open_write(fx, "d/f", O_WRONLY, "DATA"), 0);
	cr_assert_eq(pread(h->fd, buf, 6, 0), 6);
	cr_assert_str_eq(buf, "DATAxx");
	ufs_release(fx->u, h);
}

Test(metacopy, a_later_mount_reads_the_data_below)
{
	struct fx *fx = metacopy_fx();

	u_chmod(fx, "d/f", 0600);
	fx->cfg.metacopy = false;
	fx_remount(fx);
	cr_assert_eq(strncmp(u_read(fx, "d/f"), "dataxx", 6), 0);
	cr_assert_eq(u_stat(fx, "d/f").st_mode & 07777, 0600);
	/* Still a change to the data brings it up, with or without the option. */
	cr_assert_eq(u_open_write(fx, "d/f", O_WRONLY, "D"), 0);
	check_whole(fx, "Dataxx");
}

/* A crash during the data copy leaves part of the data and the mark: the
 * mark still sends reads below. */
Test(metacopy, a_data_copy_cut_short_loses_nothing)
{
	struct fx *fx = metacopy_fx();
	int fd;

	u_chmod(fx, "d/f", 0600);
	fd = open(fx_path(fx, "upper/d/f"), O_WRONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, "da", 2, 0), 2);
	close(fd);
	fx_remount(fx);
	cr_assert_eq(strncmp(u_read(fx, "d/f"), "dataxx", 6), 0);
}

/* overlayfs with metacopy=on moves a metadata-only file by a redirect to
 * where its data lies. */
Test(metacopy, a_file_moved_by_overlayfs_is_read_at_its_redirect)
{
	struct fx *fx = metacopy_fx();
	int fd;

	put_whiteout(fx, "upper/d/f");
	put_dir(fx, "upper/e");
	fd = open(fx_path(fx, "upper/e/g"), O_WRONLY | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 65535), 0);
	close(fd);
	cr_assert_eq(lsetxattr(fx_path(fx, "upper/e/g"), MARK, "", 0, 0), 0);
	put_xattr(fx, "upper/e/g", "trusted.overlay.redirect", "/d/f");
	fx_remount(fx);
	cr_assert_eq(strncmp(u_read(fx, "e/g"), "dataxx", 6), 0);
	cr_assert_eq(u_lookup_err(fx, "d/f"), -ENOENT);
}

/* upper/lost: 10 bytes marked metacopy, its data in no layer; remounted. */
static void put_lost_metacopy(struct fx *fx)
{
	int fd = open(fx_path(fx, "upper/lost"), O_WRONLY | O_CREAT, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 10), 0);
	close(fd);
	cr_assert_eq(lsetxattr(fx_path(fx, "upper/lost"), MARK, "", 0, 0), 0);
	fx_remount(fx);
}

Test(metacopy, a_file_whose_data_is_nowhere_fails_to_read_but_can_be_removed)
{
	struct fx *fx = metacopy_fx();
	struct handle *h;

	put_lost_metacopy(fx);
	cr_assert_eq(u_stat(fx, "lost").st_size, 10);
	cr_assert_eq(ufs_open(fx->u, u_lookup(fx, "lost"), O_RDONLY, &h), -EIO);
	cr_assert_eq(u_unlink(fx, "lost"), 0);
	cr_assert_not(real_exists(fx, "upper/lost"));
}

/* Emptying a file that holds only metadata reads none of its data. */
Test(metacopy, a_truncation_to_0_needs_no_data)
{
	struct fx *fx = metacopy_fx();
	struct stat attr = { .st_size = 0 }, out;

	put_lost_metacopy(fx);
	cr_assert_eq(ufs_setattr(fx->u, u_lookup(fx, "lost"), &attr, UFS_SET_SIZE, -1, &out), 0);
	cr_assert_eq(out.st_size, 0);
	cr_assert_null(real_xattr(fx, "upper/lost", MARK));
	cr_assert_str_eq(u_read(fx, "lost"), "");
}
