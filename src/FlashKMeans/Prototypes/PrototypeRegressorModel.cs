namespace FlashKMeans.Prototypes;

/// <summary>A fitted <see cref="PrototypeRegressor"/>: prototypes, each with a target, and how predictions blend them.</summary>
public sealed class PrototypeRegressorModel
{
    private readonly float[] _prototypes;
    private readonly float[] _targets;
    private readonly PrototypeRegressorOptions _options;
    private readonly PrototypeGrid _grid;
    private readonly float[]? _featureWeights;

    internal PrototypeRegressorModel(float[] prototypes, float[] targets, int dimension, int targetDimension, PrototypeRegressorOptions options,
        float[]? featureWeights = null, FineTuningResult? fineTuning = null)
    {
        _prototypes = prototypes;
        _targets = targets;
        Dimension = dimension;
        TargetDimension = targetDimension;
        _options = options.Clone();
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
    internal PrototypeRegressorOptions Settings => _options;

    /// <summary>The distance between rows and prototypes.</summary>
    public KMeansDistance Distance => _grid.Distance;

    /// <summary>d.</summary>
    public int Dimension { get; }

    /// <summary>t, values per target.</summary>
    public int TargetDimension { get; }

    /// <summary>P × d prototypes, row-major.</summary>
    public ReadOnlyMemory<float> Prototypes => _prototypes;

    /// <summary>P × t prototype targets, row-major.</summary>
    public ReadOnlyMemory<float> PrototypeTargets => _targets;

    /// <summary>Each row's prediction (n × t): the routing weights of its top-k nearest prototypes times their targets.</summary>
    public float[] Predict(ReadOnlySpan<float> rows)
    {
        int p = _targets.Length / TargetDimension, t = TargetDimension;
        var distances = _grid.Distances(rows);
        int n = distances.Length / p;
        int k = _options.TopK == -1 ? p : Math.Min(_options.TopK, p);
        var nearest = new int[k];
        var weights = new double[k];
        var predictions = new float[n * t];
        var sum = new double[t];
        for (int r = 0; r < n; r++)
        {
            PrototypeRouter.Route(distances.AsSpan(r * p, p), _options.Routing, _options.Temperature, nearest, weights);
            Array.Clear(sum);
            for (int i = 0; i < k; i++)
                for (int j = 0; j < t; j++)
                    sum[j] += weights[i] * _targets[nearest[i] * t + j];
            for (int j = 0; j < t; j++)
                predictions[r * t + j] = (float)sum[j];
        }
        return predictions;
    }
}
