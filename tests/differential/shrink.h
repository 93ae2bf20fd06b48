/* Delta debugging: reduces a failing case to a small one that still fails. */
#ifndef DIFF_SHRINK_H
#define DIFF_SHRINK_H

#include "model.h"
#include "run.h"

struct shrink_stats {
	unsigned runs;          /* test cases executed */
	double seconds;
};

/* Writes into *out a case that still mismatches with signature sig (see
 * run_case) and from which no single operation or stack entry can be dropped
 * without losing that mismatch (as far as max_runs runs and max_seconds
 * allow). Empty lower layers are dropped too. */
void shrink_case(const struct run_cfg *cfg, const struct testcase *tc, const char *sig,
		 unsigned max_runs, double max_seconds, struct testcase *out,
		 struct shrink_stats *stats);

#endif
