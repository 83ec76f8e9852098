// Top-k nearest centroids on Hopper (sm_90a only): the warp-specialised FlashAssign sweep of flash_assign_ws.cuh with
// the RowLists epilogue in place of the argmin. For every row its top nearest centroids (prototypes) under squared
// Euclidean distance, nearest first, ties to the lower index, with no N x K matrix written.
//
// Why on this sweep: the mma.sync top-k of flash_topk.cu ran at 0.13-0.20 of this sweep's argmin rate on the H100 (one
// block per SM, a shared-memory score tile). Here each consumer lane filters its own quarter of a tile's columns against
// its row's bound in registers, so the epilogue costs little more than the argmin's, and the producer warp keeps the
// tensor cores fed meanwhile. The lists take 4 TOP registers per thread beside the 64 accumulators and the row
// fragments: lists of 4 on rows of up to 256 bytes fit three consumer warpgroups, as FlashAssign runs (128 registers a
// thread); the rest run two, and rows of 257-512 bytes take lists of up to 8.
// Built only by nvcc 12+ (PTX ISA 8.0) for compute_90a; see build-ptx.sh.
#include "flash_assign_ws.cuh"

// Arguments (T = fp16, bf16 or fp32 per the name):
//   x         T     (B, n, ldx)  rows; padding zero; for tf32 already rounded to tf32; pitch ldx <= KCH * 128 bytes
//   tiles     the centroids as packed tiles of KCH chunks (pack_centroid_tiles, flash_assign_ws.cu)
//   xnorm     fp32  (B, n)       |x_i|^2
//   indices   int32 (B, n, top)  out: the top nearest centroids, nearest first (ties to the lower index); -1 past k
//   distances fp32  (B, n, top)  out: their squared distances, clamped at 0; +inf past k
//   top       int                in [1, LIST]
// Launch: grid (min(B * ceil(n / (64 NWG)), one block per SM)), block 128 NWG + 32, dynamic shared memory
// 1024 + STAGES * (KCH * 16384 + 1024) + 64 NWG * KCH * 128 + 128 + 80 bytes (the mbarriers), then with
// SCRATCH the consumers' scratch: 128 NWG * 256 bytes (TOPK_SCRATCH_BYTES in topk_lists.cuh).
#define FLASH_TOPK_WS_ENTRY(NAME, T, OP, KCH, NWG, STAGES, LIST, SCRATCH)                                      \
    extern "C" __global__ void __launch_bounds__((NWG) * 128 + 32, 1) NAME(                                    \
        const T* __restrict__ x, const char* __restrict__ tiles, const float* __restrict__ xnorm,              \
        int* __restrict__ indices, float* __restrict__ distances, int n, int k, int ldx, int batches, int top)  \
    {                                                                                                          \
        flash_assign_ws::run<T, OP, KCH, NWG, STAGES, LIST, SCRATCH>(                                          \
            reinterpret_cast<const char*>(x), tiles, xnorm, indices, distances, n, k, ldx * (int)sizeof(T),    \
            batches, 0, {}, top);                                                                              \
    }

// Shapes (consumer warpgroups, stages, scratch) per row chunks and list length: CudaSession.TopKWarpSpecialisedShape.
#define FLASH_TOPK_WS_TYPES(KCH, NWG, STAGES, LIST, SCRATCH)                                                               \
    FLASH_TOPK_WS_ENTRY(flash_topk_ws##KCH##_##LIST##_f16, __half, register_a::F16, KCH, NWG, STAGES, LIST, SCRATCH)         \
    FLASH_TOPK_WS_ENTRY(flash_topk_ws##KCH##_##LIST##_bf16, __nv_bfloat16, register_a::BF16, KCH, NWG, STAGES, LIST, SCRATCH) \
    FLASH_TOPK_WS_ENTRY(flash_topk_ws##KCH##_##LIST##_tf32, float, register_a::TF32, KCH, NWG, STAGES, LIST, SCRATCH)

FLASH_TOPK_WS_TYPES(1, 3, 4, 4, true)
FLASH_TOPK_WS_TYPES(1, 2, 4, 8, true)
FLASH_TOPK_WS_TYPES(1, 2, 4, 16, true)
FLASH_TOPK_WS_TYPES(2, 3, 2, 4, true)
FLASH_TOPK_WS_TYPES(2, 2, 3, 8, true)
FLASH_TOPK_WS_TYPES(2, 2, 3, 16, true)
FLASH_TOPK_WS_TYPES(4, 2, 2, 4, false)
FLASH_TOPK_WS_TYPES(4, 2, 2, 8, false)
