// The tensor-core main loop of FlashAssign (mma.sync, sm_80 and later), shared by the kernels that differ only in what
// they keep of each tile of scores: flash_assign_mma.cu keeps each row's argmin, flash_topk.cu its k nearest.
//
// A block owns BM = 128 rows of one batch and sweeps all K centroids in tiles of BN = 128.
// The dot products run on mma.sync (fp16/bf16: m16n8k16, fp32 as tf32: m16n8k8). Shared memory
// holds rows of 128 bytes per pipeline stage; because a 16-bit k-step and a tf32 k-step are both
// 32 bytes wide, one byte-addressed tile layout and one ldmatrix scheme serve all three types.
// The pipeline runs over the flattened (centroid tile, k-chunk) sequence so it never drains
// between centroid tiles; X tiles are re-read per centroid tile and are served from L2.
//
// Requirements checked by the host: ldx and ldc in bytes are multiples of 16, and the padding
// elements d..ld-1 of every row are zero (the backend allocates and packs both buffers).
#pragma once
#include "common.cuh"

namespace mma_tiles {


constexpr int BM = 128;
constexpr int BN = 128;
constexpr int ROW_BYTES = 128;   // one k-chunk of a tile row in shared memory
constexpr int STAGES = 3;
constexpr int THREADS = 256;     // 8 warps: 2 along M (64 rows each) x 4 along N (32 centroids each)
constexpr int TILE_BYTES = BM * ROW_BYTES;
constexpr int STAGE_BYTES = 2 * TILE_BYTES;
constexpr int SMEM_BYTES = STAGES * STAGE_BYTES;  // 96 KiB: two blocks fit on an SM of 228 KiB
static_assert(SMEM_BYTES == 98304, "the host launches with exactly this dynamic shared memory size");

// 16-byte chunk c of row r lives at chunk c ^ (r & 7): the 8 rows an ldmatrix phase reads then
// hit 8 different bank groups.
__device__ __forceinline__ uint32_t swizzle(int row, int chunk)
{
    return (uint32_t)(row * ROW_BYTES + ((chunk ^ (row & 7)) << 4));
}

__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, bool valid)
{
    int src_size = valid ? 16 : 0;  // 0 bytes read: the 16 destination bytes are zero-filled
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_size));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void ldmatrix_x4(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, uint32_t addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
}

struct F16 {
    __device__ __forceinline__ static void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2])
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    }
    __device__ __forceinline__ static uint32_t prep(uint32_t r) { return r; }
};

struct BF16 {
    __device__ __forceinline__ static void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2])
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    }
    __device__ __forceinline__ static uint32_t prep(uint32_t r) { return r; }
};

struct TF32 {
    __device__ __forceinline__ static void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2])
    {
        asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    }
    // Operands arrive already rounded to tf32 by pack_rows_tf32, so the tensor core's dropping
    // of the low mantissa bits loses nothing and the inner loop needs no conversion.
    __device__ __forceinline__ static uint32_t prep(uint32_t r) { return r; }
};

// Accumulator layout: acc[mi][ni][2h + e] is the dot product of tile row warp_m * 64 + mi * 16 + h * 8 + lane / 4 with
// tile column warp_n * 32 + ni * 8 + 2 * (lane % 4) + e.
struct Place {
    int tid, lane, warp_m, warp_n;
    __device__ __forceinline__ int row(int mi, int h) const { return warp_m * 64 + mi * 16 + h * 8 + (lane >> 2); }
    __device__ __forceinline__ int column(int ni, int e) const { return warp_n * 32 + ni * 8 + 2 * (lane & 3) + e; }
};

