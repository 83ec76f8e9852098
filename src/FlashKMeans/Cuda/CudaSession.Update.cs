using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda;

// The centroid update's launchers: the label sort (label_sort.cu), the moved rows (moved_rows.cu) and the sums and finalize (centroid_update.cu).
internal sealed partial class CudaSession
{
    // In the sort-inverse kernels n is the total row count over all batches; rows of batch b are
    // [b·n/batches, (b+1)·n/batches) and its clusters [b·k, (b+1)·k).
    private static int RowsPerBatch(long n, int batches) => (int)Math.Min(Math.Max(1, n / batches), int.MaxValue);

    /// <summary>Blocks per batch for the sort kernels: about four per SM in all, each on one batch only.</summary>
    private long SortChunks(int batches) => Math.Max(1, 4L * Context.MultiprocessorCount / batches);

    /// <summary>Bytes of <paramref name="ints"/> int32s of dynamic shared memory, or 0 when they do not fit (the sort kernels then use global atomics).</summary>
    private static int SharedIntsBytes(long ints, int maxSharedPerBlock) => 4 * ints <= maxSharedPerBlock ? (int)(4 * ints) : 0;

    /// <summary>
    /// Adds each cluster's row count to <paramref name="counts"/>. With <paramref name="previous"/> (the last step's
    /// labels, -1 before the first) it also adds each problem's moved labels to <paramref name="changed"/> (one uint64
    /// per problem) and copies the labels there, in the same pass over them.
    /// </summary>
    public void Histogram(ulong labels, ulong counts, long n, int k, int batches = 1, ulong previous = 0, ulong changed = 0)
    {
        var args = new KernelArgs().Add(labels).Add(counts).Add(RowsPerBatch(n, batches)).Add(k).Add(previous).Add(changed);
        Kernels.Get("label_sort", "label_histogram").Launch(Stream, (SortChunks(batches), batches, 1), 256, SharedIntsBytes(k, Context.MaxSharedMemoryPerBlock), args);
    }

    public void ExclusiveScan(ulong counts, ulong offsets, ulong cursor, int length)
    {
        var args = new KernelArgs().Add(counts).Add(offsets).Add(cursor).Add(length);
        Kernels.Get("label_sort", "exclusive_scan").Launch(Stream, (1, 1, 1), 1024, 0, args);
    }

    /// <summary>Rows scatter_indices sorts in shared memory at a time (label_sort.cu: SCATTER_SUB).</summary>
    private const int ScatterPieceRows = 8192;

    /// <summary>
    /// Dynamic shared memory of scatter_indices: 4k counters, a sorted piece of rows and a scan's scratch when they fit (the
    /// kernel then writes each cluster's indices in order), else 2k counters, else 0 (global atomics).
    /// </summary>
    internal static int ScatterSharedBytes(int k, int maxSharedPerBlock)
    {
        int sorting = SharedIntsBytes(4L * k + 2 * ScatterPieceRows + 8, maxSharedPerBlock);
        return sorting > 0 ? sorting : SharedIntsBytes(2L * k, maxSharedPerBlock);
    }

    public void Scatter(ulong labels, ulong cursor, ulong sorted, long n, int k, int batches = 1)
    {
        var args = new KernelArgs().Add(labels).Add(cursor).Add(sorted).Add(RowsPerBatch(n, batches)).Add(k);
        Kernels.Get("label_sort", "scatter_indices").Launch(Stream, (SortChunks(batches), batches, 1), 256,
            ScatterSharedBytes(k, Context.MaxSharedMemoryPerBlock), args);
    }

    /// <summary>
    /// Per-cluster sums of (weighted) rows through the sorted index list, fp64 or exact fixed point. The cluster of
    /// each sorted position comes from the segment <paramref name="offsets"/> (the scan of the counts, global
    /// cluster order b·k + label, <paramref name="batches"/>·<paramref name="k"/> + 1 entries), not from the labels.
    /// </summary>
    public void SegmentSums(ulong x, ulong weights, ulong offsets, ulong sorted, long n, int k, int d, int ldx, ulong sums, float? fixedScale, int batches = 1)
    {
        int run = SegmentRun(n, Context.MultiprocessorCount);
        long grid = (n + run * 8L - 1) / (run * 8L);  // 8 warps per block, one run each
        var args = new KernelArgs().Add(x).Add(weights).Add(offsets).Add(sorted).Add(n).Add(batches * k).Add(d).Add(ldx).Add(run).Add(sums);
        if (fixedScale is float scale)
            Kernels.Get("centroid_update", "segment_sum_fixed_" + Precision.Suffix).Launch(Stream, (grid, 1, 1), 256, SegmentSharedBytes, args.Add(scale));
        else
            Kernels.Get("centroid_update", "segment_sum_" + Precision.Suffix).Launch(Stream, (grid, 1, 1), 256, SegmentSharedBytes, args);
    }

