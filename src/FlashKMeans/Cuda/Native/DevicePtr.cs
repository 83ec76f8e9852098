using System.Runtime.InteropServices;

namespace FlashKMeans.Cuda.Native;

/// <summary>
/// The device address of <typeparamref name="T"/> elements, 8 bytes as a kernel argument or a field of one, where the
/// CUDA side declares a <c>T*</c>; 0 is none (a null pointer). The element type says what the kernel reads or writes
/// there, which a bare <see cref="ulong"/> did not.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly struct DevicePtr<T>(ulong address) where T : unmanaged
{
    /// <summary>The address, 0 for none.</summary>
    public ulong Address { get; } = address;

    public override string ToString() => $"0x{Address:x} ({typeof(T).Name}*)";
}
