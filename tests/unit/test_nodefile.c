/* A node's own open files (nodefile.c): the reads and writes that come
 * without a handle, once the kernel opens files without asking. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

TestSuite(nodefile, .fini = fx_cleanup);

static char *read_fd(int fd)
{
	static char buf[64];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	cr_assert_geq(n, 0, "pread: %s", strerror(errno));
	buf[n] = '\0';
	return buf;
}

static struct handle *file_of(struct fx *fx, const char *path, enum ufs_access access)
{
	struct handle *h;
	int err = ufs_node_file(fx->u, u_lookup(fx, path), access, &h);

	cr_assert_eq(err, 0, "%s: %s", path, strerror(-err));
	return h;
}

Test(nodefile, a_read_opens_the_lower_file_once_and_copies_nothing_up)
{
	struct fx *fx = fx_new(1);
	struct handle *a, *b;

	put_file(fx, "l0/d/f", "lower");
	fx_mount(fx);
	a = file_of(fx, "d/f", UFS_READ);
	b = file_of(fx, "d/f", UFS_READ);
	cr_assert_eq(a, b, "the second read uses the file the first one opened");
	cr_assert_str_eq(read_fd(a->fd), "lower");
	cr_assert_not(real_exists(fx, "upper/d/f"));
	ufs_handle_put(fx->u, a);
	ufs_handle_put(fx->u, b);
}

Test(nodefile, a_write_copies_up_and_the_read_file_follows)
{
	struct fx *fx = fx_new(1);
	struct handle *r, *w;

	put_file(fx, "l0/f", "lower");
	fx_mount(fx);
	r = file_of(fx, "f", UFS_READ);
	w = file_of(fx, "f", UFS_WRITE);
	cr_assert(real_exists(fx, "upper/f"), "the first write's file is the upper copy");
	cr_assert_eq(pwrite(w->fd, "UP", 2, 0), 2);
	cr_assert_str_eq(real_read(fx, "upper/f"), "UPwer");
	cr_assert_str_eq(real_read(fx, "l0/f"), "lower");
	cr_assert_str_eq(read_fd(r->fd), "UPwer", "a read file opened before reads the copy");
	ufs_handle_put(fx->u, r);
	ufs_handle_put(fx->u, w);
}

Test(nodefile, append_file_appends_whatever_the_offset)
{
	struct fx *fx = fx_new(1);
	struct handle *h;

	put_file(fx, "l0/log", "one\n");
	fx_mount(fx);
	h = file_of(fx, "log", UFS_APPEND);
	cr_assert_eq(pwrite(h->fd, "two\n", 4, 0), 4);
	cr_assert_str_eq(real_read(fx, "upper/log"), "one\ntwo\n");
	ufs_handle_put(fx->u, h);
}

/* More nodes read than the bound: the least recently used files close,
 * but one still in use stays open until its user lets go. */
Test(nodefile, kept_files_stay_within_the_bound_and_in_use_ones_stay_valid)
{
	struct fx *fx = fx_new(1);
	struct handle *first, *h;
	char path[32];
	int before, i;

	for (i = 0; i < 40; i++) {
		snprintf(path, sizeof(path), "l0/f%d", i);
		put_file(fx, path, path + 3);
	}
	fx_mount(fx);
	fx->u->files.max = 8;
	before = fx_count_fds();
	first = file_of(fx, "f0", UFS_READ);
	for (i = 1; i < 40; i++) {
		snprintf(path, sizeof(path), "f%d", i);
		h = file_of(fx, path, UFS_READ);
		cr_assert_str_eq(read_fd(h->fd), path);
		ufs_handle_put(fx->u, h);
	}
	cr_assert_leq(fx_count_fds(), before + 8 + 1, "8 kept, and f0's still in use");
	cr_assert_str_eq(read_fd(first->fd), "f0", "f0's file, evicted, is still f0 for its user");
	ufs_handle_put(fx->u, first);
	cr_assert_leq(fx_count_fds(), before + 8);
}

Test(nodefile, forget_closes_the_node_files)
{
	struct fx *fx = fx_new(1);
	struct node *node;
	struct handle *h;
	struct stat st;
	int before;

	put_file(fx, "l0/f", "x");
	fx_mount(fx);
	before = fx_count_fds();
	cr_assert_eq(ufs_lookup(fx->u, fx->u->root, "f", &node, &st), 0);
	cr_assert_eq(ufs_node_file(fx->u, node, UFS_READ, &h), 0);
	ufs_handle_put(fx->u, h);
	cr_assert_eq(fx_count_fds(), before + 1);
	ufs_forget(fx->u, node, 1);
	cr_assert_eq(fx_count_fds(), before);
}

/* A file removed while the kernel holds it may be open in a process that
 * never read it yet: the removal keeps it open for that process. */
