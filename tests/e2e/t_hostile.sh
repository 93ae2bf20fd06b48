#!/bin/bash
# Hostile layers (DESIGN.md section 5), beyond t_safety.sh: symlinks to /,
# to .., to host paths, shadowing or shadowed by real directories at several
# depths; odd names; sockets, fifos and devices in a lower layer; overlayfs
# redirects that point out of the layer; a lower entry swapped while mounted.
#
# The "host" here is a canary tree served by a FUSE daemon of its own, in
# debug mode, that logs every request it gets: after the setup nothing may
# reach it, whatever the operation, so a stat, a lookup or a getxattr by the
# daemon under test shows up as surely as a write. The real / and /etc are
# checked for probe names too. Operations that would follow a link are run
# chrooted in the mount (where the kernel resolves them inside it), the
# others outside; kernel overlayfs with the same layers and the same
# operations is the reference for what the merged tree must look like.
. "$(dirname "$0")/lib.sh"

# Each test runs in its own directory: paths given relative to here must
# still name the binary and the helpers there.
UF=$(realpath "$UF") HELPERS=$(realpath "$HELPERS")
[ -x "$HELPERS/probe" ] || { echo "Bail out! helper $HELPERS/probe missing"; exit 1; }
probe() { "$HELPERS/probe" "$@"; }

# Starts the canary host at $T/host: canary (a file), canarydir/precious,
# and fifo, read-only, every request logged to $T/host.log.
host_start() {
        local src i
        src=$(mkd hostsrc)
        HOST=$T/host
        echo canary > "$src/canary"
        mkdir -p "$src/canarydir/sub"
        echo inside > "$src/canarydir/precious"
        mkfifo "$src/fifo"
        mkdir -p "$HOST"
        track_mount "$HOST"
        "$UF" -f -d -o "lowerdir=$src" "$HOST" > "$T/host.log" 2>&1 &
        for i in $(seq 50); do
                mountpoint -q "$HOST" && break
                sleep 0.1
        done
        mountpoint -q "$HOST" || fail "the canary host did not mount: $(tail -3 "$T/host.log")"
        HOSTSRC=$src
        HOST_BEFORE=$(layer_fingerprint "$src")
        PROBE=uf-e2e-probe-$$-$RANDOM
        host_mark
}

# From here on, nothing may touch the host.
host_mark() {
        sleep 0.1       # the RELEASEs of whatever the setup opened
        HOST_MARK=$(wc -l < "$T/host.log")
}

