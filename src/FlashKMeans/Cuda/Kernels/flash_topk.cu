// FlashAssign with a top-k epilogue: for every row its k nearest centroids (prototypes) under squared Euclidean
// distance, nearest first, ties to the lower index, fused with the distances so that no N x K matrix is written.
// The main loop is FlashAssign's (mma_mainloop.cuh, tensor cores); where FlashAssign keeps one running argmin per row,
// this keeps two sorted lists of the T best per row (one per thread of a row's pair), in registers.
//
// Most scores of a tile cannot enter a row's top k once a few tiles have been seen, so each tile is filtered in
// registers: a score goes on only if it is at most the row's threshold, the smaller of its two lists' last entries
// (each list holds T distinct columns at most that far, so anything farther has T better). Survivors are appended to
// the row's candidate slots in shared memory, and the row's pair inserts them. The first tile, where nothing is known
// yet, and any tile in which some row gets more candidates than it has slots, take the full path instead: all the
// tile's scores go to shared memory and each thread of a row's pair scans half of them. At the end the two lists of
// a row are merged in shared memory and the first k entries stored.
#include "mma_mainloop.cuh"

namespace flash_topk {
using namespace mma_tiles;

// Scores of one tile, row-major with a pitch of 130 floats: the scan's 32 threads of a warp (16 rows x 2 halves) read
// column 2c + half of their row at bank (2 * row + 2c + half) mod 32, 32 different banks. In a filtered tile the same
// memory holds each row's candidates as (score, column) pairs, 65 of them.
constexpr int PITCH = BN + 2;
constexpr int SLOTS = PITCH / 2;
constexpr int SCORE_BYTES = BM * PITCH * 4;            // 66,560
constexpr int THRESHOLD_BYTES = BM * 2 * 4;            // each row's two lists' last entries
constexpr int COUNT_BYTES = 2 * BM * 4;                // candidates per row, for tiles of even and odd index
constexpr int SMEM_TOTAL = SMEM_BYTES + SCORE_BYTES + THRESHOLD_BYTES + COUNT_BYTES;  // 166,912: one block per SM

template <int T>
struct TopK {
    const float* __restrict__ cnorm;
    int k;
    float* scores;
    float* thresholds;  // [row][half]
    int* counts;        // [tile & 1][row]
    float v[T];
    int ix[T];

    __device__ __forceinline__ TopK(const float* __restrict__ cnorm_, int k_, unsigned char* shared)
        : cnorm(cnorm_), k(k_), scores(reinterpret_cast<float*>(shared)),
          thresholds(reinterpret_cast<float*>(shared + SCORE_BYTES)),
          counts(reinterpret_cast<int*>(shared + SCORE_BYTES + THRESHOLD_BYTES))
    {
#pragma unroll
        for (int j = 0; j < T; ++j) { v[j] = FKM_INF; ix[j] = 0x7fffffff; }
        for (int i = threadIdx.x; i < 2 * BM; i += blockDim.x) counts[i] = 0;  // the sweep's first barrier publishes it
    }

    // Sorted insertion by (score, index).
    __device__ __forceinline__ void insert(float s, int i)
    {
#pragma unroll
        for (int j = 0; j < T; ++j) {
            if (argmin_better(s, i, v[j], ix[j])) {
                const float tv = v[j];
                const int ti = ix[j];
                v[j] = s;
                ix[j] = i;
                s = tv;
                i = ti;
            }
        }
    }

    // Every score of the tile through shared memory; each thread of a row's pair scans the even or the odd columns.
    __device__ __forceinline__ void full(const float (&acc)[4][4][4], int base, const Place& place)
    {
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
        // Columns arrive in increasing order, above every column already listed: a tie keeps the listed entry.
#pragma unroll 8
        for (int c = 0; c < BN / 2; ++c) {
            const float s = line[2 * c];
            if (s < v[T - 1]) insert(s, base + 2 * c + half);
        }
    }

    __device__ __forceinline__ void tile(const float (&acc)[4][4][4], int tile, const Place& place)
    {
        const int base = tile * BN;
        const int row = place.tid >> 1, half = place.tid & 1;
        int* count = counts + (tile & 1) * BM;
        bool overflow = tile == 0;
        if (tile > 0) {
            // Written at the end of the previous tile's epilogue; the main loop's barriers since then publish them.
            float limit[4][2];
#pragma unroll
            for (int mi = 0; mi < 4; ++mi)
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    const int r = place.row(mi, h);
                    limit[mi][h] = fminf(thresholds[2 * r], thresholds[2 * r + 1]);
                }
#pragma unroll
            for (int ni = 0; ni < 4; ++ni)
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const int j = base + place.column(ni, e);
                    if (j >= k) continue;
                    const float cn = __ldg(cnorm + j);
#pragma unroll
                    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
                        for (int h = 0; h < 2; ++h) {
                            const float s = fmaf(-2.f, acc[mi][ni][2 * h + e], cn);
                            if (s <= limit[mi][h]) {
                                const int r = place.row(mi, h);
                                const int slot = atomicAdd(count + r, 1);
                                if (slot < SLOTS) {
                                    scores[r * PITCH + 2 * slot] = s;
                                    scores[r * PITCH + 2 * slot + 1] = __int_as_float(j);
                                } else {
                                    overflow = true;
                                }
                            }
                        }
                }
            overflow = __syncthreads_or(overflow);
        }
        // Past the barrier every thread has finished the previous tile, so the other tile parity's counts are free.
        if (half == 0) counts[((tile + 1) & 1) * BM + row] = 0;
        if (overflow) {
            full(acc, base, place);
            if (half == 0) count[row] = 0;  // nobody reads this tile's counts on the full path
        } else {
            const int n = count[row];
            const float* line = scores + row * PITCH;
            for (int slot = half; slot < n; slot += 2) {
                const float s = line[2 * slot];
                const int j = __float_as_int(line[2 * slot + 1]);
                if (argmin_better(s, j, v[T - 1], ix[T - 1])) insert(s, j);
            }
        }
        thresholds[2 * row + half] = v[T - 1];
        // The next tile writes scores and counts only after the main loop's next barrier, which every thread reaches
        // after finishing this epilogue.
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

    TopK<T> list(cnorm, k, smem + SMEM_BYTES);
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
// Launch: grid (ceil(n / 128), B), block 256, dynamic shared memory 166912 bytes.
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
