#!/bin/bash
# Crash safety: the daemon is killed with SIGKILL in the middle of an
# operation (unionfuse-crashkit killwhen watches the layers and kills at the
# moment the operation is half done): (a) a copy-up of a large file, (b) a
# rename of a directory with lower content, (c) an rmdir of a merged
# directory, in both whiteout formats, (d) bursts of writes with fsync, and
# (e) sixteen processes of mixed operations. The dead mount is aborted and
# detached, and the layers are mounted again. Then: the lower layers are
# untouched (the harness checks their fingerprints after every test), every
# fsync'd write is there, nothing half copied or half moved shows in the
# merged view, and the next mount leaves the work directory empty.
#
# The copy-up case is also in ../e2e/t_writes.sh (killed after a guessed
# delay); here it is killed at chosen points of the copy.

source "$(dirname "$0")/stress_lib.sh"

# Runs the operation CMD under "killwhen", which kills the daemon of the
# current mount (UF_PID) the moment COND comes true. Returns 0 if it did,
# 1 if the operation ended first (nothing crashed).
crash_during() {        # COND ARG... -- CMD ARG...
        local rc=0
        crashkit killwhen "$UF_PID" 30 "$@" > "$T/killwhen.out" 2>&1 || rc=$?
        note "$(grep -v '^syncwriter' "$T/killwhen.out")"
        [ "$rc" -le 1 ] || fail "killwhen: $(tail -1 "$T/killwhen.out")"
        return $rc
}

# Aborts and detaches the dead mount.
after_crash() { # MNT
        crash_daemon "$1" "$UF_PID"
        note "left in the work directory by the crash: $(work_scratch "$UPPER")"
}

# ------------------------------------------------------------- (a) copy-up

# Killed while a 48 MiB lower file is being copied up, at 1 MiB and at
# 24 MiB into the copy: afterwards the upper layer holds the whole file or
# nothing, the merged view shows the lower file, and the work is redone.
crash_in_copyup_at() {  # BYTES
        local at=$1 base upper
        base=$T/base upper=$T/upper.$at
        UPPER=$upper
        uf_mount "$T/m" "$upper" "$base"
        if ! crash_during grows "$upper.work/work" "$at" -- \
                sh -c "printf W | dd of='$T/m/big' bs=1 seek=100 conv=notrunc status=none"; then
                unmount "$T/m"
                note "the copy-up ended before $at bytes were copied: nothing crashed"
                return 0
        fi
        after_crash "$T/m"
        if exists "$upper/big"; then
                cmp -s "$base/big" "$upper/big" || cmp -s "$T/written" "$upper/big" ||
                        fail "killed at $at bytes: a partial copy ($(stat -c %s "$upper/big") bytes) is in the upper layer"
        fi
        expect_eq "upper entries besides big after the crash" "" \
                "$(cd "$upper" && find . -mindepth 1 ! -path ./big)"
        expect_no_scratch_names_in "$upper"
        uf_mount "$T/m" "$upper" "$base"
        expect_work_clean "$upper"
        cmp -s "$base/big" "$T/m/big" || cmp -s "$T/written" "$T/m/big" ||
                fail "killed at $at bytes: the merged big is neither the lower file nor the written one"
        printf 'W' | dd of="$T/m/big" bs=1 seek=100 conv=notrunc status=none
        expect_ok "the write, done again after the crash" cmp "$T/written" "$T/m/big"
        unmount "$T/m"
        expect_ok "the upper copy after the write" cmp "$T/written" "$upper/big"
}

test_crash_during_copyup_of_large_file_leaves_lower_file_and_no_half_copy() {
        mkdir -p "$T/base"
        head -c $((48 << 20)) /dev/urandom > "$T/base/big"
        cp "$T/base/big" "$T/written"
        printf 'W' | dd of="$T/written" bs=1 seek=100 conv=notrunc status=none
        crash_in_copyup_at $((1 << 20))
        crash_in_copyup_at $((24 << 20))
}

# ------------------------------------------------------------- (b) rename

