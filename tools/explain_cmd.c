/* The explain command: reads every layer of a running union at one path,
 * the way DESIGN section 3 resolves it, and says in plain words what each
 * layer holds there, which one wins and why. The daemon's own answer
 * (user.unionfuse.origin) is shown beside it, so its cache can be checked.
 *
 * Layers are read relative to their root fds, no symlink followed
 * (layer_openat), like the daemon reads them. */
#include "explain_cmd.h"

#include "explain.h"
#include "layers.h"
#include "stackinfo.h"
#include "whiteout.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

enum holds { H_NOTHING, H_FILE, H_DIR, H_SYMLINK, H_OTHER, H_WHITEOUT, H_ERROR };

/* What one layer holds at one name. */
struct probe {
	enum holds holds;
	mode_t mode;
	off_t size;
	char *target;           /* symlink */
	const char *whiteout;   /* the marker at the name: "char 0/0", ... */
	bool wh_beside;         /* a .wh.NAME beside an entry of this layer */
	bool xattr_wh_ignored;  /* overlay.whiteout on a file, outside an opaque=x dir */
	const char *opaque;     /* directory: the marker that makes it opaque */
	bool xwhiteouts;        /* directory: overlay.opaque=x */
	char *redirect;         /* directory: overlay.redirect */
	char *where;            /* set when read elsewhere than at its own path (a redirect) */
	char *origin_path;      /* where its copy-up found it below
				 * (overlay.unionfuse.origin_path) */
	int err;                /* H_ERROR */
};

enum status { S_NONE, S_WINS, S_MERGED, S_HIDES, S_SHADOWED, S_HIDDEN, S_UNUSED, S_NOT_CONSULTED };

static const char *const status_words[] = {
	[S_NONE] = "", [S_WINS] = "wins", [S_MERGED] = "merged", [S_HIDES] = "hides it",
	[S_SHADOWED] = "shadowed", [S_HIDDEN] = "hidden", [S_UNUSED] = "not used",
	[S_NOT_CONSULTED] = "not consulted",
};

/* One component of the path, resolved across the stack. */
struct step {
	struct probe *p;        /* per layer */
	enum status *st;        /* per layer */
	char **note;            /* per layer */
	int top;                /* the winning layer, -1 */
	int hider;              /* the layer whose whiteout decided, -1 */
	int *chain;             /* directories: contributing layers, top first */
	char **chain_path;      /* where the directory lies in each */
	int nchain;
	int opaque_at;          /* the chain was cut at this layer's opaque marker, -1 */
};

