// The second half of the sort-inverse centroid update: sum the rows of every cluster through the
// sorted index list, then divide by the counts.
//
// The sorted positions are cut into runs of `run` rows (chosen by the host so that about one wave
// of lane groups covers all rows). A lane group of the block (L threads, L = d rounded up to a
// warp, at most 256) walks one run, each thread owning dimensions j, j+L, ...; whenever the
// cluster changes inside the run the partial sum is flushed with a single atomic. So a block
// issues one atomic per (cluster segment, dimension), however skewed the cluster sizes are, and
// every block does the same amount of work. Long runs keep the atomics few and spread: adjacent
// runs of one large cluster would otherwise all hit the same addresses at once.
//
// Rows may carry weights: each value is multiplied by its row's weight before it is summed.
//
// Two accumulation modes:
//   float : fp32 partial sums over at most one run, fp64 atomics into fp64 sums. Fast;
//           the order of the atomics, and so the last bits of the centroids, varies between runs.
//   fixed : every value is rounded once to a 64-bit fixed-point integer (x * scale) and summed with
//           integer arithmetic, which is exact and associative. The result, and the centroids
//           computed from it, are bit-identical whatever the order: no float atomics anywhere.
//           The host picks scale = 2^e with max|x| * (points per batch) * scale < 2^62.
#include "common.cuh"

namespace centroid_update {

constexpr int CHUNK = 32;   // sorted positions staged in shared memory at a time, per lane group
constexpr int THREADS = 256;
constexpr int MAX_LANES = THREADS / 32;

template <typename T, bool kFixed>
__device__ __forceinline__ void segment_reduce(
    const T* __restrict__ x, const float* __restrict__ weights, const int* __restrict__ labels,
    const int* __restrict__ sorted, long long total, int n, int k, int d, int ldx, int run,
    double* __restrict__ fsums, unsigned long long* __restrict__ isums, float scale)
{
    __shared__ int idx_s[MAX_LANES * CHUNK];
    __shared__ int cl_s[MAX_LANES * CHUNK];
    __shared__ float w_s[MAX_LANES * CHUNK];
    const int width = min(THREADS, ((d + 31) / 32) * 32);
    const int lanes = THREADS / width;
    const int tid = threadIdx.x;
    const int group = tid / width;
    const int j0 = tid - group * width;
    const bool active = group < lanes;
    const long long run_first = ((long long)blockIdx.x * lanes + group) * run;
    // Dimensions owned by this thread: j0, j0 + width, ... (at most 4 passes for d <= 1024 per
    // pass; larger d loops the run again per extra pass below).
    for (int jbase = 0; jbase < d; jbase += width) {
        const int j = jbase + j0;
        int cur = -1;
        float facc = 0.f;
        long long iacc = 0;
        for (int q0 = 0; q0 < run; q0 += CHUNK) {
            __syncthreads();
            if (active && j0 < CHUNK) {
                const long long p = run_first + q0 + j0;
                int idx = -1, cl = -1;
                float w = 0.f;
                if (q0 + j0 < run && p < total) {
                    idx = sorted[p];
                    cl = (idx / n) * k + labels[idx];
                    w = weights != nullptr ? weights[idx] : 1.f;
                }
                idx_s[group * CHUNK + j0] = idx;
                cl_s[group * CHUNK + j0] = cl;
                w_s[group * CHUNK + j0] = w;
            }
            __syncthreads();
            if (!active || j >= d) continue;
            const int* gi = idx_s + group * CHUNK;
            const int* gc = cl_s + group * CHUNK;
            const float* gw = w_s + group * CHUNK;
#pragma unroll
            for (int u0 = 0; u0 < CHUNK; u0 += 8) {
                // Eight independent gathers in flight before any is folded in.
                float v[8];
#pragma unroll
                for (int u = 0; u < 8; ++u) {
                    const int idx = gi[u0 + u];
                    v[u] = idx >= 0 ? to_f32(x[(size_t)idx * ldx + j]) * gw[u0 + u] : 0.f;
                }
#pragma unroll
                for (int u = 0; u < 8; ++u) {
                    const int cl = gc[u0 + u];
                    if (cl < 0) continue;
                    if (cl != cur) {
                        if (cur >= 0) {
                            if (kFixed) atomicAdd(isums + (size_t)cur * d + j, (unsigned long long)iacc);
                            else atomicAdd(fsums + (size_t)cur * d + j, (double)facc);
                        }
                        facc = 0.f;
                        iacc = 0;
                        cur = cl;
                    }
                    if (kFixed) iacc += __float2ll_rn(v[u] * scale);
                    else facc += v[u];
                }
            }
        }
        if (active && j < d && cur >= 0) {
            if (kFixed) atomicAdd(isums + (size_t)cur * d + j, (unsigned long long)iacc);
            else atomicAdd(fsums + (size_t)cur * d + j, (double)facc);
        }
    }
}

}  // namespace centroid_update

