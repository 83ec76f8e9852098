using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Tests.Cuda;

/// <summary>Whether this machine has a usable CUDA device; GPU tests report Inconclusive without one.</summary>
internal static class Gpu
{
    private static readonly Lazy<(bool Present, string Reason)> s_probe = new(() =>
    {
        bool present = CudaDevice.TryProbe(out string reason);
        return (present, reason);
    });

    public static bool Present => s_probe.Value.Present;

    public static string Reason => s_probe.Value.Reason;

    /// <summary>
    /// Whether the machine itself says it has an NVIDIA GPU, from facts the engine's probe does not use: the driver library
    /// loads through the runtime's own loader and the kernel driver exposes a device node. The selection tests take their
    /// expectation from here, not from the probe under test.
    /// </summary>
    public static bool MachineHasNvidiaGpu
    {
        get
        {
            if (!OperatingSystem.IsLinux() || !System.Runtime.InteropServices.NativeLibrary.TryLoad("libcuda.so.1", out var handle))
                return false;
            System.Runtime.InteropServices.NativeLibrary.Free(handle);
            return Directory.Exists("/dev") && Directory.EnumerateFiles("/dev", "nvidia*")
                .Any(path => Path.GetFileName(path) is var name && name.Length > 6 && name[6..].All(char.IsAsciiDigit));
        }
    }

    public static void Require()
    {
        if (!Present)
            Assert.Inconclusive($"no CUDA device: {Reason}");
    }

    /// <summary>
    /// The <paramref name="rows"/> rows of <paramref name="d"/> values at pitch <paramref name="pitch"/> that
    /// <paramref name="buffer"/> stores in the session's precision (data rows, or packed centroids), as floats, which hold
    /// them exactly.
    /// </summary>
    public static float[] Stored(CudaSession s, DeviceBuffer<byte> buffer, long rows, int pitch, int d)
    {
        int bytes = s.Precision.ElementBytes;
        var packed = new byte[rows * pitch * bytes];
        buffer.CopyTo(packed, 0, s.Stream);
        var result = new float[rows * d];
        for (long r = 0; r < rows; r++)
            for (int j = 0; j < d; j++)
            {
                int at = (int)((r * pitch + j) * bytes);
                result[r * d + j] = bytes switch
                {
                    4 => BitConverter.ToSingle(packed, at),
                    _ when s.Precision.Mode == ComputePrecision.BFloat16 => BitConverter.Int32BitsToSingle(BitConverter.ToUInt16(packed, at) << 16),
                    _ => (float)BitConverter.ToHalf(packed, at),
                };
            }
        return result;
    }

    /// <summary>The value the device stores for <paramref name="v"/> in <paramref name="precision"/>.</summary>
    public static float Round(float v, ComputePrecision precision)
    {
        uint bits = BitConverter.SingleToUInt32Bits(v);
        switch (precision)
        {
            case ComputePrecision.Float16:
                return (float)(Half)v;
            case ComputePrecision.BFloat16:
                // Round to nearest even on the upper 16 bits.
                bits = (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
                return BitConverter.UInt32BitsToSingle(bits);
            case ComputePrecision.TensorFloat32:
                // cvt.rna.tf32.f32: nearest, ties away from zero, 10 explicit mantissa bits.
                bits = (bits + 0x1000u) & 0xFFFFE000u;
                return BitConverter.UInt32BitsToSingle(bits);
            default:
                return v;
        }
    }

    public static float[] Round(float[] values, ComputePrecision precision) =>
        values.Select(v => Round(v, precision)).ToArray();

    /// <summary>
    /// A batch of <paramref name="b"/> problems of <paramref name="n"/> rows holding <paramref name="rows"/> (and
    /// <paramref name="weights"/>) as the device stores them, with the fixed-point scales a binding would give it.
    /// </summary>
    public static CudaBatch UploadBatch(CudaSession s, float[] rows, float[]? weights, int b, int n, int d, int k)
    {
        var batch = new CudaBatch(s, b, n, d, k, hasWeights: weights is not null);
        try
        {
            long total = (long)b * n;
            using (var raw = new DeviceBuffer<float>(s.Context, total * d))
            {
                raw.CopyFrom(rows, 0, s.Stream);
                s.PackRows(raw.Pointer, total, d, d, batch.X.Pointer, batch.Pitch, batch.XNorms.Pointer);
            }
            batch.Weights?.CopyFrom(weights, 0, s.Stream);
            float maxWeight = weights?.Max() ?? 1f;
            batch.Scale = CudaDataBinding.FixedPointScale((double)s.MaxAbs(batch.X.Pointer, total, d, batch.Pitch) * maxWeight, n);
            batch.WeightScale = CudaDataBinding.FixedPointScale(maxWeight, n);
            s.Stream.Synchronize();
            return batch;
        }
        catch
        {
            batch.Dispose();
            throw;
        }
    }
}
