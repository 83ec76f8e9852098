// The second half of the sort-inverse centroid update: sum the rows of every cluster through the
// sorted index list, then divide by the counts.
//
// The sorted positions are cut into runs of `run` rows, one run per warp (the host picks the
// length so that about one wave of warps covers all rows). A warp reads its rows as 16-byte vectors
// and keeps per-lane partial sums, flushing them with one atomic per element whenever the cluster
// changes, so the atomics number about (runs + clusters) x d however skewed the cluster sizes are,
// and every warp does the same amount of work. Long runs keep the atomics few: adjacent runs of
// one large cluster would otherwise hit the same addresses at the same time.
// Rows may carry weights: each value is multiplied by its row's weight before it is summed.
//
// Two accumulation modes:
//   float : fp32 partial sums over at most one run, fp64 atomics into fp64 sums. Fast;
//           the order of the atomics, and so the last bits of the centroids, varies between runs.
//   fixed : every value is rounded once to a 64-bit fixed-point integer (x * scale) and summed with
//           integer arithmetic, which is exact and associative. The result, and the centroids
//           computed from it, are bit-identical whatever the order: no float atomics anywhere.
//           The host picks scale = 2^e with max|x| * (points per batch) * scale < 2^62.
#include "common.cuh"
#include "centroid_tiles.cuh"

namespace centroid_update {

constexpr int THREADS = 256;

// The 16 bytes at p (shared memory) as floats.
template <typename T> struct Vec;
template <> struct Vec<float> {
    static constexpr int N = 4;
    __device__ __forceinline__ static void load_shared(const void* p, float (&v)[4])
    {
        const float4 q = *reinterpret_cast<const float4*>(p);
        v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
    }
};
template <> struct Vec<__half> {
    static constexpr int N = 8;
    __device__ __forceinline__ static void load_shared(const void* p, float (&v)[8])
    {
        const uint4 q = *reinterpret_cast<const uint4*>(p);
        const __half2* h = reinterpret_cast<const __half2*>(&q);
#pragma unroll
        for (int i = 0; i < 4; ++i) { const float2 f = __half22float2(h[i]); v[2 * i] = f.x; v[2 * i + 1] = f.y; }
    }
};
template <> struct Vec<__nv_bfloat16> {
    static constexpr int N = 8;
    __device__ __forceinline__ static void load_shared(const void* p, float (&v)[8])
    {
        const uint4 q = *reinterpret_cast<const uint4*>(p);
        const uint32_t w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
        for (int i = 0; i < 4; ++i) { v[2 * i] = __uint_as_float(w[i] << 16); v[2 * i + 1] = __uint_as_float(w[i] & 0xFFFF0000u); }
    }
};

// One warp per run of sorted positions. A row is read as 16-byte vectors (ldx * sizeof(T) is a
// multiple of 16, padding zero); when a row has fewer than 32 vectors, the warp reads several rows
// per step, lane slot s taking positions s, s + slots, ... of the run. Each lane keeps the partial
// sums of its vector and flushes them with one atomic per element when its cluster changes.
//
// The gathers are cp.async copies into a per-warp shared-memory ring of RING stages of BATCH rows
// per lane: a lane holds no registers for rows in flight, so far more bytes are in the air than
// register-staged loads allowed (those left this kernel latency-bound). The sorted indices of a
// stage are loaded one stage before its copies are issued, so no copy waits on an index load, and
// the stages are unrolled so that every per-stage array stays in registers. Each lane reads back
// only the 16-byte slots it copied itself, so no barrier is needed. (measured on the H200: three stages of
// eight with the prefetch moved 1M x 128 fp16 rows at 3.2 TB/s, against 2.4 for two stages.)
constexpr int BATCH = 8;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
constexpr int RING = 2;  // 64 KiB: sm_75 allows no more per block, and the copies are synchronous here
#else
constexpr int RING = 3;
#endif
constexpr int SMEM_PER_WARP = RING * BATCH * 32 * 16;       // 12 KiB (8 KiB for sm_70)
constexpr int SMEM_BYTES = (THREADS / 32) * SMEM_PER_WARP;  // 96 KiB per block, two blocks per SM
static_assert(SMEM_BYTES == (RING == 3 ? 98304 : 65536), "the host launches with exactly this dynamic shared memory size");

// cp.async needs sm_80; the sm_70 build copies synchronously (correct, without the overlap).
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src)
{
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src));
#else
    const uint4 q = __ldg(reinterpret_cast<const uint4*>(src));
    asm volatile("st.shared.v4.u32 [%0], {%1, %2, %3, %4};\n" ::"r"(dst), "r"(q.x), "r"(q.y), "r"(q.z), "r"(q.w) : "memory");
