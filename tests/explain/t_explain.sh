#!/bin/bash
# `unionfuse explain` and `unionfuse layers` on running mounts: for each kind
# of entry (plain, shadowed, whited out in each format, opaque, merged,
# copied up, from the init layer), what each layer holds, who wins and why,
# in text and in JSON; and the virtual xattrs they read from the daemon.
. "$(dirname "$0")/../e2e/lib.sh"

# ---------------------------------------------------------------- helpers

# Runs `unionfuse explain ARGS` (text); sets OUT, fails the test on error.
explain() {
        uf_run explain "$@"
        [ "$RC" -eq 0 ] || fail "explain $*: exit $RC: $ERR"
}

# Runs `unionfuse explain --json PATH` into $T/j.json, checks it is JSON.
explain_json() {
        uf_run explain --json "$1"
        [ "$RC" -eq 0 ] || fail "explain --json $1: exit $RC: $ERR"
        printf '%s\n' "$OUT" > "$T/j.json"
        python3 -m json.tool "$T/j.json" > /dev/null || fail "explain --json $1: not JSON: $OUT"
}

# A value of the last JSON answer: a Python expression over d.
jget() {        # EXPR
        python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); v = eval(sys.argv[2]); print(json.dumps(v) if not isinstance(v, str) else v)' \
                "$T/j.json" "$1"
}

# The line of the text output for a layer ("upper", "layer 1 (lower)").
layer_line() {  # NAME
        printf '%s\n' "$OUT" | grep -F "  $1  " | head -1 | sed 's/  */ /g; s/^ //'
}

result_line() {
        printf '%s\n' "$OUT" | sed -n 's/^result: //p'
}

expect_layer_line() {   # NAME REGEX
        expect_match "explain line of $1" "$2" "$(layer_line "$1")"
}

# ---------------------------------------------------------------- layers

test_layers_lists_the_stack_top_first_with_absolute_paths() {
        local base top
        base=$(mkd base) top=$(mkd top)
        mkdir "$base/etc"; echo a > "$base/etc/hosts"; echo b > "$top/x"
        # relative layer paths: the daemon leaves its cwd, the answer must not
        track_lower "$base" "$top"
        mkdir -p m; track_mount "$T/m"
        "$UF" mount base top --upper up m || fail "mount failed"
        uf_run layers "$T/m"
        expect_eq "exit status" 0 "$RC"
        expect_match "title" "^unionfuse at $T/m: 3 layers, top first" "$OUT"
        expect_eq "upper line" "upper $T/up (0 entries)" "$(layer_line upper)"
        expect_eq "layer 1 line" "layer 1 (lower) $T/top (1 entry)" "$(layer_line "layer 1 (lower)")"
        expect_eq "base line" "layer 0 (base) $T/base (2 entries)" "$(layer_line "layer 0 (base)")"
        expect_eq "work line" "work $T/up.work" "$(layer_line work)"
        expect_match "options" "options: whiteout=overlay" "$OUT"

        uf_run layers --json "$T/m"
        printf '%s\n' "$OUT" > "$T/j.json"
        python3 -m json.tool "$T/j.json" > /dev/null || fail "layers --json: not JSON: $OUT"
        expect_eq "names" '["upper", "layer 1 (lower)", "layer 0 (base)"]' "$(jget '[l["name"] for l in d["layers"]]')"
        expect_eq "roles" '["upper", "lower", "base"]' "$(jget '[l["role"] for l in d["layers"]]')"
        expect_eq "numbers" '[2, 1, 0]' "$(jget '[l["number"] for l in d["layers"]]')"
        expect_eq "paths" "[\"$T/up\", \"$T/top\", \"$T/base\"]" "$(jget '[l["path"] for l in d["layers"]]')"
        expect_eq "entries" '[0, 1, 2]' "$(jget '[l["entries"] for l in d["layers"]]')"
        expect_eq "work" "$T/up.work" "$(jget 'd["work"]')"
        expect_eq "whiteout option" overlay "$(jget 'd["options"]["whiteout"]')"
        expect_eq "read_only" false "$(jget 'd["read_only"]')"

        # any path inside the mount finds the same stack
        uf_run layers "$T/m/etc"
        expect_match "from a subdirectory" "^unionfuse at $T/m:" "$OUT"
}

