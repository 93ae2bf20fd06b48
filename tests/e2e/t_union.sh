#!/bin/bash
# Union semantics (DESIGN.md section 3): what a name means when several
# layers hold it, and every marker format a layer may carry, read-only.
. "$(dirname "$0")/lib.sh"

test_higher_layer_file_shadows_lower_one() {
        local base top
        base=$(mkd base) top=$(mkd top)
        echo base > "$base/f"
        mkdir "$base/dir2file" "$top/file2dir"
        echo below > "$base/dir2file/inside"
        echo file > "$top/dir2file"
        echo file > "$base/file2dir"
        echo top > "$top/file2dir/inside"
        echo top > "$top/f"
        uf_mount "$T/m" "" "$base" "$top"
        expect_content "$T/m/f" top
        expect_eq "a file above a dir" "regular file" "$(stat -c %F "$T/m/dir2file")"
        expect_eq "a dir above a file" "inside" "$(names "$T/m/file2dir")"
        expect_eq "root listing" "dir2file f file2dir" "$(names "$T/m")"
}

test_directories_merge_across_three_layers() {
        local l1 l2 l3
        l1=$(mkd l1) l2=$(mkd l2) l3=$(mkd l3)
        mkdir -p "$l1/d/sub" "$l2/d/sub" "$l3/d"
        echo 1 > "$l1/d/one"; echo 2 > "$l2/d/two"; echo 3 > "$l3/d/three"
        echo 1 > "$l1/d/sub/a"; echo 2 > "$l2/d/sub/b"
        echo 1 > "$l1/d/same"; echo 3 > "$l3/d/same"
        uf_mount "$T/m" "" "$l1" "$l2" "$l3"
        expect_eq "merged listing" "one same sub three two" "$(names "$T/m/d")"
        expect_eq "merged subdir" "a b" "$(names "$T/m/d/sub")"
        expect_content "$T/m/d/same" 3
}

test_char_whiteout_hides_what_is_below_only() {
        local base mid top
        base=$(mkd base) mid=$(mkd mid) top=$(mkd top)
        echo base > "$base/f"
        mkdir -p "$base/dir" "$top/dir2"
        echo old > "$base/dir/old"
        echo base > "$base/g"
        echo base > "$base/dir2"
        mknod "$mid/f" c 0 0
        mknod "$mid/dir" c 0 0
        mknod "$mid/g" c 0 0
        mknod "$mid/dir2" c 0 0
        echo top > "$top/g"
        echo new > "$top/dir2/new"
        uf_mount "$T/m" "" "$base" "$mid" "$top"
        expect_absent "$T/m/f" "a file under a whiteout"
        expect_absent "$T/m/dir" "a dir under a whiteout"
        expect_content "$T/m/g" top
        expect_eq "a dir above a whiteout is not merged with below" "new" "$(names "$T/m/dir2")"
        expect_eq "listing" "dir2 g" "$(names "$T/m")"
        expect_eq "lookup of whited-out name" ENOENT "$(sysop access "$T/m/f" f)"
}

test_wh_file_hides_name_in_its_directory_only() {
        local base top
        base=$(mkd base) top=$(mkd top)
        mkdir -p "$base/d/sub" "$top/d"
        echo base > "$base/d/f"
        echo base > "$base/d/sub/f"
        echo base > "$base/d/keep"
        mkdir "$base/d/gone"
        echo x > "$base/d/gone/x"
        touch "$top/d/.wh.f" "$top/d/.wh.gone"
        uf_mount "$T/m" "" "$base" "$top"
        expect_absent "$T/m/d/f" "file under .wh.f"
        expect_absent "$T/m/d/gone" "dir under .wh.gone"
        expect_content "$T/m/d/sub/f" base
        expect_eq "listing" "keep sub" "$(names "$T/m/d")"
}

