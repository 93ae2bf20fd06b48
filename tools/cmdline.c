/* Command-line parsing: the base-first `mount` form and the overlayfs form
 * that container tools use, both into one mount plan. */
#include "cmdline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Options the kernel's FUSE mount understands: passed on as they are. */
static const char *const fuse_passthrough[] = {
	"rw", "ro", "suid", "nosuid", "dev", "nodev", "exec", "noexec", "atime",
	"noatime", "diratime", "nodiratime", "relatime", "norelatime", "strictatime",
	"nostrictatime", "lazytime", "nolazytime", "sync", "async", "dirsync",
	"allow_other", "allow_root", "default_permissions", "auto_unmount", NULL,
};
static const char *const fuse_passthrough_prefix[] = { "fsname=", "subtype=", "max_read=", NULL };
/* SELinux labels (containers/storage passes context="..."): FUSE mounts
 * here carry none, as with fuse-overlayfs. */
static const char *const ignored_quietly_prefix[] = { "context=", "fscontext=", "defcontext=",
						      "rootcontext=", NULL };

static int die(const char *what, const char *cause)
{
	fprintf(stderr, "unionfuse: %s: %s\n", what, cause);
	return -1;
}

int cmdline_split_options(const char *opts, int (*fn)(const char *item, void *arg), void *arg)
{
	size_t len = strlen(opts), start = 0, i;
	bool quoted = false;
	int err = 0;

	for (i = 0; i <= len && !err; i++) {
		if (i < len && opts[i] == '"')
			quoted = !quoted;
		if (i < len && (opts[i] != ',' || quoted))
			continue;
		if (i > start) {
			char *item = strndup(opts + start, i - start);

			if (!item)
				return -1;
			err = fn(item, arg);
			free(item);
		}
		start = i + 1;
	}
	return err;
}

static bool in_list(const char *item, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(item, *list) == 0)
			return true;
	return false;
}

static bool has_prefix_in(const char *item, const char *const *list)
{
	for (; *list; list++)
		if (strncmp(item, *list, strlen(*list)) == 0)
			return true;
	return false;
}

static int append_fuse_opt(struct mount_plan *plan, const char *item)
{
	size_t old = plan->fuse_opts ? strlen(plan->fuse_opts) : 0;
	char *opts = realloc(plan->fuse_opts, old + strlen(item) + 2);

	if (!opts)
		return -1;
	if (old)
		opts[old++] = ',';
	strcpy(opts + old, item);
	plan->fuse_opts = opts;
	return 0;
}

static int set_string(char **field, const char *value)
{
	free(*field);
	*field = strdup(value);
	return *field ? 0 : -1;
}

/* lowerdir=TOP:...:BASE, overlayfs order. */
static int set_lowerdir(struct mount_plan *plan, const char *value)
{
	char *copy = strdup(value), *save = NULL, *dir;
	int n = 0, i;

	if (!copy)
		return -1;
	for (i = 0; value[i]; i++)
		n += value[i] == ':';
	for (i = 0; i < plan->nlowers; i++)
		free(plan->lowers[i]);
	free(plan->lowers);
	plan->nlowers = 0;
	plan->lowers = calloc((size_t)n + 1, sizeof(char *));
	if (!plan->lowers) {
		free(copy);
		return -1;
	}
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
		plan->lowers[plan->nlowers++] = strdup(dir);
	free(copy);
	/* The plan keeps layers base first. */
	for (i = 0; i < plan->nlowers / 2; i++) {
		char *t = plan->lowers[i];

		plan->lowers[i] = plan->lowers[plan->nlowers - 1 - i];
		plan->lowers[plan->nlowers - 1 - i] = t;
	}
	return 0;
}

static int parse_timeout(struct mount_plan *plan, const char *value)
{
	char *end;
	double t = strtod(value, &end);

	if (*value == '\0' || *end != '\0' || t < 0)
		return die("timeout", "expects a number of seconds");
	plan->timeout = t;
	return 0;
}

