#!/bin/bash
# trace_cost.sh: does --trace cost anything when it is off?
#
# Builds unionfuse twice from this source tree: as it is, and with the trace
# compiled out (-DUNIONFUSE_NO_TRACE, see fs/trace.h). Then runs one workload
# (lstat and read of every file, copy-ups, creates, deletes: each a traced
# decision) on a fresh mount of the same two-layer tree with three daemons:
#
#   compiled-out   the -DUNIONFUSE_NO_TRACE build           (the baseline)
#   trace-off      the normal build, no --trace             (what users run)
#   trace-on       the normal build, --trace=FILE           (for comparison)
#
# interleaved over rounds (the order rotates), and prints for each the median
# wall time of the workload and the median CPU time of the daemon (all its
# threads, from its rusage), with the median of the per-round ratios to the
# baseline.
#
# Usage: bench/trace_cost.sh [--rounds N] [--files N] [--workdir DIR]
# As root (it mounts). Builds and trees are kept in WORKDIR between runs.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=10
FILES=4000            # files in the tree; lstat and read of all of them
WORKDIR=${TRACE_COST_WORKDIR:-/var/tmp/unionfuse-trace-cost}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

die() { printf 'trace_cost: %s\n' "$*" >&2; exit 1; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

while [ $# -gt 0 ]; do
    case $1 in
    --rounds) ROUNDS=$2; shift ;;
    --files) FILES=$2; shift ;;
    --workdir) WORKDIR=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds: not a positive number: $ROUNDS"
if ! [[ $FILES =~ ^[1-9][0-9]*$ ]] || [ "$FILES" -lt 100 ]; then
    die "--files: a number, at least 100"
fi
[ "$(id -u)" = 0 ] || die "must run as root (it mounts)"
for t in cmake cc awk sort xargs; do
    command -v "$t" >/dev/null || die "missing tool: $t"
done
mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd)
MNT=$WORKDIR/mnt
RESULTS=$WORKDIR/results.tsv

# ------------------------------------------------------------------ cleanup

# Whatever happens, our mount goes and our daemon ends: a daemon left behind
# would hold the tree and skew the next run. Only this script's own mount
# point and the pid it started are touched.
DAEMON_PID=
cleanup() {
    if grep -q " $MNT fuse" /proc/self/mounts 2>/dev/null; then
        umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
    fi
    if [ -n "$DAEMON_PID" ]; then
        kill "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ builds

# Both from the same tree with the same flags but one define, so that the
# only difference between the two daemons is the trace code.
build() {       # NAME EXTRA_C_FLAGS
    local dir=$WORKDIR/build-$1 log=$WORKDIR/build-$1.log
    if ! cmake -S "$SRC" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DCMAKE_C_FLAGS="$2" >"$log" 2>&1 ||
        ! cmake --build "$dir" --target unionfuse -j"$(nproc)" >>"$log" 2>&1; then
        die "build $1 failed; see $log"
    fi
}

log "building the normal and the compiled-out daemons (logs in $WORKDIR)"
build normal ""
build notrace "-DUNIONFUSE_NO_TRACE"
BIN_NORMAL=$WORKDIR/build-normal/unionfuse
BIN_NOTRACE=$WORKDIR/build-notrace/unionfuse

FSOPS=$WORKDIR/fsops
if [ ! -x "$FSOPS" ] || [ "$SRC/bench/lib/fsops.c" -nt "$FSOPS" ]; then
    cc -O2 -Wall -o "$FSOPS" "$SRC/bench/lib/fsops.c" || die "cannot build fsops"
fi

# ------------------------------------------------------------------ the tree

# Two layers: L0 holds every file (1 KiB, 100 a directory), L1 shadows one
# file in ten, so lookups are answered by both. Lists are relative to the
# mount point: the workload runs from inside it.
TREE=$WORKDIR/tree-$FILES
make_tree() {
    local i
    rm -rf "$TREE"
    mkdir -p "$TREE/lists"
    for ((i = 0; i < FILES; i++)); do
        printf 'd%03d/f%05d\n' $((i / 100)) "$i"
    done >"$TREE/lists/all"
    awk '{ print 1024, $0 }' "$TREE/lists/all" | "$FSOPS" gen "$TREE/L0" 1
    awk 'NR % 10 == 0 { print 512, $0 }' "$TREE/lists/all" | "$FSOPS" gen "$TREE/L1" 2
    # copy-ups and deletes take different files, one in eight each
    awk 'NR % 8 == 1' "$TREE/lists/all" >"$TREE/lists/append"
    awk 'NR % 8 == 5' "$TREE/lists/all" >"$TREE/lists/delete"
    touch "$TREE/done"
}
[ -e "$TREE/done" ] || { log "generating $FILES files in $TREE"; make_tree; }

# ------------------------------------------------------------------ one run

# Starts the daemon in the foreground, in the background of this shell, so
# that bash's `time` gives its rusage (all threads) when it exits.
mount_daemon() {       # BIN CPUFILE [EXTRA OPTIONS...]
    local bin=$1 cpufile=$2 i
    shift 2
    rm -rf "$WORKDIR/upper" "$WORKDIR/upper.work"
    mkdir -p "$MNT"
    (
        TIMEFORMAT='%3U %3S'
        time "$bin" mount -f "$@" "$TREE/L0" "$TREE/L1" --upper "$WORKDIR/upper" "$MNT"
    ) 2>"$cpufile" &
    DAEMON_PID=$!
    for ((i = 0; i < 200; i++)); do
        grep -q " $MNT fuse" /proc/self/mounts && return 0
        sleep 0.05
    done
    die "$bin did not mount $MNT: $(cat "$cpufile")"
}

unmount_daemon() {
    umount "$MNT"
    wait "$DAEMON_PID" || die "daemon failed: $(cat "$1")"
    DAEMON_PID=
}

# The workload, from inside the mount: every kind of traced decision.
workload() {
    (
        cd "$MNT"
        "$FSOPS" lstat "$TREE/lists/all" present         # lookups
        "$FSOPS" readall "$TREE/lists/all"               # open/read
        "$FSOPS" append "$TREE/lists/append" 100         # copy-ups
        "$FSOPS" create new $((FILES / 2)) 500 64        # creates
        xargs -a "$TREE/lists/delete" rm                 # whiteouts
    )
}

# Sets WALL and CPU (seconds). Not run in a subshell: the mount, its daemon
# and `die` all belong to this shell, so the EXIT trap can clean up.
run_once() {           # VARIANT
    local cpufile=$WORKDIR/cpu.txt start end user sys
    case $1 in
    compiled-out) mount_daemon "$BIN_NOTRACE" "$cpufile" ;;
    trace-off) mount_daemon "$BIN_NORMAL" "$cpufile" ;;
    trace-on) : >"$WORKDIR/trace.log"
              mount_daemon "$BIN_NORMAL" "$cpufile" --trace="$WORKDIR/trace.log" ;;
    esac
    sync                  # each run starts with no dirty pages of the last
    start=$EPOCHREALTIME
    workload
    end=$EPOCHREALTIME
    unmount_daemon "$cpufile"
    # bash's `time` line is the last of the daemon's stderr
    read -r user sys < <(tail -n 1 "$cpufile")
    WALL=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }')
    CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')
}

