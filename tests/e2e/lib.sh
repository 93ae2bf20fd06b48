# lib.sh: what every tests/e2e/t_*.sh script sources.
#
# A script is a list of functions named test_<behaviour>; run_tests runs each
# one in a subshell with its own scratch directory $T, so a test builds its
# layers in code, mounts, checks, and anything it mounted is unmounted when it
# ends, however it ends. Every lower layer a test mounts is fingerprinted
# before the mount and checked again after the test: a test that leaves a
# lower layer changed fails, whatever else it proved.
#
# Usage:  t_area.sh [UNIONFUSE_BINARY [HELPERS_DIR]]
#   UNIONFUSE_BINARY defaults to $UNIONFUSE, then build/unionfuse of this tree.
#   HELPERS_DIR holds the compiled helpers/*.c; without it they are compiled
#   into the workspace with cc.
#   E2E_ONLY=regex runs only the matching tests; E2E_KEEP=1 keeps the
#   workspace; E2E_VERBOSE=1 prints every test's log.

set -u
set -o pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UF=${1:-${UNIONFUSE:-$E2E_DIR/../../build/unionfuse}}
HELPERS=${2:-${E2E_HELPERS:-}}
# Tests cd into their scratch directories: relative paths would break.
case $UF in /*) ;; *) UF=$PWD/$UF ;; esac
case $HELPERS in /* | "") ;; *) HELPERS=$PWD/$HELPERS ;; esac
E2E_TEST_TIMEOUT=${E2E_TEST_TIMEOUT:-120}
UF_NAME=$(basename "$UF")

WS=$(mktemp -d "${E2E_TMPDIR:-/tmp}/uf-e2e.XXXXXX")
PASSED=0
FAILED=0
SKIPPED=0

# Unmounts every mount below DIR, deepest first. A FUSE mount whose daemon is
# stuck is aborted through fusectl, which fails its pending requests so the
# processes blocked in them can die.
unmount_all_below() {
        local dir=$1 mnt conn
        awk -v d="$dir/" 'index($5, d) == 1 { print $3, $5 }' /proc/self/mountinfo | sort -k2 -r |
        while read -r conn mnt; do
                if ! umount "$mnt" 2>/dev/null; then
                        conn=${conn#*:}
                        [ -e /sys/fs/fuse/connections/$conn/abort ] &&
                                echo 1 > /sys/fs/fuse/connections/$conn/abort
                        umount -l "$mnt" 2>/dev/null
                fi
        done
}

# fusectl is where a stuck FUSE connection is aborted; not every machine
# mounts it.
if ! mountpoint -q /sys/fs/fuse/connections 2>/dev/null; then
        mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null || true
fi

# Aborts every FUSE connection mounted below DIR: their pending requests
# fail with ENOTCONN, so whoever waits on a stuck daemon can finish.
abort_fuse_below() {    # DIR
        local dev
        awk -v d="$1/" 'index($5, d) == 1 && $0 ~ / - fuse/ { print $3 }' /proc/self/mountinfo |
        while read -r dev; do
                [ -e "/sys/fs/fuse/connections/${dev#*:}/abort" ] &&
                        echo 1 > "/sys/fs/fuse/connections/${dev#*:}/abort"
        done
        return 0
}

cleanup_workspace() {
        unmount_all_below "$WS"
        if [ -n "${E2E_KEEP:-}" ]; then
                echo "# workspace kept: $WS"
        else
                rm -rf "$WS"
        fi
}
trap cleanup_workspace EXIT

# The helpers: the given directory, or compiled here from helpers/*.c.
if [ -z "$HELPERS" ]; then
        HELPERS=$WS/helpers
        mkdir -p "$HELPERS"
        for src in "$E2E_DIR"/helpers/*.c; do
                cc -std=gnu11 -O1 -o "$HELPERS/$(basename "$src" .c)" "$src" ||
                        { echo "Bail out! cannot compile $src"; exit 1; }
        done
fi
for h in renameat2 seek_data copy_range fstat_unlinked sysop mktree; do
        [ -x "$HELPERS/$h" ] || { echo "Bail out! helper $HELPERS/$h missing"; exit 1; }
done
sysop() { "$HELPERS/sysop" "$@"; }

# ---------------------------------------------------------------- assertions
# All of them end the test at the first broken expectation, with one line
# that says what was expected and what happened.

# The first failure wins: a fail inside $(...) only leaves that subshell, and
# what follows it must not hide the real cause.
fail() {
        [ -f "$T.fail" ] || { printf '%s' "$*" | sed -z 's/\n/\\n/g'; echo; } > "$T.fail"
        exit 1
}

on_error() {     # STATUS COMMAND WHERE
        [ "$BASH_SUBSHELL" -eq "$TEST_LEVEL" ] || return 0
        fail "$3: '$2' exited with status $1"
}

# A line worth seeing in the results, printed as a comment under the test.
note() {
        printf '%s\n' "$*" >> "$T.note"
}

skip() {
        printf '%s\n' "$*" > "$T.skip"
        exit 0
}

expect_eq() {   # WHAT EXPECTED ACTUAL
        [ "$2" == "$3" ] || fail "$1: expected '$2', got '$3'"
}

expect_ne() {   # WHAT UNEXPECTED ACTUAL
        [ "$2" != "$3" ] || fail "$1: got '$3'"
}

expect_match() {        # WHAT EXTENDED-REGEX ACTUAL
        [[ "$3" =~ $2 ]] || fail "$1: '$3' does not match /$2/"
}

expect_ok() {   # WHAT CMD... : CMD must succeed
        local what=$1 err
        shift
        err=$("$@" 2>&1 >/dev/null) || fail "$what: '$*' failed: $(echo "$err" | head -3 | tr '\n' ' ')"
}

expect_fails() {        # WHAT CMD... : CMD must fail
        local what=$1
        shift
        ! "$@" >/dev/null 2>&1 || fail "$what: '$*' succeeded"
}

exists() { [ -e "$1" ] || [ -L "$1" ]; }

expect_exists() {       # PATH [WHAT]
        exists "$1" || fail "${2:+$2: }$1 does not exist"
}

expect_absent() {       # PATH [WHAT]
        exists "$1" && fail "${2:+$2: }$1 exists ($(stat -c %F "$1"))"
        return 0
}

expect_content() {      # PATH EXPECTED
        local got
        got=$(cat "$1" 2>&1) || fail "reading $1: $got"
        expect_eq "content of $1" "$2" "$got"
}

# A whiteout in the kernel overlayfs format: a character device 0/0.
expect_char_whiteout() {        # PATH
        exists "$1" || fail "no whiteout at $1"
        expect_eq "whiteout $1" "character special file 0:0" "$(stat -c '%F %t:%T' "$1")"
}

expect_xattr() {        # PATH NAME VALUE (read straight from a layer)
        local got
        got=$(getfattr -h --only-values -n "$2" "$1" 2>/dev/null) || got="<absent>"
        expect_eq "xattr $2 on $1" "$3" "$got"
}

expect_no_xattr() {     # PATH NAME
        getfattr -h -n "$2" "$1" >/dev/null 2>&1 && fail "$1 carries xattr $2"
        return 0
}

expect_same_tree() {    # WHAT DIR-A DIR-B : same names, types, modes, sizes, data
        local d
        d=$(diff <(tree_listing "$2") <(tree_listing "$3")) ||
                fail "$1: trees differ: $(echo "$d" | grep '^[<>]' | head -6 | tr '\n' ';')"
}

# ---------------------------------------------------------------- listings

# The names in DIR (readdir, without . and ..), sorted, on one line.
names() {       # DIR
        ls -A "$1" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}

# What a tree means to a program: one line per entry, sorted, with name,
# type, mode, owner, size, data checksum, symlink target, device numbers and
# the xattrs outside the overlay namespaces. No times, no inode numbers.
tree_listing() {        # DIR
        local dir=$1
        (
                set +e  # a name that does not stat shows up in the diff
                cd "$dir" || exit 1
                find . -mindepth 1 -printf '%p\t%y\t%m\t%U:%G\t%l\n' |
                while IFS=$'\t' read -r p y m o l; do
                        case $y in
                        f) printf '%s f %s %s size=%s md5=%s\n' "$p" "$m" "$o" \
                                "$(stat -c %s "$p")" "$(md5sum < "$p" | cut -c1-32)" ;;
                        l) printf '%s l %s -> %s\n' "$p" "$o" "$l" ;;
                        c|b) printf '%s %s %s %s dev=%s\n' "$p" "$y" "$m" "$o" "$(stat -c %t:%T "$p")" ;;
                        *) printf '%s %s %s %s\n' "$p" "$y" "$m" "$o" ;;
                        esac
                        getfattr -h -d -m - -e hex "$p" 2>/dev/null |
                                grep -v -e '^#' -e '^$' -e '^trusted\.overlay\.' -e '^user\.overlay\.' \
                                        -e '^security\.' | sed "s|^|$p xattr |"
                done | LC_ALL=C sort
                true
        )
}

# What a layer holds, as it sits on disk: "path type" per entry, sorted,
# comma separated.
layer_entries() {       # DIR
        (cd "$1" && find . -mindepth 1 -printf '%p %y\n' | LC_ALL=C sort | tr '\n' ',' | sed 's/,$//')
}

# A fingerprint of a layer as it sits on disk, markers and all, times
# included: what "this layer was not touched" is checked against.
layer_fingerprint() {   # DIR
        local dir=$1
        (
                set +e
                trap - ERR      # a vanished layer shows in the comparison instead
                cd "$dir" 2>/dev/null || { echo "layer $dir is gone"; exit 0; }
                find . -printf '%p %y %m %U:%G %n %s %T@ %C@ %l\n'
                find . -type c -exec stat -c '%n dev=%t:%T' {} +
                # -execdir: a deep tree has paths longer than PATH_MAX
                find . -type f -size +0 -size -64M -printf '%p ' -execdir md5sum {} \;
                getfattr -R -P -h -d -m - -e hex . 2>/dev/null
                true
        ) | LC_ALL=C sort
}

# ---------------------------------------------------------------- mounting

# Mount points and lower layers of the running test, for teardown and for
# the untouched-lower check.
track_mount() { echo "$1" >> "$T/.mounts"; }
track_lower() {
        local dir
        for dir in "$@"; do
                grep -qxF "$dir" "$T/.lowers" 2>/dev/null && continue
                echo "$dir" >> "$T/.lowers"
                layer_fingerprint "$dir" > "$T/.fp.$(wc -l < "$T/.lowers")"
        done
}

# The daemon serving MNT: the process that holds /dev/fuse open and was
# given MNT as an argument.
daemon_pid() {  # MNT
        local p
        for p in /proc/[0-9]*; do
                grep -qzxF -- "$1" "$p/cmdline" 2>/dev/null || continue
                # grep reads all: -q under pipefail could fail on SIGPIPE.
                ls -l "$p/fd" 2>/dev/null | grep ' -> /dev/fuse$' > /dev/null || continue
                echo "${p#/proc/}"
                return 0
        done
        return 1
}

# A process that is gone or a zombie has finished its work.
alive() {       # PID
        [ -n "$1" ] && [ -r "/proc/$1/stat" ] && ! awk '{ exit $3 != "Z" }' "/proc/$1/stat" 2>/dev/null
}

# Runs CMD, but gives up after SECONDS: then every FUSE connection of the
# test is aborted (a process blocked in a FUSE request ignores SIGKILL until
# then) and the status is 124, as timeout(1) says.
within() {      # SECONDS CMD...
        local limit=$1 pid i
        shift
        "$@" &
        pid=$!
        for i in $(seq $((limit * 10))); do
                alive "$pid" || break
                sleep 0.1
        done
        if alive "$pid"; then
                abort_fuse_below "$T"
                kill -KILL "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
                return 124
        fi
        wait "$pid"
}

# Unmounts MNT and waits for its daemon to exit, so the upper layer is final.
unmount() {     # MNT
        local mnt=$1 pid i
        pid=$(daemon_pid "$mnt") || true
        mountpoint -q "$mnt" || return 0
        fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" 2>/dev/null ||
                fail "cannot unmount $mnt: $(umount "$mnt" 2>&1)"
        for i in $(seq 50); do
                alive "$pid" || break
                sleep 0.1
        done
        return 0
}

teardown() {
        local mnt
        set +e
        [ -f "$T/.mounts" ] || return 0
        # no wait for the daemons here: nothing looks at the upper layers now
        tac "$T/.mounts" | while read -r mnt; do
                mountpoint -q "$mnt" || continue
                fusermount3 -u "$mnt" || umount "$mnt" || umount -l "$mnt"
        done 2>/dev/null
        return 0
}

# Makes and prints the path of a fresh directory in the test's scratch area.
mkd() {         # NAME
        mkdir -p "$T/$1" && echo "$T/$1"
}

# Mounts unionfuse on MNT, in the overlayfs option form (top layer first, as
# overlayfs and fuse-overlayfs take it). UPPER empty: read-only. Layers are
# given base first, as everywhere in these tests. Extra options: $UF_OPTS.
# Sets UF_PID to the daemon.
uf_mount() {    # MNT UPPER LAYER... (base first)
        local mnt=$1 upper=$2 lowerdir="" layer opts err
        shift 2
        for layer in "$@"; do
                lowerdir=$layer${lowerdir:+:$lowerdir}
        done
        track_lower "$@"
        opts=lowerdir=$lowerdir
        if [ -n "$upper" ]; then
                mkdir -p "$upper.work"
                opts=$opts,upperdir=$upper,workdir=$upper.work
        fi
        [ -n "${UF_OPTS:-}" ] && opts=$opts,$UF_OPTS
        mkdir -p "$mnt"
        track_mount "$mnt"
        err=$("$UF" -o "$opts" "$mnt" 2>&1) || fail "mount failed: $UF -o $opts $mnt: $err"
        mountpoint -q "$mnt" || fail "'$UF -o $opts $mnt' returned but $mnt is not mounted"
        UF_PID=$(daemon_pid "$mnt") || true
}

# Mounts unionfuse -d -o OPTS on MNT, its log of every FUSE request going to
# LOG, and waits for the mount. The daemon stays in the background: unmount,
# then wait, before reading LOG whole.
uf_mount_logged() {     # MNT LOG OPTS
        local mnt=$1 log=$2 i
        mkdir -p "$mnt"
        track_mount "$mnt"
        "$UF" -d -o "$3" "$mnt" 2> "$log" &
        for i in $(seq 100); do
                mountpoint -q "$mnt" && return 0
                sleep 0.1
        done
        fail "the mount with -d did not come up: $(head -3 "$log")"
}

# Kernel overlayfs on MNT, layers base first; redirect_dir, index and
# metacopy off, so it reads and writes only what section 3 of DESIGN.md lists.
# $KOV_OPTS replaces those options.
kov_mount() {   # MNT UPPER WORK LAYER...
        local mnt=$1 upper=$2 work=$3 lowerdir="" layer err
        shift 3
        grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
        grep -qw overlay /proc/filesystems || skip "kernel overlayfs not available"
        for layer in "$@"; do
                lowerdir=$layer${lowerdir:+:$lowerdir}
        done
        mkdir -p "$mnt" "$work"
        track_mount "$mnt"
        err=$(mount -t overlay overlay \
                -o "lowerdir=$lowerdir,upperdir=$upper,workdir=$work,${KOV_OPTS:-redirect_dir=off,index=off,metacopy=off}" \
                "$mnt" 2>&1) || fail "kernel overlayfs mount failed: $err"
}

# Runs the unionfuse binary with ARGS; sets RC, OUT and ERR.
uf_run() {
        local o e
        o=$T.cmd.out e=$T.cmd.err
        RC=0
        "$UF" "$@" > "$o" 2> "$e" || RC=$?
        OUT=$(cat "$o")
        ERR=$(cat "$e")
}

# ---------------------------------------------------------------- users

# The ordinary user that rootless tests run as. Made if missing; two test
# suites running at once may race to make it (useradd then finds
# /etc/passwd locked, or the user there already), hence the retries.
TEST_USER=unionfuse-test
ensure_test_user() {
        local try
        for try in 1 2 3 4 5 6 7 8 9 10; do
                id "$TEST_USER" >/dev/null 2>&1 && break
                useradd -M -d /nonexistent -s /bin/sh "$TEST_USER" 2>/dev/null && break
                sleep 0.$try
        done
        id "$TEST_USER" >/dev/null 2>&1 || fail "cannot create the user $TEST_USER"
        chmod 0666 /dev/fuse
        command -v fusermount3 >/dev/null || fail "fusermount3 is missing"
        # The build tree may lie where the user cannot reach (below /root,
        # a 0700 temporary directory): the user runs a copy of the binary.
        chmod 0755 "$WS"
        UFU=$WS/unionfuse-as-user
        [ -x "$UFU" ] || install -m 0755 "$UF" "$UFU" || fail "cannot copy $UF for the user"
}

# ---------------------------------------------------------------- running

run_one() {     # TEST-FUNCTION
        local name=$1 pid watchdog rc start dur i dir detail
        T=$WS/$name
        mkdir -p "$T"
        rm -f "$T".*
        start=$(date +%s%N)
        # -e: a command that fails unexpectedly fails the test, and the ERR
        # trap says which; not inside $(...), where failing is often the point
        (
                set -eE
                TEST_LEVEL=$BASH_SUBSHELL
                trap 'on_error $? "$BASH_COMMAND" "${BASH_SOURCE[0]##*/}:$LINENO"' ERR
                trap teardown EXIT
                cd "$T"
                "$name"
        ) > "$T.log" 2>&1 &
        pid=$!
        ( sleep "$E2E_TEST_TIMEOUT" && kill -0 "$pid" 2>/dev/null &&
                echo "timed out after ${E2E_TEST_TIMEOUT}s" > "$T.fail" &&
                unmount_all_below "$T" && kill -KILL "$pid" ) >/dev/null 2>&1 &
        watchdog=$!
        wait "$pid"
        rc=$?
        kill "$watchdog" 2>/dev/null
        wait "$watchdog" 2>/dev/null
        unmount_all_below "$T"
        dur=$(( ($(date +%s%N) - start) / 1000000 ))

        # The lower layers must be exactly as they were before the mount.
        if [ -f "$T/.lowers" ] && [ ! -f "$T.fail" ]; then
                i=0
                while read -r dir; do
                        i=$((i + 1))
                        detail=$(diff "$T/.fp.$i" <(layer_fingerprint "$dir") | grep '^[<>]' | head -4 | tr '\n' ';')
                        [ -z "$detail" ] || { echo "lower layer $dir changed: $detail" > "$T.fail"; break; }
                done < "$T/.lowers"
        fi

        if [ -f "$T.fail" ]; then
                FAILED=$((FAILED + 1))
                echo "not ok - $name: $(head -1 "$T.fail")"
                sed 's/^/#   /' "$T.log" | tail -15
        elif [ "$rc" -ne 0 ]; then
                FAILED=$((FAILED + 1))
                echo "not ok - $name: exited with status $rc: $(tail -1 "$T.log")"
        elif [ -f "$T.skip" ]; then
                SKIPPED=$((SKIPPED + 1))
                echo "ok - $name # SKIP $(head -1 "$T.skip")"
        else
                PASSED=$((PASSED + 1))
                echo "ok - $name"
        fi
        [ -f "$T.note" ] && sed "s/^/# $name: /" "$T.note"
        [ -n "${E2E_VERBOSE:-}" ] && sed 's/^/#   /' "$T.log"
        [ "$dur" -ge 2000 ] && echo "# $name took $((dur / 1000)).$(( (dur % 1000) / 100 ))s"
        [ -n "${E2E_KEEP:-}" ] || rm -rf "$T" "$T".*
        return 0
}

run_tests() {
        local start=$SECONDS name
        [ "$(id -u)" -eq 0 ] || { echo "Bail out! the e2e tests run as root"; exit 1; }
        [ -c /dev/fuse ] || { echo "Bail out! no /dev/fuse"; exit 1; }
        [ -x "$UF" ] || { echo "Bail out! no unionfuse binary at $UF"; exit 1; }
        echo "# $(basename "$0") against $UF"
        for name in $(declare -F | awk '{ print $3 }' | grep '^test_'); do
                [[ $name =~ ${E2E_ONLY:-.} ]] || continue
                run_one "$name"
        done
        echo "# $(basename "$0"): $((SECONDS - start))s${SKIPPED:+, $SKIPPED skipped}"
        echo "$PASSED passed, $FAILED failed"
        [ "$FAILED" -eq 0 ]
}
