/* A larger readahead window for the mount, where the daemon may set it. */
#ifndef UNIONFUSE_READAHEAD_H
#define UNIONFUSE_READAHEAD_H

/* The window asked for, in KiB. The kernel reads a file ahead in READ
 * requests of up to this size; 512 KiB takes a quarter of the round trips
 * of the default 128 KiB, and its reply still fits in a pipe of the
 * default maximum size (1 MiB), so libfuse splices it instead of copying:
 * a 1 MiB window measured slower than 128 KiB. */
#define READAHEAD_KIB 512

/* Start a thread that waits for MOUNTPOINT (absolute) to answer, then
 * raises the readahead window of its device to READAHEAD_KIB through
 * /sys/class/bdi. Call once the loop is about to serve: the thread's stat
 * needs it. Where sysfs may not be written (an ordinary user, a user
 * namespace) the default window stays; nothing else changes. */
void readahead_raise_async(const char *mountpoint);

#endif
