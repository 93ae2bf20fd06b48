#!/usr/bin/env python3
"""Run docs/tutorial.md and check that it still tells the truth.

Every ```console block of the tutorial is a list of commands, each on a line
starting with "$ " (continued on lines starting with "> ", as bash shows a
continued command), each followed by the lines it prints. This runs every
command in order in one bash session, with the unionfuse binary under test on
PATH as `unionfuse`, and compares what each prints (stdout and stderr
together) with the document.

Usage:
    run.py [--update] [--keep] UNIONFUSE_BINARY [TUTORIAL.md]

    --update   rewrite the outputs in the document with what the commands
               print now (for maintainers, after a deliberate change)
    --keep     leave /tmp/unionfuse-tutorial and the runner's scratch behind
               (unmounted) to look at after a failure

Exit status: 0 when every command exits 0 and prints what the document
shows; 1 otherwise, with a diff naming the step; 77 (a skip, for ctest)
when this machine cannot run it (not root, no /dev/fuse, no static busybox).

Comparison rules, so that a document can be exact and still hold on any
machine and in any run:
  - trailing whitespace of each line and trailing empty lines are ignored;
  - two things differ from run to run and are compared as placeholders:
    durations ("0.2 ms", the trace times each copy-up) and sha256 digests
    (a committed layer records file times, which are new each run);
  - a command must exit 0; the session stops at the first one that does not,
    since the state every later command expects is then unknown.

The tutorial works in the fixed directory /tmp/unionfuse-tutorial, so that
its paths are the same for every reader. Two runs at once would share it,
so a run takes a lock first (/tmp/unionfuse-tutorial.lock). Whatever
happens, every mount the session made below that directory is unmounted
before the runner exits (a stuck FUSE connection is aborted first), and the
daemons it started are waited for, so that a sanitizer report they write
at exit is seen: sanitizer reports go to files (ASAN_OPTIONS/UBSAN_OPTIONS
log_path), never into the compared output, and any report fails the run.
"""

import argparse
import difflib
import errno
import fcntl
import os
import re
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TUTORIAL_DIR = "/tmp/unionfuse-tutorial"
LOCK_FILE = TUTORIAL_DIR + ".lock"
BUSYBOX = "/bin/busybox"
SKIP = 77