# A lower tree: ten directories of small files, two 8 MiB files, a hard
# link pair, a symlink, an xattr; the same tree as the merged view must
# show it (REF) once ten files are deleted through the mount.
make_lower_tree() {     # BASE REF
        local base=$1 ref=$2 d i
        mkdir -p "$base/tree"
        for d in 0 1 2 3 4 5 6 7 8 9; do
                mkdir "$base/tree/sub$d"
                for i in $(seq 0 39); do
                        echo "file $d/$i" > "$base/tree/sub$d/f$i"
                done
        done
        head -c $((8 << 20)) /dev/urandom > "$base/tree/big1"
        head -c $((8 << 20)) /dev/urandom > "$base/tree/big2"
        echo linked > "$base/tree/sub1/a"
        ln "$base/tree/sub1/a" "$base/tree/sub2/b"
        ln -s ../sub1/a "$base/tree/sub3/link"
        setfattr -n user.note -v kept "$base/tree/sub4/f1"
        mkdir -p "$ref"
        cp -a "$base/tree" "$ref/tree"
        rm -f "$ref"/tree/sub0/f[0-9]
}

# Killed while renaming a directory whose content lives in the lower layer
# (the rename copies the whole tree up first): afterwards the merged view
# shows the whole tree, under the old name or the new one, never part of it.
test_crash_during_rename_of_lower_directory_shows_whole_tree_under_one_name() {
        local base=$T/base upper=$T/upper name
        UPPER=$upper
        make_lower_tree "$base" "$T/ref"
        uf_mount "$T/m" "$upper" "$base"
        rm -f "$T"/m/tree/sub0/f[0-9]
        if ! crash_during entries "$upper/tree" 5 -- mv "$T/m/tree" "$T/m/moved"; then
                unmount "$T/m"
                skip "the tree copy-up ended before the watcher saw it half done"
        fi
        after_crash "$T/m"
        expect_no_scratch_names_in "$upper"
        uf_mount "$T/m" "$upper" "$base"
        expect_work_clean "$upper"
        if exists "$T/m/moved"; then
                name=moved
                expect_absent "$T/m/tree" "the rename was done, so the old name"
        else
                name=tree
        fi
        note "after the crash the tree is at /$name"
        expect_same_tree "the tree at /$name after a crash in its rename" "$T/ref/tree" "$T/m/$name"
        # and the rename, done again, works
        [ "$name" = tree ] && mv "$T/m/tree" "$T/m/moved"
        expect_same_tree "the tree after the rename is done again" "$T/ref/tree" "$T/m/moved"
}

# ------------------------------------------------------------- (c) rmdir

# A merged directory of 1000 lower files, emptied through the mount (1000
# whiteouts in its upper copy), then removed; killed in the middle of the
# rmdir. Afterwards it is gone, or there and empty: a deleted lower file
# never comes back.
crash_in_rmdir() {      # WHITEOUT-FORMAT KILL-CONDITION
        local format=$1 base=$T/base upper=$T/upper i
        shift
        UPPER=$upper
        mkdir -p "$base/d/keep"
        for i in $(seq 0 999); do
                echo "$i" > "$base/d/f$i"
        done
        rmdir "$base/d/keep"
        UF_OPTS=whiteout=$format uf_mount "$T/m" "$upper" "$base"
        find "$T/m/d" -mindepth 1 -delete
        expect_eq "the emptied directory" "" "$(names "$T/m/d")"
        if ! crash_during "$@" -- rmdir "$T/m/d"; then
                unmount "$T/m"
                skip "the rmdir ended before the watcher saw it half done"
        fi
        after_crash "$T/m"
        expect_no_scratch_names_in "$upper"
        UF_OPTS=whiteout=$format uf_mount "$T/m" "$upper" "$base"
        expect_work_clean "$upper"
        if exists "$T/m/d"; then
                note "after the crash the directory is still there"
                expect_eq "the directory whose files were all deleted, after a crash in its rmdir" \
                        "" "$(names "$T/m/d" | cut -c1-60)"
                rmdir "$T/m/d"
        fi
        expect_absent "$T/m/d"
        unmount "$T/m"
}

