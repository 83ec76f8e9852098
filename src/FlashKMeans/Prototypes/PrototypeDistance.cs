using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace FlashKMeans.Prototypes;

/// <summary>
/// The distance between a row and a prototype in training coordinates, and its gradient: squared Euclidean
/// Σ λⱼ(xⱼ − pⱼ)² (λ ≡ 1 unless feature weights are learned), L1 Σ |xⱼ − pⱼ|, and cosine 1 − Σ xⱼpⱼ for unit rows and
/// prototypes kept at unit length by the optimiser. A NaN in a squared-Euclidean row is a missing feature
/// (<see cref="MissingFeatures.Ignore"/>): the sum runs over the features present and is scaled by d / (features
/// present), as the engine's scoring does. Complete rows take vectorised paths (one pass of <see cref="Vector{T}"/> for
/// the squared distance and its prototype gradient, <see cref="TensorPrimitives"/> for the rest); a row with a missing
/// feature shows as a NaN and takes the feature-by-feature one.
/// </summary>
internal static class PrototypeDistance
{
    [ThreadStatic]
    private static double[]? t_difference;

    /// <summary>x − p into this thread's scratch; NaN where a feature is missing.</summary>
    private static Span<double> Difference(ReadOnlySpan<double> x, ReadOnlySpan<double> p)
    {
        if (t_difference is null || t_difference.Length < x.Length)
            t_difference = new double[Math.Max(x.Length, 64)];
        var difference = t_difference.AsSpan(0, x.Length);
        TensorPrimitives.Subtract(x, p, difference);
        return difference;
    }

    public static double Of(KMeansDistance distance, ReadOnlySpan<double> x, ReadOnlySpan<double> p, ReadOnlySpan<double> lambda)
    {
        switch (distance)
        {
            case KMeansDistance.SquaredEuclidean:
            {
                double squared = SquaredDifferences(x, p, lambda);
                return double.IsNaN(squared) ? SquaredWithMissing(x, p, lambda) : squared;
            }
            case KMeansDistance.Manhattan:
                return TensorPrimitives.SumOfMagnitudes<double>(Difference(x, p));
            default:
                return 1 - TensorPrimitives.Dot(x, p);
        }
    }

