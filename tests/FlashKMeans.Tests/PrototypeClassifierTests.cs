using FlashKMeans.Prototypes;

namespace FlashKMeans.Tests;

/// <summary>
/// The prototype classifier: its top-k routing against a brute-force reference, accuracy against brute-force k-NN on
/// data with many-modal classes while keeping a few percent of the rows, the automatic prototype count, and bad input.
/// </summary>
[TestClass]
public sealed class PrototypeClassifierTests
{
    [TestMethod]
    [DataRow(PrototypeRouting.Hard), DataRow(PrototypeRouting.Mean), DataRow(PrototypeRouting.Scaled), DataRow(PrototypeRouting.Softmax)]
    public void Routing_picks_the_k_nearest_and_weighs_them_as_documented(PrototypeRouting routing)
    {
        var random = new Random(4);
        for (int trial = 0; trial < 50; trial++)
        {
            int p = random.Next(1, 40), k = random.Next(1, p + 1);
            // Few distinct values, so ties are common: they must go to the lower index.
            var distances = Enumerable.Range(0, p).Select(_ => (float)random.Next(0, 8)).ToArray();
            var nearest = new int[k];
            var weights = new double[k];
            PrototypeRouter.Route(distances, routing, 0.3, nearest, weights);
            var expected = Enumerable.Range(0, p).OrderBy(i => distances[i]).ThenBy(i => i).Take(k).ToArray();
            CollectionAssert.AreEqual(expected, nearest, $"trial {trial}");
            var s = expected.Select(i => 1 / (1 + (double)distances[i])).ToArray();
            double[] want = routing switch
            {
                PrototypeRouting.Hard => expected.Select((_, i) => i == 0 ? 1.0 : 0.0).ToArray(),
                PrototypeRouting.Mean => expected.Select(_ => 1.0 / k).ToArray(),
                PrototypeRouting.Scaled => s.Select(v => v / s.Sum()).ToArray(),
                _ => s.Select(v => Math.Exp(v / 0.3) / s.Sum(u => Math.Exp(u / 0.3))).ToArray(),
            };
            for (int i = 0; i < k; i++)
                Assert.AreEqual(want[i], weights[i], 1e-12, $"trial {trial}, weight {i}");
        }
    }

    /// <summary>Six classes, each two blobs far apart, in 8 features.</summary>
    private static (float[] Rows, int[] Labels) ManyModal(int n, int seed)
    {
        const int d = 8, classes = 6;
        var centres = new Random(99);
        var means = Enumerable.Range(0, classes * 2).Select(_ => Enumerable.Range(0, d).Select(_ => 6 * TestData.Normal(centres)).ToArray()).ToArray();
        var random = new Random(seed);
        var rows = new float[n * d];
        var labels = new int[n];
        for (int r = 0; r < n; r++)
        {
            int c = labels[r] = random.Next(classes);
            var mean = means[2 * c + random.Next(2)];
            for (int j = 0; j < d; j++)
                rows[r * d + j] = (float)(mean[j] + 1.5 * TestData.Normal(random));
        }
        return (rows, labels);
    }

    [TestMethod]
    public void A_mini_batch_grid_classifies_as_well_as_a_Lloyd_grid()
    {
        const int d = 8;
        var (train, trainLabels) = ManyModal(6000, seed: 11);
        var (test, testLabels) = ManyModal(2000, seed: 12);
        double Accuracy(KMeansAlgorithm algorithm)
        {
            var model = new PrototypeClassifier(new PrototypeClassifierOptions
            {
                PrototypesPerClass = 8, Seed = 3, GridAlgorithm = algorithm, MiniBatch = new MiniBatchOptions { BatchSize = 256 },
            }).Fit(train, d, trainLabels, 6);
            Assert.AreEqual(48, model.PrototypeClasses.Count);
            CollectionAssert.AreEquivalent(Enumerable.Range(0, 6).ToArray(), model.PrototypeClasses.Distinct().ToArray());
            return model.Predict(test).Zip(testLabels).Count(p => p.First == p.Second) / 2000.0;
        }
        double lloyd = Accuracy(KMeansAlgorithm.Lloyd), miniBatch = Accuracy(KMeansAlgorithm.MiniBatch);
        Assert.IsTrue(miniBatch >= lloyd - 0.02, $"mini-batch grid {miniBatch:F3}, Lloyd grid {lloyd:F3}");
    }

