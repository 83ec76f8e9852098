using FlashKMeans.Backends;

namespace FlashKMeans.Cuda;

/// <summary>
/// The host-side steps that <see cref="CudaDataBinding"/> and the out-of-core
/// <see cref="Streaming.StreamingCudaDataBinding"/> take alike: reading a step's result out of pinned
/// memory, checking and weighting gathered rows, sizing candidate groups, freeing owned resources. One
/// copy, so that the streamed binding keeps giving what the in-memory one gives (the candidate groups in
/// particular decide the order of the potentials' sums). Nothing here touches the device.
/// </summary>
internal static class CudaBindingHost
{
    /// <summary>
    /// A Lloyd step's result from its read-back: <paramref name="scalars"/>[0] the inertia (fp64 bits),
    /// [1] the changed labels; a cluster of no weight in <paramref name="clusterWeights"/> is empty.
    /// </summary>
    public static LloydStepResult StepResult(ReadOnlySpan<long> scalars, ReadOnlySpan<double> clusterWeights)
    {
        double inertia = BitConverter.Int64BitsToDouble(scalars[0]);
        long changed = scalars[1];
        int empty = 0;
        foreach (double w in clusterWeights)
            empty += w > 0 ? 0 : 1;
        return new LloydStepResult(inertia, changed, empty);
    }

    /// <summary>Throws unless every one of <paramref name="rows"/> is in [0, <paramref name="rowCount"/>).</summary>
    public static void CheckRows(ReadOnlySpan<long> rows, long rowCount)
    {
        foreach (long row in rows)
        {
            if (row < 0 || row >= rowCount)
                throw new ArgumentOutOfRangeException(nameof(rows), row, $"Row index outside [0, {rowCount}).");
        }
    }

    /// <summary>Each gathered row's weight (1 when <paramref name="hostWeights"/> is null); nothing when <paramref name="weights"/> is empty.</summary>
    public static void GatherWeights(ReadOnlySpan<long> rows, Span<float> weights, float[]? hostWeights)
    {
        if (!weights.IsEmpty)
            for (int i = 0; i < rows.Length; i++)
                weights[i] = hostWeights is null ? 1f : hostWeights[rows[i]];
    }

    /// <summary>Throws unless <paramref name="weights"/> has one entry per seed added since the last reset.</summary>
    public static void CheckSeedCount(Span<double> weights, int seedValues, int d)
    {
        if (weights.Length * d != seedValues)
            throw new ArgumentException($"{seedValues / d} seeds have been added, not {weights.Length}.", nameof(weights));
    }

    /// <summary>Candidates evaluated together, so that the N × group distance matrix stays within 256 MiB.</summary>
    public static int CandidateGroup(long rowCount) => (int)Math.Clamp((256L << 20) / (4 * Math.Max(rowCount, 1)), 1, 256);
}
