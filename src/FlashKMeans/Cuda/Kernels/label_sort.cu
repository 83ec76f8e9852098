// Counting sort of point indices by cluster, the first half of the sort-inverse centroid update:
// a histogram of labels, an exclusive scan into segment offsets, then a scatter of indices. Rows
// are never moved; the reduction gathers them through the sorted index list.
//
// Batches are flattened: point i of batch b is global row b*n + i and its cluster is b*k + label,
// so B independent problems sort as one.
#include "common.cuh"

// Lanes with equal clusters are combined so that a warp issues one atomic per distinct cluster.
// Lanes past the end get a distinct negative key so they never join a group.
__device__ __forceinline__ int cluster_of(const int* labels, long long row, long long total, int n, int k, int lane)
{
    return row < total ? (int)(row / n) * k + labels[row] : -1 - lane;
}

// Arguments:
//   labels int32 (B*n)   cluster label of every point, in [0, k)
//   counts int32 (B*k)   in/out: incremented by the number of points per cluster (zero it first)
//   total  long long     B*n
// Launch: grid-stride, any grid, block a multiple of 32.
extern "C" __global__ void label_histogram(const int* __restrict__ labels, int* __restrict__ counts,
                                           long long total, int n, int k)
{
    const int lane = threadIdx.x & 31;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long base = (long long)blockIdx.x * blockDim.x + threadIdx.x - lane; base < total; base += stride) {
        const long long row = base + lane;
        const int cl = cluster_of(labels, row, total, n, k, lane);
        const unsigned peers = __match_any_sync(0xffffffffu, cl);
        if (cl >= 0 && lane == __ffs(peers) - 1) atomicAdd(counts + cl, __popc(peers));
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
        int incl = v;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const int t = __shfl_up_sync(0xffffffffu, incl, o);
            if (lane >= o) incl += t;
        }
        if (lane == 31) warp_totals[warp] = incl;
        __syncthreads();
        if (warp == 0) {
            int w = warp_totals[lane];
#pragma unroll
            for (int o = 1; o < 32; o <<= 1) {
                const int t = __shfl_up_sync(0xffffffffu, w, o);
                if (lane >= o) w += t;
            }
            warp_totals[lane] = w;  // inclusive over warps
        }
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
//   sorted int32 (B*n)  out: global row indices grouped by cluster (order within a cluster is
//                       not specified; the reductions downstream do not depend on it, or are
//                       documented as order-dependent)
// Launch: grid-stride, any grid, block a multiple of 32.
extern "C" __global__ void scatter_indices(const int* __restrict__ labels, int* __restrict__ cursor,
                                           int* __restrict__ sorted, long long total, int n, int k)
{
    const int lane = threadIdx.x & 31;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long base = (long long)blockIdx.x * blockDim.x + threadIdx.x - lane; base < total; base += stride) {
        const long long row = base + lane;
        const int cl = cluster_of(labels, row, total, n, k, lane);
        const unsigned peers = __match_any_sync(0xffffffffu, cl);
        const int leader = __ffs(peers) - 1;
        int pos = 0;
        if (cl >= 0 && lane == leader) pos = atomicAdd(cursor + cl, __popc(peers));
        pos = __shfl_sync(0xffffffffu, pos, leader);
        if (cl >= 0) sorted[pos + __popc(peers & ((1u << lane) - 1u))] = (int)row;
    }
}
