#!/usr/bin/env bash
# Build unionfuse twice (plain, and with ASan+UBSan) and run the whole test
# suite on both. This is what CI runs.
#
# The two suites run at the same time: most tests wait on the kernel, the
# disk or a timer (the 60-second load test) rather than on a CPU, so two
# at once take little longer than one. Each suite's output goes to a log,
# printed whole when both are done.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
kinds=(plain asan)

for kind in "${kinds[@]}"; do
  dir=build-test-$kind
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
  [ "$kind" = asan ] && flags+=(-DUNIONFUSE_SANITIZE=ON)
  echo "=== $kind build"
  cmake -S . -B "$dir" "${flags[@]}" >/dev/null
  cmake --build "$dir" -j"$(nproc)" >/dev/null
done

declare -A pids
for kind in "${kinds[@]}"; do
  echo "=== $kind tests (log: build-test-$kind/ctest.log)"
  ctest --test-dir "build-test-$kind" --output-on-failure -j1 > "build-test-$kind/ctest.log" 2>&1 &
  pids[$kind]=$!
done

status=0
for kind in "${kinds[@]}"; do
  wait "${pids[$kind]}" || status=1
done
for kind in "${kinds[@]}"; do
  echo "=== $kind tests"
  cat "build-test-$kind/ctest.log"
done
exit $status