# Run-to-run differences, compared as placeholders (see the module doc).
VARIABLE = [
    (re.compile(r"\b\d+(?:\.\d+)? ms\b"), "N ms"),
    (re.compile(r"sha256:[0-9a-f]{64}"), "sha256:<digest>"),
]

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^\s`]*)")


class DocError(Exception):
    """The document cannot be read as a tutorial (a format error)."""


class Command:
    """One "$ " command of the document and the output lines shown for it."""

    def __init__(self, step, line):
        self.step = step          # the heading the command sits under
        self.line = line          # 1-based line of its "$ " in the document
        self.text = []            # the command, one item per line
        self.out_start = None     # document lines [out_start, out_end) are
        self.out_end = None       # its output (0-based indexes)
        self.printed = None       # what it printed in this run (lines)

    def expected(self, doc_lines):
        return trim(doc_lines[self.out_start:self.out_end])


def trim(lines):
    """Lines without trailing whitespace, without trailing empty lines."""
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def normalise(lines):
    out = []
    for line in lines:
        for pattern, placeholder in VARIABLE:
            line = pattern.sub(placeholder, line)
        out.append(line)
    return out


def parse_doc(doc_lines, doc_name):
    """The commands of every ```console block, in document order."""
    commands = []
    step = "(before the first heading)"
    fence = None        # (marker, is_console, opening line) while inside one
    current = None
    for i, line in enumerate(doc_lines):
        where = f"{doc_name}:{i + 1}"
        m = FENCE.match(line)
        if fence is None:
            if m:
                indent, marker, info = m.groups()
                if indent and info == "console":
                    # Its lines would be indented too (in a list item),
                    # and no "$ " would be seen: the commands would
                    # silently not run.
                    raise DocError(f"{where}: indented ```console block; "
                                   "put it at the start of the line")
                fence = (marker, info == "console", i + 1)
                current = None
            elif line.startswith("#"):
                step = line.lstrip("#").strip()
            continue
        marker, is_console, opened = fence
        if line.strip().startswith(marker[0] * len(marker)) and \
                line.strip() == line.strip()[0] * len(line.strip()):
            if current is not None:
                current.out_end = i
            fence = None
            current = None
            continue
        if not is_console:
            if line.startswith("$ "):
                raise DocError(f"{where}: a command outside a ```console "
                               "block would never be run; make the block "
                               "```console or drop the \"$ \"")
            continue
        if line.startswith("$ ") or line.rstrip() == "$":
            if line.rstrip() == "$":
                raise DocError(f"{where}: empty command")
            if current is not None:
                current.out_end = i
            current = Command(step, i + 1)
            current.text.append(line[2:])
            current.out_start = i + 1
            commands.append(current)
        elif line.startswith("> ") or line.rstrip() == ">":
            if current is None or current.out_start != i:
                raise DocError(f"{where}: a \"> \" line continues a command, "
                               "but it follows output")
            current.text.append(line[2:])
            current.out_start = i + 1
        elif current is None:
            raise DocError(f"{where}: output before any \"$ \" command in "
                           f"the block opened at line {opened}")
    if fence is not None:
        raise DocError(f"{doc_name}:{fence[2]}: block never closed")
    if not commands:
        raise DocError(f"{doc_name}: no ```console block with a command")
    return commands


class Session:
    """One bash process that runs the commands one after the other.

    Each command is written to a file and sourced, so that cd and variables
    carry over; its output goes to a file, never to the pipe the runner
    reads, so a daemon it starts cannot hold that pipe open; stdin is
    /dev/null, so a command that reads stdin cannot eat the next ones."""

    def __init__(self, scratch, env):
        self.scratch = scratch
        self.token = "unionfuse-tutorial-done-" + secrets.token_hex(8)
        self.count = 0
        self.buffer = b""
        # A session of its own, so the whole shell can be killed at once.
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], cwd=scratch, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True)

    def run(self, text, timeout):
        """Runs TEXT; returns (exit status, printed lines)."""
        self.count += 1
        cmd = os.path.join(self.scratch, f"cmd-{self.count:03d}.sh")
        out = os.path.join(self.scratch, f"out-{self.count:03d}")
        with open(cmd, "w") as f:
            f.write(text + "\n")
        self.proc.stdin.write(
            f". {quote(cmd)} </dev/null >{quote(out)} 2>&1; "
            f"printf '\\n%s %d\\n' {self.token} \"$?\"\n".encode())
        self.proc.stdin.flush()
        status = self._wait_token(timeout)
        with open(out, "rb") as f:
            printed = f.read().decode("utf-8", "replace")
        return status, printed.split("\n")

    def _wait_token(self, timeout):
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            while True:
                for line in self.buffer.split(b"\n")[:-1]:
                    if line.startswith(self.token.encode() + b" "):
                        self.buffer = b""
                        return int(line.split()[1])
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                if sel.select(left):
                    chunk = os.read(self.proc.stdout.fileno(), 65536)
                    if not chunk:
                        raise EOFError(self.buffer.decode("utf-8", "replace"))
                    self.buffer += chunk
        finally:
            sel.close()

    def end(self, failed):
        """Ends the shell: with end of input after a good run (what it
        started in the background may finish, and report, on its own), at
        once with SIGKILL to its process group after a failure."""
        if not failed:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
                return
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


# ------------------------------------------------------------ mounts, cleanup

def mounts_below(top):
    """(mount point, fuse connection number or None) at or below TOP,
    deepest first."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = unescape(fields[4])
            fstype = fields[fields.index("-") + 1]
            if point == top or point.startswith(top + "/"):
                conn = fields[2].split(":")[1] if fstype.startswith("fuse") else None
                found.append((point, conn))
    return sorted(found, key=lambda m: m[0].count("/"), reverse=True)


def unescape(path):
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def abort_fuse(conn):
    """Fails the pending requests of a FUSE connection, so that a process
    blocked on a stuck daemon can finish and the mount can go."""
    ctl = "/sys/fs/fuse/connections"
    if not os.path.exists(os.path.join(ctl, conn)):
        subprocess.run(["mount", "-t", "fusectl", "fusectl", ctl],
                       stderr=subprocess.DEVNULL, check=False)
    try:
        with open(os.path.join(ctl, conn, "abort"), "w") as f:
            f.write("1")
    except OSError:
        pass


def unmount_all(top):
    """Unmounts everything at or below TOP; returns what stayed mounted.

    The tutorial unmounts its own mounts at the end, so a mount still here
    means the run failed, perhaps on a daemon that no longer answers: then
    even umount(8) hangs (it stats the mount point). So every FUSE
    connection is aborted first, which fails whatever waits on it."""
    for point, conn in mounts_below(top):
        if conn:
            abort_fuse(conn)
        for cmd in (["umount", point], ["umount", "-l", point]):
            try:
                if subprocess.run(cmd, stderr=subprocess.DEVNULL, check=False,
                                  timeout=10).returncode == 0:
                    break
            except subprocess.TimeoutExpired:
                pass
    return [point for point, _ in mounts_below(top)]


def marked_processes(marker):
    """Pids of the processes the session started (their environment holds
    MARKER), daemons that left the session included."""
    pids = []
    needle = b"\0" + marker.encode() + b"\0"
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if needle in b"\0" + f.read() + b"\0":
                    pids.append(int(name))
        except OSError:
            pass
    return pids


