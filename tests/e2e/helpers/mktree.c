/* mktree DIR NDIRS NFILES [PREFIX]: creates DIR/dNNNN/<PREFIX>NNNNN, NFILES
 * empty files in each of NDIRS directories (PREFIX "f" by default), fast: a
 * 50k-file tree in well under a second. Directories may already exist. */
#include "common.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        const char *prefix = argc > 4 ? argv[4] : "f";
        int ndirs, nfiles, root;

        if (argc != 4 && argc != 5) {
                fprintf(stderr, "usage: mktree DIR NDIRS NFILES [PREFIX]\n");
                return 2;
        }
        ndirs = atoi(argv[2]);
        nfiles = atoi(argv[3]);
        if (mkdir(argv[1], 0755) < 0 && errno != EEXIST)
                return report(-1);
        root = open(argv[1], O_DIRECTORY | O_RDONLY);
        if (root < 0)
                return report(-1);
        for (int d = 0; d < ndirs; d++) {
                char name[32];
                int dfd;

                snprintf(name, sizeof(name), "d%04d", d);
                if (mkdirat(root, name, 0755) < 0 && errno != EEXIST)
                        return report(-1);
                dfd = openat(root, name, O_DIRECTORY | O_RDONLY);
                if (dfd < 0)
                        return report(-1);
                for (int f = 0; f < nfiles; f++) {
                        int fd;

                        snprintf(name, sizeof(name), "%.16s%05d", prefix, f);
                        fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0644);
                        if (fd < 0)
                                return report(-1);
                        close(fd);
                }
                close(dfd);
        }
        return 0;
}
