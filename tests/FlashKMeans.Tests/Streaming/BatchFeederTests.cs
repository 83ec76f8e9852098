using System.Runtime.InteropServices;
using FlashKMeans.Clustering;
using FlashKMeans.Cuda.Streaming;
using FlashKMeans.Data;

namespace FlashKMeans.Tests.Streaming;

/// <summary>A forward-only source (no random access) over an array, that can fail at a chosen row.</summary>
internal sealed class ForwardOnlySource(float[] rows, int dimension, int batchRows, float[]? weights = null, long failAtRow = -1, int failOnPass = 0) : IBatchSource
{
    private int _passes;
    private readonly float[] _rows = rows;
    private readonly float[]? _weights = weights;
    private readonly int _batchRows = batchRows;
    private readonly long _failAtRow = failAtRow;
    private readonly int _failOnPass = failOnPass;

    public int Dimension => dimension;

    public long? RowCount => _rows.Length / dimension;

    public bool HasWeights => _weights is not null;

    /// <summary>Passes opened so far.</summary>
    public int Passes => _passes;

    public IBatchReader OpenReader() => new Reader(this, _passes++);

    private sealed class Reader(ForwardOnlySource source, int pass) : IBatchReader
    {
        private long _next;

        public bool TryRead(out DataBatch batch)
        {
            long total = source.RowCount!.Value;
            if (_next >= total)
            {
                batch = default;
                return false;
            }
            int count = (int)Math.Min(source._batchRows, total - _next);
            if (pass >= source._failOnPass && source._failAtRow >= 0 && _next <= source._failAtRow && source._failAtRow < _next + count)
                throw new IOException($"disk error at row {source._failAtRow}");
            int d = source.Dimension;
            batch = new DataBatch(_next, source._rows.AsMemory((int)(_next * d), count * d), d,
                source._weights is null ? default : source._weights.AsMemory((int)_next, count));
            _next += count;
            return true;
        }

        public void Dispose() { }
    }
}

[TestClass]
public sealed class BatchFeederTests
{
    [TestMethod]
    [DataRow(1, 1, 1)]        // one row
    [DataRow(1000, 64, 7)]    // a ring batch that does not divide N, source batches of another size
    [DataRow(1000, 5000, 300)] // a ring batch larger than N
    [DataRow(1000, 128, 1000)]
    public void Forward_and_random_access_sources_fill_the_same_bytes(int n, int batchRows, int sourceBatchRows)
    {
        int d = 5, pitch = 8;
        var rows = TestData.Gaussian(n, d, seed: n);
        var weights = Enumerable.Range(0, n).Select(i => 1f + i % 3).ToArray();
        var forward = new ForwardOnlySource(rows, d, sourceBatchRows, weights);
        var random = new InMemoryBatchSource(rows, d, weights, sourceBatchRows);
        using var a = new BatchFeeder(forward, n, TransferElement.Float16, pitch, threads: 2);
        using var b = new BatchFeeder(random, n, TransferElement.Float16, pitch, threads: 2);
        Assert.IsFalse(a.IsRandomAccess);
        Assert.IsTrue(b.IsRandomAccess);
        FillBoth(a, b, n, batchRows, (first, count, bytesA, wA) =>
        {
            CollectionAssert.AreEqual(weights.AsSpan((int)first, count).ToArray(), wA);
            var halves = MemoryMarshal.Cast<byte, Half>(bytesA);
            Assert.AreEqual((Half)rows[(first + count - 1) * d + d - 1], halves[(count - 1) * pitch + d - 1]);
        });
    }

