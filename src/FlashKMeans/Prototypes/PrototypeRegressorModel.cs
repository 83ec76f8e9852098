namespace FlashKMeans.Prototypes;

/// <summary>A fitted <see cref="PrototypeRegressor"/>: prototypes, each with a target, and how predictions blend them.</summary>
public sealed class PrototypeRegressorModel : PrototypeModel
{
    private readonly float[] _targets;
    private readonly PrototypeRegressorOptions _options;

    internal PrototypeRegressorModel(float[] prototypes, float[] targets, int dimension, int targetDimension, PrototypeRegressorOptions options,
        float[]? featureWeights = null, FineTuningResult? fineTuning = null)
        : base(prototypes, dimension, options, featureWeights, fineTuning)
    {
        _targets = targets;
        TargetDimension = targetDimension;
        _options = options.Clone();
    }

    /// <summary>The settings the model predicts with (a private copy): for exporters that rebuild its prediction.</summary>
    internal PrototypeRegressorOptions Settings => _options;

    /// <summary>t, values per target.</summary>
    public int TargetDimension { get; }

    /// <summary>P × t prototype targets, row-major.</summary>
    public ReadOnlyMemory<float> PrototypeTargets => _targets;

    /// <summary>Each row's prediction (n × t): the routing weights of its top-k nearest prototypes times their targets.</summary>
    public float[] Predict(ReadOnlySpan<float> rows)
    {
        int p = _targets.Length / TargetDimension, t = TargetDimension;
        int k = _options.TopK == -1 ? p : Math.Min(_options.TopK, p);
        var (nearest, distances) = Grid.Nearest(rows, k);
        int n = nearest.Length / k;
        var weights = new double[k];
        var predictions = new float[n * t];
        var sum = new double[t];
        for (int r = 0; r < n; r++)
        {
            PrototypeRouter.Weights<float>(distances.AsSpan(r * k, k), _options.Routing, _options.Temperature, weights);
            Array.Clear(sum);
            for (int i = 0; i < k; i++)
                for (int j = 0; j < t; j++)
                    sum[j] += weights[i] * _targets[nearest[r * k + i] * t + j];
            for (int j = 0; j < t; j++)
                predictions[r * t + j] = (float)sum[j];
        }
        return predictions;
    }
}
