using System.Runtime.InteropServices;

namespace FlashKMeans.Cuda.Native;

/// <summary>
/// A TMA tensor map (the driver's opaque 128-byte <c>CUtensorMap</c>), which a Hopper kernel takes by value and
/// hands to its tensor copies (<c>cp.async.bulk.tensor</c>). Encoding it is pure host work: it touches no stream,
/// so it may happen while a step is being captured into a graph.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = Bytes)]
internal unsafe struct CuTensorMap
{
    public const int Bytes = 128;
    private fixed ulong _words[Bytes / 8];

    /// <summary>
    /// Rows of <paramref name="rowBytes"/> bytes, <paramref name="rows"/> of them at <paramref name="pitch"/> bytes
    /// from <paramref name="address"/>, as a 2-D byte tensor read in boxes of 128 bytes × <paramref name="boxRows"/>
    /// rows, laid out in shared memory with the 128-byte swizzle (16-byte chunk c of box row r at c ^ (r mod 8)), which
    /// is the K-major layout the wgmma descriptors read. Bytes past a row's end and rows past the last read as zero.
    /// </summary>
    /// <exception cref="ArgumentException">The address or pitch is not a multiple of 16 bytes, or a size is out of TMA's range.</exception>
    public static CuTensorMap SwizzledRows(ulong address, long rows, int rowBytes, int pitch, int boxRows)
    {
        if (address % 16 != 0 || pitch % 16 != 0 || rowBytes > pitch)
            throw new ArgumentException($"Rows at 0x{address:x} with pitch {pitch} bytes cannot be read by tensor copies: both must be multiples of 16 bytes, and the pitch at least the {rowBytes} bytes of a row.");
        if (rows <= 0 || rows > int.MaxValue || boxRows is <= 0 or > 256)
            throw new ArgumentException($"{rows} rows in boxes of {boxRows} are out of the tensor copies' range.");
        const int uint8 = 0, interleaveNone = 0, swizzle128 = 3, l2Promotion256 = 3, oobFillZero = 0;
        ulong* dims = stackalloc ulong[] { (ulong)rowBytes, (ulong)rows };
        ulong* strides = stackalloc ulong[] { (ulong)pitch };
        uint* box = stackalloc uint[] { 128, (uint)boxRows };
        uint* elementStrides = stackalloc uint[] { 1, 1 };
        // The driver wants the map 64-byte aligned.
        byte* buffer = stackalloc byte[Bytes + 64];
        var aligned = (CuTensorMap*)(((nuint)buffer + 63) & ~(nuint)63);
        CudaCheck.ThrowIfFailed(CudaApi.cuTensorMapEncodeTiled(aligned, uint8, 2, address, dims, strides, box, elementStrides,
            interleaveNone, swizzle128, l2Promotion256, oobFillZero), "cuTensorMapEncodeTiled");
        return *aligned;
    }
}
