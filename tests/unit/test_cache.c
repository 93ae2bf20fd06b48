/* The hashed path cache and inode numbers (DESIGN section 6): a repeated
 * lookup finds the same node, negative answers stay right until the name is
 * created, and st_ino does not change when an entry is copied up. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

TestSuite(cache, .fini = fx_cleanup);

Test(cache, second_lookup_returns_the_same_node)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/d/f", "");
	put_dir(fx, "l1/d");
	fx_mount(fx);
	cr_assert_eq(u_lookup(fx, "d/f"), u_lookup(fx, "d/f"));
	cr_assert_eq(u_lookup(fx, "d"), u_lookup(fx, "d"));
}

Test(cache, lookup_takes_a_reference_each_time)
{
	struct fx *fx = fx_new(1);
	struct node *f;

	put_file(fx, "l0/f", "");
	fx_mount(fx);
	f = u_lookup(fx, "f");
	u_lookup(fx, "f");
	cr_assert_eq(atomic_load(&f->nlookup), 2);
}

Test(cache, missing_name_is_enoent_until_created)
{
	struct fx *fx = fx_new(1);

	put_dir(fx, "l0/d");
	fx_mount(fx);
	cr_assert_eq(u_lookup_err(fx, "d/n"), -ENOENT);
	cr_assert_eq(u_lookup_err(fx, "d/n"), -ENOENT);
	cr_assert_eq(u_create(fx, "d/n", "now"), 0);
	cr_assert_eq(u_lookup_err(fx, "d/n"), 0);
	cr_assert_str_eq(u_read(fx, "d/n"), "now");
	cr_assert_str_eq(u_list(fx, "d"), "n");
}

Test(cache, missing_dir_is_found_after_mkdir)
{
	struct fx *fx = fx_new(1);

	fx_mount(fx);
	cr_assert_eq(u_lookup_err(fx, "n"), -ENOENT);
	cr_assert_eq(u_mkdir(fx, "n"), 0);
	cr_assert(S_ISDIR(u_stat(fx, "n").st_mode));
	cr_assert_str_eq(u_list(fx, "n"), "");
}

Test(cache, name_is_enoent_after_unlink)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/f", "");
	fx_mount(fx);
	cr_assert_eq(u_lookup_err(fx, "f"), 0);
	cr_assert_str_eq(u_list(fx, ""), "f");
	cr_assert_eq(u_unlink(fx, "f"), 0);
	cr_assert_eq(u_lookup_err(fx, "f"), -ENOENT);
	cr_assert_str_eq(u_list(fx, ""), "");
}

Test(cache, rename_moves_the_cached_name)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/a", "");
	fx_mount(fx);
	cr_assert_eq(u_lookup_err(fx, "b"), -ENOENT);
	cr_assert_eq(u_lookup_err(fx, "a"), 0);
	cr_assert_eq(u_rename(fx, "a", "b", 0), 0);
	cr_assert_eq(u_lookup_err(fx, "a"), -ENOENT);
	cr_assert_eq(u_lookup_err(fx, "b"), 0);
}

Test(cache, st_ino_is_stable_across_copy_up)
{
	struct fx *fx = fx_new(1);
	struct stat before, after;

	put_file(fx, "l0/d/f", "data");
	fx_mount(fx);
	before = u_stat(fx, "d/f");
	cr_assert_eq(u_open_write(fx, "d/f", O_WRONLY | O_APPEND, "+"), 0);
	after = u_stat(fx, "d/f");
	cr_assert(real_exists(fx, "upper/d/f"));
	cr_assert_eq(after.st_ino, before.st_ino);
	cr_assert_eq(after.st_size, 5);
}

Test(cache, directory_st_ino_is_stable_across_copy_up)
{
	struct fx *fx = fx_new(1);
	ino_t before;

	put_dir(fx, "l0/d");
	fx_mount(fx);
	before = u_stat(fx, "d").st_ino;
	cr_assert_eq(u_create(fx, "d/n", ""), 0);
	cr_assert(real_exists(fx, "upper/d"));
	cr_assert_eq(u_stat(fx, "d").st_ino, before);
}

Test(cache, hard_links_in_one_lower_share_st_ino_and_count_two)
{
	struct fx *fx = fx_new(1);
	struct stat a, b;

	put_file(fx, "l0/a", "same");
	put_dir(fx, "l0/sub");
	cr_assert(link(fx_path(fx, "l0/a"), fx_path(fx, "l0/sub/b")) == 0);
	fx_mount(fx);
	a = u_stat(fx, "a");
	b = u_stat(fx, "sub/b");
	cr_assert_eq(a.st_ino, b.st_ino);
	cr_assert_eq(a.st_nlink, 2);
	cr_assert_eq(b.st_nlink, 2);
}

Test(cache, readdir_inode_numbers_match_getattr)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/d/a", "");
	put_file(fx, "l1/d/b", "");
	put_file(fx, "upper/d/c", "");
	fx_mount(fx);
	cr_assert_eq(u_expect_listing_inos(fx, "d"), 3);
}

Test(cache, distinct_files_of_distinct_layers_have_distinct_st_ino)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "l0/a", "");
	put_file(fx, "l1/b", "");
	put_file(fx, "upper/c", "");
	fx_mount(fx);
	cr_assert_neq(u_stat(fx, "a").st_ino, u_stat(fx, "b").st_ino);
	cr_assert_neq(u_stat(fx, "b").st_ino, u_stat(fx, "c").st_ino);
	cr_assert_neq(u_stat(fx, "a").st_ino, u_stat(fx, "c").st_ino);
}

Test(cache, listing_is_rebuilt_after_changes)
{
	struct fx *fx = fx_new(1);

	put_file(fx, "l0/d/a", "");
	fx_mount(fx);
	cr_assert_str_eq(u_list(fx, "d"), "a");
	cr_assert_eq(u_create(fx, "d/b", ""), 0);
	cr_assert_str_eq(u_list(fx, "d"), "a b");
	cr_assert_eq(u_unlink(fx, "d/a"), 0);
	cr_assert_str_eq(u_list(fx, "d"), "b");
	cr_assert_eq(u_rename(fx, "d/b", "d/c", 0), 0);
	cr_assert_str_eq(u_list(fx, "d"), "c");
}

Test(cache, st_ino_of_a_lower_on_another_filesystem_is_stable_across_copy_up)
{
	struct fx *fx = fx_new(1);
	struct stat before, after;

	fx_lower_elsewhere(fx, 0);
	put_file(fx, "l0/d/f", "data");
	put_file(fx, "l0/d/g", "");
	fx_mount(fx);
	before = u_stat(fx, "d/f");
	cr_assert_neq(u_stat(fx, "d/g").st_ino, before.st_ino);
	cr_assert_eq(u_open_write(fx, "d/f", O_WRONLY | O_APPEND, "+"), 0);
	after = u_stat(fx, "d/f");
	cr_assert_eq(after.st_ino, before.st_ino);
	cr_assert_str_eq(real_read(fx, "upper/d/f"), "data+");
}

Test(cache, hard_links_in_a_lower_on_another_filesystem_share_st_ino)
{
	struct fx *fx = fx_new(1);

	fx_lower_elsewhere(fx, 0);
	put_file(fx, "l0/a", "same");
	cr_assert(link(fx_path(fx, "l0/a"), fx_path(fx, "l0/b")) == 0);
	put_file(fx, "l0/c", "other");
	fx_mount(fx);
	cr_assert_eq(u_stat(fx, "a").st_ino, u_stat(fx, "b").st_ino);
	cr_assert_neq(u_stat(fx, "a").st_ino, u_stat(fx, "c").st_ino);
	cr_assert_eq(u_stat(fx, "b").st_nlink, 2);
}

struct lookers {
	struct fx *fx;
	int failures;
};

static void *look_everywhere(void *arg)
{
	struct lookers *l = arg;
	char name[16];
	int i;

	for (i = 0; i < 300; i++) {
		struct node *dir, *child;
		struct stat st;

		snprintf(name, sizeof(name), "f%03d", i);
		dir = l->fx->u->root;
		if (ufs_lookup(l->fx->u, dir, "d", &dir, &st) != 0) {
			__atomic_add_fetch(&l->failures, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (ufs_lookup(l->fx->u, dir, name, &child, &st) != 0)
			__atomic_add_fetch(&l->failures, 1, __ATOMIC_RELAXED);
		else
			ufs_forget(l->fx->u, child, 1);
		ufs_forget(l->fx->u, dir, 1);
	}
	return NULL;
}

Test(cache, concurrent_lookups_on_a_fresh_mount_all_succeed)
{
	struct fx *fx = fx_new(3);
	struct lookers l = { fx, 0 };
	pthread_t threads[8];
	char rel[32];
	int i;

	for (i = 0; i < 300; i++) {
		snprintf(rel, sizeof(rel), "l%d/d/f%03d", i % 3, i);
		put_file(fx, rel, "");
	}
	fx_mount(fx);
	for (i = 0; i < 8; i++)
		cr_assert(pthread_create(&threads[i], NULL, look_everywhere, &l) == 0);
	for (i = 0; i < 8; i++)
		pthread_join(threads[i], NULL);
	cr_assert_eq(l.failures, 0);
	cr_assert_eq(strlen(u_list(fx, "d")), 300 * 5 - 1);
}

struct mixed {
	struct fx *fx;
	int id;
	int failures;
};

static void count_failure(struct mixed *m)
{
	__atomic_add_fetch(&m->failures, 1, __ATOMIC_RELAXED);
}

/* Writers copy up files of their own; readers list and look up meanwhile. */
static void *write_or_read(void *arg)
{
	struct mixed *m = arg;
	struct ufs *u = m->fx->u;
	char name[16];
	int i;

	for (i = 0; i < 50; i++) {
		struct node *dir, *f;
		struct dir_snapshot *snap;
		struct handle *h;
		struct stat st;

		if (ufs_lookup(u, u->root, "d", &dir, &st) != 0) {
			count_failure(m);
			continue;
		}
		snprintf(name, sizeof(name), "f%d-%02d", m->id % 4, i);
		if (ufs_lookup(u, dir, name, &f, &st) != 0) {
			count_failure(m);
		} else {
			int flags = m->id < 4 ? O_WRONLY | O_APPEND : O_RDONLY;

			if (ufs_open(u, f, flags, &h) != 0)
				count_failure(m);
			else
				ufs_release(u, h);
			ufs_forget(u, f, 1);
		}
		if (ufs_opendir(u, dir, &snap) != 0)
			count_failure(m);
		else {
			if (ufs_readdir_start(u, dir, snap) != 0)
				count_failure(m);
			ufs_releasedir(snap);
		}
		ufs_forget(u, dir, 1);
	}
	return NULL;
}

Test(cache, concurrent_copy_ups_and_lookups_agree)
{
	struct fx *fx = fx_new(2);
	struct mixed m[8];
	pthread_t threads[8];
	char rel[32];
	int i, j;

	for (i = 0; i < 4; i++)
		for (j = 0; j < 50; j++) {
			snprintf(rel, sizeof(rel), "l%d/d/f%d-%02d", j % 2, i, j);
			put_file(fx, rel, "x");
		}
	fx_mount(fx);
	for (i = 0; i < 8; i++) {
		m[i] = (struct mixed){ fx, i, 0 };
		cr_assert(pthread_create(&threads[i], NULL, write_or_read, &m[i]) == 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(threads[i], NULL);
		cr_expect_eq(m[i].failures, 0, "thread %d", i);
	}
	cr_assert_str_eq(real_list(fx, "upper"), "d");
	cr_assert_eq(strlen(u_list(fx, "d")), 200 * 6 - 1);
	cr_assert_eq(strlen(real_list(fx, "upper/d")), 200 * 6 - 1);
}