struct explain {
	struct stack *s;
	int n;                  /* layers */
	bool *consulted;        /* the directory walked so far lies in this layer */
	char **dirpath;         /* where that directory lies in each layer */
	char **out_why;         /* why a layer stopped taking part */
	char *upath;            /* the path in the union, "/a/b" */
	char *failure;          /* an ancestor that does not resolve to a directory */
	bool marker_name;       /* a .wh.* name: never in the merged view */
	struct step last;
	bool exists;
};

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d) {
		fputs("unionfuse: explain: out of memory\n", stderr);
		exit(1);
	}
	return d;
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int len;

	va_start(ap, fmt);
	len = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (len < 0) {
		fputs("unionfuse: explain: out of memory\n", stderr);
		exit(1);
	}
	return s;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		fputs("unionfuse: explain: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

static char *path_join(const char *dir, const char *name)
{
	if (strcmp(dir, ".") == 0)
		return xstrdup(name);
	return xprintf("%s/%s", dir, name);
}

/* The first of the overlay xattr NAME (trusted., then user.) on the entry
 * NAME of DIRFD, with its value in VALUE; NULL if neither is set. */
static const char *overlay_xattr(int dirfd, const char *name, const char *what,
				 char *value, size_t size)
{
	static const char *const spaces[] = { "trusted", "user" };
	char path[LAYER_PROC_PATH_MAX];

	layer_proc_path(dirfd, name, path);
	for (size_t i = 0; i < 2; i++) {
		char xname[64];
		ssize_t len;

		snprintf(xname, sizeof(xname), "%s.overlay.%s", spaces[i], what);
		len = lgetxattr(path, xname, value, size - 1);
		if (len >= 0 || errno == ERANGE) {
			value[len >= 0 ? len : 0] = '\0';
			return spaces[i];
		}
	}
	return NULL;
}

static void probe_dir(int dirfd, const char *name, struct probe *p)
{
	char value[4096];
	const char *space;
	struct stat st;
	int fd;

	space = overlay_xattr(dirfd, name, "opaque", value, sizeof(value));
	if (space && strcmp(value, "y") == 0)
		p->opaque = strcmp(space, "trusted") == 0 ? "trusted.overlay.opaque=y"
							  : "user.overlay.opaque=y";
	else if (space && strcmp(value, "x") == 0)
		p->xwhiteouts = true;
	if (overlay_xattr(dirfd, name, "redirect", value, sizeof(value)) && *value)
		p->redirect = xstrdup(value);
	fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		if (!p->opaque && fstatat(fd, WH_OPAQUE_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0)
			p->opaque = WH_OPAQUE_NAME;
		close(fd);
	}
}

static void probe_origin_path(int dirfd, const char *name, struct probe *p)
{
	char value[4096];

	if (overlay_xattr(dirfd, name, "unionfuse.origin_path", value, sizeof(value)) && *value)
		p->origin_path = xstrdup(value);
}

/* What the layer with root ROOTFD holds at NAME in its directory DIRPATH. */
static void probe(int rootfd, const char *dirpath, const char *name, struct probe *p)
{
	char value[8];
	struct stat st;
	char *marker;
	int dirfd;
	bool xwh;

	memset(p, 0, sizeof(*p));
	if (rootfd < 0) {
		p->holds = H_ERROR;
		p->err = ENOENT;
		return;
	}
	dirfd = layer_open_dir(rootfd, dirpath);
	if (dirfd < 0) {
		/* ELOOP: a symlink where its directory would be. */
		if (dirfd != -ENOENT && dirfd != -ENOTDIR && dirfd != -ELOOP) {
			p->holds = H_ERROR;
			p->err = -dirfd;
		}
		return;
	}
	xwh = overlay_xattr(dirfd, ".", "opaque", value, sizeof(value)) && strcmp(value, "x") == 0;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		p->mode = st.st_mode;
		p->size = st.st_size;
		if (whiteout_is_device(&st)) {
			p->holds = H_WHITEOUT;
			p->whiteout = "char 0/0";
		} else if (S_ISREG(st.st_mode) && whiteout_is_xattr_file(dirfd, name, &st)) {
			p->holds = xwh ? H_WHITEOUT : H_FILE;
			p->whiteout = xwh ? "overlay.whiteout xattr" : NULL;
			p->xattr_wh_ignored = !xwh;
		} else if (S_ISREG(st.st_mode)) {
			p->holds = H_FILE;
			probe_origin_path(dirfd, name, p);
		} else if (S_ISDIR(st.st_mode)) {
			p->holds = H_DIR;
			probe_dir(dirfd, name, p);
			probe_origin_path(dirfd, name, p);
		} else if (S_ISLNK(st.st_mode)) {
			char buf[4096];
			ssize_t len = readlinkat(dirfd, name, buf, sizeof(buf) - 1);

			p->holds = H_SYMLINK;
			buf[len > 0 ? len : 0] = '\0';
			p->target = xstrdup(buf);
			probe_origin_path(dirfd, name, p);
		} else {
			p->holds = H_OTHER;
			probe_origin_path(dirfd, name, p);
		}
	} else if (errno != ENOENT) {
		p->holds = H_ERROR;
		p->err = errno;
	}
	marker = xprintf(WH_PREFIX "%s", name);
	if (p->holds != H_ERROR && fstatat(dirfd, marker, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (p->holds == H_NOTHING) {
			p->holds = H_WHITEOUT;
			p->whiteout = ".wh.NAME";
		} else if (p->holds != H_WHITEOUT) {
			p->wh_beside = true;
		}
	}
	free(marker);
	close(dirfd);
}

static void probe_free(struct probe *p)
{
	free(p->target);
	free(p->redirect);
	free(p->where);
	free(p->origin_path);
}

static bool is_entry(const struct probe *p)
{
	return p->holds == H_FILE || p->holds == H_DIR || p->holds == H_SYMLINK ||
	       p->holds == H_OTHER;
}

static const char *lname(const struct explain *ex, int i)
{
	return ex->s->layers[i].name;
}

static void step_init(struct step *st, int n)
{
	st->p = xcalloc((size_t)n, sizeof(*st->p));
	st->st = xcalloc((size_t)n, sizeof(*st->st));
	st->note = xcalloc((size_t)n, sizeof(*st->note));
	st->chain = xcalloc((size_t)n, sizeof(*st->chain));
	st->chain_path = xcalloc((size_t)n, sizeof(*st->chain_path));
	st->nchain = 0;
	st->top = st->hider = st->opaque_at = -1;
}

static void step_free(struct step *st, int n)
{
	for (int i = 0; st->p && i < n; i++) {
		probe_free(&st->p[i]);
		free(st->note[i]);
		free(st->chain_path[i]);
	}
	free(st->p);
	free(st->st);
	free(st->note);
	free(st->chain);
	free(st->chain_path);
	memset(st, 0, sizeof(*st));
}

static void set_status(struct step *st, int i, enum status s, char *note)
{
	st->st[i] = s;
	free(st->note[i]);
	st->note[i] = note;
}

/* What lies on the way to PATH in a layer, as overlayfs' redirect walk sees
 * it: a .wh.NAME of a component stops it; an opaque directory above the
 * last component makes this layer the last one. */
static void redirect_way(int rootfd, const char *path, bool *whited_out, bool *opaque_above)
{
	char *copy = xstrdup(path), *name = copy, *slash;
	int dirfd = rootfd;

	*whited_out = *opaque_above = false;
	while (name && !*whited_out) {
		struct stat st;
		char *marker;
		int next;

		slash = strchr(name, '/');
		if (slash)
			*slash = '\0';
		marker = xprintf(WH_PREFIX "%s", name);
		*whited_out = fstatat(dirfd, marker, &st, AT_SYMLINK_NOFOLLOW) == 0;
		free(marker);
		if (*whited_out || !slash)
			break;
		next = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dirfd != rootfd)
			close(dirfd);
		dirfd = next;
		if (dirfd < 0)
			break;
		{
			struct probe p = { 0 };

			probe_dir(dirfd, ".", &p);
			*opaque_above |= p.opaque != NULL;
			probe_free(&p);
		}
		name = slash + 1;
	}
	if (dirfd >= 0 && dirfd != rootfd)
		close(dirfd);
	free(copy);
}

