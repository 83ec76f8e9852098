// Shared device helpers for the FlashKMeans kernels. Every kernel file includes this header.
// Element types: float (fp32, also the tf32 tensor-core path), __half (fp16), __nv_bfloat16 (bf16).
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>

#define FKM_INF __int_as_float(0x7f800000)

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// Argmin candidates are compared as (distance, index) pairs so that exact ties always
// resolve to the smallest centroid index, whatever order threads and warps visit them in.
__device__ __forceinline__ bool argmin_better(float v, int i, float bv, int bi)
{
    return v < bv || (v == bv && i < bi);
}

__device__ __forceinline__ void argmin_shfl_xor(float& v, int& i, int lane_mask)
{
    float ov = __shfl_xor_sync(0xffffffffu, v, lane_mask);
    int oi = __shfl_xor_sync(0xffffffffu, i, lane_mask);
    if (argmin_better(ov, oi, v, i)) { v = ov; i = oi; }
}

// The best (distance, index) of a row across the four lanes of the quad that holds its columns, in all four:
// the end of every tensor-core argmin, whose lanes each searched a quarter of the columns.
__device__ __forceinline__ void quad_argmin(float best, int best_idx, float& v, int& i)
{
    v = best;
    i = best_idx;
    argmin_shfl_xor(v, i, 1);
    argmin_shfl_xor(v, i, 2);
}

// Running argmin over one 64 x 128 wgmma accumulator tile of scores, per thread: acc[4j + 2h + e] is
// row half h, column col0 + 8j + e. A min per row half first (one instruction per score); only when
// the tile beats the running best (rarely, after the first tiles) is the column searched, lowest first.
__device__ __forceinline__ void tile_argmin(const float (&acc)[64], int col0, float (&best)[2], int (&best_idx)[2])
{
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        float m = acc[2 * h];
#pragma unroll
        for (int j = 0; j < 16; ++j) m = fminf(m, fminf(acc[4 * j + 2 * h], acc[4 * j + 2 * h + 1]));
        if (m < best[h]) {
            int at = 0x7fffffff;
#pragma unroll
            for (int j = 15; j >= 0; --j) {
                if (acc[4 * j + 2 * h + 1] == m) at = col0 + 8 * j + 1;
                if (acc[4 * j + 2 * h] == m) at = col0 + 8 * j;
            }
            best[h] = m;
            best_idx[h] = at;
        }
    }
}

// The label stored for an argmin index i: i, or 0 where it is k or more, which happens only when every score was NaN
// (the engine rejects such input). Every kernel that stores or counts a label goes through here, so they agree.
__device__ __forceinline__ int stored_label(int i, int k) { return i < k ? i : 0; }

// The end of every tensor-core assignment: row o's best score v = ||c||^2 - 2 x.c at centroid i
// becomes the distance ||x||^2 + v (clamped at 0) and the label; with update_min only where that
// improves on min_dist (seeding keeps the distance to the nearest seed so far).

__device__ __forceinline__ void store_nearest(size_t o, float v, int i, int k, const float* __restrict__ xnorm,
                                              int* __restrict__ labels, float* __restrict__ min_dist, int update_min)
{
    i = stored_label(i, k);
    if (min_dist != nullptr) {
        const float dist = fmaxf(xnorm[o] + v, 0.f);
        if (update_min && !(dist < min_dist[o])) return;
        min_dist[o] = dist;
    }
    if (labels != nullptr) labels[o] = i;
}

__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
    return v;
}

// Inclusive prefix sum of v over the lanes of a warp.
__device__ __forceinline__ int warp_inclusive_scan(int v)
{
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        const int t = __shfl_up_sync(0xffffffffu, v, o);
        if (lane >= o) v += t;
    }
    return v;
}

// The label-sort helpers of label_sort.cu and moved_rows.cu.

// Exclusive scan of v[0..len) into out[0..len) by one block of 256 threads, with 8 ints of shared
// scratch (dynamic: a static array would leave less than the device's maximum for the dynamic part,
// which the host asks for); returns the total. Thread t scans a contiguous range of ceil(len / 256)
// values, then the ranges' totals are scanned.
__device__ __forceinline__ int block_exclusive_scan(const int* v, int* out, int len, int* warp_totals)
{
    const int per = (len + 255) / 256;
    const int lo = min(len, (int)threadIdx.x * per), hi = min(len, lo + per);
    int sum = 0;
    for (int j = lo; j < hi; ++j) sum += v[j];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int incl = warp_inclusive_scan(sum);
    if (lane == 31) warp_totals[warp] = incl;
    __syncthreads();
    int before = 0, total = 0;
#pragma unroll
    for (int w = 0; w < 8; ++w) {
        if (w < warp) before += warp_totals[w];
        total += warp_totals[w];
    }
    int run = before + incl - sum;
    for (int j = lo; j < hi; ++j) { out[j] = run; run += v[j]; }
    __syncthreads();  // warp_totals is reused by the next call
    return total;
}


