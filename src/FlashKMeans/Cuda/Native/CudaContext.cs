using System.Text;

namespace FlashKMeans.Cuda.Native;

/// <summary>
/// One device and its primary context, retained for this object's lifetime and released on Dispose.
/// The primary context is shared with any other CUDA user in the process (as the runtime API does),
/// so nothing here destroys it. Every operation makes the context current on the calling thread first.
/// </summary>
internal sealed unsafe class CudaContext : IDisposable
{
    private int _disposed;

    private CudaContext(int device, nint handle)
    {
        Device = device;
        Handle = handle;
        Name = ReadName(device);
        CudaCheck.ThrowIfFailed(CudaApi.cuDeviceGetAttribute(out int major, CuDeviceAttribute.ComputeCapabilityMajor, device));
        CudaCheck.ThrowIfFailed(CudaApi.cuDeviceGetAttribute(out int minor, CuDeviceAttribute.ComputeCapabilityMinor, device));
        CudaCheck.ThrowIfFailed(CudaApi.cuDeviceGetAttribute(out int sms, CuDeviceAttribute.MultiprocessorCount, device));
        CudaCheck.ThrowIfFailed(CudaApi.cuDeviceGetAttribute(out int shared, CuDeviceAttribute.MaxSharedMemoryPerBlockOptin, device));
        CudaCheck.ThrowIfFailed(CudaApi.cuDeviceTotalMem(out nuint total, device));
        ComputeCapability = major * 10 + minor;
        MultiprocessorCount = sms;
        MaxSharedMemoryPerBlock = shared;
        TotalMemory = (long)total;
    }

    /// <summary>Device ordinal.</summary>
    public int Device { get; }

    /// <summary>The CUcontext.</summary>
    public nint Handle { get; }

    /// <summary>The device's name, such as "NVIDIA H200".</summary>
    public string Name { get; }

    /// <summary>Compute capability as major·10 + minor (90 for Hopper).</summary>
    public int ComputeCapability { get; }

    /// <summary>Streaming multiprocessors.</summary>
    public int MultiprocessorCount { get; }

    /// <summary>Largest dynamic shared memory a block may opt into, in bytes.</summary>
    public int MaxSharedMemoryPerBlock { get; }

    /// <summary>Device memory in bytes.</summary>
    public long TotalMemory { get; }

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Initialises the driver and retains device <paramref name="ordinal"/>'s primary context.</summary>
    public static CudaContext Open(int ordinal)
    {
        CudaCheck.ThrowIfFailed(CudaApi.cuInit(0));
        CudaCheck.ThrowIfFailed(CudaApi.cuDeviceGet(out int device, ordinal));
        CudaCheck.ThrowIfFailed(CudaApi.cuDevicePrimaryCtxRetain(out nint context, device));
        try
        {
            CudaCheck.ThrowIfFailed(CudaApi.cuCtxSetCurrent(context));
            return new CudaContext(device, context);
        }
        catch
        {
            _ = CudaApi.cuDevicePrimaryCtxRelease(device);
            throw;
        }
    }

    /// <summary>Makes this context current on the calling thread.</summary>
    public void MakeCurrent()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        CudaCheck.ThrowIfFailed(CudaApi.cuCtxSetCurrent(Handle));
    }

    /// <summary>Free and total device memory, in bytes.</summary>
    public (long Free, long Total) MemoryInfo()
    {
        MakeCurrent();
        CudaCheck.ThrowIfFailed(CudaApi.cuMemGetInfo(out nuint free, out nuint total));
        return ((long)free, (long)total);
    }

    private static string ReadName(int device)
    {
        byte* buffer = stackalloc byte[256];
        CudaCheck.ThrowIfFailed(CudaApi.cuDeviceGetName(buffer, 256, device));
        int length = 0;
        while (length < 256 && buffer[length] != 0)
            length++;
        return Encoding.UTF8.GetString(buffer, length);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        CudaCheck.ThrowIfFailed(CudaApi.cuDevicePrimaryCtxRelease(Device));
    }
}