#endif
}
__device__ __forceinline__ void cp_async_commit()
{
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::);
#endif
}
template <int N> __device__ __forceinline__ void cp_async_wait()
{
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

// The cluster of a sorted position is the segment holding it (offsets[c] <= p < offsets[c + 1]), so
// labels are never looked up: a lane's positions only increase, so it walks the offsets forward, and
// only a segment's end costs a load. (Looking each row's label up, with a division for its problem
// in batched runs, left the gather at 2.4 TB/s on the H200.)
__device__ __forceinline__ int segment_of(const int* __restrict__ offsets, int clusters, long long p)
{
    int lo = 0, hi = clusters - 1;  // the last c with offsets[c] <= p
    while (lo < hi) {
        const int mid = (lo + hi + 1) >> 1;
        if (__ldg(offsets + mid) <= p) lo = mid; else hi = mid - 1;
    }
    return lo;
}

// negate_from: segments from there on are subtracted from cluster (segment - negate_from), fixed point only
// (the incremental update's "left" segments, moved_rows.cu); clusters for none.
template <typename T, bool kFixed>
__device__ __forceinline__ void segment_reduce(
    const T* __restrict__ x, const float* __restrict__ weights, const int* __restrict__ offsets,
    const int* __restrict__ sorted, long long total, int clusters, int d, int ldx, int run,
    double* __restrict__ fsums, unsigned long long* __restrict__ isums, float scale, int negate_from)
{
    extern __shared__ __align__(16) unsigned char ring_smem[];
    constexpr int EPV = Vec<T>::N;
    const int lane = threadIdx.x & 31;
    const long long warp = ((long long)blockIdx.x * THREADS + threadIdx.x) >> 5;
    const long long first = warp * run;
    if (first >= total) return;
    const long long last = min(total, first + run);
    const int vecs = ldx / EPV;
    const int slots = vecs >= 32 ? 1 : 32 / vecs;
    const char* xb = reinterpret_cast<const char*>(x);
    const unsigned char* mine = ring_smem + (threadIdx.x >> 5) * SMEM_PER_WARP;
    const uint32_t ring = (uint32_t)__cvta_generic_to_shared(mine);
    const long long step = (long long)slots * BATCH;

    for (int vbase = 0; vbase < vecs; vbase += 32) {
        const int v = vecs >= 32 ? vbase + lane : lane % vecs;
        const int slot = vecs >= 32 ? 0 : lane / vecs;
        const bool valid = vecs >= 32 ? v < vecs : slot < slots;
        if (!valid) continue;
        const int e0 = v * EPV;
        float acc[EPV];
        long long iacc[EPV];
#pragma unroll
        for (int i = 0; i < EPV; ++i) { acc[i] = 0.f; iacc[i] = 0; }
        int cur = -1;
        auto flush = [&]() {
            const bool negate = cur >= negate_from;
            const int target = negate ? cur - negate_from : cur;
#pragma unroll
            for (int i = 0; i < EPV; ++i) {
                if (e0 + i < d) {
                    if (kFixed) atomicAdd(isums + (size_t)target * d + e0 + i, (unsigned long long)(negate ? -iacc[i] : iacc[i]));
                    else atomicAdd(fsums + (size_t)cur * d + e0 + i, (double)acc[i]);
                }
                acc[i] = 0.f;
                iacc[i] = 0;
            }
        };
        // Stage s holds BATCH rows of this lane: its 16-byte vectors at ring + ((s * BATCH + u) * 32 + lane) * 16.
        int cl[RING][BATCH];
        float w[RING][BATCH];
        int next[BATCH];  // sorted indices of the stage to issue next
        auto load_indices = [&](long long p0, int (&out)[BATCH]) {
#pragma unroll
            for (int u = 0; u < BATCH; ++u) {
                const long long p = p0 + (long long)u * slots;
                out[u] = p < last ? __ldg(sorted + p) : -1;
            }
        };
        long long p = first + slot;
        int seg = segment_of(offsets, clusters, p);
        long long seg_end = __ldg(offsets + seg + 1);
        // Stage s's rows start at position p0; issued in increasing p0, so seg only moves forward.
        auto issue = [&](long long p0, const int (&idx)[BATCH], int (&c)[BATCH], float (&wt)[BATCH], int s) {
#pragma unroll
            for (int u = 0; u < BATCH; ++u) {
                const int i = idx[u];
                const long long pu = p0 + (long long)u * slots;
                if (i >= 0)
                    while (pu >= seg_end) seg_end = __ldg(offsets + ++seg + 1);
                c[u] = i >= 0 ? seg : -1;
                wt[u] = i >= 0 && weights != nullptr ? __ldg(weights + i) : 1.f;
                if (i >= 0) cp_async_16(ring + ((s * BATCH + u) * 32 + lane) * 16, xb + ((size_t)i * ldx + e0) * sizeof(T));
            }
            cp_async_commit();
        };
#pragma unroll
        for (int s = 0; s < RING - 1; ++s) {
            int idx[BATCH];
            load_indices(p + s * step, idx);
            issue(p + s * step, idx, cl[s], w[s], s);
        }
        load_indices(p + (RING - 1) * step, next);
        for (; p < last; p += RING * step) {
#pragma unroll
            for (int s = 0; s < RING; ++s) {
                const long long pc = p + s * step;
                if (pc >= last) break;
                // Issue the stage RING - 1 ahead into the slot consumed last, then wait for this one.
                constexpr int kAhead = RING - 1;
                const int ns = (s + kAhead) % RING;
                issue(pc + kAhead * step, next, cl[ns], w[ns], ns);
                load_indices(pc + RING * step, next);
                cp_async_wait<kAhead>();
#pragma unroll
                for (int u = 0; u < BATCH; ++u) {
                    const int c = cl[s][u];
                    if (c < 0) continue;
                    float val[EPV];
                    Vec<T>::load_shared(mine + ((s * BATCH + u) * 32 + lane) * 16, val);
                    if (c != cur) {
                        if (cur >= 0) flush();
                        cur = c;
                    }
                    const float wu = w[s][u];
#pragma unroll
                    for (int i = 0; i < EPV; ++i) {
                        if (kFixed) iacc[i] += __float2ll_rn(val[i] * wu * scale);
                        else acc[i] = fmaf(val[i], wu, acc[i]);
                    }
                }
            }
        }
        if (cur >= 0) flush();
        cp_async_wait<0>();  // the ring is reused by the next vector slice
    }
}

}  // namespace centroid_update

