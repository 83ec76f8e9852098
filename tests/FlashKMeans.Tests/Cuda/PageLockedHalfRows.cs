using System.Runtime.InteropServices;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Cuda.Streaming;
using FlashKMeans.Data;

namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// fp16 rows in page-locked host memory (page-aligned native memory registered with the driver), for the paths that copy
/// straight from a page-locked source. Frees the registration, the context and the memory when disposed.
/// </summary>
internal sealed unsafe class PageLockedHalfRows : IDisposable
{
    private readonly Half* _memory;
    private readonly HostRegistration _registration;

    public PageLockedHalfRows(Half[] values)
    {
        long bytes = (long)values.Length * 2;
        _memory = (Half*)NativeMemory.AlignedAlloc((nuint)bytes, 4096);
        values.CopyTo(new Span<Half>(_memory, values.Length));
        try
        {
            Context = CudaContext.Open(0);
            _registration = new HostRegistration(Context, (nint)_memory, bytes);
        }
        catch
        {
            Context?.Dispose();
            NativeMemory.AlignedFree(_memory);
            throw;
        }
        Length = values.Length;
    }

    /// <summary>The context the memory is registered with.</summary>
    public CudaContext Context { get; }

    /// <summary>Values held.</summary>
    public int Length { get; }

    /// <summary>The rows as a source of <paramref name="d"/> features: page-locked (copied straight from) unless <paramref name="pageLocked"/> is false.</summary>
    public UnmanagedRowsBatchSource Source(int d, int batchRows, bool pageLocked = true) =>
        new((nint)_memory, Length / d, d, RowElementType.Float16, batchRows) { IsPageLocked = pageLocked };

    public void Dispose()
    {
        _registration.Dispose();
        Context.Dispose();
        NativeMemory.AlignedFree(_memory);
    }
}
