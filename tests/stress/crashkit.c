/* unionfuse-crashkit: the tools of the crash tests. One kills the daemon
 * at the moment a condition on the layers turns true, rather than after a
 * guessed delay, so a test crashes the daemon in the middle of the
 * operation it means to; the other two write records with fsync between
 * bursts and check, after the crash, that every synced record survived.
 *
 *   unionfuse-crashkit killwhen PID TIMEOUT-S COND ARG... -- CMD ARG...
 *       runs CMD (the operation to interrupt) and kills PID (the daemon)
 *       with SIGKILL the moment COND turns true; gives up when CMD ends
 *       first or after TIMEOUT-S seconds. Then waits for CMD.
 *       COND: grows DIR BYTES   a regular file directly in DIR reaches BYTES
 *             entries DIR N     DIR exists and holds at least N entries
 *             gone PATH         PATH does not exist (any type)
 *             notdir PATH       PATH is anything but a directory, or absent
 *             lines FILE N      FILE holds at least N lines
 *   unionfuse-crashkit syncprep FILE INDEX SEED
 *       writes round 0 of the INDEXth file of a syncwriter (for a file put
 *       in a lower layer before the mount)
 *   unionfuse-crashkit syncwriter LOG SEED FILE...
 *       rounds of writes to every FILE (appends and overwrites of 4 KiB
 *       records), then fsync of each, then "ROUND" appended to LOG; until
 *       a write fails (the daemon is gone). A FILE that already holds
 *       round 0 (syncprep) goes on from round 1: opening it for writing
 *       copies it up with its data.
 *   unionfuse-crashkit syncverify LOG SEED FILE...
 *       every record synced by the last ROUND in LOG is in every FILE.
 *
 * Exit: 0 fine (killwhen: the daemon was killed mid-way), 1 a record lost or
 * wrong (syncverify) or the operation ended before the condition came true
 * (killwhen), 2 trouble. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RECORD 4096
#define BURST 8              /* records per file per round */
#define MAX_SLOTS 65536      /* records per file at most (256 MiB) */
#define SLACK_ROUNDS 2       /* rounds that may have run unlogged */

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "unionfuse-crashkit: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ killwhen */

static long count_entries(const char *dir, off_t min_size, off_t *biggest)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	long n = 0;

	*biggest = -1;
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		if (min_size >= 0 && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_size > *biggest)
			*biggest = st.st_size;
	}
	closedir(d);
	return n;
}

