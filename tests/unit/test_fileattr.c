/* Inode flags (fileattr.c), as lsattr and chattr see them through the
 * union: read from the top layer, changed on the upper copy, carried by a
 * copy-up as overlayfs carries them (sync, noatime); the protection flags
 * refused. The fixture's directory must be on a filesystem with inode
 * flags (ext4, as /tmp here); the suite checks it first. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

TestSuite(fileattr, .fini = fx_cleanup);

/* The inode flags of REL in the fixture's directory. */
static unsigned int real_flags(struct fx *fx, const char *rel)
{
	unsigned int flags;
	int fd = open(fx_path(fx, rel), O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	cr_assert(fd >= 0, "open %s", rel);
	cr_assert(ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0, "the test needs inode flags in /tmp");
	close(fd);
	return flags;
}

static void put_flags(struct fx *fx, const char *rel, unsigned int add)
{
	unsigned int flags = real_flags(fx, rel) | add;
	int fd = open(fx_path(fx, rel), O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	cr_assert(fd >= 0);
	cr_assert(ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0, "setting flags on %s", rel);
	close(fd);
}

static unsigned int u_flags(struct fx *fx, const char *path)
{
	unsigned int flags;

	cr_assert_eq(ufs_getflags(fx->u, u_lookup(fx, path), &flags), 0, "flags of %s", path);
	return flags;
}

Test(fileattr, flags_are_read_from_the_top_layer)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/f", "base");
	put_file(fx, "l1/f", "app");
	put_dir(fx, "l0/d");
	put_flags(fx, "l1/f", FS_NOATIME_FL);
	put_flags(fx, "l0/d", FS_NODUMP_FL);
	fx_mount(fx);
	cr_assert(u_flags(fx, "f") & FS_NOATIME_FL);
	cr_assert(u_flags(fx, "d") & FS_NODUMP_FL);
	cr_assert_not(u_flags(fx, "") & FS_NODUMP_FL);
}

Test(fileattr, a_change_goes_to_the_upper_copy_and_leaves_the_lower_file)
{
	struct fx *fx = fx_new(1);
	char *before;

	put_file(fx, "l0/d/f", "data");
	fx_mount(fx);
	before = real_snapshot(fx, "l0");
	cr_assert_eq(ufs_setflags(fx->u, u_lookup(fx, "d/f"), u_flags(fx, "d/f") | FS_NODUMP_FL), 0);
	cr_assert(real_flags(fx, "upper/d/f") & FS_NODUMP_FL);
	cr_assert_not(real_flags(fx, "l0/d/f") & FS_NODUMP_FL);
	cr_assert_str_eq(real_snapshot(fx, "l0"), before);
	cr_assert(u_flags(fx, "d/f") & FS_NODUMP_FL);
	cr_assert_str_eq(u_read(fx, "d/f"), "data");
	cr_assert_eq(ufs_setflags(fx->u, u_lookup(fx, "d/f"), u_flags(fx, "d/f") & ~FS_NODUMP_FL), 0);
	cr_assert_not(u_flags(fx, "d/f") & FS_NODUMP_FL);
}

/* chattr writes back what it read when nothing changes. */
Test(fileattr, setting_the_flags_a_file_has_copies_nothing_up)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/f", "data");
	fx_mount(fx);
	cr_assert_eq(ufs_setflags(fx->u, u_lookup(fx, "f"), u_flags(fx, "f")), 0);
	cr_assert_not(real_exists(fx, "upper/f"));
}

Test(fileattr, journaling_and_case_folding_are_refused)
{
	struct fx *fx = fx_new(1);
	unsigned int flags;

	put_file(fx, "l0/f", "data");
	put_dir(fx, "l0/d");
	fx_mount(fx);
	flags = u_flags(fx, "f");
	cr_assert_eq(ufs_setflags(fx->u, u_lookup(fx, "f"), flags | FS_JOURNAL_DATA_FL), -EOPNOTSUPP);
	cr_assert_eq(ufs_setflags(fx->u, u_lookup(fx, "d"), u_flags(fx, "d") | FS_CASEFOLD_FL),
		     -EOPNOTSUPP);
	cr_assert_not(real_exists(fx, "upper/f"));
	cr_assert_not(real_exists(fx, "upper/d"));
}

/* As overlayfs: in overlay.protattr, not on the upper file, which the
 * union must go on changing (protattr.c enforces them). */
