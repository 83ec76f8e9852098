using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda.Streaming;

/// <summary>One host buffer of the ring.</summary>
internal interface IHostSlot : IDisposable
{
    /// <summary>Start of the buffer.</summary>
    nint Pointer { get; }

    /// <summary>Size in bytes.</summary>
    long Bytes { get; }
}

/// <summary>Allocates ring buffers; page-locked on the GPU, plain memory in tests.</summary>
internal interface IHostSlotAllocator
{
    IHostSlot Allocate(long bytes);
}

/// <summary>Page-locked slots from the driver (cuMemHostAlloc), so host→device copies run asynchronously at link speed.</summary>
internal sealed unsafe class PinnedSlotAllocator(CudaContext context) : IHostSlotAllocator
{
    public IHostSlot Allocate(long bytes)
    {
        if (bytes > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "A ring buffer holds at most 2 GiB; use fewer rows per batch.");
        return new Slot(new PinnedBuffer<byte>(context, (int)bytes));
    }

    private sealed class Slot(PinnedBuffer<byte> buffer) : IHostSlot
    {
        public nint Pointer => (nint)buffer.Pointer;

        public long Bytes => buffer.Length;

        public void Dispose() => buffer.Dispose();
    }
}

/// <summary>
/// A fixed ring of at least three equal host buffers: batch i of a pass uses buffer i mod depth, so that
/// while the GPU copies one buffer the host fills the next and a third is free. The ring owns its
/// buffers: if one allocation fails, the ones before it are freed before the error propagates.
/// The GPU-side ordering (events) belongs to the caller; this class is pure bookkeeping.
/// </summary>
internal sealed class PinnedRing : IDisposable
{
    private readonly IHostSlot[] _slots;

    public PinnedRing(IHostSlotAllocator allocator, int depth, long slotBytes)
    {
        ArgumentNullException.ThrowIfNull(allocator);
        if (depth < 3)
            throw new ArgumentOutOfRangeException(nameof(depth), depth, "The ring needs at least 3 buffers.");
        ArgumentOutOfRangeException.ThrowIfLessThan(slotBytes, 1);
        _slots = new IHostSlot[depth];
        try
        {
            for (int i = 0; i < depth; i++)
                _slots[i] = allocator.Allocate(slotBytes);
        }
        catch
        {
            Dispose();
            throw;
        }
        SlotBytes = slotBytes;
    }

    public int Depth => _slots.Length;

    public long SlotBytes { get; }

    /// <summary>The slot that batch <paramref name="sequence"/> of a pass uses.</summary>
    public int SlotOf(long sequence) => (int)(sequence % _slots.Length);

    public IHostSlot this[int slot] => _slots[slot];

    public void Dispose()
    {
        List<Exception>? errors = null;
        for (int i = _slots.Length - 1; i >= 0; i--)
        {
            try
            {
                _slots[i]?.Dispose();
            }
            catch (Exception e)
            {
                (errors ??= []).Add(e);
            }
            _slots[i] = null!;
        }
        if (errors is not null)
            throw new AggregateException("Freeing the pinned ring failed.", errors);
    }
}
