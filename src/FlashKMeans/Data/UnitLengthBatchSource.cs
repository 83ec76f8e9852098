namespace FlashKMeans.Data;

/// <summary>
/// Serves the rows of another source scaled to unit Euclidean length, for cosine (spherical) k-means.
/// Batches are re-cut to at most <see cref="MaxBatchRows"/> rows so the scratch buffer stays small.
/// </summary>
internal sealed class UnitLengthBatchSource(IBatchSource inner) : IBatchSource
{
    public const int MaxBatchRows = 16384;

    public int Dimension => inner.Dimension;

    public long? RowCount => inner.RowCount;

    public bool HasWeights => inner.HasWeights;

    public IBatchReader OpenReader() => new Reader(inner.OpenReader(), inner.Dimension);

    /// <summary>Scales <paramref name="row"/> in place to unit length.</summary>
    /// <exception cref="ArgumentException">The row has zero length, so it has no direction.</exception>
    public static void Normalize(Span<float> row, long rowIndex)
    {
        double norm = Math.Sqrt(Cpu.VectorMath.DotDouble(row, row));
        if (!(norm > 0))
            throw new ArgumentException($"Row {rowIndex} has zero length; cosine distance needs rows with a direction.");
        Cpu.VectorMath.ScaleToUnit(row, norm);
    }

    private sealed class Reader(IBatchReader inner, int d) : IBatchReader
    {
        private DataBatch _current;
        private int _offset;
        private bool _hasCurrent;
        private float[] _buffer = [];

        public bool TryRead(out DataBatch batch)
        {
            while (!_hasCurrent || _offset >= _current.RowCount)
            {
                if (!inner.TryRead(out _current))
                {
                    batch = default;
                    return false;
                }
                _hasCurrent = true;
                _offset = 0;
            }
            int count = Math.Min(MaxBatchRows, _current.RowCount - _offset);
            if (_buffer.Length < count * d)
                _buffer = new float[count * d];
            var output = _buffer.AsMemory(0, count * d);
            _current.Rows.Span.Slice(_offset * d, count * d).CopyTo(output.Span);
            long first = _current.FirstRow + _offset;
            for (int r = 0; r < count; r++)
                Normalize(output.Span.Slice(r * d, d), first + r);
            var weights = _current.Weights.IsEmpty ? default : _current.Weights.Slice(_offset, count);
            batch = new DataBatch(first, output, d, weights);
            _offset += count;
            return true;
        }

        public void Dispose() => inner.Dispose();
    }
}
