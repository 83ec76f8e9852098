using FlashKMeans.Clustering;

namespace FlashKMeans.Tests;

/// <summary>
/// Automatic feature weights: on data whose clusters live in two features and whose other features are noise, the
/// learned weights single out the two and the weighted model finds the clusters; every scoring path uses the weights,
/// and they survive the model file and a stream's restart. (Like k-means itself the weights can settle in a local
/// optimum: with noise far louder than the clusters' separation the first partition follows the noise and the weights
/// then favour it.)
/// </summary>
[TestClass]
public sealed class FeatureWeightTests
{
    private const int D = 10, K = 4, N = 8000;

    /// <summary>Four well-separated clusters in features 0 and 1; features 2–9 uniform on [−6, 6], the same for every cluster.</summary>
    private static (float[] Rows, int[] Truth) Data(int seed)
    {
        var random = new Random(seed);
        var centres = new[] { (0.0, 0.0), (12.0, 0.0), (0.0, 12.0), (12.0, 12.0) };
        var rows = new float[N * D];
        var truth = new int[N];
        for (int r = 0; r < N; r++)
        {
            int c = truth[r] = random.Next(K);
            rows[r * D] = (float)(centres[c].Item1 + TestData.Normal(random));
            rows[r * D + 1] = (float)(centres[c].Item2 + TestData.Normal(random));
            for (int j = 2; j < D; j++)
                rows[r * D + j] = (float)(12 * random.NextDouble() - 6);
        }
        return (rows, truth);
    }

    /// <summary>The share of rows whose cluster's majority truth is their own.</summary>
    private static double Purity(int[] labels, int[] truth) =>
        labels.Select((l, i) => (l, t: truth[i])).GroupBy(p => p.l).Sum(g => g.GroupBy(p => p.t).Max(h => h.Count())) / (double)labels.Length;

    private static void AssertWeighsTheClusteredFeatures(KMeansModel model, string what)
    {
        var w = model.FeatureWeights.ToArray();
        Assert.AreEqual(D, w.Length, what);
        Assert.IsTrue(w[0] > 0.8 && w[1] > 0.8, $"{what}: clustered features weigh {w[0]:G3}, {w[1]:G3}");
        for (int j = 2; j < D; j++)
            Assert.IsTrue(w[j] < 0.1, $"{what}: noise feature {j} weighs {w[j]:G3}");
    }

    /// <summary>Each label is the nearest centroid under Σ wⱼ(xⱼ − cⱼ)², computed here in float64.</summary>
    private static void AssertWeightedNearest(KMeansModel model, float[] rows, int[] labels)
    {
        var w = model.FeatureWeights.ToArray();
        for (int r = 0; r < N; r += 41)
        {
            double Distance(int c)
            {
                double sum = 0;
                for (int j = 0; j < D; j++)
                    sum += w[j] * Math.Pow(rows[r * D + j] - (double)model.GetCentroid(c)[j], 2);
                return sum;
            }
            double best = Enumerable.Range(0, K).Min(Distance);
            Assert.IsTrue(Distance(labels[r]) <= best * (1 + 1e-5) + 1e-5, $"row {r}");
        }
    }

