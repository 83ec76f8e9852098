using FlashKMeans.Clustering;
using FlashKMeans.Cpu;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Backend;
using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// The kernels against the CPU backend and a float64 reference, on fresh random data over the shapes
/// the issue lists, with every output poisoned first.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
[DoNotParallelize]
public sealed class CudaKernelTests : GpuTestClass
{
    private static readonly int[] Dimensions = [1, 3, 64, 96, 128, 200, 512, 1536];
    private static readonly int[] Clusters = [1, 5, 100, 1000, 8192];
    private static readonly int[] Batches = [1, 7];
    private const int PoisonLabel = -7;

    private static CudaSession Open(ComputePrecision precision, bool allowWgmma = true, bool allowWarpSpecialised = true) =>
        new(CudaContext.Open(0), new CudaPrecision(precision), ownsContext: true, allowWgmma, allowWarpSpecialised);

    [TestMethod]
    public void Each_row_length_takes_the_kernel_documented_for_it()
    {
        using var f16 = Open(ComputePrecision.Float16);
        using var tf32 = Open(ComputePrecision.TensorFloat32);
        using var exact = Open(ComputePrecision.Float32);
        string Kernel(CudaSession s, int d) => s.AssignKernelName(d, s.Precision.Pitch(d), s.Precision.Pitch(d));
        Assert.AreEqual("flash_assign_exact_small_f32", Kernel(exact, 5));
        Assert.AreEqual("flash_assign_exact_f32", Kernel(exact, 128));
        Assert.AreEqual("flash_assign_exact_small_f16", Kernel(f16, 8), "below d = 16 the tensor cores would mostly multiply padding");
        if (!f16.UsesWgmma)
        {
            Assert.AreEqual("flash_assign_f16", Kernel(f16, 128));
            return;
        }
        // Hopper: rows of up to 512 bytes in the warp-specialised kernel with rows in registers, up to 1024 bytes with rows
        // in shared memory, longer ones in the shared-A wgmma kernel.
        Assert.IsTrue(f16.UsesWarpSpecialised, "the warp-specialised kernels load on every Hopper GPU");
        Assert.AreEqual("flash_assign_ws1_f16", Kernel(f16, 64));
        Assert.AreEqual("flash_assign_ws2_f16", Kernel(f16, 128));
        Assert.AreEqual("flash_assign_ws4_f16", Kernel(f16, 200));
        Assert.AreEqual("flash_assign_ws8_f16", Kernel(f16, 512));
        Assert.AreEqual("flash_assign_wgmma_f16", Kernel(f16, 520));
        Assert.AreEqual("flash_assign_ws4_tf32", Kernel(tf32, 128));
        Assert.AreEqual("flash_assign_ws8_tf32", Kernel(tf32, 129));
        Assert.AreEqual("flash_assign_wgmma_tf32", Kernel(tf32, 260));
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float32, true, true)]
    [DataRow(ComputePrecision.TensorFloat32, true, true)]
    [DataRow(ComputePrecision.Float16, true, true)]
    [DataRow(ComputePrecision.BFloat16, true, true)]
    [DataRow(ComputePrecision.TensorFloat32, true, false)]  // Hopper without the warp-specialised kernels: register-A and shared-A wgmma
    [DataRow(ComputePrecision.Float16, true, false)]
    [DataRow(ComputePrecision.TensorFloat32, false, false)] // mma.sync
    [DataRow(ComputePrecision.Float16, false, false)]
    [DataRow(ComputePrecision.BFloat16, false, false)]
    public void Labels_match_cpu_backend_except_ties(ComputePrecision precision, bool allowWgmma, bool allowWarpSpecialised)
    {
        using var session = Open(precision, allowWgmma, allowWarpSpecialised);
        using var cpu = new CpuBackend();
        int seed = 100;
        var failures = new List<string>();
        foreach (int d in Dimensions)
            foreach (int k in Clusters)
                foreach (int b in Batches)
                {
                    // Enough rows to cover several blocks, few enough that the CPU check stays quick.
                    int n = (int)Math.Clamp(1.5e9 / ((double)b * k * d), 150, 1500);
                    int pitch = session.Precision.Pitch(d);
                    string shape = $"{precision} ({session.AssignKernelName(d, pitch, pitch)}) d={d} K={k} B={b} n={n}";
                    var data = Gpu.Round(TestData.Gaussian(b * n, d, seed++), precision);
                    var centroids = Gpu.Round(TestData.Gaussian(b * k, d, seed++).Select(v => 0.9f * v).ToArray(), precision);
                    CheckAgainstCpu(session, cpu, data, centroids, n, k, d, b, shape, failures);
                    if (failures.Count > 20)
                        break;
                }
        Assert.AreEqual(0, failures.Count, string.Join("\n", failures.Take(20)));
    }

    /// <summary>
    /// Assigns on the GPU and checks every row against the CPU backend: written, its distance that of its label in
    /// float64, and its label the CPU's or one no farther within the precision's tolerance.
    /// </summary>
    private static void CheckAgainstCpu(CudaSession session, CpuBackend cpu, float[] data, float[] centroids, int n, int k, int d, int b,
                                        string shape, List<string> failures)
    {
        var (labels, distances) = AssignOnGpu(session, data, centroids, n, k, d, b);
        for (int batch = 0; batch < b; batch++)
        {
            var rows = data.AsSpan(batch * n * d, n * d);
            var cs = centroids.AsMemory(batch * k * d, k * d);
            using var scorer = cpu.CreateScorer(cs, d);
            var expected = new int[n];
            scorer.Assign(rows, expected, default);
            for (int r = 0; r < n; r++)
            {
                int got = labels[batch * n + r];
                float dist = distances[batch * n + r];
                if (got < 0 || got >= k || float.IsNaN(dist))
                {
                    failures.Add($"{shape}: row {r} of batch {batch} not written (label {got}, distance {dist})");
                    break;
                }
                var x = rows.Slice(r * d, d);
                double exact = Reference.Distance(x, cs.Span.Slice(got * d, d));
                double scale = Reference.Distance(x, new float[d]) + Reference.Distance(cs.Span.Slice(got * d, d), new float[d]) + 1;
                if (Math.Abs(dist - exact) > 2e-5 * scale)
                    failures.Add($"{shape}: row {r} distance {dist} vs float64 {exact}");
                if (got != expected[r])
                {
                    double other = Reference.Distance(x, cs.Span.Slice(expected[r] * d, d));
                    if (exact - other > 2e-5 * scale)
                        failures.Add($"{shape}: row {r} label {got} ({exact:G9}) but CPU chose {expected[r]} ({other:G9})");
                }
            }
        }
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float16, 128)]
    [DataRow(ComputePrecision.Float16, 200)]
    [DataRow(ComputePrecision.Float16, 512)]
    [DataRow(ComputePrecision.BFloat16, 500)]
    [DataRow(ComputePrecision.TensorFloat32, 256)]
    public void Persistent_blocks_label_every_row_of_many_row_tiles(ComputePrecision precision, int d)
    {
        // The warp-specialised kernels run one block per SM, each walking row tiles blockIdx.x, + gridDim.x, ... and
        // refilling its row buffers while it computes: only with several tiles per block (and problems that end inside
        // a tile) are those refills exercised. The shapes above stay within one tile per block.
        using var session = Open(precision);
        if (!session.UsesWarpSpecialised)
            Assert.Inconclusive("the warp-specialised kernels run on Hopper only");
        using var cpu = new CpuBackend();
        int pitch = session.Precision.Pitch(d);
        int rowsPerTile = 64 * CudaSession.WarpSpecialisedShape(CudaSession.WarpSpecialisedChunks(pitch * session.Precision.ElementBytes)).Groups;
        var failures = new List<string>();
        int seed = 900 + d;
        foreach (int b in new[] { 1, 3 })
        {
            const int k = 300;  // three centroid tiles, the last one partial
            int n = (int)(3.3 * session.Context.MultiprocessorCount * rowsPerTile / b) + 37;
            string shape = $"{precision} ({session.AssignKernelName(d, pitch, pitch)}) d={d} K={k} B={b} n={n}";
            var data = Gpu.Round(TestData.Gaussian(b * n, d, seed++), precision);
            var centroids = Gpu.Round(TestData.Gaussian(b * k, d, seed++).Select(v => 0.9f * v).ToArray(), precision);
            CheckAgainstCpu(session, cpu, data, centroids, n, k, d, b, shape, failures);
        }
        Assert.AreEqual(0, failures.Count, string.Join("\n", failures.Take(20)));
    }

    /// <summary>Uploads fp32 rows, packs them into the session's precision and assigns (B problems at once).</summary>
    internal static (int[] Labels, float[] Distances) AssignOnGpu(CudaSession s, float[] data, float[] centroids, int n, int k, int d, int batches)
    {
        var ctx = s.Context;
        int ld = s.Precision.Pitch(d);
        int bytes = s.Precision.ElementBytes;
        long rows = (long)batches * n, cRows = (long)batches * k;
        using var raw = new DeviceBuffer<float>(ctx, data.Length);
        using var x = new DeviceBuffer<byte>(ctx, rows * ld * bytes);
        using var xNorms = new DeviceBuffer<float>(ctx, rows);
        using var cRaw = new DeviceBuffer<float>(ctx, centroids.Length);
        using var c = new DeviceBuffer<byte>(ctx, cRows * ld * bytes);
        using var cNorms = new DeviceBuffer<float>(ctx, cRows);
        using var labels = new DeviceBuffer<int>(ctx, rows);
        using var distances = new DeviceBuffer<float>(ctx, rows);
        raw.CopyFrom(data, 0, s.Stream);
        cRaw.CopyFrom(centroids, 0, s.Stream);
        s.PackRows(raw.Pointer, rows, d, d, x.Pointer, ld, xNorms.Pointer);
        s.PackRows(cRaw.Pointer, cRows, d, d, c.Pointer, ld, cNorms.Pointer);
        labels.Fill32(unchecked((uint)PoisonLabel), s.Stream);
        distances.Fill32(0x7fc00000u, s.Stream);  // NaN
        s.Assign(x.Pointer, xNorms.Pointer, n, d, ld, c.Pointer, cNorms.Pointer, k, ld, labels.Pointer, distances.Pointer, updateMin: false, batches);
        var hostLabels = new int[rows];
        var hostDistances = new float[rows];
        labels.CopyTo(hostLabels, 0, s.Stream);
        distances.CopyTo(hostDistances, 0, s.Stream);
        return (hostLabels, hostDistances);
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float32, false)]
    [DataRow(ComputePrecision.Float32, true)]
    [DataRow(ComputePrecision.Float16, false)]
    [DataRow(ComputePrecision.Float16, true)]
    [DataRow(ComputePrecision.BFloat16, true)]
    public void Centroid_update_matches_float64_reference(ComputePrecision precision, bool deterministic)
    {
        using var s = Open(precision);
        int seed = 7;
        var failures = new List<string>();
        foreach (int d in new[] { 1, 3, 64, 200, 1536 })
            foreach (int k in new[] { 1, 5, 100, 1000 })
                foreach (int b in Batches)
                    foreach (bool weighted in new[] { false, true })
                    {
                        int n = 2000;
                        var random = new Random(seed++);
                        var data = Gpu.Round(TestData.Gaussian(b * n, d, seed++), precision);
                        // Skewed: half the rows in cluster 0, to exercise segments longer than a block's run.
                        var labels = Enumerable.Range(0, b * n).Select(_ => random.NextDouble() < 0.5 ? 0 : random.Next(k)).ToArray();
                        var weights = weighted ? Enumerable.Range(0, b * n).Select(_ => (float)(0.25 + random.NextDouble())).ToArray() : null;
                        var old = TestData.Gaussian(b * k, d, seed++);
                        var first = Update(s, data, labels, weights, old, n, k, d, b, deterministic, out var clusterWeights);
                        string shape = $"{precision} det={deterministic} d={d} K={k} B={b} weighted={weighted}";
                        for (int cl = 0; cl < b * k; cl++)
                        {
                            int batch = cl / k;
                            double wsum = 0;
                            var sum = new double[d];
                            for (int r = batch * n; r < (batch + 1) * n; r++)
                            {
                                if (batch * k + labels[r] != cl)
                                    continue;
                                double w = weights?[r] ?? 1.0;
                                wsum += w;
                                for (int f = 0; f < d; f++)
                                    sum[f] += w * data[(long)r * d + f];
                            }
                            if (Math.Abs(clusterWeights[cl] - wsum) > 1e-6 * Math.Max(1, wsum))
                                failures.Add($"{shape}: cluster {cl} weight {clusterWeights[cl]} vs {wsum}");
                            for (int f = 0; f < d; f++)
                            {
                                double expected = wsum > 0 ? sum[f] / wsum : old[cl * d + f];
                                if (Math.Abs(first[cl * d + f] - expected) > 1e-5 * Math.Max(1, Math.Abs(expected)))
                                {
                                    failures.Add($"{shape}: cluster {cl} dim {f}: {first[cl * d + f]} vs {expected}");
                                    break;
                                }
                            }
                        }
                        if (deterministic)
                        {
                            var second = Update(s, data, labels, weights, old, n, k, d, b, deterministic, out _);
                            if (!first.AsSpan().SequenceEqual(second))
                                failures.Add($"{shape}: two runs differ");
                        }
                        if (failures.Count > 20)
                            break;
                    }
        Assert.AreEqual(0, failures.Count, string.Join("\n", failures.Take(20)));
    }

    private static float[] Update(CudaSession s, float[] data, int[] labels, float[]? weights, float[] old,
                                  int n, int k, int d, int b, bool deterministic, out double[] clusterWeights)
    {
        var ctx = s.Context;
        int ld = s.Precision.Pitch(d);
        long rows = (long)b * n;
        int clusters = b * k;
        using var raw = new DeviceBuffer<float>(ctx, data.Length);
        using var x = new DeviceBuffer<byte>(ctx, rows * ld * s.Precision.ElementBytes);
        using var l = new DeviceBuffer<int>(ctx, rows);
        using var w = weights is null ? null : new DeviceBuffer<float>(ctx, rows);
        using var counts = new DeviceBuffer<int>(ctx, clusters);
        using var offsets = new DeviceBuffer<int>(ctx, clusters + 1L);
        using var cursor = new DeviceBuffer<int>(ctx, clusters);
        using var sorted = new DeviceBuffer<int>(ctx, rows);
        using var sums = new DeviceBuffer<long>(ctx, (long)clusters * d);
        using var wsums = new DeviceBuffer<long>(ctx, clusters);
        using var centroids = new DeviceBuffer<float>(ctx, old.Length);
        using var shift = new DeviceBuffer<float>(ctx, clusters);
        using var weightOut = new DeviceBuffer<double>(ctx, clusters);
        raw.CopyFrom(data, 0, s.Stream);
        s.PackRows(raw.Pointer, rows, d, d, x.Pointer, ld, 0);
        l.CopyFrom(labels, 0, s.Stream);
        w?.CopyFrom(weights, 0, s.Stream);
        centroids.CopyFrom(old, 0, s.Stream);
        weightOut.Fill32(0x7fc00000u, s.Stream);
        counts.Clear(s.Stream);
        sums.Clear(s.Stream);
        wsums.Clear(s.Stream);
        float maxAbs = s.MaxAbs(x.Pointer, rows, d, ld);
        float maxWeight = weights?.Max() ?? 1f;
        float scale = CudaDataBinding.FixedPointScale((double)maxAbs * maxWeight, n);
        float wscale = CudaDataBinding.FixedPointScale(maxWeight, n);
        s.Histogram(l.Pointer, counts.Pointer, rows, k, b);
        s.ExclusiveScan(counts.Pointer, offsets.Pointer, cursor.Pointer, clusters);
        s.Scatter(l.Pointer, cursor.Pointer, sorted.Pointer, rows, k, b);
        s.SegmentSums(x.Pointer, w?.Pointer ?? 0, offsets.Pointer, sorted.Pointer, rows, k, d, ld, sums.Pointer, deterministic ? scale : null, b);
        if (w is not null)
            s.ClusterWeights(w.Pointer, l.Pointer, wsums.Pointer, rows, k, deterministic ? wscale : null, b);
        // The finalize packs the new centroids in passing: poisoned first, then compared with PackRows of its result.
        // Packed rows are a whole number of 32-bit words (the pitch is a multiple of 8 elements), so they are
        // held as uints: Fill32 needs 4-byte elements.
        long packedWords = (long)clusters * ld * s.Precision.ElementBytes / 4;
        using var packed = new DeviceBuffer<uint>(ctx, packedWords);
        using var norms = new DeviceBuffer<float>(ctx, clusters);
        using var repacked = new DeviceBuffer<uint>(ctx, packedWords);
        using var renorms = new DeviceBuffer<float>(ctx, clusters);
        packed.Fill32(0x7fc00000u, s.Stream);
        norms.Fill32(0x7fc00000u, s.Stream);
        s.FinalizeCentroids(sums.Pointer, counts.Pointer, w is null ? 0 : wsums.Pointer, clusters, d, deterministic ? 1.0 / scale : null,
            1.0 / wscale, new FinalizeTargets(centroids.Pointer, shift.Pointer, weightOut.Pointer, Normalize: false)
            {
                Packed = packed.Pointer,
                Norms = norms.Pointer,
                PackedPitch = ld,
            });
        s.PackRows(centroids.Pointer, clusters, d, d, repacked.Pointer, ld, renorms.Pointer);
        var result = new float[old.Length];
        centroids.CopyTo(result, 0, s.Stream);
        clusterWeights = new double[clusters];
        weightOut.CopyTo(clusterWeights, 0, s.Stream);
        var packedHost = new uint[packedWords];
        var repackedHost = new uint[packedWords];
        var normsHost = new float[clusters];
        var renormsHost = new float[clusters];
        packed.CopyTo(packedHost, 0, s.Stream);
        repacked.CopyTo(repackedHost, 0, s.Stream);
        norms.CopyTo(normsHost, 0, s.Stream);
        renorms.CopyTo(renormsHost, 0, s.Stream);
        int rowWords = ld * s.Precision.ElementBytes / 4;
        for (int c = 0; c < clusters; c++)
        {
            var row = packedHost.AsSpan(c * rowWords, rowWords);
            if (clusterWeights[c] > 0)
            {
                Assert.IsTrue(row.SequenceEqual(repackedHost.AsSpan(c * rowWords, rowWords)), $"packed row of cluster {c} differs from PackRows");
                Assert.AreEqual(BitConverter.SingleToInt32Bits(renormsHost[c]), BitConverter.SingleToInt32Bits(normsHost[c]), $"norm of cluster {c}");
            }
            else
            {
                Assert.IsTrue(row.ToArray().All(v => v == 0x7fc00000u), $"empty cluster {c}'s packed row was written");
            }
        }
        return result;
    }

    [TestMethod]
    public void Deterministic_fits_are_bit_identical()
    {
        var data = TestData.Blobs(20000, 24, centers: 40, spread: 3, seed: 5);
        float[] Fit() => new KMeans(new KMeansOptions
        {
            NumberOfClusters = 50, Device = ComputeDevice.Cuda, Precision = ComputePrecision.Float16,
            DeterministicUpdate = true, MaximumNumberOfIterations = 15, OptimizationTolerance = 0, Seed = 3,
        }).Fit(data, 24).Centroids.ToArray();
        var a = Fit();
        var b = Fit();
        CollectionAssert.AreEqual(a, b);
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float32, 1e-5)]
    [DataRow(ComputePrecision.TensorFloat32, 2e-3)]
    [DataRow(ComputePrecision.Float16, 2e-3)]
    public void Fast_update_fit_matches_reference_lloyd(ComputePrecision precision, double tolerance)
    {
        int d = 48, k = 16, n = 6000;
        // Well-separated blobs started from their true centres: no row is near a tie, so the rounding
        // of the reduced precisions cannot flip a label and only the arithmetic is compared.
        var centers = TestData.Gaussian(k, d, seed: 12).Select(v => 6 * v).ToArray();
        var noise = TestData.Gaussian(n, d, seed: 13);
        var data = new float[n * d];
        for (int r = 0; r < n; r++)
            for (int f = 0; f < d; f++)
                data[r * d + f] = centers[r % k * d + f] + noise[r * d + f];
        var initial = centers;
        var model = new KMeans(new KMeansOptions
        {
            NumberOfClusters = k, Device = ComputeDevice.Cuda, Precision = precision, Initialization = KMeansInitialization.Explicit,
            InitialCentroids = initial, MaximumNumberOfIterations = 6, OptimizationTolerance = 0,
        }).Fit(data, d);
        var (expected, _, _) = Reference.Lloyd(data, d, initial, 6);
        var actual = model.Centroids.Span;
        double maxNorm = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.AreEqual(expected[i], actual[i], tolerance * Math.Max(1, maxNorm), $"centroid value {i}");
    }

    [TestMethod]
    [DataRow(KMeansInitialization.KMeansPlusPlus, false)]
    [DataRow(KMeansInitialization.KMeansParallel, false)]
    [DataRow(KMeansInitialization.KMeansParallel, true)]
    [DataRow(KMeansInitialization.RandomRows, true)]
    public void Seeding_on_the_gpu_finds_fits_as_good_as_the_cpu(KMeansInitialization initialization, bool weighted)
    {
        // The seeding primitives (seed distances, candidate potentials, cumulative search, sampling,
        // seed weights) run on the device; the fit they start must match the CPU's in quality.
        int d = 10, k = 25, n = 12000;
        var data = TestData.Blobs(n, d, centers: k, spread: 5, seed: 31);
        var random = new Random(3);
        float[]? weights = weighted ? Enumerable.Range(0, n).Select(_ => (float)(0.5 + random.NextDouble())).ToArray() : null;
        KMeansModel Fit(ComputeDevice device) => new KMeans(new KMeansOptions
        {
            NumberOfClusters = k, Device = device, Initialization = initialization, Seed = 5, MaximumNumberOfIterations = 20,
        }).Fit(data, d, weights);
        var gpu = Fit(ComputeDevice.Cuda);
        var cpu = Fit(ComputeDevice.Cpu);
        Assert.IsTrue(gpu.Inertia <= cpu.Inertia * 1.05 + 1e-9, $"GPU inertia {gpu.Inertia} vs CPU {cpu.Inertia}");
    }

    [TestMethod]
    public void Repeated_fits_leak_no_gpu_objects()
    {
        var data = TestData.Gaussian(3000, 16, seed: 2);
        new KMeans(new KMeansOptions { NumberOfClusters = 8, Device = ComputeDevice.Cuda, MaximumNumberOfIterations = 2 }).Fit(data, 16);
        long before = CudaResource.LiveCount;
        for (int i = 0; i < 5; i++)
            new KMeans(new KMeansOptions { NumberOfClusters = 8, Device = ComputeDevice.Cuda, MaximumNumberOfIterations = 3, Seed = i }).Fit(data, 16);
        Assert.AreEqual(before, CudaResource.LiveCount);
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float32)]
    [DataRow(ComputePrecision.Float16)]
    public void Scorer_assigns_and_measures_like_the_cpu(ComputePrecision precision)
    {
        int d = 40, k = 30, n = 5000;
        var centroids = Gpu.Round(TestData.Gaussian(k, d, seed: 8), precision);
        var rows = Gpu.Round(TestData.Gaussian(n, d, seed: 9), precision);
        using var backend = CudaBackend.Create(new KMeansOptions { Device = ComputeDevice.Cuda, Precision = precision });
        using var scorer = backend.CreateScorer(centroids, d);
        var labels = Enumerable.Repeat(PoisonLabel, n).ToArray();
        var distances = Enumerable.Repeat(float.NaN, n).ToArray();
        scorer.Assign(rows, labels, distances);
        var all = Enumerable.Repeat(float.NaN, n * k).ToArray();
        scorer.AllDistances(rows, all);
        for (int r = 0; r < n; r++)
        {
            Reference.AssertNearest(rows.AsSpan(r * d, d), centroids, d, labels[r], $"row {r}");
            for (int c = 0; c < k; c++)
            {
                double exact = Reference.Distance(rows.AsSpan(r * d, d), centroids.AsSpan(c * d, d));
                Assert.AreEqual(exact, all[r * k + c], 1e-5 * (exact + 1), $"distance ({r}, {c})");
            }
            Assert.AreEqual(all[r * k + labels[r]], distances[r], 1e-4 * (distances[r] + 1), $"assigned distance of row {r}");
        }
    }
}
