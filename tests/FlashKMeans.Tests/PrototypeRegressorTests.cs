using FlashKMeans.Prototypes;

namespace FlashKMeans.Tests;

/// <summary>
/// The prototype regressor: R² against brute-force k-NN regression on a smooth nonlinear target, prototype targets as
/// the means of their rows' targets, and vector targets whose linear relations every prediction keeps.
/// </summary>
[TestClass]
public sealed class PrototypeRegressorTests
{
    private const int D = 3;

    private static (float[] Rows, float[] Targets) Smooth(int n, int seed)
    {
        var random = new Random(seed);
        var rows = new float[n * D];
        var targets = new float[n];
        for (int r = 0; r < n; r++)
        {
            for (int j = 0; j < D; j++)
                rows[r * D + j] = (float)(4 * random.NextDouble() - 2);
            targets[r] = (float)(Math.Sin(2 * rows[r * D]) + rows[r * D + 1] * rows[r * D + 1] - 0.5 * rows[r * D + 2] + 0.05 * TestData.Normal(random));
        }
        return (rows, targets);
    }

    private static double R2(float[] predicted, float[] truth)
    {
        double mean = truth.Average(v => (double)v);
        double residual = predicted.Zip(truth).Sum(p => Math.Pow(p.First - p.Second, 2));
        double total = truth.Sum(v => Math.Pow(v - mean, 2));
        return 1 - residual / total;
    }

    [TestMethod]
    public void R2_comes_within_0_05_of_brute_force_k_NN_with_a_tenth_of_the_rows()
    {
        var (train, trainTargets) = Smooth(4000, seed: 1);
        var (test, testTargets) = Smooth(1000, seed: 2);
        var model = new PrototypeRegressor(new PrototypeRegressorOptions { TargetStrata = 20, PrototypesPerStratum = 20, Seed = 3 }).Fit(train, D, trainTargets);
        Assert.IsTrue(model.PrototypeTargets.Length <= 400);
        double r2 = R2(model.Predict(test), testTargets);

        var knn = new float[1000];
        for (int r = 0; r < 1000; r++)
        {
            var nearest = Enumerable.Range(0, 4000).OrderBy(t => Reference.Distance(test.AsSpan(r * D, D), train.AsSpan(t * D, D))).ThenBy(t => t).Take(5);
            knn[r] = (float)nearest.Average(t => trainTargets[t]);
        }
        double knnR2 = R2(knn, testTargets);
        Assert.IsTrue(r2 >= knnR2 - 0.05, $"prototypes R² {r2:F3} against k-NN {knnR2:F3}");
    }

    [TestMethod]
    public void Vector_targets_keep_their_linear_relations_and_prototype_targets_are_means()
    {
        var (rows, scalar) = Smooth(1500, seed: 4);
        // Target 2 is 3 − 2 × target 1: every blend of prototype targets (weights summing to 1) keeps that.
        var targets = scalar.SelectMany(v => new[] { v, 3 - 2 * v }).ToArray();
        var model = new PrototypeRegressor(new PrototypeRegressorOptions { TargetStrata = 5, PrototypesPerStratum = 8, Routing = PrototypeRouting.Softmax })
            .Fit(rows, D, targets, targetDimension: 2);
        var predicted = model.Predict(rows);
        for (int r = 0; r < 1500; r++)
            Assert.AreEqual(3 - 2 * predicted[2 * r], predicted[2 * r + 1], 1e-4, $"row {r}");
        var prototypeTargets = model.PrototypeTargets.ToArray();
        for (int p = 0; p < prototypeTargets.Length / 2; p++)
            Assert.AreEqual(3 - 2 * prototypeTargets[2 * p], prototypeTargets[2 * p + 1], 1e-4);
        // Hard routing on a training row near its own prototype predicts within the range of the targets.
        Assert.IsTrue(predicted.Where((_, i) => i % 2 == 0).All(v => v >= scalar.Min() - 1e-4 && v <= scalar.Max() + 1e-4));
    }

    [TestMethod]
    public void Bad_targets_are_refused_by_row()
    {
        var regressor = new PrototypeRegressor(new PrototypeRegressorOptions());
        var rows = TestData.Gaussian(20, D, seed: 1);
        var targets = new float[20];
        targets[13] = float.NaN;
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => regressor.Fit(rows, D, targets)).Message, "Row 13");
        Assert.ThrowsExactly<ArgumentException>(() => regressor.Fit(rows, D, new float[19]));
    }
}