    // Σ λⱼ(xⱼ − pⱼ)² (λ ≡ 1 when empty) in one pass; NaN where a feature is missing. One loop of vectors rather than
    // TensorPrimitives' subtract-then-sum: a training step takes this for every row and prototype, at d of a few dozen,
    // where two library calls per pair cost more than the arithmetic.
    private static double SquaredDifferences(ReadOnlySpan<double> x, ReadOnlySpan<double> p, ReadOnlySpan<double> lambda)
    {
        int i = 0;
        double sum = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<double>.Count)
        {
            var xs = MemoryMarshal.Cast<double, Vector<double>>(x);
            var ps = MemoryMarshal.Cast<double, Vector<double>>(p);
            var total = Vector<double>.Zero;
            if (lambda.IsEmpty)
            {
                for (int k = 0; k < xs.Length; k++)
                {
                    var v = xs[k] - ps[k];
                    total += v * v;
                }
            }
            else
            {
                var ls = MemoryMarshal.Cast<double, Vector<double>>(lambda);
                for (int k = 0; k < xs.Length; k++)
                {
                    var v = xs[k] - ps[k];
                    total += ls[k] * v * v;
                }
            }
            sum = Vector.Sum(total);
            i = xs.Length * Vector<double>.Count;
        }
        for (; i < x.Length; i++)
        {
            double v = x[i] - p[i];
            sum += (lambda.IsEmpty ? 1 : lambda[i]) * v * v;
        }
        return sum;
    }

    // Whether any value is NaN (a missing feature).
    private static bool HasNaN(ReadOnlySpan<double> x)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<double>.Count)
        {
            var xs = MemoryMarshal.Cast<double, Vector<double>>(x);
            for (int k = 0; k < xs.Length; k++)
            {
                if (!Vector.EqualsAll(xs[k], xs[k]))
                    return true;
            }
            i = xs.Length * Vector<double>.Count;
        }
        for (; i < x.Length; i++)
        {
            if (double.IsNaN(x[i]))
                return true;
        }
        return false;
    }

    private static double SquaredWithMissing(ReadOnlySpan<double> x, ReadOnlySpan<double> p, ReadOnlySpan<double> lambda)
    {
        double sum = 0;
        int present = 0;
        for (int j = 0; j < x.Length; j++)
        {
            double v = x[j] - p[j];
            if (double.IsNaN(v))
                continue;
            sum += (lambda.IsEmpty ? 1 : lambda[j]) * v * v;
            present++;
        }
        return present == x.Length ? sum : sum * x.Length / present;
    }

    /// <summary>Per row of <paramref name="rows"/> (n × <paramref name="d"/>), whether it has every feature (no NaN).</summary>
    public static bool[] CompleteRows(double[] rows, int d)
    {
        var complete = new bool[rows.Length / d];
        for (int r = 0; r < complete.Length; r++)
            complete[r] = !HasNaN(rows.AsSpan(r * d, d));
        return complete;
    }

    /// <summary>
    /// Adds <paramref name="coefficient"/> × ∂distance/∂p to <paramref name="prototypeGradient"/>, and × ∂distance/∂λ to
    /// <paramref name="lambdaGradient"/> when feature weights are learned. <paramref name="complete"/>: whether the row
    /// <paramref name="x"/> has every feature (<see cref="CompleteRows"/>; prototypes always do), known to the caller
    /// once per row rather than checked again for every prototype.
    /// </summary>
    public static void Backward(KMeansDistance distance, ReadOnlySpan<double> x, ReadOnlySpan<double> p, ReadOnlySpan<double> lambda,
        double coefficient, Span<double> prototypeGradient, Span<double> lambdaGradient, bool complete)
    {
        if (coefficient == 0)
            return;
        switch (distance)
        {
            case KMeansDistance.SquaredEuclidean:
            {
                if (!complete)
                {
                    BackwardWithMissing(x, p, lambda, coefficient, prototypeGradient, lambdaGradient);
                    return;
                }
                // ∂/∂p = −2λ(x − p); ∂/∂λ = (x − p)².
                if (lambda.IsEmpty && lambdaGradient.IsEmpty)
                {
                    AddScaledDifference(x, p, -2 * coefficient, prototypeGradient);
                    return;
                }
                var v = Difference(x, p);
                if (!lambdaGradient.IsEmpty)
                {
                    for (int j = 0; j < v.Length; j++)
                        lambdaGradient[j] += coefficient * v[j] * v[j];
                }
                if (!lambda.IsEmpty)
                    TensorPrimitives.Multiply<double>(v, lambda, v);
                TensorPrimitives.MultiplyAdd<double>(v, -2 * coefficient, prototypeGradient, prototypeGradient);
                return;
            }
            case KMeansDistance.Manhattan:
                for (int j = 0; j < x.Length; j++)
                    prototypeGradient[j] -= coefficient * Math.Sign(x[j] - p[j]);
                return;
            default:
                TensorPrimitives.MultiplyAdd<double>(x, -coefficient, prototypeGradient, prototypeGradient);
                return;
        }
    }

    // gradient += scale · (x − p), in one pass (see SquaredDifferences).
    private static void AddScaledDifference(ReadOnlySpan<double> x, ReadOnlySpan<double> p, double scale, Span<double> gradient)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && x.Length >= Vector<double>.Count)
        {
            var xs = MemoryMarshal.Cast<double, Vector<double>>(x);
            var ps = MemoryMarshal.Cast<double, Vector<double>>(p);
            var gs = MemoryMarshal.Cast<double, Vector<double>>(gradient);
            for (int k = 0; k < xs.Length; k++)
                gs[k] += scale * (xs[k] - ps[k]);
            i = xs.Length * Vector<double>.Count;
        }
        for (; i < x.Length; i++)
            gradient[i] += scale * (x[i] - p[i]);
    }

    private static void BackwardWithMissing(ReadOnlySpan<double> x, ReadOnlySpan<double> p, ReadOnlySpan<double> lambda, double coefficient,
        Span<double> prototypeGradient, Span<double> lambdaGradient)
    {
        int present = 0;
        foreach (double v in x)
            present += double.IsNaN(v) ? 0 : 1;
        coefficient *= (double)x.Length / present;
        for (int j = 0; j < x.Length; j++)
        {
            double v = x[j] - p[j];
            if (double.IsNaN(v))
                continue;
            double l = lambda.IsEmpty ? 1 : lambda[j];
            prototypeGradient[j] -= coefficient * 2 * l * v;
            if (!lambdaGradient.IsEmpty)
                lambdaGradient[j] += coefficient * v * v;
        }
    }

    /// <summary>The mean over <paramref name="rows"/> (n × d) of the distance to the nearest of <paramref name="prototypes"/> (P × d), unweighted.</summary>
    public static double MeanNearest(KMeansDistance distance, double[] rows, double[] prototypes, int d)
    {
        int n = rows.Length / d, p = prototypes.Length / d;
        double sum = 0;
        for (int r = 0; r < n; r++)
        {
            double best = double.PositiveInfinity;
            for (int q = 0; q < p; q++)
                best = Math.Min(best, Of(distance, rows.AsSpan(r * d, d), prototypes.AsSpan(q * d, d), []));
            sum += best;
        }
        return n > 0 ? sum / n : 0;
    }
}