// Arguments (T per the name):
//   x       T      (B*n, ldx)  points
//   weights fp32   (B*n)       row weights, or null for unit weights
//   offsets int32  (clusters+1) segment starts in sorted, by global cluster b*k + label (exclusive_scan)
//   sorted  int32  (B*n)       row indices grouped by cluster (scatter_indices)
//   total   int64              B*n, the sorted positions
//   clusters int               B*k
//   sums    fp64 (B*k, d) for segment_sum_*, int64 fixed point (B*k, d) for segment_sum_fixed_*;
//           in/out, zero it first
//   ldx     int                row pitch in elements; ldx * sizeof(T) a multiple of 16, padding zero
//   run     int                sorted positions per warp
//   scale   fp32               fixed-point scale (power of two), fixed variants only
// Launch: grid ceil(total / (run * 8)), block 256, dynamic shared memory 98304 bytes (65536 for the sm_70 build).
// segment_sum_moved_*: the incremental update's sums (moved_rows.cu). offsets has 2 * clusters + 1 entries (the
// "joined" segments, then the "left" ones, which are subtracted), its last the number of sorted positions; the
// run is chosen here for the grid the host launches (any; about one wave). It also zeroes clear[0..clear_len), the
// moved rows' counts and cursors, which no kernel reads after the scatter, for the next step (a memset node fewer).
#define SEGMENT_ENTRIES(SUFFIX, T)                                                                          \
    extern "C" __global__ void __launch_bounds__(centroid_update::THREADS, 2) segment_sum_##SUFFIX(          \
        const T* __restrict__ x, const float* __restrict__ weights, const int* __restrict__ offsets,        \
        const int* __restrict__ sorted, long long total, int clusters, int d, int ldx, int run,            \
        double* __restrict__ sums)                                                                          \
    {                                                                                                       \
        centroid_update::segment_reduce<T, false>(x, weights, offsets, sorted, total, clusters, d, ldx, run, \
                                                   sums, nullptr, 0.f, clusters);                           \
    }                                                                                                       \
    extern "C" __global__ void __launch_bounds__(centroid_update::THREADS, 2) segment_sum_fixed_##SUFFIX(    \
        const T* __restrict__ x, const float* __restrict__ weights, const int* __restrict__ offsets,        \
        const int* __restrict__ sorted, long long total, int clusters, int d, int ldx, int run,            \
        unsigned long long* __restrict__ sums, float scale)                                                 \
    {                                                                                                       \
        centroid_update::segment_reduce<T, true>(x, weights, offsets, sorted, total, clusters, d, ldx, run,  \
                                                  nullptr, sums, scale, clusters);                          \
    }                                                                                                       \
    extern "C" __global__ void __launch_bounds__(centroid_update::THREADS, 2) segment_sum_moved_##SUFFIX(    \
        const T* __restrict__ x, const float* __restrict__ weights, const int* __restrict__ offsets,        \
        const int* __restrict__ sorted, int clusters, int d, int ldx, unsigned long long* __restrict__ sums, \
        float scale, int* __restrict__ clear, int clear_len)                                                \
    {                                                                                                       \
        for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < clear_len; j += gridDim.x * blockDim.x)     \
            clear[j] = 0;                                                                                   \
        const long long total = offsets[2 * clusters];                                                      \
        const long long warps = (long long)gridDim.x * (centroid_update::THREADS / 32);                     \
        const int run = (int)max(16LL, (total + warps - 1) / warps);                                        \
        centroid_update::segment_reduce<T, true>(x, weights, offsets, sorted, total, 2 * clusters, d, ldx,   \
                                                  run, nullptr, sums, scale, clusters);                     \
    }

