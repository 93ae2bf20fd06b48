#!/bin/bash
# Many processes on one mount (unionfuse-load): reads, in-place writes that
# copy lower files up, whole-file replaces through a temporary file and a
# rename, truncates, renames, exchanges and unlinks on overlapping files,
# for a minute; then every file must hold exactly what its last writer
# wrote: through the live mount, after a remount, and through kernel
# overlayfs reading the same layers. The daemon's peak memory is reported
# and bounded.
#
# Knobs: STRESS_LOAD_SECONDS (default 60), STRESS_LOAD_PROCS (default 16),
# STRESS_LOAD_SEED (default 1), STRESS_RSS_LIMIT_MB (the bound on the
# daemon's VmHWM; default 64, or 1024 for an ASan build, whose shadow memory
# and quarantine are not the daemon's own).

source "$(dirname "$0")/stress_lib.sh"

LOAD_SECONDS=${STRESS_LOAD_SECONDS:-60}
LOAD_PROCS=${STRESS_LOAD_PROCS:-16}
LOAD_SEED=${STRESS_LOAD_SEED:-1}
if uf_is_asan; then
        RSS_LIMIT_MB=${STRESS_RSS_LIMIT_MB:-1024}
else
        RSS_LIMIT_MB=${STRESS_RSS_LIMIT_MB:-64}
fi
# The run itself, the checks after it, and room for a slow machine.
E2E_TEST_TIMEOUT=$((LOAD_SECONDS + 150))

# Kernel overlayfs, read-only, over the layers unionfuse wrote: the upper
# layer must mean the same to it.
overlay_ro_mount() {    # MNT LAYER... (top first)
        local mnt=$1 lowerdir
        shift
        lowerdir=$(IFS=:; echo "$*")
        grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
        grep -qw overlay /proc/filesystems || return 1
        mkdir -p "$mnt"
        track_mount "$mnt"
        mount -t overlay overlay -o "ro,lowerdir=$lowerdir" "$mnt"
}

# Checks the tree at ROOT; a wrong one is added to CHECK_FAILURES, so the
# other views are still checked: whether the live mount alone is wrong (a
# cache) or the layers too (the disk) is worth knowing.
CHECK_FAILURES=""
check_tree() {  # WHAT ROOT
        local out
        out=$(loadgen check "$2" "$T/state" -l "$T/logs" 2>&1) || {
                note "$1: $out"
                CHECK_FAILURES="${CHECK_FAILURES:+$CHECK_FAILURES; }$1: $(echo "$out" | grep -m1 'check:' | sed 's/^unionfuse-load: check: //')"
        }
        return 0
}

test_load_many_processes_on_overlapping_files_lose_nothing() {
        local lower=$T/lower upper=$T/upper out rc=0 hwm fds start
        mkdir -p "$lower" "$T/logs"
        loadgen prepare "$lower" "$T/state"
        tree_shape "$lower" > "$T/lower.shape"
        uf_mount_untracked "$T/m" "$upper" "$lower"
        [ -n "$UF_PID" ] || fail "cannot find the daemon"

        start=$SECONDS
        out=$(loadgen run "$T/m" "$T/state" -p "$LOAD_PROCS" -t "$LOAD_SECONDS" \
                -S "$LOAD_SEED" -l "$T/logs" 2>&1) || rc=$?
        note "$(echo "$out" | grep -v '^worker')"
        if [ "$rc" -ne 0 ]; then
                note "$(echo "$out" | grep -v '^unionfuse-load: [0-9]* processes' | head -30)"
                fail "the load run failed (status $rc): $(echo "$out" | grep -m1 -e 'worker [0-9]*,' -e hung -e 'unionfuse-load:')"
        fi
        alive "$UF_PID" || fail "the daemon died under load"
        hwm=$(daemon_peak_rss_kb "$UF_PID")
        fds=$(daemon_fd_count "$UF_PID")
        note "daemon peak RSS (VmHWM) $((hwm / 1024)) MiB (bound $RSS_LIMIT_MB MiB), $fds open descriptors after the run; seed $LOAD_SEED, $(since "$start")s"
        [ "$hwm" -le $((RSS_LIMIT_MB * 1024)) ] ||
                fail "daemon peak RSS $((hwm / 1024)) MiB exceeds $RSS_LIMIT_MB MiB"

        check_tree "through the live mount" "$T/m"
        unmount "$T/m"
        expect_no_scratch_names_in "$upper"
        uf_mount_untracked "$T/m" "$upper" "$lower"
        expect_work_clean "$upper"
        check_tree "after a remount" "$T/m"
        unmount "$T/m"
        if overlay_ro_mount "$T/ovl" "$upper" "$lower"; then
                check_tree "through kernel overlayfs over the same layers" "$T/ovl"
                umount "$T/ovl"
        else
                note "kernel overlayfs not available: its check skipped"
        fi

        out=$(loadgen check-lower "$lower" "$T/state" 2>&1) ||
                fail "the lower layer changed: $(echo "$out" | grep -m1 'check:')"
        expect_eq "names, sizes, modes and times in the lower layer" "" \
                "$(diff "$T/lower.shape" <(tree_shape "$lower") | grep '^[<>]' | head -3)"
        expect_eq "wrong after the load" "" "$CHECK_FAILURES"
}

# What the load test's listings can catch by chance, made certain: a
# directory handle opened before a rename in that directory, read after
# it. The daemon answers from the listing it took at opendir, the kernel
# keeps that answer as the directory's cached listing, and every later
# listing (a new opendir) shows the old name and misses the new one.
test_listing_opened_before_a_rename_does_not_go_stale() {
        local base=$T/base upper=$T/upper m=$T/m
        command -v python3 >/dev/null || skip "python3 not installed"
        mkdir -p "$base/dir"
        echo x > "$base/dir/x"
        echo keep > "$base/dir/keep"
        uf_mount "$m" "$upper" "$base"
        python3 - "$m/dir" <<'PY'
import os, sys
d = sys.argv[1]
it = os.scandir(d)                   # opendir, nothing read yet
os.rename(d + "/x", d + "/y")        # the directory changes
list(it)                             # the old handle is read to the end
PY
        expect_exists "$m/dir/y"
        expect_eq "a new listing after the rename" "keep y" "$(names "$m/dir")"
}

run_tests
