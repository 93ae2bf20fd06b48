# scratchfs.sh: where a run writes: an ext4 filesystem made afresh for each mount.
#
# The upper and work dirs of a mount (and native's copy of a tree) are in the
# data dir of its system, WORKDIR/run/SYS/data. With --upper-fs workdir that is
# a plain directory of the filesystem WORKDIR is on; a write workload then pays
# for the ones before it, whatever the system: ext4 does not hand out an inode
# it freed in the last minutes (recently_deleted, in its inode allocator), so
# after an rm -rf of 20k files every new file's allocation scans past them. On
# the 2-CPU VM, 20k creates in a plain directory of /var/tmp took 0.48, 1.61
# and 2.59 s in three runs with an rm -rf between them, and kernel overlayfs'
# create 0.64 s cold and 5.05 s fresh in one benchmark run, as the systems
# taking turns inherited each other's deletions.
#
# With --upper-fs scratch (the default where it can be had) the data dir is a
# new ext4 at every mount: on a loop device with direct I/O (no second page
# cache under the first) over a sparse image, WORKDIR/run/SYS.img, that
# mkfs.ext4's discard empties again. Making one takes some 0.04 s.
# shellcheck shell=bash

SCRATCH_IMAGE_SIZE=${SCRATCH_IMAGE_SIZE:-8G}

data_dir() { echo "$WORKDIR/run/$1/data"; }

# UPPER_FS=auto becomes scratch when a trial filesystem can be made, else workdir
# (with a note); UPPER_FS=scratch dies if it cannot.
choose_upper_fs() {
    local why
    [ "$UPPER_FS" = workdir ] && return 0
    if why=$(scratch_fs_trial); then
        UPPER_FS=scratch
    elif [ "$UPPER_FS" = scratch ]; then
        die "--upper-fs scratch: $why"
    else
        note "upper layers in $WORKDIR, not on a scratch filesystem: $why"
        UPPER_FS=workdir
    fi
}

scratch_fs_trial() {
    local t
    for t in losetup mkfs.ext4; do
        command -v "$t" >/dev/null || { echo "$t not found (apt-get install mount e2fsprogs)"; return 1; }
    done
    mkdir -p "$WORKDIR/run/trial-fs"
    scratch_fs_make "$WORKDIR/run/trial-fs" "$WORKDIR/run/trial-fs.img" || return 1
    scratch_fs_drop "$WORKDIR/run/trial-fs"
    rm -rf "$WORKDIR/run/trial-fs" "$WORKDIR/run/trial-fs.img"
}

# An empty DIR for the next mount of SYS, with upper/ and work/ in it.
fresh_data_dir() {
    local d
    d=$(data_dir "$1")
    if [ "$UPPER_FS" = scratch ]; then
        mkdir -p "$d" && scratch_fs_make "$d" "$WORKDIR/run/$1.img" >&2 || return 1
    else
        rm -rf "$d"
    fi
    mkdir -p "$d/upper" "$d/work"
}

# A new ext4 mounted at DIR (the one there before unmounted), on a loop device
# over IMG; prints why not, and returns 1, if it cannot be had.
scratch_fs_make() {
    local dir=$1 img=$2 dev err
    scratch_fs_drop "$dir" || { echo "cannot unmount $dir"; return 1; }
    [ -e "$img" ] || truncate -s "$SCRATCH_IMAGE_SIZE" "$img" || { echo "cannot create $img"; return 1; }
    dev=$(losetup -f --show --direct-io=on "$img" 2>&1) || { echo "losetup: $dev"; return 1; }
    # noinit_itable: no kernel thread zeroing inode tables in the background of a run
    if ! err=$(mkfs.ext4 -q -F "$dev" 2>&1 && mount -o noinit_itable "$dev" "$dir" 2>&1); then
        losetup -d "$dev"
        echo "cannot make an ext4 on $dev: $err"
        return 1
    fi
    losetup -d "$dev"    # detached once unmounted (autoclear)
}

scratch_fs_drop() {
    is_mounted "$1" || return 0
    umount "$1"
}
