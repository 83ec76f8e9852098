using System.Diagnostics;
using FlashKMeans.Backends;
using FlashKMeans.Cpu;
using FlashKMeans.Data;
using FlashKMeans.Engine;
using FlashKMeans.Primitives;
using Microsoft.Extensions.Logging;

namespace FlashKMeans.Clustering;

/// <summary>
/// A <see cref="KMeansAlgorithm.MiniBatch"/> fit of one prepared problem: seeding on a random sample of
/// <see cref="MiniBatchOptions.InitializationSize"/> rows, then steps of <see cref="MiniBatchOptions.BatchSize"/> rows
/// in source order, epoch after epoch, until the smoothed inertia stops improving or the centroids stop moving
/// (scikit-learn's rules), and a last pass for the exact inertia of the result.
/// </summary>
internal static class MiniBatchFit
{
    /// <param name="training">The rows fitted (centred or unit length), validated.</param>
    /// <param name="summary">The training rows' summary.</param>
    /// <param name="shift">What the training rows had subtracted (the model adds it back), or null.</param>
    /// <param name="seed">The problem's seed.</param>
    /// <param name="options">The fit's settings.</param>
    /// <param name="clock">Time since the fit started, for progress.</param>
    /// <param name="progress">Receives the seeding's reports and one per step.</param>
    /// <param name="cancellationToken">Stops the fit between steps.</param>
    public static KMeansModel Run(IBatchSource training, DataSummary summary, float[]? shift, int seed, KMeansOptions options,
        Stopwatch clock, IProgress<KMeansProgress>? progress, CancellationToken cancellationToken)
    {
        int k = options.NumberOfClusters, d = training.Dimension;
        var settings = options.MiniBatch;
        int threads = options.EffectiveThreads;
        float[] centroids;
        using (var backend = new CpuBackend(options.NumberOfThreads) { Distance = options.Distance })
        {
            int size = (int)Math.Min(settings.EffectiveInitializationSize(k), summary.RowCount);
            IBatchSource seedingRows = training;
            if (size < summary.RowCount && KMeans.SampleRows(training, summary, k, size, CounterRandom.Derive((ulong)seed, 0x1A17), cancellationToken) is { } sample)
                seedingRows = new SubsampledBatchSource(training, sample);
            using var binding = backend.Bind(seedingRows, DataValidator.Scan(seedingRows, cancellationToken), k, cancellationToken);
            centroids = CentroidInitializer.Run(binding, options, CounterRandom.Derive((ulong)seed, 0), cancellationToken,
                new SeedingProgress(progress, 0, 0, clock));
        }
        if (options.Initialization == KMeansInitialization.Explicit && shift is not null)
        {
            centroids = centroids.ToArray();
            ShiftedBatchSource.Subtract(centroids, shift);
        }

        var state = new MiniBatchState(centroids, d, options.Distance, MiniBatchKMeans.StateSeed(seed), featureWeights: options.AutomaticFeatureWeights,
            centroidPrecision: options.MiniBatch.CentroidPrecision);
        // On the GPU the steps run there (MiniBatchDevice), whole or as assignments with the update on the host.
        using (MiniBatchDevice.Lease(state, options))
            return Steps(state, training, summary, shift, options, settings, threads, clock, progress, cancellationToken);
    }

