namespace FlashKMeans.Prototypes;

/// <summary>
/// The regressor's loss: ½‖ŷ − y‖² (targets in training units), ŷ = Σᵢ wᵢ tᵢ over the top-k nearest prototypes with the
/// model's own routing weights, so that training sees what prediction computes. Prototypes and their targets both learn;
/// with hard or mean routing the weights do not depend on the distances and only the targets do.
/// </summary>
internal sealed class RegressorObjective : IPrototypeObjective
{
    private readonly double[] _rows;
    private readonly bool[] _complete;  // per row: every feature present (PrototypeDistance.Backward's fast path)
    private readonly int _d;
    private readonly double[] _targets;
    private readonly int _t;
    private readonly float[]? _weights;
    private readonly int _prototypeCount;
    private readonly int _topK;
    private readonly PrototypeRouting _routing;
    private readonly double _temperature;
    private readonly KMeansDistance _distance;
    private readonly double _distanceScale;

    /// <summary>
    /// Over <paramref name="rows"/> (n × d, training coordinates) and <paramref name="targets"/> (n × t, training units),
    /// P = <paramref name="prototypeCount"/> prototypes routed as the model routes them; <paramref name="distanceScale"/>
    /// turns training distances into the data distances the routing reads, as prediction does.
    /// </summary>
    public RegressorObjective(double[] rows, int d, double[] targets, int t, float[]? weights, int prototypeCount, int topK,
        PrototypeRouting routing, double temperature, KMeansDistance distance, double distanceScale)
    {
        _rows = rows;
        _complete = PrototypeDistance.CompleteRows(rows, d);
        _d = d;
        _targets = targets;
        _t = t;
        _weights = weights;
        _prototypeCount = prototypeCount;
        _topK = topK == -1 ? prototypeCount : Math.Min(topK, prototypeCount);
        _routing = routing;
        _temperature = temperature;
        _distance = distance;
        _distanceScale = distanceScale;
        Groups = new int[prototypeCount];
    }

    public int RowCount => _rows.Length / _d;

    public IReadOnlyList<int> Groups { get; }

    public double NearestDistance(PrototypeParameters parameters) => PrototypeDistance.MeanNearest(_distance, _rows, parameters.Prototypes, _d);

    public (double Loss, double Weight, double Wrong) Accumulate(PrototypeParameters parameters, ReadOnlySpan<double> lambda, ReadOnlySpan<int> rows,
        PrototypeParameters? gradient, ulong draws)
    {
        int k = _topK, t = _t;
        var distances = new double[_prototypeCount];
        var nearest = new int[k];
        var routed = new double[k];
        var nearestDistances = new double[k];
        var weightGradient = new double[k];
        var distanceGradient = new double[k];
        var residual = new double[t];
        double loss = 0, weight = 0;
        foreach (int r in rows)
        {
            double w = _weights?[r] ?? 1;
            if (w == 0)
                continue;
            for (int p = 0; p < _prototypeCount; p++)
                distances[p] = _distanceScale * PrototypeDistance.Of(_distance, Row(r), parameters.Prototypes.AsSpan(p * _d, _d), lambda);
            PrototypeRouter.Route<double>(distances, _routing, _temperature, nearest, routed);
            double rowLoss = 0;
            for (int j = 0; j < t; j++)
            {
                double prediction = 0;
                for (int i = 0; i < k; i++)
                    prediction += routed[i] * parameters.Targets[nearest[i] * t + j];
                residual[j] = prediction - _targets[r * t + j];
                rowLoss += 0.5 * residual[j] * residual[j];
            }
            loss += w * rowLoss;
            weight += w;
            if (gradient is null)
                continue;
            for (int i = 0; i < k; i++)
            {
                nearestDistances[i] = distances[nearest[i]];
                double g = 0;
                for (int j = 0; j < t; j++)
                {
                    gradient.Targets[nearest[i] * t + j] += w * routed[i] * residual[j];
                    g += residual[j] * parameters.Targets[nearest[i] * t + j];
                }
                weightGradient[i] = w * g;
            }
            PrototypeRouter.Backward(nearestDistances.AsSpan(0, k), routed, weightGradient, _routing, _temperature, distanceGradient);
            for (int i = 0; i < k; i++)
            {
                int p = nearest[i];
                PrototypeDistance.Backward(_distance, Row(r), parameters.Prototypes.AsSpan(p * _d, _d), lambda, _distanceScale * distanceGradient[i],
                    gradient.Prototypes.AsSpan(p * _d, _d), gradient.FeatureLogits, _complete[r]);
            }
        }
        return (loss, weight, double.NaN);
    }

    private ReadOnlySpan<double> Row(int r) => _rows.AsSpan(r * _d, _d);
}
