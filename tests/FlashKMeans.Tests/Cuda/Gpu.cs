using FlashKMeans.Cuda;

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

    public static void Require()
    {
        if (!Present)
            Assert.Inconclusive($"no CUDA device: {Reason}");
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
}
