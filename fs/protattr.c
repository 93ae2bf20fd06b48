/* Immutable and append-only entries (chattr +i, +a), kept as overlayfs
 * keeps them: in overlay.protattr ("i", "a" or "ia") on the upper copy,
 * never as the upper file's own flags, which would stop the union's own
 * work (a copy-up into an immutable directory, a whiteout beside an entry,
 * kernel overlayfs' the same over this upper layer). The flags a lower
 * entry has of its own count as well.
 *
 * The kernel enforces them for a local file before a filesystem is asked;
 * on a FUSE mount it does not know them, so the union refuses, with EPERM
 * as the kernel would: any change to an immutable entry and inside an
 * immutable directory; to an append-only one, a write that does not
 * append, a truncation, a new mode, owner or set time, a new name or
 * removal; inside an append-only directory, a removal. One difference
 * stays: the kernel opens files without asking the daemon (fuse_ops.c), so
 * an open for writing succeeds and its first write fails (an open that
 * truncates fails, as the truncation is a request of its own). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

/* node->prot once read: PROT_KNOWN with the PROT_* bits. */
#define PROT_KNOWN 0x80

/* The bits a protattr value names. */
static int prot_parse(const char *value, ssize_t len)
{
	int prot = 0;
	ssize_t i;

	for (i = 0; i < len; i++)
		prot |= value[i] == 'i' ? PROT_IMMUTABLE : value[i] == 'a' ? PROT_APPEND : 0;
	return prot;
}

/* NODE's bits, from its entry in its top layer. [tree] */
static int prot_read(struct ufs *u, struct node *node)
{
	char value[8];
	struct statx stx;
	struct at at;
	ssize_t len;
	int err = at_open(u, node, node->top, &at);

	if (err)
		return err;
	if (node->top == u->upper) {
		len = overlay_xattr_get(at.dirfd, at.name, "protattr", value, sizeof(value));
		/* A value too long for any flags is no format overlayfs
		 * writes: it ignores it, and so does the union. */
		err = len == -ENODATA || len == -ERANGE ? 0 : len < 0 ? (int)len
							       : prot_parse(value, len);
	} else if (statx(at.dirfd, at.name, AT_SYMLINK_NOFOLLOW, 0, &stx) < 0) {
		err = -errno;
	} else {
		err = (stx.stx_attributes & STATX_ATTR_IMMUTABLE ? PROT_IMMUTABLE : 0) |
		      (stx.stx_attributes & STATX_ATTR_APPEND ? PROT_APPEND : 0);
	}
	at_close(u, &at);
	return err;
}

int protattr_get(struct ufs *u, struct node *node)
{
	uint8_t known = atomic_load(&node->prot);
	int prot;

	if (known & PROT_KNOWN)
		return known & ~PROT_KNOWN;
	/* Only files and directories take these flags. */
	if ((!S_ISREG(node->type) && !S_ISDIR(node->type)) || node->detached)
		return 0;
	prot = prot_read(u, node);
	if (prot >= 0)
		atomic_store(&node->prot, (uint8_t)(PROT_KNOWN | prot));
	return prot;
}

void protattr_none(struct node *node)
{
	atomic_store(&node->prot, PROT_KNOWN);
}

/* The trace line of a refusal: a learner sees why a change gets EPERM. */
static void trace_refusal(struct ufs *u, struct node *node, int prot)
{
	char *path = trace_path(node, NULL);

	trace_line(u, "refused: %s is %s, no such change (EPERM)", path,
		   prot & PROT_IMMUTABLE ? "immutable" : "append-only");
	free(path);
}

/* -EPERM if NODE has any of the bits BITS. [tree] */
static int refuse_if(struct ufs *u, struct node *node, int bits)
{
	int prot = protattr_get(u, node);

	if (prot < 0)
		return prot;
	if (!(prot & bits))
		return 0;
	if (u->trace)
		trace_refusal(u, node, prot & bits);
	return -EPERM;
}

int protattr_may_change(struct ufs *u, struct node *node)
{
	return refuse_if(u, node, PROT_IMMUTABLE | PROT_APPEND);
}

int protattr_may_add_in(struct ufs *u, struct node *dir)
{
	return refuse_if(u, dir, PROT_IMMUTABLE);
}

int protattr_may_remove(struct ufs *u, struct node *dir, struct node *victim)
{
	int err = refuse_if(u, dir, PROT_IMMUTABLE | PROT_APPEND);

	return err ? err : refuse_if(u, victim, PROT_IMMUTABLE | PROT_APPEND);
}

int protattr_may_setattr(struct ufs *u, struct node *node, int to_set)
{
	/* Times set to now are an append-only file's as its writes' are; a
	 * time given is not. */
	bool set_time = ((to_set & UFS_SET_ATIME) && !(to_set & UFS_SET_ATIME_NOW)) ||
			((to_set & UFS_SET_MTIME) && !(to_set & UFS_SET_MTIME_NOW));
	bool changes = set_time ||
		       (to_set & (UFS_SET_MODE | UFS_SET_UID | UFS_SET_GID | UFS_SET_SIZE));

	return refuse_if(u, node, changes ? PROT_IMMUTABLE | PROT_APPEND : PROT_IMMUTABLE);
}

int ufs_may_write(struct ufs *u, struct node *node, bool append)
{
	int bits = append ? PROT_IMMUTABLE : PROT_IMMUTABLE | PROT_APPEND;
	uint8_t known = atomic_load(&node->prot);
	int err;

	/* Every write asks: once known and allowed, without the tree lock. */
	if ((known & PROT_KNOWN) && !(known & bits))
		return 0;
	pthread_rwlock_rdlock(&u->lock);
	err = refuse_if(u, node, bits);
	pthread_rwlock_unlock(&u->lock);
	return err;
}

int protattr_record(struct ufs *u, struct node *node, int prot)
{
	struct at at;
	int err = at_open(u, node, u->upper, &at);

	if (err)
		return err;
	err = protattr_write(at.dirfd, at.name, prot);
	at_close(u, &at);
	if (!err)
		atomic_store(&node->prot, (uint8_t)(PROT_KNOWN | prot));
	return err;
}

int protattr_write(int dirfd, const char *name, int prot)
{
	char value[2];
	size_t len = 0;

	if (prot & PROT_IMMUTABLE)
		value[len++] = 'i';
	if (prot & PROT_APPEND)
		value[len++] = 'a';
	/* None left: the mark goes, from whichever namespace holds it. */
	return len ? overlay_xattr_set(dirfd, name, "protattr", value, len)
		   : overlay_xattr_remove(dirfd, name, "protattr");
}
