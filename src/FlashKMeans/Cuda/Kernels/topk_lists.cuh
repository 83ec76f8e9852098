// The top-k entries' lists (RowLists), which flash_assign_ws.cuh's run keeps in place of the argmin; included from there,
// before run. Built only by nvcc 12+ (PTX ISA 8.0) for compute_90a; see build-ptx.sh.
#pragma once
#include "common.cuh"

namespace flash_assign_ws {

// The top-k entries' epilogue: each thread keeps, for each of its two rows, the TOP best (score, column) pairs among the
// columns it holds (a quarter of every tile), sorted by score and then column. A row's TOP nearest are among its four
// lanes' lists: any pair a lane drops has TOP better ones in that lane's list.
//
// The argmin costs one instruction per score (a running minimum). The lists cost about two: a compare against the row's
// bound, folded into one 32-bit mask per row and tile; only the few survivors are inserted, all lanes together (the
// warp steps through the inserts of its busiest lane, which is what keeps them below the argmin's rate):
//  - The bound is a score that TOP distinct columns of the row are known to beat or tie: the least of its quad's last
//    entries, or the largest of its quad's (TOP / 4)-th entries (four lanes with TOP / 4 each). On a row tile's first
//    tile, with no lists yet, it is the largest of the four lanes' (TOP / 4)-th smallest scores of the tile itself.
//  - Survivors are taken from the mask lowest bit first, so columns arrive in increasing order. A survivor's score is
//    read back either from the thread's scratch in shared memory (SCRATCH: the 64 scores stored once, as 16 float4,
//    when the thread has any survivor) or, where shared memory has no room for it, picked from the registers by a
//    select tree on its bit (31 selects).
//  - An insert compares the new pair with every entry at once and shifts in one step (the list is sorted, so the
//    compares are monotone), and the two rows' inserts run side by side.
// At the end the four lists of a row are merged through shuffles, best first.
//
// Measured on the H100 against the queue this replaced (survivors appended to shared memory, one predicated store per
// score): see docs/gpu-kernels.md.
constexpr int TOPK_SCRATCH_BYTES = 256;  // per consumer thread, with SCRATCH: its 64 scores

template <int TOP, bool SCRATCH = true>
struct RowLists {
    static_assert(TOP % 4 == 0, "four lanes share a row's list length");
    static constexpr int R = TOP / 4;
    float v[2][TOP];
    int ix[2][TOP];
    float bound[2];

    __device__ __forceinline__ RowLists()
    {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            bound[h] = FKM_INF;
#pragma unroll
            for (int j = 0; j < TOP; ++j) { v[h][j] = FKM_INF; ix[h][j] = 0x7fffffff; }
        }
    }

    // Inserts (s, i) into row h's list where take. Columns reach a thread in increasing order, so a new pair goes after
    // any equal score: p[j] = s < v[j] is false up to the insertion point and true from there on.
    __device__ __forceinline__ void insert(int h, bool take, float s, int i)
    {
        bool p[TOP];
#pragma unroll
        for (int j = 0; j < TOP; ++j) p[j] = take && s < v[h][j];
#pragma unroll
        for (int j = TOP - 1; j > 0; --j) {
            v[h][j] = p[j - 1] ? v[h][j - 1] : p[j] ? s : v[h][j];
            ix[h][j] = p[j - 1] ? ix[h][j - 1] : p[j] ? i : ix[h][j];
        }
        v[h][0] = p[0] ? s : v[h][0];
        ix[h][0] = p[0] ? i : ix[h][0];
    }

    // The score at bit p of row h's mask, from the registers.
    __device__ __forceinline__ static float pick(const float (&acc)[64], int h, int p)
    {
        float l[16];
#pragma unroll
        for (int i = 0; i < 16; ++i) l[i] = (p & 1) ? acc[4 * i + 2 * h + 1] : acc[4 * i + 2 * h];
#pragma unroll
        for (int i = 0; i < 8; ++i) l[i] = (p & 2) ? l[2 * i + 1] : l[2 * i];
#pragma unroll
        for (int i = 0; i < 4; ++i) l[i] = (p & 4) ? l[2 * i + 1] : l[2 * i];
#pragma unroll
        for (int i = 0; i < 2; ++i) l[i] = (p & 8) ? l[2 * i + 1] : l[2 * i];
        return (p & 16) ? l[1] : l[0];
    }

