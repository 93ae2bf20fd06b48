/* One test case, start to end. Side "a" is always kernel overlayfs, the
 * reference; side "b" is the implementation under test. Each side has its
 * own copy of the stack (dir/k and dir/u), with its own marker formats. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inodes.h"
#include "mount.h"
#include "ops.h"
#include "policy.h"
#include "repro.h"
#include "snapshot.h"
#include "stack_write.h"

struct side {
	const char *name;
	enum fs_kind kind;
	char *dir;              /* stack copy: l*, upper, work, mnt */
	char *mnt;
	int root;               /* fd on mnt while mounted, else -1 */
	struct snapshot snap;   /* the tree after the latest step */
};

struct ctx {
	const struct run_cfg *cfg;
	const struct testcase *tc;
	struct side a, b;
	struct strbuf *report;
	struct strbuf *sig;     /* kind of the first mismatch, see run_case */
	bool diverged;          /* an accepted divergence ended the comparison */
	char *log;
};

/* Notes what kind of mismatch this is, if none was noted before. */
static void set_sig(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_sig(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->sig || c->sig->len)
		return;
	va_start(ap, fmt);
	sb_vaddf(c->sig, fmt, ap);
	va_end(ap);
}

static char *sub(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static int mount_layers(struct ctx *c, enum fs_kind kind, const char *lowers,
			const char *uw, const char *mnt)
{
	char *upper = sub(uw, "upper"), *work = sub(uw, "work");
	struct mount_req req = {
		.kind = kind, .fuse_bin = c->cfg->fuse_bin, .lowers = lowers,
		.nlower = c->tc->stack.nlower, .upper = upper, .work = work,
		.mnt = mnt, .log = c->log, .metacopy = c->cfg->metacopy,
		.evict_eagerly = c->cfg->forget,
	};
	struct strbuf err = { 0 };
	int ret = mount_side(&req, &err);

	if (ret)
		sb_addf(c->report, "  mount failed: %s\n", sb_str(&err));
	sb_free(&err);
	free(upper);
	free(work);
	return ret;
}

static int open_root(struct ctx *c, struct side *s)
{
	s->root = open(s->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->root < 0) {
		sb_addf(c->report, "  open %s (%s): %s\n", s->mnt, s->name, strerror(errno));
		return -1;
	}
	return 0;
}

static int take(struct ctx *c, struct side *s, int root)
{
	int err;

	snapshot_free(&s->snap);
	err = snapshot_take(root, &s->snap);
	if (err)
		sb_addf(c->report, "  snapshot of %s: %s\n", s->name, strerror(-err));
	return err;
}

/* Compares the two trees; describes the difference under heading unless
 * the difference is an accepted one (accept: see policy_one_file_rename). */
static bool trees_differ(struct ctx *c, const char *heading, const char *sig, bool accept)
{
	struct strbuf d = { 0 };
	bool differ;

	if (take(c, &c->a, c->a.root) || take(c, &c->b, c->b.root))
		return true;
	differ = snapshot_diff(&c->a.snap, &c->b.snap, c->a.name, c->b.name, &d) > 0;
	if (differ && accept) {
		c->diverged = true;
		differ = false;
	} else if (differ) {
		sb_addf(c->report, "  %s: trees differ\n%s", heading, sb_str(&d));
		set_sig(c, "trees %s", sig);
	}
	sb_free(&d);
	return differ;
}

static void heartbeat(const struct run_cfg *cfg)
{
	struct timespec ts;

	if (cfg->beat && clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
		*cfg->beat = (long)ts.tv_sec;
}

static void report_results(struct ctx *c, const struct op *op, const char *head,
			   const char *ra, const char *rb)
{
	sb_addf(c->report, "  after %s: results differ\n    %s: %s\n    %s: %s\n",
		head, c->a.name, ra, c->b.name, rb);
	/* The first words: an errno name, a count, "type=..." */
	set_sig(c, "results %s %.*s %.*s", op_name(op->kind),
		(int)strcspn(ra, " "), ra, (int)strcspn(rb, " "), rb);
}

/* Applies op i to both sides and compares the outcomes, then the trees. */
/* The kernel drops every dentry and inode nobody uses, so it forgets them
 * to the daemon, which then frees their views once the forgetting pauses
 * (fs/evict.c waits 100 ms for that): the next step finds them rebuilt. */
static void forget_everything(void)
{
	struct timespec pause = { 0, 150 * 1000000L };
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, "2", 1) < 0)
			perror("unionfuse-diff: /proc/sys/vm/drop_caches");
		close(fd);
	}
	nanosleep(&pause, NULL);
}

