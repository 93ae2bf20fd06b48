/* Whiteouts (DESIGN sections 3 and 4): every format is understood when read
 * from any layer, hides only what lies below its own layer and only its own
 * name; unlink writes the format chosen at mount, and only when needed. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

TestSuite(whiteout, .fini = fx_cleanup);

/* L0 has d/f, L1 whites it out, L2 has d/g and nothing of f. */
static void check_hidden(struct fx *fx)
{
	put_file(fx, "l0/d/f", "base");
	put_file(fx, "l0/d/keep", "");
	put_file(fx, "l2/d/g", "");
	fx_mount(fx);
	cr_assert_eq(u_lookup_err(fx, "d/f"), -ENOENT);
	cr_assert_str_eq(u_list(fx, "d"), "g keep");
}

/* L0 has d/f, L1 whites it out, L2 brings a new d/f above the whiteout. */
static void check_above_shows(struct fx *fx)
{
	put_file(fx, "l0/d/f", "base");
	put_file(fx, "l2/d/f", "new");
	fx_mount(fx);
	cr_assert_str_eq(u_read(fx, "d/f"), "new");
	cr_assert_str_eq(u_list(fx, "d"), "f");
}

Test(whiteout, char_device_hides_name_below)
{
	struct fx *fx = fx_new(3);

	put_whiteout(fx, "l1/d/f");
	check_hidden(fx);
}

Test(whiteout, char_device_does_not_hide_name_above)
{
	struct fx *fx = fx_new(3);

	put_whiteout(fx, "l1/d/f");
	check_above_shows(fx);
}

Test(whiteout, aufs_file_hides_name_below)
{
	struct fx *fx = fx_new(3);

	put_file(fx, "l1/d/.wh.f", "");
	check_hidden(fx);
}

Test(whiteout, aufs_file_does_not_hide_name_above)
{
	struct fx *fx = fx_new(3);

	put_file(fx, "l1/d/.wh.f", "");
	check_above_shows(fx);
}

Test(whiteout, trusted_xattr_file_hides_name_below)
{
	struct fx *fx = fx_new(3);

	put_xwhiteout(fx, "l1/d/f", "trusted");
	check_hidden(fx);
}

Test(whiteout, trusted_xattr_file_does_not_hide_name_above)
{
	struct fx *fx = fx_new(3);

	put_xwhiteout(fx, "l1/d/f", "trusted");
	check_above_shows(fx);
}

Test(whiteout, user_xattr_file_hides_name_below)
{
	struct fx *fx = fx_new(3);

	put_xwhiteout(fx, "l1/d/f", "user");
	check_hidden(fx);
}

Test(whiteout, user_xattr_file_does_not_hide_name_above)
{
	struct fx *fx = fx_new(3);

	put_xwhiteout(fx, "l1/d/f", "user");
	check_above_shows(fx);
}

Test(whiteout, upper_char_device_hides_lower_file)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/f", "base");
	put_whiteout(fx, "upper/f");
	fx_mount(fx);
	cr_assert_eq(u_lookup_err(fx, "f"), -ENOENT);
	cr_assert_str_eq(u_list(fx, ""), "");
}

Test(whiteout, whiteout_of_a_directory_hides_its_whole_tree)
{
	struct fx *fx = fx_new(3);

	put_file(fx, "l0/d/sub/x", "");
	put_whiteout(fx, "l1/d");
	put_file(fx, "l2/d/y", "");
	fx_mount(fx);
	cr_assert_str_eq(u_list(fx, "d"), "y");
	cr_assert_eq(u_lookup_err(fx, "d/sub"), -ENOENT);
}

