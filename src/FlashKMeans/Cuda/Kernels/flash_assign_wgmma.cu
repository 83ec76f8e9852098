// FlashAssign on Hopper's warpgroup tensor-core instructions (wgmma, sm_90a only): the same
// function as flash_assign_mma.cu, with the dot products issued asynchronously by warpgroups
// straight from shared memory instead of ldmatrix + mma.sync.
//
// A block of two warpgroups owns BM = 128 rows (64 per warpgroup) and sweeps the centroids in tiles
// of BN = 128. Stages are filled with cp.async in the 128-byte-swizzled K-major layout that the
// wgmma descriptors describe (chunk c of row r at c ^ (r & 7), tiles 1024-byte aligned), so the
// byte layout is identical to the mma.sync kernel's. Each warp's accumulators cover 16 whole rows
// of the tile, so the argmin needs only a reduction across the four lanes of a quad.
// Built only by nvcc 12+ (PTX ISA 8.0) for compute_90a; see build-ptx.sh.
#include "common.cuh"
#include "sm90_layout.cuh"
#include "sm90_wgmma_ops.cuh"

namespace flash_assign_wgmma {

constexpr int BM = 128;
constexpr int BN = 128;
constexpr int ROW_BYTES = 128;
constexpr int STAGES = 3;
constexpr int THREADS = 256;
constexpr int TILE_BYTES = BM * ROW_BYTES;
constexpr int STAGE_BYTES = 2 * TILE_BYTES;
constexpr int SMEM_BYTES = STAGES * STAGE_BYTES + 1024;  // + room to align the tiles to 1024 bytes
static_assert(SMEM_BYTES == 99328, "the host launches with exactly this dynamic shared memory size");

__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, bool valid)
{
    int src_size = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_size));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

template <typename Op>
__device__ __forceinline__ void run(
    const char* __restrict__ x, const char* __restrict__ c,
    const float* __restrict__ cnorm, const float* __restrict__ xnorm,
    int* __restrict__ labels, float* __restrict__ min_dist,
    int n, int k, int d_bytes, int ldx_bytes, int ldc_bytes, int update_min)
{
    extern __shared__ unsigned char smem_raw[];
    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int wg = warp >> 2;          // warpgroup: rows 64 wg .. 64 wg + 63 of the tile
    const int wq = warp & 3;           // warp in warpgroup: rows 16 wq .. of those
    const int row0 = blockIdx.x * BM;
    const int b = blockIdx.y;

    x += (size_t)b * n * ldx_bytes;
    c += (size_t)b * k * ldc_bytes;
    cnorm += (size_t)b * k;

    const int kchunks = (d_bytes + ROW_BYTES - 1) / ROW_BYTES;
    const int ntiles = (k + BN - 1) / BN;
    const int steps = ntiles * kchunks;
    const uint32_t raw_base = (uint32_t)__cvta_generic_to_shared(smem_raw);
    const uint32_t smem_base = (raw_base + 1023u) & ~1023u;

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

    float acc[64];
#pragma unroll
    for (int i = 0; i < 64; ++i) acc[i] = 0.f;
    float best[2] = {FKM_INF, FKM_INF};
    int best_idx[2] = {0x7fffffff, 0x7fffffff};

#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (s < steps) load_stage(s);
        cp_async_commit();
    }

    for (int step = 0; step < steps; ++step) {
        cp_async_wait<STAGES - 2>();
        // The tensor cores read shared memory through the async proxy: order the cp.async writes
        // of this thread before the barrier that publishes them.
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        __syncthreads();
        if (step + STAGES - 1 < steps) load_stage(step + STAGES - 1);
        cp_async_commit();

        const int tile = step / kchunks;
        const int kc = step - tile * kchunks;
        const uint32_t a_s = smem_base + (step % STAGES) * STAGE_BYTES + wg * 64 * ROW_BYTES;
        const uint32_t b_s = smem_base + (step % STAGES) * STAGE_BYTES + TILE_BYTES;
        const uint64_t da = descriptor(a_s);
        const uint64_t db = descriptor(b_s);
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
        for (int ks = 0; ks < ROW_BYTES / 32; ++ks)
            // +32 bytes per k-step: the start-address field counts 16-byte units.
            Op::mma(acc, da + 2 * ks, db + 2 * ks, (kc > 0 || ks > 0) ? 1 : 0);
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");

        if (kc == kchunks - 1) {
            const int col0 = tile * BN + 2 * (lane & 3);
            const bool full = tile * BN + BN <= k;
            // Scores in place of the products: acc[4j + 2h + e] is row half h, column col0 + 8j + e.
#pragma unroll
            for (int j = 0; j < 16; ++j) {
                const int col = col0 + 8 * j;
                float2 cn;
                if (full) {
                    cn = __ldg(reinterpret_cast<const float2*>(cnorm + col));
                } else {
                    cn.x = col < k ? __ldg(cnorm + col) : FKM_INF;
                    cn.y = col + 1 < k ? __ldg(cnorm + col + 1) : FKM_INF;
                }
                acc[4 * j + 0] = fmaf(-2.f, acc[4 * j + 0], cn.x);
                acc[4 * j + 1] = fmaf(-2.f, acc[4 * j + 1], cn.y);
                acc[4 * j + 2] = fmaf(-2.f, acc[4 * j + 2], cn.x);
                acc[4 * j + 3] = fmaf(-2.f, acc[4 * j + 3], cn.y);
            }
#ifdef FKM_EPILOGUE_V1
#pragma unroll
            for (int j = 0; j < 16; ++j)
#pragma unroll
                for (int q = 0; q < 4; ++q)
                    if (acc[4 * j + q] < best[q >> 1]) { best[q >> 1] = acc[4 * j + q]; best_idx[q >> 1] = col0 + 8 * j + (q & 1); }
#elif defined(FKM_NO_EPILOGUE)
            // Measurement only: the cost of everything but the argmin.
            best[0] += acc[0];
            best[1] += acc[2];
#else
            tile_argmin(acc, col0, best, best_idx);
#endif
        }
    }
    cp_async_wait<0>();

