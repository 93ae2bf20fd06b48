/* The trace: one line per union decision, in words a learner understands
 * ("copy-up /etc/passwd from layer 0 (base) to upper: 1.2 KiB, 0.3 ms").
 * Off by default, and free when off: every caller tests u->trace, one
 * pointer, before it formats or even gathers anything for a line. */
#ifndef UNIONFUSE_TRACE_H
#define UNIONFUSE_TRACE_H

#include <stdio.h>
#include <sys/types.h>

struct ufs;
struct node;

void trace_line(struct ufs *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "layer 0 (base)", "layer 2 (init)", "upper": layers numbered base first,
 * as the command line lists them. BUF holds TRACE_LAYER_MAX bytes. */
#define TRACE_LAYER_MAX 32
const char *trace_layer(const struct ufs *u, int layer, char *buf);
/* "/etc/hosts" for a node, NAME below DIR ("/" for the root). Caller frees. */
char *trace_path(const struct node *dir, const char *name);
/* "1.2 KiB" */
void trace_size(off_t size, char *buf, size_t len);
/* Monotonic milliseconds, for timing a decision. */
double trace_now_ms(void);

/* UNIONFUSE_NO_TRACE (-DUNIONFUSE_NO_TRACE in CMAKE_C_FLAGS) builds the
 * baseline of bench/trace_cost.sh: a daemon whose trace code is compiled
 * out, to measure what the `if (u->trace)` tests cost when tracing is off.
 * Each helper gets an empty gnu_inline definition (trace.c still provides
 * the real ones out of line), so the compiler finds a traced branch empty
 * and drops it with its test; it keeps the test only where the branch
 * still calls something it cannot see through (node_is_dir in lookup,
 * snprintf in copy-up). Never ship such a build: --trace is silent in it,
 * and explain cannot name paths or layers (ENOMEM). */
#ifdef UNIONFUSE_NO_TRACE

#define TRACE_STUB extern inline __attribute__((gnu_inline, unused))

TRACE_STUB void trace_line(struct ufs *u, const char *fmt, ...)
{
	(void)u;
	(void)fmt;
}

TRACE_STUB const char *trace_layer(const struct ufs *u, int layer, char *buf)
{
	(void)u;
	(void)layer;
	(void)buf;
	return "";
}

TRACE_STUB char *trace_path(const struct node *dir, const char *name)
{
	(void)dir;
	(void)name;
	return NULL;
}

TRACE_STUB void trace_size(off_t size, char *buf, size_t len)
{
	(void)size;
	(void)buf;
	(void)len;
}

TRACE_STUB double trace_now_ms(void)
{
	return 0;
}

#undef TRACE_STUB
#endif

#endif
