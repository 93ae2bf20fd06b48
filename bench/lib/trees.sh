# trees.sh: the layered trees the workloads run on, generated once and cached.
#
# A tree lives in $WORKDIR/trees/$MODE/NAME/:
#   layers/L0 .. layers/L<n-1>   L0 is the base, the highest number the top layer
#   flat/                        the merged view as a plain directory (hard links
#                                into the layers), used by the "native" system
#   lists/                       path lists (relative to the tree root) for workloads
#   .done                        stamp: the tree is complete
# Layers hold plain files and directories only (no whiteouts), so every system,
# unionfs-fuse included, sees the same merged tree.
# shellcheck shell=bash

tree_dir()     { echo "$WORKDIR/trees/$MODE/$1"; }
tree_nlayers() { cat "$(tree_dir "$1")/nlayers"; }

# Layer paths of tree $1, top first, joined by ':' (overlayfs lowerdir order).
tree_lowerdirs() {
    local t n k out=
    t=$(tree_dir "$1")
    n=$(tree_nlayers "$1")
    for ((k = n - 1; k >= 0; k--)); do out+="$t/layers/L$k:"; done
    echo "${out%:}"
}

ensure_tree() {
    local name=$1 t
    t=$(tree_dir "$name")
    [ -e "$t/.done" ] && return 0
    log "generating tree $name ($MODE) in $t"
    rm -rf "$t"
    mkdir -p "$t/layers" "$t/lists"
    "gen_tree_${name%%[0-9]*}" "$t" "$name" || die "cannot generate tree $name"
    make_flat "$t"
    (cd "$t/flat" && find . | wc -l) >"$t/lists/count"
    touch "$t/.done"
}

# flat/ = the layers applied base first, upper files replacing lower ones.
make_flat() {
    local t=$1 n k
    n=$(cat "$t/nlayers")
    mkdir -p "$t/flat"
    for ((k = 0; k < n; k++)); do cp -alf "$t/layers/L$k/." "$t/flat/"; done
}

make_layers() {
    local t=$1 n=$2 k
    echo "$n" >"$t/nlayers"
    for ((k = 0; k < n; k++)); do mkdir -p "$t/layers/L$k"; done
}

# Spread NFILES files of SIZE bytes under PREFIX over NLAYERS layers: file i goes
# to layer i % NLAYERS; 100 files a directory, 10 directories a parent. Every
# SHADOW-th file is also put in the next layer up (it shadows the lower copy).
# Writes lists/L<k>.gen ("SIZE PATH") and appends to lists/files.
spread_lists() {
    local t=$1 nfiles=$2 nlayers=$3 size=$4 prefix=$5 shadow=${6:-0}
    awk -v n="$nfiles" -v L="$nlayers" -v size="$size" -v pre="$prefix" \
        -v shadow="$shadow" -v dir="$t/lists" '
    BEGIN {
        for (i = 0; i < n; i++) {
            d = int(i / 100)
            p = sprintf("%s/d%02d/s%02d/f%06d", pre, int(d / 10), d % 10, i)
            k = i % L
            print size, p > (dir "/L" k ".gen")
            if (shadow && L > 1 && i % shadow == 0)
                print size + 1, p > (dir "/L" ((k + 1) % L) ".gen")
            print p > (dir "/files")
        }
    }'
}

# Names that exist in no layer, in directories that do exist.
missing_list() {
    local t=$1 nmissing=$2 nfiles=$3 prefix=$4
    awk -v m="$nmissing" -v n="$nfiles" -v pre="$prefix" 'BEGIN {
        for (j = 0; j < m; j++) {
            i = (j * 7919) % n; d = int(i / 100)
            printf "%s/d%02d/s%02d/missing%06d\n", pre, int(d / 10), d % 10, j
        }
    }' >"$t/lists/missing"
}

# Create the files of every lists/L<k>.gen in layer k.
populate_layers() {
    local t=$1 n k
    n=$(cat "$t/nlayers")
    for ((k = 0; k < n; k++)); do
        [ -f "$t/lists/L$k.gen" ] || continue
        "$FSOPS" gen "$t/layers/L$k" "$k" <"$t/lists/L$k.gen" || return 1
        rm -f "$t/lists/L$k.gen"
    done
}

# --- one generator per tree kind -------------------------------------------

gen_tree_meta() {   # META_FILES small files in META_LAYERS layers, some shadowed
    make_layers "$1" "$META_LAYERS"
    spread_lists "$1" "$META_FILES" "$META_LAYERS" 64 tree 20
    populate_layers "$1"
}

