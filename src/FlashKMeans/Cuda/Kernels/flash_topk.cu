// FlashAssign with a top-k epilogue: for every row its k nearest centroids (prototypes) under squared Euclidean
// distance, nearest first, ties to the lower index, fused with the distances so that no N x K matrix is written.
// The main loop is FlashAssign's (mma_mainloop.cuh, tensor cores); where FlashAssign keeps one running argmin per row,
// this keeps a sorted list of the T best per row half, in registers.
//
// Each centroid tile's scores (|c|^2 - 2 x.c) go to shared memory; then two threads per row each scan half of the
// tile's 128 columns (even or odd ones), inserting only scores below their list's last, which after the first tiles
// few are. At the end the two lists of a row are merged in shared memory and the first k entries stored.
#include "mma_mainloop.cuh"

namespace flash_topk {
using namespace mma_tiles;

// Scores of one tile, row-major with a pitch of 130 floats: the scan's 32 threads of a warp (16 rows x 2 halves) read
// column 2c + half of their row at bank (2 * row + 2c + half) mod 32, 32 different banks.
constexpr int PITCH = BN + 2;
constexpr int SCORE_BYTES = BM * PITCH * 4;          // 66,560
constexpr int SMEM_TOTAL = SMEM_BYTES + SCORE_BYTES; // 164,864: one block per SM

template <int T>
struct TopK {
    const float* __restrict__ cnorm;
    int k;
    float* scores;
    float v[T];
    int ix[T];

    __device__ __forceinline__ TopK(const float* __restrict__ cnorm_, int k_, float* scores_) : cnorm(cnorm_), k(k_), scores(scores_)
    {
#pragma unroll
        for (int j = 0; j < T; ++j) { v[j] = FKM_INF; ix[j] = 0x7fffffff; }
    }

    // Sorted insertion by (score, index); columns arrive in increasing order, so a tie keeps the earlier entry.
    __device__ __forceinline__ void insert(float s, int i)
    {
#pragma unroll
        for (int j = 0; j < T; ++j) {
            if (s < v[j]) {
                const float tv = v[j];
                const int ti = ix[j];
                v[j] = s;
                ix[j] = i;
                s = tv;
                i = ti;
            }
        }
    }

    __device__ __forceinline__ void tile(const float (&acc)[4][4][4], int tile, const Place& place)
    {
        const int base = tile * BN;
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const int col = place.column(ni, e);
                const int j = base + col;
                const float cn = j < k ? __ldg(cnorm + j) : FKM_INF;
#pragma unroll
                for (int mi = 0; mi < 4; ++mi)
#pragma unroll
                    for (int h = 0; h < 2; ++h)
                        scores[place.row(mi, h) * PITCH + col] = j < k ? fmaf(-2.f, acc[mi][ni][2 * h + e], cn) : FKM_INF;
            }
        __syncthreads();
        const int row = place.tid >> 1, half = place.tid & 1;
        const float* line = scores + row * PITCH + half;
#pragma unroll 8
        for (int c = 0; c < BN / 2; ++c) {
            const float s = line[2 * c];
            if (s < v[T - 1]) insert(s, base + 2 * c + half);
        }
        __syncthreads();  // the next tile overwrites the scores
    }
};