static int parse_evict_after(struct mount_plan *plan, const char *value)
{
	char *end;
	unsigned long n = strtoul(value, &end, 10);

	if (*value == '\0' || *value == '-' || *end != '\0' || n == 0)
		return die("evict_after", "expects a number of entries, 1 or more");
	plan->evict_after = n;
	return 0;
}

static int parse_whiteout(struct mount_plan *plan, const char *value)
{
	if (strcmp(value, "overlay") == 0)
		plan->whiteout_format = WH_FORMAT_OVERLAY;
	else if (strcmp(value, "aufs") == 0)
		plan->whiteout_format = WH_FORMAT_AUFS;
	else
		return die(value, "unknown whiteout format (overlay or aufs)");
	return 0;
}

/* overlayfs' metacopy=on|off, or plain metacopy. */
static int parse_metacopy(struct mount_plan *plan, const char *item)
{
	if (strcmp(item, "metacopy") == 0 || strcmp(item, "metacopy=on") == 0)
		plan->metacopy = true;
	else if (strcmp(item, "metacopy=off") == 0)
		plan->metacopy = false;
	else
		return die(item, "expects metacopy, metacopy=on or metacopy=off");
	return 0;
}

static int parse_mapping(struct idmap *m, const char *item, const char *value)
{
	if (idmap_parse(m, value) < 0)
		return die(item, "expects ID:ID:COUNT[:ID:ID:COUNT...], as fuse-overlayfs");
	return 0;
}

static int parse_squash(struct idmap *m, const char *item, const char *value)
{
	char *end;
	unsigned long id;

	errno = 0;
	id = strtoul(value, &end, 10);
	if (*value < '0' || *value > '9' || *end != '\0' || errno || id > 0xfffffffeUL)
		return die(item, "expects a numeric id");
	m->squash = true;
	m->squash_to = (unsigned int)id;
	return 0;
}

/* Options on owners; returns 1 if ITEM was not one of them. */
static int apply_owner_option(struct mount_plan *plan, const char *item, const char *value)
{
	if (strncmp(item, "uidmapping=", 11) == 0)
		return parse_mapping(&plan->uids, item, value);
	if (strncmp(item, "gidmapping=", 11) == 0)
		return parse_mapping(&plan->gids, item, value);
	if (strncmp(item, "squash_to_uid=", 14) == 0)
		return parse_squash(&plan->uids, item, value);
	if (strncmp(item, "squash_to_gid=", 14) == 0)
		return parse_squash(&plan->gids, item, value);
	if (strcmp(item, "squash_to_root") == 0) {
		plan->squash_to_root = true;
		return 0;
	}
	return 1;
}

static int apply_option(const char *item, void *arg)
{
	struct mount_plan *plan = arg;
	const char *eq = strchr(item, '=');
	const char *value = eq ? eq + 1 : "";
	int r = apply_owner_option(plan, item, value);

	if (r <= 0)
		return r;
	if (strncmp(item, "lowerdir=", 9) == 0)
		return set_lowerdir(plan, value);
	if (strncmp(item, "upperdir=", 9) == 0)
		return set_string(&plan->upper, value);
	if (strncmp(item, "workdir=", 8) == 0)
		return set_string(&plan->work, value);
	if (strncmp(item, "whiteout=", 9) == 0)
		return parse_whiteout(plan, value);
	if (strncmp(item, "timeout=", 8) == 0)
		return parse_timeout(plan, value);
	if (strncmp(item, "evict_after=", 12) == 0)
		return parse_evict_after(plan, value);
	if (strcmp(item, "nonempty") == 0) {
		plan->nonempty = true;
		return 0;
	}
	if (strncmp(item, "metacopy", 8) == 0)
		return parse_metacopy(plan, item);
	if (strcmp(item, "volatile") == 0) {
		plan->volatile_upper = true;
		return 0;
	}
	if (strcmp(item, "copyup_on_open") == 0) {
		plan->copyup_on_open = true;
		return 0;
	}
	if (strcmp(item, "full_listings") == 0) {
		plan->full_listings = true;
		return 0;
	}
	if (strcmp(item, "ro") == 0)
		plan->read_only = true;
	if (in_list(item, fuse_passthrough) || has_prefix_in(item, fuse_passthrough_prefix))
		return append_fuse_opt(plan, item);
	if (has_prefix_in(item, ignored_quietly_prefix))
		return 0;
	fprintf(stderr, "unionfuse: warning: unknown option '%s' ignored\n", item);
	return 0;
}

