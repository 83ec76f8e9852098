#!/usr/bin/env bash
# Regenerates the committed PTX beside each kernel source. Run from anywhere; needs nvcc 11.8
# (Debian non-free: nvidia-cuda-toolkit) and clang-14 as host compiler.
#
# Output: <kernel>.sm<NN>.ptx for each target NN. At run time the backend loads, per kernel file,
# the PTX with the highest NN not above the device's compute capability; the driver JIT-compiles
# it for the actual chip. sm80 is the floor for the tensor-core file (mma.sync bf16/tf32,
# cp.async); everything else also has an sm70 build for Volta/Turing (exact path only).
#
# Optional: FKM_NVCC13=/path/to/nvcc adds sm90 PTX built by a newer compiler (e.g. on the GPU
# machine), which the loader prefers on Hopper.
set -euo pipefail
cd "$(dirname "$0")"
NVCC=${NVCC:-nvcc}
HOSTCC=${HOSTCC:-clang-14}
FLAGS=(-std=c++17 -O3 -ptx)  # no fast math: the distances and norms must round as written

build() {  # build <source> <sm> [nvcc]
    local src=$1 sm=$2 cc=${3:-$NVCC}
    local out="${src%.cu}.sm${sm}.ptx"
    "$cc" -ccbin "$HOSTCC" "${FLAGS[@]}" -arch=compute_${sm} -o "$out.tmp" "$src"
    # Strip the compiler's build-path comments so that regenerating on another machine gives
    # the same bytes.
    grep -v '^// Compiler Build ID\|^// Cuda compilation tools\|^// Based on' "$out.tmp" > "$out"
    rm -f "$out.tmp"
    echo "built $out"
}

for src in *.cu; do
    case "$src" in
        flash_assign_mma.cu) build "$src" 80 ;;
        *) build "$src" 70; build "$src" 80 ;;
    esac
done

if [[ -n "${FKM_NVCC13:-}" ]]; then
    for src in *.cu; do build "$src" 90 "$FKM_NVCC13"; done
fi