test_crash_during_rmdir_of_merged_directory_resurrects_nothing() {
        crash_in_rmdir overlay notdir "$T/upper/d"
}

# The same with .wh.NAME whiteouts (-o whiteout=aufs), where the upper
# directory is moved to the work directory first and its whiteout written
# after: the crash comes between the two.
test_crash_during_rmdir_with_aufs_whiteouts_resurrects_nothing() {
        crash_in_rmdir aufs gone "$T/upper/d"
}

# ------------------------------------------------------------- (d) fsync

# Bursts of writes (appends and overwrites) to a lower file (copied up by
# the first open for writing) and to a new file, an fsync of each after
# every burst; killed after 40 synced rounds. Every synced record must be
# there after the remount, in the merged view and in the upper layer.
test_crash_after_fsync_keeps_every_synced_write() {
        local base=$T/base upper=$T/upper out
        UPPER=$upper
        mkdir -p "$base/var/log"
        crashkit syncprep "$base/var/log/journal" 0 7
        uf_mount "$T/m" "$upper" "$base"
        crash_during lines "$T/synced" 40 -- "$STRESS_BIN/unionfuse-crashkit" syncwriter \
                "$T/synced" 7 "$T/m/var/log/journal" "$T/m/var/log/new" ||
                fail "the writer did not sync 40 rounds: $(cat "$T/killwhen.out")"
        after_crash "$T/m"
        note "$(grep '^syncwriter' "$T/killwhen.out"), $(wc -l < "$T/synced") rounds logged as synced"
        expect_no_scratch_names_in "$upper"
        out=$(crashkit syncverify "$T/synced" 7 "$upper/var/log/journal" "$upper/var/log/new" 2>&1) ||
                fail "in the upper layer after the crash: $out"
        uf_mount "$T/m" "$upper" "$base"
        expect_work_clean "$upper"
        out=$(crashkit syncverify "$T/synced" 7 "$T/m/var/log/journal" "$T/m/var/log/new" 2>&1) ||
                fail "through the mount after the crash: $out"
        unmount "$T/m"
}

# ------------------------------------------------------------- (e) under load

# Sixteen processes of unionfuse-load (copy-ups, replaces, renames,
# exchanges, truncates, unlinks) and the daemon killed at a random moment.
# After a remount every path that no worker was changing at that moment
# holds exactly what its last writer left; the few that were being changed
# hold whole blocks or nothing.
test_crash_under_load_keeps_every_finished_change() {
        local lower=$T/lower upper=$T/upper delay out rc=0
        UPPER=$upper
        mkdir -p "$lower" "$T/logs"
        loadgen prepare "$lower" "$T/state" -f 160
        tree_shape "$lower" > "$T/lower.shape"
        uf_mount_untracked "$T/m" "$upper" "$lower"
        loadgen run "$T/m" "$T/state" -p 16 -t 30 -C -S "$RANDOM" -l "$T/logs" > "$T/run.out" 2>&1 &
        delay=$((1000 + RANDOM % 1500))
        sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
        after_crash "$T/m"
        wait $! || rc=$?
        note "killed after ${delay} ms of load; $(grep -c '^unionfuse-load: worker' "$T/run.out") workers saw the crash"
        [ "$rc" -eq 0 ] || fail "the load run under a crash: $(tail -3 "$T/run.out")"
        expect_no_scratch_names_in "$upper"
        uf_mount_untracked "$T/m" "$upper" "$lower"
        expect_work_clean "$upper"
        out=$(loadgen check "$T/m" "$T/state" -C -l "$T/logs" 2>&1) || {
                note "$out"
                fail "after a crash under load: $(echo "$out" | grep -m1 'check:')"
        }
        unmount "$T/m"
        out=$(loadgen check-lower "$lower" "$T/state" 2>&1) ||
                fail "the lower layer changed: $(echo "$out" | grep -m1 'check:')"
        expect_eq "names, sizes, modes and times in the lower layer" "" \
                "$(diff "$T/lower.shape" <(tree_shape "$lower") | grep '^[<>]' | head -3)"
}

run_tests
