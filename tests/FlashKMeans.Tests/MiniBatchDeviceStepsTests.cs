using FlashKMeans.Backends;
using FlashKMeans.Data;
using FlashKMeans.Engine;

namespace FlashKMeans.Tests;

/// <summary>
/// The engine's side of whole mini-batch steps on a device (<see cref="MiniBatchState.DeviceSteps"/>), run in CI against a
/// stand-in device that keeps its own centroids and seen weights and steps them on the host (the CPU scorer's labels and
/// distances, so that the reassignment draws the rows the host stream draws; its own float64 running mean): the state it
/// leaves must be the host stream's, the reassignment must reach the device's centroids, and a bad row the device finds
/// must leave the state as it was.
/// </summary>
[TestClass]
public sealed class MiniBatchDeviceStepsTests
{
    private const int D = 12, K = 8;

    private static MiniBatchOptions Settings(double reassignment = 0.01, double forgetting = 1.0) =>
        new() { ReassignmentRatio = reassignment, ForgettingFactor = forgetting };

    private static MiniBatchState NewState(float[] rows) => new(rows.AsSpan(0, K * D).ToArray(), D, KMeansDistance.SquaredEuclidean, seed: 9);

    [TestMethod]
    public void Device_steps_leave_the_host_streams_state_and_reassign_on_the_devices_centroids()
    {
        // The second half is a class the seeds never saw; with forgetting, the old centroids' weights fade until the
        // reassignment moves some of them, which the device stand-in must then hold.
        int n = 16_000, batch = 500;
        var rows = TestData.Blobs(n, D, K, 10.0, seed: 21);
        TestData.Blobs(n / 2, D, 1, 30.0, seed: 22).CopyTo(rows.AsSpan(n / 2 * D));
        var weights = TestData.Gaussian(n, 1, seed: 23).Select(v => 0.5f + Math.Abs(v)).ToArray();
        var settings = Settings(forgetting: 0.8);
        var host = NewState(rows);
        var device = NewState(rows);
        using var stand_in = new Float64Stepper(K, D);
        device.DeviceSteps = stand_in;
        var labels = new int[batch];
        var distances = new float[batch];
        for (int at = 0; at < n; at += batch)
        {
            var r = rows.AsSpan(at * D, batch * D);
            var w = weights.AsSpan(at, batch);
            var expected = host.Step(r, w, settings, 2, labels, distances);
            var got = device.Step(r, w, settings, 2, labels, distances, firstRow: at);
            Assert.AreEqual(expected.Inertia, got.Inertia, 1e-9 * expected.Inertia, $"inertia of the batch at {at}");
        }
        device.DeviceSteps = null;  // reads the state back
        Assert.IsTrue(host.Reassigned > 0, "the late class must have won reassigned centroids");
        Assert.AreEqual(host.Reassigned, device.Reassigned);
        Assert.AreEqual(host.Steps, device.Steps);
        for (int i = 0; i < K * D; i++)
            Assert.AreEqual(host.Centroids[i], device.Centroids[i], 1e-5 * (1 + Math.Abs(host.Centroids[i])), $"value {i}");
        for (int c = 0; c < K; c++)
            Assert.AreEqual(host.WeightSums[c], device.WeightSums[c], 1e-9 * host.WeightSums[c], $"seen weight {c}");
    }

    [TestMethod]
    public void A_bad_row_the_device_finds_names_the_row_and_changes_nothing()
    {
        var rows = TestData.Blobs(3000, D, K, 10.0, seed: 24);
        var state = NewState(rows);
        using var stand_in = new Float64Stepper(K, D);
        state.DeviceSteps = stand_in;
        var labels = new int[1000];
        var distances = new float[1000];
        state.Step(rows.AsSpan(0, 1000 * D), default, Settings(), 1, labels, distances, firstRow: 0);
        state.ReadBack();
        var before = state.Centroids.ToArray();
        var seenBefore = state.WeightSums.ToArray();
        (long steps, double inertia) = (state.Steps, state.OnlineInertia);
        var bad = rows.AsSpan(1000 * D, 1000 * D).ToArray();
        bad[(417 * D) + 5] = float.PositiveInfinity;
        var error = Assert.ThrowsExactly<ArgumentException>(() => state.Step(bad, default, Settings(), 1, labels, distances, firstRow: 1000));
        StringAssert.Contains(error.Message, "Row 1417");
        state.ReadBack();
        CollectionAssert.AreEqual(before, state.Centroids);
        CollectionAssert.AreEqual(seenBefore, state.WeightSums);
        Assert.AreEqual(steps, state.Steps);
        Assert.AreEqual(inertia, state.OnlineInertia);
    }

