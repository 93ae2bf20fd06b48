#!/bin/bash
# An ordinary user mounts layers made by root, either through fusermount3
# (no user namespace: copy-up of root-owned files keeps their owner in the
# user.containers.override_stat xattr, and stat shows it, across remounts)
# or as root of a user namespace (`unshare -Urm`, mount(2) direct: owners
# the namespace cannot name are shown as its root). Also the owner options
# uidmapping=, gidmapping= and squash_to_*.
. "$(dirname "$0")/lib.sh"

ensure_user() { ensure_test_user; }

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
        local ino
        as_user "'$UFU' mount layer --upper up m" || fail "the user could not mount"
        ino=$(as_user "stat -c %i m/etc/open")
        as_user "echo appended >> m/etc/open" || fail "append to the 0666 root file failed"
        expect_eq "owner after the copy-up" "root:root 666" "$(as_user "stat -c '%U:%G %a' m/etc/open")"
        as_user "'$UFU' umount m" || fail "the user could not unmount"
        as_user "'$UFU' mount layer --upper up m" || fail "the user could not mount again"
        expect_eq "owner after a remount" "root:root 666" "$(as_user "stat -c '%U:%G %a' m/etc/open")"
        # The origin, where a user may write it (overlayfs -o userxattr reads it there).
        expect_eq "inode number after a remount" "$ino" "$(as_user "stat -c %i m/etc/open")"
        getfattr -n user.overlay.origin "$T/up/etc/open" > /dev/null 2>&1 || fail "no user.overlay.origin"
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