SEGMENT_ENTRIES(f32, float)
SEGMENT_ENTRIES(f16, __half)
SEGMENT_ENTRIES(bf16, __nv_bfloat16)

// Per-cluster total weight of weighted rows: fp64 atomics (cluster_weights), or exact int64 fixed
// point whose sum does not depend on order (cluster_weights_fixed).
//   weights fp32 (B*n); labels int32 (B*n)
//   out     fp64 or int64 (B*k)  in/out, zero it first
//   scale   fp32  fixed-point scale, fixed variant only
// Launch: grid-stride, any grid, any block.
extern "C" __global__ void cluster_weights(const float* __restrict__ weights, const int* __restrict__ labels,
                                           double* __restrict__ out, long long total, int n, int k)
{
    for (long long row = (long long)blockIdx.x * blockDim.x + threadIdx.x; row < total;
         row += (long long)gridDim.x * blockDim.x)
        atomicAdd(out + (row / n) * k + labels[row], (double)weights[row]);
}

extern "C" __global__ void cluster_weights_fixed(const float* __restrict__ weights, const int* __restrict__ labels,
                                                 unsigned long long* __restrict__ out, long long total, int n, int k,
                                                 float scale)
{
    for (long long row = (long long)blockIdx.x * blockDim.x + threadIdx.x; row < total;
         row += (long long)gridDim.x * blockDim.x)
        atomicAdd(out + (row / n) * k + labels[row], (unsigned long long)__float2ll_rn(weights[row] * scale));
}

