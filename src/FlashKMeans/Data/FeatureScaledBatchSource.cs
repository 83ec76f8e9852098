using FlashKMeans.Primitives;

namespace FlashKMeans.Data;

/// <summary>Serves the rows of another source multiplied feature by feature by fixed factors (√w for feature weights w).</summary>
internal sealed class FeatureScaledBatchSource : RowMappingBatchSource
{
    private readonly float[] _scale;

    public FeatureScaledBatchSource(IBatchSource inner, float[] scale) : base(inner)
    {
        if (scale.Length != inner.Dimension)
            throw new ArgumentException($"{scale.Length} factors for rows of {inner.Dimension}.", nameof(scale));
        _scale = scale;
    }

    protected override void Map(Span<float> rows, long firstRow) => VectorMath.ScaleRows(rows, _scale);
}
