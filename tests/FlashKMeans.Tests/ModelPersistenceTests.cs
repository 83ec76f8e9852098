using FlashKMeans.Clustering;

namespace FlashKMeans.Tests;

[TestClass]
public sealed class ModelPersistenceTests
{
    private static KMeansModel Train(KMeansDistance distance = KMeansDistance.SquaredEuclidean) =>
        new KMeans(new KMeansOptions { NumberOfClusters = 6, Distance = distance, Device = ComputeDevice.Cpu, Seed = 3 })
            .Fit(TestData.Blobs(2000, 7, centers: 6, spread: 5, seed: 13), 7);

    private static byte[] Bytes(KMeansModel model)
    {
        using var stream = new MemoryStream();
        model.Save(stream);
        return stream.ToArray();
    }

    [TestMethod]
    [DataRow(KMeansDistance.SquaredEuclidean), DataRow(KMeansDistance.Cosine)]
    public void Save_and_load_round_trip(KMeansDistance distance)
    {
        var model = Train(distance);
        var loaded = KMeansModel.Load(new MemoryStream(Bytes(model)));
        CollectionAssert.AreEqual(model.Centroids.ToArray(), loaded.Centroids.ToArray());
        CollectionAssert.AreEqual(model.InertiaHistory.ToArray(), loaded.InertiaHistory.ToArray());
        Assert.AreEqual(model.Inertia, loaded.Inertia);
        Assert.AreEqual(model.Iterations, loaded.Iterations);
        Assert.AreEqual(model.Converged, loaded.Converged);
        Assert.AreEqual(model.Distance, loaded.Distance);
        var fresh = TestData.Gaussian(300, 7, seed: 99);
        CollectionAssert.AreEqual(model.Predict(fresh, 7), loaded.Predict(fresh, 7));
        CollectionAssert.AreEqual(model.Transform(fresh), loaded.Transform(fresh));
    }

