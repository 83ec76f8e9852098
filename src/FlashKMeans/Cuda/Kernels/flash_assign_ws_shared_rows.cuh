// FlashAssign's warp-specialised sweep for rows of 513-1024 bytes (run_shared_rows), beside run of
// flash_assign_ws.cuh, whose mbarriers, storer warps and descriptors it shares. Built only by nvcc 12+ (PTX ISA 8.0) for
// compute_90a; see build-ptx.sh.
#pragma once
#include "flash_assign_ws.cuh"

namespace flash_assign_ws {

// Rows of 513-1024 bytes (fp16/bf16 d = 257..512, tf32 d = 129..256). Their wgmma A fragments would take 128
// registers per thread, which leaves too few for the accumulators under the cap of a block of 3 warpgroups
// (measured on the H200), so here A stays in shared memory: the row tile, BM rows of 8 k-chunks, sits there in the
// 128-byte swizzle the descriptors read, for the whole sweep over the centroid tiles. A tensor map (TMA) lays
// each k-chunk of it out in one copy, which a 1-D bulk copy of whole rows cannot do. Centroid tiles stream one
// k-chunk per stage (the last chunk's stage also carries the tile's norms), so that a deep ring fits beside the
// 128 KiB row tile. The row tile is refilled chunk by chunk: the consumers release chunk c once the last
// centroid tile's products over it are done, and a second producer warp loads the next row tile's chunk c, which
// is needed only KCH stages later. Labels leave through the storer warps' slots, as in run.
struct TensorMap {
    alignas(64) unsigned long long words[16];  // CUtensorMap, encoded by the host (cuTensorMapEncodeTiled)
};

__device__ __forceinline__ void tensor_copy_2d(uint32_t dst, const TensorMap* map, int x, int y, uint32_t bar)
{
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n"
                 ::"r"(dst), "l"(map), "r"(x), "r"(y), "r"(bar) : "memory");
}

constexpr int SHARED_ROWS_CHUNKS = 8;  // 128-byte k-chunks of a row tile

