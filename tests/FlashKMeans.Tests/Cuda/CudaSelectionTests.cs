using FlashKMeans.Backends;
using FlashKMeans.Cpu;
using FlashKMeans.Cuda;
using FlashKMeans.Cuda.Backend;
using FlashKMeans.Cuda.Native;
using FlashKMeans.Engine;

namespace FlashKMeans.Tests.Cuda;

/// <summary>Device selection; runs everywhere (CI has no GPU).</summary>
[TestClass]
public sealed class CudaSelectionTests
{
    [TestMethod]
    public void Probe_reports_a_missing_driver_library_by_name()
    {
        bool found = CudaDevice.TryProbe("libflashkmeans-no-such-driver.so.1", out string reason);
        Assert.IsFalse(found);
        StringAssert.Contains(reason, "libflashkmeans-no-such-driver.so.1");
    }

    [TestMethod]
    public void Auto_falls_back_to_the_cpu_without_a_gpu_and_uses_the_gpu_with_one()
    {
        // The expectation comes from the machine (driver library and device node), not from the probe the selector uses.
        using var backend = BackendSelector.Create(new KMeansOptions { Device = ComputeDevice.Auto });
        if (Gpu.MachineHasNvidiaGpu)
            Assert.IsInstanceOfType<CudaBackend>(backend, "the machine has an NVIDIA GPU: " + Gpu.Reason);
        else
            Assert.IsInstanceOfType<CpuBackend>(backend);
    }

    [TestMethod]
    public void Auto_measures_missing_features_on_the_cpu_even_with_a_gpu()
    {
        // The GPU's kernels would read a NaN feature as a value: only the CPU's masked kernels skip it.
        using var backend = BackendSelector.Create(new KMeansOptions { Device = ComputeDevice.Auto, MissingFeatures = MissingFeatures.Ignore });
        Assert.IsInstanceOfType<CpuBackend>(backend);
    }

    [TestMethod]
    public void Asking_for_cuda_without_a_gpu_is_a_clear_error()
    {
        if (Gpu.MachineHasNvidiaGpu)
            Assert.Inconclusive("a CUDA device is present here");
        var e = Assert.ThrowsExactly<NotSupportedException>(() => BackendSelector.Create(new KMeansOptions { Device = ComputeDevice.Cuda }));
        StringAssert.Contains(e.Message, "Cuda");
        StringAssert.Contains(e.Message, Gpu.Reason);
    }

    [TestMethod]
    public void TryCreate_never_throws_for_a_missing_device()
    {
        bool ok = CudaBackend.TryCreate(new KMeansOptions(), out var backend, out string reason);
        using (backend)
        {
            Assert.AreEqual(Gpu.MachineHasNvidiaGpu, ok, reason);
            Assert.IsFalse(string.IsNullOrWhiteSpace(reason));
        }
    }
}
