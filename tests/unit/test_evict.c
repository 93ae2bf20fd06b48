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

Test(evict, entries_copied_up_during_the_mount_stay_with_their_inode_numbers)
{
	struct fx *fx = fx_new(2);
	char *before_ino;
	struct node *sub;

	build_changed_tree(fx);
	cr_assert_eq(u_open_write(fx, "d/sub/x", O_WRONLY | O_APPEND, "+"), 0);
	u_list(fx, "d/sub");
	before_ino = strdup(inodes(fx));
	sub = u_lookup(fx, "d/sub");
	fx_forget_all(fx);
	ufs_evict_views(fx->u);
	cr_assert(atomic_load(&sub->view_built), "d/sub/x keeps its lower st_ino: it stays");
	cr_assert_str_eq(inodes(fx), before_ino);
	cr_assert_str_eq(u_read(fx, "d/sub/x"), "x+");
	free(before_ino);
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
