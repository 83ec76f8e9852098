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

// Both kernels run on a (chunks, B) grid, block (c, b) on the rows of problem b that block_rows gives it, and count
// in shared memory where a problem's signed clusters fit there (2k ints per block, 4k for the scatter's reserved
// ranges), so that a cluster's global
// counter or cursor takes one atomic per block, not one per moved row. (The first version listed the moved rows
// first and then used one global atomic per moved row and signed cluster: 72 + 109 us at 1M rows when 55% of the
// labels moved, against 12 + 18 for sorting every row on the H200.) The list of moved rows is gone with it:
// the scatter reads labels and previous again, which at 1M rows sit in L2.

// Counts the rows whose label differs from previous (the labels the sums hold) in their two signed clusters and in
// their problem's changed count.
//   labels   int32  (B*n)     this step's labels
//   previous int32  (B*n)     the labels of the sums (never -1 here); unchanged (scatter_moved_rows moves them)
//   changed  uint64 (B)       in/out: moved rows per problem (zero it first)
//   signed_counts int32 (2*B*k) in/out: rows per signed cluster (zero at first; segment_sum_moved_* re-zeroes it)
// Launch: grid (chunks, B), block 256, dynamic shared memory 2k ints, or 0 (global atomics).
extern "C" __global__ void count_moved_rows(const int* __restrict__ labels, const int* __restrict__ previous,
                                            unsigned long long* __restrict__ changed, int* __restrict__ signed_counts,
                                            int n, int k)
{
    extern __shared__ int s_count[];  // joined [0, k), left [k, 2k)
    const int b = blockIdx.y;
    const int clusters = gridDim.y * k;
    const RowRange rows = block_rows(n);
    const bool shared = dynamic_smem_bytes() >= 8u * (unsigned)k;
    labels += (size_t)b * n;
    previous += (size_t)b * n;
    int* joined = shared ? s_count : signed_counts + b * k;
    int* left = shared ? s_count + k : signed_counts + clusters + b * k;
    if (shared) {
        for (int j = threadIdx.x; j < 2 * k; j += blockDim.x) s_count[j] = 0;
        __syncthreads();
    }
    unsigned moved = 0;
    for_each_label(labels, rows.lo, rows.hi, [&](int, int l, int o) {
        if (l == o) return;
        ++moved;
        atomicAdd(joined + l, 1);
        atomicAdd(left + o, 1);
    }, previous);
    if (shared) {
        __syncthreads();
        for (int j = threadIdx.x; j < 2 * k; j += blockDim.x) {
            const int c = s_count[j];
            if (c != 0) atomicAdd(signed_counts + (j < k ? b * k + j : clusters + b * k + j - k), c);
        }
    }
    for (int o = 16; o > 0; o >>= 1) moved += __shfl_xor_sync(0xffffffffu, moved, o);
    if ((threadIdx.x & 31) == 0 && moved != 0) atomicAdd(changed + b, (unsigned long long)moved);
}