test_layers_of_a_read_only_aufs_mount() {
        local base
        base=$(mkd base)
        UF_OPTS=whiteout=aufs uf_mount "$T/m" "" "$base"
        uf_run layers "$T/m"
        expect_match "read-only said" "read-only: no upper layer" "$OUT"
        expect_eq "only layer" "layer 0 (base) $base (0 entries)" "$(layer_line "layer 0 (base)")"
        expect_eq "no work" "" "$(layer_line work)"
        expect_match "options" "options: whiteout=aufs" "$OUT"
        uf_run layers --json "$T/m"
        printf '%s\n' "$OUT" > "$T/j.json"
        python3 -m json.tool "$T/j.json" > /dev/null || fail "not JSON: $OUT"
        expect_eq "read_only" true "$(jget 'd["read_only"]')"
        expect_eq "work" null "$(jget 'd["work"]')"
}

test_layers_stops_counting_past_ten_thousand_entries() {
        local base
        base=$(mkd base)
        (cd "$base" && seq 1 10050 | xargs touch)
        uf_mount "$T/m" "$T/up" "$base"
        uf_run layers "$T/m"
        expect_eq "base line" "layer 0 (base) $base (more than 10000 entries)" "$(layer_line "layer 0 (base)")"
        uf_run layers --json "$T/m"
        printf '%s\n' "$OUT" > "$T/j.json"
        expect_eq "entries" null "$(jget 'd["layers"][1]["entries"]')"
        expect_eq "bound" 10000 "$(jget 'd["layers"][1]["entries_more_than"]')"
}

test_layers_and_explain_refuse_a_path_outside_any_mount() {
        uf_run layers "$T"
        expect_eq "layers exit" 1 "$RC"
        expect_eq "layers message" "unionfuse: layers: $T: not inside a unionfuse mount" "$ERR"
        uf_run explain "$T"
        expect_eq "explain exit" 1 "$RC"
        expect_eq "explain message" "unionfuse: explain: $T: not inside a unionfuse mount" "$ERR"
        uf_run explain
        expect_eq "no path: usage error" 2 "$RC"
}

# ---------------------------------------------------------------- explain

test_explain_plain_file() {
        local base top
        base=$(mkd base) top=$(mkd top)
        mkdir "$base/etc"; echo root > "$base/etc/passwd"
        uf_mount "$T/m" "$T/up" "$base" "$top"
        explain "$T/m/etc/passwd"
        expect_match "title" "^/etc/passwd in the union at $T/m" "$OUT"
        expect_eq "upper" "upper nothing" "$(layer_line upper)"
        expect_eq "layer 1" "layer 1 (lower) nothing" "$(layer_line "layer 1 (lower)")"
        expect_eq "base" "layer 0 (base) file, 5 bytes [wins: topmost layer with the name]" \
                "$(layer_line "layer 0 (base)")"
        expect_eq "result" "layer 0 (base) wins: topmost layer with the name" "$(result_line)"
        expect_match "not copied up" "copied up: no: not in the upper layer" "$OUT"
        expect_match "daemon" "daemon: file from layer 0 \(base\), copied up: no" "$OUT"
        [[ $OUT != *warning* ]] || fail "the daemon disagrees: $OUT"

        explain_json "$T/m/etc/passwd"
        expect_eq "path" /etc/passwd "$(jget 'd["path"]')"
        expect_eq "mount" "$T/m" "$(jget 'd["mount"]')"
        expect_eq "exists" true "$(jget 'd["exists"]')"
        expect_eq "type" file "$(jget 'd["type"]')"
        expect_eq "winner" "layer 0 (base)" "$(jget 'd["winner"]')"
        expect_eq "holds" '["nothing", "nothing", "file"]' "$(jget '[l["holds"] for l in d["layers"]]')"
        expect_eq "size" 5 "$(jget 'd["layers"][2]["size"]')"
        expect_eq "copied_up" false "$(jget 'd["copied_up"]')"
        expect_eq "daemon layer" "layer 0 (base)" "$(jget 'd["daemon"]["layer"]')"
        expect_eq "daemon agrees" true "$(jget 'd["daemon_agrees"]')"
}

