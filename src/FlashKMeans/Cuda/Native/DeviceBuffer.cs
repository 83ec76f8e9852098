namespace FlashKMeans.Cuda.Native;

/// <summary>
/// Device memory holding <see cref="Length"/> elements of <typeparamref name="T"/> (bytes are counted for
/// the element type the kernels see; 16-bit GPU types are allocated as <see cref="ushort"/>). Either an
/// allocation it owns, or a <see cref="Slice"/> of another buffer, which borrows that memory and frees nothing.
/// </summary>
internal sealed unsafe class DeviceBuffer<T> : CudaResource where T : unmanaged
{
    private static long s_liveBytes;
    private readonly bool _owns = true;

    public DeviceBuffer(CudaContext context, long length)
        : base(context)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        context.MakeCurrent();
        // cuMemAlloc rejects zero bytes; one element keeps every pointer valid for empty problems.
        nuint bytes = (nuint)(Math.Max(length, 1) * sizeof(T));
        var result = CudaApi.cuMemAlloc(out ulong pointer, bytes);
        if (result != CuResult.Success)
            throw CreationFailed(result, $"cuMemAlloc({bytes} bytes)");
        Pointer = pointer;
        Interlocked.Add(ref s_liveBytes, (long)bytes);
    }

    private DeviceBuffer(CudaContext context, ulong pointer, long length)
        : base(context)
    {
        Length = length;
        Pointer = pointer;
        _owns = false;
    }

    /// <summary>
    /// A view of elements [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>): the
    /// same memory under its own pointer and length, valid while this buffer lives; disposing it frees nothing.
    /// </summary>
    public DeviceBuffer<T> Slice(long offset, long length)
    {
        ThrowIfReleased();
        if (offset < 0 || length < 0 || offset + length > Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"[{offset}, {offset + length}) is not inside a buffer of {Length} elements.");
        return new DeviceBuffer<T>(Context, At(offset), length);
    }

    /// <summary>Device bytes currently allocated by buffers of this element type.</summary>
    internal static long LiveBytes => Interlocked.Read(ref s_liveBytes);

    /// <summary>The CUdeviceptr.</summary>
    public ulong Pointer { get; private set; }

    /// <summary>Elements.</summary>
    public long Length { get; }

    /// <summary>Size in bytes.</summary>
    public long Bytes => Length * sizeof(T);

    /// <summary>The device address of element <paramref name="index"/>.</summary>
    public ulong At(long index) => Pointer + (ulong)(index * sizeof(T));

    public void CopyFrom(ReadOnlySpan<T> source, long offset, CudaStream stream)
    {
        ThrowIfReleased();
        if (offset < 0 || offset + source.Length > Length)
            throw new ArgumentOutOfRangeException(nameof(offset));
        fixed (T* p = source)
            CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyHtoDAsync(At(offset), p, (nuint)(source.Length * sizeof(T)), stream.Handle));
    }

    /// <summary>Enqueues a copy of <paramref name="count"/> elements at device address <paramref name="source"/> to the start of this buffer.</summary>
    public void CopyFromDevice(ulong source, long count, CudaStream stream)
    {
        ThrowIfReleased();
        if (count < 0 || count > Length)
            throw new ArgumentOutOfRangeException(nameof(count));
        CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyDtoDAsync(Pointer, source, (nuint)(count * sizeof(T)), stream.Handle));
    }

    /// <summary>Copies into pageable host memory; synchronises the stream, since the span cannot outlive the call.</summary>
    public void CopyTo(Span<T> destination, long offset, CudaStream stream)
    {
        ThrowIfReleased();
        if (offset < 0 || offset + destination.Length > Length)
            throw new ArgumentOutOfRangeException(nameof(offset));
        fixed (T* p = destination)
        {
            CudaCheck.ThrowIfFailed(CudaApi.cuMemcpyDtoHAsync(p, At(offset), (nuint)(destination.Length * sizeof(T)), stream.Handle));
            stream.Synchronize();
        }
    }

    public void Fill32(uint value, CudaStream stream)
    {
        if (sizeof(T) % 4 != 0)
            throw new InvalidOperationException("Fill32 needs an element size that is a multiple of 4 bytes.");
        CudaCheck.ThrowIfFailed(CudaApi.cuMemsetD32Async(Pointer, value, (nuint)(Length * sizeof(T) / 4), stream.Handle));
    }

    public void Clear(CudaStream stream) =>
        CudaCheck.ThrowIfFailed(CudaApi.cuMemsetD8Async(Pointer, 0, (nuint)Bytes, stream.Handle));

    protected override CuResult Release()
    {
        if (Pointer == 0)
            return CuResult.Success;
        if (!_owns)
        {
            Pointer = 0;
            return CuResult.Success;
        }
        var result = CudaApi.cuMemFree(Pointer);
        Interlocked.Add(ref s_liveBytes, -Math.Max(Length, 1) * sizeof(T));
        Pointer = 0;
        return result;
    }

    protected override string Describe() => $"device buffer{(_owns ? "" : " slice")} of {Length} × {typeof(T).Name}";
}

/// <summary>Page-locked host memory, so that copies run asynchronously at full link speed.</summary>
internal sealed unsafe class PinnedBuffer<T> : CudaResource where T : unmanaged
{
    private T* _pointer;

    public PinnedBuffer(CudaContext context, int length)
        : base(context)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        context.MakeCurrent();
        var result = CudaApi.cuMemHostAlloc(out void* p, (nuint)(Math.Max(length, 1) * sizeof(T)), 0);
        if (result != CuResult.Success)
            throw CreationFailed(result, "cuMemHostAlloc");
        _pointer = (T*)p;
    }

    public int Length { get; }

    public T* Pointer
    {
        get
        {
            ThrowIfReleased();
            return _pointer;
        }
    }

    public Span<T> Span => new(Pointer, Length);

    protected override CuResult Release()
    {
        if (_pointer == null)
            return CuResult.Success;
        var result = CudaApi.cuMemFreeHost(_pointer);
        _pointer = null;
        return result;
    }

    protected override string Describe() => $"pinned host buffer of {Length} × {typeof(T).Name}";
}
