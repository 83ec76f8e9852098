// All K squared distances of every point, for Transform (ML.NET's Score column). This is the
// one kernel that writes an N x K matrix, because the caller asked for exactly that.
#include "simt_tile.cuh"

// Arguments (T per the name; fp32 arithmetic, difference form):
//   x     T    (B, n, ldx)  points
//   c     T    (B, k, ldc)  centroids
//   dist  fp32 (B, n, k)    out: dist[b, i, j] = |x_i - c_j|^2
//   n, k, d, ldx, ldc int
// Launch: grid (ceil(n / 64), ceil(k / 64), B), block 256.
#define ALL_DIST_ENTRY(NAME, T)                                                                           \
    extern "C" __global__ void __launch_bounds__(simt_tile::THREADS) NAME(                                 \
        const T* __restrict__ x, const T* __restrict__ c, float* __restrict__ dist,                        \
        int n, int k, int d, int ldx, int ldc)                                                             \
    {                                                                                                      \
        __shared__ float xs[32 * simt_tile::PAD];                                                          \
        __shared__ float cs[32 * simt_tile::PAD];                                                          \
        const int b = blockIdx.z;                                                                          \
        const int row0 = blockIdx.x * simt_tile::TM;                                                       \
        const int col0 = blockIdx.y * simt_tile::TN;                                                       \
        float acc[4][4];                                                                                   \
        simt_tile::distances<T, 32>(x + (size_t)b * n * ldx, ldx, row0, n, c + (size_t)b * k * ldc, ldc,  \
                                    col0, k, d, xs, cs, acc);                                              \
        const int tx = threadIdx.x & 15;                                                                   \
        const int ty = threadIdx.x >> 4;                                                                   \
        for (int i = 0; i < 4; ++i) {                                                                      \
            const int gr = row0 + ty + 16 * i;                                                             \
            if (gr >= n) continue;                                                                         \
            for (int j = 0; j < 4; ++j) {                                                                  \
                const int gc = col0 + tx + 16 * j;                                                         \
                if (gc < k) dist[((size_t)b * n + gr) * k + gc] = acc[i][j];                               \
            }                                                                                              \
        }                                                                                                  \
    }

ALL_DIST_ENTRY(all_distances_f32, float)
ALL_DIST_ENTRY(all_distances_f16, __half)
ALL_DIST_ENTRY(all_distances_bf16, __nv_bfloat16)
