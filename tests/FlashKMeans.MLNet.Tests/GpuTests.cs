using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet.Tests;

/// <summary>The same ML.NET surface on a CUDA GPU; Inconclusive where none is usable (as on CI).</summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class GpuTests
{
    private const int D = 24;
    private const int K = 9;

    private static void RequireGpu()
    {
        if (!FlashKMeans.Engine.BackendSelector.TryCreateCuda(new KMeansOptions(), out var gpu, out string reason))
            Assert.Inconclusive($"No CUDA GPU is usable here: {reason}");
        gpu!.Dispose();
    }

    [TestMethod]
    public void TrainsAndScoresOnTheGpuLikeTheCpu()
    {
        RequireGpu();
        var (rows, truth) = Blobs.Make(20_000, D, K, 8, seed: 77);
        var initial = Blobs.PickRows(rows, D, K, seed: 78);
        var ml = new MLContext();
        GpuKMeansTrainer.Options Options(ComputeDevice device) => new()
        {
            NumberOfClusters = K,
            Device = device,
            InitializationAlgorithm = KMeansInitialization.Explicit,
            InitialCentroids = initial,
            MaximumNumberOfIterations = 20,
            BatchSize = 3000,
        };
        using var gpu = ml.Clustering.Trainers.FlashKMeans(Options(ComputeDevice.Cuda)).Fit(new TestDataView(rows, D));
        using var cpu = ml.Clustering.Trainers.FlashKMeans(Options(ComputeDevice.Cpu)).Fit(new TestDataView(rows, D));
        StringAssert.StartsWith(gpu.TrainingSummary!.Backend, "cuda");

        // Same data, same start: the same clustering up to float32 rounding.
        var a = gpu.EngineModel.Centroids.Span;
        var b = cpu.EngineModel.Centroids.Span;
        for (int i = 0; i < a.Length; i++)
            Assert.AreEqual(b[i], a[i], 1e-3, $"centroid value {i}");

        var view = new TestDataView(rows, D);
        var keys = Read.Keys(gpu.Transform(view));
        StringAssert.StartsWith(gpu.ScoringBackend, "cuda");
        for (int blob = 0; blob < K; blob++)
            Assert.AreEqual(1, keys.Where((_, i) => truth[i] == blob).Distinct().Count(), $"blob {blob}");

        // Blocks and single rows share the GPU scorer: identical values.
        var bulk = Read.Scores(gpu.Transform(view));
        var (single, singleKeys) = Read.ThroughRowMapper(gpu, new TestDataView(rows.AsSpan(0, 300 * D).ToArray(), D));
        for (int i = 0; i < 300; i++)
        {
            CollectionAssert.AreEqual(bulk[i], single[i], $"row {i}");
            Assert.AreEqual(keys[i], singleKeys[i]);
        }
    }

    [TestMethod]
    public void Trains_a_stream_on_the_GPU_like_the_CPU_and_continues_from_it()
    {
        RequireGpu();
        var (rows, _) = Blobs.Make(30_000, D, K, 8, seed: 79);
        var ml = new MLContext();
        GpuKMeansTrainer.Options Options(ComputeDevice device) => new()
        {
            NumberOfClusters = K, Device = device, Algorithm = KMeansAlgorithm.MiniBatch, MiniBatchSize = 2048,
            MaximumNumberOfEpochs = 2, InitializationAlgorithm = KMeansInitialization.RandomRows, Seed = 3,
        };
        var view = new TestDataView(rows, D);
        using var gpu = ml.Clustering.Trainers.FlashKMeans(Options(ComputeDevice.Cuda)).Fit(view);
        using var cpu = ml.Clustering.Trainers.FlashKMeans(Options(ComputeDevice.Cpu)).Fit(view);
        var a = gpu.EngineModel.Centroids.Span;
        var b = cpu.EngineModel.Centroids.Span;
        for (int i = 0; i < a.Length; i++)
            Assert.AreEqual(b[i], a[i], 1e-3 * (1 + Math.Abs(b[i])), $"centroid value {i}");
        // Continued training from the GPU model (its stream was freed from the GPU after the fit) equals the CPU's continuation.
        var trainer = ml.Clustering.Trainers.FlashKMeans(Options(ComputeDevice.Cuda));
        using var more = trainer.Fit(view, gpu);
        using var moreCpu = ml.Clustering.Trainers.FlashKMeans(Options(ComputeDevice.Cpu)).Fit(view, cpu);
        a = more.EngineModel.Centroids.Span;
        b = moreCpu.EngineModel.Centroids.Span;
        for (int i = 0; i < a.Length; i++)
            Assert.AreEqual(b[i], a[i], 1e-3 * (1 + Math.Abs(b[i])), $"continued centroid value {i}");
    }
}
