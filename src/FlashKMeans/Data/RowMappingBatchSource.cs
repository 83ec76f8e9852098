namespace FlashKMeans.Data;

/// <summary>
/// Serves the rows of another source changed row by row into a scratch buffer (scaled to unit length,
/// shifted towards the origin), the source itself untouched. Batches are re-cut to at most
/// <see cref="MaxBatchRows"/> rows so the scratch buffer stays small.
/// </summary>
internal abstract class RowMappingBatchSource(IBatchSource inner) : IBatchSource
{
    public const int MaxBatchRows = 16384;

    /// <summary>The source whose rows this one changes.</summary>
    internal IBatchSource Inner => inner;

    public int Dimension => inner.Dimension;

    public long? RowCount => inner.RowCount;

    public bool HasWeights => inner.HasWeights;

    public IBatchReader OpenReader() => new Reader(this, inner.OpenReader(), inner.Dimension);

    /// <summary>Changes <paramref name="rows"/> (a copy of the source's rows from <paramref name="firstRow"/> on) in place.</summary>
    protected abstract void Map(Span<float> rows, long firstRow);

    /// <summary>
    /// The source under every row mapping around <paramref name="source"/>, and those mappings in the order they apply
    /// (innermost first; none where the source maps nothing). A reader that maps its own slices with
    /// <see cref="Apply"/> (in parallel, while they are in cache) serves the same rows as <paramref name="source"/>, which
    /// maps each batch on the reading thread.
    /// </summary>
    internal static IBatchSource Unwrap(IBatchSource source, out RowMappingBatchSource[] maps)
    {
        var found = new List<RowMappingBatchSource>();
        while (source is RowMappingBatchSource mapping)
        {
            found.Add(mapping);
            source = mapping.Inner;
        }
        found.Reverse();
        maps = [.. found];
        return source;
    }

    /// <summary>Applies <paramref name="maps"/> (innermost first) to rows read from under them, from row <paramref name="firstRow"/> on.</summary>
    internal static void Apply(RowMappingBatchSource[] maps, Span<float> rows, long firstRow)
    {
        foreach (var map in maps)
            map.Map(rows, firstRow);
    }

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
