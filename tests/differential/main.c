/* unionfuse-diff: differential tester of unionfuse against kernel overlayfs.
 * Generates layer stacks and operation sequences from seeds, runs them on
 * both, compares after every operation, and shrinks what fails to a small
 * reproducer. This file holds the command line, the worker processes and
 * the final summary; everything else is one concern per file. */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gen_ops.h"
#include "gen_stack.h"
#include "mount.h"
#include "policy.h"
#include "repro.h"
#include "run.h"
#include "shrink.h"
#include "util.h"

#ifndef UNIONFUSE_DEFAULT_BIN
#define UNIONFUSE_DEFAULT_BIN "unionfuse"
#endif

#define MAX_JOBS 64

struct config {
	const char *bin;
	char *bin_name;
	uint64_t first_seed;
	unsigned seeds, ops, jobs, max_shrinks, shrink_runs, shrink_seconds, timeout;
	unsigned marks;
	bool selftest, keep, verbose, metacopy, forget, inodes;
	const char *out_dir;
	const char *replay;
	bool replay_shrink;
	char *tmp;
	char self[4096];        /* this program, for the replay hint */
};

/* Shared between the parent and its workers (MAP_SHARED). */
struct shared {
	unsigned next;                  /* next sequence index to claim */
	unsigned passed, failed, shrinks_left;
	struct {
		volatile long beat;     /* see run_cfg.beat */
		volatile uint64_t seed; /* the seed being run */
		volatile int busy;
	} worker[MAX_JOBS];
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

static unsigned env_unsigned(const char *name, unsigned dflt)
{
	const char *v = getenv(name);

	return v && *v ? (unsigned)strtoul(v, NULL, 10) : dflt;
}

static unsigned parse_marks(const char *v)
{
	unsigned marks = 0;
	char *copy = xstrdup(v), *save = NULL;

	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, "all"))
			marks |= MARKS_ALL;
		else if (!strcmp(w, "native"))
			marks |= (1u << MK_CHR);
		else if (!strcmp(w, "chr"))
			marks |= 1u << MK_CHR;
		else if (!strcmp(w, "xattr"))
			marks |= 1u << MK_XATTR;
		else if (!strcmp(w, "aufs"))
			marks |= 1u << MK_AUFS;
		else
			fprintf(stderr, "unionfuse-diff: UNIONFUSE_DIFF_MARKERS: unknown '%s'\n", w);
	}
	free(copy);
	return marks ? marks : 1u << MK_CHR;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: unionfuse-diff [--replay FILE [--shrink] [-v]] [--print SEED] [--list-deliberate]\n"
		"  --replay FILE  run one case (as printed on a mismatch); -v traces each operation\n"
		"  --shrink       with --replay: shrink it if it fails\n"
		"  --print SEED   print the case a seed generates\n"
		"Differential test of a union filesystem against kernel overlayfs (needs root).\n"
		"Environment:\n"
		"  UNIONFUSE_BIN=PATH          implementation under test (default %s)\n"
		"  UNIONFUSE_DIFF_SEED=S       first seed (default 1)\n"
		"  UNIONFUSE_DIFF_SEEDS=N      number of sequences (default 300)\n"
		"  UNIONFUSE_DIFF_OPS=N        operations per sequence (default 40)\n"
		"  UNIONFUSE_DIFF_JOBS=N       parallel workers (default: online CPUs)\n"
		"  UNIONFUSE_DIFF_MARKERS=L    marker formats in lower layers of the tested copy:\n"
		"                              comma list of chr,xattr,aufs, or all (default),\n"
		"                              or native (char 0/0 + opaque=y; fuse-overlayfs)\n"
		"  UNIONFUSE_DIFF_SELFTEST=1   kernel overlayfs on both sides (harness check)\n"
		"  UNIONFUSE_DIFF_METACOPY=1   metadata-only copy-up on both sides (metacopy=on)\n"
		"  UNIONFUSE_DIFF_FORGET=1     after each step the kernel drops its dentries and\n"
		"                              inodes, and the FUSE side (-o evict_after=1) frees\n"
		"                              what it forgot: later steps see rebuilt listings\n"
		"  UNIONFUSE_DIFF_INODES=0     skip the check that the tested side, mounted again,\n"
		"                              shows its entries with the same inode numbers\n"
		"  UNIONFUSE_DIFF_SHRINK=N     shrink at most N failing sequences (default 3)\n"
		"  UNIONFUSE_DIFF_SHRINK_RUNS=N  runs allowed per shrink (default 500)\n"
		"  UNIONFUSE_DIFF_SHRINK_SECONDS=S  time allowed per shrink (default 30)\n"
		"  UNIONFUSE_DIFF_TIMEOUT=S    watchdog: a step taking longer fails (default 60)\n"
		"  UNIONFUSE_DIFF_OUT=DIR      where reproducers are written (default .)\n"
		"  UNIONFUSE_DIFF_KEEP=1       keep the scratch directory\n",
		UNIONFUSE_DEFAULT_BIN);
}

