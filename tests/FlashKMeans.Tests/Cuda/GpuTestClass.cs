namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// Base of the GPU test classes: before each test, <see cref="Gpu.Require"/> reports it Inconclusive, with the reason,
/// where no CUDA device is usable (CI has none). The classes still carry <c>[TestCategory("Gpu")]</c>, which the GPU
/// test runner selects by.
/// </summary>
public abstract class GpuTestClass
{
    [TestInitialize]
    public void RequireGpu() => Gpu.Require();
}
