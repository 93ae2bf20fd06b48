/* copy_range SRC DST: copies SRC into DST (created/truncated) with
 * copy_file_range(2) only, no read/write fallback. Prints the byte count or
 * the errno name. */
#include "common.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
        long long total = 0;
        int in, out;

        if (argc != 3) {
                fprintf(stderr, "usage: copy_range SRC DST\n");
                return 2;
        }
        in = open(argv[1], O_RDONLY);
        if (in < 0)
                return report(-1);
        out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0)
                return report(-1);
        for (;;) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 20, 0);

                if (n < 0)
                        return report(-1);
                if (n == 0)
                        break;
                total += n;
        }
        if (close(out) < 0)
                return report(-1);
        printf("%lld\n", total);
        return 0;
}