# Kernel overlayfs's third whiteout form: a zero-size file carrying
# overlay.whiteout, in a directory marked overlay.opaque=x (which means
# "holds such whiteouts", not "opaque").
xattr_whiteout_case() {         # NAMESPACE (trusted|user)
        local ns=$1 base top
        base=$(mkd base) top=$(mkd top)
        mkdir -p "$base/d" "$top/d"
        echo base > "$base/d/x"
        echo base > "$base/d/y"
        touch "$top/d/x"
        setfattr -n "$ns.overlay.whiteout" -v y "$top/d/x"
        setfattr -n "$ns.overlay.opaque" -v x "$top/d"
        uf_mount "$T/m" "" "$base" "$top"
        expect_absent "$T/m/d/x" "$ns.overlay.whiteout file"
        expect_content "$T/m/d/y" base
        expect_eq "listing of an opaque=x dir" "y" "$(names "$T/m/d")"
}

test_trusted_xattr_whiteout_hides_lower_file() {
        xattr_whiteout_case trusted
}

test_user_xattr_whiteout_hides_lower_file() {
        xattr_whiteout_case user
}

# An opaque directory shows its own entries and nothing from below it.
opaque_case() {         # HOW (trusted|user|wh)
        local how=$1 base top
        base=$(mkd base) top=$(mkd top)
        mkdir -p "$base/d/sub" "$top/d"
        echo base > "$base/d/below"
        echo base > "$base/d/sub/deep"
        echo base > "$base/d/both"
        echo top > "$top/d/both"
        echo top > "$top/d/mine"
        case $how in
        wh) touch "$top/d/.wh..wh..opq" ;;
        *) setfattr -n "$how.overlay.opaque" -v y "$top/d" ;;
        esac
        uf_mount "$T/m" "" "$base" "$top"
        expect_eq "listing of opaque dir ($how)" "both mine" "$(names "$T/m/d")"
        expect_absent "$T/m/d/below"
        expect_absent "$T/m/d/sub"
        expect_content "$T/m/d/both" top
}

test_trusted_opaque_dir_hides_lower_content() {
        opaque_case trusted
}

test_user_opaque_dir_hides_lower_content() {
        opaque_case user
}

test_wh_opq_dir_hides_lower_content() {
        opaque_case wh
}

test_markers_never_show_in_listings() {
        local base top upper
        base=$(mkd base) top=$(mkd top) upper=$(mkd upper)
        mkdir -p "$base/a" "$base/b" "$top/a" "$top/b" "$top/c"
        touch "$base/a/f" "$base/b/f" "$base/gone"
        touch "$top/a/.wh.f" "$top/b/.wh..wh..opq" "$top/c/.wh.never-existed"
        mknod "$top/gone" c 0 0
        touch "$top/c/keep"
        uf_mount "$T/m" "$upper" "$base" "$top"
        expect_eq "every name in the mount" "./a ./b ./c ./c/keep" \
                "$(cd "$T/m" && find . -mindepth 1 | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
        expect_eq "a listing after a write" "keep new" "$(touch "$T/m/c/new" && names "$T/m/c")"
}

test_overlay_xattrs_are_neither_listed_nor_readable() {
        local base top name
        base=$(mkd base) top=$(mkd top)
        mkdir -p "$base/o1" "$top/o1" "$top/o2" "$top/x" "$base/x"
        touch "$base/x/w" "$top/x/w" "$top/f"
        setfattr -n trusted.overlay.opaque -v y "$top/o1"
        setfattr -n user.overlay.opaque -v y "$top/o2"
        setfattr -n trusted.overlay.opaque -v x "$top/x"
        setfattr -n trusted.overlay.whiteout -v y "$top/x/w"
        setfattr -n trusted.overlay.origin -v 00 "$top/f"
        setfattr -n user.overlay.origin -v 00 "$top/f"
        setfattr -n user.visible -v 1 "$top/f"
        uf_mount "$T/m" "" "$base" "$top"
        for name in o1 o2 x f; do
                expect_eq "xattrs listed on $name" "" \
                        "$(getfattr -d -m - "$T/m/$name" 2>/dev/null | grep -v "^#" | grep overlay)"
        done
        expect_eq "user xattr still listed" 'user.visible="1"' \
                "$(getfattr -d -m - "$T/m/f" 2>/dev/null | grep '^user')"
        expect_eq "read trusted.overlay.opaque" ENODATA "$(sysop getxattr "$T/m/o1" trusted.overlay.opaque)"
        expect_eq "read user.overlay.opaque" ENODATA "$(sysop getxattr "$T/m/o2" user.overlay.opaque)"
        expect_eq "read trusted.overlay.origin" ENODATA "$(sysop getxattr "$T/m/f" trusted.overlay.origin)"
}

