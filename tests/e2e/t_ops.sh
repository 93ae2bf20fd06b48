#!/bin/bash
# Every operation a chrooted program needs, through a real mount: each test
# works on entries of a lower layer (so copy-up is on the path) and on new
# ones, and checks both the merged view and the upper layer.
. "$(dirname "$0")/lib.sh"

# The stack most tests here use: a base layer and an app layer, an empty
# upper, mounted on $M.
#   base/f          "base\n", mode 0640, owner 0:0, mtime 2020-01-01 00:00
#   base/exe        mode 0755
#   base/link       -> f
#   base/d/x        "x\n"
#   app/g           "app\n"
#   app/d/y         "y\n"
build_stack() {
        BASE=$(mkd base) APP=$(mkd app) U=$(mkd upper) M=$T/m
        printf 'base\n' > "$BASE/f"
        chmod 0640 "$BASE/f"
        touch -d '2020-01-01 00:00:00 UTC' "$BASE/f"
        printf '#!/bin/sh\n' > "$BASE/exe"
        chmod 0755 "$BASE/exe"
        ln -s f "$BASE/link"
        mkdir "$BASE/d" "$APP/d"
        printf 'x\n' > "$BASE/d/x"
        printf 'app\n' > "$APP/g"
        printf 'y\n' > "$APP/d/y"
}

mount_stack() {
        build_stack
        uf_mount "$M" "$U" "$BASE" "$APP"
}

test_stat_lower_file_shows_its_lower_attributes() {
        mount_stack
        expect_eq "stat through the mount" "$(stat -c '%F %a %u:%g %s %Y' "$BASE/f")" \
                "$(stat -c '%F %a %u:%g %s %Y' "$M/f")"
        expect_eq "stat of a dir" "directory" "$(stat -c %F "$M/d")"
        expect_eq "stat of a symlink" "symbolic link" "$(stat -c %F "$M/link")"
        expect_eq "lookup of a missing name" "ENOENT" "$(sysop access "$M/nope" f)"
}

test_chmod_lower_file_changes_mode_in_merged_view() {
        mount_stack
        chmod 0600 "$M/f"
        expect_eq "mode through the mount" 600 "$(stat -c %a "$M/f")"
        expect_eq "mode in upper" 600 "$(stat -c %a "$U/f")"
        expect_content "$M/f" base
}

test_chown_lower_file_changes_owner_in_merged_view() {
        mount_stack
        chown 1234:5678 "$M/f"
        expect_eq "owner through the mount" 1234:5678 "$(stat -c %u:%g "$M/f")"
        expect_eq "owner in upper" 1234:5678 "$(stat -c %u:%g "$U/f")"
        chown -h 4321:8765 "$M/link"
        expect_eq "owner of a symlink (lchown)" 4321:8765 "$(stat -c %u:%g "$M/link")"
}

test_truncate_lower_file_shrinks_and_grows_it() {
        mount_stack
        truncate -s 2 "$M/f"
        expect_content "$M/f" ba
        truncate -s 100000 "$M/f"
        expect_eq "size after growing" 100000 "$(stat -c %s "$M/f")"
        expect_eq "size in upper" 100000 "$(stat -c %s "$U/f")"
}

test_touch_d_sets_mtime_and_atime() {
        mount_stack
        touch -d '2001-02-03 04:05:06 UTC' "$M/f"
        expect_eq "mtime" 981173106 "$(stat -c %Y "$M/f")"
        expect_eq "atime" 981173106 "$(stat -c %X "$M/f")"
        touch -a -d '@1100000000' "$M/f"
        expect_eq "mtime after touch -a" 981173106 "$(stat -c %Y "$M/f")"
        expect_eq "atime after touch -a" 1100000000 "$(stat -c %X "$M/f")"
        touch -m -d '@1000000000.5' "$M/g"
        expect_eq "mtime with nanoseconds" "1000000000.500000000" "$(stat -c %.9Y "$M/g")"
        touch -h -d '@1234567890' "$M/link"
        expect_eq "mtime of a symlink itself" 1234567890 "$(stat -c %Y "$M/link")"
        expect_ne "symlink target untouched" 1234567890 "$(stat -c %Y "$M/f")"
}

