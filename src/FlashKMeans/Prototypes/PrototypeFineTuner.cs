using FlashKMeans.Engine;
using FlashKMeans.Primitives;

namespace FlashKMeans.Prototypes;

/// <summary>
/// Phase 2 (<see cref="FineTuningOptions"/>): Adam on a model's task loss, in mini-batches of shuffled training rows, with
/// the L2 and diversity penalties, early stopping on held-out rows and, without a given rate, the learning-rate finder.
/// Every draw derives from the seed and every gradient is summed over fixed blocks of rows in order, so the result is the
/// same bits at any thread count.
/// </summary>
internal sealed class PrototypeFineTuner
{
    /// <summary>Rows per block of the gradient's sum: fixed, so that the sum's order does not follow the thread count.</summary>
    private const int BlockRows = 32;

    private readonly IPrototypeObjective _objective;
    private readonly FineTuningOptions _options;
    private readonly KMeansDistance _distance;
    private readonly int _dimension;
    private readonly ulong _seed;
    private readonly int _threads;
    private readonly double _tau;
    private readonly int[][] _pairs;
    private PrototypeParameters[] _blocks = [];

    /// <param name="objective">The task loss.</param>
    /// <param name="options">The settings.</param>
    /// <param name="distance">The distance (cosine prototypes return to unit length after each step).</param>
    /// <param name="dimension">d.</param>
    /// <param name="seed">Seed of the split, the shuffles and the sampled classes.</param>
    /// <param name="threads">Threads of the gradient.</param>
    /// <param name="tau">τ of the diversity penalty: the mean distance from a row to its nearest prototype after phase 1.</param>
    public PrototypeFineTuner(IPrototypeObjective objective, FineTuningOptions options, KMeansDistance distance, int dimension, int seed, int threads,
        double tau)
    {
        _objective = objective;
        _options = options;
        _distance = distance;
        _dimension = dimension;
        _seed = CounterRandom.Derive((ulong)seed, 0xF1E7);
        _threads = threads;
        _tau = tau > 0 && double.IsFinite(tau) ? tau : 1;
        var groups = objective.Groups;
        _pairs = groups.Distinct().Select(g => Enumerable.Range(0, groups.Count).Where(p => groups[p] == g).ToArray()).Where(m => m.Length > 1).ToArray();
    }

    /// <summary>Trains <paramref name="parameters"/> in place and says how it went.</summary>
    public FineTuningResult Run(PrototypeParameters parameters, CancellationToken cancellationToken)
    {
        int n = _objective.RowCount;
        var order = Permutation(n, CounterRandom.Derive(_seed, 1));
        int held = (int)Math.Min(n - 1L, (long)Math.Floor(n * _options.ValidationFraction));
        var validation = order[..Math.Max(held, 0)];
        var training = order[Math.Max(held, 0)..];
        var anchor = parameters.Prototypes.ToArray();
        var adam = new AdamOptimizer(parameters);
        double rate = _options.LearningRate ?? FindRate(parameters, adam, training, anchor, cancellationToken);

        var trainingLoss = new List<double>();
        var validationLoss = new List<double>();
        var validationError = new List<double>();
        var best = parameters.Clone();
        int bestEpoch = 0, stale = 0;
        double bestLoss = double.PositiveInfinity, bestError = double.NaN, lowestLoss = double.PositiveInfinity;
        if (validation.Length > 0)
        {
            (bestLoss, bestError) = Measure(parameters, validation);
            validationLoss.Add(bestLoss);
            lowestLoss = bestLoss;
            if (!double.IsNaN(bestError))
                validationError.Add(bestError);
        }
        var gradient = parameters.ZeroLike();
        for (int epoch = 1; epoch <= _options.Epochs; epoch++)
        {
            var shuffled = Shuffled(training, CounterRandom.Derive(_seed, 2 + (ulong)epoch));
            // Cosine annealing: the step size falls along half a cosine from the rate at the first epoch towards 0 after
            // the last, so late epochs refine instead of jittering (and the held-out loss settles for early stopping).
            double epochRate = _options.AnnealLearningRate ? rate * 0.5 * (1 + Math.Cos(Math.PI * (epoch - 1) / _options.Epochs)) : rate;
            double sum = 0;
            int steps = 0;
            for (int at = 0; at < shuffled.Length; at += _options.BatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var batch = shuffled.AsSpan(at, Math.Min(_options.BatchSize, shuffled.Length - at));
                // Weighted by the batch's rows: a short last batch counts for what it holds.
                sum += batch.Length * Step(parameters, adam, batch, anchor, gradient, epochRate, CounterRandom.Derive(_seed, ((ulong)epoch << 32) + (ulong)steps));
                steps++;
            }
            trainingLoss.Add(sum / Math.Max(shuffled.Length, 1));
            if (validation.Length == 0)
                continue;
            var (loss, error) = Measure(parameters, validation);
            validationLoss.Add(loss);
            // A classifier keeps the parameters of its best held-out error (a loss that rises with over-confidence while
            // fewer rows go wrong is no reason to go back), the loss breaking ties; other models those of the best loss.
            // Training goes on while either still improves.
            if (!double.IsNaN(error))
                validationError.Add(error);
            bool lower = loss < lowestLoss;
            lowestLoss = Math.Min(lowestLoss, loss);
            if (double.IsNaN(error) ? loss < bestLoss : error < bestError || (error == bestError && loss < bestLoss))
            {
                (bestLoss, bestError, bestEpoch, stale) = (loss, error, epoch, 0);
                best.CopyFrom(parameters);
            }
            else if (lower)
            {
                stale = 0;
            }
            else if (++stale >= _options.EarlyStoppingRounds)
            {
                break;
            }
        }
        if (validation.Length > 0)
            parameters.CopyFrom(best);
        else
            bestEpoch = trainingLoss.Count;
        return new FineTuningResult(rate, trainingLoss, validationLoss, bestEpoch, validationError);
    }

