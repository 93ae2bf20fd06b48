#!/bin/bash
# unionfuse import: OCI layouts and docker archives into layer directories
# that mount as the image; corrupt and hostile images refused.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/oci.sh"

# Three layers: a base with hard links, a device, a fifo, a symlink, owners,
# a setuid file and an xattr; an app layer with a .wh. whiteout, an opaque
# directory and a replaced file; a top layer compressed with zstd.
# Sets L1 L2 L3 (directories) and IMG (the layout, tag "latest").
three_layer_image() {
        L1=$(mkd l1) L2=$(mkd l2) L3=$(mkd l3) IMG=$T/img
        mkdir -p "$L1/etc" "$L1/bin" "$L1/var/cache/sub" "$L1/dev" "$L1/home/u"
        echo root:x:0:0 > "$L1/etc/passwd"
        echo old > "$L1/etc/motd"
        echo tool > "$L1/bin/busy"
        ln "$L1/bin/busy" "$L1/bin/ls"
        ln -s busy "$L1/bin/sh"
        echo c > "$L1/var/cache/c1"; echo s > "$L1/var/cache/sub/s1"
        mknod "$L1/dev/null" c 1 3
        mkfifo "$L1/dev/pipe"
        echo mine > "$L1/home/u/file"
        chown -R 1234:5678 "$L1/home/u"
        chmod 4755 "$L1/bin/busy"
        setfattr -n user.origin -v base "$L1/etc/passwd"
        touch -d '2001-02-03 04:05:06' "$L1/etc/passwd"
        mkdir -p "$L2/etc" "$L2/var/cache"
        touch "$L2/etc/.wh.motd" "$L2/var/cache/.wh..wh..opq"
        echo fresh > "$L2/var/cache/c2"
        echo app > "$L2/etc/app.conf"
        mkdir -p "$L3/etc"
        echo top > "$L3/etc/app.conf"
        echo new > "$L3/etc/issue"
        layer_tar "$L1" "$T/l1.tar"
        layer_tar "$L2" "$T/l2.tar.gz"
        layer_tar "$L3" "$T/l3.tar.zst"
        oci_add_image "$IMG" latest "$T/l1.tar" "$T/l2.tar.gz" "$T/l3.tar.zst" > /dev/null
}

# Imports SOURCE into DEST (extra flags first); sets LAYERS from its output.
import_ok() {   # [FLAGS...] SOURCE DEST
        uf_run import "$@"
        expect_eq "import exit status ($ERR)" 0 "$RC"
        LAYERS=$(mount_layers "$OUT")
        [ -n "$LAYERS" ] || fail "import printed no mount command: $OUT"
}

test_oci_layout_mounts_as_its_layers_applied_by_hand() {
        three_layer_image
        import_ok "$IMG" "$T/dest"
        expect_match "mount command" "^unionfuse mount $T/dest/000-[0-9a-f]{12} $T/dest/001-[0-9a-f]{12} $T/dest/002-[0-9a-f]{12} MOUNTPOINT$" "$OUT"
        expect_eq "sorted order is stack order" "$(echo "$LAYERS" | tr ' ' '\n')" "$(ls -d "$T"/dest/*)"
        # shellcheck disable=SC2086
        uf_mount "$T/m" "" $LAYERS
        apply_layers "$T/expect" "$L1" "$L2" "$L3"
        expect_same_tree "merged view" "$T/expect" "$T/m"
        expect_absent "$T/m/etc/motd" "whited out"
        expect_eq "opaque dir" "c2" "$(names "$T/m/var/cache")"
        expect_content "$T/m/etc/app.conf" top
}

test_import_keeps_links_devices_owners_modes_times_xattrs() {
        three_layer_image
        import_ok "$IMG" "$T/dest"
        local base
        base=$(echo "$LAYERS" | cut -d' ' -f1)
        expect_eq "hard link" "$(stat -c %i "$base/bin/busy")" "$(stat -c %i "$base/bin/ls")"
        expect_eq "symlink" busy "$(readlink "$base/bin/sh")"
        expect_eq "device" "character special file 1:3" "$(stat -c '%F %t:%T' "$base/dev/null")"
        expect_eq "fifo" "fifo" "$(stat -c %F "$base/dev/pipe")"
        expect_eq "owner" "1234:5678" "$(stat -c %u:%g "$base/home/u/file")"
        expect_eq "setuid mode" "4755" "$(stat -c %a "$base/bin/busy")"
        expect_eq "mtime" "$(date -d '2001-02-03 04:05:06' +%s)" "$(stat -c %Y "$base/etc/passwd")"
        expect_xattr "$base/etc/passwd" user.origin base
}

test_whiteouts_stay_wh_files_by_default() {
        three_layer_image
        import_ok "$IMG" "$T/dest"
        local app
        app=$(echo "$LAYERS" | cut -d' ' -f2)
        expect_eq "markers kept" "regular empty file" "$(stat -c %F "$app/etc/.wh.motd")"
        expect_exists "$app/var/cache/.wh..wh..opq"
}

