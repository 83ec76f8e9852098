using System.Runtime.InteropServices;

namespace FlashKMeans.Cuda.Native;

/// <summary>
/// The CUDA driver API entry points the backend uses, bound at run time to <c>libcuda.so.1</c> through
/// source-generated P/Invoke. Every function returns its <see cref="CuResult"/>; callers pass it to
/// <see cref="CudaCheck.ThrowIfFailed"/>. No CUDA toolkit is needed at run time, only the driver.
/// </summary>
internal static unsafe partial class CudaApi
{
    internal const string LibraryName = "libcuda.so.1";

    [LibraryImport(LibraryName)] internal static partial CuResult cuInit(uint flags);
    [LibraryImport(LibraryName)] internal static partial CuResult cuDriverGetVersion(out int version);
    [LibraryImport(LibraryName)] internal static partial CuResult cuGetErrorName(CuResult error, out nint name);
    [LibraryImport(LibraryName)] internal static partial CuResult cuGetErrorString(CuResult error, out nint text);

    [LibraryImport(LibraryName)] internal static partial CuResult cuDeviceGetCount(out int count);
    [LibraryImport(LibraryName)] internal static partial CuResult cuDeviceGet(out int device, int ordinal);
    [LibraryImport(LibraryName)] internal static partial CuResult cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(LibraryName)] internal static partial CuResult cuDeviceGetAttribute(out int value, CuDeviceAttribute attribute, int device);
    [LibraryImport(LibraryName, EntryPoint = "cuDeviceTotalMem_v2")] internal static partial CuResult cuDeviceTotalMem(out nuint bytes, int device);

    [LibraryImport(LibraryName)] internal static partial CuResult cuDevicePrimaryCtxRetain(out nint context, int device);
    [LibraryImport(LibraryName, EntryPoint = "cuDevicePrimaryCtxRelease_v2")] internal static partial CuResult cuDevicePrimaryCtxRelease(int device);
    [LibraryImport(LibraryName)] internal static partial CuResult cuCtxSetCurrent(nint context);
    [LibraryImport(LibraryName)] internal static partial CuResult cuCtxSynchronize();
    [LibraryImport(LibraryName, EntryPoint = "cuMemGetInfo_v2")] internal static partial CuResult cuMemGetInfo(out nuint free, out nuint total);

    [LibraryImport(LibraryName)]
    internal static partial CuResult cuModuleLoadDataEx(out nint module, byte* image, uint numOptions, CuJitOption* options, void** optionValues);
    [LibraryImport(LibraryName)] internal static partial CuResult cuModuleUnload(nint module);
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial CuResult cuModuleGetFunction(out nint function, nint module, string name);
    [LibraryImport(LibraryName)] internal static partial CuResult cuFuncSetAttribute(nint function, CuFunctionAttribute attribute, int value);

    [LibraryImport(LibraryName)]
    internal static partial CuResult cuLaunchKernel(
        nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedBytes, nint stream, void** parameters, void** extra);

    [LibraryImport(LibraryName)]
    internal static partial CuResult cuTensorMapEncodeTiled(
        CuTensorMap* tensorMap, int dataType, uint rank, ulong globalAddress, ulong* globalDim, ulong* globalStrides,
        uint* boxDim, uint* elementStrides, int interleave, int swizzle, int l2Promotion, int oobFill);

    [LibraryImport(LibraryName, EntryPoint = "cuMemAlloc_v2")] internal static partial CuResult cuMemAlloc(out ulong pointer, nuint bytes);
    [LibraryImport(LibraryName, EntryPoint = "cuMemFree_v2")] internal static partial CuResult cuMemFree(ulong pointer);
    [LibraryImport(LibraryName)] internal static partial CuResult cuMemHostAlloc(out void* pointer, nuint bytes, uint flags);
    [LibraryImport(LibraryName)] internal static partial CuResult cuMemFreeHost(void* pointer);
    [LibraryImport(LibraryName, EntryPoint = "cuMemHostRegister_v2")] internal static partial CuResult cuMemHostRegister(void* pointer, nuint bytes, uint flags);
    [LibraryImport(LibraryName)] internal static partial CuResult cuMemHostUnregister(void* pointer);
    [LibraryImport(LibraryName, EntryPoint = "cuMemcpyHtoDAsync_v2")] internal static partial CuResult cuMemcpyHtoDAsync(ulong destination, void* source, nuint bytes, nint stream);
    [LibraryImport(LibraryName, EntryPoint = "cuMemcpyDtoHAsync_v2")] internal static partial CuResult cuMemcpyDtoHAsync(void* destination, ulong source, nuint bytes, nint stream);
    [LibraryImport(LibraryName, EntryPoint = "cuMemcpyDtoDAsync_v2")] internal static partial CuResult cuMemcpyDtoDAsync(ulong destination, ulong source, nuint bytes, nint stream);
    [LibraryImport(LibraryName)] internal static partial CuResult cuMemsetD32Async(ulong destination, uint value, nuint count, nint stream);
    [LibraryImport(LibraryName)] internal static partial CuResult cuMemsetD8Async(ulong destination, byte value, nuint count, nint stream);

    [LibraryImport(LibraryName)] internal static partial CuResult cuStreamCreate(out nint stream, uint flags);
    [LibraryImport(LibraryName, EntryPoint = "cuStreamDestroy_v2")] internal static partial CuResult cuStreamDestroy(nint stream);
    [LibraryImport(LibraryName)] internal static partial CuResult cuStreamSynchronize(nint stream);

    [LibraryImport(LibraryName, EntryPoint = "cuStreamBeginCapture_v2")] internal static partial CuResult cuStreamBeginCapture(nint stream, CuStreamCaptureMode mode);
    [LibraryImport(LibraryName)] internal static partial CuResult cuStreamEndCapture(nint stream, out nint graph);
    [LibraryImport(LibraryName)] internal static partial CuResult cuGraphInstantiateWithFlags(out nint graphExec, nint graph, ulong flags);
    [LibraryImport(LibraryName)] internal static partial CuResult cuGraphLaunch(nint graphExec, nint stream);
    [LibraryImport(LibraryName)] internal static partial CuResult cuGraphExecDestroy(nint graphExec);
    [LibraryImport(LibraryName)] internal static partial CuResult cuGraphDestroy(nint graph);

    [LibraryImport(LibraryName)] internal static partial CuResult cuEventCreate(out nint evt, uint flags);
    [LibraryImport(LibraryName, EntryPoint = "cuEventDestroy_v2")] internal static partial CuResult cuEventDestroy(nint evt);
    [LibraryImport(LibraryName)] internal static partial CuResult cuEventRecord(nint evt, nint stream);
    [LibraryImport(LibraryName)] internal static partial CuResult cuEventSynchronize(nint evt);
    [LibraryImport(LibraryName)] internal static partial CuResult cuStreamWaitEvent(nint stream, nint evt, uint flags);
    [LibraryImport(LibraryName)] internal static partial CuResult cuEventElapsedTime(out float milliseconds, nint start, nint end);
}