/* overlayfs' redirect_dir, as the daemon follows it (fs/lookup.c): the
 * layers below LAYER hold the directory at REDIRECT. */
static void follow_redirect(struct explain *ex, struct step *st, int layer)
{
	char *redirect = xstrdup(st->p[layer].redirect);

	for (int j = layer + 1; j < ex->n; j++) {
		int rootfd = ex->s->layers[j].fd;
		bool whited_out, opaque_above;
		struct probe p;
		char *path, *dir, *base;
		int fd;

		if (redirect[0] == '/') {
			const char *r = redirect;

			while (*r == '/')
				r++;
			path = xstrdup(*r ? r : ".");
		} else {
			path = path_join(ex->dirpath[j], redirect);
		}
		fd = rootfd >= 0 ? layer_open_dir(rootfd, path) : -ENOENT;
		redirect_way(rootfd, path, &whited_out, &opaque_above);
		if (fd == -ENOENT && !whited_out) {
			free(path);
			continue;
		}
		if (fd < 0 || whited_out) {
			if (fd >= 0)
				close(fd);
			free(path);
			break;
		}
		close(fd);
		/* Show this layer as read at the redirect. */
		base = strrchr(path, '/');
		dir = base ? xprintf("%.*s", (int)(base - path), path) : xstrdup(".");
		probe(rootfd, dir, base ? base + 1 : path, &p);
		free(dir);
		probe_free(&st->p[j]);
		st->p[j] = p;
		st->p[j].where = xprintf("/%s", path);
		set_status(st, j, S_MERGED, xprintf("merged from /%s, where the redirect of %s "
						    "leads", path, lname(ex, layer)));
		st->chain[st->nchain] = j;
		st->chain_path[st->nchain++] = path;
		if (st->p[j].redirect) {
			free(redirect);
			redirect = xstrdup(st->p[j].redirect);
		}
		if (st->p[j].opaque || opaque_above)
			break;
	}
	free(redirect);
}

/* Cut a directory's chain at its first opaque layer, or follow a redirect
 * there: the daemon's ufs_layers_final. */
static void chain_final(struct explain *ex, struct step *st)
{
	for (int k = 0; k < st->nchain; k++) {
		int layer = st->chain[k];
		const struct probe *p = &st->p[layer];

		if (!p->opaque && !p->redirect)
			continue;
		for (int m = k + 1; m < st->nchain; m++) {
			int below = st->chain[m];

			if (p->opaque)
				set_status(st, below, S_UNUSED,
					   xprintf("below the opaque directory of %s (%s)",
						   lname(ex, layer), p->opaque));
			else
				set_status(st, below, S_UNUSED,
					   xprintf("the directory of %s redirects to %s instead",
						   lname(ex, layer), p->redirect));
			free(st->chain_path[m]);
			st->chain_path[m] = NULL;
		}
		st->nchain = k + 1;
		if (p->opaque)
			st->opaque_at = layer;
		else
			follow_redirect(ex, st, layer);
		break;
	}
}

/* The format of the whiteout a layer holds at the name. */
static const char *wh_format(const struct probe *p)
{
	return p->whiteout ? p->whiteout : ".wh.NAME";
}

/* An entry below the decision: why it is not part of the result. */
static void explain_below(struct explain *ex, struct step *st, int i, int ender, bool ender_wh)
{
	const struct probe *p = &st->p[i];
	const char *top = st->top >= 0 ? lname(ex, st->top) : NULL;

	if (st->hider >= 0)
		set_status(st, i, S_HIDDEN, xprintf("by the whiteout in %s", lname(ex, st->hider)));
	else if (st->p[st->top].holds != H_DIR)
		set_status(st, i, S_SHADOWED, xprintf("%s above wins", top));
	else if (p->holds != H_DIR)
		set_status(st, i, S_SHADOWED,
			   xprintf("not a directory, below the directory of %s: the merge stops here",
				   top));
	else if (ender >= 0)
		set_status(st, i, S_UNUSED,
			   xprintf("the merge stopped above, at the %s in %s",
				   ender_wh ? "whiteout" : "non-directory", lname(ex, ender)));
	else
		set_status(st, i, S_UNUSED, xprintf("%s above wins", top));
}