test_whiteout_overlay_converts_markers_same_view() {
        three_layer_image
        import_ok --whiteout=overlay "$IMG" "$T/dest"
        local app
        app=$(echo "$LAYERS" | cut -d' ' -f2)
        expect_char_whiteout "$app/etc/motd"
        expect_absent "$app/etc/.wh.motd"
        expect_xattr "$app/var/cache" trusted.overlay.opaque y
        expect_absent "$app/var/cache/.wh..wh..opq"
        # shellcheck disable=SC2086
        uf_mount "$T/m" "" $LAYERS
        apply_layers "$T/expect" "$L1" "$L2" "$L3"
        expect_same_tree "merged view" "$T/expect" "$T/m"
}

test_tag_chooses_among_manifests() {
        three_layer_image
        oci_add_image "$IMG" small "$T/l1.tar" > /dev/null
        uf_run import "$IMG" "$T/dest"
        expect_eq "no tag, two images" 1 "$RC"
        expect_match "message" "several images" "$ERR"
        import_ok "$IMG:small" "$T/dest"
        expect_eq "one layer" 1 "$(echo "$LAYERS" | wc -w)"
        uf_run import "$IMG:nosuch" "$T/dest2"
        expect_eq "unknown tag" 1 "$RC"
        expect_match "message" "no image tagged 'nosuch'" "$ERR"
}

test_docker_archive_imports_like_the_layout() {
        three_layer_image
        docker_archive "$T/saved.tar" example/app:1.0 "$T/l1.tar" "$T/l2.tar.gz" "$T/l3.tar.zst"
        import_ok "$T/saved.tar" "$T/dest"
        # shellcheck disable=SC2086
        uf_mount "$T/m" "" $LAYERS
        apply_layers "$T/expect" "$L1" "$L2" "$L3"
        expect_same_tree "merged view" "$T/expect" "$T/m"
        import_ok "$T/saved.tar:1.0" "$T/dest2"
        expect_absent "$T/dest/.unionfuse-import" "scratch removed"
}

test_corrupt_blob_fails_digest_check_and_writes_nothing() {
        three_layer_image
        local blob
        blob=$IMG/blobs/sha256/$(sha "$T/l2.tar.gz")
        printf 'X' | dd of="$blob" bs=1 seek=100 conv=notrunc status=none
        uf_run import "$IMG" "$T/dest"
        expect_eq "exit status" 1 "$RC"
        expect_match "message" "digest mismatch: expected sha256:[0-9a-f]{64}, got sha256:" "$ERR"
        expect_eq "one line" 1 "$(echo "$ERR" | wc -l)"
        expect_eq "no layer below the bad one" "000" "$(ls "$T/dest" | cut -c1-3 | tr '\n' ' ' | sed 's/ $//')"
}

test_diffid_mismatch_is_refused() {
        local l
        l=$(mkd l)
        echo a > "$l/a"
        layer_tar "$l" "$T/a.tar"
        # Every blob checks; the config names another uncompressed tar.
        DIFF_IDS='"sha256:0000000000000000000000000000000000000000000000000000000000000000"' \
                oci_add_image "$T/img" latest "$T/a.tar" > /dev/null
        uf_run import "$T/img" "$T/dest"
        expect_eq "exit status" 1 "$RC"
        expect_match "message" "diff_id mismatch: expected sha256:0{64}, got sha256:$(sha "$T/a.tar")" "$ERR"
        expect_eq "nothing unpacked" "" "$(ls -A "$T/dest")"
}

# Imports an image of the one layer TAR; it must be refused with one line
# matching PATTERN, and nothing written outside the destination.
expect_refused() {      # TAR PATTERN
        mkdir -p "$T/outside"
        rm -rf "$T/img"
        oci_add_image "$T/img" latest "$1" > /dev/null
        uf_run import "$T/img" "$T/dest"
        expect_eq "exit status ($ERR)" 1 "$RC"
        expect_match "message" "$2" "$ERR"
        expect_eq "one line" 1 "$(echo "$ERR" | wc -l)"
        expect_eq "nothing outside" "" "$(ls -A "$T/outside")"
        expect_eq "nothing left in the destination" "" "$(ls -A "$T/dest")"
}

test_hostile_dotdot_name_refused() {
        echo data > "$T/payload"
        mtree_tar "$T/h.tar" <<< "./ok type=file contents=$T/payload
../outside/escape type=file contents=$T/payload"
        expect_refused "$T/h.tar" "entry '../outside/escape': refused: '\.\.' in the name"
}

test_hostile_absolute_name_refused() {
        mkdir -p "$T/outside"
        echo data > "$T/outside/abs"
        tar -cPf "$T/h.tar" "$T/outside/abs"
        rm "$T/outside/abs"
        expect_refused "$T/h.tar" "refused: absolute name"
}

test_hostile_write_through_symlink_refused() {
        echo data > "$T/payload"
        mtree_tar "$T/h.tar" <<< "./evil type=link link=$T/outside
./evil/pwned type=file contents=$T/payload"
        expect_refused "$T/h.tar" "entry './evil/pwned': refused: its path goes through a symlink"
}