static long count_lines(const char *file)
{
	FILE *f = fopen(file, "re");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Is COND true now? *SEEN says what was found, for the report. */
static bool condition_holds(const char *cond, char **arg, char *seen, size_t size)
{
	struct stat st;
	off_t biggest;
	long n;

	if (strcmp(cond, "grows") == 0) {
		n = count_entries(arg[0], 0, &biggest);
		snprintf(seen, size, "largest file in %s: %jd bytes", arg[0], (intmax_t)biggest);
		return biggest >= atoll(arg[1]);
	}
	if (strcmp(cond, "entries") == 0) {
		n = count_entries(arg[0], -1, &biggest);
		snprintf(seen, size, "%s holds %ld entries", arg[0], n);
		return n >= atol(arg[1]);
	}
	if (strcmp(cond, "gone") == 0) {
		snprintf(seen, size, "%s is gone", arg[0]);
		return lstat(arg[0], &st) < 0 && errno == ENOENT;
	}
	if (strcmp(cond, "notdir") == 0) {
		bool absent = lstat(arg[0], &st) < 0;

		snprintf(seen, size, "%s is %s", arg[0], absent ? "absent" : "not a directory");
		return absent || !S_ISDIR(st.st_mode);
	}
	if (strcmp(cond, "lines") == 0) {
		n = count_lines(arg[0]);
		snprintf(seen, size, "%s holds %ld lines", arg[0], n);
		return n >= atol(arg[1]);
	}
	die("unknown condition %s", cond);
	return false;
}

static int cond_args(const char *cond)
{
	return strcmp(cond, "gone") == 0 || strcmp(cond, "notdir") == 0 ? 1 : 2;
}

static pid_t start_command(char **cmd)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		execvp(cmd[0], cmd);
		fprintf(stderr, "unionfuse-crashkit: %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Has the operation ended? Reaps it if so. */
static bool command_done(pid_t pid)
{
	int status;

	return waitpid(pid, &status, WNOHANG) == pid;
}

/* The daemon's death closes /dev/fuse, which fails the operation's pending
 * request: it ends soon. A few seconds, then it is killed too. */
static void reap_command(pid_t pid)
{
	double start = now_s();

	while (!command_done(pid)) {
		if (now_s() - start > 10) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return;
		}
		usleep(1000);
	}
}

static int cmd_killwhen(int argc, char **argv)
{
	double timeout, start;
	char seen[4200];
	pid_t pid, op;
	int nargs;

	if (argc < 4)
		die("usage: killwhen PID TIMEOUT-S COND ARG... -- CMD ARG...");
	nargs = cond_args(argv[2]);
	if (argc < 3 + nargs + 2 || strcmp(argv[3 + nargs], "--") != 0)
		die("usage: killwhen PID TIMEOUT-S COND ARG... -- CMD ARG...");
	pid = (pid_t)atol(argv[0]);
	timeout = atof(argv[1]);
	if (condition_holds(argv[2], argv + 3, seen, sizeof(seen)))
		die("the condition holds before the operation starts (%s)", seen);
	start = now_s();
	op = start_command(argv + 4 + nargs);
	/* A tight poll: the window to hit may be a few milliseconds wide. */
	while (!condition_holds(argv[2], argv + 3, seen, sizeof(seen))) {
		if (command_done(op)) {
			printf("the operation ended after %.3fs, before the condition came true "
			       "(%s)\n", now_s() - start, seen);
			return 1;
		}
		if (now_s() - start > timeout) {
			printf("the condition did not come true in %.0fs (%s)\n", timeout, seen);
			kill(op, SIGKILL);
			waitpid(op, NULL, 0);
			return 1;
		}
		usleep(200);
	}
	if (kill(pid, SIGKILL) < 0)
		die("kill %d: %s", (int)pid, strerror(errno));
	printf("killed the daemon %.3fs into the operation: %s\n", now_s() - start, seen);
	fflush(stdout);
	reap_command(op);
	return 0;
}

/* ------------------------------------------------------------ sync records */

/* Which record slots round R writes in a file that holds *NSLOTS records:
 * the first rounds append only, later ones mix appends and overwrites.
 * Derived from the seed and the round alone, so verify can replay it. */
static void round_slots(uint64_t seed, unsigned file, uint64_t r, uint32_t *nslots,
			uint32_t slots[BURST])
{
	uint64_t state = seed ^ (r * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)file << 56);
	int k;

	for (k = 0; k < BURST; k++) {
		uint64_t z = (state += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		if ((r < 4 || z % 2) && *nslots < MAX_SLOTS)
			slots[k] = (*nslots)++;
		else
			slots[k] = (uint32_t)((z >> 1) % *nslots);
	}
}

struct record_head {
	uint64_t magic;
	uint64_t round;
	uint32_t slot;
	uint32_t file;
};

#define RECORD_MAGIC 0x53594e4352454344ULL  /* "SYNCRECD" */

static void record_fill(unsigned char *buf, unsigned file, uint64_t round, uint32_t slot)
{
	struct record_head h = { .magic = RECORD_MAGIC, .round = round, .slot = slot, .file = file };
	size_t i;

	memcpy(buf, &h, sizeof(h));
	for (i = sizeof(h); i < RECORD; i++)
		buf[i] = (unsigned char)(round * 131 + slot * 31 + i + file);
}

/* The round a record was written in, or -1 if it is not a whole record
 * of FILE at SLOT. */
static int64_t record_round(const unsigned char *buf, unsigned file, uint32_t slot)
{
	unsigned char want[RECORD];
	struct record_head h;

	memcpy(&h, buf, sizeof(h));
	if (h.magic != RECORD_MAGIC || h.slot != slot || h.file != file)
		return -1;
	record_fill(want, file, h.round, slot);
	return memcmp(want, buf, RECORD) == 0 ? (int64_t)h.round : -1;
}

/* Writes round R of the INDEXth file to FD. */
static int write_round(int fd, unsigned index, uint64_t seed, uint64_t r, uint32_t *nslots)
{
	unsigned char buf[RECORD];
	uint32_t slots[BURST];
	int k;

	round_slots(seed, index, r, nslots, slots);
	for (k = 0; k < BURST; k++) {
		record_fill(buf, index, r, slots[k]);
		if (pwrite(fd, buf, RECORD, (off_t)slots[k] * RECORD) != RECORD)
			return -1;
	}
	return 0;
}

static int cmd_syncprep(int argc, char **argv)
{
	uint32_t nslots = 0;
	int fd;

	if (argc != 3)
		die("usage: syncprep FILE INDEX SEED");
	fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_round(fd, (unsigned)atoi(argv[1]), strtoull(argv[2], NULL, 0), 0,
				  &nslots) < 0 || close(fd) < 0)
		die("%s: %s", argv[0], strerror(errno));
	return 0;
}

