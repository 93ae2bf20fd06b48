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

run_tests
