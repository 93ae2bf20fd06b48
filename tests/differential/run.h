/* Runs one test case on both sides and says whether they agree. */
#ifndef DIFF_RUN_H
#define DIFF_RUN_H

#include <stdbool.h>

#include "model.h"
#include "util.h"

struct run_cfg {
	const char *fuse_bin;   /* the implementation under test */
	const char *fuse_name;  /* how reports call it */
	bool selftest;          /* kernel overlayfs on both sides, kernel copies */
	bool metacopy;          /* both sides copy metadata only for new attributes */
	bool forget;            /* after every step the kernel forgets what it can,
				 * and the FUSE side frees it (-o evict_after=1) */
	bool inodes;            /* the tested side, mounted again, must show its
				 * entries with the same inode numbers */
	const char *dir;        /* this worker's scratch directory */
	bool trace;             /* print every operation's outcome on both sides */
	volatile long *beat;    /* if set: CLOCK_MONOTONIC seconds of the latest
				 * step, for the parent's watchdog */
};

enum run_status {
	RUN_PASS,
	RUN_MISMATCH,           /* the sides disagree: a finding */
	RUN_SETUP_ERROR,        /* the tester could not build or mount the case */
};

/* Builds both copies of the stack, mounts them, applies the operations to
 * both, comparing results and whole trees after each, and finally mounts
 * the tested side again (its entries keep their inode numbers) and each
 * upper layer under the other implementation. Stops at the first
 * mismatch, which it describes in report; if sig is not NULL, it receives a
 * short kind of that mismatch ("results rmdir ENOTEMPTY 0", "trees link",
 * "inodes after remount", "crosswise unionfuse") for the shrinker to hold
 * on to. */
enum run_status run_case(const struct run_cfg *cfg, const struct testcase *tc,
			 struct strbuf *report, struct strbuf *sig);

#endif
