namespace FlashKMeans.Cuda;

/// <summary>
/// The centroid update's first pass over a step's labels, which the warp-specialised assignment's storer warps can do as
/// they store them (<see cref="CudaSession.AssignCountingLabels"/>, flash_assign_ws.cu's MovedCount). Device pointers;
/// zero for none.
/// </summary>
/// <param name="Previous">int32 (B·N): the last step's labels (-1 before the first).</param>
/// <param name="SignedCounts">int32 (2·B·K): the incremental count's signed clusters (<see cref="IncrementalUpdate.SignedCounts"/>).</param>
/// <param name="Changed">uint64 (B): moved labels per problem, added to.</param>
/// <param name="Counts">int32 (B·K): the sorting count's rows per cluster, added to.</param>
internal readonly record struct LabelCount(ulong Previous, ulong SignedCounts, ulong Changed, ulong Counts)
{
    /// <summary>
    /// The incremental update's count (<see cref="CudaSession.CountMovedRows"/>): each moved row in its two signed
    /// clusters and in <paramref name="changed"/>; <paramref name="previous"/> is left to the scatter.
    /// </summary>
    public static LabelCount Incremental(ulong previous, ulong signedCounts, ulong changed) => new(previous, signedCounts, changed, 0);

    /// <summary>
    /// The sorting update's histogram (<see cref="CudaSession.Histogram"/>): every row in <paramref name="counts"/>, a moved
    /// one in <paramref name="changed"/>, and <paramref name="previous"/> takes the new labels.
    /// </summary>
    public static LabelCount Sorting(ulong previous, ulong changed, ulong counts) => new(previous, 0, changed, counts);
}
