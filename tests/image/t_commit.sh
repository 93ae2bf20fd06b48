#!/bin/bash
# unionfuse commit: an upper layer as a byte-for-byte reproducible OCI
# layer; --image adds it to a layout; and the round trip through import.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/oci.sh"

# An upper layer holding every marker format there is.
markers_upper() {
        U=$(mkd up)
        mkdir -p "$U/a/deep" "$U/opx" "$U/opw" "$U/xw"
        mknod "$U/a/chardev-wh" c 0 0
        touch "$U/a/.wh.aufs-wh"
        echo data > "$U/a/file"
        ln "$U/a/file" "$U/a/deep/link"
        ln -s ../file "$U/a/deep/sym"
        setfattr -n user.keep -v yes "$U/a/file"
        setfattr -n trusted.overlay.origin -v junk "$U/a/file"
        setfattr -n trusted.overlay.opaque -v y "$U/opx"
        echo in > "$U/opx/inside"
        touch "$U/opw/.wh..wh..opq"
        touch "$U/xw/gone"
        setfattr -n user.overlay.whiteout -v "" "$U/xw/gone"
        setfattr -n user.overlay.opaque -v x "$U/xw"
        mkdir -p "$U/.wh..wh.plnk"
        mknod "$U/top-wh" c 0 0
}

test_markers_of_every_format_become_wh_entries_in_order() {
        markers_upper
        uf_run commit "$U" -o "$T/l.tar"
        expect_eq "exit status ($ERR)" 0 "$RC"
        expect_eq "entries" ".wh.top-wh a/ a/.wh.aufs-wh a/.wh.chardev-wh a/deep/ a/deep/link a/deep/sym a/file opw/ opw/.wh..wh..opq opx/ opx/.wh..wh..opq opx/inside xw/ xw/.wh.gone" \
                "$(bsdtar -tf "$T/l.tar" | tr '\n' ' ' | sed 's/ $//')"
        expect_match "hard link" "a/file link to a/deep/link" "$(bsdtar -tvf "$T/l.tar")"
        mkdir "$T/x"
        bsdtar -x --xattrs -C "$T/x" -f "$T/l.tar"
        expect_xattr "$T/x/a/file" user.keep yes
        expect_no_xattr "$T/x/a/file" trusted.overlay.origin
        expect_no_xattr "$T/x/opx" trusted.overlay.opaque
        expect_eq "no LIBARCHIVE.xattr duplicates" 0 "$(grep -ac 'LIBARCHIVE.xattr' "$T/l.tar" || true)"
}

# A user's copy-up of a root-owned file keeps the owner in an xattr; the
# layer gives it back as the entry's real owner, and leaves the xattr out.
test_owner_kept_in_override_xattr_becomes_the_entry_owner() {
        U=$(mkd up)
        echo data > "$U/passwd"
        chown 1000:1000 "$U/passwd"
        setfattr -n user.containers.override_stat -v "0:42:04711" "$U/passwd"
        uf_run commit "$U" -o "$T/l.tar"
        expect_eq "exit status ($ERR)" 0 "$RC"
        expect_match "entry" "^-rws--x--x +0 +0 +42 " "$(bsdtar -tvf "$T/l.tar" --numeric-owner)"
        expect_eq "the xattr stays out" 0 "$(grep -ac 'override_stat' "$T/l.tar" || true)"
}

test_commit_twice_gives_identical_bytes() {
        markers_upper
        uf_run commit "$U" -o "$T/1.tar.gz"
        expect_eq "commit ($ERR)" 0 "$RC"
        uf_run commit "$U" -o "$T/2.tar.gz"
        expect_ok "same .tar.gz bytes" cmp "$T/1.tar.gz" "$T/2.tar.gz"
        uf_run commit "$U" -o "$T/1.tar"
        sleep 1.1
        cat "$U/a/file" > /dev/null     # atime and ctime are not content
        chmod 644 "$U/a/file"
        uf_run commit "$U" -o "$T/2.tar"
        expect_ok "same .tar bytes" cmp "$T/1.tar" "$T/2.tar"
        # A copy of the tree (other inodes, other readdir order): same bytes.
        cp -a "$U" "$T/copy"
        uf_run commit "$T/copy" -o "$T/3.tar"
        expect_ok "copy gives the same bytes" cmp "$T/1.tar" "$T/3.tar"
        expect_eq "gzip header mtime" "00000000" "$(od -An -tx1 -j4 -N4 "$T/1.tar.gz" | tr -d ' ')"
        expect_eq "gzip flags: no name" "00" "$(od -An -tx1 -j3 -N1 "$T/1.tar.gz" | tr -d ' ')"
}

