/* Finding the union a path lies in and reading its stack from the daemon
 * (user.unionfuse.layers on the mount root). */
#include "stackinfo.h"

#include "explain.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

char *xattr_get(const char *path, const char *name)
{
	/* The value may grow between the two calls (a copy-up in between):
	 * ask again on ERANGE. */
	for (int tries = 0; tries < 8; tries++) {
		ssize_t len = lgetxattr(path, name, NULL, 0);
		char *value;

		if (len < 0)
			return NULL;
		value = malloc((size_t)len + 1);
		if (!value)
			return NULL;
		len = lgetxattr(path, name, value, (size_t)len);
		if (len >= 0) {
			value[len] = '\0';
			return value;
		}
		free(value);
		if (errno != ERANGE)
			return NULL;
	}
	errno = ERANGE;
	return NULL;
}

static char *join(const char *dir, const char *name)
{
	char *out;

	if (!*name)
		return strdup(dir);
	if (asprintf(&out, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", name) < 0)
		return NULL;
	return out;
}

static bool is_dot_name(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, "/") == 0;
}

/* dirname() and basename() of PATH, as fresh strings. */
static int split_path(const char *path, char **dir, char **base)
{
	char *a = strdup(path), *b = strdup(path);

	*dir = a ? strdup(dirname(a)) : NULL;
	*base = b ? strdup(basename(b)) : NULL;
	free(a);
	free(b);
	if (*dir && *base)
		return 0;
	free(*dir);
	free(*base);
	errno = ENOMEM;
	return -1;
}

/* PATH made absolute with its directories resolved, its last component
 * kept as it is (not followed). Directories that do not exist in the merged
 * view (whited out) are kept as written, if they are plain names. */
static char *absolute_path(const char *path)
{
	char *dir, *rest, *out = NULL;

	if (split_path(path, &dir, &rest) < 0)
		return NULL;
	if (is_dot_name(rest)) {
		free(dir);
		free(rest);
		return realpath(path, NULL);
	}
	for (;;) {
		char *resolved = realpath(dir, NULL), *up, *name, *longer;

		if (resolved) {
			out = join(resolved, rest);
			free(resolved);
			break;
		}
		if (errno != ENOENT || split_path(dir, &up, &name) < 0)
			break;
		longer = is_dot_name(name) ? NULL : join(name, rest);
		free(name);
		free(dir);
		dir = up;
		if (!longer) {
			errno = ENOENT;
			break;
		}
		free(rest);
		rest = longer;
	}
	free(dir);
	free(rest);
	return out;
}

int stack_find_root(const char *cmd, const char *path, char **root, char **rel)
{
	char *abs = absolute_path(path), *cur;
	struct stat st;
	dev_t dev;

	if (!abs) {
		fprintf(stderr, "unionfuse: %s: %s: %s\n", cmd, path, strerror(errno));
		return -1;
	}
	/* Start from the path itself if it is a directory, else from the
	 * deepest directory above it that exists. */
	cur = strdup(abs);
	while (cur && (lstat(cur, &st) < 0 || !S_ISDIR(st.st_mode))) {
		char *up = strdup(dirname(cur));

		free(cur);
		cur = up;
	}
	if (!cur) {
		free(abs);
		fprintf(stderr, "unionfuse: %s: %s: %s\n", cmd, path, strerror(ENOMEM));
		return -1;
	}
	dev = st.st_dev;
	while (strcmp(cur, "/") != 0) {
		char *copy = strdup(cur), *up;

		up = copy ? dirname(copy) : NULL;
		if (!up || lstat(up, &st) < 0 || st.st_dev != dev) {
			free(copy);
			break;
		}
		up = strdup(up);
		free(copy);
		free(cur);
		cur = up;
		if (!cur)
			break;
	}
	if (!cur) {
		free(abs);
		fprintf(stderr, "unionfuse: %s: %s: %s\n", cmd, path, strerror(ENOMEM));
		return -1;
	}
	*root = cur;
	if (strcmp(cur, "/") == 0)
		*rel = strdup(abs + 1);
	else
		*rel = strdup(abs[strlen(cur)] == '/' ? abs + strlen(cur) + 1 : "");
	free(abs);
	if (!*rel) {
		free(cur);
		fprintf(stderr, "unionfuse: %s: %s: %s\n", cmd, path, strerror(ENOMEM));
		return -1;
	}
	return 0;
}

/* Undo the escaping of explain.h in place: "\n" and "\\". */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (*s == '\\' && (s[1] == 'n' || s[1] == '\\')) {
			*out++ = s[1] == 'n' ? '\n' : '\\';
			s++;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

static int parse_layer(char *line, struct stack_layer *l)
{
	char *role = strchr(line, ' '), *path;

	if (!role)
		return -1;
	*role++ = '\0';
	path = strchr(role, ' ');
	if (!path)
		return -1;
	*path++ = '\0';
	l->number = atoi(line);
	unescape(path);
	l->role = strdup(role);
	l->path = strdup(path);
	if (!l->role || !l->path)
		return -1;
	if (strcmp(role, "upper") == 0)
		snprintf(l->name, sizeof(l->name), "upper");
	else
		snprintf(l->name, sizeof(l->name), "layer %d (%s)", l->number, role);
	l->fd = open(l->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return 0;
}

static int parse_stack(char *text, struct stack *s)
{
	char *line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "work ", 5) == 0) {
			unescape(line + 5);
			free(s->work);
			s->work = strdup(line + 5);
		} else if (strncmp(line, "option whiteout=", 16) == 0) {
			free(s->whiteout);
			s->whiteout = strdup(line + 16);
		} else if (strncmp(line, "option ", 7) == 0) {
			continue;       /* options of later versions */
		} else {
			struct stack_layer *more = realloc(s->layers,
				(size_t)(s->nlayers + 1) * sizeof(*more));

			if (!more)
				return -1;
			s->layers = more;
			memset(&more[s->nlayers], 0, sizeof(*more));
			more[s->nlayers].fd = -1;
			if (parse_layer(line, &more[s->nlayers++]) < 0)
				return -1;
		}
	}
	return s->nlayers > 0 ? 0 : -1;
}

int stack_load(const char *cmd, const char *asked, const char *root, struct stack *s)
{
	char *text;

	memset(s, 0, sizeof(*s));
	text = xattr_get(root, EXPLAIN_XATTR_LAYERS);
	if (!text) {
		if (errno == ENODATA || errno == ENOTSUP || errno == EOPNOTSUPP)
			fprintf(stderr, "unionfuse: %s: %s: not inside a unionfuse mount\n",
				cmd, asked);
		else
			fprintf(stderr, "unionfuse: %s: %s: %s\n", cmd, root, strerror(errno));
		return -1;
	}
	s->mount = strdup(root);
	if (!s->mount || parse_stack(text, s) < 0) {
		fprintf(stderr, "unionfuse: %s: %s: cannot read the daemon's list of layers\n",
			cmd, root);
		free(text);
		stack_free(s);
		return -1;
	}
	free(text);
	if (!s->whiteout)
		s->whiteout = strdup("overlay");
	return 0;
}

void stack_free(struct stack *s)
{
	for (int i = 0; i < s->nlayers; i++) {
		if (s->layers[i].fd >= 0)
			close(s->layers[i].fd);
		free(s->layers[i].role);
		free(s->layers[i].path);
	}
	free(s->layers);
	free(s->work);
	free(s->whiteout);
	free(s->mount);
	memset(s, 0, sizeof(*s));
}