// Sweeps every centroid tile of the block's rows: after each tile's last k-chunk, epilogue.tile(acc, tile, place) sees
// the tile's dot products (then they are cleared). On return every copy has landed and the pipeline's shared memory
// (the first SMEM_BYTES) is free.
template <typename Op, typename Epilogue>
__device__ __forceinline__ void sweep(const char* __restrict__ x, const char* __restrict__ c, int n, int k, int d_bytes,
                                      int ldx_bytes, int ldc_bytes, int row0, unsigned char* smem, Epilogue& epilogue)
{
    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const Place place{tid, lane, warp >> 2, warp & 3};
    const int warp_m = place.warp_m;
    const int warp_n = place.warp_n;

    const int kchunks = (d_bytes + ROW_BYTES - 1) / ROW_BYTES;
    const int ntiles = (k + BN - 1) / BN;
    const int steps = ntiles * kchunks;
    const uint32_t smem_base = (uint32_t)__cvta_generic_to_shared(smem);

    // Each thread copies 4 chunks of the X tile and 4 of the centroid tile per stage.
    auto load_stage = [&](int step) {
        const int slot = step % STAGES;
        const int tile = step / kchunks;
        const int kbyte = (step - tile * kchunks) * ROW_BYTES;
        const int chunk = tid & 7;
        const int cbyte = kbyte + chunk * 16;
        const uint32_t a_dst = smem_base + slot * STAGE_BYTES;
        const uint32_t b_dst = a_dst + TILE_BYTES;
#pragma unroll
        for (int p = 0; p < 4; ++p) {
            const int r = (tid >> 3) + 32 * p;
            const int gr = row0 + r;
            const bool va = gr < n && cbyte < ldx_bytes;
            cp_async_16(a_dst + swizzle(r, chunk), va ? x + (size_t)gr * ldx_bytes + cbyte : x, va);
            const int gc = tile * BN + r;
            const bool vb = gc < k && cbyte < ldc_bytes;
            cp_async_16(b_dst + swizzle(r, chunk), vb ? c + (size_t)gc * ldc_bytes + cbyte : c, vb);
        }
    };

    float acc[4][4][4];
#pragma unroll
    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[mi][ni][e] = 0.f;

#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (s < steps) load_stage(s);
        cp_async_commit();
    }

    for (int step = 0; step < steps; ++step) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();
        // The slot refilled here was consumed in the previous step; the barrier above ordered it.
        if (step + STAGES - 1 < steps) load_stage(step + STAGES - 1);
        cp_async_commit();

        const uint32_t a_s = smem_base + (step % STAGES) * STAGE_BYTES;
        const uint32_t b_s = a_s + TILE_BYTES;
#pragma unroll
        for (int ks = 0; ks < ROW_BYTES / 32; ++ks) {
            uint32_t bf[4][2];
#pragma unroll
            for (int np = 0; np < 2; ++np) {
                const int nr = warp_n * 32 + np * 16 + (lane & 7) + ((lane >> 4) << 3);
                const int ch = ks * 2 + ((lane >> 3) & 1);
                ldmatrix_x4(bf[2 * np][0], bf[2 * np][1], bf[2 * np + 1][0], bf[2 * np + 1][1], b_s + swizzle(nr, ch));
            }
#pragma unroll
            for (int ni = 0; ni < 4; ++ni) { bf[ni][0] = Op::prep(bf[ni][0]); bf[ni][1] = Op::prep(bf[ni][1]); }
#pragma unroll
            for (int mi = 0; mi < 4; ++mi) {
                uint32_t af[4];
                const int mr = warp_m * 64 + mi * 16 + (lane & 15);
                const int ch = ks * 2 + (lane >> 4);
                ldmatrix_x4(af[0], af[1], af[2], af[3], a_s + swizzle(mr, ch));
#pragma unroll
                for (int q = 0; q < 4; ++q) af[q] = Op::prep(af[q]);
#pragma unroll
                for (int ni = 0; ni < 4; ++ni) Op::mma(acc[mi][ni], af, bf[ni]);
            }
        }

        const int tile = step / kchunks;
        if (step - tile * kchunks == kchunks - 1) {
            // Centroid tile complete: the epilogue takes its scores, then they are cleared.
            epilogue.tile(acc, tile, place);
#pragma unroll
            for (int mi = 0; mi < 4; ++mi)
#pragma unroll
                for (int ni = 0; ni < 4; ++ni)
#pragma unroll
                    for (int e = 0; e < 4; ++e) acc[mi][ni][e] = 0.f;
        }
    }

    cp_async_wait<0>();
    __syncthreads();
}

}  // namespace mma_tiles
