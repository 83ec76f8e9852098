using FlashKMeans.Clustering;
using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// <see cref="KMeans.FitBatched"/> on the GPU, where B resident problems are stepped by one launch sequence: with
/// the deterministic update each problem's model equals its own CUDA fit bit for bit, and the batch's labels
/// match the CPU backend's except for ties, over B ∈ {1, 7}, d ∈ {3, 128}, K ∈ {5, 100}.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
[DoNotParallelize]
public sealed class CudaBatchedFitTests : GpuTestClass
{
    /// <summary>
    /// B problems of n × d blobs (fresh random data), every value a multiple of 2^-12. The batch sums centroids in
    /// one fixed-point scale, the finest that suits every problem, where a fit of one problem uses its own; values on
    /// this grid are exact at every scale such fits pick (2^40 and finer here), so the two cannot differ in a bit.
    /// </summary>
    private static float[] Problems(int b, int n, int d, int centers, int seed) =>
        Enumerable.Range(0, b)
            .SelectMany(p => TestData.Blobs(n, d, centers, spread: 2 + p % 3, seed: seed + p))
            .Select(v => MathF.Round(v * 4096) / 4096)
            .ToArray();

    private static KMeansOptions Options(int k, int seed, ComputePrecision precision, ListLogger? logger = null) => new()
    {
        NumberOfClusters = k, Device = ComputeDevice.Cuda, Precision = precision, DeterministicUpdate = true,
        Seed = seed, MaximumNumberOfIterations = 25, Logger = logger,
    };

    [TestMethod]
    [DataRow(ComputePrecision.Float32, 3, 5, 1, false)]
    [DataRow(ComputePrecision.Float32, 3, 5, 7, false)]
    [DataRow(ComputePrecision.Float32, 3, 100, 1, false)]
    [DataRow(ComputePrecision.Float32, 3, 100, 7, false)]
    [DataRow(ComputePrecision.Float32, 128, 5, 1, false)]
    [DataRow(ComputePrecision.Float32, 128, 5, 7, false)]
    [DataRow(ComputePrecision.Float32, 128, 100, 1, false)]
    [DataRow(ComputePrecision.Float32, 128, 100, 7, false)]
    [DataRow(ComputePrecision.Float32, 128, 100, 7, true)]
    [DataRow(ComputePrecision.Float16, 128, 100, 7, false)]
    [DataRow(ComputePrecision.BFloat16, 3, 5, 7, true)]
    public void Batched_fit_equals_per_problem_fits_bit_for_bit(ComputePrecision precision, int d, int k, int b, bool weighted)
    {
        int n = 2500, seed = 17;
        var data = Gpu.Round(Problems(b, n, d, centers: k + 3, seed: 1000 + d + k + b), precision);
        var random = new Random(d + k);
        // Weights on a 2^-4 grid keep w·x on a grid as well (see Problems).
        float[]? weights = weighted ? Enumerable.Range(0, b * n).Select(_ => random.Next(1, 64) / 16f).ToArray() : null;
        var logger = new ListLogger();
        var batched = new KMeans(Options(k, seed, precision, logger)).FitBatched(data, b, d, weights);
        if (b > 1)
            Assert.IsTrue(logger.Messages.Any(m => m.Contains($"{b} problems of {n} rows resident on the GPU as one batch", StringComparison.Ordinal)),
                "the problems were stepped as one batch:\n" + string.Join("\n", logger.Messages));
        for (int p = 0; p < b; p++)
        {
            var alone = new KMeans(Options(k, KMeans.ProblemSeed(seed, p), precision))
                .Fit(data.AsMemory(p * n * d, n * d), d, weights is null ? default : weights.AsMemory(p * n, n));
            BatchedFitTests.AssertSameModel(alone, batched[p], $"{precision} d={d} K={k} B={b} weighted={weighted}, problem {p}");
        }
    }

    [TestMethod]
    public void A_problem_that_converges_early_keeps_its_result_while_the_batch_steps_on()
    {
        int n = 3000, d = 16, k = 8;
        // Problem 0: tight, far-apart blobs, converged in a few iterations; problem 1: noise, which moves for many more.
        // The batch steps both every iteration; problem 0's model must be the one from where it converged.
        var easy = TestData.Blobs(n, d, centers: k, spread: 40, seed: 70);
        var hard = TestData.Gaussian(n, d, seed: 71);
        var data = easy.Concat(hard).Select(v => MathF.Round(v * 4096) / 4096).ToArray();
        KMeansOptions Options(int seed) => new()
        {
            NumberOfClusters = k, Device = ComputeDevice.Cuda, Precision = ComputePrecision.Float32, DeterministicUpdate = true,
            Seed = seed, MaximumNumberOfIterations = 200, OptimizationTolerance = 1e-7,
        };
        var batched = new KMeans(Options(5)).FitBatched(data, 2, d);
        Assert.IsTrue(batched[0].Converged && batched[0].Iterations < batched[1].Iterations,
            $"problem 0 converges first ({batched[0].Iterations} vs {batched[1].Iterations} iterations)");
        for (int p = 0; p < 2; p++)
        {
            var alone = new KMeans(Options(KMeans.ProblemSeed(5, p))).Fit(data.AsMemory(p * n * d, n * d), d);
            BatchedFitTests.AssertSameModel(alone, batched[p], $"problem {p}");
        }
    }

