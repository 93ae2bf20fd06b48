/* The commit command: parse, write the layer file, report its digests, and
 * with --image add it to an OCI layout as a new image version. */
#include "commit.h"

#include "changeset.h"
#include "layerfile.h"
#include "ociwrite.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct commit_args {
	const char *upper, *output, *image, *tag;
};

static int usage_error(const char *what, const char *cause)
{
	fprintf(stderr, "unionfuse: commit: %s: %s\n", what, cause);
	return 2;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static int parse_args(int argc, char **argv, struct commit_args *ca)
{
	const char **field;
	int i;

	memset(ca, 0, sizeof(*ca));
	for (i = 0; i < argc; i++) {
		field = !strcmp(argv[i], "-o") ? &ca->output :
			!strcmp(argv[i], "--image") ? &ca->image :
			!strcmp(argv[i], "--tag") ? &ca->tag : NULL;
		if (field) {
			if (i + 1 >= argc)
				return usage_error(argv[i], "needs a value");
			*field = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return usage_error(argv[i], "unknown flag (try unionfuse --help)");
		} else if (ca->upper) {
			return usage_error(argv[i], "unexpected argument");
		} else {
			ca->upper = argv[i];
		}
	}
	if (!ca->upper)
		return usage_error("UPPERDIR", "missing");
	if (!ca->output && !ca->image)
		return usage_error("-o LAYER.tar[.gz]", "missing");
	if (!ca->image != !ca->tag)
		return usage_error("--image", "goes with --tag");
	if (ca->output && !ends_with(ca->output, ".tar") && !ends_with(ca->output, ".tar.gz") &&
	    !ends_with(ca->output, ".tgz"))
		return usage_error(ca->output, "name must end in .tar, .tar.gz or .tgz");
	return 0;
}

/* A layer file written inside the upper layer would be part of itself. */
static int check_output_outside(const char *upper, const char *path)
{
	char *dir = strdup(path), *slash, *rdir = NULL, *rupper = realpath(upper, NULL);
	size_t len;
	int bad = 0;

	if (dir && (slash = strrchr(dir, '/')))
		*(slash == dir ? slash + 1 : slash) = '\0';
	if (dir)
		rdir = realpath(slash ? dir : ".", NULL);
	if (rdir && rupper) {
		len = strlen(rupper);
		bad = !strncmp(rdir, rupper, len) && (rdir[len] == '/' || rdir[len] == '\0');
	}
	if (bad)
		fprintf(stderr, "unionfuse: %s: the layer file would lie inside the upper layer %s\n",
			path, upper);
	free(dir);
	free(rdir);
	free(rupper);
	return bad;
}

/* Write the layer of UPPER to PATH; fills the digests. Returns 0 or 1. */
static int write_layer(const char *upper, const char *path, bool gzip,
		       char *diffid, char *digest, uint64_t *size)
{
	struct layerfile *lf;
	int fd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err;

	if (fd < 0) {
		fprintf(stderr, "unionfuse: %s: %s\n", upper, strerror(errno));
		return 1;
	}
	if (check_output_outside(upper, path)) {
		close(fd);
		return 1;
	}
	err = layerfile_create(path, gzip, &lf);
	if (err) {
		close(fd);
		return 1;
	}
	err = changeset_write(fd, upper, layerfile_archive(lf));
	close(fd);
	if (err == -ENOMEM)
		fprintf(stderr, "unionfuse: %s: out of memory\n", upper);
	return layerfile_finish(lf, err == 0, diffid, digest, size) ? 1 : 0;
}

int commit_main(int argc, char **argv)
{
	struct commit_args ca;
	char diffid[DIGEST_STR_LEN], digest[DIGEST_STR_LEN];
	char *path = NULL;
	uint64_t size;
	bool gzip;
	int ret = parse_args(argc, argv, &ca);

	if (ret)
		return ret;
	/* Into an image without -o: a gzip blob, as registries hold them. */
	gzip = ca.output ? !ends_with(ca.output, ".tar") : true;
	if (ca.output)
		path = strdup(ca.output);
	else
		path = ociwrite_scratch_path(ca.image);
	if (!path)
		return 1;
	ret = write_layer(ca.upper, path, gzip, diffid, digest, &size);
	if (ret == 0) {
		printf("diffID: %s\ndigest: %s\nsize: %" PRIu64 "\n", diffid, digest, size);
		if (ca.image)
			ret = ociwrite_append_layer(ca.image, ca.tag, path, !ca.output, gzip,
						    diffid, digest, size);
	}
	free(path);
	return ret;
}
