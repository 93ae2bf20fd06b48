/* The trace: one line per union decision, in words a learner understands
 * ("copy-up /etc/passwd from layer 0 (base) to upper: 1.2 KiB, 0.3 ms").
 * Off by default, and free when off: UFS_TRACE tests one pointer before
 * anything is formatted. */
#ifndef UNIONFUSE_TRACE_H
#define UNIONFUSE_TRACE_H

#include <stdio.h>
#include <sys/types.h>

struct ufs;
struct node;

#define UFS_TRACE(u, ...)                                  \
	do {                                               \
		if ((u)->trace)                            \
			trace_line((u), __VA_ARGS__);      \
	} while (0)

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

#endif