static void close_roots(struct ctx *c)
{
	if (c->a.root >= 0)
		close(c->a.root);
	if (c->b.root >= 0)
		close(c->b.root);
	c->a.root = c->b.root = -1;
}

static int unmount_checked(struct ctx *c, const char *mnt)
{
	int err = unmount_side(mnt);

	if (err)
		sb_addf(c->report, "  umount %s: %s\n", mnt, strerror(-err));
	return err;
}

/* The tested side, mounted again (its root open), must show every entry
 * with the number it showed before (BEFORE, inodes_take), as kernel
 * overlayfs does. */
static bool numbers_changed(struct ctx *c, const struct strbuf *before)
{
	struct strbuf after = { 0 }, d = { 0 };
	bool differ = true;

	if (inodes_take(c->b.root, &after) == 0) {
		differ = inodes_diff(sb_str(before), sb_str(&after), &d) > 0;
		if (differ) {
			sb_addf(c->report, "  %s mounted again shows other inode numbers:\n%s",
				c->b.name, sb_str(&d));
			set_sig(c, "inodes after remount");
		}
	}
	sb_free(&after);
	sb_free(&d);
	return differ;
}

/* OP_REMOUNT: both sides unmounted and mounted again over what they
 * wrote; each must show the same tree as before, the two the same, and
 * the tested side its entries with the same inode numbers. */
static bool remount_differs(struct ctx *c, size_t i)
{
	struct strbuf before = { 0 }, heading = { 0 };
	bool differ = true;

	if (c->cfg->inodes && inodes_take(c->b.root, &before)) {
		sb_addf(c->report, "  cannot read the inode numbers of %s\n", c->b.name);
		goto out;
	}
	close_roots(c);
	if (unmount_checked(c, c->a.mnt) | unmount_checked(c, c->b.mnt))
		goto out;
	if (mount_layers(c, c->a.kind, c->a.dir, c->a.dir, c->a.mnt))
		goto out;
	if (mount_layers(c, c->b.kind, c->b.dir, c->b.dir, c->b.mnt)) {
		set_sig(c, "mount");
		unmount_checked(c, c->a.mnt);
		goto out;
	}
	if (open_root(c, &c->a) || open_root(c, &c->b))
		goto out;
	if (c->cfg->inodes && numbers_changed(c, &before))
		goto out;
	sb_addf(&heading, "after op %zu/%zu `remount`", i + 1, c->tc->ops.n);
	differ = trees_differ(c, sb_str(&heading), "remount", false);
out:
	sb_free(&before);
	sb_free(&heading);
	return differ;
}

static bool op_differs(struct ctx *c, size_t i)
{
	const struct op *op = &c->tc->ops.op[i];
	struct strbuf ra = { 0 }, rb = { 0 }, head = { 0 };
	bool differ = false, one_file, tree_links, lazy_copyup;

	heartbeat(c->cfg);
	if (op->kind == OP_REMOUNT) {
		if (c->cfg->trace)
			printf("  op %zu/%zu `remount`\n", i + 1, c->tc->ops.n);
		return remount_differs(c, i);
	}
	one_file = policy_one_file_rename(op, c->a.root, c->b.root);
	lazy_copyup = policy_open_without_change(op, c->a.root, c->cfg->metacopy);
	tree_links = policy_tree_rename_links(op, c->a.root);
	ops_apply(c->a.root, c->a.mnt, op, &ra);
	ops_apply(c->b.root, c->b.mnt, op, &rb);
	if (c->cfg->forget)
		forget_everything();
	sb_addf(&head, "op %zu/%zu `", i + 1, c->tc->ops.n);
	repro_format_op(op, &head);
	sb_add(&head, "`");
	if (c->cfg->trace)
		printf("  %s\n    %s: %s\n    %s: %s\n", sb_str(&head),
		       c->a.name, sb_str(&ra), c->b.name, sb_str(&rb));
	if (!strcmp(sb_str(&ra), sb_str(&rb))) {
		struct strbuf after = { 0 };

		sb_addf(&after, "after %s", sb_str(&head));
		differ = trees_differ(c, sb_str(&after), op_name(op->kind),
				      one_file || tree_links || lazy_copyup ||
				      policy_failed_rename(op, sb_str(&ra)));
		sb_free(&after);
		/* From a renamed tree with hard links on, the two sides keep
		 * those links differently (see policy.c): stop here. */
		if (!differ && tree_links && !strcmp(sb_str(&ra), "0"))
			c->diverged = true;
	} else if (policy_accept_divergence(op, sb_str(&ra), sb_str(&rb))) {
		c->diverged = true;
	} else {
		report_results(c, op, sb_str(&head), sb_str(&ra), sb_str(&rb));
		differ = true;
	}
	sb_free(&ra);
	sb_free(&rb);
	sb_free(&head);
	return differ;
}