/* Resolve NAME across the layers that hold its directory (section 3). */
static void decide(struct explain *ex, struct step *st, const char *name)
{
	bool decided = false, collecting = false, ender_wh = false;
	int stop_after = -1, ender = -1;

	for (int i = 0; i < ex->n; i++) {
		struct probe *p = &st->p[i];
		bool entry = is_entry(p), marker = p->holds == H_WHITEOUT || p->wh_beside;

		if (!ex->consulted[i]) {
			if (p->holds != H_NOTHING)
				set_status(st, i, S_NOT_CONSULTED,
					   xstrdup(ex->out_why[i] ? ex->out_why[i] :
						   "its directory is not part of the merged view"));
			continue;
		}
		if (p->holds == H_ERROR) {
			set_status(st, i, S_UNUSED, xprintf("unreadable: %s", strerror(p->err)));
			continue;
		}
		if (ex->marker_name) {
			if (entry || marker)
				set_status(st, i, S_UNUSED,
					   xstrdup(".wh.* names are markers, never shown"));
			continue;
		}
		if (!entry && !marker)
			continue;
		if (decided && collecting && stop_after >= 0 && i > stop_after) {
			collecting = false;
			ender = stop_after;
			ender_wh = true;
		}
		if (!decided) {
			decided = true;
			if (entry) {
				st->top = i;
				set_status(st, i, S_WINS, xstrdup(p->wh_beside ?
					"topmost layer with the name (the .wh.NAME beside it hides "
					"only the layers below)" : "topmost layer with the name"));
				if (p->holds == H_DIR) {
					st->chain[st->nchain] = i;
					st->chain_path[st->nchain++] = path_join(ex->dirpath[i], name);
					collecting = true;
				}
			} else {
				st->hider = i;
				set_status(st, i, S_HIDES, xstrdup("the name does not exist below"));
			}
			if (marker)
				stop_after = i;
			continue;
		}
		if (entry && collecting && p->holds == H_DIR) {
			st->chain[st->nchain] = i;
			st->chain_path[st->nchain++] = path_join(ex->dirpath[i], name);
			set_status(st, i, S_MERGED, xprintf("into the directory of %s",
							    lname(ex, st->top)));
		} else if (entry) {
			explain_below(ex, st, i, ender, ender_wh);
			if (collecting) {
				collecting = false;
				ender = i;
				ender_wh = false;
			}
		} else if (collecting) {
			set_status(st, i, S_UNUSED, xprintf("whiteout (%s): ends the merge, nothing "
							    "below it is used", wh_format(p)));
		} else {
			set_status(st, i, S_UNUSED, xprintf("whiteout (%s): below the decision, "
							    "changes nothing", wh_format(p)));
		}
		if (marker && stop_after < 0)
			stop_after = i;
	}
	if (st->top >= 0 && st->p[st->top].holds == H_DIR)
		chain_final(ex, st);
}

static bool first_lower_is_entry(const struct explain *ex, const struct step *st)
{
	for (int i = 0; i < ex->n; i++) {
		if (strcmp(ex->s->layers[i].role, "upper") == 0 || !ex->consulted[i])
			continue;
		if (st->p[i].holds == H_WHITEOUT || st->p[i].wh_beside)
			return is_entry(&st->p[i]);
		if (is_entry(&st->p[i]))
			return true;
	}
	return false;
}

static bool is_upper(const struct explain *ex, int i)
{
	return i >= 0 && strcmp(ex->s->layers[i].role, "upper") == 0;
}

/* The root: every layer holds it, and every layer merges into it. */
static void explain_root(struct explain *ex)
{
	struct step *st = &ex->last;

	step_init(st, ex->n);
	for (int i = 0; i < ex->n; i++) {
		struct probe *p = &st->p[i];
		int fd = ex->s->layers[i].fd;

		if (fd < 0) {
			p->holds = H_ERROR;
			p->err = ENOENT;
			set_status(st, i, S_UNUSED, xstrdup("cannot open the layer"));
			continue;
		}
		p->holds = H_DIR;
		p->mode = S_IFDIR;
		probe_dir(fd, ".", p);
		set_status(st, i, st->top < 0 ? S_WINS : S_MERGED,
			   xprintf("%sthe root merges every layer%s",
				   st->top < 0 ? "top of the stack; " : "",
				   p->opaque ? " (an opaque marker on a layer root is ignored)" : ""));
		if (st->top < 0)
			st->top = i;
		st->chain[st->nchain] = i;
		st->chain_path[st->nchain++] = xstrdup(".");
	}
	ex->exists = st->top >= 0;
}

/* A component above the last one does not resolve to a directory: say why,
 * and show what each layer holds at the full path anyway. */
static void explain_failed_ancestor(struct explain *ex, struct step *st, const char *upto,
				    char **rest, int nrest)
{
	if (ex->marker_name)
		ex->failure = xprintf("hidden: %s is a .wh.* marker name, never shown in the "
				      "merged view", upto);
	else if (st->hider >= 0)
		ex->failure = xprintf("hidden: %s is whited out by %s (%s)", upto,
				      lname(ex, st->hider), wh_format(&st->p[st->hider]));
	else if (st->top >= 0)
		ex->failure = xprintf("not found: %s is a %s in %s, not a directory", upto,
				      explain_type_word(st->p[st->top].mode), lname(ex, st->top));
	else
		ex->failure = xprintf("not found: no layer %s merges from holds %s",
				      strchr(upto + 1, '/') ? "its parent directory" : "of the stack",
				      upto);
	step_init(&ex->last, ex->n);
	for (int i = 0; i < ex->n; i++) {
		char *dir = xstrdup(ex->dirpath[i]);

		for (int k = 0; k < nrest - 1; k++) {
			char *next = path_join(dir, rest[k]);

			free(dir);
			dir = next;
		}
		probe(ex->s->layers[i].fd, dir, rest[nrest - 1], &ex->last.p[i]);
		free(dir);
		if (ex->last.p[i].holds != H_NOTHING)
			set_status(&ex->last, i, S_NOT_CONSULTED,
				   xstrdup(ex->out_why[i] ? ex->out_why[i] : ex->failure));
	}
}

