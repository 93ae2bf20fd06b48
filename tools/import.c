/* The import command. Each layer is checked (its blob digest, then the
 * digest of its uncompressed tar against the config's diff_id) before a
 * byte of it is unpacked, and unpacked into a hidden scratch name renamed
 * into place at the end: a layer directory under its final name is always
 * complete, so an import that stopped half way can simply be run again,
 * and layers already there (an image sharing its base) are reused. */
#include "import.h"

#include "digest.h"
#include "dockerarchive.h"
#include "oci.h"
#include "util.h"
#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCRATCH_NAME ".unionfuse-import"

struct import_args {
	const char *source, *dest;
	struct unpack_opts o;
};

static int usage_error(const char *what, const char *cause)
{
	fprintf(stderr, "unionfuse: import: %s: %s\n", what, cause);
	return 2;
}

static int parse_args(int argc, char **argv, struct import_args *ia)
{
	int i;

	memset(ia, 0, sizeof(*ia));
	ia->o.set_owner = geteuid() == 0;
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--whiteout=overlay"))
			ia->o.overlay_whiteouts = true;
		else if (!strcmp(argv[i], "--whiteout=aufs"))
			ia->o.overlay_whiteouts = false;
		else if (argv[i][0] == '-' && argv[i][1])
			return usage_error(argv[i], "unknown flag (try unionfuse --help)");
		else if (!ia->source)
			ia->source = argv[i];
		else if (!ia->dest)
			ia->dest = argv[i];
		else
			return usage_error(argv[i], "unexpected argument");
	}
	if (!ia->dest)
		return usage_error("SOURCE DESTDIR", "both are needed");
	return 0;
}

/* The digest of the layer's tar stream once decompressed. */
static int uncompressed_digest(const char *path, char *out)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct digest *d = digest_new();
	char buf[65536];
	la_ssize_t n;
	int err = 0;

	if (!a || !d) {
		digest_free(d);
		archive_read_free(a);
		return -1;
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK)
		err = -1;
	while (!err && (n = archive_read_data(a, buf, sizeof(buf))) != 0) {
		if (n < 0)
			err = -1;
		else
			digest_update(d, buf, (size_t)n);
	}
	if (err) {
		fprintf(stderr, "unionfuse: %s: %s\n", path, archive_error_string(a));
		digest_free(d);
	} else {
		digest_finish(d, out);
	}
	archive_read_free(a);
	return err;
}

static int verify_layer(const struct oci_layer *l)
{
	char got[DIGEST_STR_LEN];

	if (l->digest && oci_verify_blob(l->path, l->digest, l->size))
		return -1;
	if (!l->diffid)
		return 0;
	if (uncompressed_digest(l->path, got))
		return -1;
	if (strcmp(got, l->diffid)) {
		fprintf(stderr, "unionfuse: %s: diff_id mismatch: expected %s, got %s\n",
			l->path, l->diffid, got);
		return -1;
	}
	return 0;
}

static int unpack_into(int destfd, const char *dest, const char *name, const struct oci_layer *l,
		       const struct unpack_opts *o)
{
	char *scratch;
	int fd, err;

	if (asprintf(&scratch, ".%s.partial", name) < 0)
		return -1;
	util_remove_tree(destfd, scratch);          /* left by an import that died */
	if (mkdirat(destfd, scratch, 0755) < 0 ||
	    (fd = openat(destfd, scratch, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		fprintf(stderr, "unionfuse: %s/%s: %s\n", dest, scratch, strerror(errno));
		free(scratch);
		return -1;
	}
	err = unpack_layer(l->path, fd, dest, o);
	close(fd);
	if (!err && renameat(destfd, scratch, destfd, name) < 0) {
		fprintf(stderr, "unionfuse: %s/%s: %s\n", dest, name, strerror(errno));
		err = -1;
	}
	if (err)
		util_remove_tree(destfd, scratch);
	free(scratch);
	return err;
}

/* NNN-<12 hex>: sorted names are the stack order, base first. */
static char *layer_name(int i, const struct oci_layer *l)
{
	const char *id = l->digest ? l->digest : l->diffid;
	char *name;

	if (asprintf(&name, "%03d-%.12s", i, id ? id + 7 : "unknown") < 0)
		return NULL;
	return name;
}

static int import_layers(int destfd, const char *dest, const struct oci_image *img,
			 const struct unpack_opts *o, char **names)
{
	struct stat st;
	int i;

	for (i = 0; i < img->nlayers; i++) {
		names[i] = layer_name(i, &img->layers[i]);
		if (!names[i])
			return -1;
		if (fstatat(destfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
			fprintf(stderr, "unionfuse: %s/%s: already there, kept\n", dest, names[i]);
			continue;
		}
		if (verify_layer(&img->layers[i]) ||
		    unpack_into(destfd, dest, names[i], &img->layers[i], o))
			return -1;
	}
	return 0;
}

static void print_mount_command(const char *dest, char **names, int n)
{
	char *real = realpath(dest, NULL);
	int i;

	printf("unionfuse mount");
	for (i = 0; i < n; i++)
		printf(" %s/%s", real ? real : dest, names[i]);
	printf(" MOUNTPOINT\n");
	free(real);
}

static int open_image(const struct import_args *ia, int destfd, struct oci_image *img)
{
	char *path, *tag, *scratch = NULL;
	struct stat st;
	int err;

	if (oci_split_ref(ia->source, &path, &tag))
		return -1;
	if (stat(path, &st) < 0) {
		err = -1;
		fprintf(stderr, "unionfuse: %s: %s\n", path, strerror(errno));
	} else if (S_ISDIR(st.st_mode)) {
		err = oci_open_image(path, tag, img);
	} else if (asprintf(&scratch, "%s/" SCRATCH_NAME, ia->dest) < 0) {
		err = -1;
	} else {
		util_remove_tree(destfd, SCRATCH_NAME);
		err = mkdirat(destfd, SCRATCH_NAME, 0700);
		if (err)
			fprintf(stderr, "unionfuse: %s: %s\n", scratch, strerror(errno));
		else
			err = dockerarchive_open(path, tag, scratch, img);
	}
	free(scratch);
	free(path);
	free(tag);
	return err;
}

int import_main(int argc, char **argv)
{
	struct import_args ia;
	struct oci_image img;
	char **names = NULL;
	int destfd, err, i;

	memset(&img, 0, sizeof(img));
	err = parse_args(argc, argv, &ia);
	if (err)
		return err;
	if (mkdir(ia.dest, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "unionfuse: %s: %s\n", ia.dest, strerror(errno));
		return 1;
	}
	destfd = open(ia.dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (destfd < 0) {
		fprintf(stderr, "unionfuse: %s: %s\n", ia.dest, strerror(errno));
		return 1;
	}
	err = open_image(&ia, destfd, &img);
	if (!err) {
		names = calloc((size_t)img.nlayers + 1, sizeof(char *));
		err = names ? import_layers(destfd, ia.dest, &img, &ia.o, names) : -1;
	}
	if (!err)
		print_mount_command(ia.dest, names, img.nlayers);
	util_remove_tree(destfd, SCRATCH_NAME);
	for (i = 0; names && i < img.nlayers; i++)
		free(names[i]);
	free(names);
	oci_image_free(&img);
	close(destfd);
	return err ? 1 : 0;
}
