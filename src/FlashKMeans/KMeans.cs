using System.Diagnostics;
using FlashKMeans.Backends;
using FlashKMeans.Data;
using FlashKMeans.Engine;
using Microsoft.Extensions.Logging;

namespace FlashKMeans;

/// <summary>
/// Exact Lloyd k-means. Configure with <see cref="KMeansOptions"/>, call a <c>Fit</c> overload, get a
/// <see cref="KMeansModel"/>. Usable without ML.NET.
/// </summary>
/// <example>
/// <code>
/// var model = new KMeans(new KMeansOptions { NumberOfClusters = 8 }).Fit(data, dimension: 16);
/// int[] labels = model.Predict(data, 16);
/// </code>
/// </example>
public sealed class KMeans
{
    private readonly KMeansOptions _options;

    /// <summary>Creates a k-means estimator; the options are copied and validated.</summary>
    public KMeans(KMeansOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options.Clone();
        // The caller keeps its array: changing it later must not change what this estimator fits from.
        _options.InitialCentroids = options.InitialCentroids.ToArray();
    }

    /// <summary>A copy of the settings in use.</summary>
    public KMeansOptions Options => _options.Clone();

    /// <summary>Fits row-major N × d data held in a span; nothing is copied.</summary>
    /// <param name="data">N × <paramref name="dimension"/> values.</param>
    /// <param name="dimension">d.</param>
    /// <param name="weights">N non-negative weights, or empty for unit weights.</param>
    /// <param name="progress">Receives a report after every iteration.</param>
    /// <param name="cancellationToken">Stops the fit between chunks of work.</param>
    public unsafe KMeansModel Fit(ReadOnlySpan<float> data, int dimension, ReadOnlySpan<float> weights = default,
        IProgress<KMeansProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        fixed (float* rows = data)
        fixed (float* w = weights)
        {
            // The span stays pinned for this synchronous call, so it can be served as Memory without a copy.
            using var rowMemory = new UnmanagedMemory<float>(rows, data.Length);
            using var weightMemory = new UnmanagedMemory<float>(w, weights.Length);
            return Fit(rowMemory.Memory, dimension, weightMemory.Memory, progress, cancellationToken);
        }
    }

    /// <summary>Fits row-major N × d data; nothing is copied.</summary>
    public KMeansModel Fit(ReadOnlyMemory<float> data, int dimension, ReadOnlyMemory<float> weights = default,
        IProgress<KMeansProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (data.IsEmpty)
            throw new ArgumentException("The data is empty: it has no rows.", nameof(data));
        return Fit(new InMemoryBatchSource(data, dimension, weights), progress, cancellationToken);
    }

