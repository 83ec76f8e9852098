using FlashKMeans.Primitives;

namespace FlashKMeans.Data;

/// <summary>Serves the rows of another source scaled to unit Euclidean length, for cosine (spherical) k-means.</summary>
internal sealed class UnitLengthBatchSource(IBatchSource inner) : RowMappingBatchSource(inner)
{
    /// <summary>Scales <paramref name="row"/> in place to unit length.</summary>
    /// <exception cref="ArgumentException">The row has zero length, so it has no direction.</exception>
    public static void Normalize(Span<float> row, long rowIndex)
    {
        double norm = Math.Sqrt(VectorMath.DotDouble(row, row));
        if (!(norm > 0))
            throw new ArgumentException($"Row {rowIndex} has zero length; cosine distance needs rows with a direction.");
        VectorMath.ScaleToUnit(row, norm);
    }

    protected override void Map(Span<float> rows, long firstRow)
    {
        int d = Dimension;
        for (int r = 0; r < rows.Length / d; r++)
            Normalize(rows.Slice(r * d, d), firstRow + r);
    }
}
