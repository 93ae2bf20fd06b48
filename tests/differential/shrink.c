/* ddmin (Zeller & Hildebrandt) over the operations, then over the stack
 * entries, then over the operations again, since a smaller stack can make
 * more operations unnecessary. Only the "reduce to complement" step is used:
 * a lone chunk of an operation list almost never fails without the
 * operations that set it up, and with granularity one element the
 * complement step is exactly "drop one", which makes the result 1-minimal.
 * "Still fails" means a mismatch of the same kind (run_case's signature:
 * the same operation kind and results, or the same crosswise direction), so
 * that the shrinker does not slide from a rare bug to a commoner one. */
#include "shrink.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

struct shrinker {
	const struct run_cfg *cfg;
	const char *sig;        /* the kind of mismatch to keep */
	double deadline;        /* CLOCK_MONOTONIC seconds; runs stop after it */
	struct testcase cur;    /* the smallest failing case so far */
	unsigned runs, max_runs;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool still_fails(struct shrinker *s, const struct testcase *tc)
{
	struct strbuf report = { 0 }, sig = { 0 };
	bool fails;

	if (s->runs >= s->max_runs || now_s() > s->deadline)
		return false;
	s->runs++;
	fails = run_case(s->cfg, tc, &report, &sig) == RUN_MISMATCH &&
		!strcmp(sb_str(&sig), s->sig);
	sb_free(&report);
	sb_free(&sig);
	return fails;
}

static struct testcase with_ops(const struct testcase *tc, const size_t *keep, size_t n)
{
	struct testcase t = { .seed = tc->seed, .stack.nlower = tc->stack.nlower };

	for (size_t i = 0; i < tc->stack.n; i++)
		stack_push(&t.stack, entry_dup(&tc->stack.e[i]));
	for (size_t i = 0; i < n; i++)
		oplist_push(&t.ops, op_dup(&tc->ops.op[keep[i]]));
	return t;
}

static struct testcase with_entries(const struct testcase *tc, const size_t *keep, size_t n)
{
	struct testcase t = { .seed = tc->seed, .stack.nlower = tc->stack.nlower };

	for (size_t i = 0; i < n; i++)
		stack_push(&t.stack, entry_dup(&tc->stack.e[keep[i]]));
	for (size_t i = 0; i < tc->ops.n; i++)
		oplist_push(&t.ops, op_dup(&tc->ops.op[i]));
	return t;
}

typedef struct testcase (*subset_fn)(const struct testcase *, const size_t *, size_t);

/* ddmin over the items (ops or entries) of s->cur that subset() selects. */
static void ddmin(struct shrinker *s, size_t len, subset_fn subset)
{
	size_t *cur = xmalloc(len * sizeof(*cur)), *trial = xmalloc(len * sizeof(*trial));
	size_t gran = 2;

	for (size_t i = 0; i < len; i++)
		cur[i] = i;
	while (len >= 1 && s->runs < s->max_runs && now_s() <= s->deadline) {
		size_t chunk = (len + gran - 1) / gran;
		bool reduced = false;

		for (size_t start = 0; start < len && !reduced; start += chunk) {
			size_t n = 0;
			struct testcase t;

			for (size_t i = 0; i < len; i++)
				if (i < start || i >= start + chunk)
					trial[n++] = cur[i];
			t = subset(&s->cur, trial, n);
			if (still_fails(s, &t)) {
				memcpy(cur, trial, n * sizeof(*cur));
				len = n;
				gran = gran > 2 ? gran - 1 : 2;
				reduced = true;
			}
			testcase_free(&t);
		}
		if (reduced)
			continue;
		if (gran >= len)
			break;
		gran = gran * 2 < len ? gran * 2 : len;
	}
	/* Make the kept subset the new current case. */
	struct testcase t = subset(&s->cur, cur, len);

	testcase_free(&s->cur);
	s->cur = t;
	free(cur);
	free(trial);
}

/* Drops lower layers no entry uses, renumbering the rest (one stays: the
 * mount needs a lower layer). */
static void drop_empty_layers(struct shrinker *s)
{
	const struct stack *old = &s->cur.stack;
	struct testcase t = { .seed = s->cur.seed };
	int map[MAX_LOWER + 1], used_lower = 0;

	for (int l = 0; l < old->nlower; l++) {
		bool used = false;

		for (size_t i = 0; i < old->n && !used; i++)
			used = old->e[i].layer == l;
		map[l] = used ? used_lower++ : -1;
	}
	t.stack.nlower = used_lower ? used_lower : 1;
	if (t.stack.nlower == old->nlower)
		return;
	map[old->nlower] = t.stack.nlower;      /* the upper layer */
	for (size_t i = 0; i < old->n; i++) {
		struct entry e = entry_dup(&old->e[i]);

		e.layer = map[e.layer];
		stack_push(&t.stack, e);
	}
	for (size_t i = 0; i < s->cur.ops.n; i++)
		oplist_push(&t.ops, op_dup(&s->cur.ops.op[i]));
	if (still_fails(s, &t)) {
		testcase_free(&s->cur);
		s->cur = t;
	} else {
		testcase_free(&t);
	}
}

void shrink_case(const struct run_cfg *cfg, const struct testcase *tc, const char *sig,
		 unsigned max_runs, double max_seconds, struct testcase *out,
		 struct shrink_stats *stats)
{
	struct shrinker s = { .cfg = cfg, .sig = sig, .max_runs = max_runs };
	double start = now_s();

	s.deadline = start + max_seconds;

	s.cur = testcase_dup(tc);
	ddmin(&s, s.cur.ops.n, with_ops);
	ddmin(&s, s.cur.stack.n, with_entries);
	drop_empty_layers(&s);
	ddmin(&s, s.cur.ops.n, with_ops);
	*out = s.cur;
	stats->runs = s.runs;
	stats->seconds = now_s() - start;
}
