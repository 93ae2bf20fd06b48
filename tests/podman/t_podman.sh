#!/usr/bin/env bash
# podman with unionfuse as the overlay driver's mount_program (issues 4 and 7),
# as root and as an ordinary user (rootless, user namespace):
#
#   import   a busybox rootfs tarball made here -> podman import
#   run      a container that writes, appends, deletes files and a directory,
#            replaces a directory (opaque), renames a lower file and a lower
#            directory, chowns, links; every container and RUN step also
#            reports the type of its own root mount (fuse.unionfuse: a silent
#            fall back to native overlay fails the test)
#   daemon   while a container runs: the daemon serving it is the given binary,
#            run with the overlayfs argv (-o lowerdir=...,upperdir=...,workdir=...);
#            the mount podman made is fuse.unionfuse and `unionfuse layers` on it
#            names the container's upper layer (no other FUSE program answers
#            that); podman exec writes through it; the daemon is gone once the
#            container is removed
#   commit   podman commit; the committed image shows every change
#   build    podman build with a RUN step (network none); its output is in the
#            image and its container's root was fuse.unionfuse too
#   oci      an OCI layout made by hand -> skopeo copy -> podman run -> the
#            container's upper layer -> unionfuse commit --image -> skopeo copy
#            -> podman run shows the changes
#
# Everything podman is told comes from CONTAINERS_CONF / CONTAINERS_STORAGE_CONF
# files written here (nothing in /etc is edited); all storage lives in one
# scratch directory, reset (podman system reset), unmounted and removed at the
# end however the test ends. A daemon's sanitizer report (ASan build) fails it.
#
# Usage: t_podman.sh [UNIONFUSE_BINARY]   (default: $UNIONFUSE, then build/unionfuse)
#   PODMAN_MODES="root rootless" picks the modes; PODMAN_TEST_USER (default
#   unionfuse-test) is the ordinary user, created with subordinate ids if missing.
#   Exit 77 (skip) when not root. Prints "ok - ..." / "not ok - ..." lines and
#   "N passed, M failed, K skipped".
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UF=${1:-${UNIONFUSE:-$HERE/../../build/unionfuse}}
MODES=${PODMAN_MODES:-root rootless}
TEST_USER=${PODMAN_TEST_USER:-unionfuse-test}
CMD_TIMEOUT=${PODMAN_CMD_TIMEOUT:-120}

if [ "$(id -u)" -ne 0 ]; then
        echo "# skip: the podman test runs as root (it also runs podman as $TEST_USER)"
        exit 77
fi
[ -x "$UF" ] || { echo "not ok - unionfuse binary: $UF is not executable"; echo "0 passed, 1 failed"; exit 1; }
UF=$(realpath "$UF")

PASSED=0 FAILED=0 SKIPPED=0
START=$(date +%s.%N)

# --- the scratch directory and what podman may leave on the host -------------

# Short on purpose: podman refuses a run root longer than 50 characters.
W=$(mktemp -d /tmp/ufpod.XXXXXX)
chmod 0755 "$W"
mkdir -p "$W/log" "$W/asan" "$W/bin"
chmod 1777 "$W/asan"
# The mount program: a copy of the binary that the ordinary user can reach
# too (the build tree may lie in /root); its path names this test's daemons.
MP=$W/bin/unionfuse
install -m 0755 "$UF" "$MP"
# Sanitizer reports of the daemons (an ASan build) land here: the daemon's
# stderr is /dev/null once it detaches.
SAN_ENV=("ASAN_OPTIONS=log_path=$W/asan/report:detect_leaks=1:abort_on_error=0"
         "UBSAN_OPTIONS=log_path=$W/asan/report:print_stacktrace=1")

# Places outside the scratch directory where podman, conmon or skopeo leave
# something despite the configuration (lock files, the blob info cache of
# skopeo as root, cgroups of conmon with cgroupfs). What did not exist before
# the test is removed after it; what existed is left alone.
host_paths() {
        local p
        for p in /etc/containers/networks /run/containers /run/libpod /var/lib/containers \
                /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/libpod_parent; do
                [ -e "$p" ] && echo "$p"
        done
        return 0
}
HOST_BEFORE=$(host_paths)

INITIALIZED_MODES=()

