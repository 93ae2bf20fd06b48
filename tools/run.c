/* `unionfuse run`: a layered image as a container, in one command and
 * without root. The "namespaces + change root" of a container runtime,
 * reduced to what a learner can read in one sitting:
 *
 *   1. enter new user (unless already root), mount, UTS and IPC namespaces:
 *      the caller becomes root of its own namespace, and nothing mounted
 *      from here on is seen by the host or outlives the command;
 *   2. mount a tmpfs on a scratch directory: it holds the mountpoint and,
 *      without --upper, a throwaway upper layer;
 *   3. mount the union there (its daemon keeps serving in the background);
 *   4. in a child, which is process 1 of a new PID namespace and has a
 *      mount namespace of its own: mount /proc, a minimal /dev, pivot into
 *      the union, set the hostname and exec COMMAND;
 *   5. when COMMAND ends: unmount the union (its daemon then exits), drop
 *      the scratch directory, and exit with COMMAND's status. */
#include "run.h"

#include "cmdline.h"
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Exit statuses of run itself, as container runtimes use them. */
enum { RUN_SETUP_FAILED = 125, RUN_CANNOT_EXEC = 126, RUN_NOT_FOUND = 127 };

#define DEFAULT_HOSTNAME "unionfuse"
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct run {
	struct mount_plan plan;
	char **command;
	char scratch[4096];       /* host directory; a tmpfs covers it inside */
	char root[4096 + 8];      /* scratch/root: where the union is mounted */
	bool scratch_mounted;
};

static volatile sig_atomic_t command_pid;

static int fail(const char *what, int err)
{
	fprintf(stderr, "unionfuse: run: %s: %s\n", what, strerror(err));
	return -1;
}

/* For the steps whose failure ends run with its own status. */
static int setup_failed(const char *what, int err)
{
	fail(what, err);
	return RUN_SETUP_FAILED;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t len = (ssize_t)strlen(text);

	if (fd < 0)
		return fail(path, errno);
	if (write(fd, text, (size_t)len) != len) {
		int err = errno;

		close(fd);
		return fail(path, err);
	}
	return close(fd) < 0 ? fail(path, errno) : 0;
}

/* Root of a new user namespace, mapped to the caller's own ids: the only
 * mapping an ordinary user may write without a setuid helper. */
static int enter_user_namespace(uid_t uid, gid_t gid)
{
	char map[64];

	if (unshare(CLONE_NEWUSER) < 0)
		return fail("new user namespace (are unprivileged user namespaces disabled?)", errno);
	if (write_file("/proc/self/setgroups", "deny"))
		return -1;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
	if (write_file("/proc/self/uid_map", map))
		return -1;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
	return write_file("/proc/self/gid_map", map);
}

static int enter_namespaces(void)
{
	uid_t uid = getuid();
	gid_t gid = getgid();

	if (geteuid() != 0 && enter_user_namespace(uid, gid))
		return -1;
	if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC) < 0)
		return fail("new mount namespace", errno);
	/* Nothing mounted from here on propagates back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail("making / private", errno);
	return 0;
}

static int make_scratch(struct run *r)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(r->scratch, sizeof(r->scratch), "%s/unionfuse-run.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(r->scratch))
		return fail(r->scratch, errno);
	return 0;
}

static char *scratch_path(const struct run *r, const char *name)
{
	char *path;

	return asprintf(&path, "%s/%s", r->scratch, name) < 0 ? NULL : path;
}

/* The tmpfs on the scratch directory, the mountpoint in it and, without
 * --upper, a throwaway upper layer and its work directory. */
