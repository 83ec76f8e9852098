namespace FlashKMeans.Engine;

/// <summary>
/// Per-feature relevance learned from the assignments (<see cref="KMeansOptions.AutomaticFeatureWeights"/>):
/// wⱼ = 1 − (within-cluster variance of feature j / its total variance), clipped to [0, 1]. Both variances are kept as
/// weighted sums of squares, decayed by the forgetting factor with the rest of a stream's state; the total one is
/// merged batch by batch around the running mean (Chan et al.'s pairwise update), never as Σx² − (Σx)²/n, so that it
/// stays exact for data far from its mean. A feature that does not vary has weight 0; if every feature would, all
/// weigh 1.
/// </summary>
internal sealed class FeatureRelevance
{
    public FeatureRelevance(int dimension)
    {
        Mean = new double[dimension];
        Spread = new double[dimension];
        Within = new double[dimension];
        Weights = new float[dimension];
        Array.Fill(Weights, 1f);
    }

    /// <summary>Weight seen (decayed).</summary>
    public double Seen { get; private set; }

    /// <summary>Running weighted mean of each feature.</summary>
    public double[] Mean { get; private set; }

    /// <summary>Σ w (x − mean)² of each feature (decayed).</summary>
    public double[] Spread { get; private set; }

    /// <summary>Σ w (x − c_label)² of each feature, against the centroids each row was assigned to (decayed).</summary>
    public double[] Within { get; private set; }

    /// <summary>The current weights wⱼ, used by the next assignment.</summary>
    public float[] Weights { get; private set; }

    public FeatureRelevance Clone()
    {
        var copy = new FeatureRelevance(Mean.Length);
        copy.Restore(Seen, Mean.ToArray(), Spread.ToArray(), Within.ToArray(), Weights.ToArray());
        return copy;
    }

    public void Restore(double seen, double[] mean, double[] spread, double[] within, float[] weights)
    {
        Seen = seen;
        Mean = mean;
        Spread = spread;
        Within = within;
        Weights = weights;
    }

    /// <summary>Adds a batch and its assignment (to <paramref name="centroids"/>, K × d), after decaying what was seen.</summary>
    public void Add(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights, ReadOnlySpan<int> labels, ReadOnlySpan<float> centroids, double forgetting)
    {
        int d = Mean.Length, n = labels.Length;
        double batchWeight = 0;
        var batchMean = new double[d];
        for (int r = 0; r < n; r++)
        {
            double w = weights.IsEmpty ? 1 : weights[r];
            batchWeight += w;
            for (int j = 0; j < d; j++)
                batchMean[j] += w * rows[r * d + j];
        }
        if (!(batchWeight > 0))
            return;
        for (int j = 0; j < d; j++)
            batchMean[j] /= batchWeight;
        var batchSpread = new double[d];
        var batchWithin = new double[d];
        for (int r = 0; r < n; r++)
        {
            double w = weights.IsEmpty ? 1 : weights[r];
            int c = labels[r];
            for (int j = 0; j < d; j++)
            {
                double x = rows[r * d + j];
                double fromMean = x - batchMean[j], fromCentroid = x - centroids[c * d + j];
                batchSpread[j] += w * fromMean * fromMean;
                batchWithin[j] += w * fromCentroid * fromCentroid;
            }
        }
        double seen = Seen * forgetting, total = seen + batchWeight;
        for (int j = 0; j < d; j++)
        {
            double delta = batchMean[j] - Mean[j];
            Spread[j] = Spread[j] * forgetting + batchSpread[j] + delta * delta * seen * batchWeight / total;
            Mean[j] += delta * batchWeight / total;
            Within[j] = Within[j] * forgetting + batchWithin[j];
        }
        Seen = total;
        bool any = false;
        for (int j = 0; j < d; j++)
        {
            Weights[j] = Spread[j] > 0 ? (float)Math.Clamp(1 - Within[j] / Spread[j], 0, 1) : 0f;
            any |= Weights[j] > 0;
        }
        if (!any)
            Array.Fill(Weights, 1f);
    }
}
