#!/bin/bash
# Runs every t_*.sh in turn: run.sh [UNIONFUSE_BINARY [HELPERS_DIR]].
# Prints each script's results and the totals; exits non-zero on a failure.
dir=$(dirname "$0")
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0 failed=0 start=$SECONDS
for script in "$dir"/t_*.sh; do
        bash "$script" "$@" | tee "$log"
        read -r p _ f _ < <(tail -1 "$log")
        if [[ $p =~ ^[0-9]+$ && $f =~ ^[0-9]+$ ]]; then
                passed=$((passed + p)) failed=$((failed + f))
        else
                failed=$((failed + 1))  # the script bailed out
        fi
done
echo "# all e2e scripts: $((SECONDS - start))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