test_readlink_returns_lower_symlink_target() {
        mount_stack
        expect_eq "readlink" f "$(readlink "$M/link")"
        expect_content "$M/link" base
}

test_long_symlink_target_survives_readlink_and_copy_up() {
        build_stack
        local long
        long=$(printf 'a%.0s' $(seq 4000))
        ln -s "$long" "$BASE/long"
        uf_mount "$M" "$U" "$BASE" "$APP"
        expect_eq "readlink of a 4000-byte target" "$long" "$(readlink "$M/long")"
        chown -h 5:5 "$M/long"
        expect_eq "target in upper after copy-up" "$long" "$(readlink "$U/long")"
        ln -s "$long" "$M/long2"
        expect_eq "a new 4000-byte symlink" "$long" "$(readlink "$M/long2")"
}

test_mknod_creates_fifo_char_device_and_socket() {
        mount_stack
        expect_ok "mkfifo" mkfifo "$M/fifo"
        expect_eq "fifo type" "fifo" "$(stat -c %F "$M/fifo")"
        ( echo through-fifo > "$M/fifo" & )
        expect_eq "data through the fifo" through-fifo "$(timeout 5 cat "$M/fifo")"
        expect_ok "mknod c 1 3" mknod -m 0666 "$M/null" c 1 3
        expect_eq "char device" "character special file 1:3" "$(stat -c '%F %t:%T' "$M/null")"
        expect_eq "device node in upper" "character special file 1:3" "$(stat -c '%F %t:%T' "$U/null")"
        # short relative path: sun_path holds 108 bytes
        expect_eq "bind a unix socket" OK "$(cd "$M/d" && sysop bind-unix sock)"
        expect_eq "socket type" socket "$(stat -c %F "$M/d/sock")"
}

test_mkdir_and_rmdir_of_new_directory() {
        mount_stack
        expect_eq "mkdir" OK "$(sysop mkdir "$M/new")"
        expect_eq "mkdir over existing" EEXIST "$(sysop mkdir "$M/d")"
        expect_eq "new dir type" directory "$(stat -c %F "$M/new")"
        expect_eq "rmdir" OK "$(sysop rmdir "$M/new")"
        expect_absent "$M/new"
        expect_absent "$U/new"
}

# A shell left in a directory another process removed: as on a local
# filesystem, `ls` there lists nothing and `stat .` shows the directory with
# no links, where both failed ENOENT.
test_a_removed_working_directory_lists_empty_and_stats() {
        local out
        mount_stack
        mkdir "$M/gone"
        chmod 0751 "$M/gone"
        out=$(cd "$M/gone" && rmdir "$M/gone" && ls -A . && stat -c '%a %h' . 2>&1) ||
                fail "in the removed directory: $out"
        expect_eq "listing and stat of ." "751 0" "$out"
        out=$(cd "$M/d" && rm -rf "$M/d" && stat -c '%F %h' . 2>&1) ||
                fail "in the removed merged directory: $out"
        expect_eq "stat of the removed merged directory" "directory 0" "$out"
}

test_unlink_of_new_file_removes_it() {
        mount_stack
        echo new > "$M/new"
        expect_eq "unlink" OK "$(sysop unlink "$M/new")"
        expect_absent "$M/new"
        expect_absent "$U/new" "upper after unlink of a new file"
        expect_eq "unlink of missing name" ENOENT "$(sysop unlink "$M/new")"
}

test_symlink_creates_link_with_given_target() {
        mount_stack
        expect_eq "symlink" OK "$(sysop symlink ../some/where "$M/d/sl")"
        expect_eq "target" ../some/where "$(readlink "$M/d/sl")"
        expect_eq "target in upper" ../some/where "$(readlink "$U/d/sl")"
}

test_rename_plain_moves_lower_file() {
        mount_stack
        expect_eq "rename" OK "$("$HELPERS/renameat2" none "$M/f" "$M/d/f2")"
        expect_absent "$M/f"
        expect_content "$M/d/f2" base
        expect_eq "mode kept" 640 "$(stat -c %a "$M/d/f2")"
        unmount "$M"
        expect_char_whiteout "$U/f"
        expect_content "$U/d/f2" base
}

