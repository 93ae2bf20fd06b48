#!/usr/bin/env bash
# Build unionfuse, mount the example image of tests/example-image, and show
# what the union does: shadowing, a whiteout, an opaque directory, a merged
# directory, then a copy-up and a deletion landing in the upper layer.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

demo=$(mktemp -d /tmp/unionfuse-demo.XXXXXX)
mnt=$demo/mnt
mkdir "$mnt"
cleanup() { build/unionfuse umount "$mnt" 2>/dev/null || true; }
trap cleanup EXIT

show() { printf '\n$ %s\n' "$*"; "$@"; }

echo "Mounting tests/example-image (1-base, then 2-app on top) with an upper layer:"
show build/unionfuse mount tests/example-image/1-base tests/example-image/2-app \
  --upper "$demo/upper" "$mnt"
show find "$mnt" -mindepth 1 -printf '%P\n'
echo; echo "The top layer wins; the whiteout .wh.motd deleted /etc/motd:"
show cat "$mnt/etc/os-release"
show ls "$mnt/etc"
echo; echo "The opaque marker hides the base layer's cache; /usr/share merges both layers:"
show ls "$mnt/var/cache/apt" "$mnt/usr/share"
echo; echo "Writing copies a file up; deleting a lower file leaves a whiteout:"
show sh -c "echo '10.0.0.2 demo' >> '$mnt/etc/hosts'"
show rm "$mnt/etc/passwd"
show ls -la "$demo/upper/etc"
echo; echo "Ask the union why: which layer answers, which whiteout hides what:"
show build/unionfuse explain "$mnt/etc/motd"
show build/unionfuse explain "$mnt/etc/hosts"
show build/unionfuse layers "$mnt"
echo; echo "The lower layers are untouched:"
show cat tests/example-image/1-base/etc/hosts
show build/unionfuse umount "$mnt"
trap - EXIT
echo; echo "Upper layer kept in $demo/upper"
