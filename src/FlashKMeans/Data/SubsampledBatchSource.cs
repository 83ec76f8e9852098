namespace FlashKMeans.Data;

/// <summary>
/// Serves only the chosen rows of another source (ascending row indices), renumbered from 0.
/// Used for faiss-style training on at most M points per centroid.
/// </summary>
internal sealed class SubsampledBatchSource : IBatchSource
{
    private const int BatchRows = 16384;
    private readonly IBatchSource _inner;
    private readonly long[] _rows;

    public SubsampledBatchSource(IBatchSource inner, long[] sortedRows)
    {
        _inner = inner;
        _rows = sortedRows;
    }

    public int Dimension => _inner.Dimension;

    public long? RowCount => _rows.Length;

    public bool HasWeights => _inner.HasWeights;

    public IBatchReader OpenReader() => new Reader(this);

    private sealed class Reader(SubsampledBatchSource owner) : IBatchReader
    {
        private readonly IBatchReader _inner = owner._inner.OpenReader();
        private readonly int _d = owner.Dimension;
        private DataBatch _current;
        private bool _hasCurrent;
        private int _next; // index into owner._rows
        private float[] _values = [];
        private float[] _weights = [];

        public bool TryRead(out DataBatch batch)
        {
            var wanted = owner._rows;
            int start = _next;
            int count = 0;
            int capacity = Math.Min(BatchRows, wanted.Length - start);
            if (capacity <= 0)
            {
                batch = default;
                return false;
            }
            if (_values.Length < capacity * _d)
            {
                _values = new float[capacity * _d];
                _weights = new float[capacity];
            }
            while (count < capacity)
            {
                long row = wanted[_next];
                while (!_hasCurrent || row >= _current.FirstRow + _current.RowCount)
                {
                    if (!_inner.TryRead(out _current))
                        throw new InvalidOperationException($"The source ended before sampled row {row}.");
                    _hasCurrent = true;
                }
                int local = (int)(row - _current.FirstRow);
                _current.Rows.Span.Slice(local * _d, _d).CopyTo(_values.AsSpan(count * _d, _d));
                _weights[count] = _current.Weights.IsEmpty ? 1f : _current.Weights.Span[local];
                count++;
                _next++;
            }
            batch = new DataBatch(start, _values.AsMemory(0, count * _d), _d,
                owner.HasWeights ? _weights.AsMemory(0, count) : default);
            return true;
        }

        public void Dispose() => _inner.Dispose();
    }
}