test_rename_over_existing_replaces_target() {
        mount_stack
        expect_ok "mv over existing" mv -f "$M/g" "$M/f"
        expect_content "$M/f" app
        expect_absent "$M/g"
}

test_rename_noreplace_refuses_existing_target() {
        mount_stack
        expect_eq "RENAME_NOREPLACE onto existing" EEXIST "$("$HELPERS/renameat2" noreplace "$M/g" "$M/f")"
        expect_content "$M/f" base
        expect_content "$M/g" app
        mv -n "$M/g" "$M/f" 2>/dev/null || true
        expect_content "$M/f" base
        expect_eq "RENAME_NOREPLACE onto a free name" OK "$("$HELPERS/renameat2" noreplace "$M/g" "$M/g2")"
        expect_content "$M/g2" app
}

test_rename_exchange_swaps_or_says_einval() {
        mount_stack
        local r
        r=$("$HELPERS/renameat2" exchange "$M/f" "$M/g") || true
        case $r in
        OK)     expect_content "$M/f" app
                expect_content "$M/g" base ;;
        EINVAL) expect_content "$M/f" base
                expect_content "$M/g" app ;;
        *)      fail "RENAME_EXCHANGE: expected OK or EINVAL, got $r" ;;
        esac
}

test_link_gives_lower_file_a_second_name() {
        mount_stack
        expect_eq "link" OK "$(sysop link "$M/f" "$M/f.hard")"
        expect_eq "same inode" "$(stat -c %i "$M/f")" "$(stat -c %i "$M/f.hard")"
        expect_eq "nlink" 2 "$(stat -c %h "$M/f")"
        expect_content "$M/f" base      # now in the page cache
        echo more >> "$M/f.hard"
        expect_content "$M/f" "$(printf 'base\nmore')"
}

test_open_read_write_append() {
        mount_stack
        printf 'hello\n' > "$M/new"
        expect_content "$M/new" hello
        printf 'more\n' >> "$M/f"
        expect_content "$M/f" "$(printf 'base\nmore')"
        printf 'over\n' > "$M/g"
        expect_content "$M/g" over
        expect_content "$U/g" over
        expect_eq "create over an existing name with O_EXCL" EEXIST "$(sysop create "$M/g")"
}

# The kernel reads a file ahead in READ requests as large as the mount's
# readahead window; a root daemon raises it from 128 KiB to 512 KiB
# (tools/readahead.c), a quarter of the round trips of a sequential read.
test_a_sequential_read_comes_in_512_kib_requests() {
        local base i
        base=$(mkd base)
        dd if=/dev/urandom of="$base/big" bs=1M count=8 status=none
        uf_mount_logged "$T/m" "$T/requests" "lowerdir=$base"
        for i in $(seq 50); do
                [ "$(cat "/sys/class/bdi/$(mountpoint -d "$T/m")/read_ahead_kb")" = 512 ] && break
                sleep 0.1
        done
        expect_eq "readahead window (KiB)" 512 "$(cat "/sys/class/bdi/$(mountpoint -d "$T/m")/read_ahead_kb")"
        expect_eq "data read" "$(md5sum < "$base/big")" "$(md5sum < "$T/m/big")"
        unmount "$T/m"
        wait
        i=$(grep -c 'opcode: READ' "$T/requests")
        [ "$i" -le 20 ] || fail "$i READ requests for 8 MiB, where 16 of 512 KiB are enough"
}

test_fsync_and_fdatasync_succeed() {
        mount_stack
        echo data >> "$M/f"
        expect_ok "fsync of a file" sync "$M/f"
        expect_ok "fdatasync of a file" sync -d "$M/f"
        expect_ok "fsync of a directory" sync "$M/d"
        expect_ok "dd conv=fsync" dd if=/dev/zero of="$M/new" bs=4k count=4 conv=fsync status=none
}

test_readdir_lists_union_of_layers() {
        mount_stack
        expect_eq "root listing" "d exe f g link" "$(names "$M")"
        expect_eq "merged dir listing" "x y" "$(names "$M/d")"
        expect_ok "ls -la" ls -la "$M" "$M/d"
        touch "$M/d/z"
        expect_eq "listing after create" "x y z" "$(names "$M/d")"
}