    /// <summary>
    /// Two passes of both feeders over batches of <paramref name="batchRows"/>, the second skipping every other batch as
    /// cached batches are skipped: each batch's bytes and weights must be equal; <paramref name="check"/> sees the first's.
    /// </summary>
    private static void FillBoth(BatchFeeder a, BatchFeeder b, int n, int batchRows, Action<long, int, byte[], float[]>? check = null)
    {
        for (int pass = 0; pass < 2; pass++)
        {
            a.Restart();
            b.Restart();
            for (long first = 0, i = 0; first < n; first += batchRows, i++)
            {
                if (pass == 1 && i % 2 == 0)
                    continue;
                int count = (int)Math.Min(batchRows, n - first);
                var bytesA = new byte[a.TransferBytes(count)];
                var bytesB = new byte[b.TransferBytes(count)];
                var wA = new float[count];
                var wB = new float[count];
                a.Fill(first, count, bytesA, wA);
                b.Fill(first, count, bytesB, wB);
                CollectionAssert.AreEqual(bytesB, bytesA, $"pass {pass}, rows from {first}");
                CollectionAssert.AreEqual(wB, wA);
                check?.Invoke(first, count, bytesA, wA);
            }
        }
    }

    [TestMethod]
    [DataRow(false, false)]
    [DataRow(true, false)]
    [DataRow(true, true)]
    public void A_centring_or_normalising_source_fills_the_bytes_of_its_mapped_rows(bool half, bool unitLength)
    {
        var type = half ? TransferElement.Float16 : TransferElement.Float32;
        // The feeder maps slices itself (on its threads) instead of reading through the mapping: the bytes must be those
        // of the rows mapped beforehand, over passes that skip batches as cached ones are skipped.
        int n = 20_011, d = 24, pitch = 24, batchRows = 4096;
        var rows = TestData.Offset(TestData.Gaussian(n, d, seed: 4), 1e3);
        var weights = Enumerable.Range(0, n).Select(i => 1f + i % 5).ToArray();
        var shift = Reference.Mean(rows, d);
        IBatchSource mapping = new ShiftedBatchSource(new ForwardOnlySource(rows, d, 3001, weights), shift);
        var mapped = rows.ToArray();
        ShiftedBatchSource.Subtract(mapped, shift);
        if (unitLength)
        {
            mapping = new UnitLengthBatchSource(mapping);
            for (int r = 0; r < n; r++)
                UnitLengthBatchSource.Normalize(mapped.AsSpan(r * d, d), r);
        }
        using var a = new BatchFeeder(mapping, n, type, pitch, threads: 2);
        using var b = new BatchFeeder(new ForwardOnlySource(mapped, d, 1777, weights), n, type, pitch, threads: 2);
        FillBoth(a, b, n, batchRows);
    }

    [TestMethod]
    public void A_source_that_throws_midway_gives_a_clear_error_and_the_ring_frees_everything()
    {
        int n = 1000, d = 4;
        var rows = TestData.Gaussian(n, d, seed: 1);
        var allocator = new FakeSlotAllocator();
        var source = new ForwardOnlySource(rows, d, 100, failAtRow: 650);
        var error = Assert.ThrowsExactly<InvalidOperationException>(() =>
        {
            using var ring = new PinnedRing(allocator, 3, 128L * d * 4);
            using var feeder = new BatchFeeder(source, n, TransferElement.Float32, d, threads: 2);
            for (long first = 0, i = 0; first < n; first += 128, i++)
            {
                var slot = ring[ring.SlotOf(i)];
                int count = (int)Math.Min(128, n - first);
                unsafe
                {
                    feeder.Fill(first, count, new Span<byte>((void*)slot.Pointer, (int)feeder.TransferBytes(count)), default);
                }
            }
        });
        StringAssert.Contains(error.Message, "batch source failed");
        StringAssert.Contains(error.Message, "[512, 640)");  // the ring batch that needed the failing source batch
        Assert.IsInstanceOfType<IOException>(error.InnerException);
        Assert.AreEqual(0, allocator.Live);
    }

    [TestMethod]
    public void A_source_that_ends_early_or_skips_is_an_error()
    {
        int d = 3;
        var rows = TestData.Gaussian(10, d, seed: 2);
        using var feeder = new BatchFeeder(new ForwardOnlySource(rows, d, 4), 12, TransferElement.Float32, d, threads: 1);
        var buffer = new byte[12 * d * 4];
        var error = Assert.ThrowsExactly<InvalidDataException>(() => feeder.Fill(0, 12, buffer, default));
        StringAssert.Contains(error.Message, "changed between passes: the source ended after 10 rows; 12 were expected");
    }

