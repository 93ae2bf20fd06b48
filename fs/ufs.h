/* The union library: a stack of layers seen as one tree, with every rule of
 * DESIGN sections 3 and 4. It knows nothing of FUSE: callers hand it nodes
 * and names and get back 0 or -errno.
 *
 * Lock order: ufs->lock (rwlock) before any node->lock; a parent's
 * node->lock before its child's. Namespace changes and copy-up take
 * ufs->lock exclusive (but for the data of a large file opened for writing
 * or given new attributes, copied with it released); lookups, attribute
 * reads and view builds take it shared. Reads and writes on open files
 * take no union lock at all. */
#ifndef UNIONFUSE_UFS_H
#define UNIONFUSE_UFS_H

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "idmap.h"
#include "layers.h"
#include "node.h"
#include "whiteout.h"

struct ufs_config {
	const char **lowers;      /* base first */
	int nlowers;
	const char *init;         /* optional */
	const char *upper;        /* optional: read-only without it */
	const char *work;         /* required with upper */
	enum wh_format whiteout_format;
	FILE *trace;              /* optional: where union decisions are told */
	bool unprivileged;        /* the daemon cannot chown: read owner overrides */
	bool metacopy;            /* a change of attributes copies no data (metacopy.c) */
	bool volatile_upper;      /* copy-up does not wait for its data to reach the
				   * disk (overlayfs' volatile; copyup.c copy_sync) */
	struct idmap uids, gids;  /* owners stored vs shown (idmap.h); copied */
	size_t evict_after;       /* entries freeable before a sweep (evict.c);
				   * 0: UFS_EVICT_MIN */
};

/* At most this many directory fds are kept open for reuse (dircache.h). */
#define UFS_DIRCACHE_CAPACITY 256

struct ufs_cred {
	uid_t uid;
	gid_t gid;
	/* Cleared from a new entry's mode, unless its directory has a
	 * default ACL, which replaces the umask (acl.c). */
	mode_t umask;
};

struct inomap;
struct layer_scan_pool;
struct handle;
struct fsxattr;

/* The open files nodes keep for requests without a handle (nodefile.c),
 * least recently used last. */
struct nodefile_lru {
	pthread_mutex_t lock;
	struct handle *head, *tail;
	unsigned count;
	unsigned max;
};
/* At most this many of them stay open (the files of nodes removed while the
 * kernel holds them come on top: see nodefile.c). */
#define UFS_NODEFILE_MAX 1024

struct ufs {
	struct layer *layers;     /* top first: layers[0] is the upper, if any */
	int nlayers;
	int upper;                /* index of the upper layer, -1 if read-only */
	int work_fd;              /* WORK/work: scratch for atomic changes */
	char *work_path;          /* realpath of WORK, NULL without an upper */
	enum wh_format whiteout_format;
	bool metacopy;            /* copy-up for new attributes copies no data */
	bool volatile_upper;      /* copy-up does not sync its data (copyup.c) */
	struct node *root;
	pthread_rwlock_t lock;    /* the tree: see the lock order above */
	atomic_uint_fast64_t tmp_counter;
	atomic_uint_fast64_t next_node_id;
	/* Bumped before and after every change of a security.capability:
	 * what a node learned of its absence holds while this stays. */
	atomic_uint_fast64_t caps_gen;
	struct dircache *dircache; /* O_PATH fds of directories in layers */
	struct layer_scan_pool *scan_pool; /* reads a directory's layers at once */
	struct nodefile_lru files; /* nodes' own open files (nodefile.c) */
	dev_t main_dev;           /* inode numbers of this device are shown as they are */
	struct inomap *inomap;    /* st_ino for entries of other devices [ino_lock] */
	ino_t next_vino;          /* [ino_lock] */
	pthread_mutex_t ino_lock;
	/* Told when an entry's attributes changed behind the kernel's back
	 * (a copy-up breaks hard links, merges a directory), so the FUSE
	 * layer can drop what the kernel cached. Optional. */
	void (*attr_changed)(void *ctx, struct node *node);
	/* And when a listing it may have cached did (an entry's inode
	 * number changed at its copy-up); ROOT: DIR is the mount's root. */
	void (*listing_changed)(void *ctx, struct node *dir, bool root);
	void *attr_changed_ctx;
	FILE *trace;              /* union decisions, one line each; NULL: off */
	struct {                  /* freeing forgotten views (evict.c) */
		/* entries that forgetting may have made freeable since
		 * the last sweep, and how many make the next one */
		atomic_size_t forgotten, at;
		size_t min;               /* the least "at" */
		pthread_mutex_t lock;
		pthread_cond_t wake;      /* [lock] enough forgotten, or stop */
		bool started, stopping;   /* [lock] */
		pthread_t thread;
	} evict;
	atomic_bool overrides;    /* owners may be kept in xattrs (owner.h) */
	struct idmap uids, gids;  /* owners stored vs shown (idmap.h) */
	pthread_mutex_t trace_lock;
};

