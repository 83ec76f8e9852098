using FlashKMeans.Prototypes;

namespace FlashKMeans.Tests.Prototypes;

/// <summary>
/// Phase 2 as users see it: fine-tuning beats the k-means grid it starts from on held-out rows where k-means alone
/// cannot place the boundary, predictions follow the tuned prototypes (checked by brute force in float64), learned feature
/// weights find the informative features, and the run is deterministic, exact far from the origin, early-stopped and
/// cancellable.
/// </summary>
[TestClass]
public sealed class FineTuningTests
{
    private const int D = 6;

    /// <summary>
    /// Classes of blobs whose within-class spread is largest along features 2..5, which carry no class information, and
    /// whose classes differ along features 0 and 1 by less than that noise: k-means prototypes sit at the class means,
    /// where the noise decides the nearest one for many rows.
    /// </summary>
    private static (float[] Rows, int[] Labels) Overlapping(int n, int classes, int seed, double offset = 0)
    {
        var centres = new Random(123);
        var means = Enumerable.Range(0, classes).Select(_ => new[] { 2.5 * TestData.Normal(centres), 2.5 * TestData.Normal(centres) }).ToArray();
        var random = new Random(seed);
        var rows = new float[n * D];
        var labels = new int[n];
        for (int r = 0; r < n; r++)
        {
            int c = labels[r] = random.Next(classes);
            for (int j = 0; j < D; j++)
                rows[r * D + j] = (float)(offset + (j < 2 ? means[c][j] + 0.6 * TestData.Normal(random) : 3 * TestData.Normal(random)));
        }
        return (rows, labels);
    }

    private static double Accuracy(int[] predicted, int[] labels) => predicted.Zip(labels).Count(p => p.First == p.Second) / (double)labels.Length;

    private static PrototypeClassifierOptions Options(PrototypeLoss loss, int epochs, bool featureWeights = false, int? threads = null) => new()
    {
        PrototypesPerClass = 2, Routing = PrototypeRouting.Hard, Loss = loss, Seed = 5, NumberOfThreads = threads,
        FineTuning = { Epochs = epochs, LearnFeatureWeights = featureWeights },
    };

    [TestMethod]
    [DataRow(PrototypeLoss.CrossEntropy, false)]
    [DataRow(PrototypeLoss.Glvq, false)]
    [DataRow(PrototypeLoss.CrossEntropy, true)]
    public void Fine_tuning_beats_the_k_means_grid_on_held_out_rows(PrototypeLoss loss, bool featureWeights)
    {
        var (train, trainLabels) = Overlapping(3000, 4, seed: 1);
        var (test, testLabels) = Overlapping(2000, 4, seed: 2);
        var before = new PrototypeClassifier(Options(loss, 0)).Fit(train, D, trainLabels, 4);
        var after = new PrototypeClassifier(Options(loss, 30, featureWeights)).Fit(train, D, trainLabels, 4);
        double a0 = Accuracy(before.Predict(test), testLabels), a1 = Accuracy(after.Predict(test), testLabels);
        Assert.IsNull(before.FineTuning);
        Assert.IsNotNull(after.FineTuning);
        Assert.IsTrue(a1 >= a0 + 0.03, $"{loss}: phase 1 {a0:F3}, fine-tuned {a1:F3}");

        // The model predicts from what it holds: the nearest prototype under Σ λⱼ(xⱼ − pⱼ)², in float64.
        var prototypes = after.Prototypes.ToArray();
        var lambda = after.FeatureWeights.Length > 0 ? after.FeatureWeights.ToArray() : Enumerable.Repeat(1f, D).ToArray();
        Assert.AreEqual(featureWeights, after.FeatureWeights.Length == D);
        var predicted = after.Predict(test);
        int agree = 0;
        for (int r = 0; r < testLabels.Length; r++)
        {
            int best = Enumerable.Range(0, after.PrototypeClasses.Count).MinBy(p =>
                Enumerable.Range(0, D).Sum(j => lambda[j] * Math.Pow((double)test[r * D + j] - prototypes[p * D + j], 2)));
            agree += after.PrototypeClasses[best] == predicted[r] ? 1 : 0;
        }
        Assert.IsTrue(agree >= testLabels.Length - 2, $"{agree} of {testLabels.Length} predictions follow the nearest prototype");
    }