// Arguments (T per the name):
//   x       T      (B*n, ldx)  points
//   weights fp32   (B*n)       row weights, or null for unit weights
//   labels  int32  (B*n)       labels in [0, k)
//   sorted  int32  (B*n)       row indices grouped by cluster (scatter_indices)
//   sums    fp64 (B*k, d) for segment_sum_*, int64 fixed point (B*k, d) for segment_sum_fixed_*;
//           in/out, zero it first
//   run     int                sorted positions per lane group
//   scale   fp32               fixed-point scale (power of two), fixed variants only
// Launch: grid ceil(total / (run * lanes)) with lanes = 256 / min(256, roundup(d, 32)), block 256.
#define SEGMENT_ENTRIES(SUFFIX, T)                                                                          \
    extern "C" __global__ void __launch_bounds__(centroid_update::THREADS) segment_sum_##SUFFIX(          \
        const T* __restrict__ x, const float* __restrict__ weights, const int* __restrict__ labels,         \
        const int* __restrict__ sorted, long long total, int n, int k, int d, int ldx, int run,            \
        double* __restrict__ sums)                                                                          \
    {                                                                                                       \
        centroid_update::segment_reduce<T, false>(x, weights, labels, sorted, total, n, k, d, ldx, run,    \
                                                   sums, nullptr, 0.f);                                     \
    }                                                                                                       \
    extern "C" __global__ void __launch_bounds__(centroid_update::THREADS) segment_sum_fixed_##SUFFIX(    \
        const T* __restrict__ x, const float* __restrict__ weights, const int* __restrict__ labels,         \
        const int* __restrict__ sorted, long long total, int n, int k, int d, int ldx, int run,            \
        unsigned long long* __restrict__ sums, float scale)                                                 \
    {                                                                                                       \
        centroid_update::segment_reduce<T, true>(x, weights, labels, sorted, total, n, k, d, ldx, run,     \
                                                  nullptr, sums, scale);                                    \
    }

SEGMENT_ENTRIES(f32, float)
SEGMENT_ENTRIES(f16, __half)
SEGMENT_ENTRIES(bf16, __nv_bfloat16)

// Per-cluster total weight of weighted rows: fp64 atomics (cluster_weights), or exact int64 fixed
// point whose sum does not depend on order (cluster_weights_fixed).
//   weights fp32 (B*n); labels int32 (B*n)
//   out     fp64 or int64 (B*k)  in/out, zero it first
//   scale   fp32  fixed-point scale, fixed variant only
// Launch: grid-stride, any grid, any block.
extern "C" __global__ void cluster_weights(const float* __restrict__ weights, const int* __restrict__ labels,
                                           double* __restrict__ out, long long total, int n, int k)
{
    for (long long row = (long long)blockIdx.x * blockDim.x + threadIdx.x; row < total;
         row += (long long)gridDim.x * blockDim.x)
        atomicAdd(out + (row / n) * k + labels[row], (double)weights[row]);
}

