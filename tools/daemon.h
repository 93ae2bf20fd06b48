/* Running a mount: checks, the FUSE session, the daemon; and unmounting. */
#ifndef UNIONFUSE_DAEMON_H
#define UNIONFUSE_DAEMON_H

#include "cmdline.h"

/* Returns the process exit status. */
int daemon_mount(struct mount_plan *plan);
int daemon_umount(const char *mountpoint);

#endif
