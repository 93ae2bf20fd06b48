/* Inode flags, as lsattr shows them and chattr sets them (FS_IOC_GETFLAGS,
 * FS_IOC_SETFLAGS; FS_IOC_FSGETXATTR and FS_IOC_FSSETXATTR, the form
 * xfs_io uses): read from the entry of the top layer, changed on the upper
 * copy after a copy-up of the metadata, as overlayfs does. Immutable and
 * append-only go to overlay.protattr instead, and the union enforces them
 * (protattr.c). A copy-up carries the lower entry's sync and noatime flags
 * (overlayfs' own choice: the flags that change how a file behaves, not
 * how it is stored), and its immutable and append-only ones as protattr.
 *
 * The kernel checks the caller before a change reaches the daemon: its
 * owner or CAP_FOWNER, CAP_LINUX_IMMUTABLE to change i or a, project ids
 * only from the initial user namespace. What a filesystem checks against
 * the daemon's own privileges it cannot, so only flags that need none may
 * change here. Refused with EOPNOTSUPP: data journaling (CAP_SYS_RESOURCE,
 * checked on the daemon) and case folding (the union merges directories by
 * exact name). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The flags a caller may change through the union. */
#define CHANGEABLE_FL (FS_SECRM_FL | FS_UNRM_FL | FS_COMPR_FL | FS_SYNC_FL | FS_NODUMP_FL | \
		       FS_NOATIME_FL | FS_NOCOMP_FL | FS_DIRSYNC_FL | FS_NOTAIL_FL | \
		       FS_TOPDIR_FL | FS_NOCOW_FL | FS_PROJINHERIT_FL | FS_DAX_FL)
#define CHANGEABLE_XFLAG (FS_XFLAG_SYNC | FS_XFLAG_NOATIME | FS_XFLAG_NODUMP | \
			  FS_XFLAG_NODEFRAG | FS_XFLAG_PROJINHERIT | FS_XFLAG_DAX)
/* What a copy-up carries over (overlayfs' OVL_COPY_FS_FLAGS_MASK). */
#define COPIED_FL (FS_SYNC_FL | FS_NOATIME_FL)
/* Kept in overlay.protattr, never on the upper file. */
#define PROT_FL (FS_IMMUTABLE_FL | FS_APPEND_FL)
#define PROT_XFLAG (FS_XFLAG_IMMUTABLE | FS_XFLAG_APPEND)

/* Errors that say a filesystem keeps no such flags. */
static bool no_fileattr(int err)
{
	return err == ENOTTY || err == EOPNOTSUPP || err == EINVAL;
}

/* Open the entry NAME of DIRFD for an ioctl, without waiting on a fifo or
 * following a symlink. */
