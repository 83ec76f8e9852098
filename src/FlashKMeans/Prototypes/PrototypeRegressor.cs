using FlashKMeans.Cpu;
using FlashKMeans.Data;
using FlashKMeans.Primitives;

namespace FlashKMeans.Prototypes;

/// <summary>
/// A regressor over prototypes, in two stages as the FastKMeans Suite builds it: k-means clusters the targets into
/// strata, then k-means places prototypes in each stratum's features; each prototype carries the weighted mean target of
/// the rows it holds. A prediction blends the targets of the top-k nearest prototypes (an RBF / Nadaraya–Watson
/// estimator over the prototypes). Targets may be vectors.
/// </summary>
public sealed class PrototypeRegressor
{
    private readonly PrototypeRegressorOptions _options;

    /// <param name="options">The settings; copied.</param>
    public PrototypeRegressor(PrototypeRegressorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options.Clone();
    }

    /// <summary>Builds the prototypes and their targets.</summary>
    /// <param name="rows">n × d row-major features.</param>
    /// <param name="dimension">d.</param>
    /// <param name="targets">n × t row-major targets.</param>
    /// <param name="targetDimension">t, values per target (1 for scalar regression).</param>
    /// <param name="weights">n non-negative row weights, or empty.</param>
    /// <param name="cancellationToken">Stops phase 2 between steps.</param>
    /// <exception cref="ArgumentException">Mismatched lengths, or a NaN or infinite feature or target (the message names the row).</exception>
    public PrototypeRegressorModel Fit(ReadOnlySpan<float> rows, int dimension, ReadOnlySpan<float> targets, int targetDimension = 1,
        ReadOnlySpan<float> weights = default, CancellationToken cancellationToken = default)
    {
        Validate(rows, dimension, targets, targetDimension, weights);
        int n = rows.Length / dimension, d = dimension, t = targetDimension;

        // Stage 1: strata of the targets.
        int strata = Math.Min(_options.TargetStrata, n);
        var byTarget = _options.FitGrid(targets, t, strata, weights, problem: 0, KMeansDistance.SquaredEuclidean);
        var stratumOf = byTarget.Predict(targets, t);
        var (start, members) = LabelGroups.ByLabel(stratumOf, strata);
        var prototypes = new List<float>();
        var prototypeTargets = new List<float>();
        float[]? weightArray = weights.IsEmpty ? null : weights.ToArray();
        for (int s = 0; s < strata; s++)
        {
            var own = members.AsSpan(start[s], start[s + 1] - start[s]).ToArray();
            if (own.Length == 0)
                continue;
            var stratumRows = Gather(rows, own, d);
            var stratumTargets = Gather(targets, own, t);
            float[]? stratumWeights = weightArray is null ? null : own.Select(r => weightArray[r]).ToArray();
            if (stratumWeights is not null && stratumWeights.All(w => w == 0))
                continue;
            // Stage 2: prototypes in the stratum's features, each carrying the mean target of its rows.
            int k = Math.Min(_options.PrototypesPerStratum, own.Length);
            var model = _options.FitGrid(stratumRows, d, k, stratumWeights, problem: s + 1);
            var labels = new PrototypeGrid(model.Centroids.ToArray(), d, _options.Distance, null, _options.MissingFeatures).Nearest(stratumRows);
            var sums = new double[k * t];
            var totals = new double[k];
            for (int i = 0; i < own.Length; i++)
            {
                double w = stratumWeights?[i] ?? 1.0;
                totals[labels[i]] += w;
                VectorMath.AddScaled(sums.AsSpan(labels[i] * t, t), stratumTargets.AsSpan(i * t, t), w);
            }
            var centroids = model.Centroids.Span;
            for (int p = 0; p < k; p++)
            {
                if (!(totals[p] > 0))
                    continue;  // a prototype that holds no weight predicts nothing
                prototypes.AddRange(centroids.Slice(p * d, d).ToArray());
                for (int j = 0; j < t; j++)
                    prototypeTargets.Add((float)(sums[p * t + j] / totals[p]));
            }
        }
        var relevance = _options.Relevance(rows, d, weights, prototypes.ToArray());
        if (_options.FineTuning.Epochs == 0 || prototypes.Count == 0)
            return new PrototypeRegressorModel(prototypes.ToArray(), prototypeTargets.ToArray(), d, t, _options, relevance);
        return Tune(prototypes.ToArray(), prototypeTargets.ToArray(), relevance, rows, d, targets, t, weights, cancellationToken);
    }

