#!/bin/bash
# The trace (--trace=FILE): every union decision of a scripted session is
# told once, naming the right layer, in words a learner reads.
. "$(dirname "$0")/lib.sh"

# Layers: base holds etc/passwd, etc/hosts, bin/vi and a directory app/;
# top (layer 1) shadows etc/hosts.
make_stack() {
        base=$(mkd base) top=$(mkd top)
        mkdir -p "$base/etc" "$base/bin" "$base/app/lib" "$top/etc"
        echo "root:x:0:0" > "$base/etc/passwd"
        echo "base hosts" > "$base/etc/hosts"
        echo "top hosts" > "$top/etc/hosts"
        echo vi > "$base/bin/vi"
        echo lib > "$base/app/lib/x"
}

trace_count() {        # EXTENDED-REGEX: how many trace lines match
        grep -cE "$1" "$T/trace" || true
}

expect_traced_once() {  # WHAT EXTENDED-REGEX
        expect_eq "$1 (lines matching /$2/ in the trace)" 1 "$(trace_count "$2")"
}

test_each_decision_is_traced_once_with_its_layer() {
        make_stack
        UF_OPTS= uf_mount_trace
        cat "$T/m/etc/hosts" > /dev/null
        echo "x:x:1:1" >> "$T/m/etc/passwd"
        rm "$T/m/bin/vi"
        rm -r "$T/m/app"
        mkdir "$T/m/app"
        unmount "$T/m"
        expect_traced_once "lookup from the top layer" '^lookup /etc/hosts -> layer 1 \(lower\)$'
        expect_traced_once "copy-up of passwd" '^copy-up /etc/passwd from layer 0 \(base\) to upper: 11 B, synced to disk, [0-9.]+ ms$'
        expect_traced_once "whiteout for vi" '^unlink /bin/vi: exists in layer 0 \(base\), whiteout written to upper \(char 0/0\)$'
        expect_traced_once "whiteout for app" '^rmdir /app: exists in layer 0 \(base\), whiteout written to upper \(char 0/0\)$'
        expect_traced_once "opaque app" '^mkdir /app over a whiteout: new directory marked opaque$'
        expect_traced_once "copy-up of etc" '^copy-up /etc from layer 1 \(lower\) to upper: directory'
}

# Whether a copy-up waited for its data to reach the disk (fs/copyup.c
# copy_sync) shows in its line: with -o volatile it did not.
test_a_copy_up_says_whether_its_data_was_synced() {
        make_stack
        UF_OPTS= uf_mount_trace -o volatile
        echo "x:x:1:1" >> "$T/m/etc/passwd"
        unmount "$T/m"
        expect_traced_once "unsynced copy-up of passwd" \
                '^copy-up /etc/passwd from layer 0 \(base\) to upper: 11 B, not synced \(volatile\), [0-9.]+ ms$'
}

# A change refused by chattr's flags says so: EPERM from a union is a puzzle.
test_a_change_refused_by_immutable_or_append_only_is_traced() {
        make_stack
        UF_OPTS= uf_mount_trace
        chattr +i "$T/m/bin/vi"
        chattr +a "$T/m/etc/passwd"
        rm -f "$T/m/bin/vi" 2> /dev/null && fail "rm of an immutable file worked"
        echo x > "$T/m/etc/passwd" 2> /dev/null && fail "truncation of an append-only file worked"
        echo x >> "$T/m/etc/passwd" || fail "append to an append-only file failed"
        unmount "$T/m"
        expect_traced_once "immutable" '^refused: /bin/vi is immutable, no such change \(EPERM\)$'
        expect_traced_once "append-only" '^refused: /etc/passwd is append-only, no such change \(EPERM\)$'
}

test_no_trace_without_the_option() {
        make_stack
        uf_mount "$T/m" "$T/up" "$base" "$top"
        echo more >> "$T/m/etc/passwd"
        unmount "$T/m"
        expect_absent "$T/trace"
}

# uf_mount with --trace=$T/trace, through the base-first `mount` form.
uf_mount_trace() {     # [-o OPTS]
        track_lower "$base" "$top"
        mkdir -p "$T/m"
        track_mount "$T/m"
        "$UF" mount --trace="$T/trace" "$@" "$base" "$top" --upper "$T/up" "$T/m" ||
                fail "mount with --trace failed"
}

run_tests
