namespace FlashKMeans.Cuda;

/// <summary>
/// When a resident Lloyd step adds the rows to their clusters inside the assignment (<see cref="CudaSession.AssignWithUpdate"/>)
/// instead of in the sort-inverse pass after it.
/// </summary>
/// <remarks>
/// The fused sums are global reductions, one per row and 8 bytes of it, and through L2's atomic units they cost about
/// twice the sort-inverse pass's gather per row (measured on the H200 with bench/gpu/FlashKMeans.GpuBench). They hide behind the assignment's products
/// only when it is long, which takes many clusters. Each slab sums a cluster's rows in fp32, one term per row, so
/// clusters must also stay small: for the sums' precision, and because rows of one cluster reduce into one address.
/// The previous step's largest cluster decides, so the first step always sorts.
/// <para>
/// Only batches that ask for it fuse (<see cref="CudaBatch"/>'s <c>fuseUpdate</c>: tests and benchmarks). Since the
/// incremental update, a fit that converges moves a few percent of its rows per step, and updating by those alone beats
/// adding every row up again: at 1M × 8192 fp16 the fused steps cost 0.1–0.15 ms over the assignment, the incremental
/// ones about nothing (on the H200, with bench/gpu/FlashKMeans.GpuBench).
/// </para>
/// </remarks>
internal static class FusedUpdatePolicy
{
    /// <summary>Fewest clusters per problem for the fused update (measured: a gain at 4096 and 8192, none at 1024).</summary>
    public const int MinClusters = 4096;

    /// <summary>
    /// Fewest stored bytes per row: shorter rows make a shorter assignment for the same clusters, and the per-row costs
    /// of the fused epilogue (measured: bf16 d = 64 at K = 8192 lost 0.07 ms) no longer hide.
    /// </summary>
    public const int MinRowBytes = 129;

    /// <summary>Most rows of one cluster per slab: fp32 sums of this many terms stay within about 2⁻¹² of the true sum.</summary>
    public const long MaxRowsPerSlab = 4096;

    /// <summary>Bytes all slabs may take; they should stay in L2 with the assignment's working set.</summary>
    public const long SlabBudgetBytes = 32L << 20;

    /// <summary>Most slabs.</summary>
    public const int MaxSlabs = 8;

    /// <summary>Slabs for <paramref name="clusterRows"/> (B·K) sums of <paramref name="pitch"/> floats: as many as the budget holds, 1 to 8.</summary>
    public static int SlabCount(long clusterRows, int pitch) =>
        (int)Math.Clamp(SlabBudgetBytes / Math.Max(1, clusterRows * pitch * sizeof(float)), 1, MaxSlabs);

    /// <summary>Whether problems of <paramref name="clusters"/> clusters and rows of <paramref name="rowBytes"/> stored bytes are worth fusing at all.</summary>
    public static bool Suits(int clusters, int rowBytes) => clusters >= MinClusters && rowBytes >= MinRowBytes;

    /// <summary>
    /// Whether the next step may fuse its update, given the largest cluster of the previous step (<c>null</c> before the
    /// first) and the number of slabs; the shape must <see cref="Suits"/>.
    /// </summary>
    public static bool Allows(long? previousLargestCluster, int slabs) =>
        previousLargestCluster is long largest && largest <= MaxRowsPerSlab * slabs;
}
