// Deterministic sums of B contiguous fp32 segments into fp64, for the per-batch objective (sum of
// min distances) and centroid shift: only these B scalars travel back to the host each iteration.
// Two passes with a fixed reduction tree, so the result does not depend on scheduling.
#include "common.cuh"

// Pass 1. Chunk c of segment b covers elements [c * per, (c + 1) * per) with
// per = ceil(len / chunks); the host relies on this split for cumulative searches.
//   v        fp32 (B, len)
//   w        fp32 (B, len)   weights multiplying v, or null
//   partials fp64 (B, chunks)  out
// Launch: grid (chunks, B), block 256.
extern "C" __global__ void __launch_bounds__(SUM_THREADS) segmented_sum_partial(
    const float* __restrict__ v, const float* __restrict__ w, double* __restrict__ partials, long long len)
{
    const int b = blockIdx.y;
    const int chunks = gridDim.x;
    const long long per = (len + chunks - 1) / chunks;
    const long long lo = per * blockIdx.x;
    const long long hi = min(len, lo + per);
    const float* s = v + (size_t)b * len;
    const float* ws = w != nullptr ? w + (size_t)b * len : nullptr;
    double acc = 0.0;
    for (long long i = lo + threadIdx.x; i < hi; i += SUM_THREADS) acc += weighted_term(s, ws, i);
    const double t = block_sum(acc);
    if (threadIdx.x == 0) partials[(size_t)b * chunks + blockIdx.x] = t;
}

// Pass 2.
//   partials fp64 (B, chunks)
//   out      fp64 (B)  out
// Launch: grid B, block 256.
extern "C" __global__ void __launch_bounds__(SUM_THREADS) segmented_sum_final(
    const double* __restrict__ partials, double* __restrict__ out, int chunks)
{
    finish_partials(partials, out, chunks, blockIdx.x);
}

// Per candidate j, the seeding potential sum_i w_i * min(D_i, dist[i, j]), pass 1 (pass 2 is
// segmented_sum_final with B = m).
//   dist     fp32 (len, m)   squared distances of every row to each candidate
//   seed     fp32 (len)      D, the distance of every row to its nearest seed so far
//   w        fp32 (len)      weights, or null
//   partials fp64 (m, chunks) out
// Launch: grid (chunks, m), block 256.
extern "C" __global__ void __launch_bounds__(SUM_THREADS) candidate_potential_partial(
    const float* __restrict__ dist, const float* __restrict__ seed, const float* __restrict__ w,
    double* __restrict__ partials, long long len, int m)
{
    const int j = blockIdx.y;
    const int chunks = gridDim.x;
    const long long per = (len + chunks - 1) / chunks;
    const long long lo = per * blockIdx.x;
    const long long hi = min(len, lo + per);
    double acc = 0.0;
    for (long long i = lo + threadIdx.x; i < hi; i += SUM_THREADS) {
        const double v = (double)fminf(seed[i], dist[(size_t)i * m + j]);
        acc += w != nullptr ? (double)w[i] * v : v;
    }
    const double t = block_sum(acc);
    if (threadIdx.x == 0) partials[(size_t)j * chunks + blockIdx.x] = t;
}
