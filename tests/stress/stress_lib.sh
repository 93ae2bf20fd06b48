# shellcheck shell=bash
# stress_lib.sh: what every tests/stress/t_*.sh sources, after the e2e
# harness (../e2e/lib.sh: run_tests, $T, uf_mount, unmount, track_lower...).
#
# Usage:  t_area.sh [UNIONFUSE_BINARY [E2E_HELPERS_DIR [STRESS_BIN_DIR]]]
#   STRESS_BIN_DIR holds unionfuse-fsx, unionfuse-load and unionfuse-crashkit;
#   it defaults to the directory of the unionfuse binary, where CMake puts
#   every executable of the build.

STRESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/lib.sh
source "$STRESS_DIR/../e2e/lib.sh"
STRESS_BIN=${3:-${STRESS_BIN:-$(dirname "$UF")}}

for tool in unionfuse-fsx unionfuse-load unionfuse-crashkit; do
        [ -x "$STRESS_BIN/$tool" ] || { echo "Bail out! $STRESS_BIN/$tool missing (build it first)"; exit 1; }
done
fsx() { "$STRESS_BIN/unionfuse-fsx" "$@"; }
loadgen() { "$STRESS_BIN/unionfuse-load" "$@"; }
crashkit() { "$STRESS_BIN/unionfuse-crashkit" "$@"; }

# Is the unionfuse under test built with AddressSanitizer? Its memory
# numbers and its speed are not those of a release build.
uf_is_asan() {
        grep -qa '__asan_init' "$UF"
}

# The daemon's peak resident set (VmHWM), in KiB.
daemon_peak_rss_kb() {  # PID
        awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status"
}

# Descriptors the daemon holds open right now.
daemon_fd_count() {     # PID
        ls "/proc/$1/fd" | wc -l
}

# The FUSE connection of MNT, as /sys/fs/fuse/connections names it.
fuse_conn_of() {        # MNT
        awk -v m="$1" '$5 == m { split($3, d, ":"); print d[2] }' /proc/self/mountinfo | tail -1
}

# Crash: SIGKILL the daemon of MNT, fail whatever it left pending (fusectl
# abort: a process blocked in a request ignores SIGKILL until then), and
# detach the dead mount.
crash_daemon() {        # MNT PID
        local mnt=$1 pid=$2 conn
        conn=$(fuse_conn_of "$mnt")
        kill -KILL "$pid" 2>/dev/null || true
        [ -n "$conn" ] && [ -e "/sys/fs/fuse/connections/$conn/abort" ] &&
                echo 1 > "/sys/fs/fuse/connections/$conn/abort"
        umount -l "$mnt" 2>/dev/null || true
        # the daemon is gone before anyone looks at the layers it wrote
        local i
        for i in $(seq 50); do
                alive "$pid" || break
                sleep 0.1
        done
        alive "$pid" && fail "the daemon $pid survived SIGKILL"
        return 0
}

# What a crashed mount left in the work directory's scratch area.
work_scratch() {        # UPPER
        (cd "$1.work/work" 2>/dev/null && find . -mindepth 1 -maxdepth 1 | LC_ALL=C sort | tr '\n' ' ')
}

# The next mount must leave the scratch area empty.
expect_work_clean() {   # UPPER
        expect_eq "entries in $1.work/work after the next mount" "" "$(work_scratch "$1")"
}

# Scratch names of the daemon (#uf...) must never reach the upper layer.
expect_no_scratch_names_in() {  # UPPER
        local found
        found=$(find "$1" -name '#uf*' | head -3 | tr '\n' ' ')
        expect_eq "scratch names in the upper layer $1" "" "$found"
}

# Elapsed seconds since START (from $SECONDS), for notes.
since() { echo $((SECONDS - $1)); }

# uf_mount without fingerprinting the lower layers: for a layer of
# thousands of files, whose fingerprint (an md5sum per file) would cost more
# than the test; the caller checks such a layer itself.
uf_mount_untracked() {  # MNT UPPER LAYER... (base first)
        local mnt=$1 upper=$2 lowerdir="" layer err
        shift 2
        for layer in "$@"; do
                lowerdir=$layer${lowerdir:+:$lowerdir}
        done
        mkdir -p "$upper" "$upper.work" "$mnt"
        track_mount "$mnt"
        err=$("$UF" -o "lowerdir=$lowerdir,upperdir=$upper,workdir=$upper.work${UF_OPTS:+,$UF_OPTS}" "$mnt" 2>&1) ||
                fail "mount failed: $err"
        mountpoint -q "$mnt" || fail "unionfuse returned but $mnt is not mounted"
        UF_PID=$(daemon_pid "$mnt") || true
}

# Names, types, sizes, modes and times of a tree, one line per entry: a
# cheap fingerprint of a big layer whose data the caller checks otherwise.
tree_shape() {  # DIR
        (cd "$1" && find . -printf '%p %y %s %m %T@ %C@\n' | LC_ALL=C sort)
}