test_overlay_xattrs_cannot_be_set_through_the_mount() {
        local base upper ns
        base=$(mkd base) upper=$(mkd upper)
        mkdir -p "$base/d" "$base/e"
        touch "$base/d/f" "$base/e/g" "$base/w"
        uf_mount "$T/m" "$upper" "$base"
        for ns in trusted user; do
                sysop setxattr "$T/m/d" $ns.overlay.opaque y > /dev/null || true
                sysop setxattr "$T/m/e" $ns.overlay.opaque x > /dev/null || true
                sysop setxattr "$T/m/w" $ns.overlay.whiteout y > /dev/null || true
                expect_eq "$ns.overlay.opaque readable" ENODATA "$(sysop getxattr "$T/m/d" $ns.overlay.opaque)"
        done
        unmount "$T/m"
        uf_mount "$T/m" "$upper" "$base"
        expect_eq "d still shows lower content" "f" "$(names "$T/m/d")"
        expect_eq "listing" "d e w" "$(names "$T/m")"
        for ns in trusted user; do
                expect_no_xattr "$upper/d" $ns.overlay.opaque
                expect_no_xattr "$upper/w" $ns.overlay.whiteout
        done
}

# A name that reads as a marker must not be written as a plain entry: it
# would hide a name at the next mount.
test_marker_names_cannot_be_created_through_the_mount() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        echo foo > "$base/foo"
        echo bar > "$base/bar"
        mkdir "$base/d"
        touch "$base/d/inside"
        uf_mount "$T/m" "$upper" "$base"
        expect_ne "create .wh.foo" OK "$(sysop create "$T/m/.wh.foo")"
        expect_ne "mkdir .wh.foo" OK "$(sysop mkdir "$T/m/.wh.foo")"
        expect_ne "symlink .wh.foo" OK "$(sysop symlink x "$T/m/.wh.foo")"
        expect_ne "rename to .wh.foo" OK "$("$HELPERS/renameat2" none "$T/m/bar" "$T/m/.wh.foo")"
        expect_ne "create .wh..wh..opq" OK "$(sysop create "$T/m/d/.wh..wh..opq")"
        unmount "$T/m"
        uf_mount "$T/m" "$upper" "$base"
        expect_eq "listing after remount" "bar d foo" "$(names "$T/m")"
        expect_eq "d after remount" "inside" "$(names "$T/m/d")"
}

test_markers_in_a_given_upper_layer_are_read_too() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        mkdir -p "$base/d" "$upper/d"
        touch "$base/gone1" "$base/gone2" "$base/d/below"
        mknod "$upper/gone1" c 0 0
        touch "$upper/.wh.gone2"
        setfattr -n trusted.overlay.opaque -v y "$upper/d"
        uf_mount "$T/m" "$upper" "$base"
        expect_eq "listing" "d" "$(names "$T/m")"
        expect_eq "opaque upper dir" "" "$(names "$T/m/d")"
}

test_500_lower_layers_merge_with_top_winning() {
        local i layers=()
        for i in $(seq -w 1 500); do
                mkdir -p "$T/layers/$i/shared"
                echo "$i" > "$T/layers/$i/shared/only-$i"
                echo "$i" > "$T/layers/$i/who"
                layers+=("$T/layers/$i")
        done
        track_mount "$T/m"
        mkdir -p "$T/m"
        uf_run mount "${layers[@]}" "$T/m"
        expect_eq "mount of 500 layers ($ERR)" 0 "$RC"
        expect_eq "entries in the merged dir" 500 "$(ls "$T/m/shared" | wc -l)"
        expect_content "$T/m/who" 500
        expect_content "$T/m/shared/only-001" 001
}

run_tests
