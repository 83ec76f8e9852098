using FlashKMeans.Clustering;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Backend;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Prototypes;

namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// The fused top-k kernels (flash_topk.cu, and flash_topk_ws.cu on Hopper) against a float64 brute force on fresh random data, outputs poisoned first;
/// the model path that measures the k found again in float32; and the prototype models predicting on the GPU as on the CPU.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class TopKGpuTests : GpuTestClass
{
    [TestMethod]
    [DataRow(1000, 16, 7, 5, ComputePrecision.Float16)]
    [DataRow(999, 33, 300, 8, ComputePrecision.BFloat16)]
    [DataRow(513, 64, 1000, 32, ComputePrecision.TensorFloat32)]
    [DataRow(300, 128, 129, 1, ComputePrecision.Float16)]
    [DataRow(700, 40, 260, 3, ComputePrecision.Float16)]
    [DataRow(260, 200, 4100, 17, ComputePrecision.BFloat16)]
    public void The_kernel_finds_the_nearest_as_a_float64_brute_force_does(int n, int d, int k, int top, ComputePrecision precision)
    {
        var rows = TestData.Gaussian(n, d, seed: n + d);
        var centroids = TestData.Gaussian(k, d, seed: k + top);
        using var backend = CudaBackend.Create(new KMeansOptions { Device = ComputeDevice.Cuda, Precision = precision });
        using var scorer = (CudaScorer)backend.CreateScorer(centroids, d);
        Assert.IsTrue(scorer.FindsNearest(top));
        var indices = Enumerable.Repeat(-7, n * top).ToArray();
        var distances = Enumerable.Repeat(float.NaN, n * top).ToArray();
        scorer.Nearest(rows, top, indices, distances);
        // Rounding to the precision moves a squared distance by about its relative step times the terms' size.
        double step = precision == ComputePrecision.BFloat16 ? 1.0 / 128 : 1.0 / 1024;
        for (int r = 0; r < n; r++)
        {
            var exact = Enumerable.Range(0, k).Select(c => Enumerable.Range(0, d).Sum(j =>
                Math.Pow((double)rows[r * d + j] - centroids[c * d + j], 2))).ToArray();
            var sorted = exact.OrderBy(v => v).ToArray();
            double rowNorm = Enumerable.Range(0, d).Sum(j => (double)rows[r * d + j] * rows[r * d + j]);
            double tolerance = 4 * step * (rowNorm + 2.0 * d) + 1e-4;
            var found = indices.AsSpan(r * top, top).ToArray();
            Assert.AreEqual(top, found.Distinct().Count(), $"row {r}: the {top} found are distinct");
            for (int i = 0; i < top; i++)
            {
                Assert.IsTrue(found[i] >= 0 && found[i] < k, $"row {r}: index {found[i]}");
                // The i-th found is as near as the i-th nearest, up to the precision's rounding.
                Assert.IsTrue(exact[found[i]] <= sorted[i] + tolerance, $"row {r}, rank {i}: {exact[found[i]]} against {sorted[i]}");
                Assert.AreEqual(exact[found[i]], distances[r * top + i], tolerance, $"row {r}, rank {i}: distance");
                if (i > 0)
                    Assert.IsTrue(distances[r * top + i] >= distances[r * top + i - 1], $"row {r}: nearest first");
            }
        }
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float16)]
    [DataRow(ComputePrecision.BFloat16)]
    [DataRow(ComputePrecision.TensorFloat32)]
    public void Every_top_k_kernel_of_this_GPU_finds_what_a_float64_brute_force_finds(ComputePrecision precision)
    {
        // Each list length and row width a session can launch (on Hopper the warp-specialised kernels for lists of up to
        // 16 and rows of up to 256 bytes, or 8 and 512 bytes, and the mma.sync kernel with wgmma turned off), outputs
        // poisoned, on shapes whose rows and centroids end inside a tile.
        int[] widths = precision == ComputePrecision.TensorFloat32 ? [20, 60, 100] : [24, 100, 250];
        var references = new Dictionary<int, (double[][] Exact, double[][] Sorted, double[] Tolerances)>();
        foreach (bool wgmma in new[] { true, false })
        {
            using var s = new CudaSession(CudaContext.Open(0), new CudaPrecision(precision), ownsContext: true, allowWgmma: wgmma);
            foreach (int d in widths)
            {
                const int n = 457, k = 4200;  // past 1024 and 4096, where Hopper takes its top-k kernels, ending inside a tile
                var rows = TestData.Gaussian(n, d, seed: d);
                var centroids = TestData.Gaussian(k, d, seed: d + 1);
                int ld = s.Precision.Pitch(d);
                using var raw = new DeviceBuffer<float>(s.Context, (long)Math.Max(n, k) * d);
                using var x = new DeviceBuffer<byte>(s.Context, (long)n * ld * s.Precision.ElementBytes);
                using var xNorms = new DeviceBuffer<float>(s.Context, n);
                using var c = new DeviceBuffer<byte>(s.Context, (long)k * ld * s.Precision.ElementBytes);
                using var cNorms = new DeviceBuffer<float>(s.Context, k);
                using var found = new DeviceBuffer<int>(s.Context, (long)n * 16);
                using var foundDistances = new DeviceBuffer<float>(s.Context, (long)n * 16);
                raw.CopyFrom(rows, 0, s.Stream);
                s.PackRows(raw.Pointer, n, d, d, x.Pointer, ld, xNorms.Pointer);
                s.Stream.Synchronize();
                raw.CopyFrom(centroids, 0, s.Stream);
                s.PackRows(raw.Pointer, k, d, d, c.Pointer, ld, cNorms.Pointer);
                // The values the kernels multiply: the rows and centroids rounded to the precision.
                var storedRows = Gpu.Stored(s, x, n, ld, d);
                var storedCentroids = Gpu.Stored(s, c, k, ld, d);
                if (!references.TryGetValue(d, out var reference))
                    references[d] = reference = BruteForce(storedRows, storedCentroids, n, k, d);
                var (exact, sorted, tolerances) = reference;
                foreach (int top in new[] { 1, 2, 4, 5, 8, 9, 16 })
                {
                    string kernel = s.TopKKernelName(d, ld, k, top);
                    var indices = Enumerable.Repeat(-7, n * top).ToArray();
                    var distances = Enumerable.Repeat(float.NaN, n * top).ToArray();
                    found.CopyFrom(indices, 0, s.Stream);
                    foundDistances.CopyFrom(distances, 0, s.Stream);
                    s.TopK(x.Pointer, xNorms.Pointer, n, d, ld, c.Pointer, cNorms.Pointer, k, top, found.Pointer, foundDistances.Pointer);
                    found.CopyTo(indices, 0, s.Stream);
                    foundDistances.CopyTo(distances, 0, s.Stream);
                    s.Stream.Synchronize();
                    for (int r = 0; r < n; r++)
                    {
                        double tolerance = tolerances[r];
                        string at = $"{kernel}, d = {d}, top {top}, row {r}";
                        Assert.AreEqual(top, indices.AsSpan(r * top, top).ToArray().Distinct().Count(), $"{at}: distinct");
                        for (int i = 0; i < top; i++)
                        {
                            int index = indices[r * top + i];
                            Assert.IsTrue(index >= 0 && index < k, $"{at}: index {index}");
                            Assert.IsTrue(exact[r][index] <= sorted[r][i] + tolerance, $"{at}, rank {i}: {exact[r][index]} against {sorted[r][i]}");
                            Assert.AreEqual(exact[r][index], distances[r * top + i], tolerance, $"{at}, rank {i}: distance");
                            if (i > 0)
                                Assert.IsTrue(distances[r * top + i] >= distances[r * top + i - 1], $"{at}: nearest first");
                        }
                    }
                    int rowBytes = ld * s.Precision.ElementBytes;
                    if (s.UsesWarpSpecialised && top > 1 && top <= (rowBytes <= 256 ? 16 : rowBytes <= 512 ? 8 : 0))
                        StringAssert.StartsWith(kernel, "flash_topk_ws", "Hopper takes the warp-specialised top-k");
                }
            }
        }
    }

    // Squared distances in float64 between the stored (rounded) rows and centroids, each row's sorted, and its tolerance.
    private static (double[][] Exact, double[][] Sorted, double[] Tolerances) BruteForce(float[] rows, float[] centroids, int n, int k, int d)
    {
        var exact = new double[n][];
        var sorted = new double[n][];
        var tolerances = new double[n];
        Parallel.For(0, n, r =>
        {
            exact[r] = new double[k];
            double rowNorm = 0;
            for (int j = 0; j < d; j++)
                rowNorm += (double)rows[r * d + j] * rows[r * d + j];
            for (int c = 0; c < k; c++)
                for (int j = 0; j < d; j++)
                {
                    double diff = (double)rows[r * d + j] - centroids[c * d + j];
                    exact[r][c] += diff * diff;
                }
            sorted[r] = exact[r].OrderBy(v => v).ToArray();
            // fp32 products of exactly rounded values: the error is the accumulation's, relative to the terms.
            tolerances[r] = 1e-5 * (rowNorm + 2.0 * d) * Math.Sqrt(d) + 1e-4;
        });
        return (exact, sorted, tolerances);
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float16)]
    [DataRow(ComputePrecision.TensorFloat32)]
    public void Centroids_nearer_tile_after_tile_and_repeated_ones_give_the_brute_force_order(ComputePrecision precision)
    {
        // The first 300 centroids lie on a ray, each nearer the rows than the one before: the second tile brings every
        // row more candidates than the kernel has slots (its full path), the third fewer (its filtered path). The last
        // 300 repeat the first: equal scores, which must go to the lower index on both paths.
        const int n = 333, d = 32, half = 300, top = 8;
        var rows = TestData.Gaussian(n, d, seed: 77);
        var centroids = new float[2 * half * d];
        for (int j = 0; j < half; j++)
            centroids[j * d] = centroids[(j + half) * d] = 40f - 0.1f * j;  // steps above fp16's and tf32's spacing here
        using var backend = CudaBackend.Create(new KMeansOptions { Device = ComputeDevice.Cuda, Precision = precision });
        using var scorer = (CudaScorer)backend.CreateScorer(centroids, d);
        var indices = Enumerable.Repeat(-7, n * top).ToArray();
        var distances = Enumerable.Repeat(float.NaN, n * top).ToArray();
        scorer.Nearest(rows, top, indices, distances);
        for (int r = 0; r < n; r++)
        {
            // Nearest first by (distance, index) in float64: neighbours on the ray differ by far more than rounding.
            var expected = Enumerable.Range(0, 2 * half)
                .Select(c => (Distance: Enumerable.Range(0, d).Sum(j => Math.Pow((double)rows[r * d + j] - centroids[c * d + j], 2)), Index: c))
                .OrderBy(p => p.Distance).ThenBy(p => p.Index).Take(top).Select(p => p.Index).ToArray();
            CollectionAssert.AreEqual(expected, indices.AsSpan(r * top, top).ToArray(), $"row {r}");
        }
    }

    [TestMethod]
    public void A_model_finds_on_the_GPU_the_nearest_the_CPU_finds_far_from_the_origin()
    {
        const int n = 4000, d = 24, k = 60, top = 6;
        var rows = TestData.Blobs(n, d, k, 3.0, seed: 9).Select(v => v + 1000f).ToArray();
        var model = new KMeans(new KMeansOptions { NumberOfClusters = k, Device = ComputeDevice.Cpu, Seed = 2 }).Fit(rows, d);
        var cpuIndices = new int[n * top];
        var cpuDistances = new float[n * top];
        model.Nearest(rows, top, cpuIndices, cpuDistances, ComputeDevice.Cpu);
        var gpuIndices = Enumerable.Repeat(-1, n * top).ToArray();
        var gpuDistances = Enumerable.Repeat(float.NaN, n * top).ToArray();
        model.Nearest(rows, top, gpuIndices, gpuDistances, ComputeDevice.Cuda, ComputePrecision.Float16);
        var c = model.Centroids.ToArray();
        int same = 0;
        for (int r = 0; r < n; r++)
        {
            for (int i = 0; i < top; i++)
            {
                // Measured again in float32 from the differences: the distance to the index found, to float32 rounding.
                int index = gpuIndices[r * top + i];
                double exact = Enumerable.Range(0, d).Sum(j => Math.Pow((double)rows[r * d + j] - c[index * d + j], 2));
                Assert.AreEqual(exact, gpuDistances[r * top + i], 1e-4 * (1 + exact), $"row {r}, rank {i}");
                same += index == cpuIndices[r * top + i] ? 1 : 0;
            }
        }
        // fp16 scores can swap near-ties among the k; far from the origin they must not be lost to cancellation.
        Assert.IsTrue(same >= 0.98 * n * top, $"{same} of {n * top} ranks agree with the CPU");
    }

    [TestMethod]
    [DataRow(5, PrototypeRouting.Scaled)]
    [DataRow(1, PrototypeRouting.Hard)]
    [DataRow(-1, PrototypeRouting.Mean)] // every prototype: more than the kernel's 32, so every distance is taken on the GPU
    public void A_prototype_classifier_predicts_on_the_GPU_as_on_the_CPU(int topK, PrototypeRouting routing)
    {
        const int n = 6000, d = 32, classes = 8;
        var rows = TestData.Blobs(n, d, 24, 4.0, seed: 31);
        var labels = Enumerable.Range(0, n).Select(r => (int)(Math.Abs(rows[r * d] * 7 + rows[r * d + 1] * 3) % classes)).ToArray();
        PrototypeClassifierOptions Options(ComputeDevice device) => new()
        {
            PrototypesPerClass = 6, TopK = topK, Routing = routing, Seed = 4, Device = device,
        };
        var cpu = new PrototypeClassifier(Options(ComputeDevice.Cpu)).Fit(rows, d, labels, classes);
        // The same prototypes predicting on the GPU.
        var gpu = new PrototypeClassifierModel(cpu.Prototypes.ToArray(), cpu.PrototypeClasses.ToArray(), d, classes, Options(ComputeDevice.Cuda));
        // A grid whose k-means ran on the GPU classifies its training rows as well as the CPU's (their seedings' draws
        // may differ, so the prototypes need not be the same).
        var trainedOnGpu = new PrototypeClassifier(Options(ComputeDevice.Cuda)).Fit(rows, d, labels, classes);
        double Accuracy(PrototypeClassifierModel model) => model.Predict(rows).Zip(labels).Count(p => p.First == p.Second) / (double)n;
        Assert.AreEqual(Accuracy(cpu), Accuracy(trainedOnGpu), 0.02);
        var cpuScores = new float[n * classes];
        var gpuScores = new float[n * classes];
        cpu.PredictScores(rows, cpuScores);
        gpu.PredictScores(rows, gpuScores);
        int agree = 0;
        for (int r = 0; r < n; r++)
        {
            Assert.AreEqual(1.0, gpuScores.AsSpan(r * classes, classes).ToArray().Sum(v => (double)v), 1e-4, $"row {r}: scores sum to 1");
            agree += System.Numerics.Tensors.TensorPrimitives.IndexOfMax(cpuScores.AsSpan(r * classes, classes))
                  == System.Numerics.Tensors.TensorPrimitives.IndexOfMax(gpuScores.AsSpan(r * classes, classes)) ? 1 : 0;
        }
        Assert.IsTrue(agree >= 0.995 * n, $"{agree} of {n} predictions agree");
    }

    [TestMethod]
    public void A_prototype_regressor_predicts_on_the_GPU_as_on_the_CPU()
    {
        const int n = 5000, d = 20;
        var rows = TestData.Gaussian(n, d, seed: 77);
        var targets = Enumerable.Range(0, n).Select(r => rows[r * d] * 2 - rows[r * d + 3]).ToArray();
        PrototypeRegressorOptions Options(ComputeDevice device) => new() { Seed = 3, Device = device };
        var model = new PrototypeRegressor(Options(ComputeDevice.Cpu)).Fit(rows, d, targets);
        var cpu = model.Predict(rows);
        var gpu = new PrototypeRegressorModel(model.Prototypes.ToArray(), model.PrototypeTargets.ToArray(), d, 1, Options(ComputeDevice.Cuda)).Predict(rows);
        double spread = targets.Max() - targets.Min();
        int close = Enumerable.Range(0, n).Count(r => Math.Abs(cpu[r] - gpu[r]) <= 1e-3 * spread);
        Assert.IsTrue(close >= 0.99 * n, $"{close} of {n} predictions agree to 0.1 % of the targets' range");
    }
}
