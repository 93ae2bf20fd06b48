/* A large file opened for writing, given new attributes or xattrs, renamed
 * or linked is copied up with the tree lock released (copyup_may_unlock):
 * the rest of the mount is served while its data is copied, and what
 * happens to the file meanwhile decides how the copy ends.
 *
 * To catch a copy in the act, this test program defines copy_file_range
 * itself, and the program's own definition is the one the library calls:
 * the first copy after start_held() says it began, and waits until
 * finish_held(). Where the copy takes another way (FICLONE on a
 * filesystem that shares extents), the tests skip. */
#include "fixture.h"

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

TestSuite(copyup_concurrent, .fini = fx_cleanup);

static sem_t copy_began, copy_may_go;
static atomic_bool hold_copy;

ssize_t copy_file_range(int in, loff_t *in_off, int out, loff_t *out_off, size_t len,
			unsigned int flags)
{
	if (atomic_exchange(&hold_copy, false)) {
		sem_post(&copy_began);
		sem_wait(&copy_may_go);
	}
	return syscall(SYS_copy_file_range, in, in_off, out, out_off, len, flags);
}

#define BIG_SIZE (2 * COPYUP_UNLOCKED_MIN)

/* A lower file "big" of BIG_SIZE bytes of data (no holes), and "other". */
static void put_big(struct fx *fx)
{
	FILE *f;
	char *buf = malloc(BIG_SIZE);

	cr_assert_not_null(buf);
	memset(buf, 'b', BIG_SIZE);
	put_file(fx, "l0/other", "other");
	f = fopen(fx_path(fx, "l0/big"), "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, BIG_SIZE, f), (size_t)BIG_SIZE);
	cr_assert_eq(fclose(f), 0);
	free(buf);
}

struct opener {
	struct ufs *u;
	struct node *node;
	pthread_t thread;
	int err;
};

/* Open NODE for writing and write "new" at its start, as a user would. */
static void *open_and_write(void *arg)
{
	struct opener *o = arg;
	struct handle *h;

	o->err = ufs_open(o->u, o->node, O_WRONLY, &h);
	if (o->err == 0) {
		if (pwrite(h->fd, "new", 3, 0) != 3)
			o->err = -errno;
		ufs_release(o->u, h);
	}
	return NULL;
}

static void *change_mode(void *arg)
{
	struct opener *o = arg;
	struct stat attr = { .st_mode = S_IFREG | 0600 }, st;

	o->err = ufs_setattr(o->u, o->node, &attr, UFS_SET_MODE, -1, &st);
	return NULL;
}

static void *rename_big(void *arg)
{
	struct opener *o = arg;

	o->err = ufs_rename(o->u, o->u->root, "big", o->u->root, "renamed", 0);
	return NULL;
}

static void *link_big(void *arg)
{
	struct opener *o = arg;
	struct node *out;
	struct stat st;

	o->err = ufs_link(o->u, o->node, o->u->root, "linked", &out, &st);
	if (o->err == 0)
		ufs_forget(o->u, out, 1);
	return NULL;
}

static void *set_xattr_big(void *arg)
{
	struct opener *o = arg;

	o->err = ufs_setxattr(o->u, o->node, "user.tag", "t", 1, 0);
	return NULL;
}

/* Start ACTION on "big" in another thread; true once its copy is held
 * half way, false (and the thread joined) if it never came. */
static bool start_held(struct fx *fx, struct opener *o, void *(*action)(void *))
{
	struct timespec until;

	o->u = fx->u;
	o->node = u_lookup(fx, "big");
	cr_assert_eq(sem_init(&copy_began, 0, 0), 0);
	cr_assert_eq(sem_init(&copy_may_go, 0, 0), 0);
	atomic_store(&hold_copy, true);
	cr_assert_eq(pthread_create(&o->thread, NULL, action, o), 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 20;
	if (sem_timedwait(&copy_began, &until) == 0)
		return true;
	atomic_store(&hold_copy, false);
	pthread_join(o->thread, NULL);
	return false;
}

/* A union over "big" and "other", with ACTION on "big" held half way
 * through its copy-up; the test skips where the copy takes another way. */
static struct fx *big_copy_held(struct opener *o, void *(*action)(void *))
{
	struct fx *fx = fx_new(1);

	put_big(fx);
	fx_mount(fx);
	if (!start_held(fx, o, action))
		cr_skip_test("the copy-up did not go through copy_file_range here");
	return fx;
}

static void finish_held(struct opener *o)
{
	sem_post(&copy_may_go);
	pthread_join(o->thread, NULL);
}

Test(copyup_concurrent, the_mount_is_served_while_a_large_file_is_copied, .timeout = 30)
{
	struct opener o;
	struct fx *fx = big_copy_held(&o, open_and_write);

	/* Each of these needs the tree lock, which the copy does not hold. */
	cr_assert_str_eq(u_read(fx, "other"), "other");
	cr_assert_eq(u_create(fx, "made-meanwhile", "x"), 0);
	cr_assert_eq(u_mkdir(fx, "dir-meanwhile"), 0);
	finish_held(&o);
	cr_assert_eq(o.err, 0);
	cr_assert_eq(real_stat(fx, "upper/big").st_size, BIG_SIZE);
	cr_assert_eq(strncmp(real_read(fx, "upper/big"), "newbbb", 6), 0);
	cr_assert_str_eq(real_read(fx, "upper/made-meanwhile"), "x");
	cr_assert_str_eq(work_scratch(fx), "");
}

Test(copyup_concurrent, a_file_removed_during_its_copy_is_not_brought_back, .timeout = 30)
{
	struct opener o;
	struct fx *fx = big_copy_held(&o, open_and_write);

	cr_assert_eq(u_unlink(fx, "big"), 0);
	finish_held(&o);
	/* As if the removal came first: the open finds nothing. */
	cr_assert_eq(o.err, -ENOENT);
	cr_assert(real_is_whiteout(fx, "upper/big"));
	cr_assert_eq(u_lookup_err(fx, "big"), -ENOENT);
	cr_assert_str_eq(work_scratch(fx), "");
}

Test(copyup_concurrent, a_file_renamed_during_its_copy_keeps_the_renames_copy, .timeout = 30)
{
	struct opener o;
	struct fx *fx = big_copy_held(&o, open_and_write);

	/* The rename copies the file up itself, its copy unheld. */
	cr_assert_eq(u_rename(fx, "big", "moved", 0), 0);
	finish_held(&o);
	/* The open then writes to the renamed copy; the held one is dropped. */
	cr_assert_eq(o.err, 0);
	cr_assert_eq(strncmp(real_read(fx, "upper/moved"), "newbbb", 6), 0);
	cr_assert_eq(real_stat(fx, "upper/moved").st_size, BIG_SIZE);
	cr_assert(real_is_whiteout(fx, "upper/big"));
	cr_assert_str_eq(work_scratch(fx), "");
}

Test(copyup_concurrent, a_mode_change_copies_a_large_file_unlocked_too, .timeout = 30)
{
	struct opener o;
	struct fx *fx = big_copy_held(&o, change_mode);

	cr_assert_str_eq(u_read(fx, "other"), "other");
	finish_held(&o);
	cr_assert_eq(o.err, 0);
	cr_assert_eq(real_stat(fx, "upper/big").st_mode & 07777, 0600);
	cr_assert_eq(real_stat(fx, "upper/big").st_size, BIG_SIZE);
	cr_assert_str_eq(work_scratch(fx), "");
}

/* The mount served while ACTION copies "big" up, held half way; then the
 * action done, the copy whole. */
static struct fx *served_during(void *(*action)(void *))
{
	struct opener o;
	struct fx *fx = big_copy_held(&o, action);

	cr_assert_str_eq(u_read(fx, "other"), "other");
	cr_assert_eq(u_create(fx, "made-meanwhile", "x"), 0);
	finish_held(&o);
	cr_assert_eq(o.err, 0);
	cr_assert_str_eq(work_scratch(fx), "");
	return fx;
}

Test(copyup_concurrent, a_rename_copies_a_large_file_unlocked, .timeout = 30)
{
	struct fx *fx = served_during(rename_big);

	cr_assert_eq(real_stat(fx, "upper/renamed").st_size, BIG_SIZE);
	cr_assert(real_is_whiteout(fx, "upper/big"));
	cr_assert_eq(u_lookup_err(fx, "big"), -ENOENT);
}

Test(copyup_concurrent, a_link_copies_a_large_file_unlocked, .timeout = 30)
{
	struct fx *fx = served_during(link_big);

	cr_assert_eq(real_stat(fx, "upper/linked").st_ino, real_stat(fx, "upper/big").st_ino);
	cr_assert_eq(real_stat(fx, "upper/big").st_size, BIG_SIZE);
}

Test(copyup_concurrent, an_xattr_change_copies_a_large_file_unlocked, .timeout = 30)
{
	struct fx *fx = served_during(set_xattr_big);

	cr_assert_str_eq(real_xattr(fx, "upper/big", "user.tag"), "t");
	cr_assert_eq(real_stat(fx, "upper/big").st_size, BIG_SIZE);
}

/* Through the kernel the two directories are held meanwhile; the library
 * alone answers as if the removal came first. */
Test(copyup_concurrent, a_file_removed_during_its_renames_copy_is_not_renamed, .timeout = 30)
{
	struct opener o;
	struct fx *fx = big_copy_held(&o, rename_big);

	cr_assert_eq(u_unlink(fx, "big"), 0);
	finish_held(&o);
	cr_assert_eq(o.err, -ENOENT);
	cr_assert_eq(u_lookup_err(fx, "renamed"), -ENOENT);
	cr_assert(!real_exists(fx, "upper/renamed"));
	cr_assert_str_eq(work_scratch(fx), "");
}
