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

__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
    return v;
}
