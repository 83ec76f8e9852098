namespace FlashKMeans.Data;

/// <summary>
/// Serves the rows of another source minus a fixed shift (the data's mean): x − s. Squared Euclidean
/// distances are the same, but the float32 expansion ‖x‖² + ‖c‖² − 2x·c that every assignment kernel
/// computes keeps its digits only near the origin, and half-precision types hold centred data more finely.
/// </summary>
internal sealed class ShiftedBatchSource : RowMappingBatchSource
{
    private readonly float[] _shift;

    public ShiftedBatchSource(IBatchSource inner, float[] shift) : base(inner)
    {
        if (shift.Length != inner.Dimension)
            throw new ArgumentException($"The shift has {shift.Length} values but rows have {inner.Dimension}.", nameof(shift));
        _shift = shift;
    }

    protected override void Map(Span<float> rows, long firstRow) => Subtract(rows, _shift);

    /// <summary>
    /// Whether points whose mean lies <paramref name="squaredOffset"/> (‖m‖²) from the origin, with spread
    /// <paramref name="spread"/> (E‖x − m‖²), are worth shifting by m. The float32 expansion ‖x‖² + ‖c‖² − 2x·c rounds in
    /// proportion to ‖x‖² ≈ ‖m‖² + spread, while the gaps it must resolve scale with the spread: beyond ‖m‖² = spread it
    /// loses more than a bit (at 10⁴ spreads every one). Closer to the origin the rows are read in place.
    /// </summary>
    public static bool Worthwhile(double squaredOffset, double spread) => squaredOffset > spread;

    /// <summary>Subtracts <paramref name="shift"/> from every row of <paramref name="rows"/> in place.</summary>
    public static void Subtract(Span<float> rows, ReadOnlySpan<float> shift)
    {
        int d = shift.Length;
        for (int r = 0; r < rows.Length / d; r++)
        {
            var row = rows.Slice(r * d, d);
            System.Numerics.Tensors.TensorPrimitives.Subtract(row, shift, row);
        }
    }
}
