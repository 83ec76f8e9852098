using FlashKMeans.Engine;
using FlashKMeans.Primitives;

namespace FlashKMeans.Prototypes;

/// <summary>
/// The classifier's loss (<see cref="PrototypeLoss"/>): cross-entropy over soft-minimum class logits, optionally as a
/// sampled softmax over the row's class and m sampled others, or GLVQ's relative distance.
/// </summary>
internal sealed class ClassifierObjective : IPrototypeObjective
{
    private readonly double[] _rows;
    private readonly bool[] _complete;  // per row: every feature present (PrototypeDistance.Backward's fast path)
    private readonly int _d;
    private readonly int[] _labels;
    private readonly float[]? _weights;
    private readonly int[] _classes;
    private readonly int[][] _byClass;
    private readonly int[] _present;
    private readonly int[] _presentIndex;
    private readonly PrototypeLoss _loss;
    private readonly int? _negatives;
    private readonly KMeansDistance _distance;
    private readonly bool _nearestDecides;

    /// <param name="rows">n × d rows in training coordinates.</param>
    /// <param name="d">d.</param>
    /// <param name="labels">Each row's class.</param>
    /// <param name="weights">Row weights, or null.</param>
    /// <param name="classes">Each prototype's class.</param>
    /// <param name="classCount">C.</param>
    /// <param name="loss">The loss.</param>
    /// <param name="negatives">Sampled other classes per row, or null for all.</param>
    /// <param name="distance">The distance.</param>
    /// <param name="routing">How the model predicts, for the held-out error (<see cref="Predicted"/>).</param>
    public ClassifierObjective(double[] rows, int d, int[] labels, float[]? weights, int[] classes, int classCount, PrototypeLoss loss,
        int? negatives, KMeansDistance distance, PrototypeRouting routing = PrototypeRouting.Scaled)
    {
        _nearestDecides = routing == PrototypeRouting.Hard || loss == PrototypeLoss.Glvq;
        _rows = rows;
        _complete = PrototypeDistance.CompleteRows(rows, d);
        _d = d;
        _labels = labels;
        _weights = weights;
        _classes = classes;
        _byClass = Enumerable.Range(0, classCount).Select(c => Enumerable.Range(0, classes.Length).Where(p => classes[p] == c).ToArray()).ToArray();
        _present = Enumerable.Range(0, classCount).Where(c => _byClass[c].Length > 0).ToArray();
        _presentIndex = new int[classCount];
        for (int i = 0; i < _present.Length; i++)
            _presentIndex[_present[i]] = i;
        _loss = loss;
        _negatives = negatives;
        _distance = distance;
    }

    public int RowCount => _labels.Length;

    public IReadOnlyList<int> Groups => _classes;

    public double NearestDistance(PrototypeParameters parameters)
    {
        double sum = 0;
        int counted = 0;
        for (int r = 0; r < RowCount; r++)
        {
            var own = _byClass[_labels[r]];
            if (own.Length == 0)
                continue;
            sum += own.Min(p => Distance(parameters, [], r, p));
            counted++;
        }
        return counted > 0 ? sum / counted : 0;
    }

    public (double Loss, double Weight, double Wrong) Accumulate(PrototypeParameters parameters, ReadOnlySpan<double> lambda, ReadOnlySpan<int> rows,
        PrototypeParameters? gradient, ulong draws)
    {
        double loss = 0, weight = 0, wrong = 0;
        var lambdaArray = lambda.ToArray();
        var distances = new double[_classes.Length];
        var shares = new double[_classes.Length];
        foreach (int r in rows)
        {
            double w = _weights?[r] ?? 1;
            int y = _labels[r];
            if (w == 0 || _byClass[y].Length == 0)
                continue;
            var candidates = Candidates(r, y, draws);
            foreach (int c in candidates)
            {
                foreach (int p in _byClass[c])
                    distances[p] = Distance(parameters, lambdaArray, r, p);
            }
            loss += w * (_loss == PrototypeLoss.Glvq
                ? Glvq(parameters, lambdaArray, r, y, candidates, distances, w, gradient)
                : CrossEntropy(parameters, lambdaArray, r, y, candidates, distances, shares, w, gradient));
            weight += w;
            if (gradient is null)
            {
                // The class judged needs every class's distances; a sampled loss read only some.
                if (candidates.Length < _present.Length)
                {
                    for (int p = 0; p < distances.Length; p++)
                        distances[p] = Distance(parameters, lambdaArray, r, p);
                }
                wrong += Predicted(parameters, distances, shares) == y ? 0 : w;
            }
        }
        return (loss, weight, gradient is null ? wrong : double.NaN);
    }

