using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace FlashKMeans.Data;

/// <summary>Element type of rows on their way to the GPU: what the pinned ring holds and the link carries.</summary>
internal enum TransferElement
{
    /// <summary>float32 rows, pitch d; the GPU packs them into the compute type.</summary>
    Float32,
    /// <summary>IEEE binary16 rows already in the GPU's stored layout (pitch ld, zero padded).</summary>
    Float16,
    /// <summary>bfloat16 rows already in the GPU's stored layout (pitch ld, zero padded).</summary>
    BFloat16,
}

/// <summary>
/// Host-side conversion of row blocks into the transfer type, on several threads. Converting float32 to
/// 16 bits on the host halves the bytes on the PCIe link, which bounds out-of-core k-means. Rounding is to
/// nearest, ties to even, exactly as the GPU's own packing (<c>__float2half_rn</c>, <c>__float2bfloat16</c>)
/// does, so streamed rows are bit-identical to rows packed on the device.
/// </summary>
internal static unsafe class HalfPrecisionConversion
{
    /// <summary>Rows per work item: enough to amortise scheduling, small enough to spread over threads.</summary>
    private const int MinimumRowsPerTask = 512;

    /// <summary>float32 → binary16, round to nearest even (as <c>(Half)x</c>).</summary>
    public static void ToHalf(ReadOnlySpan<float> source, Span<Half> destination)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException("Destination too short.", nameof(destination));
        fixed (float* s = source)
        fixed (Half* d = destination)
            ToHalf(s, (ushort*)d, source.Length);
    }

    /// <summary>
    /// float32 → binary16 bits, round to nearest even, eight lanes at a time with the bit-exact
    /// construction of F. Giesen's <c>float_to_half_fast3_rtne</c>: normal results round through an
    /// integer bias, subnormal ones through one float addition of a magic constant (whose
    /// round-to-nearest-even does the rounding), overflow gives ∞, NaN the quiet NaN. Stores are
    /// non-temporal: the output goes to a pinned buffer that the DMA engine, not this core, reads next,
    /// and skipping the read-for-ownership saves a third of the memory traffic of the conversion.
    /// </summary>
    internal static void ToHalf(float* source, ushort* destination, long count, bool nonTemporal = true)
    {
        long i = 0;
        bool streamed = false;
        if (!nonTemporal && Vector512.IsHardwareAccelerated)
        {
            // Ordinary stores: the destination is small and read by the DMA engine while still in cache.
            for (; i + 32 <= count; i += 32)
                Vector512.Narrow(Half16(Vector512.Load(source + i)), Half16(Vector512.Load(source + i + 16))).Store(destination + i);
        }
        else if (!nonTemporal && Vector256.IsHardwareAccelerated)
        {
            for (; i + 16 <= count; i += 16)
                Vector256.Narrow(Half8(Vector256.Load(source + i)), Half8(Vector256.Load(source + i + 8))).Store(destination + i);
        }
        else if (Vector512.IsHardwareAccelerated && count >= 128)
        {
            // Scalar until the destination is 64-byte aligned, as the non-temporal store requires.
            for (; i < count && ((nint)(destination + i) & 63) != 0; i++)
                destination[i] = BitConverter.HalfToUInt16Bits((Half)source[i]);
            for (; i + 32 <= count; i += 32)
            {
                var lo = Half16(Vector512.Load(source + i));
                var hi = Half16(Vector512.Load(source + i + 16));
                Vector512.StoreAlignedNonTemporal(Vector512.Narrow(lo, hi), destination + i);
            }
            streamed = true;
        }
        else if (Vector256.IsHardwareAccelerated && count >= 64)
        {
            // Scalar until the destination is 32-byte aligned, as the non-temporal store requires.
            for (; i < count && ((nint)(destination + i) & 31) != 0; i++)
                destination[i] = BitConverter.HalfToUInt16Bits((Half)source[i]);
            for (; i + 16 <= count; i += 16)
            {
                var lo = Half8(Vector256.Load(source + i));
                var hi = Half8(Vector256.Load(source + i + 8));
                Vector256.StoreAlignedNonTemporal(Vector256.Narrow(lo, hi), destination + i);
            }
            streamed = true;
        }
        for (; i < count; i++)
            destination[i] = BitConverter.HalfToUInt16Bits((Half)source[i]);
        if (streamed && System.Runtime.Intrinsics.X86.Sse.IsSupported)
            System.Runtime.Intrinsics.X86.Sse.StoreFence();  // order the non-temporal stores before the copy is enqueued
    }

    private static Vector256<uint> Half8(Vector256<float> value)
    {
        var f = value.AsUInt32();
        var sign = f & Vector256.Create(0x80000000u);
        f ^= sign;
        // ≥ 65520 (rounds to ∞ in binary16), ∞ or NaN.
        var special = Vector256.GreaterThanOrEqual(f, Vector256.Create(0x47800000u));
        var specialValue = Vector256.ConditionalSelect(Vector256.GreaterThan(f, Vector256.Create(0x7F800000u)),
            Vector256.Create(0x7E00u), Vector256.Create(0x7C00u));
        // Below 2^-14: subnormal or zero; adding 0.5 aligns the 10 mantissa bits at the bottom and rounds.
        var subnormal = Vector256.LessThan(f, Vector256.Create(0x38800000u));
        var magic = Vector256.Create(0x3F000000u);
        var subnormalValue = (f.AsSingle() + magic.AsSingle()).AsUInt32() - magic;
        // Normal: rebias the exponent, add 0xFFF plus the lowest kept bit (ties to even), shift.
        var odd = Vector256.ShiftRightLogical(f, 13) & Vector256.Create(1u);
        var normalValue = Vector256.ShiftRightLogical(f + Vector256.Create(0xC8000FFFu) + odd, 13);
        var result = Vector256.ConditionalSelect(subnormal, subnormalValue, normalValue);
        result = Vector256.ConditionalSelect(special, specialValue, result);
        return result | Vector256.ShiftRightLogical(sign, 16);
    }

    // The same construction as Half8 on sixteen lanes (one width-generic helper would need generic math
    // over vector types, which .NET 8 lacks).
    private static Vector512<uint> Half16(Vector512<float> value)
    {
        var f = value.AsUInt32();
        var sign = f & Vector512.Create(0x80000000u);
        f ^= sign;
        var special = Vector512.GreaterThanOrEqual(f, Vector512.Create(0x47800000u));
        var specialValue = Vector512.ConditionalSelect(Vector512.GreaterThan(f, Vector512.Create(0x7F800000u)),
            Vector512.Create(0x7E00u), Vector512.Create(0x7C00u));
        var subnormal = Vector512.LessThan(f, Vector512.Create(0x38800000u));
        var magic = Vector512.Create(0x3F000000u);
        var subnormalValue = (f.AsSingle() + magic.AsSingle()).AsUInt32() - magic;
        var odd = Vector512.ShiftRightLogical(f, 13) & Vector512.Create(1u);
        var normalValue = Vector512.ShiftRightLogical(f + Vector512.Create(0xC8000FFFu) + odd, 13);
        var result = Vector512.ConditionalSelect(subnormal, subnormalValue, normalValue);
        result = Vector512.ConditionalSelect(special, specialValue, result);
        return result | Vector512.ShiftRightLogical(sign, 16);
    }

    /// <summary>float32 → bfloat16 bits, round to nearest even; NaN becomes the canonical 0x7FFF as on the GPU.</summary>
    public static void ToBFloat16(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException("Destination too short.", nameof(destination));
        int i = 0;
        if (Vector.IsHardwareAccelerated && source.Length >= 2 * Vector<uint>.Count)
        {
            var bits = System.Runtime.InteropServices.MemoryMarshal.Cast<float, uint>(source);
            var bias = new Vector<uint>(0x7FFFu);
            var one = new Vector<uint>(1u);
            var absMask = new Vector<uint>(0x7FFFFFFFu);
            var infinity = new Vector<uint>(0x7F800000u);
            var canonicalNaN = new Vector<uint>(0x7FFFu);
            for (; i + 2 * Vector<uint>.Count <= source.Length; i += 2 * Vector<uint>.Count)
            {
                var a = Round(new Vector<uint>(bits.Slice(i)));
                var b = Round(new Vector<uint>(bits.Slice(i + Vector<uint>.Count)));
                Vector.Narrow(a, b).CopyTo(destination.Slice(i));
            }

            Vector<uint> Round(Vector<uint> x)
            {
                var rounded = (x + bias + ((x >> 16) & one)) >> 16;
                var isNaN = Vector.GreaterThan(x & absMask, infinity);
                return Vector.ConditionalSelect(isNaN, canonicalNaN, rounded);
            }
        }
        for (; i < source.Length; i++)
            destination[i] = ToBFloat16(source[i]);
    }

    /// <summary>One float32 → bfloat16 bits, round to nearest even.</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFFFFFFu) > 0x7F800000u)
            return 0x7FFF;
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }

    /// <summary>
    /// Rounds <paramref name="values"/> in place to the nearest value of <paramref name="precision"/> (ties to even):
    /// float16 or bfloat16; float32 leaves them.
    /// </summary>
    public static void RoundTo(Span<float> values, ComputePrecision precision)
    {
        if (precision is ComputePrecision.Float16 or ComputePrecision.BFloat16)
        {
            for (int i = 0; i < values.Length; i++)
                values[i] = RoundTo(values[i], precision);
        }
    }

    /// <summary>One value rounded as <see cref="RoundTo(Span{float}, ComputePrecision)"/> rounds.</summary>
    public static float RoundTo(float value, ComputePrecision precision) => precision switch
    {
        ComputePrecision.Float16 => (float)(Half)value,
        ComputePrecision.BFloat16 => BitConverter.UInt32BitsToSingle((uint)ToBFloat16(value) << 16),
        _ => value,
    };

    /// <summary>
    /// Whether rows stored as <paramref name="stored"/> with <paramref name="dimension"/> values already have the transfer
    /// layout (<paramref name="transfer"/> at <paramref name="pitch"/>), so that a plain copy moves them.
    /// </summary>
    public static bool IsTransferLayout(RowElementType stored, int dimension, TransferElement transfer, int pitch) =>
        pitch == dimension && (stored, transfer) is (RowElementType.Float32, TransferElement.Float32) or (RowElementType.Float16, TransferElement.Float16);

    /// <summary>
    /// Whether the GPU can copy <paramref name="source"/>'s rows straight from its own memory: page-locked native rows
    /// already in the transfer layout.
    /// </summary>
    public static bool CopiesStraightFrom(IBatchSource source, TransferElement transfer, int pitch) =>
        source is UnmanagedRowsBatchSource { IsPageLocked: true } rows && IsTransferLayout(rows.ElementType, rows.Dimension, transfer, pitch);

    /// <summary>Bytes of one element of <paramref name="type"/>.</summary>
    public static int ElementBytes(TransferElement type) => type == TransferElement.Float32 ? 4 : 2;

    /// <summary>Bytes of one element of <paramref name="type"/>.</summary>
    public static int ElementBytes(RowElementType type) => type == RowElementType.Float32 ? 4 : 2;

    /// <summary>
    /// Converts <paramref name="rows"/> rows of <paramref name="dimension"/> values stored as
    /// <paramref name="sourceType"/> into <paramref name="destination"/> as <paramref name="destinationType"/> with
    /// a row pitch of <paramref name="destinationPitch"/> elements (padding zeroed), on up to
    /// <paramref name="threads"/> threads.
    /// </summary>
    /// <remarks>
    /// <c>nonTemporal</c>: store around the caches (for large ring buffers that the DMA engine reads from
    /// memory), or through them (for small staging chunks that it reads while they are still cached).
    /// </remarks>
    public static void ConvertRows(ReadOnlySpan<byte> source, RowElementType sourceType, int rows, int dimension,
        Span<byte> destination, TransferElement destinationType, int destinationPitch, int threads, bool nonTemporal = true)
    {
        if (destinationPitch < dimension)
            throw new ArgumentOutOfRangeException(nameof(destinationPitch), destinationPitch, "The pitch must be at least the dimension.");
        if (source.Length < (long)rows * dimension * ElementBytes(sourceType))
            throw new ArgumentException("Source too short.", nameof(source));
        if (destination.Length < (long)rows * destinationPitch * ElementBytes(destinationType))
            throw new ArgumentException("Destination too short.", nameof(destination));
        if (rows == 0)
            return;
        fixed (byte* s = source)
        fixed (byte* d = destination)
        {
            nint src = (nint)s, dst = (nint)d;
            int tasks = (int)Math.Clamp((rows + MinimumRowsPerTask - 1) / MinimumRowsPerTask, 1, Math.Max(1, threads) * 4L);
            if (tasks == 1 || threads <= 1)
            {
                ConvertRange(src, sourceType, 0, rows, dimension, dst, destinationType, destinationPitch, nonTemporal);
                return;
            }
            long per = (rows + tasks - 1) / tasks;
            Threading.ParallelWork.For(0, tasks, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                int first = (int)Math.Min(rows, t * per);
                int count = (int)Math.Min(rows - first, per);
                if (count > 0)
                    ConvertRange(src, sourceType, first, count, dimension, dst, destinationType, destinationPitch, nonTemporal);
            });
        }
    }

    private static void ConvertRange(nint source, RowElementType sourceType, int first, int count, int d,
        nint destination, TransferElement destinationType, int pitch, bool nonTemporal)
    {
        int sb = ElementBytes(sourceType), db = ElementBytes(destinationType);
        byte* s = (byte*)source + (long)first * d * sb;
        byte* o = (byte*)destination + (long)first * pitch * db;
        bool contiguous = pitch == d;
        if (IsTransferLayout(sourceType, d, destinationType, pitch))
        {
            // A plain copy: measured on the H200 machine, non-temporal stores made the fp16 ring path slower
            // (100–103 against 94 ms a pass), unlike the conversion, where they help.
            long bytes = (long)count * d * sb;
            Buffer.MemoryCopy(s, o, bytes, bytes);
            return;
        }
        if (contiguous && sourceType == RowElementType.Float32 && destinationType == TransferElement.Float16)
        {
            // One long call: the vectorised loop then runs over whole rows without per-row tails.
            ToHalf((float*)s, (ushort*)o, (long)count * d, nonTemporal);
            return;
        }
        float[]? widened = sourceType == RowElementType.Float16 && destinationType != TransferElement.Float16 ? new float[d] : null;
        for (int r = 0; r < count; r++)
        {
            byte* sr = s + (long)r * d * sb;
            byte* or = o + (long)r * pitch * db;
            ReadOnlySpan<float> values = default;
            if (widened is not null)
            {
                TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(sr, d), widened);
                values = widened;
            }
            else if (sourceType == RowElementType.Float32)
            {
                values = new ReadOnlySpan<float>(sr, d);
            }
            switch (destinationType)
            {
                case TransferElement.Float32:
                    values.CopyTo(new Span<float>(or, d));
                    break;
                case TransferElement.Float16:
                    if (sourceType == RowElementType.Float16)
                        new ReadOnlySpan<Half>(sr, d).CopyTo(new Span<Half>(or, d));
                    else
                        ToHalf(values, new Span<Half>(or, d));
                    break;
                default:
                    ToBFloat16(values, new Span<ushort>(or, d));
                    break;
            }
            if (pitch > d)
                new Span<byte>(or + (long)d * db, (pitch - d) * db).Clear();
        }
    }


}
