using FlashKMeans.Cpu;
using FlashKMeans.Data;
using FlashKMeans.Primitives;

namespace FlashKMeans.Prototypes;

/// <summary>
/// A classifier that condenses each class into a few prototypes (k-means on the class's rows) and predicts from the
/// nearest prototypes, blended by <see cref="PrototypeClassifierOptions.Routing"/>: the FastKMeans Suite's classifier, on
/// this engine. Every class with rows gets prototypes; a class without rows gets none and scores 0.
/// </summary>
public sealed class PrototypeClassifier
{
    private readonly PrototypeClassifierOptions _options;

    /// <param name="options">The settings; copied.</param>
    public PrototypeClassifier(PrototypeClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options.Clone();
    }

    /// <summary>Builds the prototype grid from labelled rows.</summary>
    /// <param name="rows">n × d row-major features.</param>
    /// <param name="dimension">d.</param>
    /// <param name="labels">n class indices in [0, <paramref name="classCount"/>).</param>
    /// <param name="classCount">C, the number of classes.</param>
    /// <param name="weights">n non-negative row weights, or empty.</param>
    /// <param name="cancellationToken">Stops between classes.</param>
    /// <exception cref="ArgumentException">A label out of range, a bad value or weight, or mismatched lengths; the message names the row.</exception>
    public PrototypeClassifierModel Fit(ReadOnlySpan<float> rows, int dimension, ReadOnlySpan<int> labels, int classCount,
        ReadOnlySpan<float> weights = default, CancellationToken cancellationToken = default)
    {
        Validate(rows, dimension, labels, classCount, weights);
        int n = rows.Length / dimension, d = dimension;

        var (start, members) = LabelGroups.ByLabel(labels, classCount);
        float[]? weightArray = weights.IsEmpty ? null : weights.ToArray();
        var globalMean = TrainingSpace.Mean(rows, weights, Enumerable.Range(0, n).ToArray(), d);
        var prototypes = new List<float>();
        var classes = new List<int>();
        for (int c = 0; c < classCount; c++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var own = members.AsSpan(start[c], start[c + 1] - start[c]).ToArray();
            if (weightArray is null ? own.Length == 0 : own.All(r => weightArray[r] == 0))
                continue;  // no rows (or no weight): no prototypes
            var classRows = new float[own.Length * d];
            for (int i = 0; i < own.Length; i++)
                rows.Slice(own[i] * d, d).CopyTo(classRows.AsSpan(i * d, d));
            float[]? classWeights = weightArray is null ? null : own.Select(r => weightArray[r]).ToArray();
            int k = Math.Min(own.Length, _options.PrototypesPerClass ?? AutomaticCount(classRows, classWeights, globalMean, d));
            var model = _options.FitGrid(classRows, d, k, classWeights, problem: c);
            prototypes.AddRange(model.Centroids.ToArray());
            classes.AddRange(Enumerable.Repeat(c, k));
        }
        var grid = prototypes.ToArray();
        if (_options.RepulsionFactor > 0)
            Repel(grid, classes, rows, labels, d);
        var relevance = _options.Relevance(rows, d, weights, grid);
        if (_options.FineTuning.Epochs == 0 || grid.Length == 0)
            return new PrototypeClassifierModel(grid, classes.ToArray(), d, classCount, _options, relevance);
        return Tune(grid, classes.ToArray(), relevance, rows, d, labels, classCount, weights, cancellationToken);
    }

    /// <summary>
    /// Continues phase 2 from <paramref name="model"/>'s prototypes (and learned feature weights) on
    /// <paramref name="rows"/>, which may be new: training resumes instead of starting from a new grid. The model's classes
    /// and prototypes are kept; this classifier's options (<see cref="PrototypeGridOptions.FineTuning"/> with epochs above
    /// 0) drive the training and the new model's prediction.
    /// </summary>
    /// <exception cref="ArgumentException">The rows do not match the model's dimension or classes, or a bad value.</exception>
    /// <exception cref="ArgumentOutOfRangeException">No epochs to run, or the model's feature weights and
    /// <see cref="FineTuningOptions.LearnFeatureWeights"/> disagree.</exception>
    public PrototypeClassifierModel FineTune(PrototypeClassifierModel model, ReadOnlySpan<float> rows, ReadOnlySpan<int> labels,
        ReadOnlySpan<float> weights = default, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        _options.ThrowIfCannotContinue(model.Distance, model.FeatureWeights.Length > 0);
        Validate(rows, model.Dimension, labels, model.ClassCount, weights);
        return Tune(model.Prototypes.ToArray(), model.PrototypeClasses.ToArray(), model.FeatureWeights.IsEmpty ? null : model.FeatureWeights.ToArray(),
            rows, model.Dimension, labels, model.ClassCount, weights, cancellationToken);
    }