test_hostile_relative_symlink_escape_refused() {
        echo data > "$T/payload"
        mtree_tar "$T/h.tar" <<< "./up type=link link=../../outside
./up/pwned type=file contents=$T/payload"
        expect_refused "$T/h.tar" "refused: its path goes through a symlink"
}

test_hostile_hard_link_outside_refused() {
        mkdir -p "$T/s" && echo data > "$T/s/t" && ln "$T/s/t" "$T/s/hl"
        (cd "$T/s" && tar -cPf "$T/h.tar" --transform 's,^t$,../outside/x,RS' t hl) 2>/dev/null
        expect_refused "$T/h.tar" "'\.\./outside/x': refused: '\.\.' in the name"
}

test_name_longer_than_255_bytes_refused() {
        echo data > "$T/payload"
        mtree_tar "$T/h.tar" <<< "./$(printf 'n%.0s' $(seq 256)) type=file contents=$T/payload"
        expect_refused "$T/h.tar" "refused: a component longer than 255 bytes"
}

test_symlinks_pointing_anywhere_are_kept_as_links() {
        local l
        l=$(mkd l)
        ln -s /etc/shadow "$l/abs"
        ln -s ../../.. "$l/up"
        layer_tar "$l" "$T/l.tar"
        oci_add_image "$T/img" latest "$T/l.tar" > /dev/null
        import_ok "$T/img" "$T/dest"
        expect_eq "absolute target" /etc/shadow "$(readlink "$LAYERS/abs")"
        expect_eq "relative target" ../../.. "$(readlink "$LAYERS/up")"
}

test_parents_missing_from_the_archive_are_made_0755() {
        echo data > "$T/payload"
        mtree_tar "$T/l.tar" <<< "./a/b/file type=file mode=0640 contents=$T/payload
./.wh..wh.plnk type=dir mode=0700"
        oci_add_image "$T/img" latest "$T/l.tar" > /dev/null
        umask 077
        import_ok "$T/img" "$T/dest"
        expect_eq "modes" "755 755 640" "$(stat -c %a "$LAYERS/a" "$LAYERS/a/b" "$LAYERS/a/b/file" | tr '\n' ' ' | sed 's/ $//')"
        expect_absent "$LAYERS/.wh..wh.plnk" "AUFS bookkeeping left out"
}

test_unprivileged_import_keeps_what_it_may() {
        command -v setpriv > /dev/null || skip "no setpriv"
        three_layer_image
        chmod o+x "$WS"        # the workspace is mktemp -d: 0700
        chown -R 65534:65534 "$T"
        RC=0
        ERR=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$UF" import "$IMG" "$T/dest" 2>&1 >"$T/out") || RC=$?
        expect_eq "exit status ($ERR)" 0 "$RC"
        expect_match "warning" "device nodes left out" "$ERR"
        LAYERS=$(mount_layers "$(cat "$T/out")")
        local base
        base=$(echo "$LAYERS" | cut -d' ' -f1)
        expect_absent "$base/dev/null" "no device without CAP_MKNOD"
        expect_eq "fifo" "fifo" "$(stat -c %F "$base/dev/pipe")"
        expect_eq "owned by the caller" "65534:65534" "$(stat -c %u:%g "$base/home/u/file")"
        expect_eq "hard link" "$(stat -c %i "$base/bin/busy")" "$(stat -c %i "$base/bin/ls")"
        # The owners it could not give are kept where the daemon reads them.
        expect_xattr "$base/home/u/file" user.containers.override_stat "1234:5678:0644"
        expect_xattr "$base/etc/passwd" user.containers.override_stat "0:0:0644"
        expect_xattr "$base/bin/busy" user.containers.override_stat "0:0:04755"
        local as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
        mkdir "$T/m" && chown 65534:65534 "$T/m" && track_mount "$T/m"
        # shellcheck disable=SC2086
        "${as_nobody[@]}" "$UF" mount $LAYERS "$T/m" || fail "the user could not mount the image"
        expect_eq "owners shown through the user's mount" "1234:5678 0:0 4755" \
                "$("${as_nobody[@]}" stat -c '%u:%g' "$T/m/home/u/file" "$T/m/etc/passwd" | tr '\n' ' ')$("${as_nobody[@]}" stat -c %a "$T/m/bin/busy")"
        "${as_nobody[@]}" "$UF" umount "$T/m"
}

test_second_import_reuses_complete_layers() {
        three_layer_image
        import_ok "$IMG" "$T/dest"
        local first=$LAYERS
        echo marker > "$(echo "$LAYERS" | cut -d' ' -f1)/.kept"
        import_ok "$IMG" "$T/dest"
        expect_eq "same layers" "$first" "$LAYERS"
        expect_exists "$(echo "$LAYERS" | cut -d' ' -f1)/.kept" "layer reused, not unpacked again"
        expect_match "note" "already there, kept" "$ERR"
}

run_tests
