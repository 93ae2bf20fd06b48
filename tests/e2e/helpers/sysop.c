/* sysop OP ARGS...: one system call, so a script can check the exact errno.
 * Prints OK (or a value) on success, the errno name (EROFS...) on failure.
 *   access PATH r|w|x|f     mkdir PATH       rmdir PATH     unlink PATH
 *   open-write PATH         create PATH      link OLD NEW   symlink TARGET PATH
 *   mkfifo PATH             truncate PATH LEN   append PATH TEXT
 *   setxattr PATH NAME VAL  getxattr PATH NAME   removexattr PATH NAME
 *   bind-unix PATH          binds a unix socket there (mknod of a socket)
 *   mmap-write PATH OFFSET TEXT: writes TEXT at OFFSET through a shared
 *   writable mapping, then msync and munmap
 *   posixlock PATH: a child must see our F_WRLCK (EAGAIN and our pid from
 *   F_GETLK) and get the lock once we release it.
 *   copy-range SRC DST: copy_file_range of all of SRC onto the start of DST,
 *   which is opened without truncation
 *   shutdown DIR: the filesystem of DIR stops, as at a power loss: nothing
 *   more is written, not even its journal (FS_IOC_SHUTDOWN, NOLOGFLUSH) */
#include "common.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static int do_access(const char *path, const char *how)
{
        int mode = F_OK;

        if (!strcmp(how, "r"))
                mode = R_OK;
        else if (!strcmp(how, "w"))
                mode = W_OK;
        else if (!strcmp(how, "x"))
                mode = X_OK;
        return report(access(path, mode));
}

static int do_open(const char *path, int flags)
{
        int fd = open(path, flags, 0644);

        if (fd < 0)
                return report(-1);
        return report(close(fd));
}

/* open O_WRONLY|O_APPEND and one write(2): a lower file is copied up by
 * the write (the kernel opens without asking the daemon). */
static int do_append(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_APPEND);
        ssize_t n;

        if (fd < 0)
                return report(-1);
        n = write(fd, text, strlen(text));
        if (n < 0 || (size_t)n != strlen(text)) {
                int err = n < 0 ? errno : EIO;

                close(fd);
                errno = err;
                return report(-1);
        }
        return report(close(fd));
}

static int do_copy_range(const char *src, const char *dst)
{
        int in = open(src, O_RDONLY), out = open(dst, O_WRONLY);
        struct stat st;
        ssize_t n = -1;
        int err;

        if (in >= 0 && out >= 0 && fstat(in, &st) == 0)
                n = copy_file_range(in, NULL, out, NULL, (size_t)st.st_size, 0);
        err = n < 0 ? errno : 0;
        if (in >= 0)
                close(in);
        if (out >= 0)
                close(out);
        errno = err;
        return report(n < 0 ? -1 : 0);
}

static int do_getxattr(const char *path, const char *name)
{
        char buf[4096];
        ssize_t n = getxattr(path, name, buf, sizeof(buf) - 1);

        if (n < 0)
                return report(-1);
        buf[n] = '\0';
        printf("%s\n", buf);
        return 0;
}

static int do_mmap_write(const char *path, off_t offset, const char *text)
{
        size_t len = offset + strlen(text);
        struct stat st;
        char *map;
        int fd;

        fd = open(path, O_RDWR);
        if (fd < 0 || fstat(fd, &st) < 0)
                return report(-1);
        if ((off_t)len > st.st_size) {
                errno = EINVAL;         /* stay inside the file */
                return report(-1);
        }
        map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED)
                return report(-1);
        memcpy(map + offset, text, strlen(text));
        if (msync(map, len, MS_SYNC) < 0 || munmap(map, len) < 0)
                return report(-1);
        return report(close(fd));
}

static int do_bind_unix(const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path)) {
                errno = ENAMETOOLONG;
                return report(-1);
        }
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return report(-1);
        return report(close(fd));
}

static int try_lock(int fd, int cmd, short type, struct flock *fl)
{
        memset(fl, 0, sizeof(*fl));
        fl->l_type = type;
        fl->l_whence = SEEK_SET;
        return fcntl(fd, cmd, fl);
}

