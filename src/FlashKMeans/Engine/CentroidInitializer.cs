using FlashKMeans.Backends;
using FlashKMeans.Data;
using FlashKMeans.Primitives;

namespace FlashKMeans.Engine;

/// <summary>Dispatches <see cref="KMeansOptions.Initialization"/> to the seeding algorithm.</summary>
internal static class CentroidInitializer
{
    public static float[] Run(IKMeansDataBinding binding, KMeansOptions options, ulong seed, CancellationToken cancellationToken,
        SeedingProgress? progress = null)
    {
        int k = options.NumberOfClusters, d = binding.Dimension;
        progress ??= SeedingProgress.None;
        progress.Report(0);
        var centroids = options.Initialization switch
        {
            KMeansInitialization.RandomRows => RandomRowSeeding.Run(binding, k, seed, cancellationToken),
            KMeansInitialization.KMeansPlusPlus => KMeansPlusPlusSeeding.Run(binding, k, options.KMeansPlusPlusTrials, seed, cancellationToken, progress),
            KMeansInitialization.KMeansParallel => KMeansParallelSeeding.Run(binding, options, seed, cancellationToken, progress),
            KMeansInitialization.Explicit => ExplicitCentroids(options, d),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Initialization, "Unknown initialisation."),
        };
        if (options.Distance == KMeansDistance.Cosine)
            VectorMath.NormalizeRows(centroids, d);
        progress.Report(1);
        return centroids;
    }

    private static float[] ExplicitCentroids(KMeansOptions options, int d)
    {
        var given = options.InitialCentroids.Span;
        int k = options.NumberOfClusters;
        if (given.Length != k * d)
            throw new ArgumentException(
                $"{nameof(KMeansOptions.InitialCentroids)} holds {given.Length} values; {k} clusters × {d} features needs {k * d}.",
                nameof(options));
        if (!DataValidator.AllFinite(given))
            throw new ArgumentException($"{nameof(KMeansOptions.InitialCentroids)} contains NaN or infinite values.", nameof(options));
        return given.ToArray();
    }
}
