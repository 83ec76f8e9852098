// Counting sort of point indices by cluster, the first half of the sort-inverse centroid update:
// a histogram of labels, an exclusive scan into segment offsets, then a scatter of indices. Rows
// are never moved; the reduction gathers them through the sorted index list.
//
// Batches are flattened: point i of batch b is global row b*n + i and its cluster is b*k + label,
// so B independent problems sort as one.
#include "common.cuh"

// Block (c, b) owns rows [c*per, (c+1)*per) of batch b, per = ceil(n / gridDim.x), so a block only
// ever touches its own batch's k clusters. With dynamic shared memory for k counters it counts in
// shared memory and adds each non-zero counter to global memory once; with none (k too large for
// shared memory) it falls back to warp-aggregated global atomics.

// Arguments:
//   labels   int32 (B*n)   cluster label of every point, in [0, k)
//   counts   int32 (B*k)   in/out: incremented by the number of points per cluster (zero it first)
//   n, k     int           points and clusters per batch
//   previous int32 (B*n)   in: labels of the previous step (-1 before the first); out: a copy of labels. May be
//                          null; with it, the step's changed labels are counted in the same pass over the labels
//   changed  uint64 (B)    in/out: changed[b] incremented by the labels of problem b that moved (zero it first)
// Launch: grid (chunks, B), block 256, dynamic shared memory k*4 bytes or 0.
extern "C" __global__ void label_histogram(const int* __restrict__ labels, int* __restrict__ counts, int n, int k,
                                           int* __restrict__ previous, unsigned long long* __restrict__ changed)
{
    extern __shared__ int s_count[];
    const int b = blockIdx.y;
    const RowRange rows = block_rows(n);
    const int lo = rows.lo, hi = rows.hi;
    const bool shared = dynamic_smem_bytes() >= (unsigned)k * 4u;
    labels += (size_t)b * n;
    counts += (size_t)b * k;
    if (previous != nullptr) previous += (size_t)b * n;
    unsigned moved = 0;
    auto note_change = [&](int i, int l, int before) {
        if (previous != nullptr) {
            moved += before != l;
            previous[i] = l;
        }
    };
    if (shared) {
        for (int j = threadIdx.x; j < k; j += blockDim.x) s_count[j] = 0;
        __syncthreads();
        for_each_label(labels, lo, hi, [&](int i, int l, int before) {
            atomicAdd(s_count + l, 1);
            note_change(i, l, before);
        }, previous);
        __syncthreads();
        for (int j = threadIdx.x; j < k; j += blockDim.x)
            if (s_count[j] != 0) atomicAdd(counts + j, s_count[j]);
    } else {
        const int lane = threadIdx.x & 31;
        for (int base = lo + threadIdx.x - lane; base < hi; base += blockDim.x) {
            const int i = base + lane;
            const int cl = i < hi ? labels[i] : -1 - lane;
            const unsigned peers = __match_any_sync(0xffffffffu, cl);
            if (cl >= 0 && lane == __ffs(peers) - 1) atomicAdd(counts + cl, __popc(peers));
            if (cl >= 0 && previous != nullptr) note_change(i, cl, previous[i]);
        }
    }
    if (previous != nullptr) {
        for (int o = 16; o > 0; o >>= 1) moved += __shfl_xor_sync(0xffffffffu, moved, o);
        if ((threadIdx.x & 31) == 0 && moved != 0) atomicAdd(changed + b, (unsigned long long)moved);
    }
}

// Exclusive scan of counts into offsets, in one block (the length is B*k, not B*n).
//   counts  int32 (len)
//   offsets int32 (len + 1)  out: offsets[j] = sum of counts[0..j), offsets[len] = total
//   cursor  int32 (len)      out: a second copy of offsets[0..len) for the scatter; may be null
// Launch: grid 1, block 1024.
extern "C" __global__ void __launch_bounds__(1024) exclusive_scan(const int* __restrict__ counts,
                                                                int* __restrict__ offsets,
                                                                int* __restrict__ cursor, int len)
{
    __shared__ int warp_totals[32];
    __shared__ int carry_s;
    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    if (tid == 0) carry_s = 0;
    __syncthreads();
    for (int base = 0; base < len; base += 1024) {
        const int j = base + tid;
        const int v = j < len ? counts[j] : 0;
        const int incl = warp_inclusive_scan(v);
        if (lane == 31) warp_totals[warp] = incl;
        __syncthreads();
        if (warp == 0) warp_totals[lane] = warp_inclusive_scan(warp_totals[lane]);  // inclusive over warps
        __syncthreads();
        const int carry = carry_s;
        const int excl = carry + (warp > 0 ? warp_totals[warp - 1] : 0) + incl - v;
        if (j < len) {
            offsets[j] = excl;
            if (cursor != nullptr) cursor[j] = excl;
        }
        __syncthreads();
        if (tid == 0) carry_s = carry + warp_totals[31];
        __syncthreads();
    }
    if (tid == 0) offsets[len] = carry_s;
}

