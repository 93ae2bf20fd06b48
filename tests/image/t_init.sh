#!/bin/bash
# The init layer: mount --hostname/--hosts/--resolv puts per-container
# files between the image and the upper layer, where commit never sees them.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/oci.sh"

# An image layer with its own /etc; sets BASE, M.
image_layer() {
        BASE=$(mkd base) M=$(mkd m)
        mkdir -p "$BASE/etc"
        echo root:x:0:0 > "$BASE/etc/passwd"
        echo image-host > "$BASE/etc/hostname"
        chmod 751 "$BASE/etc"
        touch -d '2002-03-04 05:06:07' "$BASE/etc"
        track_lower "$BASE"
        track_mount "$M"
}

test_hostname_builds_etc_files_over_the_image() {
        image_layer
        uf_run mount --hostname box1 --upper "$T/up" "$BASE" "$M"
        expect_eq "mount ($ERR)" 0 "$RC"
        expect_content "$M/etc/hostname" box1
        expect_match "hosts" $'127\\.0\\.1\\.1\tbox1' "$(cat "$M/etc/hosts")"
        expect_match "hosts" "localhost" "$(cat "$M/etc/hosts")"
        if [ -r /etc/resolv.conf ]; then
                expect_eq "resolv.conf: the host's" "$(cat /etc/resolv.conf)" "$(cat "$M/etc/resolv.conf")"
        fi
        expect_content "$M/etc/passwd" root:x:0:0
        expect_eq "etc keeps the image's mode and time" "751 $(date -d '2002-03-04 05:06:07' +%s)" \
                "$(stat -c '%a %Y' "$M/etc")"
        expect_exists "$T/up.work/init/etc/hostname" "init layer beside the work dir"
        expect_eq "upper layer untouched" "" "$(ls -A "$T/up")"
}

test_hosts_and_resolv_files_are_copied() {
        image_layer
        printf '10.0.0.1 db\n' > "$T/hosts"
        printf 'nameserver 10.0.0.53\n' > "$T/resolv"
        uf_run mount --hosts "$T/hosts" --resolv "$T/resolv" --upper "$T/up" "$BASE" "$M"
        expect_eq "mount ($ERR)" 0 "$RC"
        expect_content "$M/etc/hosts" "10.0.0.1 db"
        expect_content "$M/etc/resolv.conf" "nameserver 10.0.0.53"
        expect_content "$M/etc/hostname" image-host
}

test_writes_go_to_upper_and_commit_leaves_init_out() {
        image_layer
        uf_run mount --hostname box1 --upper "$T/up" "$BASE" "$M"
        expect_eq "mount ($ERR)" 0 "$RC"
        echo "10.1.1.1 extra" >> "$M/etc/hosts"
        echo user > "$M/etc/new"
        expect_match "copied up" "10.1.1.1 extra" "$(cat "$T/up/etc/hosts")"
        expect_absent "$T/up/etc/hostname"
        unmount "$M"
        uf_run commit "$T/up" -o "$T/l.tar"
        expect_eq "commit ($ERR)" 0 "$RC"
        expect_eq "committed" "etc/ etc/hosts etc/new" "$(bsdtar -tf "$T/l.tar" | tr '\n' ' ' | sed 's/ $//')"
}

test_init_layer_is_rebuilt_at_each_mount() {
        image_layer
        uf_run mount --hostname first --upper "$T/up" "$BASE" "$M"
        expect_eq "mount ($ERR)" 0 "$RC"
        unmount "$M"
        uf_run mount --hostname second --upper "$T/up" "$BASE" "$M"
        expect_eq "mount ($ERR)" 0 "$RC"
        expect_content "$M/etc/hostname" second
        unmount "$M"
        uf_run mount --upper "$T/up" "$BASE" "$M"
        expect_content "$M/etc/hostname" image-host
}

test_bad_init_options_are_refused() {
        image_layer
        uf_run mount --hostname box "$BASE" "$M"
        expect_eq "without --upper" 2 "$RC"
        expect_match "message" "needs --upper" "$ERR"
        uf_run mount --hostname box --init "$T" --upper "$T/up" "$BASE" "$M"
        expect_eq "with --init" 2 "$RC"
        uf_run mount --hostname 'a/b' --upper "$T/up" "$BASE" "$M"
        expect_eq "bad name" 1 "$RC"
        expect_match "message" "not a host name" "$ERR"
        uf_run mount --hosts "$T/missing" --upper "$T/up" "$BASE" "$M"
        expect_eq "missing hosts file" 1 "$RC"
        expect_match "message" "$T/missing: No such file" "$ERR"
        expect_absent "$T/up" "nothing left after a refused mount"
        expect_absent "$T/up.work" "nothing left after a refused mount"
}

run_tests
