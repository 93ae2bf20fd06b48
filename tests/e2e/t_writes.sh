#!/bin/bash
# Writes (DESIGN.md section 4): copy-up, whiteouts, opaque directories,
# renames, and what the upper layer holds afterwards.
. "$(dirname "$0")/lib.sh"

# -o copyup_on_open: overlayfs' timing, the copy-up at the open itself
# (the kernel then asks the daemon at every open).
test_copyup_on_open_copies_up_at_an_open_for_writing() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        echo data > "$base/f"
        ln "$base/f" "$base/g"
        UF_OPTS=copyup_on_open uf_mount "$T/m" "$upper" "$base"
        expect_eq "open O_WRONLY" OK "$(sysop open-write "$T/m/f")"
        expect_content "$upper/f" data
        expect_eq "the lower hard link, broken by the copy-up" 1 "$(stat -c %h "$T/m/f")"
        expect_content "$T/m/g" data
        expect_absent "$upper/g" "a name only read"
}

test_first_change_copies_up_with_mode_owner_mtime_xattrs() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        mkdir "$base/dir"
        printf 'data\n' > "$base/dir/f"
        chown 1234:5678 "$base/dir/f"
        chmod 0604 "$base/dir/f"
        setfattr -n user.a -v 1 "$base/dir/f"
        setfattr -n trusted.b -v 2 "$base/dir/f"
        touch -d '2019-05-06 07:08:09.123456789 UTC' "$base/dir/f"
        chown 42:43 "$base/dir"
        chmod 0711 "$base/dir"
        echo suid > "$base/dir/suid"
        chmod 4755 "$base/dir/suid"
        setfattr -n user.dirattr -v d "$base/dir"
        touch -d '2018-01-01 UTC' "$base/dir"
        uf_mount "$T/m" "$upper" "$base"
        expect_eq "open O_WRONLY" OK "$(sysop open-write "$T/m/dir/f")"
        # The kernel opens files without asking the daemon (no OPEN
        # requests): the copy-up waits for the first change.
        expect_absent "$upper/dir/f" "an open for writing that writes nothing copies nothing up"
        expect_ok "chmod to the same mode" chmod 0604 "$T/m/dir/f"
        expect_exists "$upper/dir/f" "copy-up on the first change"
        expect_eq "copied attributes" "$(stat -c '%a %u:%g %s %.9Y' "$base/dir/f")" \
                "$(stat -c '%a %u:%g %s %.9Y' "$upper/dir/f")"
        expect_xattr "$upper/dir/f" user.a 1
        expect_xattr "$upper/dir/f" trusted.b 2
        expect_content "$upper/dir/f" data
        expect_eq "parent dir attributes" "$(stat -c '%a %u:%g %.9Y' "$base/dir")" \
                "$(stat -c '%a %u:%g %.9Y' "$upper/dir")"
        expect_eq "parent dir mtime through the mount" "$(stat -c %.9Y "$base/dir")" "$(stat -c %.9Y "$T/m/dir")"
        expect_xattr "$upper/dir" user.dirattr d
        expect_eq "setxattr on a setuid file" OK "$(sysop setxattr "$T/m/dir/suid" user.x 1)"
        expect_eq "setuid bit after copy-up" 4755 "$(stat -c %a "$upper/dir/suid")"
        expect_eq "merged view" "$(stat -c '%a %u:%g %s %.9Y' "$base/dir/f")" \
                "$(stat -c '%a %u:%g %s %.9Y' "$T/m/dir/f")"
}

