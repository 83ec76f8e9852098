// The second half of the sort-inverse centroid update: sum the rows of every cluster through the
// sorted index list, then divide by the counts.
//
// The sorted positions are cut into runs of RUN = 32 rows. A lane group of the block (L threads,
// L = d rounded up to a warp, at most 256) walks one run, each thread owning dimensions
// j, j+L, ...; whenever the cluster changes inside the run the partial sum is flushed with a
// single atomic. So a block issues one atomic per (cluster segment, dimension), however skewed
// the cluster sizes are, and every block does the same amount of work.
//
// Two accumulation modes:
//   float : fp32 partial sums, fp32 atomics. Fast; the summation order, and so the last bits of
//           the centroids, varies from run to run.
//   fixed : every value is rounded once to a 64-bit fixed-point integer (x * scale) and summed with
//           integer arithmetic, which is exact and associative. The result, and the centroids
//           computed from it, are bit-identical whatever the order: no float atomics anywhere.
//           The host picks scale = 2^e with max|x| * (points per batch) * scale < 2^62.
#include "common.cuh"

namespace centroid_update {

constexpr int RUN = 32;
constexpr int THREADS = 256;
constexpr int MAX_LANES = THREADS / 32;

template <typename T, bool kFixed>
__device__ __forceinline__ void segment_reduce(
    const T* __restrict__ x, const int* __restrict__ labels, const int* __restrict__ sorted,
    long long total, int n, int k, int d, int ldx,
    float* __restrict__ fsums, unsigned long long* __restrict__ isums, float scale)
{
    __shared__ int idx_s[MAX_LANES * RUN];
    __shared__ int cl_s[MAX_LANES * RUN];
    const int width = min(THREADS, ((d + 31) / 32) * 32);
    const int lanes = THREADS / width;
    const int tid = threadIdx.x;
    const long long first = (long long)blockIdx.x * lanes * RUN;

    if (tid < lanes * RUN) {
        const long long p = first + tid;
        int idx = -1, cl = -1;
        if (p < total) {
            idx = sorted[p];
            cl = (idx / n) * k + labels[idx];
        }
        idx_s[tid] = idx;
        cl_s[tid] = cl;
    }
    __syncthreads();

    const int group = tid / width;
    const int j0 = tid - group * width;
    if (group >= lanes) return;
    const int* gi = idx_s + group * RUN;
    const int* gc = cl_s + group * RUN;
    const long long run_first = first + (long long)group * RUN;
    if (run_first >= total) return;
    const int len = (int)min((long long)RUN, total - run_first);

    for (int j = j0; j < d; j += width) {
        int cur = gc[0];
        float facc = 0.f;
        long long iacc = 0;
        for (int q0 = 0; q0 < len; q0 += 8) {
            // Issue eight independent gathers before folding any of them in.
            float v[8];
#pragma unroll
            for (int u = 0; u < 8; ++u)
                v[u] = q0 + u < len ? to_f32(x[(size_t)gi[q0 + u] * ldx + j]) : 0.f;
#pragma unroll
            for (int u = 0; u < 8; ++u) {
                if (q0 + u >= len) break;
                const int cl = gc[q0 + u];
                if (cl != cur) {
                    if (kFixed) atomicAdd(isums + (size_t)cur * d + j, (unsigned long long)iacc);
                    else atomicAdd(fsums + (size_t)cur * d + j, facc);
                    facc = 0.f;
                    iacc = 0;
                    cur = cl;
                }
                if (kFixed) iacc += __float2ll_rn(v[u] * scale);
                else facc += v[u];
            }
        }
        if (kFixed) atomicAdd(isums + (size_t)cur * d + j, (unsigned long long)iacc);
        else atomicAdd(fsums + (size_t)cur * d + j, facc);
    }
}

}  // namespace centroid_update

