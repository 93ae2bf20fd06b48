/* `unionfuse commit UPPERDIR -o LAYER.tar[.gz] [--image DIR[:TAG] --tag T]`:
 * an upper layer as an OCI layer, optionally appended to an image. */
#ifndef UNIONFUSE_COMMIT_H
#define UNIONFUSE_COMMIT_H

/* ARGV after the word "commit". Returns the exit status. */
int commit_main(int argc, char **argv);

#endif