/* Snapshots the raw lower layers of side b: nothing may ever write them. */
static int snap_lowers(struct ctx *c, struct snapshot *out)
{
	const struct stack *s = &c->tc->stack;

	for (int i = 0; i < s->nlower; i++) {
		char *path = sub(c->b.dir, layer_dirname(s, i));
		int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		free(path);
		if (fd < 0 || snapshot_take(fd, &out[i]) < 0) {
			if (fd >= 0)
				close(fd);
			sb_addf(c->report, "  cannot snapshot lower layer l%d\n", i);
			return -1;
		}
		close(fd);
	}
	return 0;
}

static bool lowers_changed(struct ctx *c, struct snapshot *before)
{
	const struct stack *s = &c->tc->stack;
	struct snapshot after[MAX_LOWER] = { 0 };
	bool changed = false;

	if (snap_lowers(c, after))
		return true;
	for (int i = 0; i < s->nlower; i++) {
		struct strbuf d = { 0 };

		if (snapshot_diff(&before[i], &after[i], "before", "after", &d)) {
			sb_addf(c->report, "  %s wrote its lower layer l%d:\n%s",
				c->b.name, i, sb_str(&d));
			set_sig(c, "lower written");
			changed = true;
		}
		sb_free(&d);
		snapshot_free(&after[i]);
	}
	return changed;
}

/* Mounts lowers of one copy with the upper/work of the other under fs kind,
 * and expects the tree `want` (what the upper's writer showed). */
static bool cross_differs(struct ctx *c, enum fs_kind kind, const char *name,
			  struct side *lowers, struct side *uw, struct side *want)
{
	struct snapshot got = { 0 };
	struct strbuf d = { 0 };
	int root;
	bool differ = true;

	if (mount_layers(c, kind, lowers->dir, uw->dir, lowers->mnt))
		return true;
	root = open(lowers->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root >= 0 && snapshot_take(root, &got) == 0) {
		differ = snapshot_diff(&want->snap, &got, want->name, name, &d) > 0;
		if (differ) {
			sb_addf(c->report, "  crosswise: %s over the upper layer %s wrote "
				"does not show the tree %s showed\n%s",
				name, want->name, want->name, sb_str(&d));
			set_sig(c, "crosswise %s", name);
		}
	}
	if (root >= 0)
		close(root);
	snapshot_free(&got);
	sb_free(&d);
	if (unmount_checked(c, lowers->mnt))
		differ = true;
	return differ;
}

/* After the sequence: the tested side alone mounted again. */
static bool remount_changes_numbers(struct ctx *c, const struct strbuf *before)
{
	bool differ;

	if (mount_layers(c, c->b.kind, c->b.dir, c->b.dir, c->b.mnt))
		return true;
	differ = open_root(c, &c->b) || numbers_changed(c, before);
	close_roots(c);
	if (unmount_checked(c, c->b.mnt))
		differ = true;
	return differ;
}

static bool crosswise_differs(struct ctx *c)
{
	/* Kernel overlayfs over b's upper: b must write what overlayfs reads;
	 * then b over the kernel's upper: b must read what overlayfs writes. */
	return cross_differs(c, c->a.kind, c->a.name, &c->a, &c->b, &c->b) ||
	       cross_differs(c, c->b.kind, c->b.name, &c->b, &c->a, &c->a);
}