test_explain_shadowed_file() {
        local base top
        base=$(mkd base) top=$(mkd top)
        echo base > "$base/f"; echo top > "$top/f"
        uf_mount "$T/m" "$T/up" "$base" "$top"
        explain "$T/m/f"
        expect_layer_line "layer 1 (lower)" '\[wins: topmost layer with the name\]'
        expect_layer_line "layer 0 (base)" '\[shadowed: layer 1 \(lower\) above wins\]'
        expect_eq "result" "layer 1 (lower) wins: topmost layer with the name" "$(result_line)"
        explain_json "$T/m/f"
        expect_eq "statuses" '[null, "wins", "shadowed"]' "$(jget '[l["status"] for l in d["layers"]]')"
        expect_eq "daemon" "layer 1 (lower)" "$(jget 'd["daemon"]["layer"]')"
}

test_explain_whiteout_char_device() {
        local base top
        base=$(mkd base) top=$(mkd top)
        echo base > "$base/f"; mknod "$top/f" c 0 0
        uf_mount "$T/m" "$T/up" "$base" "$top"
        explain "$T/m/f"
        expect_layer_line "layer 1 (lower)" 'whiteout \(char 0/0\) \[hides it'
        expect_layer_line "layer 0 (base)" '\[hidden: by the whiteout in layer 1 \(lower\)\]'
        expect_eq "result" "hidden: whited out by layer 1 (lower) (char 0/0)" "$(result_line)"
        explain_json "$T/m/f"
        expect_eq "exists" false "$(jget 'd["exists"]')"
        expect_eq "hidden_by" '{"layer": "layer 1 (lower)", "whiteout": "char 0/0"}' "$(jget 'd["hidden_by"]')"
        expect_eq "whiteout" "char 0/0" "$(jget 'd["layers"][1]["whiteout"]')"
        expect_eq "no daemon answer for what is not there" null "$(jget 'd["daemon"]')"
        expect_eq "daemon agrees" true "$(jget 'd["daemon_agrees"]')"
}

test_explain_whiteout_xattr_file() {
        local base top
        base=$(mkd base) top=$(mkd top)
        mkdir "$base/d" "$top/d" "$top/e" "$base/e"
        echo base > "$base/d/x"; echo base > "$base/e/x"
        touch "$top/d/x" "$top/e/x"
        setfattr -n trusted.overlay.whiteout -v y "$top/d/x"
        setfattr -n trusted.overlay.opaque -v x "$top/d"
        # the same file in a directory not marked opaque=x: a plain file
        setfattr -n trusted.overlay.whiteout -v y "$top/e/x"
        uf_mount "$T/m" "$T/up" "$base" "$top"
        explain "$T/m/d/x"
        expect_layer_line "layer 1 (lower)" 'whiteout \(overlay.whiteout xattr\)'
        expect_eq "result" "hidden: whited out by layer 1 (lower) (overlay.whiteout xattr)" "$(result_line)"
        explain_json "$T/m/d/x"
        expect_eq "whiteout" "overlay.whiteout xattr" "$(jget 'd["layers"][1]["whiteout"]')"
        explain "$T/m/e/x"
        expect_layer_line "layer 1 (lower)" 'file, 0 bytes \(carries overlay.whiteout, but its directory is not overlay.opaque=x: not a whiteout\) \[wins'
        expect_eq "result" "layer 1 (lower) wins: topmost layer with the name" "$(result_line)"
}

test_explain_whiteout_aufs_file() {
        local base top
        base=$(mkd base) top=$(mkd top)
        mkdir "$base/bin" "$top/bin"
        echo vi > "$base/bin/vi"; touch "$top/bin/.wh.vi"
        uf_mount "$T/m" "$T/up" "$base" "$top"
        explain "$T/m/bin/vi"
        expect_layer_line "layer 1 (lower)" 'whiteout \(.wh.NAME\) \[hides it'
        expect_eq "result" "hidden: whited out by layer 1 (lower) (.wh.NAME)" "$(result_line)"
        explain_json "$T/m/bin/vi"
        expect_eq "hidden_by" '{"layer": "layer 1 (lower)", "whiteout": ".wh.NAME"}' "$(jget 'd["hidden_by"]')"
        # the marker itself is never a name of the merged view
        explain "$T/m/bin/.wh.vi"
        expect_match "marker name" "hidden: .wh.\* names are whiteout markers" "$(result_line)"
}

test_explain_whiteout_left_by_rm_through_the_mount() {
        local base
        base=$(mkd base)
        echo base > "$base/f"
        uf_mount "$T/m" "$T/up" "$base"
        rm "$T/m/f"
        explain "$T/m/f"
        expect_layer_line upper 'whiteout \(char 0/0\) \[hides it'
        expect_eq "result" "hidden: whited out by upper (char 0/0)" "$(result_line)"
}

