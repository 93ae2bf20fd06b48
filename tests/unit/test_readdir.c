/* Listings without an open handle (ufs_readdir_from): read straight from a
 * directory's view, in reads of a given size, each continuing at the offset
 * (cookie) of the last entry the one before returned. */
#include "fixture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(readdir, .fini = fx_cleanup);

/* Every entry takes 1 byte: a budget of N bytes is N entries. */
static size_t one_byte(void *ctx, const char *name)
{
	(void)ctx;
	(void)name;
	return 1;
}

struct listing {
	char **names;
	size_t n, cap;
	uint64_t off;             /* where the next read starts */
	bool done;
};

static void listing_take(struct listing *l, const struct dir_snapshot *part)
{
	size_t i;

	for (i = 0; i < part->count; i++) {
		if (l->n == l->cap) {
			l->cap = l->cap ? 2 * l->cap : 64;
			l->names = realloc(l->names, l->cap * sizeof(*l->names));
			cr_assert_not_null(l->names);
		}
		l->names[l->n++] = strdup(part->entries[i].name);
		l->off = part->entries[i].next_off;
	}
}

/* One read of at most PER entries; false once the listing is over. */
static bool listing_step(struct fx *fx, struct node *dir, struct listing *l, size_t per)
{
	struct readdir_budget budget = { .bytes = per, .entry_size = one_byte };
	struct dir_snapshot part;

	cr_assert_eq(ufs_readdir_from(fx->u, dir, l->off, &budget, &part), 0);
	listing_take(l, &part);
	l->done = part.count == 0;
	ufs_readdir_done(&part);
	return !l->done;
}

static size_t count_of(const struct listing *l, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < l->n; i++)
		n += strcmp(l->names[i], name) == 0;
	return n;
}

static void listing_free(struct listing *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
}

/* d/a0..a199 in l0, d/b0..b199 in l1, d/a5 whited out in l1. */
static struct fx *two_layer_dir(void)
{
	struct fx *fx = fx_new(2);
	char path[64];
	int i;

	for (i = 0; i < 200; i++) {
		snprintf(path, sizeof(path), "l0/d/a%d", i);
		put_file(fx, path, "a");
		snprintf(path, sizeof(path), "l1/d/b%d", i);
		put_file(fx, path, "b");
	}
	put_whiteout(fx, "l1/d/a5");
	fx_mount(fx);
	return fx;
}

Test(readdir, small_reads_list_every_name_once_dots_first)
{
	struct fx *fx = two_layer_dir();
	struct node *dir = u_lookup(fx, "d");
	struct listing l = { 0 };
	char name[32];
	int i;

	while (listing_step(fx, dir, &l, 7))
		;
	cr_assert_eq(l.n, 2 + 399, "%zu entries", l.n);
	cr_assert_str_eq(l.names[0], ".");
	cr_assert_str_eq(l.names[1], "..");
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "a%d", i);
		cr_assert_eq(count_of(&l, name), i == 5 ? 0 : 1, "%s", name);
		snprintf(name, sizeof(name), "b%d", i);
		cr_assert_eq(count_of(&l, name), 1, "%s", name);
	}
	listing_free(&l);
}

Test(readdir, a_read_returns_what_fits)
{
	struct fx *fx = two_layer_dir();
	struct listing l = { 0 };

	listing_step(fx, u_lookup(fx, "d"), &l, 5);
	cr_assert_eq(l.n, 5);
	listing_free(&l);
}

/* Changes during a listing: a removed name is not listed, a new one may be,
 * every other comes exactly once. */
Test(readdir, names_removed_or_added_midway_leave_the_others_listed_once)
{
	struct fx *fx = two_layer_dir();
	struct node *dir = u_lookup(fx, "d");
	struct listing l = { 0 };
	char name[32], path[40];
	int i;

	for (i = 0; i < 10; i++)
		listing_step(fx, dir, &l, 10);
	/* The 100 entries read so far: ., .., then the first 98 names. */
	for (i = 0; i < 200; i += 3) {
		snprintf(path, sizeof(path), "d/b%d", i);
		cr_assert_eq(u_unlink(fx, path), 0);
	}
	cr_assert_eq(u_create(fx, "d/new", "n"), 0);
	while (listing_step(fx, dir, &l, 10))
		;
	for (i = 0; i < 200; i++) {
		bool listed_before = false;
		size_t j;

		snprintf(name, sizeof(name), "b%d", i);
		for (j = 0; j < 100 && j < l.n; j++)
			listed_before |= strcmp(l.names[j], name) == 0;
		if (i % 3 == 0)
			cr_assert_eq(count_of(&l, name), listed_before ? 1 : 0, "removed %s", name);
		else
			cr_assert_eq(count_of(&l, name), 1, "%s", name);
		snprintf(name, sizeof(name), "a%d", i);
		cr_assert_eq(count_of(&l, name), i == 5 ? 0 : 1, "%s", name);
	}
	cr_assert_leq(count_of(&l, "new"), 1);
	listing_free(&l);
}

/* A read may start after a name that is gone since: it goes on with the
 * names after that one. */
Test(readdir, a_read_after_a_removed_name_goes_on_after_it)
{
	struct fx *fx = two_layer_dir();
	struct node *dir = u_lookup(fx, "d");
	struct listing l = { 0 }, rest = { 0 };
	char path[40];

	listing_step(fx, dir, &l, 20);
	snprintf(path, sizeof(path), "d/%s", l.names[19]);
	cr_assert_eq(u_unlink(fx, path), 0);
	rest.off = l.off;
	while (listing_step(fx, dir, &rest, 50))
		;
	cr_assert_eq(l.n + rest.n, 2 + 399, "%zu + %zu", l.n, rest.n);
	cr_assert_eq(count_of(&rest, l.names[19]), 0);
	cr_assert_eq(count_of(&rest, l.names[18]), 0);
	listing_free(&l);
	listing_free(&rest);
}

/* Two listings of one directory at once, in steps of different sizes. */
Test(readdir, two_listings_at_once_each_see_every_name)
{
	struct fx *fx = two_layer_dir();
	struct node *dir = u_lookup(fx, "d");
	struct listing a = { 0 }, b = { 0 };
	bool more_a = true, more_b = true;

	while (more_a || more_b) {
		if (more_a)
			more_a = listing_step(fx, dir, &a, 3);
		if (more_b)
			more_b = listing_step(fx, dir, &b, 11);
	}
	cr_assert_eq(a.n, 2 + 399);
	cr_assert_eq(b.n, 2 + 399);
	listing_free(&a);
	listing_free(&b);
}

/* The name a listing would give next is removed between two reads: the
 * next read does not give it. */
Test(readdir, the_next_name_removed_between_two_reads_is_not_listed)
{
	struct fx *fx = two_layer_dir();
	struct node *dir = u_lookup(fx, "d");
	struct listing all = { 0 }, l = { 0 };
	char path[40];

	while (listing_step(fx, dir, &all, 1000))
		;
	listing_step(fx, dir, &l, 30);
	snprintf(path, sizeof(path), "d/%s", all.names[30]);
	cr_assert_eq(u_unlink(fx, path), 0);
	while (listing_step(fx, dir, &l, 30))
		;
	cr_assert_eq(count_of(&l, all.names[30]), 0, "%s listed after its removal", all.names[30]);
	cr_assert_eq(l.n, all.n - 1);
	listing_free(&all);
	listing_free(&l);
}
