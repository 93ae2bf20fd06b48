/* fdhog DIR N MODE [hold]: holds N files of DIR open at once in one process
 * and checks that every descriptor still is the right file while all of
 * them are open.
 *   make    create fNNNNN, empty (the fixture, outside any mount; empty so
 *           that fingerprinting the layer stays cheap)
 *   read    open each fNNNNN O_RDONLY: it must read as empty and fstat must
 *           give the inode the name has
 *   append  open each fNNNNN O_RDWR|O_APPEND and write "+" (a lower file is
 *           copied up by that open): each must read back "+"
 *   create  create gNNNNN O_EXCL and write its name: each must read it back
 *   read-named  as read, for files that hold their name and a newline
 * Prints "open N" once all are open and checked; with "hold" it then waits
 * for SIGTERM before closing them, so a test can look at the daemon. Prints
 * "failed at I: ERRNO (what)" and exits 1 at the first failure (with
 * "hold", after SIGTERM: what it opened stays open until then). */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static int hold;
static int *fds;        /* global: still reachable when a failure returns */

static void on_term(int sig)
{
        (void)sig;
        stop = 1;
}

/* With hold, what is open stays open until SIGTERM: the daemon stays as
 * loaded as it was when the open failed. */
static int fail_at(int i, const char *what)
{
        printf("failed at %d: %s (%s)\n", i, errname(errno), what);
        fflush(stdout);
        while (hold && !stop)
                pause();
        return 1;
}

static void name_of(char *buf, size_t size, const char *mode, int i)
{
        snprintf(buf, size, "%c%05d", !strcmp(mode, "create") ? 'g' : 'f', i);
}

/* What file I must hold now: its own name, its own inode. */
static int check(int dirfd, int fd, const char *mode, int i)
{
        char name[16], want[32], got[32];
        struct stat by_fd, by_name;
        ssize_t len;

        name_of(name, sizeof(name), mode, i);
        if (!strcmp(mode, "create") || !strcmp(mode, "read-named"))
                snprintf(want, sizeof(want), "%s\n", name);
        else
                snprintf(want, sizeof(want), "%s", !strcmp(mode, "append") ? "+" : "");
        len = pread(fd, got, sizeof(got) - 1, 0);
        if (len < 0)
                return fail_at(i, "pread");
        got[len] = '\0';
        if (fstat(fd, &by_fd) < 0 || fstatat(dirfd, name, &by_name, 0) < 0)
                return fail_at(i, "stat");
        if (strcmp(got, want) || by_fd.st_ino != by_name.st_ino) {
                errno = EIO;
                return fail_at(i, strcmp(got, want) ? "wrong content" : "wrong inode");
        }
        return 0;
}

int main(int argc, char **argv)
{
        const char *mode;
        int dirfd, n;

        if (argc != 4 && argc != 5) {
                fprintf(stderr, "usage: fdhog DIR N make|read|read-named|append|create [hold]\n");
                return 2;
        }
        n = atoi(argv[2]);
        mode = argv[3];
        hold = argc == 5;
        signal(SIGTERM, on_term);
        if (!strcmp(mode, "make"))
                mkdir(argv[1], 0755);
        dirfd = open(argv[1], O_RDONLY | O_DIRECTORY);
        fds = calloc((size_t)n, sizeof(*fds));
        if (dirfd < 0 || !fds)
                return fail_at(-1, argv[1]);
        for (int i = 0; i < n; i++) {
                char name[16], text[32];
                int flags;

                name_of(name, sizeof(name), mode, i);
                if (!strcmp(mode, "read") || !strcmp(mode, "read-named"))
                        flags = O_RDONLY;
                else if (!strcmp(mode, "append"))
                        flags = O_RDWR | O_APPEND;
                else
                        flags = O_RDWR | O_CREAT | O_EXCL;
                fds[i] = openat(dirfd, name, flags | O_CLOEXEC, 0644);
                if (fds[i] < 0)
                        return fail_at(i, "open");
                if (!strcmp(mode, "make")) {
                        close(fds[i]);
                        continue;
                }
                if (!strcmp(mode, "create"))
                        snprintf(text, sizeof(text), "%s\n", name);
                else
                        snprintf(text, sizeof(text), "+");
                if (flags != O_RDONLY && write(fds[i], text, strlen(text)) != (ssize_t)strlen(text))
                        return fail_at(i, "write");
        }
        if (!strcmp(mode, "make"))
                return 0;
        /* Only now, with all of them open, check every one. */
        for (int i = 0; i < n; i++)
                if (check(dirfd, fds[i], mode, i))
                        return 1;
        printf("open %d\n", n);
        fflush(stdout);
        while (hold && !stop)
                pause();
        for (int i = 0; i < n; i++)
                if (close(fds[i]) < 0)
                        return fail_at(i, "close");
        return 0;
}
