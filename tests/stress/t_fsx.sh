#!/bin/bash
# Data integrity of one file through the mount, fsx style (unionfuse-fsx):
# random reads, writes, truncates, mmap reads and writes, fallocate (hole
# punching, keep-size, zero range), copy_file_range and fsync on a file that
# starts in a lower layer, checked against an in-memory model after every
# operation, against the upper layer's copy on disk too, and once more after
# a remount.
#
# Knobs: STRESS_FSX_SEEDS (the seeds of the main test, default "1 2 3"),
# STRESS_FSX_OPS (operations per seed, default 4000).

source "$(dirname "$0")/stress_lib.sh"

FSX_SEEDS=${STRESS_FSX_SEEDS:-1 2 3}
FSX_OPS=${STRESS_FSX_OPS:-4000}

# The layers of one fsx run: the file deep in the base layer (its parents
# are copied up with it), a second layer above holding other things.
fsx_layers() {  # DIR
        mkdir -p "$1/base/usr/share/db" "$1/app/usr/share" "$1/upper"
        echo app > "$1/app/usr/share/readme"
}

# One seed: init in the lower layer, run through the mount, then unmount,
# remount and check the file through the mount and in the upper layer.
# Extra fsx options (size, base offset) follow the seed.
fsx_seed() {    # SEED FSX-OPTION...
        local seed=$1 dir out rc rel=usr/share/db/data
        shift
        dir=$(mkd "seed$seed")
        fsx_layers "$dir"
        fsx init -S "$seed" "$@" "$dir/base/$rel"
        uf_mount "$dir/m" "$dir/upper" "$dir/base" "$dir/app"
        rc=0
        out=$(fsx run -q -S "$seed" -N "$FSX_OPS" -L 40 "$@" -u "$dir/upper/$rel" \
                -w "$dir/model" "$dir/m/$rel" 2>&1) || rc=$?
        if [ "$rc" -ne 0 ]; then
                note "$out"
                note "reproduce: unionfuse-fsx init -S $seed $* LOWER/$rel; mount; unionfuse-fsx run -S $seed -N $FSX_OPS $* -u UPPER/$rel MNT/$rel"
                fail "fsx seed $seed (options: $*): $(echo "$out" | grep -m1 -e MISMATCH -e FAILED -e unionfuse-fsx)"
        fi
        unmount "$dir/m"
        uf_mount "$dir/m" "$dir/upper" "$dir/base" "$dir/app"
        out=$(fsx verify "$@" "$dir/m/$rel" "$dir/model" 2>&1) ||
                fail "seed $seed: after a remount, the merged file: $out"
        out=$(fsx verify "$@" "$dir/upper/$rel" "$dir/model" 2>&1) ||
                fail "seed $seed: after a remount, the upper copy: $out"
        expect_eq "seed $seed: the app layer's file" app "$(cat "$dir/m/usr/share/readme")"
        unmount "$dir/m"
        expect_work_clean "$dir/upper"
}

test_fsx_random_ops_on_copied_up_file_match_model_across_seeds() {
        local seed start=$SECONDS
        for seed in $FSX_SEEDS; do
                fsx_seed "$seed"
        done
        note "seeds $FSX_SEEDS, $FSX_OPS operations each, files up to 256 KiB: $(since "$start")s"
}

# Operations of up to 2 MiB on a file of up to 8 MiB: writes larger than
# one FUSE request (max_write is 1 MiB), a copy-up of several megabytes.
test_fsx_big_operations_span_several_fuse_requests() {
        FSX_OPS=$((FSX_OPS / 8)) fsx_seed 101 -l 8M -o 2M
}

# The play area starts at 5 GiB: offsets past 4 GiB, and a lower file that
# is almost all hole, which the copy-up must keep a hole.
test_fsx_beyond_4gib_in_sparse_file() {
        local dir
        FSX_OPS=$((FSX_OPS / 2)) fsx_seed 202 -b 5G
        dir=$T/seed202
        [ "$(du -k "$dir/upper/usr/share/db/data" | cut -f1)" -lt $((64 * 1024)) ] ||
                fail "the copied-up sparse file takes $(du -k "$dir/upper/usr/share/db/data" | cut -f1) KiB on disk"
}

# A descriptor opened read-only before the copy-up is still the same file:
# POSIX wants reads through it to see what was written through another
# descriptor since (kernel overlayfs does so). unionfuse serves such a
# descriptor from the lower file it opened, so it reads the old data.
test_fsx_reader_opened_before_copyup_sees_later_writes() {
        local dir out rc=0 rel=f
        dir=$(mkd early)
        mkdir -p "$dir/base" "$dir/upper"
        fsx init -S 303 "$dir/base/$rel"
        uf_mount "$dir/m" "$dir/upper" "$dir/base"
        out=$(fsx run -q -R -S 303 -N 400 -L 10 -u "$dir/upper/$rel" "$dir/m/$rel" 2>&1) || rc=$?
        if [ "$rc" -ne 0 ]; then
                note "$out"
                fail "a reader opened before the copy-up: $(echo "$out" | grep -m1 -e MISMATCH -e FAILED)"
        fi
}

run_tests
