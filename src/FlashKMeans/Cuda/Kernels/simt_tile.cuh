// A 64 x 64 tile of exact fp32 squared distances computed on the CUDA cores, shared by the
// exact assignment kernel and the all-distances kernel. The difference form sum((x - c)^2)
// is used on purpose: it has no cancellation, unlike |x|^2 - 2 x.c + |c|^2.
#pragma once
#include "common.cuh"

namespace simt_tile {

constexpr int TM = 64;
constexpr int TN = 64;
constexpr int THREADS = 256;  // 16 x 16 threads, each owning rows ty + 16 i and columns tx + 16 j
constexpr int PAD = TM + 1;   // transposed shared tiles: column k of the tile is a row of 65 floats

// xs, cs: shared float[KC * PAD]. Out-of-range rows, columns and dimensions load as zero on both
// sides, so they add exactly nothing to a distance.
template <typename T, int KC>
__device__ __forceinline__ void distances(
    const T* __restrict__ x, int ldx, int row0, int n,
    const T* __restrict__ c, int ldc, int col0, int k, int d,
    float* xs, float* cs, float (&acc)[4][4])
{
    const int tid = threadIdx.x;
    const int tx = tid & 15;
    const int ty = tid >> 4;
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = 0.f;

    for (int k0 = 0; k0 < d; k0 += KC) {
        for (int e = tid; e < TM * KC; e += THREADS) {
            const int r = e / KC;
            const int kk = e - r * KC;
            const int gk = k0 + kk;
            const int gr = row0 + r;
            const int gc = col0 + r;
            xs[kk * PAD + r] = (gr < n && gk < d) ? to_f32(x[(size_t)gr * ldx + gk]) : 0.f;
            cs[kk * PAD + r] = (gc < k && gk < d) ? to_f32(c[(size_t)gc * ldc + gk]) : 0.f;
        }
        __syncthreads();
#pragma unroll 8
        for (int kk = 0; kk < KC; ++kk) {
            float xv[4], cv[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) xv[i] = xs[kk * PAD + ty + 16 * i];
#pragma unroll
            for (int j = 0; j < 4; ++j) cv[j] = cs[kk * PAD + tx + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const float diff = xv[i] - cv[j];
                    acc[i][j] = fmaf(diff, diff, acc[i][j]);
                }
        }
        __syncthreads();
    }
}

}  // namespace simt_tile