static int parse_config(int argc, char **argv, struct config *cfg)
{
	const char *slash;

	*cfg = (struct config){ 0 };
	cfg->bin = env_or("UNIONFUSE_BIN", UNIONFUSE_DEFAULT_BIN);
	cfg->first_seed = strtoull(env_or("UNIONFUSE_DIFF_SEED", "1"), NULL, 10);
	cfg->seeds = env_unsigned("UNIONFUSE_DIFF_SEEDS", 300);
	cfg->ops = env_unsigned("UNIONFUSE_DIFF_OPS", 40);
	cfg->jobs = env_unsigned("UNIONFUSE_DIFF_JOBS", (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
	cfg->max_shrinks = env_unsigned("UNIONFUSE_DIFF_SHRINK", 3);
	cfg->shrink_runs = env_unsigned("UNIONFUSE_DIFF_SHRINK_RUNS", 500);
	cfg->shrink_seconds = env_unsigned("UNIONFUSE_DIFF_SHRINK_SECONDS", 30);
	cfg->timeout = env_unsigned("UNIONFUSE_DIFF_TIMEOUT", 60);
	cfg->selftest = env_unsigned("UNIONFUSE_DIFF_SELFTEST", 0) != 0;
	cfg->metacopy = env_unsigned("UNIONFUSE_DIFF_METACOPY", 0) != 0;
	cfg->forget = env_unsigned("UNIONFUSE_DIFF_FORGET", 0) != 0;
	cfg->inodes = env_unsigned("UNIONFUSE_DIFF_INODES", 1) != 0;
	cfg->keep = env_unsigned("UNIONFUSE_DIFF_KEEP", 0) != 0;
	cfg->out_dir = env_or("UNIONFUSE_DIFF_OUT", ".");
	cfg->marks = parse_marks(env_or("UNIONFUSE_DIFF_MARKERS", "all"));
	if (cfg->jobs < 1)
		cfg->jobs = 1;
	if (cfg->jobs > MAX_JOBS)
		cfg->jobs = MAX_JOBS;
	if (!realpath("/proc/self/exe", cfg->self))
		snprintf(cfg->self, sizeof(cfg->self), "%s", argv[0]);
	slash = strrchr(cfg->bin, '/');
	cfg->bin_name = xstrdup(cfg->selftest ? "kernel#2" : slash ? slash + 1 : cfg->bin);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--replay") && i + 1 < argc)
			cfg->replay = argv[++i];
		else if (!strcmp(argv[i], "--shrink"))
			cfg->replay_shrink = true;
		else if (!strcmp(argv[i], "-v"))
			cfg->verbose = true;
		else
			return -1;
	}
	return 0;
}

static int print_case(uint64_t seed, const struct config *cfg)
{
	struct testcase tc = { .seed = seed };
	struct strbuf sb = { 0 };

	gen_stack(seed, cfg->marks, &tc.stack);
	gen_ops(seed, &tc.stack, cfg->ops, &tc.ops);
	repro_format(&tc, &sb);
	fputs(sb_str(&sb), stdout);
	sb_free(&sb);
	testcase_free(&tc);
	return 0;
}

/* Mounts made from here on are private to this process tree: if the tester
 * dies, the host's mount table holds none of them. */
static void private_mounts(void)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fprintf(stderr, "unionfuse-diff: private mount namespace: %s (continuing)\n",
			strerror(errno));
}

