/* Ownership the daemon may not set. Without privilege (an ordinary user, or
 * root of a user namespace whose ids do not reach the owner), a copy-up of a
 * root-owned file, or a chown, cannot give the upper file its owner. The
 * owner and mode are then kept in the xattr user.containers.override_stat
 * ("uid:gid:0mode", as containers/storage and fuse-overlayfs write it) and
 * shown through stat, so layers stay interchangeable with those tools. */
#ifndef UNIONFUSE_OWNER_H
#define UNIONFUSE_OWNER_H

#include <stdbool.h>
#include <sys/stat.h>

struct ufs;

#define OWNER_OVERRIDE_XATTR "user.containers.override_stat"

/* The owner and mode recorded for NAME in DIRFD: 0, -ENODATA if none, or
 * -EINVAL for a value that does not parse. */
int owner_override_read(int dirfd, const char *name, uid_t *uid, gid_t *gid, mode_t *mode);
/* Record UID:GID and MODE for NAME in DIRFD, whatever its real owner. */
int owner_override_write(int dirfd, const char *name, uid_t uid, gid_t gid, mode_t mode);
/* Give NAME in DIRFD the owner UID:GID (MODE: its mode, for the override). */
int owner_set(struct ufs *u, int dirfd, const char *name, uid_t uid, gid_t gid, mode_t mode);
/* Record a new MODE where an override holds the owner; 0 if there is none. */
int owner_set_mode(int dirfd, const char *name, mode_t mode);
/* Show a recorded owner and mode in ST (the stat of NAME in DIRFD). */
void owner_apply(const struct ufs *u, int dirfd, const char *name, struct stat *st);
/* Turn the stored owner in ST into the one shown through the mount, by
 * the union's id rules (idmap.h). */
void owner_show(const struct ufs *u, struct stat *st);
/* The stored owner for an owner given by a caller; -1 stays -1. */
uid_t owner_stored_uid(const struct ufs *u, uid_t shown);
gid_t owner_stored_gid(const struct ufs *u, gid_t shown);

#endif
