using System.Diagnostics;
using FlashKMeans.Backends;
using FlashKMeans.Cpu;
using FlashKMeans.Data;
using FlashKMeans.Engine;

namespace FlashKMeans.Tests;

/// <summary>
/// When the Lloyd loop asks a binding to enqueue the next step ahead (<see cref="IStepAheadBinding"/>, which the CUDA
/// binding does): for every step that another will follow, not for the last one the iteration cap allows, not while every
/// running problem is about to converge, never with <see cref="KMeansOptions.StepAhead"/> off; and the sequential batch
/// passes the request to each binding it steps.
/// </summary>
[TestClass]
public sealed class StepAheadRequestTests
{
    [TestMethod]
    public void Every_step_but_the_last_allowed_asks_to_step_ahead()
    {
        var (runs, requests) = Run(problems: 1, maxIterations: 6, tolerance: 0);
        Assert.AreEqual(6, runs[0].Iterations);
        CollectionAssert.AreEqual(new[] { true, true, true, true, true, false }, requests[0]);
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(3)]
    public void No_step_ahead_while_every_running_problem_is_about_to_converge(int problems)
    {
        const double tolerance = 1e-4;
        var (runs, requests) = Run(problems, maxIterations: 300, tolerance);
        int longest = runs.Max(r => r.Iterations);
        Assert.IsTrue(runs.All(r => r.Converged), "every problem converges");
        for (int p = 0; p < problems; p++)
            Assert.AreEqual(runs[p].Iterations, requests[p].Count, $"problem {p} is stepped until it converges, then no more");
        int declined = 0;
        for (int iteration = 1; iteration <= longest; iteration++)
        {
            // The change that each running problem's last step made, as the loop computes it from the inertias.
            bool allClose = Enumerable.Range(0, problems).Where(p => runs[p].Iterations >= iteration)
                .All(p => Change(runs[p].InertiaHistory, iteration - 1) <= LloydDriver.StepAheadMargin * tolerance);
            bool expected = !allClose;
            for (int p = 0; p < problems; p++)
            {
                if (runs[p].Iterations >= iteration)
                    Assert.AreEqual(expected, requests[p][iteration - 1], $"problem {p}, iteration {iteration}");
            }
            declined += expected ? 0 : 1;
        }
        Assert.IsTrue(declined > 0 && declined < longest, $"some steps ask and some do not ({declined} of {longest} decline)");
    }

    [TestMethod]
    public void The_option_turns_stepping_ahead_off()
    {
        var (_, requests) = Run(problems: 2, maxIterations: 8, tolerance: 0, stepAhead: false);
        Assert.IsTrue(requests.All(r => r.Count == 8 && r.All(asked => !asked)));
    }

    // The relative change of inertia after the given (1-based) iteration, or NaN before the second.
    private static double Change(IReadOnlyList<double> history, int iteration)
    {
        if (iteration < 2)
            return double.NaN;
        double previous = history[iteration - 2], inertia = history[iteration - 1];
        return previous > 0 ? Math.Abs(previous - inertia) / previous : previous == 0 ? 0 : double.NaN;
    }

    private static (LloydRun[] Runs, List<bool>[] Requests) Run(int problems, int maxIterations, double tolerance, bool stepAhead = true)
    {
        int n = 3000, d = 4, k = 12;
        var options = new KMeansOptions
        {
            NumberOfClusters = k, Device = ComputeDevice.Cpu, MaximumNumberOfIterations = maxIterations,
            OptimizationTolerance = tolerance, StepAhead = stepAhead,
        };
        // Noise, not blobs: the inertia settles slowly, so the last changes pass through the margin before the tolerance.
        var bindings = Enumerable.Range(0, problems).Select(p =>
        {
            var source = new InMemoryBatchSource(TestData.Gaussian(n, d, seed: 500 + p), d);
            return new RecordingBinding(new CpuDataBinding(source, DataValidator.Scan(source), k, threads: 2, usePruning: false));
        }).ToArray();
        using var batch = new SequentialBatchStepper(bindings);
        var initial = bindings.Select((b, p) => CentroidInitializer.Run(b, options, (ulong)(3 + p), default)).ToArray();
        var runs = LloydDriver.Run(batch, initial, options, 0, Stopwatch.StartNew(), null, default);
        return (runs, bindings.Select(b => b.Requests).ToArray());
    }

    /// <summary>A CPU binding that records each step's request to step ahead.</summary>
    private sealed class RecordingBinding(IKMeansDataBinding inner) : IKMeansDataBinding, IStepAheadBinding
    {
        public List<bool> Requests { get; } = [];

        public LloydStepResult Step(bool normalizeCentroids, bool stepAhead, CancellationToken cancellationToken)
        {
            Requests.Add(stepAhead);
            return inner.Step(normalizeCentroids, cancellationToken);
        }

        public LloydStepResult Step(bool normalizeCentroids, CancellationToken cancellationToken) =>
            throw new AssertFailedException("the sequential batch steps a binding with a queue through IStepAheadBinding");

        public long RowCount => inner.RowCount;
        public int Dimension => inner.Dimension;
        public int NumberOfClusters => inner.NumberOfClusters;
        public void SetCentroids(ReadOnlySpan<float> centroids) => inner.SetCentroids(centroids);
        public void GetCentroids(Span<float> destination) => inner.GetCentroids(destination);
        public void GetClusterWeights(Span<double> destination) => inner.GetClusterWeights(destination);
        public IReadOnlyList<FarRow> FindFarthestRows(int count, CancellationToken cancellationToken) => inner.FindFarthestRows(count, cancellationToken);
        public double Evaluate(ReadOnlySpan<float> centroids, Span<double> clusterWeights, CancellationToken cancellationToken) =>
            inner.Evaluate(centroids, clusterWeights, cancellationToken);
        public void GatherRows(ReadOnlySpan<long> rows, Span<float> vectors, Span<float> weights, CancellationToken cancellationToken) =>
            inner.GatherRows(rows, vectors, weights, cancellationToken);
        public double UpdateSeedDistances(ReadOnlySpan<float> newSeeds, bool reset, CancellationToken cancellationToken) =>
            inner.UpdateSeedDistances(newSeeds, reset, cancellationToken);
        public void GetSeedWeights(Span<double> weights) => inner.GetSeedWeights(weights);
        public void EvaluateSeedCandidates(ReadOnlySpan<float> candidates, Span<double> potentials, CancellationToken cancellationToken) =>
            inner.EvaluateSeedCandidates(candidates, potentials, cancellationToken);
        public void FindRowsAtCumulativePotential(ReadOnlySpan<double> sortedTargets, Span<long> rows, CancellationToken cancellationToken) =>
            inner.FindRowsAtCumulativePotential(sortedTargets, rows, cancellationToken);
        public IReadOnlyList<long> SampleRowsByPotential(double scale, ulong seed, CancellationToken cancellationToken) =>
            inner.SampleRowsByPotential(scale, seed, cancellationToken);
        public void Dispose() => inner.Dispose();
    }
}