gen_tree_spread() { # the same SPREAD_FILES files over N layers (spread1, spread8...)
    local n=${2#spread}
    make_layers "$1" "$n"
    spread_lists "$1" "$SPREAD_FILES" "$n" 256 tree
    missing_list "$1" "$SPREAD_MISSING" "$SPREAD_FILES" tree
    populate_layers "$1"
}

gen_tree_cat() {    # CAT_FILES files of 4 KiB in 4 layers
    make_layers "$1" 4
    spread_lists "$1" "$CAT_FILES" 4 4096 data
    populate_layers "$1"
}

gen_tree_cu() {     # CU_FILES files of CU_SIZE in 2 layers, to be appended to
    make_layers "$1" 2
    spread_lists "$1" "$CU_FILES" 2 "$CU_SIZE" etc
    populate_layers "$1"
}

gen_tree_base() {   # a small 2-layer rootfs-like base to create files over
    make_layers "$1" 2
    spread_lists "$1" 500 2 1024 usr
    populate_layers "$1"
}

gen_tree_rm() {     # RM_FILES files under victim/, in 2 layers
    make_layers "$1" 2
    spread_lists "$1" "$RM_FILES" 2 512 victim
    populate_layers "$1"
}

big_file_tree() {   # $2 MiB file in the base layer, a small file on top
    make_layers "$1" 2
    echo "$(($2 * 1048576)) data/big.bin" >"$1/lists/L0.gen"
    echo "100 etc/small" >"$1/lists/L1.gen"
    populate_layers "$1"
}
gen_tree_seq()   { big_file_tree "$1" "$SEQ_MB"; }
gen_tree_cubig() { big_file_tree "$1" "$CUBIG_MB"; }

# A source tree packed as src.tar (untar workload); no layers of its own.
gen_tree_src() {
    local t=$1
    echo 0 >"$t/nlayers"
    source_lists "$t/lists/src.gen" "$SRC_FILES" src 1
    mkdir -p "$t/tree"
    "$FSOPS" gen "$t/tree" 1 <"$t/lists/src.gen" || return 1
    tar -C "$t/tree" -cf "$t/src.tar" src && rm -rf "$t/tree"
}

# SIZE PATH lines of a source-like tree: 20 files a directory, sizes 0.2-30 KiB.
source_lists() {
    local out=$1 n=$2 prefix=$3 seed=$4
    awk -v n="$n" -v pre="$prefix" -v seed="$seed" 'BEGIN {
        for (i = 0; i < n; i++) {
            d = int(i / 20)
            ext = (i % 5 == 0) ? "h" : "c"
            printf "%d %s/m%02d/p%03d/file%05d.%s\n", 200 + (i * 7919 * seed) % 30000,
                   pre, int(d / 20), d % 20, i, ext
        }
    }' >"$out"
}

# A git repository committed in L0; L1 changes 1% of its files and adds 20.
gen_tree_git() {
    local t=$1 r
    make_layers "$t" 2
    r=$t/layers/L0/repo
    source_lists "$t/lists/L0.gen" "$GIT_FILES" repo 1
    awk 'NR % 100 == 1 { print $1 + 17, $2 }' "$t/lists/L0.gen" >"$t/lists/L1.gen"
    for ((i = 0; i < 20; i++)); do echo "300 repo/untracked$i.c"; done >>"$t/lists/L1.gen"
    wc -l <"$t/lists/L1.gen" >"$t/lists/git_expected"
    populate_layers "$t" || return 1
    find "$t/layers" -exec touch -h -d @1600000000 {} +
    git_commit_all "$r"
}

git_commit_all() {
    local g=(git -C "$1" -c user.name=bench -c user.email=bench@localhost)
    "${g[@]}" init -q &&
        "${g[@]}" config core.checkStat minimal &&
        "${g[@]}" config core.trustctime false &&
        "${g[@]}" add -A && "${g[@]}" commit -q -m "initial import" &&
        "${g[@]}" gc -q
}

# A small C project (MAKE_UNITS units) with its Makefile; units split over 2 layers.
gen_tree_make() {
    local t=$1 i k
    make_layers "$t" 2
    mkdir -p "$t/layers/L0/proj/include" "$t/layers/L0/proj/src" "$t/layers/L1/proj/src"
    make_makefile >"$t/layers/L0/proj/Makefile"
    echo 'int work(int x, int y);' >"$t/layers/L0/proj/include/common.h"
    for ((i = 0; i < MAKE_UNITS; i++)); do
        k=$((i % 2))
        make_unit "$i" >"$t/layers/L$k/proj/src/u$i.c"
    done
    make_main >"$t/layers/L0/proj/src/main.c"
}

make_makefile() {
    printf '%s\n' 'SRCS := $(wildcard src/*.c)' 'OBJS := $(SRCS:src/%.c=obj/%.o)' '' \
        'prog: $(OBJS)' '	$(CC) -o $@ $(OBJS)' '' \
        'obj/%.o: src/%.c include/common.h | obj' '	$(CC) -O2 -Iinclude -c -o $@ $<' '' \
        'obj:' '	mkdir -p obj'
}

make_unit() {
    local i=$1 j
    echo '#include "common.h"'
    echo '#include <string.h>'
    for ((j = 0; j < 8; j++)); do
        echo "static int f${j}(int x) { int a[64]; memset(a, x, sizeof a);"
        echo "  for (int i = 1; i < 64; i++) a[i] += a[i-1] * $j + work(i, x); return a[63]; }"
    done
    echo "int unit$i(int x) { return f0(x)+f1(x)+f2(x)+f3(x)+f4(x)+f5(x)+f6(x)+f7(x); }"
}

make_main() {
    local i
    echo "int work(int x, int y) { return x ^ y; }"
    for ((i = 0; i < MAKE_UNITS; i++)); do echo "int unit$i(int);"; done
    echo "int main(void) { int s = 0;"
    for ((i = 0; i < MAKE_UNITS; i++)); do echo "  s += unit$i(s);"; done
    echo "  return s & 1; }"
}

# After a workload that writes: were the layers left alone? (Nothing in them may
# be newer than the .done stamp.) If not, say so and have the tree regenerated.
check_layers_intact() {
    local t bad
    t=$(tree_dir "$1")
    bad=$(find "$t/layers" -newer "$t/.done" -print -quit)
    [ -z "$bad" ] && return 0
    note "LOWER LAYER MODIFIED by $2 ($3): $bad; tree $1 will be regenerated next run"
    echo "lower layer of $1 modified by $2 ($3): $bad" >>"$WORKDIR/logs/layers-modified"
    rm -f "$t/.done"
}
