/* Forgetting (fs/evict.c): once the kernel has forgotten a directory and
 * everything below it, its merged view is freed, and built again the same
 * when asked: same names, same inode numbers, changes of the upper layer
 * included. What the kernel still holds keeps its view and its ancestors. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(evict, .fini = fx_cleanup);

/* l0: d/a d/b d/sub/x; l1: d/c, d/sub/y and a whiteout of d/b; upper,
 * as an earlier mount left it: d/new, and a whiteout of d/a. */
static void build_changed_tree(struct fx *fx)
{
	put_file(fx, "l0/d/a", "a");
	put_file(fx, "l0/d/b", "b");
	put_file(fx, "l0/d/sub/x", "x");
	put_file(fx, "l1/d/c", "c");
	put_file(fx, "l1/d/sub/y", "y");
	put_whiteout(fx, "l1/d/b");
	put_file(fx, "upper/d/new", "new");
	put_whiteout(fx, "upper/d/a");
	fx_mount(fx);
}

static const char *inodes(struct fx *fx)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%lu %lu %lu %lu %lu", (unsigned long)u_stat(fx, "d").st_ino,
		 (unsigned long)u_stat(fx, "d/c").st_ino, (unsigned long)u_stat(fx, "d/new").st_ino,
		 (unsigned long)u_stat(fx, "d/sub").st_ino, (unsigned long)u_stat(fx, "d/sub/x").st_ino);
	return buf;
}

Test(evict, a_forgotten_directory_is_freed_and_built_again_the_same)
{
	struct fx *fx = fx_new(2);
	char *before_ino;
	struct node *d;

	build_changed_tree(fx);
	cr_assert_str_eq(u_list(fx, "d"), "c new sub");
	cr_assert_str_eq(u_list(fx, "d/sub"), "x y");
	before_ino = strdup(inodes(fx));
	d = u_lookup(fx, "d");
	fx_forget_all(fx);
	/* The root (held for the life of the mount) and its child d. */
	cr_assert_eq(ufs_evict_views(fx->u), 2);
	cr_assert_not(atomic_load(&d->view_built));
	cr_assert_null(d->children);
	cr_assert_eq(u_lookup(fx, "d"), d, "d itself stays in the root's view");
	cr_assert_str_eq(u_list(fx, "d"), "c new sub");
	cr_assert_str_eq(u_list(fx, "d/sub"), "x y");
	cr_assert_str_eq(u_read(fx, "d/new"), "new");
	cr_assert_eq(u_lookup_err(fx, "d/a"), -ENOENT);
	cr_assert_eq(u_lookup_err(fx, "d/b"), -ENOENT);
	cr_assert_str_eq(inodes(fx), before_ino);
	free(before_ino);
}

/* A copy-up keeps the number the entry had below; the origin it records
 * gives that number back when the view is built again (origin.c), so the
 * copies go with the rest: files and the directories above them. */
Test(evict, entries_copied_up_during_the_mount_are_freed_and_keep_their_inode_numbers)
{
	struct fx *fx = fx_new(2);
	char *before_ino;
	struct node *d, *sub;

	build_changed_tree(fx);
	cr_assert_eq(u_open_write(fx, "d/sub/x", O_WRONLY | O_APPEND, "+"), 0);
	u_list(fx, "d/sub");
	before_ino = strdup(inodes(fx));
	d = u_lookup(fx, "d");
	sub = u_lookup(fx, "d/sub");
	fx_forget_all(fx);
	ufs_evict_views(fx->u);
	cr_assert_not(atomic_load(&d->view_built), "d, d/sub and d/sub/x were freed");
	cr_assert_str_eq(inodes(fx), before_ino);
	cr_assert_str_eq(u_read(fx, "d/sub/x"), "x+");
	cr_assert_neq(u_lookup(fx, "d/sub"), sub, "built again");
	free(before_ino);
}

/* A copy moved since its copy-up in this mount is found again where its
 * copy-up recorded it was (origin.c): freed, it comes back with its
 * number... */
Test(evict, a_copied_up_file_renamed_is_freed_and_keeps_its_inode_number)
{
	struct fx *fx = fx_new(2);
	struct node *d;
	ino_t ino;

	build_changed_tree(fx);
	cr_assert_eq(u_open_write(fx, "d/sub/x", O_WRONLY | O_APPEND, "+"), 0);
	ino = u_stat(fx, "d/sub/x").st_ino;
	cr_assert_eq(u_rename(fx, "d/sub/x", "d/sub/z", 0), 0);
	d = u_lookup(fx, "d");
	fx_forget_all(fx);
	ufs_evict_views(fx->u);
	cr_assert_not(atomic_load(&d->view_built), "d/sub/z's number comes back: d goes");
	cr_assert_eq(u_stat(fx, "d/sub/z").st_ino, ino);
}

/* ... and so do the names of a file given a second one... */
Test(evict, a_copied_up_file_given_a_second_name_keeps_its_inode_number)
{
	struct fx *fx = fx_new(2);
	ino_t ino;

	build_changed_tree(fx);
	cr_assert_eq(u_open_write(fx, "d/c", O_WRONLY | O_APPEND, "+"), 0);
	ino = u_stat(fx, "d/c").st_ino;
	cr_assert_eq(u_link(fx, "d/c", "d/c2"), 0);
	fx_forget_all(fx);
	ufs_evict_views(fx->u);
	cr_assert_eq(u_stat(fx, "d/c").st_ino, ino);
	cr_assert_eq(u_stat(fx, "d/c2").st_ino, ino);
}

