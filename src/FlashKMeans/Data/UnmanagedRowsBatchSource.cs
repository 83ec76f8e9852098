using System.Numerics.Tensors;

namespace FlashKMeans.Data;

/// <summary>
/// Rows in native memory the caller owns (for example a page-locked buffer or a buffer larger than a
/// .NET array can address), stored as float32 or float16. Batches are served as float32 (float16 is
/// widened into a reusable buffer); <see cref="IRowBlockSource"/> exposes the stored bytes.
/// The memory must stay valid and unchanged while the source is in use.
/// </summary>
public sealed unsafe class UnmanagedRowsBatchSource : IRowBlockSource
{
    /// <summary>Default rows per batch.</summary>
    public const int DefaultBatchRows = 65536;

    private readonly byte* _data;

    /// <summary>Wraps <paramref name="rowCount"/> × <paramref name="dimension"/> values at <paramref name="pointer"/>.</summary>
    /// <param name="pointer">The first value of the first row.</param>
    /// <param name="rowCount">N.</param>
    /// <param name="dimension">d.</param>
    /// <param name="elementType">How each value is stored.</param>
    /// <param name="batchRows">Rows per batch served by <see cref="OpenReader"/>.</param>
    public UnmanagedRowsBatchSource(nint pointer, long rowCount, int dimension, RowElementType elementType = RowElementType.Float32, int batchRows = DefaultBatchRows)
    {
        if (pointer == 0)
            throw new ArgumentNullException(nameof(pointer));
        ArgumentOutOfRangeException.ThrowIfNegative(rowCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchRows, 1);
        if (!Enum.IsDefined(elementType))
            throw new ArgumentOutOfRangeException(nameof(elementType), elementType, "Unknown element type.");
        _data = (byte*)pointer;
        RowCount = rowCount;
        Dimension = dimension;
        ElementType = elementType;
        BatchRows = (int)Math.Min(batchRows, Math.Max(1, int.MaxValue / dimension));
    }

    /// <inheritdoc />
    public int Dimension { get; }

    /// <inheritdoc />
    public long? RowCount { get; }

    /// <inheritdoc />
    public bool HasWeights => false;

    /// <inheritdoc />
    public RowElementType ElementType { get; }

    /// <summary>Rows per batch.</summary>
    public int BatchRows { get; }

    /// <summary>
    /// Whether the memory is page-locked for the CUDA driver (allocated with <c>cuMemHostAlloc</c> or
    /// registered with <c>cuMemHostRegister</c> by the caller). The GPU backend then copies rows that need no
    /// conversion straight from it, without the pinned ring's extra host copy.
    /// </summary>
    public bool IsPageLocked { get; init; }

    private int ElementBytes => ElementType == RowElementType.Float32 ? 4 : 2;

    /// <inheritdoc />
    public ReadOnlySpan<byte> GetRowBytes(long firstRow, int rowCount)
    {
        if (firstRow < 0 || rowCount < 0 || firstRow + rowCount > RowCount!.Value)
            throw new ArgumentOutOfRangeException(nameof(firstRow), $"Rows [{firstRow}, {firstRow + rowCount}) are outside [0, {RowCount}).");
        long bytes = (long)rowCount * Dimension * ElementBytes;
        if (bytes > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(rowCount), rowCount, "Ask for fewer than 2 GiB of rows at once.");
        return new ReadOnlySpan<byte>(_data + firstRow * Dimension * ElementBytes, (int)bytes);
    }

    /// <inheritdoc />
    public ReadOnlySpan<float> GetWeights(long firstRow, int rowCount) => default;

    /// <inheritdoc />
    public IBatchReader OpenReader() => new Reader(this);

    private sealed class Reader(UnmanagedRowsBatchSource owner) : IBatchReader
    {
        private BatchRange _range;
        private float[] _widened = [];
        private UnmanagedMemory<float>? _window;

        public bool TryRead(out DataBatch batch)
        {
            if (!_range.TryNext(owner.RowCount!.Value, owner.BatchRows, out long first, out int count))
            {
                batch = default;
                return false;
            }
            int d = owner.Dimension;
            var bytes = owner.GetRowBytes(first, count);
            ReadOnlyMemory<float> rows;
            fixed (byte* start = bytes)
            {
                if (owner.ElementType == RowElementType.Float32)
                {
                    // The native memory does not move: a window over it needs no copy.
                    _window = new UnmanagedMemory<float>((float*)start, count * d);
                    rows = _window.Memory;
                }
                else
                {
                    if (_widened.Length < count * d)
                        _widened = new float[count * d];
                    TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(start, count * d), _widened.AsSpan(0, count * d));
                    rows = _widened.AsMemory(0, count * d);
                }
            }
            batch = new DataBatch(first, rows, d);
            return true;
        }

        public void Dispose() { }
    }
}
