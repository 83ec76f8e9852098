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
/// test convergence. Backends never run their own loop. It runs B independent problems in lockstep (B = 1
/// for a plain fit): each iteration is one batched step of every problem still running, then, problem by
/// problem, its cluster weights, empty-cluster repair, statistics and convergence test. A problem that
/// converges is frozen there (its centroids are kept as they were) while the others go on.
/// </summary>
internal static class LloydDriver
{
    /// <summary>
    /// A problem whose last relative change of inertia is within this many tolerances is taken to be about to converge:
    /// the loop then does not ask for the next step to be enqueued ahead, which would likely be wasted (one step's work).
    /// </summary>
    internal const double StepAheadMargin = 4;

    /// <summary>Runs every problem of <paramref name="batch"/> from its initial centroids.</summary>
    /// <param name="batch">The problems and their batched step.</param>
    /// <param name="initialCentroids">K × d initial centroids per problem.</param>
    /// <param name="options">Iteration cap, tolerance, distance, logger.</param>
    /// <param name="initialization">Index of this initialisation, for progress and logs.</param>
    /// <param name="clock">Started with the fit; timestamps the statistics.</param>
    /// <param name="progress">Receives one report per problem after every iteration it runs.</param>
    /// <param name="cancellationToken">Checked between iterations and inside passes.</param>
    /// <returns>One run per problem, in batch order.</returns>
    public static LloydRun[] Run(
        IKMeansBatchStepper batch, IReadOnlyList<float[]> initialCentroids, KMeansOptions options, int initialization,
        Stopwatch clock, IProgress<KMeansProgress>? progress, CancellationToken cancellationToken)
    {
        var problems = batch.Problems;
        int count = problems.Count;
        if (initialCentroids.Count != count)
            throw new ArgumentException($"{initialCentroids.Count} sets of initial centroids for {count} problems.", nameof(initialCentroids));
        bool cosine = options.Distance == KMeansDistance.Cosine;
        // On unit vectors ‖x − c‖² = 2(1 − cos): halve to report cosine distance.
        double scale = cosine ? 0.5 : 1.0;
        var states = new ProblemState[count];
        var active = new bool[count];
        for (int p = 0; p < count; p++)
        {
            problems[p].SetCentroids(initialCentroids[p]);
            states[p] = new ProblemState(problems[p].NumberOfClusters);
            active[p] = true;
        }
        var steps = new LloydStepResult[count];
        int running = count;
        int iteration = 0;
        while (running > 0 && iteration < options.MaximumNumberOfIterations)
        {
            cancellationToken.ThrowIfCancellationRequested();
            iteration++;
            var started = clock.Elapsed;
            bool stepAhead = options.StepAhead && iteration < options.MaximumNumberOfIterations
                && !AllLikelyToConverge(states, active, options.OptimizationTolerance);
            batch.Step(cosine, active, steps, stepAhead, cancellationToken);
            for (int p = 0; p < count; p++)
            {
                if (!active[p])
                    continue;
                var binding = problems[p];
                var state = states[p];
                var step = steps[p];
                state.Iterations = iteration;
                // Read once: the imbalance of this assignment, then the re-seeding policy (which edits its copy).
                binding.GetClusterWeights(state.ClusterWeights);
                double imbalance = Imbalance(state.ClusterWeights);
                int reseeded = step.EmptyClusters > 0
                    ? EmptyClusterPolicy.Reseed(binding, state.ClusterWeights, cosine, options.Distance != KMeansDistance.Manhattan, cancellationToken) : 0;
                state.Reseeded += reseeded;
                double inertia = step.Inertia * scale;
                var now = clock.Elapsed;
                state.Statistics.Add(new KMeansIterationStatistics(
                    iteration, inertia, step.LabelsChanged, reseeded, imbalance, now - started, now));
                state.History.Add(inertia);
                double previous = state.Previous;
                double change = previous > 0 ? Math.Abs(previous - inertia) / previous : previous == 0 ? 0 : double.NaN;
                progress?.Report(new KMeansProgress(initialization, iteration, inertia, change, now) { Problem = p });
                if (count == 1)
                    options.Logger?.LogDebug("FlashKMeans: init {Init} iteration {Iteration}: inertia {Inertia:G9}, change {Change:G3}, moved {Moved}, re-seeded {Reseeded}.",
                        initialization, iteration, inertia, change, step.LabelsChanged, reseeded);
                else
                    options.Logger?.LogDebug("FlashKMeans: problem {Problem} init {Init} iteration {Iteration}: inertia {Inertia:G9}, change {Change:G3}, moved {Moved}, re-seeded {Reseeded}.",
                        p, initialization, iteration, inertia, change, step.LabelsChanged, reseeded);
                state.Previous = inertia;
                state.Change = change;
                if (options.OptimizationTolerance > 0 && reseeded == 0 && iteration > 1
                    && (step.LabelsChanged == 0 || change <= options.OptimizationTolerance))
                {
                    // Frozen here: the batch may keep stepping this problem, so keep its centroids now.
                    state.Converged = true;
                    state.Centroids = new float[problems[p].NumberOfClusters * binding.Dimension];
                    binding.GetCentroids(state.Centroids);
                    active[p] = false;
                    running--;
                }
            }
        }

        var runs = new LloydRun[count];
        for (int p = 0; p < count; p++)
        {
            var binding = problems[p];
            var state = states[p];
            var centroids = state.Centroids;
            if (centroids is null)
            {
                centroids = new float[binding.NumberOfClusters * binding.Dimension];
                binding.GetCentroids(centroids);
            }
            double final = binding.Evaluate(centroids, default, cancellationToken) * scale;
            runs[p] = new LloydRun(centroids, final, state.Iterations, state.Converged, state.Reseeded, state.History, state.Statistics);
        }
        return runs;
    }

    /// <summary>
    /// Whether every running problem's last change of inertia is within <see cref="StepAheadMargin"/> tolerances, so that
    /// the step about to run may well be the last (no step should be enqueued ahead of it). False before any change is known.
    /// </summary>
    private static bool AllLikelyToConverge(ProblemState[] states, ReadOnlySpan<bool> active, double tolerance)
    {
        if (!(tolerance > 0))
            return false;
        for (int p = 0; p < states.Length; p++)
        {
            if (active[p] && !(states[p].Change <= StepAheadMargin * tolerance))
                return false;
        }
        return true;
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

    /// <summary>One problem's progress through the loop.</summary>
    private sealed class ProblemState(int k)
    {
        public readonly double[] ClusterWeights = new double[k];
        public readonly List<double> History = [];
        public readonly List<KMeansIterationStatistics> Statistics = [];
        public double Previous = double.NaN;

        /// <summary>The relative change of inertia of the last step; NaN before the second.</summary>
        public double Change = double.NaN;
        public int Iterations;
        public bool Converged;
        public long Reseeded;

        /// <summary>The centroids at convergence; <c>null</c> while the problem runs.</summary>
        public float[]? Centroids;
    }
}