# Pids of processes whose command line holds STRING (not this shell).
pids_with() {   # STRING
        local p cmd
        for p in /proc/[0-9]*; do
                [ "${p#/proc/}" = $$ ] && continue
                [ "${p#/proc/}" = "$BASHPID" ] && continue
                cmd=$(tr '\0' ' ' 2> /dev/null < "$p/cmdline") || continue
                case $cmd in *"$1"*) echo "${p#/proc/}" ;; esac
        done
        return 0
}

# Processes this test started that may outlive it: podman's pause process
# (its pid file is in the runtime directory), and anything whose command line
# or working directory lies in the scratch directory.
our_pids() {
        local p cwd
        cat "$W"/*/x/libpod/tmp/pause.pid 2> /dev/null && echo
        for p in /proc/[0-9]*; do
                [ "${p#/proc/}" = $$ ] && continue
                [ "${p#/proc/}" = "$BASHPID" ] && continue
                cwd=$(readlink "$p/cwd" 2> /dev/null) || continue
                case $cwd in "$W"|"$W"/*) echo "${p#/proc/}" ;; esac
        done
        pids_with "$W"
}

# The mounts below DIR in this mount namespace, deepest first.
mounts_below() {        # DIR
        awk -v d="$1/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

cleanup() {
        local rc=$? m p pids
        set +e
        trap - EXIT INT TERM
        for MODE in "${INITIALIZED_MODES[@]}"; do
                mode_vars
                in_mode podman rm -a -f -t 0 >> "$W/log/cleanup" 2>&1
                in_mode podman system reset -f >> "$W/log/cleanup" 2>&1
        done
        # Whatever is left, by pid: the pause process of rootless podman
        # (it outlives every podman command), daemons and conmons of this
        # test (their command lines or working directories are in $W).
        pids=$(our_pids)
        [ -n "$pids" ] && kill $pids 2>/dev/null
        sleep 0.2
        pids=$(our_pids)
        [ -n "$pids" ] && echo "# cleanup: killing leftover processes $(echo $pids)" && kill -9 $pids 2>/dev/null
        for m in $(mounts_below "$W"); do
                echo "# cleanup: unmounting $m"
                umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
        done
        for p in $(host_paths); do
                grep -qxF "$p" <<< "$HOST_BEFORE" && continue
                case $p in
                /sys/fs/cgroup/*) find "$p" -depth -type d -exec rmdir {} + 2>/dev/null ;;
                *) rm -rf "$p" ;;
                esac
        done
        if ! rm -rf "$W" 2>/dev/null; then
                chattr -R -i -a "$W" 2>/dev/null
                rm -rf "$W" || echo "# cleanup: could not remove $W"
        fi
        exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- running things in a mode ------------------------------------------------

# MH: the mode's directory; LOG: its log.
mode_vars() {
        MH=$W/$MODE
        LOG=$W/log/$MODE
}

# CMD... as the mode's user, with only the environment the test chooses.
in_mode() {
        local envs=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
                HOME="$MH/home" CONTAINERS_CONF="$MH/containers.conf"
                CONTAINERS_STORAGE_CONF="$MH/storage.conf" "${SAN_ENV[@]}")
        if [ "$MODE" = rootless ]; then
                envs+=(USER="$TEST_USER" LOGNAME="$TEST_USER" XDG_RUNTIME_DIR="$MH/x")
                (cd "$W" && timeout "$CMD_TIMEOUT" runuser -u "$TEST_USER" -- env -i "${envs[@]}" "$@")
        else
                (cd "$W" && timeout "$CMD_TIMEOUT" env -i "${envs[@]}" "$@")
        fi
}

# CMD... in the mode, logged; its stdout is printed (and logged), its stderr
# only logged.
logged() {
        local out=$W/log/out.$MODE rc=0
        printf '+ [%s] %s\n' "$MODE" "$*" >> "$LOG"
        in_mode "$@" > "$out" 2>> "$LOG" || rc=$?
        cat "$out" >> "$LOG"
        [ "$rc" -eq 0 ] || echo "  (exit $rc)" >> "$LOG"
        cat "$out"
        return "$rc"
}
pm() { logged podman "$@"; }
skopeo_copy() { logged skopeo copy --quiet --policy "$W/policy.json" "$@"; }
# A command in the mode's user namespace (rootless: podman unshare).
in_userns() {
        if [ "$MODE" = rootless ]; then logged podman unshare "$@"; else logged "$@"; fi
}

since() {       # T0: seconds since T0 (date +%s.%N), one decimal
        awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

fail() {
        echo "$*" >&2
        exit 1
}
expect_eq() {   # WHAT EXPECTED ACTUAL
        [ "$2" = "$3" ] && return 0
        case $2$3 in
        *$'\n'*) fail "$1: not as expected (diff expected got):
$(diff <(echo "$2") <(echo "$3"))" ;;
        *) fail "$1: expected [$2], got [$3]" ;;
        esac
}

# Runs step FN of the current mode in a subshell (errexit on), prints its
# result. Once a step of a mode failed, the later steps of that mode, which
# build on it, are skipped.
MODE_BROKEN=
step() {        # NAME FN
        local name="$MODE: $1" t0 rc err=$W/log/err
        if [ -n "$MODE_BROKEN" ]; then
                echo "ok - $name # skip: an earlier $MODE step failed"
                SKIPPED=$((SKIPPED + 1))
                return 0
        fi
        t0=$(date +%s.%N)
        printf '\n=== %s\n' "$name" >> "$LOG"
        set +e
        ( set -e; "$2" ) 2> "$err"
        rc=$?
        set -e
        if [ "$rc" -eq 0 ]; then
                printf 'ok - %s (%s s)\n' "$name" "$(since "$t0")"
                PASSED=$((PASSED + 1))
        else
                printf 'not ok - %s (%s s): %s\n' "$name" "$(since "$t0")" "$(head -n 1 "$err")"
                tail -n +2 "$err" | head -n 40 | sed 's/^/#   /'
                echo "# last lines of the $MODE log:"
                tail -n 25 "$LOG" | sed 's/^/#   /'
                FAILED=$((FAILED + 1))
                MODE_BROKEN=1
        fi
        cat "$err" >> "$LOG"
}

# --- what every mode uses ----------------------------------------------------

# A busybox root filesystem, as a tarball (podman import) and as an OCI
# layout's only layer. /bin/rootfstype prints the filesystem type of the
# root mount of the container it runs in.
make_rootfs() {
        local r=$W/rootfs a
        mkdir -p "$r"/bin "$r"/etc/gone-dir/sub "$r"/etc/replaced-dir "$r"/usr/share "$r"/opt/lowerdir/inner \
                "$r"/tmp "$r"/root "$r"/proc "$r"/sys "$r"/dev
        cp /bin/busybox "$r/bin/busybox"
        for a in $(/bin/busybox --list); do
                [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
        done
        cat > "$r/bin/rootfstype" <<'EOF'
#!/bin/sh
awk '$5 == "/" { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 1); exit } }' /proc/self/mountinfo
EOF
        chmod 0755 "$r/bin/rootfstype"
        echo 'root:x:0:0:root:/root:/bin/sh' > "$r/etc/passwd"
        echo 'root:x:0:' > "$r/etc/group"
        echo 'base motd' > "$r/etc/motd"
        echo 'to be deleted' > "$r/etc/doomed"
        echo a > "$r/etc/gone-dir/a"
        echo b > "$r/etc/gone-dir/sub/b"
        echo old > "$r/etc/replaced-dir/old"
        echo keep > "$r/usr/share/keep"
        echo inner > "$r/opt/lowerdir/inner/file"
        chmod 1777 "$r/tmp"
        chmod 0700 "$r/root"
        tar --sort=name --numeric-owner --owner=0 --group=0 -C "$r" -cf "$W/busybox.tar" .
        chmod 0644 "$W/busybox.tar"
}

ensure_user() {
        local f start
        id "$TEST_USER" > /dev/null 2>&1 || useradd -M -d /nonexistent -s /bin/sh "$TEST_USER"
        for f in subuid subgid; do
                grep -q "^$TEST_USER:" "/etc/$f" 2>/dev/null && continue
                [ -e "/etc/$f" ] || install -m 0644 /dev/null "/etc/$f"   # usermod needs it
                start=$(awk -F: '{ e = $2 + $3; if (e > m) m = e } END { print (m < 100000 ? 100000 : m) }' \
                        "/etc/$f" 2>/dev/null || echo 100000)
                usermod "--add-${f}s" "$start-$((start + 65535))" "$TEST_USER"
        done
        chmod 0666 /dev/fuse
}

# --- the steps ---------------------------------------------------------------

step_configure() {
        rm -rf "$MH"
        mkdir -p "$MH/home"
        if [ "$MODE" = rootless ]; then
                mkdir -m 0700 "$MH/x"
                chown "$TEST_USER:" "$MH/home" "$MH/x"
        fi
        # The facts of these machines: crun refuses their cgroups, there is no
        # network, the hard open-file limit is 20000.
        cat > "$MH/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"

[network]
network_config_dir = "$MH/home/networks"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
        [ "$MODE" = root ] && printf 'tmp_dir = "%s"\n' "$MH/tmp" >> "$MH/containers.conf"
        # Rootless podman takes XDG_RUNTIME_DIR/containers whatever it is told;
        # skopeo takes runroot: the same directory for both.
        local runroot=$MH/run
        [ "$MODE" = rootless ] && runroot=$MH/x/containers
        cat > "$MH/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$MH/home/graph"
rootless_storage_path = "$MH/home/graph"
runroot = "$runroot"

[storage.options.overlay]
mount_program = "$MP"
EOF
        chmod 0644 "$MH"/*.conf
        local info
        info=$(pm info --format '{{.Store.GraphDriverName}} {{.Store.GraphRoot}} {{json .Store.GraphOptions}} rootless={{.Host.Security.Rootless}}')
        case $info in
        "overlay $MH/home/graph "*"\"Executable\":\"$MP\""*"\"Version\":\"unionfuse "*) ;;
        *) fail "podman does not use $MP as its overlay mount_program: $info" ;;
        esac
        expect_eq "podman info rootless" "rootless=$([ "$MODE" = rootless ] && echo true || echo false)" \
                "${info##* }"
}

step_import() {
        pm import "$W/busybox.tar" localhost/uftest:base > /dev/null
        pm image exists localhost/uftest:base
}

# Prints what the container sees, after its changes, and the root fs type.
CHANGES='set -e
echo "root=$(rootfstype)"
echo written-in-container > /etc/new
echo appended >> /etc/motd
rm /etc/doomed
rm -r /etc/gone-dir
rm -r /etc/replaced-dir
mkdir /etc/replaced-dir
echo fresh > /etc/replaced-dir/new
mkdir -p /data/sub
echo deep > /data/sub/f
chown 1234:1234 /data/sub/f
ln -s /etc/new /data/link
ln /data/sub/f /data/hard
mv /usr/share/keep /usr/share/moved
mv /opt/lowerdir /opt/renamed
echo renamed >> /opt/renamed/inner/file'

# Prints the state those changes leave, one line each.
PROBE='echo "root=$(rootfstype)"
cat /etc/new
cat /etc/motd
test -e /etc/doomed && echo doomed-still-there || echo doomed-gone
test -e /etc/gone-dir && echo gone-dir-still-there || echo gone-dir-gone
echo replaced-dir: $(ls /etc/replaced-dir) $(cat /etc/replaced-dir/*)
cat /data/sub/f
stat -c "owner=%u:%g links=%h" /data/sub/f
readlink /data/link
test -e /usr/share/keep && echo keep-still-there || cat /usr/share/moved
test -e /opt/lowerdir && echo lowerdir-still-there || cat /opt/renamed/inner/file'

EXPECTED_STATE='root=fuse.unionfuse
written-in-container
base motd
appended
doomed-gone
gone-dir-gone
replaced-dir: new fresh
deep
owner=1234:1234 links=2
/etc/new
keep
inner
renamed'

step_run_writes_and_deletes() {
        local out
        out=$(pm run --name uft-changes localhost/uftest:base sh -c "$CHANGES
$PROBE")
        expect_eq "the container's view" "root=fuse.unionfuse
$EXPECTED_STATE" "$out"
}

# The daemon behind a running container, seen from the host.
step_daemon_while_running() {
        local upper pids pid argv out merged
        pm run -d --name uft-live localhost/uftest:base sleep 600 > /dev/null
        upper=$(pm inspect uft-live --format '{{.GraphDriver.Data.UpperDir}}')
        [ -d "$upper" ] || fail "no upper directory [$upper]"
        pids=$(pids_with "upperdir=$upper")
        [ -n "$pids" ] || fail "no unionfuse daemon has upperdir=$upper in its argv"
        for pid in $pids; do
                [ "$(readlink "/proc/$pid/exe")" = "$MP" ] || fail "process $pid is not $MP"
        done
        pid=${pids%% *}
        argv=$(tr '\0' ' ' < "/proc/$pid/cmdline")
        echo "# $MODE: the daemon of a running container: $argv"
        case $argv in "$MP -o lowerdir="*",upperdir=$upper,workdir="*) ;;
        *) fail "unexpected argv: $argv" ;; esac
        # The daemon got the test's environment (so its sanitizer reports
        # would land in the scratch directory).
        tr '\0' '\n' < "/proc/$pid/environ" | grep -xF "${SAN_ENV[0]}" > /dev/null ||
                fail "the daemon lacks ${SAN_ENV[0]}"
        # Its mount, where podman put it (rootless: in podman's namespace),
        # and what the daemon says of it: only unionfuse answers `layers`.
        if [ "$MODE" = rootless ]; then
                out=$(in_userns sh -c 'm=$(podman mount uft-live) && findmnt -n -o FSTYPE -M "$m" &&
                        "$0" layers "$m"' "$MP")
        else
                merged=$(pm mount uft-live)
                out=$(findmnt -n -o FSTYPE -M "$merged" && "$MP" layers "$merged")
        fi
        echo "$out" >> "$LOG"
        expect_eq "fs type of podman mount" fuse.unionfuse "$(head -n 1 <<< "$out")"
        grep -qE "^unionfuse at .*/merged: [0-9]+ layers, top first\$" <<< "$out" ||
                fail "unionfuse layers does not know the mount: $out"
        grep -qE "^  upper +$upper " <<< "$out" || fail "unionfuse layers shows another upper: $out"
        out=$(pm exec uft-live sh -c 'echo via-exec > /tmp/x && cat /tmp/x && rootfstype')
        expect_eq "podman exec" "via-exec
fuse.unionfuse" "$out"
        expect_eq "written through the mount" via-exec "$(cat "$upper/tmp/x")"
        [ "$MODE" = root ] && pm umount uft-live > /dev/null
        pm rm -f -t 0 uft-live > /dev/null
        for _ in $(seq 50); do
                [ -z "$(pids_with "upperdir=$upper")" ] && break
                sleep 0.1
        done
        [ -z "$(pids_with "upperdir=$upper")" ] || fail "the daemon outlived its container"
}

