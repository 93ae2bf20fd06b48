# workloads.sh: what is measured. Each workload has a spec (wl_spec) and a
# function wl_* that runs in a child shell whose current directory is the root
# of the merged tree; $TREE is the tree's cache dir (lists, tarball), $STATE the
# state being measured. A workload returns non-zero, with a line on stderr,
# when the file system gave a wrong answer; an optional check_wl_* runs after
# the timed part, in the same directory.
# shellcheck shell=bash

all_workloads() {
    local n
    echo meta-find meta-stat
    for n in $SPREAD_LAYERS; do echo "l$n-walk l$n-lstat l$n-neg"; done
    echo seqread cat copyup-small copyup-big chmod-big create untar rmrf gitstatus make
}

# Sets WL_TREE (tree name), WL_COPY (native copy: none|link|full),
# WL_REPEAT (1: can run twice on one mount, so it has a warm state) and
# WL_CMD (function and arguments).
wl_spec() {
    WL_COPY=none WL_REPEAT=1
    case $1 in
    meta-find)    WL_TREE="meta";     WL_CMD="wl_walk" ;;
    meta-stat)    WL_TREE="meta";     WL_CMD="wl_lstat files present" ;;
    l*-walk)      WL_TREE=spread${1//[^0-9]/}; WL_CMD="wl_walk" ;;
    l*-lstat)     WL_TREE=spread${1//[^0-9]/}; WL_CMD="wl_lstat files present" ;;
    l*-neg)       WL_TREE=spread${1//[^0-9]/}; WL_CMD="wl_lstat missing absent" ;;
    seqread)      WL_TREE="seq";      WL_CMD="wl_seqread" ;;
    cat)          WL_TREE="cat";      WL_CMD="wl_cat" ;;
    copyup-small) WL_TREE="cu";       WL_CMD="wl_append_list"; WL_COPY="full" WL_REPEAT=0 ;;
    copyup-big)   WL_TREE="cubig";    WL_CMD="wl_append_big";  WL_COPY="full" WL_REPEAT=0 ;;
    chmod-big)    WL_TREE="cubig";    WL_CMD="wl_chmod_big";   WL_COPY="full" WL_REPEAT=0 ;;
    create)       WL_TREE="base";     WL_CMD="wl_create";      WL_COPY="link" ;;
    untar)        WL_TREE="base";     WL_CMD="wl_untar";       WL_COPY="link" ;;
    rmrf)         WL_TREE="rm";       WL_CMD="wl_rmrf";        WL_COPY="link" WL_REPEAT=0 ;;
    gitstatus)    WL_TREE="git";      WL_CMD="wl_gitstatus";   WL_COPY="link" ;;
    make)         WL_TREE="make";     WL_CMD="wl_make";        WL_COPY="link" ;;
    *) return 1 ;;
    esac
}

# Trees a workload needs besides WL_TREE.
wl_extra_trees() {
    case $1 in untar) echo src ;; esac
}

wl_describe() {
    cat <<'EOF'
meta-find     find over the 8-layer metadata tree (count checked)
meta-stat     lstat of every file of that tree
lN-walk       find over the same files spread over N layers
lN-lstat      lstat of every file of the N-layer tree
lN-neg        lstat of names that exist in no layer (warm = second pass)
seqread       dd of the big base-layer file, bs=1M
cat           cat of every 4 KiB file of a 4-layer tree
copyup-small  append 100 bytes to every lower file (copy-up of each)
copyup-big    append a line to the big lower file (copy-up of it)
chmod-big     chmod and touch of the big lower file (its data copied up, or
              not with metacopy: see OVERLAY_OPTS and UNIONFUSE_OPTS)
create        create files (64 B each, 500 a directory) in a new directory
untar         tar -x of a generated source tree into a new directory
rmrf          rm -rf of a directory spread over 2 lower layers
gitstatus     git status in a repository of the base layer, changed on top
make          make -B -j2 of a generated C project in the lower layers
EOF
}

# --- the workloads ------------------------------------------------------------

wl_walk() {
    local n want
    n=$(find . | wc -l)
    want=$(cat "$TREE/lists/count")
    [ "$n" = "$want" ] || { echo "find saw $n entries, expected $want" >&2; return 1; }
}

wl_lstat() { "$FSOPS" lstat "$TREE/lists/$1" "$2"; }

wl_seqread() { dd if=data/big.bin of=/dev/null bs=1M status=none; }

wl_cat() { xargs -d '\n' -a "$TREE/lists/files" cat >/dev/null; }

wl_append_list() { "$FSOPS" append "$TREE/lists/files" 100; }

wl_append_big() { echo appended >>data/big.bin; }
check_wl_append_big() {
    local size want=$((CUBIG_MB * 1048576 + 9))
    size=$(stat -c %s data/big.bin)
    [ "$size" = "$want" ] || { echo "big.bin has $size bytes after the append, expected $want" >&2; return 1; }
}

wl_chmod_big() { chmod 0600 data/big.bin && touch -d @1000000000 data/big.bin; }
check_wl_chmod_big() {
    local got want="600 $((CUBIG_MB * 1048576)) 1000000000"
    got=$(stat -c '%a %s %Y' data/big.bin)
    [ "$got" = "$want" ] || { echo "big.bin is '$got' after chmod and touch, expected '$want'" >&2; return 1; }
}

wl_create() { "$FSOPS" create "new-$STATE" "$CREATE_FILES" 500 64; }

wl_untar() { mkdir "new-$STATE" && tar -C "new-$STATE" -xf "$TREE_SRC/src.tar"; }

wl_rmrf() {
    rm -rf victim || return 1
    [ ! -e victim ] || { echo "victim still exists after rm -rf" >&2; return 1; }
}

wl_gitstatus() {
    local n want
    n=$(git -C repo status --porcelain | wc -l)
    want=$(cat "$TREE/lists/git_expected")
    [ "$n" = "$want" ] || { echo "git status listed $n changes, expected $want" >&2; return 1; }
}

wl_make() { make -C proj -B -j2 -s >/dev/null && [ -x proj/prog ]; }
