using Microsoft.ML;

namespace FlashKMeans.MLNet.Tests;

/// <summary>
/// Data far from the origin compared with its spread, through the trainer and the transformer: the engine fits
/// and scores it centred, so keys and scores equal a float64 brute force under the model's own centroids.
/// </summary>
[TestClass]
public sealed class FarFromOriginTests
{
    [TestMethod]
    [DataRow(1e4), DataRow(1e6)]
    public void KeysAndScoresEqualFloat64BruteForce(double offset)
    {
        const int d = 4, k = 5;
        var (blobs, _) = Blobs.Make(2000, d, centers: k, spread: 6, seed: 3);
        var rows = blobs.Select(v => (float)(offset + v)).ToArray();
        var ml = new MLContext(seed: 1);
        var model = ml.Clustering.Trainers.FlashKMeans(new GpuKMeansTrainer.Options { NumberOfClusters = k, Device = ComputeDevice.Cpu })
            .Fit(new TestDataView(rows, d));
        var centroids = model.GetCentroids();
        var origin = new double[d];
        foreach (var c in centroids)
            for (int j = 0; j < d; j++)
                origin[j] += c[j] / k;

        var scored = model.Transform(new TestDataView(rows, d));
        var keys = Read.Keys(scored);
        var scores = Read.Scores(scored);
        int wrong = 0;
        for (int r = 0; r < rows.Length / d; r++)
        {
            var all = centroids.Select(c => Squared(rows.AsSpan(r * d, d), c)).ToArray();
            int best = Array.IndexOf(all, all.Min());
            double centred = Squared(rows.AsSpan(r * d, d), origin);
            // A different key is wrong unless the two distances tie within centred float32 rounding.
            if (keys[r] != best + 1 && all[keys[r] - 1] - all[best] > 1e-5 * (centred + 1))
                wrong++;
            for (int c = 0; c < k; c++)
                Assert.AreEqual(all[c], scores[r][c], 1e-5 * (centred + Squared(centroids[c], origin) + 1), $"row {r}, centroid {c}");
        }
        Assert.AreEqual(0, wrong, $"{wrong} keys differ from the float64 nearest centroid at offset {offset:G3}");
    }

    private static double Squared(ReadOnlySpan<float> x, IReadOnlyList<float> c)
    {
        double s = 0;
        for (int j = 0; j < x.Length; j++)
            s += ((double)x[j] - c[j]) * ((double)x[j] - c[j]);
        return s;
    }

    private static double Squared(ReadOnlySpan<float> x, double[] c)
    {
        double s = 0;
        for (int j = 0; j < x.Length; j++)
            s += (x[j] - c[j]) * (x[j] - c[j]);
        return s;
    }
}
