namespace FlashKMeans.Data;

/// <summary>One pass over a source cut into batches of a fixed row count, whatever the batches the source yields.</summary>
internal static class BatchRechunker
{
    /// <summary>
    /// <paramref name="rows"/>-row batches (the last may be shorter) with their weights (empty when the source has none), in
    /// order. A yielded batch is valid only until the next is asked for: it is the source's own memory where a whole batch
    /// lies in one of the source's batches, and otherwise one buffer, refilled each time (a step of 65,536 × 128 rows
    /// spent more time faulting in a fresh 32 MiB array than the GPU spent assigning it).
    /// </summary>
    public static IEnumerable<(ReadOnlyMemory<float> Rows, ReadOnlyMemory<float> Weights)> Read(IBatchSource source, int rows,
        CancellationToken cancellationToken)
    {
        int d = source.Dimension;
        bool weighted = source.HasWeights;
        var pending = new float[(long)rows * d];
        var pendingWeights = weighted ? new float[rows] : [];
        int filled = 0;
        using var reader = source.OpenReader();
        while (reader.TryRead(out var batch))
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = batch.RowCount, at = 0;
            while (at < count)
            {
                if (filled == 0 && count - at >= rows)
                {
                    yield return (batch.Rows.Slice(at * d, rows * d), weighted ? batch.Weights.Slice(at, rows) : default);
                    at += rows;
                    continue;
                }
                int take = Math.Min(rows - filled, count - at);
                batch.Rows.Span.Slice(at * d, take * d).CopyTo(pending.AsSpan(filled * d));
                if (weighted)
                    batch.Weights.Span.Slice(at, take).CopyTo(pendingWeights.AsSpan(filled));
                filled += take;
                at += take;
                if (filled == rows)
                {
                    yield return (pending, pendingWeights);
                    filled = 0;
                }
            }
        }
        if (filled > 0)
            yield return (pending.AsMemory(0, filled * d), weighted ? pendingWeights.AsMemory(0, filled) : default);
    }
}
