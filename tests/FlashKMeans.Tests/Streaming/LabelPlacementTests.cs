using FlashKMeans.Clustering;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Streaming;

namespace FlashKMeans.Tests.Streaming;

/// <summary>
/// The host side of <see cref="LabelPlacement"/>, without a GPU: the planner's budget, the host label store's
/// change count, and the host replica of the GPU's inertia reduction.
/// </summary>
[TestClass]
public sealed class LabelPlacementTests
{
    private const long GiB = 1L << 30;

    [TestMethod]
    public void Auto_keeps_labels_on_the_device_when_they_fit()
    {
        var plan = StreamingPlanner.Plan(1 << 20, 256, 256, 80 * GiB, GpuDataMode.Cached, 1000, 3, null);
        Assert.IsFalse(plan.HostLabels, plan.Reason);
        StringAssert.Contains(plan.Reason, "labels on the GPU");
    }

    [TestMethod]
    public void Auto_puts_labels_on_the_host_when_they_do_not_fit_and_the_budget_counts_them()
    {
        // 1G rows: 16 B/row of other state is 16 GiB, the labels 20 GiB more; 30 GiB free leaves room for the first only.
        long rows = 1L << 30;
        var plan = StreamingPlanner.Plan(rows, 256, 256, 30 * GiB, GpuDataMode.Cached, 1 << 16, 3, null);
        Assert.IsTrue(plan.HostLabels, plan.Reason);
        StringAssert.Contains(plan.Reason, "labels on the host");
        long used = plan.CachedBatches * plan.BatchRows * 256L + rows * (StreamingPlanner.StreamedStateBytesPerRow - StreamingPlanner.LabelStateBytesPerRow)
                    + 3L * plan.BatchRows * StreamingPlanner.LabelSlotBytesPerRow;
        Assert.IsTrue(used <= 30 * GiB * 0.9, plan.Reason);
        Assert.IsTrue(StreamingPlanner.Plan(int.MaxValue + 1L, 256, 256, 1000 * GiB, GpuDataMode.Streaming, null, 3, null).HostLabels,
            "more rows than 32-bit indices reach");
    }

    [TestMethod]
    public void Host_labels_leave_their_bytes_to_the_cache()
    {
        long rows = 100_000_000;
        var device = StreamingPlanner.Plan(rows, 256, 256, 24 * GiB, GpuDataMode.Cached, 100_000, 3, null, LabelPlacement.Device);
        var host = StreamingPlanner.Plan(rows, 256, 256, 24 * GiB, GpuDataMode.Cached, 100_000, 3, null, LabelPlacement.Host);
        Assert.IsFalse(device.HostLabels);
        Assert.IsTrue(host.HostLabels);
        StringAssert.Contains(host.Reason, "labels on the host, as asked");
        // 20 B/row on the device against 3 slots of 8 B/row: 2 GB more cache, about 74 batches of 25.6 MB.
        Assert.IsTrue(host.CachedBatches - device.CachedBatches >= 70, $"{device.Reason} / {host.Reason}");
    }

    [TestMethod]
    public void Host_labels_make_auto_stream_and_resident_data_keeps_its_labels_on_the_device()
    {
        var auto = StreamingPlanner.Plan(1 << 20, 256, 256, 80 * GiB, GpuDataMode.Auto, null, 3, null, LabelPlacement.Host);
        Assert.AreEqual(GpuDataMode.Cached, auto.Mode);
        Assert.IsTrue(auto.HostLabels);
        Assert.AreEqual(auto.BatchCount, auto.CachedBatches, "everything still fits the cache");
        StringAssert.Contains(auto.Reason, "labels on the host were asked for");
        var resident = StreamingPlanner.Plan(1 << 20, 256, 256, 80 * GiB, GpuDataMode.InMemory, null, 3, null, LabelPlacement.Host);
        Assert.AreEqual(GpuDataMode.InMemory, resident.Mode);
        Assert.IsFalse(resident.HostLabels);
        StringAssert.Contains(resident.Reason, "resident data keeps them");
    }

