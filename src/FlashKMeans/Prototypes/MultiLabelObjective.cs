namespace FlashKMeans.Prototypes;

/// <summary>
/// The multi-label loss: the asymmetric loss of Ridnik et al. (2021) on each tag's score p, the largest similarity
/// 1 / (1 + d) to the tag's prototypes (as prediction scores it). A tag the row carries costs −(1 − p)^γ₊ log p; one it
/// lacks costs −p_m^γ₋ log(1 − p_m) with the shifted probability p_m = max(p − clip, 0), so easy negatives (p &lt; clip)
/// cost nothing. Tags without prototypes are left out.
/// </summary>
internal sealed class MultiLabelObjective : IPrototypeObjective
{
    private const double Epsilon = 1e-8;
    private readonly double[] _rows;
    private readonly bool[] _complete;  // per row: every feature present (PrototypeDistance.Backward's fast path)
    private readonly int _d;
    private readonly bool[] _tags;
    private readonly int _tagCount;
    private readonly float[]? _weights;
    private readonly int[] _owners;
    private readonly int[][] _byTag;
    private readonly double _gammaPositive, _gammaNegative, _clip;
    private readonly KMeansDistance _distance;
    private readonly double _distanceScale;

    public MultiLabelObjective(double[] rows, int d, bool[] tags, int tagCount, float[]? weights, int[] owners, double gammaPositive,
        double gammaNegative, double clip, KMeansDistance distance, double distanceScale)
    {
        _rows = rows;
        _complete = PrototypeDistance.CompleteRows(rows, d);
        _d = d;
        _tags = tags;
        _tagCount = tagCount;
        _weights = weights;
        _owners = owners;
        _byTag = Enumerable.Range(0, tagCount).Select(t => Enumerable.Range(0, owners.Length).Where(p => owners[p] == t).ToArray()).ToArray();
        _gammaPositive = gammaPositive;
        _gammaNegative = gammaNegative;
        _clip = clip;
        _distance = distance;
        _distanceScale = distanceScale;
    }

    public int RowCount => _rows.Length / _d;

    public IReadOnlyList<int> Groups => _owners;

    public double NearestDistance(PrototypeParameters parameters) => PrototypeDistance.MeanNearest(_distance, _rows, parameters.Prototypes, _d);

    public (double Loss, double Weight, double Wrong) Accumulate(PrototypeParameters parameters, ReadOnlySpan<double> lambda, ReadOnlySpan<int> rows,
        PrototypeParameters? gradient, ulong draws)
    {
        double loss = 0, weight = 0;
        foreach (int r in rows)
        {
            double w = _weights?[r] ?? 1;
            if (w == 0)
                continue;
            weight += w;
            for (int t = 0; t < _tagCount; t++)
            {
                var members = _byTag[t];
                if (members.Length == 0)
                    continue;
                int best = members[0];
                double bestDistance = double.PositiveInfinity;
                foreach (int p in members)
                {
                    double distance = Distance(parameters, lambda, r, p);
                    if (distance < bestDistance)
                        (best, bestDistance) = (p, distance);
                }
                double score = 1 / (1 + _distanceScale * bestDistance);
                var (value, slope) = _tags[r * _tagCount + t] ? Positive(score) : Negative(score);
                loss += w * value;
                if (gradient is not null && slope != 0)
                {
                    // ∂p/∂d = −p² × the data distance's scale.
                    PrototypeDistance.Backward(_distance, Row(r), parameters.Prototypes.AsSpan(best * _d, _d), lambda,
                        w * slope * -score * score * _distanceScale, gradient.Prototypes.AsSpan(best * _d, _d), gradient.FeatureLogits,
                        _complete[r]);
                }
            }
        }
        return (loss, weight, double.NaN);
    }

    /// <summary>−(1 − p)^γ log p and its derivative in p.</summary>
    internal (double Value, double Slope) Positive(double p)
    {
        p = Math.Clamp(p, Epsilon, 1 - Epsilon);
        double focus = Math.Pow(1 - p, _gammaPositive);
        double slope = -focus / p + (_gammaPositive > 0 ? _gammaPositive * Math.Pow(1 - p, _gammaPositive - 1) * Math.Log(p) : 0);
        return (-focus * Math.Log(p), slope);
    }

    /// <summary>−p_m^γ log(1 − p_m), p_m = max(p − clip, 0), and its derivative in p (0 where p_m = 0).</summary>
    internal (double Value, double Slope) Negative(double p)
    {
        double shifted = Math.Max(p - _clip, 0);
        if (shifted <= 0)
            return (0, 0);
        double rest = Math.Max(1 - shifted, Epsilon);
        double focus = Math.Pow(shifted, _gammaNegative);
        double slope = focus / rest - (_gammaNegative > 0 ? _gammaNegative * Math.Pow(shifted, _gammaNegative - 1) * Math.Log(rest) : 0);
        return (-focus * Math.Log(rest), slope);
    }

    private double Distance(PrototypeParameters parameters, ReadOnlySpan<double> lambda, int r, int p) =>
        PrototypeDistance.Of(_distance, Row(r), parameters.Prototypes.AsSpan(p * _d, _d), lambda);

    private ReadOnlySpan<double> Row(int r) => _rows.AsSpan(r * _d, _d);
}
