namespace FlashKMeans.Cuda.Streaming;

/// <summary>The GPU data placement chosen for one fit, with the sizes behind it.</summary>
/// <param name="Mode">InMemory, Cached or Streaming (never Auto).</param>
/// <param name="BatchRows">Rows per streamed batch.</param>
/// <param name="RingDepth">Pinned host buffers.</param>
/// <param name="BatchCount">Batches per pass.</param>
/// <param name="CachedBatches">Leading batches kept on the GPU after the first pass.</param>
/// <param name="Reason">Why, with the sizes, for the log.</param>
/// <param name="HostLabels">Whether labels, previous labels and distances of all rows live on the host (never for InMemory).</param>
internal readonly record struct StreamingPlan(GpuDataMode Mode, int BatchRows, int RingDepth, long BatchCount, long CachedBatches, string Reason,
    bool HostLabels = false);

/// <summary>
/// Chooses between keeping all rows on the GPU, caching what fits and streaming the rest, or streaming
/// everything, from the data size and the free GPU memory. Pure arithmetic, so it is tested without a GPU.
/// </summary>
internal static class StreamingPlanner
{
    /// <summary>Default size of one batch of stored rows: large enough to amortise launches and events, small enough for a deep ring.</summary>
    internal const long DefaultBatchBytes = 64L << 20;

    /// <summary>Memory left alone for the driver, the kernels' scratch and seeding temporaries.</summary>
    internal const long ReserveBytes = 1L << 30;

    /// <summary>
    /// Per-row device state of a resident fit besides the rows: norms, labels, previous labels, distances, sort indices, seed
    /// distances, weights, and the incremental update's two sorted entries per moved row.
    /// </summary>
    internal const int ResidentStateBytesPerRow = 28 + 8;

    /// <summary>Per-row device state of a streamed fit: norms, labels, previous labels, distances, seed distances, weights, evaluation's labels and distances, and sort indices of merged cached spans.</summary>
    internal const int StreamedStateBytesPerRow = 36;

    /// <summary>
    /// The part of <see cref="StreamedStateBytesPerRow"/> that host label placement moves off the device:
    /// labels, previous labels and distances, and the evaluation's labels and distances.
    /// </summary>
    internal const int LabelStateBytesPerRow = 20;

    /// <summary>Device bytes per row of one label slot under host placement: a batch's labels and distances before they are copied back.</summary>
    internal const int LabelSlotBytesPerRow = 8;

    /// <summary>The plan for <paramref name="rows"/> rows of <paramref name="dimension"/> features on this session's device,
    /// as <paramref name="options"/> ask, from the device memory free now.</summary>
    public static StreamingPlan Plan(CudaSession session, KMeansOptions options, int dimension, long rows)
    {
        var p = session.Precision;
        long stored = (long)p.Pitch(dimension) * p.ElementBytes;
        long transfer = p.Mode == ComputePrecision.TensorFloat32 ? 4L * dimension : stored;
        var (free, _) = session.Context.MemoryInfo();
        return StreamingPlanner.Plan(rows, stored, transfer, free, options.DataMode, options.StreamingBatchRows,
            options.StreamingRingDepth, options.DeviceMemoryBudget, options.LabelPlacement);
    }