step_commit_and_run() {
        local out
        pm commit -q uft-changes localhost/uftest:v2 > /dev/null
        out=$(pm run --rm localhost/uftest:v2 sh -c "$PROBE")
        expect_eq "the committed image" "$EXPECTED_STATE" "$out"
}

step_build_with_run_step() {
        local ctx=$MH/ctx out
        mkdir -p "$ctx"
        cat > "$ctx/Containerfile" <<'EOF'
FROM localhost/uftest:v2
RUN echo "run-step: $(cat /etc/new) on $(rootfstype)" | tee /built && rm /data/hard && echo again >> /etc/motd
CMD ["cat", "/built"]
EOF
        chmod -R a+rX "$ctx"
        out=$(pm build --network=none -t localhost/uftest:v3 "$ctx")
        grep -qxF "run-step: written-in-container on fuse.unionfuse" <<< "$out" ||
                fail "the RUN step's output is not in the build log"
        expect_eq "the image's CMD" "run-step: written-in-container on fuse.unionfuse" \
                "$(pm run --rm localhost/uftest:v3)"
        out=$(pm run --rm localhost/uftest:v3 sh -c \
                'rootfstype; cat /etc/motd; test -e /data/hard || echo hard-gone; cat /data/sub/f /etc/new')
        expect_eq "the built image" "fuse.unionfuse
base motd
appended
again
hard-gone
deep
written-in-container" "$out"
}

