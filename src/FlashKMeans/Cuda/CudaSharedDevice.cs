using System.Diagnostics;
using FlashKMeans.Cuda.Native;

namespace FlashKMeans.Cuda;

/// <summary>
/// Device 0's primary context and its loaded kernels, opened once and kept for the rest of the process, as the CUDA
/// runtime keeps its context. Every backend shares them: without this, the primary context was destroyed when the
/// last backend released it, and the next fit paid for a new context and for JIT-loading every module again
/// (about 0.2–0.4 s on an H100, more than a 0.5 GB upload).
/// </summary>
/// <remarks>
/// A kernel fault that leaves the context unusable (an illegal address, say) leaves it so for the process, as it
/// does for any CUDA runtime user. The PTX override folder (<see cref="CudaKernels.PtxOverrideVariable"/>) is read
/// when the kernels load, at the process's first GPU fit.
/// </remarks>
internal static class CudaSharedDevice
{
    private static readonly object Gate = new();
    private static (CudaContext Context, CudaKernels Kernels)? _opened;

    /// <summary>
    /// The shared context and kernels, opened on the first call. A failed open leaves nothing behind and is
    /// tried again by the next call.
    /// </summary>
    /// <param name="openTime">How long this call took to open them (context and module loads); zero when an earlier call did.</param>
    public static (CudaContext Context, CudaKernels Kernels) Get(out TimeSpan openTime)
    {
        openTime = TimeSpan.Zero;
        lock (Gate)
        {
            if (_opened is { } opened)
                return opened;
            var clock = Stopwatch.StartNew();
            var context = CudaContext.Open(0);
            try
            {
                var kernels = new CudaKernels(context);
                _opened = (context, kernels);
                openTime = clock.Elapsed;
                return _opened.Value;
            }
            catch
            {
                context.Dispose();
                throw;
            }
        }
    }
}
