/* The census of the kernel's requests (fs/fuse_requests.c): counted by
 * kind, told as "NAME COUNT" lines in opcode order, kinds never seen left
 * out. Pure bookkeeping: no layers, no mount. */
#include <criterion/criterion.h>

#include <linux/fuse.h>
#include <stdlib.h>

#include "fuse_requests.h"

/* The census of R reads WANT. */
static void expect_told(struct fuse_requests *r, const char *want)
{
	char *value = NULL;
	ssize_t len = requests_format(r, &value);

	cr_assert_geq(len, 0);
	cr_assert_eq(strlen(value), (size_t)len, "the value is its length long");
	cr_assert_str_eq(value, want);
	free(value);
}

Test(requests, a_census_with_nothing_counted_is_empty)
{
	struct fuse_requests r = { 0 };

	expect_told(&r, "");
}

Test(requests, kinds_are_named_as_libfuse_logs_them_in_opcode_order)
{
	struct fuse_requests r = { 0 };

	requests_count(&r, FUSE_READDIRPLUS);
	requests_count(&r, FUSE_LOOKUP);
	requests_count(&r, FUSE_LOOKUP);
	requests_count(&r, FUSE_BATCH_FORGET);
	requests_count(&r, FUSE_GETATTR);
	expect_told(&r, "LOOKUP 2\nGETATTR 1\nBATCH_FORGET 1\nREADDIRPLUS 1\n");
}

Test(requests, an_opcode_beyond_the_table_is_not_counted)
{
	struct fuse_requests r = { 0 };

	requests_count(&r, REQUESTS_KINDS);
	requests_count(&r, CUSE_INIT);
	requests_count(&r, FUSE_WRITE);
	expect_told(&r, "WRITE 1\n");
}
