using FlashKMeans.Prototypes;

namespace FlashKMeans.Tests.Prototypes;

/// <summary>
/// Phase 2's analytic gradients against central finite differences of the same losses, on fresh random rows and
/// parameters: every model's loss and distance, the learned feature weights, the sampled softmax and the penalties.
/// </summary>
[TestClass]
public sealed class PrototypeGradientTests
{
    private const int D = 5, N = 40, P = 9;

    private static double[] RandomValues(Random random, int count, double scale = 1) =>
        Enumerable.Range(0, count).Select(_ => scale * TestData.Normal(random)).ToArray();

    private static double[] UnitRows(double[] rows)
    {
        for (int at = 0; at < rows.Length; at += D)
        {
            double norm = Math.Sqrt(Enumerable.Range(at, D).Sum(i => rows[i] * rows[i]));
            for (int i = at; i < at + D; i++)
                rows[i] /= norm;
        }
        return rows;
    }

    /// <summary>
    /// Compares the tuner's mean-loss gradient (∂/∂θ for feature logits) with finite differences of its mean loss, entry
    /// by entry, for every block of the parameters.
    /// </summary>
    private static void CheckGradient(IPrototypeObjective objective, PrototypeParameters parameters, KMeansDistance distance, string what,
        FineTuningOptions? options = null)
    {
        var tuner = new PrototypeFineTuner(objective, options ?? new FineTuningOptions(), distance, D, seed: 1, threads: 2, tau: 0.7);
        var anchor = parameters.Prototypes.Select(v => v + 0.1).ToArray();
        const ulong draws = 12345;
        var rows = Enumerable.Range(0, objective.RowCount).ToArray();
        double Total(PrototypeParameters at)
        {
            double loss = tuner.Accumulate(at, at.FeatureWeights(), rows, null, draws);
            var p = at.Prototypes;
            double l2 = 0.5 * (options?.L2Regularization ?? 0) * p.Select((v, i) => (v - anchor[i]) * (v - anchor[i])).Sum();
            return loss + l2 + tuner.Diversity(at);
        }
        var gradient = parameters.ZeroLike();
        var lambda = parameters.FeatureWeights();
        tuner.Accumulate(parameters, lambda, rows, gradient, draws);
        tuner.Regularize(parameters, anchor, gradient, lambda);
        if (lambda.Length > 0)
            gradient.ToLogitGradient(lambda);
        int checkedEntries = 0;
        foreach (var (values, grads, block) in parameters.Blocks().Zip(gradient.Blocks(), new[] { "prototype", "target", "feature logit", "log temperature" }))
        {
            for (int i = 0; i < values.Length; i++)
            {
                const double h = 1e-6;
                double keep = values[i];
                values[i] = keep + h;
                double up = Total(parameters);
                values[i] = keep - h;
                double down = Total(parameters);
                values[i] = keep;
                double numeric = (up - down) / (2 * h);
                Assert.AreEqual(numeric, grads[i], 1e-6 + 1e-4 * Math.Abs(numeric), $"{what}: {block} {i}");
                checkedEntries += numeric != 0 ? 1 : 0;
            }
        }
        Assert.IsTrue(checkedEntries > parameters.Prototypes.Length / 2, $"{what}: the loss should depend on most entries, {checkedEntries} did");
    }

