#!/bin/bash
# A full disk: the upper layer (and its work directory) on a small tmpfs,
# the lower layer on the ordinary disk. Writes and copy-ups fail with
# ENOSPC, what was written before stays intact, a failed copy-up leaves the
# lower file visible and unchanged, a failed operation is all or nothing
# (now and after a remount), and the mount works again once space is freed.

source "$(dirname "$0")/stress_lib.sh"

# A tmpfs of SIZE (and at most INODES inodes) at $T/small, unmounted by the
# harness after the union mount above it.
small_fs() {    # SIZE [INODES]
        mkdir -p "$T/small"
        mount -t tmpfs -o "size=$1${2:+,nr_inodes=$2}" tmpfs "$T/small"
        track_mount "$T/small"
}

free_bytes() {  # DIR
        df -B1 --output=avail "$1" | tail -1 | tr -d ' '
}

# The errno name of one system call (the e2e sysop helper).
errno_of() {    # OP PATH...
        { sysop "$@" 2>&1 || true; } | tail -1
}

test_full_upper_write_fails_enospc_and_earlier_data_stays() {
        local base=$T/base upper=$T/small/upper m=$T/m size free err
        small_fs 8M
        mkdir -p "$base"
        echo "lower text" > "$base/notes"
        head -c $((1 << 20)) /dev/urandom > "$T/a.src"
        head -c $((1 << 20)) /dev/urandom > "$T/more"
        uf_mount "$m" "$upper" "$base"
        cp "$T/a.src" "$m/a"
        sync "$m/a"
        echo "upper text" >> "$m/notes"

        # Leave about 300 KiB, then append 1 MiB: part of it fits.
        free=$(free_bytes "$T/small")
        head -c $((free - 300 * 1024)) /dev/zero > "$m/filler"
        err=$(dd if="$T/more" of="$m/a" bs=1M oflag=append conv=notrunc status=none 2>&1) &&
                fail "appending 1 MiB to a nearly full upper layer succeeded"
        expect_match "the append's error" 'No space left on device' "$err"
        size=$(stat -c %s "$m/a")
        expect_ok "the first MiB of a, written before" cmp -n $((1 << 20)) "$T/a.src" "$m/a"
        expect_ok "what the failed append left of itself ($((size - (1 << 20))) bytes)" \
                cmp -n $((size - (1 << 20))) <(tail -c +$(((1 << 20) + 1)) "$m/a") "$T/more"
        expect_ok "the merged a and its upper copy" cmp "$m/a" "$upper/a"
        expect_content "$m/notes" "lower text
upper text"
        err=$(errno_of create "$m/new")
        expect_match "a new file on a full upper layer" '^(OK|ENOSPC)$' "$err"
        err=$(dd if="$T/more" of="$m/new" bs=64k status=none 2>&1) &&
                fail "writing 1 MiB to a full upper layer succeeded"
        expect_match "writing a new file" 'No space left on device' "$err"

        # Space freed: writing works again, and nothing earlier changed.
        rm "$m/filler" "$m/new"
        cat "$T/more" >> "$m/a"
        expect_eq "the size of a after the append, done again" $((size + (1 << 20))) "$(stat -c %s "$m/a")"
        unmount "$m"
        uf_mount "$m" "$upper" "$base"
        expect_ok "a after a remount" cmp -n $((1 << 20)) "$T/a.src" "$m/a"
        expect_ok "the last MiB of a after a remount" cmp <(tail -c $((1 << 20)) "$m/a") "$T/more"
        expect_content "$m/notes" "lower text
upper text"
        expect_work_clean "$upper"
}