    [TestMethod]
    public void Learned_feature_weights_favour_the_informative_features()
    {
        var (train, labels) = Overlapping(3000, 4, seed: 3);
        var model = new PrototypeClassifier(Options(PrototypeLoss.CrossEntropy, 30, featureWeights: true)).Fit(train, D, labels, 4);
        var w = model.FeatureWeights.ToArray();
        Assert.AreEqual(D, w.Sum(), 1e-3, "the weights average 1");
        Assert.IsTrue(Math.Min(w[0], w[1]) > 2 * w.Skip(2).Max(), $"weights {string.Join(", ", w.Select(v => v.ToString("F3")))}");
    }

    [TestMethod]
    public void Automatic_feature_weights_find_the_informative_features_and_phase_2_keeps_or_learns_from_them()
    {
        var (train, labels) = Overlapping(3000, 4, seed: 20);
        var (test, testLabels) = Overlapping(2000, 4, seed: 21);
        var plainOptions = Options(PrototypeLoss.CrossEntropy, 0);
        var autoOptions = Options(PrototypeLoss.CrossEntropy, 0);
        autoOptions.AutomaticFeatureWeights = true;
        var plain = new PrototypeClassifier(plainOptions).Fit(train, D, labels, 4);
        var weighted = new PrototypeClassifier(autoOptions).Fit(train, D, labels, 4);
        var w = weighted.FeatureWeights.ToArray();
        Assert.AreEqual(D, w.Length);
        Assert.IsTrue(w.All(v => v is >= 0 and <= 1));
        Assert.IsTrue(Math.Min(w[0], w[1]) > 2 * w.Skip(2).Max(), $"weights {string.Join(", ", w.Select(v => v.ToString("F3")))}");
        // Against the documented definition: 1 − within / total variance per feature, clusters by nearest prototype, in float64.
        var prototypes = weighted.Prototypes.ToArray();
        var nearest = Enumerable.Range(0, labels.Length).Select(r => Enumerable.Range(0, prototypes.Length / D)
            .MinBy(p => Enumerable.Range(0, D).Sum(j => Math.Pow((double)train[r * D + j] - prototypes[p * D + j], 2)))).ToArray();
        for (int j = 0; j < D; j++)
        {
            double mean = Enumerable.Range(0, labels.Length).Average(r => (double)train[r * D + j]);
            double total = Enumerable.Range(0, labels.Length).Sum(r => Math.Pow(train[r * D + j] - mean, 2));
            double within = Enumerable.Range(0, labels.Length).Sum(r => Math.Pow(train[r * D + j] - prototypes[nearest[r] * D + j], 2));
            Assert.AreEqual(Math.Clamp(1 - within / total, 0, 1), w[j], 1e-3, $"feature {j}");
        }
        double a0 = Accuracy(plain.Predict(test), testLabels), a1 = Accuracy(weighted.Predict(test), testLabels);
        Assert.IsTrue(a1 >= a0 + 0.03, $"unweighted {a0:F3}, automatic weights {a1:F3}");

        // Phase 2 keeps them, unless it learns them; then it starts from them.
        autoOptions.FineTuning.Epochs = 5;
        var kept = new PrototypeClassifier(autoOptions).Fit(train, D, labels, 4);
        CollectionAssert.AreEqual(w, kept.FeatureWeights.ToArray());
        autoOptions.FineTuning.LearnFeatureWeights = true;
        var learned = new PrototypeClassifier(autoOptions).Fit(train, D, labels, 4).FeatureWeights.ToArray();
        Assert.AreEqual(D, learned.Sum(), 1e-3, "learned weights average 1");
        Assert.IsTrue(Math.Min(learned[0], learned[1]) > 3 * learned.Skip(2).Max());
    }

    [TestMethod]
    public void Same_seed_gives_the_same_bits_at_any_thread_count()
    {
        var (train, labels) = Overlapping(1500, 4, seed: 4);
        var one = new PrototypeClassifier(Options(PrototypeLoss.CrossEntropy, 5, featureWeights: true, threads: 1)).Fit(train, D, labels, 4);
        var two = new PrototypeClassifier(Options(PrototypeLoss.CrossEntropy, 5, featureWeights: true, threads: 2)).Fit(train, D, labels, 4);
        CollectionAssert.AreEqual(one.Prototypes.ToArray(), two.Prototypes.ToArray());
        CollectionAssert.AreEqual(one.FeatureWeights.ToArray(), two.FeatureWeights.ToArray());
        Assert.AreEqual(one.FineTuning!.LearningRate, two.FineTuning!.LearningRate);
    }

