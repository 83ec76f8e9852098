namespace FlashKMeans.Prototypes;

/// <summary>A fitted <see cref="PrototypeClassifier"/>: prototypes, each with its class, and how predictions blend them.</summary>
public sealed class PrototypeClassifierModel : PrototypeModel
{
    private readonly int[] _classes;
    private readonly PrototypeClassifierOptions _options;

    internal PrototypeClassifierModel(float[] prototypes, int[] classes, int dimension, int classCount, PrototypeClassifierOptions options,
        float[]? featureWeights = null, FineTuningResult? fineTuning = null)
        : base(prototypes, dimension, options, featureWeights, fineTuning)
    {
        _classes = classes;
        ClassCount = classCount;
        _options = options.Clone();
    }

    /// <summary>The settings the model predicts with (a private copy): for exporters that rebuild its prediction.</summary>
    internal PrototypeClassifierOptions Settings => _options;

    /// <summary>C, the number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>Each prototype's class.</summary>
    public IReadOnlyList<int> PrototypeClasses => _classes;

    /// <summary>
    /// Each row's class scores (n × C, row-major): the routing weights of its top-k nearest prototypes summed per class,
    /// so a row's scores sum to 1.
    /// </summary>
    public void PredictScores(ReadOnlySpan<float> rows, Span<float> scores)
    {
        int p = _classes.Length, c = ClassCount;
        int k = _options.TopK == -1 ? p : Math.Min(_options.TopK, p);
        var (nearest, distances) = Grid.Nearest(rows, k);
        int n = nearest.Length / k;
        if (scores.Length != (long)n * c)
            throw new ArgumentException($"{n} rows × {c} classes needs {(long)n * c} scores, not {scores.Length}.", nameof(scores));
        var weights = new double[k];
        for (int r = 0; r < n; r++)
        {
            PrototypeRouter.Weights<float>(distances.AsSpan(r * k, k), _options.Routing, _options.Temperature, weights);
            var row = scores.Slice(r * c, c);
            row.Clear();
            for (int i = 0; i < k; i++)
                row[_classes[nearest[r * k + i]]] += (float)weights[i];
        }
    }

    /// <summary>Each row's class: the highest score, ties to the lower class.</summary>
    public int[] Predict(ReadOnlySpan<float> rows)
    {
        int c = ClassCount;
        var scores = new float[rows.Length / Dimension * c];
        PredictScores(rows, scores);
        var labels = new int[rows.Length / Dimension];
        for (int r = 0; r < labels.Length; r++)
            labels[r] = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(scores.AsSpan(r * c, c));
        return labels;
    }
}