/* Opens FILE for writing; the round to start from in *FIRST (1 if it holds
 * round 0 already), with *NSLOTS to match. */
static int open_for_rounds(const char *file, unsigned index, uint64_t seed, uint64_t *first,
			   uint32_t *nslots)
{
	uint32_t slots[BURST];
	struct stat st;
	int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0 || fstat(fd, &st) < 0)
		die("%s: %s", file, strerror(errno));
	*first = 0;
	*nslots = 0;
	if (st.st_size == BURST * RECORD) {
		round_slots(seed, index, 0, nslots, slots);
		*first = 1;
	} else if (st.st_size != 0) {
		die("%s: %jd bytes: neither empty nor round 0", file, (intmax_t)st.st_size);
	}
	return fd;
}

static int cmd_syncwriter(int argc, char **argv)
{
	int nfiles = argc - 2, fds[16], i, logfd;
	uint32_t nslots[16] = { 0 };
	uint64_t seed, r, first[16];

	if (nfiles < 1 || nfiles > 16)
		die("usage: syncwriter LOG SEED FILE... (at most 16 files)");
	seed = strtoull(argv[1], NULL, 0);
	logfd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0)
		die("%s: %s", argv[0], strerror(errno));
	for (i = 0; i < nfiles; i++)
		fds[i] = open_for_rounds(argv[2 + i], (unsigned)i, seed, &first[i], &nslots[i]);
	/* A file that begins empty writes round 0 itself; a prepared one
	 * skips it. */
	for (r = 0;; r++) {
		char line[32];
		int len;

		for (i = 0; i < nfiles; i++) {
			if (r < first[i])
				continue;
			if (write_round(fds[i], (unsigned)i, seed, r, &nslots[i]) < 0)
				goto out;
		}
		for (i = 0; i < nfiles; i++)
			if ((r % 2 ? fdatasync(fds[i]) : fsync(fds[i])) < 0)
				goto out;
		len = snprintf(line, sizeof(line), "%ju\n", (uintmax_t)r);
		if (write(logfd, line, (size_t)len) != len)
			die("%s: %s", argv[0], strerror(errno));
	}
out:
	printf("syncwriter stopped in round %ju (%s)\n", (uintmax_t)r, strerror(errno));
	return 0;
}

static int64_t last_synced_round(const char *log)
{
	FILE *f = fopen(log, "re");
	char line[64];
	int64_t last = -1;

	if (!f)
		die("%s: %s", log, strerror(errno));
	while (fgets(line, sizeof(line), f))
		last = atoll(line);
	fclose(f);
	return last;
}