# A lower file twice the size of the upper layer's disk: writing to it
# fails with ENOSPC (the copy-up comes with the first write), and it is still there, unchanged, with nothing
# left in either the upper layer or the work directory.
test_full_upper_failed_copyup_leaves_lower_file_unchanged() {
        local base=$T/base upper=$T/small/upper m=$T/m
        small_fs 8M
        mkdir -p "$base/var/lib"
        head -c $((16 << 20)) /dev/urandom > "$base/var/lib/big"
        head -c $((2 << 20)) /dev/urandom > "$base/var/lib/mid"
        uf_mount "$m" "$upper" "$base"
        expect_eq "appending to a lower file bigger than the free space" ENOSPC \
                "$(errno_of append "$m/var/lib/big" x)"
        expect_ok "the lower file, seen through the mount" cmp "$base/var/lib/big" "$m/var/lib/big"
        expect_absent "$upper/var/lib/big" "a failed copy-up"
        expect_eq "scratch left by the failed copy-up" "" "$(work_scratch "$upper")"
        expect_match "space used by the failed copy-up" '^[0-9]+$' "$(free_bytes "$T/small")"
        [ "$(free_bytes "$T/small")" -gt $((7 << 20)) ] ||
                fail "the failed copy-up still holds $(( (8 << 20) - $(free_bytes "$T/small") )) bytes"
        # One that fits is copied up, on the same full-disk mount.
        echo tail >> "$m/var/lib/mid"
        expect_eq "the small file's copy-up" $(((2 << 20) + 5)) "$(stat -c %s "$upper/var/lib/mid")"
        # With room, the big one too.
        mount -o remount,size=64M "$T/small"
        echo tail >> "$m/var/lib/big"
        expect_ok "the big file after its copy-up" cmp <(cat "$base/var/lib/big"; echo tail) "$m/var/lib/big"
        unmount "$m"
        expect_work_clean "$upper"
}

# The copy-up of a file a little bigger than the free space: the copy
# (read/write, the layers being on different filesystems) ends with a short
# write. The caller must be told ENOSPC, the disk's answer.
test_copyup_that_almost_fits_fails_with_enospc() {
        local base=$T/base upper=$T/small/upper m=$T/m
        small_fs 1M
        mkdir -p "$base"
        head -c $((256 << 10)) /dev/urandom > "$base/f"
        uf_mount "$m" "$upper" "$base"
        head -c $(( (1 << 20) - (20 << 10) )) /dev/zero > "$m/fill"
        expect_eq "appending to a lower file 236 KiB bigger than the free space" ENOSPC \
                "$(errno_of append "$m/f" x)"
        expect_ok "the lower file, seen through the mount" cmp "$base/f" "$m/f"
        expect_absent "$upper/f" "a failed copy-up"
}

# Renaming a lower directory copies its whole tree up. On a disk too small
# for the tree the rename fails, and must change nothing: the tree stays,
# whole, under its old name, now and after a remount.
test_failed_rename_of_lower_directory_on_full_upper_keeps_whole_tree() {
        local base=$T/base upper=$T/small/upper m=$T/m i err
        small_fs 8M
        mkdir -p "$base/tree/sub"
        for i in 1 2 3 4 5 6; do
                head -c $((2 << 20)) /dev/urandom > "$base/tree/f$i"
        done
        for i in $(seq 20); do
                echo "$i" > "$base/tree/sub/s$i"
        done
        uf_mount "$m" "$upper" "$base"
        err=$("$HELPERS/renameat2" none "$m/tree" "$m/moved" 2>&1) || true
        expect_ne "renaming a 12 MiB lower tree on an 8 MiB upper layer" OK "$err"
        expect_absent "$m/moved"
        expect_same_tree "the tree after the failed rename" "$base/tree" "$m/tree"
        unmount "$m"
        uf_mount "$m" "$upper" "$base"
        expect_absent "$m/moved"
        expect_same_tree "the tree after the failed rename and a remount" "$base/tree" "$m/tree"
        expect_work_clean "$upper"
        # Last, so a wrong errno does not hide the tree's state: not EXDEV,
        # which would send mv to copying the tree by itself.
        expect_eq "the failed rename's errno" ENOSPC "$err"
}

