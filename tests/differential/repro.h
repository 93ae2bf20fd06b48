/* The reproducer format: a test case as text that --replay reads back. */
#ifndef DIFF_REPRO_H
#define DIFF_REPRO_H

#include <stdio.h>

#include "model.h"
#include "util.h"

/* One line, without newline, e.g. `rename "a" "b" flags=noreplace`. */
void repro_format_op(const struct op *op, struct strbuf *out);
void repro_format_entry(const struct stack *s, const struct entry *e, struct strbuf *out);
/* The whole case: a comment header, "lower N", "entry ..." and "op ..." lines. */
void repro_format(const struct testcase *tc, struct strbuf *out);

/* Parses a reproducer; on error prints the line to stderr and returns -1. */
int repro_parse(const char *text, struct testcase *tc);
int repro_read_file(const char *path, struct testcase *tc);

#endif
