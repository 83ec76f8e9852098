using FlashKMeans.Clustering;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet.Tests;

[TestClass]
public sealed class TransformerTests
{
    private const int D = 12;
    private const int K = 7;

    private static (GpuKMeansTransformer Model, float[] Rows) Train(int n = 1200, int seed = 3, int blockRows = 256)
    {
        var (rows, _) = Blobs.Make(n, D, K, 5, seed);
        var options = new GpuKMeansTrainer.Options { NumberOfClusters = K, Device = ComputeDevice.Cpu, Seed = seed, BatchSize = blockRows };
        return (new MLContext().Clustering.Trainers.FlashKMeans(options).Fit(new TestDataView(rows, D)), rows);
    }

    [TestMethod]
    public void ScoringBlocksOfWideFeaturesFitInAnArray()
    {
        // Blocks were sized by K alone: 16384 rows of 2^24 features overflowed the feature block's int size
        // (blocks double from 64 rows, so scoring failed once a few hundred rows had been read).
        const int wide = 1 << 24;
        var model = KMeansModel.FromCentroids(new float[2 * wide], wide);
        using var scorer = new BatchScorer(model, new ScoringDevice(ComputeDevice.Cpu, ComputePrecision.Float32, null));
        int rows = scorer.RowsPerBlock(GpuKMeansTrainer.Defaults.BatchSize);
        Assert.IsTrue(rows >= 1);
        Assert.IsTrue((long)rows * wide <= 16L << 20, $"{rows} rows × {wide} features");
        Assert.AreEqual(GpuKMeansTrainer.Defaults.BatchSize, new BatchScorer(KMeansModel.FromCentroids(new float[7 * 12], 12),
            new ScoringDevice(ComputeDevice.Cpu, ComputePrecision.Float32, null)).RowsPerBlock(GpuKMeansTrainer.Defaults.BatchSize));
    }