// New centroids = sums / total weight, or sums / |sums| when normalize is set (spherical k-means);
// clusters of zero weight keep their previous centroid (the engine applies its empty-cluster
// policy afterwards). Also the squared shift of each centroid.
//   sums      fp64 (clusters, d), or int64 fixed point with 1/scale = inv_scale
//   counts    int32 (clusters)            point counts, used when wsums is null
//   wsums     fp64 or int64 (clusters)    total weights (fixed point: 1/scale = inv_wscale), or null
//   centroids fp32 (clusters, d)  in: previous; out: new
//   shift     fp32 (clusters)     out: |new - previous|^2
//   weight_out fp64 (clusters)    out: total weight of each cluster (as the host reads it back)
//   packed    (clusters, ldp)     out: the new centroids as the assignment reads them, as pack_rows_* writes
//             them (pack: 0 none, 1 fp32, 2 tf32, 3 fp16, 4 bf16; padding to ldp zero), or null
//   norms     fp32 (clusters)     out: squared norms of the packed values, summed in pack_rows_*'s order
//   tiles     (centroid_tiles.cuh) out: the packed values and norms also in the warp-specialised assignment's tiles
//             (tile_k centroids per problem, tile_chunks 128-byte chunks per row), or null. Their padding is
//             pack_centroid_tiles', which must have written them whole once.
//   before    fp32 (clusters, d)  out: the centroids as they were (every cluster), or null. A step enqueued before
//             the host has read the last one keeps its input there, so that the host can still read, or go back to,
//             the centroids the last step left (CudaBatch: stepping ahead).
// A cluster of zero weight keeps its centroid, its packed row, its tile row and its norms. Packing here saves the
// step a launch and a pass over the centroids (pack_rows_* after this kernel did the same; writing the tiles
// too saves pack_centroid_tiles' launch, 3.5 us and a graph node at 1M x 1024 on the H200).
// Launch: one warp per cluster, e.g. grid max(ceil(clusters / 8), problems), block 256 (SUM_THREADS).

// Where a finalize writes: the last argument of every finalize_* entry, passed by value. Its fields are the outputs
// described above, plus:
//   clusters, d, normalize  the centroids' count and length; whether they are scaled to unit length (cosine)
//   ldp, pack               the packed rows' pitch and kind (pack: 0 none, 1 fp32, 2 tf32, 3 fp16, 4 bf16)
//   partials, inertia, chunks, problems
//                           fp64 (problems, chunks) inertia partials (segmented_sum_partial), or null; blocks
//                           0 .. problems - 1 write the totals into inertia (fp64 (problems)) as segmented_sum_final does,
//                           so the grid then has at least that many blocks
//   tiles, tile_k, tile_chunks  the centroid tiles (centroid_tiles::Target), or null
// FinalizeTargetArgs (FinalizeTargetArgs.cs) mirrors it field for field; a test checks its offsets and size against
// the ones this PTX reads.
struct FinalizeTarget {
    float* centroids;
    float* shift;
    double* weight_out;
    void* packed;
    float* norms;
    const double* partials;
    double* inertia;
    char* tiles;
    float* before;
    int clusters;
    int d;
    int normalize;
    int ldp;
    int pack;
    int chunks;
    int problems;
    int tile_k;
    int tile_chunks;
};

// Stores the packed value f (store_packed's result, so exact in the kind) at p.
__device__ __forceinline__ void store_tile_value(char* p, int kind, float f)
{
    if (kind == 3) *reinterpret_cast<__half*>(p) = from_f32<__half>(f);
    else if (kind == 4) *reinterpret_cast<__nv_bfloat16*>(p) = from_f32<__nv_bfloat16>(f);
    else *reinterpret_cast<float*>(p) = f;
}

// Stores v into element e of packed rows of the given kind (as finalize_run documents); returns the value stored.
__device__ __forceinline__ float store_packed(void* packed, int kind, size_t e, float v)
{
    switch (kind) {
    case 1: reinterpret_cast<float*>(packed)[e] = v; return v;
    case 2: {
        uint32_t r;
        asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(v));
        reinterpret_cast<float*>(packed)[e] = __uint_as_float(r);
        return __uint_as_float(r);
    }
    case 3: { const __half h = from_f32<__half>(v); reinterpret_cast<__half*>(packed)[e] = h; return to_f32(h); }
    default: { const __nv_bfloat16 h = from_f32<__nv_bfloat16>(v); reinterpret_cast<__nv_bfloat16*>(packed)[e] = h; return to_f32(h); }
    }
}