#pragma unroll
    for (int h = 0; h < 2; ++h) {
        float v;
        int i;
        quad_argmin(best[h], best_idx[h], v, i);
        const int gr = row0 + wg * 64 + wq * 16 + h * 8 + (lane >> 2);
        if ((lane & 3) == 0 && gr < n) {
            store_nearest((size_t)b * n + gr, v, i, k, xnorm, labels, min_dist, update_min);
        }
    }
}


// Register-A variant for rows of at most KCH * 128 bytes (fp16/bf16 d <= 64 KCH, tf32 d <= 32 KCH).
// The block's X tile is loaded once and each warp keeps its 16 rows as mma fragments in registers
// for the whole sweep over the centroids; only centroid tiles stream through shared memory. That
// removes the A-operand reads from shared memory (which, with the B reads and the cp.async
// writes, exceeded its bandwidth in the version above) and the per-tile re-reads of X from L2.
constexpr int RS_STAGES = 3;

template <typename Op, int KCH>
__device__ __forceinline__ void run_rs(
    const char* __restrict__ x, const char* __restrict__ c,
    const float* __restrict__ cnorm, const float* __restrict__ xnorm,
    int* __restrict__ labels, float* __restrict__ min_dist,
    int n, int k, int ldx_bytes, int ldc_bytes, int update_min)
{
    extern __shared__ unsigned char smem_raw[];
    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int wg = warp >> 2;
    const int wq = warp & 3;
    const int row0 = blockIdx.x * BM;
    const int b = blockIdx.y;

    x += (size_t)b * n * ldx_bytes;
    c += (size_t)b * k * ldc_bytes;
    cnorm += (size_t)b * k;

    const int ntiles = (k + BN - 1) / BN;
    const int steps = ntiles * KCH;
    const uint32_t raw_base = (uint32_t)__cvta_generic_to_shared(smem_raw);
    const uint32_t x_base = (raw_base + 1023u) & ~1023u;           // KCH chunks of BM x 128 bytes
    const uint32_t b_base = x_base + KCH * TILE_BYTES;               // RS_STAGES centroid chunks

    const int chunk = tid & 7;
#pragma unroll
    for (int kc = 0; kc < KCH; ++kc)
#pragma unroll
        for (int p = 0; p < 4; ++p) {
            const int r = (tid >> 3) + 32 * p;
            const int gr = row0 + r;
            const int cbyte = kc * ROW_BYTES + chunk * 16;
            const bool va = gr < n && cbyte < ldx_bytes;
            cp_async_16(x_base + kc * TILE_BYTES + swizzle(r, chunk), va ? x + (size_t)gr * ldx_bytes + cbyte : x, va);
        }
    auto load_stage = [&](int step) {
        const int tile = step / KCH;
        const int cbyte = (step - tile * KCH) * ROW_BYTES + chunk * 16;
        const uint32_t dst = b_base + (step % RS_STAGES) * TILE_BYTES;
#pragma unroll
        for (int p = 0; p < 4; ++p) {
            const int r = (tid >> 3) + 32 * p;
            const int gc = tile * BN + r;
            const bool vb = gc < k && cbyte < ldc_bytes;
            cp_async_16(dst + swizzle(r, chunk), vb ? c + (size_t)gc * ldc_bytes + cbyte : c, vb);
        }
    };
    // The X tile travels in the first group, with the first centroid chunk.
#pragma unroll
    for (int s = 0; s < RS_STAGES - 1; ++s) {
        if (s < steps) load_stage(s);
        cp_async_commit();
    }
    cp_async_wait<RS_STAGES - 2>();
    __syncthreads();
    uint32_t afrag[KCH][4][4];
#pragma unroll
    for (int kc = 0; kc < KCH; ++kc)
#pragma unroll
        for (int ks = 0; ks < 4; ++ks)
            ldmatrix_x4(afrag[kc][ks], x_base + kc * TILE_BYTES + swizzle(wg * 64 + wq * 16 + (lane & 15), ks * 2 + (lane >> 4)));

    float acc[64];
#pragma unroll
    for (int i = 0; i < 64; ++i) acc[i] = 0.f;
    float best[2] = {FKM_INF, FKM_INF};
    int best_idx[2] = {0x7fffffff, 0x7fffffff};

    for (int tile = 0; tile < ntiles; ++tile) {
#pragma unroll
        for (int kc = 0; kc < KCH; ++kc) {
            const int step = tile * KCH + kc;
            cp_async_wait<RS_STAGES - 2>();
            asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
            __syncthreads();
            if (step + RS_STAGES - 1 < steps) load_stage(step + RS_STAGES - 1);
            cp_async_commit();
            const uint64_t db = descriptor(b_base + (step % RS_STAGES) * TILE_BYTES);
            asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
            for (int ks = 0; ks < 4; ++ks)
                Op::mma(acc, afrag[kc][ks], db + 2 * ks, (kc > 0 || ks > 0) ? 1 : 0);
            asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
            asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
        }
        const int col0 = tile * BN + 2 * (lane & 3);
        const bool full = tile * BN + BN <= k;
#pragma unroll
        for (int j = 0; j < 16; ++j) {
            const int col = col0 + 8 * j;
            float2 cn;
            if (full) {
                cn = __ldg(reinterpret_cast<const float2*>(cnorm + col));
            } else {
                cn.x = col < k ? __ldg(cnorm + col) : FKM_INF;
                cn.y = col + 1 < k ? __ldg(cnorm + col + 1) : FKM_INF;
            }
            acc[4 * j + 0] = fmaf(-2.f, acc[4 * j + 0], cn.x);
            acc[4 * j + 1] = fmaf(-2.f, acc[4 * j + 1], cn.y);
            acc[4 * j + 2] = fmaf(-2.f, acc[4 * j + 2], cn.x);
            acc[4 * j + 3] = fmaf(-2.f, acc[4 * j + 3], cn.y);
        }
        tile_argmin(acc, col0, best, best_idx);
    }
    cp_async_wait<0>();

#pragma unroll
    for (int h = 0; h < 2; ++h) {
        float v;
        int i;
        quad_argmin(best[h], best_idx[h], v, i);
        const int gr = row0 + wg * 64 + wq * 16 + h * 8 + (lane >> 2);
        if ((lane & 3) == 0 && gr < n) {
            store_nearest((size_t)b * n + gr, v, i, k, xnorm, labels, min_dist, update_min);
        }
    }
}

}  // namespace flash_assign_wgmma