/* Layers of the directory just resolved take part below it; the others
 * remember why they stopped. */
static void descend(struct explain *ex, struct step *st, const char *upto, const char *name)
{
	for (int i = 0; i < ex->n; i++) {
		int k;

		for (k = 0; k < st->nchain && st->chain[k] != i; k++)
			;
		if (k < st->nchain) {
			ex->consulted[i] = true;
			free(ex->dirpath[i]);
			ex->dirpath[i] = xstrdup(st->chain_path[k]);
			continue;
		}
		if (ex->consulted[i]) {
			ex->consulted[i] = false;
			free(ex->out_why[i]);
			if (st->st[i] == S_NONE)
				ex->out_why[i] = xprintf("this layer has no directory %s", upto);
			else
				ex->out_why[i] = xprintf("%s here is %s%s%s", upto,
							 status_words[st->st[i]],
							 st->note[i] ? ": " : "",
							 st->note[i] ? st->note[i] : "");
		}
		{
			char *next = path_join(ex->dirpath[i], name);

			free(ex->dirpath[i]);
			ex->dirpath[i] = next;
		}
	}
}

static void walk(struct explain *ex, const char *rel)
{
	char *copy = xstrdup(rel), *save = NULL, *tok;
	char **comps = xcalloc(strlen(rel) / 2 + 2, sizeof(*comps));
	int ncomp = 0;

	for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save))
		comps[ncomp++] = tok;
	ex->upath = xstrdup("/");
	for (int i = 0; i < ex->n; i++) {
		ex->consulted[i] = true;
		ex->dirpath[i] = xstrdup(".");
	}
	if (ncomp == 0)
		explain_root(ex);
	for (int idx = 0; idx < ncomp; idx++) {
		const char *name = comps[idx];
		bool last = idx == ncomp - 1;
		struct step st;
		char *upath = xprintf("%s%s%s", ex->upath, idx ? "/" : "", name);

		free(ex->upath);
		ex->upath = upath;
		ex->marker_name = whiteout_is_marker_name(name);
		step_init(&st, ex->n);
		for (int i = 0; i < ex->n; i++)
			if (ex->consulted[i] || last)
				probe(ex->s->layers[i].fd, ex->dirpath[i], name, &st.p[i]);
		decide(ex, &st, name);
		if (last) {
			ex->last = st;
			ex->exists = st.top >= 0 && !ex->marker_name;
			break;
		}
		if (ex->marker_name || st.top < 0 || st.p[st.top].holds != H_DIR) {
			char *full = xstrdup(ex->upath);

			for (int k = idx + 1; k < ncomp; k++) {
				char *next = xprintf("%s/%s", full, comps[k]);

				free(full);
				full = next;
			}
			for (int i = 0; i < ex->n; i++) {
				char *next = path_join(ex->dirpath[i], name);

				free(ex->dirpath[i]);
				ex->dirpath[i] = next;
			}
			explain_failed_ancestor(ex, &st, ex->upath, comps + idx + 1, ncomp - idx - 1);
			free(ex->upath);
			ex->upath = full;
			step_free(&st, ex->n);
			break;
		}
		descend(ex, &st, ex->upath, name);
		step_free(&st, ex->n);
	}
	free(comps);
	free(copy);
}

/* ---------------------------------------------------------------- words */

static char *holds_text(const struct probe *p)
{
	char *extra = xstrdup(""), *out;

	switch (p->holds) {
	case H_NOTHING: out = xstrdup("nothing"); break;
	case H_FILE: out = xprintf("file, %lld bytes%s", (long long)p->size,
				   p->xattr_wh_ignored ? " (carries overlay.whiteout, but its "
				   "directory is not overlay.opaque=x: not a whiteout)" : ""); break;
	case H_SYMLINK: out = xprintf("symlink -> %s", p->target ? p->target : "?"); break;
	case H_OTHER: out = xstrdup(explain_type_word(p->mode)); break;
	case H_WHITEOUT: out = xprintf("whiteout (%s)", wh_format(p)); break;
	case H_ERROR: out = xprintf("unreadable (%s)", strerror(p->err)); break;
	case H_DIR:
		free(extra);
		extra = xprintf("%s%s%s%s%s%s", p->opaque ? ", opaque (" : "",
				p->opaque ? p->opaque : "", p->opaque ? ")" : "",
				p->redirect ? ", redirect to " : "", p->redirect ? p->redirect : "",
				p->xwhiteouts ? ", overlay.opaque=x (holds xattr whiteouts)" : "");
		out = xprintf("directory%s", extra);
		break;
	default: out = xstrdup("?"); break;
	}
	if (p->wh_beside) {
		char *more = xprintf("%s, and a .wh.NAME beside it", out);

		free(out);
		out = more;
	}
	if (p->where) {
		char *more = xprintf("%s, at %s", out, p->where);

		free(out);
		out = more;
	}
	free(extra);
	return out;
}

static const char *holds_word(const struct probe *p)
{
	switch (p->holds) {
	case H_NOTHING: return "nothing";
	case H_WHITEOUT: return "whiteout";
	case H_ERROR: return "error";
	default: return explain_type_word(p->mode);
	}
}