# -o metacopy: a chmod of a large lower file copies no data; reads go to
# the lower file until the first write brings the data up; kernel overlayfs
# (metacopy=on) reads the same upper layer.
test_metacopy_chmod_copies_no_data_until_the_first_write() {
        local base upper sum
        base=$(mkd base) upper=$(mkd upper)
        head -c 32M /dev/urandom > "$base/big"
        touch -d '2019-05-06 07:08:09 UTC' "$base/big"
        sum=$(md5sum < "$base/big")
        UF_OPTS=metacopy uf_mount "$T/m" "$upper" "$base"
        expect_ok "chmod" chmod 0600 "$T/m/big"
        # no data at all (not st_blocks: its xattrs, the mark and the origin, may take a block)
        expect_eq "upper copy: size, no data" "size=33554432" "$("$HELPERS/seek_data" "$upper/big")"
        expect_xattr "$upper/big" trusted.overlay.metacopy ""
        expect_eq "data through the mount" "$sum" "$(md5sum < "$T/m/big")"
        expect_match "explain" "copied up: yes \(metadata only: its data is read from layer 0 \(base\)\)" \
                "$("$UF" explain "$T/m/big")"
        expect_eq "du through the mount: the data's blocks" "$(stat -c %b "$base/big")" \
                "$(stat -c %b "$T/m/big")"
        unmount "$T/m"
        KOV_OPTS=redirect_dir=on,index=off,metacopy=on kov_mount "$T/k" "$upper" "$T/kwork" "$base"
        expect_eq "kernel overlayfs reads it below" "$sum" "$(md5sum < "$T/k/big")"
        expect_eq "and shows the new mode" 600 "$(stat -c %a "$T/k/big")"
        unmount "$T/k"
        UF_OPTS=metacopy uf_mount "$T/m" "$upper" "$base"
        printf 'end' >> "$T/m/big"
        expect_no_xattr "$upper/big" trusted.overlay.metacopy
        expect_eq "data in the upper copy" "$sum" "$(head -c 33554432 "$upper/big" | md5sum)"
        expect_eq "mode and size" "600 33554435" "$(stat -c '%a %s' "$upper/big")"
        expect_eq "the lower file" "$sum" "$(md5sum < "$base/big")"
}

test_copy_up_keeps_a_3000_byte_xattr_value() {
        local base upper value
        base=$(mkd base) upper=$(mkd upper)
        echo f > "$base/f"
        value=0x$(head -c 3000 /dev/urandom | od -An -tx1 | tr -d ' \n')
        setfattr -n user.big -v "$value" "$base/f"
        uf_mount "$T/m" "$upper" "$base"
        expect_eq "through the mount" "$value" "$(getfattr -n user.big -e hex "$T/m/f" 2>/dev/null | sed -n 's/^user.big=//p')"
        chmod 0600 "$T/m/f"
        expect_eq "in upper after copy-up" "$value" "$(getfattr -n user.big -e hex "$upper/f" 2>/dev/null | sed -n 's/^user.big=//p')"
}

test_append_to_lower_file_copies_data_and_leaves_lower_alone() {
        local base app upper
        base=$(mkd base) app=$(mkd app) upper=$(mkd upper)
        mkdir -p "$base/a/b"
        head -c 300000 /dev/urandom > "$base/a/b/f"
        cp "$base/a/b/f" "$T/expected"
        echo tail >> "$T/expected"
        uf_mount "$T/m" "$upper" "$base" "$app"
        echo tail >> "$T/m/a/b/f"
        expect_ok "merged data" cmp "$T/expected" "$T/m/a/b/f"
        expect_ok "upper data" cmp "$T/expected" "$upper/a/b/f"
        expect_eq "upper holds only the file and its parents" "./a d,./a/b d,./a/b/f f" "$(layer_entries "$upper")"
}

# O_DIRECT, as databases and dd oflag=direct use it: the kernel does the
# direct I/O on the mount's side; the daemon must not hold its layer files
# O_DIRECT (its buffers are not aligned: every write failed EINVAL).
test_o_direct_writes_and_reads_new_and_lower_files() {
        direct_io_round_trip ""
}

test_o_direct_writes_and_reads_new_and_lower_files_with_copyup_on_open() {
        direct_io_round_trip copyup_on_open
}

direct_io_round_trip() {        # UF_OPTS
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        head -c 262144 /dev/urandom > "$T/data"
        echo lower > "$base/lower.bin"
        UF_OPTS=$1 uf_mount "$T/m" "$upper" "$base"
        expect_ok "O_DIRECT write of a new file" dd if="$T/data" of="$T/m/new.bin" bs=64k oflag=direct status=none
        expect_ok "O_DIRECT write over a lower file" \
                dd if="$T/data" of="$T/m/lower.bin" bs=64k oflag=direct conv=notrunc status=none
        expect_ok "O_DIRECT read back" dd if="$T/m/new.bin" of="$T/read" bs=64k iflag=direct status=none
        expect_ok "what was read" cmp "$T/data" "$T/read"
        expect_ok "the lower file's upper copy" cmp "$T/data" "$upper/lower.bin"
        expect_eq "the lower file itself" lower "$(cat "$base/lower.bin")"
}

test_truncating_open_of_lower_file_keeps_its_metadata() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        echo data > "$base/t"
        setfattr -n user.k -v v "$base/t"
        chown 1234:55 "$base/t"
        chmod 0604 "$base/t"
        uf_mount "$T/m" "$upper" "$base"
        : > "$T/m/t"
        expect_eq "attributes in upper after O_TRUNC" "604 1234:55 0" "$(stat -c '%a %u:%g %s' "$upper/t")"
        expect_xattr "$upper/t" user.k v
}