// Arguments and requirements exactly as flash_assign_* in flash_assign_mma.cu.
// Launch: grid (ceil(n / 128), B), block 256, dynamic shared memory 99328 bytes.
#define FLASH_ASSIGN_WGMMA_ENTRY(NAME, T, OP)                                                                  \
    extern "C" __global__ void __launch_bounds__(flash_assign_wgmma::THREADS, 2) NAME(                          \
        const T* __restrict__ x, const T* __restrict__ c, const float* __restrict__ cnorm,                      \
        const float* __restrict__ xnorm, int* __restrict__ labels, float* __restrict__ min_dist,               \
        int n, int k, int d, int ldx, int ldc, int update_min)                                                  \
    {                                                                                                          \
        flash_assign_wgmma::run<OP>(reinterpret_cast<const char*>(x), reinterpret_cast<const char*>(c), cnorm,  \
                                    xnorm, labels, min_dist, n, k, d * (int)sizeof(T), ldx * (int)sizeof(T),    \
                                    ldc * (int)sizeof(T), update_min);                                           \
    }

FLASH_ASSIGN_WGMMA_ENTRY(flash_assign_wgmma_f16, __half, shared_a::F16)
FLASH_ASSIGN_WGMMA_ENTRY(flash_assign_wgmma_bf16, __nv_bfloat16, shared_a::BF16)
FLASH_ASSIGN_WGMMA_ENTRY(flash_assign_wgmma_tf32, float, shared_a::TF32)

