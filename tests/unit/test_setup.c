/* Setting up a union (DESIGN section 5): bad layers are refused with an
 * error and a message naming the path. */
#include "fixture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

TestSuite(setup, .fini = fx_cleanup);

/* ufs_new must fail, with a message that names PATH. */
static void check_refused(struct fx *fx, const char *path)
{
	struct ufs *u = NULL;
	char *why = NULL;
	int err = ufs_new(&fx->cfg, &u, &why);

	cr_assert_lt(err, 0, "ufs_new accepted it");
	cr_assert_not_null(why, "no message");
	cr_assert_not_null(strstr(why, path), "message \"%s\" does not name %s", why, path);
	free(why);
}

Test(setup, good_layers_are_accepted)
{
	struct fx *fx = fx_new(2);

	fx_mount(fx);
	cr_assert_not(ufs_read_only(fx->u));
}

Test(setup, missing_lower_is_refused_naming_it)
{
	struct fx *fx = fx_new(2);

	fx->lowers[1] = fx_path(fx, "no-such-layer");
	check_refused(fx, fx->lowers[1]);
}

Test(setup, lower_that_is_a_file_is_refused_naming_it)
{
	struct fx *fx = fx_new(2);

	put_file(fx, "file-layer", "");
	fx->lowers[0] = fx_path(fx, "file-layer");
	check_refused(fx, fx->lowers[0]);
}

Test(setup, missing_upper_is_refused_naming_it)
{
	struct fx *fx = fx_new(1);

	fx->cfg.upper = fx_path(fx, "no-upper");
	check_refused(fx, fx->cfg.upper);
}

Test(setup, upper_inside_a_lower_is_refused_naming_it)
{
	struct fx *fx = fx_new(1);

	put_dir(fx, "l0/rw");
	fx->cfg.upper = fx_path(fx, "l0/rw");
	check_refused(fx, fx->cfg.upper);
}

Test(setup, lower_inside_the_upper_is_refused)
{
	struct fx *fx = fx_new(2);

	put_dir(fx, "upper/inner");
	fx->lowers[1] = fx_path(fx, "upper/inner");
	check_refused(fx, fx->lowers[1]);
}

Test(setup, missing_work_is_refused_naming_it)
{
	struct fx *fx = fx_new(1);

	fx->cfg.work = fx_path(fx, "no-work");
	check_refused(fx, fx->cfg.work);
}

Test(setup, work_inside_the_upper_is_refused)
{
	struct fx *fx = fx_new(1);

	put_dir(fx, "upper/w");
	fx->cfg.work = fx_path(fx, "upper/w");
	check_refused(fx, fx->cfg.work);
}

Test(setup, no_lower_layer_is_refused)
{
	struct fx *fx = fx_new(1);
	struct ufs *u = NULL;
	char *why = NULL;

	fx->cfg.nlowers = 0;
	cr_assert_lt(ufs_new(&fx->cfg, &u, &why), 0);
	cr_assert_not_null(why);
	free(why);
}
