using System.Buffers;

namespace FlashKMeans.Data;

/// <summary>
/// Exposes pinned or native memory as <see cref="Memory{T}"/> so that a span pinned for the length of a
/// synchronous call can feed the batch-source abstraction without a copy.
/// </summary>
internal sealed unsafe class UnmanagedMemory<T> : MemoryManager<T> where T : unmanaged
{
    private readonly T* _pointer;
    private readonly int _length;
    private readonly Func<bool>? _released;
    private readonly object? _owner;

    /// <param name="pointer">The memory.</param>
    /// <param name="length">Elements.</param>
    /// <param name="owner">What owns the memory, named by the exception once it is released.</param>
    /// <param name="released">True once the owner has released the memory: from then on the memory cannot be
    /// reached, and an attempt throws <see cref="ObjectDisposedException"/> instead of reading freed memory.</param>
    public UnmanagedMemory(T* pointer, int length, object? owner = null, Func<bool>? released = null)
    {
        _pointer = pointer;
        _length = length;
        _owner = owner;
        _released = released;
    }

    public override Span<T> GetSpan()
    {
        ThrowIfReleased();
        return new(_pointer, _length);
    }

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ThrowIfReleased();
        return new(_pointer + elementIndex);
    }

    private void ThrowIfReleased()
    {
        if (_released?.Invoke() == true)
            throw new ObjectDisposedException(_owner?.GetType().FullName, "The memory of this batch was released with its source.");
    }

    public override void Unpin() { }

    protected override void Dispose(bool disposing) { }
}
