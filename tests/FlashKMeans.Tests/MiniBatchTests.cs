using FlashKMeans.Clustering;
using FlashKMeans.Data;

namespace FlashKMeans.Tests;

/// <summary>
/// Mini-batch k-means: <see cref="MiniBatchKMeans"/> fed batch by batch and <see cref="KMeansAlgorithm.MiniBatch"/> fits,
/// against a float64 reference of the running-mean update, full Lloyd, and invariants (determinism, restarts, bad input).
/// </summary>
[TestClass]
public sealed class MiniBatchTests
{
    private static KMeansOptions Options(int k, Action<MiniBatchOptions>? settings = null, int seed = 3, int? threads = null)
    {
        var options = new KMeansOptions { NumberOfClusters = k, Seed = seed, NumberOfThreads = threads, Device = ComputeDevice.Cpu };
        settings?.Invoke(options.MiniBatch);
        return options;
    }

    private static byte[] Saved(MiniBatchKMeans model)
    {
        using var stream = new MemoryStream();
        model.Save(stream);
        return stream.ToArray();
    }

    [TestMethod]
    [DataRow(300, 1)]
    [DataRow(6, 1)] // fewer rows than centroids: centroids win rows in some steps and none in others
    [DataRow(40_000, 2)] // large enough that two threads sum the rows, centroid by centroid
    public void Each_step_moves_centroids_to_the_running_mean_of_the_rows_they_won(int n, int threads)
    {
        const int d = 7, k = 5;
        var random = new Random(11);
        var start = TestData.Gaussian(k, d, seed: 12).Select(v => v * 3).ToArray();
        var options = Options(k, m => m.ReassignmentRatio = 0, threads: threads);
        options.Initialization = KMeansInitialization.Explicit;
        options.InitialCentroids = start;
        var model = new MiniBatchKMeans(options, d);

        // Float64 reference: brute-force labels under the current centroids, then c ← (c·W + Σw·x) / (W + Σw).
        var centroids = start.Select(v => (double)v).ToArray();
        var seen = new double[k];
        for (int step = 0; step < 6; step++)
        {
            var rows = TestData.Gaussian(n, d, seed: 100 + step).Select(v => v * 3).ToArray();
            var weights = Enumerable.Range(0, n).Select(_ => (float)random.NextDouble() * 2).ToArray();
            var current = centroids.Select(v => (float)v).ToArray();
            var sums = new double[k * d];
            var won = new double[k];
            for (int r = 0; r < n; r++)
            {
                int c = Reference.Nearest(rows.AsSpan(r * d, d), current, d).Label;
                won[c] += weights[r];
                for (int j = 0; j < d; j++)
                    sums[c * d + j] += weights[r] * (double)rows[r * d + j];
            }
            for (int c = 0; c < k; c++)
            {
                if (won[c] == 0)
                    continue;
                for (int j = 0; j < d; j++)
                    centroids[c * d + j] = (current[c * d + j] * seen[c] + sums[c * d + j]) / (seen[c] + won[c]);
                seen[c] += won[c];
            }
            model.PartialFit(rows, weights);

            var got = model.Snapshot().Centroids.ToArray();
            for (int i = 0; i < got.Length; i++)
                Assert.AreEqual(centroids[i], got[i], 1e-5 * (1 + Math.Abs(centroids[i])), $"step {step}, value {i}");
            for (int c = 0; c < k; c++)
                Assert.AreEqual(seen[c], model.ClusterWeights[c], 1e-9 * seen[c], $"step {step}, seen weight of {c}");
        }
        Assert.AreEqual(6, model.Steps);
        Assert.AreEqual(6L * n, model.RowsSeen);
    }

