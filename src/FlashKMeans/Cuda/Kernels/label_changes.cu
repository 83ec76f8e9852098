// Gathering rows back to fp32. (The labels that moved since the previous step, the engine's
// LabelsChanged, are counted by label_histogram in label_sort.cu, in its pass over the labels.)
#include "common.cuh"

// Arguments (T per the name):
//   x    T     (rows, ld)  rows on the device
//   idx  int64 (count)     rows to copy
//   out  fp32  (count, d)  out
// Launch: one warp per gathered row.
#define GATHER_ENTRY(NAME, T)                                                                            \
    extern "C" __global__ void NAME(const T* __restrict__ x, const long long* __restrict__ idx,          \
                                    float* __restrict__ out, int count, int d, int ld)                   \
    {                                                                                                    \
        const int r = (int)(((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5);                    \
        if (r >= count) return;                                                                          \
        const T* src = x + (size_t)idx[r] * ld;                                                          \
        for (int j = threadIdx.x & 31; j < d; j += 32) out[(size_t)r * d + j] = to_f32(src[j]);          \
    }

GATHER_ENTRY(gather_rows_f32, float)
GATHER_ENTRY(gather_rows_f16, __half)
GATHER_ENTRY(gather_rows_bf16, __nv_bfloat16)
