// Counting labels that moved since the previous assignment (the engine's LabelsChanged), and
// gathering rows back to fp32.
#include "common.cuh"

// Arguments, for B problems of len rows each (B = gridDim.y; 1 for a single problem):
//   labels   int32 (B, len)  current labels
//   previous int32 (B, len)  in: labels of the previous step (-1 before the first); out: a copy of labels
//   changed  uint64 (B)      in/out: changed[b] incremented by the differing entries of problem b (zero it first)
// Launch: grid (any, B), grid-stride over a problem's rows, block a multiple of 32.
extern "C" __global__ void count_label_changes(const int* __restrict__ labels, int* __restrict__ previous,
                                               unsigned long long* __restrict__ changed, long long len)
{
    const size_t b = blockIdx.y;
    labels += b * len;
    previous += b * len;
    changed += b;
    unsigned int local = 0;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < len; i += (long long)gridDim.x * blockDim.x) {
        const int l = labels[i];
        local += previous[i] != l;
        previous[i] = l;
    }
    for (int o = 16; o > 0; o >>= 1) local += __shfl_xor_sync(0xffffffffu, local, o);
    if ((threadIdx.x & 31) == 0 && local != 0) atomicAdd(changed, (unsigned long long)local);
}

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
