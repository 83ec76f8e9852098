using System.Globalization;
using FlashKMeans;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Native;

/// <summary>
/// The fused top-k kernels (flash_topk_ws.cu on Hopper, flash_topk.cu) against FlashAssign at the same shapes (--topk): standard normal rows and
/// centroids packed on the device, each kernel timed alone with CUDA events (median of 20), rows per second and the
/// ratio top-k / FlashAssign. FlashAssign is the kernel the engine's Assign picks on this GPU (on Hopper the
/// warp-specialised wgmma kernel); the mma.sync argmin and top-k (the kernels off Hopper) are timed beside them.
/// </summary>
internal static class TopKBench
{
    public static void Run()
    {
        using var context = CudaContext.Open(0);
        Console.WriteLine($"# top-k against FlashAssign: {context.Name}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; median of 20 event-timed launches");
        var shapes = new (int N, int D, int K, ComputePrecision P)[]
        {
            (1 << 20, 64, 512, ComputePrecision.Float16), (1 << 20, 64, 2048, ComputePrecision.Float16),
            (1 << 20, 128, 1024, ComputePrecision.Float16), (1 << 20, 128, 4096, ComputePrecision.Float16),
            (1 << 20, 256, 1024, ComputePrecision.Float16), (1 << 20, 128, 1024, ComputePrecision.TensorFloat32),
        };
        foreach (var (n, d, k, precision) in shapes)
        {
            using var session = new CudaSession(context, new CudaPrecision(precision), ownsContext: false);
            int ld = session.Precision.Pitch(d);
            int eb = session.Precision.ElementBytes;
            using var raw = new DeviceBuffer<float>(context, (long)Math.Max(n, k) * d);
            using var x = new DeviceBuffer<byte>(context, (long)n * ld * eb);
            using var xNorms = new DeviceBuffer<float>(context, n);
            using var c = new DeviceBuffer<byte>(context, (long)k * ld * eb);
            using var cNorms = new DeviceBuffer<float>(context, k);
            using var labels = new DeviceBuffer<int>(context, n);
            using var distances = new DeviceBuffer<float>(context, n);
            using var topIndices = new DeviceBuffer<int>(context, (long)n * 32);
            using var topDistances = new DeviceBuffer<float>(context, (long)n * 32);
            session.FillNormal(raw.Pointer, (long)n * d, 1);
            session.PackRows(raw.Pointer, n, d, d, x.Pointer, ld, xNorms.Pointer);
            session.FillNormal(raw.Pointer, (long)k * d, 2);
            session.PackRows(raw.Pointer, k, d, d, c.Pointer, ld, cNorms.Pointer);
            session.Stream.Synchronize();
            double assign = EventTimer.Median(session, 20, () => session.Assign(x.Pointer, xNorms.Pointer, n, d, ld, c.Pointer, cNorms.Pointer, k, ld,
                labels.Pointer, distances.Pointer, updateMin: false));
            string assignKernel = session.AssignKernelName(d, ld, ld);
            using var mmaSession = new CudaSession(context, new CudaPrecision(precision), ownsContext: false, allowWgmma: false);
            double mma = EventTimer.Median(mmaSession, 20, () => mmaSession.Assign(x.Pointer, xNorms.Pointer, n, d, ld, c.Pointer, cNorms.Pointer, k, ld,
                labels.Pointer, distances.Pointer, updateMin: false));
            foreach (int top in new[] { 1, 3, 5, 8, 10, 16, 32 })
            {
                double ms = EventTimer.Median(session, 20, () => session.TopK(x.Pointer, xNorms.Pointer, n, d, ld, c.Pointer, cNorms.Pointer, k, top,
                    topIndices.Pointer, topDistances.Pointer));
                // The mma.sync top-k (the kernel off Hopper), for the same top.
                double mmaTop = EventTimer.Median(mmaSession, 20, () => mmaSession.TopK(x.Pointer, xNorms.Pointer, n, d, ld, c.Pointer, cNorms.Pointer, k, top,
                    topIndices.Pointer, topDistances.Pointer));
                Console.WriteLine(FormattableString.Invariant(
                    $"RESULT topk n={n} d={d} k={k} precision={precision} top={top} kernel={session.TopKKernelName(d, ld, k, top)} ms={ms:F3} rows_per_s={n / ms * 1e3:F0} assign_ms={assign:F3} assign_kernel={assignKernel} mma_ms={mma:F3} mma_topk_ms={mmaTop:F3} ratio_vs_assign={assign / ms:F2} ratio_vs_mma_topk={mmaTop / ms:F2} ratio_vs_mma_assign={mma / ms:F2}"));
            }
        }
    }
}