    // acc[4j + 2h + e]: the score of row half h at column col0 + 8j + e (past k: +inf, from the tiles' norms).
    // first: the row tile's first centroid tile. scratch (SCRATCH): the consumers' scratch in shared memory, float4 q of
    // thread t at 16 (q threads + t).
    template <int THREADS>
    __device__ __forceinline__ void tile(const float (&acc)[64], int col0, bool first, uint32_t scratch)
    {
        float limit[2] = {bound[0], bound[1]};
        if (first) {
            float least[2][R];
#pragma unroll
            for (int h = 0; h < 2; ++h)
#pragma unroll
                for (int r = 0; r < R; ++r) least[h][r] = FKM_INF;
#pragma unroll
            for (int j = 0; j < 32; ++j)
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    float x = acc[4 * (j >> 1) + 2 * h + (j & 1)];
#pragma unroll
                    for (int r = 0; r < R; ++r) {
                        const float lo = fminf(least[h][r], x);
                        x = fmaxf(least[h][r], x);
                        least[h][r] = lo;
                    }
                }
#pragma unroll
            for (int h = 0; h < 2; ++h) limit[h] = fmaxf(least[h][R - 1], __shfl_xor_sync(0xffffffffu, least[h][R - 1], 1));
#pragma unroll
            for (int h = 0; h < 2; ++h) limit[h] = fmaxf(limit[h], __shfl_xor_sync(0xffffffffu, limit[h], 2));
        }
        unsigned mask[2] = {0u, 0u};
#pragma unroll
        for (int j = 0; j < 16; ++j)
#pragma unroll
            for (int e = 0; e < 2; ++e)
#pragma unroll
                for (int h = 0; h < 2; ++h) mask[h] |= (acc[4 * j + 2 * h + e] <= limit[h] ? 1u : 0u) << (2 * j + e);
        const uint32_t mine = scratch + 16u * threadIdx.x;
        if constexpr (SCRATCH) {
            if ((mask[0] | mask[1]) != 0u) {
#pragma unroll
                for (int q = 0; q < 16; ++q)
                    asm volatile("st.shared.v4.f32 [%0], {%1, %2, %3, %4};\n" ::"r"(mine + 16u * THREADS * q), "f"(acc[4 * q]),
                                 "f"(acc[4 * q + 1]), "f"(acc[4 * q + 2]), "f"(acc[4 * q + 3]) : "memory");
            }
        }
        const int steps = max(__popc(mask[0]), __popc(mask[1]));
        for (int c = 0; c < steps; ++c) {
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                const bool take = mask[h] != 0u;
                const int p = take ? __ffs(mask[h]) - 1 : 0;
                mask[h] &= mask[h] - 1u;
                float s;
                if constexpr (SCRATCH) {
                    s = FKM_INF;
                    if (take)
                        asm volatile("ld.shared.f32 %0, [%1];\n"
                                     : "=f"(s) : "r"(mine + 16u * THREADS * (p >> 1) + 4u * (2 * h + (p & 1))) : "memory");
                } else {
                    s = pick(acc, h, p);
                }
                insert(h, take, s, col0 + 8 * (p >> 1) + (p & 1));
            }
        }
        float last[2], part[2];
#pragma unroll
        for (int h = 0; h < 2; ++h) { last[h] = v[h][TOP - 1]; part[h] = v[h][R - 1]; }
#pragma unroll
        for (int m = 1; m <= 2; m *= 2)
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                last[h] = fminf(last[h], __shfl_xor_sync(0xffffffffu, last[h], m));
                part[h] = fmaxf(part[h], __shfl_xor_sync(0xffffffffu, part[h], m));
            }
#pragma unroll
        for (int h = 0; h < 2; ++h) bound[h] = fminf(last[h], part[h]);
    }

    // Rows gr0 and gr0 + 1 of problem b: their top nearest (top <= TOP), nearest first, ties to the lower column, as
    // indices (-1 past k) and squared distances ||x||^2 + score clamped at 0 (+inf past k), n x top each.
    __device__ __forceinline__ void store(int b, int gr0, int n, int k, int top, const float* __restrict__ xnorm,
                                          int* __restrict__ indices, float* __restrict__ distances)
    {
        const int lane = threadIdx.x & 31;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const bool valid = gr0 + h < n;
            const size_t o = (size_t)b * n + gr0 + h;
            const float xn = valid ? __ldg(xnorm + o) : 0.f;
            for (int j = 0; j < top; ++j) {
                float bv;
                int bi;
                quad_argmin(v[h][0], ix[h][0], bv, bi);
                if (ix[h][0] == bi) {  // this lane's head won (columns are distinct across a quad): pop it
#pragma unroll
                    for (int q = 0; q + 1 < TOP; ++q) { v[h][q] = v[h][q + 1]; ix[h][q] = ix[h][q + 1]; }
                    v[h][TOP - 1] = FKM_INF;
                    ix[h][TOP - 1] = 0x7fffffff;
                }
                if (valid && (lane & 3) == (j & 3)) {
                    indices[o * top + j] = bi < k ? bi : -1;
                    distances[o * top + j] = bi < k ? fmaxf(xn + bv, 0.f) : FKM_INF;
                }
            }
        }
    }
};

template <>
struct RowLists<0> {  // the argmin entries: no lists
    template <int THREADS>
    __device__ __forceinline__ void tile(const float (&)[64], int, bool, uint32_t) {}
};

}  // namespace flash_assign_ws