static int prepare_scratch(struct run *r)
{
	if (mount("tmpfs", r->scratch, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return fail(r->scratch, errno);
	r->scratch_mounted = true;
	snprintf(r->root, sizeof(r->root), "%s/root", r->scratch);
	if (mkdir(r->root, 0755) < 0)
		return fail(r->root, errno);
	if (!r->plan.upper) {
		r->plan.upper = scratch_path(r, "upper");
		r->plan.work = scratch_path(r, "work");
		if (!r->plan.upper || !r->plan.work)
			return fail("scratch", ENOMEM);
	}
	if (!r->plan.hostname && !r->plan.hosts_file && !r->plan.resolv_file && !r->plan.init)
		r->plan.hostname = strdup(DEFAULT_HOSTNAME);
	r->plan.mountpoint = strdup(r->root);
	if (!r->plan.mountpoint)
		return fail("scratch", ENOMEM);
	return cmdline_check_plan(&r->plan) ? -1 : 0;
}

/* Mount the union on r->root. The daemon detaches once the mount is live;
 * as our child's child it is reparented to us (a subreaper), so we can
 * wait for it after unmounting. */
static int mount_union(struct run *r)
{
	int status;
	pid_t pid;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return fail("subreaper", errno);
	pid = fork();
	if (pid < 0)
		return fail("fork", errno);
	if (pid == 0)
		_exit(daemon_mount(&r->plan));
	if (waitpid(pid, &status, 0) < 0)
		return fail("waiting for the mount", errno);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int mount_at(const char *root, const char *name, const char *source, const char *type,
		    unsigned long flags, const char *data)
{
	char path[8192];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	if (mount(source, path, type, flags, data) < 0)
		return fail(path, errno);
	return 0;
}

/* A directory the image may lack: made in the union (so in the upper). */
static int ensure_dir_in(const char *root, const char *name)
{
	char path[8192];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return fail(path, errno);
	return 0;
}

/* /proc of the new PID namespace; where the kernel refuses that (a /proc
 * partly hidden on the host), the host's, bound. */
static int mount_proc(const char *root)
{
	char path[8192];

	if (ensure_dir_in(root, "proc"))
		return -1;
	snprintf(path, sizeof(path), "%s/proc", root);
	if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0)
		return 0;
	return mount_at(root, "proc", "/proc", NULL, MS_BIND | MS_REC, NULL);
}

static int bind_device(const char *root, const char *name)
{
	char host[64], path[8192];
	int fd;

	snprintf(host, sizeof(host), "/dev/%s", name);
	snprintf(path, sizeof(path), "%s/dev/%s", root, name);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return fail(path, errno);
	close(fd);
	if (mount(host, path, NULL, MS_BIND, NULL) < 0)
		return fail(host, errno);
	return 0;
}

/* A tmpfs /dev with the devices every program expects, bound from the
 * host (a user namespace may not make device nodes), and the usual links. */
static int mount_dev(const char *root)
{
	static const char *const devices[] = { "null", "zero", "full", "random", "urandom", "tty" };
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
		{ "pts/ptmx", "ptmx" },
	};
	char path[8192];
	size_t i;

	if (ensure_dir_in(root, "dev") ||
	    mount_at(root, "dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=0755,size=1m"))
		return -1;
	for (i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
		if (bind_device(root, devices[i]))
			return -1;
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(path, sizeof(path), "%s/dev/%s", root, links[i][1]);
		if (symlink(links[i][0], path) < 0)
			return fail(path, errno);
	}
	if (ensure_dir_in(root, "dev/pts") || ensure_dir_in(root, "dev/shm"))
		return -1;
	/* Terminals and shared memory are nice to have, not essential. */
	snprintf(path, sizeof(path), "%s/dev/pts", root);
	(void)!mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
	snprintf(path, sizeof(path), "%s/dev/shm", root);
	(void)!mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m");
	return 0;
}

/* Make ROOT the root: pivot_root(".", ".") stacks the old root under the
 * new one, and the detach drops it, with no directory needed for it. */
static int enter_root(const char *root)
{
	if (chdir(root) < 0)
		return fail(root, errno);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return fail("pivot_root", errno);
	if (umount2(".", MNT_DETACH) < 0)
		return fail("detaching the old root", errno);
	if (chdir("/") < 0)
		return fail("/", errno);
	return 0;
}

/* Process 1 of the new PID namespace: set up, then become COMMAND. */
static int become_command(struct run *r)
{
	const char *hostname = r->plan.hostname ? r->plan.hostname : DEFAULT_HOSTNAME;

	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	/* A mount namespace of its own, so pivot_root leaves the daemon's
	 * view of the layers alone. */
	if (unshare(CLONE_NEWNS) < 0)
		return setup_failed("new mount namespace", errno);
	if (mount_proc(r->root) || mount_dev(r->root) || enter_root(r->root))
		return RUN_SETUP_FAILED;
	if (sethostname(hostname, strlen(hostname)) < 0)
		return setup_failed("sethostname", errno);
	if (!getenv("PATH"))
		setenv("PATH", DEFAULT_PATH, 1);
	execvp(r->command[0], r->command);
	fail(r->command[0], errno);
	return errno == ENOENT ? RUN_NOT_FOUND : RUN_CANNOT_EXEC;
}

static void stop_command(int sig)
{
	(void)sig;
	if (command_pid > 0)
		kill(command_pid, SIGKILL);
}

/* fork(), the child being process 1 of a new PID namespace. Not
 * unshare(CLONE_NEWPID) here: that would put every later child of ours in
 * the namespace too, where no process may start once its process 1 has
 * ended (the sanitizers' leak checker forks at exit, for one). */
static pid_t fork_into_new_pid_namespace(void)
{
	struct clone_args args = { .flags = CLONE_NEWPID, .exit_signal = SIGCHLD };

	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/* Run COMMAND and return the status to exit with: its own, or 128 plus
 * the signal that ended it, as a shell reports it. */
static int run_command(struct run *r)
{
	int status;
	pid_t pid;

	pid = fork_into_new_pid_namespace();
	if (pid < 0)
		return setup_failed("new PID namespace", errno);
	if (pid == 0)
		_exit(become_command(r));
	command_pid = pid;
	/* The terminal's ^C goes to COMMAND, not to us; a SIGTERM or a hang-up
	 * sent to us ends COMMAND too. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGTERM, stop_command);
	signal(SIGHUP, stop_command);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return setup_failed("waiting for the command", errno);
	command_pid = 0;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Unmount the union, let its daemon finish, drop the scratch directory. */
static void clean_up(struct run *r)
{
	if (r->root[0] && umount2(r->root, 0) < 0 && errno != EINVAL)
		umount2(r->root, MNT_DETACH);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	if (r->scratch_mounted)
		umount2(r->scratch, MNT_DETACH);
	if (r->scratch[0] && rmdir(r->scratch) < 0)
		fail(r->scratch, errno);
}

int run_main(int argc, char **argv)
{
	struct run r;
	int ret = RUN_SETUP_FAILED;

	memset(&r, 0, sizeof(r));
	if (cmdline_parse_run(argc, argv, &r.plan, &r.command)) {
		cmdline_free(&r.plan);
		return 2;
	}
	if (make_scratch(&r))
		goto out;
	if (enter_namespaces() == 0 && prepare_scratch(&r) == 0 && mount_union(&r) == 0)
		ret = run_command(&r);
	clean_up(&r);
out:
	cmdline_free(&r.plan);
	return ret;
}
