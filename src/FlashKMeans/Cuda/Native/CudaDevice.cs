using System.Runtime.InteropServices;

namespace FlashKMeans.Cuda.Native;

/// <summary>Finds out whether a CUDA GPU is usable here, and why not.</summary>
internal static class CudaDevice
{
    /// <summary>
    /// Whether the driver library loads, initialises and reports at least one device. Never throws;
    /// <paramref name="reason"/> says what was found either way.
    /// </summary>
    public static bool TryProbe(out string reason) => TryProbe(CudaApi.LibraryName, out reason);

    /// <summary>As <see cref="TryProbe(out string)"/>, loading the driver from <paramref name="library"/> (a seam for tests).</summary>
    internal static bool TryProbe(string library, out string reason)
    {
        if (!NativeLibrary.TryLoad(library, out nint handle))
        {
            reason = $"the CUDA driver library {library} could not be loaded (no NVIDIA driver installed?)";
            return false;
        }
        NativeLibrary.Free(handle);
        if (library != CudaApi.LibraryName)
        {
            reason = $"{library} loaded, but only {CudaApi.LibraryName} is bound";
            return false;
        }
        try
        {
            var init = CudaApi.cuInit(0);
            if (init != CuResult.Success)
            {
                reason = $"cuInit failed: {CudaCheck.ErrorName(init)}";
                return false;
            }
            var count = CudaApi.cuDeviceGetCount(out int devices);
            if (count != CuResult.Success || devices == 0)
            {
                reason = count != CuResult.Success ? $"cuDeviceGetCount failed: {CudaCheck.ErrorName(count)}" : "the driver reports no CUDA device";
                return false;
            }
            CudaApi.cuDriverGetVersion(out int version);
            reason = $"{devices} CUDA device{(devices == 1 ? "" : "s")}, driver API {version / 1000}.{version % 1000 / 10}";
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            reason = $"the CUDA driver library is unusable: {e.Message}";
            return false;
        }
    }
}
