using System.Buffers;
using System.Runtime.InteropServices;
using FlashKMeans.Data;

namespace FlashKMeans.MLNet;

/// <summary>
/// The usable rows of a training input in native (unmanaged, hence never moved and never scanned by the GC)
/// blocks, one per batch, filled by the first complete cursor pass and then served to the engine without
/// copying: the host-side equivalent of a device cache, for inputs that fit the trainer's memory budget.
/// </summary>
/// <remarks>
/// The row count need not be known up front (text loaders do not know it): blocks are added as the first
/// pass reads, and the cache gives up — frees everything and lets every pass stream — as soon as the budget
/// would be exceeded. Only one reader fills it; if that reader stops before the end, the cache is emptied so a
/// later pass can try again.
/// </remarks>
internal sealed unsafe class NativeRowCache : IDisposable
{
    private readonly long _budgetBytes;
    private readonly int _dimension;
    private readonly bool _weighted;
    private readonly List<Block> _blocks = [];
    private long _bytes;
    private long _rows;
    private int _state; // 0 empty, 1 filling, 2 complete, 3 abandoned (over budget)

    public NativeRowCache(long budgetBytes, int dimension, bool weighted)
    {
        _budgetBytes = budgetBytes;
        _dimension = dimension;
        _weighted = weighted;
    }

    /// <summary>Whether a complete pass is stored.</summary>
    public bool IsComplete => Volatile.Read(ref _state) == 2;

    /// <summary>Claims the right to fill the cache; false when it is full, being filled, or over budget.</summary>
    public bool TryBeginFill() => Interlocked.CompareExchange(ref _state, 1, 0) == 0;

    /// <summary>Stores the next batch of usable rows of the filling pass.</summary>
    public void Append(ReadOnlySpan<float> rows, ReadOnlySpan<float> weights)
    {
        if (Volatile.Read(ref _state) != 1 || rows.IsEmpty)
            return;
        int count = rows.Length / _dimension;
        long bytes = ((long)rows.Length + (_weighted ? count : 0)) * sizeof(float);
        if (_bytes + bytes > _budgetBytes)
        {
            // Over budget: this input streams on every pass.
            Free();
            Volatile.Write(ref _state, 3);
            return;
        }
        var block = new Block(rows.Length, _weighted ? count : 0);
        // The block's pages are touched for the first time here, and the page faults cost more than the copy: on the
        // H100 host of bench/results/h100.md, filling 512 MB of blocks from the cursor's worker thread made the first
        // pass 0.4–0.7 s slower than a pass without the cache. Every core faults its piece in at once.
        FlashKMeans.Threading.HostCopy.InParallel(rows, block.RowSpan);
        if (_weighted)
            weights.CopyTo(block.WeightSpan);
        _blocks.Add(block);
        _bytes += bytes;
        _rows += count;
    }

    /// <summary>Ends the filling pass: complete when it read to the end, emptied (for a later retry) when it stopped early.</summary>
    public void EndFill(bool reachedEnd)
    {
        if (Volatile.Read(ref _state) != 1)
            return;
        if (reachedEnd)
        {
            Volatile.Write(ref _state, 2);
            return;
        }
        Free();
        Volatile.Write(ref _state, 0);
    }

    public IBatchReader OpenReader()
    {
        if (!IsComplete)
            throw new InvalidOperationException("The row cache is not complete.");
        return new Reader(this);
    }

    public void Dispose()
    {
        Free();
        Volatile.Write(ref _state, 3);
    }

    private void Free()
    {
        foreach (var block in _blocks)
            block.Free();
        _blocks.Clear();
        _bytes = 0;
        _rows = 0;
    }

    private sealed class Reader(NativeRowCache cache) : IBatchReader
    {
        private int _next;
        private long _firstRow;

        public bool TryRead(out DataBatch batch)
        {
            batch = default;
            if (_next >= cache._blocks.Count)
                return false;
            var block = cache._blocks[_next++];
            batch = new DataBatch(_firstRow, block.Rows, cache._dimension, block.Weights);
            _firstRow += block.RowCount(cache._dimension);
            return true;
        }

        public void Dispose() { }
    }

    /// <summary>One batch in native memory, exposed as <see cref="Memory{T}"/> without copying.</summary>
    private sealed class Block
    {
        private float* _rows;
        private float* _weights;
        private readonly int _rowValues;
        private readonly int _weightValues;

        public Block(int rowValues, int weightValues)
        {
            _rowValues = rowValues;
            _weightValues = weightValues;
            _rows = (float*)NativeMemory.Alloc((nuint)rowValues, sizeof(float));
            _weights = weightValues > 0 ? (float*)NativeMemory.Alloc((nuint)weightValues, sizeof(float)) : null;
            Rows = new NativeMemoryView(_rows, rowValues).Memory;
            Weights = weightValues > 0 ? new NativeMemoryView(_weights, weightValues).Memory : default;
        }

        public ReadOnlyMemory<float> Rows { get; }

        public ReadOnlyMemory<float> Weights { get; }

        public Span<float> RowSpan => new(_rows, _rowValues);

        public Span<float> WeightSpan => new(_weights, _weightValues);

        public int RowCount(int dimension) => _rowValues / dimension;

        public void Free()
        {
            NativeMemory.Free(_rows);
            NativeMemory.Free(_weights);
            _rows = null;
            _weights = null;
        }
    }

    /// <summary>A view of native memory as <see cref="Memory{T}"/>; the cache owns the memory, so pinning is free.</summary>
    private sealed class NativeMemoryView(float* pointer, int length) : MemoryManager<float>
    {
        public override Span<float> GetSpan() => new(pointer, length);

        public override MemoryHandle Pin(int elementIndex = 0) => new(pointer + elementIndex);

        public override void Unpin() { }

        protected override void Dispose(bool disposing) { }
    }
}