// Where finalize_run reads the row sums from: fp64, or int64 fixed point.
struct Fp64Sums {
    const double* sums;
    __device__ double at(int cl, int d, int j) const { return sums[(size_t)cl * d + j]; }
    __device__ float finish(float v) const { return v; }
};
struct FixedSums {
    const long long* sums;
    double inv_scale;
    __device__ double at(int cl, int d, int j) const { return (double)sums[(size_t)cl * d + j] * inv_scale; }
    __device__ float finish(float v) const { return v; }
};

template <typename Sums>
__device__ __forceinline__ void finalize_run(const Sums& sums, double weight, const FinalizeTarget& t)
{
    float* const centroids = t.centroids;
    float* const before = t.before;
    void* const packed = t.packed;
    const int d = t.d, ldp = t.ldp, pack = t.pack;
    const centroid_tiles::Target tiles{t.tiles, t.tile_k, t.tile_chunks};
    const int cl = (int)(((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5);
    const int lane = threadIdx.x & 31;
    const int element_bytes = pack == 3 || pack == 4 ? 2 : 4;
    const centroid_tiles::TileRow tile_row = tiles.tiles != nullptr ? tiles.row_of(cl) : centroid_tiles::TileRow{nullptr, 0};
    float s = 0.f;
    if (weight > 0.0) {
        double factor = 1.0 / weight;
        if (t.normalize) {
            double sq = 0.0;
            for (int j = lane; j < d; j += 32) { const double v = sums.at(cl, d, j); sq += v * v; }
            for (int o = 16; o > 0; o >>= 1) sq += __shfl_xor_sync(0xffffffffu, sq, o);
            if (sq > 0.0) factor = 1.0 / sqrt(sq);
        }
        float* row = centroids + (size_t)cl * d;
        float sq = 0.f;
        // Four elements per lane at a time, loaded before any is stored: the stores might alias the sums for all the
        // compiler knows, so one element at a time left every load waiting on the last store.
        for (int j0 = 0; j0 < d; j0 += 128) {
            double v[4];
            float old[4];
#pragma unroll
            for (int u = 0; u < 4; ++u) {
                const int j = j0 + 32 * u + lane;
                v[u] = j < d ? sums.at(cl, d, j) : 0.0;
                old[u] = j < d ? row[j] : 0.f;
            }
#pragma unroll
            for (int u = 0; u < 4; ++u) {
                const int j = j0 + 32 * u + lane;
                if (j >= d) continue;
                const float nv = sums.finish((float)(v[u] * factor));
                if (before != nullptr) before[(size_t)cl * d + j] = old[u];
                const float diff = nv - old[u];
                s = fmaf(diff, diff, s);
                row[j] = nv;
                if (packed != nullptr) {
                    const float f = store_packed(packed, pack, (size_t)cl * ldp + j, nv);
                    sq = fmaf(f, f, sq);
                    if (tile_row.tile != nullptr) store_tile_value(tile_row.byte(j * element_bytes), pack, f);
                }
            }
        }
        if (packed != nullptr) {
            for (int j = d + lane; j < ldp; j += 32) store_packed(packed, pack, (size_t)cl * ldp + j, 0.f);
            sq = warp_sum(sq);
            if (lane == 0 && t.norms != nullptr) t.norms[cl] = sq;
            if (lane == 0 && tile_row.tile != nullptr) *tile_row.norm(tiles.kch) = sq;
        }
    } else if (before != nullptr) {
        for (int j = lane; j < d; j += 32) before[(size_t)cl * d + j] = centroids[(size_t)cl * d + j];
    }
    s = warp_sum(s);
    if (lane == 0) {
        t.shift[cl] = s;
        t.weight_out[cl] = weight;
    }
}

// The entries' common start: blocks 0 .. problems - 1 finish the step's inertia where there are partials. Returns the
// warp's cluster, or -1 past the last.
__device__ __forceinline__ int finalize_start(const FinalizeTarget& t)
{
    if (t.partials != nullptr && (int)blockIdx.x < t.problems) finish_partials(t.partials, t.inertia, t.chunks, blockIdx.x);
    const int cl = (int)(((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5);
    return cl < t.clusters ? cl : -1;
}

extern "C" __global__ void finalize_centroids(const double* __restrict__ sums, const int* __restrict__ counts,
                                              const double* __restrict__ wsums, const FinalizeTarget t)
{
    const int cl = finalize_start(t);
    if (cl < 0) return;
    const double weight = wsums == nullptr ? (double)counts[cl] : wsums[cl];
    finalize_run(Fp64Sums{sums}, weight, t);
}

extern "C" __global__ void finalize_centroids_fixed(const long long* __restrict__ sums, const int* __restrict__ counts,
                                                    const long long* __restrict__ wsums, double inv_scale,
                                                    double inv_wscale, const FinalizeTarget t)
{
    const int cl = finalize_start(t);
    if (cl < 0) return;
    const double weight = wsums == nullptr ? (double)counts[cl] : (double)wsums[cl] * inv_wscale;
    finalize_run(FixedSums{sums, inv_scale}, weight, t);
}

// Stream learning's running mean (mini-batch k-means): each centroid's old position weighted by the weight it had seen
// (decayed by the forgetting factor) plus its rows of the batch, c <- (c * kept + sum) / (kept + batch weight), with
// kept = seen * decay. finalize_run reads every element of a row before it writes that element, so the old position
// can be read from the centroids it overwrites.
struct RunningMeanSums {
    const double* sums;
    const float* centroids;
    double kept;
    int round_kind;  // the precision centroids are kept in: 0 fp32, 3 fp16, 4 bf16 (round to nearest even)
    __device__ double at(int cl, int d, int j) const
    {
        return (double)centroids[(size_t)cl * d + j] * kept + sums[(size_t)cl * d + j];
    }
    __device__ float finish(float v) const
    {
        if (round_kind == 3) return to_f32(from_f32<__half>(v));
        if (round_kind == 4) return to_f32(from_f32<__nv_bfloat16>(v));
        return v;
    }
};

// One mini-batch step's update, after the batch's fp64 sums (segment_sum_*) and counts or weights:
//   sums, counts, wsums  as finalize_centroids (the batch's)
//   seen      fp64 (clusters)  in: the weight each centroid had seen; out: kept + the batch's weight (also into weight_out,
//                              which may be seen itself: lane 0 writes it after the warp has read it)
//   decay     the forgetting factor, applied to every cluster's seen weight
//   round_kind the precision the centroids are kept in (0 fp32, 3 fp16, 4 bf16): each moved value is rounded to it
//   bad_rows  int32 (bad_count), or null: the first row with a non-finite norm of this batch and of the batches stepped
//             before it in the same launch sequence (INT_MAX where none; first_nonfinite_row). When any is bad nothing is
//             written but shift (zero), so the state stays as the last good batch left it.
// A cluster that won no weight keeps its centroid; its seen weight still decays.
extern "C" __global__ void finalize_running_mean(const double* __restrict__ sums, const int* __restrict__ counts,
                                                 const double* __restrict__ wsums, const double* seen, double decay, int round_kind,
                                                 const int* __restrict__ bad_rows, int bad_count, const FinalizeTarget t)
{
    const int cl = finalize_start(t);
    if (cl < 0) return;
    const int lane = threadIdx.x & 31;
    const double batch = wsums == nullptr ? (double)counts[cl] : wsums[cl];
    const double kept = seen[cl] * decay;
    for (int b = 0; bad_rows != nullptr && b < bad_count; ++b) {
        if (bad_rows[b] != 0x7fffffff) {
            if (lane == 0) t.shift[cl] = 0.f;
            return;
        }
    }
    if (batch > 0.0) {
        finalize_run(RunningMeanSums{sums, t.centroids, kept, round_kind}, kept + batch, t);
        return;
    }
    __syncwarp();
    if (lane == 0) {
        t.shift[cl] = 0.f;
        t.weight_out[cl] = kept;
    }
}