# The baseline must really be silent: otherwise the comparison is of two
# identical daemons and proves nothing.
check_compiled_out() {
    mount_daemon "$BIN_NOTRACE" "$WORKDIR/cpu.txt" --trace="$WORKDIR/trace-check.log"
    stat "$MNT/d000/f00000" >/dev/null
    unmount_daemon "$WORKDIR/cpu.txt"
    [ ! -s "$WORKDIR/trace-check.log" ] ||
        die "the -DUNIONFUSE_NO_TRACE build still traces: is the switch in fs/trace.h?"
    rm -f "$WORKDIR/trace-check.log"
}
check_compiled_out

# ------------------------------------------------------------------ rounds

VARIANTS=(compiled-out trace-off trace-on)
printf 'round\tvariant\twall\tcpu\n' >"$RESULTS"
log "$ROUNDS rounds of: lstat + read $FILES files, $(wc -l <"$TREE/lists/append") copy-ups," \
    "$((FILES / 2)) creates, $(wc -l <"$TREE/lists/delete") deletes"
run_once trace-off                  # warm-up: page cache of the tree, binaries
for ((r = 1; r <= ROUNDS; r++)); do
    for ((k = 0; k < 3; k++)); do
        v=${VARIANTS[$(((r + k) % 3))]}
        run_once "$v"
        printf '%d\t%s\t%s\t%s\n' "$r" "$v" "$WALL" "$CPU" >>"$RESULTS"
    done
    log "round $r/$ROUNDS done"
done
TRACE_LINES=$(wc -l <"$WORKDIR/trace.log")

# ------------------------------------------------------------------ report

# Medians of each variant, and the median over rounds of the ratio to the
# baseline taken within the round (so slow drift of the machine cancels),
# with the range of those ratios as the noise.
report() {
    awk -F'\t' '
        function median(a, n,   i, j, t) {
            for (i = 2; i <= n; i++)
                for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        function minmax(a, n,   i) {
            lo = hi = a[1]
            for (i = 2; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
        }
        NR == 1 { next }
        { wall[$2, $1] = $3; cpu[$2, $1] = $4; rounds[$1] = 1 }
        END {
            split("compiled-out trace-off trace-on", vs, " ")
            printf "%-14s %-26s %s\n", "variant", "wall: median (min-max)", "daemon CPU: median (min-max)"
            for (k = 1; k <= 3; k++) {
                n = 0
                for (r in rounds) { n++; w[n] = wall[vs[k], r]; c[n] = cpu[vs[k], r] }
                minmax(w, n); wl = lo; wh = hi
                minmax(c, n); cl = lo; ch = hi
                printf "%-14s %6.3fs (%.3f-%.3f)%5s %6.3fs (%.3f-%.3f)\n", vs[k],
                       median(w, n), wl, wh, "", median(c, n), cl, ch
            }
            print ""
            printf "ratios to compiled-out, median of %d rounds (range over rounds):\n", n
            for (k = 2; k <= 3; k++) {
                n = 0
                for (r in rounds) {
                    n++
                    w[n] = wall[vs[k], r] / wall["compiled-out", r]
                    c[n] = cpu[vs[k], r] / cpu["compiled-out", r]
                }
                minmax(w, n); wl = lo; wh = hi
                minmax(c, n); cl = lo; ch = hi
                printf "  %-10s wall x%.3f (x%.3f-x%.3f)   daemon CPU x%.3f (x%.3f-x%.3f)\n",
                       vs[k], median(w, n), wl, wh, median(c, n), cl, ch
            }
        }' "$RESULTS"
}

echo
echo "trace cost: $ROUNDS rounds, $FILES files ($(nproc) CPUs, $(uname -r))"
report
echo "(trace-on wrote $TRACE_LINES lines a run; raw results: $RESULTS)"
