/* `unionfuse requests MOUNTPOINT [--json] [-- COMMAND [ARG...]]`: what the
 * kernel asked the daemon of a running union, since the mount or while one
 * command ran. */
#ifndef UNIONFUSE_REQUESTS_CMD_H
#define UNIONFUSE_REQUESTS_CMD_H

/* ARGV after the word "requests". Returns the exit status: COMMAND's own
 * when there is one. */
int requests_main(int argc, char **argv);

#endif