    [TestMethod]
    public void An_unknown_label_placement_is_rejected()
    {
        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new KMeansOptions { LabelPlacement = (LabelPlacement)7 }.Validate());
        Assert.AreEqual(nameof(KMeansOptions.LabelPlacement), error.ParamName);
        Assert.AreEqual(LabelPlacement.Auto, new KMeansOptions().LabelPlacement);
    }

    [TestMethod]
    public void The_cpu_backend_ignores_the_label_placement()
    {
        int n = 999, d = 5, k = 7;
        var data = TestData.Blobs(n, d, centers: k, spread: 3, seed: 2);
        KMeansOptions With(LabelPlacement placement) => new()
        {
            NumberOfClusters = k, Device = ComputeDevice.Cpu, Seed = 4, MaximumNumberOfIterations = 6, OptimizationTolerance = 0,
            LabelPlacement = placement,
        };
        var device = new KMeans(With(LabelPlacement.Device)).Fit(new Data.InMemoryBatchSource(data, d, batchRows: 100));
        var host = new KMeans(With(LabelPlacement.Host)).Fit(new Data.InMemoryBatchSource(data, d, batchRows: 100));
        CollectionAssert.AreEqual(device.Centroids.ToArray(), host.Centroids.ToArray());
        Assert.AreEqual(device.Inertia, host.Inertia);
    }

    [TestMethod]
    [DataRow(1, 1)]        // one row
    [DataRow(1000, 7)]     // batches that do not divide N
    [DataRow(1000, 5000)]  // a batch larger than N
    [DataRow(100, 33)]
    public void The_host_store_counts_label_changes_batch_by_batch(int n, int batchRows)
    {
        using var store = new HostLabelStore(n);
        var random = new Random(n);
        var first = Enumerable.Range(0, n).Select(_ => random.Next(5)).ToArray();
        var second = first.Select(l => random.Next(4) == 0 ? (l + 1) % 5 : l).ToArray();
        var distances = Enumerable.Range(0, n).Select(i => i * 0.5f).ToArray();
        long Pass(int[] labels)
        {
            // Batches arrive out of row order, as in a cached pass.
            long changed = 0;
            var starts = Enumerable.Range(0, (n + batchRows - 1) / batchRows).Select(b => b * batchRows).Reverse();
            foreach (int start in starts)
            {
                int count = Math.Min(batchRows, n - start);
                changed += store.Store(start, labels.AsSpan(start, count), distances.AsSpan(start, count));
            }
            return changed;
        }
        Assert.AreEqual(n, Pass(first), "every label changes from −1");
        Assert.AreEqual(first.Zip(second).Count(p => p.First != p.Second), Pass(second));
        Assert.AreEqual(0, Pass(second));
        CollectionAssert.AreEqual(second, store.LabelSpan.ToArray());
        CollectionAssert.AreEqual(distances, store.DistanceSpan.ToArray());
        store.ResetLabels();
        Assert.AreEqual(n, Pass(second));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => store.Store(n - 1, new int[2], default));
    }

    [TestMethod]
    public void Counting_differences_covers_vector_bodies_and_tails()
    {
        for (int length = 0; length <= 70; length++)
        {
            var a = Enumerable.Range(0, length).ToArray();
            var b = a.Select(v => v % 3 == 0 ? v + 1 : v).ToArray();
            Assert.AreEqual(a.Count(v => v % 3 == 0), HostLabelStore.CountDifferences(a, b), $"length {length}");
        }
    }

    /// <summary>segmented_sum_partial and segmented_sum_final written as the CUDA code reads: 256 threads per block, a shuffle butterfly per warp.</summary>
    private static double KernelOrderSum(float[] v, float[]? w)
    {
        const int threads = 256;
        long len = v.Length;
        int chunks = CudaSession.SumChunksFor(len);
        long per = (len + chunks - 1) / chunks;
        var partials = new double[chunks];
        for (int block = 0; block < chunks; block++)
        {
            long lo = per * block, hi = Math.Min(len, lo + per);
            var acc = new double[threads];
            for (int t = 0; t < threads; t++)
                for (long i = lo + t; i < hi; i += threads)
                    acc[t] += w is not null ? (double)w[i] * v[i] : v[i];
            partials[block] = BlockSumLikeTheKernel(acc);
        }
        var final = new double[threads];
        for (int t = 0; t < threads; t++)
            for (int i = t; i < chunks; i += threads)
                final[t] += partials[i];
        return BlockSumLikeTheKernel(final);
    }

    private static double BlockSumLikeTheKernel(double[] v)
    {
        v = (double[])v.Clone();
        for (int o = 16; o > 0; o >>= 1)
        {
            // Every thread reads its partner's value before any writes (one shuffle).
            var read = (double[])v.Clone();
            for (int t = 0; t < v.Length; t++)
                v[t] = read[t] + read[(t & ~31) | ((t & 31) ^ o)];
        }
        double total = 0.0;
        for (int warp = 0; warp < v.Length / 32; warp++)
            total += v[warp * 32];
        return total;
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(63)]        // one chunk
    [DataRow(64 * 256)]
    [DataRow(100_003)]   // chunks of ragged length
    [DataRow(1_300_001)] // more chunks than the final block's 256 threads
    public unsafe void The_host_inertia_adds_in_the_gpu_order(int n)
    {
        var random = new Random(n);
        // Values over many magnitudes, so that a different order of additions shows in the last bits.
        var v = Enumerable.Range(0, n).Select(_ => (float)Math.Pow(10, random.NextDouble() * 12 - 4)).ToArray();
        var w = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 3)).ToArray();
        fixed (float* pv = v)
        fixed (float* pw = w)
        {
            Assert.AreEqual(BitConverter.DoubleToInt64Bits(KernelOrderSum(v, null)), BitConverter.DoubleToInt64Bits(HostWeightedSum.Sum(pv, null, n, 1)), "unit weights");
            Assert.AreEqual(BitConverter.DoubleToInt64Bits(KernelOrderSum(v, w)), BitConverter.DoubleToInt64Bits(HostWeightedSum.Sum(pv, pw, n, 2)), "weighted");
            Assert.AreEqual(HostWeightedSum.Sum(pv, pw, n, 1), HostWeightedSum.Sum(pv, pw, n, 3), "threads");
        }
        double sequential = v.Sum(x => (double)x);
        fixed (float* pv = v)
            Assert.AreEqual(sequential, HostWeightedSum.Sum(pv, null, n, 2), Math.Abs(sequential) * 1e-12);
    }
}
