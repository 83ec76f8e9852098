using FlashKMeans.Prototypes;

namespace FlashKMeans.Tests.Prototypes;

/// <summary>
/// The training distance and its gradient against their formulas written out feature by feature, at widths that end
/// inside a vector and past it, with and without feature weights and with a missing feature.
/// </summary>
[TestClass]
public sealed class PrototypeDistanceTests
{
    [TestMethod]
    [DataRow(1)]
    [DataRow(3)]
    [DataRow(4)]
    [DataRow(5)]
    [DataRow(8)]
    [DataRow(17)]
    [DataRow(54)]
    [DataRow(70)]
    public void Squared_distance_and_gradient_match_the_formula(int d)
    {
        var random = new Random(d);
        double[] Values(double scale) => Enumerable.Range(0, d).Select(_ => scale * (random.NextDouble() - 0.5)).ToArray();
        foreach (bool weighted in new[] { false, true })
            foreach (bool missing in new[] { false, true })
            {
                var x = Values(10);
                var p = Values(10);
                var lambda = weighted ? Values(1).Select(v => v + 1).ToArray() : [];
                if (missing)
                    x[random.Next(d)] = double.NaN;
                string at = $"d = {d}, weighted {weighted}, missing {missing}";
                int present = x.Count(v => !double.IsNaN(v));

                double expected = 0;
                for (int j = 0; j < d; j++)
                    if (!double.IsNaN(x[j]))
                        expected += (weighted ? lambda[j] : 1) * (x[j] - p[j]) * (x[j] - p[j]);
                expected = present == 0 ? double.NaN : expected * d / present;
                double found = PrototypeDistance.Of(KMeansDistance.SquaredEuclidean, x, p, lambda);
                if (present == 0)
                {
                    Assert.IsTrue(double.IsNaN(found), at);
                    continue;
                }
                Assert.AreEqual(expected, found, 1e-12 * Math.Max(1, expected), at);

                const double coefficient = 0.75;
                var gradient = Values(1);
                var lambdaGradient = weighted ? Values(1) : [];
                var expectedGradient = (double[])gradient.Clone();
                var expectedLambda = (double[])lambdaGradient.Clone();
                double scale = coefficient * d / present;
                for (int j = 0; j < d; j++)
                {
                    if (double.IsNaN(x[j]))
                        continue;
                    double v = x[j] - p[j];
                    expectedGradient[j] -= 2 * scale * (weighted ? lambda[j] : 1) * v;
                    if (weighted)
                        expectedLambda[j] += scale * v * v;
                }
                bool complete = PrototypeDistance.CompleteRows(x, d)[0];
                Assert.AreEqual(!missing, complete, at);
                PrototypeDistance.Backward(KMeansDistance.SquaredEuclidean, x, p, lambda, coefficient, gradient, lambdaGradient, complete);
                for (int j = 0; j < d; j++)
                {
                    Assert.AreEqual(expectedGradient[j], gradient[j], 1e-12, $"{at}: ∂/∂p[{j}]");
                    if (weighted)
                        Assert.AreEqual(expectedLambda[j], lambdaGradient[j], 1e-12, $"{at}: ∂/∂λ[{j}]");
                }
            }
    }
}