# rm -r of a lower directory, then mkdir: a new opaque directory in upper,
# which replaced the one below rather than copying it.
test_explain_directory_replaced_through_the_mount() {
        local base
        base=$(mkd base)
        mkdir -p "$base/d"
        echo below > "$base/d/old"
        uf_mount "$T/m" "$T/up" "$base"
        rm -r "$T/m/d"
        mkdir "$T/m/d"
        explain "$T/m/d"
        expect_match "copied up" "copied up: no: a new directory in the upper layer, opaque, hides the one below" "$OUT"
        expect_match "daemon" "opaque: upper, listing cached: (yes|no), copied up: no" "$OUT"
        explain_json "$T/m/d"
        expect_eq "copied_up" false "$(jget 'd["copied_up"]')"
        expect_eq "daemon agrees" true "$(jget 'd["daemon_agrees"]')"
}

test_explain_opaque_directory() {
        local base top how
        base=$(mkd base) top=$(mkd top)
        for how in trusted user aufs; do
                mkdir -p "$base/$how" "$top/$how"
                echo below > "$base/$how/old"
                case $how in
                aufs) touch "$top/$how/.wh..wh..opq" ;;
                *) setfattr -n "$how.overlay.opaque" -v y "$top/$how" ;;
                esac
        done
        uf_mount "$T/m" "$T/up" "$base" "$top"
        for how in trusted user aufs; do
                local marker=$how.overlay.opaque=y
                [ "$how" = aufs ] && marker=.wh..wh..opq
                explain "$T/m/$how"
                expect_layer_line "layer 1 (lower)" "directory, opaque \($marker\) \[wins"
                expect_layer_line "layer 0 (base)" "\[not used: below the opaque directory of layer 1 \(lower\) \($marker\)\]"
                expect_eq "result" "directory from layer 1 (lower) alone; layer 0 (base) below the opaque layer 1 (lower) is not used" "$(result_line)"
                expect_match "daemon" "merged from layer 1 \(lower\), opaque: layer 1 \(lower\)" "$OUT"
                explain_json "$T/m/$how"
                expect_eq "opaque" "$marker" "$(jget 'd["layers"][1]["opaque"]')"
                expect_eq "opaque_at" "layer 1 (lower)" "$(jget 'd["opaque_at"]')"
                expect_eq "merged_from" '["layer 1 (lower)"]' "$(jget 'd["merged_from"]')"
                expect_eq "daemon agrees" true "$(jget 'd["daemon_agrees"]')"
                # below the opaque directory, the base's file is never consulted
                explain "$T/m/$how/old"
                expect_layer_line "layer 0 (base)" "\[not consulted: /$how here is not used: below the opaque directory"
                expect_match "result" "^not found" "$(result_line)"
        done
}

test_explain_merged_directory() {
        local base mid top
        base=$(mkd base) mid=$(mkd mid) top=$(mkd top)
        mkdir "$base/d" "$mid/d" "$top/d"
        echo 1 > "$base/d/one"; echo 2 > "$mid/d/two"
        mkdir "$base/e" "$top/e"; echo f > "$mid/e"
        uf_mount "$T/m" "$T/up" "$base" "$mid" "$top"
        ls "$T/m/d" > /dev/null
        touch "$T/m/d/new"      # copies d up: upper joins the merge
        explain "$T/m/d"
        expect_layer_line upper '^upper directory \[wins'
        expect_layer_line "layer 1 (lower)" '\[merged: into the directory of upper\]'
        expect_eq "result" "directory merged from upper, layer 2 (lower), layer 1 (lower) and layer 0 (base)" "$(result_line)"
        expect_match "daemon" "merged from upper, layer 2 \(lower\), layer 1 \(lower\), layer 0 \(base\), opaque: no, listing cached: yes" "$OUT"
        explain_json "$T/m/d"
        expect_eq "merged_from" '["upper", "layer 2 (lower)", "layer 1 (lower)", "layer 0 (base)"]' "$(jget 'd["merged_from"]')"
        expect_eq "type" directory "$(jget 'd["type"]')"
        expect_eq "daemon view" yes "$(jget 'd["daemon"]["view_built"]')"
        expect_eq "daemon agrees" true "$(jget 'd["daemon_agrees"]')"
        # a file between two directories ends the merge
        explain "$T/m/e"
        expect_layer_line "layer 1 (lower)" '\[shadowed: not a directory, below the directory of layer 2 \(lower\): the merge stops here\]'
        expect_layer_line "layer 0 (base)" '\[not used: the merge stopped above, at the non-directory in layer 1 \(lower\)\]'
        expect_eq "result" "directory from layer 2 (lower) alone" "$(result_line)"
}