test_delete_lower_file_leaves_char_whiteout_and_copies_nothing() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        mkdir -p "$base/d/tree/sub"
        head -c 100000 /dev/urandom > "$base/d/f"
        echo x > "$base/d/tree/sub/x"
        echo keep > "$base/d/keep"
        uf_mount "$T/m" "$upper" "$base"
        expect_eq "unlink" OK "$(sysop unlink "$T/m/d/f")"
        expect_ok "rm -rf of a lower tree" rm -rf "$T/m/d/tree"
        expect_eq "merged listing" keep "$(names "$T/m/d")"
        unmount "$T/m"
        expect_char_whiteout "$upper/d/f"
        expect_char_whiteout "$upper/d/tree"
        expect_eq "upper entries" "./d d,./d/f c,./d/tree c" "$(layer_entries "$upper")"
}

test_delete_with_aufs_whiteouts_leaves_wh_file() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        mkdir -p "$base/d/tree"
        echo f > "$base/d/f"
        echo x > "$base/d/tree/x"
        UF_OPTS=whiteout=aufs uf_mount "$T/m" "$upper" "$base"
        rm "$T/m/d/f"
        rm -rf "$T/m/d/tree"
        expect_eq "merged listing" "" "$(names "$T/m/d")"
        unmount "$T/m"
        expect_eq "upper entries" "./d d,./d/.wh.f f,./d/.wh.tree f" "$(layer_entries "$upper")"
}

test_aufs_mode_recreated_dir_stays_opaque_after_remount() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        mkdir -p "$base/dir"
        echo old > "$base/dir/old"
        echo f > "$base/f"
        UF_OPTS=whiteout=aufs uf_mount "$T/m" "$upper" "$base"
        rm -rf "$T/m/dir" "$T/m/f"
        mkdir "$T/m/dir"
        touch "$T/m/dir/new"
        unmount "$T/m"
        note "upper holds: $(layer_entries "$upper")"
        expect_eq "char devices in an aufs-mode upper" "" "$(find "$upper" -type c)"
        UF_OPTS=whiteout=aufs uf_mount "$T/m" "$upper" "$base"
        expect_eq "recreated dir after remount" "new" "$(names "$T/m/dir")"
        expect_eq "root after remount" "dir" "$(names "$T/m")"
}

test_mkdir_over_whiteout_is_opaque_plain_mkdir_is_not() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        mkdir -p "$base/dir"
        echo old > "$base/dir/old"
        uf_mount "$T/m" "$upper" "$base"
        rm -rf "$T/m/dir"
        mkdir "$T/m/dir" "$T/m/fresh"
        expect_eq "recreated dir is empty" "" "$(names "$T/m/dir")"
        touch "$T/m/dir/new"
        expect_eq "recreated dir listing" "new" "$(names "$T/m/dir")"
        unmount "$T/m"
        expect_xattr "$upper/dir" trusted.overlay.opaque y
        expect_no_xattr "$upper/fresh" trusted.overlay.opaque
        expect_eq "no whiteout file left in the opaque dir" "./dir d,./dir/new f,./fresh d" "$(layer_entries "$upper")"
}

test_rmdir_of_dir_made_over_whiteout_keeps_lower_file_hidden() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        echo lower > "$base/X"
        uf_mount "$T/m" "$upper" "$base"
        rm "$T/m/X"
        mkdir "$T/m/X"
        rmdir "$T/m/X"
        expect_absent "$T/m/X"
        unmount "$T/m"
        expect_char_whiteout "$upper/X"
}

test_dir_renamed_onto_whited_out_dir_does_not_merge_with_lower() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        mkdir "$base/a"
        echo old > "$base/a/old"
        uf_mount "$T/m" "$upper" "$base"
        rm -rf "$T/m/a"
        mkdir "$T/m/b"
        touch "$T/m/b/new"
        mv "$T/m/b" "$T/m/a"
        expect_eq "listing of a/" new "$(names "$T/m/a")"
        unmount "$T/m"
        uf_mount "$T/m" "$upper" "$base"
        expect_eq "listing of a/ after remount" new "$(names "$T/m/a")"
        expect_eq "root after remount" a "$(names "$T/m")"
}

test_create_file_over_whiteout_replaces_it() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        echo old > "$base/f"
        uf_mount "$T/m" "$upper" "$base"
        rm "$T/m/f"
        echo new > "$T/m/f"
        expect_content "$T/m/f" new
        unmount "$T/m"
        expect_eq "upper holds the new file" "regular file" "$(stat -c %F "$upper/f")"
}

