namespace FlashKMeans.Threading;

/// <summary>
/// Large host-to-host copies on every core. One thread moves 5–10 GB/s; a copy into memory touched for the first
/// time (fresh native blocks, page-locked staging) also pays its page faults on that thread. Several threads fault
/// and copy their pieces at once, which is what keeps the copy off the critical path of an upload to the GPU or of
/// filling a row cache beside a cursor.
/// </summary>
internal static unsafe class HostCopy
{
    /// <summary>Copies of fewer elements than this stay on the calling thread.</summary>
    private const int PieceValues = 1 << 18; // 1 MiB of floats

    /// <summary>
    /// Zeroes <paramref name="destination"/> in 1 MiB pieces on the thread pool: a fresh buffer's pages are then
    /// faulted in on every core at once rather than one by one on the thread that first writes it.
    /// </summary>
    public static void ClearInParallel(Span<float> destination)
    {
        fixed (float* to = destination)
        {
            nint d = (nint)to;
            ForPieces(destination.Length, (start, n) => new Span<float>((float*)d + start, n).Clear());
        }
    }

    /// <summary>Copies <paramref name="source"/> to the start of <paramref name="destination"/> in 1 MiB pieces on the thread pool.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <paramref name="source"/>.</exception>
    public static void InParallel(ReadOnlySpan<float> source, Span<float> destination)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException($"The destination holds {destination.Length} values; the copy needs {source.Length}.", nameof(destination));
        fixed (float* from = source)
        fixed (float* to = destination)
        {
            nint s = (nint)from, d = (nint)to;
            ForPieces(source.Length, (start, n) => new ReadOnlySpan<float>((float*)s + start, n).CopyTo(new Span<float>((float*)d + start, n)));
        }
    }

    /// <summary>Runs <paramref name="piece"/>(start, count) over [0, <paramref name="length"/>) in 1 MiB pieces, on the calling thread when there is one.</summary>
    private static void ForPieces(int length, Action<int, int> piece)
    {
        int pieces = (length + PieceValues - 1) / PieceValues;
        if (pieces <= 1)
        {
            piece(0, length);
            return;
        }
        ParallelWork.For(0, pieces, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, p =>
        {
            int start = p * PieceValues;
            piece(start, Math.Min(PieceValues, length - start));
        });
    }
}
