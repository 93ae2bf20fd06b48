/* Building the init layer at each mount. It lives in the work directory,
 * which the mount owns, and is rebuilt from the command line every time:
 * the container's name and resolver are a property of this run, not of
 * the image or of the container's changes. */
#include "initlayer.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *fail(const char *what, const char *cause)
{
	fprintf(stderr, "unionfuse: %s: %s\n", what, cause);
	return NULL;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* NAME in ETCFD with TEXT, or with the content of the file FROM. */
static int put_file(int etcfd, const char *name, const char *text, const char *from)
{
	char buf[65536];
	ssize_t n = 0;
	int in = -1, out, err = 0;

	if (from && (in = open(from, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "unionfuse: %s: %s\n", from, strerror(errno));
		return -1;
	}
	out = openat(etcfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (out < 0)
		err = -errno;
	else if (!from)
		err = write_all(out, text, strlen(text));
	while (!err && from && (n = read(in, buf, sizeof(buf))) > 0)
		err = write_all(out, buf, (size_t)n);
	if (!err && n < 0)
		err = -errno;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (err)
		fprintf(stderr, "unionfuse: init layer etc/%s: %s\n", name, strerror(-err));
	return err ? -1 : 0;
}

static int check_hostname(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 64 || strpbrk(name, "/ \t\n"))
		return fprintf(stderr, "unionfuse: --hostname %s: not a host name\n", name), -1;
	return 0;
}

static int fill_etc(int etcfd, const struct initlayer_spec *spec)
{
	char *text = NULL;
	int err = 0;

	if (spec->hostname) {
		if (asprintf(&text, "%s\n", spec->hostname) < 0)
			return -1;
		err = put_file(etcfd, "hostname", text, NULL);
		free(text);
		text = NULL;
	}
	if (!err && spec->hosts) {
		err = put_file(etcfd, "hosts", NULL, spec->hosts);
	} else if (!err && spec->hostname) {
		if (asprintf(&text, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
			     "127.0.1.1\t%s\n", spec->hostname) < 0)
			return -1;
		err = put_file(etcfd, "hosts", text, NULL);
		free(text);
	}
	if (!err && spec->resolv)
		err = put_file(etcfd, "resolv.conf", NULL, spec->resolv);
	else if (!err && access("/etc/resolv.conf", R_OK) == 0)
		err = put_file(etcfd, "resolv.conf", NULL, "/etc/resolv.conf");
	return err;
}

/* The top layer's view of NAME ("." or "etc"), whose attributes the init
 * layer's copy must carry: in a union the top directory's win. */
static int top_attributes(char **lowers, int nlowers, const char *name, struct stat *st)
{
	int i;

	for (i = nlowers - 1; i >= 0; i--) {
		int fd = open(lowers[i], O_PATH | O_DIRECTORY | O_CLOEXEC), r;

		if (fd < 0)
			continue;
		r = fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW);
		close(fd);
		if (r == 0) {
			if (S_ISDIR(st->st_mode))
				return 1;
			fprintf(stderr, "unionfuse: %s/%s: not a directory; the init layer "
				"cannot place files there\n", lowers[i], name);
			return -1;
		}
	}
	return 0;
}

static int copy_attributes(int fd, char **lowers, int nlowers, const char *name)
{
	struct stat st;
	struct timespec ts[2];
	int r = top_attributes(lowers, nlowers, name, &st);

	if (r <= 0)
		return r;
	/* Root of a user namespace cannot give ids it does not map; the
	 * daemon shows those as the namespace's root anyway (idmap.h). */
	if (geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0 &&
	    errno != EINVAL && errno != EPERM)
		return -1;
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	if (fchmod(fd, st.st_mode & 07777) < 0 || futimens(fd, ts) < 0)
		return -1;
	return 0;
}

static int build(int initfd, const struct initlayer_spec *spec, char **lowers, int nlowers)
{
	int etcfd, err;

	if (mkdirat(initfd, "etc", 0755) < 0)
		return -1;
	etcfd = openat(initfd, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (etcfd < 0)
		return -1;
	err = fill_etc(etcfd, spec);
	/* Last: writing the files changed etc's mtime. */
	if (!err)
		err = copy_attributes(etcfd, lowers, nlowers, "etc");
	close(etcfd);
	if (!err)
		err = copy_attributes(initfd, lowers, nlowers, ".");
	return err;
}

char *initlayer_build(const char *work, const struct initlayer_spec *spec,
		      char **lowers, int nlowers)
{
	int workfd, initfd = -1, err;
	char *path;

	if (spec->hostname && check_hostname(spec->hostname))
		return NULL;
	if (asprintf(&path, "%s/init", work) < 0)
		return NULL;
	workfd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = workfd < 0 ? -errno : util_remove_tree(workfd, "init");
	if ((err && err != -ENOENT) || mkdirat(workfd, "init", 0755) < 0 ||
	    (initfd = openat(workfd, "init", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		fail(path, strerror(err && err != -ENOENT ? -err : errno));
		goto fail;
	}
	errno = 0;
	if (build(initfd, spec, lowers, nlowers)) {
		if (errno)
			fail(path, strerror(errno));
		goto fail;
	}
	close(initfd);
	close(workfd);
	return path;
fail:
	if (initfd >= 0)
		close(initfd);
	if (workfd >= 0) {
		util_remove_tree(workfd, "init");    /* a refused mount leaves nothing */
		close(workfd);
	}
	free(path);
	return NULL;
}

void initlayer_remove(const char *work)
{
	int workfd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (workfd < 0)
		return;
	util_remove_tree(workfd, "init");
	close(workfd);
}
