/* Set-id bits and file capabilities dropped on write, truncate and chown:
 * the daemon does it, and tells the kernel so (FUSE_HANDLE_KILLPRIV_V2),
 * which spares a GETXATTR round trip before every write(2). */
#ifndef UNIONFUSE_FUSE_KILLPRIV_H
#define UNIONFUSE_FUSE_KILLPRIV_H

#include "fuse_ops.h"

/* Read and write /dev/fuse through a pass-through that offers the kernel
 * FUSE_HANDLE_KILLPRIV_V2 in the reply to INIT, where libfuse cannot.
 * Call after fuse_session_mount, before the loop; SE's userdata must be
 * the struct ufuse. Returns 0 or -errno (the mount then works without). */
int killpriv_attach(struct fuse_session *se);

/* After a write, truncation or allocation by the caller of REQ: drop the
 * set-id bits of NODE as the kernel would. */
void killpriv_drop_setid(fuse_req_t req, struct node *node);

#endif
