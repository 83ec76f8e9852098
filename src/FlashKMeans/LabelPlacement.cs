namespace FlashKMeans;

/// <summary>
/// Where a streamed GPU fit keeps its per-row state: the label of every row, the previous labels that the
/// label-change count compares against, and each row's distance to its centroid (12 bytes a row).
/// Results are bit-identical either way (with <see cref="KMeansOptions.DeterministicUpdate"/>); only
/// memory and link traffic differ. Data held resident in GPU memory (<see cref="GpuDataMode.InMemory"/>)
/// always keeps its labels on the device.
/// </summary>
public enum LabelPlacement
{
    /// <summary>
    /// The device when the labels fit in free GPU memory next to the fit's other per-row state and scratch
    /// (they then take room from the cache, never the other way round; <see cref="KMeansOptions.DeviceMemoryBudget"/>
    /// caps the cache alone) and N is below 2³¹; otherwise the host. The choice is logged with the data placement.
    /// </summary>
    Auto,

    /// <summary>
    /// Labels, previous labels and distances stay in GPU memory for all N rows; every reduction over rows runs
    /// there. Fastest, but costs 12 bytes a row of GPU memory (room the cache could use), and indexes rows
    /// with 32-bit integers.
    /// </summary>
    Device,

    /// <summary>
    /// Each batch's labels and distances are copied to pinned host memory right after the batch is assigned
    /// (on their own stream, overlapped with the next batches), and the host keeps all N of them, counts
    /// label changes and sums the inertia in the GPU's reduction order. Leaves the GPU memory to cached rows.
    /// </summary>
    Host,
}
