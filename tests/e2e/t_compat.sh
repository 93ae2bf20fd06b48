#!/bin/bash
# Compatibility with kernel overlayfs, both ways: an upper layer written by
# unionfuse means the same tree to the kernel, and a stack the kernel wrote
# means the same tree to unionfuse.
. "$(dirname "$0")/lib.sh"

# Two lower layers with some of everything.
build_lowers() {
        BASE=$(mkd base) APP=$(mkd app)
        mkdir -p "$BASE/etc" "$BASE/usr/lib/pkg" "$BASE/var/cache" "$BASE/old/deep" "$APP/etc" "$APP/usr/lib"
        echo root:x:0:0 > "$BASE/etc/passwd"
        echo host > "$BASE/etc/hostname"
        echo conf > "$APP/etc/app.conf"
        head -c 70000 /dev/urandom > "$BASE/usr/lib/pkg/lib.so"
        echo v2 > "$APP/usr/lib/app.so"
        ln -s pkg/lib.so "$BASE/usr/lib/link.so"
        echo c > "$BASE/var/cache/c1"
        echo c > "$BASE/var/cache/c2"
        echo d > "$BASE/old/deep/d"
        chown 1000:1000 "$BASE/var/cache/c2"
        chmod 0600 "$BASE/etc/hostname"
        mkfifo "$BASE/fifo"
}

# The same changes, done by whichever filesystem is mounted on MNT.
change_tree() {         # MNT
        local m=$1
        echo new >> "$m/etc/passwd"                     # copy-up of data
        chmod 0644 "$m/etc/hostname"                    # copy-up of metadata
        chown 5:5 "$m/usr/lib/app.so"
        setfattr -n user.tag -v t1 "$m/etc/app.conf"
        rm "$m/var/cache/c1"                            # whiteout
        rm -rf "$m/old"                                 # whiteout of a tree
        mkdir "$m/old"                                  # opaque dir
        echo fresh > "$m/old/fresh"
        rm -rf "$m/var/cache"
        mkdir "$m/var/cache"
        mv "$m/etc/app.conf" "$m/etc/app.conf.renamed"  # rename of a lower file
        mkdir -p "$m/new/dir"
        echo n > "$m/new/dir/file"
        ln -s ../etc/passwd "$m/new/pw"
        ln "$m/new/dir/file" "$m/new/hard"
        mkfifo "$m/new/fifo"
        truncate -s 10 "$m/usr/lib/pkg/lib.so"
        rm "$m/fifo"
        mkdir "$m/usr/lib/sasl2.dpkg-new"               # how dpkg makes a directory
        echo db > "$m/usr/lib/sasl2.dpkg-new/db"
        mv "$m/usr/lib/sasl2.dpkg-new" "$m/usr/lib/sasl2"
}

# What a layer holds as overlayfs' markers: every entry with its type, the
# device numbers of a char device (0/0: a whiteout) and a directory's
# overlay.opaque. Not overlayfs' own bookkeeping (origin, impure, uuid).
upper_markers() {       # DIR
        (
                cd "$1" || exit 1
                find . -mindepth 1 -printf '%p %y\n' | LC_ALL=C sort | while read -r p y; do
                        case $y in
                        c) echo "$p c $(stat -c %t:%T "$p")" ;;
                        d) echo "$p d $(getfattr --absolute-names --only-values -n trusted.overlay.opaque "$p" 2>/dev/null)" ;;
                        *) echo "$p $y" ;;
                        esac
                done
        )
}

test_upper_written_by_unionfuse_reads_same_under_kernel_overlayfs() {
        local upper
        build_lowers
        upper=$(mkd upper)
        uf_mount "$T/m" "$upper" "$BASE" "$APP"
        change_tree "$T/m"
        tree_listing "$T/m" > "$T/through-unionfuse"
        unmount "$T/m"
        kov_mount "$T/k" "$upper" "$T/kwork" "$BASE" "$APP"
        local d
        d=$(diff "$T/through-unionfuse" <(tree_listing "$T/k")) ||
                fail "kernel overlayfs sees another tree: $(echo "$d" | grep '^[<>]' | head -6 | tr '\n' ';')"
}

# The upper layer, not only what it means: the same changes leave the same
# entries, whiteouts and opaque markers as kernel overlayfs leaves.
test_same_changes_leave_the_upper_layer_kernel_overlayfs_leaves() {
        local d
        build_lowers
        kov_mount "$T/k" "$(mkd kupper)" "$T/kwork" "$BASE" "$APP"
        change_tree "$T/k"
        umount "$T/k"
        uf_mount "$T/m" "$(mkd upper)" "$BASE" "$APP"
        change_tree "$T/m"
        unmount "$T/m"
        d=$(diff <(upper_markers "$T/kupper") <(upper_markers "$T/upper")) ||
                fail "the upper layers differ (< kernel, > unionfuse): $(echo "$d" | grep '^[<>]' | head -6 | tr '\n' ';')"
}

test_merged_dir_renamed_by_unionfuse_reads_same_under_kernel_overlayfs() {
        local upper
        build_lowers
        upper=$(mkd upper)
        uf_mount "$T/m" "$upper" "$BASE" "$APP"
        expect_ok "rename of a merged dir" mv "$T/m/etc" "$T/m/etc2"
        expect_ok "rename of a lower dir" mv "$T/m/usr/lib" "$T/m/lib"
        tree_listing "$T/m" > "$T/through-unionfuse"
        unmount "$T/m"
        kov_mount "$T/k" "$upper" "$T/kwork" "$BASE" "$APP"
        local d
        d=$(diff "$T/through-unionfuse" <(tree_listing "$T/k")) ||
                fail "kernel overlayfs sees another tree: $(echo "$d" | grep '^[<>]' | head -6 | tr '\n' ';')"
}

test_stack_written_by_kernel_overlayfs_reads_same_through_unionfuse() {
        kernel_stack_reads_same
}

# userxattr: the kernel writes user.overlay.* instead of trusted.overlay.*,
# as it does for a rootless container.
test_stack_written_by_kernel_overlayfs_userxattr_reads_same_through_unionfuse() {
        KOV_OPTS=userxattr kernel_stack_reads_same
}

kernel_stack_reads_same() {
        local upper
        build_lowers
        upper=$(mkd upper)
        kov_mount "$T/k" "$upper" "$T/kwork" "$BASE" "$APP"
        change_tree "$T/k"
        tree_listing "$T/k" > "$T/through-kernel"
        umount "$T/k"
        expect_match "the kernel marked old/ opaque" 'overlay\.opaque="y"' "$(getfattr -d -m - "$upper/old" 2>/dev/null)"
        track_lower "$upper"
        uf_mount "$T/ro" "" "$BASE" "$APP" "$upper"
        local d
        d=$(diff "$T/through-kernel" <(tree_listing "$T/ro")) ||
                fail "as a top lower layer, unionfuse sees another tree: $(echo "$d" | grep '^[<>]' | head -6 | tr '\n' ';')"
        unmount "$T/ro"
        # as the upper layer it must mean the same, and accept writes
        cp -a "$upper" "$T/upper2"
        uf_mount "$T/m" "$T/upper2" "$BASE" "$APP"
        d=$(diff "$T/through-kernel" <(tree_listing "$T/m")) ||
                fail "as the upper layer, unionfuse sees another tree: $(echo "$d" | grep '^[<>]' | head -6 | tr '\n' ';')"
        echo more > "$T/m/old/more"
        expect_eq "writes into a kernel-made opaque dir" "fresh more" "$(names "$T/m/old")"
}

run_tests