extern "C" __global__ void cluster_weights_fixed(const float* __restrict__ weights, const int* __restrict__ labels,
                                                 unsigned long long* __restrict__ out, long long total, int n, int k,
                                                 float scale)
{
    for (long long row = (long long)blockIdx.x * blockDim.x + threadIdx.x; row < total;
         row += (long long)gridDim.x * blockDim.x)
        atomicAdd(out + (row / n) * k + labels[row], (unsigned long long)__float2ll_rn(weights[row] * scale));
}

// New centroids = sums / total weight, or sums / |sums| when normalize is set (spherical k-means);
// clusters of zero weight keep their previous centroid (the engine applies its empty-cluster
// policy afterwards). Also the squared shift of each centroid.
//   sums      fp64 (clusters, d), or int64 fixed point with 1/scale = inv_scale
//   counts    int32 (clusters)            point counts, used when wsums is null
//   wsums     fp64 or int64 (clusters)    total weights (fixed point: 1/scale = inv_wscale), or null
//   centroids fp32 (clusters, d)  in: previous; out: new
//   shift     fp32 (clusters)     out: |new - previous|^2
//   weight_out fp64 (clusters)    out: total weight of each cluster (as the host reads it back)
// Launch: one warp per cluster, e.g. grid ceil(clusters / 8), block 256.
template <bool kFixed>
__device__ __forceinline__ void finalize_run(const void* sums_, const int* counts, const void* wsums_,
                                             float* centroids, float* shift, double* weight_out,
                                             int clusters, int d, double inv_scale, double inv_wscale, int normalize)
{
    const int cl = (int)(((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    if (cl >= clusters) return;
    auto sum_at = [&](size_t e) -> double {
        return kFixed ? (double)reinterpret_cast<const long long*>(sums_)[e] * inv_scale
                      : reinterpret_cast<const double*>(sums_)[e];
    };
    double weight;
    if (wsums_ == nullptr) weight = (double)counts[cl];
    else weight = kFixed ? (double)reinterpret_cast<const long long*>(wsums_)[cl] * inv_wscale
                         : reinterpret_cast<const double*>(wsums_)[cl];
    float s = 0.f;
    if (weight > 0.0) {
        double factor = 1.0 / weight;
        if (normalize) {
            double sq = 0.0;
            for (int j = lane; j < d; j += 32) { const double v = sum_at((size_t)cl * d + j); sq += v * v; }
            for (int o = 16; o > 0; o >>= 1) sq += __shfl_xor_sync(0xffffffffu, sq, o);
            if (sq > 0.0) factor = 1.0 / sqrt(sq);
        }
        float* row = centroids + (size_t)cl * d;
        for (int j = lane; j < d; j += 32) {
            const float nv = (float)(sum_at((size_t)cl * d + j) * factor);
            const float diff = nv - row[j];
            s = fmaf(diff, diff, s);
            row[j] = nv;
        }
    }
    s = warp_sum(s);
    if (lane == 0) {
        shift[cl] = s;
        weight_out[cl] = weight;
    }
}

extern "C" __global__ void finalize_centroids(const double* __restrict__ sums, const int* __restrict__ counts,
                                              const double* __restrict__ wsums, float* __restrict__ centroids,
                                              float* __restrict__ shift, double* __restrict__ weight_out,
                                              int clusters, int d, int normalize)
{
    finalize_run<false>(sums, counts, wsums, centroids, shift, weight_out, clusters, d, 1.0, 1.0, normalize);
}

extern "C" __global__ void finalize_centroids_fixed(const long long* __restrict__ sums, const int* __restrict__ counts,
                                                    const long long* __restrict__ wsums, float* __restrict__ centroids,
                                                    float* __restrict__ shift, double* __restrict__ weight_out,
                                                    int clusters, int d, double inv_scale, double inv_wscale,
                                                    int normalize)
{
    finalize_run<true>(sums, counts, wsums, centroids, shift, weight_out, clusters, d, inv_scale, inv_wscale, normalize);
}
