// FlashAssign, warp-specialised (sm_90a only): one producer warp streams centroid tiles into a ring of
// shared-memory stages with bulk asynchronous copies paced by mbarriers, NWG consumer warpgroups, each
// owning 64 rows held as wgmma A fragments in registers, multiply and run the argmin, and NWG storer
// warps store the labels and distances the consumers leave in shared memory. Rows of 513-1024 bytes keep
// the row tile in shared memory instead (run_shared_rows, flash_assign_ws_shared_rows.cuh). The top-k entries keep
// RowLists (topk_lists.cuh) in place of the argmin.
//
// Why this shape (measured on the H200): the register-A kernel of flash_assign_wgmma.cu drained its
// pipeline at every stage (a block-wide barrier, cp.async issued by every thread, wgmma wait 0), so the
// tensor cores idled during barriers and the argmin. Here nothing but mbarriers couple the warps:
// the consumers never wait for each other, so one warpgroup's argmin runs while another multiplies,
// and the single producer thread issues one copy per stage.
//
// Centroids are first re-laid by pack_centroid_tiles into the exact byte image of a stage (the
// 128-byte-swizzled K-major chunks the wgmma descriptors read, then the tile's 128 centroid norms,
// +inf past k; centroid_tiles.cuh), so that a stage is one contiguous bulk copy and the argmin needs no
// bounds checks. A Lloyd step's finalize writes its new centroids into the tiles directly.
// A row tile of BM rows arrives as 8 bulk copies of BM / 8 consecutive rows each, group i placed 16
// bytes further along the banks than group i - 1, and fragment row F (0..BM-1) holds data row
// (BM / 8)(F mod 8) + F / 8: the 8 rows of each fragment matrix then come one from each group and hit
// 8 different bank groups. (Rows at their pitch in memory, a multiple of 128 bytes for d = 64, 128,
// ..., would all hit one: 8-way conflicts that cost 12% of the assignment on the H200.) Blocks are
// persistent: each walks row tiles blockIdx.x, + gridDim.x, ..., so the producer fetches the next row
// tile while the consumers finish the current one.
// Built only by nvcc 12+ (PTX ISA 8.0) for compute_90a; see build-ptx.sh.
#pragma once
#include "common.cuh"
#include "sm90_layout.cuh"
#include "sm90_wgmma_ops.cuh"

namespace flash_assign_ws {

using centroid_tiles::BN;           // centroids per tile
using centroid_tiles::CHUNK_BYTES;  // one 128-byte k-chunk of a tile
using centroid_tiles::NORM_BYTES;   // the tile's centroid norms
using centroid_tiles::tile_bytes;   // bytes of one packed tile in global memory

// A tile's stride in shared memory (the swizzle needs each chunk 1024-byte aligned).
__host__ __device__ constexpr int stage_stride(int kch) { return kch * CHUNK_BYTES + 1024; }

__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count)
{
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar)
{
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes)
{
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity)
{
    uint32_t done;
    do {
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                     : "=r"(done) : "r"(bar), "r"(parity) : "memory");
    } while (!done);
}
__device__ __forceinline__ void bulk_copy(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar)
{
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n"
                 ::"r"(dst), "l"(src), "r"(bytes), "r"(bar) : "memory");
}

// The plain entries' count of labels for the centroid update, done by the storer warps as they store the labels, which
// saves the update a pass over them. Null previous: none. Two kinds:
//  - incremental (counts null; moved_rows.cu's count_moved_rows): each row whose label differs from previous (the labels
//    the fixed-point sums hold) is counted in its two signed clusters and in changed;
//  - sorting (counts not null; label_sort.cu's label_histogram): every row is counted in counts, a row whose label
//    differs from previous (-1 before the first step) in changed, and previous takes the new labels.
//   previous      int32 (B*n)     the last labels (read only when incremental: scatter_moved_rows moves them)
//   signed_counts int32 (2*B*k)   in/out: joined b*k + new, then left B*k + b*k + old (zero, as scatter_moved_rows leaves it)
//   changed       uint64 (B)      in/out: moved rows per problem (zero it first)
//   counts        int32 (B*k)     in/out: rows per cluster (zero it first), or null
struct MovedCount {
    int* previous;
    int* signed_counts;
    unsigned long long* changed;
    int* counts;
};

