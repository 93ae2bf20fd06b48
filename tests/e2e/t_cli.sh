#!/bin/bash
# The command lines of DESIGN.md section 8, as they are written there.
. "$(dirname "$0")/lib.sh"

# base/f "base", base/b-only; app/f "app", app/a-only.
two_layers() {
        BASE=$(mkd base) APP=$(mkd app) M=$(mkd m)
        echo base > "$BASE/f"
        echo app > "$APP/f"
        touch "$BASE/b-only" "$APP/a-only"
        track_lower "$BASE" "$APP"
        track_mount "$M"
}

# The options the kernel shows for the mount on MNT.
mount_flags() {         # MNT
        awk -v m="$1" '$5 == m { print $6 }' /proc/self/mountinfo
}

test_mount_form_takes_layers_base_first() {
        two_layers
        uf_run mount --upper "$T/up" "$BASE" "$APP" "$M"
        expect_eq "exit status ($ERR)" 0 "$RC"
        expect_content "$M/f" app
        expect_eq "listing" "a-only b-only f" "$(names "$M")"
        echo new > "$M/new"
        expect_content "$T/up/new" new
        expect_exists "$T/up.work" "default work dir U.work"
}

test_mount_form_with_work_and_foreground() {
        two_layers
        mkdir "$T/up" "$T/wk"
        "$UF" mount -f --upper "$T/up" --work "$T/wk" "$BASE" "$APP" "$M" 2> "$T/fg.err" &
        local pid=$! i
        for i in $(seq 50); do mountpoint -q "$M" && break; sleep 0.1; done
        mountpoint -q "$M" || fail "not mounted with -f: $(cat "$T/fg.err")"
        kill -0 "$pid" 2>/dev/null || fail "-f did not stay in the foreground"
        echo x > "$M/x"
        expect_content "$T/up/x" x
        expect_absent "$T/up.work" "U.work when --work is given"
        unmount "$M"
        local status=0
        wait "$pid" || status=$?
        expect_eq "foreground exit status after unmount" 0 "$status"
}

test_paths_with_spaces_work_in_the_mount_form() {
        local base="$T/base layer" upper="$T/upper dir" m="$T/mount point"
        mkdir -p "$base/a dir" "$m"
        echo x > "$base/a dir/a file"
        track_lower "$base"
        track_mount "$m"
        uf_run mount --upper "$upper" "$base" "$m"
        expect_eq "exit status ($ERR)" 0 "$RC"
        expect_content "$m/a dir/a file" x
        echo y >> "$m/a dir/a file"
        expect_content "$upper/a dir/a file" "$(printf 'x\ny')"
}

test_mount_form_without_upper_is_read_only() {
        two_layers
        uf_run mount "$BASE" "$APP" "$M"
        expect_eq "exit status ($ERR)" 0 "$RC"
        expect_content "$M/f" app
        expect_eq "write" EROFS "$(sysop create "$M/new")"
        expect_match "ro in mount flags" '(^|,)ro(,|$)' "$(mount_flags "$M")"
}

test_init_layer_sits_between_image_and_upper() {
        two_layers
        local init
        init=$(mkd init)
        echo init > "$init/f"
        echo hosts > "$init/hosts"
        track_lower "$init"
        uf_run mount --upper "$T/up" --init "$init" "$BASE" "$APP" "$M"
        expect_eq "exit status ($ERR)" 0 "$RC"
        expect_content "$M/f" init
        expect_content "$M/hosts" hosts
        expect_content "$M/a-only" ""
        echo changed > "$M/hosts"
        expect_content "$M/hosts" changed
        expect_content "$T/up/hosts" changed
        echo upper > "$M/f"
        expect_content "$T/up/f" upper
}

test_lowerdir_form_takes_layers_top_first() {
        two_layers
        mkdir "$T/up" "$T/wk"
        uf_run -o "lowerdir=$APP:$BASE,upperdir=$T/up,workdir=$T/wk" "$M"
        expect_eq "exit status ($ERR)" 0 "$RC"
        expect_content "$M/f" app
        echo new > "$M/new"
        expect_content "$T/up/new" new
}

test_source_mnt_form_with_rw_dev_suid() {
        two_layers
        mkdir "$T/up" "$T/wk"
        uf_run overlay "$M" -o "rw,lowerdir=$APP:$BASE,upperdir=$T/up,workdir=$T/wk,dev,suid"
        expect_eq "exit status ($ERR)" 0 "$RC"
        expect_content "$M/f" app
        local flags
        flags=$(mount_flags "$M")
        expect_eq "nodev/nosuid in '$flags'" "" "$(echo "$flags" | tr ',' '\n' | grep -x -e nodev -e nosuid)"
        mknod "$M/null" c 1 3
        expect_ok "a device node works with dev" sh -c "echo x > '$M/null'"
}

