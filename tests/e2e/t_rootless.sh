#!/bin/bash
# An ordinary user mounts layers made by root (fusermount3, no user
# namespace): copy-up of root-owned files keeps their owner in the
# user.containers.override_stat xattr, and stat shows it, across remounts.
. "$(dirname "$0")/lib.sh"

TEST_USER=unionfuse-test

ensure_user() {
        id "$TEST_USER" >/dev/null 2>&1 || useradd -M -d /nonexistent -s /bin/sh "$TEST_USER" ||
                fail "cannot create the user $TEST_USER"
        chmod 0666 /dev/fuse
        command -v fusermount3 >/dev/null || fail "fusermount3 is missing"
        # The build tree may lie where the user cannot reach (below /root,
        # a 0700 temporary directory): the user runs a copy of the binary.
        chmod 0755 "$WS"
        UFU=$WS/unionfuse-as-user
        [ -x "$UFU" ] || install -m 0755 "$UF" "$UFU" || fail "cannot copy $UF for the user"
}

as_user() {     # CMD...: run as the test user in $T
        su -s /bin/sh "$TEST_USER" -c "cd '$T' && $*"
}

# The issue's layer: a directory the user owns but whose group is root,
# holding a root:root 0666 file and another root-owned file.
make_root_layer() {
        mkdir -p "$T/layer/etc"
        echo shared > "$T/layer/etc/open"
        echo secret > "$T/layer/etc/other"
        chown root:root "$T/layer/etc/open" "$T/layer/etc/other"
        chmod 0666 "$T/layer/etc/open"
        chmod 0644 "$T/layer/etc/other"
        chown "$TEST_USER":root "$T/layer" "$T/layer/etc"
        chmod 0775 "$T/layer/etc"
        chmod 0755 "$WS" "$T"   # mktemp made the workspace 0700
        mkdir -p "$T/m"
        chown "$TEST_USER" "$T" "$T/m"
        track_lower "$T/layer"
        track_mount "$T/m"
}

test_user_appends_to_root_file_and_owner_stays() {
        ensure_user
        make_root_layer
        as_user "'$UFU' mount layer --upper up m" || fail "the user could not mount"
        as_user "echo appended >> m/etc/open" || fail "append to the 0666 root file failed"
        expect_eq "owner after the copy-up" "root:root 666" "$(as_user "stat -c '%U:%G %a' m/etc/open")"
        as_user "'$UFU' umount m" || fail "the user could not unmount"
        as_user "'$UFU' mount layer --upper up m" || fail "the user could not mount again"
        expect_eq "owner after a remount" "root:root 666" "$(as_user "stat -c '%U:%G %a' m/etc/open")"
        expect_eq "content" "$(printf 'shared\nappended')" "$(as_user "cat m/etc/open")"
        expect_xattr "$T/up/etc/open" user.containers.override_stat "0:0:0666"
        expect_eq "the override is not shown" "" \
                "$(as_user "getfattr -d -m - m/etc/open 2>/dev/null" | grep override || true)"
        as_user "'$UFU' umount m"
}

test_other_users_cannot_enter_the_mount() {
        ensure_user
        make_root_layer
        as_user "'$UFU' mount layer --upper up m" || fail "the user could not mount"
        expect_fails "root enters a mount made without allow_other" ls "$T/m"
        as_user "'$UFU' umount m"
}

test_user_deletes_root_file_with_a_whiteout() {
        ensure_user
        make_root_layer
        as_user "'$UFU' mount layer --upper up m" || fail "the user could not mount"
        as_user "rm -f m/etc/other" || fail "the user could not delete the root-owned file"
        expect_eq "listing after rm" "open" "$(as_user "ls m/etc")"
        expect_char_whiteout "$T/up/etc/other"
        expect_eq "the directory keeps its group" "root" "$(as_user "stat -c %G m/etc")"
        as_user "'$UFU' umount m"
}

run_tests
