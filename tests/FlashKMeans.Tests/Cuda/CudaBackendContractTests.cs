namespace FlashKMeans.Tests.Cuda;

/// <summary>The shared backend contract on the GPU with exact fp32 arithmetic.</summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class CudaBackendContractTests : KMeansBackendTests
{
    [TestInitialize]
    public void RequireGpu() => Gpu.Require();

    protected override KMeansOptions Options(int k) =>
        new() { NumberOfClusters = k, Device = ComputeDevice.Cuda, Precision = ComputePrecision.Float32 };
}

/// <summary>The shared backend contract on the GPU with the deterministic fixed-point update.</summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class CudaDeterministicBackendContractTests : KMeansBackendTests
{
    [TestInitialize]
    public void RequireGpu() => Gpu.Require();

    protected override KMeansOptions Options(int k) =>
        new() { NumberOfClusters = k, Device = ComputeDevice.Cuda, Precision = ComputePrecision.Float32, DeterministicUpdate = true };
}
