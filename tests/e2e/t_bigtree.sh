#!/bin/bash
# A 50k-file tree walks fine with the daemon held to 1024 open files: the
# daemon must not keep one descriptor per inode the kernel knows about.
. "$(dirname "$0")/lib.sh"

test_50k_file_tree_walks_under_ulimit_1024() {
        local base app upper n fds limit
        base=$(mkd base) app=$(mkd app) upper=$(mkd upper)
        "$HELPERS/mktree" "$base/tree" 40 1000 || fail "mktree failed"
        "$HELPERS/mktree" "$app/tree2" 10 1000 || fail "mktree failed"
        mkdir -p "$app/tree/d0000"
        touch "$app/tree/d0000/extra"
        # 50 dirs x 1000 files, plus tree, tree2, extra
        ( ulimit -n 1024 && uf_mount "$T/m" "$upper" "$base" "$app" ) || fail "mount under ulimit -n 1024 failed"
        UF_PID=$(daemon_pid "$T/m") || true
        [ -n "$UF_PID" ] || fail "cannot find the daemon of $T/m"
        limit=$(awk '/Max open files/ { print $4 }' "/proc/$UF_PID/limits")
        [ "$limit" -le 1024 ] || fail "daemon runs with a limit of $limit open files, not 1024"
        n=$(find "$T/m" 2> "$T/find.err" | wc -l) || true
        expect_eq "find errors" "" "$(head -3 "$T/find.err")"
        expect_eq "entries found" $((1 + 2 + 50 + 50000 + 1)) "$n"
        n=$(find "$T/m" -type f -printf '%i %s\n' 2> "$T/stat.err" | wc -l) || true
        expect_eq "stat errors" "" "$(head -3 "$T/stat.err")"
        expect_eq "files stat'ed" 50001 "$n"
        expect_ok "open and read every file" sh -c "find '$T/m' -type f -print0 | xargs -0 cat > /dev/null"
        expect_ok "second walk" sh -c "find '$T/m' -type f -print0 | xargs -0 stat -c %i > /dev/null"
        touch "$T/m/tree/d0001/f00001"
        expect_exists "$upper/tree/d0001/f00001" "a write after the walk"
        expect_ok "rm -rf of a lower dir of 1000 files" rm -rf "$T/m/tree/d0002"
        expect_absent "$T/m/tree/d0002"
        expect_char_whiteout "$upper/tree/d0002"
        fds=$(ls "/proc/$UF_PID/fd" | wc -l)
        note "daemon holds $fds descriptors after the walk"
        [ "$fds" -lt 512 ] || fail "daemon holds $fds open descriptors after walking 50k files"
}

test_100k_entries_in_one_merged_directory_list_fully() {
        local base app upper
        base=$(mkd base) app=$(mkd app) upper=$(mkd upper)
        "$HELPERS/mktree" "$base/tree" 1 60000 || fail "mktree failed"
        # base: tree/d0000/f00000..f59999; app: tree/d0000/g00000..g39999
        "$HELPERS/mktree" "$app/tree" 1 40000 g || fail "mktree failed"
        uf_mount "$T/m" "$upper" "$base" "$app"
        expect_eq "names in the merged dir" 100000 "$(ls -f "$T/m/tree/d0000" | grep -vc '^\.\.\?$')"
        expect_eq "distinct names" 100000 "$(ls -f "$T/m/tree/d0000" | grep -v '^\.\.\?$' | sort -u | wc -l)"
        rm "$T/m/tree/d0000/f00000" "$T/m/tree/d0000/g00000"
        touch "$T/m/tree/d0000/h"
        expect_eq "names after a change" 99999 "$(ls -f "$T/m/tree/d0000" | grep -vc '^\.\.\?$')"
}

# Whether the daemon holds the merged listing of DIR (its explain xattr).
view_state() {
        getfattr --only-values -n user.unionfuse.origin "$1" 2>/dev/null | grep view_built
}

# Entries freed so far, as the daemon's trace tells.
freed_in_trace() {
        awk '/^forget: [0-9]+ entries below directories the kernel forgot freed, [0-9]+ kept, [0-9.]+ ms$/ { n += $2 }
             END { print n + 0 }' "$T/trace"
}

# Have the kernel forget what it can (two drops: the first leaves some
# directories whose entries it dropped, the second takes them), then wait
# up to TRIES tenths of a second for the daemon to free MIN of TOTAL entries.
forget_and_wait_freed() {      # MIN TOTAL TRIES
        local i
        echo 2 > /proc/sys/vm/drop_caches
        sleep 0.5
        echo 2 > /proc/sys/vm/drop_caches
        for i in $(seq "$3"); do
                [ "$(freed_in_trace)" -ge "$1" ] && return 0
                sleep 0.1
        done
        fail "entries freed by the daemon: $(freed_in_trace) of $2: $(tail -2 "$T/trace")"
}

