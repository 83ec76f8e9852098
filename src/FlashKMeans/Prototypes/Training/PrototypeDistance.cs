using System.Numerics.Tensors;

namespace FlashKMeans.Prototypes.Training;

/// <summary>
/// The distance between a row and a prototype in training coordinates, and its gradient: squared Euclidean
/// Σ λⱼ(xⱼ − pⱼ)² (λ ≡ 1 unless feature weights are learned), L1 Σ |xⱼ − pⱼ|, and cosine 1 − Σ xⱼpⱼ for unit rows and
/// prototypes kept at unit length by the optimiser. A NaN in a squared-Euclidean row is a missing feature
/// (<see cref="MissingFeatures.Ignore"/>): the sum runs over the features present and is scaled by d / (features
/// present), as the engine's scoring does. Complete rows take vectorised paths (<see cref="TensorPrimitives"/>); a row
/// with a missing feature shows as a NaN difference and takes the feature-by-feature one.
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
                var v = Difference(x, p);
                double squared = lambda.IsEmpty ? TensorPrimitives.SumOfSquares<double>(v) : WeightedSquares(v, lambda);
                return double.IsNaN(squared) ? SquaredWithMissing(x, p, lambda) : squared;
            }
            case KMeansDistance.Manhattan:
                return TensorPrimitives.SumOfMagnitudes<double>(Difference(x, p));
            default:
                return 1 - TensorPrimitives.Dot(x, p);
        }
    }

    private static double WeightedSquares(Span<double> v, ReadOnlySpan<double> lambda)
    {
        TensorPrimitives.Multiply<double>(v, v, v);
        return TensorPrimitives.Dot<double>(v, lambda);
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

    /// <summary>
    /// Adds <paramref name="coefficient"/> × ∂distance/∂p to <paramref name="prototypeGradient"/>, and × ∂distance/∂λ to
    /// <paramref name="lambdaGradient"/> when feature weights are learned.
    /// </summary>
    public static void Backward(KMeansDistance distance, ReadOnlySpan<double> x, ReadOnlySpan<double> p, ReadOnlySpan<double> lambda,
        double coefficient, Span<double> prototypeGradient, Span<double> lambdaGradient)
    {
        if (coefficient == 0)
            return;
        switch (distance)
        {
            case KMeansDistance.SquaredEuclidean:
            {
                var v = Difference(x, p);
                if (double.IsNaN(TensorPrimitives.Sum<double>(v)))
                {
                    BackwardWithMissing(x, p, lambda, coefficient, prototypeGradient, lambdaGradient);
                    return;
                }
                // ∂/∂p = −2λ(x − p); ∂/∂λ = (x − p)².
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