    /// <summary>The steps, epoch after epoch, from the seeded <paramref name="state"/>, and the model they end with.</summary>
    private static KMeansModel Steps(MiniBatchState state, IBatchSource training, DataSummary summary, float[]? shift, KMeansOptions options,
        MiniBatchOptions settings, int threads, Stopwatch clock, IProgress<KMeansProgress>? progress, CancellationToken cancellationToken)
    {
        int k = options.NumberOfClusters, d = training.Dimension;
        int batch = settings.BatchSize;
        var labels = new int[batch];
        var distances = new float[batch];
        // scikit-learn's smoothing: a weight of 2·batch / (N + 1) for each new batch's per-row inertia.
        double alpha = Math.Min(1.0, 2.0 * batch / (summary.RowCount + 1));
        double tolerance = settings.CentroidMoveTolerance * summary.MeanSquaredDeviation / d;
        double smoothed = double.NaN, best = double.PositiveInfinity;
        int noImprovement = 0, epochs = 0;
        bool converged = false;
        var history = new List<double>();
        for (int epoch = 0; epoch < settings.MaximumNumberOfEpochs && !converged; epoch++)
        {
            epochs++;
            long firstRow = 0;  // of the batch within the pass, for the message of a row the GPU finds bad
            foreach (var (rows, weights) in BatchRechunker.Read(training, batch, cancellationToken))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var (inertia, moved) = state.Step(rows.Span, weights.Span, settings, threads, labels, distances, firstRow);
                firstRow += rows.Length / d;
                double batchWeight = weights.IsEmpty ? rows.Length / d : SumOf(weights.Span);
                double perRow = batchWeight > 0 ? inertia / batchWeight : 0;
                smoothed = state.Steps == 1 ? perRow : smoothed * (1 - alpha) + perRow * alpha;
                progress?.Report(new KMeansProgress(0, (int)Math.Min(state.Steps, int.MaxValue), smoothed, double.NaN, clock.Elapsed) { Phase = KMeansPhase.MiniBatch });
                if (state.Steps == 1)
                    continue;  // the first step starts from the seeds: nothing to compare yet
                if (tolerance > 0 && moved <= tolerance)
                {
                    converged = true;
                    break;
                }
                if (smoothed < best)
                {
                    best = smoothed;
                    noImprovement = 0;
                }
                else if (settings.MaximumNoImprovement is int patience && ++noImprovement >= patience)
                {
                    converged = true;
                    break;
                }
            }
            history.Add(smoothed);
        }
        state.ReadBack();
        // Cosine fits step on unit rows, where ‖x − c‖² = 2(1 − cos): halved, the inertia is in cosine distance as Lloyd's is.
        var featureWeights = state.Relevance?.Weights.ToArray();
        double finalInertia = Inertia(training, state.Centroids, options.Distance, featureWeights, threads, cancellationToken)
            * (options.Distance == KMeansDistance.Cosine ? 0.5 : 1.0);
        options.Logger?.LogInformation("FlashKMeans: mini-batch k-means: {Steps} steps of {Batch} rows over {Epochs} epochs ({State}), inertia {Inertia:G9}.",
            state.Steps, batch, epochs, converged ? "converged" : "epoch limit", finalInertia);
        var result = state.Centroids.ToArray();
        if (shift is not null)
        {
            for (int c = 0; c < k; c++)
                System.Numerics.Tensors.TensorPrimitives.Add(result.AsSpan(c * d, d), shift, result.AsSpan(c * d, d));
        }
        if (!DataValidator.AllFinite(result))
            throw new InvalidDataException("The mini-batch fit ended with non-finite centroids; no model is returned. The data or its weights overflowed float arithmetic.");
        return new KMeansModel(result, d, options.Distance, finalInertia, (int)Math.Min(state.Steps, int.MaxValue), converged, state.Reassigned,
            history, [], $"cpu mini-batch ({CpuBackend.InstructionSet})", featureWeights);
    }

    private static double SumOf(ReadOnlySpan<float> weights)
    {
        double sum = 0;
        foreach (float w in weights)
            sum += w;
        return sum;
    }

    /// <summary>The weighted sum of exact squared distances of every row to its nearest centroid, in row order.</summary>
    /// <param name="rows">The rows, in the fitted coordinates.</param>
    /// <param name="centroids">K × d centroids in the same coordinates.</param>
    /// <param name="distance">The distance.</param>
    /// <param name="featureWeights">Per-feature weights in the distance, or null.</param>
    /// <param name="threads">Threads.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    internal static double Inertia(IBatchSource rows, float[] centroids, KMeansDistance distance, float[]? featureWeights, int threads,
        CancellationToken cancellationToken)
    {
        int d = rows.Dimension;
        double inertia = 0;
        float[]? scale = featureWeights?.Select(MathF.Sqrt).ToArray();
        if (scale is not null)
        {
            // Σ wⱼ(xⱼ − cⱼ)² is the squared distance of √w-scaled rows and centroids.
            centroids = centroids.ToArray();
            VectorMath.ScaleRows(centroids, scale);
        }
        bool manhattan = distance == KMeansDistance.Manhattan;
        using IKMeansScorer scorer = manhattan ? new ManhattanScorer(centroids, d, threads) : new CpuScorer(centroids, d, threads);
        int[] labels = [];
        float[] distances = [];
        using var reader = rows.OpenReader();
        while (reader.TryRead(out var batch))
        {
            cancellationToken.ThrowIfCancellationRequested();
            int n = batch.RowCount;
            if (labels.Length < n)
            {
                labels = new int[n];
                distances = new float[n];
            }
            ReadOnlySpan<float> values = batch.Rows.Span;
            if (scale is not null)
            {
                var scaled = values.ToArray();
                VectorMath.ScaleRows(scaled, scale);
                values = scaled;
            }
            scorer.Assign(values, labels.AsSpan(0, n), distances.AsSpan(0, n));
            if (!manhattan)  // L1 distances are taken from the differences already
                VectorMath.SquaredDistancesToLabels(values, labels.AsSpan(0, n), centroids, d, distances.AsSpan(0, n));
            var weights = batch.Weights.Span;
            for (int i = 0; i < n; i++)
                inertia += (weights.IsEmpty ? 1 : weights[i]) * distances[i];
        }
        return inertia;
    }
}
