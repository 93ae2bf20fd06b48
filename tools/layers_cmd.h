/* `unionfuse layers MOUNTPOINT [--json]`: the stack of a running union. */
#ifndef UNIONFUSE_LAYERS_CMD_H
#define UNIONFUSE_LAYERS_CMD_H

/* ARGV after the word "layers". Returns the exit status. */
int layers_main(int argc, char **argv);

#endif
