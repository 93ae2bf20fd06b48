/* Small helpers shared by the differential tester: a growable string, checked
 * allocation, quoting of odd file names for reports, and tree removal. */
#ifndef DIFF_UTIL_H
#define DIFF_UTIL_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *s;        /* always NUL-terminated once anything was added */
	size_t len;
	size_t cap;
};

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void sb_add(struct strbuf *sb, const char *s);
void sb_addn(struct strbuf *sb, const char *s, size_t n);
void sb_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
/* Appends s as a double-quoted C-like literal: \n, \t, \\, \", \xHH for other
 * control bytes; UTF-8 stays readable. parse_quoted() reads it back. */
void sb_add_quoted(struct strbuf *sb, const char *s);
void sb_free(struct strbuf *sb);
/* The contents, or "" when nothing was added. */
const char *sb_str(const struct strbuf *sb);

/* Parses a literal written by sb_add_quoted at *p; advances *p past it.
 * Returns a new string, or NULL on a syntax error. */
char *parse_quoted(const char **p);

/* Removes a directory tree without following symlinks; ENOENT is fine. */
int rmtree(const char *path);
int mkdir_p(const char *path, unsigned mode);

/* Writes all of buf to fd (used so that a whole report leaves in one piece). */
void write_all(int fd, const char *buf, size_t len);

#endif
