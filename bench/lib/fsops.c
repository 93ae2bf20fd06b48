/* fsops: small file-system helpers for the unionfuse benchmark.
 *
 * The benchmark script compiles this with `cc -O2` into its work dir. Each
 * subcommand does one thing with as little overhead as possible, so that the
 * time measured is the file system's, not a shell loop's.
 *
 *   fsops gen ROOT SEED < LIST      LIST lines "SIZE PATH": create each file
 *                                   (and its parent dirs) with SIZE bytes of text
 *   fsops lstat LIST present|absent lstat every path of LIST; fail unless all
 *                                   exist (present) or none exists (absent)
 *   fsops append LIST NBYTES        append NBYTES to every file of LIST
 *   fsops create DIR N PERDIR SIZE  create N files of SIZE bytes in DIR/dNNN/,
 *                                   PERDIR files per subdirectory
 *   fsops readall LIST              read every file of LIST to the end
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUFSZ (1 << 20)

static char buf[BUFSZ];

static void fill_text(uint64_t seed)
{
    static const char words[] = "abcdefghijklmnopqrstuvwxyz_0123456789(){};=+*";
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < BUFSZ; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        buf[i] = (x % 61 == 0) ? '\n' : (x % 7 == 0) ? ' ' : words[x % (sizeof words - 1)];
    }
}

static int mkdir_parents(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc && errno != EEXIST) {
            perror(path);
            return -1;
        }
    }
    return 0;
}

static int write_n(int fd, uint64_t size, uint64_t offset_seed)
{
    uint64_t off = offset_seed % (BUFSZ / 2);
    while (size > 0) {
        size_t n = size < BUFSZ - off ? size : BUFSZ - off;
        ssize_t w = write(fd, buf + off, n);
        if (w <= 0)
            return -1;
        size -= (uint64_t)w;
        off = 0;
    }
    return 0;
}

static int cmd_gen(const char *root, uint64_t seed)
{
    char line[8192], path[8192 + 512], lastdir[8192 + 512] = "";
    unsigned long long size;
    uint64_t n = 0;
    fill_text(seed);
    while (fgets(line, sizeof line, stdin)) {
        char rel[8192];
        if (sscanf(line, "%llu %8191s", &size, rel) != 2)
            continue;
        snprintf(path, sizeof path, "%s/%s", root, rel);
        char *slash = strrchr(path, '/');
        size_t dlen = (size_t)(slash - path);
        if (strncmp(lastdir, path, dlen) || lastdir[dlen]) {
            if (mkdir_parents(path))
                return 1;
            memcpy(lastdir, path, dlen);
            lastdir[dlen] = 0;
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write_n(fd, size, n * 7919) || close(fd)) {
            perror(path);
            return 1;
        }
        n++;
    }
    return 0;
}

static FILE *open_list(const char *list)
{
    FILE *f = fopen(list, "r");
    if (!f)
        perror(list);
    return f;
}

static int next_path(FILE *f, char *line, size_t len)
{
    if (!fgets(line, (int)len, f))
        return 0;
    line[strcspn(line, "\n")] = 0;
    return 1;
}

static int cmd_lstat(const char *list, const char *expect)
{
    char line[8192];
    struct stat st;
    unsigned long present = 0, absent = 0;
    FILE *f = open_list(list);
    if (!f)
        return 1;
    while (next_path(f, line, sizeof line)) {
        if (lstat(line, &st) == 0)
            present++;
        else if (errno == ENOENT)
            absent++;
        else {
            perror(line);
            return 1;
        }
    }
    fclose(f);
    int want_present = strcmp(expect, "present") == 0;
    if ((want_present && absent) || (!want_present && present)) {
        fprintf(stderr, "fsops lstat: %lu present, %lu absent, expected all %s\n",
                present, absent, expect);
        return 1;
    }
    return 0;
}

static int cmd_append(const char *list, uint64_t nbytes)
{
    char line[8192];
    FILE *f = open_list(list);
    if (!f)
        return 1;
    fill_text(42);
    while (next_path(f, line, sizeof line)) {
        int fd = open(line, O_WRONLY | O_APPEND);
        if (fd < 0 || write_n(fd, nbytes, 0) || close(fd)) {
            perror(line);
            return 1;
        }
    }
    fclose(f);
    return 0;
}

static int cmd_create(const char *dir, long n, long perdir, uint64_t size)
{
    char path[8192];
    fill_text(7);
    if (mkdir(dir, 0755) && errno != EEXIST) {
        perror(dir);
        return 1;
    }
    for (long i = 0; i < n; i++) {
        if (i % perdir == 0) {
            snprintf(path, sizeof path, "%s/d%03ld", dir, i / perdir);
            if (mkdir(path, 0755)) {
                perror(path);
                return 1;
            }
        }
        snprintf(path, sizeof path, "%s/d%03ld/file%06ld", dir, i / perdir, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0 || write_n(fd, size, (uint64_t)i) || close(fd)) {
            perror(path);
            return 1;
        }
    }
    return 0;
}

static int cmd_readall(const char *list)
{
    char line[8192];
    FILE *f = open_list(list);
    if (!f)
        return 1;
    while (next_path(f, line, sizeof line)) {
        int fd = open(line, O_RDONLY);
        ssize_t r;
        if (fd < 0) {
            perror(line);
            return 1;
        }
        while ((r = read(fd, buf, BUFSZ)) > 0)
            ;
        close(fd);
        if (r < 0) {
            perror(line);
            return 1;
        }
    }
    fclose(f);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: fsops gen ROOT SEED < LIST | lstat LIST present|absent |"
                    " append LIST NBYTES | create DIR N PERDIR SIZE | readall LIST\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "gen"))
        return cmd_gen(argv[2], strtoull(argv[3], NULL, 10));
    if (argc == 4 && !strcmp(argv[1], "lstat"))
        return cmd_lstat(argv[2], argv[3]);
    if (argc == 4 && !strcmp(argv[1], "append"))
        return cmd_append(argv[2], strtoull(argv[3], NULL, 10));
    if (argc == 6 && !strcmp(argv[1], "create"))
        return cmd_create(argv[2], atol(argv[3]), atol(argv[4]), strtoull(argv[5], NULL, 10));
    if (argc == 3 && !strcmp(argv[1], "readall"))
        return cmd_readall(argv[2]);
    return usage();
}
