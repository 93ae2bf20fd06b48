/* Safe opens inside a layer (fs/layers.h): the component walk used where
 * openat2 is missing refuses what openat2(RESOLVE_BENEATH|NO_SYMLINKS|
 * NO_XDEV) refuses, with the same errors, and opens the rest. */
#include "fixture.h"

#include "layers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(layers, .fini = fx_cleanup);

static int layer_root(struct fx *fx)
{
	int fd = open(fx_path(fx, "l0"), O_PATH | O_DIRECTORY | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	return fd;
}

/* Both ways of opening PATH give the same answer: an fd or one errno. */
static void expect_same_answer(int root, const char *path, int flags, int want)
{
	int a = layer_openat(root, path, flags, 0);
	int b = layer_openat_walk(root, path, flags, 0);

	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	cr_expect_eq(a < 0 ? a : 0, want, "openat2 on '%s': %d, expected %d", path, a, want);
	cr_expect_eq(b < 0 ? b : 0, want, "walk on '%s': %d, expected %d", path, b, want);
}

Test(layers, walk_opens_files_and_directories_at_any_depth)
{
	struct fx *fx = fx_new(1);
	int root;

	put_file(fx, "l0/a/b/c/f", "data");
	root = layer_root(fx);
	expect_same_answer(root, "a/b/c/f", O_RDONLY, 0);
	expect_same_answer(root, "a//b/./c", O_PATH | O_DIRECTORY, 0);
	expect_same_answer(root, ".", O_PATH | O_DIRECTORY, 0);
	expect_same_answer(root, "a/missing", O_RDONLY, -ENOENT);
	expect_same_answer(root, "a/b/c/f/x", O_RDONLY, -ENOTDIR);
	close(root);
}

Test(layers, walk_never_follows_a_symlink)
{
	struct fx *fx = fx_new(1);
	int root, fd;

	put_file(fx, "l0/d/f", "data");
	cr_assert_eq(symlink("/etc", fx_path(fx, "l0/etc")), 0);
	cr_assert_eq(symlink("d", fx_path(fx, "l0/alias")), 0);
	cr_assert_eq(symlink("f", fx_path(fx, "l0/d/link")), 0);
	root = layer_root(fx);
	expect_same_answer(root, "etc/passwd", O_RDONLY, -ELOOP);
	expect_same_answer(root, "alias/f", O_RDONLY, -ELOOP);
	expect_same_answer(root, "d/link", O_RDONLY, -ELOOP);
	/* The link itself, as O_PATH|O_NOFOLLOW asks. */
	fd = layer_openat_walk(root, "d/link", O_PATH | O_NOFOLLOW, 0);
	cr_expect_geq(fd, 0);
	if (fd >= 0)
		close(fd);
	close(root);
}

Test(layers, walk_stays_beneath_the_layer)
{
	struct fx *fx = fx_new(1);
	int root;

	put_file(fx, "l0/d/f", "data");
	root = layer_root(fx);
	expect_same_answer(root, "..", O_PATH | O_DIRECTORY, -EXDEV);
	expect_same_answer(root, "d/../../l0/d/f", O_RDONLY, -EXDEV);
	close(root);
}

Test(layers, walk_creates_only_inside)
{
	struct fx *fx = fx_new(1);
	int root, fd;

	put_dir(fx, "l0/d");
	root = layer_root(fx);
	fd = layer_openat_walk(root, "d/new", O_WRONLY | O_CREAT | O_EXCL, 0640);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_expect_eq(real_stat(fx, "l0/d/new").st_mode & 07777, 0640);
	close(root);
}

Test(layers, walk_does_not_cross_into_another_mount)
{
	struct fx *fx = fx_new(1);
	int root;

	put_dir(fx, "l0/mnt");
	if (mount("tmpfs", fx_path(fx, "l0/mnt"), "tmpfs", 0, "size=1m") < 0)
		cr_skip_test("cannot mount a tmpfs here (not root?)");
	root = layer_root(fx);
	expect_same_answer(root, "mnt", O_PATH | O_DIRECTORY, -EXDEV);
	close(root);
	umount2(fx_path(fx, "l0/mnt"), MNT_DETACH);
}

/* layer_chmod changes the entry itself and never what a symlink names: a
 * symlink in a layer could name any file of the machine. */
Test(layers, chmod_changes_the_entry_and_refuses_a_symlink)
{
	struct fx *fx = fx_new(1);
	struct stat st;
	int root;

	put_file(fx, "l0/f", "data");
	put_file(fx, "l0/target", "data");
	cr_assert_eq(chmod(fx_path(fx, "l0/target"), 0644), 0);
	cr_assert_eq(symlink("target", fx_path(fx, "l0/link")), 0);
	cr_assert_eq(mkdir(fx_path(fx, "l0/d"), 0755), 0);
	root = layer_root(fx);
	cr_expect_eq(layer_chmod(root, "f", 04710), 0);
	cr_assert_eq(stat(fx_path(fx, "l0/f"), &st), 0);
	cr_expect_eq(st.st_mode & 07777, 04710, "mode %o", st.st_mode & 07777);
	cr_expect_eq(layer_chmod(root, "d", 02700), 0);
	cr_assert_eq(stat(fx_path(fx, "l0/d"), &st), 0);
	cr_expect_eq(st.st_mode & 07777, 02700, "mode %o", st.st_mode & 07777);
	cr_expect_eq(layer_chmod(root, "link", 0777), -EOPNOTSUPP);
	cr_assert_eq(stat(fx_path(fx, "l0/target"), &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0644, "the symlink's target changed: %o",
		     st.st_mode & 07777);
	cr_expect_eq(layer_chmod(root, "missing", 0644), -ENOENT);
	close(root);
}
