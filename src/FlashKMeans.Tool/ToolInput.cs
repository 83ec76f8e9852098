using FlashKMeans.Data;

namespace FlashKMeans.Tool;

/// <summary>
/// The rows a command works on, as the engine reads them: .npy and raw files memory-mapped (the data is never copied
/// into the process, whatever its size), CSV, Parquet and generated blobs in one array.
/// </summary>
internal sealed class ToolInput : IDisposable
{
    private readonly float[]? _array;
    private readonly IDisposable? _mapping;

    private ToolInput(IBatchSource source, long rows, float[]? array, IDisposable? mapping)
    {
        Source = source;
        Rows = rows;
        _array = array;
        _mapping = mapping;
    }

    /// <summary>Rows held in one array.</summary>
    public static ToolInput InMemory(float[] data, int dimension) => new(new InMemoryBatchSource(data, dimension), data.Length / dimension, data, null);

    /// <summary>A mapped file; this input disposes it.</summary>
    public static ToolInput Mapped(MemoryMappedBatchSource source) =>
        new(source, source.RowCount ?? throw new InvalidDataException($"{source.Path}: the row count is unknown."), null, source);

    public IBatchSource Source { get; }

    public long Rows { get; }

    public int Dimension => Source.Dimension;

    /// <summary>Every value, row-major (small inputs: centroid files).</summary>
    public float[] ToArray()
    {
        if (_array is not null)
            return _array;
        var values = new float[checked(Rows * Dimension)];
        ForEachBatch(batch => batch.Rows.Span.CopyTo(values.AsSpan((int)(batch.FirstRow * Dimension))));
        return values;
    }

    /// <summary>
    /// Up to <paramref name="count"/> rows drawn with a fixed seed (all rows when there are fewer), their indices
    /// ascending, and the rows themselves.
    /// </summary>
    public (int[] Indices, float[] Values) Sample(int count, int seed)
    {
        int n = checked((int)Rows), d = Dimension;
        var random = new Random(seed);
        var indices = n <= count ? Enumerable.Range(0, n).ToArray() : Enumerable.Range(0, count).Select(_ => random.Next(n)).Distinct().Order().ToArray();
        var values = new float[indices.Length * d];
        int next = 0;
        ForEachBatch(batch =>
        {
            var rows = batch.Rows.Span;
            while (next < indices.Length && indices[next] < batch.FirstRow + batch.RowCount)
            {
                rows.Slice((int)(indices[next] - batch.FirstRow) * d, d).CopyTo(values.AsSpan(next * d, d));
                next++;
            }
        });
        return (indices, values);
    }

    private void ForEachBatch(Action<DataBatch> action)
    {
        using var reader = Source.OpenReader();
        while (reader.TryRead(out var batch))
            action(batch);
    }

    public void Dispose() => _mapping?.Dispose();
}