Test(whiteout, aufs_whiteout_hides_only_its_name_in_its_own_directory)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/a/f", "");
	put_file(fx, "l0/a/g", "");
	put_file(fx, "l0/b/f", "");
	put_file(fx, "l0/f", "");
	put_file(fx, "l0/a/sub/f", "");
	put_file(fx, "l1/a/.wh.f", "");
	fx_mount(fx);
	cr_assert_eq(u_lookup_err(fx, "a/f"), -ENOENT);
	cr_assert_eq(u_lookup_err(fx, "a/g"), 0);
	cr_assert_eq(u_lookup_err(fx, "b/f"), 0);
	cr_assert_eq(u_lookup_err(fx, "f"), 0);
	cr_assert_eq(u_lookup_err(fx, "a/sub/f"), 0);
}

/* OCI layers: ".wh.NAME" beside NAME in one layer says NAME is new in that
 * layer; it hides NAME below, not the layer's own NAME, whatever order
 * readdir returns the two in. Several names make both orders likely. */
Test(whiteout, aufs_whiteout_beside_same_layer_dir_keeps_that_dir_merged)
{
	struct fx *fx = fx_new(3);
	char rel[64], path[64];
	int i;

	for (i = 0; i < 12; i++) {
		snprintf(rel, sizeof(rel), "l0/d%d/base", i);
		put_file(fx, rel, "");
		snprintf(rel, sizeof(rel), "l1/d%d/mid", i);
		put_file(fx, rel, "");
		snprintf(rel, sizeof(rel), "l1/.wh.d%d", i);
		put_file(fx, rel, "");
		snprintf(rel, sizeof(rel), "l2/d%d/top", i);
		put_file(fx, rel, "");
	}
	fx_mount(fx);
	for (i = 0; i < 12; i++) {
		snprintf(path, sizeof(path), "d%d", i);
		char *list = u_list(fx, path);

		cr_expect_str_eq(list, "mid top", "%s lists \"%s\"", path, list);
	}
}

Test(whiteout, aufs_whiteout_beside_same_layer_file_keeps_that_file)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/f", "base");
	put_file(fx, "l1/f", "new");
	put_file(fx, "l1/.wh.f", "");
	fx_mount(fx);
	cr_assert_str_eq(u_read(fx, "f"), "new");
}

Test(whiteout, xattr_file_without_opaque_x_parent_is_a_plain_file)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/d/f", "base");
	put_file(fx, "l1/d/f", "");
	put_xattr(fx, "l1/d/f", "trusted.overlay.whiteout", "");
	fx_mount(fx);
	cr_assert_eq(u_lookup_err(fx, "d/f"), 0);
	cr_assert_str_eq(u_read(fx, "d/f"), "");
}

/* Writing whiteouts */

Test(whiteout, unlink_lower_file_leaves_char_whiteout_and_copies_nothing)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/f", "base");
	put_file(fx, "l0/d/other", "x");
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "d/f"), 0);
	cr_assert(real_is_whiteout(fx, "upper/d/f"));
	cr_assert_str_eq(real_list(fx, "upper/d"), "f");
	cr_assert_eq(u_lookup_err(fx, "d/f"), -ENOENT);
	cr_assert_str_eq(u_list(fx, "d"), "other");
	cr_assert_str_eq(real_read(fx, "l0/d/f"), "base");
}

Test(whiteout, unlink_upper_only_file_leaves_no_whiteout)
{
	struct fx *fx = fx_new(1);

	put_dir(fx, "l0/d");
	fx_mount(fx);
	cr_assert_eq(u_create(fx, "d/f", "mine"), 0);
	cr_assert_eq(u_unlink(fx, "d/f"), 0);
	cr_assert_not(real_exists(fx, "upper/d/f"));
	cr_assert_str_eq(real_list(fx, "upper/d"), "");
	cr_assert_eq(u_lookup_err(fx, "d/f"), -ENOENT);
}

Test(whiteout, unlink_upper_file_shadowing_lower_leaves_whiteout)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/f", "base");
	put_file(fx, "upper/f", "mine");
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "f"), 0);
	cr_assert(real_is_whiteout(fx, "upper/f"));
	cr_assert_eq(u_lookup_err(fx, "f"), -ENOENT);
}

