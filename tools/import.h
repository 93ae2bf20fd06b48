/* `unionfuse import [--whiteout=aufs|overlay] SOURCE DESTDIR`: an OCI
 * layout or a docker-archive unpacked into one directory per layer. */
#ifndef UNIONFUSE_IMPORT_H
#define UNIONFUSE_IMPORT_H

/* ARGV after the word "import". Returns the exit status. */
int import_main(int argc, char **argv);

#endif
