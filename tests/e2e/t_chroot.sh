#!/bin/bash
# A container's life in miniature: chroot into a mounted busybox rootfs, run
# a script that changes files, and find exactly those changes in the upper
# layer.
. "$(dirname "$0")/lib.sh"

BUSYBOX=${BUSYBOX:-$(command -v busybox)}

# base: /bin/busybox and a symlink per applet; app: some files to change.
build_rootfs() {
        [ -n "$BUSYBOX" ] && file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
                skip "no static busybox (apt package busybox-static)"
        BASE=$(mkd base) APP=$(mkd app)
        mkdir -p "$BASE/bin" "$BASE/etc" "$BASE/tmp" "$BASE/root"
        cp "$BUSYBOX" "$BASE/bin/busybox"
        local applet
        for applet in $("$BUSYBOX" --list); do
                [ "$applet" = busybox ] || ln -s busybox "$BASE/bin/$applet"
        done
        echo 'root:x:0:0:root:/root:/bin/sh' > "$BASE/etc/passwd"
        mkdir -p "$APP/data/sub" "$APP/etc"
        echo one > "$APP/data/edit-me"
        echo two > "$APP/data/rename-me"
        echo three > "$APP/data/sub/delete-me"
        echo keep > "$APP/data/sub/keep"
        echo motd > "$APP/etc/motd"
        mkdir -p "$APP/data/tree/a/b"
        echo deep > "$APP/data/tree/a/b/c"
}


test_chrooted_shell_script_changes_land_in_upper() {
        local upper
        build_rootfs
        upper=$(mkd upper)
        uf_mount "$T/m" "$upper" "$BASE" "$APP"
        chroot "$T/m" /bin/sh -e -s > "$T/script.out" 2>&1 <<'SCRIPT' || fail "script failed: $(tail -3 "$T/script.out" | tr '\n' ' ')"
cd /data
echo created > new-file
echo appended >> edit-me
mv rename-me renamed
rm sub/delete-me
rm -rf tree
rm /etc/motd
mkdir /newdir
echo x > /newdir/x
ls -la / /data | wc -l
cat /etc/passwd | wc -l
test "$(cat edit-me)" = "$(printf 'one\nappended')"
test ! -e rename-me
test "$(ls sub)" = keep
echo done
SCRIPT
        expect_eq "script output" done "$(tail -1 "$T/script.out")"
        unmount "$T/m"
        expect_eq "upper entries" "$(printf '%s,' \
                './data d' './data/edit-me f' './data/new-file f' './data/rename-me c' './data/renamed f' \
                './data/sub d' './data/sub/delete-me c' './data/tree c' \
                './etc d' './etc/motd c' './newdir d' './newdir/x f' | sed 's/,$//')" "$(layer_entries "$upper")"
        expect_content "$upper/data/edit-me" "$(printf 'one\nappended')"
        expect_content "$upper/data/new-file" created
        expect_content "$upper/data/renamed" two
        expect_char_whiteout "$upper/data/rename-me"
        expect_char_whiteout "$upper/data/sub/delete-me"
        expect_char_whiteout "$upper/etc/motd"
}

test_chrooted_shell_sees_merged_rootfs() {
        build_rootfs
        uf_mount "$T/m" "" "$BASE" "$APP"
        expect_eq "listing from inside" "bin data etc root tmp" \
                "$(chroot "$T/m" /bin/ls / | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
        expect_eq "a file from the app layer" motd "$(chroot "$T/m" /bin/cat /etc/motd)"
        expect_match "writes are refused" 'Read-only file system' "$(chroot "$T/m" /bin/sh -c 'echo x > /tmp/x' 2>&1)"
}

run_tests
