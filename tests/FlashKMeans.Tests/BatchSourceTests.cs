using FlashKMeans.Clustering;
using FlashKMeans.Data;

namespace FlashKMeans.Tests;

[TestClass]
public sealed class BatchSourceTests
{
    private string _directory = "";

    [TestInitialize]
    public void CreateDirectory() => Directory.CreateDirectory(_directory = Path.Combine(Path.GetTempPath(), "fkm-src-" + Guid.NewGuid().ToString("N")));

    [TestCleanup]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    private static KMeansOptions Explicit(float[] initial, int k) => new()
    {
        NumberOfClusters = k, Device = ComputeDevice.Cpu, Initialization = KMeansInitialization.Explicit,
        InitialCentroids = initial, MaximumNumberOfIterations = 12, OptimizationTolerance = 0,
    };

    [TestMethod]
    [DataRow(1), DataRow(999), DataRow(4096), DataRow(100_000)]
    public void Raw_float32_file_streams_to_the_same_fit_as_the_array(int batchRows)
    {
        int d = 11, k = 9, n = 4099;
        var data = TestData.Blobs(n, d, centers: 9, spread: 3, seed: batchRows);
        string path = Path.Combine(_directory, "rows.f32");
        File.WriteAllBytes(path, System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()).ToArray());
        var initial = TestData.PickRows(data, d, k, seed: 1);
        var inMemory = new KMeans(Explicit(initial, k)).Fit(data, d);
        using var source = MemoryMappedBatchSource.OpenRaw(path, d, batchRows: batchRows);
        Assert.AreEqual((long)n, source.RowCount);
        FitAssert.Identical(inMemory, new KMeans(Explicit(initial, k)).Fit(source));
    }

    [TestMethod]
    public void Npy_float32_and_float16_files_are_read_correctly()
    {
        int d = 6, k = 4, n = 1000;
        var data = TestData.Blobs(n, d, centers: 4, spread: 4, seed: 3);
        var initial = TestData.PickRows(data, d, k, seed: 2);

        string f32 = Path.Combine(_directory, "rows32.npy");
        using (var stream = File.Create(f32))
        {
            NpyHeader.Write(stream, n, d, RowElementType.Float32);
            stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()));
        }
        using (var source = MemoryMappedBatchSource.OpenNpy(f32, batchRows: 300))
        {
            Assert.AreEqual(d, source.Dimension);
            FitAssert.Identical(new KMeans(Explicit(initial, k)).Fit(data, d), new KMeans(Explicit(initial, k)).Fit(source));
        }

        // float16 rows widen exactly to the float32 values of the rounded halves.
        var halves = data.Select(v => (Half)v).ToArray();
        var widened = halves.Select(h => (float)h).ToArray();
        string f16 = Path.Combine(_directory, "rows16.npy");
        using (var stream = File.Create(f16))
        {
            NpyHeader.Write(stream, n, d, RowElementType.Float16);
            stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(halves.AsSpan()));
        }
        var initialHalf = TestData.PickRows(widened, d, k, seed: 2);
        using (var source = MemoryMappedBatchSource.OpenNpy(f16, batchRows: 77))
            FitAssert.Identical(new KMeans(Explicit(initialHalf, k)).Fit(widened, d), new KMeans(Explicit(initialHalf, k)).Fit(source));
    }

    [TestMethod]
    public void Bad_files_get_clear_errors()
    {
        string ragged = Path.Combine(_directory, "ragged.f32");
        File.WriteAllBytes(ragged, new byte[4 * 10 + 2]);
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => MemoryMappedBatchSource.OpenRaw(ragged, 5)).Message, "whole number");

        string notNpy = Path.Combine(_directory, "not.npy");
        File.WriteAllText(notNpy, "this is not numpy");
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => MemoryMappedBatchSource.OpenNpy(notNpy)).Message, "not a .npy");

        string truncated = Path.Combine(_directory, "short.npy");
        using (var stream = File.Create(truncated))
        {
            NpyHeader.Write(stream, 100, 4, RowElementType.Float32);
            stream.Write(new byte[40]);
        }
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => MemoryMappedBatchSource.OpenNpy(truncated)).Message, "truncated");

        string doubles = Path.Combine(_directory, "f8.npy");
        using (var stream = File.Create(doubles))
        {
            NpyHeader.Write(stream, 1, 1, RowElementType.Float32);
        }
        var bytes = File.ReadAllBytes(doubles);
        var text = System.Text.Encoding.Latin1.GetString(bytes).Replace("<f4", "<f8");
        File.WriteAllBytes(doubles, System.Text.Encoding.Latin1.GetBytes(text));
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => MemoryMappedBatchSource.OpenNpy(doubles)).Message, "<f8");
    }

    [TestMethod]
    public void An_empty_raw_file_is_reported_as_holding_no_rows()
    {
        string empty = Path.Combine(_directory, "empty.f32");
        File.WriteAllBytes(empty, []);
        // Before: the memory map's own ArgumentException about "a positive capacity".
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => MemoryMappedBatchSource.OpenRaw(empty, 3)).Message, "no rows");
    }

    [TestMethod]
    public void A_npy_shape_too_large_for_the_file_is_rejected_not_wrapped_around()
    {
        // 2^62 rows × 4 float32 features is 2^66 bytes: a long wraps that to 0 and the size check passed,
        // mapping 2^62 rows over a file that holds none (any read then faults).
        string huge = Path.Combine(_directory, "huge.npy");
        using (var stream = File.Create(huge))
            NpyHeader.Write(stream, 1L << 62, 4, RowElementType.Float32);
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => MemoryMappedBatchSource.OpenNpy(huge)).Message, "truncated");
    }

    [TestMethod]
    public void A_npy_shape_that_is_not_a_number_is_invalid_data()
    {
        // Python 2 wrote longs as "3L"; an unparsable shape used to escape as a FormatException.
        string legacy = Path.Combine(_directory, "legacy.npy");
        using (var stream = File.Create(legacy))
        {
            NpyHeader.Write(stream, 3, 4, RowElementType.Float32);
            stream.Write(new byte[3 * 4 * 4]);
        }
        var text = System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(legacy)).Replace("(3, 4)", "(3L, 4)");
        File.WriteAllBytes(legacy, System.Text.Encoding.Latin1.GetBytes(text));
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => MemoryMappedBatchSource.OpenNpy(legacy)).Message, "shape");
    }

    /// <summary>A .npy file whose header dict is <paramref name="dict"/> (padded as NumPy pads it) over <paramref name="values"/> float32 zeros.</summary>
    private string NpyWithHeader(string name, string dict, int values)
    {
        int total = 10 + dict.Length + 1;
        string header = dict + new string(' ', (total + 63) / 64 * 64 - total) + "\n";
        string path = Path.Combine(_directory, name);
        using var stream = File.Create(path);
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)(header.Length & 0xFF), (byte)(header.Length >> 8)]);
        stream.Write(System.Text.Encoding.Latin1.GetBytes(header));
        stream.Write(new byte[values * 4]);
        return path;
    }

    [TestMethod]
    public void A_npy_header_with_a_key_twice_keeps_the_last_as_Python_does()
    {
        // Python's dict literal {'shape': (2, 3), ..., 'shape': (3, 2)} is {'shape': (3, 2)}.
        string path = NpyWithHeader("twice.npy", "{'descr': '<f4', 'shape': (2, 3), 'fortran_order': False, 'shape': (3, 2), }", 6);
        using var source = MemoryMappedBatchSource.OpenNpy(path);
        Assert.AreEqual(3L, source.RowCount);
        Assert.AreEqual(2, source.Dimension);
    }

    [TestMethod]
    public void A_descr_inside_another_keys_string_is_not_the_data_type()
    {
        // The real dtype is big-endian float64 ('>f8'); "'descr': '<f4'" is only text inside another value.
        string path = NpyWithHeader("hidden.npy", "{'note': \"'descr': '<f4'\", 'descr': '>f8', 'fortran_order': False, 'shape': (2, 2), }", 8);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => MemoryMappedBatchSource.OpenNpy(path));
        StringAssert.Contains(e.Message, "'>f8'");
        // And the other way round: the real dtype after a string that mentions another one.
        string good = NpyWithHeader("good.npy", "{'note': \"'descr': '>f8'\", 'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 4);
        using var source = MemoryMappedBatchSource.OpenNpy(good);
        Assert.AreEqual(RowElementType.Float32, source.ElementType);
    }

    [TestMethod]
    public void A_source_that_throws_midway_surfaces_the_error()
    {
        var data = TestData.Gaussian(5000, 3, seed: 1);
        var source = new FailingSource(new InMemoryBatchSource(data, 3, batchRows: 500), failOnPass: 4, failAtBatch: 3);
        var error = Assert.ThrowsExactly<IOException>(() => new KMeans(new KMeansOptions { NumberOfClusters = 3, Device = ComputeDevice.Cpu }).Fit(source));
        StringAssert.Contains(error.Message, "disk went away");
        Assert.AreEqual(0, source.OpenReaders, "every reader must be disposed");
    }

    [TestMethod]
    public void Validation_rejects_a_source_whose_batches_do_not_line_up()
    {
        var gap = new GappySource();
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => DataValidator.Scan(gap)).Message, "starts at row");
    }

    /// <summary>Fails with an IOException on a given pass and batch, and counts open readers.</summary>
    private sealed class FailingSource(IBatchSource inner, int failOnPass, int failAtBatch) : IBatchSource
    {
        private int _passes;
        public int OpenReaders;
        public int Dimension => inner.Dimension;
        public long? RowCount => inner.RowCount;
        public bool HasWeights => inner.HasWeights;

        public IBatchReader OpenReader()
        {
            Interlocked.Increment(ref OpenReaders);
            return new Reader(this, inner.OpenReader(), ++_passes == failOnPass);
        }

        private sealed class Reader(FailingSource owner, IBatchReader inner, bool fail) : IBatchReader
        {
            private int _batches;

            public bool TryRead(out DataBatch batch)
            {
                if (fail && ++_batches == owner._failAtBatch)
                    throw new IOException("The disk went away.");
                return inner.TryRead(out batch);
            }

            public void Dispose()
            {
                inner.Dispose();
                Interlocked.Decrement(ref owner.OpenReaders);
            }
        }

        private readonly int _failAtBatch = failAtBatch;
    }

    private sealed class GappySource : IBatchSource
    {
        public int Dimension => 2;
        public long? RowCount => null;
        public bool HasWeights => false;
        public IBatchReader OpenReader() => new Reader();

        private sealed class Reader : IBatchReader
        {
            private int _calls;
            public bool TryRead(out DataBatch batch)
            {
                _calls++;
                batch = _calls switch
                {
                    1 => new DataBatch(0, new float[] { 1, 2, 3, 4 }, 2),
                    2 => new DataBatch(5, new float[] { 1, 2 }, 2),
                    _ => default,
                };
                return _calls <= 2;
            }
            public void Dispose() { }
        }
    }
}

[TestClass]
public sealed class StreamedPredictTests
{
    [TestMethod]
    [DataRow(KMeansDistance.SquaredEuclidean), DataRow(KMeansDistance.Cosine)]
    public void Predict_over_a_batch_source_equals_predict_on_the_array(KMeansDistance distance)
    {
        int d = 7;
        var data = TestData.Blobs(5003, d, centers: 6, spread: 4, seed: 12);
        var model = new KMeans(new KMeansOptions { NumberOfClusters = 6, Distance = distance, Device = ComputeDevice.Cpu, Seed = 1 }).Fit(data, d);
        var expected = model.Predict(data, d);
        var streamed = new int[5003];
        model.Predict(new FlashKMeans.Data.InMemoryBatchSource(data, d, batchRows: 611), streamed);
        CollectionAssert.AreEqual(expected, streamed);
        Assert.ThrowsExactly<ArgumentException>(() => model.Predict(new FlashKMeans.Data.InMemoryBatchSource(data, d), new int[5002]));
        Assert.ThrowsExactly<ArgumentException>(() => model.Predict(new FlashKMeans.Data.InMemoryBatchSource(new float[16], 8), new int[2]));
    }
}