    [TestMethod]
    [DataRow(PrototypeLoss.CrossEntropy, KMeansDistance.SquaredEuclidean, false, null)]
    [DataRow(PrototypeLoss.CrossEntropy, KMeansDistance.SquaredEuclidean, true, null)]
    [DataRow(PrototypeLoss.CrossEntropy, KMeansDistance.SquaredEuclidean, false, 1)]
    [DataRow(PrototypeLoss.CrossEntropy, KMeansDistance.Cosine, false, null)]
    [DataRow(PrototypeLoss.CrossEntropy, KMeansDistance.Manhattan, false, null)]
    [DataRow(PrototypeLoss.Glvq, KMeansDistance.SquaredEuclidean, false, null)]
    [DataRow(PrototypeLoss.Glvq, KMeansDistance.SquaredEuclidean, true, null)]
    [DataRow(PrototypeLoss.Glvq, KMeansDistance.Cosine, false, null)]
    [DataRow(PrototypeLoss.Glvq, KMeansDistance.Manhattan, false, 2)]
    [DataRow(PrototypeLoss.CrossEntropy, KMeansDistance.SquaredEuclidean, false, -1)]
    public void Classifier_gradient_matches_finite_differences(PrototypeLoss loss, KMeansDistance distance, bool featureWeights, int? negatives)
    {
        var random = new Random(7 + (int)loss * 10 + (int)distance);
        const int classes = 4;
        var rows = RandomValues(random, N * D);
        if (distance == KMeansDistance.Cosine)
            UnitRows(rows);
        if (negatives == -1)
        {
            // Missing features: every third row lacks one feature.
            negatives = null;
            for (int r = 0; r < N; r += 3)
                rows[r * D + r % D] = double.NaN;
        }
        var labels = Enumerable.Range(0, N).Select(_ => random.Next(classes)).ToArray();
        var weights = Enumerable.Range(0, N).Select(_ => (float)(0.5 + random.NextDouble())).ToArray();
        var owners = Enumerable.Range(0, P).Select(p => p % classes).ToArray();
        var objective = new ClassifierObjective(rows, D, labels, weights, owners, classes, loss, negatives, distance);
        var prototypes = RandomValues(random, P * D);
        // Cross-entropy learns its temperature with the prototypes.
        var parameters = new PrototypeParameters(distance == KMeansDistance.Cosine ? UnitRows(prototypes) : prototypes, [],
            featureWeights ? RandomValues(random, D, 0.3) : [], loss == PrototypeLoss.CrossEntropy ? [Math.Log(0.8)] : []);
        CheckGradient(objective, parameters, distance, $"{loss} {distance}");
    }

    [TestMethod]
    public void Sampled_classes_are_the_rows_own_then_distinct_others_drawn_uniformly()
    {
        const int classes = 50, m = 7, rows = 4000;
        var labels = Enumerable.Range(0, rows).Select(r => r % classes).ToArray();
        // Class 13 has no prototypes, so it is never drawn.
        var owners = Enumerable.Range(0, 2 * classes).Select(p => p % classes).Where(c => c != 13).ToArray();
        var objective = new ClassifierObjective(new double[rows * D], D, labels, null, owners, classes, PrototypeLoss.CrossEntropy, m,
            KMeansDistance.SquaredEuclidean);
        var drawn = new int[classes];
        for (int r = 0; r < rows; r++)
        {
            if (labels[r] == 13)
                continue;
            var candidates = objective.Candidates(r, labels[r], draws: 99);
            Assert.AreEqual(m + 1, candidates.Length);
            Assert.AreEqual(labels[r], candidates[0]);
            var others = candidates.Skip(1).ToArray();
            Assert.AreEqual(m, others.Distinct().Count(), $"row {r}: distinct");
            Assert.IsFalse(others.Contains(labels[r]) || others.Contains(13), $"row {r}: {string.Join(",", others)}");
            foreach (int c in others)
                drawn[c]++;
        }
        Assert.AreEqual(0, drawn[13]);
        // Each of the 48 others of a row is drawn with probability 7/48; summed over ~3,920 rows that is ~560 per class
        // (less the rows of its own class): every class well inside [400, 720].
        for (int c = 0; c < classes; c++)
        {
            if (c != 13)
                Assert.IsTrue(drawn[c] is > 400 and < 720, $"class {c} drawn {drawn[c]} times");
        }
    }

    [TestMethod]
    [DataRow(PrototypeRouting.Scaled, KMeansDistance.SquaredEuclidean, 3, false)]
    [DataRow(PrototypeRouting.Softmax, KMeansDistance.SquaredEuclidean, -1, true)]
    [DataRow(PrototypeRouting.Scaled, KMeansDistance.Manhattan, 4, false)]
    [DataRow(PrototypeRouting.Softmax, KMeansDistance.Cosine, 5, false)]
    [DataRow(PrototypeRouting.Mean, KMeansDistance.SquaredEuclidean, 3, false)]
    public void Regressor_gradient_matches_finite_differences(PrototypeRouting routing, KMeansDistance distance, int topK, bool featureWeights)
    {
        var random = new Random(11 + (int)routing);
        const int t = 2;
        var rows = RandomValues(random, N * D);
        if (distance == KMeansDistance.Cosine)
            UnitRows(rows);
        var targets = RandomValues(random, N * t);
        var objective = new RegressorObjective(rows, D, targets, t, null, P, topK, routing, temperature: 0.3, distance, distanceScale: 0.6);
        var prototypes = RandomValues(random, P * D);
        var parameters = new PrototypeParameters(distance == KMeansDistance.Cosine ? UnitRows(prototypes) : prototypes, RandomValues(random, P * t),
            featureWeights ? RandomValues(random, D, 0.3) : []);
        if (routing == PrototypeRouting.Mean)
        {
            // Mean routing does not read the distances: only the targets get a gradient, and it must still be right.
            var tuner = new PrototypeFineTuner(objective, new FineTuningOptions(), distance, D, 1, 1, 1);
            var gradient = parameters.ZeroLike();
            tuner.Accumulate(parameters, [], Enumerable.Range(0, N).ToArray(), gradient, 0);
            Assert.IsTrue(gradient.Prototypes.All(v => v == 0));
            Assert.IsTrue(gradient.Targets.Any(v => v != 0));
            return;
        }
        CheckGradient(objective, parameters, distance, $"{routing} {distance}");
    }

