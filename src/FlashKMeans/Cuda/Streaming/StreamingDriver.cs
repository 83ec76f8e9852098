using System.Runtime.InteropServices;
using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda.Streaming;

/// <summary>
/// The driver entry points that only streaming needs: cross-stream ordering and registration of memory
/// the caller owns. Kept apart from <see cref="CudaApi"/> so that the two files can change independently.
/// </summary>
internal static unsafe partial class StreamingDriverApi
{
    [LibraryImport(CudaApi.LibraryName)] internal static partial CuResult cuStreamWaitEvent(nint stream, nint evt, uint flags);
    [LibraryImport(CudaApi.LibraryName, EntryPoint = "cuMemHostRegister_v2")] internal static partial CuResult cuMemHostRegister(void* pointer, nuint bytes, uint flags);
    [LibraryImport(CudaApi.LibraryName)] internal static partial CuResult cuMemHostUnregister(void* pointer);
}

/// <summary>An event used only to order work between streams and to let the host wait for it (no timing, so it is cheap).</summary>
internal sealed class SyncEvent : CudaEventResource
{
    private const uint DisableTiming = 2;

    public SyncEvent(CudaContext context)
        : base(context, DisableTiming)
    {
    }

    /// <summary>Whether the event was ever recorded; waiting on a never-recorded event is a no-op anyway, this saves the call.</summary>
    public bool Recorded { get; private set; }

    public void Record(CudaStream stream)
    {
        CudaCheck.ThrowIfFailed(CudaApi.cuEventRecord(Handle, stream.Handle));
        Recorded = true;
    }

    /// <summary>Makes <paramref name="stream"/>'s later work wait for the last record of this event.</summary>
    public void MakeWait(CudaStream stream)
    {
        if (Recorded)
            CudaCheck.ThrowIfFailed(StreamingDriverApi.cuStreamWaitEvent(stream.Handle, Handle, 0));
    }

    /// <summary>Blocks the host until the last record of this event has completed.</summary>
    public void Synchronize()
    {
        if (Recorded)
            CudaCheck.ThrowIfFailed(CudaApi.cuEventSynchronize(Handle));
    }
}

/// <summary>
/// Page-locks memory the caller owns (cuMemHostRegister) for as long as this object lives, so that the
/// GPU can copy from it directly at full link speed. Used by the benchmark to hold data in pinned host
/// memory, as the reference protocol does.
/// </summary>
internal sealed unsafe class HostRegistration : CudaResource
{
    private void* _pointer;

    public HostRegistration(CudaContext context, nint pointer, long bytes)
        : base(context)
    {
        context.MakeCurrent();
        var result = StreamingDriverApi.cuMemHostRegister((void*)pointer, (nuint)bytes, 0);
        if (result != CuResult.Success)
            throw CreationFailed(result, $"cuMemHostRegister({bytes} bytes)");
        _pointer = (void*)pointer;
    }

    protected override CuResult Release()
    {
        if (_pointer == null)
            return CuResult.Success;
        var result = StreamingDriverApi.cuMemHostUnregister(_pointer);
        _pointer = null;
        return result;
    }

    protected override string Describe() => "host registration";
}
