# report.sh: the tables, from the results file (see measure.sh for its format).
# Times are medians over rounds; a ratio is taken per round (time / baseline time
# in the same round) and its median printed. Plain awk (mawk is enough).
# shellcheck shell=bash

print_report() {
    local results=$1
    echo "unionfuse benchmark: $MODE mode, $ROUNDS round(s), $(uname -r), $(nproc) CPUs, $(date -u '+%F %H:%M UTC')"
    echo "results: $results"
    echo "upper layers: $(describe_upper_fs "$(cat "${results%.tsv}.upper-fs" 2>/dev/null)")"
    echo "sizes: meta $META_FILES files/$META_LAYERS layers; lN $SPREAD_FILES files, $SPREAD_MISSING missing names;" \
        "seqread $SEQ_MB MiB; cat $CAT_FILES x 4 KiB; copyup $CU_FILES x $((CU_SIZE / 1024)) KiB and $CUBIG_MB MiB;" \
        "create $CREATE_FILES; untar $SRC_FILES files; rmrf $RM_FILES; git $GIT_FILES files; make $MAKE_UNITS units"
    echo
    echo "Wall time, median over rounds; (xR) = median of per-round ratios to $BASELINE."
    report_awk times "$results"
    echo
    echo "FUSE daemons: CPU time during the run (utime+stime, median) / peak RSS (VmHWM, largest)."
    report_awk daemons "$results"
    if [[ " $SYSTEMS " == *" unionfuse "* ]]; then
        echo
        echo "unionfuse: requests its daemon answered during the run (unionfuse requests): median total over"
        echo "rounds, and the five most frequent kinds in the round of that median."
        report_requests "$results"
    fi
    echo
    echo "! = failed in some round (median of the others); FAIL/TIMEOUT/MOUNTFAIL = failed in every round."
    [ -s "$WORKDIR/logs/layers-modified" ] && { echo; echo "LOWER LAYERS MODIFIED:"; cat "$WORKDIR/logs/layers-modified"; }
    return 0
}