/* "a", "a and b", "a, b and c" */
static char *name_list(const struct explain *ex, const int *layers, int n)
{
	char *out = xstrdup("");

	for (int k = 0; k < n; k++) {
		char *next = xprintf("%s%s%s", out, k == 0 ? "" : k == n - 1 ? " and " : ", ",
				     lname(ex, layers[k]));

		free(out);
		out = next;
	}
	return out;
}

static char *verdict(const struct explain *ex)
{
	const struct step *st = &ex->last;
	char *names, *out, *cut;
	int below[ex->n > 0 ? ex->n : 1], nbelow = 0;

	if (ex->failure)
		return xstrdup(ex->failure);
	if (ex->marker_name)
		return xstrdup("hidden: .wh.* names are whiteout markers, never shown in the "
			       "merged view");
	if (st->hider >= 0)
		return xprintf("hidden: whited out by %s (%s)", lname(ex, st->hider),
			       wh_format(&st->p[st->hider]));
	if (st->top < 0)
		return xstrdup("not found: no layer holds it");
	if (st->p[st->top].holds != H_DIR)
		return xprintf("%s wins: topmost layer with the name", lname(ex, st->top));
	names = name_list(ex, st->chain, st->nchain);
	if (strcmp(ex->upath, "/") == 0)
		out = xprintf("the root: directory merged from %s", names);
	else if (st->nchain == 1)
		out = xprintf("directory from %s alone", names);
	else
		out = xprintf("directory merged from %s", names);
	free(names);
	if (st->opaque_at < 0)
		return out;
	for (int i = st->opaque_at + 1; i < ex->n; i++)
		if (st->st[i] == S_UNUSED && st->p[i].holds == H_DIR && ex->consulted[i])
			below[nbelow++] = i;
	if (nbelow == 0)
		return out;
	names = name_list(ex, below, nbelow);
	cut = xprintf("%s; %s below the opaque %s %s not used", out, names,
		      lname(ex, st->opaque_at), nbelow == 1 ? "is" : "are");
	free(names);
	free(out);
	return cut;
}

/* "yes" if the upper layer holds the entry and it also exists below (the
 * daemon's copied_up), with the words that say so. */
/* The lower layer holding ORIGIN_PATH, where a copy now elsewhere was
 * copied up from; -1 if none does. */
static int origin_layer(const struct explain *ex, const char *origin_path)
{
	for (int i = 0; i < ex->n; i++) {
		int fd;

		if (is_upper(ex, i) || ex->s->layers[i].fd < 0)
			continue;
		/* As the daemon looks: never out of the layer, nor through a symlink. */
		fd = layer_openat(ex->s->layers[i].fd, origin_path, O_PATH | O_NOFOLLOW, 0);
		if (fd >= 0) {
			close(fd);
			return i;
		}
	}
	return -1;
}

static bool copied_up(const struct explain *ex, char **why)
{
	const struct step *st = &ex->last;
	const char *origin_path;
	int from;

	if (!ex->exists) {
		*why = xstrdup("no");
		return false;
	}
	if (!is_upper(ex, st->top)) {
		*why = xstrdup("no: not in the upper layer");
		return false;
	}
	/* Renamed or linked since its copy-up: the copy recorded where it was. */
	origin_path = st->p[st->top].origin_path;
	if (origin_path && strcmp(origin_path, ex->upath + 1) != 0 &&
	    (from = origin_layer(ex, origin_path)) >= 0) {
		*why = xprintf("yes: from %s at /%s, %s here since", lname(ex, from), origin_path,
			       st->p[st->top].holds == H_DIR ? "renamed" : "renamed or linked");
		return true;
	}
	if (strcmp(ex->upath, "/") == 0 || !first_lower_is_entry(ex, st)) {
		*why = xstrdup(strcmp(ex->upath, "/") == 0 ? "no: the root" :
			       "no: it exists only in the upper layer (made through the mount)");
		return false;
	}
	/* An opaque upper directory replaced what lies below (rm -r, then
	 * mkdir): nothing of it was copied. */
	if (st->p[st->top].opaque) {
		*why = xstrdup("no: a new directory in the upper layer, opaque, hides the one below");
		return false;
	}
	for (int i = 0; i < ex->n; i++)
		if (!is_upper(ex, i) && ex->consulted[i] && is_entry(&st->p[i])) {
			*why = xprintf("yes: the upper layer holds it, and %s below", lname(ex, i));
			return true;
		}
	*why = xstrdup("yes");
	return true;
}

/* ---------------------------------------------------------------- daemon */

struct origin {
	char **keys, **values;
	int n;
	bool asked;             /* the daemon was asked */
	int err;                /* why it could not be asked, or what it answered */
	bool merged_exists;     /* the mount shows the path */
	mode_t merged_mode;
	bool agrees;
	char *disagreement;
};

static const char *origin_get(const struct origin *o, const char *key)
{
	for (int i = 0; i < o->n; i++)
		if (strcmp(o->keys[i], key) == 0)
			return o->values[i];
	return NULL;
}

static void origin_parse(struct origin *o, char *text)
{
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (!eq)
			continue;
		*eq = '\0';
		o->keys = realloc(o->keys, (size_t)(o->n + 1) * sizeof(*o->keys));
		o->values = realloc(o->values, (size_t)(o->n + 1) * sizeof(*o->values));
		if (!o->keys || !o->values) {
			fputs("unionfuse: explain: out of memory\n", stderr);
			exit(1);
		}
		o->keys[o->n] = xstrdup(line);
		o->values[o->n++] = xstrdup(eq + 1);
	}
}