test_prints_diffid_of_the_tar_and_digest_of_the_file() {
        markers_upper
        uf_run commit "$U" -o "$T/l.tar.gz"
        expect_eq "exit status ($ERR)" 0 "$RC"
        expect_match "diffID" "diffID: sha256:$(gzip -dc "$T/l.tar.gz" | sha256sum | cut -d' ' -f1)" "$OUT"
        expect_match "digest" "digest: sha256:$(sha "$T/l.tar.gz")" "$OUT"
}

test_redirected_directory_is_refused() {
        U=$(mkd up)
        mkdir "$U/moved"
        setfattr -n trusted.overlay.redirect -v /orig "$U/moved"
        uf_run commit "$U" -o "$T/l.tar"
        expect_eq "exit status" 1 "$RC"
        expect_match "message" "/up/moved: renamed directory" "$ERR"
        expect_absent "$T/l.tar"
        expect_absent "$T/l.tar.tmp"
}

# A metacopy upper file has its data in a lower layer, which commit does
# not see: refused, by name, rather than written out as zeros.
test_metadata_only_file_is_refused() {
        U=$(mkd up)
        truncate -s 10 "$U/meta"
        setfattr -n trusted.overlay.metacopy -v "" "$U/meta"
        uf_run commit "$U" -o "$T/l.tar"
        expect_eq "exit status" 1 "$RC"
        expect_match "message" "/up/meta: holds only metadata" "$ERR"
        expect_absent "$T/l.tar"
}

test_missing_output_is_a_usage_error() {
        U=$(mkd up)
        uf_run commit "$U"
        expect_eq "exit status" 2 "$RC"
        uf_run commit "$U" -o "$T/l.zip"
        expect_eq "exit status" 2 "$RC"
}

test_layer_file_inside_the_upper_layer_is_refused() {
        U=$(mkd up)
        mkdir "$U/sub"
        uf_run commit "$U" -o "$U/sub/l.tar"
        expect_eq "exit status" 1 "$RC"
        expect_match "message" "inside the upper layer" "$ERR"
        expect_eq "upper untouched" "sub" "$(ls -A "$U")"
        expect_eq "nothing in sub" "" "$(ls -A "$U/sub")"
}

# A two-layer image at $IMG, tagged "base", with a file to change, one to
# delete, a directory to replace and hard links. Imported into $T/dest.
base_image() {
        local l1 l2
        l1=$(mkd l1) l2=$(mkd l2) IMG=$T/img
        mkdir -p "$l1/etc" "$l1/srv/data/sub" "$l1/bin"
        echo conf > "$l1/etc/conf"
        echo doomed > "$l1/etc/doomed"
        echo d > "$l1/srv/data/d"; echo s > "$l1/srv/data/sub/s"
        echo prog > "$l1/bin/prog"; ln "$l1/bin/prog" "$l1/bin/alias"
        mkdir -p "$l2/etc"
        echo more > "$l2/etc/more"
        layer_tar "$l1" "$T/l1.tar.gz"
        layer_tar "$l2" "$T/l2.tar"
        oci_add_image "$IMG" base "$T/l1.tar.gz" "$T/l2.tar" > /dev/null
        uf_run import "$IMG:base" "$T/dest"
        expect_eq "import ($ERR)" 0 "$RC"
        LAYERS=$(mount_layers "$OUT")
}

test_round_trip_commit_then_import_gives_the_same_view() {
        base_image
        mkdir "$T/up"
        # shellcheck disable=SC2086
        uf_mount "$T/m" "$T/up" $LAYERS
        echo changed > "$T/m/etc/conf"
        rm "$T/m/etc/doomed"
        rm -rf "$T/m/srv/data"
        mkdir "$T/m/srv/data"
        echo new > "$T/m/srv/data/n"
        ln "$T/m/bin/prog" "$T/m/bin/third"
        ln -s conf "$T/m/etc/link"
        chmod 700 "$T/m/bin/prog"
        mkdir -p "$T/m/var/empty"
        setfattr -n user.tag -v v "$T/m/etc/more"
        tree_listing "$T/m" > "$T/before"
        unmount "$T/m"
        uf_run commit "$T/up" --image "$IMG" --tag v2
        expect_eq "commit ($ERR)" 0 "$RC"
        uf_run import "$IMG:v2" "$T/dest"
        expect_eq "import ($ERR)" 0 "$RC"
        LAYERS=$(mount_layers "$OUT")
        expect_eq "layers" 3 "$(echo "$LAYERS" | wc -w)"
        # shellcheck disable=SC2086
        uf_mount "$T/m2" "" $LAYERS
        tree_listing "$T/m2" > "$T/after"
        expect_ok "same view" diff "$T/before" "$T/after"
        expect_eq "replaced dir" n "$(names "$T/m2/srv/data")"
        expect_eq "hard links" "$(stat -c %i "$T/m2/bin/prog")" "$(stat -c %i "$T/m2/bin/third")"
}

