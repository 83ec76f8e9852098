using FlashKMeans.Backends;
using FlashKMeans.Cpu;
using FlashKMeans.Cuda.Backend;
using Microsoft.Extensions.Logging;

namespace FlashKMeans.Engine;

/// <summary>Turns <see cref="KMeansOptions.Device"/> into a backend, and says why.</summary>
internal static class BackendSelector
{
    /// <summary>Creates the backend the options ask for.</summary>
    /// <exception cref="NotSupportedException"><see cref="ComputeDevice.Cuda"/> was asked for and no GPU is usable; the message says why.</exception>
    public static IKMeansBackend Create(KMeansOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var logger = options.Logger;
        switch (options.Device)
        {
            case ComputeDevice.Cpu:
                return Cpu(options, logger, "the CPU was asked for");
            case ComputeDevice.Cuda when options.MissingFeatures == MissingFeatures.Ignore:
                throw new NotSupportedException("Fits with missing features run on the CPU only; use Device = Cpu or Auto.");
            case ComputeDevice.Cuda:
                if (TryCreateCuda(options, out var gpu, out string reason))
                    return gpu!;
                throw new NotSupportedException($"{nameof(ComputeDevice)}.{nameof(ComputeDevice.Cuda)} was asked for but no CUDA GPU is usable: {reason}");
            case ComputeDevice.Ilgpu when options.Distance == KMeansDistance.Manhattan || options.MissingFeatures == MissingFeatures.Ignore:
                throw new NotSupportedException("L1 (Manhattan) fits and fits with missing features run on the CPU only; use Device = Cpu or Auto.");
            case ComputeDevice.Ilgpu:
                if (ExternalBackends.TryCreateIlgpu(options, gpuOnly: false, out var ilgpu, out string ilgpuReason))
                {
                    logger?.LogInformation("FlashKMeans: using {Backend} (ILGPU was asked for).", ilgpu!.Name);
                    return ilgpu!;
                }
                throw new NotSupportedException($"{nameof(ComputeDevice)}.{nameof(ComputeDevice.Ilgpu)} was asked for but no ILGPU accelerator is usable: {ilgpuReason}");
            default:
                if (TryCreateCuda(options, out var auto, out string why))
                {
                    logger?.LogInformation("FlashKMeans: using {Backend} (a CUDA device is present).", auto!.Name);
                    return auto!;
                }
                if (options.Distance == KMeansDistance.SquaredEuclidean && options.MissingFeatures != MissingFeatures.Ignore
                    && ExternalBackends.TryCreateIlgpu(options, gpuOnly: true, out var portable, out string portableWhy))
                {
                    logger?.LogInformation("FlashKMeans: using {Backend} (no CUDA GPU: {Why}; an ILGPU GPU accelerator is present).", portable!.Name, why);
                    return portable!;
                }
                return Cpu(options, logger, $"no CUDA GPU: {why}");
        }
    }

    private static CpuBackend Cpu(KMeansOptions options, ILogger? logger, string why)
    {
        if (options.Precision != ComputePrecision.Float32)
            logger?.LogInformation("FlashKMeans: precision {Precision} applies to the GPU only; the CPU computes in float32.", options.Precision);
        var backend = new CpuBackend(options.NumberOfThreads, options.UsePruning)
        {
            SeedPruning = options.SeedPruning, Distance = options.Distance, MissingFeatures = options.MissingFeatures,
        };
        logger?.LogInformation("FlashKMeans: using {Backend} because {Reason}.", backend.Name, why);
        return backend;
    }

    /// <summary>Whether a CUDA driver and device are present (a probe that opens nothing), and why not.</summary>
    public static bool CudaPresent(out string reason) => FlashKMeans.Cuda.Native.CudaDevice.TryProbe(out reason);

    /// <summary>Whether a CUDA backend can be created, and why not.</summary>
    public static bool TryCreateCuda(KMeansOptions options, out IKMeansBackend? backend, out string reason)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.MissingFeatures == MissingFeatures.Ignore)
        {
            // No GPU kernel computes distances over the features present: only the CPU's masked kernels skip a NaN.
            backend = null;
            reason = "fits with missing features run on the CPU";
            return false;
        }
        bool ok = FlashKMeans.Cuda.Backend.CudaBackend.TryCreate(options, out var cuda, out reason);
        backend = cuda;
        return ok;
    }
}
