#!/bin/bash
# Limits (DESIGN.md section 7), beyond what t_ops.sh (a path longer than
# PATH_MAX made of 200-byte names), t_sparse.sh (5 GiB read and written),
# t_bigtree.sh (50k files under ulimit 1024, 100k entries) and t_union.sh
# (500 layers) prove: paths of exactly PATH_MAX bytes, trees thousands of
# levels deep, appends past 4 GiB, thousands of files open in one process, a
# daemon out of descriptors, and layers removed or renamed under the mount.
. "$(dirname "$0")/lib.sh"

UF=$(realpath "$UF") HELPERS=$(realpath "$HELPERS")
[ -x "$HELPERS/fdhog" ] || { echo "Bail out! helper $HELPERS/fdhog missing"; exit 1; }
fdhog() { "$HELPERS/fdhog" "$@"; }
probe() { "$HELPERS/probe" "$@"; }

PATH_MAX=4096

# "d/d/.../d" of N levels.
levels() {      # N [NAME]
        printf "${2:-d}/%.0s" $(seq "$1") | sed 's|/$||'
}

# ------------------------------------------------------------------ paths

# An absolute path of PATH_MAX - 1 bytes is the longest the kernel takes:
# through the mount it must work for every operation, and one byte more is
# ENAMETOOLONG before the daemon is even asked.
test_absolute_path_of_path_max_minus_one_bytes_works_through_the_mount() {
        local base upper m dir name file len comp
        base=$(mkd base) upper=$(mkd upper)
        m=$T/m
        comp=$(printf 'c%.0s' $(seq 250))
        # $m/ + 15 components of 250 + "/" = well over 3000; the last
        # component fills the path up to PATH_MAX - 1
        dir=$(levels 15 "$comp")
        len=$(( PATH_MAX - 1 - ${#m} - 1 - ${#dir} - 1 ))
        [ "$len" -ge 10 ] && [ "$len" -le 255 ] || fail "cannot size the path (len $len)"
        name=$(printf 'f%.0s' $(seq "$len"))
        mkdir -p "$base/$dir"
        (cd "$base/$dir" && echo lower > "$name")
        uf_mount "$m" "$upper" "$base"
        file=$m/$dir/$name
        expect_eq "length of the path" $((PATH_MAX - 1)) "${#file}"
        expect_content "$file" lower
        expect_eq "append (copy-up of 15 parents)" OK "$(probe append "$file" more)"
        expect_content "$file" "lower
more"
        expect_eq "chmod" OK "$(probe chmod "$file" 600)"
        expect_eq "setxattr" OK "$(sysop setxattr "$file" user.x 1)"
        expect_eq "rename in place" OK "$(probe rename "$file" "$m/$dir/${name%f}g")"
        expect_eq "create" OK "$(sysop create "$file")"
        expect_eq "unlink" OK "$(sysop unlink "$file")"
        expect_eq "mkdir" OK "$(sysop mkdir "$file")"
        expect_eq "rmdir" OK "$(sysop rmdir "$file")"
        expect_eq "one byte more" ENAMETOOLONG "$(sysop create "${file}f")"
        expect_eq "what the directory holds" "${name%f}g" "$(ls "$m/$dir")"
        expect_eq "a whiteout where the lower file was" "character special file 0:0" \
                "$(cd "$upper/$dir" && stat -c '%F %t:%T' "$name")"
}

# 680 levels of five-letter names: a path of 4079 bytes, up to PATH_MAX,
# read, copied up, created, renamed and removed through the mount, 680
# parents at a time. (Each lookup walks the path from the layer root, so the
# cost grows with the square of the depth: that keeps this test this size.)
test_tree_680_levels_deep_copies_up_renames_and_removes() {
        local base upper m half nhalf status
        base=$(mkd base) upper=$(mkd upper)
        m=$T/m
        half=$(levels 340 ddddd) nhalf=$(levels 340 nnnnn)
        # bash's cd: dash's builds the whole path and gives up past PATH_MAX
        (cd "$base" && mkdir -p "$half" && cd "$half" && mkdir -p "$half" && cd "$half" &&
                echo deep > file) || fail "cannot build the deep lower tree"
        uf_mount "$m" "$upper" "$base"
        (cd "$m" && cd "$half" && cd "$half" && [ "$(cat file)" = deep ] && echo more >> file) ||
                fail "reading and appending at depth 680 through the mount failed"
        expect_eq "depth of the copy in upper" 681 "$(find "$upper" -name file -printf '%d')"
        (cd "$m" && mkdir -p "$nhalf" && cd "$nhalf" && mkdir -p "$nhalf" && cd "$nhalf" && touch made) ||
                fail "mkdir -p of 680 new levels through the mount failed"
        expect_eq "depth of the new tree in upper" 681 "$(find "$upper" -name made -printf '%d')"
        status=0
        within 60 mv "$m/ddddd" "$m/eeeee" || status=$?
        expect_eq "rename of the 680-level tree (124: it hung)" 0 "$status"
        expect_eq "the renamed tree in upper" "680 deep
more" "$(find "$upper/eeeee" -name file -printf '%d ' -execdir cat {} \;)"
        expect_eq "names at the top" "eeeee nnnnn" "$(names "$m")"
        status=0
        within 60 rm -rf "$m/eeeee" "$m/nnnnn" || status=$?
        expect_eq "rm -rf of both trees" 0 "$status"
        expect_eq "what is left" "" "$(names "$m")"
        alive "$UF_PID" || fail "the daemon died"
}

# After unmount returned: the daemon exits once no mount namespace holds
# the mount. A namespace made while it was mounted (unshare -m, by a test of
# the suite tests/run.sh runs beside this one) keeps a copy of it, and the
# kernel its connection, until that namespace is gone: a clean-clone CI run
# saw a daemon wait 35 s so, its threads still reading /dev/fuse. An ASan
# build on a loaded machine may also take seconds to exit. Slow, it says
# where its threads wait.
expect_daemon_exits() {        # PID MNT
        local i since_held=0 held=0
        for i in $(seq 1200); do
                alive "$1" || break
                if held_elsewhere "$2"; then
                        since_held=0 held=$((held + 1))
                else
                        since_held=$((since_held + 1))
                fi
                [ "$since_held" = 20 ] &&
                        note "the daemon is still there 2 s after its mount's end: $(thread_waits "$1")"
                [ "$since_held" -ge 200 ] &&
                        fail "the daemon did not exit within 20 s of its mount's end: $(thread_waits "$1")"
                sleep 0.1
        done
        alive "$1" && fail "the daemon did not exit within 2 min of the unmount, its mount held in another namespace: $(thread_waits "$1")"
        [ "$held" -gt 0 ] && note "the mount was held in another mount namespace for $((held / 10)).$((held % 10)) s of the wait"
        return 0
}

held_elsewhere() {      # MNT: whether a process's mount namespace still has MNT
        grep -qs -- " $1 " /proc/[0-9]*/mountinfo
}

thread_waits() {        # PID: each thread's state and kernel wait channel
        local t
        for t in /proc/"$1"/task/*; do
                printf '%s:%s ' "$(awk '{ print $3 }' "$t/stat" 2>/dev/null)" "$(cat "$t/wchan" 2>/dev/null)"
        done
}

# ------------------------------------------------------------------ big files

# 6 GiB and a little, sparse, with data straddling the 4 GiB boundary and
# at the very end: read through the mount at both, then an append (O_APPEND
# past 4 GiB) copies it up.
test_file_over_4gib_reads_at_the_end_and_copies_up_on_append() {
        local base upper m size four=$((4 << 30))
        base=$(mkd base) upper=$(mkd upper)
        m=$T/m
        size=$(( (6 << 30) + 12345 ))
        truncate -s "$size" "$base/big"
        printf 'across' | dd of="$base/big" bs=1 seek=$((four - 3)) conv=notrunc status=none
        printf 'the-end' | dd of="$base/big" bs=1 seek=$((size - 7)) conv=notrunc status=none
        uf_mount "$m" "$upper" "$base"
        expect_eq "size" "$size" "$(stat -c %s "$m/big")"
        expect_eq "bytes across 4 GiB" across \
                "$(dd if="$m/big" bs=1 skip=$((four - 3)) count=6 status=none)"
        expect_eq "the last bytes" the-end "$(tail -c 7 "$m/big")"
        expect_eq "data extents through the mount" \
                "$("$HELPERS/seek_data" "$base/big")" "$("$HELPERS/seek_data" "$m/big")"
        printf '+appended' >> "$m/big"
        expect_eq "size after the append" $((size + 9)) "$(stat -c %s "$m/big")"
        expect_eq "end after the append" the-end+appended "$(tail -c 16 "$m/big")"
        expect_eq "bytes across 4 GiB after the copy-up" across \
                "$(dd if="$m/big" bs=1 skip=$((four - 3)) count=6 status=none)"
        [ "$(stat -c %b "$upper/big")" -lt $((16 << 11)) ] ||
                fail "the upper copy is not sparse: $(du -h "$upper/big" | cut -f1)"
        truncate -s $((four + 1)) "$m/big"
        expect_eq "size after truncating to 4 GiB + 1" $((four + 1)) "$(stat -c %s "$m/big")"
        expect_eq "the byte at 4 GiB" o "$(tail -c 1 "$m/big")"
        unmount "$m"
        expect_eq "size in upper" $((four + 1)) "$(stat -c %s "$upper/big")"
}

# ------------------------------------------------------------------ descriptors

daemon_fds() {  # PID
        ls "/proc/$1/fd" 2>/dev/null | wc -l
}

# Waits for "open N" from an fdhog started in the background, or its end.
wait_hog() {    # OUTPUT-FILE PID
        local i
        for i in $(seq 300); do
                grep -q . "$1" 2>/dev/null && return 0
                alive "$2" || return 0
                sleep 0.1
        done
}

test_thousands_of_files_open_at_once_in_one_process_all_read_and_write() {
        local base upper m hog before held
        base=$(mkd base) upper=$(mkd upper)
        m=$T/m
        fdhog "$base/r" 5000 make
        fdhog "$base/w" 1500 make
        uf_mount "$m" "$upper" "$base"
        before=$(daemon_fds "$UF_PID")
        (
                ulimit -n 6000
                "$HELPERS/fdhog" "$m/r" 5000 read hold > "$T/hog.out" &
                hog=$!
                trap 'kill -TERM $hog 2>/dev/null || true' EXIT
                wait_hog "$T/hog.out" "$hog"
                held=$(daemon_fds "$UF_PID")
                echo "$held" > "$T/held"
                kill -TERM "$hog" 2>/dev/null
                wait "$hog"
        ) || fail "holding 5000 files: $(cat "$T/hog.out")"
        expect_eq "5000 lower files held open" "open 5000" "$(cat "$T/hog.out")"
        note "daemon descriptors: $before before, $(cat "$T/held") with 5000 files open"
        ( ulimit -n 6000 && fdhog "$m/w" 1500 append ) > "$T/hog.out" ||
                fail "1500 appends: $(cat "$T/hog.out")"
        expect_eq "1500 lower files copied up and held" "open 1500" "$(cat "$T/hog.out")"
        ( ulimit -n 6000 && fdhog "$m/w" 1500 create ) > "$T/hog.out" ||
                fail "1500 creates: $(cat "$T/hog.out")"
        expect_eq "1500 new files held" "open 1500" "$(cat "$T/hog.out")"
        expect_eq "files in upper" 3000 "$(find "$upper/w" -type f | wc -l)"
        # The kernel opens files without the daemon; the daemon keeps at
        # most 1024 files of nodes for their reads and writes (nodefile.c,
        # UFS_NODEFILE_MAX), whatever the client holds. It may still be
        # closing some (the kernel forgets nodes when it likes): a
        # descriptor gone between the listing and its readlink is not held.
        alive "$UF_PID" || fail "the daemon died"
        held=$( { find "/proc/$UF_PID/fd" -mindepth 1 \( -lname "$base/r/*" -o -lname "$upper/w/*" \) \
                2>/dev/null || true; } | wc -l)
        note "files of the layers the daemon holds once all is closed: $held"
        [ "$held" -le 1024 ] || fail "the daemon holds $held files of the layers, more than its bound of 1024"
}

# The daemon held to 256 descriptors, a client opening 2000 files and
# reading them: the kernel opens files without the daemon, which keeps a
# bounded number of files for the reads (a quarter of its limit), so every
# open and read succeeds, and other callers are served meanwhile.
test_daemon_with_few_descriptors_serves_a_client_holding_thousands() {
        local base upper m hog limit out held
        base=$(mkd base) upper=$(mkd upper)
        m=$T/m
        fdhog "$base/r" 2000 make
        (cd "$base/r" && for out in f*; do echo "$out" > "$out"; done)
        mkdir "$base/dir"
        echo x > "$base/dir/x"
        ( ulimit -n 256 && uf_mount "$m" "$upper" "$base" ) || fail "mount under ulimit -n 256 failed"
        UF_PID=$(daemon_pid "$m") || fail "no daemon for $m"
        limit=$(awk '/Max open files/ { print $4 }' "/proc/$UF_PID/limits")
        [ "$limit" -le 256 ] || fail "the daemon runs with $limit descriptors, not 256"
        (
                ulimit -n 3000
                "$HELPERS/fdhog" "$m/r" 2000 read-named hold > "$T/hog.out" &
                hog=$!
                trap 'kill -TERM $hog 2>/dev/null || true' EXIT
                wait_hog "$T/hog.out" "$hog"
                for out in "$(within 10 probe stat "$m/dir/x")" "$(within 10 sysop create "$m/new")" \
                           "$(within 10 probe read "$m/dir/x")"; do
                        echo "$out"
                done > "$T/meanwhile"
                find "/proc/$UF_PID/fd" -mindepth 1 | wc -l > "$T/held"
                kill -TERM "$hog" 2>/dev/null
                wait "$hog"
        ) || true
        expect_eq "2000 files opened and read" "open 2000" "$(cat "$T/hog.out")"
        expect_eq "other calls meanwhile" "f OK OK" "$(tr '\n' ' ' < "$T/meanwhile" | sed 's/ $//')"
        held=$(cat "$T/held")
        note "daemon descriptors with 2000 files open and read: $held"
        [ "$held" -lt 256 ] || fail "the daemon holds $held descriptors"
        alive "$UF_PID" || fail "the daemon died"
        expect_content "$m/dir/x" x
        expect_eq "create after the client let go" OK "$(sysop create "$m/new2")"
        unmount "$m"
        expect_daemon_exits "$UF_PID" "$m"
}

# ------------------------------------------------------------------ layers going away

# The layer is changed on purpose: mounted without the untouched-lower check.
mount_untracked() {     # MNT UPPER LOWER...(base first)
        local mnt=$1 upper=$2 lowerdir="" l
        shift 2
        for l in "$@"; do lowerdir=$l${lowerdir:+:$lowerdir}; done
        mkdir -p "$mnt" "$upper.work"
        track_mount "$mnt"
        "$UF" -o "lowerdir=$lowerdir,upperdir=$upper,workdir=$upper.work" "$mnt" || fail "mount failed"
        UF_PID=$(daemon_pid "$mnt") || fail "no daemon for $mnt"
}

# Every operation answers at once with one of the errnos ALLOWED (or OK);
# prints "op=RESULT ..." for the failure message.
ops_after() {   # MNT ROUND
        local m=$1 r=$2
        printf 'stat=%s read=%s append=%s create=%s mkdir=%s unlink=%s readdir=%s\n' \
                "$(within 10 probe stat "$m/dir/f")" "$(within 10 probe read "$m/dir/f")" \
                "$(within 10 probe append "$m/dir/g" x)" "$(within 10 sysop create "$m/dir/new$r")" \
                "$(within 10 sysop mkdir "$m/newdir$r")" "$(within 10 sysop unlink "$m/dir/h")" \
                "$(within 10 ls "$m/dir" > /dev/null 2>&1 && echo OK || echo failed)"
}

# The operations of ops_after, after WHAT was done to the layers: each
# succeeds or fails with a clean errno, and what they answered is logged.
expect_clean_ops_after() {  # MNT ROUND WHAT
        local res
        res=$(ops_after "$1" "$2")
        note "after $3: $res"
        expect_match "operations after $3" '^(([a-z]+=(OK|f|ENOENT|ESTALE|failed)) ?)+$' "$res"
}

layer_files() {         # DIR
        mkdir -p "$1/dir/sub"
        echo f > "$1/dir/f"
        echo g > "$1/dir/g"
        echo h > "$1/dir/h"
}

test_lower_layer_removed_while_mounted_gives_enoent_and_unmounts() {
        local base app upper
        base=$(mkd base) app=$(mkd app) upper=$(mkd upper)
        layer_files "$base"
        echo a > "$app/a"
        mount_untracked "$T/m" "$upper" "$base" "$app"
        ls -R "$T/m" > /dev/null
        exec 7< "$T/m/dir/f"
        rm -rf "$base"
        expect_clean_ops_after "$T/m" 1 "rm -rf of the base layer"
        # The daemon opens a lower file at its first read: one opened
        # before the removal but not read yet is gone with its layer.
        expect_match "a file open before" '^(f|failed)$' "$(cat <&7 2>/dev/null || echo failed)"
        exec 7<&-
        expect_content "$T/m/a" a
        expect_eq "create at the top" OK "$(sysop create "$T/m/top")"
        alive "$UF_PID" || fail "the daemon died"
        unmount "$T/m"
        expect_daemon_exits "$UF_PID" "$T/m"
}

test_upper_and_work_removed_while_mounted_give_enoent_and_unmount() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        layer_files "$base"
        mount_untracked "$T/m" "$upper" "$base"
        ls -R "$T/m" > /dev/null
        rm -rf "$upper.work"
        expect_clean_ops_after "$T/m" 1 "rm -rf of the work dir"
        expect_content "$T/m/dir/f" f
        rm -rf "$upper"
        expect_clean_ops_after "$T/m" 2 "rm -rf of the upper layer"
        alive "$UF_PID" || fail "the daemon died"
        unmount "$T/m"
        expect_daemon_exits "$UF_PID" "$T/m"
}

test_layers_renamed_while_mounted_keep_serving() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        layer_files "$base"
        mount_untracked "$T/m" "$upper" "$base"
        cat "$T/m/dir/f" > /dev/null
        mv "$base" "$T/base.moved"
        mv "$upper" "$T/upper.moved"
        mv "$upper.work" "$T/upper.work.moved"
        expect_content "$T/m/dir/g" g
        expect_eq "ls of a dir not read before" "" "$(ls "$T/m/dir/sub")"
        echo more >> "$T/m/dir/f"
        expect_content "$T/upper.moved/dir/f" "f
more"
        expect_eq "create" OK "$(sysop create "$T/m/dir/new")"
        expect_exists "$T/upper.moved/dir/new"
        rm "$T/m/dir/h"
        expect_char_whiteout "$T/upper.moved/dir/h"
        unmount "$T/m"
}

test_lower_subdir_removed_while_mounted_gives_enoent() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        layer_files "$base"
        mount_untracked "$T/m" "$upper" "$base"
        ls -R "$T/m" > /dev/null
        rm -rf "$base/dir"
        expect_clean_ops_after "$T/m" 1 "rm -rf of a lower directory"
        alive "$UF_PID" || fail "the daemon died"
        expect_eq "mkdir elsewhere" OK "$(sysop mkdir "$T/m/other")"
        expect_eq "create elsewhere" OK "$(sysop create "$T/m/other/f")"
        unmount "$T/m"
}

run_tests
