namespace FlashKMeans.Prototypes.Training;

/// <summary>
/// The distance between a row and a prototype in training coordinates, and its gradient: squared Euclidean
/// Σ λⱼ(xⱼ − pⱼ)² (λ ≡ 1 unless feature weights are learned), L1 Σ |xⱼ − pⱼ|, and cosine 1 − Σ xⱼpⱼ for unit rows and
/// prototypes kept at unit length by the optimiser. A NaN in a squared-Euclidean row is a missing feature
/// (<see cref="MissingFeatures.Ignore"/>): the sum runs over the features present and is scaled by d / (features
/// present), as the engine's scoring does.
/// </summary>
internal static class PrototypeDistance
{
    public static double Of(KMeansDistance distance, ReadOnlySpan<double> x, ReadOnlySpan<double> p, ReadOnlySpan<double> lambda)
    {
        double sum = 0;
        switch (distance)
        {
            case KMeansDistance.SquaredEuclidean:
            {
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
            case KMeansDistance.Manhattan:
                for (int j = 0; j < x.Length; j++)
                    sum += Math.Abs(x[j] - p[j]);
                return sum;
            default:
                for (int j = 0; j < x.Length; j++)
                    sum += x[j] * p[j];
                return 1 - sum;
        }
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
                return;
            }
            case KMeansDistance.Manhattan:
                for (int j = 0; j < x.Length; j++)
                    prototypeGradient[j] -= coefficient * Math.Sign(x[j] - p[j]);
                return;
            default:
                for (int j = 0; j < x.Length; j++)
                    prototypeGradient[j] -= coefficient * x[j];
                return;
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