/* Replays the writer: for each slot, the round that last wrote it by the
 * last synced round, and the later rounds that might have too. */
struct slot_plan {
	int64_t synced;          /* -1: no synced round wrote it */
	uint64_t later_mask;     /* bit k: round synced+1+k wrote it */
};

static uint32_t plan_file(uint64_t seed, unsigned file, int64_t last, struct slot_plan *plan)
{
	uint32_t nslots = 0, synced_slots = 0, slots[BURST];
	int64_t r;
	int k;

	for (r = 0; r <= last + SLACK_ROUNDS; r++) {
		round_slots(seed, file, (uint64_t)r, &nslots, slots);
		for (k = 0; k < BURST; k++) {
			if (r <= last)
				plan[slots[k]].synced = r;
			else
				plan[slots[k]].later_mask |= 1ULL << (r - last - 1);
		}
		if (r == last)
			synced_slots = nslots;
	}
	return synced_slots;
}

static bool acceptable_round(const struct slot_plan *p, int64_t found, int64_t last)
{
	if (found == p->synced)
		return true;
	/* An overwrite that was never synced may have been cut short. */
	if (found == -1 && p->later_mask)
		return true;
	return found > last && found - last - 1 < 64 &&
	       (p->later_mask & (1ULL << (found - last - 1)));
}

static int verify_file(const char *path, unsigned file, uint64_t seed, int64_t last)
{
	struct slot_plan *plan = calloc(MAX_SLOTS, sizeof(*plan));
	unsigned char buf[RECORD];
	uint32_t nslots, s;
	int fd = open(path, O_RDONLY | O_CLOEXEC), bad = 0;

	if (!plan || fd < 0)
		die("%s: %s", path, strerror(errno));
	for (s = 0; s < MAX_SLOTS; s++)
		plan[s].synced = -1;
	nslots = plan_file(seed, file, last, plan);
	for (s = 0; s < nslots && bad < 5; s++) {
		ssize_t n = pread(fd, buf, RECORD, (off_t)s * RECORD);
		int64_t found = n == RECORD ? record_round(buf, file, s) : -2;

		if (acceptable_round(&plan[s], found, last))
			continue;
		fprintf(stderr, "unionfuse-crashkit: %s: record %u %s, but round %jd wrote it and "
			"was synced (last synced round %jd)\n", path, s,
			found == -2 ? "is missing (short file)" : found == -1 ? "is not a whole record"
								    : "holds an older round",
			(intmax_t)plan[s].synced, (intmax_t)last);
		bad++;
	}
	close(fd);
	free(plan);
	if (!bad)
		printf("%s: all %u records of the %jd synced rounds are there\n", path, nslots,
		       (intmax_t)last + 1);
	return bad ? 1 : 0;
}

static int cmd_syncverify(int argc, char **argv)
{
	int nfiles = argc - 2, i, rc = 0;
	uint64_t seed;
	int64_t last;

	if (nfiles < 1 || nfiles > 16)
		die("usage: syncverify LOG SEED FILE...");
	seed = strtoull(argv[1], NULL, 0);
	last = last_synced_round(argv[0]);
	if (last < 0)
		die("%s: no round was synced: nothing to check", argv[0]);
	for (i = 0; i < nfiles; i++)
		rc |= verify_file(argv[2 + i], (unsigned)i, seed, last);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die("usage: unionfuse-crashkit killwhen|syncwriter|syncverify ARG...");
	if (strcmp(argv[1], "killwhen") == 0)
		return cmd_killwhen(argc - 2, argv + 2);
	if (strcmp(argv[1], "syncprep") == 0)
		return cmd_syncprep(argc - 2, argv + 2);
	if (strcmp(argv[1], "syncwriter") == 0)
		return cmd_syncwriter(argc - 2, argv + 2);
	if (strcmp(argv[1], "syncverify") == 0)
		return cmd_syncverify(argc - 2, argv + 2);
	die("unknown command %s", argv[1]);
	return 2;
}