test_rmdir_of_nonempty_merged_dir_is_enotempty() {
        local base app upper
        base=$(mkd base) app=$(mkd app) upper=$(mkd upper)
        mkdir -p "$base/d" "$app/d" "$base/e"
        echo x > "$base/d/x"
        echo y > "$base/e/y"
        uf_mount "$T/m" "$upper" "$base" "$app"
        expect_eq "rmdir of dir with lower content" ENOTEMPTY "$(sysop rmdir "$T/m/d")"
        rm "$T/m/e/y"
        expect_eq "rmdir once all lower content is whited out" OK "$(sysop rmdir "$T/m/e")"
        expect_absent "$T/m/e"
        unmount "$T/m"
        expect_char_whiteout "$upper/e"
}

test_rename_merged_dir_keeps_its_meaning_for_kernel_overlayfs() {
        local base app upper
        base=$(mkd base) app=$(mkd app) upper=$(mkd upper)
        mkdir -p "$base/a/sub" "$app/a" "$base/a/gone"
        echo x > "$base/a/x"
        echo y > "$base/a/sub/y"
        echo z > "$app/a/z"
        echo g > "$base/a/gone/g"
        ln -s x "$base/a/lx"
        uf_mount "$T/m" "$upper" "$base" "$app"
        rm -rf "$T/m/a/gone"
        expect_eq "rename of a merged dir" OK "$("$HELPERS/renameat2" none "$T/m/a" "$T/m/b")"
        expect_absent "$T/m/a"
        expect_eq "renamed dir listing" "lx sub x z" "$(names "$T/m/b")"
        echo new > "$T/m/b/new"
        mkdir "$T/m/a"
        echo again > "$T/m/a/again"
        tree_listing "$T/m" > "$T/through-unionfuse"
        unmount "$T/m"
        kov_mount "$T/k" "$upper" "$T/kwork" "$base" "$app"
        local d
        d=$(diff "$T/through-unionfuse" <(tree_listing "$T/k")) ||
                fail "kernel overlayfs sees another tree: $(echo "$d" | grep '^[<>]' | head -6 | tr '\n' ';')"
}

test_chmod_of_merged_dir_copies_up_only_the_dir() {
        local base app upper
        base=$(mkd base) app=$(mkd app) upper=$(mkd upper)
        mkdir -p "$base/d/sub" "$app/d"
        echo x > "$base/d/x"
        echo y > "$app/d/y"
        echo z > "$base/d/sub/z"
        uf_mount "$T/m" "$upper" "$base" "$app"
        chmod 0700 "$T/m/d"
        expect_eq "mode" 700 "$(stat -c %a "$T/m/d")"
        expect_eq "listing" "sub x y" "$(names "$T/m/d")"
        unmount "$T/m"
        expect_eq "upper entries" "./d d" "$(layer_entries "$upper")"
        expect_no_xattr "$upper/d" trusted.overlay.opaque
}

test_chown_of_lower_fifo_and_device_copies_them_up() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        mkfifo "$base/fifo"
        mknod "$base/null" c 1 3
        mknod "$base/blk" b 7 0
        ln -s target "$base/sl"
        uf_mount "$T/m" "$upper" "$base"
        chown 7:7 "$T/m/fifo" "$T/m/null" "$T/m/blk"
        chown -h 7:7 "$T/m/sl"
        unmount "$T/m"
        expect_eq "fifo in upper" "fifo 7:7" "$(stat -c '%F %u:%g' "$upper/fifo")"
        expect_eq "char device in upper" "character special file 1:3 7:7" "$(stat -c '%F %t:%T %u:%g' "$upper/null")"
        expect_eq "block device in upper" "block special file 7:0 7:7" "$(stat -c '%F %t:%T %u:%g' "$upper/blk")"
        expect_eq "symlink in upper" "target 7:7" "$(readlink "$upper/sl") $(stat -c '%u:%g' "$upper/sl")"
}