    /// <summary>
    /// Continues phase 2 from <paramref name="model"/>'s prototypes, targets (and learned feature weights) on
    /// <paramref name="rows"/> and <paramref name="targets"/>, which may be new. This regressor's options
    /// (<see cref="PrototypeGridOptions.FineTuning"/> with epochs above 0) drive the training and the new model's prediction.
    /// </summary>
    /// <exception cref="ArgumentException">The rows or targets do not match the model's dimensions, or a bad value.</exception>
    /// <exception cref="ArgumentOutOfRangeException">No epochs to run, or the model's feature weights and
    /// <see cref="FineTuningOptions.LearnFeatureWeights"/> disagree.</exception>
    public PrototypeRegressorModel FineTune(PrototypeRegressorModel model, ReadOnlySpan<float> rows, ReadOnlySpan<float> targets,
        ReadOnlySpan<float> weights = default, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        _options.ThrowIfCannotContinue(model.Distance, model.FeatureWeights.Length > 0);
        Validate(rows, model.Dimension, targets, model.TargetDimension, weights);
        return Tune(model.Prototypes.ToArray(), model.PrototypeTargets.ToArray(), model.FeatureWeights.IsEmpty ? null : model.FeatureWeights.ToArray(),
            rows, model.Dimension, targets, model.TargetDimension, weights, cancellationToken);
    }

    /// <summary>Phase 2 from <paramref name="prototypes"/> and their <paramref name="prototypeTargets"/>.</summary>
    private PrototypeRegressorModel Tune(float[] prototypes, float[] prototypeTargets, float[]? featureWeights, ReadOnlySpan<float> rows, int d,
        ReadOnlySpan<float> targets, int t, ReadOnlySpan<float> weights, CancellationToken cancellationToken)
    {
        // Targets train in units of their spread about their mean, as the features do.
        var (targetMean, targetScale) = TrainingSpace.Spread(targets, t, weights);
        double[] Standard(ReadOnlySpan<float> values)
        {
            var result = new double[values.Length];
            for (int i = 0; i < values.Length; i++)
                result[i] = (values[i] - targetMean[i % t]) / targetScale;
            return result;
        }
        var space = TrainingSpace.Of(rows, d, weights, _options.Distance);
        var tunedTargets = Standard(prototypeTargets);
        var objective = new RegressorObjective(space.ToTraining(rows), d, Standard(targets), t, weights.IsEmpty ? null : weights.ToArray(), prototypes.Length / d, _options.TopK,
            _options.Routing, _options.Temperature, _options.Distance, space.DistanceScale);
        var (tuned, learned, result) = _options.FineTune(space, objective, prototypes, tunedTargets, d, cancellationToken,
            featureWeights: featureWeights);
        var dataTargets = tunedTargets.Select((v, i) => (float)(v * targetScale + targetMean[i % t])).ToArray();
        return new PrototypeRegressorModel(tuned, dataTargets, d, t, _options, learned, result);
    }

    /// <summary>Throws naming the first problem of the rows, targets or weights.</summary>
    private void Validate(ReadOnlySpan<float> rows, int dimension, ReadOnlySpan<float> targets, int targetDimension, ReadOnlySpan<float> weights)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(targetDimension, 1);
        int n = _options.ValidateRows(rows, dimension, weights);
        if (targets.Length != (long)n * targetDimension)
            throw new ArgumentException($"There are {n} rows but {targets.Length} target values; give {targetDimension} per row.", nameof(targets));
        DataValidator.ThrowIfBadRows(targets, targetDimension, 0, true, nameof(targets));
    }

    private static float[] Gather(ReadOnlySpan<float> values, int[] rows, int width)
    {
        var gathered = new float[rows.Length * width];
        for (int i = 0; i < rows.Length; i++)
            values.Slice(rows[i] * width, width).CopyTo(gathered.AsSpan(i * width, width));
        return gathered;
    }
}
