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

    public UnmanagedMemory(T* pointer, int length)
    {
        _pointer = pointer;
        _length = length;
    }

    public override Span<T> GetSpan() => new(_pointer, _length);

    public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

    public override void Unpin() { }

    protected override void Dispose(bool disposing) { }
}