    [TestMethod]
    public void Lloyd_learns_the_weights_and_finds_the_clusters_a_plain_fit_misses()
    {
        var (rows, truth) = Data(1);
        var options = new KMeansOptions { NumberOfClusters = K, Device = ComputeDevice.Cpu, Seed = 2, AutomaticFeatureWeights = true };
        var weighted = new KMeans(options).Fit(rows, D);
        AssertWeighsTheClusteredFeatures(weighted, "Lloyd");
        var labels = weighted.Predict(rows, D);
        Assert.IsTrue(Purity(labels, truth) > 0.97, $"weighted purity {Purity(labels, truth):G3}");
        var plain = new KMeans(new KMeansOptions { NumberOfClusters = K, Device = ComputeDevice.Cpu, Seed = 2 }).Fit(rows, D);
        Assert.IsTrue(plain.FeatureWeights.IsEmpty, "a plain fit weighs every feature alike");
        AssertWeightedNearest(weighted, rows, labels);
        // The inertia is the weighted one, of the returned centroids.
        double inertia = 0;
        var w = weighted.FeatureWeights.ToArray();
        for (int r = 0; r < N; r++)
            for (int j = 0; j < D; j++)
                inertia += w[j] * Math.Pow(rows[r * D + j] - (double)weighted.GetCentroid(labels[r])[j], 2);
        Assert.AreEqual(inertia, weighted.Inertia, 1e-4 * inertia);
        Assert.AreEqual(inertia, weighted.Score(rows), 1e-4 * inertia);

        using var file = new MemoryStream();
        weighted.Save(file);
        file.Position = 0;
        var loaded = KMeansModel.Load(file);
        CollectionAssert.AreEqual(w, loaded.FeatureWeights.ToArray());
        CollectionAssert.AreEqual(labels, loaded.Predict(rows, D));
    }

    [TestMethod]
    public void A_stream_learns_the_weights_and_keeps_them_across_a_restart()
    {
        var (rows, truth) = Data(3);
        // Forgetting lets the weights shed what the first, poorly placed centroids made of the features.
        var options = new KMeansOptions { NumberOfClusters = K, Seed = 8, AutomaticFeatureWeights = true, MiniBatch = new MiniBatchOptions { ForgettingFactor = 0.95 } };
        var straight = new MiniBatchKMeans(options, D);
        var interrupted = new MiniBatchKMeans(options, D);
        for (int at = 0; at < N; at += 500)
        {
            straight.PartialFit(rows.AsSpan(at * D, 500 * D));
            interrupted.PartialFit(rows.AsSpan(at * D, 500 * D));
            using var saved = new MemoryStream();
            interrupted.Save(saved);
            saved.Position = 0;
            interrupted = MiniBatchKMeans.Load(saved);
        }
        // A second pass: the weights learned in the first now steer every assignment.
        for (int at = 0; at < N; at += 500)
        {
            straight.PartialFit(rows.AsSpan(at * D, 500 * D));
            interrupted.PartialFit(rows.AsSpan(at * D, 500 * D));
        }
        var model = straight.Snapshot();
        AssertWeighsTheClusteredFeatures(model, "stream");
        var labels = model.Predict(rows, D);
        Assert.IsTrue(Purity(labels, truth) > 0.97, $"stream purity {Purity(labels, truth):G3}");
        AssertWeightedNearest(model, rows, labels);
        CollectionAssert.AreEqual(model.Centroids.ToArray(), interrupted.Snapshot().Centroids.ToArray());
        CollectionAssert.AreEqual(model.FeatureWeights.ToArray(), interrupted.Snapshot().FeatureWeights.ToArray());
    }

    [TestMethod]
    public void A_mini_batch_fit_learns_the_weights_too()
    {
        var (rows, truth) = Data(4);
        var options = new KMeansOptions
        {
            NumberOfClusters = K, Device = ComputeDevice.Cpu, Seed = 2, AutomaticFeatureWeights = true, Algorithm = KMeansAlgorithm.MiniBatch,
            MiniBatch = new MiniBatchOptions { BatchSize = 500, MaximumNumberOfEpochs = 5 },
        };
        var model = new KMeans(options).Fit(rows, D);
        AssertWeighsTheClusteredFeatures(model, "mini-batch fit");
        Assert.IsTrue(Purity(model.Predict(rows, D), truth) > 0.97);
    }

    [TestMethod]
    public void Feature_weights_need_squared_Euclidean_distance()
    {
        Assert.ThrowsExactly<NotSupportedException>(() => new KMeans(new KMeansOptions { AutomaticFeatureWeights = true, Distance = KMeansDistance.Cosine }));
        Assert.ThrowsExactly<NotSupportedException>(() => new MiniBatchKMeans(new KMeansOptions { AutomaticFeatureWeights = true, Distance = KMeansDistance.Manhattan }, 3));
    }
}