test_rename_variants_keep_their_meaning_for_kernel_overlayfs() {
        local base app upper
        base=$(mkd base) app=$(mkd app) upper=$(mkd upper)
        mkdir -p "$base/a/s" "$app/a" "$base/empty" "$base/full" "$app/b"
        echo a > "$base/a/s/deep"
        echo b > "$app/a/top"
        echo f > "$base/f"
        echo g > "$base/g"
        echo full > "$base/full/x"
        echo bb > "$app/b/bb"
        uf_mount "$T/m" "$upper" "$base" "$app"
        local m=$T/m
        rm "$m/f"
        expect_eq "file onto a whited-out name" OK "$("$HELPERS/renameat2" none "$m/g" "$m/f")"
        expect_eq "merged dir onto an empty lower dir" OK "$("$HELPERS/renameat2" none "$m/a" "$m/empty")"
        expect_eq "dir onto a non-empty dir" ENOTEMPTY "$("$HELPERS/renameat2" none "$m/b" "$m/full")"
        expect_eq "dir into itself" EINVAL "$("$HELPERS/renameat2" none "$m/b" "$m/b/inside")"
        expect_eq "file onto a dir" EISDIR "$("$HELPERS/renameat2" none "$m/f" "$m/b")"
        expect_eq "dir onto a file" ENOTDIR "$("$HELPERS/renameat2" none "$m/b" "$m/f")"
        expect_eq "merged dir into a lower dir" OK "$("$HELPERS/renameat2" none "$m/b" "$m/full/b")"
        expect_eq "and back under a new name" OK "$("$HELPERS/renameat2" none "$m/full/b" "$m/b2")"
        mkdir "$m/a"
        echo new > "$m/a/new"
        expect_eq "listing of a/ made again" "new" "$(names "$m/a")"
        expect_eq "listing of empty/" "s top" "$(names "$m/empty")"
        expect_eq "listing of b2/" "bb" "$(names "$m/b2")"
        expect_content "$m/f" g
        tree_listing "$m" > "$T/through-unionfuse"
        unmount "$m"
        kov_mount "$T/k" "$upper" "$T/kwork" "$base" "$app"
        local d
        d=$(diff "$T/through-unionfuse" <(tree_listing "$T/k")) ||
                fail "kernel overlayfs sees another tree: $(echo "$d" | grep '^[<>]' | head -6 | tr '\n' ';')"
}

test_parallel_changes_in_one_merged_dir_stay_consistent() {
        local base app upper w i
        base=$(mkd base) app=$(mkd app) upper=$(mkd upper)
        mkdir -p "$base/d" "$app/d"
        for w in 1 2 3 4; do
                for i in $(seq 100); do : > "$base/d/l$w-$i"; done
        done
        touch "$app/d/app-file"
        uf_mount "$T/m" "$upper" "$base" "$app"
        local d=$T/m/d
        # four writers, each on its own names, and a reader listing all along
        for w in 1 2 3 4; do
                (
                        for i in $(seq 100); do
                                echo "$w-$i" > "$d/new$w-$i"
                                mv "$d/new$w-$i" "$d/moved$w-$i"
                                rm "$d/l$w-$i"
                                [ $((i % 2)) -eq 0 ] && rm "$d/moved$w-$i"
                                [ $((i % 10)) -eq 0 ] && mkdir "$d/dir$w-$i"
                        done
                ) > "$T/writer$w.log" 2>&1 &
        done
        ( for i in $(seq 40); do ls "$d" > /dev/null; done ) &
        wait
        for w in 1 2 3 4; do
                expect_eq "errors of writer $w" "" "$(head -3 "$T/writer$w.log")"
        done
        expect_eq "names left" 241 "$(ls "$d" | wc -l)"
        expect_eq "lower names left" 0 "$(ls "$d" | grep -c '^l' || true)"
        expect_content "$d/moved3-99" 3-99
        expect_absent "$d/moved3-98"
        unmount "$T/m"
        expect_eq "whiteouts in upper" 400 "$(find "$upper/d" -type c | wc -l)"
        expect_eq "files in upper" 200 "$(find "$upper/d" -type f | wc -l)"
}

test_unlinked_open_file_has_nlink_0_and_stays_readable() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        echo lower > "$base/f"
        uf_mount "$T/m" "$upper" "$base"
        expect_eq "lower file" "nlink=0 name=ENOENT content=lower" "$("$HELPERS/fstat_unlinked" "$T/m/f")"
        echo upper > "$T/m/g"
        expect_eq "upper file" "nlink=0 name=ENOENT content=upper" "$("$HELPERS/fstat_unlinked" "$T/m/g")"
}

# Opened, removed, then written: the writer reads back what it wrote; the
# lower file is untouched and the upper layer holds only the whiteout.
test_unlinked_open_file_can_be_written_and_read_back() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        echo lower > "$base/f"
        uf_mount "$T/m" "$upper" "$base"
        expect_eq "lower file" "nlink=0 name=ENOENT content=LOwer" \
                "$("$HELPERS/fstat_unlinked" "$T/m/f" LO)"
        echo upper > "$T/m/g"
        expect_eq "upper file" "nlink=0 name=ENOENT content=UPper" \
                "$("$HELPERS/fstat_unlinked" "$T/m/g" UP)"
        expect_content "$base/f" lower
        unmount "$T/m"
        expect_eq "upper layer" "f" "$(ls "$upper")"
        expect_char_whiteout "$upper/f"
}

