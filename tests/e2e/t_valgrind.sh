#!/bin/bash
# The daemon under valgrind's memcheck, through a workload that touches
# every kind of operation: no invalid access, no use of uninitialised
# memory, no bad free, and no memory definitely lost by the time it exits
# after the unmount. valgrind.supp beside this script lists what is
# suppressed, and why (libraries' one-time allocations only).
#
# Valgrind cannot run an ASan build: then every test is skipped. Valgrind
# 3.19 does not know openat2: the daemon then takes its component-by-
# component walk (layers.c), which is what this run checks.
. "$(dirname "$0")/lib.sh"

UF=$(realpath "$UF") HELPERS=$(realpath "$HELPERS")
SUPP=$E2E_DIR/valgrind.supp

need_valgrind() {
        command -v valgrind >/dev/null || skip "valgrind is not installed (apt package valgrind)"
        # Not grep -q: it stops at the first match, and under pipefail the
        # writer's SIGPIPE would turn the match into a failure now and then.
        if ldd "$UF" 2>/dev/null | grep libasan > /dev/null ||
           nm "$UF" 2>/dev/null | grep __asan_init > /dev/null; then
                skip "$UF is an ASan build: valgrind and ASan do not mix"
        fi
}

# Starts the daemon in the foreground under memcheck, in the background;
# ARGS are unionfuse's, the mountpoint last. Sets VG_PID.
vg_mount() {    # MNT ARGS...
        local mnt=$1 i
        shift
        mkdir -p "$mnt"
        track_mount "$mnt"
        valgrind --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
                --error-exitcode=99 --num-callers=40 --suppressions="$SUPP" \
                --log-file="$T/valgrind.log" "$UF" "$@" > "$T/daemon.out" 2>&1 &
        VG_PID=$!
        for i in $(seq 300); do
                mountpoint -q "$mnt" && return 0
                alive "$VG_PID" || break
                sleep 0.1
        done
        fail "the daemon under valgrind did not mount: $(tail -3 "$T/daemon.out") $(grep -m3 '==[0-9]*== [A-Z]' "$T/valgrind.log")"
}

# Unmounts, waits for valgrind to finish, and fails on any error it found.
vg_finish() {   # MNT
        local mnt=$1 rc=0 i
        fusermount3 -u "$mnt" || fail "cannot unmount $mnt"
        for i in $(seq 600); do
                alive "$VG_PID" || break
                sleep 0.1
        done
        alive "$VG_PID" && fail "the daemon did not exit within 60 s of the unmount"
        wait "$VG_PID" || rc=$?
        grep -q 'ERROR SUMMARY: ' "$T/valgrind.log" || fail "valgrind wrote no summary (status $rc)"
        note "$(grep -o 'ERROR SUMMARY: .*' "$T/valgrind.log")"
        if [ "$rc" -ne 0 ] || ! grep -q 'ERROR SUMMARY: 0 errors' "$T/valgrind.log"; then
                fail "valgrind found errors (status $rc): $(first_error "$T/valgrind.log")"
        fi
}

# The first error's headline and the first frames of its stack.
first_error() {         # LOG
        awk '
                /^==[0-9]+== (Invalid|Conditional|Use of|Syscall param|Mismatched|Source and|Argument|[0-9,]+ bytes in [0-9,]+ blocks are definitely)/ {
                        if (found) exit; found = 1; print; next }
                found && /^==[0-9]+== *$/ { exit }
                found && /(at|by) 0x/ { print }
        ' "$1" | sed 's/^==[0-9]*== *//; s/0x[0-9A-F]*: //' | head -8 | tr '\n' ';'
}