Test(fileattr, immutable_and_append_only_go_to_protattr)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/f", "data");
	fx_mount(fx);
	cr_assert_eq(ufs_setflags(fx->u, u_lookup(fx, "f"), u_flags(fx, "f") | FS_IMMUTABLE_FL), 0);
	cr_assert_str_eq(real_xattr(fx, "upper/f", "trusted.overlay.protattr"), "i");
	cr_assert_not(real_flags(fx, "upper/f") & FS_IMMUTABLE_FL);
	cr_assert(u_flags(fx, "f") & FS_IMMUTABLE_FL);
	/* As overlayfs: other flags still change, on the upper file */
	cr_assert_eq(ufs_setflags(fx->u, u_lookup(fx, "f"), u_flags(fx, "f") | FS_NODUMP_FL), 0);
	cr_assert(real_flags(fx, "upper/f") & FS_NODUMP_FL);
	cr_assert_eq(ufs_setflags(fx->u, u_lookup(fx, "f"),
				  (u_flags(fx, "f") & ~FS_IMMUTABLE_FL) | FS_APPEND_FL), 0);
	cr_assert_str_eq(real_xattr(fx, "upper/f", "trusted.overlay.protattr"), "a");
	fx_remount(fx);
	cr_assert_eq(u_flags(fx, "f") & (FS_IMMUTABLE_FL | FS_APPEND_FL), FS_APPEND_FL);
	cr_assert_eq(ufs_setflags(fx->u, u_lookup(fx, "f"), u_flags(fx, "f") & ~FS_APPEND_FL), 0);
	cr_assert_null(real_xattr(fx, "upper/f", "trusted.overlay.protattr"));
}

Test(fileattr, a_copy_up_keeps_noatime_and_sync)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/f", "data");
	put_flags(fx, "l0/d/f", FS_NOATIME_FL | FS_SYNC_FL);
	put_flags(fx, "l0/d", FS_NOATIME_FL);
	fx_mount(fx);
	cr_assert_eq(u_open_write(fx, "d/f", O_WRONLY | O_APPEND, "+"), 0);
	cr_assert_eq(real_flags(fx, "upper/d/f") & (FS_NOATIME_FL | FS_SYNC_FL),
		     FS_NOATIME_FL | FS_SYNC_FL);
	cr_assert(real_flags(fx, "upper/d") & FS_NOATIME_FL);
	cr_assert_str_eq(real_read(fx, "upper/d/f"), "data+");
}

Test(fileattr, only_regular_files_and_directories_have_flags)
{
	struct fx *fx = fx_new(1);
	unsigned int flags;

	put_file(fx, "l0/f", "");
	cr_assert(symlink("f", fx_path(fx, "l0/s")) == 0);
	fx_mount(fx);
	cr_assert_eq(ufs_getflags(fx->u, u_lookup(fx, "s"), &flags), -ENOTTY);
	cr_assert_eq(ufs_setflags(fx->u, u_lookup(fx, "s"), 0), -ENOTTY);
}

Test(fileattr, the_fsxattr_form_reads_and_changes_the_same_flags)
{
	struct fx *fx = fx_new(1);
	struct fsxattr fsx;

	put_file(fx, "l0/f", "data");
	put_flags(fx, "l0/f", FS_NOATIME_FL);
	fx_mount(fx);
	cr_assert_eq(ufs_fsgetxattr(fx->u, u_lookup(fx, "f"), &fsx), 0);
	cr_assert(fsx.fsx_xflags & FS_XFLAG_NOATIME);
	fsx.fsx_xflags |= FS_XFLAG_NODUMP;
	cr_assert_eq(ufs_fssetxattr(fx->u, u_lookup(fx, "f"), &fsx), 0);
	cr_assert_eq(real_flags(fx, "upper/f") & (FS_NODUMP_FL | FS_NOATIME_FL),
		     FS_NODUMP_FL | FS_NOATIME_FL);
	fsx.fsx_xflags |= FS_XFLAG_IMMUTABLE;
	cr_assert_eq(ufs_fssetxattr(fx->u, u_lookup(fx, "f"), &fsx), 0);
	cr_assert_str_eq(real_xattr(fx, "upper/f", "trusted.overlay.protattr"), "i");
	cr_assert_eq(ufs_fsgetxattr(fx->u, u_lookup(fx, "f"), &fsx), 0);
	cr_assert(fsx.fsx_xflags & FS_XFLAG_IMMUTABLE);
}

Test(fileattr, a_read_only_union_changes_no_flags)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/f", "");
	fx->cfg.upper = NULL;
	fx_mount(fx);
	cr_assert_eq(ufs_setflags(fx->u, u_lookup(fx, "f"), FS_NODUMP_FL), -EROFS);
}