// Arguments:
//   labels int32 (B*n)
//   cursor int32 (B*k)  in/out: starts as the segment offsets, ends as the segment ends
//   sorted int32 (B*n)  out: global row indices (b*n + i) grouped by cluster. The order within a
//                       cluster is not specified; the reductions downstream do not depend on it
//                       (fixed point) or are documented as order-dependent (fp64 atomics).
//   n, k   int
// Launch: grid (chunks, B) as label_histogram, block 256, dynamic shared memory
// (4k + 2 SCATTER_SUB + 8) * 4 bytes, else 2*k*4 bytes, else 0 (CudaSession.ScatterSharedBytes).
// With the most shared memory a block sorts SCATTER_SUB rows at a time in shared memory (count,
// scan, reserve one global range per cluster, place) and then writes each cluster's rows to its
// range in order, so that neighbouring threads write neighbouring indices: the direct scatter wrote
// every index to its own 32-byte sector and kept L2 60% busy for 0.19 ms at 8M rows on the H200.
// With 2k counters it reserves ranges the same way but places each row directly; with none, it
// uses warp-aggregated global atomics.
constexpr int SCATTER_SUB = 8192;  // rows sorted in shared memory at a time

extern "C" __global__ void scatter_indices(const int* __restrict__ labels, int* __restrict__ cursor,
                                           int* __restrict__ sorted, int n, int k)
{
    extern __shared__ int s_mem[];
    const int b = blockIdx.y;
    const RowRange rows = block_rows(n);
    const int lo = rows.lo, hi = rows.hi;
    const bool shared = dynamic_smem_bytes() >= (unsigned)k * 8u;
    const bool sorts = dynamic_smem_bytes() >= (unsigned)(4 * k + 2 * SCATTER_SUB + 8) * 4u;
    const int* lab = labels + (size_t)b * n;
    int* cur = cursor + (size_t)b * k;
    const int row_base = b * n;
    if (sorts) {
        int* s_count = s_mem;          // k: rows of each cluster in this piece
        int* s_start = s_count + k;    // k: where each cluster's rows start in the piece, sorted
        int* s_base = s_start + k;     // k: where they start in `sorted` (reserved)
        int* s_fill = s_base + k;      // k: next free slot of each cluster in the piece
        int* s_row = s_fill + k;       // SCATTER_SUB: the piece's row indices, sorted by cluster
        int* s_label = s_row + SCATTER_SUB;
        int* s_scratch = s_label + SCATTER_SUB;  // 8: the scan's warp totals
        for (int p0 = lo; p0 < hi; p0 += SCATTER_SUB) {
            const int p1 = min(hi, p0 + SCATTER_SUB);
            for (int j = threadIdx.x; j < k; j += blockDim.x) s_count[j] = 0;
            __syncthreads();
            for_each_label(lab, p0, p1, [&](int, int l, int) { atomicAdd(s_count + l, 1); });
            __syncthreads();
            block_exclusive_scan(s_count, s_start, k, s_scratch);
            for (int j = threadIdx.x; j < k; j += blockDim.x) {
                const int cnt = s_count[j];
                s_base[j] = cnt != 0 ? atomicAdd(cur + j, cnt) : 0;
                s_fill[j] = s_start[j];
            }
            __syncthreads();
            for_each_label(lab, p0, p1, [&](int i, int l, int) {
                const int q = atomicAdd(s_fill + l, 1);
                s_row[q] = row_base + i;
                s_label[q] = l;
            });
            __syncthreads();
            for (int q = threadIdx.x; q < p1 - p0; q += blockDim.x) {
                const int l = s_label[q];
                sorted[s_base[l] + (q - s_start[l])] = s_row[q];
            }
            __syncthreads();
        }
    } else if (shared) {
        int* s_count = s_mem;
        int* s_base = s_mem + k;
        for (int j = threadIdx.x; j < k; j += blockDim.x) s_count[j] = 0;
        __syncthreads();
        for_each_label(lab, lo, hi, [&](int, int l, int) { atomicAdd(s_count + l, 1); });
        __syncthreads();
        for (int j = threadIdx.x; j < k; j += blockDim.x) {
            const int cnt = s_count[j];
            s_base[j] = cnt != 0 ? atomicAdd(cur + j, cnt) : 0;
            s_count[j] = 0;
        }
        __syncthreads();
        for_each_label(lab, lo, hi, [&](int i, int l, int) { sorted[s_base[l] + atomicAdd(s_count + l, 1)] = row_base + i; });
    } else {
        const int lane = threadIdx.x & 31;
        for (int base = lo + threadIdx.x - lane; base < hi; base += blockDim.x) {
            const int i = base + lane;
            const int cl = i < hi ? lab[i] : -1 - lane;
            const unsigned peers = __match_any_sync(0xffffffffu, cl);
            const int leader = __ffs(peers) - 1;
            int pos = 0;
            if (cl >= 0 && lane == leader) pos = atomicAdd(cur + cl, __popc(peers));
            pos = __shfl_sync(0xffffffffu, pos, leader);
            if (cl >= 0) sorted[pos + __popc(peers & ((1u << lane) - 1u))] = row_base + i;
        }
    }
}
