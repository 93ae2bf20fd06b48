# common.sh: logging, sizes of the two modes, prerequisites, the fsops helper.
# shellcheck shell=bash

log()  { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
note() { printf 'note: %s\n' "$*" >&2; }
die()  { printf 'bench: %s\n' "$*" >&2; exit 1; }

# Sizes. Tree names carry the mode, so quick and full trees live side by side.
sizes_full() {
    MODE=full
    META_FILES=50000 META_LAYERS=8
    SPREAD_FILES=20000 SPREAD_MISSING=10000 SPREAD_LAYERS="1 8 32 64"
    SEQ_MB=1024
    CAT_FILES=20000
    CU_FILES=2000 CU_SIZE=16384 CUBIG_MB=512
    CREATE_FILES=20000
    SRC_FILES=5000
    RM_FILES=10000
    GIT_FILES=5000
    MAKE_UNITS=100
    ROUNDS=${ROUNDS:-3}
    TIMEOUT=${TIMEOUT:-900}
}

sizes_quick() {
    MODE=quick
    META_FILES=5000 META_LAYERS=8
    SPREAD_FILES=2000 SPREAD_MISSING=1000 SPREAD_LAYERS="1 8 32 64"
    SEQ_MB=64
    CAT_FILES=2000
    CU_FILES=200 CU_SIZE=16384 CUBIG_MB=32
    CREATE_FILES=2000
    SRC_FILES=500
    RM_FILES=1000
    GIT_FILES=500
    MAKE_UNITS=12
    ROUNDS=${ROUNDS:-1}
    TIMEOUT=${TIMEOUT:-120}
}

# The tools the benchmark itself needs (the systems are checked in systems.sh).
check_prerequisites() {
    local missing=() t
    [ "$(id -u)" = 0 ] || die "must run as root (mounts, drop_caches)"
    for t in cc git make tar find xargs timeout dd awk sort cp mount umount; do
        command -v "$t" >/dev/null || missing+=("$t")
    done
    [ ${#missing[@]} = 0 ] ||
        die "missing tools: ${missing[*]} (apt-get install gcc git make tar findutils coreutils gawk mount)"
    [ -w /proc/sys/vm/drop_caches ] || die "cannot write /proc/sys/vm/drop_caches"
}

# fsops: compiled once into the work dir, again when the source is newer.
build_fsops() {
    FSOPS=$WORKDIR/bin/fsops
    local src=$BENCH_DIR/lib/fsops.c
    if [ ! -x "$FSOPS" ] || [ "$src" -nt "$FSOPS" ]; then
        mkdir -p "$WORKDIR/bin"
        cc -O2 -Wall -o "$FSOPS" "$src" || die "cannot compile $src"
    fi
    export FSOPS
}

drop_caches() {
    sync
    echo 3 >/proc/sys/vm/drop_caches
}

# Seconds (float) between two $EPOCHREALTIME values.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
