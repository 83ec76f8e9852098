namespace FlashKMeans.Data;

/// <summary>
/// Row-major data already in memory, served in batches of <see cref="BatchRows"/> rows without copying.
/// </summary>
public sealed class InMemoryBatchSource : IRowBlockSource
{
    private readonly ReadOnlyMemory<float> _rows;
    private readonly ReadOnlyMemory<float> _weights;

    /// <summary>Wraps row-major data.</summary>
    /// <param name="rows">N × d values, row after row.</param>
    /// <param name="dimension">d.</param>
    /// <param name="weights">N weights, or empty for unit weights.</param>
    /// <param name="batchRows">Rows per batch; <c>null</c> serves everything as one batch.</param>
    public InMemoryBatchSource(ReadOnlyMemory<float> rows, int dimension, ReadOnlyMemory<float> weights = default, int? batchRows = null)
    {
        if (dimension < 1)
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "The dimension must be at least 1.");
        if (rows.Length % dimension != 0)
            throw new ArgumentException($"The data holds {rows.Length} values, which is not a multiple of the dimension {dimension}.", nameof(rows));
        long count = rows.Length / dimension;
        if (!weights.IsEmpty && weights.Length != count)
            throw new ArgumentException($"There are {count} rows but {weights.Length} weights.", nameof(weights));
        if (batchRows is < 1)
            throw new ArgumentOutOfRangeException(nameof(batchRows), batchRows, "Must be at least 1.");
        _rows = rows;
        _weights = weights;
        Dimension = dimension;
        RowCount = count;
        BatchRows = (int)Math.Max(1, Math.Min(batchRows ?? count, count));
    }

    /// <inheritdoc />
    public int Dimension { get; }

    /// <inheritdoc />
    public long? RowCount { get; }

    /// <inheritdoc />
    public bool HasWeights => !_weights.IsEmpty;

    /// <summary>Rows per batch.</summary>
    public int BatchRows { get; }

    /// <inheritdoc />
    public IBatchReader OpenReader() => new Reader(this);

    /// <inheritdoc />
    public RowElementType ElementType => RowElementType.Float32;

    /// <inheritdoc />
    public ReadOnlySpan<byte> GetRowBytes(long firstRow, int rowCount)
    {
        if (firstRow < 0 || rowCount < 0 || firstRow + rowCount > RowCount!.Value)
            throw new ArgumentOutOfRangeException(nameof(firstRow), $"Rows [{firstRow}, {firstRow + rowCount}) are outside [0, {RowCount}).");
        return System.Runtime.InteropServices.MemoryMarshal.AsBytes(_rows.Span.Slice(checked((int)(firstRow * Dimension)), rowCount * Dimension));
    }

    /// <inheritdoc />
    public ReadOnlySpan<float> GetWeights(long firstRow, int rowCount) =>
        HasWeights ? _weights.Span.Slice(checked((int)firstRow), rowCount) : default;

    private sealed class Reader(InMemoryBatchSource source) : IBatchReader
    {
        private BatchRange _range;

        public bool TryRead(out DataBatch batch)
        {
            if (!_range.TryNext(source.RowCount!.Value, source.BatchRows, out long first, out int count))
            {
                batch = default;
                return false;
            }
            int d = source.Dimension;
            var rows = source._rows.Slice(checked((int)(first * d)), count * d);
            var weights = source.HasWeights ? source._weights.Slice((int)first, count) : default;
            batch = new DataBatch(first, rows, d, weights);
            return true;
        }

        public void Dispose() { }
    }
}