template <typename Op, int T>
__device__ __forceinline__ void run(const char* __restrict__ x, const char* __restrict__ c, const float* __restrict__ cnorm,
                                    const float* __restrict__ xnorm, int* __restrict__ indices, float* __restrict__ distances,
                                    int n, int k, int d_bytes, int ldx_bytes, int ldc_bytes, int top)
{
    extern __shared__ __align__(128) unsigned char smem[];
    const int row0 = blockIdx.x * BM;
    const int b = blockIdx.y;
    x += (size_t)b * n * ldx_bytes;
    c += (size_t)b * k * ldc_bytes;
    cnorm += (size_t)b * k;

    float* scores = reinterpret_cast<float*>(smem + SMEM_BYTES);
    TopK<T> list(cnorm, k, scores);
    sweep<Op>(x, c, n, k, d_bytes, ldx_bytes, ldc_bytes, row0, smem, list);

    // Both halves' lists of each row side by side in the (now idle) pipeline memory: [row][half][T].
    float* merged_v = reinterpret_cast<float*>(smem);
    int* merged_i = reinterpret_cast<int*>(smem + BM * 2 * T * 4);
    static_assert(BM * 2 * T * 8 <= SMEM_BYTES, "both lists of every row fit in the pipeline's memory");
    const int tid = threadIdx.x;
    const int row = tid >> 1, half = tid & 1;
#pragma unroll
    for (int j = 0; j < T; ++j) {
        merged_v[(row * 2 + half) * T + j] = list.v[j];
        merged_i[(row * 2 + half) * T + j] = list.ix[j];
    }
    __syncthreads();
    if (tid < BM) {
        const int gr = row0 + tid;
        if (gr < n) {
            const size_t o = (size_t)b * n + gr;
            const float xn = xnorm[o];
            const float* av = merged_v + tid * 2 * T;
            const int* ai = merged_i + tid * 2 * T;
            int p = 0, q = 0;
            for (int j = 0; j < top; ++j) {
                // Merge by (score, index); an exhausted list compares as +inf.
                const float pv = p < T ? av[p] : FKM_INF;
                const int pi = p < T ? ai[p] : 0x7fffffff;
                const float qv = q < T ? av[T + q] : FKM_INF;
                const int qi = q < T ? ai[T + q] : 0x7fffffff;
                float sv;
                int si;
                if (argmin_better(pv, pi, qv, qi)) { sv = pv; si = pi; ++p; } else { sv = qv; si = qi; ++q; }
                indices[o * top + j] = si < k ? si : -1;
                distances[o * top + j] = si < k ? fmaxf(xn + sv, 0.f) : FKM_INF;
            }
        }
    }
}

}  // namespace flash_topk

// Arguments (T = fp16, bf16 or fp32 per the name; LIST = the per-half list length, at least top):
//   x         T     (B, n, ldx)  rows; padding zero; for tf32 already rounded to tf32 (pack_rows_tf32)
//   c         T     (B, k, ldc)  centroids in the same type; padding zero
//   cnorm     fp32  (B, k)       |c_j|^2 of exactly these (rounded) centroid values
//   xnorm     fp32  (B, n)       |x_i|^2
//   indices   int32 (B, n, top)  out: the top nearest centroids, nearest first (ties to the lower index); -1 past k
//   distances fp32  (B, n, top)  out: their squared distances, clamped at 0; +inf past k
//   n, k, d, ldx, ldc, top int   top in [1, LIST]
// Launch: grid (ceil(n / 128), B), block 256, dynamic shared memory 164864 bytes.
#define FLASH_TOPK_ENTRY(NAME, T, OP, LIST)                                                                          \
    extern "C" __global__ void __launch_bounds__(mma_tiles::THREADS, 1) NAME(                                        \
        const T* __restrict__ x, const T* __restrict__ c, const float* __restrict__ cnorm,                            \
        const float* __restrict__ xnorm, int* __restrict__ indices, float* __restrict__ distances,                   \
        int n, int k, int d, int ldx, int ldc, int top)                                                               \
    {                                                                                                                \
        flash_topk::run<OP, LIST>(reinterpret_cast<const char*>(x), reinterpret_cast<const char*>(c), cnorm, xnorm,  \
                                  indices, distances, n, k, d * (int)sizeof(T), ldx * (int)sizeof(T),                \
                                  ldc * (int)sizeof(T), top);                                                        \
    }

#define FLASH_TOPK_TYPES(LIST)                                                        \
    FLASH_TOPK_ENTRY(flash_topk##LIST##_f16, __half, mma_tiles::F16, LIST)            \
    FLASH_TOPK_ENTRY(flash_topk##LIST##_bf16, __nv_bfloat16, mma_tiles::BF16, LIST)   \
    FLASH_TOPK_ENTRY(flash_topk##LIST##_tf32, float, mma_tiles::TF32, LIST)

FLASH_TOPK_TYPES(4)
FLASH_TOPK_TYPES(8)
FLASH_TOPK_TYPES(16)
FLASH_TOPK_TYPES(32)
