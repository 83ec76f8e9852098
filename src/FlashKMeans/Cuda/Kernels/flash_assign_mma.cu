// FlashAssign on tensor cores: for every point the nearest centroid under squared Euclidean
// distance, fused with the distance computation so that no N x K matrix is ever written.
//
// score(i, j) = |c_j|^2 - 2 x_i . c_j   (|x_i|^2 is constant per row, added only to the output distance)
//
// The main loop (mma_mainloop.cuh) sweeps the centroid tiles; this file's epilogue keeps each row's running argmin.
#include "mma_mainloop.cuh"

namespace flash_assign_mma {
using namespace mma_tiles;

// Per thread: the best score and its column for each of its 8 rows (4 mi x 2 h), over the columns it holds.
struct Argmin {
    const float* __restrict__ cnorm;
    int k;
    float best[4][2];
    int best_idx[4][2];

    __device__ __forceinline__ Argmin(const float* __restrict__ cnorm_, int k_) : cnorm(cnorm_), k(k_)
    {
#pragma unroll
        for (int mi = 0; mi < 4; ++mi)
#pragma unroll
            for (int h = 0; h < 2; ++h) { best[mi][h] = FKM_INF; best_idx[mi][h] = 0x7fffffff; }
    }

    __device__ __forceinline__ void tile(const float (&acc)[4][4][4], int tile, const Place& place)
    {
        const int col0 = tile * BN + place.column(0, 0);
        float cn[4][2];
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const int j = col0 + ni * 8 + e;
                cn[ni][e] = j < k ? __ldg(cnorm + j) : FKM_INF;
            }
#pragma unroll
        for (int mi = 0; mi < 4; ++mi)
#pragma unroll
            for (int h = 0; h < 2; ++h)
#pragma unroll
                for (int ni = 0; ni < 4; ++ni)
#pragma unroll
                    for (int e = 0; e < 2; ++e) {
                        const float s = fmaf(-2.f, acc[mi][ni][2 * h + e], cn[ni][e]);
                        if (s < best[mi][h]) { best[mi][h] = s; best_idx[mi][h] = col0 + ni * 8 + e; }
                    }
    }
};

template <typename Op>
__device__ __forceinline__ void run(
    const char* __restrict__ x, const char* __restrict__ c,
    const float* __restrict__ cnorm, const float* __restrict__ xnorm,
    int* __restrict__ labels, float* __restrict__ min_dist,
    int n, int k, int d_bytes, int ldx_bytes, int ldc_bytes, int update_min)
{
    extern __shared__ __align__(128) unsigned char smem[];
    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int warp_m = warp >> 2;
    const int warp_n = warp & 3;
    const int row0 = blockIdx.x * BM;
    const int b = blockIdx.y;

    x += (size_t)b * n * ldx_bytes;
    c += (size_t)b * k * ldc_bytes;
    cnorm += (size_t)b * k;

    Argmin argmin(cnorm, k);
    sweep<Op>(x, c, n, k, d_bytes, ldx_bytes, ldc_bytes, row0, smem, argmin);
    // The four lanes of a quad hold the same rows; then the four warps along N are merged.
    float* red_v = reinterpret_cast<float*>(smem);             // [4][BM]
    int* red_i = reinterpret_cast<int*>(smem + 4 * BM * 4);    // [4][BM]
#pragma unroll
    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float v;
            int i;
            quad_argmin(argmin.best[mi][h], argmin.best_idx[mi][h], v, i);
            if ((lane & 3) == 0) {
                const int r = warp_m * 64 + mi * 16 + h * 8 + (lane >> 2);
                red_v[warp_n * BM + r] = v;
                red_i[warp_n * BM + r] = i;
            }
        }
    __syncthreads();

    if (tid < BM) {
        const int gr = row0 + tid;
        if (gr < n) {
            float v = red_v[tid];
            int i = red_i[tid];
#pragma unroll
            for (int w = 1; w < 4; ++w) {
                const float ov = red_v[w * BM + tid];
                const int oi = red_i[w * BM + tid];
                if (argmin_better(ov, oi, v, i)) { v = ov; i = oi; }
            }
            store_nearest((size_t)b * n + gr, v, i, k, xnorm, labels, min_dist, update_min);
        }
    }
}

}  // namespace flash_assign_mma

// Arguments, identical for the three entry points (T = fp16, bf16 or fp32 per the name):
//   x        T     (B, n, ldx)  points; row elements d..ldx-1 are zero; for tf32, values already
//                               rounded to tf32 (pack_rows_tf32), else they are truncated
//   c        T     (B, k, ldc)  centroids in the same type; padding zero
//   cnorm    fp32  (B, k)       |c_j|^2 of exactly these (rounded) centroid values
//   xnorm    fp32  (B, n)       |x_i|^2; read only when min_dist is not null
//   labels   int32 (B, n)       out: nearest centroid index in [0, k); may be null
//   min_dist fp32  (B, n)       out: squared distance to it, clamped at 0; may be null
//   n, k, d  int               points per batch, centroids per batch, dimension
//   ldx, ldc int               row pitch of x and c in elements
//   update_min int             0: overwrite; 1: keep the smaller of min_dist and the new distance
//                              (labels are then written only where the distance improved)
// Launch: grid (ceil(n / 128), B), block 256, dynamic shared memory 98304 bytes.
#define FLASH_ASSIGN_ENTRY(NAME, T, OP)                                                                      \
    extern "C" __global__ void __launch_bounds__(flash_assign_mma::THREADS, 2) NAME(                           \
        const T* __restrict__ x, const T* __restrict__ c, const float* __restrict__ cnorm,                      \
        const float* __restrict__ xnorm, int* __restrict__ labels, float* __restrict__ min_dist,               \
        int n, int k, int d, int ldx, int ldc, int update_min)                                                  \
    {                                                                                                          \
        flash_assign_mma::run<OP>(reinterpret_cast<const char*>(x), reinterpret_cast<const char*>(c), cnorm,  \
                                  xnorm, labels, min_dist, n, k, d * (int)sizeof(T), ldx * (int)sizeof(T),    \
                                  ldc * (int)sizeof(T), update_min);                                           \
    }

FLASH_ASSIGN_ENTRY(flash_assign_f16, __half, flash_assign_mma::F16)
FLASH_ASSIGN_ENTRY(flash_assign_bf16, __nv_bfloat16, flash_assign_mma::BF16)
FLASH_ASSIGN_ENTRY(flash_assign_tf32, float, flash_assign_mma::TF32)