test_copy_up_keeps_inode_number() {
        local base upper ino dino
        base=$(mkd base) upper=$(mkd upper)
        mkdir "$base/d"
        echo f > "$base/d/f"
        uf_mount "$T/m" "$upper" "$base"
        ino=$(stat -c %i "$T/m/d/f")
        dino=$(stat -c %i "$T/m/d")
        echo more >> "$T/m/d/f"
        expect_exists "$upper/d/f"
        expect_eq "file inode after copy-up" "$ino" "$(stat -c %i "$T/m/d/f")"
        expect_eq "dir inode after copy-up" "$dino" "$(stat -c %i "$T/m/d")"
        expect_eq "inode seen by ls" "$ino" "$(ls -i "$T/m/d" | awk '{ print $1 }')"
}

test_hard_links_in_a_lower_layer_share_inode() {
        local base
        base=$(mkd base)
        echo h > "$base/h1"
        ln "$base/h1" "$base/h2"
        uf_mount "$T/m" "" "$base"
        expect_eq "same st_ino" "$(stat -c %i "$T/m/h1")" "$(stat -c %i "$T/m/h2")"
        expect_eq "st_nlink" "2 2" "$(stat -c %h "$T/m/h1" "$T/m/h2" | tr '\n' ' ' | sed 's/ $//')"
}

test_hard_linked_names_in_upper_stay_one_file() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        echo one > "$upper/h1"
        ln "$upper/h1" "$upper/h2"
        uf_mount "$T/m" "$upper" "$base"
        expect_eq "sizes before" "4 4" "$(stat -c %s "$T/m/h1" "$T/m/h2" | tr '\n' ' ' | sed 's/ $//')"
        expect_content "$T/m/h2" one    # now in the page cache
        echo two >> "$T/m/h1"
        expect_eq "sizes after a write through h1" "8 8" "$(stat -c %s "$T/m/h1" "$T/m/h2" | tr '\n' ' ' | sed 's/ $//')"
        expect_content "$T/m/h2" "$(printf 'one\ntwo')"
        # The same size, in place: h2's cached pages must still go (the
        # kernel keeps every file's pages; a read of h2 checks its mtime).
        printf 'ONE\n' | dd of="$T/m/h1" conv=notrunc status=none
        expect_content "$T/m/h2" "$(printf 'ONE\ntwo')"
        chmod 0600 "$T/m/h2"
        expect_eq "mode seen through h1 after chmod of h2" 600 "$(stat -c %a "$T/m/h1")"
}

test_mount_without_upper_is_read_only() {
        local base m
        base=$(mkd base)
        mkdir "$base/d" "$base/e"
        echo f > "$base/f"
        uf_mount "$T/m" "" "$base"
        m=$T/m
        expect_eq "create" EROFS "$(sysop create "$m/new")"
        expect_eq "open for write" EROFS "$(sysop open-write "$m/f")"
        expect_eq "truncate" EROFS "$(sysop truncate "$m/f" 0)"
        expect_eq "mkdir" EROFS "$(sysop mkdir "$m/nd")"
        expect_eq "unlink" EROFS "$(sysop unlink "$m/f")"
        expect_eq "rmdir" EROFS "$(sysop rmdir "$m/e")"
        expect_eq "rename" EROFS "$("$HELPERS/renameat2" none "$m/f" "$m/g")"
        expect_eq "link" EROFS "$(sysop link "$m/f" "$m/g")"
        expect_eq "symlink" EROFS "$(sysop symlink f "$m/s")"
        expect_eq "mkfifo" EROFS "$(sysop mkfifo "$m/p")"
        expect_eq "setxattr" EROFS "$(sysop setxattr "$m/f" user.a 1)"
        expect_eq "access W" EROFS "$(sysop access "$m/f" w)"
        expect_match "chmod" 'Read-only file system' "$(chmod 600 "$m/f" 2>&1)"
        expect_match "chown" 'Read-only file system' "$(chown 1:1 "$m/f" 2>&1)"
        expect_match "touch" 'Read-only file system' "$(touch "$m/f" 2>&1)"
        expect_content "$m/f" f
}

