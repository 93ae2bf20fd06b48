#!/usr/bin/env bash
# Build unionfuse twice (plain, and with ASan+UBSan) and run the whole test
# suite on both. This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
status=0
for kind in plain asan; do
  dir=build-test-$kind
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
  [ "$kind" = asan ] && flags+=(-DUNIONFUSE_SANITIZE=ON)
  echo "=== $kind build"
  cmake -S . -B "$dir" "${flags[@]}" >/dev/null
  cmake --build "$dir" -j"$(nproc)" >/dev/null
  echo "=== $kind tests"
  ctest --test-dir "$dir" --output-on-failure -j1 || status=1
done
exit $status
