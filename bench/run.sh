#!/bin/bash
# unionfuse benchmark: the same workloads on native, kernel overlayfs,
# fuse-overlayfs, unionfs-fuse and unionfuse, interleaved, with medians.
set -u

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
export BENCH_DIR
for f in common trees systems scratchfs workloads measure report; do
    . "$BENCH_DIR/lib/$f.sh"
done

usage() {
    cat <<EOF
usage: bench/run.sh [options]      (as root)

  --quick               small trees, 1 round: a few minutes (development)
  --full                full sizes, 3 rounds (default)
  --rounds N            number of rounds
  --systems a,b,...     subset of: ${ALL_SYSTEMS// /,}
  --workloads x,y,...   subset of workloads; shell patterns allowed ('l*-neg')
  --states s,...        subset of: cold,fresh,warm (default all three)
  --baseline SYS        system the ratios are taken to (default overlay)
  --workdir DIR         trees, mounts and results (default /var/tmp/unionfuse-bench,
                        or \$BENCH_WORKDIR); trees are cached there between runs
  --timeout SEC         per run (default 900 full, 120 quick)
  --upper-fs KIND       where upper layers live: scratch = a new ext4 (loop device)
                        for every mount, workdir = directories in the work dir
                        (default: scratch where it can be made, else workdir)
  --list                list the workloads and exit
  --report FILE         print the tables of an earlier results file and exit
  -h, --help            this help

Environment: UNIONFUSE_BIN (default /work/main/build/unionfuse), BENCH_WORKDIR.
Systems whose binary is missing, or that do not mount, are skipped with a note.
States: cold = new mount + drop_caches; fresh = new mount, page cache warm;
warm = same mount, second run. Every mount gets a fresh empty upper layer,
on a filesystem of its own unless --upper-fs workdir. Results: WORKDIR/results/*.tsv and *.txt.
EOF
}

parse_args() {
    SYSTEMS_ARG=$ALL_SYSTEMS WORKLOADS_ARG= STATES=cold,fresh,warm BASELINE=overlay
    WORKDIR=${BENCH_WORKDIR:-/var/tmp/unionfuse-bench} SIZES=sizes_full ACTION=run UPPER_FS=auto
    while [ $# -gt 0 ]; do
        case $1 in
        --quick) SIZES=sizes_quick ;;
        --full) SIZES=sizes_full ;;
        --rounds) ROUNDS=$2; shift ;;
        --systems) SYSTEMS_ARG=${2//,/ }; shift ;;
        --workloads) WORKLOADS_ARG=${2//,/ }; shift ;;
        --states) STATES=$2; shift ;;
        --baseline) BASELINE=$2; shift ;;
        --workdir) WORKDIR=$2; shift ;;
        --timeout) TIMEOUT=$2; shift ;;
        --upper-fs) UPPER_FS=$2; shift ;;
        --list) ACTION=list ;;
        --report) ACTION=report REPORT_FILE=$2; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
        esac
        shift
    done
    WORKDIR=$(mkdir -p "$WORKDIR" && cd "$WORKDIR" && pwd) || die "bad work dir"
    "$SIZES"
    validate_args
}

validate_args() {
    local s
    [[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds: not a positive number: $ROUNDS"
    [[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "--timeout: not a positive number: $TIMEOUT"
    case $UPPER_FS in auto | scratch | workdir) ;; *) die "--upper-fs: scratch or workdir, not $UPPER_FS" ;; esac
    for s in ${STATES//,/ }; do
        case $s in cold | fresh | warm) ;; *) die "--states: unknown state $s (cold, fresh, warm)" ;; esac
    done
}

# Keep the workloads matching WORKLOADS_ARG (all when empty), in canonical order.
select_workloads() {
    local wl pat out=
    for wl in $(all_workloads); do
        [ -z "$WORKLOADS_ARG" ] && { out+="$wl "; continue; }
        for pat in $WORKLOADS_ARG; do
            # shellcheck disable=SC2254
            case $wl in $pat) out+="$wl "; break ;; esac
        done
    done
    [ -n "$out" ] || die "no workload matches '$WORKLOADS_ARG' (see --list)"
    WORKLOADS=${out% }
}

# Keep the systems that can run; say why the others cannot.
select_systems() {
    local s why out=
    mkdir -p "$WORKDIR/run"
    for s in $SYSTEMS_ARG; do
        if why=$(system_missing "$s"); then out+="$s "; else note "skipping $s: $why"; fi
    done
    [ -n "$out" ] || die "no system to run"
    SYSTEMS=${out% }
}

ensure_trees() {
    local wl t
    for wl in $WORKLOADS; do
        wl_spec "$wl"
        ensure_tree "$WL_TREE"
        for t in $(wl_extra_trees "$wl"); do ensure_tree "$t"; done
    done
}

cleanup() {
    trap - EXIT INT TERM
    unmount_all
}

main() {
    parse_args "$@"
    case $ACTION in
    list) wl_describe; echo; echo "$MODE workloads:" $(all_workloads); exit 0 ;;
    report) report_again "$REPORT_FILE"; exit 0 ;;
    esac
    check_prerequisites
    select_workloads
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    unmount_all
    build_fsops
    select_systems
    choose_upper_fs
    ensure_trees
    mkdir -p "$WORKDIR/results" "$WORKDIR/logs"
    : >"$WORKDIR/logs/errors.log"
    : >"$WORKDIR/logs/layers-modified"
    RESULTS=$WORKDIR/results/$(date -u +%Y%m%d-%H%M%S)-$MODE.tsv
    echo "$UPPER_FS" >"${RESULTS%.tsv}.upper-fs"
    export FSOPS CREATE_FILES CUBIG_MB
    log "$MODE mode, $ROUNDS round(s); systems: $SYSTEMS; results in $RESULTS"
    local t0=$SECONDS
    run_rounds
    log "measured in $((SECONDS - t0)) s"
    print_report "$RESULTS" | tee "${RESULTS%.tsv}.txt"
}

main "$@"