// xmap: the rows as a 2-D byte tensor (row bytes, B * n rows) at their pitch, box 128 bytes x BM rows,
// 128-byte swizzle, zero fill past the pitch and the last row.
template <typename Op, int NWG, int STAGES>
__device__ __forceinline__ void run_shared_rows(
    const TensorMap* xmap, const char* __restrict__ tiles, const float* __restrict__ xnorm, int* __restrict__ labels,
    float* __restrict__ min_dist, int n, int k, int batches, int update_min, const MovedCount& mc)
{
    constexpr int KCH = SHARED_ROWS_CHUNKS;
    constexpr int BM = NWG * 64;
    constexpr int ROW_CHUNK = BM * 128;  // one k-chunk of the row tile
    constexpr int TB = tile_bytes(KCH);
    constexpr int SS = stage_stride(1);  // one k-chunk of a centroid tile, and room for its norms
    extern __shared__ unsigned char smem_raw[];
    const uint32_t raw = (uint32_t)__cvta_generic_to_shared(smem_raw);
    const uint32_t stages = (raw + 1023u) & ~1023u;
    const uint32_t xs = stages + STAGES * SS;
    const uint32_t bars = xs + KCH * ROW_CHUNK;
    auto full = [&](int s) { return bars + 8u * s; };
    auto empty = [&](int s) { return bars + 8u * (STAGES + s); };
    auto xfull = [&](int c) { return bars + 16u * STAGES + 8u * c; };
    auto xempty = [&](int c) { return bars + 16u * STAGES + 8u * (KCH + c); };
    const uint32_t slot_full = bars + 16u * (STAGES + KCH);
    const uint32_t slot_empty = slot_full + 16u;
    const uint32_t slots = slot_full + SLOT_BARRIER_BYTES;

    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int ntiles = (k + BN - 1) / BN;
    const int tpp = (n + BM - 1) / BM;
    const int total = tpp * batches;

    if (tid == 0) {
        for (int s = 0; s < STAGES; ++s) {
            mbar_init(full(s), 1);
            mbar_init(empty(s), NWG * 4);
        }
        for (int c = 0; c < KCH; ++c) {
            mbar_init(xfull(c), 1);
            mbar_init(xempty(c), NWG * 4);
        }
        for (int i = 0; i < 2; ++i) {
            mbar_init(slot_full + 8u * i, NWG * 4);
            mbar_init(slot_empty + 8u * i, NWG);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (warp == NWG * 4) {
        // Centroid producer: one k-chunk of a tile per stage.
        if (lane == 0) {
            int stage = 0;
            uint32_t phase = 0;
            for (int g = blockIdx.x; g < total; g += gridDim.x) {
                const char* src = tiles + (size_t)(g / tpp) * ntiles * TB;
                for (int t = 0; t < ntiles; ++t)
                    for (int c = 0; c < KCH; ++c) {
                        const uint32_t bytes = CHUNK_BYTES + (c == KCH - 1 ? NORM_BYTES : 0);
                        mbar_wait(empty(stage), phase ^ 1);
                        mbar_expect_tx(full(stage), bytes);
                        bulk_copy(stages + stage * SS, src + (size_t)t * TB + c * CHUNK_BYTES, bytes, full(stage));
                        if (++stage == STAGES) { stage = 0; phase ^= 1; }
                    }
            }
        }
        return;
    }
    if (warp == NWG * 4 + 1) {
        // Row producer: chunk c of the next row tile as soon as the consumers are done with chunk c of this one.
        if (lane == 0) {
            int it = 0;
            for (int g = blockIdx.x; g < total; g += gridDim.x, ++it) {
                const int b = g / tpp;
                const int row = b * n + (g - b * tpp) * BM;
                for (int c = 0; c < KCH; ++c) {
                    if (it > 0) mbar_wait(xempty(c), (it - 1) & 1);
                    mbar_expect_tx(xfull(c), ROW_CHUNK);
                    tensor_copy_2d(xs + c * ROW_CHUNK, xmap, c * 128, row, xfull(c));
                }
            }
        }
        return;
    }
    if (warp > NWG * 4 + 1) {
        store_row_tiles<BM>(xnorm, labels, min_dist, n, k, tpp, total, update_min, slots, slot_full, slot_empty,
                            warp - NWG * 4 - 2, batches, mc);
        return;
    }

    const int wg = warp >> 2;
    const int wq = warp & 3;
    const int srow = wg * 64 + wq * 16 + (lane >> 2);  // this lane's rows in the tile: srow, srow + 8
    float acc[64];
#pragma unroll
    for (int i = 0; i < 64; ++i) acc[i] = 0.f;
    int stage = 0;
    uint32_t phase = 0;
    int it = 0;
    for (int g = blockIdx.x; g < total; g += gridDim.x, ++it) {
        const uint32_t xphase = it & 1;
        float best[2] = {FKM_INF, FKM_INF};
        int best_idx[2] = {0x7fffffff, 0x7fffffff};
        for (int t = 0; t < ntiles; ++t) {
            const bool last = t == ntiles - 1;
            int previous = 0;
#pragma unroll
            for (int c = 0; c < KCH; ++c) {
                if (t == 0) mbar_wait(xfull(c), xphase);
                mbar_wait(full(stage), phase);
                asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
                const uint64_t da = descriptor(xs + c * ROW_CHUNK + wg * 64 * 128);
                const uint64_t db = descriptor(stages + stage * SS);
#pragma unroll
                for (int ks = 0; ks < 4; ++ks)
                    Op::mma(acc, da + 2 * ks, db + 2 * ks, (c > 0 || ks > 0) ? 1 : 0);
                asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
                if (c > 0) {
                    // The previous chunk's products are done: its stage, and on the last tile its row chunk, are free.
                    asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
                    __syncwarp();
                    if (lane == 0) {
                        mbar_arrive(empty(previous));
                        if (last) mbar_arrive(xempty(c - 1));
                    }
                }
                previous = stage;
                if (++stage == STAGES) { stage = 0; phase ^= 1; }
            }
            asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");

            const int cl = 2 * (lane & 3);
            products_to_scores(acc, stages + previous * SS + CHUNK_BYTES + 4u * cl);
            asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
            __syncwarp();
            if (lane == 0) {
                mbar_arrive(empty(previous));
                if (last) mbar_arrive(xempty(KCH - 1));
            }
            tile_argmin(acc, t * BN + cl, best, best_idx);
        }

        hand_over_rows<BM>(best, best_idx, it, srow, 8, slots, slot_full, slot_empty);
    }
}

}  // namespace flash_assign_ws
