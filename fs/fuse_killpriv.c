/* Who drops set-id bits and file capabilities when a file changes.
 *
 * Left to itself, FUSE's kernel side asks the daemon for the file's
 * security.capability before every write(2), to know whether to remove it:
 * a GETXATTR round trip per write, as many as the writes themselves. With
 * FUSE_HANDLE_KILLPRIV_V2 the kernel leaves that to the daemon and keeps,
 * until the file's attributes change, the knowledge that there is nothing
 * to remove (S_NOSEC): a stream of writes costs one GETXATTR, not one per
 * write, and a chown no longer re-reads the file's attributes first.
 *
 * The daemon then does what the kernel did. The upper layer's filesystem
 * already does most of it, on the upper file the daemon changes: it removes
 * security.capability on a write, truncate or chown, and set-id bits on a
 * chown. What is left is set-id bits on a write, truncate or allocation by
 * a caller without CAP_FSETID (killpriv_drop_setid), which the daemon, that
 * has the capability, does not get from its filesystem, and the set-id bits
 * kept in an owner override on a chown (inode.c, mode_after_chown).
 *
 * libfuse 3.14 (Debian 12) cannot ask for the flag: it predates it (3.16
 * has FUSE_CAP_HANDLE_KILLPRIV_V2). So the daemon talks to /dev/fuse through
 * fuse_session_custom_io, passing every message through unchanged except
 * the reply to INIT, where it sets the flag if the kernel offered it (and
 * after which it calls the ufuse's after_init hook). */
#include "fuse_killpriv.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef FUSE_HANDLE_KILLPRIV_V2
#define FUSE_HANDLE_KILLPRIV_V2 (1u << 28)
#endif

/* ------------------------------------------------------------ negotiation */

/* Before INIT is answered libfuse reads requests with read(2), not splice:
 * the INIT request passes here, and its flags say what the kernel offers. */
static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	struct ufuse *f = userdata;
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *in = buf;
	const struct fuse_init_in *init = (const void *)(in + 1);

	if (!atomic_load(&f->init_seen) &&
	    n >= (ssize_t)(sizeof(*in) + offsetof(struct fuse_init_in, flags) + sizeof(init->flags)) &&
	    in->opcode == FUSE_INIT) {
		f->init_unique = in->unique;
		f->kernel_offers_killpriv_v2 = init->flags & FUSE_HANDLE_KILLPRIV_V2;
		atomic_store(&f->init_seen, true);
	}
	return n;
}

/* libfuse writes the reply to INIT as two pieces, the header and the
 * struct fuse_init_out: the flag is set in a copy of the second. A reply
 * of any other shape passes unchanged, and the kernel is not told. */
static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct ufuse *f = userdata;
	const struct fuse_out_header *out = iov[0].iov_base;
	struct fuse_init_out init;
	struct iovec patched[2];
	ssize_t n;

	if (!atomic_load(&f->init_seen) || atomic_load(&f->init_answered) || count != 2 ||
	    iov[0].iov_len != sizeof(*out) || out->unique != f->init_unique || out->error != 0 ||
	    iov[1].iov_len > sizeof(init) ||
	    iov[1].iov_len < offsetof(struct fuse_init_out, flags) + sizeof(init.flags))
		return writev(fd, iov, count);
	atomic_store(&f->init_answered, true);
	if (f->kernel_offers_killpriv_v2) {
		memcpy(&init, iov[1].iov_base, iov[1].iov_len);
		init.flags |= FUSE_HANDLE_KILLPRIV_V2;
		patched[0] = iov[0];
		patched[1] = (struct iovec){ .iov_base = &init, .iov_len = iov[1].iov_len };
		iov = patched;
	}
	n = writev(fd, iov, 2);
	/* The kernel has applied the reply when writev returns. */
	if (n >= 0 && f->after_init)
		f->after_init(f->after_init_arg);
	return n;
}

static ssize_t io_splice(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
			 unsigned int flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

static const struct fuse_custom_io killpriv_io = {
	.read = io_read,
	.writev = io_writev,
	.splice_receive = io_splice,
	.splice_send = io_splice,
};

int killpriv_attach(struct fuse_session *se)
{
	return fuse_session_custom_io(se, &killpriv_io, fuse_session_fd(se));
}

/* ------------------------------------------------------------ set-id bits */

static bool caller_in_group(fuse_req_t req, gid_t gid)
{
	gid_t groups[64];
	int n, i;

	if (fuse_req_ctx(req)->gid == gid)
		return true;
	n = fuse_req_getgroups(req, 64, groups);
	for (i = 0; i < n && i < 64; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

static bool same_user_ns(pid_t pid)
{
	char path[64];
	struct stat mine, theirs;

	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	return stat("/proc/self/ns/user", &mine) == 0 && stat(path, &theirs) == 0 &&
	       mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino;
}

/* Whether the caller holds CAP_FSETID, which keeps set-id bits through a
 * write (the kernel's should_remove_suid), read from /proc/PID/status. A
 * caller in another user namespace than the daemon's is taken to lack it
 * (its capabilities there need not reach the file's owner), and so is one
 * the daemon cannot see: dropping a bit is the safe mistake. */
static bool caller_has_fsetid(fuse_req_t req)
{
	pid_t pid = fuse_req_ctx(req)->pid;
	unsigned long long caps;
	char path[64], line[256];
	bool has = false;
	FILE *f;

	if (pid <= 0 || !same_user_ns(pid))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "CapEff: %llx", &caps) == 1) {
			has = caps & (1ULL << CAP_FSETID);
			break;
		}
	}
	fclose(f);
	return has;
}

/* What the kernel does to a file written or truncated by a caller without
 * CAP_FSETID: set-user-ID goes, and set-group-ID if group execute is set or
 * the caller is outside the file's group (Linux 6.2). */
void killpriv_drop_setid(fuse_req_t req, struct node *node)
{
	struct ufuse *f = fuse_req_userdata(req);
	struct stat st, attr = { 0 }, out;
	mode_t drop = 0;

	if (ufs_getattr(f->u, node, &st) < 0 || !S_ISREG(st.st_mode) ||
	    !(st.st_mode & (S_ISUID | S_ISGID)) || caller_has_fsetid(req))
		return;
	if (st.st_mode & S_ISUID)
		drop |= S_ISUID;
	if ((st.st_mode & S_ISGID) && ((st.st_mode & S_IXGRP) || !caller_in_group(req, st.st_gid)))
		drop |= S_ISGID;
	if (!drop)
		return;
	attr.st_mode = st.st_mode & ~drop;
	if (ufs_setattr(f->u, node, &attr, UFS_SET_MODE, -1, &out) == 0 && f->u->attr_changed)
		f->u->attr_changed(f->u->attr_changed_ctx, node);
}
