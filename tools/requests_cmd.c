/* The requests command: the census of a running union's requests
 * (fs/fuse_requests.h), read from its daemon, since the mount or around
 * one command, the way time(1) reports around one. */
#include "requests_cmd.h"

#include "fuse_requests.h"
#include "stackinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A command's requests that come after it exits (RELEASE and FORGET are
 * sent without waiting for them) are waited for this long at most. */
#define SETTLE_TRIES 25
#define SETTLE_PAUSE_NS 20000000L

struct request_kind {
	char name[24];
	unsigned long long count;
};

struct census {
	struct request_kind kinds[REQUESTS_KINDS];
	int n;
	unsigned long long total;
};

static int parse_census(const char *text, struct census *c)
{
	memset(c, 0, sizeof(*c));
	while (*text) {
		struct request_kind *k = &c->kinds[c->n];
		const char *eol = strchr(text, '\n');

		if (c->n == REQUESTS_KINDS || sscanf(text, "%23s %llu", k->name, &k->count) != 2)
			return -1;
		c->total += k->count;
		c->n++;
		if (!eol)
			break;
		text = eol + 1;
	}
	return 0;
}

/* The census of the union mounted at ROOT. 0, or -1 after a message naming
 * ASKED, the path the user gave. */
static int census_read(const char *asked, const char *root, struct census *c)
{
	char *text = xattr_get(root, REQUESTS_XATTR);
	int ret = 0;

	if (!text) {
		if (errno == ENODATA || errno == ENOTSUP || errno == EOPNOTSUPP)
			fprintf(stderr, "unionfuse: requests: %s: not inside a unionfuse mount, "
				"or one whose daemon keeps no census\n", asked);
		else
			fprintf(stderr, "unionfuse: requests: %s: %s\n", root, strerror(errno));
		return -1;
	}
	if (parse_census(text, c) < 0) {
		fprintf(stderr, "unionfuse: requests: %s: cannot read the daemon's census\n", root);
		ret = -1;
	}
	free(text);
	return ret;
}

/* The census once it holds still (see SETTLE_TRIES). */
static int census_read_settled(const char *asked, const char *root, struct census *c)
{
	const struct timespec pause = { .tv_sec = 0, .tv_nsec = SETTLE_PAUSE_NS };
	unsigned long long last;

	if (census_read(asked, root, c) < 0)
		return -1;
	for (int i = 0; i < SETTLE_TRIES; i++) {
		last = c->total;
		nanosleep(&pause, NULL);
		if (census_read(asked, root, c) < 0)
			return -1;
		if (c->total == last)
			break;
	}
	return 0;
}

static unsigned long long count_of(const struct census *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->kinds[i].name, name) == 0)
			return c->kinds[i].count;
	return 0;
}

/* What AFTER counts beyond BEFORE, kind by kind. */
static void census_since(const struct census *before, const struct census *after,
			 struct census *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < after->n; i++) {
		unsigned long long was = count_of(before, after->kinds[i].name);

		if (after->kinds[i].count <= was)
			continue;
		out->kinds[out->n] = after->kinds[i];
		out->kinds[out->n].count -= was;
		out->total += out->kinds[out->n].count;
		out->n++;
	}
}

/* Most frequent first; the same count in name order. */
static int by_count(const void *a, const void *b)
{
	const struct request_kind *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->name, y->name);
}

static void print_command(FILE *f, char **command)
{
	for (int i = 0; command[i]; i++)
		fprintf(f, "%s%s", i ? " " : "", command[i]);
}

static void print_text(FILE *f, const char *root, const struct census *c, char **command)
{
	int width = 0;

	fprintf(f, "unionfuse at %s: ", root);
	if (c->total == 0)
		fputs("no request", f);
	else
		fprintf(f, "%llu request%s", c->total, c->total == 1 ? "" : "s");
	if (command) {
		fputs(" while `", f);
		print_command(f, command);
		fputs("` ran", f);
	} else {
		fputs(" since the mount", f);
	}
	fputs(c->total == 0 && command ? ": the kernel's caches answered\n" : "\n", f);
	for (int i = 0; i < c->n; i++)
		if ((int)strlen(c->kinds[i].name) > width)
			width = (int)strlen(c->kinds[i].name);
	for (int i = 0; i < c->n; i++)
		fprintf(f, "  %-*s  %llu\n", width, c->kinds[i].name, c->kinds[i].count);
}