static void ask_daemon(const struct explain *ex, const char *abspath, struct origin *o)
{
	const struct step *st = &ex->last;
	struct stat mst;
	char *text, *mine;

	memset(o, 0, sizeof(*o));
	o->agrees = true;
	if (lstat(abspath, &mst) < 0) {
		o->err = errno;
		if (ex->exists) {
			o->agrees = false;
			o->disagreement = xprintf("the mount does not show it (%s)", strerror(errno));
		}
		return;
	}
	o->merged_exists = true;
	o->merged_mode = mst.st_mode;
	if (!ex->exists) {
		o->agrees = false;
		o->disagreement = xstrdup("the mount shows it, the layers do not");
		return;
	}
	if (!S_ISREG(mst.st_mode) && !S_ISDIR(mst.st_mode))
		return; /* user.* xattrs reach the daemon for files and directories only */
	text = xattr_get(abspath, EXPLAIN_XATTR_ORIGIN);
	if (!text) {
		o->err = errno;
		return;
	}
	o->asked = true;
	origin_parse(o, text);
	free(text);
	if (!origin_get(o, "layer") || strcmp(origin_get(o, "layer"), lname(ex, st->top)) != 0) {
		o->agrees = false;
		o->disagreement = xprintf("the daemon takes it from %s",
					  origin_get(o, "layer") ? origin_get(o, "layer") : "?");
		return;
	}
	if (st->p[st->top].holds != H_DIR)
		return;
	mine = xstrdup("");
	for (int k = 0; k < st->nchain; k++) {
		char *next = xprintf("%s%s%s", mine, k ? ", " : "", lname(ex, st->chain[k]));

		free(mine);
		mine = next;
	}
	if (!origin_get(o, "layers") || strcmp(origin_get(o, "layers"), mine) != 0) {
		o->agrees = false;
		o->disagreement = xprintf("the daemon merges it from %s",
					  origin_get(o, "layers") ? origin_get(o, "layers") : "?");
	}
	free(mine);
}

static void origin_free(struct origin *o)
{
	for (int i = 0; i < o->n; i++) {
		free(o->keys[i]);
		free(o->values[i]);
	}
	free(o->keys);
	free(o->values);
	free(o->disagreement);
}

/* ---------------------------------------------------------------- output */

