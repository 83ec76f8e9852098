#!/usr/bin/env bash
# Streaming (out-of-core) GPU tests and benchmark on a machine with an NVIDIA GPU but no .NET.
#
#   scripts/stream-bench.sh publish [DEST]  (here, with the .NET SDK) publishes the GPU test runner and the
#                                           streaming benchmark self-contained and trimmed into DEST
#                                           (default .device/stream), with this script.
#   DEST/stream-bench.sh test [NAMES]       (there) runs the streaming GPU tests (NAMES: Class or
#                                           Class.Method, default StreamingGpuTests) through gpu-tests.sh.
#   DEST/stream-bench.sh bench [ARGS]       (there) runs the benchmark; ARGS go to it (--cases, --iters, ...).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cmd="${1:-}"
shift || true
case "$cmd" in
  publish)
    root="$(cd "$here/.." && pwd)"
    dest="${1:-$root/.device/stream}"
    source "$here/gpu-publish.sh"
    publish_gpu_bundle "$root" "$dest" bench/gpu/FlashKMeans.StreamBench
    cp "$0" "$dest/stream-bench.sh"
    cp "$here/gpu-tests.sh" "$dest/gpu-tests.sh"
    du -sh "$dest"
    ;;
  test)
    if [ "$#" -eq 0 ]; then set -- StreamingGpuTests; fi
    "$here/gpu-tests.sh" run "$@"
    ;;
  bench)
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,pcie.link.gen.current,pcie.link.width.current --format=csv,noheader || true
    "$here/bench/FlashKMeans.StreamBench" "$@"
    ;;
  *)
    echo "usage: $0 publish [DEST] | test [NAMES] | bench [ARGS]" >&2
    exit 2
    ;;
esac