    [TestMethod]
    public void Data_far_from_the_origin_tunes_as_data_near_it()
    {
        const double offset = 1e5;
        // The near rows are the far ones moved back exactly, so both hold the same points to the bit.
        var (far, labels) = Overlapping(1500, 4, seed: 6, offset);
        var near = far.Select(v => (float)(v - offset)).ToArray();
        var (farTest, testLabels) = Overlapping(1000, 4, seed: 7, offset);
        var test = farTest.Select(v => (float)(v - offset)).ToArray();
        var a = new PrototypeClassifier(Options(PrototypeLoss.CrossEntropy, 10)).Fit(near, D, labels, 4);
        var b = new PrototypeClassifier(Options(PrototypeLoss.CrossEntropy, 10)).Fit(far, D, labels, 4);
        var pa = a.Prototypes.ToArray();
        var pb = b.Prototypes.ToArray();
        // float32 holds 1e5 to about 0.008, so the k-means grids agree to that, not to the bit; Adam, which steps by the
        // gradient's sign more than its size, carries such differences to a fraction of one step (0.06 × the spread).
        for (int i = 0; i < pa.Length; i++)
            Assert.AreEqual(pa[i] + offset, pb[i], 0.2, $"value {i}");
        double accuracyNear = Accuracy(a.Predict(test), testLabels), accuracyFar = Accuracy(b.Predict(farTest), testLabels);
        Assert.AreEqual(accuracyNear, accuracyFar, 0.01);
    }

    /// <summary>Held-out results read from a script, one (loss, error) per measurement; training steps see no loss.</summary>
    private sealed class ScriptedObjective((double Loss, double Error)[] script) : IPrototypeObjective
    {
        private int _measured = -1;

        public int RowCount => 100;

        public IReadOnlyList<int> Groups => [0, 0];

        public (double Loss, double Weight, double Wrong) Accumulate(PrototypeParameters parameters, ReadOnlySpan<double> lambda,
            ReadOnlySpan<int> rows, PrototypeParameters? gradient, ulong draws)
        {
            if (gradient is not null)
                return (0, rows.Length, double.NaN);
            // The 10 held-out rows are measured in one block: each measurement takes the next entry.
            var (loss, error) = script[Math.Min(++_measured, script.Length - 1)];
            return (loss * rows.Length, rows.Length, error * rows.Length);
        }

        public double NearestDistance(PrototypeParameters parameters) => 1;
    }

    [TestMethod]
    public void A_classifier_keeps_its_best_held_out_error_and_trains_on_while_error_or_loss_improves()
    {
        // Phase 1, then epochs 1–9. Error is least at epoch 2; the loss is least at 4 and last falls there; nothing
        // improves after. Patience 3: the tuner stops after epoch 7 and keeps epoch 2.
        (double, double)[] script =
        [
            (1.00, 0.50), (0.90, 0.40), (0.80, 0.30), (0.85, 0.35), (0.70, 0.36),
            (0.75, 0.37), (0.76, 0.38), (0.77, 0.39), (0.60, 0.10), (0.50, 0.05),
        ];
        var tuner = new PrototypeFineTuner(new ScriptedObjective(script),
            new FineTuningOptions { Epochs = 9, LearningRate = 0.01, EarlyStoppingRounds = 3 }, KMeansDistance.SquaredEuclidean, D,
            seed: 1, threads: 2, tau: 1);
        var result = tuner.Run(new PrototypeParameters(new double[2 * D], [], []), CancellationToken.None);
        Assert.AreEqual(2, result.BestEpoch, "the least held-out error, not the least loss (epoch 4)");
        CollectionAssert.AreEqual(new[] { 1.00, 0.90, 0.80, 0.85, 0.70, 0.75, 0.76, 0.77 }, result.ValidationLoss.ToArray(),
            "stopped three epochs after the loss last fell (epoch 4), not after the error did (epoch 2)");
        CollectionAssert.AreEqual(new[] { 0.50, 0.40, 0.30, 0.35, 0.36, 0.37, 0.38, 0.39 }, result.ValidationError.ToArray());
    }

