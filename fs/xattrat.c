/* Extended attributes of an entry named relative to a directory fd. */
#include "xattrat.h"

#include "layers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

/* One number on every architecture (Linux 6.13). */
#ifndef SYS_setxattrat
#define SYS_setxattrat 463
#endif
#ifndef SYS_getxattrat
#define SYS_getxattrat 464
#endif
#ifndef SYS_listxattrat
#define SYS_listxattrat 465
#endif

/* struct xattr_args of <linux/xattr.h>, which the Debian 12 headers lack. */
struct xattrat_args {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

/* Whether the *xattrat calls answer: 0 not known yet, 1 yes, -1 no. An
 * older kernel says ENOSYS; a seccomp filter that does not know them may
 * say EPERM, which an xattr call also says for its own reasons: so they
 * are tried once, on a name any process may read, and used only if that
 * answers as getxattr would. */
static atomic_int usable;

static bool xattrat_usable(void)
{
	int state = atomic_load_explicit(&usable, memory_order_relaxed);
	struct xattrat_args args = { 0 };

	if (state == 0) {
		long r = syscall(SYS_getxattrat, AT_FDCWD, "/", AT_SYMLINK_NOFOLLOW,
				 "user.unionfuse.probe", &args, sizeof(args));

		state = r >= 0 || errno == ENODATA || errno == ENOTSUP ? 1 : -1;
		atomic_store_explicit(&usable, state, memory_order_relaxed);
	}
	return state > 0;
}

static uint32_t args_size(size_t size)
{
	return size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
}

ssize_t xattrat_get(int dirfd, const char *name, const char *xname, void *value, size_t size)
{
	char path[LAYER_PROC_PATH_MAX];

	if (xattrat_usable()) {
		struct xattrat_args args = { .value = (uintptr_t)value, .size = args_size(size) };

		return syscall(SYS_getxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, xname, &args,
			       sizeof(args));
	}
	layer_proc_path(dirfd, name, path);
	return lgetxattr(path, xname, value, size);
}

int xattrat_set(int dirfd, const char *name, const char *xname, const void *value, size_t size,
		int flags)
{
	char path[LAYER_PROC_PATH_MAX];

	if (xattrat_usable()) {
		struct xattrat_args args = { .value = (uintptr_t)value, .size = args_size(size),
					     .flags = (uint32_t)flags };

		return (int)syscall(SYS_setxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, xname,
				    &args, sizeof(args));
	}
	layer_proc_path(dirfd, name, path);
	return lsetxattr(path, xname, value, size, flags);
}

ssize_t xattrat_list(int dirfd, const char *name, char *list, size_t size)
{
	char path[LAYER_PROC_PATH_MAX];

	if (xattrat_usable())
		return syscall(SYS_listxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, list, size);
	layer_proc_path(dirfd, name, path);
	return llistxattr(path, list, size);
}