Test(nodefile, an_upper_file_removed_unread_can_still_be_read_and_written)
{
	struct fx *fx = fx_new(1);
	struct node *f;
	struct handle *r, *w;

	fx_mount(fx);
	cr_assert_eq(u_create(fx, "f", "data"), 0);
	f = u_lookup(fx, "f");
	cr_assert_eq(u_unlink(fx, "f"), 0);
	cr_assert_not(real_exists(fx, "upper/f"));
	cr_assert_eq(ufs_node_file(fx->u, f, UFS_READ, &r), 0);
	cr_assert_str_eq(read_fd(r->fd), "data");
	cr_assert_eq(ufs_node_file(fx->u, f, UFS_WRITE, &w), 0);
	cr_assert_eq(pwrite(w->fd, "DA", 2, 0), 2);
	cr_assert_str_eq(read_fd(r->fd), "DAta");
	ufs_handle_put(fx->u, r);
	ufs_handle_put(fx->u, w);
}

Test(nodefile, a_lower_file_removed_then_written_gets_a_nameless_copy)
{
	struct fx *fx = fx_new(1);
	struct node *f;
	struct handle *r, *w;

	put_file(fx, "l0/f", "lower");
	fx_mount(fx);
	f = u_lookup(fx, "f");
	cr_assert_eq(u_unlink(fx, "f"), 0);
	cr_assert_eq(ufs_node_file(fx->u, f, UFS_READ, &r), 0);
	cr_assert_str_eq(read_fd(r->fd), "lower");
	cr_assert_eq(ufs_node_file(fx->u, f, UFS_WRITE, &w), 0);
	cr_assert_eq(pwrite(w->fd, "LO", 2, 0), 2);
	cr_assert_str_eq(read_fd(r->fd), "LOwer", "reads see the write");
	cr_assert_str_eq(real_read(fx, "l0/f"), "lower", "the lower layer is never written");
	cr_assert(real_is_whiteout(fx, "upper/f"));
	cr_assert_str_eq(work_scratch(fx), "", "the copy has no name anywhere");
	ufs_handle_put(fx->u, r);
	ufs_handle_put(fx->u, w);
}

Test(nodefile, a_created_file_becomes_its_node_file)
{
	struct fx *fx = fx_new(1);
	struct node *node;
	struct handle *h, *w;
	struct stat st;

	fx_mount(fx);
	cr_assert_eq(ufs_create(fx->u, fx->u->root, "n", 0644, O_WRONLY | O_CREAT, &fx_root,
				&node, &st, &h), 0);
	fx_keep(fx, node);
	ufs_node_file_adopt(fx->u, h, O_WRONLY | O_CREAT);
	cr_assert_eq(ufs_node_file(fx->u, node, UFS_WRITE, &w), 0);
	cr_assert_eq(w, h, "writes use the file the create opened");
	cr_assert_eq(pwrite(w->fd, "new", 3, 0), 3);
	cr_assert_str_eq(real_read(fx, "upper/n"), "new");
	ufs_handle_put(fx->u, w);
}

/* O_DIRECT is the kernel's to do on the mount's side: the layer's file is
 * opened without it, so writes from the daemon's unaligned buffers work. */
Test(nodefile, files_opened_o_direct_take_unaligned_writes)
{
	struct fx *fx = fx_new(1);
	struct node *node;
	struct handle *h;
	struct stat st;
	char buf[8] = "xnew";

	put_file(fx, "l0/f", "lower");
	fx_mount(fx);
	cr_assert_eq(ufs_create(fx->u, fx->u->root, "n", 0644, O_WRONLY | O_CREAT | O_DIRECT,
				&fx_root, &node, &st, &h), 0);
	fx_keep(fx, node);
	cr_assert_eq(pwrite(h->fd, buf + 1, 3, 1), 3, "created: %s", strerror(errno));
	ufs_release(fx->u, h);
	cr_assert_eq(ufs_open(fx->u, u_lookup(fx, "f"), O_WRONLY | O_DIRECT, &h), 0);
	cr_assert_eq(pwrite(h->fd, buf + 1, 3, 1), 3, "copied up: %s", strerror(errno));
	ufs_release(fx->u, h);
	cr_assert_str_eq(real_read(fx, "upper/f"), "lnewr");
}

/* A directory renamed is copied up whole, hard links kept as links: a
 * second name's read file must follow it to the upper layer, or it would
 * not see writes made through the first name. */
Test(nodefile, read_files_follow_a_tree_copied_up_with_its_hard_links)
{
	struct fx *fx = fx_new(1);
	struct handle *ra, *rb, *w;

	put_file(fx, "l0/d/a", "lower");
	cr_assert_eq(link(fx_path(fx, "l0/d/a"), fx_path(fx, "l0/d/b")), 0);
	fx_mount(fx);
	/* Which name is copied and which linked depends on the view's order:
	 * both names hold a read file. */
	ra = file_of(fx, "d/a", UFS_READ);
	rb = file_of(fx, "d/b", UFS_READ);
	cr_assert_eq(u_rename(fx, "d", "e", 0), 0);
	w = file_of(fx, "e/a", UFS_WRITE);
	cr_assert_eq(pwrite(w->fd, "UP", 2, 0), 2);
	cr_assert_str_eq(read_fd(ra->fd), "UPwer");
	cr_assert_str_eq(read_fd(rb->fd), "UPwer");
	ufs_handle_put(fx->u, ra);
	ufs_handle_put(fx->u, rb);
	ufs_handle_put(fx->u, w);
}
