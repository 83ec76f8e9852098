using FlashKMeans.Primitives;

namespace FlashKMeans.Backends;

/// <summary>
/// Scores with per-feature weights w in the distance, Σ wⱼ(xⱼ − cⱼ)²: rows and centroids are scaled by √w and scored by
/// a plain squared-Euclidean scorer, so every backend's kernels serve weighted models unchanged.
/// </summary>
internal sealed class FeatureWeightedScorer : IKMeansScorer, ITopKScorer
{
    private readonly IKMeansScorer _inner;
    private readonly float[] _scale;
    private readonly int _d;

    /// <param name="centroids">K × d centroids in the data's coordinates.</param>
    /// <param name="dimension">d.</param>
    /// <param name="weights">d feature weights, non-negative.</param>
    /// <param name="createScorer">Makes the squared-Euclidean scorer of the scaled centroids.</param>
    public FeatureWeightedScorer(ReadOnlySpan<float> centroids, int dimension, ReadOnlySpan<float> weights,
        Func<ReadOnlyMemory<float>, int, IKMeansScorer> createScorer)
    {
        _d = dimension;
        _scale = new float[dimension];
        for (int j = 0; j < dimension; j++)
            _scale[j] = MathF.Sqrt(weights[j]);
        var scaled = centroids.ToArray();
        Scale(scaled);
        _inner = createScorer(scaled, dimension);
    }

    /// <summary>Multiplies each row's features by √w, in place.</summary>
    public void Scale(Span<float> rows) => VectorMath.ScaleRows(rows, _scale);

    public void Assign(ReadOnlySpan<float> rows, Span<int> labels, Span<float> distances)
    {
        var scaled = rows.ToArray();
        Scale(scaled);
        _inner.Assign(scaled, labels, distances);
    }

    public void AllDistances(ReadOnlySpan<float> rows, Span<float> distances)
    {
        var scaled = rows.ToArray();
        Scale(scaled);
        _inner.AllDistances(scaled, distances);
    }

    /// <inheritdoc />
    public bool FindsNearest(int count) => _inner is ITopKScorer top && top.FindsNearest(count);

    /// <inheritdoc />
    public void Nearest(ReadOnlySpan<float> rows, int count, Span<int> indices, Span<float> distances)
    {
        var scaled = rows.ToArray();
        Scale(scaled);
        (_inner as ITopKScorer ?? throw new InvalidOperationException("The inner scorer finds no nearest centroids."))
            .Nearest(scaled, count, indices, distances);
    }

    public void Dispose() => _inner.Dispose();
}