// Places each moved row in its two signed clusters' segments, in no particular order within a segment; moves each
// cluster's count by its joined minus its left rows; and gives previous the new labels. Also, where partials is not
// null, the partial sums of the step's inertia: block (c, b)'s rows are chunk c of segmented_sum_partial over the
// distances with the same grid, and each thread sums its rows in segmented_sum_partial's order, which saves the step
// that launch.
//
// Where offsets is not null the kernel also does the scan of signed_counts, which it writes there: every block scans
// them in shared memory (2·B·k ints, which the host keeps small) and block (0, 0) writes them out, so the step has no
// scan node (one block's 3.7 us and a graph gap at 1M x 1024 on the H200). cursor then holds each signed cluster's
// rows placed so far (zero at first) rather than where its next row goes (the exclusive_scan kernel's cursor).
//   counts    int32 (B*k)             in/out: rows per cluster
//   cursor    int32 (2*B*k)           in/out, as above; segment_sum_moved_* zeroes it with signed_counts for the next step
//   sorted    int32 (2 * moved rows)  out: global row indices b*n + i
//   offsets   int32 (2*B*k + 1)       out: the exclusive scan of signed_counts and the total, or null
//   distances fp32 (B*n), weights fp32 (B*n) or null, partials fp64 (B, chunks) out: as segmented_sum_partial
// Launch: grid (chunks, B), block SUM_THREADS (256), dynamic shared memory 4k ints (and 2·B·k + 8 more where offsets
// is not null), or 0 (global atomics; offsets must be null).
extern "C" __global__ void __launch_bounds__(SUM_THREADS) scatter_moved_rows(
    const int* __restrict__ labels, int* previous, const int* __restrict__ signed_counts, int* __restrict__ counts,
    int* __restrict__ cursor, int* __restrict__ sorted, int* __restrict__ offsets, int n, int k,
    const float* __restrict__ distances, const float* __restrict__ weights, double* __restrict__ partials)
{
    extern __shared__ int s_mem[];
    const int b = blockIdx.y;
    const int clusters = gridDim.y * k;
    const int threads = gridDim.x * gridDim.y * blockDim.x;
    for (int c = (blockIdx.y * gridDim.x + blockIdx.x) * blockDim.x + threadIdx.x; c < clusters; c += threads)
        counts[c] += signed_counts[c] - signed_counts[clusters + c];
    const RowRange rows = block_rows(n);
    // The inertia's partial sum: each thread adds its rows' distances as it meets them in the first pass over the labels,
    // which visits them in segmented_sum_partial's order (each thread's rows in increasing order).
    const float* dist = partials != nullptr ? distances + (size_t)b * n : nullptr;
    const float* wts = partials != nullptr && weights != nullptr ? weights + (size_t)b * n : nullptr;
    double acc = 0.0;
    auto add_distance = [&](int i) {
        if (dist != nullptr) acc += weighted_term(dist, wts, i);
    };
    auto write_partial = [&]() {  // by every thread of the block
        if (partials == nullptr) return;
        const double t = block_sum(acc);
        if (threadIdx.x == 0) partials[(size_t)b * gridDim.x + blockIdx.x] = t;
    };
    const bool shared = dynamic_smem_bytes() >= 16u * (unsigned)k;
    labels += (size_t)b * n;
    previous += (size_t)b * n;
    const int row_base = b * n;
    int* joined = cursor + b * k;
    int* left = cursor + clusters + b * k;
    if (!shared) {
        for_each_label(labels, rows.lo, rows.hi, [&](int i, int l, int o) {
            add_distance(i);
            if (l == o) return;
            sorted[atomicAdd(joined + l, 1)] = row_base + i;
            sorted[atomicAdd(left + o, 1)] = row_base + i;
            previous[i] = l;
        }, previous);
        write_partial();
        return;
    }
    // Count this block's rows per signed cluster, reserve one range of each cluster's segment, then fill it.
    int* s_count = s_mem;        // 2k: this block's rows per signed cluster, then the next free slot in its range
    int* s_base = s_mem + 2 * k; // 2k: where this block's range of each signed cluster starts in sorted
    int* s_scan = s_mem + 4 * k; // 2·B·k + 8, where offsets is not null: the scan of signed_counts, and its scratch
    for (int j = threadIdx.x; j < 2 * k; j += blockDim.x) s_count[j] = 0;
    __syncthreads();
    for_each_label(labels, rows.lo, rows.hi, [&](int i, int l, int o) {
        add_distance(i);
        if (l == o) return;
        atomicAdd(s_count + l, 1);
        atomicAdd(s_count + k + o, 1);
    }, previous);
    __syncthreads();
    if (offsets != nullptr) {
        const int moved = block_exclusive_scan(signed_counts, s_scan, 2 * clusters, s_scan + 2 * clusters);
        if (blockIdx.x == 0 && blockIdx.y == 0) {
            for (int j = threadIdx.x; j < 2 * clusters; j += blockDim.x) offsets[j] = s_scan[j];
            if (threadIdx.x == 0) offsets[2 * clusters] = moved;
        }
    }
    write_partial();
    for (int j = threadIdx.x; j < 2 * k; j += blockDim.x) {
        const int c = s_count[j];
        const int signed_cluster = j < k ? b * k + j : clusters + b * k + j - k;
        const int start = offsets != nullptr ? s_scan[signed_cluster] : 0;
        s_base[j] = c != 0 ? start + atomicAdd(cursor + signed_cluster, c) : 0;
        s_count[j] = 0;
    }
    __syncthreads();
    for_each_label(labels, rows.lo, rows.hi, [&](int i, int l, int o) {
        if (l == o) return;
        sorted[s_base[l] + atomicAdd(s_count + l, 1)] = row_base + i;
        sorted[s_base[k + o] + atomicAdd(s_count + k + o, 1)] = row_base + i;
        previous[i] = l;
    }, previous);
}