test_concurrent_writers_of_big_lower_file_make_one_copy() {
        local base upper i
        base=$(mkd base) upper=$(mkd upper)
        for i in 1 2 3; do
                head -c $((48 << 20)) /dev/urandom > "$base/big$i"
        done
        uf_mount "$T/m" "$upper" "$base"
        for i in 1 2 3; do
                cp "$base/big$i" "$T/expected$i"
                # writers at both ends and the middle, started together
                printf 'AAAA' | dd of="$T/expected$i" bs=1 seek=10 conv=notrunc status=none
                printf 'BBBB' | dd of="$T/expected$i" bs=1 seek=$((24 << 20)) conv=notrunc status=none
                printf 'CCCC' | dd of="$T/expected$i" bs=1 seek=$(((48 << 20) - 4)) conv=notrunc status=none
                printf 'AAAA' | dd of="$T/m/big$i" bs=1 seek=10 conv=notrunc status=none &
                printf 'BBBB' | dd of="$T/m/big$i" bs=1 seek=$((24 << 20)) conv=notrunc status=none &
                printf 'CCCC' | dd of="$T/m/big$i" bs=1 seek=$(((48 << 20) - 4)) conv=notrunc status=none &
                wait
        done
        for i in 1 2 3; do
                expect_ok "merged big$i has all three writes" cmp "$T/expected$i" "$T/m/big$i"
        done
        unmount "$T/m"
        for i in 1 2 3; do
                expect_ok "upper big$i" cmp "$T/expected$i" "$upper/big$i"
        done
        expect_eq "upper entries" "./big1 f,./big2 f,./big3 f" "$(layer_entries "$upper")"
        expect_eq "files left in the work dir" "" "$(find "$upper.work" -type f)"
}

# After a power loss, a copied-up file must hold its data, not hide the
# intact lower file behind an empty copy: the copy's data reaches the disk
# before it takes its name (fs/copyup.c copy_sync), as on overlayfs. On
# ext4, data not yet written shows as a delalloc extent in filefrag.
# Each way into copy-up: a chmod and a write (the tree lock released for
# the copy), an xattr and a hard link (held), a directory rename (a tree),
# and the data of a file that held only its metadata (-o metacopy). The
# writes overwrite a byte: a block already on the disk stays so.
expect_data_on_disk() {        # UPPER-FILE...
        local f
        for f in "$@"; do
                exists "$f" || fail "$f: not in the upper layer"
                filefrag -v "$f" | grep -Eq 'delalloc|unknown_loc' &&
                        fail "$f: its data is not on the disk yet: $(filefrag -v "$f" | sed -n 4p)"
        done
        return 0
}

test_copied_up_data_reaches_the_disk_before_the_copy_takes_its_name() {
        local base upper f
        base=$(mkd base) upper=$(mkd upper)
        [ "$(stat -f -c %T "$upper")" = ext2/ext3 ] || skip "the upper layer is not on ext4"
        command -v filefrag >/dev/null || skip "no filefrag (e2fsprogs)"
        mkdir -p "$base/d"
        for f in chmod xattr link d/in-tree meta; do head -c 100000 /dev/urandom > "$base/$f"; done
        head -c $((2 << 20)) /dev/urandom > "$base/write"
        sync
        uf_mount "$T/m" "$upper" "$base"
        chmod 600 "$T/m/chmod"
        printf x | dd of="$T/m/write" conv=notrunc status=none
        setfattr -n user.x -v y "$T/m/xattr"
        ln "$T/m/link" "$T/m/link2"
        mv "$T/m/d" "$T/m/moved"
        expect_data_on_disk "$upper/chmod" "$upper/write" "$upper/xattr" "$upper/link" \
                "$upper/moved/in-tree"
        unmount "$T/m"
        UF_OPTS=metacopy uf_mount "$T/m" "$upper" "$base"
        chmod 600 "$T/m/meta"
        printf x | dd of="$T/m/meta" conv=notrunc status=none
        expect_data_on_disk "$upper/meta"
        expect_eq "metacopy file's data after the write" "$( (printf x; tail -c +2 "$base/meta") | md5sum)" \
                "$(md5sum < "$T/m/meta")"
}