    [TestMethod]
    public void One_epoch_comes_within_one_percent_of_Lloyd_on_blobs()
    {
        const int n = 60_000, d = 16, k = 12;
        var data = TestData.Blobs(n, d, k, 6.0, seed: 21);
        var lloyd = new KMeans(Options(k)).Fit(data, d);
        var options = Options(k, m => m.MaximumNumberOfEpochs = 1);
        options.Algorithm = KMeansAlgorithm.MiniBatch;
        var miniBatch = new KMeans(options).Fit(data, d);
        // The model's inertia must be the exact inertia of its centroids over all the data, not an estimate.
        double exact = 0;
        for (int r = 0; r < n; r++)
            exact += Reference.Nearest(data.AsSpan(r * d, d), miniBatch.Centroids.Span, d).Best;
        Assert.AreEqual(exact, miniBatch.Inertia, 1e-6 * exact);
        Assert.IsTrue(miniBatch.Inertia <= lloyd.Inertia * 1.01,
            $"mini-batch inertia {miniBatch.Inertia:G6} after one epoch ({miniBatch.Iterations} steps) vs Lloyd {lloyd.Inertia:G6}");
    }

    [TestMethod]
    public void Early_stopping_ends_the_fit_before_the_epoch_limit()
    {
        const int n = 40_000, d = 8, k = 6;
        var data = TestData.Blobs(n, d, k, 8.0, seed: 5);
        var options = Options(k, m => { m.MaximumNumberOfEpochs = 50; m.BatchSize = 512; });
        options.Algorithm = KMeansAlgorithm.MiniBatch;
        var model = new KMeans(options).Fit(data, d);
        Assert.IsTrue(model.Converged);
        Assert.IsTrue(model.Iterations < 50 * (n / 512), $"{model.Iterations} steps");
    }

    [TestMethod]
    public void A_centroid_move_tolerance_stops_the_fit_once_a_step_moves_the_centroids_less()
    {
        const int n = 40_000, d = 8, k = 6;
        var data = TestData.Blobs(n, d, k, 8.0, seed: 5);
        KMeansModel Fit(double tolerance)
        {
            var options = Options(k, m => { m.MaximumNumberOfEpochs = 20; m.BatchSize = 512; m.MaximumNoImprovement = null; m.CentroidMoveTolerance = tolerance; });
            options.Algorithm = KMeansAlgorithm.MiniBatch;
            return new KMeans(options).Fit(data, d);
        }
        var untilTheEnd = Fit(0);
        Assert.IsFalse(untilTheEnd.Converged, "without either test the fit runs every epoch");
        Assert.AreEqual(20 * (int)Math.Ceiling(n / 512.0), untilTheEnd.Iterations);
        var stopped = Fit(1e-3);
        Assert.IsTrue(stopped.Converged);
        Assert.IsTrue(stopped.Iterations < untilTheEnd.Iterations / 4, $"{stopped.Iterations} steps");
        Assert.IsTrue(stopped.Inertia <= untilTheEnd.Inertia * 1.01, "stopping early must not cost more than 1 %");
    }

    [TestMethod]
    public void A_forgetting_factor_follows_a_drifting_stream_that_the_running_mean_cannot()
    {
        const int d = 3, batch = 200, steps = 150;
        var plain = new MiniBatchKMeans(Options(1, m => { m.InitializationSize = batch; m.ReassignmentRatio = 0; }), d);
        var forgetting = new MiniBatchKMeans(Options(1, m => { m.InitializationSize = batch; m.ReassignmentRatio = 0; m.ForgettingFactor = 0.8; }), d);
        var random = new Random(4);
        double[] last = [];
        for (int s = 0; s < steps; s++)
        {
            // The distribution's centre walks from the origin to (30, −15, 0).
            double t = (double)s / (steps - 1);
            last = [30 * t, -15 * t, 0];
            var rows = new float[batch * d];
            for (int r = 0; r < batch; r++)
                for (int j = 0; j < d; j++)
                    rows[r * d + j] = (float)(last[j] + TestData.Normal(random));
            plain.PartialFit(rows);
            forgetting.PartialFit(rows);
        }
        double Error(MiniBatchKMeans m) => Math.Sqrt(Reference.Distance(m.Snapshot().Centroids.Span, last.Select(v => (float)v).ToArray()));
        Assert.IsTrue(Error(forgetting) < 1.0, $"forgetting: {Error(forgetting):G3} from the current centre");
        Assert.IsTrue(Error(plain) > 10.0, $"running mean: {Error(plain):G3} from the current centre");
    }