    [TestMethod]
    [DataRow(KMeansDistance.SquaredEuclidean, true)]
    [DataRow(KMeansDistance.Cosine, false)]
    [DataRow(KMeansDistance.Manhattan, false)]
    public void Multi_label_asymmetric_loss_gradient_matches_finite_differences(KMeansDistance distance, bool featureWeights)
    {
        var random = new Random(21 + (int)distance);
        const int tags = 3;
        var rows = RandomValues(random, N * D);
        if (distance == KMeansDistance.Cosine)
            UnitRows(rows);
        var flags = Enumerable.Range(0, N * tags).Select(_ => random.NextDouble() < 0.4).ToArray();
        var owners = Enumerable.Range(0, P).Select(p => p % tags).ToArray();
        // A small distance scale keeps scores well above the clip, so negatives take part.
        var objective = new MultiLabelObjective(rows, D, flags, tags, null, owners, gammaPositive: 1, gammaNegative: 4, clip: 0.05, distance,
            distanceScale: 0.05);
        var prototypes = RandomValues(random, P * D);
        var parameters = new PrototypeParameters(distance == KMeansDistance.Cosine ? UnitRows(prototypes) : prototypes, [],
            featureWeights ? RandomValues(random, D, 0.3) : []);
        CheckGradient(objective, parameters, distance, $"ASL {distance}");
    }

    [TestMethod]
    public void Asymmetric_loss_discards_easy_negatives_and_matches_its_formula()
    {
        var objective = new MultiLabelObjective([0.0], 1, [false], 1, null, [0], gammaPositive: 1, gammaNegative: 4, clip: 0.05,
            KMeansDistance.SquaredEuclidean, 1);
        foreach (double p in new[] { 0.01, 0.3, 0.7, 0.99 })
        {
            double shifted = Math.Max(p - 0.05, 0);
            Assert.AreEqual(-Math.Pow(shifted, 4) * Math.Log(1 - shifted), objective.Negative(p).Value, 1e-12, $"negative at {p}");
            Assert.AreEqual(-(1 - p) * Math.Log(p), objective.Positive(p).Value, 1e-12, $"positive at {p}");
        }
        Assert.AreEqual((0.0, 0.0), objective.Negative(0.04));
    }

    [TestMethod]
    [DataRow(KMeansDistance.SquaredEuclidean)]
    [DataRow(KMeansDistance.Cosine)]
    [DataRow(KMeansDistance.Manhattan)]
    public void Penalty_gradients_match_finite_differences(KMeansDistance distance)
    {
        var random = new Random(31 + (int)distance);
        const int classes = 3;
        var rows = RandomValues(random, N * D);
        if (distance == KMeansDistance.Cosine)
            UnitRows(rows);
        var labels = Enumerable.Range(0, N).Select(_ => random.Next(classes)).ToArray();
        var owners = Enumerable.Range(0, P).Select(p => p % classes).ToArray();
        var objective = new ClassifierObjective(rows, D, labels, null, owners, classes, PrototypeLoss.Glvq, null, distance);
        var prototypes = RandomValues(random, P * D, 0.5);
        var parameters = new PrototypeParameters(distance == KMeansDistance.Cosine ? UnitRows(prototypes) : prototypes, [], []);
        CheckGradient(objective, parameters, distance, $"penalties {distance}",
            new FineTuningOptions { L2Regularization = 0.3, DiversityRegularization = 2 });
    }
}
