/* Mounting. Kernel overlayfs is one mount(2) call; the FUSE side runs the
 * binary, which daemonizes and returns once the mount is live; we then
 * check that mnt really became a mount point before using it. */
#include "mount.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* "lowerdir=TOP:...:BASE,upperdir=U,workdir=W": overlayfs order, top first. */
static char *options(const struct mount_req *req)
{
	struct strbuf sb = { 0 };

	sb_add(&sb, "lowerdir=");
	for (int i = req->nlower - 1; i >= 0; i--)
		sb_addf(&sb, "%s/l%d%s", req->lowers, i, i ? ":" : "");
	sb_addf(&sb, ",upperdir=%s,workdir=%s", req->upper, req->work);
	if (req->metacopy && req->kind != FS_KERNEL)
		sb_add(&sb, ",metacopy");
	if (req->evict_eagerly && req->kind != FS_KERNEL)
		sb_add(&sb, ",evict_after=1");
	return sb.s;
}

static int mount_kernel(const struct mount_req *req, struct strbuf *err)
{
	char *opts = options(req), *full;
	int ret = 0;

	full = xasprintf("%s,redirect_dir=on,index=off,metacopy=%s", opts,
			 req->metacopy ? "on" : "off");
	if (mount("overlay", req->mnt, "overlay", 0, full) < 0) {
		sb_addf(err, "mount -t overlay -o %s %s: %s", full, req->mnt, strerror(errno));
		ret = -1;
	}
	free(full);
	free(opts);
	return ret;
}

static bool is_mount_point(const char *mnt)
{
	char *parent = xasprintf("%s/..", mnt);
	struct stat a, b;
	bool ret = stat(mnt, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;

	free(parent);
	return ret;
}

static int run_program(const char *bin, const char *opts, const char *mnt, const char *log)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(bin, bin, "-o", opts, mnt, (char *)NULL);
		dprintf(2, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void append_log(struct strbuf *err, const char *log)
{
	char buf[2048];
	int fd = open(log, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		sb_addf(err, "\n    output: %s", buf);
	}
}

static int mount_fuse(const struct mount_req *req, struct strbuf *err)
{
	char *opts = options(req);
	int status = run_program(req->fuse_bin, opts, req->mnt, req->log);
	int ret = 0;

	/* The program should return only once the mount is live; allow a
	 * short grace period for implementations that return a bit early. */
	for (int i = 0; status == 0 && !is_mount_point(req->mnt) && i < 200; i++)
		sleep_ms(10);
	if (status != 0 || !is_mount_point(req->mnt)) {
		sb_addf(err, "%s -o %s %s: %s %d", req->fuse_bin, opts, req->mnt,
			status ? "exit status" : "no mount appeared, status", status);
		append_log(err, req->log);
		ret = -1;
	}
	free(opts);
	return ret;
}

int mount_side(const struct mount_req *req, struct strbuf *err)
{
	return req->kind == FS_KERNEL ? mount_kernel(req, err) : mount_fuse(req, err);
}

int unmount_side(const char *mnt)
{
	for (int i = 0; i < 300; i++) {
		if (umount2(mnt, 0) == 0)
			return 0;
		if (errno != EBUSY)
			return -errno;
		sleep_ms(10);
	}
	return umount2(mnt, MNT_DETACH) < 0 ? -errno : 0;
}

/* /sys/fs/fuse/connections/<minor of the mount's st_dev>/abort ends every
 * pending request of that connection with ECONNABORTED. */
static void abort_fuse(unsigned dev_minor)
{
	char *path;
	int fd;

	path = xasprintf("/sys/fs/fuse/connections/%u/abort", dev_minor);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		write_all(fd, "1", 1);
		close(fd);
	}
	free(path);
}

void unmount_all_under(const char *prefix)
{
	char line[8192], *mnts[256];
	size_t n = 0, len = strlen(prefix);
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return;
	/* Field 3 is major:minor, 5 the mount point (ours need no escapes). */
	while (n < 256 && fgets(line, sizeof(line), f)) {
		char mnt[4096], type[256];
		unsigned dev_major, dev_minor;

		/* Not stat(): that would hang on the mount of a hung daemon. */
		if (sscanf(line, "%*s %*s %u:%u %*s %4095s %*[^-]- %255s",
			   &dev_major, &dev_minor, mnt, type) != 4)
			continue;
		if (strncmp(mnt, prefix, len) || (mnt[len] != '/' && mnt[len]))
			continue;
		if (!strncmp(type, "fuse", 4))
			abort_fuse(dev_minor);
		mnts[n++] = xstrdup(mnt);
	}
	fclose(f);
	while (n--) {
		if (umount2(mnts[n], 0) < 0)
			umount2(mnts[n], MNT_DETACH);
		free(mnts[n]);
	}
}
