namespace FlashKMeans.Data;

/// <summary>
/// A batch source whose rows already sit in addressable memory in their stored element type, so that any
/// run of rows can be read without a pass and without widening to float32. The GPU's streaming path
/// copies or converts straight from this memory into its pinned ring with several threads, and skips
/// cached rows for free; other sources are read pass by pass through <see cref="IBatchSource.OpenReader"/>.
/// </summary>
public interface IRowBlockSource : IBatchSource
{
    /// <summary>How features are stored.</summary>
    RowElementType ElementType { get; }

    /// <summary>
    /// The stored bytes of rows [<paramref name="firstRow"/>, <paramref name="firstRow"/> + <paramref name="rowCount"/>),
    /// row-major and unpadded. The span stays valid while the source is alive.
    /// </summary>
    ReadOnlySpan<byte> GetRowBytes(long firstRow, int rowCount);

    /// <summary>The weights of those rows, or an empty span when <see cref="IBatchSource.HasWeights"/> is false.</summary>
    ReadOnlySpan<float> GetWeights(long firstRow, int rowCount);
}
