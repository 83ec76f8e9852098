namespace FlashKMeans.Prototypes;

/// <summary>A fitted <see cref="MultiLabelClassifier"/>: each tag's prototypes, and how scores become tags.</summary>
public sealed class MultiLabelModel : PrototypeModel
{
    private readonly int[] _tags;
    private readonly MultiLabelOptions _options;

    internal MultiLabelModel(float[] prototypes, int[] tags, int dimension, int tagCount, MultiLabelOptions options,
        float[]? featureWeights = null, FineTuningResult? fineTuning = null)
        : base(prototypes, dimension, options, featureWeights, fineTuning)
    {
        _tags = tags;
        TagCount = tagCount;
        _options = options.Clone();
    }

    /// <summary>The settings the model predicts with (a private copy): for exporters that rebuild its prediction.</summary>
    internal MultiLabelOptions Settings => _options;

    /// <summary>T, the number of tags.</summary>
    public int TagCount { get; }

    /// <summary>Each prototype's tag.</summary>
    public IReadOnlyList<int> PrototypeTags => _tags;

    /// <summary>Each row's tag scores (n × T): the largest similarity 1 / (1 + distance) to the tag's prototypes; 0 for a tag without any.</summary>
    public void PredictScores(ReadOnlySpan<float> rows, Span<float> scores)
    {
        int p = _tags.Length, t = TagCount;
        int n = rows.Length / Dimension;
        if (scores.Length != (long)n * t)
            throw new ArgumentException($"{n} rows × {t} tags needs {(long)n * t} scores, not {scores.Length}.", nameof(scores));
        scores.Clear();
        if (p == 0)
            return;
        var distances = Grid.Distances(rows);
        for (int r = 0; r < n; r++)
        {
            var row = scores.Slice(r * t, t);
            for (int i = 0; i < p; i++)
                row[_tags[i]] = MathF.Max(row[_tags[i]], 1 / (1 + distances[(long)r * p + i]));
        }
    }

    /// <summary>Each row's tags (n × T): by the fixed threshold, or cut at the largest drop (as a ratio) of the sorted scores, keeping at least one.</summary>
    public bool[] Predict(ReadOnlySpan<float> rows)
    {
        int t = TagCount, n = rows.Length / Dimension;
        var scores = new float[n * t];
        PredictScores(rows, scores);
        var tags = new bool[n * t];
        for (int r = 0; r < n; r++)
            Choose(scores.AsSpan(r * t, t), tags.AsSpan(r * t, t), _options.Threshold, _options.FixedThreshold);
        return tags;
    }

    /// <summary>The tags one row's scores give under this model's threshold rule.</summary>
    internal void ChooseTags(ReadOnlySpan<float> scores, Span<bool> tags) => Choose(scores, tags, _options.Threshold, _options.FixedThreshold);

    /// <summary>The tags one row's scores give (see <see cref="TagThreshold"/>); ties in score keep the lower tag first.</summary>
    internal static void Choose(ReadOnlySpan<float> scores, Span<bool> tags, TagThreshold threshold, double fixedThreshold)
    {
        tags.Clear();
        if (threshold == TagThreshold.Fixed)
        {
            for (int j = 0; j < scores.Length; j++)
                tags[j] = scores[j] >= fixedThreshold;
            return;
        }
        var scoreArray = scores.ToArray();
        var order = Enumerable.Range(0, scores.Length).OrderByDescending(j => scoreArray[j]).ThenBy(j => j).ToArray();
        int keep = 1;
        float largestDrop = -1;
        for (int i = 0; i + 1 < order.Length; i++)
        {
            // The drop as a ratio (a difference of logarithms): similarities 1 / (1 + d²) of a row's own tags spread over
            // a factor of a few while those of foreign tags are orders of magnitude smaller, so a linear drop would often
            // split the row's own tags.
            float drop = MathF.Log(scoreArray[order[i]] + 1e-30f) - MathF.Log(scoreArray[order[i + 1]] + 1e-30f);
            if (drop > largestDrop)
            {
                largestDrop = drop;
                keep = i + 1;
            }
        }
        for (int i = 0; i < keep; i++)
            tags[order[i]] = true;
    }
}