/// <summary>CUresult codes the backend names or tests for; any other value is named by the driver.</summary>
internal enum CuResult
{
    Success = 0,
    InvalidValue = 1,
    OutOfMemory = 2,
    NotInitialized = 3,
    Deinitialized = 4,
    NoDevice = 100,
    InvalidDevice = 101,
    InvalidImage = 200,
    InvalidContext = 201,
    NoBinaryForGpu = 209,
    InvalidPtx = 218,
    UnsupportedPtxVersion = 222,
    NotFound = 500,
    IllegalAddress = 700,
    LaunchOutOfResources = 701,
    LaunchFailed = 719,
}

/// <summary>CUdevice_attribute values used here.</summary>
internal enum CuDeviceAttribute
{
    MultiprocessorCount = 16,
    ComputeCapabilityMajor = 75,
    ComputeCapabilityMinor = 76,
    MaxSharedMemoryPerBlockOptin = 97,
}

/// <summary>CUstreamCaptureMode.</summary>
internal enum CuStreamCaptureMode
{
    Global = 0,
    ThreadLocal = 1,
    Relaxed = 2,
}

/// <summary>CUfunction_attribute values used here.</summary>
internal enum CuFunctionAttribute
{
    MaxDynamicSharedSizeBytes = 8,
}

/// <summary>CUjit_option: options of <see cref="CudaApi.cuModuleLoadDataEx"/>, named instead of numbered.</summary>
internal enum CuJitOption
{
    MaxRegisters = 0,
    ThreadsPerBlock = 1,
    WallTime = 2,
    InfoLogBuffer = 3,
    InfoLogBufferSizeBytes = 4,
    ErrorLogBuffer = 5,
    ErrorLogBufferSizeBytes = 6,
    OptimizationLevel = 7,
    TargetFromContext = 8,
    Target = 9,
    FallbackStrategy = 10,
    GenerateDebugInfo = 11,
    LogVerbose = 12,
}
