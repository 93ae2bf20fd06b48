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
        # for the changes a system's own tools make (tests/distro/compare.sh)
        mkdir -p "$BASE/etc/cron.daily" "$BASE/etc/skel" "$BASE/srv" \
                "$BASE/usr/share/zi/"{America,Africa,Europe,Arctic} "$APP/usr/share/zi/America" \
                "$BASE/usr/share/locale/"{de,fr}/LC_MESSAGES "$APP/usr/share/locale/de/LC_MESSAGES"
        printf 'PASS_MAX_DAYS 99999\nUMASK 022\n' > "$BASE/etc/login.defs"
        printf '#DSHELL=/bin/bash\nDHOME=/home\n' > "$BASE/etc/adduser.conf"
        printf '/bin/sh\n/bin/bash\n' > "$BASE/etc/shells"
        printf 'multi on\norder hosts,bind\n' > "$BASE/etc/host.conf"
        printf 'precedence ::1/128 50\n' > "$BASE/etc/gai.conf"
        echo 12.4 > "$BASE/etc/debian_version"
        echo 'root:x:0:' > "$BASE/etc/group"
        echo Debian > "$BASE/etc/issue"
        echo a > "$BASE/etc/cron.daily/apt" && echo d > "$BASE/etc/cron.daily/dpkg"
        echo a > "$BASE/usr/share/zi/America/a" && echo c > "$APP/usr/share/zi/America/c"
        echo a > "$BASE/usr/share/zi/Africa/a" && chmod 0664 "$BASE/usr/share/zi/Africa/a"
        echo e > "$BASE/usr/share/zi/Europe/e" && echo z > "$BASE/usr/share/zi/Arctic/z"
        for m in "$BASE/usr/share/locale/de/LC_MESSAGES/apt.mo" "$BASE/usr/share/locale/fr/LC_MESSAGES/dpkg.mo" \
                "$APP/usr/share/locale/de/LC_MESSAGES/app.mo"; do
                echo mo > "$m"
        done
        echo keep > "$BASE/usr/share/locale/fr/LC_MESSAGES/README"
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
        # edited in place, as sed and perl do: a new file renamed over the lower one
        sed -i 's/^UMASK.*/UMASK 027/' "$m/etc/login.defs"
        perl -pi -e 's/^#DSHELL=.*/DSHELL=\/bin\/sh/' "$m/etc/adduser.conf"
        # a lower tree's modes and owners; a lower directory's times
        chmod -R go-w "$m/usr/share/zi/America" "$m/usr/share/zi/Africa"
        chown -R 1000:1000 "$m/usr/share/zi/Africa"
        touch -d @1100000000 "$m/usr/share/zi/Arctic" "$m/etc/skel"
        # a directory replaced by a file, a file by a directory, a lower
        # directory emptied and made again, files deleted in many directories
        rm -rf "$m/usr/share/zi/Europe" && echo file > "$m/usr/share/zi/Europe"
        rm "$m/etc/debian_version" && mkdir "$m/etc/debian_version" && echo 12 > "$m/etc/debian_version/number"
        rm -rf "$m/etc/cron.daily" && mkdir "$m/etc/cron.daily"
        find "$m/usr/share/locale" -name '*.mo' -delete
        # data changed in place: appended, overwritten within, allocated beyond
        echo /bin/zsh >> "$m/etc/shells"
        printf overwritten | dd of="$m/etc/host.conf" bs=1 seek=4 conv=notrunc status=none
        fallocate -l 1M "$m/etc/gai.conf"
        # hard links: of a lower file, and of an upper one written and unlinked
        ln "$m/etc/group" "$m/etc/group.link"
        echo one > "$m/srv/a" && ln "$m/srv/a" "$m/srv/b" && echo two >> "$m/srv/b" && rm "$m/srv/a"
        mv "$m/etc/issue" "$m/usr/share/issue.moved"    # a lower file into another directory
}

