# systems.sh: the systems under test: is it there, mount, unmount, its daemon.
#
#   native          the merged tree as a plain directory (no union at all)
#   overlay         kernel overlayfs, the reference for ratios
#   fuse-overlayfs  fuse-overlayfs (libfuse3)
#   unionfs-fuse    unionfs-fuse in cow mode (libfuse2)
#   unionfuse       this project, $UNIONFUSE_BIN
#
# Extra mount options: $OVERLAY_OPTS (kernel overlayfs), $UNIONFUSE_OPTS
# (say metacopy=on and metacopy, for the metadata-only copy-up of both).
#
# Each system has its run dir $WORKDIR/run/SYS/ with mnt/, mount.log and data/:
# upper/, work/ and, for native, scratch/ (a copy of the flat tree for workloads
# that write), on a filesystem made afresh for every mount (scratchfs.sh).
# shellcheck shell=bash

ALL_SYSTEMS="native overlay fuse-overlayfs unionfs-fuse unionfuse"
UNIONFUSE_BIN=${UNIONFUSE_BIN:-/work/main/build/unionfuse}

run_dir() { echo "$WORKDIR/run/$1"; }
mnt_dir() { echo "$WORKDIR/run/$1/mnt"; }

# Prints why SYS cannot run (and returns 1), or nothing.
system_missing() {
    case $1 in
    native) ;;
    overlay)
        grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
            { echo "kernel overlayfs not available (modprobe overlay)"; return 1; } ;;
    fuse-overlayfs)
        command -v fuse-overlayfs >/dev/null ||
            { echo "fuse-overlayfs not installed (apt-get install fuse-overlayfs)"; return 1; }
        fuse_missing || return 1 ;;
    unionfs-fuse)
        command -v unionfs >/dev/null ||
            { echo "unionfs not installed (apt-get install unionfs-fuse)"; return 1; }
        fuse_missing || return 1 ;;
    unionfuse)
        [ -x "$UNIONFUSE_BIN" ] ||
            { echo "$UNIONFUSE_BIN not built (cmake -B build && cmake --build build)"; return 1; }
        fuse_missing || return 1
        unionfuse_trial_mount || return 1 ;;
    *) echo "unknown system (known: $ALL_SYSTEMS)"; return 1 ;;
    esac
    return 0
}

fuse_missing() {
    [ -c /dev/fuse ] || { echo "/dev/fuse missing (modprobe fuse)"; return 1; }
}

# The binary exists, but does it mount? Try on two tiny layers.
unionfuse_trial_mount() {
    local d=$WORKDIR/run/trial m
    rm -rf "$d"
    mkdir -p "$d/L0" "$d/L1" "$d/upper" "$d/work" "$d/mnt"
    echo base >"$d/L0/a"; echo top >"$d/L1/b"
    m=$d/mnt
    if ! timeout 20 "$UNIONFUSE_BIN" -o "lowerdir=$d/L1:$d/L0,upperdir=$d/upper,workdir=$d/work" "$m" \
        >"$d/log" 2>&1 || ! wait_mounted "$m" || [ "$(cat "$m/a" "$m/b" 2>/dev/null)" != "$(printf 'base\ntop')" ]; then
        echo "$UNIONFUSE_BIN does not mount yet: $(head -c 200 "$d/log" | tr '\n' ' ')"
        unmount_dir "$m"
        return 1
    fi
    unmount_dir "$m"
    rm -rf "$d"
}

is_mounted() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts; }

wait_mounted() {
    local i
    for ((i = 0; i < 100; i++)); do
        is_mounted "$1" && return 0
        sleep 0.1
    done
    return 1
}