# Issue 7: unionfuse commit --image appends the upper layer to an OCI layout
# that skopeo copies into podman's storage.
step_unionfuse_commit_image_skopeo() {
        local lay=$MH/layout upper out
        # shellcheck source=../image/oci.sh
        . "$HERE/../image/oci.sh"
        cp "$W/busybox.tar" "$MH/base.tar"
        oci_add_image "$lay" base "$MH/base.tar" > /dev/null
        [ "$MODE" = rootless ] && chown -R "$TEST_USER:" "$lay"
        skopeo_copy "oci:$lay:base" containers-storage:localhost/uftoci:base
        out=$(pm run --name uft-oci localhost/uftoci:base sh -c 'set -e
                rootfstype
                echo from-oci > /etc/oci-new
                rm /etc/doomed
                echo oci-append >> /etc/motd
                mkdir /app
                echo app > /app/file
                chown 1234:1234 /app/file
                rm -r /etc/gone-dir /etc/replaced-dir
                mkdir /etc/replaced-dir
                echo fresh > /etc/replaced-dir/new')
        expect_eq "the container's root" fuse.unionfuse "$out"
        upper=$(pm inspect uft-oci --format '{{.GraphDriver.Data.UpperDir}}')
        in_userns "$MP" commit "$upper" -o "$MH/home/layer.tar" --image "$lay:base" --tag v2 > /dev/null
        grep -q '"org.opencontainers.image.ref.name":"v2"' "$lay/index.json" ||
                fail "no v2 in the layout's index.json"
        skopeo_copy "oci:$lay:v2" containers-storage:localhost/uftoci:v2
        expect_eq "layers of the image" 2 "$(pm image inspect localhost/uftoci:v2 --format '{{len .RootFS.Layers}}')"
        out=$(pm run --rm localhost/uftoci:v2 sh -c 'rootfstype; cat /etc/oci-new /etc/motd /app/file
                test -e /etc/doomed && echo doomed-still-there || echo doomed-gone; ls /opt/lowerdir/inner
                stat -c %u:%g /app/file; ls /etc/gone-dir 2>&1; ls /etc/replaced-dir')
        expect_eq "the image written by unionfuse commit" "fuse.unionfuse
from-oci
base motd
oci-append
app
doomed-gone
file
1234:1234
ls: /etc/gone-dir: No such file or directory
new" "$out"
}

# podman cleans up after itself: no daemon of this mode left, nothing mounted.
step_reset() {
        pm rm -a -f -t 0 > /dev/null
        pm system reset -f > /dev/null
        for _ in $(seq 50); do
                [ -z "$(pids_with "$MP")" ] && break
                sleep 0.1
        done
        [ -z "$(pids_with "$MP")" ] || fail "unionfuse daemons left after podman system reset: $(pids_with "$MP")"
        [ -z "$(mounts_below "$MH")" ] || fail "mounts left: $(mounts_below "$MH")"
        [ ! -e "$MH/home/graph/overlay" ] || fail "storage left in $MH/home/graph"
}

# --- main --------------------------------------------------------------------

echo "# unionfuse: $UF ($("$UF" --version)), podman $(podman --version 2>/dev/null | awk '{print $3}'), scratch $W"
missing=
for tool in podman runc skopeo conmon newuidmap newgidmap findmnt runuser; do
        command -v "$tool" > /dev/null || missing="$missing $tool"
done
[ -x /bin/busybox ] || missing="$missing busybox-static"
if [ -n "$missing" ]; then
        echo "not ok - tools: missing$missing (tools/install-deps.sh installs them)"
        echo "0 passed, 1 failed"
        exit 1
fi
echo '{"default":[{"type":"insecureAcceptAnything"}]}' > "$W/policy.json"
chmod 0644 "$W/policy.json"
make_rootfs

for MODE in $MODES; do
        mode_vars
        MODE_BROKEN=
        : > "$LOG"
        [ "$MODE" = rootless ] && ensure_user
        INITIALIZED_MODES+=("$MODE")
        step "podman uses unionfuse as mount_program" step_configure
        step "import a rootfs tarball" step_import
        step "run a container that writes and deletes" step_run_writes_and_deletes
        step "the daemon behind a running container" step_daemon_while_running
        step "commit, run the committed image" step_commit_and_run
        step "build with a RUN step" step_build_with_run_step
        step "unionfuse commit --image, skopeo copy, run" step_unionfuse_commit_image_skopeo
        step "system reset leaves no daemon, no mount" step_reset
done

reports=$(ls "$W/asan" 2>/dev/null || true)
if [ -z "$reports" ]; then
        echo "ok - no sanitizer report from any daemon"
        PASSED=$((PASSED + 1))
else
        echo "not ok - sanitizer reports from the daemons: $(echo $reports)"
        for r in $reports; do head -n 40 "$W/asan/$r" | sed 's/^/#   /'; done
        FAILED=$((FAILED + 1))
fi
echo "# time: $(since "$START") s"
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
