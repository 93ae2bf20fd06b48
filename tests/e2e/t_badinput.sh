#!/bin/bash
# Bad input: a clear one-line message naming the path, a non-zero exit, no
# mount, and nothing created on disk. An unknown option is only a warning.
. "$(dirname "$0")/lib.sh"

# Everything under the test's directory, for "nothing created".
snapshot() {
        (cd "$T" && find . -printf '%p %y %m %s\n' | LC_ALL=C sort)
}

# Runs unionfuse ARGS... and checks it refused properly. PATHS is a regex of
# the path(s) the message may name.
expect_refused() {      # WHAT MNT PATHS ARGS...
        local what=$1 mnt=$2 paths=$3 before
        shift 3
        track_mount "$mnt"
        before=$(snapshot)
        uf_run "$@"
        mountpoint -q "$mnt" && fail "$what: mounted anyway"
        [ "$RC" -ne 0 ] || fail "$what: exit status 0 ($UF_NAME $*)"
        [ "$RC" -lt 128 ] || fail "$what: killed by signal $((RC - 128))"
        expect_eq "$what: lines on stderr" 1 "$(printf '%s\n' "$ERR" | grep -c .)"
        # "unionfuse: PATH: cause", as in STYLE.md
        expect_match "$what: message" "^$UF_NAME: ($paths)[^:]*: [^ ].*" "$ERR"
        expect_eq "$what: stdout" "" "$OUT"
        expect_eq "$what: files after the attempt" "$before" "$(snapshot)"
}

layers() {
        L=$(mkd lower) U=$T/upper M=$(mkd m)
        echo x > "$L/x"
}

test_missing_layer_is_refused() {
        layers
        expect_refused "mount form" "$M" "$T/nope" mount --upper "$U" "$L" "$T/nope" "$M"
        expect_refused "lowerdir form" "$M" "$T/nope" \
                -o "lowerdir=$T/nope:$L,upperdir=$U,workdir=$T/work" "$M"
}

test_layer_that_is_a_file_is_refused() {
        layers
        echo file > "$T/file"
        expect_refused "mount form" "$M" "$T/file" mount --upper "$U" "$L" "$T/file" "$M"
        expect_refused "lowerdir form" "$M" "$T/file" -o "lowerdir=$T/file,upperdir=$U,workdir=$T/work" "$M"
}

test_upper_inside_a_lower_is_refused() {
        layers
        mkdir -p "$L/inner/up"
        track_lower "$L"
        expect_refused "mount form" "$M" "$L" mount --upper "$L/inner/up" "$L" "$M"
        mkdir "$T/work"
        expect_refused "lowerdir form" "$M" "$L" \
                -o "lowerdir=$L,upperdir=$L/inner/up,workdir=$T/work" "$M"
}

test_work_on_another_filesystem_than_upper_is_refused() {
        layers
        mkdir -p "$U" "$T/tmpfs"
        mount -t tmpfs -o size=1m tmpfs "$T/tmpfs" || skip "cannot mount a tmpfs"
        track_mount "$T/tmpfs"
        mkdir "$T/tmpfs/work"
        expect_refused "mount form" "$M" "$U|$T/tmpfs/work" \
                mount --upper "$U" --work "$T/tmpfs/work" "$L" "$M"
        expect_refused "lowerdir form" "$M" "$U|$T/tmpfs/work" \
                -o "lowerdir=$L,upperdir=$U,workdir=$T/tmpfs/work" "$M"
        expect_eq "work dir untouched" "" "$(ls -A "$T/tmpfs/work")"
}

test_mountpoint_not_a_directory_is_refused() {
        layers
        echo file > "$T/mfile"
        expect_refused "mount form" "$T/mfile" "$T/mfile" mount "$L" "$T/mfile"
        expect_refused "missing mountpoint" "$T/nomnt" "$T/nomnt" mount "$L" "$T/nomnt"
}

test_mountpoint_not_empty_is_refused() {
        layers
        touch "$M/occupied"
        expect_refused "mount form" "$M" "$M" mount "$L" "$M"
        expect_refused "lowerdir form" "$M" "$M" -o "lowerdir=$L" "$M"
}

# The daemon reads the layer through the mount point then: refusing is fine,
# serving is fine, hanging is not.
test_mountpoint_inside_a_lower_layer_is_refused_or_served() {
        layers
        mkdir -p "$L/mnt" "$L/d"
        track_lower "$L"
        track_mount "$L/mnt"
        uf_run mount --upper "$U" "$L" "$L/mnt"
        [ "$RC" -lt 128 ] || fail "killed by signal $((RC - 128))"
        if [ "$RC" -ne 0 ]; then
                expect_match "message" "^$UF_NAME: $L" "$ERR"
                return 0
        fi
        local status=0
        within 5 ls -A "$L/mnt" > /dev/null || status=$?
        expect_eq "listing the mount (124: it hung)" 0 "$status"
        within 5 cat "$L/mnt/x" > /dev/null || status=$?
        expect_eq "reading a file through the mount (124: it hung)" 0 "$status"
        within 5 ls -A "$L/mnt/mnt" > /dev/null 2>&1 || status=$?
        expect_ne "listing the mount point's own dir through the mount" 124 "$status"
}

test_unknown_option_warns_and_still_mounts() {
        layers
        mkdir "$U" "$T/work"
        track_mount "$M"
        uf_run -o "lowerdir=$L,upperdir=$U,workdir=$T/work,frobnicate=7" "$M"
        expect_eq "exit status" 0 "$RC"
        mountpoint -q "$M" || fail "not mounted"
        expect_match "warning names the option" 'frobnicate' "$ERR"
        expect_content "$M/x" x
}

test_bad_option_values_are_refused() {
        layers
        expect_refused "evict_after=0" "$M" "evict_after" mount -o evict_after=0 --upper "$U" "$L" "$M"
        expect_refused "evict_after=-3" "$M" "evict_after" -o "lowerdir=$L,evict_after=-3" "$M"
        expect_refused "timeout=soon" "$M" "timeout" mount -o timeout=soon "$L" "$M"
}

test_no_layer_at_all_is_refused() {
        M=$(mkd m)
        track_mount "$M"
        uf_run mount "$M"
        [ "$RC" -ne 0 ] && [ "$RC" -lt 128 ] || fail "mount with no layer: exit status $RC"
        mountpoint -q "$M" && fail "mounted with no layer"
        uf_run -o "upperdir=$T/u,workdir=$T/w" "$M"
        [ "$RC" -ne 0 ] && [ "$RC" -lt 128 ] || fail "-o without lowerdir: exit status $RC"
        expect_absent "$T/u"
        expect_absent "$T/w"
}

# Regression: a missing upper and work directory, siblings of the
# mountpoint and the layers, were once taken for their parent directory and
# the mountpoint refused as "inside a layer".
test_new_upper_beside_the_mountpoint_is_accepted() {
        mkdir -p "$T/l" "$T/m"
        echo x > "$T/l/f"
        track_lower "$T/l"
        track_mount "$T/m"
        (cd "$T" && "$UF" -o lowerdir=l,upperdir=up,workdir=up.work m) ||
                fail "mount with a new upper beside the mountpoint was refused"
        expect_content "$T/m/f" x
        echo y > "$T/m/g"
        unmount "$T/m"
        expect_content "$T/up/g" y
}

run_tests