    /// <summary>Phase 2 from <paramref name="grid"/> (and feature weights, when continuing).</summary>
    private PrototypeClassifierModel Tune(float[] grid, int[] classes, float[]? featureWeights, ReadOnlySpan<float> rows, int d,
        ReadOnlySpan<int> labels, int classCount, ReadOnlySpan<float> weights, CancellationToken cancellationToken)
    {
        var space = TrainingSpace.Of(rows, d, weights, _options.Distance);
        var objective = new ClassifierObjective(space.ToTraining(rows), d, labels.ToArray(), weights.IsEmpty ? null : weights.ToArray(), classes,
            classCount, _options.Loss, _options.SampledNegativeClasses, _options.Distance, _options.Routing);
        var (tuned, learned, result) = _options.FineTune(space, objective, grid, [], d, cancellationToken,
            learnTemperature: _options.Loss == PrototypeLoss.CrossEntropy, featureWeights: featureWeights);
        return new PrototypeClassifierModel(tuned, classes, d, classCount, _options, learned, result);
    }

    /// <summary>Throws naming the first problem of the rows, labels or weights.</summary>
    private void Validate(ReadOnlySpan<float> rows, int dimension, ReadOnlySpan<int> labels, int classCount, ReadOnlySpan<float> weights)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        int n = _options.ValidateRows(rows, dimension, weights);
        if (labels.Length != n)
            throw new ArgumentException($"There are {n} rows but {labels.Length} labels.", nameof(labels));
        for (int r = 0; r < n; r++)
        {
            if ((uint)labels[r] >= (uint)classCount)
                throw new ArgumentException($"Row {r} has label {labels[r]}; labels must lie in [0, {classCount}).", nameof(labels));
        }
    }

    /// <summary>
    /// k = ⌈3·√n·(1 − s̄)⌉ in [1, n], s̄ the mean cosine similarity of the class's rows to the class mean, about the mean of
    /// all rows (see <see cref="PrototypeClassifierOptions.PrototypesPerClass"/>).
    /// </summary>
    internal static int AutomaticCount(float[] classRows, float[]? classWeights, double[] globalMean, int d)
    {
        int n = classRows.Length / d;
        var mean = TrainingSpace.Mean(classRows, classWeights, Enumerable.Range(0, n).ToArray(), d);
        var direction = mean.Select((v, j) => v - globalMean[j]).ToArray();
        double directionNorm = Math.Sqrt(direction.Sum(v => v * v));
        double similarity = 0, total = 0;
        for (int r = 0; r < n; r++)
        {
            double w = classWeights?[r] ?? 1.0, dot = 0, norm = 0;
            for (int j = 0; j < d; j++)
            {
                if (float.IsNaN(classRows[r * d + j]))
                    continue;  // a missing feature adds nothing to either
                double x = classRows[r * d + j] - globalMean[j];
                dot += x * direction[j];
                norm += x * x;
            }
            similarity += w * (norm > 0 && directionNorm > 0 ? dot / (Math.Sqrt(norm) * directionNorm) : 0);
            total += w;
        }
        double spread = 1 - (total > 0 ? similarity / total : 0);
        return (int)Math.Clamp(Math.Ceiling(3 * Math.Sqrt(n) * spread), 1, n);
    }

    /// <summary>
    /// One LVQ1 pass: each row, in order, whose nearest prototype (under the grid as built) belongs to another class pushes
    /// that prototype away, p ← p − α(x − p). Cosine prototypes return to unit length.
    /// </summary>
    private void Repel(float[] grid, List<int> classes, ReadOnlySpan<float> rows, ReadOnlySpan<int> labels, int d)
    {
        var nearest = new PrototypeGrid(grid, d, _options.Distance, null, _options.MissingFeatures).Nearest(rows);
        double alpha = _options.RepulsionFactor;
        for (int r = 0; r < nearest.Length; r++)
        {
            int p = nearest[r];
            if (classes[p] == labels[r])
                continue;
            var prototype = grid.AsSpan(p * d, d);
            var x = rows.Slice(r * d, d);
            for (int j = 0; j < d; j++)
            {
                if (!float.IsNaN(x[j]))  // a missing feature moves nothing
                    prototype[j] = (float)(prototype[j] - alpha * (x[j] - prototype[j]));
            }
        }
        if (_options.Distance == KMeansDistance.Cosine)
            VectorMath.NormalizeRows(grid, d);
    }
}
