using System.Numerics;
using FlashKMeans.Primitives;

namespace FlashKMeans.Prototypes;

/// <summary>The top-k nearest prototypes of one row and their blend weights (see <see cref="PrototypeRouting"/>).</summary>
internal static class PrototypeRouter
{
    /// <summary>
    /// Fills <paramref name="nearest"/> with the indices of the k = <paramref name="nearest"/>.Length smallest distances,
    /// nearest first (ties to the lower index), and <paramref name="weights"/> with their routing weights, which sum to 1.
    /// Similarity is s = 1 / (1 + distance).
    /// </summary>
    public static void Route<T>(ReadOnlySpan<T> distances, PrototypeRouting routing, double temperature, Span<int> nearest, Span<double> weights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        TopKSelection.Smallest(distances, nearest);
        int k = nearest.Length;
        Span<T> chosen = k <= 64 ? stackalloc T[k] : new T[k];
        for (int i = 0; i < k; i++)
            chosen[i] = distances[nearest[i]];
        Weights<T>(chosen, routing, temperature, weights);
    }

    /// <summary>
    /// The routing weights of a row's k nearest prototypes from their distances (<paramref name="nearest"/>, nearest
    /// first), which sum to 1: what <see cref="Route"/> gives once the nearest are found, on whatever device found them.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]  // prediction calls it at once, per row
    public static void Weights<T>(ReadOnlySpan<T> nearest, PrototypeRouting routing, double temperature, Span<double> weights)
        where T : IFloatingPointIeee754<T>
    {
        int k = nearest.Length;
        switch (routing)
        {
            case PrototypeRouting.Hard:
                weights.Clear();
                weights[0] = 1;
                return;
            case PrototypeRouting.Mean:
                weights.Fill(1.0 / k);
                return;
            case PrototypeRouting.Scaled:
            {
                double sum = 0;
                for (int i = 0; i < k; i++)
                    sum += weights[i] = 1 / (1 + double.CreateTruncating(nearest[i]));
                for (int i = 0; i < k; i++)
                    weights[i] /= sum;
                return;
            }
            default:
            {
                // softmax(s / T), taken from the largest s for stability.
                double top = 1 / (1 + double.CreateTruncating(nearest[0])), sum = 0;
                for (int i = 0; i < k; i++)
                    sum += weights[i] = Math.Exp((1 / (1 + double.CreateTruncating(nearest[i])) - top) / temperature);
                for (int i = 0; i < k; i++)
                    weights[i] /= sum;
                return;
            }
        }
    }

    /// <summary>
    /// The routing's backward pass: from ∂L/∂wᵢ (<paramref name="weightGradient"/>) of the weights <see cref="Route"/> gave
    /// for the distances <paramref name="nearestDistances"/>, writes ∂L/∂dᵢ into <paramref name="distanceGradient"/>. The
    /// choice of the top k is constant where it is differentiable; hard and mean weights do not depend on the distances.
    /// With sᵢ = 1 / (1 + dᵢ), ∂sᵢ/∂dᵢ = −sᵢ²; scaled: ∂L/∂sⱼ = (gⱼ − Σᵢ gᵢwᵢ) / Σ s; softmax: ∂L/∂sⱼ = wⱼ(gⱼ − Σᵢ gᵢwᵢ) / T.
    /// </summary>
    public static void Backward(ReadOnlySpan<double> nearestDistances, ReadOnlySpan<double> weights, ReadOnlySpan<double> weightGradient,
        PrototypeRouting routing, double temperature, Span<double> distanceGradient)
    {
        int k = weights.Length;
        if (routing is PrototypeRouting.Hard or PrototypeRouting.Mean)
        {
            distanceGradient[..k].Clear();
            return;
        }
        double mean = 0, similaritySum = 0;
        for (int i = 0; i < k; i++)
        {
            mean += weightGradient[i] * weights[i];
            similaritySum += 1 / (1 + nearestDistances[i]);
        }
        for (int j = 0; j < k; j++)
        {
            double s = 1 / (1 + nearestDistances[j]);
            double bySimilarity = routing == PrototypeRouting.Scaled
                ? (weightGradient[j] - mean) / similaritySum
                : weights[j] * (weightGradient[j] - mean) / temperature;
            distanceGradient[j] = -s * s * bySimilarity;
        }
    }
}
