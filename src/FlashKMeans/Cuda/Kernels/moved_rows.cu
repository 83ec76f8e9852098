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
// bookkeeping: previous takes the new label, the cluster counts move, each problem's changed count grows,
// and each moved row is listed with its old label and counted in its two signed clusters.
//   labels   int32  (B*n)     this step's labels
//   previous int32  (B*n)     in: the labels of the sums (never -1 here); out: labels
//   counts   int32  (B*k)     in/out: rows per cluster
//   changed  uint64 (B)       in/out: moved rows per problem (zero it first)
//   moved    int32  (B*n)     out: the moved rows, moved_count of them, in no particular order
//   moved_from int32 (B*n)    out: their old labels
//   moved_count int32 (1)     in/out: zero it first
//   signed_counts int32 (2*B*k) in/out: rows per signed cluster (zero it first)
// Launch: grid (any, B), block a multiple of 32.
extern "C" __global__ void mark_moved_rows(const int* __restrict__ labels, int* __restrict__ previous,
                                           int* __restrict__ counts, unsigned long long* __restrict__ changed,
                                           int* __restrict__ moved, int* __restrict__ moved_from,
                                           int* __restrict__ moved_count, int* __restrict__ signed_counts, int n, int k)
{
    const int b = blockIdx.y;
    const int clusters = gridDim.y * k;
    const int lane = threadIdx.x & 31;
    const long long first = (long long)b * n;
    // Every thread of a warp runs the same iterations, so that the ballots see the whole warp.
    for (int base = blockIdx.x * blockDim.x; base < n; base += gridDim.x * blockDim.x) {
        const int i = base + threadIdx.x;
        int label = 0, old = 0;
        if (i < n) {
            label = __ldg(labels + first + i);
            old = previous[first + i];
        }
        const bool m = i < n && label != old;
        const unsigned mask = __ballot_sync(0xffffffffu, m);
        if (mask == 0) continue;
        const int leader = __ffs(mask) - 1;
        int slot = 0;
        if (lane == leader) {
            slot = atomicAdd(moved_count, __popc(mask));
            atomicAdd(changed + b, (unsigned long long)__popc(mask));
        }
        slot = __shfl_sync(0xffffffffu, slot, leader) + __popc(mask & ((1u << lane) - 1));
        if (m) {
            const long long row = first + i;
            moved[slot] = (int)row;
            moved_from[slot] = old;
            previous[row] = label;
            atomicAdd(counts + b * k + label, 1);
            atomicSub(counts + b * k + old, 1);
            atomicAdd(signed_counts + b * k + label, 1);
            atomicAdd(signed_counts + clusters + b * k + old, 1);
        }
    }
}

// Places each moved row in its two signed clusters' segments (cursor: the exclusive scan of signed_counts,
// consumed here), in no particular order within a segment.
//   sorted int32 (2 * moved_count) out
// Launch: grid-stride, any grid, any block.
extern "C" __global__ void scatter_moved_rows(const int* __restrict__ labels, const int* __restrict__ moved,
                                              const int* __restrict__ moved_from, const int* __restrict__ moved_count,
                                              int* __restrict__ cursor, int* __restrict__ sorted, int n, int k,
                                              int clusters)
{
    const int count = *moved_count;
    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < count; j += gridDim.x * blockDim.x) {
        const int row = moved[j];
        const int b = row / n;
        sorted[atomicAdd(cursor + b * k + __ldg(labels + row), 1)] = row;
        sorted[atomicAdd(cursor + clusters + b * k + moved_from[j], 1)] = row;
    }
}
