/* probe OP ARGS...: the system calls sysop lacks, one per run, for the
 * hostile-layer and privilege tests. Prints OK (or a value) on success, the
 * errno name (EACCES...) on failure.
 *   read PATH               open O_RDONLY and read one byte
 *   append PATH TEXT        open O_WRONLY|O_APPEND and write TEXT
 *   open-trunc PATH         open O_WRONLY|O_TRUNC
 *   stat PATH               lstat; prints the file type letter (f d l p s c b)
 *   chmod PATH OCTAL        chown PATH UID GID     lchown PATH UID GID
 *   utimes PATH SECONDS     explicit atime and mtime
 *   touch-now PATH          utimensat(NULL): "now", allowed to a writer
 *   rename OLD NEW          link OLD NEW
 *   listxattr PATH          prints the names, sorted, comma separated
 *   dirents DIR             each entry's d_ino and d_type against its lstat:
 *                           "OK N" for N entries, or the first that differs
 *   fifo-write-nb PATH      open O_WRONLY|O_NONBLOCK: ENXIO when no reader
 *   connect PATH            connect a unix stream socket to PATH
 *   listen PATH             bind and listen at PATH, accept until SIGTERM,
 *                           then print "accepted N" */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
        (void)sig;
        stop = 1;
}

static int do_read(const char *path)
{
        char c;
        int fd = open(path, O_RDONLY | O_NOCTTY);

        if (fd < 0 || read(fd, &c, 1) < 0)
                return report(-1);
        return report(close(fd));
}

static int do_write(const char *path, int flags, const char *text)
{
        int fd = open(path, flags | O_NOCTTY);

        if (fd < 0)
                return report(-1);
        if (text && write(fd, text, strlen(text)) < 0)
                return report(-1);
        return report(close(fd));
}

static int do_stat(const char *path)
{
        struct stat st;

        if (lstat(path, &st) < 0)
                return report(-1);
        switch (st.st_mode & S_IFMT) {
        case S_IFREG: printf("f\n"); break;
        case S_IFDIR: printf("d\n"); break;
        case S_IFLNK: printf("l\n"); break;
        case S_IFIFO: printf("p\n"); break;
        case S_IFSOCK: printf("s\n"); break;
        case S_IFCHR: printf("c\n"); break;
        case S_IFBLK: printf("b\n"); break;
        default: printf("?\n"); break;
        }
        return 0;
}

static int do_dirents(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *de;
        struct stat st;
        int n = 0;

        if (!d)
                return report(-1);
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return report(-1);
                if (de->d_ino != st.st_ino || (mode_t)DTTOIF(de->d_type) != (st.st_mode & S_IFMT)) {
                        printf("%s: d_ino %llu d_type %u, lstat st_ino %llu mode %o\n", de->d_name,
                               (unsigned long long)de->d_ino, de->d_type,
                               (unsigned long long)st.st_ino, st.st_mode & S_IFMT);
                        return 1;
                }
                n++;
        }
        closedir(d);
        printf("OK %d\n", n);
        return 0;
}

static int do_utimes(const char *path, const char *seconds)
{
        struct timespec ts[2] = { { .tv_sec = atoll(seconds) }, { .tv_sec = atoll(seconds) } };

        return report(utimensat(AT_FDCWD, path, ts, 0));
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int do_listxattr(const char *path)
{
        char list[65536], *names[4096];
        ssize_t len = llistxattr(path, list, sizeof(list));
        size_t n = 0, i;
        char *p;

        if (len < 0)
                return report(-1);
        for (p = list; p < list + len && n < 4096; p += strlen(p) + 1)
                names[n++] = p;
        qsort(names, n, sizeof(names[0]), cmp_str);
        for (i = 0; i < n; i++)
                printf("%s%s", i ? "," : "", names[i]);
        printf("\n");
        return 0;
}

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        if (strlen(path) >= sizeof(sa->sun_path)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        strcpy(sa->sun_path, path);
        return 0;
}

static int do_connect(const char *path)
{
        struct sockaddr_un sa;
        int fd;

        if (unix_addr(path, &sa) < 0)
                return report(-1);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return report(-1);
        return report(close(fd));
}

static int do_listen(const char *path)
{
        struct sockaddr_un sa;
        int fd, accepted = 0;

        signal(SIGTERM, on_term);
        if (unix_addr(path, &sa) < 0)
                return report(-1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
                return report(-1);
        while (!stop) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int c;

                if (poll(&p, 1, 50) > 0 && (c = accept(fd, NULL, NULL)) >= 0) {
                        accepted++;
                        close(c);
                }
        }
        printf("accepted %d\n", accepted);
        return 0;
}

int main(int argc, char **argv)
{
        const char *op = argc > 1 ? argv[1] : "";

        if (!strcmp(op, "read") && argc == 3)
                return do_read(argv[2]);
        if (!strcmp(op, "append") && argc == 4)
                return do_write(argv[2], O_WRONLY | O_APPEND, argv[3]);
        if (!strcmp(op, "open-trunc") && argc == 3)
                return do_write(argv[2], O_WRONLY | O_TRUNC, NULL);
        if (!strcmp(op, "stat") && argc == 3)
                return do_stat(argv[2]);
        if (!strcmp(op, "chmod") && argc == 4)
                return report(chmod(argv[2], (mode_t)strtol(argv[3], NULL, 8)));
        if (!strcmp(op, "chown") && argc == 5)
                return report(chown(argv[2], (uid_t)atol(argv[3]), (gid_t)atol(argv[4])));
        if (!strcmp(op, "lchown") && argc == 5)
                return report(lchown(argv[2], (uid_t)atol(argv[3]), (gid_t)atol(argv[4])));
        if (!strcmp(op, "utimes") && argc == 4)
                return do_utimes(argv[2], argv[3]);
        if (!strcmp(op, "touch-now") && argc == 3)
                return report(utimensat(AT_FDCWD, argv[2], NULL, 0));
        if (!strcmp(op, "rename") && argc == 4)
                return report(rename(argv[2], argv[3]));
        if (!strcmp(op, "link") && argc == 4)
                return report(link(argv[2], argv[3]));
        if (!strcmp(op, "listxattr") && argc == 3)
                return do_listxattr(argv[2]);
        if (!strcmp(op, "dirents") && argc == 3)
                return do_dirents(argv[2]);
        if (!strcmp(op, "fifo-write-nb") && argc == 3)
                return do_write(argv[2], O_WRONLY | O_NONBLOCK, NULL);
        if (!strcmp(op, "connect") && argc == 3)
                return do_connect(argv[2]);
        if (!strcmp(op, "listen") && argc == 3)
                return do_listen(argv[2]);
        fprintf(stderr, "probe: bad arguments (see the comment in probe.c)\n");
        return 2;
}