    [TestMethod]
    [DataRow(3, 5, 1)]
    [DataRow(3, 5, 7)]
    [DataRow(3, 100, 1)]
    [DataRow(3, 100, 7)]
    [DataRow(128, 5, 1)]
    [DataRow(128, 5, 7)]
    [DataRow(128, 100, 1)]
    [DataRow(128, 100, 7)]
    public void Batched_fit_matches_cpu_labels_except_ties(int d, int k, int b)
    {
        int n = 3000, iterations = 5;
        // Every problem: rows around the same k centres (its own noise), started from those centres, so that CPU and
        // GPU follow the same trajectory unless a row sits on a tie. The fp64-atomic update (the default) runs here.
        float spread = d <= 3 ? 30 : 5;
        var centres = TestData.Gaussian(k, d, seed: 500 + d + k).Select(v => spread * v).ToArray();
        var noise = TestData.Gaussian(b * n, d, seed: 600 + d + k + b);
        var data = new float[b * n * d];
        for (int r = 0; r < b * n; r++)
            for (int f = 0; f < d; f++)
                data[r * d + f] = centres[r % k * d + f] + noise[r * d + f];
        KMeansModel[] Fit(ComputeDevice device) => new KMeans(new KMeansOptions
        {
            NumberOfClusters = k, Device = device, Precision = ComputePrecision.Float32, Initialization = KMeansInitialization.Explicit,
            InitialCentroids = centres, MaximumNumberOfIterations = iterations, OptimizationTolerance = 0,
        }).FitBatched(data, b, d);
        var gpu = Fit(ComputeDevice.Cuda);
        var cpu = Fit(ComputeDevice.Cpu);
        var failures = new List<string>();
        for (int p = 0; p < b; p++)
        {
            string shape = $"d={d} K={k} B={b} problem {p}";
            var rows = data.AsSpan(p * n * d, n * d);
            var gc = gpu[p].Centroids.Span;
            var cc = cpu[p].Centroids.Span;
            double largest = 1;
            foreach (float v in cc)
                largest = Math.Max(largest, Math.Abs(v));
            for (int i = 0; i < cc.Length; i++)
            {
                if (Math.Abs(gc[i] - cc[i]) > 1e-4 * largest)
                {
                    failures.Add($"{shape}: centroid value {i} is {gc[i]} on the GPU, {cc[i]} on the CPU");
                    break;
                }
            }
            Assert.AreEqual(cpu[p].Inertia, gpu[p].Inertia, 1e-4 * cpu[p].Inertia, $"{shape}: inertia");
            Assert.AreEqual(iterations, gpu[p].Iterations, $"{shape}: iterations");
            var gpuLabels = gpu[p].Predict(rows, d);
            var cpuLabels = cpu[p].Predict(rows, d);
            for (int r = 0; r < n; r++)
            {
                if (gpuLabels[r] == cpuLabels[r])
                    continue;
                // Different labels only where the CPU's centroids leave the row (nearly) tied between the two.
                var x = rows.Slice(r * d, d);
                double mine = Reference.Distance(x, cc.Slice(cpuLabels[r] * d, d));
                double other = Reference.Distance(x, cc.Slice(gpuLabels[r] * d, d));
                double scale = Reference.Distance(x, new float[d]) + Reference.Distance(cc.Slice(cpuLabels[r] * d, d), new float[d]) + 1;
                if (other - mine > 2e-5 * scale)
                    failures.Add($"{shape}: row {r} has GPU label {gpuLabels[r]} ({other:G9}) but CPU label {cpuLabels[r]} ({mine:G9})");
            }
            if (failures.Count > 20)
                break;
        }
        Assert.AreEqual(0, failures.Count, string.Join("\n", failures.Take(20)));
    }

    [TestMethod]
    public void A_batch_that_cannot_stay_resident_is_fitted_problem_by_problem()
    {
        int b = 3, n = 2000, d = 16, k = 6;
        var data = Problems(b, n, d, centers: 8, seed: 40);
        var logger = new ListLogger();
        KMeansOptions Options(int seed, ListLogger? log = null) => new()
        {
            NumberOfClusters = k, Device = ComputeDevice.Cuda, DeterministicUpdate = true, Seed = seed, MaximumNumberOfIterations = 10,
            DataMode = GpuDataMode.Cached, StreamingBatchRows = 300, DeviceMemoryBudget = 300L * 16 * 4 * 2, Logger = log,
        };
        var batched = new KMeans(Options(9, logger)).FitBatched(data, b, d);
        Assert.IsTrue(logger.Messages.Any(m => m.Contains("3 problems bound one by one", StringComparison.Ordinal)), string.Join("\n", logger.Messages));
        for (int p = 0; p < b; p++)
        {
            var alone = new KMeans(Options(KMeans.ProblemSeed(9, p))).Fit(data.AsMemory(p * n * d, n * d), d);
            BatchedFitTests.AssertSameModel(alone, batched[p], $"problem {p}");
        }
    }

    [TestMethod]
    public void Repeated_batched_fits_leak_no_gpu_objects()
    {
        int b = 4, n = 1000, d = 8, k = 5;
        var data = Problems(b, n, d, centers: 5, seed: 2);
        KMeansModel[] Fit(int seed) =>
            new KMeans(new KMeansOptions { NumberOfClusters = k, Device = ComputeDevice.Cuda, MaximumNumberOfIterations = 3, Seed = seed }).FitBatched(data, b, d);
        Fit(0);
        long before = CudaResource.LiveCount;
        long bytes = DeviceBuffer<byte>.LiveBytes + DeviceBuffer<float>.LiveBytes + DeviceBuffer<int>.LiveBytes;
        for (int i = 1; i <= 3; i++)
            Fit(i);
        Assert.AreEqual(before, CudaResource.LiveCount, "GPU objects");
        Assert.AreEqual(bytes, DeviceBuffer<byte>.LiveBytes + DeviceBuffer<float>.LiveBytes + DeviceBuffer<int>.LiveBytes, "device bytes");
    }

}