static int build(struct ctx *c)
{
	if (rmtree(c->a.dir) || rmtree(c->b.dir)) {
		sb_addf(c->report, "  cannot clean %s\n", c->cfg->dir);
		return -1;
	}
	if (stack_write(&c->tc->stack, c->a.dir, COPY_KERNEL) ||
	    stack_write(&c->tc->stack, c->b.dir, c->cfg->selftest ? COPY_KERNEL : COPY_UNION)) {
		sb_add(c->report, "  cannot write the stack\n");
		return -1;
	}
	return 0;
}

static enum run_status run_mounted(struct ctx *c, struct snapshot *lowers)
{
	enum run_status st = RUN_PASS;

	if (open_root(c, &c->a) || open_root(c, &c->b))
		return RUN_SETUP_ERROR;
	if (snap_lowers(c, lowers))
		return RUN_SETUP_ERROR;
	if (trees_differ(c, "right after mounting the stack", "at mount", false))
		return RUN_MISMATCH;
	for (size_t i = 0; i < c->tc->ops.n && st == RUN_PASS && !c->diverged; i++)
		if (op_differs(c, i))
			st = RUN_MISMATCH;
	return st;
}

static void ctx_init(struct ctx *c, const struct run_cfg *cfg, const struct testcase *tc,
		     struct strbuf *report, struct strbuf *sig)
{
	*c = (struct ctx){ .cfg = cfg, .tc = tc, .report = report, .sig = sig };
	c->a = (struct side){ .name = "kernel", .kind = FS_KERNEL, .root = -1 };
	c->b = (struct side){ .name = cfg->fuse_name, .root = -1,
			      .kind = cfg->selftest ? FS_KERNEL : FS_FUSE };
	c->a.dir = sub(cfg->dir, "k");
	c->b.dir = sub(cfg->dir, "u");
	c->a.mnt = sub(c->a.dir, "mnt");
	c->b.mnt = sub(c->b.dir, "mnt");
	c->log = sub(cfg->dir, "fuse.log");
}

static void ctx_free(struct ctx *c)
{
	close_roots(c);
	snapshot_free(&c->a.snap);
	snapshot_free(&c->b.snap);
	free(c->a.dir);
	free(c->b.dir);
	free(c->a.mnt);
	free(c->b.mnt);
	free(c->log);
}

enum run_status run_case(const struct run_cfg *cfg, const struct testcase *tc,
			 struct strbuf *report, struct strbuf *sig)
{
	struct snapshot lowers[MAX_LOWER] = { 0 };
	struct strbuf inodes = { 0 };
	enum run_status st = RUN_SETUP_ERROR;
	struct ctx c;

	ctx_init(&c, cfg, tc, report, sig);
	heartbeat(cfg);
	if (build(&c) || mount_layers(&c, c.a.kind, c.a.dir, c.a.dir, c.a.mnt))
		goto out;
	if (mount_layers(&c, c.b.kind, c.b.dir, c.b.dir, c.b.mnt)) {
		/* Failing to mount a valid stack is the implementation's fault. */
		st = RUN_MISMATCH;
		set_sig(&c, "mount");
		unmount_checked(&c, c.a.mnt);
		goto out;
	}
	st = run_mounted(&c, lowers);
	if (st == RUN_PASS && !c.diverged && cfg->inodes && inodes_take(c.b.root, &inodes))
		st = RUN_SETUP_ERROR;
	close_roots(&c);
	if (unmount_checked(&c, c.a.mnt) | unmount_checked(&c, c.b.mnt))
		st = RUN_SETUP_ERROR;
	else if (st != RUN_SETUP_ERROR && lowers_changed(&c, lowers))
		st = RUN_MISMATCH;
	else if (st == RUN_PASS && !c.diverged && cfg->inodes &&
		 remount_changes_numbers(&c, &inodes))
		st = RUN_MISMATCH;
	else if (st == RUN_PASS && !c.diverged && crosswise_differs(&c))
		st = RUN_MISMATCH;
out:
	sb_free(&inodes);
	for (int i = 0; i < MAX_LOWER; i++)
		snapshot_free(&lowers[i]);
	ctx_free(&c);
	return st;
}