test_commit_image_appends_config_manifest_and_tag() {
        base_image
        echo x > "$T/up-file"
        mkdir -p "$T/up" && echo x > "$T/up/added"
        uf_run commit "$T/up" --image "$IMG" --tag v2 -o "$T/layer.tar.gz"
        expect_eq "commit ($ERR)" 0 "$RC"
        local diffid digest man cfg
        diffid=$(echo "$OUT" | sed -n 's/^diffID: //p')
        digest=$(echo "$OUT" | sed -n 's/^digest: //p')
        man=$(echo "$OUT" | sed -n 's/^manifest: sha256://p')
        expect_exists "$IMG/blobs/sha256/${digest#sha256:}" "layer blob"
        expect_ok "blob is the -o file" cmp "$T/layer.tar.gz" "$IMG/blobs/sha256/${digest#sha256:}"
        expect_match "index entry" "\"digest\":\"sha256:$man\",[^}]*\"org.opencontainers.image.ref.name\":\"v2\"" "$(cat "$IMG/index.json")"
        expect_match "manifest lists the layer last" "\"digest\":\"$digest\",\"size\":[0-9]+\}\]" "$(cat "$IMG/blobs/sha256/$man")"
        cfg=$(grep -o '"config":{[^}]*}' "$IMG/blobs/sha256/$man" | grep -o 'sha256:[0-9a-f]*' | cut -c8-)
        expect_eq "config blob digest" "$cfg" "$(sha "$IMG/blobs/sha256/$cfg")"
        expect_match "diff_ids grow by one" "\"diff_ids\":\[\"sha256:[0-9a-f]{64}\",\"sha256:[0-9a-f]{64}\",\"$diffid\"\]" "$(cat "$IMG/blobs/sha256/$cfg")"
        expect_match "history entry" "unionfuse commit" "$(cat "$IMG/blobs/sha256/$cfg")"
        # Committing again under the same tag moves it: one manifest carries it.
        echo y > "$T/up/added2"
        uf_run commit "$T/up" --image "$IMG" --tag v2
        expect_eq "second commit ($ERR)" 0 "$RC"
        expect_eq "tag on one manifest" 1 "$(grep -o '"org.opencontainers.image.ref.name":"v2"' "$IMG/index.json" | wc -l)"
        uf_run import "$IMG:v2" "$T/dest"
        expect_eq "import v2 ($ERR)" 0 "$RC"
        expect_eq "v2 built on v2: four layers" 4 "$(mount_layers "$OUT" | wc -w)"
}

# Debian's skopeo reads the layout commit wrote (every digest checked on
# copy) and writes a docker-archive of it that imports to the same view.
test_skopeo_accepts_the_committed_image() {
        command -v skopeo > /dev/null || skip "skopeo not installed"
        base_image
        mkdir -p "$T/up/etc" && echo committed > "$T/up/etc/conf" && mknod "$T/up/etc/more" c 0 0
        uf_run commit "$T/up" --image "$IMG" --tag v2
        expect_eq "commit ($ERR)" 0 "$RC"
        expect_ok "skopeo copy to dir:" skopeo copy --quiet "oci:$IMG:v2" "dir:$T/copy"
        expect_ok "skopeo copy to docker-archive:" skopeo copy --quiet "oci:$IMG:v2" "docker-archive:$T/saved.tar:test/img:v2"
        uf_run import "$IMG:v2" "$T/from-oci"
        expect_eq "import layout ($ERR)" 0 "$RC"
        # shellcheck disable=SC2046
        uf_mount "$T/m1" "" $(mount_layers "$OUT")
        uf_run import "$T/saved.tar" "$T/from-docker"
        expect_eq "import skopeo's docker-archive ($ERR)" 0 "$RC"
        # shellcheck disable=SC2046
        uf_mount "$T/m2" "" $(mount_layers "$OUT")
        expect_same_tree "same view" "$T/m1" "$T/m2"
        expect_content "$T/m2/etc/conf" committed
        expect_absent "$T/m2/etc/more"
}

run_tests
