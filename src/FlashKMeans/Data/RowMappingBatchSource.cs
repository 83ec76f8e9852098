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

    /// <summary>
    /// Copies rows read from under <paramref name="maps"/> (the first of them row <paramref name="firstRow"/> of the data) into
    /// <paramref name="destination"/> and maps them there.
    /// </summary>
    internal static void CopyMapped(RowMappingBatchSource[] maps, ReadOnlySpan<float> read, Span<float> destination, long firstRow)
    {
        read.CopyTo(destination);
        Apply(maps, destination, firstRow);
    }

    /// <summary>
    /// <see cref="CopyMapped(RowMappingBatchSource[], ReadOnlySpan{float}, Span{float}, long)"/> of rows of
    /// <paramref name="d"/> values in slices on up to <paramref name="threads"/> threads: each slice is copied and mapped
    /// while it is in cache (on one thread, mapping cost a pass as much as a CPU assignment step at d = 128).
    /// </summary>
    internal static void CopyMapped(RowMappingBatchSource[] maps, ReadOnlyMemory<float> read, Memory<float> destination, int d, long firstRow, int threads) =>
        Threading.RowSlices.For(read.Length / d, threads, Math.Max(64, (64 << 10) / d), (start, count) =>
            CopyMapped(maps, read.Span.Slice(start * d, count * d), destination.Span.Slice(start * d, count * d), firstRow + start));

    private sealed class Reader(RowMappingBatchSource owner, IBatchReader inner, int d) : IBatchReader
    {
        private readonly RowMappingBatchSource[] _owner = [owner];
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
            long first = _current.FirstRow + _offset;
            CopyMapped(_owner, _current.Rows.Slice(_offset * d, count * d), output, d, first, Environment.ProcessorCount);
            var weights = _current.Weights.IsEmpty ? default : _current.Weights.Slice(_offset, count);
            batch = new DataBatch(first, output, d, weights);
            _offset += count;
            return true;
        }

        public void Dispose() => inner.Dispose();
    }
}