// Arguments (T per the name):
//   x      T      (B*n, ldx)  points
//   labels int32  (B*n)       labels in [0, k)
//   sorted int32  (B*n)       row indices grouped by cluster (scatter_indices)
//   sums   fp32 (B*k, d) for segment_sum_*, int64 fixed point (B*k, d) for segment_sum_fixed_*;
//          in/out, zero it first
//   scale  fp32               fixed-point scale (power of two), fixed variants only
// Launch: grid ceil(total / (32 * lanes)) with lanes = 256 / min(256, roundup(d, 32)), block 256.
#define SEGMENT_ENTRIES(SUFFIX, T)                                                                          \
    extern "C" __global__ void __launch_bounds__(centroid_update::THREADS) segment_sum_##SUFFIX(          \
        const T* __restrict__ x, const int* __restrict__ labels, const int* __restrict__ sorted,           \
        long long total, int n, int k, int d, int ldx, float* __restrict__ sums)                           \
    {                                                                                                       \
        centroid_update::segment_reduce<T, false>(x, labels, sorted, total, n, k, d, ldx, sums, nullptr,   \
                                                   0.f);                                                    \
    }                                                                                                       \
    extern "C" __global__ void __launch_bounds__(centroid_update::THREADS) segment_sum_fixed_##SUFFIX(    \
        const T* __restrict__ x, const int* __restrict__ labels, const int* __restrict__ sorted,           \
        long long total, int n, int k, int d, int ldx, unsigned long long* __restrict__ sums, float scale) \
    {                                                                                                       \
        centroid_update::segment_reduce<T, true>(x, labels, sorted, total, n, k, d, ldx, nullptr, sums,    \
                                                  scale);                                                   \
    }

SEGMENT_ENTRIES(f32, float)
SEGMENT_ENTRIES(f16, __half)
SEGMENT_ENTRIES(bf16, __nv_bfloat16)

// New centroids = sums / counts; empty clusters keep their previous centroid (the engine applies
// its empty-cluster policy afterwards from the counts). Also the squared shift of each centroid,
// which the convergence test reduces on the device.
//   sums      fp32 (clusters, d) or int64 fixed point (clusters, d)
//   counts    int32 (clusters)
//   centroids fp32 (clusters, d)  in: previous centroids; out: new centroids
//   shift     fp32 (clusters)     out: |new - previous|^2
//   inv_scale fp32                1 / scale (fixed variant)
// Launch: one warp per cluster, e.g. grid ceil(clusters / 8), block 256.
__device__ __forceinline__ void finalize_run(const float* fsums, const long long* isums, const int* counts,
                                             float* centroids, float* shift, int clusters, int d, double inv_scale)
{
    const int cl = (int)(((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (cl >= clusters) return;
    const int count = counts[cl];
    float s = 0.f;
    if (count > 0) {
        float* row = centroids + (size_t)cl * d;
        for (int j = lane; j < d; j += 32) {
            const size_t e = (size_t)cl * d + j;
            const float nv = fsums != nullptr ? fsums[e] / (float)count
                                              : (float)((double)isums[e] * inv_scale / (double)count);
            const float diff = nv - row[j];
            s = fmaf(diff, diff, s);
            row[j] = nv;
        }
    }
    s = warp_sum(s);
    if (lane == 0) shift[cl] = s;
}

extern "C" __global__ void finalize_centroids(const float* __restrict__ sums, const int* __restrict__ counts,
                                              float* __restrict__ centroids, float* __restrict__ shift,
                                              int clusters, int d)
{
    finalize_run(sums, nullptr, counts, centroids, shift, clusters, d, 0.0);
}

extern "C" __global__ void finalize_centroids_fixed(const long long* __restrict__ sums, const int* __restrict__ counts,
                                                    float* __restrict__ centroids, float* __restrict__ shift,
                                                    int clusters, int d, double inv_scale)
{
    finalize_run(nullptr, sums, counts, centroids, shift, clusters, d, inv_scale);
}
