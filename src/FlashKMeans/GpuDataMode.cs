namespace FlashKMeans;

/// <summary>How the CUDA backend holds the training data during a fit.</summary>
public enum GpuDataMode
{
    /// <summary>
    /// Pick from sizes: <see cref="InMemory"/> when the data and per-row state fit in free GPU memory,
    /// otherwise <see cref="Cached"/>. The choice and the sizes behind it are logged.
    /// </summary>
    Auto,

    /// <summary>Upload all rows once at the start of the fit; every pass reads GPU memory.</summary>
    InMemory,

    /// <summary>
    /// Stream batches through a ring of pinned host buffers, keeping as many batches on the GPU after the
    /// first pass as <see cref="KMeansOptions.DeviceMemoryBudget"/> allows; only the rest is streamed again.
    /// </summary>
    Cached,

    /// <summary>Stream every batch on every pass; nothing is kept on the GPU between passes.</summary>
    Streaming,
}