static int print_json(FILE *f, const char *root, const struct census *c, char **command)
{
	json_t *out = json_object(), *kinds = json_object();
	char *text;

	json_object_set_new(out, "mountpoint", json_string(root));
	if (command) {
		json_t *args = json_array();

		for (int i = 0; command[i]; i++)
			json_array_append_new(args, json_string(command[i]));
		json_object_set_new(out, "command", args);
	}
	json_object_set_new(out, "total", json_integer((json_int_t)c->total));
	for (int i = 0; i < c->n; i++)
		json_object_set_new(kinds, c->kinds[i].name,
				    json_integer((json_int_t)c->kinds[i].count));
	json_object_set_new(out, "requests", kinds);
	text = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(out);
	if (!text) {
		fputs("unionfuse: requests: out of memory\n", stderr);
		return -1;
	}
	fprintf(f, "%s\n", text);
	free(text);
	return 0;
}

/* Run COMMAND and wait for it: its exit status, as a shell gives it (128 +
 * the signal that ended it). If it could not be started, minus the status
 * a shell gives then (127 not found, 126 otherwise), after a message: the
 * child tells the errno of its exec through a pipe the exec closes. As
 * time(1), this process ignores ^C and ^\ meanwhile: they are for COMMAND,
 * and the census still follows. */
static int run_command(char **command)
{
	struct sigaction ignore = { .sa_handler = SIG_IGN }, old_int, old_quit;
	int pipefd[2], status = 0, err = 0;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		fprintf(stderr, "unionfuse: requests: cannot start %s: %s\n", command[0],
			strerror(errno));
		return -126;
	}
	sigaction(SIGINT, &ignore, &old_int);
	sigaction(SIGQUIT, &ignore, &old_quit);
	pid = fork();
	if (pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		close(pipefd[0]);
		execvp(command[0], command);
		err = errno;
		/* Should the parent not hear it, it takes 126 for the status. */
		if (write(pipefd[1], &err, sizeof(err)) != sizeof(err))
			_exit(126);
		_exit(127);
	}
	if (pid < 0)
		err = errno;
	close(pipefd[1]);
	if (pid > 0 && read(pipefd[0], &err, sizeof(err)) != sizeof(err))
		err = 0;
	close(pipefd[0]);
	while (pid > 0 && !err && waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			err = errno;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	if (err) {
		fprintf(stderr, "unionfuse: requests: %s: %s\n", command[0], strerror(err));
		return err == ENOENT ? -127 : -126;
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static int usage_error(const char *what, const char *arg)
{
	if (arg)
		fprintf(stderr, "unionfuse: requests: %s: %s\n", arg, what);
	else
		fprintf(stderr, "unionfuse: requests: %s\n", what);
	return 2;
}

/* The census around COMMAND, on stderr as time(1) reports (stdout is the
 * command's). */
static int census_around(const char *asked, const char *root, char **command, bool json)
{
	struct census before, after, diff;
	int status;

	if (census_read(asked, root, &before) < 0)
		return 125;
	status = run_command(command);
	if (status < 0)
		return -status;
	if (census_read_settled(asked, root, &after) < 0)
		return status ? status : 125;
	census_since(&before, &after, &diff);
	qsort(diff.kinds, (size_t)diff.n, sizeof(diff.kinds[0]), by_count);
	if (json)
		print_json(stderr, root, &diff, command);
	else
		print_text(stderr, root, &diff, command);
	return status;
}

int requests_main(int argc, char **argv)
{
	char **command = NULL, *root, *rel;
	const char *mnt = NULL;
	struct census c;
	bool json = false;
	int ret = 0;

	for (int i = 0; i < argc && !command; i++) {
		if (strcmp(argv[i], "--") == 0) {
			command = argv + i + 1;
			if (!*command)
				return usage_error("-- needs a COMMAND after it", NULL);
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return usage_error("unknown flag (try unionfuse --help)", argv[i]);
		} else if (mnt) {
			return usage_error("unexpected argument", argv[i]);
		} else {
			mnt = argv[i];
		}
	}
	if (!mnt)
		return usage_error("needs a MOUNTPOINT", NULL);
	if (stack_find_root("requests", mnt, &root, &rel) < 0)
		return command ? 125 : 1;
	free(rel);
	if (command) {
		ret = census_around(mnt, root, command, json);
	} else if (census_read(mnt, root, &c) < 0) {
		ret = 1;
	} else {
		qsort(c.kinds, (size_t)c.n, sizeof(c.kinds[0]), by_count);
		if (json)
			ret = print_json(stdout, root, &c, NULL) < 0;
		else
			print_text(stdout, root, &c, NULL);
	}
	free(root);
	return ret;
}