    [TestMethod]
    public void A_regressor_keeps_its_best_held_out_loss_and_stops_after_the_patience()
    {
        var random = new Random(12);
        const int n = 1500;
        var rows = Enumerable.Range(0, n * D).Select(_ => (float)random.NextDouble()).ToArray();
        var targets = Enumerable.Range(0, n).Select(r => (float)(Math.Sin(6 * rows[r * D]) + 0.3 * random.NextDouble())).ToArray();
        var result = new PrototypeRegressor(new PrototypeRegressorOptions
        {
            TargetStrata = 4, PrototypesPerStratum = 3, Seed = 3,
            FineTuning = { Epochs = 200, EarlyStoppingRounds = 3, LearningRate = 0.3 },
        }).Fit(rows, D, targets).FineTuning!;
        var losses = result.ValidationLoss;
        Assert.AreEqual(0, result.ValidationError.Count, "a regressor has no error measure");
        Assert.AreEqual(losses.Min(), losses[result.BestEpoch]);
        Assert.IsTrue(losses.Count - 1 < 200, "stopped early");
        Assert.AreEqual(result.BestEpoch + 3, losses.Count - 1, $"ran {losses.Count - 1} epochs, best {result.BestEpoch}");
    }

    [TestMethod]
    public void Annealing_changes_nothing_over_one_epoch_and_the_path_over_several()
    {
        var (train, labels) = Overlapping(800, 3, seed: 21);
        float[] Tuned(int epochs, bool anneal)
        {
            var options = Options(PrototypeLoss.CrossEntropy, epochs);
            options.FineTuning.LearningRate = 0.05;
            options.FineTuning.ValidationFraction = 0;  // keep the last epoch's parameters
            options.FineTuning.AnnealLearningRate = anneal;
            return new PrototypeClassifier(options).Fit(train, D, labels, 3).Prototypes.ToArray();
        }
        // The first epoch runs at the full rate either way; later ones at rate · (1 + cos(π (e − 1) / E)) / 2.
        CollectionAssert.AreEqual(Tuned(1, false), Tuned(1, true));
        CollectionAssert.AreNotEqual(Tuned(4, false), Tuned(4, true));
    }

    [TestMethod]
    public void Learning_rate_finder_puts_the_model_back()
    {
        var random = new Random(9);
        var rows = Enumerable.Range(0, 200 * D).Select(_ => TestData.Normal(random)).ToArray();
        var labels = Enumerable.Range(0, 200).Select(r => rows[r * D] > 0 ? 1 : 0).ToArray();
        var objective = new ClassifierObjective(rows, D, labels, null, [0, 1, 0, 1], 2, PrototypeLoss.CrossEntropy, null, KMeansDistance.SquaredEuclidean);
        var start = new PrototypeParameters(Enumerable.Range(0, 4 * D).Select(_ => TestData.Normal(random)).ToArray(), [], new double[D]);
        var parameters = start.Clone();
        var tuner = new PrototypeFineTuner(objective, new FineTuningOptions { Epochs = 0, LearningRate = null, BatchSize = 32 },
            KMeansDistance.SquaredEuclidean, D, seed: 1, threads: 2, tau: 1);
        var result = tuner.Run(parameters, CancellationToken.None);
        Assert.IsTrue(result.LearningRate is > 1e-8 and < 10, $"rate {result.LearningRate}");
        CollectionAssert.AreEqual(start.Prototypes, parameters.Prototypes);
        CollectionAssert.AreEqual(start.FeatureLogits, parameters.FeatureLogits);
    }

