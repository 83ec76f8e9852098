namespace FlashKMeans.Cpu;

/// <summary>The weighted median of values: the point that minimises Σ wᵢ·|xᵢ − m|, the k-medians update.</summary>
internal static class WeightedMedian
{
    /// <summary>
    /// The lower weighted median: the smallest value at which the weight at or below it reaches half the total. Equal
    /// values are interchangeable, so the order the sort leaves them in does not change the result, which depends on the
    /// values and weights alone. Zero weights count for nothing; the values and weights are reordered in place.
    /// </summary>
    public static float Lower(Span<float> values, Span<float> weights)
    {
        if (values.IsEmpty)
            throw new ArgumentException("No values.", nameof(values));
        values.Sort(weights);
        double total = 0;
        foreach (float w in weights)
            total += w;
        double half = total / 2, running = 0;
        for (int i = 0; i < values.Length; i++)
        {
            running += weights[i];
            if (running >= half && weights[i] > 0)
                return values[i];
        }
        return values[^1];
    }
}