// The rows [lo, hi) of its problem that block (c, b) of a (chunks, B) grid owns: chunk c of ceil(n / chunks) rows, so
// that a block only ever touches its own problem's k clusters.
struct RowRange { int lo, hi; };
__device__ __forceinline__ RowRange block_rows(int n)
{
    const int per = (n + gridDim.x - 1) / gridDim.x;
    const int lo = min(n, (int)blockIdx.x * per);
    return {lo, min(n, lo + per)};
}

__device__ __forceinline__ unsigned dynamic_smem_bytes()
{
    unsigned v;
    asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(v));
    return v;
}

// Calls f(i, label, other) for the rows i of [lo, hi) that this thread owns (lo + threadIdx.x, + blockDim.x,
// ...), loading ROWS_IN_FLIGHT labels (and other[i], where other is not null; else 0) before using any: one
// load at a time per thread left the sort kernels latency-bound (measured on the H200), since each iteration's
// shared atomic waited on its own load. f may write other[i] (the sort kernels move labels into "previous"):
// each element is read before, and by the thread that, writes it.
constexpr int ROWS_IN_FLIGHT = 8;
template <typename F>
__device__ __forceinline__ void for_each_label(const int* __restrict__ labels, int lo, int hi, F&& f,
                                               const int* other = nullptr)
{
    for (int base = lo + threadIdx.x; base < hi; base += blockDim.x * ROWS_IN_FLIGHT) {
        int l[ROWS_IN_FLIGHT], o[ROWS_IN_FLIGHT];
#pragma unroll
        for (int u = 0; u < ROWS_IN_FLIGHT; ++u) {
            const int i = base + u * blockDim.x;
            l[u] = i < hi ? __ldg(labels + i) : -1;
            o[u] = i < hi && other != nullptr ? other[i] : 0;
        }
#pragma unroll
        for (int u = 0; u < ROWS_IN_FLIGHT; ++u)
            if (l[u] >= 0) f(base + u * blockDim.x, l[u], o[u]);
    }
}

// The deterministic sums of segmented_sum.cu: blocks of SUM_THREADS threads, thread t adding the terms
// lo + t, lo + t + SUM_THREADS, ... in that order, then a fixed reduction tree, so that a sum does not depend on
// scheduling. scatter_moved_rows (moved_rows.cu) computes the inertia's partials the same way, chunk for chunk, so that
// the incremental step's inertia is bit-identical to the sorting step's.
constexpr int SUM_THREADS = 256;

// Term i of sum_i w[i] * v[i] (w null: unit weights), in fp64: one expression for every such sum that must agree.
__device__ __forceinline__ double weighted_term(const float* __restrict__ v, const float* __restrict__ w, long long i)
{
    return w != nullptr ? (double)w[i] * (double)v[i] : (double)v[i];
}

// The block's total of v, in thread 0.
__device__ __forceinline__ double block_sum(double v)
{
    __shared__ double warp_part[SUM_THREADS / 32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0) warp_part[threadIdx.x >> 5] = v;
    __syncthreads();
    double t = 0.0;
    if (threadIdx.x == 0)
        for (int w = 0; w < SUM_THREADS / 32; ++w) t += warp_part[w];
    return t;
}

// The second pass: problem b's total of its chunks partial sums (partials fp64 (B, chunks)) into out[b], by one block of
// SUM_THREADS threads, all of which must call it. finalize_centroids* (centroid_update.cu) finishes the step's inertias
// so, in the same order as segmented_sum_final, which saves the step that launch.
__device__ __forceinline__ void finish_partials(const double* __restrict__ partials, double* __restrict__ out, int chunks, int b)
{
    double acc = 0.0;
    for (int i = threadIdx.x; i < chunks; i += SUM_THREADS) acc += partials[(size_t)b * chunks + i];
    const double t = block_sum(acc);
    if (threadIdx.x == 0) out[b] = t;
}