    [TestMethod]
    public void OutputColumnsHaveMLNetsTypes()
    {
        var (model, rows) = Train();
        var schema = model.Transform(new TestDataView(rows, D)).Schema;
        Assert.AreEqual("Id", schema[0].Name);
        Assert.AreEqual("Features", schema[1].Name);
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, K), schema["Score"].Type);
        Assert.AreEqual(new KeyDataViewType(typeof(uint), K), schema["PredictedLabel"].Type);
        string kind = "";
        var value = default(ReadOnlyMemory<char>);
        schema["Score"].Annotations.GetValue("ScoreColumnKind", ref value);
        kind = value.ToString();
        Assert.AreEqual("Clustering", kind);
        Assert.AreEqual(schema.Count, model.GetOutputSchema(new TestDataView(rows, D).Schema).Count);
    }

    [TestMethod]
    public void ScoreIsTheEngineDistancesAndTheKeyIsArgminPlusOne()
    {
        var (model, rows) = Train(n: 1000, blockRows: 96);
        var scored = model.Transform(new TestDataView(rows, D));
        var scores = Read.Scores(scored);
        var keys = Read.Keys(scored);
        var ids = Read.Ints(scored, "Id");
        CollectionAssert.AreEqual(Enumerable.Range(0, 1000).ToArray(), ids, "pass-through columns stay aligned with their rows");

        var engine = model.EngineModel.Transform(rows);
        var centroids = model.GetCentroids();
        for (int i = 0; i < scores.Length; i++)
        {
            Assert.HasCount(K, scores[i]);
            CollectionAssert.AreEqual(engine.AsSpan(i * K, K).ToArray(), scores[i], $"row {i}");
            int argmin = Array.IndexOf(scores[i], scores[i].Min());
            Assert.AreEqual((uint)argmin + 1, keys[i], $"row {i}");
            // And against a float64 reference computed here from the exposed centroids.
            for (int c = 0; c < K; c++)
            {
                double exact = 0;
                for (int f = 0; f < D; f++)
                {
                    double diff = rows[i * D + f] - (double)centroids[c][f];
                    exact += diff * diff;
                }
                Assert.AreEqual(exact, scores[i][c], 1e-4 * Math.Max(1, exact), $"row {i}, cluster {c}");
            }
        }
    }

    [TestMethod]
    public void TransformAndRowMapperGiveIdenticalResults()
    {
        var (model, rows) = Train(n: 700, blockRows: 50);
        var view = new TestDataView(rows, D);
        var bulkScores = Read.Scores(model.Transform(view));
        var bulkKeys = Read.Keys(model.Transform(view));
        var (rowScores, rowKeys) = Read.ThroughRowMapper(model, view);
        CollectionAssert.AreEqual(bulkKeys, rowKeys);
        for (int i = 0; i < bulkScores.Length; i++)
            CollectionAssert.AreEqual(bulkScores[i], rowScores[i], $"row {i}");
        Assert.AreEqual(0, view.OpenCursors);
    }

    [TestMethod]
    public void RowsTooLongForFloatDistancesGetTheMissingKeyInTransformAndRowMapper()
    {
        // A row whose squared length overflows float32 has distances of ∞ or ∞ − ∞ = NaN; the argmin of those used
        // to come out as key 1. Such a row cannot be scored, so it must read as a missing row does: key 0, all NaN.
        var (model, rows) = Train(n: 600, blockRows: 64);
        var random = new Random(17);
        var tooLong = new HashSet<int>();
        var nearLimit = new HashSet<int>();
        var data = (float[])rows.Clone();
        while (tooLong.Count < 12)
        {
            int i = random.Next(600);
            if (!tooLong.Add(i))
                continue;
            var row = data.AsSpan(i * D, D);
            double norm = Math.Sqrt(row.ToArray().Sum(v => (double)v * v));
            // Half the rows overflow float32 outright, the rest land just past the limit (still finite ‖x‖²).
            double target = tooLong.Count % 2 == 0 ? 1e21 : Math.Sqrt(FlashKMeans.Data.DataValidator.MaximumSquaredNorm) * 1.01;
            for (int f = 0; f < D; f++)
                row[f] = (float)(row[f] * (target / norm));
        }
        while (nearLimit.Count < 5)
        {
            int i = random.Next(600);
            if (tooLong.Contains(i) || !nearLimit.Add(i))
                continue;
            // Long but within the limit: scored normally, with finite distances.
            var row = data.AsSpan(i * D, D);
            double norm = Math.Sqrt(row.ToArray().Sum(v => (double)v * v));
            for (int f = 0; f < D; f++)
                row[f] = (float)(row[f] * (Math.Sqrt(FlashKMeans.Data.DataValidator.MaximumSquaredNorm) * 0.9 / norm));
        }

        var scored = model.Transform(new TestDataView(data, D));
        var keys = Read.Keys(scored);
        var scores = Read.Scores(scored);
        for (int i = 0; i < 600; i++)
        {
            if (tooLong.Contains(i))
            {
                Assert.AreEqual(0u, keys[i], $"row {i}");
                Assert.IsTrue(scores[i].All(float.IsNaN), $"row {i}: {string.Join(", ", scores[i])}");
                continue;
            }
            Assert.IsTrue(keys[i] is >= 1 and <= K, $"row {i}: key {keys[i]}");
            Assert.IsTrue(scores[i].All(float.IsFinite), $"row {i}");
            var engine = model.EngineModel.Transform(data.AsSpan(i * D, D));
            CollectionAssert.AreEqual(engine, scores[i], $"row {i}");
            Assert.AreEqual((uint)Array.IndexOf(engine, engine.Min()) + 1, keys[i], $"row {i}");
        }
        var (mapperScores, mapperKeys) = Read.ThroughRowMapper(model, new TestDataView(data, D));
        CollectionAssert.AreEqual(keys, mapperKeys);
        for (int i = 0; i < 600; i++)
            CollectionAssert.AreEqual(scores[i], mapperScores[i], $"row {i}");
    }

    [TestMethod]
    public void RowMapperDependsOnlyOnTheFeaturesForItsColumns()
    {
        var (model, rows) = Train(n: 100);
        var input = new TestDataView(rows, D).Schema;
        var mapper = model.GetRowToRowMapper(input);
        var deps = mapper.GetDependencies(new[] { mapper.OutputSchema["PredictedLabel"] }).ToArray();
        Assert.HasCount(1, deps);
        Assert.AreEqual("Features", deps[0].Name);
        deps = mapper.GetDependencies(new[] { mapper.OutputSchema["Id"] }).ToArray();
        Assert.AreEqual("Id", deps.Single().Name);
    }

    [TestMethod]
    public void TransformRejectsAFeatureColumnOfAnotherSize()
    {
        var (model, _) = Train(n: 100);
        var (other, _) = Blobs.Make(20, D + 1, 2, 5, seed: 4);
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => model.Transform(new TestDataView(other, D + 1)));
        StringAssert.Contains(e.Message, "'Features'");
        StringAssert.Contains(e.Message, $"{D + 1}");
        StringAssert.Contains(e.Message, $"{D} values");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => model.GetRowToRowMapper(new TestDataView(other, D + 1).Schema));
    }

    [TestMethod]
    public void ACursorFailingDuringScoringPropagatesAndLeaksNothing()
    {
        var (model, rows) = Train(n: 400, blockRows: 64);
        var view = new TestDataView(rows, D) { ThrowAt = (2, 130) };
        var scored = model.Transform(view);
        var e = Assert.ThrowsExactly<IOException>(() => Read.Keys(scored));
        StringAssert.Contains(e.Message, "row 130");
        Assert.AreEqual(0, view.OpenCursors);
    }

    [TestMethod]
    public void OnlyRequestedColumnsCostAScoringPass()
    {
        var (model, rows) = Train(n: 300);
        var view = new TestDataView(rows, D);
        var scored = model.Transform(view);
        int before = view.CursorsOpened;
        var ids = Read.Ints(scored, "Id");
        Assert.HasCount(300, ids);
        Assert.AreEqual(before + 1, view.CursorsOpened, "no look-ahead cursor when no score is read");
        Read.Keys(scored);
        Assert.AreEqual(before + 3, view.CursorsOpened, "scores read through a main and a look-ahead cursor");
    }

    [TestMethod]
    public void WithoutAGpuAutoScoresOnTheCpuAndCudaSaysWhy()
    {
        if (FlashKMeans.Engine.BackendSelector.TryCreateCuda(new KMeansOptions(), out var gpu, out _))
        {
            gpu!.Dispose();
            Assert.Inconclusive("A CUDA GPU is usable here; this test covers machines without one.");
        }
        var (rows, _) = Blobs.Make(300, D, K, 5, seed: 5);
        var ml = new MLContext();
        var auto = ml.Clustering.Trainers.FlashKMeans(new GpuKMeansTrainer.Options { NumberOfClusters = K, Device = ComputeDevice.Auto })
            .Fit(new TestDataView(rows, D));
        Assert.AreEqual("not started", auto.ScoringBackend);
        Assert.HasCount(300, Read.Keys(auto.Transform(new TestDataView(rows, D))));
        StringAssert.StartsWith(auto.ScoringBackend, "cpu");
        StringAssert.StartsWith(auto.TrainingSummary!.Backend, "cpu");

        var e = Assert.ThrowsExactly<NotSupportedException>(() =>
            ml.Clustering.Trainers.FlashKMeans(new GpuKMeansTrainer.Options { NumberOfClusters = K, Device = ComputeDevice.Cuda }).Fit(new TestDataView(rows, D)));
        StringAssert.Contains(e.Message, "CUDA");
        var onCuda = auto.ToMLNetTransformer().ToFlashKMeans(ComputeDevice.Cuda);
        Assert.ThrowsExactly<NotSupportedException>(() => Read.Keys(onCuda.Transform(new TestDataView(rows, D))));
        auto.Dispose();
    }

    [TestMethod]
    public void CentroidsAreExposedInKeyOrder()
    {
        var (model, rows) = Train(n: 500);
        var centroids = model.GetCentroids();
        Assert.HasCount(K, centroids);
        var keys = Read.Keys(model.Transform(new TestDataView(rows, D)));
        // A centroid itself is nearest to itself: scoring centroid i must give key i + 1.
        var centroidRows = centroids.SelectMany(c => c).ToArray();
        var centroidKeys = Read.Keys(model.Transform(new TestDataView(centroidRows, D)));
        CollectionAssert.AreEqual(Enumerable.Range(1, K).Select(i => (uint)i).ToArray(), centroidKeys);
        Assert.IsTrue(keys.All(k => k is >= 1 and <= K));
    }
}