# Only root may raise the readahead window (tools/readahead.c): a user's
# mount keeps the kernel's, and says nothing about it.
test_user_mount_keeps_the_default_readahead_quietly() {
        local dev
        ensure_user
        make_root_layer
        as_user "'$UFU' mount layer --upper up m" > "$T/out" 2>&1 || fail "the user could not mount"
        sleep 0.3
        # Root may not stat a mount made without allow_other: its device
        # number comes from mountinfo.
        dev=$(awk -v m="$T/m" '$5 == m { print $3 }' /proc/self/mountinfo)
        expect_eq "readahead window (KiB)" 128 "$(cat "/sys/class/bdi/$dev/read_ahead_kb")"
        expect_eq "output of the mount" "" "$(cat "$T/out")"
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

# With aufs markers a directory made over a whiteout holds a 0444
# .wh..wh..opq; renamed within a merged directory it is marked opaque again
# (as overlayfs marks a moved directory), by a daemon that may not write
# that file.
test_user_renames_a_recreated_directory_with_aufs_markers() {
        ensure_user
        make_root_layer
        as_user "'$UFU' mount layer --upper up -o whiteout=aufs m" || fail "the user could not mount"
        as_user "rm -r m/etc && mkdir m/etc && echo new > m/etc/new" || fail "recreating etc failed"
        as_user "mv m/etc m/etc2" 2> "$T/mv.err" || fail "rename failed: $(cat "$T/mv.err")"
        expect_eq "the moved directory" "new" "$(as_user "ls m/etc2")"
        expect_eq "its upper copy" ".wh..wh..opq new" "$(ls -A "$T/up/etc2" | tr '\n' ' ' | sed 's/ $//')"
        as_user "'$UFU' umount m"
}

in_userns() {   # CMD...: run as the test user, root of a new user and mount namespace
        as_user "unshare -Urm sh -c \"$*\""
}

test_userns_root_appends_to_root_file_and_deletes_another() {
        ensure_user
        make_root_layer
        command -v unshare >/dev/null || skip "no unshare"
        in_userns "'$UFU' mount layer --upper up m && echo appended >> m/etc/open &&
                   stat -c '%u:%g %a' m/etc/open && rm m/etc/other && ls m/etc &&
                   '$UFU' umount m" > "$T/out" 2>&1 || fail "in the namespace: $(cat "$T/out")"
        expect_eq "owner, listing" "$(printf '0:0 666\nopen')" "$(cat "$T/out")"
        in_userns "'$UFU' mount layer --upper up m && stat -c '%u:%g %a' m/etc/open &&
                   cat m/etc/open && '$UFU' umount m" > "$T/out" 2>&1 ||
                fail "remount in the namespace: $(cat "$T/out")"
        expect_eq "after a remount" "$(printf '0:0 666\nshared\nappended')" "$(cat "$T/out")"
        expect_char_whiteout "$T/up/etc/other"
        expect_absent "$T/m/etc" "the mount of the namespace leaked out"
}

# A busybox rootfs of two layers (base: the binary and its applets; app:
# files and directories to change), as root made them, or with user-owned
# as the test user made them.
make_busybox_image() {
        local bb applet
        bb=$(command -v busybox) || skip "no static busybox (apt package busybox-static)"
        mkdir -p "$T/base/bin" "$T/base/etc" "$T/base/tmp" "$T/app/srv/data/deep" "$T/app/etc"
        cp "$bb" "$T/base/bin/busybox"
        for applet in sh ls cat rm mv mkdir echo chmod chown stat find sort; do
                ln -s busybox "$T/base/bin/$applet"
        done
        echo base > "$T/base/etc/motd"
        echo one > "$T/app/srv/data/one"
        echo two > "$T/app/srv/data/deep/two"
        echo conf > "$T/app/etc/app.conf"
        chmod 1777 "$T/base/tmp"
        # An image the user unpacked itself is the user's (import without root).
        [ "${1:-}" = user-owned ] && chown -R "$TEST_USER" "$T/base" "$T/app"
        chmod 0755 "$WS" "$T"
        mkdir -p "$T/m" "$T/kov"
        chown "$TEST_USER" "$T" "$T/m"
        track_lower "$T/base" "$T/app"
        track_mount "$T/m"
}

# What the user changes, as a script for busybox sh inside the image.
IMAGE_CHANGES='rm /etc/motd && rm -r /srv/data/deep && mv /srv/data /srv/moved &&
        mkdir /srv/data && echo fresh > /srv/data/new && echo again > /etc/motd &&
        chmod 0600 /etc/app.conf && chown 0:0 /srv/moved/one && mkdir /var && echo v > /var/v'

test_user_changes_busybox_image_and_kernel_overlayfs_agrees() {
        ensure_user
        make_busybox_image
        as_user "'$UFU' mount base app --upper up m" || fail "the user could not mount"
        as_user "/usr/sbin/chroot m /bin/sh -c true" 2>/dev/null &&
                fail "an ordinary user could chroot?"
        as_user "'$UFU' umount m"
        in_userns "'$UFU' mount base app --upper up m && /usr/sbin/chroot m /bin/sh -c '$IMAGE_CHANGES' &&
                   '$UFU' umount m" > "$T/out" 2>&1 || fail "changes in the namespace: $(cat "$T/out")"
        as_user "'$UFU' mount base app --upper up m" || fail "the user could not mount again"
        expect_eq "/srv" "data moved" "$(as_user "ls m/srv" | tr '\n' ' ' | sed 's/ $//')"
        as_user "ls m/srv/data m/srv/moved m/etc && cat m/etc/motd m/srv/data/new && stat -c '%a' m/etc/app.conf" \
                > "$T/user.txt" 2>&1 || fail "reading as the user: $(cat "$T/user.txt")"
        expect_eq "the user's view" "$(printf 'm/etc:\napp.conf\nmotd\n\nm/srv/data:\nnew\n\nm/srv/moved:\none\nagain\nfresh\n600')" \
                "$(cat "$T/user.txt")"
        # Kernel overlayfs over the same upper layer: the same tree. The
        # user's opaque markers may be user.overlay.* xattrs: userxattr.
        KOV_OPTS=userxattr kov_mount "$T/kov" "$T/up" "$T/kwork" "$T/base" "$T/app"
        as_user "cd m && find . | LC_ALL=C sort" > "$T/uf.txt" || fail "find as the user failed"
        (cd "$T/kov" && find . | LC_ALL=C sort) > "$T/kov.txt"
        expect_eq "names through unionfuse and kernel overlayfs" "$(cat "$T/kov.txt")" "$(cat "$T/uf.txt")"
        expect_eq "content through kernel overlayfs" "fresh again" \
                "$(cat "$T/kov/srv/data/new" "$T/kov/etc/motd" | tr '\n' ' ' | sed 's/ $//')"
        as_user "'$UFU' umount m"
}

# The same changes by an ordinary user through fusermount3 (no namespace):
# deleting, renaming over and recreating lower files and directories.
test_user_without_namespace_changes_image_and_kernel_overlayfs_agrees() {
        ensure_user
        make_busybox_image user-owned
        as_user "'$UFU' mount base app --upper up m && cd m && rm etc/motd && rm -r srv/data/deep &&
                 mv srv/data srv/moved && mkdir srv/data && echo fresh > srv/data/new &&
                 echo again > etc/motd && mv srv/moved/one etc/app.conf && find . | LC_ALL=C sort" \
                > "$T/uf.txt" 2>&1 || fail "changes as the user: $(cat "$T/uf.txt")"
        as_user "'$UFU' umount m"
        KOV_OPTS=userxattr kov_mount "$T/kov" "$T/up" "$T/kwork" "$T/base" "$T/app"
        (cd "$T/kov" && find . | LC_ALL=C sort) > "$T/kov.txt"
        expect_eq "names through unionfuse and kernel overlayfs" "$(cat "$T/kov.txt")" "$(cat "$T/uf.txt")"
        expect_eq "content through kernel overlayfs" "fresh again one" \
                "$(cat "$T/kov/srv/data/new" "$T/kov/etc/motd" "$T/kov/etc/app.conf" | tr '\n' ' ' | sed 's/ $//')"
        expect_absent "$T/kov/srv/moved/one"
}

# uidmapping=A:B:N shows the id A+k stored in a layer as B+k, and stores
# the B+k a caller gives as A+k (fuse-overlayfs' meaning).
test_uidmapping_shows_and_stores_mapped_ids() {
        mkd lower
        echo x > "$T/lower/root-file"
        echo y > "$T/lower/five"
        chown 5:7 "$T/lower/five"
        UF_OPTS="uidmapping=0:1000:100,gidmapping=:0:2000:100" uf_mount "$T/m" "$T/up" "$T/lower"
        expect_eq "owners shown" "1000:2000 1005:2007" \
                "$(stat -c '%u:%g' "$T/m/root-file" "$T/m/five" | tr '\n' ' ' | sed 's/ $//')"
        chown 1042:2043 "$T/m/five"
        expect_eq "stored after chown" "42:43" "$(stat -c '%u:%g' "$T/up/five")"
        expect_eq "shown after chown" "1042:2043" "$(stat -c '%u:%g' "$T/m/five")"
        touch "$T/m/new"
        expect_eq "a file made by root (shown 0, in no range)" "65534:65534" "$(stat -c '%u:%g' "$T/up/new")"
        expect_eq "an id in no range is shown as nobody" "65534" "$(stat -c '%u' "$T/m/new")"
}

test_squash_options_show_one_owner() {
        mkd lower
        echo x > "$T/lower/f"
        chown 5:7 "$T/lower/f"
        UF_OPTS=squash_to_root uf_mount "$T/m" "$T/up" "$T/lower"
        expect_eq "squash_to_root" "0:0" "$(stat -c '%u:%g' "$T/m/f")"
        unmount "$T/m"
        UF_OPTS=squash_to_root,squash_to_uid=33 uf_mount "$T/m" "$T/up" "$T/lower"
        expect_eq "squash_to_uid wins over squash_to_root" "33:0" "$(stat -c '%u:%g' "$T/m/f")"
        echo more >> "$T/m/f"
        expect_eq "what is stored is left as it is" "5:7" "$(stat -c '%u:%g' "$T/up/f")"
}

test_bad_mapping_is_refused_with_one_line() {
        mkd lower
        uf_run -o "lowerdir=$T/lower,uidmapping=0:1000" "$T/m"
        expect_ne "exit status" 0 "$RC"
        expect_match "message" "^unionfuse: uidmapping=0:1000: expects ID:ID:COUNT" "$ERR"
}

run_tests
