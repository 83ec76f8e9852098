using System.IO.MemoryMappedFiles;
using System.Numerics.Tensors;

namespace FlashKMeans.Data;

/// <summary>
/// Rows of a file too large for memory, read through a memory map: raw little-endian float32 or float16
/// rows, or a <c>.npy</c> array. float32 batches point straight into the map; float16 batches are widened
/// into a reusable buffer. Dispose to release the map.
/// </summary>
public sealed unsafe class MemoryMappedBatchSource : IRowBlockSource, IDisposable
{
    /// <summary>Default rows per batch.</summary>
    public const int DefaultBatchRows = 65536;

    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _data;
    private readonly long _dataOffset;
    private bool _disposed;

    private MemoryMappedBatchSource(string path, long dataOffset, long rows, int dimension, RowElementType type, int batchRows)
    {
        if (batchRows < 1)
            throw new ArgumentOutOfRangeException(nameof(batchRows), batchRows, "Must be at least 1.");
        Path = path;
        Dimension = dimension;
        RowCount = rows;
        ElementType = type;
        BatchRows = (int)Math.Min(batchRows, Math.Max(1, int.MaxValue / dimension));
        _dataOffset = dataOffset;
        _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        try
        {
            _view = _file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            _data = pointer + _view.PointerOffset;
        }
        catch
        {
            _view?.Dispose();
            _file.Dispose();
            throw;
        }
    }

    /// <summary>Maps a headerless file of rows with <paramref name="dimension"/> features each.</summary>
    /// <exception cref="InvalidDataException">The file is empty or its size is not a whole number of rows.</exception>
    public static MemoryMappedBatchSource OpenRaw(string path, int dimension, RowElementType type = RowElementType.Float32, int batchRows = DefaultBatchRows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        long length = new FileInfo(path).Length;
        long rowBytes = (long)dimension * ElementSize(type);
        if (length == 0)
            throw new InvalidDataException($"{path}: the file is empty; it holds no rows.");
        if (length % rowBytes != 0)
            throw new InvalidDataException($"{path}: {length} bytes is not a whole number of {dimension}-feature {type} rows.");
        return new MemoryMappedBatchSource(path, 0, length / rowBytes, dimension, type, batchRows);
    }

    /// <summary>Maps a 2-D float32 or float16 <c>.npy</c> file.</summary>
    public static MemoryMappedBatchSource OpenNpy(string path, int batchRows = DefaultBatchRows)
    {
        NpyHeader header;
        long length;
        using (var stream = File.OpenRead(path))
        {
            header = NpyHeader.Read(stream, path);
            length = stream.Length;
        }
        long rowBytes = (long)header.Columns * ElementSize(header.ElementType);
        // A corrupted shape must not wrap the size around and map rows beyond the end of the file.
        if (header.Rows > (length - header.DataOffset) / rowBytes)
            throw new InvalidDataException($"{path}: truncated: the header promises {header.Rows} rows of {rowBytes} bytes after offset {header.DataOffset}, the file has {length} bytes.");
        long needed = header.DataOffset + header.Rows * rowBytes;
        if (length < needed)
            throw new InvalidDataException($"{path}: truncated: the header promises {needed} bytes, the file has {length}.");
        return new MemoryMappedBatchSource(path, header.DataOffset, header.Rows, header.Columns, header.ElementType, batchRows);
    }

    private static int ElementSize(RowElementType type) => type == RowElementType.Float32 ? 4 : 2;

    /// <summary>The mapped file.</summary>
    public string Path { get; }

    /// <summary>How features are stored.</summary>
    public RowElementType ElementType { get; }

    /// <summary>Rows per batch.</summary>
    public int BatchRows { get; }

    /// <inheritdoc />
    public int Dimension { get; }

    /// <inheritdoc />
    public long? RowCount { get; }

    /// <inheritdoc />
    public bool HasWeights => false;

    /// <inheritdoc />
    public IBatchReader OpenReader()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new Reader(this);
    }

    /// <inheritdoc />
    public ReadOnlySpan<byte> GetRowBytes(long firstRow, int rowCount)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (firstRow < 0 || rowCount < 0 || firstRow + rowCount > RowCount!.Value)
            throw new ArgumentOutOfRangeException(nameof(firstRow), $"Rows [{firstRow}, {firstRow + rowCount}) are outside [0, {RowCount}).");
        long bytes = (long)rowCount * Dimension * ElementSize(ElementType);
        if (bytes > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(rowCount), rowCount, "Ask for fewer than 2 GiB of rows at once.");
        return new ReadOnlySpan<byte>(_data + _dataOffset + firstRow * Dimension * ElementSize(ElementType), (int)bytes);
    }

    /// <inheritdoc />
    public ReadOnlySpan<float> GetWeights(long firstRow, int rowCount) => default;

    /// <summary>Releases the map.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }

    private sealed class Reader(MemoryMappedBatchSource owner) : IBatchReader
    {
        private BatchRange _range;
        private float[] _widened = [];
        private UnmanagedMemory<float>? _window;

        public bool TryRead(out DataBatch batch)
        {
            ObjectDisposedException.ThrowIf(owner._disposed, owner);
            if (!_range.TryNext(owner.RowCount!.Value, owner.BatchRows, out long first, out int count))
            {
                batch = default;
                return false;
            }
            int d = owner.Dimension;
            int values = count * d;
            byte* start = owner._data + owner._dataOffset + first * d * ElementSize(owner.ElementType);
            ReadOnlyMemory<float> rows;
            if (owner.ElementType == RowElementType.Float32)
            {
                _window = new UnmanagedMemory<float>((float*)start, values, owner, () => owner._disposed);
                rows = _window.Memory;
            }
            else
            {
                if (_widened.Length < values)
                    _widened = new float[values];
                TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(start, values), _widened.AsSpan(0, values));
                rows = _widened.AsMemory(0, values);
            }
            batch = new DataBatch(first, rows, d);
            return true;
        }

        public void Dispose() { }
    }
}