    /// <summary>One Adam step on <paramref name="batch"/>; returns the batch's mean task loss before it.</summary>
    private double Step(PrototypeParameters parameters, AdamOptimizer adam, ReadOnlySpan<int> batch, double[] anchor, PrototypeParameters gradient,
        double rate, ulong draws)
    {
        var lambda = parameters.FeatureWeights();
        double loss = Accumulate(parameters, lambda, batch, gradient, draws);
        Regularize(parameters, anchor, gradient, lambda);
        if (parameters.FeatureLogits.Length > 0)
            gradient.ToLogitGradient(lambda);
        adam.Step(parameters, gradient, rate);
        if (_distance == KMeansDistance.Cosine)
            TrainingSpace.ToUnitLength(parameters.Prototypes, _dimension);  // cosine prototypes stay unit vectors
        return loss;
    }

    /// <summary>
    /// The mean task loss of held-out <paramref name="rows"/>, and the weighted share of them the parameters get wrong
    /// (NaN for objectives without right and wrong answers), from one pass.
    /// </summary>
    internal (double Loss, double Error) Measure(PrototypeParameters parameters, ReadOnlySpan<int> rows)
    {
        var (loss, weight, wrong) = Sum(parameters, parameters.FeatureWeights(), rows, null, CounterRandom.Derive(_seed, 0));
        return weight > 0 ? (loss / weight, wrong / weight) : (0, double.IsNaN(wrong) ? double.NaN : 0);
    }

    /// <summary>
    /// The mean task loss of <paramref name="rows"/> and, into <paramref name="gradient"/> when given, its gradient (∂/∂λ in
    /// the logits' place).
    /// </summary>
    internal double Accumulate(PrototypeParameters parameters, double[] lambda, ReadOnlySpan<int> rows, PrototypeParameters? gradient, ulong draws)
    {
        var (loss, weight, _) = Sum(parameters, lambda, rows, gradient, draws);
        if (!(weight > 0))
            return 0;
        gradient?.Scale(1 / weight);
        return loss / weight;
    }