# A listing names its entries with the inode numbers and types that stat
# gives them, whether the entry came with its attributes or bare
# (fs/fuse_dirplus.h): lower files, a file copied up (it keeps its lower
# inode number), a new upper file, a hard link, a symlink, a directory.
test_readdir_inode_numbers_and_types_match_stat() {
        mount_stack
        chmod 0600 "$M/f"
        echo new > "$M/new"
        ln "$M/new" "$M/new-link"
        mkdir "$M/nd"
        unmount "$M"
        uf_mount "$M" "$U" "$BASE" "$APP"
        expect_eq "root listing, fresh mount" "OK 8" "$("$HELPERS/probe" dirents "$M")"
        expect_eq "merged dir, fresh mount" "OK 2" "$("$HELPERS/probe" dirents "$M/d")"
        expect_eq "root listing again" "OK 8" "$("$HELPERS/probe" dirents "$M")"
}

# A copied-up hard link becomes a file of its own, with a number of its
# own (as overlayfs without an index): the listing the kernel cached
# before the copy-up shows that number too, as find -printf %i reads it.
test_a_copied_up_hard_link_shows_its_new_number_in_listings() {
        local base m
        base=$(mkd base) m=$T/m
        mkdir "$base/d"
        echo x > "$base/d/f"
        ln "$base/d/f" "$base/d/g"
        uf_mount "$m" "$T/up" "$base"
        expect_eq "listing before" "OK 2" "$("$HELPERS/probe" dirents "$m/d")"
        chmod 0600 "$m/d/f"
        expect_eq "listing after the copy-up" "OK 2" "$("$HELPERS/probe" dirents "$m/d")"
        expect_eq "find's numbers" "$(stat -c '%i %n' "$m/d/f" "$m/d/g")" \
                "$(find "$m/d" -mindepth 1 -printf '%i %p\n' | sort -k2)"
        expect_ne "the two names" "$(stat -c %i "$m/d/f")" "$(stat -c %i "$m/d/g")"
}

# LOOKUP requests in $T/requests after its first N lines.
lookups_after() {       # N
        tail -n +$(($1 + 1)) "$T/requests" | grep -c 'opcode: LOOKUP'
}

# A walk that reads names only gets files bare: stat of one afterwards asks
# the daemon (a LOOKUP). Once that happens in a directory just listed bare,
# listings carry files' attributes again: ls -l of five new directories of
# twenty files each then asks only for their parent, long.
test_listings_give_files_attributes_once_files_are_looked_up() {
        local base d i n
        base=$(mkd base)
        for d in walk/a walk/b walk/c long/q1 long/q2 long/q3 long/q4 long/q5; do
                mkdir -p "$base/$d/s"
                for i in $(seq 20); do : > "$base/$d/f$i"; done
        done
        uf_mount_logged "$T/m" "$T/requests" "lowerdir=$base"
        expect_eq "find" 67 "$(find "$T/m/walk" | wc -l)"
        n=$(wc -l < "$T/requests")
        expect_eq "stat after find" "regular empty file" "$(stat -c %F "$T/m/walk/b/f7")"
        expect_eq "LOOKUPs for stat of a file the walk listed" 1 "$(lookups_after "$n")"
        n=$(wc -l < "$T/requests")
        expect_eq "ls -l" 119 "$(ls -l "$T/m/long"/q* | wc -l)"
        i=$(lookups_after "$n")
        [ "$i" -le 1 ] || fail "$i LOOKUPs for ls -l of 5 directories of 20 files (1 is enough: long itself)"
}

# -o full_listings: every listing gives its files' attributes, so a walk
# whose files are then used by path asks nothing more (find | xargs cat).
test_full_listings_give_files_attributes_from_the_start() {
        local base d i n
        base=$(mkd base)
        for d in a b c; do
                mkdir -p "$base/$d"
                for i in $(seq 20); do echo "$d$i" > "$base/$d/f$i"; done
        done
        uf_mount_logged "$T/m" "$T/requests" "lowerdir=$base,full_listings"
        expect_eq "find" 64 "$(find "$T/m" | wc -l)"
        n=$(wc -l < "$T/requests")
        expect_eq "cat of every file found" 60 "$(find "$T/m" -type f | xargs cat | wc -l)"
        expect_eq "LOOKUPs for files the walk listed" 0 "$(lookups_after "$n")"
}