    [TestMethod]
    public void Sampled_negative_classes_train_many_classes()
    {
        const int classes = 30;
        var (train, labels) = Overlapping(6000, classes, seed: 10);
        var (test, testLabels) = Overlapping(3000, classes, seed: 11);
        var before = new PrototypeClassifier(Options(PrototypeLoss.CrossEntropy, 0)).Fit(train, D, labels, classes);
        var options = Options(PrototypeLoss.CrossEntropy, 15);
        options.SampledNegativeClasses = 4;
        var sampled = new PrototypeClassifier(options).Fit(train, D, labels, classes);
        double a0 = Accuracy(before.Predict(test), testLabels), a1 = Accuracy(sampled.Predict(test), testLabels);
        Assert.IsTrue(a1 >= a0 + 0.02, $"phase 1 {a0:F3}, sampled softmax {a1:F3} best {sampled.FineTuning!.BestEpoch} rate {sampled.FineTuning.LearningRate} losses {string.Join(",", sampled.FineTuning.ValidationLoss.Select(v => v.ToString("F3")))}");
    }

    [TestMethod]
    public void Regressor_fine_tuning_lowers_held_out_error()
    {
        static (float[] Rows, float[] Targets) Smooth(int n, int seed)
        {
            var random = new Random(seed);
            var rows = new float[n * 2];
            var targets = new float[n];
            for (int r = 0; r < n; r++)
            {
                double x = 3 * random.NextDouble() - 1.5, y = 3 * random.NextDouble() - 1.5;
                rows[2 * r] = (float)x;
                rows[2 * r + 1] = (float)y;
                targets[r] = (float)(Math.Sin(2 * x) + y * y);
            }
            return (rows, targets);
        }
        var (train, targets) = Smooth(3000, 1);
        var (test, testTargets) = Smooth(1000, 2);
        double Error(int epochs)
        {
            var model = new PrototypeRegressor(new PrototypeRegressorOptions
            {
                TargetStrata = 4, PrototypesPerStratum = 4, Routing = PrototypeRouting.Softmax, Temperature = 0.05, Seed = 2,
                FineTuning = { Epochs = epochs },
            }).Fit(train, 2, targets);
            return model.Predict(test).Zip(testTargets).Average(p => Math.Pow(p.First - p.Second, 2));
        }
        double e0 = Error(0), e1 = Error(40);
        Assert.IsTrue(e1 < 0.8 * e0, $"phase 1 {e0:F4}, fine-tuned {e1:F4}");
    }

    [TestMethod]
    public void Multi_label_fine_tuning_lowers_the_held_out_asymmetric_loss()
    {
        // Overlapping classes at a small scale, so that similarities 1 / (1 + d) of foreign tags are far from 0 and the
        // loss's negative part has work to do.
        const int tags = 5;
        var (wide, labels) = Overlapping(2000, tags, seed: 12);
        var rows = wide.Select((v, i) => i % D < 2 ? 0.5f * v : 0.1f * v).ToArray();
        var flags = new bool[labels.Length * tags];
        for (int r = 0; r < labels.Length; r++)
        {
            flags[r * tags + labels[r]] = true;
            if (labels[r] < 2)
                flags[r * tags + labels[r] + 1] = true;
        }
        var model = new MultiLabelClassifier(new MultiLabelOptions
        {
            PrototypesPerTag = 2, Seed = 3, AsymmetricClip = 0, AsymmetricGammaNegative = 1, FineTuning = { Epochs = 20, LearningRate = 0.01 },
        })
            .Fit(rows, D, flags, tags);
        var losses = model.FineTuning!.ValidationLoss;
        Assert.IsTrue(losses.Min() < 0.9 * losses[0], $"held-out loss {losses[0]:F4} → {losses.Min():F4}");
    }

