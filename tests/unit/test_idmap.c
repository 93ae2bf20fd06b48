/* Owners stored and shown (fs/idmap.h): the mapping ranges, squashing and
 * the user-namespace rule, with fuse-overlayfs' meaning. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "idmap.h"

static struct idmap parsed(const char *spec)
{
	struct idmap m;

	idmap_init(&m);
	cr_assert_eq(idmap_parse(&m, spec), 0, "%s", spec);
	return m;
}

Test(idmap, zeroed_map_shows_ids_as_stored)
{
	struct idmap m = { 0 };

	cr_assert_eq(idmap_shown(&m, 0), 0);
	cr_assert_eq(idmap_shown(&m, 1234), 1234);
	cr_assert_eq(idmap_stored(&m, 99), 99);
	cr_assert_not(idmap_active(&m));
}

Test(idmap, ranges_map_stored_to_shown_and_back)
{
	struct idmap m = parsed("0:1000:1:1:100000:65536");

	cr_assert_eq(m.nranges, 2);
	cr_assert_eq(idmap_shown(&m, 0), 1000);
	cr_assert_eq(idmap_shown(&m, 1), 100000);
	cr_assert_eq(idmap_shown(&m, 65536), 165535);
	cr_assert_eq(idmap_stored(&m, 1000), 0);
	cr_assert_eq(idmap_stored(&m, 100041), 42);
	idmap_free(&m);
}

Test(idmap, ids_outside_every_range_are_the_overflow_id)
{
	struct idmap m = parsed(":0:1000:10");

	cr_assert_eq(idmap_shown(&m, 10), IDMAP_OVERFLOW_DEFAULT);
	cr_assert_eq(idmap_stored(&m, 999), IDMAP_OVERFLOW_DEFAULT);
	cr_assert_eq(idmap_stored(&m, 1009), 9);
	idmap_free(&m);
}

Test(idmap, malformed_specs_are_refused)
{
	const char *bad[] = { "", ":", "0:1", "0:1:", "0:1:0", "a:1:2", "0:1:2:", "0:1:2:3",
			      "0:1:2x", "-1:0:1", "0:99999999999:1" };
	struct idmap m;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		idmap_init(&m);
		cr_expect_eq(idmap_parse(&m, bad[i]), -EINVAL, "'%s' accepted", bad[i]);
		idmap_free(&m);
	}
}

Test(idmap, squash_shows_one_id_and_stores_what_is_given)
{
	struct idmap m;

	idmap_init(&m);
	m.squash = true;
	m.squash_to = 33;
	cr_assert_eq(idmap_shown(&m, 0), 33);
	cr_assert_eq(idmap_shown(&m, 5000), 33);
	cr_assert_eq(idmap_stored(&m, 7), 7);
	cr_assert_eq(idmap_copy_owner(&m, 5000), 5000);
}

static char *write_temp(const char *content)
{
	char *path = strdup("/tmp/uf-idmap-XXXXXX");
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	cr_assert_not_null(f);
	fputs(content, f);
	fclose(f);
	return path;
}

/* What idmap_detect_namespace makes of MAP; *ALL gets its answer to
 * "does this namespace map every id" (whether the daemon may chown). */
static struct idmap detected_all(const char *map, const char *overflow, bool *all)
{
	char *map_file = write_temp(map), *overflow_file = write_temp(overflow);
	struct idmap m;

	idmap_init(&m);
	*all = idmap_detect_namespace(&m, map_file, overflow_file);
	unlink(map_file);
	unlink(overflow_file);
	free(map_file);
	free(overflow_file);
	return m;
}

static struct idmap detected(const char *map, const char *overflow)
{
	bool all;

	return detected_all(map, overflow, &all);
}

Test(idmap, only_the_initial_namespace_maps_every_id)
{
	struct idmap m;
	bool all;

	detected_all("0 0 4294967295\n", "65534\n", &all);
	cr_assert(all);
	detected_all("0 1001 1\n", "65534\n", &all);
	cr_assert_not(all);
	detected_all("0 1000 1\n1 100000 65536\n", "65534\n", &all);
	cr_assert_not(all);
	idmap_init(&m);
	cr_assert(idmap_detect_namespace(&m, "/nonexistent/uid_map", "/nonexistent/overflowuid"),
		  "no /proc/self/uid_map: no namespaces, every id");
	cr_assert_not(m.unmapped_as_root);
}

Test(idmap, namespace_of_one_id_shows_unnamed_owners_as_its_root)
{
	struct idmap m = detected("         0       1001          1\n", "65534\n");

	cr_assert(m.unmapped_as_root);
	cr_assert_eq(idmap_shown(&m, 65534), 0);
	cr_assert_eq(idmap_shown(&m, 0), 0);
	cr_assert_eq(idmap_copy_owner(&m, 65534), 0);
	cr_assert_eq(idmap_copy_owner(&m, 12), 12);
}

Test(idmap, initial_namespace_and_full_ranges_change_nothing)
{
	struct idmap all = detected("0 0 4294967295\n", "65534\n");
	struct idmap wide = detected("0 1000 1\n1 100000 65536\n", "65534\n");

	cr_assert_not(all.unmapped_as_root);
	cr_assert_not(wide.unmapped_as_root, "65534 is a real id of that namespace");
	cr_assert_eq(idmap_shown(&wide, 65534), 65534);
}

Test(idmap, copy_has_its_own_ranges)
{
	struct idmap a = parsed("0:10:5"), b;

	cr_assert_eq(idmap_copy(&b, &a), 0);
	cr_assert_neq(a.ranges, b.ranges);
	idmap_free(&a);
	cr_assert_eq(idmap_shown(&b, 2), 12);
	idmap_free(&b);
}
