using FlashKMeans.Backends;

namespace FlashKMeans.Cpu;

/// <summary>
/// The seeding state of a host binding: each row's squared distance to its nearest seed so far and that seed's number
/// (N long, made at the first seed), and how many seeds there are; and the row selections seeding draws from it.
/// </summary>
/// <param name="rowCount">N.</param>
internal sealed class SeedState(long rowCount)
{
    /// <summary>Each row's squared distance to its nearest seed; null before the first seed.</summary>
    public float[]? Distances { get; private set; }

    /// <summary>Each row's nearest seed, −1 for none; null before the first seed.</summary>
    public int[]? Owners { get; private set; }

    /// <summary>Seeds added since the last reset.</summary>
    public int Count { get; private set; }

    /// <summary>
    /// Counts <paramref name="added"/> new seeds, after forgetting every earlier one where <paramref name="reset"/> (each row
    /// then at +∞ with no owner); returns the number of the first new seed.
    /// </summary>
    public int Add(int added, bool reset)
    {
        Distances ??= new float[rowCount];
        Owners ??= new int[rowCount];
        if (reset)
        {
            Array.Fill(Distances, float.PositiveInfinity);
            Array.Fill(Owners, -1);
            Count = 0;
        }
        int first = Count;
        Count += added;
        return first;
    }

    /// <inheritdoc cref="IKMeansDataBinding.GetSeedWeights"/>
    public void Weights(float[]? rowWeights, Span<double> destination) => HostRowSelection.SeedWeights(Owners, rowWeights, Count, destination);

    /// <inheritdoc cref="IKMeansDataBinding.FindRowsAtCumulativePotential"/>
    public void RowsAtCumulativePotential(float[]? rowWeights, ReadOnlySpan<double> sortedTargets, Span<long> rows) =>
        HostRowSelection.RowsAtCumulativePotential(HostRowSelection.Initialised(Distances), rowWeights, sortedTargets, rows);

    /// <inheritdoc cref="IKMeansDataBinding.SampleRowsByPotential"/>
    public IReadOnlyList<long> SampleByPotential(float[]? rowWeights, double scale, ulong seed) =>
        HostRowSelection.SampleByPotential(HostRowSelection.Initialised(Distances), rowWeights, scale, seed);
}