static char *save_reproducer(const struct config *cfg, const struct testcase *tc,
			     const char *text)
{
	char *path = xasprintf("%s/differential-seed-%" PRIu64 ".case", cfg->out_dir, tc->seed);
	FILE *f = fopen(path, "we");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "unionfuse-diff: %s: %s\n", path, strerror(errno));
		free(path);
		return NULL;
	}
	return path;
}

static void indent(struct strbuf *out, const char *text, const char *prefix)
{
	for (const char *p = text; *p; ) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		sb_add(out, prefix);
		sb_addn(out, p, n);
		sb_add(out, "\n");
		p += n + (nl != NULL);
	}
}

/* Shrinks a failing case and appends the reproducer to out. */
static void shrink_and_report(const struct config *cfg, const struct run_cfg *rc,
			      const struct testcase *tc, const char *sig, struct strbuf *out)
{
	struct testcase small;
	struct shrink_stats st;
	struct strbuf text = { 0 }, why = { 0 };
	char *path;

	shrink_case(rc, tc, sig, cfg->shrink_runs, cfg->shrink_seconds, &small, &st);
	repro_format(&small, &text);
	path = save_reproducer(cfg, &small, sb_str(&text));
	run_case(rc, &small, &why, NULL);
	sb_addf(out, "  shrunk to %zu ops and %zu stack entries in %u runs (%.1f s)%s%s\n",
		small.ops.n, small.stack.n, st.runs, st.seconds,
		path ? "; saved to " : "", path ? path : "");
	sb_addf(out, "  replay: UNIONFUSE_BIN=%s %s --replay %s\n", cfg->bin, cfg->self,
		path ? path : "FILE");
	sb_add(out, "  ---8<--- reproducer\n");
	indent(out, sb_str(&text), "  ");
	sb_add(out, "  --->8---\n  which fails with:\n");
	sb_add(out, sb_str(&why));
	free(path);
	sb_free(&text);
	sb_free(&why);
	testcase_free(&small);
}