report_awk() {
    awk -F'\t' -v what="$1" -v systems="$SYSTEMS" -v base="$BASELINE" '
    function median(s,   v, n, i, j, x) {
        n = split(s, v, " ")
        for (i = 2; i <= n; i++) {
            x = v[i] + 0
            for (j = i - 1; j >= 1 && v[j] + 0 > x; j--) v[j + 1] = v[j]
            v[j + 1] = x
        }
        if (n == 0) return ""
        return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    function fmt_time(t) {
        return t < 10 ? sprintf("%.3fs", t) : t < 100 ? sprintf("%.2fs", t) : sprintf("%.1fs", t)
    }
    function fmt_mem(kb) {
        return kb < 10240 ? sprintf("%dK", kb) : kb < 10485760 ? sprintf("%.0fM", kb / 1024) : sprintf("%.1fG", kb / 1048576)
    }
    function add(arr, k, v) { arr[k] = (k in arr) ? arr[k] " " v : v }
    {
        row = $2 SUBSEP $3; k = row SUBSEP $4
        if (!(row in seen)) { seen[row] = 1; rows[++nrows] = row }
        if ($8 == "ok") {
            add(times, k, $5); add(cpu, k, $6)
            if ($7 + 0 > hwm[k]) hwm[k] = $7 + 0
            t[k, $1] = $5; rounds[$1] = 1
        } else { bad[k] = $8; nbad[k]++ }
    }
    END {
        ns = split(systems, sys, " ")
        for (i = 1; i <= ns; i++) {
            if (what == "times" || (sys[i] != "native" && sys[i] != "overlay")) cols[++nc] = sys[i]
        }
        if (nc == 0) { print "  (no FUSE system in this run)"; exit }
        w = (what == "times") ? 19 : 16
        printf "%-14s %-6s", "workload", "state"
        for (c = 1; c <= nc; c++) printf "%" w "s", cols[c]
        printf "\n"
        for (r = 1; r <= nrows; r++) {
            split(rows[r], rk, SUBSEP)
            printf "%-14s %-6s", rk[1], rk[2]
            for (c = 1; c <= nc; c++) printf "%" w "s", cell(rows[r], cols[c])
            printf "\n"
        }
    }
    function cell(row, s,   k, bk, ratios, rd, cellv) {
        k = row SUBSEP s
        if (!(k in times)) return (k in bad) ? bad[k] : "-"
        mark = (k in bad) ? "!" : ""
        if (what == "daemons")
            return sprintf("%.2fs/%s%s", median(cpu[k]), fmt_mem(hwm[k]), mark)
        bk = row SUBSEP base; ratios = ""
        for (rd in rounds)
            if (((k, rd) in t) && ((bk, rd) in t) && t[bk, rd] > 0)
                ratios = ratios " " t[k, rd] / t[bk, rd]
        cellv = fmt_time(median(times[k]))
        if (ratios != "") cellv = cellv sprintf(" (x%.2f)", median(ratios))
        return cellv mark
    }' "$2"
}

# The requests column of unionfuse's runs (measure.sh): "TOTAL:KIND=N,...".
report_requests() {
    awk -F'\t' '
    $4 == "unionfuse" && $8 == "ok" && $9 ~ /^[0-9]+:/ {
        row = $2 SUBSEP $3
        if (!(row in n)) rows[++nrows] = row
        split($9, tk, ":")
        i = ++n[row]; total[row, i] = tk[1] + 0; kinds[row, i] = tk[2]
    }
    function top(list,   k, nk, i, j, name, cnt, tmpn, tmpc, out, kv) {
        nk = split(list, k, ",")
        for (i = 1; i <= nk; i++) { split(k[i], kv, "="); name[i] = kv[1]; cnt[i] = kv[2] + 0 }
        for (i = 2; i <= nk; i++)
            for (j = i; j > 1 && cnt[j] > cnt[j - 1]; j--) {
                tmpn = name[j]; name[j] = name[j - 1]; name[j - 1] = tmpn
                tmpc = cnt[j]; cnt[j] = cnt[j - 1]; cnt[j - 1] = tmpc
            }
        out = ""
        for (i = 1; i <= nk && i <= 5; i++) out = out (i > 1 ? ", " : "") name[i] " " cnt[i]
        return out
    }
    END {
        if (nrows == 0) { print "  (no census: a unionfuse from before `unionfuse requests`)"; exit }
        printf "%-14s %-6s %9s  %s\n", "workload", "state", "requests", "kinds"
        for (r = 1; r <= nrows; r++) {
            row = rows[r]; m = n[row]
            # The run whose total is the median: sort the round indexes by total.
            for (i = 1; i <= m; i++) idx[i] = i
            for (i = 2; i <= m; i++)
                for (j = i; j > 1 && total[row, idx[j]] < total[row, idx[j - 1]]; j--) {
                    t = idx[j]; idx[j] = idx[j - 1]; idx[j - 1] = t
                }
            mid = idx[int((m + 1) / 2)]
            split(row, rk, SUBSEP)
            printf "%-14s %-6s %9d  %s\n", rk[1], rk[2], total[row, mid], top(kinds[row, mid])
        }
    }' "$1"
}

describe_upper_fs() {
    case $1 in
    scratch) echo "a new ext4 for every mount (loop device, direct I/O)" ;;
    workdir) echo "directories in the work dir's filesystem (--upper-fs workdir)" ;;
    *) echo "directories in the work dir's filesystem (results from before --upper-fs)" ;;
    esac
}

# --report FILE: the tables of an earlier run; mode, rounds and systems from the file.
report_again() {
    local f=$1 s
    [ -r "$f" ] || die "cannot read $f"
    case $f in *-quick.tsv) sizes_quick ;; *) sizes_full ;; esac
    ROUNDS=$(awk -F'\t' '$1 > n { n = $1 } END { print n + 0 }' "$f")
    SYSTEMS=
    for s in $ALL_SYSTEMS; do
        awk -F'\t' -v s="$s" '$4 == s { found = 1 } END { exit !found }' "$f" && SYSTEMS+="$s "
    done
    print_report "$f"
}