    [TestMethod]
    public void File_save_is_atomic_and_loads_back()
    {
        var model = Train();
        string directory = Path.Combine(Path.GetTempPath(), "fkm-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            string path = Path.Combine(directory, "model.fkm");
            File.WriteAllText(path, "old content");
            model.Save(path);
            Assert.AreEqual(1, Directory.GetFiles(directory).Length, "no temporary file may be left behind");
            CollectionAssert.AreEqual(model.Centroids.ToArray(), KMeansModel.Load(path).Centroids.ToArray());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void Every_single_byte_corruption_is_detected()
    {
        var bytes = Bytes(Train());
        var random = new Random(8);
        for (int i = 0; i < bytes.Length; i++)
        {
            var damaged = (byte[])bytes.Clone();
            damaged[i] ^= (byte)(1 << random.Next(8));
            Assert.ThrowsExactly<InvalidDataException>(() => KMeansModel.Load(new MemoryStream(damaged)), $"flipped a bit of byte {i}");
        }
    }

    [TestMethod]
    public void Truncation_at_any_length_is_detected()
    {
        var bytes = Bytes(Train());
        for (int length = 0; length < bytes.Length; length += 7)
        {
            var error = Assert.ThrowsExactly<InvalidDataException>(() => KMeansModel.Load(new MemoryStream(bytes, 0, length)));
            StringAssert.Contains(error.Message, "FlashKMeans model");
        }
    }

    [TestMethod]
    [DataRow("centroids"), DataRow("inertia history")]
    public void A_header_claiming_more_than_a_non_seekable_stream_holds_fails_without_allocating_the_claim(string part)
    {
        var model = Train();
        var bytes = Bytes(model);
        var loaded = KMeansModel.Load(new NonSeekableStream(bytes));
        CollectionAssert.AreEqual(model.Centroids.ToArray(), loaded.Centroids.ToArray(), "an intact model loads from a non-seekable stream");

        // A corrupted header the checksum has not yet been able to catch: the largest K (or history) the header
        // check allows for this d, gigabytes the stream does not have. Load used to allocate it all up front.
        long claimed;
        if (part == "centroids")
        {
            int k = Array.MaxLength / model.Dimension;
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), k);
            claimed = 4L * k * model.Dimension;
        }
        else
        {
            int history = 100_000_000;
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(44), history);
            claimed = 8L * history;
        }
        var stream = new NonSeekableStream(bytes);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.ThrowsExactly<InvalidDataException>(() => KMeansModel.Load(stream));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        watch.Stop();
        StringAssert.Contains(error.Message, "Truncated FlashKMeans model");
        StringAssert.Contains(error.Message, part);
        Assert.IsLessThan(16L << 20, allocated, $"allocated {allocated:N0} bytes for a claim of {claimed:N0}");
        Assert.IsLessThan(claimed / 100, allocated);
        Assert.IsLessThan(5.0, watch.Elapsed.TotalSeconds);
    }

    /// <summary>A stream that can only be read forward, as a network or decompression stream is.</summary>
    private sealed class NonSeekableStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes, writable: false);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override int Read(Span<byte> buffer) => _inner.Read(buffer);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override void Flush() { }
    }

    /// <summary>The model's bytes with <paramref name="edit"/> applied and the checksum made right again, as a forger would.</summary>
    private static byte[] Forged(KMeansModel model, Action<byte[]> edit)
    {
        var bytes = Bytes(model);
        edit(bytes);
        uint crc = 0xFFFFFFFF;
        for (int i = 0; i < bytes.Length - 4; i++)
        {
            crc ^= bytes[i];
            for (int bit = 0; bit < 8; bit++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4), ~crc);
        return bytes;
    }

    [TestMethod]
    [DataRow("flags"), DataRow("reseeded"), DataRow("inertia"), DataRow("history"), DataRow("cosine length")]
    public void A_well_checksummed_model_with_impossible_values_is_rejected(string what)
    {
        var model = Train(what == "cosine length" ? KMeansDistance.Cosine : KMeansDistance.SquaredEuclidean);
        Assert.IsNotNull(KMeansModel.Load(new MemoryStream(Forged(model, _ => { }))), "the forger's checksum is right");
        var bytes = Forged(model, b =>
        {
            var span = b.AsSpan();
            switch (what)
            {
                case "flags": System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(span[6..], 0x0004); break;
                case "reseeded": System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(span[36..], -3); break;
                case "inertia": System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(span[28..], -1.5); break;
                case "history": System.Buffers.Binary.BinaryPrimitives.WriteDoubleLittleEndian(span[48..], -2.0); break;
                default:
                    // The first centroid value, doubled: that centroid is no longer unit length.
                    int first = 48 + 8 * model.InertiaHistory.Count;
                    float v = System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(span[first..]);
                    System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(span[first..], v * 2 + 0.5f);
                    break;
            }
        });
        var e = Assert.ThrowsExactly<InvalidDataException>(() => KMeansModel.Load(new MemoryStream(bytes)));
        StringAssert.Contains(e.Message, "Corrupted");
    }

    [TestMethod]
    public void Saving_into_a_missing_folder_names_the_target()
    {
        string target = Path.Combine(Path.GetTempPath(), "fkm-missing-" + Guid.NewGuid().ToString("N"), "model.fkm");
        var e = Assert.ThrowsExactly<DirectoryNotFoundException>(() => Train().Save(target));
        StringAssert.Contains(e.Message, target);
        Assert.IsFalse(e.Message.Contains(".tmp-"), e.Message);
    }

    [TestMethod]
    public void Cosine_models_from_given_centroids_hold_unit_centroids_and_round_trip()
    {
        var model = KMeansModel.FromCentroids([3, 4, 0, 0, 0, 2], 3, KMeansDistance.Cosine);
        CollectionAssert.AreEqual(new[] { 0.6f, 0.8f, 0f, 0f, 0f, 1f }, model.Centroids.ToArray());
        var loaded = KMeansModel.Load(new MemoryStream(Bytes(model)));
        CollectionAssert.AreEqual(model.Centroids.ToArray(), loaded.Centroids.ToArray());
    }

    [TestMethod]
    public void Not_a_model_and_future_versions_are_named()
    {
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => KMeansModel.Load(new MemoryStream("hello world, not a model at all, really not"u8.ToArray()))).Message, "Not a FlashKMeans model");
        var bytes = Bytes(Train());
        bytes[4] = 9;
        StringAssert.Contains(Assert.ThrowsExactly<InvalidDataException>(() => KMeansModel.Load(new MemoryStream(bytes))).Message, "version 9");
    }

    [TestMethod]
    public void Model_from_centroids_predicts_nearest()
    {
        int d = 3;
        var centroids = TestData.Gaussian(5, d, seed: 6);
        var model = KMeansModel.FromCentroids(centroids, d);
        var rows = TestData.Gaussian(200, d, seed: 7);
        var labels = model.Predict(rows, d);
        for (int r = 0; r < 200; r++)
            Reference.AssertNearest(rows.AsSpan(r * d, d), centroids, d, labels[r], $"row {r}");
        var all = model.Transform(rows);
        for (int r = 0; r < 200; r++)
            for (int c = 0; c < 5; c++)
                Assert.AreEqual(Reference.Distance(rows.AsSpan(r * d, d), centroids.AsSpan(c * d, d)), all[r * 5 + c], 1e-4);
        Assert.AreEqual(Enumerable.Range(0, 200).Sum(r => all.Skip(r * 5).Take(5).Min()), model.Score(rows), 1e-3);
    }

    [TestMethod]
    public void A_model_larger_than_one_byte_array_saves_and_loads()
    {
        // 2 × 270 M centroid values are 2.16 GB of model: Save used to build the whole file in one byte array and
        // failed with an OverflowException, although Load accepts K × d up to Array.MaxLength values.
        const int k = 2, d = 270_000_000;
        var values = new float[(long)k * d];
        values[0] = 1.5f;
        values[d - 1] = -2.25f;
        values[^1] = 3.125f;
        var model = KMeansModel.FromCentroids(values, d);
        values = null;
        string path = Path.Combine(Path.GetTempPath(), "fkm-large-" + Guid.NewGuid().ToString("N") + ".fkmm");
        try
        {
            model.Save(path);
            Assert.AreEqual(48 + 4L * k * d + 4, new FileInfo(path).Length);
            var loaded = KMeansModel.Load(path);
            Assert.AreEqual(k, loaded.NumberOfClusters);
            Assert.AreEqual(d, loaded.Dimension);
            Assert.IsTrue(model.Centroids.Span.SequenceEqual(loaded.Centroids.Span));
            Assert.AreEqual(-2.25f, loaded.GetCentroid(0)[d - 1]);
            Assert.AreEqual(3.125f, loaded.GetCentroid(1)[d - 1]);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
