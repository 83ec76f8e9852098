#!/usr/bin/env bash
# Regenerates the committed PTX of each kernel source into generated/. Run from anywhere; needs nvcc 11.8
# (Debian non-free: nvidia-cuda-toolkit) and clang-14 as host compiler.
#
# Output: generated/<kernel>.sm<NN>.ptx for each target NN. At run time the backend loads, per kernel file,
# the PTX with the highest NN not above the device's compute capability; the driver JIT-compiles
# it for the actual chip. sm80 is the floor for the tensor-core file (mma.sync bf16/tf32,
# cp.async); everything else also has an sm70 build for Volta/Turing (exact path only).
#
# Optional: FKM_NVCC13=/path/to/nvcc (12.0 or later, e.g. the nvcc 13 on the GPU machine) also
# builds flash_assign_wgmma.cu for compute_90a (wgmma needs PTX ISA 8.0, which nvcc 11.8 lacks).
# Architecture-specific "a" PTX runs only on exactly that architecture (Hopper, 9.0); the loader
# prefers it there. FKM_HOSTCC13 names that compiler's host compiler (default: its own default).
# With the argument --sm90a-only (on the GPU machine, which has nvcc 13 but not 11.8) only those
# files are built.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p generated
NVCC=${NVCC:-nvcc}
HOSTCC=${HOSTCC:-clang-14}
FLAGS=(-std=c++17 -O3 -ptx)  # no fast math: the distances and norms must round as written

build() {  # build <source> <sm> [nvcc] [host compiler]
    local src=$1 sm=$2 cc=${3:-$NVCC} host=${4-$HOSTCC}
    local out="generated/${src%.cu}.sm${sm}.ptx"
    "$cc" ${host:+-ccbin "$host"} "${FLAGS[@]}" -arch=compute_${sm} -o "$out.tmp" "$src"
    # Strip the compiler's build-path comments so that regenerating on another machine gives
    # the same bytes.
    grep -v '^// Compiler Build ID\|^// Cuda compilation tools\|^// Based on' "$out.tmp" > "$out"
    rm -f "$out.tmp"
    echo "built $out"
}

SM90A=(flash_assign_wgmma.cu flash_assign_ws.cu flash_topk_ws.cu)  # PTX ISA 8.0 (wgmma, bulk copies, mbarrier tx counts)

for src in *.cu; do
    [[ "${1:-}" == --sm90a-only ]] && break
    case "$src" in
        flash_assign_wgmma.cu|flash_assign_ws.cu|flash_topk_ws.cu) ;;  # FKM_NVCC13 below
        flash_assign_mma.cu|flash_topk.cu) build "$src" 80 ;;
        *) build "$src" 70; build "$src" 80 ;;
    esac
done

if [[ -n "${FKM_NVCC13:-}" ]]; then
    for src in "${SM90A[@]}"; do
        build "$src" 90a "$FKM_NVCC13" "${FKM_HOSTCC13:-}"
    done
fi