Test(whiteout, aufs_format_unlink_writes_wh_file)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/f", "base");
	fx->cfg.whiteout_format = WH_FORMAT_AUFS;
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "d/f"), 0);
	cr_assert_str_eq(real_list(fx, "upper/d"), ".wh.f");
	cr_assert(S_ISREG(real_stat(fx, "upper/d/.wh.f").st_mode));
	cr_assert_eq(u_lookup_err(fx, "d/f"), -ENOENT);
	cr_assert_str_eq(u_list(fx, "d"), "");
}

Test(whiteout, aufs_format_unlink_of_shadowing_upper_file_writes_wh_file)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/f", "base");
	put_file(fx, "upper/f", "mine");
	fx->cfg.whiteout_format = WH_FORMAT_AUFS;
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "f"), 0);
	cr_assert_str_eq(real_list(fx, "upper"), ".wh.f");
	cr_assert_eq(u_lookup_err(fx, "f"), -ENOENT);
}

Test(whiteout, create_over_char_whiteout_removes_it)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/f", "base");
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "f"), 0);
	cr_assert_eq(u_create(fx, "f", "new"), 0);
	cr_assert(S_ISREG(real_stat(fx, "upper/f").st_mode));
	cr_assert_str_eq(real_read(fx, "upper/f"), "new");
	cr_assert_str_eq(u_read(fx, "f"), "new");
	cr_assert_str_eq(real_list(fx, "upper"), "f");
	cr_assert_str_eq(work_scratch(fx), "");
}

Test(whiteout, create_over_aufs_whiteout_removes_it)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/f", "base");
	fx->cfg.whiteout_format = WH_FORMAT_AUFS;
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "f"), 0);
	cr_assert_eq(u_create(fx, "f", "new"), 0);
	cr_assert_str_eq(real_list(fx, "upper"), "f");
	cr_assert_str_eq(u_read(fx, "f"), "new");
}

Test(whiteout, create_over_whiteout_found_in_upper_at_mount_removes_it)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/f", "base");
	put_file(fx, "l0/g", "base");
	put_whiteout(fx, "upper/f");
	put_file(fx, "upper/.wh.g", "");
	fx_mount(fx);
	cr_assert_eq(u_create(fx, "f", "new f"), 0);
	cr_assert_eq(u_create(fx, "g", "new g"), 0);
	cr_assert_str_eq(real_list(fx, "upper"), "f g");
	cr_assert_str_eq(u_read(fx, "f"), "new f");
	cr_assert_str_eq(u_read(fx, "g"), "new g");
}

Test(whiteout, unlink_of_file_created_over_whiteout_leaves_whiteout_again)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/f", "base");
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "f"), 0);
	cr_assert_eq(u_create(fx, "f", "new"), 0);
	cr_assert_eq(u_unlink(fx, "f"), 0);
	cr_assert(real_is_whiteout(fx, "upper/f"));
	cr_assert_eq(u_lookup_err(fx, "f"), -ENOENT);
}

Test(whiteout, marker_names_cannot_be_created)
{
	struct fx *fx = fx_new(1);

	fx_mount(fx);
	cr_assert_eq(u_create(fx, ".wh.f", ""), -EINVAL);
	cr_assert_eq(u_mkdir(fx, ".wh..wh..opq"), -EINVAL);
	cr_assert_str_eq(real_list(fx, "upper"), "");
}

/* As in a user namespace without the right to make a whiteout device:
 * mknodat fails with EPERM. Linux lets anyone make a 0/0 device these
 * days, so dropping CAP_MKNOD is not enough; seccomp is. */
/* What a kernel before 5.8 refuses an unprivileged caller: mknod of a
 * whiteout, and renameat2 with RENAME_WHITEOUT. */
