// L1 (Manhattan) distances for k-medians fits and streams on the GPU: sum_j |x_j - c_j| in fp32, from the differences,
// in feature order. Tensor cores cannot compute it (it is not a dot product), so these are SIMT kernels: one thread per
// row, the centroids read through shared memory in tiles of TILE_C centroids x TILE_F features, TILE_C running sums
// per thread in registers. Rows and centroids are fp32 at pitch d.
#include "common.cuh"

namespace assign_l1 {
constexpr int TILE_C = 16;
constexpr int TILE_F = 64;
constexpr int THREADS = 128;

// Accumulates |x - c| for the tile's centroids c0 .. c0 + TILE_C - 1 over all features into acc.
__device__ __forceinline__ void tile_sums(const float* __restrict__ xr, bool live, const float* __restrict__ c, int k, int d, int c0,
                                          float (&tile)[TILE_C][TILE_F], float (&acc)[TILE_C])
{
#pragma unroll
    for (int cc = 0; cc < TILE_C; ++cc) acc[cc] = 0.f;
    for (int f0 = 0; f0 < d; f0 += TILE_F) {
        __syncthreads();  // the previous tile is no longer read
        for (int e = threadIdx.x; e < TILE_C * TILE_F; e += blockDim.x) {
            const int cc = e / TILE_F, ff = e - cc * TILE_F;
            const int gc = c0 + cc, gf = f0 + ff;
            tile[cc][ff] = gc < k && gf < d ? c[(size_t)gc * d + gf] : 0.f;
        }
        __syncthreads();
        const int fend = min(TILE_F, d - f0);
        if (!live) continue;
        for (int f = 0; f < fend; ++f) {
            const float v = xr[f0 + f];
#pragma unroll
            for (int cc = 0; cc < TILE_C; ++cc) acc[cc] += fabsf(v - tile[cc][f]);
        }
    }
}
}  // namespace assign_l1

// The nearest centroid of each row under L1 (the lower index on ties) and its L1 distance.
//   x         fp32 (n, d)    rows
//   c         fp32 (k, d)    centroids
//   labels    int32 (n)      out
//   distances fp32 (n)       out: the L1 distance to it
// Launch: grid ceil(n / 128), block 128.
extern "C" __global__ void __launch_bounds__(assign_l1::THREADS) assign_l1_f32(const float* __restrict__ x, const float* __restrict__ c,
                                                                               int n, int k, int d, int* __restrict__ labels,
                                                                               float* __restrict__ distances)
{
    using namespace assign_l1;
    __shared__ float tile[TILE_C][TILE_F];
    const int row = blockIdx.x * blockDim.x + threadIdx.x;
    const bool live = row < n;
    const float* xr = x + (size_t)(live ? row : 0) * d;
    float best = FKM_INF;
    int best_index = 0;
    float acc[TILE_C];
    for (int c0 = 0; c0 < k; c0 += TILE_C) {
        tile_sums(xr, live, c, k, d, c0, tile, acc);
#pragma unroll
        for (int cc = 0; cc < TILE_C; ++cc)
            if (c0 + cc < k && acc[cc] < best) { best = acc[cc]; best_index = c0 + cc; }
    }
    if (live) {
        labels[row] = best_index;
        distances[row] = best;
    }
}

// Every row's L1 distance to every centroid, row-major.
//   out fp32 (n, k)
// Launch: grid ceil(n / 128), block 128.
extern "C" __global__ void __launch_bounds__(assign_l1::THREADS) distances_l1_f32(const float* __restrict__ x, const float* __restrict__ c,
                                                                                  int n, int k, int d, float* __restrict__ out)
{
    using namespace assign_l1;
    __shared__ float tile[TILE_C][TILE_F];
    const int row = blockIdx.x * blockDim.x + threadIdx.x;
    const bool live = row < n;
    const float* xr = x + (size_t)(live ? row : 0) * d;
    float acc[TILE_C];
    for (int c0 = 0; c0 < k; c0 += TILE_C) {
        tile_sums(xr, live, c, k, d, c0, tile, acc);
        if (!live) continue;
#pragma unroll
        for (int cc = 0; cc < TILE_C; ++cc)
            if (c0 + cc < k) out[(size_t)row * k + c0 + cc] = acc[cc];
    }
}
