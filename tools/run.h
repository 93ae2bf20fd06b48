/* `unionfuse run [mount options] LAYER... -- COMMAND [ARG...]`: mount the
 * layers in new namespaces, pivot into them and run COMMAND (run.c). */
#ifndef UNIONFUSE_RUN_H
#define UNIONFUSE_RUN_H

/* ARGV after the word "run". Returns COMMAND's exit status, 2 on a usage
 * error, 125 when the container could not be set up. */
int run_main(int argc, char **argv);

#endif
