# measure.sh: rounds, states, and one timed run of a workload on a system.
#
# In each round every workload runs on every system, the systems taking turns
# (the order rotates from one workload and round to the next). For each
# (workload, system) the states are measured in this order:
#   cold   new mount, then sync + drop_caches, then the run
#   fresh  another new mount (fresh upper), page cache warm from the cold run
#   warm   the same mount again, second run (workloads that can run twice)
# Every run starts after a sync, so that no earlier writeback falls into it.
# One line per run goes to $RESULTS (tab-separated):
#   round workload state system seconds daemon_cpu_seconds daemon_hwm_kb status requests
# requests: for unionfuse, what the kernel asked its daemon during the run
# (`unionfuse requests`), "TOTAL:KIND=N,KIND=N,..."; "-" for the others.
# shellcheck shell=bash

CLK_TCK=$(getconf CLK_TCK)

run_rounds() {
    local round i=0 wl
    for ((round = 1; round <= ROUNDS; round++)); do
        log "round $round/$ROUNDS"
        for wl in $WORKLOADS; do
            for sys in $(rotate $((round + i)) $SYSTEMS); do
                measure_states "$round" "$wl" "$sys"
            done
            i=$((i + 1))
        done
    done
}

# rotate K A B C ...: the list started at its K-th element (mod its length).
rotate() {
    local k=$1; shift
    local a=("$@") n=$# j
    for ((j = 0; j < n; j++)); do echo "${a[(j + k) % n]}"; done
}

measure_states() {
    local round=$1 wl=$2 sys=$3 target state
    wl_spec "$wl"
    export TREE TREE_SRC
    TREE=$(tree_dir "$WL_TREE") TREE_SRC=$(tree_dir src)
    if ! want_state cold && want_state fresh; then prime_run "$sys"; fi
    for state in cold fresh warm; do
        want_state "$state" || continue
        if [ "$state" = warm ]; then
            [ "$WL_REPEAT" = 1 ] || continue
            [ -n "$target" ] || { target=$(mount_for "$sys") && one_run "$sys" "$target" prime >/dev/null; }
        else
            system_down "$sys"
            target=$(mount_for "$sys") || { record "$round" "$wl" "$state" "$sys" - 0 0 MOUNTFAIL -; target=; continue; }
            [ "$state" = cold ] && drop_caches
        fi
        log "  $wl $state $sys"
        record "$round" "$wl" "$state" "$sys" $(one_run "$sys" "$target" "$state")
    done
    system_down "$sys"
    [ "$WL_COPY" = none ] || check_layers_intact "$WL_TREE" "$sys" "$wl"
}

want_state() { case ",$STATES," in *",$1,"*) return 0 ;; esac; return 1; }

mount_for() { system_up "$1" "$WL_TREE" "$WL_COPY"; }

# A run that is not recorded, to warm the page cache before a lone "fresh".
prime_run() {
    local target
    system_down "$1"
    target=$(mount_for "$1") && one_run "$1" "$target" prime >/dev/null
    system_down "$1"
}

# Prints "seconds cpu_seconds hwm_kb status requests" of one run of $WL_CMD
# in TARGET.
one_run() {
    local sys=$1 target=$2 state=$3 pid c0 c1 rc tfile secs hwm=0 census0 census1
    [ -n "$target" ] && [ -d "$target" ] || { echo "- 0 0 MOUNTFAIL -"; return; }
    sync    # no writeback of an earlier run inside this one
    pid=$(sys_daemon "$sys")
    census0=$(census_of "$sys" "$target")
    c0=$(daemon_cpu_ticks "$pid")
    tfile=$WORKDIR/logs/time
    rm -f "$tfile"
    STATE=$state timeout -k 10 "$TIMEOUT" bash -c '
        . "$BENCH_DIR/lib/workloads.sh"
        [ -n "$1" ] && cd "$1" || exit 111
        tf=$2; shift 2
        t0=$EPOCHREALTIME; "$@"; rc=$?; t1=$EPOCHREALTIME
        echo "$t0 $t1" >"$tf"
        [ $rc = 0 ] && declare -F "check_$1" >/dev/null && { "check_$1"; rc=$?; }
        exit $rc' _ "$target" "$tfile" $WL_CMD >"$WORKDIR/logs/last.out" 2>"$WORKDIR/logs/last.err"
    rc=$?
    c1=$(daemon_cpu_ticks "$pid")
    census1=$(census_of "$sys" "$target")
    secs=-
    [ -s "$tfile" ] && secs=$(elapsed $(cat "$tfile"))
    [ -n "$pid" ] && hwm=$(daemon_hwm_kb "$pid")
    echo "$secs $(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }') ${hwm:-0}" \
        "$(run_status "$rc") $([ "$sys" = unionfuse ] && census_delta "$census0" "$census1" || echo -)"
}

# The census of the daemon of SYS mounted on TARGET, "KIND COUNT" a line:
# unionfuse only (fs/fuse_requests.h), outside the timed part of a run.
census_of() {   # SYS TARGET
    [ "$1" = unionfuse ] || return 0
    "$UNIONFUSE_BIN" requests "$2" 2>/dev/null | awk 'NR > 1 { print $1, $2 }'
}

# AFTER minus BEFORE (two census_of outputs): "TOTAL:KIND=N,KIND=N,...";
# "-" without a census (a unionfuse from before `unionfuse requests`).
census_delta() {        # BEFORE AFTER
    [ -n "$2" ] || { echo -; return; }
    BEFORE=$1 AFTER=$2 awk 'BEGIN {
        n = split(ENVIRON["BEFORE"], line, "\n")
        for (i = 1; i <= n; i++) { split(line[i], f, " "); was[f[1]] = f[2] }
        n = split(ENVIRON["AFTER"], line, "\n")
        for (i = 1; i <= n; i++) {
            split(line[i], f, " ")
            d = f[2] - was[f[1]]
            if (f[1] != "" && d > 0) { total += d; kinds = kinds (kinds == "" ? "" : ",") f[1] "=" d }
        }
        print total + 0 ":" kinds
    }'
}

sys_daemon() {
    case $1 in native | overlay) ;; *) daemon_pid "$(mnt_dir "$1")" ;; esac
}

run_status() {
    case $1 in
    0) echo ok ;;
    124 | 137) echo TIMEOUT ;;
    *) echo FAIL ;;
    esac
}

record() {
    local line
    line=$(printf '%s\t' "$@")
    printf '%s\n' "${line%$'\t'}" >>"$RESULTS"
    if [ "$8" = MOUNTFAIL ]; then
        note "$2 $3 on $4: could not mount (see $(run_dir "$4")/mount.log)"
    elif [ "$8" != ok ]; then
        note "$2 $3 on $4: $8: $(tail -n 3 "$WORKDIR/logs/last.err" 2>/dev/null | tr '\n' ' ')"
        cat "$WORKDIR/logs/last.err" >>"$WORKDIR/logs/errors.log" 2>/dev/null
    fi
}
