// FlashAssign, warp-specialised (sm_90a only): the entries over the sweep of flash_assign_ws.cuh, and the packing of
// centroids into the tiles it streams. Built only by nvcc 12+ (PTX ISA 8.0) for compute_90a; see build-ptx.sh.
#include "flash_assign_ws_shared_rows.cuh"

// Re-lays stored centroids (B problems of k rows at pitch ldc bytes, ldc <= kch * 128) and their norms
// into the packed tiles the kernels below stream (centroid_tiles.cuh): per problem ceil(k / 128) tiles of
// tile_bytes(kch) = kch * 16384 + 512 bytes each, padding included. Launch: grid (any, B), block 256.
extern "C" __global__ void pack_centroid_tiles(
    const char* __restrict__ c, const float* __restrict__ cnorm, char* __restrict__ tiles, int k, int ldc_bytes, int kch)
{
    using namespace flash_assign_ws;
    const int ntiles = (k + BN - 1) / BN;
    const int tb = tile_bytes(kch);
    const int b = blockIdx.y;
    c += (size_t)b * k * ldc_bytes;
    cnorm += (size_t)b * k;
    tiles += (size_t)b * ntiles * tb;
    const long pieces = (long)ntiles * kch * BN * 8;  // 16-byte pieces
    const long stride = (long)gridDim.x * blockDim.x;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < pieces; i += stride) {
        const int tile = (int)(i / (kch * BN * 8));
        int rem = (int)(i - (long)tile * kch * BN * 8);
        const int kc = rem / (BN * 8);
        rem -= kc * BN * 8;
        const int r = rem >> 3, chunk = rem & 7;
        const int gc = tile * BN + r;
        const int cbyte = kc * 128 + chunk * 16;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (gc < k && cbyte < ldc_bytes) v = *reinterpret_cast<const uint4*>(c + (size_t)gc * ldc_bytes + cbyte);
        *reinterpret_cast<uint4*>(tiles + (size_t)tile * tb + centroid_tiles::row_byte(r, cbyte)) = v;
    }
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < (long)ntiles * BN; i += stride) {
        const int tile = (int)(i / BN), r = (int)(i - (long)tile * BN);
        const int gc = tile * BN + r;
        *reinterpret_cast<float*>(tiles + (size_t)tile * tb + centroid_tiles::norm_at(r, kch)) = gc < k ? cnorm[gc] : FKM_INF;
    }
}

// Nearest centroid for rows of at most KCH * 128 bytes, as flash_assign_* in flash_assign_mma.cu, with
// the centroids given as packed tiles (pack_centroid_tiles) and B problems in one launch.
// Rows of up to 256 bytes take three consumer warpgroups and four stages; rows of up to 512 bytes
// (tf32 d = 128) hold twice the fragments, so two warpgroups (registers) and two stages (shared memory).
// Launch: grid (min(B * ceil(n / (64 NWG)), one block per SM)), block 160 NWG + 32 (the storer warps), dynamic
// shared memory 1024 + STAGES * (KCH * 16384 + 1024) + 64 NWG * KCH * 128 + 128 + 80 + 32 + 16 * 64 NWG bytes (the
// last two: the slots' mbarriers and the slots). Rows: pitch ldx <= KCH * 128 bytes. previous, signed_counts,
// changed, counts: the centroid update's count of labels (MovedCount), or null previous for none.
#define FLASH_ASSIGN_WS_ENTRY(NAME, T, OP, KCH, NWG, STAGES)                                                   \
    extern "C" __global__ void __launch_bounds__((NWG) * 160 + 32, 1) NAME(                                    \
        const T* __restrict__ x, const char* __restrict__ tiles, const float* __restrict__ xnorm,              \
        int* __restrict__ labels, float* __restrict__ min_dist, int n, int k, int ldx, int batches,            \
        int update_min, int* previous, int* signed_counts, unsigned long long* changed, int* counts)           \
    {                                                                                                          \
        flash_assign_ws::run<T, OP, KCH, NWG, STAGES>(reinterpret_cast<const char*>(x), tiles, xnorm, labels,  \
                                                      min_dist, n, k, ldx * (int)sizeof(T), batches,           \
                                                      update_min, {previous, signed_counts, changed, counts}); \
    }

FLASH_ASSIGN_WS_ENTRY(flash_assign_ws1_f16, __half, register_a::F16, 1, 3, 4)
FLASH_ASSIGN_WS_ENTRY(flash_assign_ws1_bf16, __nv_bfloat16, register_a::BF16, 1, 3, 4)
FLASH_ASSIGN_WS_ENTRY(flash_assign_ws1_tf32, float, register_a::TF32, 1, 3, 4)
FLASH_ASSIGN_WS_ENTRY(flash_assign_ws2_f16, __half, register_a::F16, 2, 3, 4)
FLASH_ASSIGN_WS_ENTRY(flash_assign_ws2_bf16, __nv_bfloat16, register_a::BF16, 2, 3, 4)
FLASH_ASSIGN_WS_ENTRY(flash_assign_ws2_tf32, float, register_a::TF32, 2, 3, 4)
FLASH_ASSIGN_WS_ENTRY(flash_assign_ws4_f16, __half, register_a::F16, 4, 2, 2)
FLASH_ASSIGN_WS_ENTRY(flash_assign_ws4_bf16, __nv_bfloat16, register_a::BF16, 4, 2, 2)
FLASH_ASSIGN_WS_ENTRY(flash_assign_ws4_tf32, float, register_a::TF32, 4, 2, 2)

// Nearest centroid for rows of 513-1024 bytes (run_shared_rows): the rows through the tensor map xmap (see there),
// the centroids as packed tiles of 8 chunks. Launch: grid (min(B * ceil(n / 128), one block per SM)), block 384
// (2 consumer warpgroups, the centroid and the row producer warps, 2 storer warps), dynamic shared memory
// 1024 + 5 * 17408 + 8 * 16384 + 16 * (5 + 8) + 32 + 2048 bytes. previous, signed_counts, changed, counts as above.
#define FLASH_ASSIGN_WS_SHARED_ROWS_ENTRY(NAME, OP)                                                            \
    extern "C" __global__ void __launch_bounds__(384, 1) NAME(                                                 \
        const __grid_constant__ flash_assign_ws::TensorMap xmap, const char* __restrict__ tiles,              \
        const float* __restrict__ xnorm, int* __restrict__ labels, float* __restrict__ min_dist, int n, int k, \
        int batches, int update_min, int* previous, int* signed_counts, unsigned long long* changed,          \
        int* counts)                                                                                           \
    {                                                                                                          \
        flash_assign_ws::run_shared_rows<OP, 2, 5>(&xmap, tiles, xnorm, labels, min_dist, n, k, batches,       \
                                                   update_min, {previous, signed_counts, changed, counts});    \
    }

FLASH_ASSIGN_WS_SHARED_ROWS_ENTRY(flash_assign_ws8_f16, shared_a::F16)
FLASH_ASSIGN_WS_SHARED_ROWS_ENTRY(flash_assign_ws8_bf16, shared_a::BF16)
FLASH_ASSIGN_WS_SHARED_ROWS_ENTRY(flash_assign_ws8_tf32, shared_a::TF32)
