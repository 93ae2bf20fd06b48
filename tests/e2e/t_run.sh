#!/usr/bin/env bash
# `unionfuse run`: an ordinary user runs a command inside a layered image,
# as a container, without root: the changes land in the upper layer, the
# exit status comes back, and nothing stays mounted.
source "$(dirname "$0")/lib.sh"

ensure_user() { ensure_test_user; }

as_user() {     # CMD...: run as the test user in $T, with its own TMPDIR
        su -s /bin/sh "$TEST_USER" -c "cd '$T' && TMPDIR='$T/tmp' $*"
}

# base: busybox and its applets, /etc; app: a directory of data. Made by
# root, as an image unpacked by root would be.
make_image() {
        local bb applet
        bb=$(command -v busybox) || skip "no static busybox (apt package busybox-static)"
        mkdir -p "$T/base/bin" "$T/base/etc" "$T/app/srv/old" "$T/tmp"
        cp "$bb" "$T/base/bin/busybox"
        for applet in sh ls cat echo rm mkdir hostname id kill ps sleep tr; do
                ln -s busybox "$T/base/bin/$applet"
        done
        echo base > "$T/base/etc/motd"
        echo data > "$T/app/srv/old/data"
        # What a container sees of its surroundings.
        cat > "$T/app/look" <<'SCRIPT'
hostname
tr '\0' ' ' < /proc/1/cmdline; echo
echo gone > /dev/null && ls /dev | tr '\n' ' '; echo
id -u
SCRIPT
        chmod 0755 "$T"
        chown "$TEST_USER" "$T" "$T/tmp"
        track_lower "$T/base" "$T/app"
}

nothing_left_mounted() {
        expect_eq "mounts left behind" "" "$(grep -e "$T" /proc/mounts || true)"
        expect_eq "scratch left behind" "" "$(ls -A "$T/tmp")"
}

SCRIPT='echo new > /srv/new && rm /etc/motd && rm -r /srv/old && mkdir /srv/dir &&
        ls / /srv && cat /etc/hostname && exit 3'

test_user_runs_a_script_and_its_changes_land_in_the_upper_layer() {
        ensure_user
        make_image
        local rc=0
        as_user "'$UFU' run --upper up base app -- /bin/sh -c '$SCRIPT'" > "$T/out" 2>&1 || rc=$?
        expect_eq "exit status" 3 "$rc"
        expect_eq "output" "$(printf '/:\nbin\ndev\netc\nlook\nproc\nsrv\n\n/srv:\ndir\nnew\nunionfuse')" \
                "$(cat "$T/out")"
        expect_content "$T/up/srv/new" "new"
        expect_char_whiteout "$T/up/etc/motd"
        expect_char_whiteout "$T/up/srv/old"
        nothing_left_mounted
        # The changes are there for the next run.
        as_user "'$UFU' run --upper up base app -- /bin/ls /srv /etc" > "$T/out" 2>&1 ||
                fail "second run: $(cat "$T/out")"
        expect_eq "second run" "$(printf '/etc:\nhostname\nhosts\nresolv.conf\n\n/srv:\ndir\nnew')" \
                "$(cat "$T/out")"
        nothing_left_mounted
}

test_without_upper_the_changes_are_thrown_away() {
        ensure_user
        make_image
        as_user "'$UFU' run base app -- /bin/sh -c 'rm /etc/motd && echo x > /x && ls /x'" > "$T/out" 2>&1 ||
                fail "run: $(cat "$T/out")"
        expect_eq "output" "/x" "$(cat "$T/out")"
        expect_absent "$T/up" "an upper layer in the working directory"
        expect_eq "what the layers hold" "base: bin etc; app: look srv" \
                "base: $(names "$T/base"); app: $(names "$T/app")"
        nothing_left_mounted
}

test_the_container_has_proc_dev_and_its_hostname() {
        ensure_user
        make_image
        as_user "'$UFU' run --hostname box base app -- /bin/sh /look" > "$T/out" 2>&1 ||
                fail "run: $(cat "$T/out")"
        expect_eq "hostname" "box" "$(sed -n 1p "$T/out")"
        expect_eq "process 1 is the command" "/bin/sh /look " "$(sed -n 2p "$T/out")"
        expect_eq "/dev" "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero " \
                "$(sed -n 3p "$T/out")"
        expect_eq "the user is root in the container" "0" "$(sed -n 4p "$T/out")"
        nothing_left_mounted
}

# A SIGTERM to `unionfuse run` ends the command (SIGKILL: process 1 of a
# PID namespace ignores signals it has no handler for), and the status
# says how it ended, as a shell reports it.
test_terminated_run_ends_the_command_with_128_plus_signal() {
        ensure_user
        make_image
        local rc=0
        as_user "'$UFU' run base -- /bin/sleep 60 & sleep 1; kill -TERM \$!; wait \$!" > "$T/out" 2>&1 || rc=$?
        expect_eq "exit status" 137 "$rc"
        nothing_left_mounted
}

test_missing_command_is_one_line_and_127() {
        ensure_user
        make_image
        local rc=0
        as_user "'$UFU' run base -- /bin/nothing-here" > "$T/out" 2>&1 || rc=$?
        expect_eq "exit status" 127 "$rc"
        expect_eq "message" "unionfuse: run: /bin/nothing-here: No such file or directory" "$(cat "$T/out")"
        nothing_left_mounted
}

test_missing_layer_is_refused_before_anything_runs() {
        ensure_user
        make_image
        local rc=0
        as_user "'$UFU' run base nowhere -- /bin/true" > "$T/out" 2>&1 || rc=$?
        expect_eq "exit status" 125 "$rc"
        expect_match "message" "^unionfuse: nowhere: No such file or directory$" "$(cat "$T/out")"
        nothing_left_mounted
}

test_root_runs_too() {
        make_image
        (cd "$T" && TMPDIR=$T/tmp "$UF" run --upper up base -- /bin/sh -c 'echo r > /r; id -u') > "$T/out" 2>&1 ||
                fail "run as root: $(cat "$T/out")"
        expect_eq "output" "0" "$(cat "$T/out")"
        expect_content "$T/up/r" "r"
        nothing_left_mounted
}

test_usage_errors_exit_2() {
        uf_run run base
        expect_eq "exit status without --" 2 "$RC"
        expect_match "message" "needs LAYER\.\.\. -- COMMAND" "$ERR"
        uf_run run -- /bin/true
        expect_eq "exit status without a layer" 2 "$RC"
}

run_tests
