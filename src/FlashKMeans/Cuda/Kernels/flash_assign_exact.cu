// Exact-fp32 assignment on the CUDA cores: the nearest centroid of every point, computing each
// distance as sum((x - c)^2) in fp32. Used when the caller asks for exact arithmetic and for
// small d (below 16), where padding the tensor-core k-step would waste most of the work.
#include "simt_tile.cuh"

template <typename T, int KC>
__device__ __forceinline__ void flash_assign_exact_run(
    const T* __restrict__ x, const T* __restrict__ c, int* __restrict__ labels, float* __restrict__ min_dist,
    int n, int k, int d, int ldx, int ldc, int update_min)
{
    __shared__ float xs[KC * simt_tile::PAD];
    __shared__ float cs[KC * simt_tile::PAD];
    const int b = blockIdx.y;
    const int row0 = blockIdx.x * simt_tile::TM;
    const int tx = threadIdx.x & 15;
    const int ty = threadIdx.x >> 4;
    x += (size_t)b * n * ldx;
    c += (size_t)b * k * ldc;

    float best[4];
    int best_idx[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) { best[i] = FKM_INF; best_idx[i] = 0x7fffffff; }

    for (int col0 = 0; col0 < k; col0 += simt_tile::TN) {
        float acc[4][4];
        simt_tile::distances<T, KC>(x, ldx, row0, n, c, ldc, col0, k, d, xs, cs, acc);
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int col = col0 + tx + 16 * j;
                if (col < k && acc[i][j] < best[i]) { best[i] = acc[i][j]; best_idx[i] = col; }
            }
    }

    // tx is the low 4 bits of the lane: the 16 threads sharing a row form half a warp.
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        float v = best[i];
        int idx = best_idx[i];
        argmin_shfl_xor(v, idx, 1);
        argmin_shfl_xor(v, idx, 2);
        argmin_shfl_xor(v, idx, 4);
        argmin_shfl_xor(v, idx, 8);
        const int gr = row0 + ty + 16 * i;
        if (tx == 0 && gr < n) {
            if (idx >= k) idx = 0;
            const size_t o = (size_t)b * n + gr;
            if (update_min && min_dist != nullptr) {
                if (v < min_dist[o]) {
                    min_dist[o] = v;
                    if (labels != nullptr) labels[o] = idx;
                }
            } else {
                if (min_dist != nullptr) min_dist[o] = v;
                if (labels != nullptr) labels[o] = idx;
            }
        }
    }
}

// Arguments (T = fp32, fp16 or bf16 per the name; the arithmetic is fp32 in every case):
//   x        T     (B, n, ldx)  points
//   c        T     (B, k, ldc)  centroids
//   labels   int32 (B, n)       out: nearest centroid, smallest index on exact ties; may be null
//   min_dist fp32  (B, n)       out: its squared distance; may be null
//   n, k, d, ldx, ldc, update_min as for flash_assign_*; no alignment or padding requirement
// Launch: grid (ceil(n / 64), B), block 256. The _small variants step d by 8 instead of 32.
#define EXACT_ENTRY(NAME, T, KC)                                                                           \
    extern "C" __global__ void __launch_bounds__(simt_tile::THREADS) NAME(                                  \
        const T* __restrict__ x, const T* __restrict__ c, int* __restrict__ labels,                         \
        float* __restrict__ min_dist, int n, int k, int d, int ldx, int ldc, int update_min)                \
    {                                                                                                       \
        flash_assign_exact_run<T, KC>(x, c, labels, min_dist, n, k, d, ldx, ldc, update_min);             \
    }

EXACT_ENTRY(flash_assign_exact_f32, float, 32)
EXACT_ENTRY(flash_assign_exact_f16, __half, 32)
EXACT_ENTRY(flash_assign_exact_bf16, __nv_bfloat16, 32)
EXACT_ENTRY(flash_assign_exact_small_f32, float, 8)
EXACT_ENTRY(flash_assign_exact_small_f16, __half, 8)
EXACT_ENTRY(flash_assign_exact_small_bf16, __nv_bfloat16, 8)
