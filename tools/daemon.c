/* Mounting: check every path before anything is created, set up the union,
 * mount it, and only then return to the caller (fuse_daemonize), as mount(8)
 * does. */
#include "daemon.h"

#include "fuse_killpriv.h"
#include "fuse_ops.h"
#include "initlayer.h"
#include "readahead.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int say(const char *path, const char *cause)
{
	fprintf(stderr, "unionfuse: %s: %s\n", path, cause);
	return 1;
}

static int check_dir(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return say(path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return say(path, "not a directory");
	return 0;
}

static int check_mountpoint(const struct mount_plan *plan)
{
	struct dirent *de;
	DIR *dir;
	int entries = 0;

	if (check_dir(plan->mountpoint))
		return 1;
	if (plan->nonempty)
		return 0;
	dir = opendir(plan->mountpoint);
	if (!dir)
		return say(plan->mountpoint, strerror(errno));
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			entries++;
	closedir(dir);
	if (entries)
		return say(plan->mountpoint, "mountpoint is not empty (-o nonempty mounts over it)");
	return 0;
}

/* Create DIR if it is missing; *CREATED tells the caller to undo it. */
static int ensure_dir(const char *path, bool *created)
{
	*created = false;
	if (mkdir(path, 0755) == 0) {
		*created = true;
		return 0;
	}
	if (errno != EEXIST)
		return say(path, strerror(errno));
	return check_dir(path);
}

/* The absolute, symlink-free path of PATH; when PATH does not exist yet,
 * that of its parent joined with its last name. */
static char *real_or_parent(const char *path)
{
	char *real = realpath(path, NULL), *copy, *slash, *parent, *out = NULL;
	const char *base = path;

	if (real || errno != ENOENT)
		return real;
	copy = strdup(path);
	if (!copy)
		return NULL;
	while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
		copy[strlen(copy) - 1] = '\0';
	slash = strrchr(copy, '/');
	if (slash) {
		base = slash + 1;
		*slash = '\0';
	} else {
		base = copy;
	}
	parent = realpath(slash ? (*copy ? copy : "/") : ".", NULL);
	if (parent && asprintf(&out, "%s/%s", strcmp(parent, "/") ? parent : "", base) < 0)
		out = NULL;
	free(parent);
	free(copy);
	return out;
}

static bool path_within(const char *inner, const char *outer)
{
	size_t len = strlen(outer);

	if (strcmp(outer, "/") == 0)
		return true;
	return strncmp(inner, outer, len) == 0 && (inner[len] == '/' || inner[len] == '\0');
}

/* Checked before the upper layer is created: a lower layer is never written. */
static int check_upper_outside_lowers(const struct mount_plan *plan)
{
	char *upper = real_or_parent(plan->upper);
	int i, bad = 0;

	if (!upper)
		return say(plan->upper, strerror(errno));
	for (i = 0; i < plan->nlowers && !bad; i++) {
		char *lower = realpath(plan->lowers[i], NULL);

		if (lower && path_within(upper, lower))
			bad = say(plan->upper, "upper layer lies inside a lower layer");
		free(lower);
	}
	free(upper);
	return bad;
}

/* A mountpoint inside a layer would have the daemon serve its own
 * requests through the layer; a layer inside the mountpoint would be hidden
 * by the mount. Both are refused. */
static int check_apart(const char *mountpoint, const char *layer)
{
	char *mnt = realpath(mountpoint, NULL), *dir = layer ? real_or_parent(layer) : NULL;
	int bad = 0;

	if (mnt && dir && path_within(mnt, dir))
		bad = say(mountpoint, "mountpoint lies inside a layer");
	else if (mnt && dir && path_within(dir, mnt))
		bad = say(layer, "layer lies inside the mountpoint");
	free(mnt);
	free(dir);
	return bad;
}

static int check_paths(const struct mount_plan *plan)
{
	int i;

	for (i = 0; i < plan->nlowers; i++)
		if (check_dir(plan->lowers[i]))
			return 1;
	if (plan->upper && check_upper_outside_lowers(plan))
		return 1;
	if (plan->init && check_dir(plan->init))
		return 1;
	if (check_mountpoint(plan))
		return 1;
	for (i = 0; i < plan->nlowers; i++)
		if (check_apart(plan->mountpoint, plan->lowers[i]))
			return 1;
	return check_apart(plan->mountpoint, plan->init) ||
	       check_apart(plan->mountpoint, plan->upper) ||
	       check_apart(plan->mountpoint, plan->work);
}

static char *session_options(const struct mount_plan *plan)
{
	char *opts;
	bool ro = plan->read_only || !plan->upper;

	/* default_permissions: the kernel checks modes and owners, as for
	 * any local filesystem; the daemon's own privilege never leaks. */
	if (asprintf(&opts, "fsname=unionfuse,subtype=unionfuse,default_permissions%s%s%s%s",
		     geteuid() == 0 ? ",allow_other" : "", ro ? ",ro" : "",
		     plan->fuse_opts ? "," : "", plan->fuse_opts ? plan->fuse_opts : "") < 0)
		return NULL;
	return opts;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int serve(struct ufs *u, const struct mount_plan *plan)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct ufuse uf = { .u = u, .timeout = plan->timeout,
			    .copyup_on_open = plan->copyup_on_open,
			    .dirplus.always_full = plan->full_listings };
	struct fuse_loop_config *cfg;
	struct fuse_session *se;
	dev_t mount_dev;
	char *opts = session_options(plan), *mnt = realpath(plan->mountpoint, NULL);
	int ret = 1;

	if (!opts || fuse_opt_add_arg(&args, "unionfuse") ||
	    (plan->debug && fuse_opt_add_arg(&args, "-d")) ||
	    fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, opts))
		goto out_args;
	se = fuse_session_new(&args, &ufuse_ops, sizeof(ufuse_ops), &uf);
	if (!se)
		goto out_args;
	if (fuse_set_signal_handlers(se))
		goto out_session;
	u->attr_changed = ufuse_attr_changed;
	u->listing_changed = ufuse_listing_changed;
	u->attr_changed_ctx = se;
	if (fuse_session_mount(se, plan->mountpoint)) {
		say(plan->mountpoint, "mount failed");
		goto out_signals;
	}
	if (mnt && readahead_mount_device(mnt, &mount_dev) == 0) {
		uf.after_init = readahead_raise;
		uf.after_init_arg = &mount_dev;
	}
	/* Without it the mount works as well, at a round trip more a write
	 * and with the kernel's readahead window. */
	killpriv_attach(se);
	fuse_daemonize(plan->foreground);
	cfg = fuse_loop_cfg_create();
	if (cfg) {
		fuse_loop_cfg_set_clone_fd(cfg, 0);
		fuse_loop_cfg_set_max_threads(cfg, 16);
		ret = fuse_session_loop_mt(se, cfg) ? 1 : 0;
		fuse_loop_cfg_destroy(cfg);
	}
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	fuse_opt_free_args(&args);
	free(opts);
	free(mnt);
	return ret;
}

