namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// The shared backend contract on the GPU with the rows resident: exact fp32 arithmetic and the deterministic
/// (fixed-point) update, the mode in which the contract's bit-identity promises hold. The fp64-atomic update is
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

/// <summary>
/// The contract with the rows streamed from the host in batches of 256 (none kept on the device), so that every pass,
/// seeding's included, walks many spans.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class CudaStreamedBackendContractTests : KMeansBackendTests
{
    [TestInitialize]
    public void RequireGpu() => Gpu.Require();

    protected override KMeansOptions Options(int k) => new()
    {
        NumberOfClusters = k, Device = ComputeDevice.Cuda, Precision = ComputePrecision.Float32, DeterministicUpdate = true,
        DataMode = GpuDataMode.Streaming, StreamingBatchRows = 256,
    };
}

/// <summary>
/// The contract with the rows partly cached on the device and the rest streamed: batches of 256 rows and a budget of
/// 64 KiB of cached rows, which holds some batches of the contract's larger data sets and not all.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class CudaCachedBackendContractTests : KMeansBackendTests
{
    [TestInitialize]
    public void RequireGpu() => Gpu.Require();

    protected override KMeansOptions Options(int k) => new()
    {
        NumberOfClusters = k, Device = ComputeDevice.Cuda, Precision = ComputePrecision.Float32, DeterministicUpdate = true,
        DataMode = GpuDataMode.Cached, StreamingBatchRows = 256, DeviceMemoryBudget = 64 << 10,
    };
}
