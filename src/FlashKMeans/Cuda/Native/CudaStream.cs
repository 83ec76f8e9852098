namespace FlashKMeans.Cuda.Native;

/// <summary>A non-blocking stream: the backend enqueues a whole Lloyd step on it and waits once.</summary>
internal sealed class CudaStream : CudaResource
{
    private const uint NonBlocking = 1;

    public CudaStream(CudaContext context)
        : base(context)
    {
        context.MakeCurrent();
        var result = CudaApi.cuStreamCreate(out nint handle, NonBlocking);
        if (result != CuResult.Success)
            throw CreationFailed(result, "cuStreamCreate");
        Handle = handle;
    }

    public nint Handle { get; private set; }

    public void Synchronize() => CudaCheck.ThrowIfFailed(CudaApi.cuStreamSynchronize(Handle));

    /// <summary>Enqueues a copy of <paramref name="bytes"/> from device memory into host memory (page-locked, for it to be asynchronous).</summary>
    public unsafe void CopyToHost(void* destination, ulong source, long bytes) =>
        CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyDtoHAsync(destination, source, (nuint)bytes, Handle));

    /// <summary>Enqueues a copy of <paramref name="bytes"/> from host memory (page-locked, for it to be asynchronous) into device memory.</summary>
    public unsafe void CopyToDevice(ulong destination, void* source, long bytes) =>
        CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyHtoDAsync(destination, source, (nuint)bytes, Handle));

    protected override CuResult Release()
    {
        if (Handle == 0)
            return CuResult.Success;
        var result = CudaApi.cuStreamDestroy(Handle);
        Handle = 0;
        return result;
    }

    protected override string Describe() => "stream";
}

/// <summary>
/// Owner of one CUDA event created with the given CU_EVENT flags: the creation and the free shared by the
/// timing <see cref="CudaEvent"/> and streaming's ordering-only <c>SyncEvent</c>.
/// </summary>
internal abstract class CudaEventResource : CudaResource
{
    protected CudaEventResource(CudaContext context, uint flags)
        : base(context)
    {
        context.MakeCurrent();
        var result = CudaApi.cuEventCreate(out nint handle, flags);
        if (result != CuResult.Success)
            throw CreationFailed(result, "cuEventCreate");
        Handle = handle;
    }

    public nint Handle { get; private set; }

    protected override CuResult Release()
    {
        if (Handle == 0)
            return CuResult.Success;
        var result = CudaApi.cuEventDestroy(Handle);
        Handle = 0;
        return result;
    }

    protected override string Describe() => "event";
}

/// <summary>An event for timing work on a stream.</summary>
internal sealed class CudaEvent : CudaEventResource
{
    public CudaEvent(CudaContext context)
        : base(context, 0)
    {
    }

    public void Record(CudaStream stream) => CudaCheck.ThrowIfFailed(CudaApi.cuEventRecord(Handle, stream.Handle));

    public void Synchronize() => CudaCheck.ThrowIfFailed(CudaApi.cuEventSynchronize(Handle));

    /// <summary>Milliseconds from <paramref name="start"/> to this event; both must have completed.</summary>
    public float ElapsedSince(CudaEvent start)
    {
        CudaCheck.ThrowIfFailed(CudaApi.cuEventElapsedTime(out float ms, start.Handle, Handle));
        return ms;
    }
}