    [TestMethod]
    public void A_centroid_that_wins_nothing_is_moved_onto_the_rows_that_arrive()
    {
        const int d = 4, k = 4, batch = 256;
        var centres = new[] { new[] { 0f, 0, 0, 0 }, new[] { 10f, 0, 0, 0 }, new[] { 0f, 10, 0, 0 }, new[] { 0f, 0, 0, 60 } };
        MiniBatchKMeans Train(double ratio)
        {
            // Three centroids on the first three classes and one far from every row: it can never win a row by itself.
            var options = Options(k, m => m.ReassignmentRatio = ratio, seed: 9);
            options.Initialization = KMeansInitialization.Explicit;
            options.InitialCentroids = new float[] { 0, 0, 0, 0, 10, 0, 0, 0, 0, 10, 0, 0, -500, -500, -500, -500 };
            var model = new MiniBatchKMeans(options, d);
            var random = new Random(8);
            for (int s = 0; s < 200; s++)
            {
                var rows = new float[batch * d];
                for (int r = 0; r < batch; r++)
                {
                    var centre = centres[random.Next(4)];
                    for (int j = 0; j < d; j++)
                        rows[r * d + j] = (float)(centre[j] + 0.5 * TestData.Normal(random));
                }
                model.PartialFit(rows);
            }
            return model;
        }
        var dead = Train(0).Snapshot();
        Assert.AreEqual(-500f, dead.GetCentroid(3)[0], "without reassignment the far centroid never moves");
        var reassigning = Train(0.05);
        var model = reassigning.Snapshot();
        Assert.IsTrue(model.EmptyClustersReseeded > 0);
        // Each of the four classes (10 or more apart) ends with a centroid of its own, within a quarter of that.
        double Nearest(KMeansModel m, float[] centre) => Enumerable.Range(0, k).Min(c => Math.Sqrt(Reference.Distance(centre, m.GetCentroid(c))));
        foreach (var centre in centres)
            Assert.IsTrue(Nearest(model, centre) < 2.5, $"no centroid near ({string.Join(", ", centre)}): {Nearest(model, centre):G3}");
        Assert.IsTrue(centres.Any(centre => Nearest(dead, centre) > 2.5), "without reassignment one class should have lacked a centroid");
        CollectionAssert.AreEqual(Saved(reassigning), Saved(Train(0.05)), "reassignment is not deterministic by seed");
    }

    [TestMethod]
    public void The_seeding_waits_for_its_buffer_and_a_snapshot_before_it_changes_nothing()
    {
        const int d = 5, k = 8;
        var rows = TestData.Blobs(4000, d, k, 5.0, seed: 2);
        KMeansOptions O() => Options(k, m => m.InitializationSize = 1000);
        var watched = new MiniBatchKMeans(O(), d);
        var twin = new MiniBatchKMeans(O(), d);
        Assert.ThrowsExactly<InvalidOperationException>(() => watched.Snapshot());
        watched.PartialFit(rows.AsSpan(0, 5 * d));
        twin.PartialFit(rows.AsSpan(0, 5 * d));
        Assert.ThrowsExactly<InvalidOperationException>(() => watched.Snapshot(), "5 rows cannot give 8 centroids");
        watched.PartialFit(rows.AsSpan(5 * d, 500 * d));
        twin.PartialFit(rows.AsSpan(5 * d, 500 * d));
        Assert.IsFalse(watched.IsSeeded);
        var early = watched.Snapshot();
        Assert.AreEqual(k, early.NumberOfClusters);
        Assert.IsFalse(watched.IsSeeded, "a snapshot must not seed the stream itself");
        for (int at = 505; at < 4000; at += 500)
        {
            int count = Math.Min(500, 4000 - at);
            watched.PartialFit(rows.AsSpan(at * d, count * d));
            twin.PartialFit(rows.AsSpan(at * d, count * d));
            watched.Snapshot();
        }
        Assert.IsTrue(watched.IsSeeded);
        CollectionAssert.AreEqual(Saved(twin), Saved(watched));
    }

