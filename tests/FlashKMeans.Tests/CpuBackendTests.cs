namespace FlashKMeans.Tests;

[TestClass]
public sealed class CpuBackendTests : KMeansBackendTests
{
    protected override KMeansOptions Options(int k) => new() { NumberOfClusters = k, Device = ComputeDevice.Cpu };
}
