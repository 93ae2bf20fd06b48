/* The output side of commit: a deterministic tar (and gzip) stream into a
 * file, hashed on the way. Two libarchive writers are chained: the tar
 * writer's output is hashed for the diffID and handed to a "raw" writer
 * whose only job is the gzip filter, since libarchive has no bare
 * compressor interface. */
#include "layerfile.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct layerfile {
	struct archive *tar;
	struct archive *gz;        /* NULL: the tar goes to the file as it is */
	int fd;
	char *path, *tmp;
	struct digest *diffid, *blob;
	uint64_t size;
	int err;                   /* first write error, -errno */
};

static int write_all(struct layerfile *lf, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(lf->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			lf->err = -errno;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Bytes leaving the last writer: they are the file. */
static la_ssize_t file_write_cb(struct archive *a, void *arg, const void *buf, size_t len)
{
	struct layerfile *lf = arg;

	(void)a;
	if (write_all(lf, buf, len))
		return -1;
	digest_update(lf->blob, buf, len);
	lf->size += len;
	return (la_ssize_t)len;
}

/* Bytes leaving the tar writer: the uncompressed layer. */
static la_ssize_t tar_write_cb(struct archive *a, void *arg, const void *buf, size_t len)
{
	struct layerfile *lf = arg;

	digest_update(lf->diffid, buf, len);
	if (!lf->gz)
		return file_write_cb(a, arg, buf, len);
	if (archive_write_data(lf->gz, buf, len) != (la_ssize_t)len) {
		lf->err = -EIO;
		return -1;
	}
	return (la_ssize_t)len;
}

static int open_gzip(struct layerfile *lf)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	lf->gz = archive_write_new();
	if (!lf->gz || !e)
		return -ENOMEM;
	/* No timestamp or file name in the gzip header, a fixed level, no
	 * padding after the stream: the same tar gives the same bytes. */
	r = archive_write_add_filter_gzip(lf->gz);
	r = r ?: archive_write_set_filter_option(lf->gz, "gzip", "timestamp", NULL);
	r = r ?: archive_write_set_filter_option(lf->gz, "gzip", "compression-level", "6");
	r = r ?: archive_write_set_format_raw(lf->gz);
	r = r ?: archive_write_set_bytes_per_block(lf->gz, 0);
	r = r ?: archive_write_open2(lf->gz, lf, NULL, file_write_cb, NULL, NULL);
	archive_entry_set_pathname(e, "layer.tar");
	archive_entry_set_filetype(e, AE_IFREG);
	r = r ?: archive_write_header(lf->gz, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK) {
		fprintf(stderr, "unionfuse: %s: gzip: %s\n", lf->path, archive_error_string(lf->gz));
		return -EIO;
	}
	return 0;
}

static int open_tar(struct layerfile *lf)
{
	int r;

	lf->tar = archive_write_new();
	if (!lf->tar)
		return -ENOMEM;
	/* SCHILY.xattr only: what Go's archive/tar (docker, containerd)
	 * reads, and no duplicate LIBARCHIVE.xattr records. */
	r = archive_write_set_format_pax_restricted(lf->tar);
	r = r ?: archive_write_set_format_option(lf->tar, "pax", "xattrheader", "SCHILY");
	r = r ?: archive_write_set_bytes_per_block(lf->tar, 10240);
	r = r ?: archive_write_set_bytes_in_last_block(lf->tar, 10240);
	r = r ?: archive_write_open2(lf->tar, lf, NULL, tar_write_cb, NULL, NULL);
	if (r != ARCHIVE_OK) {
		fprintf(stderr, "unionfuse: %s: tar: %s\n", lf->path, archive_error_string(lf->tar));
		return -EIO;
	}
	return 0;
}

static void layerfile_free(struct layerfile *lf)
{
	if (lf->tar)
		archive_write_free(lf->tar);
	if (lf->gz)
		archive_write_free(lf->gz);
	if (lf->fd >= 0)
		close(lf->fd);
	digest_free(lf->diffid);
	digest_free(lf->blob);
	free(lf->path);
	free(lf->tmp);
	free(lf);
}

int layerfile_create(const char *path, bool gzip, struct layerfile **out)
{
	struct layerfile *lf = calloc(1, sizeof(*lf));
	int err;

	if (!lf)
		return -ENOMEM;
	lf->fd = -1;
	lf->path = strdup(path);
	if (!lf->path || asprintf(&lf->tmp, "%s.tmp", path) < 0) {
		lf->tmp = NULL;
		layerfile_free(lf);
		return -ENOMEM;
	}
	lf->diffid = digest_new();
	lf->blob = digest_new();
	if (!lf->diffid || !lf->blob) {
		layerfile_free(lf);
		return -ENOMEM;
	}
	lf->fd = open(lf->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (lf->fd < 0) {
		err = -errno;
		fprintf(stderr, "unionfuse: %s: %s\n", lf->tmp, strerror(errno));
		layerfile_free(lf);
		return err;
	}
	err = gzip ? open_gzip(lf) : 0;
	err = err ?: open_tar(lf);
	if (err) {
		unlink(lf->tmp);
		layerfile_free(lf);
		return err;
	}
	*out = lf;
	return 0;
}

struct archive *layerfile_archive(struct layerfile *lf)
{
	return lf->tar;
}

static int close_all(struct layerfile *lf)
{
	if (archive_write_close(lf->tar) != ARCHIVE_OK) {
		fprintf(stderr, "unionfuse: %s: %s\n", lf->path,
			lf->err ? strerror(-lf->err) : archive_error_string(lf->tar));
		return lf->err ?: -EIO;
	}
	if (lf->gz && archive_write_close(lf->gz) != ARCHIVE_OK) {
		fprintf(stderr, "unionfuse: %s: %s\n", lf->path,
			lf->err ? strerror(-lf->err) : archive_error_string(lf->gz));
		return lf->err ?: -EIO;
	}
	if (fsync(lf->fd) < 0 || close(lf->fd) < 0) {
		lf->fd = -1;
		fprintf(stderr, "unionfuse: %s: %s\n", lf->path, strerror(errno));
		return -EIO;
	}
	lf->fd = -1;
	if (rename(lf->tmp, lf->path) < 0) {
		fprintf(stderr, "unionfuse: %s: %s\n", lf->path, strerror(errno));
		return -errno;
	}
	return 0;
}

int layerfile_finish(struct layerfile *lf, bool ok, char *diffid, char *digest, uint64_t *size)
{
	int err = ok ? close_all(lf) : -ECANCELED;

	if (err) {
		unlink(lf->tmp);
		layerfile_free(lf);
		return err;
	}
	digest_finish(lf->diffid, diffid);
	digest_finish(lf->blob, digest);
	lf->diffid = lf->blob = NULL;
	*size = lf->size;
	layerfile_free(lf);
	return 0;
}