def wait_processes(marker, timeout):
    """Waits for the session's processes to end (a daemon writes its leak
    report as it exits); kills those still there after TIMEOUT."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not marked_processes(marker):
            return []
        time.sleep(0.1)
    left = marked_processes(marker)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


def sanitizer_reports(logdir):
    reports = []
    for name in sorted(os.listdir(logdir)):
        with open(os.path.join(logdir, name), errors="replace") as f:
            text = f.read()
        if text.strip():
            reports.append((name, text))
    return reports


# ------------------------------------------------------------ checks

def is_static_elf(path):
    """True if PATH is an ELF executable with no program interpreter."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                return False            # not 64-bit little-endian ELF
            phoff = int.from_bytes(head[32:40], "little")
            phentsize = int.from_bytes(head[54:56], "little")
            phnum = int.from_bytes(head[56:58], "little")
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    for i in range(phnum):
        if int.from_bytes(table[i * phentsize:i * phentsize + 4], "little") == 3:
            return False                # PT_INTERP: dynamically linked
    return True


def why_not_runnable():
    if os.geteuid() != 0:
        return "needs root (mounts, mknod of whiteouts, chroot)"
    if not os.path.exists("/dev/fuse"):
        return "needs /dev/fuse"
    if not is_static_elf(BUSYBOX):
        return f"needs a static busybox at {BUSYBOX} (Debian: busybox-static)"
    return None


def take_lock(timeout):
    lock = open(LOCK_FILE, "a")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return lock
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"{LOCK_FILE}: another run holds it")
            time.sleep(0.2)


# ------------------------------------------------------------ main

def report_difference(cmd, doc_name, expected, printed):
    print(f"FAIL: step \"{cmd.step}\" ({doc_name}:{cmd.line})")
    for i, line in enumerate(cmd.text):
        print(("  $ " if i == 0 else "  > ") + line)
    diff = difflib.unified_diff(
        expected, printed, f"shown in {doc_name}:{cmd.out_start + 1}",
        "printed now", lineterm="")
    for line in diff:
        print("  " + line)
    print()


def run_commands(commands, session, args, doc_name, doc_lines):
    """Runs every command; returns the number of failures. The run as a
    whole stops before --timeout, so that this runner, not the test driver
    killing it, gets to clean up."""
    failures = 0
    deadline = time.monotonic() + args.timeout
    for cmd in commands:
        text = "\n".join(cmd.text)
        limit = min(args.step_timeout, deadline - time.monotonic())
        try:
            status, printed = session.run(text, max(limit, 0))
        except TimeoutError:
            print(f"FAIL: step \"{cmd.step}\" ({doc_name}:{cmd.line}): "
                  f"no answer after {limit:.0f} s:\n  $ {text}")
            return failures + 1
        except EOFError as e:
            print(f"FAIL: step \"{cmd.step}\" ({doc_name}:{cmd.line}): "
                  f"the shell exited:\n  $ {text}\n{e}")
            return failures + 1
        if status != 0:
            print(f"FAIL: step \"{cmd.step}\" ({doc_name}:{cmd.line}): "
                  f"exit status {status}:\n  $ {text}")
            for line in trim(printed):
                print("  | " + line)
            print("(stopped here: every later command depends on this one)")
            return failures + 1
        cmd.printed = trim(printed)
        expected = cmd.expected(doc_lines)
        if normalise(expected) != normalise(cmd.printed):
            if not args.update:
                report_difference(cmd, doc_name, expected, cmd.printed)
            failures += 1
    return failures


def update_doc(doc_path, doc_lines, commands, trailing_newline):
    """Writes each changed output into the document, leaving every other
    byte as it was (an unchanged output keeps its old times and digests)."""
    changed = 0
    for cmd in reversed(commands):
        expected = cmd.expected(doc_lines)
        if normalise(expected) == normalise(cmd.printed):
            continue
        for line in cmd.printed:
            if line.startswith(("$ ", "> ", "```", "~~~")) or line in ("$", ">"):
                raise DocError(f"step \"{cmd.step}\": output line {line!r} "
                               "would read as a command or a fence")
        doc_lines[cmd.out_start:cmd.out_end] = cmd.printed
        changed += 1
    tmp = doc_path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(doc_lines) + ("\n" if trailing_newline else ""))
    os.replace(tmp, doc_path)
    return changed


