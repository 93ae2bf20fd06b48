/* Reading a directory's layers at once (fs/layerscan.h): whether the
 * helpers take part or not, every layer is read whole into its own slot,
 * and a layer that cannot be read says why in its slot alone. */
#include "fixture.h"

#include "layerscan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(layerscan, .fini = fx_cleanup);

#define NLAYERS 24
#define PER_LAYER 100

/* NLAYERS layers holding d/ with layer K's PER_LAYER names, except layer 5
 * (no d/) and layer 9 (d is a file). */
static void make_layers(struct fx *fx, int *fds, char **paths)
{
	char rel[64];

	for (int k = 0; k < NLAYERS; k++) {
		snprintf(rel, sizeof(rel), "many/%02d", k);
		put_dir(fx, rel);
		if (k == 9) {
			snprintf(rel, sizeof(rel), "many/%02d/d", k);
			put_file(fx, rel, "");
		} else if (k != 5) {
			for (int j = 0; j < PER_LAYER; j++) {
				snprintf(rel, sizeof(rel), "many/%02d/d/k%02d-%03d", k, k, j);
				put_file(fx, rel, "");
			}
		}
		snprintf(rel, sizeof(rel), "many/%02d", k);
		fds[k] = open(fx_path(fx, rel), O_PATH | O_DIRECTORY | O_CLOEXEC);
		cr_assert_geq(fds[k], 0);
		paths[k] = "d";
	}
}

static void expect_layer(const struct layer_scan *scan, int k)
{
	struct dirent64 *de;
	size_t pos = 0;
	int names = 0;
	char prefix[16];

	if (k == 5 || k == 9) {
		cr_expect_eq(scan->err, k == 5 ? -ENOENT : -ENOTDIR, "layer %d: %d", k, scan->err);
		cr_expect_eq(scan->fd, -1);
		return;
	}
	cr_assert_eq(scan->err, 0, "layer %d: %d", k, scan->err);
	snprintf(prefix, sizeof(prefix), "k%02d-", k);
	while ((de = layer_scan_next(scan, &pos))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		cr_expect_eq(strncmp(de->d_name, prefix, 4), 0, "layer %d lists %s", k, de->d_name);
		names++;
	}
	cr_expect_eq(names, PER_LAYER, "layer %d: %d names", k, names);
}

static void scan_and_check(long long slow_ns, int rounds)
{
	struct fx *fx = fx_new(1);
	struct layer_scan_pool *pool = layer_scan_pool_new(slow_ns);
	struct layer_scan scans[NLAYERS];
	char *paths[NLAYERS];
	int fds[NLAYERS];

	cr_assert_not_null(pool);
	make_layers(fx, fds, paths);
	for (int r = 0; r < rounds; r++) {
		layer_scan_all(pool, scans, fds, paths, NLAYERS);
		for (int k = 0; k < NLAYERS; k++) {
			expect_layer(&scans[k], k);
			layer_scan_release(&scans[k]);
		}
	}
	layer_scan_pool_free(pool);
	for (int k = 0; k < NLAYERS; k++)
		close(fds[k]);
}

Test(layerscan, every_layer_read_whole_one_after_the_other)
{
	scan_and_check(1LL << 60, 1);
}

/* A threshold of 0 makes every layer "slow": the helpers read all but the
 * first, over and over, with the pool kept between directories. */
Test(layerscan, every_layer_read_whole_by_the_helpers)
{
	scan_and_check(0, 50);
}

/* Several threads merging directories at once share the helpers. */
struct concurrent {
	struct layer_scan_pool *pool;
	int *fds;
	char **paths;
};

static void *scan_thread(void *arg)
{
	struct concurrent *c = arg;
	struct layer_scan scans[NLAYERS];

	for (int r = 0; r < 30; r++) {
		layer_scan_all(c->pool, scans, c->fds, c->paths, NLAYERS);
		for (int k = 0; k < NLAYERS; k++) {
			expect_layer(&scans[k], k);
			layer_scan_release(&scans[k]);
		}
	}
	return NULL;
}

Test(layerscan, concurrent_directories_share_the_helpers)
{
	struct fx *fx = fx_new(1);
	struct concurrent c = { layer_scan_pool_new(0), NULL, NULL };
	char *paths[NLAYERS];
	int fds[NLAYERS];
	pthread_t t[4];

	make_layers(fx, fds, paths);
	c.fds = fds;
	c.paths = paths;
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, scan_thread, &c), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	layer_scan_pool_free(c.pool);
	for (int k = 0; k < NLAYERS; k++)
		close(fds[k]);
}

/* A layer's fd stays open only where the merge must stat an entry through
 * it (a whiteout device, here): a directory of many layers of plain files
 * holds no fd of theirs while it merges. */
Test(layerscan, a_layer_keeps_its_fd_only_for_entries_to_stat)
{
	struct fx *fx = fx_new(1);
	struct layer_scan_pool *pool = layer_scan_pool_new(0);
	struct layer_scan scans[2];
	char *paths[2] = { "d", "d" };
	int fds[2];

	cr_assert_not_null(pool);
	put_file(fx, "many/0/d/plain", "");
	put_whiteout(fx, "many/1/d/gone");
	fds[0] = open(fx_path(fx, "many/0"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	fds[1] = open(fx_path(fx, "many/1"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	cr_assert(fds[0] >= 0 && fds[1] >= 0);
	layer_scan_all(pool, scans, fds, paths, 2);
	cr_expect_eq(scans[0].err, 0);
	cr_expect_eq(scans[0].fd, -1, "a layer of plain files keeps fd %d", scans[0].fd);
	cr_expect_eq(scans[1].err, 0);
	cr_expect_geq(scans[1].fd, 0, "a layer with a whiteout device lost its fd");
	for (int k = 0; k < 2; k++) {
		layer_scan_release(&scans[k]);
		close(fds[k]);
	}
	layer_scan_pool_free(pool);
}
