/* `unionfuse explain PATH [--json]`: what each layer holds at PATH, which
 * one wins and why, and what the daemon itself answers for it. */
#ifndef UNIONFUSE_EXPLAIN_CMD_H
#define UNIONFUSE_EXPLAIN_CMD_H

/* ARGV after the word "explain". Returns the exit status. */
int explain_main(int argc, char **argv);

#endif