    /// <summary>
    /// The objective's sums over <paramref name="rows"/> (and its gradient's, into <paramref name="gradient"/>): blocks of
    /// <see cref="BlockRows"/> rows in parallel, added up in block order.
    /// </summary>
    private (double Loss, double Weight, double Wrong) Sum(PrototypeParameters parameters, double[] lambda, ReadOnlySpan<int> rows,
        PrototypeParameters? gradient, ulong draws)
    {
        int blocks = (rows.Length + BlockRows - 1) / BlockRows;
        if (gradient is not null && _blocks.Length < blocks)
            _blocks = [.. _blocks, .. Enumerable.Range(0, blocks - _blocks.Length).Select(_ => gradient.ZeroLike())];
        var sums = new (double Loss, double Weight, double Wrong)[blocks];
        var rowArray = rows.ToArray();
        Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = _threads }, b =>
        {
            var part = gradient is null ? null : _blocks[b];
            part?.Clear();
            int start = b * BlockRows;
            sums[b] = _objective.Accumulate(parameters, lambda, rowArray.AsSpan(start, Math.Min(BlockRows, rowArray.Length - start)), part, draws);
        });
        double loss = 0, weight = 0, wrong = blocks == 0 ? double.NaN : 0;
        gradient?.Clear();
        for (int b = 0; b < blocks; b++)
        {
            loss += sums[b].Loss;
            weight += sums[b].Weight;
            wrong += sums[b].Wrong;  // NaN from an objective without an error stays NaN
            if (gradient is not null)
                gradient.Add(_blocks[b]);
        }
        return (loss, weight, wrong);
    }

    /// <summary>
    /// Adds the penalties' gradients: L2 · (p − p₀), and the diversity penalty β · mean over same-group pairs of
    /// exp(−D(p, q) / τ), D the unweighted distance between the two prototypes.
    /// </summary>
    internal void Regularize(PrototypeParameters parameters, double[] anchor, PrototypeParameters gradient, double[] lambda)
    {
        int d = _dimension;
        var p = parameters.Prototypes;
        if (_options.L2Regularization > 0)
        {
            for (int i = 0; i < p.Length; i++)
                gradient.Prototypes[i] += _options.L2Regularization * (p[i] - anchor[i]);
        }
        if (_options.DiversityRegularization <= 0)
            return;
        long pairs = _pairs.Sum(m => (long)m.Length * (m.Length - 1) / 2);
        double factor = _options.DiversityRegularization / pairs;
        foreach (var members in _pairs)
        {
            for (int a = 0; a < members.Length; a++)
            {
                for (int b = a + 1; b < members.Length; b++)
                {
                    var pa = p.AsSpan(members[a] * d, d);
                    var pb = p.AsSpan(members[b] * d, d);
                    double coefficient = factor * Math.Exp(-PrototypeDistance.Of(_distance, pa, pb, []) / _tau) * (-1 / _tau);
                    PrototypeDistance.Backward(_distance, pa, pb, [], coefficient, gradient.Prototypes.AsSpan(members[b] * d, d), [], complete: true);
                    PrototypeDistance.Backward(_distance, pb, pa, [], coefficient, gradient.Prototypes.AsSpan(members[a] * d, d), [], complete: true);
                }
            }
        }
    }

    /// <summary>The diversity penalty's value (for tests of its gradient).</summary>
    internal double Diversity(PrototypeParameters parameters)
    {
        int d = _dimension;
        long pairs = _pairs.Sum(m => (long)m.Length * (m.Length - 1) / 2);
        double sum = 0;
        foreach (var members in _pairs)
        {
            for (int a = 0; a < members.Length; a++)
                for (int b = a + 1; b < members.Length; b++)
                    sum += Math.Exp(-PrototypeDistance.Of(_distance, parameters.Prototypes.AsSpan(members[a] * d, d), parameters.Prototypes.AsSpan(members[b] * d, d), []) / _tau);
        }
        return pairs > 0 ? _options.DiversityRegularization * sum / pairs : 0;
    }

    /// <summary>
    /// The learning-rate finder: Adam steps at rates rising exponentially from 1e-7 to 10 over at most 100 batches, stopped
    /// once the smoothed loss (an exponential average with β = 0.98, debiased) exceeds 4× its best; a tenth of the rate at
    /// the smoothed loss's minimum (the steepest fall, the other common choice, lands on noise in the first steps where
    /// the loss barely moves). Puts the parameters and the optimiser back as they were.
    /// </summary>
    private double FindRate(PrototypeParameters parameters, AdamOptimizer adam, int[] training, double[] anchor, CancellationToken cancellationToken)
    {
        const int Sweep = 100;
        const double Low = 1e-7, High = 10, Fallback = 1e-3;
        const int Settle = 10;  // steps before the smoothed loss is read: rates below 6e-7
        var saved = parameters.Clone();
        var savedAdam = adam.Save();
        var gradient = parameters.ZeroLike();
        var shuffled = Shuffled(training, CounterRandom.Derive(_seed, 3));
        var logRates = new List<double>();
        var losses = new List<double>();
        double smoothed = 0, best = double.PositiveInfinity;
        int at = 0;
        for (int i = 0; i < Sweep; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            double logRate = Math.Log(Low) + (Math.Log(High) - Math.Log(Low)) * i / (Sweep - 1);
            if (at >= shuffled.Length)
                at = 0;
            var batch = shuffled.AsSpan(at, Math.Min(_options.BatchSize, shuffled.Length - at));
            at += batch.Length;
            double loss = Step(parameters, adam, batch, anchor, gradient, Math.Exp(logRate), CounterRandom.Derive(_seed, 0xF1D0 + (ulong)i));
            if (!double.IsFinite(loss))
                break;
            smoothed = 0.98 * smoothed + 0.02 * loss;
            double debiased = smoothed / (1 - Math.Pow(0.98, i + 1));
            // The first steps' average is still a few batches': one easy batch must not end the sweep.
            if (i >= Settle && debiased > 4 * best)
                break;
            best = Math.Min(best, debiased);
            logRates.Add(logRate);
            losses.Add(debiased);
        }
        parameters.CopyFrom(saved);
        adam.Restore(savedAdam);
        if (losses.Count < 2)
            return Fallback;
        int lowest = losses.IndexOf(losses.Min());
        // A minimum among the first, tiny steps is noise between batches (such steps barely move the model), not a rate.
        return lowest < Settle ? Fallback : Math.Exp(logRates[lowest]) / 10;
    }

    private static int[] Permutation(int n, ulong seed) => Shuffled(Enumerable.Range(0, n).ToArray(), seed);

    /// <summary>A Fisher–Yates shuffle of a copy, its draws from (seed, position).</summary>
    private static int[] Shuffled(int[] values, ulong seed)
    {
        var copy = values.ToArray();
        for (int i = copy.Length - 1; i > 0; i--)
        {
            int j = (int)(CounterRandom.Uniform(seed, (ulong)i) * (i + 1));
            (copy[i], copy[j]) = (copy[j], copy[i]);
        }
        return copy;
    }
}