    /// <summary>Fits the rows of a two-dimensional array (N × d).</summary>
    public unsafe KMeansModel Fit(float[,] data, float[]? weights = null,
        IProgress<KMeansProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length == 0)
            throw new ArgumentException("The data is empty: it has no rows.", nameof(data));
        fixed (float* rows = data)
            return Fit(new ReadOnlySpan<float>(rows, data.Length), data.GetLength(1), weights, progress, cancellationToken);
    }

    /// <summary>
    /// Fits a multi-pass batch source: data streamed from files, ML.NET cursors or anything else that can be
    /// read from the start more than once.
    /// </summary>
    public KMeansModel Fit(IBatchSource source, IProgress<KMeansProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var clock = Stopwatch.StartNew();
        var options = _options;
        var summary = DataValidator.Scan(source, options.Distance, cancellationToken);
        int k = options.NumberOfClusters;
        if (k > summary.RowCount)
            throw new ArgumentOutOfRangeException(nameof(source), $"{nameof(KMeansOptions.NumberOfClusters)} is {k} but the data has only {summary.RowCount} rows; K must not exceed the number of rows.");

        bool cosine = options.Distance == KMeansDistance.Cosine;
        IBatchSource training = cosine ? new UnitLengthBatchSource(source) : source;
        if (options.MaximumPointsPerCentroid is int perCentroid && summary.RowCount > (long)perCentroid * k
            && SampleRows(source, summary, k, (int)Math.Min((long)perCentroid * k, Array.MaxLength),
                CounterRandom.Derive((ulong)options.Seed, 0x5A3B1E), cancellationToken) is { } rows)
        {
            options.Logger?.LogInformation("FlashKMeans: training on {Sample} of {Rows} rows ({PerCentroid} per centroid).", rows.Length, summary.RowCount, perCentroid);
            training = new SubsampledBatchSource(training, rows);
            summary = DataValidator.Scan(training, cancellationToken);
        }

        using var backend = BackendSelector.Create(options);
        using var binding = backend.Bind(training, summary, k, cancellationToken);
        LloydRun? best = null;
        // Explicit centroids start every initialisation at the same place, so further runs repeat the first.
        int initializations = options.Initialization == KMeansInitialization.Explicit ? 1 : options.NumberOfInitializations;
        if (initializations < options.NumberOfInitializations)
            options.Logger?.LogInformation("FlashKMeans: {Requested} initialisations requested, but explicit initial centroids give the same start every time; running one.",
                options.NumberOfInitializations);
        for (int init = 0; init < initializations; init++)
        {
            ulong seed = CounterRandom.Derive((ulong)options.Seed, (ulong)init);
            var initial = CentroidInitializer.Run(binding, options, seed, cancellationToken);
            var run = LloydDriver.Run(binding, initial, options, init, clock, progress, cancellationToken);
            options.Logger?.LogInformation("FlashKMeans: initialisation {Init}: inertia {Inertia:G9} after {Iterations} iterations ({State}).",
                init, run.FinalInertia, run.Iterations, run.Converged ? "converged" : "iteration limit");
            if (best is null || run.FinalInertia < best.FinalInertia)
                best = run;
        }
        return new KMeansModel(best!.Centroids, source.Dimension, options.Distance, best.FinalInertia, best.Iterations,
            best.Converged, best.EmptyClustersReseeded, best.InertiaHistory, best.Statistics, backend.Name);
    }

    /// <summary>
    /// The ascending rows of the <see cref="KMeansOptions.MaximumPointsPerCentroid"/> sample, or <c>null</c> to train on
    /// every row. Weighted data is sampled among its rows of positive weight: zero-weight rows add nothing to the
    /// objective, and a sample of mostly such rows wastes the budget or, made of them only, leaves nothing to fit.
    /// </summary>
    private static long[]? SampleRows(IBatchSource source, DataSummary summary, int k, int count, ulong seed, CancellationToken cancellationToken)
    {
        if (!source.HasWeights)
            return RandomRowSeeding.SampleDistinctRows(summary.RowCount, count, seed);
        long positive = 0;
        using (var reader = source.OpenReader())
        {
            while (reader.TryRead(out var batch))
            {
                cancellationToken.ThrowIfCancellationRequested();
                foreach (float w in batch.Weights.Span)
                    positive += w > 0 ? 1 : 0;
            }
        }
        if (positive < k)
            return null; // fewer weighted rows than clusters: the full data keeps K ≤ rows
        // Ordinals among the positive rows (all of them when they fit the budget), mapped to rows in one pass.
        var ordinals = positive <= count ? null : RandomRowSeeding.SampleDistinctRows(positive, count, seed);
        var rows = new long[ordinals?.Length ?? positive];
        long ordinal = 0;
        int next = 0;
        using (var reader = source.OpenReader())
        {
            while (next < rows.Length && reader.TryRead(out var batch))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var weights = batch.Weights.Span;
                for (int i = 0; i < weights.Length && next < rows.Length; i++)
                {
                    if (!(weights[i] > 0))
                        continue;
                    if (ordinals is null || ordinals[next] == ordinal)
                        rows[next++] = batch.FirstRow + i;
                    ordinal++;
                }
            }
        }
        return rows;
    }
}
