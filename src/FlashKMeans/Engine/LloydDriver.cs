using System.Diagnostics;
using FlashKMeans.Backends;
using Microsoft.Extensions.Logging;

namespace FlashKMeans.Engine;

/// <summary>What one run of Lloyd's algorithm from one set of initial centroids produced.</summary>
internal sealed record LloydRun(
    float[] Centroids, double FinalInertia, int Iterations, bool Converged, long EmptyClustersReseeded,
    IReadOnlyList<double> InertiaHistory, IReadOnlyList<KMeansIterationStatistics> Statistics);

/// <summary>
/// The one Lloyd loop: step (assign + update) on the backend, repair empty clusters, record statistics,
/// test convergence. Backends never run their own loop.
/// </summary>
internal static class LloydDriver
{
    public static LloydRun Run(
        IKMeansDataBinding binding, ReadOnlySpan<float> initialCentroids, KMeansOptions options, int initialization,
        Stopwatch clock, IProgress<KMeansProgress>? progress, CancellationToken cancellationToken)
    {
        bool cosine = options.Distance == KMeansDistance.Cosine;
        // On unit vectors ‖x − c‖² = 2(1 − cos): halve to report cosine distance.
        double scale = cosine ? 0.5 : 1.0;
        int k = binding.NumberOfClusters;
        binding.SetCentroids(initialCentroids);
        var history = new List<double>();
        var statistics = new List<KMeansIterationStatistics>();
        var clusterWeights = new double[k];
        double previous = double.NaN;
        bool converged = false;
        long reseededTotal = 0;
        int iteration = 0;
        while (iteration < options.MaximumNumberOfIterations)
        {
            cancellationToken.ThrowIfCancellationRequested();
            iteration++;
            var started = clock.Elapsed;
            var step = binding.Step(cosine, cancellationToken);
            // Read once: the imbalance of this assignment, then the re-seeding policy (which edits its copy).
            binding.GetClusterWeights(clusterWeights);
            double imbalance = Imbalance(clusterWeights);
            int reseeded = step.EmptyClusters > 0 ? EmptyClusterPolicy.Reseed(binding, clusterWeights, cosine, cancellationToken) : 0;
            reseededTotal += reseeded;
            double inertia = step.Inertia * scale;
            var now = clock.Elapsed;
            statistics.Add(new KMeansIterationStatistics(
                iteration, inertia, step.LabelsChanged, reseeded, imbalance, now - started, now));
            history.Add(inertia);
            double change = previous > 0 ? Math.Abs(previous - inertia) / previous : previous == 0 ? 0 : double.NaN;
            progress?.Report(new KMeansProgress(initialization, iteration, inertia, change, now));
            options.Logger?.LogDebug("FlashKMeans: init {Init} iteration {Iteration}: inertia {Inertia:G9}, change {Change:G3}, moved {Moved}, re-seeded {Reseeded}.",
                initialization, iteration, inertia, change, step.LabelsChanged, reseeded);
            previous = inertia;
            if (options.OptimizationTolerance > 0 && reseeded == 0 && iteration > 1
                && (step.LabelsChanged == 0 || change <= options.OptimizationTolerance))
            {
                converged = true;
                break;
            }
        }

        var centroids = new float[k * binding.Dimension];
        binding.GetCentroids(centroids);
        double final = binding.Evaluate(centroids, default, cancellationToken) * scale;
        return new LloydRun(centroids, final, iteration, converged, reseededTotal, history, statistics);
    }

    private static double Imbalance(ReadOnlySpan<double> weights)
    {
        double sum = 0, squares = 0;
        foreach (double w in weights)
        {
            sum += w;
            squares += w * w;
        }
        return sum > 0 ? weights.Length * squares / (sum * sum) : double.NaN;
    }
}
