#!/bin/bash
# unionfuse requests: the census of what the kernel asks the daemon, since
# the mount or while one command runs (fs/fuse_requests.h).
. "$(dirname "$0")/lib.sh"

# base/d/f "hello"; mounted read-only on $M unless UPPER is given.
one_file() {            # [UPPER]
        BASE=$(mkd base) M=$T/m
        mkdir "$BASE/d"
        echo hello > "$BASE/d/f"
        uf_mount "$M" "${1:-}" "$BASE"
}

# The count of KIND in a census in the text form, 0 if it is not there.
count_in() {            # KIND TEXT
        awk -v k="$1" '$1 == k { n = $2 } END { print n + 0 }' <<< "$2"
}

# What the kernel caches, the daemon never hears of: the first cat of a
# file looks up its two names and reads it once; a second asks nothing.
# Another test suite dropping the kernel's caches at the same moment can
# make the second ask again, hence three tries; with the caches broken,
# none comes out empty.
test_a_second_read_of_a_file_asks_the_daemon_nothing() {
        local try first second=""
        one_file
        uf_run requests "$M" -- cat "$M/d/f"
        expect_eq "exit status ($ERR)" 0 "$RC"
        expect_eq "the command's output" hello "$OUT"
        first=$ERR
        expect_match "first cat, header" "^unionfuse at $M: [0-9]+ requests while \`cat $M/d/f\` ran" "$first"
        expect_eq "LOOKUPs of the first cat ($first)" 2 "$(count_in LOOKUP "$first")"
        expect_eq "READs of the first cat ($first)" 1 "$(count_in READ "$first")"
        for try in 1 2 3; do
                uf_run requests "$M" -- cat "$M/d/f"
                second=$ERR
                [[ $second == *"no request while"* ]] && break
        done
        expect_eq "second cat" \
                "unionfuse at $M: no request while \`cat $M/d/f\` ran: the kernel's caches answered" \
                "$second"
}

# Each write(2) reaches the daemon as one WRITE (there is no writeback
# cache to gather them: README, latest numbers).
test_each_write_is_one_write_request() {
        local census
        one_file "$T/up"
        uf_run requests "$M" -- dd if=/dev/zero of="$M/new" bs=4k count=8 status=none
        expect_eq "exit status ($ERR)" 0 "$RC"
        census=$ERR
        expect_eq "WRITEs for 8 writes ($census)" 8 "$(count_in WRITE "$census")"
        expect_eq "the file" 32768 "$(stat -c %s "$T/up/new")"
}

# Since the mount: every kind named as libfuse's -d log names it, counts
# that add up to the total, and reading the census does not count itself.
test_the_census_since_the_mount_adds_up_and_reading_it_costs_nothing() {
        local json first again
        one_file "$T/up"
        mkdir "$M/new-dir"
        echo x > "$M/new-dir/x"
        ls -l "$M" > /dev/null
        uf_run requests "$M" --json
        expect_eq "exit status ($ERR)" 0 "$RC"
        json=$OUT
        printf '%s\n' "$json" > "$T/census.json"
        python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
assert c["mountpoint"] == sys.argv[2], c
assert c["total"] == sum(c["requests"].values()), c
for kind in ("INIT", "LOOKUP", "MKDIR", "WRITE"):
    assert c["requests"].get(kind, 0) >= 1, (kind, c)
' "$T/census.json" "$M" || fail "census JSON: $json"
        # FORGET comes whenever the kernel drops an inode from its cache.
        uf_run requests "$M"
        first=$(grep -v FORGET <<< "$OUT" | tail -n +2)
        uf_run requests "$M"
        again=$(grep -v FORGET <<< "$OUT" | tail -n +2)
        expect_eq "the census read twice, but for FORGET" "$first" "$again"
}

test_a_command_keeps_its_output_and_exit_status() {
        one_file
        uf_run requests "$M" -- sh -c 'echo out; exit 7'
        expect_eq "exit status" 7 "$RC"
        expect_eq "stdout: the command's alone" out "$OUT"
        expect_match "stderr: the census" "while \`sh -c echo out; exit 7\` ran" "$ERR"
        uf_run requests "$M" -- "$T/no-such-command"
        expect_eq "exit status of a command not found" 127 "$RC"
        expect_eq "message" "unionfuse: requests: $T/no-such-command: No such file or directory" "$ERR"
}

test_a_path_outside_a_union_is_refused() {
        local plain
        plain=$(mkd plain)
        uf_run requests "$plain"
        expect_eq "exit status" 1 "$RC"
        expect_eq "message" \
                "unionfuse: requests: $plain: not inside a unionfuse mount, or one whose daemon keeps no census" \
                "$ERR"
        uf_run requests "$plain" -- touch "$plain/ran"
        expect_eq "exit status with a command" 125 "$RC"
        expect_absent "$plain/ran" "the command, with no census to read around it"
        uf_run requests
        expect_eq "exit status without a MOUNTPOINT" 2 "$RC"
}

run_tests
