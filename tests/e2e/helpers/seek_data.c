/* seek_data FILE: walks the file with lseek(SEEK_DATA)/lseek(SEEK_HOLE) and
 * prints each data extent as "START-END", space separated, then the size.
 * A filesystem that knows no holes reports one extent 0-SIZE. */
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        struct stat st;
        off_t pos = 0;
        int fd;

        if (argc != 2) {
                fprintf(stderr, "usage: seek_data FILE\n");
                return 2;
        }
        fd = open(argv[1], O_RDONLY);
        if (fd < 0 || fstat(fd, &st) < 0)
                return report(-1);
        for (;;) {
                off_t data = lseek(fd, pos, SEEK_DATA);
                off_t hole;

                if (data < 0) {
                        if (errno == ENXIO)
                                break;
                        return report(-1);
                }
                hole = lseek(fd, data, SEEK_HOLE);
                if (hole < 0)
                        return report(-1);
                printf("%lld-%lld ", (long long)data, (long long)hole);
                pos = hole;
        }
        printf("size=%lld\n", (long long)st.st_size);
        return 0;
}