    /// <summary>
    /// The class a row gets from <paramref name="distances"/> to every prototype: that of its nearest prototype where the
    /// model predicts so (hard routing) or trains so (GLVQ), else the one with the largest logit (the soft minimum over
    /// its prototypes), over every class with prototypes; the lower class wins a tie.
    /// </summary>
    private int Predicted(PrototypeParameters parameters, double[] distances, double[] shares)
    {
        double tau = parameters.LogTemperature.Length == 1 ? Math.Exp(parameters.LogTemperature[0]) : 1;
        int chosen = -1;
        double best = double.NegativeInfinity;
        foreach (int c in _present)
        {
            double score = _nearestDecides ? -Nearest(_byClass[c], distances) : SoftMinimum(_byClass[c], distances, tau, shares, out _);
            if (score > best)
                (best, chosen) = (score, c);
        }
        return chosen;
    }

    private static double Nearest(int[] members, double[] distances)
    {
        double nearest = double.PositiveInfinity;
        foreach (int p in members)
            nearest = Math.Min(nearest, distances[p]);
        return nearest;
    }

    /// <summary>The classes a row's loss reads: every class with prototypes, or its own first and m sampled others.</summary>
    internal int[] Candidates(int r, int y, ulong draws)
    {
        int others = _present.Length - 1;
        if (_negatives is not { } m || m >= others)
            return _present;
        // m distinct other classes, uniformly, in O(m) whatever the number of classes (Floyd's sampling): draws are
        // positions among the present classes with the row's own left out.
        int own = _presentIndex[y];
        ulong rowSeed = CounterRandom.Derive(draws, (ulong)r);
        var taken = new HashSet<int>(m);
        var chosen = new int[m + 1];
        chosen[0] = y;
        int count = 1;
        for (int top = others - m; top < others; top++)
        {
            int pick = (int)(CounterRandom.Uniform(rowSeed, (ulong)top) * (top + 1));
            if (!taken.Add(pick))
            {
                pick = top;
                taken.Add(pick);
            }
            chosen[count++] = _present[pick < own ? pick : pick + 1];
        }
        return chosen;
    }