test_explain_redirected_directory() {
        local base
        base=$(mkd base)
        mkdir -p "$base/old" "$T/up/new"; echo f > "$base/old/f"
        setfattr -n trusted.overlay.redirect -v /old "$T/up/new"
        uf_mount "$T/m" "$T/up" "$base"
        explain "$T/m/new"
        expect_layer_line upper 'directory, redirect to /old \[wins'
        expect_layer_line "layer 0 (base)" 'directory, at /old \[merged: merged from /old, where the redirect of upper leads\]'
        expect_eq "result" "directory merged from upper and layer 0 (base)" "$(result_line)"
        expect_match "daemon" "merged from upper, layer 0 \(base\)," "$OUT"
        explain_json "$T/m/new"
        expect_eq "redirect" /old "$(jget 'd["layers"][0]["redirect"]')"
        expect_eq "daemon agrees" true "$(jget 'd["daemon_agrees"]')"
        expect_match "daemon redirect" "layer 0 \(base\) at /old" "$(jget 'd["daemon"]["redirect"]')"
}

test_explain_copied_up_file_after_a_write() {
        local base
        base=$(mkd base)
        mkdir "$base/etc"; echo root > "$base/etc/passwd"
        uf_mount "$T/m" "$T/up" "$base"
        explain "$T/m/etc/passwd"
        expect_match "before" "copied up: no: not in the upper layer" "$OUT"
        echo more >> "$T/m/etc/passwd"
        explain "$T/m/etc/passwd"
        expect_eq "upper" "upper file, 10 bytes [wins: topmost layer with the name]" "$(layer_line upper)"
        expect_layer_line "layer 0 (base)" '\[shadowed: upper above wins\]'
        expect_match "copied up" "copied up: yes: the upper layer holds it, and layer 0 \(base\) below" "$OUT"
        expect_match "daemon" "daemon: file from upper, copied up: yes" "$OUT"
        explain_json "$T/m/etc/passwd"
        expect_eq "copied_up" true "$(jget 'd["copied_up"]')"
        expect_eq "daemon copied_up" yes "$(jget 'd["daemon"]["copied_up"]')"
        expect_eq "daemon upper" yes "$(jget 'd["daemon"]["upper"]')"
        # a file made through the mount is in the upper layer only
        echo new > "$T/m/etc/new"
        explain "$T/m/etc/new"
        expect_match "new file" "copied up: no: it exists only in the upper layer" "$OUT"
        # a copy renamed: its copy-up recorded where it was
        mv "$T/m/etc/passwd" "$T/m/etc/passwd.old"
        explain "$T/m/etc/passwd.old"
        expect_match "renamed copy" "copied up: yes: from layer 0 \(base\) at /etc/passwd, renamed or linked here since" "$OUT"
        expect_match "daemon, renamed copy" "daemon: file from upper, copied up: yes" "$OUT"
        # a directory renamed: copied up whole, and told so
        mkdir "$T/m/usr"
        mv "$T/m/etc" "$T/m/usr/etc"
        explain "$T/m/usr/etc"
        expect_match "renamed directory" "copied up: yes: from layer 0 \(base\) at /etc, renamed here since" "$OUT"
}

test_explain_init_layer_file() {
        local base init
        base=$(mkd base) init=$(mkd init)
        mkdir "$base/etc" "$init/etc"
        echo image > "$base/etc/hosts"; echo container > "$init/etc/hosts"
        track_lower "$base" "$init"
        mkdir -p "$T/m"; track_mount "$T/m"
        "$UF" mount --init "$init" --upper "$T/up" "$base" "$T/m" || fail "mount --init failed"
        uf_run layers "$T/m"
        expect_eq "init line" "layer 1 (init) $init (2 entries)" "$(layer_line "layer 1 (init)")"
        explain "$T/m/etc/hosts"
        expect_layer_line "layer 1 (init)" 'file, 10 bytes \[wins: topmost layer with the name\]'
        expect_eq "result" "layer 1 (init) wins: topmost layer with the name" "$(result_line)"
        explain_json "$T/m/etc/hosts"
        expect_eq "role" init "$(jget 'd["layers"][1]["role"]')"
        expect_eq "daemon" "layer 1 (init)" "$(jget 'd["daemon"]["layer"]')"
}

