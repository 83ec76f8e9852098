namespace FlashKMeans.Data;

/// <summary>
/// A data set that the engine can read from start to end as many times as it needs (one pass per
/// Lloyd iteration unless a backend caches it). Arrays, memory-mapped files and ML.NET cursors all
/// reach the engine through this interface.
/// </summary>
public interface IBatchSource
{
    /// <summary>Features per row, d.</summary>
    int Dimension { get; }

    /// <summary>Rows in one pass, when known before reading; <c>null</c> when only a pass can tell.</summary>
    long? RowCount { get; }

    /// <summary>Whether batches carry per-row weights; without them every row weighs 1.</summary>
    bool HasWeights { get; }

    /// <summary>Starts a new pass from the first row. Passes must yield the same rows in the same order.</summary>
    IBatchReader OpenReader();
}

/// <summary>One forward pass over an <see cref="IBatchSource"/>.</summary>
public interface IBatchReader : IDisposable
{
    /// <summary>
    /// Reads the next batch. Its memory belongs to the reader and stays valid only until the next call
    /// to <see cref="TryRead"/> or <see cref="IDisposable.Dispose"/>.
    /// </summary>
    /// <returns><c>false</c> at the end of the pass.</returns>
    bool TryRead(out DataBatch batch);
}
