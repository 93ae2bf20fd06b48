/* Which entries of a READDIRPLUS reply carry attributes.
 *
 * The kernel asks for the first part of every listing with READDIRPLUS:
 * with each name, the attributes of what it names, so that a stat(2) or
 * open(2) of it after the listing costs no LOOKUP. Giving them costs the
 * daemon a stat of every entry (on a cold cache, a read of every inode from
 * disk), and a walk that only reads names (find, a shell's globbing, the
 * untracked-file scan of git status) never uses them for files: it goes
 * down into directories and nothing more.
 *
 * So directories always come with their attributes (the walk needs them to
 * go down without a LOOKUP), and files come bare, as a plain READDIR gives
 * them, until the kernel shows it wanted them: a LOOKUP of a file in a
 * directory that was just listed bare. Then the next DIRPLUS_FULL_LISTINGS
 * listings give files' attributes too: ls -l, du or rm -rf pay a LOOKUP
 * per file in one directory, not in all. Leaving attributes out costs a
 * round trip per file used; giving them needlessly costs a stat per file:
 * the first is the dearer mistake, so the full spell is long. A walk that
 * lists a whole tree and only then opens its files by path (find | xargs
 * cat) makes that mistake for every file: -o full_listings is for it. */
#ifndef UNIONFUSE_FUSE_DIRPLUS_H
#define UNIONFUSE_FUSE_DIRPLUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define DIRPLUS_FULL_LISTINGS 128
#define DIRPLUS_RECENT 8 /* directories remembered as listed bare */

/* Lock-free: a race only makes one listing fuller or barer than it would
 * have been, never a wrong one. */
struct dirplus {
	bool always_full;                     /* -o full_listings: set before the mount */
	atomic_int full_left;                 /* listings still to give files' attributes */
	_Atomic uint64_t bare[DIRPLUS_RECENT]; /* directories lately listed bare */
	atomic_uint bare_next;                /* where the next one goes */
};

/* Whether a READDIRPLUS of directory DIR at offset OFF gives the
 * attributes of the files in it (directories always get theirs). A
 * listing starts at offset 0: that is where the full spell is spent. */
bool dirplus_files_full(struct dirplus *d, uint64_t dir, uint64_t off);

/* A LOOKUP of a file (not a directory) in DIR succeeded: if DIR was
 * lately listed bare, the kernel asks for what the listing left out, and
 * the next DIRPLUS_FULL_LISTINGS listings give files' attributes. */
void dirplus_file_looked_up(struct dirplus *d, uint64_t dir);

#endif