test_statfs_reports_sizes() {
        mount_stack
        expect_ok "df" df "$M"
        expect_match "block count" '^[1-9][0-9]* [1-9][0-9]*$' "$(stat -f -c '%b %S' "$M")"
}

test_xattrs_set_get_list_remove() {
        build_stack
        setfattr -n user.color -v blue "$BASE/exe" 2>/dev/null ||
                skip "the test filesystem has no user xattrs"
        uf_mount "$M" "$U" "$BASE" "$APP"
        expect_eq "lower xattr through the mount" blue "$(sysop getxattr "$M/exe" user.color)"
        expect_eq "setxattr on a lower file" OK "$(sysop setxattr "$M/f" user.k v1)"
        expect_eq "getxattr" v1 "$(sysop getxattr "$M/f" user.k)"
        expect_match "listxattr" 'user\.k' "$(getfattr -d "$M/f" 2>&1)"
        expect_xattr "$U/f" user.k v1
        expect_eq "removexattr" OK "$(sysop removexattr "$M/f" user.k)"
        expect_eq "getxattr after remove" ENODATA "$(sysop getxattr "$M/f" user.k)"
        expect_eq "removexattr of a lower xattr" OK "$(sysop removexattr "$M/exe" user.color)"
        expect_eq "lower xattr after remove" ENODATA "$(sysop getxattr "$M/exe" user.color)"
        expect_eq "trusted xattr set" OK "$(sysop setxattr "$M/g" trusted.t tv)"
        expect_eq "trusted xattr get" tv "$(sysop getxattr "$M/g" trusted.t)"
}

test_fallocate_extends_file() {
        mount_stack
        expect_ok "fallocate new file" fallocate -l 1M "$M/new"
        expect_eq "size" 1048576 "$(stat -c %s "$M/new")"
        expect_ok "fallocate lower file" fallocate -l 65536 "$M/f"
        expect_eq "size of lower file" 65536 "$(stat -c %s "$M/f")"
        expect_eq "data kept" base "$(head -c 4 "$M/f")"
}

test_flock_excludes_second_holder() {
        mount_stack
        local i
        flock "$M/f" sh -c "touch '$T/held'; sleep 2" &
        for i in $(seq 100); do [ -e "$T/held" ] && break; sleep 0.05; done
        [ -e "$T/held" ] || fail "flock in the background never got the lock"
        expect_fails "flock -n while held" flock -n "$M/f" true
        wait
        expect_ok "flock -n once released" flock -n "$M/f" true
        expect_ok "flock on a new file" flock "$M/d" true
}

test_posix_lock_is_seen_by_other_process() {
        mount_stack
        expect_eq "fcntl locks" "held=EAGAIN getlk=PARENT after_unlock=GRANTED" \
                "$(sysop posixlock "$M/f")"
}

test_access_checks_mode_bits() {
        mount_stack
        expect_eq "access X on 0755" OK "$(sysop access "$M/exe" x)"
        expect_eq "access X on 0640 (even root)" EACCES "$(sysop access "$M/f" x)"
        expect_eq "access W" OK "$(sysop access "$M/f" w)"
        expect_eq "access R" OK "$(sysop access "$M/f" r)"
        expect_eq "access F of missing" ENOENT "$(sysop access "$M/nope" f)"
}

test_lseek_data_and_hole_follow_the_file() {
        BASE=$(mkd base) U=$(mkd upper) M=$T/m
        printf 'head' > "$BASE/sparse"
        printf 'tail' | dd of="$BASE/sparse" bs=1 seek=$((4 << 20)) conv=notrunc status=none
        local lower
        lower=$("$HELPERS/seek_data" "$BASE/sparse")
        [[ $lower == *" 4194304-"* ]] || skip "the test filesystem reports no holes ($lower)"
        uf_mount "$M" "$U" "$BASE"
        expect_eq "extents through the mount" "$lower" "$("$HELPERS/seek_data" "$M/sparse")"
        printf 'x' >> "$M/sparse"
        expect_match "extents after copy-up" '^0-[0-9]+ 4194304-[0-9]+ size=4194309$' \
                "$("$HELPERS/seek_data" "$M/sparse")"
}