# The same, through a power loss: the upper layer on an ext4 of its own
# (a loop device), copy-ups by chmod, by an xattr and by a directory
# rename (a tree), a journal commit forced by an fsync of another file
# (as any process's fsync or the 5-second commit would), then the
# filesystem stopped with nothing more written (sysop shutdown) and
# mounted again: the copies hold their data. Copied without the wait
# (-o volatile), the chmod'ed copy is found empty.
test_copies_up_keep_their_data_through_a_power_loss() {
        local base upper img dev f
        base=$(mkd base) img=$T/upper.img
        command -v losetup >/dev/null && command -v mkfs.ext4 >/dev/null ||
                skip "no losetup or mkfs.ext4"
        truncate -s 256M "$img"
        mkfs.ext4 -q -F "$img" || skip "mkfs.ext4 failed"
        mkdir -p "$T/fs"
        dev=$(losetup -f --show "$img" 2>/dev/null) || skip "no loop device"
        mount "$dev" "$T/fs" || { losetup -d "$dev"; skip "cannot mount a loop device"; }
        track_mount "$T/fs"
        losetup -d "$dev"
        upper=$T/fs/upper
        mkdir -p "$base/d" "$upper"
        for f in chmod xattr d/a d/b; do head -c 100000 /dev/urandom > "$base/$f"; done
        uf_mount "$T/m" "$upper" "$base"
        chmod 600 "$T/m/chmod"
        setfattr -n user.x -v y "$T/m/xattr"
        mv "$T/m/d" "$T/m/moved"
        dd if=/dev/zero of="$T/fs/other" bs=4k count=1 conv=fsync status=none
        expect_eq "shutdown" OK "$(sysop shutdown "$T/fs")"
        # unmount waits for the daemon to exit: until it has, its open
        # layer directories keep the upper filesystem busy
        unmount "$T/m"
        umount "$T/fs"
        mount -o loop "$img" "$T/fs" || fail "the upper filesystem does not mount again"
        for f in chmod xattr; do
                expect_ok "$f: its data after the power loss" cmp "$base/$f" "$upper/$f"
        done
        for f in a b; do
                expect_ok "moved/$f: its data after the power loss" cmp "$base/d/$f" "$upper/moved/$f"
        done
}

test_killed_daemon_leaves_no_half_copy_and_next_mount_cleans_work() {
        local base upper pid conn
        base=$(mkd base) upper=$(mkd upper)
        head -c $((256 << 20)) /dev/urandom > "$base/big"
        cp "$base/big" "$T/appended"
        echo tail >> "$T/appended"
        uf_mount "$T/m" "$upper" "$base"
        pid=$UF_PID
        [ -n "$pid" ] || fail "cannot find the daemon"
        conn=$(awk -v m="$T/m" '$5 == m { print $3 }' /proc/self/mountinfo)
        ( echo tail >> "$T/m/big" ) 2>/dev/null &
        sleep 0.1
        kill -KILL "$pid"
        [ -e "/sys/fs/fuse/connections/${conn#*:}/abort" ] &&
                echo 1 > "/sys/fs/fuse/connections/${conn#*:}/abort"
        wait || true
        umount -l "$T/m" 2>/dev/null || true
        # the copy-up is all or nothing: no big, or the whole of it
        if exists "$upper/big"; then
                cmp -s "$base/big" "$upper/big" || cmp -s "$T/appended" "$upper/big" ||
                        fail "a killed copy-up left a partial file in upper ($(stat -c %s "$upper/big") bytes)"
                note "the daemon was killed after the copy-up"
        else
                note "the daemon was killed during the copy-up"
        fi
        expect_eq "upper entries after the crash" "" "$(cd "$upper" && find . -mindepth 1 ! -path ./big)"
        uf_mount "$T/m" "$upper" "$base"
        expect_eq "regular files in the work dir after the next mount" "" "$(find "$upper.work" -type f)"
        echo more >> "$T/m/big"
        expect_eq "appending after the crash" more "$(tail -c 5 "$T/m/big")"
}

# Unless told the daemon drops set-id bits and capabilities itself
# (FUSE_HANDLE_KILLPRIV_V2, fs/fuse_killpriv.c), FUSE's kernel side asks for
# security.capability before every write(2): a round trip more per write.
# Told, it asks once, and again only after the file's attributes change.
test_a_stream_of_writes_asks_for_security_capability_once() {
        local base upper n
        base=$(mkd base) upper=$(mkd upper)
        mkdir -p "$upper.work"
        uf_mount_logged "$T/m" "$T/requests" "lowerdir=$base,upperdir=$upper,workdir=$upper.work"
        dd if=/dev/zero of="$T/m/f" bs=4k count=100 status=none
        unmount "$T/m"
        wait
        expect_eq "WRITE requests for 100 writes" 100 "$(grep -c 'opcode: WRITE' "$T/requests")"
        n=$(grep -c 'opcode: GETXATTR' "$T/requests")
        [ "$n" -le 2 ] || fail "$n GETXATTR requests for 100 writes, where 1 is enough"
        expect_eq "data written" 409600 "$(stat -c %s "$upper/f")"
}

run_tests
