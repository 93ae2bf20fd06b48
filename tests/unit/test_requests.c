/* The census of the kernel's requests (fs/fuse_requests.c): counted by
 * kind, told as "NAME COUNT" lines in opcode order, kinds never seen left
 * out. Pure bookkeeping: no layers, no mount. */
#include <criterion/criterion.h>

#include <linux/fuse.h>
#include <stdlib.h>

#include "fuse_requests.h"

/* The census of R as a string (freed by the caller). */
static char *told(struct fuse_requests *r)
{
	char *value = NULL;
	ssize_t len = requests_format(r, &value);

	cr_assert_geq(len, 0);
	cr_assert_eq(strlen(value), (size_t)len, "the value is its length long");
	return value;
}

Test(requests, a_census_with_nothing_counted_is_empty)
{
	struct fuse_requests r = { 0 };
	char *text = told(&r);

	cr_assert_str_eq(text, "");
	free(text);
}

Test(requests, kinds_are_named_as_libfuse_logs_them_in_opcode_order)
{
	struct fuse_requests r = { 0 };
	char *text;

	requests_count(&r, FUSE_READDIRPLUS);
	requests_count(&r, FUSE_LOOKUP);
	requests_count(&r, FUSE_LOOKUP);
	requests_count(&r, FUSE_BATCH_FORGET);
	requests_count(&r, FUSE_GETATTR);
	text = told(&r);
	cr_assert_str_eq(text, "LOOKUP 2\nGETATTR 1\nBATCH_FORGET 1\nREADDIRPLUS 1\n");
	free(text);
}

Test(requests, an_opcode_beyond_the_table_is_not_counted)
{
	struct fuse_requests r = { 0 };
	char *text;

	requests_count(&r, REQUESTS_KINDS);
	requests_count(&r, CUSE_INIT);
	requests_count(&r, FUSE_WRITE);
	text = told(&r);
	cr_assert_str_eq(text, "WRITE 1\n");
	free(text);
}