static void plan_init(struct mount_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	plan->timeout = 86400;
	plan->whiteout_format = WH_FORMAT_OVERLAY;
	idmap_init(&plan->uids);
	idmap_init(&plan->gids);
}

static int take_value(int argc, char **argv, int *i, char **field)
{
	if (*i + 1 >= argc)
		return die(argv[*i], "needs a value");
	return set_string(field, argv[++*i]);
}

/* Flags common to both forms; returns 1 if ARGV[*I] was one of them. */
static int parse_common_flag(int argc, char **argv, int *i, struct mount_plan *plan)
{
	const char *arg = argv[*i];

	if (strcmp(arg, "-f") == 0 || strcmp(arg, "--foreground") == 0)
		plan->foreground = true;
	else if (strcmp(arg, "-d") == 0 || strcmp(arg, "--debug") == 0)
		plan->debug = plan->foreground = true;
	else if (strcmp(arg, "-o") == 0) {
		if (*i + 1 >= argc)
			return die("-o", "needs a value");
		return cmdline_split_options(argv[++*i], apply_option, plan) ? -1 : 1;
	} else if (strncmp(arg, "-o", 2) == 0)
		return cmdline_split_options(arg + 2, apply_option, plan) ? -1 : 1;
	else
		return 0;
	return 1;
}

int cmdline_check_plan(struct mount_plan *plan)
{
	/* squash_to_uid= and squash_to_gid= win over squash_to_root. */
	if (plan->squash_to_root && !plan->uids.squash)
		plan->uids.squash = true;       /* squash_to stays 0 */
	if (plan->squash_to_root && !plan->gids.squash)
		plan->gids.squash = true;
	if (plan->nlowers == 0)
		return die("unionfuse", "no lower layer given (try unionfuse --help)");
	if (!plan->upper && plan->work)
		return die(plan->work, "a work directory needs an upper layer");
	if (plan->hostname || plan->hosts_file || plan->resolv_file) {
		/* The library stacks one init layer: built here or given, not both. */
		if (plan->init)
			return die("--init", "cannot be combined with --hostname, --hosts or --resolv");
		if (!plan->upper)
			return die("--hostname", "the init layer is built in the work directory: needs --upper");
	}
	if (plan->upper && !plan->work) {
		size_t len = strlen(plan->upper);

		while (len > 1 && plan->upper[len - 1] == '/')
			plan->upper[--len] = '\0';
		if (asprintf(&plan->work, "%s.work", plan->upper) < 0)
			return -1;
	}
	return 0;
}

