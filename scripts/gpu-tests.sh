#!/usr/bin/env bash
# GPU tests and GPU benchmark on a machine with an NVIDIA GPU but no .NET.
#
#   scripts/gpu-tests.sh publish [DEST]   (here, with the .NET SDK) publishes the test runner and the
#                                         benchmark self-contained and trimmed into DEST (default
#                                         .device/gpu), with the PTX check script and this script.
#   DEST/gpu-tests.sh run [NAMES] [OPTS]  (there) runs, through MSTest's runner, every test of category
#                                         Gpu plus the selection and PTX tests, with the real driver;
#                                         NAMES (Class or Class.Method, matched as substrings of the full
#                                         name) select tests instead; OPTS (--timeout 200s, ...) go to
#                                         the runner as they are.
#   DEST/gpu-tests.sh mlnet-bench [ARGS]  (there) the ML.NET path against the engine on the GPU
#                                         (bench/FlashKMeans.MLNet.Bench --device cuda; ARGS go to it).
#   DEST/gpu-tests.sh bench [ARGS]        (there) runs the benchmark; ARGS go to it (--iters, --only).
#                                         Then, in the same call, the same-run baselines of
#                                         torch_baseline.py (cuBLAS GEMM ceilings, a PyTorch Lloyd step)
#                                         where python3 has torch.
#
# The runner exits non-zero when a test failed; Inconclusive (no device) counts as skipped.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cmd="${1:-}"
shift || true
case "$cmd" in
  publish)
    root="$(cd "$here/.." && pwd)"
    dest="${1:-$root/.device/gpu}"
    source "$here/gpu-publish.sh"
    publish_gpu_bundle "$root" "$dest" bench/gpu/FlashKMeans.GpuBench
    dotnet publish "$root/bench/FlashKMeans.MLNet.Bench" -c Release -r linux-x64 --self-contained -p:PublishTrimmed=true \
      -p:DebugType=none -o "$dest/mlnet-bench"
    mkdir -p "$dest/kernels"
    cp "$root"/src/FlashKMeans/Cuda/Kernels/*.{cu,cuh} "$root"/src/FlashKMeans/Cuda/Kernels/generated/*.ptx "$dest/kernels/"
    cp "$root/bench/gpu/kernels_check.py" "$root/bench/gpu/torch_baseline.py" "$root/bench/gpu/peers_whole_fit.py" "$dest/"
    cp "$0" "$dest/gpu-tests.sh"
    du -sh "$dest"
    ;;
  run)
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
    filter="" options=()
    for arg in "$@"; do
      if [[ "$arg" == --* || ${#options[@]} -gt 0 ]]; then options+=("$arg"); else filter+="${filter:+|}FullyQualifiedName~$arg"; fi
    done
    : "${filter:=TestCategory=Gpu|FullyQualifiedName~CudaSelectionTests|FullyQualifiedName~PtxResourceTests}"
    "$here/tests/FlashKMeans.GpuTestRunner" --filter "$filter" --no-ansi --progress off --output Detailed \
      --show-stdout Failed --show-stderr Failed "${options[@]}"
    ;;
  mlnet-bench)
    "$here/mlnet-bench/FlashKMeans.MLNet.Bench" --device cuda "$@"
    ;;
  bench)
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader || true
    "$here/bench/FlashKMeans.GpuBench" "$@"
    if python3 -c "import torch" 2>/dev/null; then
      python3 "$here/torch_baseline.py"
    fi
    ;;
  *)
    echo "usage: $0 publish [DEST] | run [NAMES] [OPTS] | bench [ARGS] | mlnet-bench [ARGS]" >&2
    exit 2
    ;;
esac
