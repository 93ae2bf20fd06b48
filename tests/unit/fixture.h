/* Fixtures for the union library's unit tests: layers built in code in a
 * temporary directory, a union over them, and short helpers that name
 * entries by path.
 *
 * Paths: put_* and real_* take a path inside the fixture's directory, which
 * holds the layers l0 (the base), l1, ... , upper and work ("l1/d/f",
 * "upper/d"). u_* take a path of the merged tree ("d/f"; "" is the root).
 * Strings returned are owned by the fixture. Every node reference taken
 * through the fixture is dropped by fx_cleanup, which each suite installs
 * as its .fini, so a failing assertion leaves nothing behind. */
#ifndef UNIT_FIXTURE_H
#define UNIT_FIXTURE_H

#include <stdbool.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "ufs.h"

#define FX_MAX_LOWERS 8

struct fx {
	char *dir;                    /* the temporary directory */
	int nlowers;
	const char *lowers[FX_MAX_LOWERS];
	struct ufs_config cfg;        /* change before fx_mount if needed */
	struct ufs *u;
	struct node **refs;           /* node references to forget */
	size_t nrefs, refs_cap;
	char *elsewhere;              /* a layer on another filesystem, or NULL */
	char **strs;                  /* strings handed out */
	size_t nstrs, strs_cap;
};

extern const struct ufs_cred fx_root;

/* NLOWERS lower layers l0..l{n-1}, an upper and a work directory. */
struct fx *fx_new(int nlowers);
/* Put lower layer I on another filesystem (tmpfs in /dev/shm); "lI/..."
 * paths still reach it. Before fx_mount. */
void fx_lower_elsewhere(struct fx *fx, int i);
/* The union over them; the test fails if it cannot be set up. */
void fx_mount(struct fx *fx);
/* Drop every node, destroy the union and set it up again. */
void fx_remount(struct fx *fx);
/* Drop every node and destroy the union, leaving its layers to be changed
 * before the next fx_mount. */
void fx_unmount(struct fx *fx);
/* Suite .fini: forget every node, destroy the union, remove the directory. */
void fx_cleanup(void);

const char *fx_path(struct fx *fx, const char *rel);
struct node *fx_keep(struct fx *fx, struct node *node);
/* Drop every node reference taken so far, as the kernel does when it
 * empties its caches. */
void fx_forget_all(struct fx *fx);

/* Building layers. Parent directories are created as needed. */
void put_dir(struct fx *fx, const char *rel);
void put_file(struct fx *fx, const char *rel, const char *data);
void put_whiteout(struct fx *fx, const char *rel);             /* char 0/0 */
/* Zero-size file with NS.overlay.whiteout; its directory gets NS.overlay.opaque=x. */
void put_xwhiteout(struct fx *fx, const char *rel, const char *ns);
void put_xattr(struct fx *fx, const char *rel, const char *name, const char *value);
void put_mtime(struct fx *fx, const char *rel, time_t sec, long nsec);

/* Looking at layers directly. */
bool real_exists(struct fx *fx, const char *rel);
bool real_is_whiteout(struct fx *fx, const char *rel);         /* char 0/0 */
bool real_is_opaque(struct fx *fx, const char *rel);           /* any format */
struct stat real_stat(struct fx *fx, const char *rel);
char *real_read(struct fx *fx, const char *rel);
char *real_xattr(struct fx *fx, const char *rel, const char *name); /* NULL if none */
/* Whether the file REL has no data at all, only a hole (SEEK_DATA). */
bool real_all_hole(struct fx *fx, const char *rel);
/* Everything about the tree REL that a write would change (names, types,
 * modes, owners, sizes, mtimes, ctimes, xattrs, data), one line per entry. */
char *real_snapshot(struct fx *fx, const char *rel);
/* Names in a layer directory, sorted, space-separated, without . and .. */
char *real_list(struct fx *fx, const char *rel);
/* What an operation left in the work directory's scratch area: its names,
 * as real_list, but for the whiteout every whiteout is linked to. */
char *work_scratch(struct fx *fx);
/* Descriptors this process has open (for tests of what the union keeps). */
int fx_count_fds(void);

/* The merged tree. */
struct node *u_lookup(struct fx *fx, const char *path);        /* must succeed */
int u_lookup_err(struct fx *fx, const char *path);             /* 0 or -errno */
struct node *u_parent(struct fx *fx, const char *path, const char **base);
struct stat u_stat(struct fx *fx, const char *path);
char *u_read(struct fx *fx, const char *path);
char *u_list(struct fx *fx, const char *path);
/* Expect the listing of the directory PATH to give each entry the st_ino
 * its stat gives; returns how many entries it checked (not . and ..). */
size_t u_expect_listing_inos(struct fx *fx, const char *path);
int u_create(struct fx *fx, const char *path, const char *data);
int u_mkdir(struct fx *fx, const char *path);
int u_unlink(struct fx *fx, const char *path);
int u_rmdir(struct fx *fx, const char *path);
int u_rename(struct fx *fx, const char *from, const char *to, unsigned int flags);
int u_link(struct fx *fx, const char *from, const char *to);   /* the new name kept */
int u_open_write(struct fx *fx, const char *path, int flags, const char *data);

#endif
