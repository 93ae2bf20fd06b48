/* A larger readahead window for the mount, where the daemon may set it. */
#ifndef UNIONFUSE_READAHEAD_H
#define UNIONFUSE_READAHEAD_H

#include <sys/types.h>

/* The window asked for, in KiB. The kernel reads a file ahead in READ
 * requests of up to this size; 512 KiB takes a quarter of the round trips
 * of the default 128 KiB, and its reply still fits in a pipe of the
 * default maximum size (1 MiB), so libfuse splices it instead of copying:
 * a 1 MiB window measured slower than 128 KiB. */
#define READAHEAD_KIB 512

/* The device number of the FUSE mount at MOUNTPOINT (absolute, no
 * symlinks; the newest one mounted there), read from /proc/self/mountinfo:
 * the daemon must not stat its own mount before it serves it. 0 or -errno. */
int readahead_mount_device(const char *mountpoint, dev_t *dev);

/* Raise the readahead window of the mount whose device ARG points to
 * (a dev_t) to READAHEAD_KIB, through /sys/class/bdi. Call once the kernel
 * has taken the reply to INIT, which would lower it again (a struct
 * ufuse's after_init). Where sysfs may not be written (an ordinary user,
 * a user namespace) the default window stays, and nothing is said. */
void readahead_raise(void *arg);

#endif
