/* Which entries of a READDIRPLUS reply carry attributes: see the header. */
#include "fuse_dirplus.h"

static void remember_bare(struct dirplus *d, uint64_t dir)
{
	unsigned int last = (atomic_load(&d->bare_next) + DIRPLUS_RECENT - 1) % DIRPLUS_RECENT;

	/* A big directory is listed in many requests: one slot will do. */
	if (atomic_load(&d->bare[last]) == dir)
		return;
	atomic_store(&d->bare[atomic_fetch_add(&d->bare_next, 1) % DIRPLUS_RECENT], dir);
}

static bool listed_bare(struct dirplus *d, uint64_t dir)
{
	for (unsigned int i = 0; i < DIRPLUS_RECENT; i++)
		if (atomic_load(&d->bare[i]) == dir)
			return true;
	return false;
}

bool dirplus_files_full(struct dirplus *d, uint64_t dir, uint64_t off)
{
	int left;

	if (d->always_full)
		return true;
	left = atomic_load(&d->full_left);
	if (left > 0) {
		if (off == 0)
			atomic_compare_exchange_strong(&d->full_left, &left, left - 1);
		return true;
	}
	remember_bare(d, dir);
	return false;
}

void dirplus_file_looked_up(struct dirplus *d, uint64_t dir)
{
	if (listed_bare(d, dir))
		atomic_store(&d->full_left, DIRPLUS_FULL_LISTINGS);
}