// Scores in place of the products: acc[4j + 2h + e] (row half h, column 8j + 2(lane & 3) + e) becomes
// ||c||^2 - 2 x.c, with the tile's norms read from shared memory at norms (this lane's first column). The caller
// then fences the generic-proxy reads before the stage's next (async-proxy) copy. (Reading the norms from global
// memory instead, with no fence, was slower on the H200.)
__device__ __forceinline__ void products_to_scores(float (&acc)[64], uint32_t norms)
{
#pragma unroll
    for (int j = 0; j < 16; ++j) {
        float2 cn;
        asm volatile("ld.shared.v2.f32 {%0, %1}, [%2];\n" : "=f"(cn.x), "=f"(cn.y) : "r"(norms + 32u * j));
        acc[4 * j + 0] = fmaf(-2.f, acc[4 * j + 0], cn.x);
        acc[4 * j + 1] = fmaf(-2.f, acc[4 * j + 1], cn.y);
        acc[4 * j + 2] = fmaf(-2.f, acc[4 * j + 2], cn.x);
        acc[4 * j + 3] = fmaf(-2.f, acc[4 * j + 3], cn.y);
    }
}

// The plain entries' row-tile slots: per row its label and its best score, which the consumers leave for the
// storer warps. Two slots, so that the consumers fill one while the storers read the other.
constexpr int SLOT_BARRIER_BYTES = 32;  // slot full x 2, slot empty x 2, after the kernel's own mbarriers

// The storer warps of the plain entries, NWG of them, warp sw owning rows 64 sw .. 64 sw + 63 of each row tile:
// once the consumers have left a tile's labels and scores in a slot, a lane per row stores them (store_nearest).
// The consumers then go straight on to the next tile's products instead of waiting on the row norms' loads and
// on the stores: 8% of the assignment at 1M x 1024 on the H200.
// With mc.previous they also count the labels (MovedCount): a load and atomics that nothing waits on, where a separate
// pass over the labels cost 7.6 us (incremental) or 12 us (sorting) a step at 1M rows on the H200.
template <int BM>
__device__ __forceinline__ void store_row_tiles(
    const float* __restrict__ xnorm, int* __restrict__ labels, float* __restrict__ min_dist, int n, int k, int tpp,
    int total, int update_min, uint32_t slots, uint32_t slot_full, uint32_t slot_empty, int sw, int batches,
    const MovedCount& mc)
{
    const int lane = threadIdx.x & 31;
    int it = 0;
    unsigned moved = 0;  // this warp's moved rows of problem moved_b not yet added to changed: every lane holds it, lane 0 adds it
    int moved_b = 0;
    for (int g = blockIdx.x; g < total; g += gridDim.x, ++it) {
        const int b = g / tpp;
        const int row0 = (g - b * tpp) * BM + 64 * sw;
        const int buf = it & 1;
        mbar_wait(slot_full + 8u * buf, (it >> 1) & 1);
        int lab[2];
        float val[2];
#pragma unroll
        for (int q = 0; q < 2; ++q)
            asm volatile("ld.shared.v2.b32 {%0, %1}, [%2];\n"
                         : "=r"(lab[q]), "=f"(val[q]) : "r"(slots + 8u * (buf * BM + 64 * sw + 32 * q + lane)) : "memory");
        __syncwarp();
        if (lane == 0) mbar_arrive(slot_empty + 8u * buf);
#pragma unroll
        for (int q = 0; q < 2; ++q)
            if (row0 + 32 * q + lane < n)
                store_nearest((size_t)b * n + row0 + 32 * q + lane, val[q], lab[q], k, xnorm, labels, min_dist, update_min);
        if (mc.previous != nullptr) {
            if (b != moved_b) {
                if (lane == 0 && moved != 0) atomicAdd(mc.changed + moved_b, (unsigned long long)moved);
                moved = 0;
                moved_b = b;
            }
#pragma unroll
            for (int q = 0; q < 2; ++q) {
                const bool valid = row0 + 32 * q + lane < n;
                const size_t o = (size_t)b * n + row0 + 32 * q + lane;
                const int label = stored_label(lab[q], k);
                const int old = valid ? mc.previous[o] : label;
                if (mc.counts != nullptr) {
                    if (valid) atomicAdd(mc.counts + b * k + label, 1);
                    if (old != label) mc.previous[o] = label;
                } else if (old != label) {
                    atomicAdd(mc.signed_counts + b * k + label, 1);
                    atomicAdd(mc.signed_counts + (batches + b) * k + old, 1);
                }
                moved += __popc(__ballot_sync(0xffffffffu, old != label));
            }
        }
    }
    if (mc.previous != nullptr && lane == 0 && moved != 0) atomicAdd(mc.changed + moved_b, (unsigned long long)moved);
}