# Unmount (politely, then lazily) and wait for the FUSE daemon, if any, to exit.
unmount_dir() {
    local m=$1 pid i
    is_mounted "$m" || return 0
    pid=$(daemon_pid "$m")
    for ((i = 0; i < 20; i++)); do
        umount "$m" 2>/dev/null && break
        sleep 0.25
    done
    is_mounted "$m" && { note "lazy unmount of $m"; umount -l "$m"; }
    for ((i = 0; i < 300 && ${#pid}; i++)); do
        daemon_alive "$pid" || return 0
        sleep 0.1
    done
    [ -z "$pid" ] || note "daemon $pid of $m still running 30 s after the unmount"
}

unmount_all() {
    local m
    awk -v w="$WORKDIR/run/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r |
        while read -r m; do unmount_dir "$m"; done
}


# Make TREE available through SYS and print the directory workloads run in.
# COPY (native only): none = use flat/ as is; link = hard-linked scratch copy
# (the workload only adds or removes names; a real copy on a scratch
# filesystem, which the tree is not on); full = real copy (it writes data).
system_up() {
    local sys=$1 tree=$2 copy=$3 r d m t
    r=$(run_dir "$sys") d=$(data_dir "$sys") m=$(mnt_dir "$sys") t=$(tree_dir "$tree")
    mkdir -p "$m"
    fresh_data_dir "$sys" || return 1
    [ "$sys" = native ] && { native_target "$t" "$d" "$copy"; return; }
    case $sys in
    overlay) (cd "$t/layers" && mount -t overlay overlay \
        -o "lowerdir=$(relative_lowerdirs "$tree"),upperdir=$d/upper,workdir=$d/work${OVERLAY_OPTS:+,$OVERLAY_OPTS}" "$m") ;;
    fuse-overlayfs) fuse-overlayfs \
        -o "lowerdir=$(tree_lowerdirs "$tree"),upperdir=$d/upper,workdir=$d/work" "$m" ;;
    unionfs-fuse) unionfs -o cow,allow_other "$(unionfs_branches "$tree" "$d/upper")" "$m" ;;
    unionfuse) "$UNIONFUSE_BIN" \
        -o "lowerdir=$(tree_lowerdirs "$tree"),upperdir=$d/upper,workdir=$d/work${UNIONFUSE_OPTS:+,$UNIONFUSE_OPTS}" "$m" ;;
    esac >"$r/mount.log" 2>&1 || { cat "$r/mount.log" >&2; return 1; }
    wait_mounted "$m" || { note "$sys: $m did not appear"; return 1; }
    echo "$m"
}

system_down() {
    [ "$1" = native ] || unmount_dir "$(mnt_dir "$1")"
}

native_target() {
    local t=$1 d=$2 copy=$3
    [ "$copy" = link ] && [ "$UPPER_FS" = scratch ] && copy=full
    case $copy in
    none) echo "$t/flat" ;;
    link) cp -al "$t/flat" "$d/scratch" && echo "$d/scratch" ;;
    full) cp -a "$t/flat" "$d/scratch" && echo "$d/scratch" ;;
    esac
}

# Kernel overlayfs takes lowerdir= in one page: use names relative to layers/.
relative_lowerdirs() {
    local n k out=
    n=$(tree_nlayers "$1")
    for ((k = n - 1; k >= 0; k--)); do out+="L$k:"; done
    echo "${out%:}"
}

# unionfs-fuse: UPPER=RW:TOP=RO:...:BASE=RO
unionfs_branches() {
    local tree=$1 upper=$2
    echo "$upper=RW:$(tree_lowerdirs "$tree" | sed 's/:/=RO:/g')=RO"
}

# The FUSE daemon serving mount point $1: the process with $1 among its arguments
# (the newest one, should an earlier daemon of that mount point still be exiting).
daemon_pid() {
    local f p start best= best_start=-1
    for f in $(grep -lxFz -- "$1" /proc/[0-9]*/cmdline 2>/dev/null); do
        p=${f%/cmdline}
        [ "$(cat "$p/comm" 2>/dev/null)" = grep ] && continue
        start=$(sed 's/^.*) //' "$p/stat" 2>/dev/null | cut -d" " -f20) || continue
        [ -n "$start" ] && [ "$start" -gt "$best_start" ] && best=${p#/proc/} best_start=$start
    done
    echo "$best"
}

# Running, that is: there and not a zombie waiting for its reaper.
daemon_alive() {
    local state
    state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d" " -f1)
    [ -n "$state" ] && [ "$state" != Z ]
}

# utime + stime of PID, in clock ticks.
daemon_cpu_ticks() {
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || { echo 0; return; }
    local rest
    rest=$(sed 's/^.*) //' "/proc/$1/stat")
    set -- $rest
    echo $((${12} + ${13}))
}

daemon_hwm_kb() {
    [ -n "$1" ] && awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}