# Every request the canary got since host_mark, with who sent it. FORGET
# and RELEASE are the kernel tidying up, not an access.
host_requests() {
        local line pid
        tail -n +$((HOST_MARK + 1)) "$T/host.log" | grep -E '^unique: [0-9]+, opcode: ' |
                grep -vE 'opcode: (FORGET|BATCH_FORGET|RELEASE|RELEASEDIR|INTERRUPT|DESTROY) ' |
                head -5 | while read -r line; do
                        pid=${line##*pid: }
                        echo "$line ($(cat "/proc/$pid/comm" 2>/dev/null || echo gone))"
                done
        return 0
}

expect_host_untouched() {
        local d reqs
        reqs=$(host_requests)
        [ -z "$reqs" ] || fail "the canary host got requests: $(echo "$reqs" | tr '\n' ';')"
        d=$(diff <(echo "$HOST_BEFORE") <(layer_fingerprint "$HOSTSRC") | grep '^[<>]' | head -4 | tr '\n' ';') || true
        [ -z "$d" ] || fail "the canary host changed: $d"
        if exists "/$PROBE"; then
                rm -f "/${PROBE:?}"
                fail "a file was created in the host's / through the mount"
        fi
        if exists "/etc/$PROBE"; then
                rm -f "/etc/${PROBE:?}"
                fail "a file was created in the host's /etc through the mount"
        fi
}

need_busybox() {
        command -v busybox >/dev/null && file -L "$(command -v busybox)" | grep -q 'statically linked' ||
                skip "no static busybox (apt package busybox-static)"
}

# /bin/busybox and its applets, for a chroot.
add_busybox() {         # LAYER
        local applet
        mkdir -p "$1/bin" "$1/tmp"
        cp "$(command -v busybox)" "$1/bin/busybox"
        for applet in sh cat echo ls mkdir rm rmdir mv cp chmod chown truncate find ln touch \
                      readlink sort wc mkfifo head stat sed; do
                ln -sf busybox "$1/bin/$applet"
        done
}

# The listing of a tree with every name escaped (a newline in a name shows
# as \n): one line per entry, then the checksum of each file. Follows no
# symlink.
escaped_listing() {     # DIR
        (
                set +e
                cd "$1" || exit 1
                find . -mindepth 1 -printf '%P\t%y\t%m\t%U:%G\t%l\0' | LC_ALL=C sort -z |
                        sed -z 's/\\/\\\\/g; s/\n/\\n/g' | tr '\0' '\n'
                find . -mindepth 1 -type f -print0 | LC_ALL=C sort -z | xargs -0r md5sum
                true
        )
}

expect_same_escaped_tree() {    # WHAT DIR-A DIR-B
        local d
        d=$(diff <(escaped_listing "$2") <(escaped_listing "$3")) ||
                fail "$1: trees differ: $(echo "$d" | grep '^[<>]' | head -6 | tr '\n' ';')"
}

# ------------------------------------------------------------------ links

# Links of every kind, relative to the host at $T/host and to the real /.
# DIR is DEPTH levels below the layer root ($T/LAYER/...).
add_hostile_links() {   # DIR DEPTH
        local dir=$1 depth=$2 up i
        up=..
        for i in $(seq "$depth"); do up=$up/..; done
        ln -s / "$dir/root"
        ln -s /etc "$dir/etc-abs"
        ln -s .. "$dir/dotdot"
        ln -s "$up/host/canarydir" "$dir/rel-host"
        ln -s "$HOST/canary" "$dir/canary"
        ln -s "$HOST/canarydir" "$dir/canarydir"
        ln -s "$HOST/fifo" "$dir/fifo"
        ln -s loop "$dir/loop"
}

# Changes to the links themselves, none of which follows them: whatever
# fails is for t_ops.sh to judge, only what the tree then holds counts.
change_links_without_following() {      # MNT DIR
        local m=$1 dir=$2 l
        for l in root etc-abs dotdot rel-host canary canarydir fifo loop; do
                chown -h 4242:4242 "$m/$dir/$l" || true
                touch -h -d '2001-01-01 UTC' "$m/$dir/$l" || true
                setfattr -h -n trusted.hostile -v 1 "$m/$dir/$l" || true
                ln "$m/$dir/$l" "$m/$dir/$l.hard" || true
                cp -a "$m/$dir/$l" "$m/$dir/$l.copy" || true
                mv "$m/$dir/$l" "$m/$dir/$l.moved" || true
                mv "$m/$dir/$l.moved" "$m/$dir/$l" || true
                rm -f "$m/$dir/$l.hard" || true
        done
        # where they pointed must not matter
        readlink "$m/$dir/root" "$m/$dir/canarydir" > /dev/null
}

test_symlinks_shadowing_lower_dirs_are_links_at_every_depth() {
        local lo hi upper d
        host_start
        lo=$(mkd lo) hi=$(mkd hi) upper=$(mkd upper)
        # lo: real directories; hi: a symlink of each kind over them
        mkdir -p "$lo/etc/sub" "$lo/a/b/c/etc" "$lo/a/b/c/d" "$hi/a/b/c/d"
        echo image > "$lo/etc/passwd"
        echo deep > "$lo/a/b/c/etc/passwd"
        ln -s "$HOST/canarydir" "$hi/etc"
        ln -s /etc "$hi/a/b/c/etc"
        add_hostile_links "$hi" 0
        add_hostile_links "$hi/a/b" 2
        add_hostile_links "$hi/a/b/c/d" 4
        host_mark
        uf_mount "$T/m" "$upper" "$lo" "$hi"
        kov_mount "$T/k" "$(mkd kupper)" "$T/kwork" "$lo" "$hi"
        expect_same_tree "before any change, against kernel overlayfs" "$T/k" "$T/m"
        expect_eq "etc is the link" "$HOST/canarydir" "$(readlink "$T/m/etc")"
        expect_eq "a/b/c/etc is the link" l "$(probe stat "$T/m/a/b/c/etc")"
        for d in . a/b a/b/c/d; do
                change_links_without_following "$T/m" "$d" 2>/dev/null
                change_links_without_following "$T/k" "$d" 2>/dev/null
        done
        expect_same_tree "after changing the links, against kernel overlayfs" "$T/k" "$T/m"
        # the link out of the way, a directory in its place: opaque, so
        # nothing of lo's etc comes back
        rm "$T/m/etc" "$T/m/a/b/c/etc"
        mkdir "$T/m/etc" "$T/m/a/b/c/etc"
        expect_eq "etc made where the link was" "" "$(names "$T/m/etc")"
        expect_eq "a/b/c/etc made where the link was" "" "$(names "$T/m/a/b/c/etc")"
        echo new > "$T/m/etc/$PROBE"
        cp -a "$T/m" "$T/export"
        expect_same_tree "cp -a of the whole mount" "$T/m" "$T/export"
        rm -rf "$T/m/a" "$T/m/root" "$T/m/canarydir"
        expect_absent "$T/m/a"
        expect_absent "$T/m/root"
        expect_host_untouched
}

test_dir_over_a_symlink_over_a_dir_merges_only_down_to_the_link() {
        local lo mid hi upper m
        host_start
        lo=$(mkd lo) mid=$(mkd mid) hi=$(mkd hi) upper=$(mkd upper)
        # lo: etc/ and x/y/etc/; mid: links in their place; hi: dirs again
        mkdir -p "$lo/etc" "$lo/x/y/etc" "$mid/x/y" "$hi/etc" "$hi/x/y/etc"
        echo lo > "$lo/etc/lo-only"
        echo lo > "$lo/x/y/etc/lo-only"
        ln -s "$HOST/canarydir" "$mid/etc"
        ln -s ../../../host/canarydir "$mid/x/y/etc"
        echo mine > "$hi/etc/mine"
        echo mine > "$hi/x/y/etc/mine"
        ln -s . "$hi/etc/self"
        host_mark
        uf_mount "$T/m" "$upper" "$lo" "$mid" "$hi"
        kov_mount "$T/k" "$(mkd kupper)" "$T/kwork" "$lo" "$mid" "$hi"
        expect_eq "listing of etc" "mine self" "$(names "$T/m/etc")"
        expect_eq "listing of x/y/etc" "mine" "$(names "$T/m/x/y/etc")"
        expect_eq "a name only lo has" ENOENT "$(sysop access "$T/m/etc/lo-only" f)"
        expect_eq "a name only the host has" ENOENT "$(sysop access "$T/m/x/y/etc/precious" f)"
        for m in "$T/m" "$T/k"; do
                (
                        cd "$m"
                        cat etc/mine x/y/etc/mine > /dev/null
                        echo more >> etc/mine
                        echo new > x/y/etc/new
                        chmod 0600 x/y/etc/mine
                        chown 7:7 etc/mine
                        truncate -s 2 x/y/etc/mine
                        setfattr -n user.tag -v 1 etc/mine
                        mkdir -p etc/a/b/c x/y/etc/p/q
                        mv etc/mine etc/a/b/c/mine
                        mv x/y/etc/new etc/new
                        rmdir x/y/etc/p/q
                        cp -a etc x/etc-copy
                        find -L etc x > /dev/null 2>&1 || true     # etc/self is a loop
                        rm x/y/etc/mine
                        rm -rf x/y/etc
                        mkdir x/y/etc
                ) || fail "the changes through $m failed"
        done
        expect_eq "x/y/etc made again" "" "$(names "$T/m/x/y/etc")"
        expect_same_tree "against kernel overlayfs" "$T/k" "$T/m"
        expect_host_untouched
}

# A chrooted process resolves every link inside the mount: what it reads,
# writes, creates, moves and deletes through them must be what the same
# script does in a chroot on kernel overlayfs, and never the host.
test_chrooted_operations_through_hostile_links_match_kernel_overlayfs() {
        need_busybox
        local base app m out
        host_start
        base=$(mkd base) app=$(mkd app)
        add_busybox "$base"
        mkdir -p "$base/etc" "$base/$HOST/canarydir" "$base/d1/d2/d3" "$app/lnk"
        echo 'root:x:0:0:root:/:/bin/sh' > "$base/etc/passwd"
        echo "image's canary" > "$base/$HOST/canary"
        echo "image's precious" > "$base/$HOST/canarydir/precious"
        echo gone > "$base/$HOST/canarydir/gone"
        add_hostile_links "$app/lnk" 1
        ln -s ../../../../../../.. "$base/d1/d2/d3/out"
        host_mark
        uf_mount "$T/m" "$(mkd upper)" "$base" "$app"
        kov_mount "$T/k" "$(mkd kupper)" "$T/kwork" "$base" "$app"
        for m in "$T/m" "$T/k"; do
                out=$T/out.$(basename "$m")
                chroot "$m" /bin/sh -c '
                        cd /
                        cat /lnk/canary /lnk/canarydir/precious /lnk/etc-abs/passwd /lnk/root/etc/passwd
                        echo w1 >> /lnk/canary
                        echo w2 > /lnk/dotdot/lnk/canarydir/new
                        mkdir -p /lnk/canarydir/a/b/c /lnk/rel-host/p/q
                        echo '"$PROBE"' > /lnk/root/'"$PROBE"'
                        echo '"$PROBE"' > /lnk/etc-abs/'"$PROBE"'
                        echo out > /d1/d2/d3/out/tmp/escaped
                        chmod 600 /lnk/canary
                        chown 1:1 /lnk/canarydir/precious
                        truncate -s 3 /lnk/canarydir/precious
                        rm /lnk/canarydir/gone
                        mv /lnk/canarydir/a /lnk/root/moved-a
                        rmdir /lnk/root/moved-a/b/c
                        cp -a /lnk /copied
                        ln -s /lnk/canarydir /lnk2
                        mkdir -p /lnk2/made/through/two/links
                        ls /lnk/fifo 2>&1; echo "fifo: $?"
                        find -L /lnk /copied /d1 -maxdepth 3 2>&1 | sort
                ' > "$out" 2>&1 || true
        done
        expect_eq "what the chrooted script saw" "$(cat "$T/out.k")" "$(cat "$T/out.m")"
        expect_content "$T/m/$HOST/canary" "image's canary
w1"
        expect_content "$T/m/tmp/escaped" out
        expect_exists "$T/m/$PROBE" "/PROBE inside the chroot is the mount's"
        expect_same_tree "against kernel overlayfs" "$T/k" "$T/m"
        expect_host_untouched
}

# ------------------------------------------------------------------ names

# Every odd name a layer can hold: dots that are not . or .., newlines,
# a tab, a backslash, a byte that is not UTF-8, 255 bytes.
odd_names() {
        local long
        long=$(printf 'n%.0s' $(seq 255))
        printf '%s\0' 'a..b' '...' '..a' 'a..' '.. ' ' ..' '....' $'a\nb' $'\n' $'..\n..' \
                $'tab\there' 'back\slash' $'bad\377utf8' '-rf' '*' '.wh' "$long" \
                "$(printf '..%.0s' $(seq 126)).xy" "${long:0:250}"$'\n..xx'
}

test_odd_names_survive_every_operation_like_kernel_overlayfs() {
        local base app name i=0 m
        host_start
        base=$(mkd base) app=$(mkd app)
        while IFS= read -r -d '' name; do
                i=$((i + 1))
                if [ $((i % 2)) -eq 0 ]; then
                        mkdir "$base/$name"
                        echo "in $i" > "$base/$name/f"
                        mkdir "$app/$name"
                        echo "app $i" > "$app/$name/g"
                else
                        echo "file $i" > "$base/$name"
                fi
                ln -s "$name" "$app/link$i"
        done < <(odd_names)
        uf_mount "$T/m" "$(mkd upper)" "$base" "$app"
        kov_mount "$T/k" "$(mkd kupper)" "$T/kwork" "$base" "$app"
        expect_same_escaped_tree "before any change" "$T/k" "$T/m"
        for m in "$T/m" "$T/k"; do
                i=0
                while IFS= read -r -d '' name; do
                        i=$((i + 1))
                        stat "$m/$name" > /dev/null
                        if [ -d "$m/$name" ]; then
                                cat "$m/$name/f" "$m/$name/g" > /dev/null
                                setfattr -n user.tag -v "$i" "$m/$name"
                                echo more >> "$m/$name/f"
                                mkdir "$m/$name/sub"
                                mv "$m/$name" "$m/d.$name" 2>/dev/null || mv "$m/$name" "$m/ren$i"
                        else
                                cat "$m/$name" > /dev/null
                                echo more >> "$m/$name"
                                chmod 0600 "$m/$name"
                                setfattr -n user.tag -v "$i" "$m/$name"
                                ln "$m/$name" "$m/hard$i"
                                if [ $((i % 3)) -eq 0 ]; then
                                        rm "$m/$name"
                                else
                                        mv "$m/$name" "$m/ren$i"
                                        mv "$m/ren$i" "$m/$name"
                                fi
                        fi
                        echo "created $i" > "$m/new$i"
                        mv "$m/new$i" "$m/$name" 2>/dev/null || true
                done < <(odd_names)
        done 2>&1 | head -5 | grep . && fail "an operation on an odd name failed (above)"
        expect_same_escaped_tree "after the changes" "$T/k" "$T/m"
        unmount "$T/m"
        uf_mount "$T/m" "$T/upper" "$base" "$app"
        expect_same_escaped_tree "after a remount" "$T/k" "$T/m"
        expect_host_untouched
}

# A .wh.NAME whiteout cannot be made for a 255-byte NAME: the name must
# still go away (another whiteout form), and stay away.
test_aufs_whiteout_of_a_255_byte_name_hides_it_all_the_same() {
        local base upper long
        base=$(mkd base) upper=$(mkd upper)
        long=$(printf 'w%.0s' $(seq 255))
        echo x > "$base/$long"
        mkdir "$base/${long:1}d"
        echo y > "$base/${long:1}d/f"
        UF_OPTS=whiteout=aufs uf_mount "$T/m" "$upper" "$base"
        expect_eq "rm of the 255-byte name" OK "$(sysop unlink "$T/m/$long")"
        expect_ok "rm -rf of the 255-byte dir" rm -rf "$T/m/${long:1}d"
        expect_eq "listing after rm" "" "$(names "$T/m")"
        unmount "$T/m"
        UF_OPTS=whiteout=aufs uf_mount "$T/m" "$upper" "$base"
        expect_eq "listing after a remount" "" "$(names "$T/m")"
}

# ------------------------------------------------------------------ special files

test_lower_fifo_socket_and_devices_are_never_opened_by_the_daemon() {
        local base upper listener f status
        host_start
        base=$(mkd base) upper=$(mkd upper)
        mkdir "$base/dev"
        mkfifo "$base/dev/fifo"
        mknod "$base/dev/null" c 1 3
        mknod "$base/dev/disk" b 7 200        # a block device no one has
        mknod "$base/dev/mem" c 1 1
        # a live socket in the layer, and a fifo the test holds open with
        # bytes in it: whoever opens either through the layer shows
        "$HELPERS/probe" listen "$base/dev/sock" > "$T/listener.out" &
        listener=$!
        for f in $(seq 50); do [ -S "$base/dev/sock" ] && break; sleep 0.1; done
        exec 7<> "$base/dev/fifo"
        printf 'canary\n' >&7
        host_mark
        uf_mount "$T/m" "$upper" "$base"
        expect_eq "types" "p c b c s" "$(for f in fifo null disk mem sock; do probe stat "$T/m/dev/$f"; done | tr '\n' ' ' | sed 's/ $//')"
        expect_eq "connect to the lower socket" ECONNREFUSED "$(probe connect "$T/m/dev/sock")"
        expect_eq "open the lower fifo for writing, no reader on this side" ENXIO \
                "$(probe fifo-write-nb "$T/m/dev/fifo")"
        expect_eq "open the block device (nodev)" EACCES "$(probe read "$T/m/dev/disk")"
        expect_eq "open /dev/mem (nodev)" EACCES "$(probe read "$T/m/dev/mem")"
        # copy-up of each, by every kind of change
        for f in fifo null disk mem sock; do
                status=0
                within 5 sh -c "chown 5:5 '$T/m/dev/$f' && chmod 0640 '$T/m/dev/$f' &&
                        touch -h -d '2002-02-02 UTC' '$T/m/dev/$f' &&
                        setfattr -h -n trusted.t -v 1 '$T/m/dev/$f' &&
                        ln '$T/m/dev/$f' '$T/m/dev/$f.hard' && mv '$T/m/dev/$f.hard' '$T/m/$f.moved'" ||
                        status=$?
                [ "$status" -ne 124 ] || fail "changing the lower $f hung"
                expect_eq "changes to $f" 0 "$status"
                expect_eq "$f in upper" "$(stat -c '%F %t:%T' "$base/dev/$f") 5:5 640" \
                        "$(stat -c '%F %t:%T %u:%g %a' "$upper/dev/$f")"
        done
        expect_eq "connect after the copy-up" ECONNREFUSED "$(probe connect "$T/m/dev/sock")"
        status=0
        within 5 cp -a "$T/m/dev" "$T/devcopy" || status=$?
        expect_eq "cp -a of the special files" 0 "$status"
        mv "$T/m/dev" "$T/m/dev2"
        rm -rf "$T/m/dev2"
        kill -TERM "$listener"
        wait "$listener" || true
        expect_eq "connections the lower socket got" "accepted 0" "$(cat "$T/listener.out")"
        f=none
        read -r -t 1 -u 7 f || true
        expect_eq "what the lower fifo holds" canary "$f"
        read -r -t 0.2 -u 7 f && fail "someone wrote '$f' into the lower fifo"
        exec 7<&-
        expect_host_untouched
}

# A lower file that is a hard link to a host file (a layer unpacked by a
# careless tool, on the host's filesystem): every change lands on a copy.
test_lower_hard_link_to_a_host_file_is_never_written() {
        local base upper before
        base=$(mkd base) upper=$(mkd upper)
        echo host > "$T/hostfile"
        chmod 0644 "$T/hostfile"
        mkdir "$base/etc"
        ln "$T/hostfile" "$base/etc/passwd"
        ln "$T/hostfile" "$base/etc/shadow"
        ln "$T/hostfile" "$base/etc/group"
        before=$(stat -c '%s %a %U:%G %Y %Z %h' "$T/hostfile")
        uf_mount "$T/m" "$upper" "$base"
        echo pwned >> "$T/m/etc/passwd"
        chmod 0666 "$T/m/etc/shadow"
        chown 5:5 "$T/m/etc/shadow"
        setfattr -n user.pwned -v 1 "$T/m/etc/shadow"
        truncate -s 0 "$T/m/etc/group"
        ln "$T/m/etc/group" "$T/m/etc/group2"
        rm "$T/m/etc/group"
        mv "$T/m/etc" "$T/m/etc2"
        expect_content "$T/m/etc2/passwd" "host
pwned"
        expect_content "$T/hostfile" host
        expect_eq "the host file" "$before" "$(stat -c '%s %a %U:%G %Y %Z %h' "$T/hostfile")"
        expect_no_xattr "$T/hostfile" user.pwned
}

# ------------------------------------------------------------------ redirects

# overlayfs' redirect xattr names where a renamed directory came from; a
# hostile layer can make it climb out with "..". Nothing outside the layer
# may be looked at (overlayfs refuses such a redirect outright).
test_redirect_climbing_out_of_its_layer_is_not_followed() {
        local lo hi upper
        host_start
        lo=$(mkd lo) hi=$(mkd hi) upper=$(mkd upper)
        mkdir -p "$lo/d" "$lo/e" "$lo/f" "$hi/d" "$hi/e" "$hi/f"
        echo lo > "$lo/d/f"
        ln -s "$HOST" "$lo/lnk"
        # from $T/lo, ../host/... is the canary
        setfattr -n trusted.overlay.redirect -v "/../host/canarydir/sub" "$hi/d"
        setfattr -n user.overlay.redirect -v "../host/canarydir/sub" "$hi/e"
        # and through a symlink of the layer
        setfattr -n trusted.overlay.redirect -v "/lnk/canarydir/sub" "$hi/f"
        host_mark
        uf_mount "$T/m" "$upper" "$lo" "$hi"
        ls "$T/m/d" "$T/m/e" "$T/m/f" > /dev/null 2>&1 || true
        touch "$T/m/d/new" "$T/m/e/new" "$T/m/f/new" 2>/dev/null || true
        expect_absent "$T/m/d/precious"
        expect_absent "$T/m/f/precious"
        expect_host_untouched
}

# The same climb can reach the union's own mountpoint: the daemon would
# then wait on itself.
test_redirect_into_the_mount_itself_does_not_hang() {
        local lo hi status=0
        lo=$(mkd lo) hi=$(mkd hi)
        mkdir -p "$lo/d/x" "$hi/d"
        setfattr -n trusted.overlay.redirect -v "/../m/d/x" "$hi/d"
        uf_mount "$T/m" "$(mkd upper)" "$lo" "$hi"
        within 5 ls "$T/m/d" > /dev/null 2>&1 || status=$?
        expect_ne "listing the directory (124: it hung)" 124 "$status"
        status=0
        within 5 stat "$T/m/d/x" > /dev/null 2>&1 || status=$?
        expect_ne "stat below it (124: it hung)" 124 "$status"
}

# ------------------------------------------------------------------ swapped under the mount

# Lower layers are immutable by contract; one changed under a live mount
# must still not lead the daemon out of it. The layer is mounted directly
# (not fingerprinted: the test changes it on purpose).
mount_untracked() {     # MNT UPPER LOWER
        mkdir -p "$1" "$2.work"
        track_mount "$1"
        "$UF" -o "lowerdir=$3,upperdir=$2,workdir=$2.work" "$1" || fail "mount failed"
        UF_PID=$(daemon_pid "$1") || true
}

# The operations run chrooted: outside, the kernel would follow the new
# links for the caller, as it does any link.
test_lower_entries_swapped_for_links_while_mounted_are_not_followed() {
        need_busybox
        local base upper status=0
        host_start
        base=$(mkd base) upper=$(mkd upper)
        add_busybox "$base"
        mkdir -p "$base/a/b"
        echo file > "$base/a/f"
        echo file > "$base/a/b/g"
        host_mark
        mount_untracked "$T/m" "$upper" "$base"
        cat "$T/m/a/f" "$T/m/a/b/g" > /dev/null
        rm -r "$base/a/b" "$base/a/f"
        ln -s "$HOST/canarydir" "$base/a/b"
        ln -s "$HOST/canary" "$base/a/f"
        within 20 chroot "$T/m" /bin/sh -c '
                cat /a/f /a/b/g
                echo pwned >> /a/f
                echo pwned >> /a/b/g
                chmod 0600 /a/f /a/b/g
                chown 5:5 /a/f /a/b/g
                touch /a/b/new
                ls /a/b
                mv /a/b /a/b2
                rm -rf /a
        ' > "$T/chroot.out" 2>&1 || status=$?
        expect_ne "the chrooted script (124: it hung)" 124 "$status"
        alive "$UF_PID" || fail "the daemon died"
        expect_host_untouched
}

# A daemon thread that opens a fifo waits for a partner that never comes:
# the caller hangs, and the thread is lost to the mount.
test_lower_file_swapped_for_a_fifo_while_mounted_does_not_hang() {
        local base upper f status
        base=$(mkd base) upper=$(mkd upper)
        mkdir "$base/a"
        echo file > "$base/a/r"
        echo file > "$base/a/w"
        mount_untracked "$T/m" "$upper" "$base"
        stat "$T/m/a/r" "$T/m/a/w" > /dev/null
        rm "$base/a/r" "$base/a/w"
        mkfifo "$base/a/r" "$base/a/w"
        for f in r w; do
                status=0
                if [ $f = r ]; then
                        within 5 cat "$T/m/a/$f" > /dev/null 2>&1 || status=$?
                else
                        within 5 sh -c "echo x >> '$T/m/a/$f'" 2>/dev/null || status=$?
                fi
                [ "$status" -ne 124 ] && continue
                # the daemon's thread sits in open() of one of these
                timeout 1 sh -c "echo > '$base/a/$f'" 2>/dev/null || true
                timeout 1 cat "$upper/a/$f" > /dev/null 2>&1 || true
                fail "$([ $f = r ] && echo reading || echo appending to) a lower file that became a fifo hung"
        done
}

run_tests
