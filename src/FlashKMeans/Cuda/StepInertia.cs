namespace FlashKMeans.Cuda;

/// <summary>
/// Where a step's inertias (Σ w·distance of each problem) are summed, in two deterministic passes: partial sums over
/// chunks of each problem's rows (<see cref="CudaSession.WeightedSumPartials"/>, or the incremental update's scatter, which
/// reads the rows' labels anyway), then their totals, which the step's centroid finalize writes
/// (<see cref="CudaSession.FinalizeCentroids"/>). Either way the chunks and the order are those of
/// <see cref="CudaSession.WeightedSums"/>, so an inertia does not depend on which update the step ran.
/// </summary>
/// <param name="Distances">fp32 (B, N): the step's squared distances.</param>
/// <param name="Partials">fp64 (B, <see cref="Chunks"/>): scratch for the partial sums.</param>
/// <param name="Output">fp64 (B): the inertias.</param>
/// <param name="Rows">N, rows per problem.</param>
/// <param name="Problems">B.</param>
internal readonly record struct StepInertia(ulong Distances, ulong Partials, ulong Output, long Rows, int Problems)
{
    /// <summary>Partial sums per problem (<see cref="CudaSession.SumChunksFor"/>).</summary>
    public int Chunks => CudaSession.SumChunksFor(Rows);
}