    [TestMethod]
    public void Fine_tuning_continues_from_a_model_onto_drifted_data()
    {
        // The informative features drift by 1.5: the old model misplaces the new boundary; continuing on new rows moves it.
        static float[] Drift(float[] rows) => rows.Select((v, i) => i % D < 2 ? v + 1.5f : v).ToArray();
        var (train, labels) = Overlapping(3000, 4, seed: 14);
        var (newTrain, newLabels) = Overlapping(3000, 4, seed: 15);
        var (newTest, newTestLabels) = Overlapping(2000, 4, seed: 16);
        newTrain = Drift(newTrain);
        newTest = Drift(newTest);
        var classifier = new PrototypeClassifier(Options(PrototypeLoss.CrossEntropy, 20));
        var old = classifier.Fit(train, D, labels, 4);
        var continued = classifier.FineTune(old, newTrain, newLabels);
        CollectionAssert.AreEqual(old.PrototypeClasses.ToArray(), continued.PrototypeClasses.ToArray());
        double before = Accuracy(old.Predict(newTest), newTestLabels), after = Accuracy(continued.Predict(newTest), newTestLabels);
        Assert.IsTrue(after >= before + 0.05, $"old model {before:F3}, continued {after:F3}");

        // The regressor and the multi-label classifier continue the same way; targets and tags keep their shapes.
        var targets = labels.Select(c => (float)c).ToArray();
        var regressor = new PrototypeRegressor(new PrototypeRegressorOptions { TargetStrata = 4, PrototypesPerStratum = 2, FineTuning = { Epochs = 3 } });
        var regression = regressor.Fit(train, D, targets);
        var regressionContinued = regressor.FineTune(regression, newTrain, newLabels.Select(c => (float)c).ToArray());
        Assert.AreEqual(regression.PrototypeTargets.Length, regressionContinued.PrototypeTargets.Length);
        var flags = labels.SelectMany(c => Enumerable.Range(0, 4).Select(t => t == c)).ToArray();
        var tagger = new MultiLabelClassifier(new MultiLabelOptions { PrototypesPerTag = 2, FineTuning = { Epochs = 3 } });
        var tagged = tagger.Fit(train, D, flags, 4);
        Assert.AreEqual(tagged.PrototypeTags.Count, tagger.FineTune(tagged, newTrain, newLabels.SelectMany(c => Enumerable.Range(0, 4).Select(t => t == c)).ToArray()).PrototypeTags.Count);
    }

