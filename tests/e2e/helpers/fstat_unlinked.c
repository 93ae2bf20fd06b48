/* fstat_unlinked FILE [TEXT]: opens FILE, unlinks it (and writes TEXT at
 * its start), then reports what the open descriptor still sees:
 * "nlink=N name=ENOENT|EXISTS content=<first line>". */
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        char buf[256] = "";
        struct stat st;
        ssize_t n;
        int fd;

        if (argc != 2 && argc != 3) {
                fprintf(stderr, "usage: fstat_unlinked FILE [TEXT]\n");
                return 2;
        }
        fd = open(argv[1], O_RDWR);
        if (fd < 0)
                return report(-1);
        if (unlink(argv[1]) < 0)
                return report(-1);
        if (argc == 3 && pwrite(fd, argv[2], strlen(argv[2]), 0) != (ssize_t)strlen(argv[2]))
                return report(-1);
        if (fstat(fd, &st) < 0)
                return report(-1);
        n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n < 0)
                return report(-1);
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        printf("nlink=%lu name=%s content=%s\n", (unsigned long)st.st_nlink,
               access(argv[1], F_OK) == 0 ? "EXISTS" : errname(errno), buf);
        return close(fd) < 0 ? report(-1) : 0;
}