def on_sigterm(signum, frame):
    print("tutorial: terminated; unmounting and cleaning up", flush=True)
    sys.exit(128 + signum)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(
        description="Run every command of the tutorial and compare outputs.")
    ap.add_argument("unionfuse", help="the unionfuse binary to test")
    ap.add_argument("doc", nargs="?",
                    default=os.path.join(here, "..", "..", "docs", "tutorial.md"))
    ap.add_argument("--update", action="store_true",
                    help="rewrite the outputs in the document")
    ap.add_argument("--keep", action="store_true",
                    help=f"keep {TUTORIAL_DIR} and the scratch directory")
    ap.add_argument("--step-timeout", type=float, default=60,
                    help="seconds one command may take (default 60)")
    ap.add_argument("--timeout", type=float, default=240,
                    help="seconds for all of them (default 240)")
    args = ap.parse_args()

    doc_path = os.path.abspath(args.doc)
    # Named from the top of the source tree when it lies in it, as in git.
    top = os.path.normpath(os.path.join(here, "..", ".."))
    doc_name = os.path.relpath(doc_path, top) if doc_path.startswith(top + "/") else doc_path
    with open(doc_path) as f:
        text = f.read()
    doc_lines = text.split("\n")
    trailing_newline = text.endswith("\n")
    if trailing_newline:
        doc_lines.pop()
    try:
        commands = parse_doc(doc_lines, doc_name)
    except DocError as e:
        print(f"tutorial: {e}")
        return 1
    binary = os.path.abspath(args.unionfuse)
    if not os.access(binary, os.X_OK):
        print(f"tutorial: {binary}: not an executable")
        return 1
    why = why_not_runnable()
    if why:
        print(f"tutorial: skipped: {why}")
        return SKIP

    lock = take_lock(120)
    if mounts_below(TUTORIAL_DIR):
        # Someone is in the middle of the tutorial (or a run was killed):
        # those mounts are not ours to remove.
        print(f"tutorial: something is mounted below {TUTORIAL_DIR}: "
              + ", ".join(p for p, _ in mounts_below(TUTORIAL_DIR))
              + "\n  unmount it first (unionfuse umount PATH), then run again")
        return 1
    # A leftover of an earlier run (no mount inside, checked just above):
    # the tutorial starts by creating the directory.
    shutil.rmtree(TUTORIAL_DIR, ignore_errors=True)

    scratch = tempfile.mkdtemp(prefix="unionfuse-tutorial-run.")
    bindir = os.path.join(scratch, "bin")
    logdir = os.path.join(scratch, "sanitizer")
    os.mkdir(bindir)
    os.mkdir(logdir)
    os.symlink(binary, os.path.join(bindir, "unionfuse"))
    marker = "UNIONFUSE_TUTORIAL_RUN=" + os.path.basename(scratch)
    # A small, fixed environment: output must not depend on the caller's
    # locale, time zone, colours or aliases.
    env = {
        "PATH": bindir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LC_ALL": "C",
        "TZ": "UTC",
        "TERM": "dumb",
        "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "")
        + f":log_path={logdir}/asan",
        "UBSAN_OPTIONS": os.environ.get("UBSAN_OPTIONS", "")
        + f":print_stacktrace=1:log_path={logdir}/ubsan",
        marker.split("=")[0]: marker.split("=")[1],
    }

    # ctest and a user's kill send SIGTERM: unwind through the cleanup below.
    signal.signal(signal.SIGTERM, on_sigterm)
    started = time.monotonic()
    session = Session(scratch, env)
    failures = None
    try:
        failures = run_commands(commands, session, args, doc_name, doc_lines)
    finally:
        session.end(failed=failures != 0)
        failures = failures or 0
        stuck = unmount_all(TUTORIAL_DIR)
        left = wait_processes(marker, 15)
        reports = sanitizer_reports(logdir)
        if not args.keep and not stuck:
            shutil.rmtree(TUTORIAL_DIR, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        lock.close()
    if stuck:
        print(f"FAIL: still mounted after cleanup: {', '.join(stuck)}")
        failures += 1
    if left:
        print(f"FAIL: processes of the session still running after unmount, "
              f"killed: {left}")
        failures += 1
    for name, report in reports:
        print(f"FAIL: sanitizer report {name}:\n{report}")
        failures += 1
    elapsed = time.monotonic() - started

    if args.update:
        # Only a run in which every command ran and exited 0 says what the
        # document should show.
        if any(c.printed is None for c in commands) or stuck or left or reports:
            print("tutorial: not updated: the run did not complete cleanly")
            return 1
        try:
            changed = update_doc(doc_path, doc_lines, commands, trailing_newline)
        except DocError as e:
            print(f"tutorial: not updated: {e}")
            return 1
        print(f"tutorial: {len(commands)} commands in {elapsed:.1f} s; "
              f"{changed} output(s) rewritten in {doc_name}")
        return 0
    if args.keep:
        print(f"tutorial: kept {TUTORIAL_DIR} and {scratch}")
    ran = sum(cmd.printed is not None for cmd in commands)
    print(f"tutorial: {ran} of {len(commands)} commands run in "
          f"{elapsed:.1f} s, {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
