/* Which listings give files' attributes (fs/fuse_dirplus.c): bare until a
 * file of a directory just listed bare is looked up, then full for the
 * next DIRPLUS_FULL_LISTINGS listings. Pure bookkeeping: no layers. */
#include <criterion/criterion.h>

#include "fuse_dirplus.h"

/* A listing of DIR from its start; whether its files came full. */
static bool list(struct dirplus *d, uint64_t dir)
{
	return dirplus_files_full(d, dir, 0);
}

Test(dirplus, a_fresh_mount_lists_files_bare)
{
	struct dirplus d = { 0 };

	cr_assert_not(list(&d, 10));
	cr_assert_not(list(&d, 11));
}

Test(dirplus, a_file_looked_up_after_a_bare_listing_makes_the_next_listings_full)
{
	struct dirplus d = { 0 };
	int i;

	cr_assert_not(list(&d, 10));
	dirplus_file_looked_up(&d, 10);
	for (i = 0; i < DIRPLUS_FULL_LISTINGS; i++)
		cr_assert(list(&d, 100 + (uint64_t)i), "listing %d of the spell", i);
	cr_assert_not(list(&d, 999), "the spell lasts %d listings", DIRPLUS_FULL_LISTINGS);
}

Test(dirplus, a_lookup_elsewhere_changes_nothing)
{
	struct dirplus d = { 0 };

	cr_assert_not(list(&d, 10));
	dirplus_file_looked_up(&d, 20); /* cat by path: no listing left anything out */
	cr_assert_not(list(&d, 11));
}

Test(dirplus, the_rest_of_a_listing_does_not_spend_the_spell)
{
	struct dirplus d = { 0 };
	int i;

	cr_assert_not(list(&d, 10));
	dirplus_file_looked_up(&d, 10);
	cr_assert(list(&d, 11));
	for (i = 0; i < 10 * DIRPLUS_FULL_LISTINGS; i++)
		cr_assert(dirplus_files_full(&d, 11, 4096 + (uint64_t)i));
	for (i = 1; i < DIRPLUS_FULL_LISTINGS; i++)
		cr_assert(list(&d, 12));
	cr_assert_not(list(&d, 13));
}

Test(dirplus, only_the_last_directories_listed_bare_count)
{
	struct dirplus d = { 0 };
	uint64_t dir;

	cr_assert_not(list(&d, 10));
	for (dir = 1; dir <= DIRPLUS_RECENT; dir++)
		cr_assert_not(dirplus_files_full(&d, 100 + dir, 0));
	dirplus_file_looked_up(&d, 10); /* listed too long ago */
	cr_assert_not(list(&d, 11));
	dirplus_file_looked_up(&d, 100 + DIRPLUS_RECENT);
	cr_assert(list(&d, 12));
}

Test(dirplus, full_listings_gives_attributes_from_the_first_listing_on)
{
	struct dirplus d = { .always_full = true };
	int i;

	for (i = 0; i < 2 * DIRPLUS_FULL_LISTINGS; i++)
		cr_assert(list(&d, 100 + (uint64_t)i), "listing %d", i);
}