static bool claim_shrink(struct shared *sh)
{
	unsigned left = __atomic_load_n(&sh->shrinks_left, __ATOMIC_SEQ_CST);

	while (left > 0)
		if (__atomic_compare_exchange_n(&sh->shrinks_left, &left, left - 1, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return true;
	return false;
}

static void run_seed(const struct config *cfg, const struct run_cfg *rc, struct shared *sh,
		     uint64_t seed)
{
	struct testcase tc = { .seed = seed };
	struct strbuf report = { 0 }, out = { 0 }, sig = { 0 };
	enum run_status st;

	gen_stack(seed, cfg->marks, &tc.stack);
	gen_ops(seed, &tc.stack, cfg->ops, &tc.ops);
	st = run_case(rc, &tc, &report, &sig);
	if (st == RUN_PASS) {
		__atomic_add_fetch(&sh->passed, 1, __ATOMIC_SEQ_CST);
		if (cfg->verbose)
			printf("seed %" PRIu64 ": ok\n", seed);
	} else {
		__atomic_add_fetch(&sh->failed, 1, __ATOMIC_SEQ_CST);
		sb_addf(&out, "seed %" PRIu64 ": %s (kernel vs %s) [%s]\n%s", seed,
			st == RUN_MISMATCH ? "MISMATCH" : "SETUP ERROR", rc->fuse_name,
			sb_str(&sig), sb_str(&report));
		if (st == RUN_MISMATCH && claim_shrink(sh))
			shrink_and_report(cfg, rc, &tc, sb_str(&sig), &out);
		write_all(1, sb_str(&out), out.len);
	}
	fflush(stdout);
	sb_free(&report);
	sb_free(&out);
	sb_free(&sig);
	testcase_free(&tc);
}

static long mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec;
}

static void worker(const struct config *cfg, struct shared *sh, unsigned id)
{
	char *dir = xasprintf("%s/w%u", cfg->tmp, id);
	struct run_cfg rc = {
		.fuse_bin = cfg->bin, .fuse_name = cfg->bin_name, .metacopy = cfg->metacopy,
		.forget = cfg->forget,
		.inodes = cfg->inodes,
		.selftest = cfg->selftest, .dir = dir, .beat = &sh->worker[id].beat,
	};
	unsigned i;

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (mkdir_p(dir, 0755) < 0) {
		fprintf(stderr, "unionfuse-diff: %s: cannot create\n", dir);
		_exit(2);
	}
	while ((i = __atomic_fetch_add(&sh->next, 1, __ATOMIC_SEQ_CST)) < cfg->seeds) {
		sh->worker[id].seed = cfg->first_seed + i;
		sh->worker[id].beat = mono_now();       /* before busy: see watchdog */
		sh->worker[id].busy = 1;
		run_seed(cfg, &rc, sh, cfg->first_seed + i);
		sh->worker[id].busy = 0;
	}
	free(dir);
	_exit(0);
}

/* A worker whose step exceeds the timeout is stuck in a hung daemon: abort
 * its FUSE connections, kill it, and count its seed as failed. */
static void watchdog(const struct config *cfg, struct shared *sh, pid_t *pids)
{
	for (unsigned id = 0; id < cfg->jobs; id++) {
		char *dir;

		if (!pids[id] || !sh->worker[id].busy ||
		    mono_now() - sh->worker[id].beat <= (long)cfg->timeout)
			continue;
		printf("seed %" PRIu64 ": TIMEOUT: no progress for %u s (hung %s?)\n",
		       sh->worker[id].seed, cfg->timeout, cfg->bin_name);
		fflush(stdout);
		kill(pids[id], SIGKILL);
		dir = xasprintf("%s/w%u", cfg->tmp, id);
		unmount_all_under(dir);
		free(dir);
		__atomic_add_fetch(&sh->failed, 1, __ATOMIC_SEQ_CST);
		sh->worker[id].busy = 0;
	}
}

static pid_t start_worker(const struct config *cfg, struct shared *sh, unsigned id)
{
	pid_t pid = fork();

	if (pid == 0)
		worker(cfg, sh, id);
	if (pid < 0)
		perror("unionfuse-diff: fork");
	return pid < 0 ? 0 : pid;
}

static void wait_workers(const struct config *cfg, struct shared *sh, pid_t *pids)
{
	unsigned alive = 0;

	for (unsigned id = 0; id < cfg->jobs; id++)
		alive += (pids[id] = start_worker(cfg, sh, id)) != 0;

	while (alive) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (stop_signal) {
			for (unsigned id = 0; id < cfg->jobs; id++)
				if (pids[id])
					kill(pids[id], SIGKILL);
		}
		if (pid <= 0) {
			if (pid < 0 && errno == ECHILD)
				break;
			watchdog(cfg, sh, pids);
			usleep(50000);
			continue;
		}
		for (unsigned id = 0; id < cfg->jobs; id++) {
			if (pids[id] != pid)
				continue;
			pids[id] = 0;
			alive--;
			if ((!WIFEXITED(status) || WEXITSTATUS(status)) && sh->worker[id].busy &&
			    !stop_signal) {
				printf("seed %" PRIu64 ": worker died (%s %d)\n", sh->worker[id].seed,
				       WIFSIGNALED(status) ? "signal" : "status",
				       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
				__atomic_add_fetch(&sh->failed, 1, __ATOMIC_SEQ_CST);
			}
			/* A worker lost to a hung daemon is replaced. */
			if (!stop_signal && sh->next < cfg->seeds) {
				sh->worker[id].busy = 0;
				alive += (pids[id] = start_worker(cfg, sh, id)) != 0;
			}
		}
	}
}

static void cleanup(const struct config *cfg)
{
	unmount_all_under(cfg->tmp);
	if (cfg->keep)
		printf("scratch directory kept: %s\n", cfg->tmp);
	else
		rmtree(cfg->tmp);
}

static int run_seeds(struct config *cfg)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pids[MAX_JOBS] = { 0 };
	struct timespec t0, t1;
	unsigned passed, failed;

	if (sh == MAP_FAILED) {
		perror("unionfuse-diff: mmap");
		return 2;
	}
	sh->shrinks_left = cfg->max_shrinks;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fflush(stdout);
	wait_workers(cfg, sh, pids);
	cleanup(cfg);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	passed = sh->passed;
	failed = sh->failed;
	if (stop_signal)
		printf("interrupted by signal %d\n", (int)stop_signal);
	printf("%u sequences x %u ops, seeds %" PRIu64 "..%" PRIu64 ", kernel vs %s, %u jobs: %.1f s\n",
	       passed + failed, cfg->ops, cfg->first_seed, cfg->first_seed + cfg->seeds - 1,
	       cfg->bin_name, cfg->jobs,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	printf("%u passed, %u failed\n", passed, failed);
	return failed || stop_signal || passed + failed < cfg->seeds ? 1 : 0;
}

static int replay(const struct config *cfg, struct testcase *tc)
{
	struct strbuf report = { 0 }, out = { 0 }, sig = { 0 };
	char *dir = xasprintf("%s/replay", cfg->tmp);
	struct run_cfg rc = {
		.fuse_bin = cfg->bin, .fuse_name = cfg->bin_name, .metacopy = cfg->metacopy,
		.forget = cfg->forget,
		.inodes = cfg->inodes,
		.selftest = cfg->selftest, .dir = dir, .trace = cfg->verbose,
	};
	enum run_status st;

	mkdir_p(dir, 0755);
	st = run_case(&rc, tc, &report, &sig);
	printf("%s: %s (kernel vs %s)\n%s", cfg->replay,
	       st == RUN_PASS ? "ok" : st == RUN_MISMATCH ? "MISMATCH" : "SETUP ERROR",
	       cfg->bin_name, sb_str(&report));
	if (st == RUN_MISMATCH && cfg->replay_shrink) {
		shrink_and_report(cfg, &rc, tc, sb_str(&sig), &out);
		fputs(sb_str(&out), stdout);
	}
	cleanup(cfg);
	printf("%d passed, %d failed\n", st == RUN_PASS, st != RUN_PASS);
	sb_free(&sig);
	sb_free(&report);
	sb_free(&out);
	free(dir);
	return st == RUN_PASS ? 0 : 1;
}

/* Checks that the run can happen at all; returns an exit status or -1. */
static int preflight(const struct config *cfg)
{
	if (geteuid() != 0) {
		printf("skipped: kernel overlayfs needs root\n");
		return 77;
	}
	if (!cfg->selftest && access(cfg->bin, X_OK) < 0) {
		fprintf(stderr, "unionfuse-diff: %s: %s\n", cfg->bin, strerror(errno));
		return 2;
	}
	return -1;
}

static int run(struct config *cfg)
{
	struct sigaction sa = { .sa_handler = on_signal };
	char tmpl[] = "/tmp/unionfuse-diff.XXXXXX";
	struct testcase tc = { 0 };
	int ret = preflight(cfg);

	if (ret >= 0)
		return ret;
	if (cfg->replay && repro_read_file(cfg->replay, &tc) < 0)
		return 2;
	umask(0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	private_mounts();
	cfg->tmp = mkdtemp(tmpl);
	if (!cfg->tmp) {
		perror("unionfuse-diff: mkdtemp");
		testcase_free(&tc);
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Output piped into head(1) must not kill us before the cleanup. */
	signal(SIGPIPE, SIG_IGN);
	if (cfg->replay) {
		ret = replay(cfg, &tc);
	} else {
		policy_print(stdout);
		ret = run_seeds(cfg);
	}
	testcase_free(&tc);
	return ret;
}

int main(int argc, char **argv)
{
	struct config cfg;
	int ret;

	if (argc == 2 && !strcmp(argv[1], "--list-deliberate")) {
		policy_print(stdout);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (parse_config(argc == 3 && !strcmp(argv[1], "--print") ? 1 : argc, argv, &cfg) < 0) {
		usage(stderr);
		free(cfg.bin_name);
		return 2;
	}
	if (argc == 3 && !strcmp(argv[1], "--print"))
		ret = print_case(strtoull(argv[2], NULL, 0), &cfg);
	else
		ret = run(&cfg);
	free(cfg.bin_name);
	return ret;
}
