using System.Diagnostics;
using FlashKMeans.Backends;
using FlashKMeans.Data;
using FlashKMeans.Engine;
using Microsoft.Extensions.Logging;

namespace FlashKMeans.Clustering;

// The fits of several K over the same rows, for the choice of K (Selection.ClusterCountSweep).
public sealed partial class KMeans
{
    /// <summary>
    /// One fit of <paramref name="source"/> for each K of <paramref name="clusterCounts"/>, each exactly what a fit with
    /// these options and that K gives, but validated (and centred) once and on one backend: the choice of K's sweep.
    /// Where the backend's binding lends its rows (<see cref="IReusableRowsBinding"/>: resident on the GPU), they are bound
    /// once for every K.
    /// </summary>
    /// <param name="source">The rows.</param>
    /// <param name="clusterCounts">The K to fit, in the order fitted.</param>
    /// <param name="fitted">Told of each model as it is fitted.</param>
    /// <param name="cancellationToken">Stops between and inside fits.</param>
    /// <param name="labels">Where given (one per row), filled with each model's labels before <paramref name="fitted"/> sees it.</param>
    internal KMeansModel[] FitEach(IBatchSource source, IReadOnlyList<int> clusterCounts, Action<KMeansModel>? fitted, CancellationToken cancellationToken,
        int[]? labels = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        var largest = _options.Clone();
        largest.NumberOfClusters = clusterCounts.Max();
        // Sub-sampling depends on K, and the other modes run fits of their own: those validate per K.
        bool shareable = _options.MaximumPointsPerCentroid is null && _options.Algorithm == KMeansAlgorithm.Lloyd
            && !_options.AutomaticFeatureWeights && _options.Hierarchical is null && _options.MissingFeatures != MissingFeatures.Ignore;
        var clock = Stopwatch.StartNew();
        var problem = shareable ? new KMeans(largest).Prepare(source, _options.Seed, cancellationToken) : null;
        using var backend = shareable ? BackendSelector.Create(largest) : null;
        // The first K's binding; where its rows can serve the other K (on the GPU: resident), every fit and labelling reads
        // them there instead of binding the source again.
        IKMeansDataBinding? first = problem is null ? null : backend!.Bind(problem.Training, problem.Summary, clusterCounts[0], cancellationToken);
        try
        {
            var rows = first as IReusableRowsBinding;
            if (rows is not null)
                _options.Logger?.LogInformation("FlashKMeans: one binding of the rows serves all {Count} cluster counts of the sweep.", clusterCounts.Count);
            var models = new KMeansModel[clusterCounts.Count];
            for (int i = 0; i < models.Length; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var options = _options.Clone();
                options.NumberOfClusters = clusterCounts[i];
                var fit = new KMeans(options);
                if (problem is null)
                {
                    models[i] = fit.Fit(source, null, cancellationToken);
                }
                else
                {
                    using var again = i > 0 ? rows?.ForClusterCount(clusterCounts[i]) : null;
                    models[i] = fit.FitProblems([problem], clock, null, cancellationToken, backend, i == 0 ? first : again)[0];
                    if (i == 0 && rows is null)
                    {
                        first!.Dispose();
                        first = null;
                    }
                }
                if (labels is not null)
                {
                    if (rows is not null)
                        rows.Label(Centred(models[i].Centroids.Span, problem!.Shift), labels, cancellationToken);
                    else
                        models[i].Predict(source, labels, _options.Device, cancellationToken);
                }
                fitted?.Invoke(models[i]);
            }
            return models;
        }
        finally
        {
            first?.Dispose();
        }
    }

    /// <summary>Centroids in the data's coordinates moved into a fit's centred ones (a copy; as they are without a shift).</summary>
    private static ReadOnlySpan<float> Centred(ReadOnlySpan<float> centroids, float[]? shift)
    {
        if (shift is null)
            return centroids;
        var centred = centroids.ToArray();
        ShiftedBatchSource.Subtract(centred, shift);
        return centred;
    }
}