    [TestMethod]
    public void Steps_in_launch_sequences_equal_steps_one_by_one_and_stop_at_a_bad_batch()
    {
        // Sequences end where the reassignment falls due (every 10·K = 80 rows here, so batches of 30 go three or fewer at
        // a time; none while a centroid has seen nothing): the state must be the one-by-one stream's, and a bad batch inside
        // a sequence must leave the steps before it recorded and none after it.
        int n = 6000, batch = 30;
        var rows = TestData.Blobs(n, D, K, 10.0, seed: 25);
        TestData.Blobs(n / 2, D, 1, 30.0, seed: 26).CopyTo(rows.AsSpan(n / 2 * D));
        int badRow = 4000 + 7;
        rows[(badRow * D) + 2] = float.NaN;
        var settings = Settings(forgetting: 0.9);
        var grouped = NewState(rows);
        using var second = new Float64Stepper(K, D);
        grouped.DeviceSteps = second;
        long next = 0, done = 0;
        int sequences = 0, longest = 0;
        var error = Assert.ThrowsExactly<ArgumentException>(() =>
        {
            while (true)
            {
                var counts = new List<int>();
                for (; counts.Count < 8 && next < n; next += batch)
                {
                    second.Stage(rows.AsSpan((int)next * D, batch * D), default);
                    counts.Add(batch);
                }
                int steps = grouped.StepsInOneSequence(counts.ToArray(), settings);
                longest = Math.Max(longest, steps);
                sequences++;
                long start = done;
                grouped.StepStaged(counts.Take(steps).ToArray(), settings, done,
                    i => (rows.AsSpan((int)(start + i * batch) * D, batch * D).ToArray(), []), _ => done += batch);
                // Put back what this sequence left staged: restage from the first row not stepped.
                second.DiscardStaged();
                next = done;
            }
        });
        StringAssert.Contains(error.Message, $"Row {badRow}");
        Assert.IsTrue(longest > 1 && sequences < 4000 / batch, $"{sequences} sequences, the longest {longest} steps");
        Assert.AreEqual(3990, done, "the steps before the bad batch were recorded, the bad one and those after it not");
        grouped.ReadBack();
        var expected = NewState(rows);
        using var third = new Float64Stepper(K, D);
        expected.DeviceSteps = third;
        var labels = new int[batch];
        var distances = new float[batch];
        for (int at = 0; at < 3990; at += batch)
            expected.Step(rows.AsSpan(at * D, batch * D), default, settings, 1, labels, distances, firstRow: at);
        expected.ReadBack();
        Assert.IsTrue(expected.Reassigned > 0, "the reassignment must have run");
        Assert.AreEqual(expected.Reassigned, grouped.Reassigned);
        Assert.AreEqual(expected.Steps, grouped.Steps);
        CollectionAssert.AreEqual(expected.Centroids, grouped.Centroids);
        CollectionAssert.AreEqual(expected.WeightSums, grouped.WeightSums);
        Assert.AreEqual(expected.OnlineInertia, grouped.OnlineInertia);
    }

    /// <summary>A device stand-in: each staged batch stepped on the host, its running mean in float64.</summary>
    private sealed class Float64Stepper(int k, int d) : IMiniBatchStepper
    {
        private readonly float[] _centroids = new float[k * d];
        private readonly double[] _seen = new double[k];
        private readonly Queue<(float[] Rows, float[] Weights)> _staged = new();
        private float[] _distances = [];

        public int StagingDepth => 3;

        public int StagedBatches => _staged.Count;

        public ReadOnlySpan<double> WeightSums => _seen;

        public void Load(ReadOnlySpan<float> centroids, ReadOnlySpan<double> weightSums)
        {
            centroids.CopyTo(_centroids);
            weightSums.CopyTo(_seen);
        }

        public void Read(Span<float> centroids, Span<double> weightSums)
        {
            _centroids.CopyTo(centroids);
            _seen.CopyTo(weightSums);
        }

        public void Stage(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights) => _staged.Enqueue((rows.ToArray(), weights.ToArray()));

        public void Stage(IRowBlockSource source, long first, int count) => throw new NotSupportedException();

        public void StepStaged(double forgettingFactor, Span<MiniBatchStepResult> results)
        {
            bool skipped = false;
            for (int i = 0; i < results.Length; i++)
            {
                var (rows, weights) = _staged.Dequeue();
                results[i] = skipped ? new MiniBatchStepResult(double.NaN, 0, MiniBatchStepResult.NotStepped) : Step(rows, weights, forgettingFactor);
                skipped |= results[i].BadRow != -1;
            }
        }

        private MiniBatchStepResult Step(float[] rows, float[] weights, double forgettingFactor)
        {
            int n = rows.Length / d;
            for (int r = 0; r < n; r++)
            {
                if (rows.AsSpan(r * d, d).ToArray().Any(v => !float.IsFinite(v)))
                    return new MiniBatchStepResult(double.NaN, 0, r);
            }
            var sums = new double[k * d];
            var batch = new double[k];
            var labels = new int[n];
            _distances = new float[n];
            using (var scorer = new FlashKMeans.Cpu.CpuScorer(_centroids, d, 1))
                scorer.Assign(rows, labels, _distances);
            double inertia = 0;
            for (int r = 0; r < n; r++)
            {
                double w = weights.Length == 0 ? 1 : weights[r];
                inertia += w * Math.Max(_distances[r], 0f);
                batch[labels[r]] += w;
                for (int j = 0; j < d; j++)
                    sums[labels[r] * d + j] += w * rows[r * d + j];
            }
            double moved = 0;
            for (int c = 0; c < k; c++)
            {
                double kept = _seen[c] * forgettingFactor;
                _seen[c] = kept + batch[c];
                if (batch[c] == 0)
                    continue;
                for (int j = 0; j < d; j++)
                {
                    float updated = (float)((_centroids[c * d + j] * kept + sums[c * d + j]) / (kept + batch[c]));
                    moved += Math.Pow(updated - _centroids[c * d + j], 2);
                    _centroids[c * d + j] = updated;
                }
            }
            return new MiniBatchStepResult(inertia, moved, -1);
        }

        public void ReadDistances(Span<float> destination) => _distances.CopyTo(destination);

        public void DiscardStaged() => _staged.Clear();

        public void Dispose() => _staged.Clear();
    }
}
