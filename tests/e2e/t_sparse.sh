#!/bin/bash
# Holes survive copy-up, and big sparse files read right at high offsets.
. "$(dirname "$0")/lib.sh"

test_sparse_1gib_lower_file_stays_sparse_after_copy_up() {
        local base upper blocks
        base=$(mkd base) upper=$(mkd upper)
        truncate -s 1G "$base/sparse"
        printf 'head' | dd of="$base/sparse" conv=notrunc status=none
        printf 'middle' | dd of="$base/sparse" bs=1M seek=512 conv=notrunc status=none
        uf_mount "$T/m" "$upper" "$base"
        printf 'z' >> "$T/m/sparse"
        expect_eq "size through the mount" $(((1 << 30) + 1)) "$(stat -c %s "$T/m/sparse")"
        expect_eq "last byte" z "$(tail -c 1 "$T/m/sparse")"
        unmount "$T/m"
        expect_eq "size in upper" $(((1 << 30) + 1)) "$(stat -c %s "$upper/sparse")"
        blocks=$(stat -c %b "$upper/sparse")
        [ "$blocks" -lt $((16 << 11)) ] ||
                fail "upper copy is not sparse: $blocks blocks of 512 bytes ($(du -h "$upper/sparse" | cut -f1))"
        expect_eq "data at 0" head "$(head -c 4 "$upper/sparse")"
        expect_eq "data at 512 MiB" middle "$(dd if="$upper/sparse" bs=1M skip=512 count=1 status=none | head -c 6)"
        cp --sparse=always "$base/sparse" "$T/expected"
        printf 'z' >> "$T/expected"
        expect_ok "whole content" cmp "$T/expected" "$upper/sparse"
}

test_file_over_4gib_reads_and_writes_at_high_offsets() {
        local base upper
        base=$(mkd base) upper=$(mkd upper)
        truncate -s 5G "$base/huge"
        printf 'far' | dd of="$base/huge" bs=1M seek=$((4608)) conv=notrunc status=none
        uf_mount "$T/m" "$upper" "$base"
        expect_eq "size" $((5 << 30)) "$(stat -c %s "$T/m/huge")"
        expect_eq "data at 4.5 GiB" far "$(dd if="$T/m/huge" bs=1M skip=4608 count=1 status=none | head -c 3)"
        printf 'near-end' | dd of="$T/m/huge" bs=1 seek=$(((5 << 30) - 8)) conv=notrunc status=none
        expect_eq "write near the end" near-end "$(tail -c 8 "$T/m/huge")"
        expect_eq "size after the write" $((5 << 30)) "$(stat -c %s "$T/m/huge")"
        [ "$(stat -c %b "$upper/huge")" -lt $((16 << 11)) ] || fail "upper copy of a 5 GiB sparse file is not sparse"
}

# Lower and upper layers on two filesystems (an image's layers on one, the
# upper on a tmpfs): copy_file_range cannot cross them, and copy-up splices
# each data extent instead (fs/copyup.c copy_range_splice), keeping holes.
test_copy_up_across_filesystems_keeps_data_and_holes() {
        local base upper
        base=$(mkd base) upper=$T/tmpfs/upper
        mkdir -p "$T/tmpfs"
        mount -t tmpfs -o size=64m tmpfs "$T/tmpfs" || skip "cannot mount a tmpfs"
        track_mount "$T/tmpfs"
        mkdir "$upper"
        truncate -s 48M "$base/sparse"
        head -c 300000 /dev/urandom | dd of="$base/sparse" conv=notrunc status=none
        head -c 5000 /dev/urandom | dd of="$base/sparse" bs=1M seek=40 conv=notrunc status=none
        head -c $((3 << 20)) /dev/urandom > "$base/dense"
        uf_mount "$T/m" "$upper" "$base"
        chmod 600 "$T/m/sparse" "$T/m/dense"
        expect_ok "sparse file's data" cmp "$base/sparse" "$upper/sparse"
        expect_ok "dense file's data" cmp "$base/dense" "$upper/dense"
        [ "$(stat -c %b "$upper/sparse")" -lt $((4 << 11)) ] ||
                fail "the copy across filesystems is not sparse: $(du -h "$upper/sparse" | cut -f1)"
}

run_tests
