namespace FlashKMeans.Threading;

/// <summary>
/// Parallel loops over fixed-size chunks of rows. Chunk boundaries depend only on the row count, never on
/// the thread count, and per-chunk partial results are combined in chunk order, so results are
/// bit-identical for any number of threads.
/// </summary>
internal sealed class ChunkedParallel(int threads)
{
    /// <summary>Rows per chunk: large enough to amortise scheduling, small enough to balance 2–64 threads.</summary>
    public const int ChunkRows = 2048;

    public int Threads { get; } = threads;

    public static int ChunkCount(long rows) => (int)((rows + ChunkRows - 1) / ChunkRows);

    /// <summary>Runs <paramref name="body"/>(chunk, firstRow, rowCount) for every chunk of [0, rows).</summary>
    public void For(long rows, Action<int, long, int> body, CancellationToken cancellationToken) =>
        ForSlice(0, rows, body, cancellationToken);

    /// <summary>
    /// Runs <paramref name="body"/>(chunk, firstRow, rowCount) for the part of each chunk of the whole data,
    /// [chunk · <see cref="ChunkRows"/>, (chunk + 1) · <see cref="ChunkRows"/>), that lies in
    /// [<paramref name="firstRow"/>, <paramref name="firstRow"/> + <paramref name="rows"/>). Chunk numbers and
    /// boundaries are those of the whole data whatever slice a batch holds, so partial results kept per chunk
    /// come out the same however the data is split into batches; a chunk cut by a batch boundary is visited in
    /// two parts, in row order.
    /// </summary>
    public void ForSlice(long firstRow, long rows, Action<int, long, int> body, CancellationToken cancellationToken)
    {
        if (rows <= 0)
            return;
        long end = firstRow + rows;
        int firstChunk = (int)(firstRow / ChunkRows);
        int chunks = (int)((end - 1) / ChunkRows) - firstChunk + 1;
        void Run(int index)
        {
            int chunk = firstChunk + index;
            long start = Math.Max(firstRow, (long)chunk * ChunkRows);
            body(chunk, start, (int)(Math.Min(end, (long)(chunk + 1) * ChunkRows) - start));
        }
        if (Threads == 1 || chunks == 1)
        {
            for (int index = 0; index < chunks; index++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Run(index);
            }
            return;
        }
        var options = new ParallelOptions { MaxDegreeOfParallelism = Threads, CancellationToken = cancellationToken };
        ParallelWork.For(0, chunks, options, Run);
    }

    /// <summary>Σ over chunks of <paramref name="chunkSum"/>, added in chunk order.</summary>
    public double Sum(long rows, Func<long, int, double> chunkSum, CancellationToken cancellationToken)
    {
        var partial = new double[ChunkCount(rows)];
        For(rows, (chunk, first, count) => partial[chunk] = chunkSum(first, count), cancellationToken);
        double total = 0;
        foreach (double value in partial)
            total += value;
        return total;
    }

    /// <summary>Runs <paramref name="body"/>(first, end) over <paramref name="parts"/> contiguous ranges of [0, count).</summary>
    public void ForRanges(int count, int parts, Action<int, int> body, CancellationToken cancellationToken)
    {
        parts = Math.Max(1, Math.Min(parts, count));
        if (parts == 1)
        {
            body(0, count);
            return;
        }
        var options = new ParallelOptions { MaxDegreeOfParallelism = Threads, CancellationToken = cancellationToken };
        ParallelWork.For(0, parts, options, part => body((int)((long)count * part / parts), (int)((long)count * (part + 1) / parts)));
    }
}
