// FlashAssign on tensor cores: for every point the nearest centroid under squared Euclidean
// distance, fused with the distance computation so that no N x K matrix is ever written.
//
// score(i, j) = |c_j|^2 - 2 x_i . c_j   (|x_i|^2 is constant per row, added only to the output distance)
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
#include "common.cuh"

namespace flash_assign_mma {

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

template <typename Op>
__device__ __forceinline__ void run(
    const char* __restrict__ x, const char* __restrict__ c,
    const float* __restrict__ cnorm, const float* __restrict__ xnorm,
    int* __restrict__ labels, float* __restrict__ min_dist,
    int n, int k, int d_bytes, int ldx_bytes, int ldc_bytes, int update_min)
{
    extern __shared__ __align__(128) unsigned char smem[];
    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int warp_m = warp >> 2;
    const int warp_n = warp & 3;
    const int row0 = blockIdx.x * BM;
    const int b = blockIdx.y;

    x += (size_t)b * n * ldx_bytes;
    c += (size_t)b * k * ldc_bytes;
    cnorm += (size_t)b * k;

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
    float best[4][2];
    int best_idx[4][2];
#pragma unroll
    for (int mi = 0; mi < 4; ++mi) {
#pragma unroll
        for (int h = 0; h < 2; ++h) { best[mi][h] = FKM_INF; best_idx[mi][h] = 0x7fffffff; }
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[mi][ni][e] = 0.f;
    }

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
            // Centroid tile complete: fold its scores into the running argmin and clear.
            const int col0 = tile * BN + warp_n * 32 + 2 * (lane & 3);
            float cn[4][2];
#pragma unroll
            for (int ni = 0; ni < 4; ++ni)
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const int j = col0 + ni * 8 + e;
                    cn[ni][e] = j < k ? __ldg(cnorm + j) : FKM_INF;
                }
#pragma unroll
            for (int mi = 0; mi < 4; ++mi)
#pragma unroll
                for (int h = 0; h < 2; ++h)
#pragma unroll
                    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
                        for (int e = 0; e < 2; ++e) {
                            const float s = fmaf(-2.f, acc[mi][ni][2 * h + e], cn[ni][e]);
                            if (s < best[mi][h]) { best[mi][h] = s; best_idx[mi][h] = col0 + ni * 8 + e; }
                        }
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

    // The four lanes of a quad hold the same rows; then the four warps along N are merged.
    float* red_v = reinterpret_cast<float*>(smem);             // [4][BM]
    int* red_i = reinterpret_cast<int*>(smem + 4 * BM * 4);    // [4][BM]
#pragma unroll
    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float v;
            int i;
            quad_argmin(best[mi][h], best_idx[mi][h], v, i);
            if ((lane & 3) == 0) {
                const int r = warp_m * 64 + mi * 16 + h * 8 + (lane >> 2);
                red_v[warp_n * BM + r] = v;
                red_i[warp_n * BM + r] = i;
            }
        }
    __syncthreads();

    if (tid < BM) {
        const int gr = row0 + tid;
        if (gr < n) {
            float v = red_v[tid];
            int i = red_i[tid];
#pragma unroll
            for (int w = 1; w < 4; ++w) {
                const float ov = red_v[w * BM + tid];
                const int oi = red_i[w * BM + tid];
                if (argmin_better(ov, oi, v, i)) { v = ov; i = oi; }
            }
            store_nearest((size_t)b * n + gr, v, i, k, xnorm, labels, min_dist, update_min);
        }
    }
}

}  // namespace flash_assign_mma

// Arguments, identical for the three entry points (T = fp16, bf16 or fp32 per the name):
//   x        T     (B, n, ldx)  points; row elements d..ldx-1 are zero; for tf32, values already
//                               rounded to tf32 (pack_rows_tf32), else they are truncated
//   c        T     (B, k, ldc)  centroids in the same type; padding zero
//   cnorm    fp32  (B, k)       |c_j|^2 of exactly these (rounded) centroid values
//   xnorm    fp32  (B, n)       |x_i|^2; read only when min_dist is not null
//   labels   int32 (B, n)       out: nearest centroid index in [0, k); may be null
//   min_dist fp32  (B, n)       out: squared distance to it, clamped at 0; may be null
//   n, k, d  int               points per batch, centroids per batch, dimension
//   ldx, ldc int               row pitch of x and c in elements
//   update_min int             0: overwrite; 1: keep the smaller of min_dist and the new distance
//                              (labels are then written only where the distance improved)
// Launch: grid (ceil(n / 128), B), block 256, dynamic shared memory 98304 bytes.
#define FLASH_ASSIGN_ENTRY(NAME, T, OP)                                                                      \
    extern "C" __global__ void __launch_bounds__(flash_assign_mma::THREADS, 2) NAME(                           \
        const T* __restrict__ x, const T* __restrict__ c, const float* __restrict__ cnorm,                      \
        const float* __restrict__ xnorm, int* __restrict__ labels, float* __restrict__ min_dist,               \
        int n, int k, int d, int ldx, int ldc, int update_min)                                                  \
    {                                                                                                          \
        flash_assign_mma::run<OP>(reinterpret_cast<const char*>(x), reinterpret_cast<const char*>(c), cnorm,  \
                                  xnorm, labels, min_dist, n, k, d * (int)sizeof(T), ldx * (int)sizeof(T),    \
                                  ldc * (int)sizeof(T), update_min);                                           \
    }

FLASH_ASSIGN_ENTRY(flash_assign_f16, __half, flash_assign_mma::F16)
FLASH_ASSIGN_ENTRY(flash_assign_bf16, __nv_bfloat16, flash_assign_mma::BF16)
FLASH_ASSIGN_ENTRY(flash_assign_tf32, float, flash_assign_mma::TF32)