    [TestMethod]
    [DataRow(ComputePrecision.Float16), DataRow(ComputePrecision.BFloat16)]
    public void Prototypes_kept_in_16_bits_are_16_bit_values_and_classify_nearly_as_well(ComputePrecision precision)
    {
        const int d = 8;
        var (train, trainLabels) = ManyModal(6000, seed: 13);
        var (test, testLabels) = ManyModal(2000, seed: 14);
        PrototypeClassifierModel Fit(ComputePrecision p, int epochs) => new PrototypeClassifier(new PrototypeClassifierOptions
        {
            PrototypesPerClass = 8, Seed = 3, PrototypePrecision = p, FineTuning = new FineTuningOptions { Epochs = epochs },
        }).Fit(train, d, trainLabels, 6);
        double Accuracy(PrototypeClassifierModel model) => model.Predict(test).Zip(testLabels).Count(x => x.First == x.Second) / 2000.0;
        foreach (int epochs in new[] { 0, 2 })
        {
            var wide = Fit(ComputePrecision.Float32, epochs);
            var narrow = Fit(precision, epochs);
            Assert.IsTrue(wide.Prototypes.ToArray().Any(v => v != Data.HalfPrecisionConversion.RoundTo(v, precision)), "float32 keeps more bits");
            foreach (float v in narrow.Prototypes.Span)
            {
                float back = precision == ComputePrecision.Float16 ? (float)(Half)v
                    : BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(v) & 0xFFFF0000u);
                Assert.AreEqual(back, v, $"{v} is not a {precision} value ({epochs} epochs)");
            }
            Assert.IsTrue(Accuracy(narrow) >= Accuracy(wide) - 0.01, $"{precision} {Accuracy(narrow):F3}, float32 {Accuracy(wide):F3} ({epochs} epochs)");
        }
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() =>
            new PrototypeClassifier(new PrototypeClassifierOptions { PrototypePrecision = ComputePrecision.TensorFloat32 }).Fit(train, d, trainLabels, 6));
    }

    [TestMethod]
    public void Accuracy_comes_within_two_points_of_brute_force_k_NN_with_four_percent_of_the_rows()
    {
        const int d = 8;
        var (train, trainLabels) = ManyModal(6000, seed: 1);
        var (test, testLabels) = ManyModal(2000, seed: 2);
        var model = new PrototypeClassifier(new PrototypeClassifierOptions { PrototypesPerClass = 40, Seed = 3 }).Fit(train, d, trainLabels, 6);
        Assert.AreEqual(240, model.PrototypeClasses.Count);
        var predicted = model.Predict(test);
        double accuracy = predicted.Zip(testLabels).Count(p => p.First == p.Second) / 2000.0;

        // k-NN (k = 5, majority, ties to the nearest) over every training row, in float64.
        int correct = 0;
        for (int r = 0; r < 2000; r++)
        {
            var nearest = Enumerable.Range(0, 6000).Select(t => (t, distance: Reference.Distance(test.AsSpan(r * d, d), train.AsSpan(t * d, d))))
                .OrderBy(x => x.distance).Take(5).ToArray();
            int vote = nearest.GroupBy(x => trainLabels[x.t]).OrderByDescending(g => g.Count()).ThenBy(g => g.Min(x => x.distance)).First().Key;
            correct += vote == testLabels[r] ? 1 : 0;
        }
        double knn = correct / 2000.0;
        Assert.IsTrue(accuracy >= knn - 0.02, $"prototypes {accuracy:F3} against k-NN {knn:F3}");
    }

    [TestMethod]
    public void Scores_sum_to_one_and_hard_routing_is_the_nearest_prototypes_class()
    {
        const int d = 8;
        var (rows, labels) = ManyModal(1500, seed: 5);
        var model = new PrototypeClassifier(new PrototypeClassifierOptions { PrototypesPerClass = 6, Routing = PrototypeRouting.Hard }).Fit(rows, d, labels, 6);
        var scores = new float[1500 * 6];
        model.PredictScores(rows, scores);
        var prototypes = model.Prototypes.ToArray();
        for (int r = 0; r < 1500; r += 7)
        {
            Assert.AreEqual(1.0, scores.AsSpan(r * 6, 6).ToArray().Sum(), 1e-6);
            int nearest = Reference.Nearest(rows.AsSpan(r * d, d), prototypes, d).Label;
            Assert.AreEqual(1f, scores[r * 6 + model.PrototypeClasses[nearest]], $"row {r}");
        }
    }

    [TestMethod]
    public void Every_class_with_rows_gets_prototypes_and_the_automatic_count_follows_the_spread()
    {
        const int d = 4;
        var random = new Random(1);
        var rows = new List<float>();
        var labels = new List<int>();
        // Class 0: 400 rows at one tight spot; class 1: 400 rows spread over a wide ring; class 2: none; class 3: 30 rows.
        for (int i = 0; i < 400; i++)
        {
            rows.AddRange([(float)(10 + 0.01 * TestData.Normal(random)), 10, 10, 10]);
            labels.Add(0);
            double angle = 2 * Math.PI * random.NextDouble();
            rows.AddRange([(float)(20 * Math.Cos(angle)), (float)(20 * Math.Sin(angle)), 0, 0]);
            labels.Add(1);
        }
        for (int i = 0; i < 30; i++)
        {
            rows.AddRange([-30, 5, (float)TestData.Normal(random), 0]);
            labels.Add(3);
        }
        var model = new PrototypeClassifier(new PrototypeClassifierOptions()).Fit(rows.ToArray(), d, labels.ToArray(), 4);
        int Count(int c) => model.PrototypeClasses.Count(x => x == c);
        Assert.AreEqual(1, Count(0), "a tight class needs one prototype");
        Assert.IsTrue(Count(1) >= 20, $"a ring needs many: {Count(1)}");
        Assert.AreEqual(0, Count(2), "a class without rows has none");
        Assert.IsTrue(Count(3) >= 1);
        var scores = new float[4];
        model.PredictScores(new float[] { 10, 10, 10, 10 }, scores);
        Assert.AreEqual(0f, scores[2]);
        Assert.AreEqual(0, model.Predict(new float[] { 10, 10, 10, 10 })[0]);
    }

    [TestMethod]
    public void Bad_labels_and_values_are_refused_by_row()
    {
        var classifier = new PrototypeClassifier(new PrototypeClassifierOptions());
        var rows = TestData.Gaussian(10, 2, seed: 1);
        var labels = new int[10];
        labels[7] = 3;
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => classifier.Fit(rows, 2, labels, 3)).Message, "Row 7");
        labels[7] = 0;
        rows[9] = float.NaN;
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => classifier.Fit(rows, 2, labels, 3)).Message, "Row 4");
        Assert.ThrowsExactly<ArgumentException>(() => classifier.Fit(rows, 2, new int[9], 3));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new PrototypeClassifier(new PrototypeClassifierOptions { TopK = 0 }));
    }
}
