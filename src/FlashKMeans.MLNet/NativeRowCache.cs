using System.Buffers;
using System.Runtime.InteropServices;
using FlashKMeans.Data;

namespace FlashKMeans.MLNet;

/// <summary>
/// The usable rows of a training input in one native (unmanaged, hence never moved and never scanned by the GC)
/// block, filled by the first cursor pass and then served to the engine without copying: the host-side
/// equivalent of a device cache, for inputs that fit the trainer's cache budget.
/// </summary>
internal sealed unsafe class NativeRowCache : IDisposable
{
    private readonly int _dimension;
    private float* _rows;
    private float* _weights;
    private readonly long _capacity;
    private long _count = -1;

    public NativeRowCache(long capacity, int dimension, bool weights)
    {
        _capacity = capacity;
        _dimension = dimension;
        _rows = (float*)NativeMemory.Alloc((nuint)(capacity * dimension), sizeof(float));
        _weights = weights ? (float*)NativeMemory.Alloc((nuint)capacity, sizeof(float)) : null;
    }

    /// <summary>Whether a complete pass has been stored.</summary>
    public bool IsComplete => Volatile.Read(ref _count) >= 0;

    /// <summary>Stores a batch of usable rows starting at usable row <paramref name="firstRow"/>.</summary>
    public void Append(long firstRow, ReadOnlySpan<float> rows, ReadOnlySpan<float> weights)
    {
        int count = rows.Length / _dimension;
        if (_rows is null || firstRow + count > _capacity)
            return; // the input grew since its row count was read: the cache stays incomplete and unused
        rows.CopyTo(new Span<float>(_rows + firstRow * _dimension, rows.Length));
        if (_weights is not null)
            weights.CopyTo(new Span<float>(_weights + firstRow, count));
    }

    /// <summary>Marks the cache complete with <paramref name="count"/> usable rows.</summary>
    public void Complete(long count)
    {
        if (_rows is not null && count <= _capacity)
            Volatile.Write(ref _count, count);
    }

    public IBatchReader OpenReader(int batchRows)
    {
        ObjectDisposedException.ThrowIf(_rows is null, this);
        return new Reader(this, batchRows);
    }

    public void Dispose()
    {
        NativeMemory.Free(_rows);
        NativeMemory.Free(_weights);
        _rows = null;
        _weights = null;
        _count = -1;
    }

    private sealed class Reader(NativeRowCache cache, int batchRows) : IBatchReader
    {
        private long _next;

        public bool TryRead(out DataBatch batch)
        {
            batch = default;
            long total = cache._count;
            if (_next >= total)
                return false;
            int count = (int)Math.Min(batchRows, total - _next);
            int d = cache._dimension;
            var rows = new Block(cache._rows + _next * d, count * d).Memory;
            var weights = cache._weights is null ? default : new Block(cache._weights + _next, count).Memory;
            batch = new DataBatch(_next, rows, d, weights);
            _next += count;
            return true;
        }

        public void Dispose() { }
    }

    /// <summary>A view of native memory as <see cref="Memory{T}"/>; the cache owns the memory, so pinning is free.</summary>
    private sealed class Block(float* pointer, int length) : MemoryManager<float>
    {
        public override Span<float> GetSpan() => new(pointer, length);

        public override MemoryHandle Pin(int elementIndex = 0) => new(pointer + elementIndex);

        public override void Unpin() { }

        protected override void Dispose(bool disposing) { }
    }
}