static int open_entry(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int fileattr_copy(int srcdirfd, const char *srcname, int dstdirfd, const char *dstname)
{
	unsigned int flags, copy;
	int fd = open_entry(srcdirfd, srcname), err;

	/* A lower entry the daemon may not open (an ordinary user's daemon
	 * and a root-only file) keeps its flags below. */
	if (fd == -EACCES || fd == -EPERM)
		return 0;
	if (fd < 0)
		return fd;
	err = ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0 ? -errno : 0;
	close(fd);
	if (!err && (flags & PROT_FL))
		err = protattr_write(dstdirfd, dstname,
				     (flags & FS_IMMUTABLE_FL ? PROT_IMMUTABLE : 0) |
				     (flags & FS_APPEND_FL ? PROT_APPEND : 0));
	if (err || !(flags & COPIED_FL))
		return no_fileattr(-err) ? 0 : err;
	fd = open_entry(dstdirfd, dstname);
	if (fd < 0)
		return fd;
	err = ioctl(fd, FS_IOC_GETFLAGS, &copy) < 0 ? -errno : 0;
	copy = (copy & ~COPIED_FL) | (flags & COPIED_FL);
	if (!err && ioctl(fd, FS_IOC_SETFLAGS, &copy) < 0)
		err = -errno;
	close(fd);
	return no_fileattr(-err) ? 0 : err;
}

/* The two forms of the same attributes, and how a change of one applies. */
union fileattr_value {
	unsigned int flags;
	struct fsxattr fsx;
};

struct fileattr_form {
	unsigned long get, set;
	unsigned int immutable, append; /* those two flags in this form */
	/* Whether nothing would change from OLD to WANT. */
	bool (*same)(const union fileattr_value *old, const union fileattr_value *want);
	/* Whether the change from OLD to WANT is one the union makes. */
	bool (*allowed)(const union fileattr_value *old, const union fileattr_value *want);
	/* The upper copy's CUR, with the change from OLD to WANT made: the
	 * flags the caller did not touch stay as the upper file has them
	 * (another filesystem's, after a copy-up, may differ). */
	void (*apply)(union fileattr_value *cur, const union fileattr_value *old,
		      const union fileattr_value *want);
};

static bool flags_same(const union fileattr_value *old, const union fileattr_value *want)
{
	return old->flags == want->flags;
}

static bool flags_allowed(const union fileattr_value *old, const union fileattr_value *want)
{
	return ((old->flags ^ want->flags) & ~(CHANGEABLE_FL | PROT_FL)) == 0;
}

static void flags_apply(union fileattr_value *cur, const union fileattr_value *old,
			const union fileattr_value *want)
{
	unsigned int changed = (old->flags ^ want->flags) & ~PROT_FL;

	cur->flags = (cur->flags & ~changed) | (want->flags & changed);
}

static bool fsx_same(const union fileattr_value *old, const union fileattr_value *want)
{
	return old->fsx.fsx_xflags == want->fsx.fsx_xflags &&
	       old->fsx.fsx_extsize == want->fsx.fsx_extsize &&
	       old->fsx.fsx_projid == want->fsx.fsx_projid &&
	       old->fsx.fsx_cowextsize == want->fsx.fsx_cowextsize;
}

/* Project ids go through: the kernel allowed the caller to change one. */
static bool fsx_allowed(const union fileattr_value *old, const union fileattr_value *want)
{
	return ((old->fsx.fsx_xflags ^ want->fsx.fsx_xflags) & ~(CHANGEABLE_XFLAG | PROT_XFLAG)) == 0 &&
	       old->fsx.fsx_extsize == want->fsx.fsx_extsize &&
	       old->fsx.fsx_cowextsize == want->fsx.fsx_cowextsize;
}

static void fsx_apply(union fileattr_value *cur, const union fileattr_value *old,
		      const union fileattr_value *want)
{
	unsigned int changed = (old->fsx.fsx_xflags ^ want->fsx.fsx_xflags) & ~PROT_XFLAG;

	cur->fsx.fsx_xflags = (cur->fsx.fsx_xflags & ~changed) | (want->fsx.fsx_xflags & changed);
	cur->fsx.fsx_projid = want->fsx.fsx_projid;
}

static const struct fileattr_form form_flags = {
	FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_IMMUTABLE_FL, FS_APPEND_FL,
	flags_same, flags_allowed, flags_apply,
};
static const struct fileattr_form form_fsx = {
	FS_IOC_FSGETXATTR, FS_IOC_FSSETXATTR, FS_XFLAG_IMMUTABLE, FS_XFLAG_APPEND,
	fsx_same, fsx_allowed, fsx_apply,
};

/* The word of V that holds the flags. */
static unsigned int *flag_word(const struct fileattr_form *form, union fileattr_value *v)
{
	return form == &form_flags ? &v->flags : &v->fsx.fsx_xflags;
}

/* The PROT_* bits V says. */
static int prot_in(const struct fileattr_form *form, const union fileattr_value *v)
{
	unsigned int word = form == &form_flags ? v->flags : v->fsx.fsx_xflags;

	return (word & form->immutable ? PROT_IMMUTABLE : 0) |
	       (word & form->append ? PROT_APPEND : 0);
}

/* NODE's entry in LAYER, opened for an ioctl: an fd or -errno. [tree] */
static int open_in(struct ufs *u, struct node *node, int layer)
{
	struct at at;
	int fd, err = at_open(u, node, layer, &at);

	if (err)
		return err;
	fd = open_entry(at.dirfd, at.name);
	at_close(u, &at);
	return fd;
}

/* NODE's attributes in LAYER, in FORM. [tree] */
static int read_in(struct ufs *u, struct node *node, int layer, const struct fileattr_form *form,
		   union fileattr_value *out)
{
	int fd, err = 0;

	if (!S_ISREG(node->type) && !S_ISDIR(node->type))
		return -ENOTTY;
	fd = open_in(u, node, layer);
	if (fd < 0)
		return fd;
	if (ioctl(fd, form->get, out) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* NODE's attributes as the union shows them: its top entry's, with the
 * immutable and append-only flags of protattr.c. [tree] */
static int read_shown(struct ufs *u, struct node *node, const struct fileattr_form *form,
		      union fileattr_value *out)
{
	int prot, err = read_in(u, node, node->top, form, out);

	if (err || node->top != u->upper)
		return err;
	prot = protattr_get(u, node);
	if (prot < 0)
		return prot;
	*flag_word(form, out) &= ~(form->immutable | form->append);
	*flag_word(form, out) |= (prot & PROT_IMMUTABLE ? form->immutable : 0) |
				 (prot & PROT_APPEND ? form->append : 0);
	return 0;
}

static int get_attr(struct ufs *u, struct node *node, const struct fileattr_form *form,
		    union fileattr_value *out)
{
	int err;

	pthread_rwlock_rdlock(&u->lock);
	err = read_shown(u, node, form, out);
	pthread_rwlock_unlock(&u->lock);
	return err;
}

/* Make the change from OLD to WANT on NODE's upper copy. [tree exclusive] */
static int change_upper(struct ufs *u, struct node *node, const struct fileattr_form *form,
			const union fileattr_value *old, const union fileattr_value *want)
{
	union fileattr_value cur;
	int fd, err = copyup_meta(u, node, true);

	if (err)
		return err;
	fd = open_in(u, node, u->upper);
	if (fd < 0)
		return fd;
	if (ioctl(fd, form->get, &cur) < 0)
		err = -errno;
	if (!err) {
		form->apply(&cur, old, want);
		if (ioctl(fd, form->set, &cur) < 0)
			err = -errno;
	}
	close(fd);
	if (!err && prot_in(form, old) != prot_in(form, want))
		err = protattr_record(u, node, prot_in(form, want));
	return err;
}

static int set_attr(struct ufs *u, struct node *node, const struct fileattr_form *form,
		    const union fileattr_value *want)
{
	union fileattr_value old;
	int err;

	if (ufs_read_only(u))
		return -EROFS;
	pthread_rwlock_wrlock(&u->lock);
	err = read_shown(u, node, form, &old);
	/* Nothing to change: no copy-up (chattr sets what it read back). */
	if (err || form->same(&old, want))
		goto out_unlock;
	err = form->allowed(&old, want) ? change_upper(u, node, form, &old, want) : -EOPNOTSUPP;
out_unlock:
	pthread_rwlock_unlock(&u->lock);
	return err;
}

int ufs_getflags(struct ufs *u, struct node *node, unsigned int *flags)
{
	union fileattr_value v;
	int err = get_attr(u, node, &form_flags, &v);

	if (!err)
		*flags = v.flags;
	return err;
}

int ufs_setflags(struct ufs *u, struct node *node, unsigned int flags)
{
	union fileattr_value want = { .flags = flags };

	return set_attr(u, node, &form_flags, &want);
}

int ufs_fsgetxattr(struct ufs *u, struct node *node, struct fsxattr *fsx)
{
	union fileattr_value v;
	int err = get_attr(u, node, &form_fsx, &v);

	if (!err)
		*fsx = v.fsx;
	return err;
}

int ufs_fssetxattr(struct ufs *u, struct node *node, const struct fsxattr *fsx)
{
	union fileattr_value want = { .fsx = *fsx };

	return set_attr(u, node, &form_fsx, &want);
}
