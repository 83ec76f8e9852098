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

// The end of every tensor-core assignment: row o's best score v = ||c||^2 - 2 x.c at centroid i
// becomes the distance ||x||^2 + v (clamped at 0) and the label; with update_min only where that
// improves on min_dist (seeding keeps the distance to the nearest seed so far).
__device__ __forceinline__ void store_nearest(size_t o, float v, int i, int k, const float* __restrict__ xnorm,
                                              int* __restrict__ labels, float* __restrict__ min_dist, int update_min)
{
    if (i >= k) i = 0;  // only when every score was NaN; the engine rejects such input
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
