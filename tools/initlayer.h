/* The init layer: per-container /etc/hostname, /etc/hosts and
 * /etc/resolv.conf, read-only between the image and the upper layer, so
 * commit never sees them (DESIGN section 2). */
#ifndef UNIONFUSE_INITLAYER_H
#define UNIONFUSE_INITLAYER_H

struct initlayer_spec {
	const char *hostname;     /* NULL: no /etc/hostname */
	const char *hosts;        /* file to copy; NULL: generated from hostname */
	const char *resolv;       /* file to copy; NULL: the host's, if any */
};

/* Build WORK/init afresh. LOWERS (base first) give /etc and / their
 * owner, mode and times, so the init layer changes nothing else in the
 * merged view. Returns the layer's path (caller frees), or NULL after one
 * line naming the path and the cause. */
char *initlayer_build(const char *work, const struct initlayer_spec *spec,
		      char **lowers, int nlowers);

/* Remove WORK/init, for a mount that did not go through. */
void initlayer_remove(const char *work);

#endif
