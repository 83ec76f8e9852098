using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda;

/// <summary>
/// The seeding primitives of the CUDA bindings, written once over the rows as spans on the device: resident rows are
/// one span, streamed rows a span per batch of a pass.
/// </summary>
internal static class DeviceSeeding
{
    /// <summary>Work on one span of stored rows: the index of its first row, its rows, and their norms.</summary>
    public delegate void SpanWork(long first, long count, ulong rows, ulong norms);

    /// <summary>Enqueues <paramref name="work"/> on the session's stream for every span of the rows, in order.</summary>
    public delegate void RowSpans(SpanWork work, CancellationToken cancellationToken);

    /// <summary>
    /// Lowers every row's distance to its nearest seed by <paramref name="newSeeds"/> (after a reset, the distances start
    /// from them alone) and returns the potential, Σ w·distance.
    /// </summary>
    public static double UpdateSeedDistances(CudaSession s, DeviceSeedDistances seeds, ReadOnlySpan<float> newSeeds, bool reset,
        int d, int ld, RowSpans spans, CancellationToken cancellationToken)
    {
        s.Context.MakeCurrent();
        var seedDistances = seeds.Add(newSeeds, reset);
        int m = newSeeds.Length / d;
        if (m > 0)
        {
            using var uploaded = UploadedCentroids.Upload(s, newSeeds, d);
            spans((first, count, rows, norms) =>
                s.Assign(rows, norms, count, d, ld, uploaded.Packed, uploaded.Norms, m, ld, 0, seedDistances.At(first), updateMin: true),
                cancellationToken);
            s.Stream.Synchronize();
        }
        return seeds.Potential();
    }

    /// <summary>
    /// For each candidate, the potential the seeds would have with it added: Σ w·min(distance, candidate's distance)
    /// over all <paramref name="n"/> rows.
    /// </summary>
    public static void EvaluateSeedCandidates(CudaSession s, DeviceSeedDistances seeds, ReadOnlySpan<float> candidates,
        Span<double> potentials, long n, int d, int ld, ulong weights, RowSpans spans, CancellationToken cancellationToken)
    {
        var seed = seeds.Current;
        s.Context.MakeCurrent();
        int m = candidates.Length / d;
        // Candidates go in groups so that the n × group distance matrix stays within 256 MiB. The potentials are reduced
        // over all rows at once, so rows in many spans give the potentials of rows in one.
        int group = CudaBindingHost.CandidateGroup(n);
        for (int first = 0; first < m; first += group)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(group, m - first);
            using var uploaded = UploadedCentroids.Upload(s, candidates.Slice(first * d, count * d), d);
            using var distances = new DeviceBuffer<float>(s.Context, n * count);
            using var output = new DeviceBuffer<double>(s.Context, count);
            spans((row, rowsInSpan, rows, norms) =>
                s.AllDistances(rows, rowsInSpan, d, ld, uploaded.Packed, count, ld, distances.At(row * count)), cancellationToken);
            s.CandidatePotentials(distances.Pointer, seed.Pointer, weights, n, count, output.Pointer);
            output.CopyTo(potentials.Slice(first, count), 0, s.Stream);
        }
    }
}