/* An open file of the merged tree: one that the kernel opened (a handle it
 * holds), or one a node keeps for requests that come without a handle. */
struct handle {
	int fd;
	int layer;                /* where the file was opened */
	mode_t mode;              /* the file's mode when opened: set-id bits
				   * tell a write it may have some to drop */
	struct node *node;
	struct handle *next;      /* [node->lock] in node->handles */
	atomic_uint refs;         /* the last ufs_handle_put closes it */
	/* kept by its node (node->files) */
	uint8_t access;           /* enum ufs_access */
	bool in_lru;              /* [files.lock] evictable; false once pinned */
	struct handle *lru_prev, *lru_next; /* [files.lock] */
};

/* How a request without a handle uses a node's file (nodefile.c). */
enum ufs_access { UFS_READ, UFS_WRITE, UFS_APPEND, UFS_ACCESS_KINDS };

/* super.c: set up and tear down a union. On failure *why names the path
 * and the cause, for the one-line message a user sees (caller frees). */
int ufs_new(const struct ufs_config *cfg, struct ufs **out, char **why);
void ufs_destroy(struct ufs *u);
bool ufs_read_only(const struct ufs *u);
ino_t ufs_vino(struct ufs *u, dev_t dev, ino_t ino);

/* lookup.c */
int ufs_lookup(struct ufs *u, struct node *dir, const char *name,
	       struct node **out, struct stat *st);
/* The same, untraced: for readdirplus, whose entries are no decisions. */
int ufs_lookup_quiet(struct ufs *u, struct node *dir, const char *name,
		     struct node **out, struct stat *st);
void ufs_forget(struct ufs *u, struct node *node, uint64_t nlookup);
/* evict.c: free the views of directories the kernel has forgotten, with
 * nothing held below them (done by a thread of the union's own once
 * enough nodes were forgotten). Returns the number of nodes kept. */
size_t ufs_evict_views(struct ufs *u);
/* Entries that forgetting may have freed before the first sweep, unless
 * ufs_config.evict_after says otherwise. */
#define UFS_EVICT_MIN 1024
int ufs_view_build(struct ufs *u, struct node *dir);
int ufs_layers_final(struct ufs *u, struct node *dir);

/* inode.c: attributes and extended attributes */
enum {
	UFS_SET_MODE = 1 << 0, UFS_SET_UID = 1 << 1, UFS_SET_GID = 1 << 2,
	UFS_SET_SIZE = 1 << 3, UFS_SET_ATIME = 1 << 4, UFS_SET_MTIME = 1 << 5,
	UFS_SET_ATIME_NOW = 1 << 6, UFS_SET_MTIME_NOW = 1 << 7, UFS_SET_CTIME = 1 << 8,
};
int ufs_getattr(struct ufs *u, struct node *node, struct stat *st);
int ufs_setattr(struct ufs *u, struct node *node, const struct stat *attr,
		int to_set, int fd, struct stat *out);
int ufs_readlink(struct ufs *u, struct node *node, char **target);
int ufs_statfs(struct ufs *u, struct statvfs *st);
int ufs_fsyncdir(struct ufs *u, struct node *dir, int datasync);
ssize_t ufs_getxattr(struct ufs *u, struct node *node, const char *name, void *buf, size_t size);
ssize_t ufs_listxattr(struct ufs *u, struct node *node, char *buf, size_t size, bool show_trusted);
int ufs_setxattr(struct ufs *u, struct node *node, const char *name,
		 const void *value, size_t size, int flags);
int ufs_removexattr(struct ufs *u, struct node *node, const char *name);