test_copy_file_range_copies_data() {
        mount_stack
        head -c 3000000 /dev/urandom > "$M/big"
        expect_eq "copy_file_range bytes" 3000000 "$("$HELPERS/copy_range" "$M/big" "$M/copy")"
        expect_ok "copy equals source" cmp "$M/big" "$M/copy"
        expect_eq "copy_file_range from a lower file" 5 "$("$HELPERS/copy_range" "$M/f" "$M/f.copy")"
        expect_content "$M/f.copy" base
        expect_ok "cp --reflink=never" cp --reflink=never "$M/big" "$M/d/cp"
        expect_ok "cp result" cmp "$M/big" "$M/d/cp"
}

test_mmap_write_to_lower_file_lands_in_upper() {
        mount_stack
        expect_eq "shared writable mapping" OK "$(sysop mmap-write "$M/d/x" 0 X)"
        expect_content "$M/d/x" X
        unmount "$M"
        expect_content "$U/d/x" X
}

test_listing_and_dir_mtime_follow_every_change_through_the_mount() {
        build_stack
        touch -d '2020-01-01 UTC' "$BASE/d" "$APP/d"
        uf_mount "$M" "$U" "$BASE" "$APP"
        local d=$M/d mtime
        expect_eq "at first" "x y" "$(names "$d")"
        mtime=$(stat -c %Y "$d")
        touch "$d/new"
        expect_eq "after create" "new x y" "$(names "$d")"
        [ "$(stat -c %Y "$d")" -gt "$mtime" ] || fail "dir mtime not updated by a create: $(stat -c %Y "$d")"
        rm "$d/x"
        expect_eq "after unlink of a lower file" "new y" "$(names "$d")"
        mv "$M/g" "$d/g"
        expect_eq "after rename into it" "g new y" "$(names "$d")"
        expect_eq "the source dir after the rename" "d exe f link" "$(names "$M")"
        mv "$d/y" "$M/y"
        expect_eq "after rename out of it" "g new" "$(names "$d")"
        mkdir "$d/sub"
        ln -s g "$d/sl"
        ln "$d/new" "$d/hard"
        expect_eq "after mkdir, symlink, link" "g hard new sl sub" "$(names "$d")"
        rmdir "$d/sub"
        rm "$d/sl" "$d/hard"
        expect_eq "after rmdir and unlinks" "g new" "$(names "$d")"
        touch "$d/x"
        expect_eq "after re-creating a whited-out name" "g new x" "$(names "$d")"
}

test_name_longer_than_255_bytes_is_enametoolong() {
        mount_stack
        local long
        long=$(printf 'n%.0s' $(seq 256))
        expect_eq "create a 256-byte name" ENAMETOOLONG "$(sysop create "$M/$long")"
        expect_eq "mkdir a 256-byte name" ENAMETOOLONG "$(sysop mkdir "$M/$long")"
        expect_eq "create a 255-byte name" OK "$(sysop create "$M/${long:1}")"
}

test_path_deeper_than_path_max_copies_up() {
        BASE=$(mkd base) U=$(mkd upper) M=$T/m
        local comp i
        comp=$(printf 'd%.0s' $(seq 200))
        # 25 levels of 200-byte names: 5000+ bytes, more than PATH_MAX
        ( cd "$BASE" && for i in $(seq 25); do mkdir "$comp" && cd "$comp" || exit 1; done &&
                echo deep > file ) || fail "cannot build the deep lower tree"
        uf_mount "$M" "$U" "$BASE"
        ( cd "$M" && for i in $(seq 25); do cd "$comp" || exit 1; done &&
                [ "$(cat file)" = deep ] && echo more >> file && echo new > new ) ||
                fail "reading or writing at depth 25 through the mount failed"
        expect_eq "files in upper" "2" "$(find "$U" -type f | wc -l)"
        expect_eq "depth of the new file in upper" 26 "$(find "$U" -name new -printf '%d')"
}

run_tests