static void print_text(const struct explain *ex, const struct origin *o)
{
	const struct step *st = &ex->last;
	char *v = verdict(ex), *cu;
	int width = 0, hwidth = 0;

	copied_up(ex, &cu);
	for (int i = 0; i < ex->n; i++) {
		char *h = holds_text(&st->p[i]);

		if ((int)strlen(lname(ex, i)) > width)
			width = (int)strlen(lname(ex, i));
		if ((int)strlen(h) > hwidth)
			hwidth = (int)strlen(h);
		free(h);
	}
	printf("%s in the union at %s, layers top first:\n", ex->upath, ex->s->mount);
	for (int i = 0; i < ex->n; i++) {
		char *h = holds_text(&st->p[i]);

		printf("  %-*s  %-*s", width, lname(ex, i), st->st[i] != S_NONE ? hwidth : 0, h);
		if (st->st[i] != S_NONE)
			printf("  [%s%s%s]", status_words[st->st[i]], st->note[i] ? ": " : "",
			       st->note[i] ? st->note[i] : "");
		putchar('\n');
		free(h);
	}
	printf("result: %s\n", v);
	printf("copied up: %s\n", cu);
	if (o->asked) {
		const char *layers = origin_get(o, "layers");

		printf("daemon: %s from %s", origin_get(o, "type") ? origin_get(o, "type") : "?",
		       origin_get(o, "layer") ? origin_get(o, "layer") : "?");
		if (layers)
			printf(", merged from %s, opaque: %s, listing cached: %s", layers,
			       origin_get(o, "opaque") ? origin_get(o, "opaque") : "?",
			       origin_get(o, "view_built") ? origin_get(o, "view_built") : "?");
		printf(", copied up: %s",
		       origin_get(o, "copied_up") ? origin_get(o, "copied_up") : "?");
		if (origin_get(o, "data"))
			printf(" (metadata only: its data is read from %s)", origin_get(o, "data"));
		putchar('\n');
	} else if (o->merged_exists && !S_ISREG(o->merged_mode) && !S_ISDIR(o->merged_mode)) {
		printf("daemon: not asked (a %s: the kernel passes user.* xattrs for files and "
		       "directories only)\n", explain_type_word(o->merged_mode));
	} else if (o->merged_exists && o->err) {
		printf("daemon: no answer (%s)\n", strerror(o->err));
	}
	if (!o->agrees)
		printf("warning: the daemon sees it otherwise: %s\n", o->disagreement);
	free(v);
	free(cu);
}

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int print_json(const struct explain *ex, const struct origin *o)
{
	const struct step *st = &ex->last;
	json_t *root = json_object(), *layers = json_array(), *chain = json_array();
	char *v = verdict(ex), *cu, *text;
	bool cup = copied_up(ex, &cu);

	for (int i = 0; i < ex->n; i++) {
		const struct probe *p = &st->p[i];
		json_t *item = json_object();
		char *h = holds_text(p);

		json_object_set_new(item, "name", json_string(lname(ex, i)));
		json_object_set_new(item, "number", json_integer(ex->s->layers[i].number));
		json_object_set_new(item, "role", json_string(ex->s->layers[i].role));
		json_object_set_new(item, "path", json_string(ex->s->layers[i].path));
		json_object_set_new(item, "holds", json_string(holds_word(p)));
		json_object_set_new(item, "description", json_string(h));
		json_object_set_new(item, "whiteout", p->holds == H_WHITEOUT ?
				    json_string(wh_format(p)) : json_null());
		json_object_set_new(item, "whiteout_beside", json_boolean(p->wh_beside));
		json_object_set_new(item, "opaque", jstr_or_null(p->opaque));
		json_object_set_new(item, "redirect", jstr_or_null(p->redirect));
		json_object_set_new(item, "size", p->holds == H_FILE ?
				    json_integer(p->size) : json_null());
		json_object_set_new(item, "target", jstr_or_null(p->target));
		json_object_set_new(item, "status", st->st[i] == S_NONE ? json_null() :
				    json_string(status_words[st->st[i]]));
		json_object_set_new(item, "note", jstr_or_null(st->note[i]));
		json_array_append_new(layers, item);
		free(h);
	}
	if (ex->exists && st->p[st->top].holds == H_DIR)
		for (int k = 0; k < st->nchain; k++)
			json_array_append_new(chain, json_string(lname(ex, st->chain[k])));
	json_object_set_new(root, "path", json_string(ex->upath));
	json_object_set_new(root, "mount", json_string(ex->s->mount));
	json_object_set_new(root, "exists", json_boolean(ex->exists));
	json_object_set_new(root, "type", ex->exists ?
			    json_string(explain_type_word(st->p[st->top].mode)) : json_null());
	json_object_set_new(root, "winner", ex->exists ?
			    json_string(lname(ex, st->top)) : json_null());
	json_object_set_new(root, "hidden_by", !ex->failure && st->hider >= 0 ?
			    json_pack("{s:s,s:s}", "layer", lname(ex, st->hider),
				      "whiteout", wh_format(&st->p[st->hider])) : json_null());
	json_object_set_new(root, "result", json_string(v));
	json_object_set_new(root, "merged_from", ex->exists && st->p[st->top].holds == H_DIR ?
			    chain : (json_decref(chain), json_null()));
	json_object_set_new(root, "opaque_at", ex->exists && st->opaque_at >= 0 ?
			    json_string(lname(ex, st->opaque_at)) : json_null());
	json_object_set_new(root, "copied_up", json_boolean(cup));
	json_object_set_new(root, "layers", layers);
	if (o->asked) {
		json_t *d = json_object();

		for (int i = 0; i < o->n; i++)
			json_object_set_new(d, o->keys[i], json_string(o->values[i]));
		json_object_set_new(root, "daemon", d);
	} else {
		json_object_set_new(root, "daemon", json_null());
	}
	json_object_set_new(root, "daemon_agrees", json_boolean(o->agrees));
	json_object_set_new(root, "disagreement", jstr_or_null(o->disagreement));
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	free(v);
	free(cu);
	if (!text) {
		fputs("unionfuse: explain: out of memory\n", stderr);
		return 1;
	}
	puts(text);
	free(text);
	return 0;
}

int explain_main(int argc, char **argv)
{
	const char *path = NULL;
	struct explain ex = { 0 };
	struct origin o;
	struct stack s;
	char *root, *rel, *abspath;
	bool json = false;
	int ret = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (argv[i][0] == '-' && argv[i][1] && !path) {
			fprintf(stderr, "unionfuse: explain: %s: unknown flag (try unionfuse --help)\n",
				argv[i]);
			return 2;
		} else if (path) {
			fprintf(stderr, "unionfuse: explain: %s: unexpected argument\n", argv[i]);
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		fputs("unionfuse: explain: needs a PATH inside a unionfuse mount\n", stderr);
		return 2;
	}
	if (stack_find_root("explain", path, &root, &rel) < 0)
		return 1;
	if (stack_load("explain", path, root, &s) < 0) {
		free(root);
		free(rel);
		return 1;
	}
	ex.s = &s;
	ex.n = s.nlayers;
	ex.consulted = xcalloc((size_t)ex.n, sizeof(*ex.consulted));
	ex.dirpath = xcalloc((size_t)ex.n, sizeof(*ex.dirpath));
	ex.out_why = xcalloc((size_t)ex.n, sizeof(*ex.out_why));
	walk(&ex, rel);
	abspath = *rel ? xprintf("%s%s%s", root, strcmp(root, "/") ? "/" : "", rel)
		       : xstrdup(root);
	ask_daemon(&ex, abspath, &o);
	if (json)
		ret = print_json(&ex, &o);
	else
		print_text(&ex, &o);
	origin_free(&o);
	free(abspath);
	step_free(&ex.last, ex.n);
	for (int i = 0; i < ex.n; i++) {
		free(ex.dirpath[i]);
		free(ex.out_why[i]);
	}
	free(ex.consulted);
	free(ex.dirpath);
	free(ex.out_why);
	free(ex.upath);
	free(ex.failure);
	stack_free(&s);
	free(root);
	free(rel);
	return ret;
}
