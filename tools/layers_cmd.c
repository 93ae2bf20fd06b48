/* The layers command: the stack of a running union as its daemon tells it,
 * with the number of entries of each layer where counting them is cheap. */
#include "layers_cmd.h"

#include "stackinfo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Past this many entries a layer is not counted: "more than". Deeper than
 * COUNT_DEPTH it is not counted at all: each level holds an fd. */
#define COUNT_LIMIT 10000
#define COUNT_DEPTH 128

/* Count the entries below the directory DIRFD, adding to *COUNT, until
 * *COUNT passes COUNT_LIMIT. No symlink is followed, no mount crossed. */
static int count_below(int dirfd, long *count, int depth)
{
	struct dirent *de;
	struct stat top;
	DIR *d;
	int fd;

	if (depth > COUNT_DEPTH)
		return -1;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &top) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while (*count <= COUNT_LIMIT && (de = readdir(d))) {
		struct stat st;
		int sub;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		++*count;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		sub = openat(fd, de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0 && (errno == EMFILE || errno == ENFILE)) {
			closedir(d);
			return -1;
		}
		if (sub < 0)
			continue;       /* not a directory */
		if (fstat(sub, &st) == 0 && st.st_dev == top.st_dev &&
		    count_below(sub, count, depth + 1) < 0) {
			close(sub);
			closedir(d);
			return -1;
		}
		close(sub);
	}
	closedir(d);
	return 0;
}

/* The entries of a layer; -1 past COUNT_LIMIT or if it cannot be read. */
static long layer_count(const struct stack_layer *l, bool *over)
{
	long count = 0;

	*over = false;
	if (l->fd < 0 || count_below(l->fd, &count, 0) < 0)
		return -1;
	if (count > COUNT_LIMIT) {
		*over = true;
		return -1;
	}
	return count;
}

static void print_text(const struct stack *s)
{
	int width = 0, pwidth = 0;

	for (int i = 0; i < s->nlayers; i++) {
		if ((int)strlen(s->layers[i].name) > width)
			width = (int)strlen(s->layers[i].name);
		if ((int)strlen(s->layers[i].path) > pwidth)
			pwidth = (int)strlen(s->layers[i].path);
	}
	printf("unionfuse at %s: %d layer%s, top first%s\n", s->mount, s->nlayers,
	       s->nlayers == 1 ? "" : "s",
	       strcmp(s->layers[0].role, "upper") == 0 ? "" : " (read-only: no upper layer)");
	for (int i = 0; i < s->nlayers; i++) {
		const struct stack_layer *l = &s->layers[i];
		bool over;
		long n = layer_count(l, &over);

		printf("  %-*s  %-*s  ", width, l->name, pwidth, l->path);
		if (over)
			printf("(more than %d entries)\n", COUNT_LIMIT);
		else if (n < 0)
			printf("(not counted)\n");
		else
			printf("(%ld entr%s)\n", n, n == 1 ? "y" : "ies");
	}
	if (s->work)
		printf("  %-*s  %s\n", width, "work", s->work);
	printf("options: whiteout=%s\n", s->whiteout);
}

static int print_json(const struct stack *s)
{
	json_t *root = json_object(), *layers = json_array();
	char *text;

	for (int i = 0; i < s->nlayers; i++) {
		const struct stack_layer *l = &s->layers[i];
		json_t *item = json_object();
		bool over;
		long n = layer_count(l, &over);

		json_object_set_new(item, "name", json_string(l->name));
		json_object_set_new(item, "number", json_integer(l->number));
		json_object_set_new(item, "role", json_string(l->role));
		json_object_set_new(item, "path", json_string(l->path));
		json_object_set_new(item, "entries", n < 0 ? json_null() : json_integer(n));
		if (over)
			json_object_set_new(item, "entries_more_than", json_integer(COUNT_LIMIT));
		json_array_append_new(layers, item);
	}
	json_object_set_new(root, "mountpoint", json_string(s->mount));
	json_object_set_new(root, "read_only",
			    json_boolean(strcmp(s->layers[0].role, "upper") != 0));
	json_object_set_new(root, "layers", layers);
	json_object_set_new(root, "work", s->work ? json_string(s->work) : json_null());
	json_object_set_new(root, "options", json_pack("{s:s}", "whiteout", s->whiteout));
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text) {
		fputs("unionfuse: layers: out of memory\n", stderr);
		return 1;
	}
	puts(text);
	free(text);
	return 0;
}

int layers_main(int argc, char **argv)
{
	const char *mnt = NULL;
	bool json = false;
	struct stack s;
	char *root, *rel;
	int ret;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "unionfuse: layers: %s: unknown flag (try unionfuse --help)\n",
				argv[i]);
			return 2;
		} else if (mnt) {
			fprintf(stderr, "unionfuse: layers: %s: unexpected argument\n", argv[i]);
			return 2;
		} else {
			mnt = argv[i];
		}
	}
	if (!mnt) {
		fputs("unionfuse: layers: needs a MOUNTPOINT\n", stderr);
		return 2;
	}
	if (stack_find_root("layers", mnt, &root, &rel) < 0)
		return 1;
	ret = stack_load("layers", mnt, root, &s);
	free(root);
	free(rel);
	if (ret < 0)
		return 1;
	ret = 0;
	if (json)
		ret = print_json(&s);
	else
		print_text(&s);
	stack_free(&s);
	return ret;
}