# The kernel forgets the inodes it drops from its caches (drop_caches here,
# memory pressure elsewhere); the daemon then frees the merged views below
# them (fs/evict.c), and builds them again the same when asked.
test_views_the_kernel_forgets_are_freed_and_come_back_the_same() {
        local base app upper before after rss1 rss2 i n
        base=$(mkd base) app=$(mkd app) upper=$(mkd upper)
        "$HELPERS/mktree" "$base/tree" 20 1000 || fail "mktree failed"
        "$HELPERS/mktree" "$app/tree" 2 10 g || fail "mktree failed"
        mkdir -p "$T/m"
        track_mount "$T/m"
        "$UF" mount --trace="$T/trace" "$base" "$app" --upper "$upper" "$T/m" || fail "mount failed"
        UF_PID=$(daemon_pid "$T/m") || true
        rm "$T/m/tree/d0001/f00001"
        echo new > "$T/m/tree/d0001/new"
        mkdir "$T/m/tree/d0002/sub"
        # Copies keep the numbers they had below: through their origin,
        # found below their name, or, once moved, where their copy-up
        # recorded it was.
        chmod 0600 "$T/m/tree/d0003/f00002"
        echo more >> "$T/m/tree/d0004/f00003"
        mv "$T/m/tree/d0004/f00003" "$T/m/tree/d0004/moved"
        before=$(cd "$T/m" && find . -printf '%i %y %s %p\n' | sort)
        expect_eq "d0003 listed" "view_built=yes" "$(view_state "$T/m/tree/d0003")"
        rss1=$(awk '/VmRSS/ { print $2 }' "/proc/$UF_PID/status")
        # Not a look at the mount meanwhile: what it looks up is held again.
        sync
        forget_and_wait_freed 15000 20042 100
        n=0
        for i in $(seq 0 19); do
                [ "$(view_state "$T/m/tree/d$(printf %04d "$i")")" = view_built=no ] && n=$((n + 1))
        done
        [ "$n" -ge 15 ] || fail "only $n of 20 directories forgotten had their listing freed"
        expect_eq "d0003, its copied-up file in place" "view_built=no" "$(view_state "$T/m/tree/d0003")"
        expect_eq "d0004, its copied-up file moved" "view_built=no" "$(view_state "$T/m/tree/d0004")"
        rss2=$(awk '/VmRSS/ { print $2 }' "/proc/$UF_PID/status")
        note "daemon RSS $rss1 kB after the walk, $rss2 kB once the kernel forgot it"
        after=$(cd "$T/m" && find . -printf '%i %y %s %p\n' | sort)
        expect_eq "entries after" 20043 "$(echo "$after" | wc -l)"
        expect_eq "names, types, sizes and inode numbers" "" \
                "$(diff <(echo "$before") <(echo "$after") | grep "^[<>]" | head -6)"
        expect_eq "content of a new file" new "$(cat "$T/m/tree/d0001/new")"
}

# -o evict_after=N lowers the mark: a tree far below 1024 entries is freed
# once the kernel forgets it.
test_evict_after_lets_a_small_tree_go() {
        local base
        base=$(mkd base)
        "$HELPERS/mktree" "$base/tree" 2 20 || fail "mktree failed"
        mkdir -p "$T/m"
        track_mount "$T/m"
        "$UF" mount -o evict_after=10 --trace="$T/trace" "$base" "$T/m" || fail "mount failed"
        expect_eq "entries" 44 "$(find "$T/m" | wc -l)"
        forget_and_wait_freed 40 42 50
        expect_eq "entries after" 44 "$(find "$T/m" | wc -l)"
}

# Walks, reads, creations and removals go on while the kernel forgets
# again and again: sweeps run between requests that rebuild what they
# freed (an ASan build of this test is the check that nothing freed is
# used), and every walk sees the whole tree.
test_walks_and_changes_while_the_kernel_keeps_forgetting() {
        local base upper i n pids=() bad=0
        base=$(mkd base) upper=$(mkd upper)
        "$HELPERS/mktree" "$base/tree" 10 500 || fail "mktree failed"
        mkdir -p "$T/m"
        track_mount "$T/m"
        "$UF" mount --trace="$T/trace" "$base" --upper "$upper" "$T/m" || fail "mount failed"
        UF_PID=$(daemon_pid "$T/m") || true
        # d0005-d0007: listed once, then left to be forgotten and freed
        # while the walkers go on in d0000-d0004.
        expect_eq "files in d0005-d0007" 1500 "$(find "$T/m/tree/d000"[567] -type f | wc -l)"
        for i in 1 2 3; do
                (
                        n=0
                        while [ ! -e "$T/stop" ]; do
                                n=$((n % 5))
                                # Not a listing of tree: it would look up
                                # d0005-d0007 again.
                                c=$(find "$T/m/tree/d000"[0-4] -name 'f*' | wc -l)
                                [ "$c" = 2500 ] || { echo "walk $i.$n saw $c files" >> "$T/errors"; }
                                cat "$T/m/tree/d000$n/f0000$i" > /dev/null 2>&1 ||
                                        echo "cat $i.$n failed" >> "$T/errors"
                        done
                ) &
                pids+=($!)
        done
        (
                for n in $(seq 200); do
                        echo "$n" > "$T/m/tree/d0008/new$n" && rm "$T/m/tree/d0009/f00$(printf %03d "$n")" ||
                                echo "change $n failed" >> "$T/errors"
                done
        ) &
        pids+=($!)
        for i in $(seq 12); do
                echo 2 > /proc/sys/vm/drop_caches
                sleep 0.3
        done
        touch "$T/stop"
        for i in "${pids[@]}"; do
                wait "$i" || bad=1
        done
        alive "$UF_PID" || fail "the daemon died"
        expect_eq "errors of the walkers and writers" "" "$(head -5 "$T/errors" 2>/dev/null)"
        [ "$bad" = 0 ] || fail "a walker or writer failed"
        note "sweeps: $(grep -c '^forget: ' "$T/trace"), entries freed: $(freed_in_trace)"
        [ "$(freed_in_trace)" -gt 0 ] || fail "nothing was freed: the test tested nothing"
        expect_eq "files in d0000-d0007" 4000 "$(find "$T/m/tree/d000"[0-7] -type f | wc -l)"
        expect_eq "files in d0008" 700 "$(ls "$T/m/tree/d0008" | wc -l)"
        expect_eq "files in d0009" 300 "$(ls "$T/m/tree/d0009" | wc -l)"
        expect_eq "a new file" 77 "$(cat "$T/m/tree/d0008/new77")"
}

run_tests