// Register-A variants: rows of at most 128 bytes (rs1) or 256 bytes (rs2); otherwise the same
// arguments and requirements. (A 512-byte version needs 222 registers, fits one block per SM and
// ran slower than the shared-memory version above, 1.60 ms against 1.39 at 1M x 1024 on an H200: one block per SM
// loses the overlap between blocks.) Launch: grid
// (ceil(n / 128), B), block 256, dynamic shared memory (KCH + 3) * 16384 + 1024 bytes: 66560
// (rs1), 82944 (rs2).
#define FLASH_ASSIGN_WGMMA_RS_ENTRY(NAME, T, OP, KCH)                                                          \
    extern "C" __global__ void __launch_bounds__(flash_assign_wgmma::THREADS, 2) NAME(                          \
        const T* __restrict__ x, const T* __restrict__ c, const float* __restrict__ cnorm,                      \
        const float* __restrict__ xnorm, int* __restrict__ labels, float* __restrict__ min_dist,               \
        int n, int k, int d, int ldx, int ldc, int update_min)                                                  \
    {                                                                                                          \
        (void)d;                                                                                               \
        flash_assign_wgmma::run_rs<OP, KCH>(reinterpret_cast<const char*>(x), reinterpret_cast<const char*>(c), \
                                            cnorm, xnorm, labels, min_dist, n, k, ldx * (int)sizeof(T),         \
                                            ldc * (int)sizeof(T), update_min);                                  \
    }

FLASH_ASSIGN_WGMMA_RS_ENTRY(flash_assign_wgmma_rs1_f16, __half, register_a::F16, 1)
FLASH_ASSIGN_WGMMA_RS_ENTRY(flash_assign_wgmma_rs1_bf16, __nv_bfloat16, register_a::BF16, 1)
FLASH_ASSIGN_WGMMA_RS_ENTRY(flash_assign_wgmma_rs1_tf32, float, register_a::TF32, 1)
FLASH_ASSIGN_WGMMA_RS_ENTRY(flash_assign_wgmma_rs2_f16, __half, register_a::F16, 2)
FLASH_ASSIGN_WGMMA_RS_ENTRY(flash_assign_wgmma_rs2_bf16, __nv_bfloat16, register_a::BF16, 2)
FLASH_ASSIGN_WGMMA_RS_ENTRY(flash_assign_wgmma_rs2_tf32, float, register_a::TF32, 2)
