// Row packing and row norms. Packing converts fp32 rows into the pitched, zero-padded layout in
// the compute type that the assignment kernels read, and returns the squared norm of the values
// as rounded, so that |c|^2 - 2 x.c is the distance between exactly the rounded operands.
#include "common.cuh"

// Arguments (T = destination type per the name):
//   src   fp32 (rows, lds)  source rows, first d elements used
//   dst   T    (rows, ldd)  out: converted rows, elements d..ldd-1 set to zero
//   norms fp32 (rows)       out: sum of squares of the converted values; may be null
//   rows, d, lds, ldd       long long / int
// Launch: one warp per row, e.g. grid ceil(rows / 8), block 256.
#define PACK_ENTRY(NAME, T)                                                                               \
    extern "C" __global__ void NAME(const float* __restrict__ src, T* __restrict__ dst,                   \
                                    float* __restrict__ norms, long long rows, int d, int lds, int ldd)   \
    {                                                                                                     \
        const long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;                    \
        const int lane = threadIdx.x & 31;                                                                \
        if (row >= rows) return;                                                                          \
        const float* s = src + row * lds;                                                                 \
        T* o = dst + row * ldd;                                                                           \
        float sum = 0.f;                                                                                  \
        for (int j = lane; j < ldd; j += 32) {                                                            \
            const T v = from_f32<T>(j < d ? s[j] : 0.f);                                                  \
            o[j] = v;                                                                                     \
            const float f = to_f32(v);                                                                    \
            sum = fmaf(f, f, sum);                                                                        \
        }                                                                                                 \
        sum = warp_sum(sum);                                                                              \
        if (lane == 0 && norms != nullptr) norms[row] = sum;                                              \
    }

PACK_ENTRY(pack_rows_f32, float)
PACK_ENTRY(pack_rows_f16, __half)
PACK_ENTRY(pack_rows_bf16, __nv_bfloat16)

// fp32 storage holding tf32 values (rounded to nearest, 10-bit mantissa): the tensor-core kernel
// then reads operands the mma uses exactly, needs no conversion in its inner loop, and the norms
// belong to the very values multiplied.
extern "C" __global__ void pack_rows_tf32(const float* __restrict__ src, float* __restrict__ dst,
                                          float* __restrict__ norms, long long rows, int d, int lds, int ldd)
{
    const long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (row >= rows) return;
    const float* s = src + row * lds;
    float* o = dst + row * ldd;
    float sum = 0.f;
    for (int j = lane; j < ldd; j += 32) {
        uint32_t r;
        asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(j < d ? s[j] : 0.f));
        const float f = __uint_as_float(r);
        o[j] = f;
        sum = fmaf(f, f, sum);
    }
    sum = warp_sum(sum);
    if (lane == 0 && norms != nullptr) norms[row] = sum;
}

// Arguments (T per the name):
//   x     T    (rows, ld)  rows
//   norms fp32 (rows)      out: sum of squares of the first d elements
// Launch: one warp per row.
#define NORMS_ENTRY(NAME, T)                                                                              \
    extern "C" __global__ void NAME(const T* __restrict__ x, float* __restrict__ norms, long long rows,    \
                                    int d, int ld)                                                        \
    {                                                                                                     \
        const long long row = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;                    \
        const int lane = threadIdx.x & 31;                                                                \
        if (row >= rows) return;                                                                          \
        const T* r = x + row * ld;                                                                        \
        float sum = 0.f;                                                                                  \
        for (int j = lane; j < d; j += 32) {                                                              \
            const float f = to_f32(r[j]);                                                                 \
            sum = fmaf(f, f, sum);                                                                        \
        }                                                                                                 \
        sum = warp_sum(sum);                                                                              \
        if (lane == 0) norms[row] = sum;                                                                  \
    }

NORMS_ENTRY(row_norms_f32, float)
NORMS_ENTRY(row_norms_f16, __half)
NORMS_ENTRY(row_norms_bf16, __nv_bfloat16)

// Largest |x| over the first d elements of all rows, as the bits of a non-negative float (whose
// order as unsigned integers is the order of the values). Sets the fixed-point scale of the
// deterministic centroid update.
//   x       T      (rows, ld)
//   out     uint32 (1)  in/out: max with the previous value (zero it first)
// Launch: grid-stride, any grid, block 256.
#define MAXABS_ENTRY(NAME, T)                                                                             \
    extern "C" __global__ void NAME(const T* __restrict__ x, unsigned int* __restrict__ out,              \
                                    long long rows, int d, int ld)                                        \
    {                                                                                                     \
        float m = 0.f;                                                                                    \
        const long long total = rows * d;                                                                 \
        for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < total;                   \
             e += (long long)gridDim.x * blockDim.x) {                                                    \
            const long long r = e / d;                                                                    \
            m = fmaxf(m, fabsf(to_f32(x[r * ld + (e - r * d)])));                                         \
        }                                                                                                 \
        for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));                \
        if ((threadIdx.x & 31) == 0) atomicMax(out, __float_as_uint(m));                                  \
    }

MAXABS_ENTRY(max_abs_f32, float)
MAXABS_ENTRY(max_abs_f16, __half)
MAXABS_ENTRY(max_abs_bf16, __nv_bfloat16)

// The first row whose squared norm is not finite: a NaN or infinite value, or (fp32) a row too long for float32
// distances. Stream learning checks its batches on the GPU with it before they move any centroid.
//   norms fp32 (rows)
//   out   int32 (1)  in/out: min with the previous value (set it to INT_MAX first)
// Launch: grid-stride, any grid, any block.
extern "C" __global__ void first_nonfinite_row(const float* __restrict__ norms, long long rows, int* __restrict__ out)
{
    for (long long row = (long long)blockIdx.x * blockDim.x + threadIdx.x; row < rows;
         row += (long long)gridDim.x * blockDim.x)
        if (!isfinite(norms[row])) atomicMin(out, (int)row);
}
