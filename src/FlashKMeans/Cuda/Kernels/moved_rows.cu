// The incremental centroid update: the row sums of every cluster are kept across steps in exact 64-bit fixed
// point (see centroid_update.cu), so a step need not add all rows up again. It subtracts each row that left
// a cluster from that cluster's sums and adds it to the sums of the cluster it joined. Integer sums do not
// depend on order, so the result is bit-identical to summing every row again. After the first few Lloyd steps
// only a few percent of the labels move, and the update then reads only those rows.
//
// Signed clusters: the moved rows are counting-sorted into 2·B·k segments, B·k "joined" segments
// (b·k + new label) and then B·k "left" segments (B·k + b·k + old label). segment_sum_moved_* (centroid_update.cu)
// adds the first kind and subtracts the second.
//
// Batches as in label_sort.cu: problem b's rows are b·n .. b·n + n - 1, its clusters b·k .. b·k + k - 1.
#include "common.cuh"

// Finds the rows whose label differs from previous (the labels the sums were built from) and does their
// bookkeeping: previous takes the new label, each problem's changed count grows, and each moved row is listed
// with its old label and counted in its two signed clusters (from which scatter_moved_rows moves the counts).
//   labels   int32  (B*n)     this step's labels
//   previous int32  (B*n)     in: the labels of the sums (never -1 here); out: labels
//   changed  uint64 (B)       in/out: moved rows per problem (zero it first)
//   moved    int32  (B*n)     out: the moved rows, moved_count of them, in no particular order
//   moved_from int32 (B*n)    out: their old labels
//   moved_count int32 (1)     in/out: zero it first
//   signed_counts int32 (2*B*k) in/out: rows per signed cluster (zero it first)
// A block takes MARK_ROWS rows at a time and reserves their list slots with one atomic: per warp, that one
// address serialised the pass (54 us over 1M rows with 11% moved; NOTES.md, U14). Atomics on one address are
// the cost here, so the counts are not moved row by row but once per cluster, in scatter_moved_rows.
// Launch: grid (any, B), block MARK_THREADS.
constexpr int MARK_THREADS = 256;
constexpr int MARK_PER_THREAD = 8;
constexpr int MARK_ROWS = MARK_THREADS * MARK_PER_THREAD;
extern "C" __global__ void __launch_bounds__(MARK_THREADS) mark_moved_rows(
    const int* __restrict__ labels, int* __restrict__ previous, unsigned long long* __restrict__ changed, int* __restrict__ moved, int* __restrict__ moved_from,
    int* __restrict__ moved_count, int* __restrict__ signed_counts, int n, int k)
{
    __shared__ int warp_totals[MARK_THREADS / 32];
    __shared__ int block_base;
    const int b = blockIdx.y;
    const int clusters = gridDim.y * k;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const long long first = (long long)b * n;
    unsigned long long block_moved = 0;  // thread 0's
    for (int base = blockIdx.x * MARK_ROWS; base < n; base += gridDim.x * MARK_ROWS) {
        int label[MARK_PER_THREAD], old[MARK_PER_THREAD];
        int mine = 0;
#pragma unroll
        for (int u = 0; u < MARK_PER_THREAD; ++u) {
            const int i = base + u * MARK_THREADS + threadIdx.x;
            label[u] = i < n ? __ldg(labels + first + i) : 0;
            old[u] = i < n ? previous[first + i] : 0;
            mine += label[u] != old[u];
        }
        // This thread's first slot: the moved rows of the threads before it, after the block's reserved range.
        const int incl = warp_inclusive_scan(mine);
        if (lane == 31) warp_totals[warp] = incl;
        __syncthreads();
        int before = 0, total = 0;
#pragma unroll
        for (int w = 0; w < MARK_THREADS / 32; ++w) {
            before += w < warp ? warp_totals[w] : 0;
            total += warp_totals[w];
        }
        if (threadIdx.x == 0) {
            block_base = total > 0 ? atomicAdd(moved_count, total) : 0;
            block_moved += total;
        }
        __syncthreads();  // block_base written; warp_totals read by all
        int slot = block_base + before + incl - mine;
#pragma unroll
        for (int u = 0; u < MARK_PER_THREAD; ++u) {
            if (label[u] == old[u]) continue;
            const long long row = first + base + u * MARK_THREADS + threadIdx.x;
            moved[slot] = (int)row;
            moved_from[slot] = old[u];
            ++slot;
            previous[row] = label[u];
            atomicAdd(signed_counts + b * k + label[u], 1);
            atomicAdd(signed_counts + clusters + b * k + old[u], 1);
        }
        __syncthreads();  // before warp_totals and block_base are reused
    }
    if (threadIdx.x == 0 && block_moved != 0) atomicAdd(changed + b, block_moved);
}

// Places each moved row in its two signed clusters' segments (cursor: the exclusive scan of signed_counts,
// consumed here), in no particular order within a segment, and moves the cluster counts by the joined minus the
// left rows.
//   counts int32 (B*k)             in/out: rows per cluster
//   sorted int32 (2 * moved_count) out
// Launch: grid-stride, any grid, any block.
extern "C" __global__ void scatter_moved_rows(const int* __restrict__ labels, const int* __restrict__ moved,
                                              const int* __restrict__ moved_from, const int* __restrict__ moved_count,
                                              const int* __restrict__ signed_counts, int* __restrict__ counts,
                                              int* __restrict__ cursor, int* __restrict__ sorted, int n, int k,
                                              int clusters)
{
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < clusters; c += gridDim.x * blockDim.x)
        counts[c] += signed_counts[c] - signed_counts[clusters + c];
    const int count = *moved_count;
    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < count; j += gridDim.x * blockDim.x) {
        const int row = moved[j];
        const int b = row / n;
        sorted[atomicAdd(cursor + b * k + __ldg(labels + row), 1)] = row;
        sorted[atomicAdd(cursor + clusters + b * k + moved_from[j], 1)] = row;
    }
}