/* ... but a number that might not come back stays with its node: that of
 * a file copied up in an earlier mount (its number came from the name it
 * held, and whether it records a path was not read), renamed in this
 * one... */
Test(evict, a_file_copied_up_before_the_mount_renamed_stays_with_its_inode_number)
{
	struct fx *fx = fx_new(2);
	struct node *d;
	ino_t ino;

	build_changed_tree(fx);
	cr_assert_eq(u_open_write(fx, "d/c", O_WRONLY | O_APPEND, "+"), 0);
	fx_remount(fx);
	ino = u_stat(fx, "d/c").st_ino;
	cr_assert_neq(ino, real_stat(fx, "upper/d/c").st_ino, "the number it had below");
	cr_assert_eq(u_rename(fx, "d/c", "d/c-moved", 0), 0);
	d = u_lookup(fx, "d");
	fx_forget_all(fx);
	ufs_evict_views(fx->u);
	cr_assert(atomic_load(&d->view_built), "d/c-moved keeps its lower st_ino: it stays");
	cr_assert_eq(u_stat(fx, "d/c-moved").st_ino, ino);
}

/* ... while a directory moved with what it holds, copied up whole, records
 * where everything in it was: their numbers come back. */
Test(evict, a_moved_directory_keeps_the_inode_numbers_of_its_entries)
{
	struct fx *fx = fx_new(2);
	ino_t dir_ino, x_ino;

	build_changed_tree(fx);
	dir_ino = u_stat(fx, "d/sub").st_ino;
	x_ino = u_stat(fx, "d/sub/x").st_ino;
	cr_assert_eq(u_rename(fx, "d/sub", "moved", 0), 0);
	fx_forget_all(fx);
	ufs_evict_views(fx->u);
	cr_assert_eq(u_stat(fx, "moved").st_ino, dir_ino);
	cr_assert_eq(u_stat(fx, "moved/x").st_ino, x_ino);
}

Test(evict, a_held_directory_keeps_its_view)
{
	struct fx *fx = fx_new(2);
	struct node *d, *sub;
	struct stat st;

	build_changed_tree(fx);
	u_list(fx, "d/sub");
	sub = u_lookup(fx, "d/sub");
	fx_forget_all(fx);
	cr_assert_eq(ufs_lookup(fx->u, fx->u->root, "d", &d, &st), 0);
	ufs_evict_views(fx->u);
	cr_assert(atomic_load(&d->view_built), "the kernel holds d: its listing stays");
	cr_assert_eq(view_find(d, "sub"), sub);
	cr_assert_not(atomic_load(&sub->view_built), "nobody holds d/sub");
	ufs_forget(fx->u, d, 1);
}

Test(evict, a_held_file_keeps_the_directories_above_it)
{
	struct fx *fx = fx_new(2);
	struct node *d, *sub, *x;
	struct stat st;

	build_changed_tree(fx);
	u_list(fx, "d/sub");
	d = u_lookup(fx, "d");
	sub = u_lookup(fx, "d/sub");
	fx_forget_all(fx);
	cr_assert_eq(ufs_lookup(fx->u, sub, "x", &x, &st), 0);
	ufs_evict_views(fx->u);
	cr_assert_eq(x->parent, sub);
	cr_assert_eq(sub->parent, d);
	cr_assert_eq(view_find(fx->u->root, "d"), d);
	cr_assert(atomic_load(&sub->view_built));
	ufs_forget(fx->u, x, 1);
	cr_assert_eq(ufs_evict_views(fx->u), 2);
	cr_assert_str_eq(u_read(fx, "d/sub/x"), "x");
}

Test(evict, enough_forgotten_nodes_sweep_by_themselves)
{
	struct fx *fx = fx_new(1);
	struct node *d, **files;
	struct stat st;
	char name[32];
	int i, n = UFS_EVICT_MIN - 1;

	files = calloc((size_t)n, sizeof(*files));
	cr_assert(files);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "l0/d/f%05d", i);
		put_file(fx, name, "");
	}
	fx_mount(fx);
	cr_assert_eq(ufs_lookup(fx->u, fx->u->root, "d", &d, &st), 0);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%05d", i);
		cr_assert_eq(ufs_lookup(fx->u, d, name, &files[i], &st), 0);
	}
	for (i = 0; i < n; i++)
		ufs_forget(fx->u, files[i], 1);
	cr_assert(atomic_load(&d->view_built), "d is still held: no sweep yet");
	/* The UFS_EVICT_MIN-th node forgotten: a sweep follows the pause. */
	ufs_forget(fx->u, d, 1);
	for (i = 0; i < 100 && atomic_load(&d->view_built); i++)
		usleep(50000);
	pthread_rwlock_rdlock(&fx->u->lock);
	cr_assert_not(atomic_load(&d->view_built));
	cr_assert_null(d->children);
	pthread_rwlock_unlock(&fx->u->lock);
	free(files);
}