// The consumers' end of a row tile in the plain entries: each of this lane's two rows (tile rows r0 and r0 + step)
// leaves its label and best score in slot it & 1 for the storer warps (store_row_tiles).
template <int BM>
__device__ __forceinline__ void hand_over_rows(const float (&best)[2], const int (&best_idx)[2], int it, int r0, int step,
                                               uint32_t slots, uint32_t slot_full, uint32_t slot_empty)
{
    const int lane = threadIdx.x & 31;
    const int buf = it & 1;
    mbar_wait(slot_empty + 8u * buf, ((it >> 1) & 1) ^ 1);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        float v;
        int i;
        quad_argmin(best[h], best_idx[h], v, i);
        if ((lane & 3) == 0)
            asm volatile("st.shared.v2.b32 [%0], {%1, %2};\n" ::"r"(slots + 8u * (buf * BM + r0 + step * h)), "r"(i), "f"(v) : "memory");
    }
    __syncwarp();
    if (lane == 0) mbar_arrive(slot_full + 8u * buf);
}

}  // namespace flash_assign_ws

#include "topk_lists.cuh"

namespace flash_assign_ws {

// Op: one of register_a's wgmma k-steps (sm90_wgmma_ops.cuh), by element type T.
// TOP > 0: the top-k entries (RowLists<TOP, SCRATCH>), which store each row's top nearest centroids into labels
// (indices) and min_dist (distances), n x top each, from the consumers: they have no storer warps.
template <typename T, typename Op, int KCH, int NWG, int STAGES, int TOP = 0, bool SCRATCH = true>
__device__ __forceinline__ void run(
    const char* __restrict__ x, const char* __restrict__ tiles, const float* __restrict__ xnorm,
    int* __restrict__ labels, float* __restrict__ min_dist, int n, int k, int ldx_bytes, int batches, int update_min,
    MovedCount mc = {}, int top = 0)
{
    constexpr bool kStorers = TOP == 0;
    constexpr int BM = NWG * 64;
    constexpr int RG = BM / 8;                       // rows per copy group
    constexpr int GS = RG * KCH * 128 + 16;          // group stride: the 16-byte skew
    constexpr int X_BYTES = 8 * GS;
    constexpr int TB = tile_bytes(KCH);
    constexpr int SS = stage_stride(KCH);
    extern __shared__ unsigned char smem_raw[];
    const uint32_t raw = (uint32_t)__cvta_generic_to_shared(smem_raw);
    const uint32_t stages = (raw + 1023u) & ~1023u;
    const uint32_t xs = stages + STAGES * SS;
    const uint32_t bars = xs + X_BYTES;
    auto full = [&](int s) { return bars + 8u * s; };
    auto empty = [&](int s) { return bars + 8u * (STAGES + s); };
    const uint32_t xfull = bars + 16u * STAGES;
    const uint32_t xempty = xfull + 8u;
    // Plain entries only: the slots' mbarriers at a fixed offset past those (the host reserves 80 bytes for them),
    // then the two slots of BM (label, score) pairs.
    const uint32_t slot_full = bars + 80u;
    const uint32_t slot_empty = slot_full + 16u;
    const uint32_t slots = slot_full + SLOT_BARRIER_BYTES;
    // Top-k entries with SCRATCH only: the consumers' scratch, past the mbarriers (the host reserves it).
    const uint32_t scratch = bars + 80u;

    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int ntiles = (k + BN - 1) / BN;
    const int tpp = (n + BM - 1) / BM;          // row tiles per problem
    const int total = tpp * batches;

    if (tid == 0) {
#pragma unroll
        for (int s = 0; s < STAGES; ++s) {
            mbar_init(full(s), 1);
            mbar_init(empty(s), NWG * 4);
        }
        mbar_init(xfull, 1);
        mbar_init(xempty, NWG * 4);
        if constexpr (kStorers) {
            for (int i = 0; i < 2; ++i) {
                mbar_init(slot_full + 8u * i, NWG * 4);
                mbar_init(slot_empty + 8u * i, NWG);
            }
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    // A row's fragments span KCH * 128 bytes, more than its ldx bytes when d is short: the bytes past
    // it (the next row, the skew, or past the last row copied) must be finite, since they meet the
    // centroid tiles' zero padding. Zero at first, later only ever rows.
    for (int i = tid; i < X_BYTES / 16; i += blockDim.x)
        asm volatile("st.shared.v4.u32 [%0], {%1, %1, %1, %1};\n" ::"r"(xs + 16u * i), "r"(0) : "memory");
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    __syncthreads();

    if (warp == NWG * 4) {
        // Producer: one thread issues every copy.
        if (lane == 0) {
            auto load_rows = [&](int g) {
                const int b = g / tpp;
                const int row0 = (g - b * tpp) * BM;
                const int rows = min(BM, n - row0);
                mbar_expect_tx(xfull, (uint32_t)(rows * ldx_bytes));
                const char* src = x + ((size_t)b * n + row0) * ldx_bytes;
                for (int i = 0; i * RG < rows; ++i)
                    bulk_copy(xs + i * GS, src + (size_t)i * RG * ldx_bytes, (uint32_t)(min(RG, rows - i * RG) * ldx_bytes), xfull);
            };
            int stage = 0;
            uint32_t phase = 0, xphase = 0;
            if (blockIdx.x < total) load_rows(blockIdx.x);
            for (int g = blockIdx.x; g < total; g += gridDim.x) {
                const char* src = tiles + (size_t)(g / tpp) * ntiles * TB;
                const int next_at = min(1, ntiles - 1);
                for (int t = 0; t < ntiles; ++t) {
                    mbar_wait(empty(stage), phase ^ 1);
                    mbar_expect_tx(full(stage), TB);
                    bulk_copy(stages + stage * SS, src + (size_t)t * TB, TB, full(stage));
                    if (++stage == STAGES) { stage = 0; phase ^= 1; }
                    if (t == next_at && g + (int)gridDim.x < total) {
                        // The consumers release the row tile once its rows are in registers.
                        mbar_wait(xempty, xphase);
                        xphase ^= 1;
                        load_rows(g + gridDim.x);
                    }
                }
            }
        }
        return;
    }
    if constexpr (kStorers) {
        if (warp > NWG * 4) {
            store_row_tiles<BM>(xnorm, labels, min_dist, n, k, tpp, total, update_min, slots, slot_full, slot_empty,
                                warp - NWG * 4 - 1, batches, mc);
            return;
        }
    }

    const int wg = warp >> 2;
    const int wq = warp & 3;
    float acc[64];
#pragma unroll
    for (int i = 0; i < 64; ++i) acc[i] = 0.f;
    int stage = 0;
    uint32_t phase = 0, xphase = 0;
    int it = 0;
    for (int g = blockIdx.x; g < total; g += gridDim.x, ++it) {
        const int b = g / tpp;
        const int row0 = (g - b * tpp) * BM;

        // Fragment row wg·64 + wq·16 + 8h + (lane >> 2) holds data row RG (lane >> 2) + (wg·64 + wq·16 + 8h) / 8.
        const int gr0 = row0 + RG * (lane >> 2) + wg * 8 + wq * 2;  // this lane's rows: gr0 + h

        mbar_wait(xfull, xphase);
        xphase ^= 1;
        uint32_t afrag[KCH][4][4];
        {
            const int f = wg * 64 + wq * 16 + (lane & 15);  // fragment row; data row RG (f % 8) + f / 8
            const uint32_t rowaddr = xs + (uint32_t)((f & 7) * GS + (f >> 3) * ldx_bytes) + 16u * (lane >> 4);
#pragma unroll
            for (int kc = 0; kc < KCH; ++kc)
#pragma unroll
                for (int ks = 0; ks < 4; ++ks)
                    ldmatrix_x4(afrag[kc][ks], rowaddr + kc * 128 + ks * 32);
        }
        // The next row tile is written by the async proxy: order these generic-proxy reads before it.
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        __syncwarp();
        if (lane == 0) mbar_arrive(xempty);

        float best[2] = {FKM_INF, FKM_INF};
        int best_idx[2] = {0x7fffffff, 0x7fffffff};
        RowLists<TOP, SCRATCH> lists;
        for (int t = 0; t < ntiles; ++t) {
            mbar_wait(full(stage), phase);
            __syncwarp();
            const uint32_t sb = stages + stage * SS;
            asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
            for (int kc = 0; kc < KCH; ++kc) {
                const uint64_t db = descriptor(sb + kc * CHUNK_BYTES);
#pragma unroll
                for (int ks = 0; ks < 4; ++ks)
                    // +32 bytes per k-step: the start-address field counts 16-byte units.
                    Op::mma(acc, afrag[kc][ks], db + 2 * ks, (kc > 0 || ks > 0) ? 1 : 0);
            }
            asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
            asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");

            const int cl = 2 * (lane & 3);
            products_to_scores(acc, sb + KCH * CHUNK_BYTES + 4u * cl);
            asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
            __syncwarp();
            if (lane == 0) mbar_arrive(empty(stage));
            if (++stage == STAGES) { stage = 0; phase ^= 1; }

            if constexpr (TOP > 0) lists.template tile<NWG * 128>(acc, t * BN + cl, t == 0, scratch);
            else tile_argmin(acc, t * BN + cl, best, best_idx);
        }

        if constexpr (TOP > 0) {
            lists.store(b, gr0, n, k, top, xnorm, labels, min_dist);
        } else {
            hand_over_rows<BM>(best, best_idx, it, gr0 - row0, 1, slots, slot_full, slot_empty);
        }
    }
}

}  // namespace flash_assign_ws