test_explain_below_a_whited_out_directory() {
        local base top
        base=$(mkd base) top=$(mkd top)
        mkdir -p "$base/app/lib"; echo x > "$base/app/lib/x"; touch "$top/.wh.app"
        uf_mount "$T/m" "$T/up" "$base" "$top"
        explain "$T/m/app/lib/x"
        expect_eq "result" "hidden: /app is whited out by layer 1 (lower) (.wh.NAME)" "$(result_line)"
        expect_layer_line "layer 0 (base)" '^layer 0 \(base\) file, 2 bytes \[not consulted: hidden: /app is whited out by layer 1'
        explain_json "$T/m/app/lib/x"
        expect_eq "exists" false "$(jget 'd["exists"]')"
}

test_explain_does_not_follow_a_final_symlink() {
        local base
        base=$(mkd base)
        mkdir "$base/etc"; echo x > "$base/etc/target"; ln -s target "$base/etc/link"
        uf_mount "$T/m" "$T/up" "$base"
        explain "$T/m/etc/link"
        expect_layer_line "layer 0 (base)" 'symlink -> target \[wins'
        expect_match "daemon not asked" "daemon: not asked \(a symlink" "$OUT"
        explain_json "$T/m/etc/link"
        expect_eq "type" symlink "$(jget 'd["type"]')"
        expect_eq "target" target "$(jget 'd["layers"][1]["target"]')"
}

test_explain_root_merges_every_layer() {
        local base top
        base=$(mkd base) top=$(mkd top)
        uf_mount "$T/m" "$T/up" "$base" "$top"
        explain "$T/m"
        expect_eq "result" "the root: directory merged from upper, layer 1 (lower) and layer 0 (base)" "$(result_line)"
        explain_json "$T/m/"
        expect_eq "path" / "$(jget 'd["path"]')"
        expect_eq "daemon agrees" true "$(jget 'd["daemon_agrees"]')"
}

test_explain_shows_a_lower_change_the_daemon_has_not_seen() {
        local base
        base=$(mkd base)
        # mounted by hand: this base is changed on purpose, it is not
        # fingerprinted as the lower layers of other tests are
        mkdir -p "$T/m"; track_mount "$T/m"
        "$UF" -o "lowerdir=$base" "$T/m" || fail "mount failed"
        ls "$T/m" > /dev/null       # the root's listing is now cached
        echo late > "$base/late"    # behind the daemon's back (never do this)
        explain "$T/m/late"
        expect_match "disagreement" "warning: the daemon sees it otherwise: the mount does not show it" "$OUT"
        explain_json "$T/m/late"
        expect_eq "daemon_agrees" false "$(jget 'd["daemon_agrees"]')"
        rm "$base/late"
}

test_virtual_xattrs_are_never_listed_stored_or_set() {
        local base
        base=$(mkd base)
        echo x > "$base/f"
        uf_mount "$T/m" "$T/up" "$base"
        expect_match "layers xattr" "^1 upper $T/up" "$(getfattr --only-values -n user.unionfuse.layers "$T/m")"
        expect_match "origin xattr" "layer=layer 0 \(base\)" "$(getfattr --only-values -n user.unionfuse.origin "$T/m/f")"
        expect_fails "layers only on the root" getfattr -n user.unionfuse.layers "$T/m/f"
        expect_fails "unknown virtual name" getfattr -n user.unionfuse.nothing "$T/m/f"
        expect_eq "not listed" "" "$(getfattr -d -m - "$T/m/f" "$T/m" 2>/dev/null | grep unionfuse || true)"
        local err
        err=$(setfattr -n user.unionfuse.origin -v x "$T/m/f" 2>&1) && fail "setfattr succeeded"
        expect_match "setfattr refused" "Operation not permitted" "$err"
        err=$(setfattr -x user.unionfuse.origin "$T/m/f" 2>&1) && fail "removexattr succeeded"
        expect_match "removexattr refused" "Operation not permitted" "$err"
        unmount "$T/m"
        expect_absent "$T/up/f" "nothing copied up by the refused calls"
}

run_tests