static void forbid_mknod(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mknodat, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_renameat2, 0, 3),
		/* The flags argument, low 32 bits (little-endian). */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[4])),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, RENAME_WHITEOUT, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(filter) / sizeof(filter[0]), filter };

	cr_assert(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0, "seccomp: %s",
		  strerror(errno));
	cr_assert(mknodat(AT_FDCWD, "/nonexistent-dir/x", S_IFCHR, 0) < 0 && errno == EPERM);
}

Test(whiteout, without_mknod_unlink_falls_back_to_wh_file)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/f", "base");
	put_file(fx, "l0/g", "base");
	put_file(fx, "upper/g", "mine");
	fx_mount(fx);
	forbid_mknod();
	cr_assert_eq(u_unlink(fx, "f"), 0);
	cr_assert_eq(u_unlink(fx, "g"), 0);
	cr_assert_str_eq(real_list(fx, "upper"), ".wh.f .wh.g");
	cr_assert_eq(u_lookup_err(fx, "f"), -ENOENT);
	cr_assert_eq(u_lookup_err(fx, "g"), -ENOENT);
	cr_assert_eq(u_create(fx, "f", "new"), 0);
	cr_assert_str_eq(real_list(fx, "upper"), ".wh.g f");
}

Test(whiteout, without_mknod_rename_falls_back_to_wh_file)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a", "data");
	fx_mount(fx);
	forbid_mknod();
	cr_assert_eq(u_rename(fx, "a", "b", 0), 0);
	cr_assert_str_eq(real_list(fx, "upper"), ".wh.a b");
	cr_assert_eq(u_lookup_err(fx, "a"), -ENOENT);
}

Test(whiteout, aufs_format_falls_back_to_char_device_for_a_255_byte_name)
{
	struct fx *fx = fx_new(1);
	char name[256], rel[300];

	memset(name, 'n', 255);
	name[255] = '\0';
	snprintf(rel, sizeof(rel), "l0/%s", name);
	put_file(fx, rel, "long");
	fx->cfg.whiteout_format = WH_FORMAT_AUFS;
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, name), 0);
	snprintf(rel, sizeof(rel), "upper/%s", name);
	cr_assert(real_is_whiteout(fx, rel));
	cr_assert_eq(u_lookup_err(fx, name), -ENOENT);
	fx_remount(fx);
	cr_assert_eq(u_lookup_err(fx, name), -ENOENT);
}

Test(whiteout, unlink_whiteouts_survive_a_remount)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/f", "");
	put_file(fx, "l0/g", "");
	fx->cfg.whiteout_format = WH_FORMAT_AUFS;
	fx_mount(fx);
	cr_assert_eq(u_unlink(fx, "f"), 0);
	fx->cfg.whiteout_format = WH_FORMAT_OVERLAY;
	fx_remount(fx);
	cr_assert_eq(u_unlink(fx, "g"), 0);
	fx_remount(fx);
	cr_assert_str_eq(u_list(fx, ""), "");
}

/* A 0/0 character device made through the union would read back as a
 * whiteout: either refuse it (overlayfs says EPERM) or keep it visible. */
Test(whiteout, mknod_of_a_0_0_char_device_does_not_become_a_whiteout)
{
	struct fx *fx = fx_new(1);
	struct stat st;
	struct node *n;
	int err;

	put_file(fx, "l0/dev0", "lower file");
	put_dir(fx, "l0/d");
	fx_mount(fx);
	err = ufs_mknod(fx->u, u_lookup(fx, "d"), "dev0", S_IFCHR | 0600, 0, &fx_root, &n, &st);
	if (err == 0) {
		fx_keep(fx, n);
		fx_remount(fx);
		cr_assert_eq(u_lookup_err(fx, "d/dev0"), 0,
			     "mknod c 0 0 succeeded but the entry is gone after a remount");
	}
	cr_assert_str_eq(u_read(fx, "dev0"), "lower file");
}
