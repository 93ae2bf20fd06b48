#!/bin/bash
# A hostile layer must not make the daemon touch the host (DESIGN.md
# section 5): symlinks to / and to a canary file, at several depths, are
# never followed by the daemon itself. Only what the kernel resolves in the
# caller's own namespace may follow them, so every operation here works on
# the symlinks themselves or on names below a directory that shadows one.
. "$(dirname "$0")/lib.sh"

# $T/host stands for the host: a canary file and a canary directory, whose
# every byte, time and xattr is checked after the test.
make_host() {
        HOST=$(mkd host)
        echo canary > "$HOST/canary"
        mkdir "$HOST/canarydir"
        echo inside > "$HOST/canarydir/precious"
        HOST_BEFORE=$(layer_fingerprint "$HOST")
        PROBE=uf-e2e-probe-$$-$RANDOM
}

expect_host_untouched() {
        local d
        d=$(diff <(echo "$HOST_BEFORE") <(layer_fingerprint "$HOST") | grep '^[<>]' | head -4 | tr '\n' ';') || true
        [ -z "$d" ] || fail "the host canary changed: $d"
        if exists "/$PROBE"; then
                rm -f "/$PROBE"
                fail "a file was created in the host's / through the mount"
        fi
        if exists "/etc/$PROBE"; then
                rm -f "/etc/$PROBE"
                fail "a file was created in the host's /etc through the mount"
        fi
}

test_symlinks_to_canary_are_not_followed_by_setattr_or_copy_up() {
        local base upper p
        make_host
        base=$(mkd base) upper=$(mkd upper)
        mkdir -p "$base/a/b/c"
        for p in x a/x a/b/c/x; do
                ln -s "$HOST/canary" "$base/$p"
        done
        uf_mount "$T/m" "$upper" "$base"
        for p in x a/x a/b/c/x; do
                # whether each succeeds is for t_ops.sh; here only the host counts
                chown -h 4242:4242 "$T/m/$p" || true
                touch -h -d '2001-01-01 UTC' "$T/m/$p" || true
                setfattr -h -n trusted.pwned -v 1 "$T/m/$p" || true
                ln "$T/m/$p" "$T/m/$p.hard" || true
        done
        expect_eq "lchown through the mount" 4242:4242 "$(stat -c %u:%g "$T/m/a/b/c/x")"
        expect_eq "still a symlink" "$HOST/canary" "$(readlink "$T/m/a/b/c/x")"
        echo new > "$T/m/a/b/c/new"
        mv "$T/m/x" "$T/m/x.moved"
        mv "$T/m/a/x" "$T/m/a/b/x.moved"
        rm "$T/m/a/b/c/x"
        rm -rf "$T/m/a"
        expect_host_untouched
}

test_dir_shadowing_a_symlink_to_root_shows_only_its_own_entries() {
        local base top upper d
        make_host
        base=$(mkd base) top=$(mkd top) upper=$(mkd upper)
        mkdir -p "$base/deep/er" "$top/etc" "$top/deep/er/etc" "$top/cd"
        ln -s / "$base/etc"
        ln -s / "$base/deep/er/etc"
        ln -s "$HOST/canarydir" "$base/cd"
        echo mine > "$top/etc/mine"
        echo mine > "$top/deep/er/etc/mine"
        echo mine > "$top/cd/mine"
        uf_mount "$T/m" "$upper" "$base" "$top"
        for d in etc deep/er/etc cd; do
                expect_eq "listing of $d" mine "$(names "$T/m/$d")"
                expect_eq "host name below $d" ENOENT "$(sysop access "$T/m/$d/passwd" f)"
                expect_eq "canary name below $d" ENOENT "$(sysop access "$T/m/$d/precious" f)"
        done
        echo x > "$T/m/etc/$PROBE"
        echo x > "$T/m/cd/new"
        rm -f "$T/m/cd/precious" "$T/m/cd/mine"
        rm -rf "$T/m/deep"
        expect_exists "$upper/etc/$PROBE" "a file created below the shadowing dir"
        expect_host_untouched
}

test_chrooted_writes_through_absolute_symlinks_stay_in_the_mount() {
        command -v busybox >/dev/null && file -L "$(command -v busybox)" | grep -q 'statically linked' ||
                skip "no static busybox"
        local base upper
        make_host
        base=$(mkd base) upper=$(mkd upper)
        mkdir -p "$base/bin" "$base/a/b" "$base/$HOST/canarydir"
        cp "$(command -v busybox)" "$base/bin/busybox"
        ln -s busybox "$base/bin/sh"
        echo "image's canary" > "$base/$HOST/canary"
        ln -s "$HOST/canary" "$base/x"
        ln -s "$HOST/canary" "$base/a/b/x"
        ln -s "$HOST/canarydir" "$base/a/cd"
        ln -s / "$base/etc"
        uf_mount "$T/m" "$upper" "$base"
        chroot "$T/m" /bin/busybox sh -c '
                echo pwned > /x
                echo pwned >> /a/b/x
                echo pwned > /a/cd/precious
                echo pwned > /etc/'"$PROBE"'
                /bin/busybox rm -rf /a
        ' || fail "the script inside the chroot failed"
        expect_content "$T/m/$HOST/canary" "pwned
pwned"
        expect_content "$upper/$HOST/canarydir/precious" pwned
        expect_exists "$upper/$PROBE" "/etc/PROBE inside the chroot is /PROBE of the mount"
        expect_host_untouched
}

run_tests