    [TestMethod]
    [DataRow(0), DataRow(1), DataRow(2)]
    public void A_bad_batch_throws_and_leaves_the_model_unchanged(int seededAt)
    {
        const int d = 6;
        var model = new MiniBatchKMeans(Options(3, m => m.InitializationSize = 100), d);
        var rows = TestData.Gaussian(300, d, seed: 1);
        for (int i = 0; i < seededAt; i++)
            model.PartialFit(rows.AsSpan(i * 100 * d, 100 * d));
        var before = Saved(model);
        var bad = rows.AsSpan(0, 10 * d).ToArray();
        var nan = bad.ToArray();
        nan[17] = float.NaN;
        var ex = Assert.ThrowsExactly<ArgumentException>(() => model.PartialFit(nan));
        StringAssert.Contains(ex.Message, "feature 5");
        Assert.ThrowsExactly<ArgumentException>(() => model.PartialFit(bad.AsSpan(0, 13)));
        Assert.ThrowsExactly<ArgumentException>(() => model.PartialFit(bad, new float[9]));
        var negative = Enumerable.Repeat(1f, 10).ToArray();
        negative[4] = -1;
        Assert.ThrowsExactly<ArgumentException>(() => model.PartialFit(bad, negative));
        Assert.ThrowsExactly<ArgumentException>(() => model.PartialFit(new float[4 * (d + 1)]), "rows of the wrong width");
        CollectionAssert.AreEqual(before, Saved(model));
    }

