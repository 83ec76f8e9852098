using FlashKMeans.Prototypes;

namespace FlashKMeans.Tests;

/// <summary>
/// The multi-label prototype classifier: tag scores against a brute-force maximum similarity, the gap and fixed
/// thresholds against their definitions, and tag sets recovered on data where each region carries its own set.
/// </summary>
[TestClass]
public sealed class MultiLabelTests
{
    private const int D = 4, Tags = 3;

    /// <summary>Three regions: A carries {0}, B carries {1}, C carries {0, 2}.</summary>
    private static (float[] Rows, bool[] Tags, int[] Region) Data(int n, int seed)
    {
        var centres = new[] { new[] { 0f, 0, 0, 0 }, new[] { 20f, 0, 0, 0 }, new[] { 0f, 20, 0, 0 } };
        var sets = new[] { new[] { true, false, false }, new[] { false, true, false }, new[] { true, false, true } };
        var random = new Random(seed);
        var rows = new float[n * D];
        var tags = new bool[n * Tags];
        var region = new int[n];
        for (int r = 0; r < n; r++)
        {
            int c = region[r] = random.Next(3);
            for (int j = 0; j < D; j++)
                rows[r * D + j] = (float)(centres[c][j] + TestData.Normal(random));
            sets[c].CopyTo(tags.AsSpan(r * Tags, Tags));
        }
        return (rows, tags, region);
    }

    [TestMethod]
    public void Scores_are_the_largest_similarity_and_the_gap_recovers_each_regions_tags()
    {
        var (rows, tags, _) = Data(3000, seed: 1);
        var model = new MultiLabelClassifier(new MultiLabelOptions { PrototypesPerTag = 5, Seed = 2 }).Fit(rows, D, tags, Tags);
        var (test, testTags, _) = Data(600, seed: 3);
        var scores = new float[600 * Tags];
        model.PredictScores(test, scores);
        var prototypes = model.Prototypes.ToArray();
        for (int r = 0; r < 600; r += 13)
        {
            for (int t = 0; t < Tags; t++)
            {
                double best = 0;
                for (int p = 0; p < model.PrototypeTags.Count; p++)
                {
                    if (model.PrototypeTags[p] == t)
                        best = Math.Max(best, 1 / (1 + Reference.Distance(test.AsSpan(r * D, D), prototypes.AsSpan(p * D, D))));
                }
                Assert.AreEqual(best, scores[r * Tags + t], 1e-4 * (1 + best), $"row {r}, tag {t}");
            }
        }
        var predicted = model.Predict(test);
        int exact = Enumerable.Range(0, 600).Count(r => predicted.AsSpan(r * Tags, Tags).SequenceEqual(testTags.AsSpan(r * Tags, Tags)));
        Assert.IsTrue(exact >= 590, $"{exact} of 600 rows got exactly their tags");
    }

    [TestMethod]
    public void Thresholds_follow_their_definitions()
    {
        var tags = new bool[5];
        MultiLabelModel.Choose(new float[] { 0.6f, 0.002f, 0.3f, 0.001f, 0.0015f }, tags, TagThreshold.Gap, 0.5);
        CollectionAssert.AreEqual(new[] { true, false, true, false, false }, tags, "cut at the largest ratio, 0.3 → 0.002, not at 0.6 → 0.3");
        MultiLabelModel.Choose(new float[] { 0.3f, 0.3f, 0.3f, 0.3f, 0.3f }, tags, TagThreshold.Gap, 0.5);
        Assert.AreEqual(1, tags.Count(t => t), "equal scores keep at least one tag");
        Assert.IsTrue(tags[0], "the lower tag first on ties");
        MultiLabelModel.Choose(new float[] { 0.5f, 0.49f, 0.7f, 0, 1 }, tags, TagThreshold.Fixed, 0.5);
        CollectionAssert.AreEqual(new[] { true, false, true, false, true }, tags);
    }

    [TestMethod]
    public void A_tag_no_row_carries_scores_zero_and_bad_input_is_refused()
    {
        var (rows, tags, _) = Data(500, seed: 4);
        var withUnused = new bool[500 * 4];
        for (int r = 0; r < 500; r++)
            tags.AsSpan(r * Tags, Tags).CopyTo(withUnused.AsSpan(r * 4, Tags));
        var model = new MultiLabelClassifier(new MultiLabelOptions { PrototypesPerTag = 3 }).Fit(rows, D, withUnused, 4);
        var scores = new float[500 * 4];
        model.PredictScores(rows, scores);
        Assert.IsTrue(Enumerable.Range(0, 500).All(r => scores[r * 4 + 3] == 0));
        Assert.ThrowsExactly<ArgumentException>(() => new MultiLabelClassifier(new MultiLabelOptions()).Fit(rows, D, new bool[10], Tags));
    }
}