/* The trace stream, opened before the daemon detaches: with no FILE it is
 * a copy of standard error, so the terminal that mounted keeps seeing it. */
static FILE *open_trace(const struct mount_plan *plan)
{
	FILE *f;
	int fd;

	if (!plan->trace)
		return NULL;
	if (plan->trace_file) {
		f = fopen(plan->trace_file, "ae");
		if (!f)
			say(plan->trace_file, strerror(errno));
		return f;
	}
	fd = dup(STDERR_FILENO);
	f = fd < 0 ? NULL : fdopen(fd, "a");
	if (!f)
		say("--trace", strerror(errno));
	return f;
}

int daemon_mount(struct mount_plan *plan)
{
	struct ufs_config cfg = {
		.lowers = (const char **)plan->lowers, .nlowers = plan->nlowers,
		.init = plan->init, .upper = plan->upper, .work = plan->work,
		.whiteout_format = plan->whiteout_format, .metacopy = plan->metacopy,
		.volatile_upper = plan->volatile_upper,
		.evict_after = plan->evict_after,
	};
	bool made_upper = false, made_work = false, all_ids;
	struct ufs *u;
	char *why;
	int ret;

	if (check_paths(plan))
		return 1;
	if (plan->upper && (ensure_dir(plan->upper, &made_upper) ||
			    ensure_dir(plan->work, &made_work))) {
		ret = 1;
		goto out_undo;
	}
	if (plan->hostname || plan->hosts_file || plan->resolv_file) {
		struct initlayer_spec spec = {
			.hostname = plan->hostname, .hosts = plan->hosts_file,
			.resolv = plan->resolv_file,
		};

		plan->init = initlayer_build(plan->work, &spec, plan->lowers, plan->nlowers);
		if (!plan->init) {
			ret = 1;
			goto out_undo;
		}
		cfg.init = plan->init;
	}
	umask(0);
	raise_fd_limit();
	cfg.trace = open_trace(plan);
	cfg.uids = plan->uids;
	cfg.gids = plan->gids;
	all_ids = idmap_detect_namespace(&cfg.uids, "/proc/self/uid_map", "/proc/sys/kernel/overflowuid");
	idmap_detect_namespace(&cfg.gids, "/proc/self/gid_map", "/proc/sys/kernel/overflowgid");
	/* Giving files any owner takes root, of a namespace that maps every
	 * id: not an ordinary user, nor root of `unshare -Ur`. */
	cfg.unprivileged = geteuid() != 0 || !all_ids;
	if (plan->trace && !cfg.trace) {
		ret = 1;
		goto out_undo;
	}
	if (ufs_new(&cfg, &u, &why)) {
		fprintf(stderr, "unionfuse: %s\n", why ? why : "out of memory");
		free(why);
		ret = 1;
		goto out_undo;
	}
	ret = serve(u, plan);
	ufs_destroy(u);
out_undo:
	if (cfg.trace)
		fclose(cfg.trace);
	if (ret == 0)
		return 0;
	/* Bad input leaves nothing behind. */
	if (made_work && cfg.init)
		initlayer_remove(plan->work);
	if (made_work)
		rmdir(plan->work);
	if (made_upper)
		rmdir(plan->upper);
	return ret;
}

int daemon_umount(const char *mountpoint)
{
	int status;
	pid_t pid;

	/* Root, of the host or of the user namespace that mounted with
	 * mount(2), unmounts directly; a mount made through fusermount3 (by an
	 * ordinary user) is undone by it, even for root of a user namespace. */
	if (geteuid() == 0) {
		if (umount2(mountpoint, 0) == 0)
			return 0;
		if (errno != EPERM)
			return say(mountpoint, strerror(errno));
	}
	pid = fork();
	if (pid < 0)
		return say(mountpoint, strerror(errno));
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "--", mountpoint, (char *)NULL);
		say("fusermount3", strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return say(mountpoint, strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
