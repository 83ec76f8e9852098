using FlashKMeans.Clustering;
using FlashKMeans.Cuda;
using FlashKMeans.Data;

namespace FlashKMeans.Tests.Cuda;

/// <summary>
/// Data beyond float16's range is refused before a GPU fit stores it in float16 (where it would become
/// infinite); the range comes from the validating pass every fit makes.
/// </summary>
[TestClass]
public sealed class HalfPrecisionRangeTests
{
    [TestMethod]
    [DataRow(1), DataRow(97), DataRow(5000)]
    public void The_validating_pass_measures_the_largest_feature(int batchRows)
    {
        int n = 3001, d = 7;
        var data = TestData.Gaussian(n, d, seed: batchRows);
        var random = new Random(batchRows);
        int at = random.Next(data.Length);
        data[at] = -(float)(1000 + 1e5 * random.NextDouble());  // the largest magnitude, and negative
        var summary = DataValidator.Scan(new InMemoryBatchSource(data, d, batchRows: batchRows));
        Assert.AreEqual(data.Max(MathF.Abs), summary.MaximumAbsoluteValue);
        Assert.AreEqual(-data[at], summary.MaximumAbsoluteValue);
    }

    [TestMethod]
    public void Only_float16_refuses_values_beyond_65504_and_names_the_way_out()
    {
        var f16 = new CudaPrecision(ComputePrecision.Float16);
        f16.ThrowIfOutOfRange(65504f);
        f16.ThrowIfOutOfRange(float.NaN);  // not measured
        var error = Assert.ThrowsExactly<ArgumentException>(() => f16.ThrowIfOutOfRange(65520f));
        StringAssert.Contains(error.Message, "float16");
        StringAssert.Contains(error.Message, "BFloat16");
        foreach (var other in new[] { ComputePrecision.BFloat16, ComputePrecision.TensorFloat32, ComputePrecision.Float32 })
            new CudaPrecision(other).ThrowIfOutOfRange(1e30f);
    }

    [TestMethod]
    [TestCategory("Gpu")]
    public void A_float16_gpu_fit_refuses_data_beyond_its_range_and_bfloat16_takes_it()
    {
        Gpu.Require();
        int n = 2000, d = 16, k = 5;
        var data = TestData.Gaussian(n, d, seed: 4);
        data[new Random(5).Next(data.Length)] = 1e5f;
        KMeansOptions Options(ComputePrecision precision) => new()
        {
            NumberOfClusters = k, Device = ComputeDevice.Cuda, Precision = precision, MaximumNumberOfIterations = 3,
        };
        var error = Assert.ThrowsExactly<ArgumentException>(() => new KMeans(Options(ComputePrecision.Float16)).Fit(data, d));
        StringAssert.Contains(error.Message, "float16");
        var model = new KMeans(Options(ComputePrecision.BFloat16)).Fit(data, d);
        Assert.IsTrue(double.IsFinite(model.Inertia));
    }
}
