/* renameat2 FLAGS OLD NEW, FLAGS one of none|noreplace|exchange.
 * Prints OK or the errno name (EEXIST, EINVAL...). */
#include "common.h"
#include <fcntl.h>
#include <stdio.h>
#include <linux/fs.h>

int main(int argc, char **argv)
{
        unsigned int flags = 0;

        if (argc != 4) {
                fprintf(stderr, "usage: renameat2 none|noreplace|exchange OLD NEW\n");
                return 2;
        }
        if (!strcmp(argv[1], "noreplace"))
                flags = RENAME_NOREPLACE;
        else if (!strcmp(argv[1], "exchange"))
                flags = RENAME_EXCHANGE;
        else if (strcmp(argv[1], "none")) {
                fprintf(stderr, "renameat2: unknown flag %s\n", argv[1]);
                return 2;
        }
        return report(renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3], flags));
}
