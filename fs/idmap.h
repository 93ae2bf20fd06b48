/* Owners as stored in the layers and owners as shown through the mount.
 *
 * Usually the two are the same. They differ in three cases, all taken
 * from fuse-overlayfs so that a container tool can use either:
 *  - uidmapping=/gidmapping= ranges "A:B:N": the id A+k stored in a
 *    layer is shown as B+k, and a B+k given by a caller (chown, a new
 *    file's owner) is stored as A+k. Ids outside every range are shown as
 *    the overflow id, the kernel's "nobody".
 *  - squash_to_root, squash_to_uid=, squash_to_gid=: every entry is shown
 *    owned by that id; what is stored is left as it is.
 *  - In a user namespace that cannot name some owners (with `unshare -r`
 *    only the caller's own id is mapped), the kernel shows those owners as
 *    the overflow id, and refuses any write or unlink of an inode whose
 *    owner it cannot map back. So, when the overflow id itself is not
 *    mapped in the namespace, the daemon shows it as the namespace's root:
 *    a root-owned image file stays "root:root" to the namespace's root,
 *    which can then change it as it could without the namespace. */
#ifndef UNIONFUSE_IDMAP_H
#define UNIONFUSE_IDMAP_H

#include <stdbool.h>
#include <sys/types.h>

struct id_range {
	unsigned int stored, shown, count;
};

struct idmap {
	struct id_range *ranges;  /* none: ids are shown as stored */
	int nranges;
	bool squash;              /* every entry is shown owned by squash_to */
	unsigned int squash_to;
	unsigned int overflow;    /* the kernel's id for "unknown owner" */
	bool unmapped_as_root;    /* show the overflow id as 0 (see above) */
};

#define IDMAP_OVERFLOW_DEFAULT 65534u

/* A zeroed struct idmap shows ids as stored; idmap_init also sets the
 * usual overflow id, which mapping ranges need. */
void idmap_init(struct idmap *m);
void idmap_free(struct idmap *m);
/* DST becomes a copy of SRC (its own ranges). Returns 0 or -ENOMEM. */
int idmap_copy(struct idmap *dst, const struct idmap *src);

/* Parse "A:B:N[:A:B:N...]" (a leading ':' allowed) into M's ranges.
 * Returns 0 or -EINVAL. */
int idmap_parse(struct idmap *m, const char *spec);

/* Look at this process' user namespace: MAP_FILE is /proc/self/uid_map
 * (or gid_map), OVERFLOW_FILE /proc/sys/kernel/overflowuid (or gid).
 * Sets m->overflow, and m->unmapped_as_root when the namespace maps only
 * part of the ids and not the overflow id. Returns whether it maps every
 * id (the initial namespace, or no namespaces at all). */
bool idmap_detect_namespace(struct idmap *m, const char *map_file, const char *overflow_file);

/* The id to show for an id STORED in a layer. */
unsigned int idmap_shown(const struct idmap *m, unsigned int stored);

/* The id to store for an id SHOWN to the caller (chown, new entries). */
unsigned int idmap_stored(const struct idmap *m, unsigned int shown);

/* The owner a copy-up gives the upper copy of an entry whose lower owner
 * is STORED: the same, unless the namespace cannot name it, in which case
 * the namespace's root, which it is shown as. */
unsigned int idmap_copy_owner(const struct idmap *m, unsigned int stored);

/* Whether any rule above is in force. */
bool idmap_active(const struct idmap *m);

#endif