    /// <summary>
    /// −z_y + log Σ exp z_c with z_c = log Σ_{p∈c} exp(−d_p / τ); sampled others' logits get log(others / m), the sampled
    /// softmax's correction for drawing m of them uniformly. ∂L/∂d_p = (softmax(z)_c − [c = y]) · q(p | c) · (−1/τ).
    /// </summary>
    // shares: scratch of one value per prototype (SoftMinimum's exponentials).
    private double CrossEntropy(PrototypeParameters parameters, double[] lambda, int r, int y, int[] candidates, double[] distances, double[] shares,
        double w, PrototypeParameters? gradient)
    {
        // τ is learned with the prototypes (phase 2 always gives cross-entropy its log τ); without one it is 1.
        bool learned = parameters.LogTemperature.Length == 1;
        double tau = learned ? Math.Exp(parameters.LogTemperature[0]) : 1;
        int others = _present.Length - 1;
        double correction = candidates.Length - 1 < others ? Math.Log((double)others / (candidates.Length - 1)) : 0;
        var logits = new double[candidates.Length];
        var classSums = new double[candidates.Length];
        for (int i = 0; i < candidates.Length; i++)
            logits[i] = SoftMinimum(_byClass[candidates[i]], distances, tau, shares, out classSums[i]) + (candidates[i] == y ? 0 : correction);
        double top = logits.Max(), sum = 0;
        for (int i = 0; i < logits.Length; i++)
            sum += Math.Exp(logits[i] - top);
        double logSum = top + Math.Log(sum);
        int own = Array.IndexOf(candidates, y);
        double loss = logSum - logits[own];
        if (gradient is null)
            return loss;
        for (int i = 0; i < candidates.Length; i++)
        {
            double dz = Math.Exp(logits[i] - logSum) - (i == own ? 1 : 0);
            foreach (int p in _byClass[candidates[i]])
            {
                double q = shares[p] / classSums[i];
                Backward(parameters, lambda, r, p, w * dz * q * (-1 / tau), gradient);
                // ∂(−d/τ)/∂log τ = d/τ.
                if (learned)
                    gradient.LogTemperature[0] += w * dz * q * distances[p] / tau;
            }
        }
        return loss;
    }

    // The soft minimum log Σ exp(−d/τ) over members (by its largest term), leaving each member's exp(−d/τ − top) in shares
    // and their sum in sum: the gradient's routing weights are shares / sum, so each exponential is taken once.
    private static double SoftMinimum(int[] members, double[] distances, double tau, double[] shares, out double sum)
    {
        double top = double.NegativeInfinity;
        sum = 0;
        foreach (int p in members)
            top = Math.Max(top, -distances[p] / tau);
        foreach (int p in members)
        {
            shares[p] = Math.Exp(-distances[p] / tau - top);
            sum += shares[p];
        }
        return top + Math.Log(sum);
    }

    /// <summary>
    /// (1 + μ) / 2 with μ = (d⁺ − d⁻)/(d⁺ + d⁻): GLVQ's relative distance moved into [0, 1], so that it reads like the other
    /// losses (0 at best; above ½ when the row is misclassified). ∂μ/∂d⁺ = 2d⁻/(d⁺ + d⁻)², ∂μ/∂d⁻ = −2d⁺/(d⁺ + d⁻)².
    /// </summary>
    private double Glvq(PrototypeParameters parameters, double[] lambda, int r, int y, int[] candidates, double[] distances, double w,
        PrototypeParameters? gradient)
    {
        int plus = -1, minus = -1;
        foreach (int c in candidates)
        {
            foreach (int p in _byClass[c])
            {
                if (c == y && (plus < 0 || distances[p] < distances[plus]))
                    plus = p;
                else if (c != y && (minus < 0 || distances[p] < distances[minus]))
                    minus = p;
            }
        }
        if (minus < 0)
            return 0;  // no other class: nothing to separate from
        double dp = distances[plus], dm = distances[minus], s = dp + dm;
        if (!(s > 0))
            return 0.5;
        if (gradient is not null)
        {
            Backward(parameters, lambda, r, plus, w * dm / (s * s), gradient);
            Backward(parameters, lambda, r, minus, w * -dp / (s * s), gradient);
        }
        return (1 + (dp - dm) / s) / 2;
    }

    private double Distance(PrototypeParameters parameters, ReadOnlySpan<double> lambda, int r, int p) =>
        PrototypeDistance.Of(_distance, _rows.AsSpan(r * _d, _d), parameters.Prototypes.AsSpan(p * _d, _d), lambda);

    private void Backward(PrototypeParameters parameters, double[] lambda, int r, int p, double coefficient, PrototypeParameters gradient) =>
        PrototypeDistance.Backward(_distance, _rows.AsSpan(r * _d, _d), parameters.Prototypes.AsSpan(p * _d, _d), lambda, coefficient,
            gradient.Prototypes.AsSpan(p * _d, _d), gradient.FeatureLogits, _complete[r]);
}
