namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// The shared backend contract on the GPU: exact fp32 arithmetic and the deterministic (fixed-point)
/// update, the mode in which the contract's bit-identity promises hold. The fp64-atomic update is
/// order-dependent by design and is checked against references in <see cref="CudaKernelTests"/>.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class CudaBackendContractTests : KMeansBackendTests
{
    [TestInitialize]
    public void RequireGpu() => Gpu.Require();

    protected override KMeansOptions Options(int k) =>
        new() { NumberOfClusters = k, Device = ComputeDevice.Cuda, Precision = ComputePrecision.Float32, DeterministicUpdate = true };
}
