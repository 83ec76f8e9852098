namespace FlashKMeans.Cuda.Native;

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
        var result = CudaApi.cuMemHostRegister((void*)pointer, (nuint)bytes, 0);
        if (result != CuResult.Success)
            throw CreationFailed(result, $"cuMemHostRegister({bytes} bytes)");
        _pointer = (void*)pointer;
    }

    protected override CuResult Release()
    {
        if (_pointer == null)
            return CuResult.Success;
        var result = CudaApi.cuMemHostUnregister(_pointer);
        _pointer = null;
        return result;
    }

    protected override string Describe() => "host registration";
}
