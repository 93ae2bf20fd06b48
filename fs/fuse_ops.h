/* The FUSE low-level operations of unionfuse: a thin layer that turns
 * requests into calls to the union library (ufs.h) and its answers into
 * replies. */
#ifndef UNIONFUSE_FUSE_OPS_H
#define UNIONFUSE_FUSE_OPS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <stdatomic.h>
#include <stdint.h>

#include "fuse_dirplus.h"
#include "fuse_requests.h"
#include "ufs.h"

struct ufuse {
	struct ufs *u;
	double timeout;    /* entry and attribute cache lifetime, seconds */
	bool copyup_on_open; /* keep OPEN requests: copy up at open for writing */
	bool no_open;      /* the kernel opens files without asking (op_init) */
	bool no_opendir;   /* and directories (op_init) */
	struct dirplus dirplus; /* which listings give files' attributes */
	struct fuse_requests requests; /* what the kernel asked since the mount */

	/* The INIT exchange, seen through fuse_killpriv.c's pass-through. */
	atomic_bool init_seen;     /* the INIT request was read */
	atomic_bool init_answered; /* and its reply written */
	uint64_t init_unique;      /* its id; set before init_seen */
	bool kernel_offers_killpriv_v2; /* its flags; set before init_seen */
	/* Optional: called once the kernel has taken the reply to INIT
	 * (what the mount may change only after it: tools/readahead.c). */
	void (*after_init)(void *arg);
	void *after_init_arg;
};

extern const struct fuse_lowlevel_ops ufuse_ops;

/* For ufs->attr_changed and ufs->listing_changed, with the session as
 * context. */
void ufuse_attr_changed(void *session, struct node *node);
void ufuse_listing_changed(void *session, struct node *dir, bool root);

#endif