    /// <summary>
    /// The incremental update's first pass (moved_rows.cu, count_moved_rows): each row of the <paramref name="n"/> whose label
    /// differs from <paramref name="previous"/> (the labels the fixed-point sums hold) is counted in <paramref name="changed"/>
    /// (one uint64 per problem) and in its two signed clusters (<paramref name="signedCounts"/>: joined b·k + new, then left
    /// B·k + b·k + old). Zero changed first; signedCounts must be zero, as <see cref="MovedRowSums"/> leaves it. (The
    /// warp-specialised assignment does this count itself: <see cref="AssignCountingLabels"/>.)
    /// </summary>
    public void CountMovedRows(ulong labels, ulong previous, ulong changed, ulong signedCounts, long n, int k, int batches)
    {
        var args = new KernelArgs().Add(labels).Add(previous).Add(changed).Add(signedCounts).Add(RowsPerBatch(n, batches)).Add(k);
        Kernels.Get("moved_rows", "count_moved_rows").Launch(Stream, (SortChunks(batches), batches, 1), 256,
            MovedRowsInSharedMemory ? SharedIntsBytes(2L * k, Context.MaxSharedMemoryPerBlock) : 0, args);
    }

    /// <summary>
    /// Sorts the moved rows of <see cref="CountMovedRows"/> into their signed clusters' segments; <paramref name="sorted"/>
    /// receives two entries per moved row, and <paramref name="previous"/> the new labels. Also moves each cluster's count
    /// in <paramref name="counts"/> by its joined minus its left rows. Where <paramref name="offsets"/> is not 0, the kernel
    /// scans <paramref name="signedCounts"/> itself (<see cref="ScatterScansMovedRows"/> must hold) and writes the segment
    /// offsets there, and <paramref name="cursor"/> must be zero; where it is 0, <paramref name="cursor"/> is
    /// <see cref="ExclusiveScan"/>'s and is consumed.
    /// </summary>
    /// <remarks>
    /// Its grid is that of <see cref="WeightedSumPartials"/>, whose partial sums it also writes, chunk for chunk
    /// (<paramref name="weights"/>: 0 for unit weights); the step's finalize completes the inertias.
    /// </remarks>
    public void ScatterMovedRows(ulong labels, ulong previous, ulong signedCounts, ulong counts, ulong cursor, ulong sorted,
                                 ulong offsets, int k, StepInertia inertia, ulong weights)
    {
        var args = new KernelArgs().Add(labels).Add(previous).Add(signedCounts).Add(counts).Add(cursor).Add(sorted).Add(offsets)
            .Add((int)inertia.Rows).Add(k).Add(inertia.Distances).Add(weights).Add(inertia.Partials);
        int shared = offsets != 0 ? MovedScanSharedBytes(k, inertia.Problems)
            : MovedRowsInSharedMemory ? SharedIntsBytes(4L * k, MovedScatterMaxShared) : 0;
        Kernels.Get("moved_rows", "scatter_moved_rows").Launch(Stream, (inertia.Chunks, inertia.Problems, 1), 256, shared, args);
    }

    /// <summary>
    /// Largest number of signed clusters (2·B·K) that <see cref="ScatterMovedRows"/> scans in each block: the scan reads them
    /// all from every block, which costs less than a launch while they are few.
    /// </summary>
    internal const int MaxScannedSignedClusters = 8192;

    /// <summary>Whether <see cref="ScatterMovedRows"/> can scan the signed counts of <paramref name="batches"/> problems of <paramref name="k"/> clusters itself.</summary>
    public bool ScatterScansMovedRows(int k, int batches) =>
        MovedRowsInSharedMemory && 2L * k * batches <= MaxScannedSignedClusters && MovedScanSharedBytes(k, batches) > 0;

    /// <summary>
    /// False to make the moved rows' count and scatter use global atomics, as they do where a problem's clusters do not fit
    /// in shared memory (about 14,500 of them), and the scan a kernel of its own: for tests of those paths. Set it before
    /// the first step, which captures the launches.
    /// </summary>
    internal bool MovedRowsInSharedMemory { get; set; } = true;

    // scatter_moved_rows' shared memory when it scans: 4k counters and bases, the scan and its 8 ints of scratch.
    private int MovedScanSharedBytes(int k, int batches) => SharedIntsBytes(4L * k + 2L * k * batches + 8, MovedScatterMaxShared);

    // scatter_moved_rows has 64 bytes of static shared memory (block_sum's), which the dynamic part must leave room for.
    private int MovedScatterMaxShared => Context.MaxSharedMemoryPerBlock - 64;