    [TestMethod]
    public void A_source_with_more_rows_than_validated_is_an_error_at_the_end_of_the_pass()
    {
        int d = 3;
        var rows = TestData.Gaussian(10, d, seed: 2);
        foreach (int batchRows in new[] { 4, 8 })
        {
            // 8 rows were validated; the source now has 10. Batches of 4 end exactly at row 8, batches of 8 do not.
            using var feeder = new BatchFeeder(new ForwardOnlySource(rows, d, batchRows), 8, TransferElement.Float32, d, threads: 1);
            var buffer = new byte[8 * d * 4];
            var error = Assert.ThrowsExactly<InvalidDataException>(() => feeder.Fill(0, 8, buffer, default));
            StringAssert.Contains(error.Message, "more than the 8 rows");
        }
    }

    [TestMethod]
    public void Validation_finds_any_non_finite_half_and_fails_unwrapped()
    {
        for (int length = 1; length <= 40; length++)
        {
            for (int at = 0; at < length; at += 7)
            {
                var values = Enumerable.Range(0, length).Select(i => (Half)(i - 3.5f)).ToArray();
                Assert.IsTrue(BatchFeeder.AllFiniteHalf(System.Runtime.InteropServices.MemoryMarshal.Cast<Half, ushort>(values)));
                values[at] = at % 2 == 0 ? Half.NaN : Half.NegativeInfinity;
                Assert.IsFalse(BatchFeeder.AllFiniteHalf(System.Runtime.InteropServices.MemoryMarshal.Cast<Half, ushort>(values)), $"length {length}, at {at}");
            }
        }
        var rows = TestData.Gaussian(100, 3, seed: 1);
        rows[41 * 3 + 1] = float.NaN;
        foreach (IBatchSource source in new IBatchSource[] { new InMemoryBatchSource(rows, 3), new ForwardOnlySource(rows, 3, 17) })
        {
            using var feeder = new BatchFeeder(source, 100, TransferElement.Float32, 4, 1, validateRows: true);
            var buffer = new byte[100 * 16];
            feeder.Fill(0, 40, buffer, default);
            var error = Assert.ThrowsExactly<ArgumentException>(() => feeder.Fill(40, 20, buffer, default));
            StringAssert.Contains(error.Message, "NaN or infinite");
        }
    }

    [TestMethod]
    public void Validation_rejects_rows_too_long_for_float_distances_as_scoring_on_the_cpu_does()
    {
        // The streamed GPU prediction checks rows in the feeder; it must reject what Predict on the CPU (and a fit)
        // rejects: a finite row whose squared length overflows the float32 distances.
        var rows = TestData.Gaussian(100, 3, seed: 2);
        float huge = MathF.Sqrt(DataValidator.MaximumSquaredNorm) * 2;
        for (int f = 0; f < 3; f++)
            rows[57 * 3 + f] = huge * MathF.Sign(rows[57 * 3 + f]);
        Assert.IsTrue(DataValidator.AllFinite(rows));
        var model = new KMeans(new KMeansOptions { NumberOfClusters = 3, Device = ComputeDevice.Cpu }).Fit(TestData.Gaussian(50, 3, seed: 3), 3);
        var cpu = Assert.ThrowsExactly<ArgumentException>(() => model.Predict(new InMemoryBatchSource(rows, 3), new int[100]));
        StringAssert.Contains(cpu.Message, "Row 57 ");
        foreach (IBatchSource source in new IBatchSource[] { new InMemoryBatchSource(rows, 3), new ForwardOnlySource(rows, 3, 17) })
        {
            using var feeder = new BatchFeeder(source, 100, TransferElement.Float32, 4, 1, validateRows: true);
            var buffer = new byte[100 * 16];
            feeder.Fill(0, 50, buffer, default);
            var error = Assert.ThrowsExactly<ArgumentException>(() => feeder.Fill(50, 20, buffer, default));
            StringAssert.Contains(error.Message, "Row 57 ");
            StringAssert.Contains(error.Message, "squared length");
        }
    }
}