# No inode left for the whiteout a rename of a lower file needs at its old
# name: the rename must fail whole. Done by halves, the file vanishes from
# both names while mounted and shows under both after a remount.
test_failed_rename_of_lower_file_without_inode_for_whiteout_is_all_or_nothing() {
        local base=$T/base upper=$T/small/upper m=$T/m i
        small_fs 8M 24
        mkdir -p "$base"
        echo lower > "$base/l"
        uf_mount "$m" "$upper" "$base"
        for i in $(seq 40); do
                [ "$(errno_of create "$m/n$i")" = OK ] || break
        done
        rm "$m/n1"      # one inode free: the copy-up's, not the whiteout's
        expect_eq "rename of a lower file with one inode free" ENOSPC \
                "$("$HELPERS/renameat2" none "$m/l" "$m/moved" 2>&1)"
        expect_content "$m/l" lower
        expect_absent "$m/moved"
        unmount "$m"
        uf_mount "$m" "$upper" "$base"
        expect_content "$m/l" lower
        expect_absent "$m/moved" "after a remount"
}

# No inode left at all: creating, making a directory, deleting a lower file
# (a whiteout) and copying up fail cleanly or succeed whole; after a few
# files are removed, all of them work.
test_no_inode_left_then_freed() {
        local base=$T/base upper=$T/small/upper m=$T/m i err
        small_fs 8M 32
        mkdir -p "$base/dir"
        for i in 1 2 3; do
                echo "lower $i" > "$base/l$i"
        done
        uf_mount "$m" "$upper" "$base"
        for i in $(seq 60); do
                [ "$(errno_of create "$m/n$i")" = OK ] || break
        done
        expect_eq "creating a file with no inode left" ENOSPC "$(errno_of create "$m/x")"
        expect_absent "$m/x"
        expect_eq "mkdir with no inode left" ENOSPC "$(errno_of mkdir "$m/xd")"
        expect_absent "$m/xd"
        expect_eq "append (copy-up) with no inode left" ENOSPC \
                "$(errno_of append "$m/l1" x)"
        expect_content "$m/l1" "lower 1"
        err=$(errno_of unlink "$m/l2")
        case $err in
        OK) expect_absent "$m/l2" "unlinked" ;;
        ENOSPC) expect_content "$m/l2" "lower 2" ;;
        *) fail "unlink of a lower file with no inode left: $err" ;;
        esac
        expect_eq "scratch left in the work directory" "" "$(work_scratch "$upper" | sed 's|./#whiteout ||')"
        rm "$m"/n[1-5]
        echo more >> "$m/l1"
        expect_content "$m/l1" "lower 1
more"
        mkdir "$m/xd"
        rm -f "$m/l3"
        expect_absent "$m/l3"
        unmount "$m"
        uf_mount "$m" "$upper" "$base"
        expect_content "$m/l1" "lower 1
more"
        expect_absent "$m/l3"
        expect_exists "$m/xd"
}

# A shared mapping written over a hole of a file on a full upper layer:
# msync reports the error (the pages cannot be written back), the file
# reads back the same through the mount and in the upper layer, and the
# mount goes on working.
test_mmap_write_on_full_upper_reports_error() {
        local base=$T/base upper=$T/small/upper m=$T/m out
        small_fs 4M
        mkdir -p "$base"
        uf_mount "$m" "$upper" "$base"
        dd if=/dev/zero of="$m/fill" bs=64k 2>/dev/null || true
        truncate -s 8M "$m/fill"
        out=$(sysop mmap-write "$m/fill" $((6 << 20)) hello 2>&1) || true
        expect_match "msync of a mapped write into a full upper layer" 'ENOSPC|EIO' "$out"
        expect_ok "the merged file and its upper copy" cmp "$m/fill" "$upper/fill"
        rm "$m/fill"
        echo works > "$m/after"
        expect_content "$m/after" works
}

run_tests