    [TestMethod]
    [DataRow(KMeansDistance.SquaredEuclidean, 0.9, ComputePrecision.Float32), DataRow(KMeansDistance.Cosine, 1.0, ComputePrecision.Float32)]
    [DataRow(KMeansDistance.SquaredEuclidean, 0.9, ComputePrecision.Float16), DataRow(KMeansDistance.Cosine, 1.0, ComputePrecision.BFloat16)]
    public void A_saved_state_continues_bit_for_bit(KMeansDistance distance, double forgetting, ComputePrecision centroidPrecision)
    {
        const int d = 9, k = 10, batch = 400;
        var rows = TestData.Offset(TestData.Blobs(20 * batch, d, k, 4.0, seed: 6), 1000);
        KMeansOptions O()
        {
            var o = Options(k, m => { m.ForgettingFactor = forgetting; m.InitializationSize = 1000; m.CentroidPrecision = centroidPrecision; });
            o.Distance = distance;
            return o;
        }
        var straight = new MiniBatchKMeans(O(), d);
        var interrupted = new MiniBatchKMeans(O(), d);
        for (int s = 0; s < 20; s++)
        {
            var slice = rows.AsSpan(s * batch * d, batch * d);
            straight.PartialFit(slice);
            interrupted.PartialFit(slice);
            if (s is 1 or 9)  // once while buffering, once seeded
                interrupted = MiniBatchKMeans.Load(new MemoryStream(Saved(interrupted)));
        }
        CollectionAssert.AreEqual(straight.Snapshot().Centroids.ToArray(), interrupted.Snapshot().Centroids.ToArray());
        CollectionAssert.AreEqual(straight.ClusterWeights.ToArray(), interrupted.ClusterWeights.ToArray());
        CollectionAssert.AreEqual(Saved(straight), Saved(interrupted));
        Assert.AreEqual(straight.RowsSeen, interrupted.RowsSeen);
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float16, 0.01), DataRow(ComputePrecision.BFloat16, 0.05)]
    public void Centroids_kept_in_16_bits_are_16_bit_values_and_cluster_nearly_as_well(ComputePrecision precision, double inertiaTolerance)
    {
        const int d = 16, k = 12, batch = 500;
        var rows = TestData.Blobs(40 * batch, d, k, 6.0, seed: 31);
        MiniBatchKMeans Learn(ComputePrecision p)
        {
            var model = new MiniBatchKMeans(Options(k, m => { m.CentroidPrecision = p; m.InitializationSize = 2000; }), d);
            for (int at = 0; at < 40 * batch; at += batch)
                model.PartialFit(rows.AsSpan(at * d, batch * d));
            return model;
        }
        var wide = Learn(ComputePrecision.Float32).Snapshot();
        var narrow = Learn(precision).Snapshot();
        foreach (float v in narrow.Centroids.Span)
        {
            // Exactly a value of the precision: no bits below its mantissa.
            float back = precision == ComputePrecision.Float16 ? (float)(Half)v : BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(v) & 0xFFFF0000u);
            Assert.AreEqual(back, v, $"{v} is not a {precision} value");
        }
        Assert.IsTrue(wide.Centroids.ToArray().Any(v => v != (float)(Half)v), "the float32 stream keeps bits that 16 bits cannot");
        double expected = Reference.Inertia(rows, d, wide.Centroids.Span);
        Assert.AreEqual(expected, Reference.Inertia(rows, d, narrow.Centroids.Span), inertiaTolerance * expected);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            new MiniBatchKMeans(Options(k, m => m.CentroidPrecision = ComputePrecision.TensorFloat32), d));
    }

    [TestMethod]
    public void A_damaged_saved_state_is_rejected()
    {
        var model = new MiniBatchKMeans(Options(2, m => m.InitializationSize = 10), 3);
        model.PartialFit(TestData.Gaussian(50, 3, seed: 1));
        var bytes = Saved(model);
        var flipped = bytes.ToArray();
        flipped[40] ^= 1;
        Assert.ThrowsExactly<InvalidDataException>(() => MiniBatchKMeans.Load(new MemoryStream(flipped)));
        Assert.ThrowsExactly<InvalidDataException>(() => MiniBatchKMeans.Load(new MemoryStream(bytes[..^9])));
        using var lloydModel = new MemoryStream();
        new KMeans(Options(2)).Fit(TestData.Gaussian(50, 3, 1), 3).Save(lloydModel);
        Assert.ThrowsExactly<InvalidDataException>(() => MiniBatchKMeans.Load(new MemoryStream(lloydModel.ToArray())), "a Lloyd model is not a mini-batch state");
    }

    [TestMethod]
    public void The_same_seed_gives_the_same_bits_at_any_thread_count()
    {
        const int d = 12, k = 16;
        var data = TestData.Blobs(30_000, d, k, 3.0, seed: 31);
        byte[]? streamed = null;
        float[]? fitted = null;
        foreach (int threads in new[] { 1, 2, 5 })
        {
            var model = new MiniBatchKMeans(Options(k, threads: threads), d);
            // Small batches sum on one thread; the last, of 24,000 rows, on every thread.
            foreach (var (at, rows) in new[] { (0, 3000), (3000, 3000), (6000, 24_000) })
                model.PartialFit(data.AsSpan(at * d, rows * d));
            streamed ??= Saved(model);
            CollectionAssert.AreEqual(streamed, Saved(model), $"{threads} threads, streamed");

            var options = Options(k, m => m.MaximumNumberOfEpochs = 3, threads: threads);
            options.Algorithm = KMeansAlgorithm.MiniBatch;
            var fit = new KMeans(options).Fit(data, d).Centroids.ToArray();
            fitted ??= fit;
            CollectionAssert.AreEqual(fitted, fit, $"{threads} threads, fitted");
        }
    }

    [TestMethod]
    public void A_stream_far_from_the_origin_is_learned_as_well_as_near_it()
    {
        const int d = 4, k = 5, batch = 500;
        var near = TestData.Blobs(10 * batch, d, k, 5.0, seed: 14).Select(v => v * 0.01f).ToArray();
        const double offset = 20_000;
        var far = TestData.Offset(near, offset);
        var a = new MiniBatchKMeans(Options(k), d);
        var b = new MiniBatchKMeans(Options(k), d);
        for (int s = 0; s < 10; s++)
        {
            a.PartialFit(near.AsSpan(s * batch * d, batch * d));
            b.PartialFit(far.AsSpan(s * batch * d, batch * d));
        }
        var nearModel = a.Snapshot();
        var farModel = b.Snapshot();
        // The rows differ by float32 rounding at 2·10⁴ (about 0.001, a tenth of the spread), so compare quality, not bits.
        double Inertia(KMeansModel m, float[] rows) => Enumerable.Range(0, rows.Length / d).Sum(r => Reference.Nearest(rows.AsSpan(r * d, d), m.Centroids.Span, d).Best);
        double nearInertia = Inertia(nearModel, near), farInertia = Inertia(farModel, far);
        Assert.IsTrue(farInertia < nearInertia * 1.5, $"far {farInertia:G4} vs near {nearInertia:G4}");
    }

    [TestMethod]
    public void Cosine_centroids_stay_unit_length()
    {
        const int d = 6, k = 4;
        var model = new MiniBatchKMeans(new KMeansOptions { NumberOfClusters = k, Distance = KMeansDistance.Cosine, Seed = 1 }, d);
        var data = TestData.Blobs(6000, d, k, 3.0, seed: 3);
        for (int at = 0; at < 6000; at += 1000)
            model.PartialFit(data.AsSpan(at * d, 1000 * d));
        var snapshot = model.Snapshot();
        for (int c = 0; c < k; c++)
            Assert.AreEqual(1.0, Math.Sqrt(Reference.Distance(snapshot.GetCentroid(c), new float[d])), 1e-5);
        Assert.ThrowsExactly<ArgumentException>(() => model.PartialFit(new float[d]), "a zero row has no direction");
    }

    [TestMethod]
    public void One_pass_over_a_source_equals_feeding_its_batches_by_hand()
    {
        const int d = 5, k = 6;
        var data = TestData.Blobs(7_777, d, k, 4.0, seed: 9);
        var weights = Enumerable.Range(0, 7_777).Select(i => 0.5f + i % 3).ToArray();
        var options = Options(k, m => m.BatchSize = 1000);
        var bySource = new MiniBatchKMeans(options, d);
        int reports = 0;
        bySource.PartialFit(new InMemoryBatchSource(data, d, weights), new Progress(() => reports++));
        var byHand = new MiniBatchKMeans(options, d);
        for (int at = 0; at < 7_777; at += 1000)
        {
            int count = Math.Min(1000, 7_777 - at);
            byHand.PartialFit(data.AsSpan(at * d, count * d), weights.AsSpan(at, count));
        }
        CollectionAssert.AreEqual(Saved(byHand), Saved(bySource));
        Assert.AreEqual(8, reports);
    }

    [TestMethod]
    public void Settings_and_devices_it_cannot_honour_are_refused()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new MiniBatchKMeans(Options(2, m => m.BatchSize = 0), 3));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new MiniBatchKMeans(Options(2, m => m.ForgettingFactor = 0), 3));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new MiniBatchKMeans(Options(2, m => m.ReassignmentRatio = -0.1), 3));
        Assert.ThrowsExactly<NotSupportedException>(() => new MiniBatchKMeans(new KMeansOptions { Device = ComputeDevice.Cuda }, 3));
        var options = new KMeansOptions { Algorithm = KMeansAlgorithm.MiniBatch, Device = ComputeDevice.Cuda, NumberOfClusters = 2 };
        Assert.ThrowsExactly<NotSupportedException>(() => new KMeans(options).Fit(TestData.Gaussian(100, 3, 1), 3));
    }

    private sealed class Progress(Action report) : IProgress<KMeansProgress>
    {
        public void Report(KMeansProgress value)
        {
            if (value.Phase == KMeansPhase.MiniBatch)
                report();
        }
    }
}
