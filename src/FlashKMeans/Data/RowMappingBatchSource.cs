namespace FlashKMeans.Data;

/// <summary>
/// Serves the rows of another source changed row by row into a scratch buffer (scaled to unit length,
/// shifted towards the origin), the source itself untouched. Batches are re-cut to at most
/// <see cref="MaxBatchRows"/> rows so the scratch buffer stays small.
/// </summary>
internal abstract class RowMappingBatchSource(IBatchSource inner) : IBatchSource
{
    public const int MaxBatchRows = 16384;

    public int Dimension => inner.Dimension;

    public long? RowCount => inner.RowCount;

    public bool HasWeights => inner.HasWeights;

    public IBatchReader OpenReader() => new Reader(this, inner.OpenReader(), inner.Dimension);

    /// <summary>Changes <paramref name="rows"/> (a copy of the source's rows from <paramref name="firstRow"/> on) in place.</summary>
    protected abstract void Map(Span<float> rows, long firstRow);

    private sealed class Reader(RowMappingBatchSource owner, IBatchReader inner, int d) : IBatchReader
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
            owner.Map(output.Span, first);
            var weights = _current.Weights.IsEmpty ? default : _current.Weights.Slice(_offset, count);
            batch = new DataBatch(first, output, d, weights);
            _offset += count;
            return true;
        }

        public void Dispose() => inner.Dispose();
    }
}
