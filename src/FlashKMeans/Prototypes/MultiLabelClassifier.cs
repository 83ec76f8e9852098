namespace FlashKMeans.Prototypes;

/// <summary>
/// A multi-label (tagging) classifier over prototypes, as the FastKMeans Suite's: each tag gets k-means prototypes from
/// the rows that carry it; a row's score for a tag is its largest similarity s = 1 / (1 + distance) to that tag's
/// prototypes, and <see cref="MultiLabelOptions.Threshold"/> turns scores into tags.
/// </summary>
public sealed class MultiLabelClassifier
{
    private readonly MultiLabelOptions _options;

    /// <param name="options">The settings; copied.</param>
    public MultiLabelClassifier(MultiLabelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options.Clone();
    }

    /// <summary>Builds each tag's prototypes.</summary>
    /// <param name="rows">n × d row-major features.</param>
    /// <param name="dimension">d.</param>
    /// <param name="tags">n × T row-major: whether row i carries tag j.</param>
    /// <param name="tagCount">T.</param>
    /// <param name="weights">n non-negative row weights, or empty.</param>
    /// <param name="cancellationToken">Stops phase 2 between steps.</param>
    /// <exception cref="ArgumentException">Mismatched lengths, a bad value or weight (the message names the row).</exception>
    public MultiLabelModel Fit(ReadOnlySpan<float> rows, int dimension, ReadOnlySpan<bool> tags, int tagCount, ReadOnlySpan<float> weights = default,
        CancellationToken cancellationToken = default)
    {
        Validate(rows, dimension, tags, tagCount, weights);
        int n = rows.Length / dimension, d = dimension;
        var everyRow = Enumerable.Range(0, n).ToArray();
        float[]? weightArray = weights.IsEmpty ? null : weights.ToArray();
        var allRows = rows.ToArray();
        var globalMean = TrainingSpace.Mean(allRows, weights, everyRow, d);
        var prototypes = new List<float>();
        var owners = new List<int>();
        var tagArray = tags.ToArray();
        for (int t = 0; t < tagCount; t++)
        {
            var own = everyRow.Where(r => tagArray[r * tagCount + t] && (weightArray is null || weightArray[r] > 0)).ToArray();
            if (own.Length == 0)
                continue;  // a tag no row carries gets no prototypes and scores 0
            var tagRows = new float[own.Length * d];
            for (int i = 0; i < own.Length; i++)
                allRows.AsSpan(own[i] * d, d).CopyTo(tagRows.AsSpan(i * d, d));
            float[]? tagWeights = weightArray is null ? null : own.Select(r => weightArray[r]).ToArray();
            int k = Math.Min(own.Length, _options.PrototypesPerTag ?? PrototypeClassifier.AutomaticCount(tagRows, tagWeights, globalMean, d));
            var model = _options.FitGrid(tagRows, d, k, tagWeights, problem: t);
            prototypes.AddRange(model.Centroids.ToArray());
            owners.AddRange(Enumerable.Repeat(t, k));
        }
        var relevance = _options.Relevance(rows, d, weights, prototypes.ToArray());
        if (_options.FineTuning.Epochs == 0 || prototypes.Count == 0)
            return new MultiLabelModel(prototypes.ToArray(), owners.ToArray(), d, tagCount, _options, relevance);
        return Tune(prototypes.ToArray(), owners.ToArray(), relevance, rows, d, tagArray, tagCount, weights, cancellationToken);
    }

    /// <summary>
    /// Continues phase 2 from <paramref name="model"/>'s prototypes (and learned feature weights) on <paramref name="rows"/>
    /// and <paramref name="tags"/>, which may be new. This classifier's options (<see cref="PrototypeGridOptions.FineTuning"/>
    /// with epochs above 0) drive the training and the new model's prediction.
    /// </summary>
    /// <exception cref="ArgumentException">The rows or tags do not match the model's dimensions, or a bad value.</exception>
    /// <exception cref="ArgumentOutOfRangeException">No epochs to run, or the model's feature weights and
    /// <see cref="FineTuningOptions.LearnFeatureWeights"/> disagree.</exception>
    public MultiLabelModel FineTune(MultiLabelModel model, ReadOnlySpan<float> rows, ReadOnlySpan<bool> tags, ReadOnlySpan<float> weights = default,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        _options.ThrowIfCannotContinue(model.Distance, model.FeatureWeights.Length > 0);
        Validate(rows, model.Dimension, tags, model.TagCount, weights);
        return Tune(model.Prototypes.ToArray(), model.PrototypeTags.ToArray(), model.FeatureWeights.IsEmpty ? null : model.FeatureWeights.ToArray(),
            rows, model.Dimension, tags.ToArray(), model.TagCount, weights, cancellationToken);
    }

    /// <summary>Phase 2 from <paramref name="prototypes"/> of the tags <paramref name="owners"/>.</summary>
    private MultiLabelModel Tune(float[] prototypes, int[] owners, float[]? featureWeights, ReadOnlySpan<float> rows, int d, bool[] tags, int tagCount,
        ReadOnlySpan<float> weights, CancellationToken cancellationToken)
    {
        var space = TrainingSpace.Of(rows, d, weights, _options.Distance);
        var objective = new MultiLabelObjective(space.ToTraining(rows), d, tags, tagCount, weights.IsEmpty ? null : weights.ToArray(), owners,
            _options.AsymmetricGammaPositive, _options.AsymmetricGammaNegative, _options.AsymmetricClip, _options.Distance, space.DistanceScale);
        var (tuned, learned, result) = _options.FineTune(space, objective, prototypes, [], d, cancellationToken, featureWeights: featureWeights);
        return new MultiLabelModel(tuned, owners, d, tagCount, _options, learned, result);
    }

    /// <summary>Throws naming the first problem of the rows, tags or weights.</summary>
    private void Validate(ReadOnlySpan<float> rows, int dimension, ReadOnlySpan<bool> tags, int tagCount, ReadOnlySpan<float> weights)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(tagCount, 1);
        int n = _options.ValidateRows(rows, dimension, weights);
        if (tags.Length != (long)n * tagCount)
            throw new ArgumentException($"There are {n} rows but {tags.Length} tag flags; give {tagCount} per row.", nameof(tags));
    }
}
