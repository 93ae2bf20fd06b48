/* Parsing the unionfuse command lines of DESIGN section 8 into one plan. */
#ifndef UNIONFUSE_CMDLINE_H
#define UNIONFUSE_CMDLINE_H

#include <stdbool.h>

#include "idmap.h"
#include "whiteout.h"

struct mount_plan {
	char **lowers;          /* base first */
	int nlowers;
	char *upper, *work, *init;
	char *hostname, *hosts_file, *resolv_file;  /* the init layer to build */
	char *mountpoint;
	bool foreground, debug, read_only, nonempty;
	bool copyup_on_open;    /* OPEN requests kept: see fuse_ops.c op_init */
	bool full_listings;     /* every listing gives files' attributes (fuse_dirplus.h) */
	bool metacopy;          /* new attributes copy no data up (fs/metacopy.c) */
	bool volatile_upper;    /* volatile: copy-up does not sync its data */
	enum wh_format whiteout_format;
	double timeout;
	unsigned long evict_after; /* evict_after=N; 0: the default (fs/evict.c) */
	char *fuse_opts;        /* options handed to the kernel mount, comma-joined */
	bool trace;             /* --trace: tell each union decision */
	char *trace_file;       /* --trace=FILE; NULL: standard error */
	struct idmap uids, gids; /* uidmapping=, gidmapping=, squash_to_* */
	bool squash_to_root;
};

/* Parse `mount ...` (ARGV after the word "mount") or the overlayfs form
 * (ARGV after the program name). Returns 0, or -1 after printing one line. */
int cmdline_parse_mount(int argc, char **argv, struct mount_plan *plan);
int cmdline_parse_overlay_form(int argc, char **argv, struct mount_plan *plan);
/* Parse `run ...` (ARGV after the word "run"): the mount flags and LAYERs,
 * then "--" and the COMMAND, which *COMMAND points to (NULL-terminated, in
 * ARGV). No mountpoint: run makes its own. */
int cmdline_parse_run(int argc, char **argv, struct mount_plan *plan, char ***command);
/* The checks of a whole plan (done by the parsers above except run's) and
 * the defaults that follow from it. Returns 0, or -1 after one line. */
int cmdline_check_plan(struct mount_plan *plan);
void cmdline_free(struct mount_plan *plan);

/* Split "a,b,,c=\"x,y\"" into items: empty items dropped, quoted commas
 * kept. Calls FN for each item; stops at the first non-zero return. */
int cmdline_split_options(const char *opts, int (*fn)(const char *item, void *arg), void *arg);

#endif
