/* Shared by the e2e helpers: print an errno as its name ("EROFS"), which is
 * what the shell scripts compare against. */
#ifndef E2E_HELPERS_COMMON_H
#define E2E_HELPERS_COMMON_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>

static inline const char *errname(int e)
{
        const char *n = strerrorname_np(e);
        return n ? n : "E?";
}

/* Prints "OK" or the errno name; returns the exit status to use. */
static inline int report(int rc)
{
        if (rc < 0) {
                printf("%s\n", errname(errno));
                return 1;
        }
        printf("OK\n");
        return 0;
}
#endif
