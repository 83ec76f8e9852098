namespace FlashKMeans.Prototypes;

/// <summary>A fitted <see cref="PrototypeClassifier"/>: prototypes, each with its class, and how predictions blend them.</summary>
public sealed class PrototypeClassifierModel
{
    private readonly float[] _prototypes;
    private readonly int[] _classes;
    private readonly PrototypeClassifierOptions _options;
    private readonly PrototypeGrid _grid;
    private readonly float[]? _featureWeights;

    internal PrototypeClassifierModel(float[] prototypes, int[] classes, int dimension, int classCount, PrototypeClassifierOptions options,
        float[]? featureWeights = null, FineTuningResult? fineTuning = null)
    {
        _prototypes = prototypes;
        _classes = classes;
        Dimension = dimension;
        ClassCount = classCount;
        _options = options.Clone();
        // Scoring rows against the prototypes is scoring against centroids: every path and device of the engine serves it.
        _featureWeights = featureWeights;
        FineTuning = fineTuning;
        _grid = new PrototypeGrid(prototypes, dimension, options.Distance, featureWeights, options.MissingFeatures);
    }

    /// <summary>
    /// The feature weights λ of the distance Σ λⱼ(xⱼ − pⱼ)², the features' relevances: automatic
    /// (<see cref="PrototypeGridOptions.AutomaticFeatureWeights"/>, in [0, 1]) or learned in phase 2
    /// (<see cref="FineTuningOptions.LearnFeatureWeights"/>, mean 1); empty when every feature weighs alike.
    /// </summary>
    public ReadOnlyMemory<float> FeatureWeights => _featureWeights;

    /// <summary>How phase 2 went; null when it did not run.</summary>
    public FineTuningResult? FineTuning { get; }

    /// <summary>The settings the model predicts with (a private copy): for exporters that rebuild its prediction.</summary>
    internal PrototypeClassifierOptions Settings => _options;

    /// <summary>The distance between rows and prototypes.</summary>
    public KMeansDistance Distance => _grid.Distance;

    /// <summary>d.</summary>
    public int Dimension { get; }

    /// <summary>C, the number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>P × d prototypes, row-major.</summary>
    public ReadOnlyMemory<float> Prototypes => _prototypes;

    /// <summary>Each prototype's class.</summary>
    public IReadOnlyList<int> PrototypeClasses => _classes;

    /// <summary>
    /// Each row's class scores (n × C, row-major): the routing weights of its top-k nearest prototypes summed per class,
    /// so a row's scores sum to 1.
    /// </summary>
    public void PredictScores(ReadOnlySpan<float> rows, Span<float> scores)
    {
        int p = _classes.Length, c = ClassCount;
        var distances = _grid.Distances(rows);
        int n = distances.Length / p;
        if (scores.Length != (long)n * c)
            throw new ArgumentException($"{n} rows × {c} classes needs {(long)n * c} scores, not {scores.Length}.", nameof(scores));
        int k = _options.TopK == -1 ? p : Math.Min(_options.TopK, p);
        var weights = new double[k];
        var nearest = new int[k];
        for (int r = 0; r < n; r++)
        {
            PrototypeRouter.Route(distances.AsSpan(r * p, p), _options.Routing, _options.Temperature, nearest, weights);
            var row = scores.Slice(r * c, c);
            row.Clear();
            for (int i = 0; i < k; i++)
                row[_classes[nearest[i]]] += (float)weights[i];
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