    /// <summary>
    /// Adds the rows of the "joined" segments to, and subtracts those of the "left" segments from, the fixed-point sums of
    /// <paramref name="clusters"/> clusters (centroid_update.cu, segment_sum_moved_*): <paramref name="offsets"/> has
    /// 2·clusters + 1 entries, the last the number of sorted positions, which only the device knows. Also zeroes the
    /// <paramref name="clearInts"/> int32s at <paramref name="clear"/> (the moved rows' counts and cursors, for the next step).
    /// </summary>
    public void MovedRowSums(ulong x, ulong weights, ulong offsets, ulong sorted, int clusters, int d, int ldx, ulong sums, float scale,
                             ulong clear, long clearInts)
    {
        var args = new KernelArgs().Add(x).Add(weights).Add(offsets).Add(sorted).Add(clusters).Add(d).Add(ldx).Add(sums).Add(scale)
            .Add(clear).Add(checked((int)clearInts));
        // About one wave: two blocks of 8 warps per SM, each warp sizing its run from the device-side total.
        Kernels.Get("centroid_update", "segment_sum_moved_" + Precision.Suffix)
            .Launch(Stream, (2L * Context.MultiprocessorCount, 1, 1), 256, SegmentSharedBytes, args);
    }

    /// <summary>
    /// Sorted rows per warp of the segment sums: about one wave of resident warps (two blocks of 8
    /// warps per SM, bounded by their 96 KiB of shared memory each) covers all rows, so that few
    /// atomics are issued; within [16, 4096].
    /// </summary>
    internal static int SegmentRun(long n, int multiprocessors)
    {
        long warps = Math.Max(1L, multiprocessors * 16L);
        return (int)Math.Clamp((n + warps - 1) / warps, 16, 4096);
    }

    public void ClusterWeights(ulong weights, ulong labels, ulong output, long n, int k, float? fixedScale, int batches = 1)
    {
        var args = new KernelArgs().Add(weights).Add(labels).Add(output).Add(n).Add(RowsPerBatch(n, batches)).Add(k);
        if (fixedScale is float scale)
            Kernels.Get("centroid_update", "cluster_weights_fixed").Launch(Stream, (GridStride(n), 1, 1), 256, 0, args.Add(scale));
        else
            Kernels.Get("centroid_update", "cluster_weights").Launch(Stream, (GridStride(n), 1, 1), 256, 0, args);
    }

    /// <summary>
    /// New centroids from the sums and weights (<paramref name="weightSums"/> fp64, or 0 for the counts), into
    /// <paramref name="targets"/>. <paramref name="inverseScale"/>: the fixed-point sums' inverse scale, or null for fp64
    /// sums.
    /// </summary>
    public void FinalizeCentroids(ulong sums, ulong counts, ulong weightSums, int k, int d, double? inverseScale,
                                  double inverseWeightScale, in FinalizeTargets targets)
    {
        var args = new KernelArgs().Add(sums).Add(counts).Add(weightSums);
        if (inverseScale is double inv)
            args = args.Add(inv).Add(inverseWeightScale);
        LaunchFinalize(inverseScale is null ? "finalize_centroids" : "finalize_centroids_fixed", args, k, d, targets);
    }

    /// <summary>
    /// Stream learning's update (centroid_update.cu, finalize_running_mean): every centroid moves to the mean of its old
    /// position, weighted by the weight it had seen (decayed by <paramref name="decay"/>), and its rows of the batch
    /// (fp64 <paramref name="sums"/>; <paramref name="weightSums"/> fp64, or 0 for the counts); <paramref name="seen"/> (fp64)
    /// becomes the new seen weights; each moved value is rounded to <paramref name="centroidPrecision"/> (float32, float16 or
    /// bfloat16). Writes the centroids, shifts and packed rows of <paramref name="targets"/> (its weights are the seen ones).
    /// Nothing but the shifts is written when any of the <paramref name="badCount"/> int32s at <paramref name="badRows"/>
    /// (0: unchecked) is not <see cref="int.MaxValue"/>: this batch's first bad row and those of the batches stepped before it
    /// in the same launch sequence.
    /// </summary>
    public void FinalizeRunningMean(ulong sums, ulong counts, ulong weightSums, ulong seen, double decay, ComputePrecision centroidPrecision,
                                    ulong badRows, int badCount, int k, int d, in FinalizeTargets targets)
    {
        int roundKind = centroidPrecision switch { ComputePrecision.Float16 => 3, ComputePrecision.BFloat16 => 4, _ => 0 };
        var args = new KernelArgs().Add(sums).Add(counts).Add(weightSums).Add(seen).Add(decay).Add(roundKind).Add(badRows).Add(badCount);
        LaunchFinalize("finalize_running_mean", args, k, d,
            targets with { WeightOut = seen, Inertia = null, Tiles = null, Before = 0 });
    }

    private void LaunchFinalize(string name, KernelArgs head, int k, int d, in FinalizeTargets t)
    {
        var target = t.ToArgs(k, d, Precision.PackCode);
        // One warp per cluster; blocks 0 .. problems - 1 also finish the step's inertia, so there are at least that many.
        long blocks = Math.Max((k + 7) / 8, target.Problems);
        Kernels.Get("centroid_update", name).Launch(Stream, (blocks, 1, 1), 256, 0, head.AddStruct(target));
    }
}