# What tree_listing leaves out, for the merged trees of two runs: a file's
# link count, and an entry's mtime if it is older than SINCE (kept from a
# lower layer by copy-up, or set by touch), "new" otherwise.
links_and_times() {     # DIR SINCE
        (cd "$1" && find . -mindepth 1 -printf '%p %y %n %T@\n') |
                awk -v since="$2" '{ print $1, $2, ($2 == "f" ? "links=" $3 : ""), ($4 < since ? $4 : "new") }' |
                LC_ALL=C sort
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

# What a program sees after the changes: the same tree as kernel overlayfs
# shows, with the same link counts and the times kept from the lower layers.
test_same_changes_show_the_merged_tree_kernel_overlayfs_shows() {
        local since d
        build_lowers
        since=$(date +%s.%N)
        kov_mount "$T/k" "$(mkd kupper)" "$T/kwork" "$BASE" "$APP"
        change_tree "$T/k"
        tree_listing "$T/k" > "$T/kernel" && links_and_times "$T/k" "$since" > "$T/kernel-lt"
        umount "$T/k"
        since=$(date +%s.%N)
        uf_mount "$T/m" "$(mkd upper)" "$BASE" "$APP"
        change_tree "$T/m"
        d=$(diff "$T/kernel" <(tree_listing "$T/m")) ||
                fail "the merged trees differ (< kernel, > unionfuse): $(echo "$d" | grep '^[<>]' | head -6 | tr '\n' ';')"
        d=$(diff "$T/kernel-lt" <(links_and_times "$T/m" "$since")) ||
                fail "link counts or times differ (< kernel, > unionfuse): $(echo "$d" | grep '^[<>]' | head -6 | tr '\n' ';')"
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

# st_ino of every entry, by path.
inode_listing() {       # DIR
        (cd "$1" && find . -mindepth 1 -printf '%p %i\n') | LC_ALL=C sort
}

# Files change_tree renames or links after their copy-up: overlayfs finds
# their origin by its file handle, which a daemon without
# CAP_DAC_READ_SEARCH cannot open; the union looks below the same name, or
# where its own copy-up recorded the lower entry was, which overlayfs does
# not record: in an upper layer overlayfs wrote, these show their upper
# numbers (fs/origin.c).
without_moved() {
        grep -v -e '^\./etc/app\.conf\.renamed ' -e '^\./usr/share/issue\.moved ' \
                -e '^\./etc/group ' -e '^\./etc/group\.link '
}

# Copy-up records the origin as overlayfs does (overlay.origin, and
# overlay.impure on the parent): over the upper layer a mount left, kernel
# overlayfs shows every entry with the inode number the mount showed.
test_kernel_overlayfs_shows_the_inode_numbers_unionfuse_showed() {
        local d
        changes_by_unionfuse
        kov_mount "$T/k" "$T/upper" "$T/kwork" "$BASE" "$APP"
        d=$(diff "$T/during" <(inode_listing "$T/k")) ||
                fail "inode numbers differ (< unionfuse, > kernel): $(echo "$d" | grep '^[<>]' | head -6 | tr '\n' ';')"
}

test_inode_numbers_survive_a_remount() {
        local d
        changes_by_unionfuse
        uf_mount "$T/m" "$T/upper" "$BASE" "$APP"
        d=$(diff "$T/during" <(inode_listing "$T/m")) ||
                fail "inode numbers changed (< before, > after the remount): $(echo "$d" | grep '^[<>]' | head -6 | tr '\n' ';')"
        expect_eq "a copied-up file" "$(grep '^\./etc/passwd ' "$T/during")" "$(inode_listing "$T/m" | grep '^\./etc/passwd ')"
        expect_eq "a copy renamed" "$(stat -c %i "$APP/etc/app.conf")" "$(stat -c %i "$T/m/etc/app.conf.renamed")"
}

# change_tree through unionfuse into $T/upper, the inode numbers it showed
# in $T/during, and the mount gone.
changes_by_unionfuse() {
        build_lowers
        uf_mount "$T/m" "$(mkd upper)" "$BASE" "$APP"
        change_tree "$T/m"
        inode_listing "$T/m" > "$T/during"
        unmount "$T/m"
}

test_inode_numbers_of_a_stack_kernel_overlayfs_wrote_are_the_same_through_unionfuse() {
        kernel_inode_numbers_read_same
}

test_inode_numbers_of_a_stack_kernel_overlayfs_userxattr_wrote_are_the_same_through_unionfuse() {
        KOV_OPTS=userxattr kernel_inode_numbers_read_same
}

kernel_inode_numbers_read_same() {
        local upper d
        build_lowers
        upper=$(mkd upper)
        kov_mount "$T/k" "$upper" "$T/kwork" "$BASE" "$APP"
        change_tree "$T/k"
        inode_listing "$T/k" > "$T/kernel"
        umount "$T/k"
        expect_match "the kernel recorded an origin" 'overlay\.origin=' "$(getfattr -d -m - "$upper/etc/passwd" 2>/dev/null)"
        uf_mount "$T/m" "$upper" "$BASE" "$APP"
        d=$(diff <(without_moved < "$T/kernel") <(inode_listing "$T/m" | without_moved)) ||
                fail "inode numbers differ (< kernel, > unionfuse): $(echo "$d" | grep '^[<>]' | head -6 | tr '\n' ';')"
}

# lsattr after the same chattr and copy-up on either mount.
flag_changes() {        # MNT
        local m=$1
        chattr +d "$m/etc/hostname"             # copy-up of metadata
        chattr -S "$m/etc/shells"
        chattr +A "$m/usr/share"                # a directory
        echo more >> "$m/etc/passwd"            # a copy-up keeps noatime
        (cd "$m" && lsattr -d etc/passwd etc/shells etc/hostname etc/group usr/lib usr/share)
}

test_inode_flags_read_and_change_as_under_kernel_overlayfs() {
        build_lowers
        chattr +A "$BASE/etc/passwd"
        chattr +S "$BASE/etc/shells"
        chattr +d "$BASE/usr/lib"
        same_output_on_both "lsattr outputs" flag_changes
        expect_match "a lower file's flag" '^-*A.* etc/passwd$' "$(grep passwd "$T/unionfuse")"
        chattr +j "$T/m/etc/group" 2> "$T/err" && fail "chattr +j was taken"
        expect_match "data journaling refused" "Operation not supported" "$(cat "$T/err")"
}

# FUNC run with MNT on kernel overlayfs, then on unionfuse, each over the
# lowers with a new upper layer ($T/kupper, $T/upper): the same output
# ($T/kernel, $T/unionfuse). unionfuse stays mounted on $T/m.
same_output_on_both() {  # WHAT FUNC
        local d
        kov_mount "$T/k" "$(mkd kupper)" "$T/kwork" "$BASE" "$APP"
        "$2" "$T/k" > "$T/kernel" 2>&1
        umount "$T/k"
        uf_mount "$T/m" "$(mkd upper)" "$BASE" "$APP"
        "$2" "$T/m" > "$T/unionfuse" 2>&1
        d=$(diff "$T/kernel" "$T/unionfuse") ||
                fail "$1 differ (< kernel, > unionfuse): $(echo "$d" | grep '^[<>]' | head -6 | tr '\n' ';')"
}

# A plain allocation through a descriptor opened to append: the kernel
# lets an append-only file take it.
ALLOCATE="python3 -c 'import os, sys; os.posix_fallocate(os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND), 0, 65536)'"

# chattr +i and +a, then what each refuses: "ok" or "fails" a change.
protect_changes() {     # MNT
        local m=$1 c
        chattr +i "$m/etc/hostname" "$m/usr/lib"
        chattr +a "$m/etc/shells" "$m/etc/cron.daily"
        for c in "echo x > etc/hostname" "echo x >> etc/hostname" "rm etc/hostname" \
                "mv etc/hostname etc/h2" "ln etc/hostname etc/h3" "chmod 600 etc/hostname" \
                "touch etc/hostname" "setfattr -n user.x -v 1 etc/hostname" \
                "echo x >> etc/shells" "echo x > etc/shells" "truncate -s 0 etc/shells" \
                "$ALLOCATE etc/shells" \
                "rm etc/shells" "touch etc/shells" "chmod 600 etc/shells" \
                "touch usr/lib/new" "rm usr/lib/link.so" "mv usr/lib/app.so usr/app.so" \
                "echo x >> usr/lib/app.so" "touch etc/cron.daily/new" "rm etc/cron.daily/apt" \
                "chattr +d etc/hostname" "chattr -i etc/hostname" "echo again >> etc/hostname"; do
                (cd "$m" && sh -c "$c" 2>/dev/null) && echo "ok: $c" || echo "fails: $c"
        done
        (cd "$m" && lsattr -d etc/hostname etc/shells usr/lib etc/cron.daily && cat etc/hostname etc/shells)
}

test_immutable_and_append_only_refuse_what_kernel_overlayfs_refuses() {
        build_lowers
        same_output_on_both "what they refuse" protect_changes
        expect_match "immutable refused a removal" 'fails: rm etc/hostname' "$(cat "$T/unionfuse")"
        expect_eq "the mark, as overlayfs writes it" i \
                "$(getfattr --only-values -n trusted.overlay.protattr "$T/upper/usr/lib" 2>/dev/null)"
}

run_tests