static int do_posixlock(const char *path)
{
        int sync_pipe[2], result_pipe[2], fd, status;
        char line[128] = "";
        struct flock fl;
        pid_t child;
        ssize_t n;

        fd = open(path, O_RDWR);
        if (fd < 0 || try_lock(fd, F_SETLK, F_WRLCK, &fl) < 0)
                return report(-1);
        if (pipe(sync_pipe) < 0 || pipe(result_pipe) < 0)
                return report(-1);
        child = fork();
        if (child == 0) {
                int cfd = open(path, O_RDWR);
                int held, getlk_pid, after;
                char c;

                held = try_lock(cfd, F_SETLK, F_WRLCK, &fl) < 0 ? errno : 0;
                try_lock(cfd, F_GETLK, F_WRLCK, &fl);
                getlk_pid = fl.l_type == F_UNLCK ? 0 : fl.l_pid;
                dprintf(result_pipe[1], "held=%s getlk=%s ", held ? errname(held) : "GRANTED",
                        getlk_pid == getppid() ? "PARENT" : "OTHER");
                if (read(sync_pipe[0], &c, 1) != 1)
                        _exit(1);
                after = try_lock(cfd, F_SETLK, F_WRLCK, &fl) < 0 ? errno : 0;
                dprintf(result_pipe[1], "after_unlock=%s\n", after ? errname(after) : "GRANTED");
                _exit(0);
        }
        n = read(result_pipe[0], line, sizeof(line) - 1);
        if (n > 0)
                line[n] = '\0';
        printf("%s", line);
        try_lock(fd, F_SETLK, F_UNLCK, &fl);
        if (write(sync_pipe[1], "x", 1) != 1)
                return report(-1);
        n = read(result_pipe[0], line, sizeof(line) - 1);
        line[n > 0 ? n : 0] = '\0';
        printf("%s", line);
        waitpid(child, &status, 0);
        return 0;
}

/* ext4's and xfs' "going down" ioctl (xfs_io's shutdown), and its flag
 * for a stop without flushing the log. */
#define SHUTDOWN_IOCTL _IOR('X', 125, unsigned int)
#define SHUTDOWN_NOLOGFLUSH 2u

static int do_shutdown(const char *dir)
{
        unsigned int flags = SHUTDOWN_NOLOGFLUSH;
        int fd = open(dir, O_RDONLY | O_DIRECTORY);
        int r, err;

        if (fd < 0)
                return report(-1);
        r = ioctl(fd, SHUTDOWN_IOCTL, &flags);
        err = errno;
        close(fd);
        errno = err;
        return report(r);
}

int main(int argc, char **argv)
{
        const char *op = argc > 1 ? argv[1] : "";

        if (!strcmp(op, "access") && argc == 4)
                return do_access(argv[2], argv[3]);
        if (!strcmp(op, "mkdir") && argc == 3)
                return report(mkdir(argv[2], 0755));
        if (!strcmp(op, "rmdir") && argc == 3)
                return report(rmdir(argv[2]));
        if (!strcmp(op, "unlink") && argc == 3)
                return report(unlink(argv[2]));
        if (!strcmp(op, "open-write") && argc == 3)
                return do_open(argv[2], O_WRONLY);
        if (!strcmp(op, "create") && argc == 3)
                return do_open(argv[2], O_WRONLY | O_CREAT | O_EXCL);
        if (!strcmp(op, "link") && argc == 4)
                return report(link(argv[2], argv[3]));
        if (!strcmp(op, "symlink") && argc == 4)
                return report(symlink(argv[2], argv[3]));
        if (!strcmp(op, "mkfifo") && argc == 3)
                return report(mkfifo(argv[2], 0644));
        if (!strcmp(op, "append") && argc == 4)
                return do_append(argv[2], argv[3]);
        if (!strcmp(op, "truncate") && argc == 4)
                return report(truncate(argv[2], atoll(argv[3])));
        if (!strcmp(op, "setxattr") && argc == 5)
                return report(setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0));
        if (!strcmp(op, "getxattr") && argc == 4)
                return do_getxattr(argv[2], argv[3]);
        if (!strcmp(op, "removexattr") && argc == 4)
                return report(removexattr(argv[2], argv[3]));
        if (!strcmp(op, "bind-unix") && argc == 3)
                return do_bind_unix(argv[2]);
        if (!strcmp(op, "mmap-write") && argc == 5)
                return do_mmap_write(argv[2], atoll(argv[3]), argv[4]);
        if (!strcmp(op, "posixlock") && argc == 3)
                return do_posixlock(argv[2]);
        if (!strcmp(op, "copy-range") && argc == 4)
                return do_copy_range(argv[2], argv[3]);
        if (!strcmp(op, "shutdown") && argc == 3)
                return do_shutdown(argv[2]);
        fprintf(stderr, "sysop: bad arguments (see the comment in sysop.c)\n");
        return 2;
}