    [TestMethod]
    public void Continuing_needs_epochs_matching_settings_and_matching_rows()
    {
        var (train, labels) = Overlapping(600, 4, seed: 17);
        var model = new PrototypeClassifier(Options(PrototypeLoss.CrossEntropy, 2, featureWeights: true)).Fit(train, D, labels, 4);
        var noEpochs = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new PrototypeClassifier(Options(PrototypeLoss.CrossEntropy, 0)).FineTune(model, train, labels));
        StringAssert.Contains(noEpochs.Message, "Epochs");
        var noWeights = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new PrototypeClassifier(Options(PrototypeLoss.CrossEntropy, 2)).FineTune(model, train, labels));
        StringAssert.Contains(noWeights.Message, "LearnFeatureWeights");
        var tuner = new PrototypeClassifier(Options(PrototypeLoss.CrossEntropy, 2, featureWeights: true));
        Assert.ThrowsExactly<ArgumentException>(() => tuner.FineTune(model, train.AsSpan(0, 599 * D).ToArray().Concat(new float[D - 1]).ToArray(), labels));
        Assert.ThrowsExactly<ArgumentException>(() => tuner.FineTune(model, train, labels.Select(c => c == 3 ? 4 : c).ToArray()));
    }

    [TestMethod]
    public void Missing_features_are_left_out_of_the_grid_the_tuning_and_the_prediction()
    {
        // A fifth of the values missing at random.
        static float[] Holes(float[] rows, int seed)
        {
            var random = new Random(seed);
            var holed = rows.ToArray();
            for (int r = 0; r < holed.Length / D; r++)
            {
                for (int j = 0; j < D; j++)
                {
                    if (random.NextDouble() < 0.2)
                        holed[r * D + j] = float.NaN;
                }
                if (Enumerable.Range(0, D).All(j => float.IsNaN(holed[r * D + j])))
                    holed[r * D] = rows[r * D];  // a row keeps one feature at least
            }
            return holed;
        }
        var (train, labels) = Overlapping(3000, 4, seed: 18);
        var (test, testLabels) = Overlapping(1500, 4, seed: 19);
        var holedTrain = Holes(train, 1);
        var holedTest = Holes(test, 2);
        Assert.ThrowsExactly<ArgumentException>(() => new PrototypeClassifier(Options(PrototypeLoss.CrossEntropy, 0)).Fit(holedTrain, D, labels, 4));

        var options = Options(PrototypeLoss.CrossEntropy, 15);
        options.MissingFeatures = MissingFeatures.Ignore;
        var model = new PrototypeClassifier(options).Fit(holedTrain, D, labels, 4);
        // Against the common fix, each missing value filled with its feature's mean, for training and prediction alike.
        var means = Enumerable.Range(0, D).Select(j => Enumerable.Range(0, labels.Length).Select(r => holedTrain[r * D + j]).Where(v => !float.IsNaN(v)).Average()).ToArray();
        float[] Filled(float[] rows) => rows.Select((v, i) => float.IsNaN(v) ? means[i % D] : v).ToArray();
        var imputed = new PrototypeClassifier(Options(PrototypeLoss.CrossEntropy, 15)).Fit(Filled(holedTrain), D, labels, 4);
        double withHoles = Accuracy(model.Predict(holedTest), testLabels), filled = Accuracy(imputed.Predict(Filled(holedTest)), testLabels);
        Assert.IsTrue(withHoles >= filled - 0.01 && withHoles > 0.8, $"missing values left out {withHoles:F3}, filled with means {filled:F3}");

        // Each row's nearest prototype under the documented distance: Σ over present features × d / present, in float64.
        var prototypes = model.Prototypes.ToArray();
        var predicted = model.Predict(holedTest);
        int agree = 0;
        for (int r = 0; r < testLabels.Length; r++)
        {
            var present = Enumerable.Range(0, D).Where(j => !float.IsNaN(holedTest[r * D + j])).ToArray();
            int best = Enumerable.Range(0, model.PrototypeClasses.Count).MinBy(p =>
                present.Sum(j => Math.Pow((double)holedTest[r * D + j] - prototypes[p * D + j], 2)) * D / present.Length);
            agree += model.PrototypeClasses[best] == predicted[r] ? 1 : 0;
        }
        Assert.IsTrue(agree >= testLabels.Length - 2, $"{agree} of {testLabels.Length} predictions follow the nearest prototype");

        // The regressor and the multi-label classifier take the same setting.
        var regression = new PrototypeRegressor(new PrototypeRegressorOptions
        {
            TargetStrata = 4, PrototypesPerStratum = 2, MissingFeatures = MissingFeatures.Ignore, FineTuning = { Epochs = 3 },
        }).Fit(holedTrain, D, labels.Select(c => (float)c).ToArray());
        Assert.IsTrue(regression.Predict(holedTest).All(float.IsFinite));
        var tags = new MultiLabelClassifier(new MultiLabelOptions { PrototypesPerTag = 2, MissingFeatures = MissingFeatures.Ignore, FineTuning = { Epochs = 3 } })
            .Fit(holedTrain, D, labels.SelectMany(c => Enumerable.Range(0, 4).Select(t => t == c)).ToArray(), 4);
        Assert.IsTrue(tags.Predict(holedTest).Any(t => t));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new PrototypeClassifier(new PrototypeClassifierOptions
        {
            MissingFeatures = MissingFeatures.Ignore, Distance = KMeansDistance.Cosine,
        }));
    }

    [TestMethod]
    public void Cancellation_stops_fine_tuning()
    {
        var (train, labels) = Overlapping(1500, 4, seed: 13);
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        Assert.ThrowsExactly<OperationCanceledException>(() =>
            new PrototypeClassifier(Options(PrototypeLoss.CrossEntropy, 5)).Fit(train, D, labels, 4, cancellationToken: cancel.Token));
    }

    [TestMethod]
    public void Bad_fine_tuning_settings_are_named()
    {
        void Throws(string name, Action<PrototypeClassifierOptions> set)
        {
            var options = new PrototypeClassifierOptions();
            set(options);
            var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new PrototypeClassifier(options));
            Assert.AreEqual(name, error.ParamName);
        }
        Throws("Epochs", o => o.FineTuning.Epochs = -1);
        Throws("LearningRate", o => o.FineTuning.LearningRate = 0);
        Throws("BatchSize", o => o.FineTuning.BatchSize = 0);
        Throws("ValidationFraction", o => o.FineTuning.ValidationFraction = 1);
        Throws("EarlyStoppingRounds", o => o.FineTuning.EarlyStoppingRounds = 0);
        Throws("L2Regularization", o => o.FineTuning.L2Regularization = double.NaN);
        Throws("DiversityRegularization", o => o.FineTuning.DiversityRegularization = -1);
        Throws("SampledNegativeClasses", o => o.SampledNegativeClasses = 0);
        Throws("LearnFeatureWeights", o => { o.Distance = KMeansDistance.Cosine; o.FineTuning.LearnFeatureWeights = true; });
    }
}