    /// <param name="rows">N.</param>
    /// <param name="storedRowBytes">Bytes of one row as the GPU stores it (pitch × element size).</param>
    /// <param name="transferRowBytes">Bytes of one row on the link.</param>
    /// <param name="freeDeviceBytes">Free GPU memory now.</param>
    /// <param name="requested">The option.</param>
    /// <param name="batchRows">The option, or null for the default.</param>
    /// <param name="ringDepth">The option.</param>
    /// <param name="budget">The option: bytes of cached batches, or null for what is free.</param>
    /// <param name="labels">The option: where streamed fits keep the labels of all rows.</param>
    public static StreamingPlan Plan(long rows, long storedRowBytes, long transferRowBytes, long freeDeviceBytes,
        GpuDataMode requested, int? batchRows, int ringDepth, long? budget, LabelPlacement labels = LabelPlacement.Auto)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(storedRowBytes, 1);
        if (ringDepth < 3)
            throw new ArgumentOutOfRangeException(nameof(ringDepth), ringDepth, "The ring needs at least 3 buffers.");
        int batch = batchRows ?? (int)Math.Clamp(DefaultBatchBytes / storedRowBytes / 128 * 128, 128, int.MaxValue);
        batch = (int)Math.Min(batch, rows);
        long maxRows = Math.Min(int.MaxValue / Math.Max(storedRowBytes, transferRowBytes), int.MaxValue);
        if (batch > maxRows)
            batch = (int)Math.Max(1, maxRows);
        long batches = (rows + batch - 1) / batch;
        long usable = (long)(freeDeviceBytes * 0.9) - ReserveBytes;
        long residentBytes = rows * (storedRowBytes + ResidentStateBytesPerRow);
        bool residentFits = rows <= int.MaxValue && residentBytes <= usable;
        string sizes = $"{rows} rows × {storedRowBytes} B stored = {Gib(rows * storedRowBytes)}, {Gib(Math.Max(0, freeDeviceBytes))} free on the GPU";
        var mode = requested;
        string why;
        if (requested == GpuDataMode.Auto && labels == LabelPlacement.Host)
        {
            // Resident data keeps its labels on the device; host labels need the streamed binding (which
            // still caches as much as fits, so small data runs at the resident speed after the first pass).
            mode = GpuDataMode.Cached;
            why = "labels on the host were asked for";
        }
        else if (requested == GpuDataMode.Auto)
        {
            mode = residentFits ? GpuDataMode.InMemory : GpuDataMode.Cached;
            why = residentFits ? "the data fits in GPU memory" : "the data does not fit in GPU memory";
        }
        else
        {
            why = $"{requested} was asked for";
        }
        if (mode == GpuDataMode.InMemory)
            return new StreamingPlan(mode, batch, ringDepth, batches, batches,
                $"in-memory: {why} ({sizes}); labels on the GPU{(labels == LabelPlacement.Host ? ", where resident data keeps them whatever the label placement" : "")}");

        long batchBytes = batch * storedRowBytes;
        long scratch = ringDepth * batch * Math.Max(storedRowBytes, transferRowBytes) + batch * (storedRowBytes + 4L);
        long deviceLabelBytes = rows * LabelStateBytesPerRow;
        long hostLabelBytes = (long)ringDepth * batch * LabelSlotBytesPerRow;
        long otherState = rows * (StreamedStateBytesPerRow - LabelStateBytesPerRow) + scratch;
        // Auto: on the device when the labels fit next to the other per-row state and the scratch (the
        // labels then take room from the cache, never the other way round), and rows are 32-bit indexable.
        bool hostLabels = labels switch
        {
            LabelPlacement.Host => true,
            LabelPlacement.Device => false,
            _ => rows > int.MaxValue || otherState + deviceLabelBytes > usable,
        };
        string labelWhy = labels == LabelPlacement.Auto
            ? (hostLabels ? $"labels on the host ({Gib(deviceLabelBytes)} would not fit on the GPU)" : $"labels on the GPU ({Gib(deviceLabelBytes)})")
            : $"labels on the {(hostLabels ? "host" : "GPU")}, as asked";
        long cacheRoom = usable - otherState - (hostLabels ? hostLabelBytes : deviceLabelBytes);
        if (budget is long b)
            cacheRoom = Math.Min(cacheRoom, b);
        long cached = mode == GpuDataMode.Streaming ? 0 : Math.Clamp(cacheRoom / batchBytes, 0, batches);
        string kind = mode == GpuDataMode.Streaming ? "streaming" : "cached";
        return new StreamingPlan(mode, batch, ringDepth, batches, cached,
            $"{kind}: {why} ({sizes}); {batches} batches of {batch} rows, {cached} kept on the GPU ({Gib(cached * batchBytes)}), ring of {ringDepth} pinned buffers; {labelWhy}",
            hostLabels);
    }

    private static string Gib(long bytes) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F2} GiB");
}