/* The base-first form: flags, then LAYER..., then MOUNTPOINT if WANTED. */
static int parse_layers_form(int argc, char **argv, struct mount_plan *plan, bool mountpoint_wanted)
{
	char **pos = calloc((size_t)argc + 1, sizeof(char *));
	int npos = 0, nlayers, i, r;

	plan_init(plan);
	if (!pos)
		return -1;
	for (i = 0; i < argc; i++) {
		r = parse_common_flag(argc, argv, &i, plan);
		if (r < 0)
			goto fail;
		if (r > 0)
			continue;
		if (strcmp(argv[i], "--upper") == 0)
			r = take_value(argc, argv, &i, &plan->upper);
		else if (strcmp(argv[i], "--work") == 0)
			r = take_value(argc, argv, &i, &plan->work);
		else if (strcmp(argv[i], "--init") == 0)
			r = take_value(argc, argv, &i, &plan->init);
		else if (strcmp(argv[i], "--hostname") == 0)
			r = take_value(argc, argv, &i, &plan->hostname);
		else if (strcmp(argv[i], "--hosts") == 0)
			r = take_value(argc, argv, &i, &plan->hosts_file);
		else if (strcmp(argv[i], "--resolv") == 0)
			r = take_value(argc, argv, &i, &plan->resolv_file);
		else if (strcmp(argv[i], "--trace") == 0)
			plan->trace = true;
		else if (strncmp(argv[i], "--trace=", 8) == 0) {
			plan->trace = true;
			r = set_string(&plan->trace_file, argv[i] + 8);
		}
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			r = die(argv[i], "unknown flag (try unionfuse --help)");
		else
			pos[npos++] = argv[i];
		if (r < 0)
			goto fail;
	}
	nlayers = mountpoint_wanted ? npos - 1 : npos;
	if (nlayers < 1) {
		die(mountpoint_wanted ? "mount" : "run",
		    mountpoint_wanted ? "needs at least one LAYER and a MOUNTPOINT" : "needs at least one LAYER");
		goto fail;
	}
	if (mountpoint_wanted && !(plan->mountpoint = strdup(pos[npos - 1])))
		goto fail;
	plan->lowers = calloc((size_t)nlayers, sizeof(char *));
	if (!plan->lowers)
		goto fail;
	for (i = 0; i < nlayers; i++)
		plan->lowers[plan->nlowers++] = strdup(pos[i]);
	free(pos);
	return 0;
fail:
	free(pos);
	return -1;
}

int cmdline_parse_mount(int argc, char **argv, struct mount_plan *plan)
{
	return parse_layers_form(argc, argv, plan, true) ? -1 : cmdline_check_plan(plan);
}

int cmdline_parse_run(int argc, char **argv, struct mount_plan *plan, char ***command)
{
	int i;

	for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
		;
	if (i + 1 >= argc) {
		plan_init(plan);
		return die("run", "needs LAYER... -- COMMAND [ARG...]");
	}
	*command = argv + i + 1;
	return parse_layers_form(i, argv, plan, false);
}

int cmdline_parse_overlay_form(int argc, char **argv, struct mount_plan *plan)
{
	char *pos[2] = { NULL, NULL };
	int npos = 0, i, r;

	plan_init(plan);
	for (i = 0; i < argc; i++) {
		r = parse_common_flag(argc, argv, &i, plan);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (argv[i][0] == '-' && argv[i][1] != '\0')
			return die(argv[i], "unknown flag (try unionfuse --help)");
		if (npos == 2)
			return die(argv[i], "unexpected argument (try unionfuse --help)");
		pos[npos++] = argv[i];
	}
	/* `mount -t fuse.unionfuse SOURCE MNT` passes a source word first. */
	if (npos == 0)
		return die("unionfuse", "no mountpoint given (try unionfuse --help)");
	plan->mountpoint = strdup(pos[npos - 1]);
	if (!plan->mountpoint)
		return -1;
	return cmdline_check_plan(plan);
}

void cmdline_free(struct mount_plan *plan)
{
	int i;

	for (i = 0; i < plan->nlowers; i++)
		free(plan->lowers[i]);
	free(plan->lowers);
	free(plan->upper);
	free(plan->work);
	free(plan->init);
	free(plan->hostname);
	free(plan->hosts_file);
	free(plan->resolv_file);
	free(plan->mountpoint);
	free(plan->fuse_opts);
	free(plan->trace_file);
	idmap_free(&plan->uids);
	idmap_free(&plan->gids);
	memset(plan, 0, sizeof(*plan));
}