/* protattr.c: whether NODE may be written (APPEND: at its end, by a file
 * opened O_APPEND): -EPERM if it is immutable or append-only (chattr +i,
 * +a). The FUSE side asks before every write, which may come through a
 * file opened before the flag was set. */
int ufs_may_write(struct ufs *u, struct node *node, bool append);

/* fileattr.c: inode flags (lsattr, chattr) of a regular file or a
 * directory (else -ENOTTY): read from its top layer; a change goes to its
 * upper copy (immutable and append-only as overlayfs keeps them:
 * protattr.c), -EOPNOTSUPP for one the union does not make (data
 * journaling, case folding). */
int ufs_getflags(struct ufs *u, struct node *node, unsigned int *flags);
int ufs_setflags(struct ufs *u, struct node *node, unsigned int flags);
int ufs_fsgetxattr(struct ufs *u, struct node *node, struct fsxattr *fsx);
int ufs_fssetxattr(struct ufs *u, struct node *node, const struct fsxattr *fsx);

/* dir.c: namespace changes */
int ufs_mknod(struct ufs *u, struct node *dir, const char *name, mode_t mode, dev_t rdev,
	      const struct ufs_cred *cred, struct node **out, struct stat *st);
int ufs_mkdir(struct ufs *u, struct node *dir, const char *name, mode_t mode,
	      const struct ufs_cred *cred, struct node **out, struct stat *st);
int ufs_symlink(struct ufs *u, struct node *dir, const char *name, const char *target,
		const struct ufs_cred *cred, struct node **out, struct stat *st);
int ufs_link(struct ufs *u, struct node *node, struct node *dir, const char *name,
	     struct node **out, struct stat *st);
int ufs_unlink(struct ufs *u, struct node *dir, const char *name);
int ufs_rmdir(struct ufs *u, struct node *dir, const char *name);
int ufs_rename(struct ufs *u, struct node *dir, const char *name,
	       struct node *newdir, const char *newname, unsigned int flags);

/* file.c: open files */
int ufs_open(struct ufs *u, struct node *node, int flags, struct handle **out);
int ufs_create(struct ufs *u, struct node *dir, const char *name, mode_t mode, int flags,
	       const struct ufs_cred *cred, struct node **out, struct stat *st,
	       struct handle **hout);
void ufs_release(struct ufs *u, struct handle *h);

/* nodefile.c: NODE's own open file for ACCESS, for a read or write that
 * comes without a handle; opened at first use (a write copies the file up
 * first). The caller holds a reference: ufs_handle_put when done. */
int ufs_node_file(struct ufs *u, struct node *node, enum ufs_access access,
		  struct handle **out);
void ufs_handle_put(struct ufs *u, struct handle *h);
/* Make H, opened with FLAGS (a file just created), its node's own file
 * for what FLAGS allow, taking over the caller's reference. */
void ufs_node_file_adopt(struct ufs *u, struct handle *h, int flags);

/* readdir.c: a snapshot of a directory's merged view */
struct dir_entry {
	char *name;
	mode_t type;
	ino_t ino;
	uint64_t next_off;        /* ufs_readdir_from: the offset after it */
};
struct dir_snapshot {
	struct dir_entry *entries;
	size_t count;
};
int ufs_opendir(struct ufs *u, struct node *dir, struct dir_snapshot **out);
/* (Re)take the snapshot, for a read at offset 0: a listing starts. */
int ufs_readdir_start(struct ufs *u, struct node *dir, struct dir_snapshot *snap);
void ufs_releasedir(struct dir_snapshot *snap);
/* Without an open handle (no OPENDIR requests): the entries of DIR's
 * listing after offset OFF that fit in BUDGET bytes (ENTRY_SIZE tells what
 * one takes), straight from its view, into OUT (free it with
 * ufs_readdir_done). Offsets are cookies that stay with a name while it is
 * in the view: a name added during a listing may be listed or not, one
 * removed is not, every other comes exactly once, as POSIX has it. */
struct readdir_budget {
	size_t bytes;
	size_t (*entry_size)(void *ctx, const char *name);
	void *ctx;
};
int ufs_readdir_from(struct ufs *u, struct node *dir, uint64_t off,
		     const struct readdir_budget *budget, struct dir_snapshot *out);
void ufs_readdir_done(struct dir_snapshot *snap);

#endif
