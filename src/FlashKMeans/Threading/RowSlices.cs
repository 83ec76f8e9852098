namespace FlashKMeans.Threading;

/// <summary>
/// Parallel loops over slices of rows whose results depend on each row alone (scoring), so the slices may follow the
/// thread count: about four per thread, each of at least a given number of rows. Loops whose partial results are
/// combined use <see cref="ChunkedParallel"/>, whose chunks do not depend on the thread count.
/// </summary>
internal static class RowSlices
{
    /// <summary>Runs <paramref name="body"/>(first, count) over [0, <paramref name="rows"/>).</summary>
    public static void For(int rows, int threads, int minimumRows, Action<int, int> body)
    {
        if (rows <= 0)
            return;
        int slices = (int)Math.Clamp((rows + minimumRows - 1) / minimumRows, 1, 4L * threads);
        if (slices == 1 || threads == 1)
        {
            body(0, rows);
            return;
        }
        int size = (rows + slices - 1) / slices;
        ParallelWork.For(0, (rows + size - 1) / size, new ParallelOptions { MaxDegreeOfParallelism = threads },
            slice => body(slice * size, Math.Min(size, rows - slice * size)));
    }
}