test_empty_items_trailing_comma_and_volatile_are_accepted() {
        two_layers
        mkdir "$T/up" "$T/wk"
        uf_run -o "lowerdir=$APP:$BASE,upperdir=$T/up,workdir=$T/wk,,volatile," "$M"
        expect_eq "exit status ($ERR)" 0 "$RC"
        expect_content "$M/f" app
        echo new > "$M/new"
        expect_content "$T/up/new" new
}

test_quoted_comma_in_context_stays_one_option() {
        two_layers
        mkdir "$T/up" "$T/wk"
        uf_run -o "lowerdir=$APP:$BASE,context=\"system_u:object_r:container_file_t:s0:c1,c2\",upperdir=$T/up,workdir=$T/wk" "$M"
        expect_eq "exit status ($ERR)" 0 "$RC"
        expect_eq "warnings (an SELinux label is ignored quietly)" "" "$ERR"
        echo new > "$M/new"
        expect_content "$T/up/new" new
}

# What containers/storage hands its mount_program for a tall image: short
# relative links l/ID (resolved from the working directory it sets), 500 of
# them, an SELinux label with a quoted comma, volatile, an empty item.
test_mount_program_args_of_a_500_layer_image() {
        local i lowerdir=""
        M=$(mkd m)
        track_mount "$M"
        mkdir -p "$T/store/l" "$T/store/up" "$T/store/wk"
        for i in $(seq -w 1 500); do
                mkdir -p "$T/store/layer-$i/diff/shared"
                echo "$i" > "$T/store/layer-$i/diff/shared/only-$i"
                echo "$i" > "$T/store/layer-$i/diff/who"
                ln -s "../layer-$i/diff" "$T/store/l/ID$i"
                lowerdir=l/ID$i${lowerdir:+:$lowerdir}
        done
        track_lower "$T/store/layer-001/diff" "$T/store/layer-500/diff"
        RC=0
        ERR=$(cd "$T/store" && "$UF" -o "lowerdir=$lowerdir,upperdir=$T/store/up,workdir=$T/store/wk,,volatile,context=\"system_u:object_r:container_file_t:s0:c1,c2\"" "$M" 2>&1) || RC=$?
        expect_eq "exit status ($ERR)" 0 "$RC"
        mountpoint -q "$M" || fail "not mounted when the command returned"
        expect_eq "entries in the merged dir" 500 "$(ls "$M/shared" | wc -l)"
        expect_content "$M/who" 500
        echo changed > "$M/who"
        expect_content "$T/store/up/who" changed
}

test_version_prints_name_and_version() {
        uf_run --version
        expect_eq "exit status" 0 "$RC"
        expect_match "output" '^unionfuse.* [0-9]+\.[0-9]+\.[0-9]+' "$OUT"
}

test_help_shows_the_command_forms() {
        uf_run --help
        expect_eq "exit status" 0 "$RC"
        local word
        for word in mount umount lowerdir --upper --work; do
                expect_match "--help mentions $word" "$word" "$OUT"
        done
}

test_umount_subcommand_unmounts_and_stops_daemon() {
        two_layers
        uf_run mount "$BASE" "$M"
        expect_eq "mount exit status ($ERR)" 0 "$RC"
        local pid
        pid=$(daemon_pid "$M") || true
        uf_run umount "$M"
        expect_eq "umount exit status ($ERR)" 0 "$RC"
        mountpoint -q "$M" && fail "still mounted after unionfuse umount"
        local i
        for i in $(seq 50); do alive "$pid" || break; sleep 0.1; done
        alive "$pid" && fail "daemon $pid still running 5s after umount"
        uf_run umount "$M"
        [ "$RC" -ne 0 ] || fail "umount of something not mounted succeeded"
}

test_mount_t_fuse_runs_the_source_mnt_form() {
        two_layers
        command -v mount.fuse3 >/dev/null || skip "no mount.fuse3"
        mkdir "$T/up" "$T/wk"
        local err
        # mount.fuse3 runs "PROGRAM SOURCE MNT -o OPTS" for a source PROGRAM#SOURCE
        err=$(mount -t fuse "$(readlink -f "$UF")#overlay" "$M" \
                -o "rw,lowerdir=$APP:$BASE,upperdir=$T/up,workdir=$T/wk,dev,suid" 2>&1) ||
                fail "mount -t fuse failed: $err"
        expect_content "$M/f" app
        echo new > "$M/new"
        expect_content "$T/up/new" new
}

run_tests