# Two lower layers with some of everything, markers of every format in the
# top one.
build_layers() {
        BASE=$(mkd base) APP=$(mkd app)
        mkdir -p "$BASE/etc" "$BASE/dir/sub" "$BASE/tree/a/b" "$BASE/gone" "$BASE/empty" "$APP/dir"
        echo root:x:0:0 > "$BASE/etc/passwd"
        for f in f1 f2 f3 f4 f5 f6 f7 f8 f9 f10; do echo "$f" > "$BASE/$f"; done
        echo x > "$BASE/dir/x"
        echo deep > "$BASE/tree/a/b/c"
        ln "$BASE/tree/a/b/c" "$BASE/tree/a/hard"
        ln -s a/b/c "$BASE/tree/link"
        echo g > "$BASE/gone/g"
        setfattr -n user.tag -v base "$BASE/f1"
        truncate -s 8M "$BASE/sparse"
        printf 'middle' | dd of="$BASE/sparse" bs=1M seek=4 conv=notrunc status=none
        mkfifo "$BASE/fifo"
        "$HELPERS/mktree" "$BASE/many" 1 300
        echo app > "$APP/dir/app"
        mknod "$APP/f9" c 0 0                           # overlayfs whiteout
        touch "$APP/.wh.f8"                             # AUFS whiteout
        mkdir -p "$APP/empty" "$APP/gone"
        touch "$APP/gone/.wh..wh..opq"                  # AUFS opaque
        setfattr -n trusted.overlay.opaque -v y "$APP/empty"
}

workload() {    # MNT
        local m=$1
        (
                set -e
                cd "$m"
                ls -laR . > /dev/null
                find . -type f ! -name fifo -exec cat {} + > /dev/null
                stat -f . > /dev/null
                echo more >> f1                         # copy-up with data
                chmod 0600 f2                           # metadata copy-up
                chown 5:5 f3
                touch -d '2001-01-01 UTC' f4
                truncate -s 100 f5
                : > f6                                  # O_TRUNC copy-up, no data
                echo new > new
                mkdir -p newdir/sub/deeper
                ln -s f1 newlink
                mkfifo newfifo
                mv new renamed
                mv f7 f7.renamed                        # whiteout left behind
                mv tree tree.renamed                    # tree copy-up, hard links kept
                mv dir dir.renamed                      # merged dir
                rm f10
                rm -rf gone many/d0000
                rmdir empty
                mkdir f10                               # opaque dir over a whiteout
                echo again > f7                         # file over a whiteout
                ln f1 f1.hard
                ln renamed renamed.hard
                setfattr -n user.a -v 1 f1
                setfattr -n user.big -v "$(head -c 2000 /dev/zero | tr '\0' x)" f2
                getfattr -d -m - f1 f2 dir.renamed > /dev/null
                setfattr -x user.a f1
                getfattr -n user.unionfuse.layers . > /dev/null 2>&1 || true
                "$HELPERS/copy_range" f1 copied > /dev/null
                "$HELPERS/seek_data" sparse > /dev/null
                printf 'z' >> sparse
                "$HELPERS/fstat_unlinked" renamed.hard > /dev/null
                "$HELPERS/sysop" mmap-write f4 0 F > /dev/null
                "$HELPERS/sysop" posixlock f3 > /dev/null
                flock f5 true
                "$HELPERS/renameat2" exchange f1 f2 > /dev/null
                "$HELPERS/renameat2" noreplace f3 f4 > /dev/null || true
                exec 7< f5
                rm f5
                cat <&7 > /dev/null
                exec 7<&-
                ls -la . > /dev/null
        ) > "$T/workload.out" 2>&1 || fail "the workload failed: $(tail -3 "$T/workload.out" | tr '\n' ' ')"
}

test_daemon_under_memcheck_mount_form_with_trace_and_init_layer() {
        need_valgrind
        build_layers
        track_lower "$BASE" "$APP"
        vg_mount "$T/m" mount -f --trace="$T/trace" --hostname box --upper "$T/upper" "$BASE" "$APP" "$T/m"
        workload "$T/m"
        vg_finish "$T/m"
        grep -q '^copy-up /f1 ' "$T/trace" || fail "the trace shows no copy-up of /f1"
}

test_daemon_under_memcheck_lowerdir_form_with_aufs_whiteouts() {
        need_valgrind
        build_layers
        mkdir -p "$T/upper.work"
        track_lower "$BASE" "$APP"
        vg_mount "$T/m" -f -o "lowerdir=$APP:$BASE,upperdir=$T/upper,workdir=$T/upper.work,whiteout=aufs" "$T/m"
        workload "$T/m"
        vg_finish "$T/m"
        expect_exists "$T/upper/.wh.gone" "an AUFS whiteout"
}

run_tests
